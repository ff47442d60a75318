//! The STOMP session state machine, sans-IO: frames and deliveries in, frames out, time as a
//! parameter. The connection task in `broker-net` owns the socket and calls these methods.
//!
//! ```text
//!   AwaitingConnect ──CONNECT/STOMP ok──▶ Connected ──DISCONNECT / error / timeout──▶ Closing
//!         │                                                                       ▲
//!         └────────────── bad first frame / version / connect timeout ────────────┘
//! ```
//! In `Closing` the task flushes what [`StompSession::poll_transmit`] still yields (the
//! RECEIPT or ERROR) and closes the socket.

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant};

use broker_core::{
    Connection, ConsumerId, ConsumerSpec, CoreError, Delivery, DeliveryTag, Destination, WatchId,
};
use stomp_codec::{heart_beat_period, Command, Frame, Version};

use crate::mapping::{
    browse_end_frame, message_frame, message_from_send, parse_destination, parse_destinations,
};
use crate::StompError;
use jms_model::Selector;

/// Session settings (the `[stomp]` section of the config, resolved).
#[derive(Debug, Clone)]
pub struct StompConfig {
    /// Read heart-beat grace: the broker drops a client whose heart-beats are this many
    /// intervals late (ActiveMQ `transport.hbGracePeriodMultiplier`; values below 1 mean 1).
    pub hb_grace_multiplier: f64,
    /// Smallest interval the broker sends heart-beats at, in ms.
    pub min_server_heartbeat_ms: u32,
    /// Smallest client heart-beat interval the broker asks for, in ms.
    pub min_client_heartbeat_ms: u32,
    /// How long a new connection may take to send CONNECT.
    pub connect_timeout: Duration,
    /// Prefetch when SUBSCRIBE has no `activemq.prefetchSize` (ActiveMQ: 1000).
    pub default_prefetch: u32,
    /// The `server` header of CONNECTED.
    pub server_name: String,
}

impl Default for StompConfig {
    fn default() -> Self {
        Self {
            hb_grace_multiplier: 1.5,
            min_server_heartbeat_ms: 1_000,
            min_client_heartbeat_ms: 1_000,
            connect_timeout: Duration::from_secs(10),
            default_prefetch: 1000,
            server_name: concat!("ferromq/", env!("CARGO_PKG_VERSION")).to_owned(),
        }
    }
}

/// What the connection task writes next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outgoing {
    /// A frame.
    Frame(Frame),
    /// A heart-beat EOL.
    HeartBeat,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum AckMode {
    Auto,
    Client,
    ClientIndividual,
}

/// One STOMP subscription: one core consumer, or one per destination of a composite
/// (`/queue/a,/queue/b`).
#[derive(Debug)]
struct Subscription {
    consumers: Vec<ConsumerId>,
    /// Wildcard queue elements (`/queue/orders.>`): they gain consumers as queues appear.
    watches: Vec<WatchId>,
    ack: AckMode,
    /// Unacknowledged deliveries in the order they were sent (the order a cumulative `client`
    /// ACK covers), and message id → that position.
    unacked: BTreeMap<u64, Unacked>,
    by_id: HashMap<Arc<str>, u64>,
    next_seq: u64,
}

#[derive(Debug)]
struct Unacked {
    consumer: ConsumerId,
    tag: DeliveryTag,
    id: Arc<str>,
}

impl Subscription {
    fn new(consumers: Vec<ConsumerId>, watches: Vec<WatchId>, ack: AckMode) -> Self {
        Self {
            consumers,
            watches,
            ack,
            unacked: BTreeMap::new(),
            by_id: HashMap::new(),
            next_seq: 0,
        }
    }

