//! The routing benchmarks (issue 5): `selector-dispatch` and `wildcard-fanout`, each at a
//! base size and at `--scale` (10) times it, against ferromq and ActiveMQ in one invocation,
//! with the growth from the base size to the scaled one set against what linear scaling
//! allows.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use crate::process::Ferromq;
use crate::selector::Ack;
use crate::stats::fmt_dur;
use crate::{fanout, selector, Error};

/// A cost that grows by more than this factor over what linear scaling allows is flagged.
pub const NOISE_ALLOWANCE: f64 = 1.5;

#[derive(Debug, clap::Args)]
pub struct BrokerArgs {
    /// The ferromq binary: started on a fresh data dir under --work-dir, stopped at the end.
    #[arg(long, requires = "work_dir", conflicts_with = "ferromq_addr")]
    ferromq: Option<PathBuf>,
    /// A running ferromq (or any STOMP broker) to measure instead of starting one.
    #[arg(long)]
    ferromq_addr: Option<SocketAddr>,
    /// Scratch directory for the started ferromq's data dir and log.
    #[arg(long)]
    work_dir: Option<PathBuf>,
    /// STOMP address of a running ActiveMQ (conformance/reference/activemq.sh starts one).
    #[arg(long)]
    activemq: Option<SocketAddr>,
    /// ActiveMQ's pid, to report the CPU time it used (bench/run.sh passes it).
    #[arg(long, requires = "activemq")]
    activemq_pid: Option<u32>,
    /// A case is stopped (STALLED) when nothing was delivered for this long, and a RECEIPT
    /// that takes longer fails it.
    #[arg(long, default_value_t = 30)]
    stall_secs: u64,
    /// Bound on the delivery phase of one case (first SEND → last delivery); a broker still
    /// delivering then is stopped and reported with what it delivered so far.
    #[arg(long, default_value_t = 180)]
    limit_secs: u64,
    /// Bound on one case against one broker, setup included.
    #[arg(long, default_value_t = 600)]
    case_timeout_secs: u64,
    /// Smaller default sizes (a smoke run).
    #[arg(long)]
    quick: bool,
}

#[derive(Debug, clap::Args)]
pub struct SelectorArgs {
    #[command(flatten)]
    brokers: BrokerArgs,
    /// Consumers C at the base size (default 100, --quick 10); one connection each.
    #[arg(long)]
    consumers: Option<usize>,
    /// The scaled cases use C × SCALE consumers (1: no scaled cases).
    #[arg(long, default_value_t = 10)]
    scale: usize,
    /// Selected messages N per case (default 100,000, --quick 10,000).
    #[arg(long)]
    messages: Option<u64>,
    #[arg(long, default_value_t = 1)]
    producers: usize,
    /// `activemq.prefetchSize` of every consumer.
    #[arg(long, default_value_t = 100)]
    prefetch: u32,
    #[arg(long, value_enum, default_value_t = Ack::ClientIndividual)]
    ack: Ack,
    #[arg(long, default_value_t = 256)]
    size: usize,
    /// Skip the cases with N/10 unmatched messages.
    #[arg(long)]
    no_unmatched: bool,
    /// Also run the base case with persistent messages.
    #[arg(long)]
    persistent: bool,
    /// Messages in an unmeasured run per broker first (10 consumers; default N/10, at most
    /// 10,000), so the JVM's JIT is not in the figures.
    #[arg(long)]
    warmup: Option<u64>,
}

#[derive(Debug, clap::Args)]
pub struct FanoutArgs {
    #[command(flatten)]
    brokers: BrokerArgs,
    /// Subscriptions S at the base size (default 1,000, --quick 100).
    #[arg(long)]
    subscriptions: Option<usize>,
    /// Connections the subscriptions are spread over (round-robin).
    #[arg(long, default_value_t = 10)]
    connections: usize,
    /// Topic grid G × G at the base size (default 10, --quick 5): topics `<p>.<a>.<b>`.
    #[arg(long)]
    grid: Option<u32>,
    /// Messages M published at the base size (default 10,000, --quick 5,000).
    #[arg(long)]
    messages: Option<u64>,
    /// The scaled cases use S × SCALE subscriptions (1: no scaled cases).
    #[arg(long, default_value_t = 10)]
    scale: usize,
    /// `activemq.prefetchSize` of every subscription (ack:auto).
    #[arg(long, default_value_t = 1000)]
    prefetch: u32,
    #[arg(long, default_value_t = 256)]
    size: usize,
    /// Messages in an unmeasured run per broker first (100 subscriptions; default M/10).
    #[arg(long)]
    warmup: Option<u64>,
}

