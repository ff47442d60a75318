//! wildcard-fanout: S wildcard topic subscriptions spread over a few connections (STOMP allows
//! many SUBSCRIBE ids per connection), half of them `<prefix>.<g>.>` and half
//! `<prefix>.*.<x>`; one producer publishes M non-persistent messages round-robin over the
//! T = A × B topics `<prefix>.<a>.<b>`. Message on `<prefix>.<a>.<b>` matches every
//! subscription with g = a or x = b, a number known in advance, so every subscription's
//! delivery count is checked exactly.

use std::net::SocketAddr;
use std::time::Duration;

use bytes::Bytes;
use stomp_codec::{Command, Frame};
use tokio::task::JoinSet;
use tokio::time::Instant;

use crate::client::{describe, Conn, Reader, Writer};
use crate::process::{Cpu, CpuMeter};
use crate::scenario::{body, send_pipelined};
use crate::selector::UNBOUNDED;
use crate::watchdog::{self, Watchdog, TICK};
use crate::Error;

#[derive(Debug, Clone)]
pub struct Params {
    /// The topics' first name, new for the run.
    pub prefix: String,
    pub subscriptions: usize,
    pub connections: usize,
    /// Topic grid: `<prefix>.<a>.<b>` for a < `a`, b < `b`.
    pub a: u32,
    pub b: u32,
    pub messages: u64,
    pub size: usize,
    pub prefetch: u32,
    /// Setup: the longest wait for a RECEIPT. Delivery: the phase stops when no subscription
    /// received anything for this long.
    pub stall: Duration,
    /// Bound on the delivery phase (first SEND → last delivery).
    pub limit: Duration,
    /// The broker's pid, to measure its CPU time over the subscribe and delivery phases.
    pub cpu_pid: Option<u32>,
}

/// Subscription j's pattern.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Pattern {
    /// `<prefix>.<g>.>`
    Prefix(u32),
    /// `<prefix>.*.<x>`
    Suffix(u32),
}

impl Params {
    pub fn topics(&self) -> u64 {
        u64::from(self.a) * u64::from(self.b)
    }

    fn pattern(&self, j: usize) -> Pattern {
        let half = (j / 2) as u64;
        if j % 2 == 0 {
            Pattern::Prefix((half % u64::from(self.a)) as u32)
        } else {
            Pattern::Suffix((half % u64::from(self.b)) as u32)
        }
    }

    fn destination(&self, pat: Pattern) -> String {
        match pat {
            Pattern::Prefix(g) => format!("/topic/{}.{g}.>", self.prefix),
            Pattern::Suffix(x) => format!("/topic/{}.*.{x}", self.prefix),
        }
    }

    /// Message m's topic (a, b).
    fn topic_of(&self, m: u64) -> (u32, u32) {
        let t = m % self.topics();
        (
            (t / u64::from(self.b)) as u32,
            (t % u64::from(self.b)) as u32,
        )
    }

    /// Messages published to topic (a, b).
    fn per_topic(&self, a: u32, b: u32) -> u64 {
        let t = u64::from(a) * u64::from(self.b) + u64::from(b);
        self.messages / self.topics() + u64::from(t < self.messages % self.topics())
    }

    /// Deliveries subscription j should get.
    fn expected(&self, j: usize) -> u64 {
        match self.pattern(j) {
            Pattern::Prefix(g) => (0..self.b).map(|b| self.per_topic(g, b)).sum(),
            Pattern::Suffix(x) => (0..self.a).map(|a| self.per_topic(a, x)).sum(),
        }
    }

    /// All deliveries.
    pub fn deliveries(&self) -> u64 {
        (0..self.subscriptions).map(|j| self.expected(j)).sum()
    }
}

