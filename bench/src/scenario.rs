//! Load scenarios against any STOMP broker at an address.

use std::net::SocketAddr;
use std::time::Duration;

use bytes::Bytes;
use stomp_codec::{Command, Frame};
use tokio::sync::watch;
use tokio::time::Instant;

use crate::client::{describe, send_frame, Conn, Reader, Timeout};
use crate::stats::Latency;
use crate::Error;

/// How long a synchronous sender waits for one RECEIPT before calling it lost.
pub const RECEIPT_TIMEOUT: Duration = Duration::from_secs(30);
/// How long a pipelined sender or a reader may see no progress at all.
pub const STALL_TIMEOUT: Duration = Duration::from_secs(60);

/// A body of `size` bytes: printable, no NUL.
pub fn body(size: usize) -> Bytes {
    Bytes::from(
        (0..size)
            .map(|i| b'a' + (i % 26) as u8)
            .collect::<Vec<u8>>(),
    )
}

#[derive(Debug, Clone, Copy)]
pub struct SendResult {
    pub producers: usize,
    pub messages: u64,
    pub wall: Duration,
    pub msgs_per_sec: f64,
    pub latency: Latency,
}

/// `producers` connections, each sending `per_producer` persistent messages of `size` bytes
/// to `queue`, one at a time: SEND with a receipt, wait for the RECEIPT, next. Connections
/// are opened before the clock starts; the clock stops when the last producer got its last
/// receipt.
pub async fn persistent_send(
    addr: SocketAddr,
    queue: &str,
    producers: usize,
    per_producer: u64,
    size: usize,
) -> Result<SendResult, Error> {
    let producers = producers.max(1);
    let dest = Bytes::from(queue.to_owned());
    let body = body(size);
    let mut conns = Vec::with_capacity(producers);
    for _ in 0..producers {
        conns.push(Conn::connect(addr).await?);
    }
    let start = Instant::now();
    let mut tasks = Vec::with_capacity(producers);
    for (p, conn) in conns.into_iter().enumerate() {
        let dest = dest.clone();
        let body = body.clone();
        tasks.push(tokio::spawn(async move {
            let Conn {
                mut reader,
                mut writer,
            } = conn;
            let mut samples = Vec::with_capacity(per_producer as usize);
            for seq in 0..per_producer {
                let t = Instant::now();
                writer.push(&send_frame(&dest, &body, seq, Some(seq)));
                writer.flush().await?;
                let f = match reader.next_frame(RECEIPT_TIMEOUT).await {
                    Ok(f) => f,
                    Err(e) if e.is::<Timeout>() => {
                        return Err(format!(
                            "producer {p}: no RECEIPT for message {seq} within {RECEIPT_TIMEOUT:?} (lost receipt or stall)"
                        )
                        .into())
                    }
                    Err(e) => return Err(format!("producer {p}, message {seq}: {e}").into()),
                };
                expect_receipt(&f, seq).map_err(|e| format!("producer {p}: {e}"))?;
                samples.push(t.elapsed());
            }
            writer.close().await;
            Ok::<_, Error>(samples)
        }));
    }
    let mut all = Vec::with_capacity(producers * per_producer as usize);
    let mut first_err: Option<Error> = None;
    for t in tasks {
        match t.await {
            Ok(Ok(s)) => all.extend(s),
            Ok(Err(e)) => {
                first_err.get_or_insert(e);
            }
            Err(e) => {
                first_err.get_or_insert_with(|| format!("producer task failed: {e}").into());
            }
        }
    }
    let wall = start.elapsed();
    if let Some(e) = first_err {
        return Err(e);
    }
    let messages = all.len() as u64;
    Ok(SendResult {
        producers,
        messages,
        wall,
        msgs_per_sec: messages as f64 / wall.as_secs_f64(),
        latency: Latency::of(all),
    })
}

fn expect_receipt(f: &Frame, id: u64) -> Result<(), Error> {
    match f.command {
        Command::Receipt => {
            let got = f.headers.get_str("receipt-id").unwrap_or("");
            if got == id.to_string() {
                Ok(())
            } else {
                Err(format!(
                    "expected RECEIPT {id}, got receipt-id {got:?} (receipts out of order or lost)"
                )
                .into())
            }
        }
        _ => Err(format!("expected RECEIPT {id}, got {}", describe(f)).into()),
    }
}

#[derive(Debug, Clone, Copy)]
pub struct FillResult {
    pub messages: u64,
    pub wall: Duration,
    pub msgs_per_sec: f64,
}

