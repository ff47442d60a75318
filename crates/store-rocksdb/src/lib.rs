//! RocksDB storage backend for ferromq: [`RocksStore`] implements [`broker_store::Store`].
//!
//! This crate owns the on-disk layout of a ferromq store: the column families (`cf.rs`), the
//! key encoding (`keys.rs`), the value encoding (`record.rs`) and the durability policy
//! ([`SyncPolicy`]). The broker sees none of it; it talks to the `Store` trait only.
//!
//! Invariants worth naming:
//! - This is the only crate that depends on `rocksdb` (for `cargo deny`:
//!   `wrappers = ["store-rocksdb"]`).
//! - Column family names are spelled only in `cf.rs`; every key is built and decoded only in
//!   `keys.rs`; every value only in `record.rs`, whose decoders return
//!   [`StoreError::Corrupt`] for any malformed input and never panic.
//! - Every [`Store::apply`] is validated in full first, then written as exactly one RocksDB
//!   `WriteBatch`, so a batch is atomic on disk and to readers, also across a crash.
//! - One writer at a time: `apply` reads (does this key hold a message? what is the queue's
//!   length?) before it writes, so it holds a writer lock from the first read to the end of the
//!   write. Readers take no lock; each read is one RocksDB get or one iterator, which sees a
//!   consistent snapshot. The architecture's dedicated storage thread group-commits many
//!   callers' ops into one `apply`, so the lock costs nothing there.
//! - `load_queue` is one bounded forward range scan: within a queue, key order is dispatch
//!   order (priority 9..0, then seq).
//! - A queue's message count lives in its own column family, written in the same batch as the
//!   messages it counts, so `queue_len` is one point read and never touches a message.
//!
//! The library linked is Debian's `librocksdb` (see `.cargo/config.toml`); compression
//! (LZ4 here) comes from that library's own dependencies, not from crate features.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use broker_store::{Batch, DestinationRecord, MessageRecord, Op, Store, StoreError, MAX_PRIORITY};
use bytes::Bytes;
use rocksdb::{
    BlockBasedOptions, ColumnFamily, ColumnFamilyDescriptor, DBCompressionType, IteratorMode,
    Options, ReadOptions, WriteOptions, DB,
};

mod batch;
mod cf;
mod keys;
mod record;
mod sync;
mod varint;

use batch::RocksBatch;
use sync::{SyncState, WalSyncer};

/// Version of the on-disk layout this build reads and writes, kept in [`cf::CF_META`].
const FORMAT_VERSION: u32 = 1;

/// When a write reaches the disk: KahaDB's `journalDiskSyncStrategy`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SyncPolicy {
    /// `always`: every [`Store::apply`] syncs its batch to disk (`fsync` of the write-ahead
    /// log) before it returns. Nothing acknowledged is ever lost. Costs one disk sync per
    /// `apply` (roughly 130 µs on an idle SSD), so batch ops.
    #[default]
    Always,
    /// `periodic`: `apply` returns once its batch is in the write-ahead log's OS buffer, and a
    /// background thread syncs the log every `interval`.
    ///
    /// Loss window: if the *process* dies, nothing is lost (the kernel still holds the data).
    /// If the *machine* dies (power loss, kernel crash), batches applied during the last
    /// `interval` (plus the duration of a sync in progress) may be lost; batches are never
    /// torn, and the store reopens consistent as of some earlier batch. Dropping the store
    /// syncs once more. KahaDB's default interval is 1 s.
    Periodic {
        /// Time between two syncs; must be above zero.
        interval: Duration,
    },
}

/// How [`RocksStore::open`] opens a store.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RocksOptions {
    /// Durability of each [`Store::apply`].
    pub sync: SyncPolicy,
}

/// A [`Store`] in a RocksDB database directory.
///
/// Safe to share between threads. Dropping it stops the background syncer (if any) after a
/// final sync, then closes the database.
pub struct RocksStore {
    db: Arc<DB>,
    write_opts: WriteOptions,
    /// Held from the first read of an `apply` to the end of its write; see the crate docs.
    writer: Mutex<()>,
    sync_state: Arc<SyncState>,
    /// Stops and joins the syncer thread when dropped; the thread holds its own `Arc<DB>`, so
    /// the database closes only after it exits.
    _syncer: Option<WalSyncer>,
    path: PathBuf,
    sync: SyncPolicy,
}

