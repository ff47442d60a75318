//! The protocol-neutral message and what a consumer receives.

use std::sync::Arc;

use bytes::Bytes;

use crate::{ConnectionId, ConsumerId, Destination};

/// JMS default priority (JMS 2.0 §3.4.10).
pub const DEFAULT_PRIORITY: u8 = 4;

/// Whether the body came as text or as bytes. STOMP keys this off `content-length`
/// (ActiveMQ: present → BytesMessage, absent → TextMessage); AMQP off the body section.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyKind {
    /// A text body (JMS TextMessage).
    Text,
    /// An opaque byte body (JMS BytesMessage).
    Bytes,
}

/// A message as the core routes it. Adapters build one from a protocol frame and render one
/// back; the core never looks inside `properties` or `body`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    /// Broker-assigned, unique id (JMSMessageID); kept across redeliveries.
    pub id: Arc<str>,
    /// Where it was sent.
    pub destination: Destination,
    /// Persistent (JMSDeliveryMode PERSISTENT) messages of queues are written to the store.
    pub persistent: bool,
    /// JMS priority 0-9.
    pub priority: u8,
    /// Expiry in ms since the Unix epoch; 0 means never.
    pub expires: u64,
    /// Send time in ms since the Unix epoch.
    pub timestamp: u64,
    /// JMSCorrelationID.
    pub correlation_id: Option<Bytes>,
    /// JMSReplyTo.
    pub reply_to: Option<Destination>,
    /// JMSType.
    pub message_type: Option<Bytes>,
    /// User properties / headers, in the order they were sent.
    pub properties: Vec<(Bytes, Bytes)>,
    /// The payload.
    pub body: Bytes,
    /// Text or bytes.
    pub body_kind: BodyKind,
    /// The connection that sent it (for noLocal and diagnostics).
    pub producer: ConnectionId,
}

impl Message {
    /// True when `now_ms` is past the message's expiry.
    pub fn is_expired(&self, now_ms: u64) -> bool {
        self.expires != 0 && self.expires <= now_ms
    }
}

/// A per-consumer delivery number; acknowledgements name deliveries by it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct DeliveryTag(pub u64);

/// One message handed to one consumer.
#[derive(Debug, Clone)]
pub struct Delivery {
    /// The consumer it is for.
    pub consumer: ConsumerId,
    /// Its tag, for ACK/NACK.
    pub tag: DeliveryTag,
    /// The message (shared between the subscribers of a topic).
    pub message: Arc<Message>,
    /// How many earlier deliveries of this message went unacknowledged.
    pub redeliveries: u32,
}

impl Delivery {
    /// True when the message was delivered before (JMSRedelivered).
    pub fn redelivered(&self) -> bool {
        self.redeliveries > 0
    }
}
