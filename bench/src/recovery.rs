//! Restart time with a large persistent backlog.

use std::path::Path;
use std::time::Duration;

use tokio::time::Instant;

use crate::process::{dir_size, Ferromq};
use crate::scenario::{self, DrainResult, FillResult};
use crate::Error;

pub const QUEUE: &str = "/queue/bench-recovery";

#[derive(Debug, Clone)]
pub struct RecoveryResult {
    pub fill: FillResult,
    /// Bytes under the data dir after the first broker stopped.
    pub data_bytes: u64,
    /// Of which RocksDB write-ahead log (replayed on the next open).
    pub wal_bytes: u64,
    /// SIGTERM → exit of the filled broker.
    pub shutdown: Duration,
    pub shutdown_status: String,
    /// One entry per restart.
    pub restarts: Vec<Restart>,
    pub drain: DrainResult,
    /// SIGTERM → exit of the restarted broker (after the drain).
    pub second_shutdown: Duration,
    pub warnings: Vec<String>,
    /// Broker RSS after the fill, at the first MESSAGE after the restart, after the drain.
    pub rss_filled: Option<u64>,
    pub rss_restarted: Option<u64>,
    pub rss_drained: Option<u64>,
}

#[derive(Debug, Clone, Copy)]
pub struct Restart {
    /// Spawn → the `listening` log line of the restarted broker.
    pub to_listening: Duration,
    /// Spawn → the first MESSAGE a subscriber gets from the restarted broker.
    pub to_first_message: Duration,
}

pub struct RecoveryParams<'a> {
    pub ferromq: &'a Path,
    pub data_dir: &'a Path,
    pub log: &'a Path,
    pub backlog: u64,
    pub check: u64,
    pub size: usize,
    /// Bound on spawn → first MESSAGE.
    pub restart_timeout: Duration,
    /// How many times to restart (each timed; the first also drains and checks order).
    pub restarts: u32,
}

/// Fills a fresh ferromq with `backlog` persistent messages, stops it with SIGTERM, starts it
/// again on the same port and data dir, and times the way back to the first delivery; then
/// takes `check` messages and checks their order. Repeats the restart `restarts` times.
pub async fn run(p: &RecoveryParams<'_>) -> Result<RecoveryResult, Error> {
    if p.data_dir.exists() {
        std::fs::remove_dir_all(p.data_dir)?;
    }
    std::fs::create_dir_all(p.data_dir)?;
    let mut first = Ferromq::spawn(p.ferromq, p.data_dir, 0, p.log)?;
    let (_, addr) = first.listening(Duration::from_secs(30)).await?;
    eprintln!("  recovery: filling {QUEUE} with {} messages", p.backlog);
    let fill = scenario::fill(addr, QUEUE, p.backlog, p.size, 1000, 20).await?;
    let rss_filled = first.rss();
    let mut warnings = first.warnings();
    let (shutdown, shutdown_status) = first.terminate(Duration::from_secs(60)).await?;
    let (data_bytes, wal_bytes) = dir_size(p.data_dir);
    eprintln!(
        "  recovery: filled in {:.1} s, stopped in {:.2} s ({shutdown_status}), {} MB on disk; restarting",
        fill.wall.as_secs_f64(),
        shutdown.as_secs_f64(),
        data_bytes / 1_000_000
    );

    // Restart 1 times the way back and checks the order; later restarts (of the same data,
    // minus what restart 1 consumed) only time the way back, for a median.
    let mut restarts = Vec::with_capacity(p.restarts.max(1) as usize);
    let mut drain = None;
    let mut rss_restarted = None;
    let mut rss_drained = None;
    let mut second_shutdown = Duration::ZERO;
    for i in 0..p.restarts.max(1) {
        let mut b = Ferromq::spawn(p.ferromq, p.data_dir, addr.port(), p.log)?;
        let spawned = b.spawned_at;
        let deadline: Instant = spawned + p.restart_timeout;
        let (listening, subscribed) = tokio::join!(
            b.listening(p.restart_timeout),
            scenario::subscribe_first(addr, QUEUE, deadline)
        );
        let result = async {
            let (listen_at, _) = listening?;
            let sub = subscribed?;
            let timing = Restart {
                to_listening: listen_at - spawned,
                to_first_message: sub.first_at - spawned,
            };
            if i == 0 {
                rss_restarted = b.rss();
                drain = Some(scenario::drain(sub, p.check.max(1), 0).await?);
                rss_drained = b.rss();
            } else {
                sub.conn.writer.close().await;
            }
            Ok::<_, Error>(timing)
        }
        .await;
        warnings.extend(b.warnings());
        let (stop, _) = b.terminate(Duration::from_secs(60)).await?;
        let timing = result.map_err(|e| format!("restart {}: {e}", i + 1))?;
        eprintln!(
            "  recovery: restart {}: listening after {:.3} s, first MESSAGE after {:.3} s",
            i + 1,
            timing.to_listening.as_secs_f64(),
            timing.to_first_message.as_secs_f64()
        );
        if i == 0 {
            second_shutdown = stop;
        }
        restarts.push(timing);
    }
    let drain = drain.ok_or("no drain result")?;
    Ok(RecoveryResult {
        fill,
        data_bytes,
        wal_bytes,
        shutdown,
        shutdown_status,
        restarts,
        drain,
        second_shutdown,
        warnings,
        rss_filled,
        rss_restarted,
        rss_drained,
    })
}
