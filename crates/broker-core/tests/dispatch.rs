//! Core behaviour through the public API, with the in-memory store.

use std::sync::Arc;
use std::time::Duration;

use broker_core::{
    Broker, Connection, ConsumerId, ConsumerSpec, CoreConfig, CoreError, Delivery, Destination,
    DestinationKind, Message,
};
use broker_store::{MemStore, Store};
use bytes::Bytes;

fn broker() -> (Broker, Arc<MemStore>) {
    let store = Arc::new(MemStore::new());
    (
        Broker::new(CoreConfig::default(), store.clone()).unwrap(),
        store,
    )
}

fn msg(conn: &mut Connection, dest: &Destination, body: &str, persistent: bool) -> Message {
    Message {
        persistent,
        timestamp: broker_core::now_ms(),
        body: Bytes::copy_from_slice(body.as_bytes()),
        ..Message::new(conn.new_message_id(), dest.clone(), conn.id())
    }
}

async fn send(conn: &mut Connection, dest: &Destination, body: &str) {
    let m = msg(conn, dest, body, false);
    conn.send(m, None, true).await.unwrap();
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
    tokio::time::timeout(Duration::from_secs(5), conn.recv())
        .await
        .expect("delivery within 5s")
        .expect("channel open")
}

async fn nothing(conn: &mut Connection) {
    assert!(
        tokio::time::timeout(Duration::from_millis(100), conn.recv())
            .await
            .is_err(),
        "expected no delivery"
    );
}

fn body(d: &Delivery) -> &str {
    std::str::from_utf8(&d.message.body).unwrap()
}

#[tokio::test]
async fn queue_delivers_in_order_and_ack_consumes() {
    let (b, _) = broker();
    let q = Destination::queue("q1");
    let mut p = b.connect();
    for i in 0..3 {
        send(&mut p, &q, &format!("m{i}")).await;
    }
    let mut c = b.connect();
    let id = c.subscribe(spec(&q, 10)).await.unwrap();
    for i in 0..3 {
        let d = recv(&mut c).await;
        assert_eq!(body(&d), format!("m{i}"));
        assert!(!d.redelivered());
        c.ack(id, d.tag, false, None, false).await.unwrap();
    }
    c.unsubscribe(id).await.unwrap();
    let id = c.subscribe(spec(&q, 10)).await.unwrap();
    let _ = id;
    nothing(&mut c).await;
}

#[tokio::test]
async fn competing_consumers_round_robin_within_prefetch() {
    let (b, _) = broker();
    let q = Destination::queue("q2");
    let mut c1 = b.connect();
    let mut c2 = b.connect();
    let _a = c1.subscribe(spec(&q, 1)).await.unwrap();
    let _b = c2.subscribe(spec(&q, 1)).await.unwrap();
    let mut p = b.connect();
    for i in 0..4 {
        send(&mut p, &q, &format!("m{i}")).await;
    }
    let d1 = recv(&mut c1).await;
    let d2 = recv(&mut c2).await;
    assert_ne!(body(&d1), body(&d2));
    // Prefetch 1: nothing more until an ack.
    nothing(&mut c1).await;
    nothing(&mut c2).await;
}

#[tokio::test]
async fn prefetch_then_ack_releases_next() {
    let (b, _) = broker();
    let q = Destination::queue("q3");
    let mut c = b.connect();
    let id = c.subscribe(spec(&q, 2)).await.unwrap();
    let mut p = b.connect();
    for i in 0..3 {
        send(&mut p, &q, &format!("m{i}")).await;
    }
    let d0 = recv(&mut c).await;
    let _d1 = recv(&mut c).await;
    nothing(&mut c).await;
    c.ack(id, d0.tag, false, None, false).await.unwrap();
    assert_eq!(body(&recv(&mut c).await), "m2");
}

#[tokio::test]
async fn cumulative_ack_consumes_earlier_deliveries() {
    let (b, _) = broker();
    let q = Destination::queue("q4");
    let mut c = b.connect();
    let id = c.subscribe(spec(&q, 10)).await.unwrap();
    let mut p = b.connect();
    for i in 0..3 {
        send(&mut p, &q, &format!("m{i}")).await;
    }
    let _ = recv(&mut c).await;
    let d1 = recv(&mut c).await;
    let _ = recv(&mut c).await;
    c.ack(id, d1.tag, true, None, false).await.unwrap();
    c.unsubscribe(id).await.unwrap();
    c.subscribe(spec(&q, 10)).await.unwrap();
    let d = recv(&mut c).await;
    assert_eq!(body(&d), "m2");
    assert!(d.redelivered());
    nothing(&mut c).await;
}

