//! Who gets which message: selectors, message groups, exclusive consumers, consumer priority
//! and queue browsing, through the public API with the in-memory store.

mod common;

use std::sync::Arc;
use std::time::Duration;

use broker_core::{Broker, Connection, ConsumerSpec, CoreConfig, Destination, Message};
use broker_store::MemStore;
use common::*;
use jms_model::Selector;

fn broker() -> Broker {
    Broker::new(CoreConfig::default(), Arc::new(MemStore::new())).unwrap()
}

async fn put_prio(conn: &mut Connection, dest: &Destination, body: &str, prio: u8, color: &str) {
    let mut m = msg(conn, dest, body, &[("color", color)]);
    m.priority = prio;
    conn.send(m, None, true).await.unwrap();
}

#[tokio::test]
async fn selectors_split_a_queue_and_leave_the_rest() {
    let b = broker();
    let q = Destination::queue("sel");
    let mut p = b.connect();
    for (i, color) in ["red", "blue", "green", "red", "blue"].iter().enumerate() {
        put(&mut p, &q, &format!("{color}-{i}"), &[("color", color)]).await;
    }
    let mut r = b.connect();
    let rid = r
        .subscribe(selecting(&q, 10, "color = 'red'"))
        .await
        .unwrap();
    let mut bl = b.connect();
    let bid = bl
        .subscribe(selecting(&q, 10, "color IN ('blue') AND JMSPriority = 4"))
        .await
        .unwrap();
    assert_eq!(take(&mut r, rid, 2).await, ["red-0", "red-3"]);
    assert_eq!(take(&mut bl, bid, 2).await, ["blue-1", "blue-4"]);
    nothing(&mut r).await;
    // The unselected message waits for a consumer that takes it.
    let mut any = b.connect();
    let aid = any
        .subscribe(ConsumerSpec::new(q.clone(), 10))
        .await
        .unwrap();
    assert_eq!(take(&mut any, aid, 1).await, ["green-2"]);
    // New messages still go where they are selected.
    put(&mut p, &q, "red-5", &[("color", "red")]).await;
    assert_eq!(take(&mut r, rid, 1).await, ["red-5"]);
}

#[tokio::test]
async fn priority_order_holds_among_selected_messages() {
    let b = broker();
    let q = Destination::queue("sel-prio");
    let mut p = b.connect();
    put_prio(&mut p, &q, "r1", 1, "red").await;
    put_prio(&mut p, &q, "b9", 9, "blue").await;
    put_prio(&mut p, &q, "r5", 5, "red").await;
    put_prio(&mut p, &q, "r9", 9, "red").await;
    let mut c = b.connect();
    let id = c
        .subscribe(selecting(&q, 1, "color = 'red'"))
        .await
        .unwrap();
    assert_eq!(take(&mut c, id, 3).await, ["r9", "r5", "r1"]);
    nothing(&mut c).await;
}

#[tokio::test]
async fn selector_sees_header_fields_and_redelivery() {
    let b = broker();
    let q = Destination::queue("sel-hdr");
    let mut p = b.connect();
    put(&mut p, &q, "m", &[]).await;
    let mut first = b.connect();
    let fid = first
        .subscribe(selecting(&q, 1, "JMSRedelivered = FALSE"))
        .await
        .unwrap();
    let d = recv(&mut first).await;
    first.nack(fid, d.tag, None).await.unwrap();
    nothing(&mut first).await;
    let mut again = b.connect();
    let aid = again
        .subscribe(selecting(&q, 1, "JMSXDeliveryCount > 1"))
        .await
        .unwrap();
    assert_eq!(take(&mut again, aid, 1).await, ["m"]);
}

