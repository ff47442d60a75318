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
    /// User properties / headers, in the order they were sent.
    pub properties: Vec<(Bytes, Bytes)>,
    /// The payload.
    pub body: Bytes,
    /// Text or bytes.
    pub body_kind: BodyKind,
    /// The connection that sent it (for noLocal and diagnostics).
    pub producer: ConnectionId,
    /// The headers most messages go without, behind a pointer: every pending message is
    /// held in memory, and inline they would more than double its size. Shared, so copies
    /// of a message (fan-out, forwarding) share them too. Read them with
    /// [`Message::extras`], set them with [`Message::extras_mut`].
    pub extras: Option<Arc<MessageExtras>>,
}

/// The less common headers of a [`Message`].
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct MessageExtras {
    /// JMSCorrelationID.
    pub correlation_id: Option<Bytes>,
    /// JMSReplyTo.
    pub reply_to: Option<Destination>,
    /// JMSType.
    pub message_type: Option<Bytes>,
    /// Delayed or repeated delivery (ActiveMQ's `AMQ_SCHEDULED_*` properties).
    pub schedule: Option<Schedule>,
    /// Where a dead-lettered message was first sent (ActiveMQ `originalDestination`).
    pub original_destination: Option<Destination>,
    /// Why a message was dead-lettered (ActiveMQ `dlqDeliveryFailureCause`).
    pub failure_cause: Option<Arc<str>>,
}

static NO_EXTRAS: MessageExtras = MessageExtras {
    correlation_id: None,
    reply_to: None,
    message_type: None,
    schedule: None,
    original_destination: None,
    failure_cause: None,
};

/// Scheduled delivery as ActiveMQ's scheduler reads its message properties: first delivery
/// after `delay` ms, then `repeat` more copies `period` ms apart; with `cron`, that series
/// starts at every time the cron expression names.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Schedule {
    /// `AMQ_SCHEDULED_DELAY`, ms.
    pub delay: u64,
    /// `AMQ_SCHEDULED_PERIOD`, ms.
    pub period: u64,
    /// `AMQ_SCHEDULED_REPEAT`: copies after the first.
    pub repeat: u32,
    /// `AMQ_SCHEDULED_CRON`, five fields (minute hour day-of-month month day-of-week).
    pub cron: Option<Arc<str>>,
}

impl Schedule {
    /// True when this schedule delivers at once, exactly once (nothing to schedule).
    pub fn is_immediate(&self) -> bool {
        self.delay == 0 && self.repeat == 0 && self.cron.is_none()
    }
}

impl Message {
    /// A message with JMS's defaults: non-persistent, priority 4, no expiry, an empty text
    /// body, no properties. Set the rest with struct update syntax.
    pub fn new(id: Arc<str>, destination: Destination, producer: ConnectionId) -> Self {
        Self {
            id,
            destination,
            persistent: false,
            priority: DEFAULT_PRIORITY,
            expires: 0,
            timestamp: 0,
            properties: Vec::new(),
            body: Bytes::new(),
            body_kind: BodyKind::Text,
            producer,
            extras: None,
        }
    }

    /// The less common headers (all `None` when the message has none).
    pub fn extras(&self) -> &MessageExtras {
        self.extras.as_deref().unwrap_or(&NO_EXTRAS)
    }

    /// The less common headers, for setting one (allocated on first use; copied first if
    /// another message shares them).
    pub fn extras_mut(&mut self) -> &mut MessageExtras {
        Arc::make_mut(self.extras.get_or_insert_with(Default::default))
    }

    /// The message's schedule (`AMQ_SCHEDULED_*`), if any.
    pub fn schedule(&self) -> Option<&Schedule> {
        self.extras().schedule.as_ref()
    }

    /// True when `now_ms` is past the message's expiry.
    pub fn is_expired(&self, now_ms: u64) -> bool {
        self.expires != 0 && self.expires <= now_ms
    }

    /// A user property's value (the first one, as STOMP 1.2 reads repeated headers).
    pub fn property(&self, name: &str) -> Option<&Bytes> {
        self.properties
            .iter()
            .find(|(k, _)| k.as_ref() == name.as_bytes())
            .map(|(_, v)| v)
    }

    /// The message group (`JMSXGroupID`), if any.
    pub fn group_id(&self) -> Option<&str> {
        self.property(jms_model::headers::JMSX_GROUP_ID)
            .and_then(|v| std::str::from_utf8(v).ok())
            .filter(|g| !g.is_empty())
    }

    /// `JMSXGroupSeq`; -1 closes the group.
    pub fn group_seq(&self) -> Option<i64> {
        self.property(jms_model::headers::JMSX_GROUP_SEQ)
            .and_then(|v| std::str::from_utf8(v).ok())
            .and_then(|v| v.trim().parse().ok())
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
