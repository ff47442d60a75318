//! The real `ferromq` binary: start, serve STOMP, stop cleanly on SIGTERM/SIGINT.
//!
//! The binary is built with `cargo build -p ferromq` (a no-op when it is fresh) in the same
//! profile as this test, and located from cargo's JSON output; `FERROMQ_BIN` overrides that.
//! (The build compiles the tree as it is on disk: while someone edits `crates/`, a broken
//! intermediate state fails these tests with the compiler's output.)

use std::net::SocketAddr;

use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use ferromq_tests::binary::{ferromq_binary, listening_addr, wait_listening};
use ferromq_tests::*;
use tokio::process::{Child, Command as Proc};

struct Running {
    child: Child,
    addr: SocketAddr,
    log: Arc<Mutex<Vec<String>>>,
    _dir: tempfile::TempDir,
}

impl Running {
    fn log(&self) -> String {
        self.log.lock().map(|l| l.join("\n")).unwrap_or_default()
    }
}

async fn start_binary(args: &[&str]) -> Running {
    let bin = tokio::task::spawn_blocking(|| ferromq_binary().to_path_buf())
        .await
        .expect("building the binary panicked");
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    let mut cmd = Proc::new(&bin);
    cmd.args(args)
        .arg("--data-dir")
        .arg(&data)
        // The admin API's default port (8161) would be shared by the tests running at once.
        .arg("--admin-port")
        .arg("0")
        .current_dir(dir.path())
        .env("NO_COLOR", "1")
        .env_remove("RUST_LOG")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    let mut child = cmd
        .spawn()
        .unwrap_or_else(|e| panic!("spawning {}: {e}", bin.display()));
    let stderr = child.stderr.take().expect("piped stderr");
    let (addrs, log) = wait_listening(stderr, &["stomp"]).await;
    let addr = addrs[0];
    Running {
        child,
        addr,
        log,
        _dir: dir,
    }
}

async fn signal_and_wait(mut r: Running, signal: &str) {
    let pid = r.child.id().expect("child pid");
    let status = std::process::Command::new("kill")
        .arg(format!("-{signal}"))
        .arg(pid.to_string())
        .status()
        .expect("running kill");
    assert!(status.success(), "kill -{signal} {pid} failed");
    let exit = tokio::time::timeout(Duration::from_secs(10), r.child.wait()).await;
    match exit {
        Ok(Ok(st)) => assert_eq!(
            st.code(),
            Some(0),
            "ferromq did not exit 0 after SIG{signal} ({st}); log:\n{}",
            r.log()
        ),
        Ok(Err(e)) => panic!("waiting for ferromq: {e}"),
        Err(_) => panic!(
            "ferromq did not exit within 10 s of SIG{signal}; log:\n{}",
            r.log()
        ),
    }
}

