//! The broker handle: configuration, the destination registry and id generation.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use broker_store::{Batch, DestinationRecord, Op, Store};
use tokio::sync::mpsc;

use crate::actor::DestinationStats;
use crate::actor::{Command, DestinationActor};
use crate::memory::MemoryUsage;
use crate::persist::StoreWriter;
use crate::{
    record, Clock, CompositeDestination, Connection, ConnectionId, ConsumerId, CoreError,
    Destination, DestinationPolicy, PolicyMap, VirtualTopic,
};

/// Tunables of the core.
#[derive(Debug, Clone)]
pub struct CoreConfig {
    /// Capacity of each destination's mailbox; a full mailbox makes senders wait
    /// (producer backpressure).
    pub mailbox_capacity: usize,
    /// Capacity of each connection's delivery channel. Prefetch keeps deliveries below it in
    /// normal operation; when it is full the destination retries shortly.
    pub delivery_channel_capacity: usize,
    /// Default bound on messages waiting for one slow topic subscriber; the oldest beyond it
    /// are discarded.
    pub topic_pending_limit: usize,
    /// Capacity of the storage thread's inbox (write requests); when full, writers wait.
    pub store_queue_capacity: usize,
    /// Bytes of messages queues may hold in memory (ActiveMQ `memoryUsage`). Past it,
    /// durable queues page persistent messages (store only, read back as consumers drain)
    /// and producers of memory-only messages wait.
    pub memory_limit: u64,
    /// Messages read from the store per page.
    pub page_size: usize,
    /// Bytes the store may occupy (ActiveMQ `storeUsage`); 0 = no limit. Past it, producers
    /// of persistent messages wait for consumers to free space, or fail (`send_fail_after`).
    pub store_limit: u64,
    /// With `Some`, a producer that waits this long for memory gets an error instead
    /// (ActiveMQ `sendFailIfNoSpaceAfterTimeout`; `Some(0)` = `sendFailIfNoSpace`).
    pub send_fail_after: Option<std::time::Duration>,
    /// Most operations (SEND, ACK, NACK) one open transaction may stage; one more is refused
    /// with [`CoreError::TransactionTooLarge`].
    pub max_transaction_ops: usize,
    /// Per-destination policies (priority, lanes, redelivery, dead-lettering, expiry).
    pub policies: Arc<PolicyMap>,
    /// Time source for expiry, scheduling and back-off.
    pub clock: Clock,
    /// Virtual topic rules (ActiveMQ `<virtualTopic>`); by default ActiveMQ's one:
    /// `VirtualTopic.>` copied to the `Consumer.*.VirtualTopic.>` queues.
    pub virtual_topics: Vec<VirtualTopic>,
    /// Composite queues and topics (ActiveMQ `<compositeQueue>` / `<compositeTopic>`),
    /// applied where messages are sent; none by default.
    pub composites: Vec<CompositeDestination>,
}

impl Default for CoreConfig {
    fn default() -> Self {
        Self {
            mailbox_capacity: 4096,
            delivery_channel_capacity: 4096,
            topic_pending_limit: 100_000,
            store_queue_capacity: 8192,
            memory_limit: 512 * 1024 * 1024,
            page_size: 1000,
            // ActiveMQ's default storeUsage.
            store_limit: 100 * 1024 * 1024 * 1024,
            send_fail_after: None,
            max_transaction_ops: 100_000,
            policies: Arc::new(PolicyMap::default()),
            clock: Clock::system(),
            virtual_topics: vec![VirtualTopic::activemq_default()],
            composites: Vec::new(),
        }
    }
}

#[derive(Debug)]
pub(crate) struct DestEntry {
    pub(crate) tx: mpsc::Sender<Command>,
    /// Owner of a temporary destination.
    pub(crate) owner: Option<ConnectionId>,
    /// The destination's resolved policy (senders need its priority and lane settings).
    pub(crate) policy: Arc<DestinationPolicy>,
}

