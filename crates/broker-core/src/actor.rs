//! One task per destination owns its state; everyone else talks to it through its mailbox.
//!
//! The actor blocks for one command, drains up to [`DRAIN_BATCH`] more, then dispatches once,
//! so a burst of sends is dispatched (and later, stored) as a group.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;
use std::time::Duration;

use broker_store::{Batch, Op, Store};
use tokio::sync::{mpsc, oneshot};

use crate::lane::{Entry, Lane, Slot};
use crate::memory::MemoryUsage;
use crate::persist::{Durable, StoreWriter};
use crate::record;
use crate::{
    now_ms, ConnectionId, ConsumerId, CoreError, Delivery, DeliveryTag, Destination, Message,
};

/// Commands drained per dispatch round.
const DRAIN_BATCH: usize = 256;
/// How soon a consumer whose delivery channel was full is retried.
const STALL_RETRY: Duration = Duration::from_millis(10);

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
}

/// What a destination actor is asked to do.
#[derive(Debug)]
pub(crate) enum Command {
    /// A message with its broker-wide arrival number. Persistent queue messages were already
    /// handed to the storage thread by the sender.
    Send {
        msg: Arc<Message>,
        seq: u64,
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
    /// Stop: the destination is deleted (temporary destination whose owner left).
    Delete,
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
    /// Persistent messages are written to the store only for durable queues.
    persist: bool,
    memory: Arc<MemoryUsage>,
    /// What this destination's in-memory messages cost (counted in `memory` too).
    held: u64,
    /// Durable queues past the memory limit keep new persistent messages in the store only.
    /// Invariant: every stored message at or before `cursor` is in memory (pending or held
    /// by a consumer) or consumed; those after it are in the store only.
    paging: bool,
    cursor: (u8, u64),
    page_size: usize,
    /// Messages numbered up to this were stored before this broker started.
    recovered_max: u64,
    /// Persistent messages this actor left in the store only (paging), still to be read.
    store_only: BTreeSet<u64>,
}

impl DestinationActor {
    pub(crate) fn new(
        dest: Destination,
        store: Arc<dyn Store>,
        writer: StoreWriter,
        memory: Arc<MemoryUsage>,
        page_size: usize,
        recovered_max: u64,
    ) -> Self {
        let persist = Self::persists(&dest);
        let mode = if dest.kind().is_queue() {
            Mode::Queue(Lane::default())
        } else {
            Mode::Topic(HashMap::new())
        };
        Self {
            store_key: dest.to_string(),
            dest,
            mode,
            store,
            writer,
            persist,
            memory,
            held: 0,
            // A new actor has loaded nothing yet: everything stored is after the cursor.
            paging: persist,
            cursor: (u8::MAX, 0),
            page_size: page_size.max(1),
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

    /// Loads the next page of store-only messages once the in-memory backlog runs low and
    /// memory allows. Runs on startup too: a restarted queue reads one page, not its whole
    /// backlog, so recovery time does not grow with the backlog.
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

    /// Returns whether it read anything.
    async fn page_in(&mut self) -> bool {
        let Mode::Queue(lane) = &self.mode else {
            return false;
        };
        if !self.paging || lane.pending_len() >= self.page_size / 2 || self.memory.is_full() {
            return false;
        }
        // Every store write queued before now (the puts of messages this actor left in the
        // store) must be applied before reading, or the read could miss one.
        if self.writer.barrier().await.is_err() {
            return false;
        }
        let store = Arc::clone(&self.store);
        let key = self.store_key.clone();
        let after = (self.cursor.0 != u8::MAX).then_some(self.cursor);
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
        for rec in records {
            self.cursor = rec.position();
            // A stored message is read only if it is from before the restart or this actor
            // left it in the store. Any other was stored by a sender whose Send command is
            // still on its way: reading it here would hold it twice. Its Send arrives behind
            // the cursor now, so `accept` keeps it in memory.
            if rec.seq > self.recovered_max && !self.store_only.remove(&rec.seq) {
                continue;
            }
            match record::from_record(&rec, &self.dest) {
                Ok(msg) => {
                    self.hold(&msg);
                    if let Mode::Queue(lane) = &mut self.mode {
                        lane.push(Entry {
                            seq: rec.seq,
                            msg: Arc::new(msg),
                            redeliveries: rec.redeliveries,
                        });
                    }
                }
                Err(e) => {
                    tracing::error!(dest = %self.dest, seq = rec.seq, error = %e, "skipping unreadable stored message")
                }
            }
        }
        loaded
    }

    pub(crate) async fn run(mut self, mut rx: mpsc::Receiver<Command>) {
        self.page_in().await;
        let mut stalled = false;
        loop {
            let cmd = if stalled {
                tokio::select! {
                    c = rx.recv() => c,
                    () = tokio::time::sleep(STALL_RETRY) => {
                        self.unstall();
                        stalled = self.dispatch_and_page().await;
                        continue;
                    }
                }
            } else {
                rx.recv().await
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
            self.log_requeues().await;
            stalled = self.dispatch_and_page().await;
            if !self.paging {
                // Caught up: later pages are only needed once paging starts again.
                self.cursor = (u8::MAX, 0);
            }
        }
        self.memory.sub(self.held);
        tracing::debug!(dest = %self.dest, "destination actor stopped");
    }

    fn unstall(&mut self) {
        match &mut self.mode {
            Mode::Queue(lane) => lane.unstall(),
            Mode::Topic(subs) => subs.values_mut().for_each(|s| s.lane.unstall()),
        }
    }

    /// Runs a dispatch pass; true when some consumer stalled on a full channel.
    async fn dispatch(&mut self) -> bool {
        let now = now_ms();
        let mut stalled = false;
        let mut expired = Vec::new();
        match &mut self.mode {
            Mode::Queue(lane) => {
                let d = lane.dispatch(now);
                stalled = d.stalled;
                expired = d.expired;
            }
            Mode::Topic(subs) => {
                for sub in subs.values_mut() {
                    let d = sub.lane.dispatch(now);
                    stalled |= d.stalled;
                }
            }
        }
        if !expired.is_empty() {
            self.release(&expired);
            let batch = self.removals(&expired);
            self.writer.write(batch, Vec::new()).await;
        }
        stalled
    }

    /// Store removals for consumed or expired messages (only persistent ones are stored).
    fn removals(&self, entries: &[Entry]) -> Batch {
        let mut batch = Batch::new();
        if self.persist {
            for e in entries.iter().filter(|e| e.msg.persistent) {
                batch.push(Op::DeleteMessage {
                    queue: self.store_key.clone(),
                    priority: record::store_lane(&e.msg),
                    seq: e.seq,
                });
            }
        }
        batch
    }

    /// Keeps the stored redelivery counts of requeued persistent messages current.
    async fn log_requeues(&mut self) {
        let Mode::Queue(lane) = &mut self.mode else {
            return;
        };
        let requeued = lane.take_requeued();
        if requeued.is_empty() || !self.persist {
            return;
        }
        let mut batch = Batch::new();
        for (priority, seq, redeliveries) in requeued {
            batch.push(Op::SetRedeliveries {
                queue: self.store_key.clone(),
                priority,
                seq,
                redeliveries,
            });
        }
        self.writer.write(batch, Vec::new()).await;
    }

    /// Handles one command; false means stop the actor.
    async fn handle(&mut self, cmd: Command) -> bool {
        match cmd {
            Command::Send { msg, seq, reply } => {
                self.accept(msg, seq);
                if let Some(reply) = reply {
                    let _ = reply.send(Ok(()));
                }
            }
            Command::Subscribe { reg, reply } => {
                let slot = Slot::new(reg.id, reg.conn, reg.tx, reg.prefetch);
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
                match &mut self.mode {
                    Mode::Queue(lane) => {
                        lane.remove_consumer(id);
                    }
                    Mode::Topic(subs) => {
                        subs.remove(&id);
                    }
                }
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
                if let Some(lane) = self.lane_of(id) {
                    lane.nack(id, tag);
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
            Command::ConnectionClosed { conn } => match &mut self.mode {
                Mode::Queue(lane) => lane.remove_connection(conn),
                Mode::Topic(subs) => subs.retain(|_, s| s.conn != conn),
            },
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

    /// Takes a sent message into the pending lane(s). A durable queue that is paging leaves
    /// a persistent message after its cursor in the store (it was stored by its sender).
    fn accept(&mut self, msg: Arc<Message>, seq: u64) {
        if let Mode::Queue(_) = self.mode {
            let stored = self.persist && msg.persistent;
            let key = (record::store_lane(&msg), seq);
            if stored && !self.paging && self.memory.is_full() {
                // Start paging: everything stored so far is in memory.
                self.paging = true;
                self.cursor = self.last_in_memory();
            }
            if stored && self.paging && key_after(key, self.cursor) {
                self.store_only.insert(seq);
                return;
            }
            self.hold(&msg);
        }
        match &mut self.mode {
            Mode::Queue(lane) => lane.push(Entry {
                seq,
                msg,
                redeliveries: 0,
            }),
            Mode::Topic(subs) => {
                for sub in subs.values_mut() {
                    if sub.no_local && sub.conn == msg.producer {
                        continue;
                    }
                    sub.lane.push(Entry {
                        seq,
                        msg: Arc::clone(&msg),
                        redeliveries: 0,
                    });
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

    /// The store position of the newest message held in memory: the cursor when paging
    /// starts.
    fn last_in_memory(&self) -> (u8, u64) {
        match &self.mode {
            Mode::Queue(lane) => lane
                .max_seq()
                .map_or((record::STORE_LANE, 0), |seq| (record::STORE_LANE, seq)),
            Mode::Topic(_) => (record::STORE_LANE, 0),
        }
    }

    /// True when `dest`'s persistent messages are stored (durable queues).
    pub(crate) fn persists(dest: &Destination) -> bool {
        dest.kind() == crate::DestinationKind::Queue
    }
}

/// Store order: lane 9 first, then by seq.
fn key_after(a: (u8, u64), b: (u8, u64)) -> bool {
    (std::cmp::Reverse(a.0), a.1) > (std::cmp::Reverse(b.0), b.1)
}