    /// The core acknowledgements that acknowledge the delivery at `seq` (and, `cumulative`,
    /// every earlier one): per consumer, its latest delivery among them. A consumer's tags
    /// grow in delivery order, so its cumulative ACK covers exactly its part.
    fn core_acks(&self, seq: u64, cumulative: bool) -> Vec<(ConsumerId, DeliveryTag)> {
        if !cumulative {
            return self
                .unacked
                .get(&seq)
                .map(|u| vec![(u.consumer, u.tag)])
                .unwrap_or_default();
        }
        let mut latest: Vec<(ConsumerId, DeliveryTag)> = Vec::new();
        for u in self.unacked.range(..=seq).map(|(_, u)| u) {
            match latest.iter_mut().find(|(c, _)| *c == u.consumer) {
                Some(entry) => entry.1 = entry.1.max(u.tag),
                None => latest.push((u.consumer, u.tag)),
            }
        }
        latest
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    AwaitingConnect,
    Connected,
    Closing,
}

/// One STOMP client's session.
#[derive(Debug)]
pub struct StompSession {
    conn: Connection,
    cfg: Arc<StompConfig>,
    state: State,
    version: Option<Version>,
    outbox: VecDeque<Outgoing>,
    subs: HashMap<String, Subscription>,
    by_consumer: HashMap<ConsumerId, String>,
    by_watch: HashMap<WatchId, String>,
    /// Browser subscriptions (`browser:true`): already answered, kept so UNSUBSCRIBE works.
    browsers: HashSet<String>,
    /// Frames that follow the current frame's RECEIPT (a browse's MESSAGEs: ActiveMQ confirms
    /// the SUBSCRIBE before it sends them).
    after_receipt: Vec<Outgoing>,
    /// CONNECT `client-id`: names this client's durable subscriptions.
    client_id: Option<String>,
    /// ACK/NACKs staged per open transaction: the deliveries stay tracked (and can be
    /// acknowledged again after an ABORT) until the COMMIT succeeds.
    tx_acks: HashMap<String, Vec<(String, u64, bool)>>,
    created: Instant,
    last_read: Instant,
    last_write: Instant,
    /// Interval at which the broker sends heart-beats.
    send_every: Option<Duration>,
    /// Silence after which the client is considered dead (interval × grace).
    read_timeout: Option<Duration>,
}

impl StompSession {
    /// A session for a freshly accepted connection.
    pub fn new(conn: Connection, cfg: Arc<StompConfig>, now: Instant) -> Self {
        Self {
            conn,
            cfg,
            state: State::AwaitingConnect,
            version: None,
            outbox: VecDeque::new(),
            subs: HashMap::new(),
            by_consumer: HashMap::new(),
            by_watch: HashMap::new(),
            browsers: HashSet::new(),
            after_receipt: Vec::new(),
            client_id: None,
            tx_acks: HashMap::new(),
            created: now,
            last_read: now,
            last_write: now,
            send_every: None,
            read_timeout: None,
        }
    }

    /// The negotiated version, once CONNECTED was queued.
    pub fn version(&self) -> Option<Version> {
        self.version
    }

    /// True once the session has ended: flush [`Self::poll_transmit`], then close the socket.
    pub fn is_closing(&self) -> bool {
        self.state == State::Closing
    }

    /// True while deliveries should be taken from the core.
    pub fn is_connected(&self) -> bool {
        self.state == State::Connected
    }

    /// Records that bytes (a frame or a heart-beat) arrived.
    pub fn note_read(&mut self, now: Instant) {
        self.last_read = now;
    }

    /// Records that bytes were written.
    pub fn note_written(&mut self, now: Instant) {
        self.last_write = now;
    }

    /// The next thing to write.
    pub fn poll_transmit(&mut self) -> Option<Outgoing> {
        self.outbox.pop_front()
    }

    /// When [`Self::handle_timeout`] must run next.
    pub fn poll_timeout(&self) -> Option<Instant> {
        match self.state {
            State::AwaitingConnect => Some(self.created + self.cfg.connect_timeout),
            State::Connected => {
                let read = self.read_timeout.map(|t| self.last_read + t);
                let write = self.send_every.map(|t| self.last_write + t);
                match (read, write) {
                    (Some(a), Some(b)) => Some(a.min(b)),
                    (a, b) => a.or(b),
                }
            }
            State::Closing => None,
        }
    }

