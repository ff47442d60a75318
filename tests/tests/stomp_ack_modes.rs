//! Ack modes `auto`, `client` (cumulative) and `client-individual`; ACK/NACK in each
//! version's form; redelivery of NACKed and unacked messages; prefetch windows.

use std::time::Duration;

use ferromq_tests::*;

fn bodies(frames: &[Frame]) -> Vec<String> {
    frames.iter().map(FrameExt::body_str).collect()
}

fn assert_redelivered(m: &Frame, expected: bool) {
    if expected {
        assert_eq!(
            m.hdr("redelivered"),
            Some("true"),
            "expected redelivered:true\n{}",
            m.describe()
        );
    } else {
        assert_eq!(
            m.hdr("redelivered"),
            None,
            "expected no `redelivered` header\n{}",
            m.describe()
        );
    }
}

async fn fill(broker: &TestBroker, dest: &str, n: usize) {
    let mut p = broker.connected("1.2").await;
    for i in 0..n {
        p.send_msg(dest, &format!("m{i}"), &[]).await;
    }
    p.disconnect().await;
}

/// A fresh consumer on `dest` that drains whatever is there (auto ack).
async fn leftovers(broker: &TestBroker, dest: &str) -> Vec<Frame> {
    let mut c = broker.connected("1.2").await;
    c.subscribe("leftovers", dest, "auto").await;
    let mut out = Vec::new();
    while let Some(f) = c.try_recv_within(QUIET).await {
        f.assert_command(Command::Message);
        out.push(f);
    }
    c.disconnect().await;
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn auto_ack_consumes_on_delivery() {
    let broker = TestBroker::start().await;
    let dest = unique_queue("auto");
    fill(&broker, &dest, 3).await;
    let mut c = broker.connected("1.2").await;
    c.subscribe("s", &dest, "auto").await;
    assert_eq!(bodies(&c.recv_messages(3).await), ["m0", "m1", "m2"]);
    c.close().await;
    assert!(
        leftovers(&broker, &dest).await.is_empty(),
        "auto-acked messages came back"
    );
    broker.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_ack_is_cumulative() {
    let broker = TestBroker::start().await;
    for version in ["1.0", "1.1", "1.2"] {
        let dest = unique_queue("client");
        fill(&broker, &dest, 3).await;
        let mut c = broker.connected(version).await;
        c.subscribe("s", &dest, "client").await;
        let msgs = c.recv_messages(3).await;
        c.ack(&msgs[1]).await; // acks m0 and m1
        c.disconnect().await;
        let rest = leftovers(&broker, &dest).await;
        assert_eq!(
            bodies(&rest),
            ["m2"],
            "STOMP {version}: cumulative ACK of m1"
        );
        assert_redelivered(&rest[0], true);
        assert_eq!(
            rest[0].hdr("message-id"),
            msgs[2].hdr("message-id"),
            "redelivery keeps the message-id"
        );
    }
    broker.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_individual_ack_acks_only_that_message() {
    let broker = TestBroker::start().await;
    for version in ["1.1", "1.2"] {
        let dest = unique_queue("individual");
        fill(&broker, &dest, 3).await;
        let mut c = broker.connected(version).await;
        c.subscribe("s", &dest, "client-individual").await;
        let msgs = c.recv_messages(3).await;
        c.ack(&msgs[1]).await;
        c.disconnect().await;
        let rest = leftovers(&broker, &dest).await;
        assert_eq!(bodies(&rest), ["m0", "m2"], "STOMP {version}");
        rest.iter().for_each(|m| assert_redelivered(m, true));
    }
    broker.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ack_in_each_version_form_consumes() {
    let broker = TestBroker::start().await;
    for (version, mode) in [
        ("1.0", "client"),
        ("1.1", "client-individual"),
        ("1.1", "client"),
        ("1.2", "client-individual"),
        ("1.2", "client"),
    ] {
        let dest = unique_queue("ack-form");
        fill(&broker, &dest, 2).await;
        let mut c = broker.connected(version).await;
        c.subscribe("s", &dest, mode).await;
        let msgs = c.recv_messages(2).await;
        for m in &msgs {
            c.ack(m).await; // ack_frame_for builds the version's form
        }
        c.disconnect().await;
        assert!(
            leftovers(&broker, &dest).await.is_empty(),
            "STOMP {version} {mode}: ACKed messages came back"
        );
    }
    broker.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ack_1_1_with_wrong_subscription_is_an_error() {
    let broker = TestBroker::start().await;
    let dest = unique_queue("wrong-sub");
    fill(&broker, &dest, 1).await;
    let mut c = broker.connected("1.1").await;
    c.subscribe("right", &dest, "client").await;
    let m = c.recv_message().await;
    c.send(&frame!(Ack,
        "subscription" => "wrong",
        "message-id" => m.must("message-id"),
        "receipt" => "bad-ack"))
        .await;
    let err = c.expect_error().await;
    assert_eq!(err.hdr("receipt-id"), Some("bad-ack"), "{}", err.describe());
    let rest = leftovers(&broker, &dest).await;
    assert_eq!(
        bodies(&rest),
        ["m0"],
        "the wrongly ACKed message must stay unacked"
    );
    assert_redelivered(&rest[0], true);
    broker.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ack_without_required_header_is_an_error() {
    let broker = TestBroker::start().await;
    // 1.2 needs `id`; 1.1 needs `message-id` (and `subscription`); 1.0 needs `message-id`.
    for (version, ack) in [
        ("1.2", raw_frame!("ACK", "receipt:r-ack")),
        ("1.1", raw_frame!("ACK", "subscription:s", "receipt:r-ack")),
        ("1.0", raw_frame!("ACK", "receipt:r-ack")),
    ] {
        assert_violation(&broker, Some(version), &ack, Some("r-ack")).await;
    }
    broker.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nack_in_client_mode_affects_only_that_message() {
    let broker = TestBroker::start().await;
    for version in ["1.1", "1.2"] {
        let dest = unique_queue("nack-client");
        fill(&broker, &dest, 3).await;
        let mut c = broker.connected(version).await;
        c.subscribe("s", &dest, "client").await;
        let msgs = c.recv_messages(3).await;
        c.nack(&msgs[2]).await;
        // Only m2 comes back; a cumulative NACK would also bring m0 and m1.
        let again = c.recv_message().await;
        assert_eq!(again.body_str(), "m2", "STOMP {version}");
        assert_redelivered(&again, true);
        c.assert_no_frame(QUIET).await;
        c.ack(&again).await; // cumulative: acks everything delivered
        c.disconnect().await;
        assert!(
            leftovers(&broker, &dest).await.is_empty(),
            "STOMP {version}"
        );
    }
    broker.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nacked_message_is_redelivered_ahead_of_newer_ones() {
    let broker = TestBroker::start().await;
    for version in ["1.1", "1.2"] {
        let dest = unique_queue("nack-order");
        fill(&broker, &dest, 2).await;
        let mut c = broker.connected(version).await;
        c.subscribe_with(
            "s",
            &dest,
            "client-individual",
            &[("activemq.prefetchSize", "1")],
        )
        .await;
        let first = c.recv_message().await;
        assert_eq!(first.body_str(), "m0");
        assert_redelivered(&first, false);
        c.nack(&first).await;
        let again = c.recv_message().await;
        assert_eq!(
            again.body_str(),
            "m0",
            "STOMP {version}: NACKed message must come before newer ones"
        );
        assert_redelivered(&again, true);
        assert_eq!(again.hdr("message-id"), first.hdr("message-id"));
        c.ack(&again).await;
        let next = c.recv_message().await;
        assert_eq!(next.body_str(), "m1");
        assert_redelivered(&next, false);
        c.ack(&next).await;
        c.disconnect().await;
    }
    broker.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unacked_messages_return_to_the_queue_at_unsubscribe() {
    let broker = TestBroker::start().await;
    let dest = unique_queue("unsub-return");
    fill(&broker, &dest, 2).await;
    let mut c = broker.connected("1.2").await;
    c.subscribe("s1", &dest, "client-individual").await;
    let msgs = c.recv_messages(2).await;
    assert_eq!(bodies(&msgs), ["m0", "m1"]);
    c.unsubscribe("s1").await;
    c.send_msg(&dest, "m2", &[]).await;
    c.subscribe("s2", &dest, "client-individual").await;
    let again = c.recv_messages(3).await;
    assert_eq!(
        bodies(&again),
        ["m0", "m1", "m2"],
        "returned messages go ahead of newer ones"
    );
    assert_redelivered(&again[0], true);
    assert_redelivered(&again[1], true);
    assert_redelivered(&again[2], false);
    assert!(again.iter().all(|m| m.hdr("subscription") == Some("s2")));
    broker.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unacked_messages_return_to_the_queue_at_disconnect() {
    let broker = TestBroker::start().await;
    for graceful in [true, false] {
        let dest = unique_queue("disc-return");
        fill(&broker, &dest, 3).await;
        let mut c = broker.connected("1.2").await;
        c.subscribe_with("s", &dest, "client", &[("activemq.prefetchSize", "2")])
            .await;
        assert_eq!(bodies(&c.recv_messages(2).await), ["m0", "m1"]);
        if graceful {
            // The RECEIPT of DISCONNECT comes after the broker took the messages back.
            c.disconnect().await;
        } else {
            c.close().await;
            // A dropped socket is noticed asynchronously; a consumer that subscribes in the
            // same instant may get the newer message first (ActiveMQ too). Give the broker a
            // moment: this checks where the messages go, not how fast the drop is seen.
            tokio::time::sleep(Duration::from_millis(300)).await;
        }
        let mut c2 = broker.connected("1.2").await;
        c2.subscribe("s", &dest, "client-individual").await;
        let again = c2.recv_messages(3).await;
        assert_eq!(bodies(&again), ["m0", "m1", "m2"], "graceful={graceful}");
        assert_redelivered(&again[0], true);
        assert_redelivered(&again[1], true);
        assert_redelivered(&again[2], false);
        c2.assert_no_frame(Duration::from_millis(100)).await;
    }
    broker.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prefetch_limits_unacked_messages_client_individual() {
    let broker = TestBroker::start().await;
    let dest = unique_queue("prefetch-ind");
    fill(&broker, &dest, 3).await;
    let mut c = broker.connected("1.2").await;
    c.subscribe_with(
        "s",
        &dest,
        "client-individual",
        &[("activemq.prefetchSize", "2")],
    )
    .await;
    let msgs = c.recv_messages(2).await;
    assert_eq!(bodies(&msgs), ["m0", "m1"]);
    c.assert_no_frame(QUIET).await;
    c.ack(&msgs[0]).await;
    let third = c.recv_message().await;
    assert_eq!(third.body_str(), "m2");
    broker.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prefetch_limits_unacked_messages_client_cumulative() {
    let broker = TestBroker::start().await;
    let dest = unique_queue("prefetch-cum");
    fill(&broker, &dest, 5).await;
    let mut c = broker.connected("1.1").await;
    c.subscribe_with("s", &dest, "client", &[("activemq.prefetchSize", "2")])
        .await;
    let msgs = c.recv_messages(2).await;
    assert_eq!(bodies(&msgs), ["m0", "m1"]);
    c.assert_no_frame(QUIET).await;
    c.ack(&msgs[1]).await; // frees both slots
    let next = c.recv_messages(2).await;
    assert_eq!(bodies(&next), ["m2", "m3"]);
    c.assert_no_frame(QUIET).await;
    broker.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn auto_ack_is_not_held_back_by_a_small_prefetch() {
    let broker = TestBroker::start().await;
    let dest = unique_queue("prefetch-auto");
    fill(&broker, &dest, 5).await;
    let mut c = broker.connected("1.2").await;
    c.subscribe_with("s", &dest, "auto", &[("activemq.prefetchSize", "1")])
        .await;
    assert_eq!(
        bodies(&c.recv_messages(5).await),
        ["m0", "m1", "m2", "m3", "m4"]
    );
    broker.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn default_prefetch_is_1000() {
    let broker = TestBroker::start().await;
    let dest = unique_queue("prefetch-default");
    let mut p = broker.connected("1.2").await;
    // Pipeline 1001 sends, then wait for the last receipt.
    for i in 0..1001 {
        let mut f = frame!(Send, "destination" => dest; format!("m{i}"));
        if i == 1000 {
            f.headers.push(b("receipt"), b("last"));
        }
        p.send(&f).await;
    }
    p.wait_receipt("last").await;
    let mut c = broker.connected("1.2").await;
    c.subscribe("s", &dest, "client-individual").await;
    let msgs = c.recv_messages(1000).await;
    assert_eq!(msgs[999].body_str(), "m999");
    c.assert_no_frame(QUIET).await;
    c.ack(&msgs[0]).await;
    assert_eq!(c.recv_message().await.body_str(), "m1000");
    broker.stop().await;
}