impl fmt::Debug for RocksStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RocksStore")
            .field("path", &self.path)
            .field("sync", &self.sync)
            .finish_non_exhaustive()
    }
}

impl RocksStore {
    /// Opens the store in directory `path`, creating the directory, the database and any
    /// missing column family. Fails if the database was written in another format version.
    pub fn open(path: &Path, opts: RocksOptions) -> Result<Self, StoreError> {
        if let SyncPolicy::Periodic { interval } = opts.sync {
            if interval.is_zero() {
                return Err(StoreError::Backend(
                    "SyncPolicy::Periodic needs an interval above zero".to_owned(),
                ));
            }
        }
        std::fs::create_dir_all(path)?;
        let descriptors = cf::ALL_CFS
            .iter()
            .map(|&name| ColumnFamilyDescriptor::new(name, cf_options(name)));
        let db = DB::open_cf_descriptors(&db_options(), path, descriptors)
            .map_err(backend("open database"))?;
        check_format_version(&db)?;
        let db = Arc::new(db);

        let mut write_opts = WriteOptions::default();
        let sync_state = Arc::new(SyncState::default());
        let syncer = match opts.sync {
            SyncPolicy::Always => {
                write_opts.set_sync(true);
                None
            }
            SyncPolicy::Periodic { interval } => {
                write_opts.set_sync(false);
                Some(WalSyncer::start(
                    Arc::clone(&db),
                    interval,
                    Arc::clone(&sync_state),
                )?)
            }
        };
        Ok(Self {
            db,
            write_opts,
            writer: Mutex::new(()),
            sync_state,
            _syncer: syncer,
            path: path.to_owned(),
            sync: opts.sync,
        })
    }

    /// The database directory.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn cf(&self, name: &str) -> Result<&ColumnFamily, StoreError> {
        cf_handle(&self.db, name)
    }
}

impl Store for RocksStore {
    fn apply(&self, batch: Batch) -> Result<(), StoreError> {
        validate(&batch)?;
        if let Some(e) = self.sync_state.error.get() {
            return Err(StoreError::Backend(e.clone()));
        }
        if batch.is_empty() {
            return Ok(());
        }
        // The guarded data is `()`: a panic while holding the lock cannot leave anything
        // half-done in memory, and the database only ever sees whole batches.
        let _writer = self.writer.lock().unwrap_or_else(PoisonError::into_inner);
        let mut rocks_batch = RocksBatch::new(&self.db)?;
        for op in batch.ops {
            rocks_batch.push(op)?;
        }
        self.db
            .write_opt(rocks_batch.finish(), &self.write_opts)
            .map_err(backend("write batch"))
    }

    fn destinations(&self) -> Result<Vec<DestinationRecord>, StoreError> {
        let mut out = Vec::new();
        for item in self
            .db
            .iterator_cf(self.cf(cf::CF_DESTINATIONS)?, IteratorMode::Start)
        {
            let (key, value) = item.map_err(backend("read destinations"))?;
            let name = keys::decode_destination_key(&key)?;
            out.push(record::decode_destination(name, &value)?);
        }
        Ok(out)
    }

    fn load_queue(
        &self,
        queue: &str,
        after: Option<(u8, u64)>,
        limit: usize,
    ) -> Result<Vec<MessageRecord>, StoreError> {
        let lower = match after {
            Some((priority, seq)) => keys::after_position(queue, priority, seq),
            None => keys::queue_start(queue),
        };
        let upper = keys::queue_end(queue);
        if limit == 0 || lower >= upper {
            return Ok(Vec::new());
        }
        let mut read_opts = ReadOptions::default();
        read_opts.set_iterate_lower_bound(lower.clone());
        read_opts.set_iterate_upper_bound(upper);
        let mut iter = self
            .db
            .raw_iterator_cf_opt(self.cf(cf::CF_MESSAGES)?, read_opts);
        iter.seek(&lower);

        let mut out = Vec::with_capacity(limit.min(1024));
        while out.len() < limit {
            let Some((key, value)) = iter.item() else {
                break;
            };
            let key = keys::decode_message_key(key)?;
            if key.queue != queue.as_bytes() || key.priority > MAX_PRIORITY {
                return Err(StoreError::Corrupt {
                    what: "message key",
                    detail: format!(
                        "scan of {queue:?} met a key of queue {:?} with priority {}",
                        String::from_utf8_lossy(key.queue),
                        key.priority
                    ),
                });
            }
            out.push(record::decode_message(
                queue.to_owned(),
                key.priority,
                key.seq,
                Bytes::copy_from_slice(value),
            )?);
            iter.next();
        }
        iter.status().map_err(backend("read queue"))?;
        Ok(out)
    }

