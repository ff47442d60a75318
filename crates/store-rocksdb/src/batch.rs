//! [`RocksBatch`]: turns one [`broker_store::Batch`] into one RocksDB [`WriteBatch`].
//!
//! Ops take effect in order, and some depend on the state earlier ops leave: a put's effect on
//! the queue's length depends on whether the key already holds a message, a
//! `SetRedeliveries` rewrites whatever the key holds at that point (perhaps a put of the same
//! batch), and a `DeleteDestination` empties the queue of messages put before it in the batch
//! but not after. A `WriteBatch` cannot be read, so `RocksBatch` keeps an overlay of what the
//! batch has written so far and consults the database only for keys the batch has not touched.
//! RocksDB's own batch semantics then match: entries get consecutive sequence numbers, so a
//! range delete hides earlier puts of the same batch and not later ones.
//!
//! The common put is of a new message, and asking the database whether its key exists was
//! about 30% of the write path. The seq high-water mark ([`crate::meta`]) answers that for
//! free: every key in the database has a seq at or below the mark as of the batch's start, so
//! a key the batch has not touched, with a seq above that mark, is not stored. The broker
//! numbers messages upwards, so its puts (and the deletes and redelivery updates of messages
//! put in the same batch) never read; a put at or below the mark still checks, so
//! `PutMessage` keeps replacing an existing message. The batch raises the mark to the
//! highest seq it puts, in the same `WriteBatch`.
//!
//! The reads and the final write must not interleave with another writer's, or two batches
//! could both count the same new key; [`crate::RocksStore`] holds its writer lock around the
//! whole of it.

use std::collections::{HashMap, HashSet};

use broker_store::{DestinationRecord, MessageRecord, Op, StoreError};
use rocksdb::{ColumnFamily, WriteBatch, DB};

use crate::cf::{CF_DESTINATIONS, CF_MESSAGES, CF_META, CF_QUEUE_LENS};
use crate::{backend, cf_handle, keys, record};

/// A queue length as the batch found it and as it leaves it.
#[derive(Debug, Clone, Copy)]
struct Len {
    stored: u64,
    current: u64,
}

pub(crate) struct RocksBatch<'a> {
    db: &'a DB,
    messages: &'a ColumnFamily,
    destinations: &'a ColumnFamily,
    lens_cf: &'a ColumnFamily,
    meta: &'a ColumnFamily,
    batch: WriteBatch,
    /// The seq high-water mark as the database holds it: no stored key has a higher seq.
    stored_max_seq: u64,
    /// The mark as this batch leaves it.
    max_seq: u64,
    /// Message keys this batch has written: `Some(value)` after a put, `None` after a delete.
    written: HashMap<Vec<u8>, Option<Vec<u8>>>,
    /// Queues a `DeleteDestination` of this batch emptied: their keys not in `written` are
    /// gone, whatever the database still says.
    cleared: HashSet<String>,
    /// Lengths of the queues this batch touched.
    lens: HashMap<String, Len>,
}

impl<'a> RocksBatch<'a> {
    /// A batch against `db`, whose seq high-water mark is `max_seq`.
    pub(crate) fn new(db: &'a DB, max_seq: u64) -> Result<Self, StoreError> {
        Ok(Self {
            db,
            messages: cf_handle(db, CF_MESSAGES)?,
            destinations: cf_handle(db, CF_DESTINATIONS)?,
            lens_cf: cf_handle(db, CF_QUEUE_LENS)?,
            meta: cf_handle(db, CF_META)?,
            batch: WriteBatch::default(),
            stored_max_seq: max_seq,
            max_seq,
            written: HashMap::new(),
            cleared: HashSet::new(),
            lens: HashMap::new(),
        })
    }

    /// Adds one op. The caller has validated the whole batch already; what can fail here is
    /// reading the database, or finding it corrupt.
    pub(crate) fn push(&mut self, op: &Op) -> Result<(), StoreError> {
        match op {
            Op::PutMessage(message) => self.put_message(message),
            Op::DeleteMessage {
                queue,
                priority,
                seq,
            } => self.delete_message(queue, *priority, *seq),
            Op::SetRedeliveries {
                queue,
                priority,
                seq,
                redeliveries,
            } => self.set_redeliveries(queue, *priority, *seq, *redeliveries),
            Op::PutDestination(destination) => {
                self.put_destination(destination);
                Ok(())
            }
            Op::DeleteDestination { name } => self.delete_destination(name.clone()),
        }
    }

    /// The `WriteBatch` holding every op plus the changed queue lengths and seq mark, and the
    /// mark once it is written.
    pub(crate) fn finish(mut self) -> (WriteBatch, u64) {
        for (queue, len) in &self.lens {
            if len.current == len.stored {
                continue;
            }
            let key = keys::queue_len_key(queue);
            if len.current == 0 {
                // An empty queue keeps no counter, so names alone never grow the store.
                self.batch.delete_cf(self.lens_cf, key);
            } else {
                self.batch
                    .put_cf(self.lens_cf, key, record::encode_queue_len(len.current));
            }
        }
        if self.max_seq > self.stored_max_seq {
            self.batch.put_cf(
                self.meta,
                keys::META_MAX_SEQ,
                record::encode_max_seq(self.max_seq),
            );
        }
        (self.batch, self.max_seq)
    }

