//! Priority, scheduling, redelivery back-off, dead-lettering, expiry and redrive, through the
//! public API with the in-memory store and Tokio's paused clock: time only moves when the
//! test (or an idle runtime) advances it, so delays are exact and the tests take no time.
//!
//! A paused runtime also jumps its clock to the next timer whenever it waits for the storage
//! thread (an OS thread it cannot see), so the paused tests use non-persistent messages (no
//! store waits); tests about persistence run in real time with short delays, and check the
//! store with [`eventually`].

use std::sync::Arc;
use std::time::Duration;

use broker_core::{
    Broker, Clock, Connection, ConsumerId, ConsumerSpec, CoreConfig, DeadLetterPolicy,
    DeadLetterStrategy, Delivery, Destination, DestinationPattern, DestinationPolicy, Message,
    PolicyEntry, PolicyMap, PriorityLane, RedeliveryPolicy, Schedule,
};
use broker_store::{MemStore, Store};
use bytes::Bytes;

const START: u64 = 1_700_000_000_000;

fn config(policies: PolicyMap) -> CoreConfig {
    CoreConfig {
        policies: Arc::new(policies),
        clock: Clock::tokio(START),
        ..CoreConfig::default()
    }
}

fn broker_with(policies: PolicyMap, store: &Arc<MemStore>) -> Broker {
    let store: Arc<dyn Store> = store.clone();
    Broker::new(config(policies), store).unwrap()
}

fn redelivery(max: i32, initial: u64, delay: u64) -> RedeliveryPolicy {
    RedeliveryPolicy {
        maximum_redeliveries: max,
        initial_redelivery_delay: initial,
        redelivery_delay: delay,
        ..RedeliveryPolicy::activemq_defaults()
    }
}

fn with_defaults(f: impl FnOnce(&mut DestinationPolicy)) -> PolicyMap {
    let mut map = PolicyMap::default();
    f(&mut map.defaults);
    map
}

fn msg(conn: &mut Connection, dest: &Destination, body: &str, priority: u8) -> Message {
    Message {
        persistent: true,
        priority,
        body: Bytes::copy_from_slice(body.as_bytes()),
        ..Message::new(conn.new_message_id(), dest.clone(), conn.id())
    }
}

async fn send(conn: &mut Connection, m: Message) {
    conn.send(m, None, true).await.unwrap();
}

/// Waits (in real time, letting the actors run) until `cond` holds; the store is written by
/// its own thread.
async fn eventually(what: &str, cond: impl Fn() -> bool) {
    for _ in 0..2000 {
        if cond() {
            return;
        }
        tokio::task::yield_now().await;
        std::thread::sleep(Duration::from_millis(1));
    }
    panic!("timed out waiting for: {what}");
}

/// Stops a broker as the binary does: no new work, then wait for the storage thread to finish
/// what the destinations queued (a count a closing consumer's NACK-back wrote, say), so a
/// broker started next on the same store reads everything. Real-time tests only.
async fn stop(b: Broker) {
    let storage = b.take_storage_thread();
    b.shutdown();
    drop(b);
    if let Some(t) = storage {
        let joined = tokio::time::timeout(
            Duration::from_secs(20),
            tokio::task::spawn_blocking(move || t.join()),
        )
        .await;
        assert!(joined.is_ok(), "the storage thread did not finish");
    }
}

fn transient(mut m: Message) -> Message {
    m.persistent = false;
    m
}

async fn put_transient(conn: &mut Connection, dest: &Destination, body: &str, priority: u8) {
    let m = transient(msg(conn, dest, body, priority));
    send(conn, m).await;
}

async fn put(conn: &mut Connection, dest: &Destination, body: &str, priority: u8) {
    let m = msg(conn, dest, body, priority);
    send(conn, m).await;
}

fn spec(dest: &Destination, prefetch: u32) -> ConsumerSpec {
    ConsumerSpec {
        destination: dest.clone(),
        prefetch,
        no_local: false,
        max_pending: None,
        selector: None,
        exclusive: false,
        priority: 0,
    }
}

async fn recv(conn: &mut Connection) -> Delivery {
    recv_within(conn, 20).await
}

async fn recv_within(conn: &mut Connection, secs: u64) -> Delivery {
    tokio::time::timeout(Duration::from_secs(secs), conn.recv())
        .await
        .expect("a delivery")
        .expect("channel open")
}

/// Nothing arrives within `ms` of (virtual) time.
async fn nothing_for(conn: &mut Connection, ms: u64) {
    if let Ok(d) = tokio::time::timeout(Duration::from_millis(ms), conn.recv()).await {
        panic!("unexpected delivery {:?}", d.map(|d| body(&d).to_owned()));
    }
}

fn body(d: &Delivery) -> &str {
    std::str::from_utf8(&d.message.body).unwrap()
}

async fn ack(conn: &mut Connection, id: ConsumerId, d: &Delivery) {
    conn.ack(id, d.tag, false, None, true).await.unwrap();
}

async fn drain_bodies(conn: &mut Connection, id: ConsumerId, n: usize) -> Vec<String> {
    let mut out = Vec::new();
    for _ in 0..n {
        let d = recv(conn).await;
        out.push(body(&d).to_owned());
        ack(conn, id, &d).await;
    }
    out
}

#[tokio::test]
async fn backlog_is_delivered_highest_priority_first_fifo_within() {
    let store = Arc::new(MemStore::new());
    let b = broker_with(PolicyMap::default(), &store);
    let q = Destination::queue("prio");
    let mut p = b.connect();
    let order = [3u8, 9, 0, 4, 9, 7, 3, 0, 7];
    for (i, prio) in order.iter().enumerate() {
        put(&mut p, &q, &format!("{prio}-{i}"), *prio).await;
    }
    let mut c = b.connect();
    let id = c.subscribe(spec(&q, 1)).await.unwrap();
    let got = drain_bodies(&mut c, id, order.len()).await;
    assert_eq!(
        got,
        ["9-1", "9-4", "7-5", "7-8", "4-3", "3-0", "3-6", "0-2", "0-7"]
    );
}

