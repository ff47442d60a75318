//! A client connection's view of the broker: what protocol adapters call.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use tokio::sync::{mpsc, oneshot};

use broker_store::{Batch, Op};

use crate::actor::{Command, DestinationActor, Register};
use crate::broker::Lookup;
use crate::lane::SlotOptions;
use crate::record::{self, Placement};
use crate::schedule;
use crate::{
    Broker, ConnectionId, ConsumerId, ConsumerSpec, CoreError, Delivery, DeliveryTag, Destination,
    DestinationKind, DestinationPolicy, Message, WatchId,
};

/// A destination's mailbox with the policy its messages are placed by.
#[derive(Debug, Clone)]
struct Mailbox {
    tx: mpsc::Sender<Command>,
    policy: Arc<DestinationPolicy>,
}

/// Bound on the per-connection cache of destination mailboxes; cleared when exceeded so a
/// client cycling through names cannot grow it without limit.
const CACHE_LIMIT: usize = 1024;

#[derive(Debug)]
enum TxOp {
    Send(Box<Message>),
    Ack {
        id: ConsumerId,
        tag: DeliveryTag,
        cumulative: bool,
    },
    Nack {
        id: ConsumerId,
        tag: DeliveryTag,
    },
}

/// The next new-queue event, if the connection has wildcard queue consumers; else pends.
async fn next_event(events: &mut Option<WatchEvents>) -> Option<(WatchId, Destination)> {
    match events {
        Some((_, rx)) => rx.recv().await,
        None => std::future::pending().await,
    }
}

/// A connection's channel of new matching queues for its wildcard queue consumers.
type WatchEvents = (
    mpsc::Sender<(WatchId, Destination)>,
    mpsc::Receiver<(WatchId, Destination)>,
);

/// New-queue events waiting for a connection's wildcard queue consumers (more wait in tasks).
const WATCH_EVENTS: usize = 64;

/// What a routed message still waits for before its sender may be told it is safe.
enum Confirmation {
    None,
    /// Its store write (a persistent queue message).
    Stored(oneshot::Receiver<Result<(), CoreError>>),
    /// Its destination's acceptance.
    Accepted(oneshot::Receiver<Result<(), CoreError>>, Destination),
}

/// A wildcard queue consumer.
#[derive(Debug)]
struct Watch {
    spec: ConsumerSpec,
    queues: HashSet<Destination>,
}

#[derive(Debug)]
struct ConsumerEntry {
    tx: mpsc::Sender<Command>,
}

/// One client connection. Owned by that connection's task; not shared.
///
/// Dropping it without [`Connection::close`] still releases its consumers and temporary
/// destinations (from a spawned task), so a panicking connection task loses nothing.
#[derive(Debug)]
pub struct Connection {
    broker: Broker,
    id: ConnectionId,
    deliveries_tx: mpsc::Sender<Delivery>,
    deliveries_rx: mpsc::Receiver<Delivery>,
    cache: HashMap<Destination, Mailbox>,
    consumers: HashMap<ConsumerId, ConsumerEntry>,
    txs: HashMap<String, Vec<TxOp>>,
    /// Temporary destinations this connection created (a set: a connection with many
    /// wildcard subscriptions has one per subscription, and a list made each new one O(n)).
    temps: HashSet<Destination>,
    temp_prefix: String,
    /// Wildcard subscriptions: consumer → the temporary topic the matching topics copy to.
    wildcards: HashMap<ConsumerId, Destination>,
    next_wildcard: u64,
    next_message: u64,
    /// The client id this connection claimed.
    client_id: Option<String>,
    /// Wildcard queue consumers: what each subscribes with, and the queues it covers.
    watches: HashMap<WatchId, Watch>,
    next_watch: u64,
    /// New matching queues for the watches (see [`Broker::wire_new`]).
    /// Made by the first wildcard queue consumer (most connections never need it).
    events: Option<WatchEvents>,
    /// Consumers the watches gained, not yet taken by the adapter.
    added: Vec<(WatchId, ConsumerId)>,
    /// Durable subscriptions made without a client id: removed at close.
    orphans: Vec<Destination>,
    closed: bool,
}

impl Connection {
    pub(crate) fn new(broker: Broker, id: ConnectionId) -> Self {
        let (deliveries_tx, deliveries_rx) =
            mpsc::channel(broker.inner.cfg.delivery_channel_capacity);
        let temp_prefix = format!("ID:{}-{}:", broker.inner.id_prefix, id.0);
        Self {
            broker,
            id,
            deliveries_tx,
            deliveries_rx,
            cache: HashMap::new(),
            consumers: HashMap::new(),
            txs: HashMap::new(),
            temps: HashSet::new(),
            temp_prefix,
            wildcards: HashMap::new(),
            next_wildcard: 0,
            next_message: 1,
            client_id: None,
            watches: HashMap::new(),
            next_watch: 0,
            events: None,
            added: Vec::new(),
            orphans: Vec::new(),
            closed: false,
        }
    }