    /// Sends a due heart-beat, or ends a session whose peer went silent.
    pub fn handle_timeout(&mut self, now: Instant) {
        match self.state {
            State::AwaitingConnect => {
                if now >= self.created + self.cfg.connect_timeout {
                    tracing::debug!("no CONNECT within the connect timeout");
                    // ActiveMQ closes silently here; an ERROR tells a confused client why.
                    self.fail_with(
                        "Connection timed out: no CONNECT frame received".to_owned(),
                        None,
                    );
                }
            }
            State::Connected => {
                if let Some(t) = self.read_timeout {
                    if now >= self.last_read + t {
                        tracing::debug!(timeout_ms = t.as_millis() as u64, "heart-beat timeout");
                        // The peer is presumed dead; nothing is sent (as ActiveMQ).
                        self.state = State::Closing;
                        self.outbox.clear();
                        return;
                    }
                }
                if let Some(t) = self.send_every {
                    if now >= self.last_write + t && self.outbox.is_empty() {
                        self.outbox.push_back(Outgoing::HeartBeat);
                        // Counted as written now so a slow flush does not queue a second one.
                        self.last_write = now;
                    }
                }
            }
            State::Closing => {}
        }
    }

    /// Handles bytes the codec rejected: ERROR, then close.
    pub fn handle_codec_error(&mut self, err: stomp_codec::CodecError) {
        self.fail(StompError::Codec(err), None);
    }

    /// Handles one frame from the client.
    pub async fn handle_frame(&mut self, frame: Frame, now: Instant) {
        self.last_read = now;
        if self.state == State::Closing {
            return;
        }
        let receipt = frame.headers.receipt().map(str::to_owned);
        let command = frame.command;
        let result = match self.state {
            State::AwaitingConnect => match command {
                Command::Connect | Command::Stomp => self.on_connect(&frame),
                _ => Err(StompError::NotConnected),
            },
            _ => self.dispatch(frame).await,
        };
        match result {
            Ok(()) => {
                if let Some(r) = receipt {
                    if command != Command::Connect && command != Command::Stomp {
                        self.outbox.push_back(Outgoing::Frame(
                            Frame::new(Command::Receipt).header("receipt-id", r),
                        ));
                    }
                }
                self.outbox.extend(self.after_receipt.drain(..));
                if command == Command::Disconnect {
                    self.state = State::Closing;
                }
            }
            Err(e) => {
                self.after_receipt.clear();
                self.fail(e, receipt)
            }
        }
    }

    fn fail(&mut self, err: StompError, receipt: Option<String>) {
        tracing::debug!(error = %err, "STOMP protocol error");
        let unsupported = matches!(err, StompError::UnsupportedVersion);
        self.fail_with(err.to_string(), receipt);
        if unsupported {
            // The spec asks for the versions the server supports in a `version` header.
            if let Some(Outgoing::Frame(f)) = self.outbox.back_mut() {
                f.headers.push("version", "1.0,1.1,1.2");
            }
        }
    }

    fn fail_with(&mut self, message: String, receipt: Option<String>) {
        let mut frame = Frame::new(Command::Error).header("message", message.clone());
        if let Some(r) = receipt {
            frame = frame.header("receipt-id", r);
        }
        let mut frame = frame
            .header("content-type", "text/plain")
            .with_body(message.into_bytes());
        frame.set_content_length();
        self.outbox.push_back(Outgoing::Frame(frame));
        self.state = State::Closing;
    }

