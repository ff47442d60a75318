//! Streaming workloads for `compare`: one producer, S subscribers on a queue or a topic,
//! non-persistent 256-byte messages. Every SEND carries `bench-ts`, the producer's time stamp
//! in ns since the run's base instant (one process, one clock), so each delivery gives a
//! latency.
//!
//! Two kinds of pacing:
//! - closed loop (throughput): the producer never has more than `window` messages sent but
//!   not yet received by the slowest subscriber, so a broker cannot look fast by buffering;
//! - open loop (latency): message i is due at `i / rate` s; a producer thread sends every
//!   due message and stamps it with its *due* time, so a broker stall that holds the
//!   producer back shows up in the latency of every message it delayed (no coordinated
//!   omission).

use std::io::Write as _;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use stomp_codec::{Command, Frame};
use tokio::sync::Notify;
use tokio::task::JoinSet;
use tokio::time::Instant;

use crate::client::{describe, encoder, timed_send_frame, Conn, Timeout};
use crate::scenario::{body, STALL_TIMEOUT};
use crate::Error;

/// Flush the producer's buffer at this size (a few frames per write, not one write each).
const FLUSH_AT: usize = 16 * 1024;

#[derive(Debug, Clone)]
pub struct StreamParams {
    /// `/queue/...` or `/topic/...`, new for the run.
    pub dest: String,
    pub subscribers: usize,
    pub messages: u64,
    pub size: usize,
    /// Closed loop: most messages sent and not yet received by every subscriber.
    pub window: u64,
    /// Open loop: messages per second (then `window` is not used).
    pub rate: Option<f64>,
    /// `activemq.prefetchSize` of every subscription.
    pub prefetch: u32,
}

/// Percentiles of the delivery latencies, in ns.
#[derive(Debug, Clone, Copy, Default)]
pub struct Pct {
    pub p50: u64,
    pub p99: u64,
    pub p999: u64,
    pub max: u64,
}

impl Pct {
    fn of(mut v: Vec<u64>) -> Self {
        v.sort_unstable();
        let at = |q: f64| -> u64 {
            if v.is_empty() {
                return 0;
            }
            let rank = (q * v.len() as f64).ceil() as usize;
            v[rank.clamp(1, v.len()) - 1]
        };
        Pct {
            p50: at(0.50),
            p99: at(0.99),
            p999: at(0.999),
            max: v.last().copied().unwrap_or(0),
        }
    }
}

#[derive(Debug, Clone, Copy)]
pub struct StreamResult {
    pub sent: u64,
    pub deliveries: u64,
    pub msgs_per_sec: f64,
    pub deliveries_per_sec: f64,
    pub latency: Pct,
    /// Open loop only: how late the producer wrote each message after its due time (ns).
    /// The client's share of the latency: scheduler delays on a busy machine land here.
    pub send_lag: Pct,
}

/// Progress shared between the subscribers and the producer.
struct Shared {
    received: Vec<AtomicU64>,
    failed: AtomicBool,
    progress: Notify,
}

impl Shared {
    fn slowest(&self) -> u64 {
        self.received
            .iter()
            .map(|r| r.load(Ordering::Acquire))
            .min()
            .unwrap_or(0)
    }
}

