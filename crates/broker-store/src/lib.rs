//! Storage port for ferromq.
//!
//! This crate owns the [`Store`] trait that every storage backend implements, the plain record
//! types that cross it, an in-memory [`MemStore`], and [`testsuite`]: the behaviour every
//! backend must show, run against `MemStore` here and against each real backend in its crate.
//!
//! Invariants worth naming:
//! - No backend type (RocksDB, files) appears here; `broker-core` depends on this crate only.
//! - A [`Batch`] is applied atomically: all of its operations become visible, or none do, and
//!   its operations take effect in order (a put then a delete of the same key leaves nothing).
//! - A message's key is `(queue, priority, seq)`; priorities above [`MAX_PRIORITY`] are
//!   rejected ([`StoreError::InvalidPriority`]) before any operation of the batch is applied.
//! - [`Store::load_queue`] returns a queue's messages in dispatch order: priority 9 first down
//!   to 0, and within one priority by ascending `seq`. Backends make this a range scan.

use bytes::Bytes;

/// Highest JMS priority a stored message may carry; the broker clamps client values first.
pub const MAX_PRIORITY: u8 = 9;

mod mem;
pub mod testsuite;

pub use mem::MemStore;

/// A message as stored: plain data, encoded by each backend as it likes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageRecord {
    /// Name of the queue (or durable subscription) the message waits on.
    pub queue: String,
    /// Arrival order, assigned by the broker from one broker-wide counter: never reused,
    /// even after a restart or a delete.
    pub seq: u64,
    /// JMS priority 0-9.
    pub priority: u8,
    /// How many times the message was delivered and not acknowledged.
    pub redeliveries: u32,
    /// Broker-assigned message id.
    pub message_id: String,
    /// Expiry in ms since the Unix epoch; 0 means never.
    pub expires: u64,
    /// Send time in ms since the Unix epoch.
    pub timestamp: u64,
    /// Well-known and user headers as ordered name/value pairs.
    pub headers: Vec<(Bytes, Bytes)>,
    /// Message body.
    pub body: Bytes,
}

impl MessageRecord {
    /// The message's position in its queue's dispatch order, as [`Store::load_queue`]'s
    /// `after` takes it: `(priority, seq)`.
    pub fn position(&self) -> (u8, u64) {
        (self.priority, self.seq)
    }
}

/// Metadata kept for a destination so it exists again after a restart.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DestinationRecord {
    /// Destination name as the core names it (e.g. `queue://orders`).
    pub name: String,
    /// What the core needs to re-create it beyond its name (e.g. a durable subscription's
    /// topic and selector), as name/value pairs in the core's own vocabulary.
    pub attributes: Vec<(String, String)>,
}

/// One change within a [`Batch`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Op {
    /// Store a message (replaces one with the same queue, priority and seq).
    PutMessage(MessageRecord),
    /// Remove a message (acknowledged, expired or moved); removing a missing one is not an error.
    DeleteMessage {
        /// Queue name.
        queue: String,
        /// Priority the message was stored with (part of its key).
        priority: u8,
        /// Arrival order.
        seq: u64,
    },
    /// Update the redelivery count of a stored message; a missing message is ignored.
    SetRedeliveries {
        /// Queue name.
        queue: String,
        /// Priority the message was stored with.
        priority: u8,
        /// Arrival order.
        seq: u64,
        /// New count.
        redeliveries: u32,
    },
    /// Record that a destination exists.
    PutDestination(DestinationRecord),
    /// Forget a destination and every message stored under it.
    DeleteDestination {
        /// Destination/queue name.
        name: String,
    },
}

/// A group of changes applied atomically.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Batch {
    /// The changes, applied in order.
    pub ops: Vec<Op>,
}

impl Batch {
    /// An empty batch.
    pub fn new() -> Self {
        Self::default()
    }
    /// Appends one change.
    pub fn push(&mut self, op: Op) {
        self.ops.push(op);
    }
    /// True when the batch holds no change.
    pub fn is_empty(&self) -> bool {
        self.ops.is_empty()
    }