    fn put_message(&mut self, message: &MessageRecord) -> Result<(), StoreError> {
        let key = keys::message_key(&message.queue, message.priority, message.seq);
        let existed = self.message_exists(&message.queue, message.seq, &key)?;
        let value = record::encode_message(message);
        self.batch.put_cf(self.messages, &key, &value);
        if !existed {
            self.change_len(&message.queue, true)?;
        }
        self.written.insert(key, Some(value));
        // Raised even if a later op of the batch deletes the message again: simpler, and a
        // mark too high is harmless.
        self.max_seq = self.max_seq.max(message.seq);
        Ok(())
    }

    fn delete_message(&mut self, queue: &str, priority: u8, seq: u64) -> Result<(), StoreError> {
        let key = keys::message_key(queue, priority, seq);
        if self.message_exists(queue, seq, &key)? {
            self.batch.delete_cf(self.messages, &key);
            self.change_len(queue, false)?;
            self.written.insert(key, None);
        }
        Ok(())
    }

    fn set_redeliveries(
        &mut self,
        queue: &str,
        priority: u8,
        seq: u64,
        redeliveries: u32,
    ) -> Result<(), StoreError> {
        let key = keys::message_key(queue, priority, seq);
        let Some(value) = self.message_value(queue, seq, &key)? else {
            return Ok(());
        };
        let value = record::set_redeliveries(&value, redeliveries)?;
        self.batch.put_cf(self.messages, &key, &value);
        self.written.insert(key, Some(value));
        Ok(())
    }

    fn put_destination(&mut self, destination: &DestinationRecord) {
        self.batch.put_cf(
            self.destinations,
            keys::destination_key(&destination.name),
            record::encode_destination(destination),
        );
    }

    fn delete_destination(&mut self, name: String) -> Result<(), StoreError> {
        self.batch
            .delete_cf(self.destinations, keys::destination_key(&name));
        // The length counter is written in the same batches as the messages, so zero means
        // there is nothing to delete, and the range tombstone (which reads must step over
        // until compaction drops it) is skipped.
        let len = self.len(&name)?;
        if len.current > 0 {
            self.batch.delete_range_cf(
                self.messages,
                keys::queue_start(&name),
                keys::queue_end(&name),
            );
        }
        let prefix = keys::queue_prefix(&name);
        self.written.retain(|key, _| !key.starts_with(&prefix));
        self.lens.insert(name.clone(), Len { current: 0, ..len });
        self.cleared.insert(name);
        Ok(())
    }

    /// Whether the message key `key` (of `queue` and `seq`) holds a message at this point of
    /// the batch.
    fn message_exists(&self, queue: &str, seq: u64, key: &[u8]) -> Result<bool, StoreError> {
        if let Some(written) = self.written.get(key) {
            return Ok(written.is_some());
        }
        if self.cleared.contains(queue) || seq > self.stored_max_seq {
            return Ok(false);
        }
        let found = self
            .db
            .get_pinned_cf(self.messages, key)
            .map_err(backend("read message"))?;
        Ok(found.is_some())
    }

    /// The value the message key `key` (of `queue` and `seq`) holds at this point of the batch.
    fn message_value(
        &self,
        queue: &str,
        seq: u64,
        key: &[u8],
    ) -> Result<Option<Vec<u8>>, StoreError> {
        if let Some(written) = self.written.get(key) {
            return Ok(written.clone());
        }
        if self.cleared.contains(queue) || seq > self.stored_max_seq {
            return Ok(None);
        }
        self.db
            .get_cf(self.messages, key)
            .map_err(backend("read message"))
    }

    /// The queue's length as this batch sees it, read from the database on first use.
    fn len(&mut self, queue: &str) -> Result<Len, StoreError> {
        if let Some(&len) = self.lens.get(queue) {
            return Ok(len);
        }
        let stored = match self
            .db
            .get_pinned_cf(self.lens_cf, keys::queue_len_key(queue))
            .map_err(backend("read queue length"))?
        {
            Some(value) => record::decode_queue_len(&value)?,
            None => 0,
        };
        let len = Len {
            stored,
            current: stored,
        };
        self.lens.insert(queue.to_owned(), len);
        Ok(len)
    }

    fn change_len(&mut self, queue: &str, add: bool) -> Result<(), StoreError> {
        let len = self.len(queue)?;
        let current = if add {
            len.current.checked_add(1)
        } else {
            len.current.checked_sub(1)
        }
        .ok_or_else(|| StoreError::Corrupt {
            what: "queue length",
            detail: format!(
                "counter of {queue:?} is {} and cannot {}",
                len.current,
                if add { "grow" } else { "shrink" }
            ),
        })?;
        self.lens.insert(queue.to_owned(), Len { current, ..len });
        Ok(())
    }
}
