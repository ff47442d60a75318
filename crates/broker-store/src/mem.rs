//! [`MemStore`]: the in-memory backend used by tests and by brokers run without persistence.

use std::cmp::Reverse;
use std::collections::{BTreeMap, HashMap};
use std::ops::Bound;
use std::sync::{Mutex, MutexGuard, PoisonError};

use crate::{Batch, DestinationRecord, MessageRecord, Op, Store, StoreError};

/// A message's key within its queue. Ordering it by priority descending, then seq ascending,
/// makes dispatch order the map's own order, so [`Store::load_queue`] is one range scan.
type Position = (Reverse<u8>, u64);

fn position(priority: u8, seq: u64) -> Position {
    (Reverse(priority), seq)
}

#[derive(Debug, Default)]
struct State {
    /// Messages per queue. A queue's entry is removed when its last message goes, so the map
    /// never grows with names alone; one map per queue keeps `queue_len` O(1) and makes
    /// queues whose names share a prefix trivially independent.
    queues: HashMap<String, BTreeMap<Position, MessageRecord>>,
    /// Ordered by name, which is the order [`Store::destinations`] promises.
    destinations: BTreeMap<String, DestinationRecord>,
    /// Highest seq ever put; deletes leave it alone, so [`Store::max_seq`] never goes back.
    max_seq: u64,
    /// Bytes of the stored messages, for [`Store::approximate_size`].
    bytes: u64,
}

/// What a stored message counts for in [`Store::approximate_size`].
fn footprint(m: &MessageRecord) -> u64 {
    let headers: usize = m.headers.iter().map(|(k, v)| k.len() + v.len()).sum();
    (m.body.len() + headers + m.message_id.len() + m.queue.len() + 32) as u64
}

impl State {
    /// Applies one op. Infallible by construction: everything that can reject a batch is
    /// checked before the first op is applied.
    fn apply(&mut self, op: Op) {
        match op {
            Op::PutMessage(message) => {
                self.max_seq = self.max_seq.max(message.seq);
                self.bytes += footprint(&message);
                if let Some(old) = self
                    .queues
                    .entry(message.queue.clone())
                    .or_default()
                    .insert(position(message.priority, message.seq), message)
                {
                    self.bytes -= footprint(&old);
                }
            }
            Op::DeleteMessage {
                queue,
                priority,
                seq,
            } => {
                if let Some(messages) = self.queues.get_mut(&queue) {
                    if let Some(old) = messages.remove(&position(priority, seq)) {
                        self.bytes -= footprint(&old);
                    }
                    if messages.is_empty() {
                        self.queues.remove(&queue);
                    }
                }
            }
            Op::SetRedeliveries {
                queue,
                priority,
                seq,
                redeliveries,
            } => {
                if let Some(message) = self
                    .queues
                    .get_mut(&queue)
                    .and_then(|messages| messages.get_mut(&position(priority, seq)))
                {
                    message.redeliveries = redeliveries;
                }
            }
            Op::PutDestination(destination) => {
                self.destinations
                    .insert(destination.name.clone(), destination);
            }
            Op::DeleteDestination { name } => {
                self.destinations.remove(&name);
                if let Some(messages) = self.queues.remove(&name) {
                    self.bytes -= messages.values().map(footprint).sum::<u64>();
                }
            }
        }
    }
}

/// In-memory [`Store`]. Nothing survives the process.
///
/// All state sits behind one std [`Mutex`], held only for the map operations of a single call
/// and never across I/O or an `.await`: this is the test and default backend, and one lock
/// makes every batch trivially atomic with respect to readers.
#[derive(Debug, Default)]
pub struct MemStore {
    state: Mutex<State>,
}

impl MemStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    fn state(&self) -> MutexGuard<'_, State> {
        // A poisoned lock cannot hide a half-applied batch: batches are validated before the
        // first op and applying an op cannot fail, so the state is consistent; keep serving.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Store for MemStore {
    fn apply(&self, batch: &Batch) -> Result<(), StoreError> {
        batch.validate()?;
        let mut state = self.state();
        for op in &batch.ops {
            state.apply(op.clone());
        }
        Ok(())
    }

    fn destinations(&self) -> Result<Vec<DestinationRecord>, StoreError> {
        Ok(self.state().destinations.values().cloned().collect())
    }

    fn load_queue(
        &self,
        queue: &str,
        after: Option<(u8, u64)>,
        limit: usize,
    ) -> Result<Vec<MessageRecord>, StoreError> {
        let state = self.state();
        let Some(messages) = state.queues.get(queue) else {
            return Ok(Vec::new());
        };
        let start = match after {
            Some((priority, seq)) => Bound::Excluded(position(priority, seq)),
            None => Bound::Unbounded,
        };
        // Cloning is cheap enough under the lock: bodies and headers are ref-counted `Bytes`.
        Ok(messages
            .range((start, Bound::Unbounded))
            .take(limit)
            .map(|(_, message)| message.clone())
            .collect())
    }

    fn queue_len(&self, queue: &str) -> Result<u64, StoreError> {
        let len = self.state().queues.get(queue).map_or(0, BTreeMap::len);
        Ok(len as u64)
    }

    fn approximate_size(&self) -> Result<u64, StoreError> {
        Ok(self.state().bytes)
    }

    fn max_seq(&self) -> Result<u64, StoreError> {
        Ok(self.state().max_seq)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testsuite;

    #[test]
    fn memstore_passes_the_backend_suite() {
        testsuite::run_all(MemStore::new);
    }

    #[test]
    fn memstore_is_usable_as_a_trait_object() {
        let store: Box<dyn Store> = Box::new(MemStore::new());
        testsuite::round_trip_fields(store.as_ref());
    }
}