#[tokio::test]
async fn message_groups_stick_to_one_consumer_until_closed_or_it_leaves() {
    let b = broker();
    let q = Destination::queue("groups");
    let mut c1 = b.connect();
    let id1 = c1
        .subscribe(ConsumerSpec::new(q.clone(), 100))
        .await
        .unwrap();
    let mut c2 = b.connect();
    let id2 = c2
        .subscribe(ConsumerSpec::new(q.clone(), 100))
        .await
        .unwrap();
    let mut p = b.connect();
    for i in 0..6 {
        let g = if i % 2 == 0 { "A" } else { "B" };
        put(&mut p, &q, &format!("{g}{i}"), &[("JMSXGroupID", g)]).await;
    }
    let got1 = take(&mut c1, id1, 3).await;
    let got2 = take(&mut c2, id2, 3).await;
    let got1_first_is_a = got1[0].starts_with('A');
    // Round-robin gave A to one consumer and B to the other; each keeps its group.
    let (a_side, b_side) = if got1[0].starts_with('A') {
        (got1, got2)
    } else {
        (got2, got1)
    };
    assert_eq!(a_side, ["A0", "A2", "A4"]);
    assert_eq!(b_side, ["B1", "B3", "B5"]);
    // Closing group A (JMSXGroupSeq -1) frees it; the owner of B leaving frees B.
    let a_first = got1_first_is_a;
    let (mut a_conn, a_id, b_conn) = if a_first {
        (c1, id1, c2)
    } else {
        (c2, id2, c1)
    };
    put(
        &mut p,
        &q,
        "A-last",
        &[("JMSXGroupID", "A"), ("JMSXGroupSeq", "-1")],
    )
    .await;
    assert_eq!(take(&mut a_conn, a_id, 1).await, ["A-last"]);
    b_conn.close().await;
    put(&mut p, &q, "B-after", &[("JMSXGroupID", "B")]).await;
    assert_eq!(take(&mut a_conn, a_id, 1).await, ["B-after"]);
}

#[tokio::test]
async fn exclusive_consumer_takes_everything_and_fails_over() {
    let b = broker();
    let q = Destination::queue("excl");
    let mut plain = b.connect();
    let _pid = plain
        .subscribe(ConsumerSpec::new(q.clone(), 10))
        .await
        .unwrap();
    let mut ex1 = b.connect();
    let e1 = ex1
        .subscribe(ConsumerSpec {
            exclusive: true,
            ..ConsumerSpec::new(q.clone(), 10)
        })
        .await
        .unwrap();
    let mut ex2 = b.connect();
    let e2 = ex2
        .subscribe(ConsumerSpec {
            exclusive: true,
            ..ConsumerSpec::new(q.clone(), 10)
        })
        .await
        .unwrap();
    let mut p = b.connect();
    for i in 0..3 {
        put(&mut p, &q, &format!("m{i}"), &[]).await;
    }
    assert_eq!(take(&mut ex1, e1, 3).await, ["m0", "m1", "m2"]);
    nothing(&mut plain).await;
    nothing(&mut ex2).await;
    ex1.close().await;
    put(&mut p, &q, "m3", &[]).await;
    assert_eq!(take(&mut ex2, e2, 1).await, ["m3"]);
    nothing(&mut plain).await;
}

#[tokio::test]
async fn higher_priority_consumers_are_served_first() {
    let b = broker();
    let q = Destination::queue("cprio");
    let mut low = b.connect();
    let lid = low
        .subscribe(ConsumerSpec::new(q.clone(), 10))
        .await
        .unwrap();
    let mut high = b.connect();
    let _hid = high
        .subscribe(ConsumerSpec {
            priority: 10,
            ..ConsumerSpec::new(q.clone(), 2)
        })
        .await
        .unwrap();
    let mut p = b.connect();
    for i in 0..5 {
        put(&mut p, &q, &format!("m{i}"), &[]).await;
    }
    // The high-priority consumer fills its prefetch (2) first; the rest go to the low one.
    let h: Vec<String> = vec![
        body(&recv(&mut high).await).into(),
        body(&recv(&mut high).await).into(),
    ];
    assert_eq!(h, ["m0", "m1"]);
    assert_eq!(take(&mut low, lid, 3).await, ["m2", "m3", "m4"]);
}

#[tokio::test]
async fn browsing_sees_without_consuming() {
    let b = broker();
    let q = Destination::queue("browse");
    let mut p = b.connect();
    put(&mut p, &q, "a", &[("k", "1")]).await;
    put(&mut p, &q, "b", &[("k", "2")]).await;
    let mut c = b.connect();
    let seen = c.browse(&q, None).await.unwrap();
    assert_eq!(
        seen.iter().map(|(m, _)| &m.body[..]).collect::<Vec<_>>(),
        [&b"a"[..], b"b"]
    );
    let only = c
        .browse(&q, Some(Arc::new(Selector::parse("k = '2'").unwrap())))
        .await
        .unwrap();
    assert_eq!(only.len(), 1);
    let id = c.subscribe(ConsumerSpec::new(q.clone(), 10)).await.unwrap();
    assert_eq!(take(&mut c, id, 2).await, ["a", "b"]);
}

