//! A dispatch lane: pending messages in dispatch order plus the consumers competing for them.
//!
//! A queue is one lane with many consumers; a topic keeps one lane per subscriber. The lane
//! owns prefetch accounting: a consumer is offered a message only while its unacknowledged
//! deliveries are below its prefetch, which is what bounds every delivery channel.
//!
//! Who may take which message: a consumer's selector, message groups (`JMSXGroupID` pins a
//! group to the consumer that got its first message), exclusive consumers (only the first
//! one registered receives) and consumer priority (higher first, round-robin among equals).
//! The lane keeps an index per consumer of what it may take, so one dispatch step costs
//! O(consumers × log pending) whatever the selectors: no pass rescans the backlog for a
//! consumer whose selector matches nothing.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

use jms_model::Selector;
use tokio::sync::mpsc::{self, error::TrySendError};

use crate::{ConnectionId, ConsumerId, Delivery, DeliveryTag, Message};

/// Most message groups pinned at once per lane before idle ones are forgotten.
const MAX_GROUPS: usize = 65_536;

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

    fn selected_by(&self, selector: &Selector) -> bool {
        selector.matches(&crate::select::View {
            msg: &self.msg,
            redeliveries: self.redeliveries,
        })
    }
}

#[derive(Debug)]
struct InFlight {
    entry: Entry,
    /// Acknowledged inside a transaction that has not committed yet: no longer counts against
    /// prefetch (as in ActiveMQ), but not consumed either.
    tx_acked: bool,
}

/// How a consumer competes for messages.
#[derive(Debug, Clone, Default)]
pub(crate) struct SlotOptions {
    pub(crate) selector: Option<Arc<Selector>>,
    /// ActiveMQ `consumer.exclusive`.
    pub(crate) exclusive: bool,
    /// ActiveMQ consumer priority (0-127 in ActiveMQ; higher is served first).
    pub(crate) priority: i32,
}

/// A registered consumer as a lane sees it.
#[derive(Debug)]
pub(crate) struct Slot {
    pub(crate) id: ConsumerId,
    pub(crate) conn: ConnectionId,
    pub(crate) tx: mpsc::Sender<Delivery>,
    pub(crate) prefetch: u32,
    opts: SlotOptions,
    /// With a selector: the unowned pending keys it selects.
    matches: BTreeSet<PendingKey>,
    /// Pending keys of the message groups this consumer owns.
    owned: BTreeSet<PendingKey>,
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
        opts: SlotOptions,
    ) -> Self {
        Self {
            id,
            conn,
            tx,
            prefetch: prefetch.max(1),
            opts,
            matches: BTreeSet::new(),
            owned: BTreeSet::new(),
            inflight: BTreeMap::new(),
            held: 0,
            next_tag: 1,
            stalled: false,
        }
    }

    fn selects(&self, entry: &Entry) -> bool {
        self.opts
            .selector
            .as_ref()
            .is_none_or(|s| entry.selected_by(s))
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
    /// Pending keys not pinned to a consumer: no group, or a group without an owner yet.
    unowned: BTreeSet<PendingKey>,
    /// Message group → the consumer it is pinned to.
    groups: HashMap<Arc<str>, ConsumerId>,
    /// Unowned pending keys per group, so assigning a group moves them at once.
    group_keys: HashMap<Arc<str>, BTreeSet<PendingKey>>,
    /// Group count at which idle pins are next forgotten (at least [`MAX_GROUPS`]).
    group_cap: usize,
    consumers: Vec<Slot>,
    rr: usize,
}

impl Lane {
    pub(crate) fn push(&mut self, entry: Entry) {
        let key = entry.key();
        let group = entry.msg.group_id();
        let owner = group
            .and_then(|g| self.groups.get(g).copied())
            .and_then(|o| self.consumers.iter().position(|c| c.id == o));
        match owner {
            Some(pos) => {
                self.consumers[pos].owned.insert(key);
            }
            None => {
                if let Some(g) = group {
                    self.group_keys.entry(Arc::from(g)).or_default().insert(key);
                }
                self.unowned.insert(key);
                for c in &mut self.consumers {
                    if c.opts.selector.is_some() && c.selects(&entry) {
                        c.matches.insert(key);
                    }
                }
            }
        }
        self.pending.insert(key, entry);
    }