/// The brokers under test: a ferromq this process started (if any), and the addresses.
struct Brokers {
    fm: Option<Ferromq>,
    data: Option<PathBuf>,
    /// Name, STOMP address, pid (to read its CPU time).
    list: Vec<(&'static str, SocketAddr, Option<u32>)>,
}

async fn start(b: &BrokerArgs, tag: &str) -> Result<Brokers, Error> {
    let mut out = Brokers {
        fm: None,
        data: None,
        list: Vec::new(),
    };
    if let (Some(bin), Some(work)) = (&b.ferromq, &b.work_dir) {
        std::fs::create_dir_all(work)?;
        let data = work.join(format!("{tag}-data"));
        if data.exists() {
            std::fs::remove_dir_all(&data)?;
        }
        let mut p = Ferromq::spawn(bin, &data, 0, &work.join(format!("ferromq-{tag}.log")))?;
        let (_, addr) = p.listening(Duration::from_secs(30)).await?;
        out.list.push(("ferromq", addr, p.pid()));
        out.fm = Some(p);
        out.data = Some(data);
    } else if let Some(addr) = b.ferromq_addr {
        out.list.push(("ferromq", addr, None));
    }
    if let Some(addr) = b.activemq {
        out.list.push(("ActiveMQ", addr, b.activemq_pid));
    }
    if out.list.is_empty() {
        return Err(format!(
            "{tag}: give --ferromq (with --work-dir), --ferromq-addr or --activemq"
        )
        .into());
    }
    Ok(out)
}

/// Stops the started ferromq; returns its WARN/ERROR lines and whether stopping failed.
async fn stop(b: Brokers, tag: &str) -> (Vec<String>, bool) {
    let warnings = b.fm.as_ref().map(Ferromq::warnings).unwrap_or_default();
    let mut failed = false;
    if let Some(f) = b.fm {
        if let Err(e) = f.terminate(Duration::from_secs(60)).await {
            eprintln!("ferromq ({tag}): {e}");
            failed = true;
        }
    }
    if let Some(d) = &b.data {
        let _ = std::fs::remove_dir_all(d);
    }
    (warnings, failed)
}

fn print_warnings(warnings: &[String]) {
    if !warnings.is_empty() {
        println!("ferromq logged {} WARN/ERROR line(s):", warnings.len());
        for w in warnings {
            println!("  {w}");
        }
    }
}

/// A cost per unit (message, delivery): from the elapsed time and, where known, from the
/// broker's CPU time.
#[derive(Debug, Clone, Copy)]
struct Costs {
    wall: f64,
    cpu: Option<f64>,
}

/// "wall a -> b (×g), broker CPU a -> b (×g); linear allows ×L: ok" — or `flag` when the
/// growth exceeds what linear allows by more than the noise allowance. The verdict uses the
/// broker's CPU time where known (it does not move with the machine's other load); the wall
/// figure alone when not.
fn growth(a: &Costs, b: &Costs, linear: f64, flag: &str) -> String {
    let fmt = |x: f64| {
        if x >= 100.0 {
            format!("{x:.0}")
        } else {
            format!("{x:.2}")
        }
    };
    let wall_g = b.wall / a.wall;
    let mut out = format!("wall {} -> {} (×{wall_g:.2})", fmt(a.wall), fmt(b.wall));
    let judged = match (a.cpu, b.cpu) {
        (Some(x), Some(y)) if x > 0.0 => {
            let g = y / x;
            out.push_str(&format!(", broker CPU {} -> {} (×{g:.2})", fmt(x), fmt(y)));
            g
        }
        _ => wall_g,
    };
    let verdict = if judged > linear * NOISE_ALLOWANCE {
        flag
    } else {
        "ok"
    };
    out.push_str(&format!("; linear allows ×{linear:.0}: {verdict}"));
    out
}

/// `part` as a share of `whole`, "87%".
fn share(part: Option<Duration>, whole: Duration) -> String {
    part.filter(|_| !whole.is_zero()).map_or_else(
        || "-".to_owned(),
        |p| format!("{:.0}%", 100.0 * p.as_secs_f64() / whole.as_secs_f64()),
    )
}

fn thousands(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, ch) in s.chars().enumerate() {
        if i > 0 && (s.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(ch);
    }
    out
}

/// A rate for the table; a stopped run's (what arrived ÷ the time until the stop) is marked.
fn rate_cell(rate: f64, stopped: bool) -> String {
    if stopped {
        format!("{rate:.0}*")
    } else {
        format!("{rate:.0}")
    }
}

/// A per-message cost for the table; none for a stopped run or an unknown figure.
fn cost_cell(cost: Option<f64>, stopped: bool) -> String {
    match cost {
        _ if stopped => "-".to_owned(),
        None => "-".to_owned(),
        Some(c) if c >= 100.0 => format!("{c:.0}"),
        Some(c) => format!("{c:.2}"),
    }
}

/// ferromq's rate ÷ ActiveMQ's, when both completed (`rate` gives `None` for a run that
/// was stopped or failed its check).
fn ratio<T>(row: &[Result<T, String>], rate: impl Fn(&T) -> Option<f64>) -> String {
    match (row.first(), row.get(1)) {
        (Some(Ok(f)), Some(Ok(a))) => match (rate(f), rate(a)) {
            (Some(f), Some(a)) if a > 0.0 => format!("{:.2}x", f / a),
            _ => "-".to_owned(),
        },
        (_, Some(_)) => "-".to_owned(),
        _ => String::new(),
    }
}

/// One selector-dispatch case: its label and parameters (queue name filled in per broker).
struct SelCase {
    label: String,
    params: selector::Params,
}

pub async fn selector_dispatch(a: SelectorArgs) -> Result<ExitCode, Error> {
    let b = &a.brokers;
    let q = b.quick;
    let c = a.consumers.unwrap_or(if q { 10 } else { 100 }).max(1);
    let n = a
        .messages
        .unwrap_or(if q { 10_000 } else { 100_000 })
        .max(1);
    let scale = a.scale.max(1);
    let stall = Duration::from_secs(b.stall_secs.max(1));
    let limit = Duration::from_secs(b.limit_secs.max(1));
    let case_timeout = Duration::from_secs(b.case_timeout_secs.max(1));
    let pid = std::process::id();
    let base = selector::Params {
        queue: String::new(),
        consumers: c,
        messages: n,
        unmatched: false,
        persistent: false,
        producers: a.producers.max(1),
        size: a.size,
        prefetch: a.prefetch.max(1),
        ack: a.ack,
        stall,
        limit,
        cpu_pid: None,
    };
    let mut cases = Vec::new();
    let sizes: Vec<usize> = if scale > 1 {
        vec![c, c * scale]
    } else {
        vec![c]
    };
    for &consumers in &sizes {
        for unmatched in [false, true] {
            if unmatched && a.no_unmatched {
                continue;
            }
            cases.push(SelCase {
                label: format!(
                    "C={consumers}{}",
                    if unmatched { " +unmatched" } else { "" }
                ),
                params: selector::Params {
                    consumers,
                    unmatched,
                    ..base.clone()
                },
            });
        }
    }
    if a.persistent {
        cases.push(SelCase {
            label: format!("C={c} persistent"),
            params: selector::Params {
                persistent: true,
                ..base.clone()
            },
        });
    }

    let brokers = start(b, "selector").await?;
    let warm = a.warmup.unwrap_or_else(|| (n / 10).min(10_000));
    if warm > 0 {
        for &(name, addr, broker_pid) in &brokers.list {
            eprintln!("selector-dispatch warm-up: {name}, 10 consumers, {warm} messages");
            let p = selector::Params {
                queue: format!("/queue/bench-sel-warmup-{pid}"),
                cpu_pid: broker_pid,
                consumers: 10.min(c),
                messages: warm,
                ..base.clone()
            };
            match tokio::time::timeout(case_timeout, selector::run(addr, &p)).await {
                Ok(Ok(_)) => {}
                Ok(Err(e)) => eprintln!("  warm-up against {name} failed: {e}"),
                Err(_) => eprintln!("  warm-up against {name} timed out"),
            }
        }
    }

    // results[case][broker]
    let mut results: Vec<Vec<Result<selector::SelectorResult, String>>> = Vec::new();
    for (ci, case) in cases.iter().enumerate() {
        let mut row = Vec::new();
        for &(name, addr, broker_pid) in &brokers.list {
            let p = selector::Params {
                queue: format!("/queue/bench-sel-{pid}-{ci}"),
                cpu_pid: broker_pid,
                ..case.params.clone()
            };
            eprintln!(
                "selector-dispatch {}: {name}, {} consumers, {} messages{}",
                case.label,
                p.consumers,
                p.messages,
                if p.unmatched {
                    format!(" + {} unmatched", p.unmatched_count())
                } else {
                    String::new()
                }
            );
            let r = match tokio::time::timeout(case_timeout, selector::run(addr, &p)).await {
                Ok(Ok(r)) => Ok(r),
                Ok(Err(e)) => Err(e.to_string()),
                Err(_) => Err(format!("did not finish within {case_timeout:?}")),
            };
            match &r {
                Ok(r) => eprintln!(
                    "  setup {}, wall {} = {:.0} msgs/s, check {}{}",
                    fmt_dur(r.setup),
                    fmt_dur(r.wall),
                    r.msgs_per_sec,
                    r.check.summary(),
                    r.stalled
                        .as_deref()
                        .map(|s| format!(", STALLED: {s}"))
                        .unwrap_or_default()
                ),
                Err(e) => eprintln!("  FAILED: {e}"),
            }
            row.push(r);
        }
        results.push(row);
    }
    let names: Vec<&str> = brokers.list.iter().map(|(n, _, _)| *n).collect();
    let (warnings, mut failed) = stop(brokers, "selector").await;

    println!();
    println!(
        "selector-dispatch: one queue per case; C consumers, one connection each, consumer i \
         subscribed with selector \"key = 'k<i>'\", ack:{}, prefetch {}",
        a.ack.header(),
        base.prefetch
    );
    println!(
        "  {} producer(s) send N {} B messages (non-persistent unless marked), key k<seq mod C>; \
         +unmatched also sends N/10 with key '{}' (one after every 10th), which stay in the queue",
        base.producers,
        a.size,
        selector::UNMATCHED_KEY
    );
    println!(
        "  wall = first SEND -> last selected MESSAGE read; msgs/s = N / wall; µs/msg = wall / N; \
         cpu µs/msg = broker CPU time in that phase / N; client = the load generator's CPU / wall; \
         check = every consumer got exactly its own messages (and the unmatched ones were left)"
    );
    println!(
        "{:<20} {:<9} {:>5} {:>7} {:>6} {:>9} {:>9} {:>9} {:>8} {:>8} {:>8} {:>6} {:>9} {:>9}",
        "case",
        "broker",
        "C",
        "N",
        "unmat.",
        "setup",
        "publish/s",
        "wall",
        "msgs/s",
        "µs/msg",
        "cpu µs",
        "client",
        "check",
        "fm/AMQ"
    );
    for (ci, case) in cases.iter().enumerate() {
        for (bi, name) in names.iter().enumerate() {
            let p = &case.params;
            match &results[ci][bi] {
                Err(e) => {
                    println!("{:<20} {name:<9} FAILED: {e}", case.label);
                    failed = true;
                }
                Ok(r) => {
                    let total = p.messages + p.unmatched_count();
                    let stopped = r.stalled.is_some();
                    let check = if stopped {
                        "STALLED".to_owned()
                    } else {
                        r.check.summary()
                    };
                    // A stall or a failed check is a result for the reference broker (ActiveMQ
                    // stalls on unmatched selector messages by default) and a failure for
                    // ferromq; an error is a failure for either.
                    if (!r.check.ok() || stopped) && *name == "ferromq" {
                        failed = true;
                    }
                    let per = |d: Duration| d.as_secs_f64() * 1e6 / p.messages as f64;
                    println!(
                        "{:<20} {name:<9} {:>5} {:>7} {:>6} {:>9} {:>9} {:>9} {:>8} {:>8} {:>8} {:>6} {:>9} {:>9}",
                        case.label,
                        p.consumers,
                        p.messages,
                        p.unmatched_count(),
                        fmt_dur(r.setup),
                        r.publish.map_or_else(
                            || "-".to_owned(),
                            |d| format!("{:.0}", total as f64 / d.as_secs_f64().max(1e-9))
                        ),
                        fmt_dur(r.wall),
                        rate_cell(r.msgs_per_sec, stopped),
                        cost_cell(Some(per(r.wall)), stopped),
                        cost_cell(r.cpu.broker.map(per), stopped),
                        share(r.cpu.client, r.wall),
                        check,
                        if bi == 0 {
                            ratio(&results[ci], |r| {
                                (r.check.ok() && r.stalled.is_none()).then_some(r.msgs_per_sec)
                            })
                        } else {
                            String::new()
                        }
                    );
                }
            }
        }
    }
    for (ci, case) in cases.iter().enumerate() {
        for (bi, name) in names.iter().enumerate() {
            let Ok(r) = &results[ci][bi] else { continue };
            if let Some(s) = &r.stalled {
                println!("  {} {name}: stopped: {s}", case.label);
            }
            if let Some(pr) = &r.check.first_problem {
                println!("  {} {name}: first problem: {pr}", case.label);
            }
            if let Some(left) = r.check.backlog_left.filter(|&l| l != r.check.backlog_sent) {
                println!(
                    "  {} {name}: a consumer selecting the unmatched messages afterwards got {left} of {}",
                    case.label, r.check.backlog_sent
                );
            }
            if r.check.redelivered > 0 || r.check.out_of_order > 0 {
                println!(
                    "  {} {name}: {} redelivered, {} out of order (per producer and consumer)",
                    case.label, r.check.redelivered, r.check.out_of_order
                );
            }
        }
    }

    // Growth: µs per selected message from C to C × scale consumers (a broker that matches
    // every message against every selector does C times the work per message: linear allows
    // ×scale), and the cost with the unmatched backlog against the cost without.
    let find = |consumers: usize, unmatched: bool| {
        cases.iter().position(|k| {
            k.params.consumers == consumers
                && k.params.unmatched == unmatched
                && !k.params.persistent
        })
    };
    // (wall, broker CPU) µs per selected message, or why there is none.
    let cost = |ci: usize, bi: usize| -> Result<Costs, String> {
        let n = cases[ci].params.messages as f64;
        match &results[ci][bi] {
            Ok(r) if r.stalled.is_some() => Err(format!("{} stalled", cases[ci].label)),
            Ok(r) if !r.check.ok() => Err(format!("{} failed its check", cases[ci].label)),
            Ok(r) => Ok(Costs {
                wall: r.wall.as_secs_f64() * 1e6 / n,
                cpu: r.cpu.broker.map(|d| d.as_secs_f64() * 1e6 / n),
            }),
            Err(_) => Err(format!("{} failed", cases[ci].label)),
        }
    };
    println!();
    println!(
        "scaling, µs per selected message (the verdict uses broker CPU where known; flagged above \
         {NOISE_ALLOWANCE}× what linear allows):"
    );
    for (bi, name) in names.iter().enumerate() {
        if scale > 1 {
            for unmatched in [false, true] {
                let (Some(x), Some(y)) = (find(c, unmatched), find(c * scale, unmatched)) else {
                    continue;
                };
                let what = format!(
                    "C={c} -> C={}{}",
                    c * scale,
                    if unmatched { " (+unmatched)" } else { "" }
                );
                match (cost(x, bi), cost(y, bi)) {
                    (Ok(a), Ok(b)) => println!(
                        "  {name:<9} {what}: {}",
                        growth(&a, &b, scale as f64, "SUPERLINEAR")
                    ),
                    (Err(e), _) | (_, Err(e)) => {
                        println!("  {name:<9} {what}: not comparable ({e})");
                    }
                }
            }
        }
        for &consumers in &sizes {
            let (Some(x), Some(y)) = (find(consumers, false), find(consumers, true)) else {
                continue;
            };
            let what = format!(
                "C={consumers}, 0 -> {} unmatched pending vs none",
                thousands(cases[y].params.unmatched_count())
            );
            match (cost(x, bi), cost(y, bi)) {
                (Ok(a), Ok(b)) => println!("  {name:<9} {what}: {}", growth(&a, &b, 1.0, "SLOWED")),
                (Err(e), _) | (_, Err(e)) => {
                    println!("  {name:<9} {what}: not comparable ({e})");
                }
            }
        }
    }
    print_warnings(&warnings);
    Ok(if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

struct FanCase {
    label: String,
    params: fanout::Params,
}

pub async fn wildcard_fanout(a: FanoutArgs) -> Result<ExitCode, Error> {
    let b = &a.brokers;
    let q = b.quick;
    let s = a.subscriptions.unwrap_or(if q { 100 } else { 1000 }).max(1);
    let g = a.grid.unwrap_or(if q { 5 } else { 10 }).max(1);
    let m = a.messages.unwrap_or(if q { 5_000 } else { 10_000 }).max(1);
    let scale = a.scale.max(1);
    let stall = Duration::from_secs(b.stall_secs.max(1));
    let limit = Duration::from_secs(b.limit_secs.max(1));
    let case_timeout = Duration::from_secs(b.case_timeout_secs.max(1));
    let pid = std::process::id();
    let base = fanout::Params {
        prefix: String::new(),
        subscriptions: s,
        connections: a.connections.max(1),
        a: g,
        b: g,
        messages: m,
        size: a.size,
        prefetch: a.prefetch.max(1),
        stall,
        limit,
        cpu_pid: None,
    };
    let mut cases = vec![FanCase {
        label: "S".to_owned(),
        params: base.clone(),
    }];
    if scale > 1 {
        let sg = g.saturating_mul(scale as u32);
        cases.push(FanCase {
            label: format!("{scale}S, {scale}x matches"),
            params: fanout::Params {
                subscriptions: s * scale,
                messages: (m / scale as u64).max(1),
                ..base.clone()
            },
        });
        cases.push(FanCase {
            label: format!("{scale}S, {}x topics", scale * scale),
            params: fanout::Params {
                subscriptions: s * scale,
                a: sg,
                b: sg,
                ..base.clone()
            },
        });
    }

    let brokers = start(b, "fanout").await?;
    let warm = a.warmup.unwrap_or(m / 10);
    if warm > 0 {
        for &(name, addr, broker_pid) in &brokers.list {
            eprintln!("wildcard-fanout warm-up: {name}, 100 subscriptions, {warm} messages");
            let p = fanout::Params {
                prefix: format!("fw{pid}"),
                cpu_pid: broker_pid,
                subscriptions: 100.min(s),
                messages: warm,
                ..base.clone()
            };
            match tokio::time::timeout(case_timeout, fanout::run(addr, &p)).await {
                Ok(Ok(_)) => {}
                Ok(Err(e)) => eprintln!("  warm-up against {name} failed: {e}"),
                Err(_) => eprintln!("  warm-up against {name} timed out"),
            }
        }
    }

    let mut results: Vec<Vec<Result<fanout::FanoutResult, String>>> = Vec::new();
    for (ci, case) in cases.iter().enumerate() {
        let mut row = Vec::new();
        for &(name, addr, broker_pid) in &brokers.list {
            let p = fanout::Params {
                prefix: format!("fo{pid}c{ci}"),
                cpu_pid: broker_pid,
                ..case.params.clone()
            };
            eprintln!(
                "wildcard-fanout {}: {name}, {} subscriptions on {} connections, {} topics, {} messages, {} deliveries",
                case.label,
                p.subscriptions,
                p.connections,
                p.topics(),
                p.messages,
                p.deliveries()
            );
            let r = match tokio::time::timeout(case_timeout, fanout::run(addr, &p)).await {
                Ok(Ok(r)) => Ok(r),
                Ok(Err(e)) => Err(e.to_string()),
                Err(_) => Err(format!("did not finish within {case_timeout:?}")),
            };
            match &r {
                Ok(r) => eprintln!(
                    "  subscribe {}, publish {} msgs/s, wall {} = {:.0} deliveries/s, check {}{}",
                    fmt_dur(r.subscribe),
                    r.publish_rate
                        .map_or_else(|| "-".to_owned(), |x| format!("{x:.0}")),
                    fmt_dur(r.wall),
                    r.deliveries_per_sec,
                    r.check.summary(),
                    r.stalled
                        .as_deref()
                        .map(|s| format!(", STALLED: {s}"))
                        .unwrap_or_default()
                ),
                Err(e) => eprintln!("  FAILED: {e}"),
            }
            row.push(r);
        }
        results.push(row);
    }
    let names: Vec<&str> = brokers.list.iter().map(|(n, _, _)| *n).collect();
    let (warnings, mut failed) = stop(brokers, "fanout").await;

    println!();
    println!(
        "wildcard-fanout: S subscriptions (ack:auto, prefetch {}) spread over {} connections, \
         half '<p>.<g>.>' and half '<p>.*.<x>'; one producer publishes M non-persistent {} B \
         messages round-robin over the G x G topics '<p>.<a>.<b>' (created before subscribing)",
        base.prefetch, base.connections, a.size
    );
    println!(
        "  match/msg = subscriptions each message matches; subscribe = all SUBSCRIBEs answered \
         (sub cpu: broker CPU meanwhile); publish/s = M / (first SEND -> last RECEIPT); \
         wall = first SEND -> last delivery read; ns/dlv = wall / deliveries; cpu ns = broker \
         CPU in that phase / deliveries; client = the load generator's CPU / wall"
    );
    println!(
        "{:<17} {:<9} {:>5} {:>6} {:>5} {:>6} {:>9} {:>9} {:>9} {:>9} {:>8} {:>10} {:>7} {:>7} {:>6} {:>8} {:>7}",
        "case",
        "broker",
        "S",
        "topics",
        "match",
        "M",
        "dlv",
        "subscribe",
        "sub cpu",
        "publish/s",
        "wall",
        "dlv/s",
        "ns/dlv",
        "cpu ns",
        "client",
        "check",
        "fm/AMQ"
    );
    for (ci, case) in cases.iter().enumerate() {
        let p = &case.params;
        for (bi, name) in names.iter().enumerate() {
            match &results[ci][bi] {
                Err(e) => {
                    println!("{:<17} {name:<9} FAILED: {e}", case.label);
                    failed = true;
                }
                Ok(r) => {
                    let stopped = r.stalled.is_some();
                    let check = if stopped {
                        "STALLED".to_owned()
                    } else {
                        r.check.summary()
                    };
                    // A stall or a failed check is a result for the reference broker (ActiveMQ
                    // stalls on unmatched selector messages by default) and a failure for
                    // ferromq; an error is a failure for either.
                    if (!r.check.ok() || stopped) && *name == "ferromq" {
                        failed = true;
                    }
                    let per = |d: Duration| d.as_secs_f64() * 1e9 / r.deliveries as f64;
                    println!(
                        "{:<17} {name:<9} {:>5} {:>6} {:>5.0} {:>6} {:>9} {:>9} {:>9} {:>9} {:>8} {:>10} {:>7} {:>7} {:>6} {:>8} {:>7}",
                        case.label,
                        p.subscriptions,
                        p.topics(),
                        r.deliveries as f64 / p.messages as f64,
                        p.messages,
                        r.deliveries,
                        fmt_dur(r.subscribe),
                        r.subscribe_cpu.broker.map_or_else(|| "-".to_owned(), fmt_dur),
                        r.publish_rate
                            .map_or_else(|| "-".to_owned(), |x| format!("{x:.0}")),
                        fmt_dur(r.wall),
                        rate_cell(r.deliveries_per_sec, stopped),
                        cost_cell(Some(per(r.wall)), stopped),
                        cost_cell(r.cpu.broker.map(per), stopped),
                        share(r.cpu.client, r.wall),
                        check,
                        if bi == 0 {
                            ratio(&results[ci], |r| {
                                (r.check.ok() && r.stalled.is_none())
                                    .then_some(r.deliveries_per_sec)
                            })
                        } else {
                            String::new()
                        }
                    );
                }
            }
        }
    }
    for (ci, case) in cases.iter().enumerate() {
        for (bi, name) in names.iter().enumerate() {
            let Ok(r) = &results[ci][bi] else { continue };
            if let Some(s) = &r.stalled {
                println!("  {} {name}: stopped: {s}", case.label);
            }
            if let Some(pr) = &r.check.first_problem {
                println!("  {} {name}: first problem: {pr}", case.label);
            }
        }
    }
    if scale > 1 && cases.len() == 3 {
        let ok = |ci: usize, bi: usize| match &results[ci][bi] {
            Ok(r) if r.check.ok() && r.stalled.is_none() => Some(r.clone()),
            _ => None,
        };
        println!();
        println!(
            "scaling from S to {scale}S (the verdict uses broker CPU where known; flagged above \
             {NOISE_ALLOWANCE}× what linear allows):"
        );
        for (bi, name) in names.iter().enumerate() {
            let Some(r0) = ok(0, bi) else {
                println!(
                    "  {name:<9} not comparable ({} did not complete)",
                    cases[0].label
                );
                continue;
            };
            let secs = |d: Duration| d.as_secs_f64();
            let subscribe = |r: &fanout::FanoutResult| Costs {
                wall: secs(r.subscribe) * 1e3,
                cpu: r.subscribe_cpu.broker.map(|c| secs(c) * 1e3),
            };
            let per_dlv = |r: &fanout::FanoutResult| {
                let d = r.deliveries as f64;
                Costs {
                    wall: secs(r.wall) * 1e9 / d,
                    cpu: r.cpu.broker.map(|c| secs(c) * 1e9 / d),
                }
            };
            let per_pub = |r: &fanout::FanoutResult| r.publish_rate.map_or(f64::NAN, |x| 1e6 / x);
            for ci in [1usize, 2] {
                let Some(r) = ok(ci, bi) else {
                    println!(
                        "  {name:<9} {}: not comparable (did not complete)",
                        cases[ci].label
                    );
                    continue;
                };
                let k = r.deliveries as f64 / cases[ci].params.messages as f64;
                let k0 = r0.deliveries as f64 / cases[0].params.messages as f64;
                println!(
                    "  {name:<9} {} ({} subscriptions, {} topics, {} messages, {k:.0} matches each):",
                    cases[ci].label,
                    cases[ci].params.subscriptions,
                    cases[ci].params.topics(),
                    cases[ci].params.messages,
                );
                println!(
                    "    subscribe, ms: {}",
                    growth(&subscribe(&r0), &subscribe(&r), scale as f64, "SUPERLINEAR")
                );
                println!(
                    "    ns per delivery: {}",
                    growth(&per_dlv(&r0), &per_dlv(&r), 1.0, "SUPERLINEAR")
                );
                // Publishing overlaps delivering (a broker may take publishes faster than it
                // delivers, or hold the producer back), so this is shown without a verdict; the
                // per-delivery line above covers the whole work.
                let (x, y) = (per_pub(&r0), per_pub(&r));
                println!(
                    "    µs per publish ({k0:.0} -> {k:.0} matches each): {x:.0} -> {y:.0} (×{:.2}; \
                     no verdict: publishing overlaps delivering)",
                    y / x
                );
            }
        }
    }
    print_warnings(&warnings);
    Ok(if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}
