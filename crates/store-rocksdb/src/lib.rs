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
//!   [`StoreError::Corrupt`] for any malformed input and never panic. The format version and
//!   the seq high-water mark are checked and upgraded at open in `meta.rs`.
//! - Every [`Store::apply`] is validated in full first, then written as exactly one RocksDB
//!   `WriteBatch`, so a batch is atomic on disk and to readers, also across a crash.
//! - One writer at a time: `apply` reads (does this key hold a message? what is the queue's
//!   length?) before it writes, so it holds a writer lock from the first read to the end of the
//!   write. Readers take no lock; each read is one RocksDB get or one iterator, which sees a
//!   consistent snapshot. The architecture's dedicated storage thread group-commits many
//!   callers' ops into one `apply`, so the lock costs nothing there.
//! - The seq high-water mark (the highest seq ever put, see `meta.rs`) is written in the same
//!   batch as the put that raises it, and cached under the writer lock: `max_seq` is a lock
//!   and a copy, and a put above the mark skips the existence read (`batch.rs`).
//! - `load_queue` is one bounded forward range scan: within a queue, key order is dispatch
//!   order (priority 9..0, then seq).
//! - A queue's message count lives in its own column family, written in the same batch as the
//!   messages it counts, so `queue_len` is one point read and never touches a message.
//!
//! The library linked is Debian's `librocksdb` (see `.cargo/config.toml`); compression
//! (LZ4 here) comes from that library's own dependencies, not from crate features.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
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
mod meta;
mod record;
mod sync;
mod varint;

use batch::RocksBatch;
use sync::{SyncState, WalSyncer};

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
    /// Free disk space below which writes are refused (0 = no guard). RocksDB must never
    /// meet a full disk: Debian's librocksdb aborts the process on a write error after
    /// ENOSPC (an assertion left on in that build), and even without that it would turn the
    /// database read-only. Batches without puts (acknowledgements) may still use the last
    /// three quarters of this reserve, so consumers can drain and free space.
    pub min_free_disk: u64,
}

/// A [`Store`] in a RocksDB database directory.
///
/// Safe to share between threads. Dropping it stops the background syncer (if any) after a
/// final sync, then closes the database.
pub struct RocksStore {
    db: Arc<DB>,
    write_opts: WriteOptions,
    /// The writer lock, held from the first read of an `apply` to the end of its write (see
    /// the crate docs). It guards the seq high-water mark as last written, or `None` after a
    /// failed write, when the database may or may not hold that write: the next user reads the
    /// mark back from the database.
    writer: Mutex<Option<u64>>,
    sync_state: Arc<SyncState>,
    /// Stops and joins the syncer thread when dropped; the thread holds its own `Arc<DB>`, so
    /// the database closes only after it exits.
    _syncer: Option<WalSyncer>,
    path: PathBuf,
    min_free_disk: u64,
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
        let max_seq = meta::open(&db)?;
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
            writer: Mutex::new(Some(max_seq)),
            sync_state,
            _syncer: syncer,
            path: path.to_owned(),
            min_free_disk: opts.min_free_disk,
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

    /// Takes the writer lock, and the seq high-water mark under it.
    fn lock_writer(&self) -> Result<(MutexGuard<'_, Option<u64>>, u64), StoreError> {
        // A panic while holding the lock cannot leave a wrong mark behind: the mark is set in
        // one assignment after each write, and the database only ever sees whole batches.
        let mut writer = self.writer.lock().unwrap_or_else(PoisonError::into_inner);
        let max_seq = match *writer {
            Some(max_seq) => max_seq,
            None => meta::read_max_seq(&self.db)?,
        };
        *writer = Some(max_seq);
        Ok((writer, max_seq))
    }
}

impl RocksStore {
    /// Refuses a batch when the disk is too full for it (see [`RocksOptions::min_free_disk`]).
    fn check_disk(&self, batch: &Batch) -> Result<(), StoreError> {
        let reserve = self.min_free_disk;
        if reserve == 0 {
            return Ok(());
        }
        let st =
            rustix::fs::statvfs(&self.path).map_err(|e| StoreError::Io(std::io::Error::from(e)))?;
        let available = st.f_bavail.saturating_mul(st.f_frsize);
        let puts = batch.ops.iter().any(|op| matches!(op, Op::PutMessage(_)));
        let needed = if puts { reserve } else { reserve / 4 };
        if available < needed {
            return Err(StoreError::DiskFull {
                available,
                reserve: needed,
            });
        }
        Ok(())
    }
}

