//! Rough throughput numbers, not run in CI:
//!
//! ```sh
//! cargo test --release -p store-rocksdb --test bench -- --ignored --nocapture --test-threads 1
//! ```
//!
//! Set `FERROMQ_BENCH_DIR` to put the database somewhere other than the system temp dir
//! (which may be a tmpfs, where syncs cost nothing).

use std::time::{Duration, Instant};

use broker_store::{Batch, MessageRecord, Op, Store};
use bytes::Bytes;
use store_rocksdb::{RocksOptions, RocksStore, SyncPolicy};

fn temp_dir() -> tempfile::TempDir {
    match std::env::var_os("FERROMQ_BENCH_DIR") {
        Some(dir) => tempfile::tempdir_in(dir),
        None => tempfile::tempdir(),
    }
    .expect("temp dir")
}

fn message(seq: u64, body: &Bytes) -> MessageRecord {
    MessageRecord {
        queue: "queue://bench".to_owned(),
        seq,
        priority: (seq % 10) as u8,
        redeliveries: 0,
        message_id: format!("ID:bench-host-12345-1700000000000-1:1:1:1:{seq}"),
        expires: 0,
        timestamp: 1_700_000_000_000 + seq,
        headers: vec![
            (
                Bytes::from_static(b"persistent"),
                Bytes::from_static(b"true"),
            ),
            (
                Bytes::from_static(b"content-type"),
                Bytes::from_static(b"text/plain"),
            ),
        ],
        body: body.clone(),
    }
}

/// Writes `count` messages in batches of `batch`, returning the elapsed time.
fn write(store: &RocksStore, count: u64, batch: u64) -> Duration {
    let body = Bytes::from(vec![b'x'; 256]);
    let started = Instant::now();
    for first in (0..count).step_by(batch as usize) {
        let ops = (first..(first + batch).min(count))
            .map(|seq| Op::PutMessage(message(seq, &body)))
            .collect();
        store.apply(&Batch { ops }).expect("apply");
    }
    started.elapsed()
}

/// Pages through the whole queue, returning the elapsed time and the count read.
fn read_all(store: &RocksStore, page: usize) -> (Duration, usize) {
    let started = Instant::now();
    let mut after = None;
    let mut total = 0;
    loop {
        let got = store
            .load_queue("queue://bench", after, page)
            .expect("load");
        total += got.len();
        match got.last() {
            Some(last) if got.len() == page => after = Some(last.position()),
            _ => break,
        }
    }
    (started.elapsed(), total)
}

fn rate(n: u64, d: Duration) -> String {
    format!("{:.0} msg/s", n as f64 / d.as_secs_f64())
}

#[test]
#[ignore = "benchmark; run by hand"]
fn write_100k_synced_in_batches_of_100() {
    let dir = temp_dir();
    let store = RocksStore::open(dir.path(), RocksOptions::default()).expect("open");
    let n = 100_000;
    let took = write(&store, n, 100);
    println!(
        "write {n} x 256 B, batches of 100, SyncPolicy::Always: {took:.2?} ({})",
        rate(n, took)
    );
    let (took, total) = read_all(&store, 1000);
    assert_eq!(total as u64, n);
    println!(
        "load_queue {n} in pages of 1000: {took:.2?} ({})",
        rate(n, took)
    );
    let started = Instant::now();
    for _ in 0..10_000 {
        assert_eq!(store.queue_len("queue://bench").expect("len"), n);
    }
    println!("queue_len: {:.2?} per call", started.elapsed() / 10_000);
}

#[test]
#[ignore = "benchmark; run by hand"]
fn write_100k_unsynced_in_batches_of_100() {
    // The same writes without a sync per batch: the CPU cost of apply alone.
    let dir = temp_dir();
    let sync = SyncPolicy::Periodic {
        interval: Duration::from_secs(1),
    };
    let store = RocksStore::open(
        dir.path(),
        RocksOptions {
            sync,
            ..RocksOptions::default()
        },
    )
    .expect("open");
    let n = 100_000;
    let took = write(&store, n, 100);
    println!(
        "write {n} x 256 B, batches of 100, SyncPolicy::Periodic(1 s): {took:.2?} ({})",
        rate(n, took)
    );
}

#[test]
#[ignore = "benchmark; run by hand"]
fn page_through_1m() {
    let dir = temp_dir();
    let store = RocksStore::open(
        dir.path(),
        RocksOptions {
            sync: SyncPolicy::Periodic {
                interval: Duration::from_secs(1),
            },
            ..RocksOptions::default()
        },
    )
    .expect("open");
    let n = 1_000_000;
    let took = write(&store, n, 1000);
    println!(
        "write {n} x 256 B, batches of 1000, SyncPolicy::Periodic(1 s): {took:.2?} ({})",
        rate(n, took)
    );
    for page in [100, 1000, 10_000] {
        let (took, total) = read_all(&store, page);
        assert_eq!(total as u64, n);
        println!(
            "load_queue {n} in pages of {page}: {took:.2?} ({})",
            rate(n, took)
        );
    }
    // Reopen, so the scan reads SST files rather than the memtable.
    drop(store);
    let started = Instant::now();
    let store = RocksStore::open(dir.path(), RocksOptions::default()).expect("reopen");
    let opened = started.elapsed();
    let started = Instant::now();
    assert_eq!(store.max_seq().expect("max_seq"), n - 1);
    println!(
        "reopen with {n} stored: open {opened:.2?}, then max_seq {:.2?}",
        started.elapsed()
    );
    let (took, total) = read_all(&store, 1000);
    assert_eq!(total as u64, n);
    println!(
        "after reopen: load_queue {n} in pages of 1000: {took:.2?} ({})",
        rate(n, took)
    );
    let deletes: Vec<Op> = (0..n)
        .map(|seq| Op::DeleteMessage {
            queue: "queue://bench".to_owned(),
            priority: (seq % 10) as u8,
            seq,
        })
        .collect();
    let started = Instant::now();
    for chunk in deletes.chunks(1000) {
        store
            .apply(&Batch {
                ops: chunk.to_vec(),
            })
            .expect("delete");
    }
    let took = started.elapsed();
    println!(
        "delete {n} in synced batches of 1000: {took:.2?} ({})",
        rate(n, took)
    );
}