pub(crate) struct Inner {
    pub(crate) cfg: CoreConfig,
    pub(crate) store: Arc<dyn Store>,
    pub(crate) writer: StoreWriter,
    pub(crate) memory: Arc<MemoryUsage>,
    /// The store's highest message number when this broker started.
    recovered_max: u64,
    /// Broker-wide arrival numbers: orders messages within each queue and keys them in the
    /// store. Starts above the highest stored one.
    next_seq: AtomicU64,
    /// Name → mailbox. Locked only to look up a destination a connection has not used before
    /// (connections cache the mailbox), never per message.
    registry: Mutex<HashMap<Destination, DestEntry>>,
    /// Durable subscriptions by their queue. Locked on SUBSCRIBE/UNSUBSCRIBE only.
    durables: Mutex<HashMap<Destination, crate::routing::Durable>>,
    /// Claimed client ids (CONNECT `client-id`) and the connection holding each.
    client_ids: Mutex<HashMap<String, ConnectionId>>,
    /// Wildcard topic subscriptions, wired into topics as they are created.
    wildcards: Mutex<crate::routing::WildcardIndex>,
    /// Names of the topics created so far, for wildcard subscriptions.
    topic_tree: Mutex<crate::routing::TopicTree>,
    /// The (non-temporary) queue names, for wildcard queue consumers.
    queue_tree: Mutex<crate::routing::TopicTree>,
    /// Wildcard queue consumers, told about matching queues created later.
    queue_watchers: Mutex<crate::routing::QueueWatchers>,
    next_connection: AtomicU64,
    next_consumer: AtomicU64,
    /// Prefix of message ids and temporary destination names, unique per broker run.
    pub(crate) id_prefix: String,
    shutting_down: AtomicBool,
    /// The storage thread, for [`Broker::take_storage_thread`].
    storage_thread: Mutex<Option<std::thread::JoinHandle<()>>>,
}

/// A running broker core. Cheap to clone; all clones share one broker.
#[derive(Clone)]
pub struct Broker {
    pub(crate) inner: Arc<Inner>,
}

impl std::fmt::Debug for Broker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Broker")
            .field("id_prefix", &self.inner.id_prefix)
            .finish()
    }
}

impl Broker {
    /// Creates the core over `store`, starts the storage thread and brings back the
    /// destinations the store holds. Reads the store (once, at startup); must be called
    /// inside a Tokio runtime (destination actors are tasks).
    pub fn new(cfg: CoreConfig, store: Arc<dyn Store>) -> Result<Self, CoreError> {
        let boot = crate::now_ms();
        let max_seq = store
            .max_seq()
            .map_err(|e| CoreError::Store(e.to_string()))?;
        let (writer, thread) = StoreWriter::start(Arc::clone(&store), cfg.store_queue_capacity);
        let thread = thread
            .map_err(|e| CoreError::Store(format!("cannot start the storage thread: {e}")))?;
        let id_prefix = format!("ferromq-{}-{boot}", std::process::id());
        let memory = Arc::new(MemoryUsage::new(cfg.memory_limit));
        let broker = Self {
            inner: Arc::new(Inner {
                cfg,
                store,
                writer,
                memory,
                next_seq: AtomicU64::new(max_seq + 1),
                recovered_max: max_seq,
                registry: Mutex::new(HashMap::new()),
                durables: Mutex::new(HashMap::new()),
                client_ids: Mutex::new(HashMap::new()),
                wildcards: Mutex::new(Default::default()),
                topic_tree: Mutex::new(crate::routing::TopicTree::default()),
                queue_tree: Mutex::new(crate::routing::TopicTree::default()),
                queue_watchers: Mutex::new(Default::default()),
                next_connection: AtomicU64::new(1),
                next_consumer: AtomicU64::new(1),
                id_prefix,
                shutting_down: AtomicBool::new(false),
                storage_thread: Mutex::new(Some(thread)),
            }),
        };
        let list = broker
            .inner
            .store
            .destinations()
            .map_err(|e| CoreError::Store(e.to_string()))?;
        for rec in list {
            match record::parse_destination(&rec.name) {
                Some(d) => {
                    let how = match crate::routing::durable_topic(&rec) {
                        Some(topic) => Lookup::Subscription(topic),
                        None => Lookup::Create(None),
                    };
                    broker.lookup(&d, how)?;
                    broker.restore_durable(&rec, &d);
                }
                None => tracing::warn!(name = %rec.name, "ignoring unknown stored destination"),
            }
        }
        Ok(broker)
    }

    /// The core clock's now, in ms since the Unix epoch.
    pub fn now_ms(&self) -> u64 {
        self.inner.cfg.clock.now_ms()
    }

    /// The policy that applies to `dest` (as its actor uses it, once it exists).
    pub fn policy(&self, dest: &Destination) -> Arc<DestinationPolicy> {
        match self.registry().get(dest) {
            Some(e) => Arc::clone(&e.policy),
            None => self.inner.cfg.policies.resolve(dest),
        }
    }