    fn queue_len(&self, queue: &str) -> Result<u64, StoreError> {
        let value = self
            .db
            .get_pinned_cf(self.cf(cf::CF_QUEUE_LENS)?, keys::queue_len_key(queue))
            .map_err(backend("read queue length"))?;
        value.map_or(Ok(0), |v| record::decode_queue_len(&v))
    }
}

/// Rejects a batch MemStore would reject, before anything is read or written.
fn validate(batch: &Batch) -> Result<(), StoreError> {
    for op in &batch.ops {
        if let Op::PutMessage(message) = op {
            if message.priority > MAX_PRIORITY {
                return Err(StoreError::InvalidPriority {
                    queue: message.queue.clone(),
                    seq: message.seq,
                    priority: message.priority,
                });
            }
        }
    }
    Ok(())
}

/// Maps a RocksDB error to [`StoreError::Backend`], naming what was being done.
pub(crate) fn backend(doing: &'static str) -> impl Fn(rocksdb::Error) -> StoreError {
    move |e| StoreError::Backend(format!("rocksdb: {doing}: {e}"))
}

/// The handle of a column family that [`RocksStore::open`] opened.
pub(crate) fn cf_handle<'a>(db: &'a DB, name: &str) -> Result<&'a ColumnFamily, StoreError> {
    db.cf_handle(name)
        .ok_or_else(|| StoreError::Backend(format!("rocksdb: column family {name} not open")))
}

fn db_options() -> Options {
    let mut opts = Options::default();
    opts.create_if_missing(true);
    opts.create_missing_column_families(true);
    // RocksDB keeps 1000 old info logs by default.
    opts.set_keep_log_file_num(8);
    opts
}

fn cf_options(name: &str) -> Options {
    let mut opts = Options::default();
    opts.set_compression_type(DBCompressionType::Lz4);
    if name == cf::CF_MESSAGES || name == cf::CF_QUEUE_LENS {
        // Every put and delete first asks whether its key exists, mostly for keys that do
        // not (a new seq); a bloom filter answers that without reading data blocks.
        let mut table = BlockBasedOptions::default();
        table.set_bloom_filter(10.0, false);
        opts.set_block_based_table_factory(&table);
    }
    opts
}

