//! RocksStore must behave exactly like MemStore (the reference backend) on any sequence of
//! batches, including batches whose ops depend on each other: a put, delete or redelivery
//! update after a DeleteDestination of the same queue, repeated keys, invalid priorities.

use broker_store::{testsuite, Batch, DestinationRecord, MemStore, Op, Store, StoreError};
use proptest::prelude::*;
use store_rocksdb::{RocksOptions, RocksStore};

/// Few names, one a prefix of another and one with a NUL, so ops collide often.
const QUEUES: &[&str] = &["a", "ab", "a\0", ""];

fn queue() -> impl Strategy<Value = String> {
    proptest::sample::select(QUEUES).prop_map(str::to_owned)
}

fn op() -> impl Strategy<Value = Op> {
    // Priority 10 is invalid in a put and addresses no message elsewhere.
    let priority = prop_oneof![8 => 0..=2u8, 1 => Just(9u8), 1 => Just(10u8)];
    // Mostly colliding seqs; now and then one above the store's seq mark so far, which a put
    // may then skip reading (and a later op of the batch must still see).
    let seq = prop_oneof![9 => 0..4u64, 1 => 4..8u64];
    prop_oneof![
        4 => (queue(), priority.clone(), seq.clone(), any::<u8>()).prop_map(|(q, p, s, r)| {
            let mut m = testsuite::message(&q, p, s);
            m.redeliveries = u32::from(r);
            Op::PutMessage(m)
        }),
        3 => (queue(), priority.clone(), seq.clone())
            .prop_map(|(queue, priority, seq)| Op::DeleteMessage { queue, priority, seq }),
        2 => (queue(), priority, seq, any::<u32>()).prop_map(
            |(queue, priority, seq, redeliveries)| Op::SetRedeliveries {
                queue,
                priority,
                seq,
                redeliveries
            }
        ),
        1 => queue().prop_map(|name| Op::PutDestination(DestinationRecord { name, attributes: Vec::new() })),
        1 => queue().prop_map(|name| Op::DeleteDestination { name }),
    ]
}

fn batches() -> impl Strategy<Value = Vec<Vec<Op>>> {
    proptest::collection::vec(proptest::collection::vec(op(), 0..12), 1..12)
}

fn outcome(result: Result<(), StoreError>) -> Result<(), String> {
    result.map_err(|e| match e {
        StoreError::InvalidPriority { .. } => e.to_string(),
        other => panic!("unexpected error {other}"),
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(96))]

    #[test]
    fn behaves_like_memstore(batches in batches()) {
        let dir = tempfile::tempdir().expect("temp dir");
        let rocks = RocksStore::open(dir.path(), RocksOptions::default()).expect("open");
        let mem = MemStore::new();
        for ops in batches {
            let batch = Batch { ops };
            prop_assert_eq!(
                outcome(rocks.apply(&batch)),
                outcome(mem.apply(&batch)),
                "apply {:?}", batch
            );
            prop_assert_eq!(rocks.destinations()?, mem.destinations()?);
            prop_assert_eq!(rocks.max_seq()?, mem.max_seq()?, "max_seq");
            for q in QUEUES {
                prop_assert_eq!(rocks.queue_len(q)?, mem.queue_len(q)?, "queue_len({:?})", q);
                prop_assert_eq!(
                    rocks.load_queue(q, None, usize::MAX)?,
                    mem.load_queue(q, None, usize::MAX)?,
                    "load_queue({:?})", q
                );
            }
        }
    }
}

#[test]
fn ops_after_delete_destination_see_an_empty_queue() {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = RocksStore::open(dir.path(), RocksOptions::default()).expect("open");
    let put = |p, s| Op::PutMessage(testsuite::message("q", p, s));
    store
        .apply(&Batch {
            ops: vec![put(1, 1), put(1, 2), put(1, 3)],
        })
        .expect("setup");
    store
        .apply(&Batch {
            ops: vec![
                Op::DeleteDestination {
                    name: "q".to_owned(),
                },
                // Stored before the delete: a put is new again, a delete and a redelivery
                // update find nothing.
                put(1, 1),
                Op::DeleteMessage {
                    queue: "q".to_owned(),
                    priority: 1,
                    seq: 2,
                },
                Op::SetRedeliveries {
                    queue: "q".to_owned(),
                    priority: 1,
                    seq: 3,
                    redeliveries: 5,
                },
            ],
        })
        .expect("apply");
    assert_eq!(store.queue_len("q").expect("len"), 1);
    assert_eq!(
        store.load_queue("q", None, usize::MAX).expect("load"),
        vec![testsuite::message("q", 1, 1)]
    );
}
