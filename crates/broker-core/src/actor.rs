//! One task per destination owns its state; everyone else talks to it through its mailbox.
//!
//! The actor blocks for one command (or its next timer), drains up to [`DRAIN_BATCH`] more,
//! then dispatches once, so a burst of sends is dispatched (and later, stored) as a group.
//!
//! Time-based work has no task or timer per message: messages that must wait (scheduled
//! delivery, priority-lane delay, redelivery back-off) sit in one ordered index keyed by
//! their due time, and the actor sleeps until the first of them, its expiry sweep, or a
//! stalled consumer's retry, whichever comes first.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Arc, Weak};
use std::time::Duration;

use broker_store::{Batch, Op, Store};
use bytes::Bytes;
use tokio::sync::{mpsc, oneshot};

use crate::broker::{Inner, Lookup};
use crate::lane::{Entry, Lane, PendingKey, Slot, SlotOptions};
use crate::memory::MemoryUsage;
use crate::persist::{Durable, StoreWriter};
use crate::record::{self, Placement};
use crate::schedule;
use crate::{
    Broker, Clock, ConnectionId, ConsumerId, CoreError, Delivery, DeliveryTag, Destination,
    DestinationPolicy, Message,
};

/// The cursor value meaning "nothing read yet": before every store key.
const BEFORE_ALL: PendingKey = (Reverse(u8::MAX), 0);

/// Commands drained per dispatch round.
const DRAIN_BATCH: usize = 256;
/// How soon a consumer whose delivery channel was full is retried.
const STALL_RETRY: Duration = Duration::from_millis(10);
/// How often a paging queue that ran low while memory was full looks for room again (memory
/// is freed by other destinations, which do not wake this one).
const PAGE_RETRY: Duration = Duration::from_millis(50);

/// The property a dead-lettered message keeps its expiry in (ActiveMQ's name).
const ORIGINAL_EXPIRATION: &str = "originalExpiration";

pub(crate) type Reply = oneshot::Sender<Result<(), CoreError>>;

/// A consumer registration as sent to a destination.
#[derive(Debug)]
pub(crate) struct Register {
    pub(crate) id: ConsumerId,
    pub(crate) conn: ConnectionId,
    pub(crate) tx: mpsc::Sender<Delivery>,
    pub(crate) prefetch: u32,
    pub(crate) no_local: bool,
    pub(crate) max_pending: usize,
    pub(crate) opts: SlotOptions,
}

/// What a destination actor is asked to do.
#[derive(Debug)]
pub(crate) enum Command {
    /// A message with its broker-wide arrival number. Persistent queue messages were already
    /// handed to the storage thread by the sender.
    Send {
        msg: Arc<Message>,
        seq: u64,
        at: Placement,
        /// Carried over when a message moves between destinations (dead-lettering).
        redeliveries: u32,
        reply: Option<Reply>,
    },
    Subscribe {
        reg: Register,
        reply: Reply,
    },
    Unsubscribe {
        id: ConsumerId,
        reply: Option<Reply>,
    },
    /// Consume: the reply fires once the removal is durable.
    Ack {
        id: ConsumerId,
        tag: DeliveryTag,
        cumulative: bool,
        reply: Option<Durable>,
    },
    /// Consume for a committing transaction: the store removals are returned, for the
    /// transaction's single write, instead of being written here.
    Consume {
        id: ConsumerId,
        tag: DeliveryTag,
        cumulative: bool,
        reply: oneshot::Sender<Vec<Op>>,
    },
    Nack {
        id: ConsumerId,
        tag: DeliveryTag,
        reply: Option<Reply>,
    },
    TxMark {
        id: ConsumerId,
        tag: DeliveryTag,
        cumulative: bool,
        hold: bool,
    },
    ConnectionClosed {
        conn: ConnectionId,
    },
    /// Start forwarding copies of this topic's messages.
    AddForward {
        fwd: Forward,
        reply: Option<Reply>,
    },
    /// Stop forwarding to `target`.
    RemoveForward {
        target: Destination,
        reply: Option<Reply>,
    },
    /// Move dead-lettered messages (one, by message id, or all) back to where they were
    /// first sent.
    Redrive {
        message_id: Option<Arc<str>>,
        reply: oneshot::Sender<Result<usize, CoreError>>,
    },
    /// Report counts.
    Stats {
        reply: oneshot::Sender<DestinationStats>,
    },
    /// A queue's pending messages in dispatch order, not taken (queue browsing).
    Browse {
        selector: Option<Arc<jms_model::Selector>>,
        reply: oneshot::Sender<Vec<(Arc<Message>, u32)>>,
    },
    /// Stop: the destination is deleted (temporary destination whose owner left).
    Delete,
}

/// What a destination holds, for operators and tests.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DestinationStats {
    /// Messages ready for dispatch in memory (for a topic: summed over subscribers).
    pub pending: usize,
    /// Messages waiting for their delivery time (scheduled, lane delay or back-off).
    pub delayed: usize,
    /// Persistent messages kept in the store only (paged out).
    pub paged_out: usize,
    /// Consumers (topic: subscribers).
    pub consumers: usize,
}

/// A copy of every message published to a topic goes to `target`: a durable subscription's
/// queue, a virtual topic's consumer queue, or a wildcard subscription's topic.
#[derive(Debug, Clone)]
pub(crate) struct Forward {
    pub(crate) target: Destination,
    pub(crate) tx: mpsc::Sender<Command>,
    pub(crate) policy: Arc<DestinationPolicy>,
    /// Only what it selects is forwarded (a durable subscriber's selector).
    pub(crate) selector: Option<Arc<jms_model::Selector>>,
    /// The copy is addressed to the target (virtual topics) rather than keeping the topic.
    pub(crate) readdress: bool,
    /// A durable subscriber's `noLocal`: messages sent by the connection whose id this holds
    /// are not kept for it (0: none). Shared, so a re-subscription updates every forward.
    pub(crate) no_local: Option<Arc<std::sync::atomic::AtomicU64>>,
}

