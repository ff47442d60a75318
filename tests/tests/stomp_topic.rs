//! Topic semantics: fan-out to every subscriber, no retroactive delivery.

use ferromq_tests::*;

fn bodies(frames: &[Frame]) -> Vec<String> {
    frames.iter().map(FrameExt::body_str).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn topic_fans_out_to_every_subscriber_in_order() {
    let broker = TestBroker::start().await;
    let dest = unique_topic("fanout");
    let mut subs = Vec::new();
    for (i, ack) in ["auto", "client", "client-individual"].iter().enumerate() {
        let mut c = broker.connected("1.2").await;
        c.subscribe(&format!("sub-{i}"), &dest, ack).await;
        subs.push(c);
    }
    let mut p = broker.connected("1.2").await;
    for i in 0..10 {
        p.send_msg(&dest, &format!("m{i}"), &[]).await;
    }
    let expected: Vec<String> = (0..10).map(|i| format!("m{i}")).collect();
    for (i, c) in subs.iter_mut().enumerate() {
        let msgs = c.recv_messages(10).await;
        assert_eq!(bodies(&msgs), expected, "subscriber {i}");
        let sid = format!("sub-{i}");
        for m in &msgs {
            assert_eq!(m.hdr("subscription"), Some(sid.as_str()));
            assert_eq!(m.hdr("destination"), Some(dest.as_str()));
        }
        c.assert_no_frame(std::time::Duration::from_millis(100))
            .await;
    }
    broker.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_subscriptions_on_one_connection_each_get_a_copy() {
    let broker = TestBroker::start().await;
    let dest = unique_topic("two-subs");
    let mut c = broker.connected("1.2").await;
    c.subscribe("x", &dest, "auto").await;
    c.subscribe("y", &dest, "auto").await;
    c.send_msg(&dest, "once", &[]).await;
    let msgs = c.recv_messages(2).await;
    let mut subs: Vec<&str> = msgs.iter().map(|m| m.must("subscription")).collect();
    subs.sort();
    assert_eq!(subs, ["x", "y"]);
    assert!(msgs.iter().all(|m| m.body_str() == "once"));
    c.assert_no_frame(QUIET).await;
    broker.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn message_sent_before_subscribing_is_not_delivered() {
    let broker = TestBroker::start().await;
    let dest = unique_topic("late");
    let mut early = broker.connected("1.2").await;
    early.subscribe("early", &dest, "auto").await;
    let mut p = broker.connected("1.2").await;
    p.send_msg(&dest, "before", &[]).await;

    let mut late = broker.connected("1.2").await;
    late.subscribe("late", &dest, "auto").await;
    p.send_msg(&dest, "after", &[]).await;

    assert_eq!(bodies(&early.recv_messages(2).await), ["before", "after"]);
    let first = late.recv_message().await;
    assert_eq!(
        first.body_str(),
        "after",
        "a topic must not deliver messages sent before the subscription"
    );
    late.assert_no_frame(QUIET).await;
    broker.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn topic_without_subscribers_drops_messages() {
    let broker = TestBroker::start().await;
    let dest = unique_topic("nobody");
    let mut p = broker.connected("1.2").await;
    for i in 0..5 {
        p.send_msg(&dest, &format!("lost{i}"), &[]).await;
    }
    let mut c = broker.connected("1.2").await;
    c.subscribe("s", &dest, "auto").await;
    c.assert_no_frame(QUIET).await;
    broker.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unsubscribed_topic_subscriber_gets_nothing_more() {
    let broker = TestBroker::start().await;
    let dest = unique_topic("unsub");
    let mut a = broker.connected("1.2").await;
    let mut bsub = broker.connected("1.2").await;
    a.subscribe("a", &dest, "auto").await;
    bsub.subscribe("b", &dest, "auto").await;
    a.send_msg(&dest, "both", &[]).await;
    assert_eq!(a.recv_message().await.body_str(), "both");
    assert_eq!(bsub.recv_message().await.body_str(), "both");
    a.unsubscribe("a").await;
    bsub.send_msg(&dest, "only-b", &[]).await;
    assert_eq!(bsub.recv_message().await.body_str(), "only-b");
    a.assert_no_frame(QUIET).await;
    broker.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn disconnected_topic_subscriber_does_not_block_others() {
    let broker = TestBroker::start().await;
    let dest = unique_topic("gone");
    let mut stay = broker.connected("1.2").await;
    stay.subscribe("s", &dest, "auto").await;
    let mut gone = broker.connected("1.2").await;
    gone.subscribe("g", &dest, "client").await;
    gone.close().await;
    let mut p = broker.connected("1.2").await;
    for i in 0..5 {
        p.send_msg(&dest, &format!("m{i}"), &[]).await;
    }
    assert_eq!(
        bodies(&stay.recv_messages(5).await),
        ["m0", "m1", "m2", "m3", "m4"]
    );
    broker.stop().await;
}