fn persistent(mut m: Message) -> Message {
    m.persistent = true;
    m
}

#[tokio::test]
async fn durable_subscription_keeps_messages_while_away_and_across_restart() {
    let store = Arc::new(MemStore::new());
    let dyn_store: Arc<dyn broker_store::Store> = store.clone();
    let b = Broker::new(CoreConfig::default(), dyn_store.clone()).unwrap();
    let t = Destination::topic("news");
    let mut sub = b.connect();
    sub.claim_client_id("client-1").unwrap();
    let id = sub
        .subscribe_durable("sub-a", ConsumerSpec::new(t.clone(), 10))
        .await
        .unwrap();
    // A second connection cannot use the client id meanwhile, and a second subscriber to the
    // same subscription is refused while the first is there.
    let mut other = b.connect();
    assert!(matches!(
        other.claim_client_id("client-1"),
        Err(broker_core::CoreError::ClientIdInUse(_))
    ));
    assert!(matches!(
        sub.subscribe_durable("sub-a", ConsumerSpec::new(t.clone(), 10))
            .await,
        Err(broker_core::CoreError::DurableInUse(_))
    ));
    let mut p = b.connect();
    put(&mut p, &t, "while-here", &[]).await;
    let d = recv(&mut sub).await;
    assert_eq!(body(&d), "while-here");
    assert_eq!(d.message.destination, t, "delivered as a topic message");
    sub.ack(id, d.tag, false, None, true).await.unwrap();
    sub.close().await;
    // Away: persistent messages are stored, transient ones kept in memory.
    let m = persistent(msg(&mut p, &t, "while-away", &[]));
    p.send(m, None, true).await.unwrap();
    put(&mut p, &t, "transient-away", &[]).await;
    let mut back = b.connect();
    back.claim_client_id("client-1").unwrap();
    let id = back
        .subscribe_durable("sub-a", ConsumerSpec::new(t.clone(), 10))
        .await
        .unwrap();
    assert_eq!(
        take(&mut back, id, 2).await,
        ["while-away", "transient-away"]
    );
    back.close().await;
    let m = persistent(msg(&mut p, &t, "across-restart", &[]));
    p.send(m, None, true).await.unwrap();
    p.close().await;
    b.shutdown();
    drop(b);
    let b = Broker::new(CoreConfig::default(), dyn_store).unwrap();
    let mut again = b.connect();
    again.claim_client_id("client-1").unwrap();
    let id = again
        .subscribe_durable("sub-a", ConsumerSpec::new(t.clone(), 10))
        .await
        .unwrap();
    assert_eq!(take(&mut again, id, 1).await, ["across-restart"]);
    // Still subscribed after the restart: new messages keep coming.
    let mut p = b.connect();
    put(&mut p, &t, "after-restart", &[]).await;
    assert_eq!(take(&mut again, id, 1).await, ["after-restart"]);
    // Removing it drops what it kept and stops the copies.
    again.close().await;
    put(&mut p, &t, "kept-then-dropped", &[]).await;
    let mut admin = b.connect();
    admin.claim_client_id("client-1").unwrap();
    admin.unsubscribe_durable("sub-a").await.unwrap();
    admin.close().await;
    let mut fresh = b.connect();
    fresh.claim_client_id("client-1").unwrap();
    let id = fresh
        .subscribe_durable("sub-a", ConsumerSpec::new(t.clone(), 10))
        .await
        .unwrap();
    nothing(&mut fresh).await;
    put(&mut p, &t, "new", &[]).await;
    assert_eq!(take(&mut fresh, id, 1).await, ["new"]);
}