#[tokio::test]
async fn fifo_when_prioritized_messages_is_off() {
    let store = Arc::new(MemStore::new());
    let b = broker_with(with_defaults(|d| d.prioritized_messages = false), &store);
    let q = Destination::queue("fifo");
    let mut p = b.connect();
    for (i, prio) in [1u8, 9, 5].iter().enumerate() {
        put(&mut p, &q, &format!("m{i}"), *prio).await;
    }
    let mut c = b.connect();
    let id = c.subscribe(spec(&q, 1)).await.unwrap();
    assert_eq!(drain_bodies(&mut c, id, 3).await, ["m0", "m1", "m2"]);
}

#[tokio::test]
async fn priority_order_holds_across_restart_and_paging() {
    let store = Arc::new(MemStore::new());
    // A memory limit of a few messages: most of the backlog is paged out.
    let small = |policies| CoreConfig {
        memory_limit: 4 * 1024,
        page_size: 8,
        ..config(policies)
    };
    let dyn_store: Arc<dyn Store> = store.clone();
    let b = Broker::new(small(PolicyMap::default()), dyn_store.clone()).unwrap();
    let q = Destination::queue("paged");
    let mut p = b.connect();
    let pad = "x".repeat(400);
    let mut expected = Vec::new();
    for i in 0..120u32 {
        let prio = ((i * 7) % 10) as u8;
        let m = Message {
            properties: vec![(Bytes::from_static(b"pad"), Bytes::from(pad.clone()))],
            ..msg(&mut p, &q, &format!("{prio}-{i:03}"), prio)
        };
        send(&mut p, m).await;
        expected.push((std::cmp::Reverse(prio), i));
    }
    expected.sort();
    let expected: Vec<String> = expected
        .iter()
        .map(|(std::cmp::Reverse(p), i)| format!("{p}-{i:03}"))
        .collect();
    // Half before a restart, half after.
    let mut c = b.connect();
    let id = c.subscribe(spec(&q, 1)).await.unwrap();
    let first = drain_bodies(&mut c, id, 60).await;
    assert_eq!(first, expected[..60]);
    c.close().await;
    p.close().await;
    stop(b).await;
    let b = Broker::new(small(PolicyMap::default()), dyn_store).unwrap();
    let mut c = b.connect();
    let id = c.subscribe(spec(&q, 3)).await.unwrap();
    let rest = drain_bodies(&mut c, id, 60).await;
    assert_eq!(rest, expected[60..]);
    nothing_for(&mut c, 100).await;
}

#[tokio::test]
async fn high_priority_arriving_while_paged_overtakes_the_paged_backlog() {
    let store = Arc::new(MemStore::new());
    let dyn_store: Arc<dyn Store> = store.clone();
    let cfg = CoreConfig {
        memory_limit: 4 * 1024,
        page_size: 8,
        ..config(PolicyMap::default())
    };
    let b = Broker::new(cfg, dyn_store).unwrap();
    let q = Destination::queue("overtake");
    let mut p = b.connect();
    let pad = "x".repeat(400);
    for i in 0..50 {
        let m = Message {
            properties: vec![(Bytes::from_static(b"pad"), Bytes::from(pad.clone()))],
            ..msg(&mut p, &q, &format!("low-{i:02}"), 1)
        };
        send(&mut p, m).await;
    }
    for i in 0..20 {
        let m = Message {
            properties: vec![(Bytes::from_static(b"pad"), Bytes::from(pad.clone()))],
            ..msg(&mut p, &q, &format!("high-{i:02}"), 8)
        };
        send(&mut p, m).await;
    }
    let (used, limit) = b.memory_usage();
    // Bounded by the limit plus one page read ahead (8 messages of ~600 bytes).
    assert!(
        used <= limit + 8 * 700,
        "memory stays bounded: {used} > {limit}"
    );
    let mut c = b.connect();
    let id = c.subscribe(spec(&q, 1)).await.unwrap();
    let got = drain_bodies(&mut c, id, 70).await;
    let want: Vec<String> = (0..20)
        .map(|i| format!("high-{i:02}"))
        .chain((0..50).map(|i| format!("low-{i:02}")))
        .collect();
    assert_eq!(got, want);
}

#[tokio::test]
async fn nacked_message_waits_behind_higher_priority_paged_out_messages() {
    let store = Arc::new(MemStore::new());
    let dyn_store: Arc<dyn Store> = store.clone();
    let cfg = CoreConfig {
        memory_limit: 4 * 1024,
        page_size: 8,
        ..config(PolicyMap::default())
    };
    let b = Broker::new(cfg, dyn_store).unwrap();
    let q = Destination::queue("evict-nack");
    let mut p = b.connect();
    let pad = "x".repeat(400);
    let padded = |m: Message| Message {
        properties: vec![(Bytes::from_static(b"pad"), Bytes::from(pad.clone()))],
        ..m
    };
    for i in 0..30 {
        let m = padded(msg(&mut p, &q, &format!("low-{i:02}"), 1));
        send(&mut p, m).await;
    }
    let mut c = b.connect();
    let id = c.subscribe(spec(&q, 1)).await.unwrap();
    let held = recv(&mut c).await;
    assert_eq!(body(&held), "low-00");
    for i in 0..10 {
        let m = padded(msg(&mut p, &q, &format!("high-{i:02}"), 8));
        send(&mut p, m).await;
    }
    c.nack(id, held.tag, None).await.unwrap();
    let got = drain_bodies(&mut c, id, 40).await;
    let want: Vec<String> = (0..10)
        .map(|i| format!("high-{i:02}"))
        .chain((0..30).map(|i| format!("low-{i:02}")))
        .collect();
    assert_eq!(got, want);
}