async fn round_trip(addr: SocketAddr) {
    let mut c = StompClient::open(addr, "1.2").await;
    let dest = unique_queue("bin");
    c.subscribe("s", &dest, "client-individual").await;
    c.send_msg(&dest, "through the binary", &[("persistent", "true")])
        .await;
    let m = c.recv_message().await;
    assert_eq!(m.body_str(), "through the binary");
    assert_eq!(m.hdr("destination"), Some(dest.as_str()));
    c.ack(&m).await;
    c.disconnect().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn binary_serves_stomp_and_exits_cleanly_on_sigterm() {
    let r = start_binary(&["--bind", "127.0.0.1", "--stomp-port", "0"]).await;
    assert!(r.addr.ip().is_loopback(), "listening on {}", r.addr);
    assert_ne!(r.addr.port(), 0);
    round_trip(r.addr).await;
    // A connected client is closed by the shutdown.
    let mut idle = StompClient::open(r.addr, "1.2").await;
    let addr = r.addr;
    signal_and_wait(r, "TERM").await;
    idle.expect_closed().await;
    assert!(
        StompClient::try_connect(addr).await.is_err(),
        "port still accepting after exit"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn binary_exits_cleanly_on_sigint() {
    let r = start_binary(&["--bind", "127.0.0.1", "--stomp-port", "0"]).await;
    round_trip(r.addr).await;
    signal_and_wait(r, "INT").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn binary_reads_a_config_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cfg = dir.path().join("ferromq.toml");
    std::fs::write(
        &cfg,
        "[network]\nbind = \"127.0.0.1\"\n\n[stomp]\nport = 0\n",
    )
    .expect("writing config");
    let r = start_binary(&["--config", cfg.to_str().expect("utf-8 path")]).await;
    assert!(r.addr.ip().is_loopback(), "config bind ignored: {}", r.addr);
    round_trip(r.addr).await;
    signal_and_wait(r, "TERM").await;
}

/// `--bind`, `--stomp-port` and `--data-dir` win over what either file format says: each file
/// names a port that is taken and a data directory that cannot be created, so the broker
/// only starts if the flags replaced them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn command_line_flags_override_the_config_file() {
    let busy = std::net::TcpListener::bind("127.0.0.1:0").expect("binding a port");
    let port = busy.local_addr().expect("local addr").port();
    let dir = tempfile::tempdir().expect("tempdir");
    let not_a_dir = dir.path().join("file");
    std::fs::write(&not_a_dir, "").expect("writing a file");
    let bad_data = not_a_dir.join("data");
    let bad_data = bad_data.to_str().expect("utf-8 path");
    let toml = dir.path().join("ferromq.toml");
    std::fs::write(
        &toml,
        format!(
            "[network]\nbind = \"0.0.0.0\"\n\n[stomp]\nport = {port}\n\n\
             [storage]\ndata_dir = \"{bad_data}\"\n"
        ),
    )
    .expect("writing config");
    let xml = dir.path().join("activemq.xml");
    std::fs::write(
        &xml,
        format!(
            "<beans><broker xmlns=\"http://activemq.apache.org/schema/core\" \
             dataDirectory=\"{bad_data}\"><transportConnectors>\
             <transportConnector name=\"stomp\" uri=\"stomp://0.0.0.0:{port}\"/>\
             </transportConnectors></broker></beans>"
        ),
    )
    .expect("writing config");
    for cfg in [&toml, &xml] {
        let r = start_binary(&[
            "--config",
            cfg.to_str().expect("utf-8 path"),
            "--bind",
            "127.0.0.1",
            "--stomp-port",
            "0",
        ])
        .await;
        assert!(r.addr.ip().is_loopback(), "--bind ignored: {}", r.addr);
        assert_ne!(r.addr.port(), port, "--stomp-port ignored");
        round_trip(r.addr).await;
        signal_and_wait(r, "TERM").await;
    }
    drop(busy);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn binary_without_config_uses_defaults() {
    let defaults = BrokerConfig::default();
    let default_addr = format!("{}:{}", defaults.network.bind, defaults.stomp.port);
    // Skip (loudly) when something else holds the default port on this machine.
    match std::net::TcpListener::bind(&default_addr) {
        Ok(l) => drop(l),
        Err(e) => {
            eprintln!("SKIPPED: default address {default_addr} is busy ({e})");
            return;
        }
    }
    let r = start_binary(&[]).await;
    assert_eq!(r.addr.port(), defaults.stomp.port, "default STOMP port");
    assert_eq!(
        r.addr.ip().to_string(),
        defaults.network.bind,
        "default bind address"
    );
    let local = SocketAddr::from(([127, 0, 0, 1], r.addr.port()));
    round_trip(local).await;
    signal_and_wait(r, "TERM").await;
}

#[test]
fn listening_line_parser() {
    let plain = "2025-01-01T00:00:00Z  INFO ferromq: listening protocol=stomp addr=127.0.0.1:41234";
    assert_eq!(
        listening_addr(plain, "stomp"),
        Some("127.0.0.1:41234".parse().expect("addr"))
    );
    let colored = "\u{1b}[32m INFO\u{1b}[0m listening \u{1b}[3mprotocol\u{1b}[0m\u{1b}[2m=\u{1b}[0mstomp \u{1b}[3maddr\u{1b}[0m\u{1b}[2m=\u{1b}[0m0.0.0.0:61613";
    assert_eq!(
        listening_addr(colored, "stomp"),
        Some("0.0.0.0:61613".parse().expect("addr"))
    );
    assert_eq!(
        listening_addr("listening protocol=amqp addr=1.2.3.4:5", "stomp"),
        None
    );
}