/// Where a delayed message goes when it is due.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Target {
    /// The queue's lane.
    Queue,
    /// One topic subscriber (a redelivery).
    Sub(ConsumerId),
    /// Every topic subscriber (a scheduled topic message).
    Fanout,
}

#[derive(Debug)]
struct Delayed {
    entry: Entry,
    target: Target,
    at: Placement,
}

struct TopicSub {
    lane: Lane,
    /// Skip messages sent by the subscriber's own connection.
    no_local: bool,
    conn: ConnectionId,
    /// Pending messages beyond which the oldest are discarded: a slow subscriber must not
    /// hold an unbounded backlog of a non-durable topic.
    max_pending: usize,
    discarded: u64,
}

enum Mode {
    Queue(Lane),
    /// One lane per subscriber.
    Topic(HashMap<ConsumerId, TopicSub>),
}

pub(crate) struct DestinationActor {
    dest: Destination,
    store_key: String,
    mode: Mode,
    store: Arc<dyn Store>,
    writer: StoreWriter,
    /// For dead-lettering and redrive (other destinations, new sequence numbers). Weak, so
    /// actors do not keep the broker alive.
    broker: Weak<Inner>,
    policy: Arc<DestinationPolicy>,
    clock: Clock,
    /// Messages waiting for their due time, by (due ms, seq).
    delayed: BTreeMap<(u64, u64), Delayed>,
    /// Topics: where copies of each message go besides the current subscribers.
    forwards: Vec<Forward>,
    /// Next expiry sweep (ms); 0 = none.
    next_sweep: u64,
    /// Store keys of the persistent messages this actor holds in memory (pending, with a
    /// consumer, or delayed), so a page read never loads one twice.
    resident: BTreeSet<PendingKey>,
    /// State of the collision-avoidance random spread.
    rng: u64,
    /// Persistent messages are written to the store only for durable queues.
    persist: bool,
    memory: Arc<MemoryUsage>,
    /// What this destination's in-memory messages cost (counted in `memory` too).
    held: u64,
    /// Durable queues past the memory limit keep new persistent messages in the store only.
    /// Invariant: every stored message at or before `cursor` is in memory (pending or held
    /// by a consumer) or consumed; those after it are in the store only.
    paging: bool,
    cursor: PendingKey,
    page_size: usize,
    /// Messages numbered up to this were stored before this broker started.
    recovered_max: u64,
    /// Persistent messages this actor left in the store only (paging), still to be read.
    store_only: BTreeSet<u64>,
}

impl DestinationActor {
    pub(crate) fn new(
        dest: Destination,
        broker: &Broker,
        policy: Arc<DestinationPolicy>,
        recovered_max: u64,
    ) -> Self {
        let inner = &broker.inner;
        let persist = Self::persists(&dest);
        let mode = if dest.kind().is_queue() {
            Mode::Queue(Lane::default())
        } else {
            Mode::Topic(HashMap::new())
        };
        let clock = inner.cfg.clock.clone();
        let next_sweep = match policy.expire_messages_period {
            0 => 0,
            p => clock.now_ms().saturating_add(p),
        };
        Self {
            store_key: dest.to_string(),
            // Seeded per destination: spreads differ between queues and runs.
            rng: 0x9E37_79B9_7F4A_7C15 ^ clock.now_ms() ^ (dest.name().len() as u64) << 32,
            dest,
            mode,
            store: Arc::clone(&inner.store),
            writer: inner.writer.clone(),
            broker: Arc::downgrade(inner),
            policy,
            clock,
            delayed: BTreeMap::new(),
            forwards: Vec::new(),
            next_sweep,
            resident: BTreeSet::new(),
            persist,
            memory: Arc::clone(&inner.memory),
            held: 0,
            // A new actor has loaded nothing yet: everything stored is after the cursor.
            paging: persist,
            cursor: BEFORE_ALL,
            page_size: inner.cfg.page_size.max(1),
            recovered_max,
            store_only: BTreeSet::new(),
        }
    }

    fn hold(&mut self, msg: &Message) {
        let c = MemoryUsage::cost(msg);
        self.held += c;
        self.memory.add(c);
    }

    fn release(&mut self, entries: &[Entry]) {
        let c: u64 = entries.iter().map(|e| MemoryUsage::cost(&e.msg)).sum();
        let c = c.min(self.held);
        self.held -= c;
        self.memory.sub(c);
    }

    /// True when `entry` is a stored message of this destination.
    fn is_stored(&self, entry: &Entry) -> bool {
        self.persist && entry.msg.persistent
    }

    /// Dispatches, then pages in and dispatches again for as long as consumers take what
    /// was read (a consumer with a large prefetch drains several pages without any new
    /// command arriving). True when a consumer stalled on a full channel.
    async fn dispatch_and_page(&mut self) -> bool {
        loop {
            let stalled = self.dispatch().await;
            if stalled || !self.page_in().await {
                return stalled;
            }
        }
    }