    /// Rejects a batch no backend may apply, before anything is read or written: every
    /// backend calls this first, so they all refuse the same batches.
    pub fn validate(&self) -> Result<(), StoreError> {
        for op in &self.ops {
            if let Op::PutMessage(message) = op {
                if message.priority > MAX_PRIORITY {
                    return Err(StoreError::InvalidPriority {
                        queue: message.queue.clone(),
                        seq: message.seq,
                        priority: message.priority,
                    });
                }
            }
        }
        Ok(())
    }
}

/// Errors a backend reports.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The backend's I/O failed.
    #[error("storage I/O error: {0}")]
    Io(#[from] std::io::Error),
    /// Stored data could not be decoded.
    #[error("corrupt record in {what}: {detail}")]
    Corrupt {
        /// Which kind of record.
        what: &'static str,
        /// What was wrong.
        detail: String,
    },
    /// A configured store limit was reached.
    #[error("store limit reached: {used} of {limit} bytes used")]
    Full {
        /// Bytes in use.
        used: u64,
        /// Configured limit.
        limit: u64,
    },
    /// A [`Op::PutMessage`] carried a priority above [`MAX_PRIORITY`]; nothing was applied.
    #[error("message {queue}/{seq} has priority {priority}; the maximum is {max}", max = MAX_PRIORITY)]
    InvalidPriority {
        /// Queue name.
        queue: String,
        /// Arrival order.
        seq: u64,
        /// The rejected priority.
        priority: u8,
    },
    /// The disk is too full to take the write safely; nothing was written.
    #[error("disk almost full: {available} bytes free, {reserve} bytes must stay free")]
    DiskFull {
        /// Bytes free on the store's filesystem.
        available: u64,
        /// The reserve the write needed.
        reserve: u64,
    },
    /// Backend-specific failure.
    #[error("storage backend error: {0}")]
    Backend(String),
}

/// The storage port. Implementations are synchronous and may block; the broker calls them
/// from a dedicated thread, never from an async worker.
pub trait Store: Send + Sync + 'static {
    /// Applies every op of `batch` atomically and durably (per the backend's sync policy), in
    /// order. A batch with an invalid op fails as a whole and changes nothing.
    fn apply(&self, batch: &Batch) -> Result<(), StoreError>;
    /// Every destination recorded with [`Op::PutDestination`] and not deleted, sorted by name.
    fn destinations(&self) -> Result<Vec<DestinationRecord>, StoreError>;
    /// Up to `limit` messages of `queue` in dispatch order (priority 9..0, then seq), starting
    /// strictly after the position `after` = `(priority, seq)` when given. `after` need not
    /// name a stored message (it may have been deleted since), so callers page with
    /// [`MessageRecord::position`] of the last message they got.
    fn load_queue(
        &self,
        queue: &str,
        after: Option<(u8, u64)>,
        limit: usize,
    ) -> Result<Vec<MessageRecord>, StoreError>;
    /// Number of messages stored for `queue`.
    fn queue_len(&self, queue: &str) -> Result<u64, StoreError>;
    /// The highest `seq` ever stored, 0 when none: a high-water mark that deletes never
    /// lower, so the broker, which numbers new messages above it after a restart, never
    /// hands a number out twice. Backends must keep it ([`testsuite`]'s
    /// `max_seq_is_a_high_water_mark` checks). The default body pages through every queue
    /// and sees only messages still stored, so every backend overrides it.
    fn max_seq(&self) -> Result<u64, StoreError> {
        let mut max = 0;
        for dest in self.destinations()? {
            let mut after = None;
            loop {
                let page = self.load_queue(&dest.name, after, 4096)?;
                let Some(last) = page.last() else { break };
                after = Some((last.priority, last.seq));
                max = page.iter().map(|m| m.seq).fold(max, u64::max);
            }
        }
        Ok(max)
    }

    /// Roughly how many bytes the store occupies (on disk, or in memory for [`MemStore`]),
    /// for the store limit (ActiveMQ `storeUsage`). Cheap enough to call after every group
    /// write; backends that cannot tell return 0.
    fn approximate_size(&self) -> Result<u64, StoreError> {
        Ok(0)
    }
}