    /// Takes a pending message out, from every index.
    fn remove_key(&mut self, key: &PendingKey) -> Option<Entry> {
        let entry = self.pending.remove(key)?;
        if self.unowned.remove(key) {
            if let Some(g) = entry.msg.group_id() {
                if let Some(keys) = self.group_keys.get_mut(g) {
                    keys.remove(key);
                    if keys.is_empty() {
                        self.group_keys.remove(g);
                    }
                }
            }
            for c in &mut self.consumers {
                c.matches.remove(key);
            }
        } else {
            for c in &mut self.consumers {
                if c.owned.remove(key) {
                    break;
                }
            }
        }
        Some(entry)
    }

    /// Pins `group` to consumer `owner`: its unowned pending messages become the owner's.
    fn assign_group(&mut self, group: &str, owner: ConsumerId) {
        if self.groups.len() >= self.group_cap.max(MAX_GROUPS) {
            self.forget_idle_groups();
            // If most groups are busy, scan again only once the map has doubled: the
            // bound stays amortised O(1) per assignment.
            self.group_cap = self.groups.len() * 2;
        }
        let group: Arc<str> = Arc::from(group);
        let keys = self.group_keys.remove(&group).unwrap_or_default();
        self.groups.insert(group, owner);
        for key in &keys {
            self.unowned.remove(key);
            for c in &mut self.consumers {
                c.matches.remove(key);
            }
        }
        if let Some(slot) = self.consumers.iter_mut().find(|c| c.id == owner) {
            slot.owned.extend(keys);
        }
    }

    /// Bounds the group map (groups are rarely closed): forgets the pins of groups with no
    /// pending message, as ActiveMQ's group map forgets its least recently used beyond 1024.
    /// Their next message may go to another consumer.
    fn forget_idle_groups(&mut self) {
        let busy: std::collections::HashSet<&str> = self
            .consumers
            .iter()
            .flat_map(|c| c.owned.iter())
            .filter_map(|k| self.pending.get(k).and_then(|e| e.msg.group_id()))
            .collect();
        let idle: Vec<Arc<str>> = self
            .groups
            .keys()
            .filter(|g| !busy.contains(&***g))
            .cloned()
            .collect();
        for g in idle {
            self.groups.remove(&g);
        }
    }

    /// Unpins groups (`JMSXGroupSeq` -1, or the owner left): their pending messages are
    /// open to every consumer again.
    fn release_groups(&mut self, owner: ConsumerId, only: Option<&str>) {
        let released: Vec<Arc<str>> = self
            .groups
            .iter()
            .filter(|(g, o)| **o == owner && only.is_none_or(|name| &***g == name))
            .map(|(g, _)| Arc::clone(g))
            .collect();
        if released.is_empty() {
            return;
        }
        for g in &released {
            self.groups.remove(g);
        }
        let Some(pos) = self.consumers.iter().position(|c| c.id == owner) else {
            return;
        };
        let owned = std::mem::take(&mut self.consumers[pos].owned);
        let mut keep = BTreeSet::new();
        for key in owned {
            let Some(entry) = self.pending.get(&key) else {
                continue;
            };
            let Some(g) = entry
                .msg
                .group_id()
                .filter(|g| released.iter().any(|r| &**r == *g))
            else {
                keep.insert(key);
                continue;
            };
            self.group_keys.entry(Arc::from(g)).or_default().insert(key);
            self.unowned.insert(key);
            for c in &mut self.consumers {
                if c.opts.selector.is_some() && c.selects(entry) {
                    c.matches.insert(key);
                }
            }
        }
        self.consumers[pos].owned = keep;
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
        keys.iter().filter_map(|k| self.remove_key(k)).collect()
    }