    /// This connection's id.
    pub fn id(&self) -> ConnectionId {
        self.id
    }

    /// A fresh, broker-unique message id (ActiveMQ's `ID:` form).
    pub fn new_message_id(&mut self) -> Arc<str> {
        use std::io::Write as _;
        let n = self.next_message;
        self.next_message += 1;
        // Rendered on the stack, so the id costs one allocation (the Arc), not a String too.
        let mut buf = [0u8; 160];
        let mut w = std::io::Cursor::new(&mut buf[..]);
        if w.write_all(self.temp_prefix.as_bytes()).is_ok() && write!(w, "{n}").is_ok() {
            let len = w.position() as usize;
            if let Ok(id) = std::str::from_utf8(&buf[..len]) {
                return Arc::from(id);
            }
        }
        Arc::from(format!("{}{}", self.temp_prefix, n))
    }

    /// The temporary destination this connection knows as `local_name`.
    pub fn temp_destination(&self, kind: DestinationKind, local_name: &str) -> Destination {
        debug_assert!(kind.is_temporary());
        Destination::new(kind, format!("{}{local_name}", self.temp_prefix))
    }

    /// If `dest` is a temporary destination of this connection, its local name.
    pub fn own_temp_name<'a>(&self, dest: &'a Destination) -> Option<&'a str> {
        if dest.kind().is_temporary() {
            dest.name().strip_prefix(self.temp_prefix.as_str())
        } else {
            None
        }
    }

    /// The mailbox of `dest`, creating the destination when this connection may. A newly
    /// created durable queue is recorded through the storage thread before anything else is
    /// stored for it (the thread applies requests in order).
    async fn mailbox(&mut self, dest: &Destination) -> Result<mpsc::Sender<Command>, CoreError> {
        Ok(self.mailbox_with_policy(dest).await?.tx)
    }

    async fn mailbox_with_policy(&mut self, dest: &Destination) -> Result<Mailbox, CoreError> {
        if let Some(m) = self.cache.get(dest) {
            if !m.tx.is_closed() {
                return Ok(m.clone());
            }
            self.cache.remove(dest);
        }
        let how = if !dest.kind().is_temporary() {
            Lookup::Create(None)
        } else if self.own_temp_name(dest).is_some() {
            Lookup::Create(Some(self.id))
        } else {
            Lookup::Existing
        };
        let found = self.broker.lookup(dest, how)?;
        if found.created {
            if let Some(batch) = Broker::destination_record(dest) {
                self.broker.inner.writer.write(batch, Vec::new()).await;
            }
        }
        if found.owner == Some(self.id) && !self.temps.contains(dest) {
            self.temps.insert(dest.clone());
        }
        if self.cache.len() >= CACHE_LIMIT {
            self.cache.clear();
        }
        let m = Mailbox {
            tx: found.tx,
            policy: found.policy,
        };
        self.cache.insert(dest.clone(), m.clone());
        Ok(m)
    }

    async fn deliver(tx: &mpsc::Sender<Command>, cmd: Command) -> Result<(), CoreError> {
        tx.send(cmd).await.map_err(|_| CoreError::ShuttingDown)
    }

    async fn wait(rx: oneshot::Receiver<Result<(), CoreError>>) -> Result<(), CoreError> {
        rx.await.map_err(|_| CoreError::ShuttingDown)?
    }

    /// Routes a message to its destination, or stages it in transaction `tx`. With `confirm`,
    /// returns only once the destination accepted it and, for a persistent message of a
    /// queue, once it is durable in the store. A message sent to a composite destination
    /// ([`crate::CoreConfig::composites`]) goes, as copies with the same message id, where
    /// the composite forwards it (and to the destination itself unless `forward_only`).
    pub async fn send(
        &mut self,
        msg: Message,
        tx: Option<&str>,
        confirm: bool,
    ) -> Result<(), CoreError> {
        schedule::validate(&msg)?;
        match crate::virtual_destinations::composite_targets(
            &self.broker.inner.cfg.composites,
            &msg,
        ) {
            None => self.send_one(msg, tx, confirm).await,
            Some(targets) => self.send_copies(msg, targets, tx, confirm).await,
        }
    }

    /// Sends a copy of `msg` (same id) to each of `targets`, which are final (composites
    /// already expanded). In a transaction all copies are staged or none; otherwise every
    /// copy is handed over before any is waited for, so the storage thread writes the
    /// persistent ones in one group and the RECEIPT costs one sync, not one per copy.
    async fn send_copies(
        &mut self,
        msg: Message,
        targets: Vec<Destination>,
        tx: Option<&str>,
        confirm: bool,
    ) -> Result<(), CoreError> {
        let copies = targets.into_iter().map(|d| Message {
            destination: d,
            ..msg.clone()
        });
        if let Some(t) = tx {
            let limit = self.broker.inner.cfg.max_transaction_ops;
            let copies: Vec<TxOp> = copies.map(|m| TxOp::Send(Box::new(m))).collect();
            let ops = self.tx_ops(t)?;
            if ops.len() + copies.len() > limit {
                return Err(CoreError::TransactionTooLarge { limit });
            }
            ops.extend(copies);
            return Ok(());
        }
        let mut pending = Vec::new();
        for copy in copies {
            pending.push(self.route_start(copy, confirm).await?);
        }
        for c in pending {
            self.confirmed(c).await?;
        }
        Ok(())
    }

    async fn send_one(
        &mut self,
        msg: Message,
        tx: Option<&str>,
        confirm: bool,
    ) -> Result<(), CoreError> {
        if let Some(t) = tx {
            self.tx_ops(t)?.push(TxOp::Send(Box::new(msg)));
            return Ok(());
        }
        self.route(msg, confirm).await
    }

    /// Sends one message to several destinations (an ActiveMQ composite destination), each a
    /// copy with the same message id; an element that is a configured composite expands.
    pub async fn send_composite(
        &mut self,
        msg: Message,
        destinations: &[Destination],
        tx: Option<&str>,
        confirm: bool,
    ) -> Result<(), CoreError> {
        schedule::validate(&msg)?;
        let composites = &self.broker.inner.cfg.composites;
        let mut targets = Vec::with_capacity(destinations.len());
        for d in destinations {
            let copy = Message {
                destination: d.clone(),
                ..msg.clone()
            };
            match crate::virtual_destinations::composite_targets(composites, &copy) {
                Some(expanded) => targets.extend(expanded),
                None => targets.push(d.clone()),
            }
        }
        self.send_copies(msg, targets, tx, confirm).await
    }

    /// The store write that keeps `msg` (numbered `seq`) across a restart, if it needs one.
    fn put_record(msg: &Message, seq: u64, at: Placement) -> Option<Op> {
        (msg.persistent && DestinationActor::persists(&msg.destination)).then(|| {
            Op::PutMessage(record::to_record(
                &msg.destination.to_string(),
                seq,
                msg,
                at,
            ))
        })
    }

    async fn route(&mut self, msg: Message, confirm: bool) -> Result<(), CoreError> {
        let c = self.route_start(msg, confirm).await?;
        self.confirmed(c).await
    }

    /// Waits for what [`Self::route_start`] left to confirm.
    async fn confirmed(&self, c: Confirmation) -> Result<(), CoreError> {
        match c {
            Confirmation::None => Ok(()),
            Confirmation::Stored(rx) => Self::wait(rx).await,
            Confirmation::Accepted(rx, dest) => rx.await.unwrap_or_else(|_| Err(self.gone(&dest))),
        }
    }

    /// Hands `msg` to its destination (and its record to the storage thread); returns what
    /// the sender still has to wait for when it asked to `confirm`.
    async fn route_start(
        &mut self,
        msg: Message,
        confirm: bool,
    ) -> Result<Confirmation, CoreError> {
        let dest = msg.destination.clone();
        // Producer flow control: a message that can only live in memory waits for room (the
        // adapter stops reading this producer meanwhile); stored ones page instead.
        let memory = &self.broker.inner.memory;
        let stored = msg.persistent && DestinationActor::persists(&dest);
        if dest.kind().is_queue()
            && !stored
            && memory.is_full()
            && !memory
                .wait_for_room(self.broker.inner.cfg.send_fail_after)
                .await
        {
            return Err(CoreError::MemoryFull {
                limit: memory.limit(),
            });
        }
        if stored {
            self.wait_for_store_room().await?;
        }
        // Resolve (and record) the destination before anything is stored for it.
        let policy = self.mailbox_with_policy(&dest).await?.policy;
        let at = schedule::first_placement(&msg, &policy, self.broker.now_ms())?;
        let seq = self.broker.next_seq();
        let mut durable = None;
        // The store write is queued before the message reaches its destination, so the
        // removal an acknowledgement causes is always queued after it.
        if let Some(op) = Self::put_record(&msg, seq, at) {
            let (tx, rx) = oneshot::channel();
            self.broker
                .inner
                .writer
                .write(Batch { ops: vec![op] }, vec![tx])
                .await;
            durable = Some(rx);
        }
        let mut msg = Arc::new(msg);
        // A destination actor stops only when its temporary destination is deleted (or at
        // shutdown); a second lookup then reports why.
        for _ in 0..2 {
            let mailbox = self.mailbox(&dest).await?;
            let (reply, accepted) = if confirm && durable.is_none() {
                let (tx, rx) = oneshot::channel();
                (Some(tx), Some(rx))
            } else {
                (None, None)
            };
            let cmd = Command::Send {
                msg,
                seq,
                at,
                redeliveries: 0,
                reply,
            };
            match mailbox.send(cmd).await {
                Ok(()) => {
                    if !confirm {
                        return Ok(Confirmation::None);
                    }
                    if let Some(rx) = durable {
                        return Ok(Confirmation::Stored(rx));
                    }
                    return Ok(match accepted {
                        Some(rx) => Confirmation::Accepted(rx, dest),
                        None => Confirmation::None,
                    });
                }
                Err(mpsc::error::SendError(cmd)) => {
                    self.cache.remove(&dest);
                    let Command::Send { msg: m, .. } = cmd else {
                        unreachable!("sent a Send command")
                    };
                    msg = m;
                }
            }
        }
        Err(self.gone(&dest))
    }

    /// Store flow control: while the store is over its limit, wait for consumers to free
    /// space (the storage thread re-measures after every write), or fail per
    /// `send_fail_after`.
    async fn wait_for_store_room(&self) -> Result<(), CoreError> {
        let cfg = &self.broker.inner.cfg;
        let writer = &self.broker.inner.writer;
        let full = || cfg.store_limit > 0 && writer.store_size() >= cfg.store_limit;
        if !full() {
            return Ok(());
        }
        let wait = async {
            while full() {
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                // The storage thread re-measures after every write, empty ones included: space
                // freed by compaction shows even when no one else writes.
                let _ = writer.barrier().await;
            }
        };
        let ok = match cfg.send_fail_after {
            Some(t) => tokio::time::timeout(t, wait).await.is_ok(),
            None => {
                wait.await;
                true
            }
        };
        if ok {
            Ok(())
        } else {
            Err(CoreError::StoreFull {
                limit: cfg.store_limit,
            })
        }
    }

    fn gone(&self, dest: &Destination) -> CoreError {
        if dest.kind().is_temporary() && !self.broker.is_shutting_down() {
            CoreError::NoSuchTempDestination(dest.clone())
        } else {
            CoreError::ShuttingDown
        }
    }

    /// A wildcard queue consumer (`orders.>` on queues, as ActiveMQ): one consumer on every
    /// matching queue, with `spec`'s options, competing with the other consumers of each.
    /// Returns the consumers on the queues that exist now; those on matching queues created
    /// later are reported by [`Connection::take_added_consumers`] under the returned id
    /// before any of their deliveries is returned by [`Connection::recv`].
    pub async fn subscribe_queue_wildcard(
        &mut self,
        spec: ConsumerSpec,
    ) -> Result<(WatchId, Vec<ConsumerId>), CoreError> {
        if spec.destination.kind() != DestinationKind::Queue
            || !crate::routing::is_wildcard(spec.destination.name())
        {
            return Err(CoreError::InvalidSubscription(format!(
                "{} is not a wildcard queue",
                spec.destination
            )));
        }
        self.next_watch += 1;
        let watch = WatchId(self.next_watch);
        let existing = self.broker.watch_queues(
            self.id,
            watch,
            spec.destination.name(),
            self.events
                .get_or_insert_with(|| mpsc::channel(WATCH_EVENTS))
                .0
                .clone(),
        );
        self.watches.insert(
            watch,
            Watch {
                spec: spec.clone(),
                queues: existing.iter().cloned().collect(),
            },
        );
        let mut consumers = Vec::with_capacity(existing.len());
        for queue in existing {
            match self
                .subscribe_to(ConsumerSpec {
                    destination: queue,
                    ..spec.clone()
                })
                .await
            {
                Ok(id) => consumers.push(id),
                Err(e) => {
                    self.unwatch(watch);
                    for id in consumers {
                        let _ = self.unsubscribe(id).await;
                    }
                    return Err(e);
                }
            }
        }
        Ok((watch, consumers))
    }

    /// Ends a wildcard queue consumer's growth; its consumers end with
    /// [`Connection::unsubscribe`] (take the added ones first).
    pub fn unwatch(&mut self, watch: WatchId) {
        if self.watches.remove(&watch).is_some() {
            self.broker.unwatch_queues(self.id, watch);
        }
    }

    /// Consumers that wildcard queue consumers gained on newly created queues.
    pub fn take_added_consumers(&mut self) -> Vec<(WatchId, ConsumerId)> {
        std::mem::take(&mut self.added)
    }

    /// A matching queue was created: the watch's consumer joins it. Synchronous (the
    /// Subscribe is queued, not awaited), so [`Connection::recv`] stays cancel-safe.
    fn on_new_queue(&mut self, watch: WatchId, queue: Destination) {
        let Some(w) = self.watches.get_mut(&watch) else {
            return;
        };
        if !w.queues.insert(queue.clone()) {
            return;
        }
        let spec = w.spec.clone();
        let Ok(found) = self.broker.lookup(&queue, Lookup::Existing) else {
            return;
        };
        let id = self.broker.next_consumer_id();
        let reg = self.register(id, &spec);
        let (reply, _) = oneshot::channel();
        crate::actor::send_without_waiting(&found.tx, Command::Subscribe { reg, reply });
        self.consumers.insert(id, ConsumerEntry { tx: found.tx });
        self.added.push((watch, id));
    }

    /// Starts a consumer; deliveries for it arrive through [`Connection::recv`]. A wildcard
    /// queue needs [`Connection::subscribe_queue_wildcard`] instead.
    pub async fn subscribe(&mut self, spec: ConsumerSpec) -> Result<ConsumerId, CoreError> {
        if spec.destination.kind() == DestinationKind::Queue
            && crate::routing::is_wildcard(spec.destination.name())
        {
            return Err(CoreError::InvalidSubscription(
                "a wildcard queue consumer has a consumer per queue: subscribe_queue_wildcard"
                    .into(),
            ));
        }
        if spec.destination.kind() == DestinationKind::Topic
            && crate::routing::is_wildcard(spec.destination.name())
        {
            return self.subscribe_wildcard(spec).await;
        }
        self.subscribe_to(spec).await
    }

    /// A wildcard topic subscription (`news.>`): every matching topic, now or later, copies
    /// its messages to a temporary topic of this connection, which the consumer subscribes
    /// to (so it has one prefetch window whatever the number of topics).
    async fn subscribe_wildcard(&mut self, spec: ConsumerSpec) -> Result<ConsumerId, CoreError> {
        self.next_wildcard += 1;
        let target = self.temp_destination(
            DestinationKind::TempTopic,
            &format!("wildcard-{}", self.next_wildcard),
        );
        let found = self.broker.lookup(&target, Lookup::Create(Some(self.id)))?;
        self.temps.insert(target.clone());
        let wired = self
            .broker
            .add_wildcard(spec.destination.name(), &target, found, None, None);
        // Publications after SUBSCRIBE returns are behind the forwards in each topic's mailbox.
        for done in wired {
            done.await.map_err(|_| CoreError::ShuttingDown)??;
        }
        let id = self
            .subscribe_to(ConsumerSpec {
                destination: target.clone(),
                ..spec
            })
            .await?;
        self.wildcards.insert(id, target);
        Ok(id)
    }

    /// Claims `client_id` for this connection (CONNECT `client-id`). As in ActiveMQ, one
    /// connection at a time may use a client id, since it names durable subscriptions; the
    /// claim ends with the connection.
    pub fn claim_client_id(&mut self, client_id: &str) -> Result<(), CoreError> {
        if self.client_id.as_deref() == Some(client_id) {
            return Ok(());
        }
        {
            let mut ids = self.broker.client_ids();
            match ids.get(client_id) {
                Some(&owner) if owner != self.id => {
                    return Err(CoreError::ClientIdInUse(client_id.to_owned()))
                }
                _ => {
                    ids.insert(client_id.to_owned(), self.id);
                }
            }
        }
        self.release_client_id();
        self.client_id = Some(client_id.to_owned());
        Ok(())
    }

    fn release_client_id(&mut self) {
        if let Some(old) = self.client_id.take() {
            let mut ids = self.broker.client_ids();
            if ids.get(&old) == Some(&self.id) {
                ids.remove(&old);
            }
        }
    }

    /// The client id durable subscriptions are named by: the claimed one, else (as ActiveMQ
    /// does for a STOMP connection without `client-id`) one generated for this connection.
    fn durable_client_id(&self) -> String {
        match &self.client_id {
            Some(id) => id.clone(),
            None => self.temp_prefix.trim_end_matches(':').to_owned(),
        }
    }

    /// Subscribes to the durable subscription `name` of this connection's client id on the
    /// topic `spec.destination`, which may be a wildcard (created when new; replaced,
    /// dropping its messages, when it exists with another topic or selector, as ActiveMQ
    /// does). Messages published while no one is subscribed are kept, persistent ones in the
    /// store; with `spec.no_local`, not those this connection sends. One subscriber at a
    /// time. Without a claimed client id the subscription is named by a generated one that
    /// no later connection can use again, so it is removed when this connection closes
    /// (ActiveMQ keeps such orphans until an offline-subscriber timeout).
    pub async fn subscribe_durable(
        &mut self,
        name: &str,
        spec: ConsumerSpec,
    ) -> Result<ConsumerId, CoreError> {
        let client_id = self.durable_client_id();
        let no_local = spec.no_local.then_some(self.id);
        let queue = self
            .broker
            .ensure_durable(
                &client_id,
                name,
                &spec.destination,
                spec.selector.as_ref(),
                no_local,
            )
            .await?;
        if self.client_id.is_none() && !self.orphans.contains(&queue) {
            self.orphans.push(queue.clone());
        }
        if self.broker.stats(&queue).await?.consumers > 0 {
            return Err(CoreError::DurableInUse(name.to_owned()));
        }
        self.subscribe_to(ConsumerSpec {
            destination: queue,
            // The subscription's selector already chose what it keeps.
            selector: None,
            no_local: false,
            ..spec
        })
        .await
    }

    /// Removes the durable subscription `name` of this connection's client id and every
    /// message it kept. It must have no active subscriber.
    pub async fn unsubscribe_durable(&mut self, name: &str) -> Result<(), CoreError> {
        let queue = crate::routing::durable_queue(&self.durable_client_id(), name);
        self.orphans.retain(|q| *q != queue);
        if let Ok(stats) = self.broker.stats(&queue).await {
            if stats.consumers > 0 {
                return Err(CoreError::DurableInUse(name.to_owned()));
            }
        }
        self.cache.remove(&queue);
        self.broker.remove_durable(&queue).await
    }

    /// What a destination needs to serve consumer `id` of this connection with `spec`.
    fn register(&self, id: ConsumerId, spec: &ConsumerSpec) -> Register {
        Register {
            id,
            conn: self.id,
            tx: self.deliveries_tx.clone(),
            prefetch: spec.prefetch.max(1),
            no_local: spec.no_local,
            max_pending: spec
                .max_pending
                .unwrap_or(self.broker.inner.cfg.topic_pending_limit),
            opts: SlotOptions {
                selector: spec.selector.clone(),
                exclusive: spec.exclusive,
                priority: spec.priority,
            },
        }
    }

    async fn subscribe_to(&mut self, spec: ConsumerSpec) -> Result<ConsumerId, CoreError> {
        let dest = spec.destination.clone();
        if dest.kind().is_temporary() && self.own_temp_name(&dest).is_none() {
            return Err(CoreError::ForeignTempDestination(dest));
        }
        let mailbox = self.mailbox(&dest).await?;
        let id = self.broker.next_consumer_id();
        let reg = self.register(id, &spec);
        let (reply, rx) = oneshot::channel();
        Self::deliver(&mailbox, Command::Subscribe { reg, reply }).await?;
        Self::wait(rx).await?;
        self.consumers.insert(id, ConsumerEntry { tx: mailbox });
        Ok(id)
    }

    /// Queue browsing: the queue's messages in memory (pending, and held unacknowledged by
    /// consumers, as ActiveMQ shows them), in dispatch order, that `selector` selects, with
    /// their redelivery counts, without consuming them. Paged-out messages are not included.
    pub async fn browse(
        &mut self,
        dest: &Destination,
        selector: Option<Arc<jms_model::Selector>>,
    ) -> Result<Vec<(Arc<Message>, u32)>, CoreError> {
        if dest.kind().is_temporary() && self.own_temp_name(dest).is_none() {
            return Err(CoreError::ForeignTempDestination(dest.clone()));
        }
        let mailbox = self.mailbox(dest).await?;
        let (reply, rx) = oneshot::channel();
        Self::deliver(&mailbox, Command::Browse { selector, reply }).await?;
        rx.await.map_err(|_| CoreError::ShuttingDown)
    }

    /// Stops a consumer; what it held unacknowledged goes back to the destination as
    /// redelivered, ahead of newer messages.
    pub async fn unsubscribe(&mut self, id: ConsumerId) -> Result<(), CoreError> {
        let entry = self
            .consumers
            .remove(&id)
            .ok_or(CoreError::UnknownConsumer)?;
        if let Some(target) = self.wildcards.remove(&id) {
            self.broker.remove_wildcard(&target);
            self.temps.remove(&target);
            if let Some(tx) = self.broker.remove(&target) {
                let _ = tx.send(Command::Delete).await;
            }
            return Ok(());
        }
        let (reply, rx) = oneshot::channel();
        Self::deliver(
            &entry.tx,
            Command::Unsubscribe {
                id,
                reply: Some(reply),
            },
        )
        .await?;
        Self::wait(rx).await
    }

    fn consumer(&self, id: ConsumerId) -> Result<&mpsc::Sender<Command>, CoreError> {
        self.consumers
            .get(&id)
            .map(|e| &e.tx)
            .ok_or(CoreError::UnknownConsumer)
    }

    /// Acknowledges a delivery (and every earlier one of that consumer when `cumulative`), or
    /// stages the acknowledgement in transaction `tx`. With `confirm`, returns once the
    /// removal is durable, so an acknowledged message never comes back after a crash.
    pub async fn ack(
        &mut self,
        id: ConsumerId,
        tag: DeliveryTag,
        cumulative: bool,
        tx: Option<&str>,
        confirm: bool,
    ) -> Result<(), CoreError> {
        let mailbox = self.consumer(id)?.clone();
        if let Some(t) = tx {
            self.tx_ops(t)?.push(TxOp::Ack {
                id,
                tag,
                cumulative,
            });
            // Acked-in-transaction deliveries free prefetch at once, as in ActiveMQ.
            return Self::deliver(
                &mailbox,
                Command::TxMark {
                    id,
                    tag,
                    cumulative,
                    hold: true,
                },
            )
            .await;
        }
        let (reply, rx) = if confirm {
            let (tx, rx) = oneshot::channel();
            (Some(tx), Some(rx))
        } else {
            (None, None)
        };
        Self::deliver(
            &mailbox,
            Command::Ack {
                id,
                tag,
                cumulative,
                reply,
            },
        )
        .await?;
        match rx {
            Some(rx) => Self::wait(rx).await,
            None => Ok(()),
        }
    }

    /// Gives a delivery back for redelivery, or stages that in transaction `tx`.
    pub async fn nack(
        &mut self,
        id: ConsumerId,
        tag: DeliveryTag,
        tx: Option<&str>,
    ) -> Result<(), CoreError> {
        let mailbox = self.consumer(id)?.clone();
        if let Some(t) = tx {
            self.tx_ops(t)?.push(TxOp::Nack { id, tag });
            return Ok(());
        }
        Self::deliver(
            &mailbox,
            Command::Nack {
                id,
                tag,
                reply: None,
            },
        )
        .await
    }

    /// The staged operations of open transaction `tx`, with room for one more: a transaction
    /// already holding `max_transaction_ops` operations is refused, so one client cannot grow
    /// its transaction without bound.
    fn tx_ops(&mut self, tx: &str) -> Result<&mut Vec<TxOp>, CoreError> {
        let limit = self.broker.inner.cfg.max_transaction_ops;
        let ops = self
            .txs
            .get_mut(tx)
            .ok_or_else(|| CoreError::UnknownTransaction(tx.to_owned()))?;
        if ops.len() >= limit {
            return Err(CoreError::TransactionTooLarge { limit });
        }
        Ok(ops)
    }

    /// True while transaction `tx` is open.
    pub fn has_transaction(&self, tx: &str) -> bool {
        self.txs.contains_key(tx)
    }

    /// Opens transaction `tx`.
    pub fn begin(&mut self, tx: &str) -> Result<(), CoreError> {
        if self.txs.contains_key(tx) {
            return Err(CoreError::TransactionExists(tx.to_owned()));
        }
        self.txs.insert(tx.to_owned(), Vec::new());
        Ok(())
    }

    fn end_transaction(&mut self, tx: &str) -> Result<Vec<TxOp>, CoreError> {
        self.txs
            .remove(tx)
            .ok_or_else(|| CoreError::UnknownTransaction(tx.to_owned()))
    }

    /// Commits `tx`: its stored sends and acknowledgements become durable in one atomic
    /// write; only then do its messages reach their destinations and its NACKs apply.
    pub async fn commit(&mut self, tx: &str) -> Result<(), CoreError> {
        let ops = self.end_transaction(tx)?;
        // Store flow control before anything is consumed: a refusal must leave the
        // transaction's acknowledged messages where they were.
        let stores = ops.iter().any(|op| {
            matches!(op, TxOp::Send(m) if m.persistent && DestinationActor::persists(&m.destination))
        });
        if stores {
            if let Err(e) = self.wait_for_store_room().await {
                self.release_tx_acks(ops).await;
                return Err(e);
            }
        }
        let mut batch = Batch::new();
        let mut sends = Vec::new();
        let mut nacks = Vec::new();
        for op in ops {
            match op {
                TxOp::Send(msg) => {
                    // Resolve (and record) the destination before its messages are stored.
                    let policy = self.mailbox_with_policy(&msg.destination).await?.policy;
                    let at = schedule::first_placement(&msg, &policy, self.broker.now_ms())?;
                    let seq = self.broker.next_seq();
                    if let Some(op) = Self::put_record(&msg, seq, at) {
                        batch.push(op);
                    }
                    sends.push((*msg, seq, at));
                }
                TxOp::Ack {
                    id,
                    tag,
                    cumulative,
                } => {
                    let Ok(mailbox) = self.consumer(id) else {
                        continue;
                    };
                    let mailbox = mailbox.clone();
                    let (reply, rx) = oneshot::channel();
                    Self::deliver(
                        &mailbox,
                        Command::Consume {
                            id,
                            tag,
                            cumulative,
                            reply,
                        },
                    )
                    .await?;
                    batch
                        .ops
                        .extend(rx.await.map_err(|_| CoreError::ShuttingDown)?);
                }
                TxOp::Nack { id, tag } => nacks.push((id, tag)),
            }
        }
        let (durable, rx) = oneshot::channel();
        self.broker.inner.writer.write(batch, vec![durable]).await;
        Self::wait(rx).await?;
        for (msg, seq, at) in sends {
            let mailbox = self.mailbox(&msg.destination).await?;
            Self::deliver(
                &mailbox,
                Command::Send {
                    msg: Arc::new(msg),
                    seq,
                    at,
                    redeliveries: 0,
                    reply: None,
                },
            )
            .await?;
        }
        for (id, tag) in nacks {
            if let Ok(mailbox) = self.consumer(id) {
                let mailbox = mailbox.clone();
                Self::deliver(
                    &mailbox,
                    Command::Nack {
                        id,
                        tag,
                        reply: None,
                    },
                )
                .await?;
            }
        }
        Ok(())
    }

    /// Discards every operation staged in `tx`; deliveries it acknowledged are unacknowledged
    /// again (still held by their consumer).
    pub async fn abort(&mut self, tx: &str) -> Result<(), CoreError> {
        let ops = self.end_transaction(tx)?;
        self.release_tx_acks(ops).await;
        Ok(())
    }

    async fn release_tx_acks(&mut self, ops: Vec<TxOp>) {
        for op in ops {
            if let TxOp::Ack {
                id,
                tag,
                cumulative,
            } = op
            {
                if let Ok(mailbox) = self.consumer(id) {
                    let mailbox = mailbox.clone();
                    let _ = Self::deliver(
                        &mailbox,
                        Command::TxMark {
                            id,
                            tag,
                            cumulative,
                            hold: false,
                        },
                    )
                    .await;
                }
            }
        }
    }

    /// The next delivery for any of this connection's consumers. Cancel-safe.
    pub async fn recv(&mut self) -> Option<Delivery> {
        loop {
            tokio::select! {
                biased;
                Some((watch, queue)) = next_event(&mut self.events) => {
                    self.on_new_queue(watch, queue)
                }
                d = self.deliveries_rx.recv() => return d,
            }
        }
    }

    /// A delivery if one is ready.
    pub fn try_recv(&mut self) -> Option<Delivery> {
        while let Some(Ok((watch, queue))) = self.events.as_mut().map(|(_, rx)| rx.try_recv()) {
            self.on_new_queue(watch, queue);
        }
        self.deliveries_rx.try_recv().ok()
    }

    /// Ends the connection: open transactions roll back, unacknowledged deliveries go back to
    /// their destinations, temporary destinations are deleted.
    pub async fn close(mut self) {
        self.release().await;
    }

    /// What [`Connection::close`] does, keeping the (now inert) handle; idempotent.
    pub async fn release(&mut self) {
        if self.closed {
            return;
        }
        self.closed = true;
        let cleanup = self.take_cleanup();
        cleanup.run().await;
    }

    fn take_cleanup(&mut self) -> Cleanup {
        self.txs.clear();
        self.release_client_id();
        for watch in std::mem::take(&mut self.watches).into_keys() {
            self.broker.unwatch_queues(self.id, watch);
        }
        Cleanup {
            broker: self.broker.clone(),
            conn: self.id,
            consumers: self.consumers.drain().map(|(id, e)| (id, e.tx)).collect(),
            temps: std::mem::take(&mut self.temps),
            wildcards: self.wildcards.drain().map(|(_, t)| t).collect(),
            orphans: std::mem::take(&mut self.orphans),
        }
    }
}

