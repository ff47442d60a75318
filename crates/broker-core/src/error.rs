//! Errors the core reports to protocol adapters.

use crate::Destination;

/// Why a core operation failed. Each is scoped to the operation; the adapter decides whether
/// it ends the connection (STOMP: ERROR frame then close).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CoreError {
    /// The transaction id was never begun on this connection (or already ended).
    #[error("transaction '{0}' is not active")]
    UnknownTransaction(String),
    /// BEGIN for an id that is already active.
    #[error("transaction '{0}' is already active")]
    TransactionExists(String),
    /// The transaction already stages [`crate::CoreConfig::max_transaction_ops`] operations;
    /// the new one was not staged and the transaction is unchanged.
    #[error("transaction exceeds {limit} staged operations")]
    TransactionTooLarge {
        /// The configured bound.
        limit: usize,
    },
    /// The consumer id is not (or no longer) subscribed on this connection.
    #[error("no such subscription")]
    UnknownConsumer,
    /// A temporary destination that no longer exists (its connection closed) or never did.
    #[error("temporary destination {0} does not exist")]
    NoSuchTempDestination(Destination),
    /// Only the connection that created a temporary destination may consume from it.
    #[error("cannot consume from temporary destination {0} of another connection")]
    ForeignTempDestination(Destination),
    /// The broker is shutting down and accepts no more work.
    #[error("broker is shutting down")]
    ShuttingDown,
    /// The memory limit is reached and the producer may not wait (longer).
    #[error("memory limit of {limit} bytes reached: message refused (sendFailIfNoSpace)")]
    MemoryFull {
        /// The configured limit.
        limit: u64,
    },
    /// The store limit is reached and the producer may not wait (longer).
    #[error(
        "store limit of {limit} bytes reached: persistent message refused (sendFailIfNoSpace)"
    )]
    StoreFull {
        /// The configured limit.
        limit: u64,
    },
    /// A scheduled-delivery property is invalid (e.g. a bad CRON entry).
    #[error("invalid schedule: {0}")]
    InvalidSchedule(String),
    /// A subscription request that cannot be served (e.g. a durable subscription without a
    /// client id).
    #[error("invalid subscription: {0}")]
    InvalidSubscription(String),
    /// The durable subscription already has an active subscriber (ActiveMQ allows one).
    #[error("durable subscription '{0}' is in use by another subscriber")]
    DurableInUse(String),
    /// Another connection uses this client id (ActiveMQ: InvalidClientIDException).
    #[error("client id '{0}' is already connected")]
    ClientIdInUse(String),
    /// The destination does not exist.
    #[error("no such destination {0}")]
    NoSuchDestination(Destination),
    /// The storage backend failed; the operation did not take effect.
    #[error("storage failure: {0}")]
    Store(String),
}