/// Runs one stream against `addr`; see the module docs.
pub async fn stream(addr: SocketAddr, p: &StreamParams) -> Result<StreamResult, Error> {
    let subs = p.subscribers.max(1);
    let n = p.messages.max(1);
    let base = Instant::now();
    let shared = Arc::new(Shared {
        received: (0..subs).map(|_| AtomicU64::new(0)).collect(),
        failed: AtomicBool::new(false),
        progress: Notify::new(),
    });

    // Subscribers first, each SUBSCRIBE confirmed by a RECEIPT: a topic subscription that is
    // not active yet would miss messages.
    let mut readers = JoinSet::new();
    for i in 0..subs {
        let mut conn = Conn::connect(addr).await?;
        conn.writer.push(
            &Frame::new(Command::Subscribe)
                .header("destination", p.dest.clone())
                .header("id", "0")
                .header("ack", "auto")
                .header("activemq.prefetchSize", p.prefetch.to_string())
                .header("receipt", "sub"),
        );
        conn.writer.flush().await?;
        let f = conn.reader.next_frame(STALL_TIMEOUT).await?;
        if f.command != Command::Receipt {
            return Err(format!("SUBSCRIBE {} answered by {}", p.dest, describe(&f)).into());
        }
        let shared = shared.clone();
        let expect = n;
        readers.spawn(async move {
            let r = receive(conn, i, expect, base, &shared).await;
            if r.is_err() {
                shared.failed.store(true, Ordering::Release);
                shared.progress.notify_one();
            }
            r
        });
    }

    let producer = Conn::connect(addr).await?;
    let dest = Bytes::from(p.dest.clone());
    let body = body(p.size);
    let start = Instant::now();
    let (sent, lags) = match p.rate {
        Some(rate) => {
            let shared = shared.clone();
            let sock = producer.into_std()?;
            let start_ns = start.duration_since(base).as_nanos() as u64;
            tokio::task::spawn_blocking(move || {
                paced(sock, &dest, &body, n, rate, base, start_ns, &shared)
            })
            .await
            .map_err(|e| format!("producer thread: {e}"))??
        }
        None => (
            closed_loop(producer, &dest, &body, n, p.window.max(1), base, &shared).await?,
            Vec::new(),
        ),
    };

    let mut samples = Vec::with_capacity((n as usize).saturating_mul(subs));
    let mut last = start;
    let mut first_err: Option<Error> = None;
    while let Some(r) = readers.join_next().await {
        match r {
            Ok(Ok((s, at))) => {
                samples.extend(s);
                last = last.max(at);
            }
            Ok(Err(e)) => {
                first_err.get_or_insert(e);
            }
            Err(e) => {
                first_err.get_or_insert_with(|| format!("subscriber task: {e}").into());
            }
        }
    }
    if let Some(e) = first_err {
        return Err(e);
    }
    let wall = last.duration_since(start);
    let deliveries = samples.len() as u64;
    let secs = wall.as_secs_f64().max(1e-9);
    Ok(StreamResult {
        sent,
        deliveries,
        msgs_per_sec: sent as f64 / secs,
        deliveries_per_sec: deliveries as f64 / secs,
        latency: Pct::of(samples),
        send_lag: Pct::of(lags),
    })
}

/// Subscriber `i`: takes `n` MESSAGEs, recording now − `bench-ts` for each. Returns the
/// latencies (ns) and when the last one arrived.
async fn receive(
    conn: Conn,
    i: usize,
    n: u64,
    base: Instant,
    shared: &Shared,
) -> Result<(Vec<u64>, Instant), Error> {
    let Conn { mut reader, writer } = conn;
    let mut lat = Vec::with_capacity(n as usize);
    let mut got = 0u64;
    while got < n {
        let f = match reader.next_frame(STALL_TIMEOUT).await {
            Ok(f) => f,
            Err(e) if e.is::<Timeout>() => {
                return Err(format!(
                    "subscriber {i}: stalled after {got} of {n} messages ({STALL_TIMEOUT:?} without one)"
                )
                .into())
            }
            Err(e) => return Err(format!("subscriber {i}, after {got} messages: {e}").into()),
        };
        if f.command != Command::Message {
            return Err(format!("subscriber {i}, after {got} messages: {}", describe(&f)).into());
        }
        let now = base.elapsed().as_nanos() as u64;
        let ts: u64 = f
            .headers
            .get_str("bench-ts")
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| format!("subscriber {i}: MESSAGE without bench-ts"))?;
        lat.push(now.saturating_sub(ts));
        got += 1;
        shared.received[i].store(got, Ordering::Release);
        shared.progress.notify_one();
    }
    let at = Instant::now();
    writer.close().await;
    Ok((lat, at))
}

/// Closed-loop producer: at most `window` messages ahead of the slowest subscriber.
async fn closed_loop(
    conn: Conn,
    dest: &Bytes,
    body: &Bytes,
    n: u64,
    window: u64,
    base: Instant,
    shared: &Shared,
) -> Result<u64, Error> {
    let Conn { reader, mut writer } = conn;
    let mut seq = 0u64;
    while seq < n {
        if seq - shared.slowest() >= window {
            writer.flush().await?;
            loop {
                if shared.failed.load(Ordering::Acquire) {
                    return Err("a subscriber failed (see its error)".into());
                }
                if seq - shared.slowest() < window {
                    break;
                }
                if tokio::time::timeout(STALL_TIMEOUT, shared.progress.notified())
                    .await
                    .is_err()
                {
                    return Err(format!(
                        "no delivery for {STALL_TIMEOUT:?} with {window} messages outstanding, after {seq} sends"
                    )
                    .into());
                }
            }
        }
        let ts = base.elapsed().as_nanos() as u64;
        writer.push(&timed_send_frame(dest, body, false, ts));
        seq += 1;
        if writer.pending() >= FLUSH_AT {
            writer.flush().await?;
        }
    }
    writer.flush().await?;
    drop(reader);
    writer.close().await;
    Ok(seq)
}

