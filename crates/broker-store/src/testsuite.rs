//! The behaviour every [`Store`] backend must show, as plain functions that panic with a clear
//! message on the first deviation.
//!
//! A backend crate runs the whole suite from one test:
//!
//! ```
//! # use broker_store::{testsuite, MemStore};
//! testsuite::run_all(MemStore::new);
//! ```
//!
//! or calls single checks (each a [`Check`], listed in [`CHECKS`]) on a store of its
//! own, for example one reopened from disk. Every check expects a fresh, empty store and only
//! uses the [`Store`] trait, so it says nothing about how a backend lays out its data; it does
//! use awkward inputs on purpose (queue names that are prefixes of each other or contain NUL,
//! seqs across byte boundaries, `limit = usize::MAX`) to catch key-encoding mistakes.

use std::cmp::Reverse;
use std::collections::BTreeSet;
use std::panic::{self, AssertUnwindSafe};

use bytes::Bytes;

use crate::{Batch, DestinationRecord, MessageRecord, Op, Store, StoreError, MAX_PRIORITY};

/// One check of the suite: panics if `store` (fresh and empty) misbehaves.
pub type Check = fn(&dyn Store);

/// Every check of the suite with its name, in the order [`run_all`] runs them.
pub const CHECKS: &[(&str, Check)] = &[
    ("empty_store", empty_store),
    ("round_trip_fields", round_trip_fields),
    ("dispatch_order", dispatch_order),
    ("paging_reads_everything_once", paging_reads_everything_once),
    ("after_is_exclusive", after_is_exclusive),
    ("put_replaces_same_key", put_replaces_same_key),
    ("delete_message", delete_message),
    ("set_redeliveries", set_redeliveries),
    ("batch_all_visible", batch_all_visible),
    ("batch_ops_in_order", batch_ops_in_order),
    (
        "invalid_batch_changes_nothing",
        invalid_batch_changes_nothing,
    ),
    ("queues_are_isolated", queues_are_isolated),
    ("destinations", destinations),
    (
        "delete_destination_drops_its_messages",
        delete_destination_drops_its_messages,
    ),
    ("queue_len", queue_len),
    ("max_seq_is_a_high_water_mark", max_seq_is_a_high_water_mark),
    ("concurrent_batches", concurrent_batches),
    ("volume", volume),
];

/// Runs every check in [`CHECKS`], each against a fresh store from `make`, and panics naming
/// every check that failed.
pub fn run_all<S: Store>(make: impl Fn() -> S) {
    let mut failed = Vec::new();
    for &(name, check) in CHECKS {
        let store = make();
        // Keep going after a failure so one run reports every broken behaviour; the panic hook
        // has already printed each failure's message and location.
        if panic::catch_unwind(AssertUnwindSafe(|| check(&store))).is_err() {
            failed.push(name);
        }
    }
    assert!(
        failed.is_empty(),
        "store backend suite: {} of {} checks failed: {failed:?}",
        failed.len(),
        CHECKS.len()
    );
}

// ---------------------------------------------------------------------------------------------
// Helpers

/// A message whose every field is derived from its key, so a mixed-up record shows.
pub fn message(queue: &str, priority: u8, seq: u64) -> MessageRecord {
    MessageRecord {
        queue: queue.to_owned(),
        seq,
        priority,
        redeliveries: 0,
        message_id: format!("ID:{queue}:{priority}:{seq}"),
        expires: 0,
        timestamp: 1_700_000_000_000u64.wrapping_add(seq),
        headers: vec![(Bytes::from_static(b"seq"), Bytes::from(seq.to_string()))],
        body: Bytes::from(format!("{queue}/{priority}/{seq}")),
    }
}

/// Sort key of the dispatch order the trait promises: priority 9..0, then seq ascending.
fn dispatch_key(position: (u8, u64)) -> (Reverse<u8>, u64) {
    (Reverse(position.0), position.1)
}

fn apply(store: &dyn Store, ops: Vec<Op>, what: &str) {
    if let Err(e) = store.apply(&Batch { ops }) {
        panic!("apply({what}) failed: {e}");
    }
}

fn put_all(store: &dyn Store, messages: &[MessageRecord], what: &str) {
    let ops = messages.iter().cloned().map(Op::PutMessage).collect();
    apply(store, ops, what);
}

fn delete(queue: &str, priority: u8, seq: u64) -> Op {
    Op::DeleteMessage {
        queue: queue.to_owned(),
        priority,
        seq,
    }
}

fn set_redeliveries_op(queue: &str, priority: u8, seq: u64, redeliveries: u32) -> Op {
    Op::SetRedeliveries {
        queue: queue.to_owned(),
        priority,
        seq,
        redeliveries,
    }
}

fn put_destination(name: &str) -> Op {
    Op::PutDestination(DestinationRecord {
        name: name.to_owned(),
        attributes: Vec::new(),
    })
}

