//! Configured virtual destinations (ActiveMQ's `virtualDestinationInterceptor`): virtual
//! topic rules with custom names, prefixes and postfixes, and composite queues and topics,
//! through the public API with the in-memory store.

mod common;

use std::sync::Arc;

use broker_core::{
    Broker, CompositeDestination, CompositeTarget, Connection, ConsumerId, ConsumerSpec,
    CoreConfig, Destination, DestinationPattern, VirtualTopic,
};
use broker_store::MemStore;
use common::*;
use jms_model::Selector;

fn broker_with(cfg: CoreConfig) -> Broker {
    Broker::new(cfg, Arc::new(MemStore::new())).unwrap()
}

async fn consumer(b: &Broker, dest: &Destination) -> (Connection, ConsumerId) {
    let mut c = b.connect();
    let id = c
        .subscribe(ConsumerSpec::new(dest.clone(), 10))
        .await
        .unwrap();
    (c, id)
}

fn target(d: Destination) -> CompositeTarget {
    CompositeTarget {
        destination: d,
        selector: None,
    }
}

#[tokio::test]
async fn configured_virtual_topic_rules_replace_the_default() {
    let b = broker_with(CoreConfig {
        virtual_topics: vec![
            // A postfix, and `*` in the prefix.
            VirtualTopic::new("events.>", "Consumer.*.", ".in"),
            // A fixed prefix without a wildcard, over one level of topics.
            VirtualTopic::new("news.*", "sub.", ""),
        ],
        ..CoreConfig::default()
    });
    let mut p = b.connect();
    // The topic exists before its consumer queue, and the other way round.
    put(&mut p, &Destination::topic("news.sports"), "lost", &[]).await;
    let (mut a, aid) = consumer(&b, &Destination::queue("Consumer.A.events.x.in")).await;
    let (mut s, sid) = consumer(&b, &Destination::queue("sub.news.sports")).await;
    // The default rule is gone.
    let (mut d, _) = consumer(&b, &Destination::queue("Consumer.C.VirtualTopic.Orders")).await;
    // Not a consumer queue: no postfix.
    let (mut n, _) = consumer(&b, &Destination::queue("Consumer.A.events.x")).await;
    put(&mut p, &Destination::topic("events.x"), "e1", &[]).await;
    put(&mut p, &Destination::topic("news.sports"), "n1", &[]).await;
    put(&mut p, &Destination::topic("news.sports.deep"), "deep", &[]).await;
    put(
        &mut p,
        &Destination::topic("VirtualTopic.Orders"),
        "o1",
        &[],
    )
    .await;
    let got = recv(&mut a).await;
    assert_eq!(body(&got), "e1");
    assert_eq!(
        got.message.destination,
        Destination::queue("Consumer.A.events.x.in"),
        "the copy is a message of the consumer queue"
    );
    a.ack(aid, got.tag, false, None, false).await.unwrap();
    assert_eq!(take(&mut s, sid, 1).await, ["n1"]);
    nothing(&mut s).await;
    nothing(&mut a).await;
    nothing(&mut d).await;
    nothing(&mut n).await;
}

#[tokio::test]
async fn several_rules_feed_one_topic_to_several_queue_families() {
    let b = broker_with(CoreConfig {
        virtual_topics: vec![
            VirtualTopic::activemq_default(),
            VirtualTopic::new(">", "VirtualTopicConsumers.*.", ""),
        ],
        ..CoreConfig::default()
    });
    let vt = Destination::topic("VirtualTopic.Orders");
    let (mut a, aid) = consumer(&b, &Destination::queue("Consumer.A.VirtualTopic.Orders")).await;
    let (mut c, cid) = consumer(
        &b,
        &Destination::queue("VirtualTopicConsumers.C.VirtualTopic.Orders"),
    )
    .await;
    let mut p = b.connect();
    put(&mut p, &vt, "o1", &[]).await;
    put(&mut p, &Destination::topic("plain"), "p1", &[]).await;
    assert_eq!(take(&mut a, aid, 1).await, ["o1"]);
    assert_eq!(take(&mut c, cid, 1).await, ["o1"]);
    let (mut q, qid) = consumer(&b, &Destination::queue("VirtualTopicConsumers.Q.plain")).await;
    put(&mut p, &Destination::topic("plain"), "p2", &[]).await;
    assert_eq!(take(&mut q, qid, 1).await, ["p2"]);
    nothing(&mut a).await;
}

fn composites() -> Vec<CompositeDestination> {
    vec![
        CompositeDestination {
            name: DestinationPattern::queue("MY.QUEUE"),
            forward_only: true,
            forward_to: vec![
                target(Destination::queue("FOO")),
                target(Destination::topic("BAR")),
                CompositeTarget {
                    destination: Destination::queue("ODD"),
                    selector: Some(Arc::new(Selector::parse("odd = 'yes'").unwrap())),
                },
                // A composite may feed a virtual topic.
                target(Destination::topic("VirtualTopic.Orders")),
            ],
        },
        CompositeDestination {
            name: DestinationPattern::queue("IncomingOrders"),
            forward_only: false,
            forward_to: vec![target(Destination::topic("Notifications"))],
        },
        CompositeDestination {
            name: DestinationPattern::topic("FANOUT"),
            forward_only: true,
            forward_to: vec![
                target(Destination::queue("Q1")),
                target(Destination::queue("Q2")),
            ],
        },
    ]
}