impl Store for RocksStore {
    fn apply(&self, batch: &Batch) -> Result<(), StoreError> {
        batch.validate()?;
        if let Some(e) = self.sync_state.error.get() {
            return Err(StoreError::Backend(e.clone()));
        }
        if batch.is_empty() {
            return Ok(());
        }
        self.check_disk(batch)?;
        let (mut writer, max_seq) = self.lock_writer()?;
        let mut rocks_batch = RocksBatch::new(&self.db, max_seq)?;
        for op in &batch.ops {
            rocks_batch.push(op)?;
        }
        let (write_batch, max_seq) = rocks_batch.finish();
        let result = self.db.write_opt(write_batch, &self.write_opts);
        *writer = result.is_ok().then_some(max_seq);
        result.map_err(backend("write batch"))
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

    fn approximate_size(&self) -> Result<u64, StoreError> {
        // Live SST files plus memtables plus the WAL not yet flushed into SSTs, over every
        // column family: what a full disk would be made of.
        let mut total = 0u64;
        for name in cf::ALL_CFS {
            let cf = self.cf(name)?;
            for prop in [
                "rocksdb.total-sst-files-size",
                "rocksdb.cur-size-all-mem-tables",
            ] {
                total += self
                    .db
                    .property_int_value_cf(cf, prop)
                    .map_err(backend("read store size"))?
                    .unwrap_or(0);
            }
        }
        Ok(total)
    }

    fn queue_len(&self, queue: &str) -> Result<u64, StoreError> {
        let value = self
            .db
            .get_pinned_cf(self.cf(cf::CF_QUEUE_LENS)?, keys::queue_len_key(queue))
            .map_err(backend("read queue length"))?;
        value.map_or(Ok(0), |v| record::decode_queue_len(&v))
    }

    /// The highest seq ever put, cached: deleting messages does not lower it.
    fn max_seq(&self) -> Result<u64, StoreError> {
        self.lock_writer().map(|(_, max_seq)| max_seq)
    }
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
    // The small column families are rarely flushed and would keep every WAL file alive
    // (GBs by default); the restart replays all of it. Capping the WAL forces those
    // flushes, which bounds recovery time (measured: 387 MB of WAL after 1M messages).
    opts.set_max_total_wal_size(256 * 1024 * 1024);
    opts
}

fn cf_options(name: &str) -> Options {
    let mut opts = Options::default();
    opts.set_compression_type(DBCompressionType::Lz4);
    if name == cf::CF_MESSAGES || name == cf::CF_QUEUE_LENS {
        // A put or delete at or below the seq mark asks whether its key exists, and each
        // batch reads the lengths of its queues; a bloom filter answers for missing keys
        // without reading data blocks.
        let mut table = BlockBasedOptions::default();
        table.set_bloom_filter(10.0, false);
        opts.set_block_based_table_factory(&table);
    }
    opts
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::Ordering;
    use std::time::Instant;

    use broker_store::testsuite;

    use super::*;

    fn open(dir: &Path, sync: SyncPolicy) -> RocksStore {
        RocksStore::open(
            dir,
            RocksOptions {
                sync,
                ..RocksOptions::default()
            },
        )
        .expect("open store")
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
            .apply(&Batch {
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
                ..RocksOptions::default()
            },
        );
        assert!(matches!(result, Err(StoreError::Backend(_))), "{result:?}");
    }

    #[test]
    fn a_failed_background_sync_stops_writes() {
        let dir = tempfile::tempdir().expect("temp dir");
        let store = open(dir.path(), SyncPolicy::Always);
        let _ = store.sync_state.error.set("disk on fire".to_owned());
        let result = store.apply(&Batch {
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
            db.put_cf(
                meta,
                keys::META_FORMAT_VERSION,
                (meta::FORMAT_VERSION + 1).to_be_bytes(),
            )
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

    fn put(queue: &str, priority: u8, seq: u64) -> Op {
        Op::PutMessage(testsuite::message(queue, priority, seq))
    }

    fn delete(queue: &str, priority: u8, seq: u64) -> Op {
        Op::DeleteMessage {
            queue: queue.to_owned(),
            priority,
            seq,
        }
    }

    /// Makes the closed store in `dir` look as a format version 1 build left it.
    fn downgrade_to_version_1(dir: &Path) {
        let db = DB::open_cf(&db_options(), dir, cf::ALL_CFS).expect("raw open");
        let meta = cf_handle(&db, cf::CF_META).expect("meta");
        db.put_cf(meta, keys::META_FORMAT_VERSION, 1u32.to_be_bytes())
            .expect("put");
        db.delete_cf(meta, keys::META_MAX_SEQ).expect("delete");
    }

    #[test]
    fn a_version_1_store_is_upgraded_with_the_max_of_its_messages() {
        let dir = tempfile::tempdir().expect("temp dir");
        {
            let store = open(dir.path(), SyncPolicy::Always);
            // Maxima in different bands: the highest seq sits neither first nor last in key
            // order, and a queue emptied by DeleteDestination held a higher one.
            let mut ops = Vec::new();
            for seq in 0..50 {
                ops.push(put("a", (seq % 10) as u8, seq));
                ops.push(put("ab", 9, seq * 2));
            }
            ops.push(put("a", 5, 1000));
            ops.push(put("gone", 0, 5000));
            store.apply(&Batch { ops }).expect("fill");
            store
                .apply(&Batch {
                    ops: vec![Op::DeleteDestination {
                        name: "gone".to_owned(),
                    }],
                })
                .expect("delete destination");
        }
        downgrade_to_version_1(dir.path());

        let store = open(dir.path(), SyncPolicy::Always);
        // Version 1 kept no mark, so the upgrade finds the highest seq still stored.
        assert_eq!(store.max_seq().expect("max_seq"), 1000);
        let meta_cf = store.cf(cf::CF_META).expect("meta");
        assert_eq!(
            store
                .db
                .get_cf(meta_cf, keys::META_FORMAT_VERSION)
                .expect("get"),
            Some(meta::FORMAT_VERSION.to_be_bytes().to_vec())
        );
        // The mark is right for the write path too: a replaced message is counted once.
        store
            .apply(&Batch {
                ops: vec![put("a", 5, 1000), put("a", 5, 1001)],
            })
            .expect("apply");
        assert_eq!(store.queue_len("a").expect("len"), 52);
        drop(store);
        let store = open(dir.path(), SyncPolicy::Always);
        assert_eq!(store.max_seq().expect("max_seq"), 1001);
    }

    /// How long the one-time upgrade of a version 1 store takes; run by hand:
    /// `cargo test --release -p store-rocksdb --lib -- --ignored --nocapture upgrade_scan`.
    #[test]
    #[ignore = "benchmark; run by hand"]
    fn upgrade_scan_of_1m_messages() {
        for queues in [1, 10_000] {
            let dir = tempfile::tempdir().expect("temp dir");
            let sync = SyncPolicy::Periodic {
                interval: Duration::from_secs(1),
            };
            let store = open(dir.path(), sync);
            let n: u64 = 1_000_000;
            let names: Vec<String> = (0..queues).map(|q| format!("queue://q{q}")).collect();
            for first in (0..n).step_by(10_000) {
                let ops = (first..first + 10_000)
                    .map(|seq| put(&names[(seq % queues) as usize], (seq % 7) as u8, seq))
                    .collect();
                store.apply(&Batch { ops }).expect("fill");
            }
            drop(store);
            downgrade_to_version_1(dir.path());
            let started = Instant::now();
            let store = open(dir.path(), SyncPolicy::Always);
            let took = started.elapsed();
            assert_eq!(store.max_seq().expect("max_seq"), n - 1);
            println!("open + upgrade of {n} messages in {queues} queues: {took:.2?}");
            drop(store);
            let started = Instant::now();
            let store = open(dir.path(), SyncPolicy::Always);
            println!("open after the upgrade: {:.2?}", started.elapsed());
            drop(store);
        }
    }

    #[test]
    fn the_upgrade_scan_finds_the_max_in_bands_short_and_long() {
        for len in [1, 2, 15, 16, 17, 31, 32, 100] {
            for max_in in ["a", "b", "c"] {
                let dir = tempfile::tempdir().expect("temp dir");
                let store = open(dir.path(), SyncPolicy::Always);
                // Three queues in key order, each with a band of `len` keys between two short
                // ones; the highest seq ends the long band of `max_in`.
                let mut ops = Vec::new();
                for queue in ["a", "b", "c"] {
                    let top = if queue == max_in { 10_000 } else { 5_000 };
                    ops.push(put(queue, 9, 1));
                    ops.extend((0..len).map(|i| put(queue, 5, top - len + 1 + i)));
                    ops.push(put(queue, 0, 2));
                }
                store.apply(&Batch { ops }).expect("fill");
                assert_eq!(
                    meta::scan_max_seq(&store.db).expect("scan"),
                    10_000,
                    "band of {len}, max in {max_in}"
                );
            }
        }
    }

    #[test]
    fn upgrading_an_empty_version_1_store_finds_0() {
        let dir = tempfile::tempdir().expect("temp dir");
        drop(open(dir.path(), SyncPolicy::Always));
        downgrade_to_version_1(dir.path());
        let store = open(dir.path(), SyncPolicy::Always);
        assert_eq!(store.max_seq().expect("max_seq"), 0);
    }

    #[test]
    fn a_missing_or_broken_mark_is_corrupt() {
        for value in [None, Some(&b"short"[..])] {
            let dir = tempfile::tempdir().expect("temp dir");
            drop(open(dir.path(), SyncPolicy::Always));
            {
                let db = DB::open_cf(&db_options(), dir.path(), cf::ALL_CFS).expect("raw open");
                let meta = cf_handle(&db, cf::CF_META).expect("meta");
                match value {
                    Some(v) => db.put_cf(meta, keys::META_MAX_SEQ, v),
                    None => db.delete_cf(meta, keys::META_MAX_SEQ),
                }
                .expect("write");
            }
            let result = RocksStore::open(dir.path(), RocksOptions::default());
            assert!(
                matches!(
                    result,
                    Err(StoreError::Corrupt {
                        what: "max seq",
                        ..
                    })
                ),
                "{value:?}: {result:?}"
            );
        }
    }

    #[test]
    fn puts_above_the_mark_skip_the_existence_read_and_still_count_right() {
        let dir = tempfile::tempdir().expect("temp dir");
        let store = open(dir.path(), SyncPolicy::Always);
        store
            .apply(&Batch {
                ops: vec![put("q", 1, 10)],
            })
            .expect("apply");
        // A message stored behind the store's back above the mark shows that a put above the
        // mark does not read its key (it is counted as new), while one at or below does.
        let messages = store.cf(cf::CF_MESSAGES).expect("cf");
        let value = record::encode_message(&testsuite::message("q", 1, 20));
        for seq in [5, 20] {
            store
                .db
                .put_cf(messages, keys::message_key("q", 1, seq), &value)
                .expect("put");
        }
        store
            .apply(&Batch {
                ops: vec![put("q", 1, 5), put("q", 1, 10), put("q", 1, 20)],
            })
            .expect("apply");
        assert_eq!(
            store.queue_len("q").expect("len"),
            2,
            "5 and 10 read as stored, 20 not"
        );
        assert_eq!(store.max_seq().expect("max_seq"), 20);
        // Within one batch, a put above the mark is seen by the ops after it.
        store
            .apply(&Batch {
                ops: vec![
                    put("q", 1, 30),
                    put("q", 1, 30),
                    Op::SetRedeliveries {
                        queue: "q".to_owned(),
                        priority: 1,
                        seq: 30,
                        redeliveries: 3,
                    },
                    put("q", 1, 31),
                    delete("q", 1, 31),
                    delete("q", 1, 32),
                ],
            })
            .expect("apply");
        assert_eq!(store.queue_len("q").expect("len"), 3);
        assert_eq!(store.max_seq().expect("max_seq"), 31);
        let loaded = store.load_queue("q", Some((1, 29)), 10).expect("load");
        assert_eq!(loaded.len(), 1);
        assert_eq!(loaded[0].redeliveries, 3);
    }

    #[test]
    fn an_unknown_mark_is_read_back_from_the_database() {
        let dir = tempfile::tempdir().expect("temp dir");
        let store = open(dir.path(), SyncPolicy::Always);
        store
            .apply(&Batch {
                ops: vec![put("q", 1, 7)],
            })
            .expect("apply");
        // What a failed write leaves.
        *store.writer.lock().expect("lock") = None;
        assert_eq!(store.max_seq().expect("max_seq"), 7);
        *store.writer.lock().expect("lock") = None;
        store
            .apply(&Batch {
                ops: vec![put("q", 1, 7), put("q", 1, 8)],
            })
            .expect("apply");
        assert_eq!(store.queue_len("q").expect("len"), 2);
        assert_eq!(store.max_seq().expect("max_seq"), 8);
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
        let result = store.apply(&Batch {
            ops: vec![Op::PutMessage(testsuite::message("q", 3, 2))],
        });
        assert!(
            matches!(result, Err(StoreError::Corrupt { .. })),
            "{result:?}"
        );
    }
}