    /// Loads the next page of store-only messages once the in-memory backlog runs low and
    /// memory allows. Runs on startup too: a restarted queue reads one page, not its whole
    /// backlog, so recovery time does not grow with the backlog. Returns whether it read
    /// anything.
    async fn page_in(&mut self) -> bool {
        let Mode::Queue(lane) = &self.mode else {
            return false;
        };
        // Enough is in memory, unless a consumer with room can take none of it (a selector):
        // then read on, as far as memory allows, so deep matches are not starved (ActiveMQ
        // only ever looks at maxPageSize messages).
        let enough = lane.pending_len() >= self.page_size / 2 && !lane.starved();
        if !self.paging || enough || self.memory.is_full() {
            return false;
        }
        // Every store write queued before now (the puts of messages this actor left in the
        // store) must be applied before reading, or the read could miss one.
        if self.writer.barrier().await.is_err() {
            return false;
        }
        let store = Arc::clone(&self.store);
        let key = self.store_key.clone();
        let after = (self.cursor != BEFORE_ALL).then_some((self.cursor.0 .0, self.cursor.1));
        let limit = self.page_size;
        let loaded =
            tokio::task::spawn_blocking(move || store.load_queue(&key, after, limit)).await;
        let records = match loaded {
            Ok(Ok(r)) => r,
            Ok(Err(e)) => {
                tracing::error!(dest = %self.dest, error = %e, "cannot read stored messages");
                return false;
            }
            Err(e) => {
                tracing::error!(dest = %self.dest, error = %e, "store read task failed");
                return false;
            }
        };
        if records.len() < limit {
            self.paging = false;
        }
        let loaded = !records.is_empty();
        let now = self.clock.now_ms();
        for rec in records {
            let key = (Reverse(rec.priority), rec.seq);
            self.cursor = key;
            // A stored message is read only if this actor left it in the store, or it is
            // from before the restart and not in memory already. Any other was stored by a
            // sender whose Send command is still on its way: reading it here would hold it
            // twice. Its Send arrives behind the cursor now, so `accept` keeps it in memory.
            let wanted = self.store_only.remove(&rec.seq)
                || (rec.seq <= self.recovered_max && !self.resident.contains(&key));
            if !wanted {
                continue;
            }
            match record::from_record(&rec, &self.dest) {
                Ok((msg, at)) => {
                    self.hold(&msg);
                    self.resident.insert(key);
                    let entry = Entry {
                        seq: rec.seq,
                        lane: rec.priority,
                        msg: Arc::new(msg),
                        redeliveries: rec.redeliveries,
                    };
                    self.place(entry, at, Target::Queue, now);
                }
                Err(e) => {
                    tracing::error!(dest = %self.dest, seq = rec.seq, error = %e, "skipping unreadable stored message")
                }
            }
        }
        loaded
    }

    /// Puts an accepted or read message where it belongs: the delayed index when it is not
    /// due yet (or is a repeating schedule), its lane(s) otherwise.
    fn place(&mut self, entry: Entry, at: Placement, target: Target, now: u64) {
        if at.deliver_at > now || schedule::is_job(entry.msg.schedule(), &at) {
            self.delayed
                .insert((at.deliver_at, entry.seq), Delayed { entry, target, at });
        } else {
            self.push(entry, target);
        }
    }

    /// Hands a due message to its lane(s). A stored queue message whose key is past the
    /// paging cursor (one held by a consumer when an eviction moved the cursor back, coming
    /// back from a NACK or a back-off) is not pushed: messages before it may still be in the
    /// store, so it is dropped from memory and read again in order.
    fn push(&mut self, entry: Entry, target: Target) {
        if let Mode::Queue(_) = self.mode {
            if self.paging && self.is_stored(&entry) && entry.key() > self.cursor {
                self.resident.remove(&entry.key());
                self.store_only.insert(entry.seq);
                self.release(std::slice::from_ref(&entry));
                return;
            }
        }
        match (&mut self.mode, target) {
            (Mode::Queue(lane), _) => lane.push(entry),
            (Mode::Topic(subs), Target::Sub(id)) => {
                // A subscriber that left meanwhile loses it (non-durable topic).
                if let Some(sub) = subs.get_mut(&id) {
                    sub.lane.push(entry);
                }
            }
            (Mode::Topic(subs), _) => {
                for sub in subs.values_mut() {
                    if sub.no_local && sub.conn == entry.msg.producer {
                        continue;
                    }
                    sub.lane.push(entry.clone());
                    if sub.lane.pending_len() > sub.max_pending {
                        sub.lane.discard_oldest();
                        sub.discarded += 1;
                        if sub.discarded.is_power_of_two() {
                            tracing::debug!(dest = %self.dest, discarded = sub.discarded, "slow topic subscriber: discarding oldest pending messages");
                        }
                    }
                }
            }
        }
    }

    pub(crate) async fn run(mut self, mut rx: mpsc::Receiver<Command>) {
        self.page_in().await;
        self.dispatch_and_page().await;
        let mut stalled = false;
        loop {
            let cmd = match self.next_wake(stalled) {
                Some(wake) => tokio::select! {
                    c = rx.recv() => c,
                    () = tokio::time::sleep_until(wake) => {
                        if stalled {
                            self.unstall();
                        }
                        self.on_timer().await;
                        stalled = self.dispatch_and_page().await;
                        continue;
                    }
                },
                None => rx.recv().await,
            };
            let Some(cmd) = cmd else { break };
            if !self.handle(cmd).await {
                break;
            }
            let mut stop = false;
            for _ in 0..DRAIN_BATCH {
                match rx.try_recv() {
                    Ok(cmd) => {
                        if !self.handle(cmd).await {
                            stop = true;
                            break;
                        }
                    }
                    Err(_) => break,
                }
            }
            if stop {
                break;
            }
            if stalled {
                self.unstall();
            }
            stalled = self.dispatch_and_page().await;
            if !self.paging {
                // Caught up: later pages are only needed once paging starts again.
                self.cursor = BEFORE_ALL;
            }
        }
        self.memory.sub(self.held);
        tracing::debug!(dest = %self.dest, "destination actor stopped");
    }

