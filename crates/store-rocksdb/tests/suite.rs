//! The backend suite every `Store` must pass, plus what only a disk store can show: data
//! survives closing and reopening.

use std::path::Path;
use std::sync::Mutex;
use std::time::Duration;

use broker_store::{testsuite, Batch, DestinationRecord, MessageRecord, Op, Store, StoreError};
use bytes::Bytes;
use store_rocksdb::{RocksOptions, RocksStore, SyncPolicy};
use tempfile::TempDir;

/// A store in a fresh temporary directory, which lives as long as the store.
struct TempStore {
    store: RocksStore,
    _dir: TempDir,
}

impl Store for TempStore {
    fn apply(&self, batch: &Batch) -> Result<(), StoreError> {
        self.store.apply(batch)
    }
    fn destinations(&self) -> Result<Vec<DestinationRecord>, StoreError> {
        self.store.destinations()
    }
    fn load_queue(
        &self,
        queue: &str,
        after: Option<(u8, u64)>,
        limit: usize,
    ) -> Result<Vec<MessageRecord>, StoreError> {
        self.store.load_queue(queue, after, limit)
    }
    fn queue_len(&self, queue: &str) -> Result<u64, StoreError> {
        self.store.queue_len(queue)
    }
    fn max_seq(&self) -> Result<u64, StoreError> {
        self.store.max_seq()
    }
}

fn temp_store(opts: RocksOptions) -> TempStore {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = RocksStore::open(dir.path(), opts).expect("open store");
    TempStore { store, _dir: dir }
}

#[test]
fn passes_the_backend_suite() {
    testsuite::run_all(|| temp_store(RocksOptions::default()));
}

#[test]
fn passes_the_backend_suite_with_periodic_sync() {
    let opts = RocksOptions {
        sync: SyncPolicy::Periodic {
            interval: Duration::from_millis(2),
        },
        ..RocksOptions::default()
    };
    testsuite::run_all(|| temp_store(opts.clone()));
}

#[test]
fn suite_checks_pass_on_a_reopened_store() {
    // Every check again, on a store that was created, closed and opened again before use, so
    // the checks run against whatever open() leaves on disk.
    for &(name, check) in testsuite::CHECKS {
        let dir = tempfile::tempdir().expect("temp dir");
        drop(RocksStore::open(dir.path(), RocksOptions::default()).expect("create"));
        let store = RocksStore::open(dir.path(), RocksOptions::default()).expect("reopen");
        eprintln!("check {name}");
        check(&store);
    }
}

/// Everything a store can be asked, for comparing a store before and after reopening.
#[derive(Debug, PartialEq)]
struct Snapshot {
    max_seq: u64,
    destinations: Vec<DestinationRecord>,
    queues: Vec<(String, u64, Vec<MessageRecord>)>,
}

fn snapshot(store: &dyn Store, queues: &[&str]) -> Snapshot {
    Snapshot {
        max_seq: store.max_seq().expect("max_seq"),
        destinations: store.destinations().expect("destinations"),
        queues: queues
            .iter()
            .map(|&q| {
                (
                    q.to_owned(),
                    store.queue_len(q).expect("len"),
                    store.load_queue(q, None, usize::MAX).expect("load"),
                )
            })
            .collect(),
    }
}

fn fill(store: &dyn Store) {
    let mut ops: Vec<Op> = ["queue://a", "queue://ab", "topic://t", "a\0b"]
        .into_iter()
        .map(|name| {
            Op::PutDestination(DestinationRecord {
                name: name.to_owned(),
                attributes: Vec::new(),
            })
        })
        .collect();
    for seq in 0..300u64 {
        for queue in ["queue://a", "queue://ab", "a\0b", "gone"] {
            ops.push(Op::PutMessage(testsuite::message(
                queue,
                (seq % 10) as u8,
                seq,
            )));
        }
    }
    ops.push(Op::PutMessage(MessageRecord {
        headers: vec![(Bytes::from_static(b"k\0"), Bytes::from_static(b"\xff"))],
        body: Bytes::from(vec![7u8; 100_000]),
        redeliveries: u32::MAX,
        expires: u64::MAX,
        ..testsuite::message("queue://big", 9, u64::MAX)
    }));
    store.apply(&Batch { ops }).expect("fill");
    store
        .apply(&Batch {
            ops: vec![
                Op::DeleteMessage {
                    queue: "queue://a".to_owned(),
                    priority: 5,
                    seq: 5,
                },
                Op::SetRedeliveries {
                    queue: "queue://a".to_owned(),
                    priority: 9,
                    seq: 9,
                    redeliveries: 4,
                },
                Op::DeleteDestination {
                    name: "gone".to_owned(),
                },
                Op::DeleteDestination {
                    name: "topic://t".to_owned(),
                },
            ],
        })
        .expect("changes");
}

const QUEUES: &[&str] = &[
    "queue://a",
    "queue://ab",
    "a\0b",
    "gone",
    "queue://big",
    "none",
];

