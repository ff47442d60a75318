//! Bounding a delivery phase with many receiving tasks: they count what they receive into a
//! shared counter and stop when told. The watchdog tells them when, over the last stall
//! window, less than 1% of what the phase expects arrived or the rate fell below 2% of the
//! best one-second rate seen (a broker that stalled, or trickles on), or when the phase ran
//! past its limit.

use std::collections::VecDeque;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;
use tokio::time::Instant;

/// How often the watchdog looks at the counter.
pub const TICK: Duration = Duration::from_millis(250);

/// What a receiving task holds.
#[derive(Clone)]
pub struct Handle {
    received: Arc<AtomicU64>,
    stop: watch::Receiver<bool>,
}

impl Handle {
    pub fn add(&self, n: u64) {
        self.received.fetch_add(n, Ordering::Relaxed);
    }

    /// Resolves once the watchdog stopped the phase (never, if it does not).
    pub async fn stopped(&mut self) {
        while !*self.stop.borrow_and_update() {
            if self.stop.changed().await.is_err() {
                std::future::pending::<()>().await;
            }
        }
    }
}

pub struct Watchdog {
    received: Arc<AtomicU64>,
    stop: watch::Sender<bool>,
    stall: Duration,
    limit: Duration,
    start: Instant,
    /// The counter at the start of the current window, and when that was.
    window_count: u64,
    window_start: Instant,
    /// (when, counter) at the last ticks, one second's worth, for the best one-second rate.
    recent: VecDeque<(Instant, u64)>,
    best_rate: f64,
    /// Why the phase was stopped, once it was.
    pub reason: Option<String>,
}

impl Watchdog {
    /// A watchdog with a window of `stall` and a bound of `limit` after [`Watchdog::start`].
    pub fn new(stall: Duration, limit: Duration) -> Self {
        let now = Instant::now();
        Watchdog {
            received: Arc::new(AtomicU64::new(0)),
            stop: watch::channel(false).0,
            stall,
            limit,
            start: now,
            window_count: 0,
            window_start: now,
            recent: VecDeque::new(),
            best_rate: 0.0,
            reason: None,
        }
    }

    pub fn handle(&self) -> Handle {
        Handle {
            received: Arc::clone(&self.received),
            stop: self.stop.subscribe(),
        }
    }

    /// The clock of the phase starts now.
    pub fn start(&mut self) {
        self.start = Instant::now();
        self.window_start = self.start;
        self.window_count = self.received();
        self.recent.clear();
        self.recent.push_back((self.start, self.window_count));
    }

    pub fn received(&self) -> u64 {
        self.received.load(Ordering::Relaxed)
    }

    /// Looks at the counter (call it every [`TICK`]); stops the phase (returning true) when
    /// it stalled or trickles, or ran out of time. `total` is what completes the phase.
    pub fn check(&mut self, total: u64) -> bool {
        if self.reason.is_some() {
            return true;
        }
        let now = Instant::now();
        let n = self.received();
        self.recent.push_back((now, n));
        while self
            .recent
            .front()
            .is_some_and(|&(t, _)| now.duration_since(t) > Duration::from_secs(1))
        {
            self.recent.pop_front();
        }
        if let Some(&(t, c)) = self.recent.front() {
            let span = now.duration_since(t).as_secs_f64();
            if span >= 0.75 {
                self.best_rate = self.best_rate.max((n - c) as f64 / span);
            }
        }
        let mut reason = None;
        let window = now.duration_since(self.window_start);
        if window >= self.stall {
            let delta = n - self.window_count;
            let rate = delta as f64 / window.as_secs_f64();
            if delta < (total / 100).max(1) {
                reason = Some(format!(
                    "{n} of {total} received, only {delta} in the last {:?}",
                    self.stall
                ));
            } else if rate < self.best_rate * 0.02 {
                reason = Some(format!(
                    "{n} of {total} received, the last {:?} at {rate:.0}/s against a best \
                     one-second rate of {:.0}/s",
                    self.stall, self.best_rate
                ));
            }
            self.window_count = n;
            self.window_start = now;
        }
        if reason.is_none() && now.duration_since(self.start) >= self.limit {
            reason = Some(format!(
                "{n} of {total} received when the {:?} delivery limit ran out",
                self.limit
            ));
        }
        if let Some(r) = reason {
            self.reason = Some(r);
            let _ = self.stop.send(true);
            return true;
        }
        false
    }

    /// Stops the phase (for a reason other than the counter, such as a failed producer).
    pub fn stop(&mut self, reason: String) {
        self.reason.get_or_insert(reason);
        let _ = self.stop.send(true);
    }
}
