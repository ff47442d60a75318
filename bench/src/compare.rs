//! `compare`: every workload of issue 6 against ferromq and (optionally) ActiveMQ, brokers
//! alternating, several rounds; one side-by-side table of medians and ratios, in markdown.
//!
//! Order: start-up (empty; the RSS at rest is read 2 s after each empty start), start-up with
//! a persistent backlog, then the load brokers are started once and every round runs every
//! load workload against each broker in turn (the first broker alternates between rounds).

use std::fmt::Write as _;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{ExitCode, Stdio};
use std::time::Duration;

use tokio::time::Instant;

use crate::load::{self, RssSampler, StreamParams, StreamResult};
use crate::process::{CpuMeter, Ferromq};
use crate::scenario;
use crate::stats::median;
use crate::{fsync, Error};

#[derive(Debug, clap::Args)]
pub struct CompareArgs {
    /// The ferromq binary (release build).
    #[arg(long)]
    ferromq: PathBuf,
    /// Scratch directory: data dirs, logs, the fsync probe file.
    #[arg(long)]
    work_dir: PathBuf,
    /// ActiveMQ start/stop script (`SCRIPT start|stop DIR`, e.g. bench/activemq-priority.sh);
    /// without it only ferromq is measured.
    #[arg(long, requires = "activemq_dir")]
    activemq_script: Option<PathBuf>,
    /// ActiveMQ work directory (the start-up runs use DIR-start beside it).
    #[arg(long)]
    activemq_dir: Option<PathBuf>,
    /// Small counts: a smoke run.
    #[arg(long)]
    quick: bool,
    /// Rounds (default 3, quick 1); medians over them are reported.
    #[arg(long)]
    rounds: Option<u32>,
    /// Messages in the non-persistent queue workload (a) and (f).
    #[arg(long)]
    messages: Option<u64>,
    /// ferromq's start-up backlog (persistent messages).
    #[arg(long)]
    backlog: Option<u64>,
    /// ActiveMQ's start-up backlog (its pipelined fill is far slower).
    #[arg(long)]
    amq_backlog: Option<u64>,
    /// Idle connections held open in workload (f).
    #[arg(long)]
    idle: Option<usize>,
    /// Seconds per latency run (d).
    #[arg(long)]
    latency_secs: Option<f64>,
    /// Closed-loop window: most messages sent and not yet received (a, c, f).
    #[arg(long, default_value_t = 1000)]
    window: u64,
    #[arg(long, default_value_t = 256)]
    size: usize,
}

struct Sizes {
    rounds: u32,
    np: u64,
    fanout: u64,
    latency_secs: f64,
    p1: u64,
    p16: u64,
    idle: usize,
    backlog: u64,
    amq_backlog: u64,
    fsync: u64,
}

const FERROMQ: usize = 0;
const AMQ: usize = 1;
const NAMES: [&str; 2] = ["ferromq", "ActiveMQ"];
const FANOUT_SUBS: usize = 4;
const RATES: [f64; 2] = [2_000.0, 20_000.0];
/// The broker's own memory at rest: RSS without the shared library pages (which dominate
/// ferromq's RSS at rest: librocksdb's code alone is about 9 MB of its 18 MB).
const PRIVATE_AT_REST: &str = "private memory (RssAnon) at rest";

#[derive(Clone, Copy, PartialEq, Eq)]
enum Better {
    Higher,
    Lower,
    Info,
}

#[derive(Clone, Copy)]
enum Unit {
    Rate,
    Us,
    Ms,
    Mb,
    Pct,
    X,
}

fn fmt_val(u: Unit, v: f64) -> String {
    match u {
        Unit::Rate => thousands(v),
        Unit::Us if v >= 10_000.0 => format!("{:.1} ms", v / 1e3),
        Unit::Us => format!("{v:.0} µs"),
        Unit::Ms => format!("{v:.0} ms"),
        Unit::Mb => format!("{v:.0} MB"),
        Unit::Pct => format!("{v:.0}%"),
        Unit::X => format!("{v:.2}×"),
    }
}