#[tokio::test]
async fn nacked_message_does_not_overtake_higher_priority_left_in_the_store() {
    // Memory is held full by another queue, so the high-priority messages stay in the store
    // (paging can read nothing) while a consumer NACKs the low one it holds: the low one
    // must wait behind them, not be redelivered from memory ahead of them.
    let store = Arc::new(MemStore::new());
    let dyn_store: Arc<dyn Store> = store.clone();
    let cfg = CoreConfig {
        memory_limit: 64 * 1024,
        page_size: 8,
        ..config(PolicyMap::default())
    };
    let b = Broker::new(cfg, dyn_store).unwrap();
    let q = Destination::queue("held-low");
    let filler = Destination::queue("filler");
    let mut p = b.connect();
    for i in 0..5 {
        put(&mut p, &q, &format!("low-{i:02}"), 1).await;
    }
    let mut c = b.connect();
    let id = c.subscribe(spec(&q, 1)).await.unwrap();
    let held = recv(&mut c).await;
    assert_eq!(body(&held), "low-00");
    let mut big = transient(msg(&mut p, &filler, "big", 4));
    big.body = Bytes::from(vec![b'x'; 70 * 1024]);
    send(&mut p, big).await;
    for i in 0..3 {
        put(&mut p, &q, &format!("high-{i:02}"), 8).await;
    }
    c.nack(id, held.tag, None).await.unwrap();
    nothing_for(&mut c, 300).await;
    // Free the memory: the queue pages its backlog back in, best first.
    let mut f = b.connect();
    let fid = f.subscribe(spec(&filler, 1)).await.unwrap();
    let d = recv(&mut f).await;
    ack(&mut f, fid, &d).await;
    let got = drain_bodies(&mut c, id, 8).await;
    assert_eq!(
        got,
        ["high-00", "high-01", "high-02", "low-00", "low-01", "low-02", "low-03", "low-04"]
    );
}

#[tokio::test(start_paused = true)]
async fn nack_redelivers_after_back_off_without_blocking_others() {
    let store = Arc::new(MemStore::new());
    let policies = with_defaults(|d| {
        d.redelivery = RedeliveryPolicy {
            use_exponential_back_off: true,
            back_off_multiplier: 2.0,
            ..redelivery(5, 1000, 1000)
        }
    });
    let b = broker_with(policies, &store);
    let q = Destination::queue("backoff");
    let mut p = b.connect();
    put_transient(&mut p, &q, "failing", 9).await;
    let mut c = b.connect();
    let id = c.subscribe(spec(&q, 1)).await.unwrap();
    let d = recv(&mut c).await;
    assert_eq!((body(&d), d.redeliveries), ("failing", 0));
    let t0 = tokio::time::Instant::now();
    c.nack(id, d.tag, None).await.unwrap();
    // During the back-off a lower-priority message is delivered at once.
    put_transient(&mut p, &q, "other", 1).await;
    let d = recv(&mut c).await;
    assert_eq!(body(&d), "other");
    assert_eq!(t0.elapsed(), Duration::ZERO);
    ack(&mut c, id, &d).await;
    let mut waits = Vec::new();
    for n in 1..=3u32 {
        let d = recv(&mut c).await;
        assert_eq!((body(&d), d.redeliveries), ("failing", n));
        waits.push(t0.elapsed().as_millis());
        let t = tokio::time::Instant::now();
        c.nack(id, d.tag, None).await.unwrap();
        let _ = t;
    }
    // 1000, then ×2 each time: deliveries at 1 s, 3 s, 7 s after the first NACK.
    assert_eq!(waits, [1000, 3000, 7000]);
}

#[tokio::test]
async fn redelivery_count_is_persisted() {
    let store = Arc::new(MemStore::new());
    let b = broker_with(PolicyMap::default(), &store);
    let q = Destination::queue("counted");
    let mut p = b.connect();
    put(&mut p, &q, "m", 4).await;
    let mut c = b.connect();
    let id = c.subscribe(spec(&q, 1)).await.unwrap();
    for n in 0..3 {
        let d = recv(&mut c).await;
        assert_eq!(d.redeliveries, n);
        c.nack(id, d.tag, None).await.unwrap();
    }
    let _ = recv(&mut c).await;
    eventually("count stored", || {
        store.load_queue("queue://counted", None, 10).unwrap()[0].redeliveries == 3
    })
    .await;
    c.close().await;
    p.close().await;
    stop(b).await;
    let b = broker_with(PolicyMap::default(), &store);
    let mut c = b.connect();
    c.subscribe(spec(&q, 1)).await.unwrap();
    let d = recv(&mut c).await;
    // Three NACKs and one delivery left unacknowledged at close.
    assert_eq!(d.redeliveries, 4);
}