/// Progress shared by the fill's reader task.
#[derive(Debug, Clone, Default)]
struct Acked {
    receipts: u64,
    error: Option<String>,
}

/// One connection sends `count` persistent messages (`bench-seq` 0..count) to `queue`,
/// pipelined: a receipt only on every `receipt_every`-th message and on the last one. At most
/// `window` receipts may be outstanding (flow control: `window × receipt_every` messages in
/// flight). Returns when the last RECEIPT arrived.
pub async fn fill(
    addr: SocketAddr,
    queue: &str,
    count: u64,
    size: usize,
    receipt_every: u64,
    window: u64,
) -> Result<FillResult, Error> {
    fill_with_priorities(addr, queue, count, size, receipt_every, window, None).await
}

/// [`fill`], where message `bench-seq` i also carries `priority: priorities[i]` when
/// `priorities` is given (it must have `count` entries).
pub async fn fill_with_priorities(
    addr: SocketAddr,
    queue: &str,
    count: u64,
    size: usize,
    receipt_every: u64,
    window: u64,
    priorities: Option<&[u8]>,
) -> Result<FillResult, Error> {
    if let Some(p) = priorities {
        if (p.len() as u64) < count {
            return Err(format!("fill: {} priorities for {count} messages", p.len()).into());
        }
    }
    let dest = Bytes::from(queue.to_owned());
    let body = body(size);
    let conn = Conn::connect(addr).await?;
    send_pipelined(conn, count, receipt_every, window, |seq| {
        let mut frame = send_frame(&dest, &body, seq, None);
        if let Some(p) = priorities {
            frame = frame.header("priority", p[seq as usize].to_string());
        }
        frame
    })
    .await
    .map_err(|e| format!("fill: {e}").into())
}

/// Sends `count` frames on `conn`, frame i built by `make(i)`, pipelined: frame i gets
/// `receipt: i` when it is every `receipt_every`-th or the last. At most `window` receipts
/// may be outstanding (flow control: `window × receipt_every` frames in flight). Returns when
/// the last RECEIPT arrived (the clock starts at the call) and closes the connection.
pub async fn send_pipelined<F>(
    conn: Conn,
    count: u64,
    receipt_every: u64,
    window: u64,
    mut make: F,
) -> Result<FillResult, Error>
where
    F: FnMut(u64) -> Frame,
{
    let receipt_every = receipt_every.max(1);
    let window = window.max(1);
    let Conn { reader, mut writer } = conn;
    let expected: u64 = count.div_ceil(receipt_every);
    let (tx, mut rx) = watch::channel(Acked::default());
    let start = Instant::now();
    let reader_task = tokio::spawn(read_receipts(reader, count, receipt_every, tx));

    let mut sent_receipts = 0u64;
    for seq in 0..count {
        let wants_receipt = (seq + 1) % receipt_every == 0 || seq + 1 == count;
        if wants_receipt {
            // Flow control: wait until fewer than `window` receipts are outstanding.
            if sent_receipts - rx.borrow().receipts >= window {
                writer.flush().await?;
                let deadline = Instant::now() + STALL_TIMEOUT;
                loop {
                    let a = rx.borrow_and_update().clone();
                    if let Some(e) = a.error {
                        return Err(e.into());
                    }
                    if sent_receipts - a.receipts < window {
                        break;
                    }
                    match tokio::time::timeout_at(deadline, rx.changed()).await {
                        Ok(Ok(())) => {}
                        Ok(Err(_)) => break, // reader finished; its result is checked below
                        Err(_) => {
                            return Err(format!(
                                "no RECEIPT for {STALL_TIMEOUT:?} after {seq} sends ({} of {sent_receipts} receipts back)",
                                a.receipts
                            )
                            .into())
                        }
                    }
                }
            }
            sent_receipts += 1;
        }
        let mut frame = make(seq);
        if wants_receipt {
            frame = frame.header("receipt", seq.to_string());
        }
        writer.push(&frame);
        if writer.pending() >= 64 * 1024 {
            writer.flush().await?;
        }
    }
    writer.flush().await?;
    let deadline = Instant::now() + STALL_TIMEOUT + STALL_TIMEOUT;
    let done = tokio::time::timeout_at(deadline, reader_task)
        .await
        .map_err(|_| {
            format!(
                "the last RECEIPT did not arrive within {:?}",
                STALL_TIMEOUT * 2
            )
        })?
        .map_err(|e| format!("reader task failed: {e}"))?;
    done?;
    let wall = start.elapsed();
    writer.close().await;
    debug_assert_eq!(sent_receipts, expected);
    Ok(FillResult {
        messages: count,
        wall,
        msgs_per_sec: count as f64 / wall.as_secs_f64(),
    })
}