fn delete_destination(name: &str) -> Op {
    Op::DeleteDestination {
        name: name.to_owned(),
    }
}

fn load(
    store: &dyn Store,
    queue: &str,
    after: Option<(u8, u64)>,
    limit: usize,
) -> Vec<MessageRecord> {
    store
        .load_queue(queue, after, limit)
        .unwrap_or_else(|e| panic!("load_queue({queue:?}, {after:?}, {limit}) failed: {e}"))
}

fn load_all(store: &dyn Store, queue: &str) -> Vec<MessageRecord> {
    load(store, queue, None, usize::MAX)
}

fn len(store: &dyn Store, queue: &str) -> u64 {
    store
        .queue_len(queue)
        .unwrap_or_else(|e| panic!("queue_len({queue:?}) failed: {e}"))
}

fn destination_names(store: &dyn Store) -> Vec<String> {
    store
        .destinations()
        .unwrap_or_else(|e| panic!("destinations() failed: {e}"))
        .into_iter()
        .map(|d| d.name)
        .collect()
}

fn positions(messages: &[MessageRecord]) -> Vec<(u8, u64)> {
    messages.iter().map(MessageRecord::position).collect()
}

/// Reads `queue` page by page, each request starting after the last message of the previous.
fn load_paged(store: &dyn Store, queue: &str, page: usize) -> Vec<MessageRecord> {
    let mut all: Vec<MessageRecord> = Vec::new();
    loop {
        let after = all.last().map(MessageRecord::position);
        let got = load(store, queue, after, page);
        assert!(
            got.len() <= page,
            "load_queue({queue:?}, {after:?}, {page}) returned {} messages, more than the limit",
            got.len()
        );
        // Each page must move strictly forward, or a store that ignores `after` would loop.
        let mut previous = after;
        for m in &got {
            if let Some(previous) = previous {
                assert!(
                    dispatch_key(m.position()) > dispatch_key(previous),
                    "load_queue({queue:?}, {after:?}, {page}) returned {:?} after {previous:?}: \
                     pages must be in dispatch order and start strictly after `after`",
                    m.position()
                );
            }
            previous = Some(m.position());
        }
        let done = got.len() < page;
        all.extend(got);
        if done {
            return all;
        }
    }
}

/// A deterministic permutation of `items`, so checks do not insert in dispatch order.
fn scrambled<T: Clone>(items: &[T]) -> Vec<T> {
    let mut out = items.to_vec();
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    for i in (1..out.len()).rev() {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        out.swap(i, (x % (i as u64 + 1)) as usize);
    }
    out
}

// ---------------------------------------------------------------------------------------------
// Checks

/// A fresh store holds nothing, reads of unknown queues are empty (not errors), and an empty
/// batch is accepted.
pub fn empty_store(store: &dyn Store) {
    assert_eq!(
        destination_names(store),
        Vec::<String>::new(),
        "fresh store has destinations"
    );
    assert!(
        load_all(store, "q").is_empty(),
        "fresh store returned messages"
    );
    assert!(
        load(store, "q", Some((9, 0)), 10).is_empty(),
        "fresh store: after (9, 0)"
    );
    assert!(load(store, "q", None, 0).is_empty(), "fresh store: limit 0");
    assert_eq!(len(store, "q"), 0, "fresh store: queue_len");
    assert_eq!(
        len(store, ""),
        0,
        "fresh store: queue_len of the empty name"
    );

    apply(store, Vec::new(), "empty batch");
    assert_eq!(
        destination_names(store),
        Vec::<String>::new(),
        "empty batch added a destination"
    );
    assert_eq!(len(store, "q"), 0, "empty batch added a message");
}

