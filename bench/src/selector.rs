//! selector-dispatch: one queue, C consumers (one connection each), consumer i subscribed
//! with the selector `key = 'k<i>'`; producers send N messages whose `key` header runs
//! round-robin over the C keys, optionally with N/10 more that no consumer selects (they stay
//! in the queue). Measures first SEND → last matched MESSAGE and checks that every consumer
//! got exactly its own messages.

use std::net::SocketAddr;
use std::time::Duration;

use bytes::Bytes;
use stomp_codec::{Command, Frame};
use tokio::task::JoinSet;
use tokio::time::Instant;

use crate::client::{describe, Conn, Reader, Timeout, Writer};
use crate::process::{Cpu, CpuMeter};
use crate::scenario::{body, send_pipelined};
use crate::watchdog::{self, Watchdog, TICK};
use crate::Error;

/// The `key` of the messages no consumer selects.
pub const UNMATCHED_KEY: &str = "none";
/// Consumers connected and subscribed at the same time during setup.
const SETUP_CONCURRENCY: usize = 100;
/// A read the watchdog bounds instead.
pub const UNBOUNDED: Duration = Duration::from_secs(24 * 3600);

/// How consumers acknowledge.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Ack {
    /// `ack:auto`: the broker counts a message acknowledged once sent.
    Auto,
    /// `ack:client-individual`, an ACK frame per message (written as soon as it is read).
    ClientIndividual,
}

impl Ack {
    pub fn header(self) -> &'static str {
        match self {
            Ack::Auto => "auto",
            Ack::ClientIndividual => "client-individual",
        }
    }
}

#[derive(Debug, Clone)]
pub struct Params {
    /// `/queue/...`, new for the run.
    pub queue: String,
    pub consumers: usize,
    /// Messages some consumer selects.
    pub messages: u64,
    /// Also send one message with key `none` after every 10th selected one (N/10 in all).
    pub unmatched: bool,
    pub persistent: bool,
    pub producers: usize,
    pub size: usize,
    pub prefetch: u32,
    pub ack: Ack,
    /// Setup: the longest wait for a RECEIPT. Delivery: the phase stops when no consumer
    /// received anything for this long.
    pub stall: Duration,
    /// Bound on the delivery phase (first SEND → last message).
    pub limit: Duration,
    /// The broker's pid, to measure its CPU time over the delivery phase.
    pub cpu_pid: Option<u32>,
}

impl Params {
    pub fn unmatched_count(&self) -> u64 {
        if self.unmatched {
            self.messages / 10
        } else {
            0
        }
    }

    /// Messages consumer `i` selects: bench-seq i, i + C, i + 2C, ... below N.
    fn expected(&self, i: usize) -> u64 {
        let c = self.consumers as u64;
        self.messages / c + u64::from((i as u64) < self.messages % c)
    }
}

/// What the consumers saw, summed.
#[derive(Debug, Clone, Default)]
pub struct Check {
    /// Distinct selected messages received by the consumer that selects them.
    pub received: u64,
    /// Messages received by a consumer whose selector does not match them.
    pub wrong: u64,
    /// Selected messages received more than once.
    pub duplicates: u64,
    /// Selected messages never received.
    pub missing: u64,
    /// Messages with a lower `bench-seq` than an earlier one from the same producer, at the
    /// same consumer (FIFO per producer and consumer broken; a measurement, not a failure).
    pub out_of_order: u64,
    /// MESSAGEs carrying `redelivered:true`.
    pub redelivered: u64,
    /// Unmatched messages found in the queue afterwards (a consumer selecting `key = 'none'`
    /// drains them); `None` when none were sent.
    pub backlog_left: Option<u64>,
    pub backlog_sent: u64,
    /// The first problem, described.
    pub first_problem: Option<String>,
}

impl Check {
    /// Every consumer got exactly its messages, and the unmatched ones stayed in the queue.
    pub fn ok(&self) -> bool {
        self.wrong == 0
            && self.duplicates == 0
            && self.missing == 0
            && self.backlog_left.is_none_or(|l| l == self.backlog_sent)
    }