    /// Redrive: moves dead-lettered messages of queue `dlq` (all of them, or the one with
    /// `message_id`) back to the destinations they were first sent to, each as a new
    /// message there (redelivery count reset) in one store write with its removal here.
    /// Messages a consumer holds are not moved. Returns how many moved.
    pub async fn redrive(
        &self,
        dlq: &Destination,
        message_id: Option<&str>,
    ) -> Result<usize, CoreError> {
        let tx = self.existing(dlq)?;
        let (reply, rx) = tokio::sync::oneshot::channel();
        tx.send(Command::Redrive {
            message_id: message_id.map(Arc::from),
            reply,
        })
        .await
        .map_err(|_| CoreError::ShuttingDown)?;
        rx.await.map_err(|_| CoreError::ShuttingDown)?
    }

    /// Counts of what `dest` holds.
    pub async fn stats(&self, dest: &Destination) -> Result<DestinationStats, CoreError> {
        let tx = self.existing(dest)?;
        let (reply, rx) = tokio::sync::oneshot::channel();
        tx.send(Command::Stats { reply })
            .await
            .map_err(|_| CoreError::ShuttingDown)?;
        rx.await.map_err(|_| CoreError::ShuttingDown)
    }

    fn existing(&self, dest: &Destination) -> Result<mpsc::Sender<Command>, CoreError> {
        if self.is_shutting_down() {
            return Err(CoreError::ShuttingDown);
        }
        self.registry()
            .get(dest)
            .filter(|e| !e.tx.is_closed())
            .map(|e| e.tx.clone())
            .ok_or_else(|| CoreError::NoSuchDestination(dest.clone()))
    }

    /// The next broker-wide arrival number.
    pub(crate) fn next_seq(&self) -> u64 {
        self.inner.next_seq.fetch_add(1, Ordering::Relaxed)
    }

    /// Opens a client connection.
    pub fn connect(&self) -> Connection {
        let id = ConnectionId(self.inner.next_connection.fetch_add(1, Ordering::Relaxed));
        Connection::new(self.clone(), id)
    }

    /// Destinations that currently exist, sorted.
    pub fn destinations(&self) -> Vec<Destination> {
        let mut v: Vec<_> = self.registry().keys().cloned().collect();
        v.sort();
        v
    }

    /// Stops accepting work and lets destination actors finish once their last user leaves.
    pub fn shutdown(&self) {
        self.inner.shutting_down.store(true, Ordering::Release);
        self.registry().clear();
    }

    /// Bytes of messages held in memory by queues, and the limit.
    pub fn memory_usage(&self) -> (u64, u64) {
        (self.inner.memory.used(), self.inner.memory.limit())
    }

    /// The storage thread's handle (once). It finishes the writes queued to it and exits
    /// when the last broker handle and destination are gone; an embedding program joins it
    /// before exiting so the store is closed cleanly.
    pub fn take_storage_thread(&self) -> Option<std::thread::JoinHandle<()>> {
        self.inner
            .storage_thread
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take()
    }

    /// True once [`Broker::shutdown`] ran.
    pub fn is_shutting_down(&self) -> bool {
        self.inner.shutting_down.load(Ordering::Acquire)
    }

    pub(crate) fn next_consumer_id(&self) -> ConsumerId {
        ConsumerId(self.inner.next_consumer.fetch_add(1, Ordering::Relaxed))
    }

