//! A minimal STOMP 1.2 client over TCP: split into a reader and a writer half so a load
//! generator can pipeline sends while receipts come back. Every wait is bounded.

use std::net::SocketAddr;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use stomp_codec::{Command, Frame, Item, Limits, StompCodec, Version};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::TcpStream;
use tokio::time::{timeout, Instant};

use crate::Error;

/// Bound on connecting plus the CONNECT/CONNECTED handshake.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(30);

/// The receiving half: decodes frames from the socket.
pub struct Reader {
    rd: OwnedReadHalf,
    codec: StompCodec,
    buf: BytesMut,
}

/// The sending half: encodes frames into a buffer, written out by [`Writer::flush`].
pub struct Writer {
    wr: OwnedWriteHalf,
    codec: StompCodec,
    buf: BytesMut,
}

/// A connected STOMP 1.2 session.
pub struct Conn {
    pub reader: Reader,
    pub writer: Writer,
}

fn codec() -> StompCodec {
    let mut c = StompCodec::new(Limits::default());
    c.set_version(Version::V1_2);
    c
}

impl Conn {
    /// TCP connect (Nagle off), CONNECT with heart-beats off, wait for CONNECTED.
    pub async fn connect(addr: SocketAddr) -> Result<Self, Error> {
        let stream = timeout(CONNECT_TIMEOUT, TcpStream::connect(addr))
            .await
            .map_err(|_| format!("connect to {addr}: no answer within {CONNECT_TIMEOUT:?}"))?
            .map_err(|e| format!("connect to {addr}: {e}"))?;
        Self::handshake(stream, addr).await
    }

    /// Like [`Conn::connect`], retrying a refused TCP connect every 5 ms until `deadline`
    /// (a broker that is still starting).
    pub async fn connect_retrying(addr: SocketAddr, deadline: Instant) -> Result<Self, Error> {
        loop {
            match TcpStream::connect(addr).await {
                Ok(stream) => return Self::handshake(stream, addr).await,
                Err(e) if Instant::now() >= deadline => {
                    return Err(format!("connect to {addr}: {e} (gave up at the deadline)").into())
                }
                Err(_) => tokio::time::sleep(Duration::from_millis(5)).await,
            }
        }
    }

    async fn handshake(stream: TcpStream, addr: SocketAddr) -> Result<Self, Error> {
        stream.set_nodelay(true)?;
        let (rd, wr) = stream.into_split();
        let mut conn = Conn {
            reader: Reader {
                rd,
                codec: StompCodec::new(Limits::default()),
                buf: BytesMut::with_capacity(64 * 1024),
            },
            writer: Writer {
                wr,
                codec: StompCodec::new(Limits::default()),
                buf: BytesMut::with_capacity(64 * 1024),
            },
        };
        let connect = Frame::new(Command::Connect)
            .header("accept-version", "1.2")
            .header("host", "localhost")
            .header("heart-beat", "0,0");
        conn.writer.push(&connect);
        conn.writer.flush().await?;
        let reply = conn.reader.next_frame(CONNECT_TIMEOUT).await?;
        if reply.command != Command::Connected {
            return Err(format!("{addr}: CONNECT answered by {}", describe(&reply)).into());
        }
        conn.reader.codec = codec();
        conn.writer.codec = codec();
        Ok(conn)
    }
}

impl Conn {
    /// The socket as a blocking std stream, for a producer thread that paces itself with
    /// `std::thread::sleep` (tokio's timer only has millisecond resolution). Anything the
    /// broker sent after CONNECTED and not yet read is dropped.
    pub fn into_std(self) -> Result<std::net::TcpStream, Error> {
        let stream = self
            .reader
            .rd
            .reunite(self.writer.wr)
            .map_err(|e| format!("reuniting the socket halves: {e}"))?;
        let std = stream.into_std()?;
        std.set_nonblocking(false)?;
        Ok(std)
    }
}

/// Encodes frames for a blocking std socket (see [`Conn::into_std`]).
pub fn encoder() -> StompCodec {
    codec()
}

impl Writer {
    /// Encodes `frame` into the write buffer.
    pub fn push(&mut self, frame: &Frame) {
        self.codec.encode(frame, &mut self.buf);
    }