/// Every field of a message comes back exactly as stored, including extreme values, binary
/// and empty data, and repeated headers in their original order.
pub fn round_trip_fields(store: &dyn Store) {
    let full = MessageRecord {
        queue: "queue://orders.€".to_owned(),
        seq: u64::MAX,
        priority: MAX_PRIORITY,
        redeliveries: u32::MAX,
        message_id: "ID:host-1234-5678:1:1:1:42 ü".to_owned(),
        expires: u64::MAX,
        timestamp: 1_733_000_000_123,
        headers: vec![
            (
                Bytes::from_static(b"content-type"),
                Bytes::from_static(b"text/plain"),
            ),
            (Bytes::from_static(b"dup"), Bytes::from_static(b"first")),
            (Bytes::from_static(b"empty"), Bytes::new()),
            (Bytes::from_static(b"dup"), Bytes::from_static(b"second")),
            (
                Bytes::from_static(b"bin\0:\n"),
                Bytes::from_static(b"\xff\x00\r\n:\\"),
            ),
        ],
        body: Bytes::from((0..=255u8).cycle().take(70_000).collect::<Vec<u8>>()),
    };
    let bare = MessageRecord {
        queue: full.queue.clone(),
        seq: 0,
        priority: 0,
        redeliveries: 0,
        message_id: String::new(),
        expires: 0,
        timestamp: 0,
        headers: Vec::new(),
        body: Bytes::new(),
    };
    let middling = MessageRecord {
        seq: 1 << 32,
        priority: 4,
        redeliveries: 7,
        expires: 1_733_000_060_000,
        ..message(&full.queue, 4, 1 << 32)
    };
    put_all(
        store,
        &[bare.clone(), full.clone(), middling.clone()],
        "three messages",
    );

    let got = load_all(store, &full.queue);
    assert_eq!(got.len(), 3, "expected 3 messages back, got {}", got.len());
    assert_eq!(got[0], full, "priority-9 message did not round-trip");
    assert_eq!(got[1], middling, "priority-4 message did not round-trip");
    assert_eq!(got[2], bare, "message with empty fields did not round-trip");

    // The same records come back when read one at a time.
    assert_eq!(
        load(store, &full.queue, None, 1),
        vec![full.clone()],
        "first page of 1"
    );
    assert_eq!(
        load(store, &full.queue, Some(full.position()), 1),
        vec![middling.clone()]
    );
    assert_eq!(
        load(store, &full.queue, Some(middling.position()), 1),
        vec![bare.clone()]
    );
    assert!(
        load(store, &full.queue, Some(bare.position()), 1).is_empty(),
        "read past the end"
    );
}

/// Messages come back priority 9 first down to 0, and by ascending seq within a priority,
/// whatever order they were stored in. Seqs straddle byte boundaries to catch keys that are
/// not big-endian.
pub fn dispatch_order(store: &dyn Store) {
    let seqs = [
        0,
        1,
        2,
        255,
        256,
        257,
        65_535,
        65_536,
        1 << 32,
        (1 << 56) + 1,
        u64::MAX,
    ];
    let mut all = Vec::new();
    for priority in 0..=MAX_PRIORITY {
        for (i, &seq) in seqs.iter().enumerate() {
            // Not every priority gets every seq, so seq order and priority order disagree.
            if (i + priority as usize) % 3 != 0 {
                all.push(message("q", priority, seq));
            }
        }
    }
    let shuffled = scrambled(&all);
    let (first, rest) = shuffled.split_at(shuffled.len() / 2);
    put_all(store, first, "first half, shuffled");
    for m in rest {
        put_all(store, std::slice::from_ref(m), "one message");
    }

    let mut expected = all;
    expected.sort_by_key(|m| dispatch_key(m.position()));
    let got = load_all(store, "q");
    assert_eq!(
        positions(&got),
        positions(&expected),
        "load_queue must return priority 9..0, then seq ascending"
    );
    assert_eq!(
        got, expected,
        "messages changed on the way through the store"
    );
}

/// Paging with `after` = the last position read and any `limit` reads every message exactly
/// once, in dispatch order; `limit` bounds every page.
pub fn paging_reads_everything_once(store: &dyn Store) {
    let all: Vec<MessageRecord> = (0..50u64)
        .map(|seq| message("q", ((seq * 7) % 10) as u8, seq))
        .collect();
    put_all(store, &scrambled(&all), "50 messages");
    let mut expected = all;
    expected.sort_by_key(|m| dispatch_key(m.position()));

    for page in [1, 2, 3, 7, 10, 49, 50, 51, usize::MAX] {
        let got = load_paged(store, "q", page);
        assert_eq!(
            positions(&got),
            positions(&expected),
            "paging by {page} did not read every message once in dispatch order"
        );
    }
    assert!(
        load(store, "q", None, 0).is_empty(),
        "limit 0 must return nothing"
    );
}

/// `after` is exclusive and need not name a stored message: the result is exactly the
/// messages that come after that position in dispatch order.
pub fn after_is_exclusive(store: &dyn Store) {
    let stored: Vec<MessageRecord> = [(9, 5), (9, 10), (5, 1), (5, 7), (5, 20), (0, 3), (0, 4)]
        .into_iter()
        .map(|(p, s)| message("q", p, s))
        .collect();
    put_all(store, &stored, "seven messages");
    let mut sorted = stored;
    sorted.sort_by_key(|m| dispatch_key(m.position()));

    for priority in 0..=MAX_PRIORITY {
        for seq in [0, 1, 3, 4, 5, 6, 7, 10, 20, 21, u64::MAX] {
            let after = (priority, seq);
            let expected: Vec<(u8, u64)> = sorted
                .iter()
                .map(MessageRecord::position)
                .filter(|&p| dispatch_key(p) > dispatch_key(after))
                .collect();
            let got = positions(&load(store, "q", Some(after), usize::MAX));
            assert_eq!(got, expected, "load_queue after {after:?}");
        }
    }

    // Resuming after a message that was deleted meanwhile continues with the next one.
    apply(store, vec![delete("q", 5, 7)], "delete (5, 7)");
    assert_eq!(
        positions(&load(store, "q", Some((5, 7)), 2)),
        vec![(5, 20), (0, 3)],
        "resume after a deleted position"
    );
}

