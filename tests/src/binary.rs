//! The real `ferromq` binary for tests that run it: built once per test process with
//! `cargo build -p ferromq` (a no-op when fresh) in the test's own profile and located from
//! cargo's JSON output; `FERROMQ_BIN` overrides that. (The build compiles the tree as it is
//! on disk: while someone edits `crates/`, a broken intermediate state fails these tests with
//! the compiler's output.)

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::OnceLock;

fn build_binary() -> PathBuf {
    if let Some(p) = std::env::var_os("FERROMQ_BIN") {
        return PathBuf::from(p);
    }
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR")).join("../Cargo.toml");
    let release = std::env::current_exe()
        .ok()
        .and_then(|p| {
            p.parent()?
                .parent()
                .map(|d| d.file_name().is_some_and(|n| n == "release"))
        })
        .unwrap_or(false);
    let mut cmd = std::process::Command::new(env!("CARGO"));
    cmd.args([
        "build",
        "-p",
        "ferromq",
        "--bin",
        "ferromq",
        "--message-format=json-render-diagnostics",
        "--locked",
    ])
    .arg("--manifest-path")
    .arg(&manifest)
    .stderr(Stdio::inherit());
    if release {
        cmd.arg("--release");
    }
    let out = cmd.output().expect("running cargo build -p ferromq");
    assert!(out.status.success(), "cargo build -p ferromq failed");
    let stdout = String::from_utf8_lossy(&out.stdout);
    for line in stdout.lines() {
        let Ok(v) = serde_json::from_str::<serde_json::Value>(line) else {
            continue;
        };
        if v["reason"] == "compiler-artifact" && v["target"]["name"] == "ferromq" {
            if let Some(exe) = v["executable"].as_str() {
                return PathBuf::from(exe);
            }
        }
    }
    panic!("cargo build -p ferromq reported no `ferromq` executable");
}

/// The binary's path (built on first use).
pub fn ferromq_binary() -> &'static Path {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(build_binary)
}

/// [`ferromq_binary`] from async code (the first call builds, off the runtime's workers).
pub async fn ferromq_binary_path() -> PathBuf {
    tokio::task::spawn_blocking(|| ferromq_binary().to_path_buf())
        .await
        .expect("building the binary panicked")
}

/// `s` without ANSI colour sequences.
pub fn strip_ansi(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            // CSI: ESC [ ... final byte in @..~
            if chars.next() == Some('[') {
                for c2 in chars.by_ref() {
                    if ('@'..='~').contains(&c2) {
                        break;
                    }
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// `addr=<ip>:<port>` from a `listening ... protocol=<protocol> addr=...` log line, coloured
/// or not.
pub fn listening_addr(line: &str, protocol: &str) -> Option<SocketAddr> {
    let line = strip_ansi(line);
    if !line.contains("listening") || !line.contains(&format!("protocol={protocol}")) {
        return None;
    }
    let rest = &line[line.find("addr=")? + "addr=".len()..];
    let value: String = rest
        .trim_start_matches('"')
        .chars()
        .take_while(|c| !c.is_whitespace() && *c != '"' && *c != ',')
        .collect();
    value.parse().ok()
}

/// The stderr lines a started broker has written so far.
pub type BrokerLog = std::sync::Arc<std::sync::Mutex<Vec<String>>>;

/// Reads a started broker's stderr until it has logged a `listening` line for each of
/// `protocols` (within 30 s, else panics with what it logged), then keeps draining it in a
/// task so the child never blocks on a full pipe. Returns the addresses, in `protocols`
/// order, and the log.
pub async fn wait_listening(
    stderr: tokio::process::ChildStderr,
    protocols: &[&str],
) -> (Vec<SocketAddr>, BrokerLog) {
    use tokio::io::{AsyncBufReadExt, BufReader};
    let mut lines = BufReader::new(stderr).lines();
    let log: BrokerLog = Default::default();
    let mut found: Vec<Option<SocketAddr>> = vec![None; protocols.len()];
    let seen = tokio::time::timeout(std::time::Duration::from_secs(30), async {
        while let Ok(Some(line)) = lines.next_line().await {
            for (slot, p) in found.iter_mut().zip(protocols) {
                *slot = slot.or_else(|| listening_addr(&line, p));
            }
            log.lock().expect("log lock").push(line);
            if found.iter().all(Option::is_some) {
                return true;
            }
        }
        false
    })
    .await;
    if seen != Ok(true) {
        panic!(
            "no `listening` line for each of {protocols:?} within 30 s (or ferromq exited):\n{}",
            log.lock().expect("log lock").join("\n")
        );
    }
    let sink = log.clone();
    tokio::spawn(async move {
        while let Ok(Some(line)) = lines.next_line().await {
            if let Ok(mut l) = sink.lock() {
                l.push(line);
            }
        }
    });
    (found.into_iter().flatten().collect(), log)
}
