//! Testkit for ferromq's black-box integration tests.
//!
//! - [`TestBroker`] runs the real server in-process on `127.0.0.1:0` with a `MemStore`.
//! - [`StompClient`] speaks STOMP over a real TCP socket, encoding with `stomp_codec`. Every
//!   network await is bounded by a timeout (default [`DEFAULT_TIMEOUT`]), so a broken broker
//!   fails a test with a clear message instead of hanging it.
//! - [`frame!`] builds typed frames, [`raw_frame!`] builds exact wire bytes (for protocol
//!   violations the codec would refuse to produce).
//! - [`FrameExt`] gives frames short, panicking header accessors for assertions.
//!
//! Conventions: each test starts its own broker and uses [`unique`] destination names, so
//! tests are independent and can run in parallel.

pub mod binary;

use std::collections::VecDeque;
use std::fmt::Write as _;
use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::{timeout, Instant};

pub use broker_config::BrokerConfig;
pub use bytes::{self, Bytes, BytesMut};
pub use stomp_codec::{Command, Frame, Headers, Item, Limits, StompCodec, Version};

/// Default bound on every network wait of the testkit.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(5);

/// A short window used by tests to assert that nothing (more) arrives.
pub const QUIET: Duration = Duration::from_millis(400);

/// A name unique within this test process: `<prefix>-<pid>-<n>`.
pub fn unique(prefix: &str) -> String {
    static NEXT: AtomicU64 = AtomicU64::new(1);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    format!("{prefix}-{}-{n}", std::process::id())
}

/// A `/queue/<unique>` destination.
pub fn unique_queue(prefix: &str) -> String {
    format!("/queue/{}", unique(prefix))
}

/// A `/topic/<unique>` destination.
pub fn unique_topic(prefix: &str) -> String {
    format!("/topic/{}", unique(prefix))
}

/// Copies a string into [`Bytes`] (header names/values of any lifetime).
pub fn b(s: &str) -> Bytes {
    Bytes::copy_from_slice(s.as_bytes())
}

// ---------------------------------------------------------------------------------------------
// Frame builders
// ---------------------------------------------------------------------------------------------

/// Builds a [`Frame`]: `frame!(Send, "destination" => dest, "receipt" => "r1"; "body")`.
///
/// Header names and values are any `AsRef<str>`; the body (after `;`) any `AsRef<[u8]>`.
/// The codec escapes header values per the negotiated version when the frame is encoded.
/// `content-length` is not added: use `.with_content_length()` when it is wanted.
#[macro_export]
macro_rules! frame {
    ($cmd:ident $(, $k:expr => $v:expr)* $(,)? $(; $body:expr)?) => {{
        #[allow(unused_mut)]
        let mut f = $crate::Frame::new($crate::Command::$cmd);
        $(
            f.headers.push(
                $crate::b(::std::convert::AsRef::<str>::as_ref(&$k)),
                $crate::b(::std::convert::AsRef::<str>::as_ref(&$v)),
            );
        )*
        $(
            f.body = $crate::Bytes::copy_from_slice(::std::convert::AsRef::<[u8]>::as_ref(&$body));
        )?
        f
    }};
}

/// Builds exact wire bytes: `raw_frame!("SEND", "destination:/queue/a", "receipt:1"; b"body")`
/// gives `SEND\ndestination:/queue/a\nreceipt:1\n\nbody\0`. Header lines are written as given
/// (no escaping), so they can be malformed on purpose.
#[macro_export]
macro_rules! raw_frame {
    ($cmd:expr $(, $line:expr)* $(,)? $(; $body:expr)?) => {{
        #[allow(unused_mut)]
        let mut body: &[u8] = b"";
        $( body = ::std::convert::AsRef::<[u8]>::as_ref(&$body); )?
        $crate::raw_frame(
            ::std::convert::AsRef::<str>::as_ref(&$cmd),
            &[$(::std::convert::AsRef::<str>::as_ref(&$line)),*],
            body,
        )
    }};
}

/// See [`raw_frame!`]: command line, header lines verbatim, a blank line, body, NUL.
pub fn raw_frame(command: &str, header_lines: &[&str], body: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(64 + body.len());
    out.extend_from_slice(command.as_bytes());
    out.push(b'\n');
    for line in header_lines {
        out.extend_from_slice(line.as_bytes());
        out.push(b'\n');
    }
    out.push(b'\n');
    out.extend_from_slice(body);
    out.push(0);
    out
}