/// A put with the key (queue, priority, seq) of a stored message replaces it.
pub fn put_replaces_same_key(store: &dyn Store) {
    let original = message("q", 4, 10);
    put_all(store, std::slice::from_ref(&original), "original");
    let replacement = MessageRecord {
        body: Bytes::from_static(b"replacement"),
        redeliveries: 2,
        headers: Vec::new(),
        ..original
    };
    put_all(store, std::slice::from_ref(&replacement), "replacement");
    assert_eq!(
        load_all(store, "q"),
        vec![replacement],
        "second put must replace the first"
    );
    assert_eq!(
        len(store, "q"),
        1,
        "a replaced message must be counted once"
    );
}

/// DeleteMessage removes exactly the message with that key; deleting a missing message, or
/// naming the right seq with the wrong priority or queue, is not an error and removes nothing.
pub fn delete_message(store: &dyn Store) {
    let msgs = [message("q", 4, 1), message("q", 4, 2), message("q", 4, 3)];
    put_all(store, &msgs, "three messages");
    put_all(
        store,
        &[message("other", 4, 2)],
        "same key in another queue",
    );

    apply(store, vec![delete("q", 4, 2)], "delete (4, 2)");
    assert_eq!(
        positions(&load_all(store, "q")),
        vec![(4, 1), (4, 3)],
        "after delete"
    );
    assert_eq!(len(store, "q"), 2, "queue_len after delete");
    assert_eq!(len(store, "other"), 1, "delete touched another queue");

    apply(
        store,
        vec![delete("q", 4, 2)],
        "delete the same message again",
    );
    apply(
        store,
        vec![delete("q", 7, 1)],
        "delete with the wrong priority",
    );
    apply(store, vec![delete("q", 4, 99)], "delete a seq never stored");
    apply(
        store,
        vec![delete("nowhere", 0, 0)],
        "delete in an unknown queue",
    );
    assert_eq!(
        positions(&load_all(store, "q")),
        vec![(4, 1), (4, 3)],
        "deleting missing messages changed the queue"
    );
    assert_eq!(
        len(store, "nowhere"),
        0,
        "delete in an unknown queue created messages"
    );

    apply(
        store,
        vec![delete("q", 4, 1), delete("q", 4, 3)],
        "delete the rest",
    );
    assert!(
        load_all(store, "q").is_empty(),
        "queue not empty after deleting everything"
    );
    assert_eq!(len(store, "q"), 0, "queue_len after deleting everything");
    assert_eq!(len(store, "other"), 1, "other queue lost its message");
}

/// SetRedeliveries changes only the count of the named message; on a missing message it is
/// not an error and creates nothing.
pub fn set_redeliveries(store: &dyn Store) {
    let target = message("q", 6, 8);
    let neighbour = message("q", 6, 9);
    put_all(store, &[target.clone(), neighbour.clone()], "two messages");

    apply(store, vec![set_redeliveries_op("q", 6, 8, 3)], "set to 3");
    let expected = MessageRecord {
        redeliveries: 3,
        ..target.clone()
    };
    assert_eq!(
        load_all(store, "q"),
        vec![expected, neighbour],
        "only the redelivery count of the named message may change"
    );

    apply(
        store,
        vec![set_redeliveries_op("q", 6, 8, 0)],
        "set back to 0",
    );
    assert_eq!(load(store, "q", None, 1), vec![target], "set back to 0");

    apply(
        store,
        vec![set_redeliveries_op("q", 6, 77, 5)],
        "missing seq",
    );
    apply(
        store,
        vec![set_redeliveries_op("q", 2, 8, 5)],
        "wrong priority",
    );
    apply(
        store,
        vec![set_redeliveries_op("nowhere", 0, 1, 5)],
        "unknown queue",
    );
    let got = load_all(store, "q");
    assert_eq!(
        got.len(),
        2,
        "set_redeliveries on a missing message created one: {got:?}"
    );
    assert!(
        got.iter().all(|m| m.redeliveries == 0),
        "set_redeliveries on a missing key changed another message: {got:?}"
    );
    assert_eq!(
        len(store, "nowhere"),
        0,
        "set_redeliveries created a message"
    );
    assert!(
        load_all(store, "nowhere").is_empty(),
        "set_redeliveries created a message"
    );
}

