//! The storage thread: one OS thread applies every store write, grouping the batches of all
//! destinations and connections that arrive together into one atomic (and, per the backend's
//! sync policy, one synced) write.
//!
//! Callers never block: they hand over a batch with an optional reply and go on; the reply
//! fires once the group holding that batch is durable. This is what lets a persistent SEND's
//! RECEIPT wait for the disk without a tokio worker ever waiting on it.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;

use broker_store::{Batch, Store};
use tokio::sync::{mpsc, oneshot};

use crate::CoreError;

/// Most operations merged into one group write.
const GROUP_MAX_OPS: usize = 10_000;
/// Most body bytes merged into one group write.
const GROUP_MAX_BYTES: usize = 8 * 1024 * 1024;

/// Where the result of a write goes.
pub(crate) type Durable = oneshot::Sender<Result<(), CoreError>>;

#[derive(Debug)]
pub(crate) struct WriteRequest {
    pub(crate) batch: Batch,
    pub(crate) replies: Vec<Durable>,
}

/// Handle to the storage thread. Cheap to clone.
#[derive(Debug, Clone)]
pub(crate) struct StoreWriter {
    tx: mpsc::Sender<WriteRequest>,
    /// The store's size as last measured by the storage thread (after each group write).
    size: Arc<AtomicU64>,
}

impl StoreWriter {
    /// Starts the thread; it ends when every handle is dropped, after finishing what it has.
    pub(crate) fn start(
        store: Arc<dyn Store>,
        capacity: usize,
    ) -> (Self, std::io::Result<JoinHandle<()>>) {
        let (tx, rx) = mpsc::channel(capacity.max(1));
        let size = Arc::new(AtomicU64::new(store.approximate_size().unwrap_or(0)));
        let measured = Arc::clone(&size);
        let handle = std::thread::Builder::new()
            .name("ferromq-store".into())
            .spawn(move || run(store, rx, &measured));
        (Self { tx, size }, handle)
    }

    /// The store's approximate size in bytes, as of the last group write.
    pub(crate) fn store_size(&self) -> u64 {
        self.size.load(Ordering::Relaxed)
    }

    /// Queues `batch`; each reply fires once it is durable (or failed). Waits only for room
    /// in the bounded queue, which is the storage backpressure.
    pub(crate) async fn write(&self, batch: Batch, replies: Vec<Durable>) {
        if batch.is_empty() {
            for r in replies {
                let _ = r.send(Ok(()));
            }
            return;
        }
        if let Err(mpsc::error::SendError(req)) =
            self.tx.send(WriteRequest { batch, replies }).await
        {
            for r in req.replies {
                let _ = r.send(Err(CoreError::ShuttingDown));
            }
        }
    }

    /// Returns once every write queued before it has been applied.
    pub(crate) async fn barrier(&self) -> Result<(), CoreError> {
        let (tx, rx) = oneshot::channel();
        let req = WriteRequest {
            batch: Batch::new(),
            replies: vec![tx],
        };
        self.tx
            .send(req)
            .await
            .map_err(|_| CoreError::ShuttingDown)?;
        rx.await.map_err(|_| CoreError::ShuttingDown)?
    }
}

fn body_bytes(batch: &Batch) -> usize {
    batch
        .ops
        .iter()
        .map(|op| match op {
            broker_store::Op::PutMessage(m) => m.body.len() + 64,
            _ => 32,
        })
        .sum()
}

/// How long the storage thread keeps looking for the next request before it sleeps.
const LINGER: std::time::Duration = std::time::Duration::from_micros(200);