/// Records [`FORMAT_VERSION`] in a new database, or checks the one an existing one holds.
fn check_format_version(db: &DB) -> Result<(), StoreError> {
    let meta = cf_handle(db, cf::CF_META)?;
    let stored = db
        .get_cf(meta, keys::META_FORMAT_VERSION)
        .map_err(backend("read format version"))?;
    match stored {
        None => {
            let mut opts = WriteOptions::default();
            opts.set_sync(true);
            db.put_cf_opt(
                meta,
                keys::META_FORMAT_VERSION,
                FORMAT_VERSION.to_be_bytes(),
                &opts,
            )
            .map_err(backend("write format version"))
        }
        Some(v) if v == FORMAT_VERSION.to_be_bytes() => Ok(()),
        Some(v) => Err(StoreError::Corrupt {
            what: "format version",
            detail: format!(
                "database has format version {v:02x?}; this build reads {FORMAT_VERSION}"
            ),
        }),
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::Ordering;
    use std::time::Instant;

    use broker_store::testsuite;

    use super::*;

    fn open(dir: &Path, sync: SyncPolicy) -> RocksStore {
        RocksStore::open(dir, RocksOptions { sync }).expect("open store")
    }

    #[test]
    fn periodic_policy_syncs_in_the_background_and_on_drop() {
        let dir = tempfile::tempdir().expect("temp dir");
        let store = open(
            dir.path(),
            SyncPolicy::Periodic {
                interval: Duration::from_millis(5),
            },
        );
        store
            .apply(Batch {
                ops: vec![Op::PutMessage(testsuite::message("q", 1, 1))],
            })
            .expect("apply");
        let deadline = Instant::now() + Duration::from_secs(10);
        while store.sync_state.syncs.load(Ordering::Relaxed) < 3 {
            assert!(Instant::now() < deadline, "no background syncs within 10 s");
            std::thread::yield_now();
        }
        drop(store);
        let store = open(dir.path(), SyncPolicy::Always);
        assert_eq!(store.queue_len("q").expect("len"), 1);
    }

    #[test]
    fn dropping_a_periodic_store_does_not_wait_for_the_interval() {
        let dir = tempfile::tempdir().expect("temp dir");
        let store = open(
            dir.path(),
            SyncPolicy::Periodic {
                interval: Duration::from_secs(3600),
            },
        );
        let state = Arc::clone(&store.sync_state);
        let started = Instant::now();
        drop(store);
        assert!(started.elapsed() < Duration::from_secs(5), "drop waited");
        assert_eq!(state.syncs.load(Ordering::Relaxed), 1, "one final sync");
    }

    #[test]
    fn zero_interval_is_refused() {
        let dir = tempfile::tempdir().expect("temp dir");
        let result = RocksStore::open(
            dir.path(),
            RocksOptions {
                sync: SyncPolicy::Periodic {
                    interval: Duration::ZERO,
                },
            },
        );
        assert!(matches!(result, Err(StoreError::Backend(_))), "{result:?}");
    }

    #[test]
    fn a_failed_background_sync_stops_writes() {
        let dir = tempfile::tempdir().expect("temp dir");
        let store = open(dir.path(), SyncPolicy::Always);
        let _ = store.sync_state.error.set("disk on fire".to_owned());
        let result = store.apply(Batch {
            ops: vec![Op::PutMessage(testsuite::message("q", 1, 1))],
        });
        assert!(
            matches!(&result, Err(StoreError::Backend(e)) if e == "disk on fire"),
            "{result:?}"
        );
    }

    #[test]
    fn another_format_version_is_refused() {
        let dir = tempfile::tempdir().expect("temp dir");
        drop(open(dir.path(), SyncPolicy::Always));
        {
            let db = DB::open_cf(&db_options(), dir.path(), cf::ALL_CFS).expect("raw open");
            let meta = cf_handle(&db, cf::CF_META).expect("meta");
            db.put_cf(meta, keys::META_FORMAT_VERSION, 2u32.to_be_bytes())
                .expect("put");
        }
        let result = RocksStore::open(dir.path(), RocksOptions::default());
        assert!(
            matches!(
                result,
                Err(StoreError::Corrupt {
                    what: "format version",
                    ..
                })
            ),
            "{result:?}"
        );
    }

    #[test]
    fn corrupt_data_is_reported_not_panicked_on() {
        let dir = tempfile::tempdir().expect("temp dir");
        let store = open(dir.path(), SyncPolicy::Always);
        let messages = store.cf(cf::CF_MESSAGES).expect("cf");
        store
            .db
            .put_cf(messages, keys::message_key("q", 3, 1), b"\x01\x00garbage")
            .expect("put");
        let lens = store.cf(cf::CF_QUEUE_LENS).expect("cf");
        store
            .db
            .put_cf(lens, keys::queue_len_key("q"), b"short")
            .expect("put");
        let destinations = store.cf(cf::CF_DESTINATIONS).expect("cf");
        store
            .db
            .put_cf(destinations, b"\xffnot utf-8", [1])
            .expect("put");

        assert!(matches!(
            store.load_queue("q", None, 10),
            Err(StoreError::Corrupt { .. })
        ));
        assert!(matches!(
            store.queue_len("q"),
            Err(StoreError::Corrupt { .. })
        ));
        assert!(matches!(
            store.destinations(),
            Err(StoreError::Corrupt { .. })
        ));
        // A write that needs the broken counter fails whole.
        let result = store.apply(Batch {
            ops: vec![Op::PutMessage(testsuite::message("q", 3, 2))],
        });
        assert!(
            matches!(result, Err(StoreError::Corrupt { .. })),
            "{result:?}"
        );
    }
}