    pub fn summary(&self) -> String {
        if self.ok() {
            let mut s = "ok".to_owned();
            if self.out_of_order > 0 {
                s.push_str(&format!(" ({} out of order)", self.out_of_order));
            }
            return s;
        }
        let mut parts = Vec::new();
        if self.missing > 0 {
            parts.push(format!("{} missing", self.missing));
        }
        if self.wrong > 0 {
            parts.push(format!("{} wrong", self.wrong));
        }
        if self.duplicates > 0 {
            parts.push(format!("{} dup", self.duplicates));
        }
        if let Some(l) = self.backlog_left {
            if l != self.backlog_sent {
                parts.push(format!("backlog {l}/{}", self.backlog_sent));
            }
        }
        parts.join(", ")
    }
}

#[derive(Debug, Clone)]
pub struct SelectorResult {
    /// Connecting and subscribing the C consumers (SUBSCRIBE with a receipt, all answered).
    pub setup: Duration,
    /// First SEND → the last producer's last RECEIPT (`None`: the producers were stopped
    /// before they finished).
    pub publish: Option<Duration>,
    /// First SEND → the last selected MESSAGE read by its consumer; when the phase was
    /// stopped, first SEND → the stop.
    pub wall: Duration,
    /// Selected messages received ÷ `wall`.
    pub msgs_per_sec: f64,
    pub check: Check,
    /// Why the delivery phase was stopped before every consumer had all its messages.
    pub stalled: Option<String>,
    /// CPU used during the delivery phase.
    pub cpu: Cpu,
}

/// One item a producer sends.
#[derive(Debug, Clone, Copy)]
enum Item {
    /// bench-seq, key `k<seq mod C>`.
    Selected(u64),
    Unmatched,
}

/// What each producer sends: item j of the global sequence (every selected message in
/// bench-seq order, an unmatched one after every 10th when asked) goes to producer j mod P.
fn plans(p: &Params, producers: usize) -> Vec<Vec<Item>> {
    let mut plans: Vec<Vec<Item>> = vec![Vec::new(); producers];
    let mut j = 0usize;
    for seq in 0..p.messages {
        plans[j % producers].push(Item::Selected(seq));
        j += 1;
        if p.unmatched && (seq + 1) % 10 == 0 {
            plans[j % producers].push(Item::Unmatched);
            j += 1;
        }
    }
    plans
}