/// The next request: polled (yielding the CPU between polls) for up to [`LINGER`] after a
/// write, then waited for. A producer that waits for each RECEIPT sends its next message
/// about one round trip after the last reply, and parking the thread in between and waking
/// it through a futex added its own latency (measured on this 2-core VM, 1 producer with a
/// receipt per message: median 2,355 -> 2,700 msgs/s over 3 alternating runs).
fn next_request(
    rx: &mut mpsc::Receiver<WriteRequest>,
    linger: std::time::Duration,
) -> Option<WriteRequest> {
    let start = std::time::Instant::now();
    while start.elapsed() < linger {
        match rx.try_recv() {
            Ok(req) => return Some(req),
            Err(mpsc::error::TryRecvError::Disconnected) => return None,
            Err(mpsc::error::TryRecvError::Empty) => std::thread::yield_now(),
        }
    }
    rx.blocking_recv()
}

fn run(store: Arc<dyn Store>, mut rx: mpsc::Receiver<WriteRequest>, size: &AtomicU64) {
    // Linger only after a write of one request (one producer waiting on each write): with
    // several, sleeping lets the next group grow while the thread wakes, and lingering
    // would write the first arrival alone (measured: 16 producers 10% slower).
    let mut wait = LINGER;
    while let Some(first) = next_request(&mut rx, wait) {
        let done = write_group(&*store, &mut rx, first);
        wait = if done.len() == 1 {
            LINGER
        } else {
            std::time::Duration::ZERO
        };
        // Measure before answering, so a producer woken by a reply sees the new size (also
        // the space a confirmed acknowledgement freed).
        if let Ok(n) = store.approximate_size() {
            size.store(n, Ordering::Relaxed);
        }
        for (replies, result) in done {
            finish(replies, result);
        }
    }
}

/// Who waits for a write, and how it went.
type Outcome = (Vec<Durable>, Result<(), broker_store::StoreError>);

/// Applies `first` and whatever else is queued (up to the group bounds) as one write.
fn write_group(
    store: &dyn Store,
    rx: &mut mpsc::Receiver<WriteRequest>,
    first: WriteRequest,
) -> Vec<Outcome> {
    let mut done = Vec::new();
    let mut ops = first.batch.ops.len();
    let mut bytes = body_bytes(&first.batch);
    let mut group = vec![first];
    while ops < GROUP_MAX_OPS && bytes < GROUP_MAX_BYTES {
        match rx.try_recv() {
            Ok(req) => {
                ops += req.batch.ops.len();
                bytes += body_bytes(&req.batch);
                group.push(req);
            }
            Err(_) => break,
        }
    }
    if group.len() == 1 {
        for req in group {
            let result = if req.batch.is_empty() {
                Ok(())
            } else {
                store.apply(&req.batch)
            };
            done.push((req.replies, result));
        }
        return done;
    }
    // Move (not copy) every batch's ops into one, remembering where each began so a
    // failed group can be split up again.
    let mut merged = Batch {
        ops: Vec::with_capacity(ops),
    };
    let mut parts = Vec::with_capacity(group.len());
    for req in group {
        parts.push((merged.ops.len(), req.replies));
        merged.ops.extend(req.batch.ops);
    }
    let result = if merged.is_empty() {
        Ok(())
    } else {
        store.apply(&merged)
    };
    match result {
        Ok(()) => {
            for (_, replies) in parts {
                done.push((replies, Ok(())));
            }
        }
        // One bad batch must not fail its neighbours: retry each on its own.
        Err(_) => {
            let mut split = Vec::with_capacity(parts.len());
            for (start, replies) in parts.into_iter().rev() {
                split.push((merged.ops.split_off(start), replies));
            }
            // Re-apply in the original order: a later batch may delete what an earlier
            // one put.
            for (ops, replies) in split.into_iter().rev() {
                done.push((replies, store.apply(&Batch { ops })));
            }
        }
    }
    done
}

fn finish(replies: Vec<Durable>, result: Result<(), broker_store::StoreError>) {
    if let Err(e) = &result {
        tracing::error!(error = %e, "store write failed");
    }
    for r in replies {
        let _ = r.send(
            result
                .as_ref()
                .map(|_| ())
                .map_err(|e| CoreError::Store(e.to_string())),
        );
    }
}