/// Once `apply` returns, every op of the batch is visible, across queues and destinations.
pub fn batch_all_visible(store: &dyn Store) {
    let mut ops = vec![put_destination("queue://x"), put_destination("queue://y")];
    ops.extend((0..20).map(|seq| Op::PutMessage(message("queue://x", (seq % 10) as u8, seq))));
    ops.extend((0..5).map(|seq| Op::PutMessage(message("queue://y", 4, seq))));
    apply(store, ops, "destinations and messages in one batch");

    assert_eq!(
        destination_names(store),
        ["queue://x", "queue://y"],
        "destinations"
    );
    assert_eq!(len(store, "queue://x"), 20, "queue://x length");
    assert_eq!(len(store, "queue://y"), 5, "queue://y length");
    assert_eq!(load_all(store, "queue://y").len(), 5, "queue://y contents");
}

/// Ops within one batch take effect in order.
pub fn batch_ops_in_order(store: &dyn Store) {
    let m = message("q", 3, 1);
    apply(
        store,
        vec![Op::PutMessage(m.clone()), delete("q", 3, 1)],
        "put then delete",
    );
    assert!(
        load_all(store, "q").is_empty(),
        "put then delete in one batch must leave nothing"
    );
    assert_eq!(len(store, "q"), 0, "put then delete: queue_len");

    apply(
        store,
        vec![delete("q", 3, 1), Op::PutMessage(m.clone())],
        "delete then put",
    );
    assert_eq!(
        load_all(store, "q"),
        vec![m.clone()],
        "delete then put must leave the message"
    );

    let replacement = MessageRecord {
        body: Bytes::from_static(b"second"),
        ..m.clone()
    };
    apply(
        store,
        vec![
            Op::PutMessage(MessageRecord {
                body: Bytes::from_static(b"first"),
                ..m
            }),
            Op::PutMessage(replacement.clone()),
        ],
        "two puts of one key",
    );
    assert_eq!(
        load_all(store, "q"),
        vec![replacement],
        "the later put in a batch must win"
    );

    let fresh = message("r", 1, 1);
    apply(
        store,
        vec![
            Op::PutMessage(fresh.clone()),
            set_redeliveries_op("r", 1, 1, 4),
        ],
        "put then set_redeliveries",
    );
    assert_eq!(
        load_all(store, "r"),
        vec![MessageRecord {
            redeliveries: 4,
            ..fresh.clone()
        }],
        "set_redeliveries must see a put earlier in the same batch"
    );

    apply(
        store,
        vec![
            set_redeliveries_op("r", 1, 1, 9),
            Op::PutMessage(fresh.clone()),
        ],
        "set_redeliveries then put",
    );
    assert_eq!(
        load_all(store, "r"),
        vec![fresh],
        "a later put must replace the updated count"
    );

    apply(
        store,
        vec![put_destination("d"), delete_destination("d")],
        "put then delete destination",
    );
    assert_eq!(
        destination_names(store),
        Vec::<String>::new(),
        "put then delete destination"
    );
    apply(
        store,
        vec![delete_destination("d"), put_destination("d")],
        "delete then put destination",
    );
    assert_eq!(
        destination_names(store),
        ["d"],
        "delete then put destination"
    );

    apply(
        store,
        vec![Op::PutMessage(message("d", 0, 1)), delete_destination("d")],
        "put message then delete its destination",
    );
    assert_eq!(
        len(store, "d"),
        0,
        "delete destination after a put must drop the message"
    );
    assert_eq!(
        destination_names(store),
        Vec::<String>::new(),
        "destination deleted"
    );
    apply(
        store,
        vec![delete_destination("d"), Op::PutMessage(message("d", 0, 2))],
        "delete destination then put a message",
    );
    assert_eq!(
        positions(&load_all(store, "d")),
        vec![(0, 2)],
        "a put after the delete stays"
    );
}

/// A batch holding a message priority above [`MAX_PRIORITY`] fails with
/// [`StoreError::InvalidPriority`] and changes nothing, even its valid ops before the bad one.
pub fn invalid_batch_changes_nothing(store: &dyn Store) {
    let kept = message("q", 5, 1);
    put_all(store, std::slice::from_ref(&kept), "setup");
    apply(
        store,
        vec![put_destination("queue://kept")],
        "setup destination",
    );

    let bad = message("q", MAX_PRIORITY + 1, 3);
    let result = store.apply(&Batch {
        ops: vec![
            Op::PutMessage(message("q", 5, 2)),
            delete("q", 5, 1),
            put_destination("queue://new"),
            delete_destination("queue://kept"),
            Op::PutMessage(bad),
            Op::PutMessage(message("q", 5, 4)),
        ],
    });
    match result {
        Err(StoreError::InvalidPriority {
            queue,
            seq,
            priority,
        }) => {
            assert_eq!(
                (queue.as_str(), seq, priority),
                ("q", 3, MAX_PRIORITY + 1),
                "InvalidPriority must name the offending message"
            );
        }
        other => panic!(
            "a batch with priority {} must fail with InvalidPriority; got {other:?}",
            MAX_PRIORITY + 1
        ),
    }
    assert_eq!(
        load_all(store, "q"),
        vec![kept],
        "a failed batch must change no message"
    );
    assert_eq!(len(store, "q"), 1, "a failed batch must change no message");
    assert_eq!(
        destination_names(store),
        ["queue://kept"],
        "a failed batch must change no destination"
    );
}