    fn on_connect(&mut self, frame: &Frame) -> Result<(), StompError> {
        let h = &frame.headers;
        let version = match h.accept_version() {
            None => Version::V1_0,
            Some(list) => {
                Version::negotiate(list, &Version::ALL).ok_or(StompError::UnsupportedVersion)?
            }
        };
        let mut connected = Frame::new(Command::Connected)
            .header("version", version.as_str())
            .header("session", self.conn.id().0.to_string())
            .header("server", self.cfg.server_name.clone());
        if version >= Version::V1_1 {
            let (cx, cy) = match h.heart_beat() {
                None => (0, 0),
                Some(Ok(v)) => v,
                Some(Err(e)) => {
                    return Err(StompError::InvalidHeader {
                        header: "heart-beat",
                        reason: match e {
                            stomp_codec::CodecError::InvalidHeartBeat => {
                                "expected two comma-separated numbers".to_owned()
                            }
                            e => e.to_string(),
                        },
                    })
                }
            };
            // We offer to send at least as often as asked (floored), and ask the client for
            // at least its own promise (floored), so negotiation yields exactly these.
            let sx = if cy == 0 {
                0
            } else {
                cy.max(self.cfg.min_server_heartbeat_ms)
            };
            let sy = if cx == 0 {
                0
            } else {
                cx.max(self.cfg.min_client_heartbeat_ms)
            };
            self.send_every = heart_beat_period(sx, cy).map(|ms| Duration::from_millis(ms.into()));
            self.read_timeout = heart_beat_period(cx, sy).map(|ms| {
                let grace = self.cfg.hb_grace_multiplier.max(1.0);
                Duration::from_secs_f64(f64::from(ms) / 1000.0 * grace)
            });
            connected = connected.header("heart-beat", format!("{sx},{sy}"));
        } else {
            // ActiveMQ tells 1.0 clients too that there are no heart-beats.
            connected = connected.header("heart-beat", "0,0");
        }
        self.client_id = h
            .get_str("client-id")
            .map(str::trim)
            .filter(|c| !c.is_empty())
            .map(str::to_owned);
        if let Some(id) = &self.client_id {
            // One connection per client id, as ActiveMQ (InvalidClientIDException).
            self.conn.claim_client_id(id)?;
        }
        self.version = Some(version);
        self.state = State::Connected;
        self.outbox.push_back(Outgoing::Frame(connected));
        Ok(())
    }

    fn require<'a>(frame: &'a Frame, header: &'static str) -> Result<&'a str, StompError> {
        frame
            .headers
            .get_str(header)
            .ok_or(StompError::MissingHeader {
                command: frame.command,
                header,
            })
    }

    fn v(&self) -> Version {
        self.version.unwrap_or(Version::V1_0)
    }

    async fn dispatch(&mut self, frame: Frame) -> Result<(), StompError> {
        let tx = frame.headers.transaction().map(str::to_owned);
        match frame.command {
            Command::Connect | Command::Stomp => Err(StompError::AlreadyConnected),
            Command::Send => self.on_send(frame, tx).await,
            Command::Subscribe => self.on_subscribe(&frame).await,
            Command::Unsubscribe => self.on_unsubscribe(&frame).await,
            Command::Ack => self.on_ack(&frame, tx, true).await,
            // STOMP 1.0 has no NACK; ActiveMQ answers it with an ERROR too.
            Command::Nack if self.v() == Version::V1_0 => {
                Err(StompError::Unsupported("NACK does not exist in STOMP 1.0"))
            }
            Command::Nack => self.on_ack(&frame, tx, false).await,
            Command::Begin => {
                let t = Self::require(&frame, "transaction")?;
                Ok(self.conn.begin(t)?)
            }
            Command::Commit => {
                let t = Self::require(&frame, "transaction")?.to_owned();
                self.conn.commit(&t).await?;
                for (sub, seq, cumulative) in self.tx_acks.remove(&t).unwrap_or_default() {
                    self.forget_deliveries(&sub, seq, cumulative);
                }
                Ok(())
            }
            Command::Abort => {
                let t = Self::require(&frame, "transaction")?.to_owned();
                self.conn.abort(&t).await?;
                self.tx_acks.remove(&t);
                Ok(())
            }
            Command::Disconnect => Ok(()),
            c @ (Command::Connected | Command::Message | Command::Receipt | Command::Error) => {
                Err(StompError::NotAClientFrame(c))
            }
        }
    }

    async fn on_send(&mut self, frame: Frame, tx: Option<String>) -> Result<(), StompError> {
        let names = Self::require(&frame, "destination")?;
        let confirm = frame.headers.receipt().is_some();
        if !names.contains(',') {
            // The common case, without the composite's list.
            let dest = parse_destination(&self.conn, names)?;
            let msg = message_from_send(&mut self.conn, frame, dest, broker_core::now_ms())?;
            self.conn.send(msg, tx.as_deref(), confirm).await?;
            return Ok(());
        }
        // A composite destination (ActiveMQ): `/queue/a,/topic/b` sends to each.
        let dests = parse_destinations(&self.conn, names)?;
        let msg = message_from_send(
            &mut self.conn,
            frame,
            dests[0].clone(),
            broker_core::now_ms(),
        )?;
        if dests.len() == 1 {
            self.conn.send(msg, tx.as_deref(), confirm).await?;
        } else {
            self.conn
                .send_composite(msg, &dests, tx.as_deref(), confirm)
                .await?;
        }
        Ok(())
    }