#[tokio::test]
async fn durable_subscription_selector_and_replacement() {
    let b = broker();
    let t = Destination::topic("alerts");
    let mut s = b.connect();
    s.claim_client_id("c").unwrap();
    let id = s
        .subscribe_durable("red-only", selecting(&t, 10, "color = 'red'"))
        .await
        .unwrap();
    s.close().await;
    let mut p = b.connect();
    put(&mut p, &t, "blue", &[("color", "blue")]).await;
    put(&mut p, &t, "red", &[("color", "red")]).await;
    let mut s = b.connect();
    s.claim_client_id("c").unwrap();
    let id2 = s
        .subscribe_durable("red-only", selecting(&t, 10, "color = 'red'"))
        .await
        .unwrap();
    let _ = id;
    assert_eq!(take(&mut s, id2, 1).await, ["red"]);
    nothing(&mut s).await;
    s.close().await;
    // Another selector replaces the subscription: what it kept is gone.
    put(&mut p, &t, "red-2", &[("color", "red")]).await;
    let mut s = b.connect();
    s.claim_client_id("c").unwrap();
    let id3 = s
        .subscribe_durable("red-only", selecting(&t, 10, "color = 'blue'"))
        .await
        .unwrap();
    nothing(&mut s).await;
    put(&mut p, &t, "blue-2", &[("color", "blue")]).await;
    assert_eq!(take(&mut s, id3, 1).await, ["blue-2"]);
}

/// Removing a durable subscription and creating it again at once, on the same connection
/// (UNSUBSCRIBE with the name, then SUBSCRIBE; or a new selector replacing it): the new
/// subscription must never reach the old, dying queue through the connection's cached
/// mailbox (that raced, and failed the SUBSCRIBE with "broker is shutting down").
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_durable_subscription_removed_and_made_again_at_once_works() {
    // A hang is a failure, not a stuck CI run.
    tokio::time::timeout(Duration::from_secs(60), made_again())
        .await
        .expect("finished within 60 s");
}

/// `fut`, or a panic naming the step if it takes more than 20 s.
async fn within<T>(round: usize, what: &str, fut: impl std::future::Future<Output = T>) -> T {
    tokio::time::timeout(Duration::from_secs(20), fut)
        .await
        .unwrap_or_else(|_| panic!("round {round}: {what} did not finish within 20 s"))
}

async fn made_again() {
    let b = broker();
    let t = Destination::topic("again");
    let mut s = b.connect();
    s.claim_client_id("c").unwrap();
    let mut p = b.connect();
    for round in 0..50 {
        // Prefetch 1: nothing of the old subscription is left in the connection's channel.
        let id = within(
            round,
            "subscribe",
            s.subscribe_durable("s", ConsumerSpec::new(t.clone(), 1)),
        )
        .await
        .unwrap_or_else(|e| panic!("round {round}: subscribe: {e}"));
        // A backlog, one message delivered and given back at the unsubscribe: the old queue
        // has store work to do when it is told to go.
        for i in 0..30 {
            within(round, "put", put(&mut p, &t, &format!("m{i}"), &[])).await;
        }
        let _ = recv(&mut s).await;
        within(round, "unsubscribe", s.unsubscribe(id))
            .await
            .unwrap();
        // Keep the old queue's actor busy, so that it is still there, working through its
        // mailbox, when the subscription is made again.
        let queue = broker_core::durable_queue("c", "s");
        let busy: Vec<_> = (0..200)
            .map(|_| {
                let (b, q) = (b.clone(), queue.clone());
                tokio::spawn(async move {
                    let _ = b.stats(&q).await;
                })
            })
            .collect();
        tokio::task::yield_now().await;
        within(round, "unsubscribe_durable", s.unsubscribe_durable("s"))
            .await
            .unwrap();
        let id = within(
            round,
            "resubscribe",
            s.subscribe_durable("s", selecting(&t, 10, "color = 'red'")),
        )
        .await
        .unwrap_or_else(|e| panic!("round {round}: resubscribe: {e}"));
        within(round, "unsubscribe 2", s.unsubscribe(id))
            .await
            .unwrap();
        // A new selector replaces it.
        let id = within(
            round,
            "replace",
            s.subscribe_durable("s", selecting(&t, 10, "color = 'blue'")),
        )
        .await
        .unwrap_or_else(|e| panic!("round {round}: replace: {e}"));
        within(
            round,
            "put blue",
            put(&mut p, &t, "blue", &[("color", "blue")]),
        )
        .await;
        assert_eq!(take(&mut s, id, 1).await, ["blue"], "round {round}");
        within(round, "unsubscribe 3", s.unsubscribe(id))
            .await
            .unwrap();
        within(round, "unsubscribe_durable 2", s.unsubscribe_durable("s"))
            .await
            .unwrap();
        for task in busy {
            within(round, "a stats task", task).await.unwrap();
        }
    }
}

