//! The STOMP connection task.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use broker_core::Broker;
use broker_stomp::{Outgoing, StompConfig, StompSession};
use bytes::BytesMut;
use stomp_codec::{Command, Frame, Item, Limits, StompCodec};
use tokio::io::AsyncWriteExt;
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::TcpStream;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::Instrument;

/// Deliveries turned into frames before one flush.
const DELIVERY_BATCH: usize = 64;

#[derive(Clone)]
pub(crate) struct Context {
    pub(crate) broker: Broker,
    pub(crate) session: Arc<StompConfig>,
    pub(crate) limits: Limits,
    /// How long one write may take before the client is dropped as a slow consumer.
    pub(crate) write_timeout: Duration,
    pub(crate) token: CancellationToken,
    pub(crate) tracker: TaskTracker,
}

fn now() -> Instant {
    tokio::time::Instant::now().into_std()
}

/// Tells a client over the connection limit why it is dropped.
pub(crate) async fn refuse(mut stream: TcpStream, write_timeout: Duration) {
    let mut frame = Frame::new(Command::Error)
        .header("message", "Connection limit reached")
        .with_body(&b"Connection limit reached"[..]);
    frame.set_content_length();
    let mut buf = BytesMut::new();
    StompCodec::new(Limits::default()).encode(&frame, &mut buf);
    let _ = tokio::time::timeout(write_timeout, stream.write_all(&buf)).await;
    let _ = stream.shutdown().await;
}

pub(crate) async fn serve(stream: TcpStream, peer: SocketAddr, ctx: Context) {
    let conn = ctx.broker.connect();
    // The span's conn_id is the core's connection id, which CONNECTED reports as `session`,
    // so a client's session can be found in the logs.
    let span =
        tracing::info_span!("conn", conn_id = conn.id().0, %peer, protocol = %"stomp", tls = false);
    run(stream, conn, ctx).instrument(span).await;
}

async fn flush(
    session: &mut StompSession,
    codec: &StompCodec,
    wr: &mut OwnedWriteHalf,
    buf: &mut BytesMut,
    write_timeout: Duration,
) -> std::io::Result<()> {
    while let Some(out) = session.poll_transmit() {
        if buf.capacity() == 0 {
            buf.reserve(IO_CHUNK);
        }
        match out {
            Outgoing::Frame(f) => codec.encode(&f, buf),
            Outgoing::HeartBeat => StompCodec::encode_heartbeat(buf),
        }
    }
    if buf.is_empty() {
        return Ok(());
    }
    match tokio::time::timeout(write_timeout, wr.write_all(buf)).await {
        Ok(r) => r?,
        Err(_) => {
            return Err(std::io::Error::new(
                std::io::ErrorKind::TimedOut,
                "client stopped reading (slow consumer)",
            ))
        }
    }
    // Released, not kept: an idle connection then holds no buffer (16 KB each made 1,000
    // idle connections cost 12 MB). What was encoded is a copy, so nothing else holds it;
    // one allocation per write syscall is noise beside the syscall.
    *buf = BytesMut::new();
    session.note_written(now());
    Ok(())
}

/// Buffer size for a read or a batch of writes.
const IO_CHUNK: usize = 8 * 1024;

/// Reads what the socket has into `buf`, allocating it only once there is something to
/// read. Cancel-safe: nothing is read until `readable` completes.
async fn read_some(rd: &mut OwnedReadHalf, buf: &mut BytesMut) -> std::io::Result<usize> {
    loop {
        rd.readable().await?;
        if buf.capacity() - buf.len() < IO_CHUNK / 4 {
            buf.reserve(IO_CHUNK);
        }
        match rd.try_read_buf(buf) {
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => continue,
            r => return r,
        }
    }
}

async fn run(stream: TcpStream, conn: broker_core::Connection, ctx: Context) {
    tracing::debug!("accepted");
    let (mut rd, mut wr) = stream.into_split();
    let mut codec = StompCodec::new(ctx.limits);
    let mut session = StompSession::new(conn, Arc::clone(&ctx.session), now());
    let mut rbuf = BytesMut::new();
    let mut wbuf = BytesMut::new();
    let mut versioned = false;
    let mut last_read = now();
    // One timer for heart-beats and the read buffer's idle release, re-armed only when the
    // next deadline comes earlier than the armed one (a timer that fires early re-arms).
    let timer = tokio::time::sleep(Duration::ZERO);
    tokio::pin!(timer);
    let mut armed: Option<Instant> = None;
    loop {
        if session.is_closing() {
            session.release().await;
        }
        if let Err(e) = flush(&mut session, &codec, &mut wr, &mut wbuf, ctx.write_timeout).await {
            tracing::debug!(error = %e, "write failed");
            break;
        }
        if session.is_closing() {
            break;
        }
        // The read buffer is kept while the client sends (consecutive frames share it, and a
        // queued message's body is a slice of it) and released after IDLE_RELEASE without a
        // read, so an idle connection holds no buffer.
        let release_at = (rbuf.capacity() > 0 && rbuf.is_empty()).then(|| last_read + IDLE_RELEASE);
        let deadline = match (session.poll_timeout(), release_at) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        if let Some(d) = deadline {
            if armed.is_none_or(|a| d < a) {
                timer.as_mut().reset(tokio::time::Instant::from_std(d));
                armed = Some(d);
            }
        }
        let connected = session.is_connected();
        tokio::select! {
            biased;
            () = ctx.token.cancelled() => {
                // Graceful: the frame in progress is done; tell the client and close.
                let mut frame = Frame::new(Command::Error)
                    .header("message", "Broker is shutting down")
                    .with_body(&b"Broker is shutting down"[..]);
                frame.set_content_length();
                codec.encode(&frame, &mut wbuf);
                let _ = flush(&mut session, &codec, &mut wr, &mut wbuf, ctx.write_timeout).await;
                break;
            }
            r = read_some(&mut rd, &mut rbuf) => match r {
                Ok(0) => {
                    tracing::debug!("peer closed");
                    break;
                }
                Ok(_) => {
                    last_read = now();
                    session.note_read(last_read);
                    loop {
                        match codec.decode(&mut rbuf) {
                            Ok(Some(Item::Frame(frame))) => {
                                session.handle_frame(frame, now()).await;
                                if !versioned {
                                    if let Some(v) = session.version() {
                                        codec.set_version(v);
                                        versioned = true;
                                    }
                                }
                                if session.is_closing() {
                                    break;
                                }
                            }
                            Ok(Some(Item::HeartBeat)) => {}
                            Ok(None) => break,
                            Err(e) => {
                                session.handle_codec_error(e);
                                break;
                            }
                        }
                    }
                }
                Err(e) => {
                    tracing::debug!(error = %e, "read failed");
                    break;
                }
            },
            d = session.next_delivery(), if connected => {
                if let Some(d) = d {
                    session.handle_delivery(d).await;
                    for _ in 1..DELIVERY_BATCH {
                        match session.try_next_delivery() {
                            Some(d) => session.handle_delivery(d).await,
                            None => break,
                        }
                    }
                }
            }
            () = &mut timer, if armed.is_some() => {
                armed = None;
                let now = now();
                if release_at.is_some_and(|t| now >= t) && rbuf.is_empty() {
                    rbuf = BytesMut::new();
                }
                session.handle_timeout(now);
            }
        }
    }
    let _ = wr.shutdown().await;
    session.finish().await;
    tracing::debug!("closed");
}

/// How long a connection keeps its read buffer without reading anything.
const IDLE_RELEASE: Duration = Duration::from_secs(1);