/// Runs one case against the broker at `addr`.
pub async fn run(addr: SocketAddr, p: &Params) -> Result<SelectorResult, Error> {
    let c = p.consumers.max(1);
    let producers = p.producers.max(1);

    // Setup: C consumers, SETUP_CONCURRENCY at a time, each SUBSCRIBE answered by its RECEIPT.
    let setup_start = Instant::now();
    let mut conns: Vec<Option<Conn>> = (0..c).map(|_| None).collect();
    let mut next = 0;
    while next < c {
        let mut set = JoinSet::new();
        for i in next..(next + SETUP_CONCURRENCY).min(c) {
            let queue = p.queue.clone();
            let (ack, prefetch, stall) = (p.ack, p.prefetch, p.stall);
            set.spawn(async move {
                let conn = subscribe(addr, &queue, i, ack, prefetch, stall).await;
                (i, conn)
            });
        }
        while let Some(r) = set.join_next().await {
            let (i, conn) = r.map_err(|e| format!("consumer setup task failed: {e}"))?;
            conns[i] = Some(conn.map_err(|e| format!("consumer {i}: {e}"))?);
        }
        next += SETUP_CONCURRENCY;
    }
    let setup = setup_start.elapsed();

    let plans = plans(p, producers);
    let mut producer_conns = Vec::with_capacity(producers);
    for _ in 0..producers {
        producer_conns.push(Conn::connect(addr).await?);
    }

    // Consumers read from before the first SEND.
    let mut wd = Watchdog::new(p.stall, p.limit);
    let mut consumers = JoinSet::new();
    for (i, conn) in conns.into_iter().enumerate() {
        let conn = conn.ok_or("consumer not set up")?;
        let state = Consumer::new(i, c, p.expected(i), producers, p.ack);
        consumers.spawn(state.run(conn, wd.handle()));
    }
    let meter = CpuMeter::start(p.cpu_pid);
    wd.start();
    let start = Instant::now();
    let mut senders = JoinSet::new();
    let queue = Bytes::from(p.queue.clone());
    let body = body(p.size);
    let persistent = if p.persistent { "true" } else { "false" };
    for (pi, (plan, conn)) in plans.into_iter().zip(producer_conns).enumerate() {
        let (queue, body) = (queue.clone(), body.clone());
        let keys: Vec<Bytes> = (0..c).map(|i| Bytes::from(format!("k{i}"))).collect();
        senders.spawn(async move {
            let n = plan.len() as u64;
            let producer = Bytes::from(pi.to_string());
            send_pipelined(conn, n, 1000, 20, |k| {
                let f = Frame::new(Command::Send)
                    .header("destination", queue.clone())
                    .header("persistent", persistent)
                    .header("bench-producer", producer.clone());
                let f = match plan[k as usize] {
                    Item::Selected(seq) => f
                        .header("key", keys[(seq % keys.len() as u64) as usize].clone())
                        .header("bench-seq", seq.to_string()),
                    Item::Unmatched => f.header("key", UNMATCHED_KEY),
                };
                f.with_body(body.clone()).with_content_length()
            })
            .await
            .map_err(|e| -> Error { format!("producer {pi}: {e}").into() })
        });
    }

    let mut check = Check {
        backlog_sent: p.unmatched_count(),
        ..Check::default()
    };
    let mut publish_end = Some(start);
    let mut producer_error: Option<String> = None;
    let mut last = start;
    let mut writers = Vec::with_capacity(c);
    let mut tick = tokio::time::interval(TICK);
    while !(senders.is_empty() && consumers.is_empty()) {
        tokio::select! {
            Some(r) = senders.join_next(), if !senders.is_empty() => match r {
                Ok(Ok(_)) => publish_end = publish_end.map(|e| e.max(Instant::now())),
                Ok(Err(e)) => {
                    producer_error.get_or_insert_with(|| e.to_string());
                    wd.stop(format!("{e}"));
                    senders.abort_all();
                }
                Err(e) if e.is_cancelled() => publish_end = None,
                Err(e) => return Err(format!("producer task failed: {e}").into()),
            },
            Some(r) = consumers.join_next(), if !consumers.is_empty() => {
                let (o, writer) = r.map_err(|e| format!("consumer task failed: {e}"))??;
                check.received += o.unique;
                check.wrong += o.wrong;
                check.duplicates += o.duplicates;
                check.missing += o.expected - o.unique;
                check.out_of_order += o.out_of_order;
                check.redelivered += o.redelivered;
                if check.first_problem.is_none() {
                    check.first_problem = o.first_problem;
                }
                if let Some(at) = o.last_at {
                    last = last.max(at);
                }
                writers.push(writer);
            }
            _ = tick.tick() => {
                if wd.check(p.messages) {
                    senders.abort_all();
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
    if p.unmatched {
        check.backlog_left = Some(drain_unmatched(addr, p).await?);
    }
    Ok(SelectorResult {
        setup,
        publish: publish_end.map(|e| e.saturating_duration_since(start)),
        wall,
        msgs_per_sec: check.received as f64 / wall.as_secs_f64().max(1e-9),
        check,
        stalled: wd.reason,
        cpu,
    })
}

/// Connects consumer `i` and subscribes it with its selector; returns once the broker sent
/// the SUBSCRIBE's RECEIPT.
async fn subscribe(
    addr: SocketAddr,
    queue: &str,
    i: usize,
    ack: Ack,
    prefetch: u32,
    stall: Duration,
) -> Result<Conn, Error> {
    let mut conn = Conn::connect(addr).await?;
    conn.writer.push(
        &Frame::new(Command::Subscribe)
            .header("destination", queue.to_owned())
            .header("id", "sel")
            .header("ack", ack.header())
            .header("activemq.prefetchSize", prefetch.to_string())
            .header("selector", format!("key = 'k{i}'"))
            .header("receipt", "sub"),
    );
    conn.writer.flush().await?;
    let f = conn
        .reader
        .next_frame(stall)
        .await
        .map_err(|e| format!("waiting for the SUBSCRIBE receipt: {e}"))?;
    if f.command != Command::Receipt {
        return Err(format!("SUBSCRIBE answered by {}", describe(&f)).into());
    }
    Ok(conn)
}

/// One consumer's view.
struct Consumer {
    index: usize,
    consumers: usize,
    key: String,
    ack: Ack,
    expected: u64,
    /// `seen[n]`: bench-seq `index + n × consumers` arrived.
    seen: Vec<bool>,
    last_by_producer: Vec<Option<u64>>,
    unique: u64,
    wrong: u64,
    duplicates: u64,
    out_of_order: u64,
    redelivered: u64,
    /// MESSAGE frames read.
    frames: u64,
    last_at: Option<Instant>,
    first_problem: Option<String>,
}

impl Consumer {
    fn new(index: usize, consumers: usize, expected: u64, producers: usize, ack: Ack) -> Self {
        Consumer {
            index,
            consumers,
            key: format!("k{index}"),
            ack,
            expected,
            seen: vec![false; expected as usize],
            last_by_producer: vec![None; producers],
            unique: 0,
            wrong: 0,
            duplicates: 0,
            out_of_order: 0,
            redelivered: 0,
            frames: 0,
            last_at: None,
            first_problem: None,
        }
    }

    /// Reads until every selected message arrived or the watchdog stops the phase. ACKs
    /// (for client-individual) go out after each batch of frames read together.
    async fn run(mut self, conn: Conn, mut wd: watchdog::Handle) -> Result<(Self, Writer), Error> {
        let Conn {
            mut reader,
            mut writer,
        } = conn;
        while self.unique < self.expected {
            let f = tokio::select! {
                biased;
                () = wd.stopped() => break,
                f = reader.next_frame(UNBOUNDED) => f,
            };
            let f = f.map_err(|e| format!("consumer {}: {e}", self.index))?;
            let before = self.frames;
            self.record(&f, &mut writer)?;
            self.drain_buffered(&mut reader, &mut writer)?;
            wd.add(self.frames - before);
            if writer.pending() > 0 {
                writer.flush().await?;
            }
        }
        Ok((self, writer))
    }

    fn drain_buffered(&mut self, reader: &mut Reader, writer: &mut Writer) -> Result<(), Error> {
        while let Some(f) = reader.next_buffered()? {
            self.record(&f, writer)?;
        }
        Ok(())
    }

    fn record(&mut self, f: &Frame, writer: &mut Writer) -> Result<(), Error> {
        if f.command != Command::Message {
            return Err(format!("consumer {}: {}", self.index, describe(f)).into());
        }
        self.frames += 1;
        if self.ack == Ack::ClientIndividual {
            let id = f
                .headers
                .get_str("ack")
                .ok_or_else(|| format!("MESSAGE without an ack header: {}", describe(f)))?;
            writer.push(&Frame::new(Command::Ack).header("id", id.to_owned()));
        }
        if f.headers.get_str("redelivered") == Some("true") {
            self.redelivered += 1;
        }
        let key = f.headers.get_str("key");
        let seq: Option<u64> = f.headers.get_str("bench-seq").and_then(|s| s.parse().ok());
        let c = self.consumers as u64;
        let Some(seq) = seq.filter(|s| key == Some(&self.key) && s % c == self.index as u64) else {
            self.wrong += 1;
            self.first_problem.get_or_insert_with(|| {
                format!(
                    "consumer {} (selector key = '{}') received key {key:?} bench-seq {seq:?}",
                    self.index, self.key
                )
            });
            return Ok(());
        };
        match self.seen.get_mut((seq / c) as usize) {
            Some(s) if *s => {
                self.duplicates += 1;
                self.first_problem.get_or_insert_with(|| {
                    format!("consumer {}: bench-seq {seq} twice", self.index)
                });
                return Ok(());
            }
            Some(s) => *s = true,
            None => {
                self.wrong += 1;
                return Ok(());
            }
        }
        self.unique += 1;
        self.last_at = Some(Instant::now());
        let producer: Option<usize> = f
            .headers
            .get_str("bench-producer")
            .and_then(|s| s.parse().ok());
        if let Some(last) = producer.and_then(|p| self.last_by_producer.get_mut(p)) {
            if last.is_some_and(|l| seq < l) {
                self.out_of_order += 1;
            }
            *last = Some(last.map_or(seq, |l| l.max(seq)));
        }
        Ok(())
    }
}

/// A consumer selecting `key = 'none'` takes the unmatched messages left in the queue: all
/// that arrive until there were as many as were sent and then nothing for 300 ms, or until
/// `stall` has passed since it subscribed.
async fn drain_unmatched(addr: SocketAddr, p: &Params) -> Result<u64, Error> {
    let Conn {
        mut reader,
        mut writer,
    } = Conn::connect(addr).await?;
    writer.push(
        &Frame::new(Command::Subscribe)
            .header("destination", p.queue.clone())
            .header("id", "left")
            .header("ack", "auto")
            .header("activemq.prefetchSize", "1000")
            .header("selector", format!("key = '{UNMATCHED_KEY}'")),
    );
    writer.flush().await?;
    let want = p.unmatched_count();
    let mut got = 0u64;
    let deadline = Instant::now() + p.stall;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let limit = if got >= want {
            left.min(Duration::from_millis(300))
        } else {
            left
        };
        match reader.next_frame(limit).await {
            Ok(f) if f.command == Command::Message => got += 1,
            Ok(f) => return Err(format!("unmatched drain: {}", describe(&f)).into()),
            Err(e) if e.is::<Timeout>() => break,
            Err(e) => return Err(format!("unmatched drain, after {got}: {e}").into()),
        }
    }
    writer.close().await;
    Ok(got)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(consumers: usize, messages: u64, unmatched: bool) -> Params {
        Params {
            queue: "/queue/q".into(),
            consumers,
            messages,
            unmatched,
            persistent: false,
            producers: 1,
            size: 16,
            prefetch: 10,
            ack: Ack::Auto,
            stall: Duration::from_secs(1),
            limit: Duration::from_secs(1),
            cpu_pid: None,
        }
    }

    #[test]
    fn every_selected_message_belongs_to_one_consumer() {
        for (c, n) in [(100, 100_000), (7, 1000), (10, 3), (1, 5)] {
            let p = params(c, n, false);
            assert_eq!((0..c).map(|i| p.expected(i)).sum::<u64>(), n, "C={c} N={n}");
        }
    }

    #[test]
    fn plans_send_each_selected_message_once_and_n_over_10_unmatched() {
        let p = params(100, 1005, true);
        let all = plans(&p, 3);
        let mut seen = vec![0u32; 1005];
        let mut unmatched = 0;
        for plan in &all {
            let mut last = None;
            for item in plan {
                match *item {
                    Item::Selected(s) => {
                        seen[s as usize] += 1;
                        // each producer sends in bench-seq order
                        assert!(last.is_none_or(|l| l < s));
                        last = Some(s);
                    }
                    Item::Unmatched => unmatched += 1,
                }
            }
        }
        assert!(seen.iter().all(|&n| n == 1));
        assert_eq!(unmatched, p.unmatched_count());
        assert_eq!(unmatched, 100);
        assert_eq!(plans(&params(10, 50, false), 1)[0].len(), 50);
    }
}