#[tokio::test]
async fn virtual_topic_copies_to_each_consumer_queue() {
    let b = broker();
    let vt = Destination::topic("VirtualTopic.Orders");
    let qa = Destination::queue("Consumer.A.VirtualTopic.Orders");
    let qb = Destination::queue("Consumer.B.VirtualTopic.Orders");
    // Two competing consumers on A, one on B: each queue gets every message once.
    let mut a1 = b.connect();
    let a1id = a1
        .subscribe(ConsumerSpec::new(qa.clone(), 10))
        .await
        .unwrap();
    let mut a2 = b.connect();
    let a2id = a2
        .subscribe(ConsumerSpec::new(qa.clone(), 10))
        .await
        .unwrap();
    let mut bb = b.connect();
    let bid = bb
        .subscribe(ConsumerSpec::new(qb.clone(), 10))
        .await
        .unwrap();
    let mut p = b.connect();
    for i in 0..4 {
        put(&mut p, &vt, &format!("o{i}"), &[]).await;
    }
    let mut got_a = take(&mut a1, a1id, 2).await;
    got_a.extend(take(&mut a2, a2id, 2).await);
    got_a.sort();
    assert_eq!(got_a, ["o0", "o1", "o2", "o3"]);
    assert_eq!(take(&mut bb, bid, 4).await, ["o0", "o1", "o2", "o3"]);
    // A plain topic subscriber still gets them too.
    let mut t = b.connect();
    let tid = t
        .subscribe(ConsumerSpec::new(vt.clone(), 10))
        .await
        .unwrap();
    put(&mut p, &vt, "o4", &[]).await;
    assert_eq!(take(&mut t, tid, 1).await, ["o4"]);
    let d = recv(&mut bb).await;
    assert_eq!(
        d.message.destination, qb,
        "the copy is a message of the consumer queue"
    );
}

#[tokio::test]
async fn wildcard_topic_subscriptions_cover_existing_and_new_topics() {
    let b = broker();
    let mut p = b.connect();
    // A topic that exists before the subscription.
    let mut early = b.connect();
    early
        .subscribe(ConsumerSpec::new(Destination::topic("prices.nyse.ibm"), 1))
        .await
        .unwrap();
    let mut all = b.connect();
    let aid = all
        .subscribe(ConsumerSpec::new(Destination::topic("prices.>"), 100))
        .await
        .unwrap();
    let mut nyse = b.connect();
    let nid = nyse
        .subscribe(ConsumerSpec::new(Destination::topic("prices.nyse.*"), 100))
        .await
        .unwrap();
    put(&mut p, &Destination::topic("prices.nyse.ibm"), "ibm", &[]).await;
    put(
        &mut p,
        &Destination::topic("prices.nasdaq.orcl"),
        "orcl",
        &[],
    )
    .await;
    put(&mut p, &Destination::topic("prices.nyse.ge.x"), "deep", &[]).await;
    put(&mut p, &Destination::topic("other.x"), "other", &[]).await;
    let got = take(&mut all, aid, 3).await;
    assert_eq!(got, ["ibm", "orcl", "deep"]);
    assert_eq!(take(&mut nyse, nid, 1).await, ["ibm"]);
    nothing(&mut nyse).await;
    let d = {
        put(&mut p, &Destination::topic("prices.lse.bp"), "bp", &[]).await;
        recv(&mut all).await
    };
    assert_eq!(d.message.destination, Destination::topic("prices.lse.bp"));
    all.ack(aid, d.tag, false, None, false).await.unwrap();
    // After UNSUBSCRIBE nothing more arrives.
    all.unsubscribe(aid).await.unwrap();
    put(&mut p, &Destination::topic("prices.lse.bp"), "bp2", &[]).await;
    nothing(&mut all).await;
}