/// Open-loop producer on its own thread (blocking socket, `thread::sleep` pacing): message i
/// is due `i / rate` s after `start_ns` and carries its due time, whenever it is written.
#[allow(clippy::too_many_arguments)]
fn paced(
    mut sock: std::net::TcpStream,
    dest: &Bytes,
    body: &Bytes,
    n: u64,
    rate: f64,
    base: Instant,
    start_ns: u64,
    shared: &Shared,
) -> Result<(u64, Vec<u64>), Error> {
    // A broker that stops reading must not hang the run.
    sock.set_write_timeout(Some(STALL_TIMEOUT))?;
    let codec = encoder();
    let mut buf = BytesMut::with_capacity(64 * 1024);
    let interval = 1e9 / rate;
    let due = |i: u64| start_ns + (i as f64 * interval) as u64;
    let mut seq = 0u64;
    let mut lags = Vec::with_capacity(n as usize);
    while seq < n {
        if shared.failed.load(Ordering::Acquire) {
            return Err("a subscriber failed (see its error)".into());
        }
        let now = base.elapsed().as_nanos() as u64;
        while seq < n && due(seq) <= now {
            codec.encode(&timed_send_frame(dest, body, false, due(seq)), &mut buf);
            seq += 1;
            if buf.len() >= FLUSH_AT {
                break;
            }
        }
        if !buf.is_empty() {
            sock.write_all(&buf)
                .map_err(|e| format!("producer write after {seq} messages: {e}"))?;
            buf.clear();
            let written = base.elapsed().as_nanos() as u64;
            for i in lags.len() as u64..seq {
                lags.push(written.saturating_sub(due(i)));
            }
        }
        if seq < n {
            let now = base.elapsed().as_nanos() as u64;
            let next = due(seq);
            if next > now {
                std::thread::sleep(Duration::from_nanos(next - now));
            }
        }
    }
    // DISCONNECT is not needed: the subscribers' counts end the run.
    let _ = sock.shutdown(std::net::Shutdown::Write);
    Ok((seq, lags))
}

/// Opens `n` STOMP connections that do nothing (heart-beats off), `batch` at a time.
pub async fn idle_connections(addr: SocketAddr, n: usize) -> Result<Vec<Conn>, Error> {
    let mut conns = Vec::with_capacity(n);
    let batch = 50;
    while conns.len() < n {
        let mut set = JoinSet::new();
        for _ in 0..batch.min(n - conns.len()) {
            set.spawn(Conn::connect(addr));
        }
        while let Some(r) = set.join_next().await {
            let c = r
                .map_err(|e| format!("connect task: {e}"))?
                .map_err(|e| format!("idle connection {} of {n}: {e}", conns.len() + 1))?;
            conns.push(c);
        }
    }
    Ok(conns)
}

/// Closes idle connections with a DISCONNECT each.
pub async fn close_all(conns: Vec<Conn>) {
    for c in conns {
        c.writer.close().await;
    }
}

/// Peak resident memory of a process, sampled every 50 ms until [`RssSampler::stop`].
pub struct RssSampler {
    stop: Arc<AtomicBool>,
    task: tokio::task::JoinHandle<Option<u64>>,
}

impl RssSampler {
    pub fn start(pid: Option<u32>) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let task = tokio::spawn(async move {
            let pid = pid?;
            let mut peak = rss(pid);
            while !flag.load(Ordering::Acquire) {
                tokio::time::sleep(Duration::from_millis(50)).await;
                peak = peak.max(rss(pid));
            }
            peak
        });
        RssSampler { stop, task }
    }

    /// The peak in bytes (`None` without a pid or /proc).
    pub async fn stop(self) -> Option<u64> {
        self.stop.store(true, Ordering::Release);
        self.task.await.ok().flatten()
    }
}

/// VmRSS of `pid` in bytes.
pub fn rss(pid: u32) -> Option<u64> {
    status_kb(pid, "VmRSS:")
}

/// RssAnon of `pid` in bytes: the resident memory that is the process's own (heap, stacks),
/// without the shared library and executable pages VmRSS also counts.
pub fn rss_anon(pid: u32) -> Option<u64> {
    status_kb(pid, "RssAnon:")
}

fn status_kb(pid: u32, key: &str) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with(key))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}