impl Drop for Connection {
    fn drop(&mut self) {
        if self.closed {
            return;
        }
        let cleanup = self.take_cleanup();
        if let Ok(rt) = tokio::runtime::Handle::try_current() {
            rt.spawn(cleanup.run());
        }
    }
}

/// What a closing connection must release.
struct Cleanup {
    broker: Broker,
    conn: ConnectionId,
    consumers: Vec<(ConsumerId, mpsc::Sender<Command>)>,
    temps: HashSet<Destination>,
    wildcards: Vec<Destination>,
    orphans: Vec<Destination>,
}

impl Cleanup {
    async fn run(self) {
        for target in &self.wildcards {
            self.broker.remove_wildcard(target);
        }
        for (id, tx) in self.consumers {
            let _ = tx.send(Command::Unsubscribe { id, reply: None }).await;
            // Catches consumers registered by a subscribe that was cancelled mid-way.
            let _ = tx.send(Command::ConnectionClosed { conn: self.conn }).await;
        }
        for dest in self.temps {
            if let Some(tx) = self.broker.remove(&dest) {
                let _ = tx.send(Command::Delete).await;
            }
        }
        // After the unsubscribes above, which the queue handles first.
        for queue in self.orphans {
            if let Err(e) = self.broker.remove_durable(&queue).await {
                tracing::debug!(queue = %queue, error = %e, "removing a client-less durable subscription");
            }
        }
    }
}