    /// When the actor must wake without a command: a stalled consumer's retry, the first
    /// delayed message, or the expiry sweep.
    fn next_wake(&self, stalled: bool) -> Option<tokio::time::Instant> {
        let mut wake = None;
        if stalled {
            wake = Some(tokio::time::Instant::now() + STALL_RETRY);
        } else if let Mode::Queue(lane) = &self.mode {
            if self.paging && lane.pending_len() < self.page_size / 2 && self.memory.is_full() {
                wake = Some(tokio::time::Instant::now() + PAGE_RETRY);
            }
        }
        let mut due = self.delayed.keys().next().map(|(t, _)| *t);
        if self.next_sweep != 0 {
            due = Some(due.map_or(self.next_sweep, |d| d.min(self.next_sweep)));
        }
        if let Some(t) = due {
            let at = self.clock.instant_at(t);
            wake = Some(wake.map_or(at, |w: tokio::time::Instant| w.min(at)));
        }
        wake
    }

    /// Releases due delayed messages and runs the expiry sweep when it is time.
    async fn on_timer(&mut self) {
        let now = self.clock.now_ms();
        self.fire_due(now).await;
        if self.next_sweep != 0 && self.next_sweep <= now {
            self.next_sweep = now.saturating_add(self.policy.expire_messages_period);
            self.sweep_expired(now).await;
        }
    }

    /// Moves every delayed message whose time has come to its lane. A repeating scheduled
    /// message delivers a copy and stays scheduled for its next firing.
    async fn fire_due(&mut self, now: u64) {
        let mut batch = Batch::new();
        let mut expired = Vec::new();
        while let Some(first) = self.delayed.first_entry() {
            if first.key().0 > now {
                break;
            }
            let Delayed { entry, target, at } = first.remove();
            if entry.msg.is_expired(now) {
                expired.push(entry);
                continue;
            }
            if !schedule::is_job(entry.msg.schedule(), &at) {
                self.push(entry, target);
                continue;
            }
            self.fire_job(entry, target, at, now, &mut batch);
        }
        self.writer.write(batch, Vec::new()).await;
        if !expired.is_empty() {
            self.expire(expired).await;
        }
    }

    /// One firing of a repeating schedule: a copy (a message of its own, new id and number)
    /// is delivered, or for a CRON job with a repeat, scheduled as the series this firing
    /// starts; the schedule moves to its next firing under a new number, in the same store
    /// write, so a crash never loses or doubles a firing.
    fn fire_job(&mut self, job: Entry, target: Target, at: Placement, now: u64, batch: &mut Batch) {
        let Some(inner) = self.broker.upgrade() else {
            return;
        };
        let broker = Broker { inner };
        let stored = self.is_stored(&job);
        let copy_seq = broker.next_seq();
        let mut copy = (*job.msg).clone();
        copy.id = Arc::from(format!("{}:{copy_seq}", job.msg.id));
        copy.extras_mut().schedule = schedule::series_of(job.msg.schedule());
        let at_once = Placement {
            lane: job.lane,
            deliver_at: 0,
            repeats_left: 0,
        };
        let copy_at = match copy.schedule() {
            // A series has no CRON entry, so its placement cannot fail.
            Some(_) => schedule::first_placement(&copy, &self.policy, now).unwrap_or(at_once),
            None => at_once,
        };
        let copy_entry = Entry {
            seq: copy_seq,
            lane: job.lane,
            msg: Arc::new(copy),
            redeliveries: 0,
        };
        if stored {
            batch.push(Op::PutMessage(record::to_record(
                &self.store_key,
                copy_seq,
                &copy_entry.msg,
                copy_at,
            )));
            self.resident.insert(copy_entry.key());
        }
        if let Mode::Queue(_) = self.mode {
            self.hold(&copy_entry.msg);
        }
        self.place(copy_entry, copy_at, target, now);
        let next = schedule::next_firing(job.msg.schedule(), &at, at.deliver_at, now);
        if stored {
            self.resident.remove(&job.key());
            batch.push(Op::DeleteMessage {
                queue: self.store_key.clone(),
                priority: job.lane,
                seq: job.seq,
            });
        }
        let Some(next) = next else {
            // The schedule names no later time: it is done.
            self.release(std::slice::from_ref(&job));
            return;
        };
        let seq = broker.next_seq();
        let job = Entry { seq, ..job };
        if stored {
            batch.push(Op::PutMessage(record::to_record(
                &self.store_key,
                seq,
                &job.msg,
                next,
            )));
            self.resident.insert(job.key());
        }
        self.delayed.insert(
            (next.deliver_at, seq),
            Delayed {
                entry: job,
                target,
                at: next,
            },
        );
    }

    /// Takes expired messages out of every lane and the delayed index.
    async fn sweep_expired(&mut self, now: u64) {
        let mut expired = Vec::new();
        match &mut self.mode {
            Mode::Queue(lane) => expired.extend(lane.take_pending(|e| e.msg.is_expired(now))),
            Mode::Topic(subs) => {
                for sub in subs.values_mut() {
                    expired.extend(sub.lane.take_pending(|e| e.msg.is_expired(now)));
                }
            }
        }
        let keys: Vec<_> = self
            .delayed
            .iter()
            .filter(|(_, d)| d.entry.msg.is_expired(now))
            .map(|(k, _)| *k)
            .collect();
        for k in keys {
            if let Some(d) = self.delayed.remove(&k) {
                expired.push(d.entry);
            }
        }
        if !expired.is_empty() {
            self.expire(expired).await;
        }
    }

    /// Expired messages are never delivered: dead-lettered per `processExpired`, else
    /// dropped. A dead letter that expires (a dead-letter strategy's `expiration`) is
    /// dropped: there is nowhere further to send it, as in ActiveMQ.
    async fn expire(&mut self, entries: Vec<Entry>) {
        let (dead_letters, entries): (Vec<_>, Vec<_>) = entries
            .into_iter()
            .partition(|e| e.msg.extras().original_destination.is_some());
        if !dead_letters.is_empty() {
            self.drop_entries(dead_letters).await;
        }
        if entries.is_empty() {
            return;
        }
        if self.policy.dead_letter.process_expired {
            // ActiveMQ's text, verbatim (it is a Java Throwable's), so DLQ tooling that
            // matches it keeps working.
            let dead = entries
                .into_iter()
                .map(|e| {
                    let cause = format!(
                        "java.lang.Throwable: Message Expired. Expiration:{}",
                        e.msg.expires
                    );
                    (e, Arc::from(cause))
                })
                .collect();
            self.dead_letter(dead, true).await;
        } else {
            self.drop_entries(entries).await;
        }
    }

