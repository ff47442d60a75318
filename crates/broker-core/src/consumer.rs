//! What a subscriber asks for.

use crate::Destination;

/// Process-unique id of a consumer (one SUBSCRIBE, one AMQP receiving link).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ConsumerId(pub u64);

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
}