#[tokio::test]
async fn nack_redelivers_ahead_of_newer() {
    let (b, _) = broker();
    let q = Destination::queue("q5");
    let mut c = b.connect();
    let id = c.subscribe(spec(&q, 1)).await.unwrap();
    let mut p = b.connect();
    send(&mut p, &q, "first").await;
    send(&mut p, &q, "second").await;
    let d = recv(&mut c).await;
    assert_eq!(body(&d), "first");
    c.nack(id, d.tag, None).await.unwrap();
    let d = recv(&mut c).await;
    assert_eq!(body(&d), "first");
    assert_eq!(d.redeliveries, 1);
}

#[tokio::test]
async fn unacked_go_to_other_consumer_when_connection_closes() {
    let (b, _) = broker();
    let q = Destination::queue("q6");
    let mut c1 = b.connect();
    c1.subscribe(spec(&q, 10)).await.unwrap();
    let mut p = b.connect();
    send(&mut p, &q, "a").await;
    send(&mut p, &q, "b").await;
    let _ = recv(&mut c1).await;
    let _ = recv(&mut c1).await;
    c1.close().await;
    send(&mut p, &q, "c").await;
    let mut c2 = b.connect();
    c2.subscribe(spec(&q, 10)).await.unwrap();
    let got: Vec<_> = [
        recv(&mut c2).await,
        recv(&mut c2).await,
        recv(&mut c2).await,
    ]
    .iter()
    .map(|d| (body(d).to_owned(), d.redelivered()))
    .collect();
    assert_eq!(
        got,
        vec![("a".into(), true), ("b".into(), true), ("c".into(), false)]
    );
}

#[tokio::test]
async fn dropped_connection_releases_its_messages() {
    let (b, _) = broker();
    let q = Destination::queue("q6b");
    let mut c1 = b.connect();
    c1.subscribe(spec(&q, 10)).await.unwrap();
    let mut p = b.connect();
    send(&mut p, &q, "a").await;
    let _ = recv(&mut c1).await;
    drop(c1);
    let mut c2 = b.connect();
    c2.subscribe(spec(&q, 10)).await.unwrap();
    let d = recv(&mut c2).await;
    assert_eq!(body(&d), "a");
    assert!(d.redelivered());
}

#[tokio::test]
async fn topic_fans_out_and_honours_no_local() {
    let (b, _) = broker();
    let t = Destination::topic("t1");
    let mut c1 = b.connect();
    let mut c2 = b.connect();
    c1.subscribe(spec(&t, 10)).await.unwrap();
    c2.subscribe(ConsumerSpec {
        no_local: true,
        ..spec(&t, 10)
    })
    .await
    .unwrap();
    send(&mut c2, &t, "x").await;
    assert_eq!(body(&recv(&mut c1).await), "x");
    nothing(&mut c2).await;
    let mut p = b.connect();
    send(&mut p, &t, "y").await;
    assert_eq!(body(&recv(&mut c1).await), "y");
    assert_eq!(body(&recv(&mut c2).await), "y");
}

#[tokio::test]
async fn topic_does_not_keep_messages_for_future_subscribers() {
    let (b, _) = broker();
    let t = Destination::topic("t2");
    let mut p = b.connect();
    send(&mut p, &t, "early").await;
    let mut c = b.connect();
    c.subscribe(spec(&t, 10)).await.unwrap();
    nothing(&mut c).await;
}

#[tokio::test]
async fn transactions_stage_sends_and_acks() {
    let (b, _) = broker();
    let q = Destination::queue("q7");
    let mut p = b.connect();
    let mut c = b.connect();
    let id = c.subscribe(spec(&q, 1)).await.unwrap();
    p.begin("tx1").unwrap();
    let m = msg(&mut p, &q, "in-tx", false);
    p.send(m, Some("tx1"), true).await.unwrap();
    nothing(&mut c).await;
    p.commit("tx1").await.unwrap();
    let d = recv(&mut c).await;
    assert_eq!(body(&d), "in-tx");

    p.begin("tx2").unwrap();
    let m = msg(&mut p, &q, "aborted", false);
    p.send(m, Some("tx2"), true).await.unwrap();
    p.abort("tx2").await.unwrap();
    assert_eq!(
        p.commit("tx2").await,
        Err(CoreError::UnknownTransaction("tx2".into()))
    );

    // An ack in a transaction frees prefetch at once but consumes only at commit.
    send(&mut p, &q, "next").await;
    c.begin("a").unwrap();
    c.ack(id, d.tag, false, Some("a"), false).await.unwrap();
    let d2 = recv(&mut c).await;
    assert_eq!(body(&d2), "next");
    c.abort("a").await.unwrap();
    c.close().await;
    let mut c2 = b.connect();
    c2.subscribe(spec(&q, 10)).await.unwrap();
    let bodies: Vec<_> = [recv(&mut c2).await, recv(&mut c2).await]
        .iter()
        .map(|d| body(d).to_owned())
        .collect();
    assert_eq!(bodies, ["in-tx", "next"]);
}