    /// Removes messages for good (memory and store).
    async fn drop_entries(&mut self, entries: Vec<Entry>) {
        self.release(&entries);
        let batch = self.removals(&entries);
        self.writer.write(batch, Vec::new()).await;
    }

    fn unstall(&mut self) {
        match &mut self.mode {
            Mode::Queue(lane) => lane.unstall(),
            Mode::Topic(subs) => subs.values_mut().for_each(|s| s.lane.unstall()),
        }
    }

    /// Runs a dispatch pass; true when some consumer stalled on a full channel.
    async fn dispatch(&mut self) -> bool {
        let now = self.clock.now_ms();
        let mut stalled = false;
        let mut expired = Vec::new();
        let mut returned = Vec::new();
        match &mut self.mode {
            Mode::Queue(lane) => {
                let d = lane.dispatch(now);
                stalled = d.stalled;
                expired = d.expired;
                returned = d.returned.into_iter().map(|e| (e, Target::Queue)).collect();
            }
            Mode::Topic(subs) => {
                for (id, sub) in subs.iter_mut() {
                    let d = sub.lane.dispatch(now);
                    stalled |= d.stalled;
                    expired.extend(d.expired);
                    returned.extend(d.returned.into_iter().map(|e| (e, Target::Sub(*id))));
                }
            }
        }
        if !expired.is_empty() {
            self.expire(expired).await;
        }
        if !returned.is_empty() {
            self.redeliver(returned).await;
        }
        stalled
    }

    /// Store removals for consumed, dropped or moved messages (only persistent ones of
    /// durable queues are stored).
    fn removals(&mut self, entries: &[Entry]) -> Batch {
        let mut batch = Batch::new();
        for e in entries {
            if self.is_stored(e) {
                self.resident.remove(&e.key());
                batch.push(Op::DeleteMessage {
                    queue: self.store_key.clone(),
                    priority: e.lane,
                    seq: e.seq,
                });
            }
        }
        batch
    }

    /// Messages given back (NACK, a consumer that left with them unacknowledged): counted,
    /// then dead-lettered past `maximumRedeliveries`, else redelivered after the policy's
    /// back-off. A message waiting out its back-off sits in the delayed index, so it never
    /// holds up the messages behind it.
    async fn redeliver(&mut self, entries: Vec<(Entry, Target)>) {
        let now = self.clock.now_ms();
        let mut counts = Batch::new();
        let mut dead = Vec::new();
        for (mut entry, target) in entries {
            entry.redeliveries = entry.redeliveries.saturating_add(1);
            let n = entry.redeliveries;
            let policy = Arc::clone(&self.policy);
            let policy = &policy.redelivery;
            // A message dead-lettered once is not dead-lettered again (no DLQ of a DLQ):
            // it stays where it is and is redelivered.
            if policy.exceeded(n) && entry.msg.extras().original_destination.is_none() {
                let cause = format!(
                    "Delivery[{n}] exceeds redelivery policy limit: maximumRedeliveries = {}",
                    policy.maximum_redeliveries
                );
                dead.push((entry, Arc::from(cause)));
                continue;
            }
            let delay = policy.delay_for(n, self.spread());
            if self.is_stored(&entry) {
                counts.push(Op::SetRedeliveries {
                    queue: self.store_key.clone(),
                    priority: entry.lane,
                    seq: entry.seq,
                    redeliveries: n,
                });
            }
            if delay == 0 {
                self.push(entry, target);
            } else {
                let at = Placement {
                    lane: entry.lane,
                    deliver_at: now.saturating_add(delay),
                    repeats_left: 0,
                };
                self.delayed
                    .insert((at.deliver_at, entry.seq), Delayed { entry, target, at });
            }
        }
        self.writer.write(counts, Vec::new()).await;
        if !dead.is_empty() {
            self.dead_letter(dead, false).await;
        }
    }

    /// A value in [-1, 1) for collision avoidance (xorshift; quality is not a concern).
    fn spread(&mut self) -> f64 {
        let mut x = self.rng;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.rng = x;
        (x >> 11) as f64 / (1u64 << 52) as f64 - 1.0
    }

