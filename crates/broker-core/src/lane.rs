//! A dispatch lane: pending messages in dispatch order plus the consumers competing for them.
//!
//! A queue is one lane with many consumers; a topic keeps one lane per subscriber. The lane
//! owns prefetch accounting: a consumer is offered a message only while its unacknowledged
//! deliveries are below its prefetch, which is what bounds every delivery channel.

use std::cmp::Reverse;
use std::collections::BTreeMap;
use std::sync::Arc;

use tokio::sync::mpsc::{self, error::TrySendError};

use crate::{ConnectionId, ConsumerId, Delivery, DeliveryTag, Message};

/// Position of a pending message, in dispatch order: store lane 9 first, then arrival order.
/// It is also the store's key order, so what is in memory and what is paged out agree.
/// Requeued messages keep their original key, so they go back ahead of newer ones.
pub(crate) type PendingKey = (Reverse<u8>, u64);

/// A message waiting in a lane or held by a consumer.
#[derive(Debug, Clone)]
pub(crate) struct Entry {
    pub(crate) seq: u64,
    /// The store lane: the JMS priority on prioritized destinations, one fixed lane on FIFO
    /// ones. Kept from the stored record, so dispatch order always equals store order.
    pub(crate) lane: u8,
    pub(crate) msg: Arc<Message>,
    pub(crate) redeliveries: u32,
}

impl Entry {
    pub(crate) fn key(&self) -> PendingKey {
        (Reverse(self.lane), self.seq)
    }
}

#[derive(Debug)]
struct InFlight {
    entry: Entry,
    /// Acknowledged inside a transaction that has not committed yet: no longer counts against
    /// prefetch (as in ActiveMQ), but not consumed either.
    tx_acked: bool,
}

/// A registered consumer as a lane sees it.
#[derive(Debug)]
pub(crate) struct Slot {
    pub(crate) id: ConsumerId,
    pub(crate) conn: ConnectionId,
    pub(crate) tx: mpsc::Sender<Delivery>,
    pub(crate) prefetch: u32,
    inflight: BTreeMap<u64, InFlight>,
    held: u32,
    next_tag: u64,
    /// The connection's delivery channel was full; retried on the next tick.
    stalled: bool,
}

impl Slot {
    pub(crate) fn new(
        id: ConsumerId,
        conn: ConnectionId,
        tx: mpsc::Sender<Delivery>,
        prefetch: u32,
    ) -> Self {
        Self {
            id,
            conn,
            tx,
            prefetch: prefetch.max(1),
            inflight: BTreeMap::new(),
            held: 0,
            next_tag: 1,
            stalled: false,
        }
    }

    fn has_credit(&self) -> bool {
        !self.stalled
            && (self.inflight.len() as u64 - u64::from(self.held)) < u64::from(self.prefetch)
    }
}

/// Result of one dispatch pass.
#[derive(Debug, Default)]
pub(crate) struct Dispatched {
    /// Some consumer could not take a message because its channel was full.
    pub(crate) stalled: bool,
    /// Messages taken out because they expired while pending.
    pub(crate) expired: Vec<Entry>,
    /// Messages a departed consumer held: to be redelivered (count not yet incremented).
    pub(crate) returned: Vec<Entry>,
}

/// Pending messages plus competing consumers.
#[derive(Debug, Default)]
pub(crate) struct Lane {
    pending: BTreeMap<PendingKey, Entry>,
    consumers: Vec<Slot>,
    rr: usize,
}

impl Lane {
    pub(crate) fn push(&mut self, entry: Entry) {
        self.pending.insert(entry.key(), entry);
    }

    pub(crate) fn pending_len(&self) -> usize {
        self.pending.len()
    }

    /// Takes out the pending entries after `key` (in dispatch order) that `movable` accepts.
    pub(crate) fn take_after(
        &mut self,
        key: PendingKey,
        movable: impl Fn(&Entry) -> bool,
    ) -> Vec<Entry> {
        let keys: Vec<PendingKey> = self
            .pending
            .range((std::ops::Bound::Excluded(key), std::ops::Bound::Unbounded))
            .filter(|(_, e)| movable(e))
            .map(|(k, _)| *k)
            .collect();
        keys.iter().filter_map(|k| self.pending.remove(k)).collect()
    }

    /// Takes out every pending entry `pick` accepts.
    pub(crate) fn take_pending(&mut self, mut pick: impl FnMut(&Entry) -> bool) -> Vec<Entry> {
        let keys: Vec<PendingKey> = self
            .pending
            .iter()
            .filter(|(_, e)| pick(e))
            .map(|(k, _)| *k)
            .collect();
        keys.iter().filter_map(|k| self.pending.remove(k)).collect()
    }

    /// Drops the oldest pending message of the lowest priority (slow topic subscriber
    /// policy): what would be delivered last goes first.
    pub(crate) fn discard_oldest(&mut self) {
        let Some((Reverse(lowest), _)) = self.pending.last_key_value().map(|(k, _)| *k) else {
            return;
        };
        let first = self
            .pending
            .range((Reverse(lowest), 0)..)
            .next()
            .map(|(k, _)| *k);
        if let Some(k) = first {
            self.pending.remove(&k);
        }
    }

    pub(crate) fn add_consumer(&mut self, slot: Slot) {
        self.consumers.push(slot);
    }

