//! Priority drain: a persistent backlog with mixed priorities, stored while no consumer is
//! subscribed, then drained by one consumer. Strict priority dispatch means the consumer sees
//! non-increasing priorities, and FIFO order (`bench-seq`) within each priority.

use std::net::SocketAddr;
use std::time::Duration;

use bytes::Bytes;
use stomp_codec::{Command, Frame};
use tokio::time::Instant;

use crate::client::{describe, Conn, Timeout};
use crate::scenario::{self, FillResult, STALL_TIMEOUT};
use crate::Error;

/// JMS priorities run 0-9.
pub const LEVELS: usize = 10;

/// The priority of message `i` for `i` in 0..count: a fixed-seed pseudo-random sequence
/// (SplitMix64), so every broker and every run gets the same backlog.
pub fn priorities(count: u64, seed: u64) -> Vec<u8> {
    let mut state = seed;
    (0..count)
        .map(|_| {
            state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
            let mut z = state;
            z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
            z ^= z >> 31;
            (z % LEVELS as u64) as u8
        })
        .collect()
}

#[derive(Debug, Clone)]
pub struct PriorityResult {
    pub fill: FillResult,
    /// SUBSCRIBE written → first MESSAGE read.
    pub first_message: Duration,
    /// SUBSCRIBE written → last MESSAGE read (every message acknowledged on arrival).
    pub drain_wall: Duration,
    /// Messages ÷ `drain_wall`.
    pub msgs_per_sec: f64,
    pub order: OrderCheck,
}

/// What the consumer saw, message by message.
#[derive(Debug, Clone, Default)]
pub struct OrderCheck {
    pub received: u64,
    /// Messages whose priority is higher than the previous message's.
    pub inversions: u64,
    /// Messages whose `bench-seq` is lower than an earlier message's of the same priority.
    pub fifo_violations: u64,
    /// `bench-seq` values seen more than once (a redelivery shows up here).
    pub duplicates: u64,
    /// MESSAGEs carrying `redelivered:true`.
    pub redelivered: u64,
    /// MESSAGEs whose `priority` header differs from the priority they were sent with.
    pub priority_mismatches: u64,
    /// The first inversion and the first FIFO violation, described.
    pub first_inversion: Option<String>,
    pub first_fifo_violation: Option<String>,
    last_priority: Option<u8>,
    last_seq: [Option<u64>; LEVELS],
    seen: Vec<bool>,
}

impl OrderCheck {
    fn new(count: u64) -> Self {
        OrderCheck {
            seen: vec![false; count as usize],
            ..OrderCheck::default()
        }
    }

    /// Records one delivery of `bench-seq` `seq`, sent with `sent` priority.
    fn record(&mut self, seq: u64, sent: u8, header: Option<u8>, redelivered: bool) {
        let n = self.received;
        self.received += 1;
        if redelivered {
            self.redelivered += 1;
        }
        if header != Some(sent) {
            self.priority_mismatches += 1;
        }
        match self.seen.get_mut(seq as usize) {
            Some(s) if *s => self.duplicates += 1,
            Some(s) => *s = true,
            None => {}
        }
        // The priority the message was sent with is the truth; the header is only cross-checked,
        // so a broker that rewrites it cannot hide an inversion.
        if let Some(prev) = self.last_priority {
            if sent > prev {
                self.inversions += 1;
                self.first_inversion.get_or_insert_with(|| {
                    format!("message {n} (bench-seq {seq}) has priority {sent} after {prev}")
                });
            }
        }
        self.last_priority = Some(sent);
        let last = &mut self.last_seq[usize::from(sent)];
        if let Some(l) = *last {
            if seq < l {
                self.fifo_violations += 1;
                self.first_fifo_violation.get_or_insert_with(|| {
                    format!("message {n}: priority {sent} bench-seq {seq} after bench-seq {l}")
                });
            }
        }
        *last = Some(last.map_or(seq, |l| l.max(seq)));
    }

    /// Sent messages never received.
    pub fn missing(&self) -> u64 {
        self.seen.iter().filter(|s| !**s).count() as u64
    }
}