    /// Moves messages to this destination's dead-letter destination (per its strategy), or
    /// drops them when the strategy discards them or they are non-persistent and
    /// `processNonPersistent` is off. The removal here and the put there are one store write.
    /// A durable subscription's messages are dead-lettered as their topic's (ActiveMQ names
    /// the DLQ after the message's destination, and records that as its origin).
    /// `expired` says the messages expired: one that expires in the DLQ its own strategy
    /// names is then dropped (ActiveMQ: "Not re-adding to DLQ"), where a failed delivery is
    /// redelivered there.
    async fn dead_letter(&mut self, entries: Vec<(Entry, Arc<str>)>, expired: bool) {
        let subscription = crate::routing::durable_key(&self.dest);
        let mut moved: Vec<(Destination, Vec<(Entry, Message)>)> = Vec::new();
        let mut dropped = Vec::new();
        let expiration = self.policy.dead_letter.expiration;
        let expires = match expiration {
            0 => 0,
            ms => self.clock.now_ms().saturating_add(ms),
        };
        for (entry, cause) in entries {
            let origin = if subscription.is_some() {
                &entry.msg.destination
            } else {
                &self.dest
            };
            let dlq = self
                .policy
                .dead_letter
                .strategy
                .dead_letter_destination(origin, subscription.as_deref());
            let keep = entry.msg.persistent || self.policy.dead_letter.process_non_persistent;
            match dlq {
                // Its own DLQ (a message sent straight to the DLQ): redelivered, not lost.
                Some(d) if d == self.dest && !expired => self.push(entry, Target::Queue),
                Some(d) if d == self.dest => dropped.push(entry),
                Some(d) if keep => {
                    let mut msg = (*entry.msg).clone();
                    let extras = msg.extras_mut();
                    extras.original_destination = Some(origin.clone());
                    extras.failure_cause = Some(cause);
                    extras.schedule = None;
                    msg.destination = d.clone();
                    // As in ActiveMQ: a dead letter is kept on disk (even a non-persistent
                    // one, under `processNonPersistent`), expires per the strategy's
                    // `expiration` (default never), and the expiry it had is kept in the
                    // `originalExpiration` property.
                    msg.persistent = true;
                    msg.properties
                        .retain(|(k, _)| k.as_ref() != ORIGINAL_EXPIRATION.as_bytes());
                    msg.properties.push((
                        Bytes::from_static(ORIGINAL_EXPIRATION.as_bytes()),
                        Bytes::from(msg.expires.to_string()),
                    ));
                    msg.expires = expires;
                    match moved.iter_mut().find(|(to, _)| *to == d) {
                        Some((_, list)) => list.push((entry, msg)),
                        None => moved.push((d, vec![(entry, msg)])),
                    }
                }
                _ => dropped.push(entry),
            }
        }
        if !dropped.is_empty() {
            tracing::debug!(dest = %self.dest, count = dropped.len(), "dropping undeliverable messages");
            self.drop_entries(dropped).await;
        }
        for (d, list) in moved {
            tracing::info!(dest = %self.dest, dlq = %d, count = list.len(), "dead-lettering messages");
            self.move_to(&d, list, true).await;
        }
    }

    /// Moves messages to `to`: this destination's removal and `to`'s put in one store write,
    /// then the messages are handed to `to`'s actor. A `to` that stores nothing itself (a
    /// topic, on redrive) stores its durable subscribers' copies in a write of its own, so
    /// the removal here waits for that: a crash in between delivers a message twice rather
    /// than losing it (and if `to` cannot store them, they stay here). `keep_count` carries
    /// the redelivery count over (dead-lettering) instead of starting again (redrive).
    /// Returns how many moved.
    async fn move_to(
        &mut self,
        to: &Destination,
        moves: Vec<(Entry, Message)>,
        keep_count: bool,
    ) -> usize {
        let Some(inner) = self.broker.upgrade() else {
            return 0;
        };
        let broker = Broker { inner };
        let how = if to.kind().is_temporary() {
            Lookup::Existing
        } else {
            Lookup::Create(None)
        };
        let found = match broker.lookup(to, how) {
            Ok(f) => f,
            Err(e) => {
                // The target is gone (a temporary destination): keep the messages here.
                tracing::warn!(dest = %self.dest, to = %to, error = %e, "cannot move messages; keeping them");
                for (entry, _) in moves {
                    self.push(entry, Target::Queue);
                }
                return 0;
            }
        };
        let mut batch = if found.created {
            Broker::destination_record(to).unwrap_or_default()
        } else {
            Batch::new()
        };
        let stores_here = Self::persists(to);
        let mut sends = Vec::with_capacity(moves.len());
        let mut stored_there = Vec::new();
        let mut entries = Vec::with_capacity(moves.len());
        for (entry, msg) in moves {
            let seq = broker.next_seq();
            // Lane delays apply to new sends only: a moved message is due at once.
            let at = Placement {
                lane: record::store_lane(&msg, found.policy.prioritized_messages),
                deliver_at: 0,
                repeats_left: 0,
            };
            let redeliveries = if keep_count { entry.redeliveries } else { 0 };
            let mut reply = None;
            if msg.persistent && stores_here {
                let mut rec = record::to_record(&to.to_string(), seq, &msg, at);
                rec.redeliveries = redeliveries;
                batch.push(Op::PutMessage(rec));
            } else if msg.persistent {
                let (tx, rx) = oneshot::channel();
                reply = Some(tx);
                stored_there.push(rx);
            }
            sends.push(Command::Send {
                msg: Arc::new(msg),
                seq,
                at,
                redeliveries,
                reply,
            });
            entries.push(entry);
        }
        if stored_there.is_empty() {
            self.release(&entries);
            batch.ops.extend(self.removals(&entries).ops);
            self.writer.write(batch, Vec::new()).await;
            for cmd in sends {
                send_without_waiting(&found.tx, cmd);
            }
            return entries.len();
        }
        for cmd in sends {
            send_without_waiting(&found.tx, cmd);
        }
        // `to` never waits for this actor, so waiting for it here cannot deadlock.
        let mut all_stored = true;
        for rx in stored_there {
            all_stored &= matches!(rx.await, Ok(Ok(())));
        }
        if !all_stored {
            // `to` stopped or could not store them: they stay here (a later redrive may
            // deliver some twice, never none).
            tracing::warn!(dest = %self.dest, to = %to, "messages not stored there; keeping them");
            for entry in entries {
                self.push(entry, Target::Queue);
            }
            return 0;
        }
        self.release(&entries);
        batch.ops.extend(self.removals(&entries).ops);
        self.writer.write(batch, Vec::new()).await;
        entries.len()
    }