/// Queues never see each other's messages, including queues whose names are prefixes of one
/// another or contain NUL, and messages sharing a (priority, seq).
pub fn queues_are_isolated(store: &dyn Store) {
    let names = [
        "a",
        "ab",
        "b",
        "A",
        "a\0",
        "a\0b",
        "a/b",
        "aa",
        "é",
        "queue://a",
    ];
    for (i, name) in names.iter().enumerate() {
        let msgs: Vec<MessageRecord> = (0..=i as u64)
            .flat_map(|seq| [message(name, 0, seq), message(name, MAX_PRIORITY, seq)])
            .collect();
        put_all(store, &msgs, name);
    }
    let check_all = |skip: &[&str], when: &str| {
        for (i, name) in names.iter().enumerate() {
            let expected = if skip.contains(name) { 0 } else { 2 * (i + 1) };
            let got = load_all(store, name);
            assert_eq!(
                got.len(),
                expected,
                "{when}: queue {name:?} holds {} messages",
                got.len()
            );
            assert!(
                got.iter()
                    .all(|m| m.queue == *name && m.body == message(name, m.priority, m.seq).body),
                "{when}: queue {name:?} returned another queue's message"
            );
            assert_eq!(
                len(store, name),
                expected as u64,
                "{when}: queue_len({name:?})"
            );
            // Reading past a queue's last message must not run into the next queue's keys.
            if let Some(last) = got.last() {
                assert!(
                    load(store, name, Some(last.position()), 10).is_empty(),
                    "{when}: load_queue({name:?}) after its last message returned more"
                );
            }
            let page = load(store, name, Some((MAX_PRIORITY, u64::MAX)), usize::MAX);
            assert!(
                page.iter().all(|m| m.queue == *name),
                "{when}: load_queue({name:?}) after the priority-9 range returned another queue"
            );
        }
    };
    check_all(&[], "after puts");

    apply(
        store,
        vec![delete("a", 0, 0), delete("a", MAX_PRIORITY, 0)],
        "empty queue a",
    );
    check_all(&["a"], "after emptying \"a\"");

    apply(
        store,
        vec![delete_destination("ab"), delete_destination("a\0")],
        "drop two queues",
    );
    check_all(&["a", "ab", "a\0"], "after dropping \"ab\" and \"a\\0\"");
}

/// Destinations are listed sorted by name (not by length or insertion), once each, and
/// deleting one, or a missing one, leaves the others.
pub fn destinations(store: &dyn Store) {
    let names = [
        "queue://b",
        "topic://a",
        "queue://aaa",
        "queue://zz",
        "queue://a",
        "queue://a.b",
    ];
    apply(
        store,
        names.iter().map(|n| put_destination(n)).collect(),
        "six destinations",
    );
    apply(
        store,
        vec![put_destination("queue://b")],
        "put an existing destination again",
    );

    let mut expected: Vec<String> = names.iter().map(|n| (*n).to_owned()).collect();
    expected.sort();
    assert_eq!(
        destination_names(store),
        expected,
        "destinations must be sorted by name, once each"
    );

    let records = store
        .destinations()
        .unwrap_or_else(|e| panic!("destinations() failed: {e}"));
    assert_eq!(
        records.first(),
        Some(&DestinationRecord {
            name: "queue://a".to_owned(),
            attributes: Vec::new(),
        }),
        "destination records must round-trip"
    );

    // Attributes round-trip, and putting a destination again replaces them.
    let with = |v: &str| DestinationRecord {
        name: "queue://attrs".to_owned(),
        attributes: vec![
            ("topic".to_owned(), "topic://news".to_owned()),
            ("selector".to_owned(), v.to_owned()),
        ],
    };
    apply(
        store,
        vec![Op::PutDestination(with("a = 'x'"))],
        "put a destination with attributes",
    );
    apply(
        store,
        vec![Op::PutDestination(with("é ' \u{0}"))],
        "replace its attributes",
    );
    let records = store
        .destinations()
        .unwrap_or_else(|e| panic!("destinations() failed: {e}"));
    assert_eq!(
        records.iter().find(|r| r.name == "queue://attrs"),
        Some(&with("é ' \u{0}")),
        "destination attributes must round-trip, the latest put winning"
    );
    apply(
        store,
        vec![delete_destination("queue://attrs")],
        "delete queue://attrs",
    );

    apply(
        store,
        vec![delete_destination("queue://a")],
        "delete queue://a",
    );
    expected.retain(|n| n != "queue://a");
    assert_eq!(
        destination_names(store),
        expected,
        "after deleting queue://a"
    );

    apply(
        store,
        vec![delete_destination("queue://nope")],
        "delete a missing destination",
    );
    apply(
        store,
        vec![delete_destination("queue://a")],
        "delete queue://a again",
    );
    assert_eq!(
        destination_names(store),
        expected,
        "deleting missing destinations changed the list"
    );

    let all: Vec<Op> = expected.iter().map(|n| delete_destination(n)).collect();
    apply(store, all, "delete every destination");
    assert_eq!(
        destination_names(store),
        Vec::<String>::new(),
        "after deleting every destination"
    );
}

