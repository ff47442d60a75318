//! Destination naming: `/queue/`, `/topic/`, `/temp-queue/`, `/temp-topic/`, ActiveMQ's
//! "no prefix means queue", empty names, temporary-queue request/reply.

use std::time::Duration;

use ferromq_tests::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn queue_destination_is_echoed() {
    let broker = TestBroker::start().await;
    let mut c = broker.connected("1.2").await;
    for dest in [
        unique_queue("q"),
        format!("/queue/{}/with/slashes", unique("q")),
        format!("/queue/{}.DOTTED.Name", unique("q")),
    ] {
        c.subscribe(&dest, &dest, "auto").await;
        c.send_msg(&dest, "x", &[]).await;
        let m = c.recv_message().await;
        assert_eq!(
            m.hdr("destination"),
            Some(dest.as_str()),
            "{}",
            m.describe()
        );
    }
    c.disconnect().await;
    broker.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn topic_destination_is_echoed() {
    let broker = TestBroker::start().await;
    let mut c = broker.connected("1.2").await;
    let dest = unique_topic("t");
    c.subscribe("t", &dest, "auto").await;
    c.send_msg(&dest, "x", &[]).await;
    let m = c.recv_message().await;
    assert_eq!(m.hdr("destination"), Some(dest.as_str()));
    c.disconnect().await;
    broker.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn destination_without_prefix_is_a_queue() {
    let broker = TestBroker::start().await;
    let name = unique("plain");
    let queue = format!("/queue/{name}");

    // Sent without a prefix, consumed through /queue/<name>.
    let mut consumer = broker.connected("1.2").await;
    consumer.subscribe("s", &queue, "auto").await;
    let mut producer = broker.connected("1.2").await;
    producer.send_msg(&name, "no-prefix", &[]).await;
    let m = consumer.recv_message().await;
    assert_eq!(m.body_str(), "no-prefix");
    assert_eq!(
        m.hdr("destination"),
        Some(queue.as_str()),
        "{}",
        m.describe()
    );

    // Subscribed without a prefix, sent to /queue/<name>: same queue, echoed with the prefix.
    let name2 = unique("plain2");
    let queue2 = format!("/queue/{name2}");
    consumer.subscribe("s2", &name2, "auto").await;
    producer.send_msg(&queue2, "prefixed", &[]).await;
    let m = consumer.recv_message().await;
    assert_eq!(m.body_str(), "prefixed");
    assert_eq!(
        m.hdr("destination"),
        Some(queue2.as_str()),
        "{}",
        m.describe()
    );

    // It is a queue, not a topic: a /topic/<name> subscriber sees nothing.
    let mut topic_sub = broker.connected("1.2").await;
    topic_sub
        .subscribe("t", &format!("/topic/{name}"), "auto")
        .await;
    producer.send_msg(&name, "queue-only", &[]).await;
    assert_eq!(consumer.recv_message().await.body_str(), "queue-only");
    topic_sub.assert_no_frame(QUIET).await;
    broker.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn queue_and_topic_of_the_same_name_are_distinct() {
    let broker = TestBroker::start().await;
    let name = unique("same");
    let mut q = broker.connected("1.2").await;
    q.subscribe("q", &format!("/queue/{name}"), "auto").await;
    let mut t = broker.connected("1.2").await;
    t.subscribe("t", &format!("/topic/{name}"), "auto").await;
    let mut p = broker.connected("1.2").await;
    p.send_msg(&format!("/topic/{name}"), "to-topic", &[]).await;
    p.send_msg(&format!("/queue/{name}"), "to-queue", &[]).await;
    assert_eq!(t.recv_message().await.body_str(), "to-topic");
    assert_eq!(q.recv_message().await.body_str(), "to-queue");
    t.assert_no_frame(QUIET).await;
    q.assert_no_frame(Duration::from_millis(50)).await;
    broker.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn send_to_empty_queue_name_is_an_error() {
    let broker = TestBroker::start().await;
    for dest in ["/queue/", "/topic/"] {
        let bad = raw_frame!("SEND", format!("destination:{dest}"), "receipt:empty-1"; "x");
        let err = assert_violation(&broker, Some("1.2"), &bad, Some("empty-1")).await;
        assert!(!err.must("message").is_empty());
    }
    broker.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn subscribe_to_empty_queue_name_is_an_error() {
    let broker = TestBroker::start().await;
    for dest in ["/queue/", "/topic/", ""] {
        let bad = raw_frame!(
            "SUBSCRIBE",
            "id:1",
            format!("destination:{dest}"),
            "receipt:empty-2"
        );
        assert_violation(&broker, Some("1.2"), &bad, Some("empty-2")).await;
    }
    broker.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn temp_queue_request_reply() {
    let broker = TestBroker::start().await;
    let service = unique_queue("service");

    let mut responder = broker.connected("1.2").await;
    responder.subscribe("svc", &service, "auto").await;

    let mut requester = broker.connected("1.2").await;
    requester
        .subscribe("replies", "/temp-queue/r", "auto")
        .await;
    requester
        .send_msg(
            &service,
            "question",
            &[("reply-to", "/temp-queue/r"), ("correlation-id", "c-1")],
        )
        .await;

    let req = responder.recv_message().await;
    assert_eq!(req.body_str(), "question");
    let reply_to = req.must("reply-to").to_owned();
    assert!(
        reply_to.starts_with("/remote-temp-queue/"),
        "ActiveMQ rewrites a temp-queue reply-to to /remote-temp-queue/<id>; got {reply_to:?}"
    );
    responder
        .send_msg(&reply_to, "answer", &[("correlation-id", "c-1")])
        .await;

    let reply = requester.recv_message().await;
    assert_eq!(reply.body_str(), "answer");
    assert_eq!(reply.hdr("correlation-id"), Some("c-1"));
    assert_eq!(reply.hdr("subscription"), Some("replies"));
    broker.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn temp_queue_names_are_private_to_their_connection() {
    let broker = TestBroker::start().await;
    let service = unique_queue("service");
    let mut responder = broker.connected("1.2").await;
    responder
        .subscribe("svc", &service, "client-individual")
        .await;

    // Two requesters use the same temp-queue name; each must get only its own reply.
    let mut r1 = broker.connected("1.2").await;
    let mut r2 = broker.connected("1.2").await;
    r1.subscribe("rep", "/temp-queue/r", "auto").await;
    r2.subscribe("rep", "/temp-queue/r", "auto").await;
    r1.send_msg(&service, "from-1", &[("reply-to", "/temp-queue/r")])
        .await;
    r2.send_msg(&service, "from-2", &[("reply-to", "/temp-queue/r")])
        .await;

    for _ in 0..2 {
        let req = responder.recv_message().await;
        let reply_to = req.must("reply-to").to_owned();
        let body = format!("reply-to-{}", req.body_str());
        responder.send_msg(&reply_to, &body, &[]).await;
        responder.ack(&req).await;
    }
    assert_eq!(r1.recv_message().await.body_str(), "reply-to-from-1");
    assert_eq!(r2.recv_message().await.body_str(), "reply-to-from-2");
    r1.assert_no_frame(QUIET).await;
    r2.assert_no_frame(Duration::from_millis(50)).await;
    broker.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn temp_topic_delivers_to_its_subscriber() {
    let broker = TestBroker::start().await;
    let mut c = broker.connected("1.2").await;
    c.subscribe("tt", "/temp-topic/events", "auto").await;
    c.send_msg("/temp-topic/events", "evt", &[]).await;
    let m = c.recv_message().await;
    assert_eq!(m.body_str(), "evt");
    assert_eq!(m.hdr("subscription"), Some("tt"));

    // A temp topic's reply-to handed to another connection is usable too.
    let service = unique_queue("svc");
    let mut responder = broker.connected("1.2").await;
    responder.subscribe("svc", &service, "auto").await;
    c.send_msg(&service, "q", &[("reply-to", "/temp-topic/events")])
        .await;
    let req = responder.recv_message().await;
    let reply_to = req.must("reply-to").to_owned();
    assert_ne!(
        reply_to, "/temp-topic/events",
        "temp-topic reply-to must be rewritten to a connection-independent name"
    );
    responder.send_msg(&reply_to, "a", &[]).await;
    assert_eq!(c.recv_message().await.body_str(), "a");
    broker.stop().await;
}