    /// Sends a copy of a published message to every forward that selects it. Persistent
    /// copies for durable targets are stored in one write, and the producer's reply waits for
    /// it: a receipted message is never lost for a durable subscriber.
    async fn forward(&mut self, msg: &Arc<Message>, reply: Option<Reply>) {
        // Targets that went away (a wildcard subscriber's connection closed) are dropped.
        self.forwards.retain(|f| !f.tx.is_closed());
        let Some(inner) = self.broker.upgrade() else {
            if let Some(reply) = reply {
                let _ = reply.send(Err(CoreError::ShuttingDown));
            }
            return;
        };
        let broker = Broker { inner };
        let now = self.clock.now_ms();
        let view = crate::select::View {
            msg,
            redeliveries: 0,
        };
        let mut batch = Batch::new();
        let mut sends = Vec::new();
        for f in &self.forwards {
            if f.selector.as_ref().is_some_and(|s| !s.matches(&view)) {
                continue;
            }
            if f.no_local
                .as_ref()
                .is_some_and(|c| c.load(std::sync::atomic::Ordering::Relaxed) == msg.producer.0)
            {
                continue;
            }
            let copy = if f.readdress {
                let mut m = (**msg).clone();
                m.destination = f.target.clone();
                Arc::new(m)
            } else {
                Arc::clone(msg)
            };
            // The schedule was checked when the message was sent; a failure here can only be
            // a cron entry with no future time, which then delivers at once.
            let at =
                schedule::first_placement(&copy, &f.policy, now).unwrap_or_else(|_| Placement {
                    lane: record::store_lane(&copy, f.policy.prioritized_messages),
                    ..Placement::default()
                });
            let seq = broker.next_seq();
            if copy.persistent && Self::persists(&f.target) {
                batch.push(Op::PutMessage(record::to_record(
                    &f.target.to_string(),
                    seq,
                    &copy,
                    at,
                )));
            }
            sends.push((
                f.tx.clone(),
                Command::Send {
                    msg: copy,
                    seq,
                    at,
                    redeliveries: 0,
                    reply: None,
                },
            ));
        }
        self.writer.write(batch, reply.into_iter().collect()).await;
        for (tx, cmd) in sends {
            send_without_waiting(&tx, cmd);
        }
    }

    /// Moves dead-lettered messages back to their original destinations; returns how many.
    async fn redrive(&mut self, message_id: Option<&str>) -> usize {
        let mut total = 0;
        loop {
            let wanted = |e: &Entry| {
                e.msg.extras().original_destination.is_some()
                    && message_id.is_none_or(|id| *e.msg.id == *id)
            };
            let mut picked = match &mut self.mode {
                Mode::Queue(lane) => lane.take_pending(wanted),
                Mode::Topic(_) => Vec::new(),
            };
            // Those waiting out a back-off in the DLQ (given back by a DLQ consumer) too.
            let waiting: Vec<_> = self
                .delayed
                .iter()
                .filter(|(_, d)| wanted(&d.entry))
                .map(|(k, _)| *k)
                .collect();
            for k in waiting {
                if let Some(d) = self.delayed.remove(&k) {
                    picked.push(d.entry);
                }
            }
            // Group by target so each gets one store write.
            let mut by_target: HashMap<Destination, Vec<(Entry, Message)>> = HashMap::new();
            for entry in picked {
                let mut msg = (*entry.msg).clone();
                let extras = msg.extras_mut();
                let Some(to) = extras.original_destination.take() else {
                    continue;
                };
                extras.failure_cause = None;
                msg.properties
                    .retain(|(k, _)| k.as_ref() != ORIGINAL_EXPIRATION.as_bytes());
                msg.destination = to.clone();
                by_target.entry(to).or_default().push((entry, msg));
            }
            for (to, moves) in by_target {
                total += self.move_to(&to, moves, false).await;
            }
            if (message_id.is_some() && total > 0) || !self.page_in().await {
                return total;
            }
        }
    }

    fn stats(&self) -> DestinationStats {
        let (pending, consumers) = match &self.mode {
            Mode::Queue(lane) => (lane.pending_len(), lane.consumer_count()),
            Mode::Topic(subs) => (
                subs.values().map(|s| s.lane.pending_len()).sum(),
                subs.len(),
            ),
        };
        DestinationStats {
            pending,
            delayed: self.delayed.len(),
            paged_out: self.store_only.len(),
            consumers,
        }
    }