/// DeleteDestination removes the destination record and every message stored under that
/// name, and nothing under any other name; it also clears messages of a name that never had a
/// destination record.
pub fn delete_destination_drops_its_messages(store: &dyn Store) {
    apply(
        store,
        vec![put_destination("queue://a"), put_destination("queue://ab")],
        "two destinations",
    );
    let doomed: Vec<MessageRecord> = (0..30)
        .map(|s| message("queue://a", (s % 10) as u8, s))
        .collect();
    let kept: Vec<MessageRecord> = (0..30)
        .map(|s| message("queue://ab", (s % 10) as u8, s))
        .collect();
    put_all(store, &doomed, "messages of queue://a");
    put_all(store, &kept, "messages of queue://ab");
    put_all(
        store,
        &[message("unregistered", 1, 1)],
        "a message without a destination",
    );

    apply(
        store,
        vec![delete_destination("queue://a")],
        "delete queue://a",
    );
    assert_eq!(destination_names(store), ["queue://ab"], "destination list");
    assert_eq!(
        len(store, "queue://a"),
        0,
        "queue_len of a deleted destination"
    );
    assert!(
        load_all(store, "queue://a").is_empty(),
        "messages of a deleted destination remain"
    );
    assert_eq!(
        len(store, "queue://ab"),
        30,
        "deleting queue://a touched queue://ab"
    );

    apply(
        store,
        vec![delete_destination("unregistered")],
        "delete an unregistered name",
    );
    assert_eq!(
        len(store, "unregistered"),
        0,
        "messages of an unregistered name remain"
    );
    assert_eq!(
        len(store, "queue://ab"),
        30,
        "queue://ab after the second delete"
    );

    // The name can be used again from scratch.
    apply(
        store,
        vec![
            put_destination("queue://a"),
            Op::PutMessage(message("queue://a", 2, 100)),
        ],
        "recreate queue://a",
    );
    assert_eq!(
        positions(&load_all(store, "queue://a")),
        vec![(2, 100)],
        "recreated queue"
    );
}

/// `queue_len` counts a queue's messages over every priority and follows puts, replacements
/// and deletes.
pub fn queue_len(store: &dyn Store) {
    assert_eq!(len(store, "q"), 0, "empty queue");
    let msgs: Vec<MessageRecord> = (0..25).map(|s| message("q", (s % 10) as u8, s)).collect();
    put_all(store, &msgs, "25 messages");
    assert_eq!(len(store, "q"), 25, "after 25 puts");
    put_all(store, &msgs[..5], "5 replacements");
    assert_eq!(
        len(store, "q"),
        25,
        "replacements must not be counted twice"
    );
    apply(
        store,
        (0..10).map(|s| delete("q", (s % 10) as u8, s)).collect(),
        "delete 10",
    );
    assert_eq!(len(store, "q"), 15, "after deleting 10");
    assert_eq!(len(store, "q2"), 0, "another queue");
    assert_eq!(len(store, "Q"), 0, "names are case-sensitive");
    apply(store, vec![delete_destination("q")], "delete destination q");
    assert_eq!(len(store, "q"), 0, "after deleting the destination");
}

fn max_seq(store: &dyn Store) -> u64 {
    store
        .max_seq()
        .unwrap_or_else(|e| panic!("max_seq() failed: {e}"))
}