/// Short header accessors for assertions.
pub trait FrameExt {
    /// The first value of header `name` as UTF-8, if present.
    fn hdr(&self, name: &str) -> Option<&str>;
    /// The first value of header `name`; panics with the whole frame when it is absent.
    fn must(&self, name: &str) -> &str;
    /// The body as UTF-8 (lossy, owned).
    fn body_str(&self) -> String;
    /// A readable rendering of the frame for failure messages.
    fn describe(&self) -> String;
    /// Panics unless the frame has `command`.
    fn assert_command(&self, command: Command) -> &Self;
}

impl FrameExt for Frame {
    fn hdr(&self, name: &str) -> Option<&str> {
        self.headers.get_str(name)
    }

    fn must(&self, name: &str) -> &str {
        match self.headers.get_str(name) {
            Some(v) => v,
            None => panic!("header `{name}` missing from frame:\n{}", self.describe()),
        }
    }

    fn body_str(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    fn describe(&self) -> String {
        let mut s = String::new();
        let _ = writeln!(s, "{}", self.command.as_str());
        for (k, v) in self.headers.iter() {
            let _ = writeln!(
                s,
                "  {}:{}",
                String::from_utf8_lossy(k),
                String::from_utf8_lossy(v)
            );
        }
        let body = String::from_utf8_lossy(&self.body);
        if body.len() > 200 {
            let cut: String = body.chars().take(200).collect();
            let _ = write!(s, "  <body {} bytes> {cut:?}…", self.body.len());
        } else {
            let _ = write!(s, "  <body {} bytes> {body:?}", self.body.len());
        }
        s
    }

    fn assert_command(&self, command: Command) -> &Self {
        assert_eq!(
            self.command,
            command,
            "expected a {} frame, got:\n{}",
            command.as_str(),
            self.describe()
        );
        self
    }
}

/// Parses a `"1.0"`-style version string.
pub fn parse_version(v: &str) -> Version {
    Version::from_bytes(v.as_bytes()).unwrap_or_else(|| panic!("not a STOMP version: {v:?}"))
}

/// Parses a `heart-beat` header value `"<x>,<y>"`.
pub fn parse_heart_beat(v: &str) -> (u64, u64) {
    let (x, y) = v
        .split_once(',')
        .unwrap_or_else(|| panic!("heart-beat header is not `x,y`: {v:?}"));
    let p = |s: &str| {
        s.trim()
            .parse::<u64>()
            .unwrap_or_else(|_| panic!("heart-beat header has a non-integer: {v:?}"))
    };
    (p(x), p(y))
}

/// STOMP heart-beat arithmetic for one direction: the sender can do `can` ms, the receiver
/// wants `want` ms; 0 on either side means none, else `max(can, want)`.
pub fn hb_interval(can: u64, want: u64) -> u64 {
    if can == 0 || want == 0 {
        0
    } else {
        can.max(want)
    }
}

// ---------------------------------------------------------------------------------------------
// In-process broker
// ---------------------------------------------------------------------------------------------

/// The default test configuration: `127.0.0.1`, port 0, defaults for everything else.
pub fn test_config() -> BrokerConfig {
    let mut cfg = BrokerConfig::default();
    cfg.network.bind = "127.0.0.1".to_owned();
    cfg.stomp.port = 0;
    cfg
}

/// The real server, started in-process with a `MemStore` on `127.0.0.1:<ephemeral>`.
pub struct TestBroker {
    server: Option<broker_net::Server>,
    addr: SocketAddr,
    admin: Option<SocketAddr>,
}

impl TestBroker {
    /// Starts a broker with [`test_config`].
    pub async fn start() -> Self {
        Self::start_with(test_config()).await
    }