#[tokio::test]
async fn begin_twice_is_an_error() {
    let (b, _) = broker();
    let mut c = b.connect();
    c.begin("t").unwrap();
    assert_eq!(c.begin("t"), Err(CoreError::TransactionExists("t".into())));
    assert!(c
        .ack(
            ConsumerId(999),
            broker_core::DeliveryTag(1),
            false,
            None,
            false
        )
        .await
        .is_err());
}

#[tokio::test]
async fn temporary_destinations_belong_to_their_connection() {
    let (b, _) = broker();
    let mut owner = b.connect();
    let tq = owner.temp_destination(DestinationKind::TempQueue, "reply");
    assert_eq!(owner.own_temp_name(&tq), Some("reply"));
    let id = owner.subscribe(spec(&tq, 10)).await.unwrap();
    let _ = id;
    let mut other = b.connect();
    assert!(matches!(
        other.subscribe(spec(&tq, 10)).await,
        Err(CoreError::ForeignTempDestination(_))
    ));
    send(&mut other, &tq, "answer").await;
    assert_eq!(body(&recv(&mut owner).await), "answer");
    owner.close().await;
    let m = msg(&mut other, &tq, "late", false);
    // The cached mailbox is closed once the actor stops; a fresh lookup then fails.
    let mut result = other.send(m.clone(), None, true).await;
    for _ in 0..50 {
        if result.is_err() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
        result = other.send(m.clone(), None, true).await;
    }
    assert!(
        matches!(result, Err(CoreError::NoSuchTempDestination(_))),
        "{result:?}"
    );
    let unknown = Destination::new(DestinationKind::TempQueue, "ID:nobody:x");
    let m = msg(&mut other, &unknown, "x", false);
    assert!(other.send(m, None, false).await.is_err());
}

