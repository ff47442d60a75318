//! The background WAL syncer behind [`SyncPolicy::Periodic`](crate::SyncPolicy::Periodic).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::{Arc, OnceLock};
use std::thread::JoinHandle;
use std::time::Duration;

use broker_store::StoreError;
use rocksdb::DB;

/// State the syncer thread shares with the store.
#[derive(Debug, Default)]
pub(crate) struct SyncState {
    /// The first failed sync. It stays set: after a failed fsync the kernel may have dropped
    /// the dirty pages, so later syncs succeeding proves nothing about earlier writes
    /// ("fsyncgate"); the store refuses further writes instead.
    pub(crate) error: OnceLock<String>,
    /// Syncs completed, for tests and diagnostics.
    pub(crate) syncs: AtomicU64,
}

/// Owns the thread that calls `flush_wal(true)` every interval. Dropping it wakes the thread
/// at once, which syncs one last time and exits; the drop waits for that.
#[derive(Debug)]
pub(crate) struct WalSyncer {
    /// Dropping the sender is the stop signal.
    stop: Option<mpsc::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl WalSyncer {
    pub(crate) fn start(
        db: Arc<DB>,
        interval: Duration,
        state: Arc<SyncState>,
    ) -> Result<Self, StoreError> {
        let (stop, stopped) = mpsc::channel::<()>();
        let thread = std::thread::Builder::new()
            .name("rocksdb-wal-sync".to_owned())
            .spawn(move || loop {
                let last = !matches!(
                    stopped.recv_timeout(interval),
                    Err(RecvTimeoutError::Timeout)
                );
                match db.flush_wal(true) {
                    Ok(()) => {
                        state.syncs.fetch_add(1, Ordering::Relaxed);
                    }
                    Err(e) => {
                        let _ = state.error.set(format!("background WAL sync failed: {e}"));
                        return;
                    }
                }
                if last {
                    return;
                }
            })?;
        Ok(Self {
            stop: Some(stop),
            thread: Some(thread),
        })
    }
}

impl Drop for WalSyncer {
    fn drop(&mut self) {
        drop(self.stop.take());
        if let Some(thread) = self.thread.take() {
            // The thread cannot panic short of a bug in rocksdb's bindings; there is nothing
            // useful to do with one in a destructor.
            let _ = thread.join();
        }
    }
}
