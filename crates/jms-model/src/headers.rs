//! Names of the JMS header fields and JMS-defined properties, and ActiveMQ's scheduling
//! properties, as they appear to selectors and as the protocol adapters carry them.
//!
//! One definition here keeps the STOMP and AMQP adapters and the core from each spelling
//! them (a typo in one adapter would silently make a selector never match).

pub use crate::DEFAULT_PRIORITY;

/// Delivery mode; selectors see the strings [`PERSISTENT`] and [`NON_PERSISTENT`]
/// (Jakarta Messaging 3.1 §3.8.1.3).
pub const JMS_DELIVERY_MODE: &str = "JMSDeliveryMode";
/// Priority, 0 (lowest) to 9 (highest); [`DEFAULT_PRIORITY`] when the sender set none.
pub const JMS_PRIORITY: &str = "JMSPriority";
/// The provider-assigned message id (a string, `ID:...` in ActiveMQ).
pub const JMS_MESSAGE_ID: &str = "JMSMessageID";
/// Send time, milliseconds since the Unix epoch.
pub const JMS_TIMESTAMP: &str = "JMSTimestamp";
/// Correlation id set by the sender; may be absent (NULL).
pub const JMS_CORRELATION_ID: &str = "JMSCorrelationID";
/// Application-defined message type; may be absent (NULL).
pub const JMS_TYPE: &str = "JMSType";
/// Absolute expiry time in epoch milliseconds; 0 means "never expires".
pub const JMS_EXPIRATION: &str = "JMSExpiration";
/// Whether the message has been delivered before.
pub const JMS_REDELIVERED: &str = "JMSRedelivered";
/// The destination the message was sent to.
pub const JMS_DESTINATION: &str = "JMSDestination";
/// The destination replies should go to.
pub const JMS_REPLY_TO: &str = "JMSReplyTo";
/// JMS 2.0 delivery time (earliest delivery), epoch milliseconds.
pub const JMS_DELIVERY_TIME: &str = "JMSDeliveryTime";

/// Message group id (ActiveMQ message groups).
pub const JMSX_GROUP_ID: &str = "JMSXGroupID";
/// Sequence number within a group; ActiveMQ closes the group on `-1`.
pub const JMSX_GROUP_SEQ: &str = "JMSXGroupSeq";
/// Number of delivery attempts, starting at 1.
pub const JMSX_DELIVERY_COUNT: &str = "JMSXDeliveryCount";
/// Authenticated user that sent the message (when the broker populates it).
pub const JMSX_USER_ID: &str = "JMSXUserID";

/// ActiveMQ: delay in milliseconds before the first delivery.
pub const AMQ_SCHEDULED_DELAY: &str = "AMQ_SCHEDULED_DELAY";
/// ActiveMQ: milliseconds between repeated deliveries.
pub const AMQ_SCHEDULED_PERIOD: &str = "AMQ_SCHEDULED_PERIOD";
/// ActiveMQ: number of repeats after the first delivery.
pub const AMQ_SCHEDULED_REPEAT: &str = "AMQ_SCHEDULED_REPEAT";
/// ActiveMQ: cron expression for repeated delivery.
pub const AMQ_SCHEDULED_CRON: &str = "AMQ_SCHEDULED_CRON";

/// The value selectors see in [`JMS_DELIVERY_MODE`] for a persistent message.
pub const PERSISTENT: &str = "PERSISTENT";
/// The value selectors see in [`JMS_DELIVERY_MODE`] for a non-persistent message.
pub const NON_PERSISTENT: &str = "NON_PERSISTENT";

/// The highest JMS priority.
pub const MAX_PRIORITY: u8 = 9;