    /// Handles one command; false means stop the actor.
    async fn handle(&mut self, cmd: Command) -> bool {
        match cmd {
            Command::Send {
                msg,
                seq,
                at,
                redeliveries,
                reply,
            } => {
                if self.forwards.is_empty() {
                    self.accept(msg, seq, at, redeliveries);
                    if let Some(reply) = reply {
                        let _ = reply.send(Ok(()));
                    }
                } else {
                    self.forward(&msg, reply).await;
                    self.accept(msg, seq, at, redeliveries);
                }
            }
            Command::AddForward { fwd, reply } => {
                self.forwards.retain(|f| f.target != fwd.target);
                self.forwards.push(fwd);
                if let Some(reply) = reply {
                    let _ = reply.send(Ok(()));
                }
            }
            Command::RemoveForward { target, reply } => {
                self.forwards.retain(|f| f.target != target);
                if let Some(reply) = reply {
                    let _ = reply.send(Ok(()));
                }
            }
            Command::Subscribe { reg, reply } => {
                let slot = Slot::new(reg.id, reg.conn, reg.tx, reg.prefetch, reg.opts);
                match &mut self.mode {
                    Mode::Queue(lane) => lane.add_consumer(slot),
                    Mode::Topic(subs) => {
                        let mut lane = Lane::default();
                        lane.add_consumer(slot);
                        subs.insert(
                            reg.id,
                            TopicSub {
                                lane,
                                no_local: reg.no_local,
                                conn: reg.conn,
                                max_pending: reg.max_pending.max(1),
                                discarded: 0,
                            },
                        );
                    }
                }
                let _ = reply.send(Ok(()));
            }
            Command::Unsubscribe { id, reply } => {
                let returned = match &mut self.mode {
                    Mode::Queue(lane) => lane.remove_consumer(id).unwrap_or_default(),
                    Mode::Topic(subs) => {
                        subs.remove(&id);
                        Vec::new()
                    }
                };
                self.redeliver(returned.into_iter().map(|e| (e, Target::Queue)).collect())
                    .await;
                if let Some(reply) = reply {
                    let _ = reply.send(Ok(()));
                }
            }
            Command::Ack {
                id,
                tag,
                cumulative,
                reply,
            } => {
                let batch = self.consume(id, tag, cumulative);
                self.writer.write(batch, reply.into_iter().collect()).await;
            }
            Command::Consume {
                id,
                tag,
                cumulative,
                reply,
            } => {
                let _ = reply.send(self.consume(id, tag, cumulative).ops);
            }
            Command::Nack { id, tag, reply } => {
                let target = match self.mode {
                    Mode::Queue(_) => Target::Queue,
                    Mode::Topic(_) => Target::Sub(id),
                };
                let entry = self.lane_of(id).and_then(|lane| lane.nack(id, tag));
                if let Some(entry) = entry {
                    self.redeliver(vec![(entry, target)]).await;
                }
                if let Some(reply) = reply {
                    let _ = reply.send(Ok(()));
                }
            }
            Command::TxMark {
                id,
                tag,
                cumulative,
                hold,
            } => {
                if let Some(lane) = self.lane_of(id) {
                    lane.tx_mark(id, tag, cumulative, hold);
                }
            }
            Command::ConnectionClosed { conn } => {
                let returned = match &mut self.mode {
                    Mode::Queue(lane) => lane.remove_connection(conn),
                    Mode::Topic(subs) => {
                        subs.retain(|_, s| s.conn != conn);
                        Vec::new()
                    }
                };
                self.redeliver(returned.into_iter().map(|e| (e, Target::Queue)).collect())
                    .await;
            }
            Command::Redrive { message_id, reply } => {
                let n = self.redrive(message_id.as_deref()).await;
                let _ = reply.send(Ok(n));
            }
            Command::Stats { reply } => {
                let _ = reply.send(self.stats());
            }
            Command::Browse { selector, reply } => {
                let seen = match &self.mode {
                    Mode::Queue(lane) => lane.browse(selector.as_deref()),
                    Mode::Topic(_) => Vec::new(),
                };
                let _ = reply.send(seen);
            }
            Command::Delete => return false,
        }
        true
    }

    /// Takes acknowledged deliveries out of memory; returns their store removals.
    fn consume(&mut self, id: ConsumerId, tag: DeliveryTag, cumulative: bool) -> Batch {
        let consumed = match self.lane_of(id) {
            Some(lane) => lane.ack(id, tag, cumulative),
            None => Vec::new(),
        };
        self.release(&consumed);
        self.removals(&consumed)
    }

    fn lane_of(&mut self, id: ConsumerId) -> Option<&mut Lane> {
        match &mut self.mode {
            Mode::Queue(lane) => lane.has_consumer(id).then_some(lane),
            Mode::Topic(subs) => subs.get_mut(&id).map(|s| &mut s.lane),
        }
    }

    /// Takes a sent message in. A durable queue that is paging leaves a persistent message
    /// after its cursor in the store (it was stored by its sender). One that would go
    /// before the cursor (a higher priority than what is paged out) while memory is full
    /// also stays in the store: the cursor moves back to just before it, and the pending
    /// messages after the new cursor are dropped from memory to be read again later, so
    /// memory stays bounded and store order stays dispatch order.
    fn accept(&mut self, msg: Arc<Message>, seq: u64, at: Placement, redeliveries: u32) {
        let entry = Entry {
            seq,
            lane: at.lane,
            msg,
            redeliveries,
        };
        let now = self.clock.now_ms();
        if let Mode::Topic(_) = self.mode {
            self.place(entry, at, Target::Fanout, now);
            return;
        }
        let stored = self.is_stored(&entry);
        let key = entry.key();
        if stored && !self.paging && self.memory.is_full() {
            // Start paging: everything stored so far is in memory.
            self.paging = true;
            self.cursor = self.resident.last().copied().unwrap_or(BEFORE_ALL);
        }
        if stored && self.paging {
            if key > self.cursor {
                self.store_only.insert(seq);
                return;
            }
            if self.memory.is_full() {
                self.store_only.insert(seq);
                self.cursor = (key.0, seq - 1);
                self.evict_after_cursor();
                return;
            }
        }
        self.hold(&entry.msg);
        if stored {
            self.resident.insert(key);
        }
        self.place(entry, at, Target::Queue, now);
    }

    /// Drops the stored pending messages after the cursor from memory; they are read again
    /// in order by later pages.
    fn evict_after_cursor(&mut self) {
        let Mode::Queue(lane) = &mut self.mode else {
            return;
        };
        let persist = self.persist;
        let evicted = lane.take_after(self.cursor, |e| persist && e.msg.persistent);
        for e in &evicted {
            self.resident.remove(&e.key());
            self.store_only.insert(e.seq);
        }
        self.release(&evicted);
    }

    /// True when `dest`'s persistent messages are stored (durable queues).
    pub(crate) fn persists(dest: &Destination) -> bool {
        dest.kind() == crate::DestinationKind::Queue
    }
}

/// Hands a command to another actor. Never waits on a full mailbox from inside an actor (two
/// actors sending to each other would deadlock): a full one gets it from a spawned task.
pub(crate) fn send_without_waiting(tx: &mpsc::Sender<Command>, cmd: Command) {
    match tx.try_send(cmd) {
        Ok(()) => {}
        Err(mpsc::error::TrySendError::Full(cmd)) => {
            let tx = tx.clone();
            tokio::spawn(async move {
                let _ = tx.send(cmd).await;
            });
        }
        Err(mpsc::error::TrySendError::Closed(_)) => {
            tracing::warn!("destination stopped while messages were sent to it");
        }
    }
}