/// What the subscriptions saw, summed.
#[derive(Debug, Clone, Default)]
pub struct Check {
    pub received: u64,
    /// Deliveries to a subscription the message's topic does not match, or with a
    /// destination or bench-seq that does not fit.
    pub wrong: u64,
    pub duplicates: u64,
    pub missing: u64,
    pub first_problem: Option<String>,
}

impl Check {
    pub fn ok(&self) -> bool {
        self.wrong == 0 && self.duplicates == 0 && self.missing == 0
    }

    pub fn summary(&self) -> String {
        if self.ok() {
            return "ok".to_owned();
        }
        let mut parts = Vec::new();
        for (n, what) in [
            (self.missing, "missing"),
            (self.wrong, "wrong"),
            (self.duplicates, "dup"),
        ] {
            if n > 0 {
                parts.push(format!("{n} {what}"));
            }
        }
        parts.join(", ")
    }
}

#[derive(Debug, Clone)]
pub struct FanoutResult {
    /// All SUBSCRIBEs sent and their receipts back (connections opened before).
    pub subscribe: Duration,
    /// M ÷ (first SEND → last RECEIPT); `None` when the producer was stopped first.
    pub publish_rate: Option<f64>,
    /// First SEND → last delivery read; when the phase was stopped, first SEND → the stop.
    pub wall: Duration,
    pub deliveries: u64,
    pub deliveries_per_sec: f64,
    pub check: Check,
    pub stalled: Option<String>,
    /// CPU used while subscribing and during the delivery phase.
    pub subscribe_cpu: Cpu,
    pub cpu: Cpu,
}

