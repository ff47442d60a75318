//! CONNECT / STOMP handshake, version negotiation, CONNECTED headers, receipts, DISCONNECT.

use ferromq_tests::*;

async fn connected_for(broker: &TestBroker, connect: Frame) -> Frame {
    let mut c = broker.client().await;
    c.connect_with(&connect).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connect_without_accept_version_negotiates_1_0() {
    let broker = TestBroker::start().await;
    let f = connected_for(&broker, frame!(Connect)).await;
    assert_eq!(f.hdr("version"), Some("1.0"), "{}", f.describe());

    // A 1.0 client also commonly sends login/passcode only.
    let f = connected_for(
        &broker,
        frame!(Connect, "login" => "guest", "passcode" => "guest"),
    )
    .await;
    assert_eq!(f.hdr("version"), Some("1.0"), "{}", f.describe());
    broker.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connect_negotiates_highest_common_version() {
    let broker = TestBroker::start().await;
    for (accept, expected) in [
        ("1.0,1.1,1.2", "1.2"),
        ("1.0,1.1", "1.1"),
        ("1.1", "1.1"),
        ("1.2", "1.2"),
        ("1.0", "1.0"),
        ("1.2,1.0", "1.2"),
        ("1.0,1.1,2.0", "1.1"),
    ] {
        let f = connected_for(
            &broker,
            frame!(Connect, "accept-version" => accept, "host" => "localhost"),
        )
        .await;
        assert_eq!(
            f.hdr("version"),
            Some(expected),
            "accept-version:{accept}\n{}",
            f.describe()
        );
    }
    broker.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stomp_frame_connects_like_connect() {
    let broker = TestBroker::start().await;
    let mut c = broker.client().await;
    let f = c
        .connect_with(&frame!(Stomp, "accept-version" => "1.1,1.2", "host" => "localhost"))
        .await;
    assert_eq!(f.hdr("version"), Some("1.2"));
    // The session works: round-trip a message.
    let dest = unique_queue("stomp-cmd");
    c.subscribe("s", &dest, "auto").await;
    c.send_msg(&dest, "hi", &[]).await;
    assert_eq!(c.recv_message().await.body_str(), "hi");
    c.disconnect().await;
    broker.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unsupported_version_gets_error_and_close() {
    let broker = TestBroker::start().await;
    for accept in ["2.0", "3.0,2.1", "0.9"] {
        let mut c = broker.client().await;
        c.send(&frame!(Connect, "accept-version" => accept, "host" => "localhost"))
            .await;
        let err = c.expect_error().await;
        // STOMP 1.1/1.2 §Protocol Negotiation: the ERROR lists the supported versions.
        let versions = err.hdr("version").unwrap_or_else(|| {
            panic!(
                "ERROR for accept-version:{accept} lacks the `version` header listing supported versions:\n{}",
                err.describe()
            )
        });
        assert!(
            versions.contains("1.2") && versions.contains("1.1") && versions.contains("1.0"),
            "supported versions listed: {versions:?}"
        );
    }
    assert_broker_serves(broker.addr()).await;
    broker.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn login_passcode_and_host_are_accepted() {
    let broker = TestBroker::start().await;
    for cmd in [Command::Connect, Command::Stomp] {
        let mut f = frame!(Connect,
            "accept-version" => "1.2",
            "host" => "some-virtual-host",
            "login" => "alice",
            "passcode" => "secret");
        f.command = cmd;
        let c = connected_for(&broker, f).await;
        assert_eq!(c.hdr("version"), Some("1.2"));
    }
    broker.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connected_carries_version_server_session_heart_beat() {
    let broker = TestBroker::start().await;
    let a = connected_for(
        &broker,
        frame!(Connect, "accept-version" => "1.2", "host" => "localhost"),
    )
    .await;
    let b2 = connected_for(
        &broker,
        frame!(Connect, "accept-version" => "1.1", "host" => "localhost"),
    )
    .await;
    for f in [&a, &b2] {
        let server = f.must("server");
        let (name, version) = server
            .split(' ')
            .next()
            .and_then(|t| t.split_once('/'))
            .unwrap_or_else(|| panic!("server header is not `name/version`: {server:?}"));
        assert_eq!(name, "ferromq", "server header {server:?}");
        assert!(
            !version.is_empty() && version.chars().next().is_some_and(|c| c.is_ascii_digit()),
            "server header version {server:?}"
        );
        assert!(!f.must("session").is_empty(), "empty session header");
        parse_heart_beat(f.must("heart-beat"));
    }
    assert_ne!(
        a.must("session"),
        b2.must("session"),
        "two connections got the same session id"
    );
    broker.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn receipt_is_answered_for_every_client_frame() {
    let broker = TestBroker::start().await;
    for version in ["1.0", "1.1", "1.2"] {
        let mut c = broker.connected(version).await;
        let dest = unique_queue("receipts");
        let tx = unique("tx");
        let frames = vec![
            frame!(Subscribe, "id" => "s1", "destination" => dest, "ack" => "client-individual"),
            frame!(Send, "destination" => dest; "m1"),
            frame!(Begin, "transaction" => tx),
            frame!(Send, "destination" => dest, "transaction" => tx; "m2"),
            frame!(Abort, "transaction" => tx),
            frame!(Begin, "transaction" => tx),
            frame!(Commit, "transaction" => tx),
        ];
        for (i, mut f) in frames.into_iter().enumerate() {
            let rid = format!("r-{version}-{i}");
            f.headers.push(b("receipt"), b(&rid));
            c.send(&f).await;
            let r = c.wait_receipt(&rid).await;
            assert_eq!(r.hdr("receipt-id"), Some(rid.as_str()));
        }
        // ACK (and NACK from 1.1) of the delivered message with a receipt.
        let m = c.recv_message().await;
        if version != "1.0" {
            let mut nack = c.ack_frame_for(Command::Nack, &m, None);
            nack.headers.push(b("receipt"), b("nack-r"));
            c.send(&nack).await;
            c.wait_receipt("nack-r").await;
            let m2 = c.recv_message().await; // redelivered after NACK
            let mut ack = c.ack_frame_for(Command::Ack, &m2, None);
            ack.headers.push(b("receipt"), b("ack-r"));
            c.send(&ack).await;
            c.wait_receipt("ack-r").await;
        } else {
            let mut ack = c.ack_frame_for(Command::Ack, &m, None);
            ack.headers.push(b("receipt"), b("ack-r"));
            c.send(&ack).await;
            c.wait_receipt("ack-r").await;
        }
        let mut unsub = frame!(Unsubscribe, "id" => "s1");
        if version == "1.0" {
            unsub = frame!(Unsubscribe, "id" => "s1", "destination" => dest);
        }
        unsub.headers.push(b("receipt"), b("unsub-r"));
        c.send(&unsub).await;
        c.wait_receipt("unsub-r").await;
        c.disconnect().await;
    }
    broker.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn receipts_come_in_frame_order() {
    let broker = TestBroker::start().await;
    let mut c = broker.connected("1.2").await;
    let dest = unique_queue("receipt-order");
    for i in 0..20 {
        let f = frame!(Send, "destination" => dest, "receipt" => format!("o-{i}"); "x");
        c.send(&f).await;
    }
    for i in 0..20 {
        let r = c.recv().await;
        r.assert_command(Command::Receipt);
        assert_eq!(r.hdr("receipt-id"), Some(format!("o-{i}").as_str()));
    }
    c.disconnect().await;
    broker.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn disconnect_with_receipt_gets_receipt_then_close() {
    let broker = TestBroker::start().await;
    for version in ["1.0", "1.1", "1.2"] {
        let mut c = broker.connected(version).await;
        c.send(&frame!(Disconnect, "receipt" => "bye-77")).await;
        let r = c.recv().await;
        r.assert_command(Command::Receipt);
        assert_eq!(r.hdr("receipt-id"), Some("bye-77"));
        let after = c.expect_closed().await;
        assert!(after.is_empty(), "frames after the DISCONNECT receipt");
    }
    broker.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn disconnect_without_receipt_closes() {
    let broker = TestBroker::start().await;
    let mut c = broker.connected("1.2").await;
    c.send(&frame!(Disconnect)).await;
    let after = c.expect_closed().await;
    assert!(
        after.is_empty(),
        "frames after DISCONNECT: {:#?}",
        after.iter().map(FrameExt::describe).collect::<Vec<_>>()
    );
    broker.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connect_frame_with_crlf_line_endings_is_accepted() {
    // STOMP 1.2 allows CR LF line endings; CONNECT is never escaped.
    let broker = TestBroker::start().await;
    let mut c = broker.client().await;
    c.send_raw(b"CONNECT\r\naccept-version:1.2\r\nhost:localhost\r\n\r\n\0")
        .await;
    let f = c.recv().await;
    f.assert_command(Command::Connected);
    assert_eq!(f.hdr("version"), Some("1.2"));
    broker.stop().await;
}
