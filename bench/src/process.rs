//! Starting and stopping a ferromq process.

use std::fs::File;
use std::io::Write;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};
use tokio::sync::oneshot;
use tokio::time::Instant;

use crate::Error;

const LISTENING: &str = "listening protocol=stomp addr=";

/// A running ferromq.
pub struct Ferromq {
    child: Child,
    /// When `spawn` was called.
    pub spawned_at: Instant,
    listening: Option<oneshot::Receiver<(Instant, SocketAddr)>>,
    /// WARN/ERROR lines the broker logged (at most 20 kept).
    pub warnings: Arc<Mutex<Vec<String>>>,
    pub log: PathBuf,
}

impl Ferromq {
    /// Starts `bin --bind 127.0.0.1 --stomp-port <port> --data-dir <data_dir>`, its stderr
    /// copied to `log` (appended). Port 0 lets the broker pick one.
    pub fn spawn(bin: &Path, data_dir: &Path, port: u16, log: &Path) -> Result<Self, Error> {
        let mut logfile = File::options()
            .create(true)
            .append(true)
            .open(log)
            .map_err(|e| format!("opening {}: {e}", log.display()))?;
        let spawned_at = Instant::now();
        let mut child = Command::new(bin)
            .arg("--bind")
            .arg("127.0.0.1")
            .arg("--stomp-port")
            .arg(port.to_string())
            // An ActiveMQ beside it holds 8161 (its web console), the admin API's default.
            .arg("--admin-port")
            .arg("0")
            .arg("--data-dir")
            .arg(data_dir)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| format!("starting {}: {e}", bin.display()))?;
        let stderr = child.stderr.take().ok_or("no stderr pipe")?;
        let (tx, rx) = oneshot::channel();
        let warnings = Arc::new(Mutex::new(Vec::new()));
        let warn = warnings.clone();
        tokio::spawn(async move {
            let mut tx = Some(tx);
            let mut lines = BufReader::new(stderr).lines();
            while let Ok(Some(line)) = lines.next_line().await {
                let _ = writeln!(logfile, "{line}");
                if let Some(i) = line.find(LISTENING) {
                    let rest = &line[i + LISTENING.len()..];
                    let addr = rest.split_whitespace().next().unwrap_or("");
                    if let (Ok(a), Some(tx)) = (addr.parse::<SocketAddr>(), tx.take()) {
                        let _ = tx.send((Instant::now(), a));
                    }
                }
                if line.contains(" WARN ") || line.contains(" ERROR ") {
                    if let Ok(mut w) = warn.lock() {
                        if w.len() < 20 {
                            w.push(line.clone());
                        }
                    }
                }
            }
        });
        Ok(Ferromq {
            child,
            spawned_at,
            listening: Some(rx),
            warnings,
            log: log.to_owned(),
        })
    }

    /// Waits (at most `limit`) for the `listening protocol=stomp` log line; returns when it
    /// was read and the address it names.
    pub async fn listening(&mut self, limit: Duration) -> Result<(Instant, SocketAddr), Error> {
        let rx = self.listening.take().ok_or("listening() called twice")?;
        match tokio::time::timeout(limit, rx).await {
            Ok(Ok(v)) => Ok(v),
            Ok(Err(_)) => Err(format!(
                "ferromq exited or closed stderr before logging `{LISTENING}…` (log: {})",
                self.log.display()
            )
            .into()),
            Err(_) => Err(format!(
                "ferromq did not log `{LISTENING}…` within {limit:?} (log: {})",
                self.log.display()
            )
            .into()),
        }
    }

    /// SIGTERM, then wait at most `limit` for the exit; SIGKILL after that. Returns how long
    /// the graceful shutdown took and the exit status.
    pub async fn terminate(mut self, limit: Duration) -> Result<(Duration, String), Error> {
        let Some(pid) = self.child.id() else {
            let st = self.child.wait().await?;
            return Ok((Duration::ZERO, format!("had already exited ({st})")));
        };
        let t = Instant::now();
        // The bench crate forbids unsafe code, so no libc::kill: use kill(1) on our own child.
        let sent = std::process::Command::new("kill")
            .arg("-TERM")
            .arg(pid.to_string())
            .status()?;
        if !sent.success() {
            return Err(format!("kill -TERM {pid} failed").into());
        }
        match tokio::time::timeout(limit, self.child.wait()).await {
            Ok(st) => Ok((t.elapsed(), st?.to_string())),
            Err(_) => {
                let _ = self.child.start_kill();
                let _ = self.child.wait().await;
                Err(format!("ferromq pid {pid} ignored SIGTERM for {limit:?}; killed it").into())
            }
        }
    }

    /// The process id, while it runs.
    pub fn pid(&self) -> Option<u32> {
        self.child.id()
    }

    /// Resident memory of the process (VmRSS from /proc), in bytes.
    pub fn rss(&self) -> Option<u64> {
        let pid = self.child.id()?;
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
        let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
        let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
        Some(kb * 1024)
    }

    pub fn warnings(&self) -> Vec<String> {
        self.warnings.lock().map(|w| w.clone()).unwrap_or_default()
    }
}