/// Runs one case against the broker at `addr`.
pub async fn run(addr: SocketAddr, p: &Params) -> Result<FanoutResult, Error> {
    if p.a == 0 || p.b == 0 || p.subscriptions == 0 {
        return Err("wildcard-fanout needs at least one topic and one subscription".into());
    }
    let conns_n = p.connections.clamp(1, p.subscriptions);
    let body = body(p.size);

    // Prime: one message to every topic before anyone subscribes (nobody receives it), so
    // the topics exist and the measured publishes do not create them.
    let prime = Conn::connect(addr).await?;
    let prime_dest: Vec<Bytes> = (0..p.topics())
        .map(|t| {
            let (a, b) = p.topic_of(t);
            Bytes::from(format!("/topic/{}.{a}.{b}", p.prefix))
        })
        .collect();
    send_pipelined(prime, p.topics(), 1000, 20, |t| {
        Frame::new(Command::Send)
            .header("destination", prime_dest[t as usize].clone())
            .header("persistent", "false")
            .header("bench-prime", "1")
            .with_body(body.clone())
            .with_content_length()
    })
    .await
    .map_err(|e| format!("priming the topics: {e}"))?;

    let mut conns = Vec::with_capacity(conns_n);
    for _ in 0..conns_n {
        conns.push(Conn::connect(addr).await?);
    }
    // Subscribe: every connection pipelines its SUBSCRIBEs, a receipt on every 100th and on
    // its last (a connection's frames are handled in order).
    let sub_meter = CpuMeter::start(p.cpu_pid);
    let sub_start = Instant::now();
    let mut set = JoinSet::new();
    for (c, conn) in conns.into_iter().enumerate() {
        let subs: Vec<(usize, String)> = (c..p.subscriptions)
            .step_by(conns_n)
            .map(|j| (j, p.destination(p.pattern(j))))
            .collect();
        let (prefetch, stall) = (p.prefetch, p.stall);
        set.spawn(async move {
            let r = subscribe_all(conn, &subs, prefetch, stall).await;
            (c, r)
        });
    }
    let mut subscribed: Vec<Option<Conn>> = (0..conns_n).map(|_| None).collect();
    while let Some(r) = set.join_next().await {
        let (c, conn) = r.map_err(|e| format!("subscribe task failed: {e}"))?;
        subscribed[c] = Some(conn.map_err(|e| format!("connection {c}: {e}"))?);
    }
    let subscribe = sub_start.elapsed();
    let subscribe_cpu = sub_meter.stop();

    let mut wd = Watchdog::new(p.stall, p.limit);
    let mut readers = JoinSet::new();
    for (c, conn) in subscribed.into_iter().enumerate() {
        let conn = conn.ok_or("connection not subscribed")?;
        let state = Receiver::new(p, c, conns_n);
        readers.spawn(state.run(conn, wd.handle()));
    }
    let producer = Conn::connect(addr).await?;
    let dests: Vec<Bytes> = (0..p.topics())
        .map(|t| {
            let (a, b) = p.topic_of(t);
            Bytes::from(format!("/topic/{}.{a}.{b}", p.prefix))
        })
        .collect();
    let deliveries = p.deliveries();
    let meter = CpuMeter::start(p.cpu_pid);
    wd.start();
    let start = Instant::now();
    let topics = p.topics();
    let messages = p.messages;
    let mut sender = JoinSet::new();
    sender.spawn(async move {
        send_pipelined(producer, messages, 1000, 20, |m| {
            Frame::new(Command::Send)
                .header("destination", dests[(m % topics) as usize].clone())
                .header("persistent", "false")
                .header("bench-seq", m.to_string())
                .with_body(body.clone())
                .with_content_length()
        })
        .await
    });

    let mut check = Check::default();
    let mut publish_wall = None;
    let mut producer_error: Option<String> = None;
    let mut last = start;
    let mut writers = Vec::with_capacity(conns_n);
    let mut tick = tokio::time::interval(TICK);
    while !(sender.is_empty() && readers.is_empty()) {
        tokio::select! {
            Some(r) = sender.join_next(), if !sender.is_empty() => match r {
                Ok(Ok(_)) => publish_wall = Some(start.elapsed()),
                Ok(Err(e)) => {
                    producer_error.get_or_insert_with(|| format!("producer: {e}"));
                    wd.stop(format!("producer: {e}"));
                }
                Err(e) if e.is_cancelled() => {}
                Err(e) => return Err(format!("producer task failed: {e}").into()),
            },
            Some(r) = readers.join_next(), if !readers.is_empty() => {
                let (o, writer) = r.map_err(|e| format!("reader task failed: {e}"))??;
                check.received += o.unique;
                check.wrong += o.wrong;
                check.duplicates += o.duplicates;
                check.missing += o.expected_total - o.unique;
                if check.first_problem.is_none() {
                    check.first_problem = o.first_problem;
                }
                if let Some(at) = o.last_at {
                    last = last.max(at);
                }
                writers.push(writer);
            }
            _ = tick.tick() => {
                if wd.check(deliveries) {
                    sender.abort_all();
                }
            }
        }
    }
    let wall = if wd.reason.is_some() {
        start.elapsed()
    } else {
        last.saturating_duration_since(start)
    };
    let cpu = meter.stop();
    for w in writers {
        w.close().await;
    }
    if let Some(e) = producer_error {
        return Err(e.into());
    }
    Ok(FanoutResult {
        subscribe,
        publish_rate: publish_wall.map(|w: Duration| p.messages as f64 / w.as_secs_f64().max(1e-9)),
        wall,
        deliveries,
        deliveries_per_sec: check.received as f64 / wall.as_secs_f64().max(1e-9),
        check,
        stalled: wd.reason,
        subscribe_cpu,
        cpu,
    })
}