#[tokio::test]
async fn a_selector_finds_matches_deep_in_a_paged_out_backlog() {
    // The backlog is read back from the store (a restarted broker reads pages of 20): the
    // one red message lies far beyond the first pages of blue ones.
    let store = Arc::new(MemStore::new());
    let dyn_store: Arc<dyn broker_store::Store> = store.clone();
    let cfg = || CoreConfig {
        page_size: 20,
        ..CoreConfig::default()
    };
    let b = Broker::new(cfg(), dyn_store.clone()).unwrap();
    let q = Destination::queue("deep");
    let mut p = b.connect();
    let pad = "x".repeat(300);
    for i in 0..400 {
        let color = if i == 390 { "red" } else { "blue" };
        let props = [("color", color), ("pad", pad.as_str())];
        let m = persistent(msg(&mut p, &q, &format!("{color}-{i}"), &props));
        p.send(m, None, true).await.unwrap();
    }
    p.close().await;
    b.shutdown();
    drop(b);
    let b = Broker::new(cfg(), dyn_store).unwrap();
    let mut c = b.connect();
    let id = c
        .subscribe(selecting(&q, 1, "color = 'red'"))
        .await
        .unwrap();
    assert_eq!(take(&mut c, id, 1).await, ["red-390"]);
    // The rest is still there, in order, for everyone else.
    let mut all = b.connect();
    let aid = all
        .subscribe(ConsumerSpec::new(q.clone(), 50))
        .await
        .unwrap();
    let rest = take(&mut all, aid, 399).await;
    assert_eq!(rest[0], "blue-0");
    assert_eq!(rest[398], "blue-399");
}

#[tokio::test]
async fn the_highest_priority_exclusive_consumer_is_the_active_one() {
    let b = broker();
    let q = Destination::queue("excl-prio");
    let exclusive = |p: i32| ConsumerSpec {
        exclusive: true,
        priority: p,
        ..ConsumerSpec::new(q.clone(), 10)
    };
    let mut first = b.connect();
    let _ = first.subscribe(exclusive(1)).await.unwrap();
    let mut high = b.connect();
    let hid = high.subscribe(exclusive(50)).await.unwrap();
    let mut p = b.connect();
    put(&mut p, &q, "m0", &[]).await;
    assert_eq!(take(&mut high, hid, 1).await, ["m0"]);
    nothing(&mut first).await;
}

#[tokio::test]
async fn browsing_shows_messages_consumers_hold_too() {
    let b = broker();
    let q = Destination::queue("browse-held");
    let mut p = b.connect();
    put(&mut p, &q, "a", &[]).await;
    put(&mut p, &q, "b", &[]).await;
    let mut c = b.connect();
    c.subscribe(ConsumerSpec::new(q.clone(), 1)).await.unwrap();
    let held = recv(&mut c).await;
    assert_eq!(body(&held), "a");
    let mut br = b.connect();
    let seen = br.browse(&q, None).await.unwrap();
    assert_eq!(
        seen.iter().map(|(m, _)| &m.body[..]).collect::<Vec<_>>(),
        [&b"a"[..], b"b"]
    );
}

#[tokio::test]
async fn many_unclosed_groups_do_not_pin_forever() {
    // 70,000 one-message groups, never closed: the pins of idle groups are forgotten past
    // 65,536, and everything is still delivered exactly once.
    let b = broker();
    let q = Destination::queue("many-groups");
    let mut c = b.connect();
    let id = c
        .subscribe(ConsumerSpec::new(q.clone(), 1000))
        .await
        .unwrap();
    let mut p = b.connect();
    let n = 70_000;
    for i in 0..n {
        let g = format!("g{i}");
        let m = msg(&mut p, &q, "x", &[("JMSXGroupID", g.as_str())]);
        p.send(m, None, false).await.unwrap();
    }
    for _ in 0..n {
        let d = recv(&mut c).await;
        c.ack(id, d.tag, false, None, false).await.unwrap();
    }
    nothing(&mut c).await;
}