    /// Starts a broker with `cfg`, forcing `network.bind = 127.0.0.1`, `stomp.port = 0` and
    /// `admin.port = 0` (so parallel tests never share a port). Panics if `cfg` does not pass
    /// `BrokerConfig::validate`.
    pub async fn start_with(mut cfg: BrokerConfig) -> Self {
        cfg.network.bind = "127.0.0.1".to_owned();
        cfg.stomp.port = 0;
        cfg.admin.port = 0;
        // Tests only run configurations the binary would accept.
        if let Err(e) = cfg.validate() {
            panic!("invalid test configuration: {e}");
        }
        let store: Arc<dyn broker_store::Store> = Arc::new(broker_store::MemStore::new());
        let broker = broker_core::Broker::new(broker_net::core_config(&cfg), store)
            .unwrap_or_else(|e| panic!("broker core failed to start: {e}"));
        let server = match timeout(DEFAULT_TIMEOUT, broker_net::Server::start(&cfg, broker)).await {
            Ok(Ok(s)) => s,
            Ok(Err(e)) => panic!("broker failed to start: {e}"),
            Err(_) => panic!("broker did not start within {DEFAULT_TIMEOUT:?}"),
        };
        let addr = server
            .stomp_addr()
            .expect("server started without a STOMP listener");
        let admin = server.admin_addr();
        Self {
            server: Some(server),
            addr,
            admin,
        }
    }

    /// Starts a broker from a config text (TOML or activemq.xml, as `--config` reads it),
    /// with the overrides of [`TestBroker::start_with`]. Panics if it does not parse.
    pub async fn start_with_config_text(text: &str) -> Self {
        let loaded = BrokerConfig::from_str_any(text)
            .unwrap_or_else(|e| panic!("test configuration does not parse: {e}\n{text}"));
        Self::start_with(loaded.config).await
    }

    /// The admin HTTP API's address; panics when `[admin]` is disabled.
    pub fn admin_addr(&self) -> SocketAddr {
        self.admin.expect("broker started without the admin API")
    }

    /// The STOMP listener's address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The running server.
    pub fn server(&self) -> &broker_net::Server {
        self.server.as_ref().expect("broker already stopped")
    }

    /// A TCP connection, no STOMP handshake yet.
    pub async fn client(&self) -> StompClient {
        StompClient::connect(self.addr).await
    }

    /// A connection that has done CONNECT with `accept-version: version` and got CONNECTED.
    pub async fn connected(&self, version: &str) -> StompClient {
        StompClient::open(self.addr, version).await
    }

    /// Graceful shutdown, bounded by a 10 s timeout.
    pub async fn stop(mut self) {
        if let Some(server) = self.server.take() {
            timeout(Duration::from_secs(10), server.shutdown())
                .await
                .expect("server.shutdown() did not finish within 10 s");
        }
    }
}

/// Asserts that the broker at `addr` accepts a new STOMP 1.2 connection and round-trips a
/// message through a fresh queue.
pub async fn assert_broker_serves(addr: SocketAddr) {
    let mut c = StompClient::open(addr, "1.2").await;
    let dest = unique_queue("health");
    c.subscribe("health", &dest, "auto").await;
    c.send_msg(&dest, "ping", &[]).await;
    let m = c.recv_message().await;
    assert_eq!(m.body_str(), "ping", "health-check message body");
    c.disconnect().await;
}

/// One HTTP/1.1 request to the admin API at `addr` (no body); returns the status and the
/// response body. Panics on I/O errors or after [`DEFAULT_TIMEOUT`].
pub async fn http_request(addr: SocketAddr, method: &str, target: &str) -> (u16, String) {
    let exchange = async {
        let mut s = TcpStream::connect(addr).await?;
        let req = format!(
            "{method} {target} HTTP/1.1\r\nHost: {addr}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
        );
        s.write_all(req.as_bytes()).await?;
        let mut raw = Vec::new();
        s.read_to_end(&mut raw).await?;
        io::Result::Ok(raw)
    };
    let raw = match timeout(DEFAULT_TIMEOUT, exchange).await {
        Ok(Ok(raw)) => raw,
        Ok(Err(e)) => panic!("{method} {target} on {addr}: {e}"),
        Err(_) => panic!("{method} {target} on {addr}: no answer within {DEFAULT_TIMEOUT:?}"),
    };
    let text = String::from_utf8_lossy(&raw).into_owned();
    let (head, body) = text
        .split_once("\r\n\r\n")
        .unwrap_or_else(|| panic!("incomplete HTTP response: {text:?}"));
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or_else(|| panic!("bad HTTP status line: {head:?}"));
    (status, body.to_owned())
}

// ---------------------------------------------------------------------------------------------
// STOMP client
// ---------------------------------------------------------------------------------------------

/// What one bounded read produced.
#[derive(Debug)]
pub enum ReadOutcome {
    /// A frame or a heart-beat.
    Item(Item),
    /// Nothing within the time allowed.
    Timeout,
    /// The peer closed the connection (EOF or reset).
    Closed,
}

/// A raw STOMP client over TCP.
pub struct StompClient {
    stream: TcpStream,
    rbuf: BytesMut,
    codec: StompCodec,
    /// Frames read while waiting for something else (e.g. a RECEIPT); returned first.
    pending: VecDeque<Frame>,
    version: Option<Version>,
    timeout: Duration,
    next_receipt: u64,
    closed: bool,
    peer: SocketAddr,
}

fn client_limits() -> Limits {
    Limits {
        max_frame_size: 256 * 1024 * 1024,
        max_header_count: 1_000_000,
        max_header_line: 64 * 1024 * 1024,
        max_body: 256 * 1024 * 1024,
    }
}

fn is_closed_error(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::ConnectionReset
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::BrokenPipe
            | io::ErrorKind::UnexpectedEof
    )
}