fn thousands(v: f64) -> String {
    let s = format!("{:.0}", v.max(0.0));
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

struct Row {
    workload: String,
    metric: String,
    unit: Unit,
    better: Better,
    vals: [Vec<f64>; 2],
}

#[derive(Default)]
struct Table {
    rows: Vec<Row>,
    failures: Vec<String>,
}

impl Table {
    fn add(&mut self, w: &str, m: &str, unit: Unit, better: Better, b: usize, v: f64) {
        if !v.is_finite() {
            return;
        }
        let i = match self
            .rows
            .iter()
            .position(|r| r.workload == w && r.metric == m)
        {
            Some(i) => i,
            None => {
                self.rows.push(Row {
                    workload: w.to_owned(),
                    metric: m.to_owned(),
                    unit,
                    better,
                    vals: [Vec::new(), Vec::new()],
                });
                self.rows.len() - 1
            }
        };
        self.rows[i].vals[b].push(v);
    }

    fn med(&self, w: &str, m: &str, b: usize) -> Option<f64> {
        let r = self
            .rows
            .iter()
            .find(|r| r.workload == w && r.metric == m)?;
        (!r.vals[b].is_empty()).then(|| median(&r.vals[b]))
    }

    fn fail(&mut self, b: usize, what: &str, e: &Error) {
        let msg = format!("{} {what}: {e}", NAMES[b]);
        eprintln!("  FAILED: {msg}");
        self.failures.push(msg);
    }
}

/// A broker the load workloads run against.
struct Live {
    addr: SocketAddr,
    pid: Option<u32>,
}

/// An ActiveMQ started and stopped through its script.
struct Amq {
    script: PathBuf,
    dir: PathBuf,
}

impl Amq {
    /// Starts it (on the data a previous `stop(true)` kept, with `keep_data`). Returns the
    /// address, the java pid, and java launch → STOMP port accepting: the script writes the
    /// pid file right after launching java; the time the script spends before that (a free
    /// port, the config) is not counted.
    async fn start(&self, keep_data: bool) -> Result<(SocketAddr, u32, Duration), Error> {
        let pid_file = self.dir.join("activemq.pid");
        let port_file = self.dir.join("port");
        let _ = std::fs::remove_file(&pid_file);
        let _ = std::fs::remove_file(&port_file);
        let mut cmd = tokio::process::Command::new("bash");
        cmd.arg(&self.script)
            .arg("start")
            .arg(&self.dir)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .kill_on_drop(false);
        if keep_data {
            cmd.env("AMQ_KEEP_DATA", "1");
        }
        let mut child = cmd
            .spawn()
            .map_err(|e| format!("starting {}: {e}", self.script.display()))?;
        let deadline = Instant::now() + Duration::from_secs(180);
        let mut launched: Option<(Instant, u32)> = None;
        loop {
            if Instant::now() > deadline {
                return Err("ActiveMQ did not accept STOMP within 180 s".into());
            }
            if let Some(st) = child.try_wait()? {
                if !st.success() {
                    return Err(format!("{} start failed ({st})", self.script.display()).into());
                }
            }
            match launched {
                None => {
                    if let Some(pid) = read_num::<u32>(&pid_file) {
                        launched = Some((Instant::now(), pid));
                    }
                }
                Some((at, pid)) => {
                    if let Some(port) = read_num::<u16>(&port_file) {
                        let addr = SocketAddr::from(([127, 0, 0, 1], port));
                        if tokio::net::TcpStream::connect(addr).await.is_ok() {
                            let took = at.elapsed();
                            let st = tokio::time::timeout(Duration::from_secs(30), child.wait())
                                .await
                                .map_err(|_| "activemq start script did not exit")??;
                            if !st.success() {
                                return Err(format!("activemq start script: {st}").into());
                            }
                            return Ok((addr, pid, took));
                        }
                    }
                }
            }
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    }

    async fn stop(&self, keep: bool) -> Result<(), Error> {
        let mut cmd = tokio::process::Command::new("bash");
        cmd.arg(&self.script).arg("stop").arg(&self.dir);
        if keep {
            cmd.env("KEEP_AMQ_DIR", "1");
        }
        let st = cmd.stdin(Stdio::null()).status().await?;
        if st.success() {
            Ok(())
        } else {
            Err(format!("{} stop: {st}", self.script.display()).into())
        }
    }
}

fn read_num<T: std::str::FromStr>(p: &Path) -> Option<T> {
    std::fs::read_to_string(p).ok()?.trim().parse().ok()
}

fn free_port() -> Result<u16, Error> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

/// Spawns ferromq on a fresh port and polls a TCP connect every ms: spawn → accepting.
async fn ferromq_start(
    bin: &Path,
    data: &Path,
    log: &Path,
) -> Result<(Ferromq, SocketAddr, Duration), Error> {
    let port = free_port()?;
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let fm = Ferromq::spawn(bin, data, port, log)?;
    let deadline = fm.spawned_at + Duration::from_secs(120);
    loop {
        if tokio::net::TcpStream::connect(addr).await.is_ok() {
            let took = fm.spawned_at.elapsed();
            return Ok((fm, addr, took));
        }
        if Instant::now() > deadline {
            let _ = fm.terminate(Duration::from_secs(10)).await;
            return Err(format!("ferromq did not accept on {addr} within 120 s").into());
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
}

fn mb(b: u64) -> f64 {
    b as f64 / (1024.0 * 1024.0)
}

pub async fn run(a: CompareArgs) -> Result<ExitCode, Error> {
    let q = a.quick;
    let s = Sizes {
        rounds: a.rounds.unwrap_or(if q { 1 } else { 3 }).max(1),
        np: a.messages.unwrap_or(if q { 5_000 } else { 200_000 }),
        fanout: if q { 1_000 } else { 50_000 },
        latency_secs: a.latency_secs.unwrap_or(if q { 0.5 } else { 5.0 }),
        p1: if q { 100 } else { 1_000 },
        p16: if q { 20 } else { 500 },
        idle: a.idle.unwrap_or(if q { 100 } else { 1_000 }),
        backlog: a.backlog.unwrap_or(if q { 5_000 } else { 1_000_000 }),
        amq_backlog: a.amq_backlog.unwrap_or(if q { 2_000 } else { 100_000 }),
        fsync: if q { 200 } else { 2_000 },
    };
    std::fs::create_dir_all(&a.work_dir)?;
    let amq = match (&a.activemq_script, &a.activemq_dir) {
        (Some(script), Some(dir)) => Some(Amq {
            script: script.clone(),
            dir: dir.clone(),
        }),
        _ => None,
    };
    let amq_start = amq.as_ref().map(|m| Amq {
        script: m.script.clone(),
        dir: PathBuf::from(format!("{}-start", m.dir.display())),
    });
    let brokers: Vec<usize> = if amq.is_some() {
        vec![FERROMQ, AMQ]
    } else {
        vec![FERROMQ]
    };
    let mut t = Table::default();
    let load_before = loadavg();
    let mut probes = vec![fsync::probe(&a.work_dir, s.fsync, a.size)?];

    // (h) start-up, empty, and (g) RSS at rest
    let w_start = "h. start-up";
    let w_mem = "g. memory";
    for round in 0..s.rounds {
        for &b in &order(&brokers, round) {
            eprintln!("round {}: start-up (empty), {}", round + 1, NAMES[b]);
            let r = match b {
                FERROMQ => startup_ferromq(&a, round).await,
                _ => match &amq_start {
                    Some(m) => startup_amq(m).await,
                    None => continue,
                },
            };
            match r {
                Ok((took, (rest, anon))) => {
                    eprintln!("  {took:?}, RSS at rest {:?} MB", rest.map(mb));
                    let m = "spawn → STOMP port accepting, empty store";
                    t.add(
                        w_start,
                        m,
                        Unit::Ms,
                        Better::Lower,
                        b,
                        took.as_secs_f64() * 1e3,
                    );
                    if let Some(r) = rest {
                        let m = "RSS at rest (2 s after an empty start)";
                        t.add(w_mem, m, Unit::Mb, Better::Lower, b, mb(r));
                    }
                    if let Some(r) = anon {
                        t.add(w_mem, PRIVATE_AT_REST, Unit::Mb, Better::Lower, b, mb(r));
                    }
                }
                Err(e) => t.fail(b, "start-up (empty)", &e),
            }
        }
    }

    // (h) start-up with a persistent backlog
    let backlog_metric = format!(
        "spawn → STOMP port accepting, backlog (ferromq {} / ActiveMQ {} msgs; median of {} restarts)",
        thousands(s.backlog as f64),
        thousands(s.amq_backlog as f64),
        s.rounds
    );
    let first_metric = "  same, first restart after the fill";
    match backlog_ferromq(&a, &s).await {
        Ok(v) => record_restarts(&mut t, FERROMQ, &backlog_metric, first_metric, &v),
        Err(e) => t.fail(FERROMQ, "start-up with backlog", &e),
    }
    if let Some(m) = &amq_start {
        match backlog_amq(m, &s, a.size).await {
            Ok(v) => record_restarts(&mut t, AMQ, &backlog_metric, first_metric, &v),
            Err(e) => t.fail(AMQ, "start-up with backlog", &e),
        }
        let _ = m.stop(false).await;
    }

    // the load brokers
    let data = a.work_dir.join("compare-data");
    if data.exists() {
        std::fs::remove_dir_all(&data)?;
    }
    let (fm, fm_addr, _) =
        ferromq_start(&a.ferromq, &data, &a.work_dir.join("ferromq-compare.log")).await?;
    let mut live: Vec<Option<Live>> = vec![
        Some(Live {
            addr: fm_addr,
            pid: fm.pid(),
        }),
        None,
    ];
    if let Some(m) = &amq {
        match m.start(false).await {
            Ok((addr, pid, _)) => {
                live[AMQ] = Some(Live {
                    addr,
                    pid: Some(pid),
                })
            }
            Err(e) => t.fail(AMQ, "start (load broker)", &e),
        }
    }
    let result = load_rounds(&a, &s, &brokers, &live, &mut t, &mut probes).await;
    let warnings = fm.warnings();
    if let Err(e) = fm.terminate(Duration::from_secs(60)).await {
        t.fail(FERROMQ, "stop", &e);
    }
    let _ = std::fs::remove_dir_all(&data);
    if let Some(m) = &amq {
        if let Err(e) = m.stop(false).await {
            t.fail(AMQ, "stop", &e);
        }
    }
    result?;
    let load_after = loadavg();
    let fs = probes.iter().map(|p| p.ops_per_sec).fold(0.0f64, f64::max);

    let out = report(
        &a,
        &s,
        &t,
        fs,
        &probes,
        amq.is_some(),
        &load_before,
        &load_after,
    );
    print!("{out}");
    if !warnings.is_empty() {
        println!("\nferromq logged {} WARN/ERROR line(s):\n", warnings.len());
        for w in &warnings {
            println!("    {w}");
        }
    }
    Ok(if t.failures.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// Consumes the `count` messages a workload left in `queue`.
async fn empty_queue(addr: SocketAddr, queue: &str, count: u64) -> Result<(), Error> {
    let sub =
        scenario::subscribe_first(addr, queue, Instant::now() + Duration::from_secs(30)).await?;
    scenario::drain(sub, count, 0).await.map(drop)
}

/// Broker order for a round: alternating which goes first.
fn order(brokers: &[usize], round: u32) -> Vec<usize> {
    let mut v = brokers.to_vec();
    if round % 2 == 1 {
        v.reverse();
    }
    v
}

/// Memory at rest: (VmRSS, RssAnon) in bytes.
type AtRest = (Option<u64>, Option<u64>);

fn at_rest(pid: Option<u32>) -> AtRest {
    (pid.and_then(load::rss), pid.and_then(load::rss_anon))
}

async fn startup_ferromq(a: &CompareArgs, round: u32) -> Result<(Duration, AtRest), Error> {
    let data = a.work_dir.join(format!("startup-data-{round}"));
    let _ = std::fs::remove_dir_all(&data);
    let (fm, _, took) =
        ferromq_start(&a.ferromq, &data, &a.work_dir.join("ferromq-startup.log")).await?;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let rest = at_rest(fm.pid());
    fm.terminate(Duration::from_secs(30)).await?;
    let _ = std::fs::remove_dir_all(&data);
    Ok((took, rest))
}

async fn startup_amq(m: &Amq) -> Result<(Duration, AtRest), Error> {
    let r = m.start(false).await;
    let out = match r {
        Ok((_, pid, took)) => {
            tokio::time::sleep(Duration::from_secs(2)).await;
            Ok((took, at_rest(Some(pid))))
        }
        Err(e) => Err(e),
    };
    m.stop(false).await?;
    out
}

fn record_restarts(t: &mut Table, b: usize, metric: &str, first: &str, v: &[Duration]) {
    for d in v {
        t.add(
            "h. start-up",
            metric,
            Unit::Ms,
            Better::Lower,
            b,
            d.as_secs_f64() * 1e3,
        );
    }
    if let Some(d) = v.first() {
        t.add(
            "h. start-up",
            first,
            Unit::Ms,
            Better::Lower,
            b,
            d.as_secs_f64() * 1e3,
        );
    }
}

async fn backlog_ferromq(a: &CompareArgs, s: &Sizes) -> Result<Vec<Duration>, Error> {
    let data = a.work_dir.join("backlog-data");
    let _ = std::fs::remove_dir_all(&data);
    let log = a.work_dir.join("ferromq-backlog.log");
    let r = async {
        let (fm, addr, _) = ferromq_start(&a.ferromq, &data, &log).await?;
        eprintln!("ferromq: fill {} persistent messages", s.backlog);
        let fill = scenario::fill(addr, "/queue/bench-backlog", s.backlog, a.size, 1000, 20).await;
        fm.terminate(Duration::from_secs(120)).await?;
        let fill = fill?;
        eprintln!("  {:.0} msgs/s", fill.msgs_per_sec);
        let mut v = Vec::new();
        for i in 0..s.rounds {
            let (fm, _, took) = ferromq_start(&a.ferromq, &data, &log).await?;
            eprintln!("  restart {}: {took:?}", i + 1);
            v.push(took);
            fm.terminate(Duration::from_secs(120)).await?;
        }
        Ok::<_, Error>(v)
    }
    .await;
    let _ = std::fs::remove_dir_all(&data);
    r
}

async fn backlog_amq(m: &Amq, s: &Sizes, size: usize) -> Result<Vec<Duration>, Error> {
    let (addr, _, _) = m.start(false).await?;
    eprintln!("ActiveMQ: fill {} persistent messages", s.amq_backlog);
    let fill = scenario::fill(addr, "/queue/bench-backlog", s.amq_backlog, size, 1000, 20).await;
    m.stop(true).await?;
    let fill = fill?;
    eprintln!("  {:.0} msgs/s", fill.msgs_per_sec);
    let mut v = Vec::new();
    for i in 0..s.rounds {
        let (_, _, took) = m.start(true).await?;
        eprintln!("  restart {}: {took:?}", i + 1);
        v.push(took);
        m.stop(true).await?;
    }
    Ok(v)
}

/// Runs one measured phase against a broker: its CPU and peak RSS over the phase.
struct Phase {
    meter: CpuMeter,
    rss: RssSampler,
    t0: Instant,
}

struct PhaseEnd {
    broker_cpu: Option<Duration>,
    client_cpu_pct: Option<f64>,
    peak_rss: Option<u64>,
}

impl Phase {
    fn start(pid: Option<u32>) -> Self {
        Phase {
            meter: CpuMeter::start(pid),
            rss: RssSampler::start(pid),
            t0: Instant::now(),
        }
    }

    async fn end(self) -> PhaseEnd {
        let cpu = self.meter.stop();
        let wall = self.t0.elapsed().as_secs_f64().max(1e-9);
        PhaseEnd {
            broker_cpu: cpu.broker,
            client_cpu_pct: cpu.client.map(|c| c.as_secs_f64() / wall * 100.0),
            peak_rss: self.rss.stop().await,
        }
    }
}

fn record_phase(t: &mut Table, w: &str, b: usize, e: &PhaseEnd, per: Option<(&str, u64)>) {
    if let (Some((what, n)), Some(cpu)) = (per, e.broker_cpu) {
        let m = format!("broker CPU per {what}");
        t.add(
            w,
            &m,
            Unit::Us,
            Better::Lower,
            b,
            cpu.as_secs_f64() * 1e6 / n.max(1) as f64,
        );
    }
    if let Some(r) = e.peak_rss {
        t.add(w, "peak RSS", Unit::Mb, Better::Lower, b, mb(r));
    }
    if let Some(c) = e.client_cpu_pct {
        t.add(
            w,
            "bench client CPU (of one core)",
            Unit::Pct,
            Better::Info,
            b,
            c,
        );
    }
}

async fn stream_phase(br: &Live, p: &StreamParams) -> Result<(StreamResult, PhaseEnd), Error> {
    let ph = Phase::start(br.pid);
    let r = load::stream(br.addr, p).await;
    let e = ph.end().await;
    Ok((r?, e))
}

const W_NP: &str = "a. non-persistent queue, 1 → 1";
const W_P1: &str = "b. persistent send + RECEIPT each, 1 producer";
const W_P16: &str = "b. persistent send + RECEIPT each, 16 producers";
const W_FAN: &str = "c. topic fan-out, 1 → 4 subscribers";
const W_IDLE: &str = "f. (a) with idle connections held open";

fn w_lat(rate: f64) -> String {
    format!("d. latency at {} msg/s (open loop)", thousands(rate))
}

async fn load_rounds(
    a: &CompareArgs,
    s: &Sizes,
    brokers: &[usize],
    live: &[Option<Live>],
    t: &mut Table,
    probes: &mut Vec<fsync::FsyncResult>,
) -> Result<(), Error> {
    let pid = std::process::id();
    let np = |dest: String, n: u64, subs: usize| StreamParams {
        dest,
        subscribers: subs,
        messages: n,
        size: a.size,
        window: a.window,
        rate: None,
        prefetch: 1000,
    };
    // Warm-up (the JVM's JIT, ferromq's first RocksDB writes): not measured.
    for &b in brokers {
        let Some(br) = &live[b] else { continue };
        eprintln!("warm-up: {}", NAMES[b]);
        let w = np(
            format!("/queue/cmp-warm-{pid}"),
            (s.np / 10).clamp(1000, 20_000),
            1,
        );
        if let Err(e) = load::stream(br.addr, &w).await {
            eprintln!("  warm-up stream failed: {e}");
        }
        let q = format!("/queue/cmp-warm-p-{pid}");
        if let Err(e) = scenario::persistent_send(br.addr, &q, 16, 50, a.size).await {
            eprintln!("  warm-up persistent-send failed: {e}");
        }
    }
    let mut peak_all = [Vec::new(), Vec::new()];
    for round in 0..s.rounds {
        for &b in &order(brokers, round) {
            let Some(br) = &live[b] else { continue };
            let name = NAMES[b];
            let tag = format!("{pid}-{round}-{b}");
            let mut peak = 0u64;
            let mut see = |e: &PhaseEnd| peak = peak.max(e.peak_rss.unwrap_or(0));
            eprintln!("round {}/{}: {name}", round + 1, s.rounds);

            // (a)
            let mut np_rate = None;
            match stream_phase(br, &np(format!("/queue/cmp-np-{tag}"), s.np, 1)).await {
                Ok((r, e)) => {
                    eprintln!("  (a) {:.0} msgs/s", r.msgs_per_sec);
                    t.add(
                        W_NP,
                        "msgs/s",
                        Unit::Rate,
                        Better::Higher,
                        b,
                        r.msgs_per_sec,
                    );
                    record_phase(t, W_NP, b, &e, Some(("message", r.sent)));
                    see(&e);
                    np_rate = Some(r.msgs_per_sec);
                }
                Err(e) => t.fail(b, W_NP, &e),
            }

            // (b)
            for (w, n, per) in [(W_P1, 1usize, s.p1), (W_P16, 16, s.p16)] {
                let q = format!("/queue/cmp-p{n}-{tag}");
                let ph = Phase::start(br.pid);
                let r = scenario::persistent_send(br.addr, &q, n, per, a.size).await;
                let e = ph.end().await;
                match r {
                    Ok(r) => {
                        eprintln!("  (b) {n} producers: {:.0} msgs/s", r.msgs_per_sec);
                        t.add(w, "msgs/s", Unit::Rate, Better::Higher, b, r.msgs_per_sec);
                        let p99 = r.latency.p99.as_secs_f64() * 1e6;
                        t.add(w, "SEND → RECEIPT p99", Unit::Us, Better::Lower, b, p99);
                        record_phase(t, w, b, &e, Some(("message", r.messages)));
                        see(&e);
                    }
                    Err(e) => t.fail(b, w, &e),
                }
                // Leave no backlog behind: the later workloads' peak RSS would count it
                // (5 rounds left 45,000 messages queued on each broker).
                if let Err(e) = empty_queue(br.addr, &q, n as u64 * per).await {
                    eprintln!("  emptying {q} failed: {e}");
                }
            }

            // (c)
            let p = np(format!("/topic/cmp-fan-{tag}"), s.fanout, FANOUT_SUBS);
            match stream_phase(br, &p).await {
                Ok((r, e)) => {
                    eprintln!("  (c) {:.0} deliveries/s", r.deliveries_per_sec);
                    let v = r.deliveries_per_sec;
                    t.add(W_FAN, "deliveries/s", Unit::Rate, Better::Higher, b, v);
                    record_phase(t, W_FAN, b, &e, Some(("delivery", r.deliveries)));
                    see(&e);
                }
                Err(e) => t.fail(b, W_FAN, &e),
            }

            // (d)
            for rate in RATES {
                let w = w_lat(rate);
                let n = ((rate * s.latency_secs) as u64).max(100);
                let p = StreamParams {
                    rate: Some(rate),
                    ..np(format!("/queue/cmp-lat-{}-{tag}", rate as u64), n, 1)
                };
                match stream_phase(br, &p).await {
                    Ok((r, e)) => {
                        let l = r.latency;
                        eprintln!(
                            "  (d) {rate} msg/s: p50 {} µs p99 {} µs p99.9 {} µs",
                            l.p50 / 1000,
                            l.p99 / 1000,
                            l.p999 / 1000
                        );
                        for (m, v, better) in [
                            ("p50", l.p50, Better::Lower),
                            ("p99", l.p99, Better::Lower),
                            ("p99.9", l.p999, Better::Lower),
                            ("max", l.max, Better::Info),
                        ] {
                            t.add(&w, m, Unit::Us, better, b, v as f64 / 1e3);
                        }
                        let v = r.msgs_per_sec;
                        t.add(&w, "achieved msgs/s", Unit::Rate, Better::Info, b, v);
                        let m = "producer late vs schedule, p99 (client's share)";
                        let v = r.send_lag.p99 as f64 / 1e3;
                        t.add(&w, m, Unit::Us, Better::Info, b, v);
                        record_phase(t, &w, b, &e, None);
                        see(&e);
                    }
                    Err(e) => t.fail(b, &w, &e),
                }
            }

            // (f)
            let ph = Phase::start(br.pid);
            let t0 = Instant::now();
            match load::idle_connections(br.addr, s.idle).await {
                Ok(conns) => {
                    let connect = t0.elapsed();
                    let r =
                        load::stream(br.addr, &np(format!("/queue/cmp-idle-{tag}"), s.np, 1)).await;
                    load::close_all(conns).await;
                    let e = ph.end().await;
                    match r {
                        Ok(r) => {
                            eprintln!("  (f) {:.0} msgs/s", r.msgs_per_sec);
                            let v = r.msgs_per_sec;
                            t.add(W_IDLE, "msgs/s", Unit::Rate, Better::Higher, b, v);
                            if let Some(base) = np_rate {
                                let m = "msgs/s with ÷ without (same round)";
                                t.add(W_IDLE, m, Unit::X, Better::Higher, b, v / base);
                            }
                            let ms = connect.as_secs_f64() * 1e3;
                            let m = "time to open the idle connections";
                            t.add(W_IDLE, m, Unit::Ms, Better::Lower, b, ms);
                            record_phase(t, W_IDLE, b, &e, None);
                            see(&e);
                        }
                        Err(e) => t.fail(b, W_IDLE, &e),
                    }
                }
                Err(e) => {
                    let _ = ph.end().await;
                    t.fail(b, W_IDLE, &e);
                }
            }
            if peak > 0 {
                peak_all[b].push(mb(peak));
            }
        }
        probes.push(fsync::probe(&a.work_dir, s.fsync, a.size)?);
    }
    for (b, peaks) in peak_all.iter().enumerate() {
        for &v in peaks {
            let m = "peak RSS over all load workloads of a round";
            t.add("g. memory", m, Unit::Mb, Better::Lower, b, v);
        }
    }
    Ok(())
}

#[allow(clippy::too_many_arguments)]
fn report(
    a: &CompareArgs,
    s: &Sizes,
    t: &Table,
    fsync_limit: f64,
    probes: &[fsync::FsyncResult],
    with_amq: bool,
    load_before: &str,
    load_after: &str,
) -> String {
    let mut o = String::new();
    let _ = writeln!(o, "## Machine\n");
    let _ = writeln!(o, "- date: {}", sh("date", &["-u", "+%Y-%m-%d %H:%M UTC"]));
    let _ = writeln!(
        o,
        "- CPU: {} × {}",
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        cpu_model()
    );
    let _ = writeln!(o, "- memory: {}", meminfo_total());
    let _ = writeln!(
        o,
        "- kernel: {}",
        std::fs::read_to_string("/proc/sys/kernel/osrelease")
            .unwrap_or_default()
            .trim()
    );
    let _ = writeln!(
        o,
        "- disk of the scratch dir: {}",
        sh(
            "findmnt",
            &[
                "-n",
                "-o",
                "SOURCE,FSTYPE",
                "--target",
                &a.work_dir.to_string_lossy()
            ]
        )
    );
    let list: Vec<String> = probes
        .iter()
        .map(|p| format!("{:.0}", p.ops_per_sec))
        .collect();
    let best = probes
        .iter()
        .max_by(|x, y| x.ops_per_sec.total_cmp(&y.ops_per_sec));
    if let Some(p) = best {
        let _ = writeln!(
            o,
            "- fsync probe ({} × write {} B + fdatasync, before and after each round): {} ops/s; \
             best {:.0} ops/s (p50 {:.0} µs, p99 {:.0} µs) is the limit used below",
            p.iterations,
            a.size,
            list.join(", "),
            fsync_limit,
            p.latency.p50.as_secs_f64() * 1e6,
            p.latency.p99.as_secs_f64() * 1e6
        );
    }
    let _ = writeln!(
        o,
        "- load average (1/5/15 min) before: {load_before}; after: {load_after}"
    );
    let _ = writeln!(
        o,
        "- {} round(s), {} B bodies, {}; window {} unreceived messages (a, c, f); (a)/(f) {} \
         messages, (c) {} messages × {FANOUT_SUBS}, (d) {} s per rate, (b) 1 × {} and 16 × {} \
         messages, (f) {} idle connections",
        s.rounds,
        a.size,
        if a.quick { "--quick" } else { "full counts" },
        a.window,
        thousands(s.np as f64),
        thousands(s.fanout as f64),
        s.latency_secs,
        s.p1,
        s.p16,
        thousands(s.idle as f64)
    );

    let _ = writeln!(o, "\n## Results\n");
    let _ = writeln!(
        o,
        "Medians over the rounds; ratio = ferromq median ÷ ActiveMQ median. \"better\": which \
         direction is better for ferromq (↑ higher, ↓ lower, · information).\n"
    );
    let _ = writeln!(
        o,
        "| workload | metric | better | ferromq | ActiveMQ | ferromq / ActiveMQ |"
    );
    let _ = writeln!(o, "|---|---|:-:|--:|--:|--:|");
    let mut rows: Vec<&Row> = t.rows.iter().collect();
    // By workload letter; within a workload, in the order first recorded.
    rows.sort_by(|x, y| x.workload.as_bytes()[..2].cmp(&y.workload.as_bytes()[..2]));
    let mut last = "";
    for r in rows {
        let cell = |b: usize| {
            if r.vals[b].is_empty() {
                "—".to_owned()
            } else {
                fmt_val(r.unit, median(&r.vals[b]))
            }
        };
        // No ratio for information rows (the client's CPU, the achieved rate).
        let ratio = if r.better == Better::Info || r.vals[0].is_empty() || r.vals[1].is_empty() {
            "—".to_owned()
        } else {
            let m = median(&r.vals[1]);
            if m > 0.0 {
                format!("{:.2}×", median(&r.vals[0]) / m)
            } else {
                "—".to_owned()
            }
        };
        let better = match r.better {
            Better::Higher => "↑",
            Better::Lower => "↓",
            Better::Info => "·",
        };
        let w = if r.workload == last { "" } else { &r.workload };
        last = &r.workload;
        let _ = writeln!(
            o,
            "| {w} | {} | {better} | {} | {} | {ratio} |",
            r.metric,
            cell(0),
            cell(1)
        );
    }
    if !t.failures.is_empty() {
        let _ = writeln!(o, "\nFailures (no number for these):\n");
        for f in &t.failures {
            let _ = writeln!(o, "- {f}");
        }
    }

    let _ = writeln!(o, "\n## Targets\n");
    let ratio = |w: &str, m: &str| -> Option<(f64, f64, f64)> {
        let f = t.med(w, m, FERROMQ)?;
        let q = t.med(w, m, AMQ)?;
        Some((f, q, f / q))
    };
    let verdict = |ok: bool| if ok { "**met**" } else { "**not met**" };
    let no_amq = if with_amq {
        "no figure (failed)"
    } else {
        "n/a (no ActiveMQ in this run)"
    };
    let mut line = |name: &str, text: String| {
        let _ = writeln!(o, "- {name}: {text}");
    };
    line(
        "non-persistent throughput ≥ 3× ActiveMQ (a)",
        ratio(W_NP, "msgs/s").map_or_else(
            || no_amq.to_owned(),
            |(f, q, r)| {
                format!(
                    "{} — {} vs {} msgs/s = {r:.2}×",
                    verdict(r >= 3.0),
                    thousands(f),
                    thousands(q)
                )
            },
        ),
    );
    line(
        "persistent-with-receipts, 16 producers ≥ 5× ActiveMQ (b)",
        ratio(W_P16, "msgs/s").map_or_else(
            || no_amq.to_owned(),
            |(f, q, r)| {
                format!(
                    "{} — {} vs {} msgs/s = {r:.2}×",
                    verdict(r >= 5.0),
                    thousands(f),
                    thousands(q)
                )
            },
        ),
    );
    line(
        "1 producer within 80% of the disk's synced-write rate (b)",
        t.med(W_P1, "msgs/s", FERROMQ).map_or_else(
            || "no figure".to_owned(),
            |f| {
                let r = f / fsync_limit;
                format!(
                    "{} — {} msgs/s = {:.0}% of the fsync probe's {} ops/s",
                    verdict(r >= 0.8),
                    thousands(f),
                    r * 100.0,
                    thousands(fsync_limit)
                )
            },
        ),
    );
    let wl = w_lat(RATES[0]);
    line(
        "p99 latency at 2,000 msg/s ≤ 1/5 of ActiveMQ's (d)",
        ratio(&wl, "p99").map_or_else(
            || no_amq.to_owned(),
            |(f, q, r)| format!("{} — {f:.0} µs vs {q:.0} µs = {r:.2}×", verdict(r <= 0.2)),
        ),
    );
    for m in [
        "RSS at rest (2 s after an empty start)",
        PRIVATE_AT_REST,
        "peak RSS over all load workloads of a round",
    ] {
        line(
            &format!("RSS ≤ 1/10 of ActiveMQ's, {m} (g)"),
            ratio("g. memory", m).map_or_else(
                || no_amq.to_owned(),
                |(f, q, r)| format!("{} — {f:.0} MB vs {q:.0} MB = {r:.3}×", verdict(r <= 0.1)),
            ),
        );
    }
    line(
        "start-up under 100 ms, empty (h)",
        t.med(
            "h. start-up",
            "spawn → STOMP port accepting, empty store",
            FERROMQ,
        )
        .map_or_else(
            || "no figure".to_owned(),
            |f| format!("{} — {f:.0} ms", verdict(f < 100.0)),
        ),
    );
    o
}

fn sh(cmd: &str, args: &[&str]) -> String {
    std::process::Command::new(cmd)
        .args(args)
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "?".to_owned())
}

fn cpu_model() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .map(|m| m.trim().to_owned())
        })
        .unwrap_or_else(|| "?".to_owned())
}

fn meminfo_total() -> String {
    std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|s| {
            let l = s.lines().find(|l| l.starts_with("MemTotal:"))?;
            let kb: f64 = l.split_whitespace().nth(1)?.parse().ok()?;
            Some(format!("{:.1} GiB", kb / 1024.0 / 1024.0))
        })
        .unwrap_or_else(|| "?".to_owned())
}

/// The first three fields of /proc/loadavg.
fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "?".to_owned())
}