#[tokio::test]
async fn durable_wildcard_subscription_keeps_every_matching_topic_across_restart() {
    let store: Arc<dyn broker_store::Store> = Arc::new(MemStore::new());
    let b = Broker::new(CoreConfig::default(), store.clone()).unwrap();
    let mut p = b.connect();
    // A topic that exists before the subscription, and one made after it.
    put(&mut p, &Destination::topic("orders.eu"), "lost-before", &[]).await;
    let mut s = b.connect();
    s.claim_client_id("c").unwrap();
    let id = s
        .subscribe_durable(
            "all-orders",
            selecting(&Destination::topic("orders.>"), 10, "big = 'yes'"),
        )
        .await
        .unwrap();
    let big = |p: &mut Connection, t: &str, body: &str| {
        persistent(msg(p, &Destination::topic(t), body, &[("big", "yes")]))
    };
    let m = big(&mut p, "orders.eu", "eu-1");
    p.send(m, None, true).await.unwrap();
    assert_eq!(take(&mut s, id, 1).await, ["eu-1"]);
    s.close().await;
    // Away: matching topics old and new are kept, unselected and unmatched ones are not.
    for (t, body) in [("orders.eu", "eu-2"), ("orders.us.west", "us-1")] {
        let m = big(&mut p, t, body);
        p.send(m, None, true).await.unwrap();
    }
    put(
        &mut p,
        &Destination::topic("orders.eu"),
        "small",
        &[("big", "no")],
    )
    .await;
    let m = big(&mut p, "invoices.eu", "other");
    p.send(m, None, true).await.unwrap();
    p.close().await;
    b.shutdown();
    drop(b);
    let b = Broker::new(CoreConfig::default(), store).unwrap();
    let mut s = b.connect();
    s.claim_client_id("c").unwrap();
    let id = s
        .subscribe_durable(
            "all-orders",
            selecting(&Destination::topic("orders.>"), 10, "big = 'yes'"),
        )
        .await
        .unwrap();
    assert_eq!(take(&mut s, id, 2).await, ["eu-2", "us-1"]);
    nothing(&mut s).await;
    // Still wired after the restart, to topics first seen after it too.
    let mut p = b.connect();
    let m = big(&mut p, "orders.asia", "asia-1");
    p.send(m, None, true).await.unwrap();
    assert_eq!(take(&mut s, id, 1).await, ["asia-1"]);
    // Removed: no more copies.
    s.close().await;
    let mut s = b.connect();
    s.claim_client_id("c").unwrap();
    s.unsubscribe_durable("all-orders").await.unwrap();
    let m = big(&mut p, "orders.eu", "after-removal");
    p.send(m, None, true).await.unwrap();
    let id = s
        .subscribe_durable(
            "all-orders",
            selecting(&Destination::topic("orders.>"), 10, "big = 'yes'"),
        )
        .await
        .unwrap();
    nothing(&mut s).await;
    let _ = id;
}

#[tokio::test]
async fn durable_no_local_skips_the_subscribers_own_messages() {
    let b = broker();
    let t = Destination::topic("chat");
    let mut me = b.connect();
    me.claim_client_id("me").unwrap();
    let spec = ConsumerSpec {
        no_local: true,
        ..ConsumerSpec::new(t.clone(), 10)
    };
    let id = me.subscribe_durable("room", spec).await.unwrap();
    put(&mut me, &t, "mine", &[]).await;
    let mut other = b.connect();
    put(&mut other, &t, "theirs", &[]).await;
    assert_eq!(take(&mut me, id, 1).await, ["theirs"]);
    nothing(&mut me).await;
}

#[tokio::test]
async fn client_ids_are_exclusive_until_the_connection_closes() {
    let b = broker();
    let mut a = b.connect();
    a.claim_client_id("app").unwrap();
    a.claim_client_id("app").unwrap();
    let mut other = b.connect();
    assert!(matches!(
        other.claim_client_id("app"),
        Err(broker_core::CoreError::ClientIdInUse(id)) if id == "app"
    ));
    a.close().await;
    other.claim_client_id("app").unwrap();
}

#[tokio::test]
async fn a_durable_subscription_without_client_id_ends_with_its_connection() {
    let b = broker();
    let t = Destination::topic("ticks");
    let mut s = b.connect();
    let id = s
        .subscribe_durable("anon", ConsumerSpec::new(t.clone(), 10))
        .await
        .unwrap();
    let mut p = b.connect();
    put(&mut p, &t, "tick", &[]).await;
    assert_eq!(take(&mut s, id, 1).await, ["tick"]);
    let durable_queues = |b: &Broker| {
        b.destinations()
            .into_iter()
            .filter(|d| d.name().starts_with("ActiveMQ.Durable."))
            .count()
    };
    assert_eq!(durable_queues(&b), 1);
    s.close().await;
    assert_eq!(durable_queues(&b), 0, "nobody can resume it, so it is gone");
}

