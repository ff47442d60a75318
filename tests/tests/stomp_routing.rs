//! Selectors, exclusive consumers, consumer priority, message groups and queue browsing over
//! real sockets.

use ferromq_tests::*;

/// Reads MESSAGE frames until none arrives within [`QUIET`].
async fn drain(c: &mut StompClient) -> Vec<Frame> {
    let mut out = Vec::new();
    while let Some(f) = c.try_recv_within(QUIET).await {
        f.assert_command(Command::Message);
        out.push(f);
    }
    out
}

fn bodies(frames: &[Frame]) -> Vec<String> {
    frames.iter().map(FrameExt::body_str).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn selector_subscriptions_receive_only_what_they_select() {
    let broker = TestBroker::start().await;
    let dest = unique_queue("sel");
    let mut p = broker.connected("1.2").await;
    for (i, (color, weight)) in [
        ("red", "10"),
        ("blue", "3000"),
        ("red", "2600"),
        ("green", "1"),
    ]
    .iter()
    .enumerate()
    {
        p.send_msg(
            &dest,
            &format!("m{i}"),
            &[("color", color), ("weight", weight)],
        )
        .await;
    }
    let mut heavy_red = broker.connected("1.2").await;
    heavy_red
        .subscribe_with(
            "s",
            &dest,
            "auto",
            &[(
                "selector",
                "convert_string_expressions:color = 'red' AND weight > 2500",
            )],
        )
        .await;
    assert_eq!(bodies(&drain(&mut heavy_red).await), ["m2"]);
    // As ActiveMQ, STOMP (string) headers compare as numbers without the prefix too.
    let mut light = broker.connected("1.2").await;
    light
        .subscribe_with("s", &dest, "auto", &[("selector", "weight < 5")])
        .await;
    assert_eq!(bodies(&drain(&mut light).await), ["m3"]);
    let mut rest = broker.connected("1.2").await;
    rest.subscribe("s", &dest, "auto").await;
    assert_eq!(bodies(&drain(&mut rest).await), ["m0", "m1"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_selector_is_an_error_naming_the_position() {
    let broker = TestBroker::start().await;
    let mut c = broker.connected("1.2").await;
    let f = frame!(Subscribe, "id" => "s", "destination" => "/queue/x", "selector" => "color = ");
    c.send(&f).await;
    let err = c.expect_error().await;
    let message = err.must("message");
    assert!(message.contains("selector"), "{message}");
    assert!(message.contains("position"), "{message}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exclusive_consumer_receives_alone_and_fails_over() {
    let broker = TestBroker::start().await;
    let dest = unique_queue("excl");
    let mut plain = broker.connected("1.2").await;
    plain.subscribe("s", &dest, "auto").await;
    let mut first = broker.connected("1.2").await;
    first
        .subscribe_with("s", &dest, "auto", &[("activemq.exclusive", "true")])
        .await;
    let mut second = broker.connected("1.2").await;
    second
        .subscribe_with("s", &dest, "auto", &[("activemq.exclusive", "true")])
        .await;
    let mut p = broker.connected("1.2").await;
    for i in 0..3 {
        p.send_msg(&dest, &format!("m{i}"), &[]).await;
    }
    assert_eq!(bodies(&drain(&mut first).await), ["m0", "m1", "m2"]);
    first.disconnect().await;
    p.send_msg(&dest, "m3", &[]).await;
    assert_eq!(bodies(&drain(&mut second).await), ["m3"]);
    assert!(drain(&mut plain).await.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn consumer_priority_serves_the_higher_first() {
    let broker = TestBroker::start().await;
    let dest = unique_queue("cprio");
    let mut low = broker.connected("1.2").await;
    low.subscribe_with(
        "s",
        &dest,
        "client-individual",
        &[("activemq.priority", "1")],
    )
    .await;
    let mut high = broker.connected("1.2").await;
    high.subscribe_with(
        "s",
        &dest,
        "client-individual",
        &[("activemq.priority", "100"), ("activemq.prefetchSize", "2")],
    )
    .await;
    let mut p = broker.connected("1.2").await;
    for i in 0..4 {
        p.send_msg(&dest, &format!("m{i}"), &[]).await;
    }
    assert_eq!(bodies(&drain(&mut high).await), ["m0", "m1"]);
    assert_eq!(bodies(&drain(&mut low).await), ["m2", "m3"]);
    // As ActiveMQ, a value that is no byte is ignored (priority 0), not an error.
    let mut odd = broker.connected("1.2").await;
    odd.subscribe_with("s", &dest, "auto", &[("activemq.priority", "high")])
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn message_groups_stay_together_and_echo_the_group_id() {
    let broker = TestBroker::start().await;
    let dest = unique_queue("groups");
    let mut a = broker.connected("1.2").await;
    a.subscribe("s", &dest, "auto").await;
    let mut b2 = broker.connected("1.2").await;
    b2.subscribe("s", &dest, "auto").await;
    let mut p = broker.connected("1.2").await;
    for i in 0..8 {
        let g = ["G1", "G2"][i % 2];
        p.send_msg(&dest, &format!("{g}-{i}"), &[("JMSXGroupID", g)])
            .await;
    }
    let got_a = drain(&mut a).await;
    let got_b = drain(&mut b2).await;
    for got in [&got_a, &got_b] {
        let groups: std::collections::BTreeSet<_> = got
            .iter()
            .map(|f| f.must("JMSXGroupID").to_owned())
            .collect();
        assert_eq!(groups.len(), 1, "one group per consumer: {groups:?}");
    }
    assert_eq!(got_a.len() + got_b.len(), 8);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn browsing_a_queue_sees_its_messages_and_leaves_them() {
    let broker = TestBroker::start().await;
    let dest = unique_queue("browse");
    let mut p = broker.connected("1.2").await;
    for i in 0..3 {
        p.send_msg(&dest, &format!("m{i}"), &[("n", &i.to_string())])
            .await;
    }
    let mut br = broker.connected("1.2").await;
    br.subscribe_with("b", &dest, "auto", &[("browser", "true")])
        .await;
    let seen = br.recv_messages(4).await;
    assert_eq!(bodies(&seen[..3]), ["m0", "m1", "m2"]);
    assert_eq!(seen[3].must("browser"), "end");
    assert_eq!(seen[3].must("subscription"), "b");
    br.unsubscribe("b").await;
    br.subscribe_with(
        "b2",
        &dest,
        "auto",
        &[("browser", "true"), ("selector", "n = '1'")],
    )
    .await;
    let seen = br.recv_messages(2).await;
    assert_eq!(seen[0].body_str(), "m1");
    assert_eq!(seen[1].must("browser"), "end");
    // As ActiveMQ usually orders them: the RECEIPT first, then the browse.
    br.send(&frame!(Subscribe, "id" => "b3", "destination" => dest.as_str(), "browser" => "true", "receipt" => "r-b3"))
        .await;
    let first = br.recv().await;
    first.assert_command(Command::Receipt);
    assert_eq!(first.must("receipt-id"), "r-b3");
    let seen = br.recv_messages(4).await;
    assert_eq!(seen[3].must("browser"), "end");
    // Nothing was consumed.
    let mut c = broker.connected("1.2").await;
    c.subscribe("s", &dest, "auto").await;
    assert_eq!(bodies(&drain(&mut c).await), ["m0", "m1", "m2"]);
}

/// A STOMP 1.2 connection with CONNECT `client-id`.
async fn with_client_id(broker: &TestBroker, client_id: &str) -> StompClient {
    let mut c = broker.client().await;
    c.connect_with(&frame!(Connect, "accept-version" => "1.2", "host" => "localhost", "client-id" => client_id))
        .await;
    c.set_version(Version::V1_2);
    c
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn durable_topic_subscription_keeps_messages_while_away() {
    let broker = TestBroker::start().await;
    let topic = unique_topic("durable");
    let client = unique("client");
    let mut sub = with_client_id(&broker, &client).await;
    sub.subscribe_with(
        "d1",
        &topic,
        "client-individual",
        &[("activemq.subscriptionName", "s1")],
    )
    .await;
    sub.disconnect().await;
    let mut p = broker.connected("1.2").await;
    p.send_msg(&topic, "kept", &[("persistent", "true")]).await;
    // A plain subscription does not keep anything.
    let mut back = with_client_id(&broker, &client).await;
    back.subscribe_with(
        "d1",
        &topic,
        "client-individual",
        &[("activemq.subscriptionName", "s1")],
    )
    .await;
    let m = back.recv_message().await;
    assert_eq!(m.body_str(), "kept");
    assert_eq!(m.must("destination"), topic);
    back.ack(&m).await;
    // UNSUBSCRIBE naming the subscription removes it: later messages are not kept.
    let f = frame!(Unsubscribe, "id" => "d1", "activemq.subscriptionName" => "s1");
    back.request(f).await;
    p.send_msg(&topic, "dropped", &[("persistent", "true")])
        .await;
    back.subscribe_with("d2", &topic, "auto", &[("durable-subscription-name", "s1")])
        .await;
    assert!(drain(&mut back).await.is_empty());
    // Without a client-id, as ActiveMQ, the subscription is named by a generated client id;
    // it serves this connection.
    let mut anon = broker.connected("1.2").await;
    anon.subscribe_with("x", &topic, "auto", &[("activemq.subscriptionName", "s")])
        .await;
    p.send_msg(&topic, "live", &[]).await;
    assert_eq!(bodies(&drain(&mut anon).await), ["live"]);
    // A client id serves one connection at a time (ActiveMQ: InvalidClientIDException).
    let mut twin = broker.client().await;
    twin.send(&frame!(Connect, "accept-version" => "1.2", "host" => "localhost", "client-id" => client.as_str()))
        .await;
    assert!(twin
        .expect_error()
        .await
        .must("message")
        .contains("already connected"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_composite_subscription_takes_from_each_queue_and_acks_across_them() {
    let broker = TestBroker::start().await;
    let (q1, q2) = (unique_queue("cs1"), unique_queue("cs2"));
    let mut p = broker.connected("1.2").await;
    p.send_msg(&q1, "a1", &[]).await;
    p.send_msg(&q2, "b1", &[]).await;
    p.send_msg(&q1, "a2", &[]).await;
    let mut c = broker.connected("1.2").await;
    c.subscribe("both", &format!("{q1},{q2}"), "client").await;
    let got = c.recv_messages(3).await;
    let mut seen = bodies(&got);
    seen.sort();
    assert_eq!(seen, ["a1", "a2", "b1"]);
    assert!(got.iter().all(|m| m.must("subscription") == "both"));
    // The last MESSAGE's cumulative ACK covers the other queue's too.
    c.ack(&got[2]).await;
    c.disconnect().await;
    let mut again = broker.connected("1.2").await;
    again
        .subscribe("both", &format!("{q1}, {q2}"), "client-individual")
        .await;
    assert!(drain(&mut again).await.is_empty(), "nothing came back");
    p.send_msg(&q2, "b2", &[]).await;
    let m = again.recv_message().await;
    assert_eq!(m.body_str(), "b2");
    assert_eq!(m.must("destination"), q2);
    // UNSUBSCRIBE ends the consumers on both queues.
    again.unsubscribe("both").await;
    p.send_msg(&q1, "a3", &[]).await;
    assert!(drain(&mut again).await.is_empty());
    // A composite cannot be durable or browsed.
    let f = frame!(Subscribe, "id" => "x", "destination" => format!("{q1},{q2}").as_str(), "browser" => "true");
    again.send(&f).await;
    assert!(again
        .expect_error()
        .await
        .must("message")
        .contains("composite"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn virtual_topics_wildcards_and_composite_destinations() {
    let broker = TestBroker::start().await;
    let tag = unique("v");
    let vt = format!("/topic/VirtualTopic.{tag}");
    let mut a = broker.connected("1.2").await;
    a.subscribe(
        "s",
        &format!("/queue/Consumer.A.VirtualTopic.{tag}"),
        "auto",
    )
    .await;
    let mut bq = broker.connected("1.2").await;
    bq.subscribe(
        "s",
        &format!("/queue/Consumer.B.VirtualTopic.{tag}"),
        "auto",
    )
    .await;
    let mut wild = broker.connected("1.2").await;
    wild.subscribe("s", &format!("/topic/{tag}.>"), "auto")
        .await;
    let mut p = broker.connected("1.2").await;
    p.send_msg(&vt, "order", &[]).await;
    assert_eq!(bodies(&drain(&mut a).await), ["order"]);
    assert_eq!(bodies(&drain(&mut bq).await), ["order"]);
    p.send_msg(&format!("/topic/{tag}.x.y"), "deep", &[]).await;
    // As ActiveMQ, `X.>` covers X itself.
    p.send_msg(&format!("/topic/{tag}"), "the-base", &[]).await;
    p.send_msg(&format!("/topic/{tag}-other"), "not-matching", &[])
        .await;
    let got = drain(&mut wild).await;
    assert_eq!(bodies(&got), ["deep", "the-base"]);
    assert_eq!(got[0].must("destination"), format!("/topic/{tag}.x.y"));
    // Composite: one SEND to a queue and a topic.
    let q = unique_queue("composite");
    let mut qc = broker.connected("1.2").await;
    qc.subscribe("s", &q, "auto").await;
    p.send_msg(&format!("{q},/topic/{tag}.c"), "both", &[])
        .await;
    assert_eq!(bodies(&drain(&mut qc).await), ["both"]);
    assert_eq!(bodies(&drain(&mut wild).await), ["both"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wildcard_queue_subscription_takes_from_existing_and_new_queues() {
    let broker = TestBroker::start().await;
    let base = unique("wq");
    let mut p = broker.connected("1.2").await;
    p.send_msg(&format!("/queue/{base}.early"), "early", &[])
        .await;
    let mut c = broker.connected("1.2").await;
    c.subscribe("w", &format!("/queue/{base}.*"), "client")
        .await;
    let m = c.recv_message().await;
    assert_eq!(m.body_str(), "early");
    assert_eq!(m.must("destination"), format!("/queue/{base}.early"));
    p.send_msg(&format!("/queue/{base}.late"), "late", &[])
        .await;
    p.send_msg(&format!("/queue/{base}.too.deep"), "deep", &[])
        .await;
    let m = c.recv_message().await;
    assert_eq!(m.body_str(), "late");
    assert_eq!(m.must("subscription"), "w");
    assert!(drain(&mut c).await.is_empty(), "`*` is one level");
    // One cumulative ACK covers both queues; after UNSUBSCRIBE nothing more arrives.
    c.ack(&m).await;
    c.unsubscribe("w").await;
    p.send_msg(&format!("/queue/{base}.later"), "later", &[])
        .await;
    assert!(drain(&mut c).await.is_empty());
    c.disconnect().await;
    let mut check = broker.connected("1.2").await;
    check
        .subscribe(
            "x",
            &format!("/queue/{base}.early,/queue/{base}.late"),
            "auto",
        )
        .await;
    assert!(drain(&mut check).await.is_empty(), "both were acknowledged");
    // Browsing needs one queue.
    check
        .send(&frame!(Subscribe, "id" => "b", "destination" => format!("/queue/{base}.>").as_str(), "browser" => "true"))
        .await;
    assert!(check
        .expect_error()
        .await
        .must("message")
        .contains("wildcard"));
}