#[tokio::test]
async fn composite_queue_forward_only_sends_to_its_targets_alone() {
    let b = broker_with(CoreConfig {
        composites: composites(),
        ..CoreConfig::default()
    });
    let (mut foo, fid) = consumer(&b, &Destination::queue("FOO")).await;
    let (mut bar, bid) = consumer(&b, &Destination::topic("BAR")).await;
    let (mut odd, oid) = consumer(&b, &Destination::queue("ODD")).await;
    let (mut me, _) = consumer(&b, &Destination::queue("MY.QUEUE")).await;
    let (mut vt, vid) = consumer(&b, &Destination::queue("Consumer.A.VirtualTopic.Orders")).await;
    let mut p = b.connect();
    let m = msg(&mut p, &Destination::queue("MY.QUEUE"), "even", &[]);
    let id = m.id.clone();
    p.send(m, None, true).await.unwrap();
    put(
        &mut p,
        &Destination::queue("MY.QUEUE"),
        "odd",
        &[("odd", "yes")],
    )
    .await;
    let d = recv(&mut foo).await;
    assert_eq!(body(&d), "even");
    assert_eq!(d.message.id, id, "a copy keeps the message id");
    assert_eq!(d.message.destination, Destination::queue("FOO"));
    foo.ack(fid, d.tag, false, None, false).await.unwrap();
    assert_eq!(take(&mut foo, fid, 1).await, ["odd"]);
    assert_eq!(take(&mut bar, bid, 2).await, ["even", "odd"]);
    assert_eq!(
        take(&mut odd, oid, 1).await,
        ["odd"],
        "the selector filters"
    );
    assert_eq!(take(&mut vt, vid, 2).await, ["even", "odd"]);
    nothing(&mut me).await;
    nothing(&mut odd).await;
}

#[tokio::test]
async fn composite_queue_not_forward_only_keeps_the_message_too() {
    let b = broker_with(CoreConfig {
        composites: composites(),
        ..CoreConfig::default()
    });
    let (mut n, nid) = consumer(&b, &Destination::topic("Notifications")).await;
    let (mut q, qid) = consumer(&b, &Destination::queue("IncomingOrders")).await;
    let mut p = b.connect();
    put(&mut p, &Destination::queue("IncomingOrders"), "order", &[]).await;
    assert_eq!(take(&mut n, nid, 1).await, ["order"]);
    assert_eq!(take(&mut q, qid, 1).await, ["order"]);
}

#[tokio::test]
async fn composite_topic_forwards_to_queues() {
    let b = broker_with(CoreConfig {
        composites: composites(),
        ..CoreConfig::default()
    });
    let (mut t, _) = consumer(&b, &Destination::topic("FANOUT")).await;
    let mut p = b.connect();
    put(&mut p, &Destination::topic("FANOUT"), "f1", &[]).await;
    // A queue named like the composite topic is another destination.
    put(&mut p, &Destination::queue("FANOUT"), "plain", &[]).await;
    let (mut q1, id1) = consumer(&b, &Destination::queue("Q1")).await;
    let (mut q2, id2) = consumer(&b, &Destination::queue("Q2")).await;
    assert_eq!(take(&mut q1, id1, 1).await, ["f1"]);
    assert_eq!(take(&mut q2, id2, 1).await, ["f1"]);
    nothing(&mut t).await;
    nothing(&mut q1).await;
}

#[tokio::test]
async fn composite_copies_are_persistent_and_transactional() {
    let store: Arc<dyn broker_store::Store> = Arc::new(MemStore::new());
    let cfg = || CoreConfig {
        composites: composites(),
        ..CoreConfig::default()
    };
    let b = Broker::new(cfg(), Arc::clone(&store)).unwrap();
    let mut p = b.connect();
    let mut m = msg(&mut p, &Destination::queue("IncomingOrders"), "kept", &[]);
    m.persistent = true;
    // The RECEIPT-style confirmation waits for every stored copy.
    p.send(m, None, true).await.unwrap();
    p.begin("tx").unwrap();
    let mut m = msg(&mut p, &Destination::queue("MY.QUEUE"), "in-tx", &[]);
    m.persistent = true;
    p.send(m, Some("tx"), true).await.unwrap();
    let (mut foo, fid) = consumer(&b, &Destination::queue("FOO")).await;
    nothing(&mut foo).await;
    p.commit("tx").await.unwrap();
    assert_eq!(take(&mut foo, fid, 1).await, ["in-tx"]);
    foo.close().await;
    let mut m = msg(&mut p, &Destination::queue("MY.QUEUE"), "stored", &[]);
    m.persistent = true;
    p.send(m, None, true).await.unwrap();
    p.close().await;
    b.shutdown();
    drop(b);
    let b = Broker::new(cfg(), store).unwrap();
    let (mut foo, fid) = consumer(&b, &Destination::queue("FOO")).await;
    assert_eq!(take(&mut foo, fid, 1).await, ["stored"]);
    let (mut q, qid) = consumer(&b, &Destination::queue("IncomingOrders")).await;
    assert_eq!(take(&mut q, qid, 1).await, ["kept"]);
    nothing(&mut foo).await;
}