#[tokio::test]
async fn wildcard_queue_consumer_takes_from_existing_and_new_queues() {
    let b = broker();
    let mut p = b.connect();
    put(&mut p, &Destination::queue("orders.eu"), "eu-1", &[]).await;
    put(&mut p, &Destination::queue("invoices.eu"), "invoice", &[]).await;
    // A durable subscription's queue is not a queue to wildcard consumers.
    let mut d = b.connect();
    d.claim_client_id("c").unwrap();
    d.subscribe_durable("s", ConsumerSpec::new(Destination::topic("orders.t"), 1))
        .await
        .unwrap();
    let mut c = b.connect();
    let (watch, initial) = c
        .subscribe_queue_wildcard(ConsumerSpec::new(Destination::queue("orders.>"), 10))
        .await
        .unwrap();
    assert_eq!(initial.len(), 1, "one matching queue exists");
    let got = recv(&mut c).await;
    assert_eq!(body(&got), "eu-1");
    assert_eq!(got.message.destination, Destination::queue("orders.eu"));
    c.ack(got.consumer, got.tag, false, None, false)
        .await
        .unwrap();
    // A queue created later joins; its consumer is reported before its first delivery.
    put(&mut p, &Destination::queue("orders.us.west"), "us-1", &[]).await;
    let got = recv(&mut c).await;
    assert_eq!(body(&got), "us-1");
    let added = c.take_added_consumers();
    assert_eq!(added.len(), 1);
    assert_eq!(added[0], (watch, got.consumer));
    assert!(!initial.contains(&got.consumer));
    // It competes with the queue's own consumers (prefetch 1 each, round robin).
    let mut own = b.connect();
    let oid = own
        .subscribe(ConsumerSpec::new(Destination::queue("orders.eu"), 1))
        .await
        .unwrap();
    c.ack(got.consumer, got.tag, false, None, false)
        .await
        .unwrap();
    for i in 0..4 {
        put(
            &mut p,
            &Destination::queue("orders.eu"),
            &format!("eu-{i}"),
            &[],
        )
        .await;
    }
    let mine = take(&mut own, oid, 1).await;
    assert_eq!(mine.len(), 1);
    // The own consumer holds one unacknowledged; the wildcard consumer gets the other three.
    let mut theirs = Vec::new();
    for _ in 0..3 {
        theirs.push(body(&recv(&mut c).await).to_owned());
    }
    assert!(!theirs.contains(&mine[0]));
    // Unwatched: later queues are not joined; the existing consumers go with unsubscribe.
    c.unwatch(watch);
    for id in initial.iter().chain([&added[0].1]) {
        c.unsubscribe(*id).await.unwrap();
    }
    put(&mut p, &Destination::queue("orders.asia"), "asia", &[]).await;
    nothing(&mut c).await;
    assert!(c.take_added_consumers().is_empty());
    // Invoices and the durable subscription's queue were never taken.
    let mut inv = b.connect();
    let iid = inv
        .subscribe(ConsumerSpec::new(Destination::queue("invoices.eu"), 1))
        .await
        .unwrap();
    assert_eq!(take(&mut inv, iid, 1).await, ["invoice"]);
    // A plain subscribe() refuses a wildcard queue.
    assert!(c
        .subscribe(ConsumerSpec::new(Destination::queue("orders.*"), 1))
        .await
        .is_err());
}

#[tokio::test]
async fn message_ids_are_activemq_style_and_unique() {
    let b = broker();
    let (mut a, mut c) = (b.connect(), b.connect());
    let ids: Vec<Arc<str>> = (0..3)
        .map(|_| a.new_message_id())
        .chain((0..3).map(|_| c.new_message_id()))
        .collect();
    assert!(ids.iter().all(|id| id.starts_with("ID:")));
    assert!(ids[0].ends_with(":1") && ids[2].ends_with(":3"), "{ids:?}");
    let unique: std::collections::HashSet<_> = ids.iter().collect();
    assert_eq!(unique.len(), ids.len());
}
