//! Protocol-neutral destination names.

use std::fmt;
use std::sync::Arc;

/// What kind of destination a name refers to; decides point-to-point versus fan-out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum DestinationKind {
    /// Point-to-point: each message to exactly one consumer.
    Queue,
    /// Publish/subscribe: each message to every current subscriber.
    Topic,
    /// A queue that lives as long as the connection that created it.
    TempQueue,
    /// A topic that lives as long as the connection that created it.
    TempTopic,
}

impl DestinationKind {
    /// True for kinds with queue (competing consumer) semantics.
    pub fn is_queue(self) -> bool {
        matches!(self, Self::Queue | Self::TempQueue)
    }
    /// True for temporary kinds.
    pub fn is_temporary(self) -> bool {
        matches!(self, Self::TempQueue | Self::TempTopic)
    }
}

/// A destination: a kind plus a name in ActiveMQ's form (`orders.eu`, without any protocol
/// prefix). Cheap to clone.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Destination {
    kind: DestinationKind,
    name: Arc<str>,
}

impl Destination {
    /// A destination of `kind` called `name`.
    pub fn new(kind: DestinationKind, name: impl Into<Arc<str>>) -> Self {
        Self {
            kind,
            name: name.into(),
        }
    }
    /// A queue.
    pub fn queue(name: impl Into<Arc<str>>) -> Self {
        Self::new(DestinationKind::Queue, name)
    }
    /// A topic.
    pub fn topic(name: impl Into<Arc<str>>) -> Self {
        Self::new(DestinationKind::Topic, name)
    }
    /// The kind.
    pub fn kind(&self) -> DestinationKind {
        self.kind
    }
    /// The name without any prefix.
    pub fn name(&self) -> &str {
        &self.name
    }
}

impl Destination {
    fn scheme(&self) -> &'static str {
        match self.kind {
            DestinationKind::Queue => "queue",
            DestinationKind::Topic => "topic",
            DestinationKind::TempQueue => "temp-queue",
            DestinationKind::TempTopic => "temp-topic",
        }
    }

    /// True when `key` is this destination's [`Display`](fmt::Display) form, compared
    /// without building it (per-message paths).
    pub(crate) fn is_key(&self, key: &str) -> bool {
        key.strip_prefix(self.scheme())
            .and_then(|rest| rest.strip_prefix("://"))
            .is_some_and(|name| name == &*self.name)
    }
}

/// Renders as ActiveMQ's URI-ish form (`queue://x`, `topic://x`, `temp-queue://x`), which is
/// also the key under which the store keeps the destination.
impl fmt::Display for Destination {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}://{}", self.scheme(), self.name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn is_key_matches_display() {
        for d in [
            Destination::queue("a.b"),
            Destination::topic("a.b"),
            Destination::new(DestinationKind::TempQueue, "ID:x:1"),
        ] {
            assert!(d.is_key(&d.to_string()));
        }
        assert!(!Destination::queue("a").is_key("topic://a"));
        assert!(!Destination::queue("a").is_key("queue://ab"));
        assert!(!Destination::queue("a").is_key("queue:/a"));
    }
}
