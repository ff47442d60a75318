//! The broker handle: configuration, the destination registry and id generation.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use broker_store::{Batch, DestinationRecord, Op, Store};
use tokio::sync::mpsc;

use crate::actor::{Command, DestinationActor};
use crate::{
    record, Connection, ConnectionId, ConsumerId, CoreError, Destination, DestinationKind,
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
    /// Most operations (SEND, ACK, NACK) one open transaction may stage; one more is refused
    /// with [`CoreError::TransactionTooLarge`].
    pub max_transaction_ops: usize,
}

impl Default for CoreConfig {
    fn default() -> Self {
        Self {
            mailbox_capacity: 4096,
            delivery_channel_capacity: 4096,
            topic_pending_limit: 100_000,
            max_transaction_ops: 100_000,
        }
    }
}

#[derive(Debug)]
pub(crate) struct DestEntry {
    pub(crate) tx: mpsc::Sender<Command>,
    /// Owner of a temporary destination.
    pub(crate) owner: Option<ConnectionId>,
}

pub(crate) struct Inner {
    pub(crate) cfg: CoreConfig,
    store: Arc<dyn Store>,
    /// Name → mailbox. Locked only to look up a destination a connection has not used before
    /// (connections cache the mailbox), never per message.
    registry: Mutex<HashMap<Destination, DestEntry>>,
    next_connection: AtomicU64,
    next_consumer: AtomicU64,
    /// Prefix of message ids and temporary destination names, unique per broker run.
    pub(crate) id_prefix: String,
    shutting_down: AtomicBool,
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
    /// Creates the core over `store` and brings back the destinations it holds.
    /// Must be called inside a Tokio runtime (destination actors are tasks).
    pub fn new(cfg: CoreConfig, store: Arc<dyn Store>) -> Self {
        let boot = crate::now_ms();
        let id_prefix = format!("ferromq-{}-{boot}", std::process::id());
        let broker = Self {
            inner: Arc::new(Inner {
                cfg,
                store,
                registry: Mutex::new(HashMap::new()),
                next_connection: AtomicU64::new(1),
                next_consumer: AtomicU64::new(1),
                id_prefix,
                shutting_down: AtomicBool::new(false),
            }),
        };
        match broker.inner.store.destinations() {
            Ok(list) => {
                for rec in list {
                    match record::parse_destination(&rec.name) {
                        Some(d) => {
                            let _ = broker.lookup(&d, Lookup::Create(None));
                        }
                        None => {
                            tracing::warn!(name = %rec.name, "ignoring unknown stored destination")
                        }
                    }
                }
            }
            Err(e) => tracing::error!(error = %e, "cannot list stored destinations"),
        }
        broker
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

    /// True once [`Broker::shutdown`] ran.
    pub fn is_shutting_down(&self) -> bool {
        self.inner.shutting_down.load(Ordering::Acquire)
    }

    pub(crate) fn next_consumer_id(&self) -> ConsumerId {
        ConsumerId(self.inner.next_consumer.fetch_add(1, Ordering::Relaxed))
    }

    fn registry(&self) -> std::sync::MutexGuard<'_, HashMap<Destination, DestEntry>> {
        // A panic while holding this lock cannot leave the map half-updated (single inserts
        // and removes), so a poisoned lock is still usable.
        self.inner
            .registry
            .lock()
            .unwrap_or_else(|p| p.into_inner())
    }

    /// Finds a destination's mailbox, creating the destination when allowed.
    pub(crate) fn lookup(
        &self,
        dest: &Destination,
        how: Lookup,
    ) -> Result<(mpsc::Sender<Command>, Option<ConnectionId>), CoreError> {
        if self.is_shutting_down() {
            return Err(CoreError::ShuttingDown);
        }
        let mut reg = self.registry();
        if let Some(e) = reg.get(dest) {
            if !e.tx.is_closed() {
                return Ok((e.tx.clone(), e.owner));
            }
        }
        let owner = match how {
            Lookup::Existing => return Err(CoreError::NoSuchTempDestination(dest.clone())),
            Lookup::Create(owner) => owner,
        };
        if dest.kind() == DestinationKind::Queue {
            let mut batch = Batch::new();
            batch.push(Op::PutDestination(DestinationRecord {
                name: dest.to_string(),
            }));
            self.inner
                .store
                .apply(batch)
                .map_err(|e| CoreError::Store(e.to_string()))?;
        }
        let (tx, rx) = mpsc::channel(self.inner.cfg.mailbox_capacity);
        let actor = DestinationActor::new(dest.clone(), Arc::clone(&self.inner.store));
        tokio::spawn(actor.run(rx));
        reg.insert(
            dest.clone(),
            DestEntry {
                tx: tx.clone(),
                owner,
            },
        );
        Ok((tx, owner))
    }

    /// Deletes a temporary destination (its owner closed).
    pub(crate) fn remove(&self, dest: &Destination) -> Option<mpsc::Sender<Command>> {
        self.registry().remove(dest).map(|e| e.tx)
    }
}

/// How [`Broker::lookup`] treats a missing destination.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Lookup {
    /// Fail if it does not exist (someone else's temporary destination).
    Existing,
    /// Create it, owned by the given connection when temporary.
    Create(Option<ConnectionId>),
}
