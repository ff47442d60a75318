//! `ferromq-bench`: STOMP load generator and benchmark harness for ferromq.
//!
//! Benchmarks measure; they assert nothing and are not part of the test suite. `bench/run.sh`
//! builds the release binary, starts the ActiveMQ reference and runs `ferromq-bench suite`.
//! The other subcommands run one piece each, for ad-hoc use against any STOMP broker.

mod client;
mod compare;
mod fanout;
mod fsync;
mod load;
mod priority;
mod process;
mod recovery;
mod routing;
mod scenario;
mod selector;
mod stats;
mod watchdog;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, Subcommand};

use crate::stats::{fmt_dur, median, us};

/// Errors are reported, never matched on.
pub type Error = Box<dyn std::error::Error + Send + Sync>;

#[derive(Debug, Parser)]
#[command(about = "STOMP load generator and benchmark harness for ferromq")]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Debug, Subcommand)]
enum Cmd {
    /// The physical limit: latency and rate of `write N bytes + fdatasync` in DIR.
    Fsync {
        #[arg(long)]
        dir: PathBuf,
        #[arg(long, default_value_t = 2000)]
        iterations: u64,
        #[arg(long, default_value_t = 256)]
        size: usize,
    },
    /// Synchronous persistent sends: each producer waits for the RECEIPT of every message.
    Send {
        #[arg(long)]
        addr: SocketAddr,
        #[arg(long, default_value_t = 1)]
        producers: usize,
        /// Messages per producer.
        #[arg(long, default_value_t = 2000)]
        messages: u64,
        #[arg(long, default_value_t = 256)]
        size: usize,
        #[arg(long, default_value = "/queue/bench-send")]
        queue: String,
    },
    /// Pipelined persistent sends from one connection, a receipt every 1000th message.
    Fill {
        #[arg(long)]
        addr: SocketAddr,
        #[arg(long, default_value_t = 100_000)]
        count: u64,
        #[arg(long, default_value_t = 256)]
        size: usize,
        #[arg(long, default_value = "/queue/bench-fill")]
        queue: String,
    },
    /// Subscribe and take COUNT messages, checking that `bench-seq` runs 0, 1, 2, ...
    Drain {
        #[arg(long)]
        addr: SocketAddr,
        #[arg(long, default_value_t = 10_000)]
        count: u64,
        #[arg(long, default_value = "/queue/bench-fill")]
        queue: String,
        #[arg(long, default_value_t = 30)]
        timeout_secs: u64,
    },
    /// Fill a fresh ferromq, SIGTERM it, restart it and time the way back to the first MESSAGE.
    Recovery(RecoveryArgs),
    /// Everything: fsync limit, persistent-send (ferromq and optionally ActiveMQ), recovery.
    Suite(SuiteArgs),
    /// A persistent backlog with mixed priorities, stored with no consumer and then drained by
    /// one: order inversions, FIFO within each priority, drain rate; ferromq against ActiveMQ.
    PriorityDrain(PriorityDrainArgs),
    /// One queue, C consumers each with its own selector `key = 'k<i>'`, N messages
    /// round-robin over the keys (optionally N/10 more that no consumer selects): dispatch
    /// rate at C and 10×C consumers, each consumer's messages checked; ferromq against ActiveMQ.
    SelectorDispatch(routing::SelectorArgs),
    /// S wildcard topic subscriptions over a few connections, M messages over G×G topics:
    /// publish and delivery rates at S and 10×S, every delivery count checked; ferromq
    /// against ActiveMQ.
    WildcardFanout(routing::FanoutArgs),
    /// One streaming workload against any STOMP broker: a producer and S subscribers on a
    /// queue or topic, non-persistent; closed loop (a window of unreceived messages) or, with
    /// --rate, open loop with latency from the producer's due time.
    Stream {
        #[arg(long)]
        addr: SocketAddr,
        #[arg(long, default_value = "/queue/bench-stream")]
        dest: String,
        #[arg(long, default_value_t = 100_000)]
        messages: u64,
        #[arg(long, default_value_t = 1)]
        subscribers: usize,
        /// Most messages sent and not yet received by the slowest subscriber.
        #[arg(long, default_value_t = 1000)]
        window: u64,
        /// Messages per second (open loop); without it, as fast as the window allows.
        #[arg(long)]
        rate: Option<f64>,
        #[arg(long, default_value_t = 1000)]
        prefetch: u32,
        #[arg(long, default_value_t = 256)]
        size: usize,
        /// The broker's pid, to report its CPU per delivery.
        #[arg(long)]
        pid: Option<u32>,
    },
    /// Issue 6's side-by-side comparison: non-persistent queue, persistent send, topic
    /// fan-out, latency at fixed rates, idle connections, memory and start-up, against
    /// ferromq and ActiveMQ, several rounds; a markdown table of medians and ratios.
    Compare(compare::CompareArgs),
}