impl StompClient {
    /// Opens a TCP connection; panics if that fails within the default timeout.
    pub async fn connect(addr: SocketAddr) -> Self {
        match Self::try_connect(addr).await {
            Ok(c) => c,
            Err(e) => panic!("TCP connect to {addr} failed: {e}"),
        }
    }

    /// Opens a TCP connection.
    pub async fn try_connect(addr: SocketAddr) -> io::Result<Self> {
        let stream = match timeout(DEFAULT_TIMEOUT, TcpStream::connect(addr)).await {
            Ok(r) => r?,
            Err(_) => {
                return Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    "TCP connect timed out",
                ))
            }
        };
        stream.set_nodelay(true)?;
        Ok(Self {
            stream,
            rbuf: BytesMut::with_capacity(8 * 1024),
            codec: StompCodec::new(client_limits()),
            pending: VecDeque::new(),
            version: None,
            timeout: DEFAULT_TIMEOUT,
            next_receipt: 1,
            closed: false,
            peer: addr,
        })
    }

    /// TCP connect + CONNECT (`accept-version: version`, `host: localhost`) + CONNECTED.
    pub async fn open(addr: SocketAddr, version: &str) -> Self {
        let mut c = Self::connect(addr).await;
        c.connect_version(version).await;
        c
    }

    /// The address this client connected to.
    pub fn peer(&self) -> SocketAddr {
        self.peer
    }

    /// The negotiated version (after CONNECTED), if any.
    pub fn version(&self) -> Option<Version> {
        self.version
    }

    /// Changes the bound used by `recv` and friends.
    pub fn set_timeout(&mut self, d: Duration) {
        self.timeout = d;
    }

    /// Tells the codec which version to escape/unescape with.
    pub fn set_version(&mut self, v: Version) {
        self.version = Some(v);
        self.codec.set_version(v);
    }

    // ----- writing -----

    /// Writes bytes as they are; `Err` if the connection is gone.
    pub async fn try_send_raw(&mut self, bytes: &[u8]) -> io::Result<()> {
        match timeout(self.timeout, async {
            self.stream.write_all(bytes).await?;
            self.stream.flush().await
        })
        .await
        {
            Ok(r) => r,
            Err(_) => Err(io::Error::new(
                io::ErrorKind::TimedOut,
                "write timed out (broker not reading?)",
            )),
        }
    }

    /// Writes bytes as they are; panics if the write fails.
    pub async fn send_raw(&mut self, bytes: &[u8]) {
        if let Err(e) = self.try_send_raw(bytes).await {
            panic!("writing {} bytes to the broker failed: {e}", bytes.len());
        }
    }

    /// Encodes `frame` with the codec (escaping per the negotiated version).
    pub fn encode(&self, frame: &Frame) -> BytesMut {
        let mut out = BytesMut::new();
        self.codec.encode(frame, &mut out);
        out
    }

    /// Encodes and writes `frame`; panics if the write fails.
    pub async fn send(&mut self, frame: &Frame) {
        let bytes = self.encode(frame);
        if let Err(e) = self.try_send_raw(&bytes).await {
            panic!(
                "sending {} failed: {e}\n{}",
                frame.command.as_str(),
                frame.describe()
            );
        }
    }

    /// Encodes and writes `frame`; `Err` if the connection is gone.
    pub async fn try_send(&mut self, frame: &Frame) -> io::Result<()> {
        let bytes = self.encode(frame);
        self.try_send_raw(&bytes).await
    }

    /// Writes one heart-beat (EOL).
    pub async fn send_heartbeat(&mut self) {
        self.send_raw(b"\n").await;
    }

    // ----- reading -----

    /// One bounded read: the next decoded item, a timeout, or the connection closing.
    /// Frames held in the pending queue come first. Panics if the broker sends bytes the
    /// codec cannot decode.
    pub async fn read_within(&mut self, d: Duration) -> ReadOutcome {
        if let Some(f) = self.pending.pop_front() {
            return ReadOutcome::Item(Item::Frame(f));
        }
        let deadline = Instant::now() + d;
        loop {
            match self.codec.decode(&mut self.rbuf) {
                Ok(Some(item)) => return ReadOutcome::Item(item),
                Ok(None) => {}
                Err(e) => panic!(
                    "the broker sent bytes the codec cannot decode: {e}; buffered: {:?}",
                    String::from_utf8_lossy(&self.rbuf[..self.rbuf.len().min(300)])
                ),
            }
            if self.closed {
                return ReadOutcome::Closed;
            }
            let now = Instant::now();
            if now >= deadline {
                return ReadOutcome::Timeout;
            }
            match timeout(deadline - now, self.stream.read_buf(&mut self.rbuf)).await {
                Err(_) => return ReadOutcome::Timeout,
                Ok(Ok(0)) => self.closed = true,
                Ok(Ok(_)) => {}
                Ok(Err(e)) if is_closed_error(&e) => self.closed = true,
                Ok(Err(e)) => panic!("reading from the broker failed: {e}"),
            }
        }
    }

    /// The next frame or heart-beat; panics on timeout or if the connection closes.
    pub async fn recv_item(&mut self) -> Item {
        let t = self.timeout;
        match self.read_within(t).await {
            ReadOutcome::Item(i) => i,
            ReadOutcome::Timeout => panic!("no frame or heart-beat from the broker within {t:?}"),
            ReadOutcome::Closed => {
                panic!("the broker closed the connection while a frame or heart-beat was expected")
            }
        }
    }

    /// The next frame (heart-beats skipped); panics on timeout or if the connection closes.
    pub async fn recv(&mut self) -> Frame {
        let t = self.timeout;
        match self.try_recv_within(t).await {
            Some(f) => f,
            None => panic!("no frame from the broker within {t:?}"),
        }
    }

    /// The next frame within `d` (heart-beats skipped), or `None` on timeout. Panics if the
    /// connection closes.
    pub async fn try_recv_within(&mut self, d: Duration) -> Option<Frame> {
        let deadline = Instant::now() + d;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.read_within(left).await {
                ReadOutcome::Item(Item::Frame(f)) => return Some(f),
                ReadOutcome::Item(Item::HeartBeat) => continue,
                ReadOutcome::Timeout => return None,
                ReadOutcome::Closed => {
                    panic!("the broker closed the connection while a frame was expected")
                }
            }
        }
    }

    /// The next frame or heart-beat within `d`, or `None` on timeout. Panics on close.
    pub async fn try_recv_item_within(&mut self, d: Duration) -> Option<Item> {
        match self.read_within(d).await {
            ReadOutcome::Item(i) => Some(i),
            ReadOutcome::Timeout => None,
            ReadOutcome::Closed => {
                panic!("the broker closed the connection while a frame or heart-beat was expected")
            }
        }
    }

    /// The next frame, which must be a MESSAGE.
    pub async fn recv_message(&mut self) -> Frame {
        let f = self.recv().await;
        f.assert_command(Command::Message);
        f
    }

    /// The next `n` frames, each of which must be a MESSAGE.
    pub async fn recv_messages(&mut self, n: usize) -> Vec<Frame> {
        let mut out = Vec::with_capacity(n);
        for i in 0..n {
            let t = self.timeout;
            match self.try_recv_within(t).await {
                Some(f) => {
                    f.assert_command(Command::Message);
                    out.push(f);
                }
                None => panic!("got {i} of {n} expected MESSAGE frames, then nothing for {t:?}"),
            }
        }
        out
    }

    /// Asserts that no frame (heart-beats ignored) arrives within `d`.
    pub async fn assert_no_frame(&mut self, d: Duration) {
        if let Some(f) = self.try_recv_within(d).await {
            panic!("expected no frame within {d:?}, got:\n{}", f.describe());
        }
    }

    /// Reads until the broker closes the connection (within the client timeout) and returns
    /// the frames that arrived before the close. Panics if it stays open.
    pub async fn expect_closed(&mut self) -> Vec<Frame> {
        let t = self.timeout;
        match self.closed_within(t).await {
            Some(frames) => frames,
            None => panic!("the broker did not close the connection within {t:?}"),
        }
    }

    /// Reads for up to `d`: `Some(frames received before the close)` if the broker closed
    /// the connection, `None` if it was still open at the end (frames read are kept pending).
    pub async fn closed_within(&mut self, d: Duration) -> Option<Vec<Frame>> {
        let deadline = Instant::now() + d;
        let mut frames = Vec::new();
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.read_within(left).await {
                ReadOutcome::Item(Item::Frame(f)) => frames.push(f),
                ReadOutcome::Item(Item::HeartBeat) => {}
                ReadOutcome::Closed => return Some(frames),
                ReadOutcome::Timeout => {
                    self.pending.extend(frames);
                    return None;
                }
            }
        }
    }

    /// Asserts the connection stays open for `d` (reads only; frames read are kept pending).
    ///
    /// If this task was starved and only noticed the close well after `d` (50 ms slack), the
    /// close may have happened after `d` too, so that is not treated as a failure; the next
    /// read reports the closed connection.
    pub async fn assert_open_for(&mut self, d: Duration) {
        let started = Instant::now();
        if let Some(frames) = self.closed_within(d).await {
            if started.elapsed() > d + Duration::from_millis(50) {
                return;
            }
            let shown: Vec<String> = frames.iter().map(FrameExt::describe).collect();
            panic!(
                "the broker closed the connection within {d:?}; frames before the close: {shown:#?}"
            );
        }
    }

    /// Expects an ERROR frame (with a `message` header) as the next frame, then the broker
    /// closing the connection. Returns the ERROR frame.
    pub async fn expect_error(&mut self) -> Frame {
        let t = self.timeout;
        let Some(f) = self.read_frame_or_close(t).await else {
            panic!("expected an ERROR frame, but the broker closed the connection without one")
        };
        f.assert_command(Command::Error);
        assert!(
            f.hdr("message").is_some_and(|m| !m.is_empty()),
            "ERROR frame has no (non-empty) `message` header:\n{}",
            f.describe()
        );
        let after = self.expect_closed().await;
        assert!(
            after.is_empty(),
            "frames after the ERROR frame: {:#?}",
            after.iter().map(FrameExt::describe).collect::<Vec<_>>()
        );
        f
    }

    /// The next frame, or `None` if the connection closes first; panics on timeout.
    async fn read_frame_or_close(&mut self, t: Duration) -> Option<Frame> {
        let deadline = Instant::now() + t;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.read_within(left).await {
                ReadOutcome::Item(Item::Frame(f)) => return Some(f),
                ReadOutcome::Item(Item::HeartBeat) => {}
                ReadOutcome::Closed => return None,
                ReadOutcome::Timeout => panic!("no frame from the broker within {t:?}"),
            }
        }
    }

    // ----- handshake -----

    /// CONNECT with `accept-version: version` and `host: localhost`; expects CONNECTED and
    /// sets the codec's version. Returns the CONNECTED frame.
    pub async fn connect_version(&mut self, version: &str) -> Frame {
        let f = frame!(Connect, "accept-version" => version, "host" => "localhost");
        self.connect_with(&f).await
    }

    /// Sends a CONNECT/STOMP frame; expects CONNECTED and sets the codec's version from its
    /// `version` header (1.0 when absent). Returns the CONNECTED frame.
    pub async fn connect_with(&mut self, connect: &Frame) -> Frame {
        self.send(connect).await;
        let t = self.timeout;
        let Some(f) = self.read_frame_or_close(t).await else {
            panic!(
                "the broker closed the connection instead of answering:\n{}",
                connect.describe()
            )
        };
        assert_eq!(
            f.command,
            Command::Connected,
            "expected CONNECTED in answer to\n{}\ngot:\n{}",
            connect.describe(),
            f.describe()
        );
        let v = f.hdr("version").map(parse_version).unwrap_or(Version::V1_0);
        self.set_version(v);
        f
    }

    // ----- request/receipt -----

    /// A fresh receipt id.
    pub fn next_receipt_id(&mut self) -> String {
        let n = self.next_receipt;
        self.next_receipt += 1;
        format!("rcpt-{n}")
    }

    /// Waits for `RECEIPT receipt-id:<id>`; other frames that arrive meanwhile are kept
    /// pending (returned by later reads). Panics on ERROR, close or timeout.
    pub async fn wait_receipt(&mut self, id: &str) -> Frame {
        let deadline = Instant::now() + self.timeout;
        let mut held = Vec::new();
        let pending_before = std::mem::take(&mut self.pending);
        // Check frames already pending first.
        let mut found = None;
        for f in pending_before {
            if found.is_none() && f.command == Command::Receipt && f.hdr("receipt-id") == Some(id) {
                found = Some(f);
            } else {
                held.push(f);
            }
        }
        if let Some(f) = found {
            self.pending.extend(held);
            return f;
        }
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.read_within(left).await {
                ReadOutcome::Item(Item::Frame(f)) => {
                    if f.command == Command::Receipt && f.hdr("receipt-id") == Some(id) {
                        self.pending.extend(held);
                        return f;
                    }
                    if f.command == Command::Error {
                        panic!(
                            "ERROR while waiting for RECEIPT {id}:\n{}",
                            f.describe()
                        );
                    }
                    held.push(f);
                }
                ReadOutcome::Item(Item::HeartBeat) => {}
                ReadOutcome::Closed => panic!(
                    "the broker closed the connection while RECEIPT {id} was awaited (frames meanwhile: {:#?})",
                    held.iter().map(FrameExt::describe).collect::<Vec<_>>()
                ),
                ReadOutcome::Timeout => panic!(
                    "no RECEIPT {id} within {:?} (frames meanwhile: {:#?})",
                    self.timeout,
                    held.iter().map(FrameExt::describe).collect::<Vec<_>>()
                ),
            }
        }
    }

    /// Adds a fresh `receipt` header to `frame`, sends it and waits for the RECEIPT, which
    /// is returned. Panics on ERROR.
    pub async fn request(&mut self, mut frame: Frame) -> Frame {
        let id = self.next_receipt_id();
        frame.headers.push(b("receipt"), b(&id));
        self.send(&frame).await;
        self.wait_receipt(&id).await
    }

    // ----- operations -----

    /// SUBSCRIBE `id` to `dest` with `ack` mode; waits for its RECEIPT so the subscription is
    /// active when this returns.
    pub async fn subscribe(&mut self, id: &str, dest: &str, ack: &str) {
        self.subscribe_with(id, dest, ack, &[]).await;
    }

    /// [`subscribe`](Self::subscribe) with extra headers (e.g. `activemq.prefetchSize`).
    pub async fn subscribe_with(
        &mut self,
        id: &str,
        dest: &str,
        ack: &str,
        extra: &[(&str, &str)],
    ) {
        let mut f = frame!(Subscribe, "id" => id, "destination" => dest, "ack" => ack);
        for (k, v) in extra {
            f.headers.push(b(k), b(v));
        }
        self.request(f).await;
    }

    /// UNSUBSCRIBE `id`, waiting for the RECEIPT.
    pub async fn unsubscribe(&mut self, id: &str) {
        self.request(frame!(Unsubscribe, "id" => id)).await;
    }

    /// SEND `body` to `dest` with `extra` headers; waits for the RECEIPT, so the broker has
    /// taken the message when this returns.
    pub async fn send_msg(&mut self, dest: &str, body: &str, extra: &[(&str, &str)]) {
        let mut f = frame!(Send, "destination" => dest; body);
        for (k, v) in extra {
            f.headers.push(b(k), b(v));
        }
        self.request(f).await;
    }

    /// The version-appropriate ACK (or NACK) for `msg`: 1.0 `message-id`; 1.1
    /// `subscription` + `message-id`; 1.2 `id` = the MESSAGE's `ack` header.
    pub fn ack_frame_for(&self, command: Command, msg: &Frame, tx: Option<&str>) -> Frame {
        let mut f = Frame::new(command);
        match self.version.unwrap_or(Version::V1_0) {
            Version::V1_0 => {
                f.headers.push(b("message-id"), b(msg.must("message-id")));
            }
            Version::V1_1 => {
                f.headers
                    .push(b("subscription"), b(msg.must("subscription")));
                f.headers.push(b("message-id"), b(msg.must("message-id")));
            }
            Version::V1_2 => {
                f.headers.push(b("id"), b(msg.must("ack")));
            }
        }
        if let Some(tx) = tx {
            f.headers.push(b("transaction"), b(tx));
        }
        f
    }

    /// ACK `msg` (version-appropriate form), waiting for the RECEIPT.
    pub async fn ack(&mut self, msg: &Frame) {
        let f = self.ack_frame_for(Command::Ack, msg, None);
        self.request(f).await;
    }

    /// NACK `msg` (version-appropriate form), waiting for the RECEIPT.
    pub async fn nack(&mut self, msg: &Frame) {
        let f = self.ack_frame_for(Command::Nack, msg, None);
        self.request(f).await;
    }

    /// ACK `msg` inside transaction `tx`, waiting for the RECEIPT.
    pub async fn ack_in(&mut self, msg: &Frame, tx: &str) {
        let f = self.ack_frame_for(Command::Ack, msg, Some(tx));
        self.request(f).await;
    }

    /// NACK `msg` inside transaction `tx`, waiting for the RECEIPT.
    pub async fn nack_in(&mut self, msg: &Frame, tx: &str) {
        let f = self.ack_frame_for(Command::Nack, msg, Some(tx));
        self.request(f).await;
    }

    /// BEGIN `tx`, waiting for the RECEIPT.
    pub async fn begin(&mut self, tx: &str) {
        self.request(frame!(Begin, "transaction" => tx)).await;
    }

    /// COMMIT `tx`, waiting for the RECEIPT.
    pub async fn commit(&mut self, tx: &str) {
        self.request(frame!(Commit, "transaction" => tx)).await;
    }

    /// ABORT `tx`, waiting for the RECEIPT.
    pub async fn abort(&mut self, tx: &str) {
        self.request(frame!(Abort, "transaction" => tx)).await;
    }

    /// DISCONNECT with a receipt: expects the RECEIPT, then the broker closing the socket.
    pub async fn disconnect(mut self) {
        let id = self.next_receipt_id();
        self.send(&frame!(Disconnect, "receipt" => id)).await;
        self.wait_receipt(&id).await;
        self.expect_closed().await;
    }

    /// Drops the TCP connection without DISCONNECT.
    pub async fn close(mut self) {
        let _ = timeout(Duration::from_secs(1), self.stream.shutdown()).await;
    }
}