/// Fills `queue` with `prios.len()` persistent messages of `size` bytes (pipelined, a receipt
/// every 1000th and on the last, so the backlog is in the broker before anyone subscribes),
/// then one consumer with `ack:client-individual` and `activemq.prefetchSize:prefetch`
/// subscribes and takes them all, acknowledging each on arrival.
pub async fn run(
    addr: SocketAddr,
    queue: &str,
    prios: &[u8],
    size: usize,
    prefetch: u32,
) -> Result<PriorityResult, Error> {
    let count = prios.len() as u64;
    let fill =
        scenario::fill_with_priorities(addr, queue, count, size, 1000, 20, Some(prios)).await?;

    let Conn {
        mut reader,
        mut writer,
    } = Conn::connect(addr).await?;
    writer.push(
        &Frame::new(Command::Subscribe)
            .header("destination", queue.to_owned())
            .header("id", "bench")
            .header("ack", "client-individual")
            .header("activemq.prefetchSize", prefetch.to_string()),
    );
    let start = Instant::now();
    writer.flush().await?;
    let mut order = OrderCheck::new(count);
    let mut first_message = None;
    while order.received < count {
        let f = match reader.next_frame(STALL_TIMEOUT).await {
            Ok(f) => f,
            Err(e) if e.is::<Timeout>() => {
                return Err(format!(
                    "drain stalled after {} of {count} messages ({STALL_TIMEOUT:?} without one)",
                    order.received
                )
                .into())
            }
            Err(e) => return Err(format!("drain, after {} messages: {e}", order.received).into()),
        };
        if f.command != Command::Message {
            return Err(
                format!("drain, after {} messages: {}", order.received, describe(&f)).into(),
            );
        }
        first_message.get_or_insert_with(|| start.elapsed());
        // Acknowledge first: with prefetch 1 the broker sends nothing more until it has the ACK.
        let ack = f
            .headers
            .get_str("ack")
            .ok_or_else(|| format!("MESSAGE without an ack header: {}", describe(&f)))?;
        writer.push(&Frame::new(Command::Ack).header("id", Bytes::from(ack.to_owned())));
        writer.flush().await?;
        let seq: u64 = f
            .headers
            .get_str("bench-seq")
            .and_then(|s| s.parse().ok())
            .filter(|&s| s < count)
            .ok_or_else(|| format!("MESSAGE without a valid bench-seq: {}", describe(&f)))?;
        let header = f.headers.get_str("priority").and_then(|p| p.parse().ok());
        let redelivered = f.headers.get_str("redelivered") == Some("true");
        order.record(seq, prios[seq as usize], header, redelivered);
    }
    let drain_wall = start.elapsed();
    writer.close().await;
    Ok(PriorityResult {
        fill,
        first_message: first_message.unwrap_or_default(),
        drain_wall,
        msgs_per_sec: count as f64 / drain_wall.as_secs_f64(),
        order,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn priorities_are_fixed_and_cover_every_level() {
        let a = priorities(10_000, 7);
        assert_eq!(a, priorities(10_000, 7));
        assert_ne!(a, priorities(10_000, 8));
        let mut counts = [0u32; LEVELS];
        for &p in &a {
            counts[usize::from(p)] += 1;
        }
        // Roughly uniform: each level near 1,000 of 10,000.
        assert!(
            counts.iter().all(|&c| (800..1200).contains(&c)),
            "{counts:?}"
        );
    }

    fn check(deliveries: &[(u64, u8)]) -> OrderCheck {
        let mut c = OrderCheck::new(deliveries.len() as u64);
        for &(seq, p) in deliveries {
            c.record(seq, p, Some(p), false);
        }
        c
    }

    #[test]
    fn strict_priority_with_fifo_has_no_inversions() {
        // sent: seq 0 p3, 1 p9, 2 p3, 3 p9 → delivered 1, 3, 0, 2
        let c = check(&[(1, 9), (3, 9), (0, 3), (2, 3)]);
        assert_eq!((c.inversions, c.fifo_violations, c.duplicates), (0, 0, 0));
        assert_eq!(c.missing(), 0);
    }

    #[test]
    fn fifo_order_counts_every_priority_rise() {
        let c = check(&[(0, 3), (1, 9), (2, 3), (3, 9)]);
        assert_eq!(c.inversions, 2);
        assert_eq!(c.fifo_violations, 0);
        assert!(c.first_inversion.unwrap().contains("priority 9 after 3"));
    }

    #[test]
    fn reordering_within_a_priority_is_a_fifo_violation() {
        let c = check(&[(3, 9), (1, 9), (2, 3), (0, 3)]);
        assert_eq!(c.inversions, 0);
        assert_eq!(c.fifo_violations, 2);
    }

    #[test]
    fn duplicates_missing_and_header_mismatches() {
        let mut c = OrderCheck::new(3);
        c.record(0, 5, Some(5), false);
        c.record(0, 5, Some(4), true);
        assert_eq!(c.duplicates, 1);
        assert_eq!(c.redelivered, 1);
        assert_eq!(c.priority_mismatches, 1);
        assert_eq!(c.missing(), 2);
    }
}