/// CPU time (user + system, all threads) process `pid` has used so far, from
/// /proc/PID/stat; `None` if it cannot be read. Clock-tick resolution (10 ms).
pub fn cpu_time(pid: u32) -> Option<Duration> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) may contain spaces; fields after it are space-separated.
    let rest = &stat[stat.rfind(')')? + 1..];
    let mut f = rest.split_whitespace();
    // rest starts at field 3 (state); utime and stime are fields 14 and 15.
    let utime: u64 = f.nth(11)?.parse().ok()?;
    let stime: u64 = f.next()?.parse().ok()?;
    Some(Duration::from_secs_f64(
        (utime + stime) as f64 / clock_ticks(),
    ))
}

/// Clock ticks per second of /proc times (`getconf CLK_TCK`; 100 if that fails).
fn clock_ticks() -> f64 {
    static TICKS: std::sync::OnceLock<f64> = std::sync::OnceLock::new();
    *TICKS.get_or_init(|| {
        std::process::Command::new("getconf")
            .arg("CLK_TCK")
            .output()
            .ok()
            .and_then(|o| String::from_utf8(o.stdout).ok())
            .and_then(|s| s.trim().parse().ok())
            .filter(|&t: &f64| t > 0.0)
            .unwrap_or(100.0)
    })
}

/// CPU used over a phase by the broker (when its pid is known) and by this load generator.
#[derive(Debug, Clone, Copy, Default)]
pub struct Cpu {
    pub broker: Option<Duration>,
    pub client: Option<Duration>,
}

/// Samples [`Cpu`] at the start of a phase; [`CpuMeter::stop`] gives what the phase used.
pub struct CpuMeter {
    pid: Option<u32>,
    broker: Option<Duration>,
    client: Option<Duration>,
}

impl CpuMeter {
    pub fn start(pid: Option<u32>) -> Self {
        CpuMeter {
            pid,
            broker: pid.and_then(cpu_time),
            client: own_cpu_time(),
        }
    }

    pub fn stop(&self) -> Cpu {
        let since = |now: Option<Duration>, then: Option<Duration>| {
            now.zip(then).map(|(n, t)| n.saturating_sub(t))
        };
        Cpu {
            broker: since(self.pid.and_then(cpu_time), self.broker),
            client: since(own_cpu_time(), self.client),
        }
    }
}

/// CPU time this process has used so far.
pub fn own_cpu_time() -> Option<Duration> {
    cpu_time(std::process::id())
}

/// Total size of the files under `dir`, and the part of it in RocksDB write-ahead-log files
/// (`<number>.log`), in bytes.
pub fn dir_size(dir: &Path) -> (u64, u64) {
    let mut total = 0;
    let mut wal = 0;
    let mut stack = vec![dir.to_owned()];
    let mut visited = 0;
    while let Some(d) = stack.pop() {
        visited += 1;
        if visited > 100_000 {
            break;
        }
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in entries.flatten() {
            match e.metadata() {
                Ok(m) if m.is_dir() => stack.push(e.path()),
                Ok(m) => {
                    total += m.len();
                    let name = e.file_name();
                    let name = name.to_string_lossy();
                    if let Some(stem) = name.strip_suffix(".log") {
                        if !stem.is_empty() && stem.bytes().all(|b| b.is_ascii_digit()) {
                            wal += m.len();
                        }
                    }
                }
                Err(_) => {}
            }
        }
    }
    (total, wal)
}