    /// Takes out every pending entry `pick` accepts.
    pub(crate) fn take_pending(&mut self, mut pick: impl FnMut(&Entry) -> bool) -> Vec<Entry> {
        let keys: Vec<PendingKey> = self
            .pending
            .iter()
            .filter(|(_, e)| pick(e))
            .map(|(k, _)| *k)
            .collect();
        keys.iter().filter_map(|k| self.remove_key(k)).collect()
    }

    /// The messages in dispatch order that `selector` selects, without taking them (queue
    /// browsing): pending ones and, as ActiveMQ shows them, those consumers hold
    /// unacknowledged.
    pub(crate) fn browse(&self, selector: Option<&Selector>) -> Vec<(Arc<Message>, u32)> {
        let held = self
            .consumers
            .iter()
            .flat_map(|c| c.inflight.values().map(|f| &f.entry));
        let mut seen: Vec<&Entry> = self
            .pending
            .values()
            .chain(held)
            .filter(|e| selector.is_none_or(|s| e.selected_by(s)))
            .collect();
        seen.sort_by_key(|e| e.key());
        seen.into_iter()
            .map(|e| (Arc::clone(&e.msg), e.redeliveries))
            .collect()
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
            self.remove_key(&k);
        }
    }

    pub(crate) fn add_consumer(&mut self, mut slot: Slot) {
        if slot.opts.selector.is_some() {
            // Once per subscription: what of the backlog it selects.
            slot.matches = self
                .unowned
                .iter()
                .filter(|k| self.pending.get(k).is_some_and(|e| slot.selects(e)))
                .copied()
                .collect();
        }
        self.consumers.push(slot);
    }

    pub(crate) fn consumer_count(&self) -> usize {
        self.consumers.len()
    }

    pub(crate) fn has_consumer(&self, id: ConsumerId) -> bool {
        self.consumers.iter().any(|c| c.id == id)
    }

    /// Removes a consumer; returns what it held unacknowledged, for redelivery. Its message
    /// groups go to whoever takes their next message.
    pub(crate) fn remove_consumer(&mut self, id: ConsumerId) -> Option<Vec<Entry>> {
        let pos = self.consumers.iter().position(|c| c.id == id)?;
        self.release_groups(id, None);
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

    /// The next message consumer `c` may take: the first of its groups' messages or of the
    /// unowned ones it selects.
    fn candidate(&self, c: &Slot) -> Option<PendingKey> {
        let own = c
            .owned
            .iter()
            .find(|k| self.pending.get(k).is_some_and(|e| c.selects(e)))
            .copied();
        let pool = if c.opts.selector.is_some() {
            c.matches.first().copied()
        } else {
            self.unowned.first().copied()
        };
        match (own, pool) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// True when a consumer has room but nothing pending may go to it (its selector or the
    /// groups hold everything back): reading more of a paged-out backlog may find it some.
    pub(crate) fn starved(&self) -> bool {
        let ex = self.active_exclusive();
        (0..self.consumers.len())
            .any(|i| self.receives(i, ex) && self.candidate(&self.consumers[i]).is_none())
    }

    /// The active exclusive consumer, if any consumer is exclusive: the highest consumer
    /// priority, then the first registered, as ActiveMQ; the others are its standbys.
    fn active_exclusive(&self) -> Option<usize> {
        self.consumers
            .iter()
            .enumerate()
            .filter(|(_, c)| c.opts.exclusive)
            // Ties go to the first registered, except at the top priority (127), where
            // ActiveMQ lets a newcomer take over.
            .max_by_key(|(i, c)| {
                let order = if c.opts.priority >= 127 {
                    *i as isize
                } else {
                    -(*i as isize)
                };
                (c.opts.priority, order)
            })
            .map(|(i, _)| i)
    }

    /// True when consumer `i` may receive now: it has credit and is not a standby of the
    /// active exclusive consumer `ex`. (A predicate, not a list: dispatch asks it per message
    /// and per consumer, and must not allocate or search a list each time.)
    fn receives(&self, i: usize, ex: Option<usize>) -> bool {
        ex.is_none_or(|e| e == i) && self.consumers[i].has_credit()
    }

    /// Offers pending messages to consumers with free prefetch, in order: highest priority
    /// first, then oldest. Each message goes to a consumer that may take it (owner of its
    /// group, or one whose selector selects it), the highest consumer priority first and
    /// round-robin among equals.
    pub(crate) fn dispatch(&mut self, now_ms: u64) -> Dispatched {
        let mut out = Dispatched::default();
        loop {
            let ex = self.active_exclusive();
            let Some(key) = (0..self.consumers.len())
                .filter(|&i| self.receives(i, ex))
                .filter_map(|i| self.candidate(&self.consumers[i]))
                .min()
            else {
                break;
            };
            if self.pending[&key].msg.is_expired(now_ms) {
                out.expired.extend(self.remove_key(&key));
                continue;
            }
            let idx = self.choose(ex, &key);
            let entry = self.remove_key(&key).expect("candidate is pending");
            let n = self.consumers.len();
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
                    let id = slot.id;
                    let group = entry.msg.group_id().map(str::to_owned);
                    let closes = entry.msg.group_seq() == Some(-1);
                    slot.inflight.insert(
                        tag,
                        InFlight {
                            entry,
                            tx_acked: false,
                        },
                    );
                    self.rr = (idx + 1) % n;
                    if let Some(g) = group {
                        if closes {
                            self.release_groups(id, Some(&g));
                        } else if !self.groups.contains_key(g.as_str()) {
                            self.assign_group(&g, id);
                        }
                    }
                }
                Err(TrySendError::Full(_)) => {
                    slot.stalled = true;
                    out.stalled = true;
                    self.push(entry);
                }
                Err(TrySendError::Closed(_)) => {
                    // The connection is gone; take back what it held (the caller redelivers
                    // it), then retry this one.
                    let id = slot.id;
                    self.push(entry);
                    out.returned
                        .extend(self.remove_consumer(id).unwrap_or_default());
                }
            }
        }
        out
    }

    /// Which consumer that may receive (see [`Lane::receives`]) gets the pending message
    /// `key`: its group's owner, else among those that select it the highest consumer
    /// priority, round-robin from `rr`.
    fn choose(&self, ex: Option<usize>, key: &PendingKey) -> usize {
        let n = self.consumers.len();
        if !self.unowned.contains(key) {
            if let Some(i) =
                (0..n).find(|&i| self.receives(i, ex) && self.consumers[i].owned.contains(key))
            {
                return i;
            }
        }
        let may = |i: usize| {
            let c = &self.consumers[i];
            self.receives(i, ex) && (c.opts.selector.is_none() || c.matches.contains(key))
        };
        let top = (0..n)
            .filter(|&i| may(i))
            .map(|i| self.consumers[i].opts.priority)
            .max()
            .expect("the candidate came from a receiver that may take it");
        (0..n)
            .map(|off| (self.rr + off) % n)
            .find(|&i| may(i) && self.consumers[i].opts.priority == top)
            .expect("a receiver of the top priority may take it")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Destination;
    use bytes::Bytes;

    fn grouped(seq: u64, group: &str) -> Entry {
        Entry {
            seq,
            lane: 4,
            msg: Arc::new(Message {
                properties: vec![(
                    Bytes::from_static(b"JMSXGroupID"),
                    Bytes::from(group.to_owned()),
                )],
                ..Message::new(
                    Arc::from(format!("ID:{seq}")),
                    Destination::queue("q"),
                    ConnectionId(0),
                )
            }),
            redeliveries: 0,
        }
    }

    #[test]
    fn idle_group_pins_are_bounded() {
        let (tx, mut rx) = mpsc::channel(1024);
        let mut lane = Lane::default();
        let id = ConsumerId(1);
        lane.add_consumer(Slot::new(
            id,
            ConnectionId(1),
            tx,
            1000,
            SlotOptions::default(),
        ));
        let n = MAX_GROUPS as u64 + 10_000;
        for seq in 1..=n {
            lane.push(grouped(seq, &format!("g{seq}")));
            lane.dispatch(0);
            while let Ok(d) = rx.try_recv() {
                lane.ack(id, d.tag, false);
            }
        }
        assert!(
            lane.groups.len() <= MAX_GROUPS,
            "{} groups pinned",
            lane.groups.len()
        );
    }
}