#[tokio::test]
async fn exhausted_redeliveries_go_to_the_dead_letter_queue_and_redrive_back() {
    let store = Arc::new(MemStore::new());
    let policies = PolicyMap {
        entries: vec![(
            DestinationPattern::queue(">"),
            PolicyEntry {
                dead_letter: Some(DeadLetterPolicy {
                    strategy: DeadLetterStrategy::Individual {
                        queue_prefix: "DLQ.".into(),
                        topic_prefix: "DLQ.".into(),
                        queue_suffix: String::new(),
                        topic_suffix: String::new(),
                        use_queue_for_queue_messages: true,
                        use_queue_for_topic_messages: true,
                        destination_per_durable_subscriber: false,
                    },
                    ..DeadLetterPolicy::default()
                }),
                ..PolicyEntry::default()
            },
        )],
        // A long back-off on the DLQ itself: redrive must not wait for it.
        redelivery: vec![(
            DestinationPattern::queue("DLQ.>"),
            redelivery(2, 60_000, 60_000),
        )],
        ..with_defaults(|d| d.redelivery = redelivery(2, 10, 10))
    };
    let b = broker_with(policies, &store);
    let q = Destination::queue("orders");
    let dlq = Destination::queue("DLQ.orders");
    let mut p = b.connect();
    let mut m = msg(&mut p, &q, "poison", 6);
    m.properties = vec![(Bytes::from_static(b"k"), Bytes::from_static(b"v"))];
    send(&mut p, m).await;
    let mut c = b.connect();
    let id = c.subscribe(spec(&q, 1)).await.unwrap();
    for n in 0..=2 {
        let d = recv(&mut c).await;
        assert_eq!(d.redeliveries, n);
        c.nack(id, d.tag, None).await.unwrap();
    }
    nothing_for(&mut c, 300).await;
    eventually("moved in the store", || {
        store.queue_len("queue://orders").unwrap() == 0
            && store.queue_len("queue://DLQ.orders").unwrap() == 1
    })
    .await;
    let mut dc = b.connect();
    let did = dc.subscribe(spec(&dlq, 1)).await.unwrap();
    let d = recv(&mut dc).await;
    let m = &d.message;
    assert_eq!(body(&d), "poison");
    assert_eq!(m.priority, 6);
    assert_eq!(m.extras().original_destination.as_ref(), Some(&q));
    assert!(m
        .extras()
        .failure_cause
        .as_deref()
        .unwrap()
        .contains("exceeds redelivery policy limit"));
    assert_eq!(
        m.properties,
        [
            (Bytes::from_static(b"k"), Bytes::from_static(b"v")),
            (
                Bytes::from_static(b"originalExpiration"),
                Bytes::from_static(b"0")
            )
        ]
    );
    assert_eq!(d.redeliveries, 3, "the delivery count travels with it");
    // Give it back unacknowledged (the DLQ counts that as a redelivery, and a dead letter is
    // never dead-lettered again, so it waits out the back-off in the DLQ), then redrive it
    // at once: redrive takes it out of the back-off too.
    dc.unsubscribe(did).await.unwrap();
    assert_eq!(b.stats(&dlq).await.unwrap().delayed, 1);
    assert_eq!(b.redrive(&dlq, None).await.unwrap(), 1);
    let d = recv(&mut c).await;
    assert_eq!(body(&d), "poison");
    assert_eq!(d.redeliveries, 0);
    assert!(d.message.extras().original_destination.is_none());
    assert!(d.message.extras().failure_cause.is_none());
    assert_eq!(
        d.message.properties,
        [(Bytes::from_static(b"k"), Bytes::from_static(b"v"))],
        "what dead-lettering added is gone"
    );
    ack(&mut c, id, &d).await;
    eventually("consumed", || {
        store.queue_len("queue://DLQ.orders").unwrap() == 0
            && store.queue_len("queue://orders").unwrap() == 0
    })
    .await;
}

#[tokio::test]
async fn default_strategy_is_shared_dlq_and_non_persistent_is_dropped() {
    let store = Arc::new(MemStore::new());
    let b = broker_with(
        with_defaults(|d| d.redelivery = redelivery(0, 0, 0)),
        &store,
    );
    let q = Destination::queue("np");
    let mut p = b.connect();
    put(&mut p, &q, "kept", 4).await;
    let mut transient = msg(&mut p, &q, "dropped", 4);
    transient.persistent = false;
    send(&mut p, transient).await;
    let mut c = b.connect();
    let id = c.subscribe(spec(&q, 1)).await.unwrap();
    for _ in 0..2 {
        let d = recv(&mut c).await;
        c.nack(id, d.tag, None).await.unwrap();
    }
    let mut dc = b.connect();
    let did = dc
        .subscribe(spec(&Destination::queue("ActiveMQ.DLQ"), 5))
        .await
        .unwrap();
    assert_eq!(drain_bodies(&mut dc, did, 1).await, ["kept"]);
    nothing_for(&mut dc, 100).await;
}

#[tokio::test]
async fn process_non_persistent_dead_letters_non_persistent_messages() {
    let store = Arc::new(MemStore::new());
    let b = broker_with(
        with_defaults(|d| {
            d.redelivery = redelivery(0, 0, 0);
            d.dead_letter.process_non_persistent = true;
        }),
        &store,
    );
    let q = Destination::queue("np-kept");
    let mut p = b.connect();
    put_transient(&mut p, &q, "transient", 4).await;
    let mut c = b.connect();
    let id = c.subscribe(spec(&q, 1)).await.unwrap();
    let d = recv(&mut c).await;
    c.nack(id, d.tag, None).await.unwrap();
    let mut dc = b.connect();
    let dlq = Destination::queue("ActiveMQ.DLQ");
    let did = dc.subscribe(spec(&dlq, 5)).await.unwrap();
    let d = recv(&mut dc).await;
    assert_eq!(body(&d), "transient");
    assert!(
        d.message.persistent,
        "a dead letter is kept on disk, as in ActiveMQ"
    );
    assert_eq!(d.message.extras().original_destination.as_ref(), Some(&q));
    ack(&mut dc, did, &d).await;
}