    async fn on_subscribe(&mut self, frame: &Frame) -> Result<(), StompError> {
        let dest_name = Self::require(frame, "destination")?;
        let id = match frame.headers.id() {
            Some(id) => id.to_owned(),
            // STOMP 1.0 makes `id` optional; the destination then names the subscription.
            None if self.v() == Version::V1_0 => dest_name.to_owned(),
            None => {
                return Err(StompError::MissingHeader {
                    command: Command::Subscribe,
                    header: "id",
                })
            }
        };
        let ack = match frame.headers.ack().unwrap_or("auto") {
            "auto" => AckMode::Auto,
            "client" => AckMode::Client,
            "client-individual" => AckMode::ClientIndividual,
            other => {
                return Err(StompError::InvalidHeader {
                    header: "ack",
                    reason: format!("'{other}' is not auto, client or client-individual"),
                })
            }
        };
        let selector = match frame.headers.get_str("selector") {
            // An empty selector selects everything (JMS).
            None => None,
            Some(text) if text.trim().is_empty() => None,
            // STOMP headers are strings: like ActiveMQ, compare them as numbers (booleans)
            // where the selector does (`weight > 2500` selects `weight:3000`).
            Some(text) => Some(Arc::new(Selector::parse_converting(text).map_err(|e| {
                StompError::InvalidHeader {
                    header: "selector",
                    reason: e.to_string(),
                }
            })?)),
        };
        let exclusive = frame
            .headers
            .get("activemq.exclusive")
            .is_some_and(|v| v.eq_ignore_ascii_case(b"true"));
        // ActiveMQ's consumer priority is a byte: a value that is not one (500, "high") is
        // ignored there, leaving the default 0, so it is here too.
        let priority = frame
            .headers
            .get_str("activemq.priority")
            .and_then(|p| p.trim().parse::<i8>().ok())
            .map_or(0, i32::from);
        let durable = durable_name(frame).map(str::to_owned);
        let browser = frame
            .headers
            .get("browser")
            .is_some_and(|v| v.eq_ignore_ascii_case(b"true"));
        let composite = dest_name.contains(',');
        if composite && (browser || durable.is_some()) {
            return Err(StompError::Unsupported(
                "a composite destination cannot be browsed or durably subscribed",
            ));
        }
        if browser {
            return self.browse(dest_name, id, selector).await;
        }
        let prefetch = match frame.headers.get_str("activemq.prefetchSize") {
            None => self.cfg.default_prefetch,
            Some(p) => match p.trim().parse::<i64>() {
                // STOMP does not support 0 (pull); treat it and negatives as 1.
                Ok(n) => n.clamp(1, i64::from(u32::MAX)) as u32,
                Err(_) => {
                    return Err(StompError::InvalidHeader {
                        header: "activemq.prefetchSize",
                        reason: format!("'{p}' is not a number"),
                    })
                }
            },
        };
        let no_local = frame
            .headers
            .get("activemq.noLocal")
            .is_some_and(|v| v.eq_ignore_ascii_case(b"true"));
        let max_pending = match frame.headers.get_str("activemq.maximumPendingMessageLimit") {
            None => None,
            Some(p) => match p.trim().parse::<i64>() {
                // ActiveMQ: zero or a negative limit means "no extra limit".
                Ok(n) if n > 0 => Some(n as usize),
                Ok(_) => None,
                Err(_) => {
                    return Err(StompError::InvalidHeader {
                        header: "activemq.maximumPendingMessageLimit",
                        reason: format!("'{p}' is not a number"),
                    })
                }
            },
        };
        if self.subs.contains_key(&id) {
            // ActiveMQ accepts a duplicate id silently; keep the first subscription.
            return Ok(());
        }
        // A composite destination (ActiveMQ): one consumer per destination, each with the
        // subscription's options, behind one subscription id.
        let destinations = parse_destinations(&self.conn, dest_name)?;
        let spec = |destination| ConsumerSpec {
            destination,
            prefetch,
            no_local,
            max_pending,
            selector: selector.clone(),
            exclusive,
            priority,
        };
        let (consumers, watches) = match durable {
            // A durable subscription name makes a topic subscription durable; ActiveMQ
            // refuses it on a queue.
            Some(_) if destinations[0].kind().is_queue() => {
                return Err(StompError::Unsupported(
                    "Invalid Subscription: cannot durably subscribe to a Queue destination",
                ))
            }
            Some(name) if destinations[0].kind() == broker_core::DestinationKind::Topic => {
                let spec = spec(destinations[0].clone());
                (
                    vec![self.conn.subscribe_durable(&name, spec).await?],
                    Vec::new(),
                )
            }
            _ => self.subscribe_each(destinations, spec).await?,
        };
        for &w in &watches {
            self.by_watch.insert(w, id.clone());
        }
        for &c in &consumers {
            self.by_consumer.insert(c, id.clone());
        }
        self.subs
            .insert(id, Subscription::new(consumers, watches, ack));
        Ok(())
    }