/// Reads RECEIPTs for a fill, checking that they come back in order, until the last one.
async fn read_receipts(
    mut reader: Reader,
    count: u64,
    every: u64,
    tx: watch::Sender<Acked>,
) -> Result<(), Error> {
    let expected = count.div_ceil(every);
    let mut got = 0u64;
    while got < expected {
        let next_id = ((got + 1) * every - 1).min(count - 1);
        let r = match reader.next_frame(STALL_TIMEOUT).await {
            Ok(f) => expect_receipt(&f, next_id),
            Err(e) => Err(e),
        };
        if let Err(e) = r {
            let msg = format!("after {got} of {expected} receipts: {e}");
            tx.send_modify(|a| a.error = Some(msg.clone()));
            return Err(msg.into());
        }
        got += 1;
        tx.send_modify(|a| a.receipts = got);
    }
    Ok(())
}

/// A subscription that has received its first message.
pub struct Subscribed {
    pub conn: Conn,
    /// When the first MESSAGE was decoded.
    pub first_at: Instant,
    /// Its `bench-seq` header, if any.
    pub first_seq: Option<u64>,
}

/// Connects (retrying refused connects until `deadline`), subscribes to `queue` with
/// `ack:auto` and waits for the first MESSAGE until `deadline`.
pub async fn subscribe_first(
    addr: SocketAddr,
    queue: &str,
    deadline: Instant,
) -> Result<Subscribed, Error> {
    let mut conn = Conn::connect_retrying(addr, deadline).await?;
    conn.writer.push(
        &Frame::new(Command::Subscribe)
            .header("destination", queue.to_owned())
            .header("id", "bench")
            .header("ack", "auto"),
    );
    conn.writer.flush().await?;
    let left = deadline.saturating_duration_since(Instant::now());
    let f = match conn.reader.next_frame(left).await {
        Ok(f) => f,
        Err(e) if e.is::<Timeout>() => {
            return Err(format!("no MESSAGE on {queue} within the deadline (backlog lost?)").into())
        }
        Err(e) => return Err(e),
    };
    if f.command != Command::Message {
        return Err(format!("expected MESSAGE, got {}", describe(&f)).into());
    }
    Ok(Subscribed {
        first_at: Instant::now(),
        first_seq: seq_of(&f),
        conn,
    })
}

fn seq_of(f: &Frame) -> Option<u64> {
    f.headers.get_str("bench-seq")?.parse().ok()
}

#[derive(Debug, Clone)]
pub struct DrainResult {
    /// Messages received, the first one included.
    pub received: u64,
    /// Received after the first, ÷ the time that took.
    pub msgs_per_sec: f64,
    /// The first message whose `bench-seq` was not the previous one + 1.
    pub first_disorder: Option<String>,
}

/// Takes `count` messages in total from a [`Subscribed`] (its first included), checking that
/// `bench-seq` runs from `from` without gaps. Stops at the first stall of `STALL_TIMEOUT`.
pub async fn drain(sub: Subscribed, count: u64, from: u64) -> Result<DrainResult, Error> {
    let Subscribed {
        conn,
        first_at,
        first_seq,
    } = sub;
    let Conn { mut reader, writer } = conn;
    let mut disorder = match first_seq {
        Some(s) if s == from => None,
        other => Some(format!(
            "first message has bench-seq {other:?}, expected {from}"
        )),
    };
    let mut next = first_seq.unwrap_or(from) + 1;
    let mut received = 1u64;
    while received < count {
        let f = match reader.next_frame(STALL_TIMEOUT).await {
            Ok(f) => f,
            Err(e) if e.is::<Timeout>() => {
                return Err(format!(
                    "drain stalled after {received} of {count} messages ({STALL_TIMEOUT:?} without one)"
                )
                .into())
            }
            Err(e) => return Err(format!("drain, after {received} messages: {e}").into()),
        };
        if f.command != Command::Message {
            return Err(format!("drain, after {received} messages: {}", describe(&f)).into());
        }
        let s = seq_of(&f);
        if disorder.is_none() && s != Some(next) {
            disorder = Some(format!(
                "message {received} has bench-seq {s:?}, expected {next}"
            ));
        }
        next = s.unwrap_or(next) + 1;
        received += 1;
    }
    let secs = first_at.elapsed().as_secs_f64();
    writer.close().await;
    Ok(DrainResult {
        received,
        msgs_per_sec: if received > 1 {
            (received - 1) as f64 / secs
        } else {
            0.0
        },
        first_disorder: disorder,
    })
}