/// A durable subscriber's messages follow the topic's policy entry (not one for queues
/// matching the subscription's internal queue), are dead-lettered as the topic's, with the
/// topic as their origin, and redrive publishes them to the topic again, as in ActiveMQ.
#[tokio::test]
async fn durable_subscription_follows_its_topic_policy_and_dead_letters_as_the_topic() {
    let store = Arc::new(MemStore::new());
    let dead_letter = |prefix: &str| DeadLetterPolicy {
        strategy: DeadLetterStrategy::Individual {
            queue_prefix: prefix.into(),
            topic_prefix: prefix.into(),
            queue_suffix: String::new(),
            topic_suffix: String::new(),
            use_queue_for_queue_messages: true,
            use_queue_for_topic_messages: true,
            destination_per_durable_subscriber: false,
        },
        ..DeadLetterPolicy::default()
    };
    let policies = PolicyMap {
        entries: vec![
            (
                DestinationPattern::queue(">"),
                PolicyEntry {
                    prioritized_messages: Some(true),
                    dead_letter: Some(dead_letter("QDLQ.")),
                    ..PolicyEntry::default()
                },
            ),
            (
                DestinationPattern::topic("news.>"),
                PolicyEntry {
                    prioritized_messages: Some(false),
                    dead_letter: Some(dead_letter("TDLQ.")),
                    ..PolicyEntry::default()
                },
            ),
        ],
        redelivery: vec![
            (DestinationPattern::queue(">"), redelivery(5, 0, 0)),
            (DestinationPattern::topic("news.>"), redelivery(1, 10, 10)),
        ],
        ..PolicyMap::default()
    };
    let policies_again = policies.clone();
    let b = broker_with(policies, &store);
    let topic = Destination::topic("news.eu");
    let mut sub = b.connect();
    sub.claim_client_id("app").unwrap();
    let id = sub.subscribe_durable("s", spec(&topic, 10)).await.unwrap();
    let mut other = b.connect();
    other.claim_client_id("other").unwrap();
    let other_id = other
        .subscribe_durable("s", spec(&topic, 10))
        .await
        .unwrap();
    let mut p = b.connect();
    put(&mut p, &topic, "low", 1).await;
    put(&mut p, &topic, "high", 9).await;
    // The topic's prioritizedMessages=false holds: arrival order.
    assert_eq!(drain_bodies(&mut other, other_id, 2).await, ["low", "high"]);
    let first = recv(&mut sub).await;
    assert_eq!(body(&first), "low");
    ack(&mut sub, id, &first).await;
    // The topic's maximumRedeliveries=1: the second NACK dead-letters.
    for n in 0..=1 {
        let d = recv(&mut sub).await;
        assert_eq!((body(&d), d.redeliveries), ("high", n));
        sub.nack(id, d.tag, None).await.unwrap();
    }
    let dlq = Destination::queue("TDLQ.news.eu");
    let mut dc = b.connect();
    let did = dc.subscribe(spec(&dlq, 1)).await.unwrap();
    let d = recv(&mut dc).await;
    assert_eq!(body(&d), "high");
    assert_eq!(
        d.message.extras().original_destination.as_ref(),
        Some(&topic)
    );
    dc.unsubscribe(did).await.unwrap();
    eventually("dead-lettered in the store", || {
        store.queue_len("queue://TDLQ.news.eu").unwrap() == 1
    })
    .await;
    // Redrive publishes it to the topic: every durable subscriber gets it again.
    assert_eq!(b.redrive(&dlq, None).await.unwrap(), 1);
    let d = recv(&mut sub).await;
    assert_eq!((body(&d), d.redeliveries), ("high", 0));
    assert_eq!(d.message.destination, topic);
    ack(&mut sub, id, &d).await;
    assert_eq!(drain_bodies(&mut other, other_id, 1).await, ["high"]);
    eventually("redriven and consumed", || {
        store.queue_len("queue://TDLQ.news.eu").unwrap() == 0
    })
    .await;
    assert!(b
        .destinations()
        .iter()
        .all(|d| !d.name().starts_with("QDLQ.")));
    // After a restart the subscription's queue still follows the topic's entry.
    let queue = broker_core::durable_queue("app", "s");
    assert!(!b.policy(&queue).prioritized_messages);
    for c in [sub, other, p, dc] {
        c.close().await;
    }
    stop(b).await;
    let b = broker_with(policies_again, &store);
    assert!(!b.policy(&queue).prioritized_messages);
    assert_eq!(b.policy(&queue).redelivery.maximum_redeliveries, 1);
}

/// ActiveMQ's `destinationPerDurableSubscriber`: a DLQ per durable subscription, named after
/// the topic plus `.<client-id>:<subscription name>`.
#[tokio::test]
async fn destination_per_durable_subscriber_names_the_subscription() {
    let store = Arc::new(MemStore::new());
    let policies = with_defaults(|d| {
        d.redelivery = redelivery(0, 0, 0);
        d.dead_letter.strategy = DeadLetterStrategy::individual_defaults();
        if let DeadLetterStrategy::Individual {
            destination_per_durable_subscriber,
            ..
        } = &mut d.dead_letter.strategy
        {
            *destination_per_durable_subscriber = true;
        }
    });
    let b = broker_with(policies, &store);
    let topic = Destination::topic("alerts");
    let mut sub = b.connect();
    sub.claim_client_id("app").unwrap();
    let id = sub.subscribe_durable("s", spec(&topic, 1)).await.unwrap();
    let mut p = b.connect();
    put(&mut p, &topic, "poison", 4).await;
    let d = recv(&mut sub).await;
    sub.nack(id, d.tag, None).await.unwrap();
    let dlq = Destination::queue("ActiveMQ.DLQ.Topic.alerts.app:s");
    let mut dc = b.connect();
    let did = dc.subscribe(spec(&dlq, 1)).await.unwrap();
    let d = recv(&mut dc).await;
    assert_eq!(body(&d), "poison");
    assert_eq!(
        d.message.extras().original_destination.as_ref(),
        Some(&topic)
    );
    ack(&mut dc, did, &d).await;
}