    /// Subscribes to each destination with the options of `spec`; a wildcard queue
    /// (`/queue/orders.>`) gets a consumer on every matching queue, also on later ones. All
    /// or nothing.
    async fn subscribe_each(
        &mut self,
        destinations: Vec<Destination>,
        spec: impl Fn(Destination) -> ConsumerSpec,
    ) -> Result<(Vec<ConsumerId>, Vec<WatchId>), StompError> {
        let mut consumers = Vec::with_capacity(destinations.len());
        let mut watches = Vec::new();
        for d in destinations {
            let wildcard_queue = d.kind() == broker_core::DestinationKind::Queue
                && broker_core::is_wildcard(d.name());
            let result = if wildcard_queue {
                self.conn
                    .subscribe_queue_wildcard(spec(d))
                    .await
                    .map(|(w, cs)| {
                        watches.push(w);
                        consumers.extend(cs);
                    })
            } else {
                self.conn
                    .subscribe(spec(d))
                    .await
                    .map(|c| consumers.push(c))
            };
            if let Err(e) = result {
                for w in watches {
                    self.conn.unwatch(w);
                }
                let orphans = self.absorb_added_consumers();
                for c in consumers.into_iter().chain(orphans) {
                    let _ = self.conn.unsubscribe(c).await;
                }
                return Err(e.into());
            }
        }
        Ok((consumers, watches))
    }

    /// Adds the consumers wildcard queue subscriptions gained on new queues (the core
    /// reports them before their first delivery). Those of a subscription that is gone (or
    /// failed to start) are unsubscribed by the caller's loop or left to the connection's
    /// cleanup.
    fn absorb_added_consumers(&mut self) -> Vec<ConsumerId> {
        let mut orphans = Vec::new();
        for (watch, consumer) in self.conn.take_added_consumers() {
            match self
                .by_watch
                .get(&watch)
                .and_then(|id| self.subs.get_mut(id).map(|s| (id, s)))
            {
                Some((id, sub)) => {
                    sub.consumers.push(consumer);
                    self.by_consumer.insert(consumer, id.clone());
                }
                None => orphans.push(consumer),
            }
        }
        orphans
    }

    /// A browser subscription (`browser:true`, STOMP 1.1+): the queue's messages as MESSAGE
    /// frames, not consumed, then one MESSAGE with `browser:end`, as ActiveMQ ends a browse.
    async fn browse(
        &mut self,
        dest_name: &str,
        id: String,
        selector: Option<Arc<Selector>>,
    ) -> Result<(), StompError> {
        if self.v() == Version::V1_0 {
            return Err(StompError::Unsupported(
                "browser subscriptions need STOMP 1.1 or later",
            ));
        }
        let destination = parse_destination(&self.conn, dest_name)?;
        if !destination.kind().is_queue() {
            return Err(StompError::Unsupported("only queues can be browsed"));
        }
        if broker_core::is_wildcard(destination.name()) {
            return Err(StompError::Unsupported(
                "a wildcard queue cannot be browsed; browse each queue",
            ));
        }
        if self.subs.contains_key(&id) || self.browsers.contains(&id) {
            return Ok(());
        }
        let seen = self.conn.browse(&destination, selector).await?;
        for (message, redeliveries) in seen {
            let d = Delivery {
                consumer: ConsumerId(0),
                tag: DeliveryTag(0),
                message,
                redeliveries,
            };
            let frame = message_frame(&self.conn, &d, &id, false);
            self.after_receipt.push(Outgoing::Frame(frame));
        }
        self.after_receipt.push(Outgoing::Frame(browse_end_frame(
            &self.conn,
            &destination,
            &id,
        )));
        self.browsers.insert(id);
        Ok(())
    }