/// Sends the SUBSCRIBEs `subs` (id, destination) on `conn` and waits for their receipts.
async fn subscribe_all(
    mut conn: Conn,
    subs: &[(usize, String)],
    prefetch: u32,
    stall: Duration,
) -> Result<Conn, Error> {
    let mut receipts = 0u64;
    for (n, (j, dest)) in subs.iter().enumerate() {
        let mut f = Frame::new(Command::Subscribe)
            .header("destination", dest.clone())
            .header("id", j.to_string())
            .header("ack", "auto")
            .header("activemq.prefetchSize", prefetch.to_string());
        if (n + 1) % 100 == 0 || n + 1 == subs.len() {
            f = f.header("receipt", format!("sub-{j}"));
            receipts += 1;
        }
        conn.writer.push(&f);
        if conn.writer.pending() >= 64 * 1024 {
            conn.writer.flush().await?;
        }
    }
    conn.writer.flush().await?;
    for got in 0..receipts {
        let f = conn.reader.next_frame(stall).await.map_err(|e| {
            format!(
                "after {got} of {receipts} SUBSCRIBE receipts ({} subscriptions): {e}",
                subs.len()
            )
        })?;
        if f.command != Command::Receipt {
            return Err(format!("SUBSCRIBE answered by {}", describe(&f)).into());
        }
    }
    Ok(conn)
}

/// One connection's subscriptions and what they received.
struct Receiver {
    conn: usize,
    conns: usize,
    /// `<prefix>.`
    topic_prefix: String,
    patterns: Vec<Pattern>,
    a: u32,
    b: u32,
    messages: u64,
    /// Per local subscription (id j = conn + local × conns): bit m = bench-seq m arrived.
    seen: Vec<Vec<u64>>,
    expected_total: u64,
    unique: u64,
    wrong: u64,
    duplicates: u64,
    /// MESSAGE frames read.
    frames: u64,
    last_at: Option<Instant>,
    first_problem: Option<String>,
}

impl Receiver {
    fn new(p: &Params, conn: usize, conns: usize) -> Self {
        let ids: Vec<usize> = (conn..p.subscriptions).step_by(conns).collect();
        let words = p.messages.div_ceil(64) as usize;
        Receiver {
            conn,
            conns,
            topic_prefix: format!("/topic/{}.", p.prefix),
            patterns: ids.iter().map(|&j| p.pattern(j)).collect(),
            a: p.a,
            b: p.b,
            messages: p.messages,
            seen: ids.iter().map(|_| vec![0u64; words]).collect(),
            expected_total: ids.iter().map(|&j| p.expected(j)).sum(),
            unique: 0,
            wrong: 0,
            duplicates: 0,
            frames: 0,
            last_at: None,
            first_problem: None,
        }
    }

    /// Reads until every expected delivery arrived or the watchdog stops the phase.
    async fn run(mut self, conn: Conn, mut wd: watchdog::Handle) -> Result<(Self, Writer), Error> {
        let Conn { mut reader, writer } = conn;
        while self.unique < self.expected_total {
            let f = tokio::select! {
                biased;
                () = wd.stopped() => break,
                f = reader.next_frame(UNBOUNDED) => f,
            };
            let f = f.map_err(|e| format!("connection {}: {e}", self.conn))?;
            let before = self.frames;
            self.record(&f)?;
            self.drain_buffered(&mut reader)?;
            wd.add(self.frames - before);
        }
        Ok((self, writer))
    }

    fn drain_buffered(&mut self, reader: &mut Reader) -> Result<(), Error> {
        while let Some(f) = reader.next_buffered()? {
            self.record(&f)?;
        }
        Ok(())
    }

    fn problem(&mut self, what: impl FnOnce() -> String) {
        self.wrong += 1;
        if self.first_problem.is_none() {
            self.first_problem = Some(what());
        }
    }