/// `max_seq` is 0 on an empty store, the highest seq stored (over every queue and priority)
/// after puts, and never goes back: deleting messages, even the one with the highest seq or
/// its whole destination, leaves it at least at the highest seq ever stored, so a broker that
/// numbers above it never reuses a number.
pub fn max_seq_is_a_high_water_mark(store: &dyn Store) {
    assert_eq!(max_seq(store), 0, "empty store");
    // Destinations first, as the broker records them.
    apply(
        store,
        vec![put_destination("a"), put_destination("b")],
        "two destinations",
    );
    assert_eq!(max_seq(store), 0, "destinations without messages");

    put_all(
        store,
        &[message("a", 9, 3), message("a", 0, 40), message("a", 4, 7)],
        "three messages in a",
    );
    assert_eq!(
        max_seq(store),
        40,
        "after puts to a (the highest seq is last in dispatch order)"
    );
    // Seqs spanning byte boundaries and the high bit, on another queue, in one batch.
    put_all(
        store,
        &[
            message("b", 5, 0x01_00),
            message("b", 5, 1 << 63),
            message("b", 1, 255),
        ],
        "three messages in b",
    );
    assert_eq!(max_seq(store), 1 << 63, "after puts to b");
    put_all(store, &[message("a", 2, 100)], "a lower seq");
    assert_eq!(max_seq(store), 1 << 63, "a lower seq lowered it");

    apply(
        store,
        vec![delete("b", 5, 1 << 63)],
        "delete the highest seq",
    );
    assert!(
        max_seq(store) >= 1 << 63,
        "deleting the message with the highest seq lowered max_seq to {}",
        max_seq(store)
    );
    let mark = max_seq(store);
    apply(
        store,
        vec![delete_destination("b"), delete_destination("a")],
        "delete every destination",
    );
    assert!(
        len(store, "a") == 0 && len(store, "b") == 0,
        "messages left"
    );
    assert!(
        max_seq(store) >= mark,
        "deleting destinations lowered max_seq from {mark} to {}",
        max_seq(store)
    );

    apply(store, vec![put_destination("c")], "destination c");
    put_all(store, &[message("c", 0, u64::MAX)], "seq u64::MAX");
    assert_eq!(max_seq(store), u64::MAX, "after seq u64::MAX");
}

/// Batches applied from several threads at once all land, and a reader never sees part of a
/// batch.
pub fn concurrent_batches(store: &dyn Store) {
    const WRITERS: u64 = 4;
    const BATCHES: u64 = 100;
    std::thread::scope(|scope| {
        for writer in 0..WRITERS {
            scope.spawn(move || {
                for b in 0..BATCHES {
                    // Each batch adds two messages to the shared queue, so its length is
                    // always even to anyone who sees whole batches only.
                    let seq = (writer * BATCHES + b) * 2;
                    put_all(
                        store,
                        &[
                            message("shared", (b % 10) as u8, seq),
                            message("shared", (b % 10) as u8, seq + 1),
                            message(&format!("own-{writer}"), 0, b),
                        ],
                        "concurrent batch",
                    );
                }
            });
        }
        scope.spawn(|| {
            for _ in 0..200 {
                let n = len(store, "shared");
                assert_eq!(n % 2, 0, "queue_len saw half a batch ({n} messages)");
                let loaded = load_all(store, "shared").len();
                assert_eq!(
                    loaded % 2,
                    0,
                    "load_queue saw half a batch ({loaded} messages)"
                );
            }
        });
    });

    let total = WRITERS * BATCHES * 2;
    assert_eq!(
        len(store, "shared"),
        total,
        "concurrent batches lost messages"
    );
    let seqs: BTreeSet<u64> = load_all(store, "shared").iter().map(|m| m.seq).collect();
    assert_eq!(
        seqs,
        (0..total).collect(),
        "concurrent batches lost or mixed up messages"
    );
    for writer in 0..WRITERS {
        assert_eq!(
            len(store, &format!("own-{writer}")),
            BATCHES,
            "own-{writer} length"
        );
    }
}

/// 10,000 messages over every priority, written in batches of 1,000 and read in pages of 333,
/// come back once each in dispatch order; then half are deleted in one batch.
pub fn volume(store: &dyn Store) {
    const N: u64 = 10_000;
    const PAGE: usize = 333;
    let all: Vec<MessageRecord> = (0..N)
        .map(|s| message("bulk", ((s * 7) % 10) as u8, s))
        .collect();
    for chunk in scrambled(&all).chunks(1_000) {
        put_all(store, chunk, "1,000 messages");
    }
    assert_eq!(len(store, "bulk"), N, "queue_len after {N} puts");

    let mut expected = all;
    expected.sort_by_key(|m| dispatch_key(m.position()));
    let got = load_paged(store, "bulk", PAGE);
    assert_eq!(
        got.len(),
        N as usize,
        "paging by {PAGE} read {} of {N} messages",
        got.len()
    );
    assert!(
        got == expected,
        "paging by {PAGE} did not return every message once in dispatch order"
    );

    let deletes = expected
        .iter()
        .filter(|m| m.seq % 2 == 0)
        .map(|m| delete("bulk", m.priority, m.seq))
        .collect();
    apply(store, deletes, "delete every even seq");
    expected.retain(|m| m.seq % 2 == 1);
    assert_eq!(len(store, "bulk"), N / 2, "queue_len after deleting half");
    let got = load_paged(store, "bulk", PAGE);
    assert!(
        positions(&got) == positions(&expected),
        "after deleting half, paging by {PAGE} returned {} messages, not the {} odd seqs in order",
        got.len(),
        expected.len()
    );
}