    /// Bytes waiting in the write buffer.
    pub fn pending(&self) -> usize {
        self.buf.len()
    }

    /// Writes the buffer out; a write that makes no progress for 30 s is an error.
    pub async fn flush(&mut self) -> Result<(), Error> {
        let limit = Duration::from_secs(30);
        timeout(limit, self.wr.write_all(&self.buf))
            .await
            .map_err(|_| format!("socket write blocked for {limit:?} (broker not reading)"))??;
        self.buf.clear();
        Ok(())
    }

    /// Sends DISCONNECT (no receipt) and shuts the socket down, ignoring errors.
    pub async fn close(mut self) {
        self.push(&Frame::new(Command::Disconnect));
        let _ = self.flush().await;
        let _ = self.wr.shutdown().await;
    }
}

impl Reader {
    /// The next frame already read from the socket (heart-beats skipped), without waiting:
    /// `None` when the buffer holds no complete frame. Lets a consumer handle everything that
    /// arrived and then flush its ACKs in one write.
    pub fn next_buffered(&mut self) -> Result<Option<Frame>, Error> {
        loop {
            match self.codec.decode(&mut self.buf) {
                Ok(Some(Item::Frame(f))) => return Ok(Some(f)),
                Ok(Some(Item::HeartBeat)) => continue,
                Ok(None) => return Ok(None),
                Err(e) => return Err(format!("undecodable frame from the broker: {e}").into()),
            }
        }
    }

    /// The next frame (heart-beats skipped), waiting at most `limit` in total.
    pub async fn next_frame(&mut self, limit: Duration) -> Result<Frame, Error> {
        let deadline = Instant::now() + limit;
        loop {
            match self.codec.decode(&mut self.buf) {
                Ok(Some(Item::Frame(f))) => return Ok(f),
                Ok(Some(Item::HeartBeat)) => continue,
                Ok(None) => {}
                Err(e) => return Err(format!("undecodable frame from the broker: {e}").into()),
            }
            let n = tokio::time::timeout_at(deadline, self.rd.read_buf(&mut self.buf))
                .await
                .map_err(|_| Timeout(limit))??;
            if n == 0 {
                return Err("broker closed the connection".into());
            }
        }
    }
}

/// A wait that ran out (distinguished so callers can report stalls).
#[derive(Debug)]
pub struct Timeout(pub Duration);

impl std::fmt::Display for Timeout {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "nothing arrived within {:?}", self.0)
    }
}

impl std::error::Error for Timeout {}

/// A one-line rendering of a frame for error messages (ERROR frames show their message).
pub fn describe(f: &Frame) -> String {
    let mut s = f.command.as_str().to_owned();
    for (k, v) in f.headers.iter() {
        s.push(' ');
        s.push_str(&String::from_utf8_lossy(k));
        s.push(':');
        s.push_str(&String::from_utf8_lossy(v));
    }
    if f.command == Command::Error && !f.body.is_empty() {
        let body = String::from_utf8_lossy(&f.body);
        s.push_str(" | ");
        s.push_str(body.trim());
    }
    s
}

/// A persistent SEND of `body` to `dest`, with `content-length`, a `bench-seq` header and an
/// optional receipt.
pub fn send_frame(dest: &Bytes, body: &Bytes, seq: u64, receipt: Option<u64>) -> Frame {
    let mut f = Frame::new(Command::Send)
        .header("destination", dest.clone())
        .header("persistent", "true")
        .header("bench-seq", seq.to_string());
    if let Some(r) = receipt {
        f = f.header("receipt", r.to_string());
    }
    f.with_body(body.clone()).with_content_length()
}

/// A SEND of `body` to `dest` for the streaming workloads: `persistent` as given and the
/// producer's timestamp (ns since the run's base instant) in `bench-ts`.
pub fn timed_send_frame(dest: &Bytes, body: &Bytes, persistent: bool, ts_nanos: u64) -> Frame {
    Frame::new(Command::Send)
        .header("destination", dest.clone())
        .header("persistent", if persistent { "true" } else { "false" })
        .header("bench-ts", ts_nanos.to_string())
        .with_body(body.clone())
        .with_content_length()
}