/// The strategy's `expiration`: a dead letter expires that long after it was dead-lettered
/// and is then dropped, not dead-lettered again (ActiveMQ's way to bound a DLQ). A message
/// that expires in the DLQ its own strategy names is dropped too, not kept forever.
#[tokio::test]
async fn dead_letters_expire_per_the_strategy_and_are_dropped() {
    let store = Arc::new(MemStore::new());
    let b = broker_with(
        with_defaults(|d| {
            d.redelivery = redelivery(0, 0, 0);
            d.dead_letter.expiration = 300;
            d.expire_messages_period = 50;
        }),
        &store,
    );
    let q = Destination::queue("short-dlq");
    let dlq = Destination::queue("ActiveMQ.DLQ");
    let mut p = b.connect();
    put(&mut p, &q, "poison", 4).await;
    let mut straight = msg(&mut p, &dlq, "sent-to-the-dlq", 4);
    straight.expires = b.now_ms() + 100;
    send(&mut p, straight).await;
    let mut c = b.connect();
    let id = c.subscribe(spec(&q, 1)).await.unwrap();
    let before = b.now_ms();
    let d = recv(&mut c).await;
    c.nack(id, d.tag, None).await.unwrap();
    let mut dc = b.connect();
    let mut dead = None;
    for _ in 0..200 {
        let seen = dc.browse(&dlq, None).await.unwrap();
        dead = seen.into_iter().find(|(m, _)| m.body.as_ref() == b"poison");
        if dead.is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let (dead, _) = dead.expect("the dead letter in the DLQ");
    assert!(
        dead.expires >= before + 300 && dead.expires <= b.now_ms() + 300,
        "expires {} not 300 ms after dead-lettering",
        dead.expires
    );
    eventually("both dropped from the DLQ", || {
        store.queue_len("queue://ActiveMQ.DLQ").unwrap() == 0
    })
    .await;
    assert!(dc.browse(&dlq, None).await.unwrap().is_empty());
    assert!(b
        .destinations()
        .iter()
        .all(|d| !d.name().starts_with("ActiveMQ.DLQ.")));
}

#[tokio::test]
async fn discarding_strategy_drops() {
    let store = Arc::new(MemStore::new());
    let b = broker_with(
        with_defaults(|d| {
            d.redelivery = redelivery(0, 0, 0);
            d.dead_letter.strategy = DeadLetterStrategy::Discarding;
        }),
        &store,
    );
    let q = Destination::queue("disc");
    let mut p = b.connect();
    put(&mut p, &q, "gone", 4).await;
    let mut c = b.connect();
    let id = c.subscribe(spec(&q, 1)).await.unwrap();
    let d = recv(&mut c).await;
    c.nack(id, d.tag, None).await.unwrap();
    nothing_for(&mut c, 100).await;
    eventually("dropped", || store.queue_len("queue://disc").unwrap() == 0).await;
    assert!(b.destinations().iter().all(|d| d.name() != "ActiveMQ.DLQ"));
}

#[tokio::test(start_paused = true)]
async fn disconnect_with_unacked_applies_the_redelivery_policy() {
    let store = Arc::new(MemStore::new());
    let b = broker_with(
        with_defaults(|d| d.redelivery = redelivery(3, 500, 500)),
        &store,
    );
    let q = Destination::queue("dc");
    let mut p = b.connect();
    put_transient(&mut p, &q, "held", 4).await;
    let mut c = b.connect();
    c.subscribe(spec(&q, 1)).await.unwrap();
    let _ = recv(&mut c).await;
    let t0 = tokio::time::Instant::now();
    c.close().await;
    let mut c2 = b.connect();
    c2.subscribe(spec(&q, 1)).await.unwrap();
    let d = recv(&mut c2).await;
    assert_eq!(t0.elapsed(), Duration::from_millis(500));
    assert_eq!((body(&d), d.redeliveries), ("held", 1));
}

#[tokio::test(start_paused = true)]
async fn scheduled_delay_period_and_repeat() {
    let store = Arc::new(MemStore::new());
    let b = broker_with(PolicyMap::default(), &store);
    let q = Destination::queue("sched");
    let mut c = b.connect();
    let id = c.subscribe(spec(&q, 10)).await.unwrap();
    let mut p = b.connect();
    let mut m = transient(msg(&mut p, &q, "tick", 4));
    m.extras_mut().schedule = Some(Schedule {
        delay: 1000,
        period: 500,
        repeat: 2,
        cron: None,
    });
    let first_id = m.id.clone();
    let t0 = tokio::time::Instant::now();
    put_transient(&mut p, &q, "now", 4).await;
    send(&mut p, m).await;
    assert_eq!(drain_bodies(&mut c, id, 1).await, ["now"]);
    let mut at = Vec::new();
    let mut ids = Vec::new();
    for _ in 0..3 {
        let d = recv(&mut c).await;
        assert_eq!(body(&d), "tick");
        at.push(t0.elapsed().as_millis());
        ids.push(d.message.id.clone());
        ack(&mut c, id, &d).await;
    }
    assert_eq!(at, [1000, 1500, 2000]);
    assert_eq!(
        ids[2], first_id,
        "the last firing delivers the message itself"
    );
    assert_ne!(ids[0], ids[1]);
    nothing_for(&mut c, 5000).await;
}

/// A CRON entry alone delivers a copy each time it names; with a repeat, each time starts a
/// series of its own (delay, then repeat + 1 copies period apart), as ActiveMQ's scheduler
/// does.
#[tokio::test(start_paused = true)]
async fn cron_fires_each_time_and_starts_a_series_when_it_repeats() {
    let store = Arc::new(MemStore::new());
    let b = broker_with(PolicyMap::default(), &store);
    let plain = Destination::queue("cron-plain");
    let series = Destination::queue("cron-series");
    let mut c = b.connect();
    let id_plain = c.subscribe(spec(&plain, 10)).await.unwrap();
    let id_series = c.subscribe(spec(&series, 10)).await.unwrap();
    let mut p = b.connect();
    let every_minute = Schedule {
        cron: Some(Arc::from("* * * * *")),
        // Ignored without a repeat: CRON wins over the delay.
        delay: 5000,
        ..Schedule::default()
    };
    let mut m = transient(msg(&mut p, &plain, "plain", 4));
    m.extras_mut().schedule = Some(every_minute.clone());
    send(&mut p, m).await;
    let mut m = transient(msg(&mut p, &series, "series", 4));
    m.extras_mut().schedule = Some(Schedule {
        delay: 1000,
        period: 500,
        repeat: 2,
        ..every_minute
    });
    send(&mut p, m).await;
    // Times are read on the broker's clock, in ms since the epoch: creating the queues
    // waited for the storage thread, which let the paused clock jump ahead by some amount.
    let sent = b.now_ms();
    let mut plain_at = Vec::new();
    let mut series_at = Vec::new();
    while plain_at.len() < 2 || series_at.len() < 6 {
        let d = recv_within(&mut c, 120).await;
        let id = if body(&d) == "plain" {
            plain_at.push(b.now_ms());
            id_plain
        } else {
            series_at.push(b.now_ms());
            id_series
        };
        ack(&mut c, id, &d).await;
    }
    let minute = plain_at[0];
    assert_eq!(minute % 60_000, 0, "fires on a minute boundary");
    assert!(minute > sent && minute - sent <= 60_000, "the next minute");
    assert_eq!(plain_at, [minute, minute + 60_000]);
    let expected: Vec<u64> = [0, 60_000]
        .iter()
        .flat_map(|m| [1000, 1500, 2000].map(|d| minute + m + d))
        .collect();
    assert_eq!(series_at, expected);
    // The CRON jobs stay scheduled; nothing else is due before the next minute.
    nothing_for(&mut c, 57_000).await;
    assert_eq!(b.stats(&plain).await.unwrap().delayed, 1);
    assert_eq!(b.stats(&series).await.unwrap().delayed, 1);
}

#[tokio::test]
async fn repeating_persistent_schedule_leaves_nothing_behind() {
    let store = Arc::new(MemStore::new());
    let b = broker_with(PolicyMap::default(), &store);
    let q = Destination::queue("sched-p");
    let mut c = b.connect();
    let id = c.subscribe(spec(&q, 10)).await.unwrap();
    let mut p = b.connect();
    let mut m = msg(&mut p, &q, "tick", 4);
    m.extras_mut().schedule = Some(Schedule {
        delay: 100,
        period: 100,
        repeat: 3,
        cron: None,
    });
    send(&mut p, m).await;
    assert_eq!(drain_bodies(&mut c, id, 4).await, ["tick"; 4]);
    nothing_for(&mut c, 1000).await;
    eventually("all consumed", || {
        store.queue_len("queue://sched-p").unwrap() == 0
    })
    .await;
}

#[tokio::test(start_paused = true)]
async fn scheduled_persistent_message_survives_restart() {
    let store = Arc::new(MemStore::new());
    let b = broker_with(PolicyMap::default(), &store);
    let q = Destination::queue("later");
    let mut p = b.connect();
    let mut m = msg(&mut p, &q, "later", 4);
    m.extras_mut().schedule = Some(Schedule {
        delay: 60_000,
        ..Schedule::default()
    });
    send(&mut p, m).await;
    p.close().await;
    b.shutdown();
    drop(b);
    // The restarted broker's clock starts where the first one's was.
    let b = broker_with(PolicyMap::default(), &store);
    let mut c = b.connect();
    c.subscribe(spec(&q, 1)).await.unwrap();
    // The actor has read its backlog once it answers: from here on nothing waits for the
    // storage thread, so the paused clock only moves with the test.
    assert_eq!(b.stats(&q).await.unwrap().delayed, 1);
    let t0 = tokio::time::Instant::now();
    nothing_for(&mut c, 59_000).await;
    let d = recv(&mut c).await;
    assert_eq!(body(&d), "later");
    assert_eq!(t0.elapsed(), Duration::from_millis(60_000));
}

#[tokio::test(start_paused = true)]
async fn priority_lanes_delay_each_class() {
    let store = Arc::new(MemStore::new());
    let lanes = vec![
        PriorityLane {
            priorities: 7..=9,
            delay_ms: 0,
        },
        PriorityLane {
            priorities: 4..=6,
            delay_ms: 30_000,
        },
        PriorityLane {
            priorities: 0..=3,
            delay_ms: 120_000,
        },
    ];
    let b = broker_with(with_defaults(|d| d.priority_lanes = lanes), &store);
    let q = Destination::queue("lanes");
    let mut c = b.connect();
    let id = c.subscribe(spec(&q, 10)).await.unwrap();
    let mut p = b.connect();
    let t0 = tokio::time::Instant::now();
    for (body, prio) in [("low", 1u8), ("mid", 5), ("high", 9)] {
        put_transient(&mut p, &q, body, prio).await;
    }
    let mut got = Vec::new();
    for _ in 0..3 {
        let d = recv_within(&mut c, 200).await;
        got.push((body(&d).to_owned(), t0.elapsed().as_secs()));
        ack(&mut c, id, &d).await;
    }
    assert_eq!(
        got,
        [
            ("high".to_owned(), 0),
            ("mid".to_owned(), 30),
            ("low".to_owned(), 120)
        ]
    );
}

#[tokio::test]
async fn expired_messages_are_never_delivered_and_dead_lettered_by_the_sweep() {
    let store = Arc::new(MemStore::new());
    let b = broker_with(with_defaults(|d| d.expire_messages_period = 1000), &store);
    let q = Destination::queue("exp");
    let mut p = b.connect();
    let mut m = msg(&mut p, &q, "short-lived", 4);
    let expires = b.now_ms() + 100;
    m.expires = expires;
    send(&mut p, m).await;
    let mut m = msg(&mut p, &q, "keeps", 4);
    m.expires = b.now_ms() + 10_000_000;
    send(&mut p, m).await;
    // No consumer: the sweep finds it.
    tokio::time::sleep(Duration::from_millis(300)).await;
    eventually("expired one removed", || {
        store.queue_len("queue://exp").unwrap() == 1
    })
    .await;
    let mut dc = b.connect();
    let did = dc
        .subscribe(spec(&Destination::queue("ActiveMQ.DLQ"), 1))
        .await
        .unwrap();
    let d = recv(&mut dc).await;
    assert_eq!(body(&d), "short-lived");
    assert_eq!(d.message.expires, 0, "dead-lettered messages do not expire");
    let cause = format!("java.lang.Throwable: Message Expired. Expiration:{expires}");
    assert_eq!(d.message.extras().failure_cause.as_deref(), Some(&*cause));
    assert_eq!(
        d.message.property("originalExpiration").map(|v| &v[..]),
        Some(expires.to_string().as_bytes())
    );
    ack(&mut dc, did, &d).await;
    let mut c = b.connect();
    let id = c.subscribe(spec(&q, 1)).await.unwrap();
    assert_eq!(drain_bodies(&mut c, id, 1).await, ["keeps"]);
}

#[tokio::test]
async fn expired_messages_are_dropped_when_process_expired_is_off() {
    let store = Arc::new(MemStore::new());
    let b = broker_with(
        with_defaults(|d| d.dead_letter.process_expired = false),
        &store,
    );
    let q = Destination::queue("exp2");
    let mut p = b.connect();
    let mut m = msg(&mut p, &q, "old", 4);
    m.expires = b.now_ms() - 1;
    send(&mut p, m).await;
    let mut c = b.connect();
    c.subscribe(spec(&q, 1)).await.unwrap();
    nothing_for(&mut c, 100).await;
    eventually("dropped", || store.queue_len("queue://exp2").unwrap() == 0).await;
    assert!(b.destinations().iter().all(|d| d.name() != "ActiveMQ.DLQ"));
}

mod interleavings {
    //! Any interleaving of sends, acks, NACKs and reconnects: a prefetch-1 consumer always
    //! gets the highest-priority message available (FIFO within a priority).

    use super::*;
    use proptest::prelude::*;
    use std::collections::BTreeSet;

    #[derive(Debug, Clone)]
    enum Step {
        Send(u8),
        Ack,
        Nack,
        Reconnect,
    }

    fn step() -> impl Strategy<Value = Step> {
        prop_oneof![
            4 => (0u8..10).prop_map(Step::Send),
            3 => Just(Step::Ack),
            2 => Just(Step::Nack),
            1 => Just(Step::Reconnect),
        ]
    }

    type Key = (std::cmp::Reverse<u8>, u32);

    async fn expect_next(
        c: &mut Connection,
        available: &mut BTreeSet<Key>,
        held: &mut Option<(Key, Delivery)>,
    ) {
        if held.is_some() {
            return;
        }
        let Some(best) = available.pop_first() else {
            nothing_for(c, 10).await;
            return;
        };
        let d = recv(c).await;
        let (p, n) = body(&d).split_once('-').unwrap();
        let got: Key = (std::cmp::Reverse(p.parse().unwrap()), n.parse().unwrap());
        assert_eq!(got, best, "delivered {got:?} while {best:?} was available");
        *held = Some((got, d));
    }

    async fn run(steps: Vec<Step>) {
        let store = Arc::new(MemStore::new());
        let b = broker_with(
            with_defaults(|d| d.redelivery = redelivery(-1, 0, 0)),
            &store,
        );
        let q = Destination::queue("prop");
        let mut p = b.connect();
        let mut c = b.connect();
        let mut id = c.subscribe(spec(&q, 1)).await.unwrap();
        let mut available = BTreeSet::new();
        let mut held: Option<(Key, Delivery)> = None;
        for (n, s) in steps.into_iter().enumerate() {
            let n = n as u32;
            match s {
                Step::Send(prio) => {
                    put_transient(&mut p, &q, &format!("{prio}-{n}"), prio).await;
                    available.insert((std::cmp::Reverse(prio), n));
                }
                Step::Ack => {
                    if let Some((_, d)) = held.take() {
                        ack(&mut c, id, &d).await;
                    }
                }
                Step::Nack => {
                    if let Some((k, d)) = held.take() {
                        c.nack(id, d.tag, None).await.unwrap();
                        available.insert(k);
                    }
                }
                Step::Reconnect => {
                    c.close().await;
                    if let Some((k, _)) = held.take() {
                        available.insert(k);
                    }
                    c = b.connect();
                    id = c.subscribe(spec(&q, 1)).await.unwrap();
                }
            }
            expect_next(&mut c, &mut available, &mut held).await;
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]
        #[test]
        fn prefetch_one_consumer_sees_the_best_available(steps in prop::collection::vec(step(), 1..60)) {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .start_paused(true)
                .build()
                .unwrap();
            rt.block_on(run(steps));
        }
    }
}