    pub(crate) fn durables(
        &self,
    ) -> std::sync::MutexGuard<'_, HashMap<Destination, crate::routing::Durable>> {
        self.inner
            .durables
            .lock()
            .unwrap_or_else(|p| p.into_inner())
    }

    pub(crate) fn client_ids(&self) -> std::sync::MutexGuard<'_, HashMap<String, ConnectionId>> {
        self.inner
            .client_ids
            .lock()
            .unwrap_or_else(|p| p.into_inner())
    }

    pub(crate) fn wildcards(&self) -> std::sync::MutexGuard<'_, crate::routing::WildcardIndex> {
        self.inner
            .wildcards
            .lock()
            .unwrap_or_else(|p| p.into_inner())
    }

    pub(crate) fn queue_tree(&self) -> std::sync::MutexGuard<'_, crate::routing::TopicTree> {
        self.inner
            .queue_tree
            .lock()
            .unwrap_or_else(|p| p.into_inner())
    }

    pub(crate) fn queue_watchers(
        &self,
    ) -> std::sync::MutexGuard<'_, crate::routing::QueueWatchers> {
        self.inner
            .queue_watchers
            .lock()
            .unwrap_or_else(|p| p.into_inner())
    }

    pub(crate) fn topic_tree(&self) -> std::sync::MutexGuard<'_, crate::routing::TopicTree> {
        self.inner
            .topic_tree
            .lock()
            .unwrap_or_else(|p| p.into_inner())
    }

    /// Those of `dests` that are live, with their mailboxes.
    pub(crate) fn registered_among(&self, dests: &[Destination]) -> Vec<(Destination, Found)> {
        let reg = self.registry();
        dests
            .iter()
            .filter_map(|d| {
                let e = reg.get(d).filter(|e| !e.tx.is_closed())?;
                Some((
                    d.clone(),
                    Found {
                        tx: e.tx.clone(),
                        owner: e.owner,
                        policy: Arc::clone(&e.policy),
                        created: false,
                    },
                ))
            })
            .collect()
    }

    /// The live destinations `pick` accepts, with their mailboxes (a snapshot).
    pub(crate) fn registered_where(
        &self,
        pick: impl Fn(&Destination) -> bool,
    ) -> Vec<(Destination, Found)> {
        self.registry()
            .iter()
            .filter(|(d, e)| pick(d) && !e.tx.is_closed())
            .map(|(d, e)| {
                (
                    d.clone(),
                    Found {
                        tx: e.tx.clone(),
                        owner: e.owner,
                        policy: Arc::clone(&e.policy),
                        created: false,
                    },
                )
            })
            .collect()
    }

    fn registry(&self) -> std::sync::MutexGuard<'_, HashMap<Destination, DestEntry>> {
        // A panic while holding this lock cannot leave the map half-updated (single inserts
        // and removes), so a poisoned lock is still usable.
        self.inner
            .registry
            .lock()
            .unwrap_or_else(|p| p.into_inner())
    }

    /// Finds a destination's mailbox, creating the destination when allowed. A caller that
    /// gets `created` for a durable queue records it through the storage thread (see
    /// [`crate::Connection`]), so the record precedes any message stored for it.
    pub(crate) fn lookup(&self, dest: &Destination, how: Lookup) -> Result<Found, CoreError> {
        if self.is_shutting_down() {
            return Err(CoreError::ShuttingDown);
        }
        let mut reg = self.registry();
        if let Some(e) = reg.get(dest) {
            if !e.tx.is_closed() {
                return Ok(Found {
                    tx: e.tx.clone(),
                    owner: e.owner,
                    policy: Arc::clone(&e.policy),
                    created: false,
                });
            }
        }
        let (owner, policy_of) = match &how {
            Lookup::Existing => return Err(CoreError::NoSuchTempDestination(dest.clone())),
            Lookup::Create(owner) => (*owner, dest),
            Lookup::Subscription(topic) => (None, topic),
        };
        let (tx, rx) = mpsc::channel(self.inner.cfg.mailbox_capacity);
        let policy = self.inner.cfg.policies.resolve(policy_of);
        let actor = DestinationActor::new(
            dest.clone(),
            self,
            Arc::clone(&policy),
            self.inner.recovered_max,
        );
        tokio::spawn(actor.run(rx));
        reg.insert(
            dest.clone(),
            DestEntry {
                tx: tx.clone(),
                owner,
                policy: Arc::clone(&policy),
            },
        );
        drop(reg);
        let found = Found {
            tx,
            owner,
            policy,
            created: true,
        };
        self.wire_new(dest, &found);
        Ok(found)
    }

    /// The store record that makes a new durable queue exist again after a restart.
    pub(crate) fn destination_record(dest: &Destination) -> Option<Batch> {
        DestinationActor::persists(dest).then(|| Batch {
            ops: vec![Op::PutDestination(DestinationRecord {
                name: dest.to_string(),
                attributes: Vec::new(),
            })],
        })
    }

    /// Deletes a temporary destination (its owner closed).
    pub(crate) fn remove(&self, dest: &Destination) -> Option<mpsc::Sender<Command>> {
        self.registry().remove(dest).map(|e| e.tx)
    }
}

/// What [`Broker::lookup`] found.
#[derive(Debug, Clone)]
pub(crate) struct Found {
    pub(crate) tx: mpsc::Sender<Command>,
    pub(crate) owner: Option<ConnectionId>,
    pub(crate) policy: Arc<DestinationPolicy>,
    /// This lookup created the destination.
    pub(crate) created: bool,
}

/// How [`Broker::lookup`] treats a missing destination.
#[derive(Debug, Clone)]
pub(crate) enum Lookup {
    /// Fail if it does not exist (someone else's temporary destination).
    Existing,
    /// Create it, owned by the given connection when temporary.
    Create(Option<ConnectionId>),
    /// Create the queue of a durable subscription to this topic (maybe a wildcard): it
    /// follows the topic's policy entry, as an ActiveMQ durable subscriber does.
    Subscription(Destination),
}