#[derive(Debug, clap::Args)]
struct PriorityDrainArgs {
    /// The ferromq binary: started on a fresh data dir under --work-dir, stopped at the end.
    #[arg(long, requires = "work_dir", conflicts_with = "ferromq_addr")]
    ferromq: Option<PathBuf>,
    /// A running ferromq (or any STOMP broker) to measure instead of starting one.
    #[arg(long)]
    ferromq_addr: Option<SocketAddr>,
    /// Scratch directory for the started ferromq's data dir and log.
    #[arg(long)]
    work_dir: Option<PathBuf>,
    /// STOMP address of a running ActiveMQ with prioritizedMessages="true" on its queues
    /// (bench/activemq-priority.sh starts one).
    #[arg(long)]
    activemq: Option<SocketAddr>,
    /// Backlog size.
    #[arg(long, default_value_t = 50_000)]
    messages: u64,
    /// Consumer prefetch values (`activemq.prefetchSize`), one fill and drain each.
    #[arg(long, value_delimiter = ',', default_values_t = vec![1u32, 100])]
    prefetch: Vec<u32>,
    #[arg(long, default_value_t = 256)]
    size: usize,
    /// Seed of the priority sequence (the same backlog for every broker and run).
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Messages in an unmeasured fill and drain per broker first (default: messages / 10,
    /// at most 2000), so the JVM's JIT is not in the figures.
    #[arg(long)]
    warmup: Option<u64>,
}

#[derive(Debug, clap::Args)]
struct RecoveryArgs {
    /// The ferromq binary.
    #[arg(long)]
    ferromq: PathBuf,
    /// Scratch directory (data dirs and logs go here; same filesystem as the fsync probe).
    #[arg(long)]
    work_dir: PathBuf,
    #[arg(long, default_value_t = 1_000_000)]
    backlog: u64,
    /// Messages to drain after the restart, checking their order.
    #[arg(long, default_value_t = 10_000)]
    check: u64,
    #[arg(long, default_value_t = 256)]
    size: usize,
    /// Bound on restart → first MESSAGE, in seconds.
    #[arg(long, default_value_t = 60)]
    restart_timeout: u64,
    /// Restarts to time (the first also drains and checks order); the median is reported.
    #[arg(long, default_value_t = 3)]
    restarts: u32,
    /// Keep the data dir (WORK_DIR/recovery-data) afterwards.
    #[arg(long)]
    keep_data: bool,
}

#[derive(Debug, clap::Args)]
struct SuiteArgs {
    /// The ferromq binary (started and stopped by the suite).
    #[arg(long)]
    ferromq: PathBuf,
    /// Scratch directory: ferromq data dirs, logs and the fsync probe file.
    #[arg(long)]
    work_dir: PathBuf,
    /// STOMP address of a running ActiveMQ to compare persistent-send against.
    #[arg(long)]
    activemq: Option<SocketAddr>,
    /// Small counts for a smoke run.
    #[arg(long)]
    quick: bool,
    /// Rounds of persistent-send (brokers alternate within a round); medians are reported.
    #[arg(long)]
    rounds: Option<u32>,
    #[arg(long)]
    fsync_iterations: Option<u64>,
    /// Producer counts for persistent-send.
    #[arg(long, value_delimiter = ',', default_values_t = vec![1usize, 16])]
    producers: Vec<usize>,
    /// Messages per producer in persistent-send.
    #[arg(long)]
    messages: Option<u64>,
    /// Recovery backlog.
    #[arg(long)]
    backlog: Option<u64>,
    /// Messages drained (order-checked) after the restart.
    #[arg(long)]
    check: Option<u64>,
    #[arg(long, default_value_t = 256)]
    size: usize,
    #[arg(long)]
    skip_recovery: bool,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("ferromq-bench: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match rt.block_on(run(cli.cmd)) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("ferromq-bench: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn run(cmd: Cmd) -> Result<ExitCode, Error> {
    match cmd {
        Cmd::Fsync {
            dir,
            iterations,
            size,
        } => {
            let r = fsync::probe(&dir, iterations, size)?;
            println!(
                "fsync {} x (write {size} B + fdatasync) in {}: p50 {} p99 {} max {} => {:.0} ops/s",
                r.iterations,
                dir.display(),
                fmt_dur(r.latency.p50),
                fmt_dur(r.latency.p99),
                fmt_dur(r.latency.max),
                r.ops_per_sec
            );
        }
        Cmd::Send {
            addr,
            producers,
            messages,
            size,
            queue,
        } => {
            let r = scenario::persistent_send(addr, &queue, producers, messages, size).await?;
            println!(
                "persistent-send {addr} producers={} messages={} wall={:.3}s msgs/s={:.0} p50={:.0}us p99={:.0}us max={:.0}us",
                r.producers,
                r.messages,
                r.wall.as_secs_f64(),
                r.msgs_per_sec,
                us(r.latency.p50),
                us(r.latency.p99),
                us(r.latency.max)
            );
        }
        Cmd::Fill {
            addr,
            count,
            size,
            queue,
        } => {
            let r = scenario::fill(addr, &queue, count, size, 1000, 20).await?;
            println!(
                "fill {addr} {queue} messages={} wall={:.3}s msgs/s={:.0}",
                r.messages,
                r.wall.as_secs_f64(),
                r.msgs_per_sec
            );
        }
        Cmd::Drain {
            addr,
            count,
            queue,
            timeout_secs,
        } => {
            let deadline = tokio::time::Instant::now() + Duration::from_secs(timeout_secs);
            let sub = scenario::subscribe_first(addr, &queue, deadline).await?;
            let r = scenario::drain(sub, count, 0).await?;
            println!(
                "drain {addr} {queue} received={} msgs/s={:.0} order={}",
                r.received,
                r.msgs_per_sec,
                r.first_disorder.as_deref().unwrap_or("ok")
            );
            if r.first_disorder.is_some() {
                return Ok(ExitCode::FAILURE);
            }
        }
        Cmd::Recovery(a) => {
            std::fs::create_dir_all(&a.work_dir)?;
            let data = a.work_dir.join("recovery-data");
            let r = recovery::run(&recovery::RecoveryParams {
                ferromq: &a.ferromq,
                data_dir: &data,
                log: &a.work_dir.join("ferromq-recovery.log"),
                backlog: a.backlog,
                check: a.check.min(a.backlog),
                size: a.size,
                restart_timeout: Duration::from_secs(a.restart_timeout),
                restarts: a.restarts,
            })
            .await;
            if !a.keep_data {
                let _ = std::fs::remove_dir_all(&data);
            }
            let r = r?;
            print_recovery(a.backlog, &r);
            if r.drain.first_disorder.is_some() {
                return Ok(ExitCode::FAILURE);
            }
        }
        Cmd::Suite(a) => return suite(a).await,
        Cmd::PriorityDrain(a) => return priority_drain(a).await,
        Cmd::SelectorDispatch(a) => return routing::selector_dispatch(a).await,
        Cmd::WildcardFanout(a) => return routing::wildcard_fanout(a).await,
        Cmd::Compare(a) => return compare::run(a).await,
        Cmd::Stream {
            addr,
            dest,
            messages,
            subscribers,
            window,
            rate,
            prefetch,
            size,
            pid,
        } => {
            let p = load::StreamParams {
                dest,
                subscribers,
                messages,
                size,
                window,
                rate,
                prefetch,
            };
            let meter = process::CpuMeter::start(pid);
            let r = load::stream(addr, &p).await?;
            let cpu = meter.stop();
            let l = r.latency;
            println!(
                "stream {addr} {} sent={} deliveries={} msgs/s={:.0} deliveries/s={:.0} \
                 latency p50={}us p99={}us p99.9={}us max={}us producer-late p99={}us",
                p.dest,
                r.sent,
                r.deliveries,
                r.msgs_per_sec,
                r.deliveries_per_sec,
                l.p50 / 1000,
                l.p99 / 1000,
                l.p999 / 1000,
                l.max / 1000,
                r.send_lag.p99 / 1000
            );
            let per = |d: Option<Duration>| {
                d.map_or_else(
                    || "?".to_owned(),
                    |d| format!("{:.1}us", us(d) / r.deliveries.max(1) as f64),
                )
            };
            println!(
                "cpu per delivery: broker {} client {}",
                per(cpu.broker),
                per(cpu.client)
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// One broker's persistent-send results for one producer count, over the rounds.
#[derive(Default)]
struct Series {
    rate: Vec<f64>,
    p50: Vec<f64>,
    p99: Vec<f64>,
    messages: u64,
    error: Option<String>,
}

async fn suite(a: SuiteArgs) -> Result<ExitCode, Error> {
    let q = a.quick;
    let rounds = a.rounds.unwrap_or(if q { 1 } else { 3 }).max(1);
    let fsync_iterations = a.fsync_iterations.unwrap_or(if q { 300 } else { 2000 });
    let per_producer = a.messages.unwrap_or(if q { 200 } else { 2000 });
    let backlog = a.backlog.unwrap_or(if q { 20_000 } else { 1_000_000 });
    let check = a
        .check
        .unwrap_or(if q { 5_000 } else { 10_000 })
        .min(backlog);
    let restart_timeout = Duration::from_secs(if q { 20 } else { 60 });
    std::fs::create_dir_all(&a.work_dir)?;
    let mut failed = false;

    eprintln!(
        "fsync probe: {fsync_iterations} x (write {} B + fdatasync) in {}",
        a.size,
        a.work_dir.display()
    );
    // The probe runs before the first round and after every round. Noise only ever makes
    // the disk look slower, so the best probe is the limit the ratios use (the conservative
    // yardstick); all of them are printed.
    let mut probes = vec![(
        "before".to_owned(),
        fsync::probe(&a.work_dir, fsync_iterations, a.size)?,
    )];
    let load_before = loadavg();

    // persistent-send
    let send_data = a.work_dir.join("send-data");
    if send_data.exists() {
        std::fs::remove_dir_all(&send_data)?;
    }
    let send_log = a.work_dir.join("ferromq-send.log");
    let mut fm = process::Ferromq::spawn(&a.ferromq, &send_data, 0, &send_log)?;
    let (_, fm_addr) = fm.listening(Duration::from_secs(30)).await?;
    let mut brokers: Vec<(&str, SocketAddr)> = vec![("ferromq", fm_addr)];
    if let Some(amq) = a.activemq {
        brokers.push(("ActiveMQ", amq));
    }
    let pid = std::process::id();
    let warm = (per_producer / 4).clamp(20, 500);
    let max_p = a.producers.iter().copied().max().unwrap_or(1);
    for (name, addr) in &brokers {
        eprintln!("warm-up: {name}, {max_p} producers x {warm} messages");
        let queue = format!("/queue/bench-warmup-{pid}");
        if let Err(e) = scenario::persistent_send(*addr, &queue, max_p, warm, a.size).await {
            eprintln!("  warm-up against {name} failed: {e}");
        }
    }
    // series[producer index][broker index]
    let mut series: Vec<Vec<Series>> = a
        .producers
        .iter()
        .map(|_| brokers.iter().map(|_| Series::default()).collect())
        .collect();
    for round in 0..rounds {
        for (pi, &n) in a.producers.iter().enumerate() {
            for (bi, (name, addr)) in brokers.iter().enumerate() {
                let s = &mut series[pi][bi];
                if s.error.is_some() {
                    continue;
                }
                let queue = format!("/queue/bench-send-{pid}-{n}-{round}");
                eprintln!(
                    "round {}/{rounds}: {name}, {n} producers x {per_producer} messages",
                    round + 1
                );
                match scenario::persistent_send(*addr, &queue, n, per_producer, a.size).await {
                    Ok(r) => {
                        eprintln!(
                            "  {:.0} msgs/s, p50 {}, p99 {}, max {}",
                            r.msgs_per_sec,
                            fmt_dur(r.latency.p50),
                            fmt_dur(r.latency.p99),
                            fmt_dur(r.latency.max)
                        );
                        s.rate.push(r.msgs_per_sec);
                        s.p50.push(us(r.latency.p50));
                        s.p99.push(us(r.latency.p99));
                        s.messages = r.messages;
                    }
                    Err(e) => {
                        eprintln!("  FAILED: {e}");
                        s.error = Some(e.to_string());
                        failed = true;
                    }
                }
            }
        }
        probes.push((
            format!("round {}", round + 1),
            fsync::probe(&a.work_dir, fsync_iterations, a.size)?,
        ));
    }
    let send_warnings = fm.warnings();
    match fm.terminate(Duration::from_secs(60)).await {
        Ok((d, st)) => eprintln!("ferromq (send) stopped in {} ({st})", fmt_dur(d)),
        Err(e) => {
            eprintln!("ferromq (send): {e}");
            failed = true;
        }
    }
    let _ = std::fs::remove_dir_all(&send_data);
    let load_after = loadavg();
    let fs = probes
        .iter()
        .map(|(_, r)| *r)
        .max_by(|x, y| x.ops_per_sec.total_cmp(&y.ops_per_sec))
        .ok_or("no fsync probe")?;

    // recovery
    let rec = if a.skip_recovery {
        None
    } else {
        eprintln!("recovery: backlog {backlog}, check {check}");
        let data = a.work_dir.join("recovery-data");
        let r = recovery::run(&recovery::RecoveryParams {
            ferromq: &a.ferromq,
            data_dir: &data,
            log: &a.work_dir.join("ferromq-recovery.log"),
            backlog,
            check,
            size: a.size,
            restart_timeout,
            restarts: if q { 2 } else { 3 },
        })
        .await;
        let _ = std::fs::remove_dir_all(&data);
        if let Err(e) = &r {
            eprintln!("  recovery FAILED: {e}");
        }
        Some(r)
    };

    // report
    println!();
    println!(
        "ferromq-bench results: {} B messages, persistent-send medians over {rounds} round(s), {}",
        a.size,
        if q { "--quick" } else { "full" }
    );
    println!(
        "load average (1/5/15 min) before: {load_before}; after persistent-send: {load_after}"
    );
    println!(
        "fsync probe ({} x write {} B + fdatasync in {}):",
        fs.iterations,
        a.size,
        a.work_dir.display()
    );
    for (when, r) in &probes {
        println!(
            "  {when:<8} p50 {:>9}  p99 {:>9}  max {:>9}  => {:.0} ops/s",
            fmt_dur(r.latency.p50),
            fmt_dur(r.latency.p99),
            fmt_dur(r.latency.max),
            r.ops_per_sec
        );
    }
    println!(
        "  fsync limit (the best probe): {:.0} ops/s",
        fs.ops_per_sec
    );
    println!();
    println!("persistent-send: N producers, one connection each, SEND persistent:true + receipt, wait for each RECEIPT");
    println!(
        "{:<9} {:>3} {:>8} {:>10} {:>17} {:>9} {:>9} {:>8} {:>14}",
        "broker", "N", "msgs", "msgs/s", "(min-max)", "p50", "p99", "xfsync", "ferromq/AMQ"
    );
    for (pi, &n) in a.producers.iter().enumerate() {
        for (bi, (name, _)) in brokers.iter().enumerate() {
            let s = &series[pi][bi];
            if let Some(e) = &s.error {
                println!("{name:<9} {n:>3} FAILED: {e}");
                continue;
            }
            let rate = median(&s.rate);
            let lo = s.rate.iter().copied().fold(f64::INFINITY, f64::min);
            let hi = s.rate.iter().copied().fold(0.0, f64::max);
            let ratio = if bi == 0 && brokers.len() > 1 {
                let amq = &series[pi][1];
                if amq.error.is_none() && !amq.rate.is_empty() {
                    // paired per round, then the median: drift on a noisy machine cancels out
                    let pairs: Vec<f64> =
                        s.rate.iter().zip(&amq.rate).map(|(f, m)| f / m).collect();
                    format!("{:.2}x", median(&pairs))
                } else {
                    "-".to_owned()
                }
            } else {
                String::new()
            };
            println!(
                "{name:<9} {n:>3} {:>8} {:>10.0} {:>17} {:>9} {:>9} {:>7.2}x {:>14}",
                s.messages,
                rate,
                format!("({lo:.0}-{hi:.0})"),
                fmt_dur(Duration::from_secs_f64(median(&s.p50) / 1e6)),
                fmt_dur(Duration::from_secs_f64(median(&s.p99) / 1e6)),
                rate / fs.ops_per_sec,
                ratio
            );
        }
    }
    if !send_warnings.is_empty() {
        println!(
            "ferromq logged {} WARN/ERROR line(s) during persistent-send:",
            send_warnings.len()
        );
        for w in &send_warnings {
            println!("  {w}");
        }
    }
    match rec {
        None => {}
        Some(Ok(r)) => {
            println!();
            print_recovery(backlog, &r);
            if r.drain.first_disorder.is_some() || r.drain.received < check {
                failed = true;
            }
        }
        Some(Err(e)) => {
            println!();
            println!("recovery (ferromq, backlog {backlog}): FAILED: {e}");
            failed = true;
        }
    }
    Ok(if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

fn print_recovery(backlog: u64, r: &recovery::RecoveryResult) {
    println!(
        "recovery (ferromq): backlog {backlog} persistent messages in {}",
        recovery::QUEUE
    );
    println!(
        "  fill (pipelined, receipt every 1000th): {:.1} s = {:.0} msgs/s; data dir after SIGTERM {:.0} MB, of which WAL {:.0} MB",
        r.fill.wall.as_secs_f64(),
        r.fill.msgs_per_sec,
        r.data_bytes as f64 / 1e6,
        r.wal_bytes as f64 / 1e6
    );
    println!(
        "  SIGTERM -> exit: {} ({})",
        fmt_dur(r.shutdown),
        r.shutdown_status
    );
    // Restart 1 follows the fill's shutdown and is the number that matters; later restarts
    // reopen data that restart 1 already recovered, so they are shown apart.
    let list = |f: fn(&recovery::Restart) -> Duration| {
        let mut it = r.restarts.iter().map(|x| fmt_dur(f(x)));
        let first = it.next().unwrap_or_default();
        let later: Vec<String> = it.collect();
        if later.is_empty() {
            first
        } else {
            format!("{first:<10} (later restarts: {})", later.join(", "))
        }
    };
    println!("  restart -> listening line:  {}", list(|x| x.to_listening));
    println!(
        "  restart -> first MESSAGE:   {}",
        list(|x| x.to_first_message)
    );
    println!(
        "  drain check: {} messages at {:.0} msgs/s, order {}",
        r.drain.received,
        r.drain.msgs_per_sec,
        r.drain
            .first_disorder
            .as_deref()
            .unwrap_or("ok (bench-seq 0, 1, 2, ...)")
    );
    println!(
        "  SIGTERM -> exit after restart 1 and the drain: {}",
        fmt_dur(r.second_shutdown)
    );
    let mb =
        |b: Option<u64>| b.map_or_else(|| "?".to_owned(), |b| format!("{:.0} MB", b as f64 / 1e6));
    println!(
        "  broker RSS: filled {}, restarted (first MESSAGE) {}, after the drain {}",
        mb(r.rss_filled),
        mb(r.rss_restarted),
        mb(r.rss_drained)
    );
    if !r.warnings.is_empty() {
        println!("  ferromq logged {} WARN/ERROR line(s):", r.warnings.len());
        for w in &r.warnings {
            println!("    {w}");
        }
    }
}

/// The first three fields of /proc/loadavg ("?" where unavailable).
fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "?".to_owned())
}

async fn priority_drain(a: PriorityDrainArgs) -> Result<ExitCode, Error> {
    let n = a.messages.max(1);
    let prios = priority::priorities(n, a.seed);
    let mut fm = None;
    let data = a.work_dir.as_ref().map(|w| w.join("priority-data"));
    let mut brokers: Vec<(&str, SocketAddr)> = Vec::new();
    if let (Some(bin), Some(work), Some(data)) = (&a.ferromq, &a.work_dir, &data) {
        std::fs::create_dir_all(work)?;
        if data.exists() {
            std::fs::remove_dir_all(data)?;
        }
        let mut p = process::Ferromq::spawn(bin, data, 0, &work.join("ferromq-priority.log"))?;
        let (_, addr) = p.listening(Duration::from_secs(30)).await?;
        fm = Some(p);
        brokers.push(("ferromq", addr));
    } else if let Some(addr) = a.ferromq_addr {
        brokers.push(("ferromq", addr));
    }
    if let Some(addr) = a.activemq {
        brokers.push(("ActiveMQ", addr));
    }
    if brokers.is_empty() {
        return Err(
            "priority-drain: give --ferromq (with --work-dir), --ferromq-addr or --activemq".into(),
        );
    }
    let pid = std::process::id();

    let warm = a.warmup.unwrap_or_else(|| (n / 10).min(2000));
    if warm > 0 {
        let wp = priority::priorities(warm, a.seed ^ 0x5a5a);
        for (name, addr) in &brokers {
            eprintln!("warm-up: {name}, {warm} messages");
            let queue = format!("/queue/bench-prio-warmup-{pid}");
            if let Err(e) = priority::run(*addr, &queue, &wp, a.size, 100).await {
                eprintln!("  warm-up against {name} failed: {e}");
            }
        }
    }

    // results[prefetch index][broker index]
    let mut results: Vec<Vec<Result<priority::PriorityResult, String>>> = Vec::new();
    for &prefetch in &a.prefetch {
        let mut row = Vec::new();
        for (name, addr) in &brokers {
            let queue = format!("/queue/bench-prio-{pid}-{prefetch}");
            eprintln!("{name}: fill {n} messages, drain with prefetch {prefetch}");
            let r = priority::run(*addr, &queue, &prios, a.size, prefetch).await;
            match &r {
                Ok(r) => eprintln!(
                    "  fill {:.0} msgs/s; drain {:.2} s = {:.0} msgs/s, {} inversions",
                    r.fill.msgs_per_sec,
                    r.drain_wall.as_secs_f64(),
                    r.msgs_per_sec,
                    r.order.inversions
                ),
                Err(e) => eprintln!("  FAILED: {e}"),
            }
            row.push(r.map_err(|e| e.to_string()));
        }
        results.push(row);
    }
    let warnings = fm.as_ref().map(|f| f.warnings()).unwrap_or_default();
    let mut failed = false;
    if let Some(f) = fm {
        if let Err(e) = f.terminate(Duration::from_secs(60)).await {
            eprintln!("ferromq (priority-drain): {e}");
            failed = true;
        }
    }
    if let Some(d) = &data {
        let _ = std::fs::remove_dir_all(d);
    }

    let mut levels = [0u64; priority::LEVELS];
    for &p in &prios {
        levels[usize::from(p)] += 1;
    }
    let fifo_rises = prios.windows(2).filter(|w| w[1] > w[0]).count();
    println!();
    println!(
        "priority-drain: {n} persistent {} B messages, priorities 0-9 from seed {} (per level: {}), \
         stored with no consumer, then one consumer (ack:client-individual, ACK on arrival)",
        a.size,
        a.seed,
        levels.iter().map(|c| c.to_string()).collect::<Vec<_>>().join("/")
    );
    println!(
        "  inversions = messages with a higher priority than the one before (strict priority: 0; \
         a FIFO drain of this backlog: {fifo_rises}); FIFO = bench-seq order within a priority"
    );
    println!(
        "{:<9} {:>8} {:>11} {:>10} {:>12} {:>10} {:>9} {:>7} {:>5} {:>14}",
        "broker",
        "prefetch",
        "fill msg/s",
        "first msg",
        "drain msg/s",
        "inversions",
        "FIFO viol",
        "missing",
        "dup",
        "ferromq/AMQ"
    );
    for (pi, &prefetch) in a.prefetch.iter().enumerate() {
        for (bi, (name, _)) in brokers.iter().enumerate() {
            let r = match &results[pi][bi] {
                Ok(r) => r,
                Err(e) => {
                    println!("{name:<9} {prefetch:>8} FAILED: {e}");
                    failed = true;
                    continue;
                }
            };
            let o = &r.order;
            let ratio = match (bi, results[pi].get(1)) {
                (0, Some(Ok(amq))) if brokers.len() > 1 => {
                    format!("{:.2}x", r.msgs_per_sec / amq.msgs_per_sec)
                }
                (0, Some(Err(_))) => "-".to_owned(),
                _ => String::new(),
            };
            println!(
                "{name:<9} {prefetch:>8} {:>11.0} {:>10} {:>12.0} {:>10} {:>9} {:>7} {:>5} {:>14}",
                r.fill.msgs_per_sec,
                fmt_dur(r.first_message),
                r.msgs_per_sec,
                o.inversions,
                o.fifo_violations,
                o.missing(),
                o.duplicates,
                ratio
            );
            // Losing or repeating messages is a broken run, not a measurement.
            if o.missing() > 0 || o.duplicates > 0 {
                failed = true;
            }
        }
    }
    for (pi, &prefetch) in a.prefetch.iter().enumerate() {
        for (bi, (name, _)) in brokers.iter().enumerate() {
            let Ok(r) = &results[pi][bi] else { continue };
            let o = &r.order;
            for note in [&o.first_inversion, &o.first_fifo_violation]
                .into_iter()
                .flatten()
            {
                println!("  {name} prefetch {prefetch}: first: {note}");
            }
            if o.redelivered > 0 || o.priority_mismatches > 0 {
                println!(
                    "  {name} prefetch {prefetch}: {} redelivered, {} with a priority header other than sent",
                    o.redelivered, o.priority_mismatches
                );
            }
        }
    }
    if !warnings.is_empty() {
        println!("ferromq logged {} WARN/ERROR line(s):", warnings.len());
        for w in &warnings {
            println!("  {w}");
        }
    }
    Ok(if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}
