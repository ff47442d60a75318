//! BEGIN / COMMIT / ABORT over SEND, ACK and NACK.

use std::time::Duration;

use ferromq_tests::*;

fn bodies(frames: &[Frame]) -> Vec<String> {
    frames.iter().map(FrameExt::body_str).collect()
}

async fn leftovers(broker: &TestBroker, dest: &str) -> Vec<String> {
    let mut c = broker.connected("1.2").await;
    c.subscribe("leftovers", dest, "auto").await;
    let mut out = Vec::new();
    while let Some(f) = c.try_recv_within(QUIET).await {
        f.assert_command(Command::Message);
        out.push(f.body_str());
    }
    c.disconnect().await;
    out
}

async fn fill(broker: &TestBroker, dest: &str, n: usize) {
    let mut p = broker.connected("1.2").await;
    for i in 0..n {
        p.send_msg(dest, &format!("m{i}"), &[]).await;
    }
    p.disconnect().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sends_in_a_transaction_are_invisible_until_commit() {
    let broker = TestBroker::start().await;
    for version in ["1.0", "1.1", "1.2"] {
        let dest = unique_queue("tx-commit");
        let mut consumer = broker.connected("1.2").await;
        consumer.subscribe("s", &dest, "auto").await;
        let mut p = broker.connected(version).await;
        let tx = unique("tx");
        p.begin(&tx).await;
        p.send_msg(&dest, "t1", &[("transaction", &tx)]).await;
        p.send_msg(&dest, "t2", &[("transaction", &tx)]).await;
        p.send_msg(&dest, "outside", &[]).await;
        assert_eq!(
            consumer.recv_message().await.body_str(),
            "outside",
            "STOMP {version}"
        );
        consumer.assert_no_frame(QUIET).await;
        p.commit(&tx).await;
        assert_eq!(
            bodies(&consumer.recv_messages(2).await),
            ["t1", "t2"],
            "STOMP {version}"
        );
        let m = consumer.try_recv_within(Duration::from_millis(100)).await;
        assert!(m.is_none(), "extra frame after commit");
    }
    broker.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn aborted_sends_are_dropped() {
    let broker = TestBroker::start().await;
    let dest = unique_queue("tx-abort");
    let mut consumer = broker.connected("1.2").await;
    consumer.subscribe("s", &dest, "auto").await;
    let mut p = broker.connected("1.2").await;
    p.begin("tx-a").await;
    p.send_msg(&dest, "dropped", &[("transaction", "tx-a")])
        .await;
    p.abort("tx-a").await;
    p.send_msg(&dest, "kept", &[]).await;
    assert_eq!(consumer.recv_message().await.body_str(), "kept");
    consumer.assert_no_frame(QUIET).await;
    broker.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn receipt_for_a_transactional_send_comes_at_once() {
    let broker = TestBroker::start().await;
    let dest = unique_queue("tx-receipt");
    let mut p = broker.connected("1.2").await;
    p.begin("tx-r").await;
    p.send(&frame!(Send, "destination" => dest, "transaction" => "tx-r", "receipt" => "now"; "x"))
        .await;
    let r = p.recv().await;
    r.assert_command(Command::Receipt);
    assert_eq!(r.hdr("receipt-id"), Some("now"));
    p.commit("tx-r").await;
    assert_eq!(leftovers(&broker, &dest).await, ["x"]);
    broker.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ack_in_a_transaction_takes_effect_at_commit() {
    let broker = TestBroker::start().await;
    let dest = unique_queue("tx-ack-commit");
    fill(&broker, &dest, 2).await;
    let mut c = broker.connected("1.2").await;
    c.subscribe("s", &dest, "client-individual").await;
    let msgs = c.recv_messages(2).await;
    c.begin("tx").await;
    c.ack_in(&msgs[0], "tx").await;
    c.commit("tx").await;
    // m1 was never acked: it comes back, m0 does not.
    c.close().await;
    assert_eq!(
        leftovers(&broker, &dest).await,
        ["m1"],
        "m0 was acked at COMMIT"
    );
    broker.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn aborted_ack_leaves_the_message_unacked() {
    let broker = TestBroker::start().await;
    let dest = unique_queue("tx-ack-abort");
    fill(&broker, &dest, 1).await;
    let mut c = broker.connected("1.1").await;
    c.subscribe("s", &dest, "client").await;
    let m0 = c.recv_message().await;
    c.begin("tx").await;
    c.ack_in(&m0, "tx").await;
    c.abort("tx").await;
    c.close().await;
    assert_eq!(leftovers(&broker, &dest).await, ["m0"]);
    broker.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn message_can_be_acked_again_after_an_aborted_ack() {
    let broker = TestBroker::start().await;
    let dest = unique_queue("tx-ack-again");
    fill(&broker, &dest, 1).await;
    let mut c = broker.connected("1.2").await;
    c.subscribe("s", &dest, "client-individual").await;
    let m0 = c.recv_message().await;
    c.begin("tx").await;
    c.ack_in(&m0, "tx").await;
    c.abort("tx").await;
    // Rolled back: the consumer still holds m0 unacked and may ACK it again.
    c.ack(&m0).await;
    c.close().await;
    assert!(
        leftovers(&broker, &dest).await.is_empty(),
        "m0 was acked after the abort"
    );
    broker.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nack_in_a_transaction_takes_effect_at_commit() {
    let broker = TestBroker::start().await;
    let dest = unique_queue("tx-nack");
    fill(&broker, &dest, 1).await;
    let mut c = broker.connected("1.2").await;
    c.subscribe("s", &dest, "client-individual").await;
    let m0 = c.recv_message().await;

    // Aborted NACK: nothing happens, the message is still held by the consumer.
    c.begin("tx1").await;
    c.nack_in(&m0, "tx1").await;
    c.abort("tx1").await;
    c.assert_no_frame(QUIET).await;

    // Committed NACK: redelivered after COMMIT, not before.
    c.begin("tx2").await;
    c.nack_in(&m0, "tx2").await;
    c.assert_no_frame(QUIET).await;
    c.commit("tx2").await;
    let again = c.recv_message().await;
    assert_eq!(again.body_str(), "m0");
    assert_eq!(
        again.hdr("redelivered"),
        Some("true"),
        "{}",
        again.describe()
    );
    c.ack(&again).await;
    broker.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn open_transactions_roll_back_at_disconnect() {
    let broker = TestBroker::start().await;
    let dest = unique_queue("tx-disc");
    fill(&broker, &dest, 1).await;
    for graceful in [true, false] {
        let mut c = broker.connected("1.2").await;
        c.subscribe("s", &dest, "client-individual").await;
        let m = c.recv_message().await;
        c.begin("open-tx").await;
        c.ack_in(&m, "open-tx").await;
        c.send_msg(&dest, "uncommitted", &[("transaction", "open-tx")])
            .await;
        if graceful {
            c.disconnect().await;
        } else {
            c.close().await;
        }
        // The ACK was rolled back (m0 is back) and the SEND never happened.
        let mut check = broker.connected("1.2").await;
        check.subscribe("chk", &dest, "client-individual").await;
        let back = check.recv_message().await;
        assert_eq!(back.body_str(), "m0", "graceful={graceful}");
        check.assert_no_frame(QUIET).await;
        check.close().await; // m0 goes back again for the next round
    }
    broker.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_transaction_is_an_error() {
    let broker = TestBroker::start().await;
    let dest = unique_queue("tx-unknown");
    let cases = [
        raw_frame!("SEND", format!("destination:{dest}"), "transaction:nope", "receipt:u1"; "x"),
        raw_frame!("COMMIT", "transaction:nope", "receipt:u1"),
        raw_frame!("ABORT", "transaction:nope", "receipt:u1"),
    ];
    for bad in &cases {
        assert_violation(&broker, Some("1.2"), bad, Some("u1")).await;
    }
    assert!(
        leftovers(&broker, &dest).await.is_empty(),
        "SEND in an unknown transaction was delivered"
    );
    broker.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ack_in_unknown_transaction_is_an_error() {
    let broker = TestBroker::start().await;
    let dest = unique_queue("tx-unknown-ack");
    fill(&broker, &dest, 1).await;
    let mut c = broker.connected("1.2").await;
    c.subscribe("s", &dest, "client-individual").await;
    let m = c.recv_message().await;
    let mut ack = c.ack_frame_for(Command::Ack, &m, Some("nope"));
    ack.headers.push(b("receipt"), b("u2"));
    c.send(&ack).await;
    let err = c.expect_error().await;
    assert_eq!(err.hdr("receipt-id"), Some("u2"));
    assert_eq!(leftovers(&broker, &dest).await, ["m0"]);
    broker.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_committed_transaction_id_cannot_be_reused_without_begin() {
    let broker = TestBroker::start().await;
    let mut c = broker.connected("1.2").await;
    c.begin("once").await;
    c.commit("once").await;
    c.send(&frame!(Commit, "transaction" => "once", "receipt" => "again"))
        .await;
    let err = c.expect_error().await;
    assert_eq!(err.hdr("receipt-id"), Some("again"));
    broker.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_transactions_on_one_connection_are_independent() {
    let broker = TestBroker::start().await;
    let dest = unique_queue("tx-two");
    let mut consumer = broker.connected("1.2").await;
    consumer.subscribe("s", &dest, "auto").await;
    let mut p = broker.connected("1.2").await;
    p.begin("a").await;
    p.begin("b").await;
    p.send_msg(&dest, "in-a", &[("transaction", "a")]).await;
    p.send_msg(&dest, "in-b", &[("transaction", "b")]).await;
    p.abort("a").await;
    p.commit("b").await;
    assert_eq!(consumer.recv_message().await.body_str(), "in-b");
    consumer.assert_no_frame(QUIET).await;
    broker.stop().await;
}