    pub(crate) fn consumer_count(&self) -> usize {
        self.consumers.len()
    }

    pub(crate) fn has_consumer(&self, id: ConsumerId) -> bool {
        self.consumers.iter().any(|c| c.id == id)
    }

    /// Removes a consumer; returns what it held unacknowledged, for redelivery.
    pub(crate) fn remove_consumer(&mut self, id: ConsumerId) -> Option<Vec<Entry>> {
        let pos = self.consumers.iter().position(|c| c.id == id)?;
        let slot = self.consumers.remove(pos);
        if self.rr > pos {
            self.rr -= 1;
        }
        Some(slot.inflight.into_values().map(|f| f.entry).collect())
    }

    /// Removes every consumer of a connection (it went away without unsubscribing); returns
    /// what they held.
    pub(crate) fn remove_connection(&mut self, conn: ConnectionId) -> Vec<Entry> {
        // Collected first: removing borrows the consumer list mutably.
        #[allow(clippy::needless_collect)]
        let ids: Vec<_> = self
            .consumers
            .iter()
            .filter(|c| c.conn == conn)
            .map(|c| c.id)
            .collect();
        ids.into_iter()
            .filter_map(|id| self.remove_consumer(id))
            .flatten()
            .collect()
    }

    fn slot_mut(&mut self, id: ConsumerId) -> Option<&mut Slot> {
        self.consumers.iter_mut().find(|c| c.id == id)
    }

    /// Consumes the named delivery (and, when `cumulative`, every earlier one); returns the
    /// consumed entries. Unknown tags are ignored: the delivery may have been requeued already.
    pub(crate) fn ack(&mut self, id: ConsumerId, tag: DeliveryTag, cumulative: bool) -> Vec<Entry> {
        let Some(slot) = self.slot_mut(id) else {
            return Vec::new();
        };
        let taken: Vec<InFlight> = if cumulative {
            let rest = slot.inflight.split_off(&(tag.0 + 1));
            std::mem::replace(&mut slot.inflight, rest)
                .into_values()
                .collect()
        } else {
            slot.inflight.remove(&tag.0).into_iter().collect()
        };
        let held = taken.iter().filter(|f| f.tx_acked).count() as u32;
        slot.held -= held;
        taken.into_iter().map(|f| f.entry).collect()
    }

    /// Takes one delivery back from its consumer, for redelivery.
    pub(crate) fn nack(&mut self, id: ConsumerId, tag: DeliveryTag) -> Option<Entry> {
        let slot = self.slot_mut(id)?;
        let f = slot.inflight.remove(&tag.0)?;
        if f.tx_acked {
            slot.held -= 1;
        }
        Some(f.entry)
    }

    /// Marks deliveries acknowledged inside an open transaction (`hold`), or undoes that mark
    /// when the transaction aborts.
    pub(crate) fn tx_mark(
        &mut self,
        id: ConsumerId,
        tag: DeliveryTag,
        cumulative: bool,
        hold: bool,
    ) {
        let Some(slot) = self.slot_mut(id) else {
            return;
        };
        let range = if cumulative { 0..=tag.0 } else { tag.0..=tag.0 };
        let mut delta: i64 = 0;
        for (_, f) in slot.inflight.range_mut(range) {
            if f.tx_acked != hold {
                f.tx_acked = hold;
                delta += if hold { 1 } else { -1 };
            }
        }
        slot.held = (i64::from(slot.held) + delta) as u32;
    }

    /// Clears every stall mark so the next dispatch retries those consumers.
    pub(crate) fn unstall(&mut self) {
        for c in &mut self.consumers {
            c.stalled = false;
        }
    }

    /// Offers pending messages to consumers with free prefetch, round-robin, in order:
    /// highest priority first, then oldest.
    pub(crate) fn dispatch(&mut self, now_ms: u64) -> Dispatched {
        let mut out = Dispatched::default();
        while let Some(entry) = self.pending.first_entry() {
            if entry.get().msg.is_expired(now_ms) {
                out.expired.push(entry.remove());
                continue;
            }
            let n = self.consumers.len();
            let Some(idx) = (0..n)
                .map(|i| (self.rr + i) % n)
                .find(|&i| self.consumers[i].has_credit())
            else {
                break;
            };
            let entry = entry.remove();
            let slot = &mut self.consumers[idx];
            let tag = slot.next_tag;
            let delivery = Delivery {
                consumer: slot.id,
                tag: DeliveryTag(tag),
                message: Arc::clone(&entry.msg),
                redeliveries: entry.redeliveries,
            };
            match slot.tx.try_send(delivery) {
                Ok(()) => {
                    slot.next_tag += 1;
                    slot.inflight.insert(
                        tag,
                        InFlight {
                            entry,
                            tx_acked: false,
                        },
                    );
                    self.rr = (idx + 1) % n;
                }
                Err(TrySendError::Full(_)) => {
                    slot.stalled = true;
                    out.stalled = true;
                    self.pending.insert(entry.key(), entry);
                }
                Err(TrySendError::Closed(_)) => {
                    // The connection is gone; take back what it held (the caller redelivers
                    // it), then retry this one.
                    self.pending.insert(entry.key(), entry);
                    let id = slot.id;
                    out.returned
                        .extend(self.remove_consumer(id).unwrap_or_default());
                }
            }
        }
        out
    }
}