// ---------------------------------------------------------------------------------------------
// Protocol-violation harness
// ---------------------------------------------------------------------------------------------

/// Runs one protocol violation against `broker` and checks the whole contract:
///
/// 1. a witness client is connected (STOMP 1.2) and subscribed before the bad one starts;
/// 2. the bad client connects with `version` (or sends no CONNECT when `None`), writes `bad`,
///    and must get an ERROR frame with a `message` header (and `receipt-id: <receipt>` when
///    given), then the broker closes its connection;
/// 3. the witness still sends and receives afterwards, and a brand-new client works too.
///
/// Returns the ERROR frame.
pub async fn assert_violation(
    broker: &TestBroker,
    version: Option<&str>,
    bad: &[u8],
    receipt: Option<&str>,
) -> Frame {
    let mut witness = broker.connected("1.2").await;
    let wdest = unique_queue("witness");
    witness.subscribe("w", &wdest, "auto").await;

    let mut c = broker.client().await;
    if let Some(v) = version {
        c.connect_version(v).await;
    }
    // The broker may close as soon as it has read enough of `bad`; a failed write is fine.
    let _ = c.try_send_raw(bad).await;
    let err = c.expect_error().await;
    if let Some(r) = receipt {
        assert_eq!(
            err.hdr("receipt-id"),
            Some(r),
            "ERROR for a frame that asked for receipt {r:?} must carry receipt-id:\n{}",
            err.describe()
        );
    }

    witness.send_msg(&wdest, "still-alive", &[]).await;
    let m = witness.recv_message().await;
    assert_eq!(m.body_str(), "still-alive");
    witness.disconnect().await;
    assert_broker_serves(broker.addr()).await;
    err
}