#[tokio::test]
async fn persistent_queue_messages_are_stored_until_acked_and_recovered() {
    let (b, store) = broker();
    let q = Destination::queue("durable");
    let mut p = b.connect();
    for (i, persistent) in [true, false, true].into_iter().enumerate() {
        let m = msg(&mut p, &q, &format!("m{i}"), persistent);
        p.send(m, None, true).await.unwrap();
    }
    assert_eq!(store.queue_len("queue://durable").unwrap(), 2);

    // A new broker over the same store brings back the persistent ones only.
    let b2 = Broker::new(CoreConfig::default(), store.clone()).unwrap();
    let mut c = b2.connect();
    let id = c.subscribe(spec(&q, 10)).await.unwrap();
    let d0 = recv(&mut c).await;
    let d2 = recv(&mut c).await;
    assert_eq!((body(&d0), body(&d2)), ("m0", "m2"));
    assert!(d0.message.persistent);
    nothing(&mut c).await;
    c.ack(id, d2.tag, true, None, false).await.unwrap();
    c.close().await;
    for _ in 0..100 {
        if store.queue_len("queue://durable").unwrap() == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(store.queue_len("queue://durable").unwrap(), 0);
}

#[tokio::test]
async fn expired_messages_are_not_delivered() {
    let (b, _) = broker();
    let q = Destination::queue("exp");
    let mut p = b.connect();
    let mut m = msg(&mut p, &q, "old", false);
    m.expires = 1;
    p.send(m, None, true).await.unwrap();
    send(&mut p, &q, "fresh").await;
    let mut c = b.connect();
    c.subscribe(spec(&q, 10)).await.unwrap();
    assert_eq!(body(&recv(&mut c).await), "fresh");
}

#[tokio::test]
async fn slow_topic_subscriber_keeps_only_the_newest_pending() {
    let (b, _) = broker();
    let t = Destination::topic("t3");
    let mut c = b.connect();
    c.subscribe(ConsumerSpec {
        max_pending: Some(2),
        selector: None,
        exclusive: false,
        priority: 0,
        ..spec(&t, 1)
    })
    .await
    .unwrap();
    let mut p = b.connect();
    for i in 0..5 {
        send(&mut p, &t, &format!("m{i}")).await;
    }
    // m0 is held (prefetch 1); of m1..m4 only the newest two stay pending.
    let d = recv(&mut c).await;
    assert_eq!(body(&d), "m0");
    nothing(&mut c).await;
}

#[tokio::test]
async fn a_committed_transaction_stores_its_sends_and_acks_together() {
    let (b, store) = broker();
    let q = Destination::queue("txq");
    let mut p = b.connect();
    let m = msg(&mut p, &q, "before", true);
    p.send(m, None, true).await.unwrap();
    let mut c = b.connect();
    let id = c.subscribe(spec(&q, 10)).await.unwrap();
    let d = recv(&mut c).await;

    c.begin("t").unwrap();
    c.ack(id, d.tag, false, Some("t"), false).await.unwrap();
    for i in 0..3 {
        let m = msg(&mut c, &q, &format!("in-tx-{i}"), true);
        c.send(m, Some("t"), false).await.unwrap();
    }
    // Nothing of the transaction is stored or visible before COMMIT.
    assert_eq!(store.queue_len("queue://txq").unwrap(), 1);
    nothing(&mut c).await;
    c.commit("t").await.unwrap();
    // COMMIT returned: the ack's removal and the three puts are durable together.
    assert_eq!(store.queue_len("queue://txq").unwrap(), 3);
    for i in 0..3 {
        assert_eq!(body(&recv(&mut c).await), format!("in-tx-{i}"));
    }
}

#[tokio::test]
async fn a_confirmed_ack_is_durable_when_it_returns() {
    let (b, store) = broker();
    let q = Destination::queue("ackq");
    let mut p = b.connect();
    let m = msg(&mut p, &q, "x", true);
    p.send(m, None, true).await.unwrap();
    let mut c = b.connect();
    let id = c.subscribe(spec(&q, 10)).await.unwrap();
    let d = recv(&mut c).await;
    c.ack(id, d.tag, false, None, true).await.unwrap();
    assert_eq!(store.queue_len("queue://ackq").unwrap(), 0);
}

#[tokio::test]
async fn message_numbers_continue_above_the_stored_ones_after_a_restart() {
    let (b, store) = broker();
    let q = Destination::queue("seqq");
    let mut p = b.connect();
    for i in 0..3 {
        let m = msg(&mut p, &q, &format!("old{i}"), true);
        p.send(m, None, true).await.unwrap();
    }
    let b2 = Broker::new(CoreConfig::default(), store.clone()).unwrap();
    let mut p2 = b2.connect();
    let m = msg(&mut p2, &q, "new", true);
    p2.send(m, None, true).await.unwrap();
    // Had the new message reused a stored number it would have replaced an old one.
    assert_eq!(store.queue_len("queue://seqq").unwrap(), 4);
    let mut c = b2.connect();
    c.subscribe(spec(&q, 10)).await.unwrap();
    let bodies: Vec<String> = [
        recv(&mut c).await,
        recv(&mut c).await,
        recv(&mut c).await,
        recv(&mut c).await,
    ]
    .iter()
    .map(|d| body(d).to_owned())
    .collect();
    assert_eq!(bodies, ["old0", "old1", "old2", "new"]);
}

fn small_memory() -> CoreConfig {
    CoreConfig {
        memory_limit: 20 * 1024,
        page_size: 16,
        ..CoreConfig::default()
    }
}

async fn drain_in_order(c: &mut Connection, id: ConsumerId, n: usize, prefix: &str) {
    for i in 0..n {
        let d = recv(c).await;
        assert_eq!(body(&d), format!("{prefix}{i:04}"), "message {i}");
        c.ack(id, d.tag, false, None, false).await.unwrap();
    }
}

#[tokio::test]
async fn a_backlog_larger_than_memory_pages_and_drains_in_order() {
    let store = Arc::new(MemStore::new());
    let b = Broker::new(small_memory(), store.clone()).unwrap();
    let q = Destination::queue("paged");
    let mut p = b.connect();
    let pad = "x".repeat(200);
    for i in 0..500 {
        let m = msg(&mut p, &q, &format!("m{i:04}"), true);
        let m = Message {
            properties: vec![(Bytes::from_static(b"pad"), Bytes::from(pad.clone()))],
            ..m
        };
        p.send(m, None, true).await.unwrap();
    }
    let (used, limit) = b.memory_usage();
    // Stored messages beyond the limit stay in the store only.
    assert!(used <= limit + 2 * 1024, "{used} > {limit}");
    assert_eq!(store.queue_len("queue://paged").unwrap(), 500);
    let mut c = b.connect();
    let id = c.subscribe(spec(&q, 5)).await.unwrap();
    drain_in_order(&mut c, id, 500, "m").await;
    nothing(&mut c).await;
}

#[tokio::test]
async fn a_restart_reads_one_page_not_the_whole_backlog() {
    let store = Arc::new(MemStore::new());
    let q = Destination::queue("recover");
    {
        let b = Broker::new(CoreConfig::default(), store.clone()).unwrap();
        let mut p = b.connect();
        for i in 0..300 {
            let m = msg(&mut p, &q, &format!("r{i:04}"), true);
            p.send(m, None, true).await.unwrap();
        }
    }
    let b = Broker::new(small_memory(), store.clone()).unwrap();
    let mut c = b.connect();
    let id = c.subscribe(spec(&q, 1)).await.unwrap();
    let d = recv(&mut c).await;
    assert_eq!(body(&d), "r0000");
    assert!(b.memory_usage().0 < 40 * 1024, "{:?}", b.memory_usage());
    c.ack(id, d.tag, false, None, false).await.unwrap();
    drain_in_order_from(&mut c, id, 1, 300, "r").await;
}

async fn drain_in_order_from(
    c: &mut Connection,
    id: ConsumerId,
    from: usize,
    to: usize,
    prefix: &str,
) {
    for i in from..to {
        let d = recv(c).await;
        assert_eq!(body(&d), format!("{prefix}{i:04}"), "message {i}");
        c.ack(id, d.tag, false, None, false).await.unwrap();
    }
}

#[tokio::test]
async fn producers_of_memory_only_messages_wait_or_fail_when_memory_is_full() {
    let store = Arc::new(MemStore::new());
    let cfg = CoreConfig {
        memory_limit: 4 * 1024,
        send_fail_after: Some(Duration::from_millis(0)),
        ..CoreConfig::default()
    };
    let b = Broker::new(cfg, store).unwrap();
    let q = Destination::queue("full");
    let mut p = b.connect();
    let mut refused = None;
    for i in 0..100 {
        let m = msg(&mut p, &q, &"y".repeat(500), false);
        if let Err(e) = p.send(m, None, true).await {
            refused = Some((i, e));
            break;
        }
    }
    let (i, e) = refused.expect("the memory limit refuses a producer");
    assert!(i > 0 && i < 20, "refused after {i} messages");
    assert!(matches!(e, CoreError::MemoryFull { .. }), "{e:?}");

    // Without sendFailIfNoSpace the producer waits until a consumer frees memory.
    let b = Broker::new(
        CoreConfig {
            memory_limit: 4 * 1024,
            ..CoreConfig::default()
        },
        Arc::new(MemStore::new()),
    )
    .unwrap();
    let mut p = b.connect();
    for _ in 0..20 {
        let m = msg(&mut p, &q, &"y".repeat(500), false);
        if b.memory_usage().0 >= 4 * 1024 {
            break;
        }
        p.send(m, None, true).await.unwrap();
    }
    let waiting = tokio::spawn(async move {
        let m = msg(&mut p, &Destination::queue("full"), "late", false);
        p.send(m, None, true).await
    });
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(!waiting.is_finished(), "the producer waits for memory");
    let mut c = b.connect();
    let id = c.subscribe(spec(&q, 100)).await.unwrap();
    loop {
        let d = recv(&mut c).await;
        c.ack(id, d.tag, false, None, false).await.unwrap();
        if body(&d) == "late" {
            break;
        }
    }
    waiting.await.unwrap().unwrap();
}

#[tokio::test]
async fn transaction_staging_is_bounded() {
    let store = Arc::new(MemStore::new());
    let b = Broker::new(
        CoreConfig {
            max_transaction_ops: 2,
            ..CoreConfig::default()
        },
        store,
    )
    .unwrap();
    let q = Destination::queue("bounded-tx");
    let mut c = b.connect();
    let id = c.subscribe(spec(&q, 2)).await.unwrap();
    let mut p = b.connect();

    // Sends: the third is refused and not staged; the transaction stays usable.
    p.begin("t").unwrap();
    for body in ["a", "b"] {
        let m = msg(&mut p, &q, body, false);
        p.send(m, Some("t"), true).await.unwrap();
    }
    let m = msg(&mut p, &q, "over", false);
    let err = p.send(m, Some("t"), true).await.unwrap_err();
    assert_eq!(err, CoreError::TransactionTooLarge { limit: 2 });
    assert_eq!(err.to_string(), "transaction exceeds 2 staged operations");
    nothing(&mut c).await;
    p.commit("t").await.unwrap();
    let da = recv(&mut c).await;
    let db = recv(&mut c).await;
    assert_eq!((body(&da), body(&db)), ("a", "b"));

    // A committed transaction's count does not carry over to the next one.
    p.begin("t").unwrap();
    for body in ["c", "d"] {
        let m = msg(&mut p, &q, body, false);
        p.send(m, Some("t"), true).await.unwrap();
    }
    p.commit("t").await.unwrap();

    // ACK and NACK count too. The ACK frees a's prefetch slot, so c arrives; d waits.
    c.begin("ct").unwrap();
    c.ack(id, da.tag, false, Some("ct"), false).await.unwrap();
    let dc = recv(&mut c).await;
    assert_eq!(body(&dc), "c");
    c.nack(id, db.tag, Some("ct")).await.unwrap();
    assert_eq!(
        c.ack(id, dc.tag, false, Some("ct"), false).await,
        Err(CoreError::TransactionTooLarge { limit: 2 })
    );
    assert_eq!(
        c.nack(id, dc.tag, Some("ct")).await,
        Err(CoreError::TransactionTooLarge { limit: 2 })
    );
    // The refused ACK did not free c's slot, so d still waits.
    nothing(&mut c).await;
    c.commit("ct").await.unwrap();
    // a is consumed; b comes back ahead of d.
    let d = recv(&mut c).await;
    assert_eq!(body(&d), "b");
    assert_eq!(d.redeliveries, 1);
}

#[tokio::test]
async fn producers_of_persistent_messages_fail_or_wait_when_the_store_is_full() {
    let cfg = CoreConfig {
        store_limit: 8 * 1024,
        send_fail_after: Some(Duration::from_millis(0)),
        ..CoreConfig::default()
    };
    let b = Broker::new(cfg, Arc::new(MemStore::new())).unwrap();
    let q = Destination::queue("store-full");
    let mut p = b.connect();
    let mut refused = None;
    for i in 0..200 {
        let m = msg(&mut p, &q, &"z".repeat(500), true);
        if let Err(e) = p.send(m, None, true).await {
            refused = Some((i, e));
            break;
        }
    }
    let (i, e) = refused.expect("the store limit refuses a producer");
    assert!((10..40).contains(&i), "refused after {i} messages");
    assert!(matches!(e, CoreError::StoreFull { .. }), "{e:?}");
    // Non-persistent messages are not held back by the store limit.
    let m = msg(&mut p, &q, "light", false);
    p.send(m, None, true).await.unwrap();
    // Consuming frees the store; the producer may send again.
    let mut c = b.connect();
    let id = c.subscribe(spec(&q, 1000)).await.unwrap();
    let mut last = None;
    for _ in 0..=i {
        last = Some(recv(&mut c).await);
    }
    c.ack(id, last.unwrap().tag, true, None, true)
        .await
        .unwrap();
    let m = msg(&mut p, &q, "after", true);
    p.send(m, None, true).await.unwrap();
}

#[tokio::test]
async fn a_consumer_with_a_large_prefetch_gets_every_page_without_acking() {
    let store = Arc::new(MemStore::new());
    let q = Destination::queue("many-pages");
    {
        let b = Broker::new(CoreConfig::default(), store.clone()).unwrap();
        let mut p = b.connect();
        for i in 0..100 {
            let m = msg(&mut p, &q, &format!("p{i:04}"), true);
            p.send(m, None, true).await.unwrap();
        }
    }
    let cfg = CoreConfig {
        page_size: 16,
        ..CoreConfig::default()
    };
    let b = Broker::new(cfg, store).unwrap();
    let mut c = b.connect();
    c.subscribe(spec(&q, 1000)).await.unwrap();
    // page_size is 16: six more pages must follow without any ack arriving.
    for i in 0..100 {
        assert_eq!(body(&recv(&mut c).await), format!("p{i:04}"));
    }
}
