//! What a selector sees of a message: the JMS header fields by their JMS names, then the
//! message's properties (strings, as STOMP carries them).

use std::borrow::Cow;

use jms_model::{headers, SelectorSource, Value};

use crate::Message;

/// A message as a selector reads it, with its delivery count.
pub(crate) struct View<'a> {
    pub(crate) msg: &'a Message,
    pub(crate) redeliveries: u32,
}

fn text(b: &[u8]) -> Value<'_> {
    Value::String(String::from_utf8_lossy(b))
}

impl SelectorSource for View<'_> {
    fn value(&self, identifier: &str) -> Option<Value<'_>> {
        let m = self.msg;
        match identifier {
            headers::JMS_PRIORITY => Some(Value::Long(i64::from(m.priority))),
            headers::JMS_MESSAGE_ID => Some(Value::String(Cow::Borrowed(&m.id))),
            headers::JMS_TIMESTAMP => Some(Value::Long(m.timestamp as i64)),
            headers::JMS_EXPIRATION => Some(Value::Long(m.expires as i64)),
            headers::JMS_DELIVERY_MODE => Some(Value::String(Cow::Borrowed(if m.persistent {
                "PERSISTENT"
            } else {
                "NON_PERSISTENT"
            }))),
            headers::JMS_REDELIVERED => Some(Value::Bool(self.redeliveries > 0)),
            headers::JMSX_DELIVERY_COUNT => Some(Value::Long(i64::from(self.redeliveries) + 1)),
            headers::JMS_CORRELATION_ID => m.extras().correlation_id.as_deref().map(text),
            headers::JMS_TYPE => m.extras().message_type.as_deref().map(text),
            _ => m.property(identifier).map(|v| text(v)),
        }
    }
}