    fn record(&mut self, f: &Frame) -> Result<(), Error> {
        if f.command != Command::Message {
            return Err(format!("connection {}: {}", self.conn, describe(f)).into());
        }
        self.frames += 1;
        let sub: Option<usize> = f
            .headers
            .get_str("subscription")
            .and_then(|s| s.parse().ok());
        let local = sub
            .filter(|j| j % self.conns == self.conn)
            .map(|j| j / self.conns)
            .filter(|&l| l < self.patterns.len());
        let topic = f
            .headers
            .get_str("destination")
            .and_then(|d| d.strip_prefix(&self.topic_prefix))
            .and_then(|rest| rest.split_once('.'))
            .and_then(|(a, b)| Some((a.parse::<u32>().ok()?, b.parse::<u32>().ok()?)))
            .filter(|&(a, b)| a < self.a && b < self.b);
        let seq: Option<u64> = f
            .headers
            .get_str("bench-seq")
            .and_then(|s| s.parse().ok())
            .filter(|&m| m < self.messages);
        let (Some(local), Some((a, b)), Some(m)) = (local, topic, seq) else {
            self.problem(|| format!("unexpected delivery: {}", describe(f)));
            return Ok(());
        };
        let matches = match self.patterns[local] {
            Pattern::Prefix(g) => g == a,
            Pattern::Suffix(x) => x == b,
        };
        let t = m % (u64::from(self.a) * u64::from(self.b));
        let sent_to = (
            (t / u64::from(self.b)) as u32,
            (t % u64::from(self.b)) as u32,
        );
        if !matches || sent_to != (a, b) {
            self.problem(|| {
                format!(
                    "subscription {:?} got bench-seq {m} on {a}.{b} (sent to {}.{})",
                    sub, sent_to.0, sent_to.1
                )
            });
            return Ok(());
        }
        let word = &mut self.seen[local][(m / 64) as usize];
        let bit = 1u64 << (m % 64);
        if *word & bit != 0 {
            self.duplicates += 1;
            if self.first_problem.is_none() {
                self.first_problem = Some(format!("subscription {sub:?}: bench-seq {m} twice"));
            }
            return Ok(());
        }
        *word |= bit;
        self.unique += 1;
        self.last_at = Some(Instant::now());
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(subscriptions: usize, a: u32, b: u32, messages: u64) -> Params {
        Params {
            prefix: "p".into(),
            subscriptions,
            connections: 3,
            a,
            b,
            messages,
            size: 16,
            prefetch: 10,
            stall: Duration::from_secs(1),
            limit: Duration::from_secs(1),
            cpu_pid: None,
        }
    }

    /// Subscription j's count by matching every message against its pattern.
    fn brute(p: &Params, j: usize) -> u64 {
        (0..p.messages)
            .filter(|&m| {
                let (a, b) = p.topic_of(m);
                match p.pattern(j) {
                    Pattern::Prefix(g) => g == a,
                    Pattern::Suffix(x) => x == b,
                }
            })
            .count() as u64
    }

    #[test]
    fn expected_counts_match_brute_force() {
        for p in [
            params(20, 5, 5, 123),
            params(7, 3, 4, 50),
            params(1000, 10, 10, 1000),
            params(40, 20, 20, 77),
        ] {
            for j in 0..p.subscriptions {
                assert_eq!(p.expected(j), brute(&p, j), "{p:?} subscription {j}");
            }
        }
    }

    #[test]
    fn default_sizes_match_a_known_number_per_message() {
        // S = 1000 over 10 x 10 topics: 50 prefix + 50 suffix subscriptions per message.
        assert_eq!(params(1000, 10, 10, 10_000).deliveries(), 1_000_000);
        // 10S, same topics, M/10: 1000 per message.
        assert_eq!(params(10_000, 10, 10, 1000).deliveries(), 1_000_000);
        // 10S over 100 x 100 topics: 100 per message again.
        assert_eq!(params(10_000, 100, 100, 10_000).deliveries(), 1_000_000);
    }

    #[test]
    fn patterns_are_activemq_wildcards() {
        let p = params(4, 2, 2, 1);
        assert_eq!(p.destination(p.pattern(0)), "/topic/p.0.>");
        assert_eq!(p.destination(p.pattern(1)), "/topic/p.*.0");
        assert_eq!(p.destination(p.pattern(2)), "/topic/p.1.>");
        assert_eq!(p.destination(p.pattern(3)), "/topic/p.*.1");
    }
}
