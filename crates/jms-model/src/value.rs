//! Values selectors compute with, and where identifiers get theirs.

use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap};
use std::hash::BuildHasher;

/// A header field or property value as a selector sees it.
///
/// JMS byte/short/int/long properties are all [`Value::Long`] and float/double are
/// [`Value::Double`]: selector arithmetic and comparison promote them anyway (Java numeric
/// promotion), so nothing observable is lost. Strings borrow from the message where they can.
#[derive(Debug, Clone, PartialEq)]
pub enum Value<'a> {
    /// A boolean property, or `JMSRedelivered`.
    Bool(bool),
    /// An exact numeric property (byte, short, int, long), or `JMSPriority`, `JMSTimestamp`...
    Long(i64),
    /// An approximate numeric property (float, double).
    Double(f64),
    /// A string property, or `JMSMessageID`, `JMSType`, `JMSDeliveryMode`...
    String(Cow<'a, str>),
}

/// Where identifiers get their values.
///
/// Implemented by the broker's message type (or a view over it). It answers for JMS header
/// fields (see [`headers`](crate::headers)), with `JMSDeliveryMode` as the string
/// `"PERSISTENT"` or `"NON_PERSISTENT"` (Jakarta Messaging 3.1 §3.8.1.3), and for message
/// properties by name. Names are case-sensitive.
pub trait SelectorSource {
    /// The value of `identifier`, or `None` when it is absent or null (the selector's NULL).
    fn value(&self, identifier: &str) -> Option<Value<'_>>;
}

fn borrowed<'a>(v: &'a Value<'_>) -> Value<'a> {
    match v {
        Value::String(s) => Value::String(Cow::Borrowed(s)),
        Value::Bool(b) => Value::Bool(*b),
        Value::Long(n) => Value::Long(*n),
        Value::Double(d) => Value::Double(*d),
    }
}

/// A plain map of properties, handy in tests and for small adapters.
impl<S: BuildHasher> SelectorSource for HashMap<String, Value<'_>, S> {
    fn value(&self, identifier: &str) -> Option<Value<'_>> {
        self.get(identifier).map(borrowed)
    }
}

/// A plain map of properties, handy in tests and for small adapters.
impl SelectorSource for BTreeMap<String, Value<'_>> {
    fn value(&self, identifier: &str) -> Option<Value<'_>> {
        self.get(identifier).map(borrowed)
    }
}

/// A source where every identifier is NULL (a message without properties).
impl SelectorSource for () {
    fn value(&self, _identifier: &str) -> Option<Value<'_>> {
        None
    }
}
