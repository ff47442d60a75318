//! ferromq's broker core: destinations, dispatch, acknowledgements and transactions,
//! independent of any protocol, socket or storage engine.
//!
//! Shape: every destination is an actor task that owns its messages and consumers and is
//! reached through a bounded mailbox ([`Broker`] keeps the registry of mailboxes; each
//! [`Connection`] caches the ones it uses, so the registry lock is never taken per message).
//! Deliveries flow back through one bounded channel per connection.
//!
//! Invariants worth naming:
//! - `broker-core` never names a socket, a protocol type or a storage engine; it sees storage
//!   only through [`broker_store::Store`].
//! - A queue message is held by at most one consumer at a time; it leaves the queue only when
//!   acknowledged (or expired). Unacknowledged messages of a departed consumer return ahead of
//!   newer ones, marked redelivered.
//! - A consumer never holds more unacknowledged deliveries than its prefetch; this is what
//!   bounds each connection's delivery channel.
//! - No global lock on the hot path: per-message work happens in the owning actor.

mod actor;
mod broker;
mod connection;
mod consumer;
mod cron;
mod destination;
mod error;
mod lane;
mod memory;
mod message;
mod persist;
mod policy;
mod record;
mod routing;
mod schedule;
mod select;
mod virtual_destinations;

pub use actor::DestinationStats;
pub use broker::{Broker, CoreConfig};
pub use connection::Connection;
pub use consumer::{ConnectionId, ConsumerId, ConsumerSpec, WatchId};
pub use destination::{Destination, DestinationKind};
pub use error::CoreError;
pub use message::{
    BodyKind, Delivery, DeliveryTag, Message, MessageExtras, Schedule, DEFAULT_PRIORITY,
};
pub use policy::{
    DeadLetterPolicy, DeadLetterStrategy, DestinationPattern, DestinationPolicy, PolicyEntry,
    PolicyMap, PriorityLane, RedeliveryPolicy, DEFAULT_DLQ,
};
pub use routing::{durable_queue, is_wildcard, DURABLE_QUEUE_PREFIX};
pub use virtual_destinations::{CompositeDestination, CompositeTarget, VirtualTopic};

/// Milliseconds since the Unix epoch (JMS timestamps and expiry use this clock).
pub fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// The core's time source for expiry, delays and back-off, in ms since the Unix epoch.
/// Production uses the system clock; tests use [`Clock::tokio`], which advances with Tokio's
/// (pausable) clock, so time-dependent behaviour is tested fast and deterministically.
#[derive(Debug, Clone, Default)]
pub struct Clock(ClockKind);

#[derive(Debug, Clone, Default)]
enum ClockKind {
    #[default]
    System,
    Tokio {
        start_ms: u64,
        start: tokio::time::Instant,
    },
}

impl Clock {
    /// The system clock.
    pub fn system() -> Self {
        Self(ClockKind::System)
    }

    /// A clock reading `start_ms` now and advancing with `tokio::time::Instant` (so with
    /// `tokio::time::pause`/`advance` in tests).
    pub fn tokio(start_ms: u64) -> Self {
        Self(ClockKind::Tokio {
            start_ms,
            start: tokio::time::Instant::now(),
        })
    }

    /// Now, in ms since the Unix epoch.
    pub fn now_ms(&self) -> u64 {
        match &self.0 {
            ClockKind::System => now_ms(),
            ClockKind::Tokio { start_ms, start } => start_ms + start.elapsed().as_millis() as u64,
        }
    }

    /// The Tokio instant at which this clock reads `at_ms` (now, if that has passed).
    pub(crate) fn instant_at(&self, at_ms: u64) -> tokio::time::Instant {
        let wait = at_ms.saturating_sub(self.now_ms());
        tokio::time::Instant::now() + std::time::Duration::from_millis(wait)
    }
}