fn reopen_round_trip(sync: SyncPolicy) {
    let dir = tempfile::tempdir().expect("temp dir");
    let before = {
        let store = RocksStore::open(
            dir.path(),
            RocksOptions {
                sync,
                ..RocksOptions::default()
            },
        )
        .expect("open");
        fill(&store);
        snapshot(&store, QUEUES)
    };
    assert_eq!(before.destinations.len(), 3);
    assert_eq!(before.queues[0].1, 299);
    assert_eq!(before.queues[3].1, 0, "deleted destination's messages");
    assert_eq!(before.queues[4].2[0].body.len(), 100_000);
    assert_eq!(before.max_seq, u64::MAX);

    let store = RocksStore::open(dir.path(), RocksOptions::default()).expect("reopen");
    assert_eq!(
        snapshot(&store, QUEUES),
        before,
        "store changed across reopen"
    );

    // And it keeps working: the counters are right, not just the data.
    store
        .apply(&Batch {
            ops: vec![
                Op::PutMessage(testsuite::message("queue://a", 0, 1000)),
                Op::DeleteMessage {
                    queue: "queue://ab".to_owned(),
                    priority: 0,
                    seq: 0,
                },
            ],
        })
        .expect("apply after reopen");
    assert_eq!(store.queue_len("queue://a").expect("len"), 300);
    assert_eq!(store.queue_len("queue://ab").expect("len"), 299);
}

#[test]
fn reopen_keeps_everything() {
    reopen_round_trip(SyncPolicy::Always);
}

#[test]
fn reopen_keeps_everything_with_periodic_sync() {
    reopen_round_trip(SyncPolicy::Periodic {
        interval: Duration::from_millis(50),
    });
}

#[test]
fn max_seq_survives_reopen_and_deletes() {
    let dir = tempfile::tempdir().expect("temp dir");
    let put = |queue: &str, priority, seq| Op::PutMessage(testsuite::message(queue, priority, seq));
    let delete = |queue: &str, priority, seq| Op::DeleteMessage {
        queue: queue.to_owned(),
        priority,
        seq,
    };
    let reopen = || RocksStore::open(dir.path(), RocksOptions::default()).expect("open");

    let store = reopen();
    assert_eq!(store.max_seq().expect("max_seq"), 0, "new store");
    drop(store);
    let store = reopen();
    assert_eq!(store.max_seq().expect("max_seq"), 0, "reopened empty store");
    store
        .apply(&Batch {
            ops: vec![put("a", 0, 41), put("a", 9, 42), put("b", 4, 17)],
        })
        .expect("puts");
    drop(store);

    let store = reopen();
    assert_eq!(store.max_seq().expect("max_seq"), 42, "after reopen");
    store
        .apply(&Batch {
            ops: vec![delete("a", 9, 42), delete("a", 0, 41)],
        })
        .expect("delete the two highest");
    assert_eq!(store.max_seq().expect("max_seq"), 42, "after deletes");
    drop(store);

    let store = reopen();
    assert_eq!(
        store.max_seq().expect("max_seq"),
        42,
        "deletes lowered the mark across reopen"
    );
    assert_eq!(store.queue_len("a").expect("len"), 0);
    // Numbering on above the mark after a restart counts every new message once.
    store
        .apply(&Batch {
            ops: vec![put("a", 0, 43), put("b", 4, 44)],
        })
        .expect("puts after restart");
    assert_eq!(store.queue_len("a").expect("len"), 1);
    assert_eq!(store.queue_len("b").expect("len"), 2);
    assert_eq!(store.max_seq().expect("max_seq"), 44);
    drop(store);
    assert_eq!(reopen().max_seq().expect("max_seq"), 44, "final reopen");
}

#[test]
fn max_seq_survives_reopen_with_periodic_sync() {
    let dir = tempfile::tempdir().expect("temp dir");
    let opts = RocksOptions {
        sync: SyncPolicy::Periodic {
            interval: Duration::from_secs(3600),
        },
        ..RocksOptions::default()
    };
    let store = RocksStore::open(dir.path(), opts.clone()).expect("open");
    store
        .apply(&Batch {
            ops: vec![Op::PutMessage(testsuite::message("q", 3, 99))],
        })
        .expect("put");
    drop(store);
    let store = RocksStore::open(dir.path(), opts).expect("reopen");
    assert_eq!(store.max_seq().expect("max_seq"), 99);
}

#[test]
fn a_store_directory_is_locked_while_open() {
    let dir = tempfile::tempdir().expect("temp dir");
    let _store = RocksStore::open(dir.path(), RocksOptions::default()).expect("open");
    let second = RocksStore::open(dir.path(), RocksOptions::default());
    assert!(matches!(second, Err(StoreError::Backend(_))), "{second:?}");
}

#[test]
fn open_creates_missing_directories() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("a/b/store");
    let store = RocksStore::open(&path, RocksOptions::default()).expect("open");
    assert_eq!(store.path(), Path::new(&path));
}

#[test]
fn store_is_shareable() {
    fn assert_send_sync<T: Send + Sync + 'static>() {}
    assert_send_sync::<RocksStore>();
    let _: Mutex<Box<dyn Store>> = Mutex::new(Box::new(temp_store(RocksOptions::default())));
}

#[test]
fn writes_are_refused_before_the_disk_fills() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = RocksStore::open(
        dir.path(),
        RocksOptions {
            min_free_disk: u64::MAX,
            ..RocksOptions::default()
        },
    )
    .expect("open");
    let mut batch = Batch::new();
    batch.push(Op::PutMessage(testsuite::message("q", 4, 1)));
    match store.apply(&batch) {
        Err(StoreError::DiskFull { available, reserve }) => {
            assert!(available < reserve);
        }
        other => panic!("expected DiskFull, got {other:?}"),
    }
    assert_eq!(store.queue_len("q").expect("len"), 0);
}
