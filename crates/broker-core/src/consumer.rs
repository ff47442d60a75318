//! What a subscriber asks for.

use crate::Destination;

/// Process-unique id of a consumer (one SUBSCRIBE, one AMQP receiving link).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ConsumerId(pub u64);

/// A wildcard queue consumer of one connection ([`crate::Connection::subscribe_queue_wildcard`]):
/// its consumers on matching queues created later are reported under this id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct WatchId(pub u64);

/// Process-unique id of a client connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ConnectionId(pub u64);

/// A subscription request. Acknowledgement modes are the adapter's business: it turns them
/// into [`crate::Connection::ack`] calls (individual or cumulative).
#[derive(Debug, Clone)]
pub struct ConsumerSpec {
    /// What to consume from.
    pub destination: Destination,
    /// Most unacknowledged deliveries the consumer holds at once (ActiveMQ prefetch); >= 1.
    pub prefetch: u32,
    /// Skip messages sent by this consumer's own connection (topics).
    pub no_local: bool,
    /// Topics: most messages kept waiting for this subscriber beyond its prefetch; past it
    /// the oldest are discarded (ActiveMQ `maximumPendingMessageLimit`). `None` uses the
    /// broker default ([`crate::CoreConfig::topic_pending_limit`]).
    pub max_pending: Option<usize>,
    /// Only messages the selector selects are delivered; others stay for other consumers.
    pub selector: Option<std::sync::Arc<jms_model::Selector>>,
    /// Exclusive consumer (ActiveMQ `activemq.exclusive`): while it is subscribed, it alone
    /// receives from the queue; the next exclusive consumer takes over when it leaves.
    pub exclusive: bool,
    /// Consumer priority (ActiveMQ `activemq.priority`, 0-127, default 0): consumers of a
    /// higher priority are offered messages first.
    pub priority: i32,
}

impl ConsumerSpec {
    /// A plain consumer of `destination` with `prefetch`.
    pub fn new(destination: Destination, prefetch: u32) -> Self {
        Self {
            destination,
            prefetch,
            no_local: false,
            max_pending: None,
            selector: None,
            exclusive: false,
            priority: 0,
        }
    }
}