    async fn on_unsubscribe(&mut self, frame: &Frame) -> Result<(), StompError> {
        let id = match frame.headers.id() {
            Some(id) => id.to_owned(),
            None if self.v() == Version::V1_0 => Self::require(frame, "destination")?.to_owned(),
            None => {
                return Err(StompError::MissingHeader {
                    command: Command::Unsubscribe,
                    header: "id",
                })
            }
        };
        if self.browsers.remove(&id) {
            return Ok(());
        }
        // UNSUBSCRIBE naming the durable subscription removes it (ActiveMQ), also from a
        // connection that is not subscribed to it.
        let durable = durable_name(frame).map(str::to_owned);
        let orphans = self.absorb_added_consumers();
        for c in orphans {
            let _ = self.conn.unsubscribe(c).await;
        }
        match self.subs.remove(&id) {
            Some(sub) => {
                for w in sub.watches {
                    self.by_watch.remove(&w);
                    self.conn.unwatch(w);
                }
                for c in sub.consumers {
                    self.by_consumer.remove(&c);
                    self.conn.unsubscribe(c).await?;
                }
            }
            None if durable.is_some() => {}
            None => return Err(StompError::UnknownSubscription(id)),
        }
        if let Some(name) = durable {
            self.conn.unsubscribe_durable(&name).await?;
        }
        Ok(())
    }

    /// ACK (`ack = true`) or NACK in the version's form: 1.2 `id`; 1.1 `subscription` +
    /// `message-id`; 1.0 `message-id`.
    async fn on_ack(
        &mut self,
        frame: &Frame,
        tx: Option<String>,
        ack: bool,
    ) -> Result<(), StompError> {
        // With a receipt the ACK is answered only once its removal is durable.
        let confirm = frame.headers.receipt().is_some();
        let (msg_id, sub_id) = match self.v() {
            Version::V1_2 => (Self::require(frame, "id")?, frame.headers.subscription()),
            Version::V1_1 => (
                Self::require(frame, "message-id")?,
                Some(Self::require(frame, "subscription")?),
            ),
            Version::V1_0 => (
                Self::require(frame, "message-id")?,
                frame.headers.subscription(),
            ),
        };
        let (sub_key, seq) = match sub_id {
            Some(s) => {
                let sub = self
                    .subs
                    .get(s)
                    .ok_or_else(|| StompError::UnknownSubscription(s.to_owned()))?;
                let seq = *sub
                    .by_id
                    .get(msg_id)
                    .ok_or_else(|| StompError::UnknownMessage(msg_id.to_owned()))?;
                (s.to_owned(), seq)
            }
            None => self
                .subs
                .iter()
                .find_map(|(k, s)| s.by_id.get(msg_id).map(|t| (k.clone(), *t)))
                .ok_or_else(|| StompError::UnknownMessage(msg_id.to_owned()))?,
        };
        let Some(sub) = self.subs.get(&sub_key) else {
            return Err(StompError::UnknownSubscription(sub_key));
        };
        // A NACK affects only the named message, even in cumulative `client` mode.
        let cumulative = ack && sub.ack == AckMode::Client;
        let core_acks = sub.core_acks(seq, cumulative);
        match tx.as_deref() {
            Some(t) => {
                // Unknown transactions are the core's error to report (below).
                if let Some(staged) = self.tx_acks.get_mut(t) {
                    staged.push((sub_key.clone(), seq, cumulative));
                } else if self.conn.has_transaction(t) {
                    self.tx_acks
                        .insert(t.to_owned(), vec![(sub_key.clone(), seq, cumulative)]);
                }
            }
            None => self.forget_deliveries(&sub_key, seq, cumulative),
        }
        for (consumer, tag) in core_acks {
            let result = if ack {
                self.conn
                    .ack(consumer, tag, cumulative, tx.as_deref(), confirm)
                    .await
            } else {
                self.conn.nack(consumer, tag, tx.as_deref()).await
            };
            result.map_err(|e| match e {
                CoreError::UnknownConsumer => StompError::UnknownSubscription(sub_key.clone()),
                e => StompError::Core(e),
            })?;
        }
        Ok(())
    }

    /// Stops tracking acknowledged (or NACKed) deliveries of subscription `sub`.
    fn forget_deliveries(&mut self, sub: &str, seq: u64, cumulative: bool) {
        let Some(sub) = self.subs.get_mut(sub) else {
            return;
        };
        if cumulative {
            let rest = sub.unacked.split_off(&(seq + 1));
            for u in std::mem::replace(&mut sub.unacked, rest).into_values() {
                sub.by_id.remove(&u.id);
            }
        } else if let Some(u) = sub.unacked.remove(&seq) {
            sub.by_id.remove(&u.id);
        }
    }

    /// The next delivery from the core. Cancel-safe; pends forever when not connected.
    pub async fn next_delivery(&mut self) -> Option<Delivery> {
        self.conn.recv().await
    }

    /// A delivery if one is ready, for draining a batch before one flush.
    pub fn try_next_delivery(&mut self) -> Option<Delivery> {
        self.conn.try_recv()
    }

    /// Turns a delivery into a MESSAGE frame (auto-ack subscriptions acknowledge it now, as
    /// ActiveMQ does on dispatch).
    pub async fn handle_delivery(&mut self, d: Delivery) {
        if self.state != State::Connected {
            return;
        }
        if !self.by_consumer.contains_key(&d.consumer) {
            for c in self.absorb_added_consumers() {
                let _ = self.conn.unsubscribe(c).await;
            }
        }
        let Some(sub_id) = self.by_consumer.get(&d.consumer) else {
            // Unsubscribed while this delivery was in flight; the core requeued it.
            return;
        };
        let Some(sub) = self.subs.get(sub_id) else {
            return;
        };
        // As ActiveMQ: the 1.2 `ack` header only where the client must acknowledge.
        let ack_header = self.v() == Version::V1_2 && sub.ack != AckMode::Auto;
        let frame = message_frame(&self.conn, &d, sub_id, ack_header);
        let Some(sub) = self.subs.get_mut(sub_id) else {
            return;
        };
        if sub.ack == AckMode::Auto {
            if let Err(e) = self.conn.ack(d.consumer, d.tag, false, None, false).await {
                tracing::debug!(error = %e, "auto-ack failed");
            }
        } else {
            let seq = sub.next_seq;
            sub.next_seq += 1;
            sub.unacked.insert(
                seq,
                Unacked {
                    consumer: d.consumer,
                    tag: d.tag,
                    id: Arc::clone(&d.message.id),
                },
            );
            sub.by_id.insert(Arc::clone(&d.message.id), seq);
        }
        self.outbox.push_back(Outgoing::Frame(frame));
    }

    /// Ends the session: transactions roll back, unacknowledged messages return to their
    /// queues, temporary destinations go away.
    pub async fn finish(mut self) {
        self.release().await;
    }

    /// What [`Self::finish`] does, before the last frames are written: the RECEIPT of a
    /// DISCONNECT then tells the client its unacknowledged messages are back in their queues
    /// (ActiveMQ answers only after removing the connection too).
    pub async fn release(&mut self) {
        self.conn.release().await;
    }
}

/// The durable subscription name of a SUBSCRIBE/UNSUBSCRIBE: Artemis's and ActiveMQ's header
/// names, in Artemis's order of precedence.
fn durable_name(frame: &Frame) -> Option<&str> {
    [
        "durable-subscription-name",
        "durable-subscriber-name",
        "activemq.subscriptionName",
    ]
    .iter()
    .find_map(|h| frame.headers.get_str(h))
    .map(str::trim)
    .filter(|n| !n.is_empty())
}
