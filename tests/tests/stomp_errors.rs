//! Protocol violations: each gets an ERROR frame with a `message` header (plus `receipt-id`
//! when the bad frame asked for a receipt), then the connection closes, and other clients keep
//! working. Also: idle connections are dropped after the connect timeout, and garbage never
//! takes the broker down.

use std::time::Duration;

use ferromq_tests::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_command_is_an_error() {
    let broker = TestBroker::start().await;
    for version in ["1.0", "1.1", "1.2"] {
        assert_violation(
            &broker,
            Some(version),
            &raw_frame!("FOO", "receipt:r1"; "x"),
            None,
        )
        .await;
        assert_violation(
            &broker,
            Some(version),
            &raw_frame!("send", "destination:/queue/x"),
            None,
        )
        .await;
    }
    broker.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_frames_sent_by_a_client_are_errors() {
    let broker = TestBroker::start().await;
    for cmd in ["MESSAGE", "RECEIPT", "CONNECTED", "ERROR"] {
        let bad = raw_frame!(cmd, "destination:/queue/x", "receipt:srv"; "x");
        assert_violation(&broker, Some("1.2"), &bad, None).await;
    }
    broker.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn frame_before_connect_is_an_error() {
    let broker = TestBroker::start().await;
    let dest = unique_queue("pre-connect");
    let cases = [
        raw_frame!("SEND", format!("destination:{dest}"), "receipt:pre"; "x"),
        raw_frame!(
            "SUBSCRIBE",
            "id:1",
            format!("destination:{dest}"),
            "receipt:pre"
        ),
        raw_frame!("BEGIN", "transaction:t", "receipt:pre"),
        raw_frame!("DISCONNECT", "receipt:pre"),
    ];
    for bad in &cases {
        assert_violation(&broker, None, bad, Some("pre")).await;
    }
    // And the SEND never reached the queue.
    let mut c = broker.connected("1.2").await;
    c.subscribe("s", &dest, "auto").await;
    c.assert_no_frame(QUIET).await;
    broker.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn send_without_destination_is_an_error() {
    let broker = TestBroker::start().await;
    for version in ["1.0", "1.1", "1.2"] {
        let bad = raw_frame!("SEND", "receipt:no-dest"; "body");
        let err = assert_violation(&broker, Some(version), &bad, Some("no-dest")).await;
        assert!(!err.must("message").is_empty());
    }
    broker.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn subscribe_without_destination_is_an_error() {
    let broker = TestBroker::start().await;
    for version in ["1.0", "1.1", "1.2"] {
        let bad = raw_frame!("SUBSCRIBE", "id:1", "ack:auto", "receipt:no-dest");
        assert_violation(&broker, Some(version), &bad, Some("no-dest")).await;
    }
    broker.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn subscribe_without_id_is_an_error_from_1_1() {
    let broker = TestBroker::start().await;
    for version in ["1.1", "1.2"] {
        let bad = raw_frame!(
            "SUBSCRIBE",
            format!("destination:{}", unique_queue("no-id")),
            "receipt:no-id"
        );
        assert_violation(&broker, Some(version), &bad, Some("no-id")).await;
    }
    broker.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn subscribe_without_id_is_fine_in_1_0() {
    let broker = TestBroker::start().await;
    let dest = unique_queue("no-id-10");
    let mut c = broker.connected("1.0").await;
    c.request(frame!(Subscribe, "destination" => dest)).await;
    c.send_msg(&dest, "ok", &[]).await;
    let m = c.recv_message().await;
    assert_eq!(m.body_str(), "ok");
    assert_eq!(m.hdr("destination"), Some(dest.as_str()));
    // 1.0 UNSUBSCRIBE by destination.
    c.request(frame!(Unsubscribe, "destination" => dest)).await;
    c.send_msg(&dest, "after-unsub", &[]).await;
    c.assert_no_frame(QUIET).await;
    c.disconnect().await;
    broker.stop().await;
}

fn small_limits() -> BrokerConfig {
    let mut cfg = test_config();
    cfg.stomp.max_header_line = 1024;
    cfg.stomp.max_body = 4096;
    cfg
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversized_header_line_is_an_error() {
    let broker = TestBroker::start_with(small_limits()).await;
    let long = format!("x-long:{}", "v".repeat(2000));
    // Within the limit is fine.
    let ok = format!("x-ok:{}", "v".repeat(900));
    let mut c = broker.connected("1.2").await;
    let dest = unique_queue("hdr-ok");
    c.subscribe("s", &dest, "auto").await;
    c.send_raw(&raw_frame!("SEND", format!("destination:{dest}"), ok, "receipt:ok"; "x"))
        .await;
    c.wait_receipt("ok").await;
    assert_eq!(c.recv_message().await.hdr("x-ok").map(str::len), Some(900));

    let bad = raw_frame!("SEND", "destination:/queue/x", long; "x");
    assert_violation(&broker, Some("1.2"), &bad, None).await;
    // The CONNECT frame itself is bounded too.
    let bad = raw_frame!(
        "CONNECT",
        "accept-version:1.2",
        format!("login:{}", "u".repeat(4000))
    );
    assert_violation(&broker, None, &bad, None).await;
    broker.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversized_body_is_an_error() {
    let broker = TestBroker::start_with(small_limits()).await;
    let dest = unique_queue("big-body");
    // At the limit is fine.
    let mut c = broker.connected("1.2").await;
    c.subscribe("s", &dest, "auto").await;
    let body = vec![b'a'; 4096];
    c.send(&frame!(Send, "destination" => dest, "receipt" => "fits"; body).with_content_length())
        .await;
    c.wait_receipt("fits").await;
    assert_eq!(c.recv_message().await.body.len(), 4096);

    let big = vec![b'b'; 8192];
    // With content-length, and without (NUL-terminated).
    let with_len = raw_frame!("SEND", format!("destination:{dest}"), "content-length:8192"; big);
    assert_violation(&broker, Some("1.2"), &with_len, None).await;
    let without_len = raw_frame!("SEND", format!("destination:{dest}"); big);
    assert_violation(&broker, Some("1.2"), &without_len, None).await;
    // A content-length announcing a huge body is refused before the body arrives.
    let huge = raw_frame!(
        "SEND",
        format!("destination:{dest}"),
        "content-length:4000000000"
    );
    assert_violation(&broker, Some("1.2"), &huge[..huge.len() - 1], None).await;
    c.assert_no_frame(Duration::from_millis(100)).await;
    broker.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn too_many_headers_is_an_error() {
    let broker = TestBroker::start().await;
    let lines: Vec<String> = (0..(Limits::DEFAULT_MAX_HEADER_COUNT + 500))
        .map(|i| format!("h{i}:v"))
        .collect();
    let mut bad = b"SEND\ndestination:/queue/many\n".to_vec();
    for l in &lines {
        bad.extend_from_slice(l.as_bytes());
        bad.push(b'\n');
    }
    bad.extend_from_slice(b"\nx\0");
    assert_violation(&broker, Some("1.2"), &bad, None).await;
    broker.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_content_length_is_an_error() {
    let broker = TestBroker::start().await;
    let cases = [
        raw_frame!("SEND", "destination:/queue/cl", "content-length:abc"; "abc"),
        raw_frame!("SEND", "destination:/queue/cl", "content-length:-1"; "abc"),
        raw_frame!("SEND", "destination:/queue/cl", "content-length:1.5"; "abc"),
        // content-length says 3, but the octet after 3 body bytes is not NUL.
        raw_frame!("SEND", "destination:/queue/cl", "content-length:3"; "abcdef"),
    ];
    for bad in &cases {
        assert_violation(&broker, Some("1.2"), bad, None).await;
    }
    broker.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_escape_is_an_error() {
    let broker = TestBroker::start().await;
    for (version, line) in [
        ("1.2", "x-bad:a\\qb"),
        ("1.2", "x-bad:trailing\\"),
        ("1.1", "x-bad:a\\tb"),
        ("1.2", "x-b\\qad:v"),
    ] {
        let bad = raw_frame!("SEND", "destination:/queue/esc", line; "x");
        assert_violation(&broker, Some(version), &bad, None).await;
    }
    broker.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backslashes_are_literal_in_1_0() {
    let broker = TestBroker::start().await;
    let dest = unique_queue("esc-10");
    let mut consumer = broker.connected("1.2").await;
    consumer.subscribe("s", &dest, "auto").await;
    let mut c = broker.connected("1.0").await;
    c.send_raw(
        &raw_frame!("SEND", format!("destination:{dest}"), "x-lit:a\\qb\\c", "receipt:lit"; "x"),
    )
    .await;
    c.wait_receipt("lit").await;
    let m = consumer.recv_message().await;
    assert_eq!(m.hdr("x-lit"), Some("a\\qb\\c"), "{}", m.describe());
    broker.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_heart_beat_header_is_an_error() {
    let broker = TestBroker::start().await;
    for hb in ["abc", "100", "1,2,3", "-1,0", "10,x"] {
        let bad = raw_frame!(
            "CONNECT",
            "accept-version:1.2",
            "host:localhost",
            format!("heart-beat:{hb}")
        );
        assert_violation(&broker, None, &bad, None).await;
    }
    broker.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn silent_connection_is_dropped_after_the_connect_timeout() {
    let mut cfg = test_config();
    cfg.stomp.connect_timeout_ms = 500;
    let broker = TestBroker::start_with(cfg).await;

    // Sends nothing at all.
    let mut idle = broker.client().await;
    // Sends half a CONNECT frame and stalls.
    let mut partial = broker.client().await;
    partial.send_raw(b"CONNECT\naccept-version:1.2\n").await;
    // Connected properly: not subject to the connect timeout.
    let mut good = broker.connected("1.2").await;

    idle.set_timeout(Duration::from_secs(3));
    partial.set_timeout(Duration::from_secs(3));
    let frames = idle.expect_closed().await;
    assert!(
        frames.iter().all(|f| f.command == Command::Error),
        "only an ERROR may precede the close"
    );
    partial.expect_closed().await;
    good.assert_open_for(Duration::from_millis(300)).await;
    let dest = unique_queue("after-idle");
    good.subscribe("s", &dest, "auto").await;
    good.send_msg(&dest, "alive", &[]).await;
    assert_eq!(good.recv_message().await.body_str(), "alive");
    broker.stop().await;
}

/// Deterministic pseudo-random bytes (xorshift64*).
fn garbage(seed: u64, len: usize) -> Vec<u8> {
    let mut x = seed | 1;
    (0..len)
        .map(|_| {
            x ^= x >> 12;
            x ^= x << 25;
            x ^= x >> 27;
            (x.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 56) as u8
        })
        .collect()
}

async fn spray(addr: std::net::SocketAddr, bytes: Vec<u8>, connect_first: bool) {
    let Ok(mut c) = StompClient::try_connect(addr).await else {
        return;
    };
    c.set_timeout(Duration::from_secs(2));
    if connect_first {
        c.connect_version("1.2").await;
    }
    for chunk in bytes.chunks(4096) {
        if c.try_send_raw(chunk).await.is_err() {
            break;
        }
    }
    // Whatever the broker answers, it must close or stay sane; never hang the test.
    let _ = tokio::time::timeout(Duration::from_secs(3), async {
        while let ReadOutcome::Item(_) = c.read_within(Duration::from_secs(3)).await {}
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn garbage_flood_does_not_take_the_broker_down() {
    let broker = TestBroker::start().await;
    let mut witness = broker.connected("1.2").await;
    let wdest = unique_queue("witness");
    witness.subscribe("w", &wdest, "auto").await;

    let addr = broker.addr();
    let mut tasks = Vec::new();
    for seed in 0..8u64 {
        let mut bytes = garbage(seed + 1, 256 * 1024);
        if seed % 2 == 0 {
            // Make it look almost like STOMP now and then.
            for (i, chunk) in bytes.chunks_mut(1024).enumerate() {
                if i % 3 == 0 {
                    let prefix = b"SEND\ndestination:/queue/g\ncontent-length:99999999999\n\n";
                    let n = prefix.len().min(chunk.len());
                    chunk[..n].copy_from_slice(&prefix[..n]);
                }
            }
        }
        tasks.push(tokio::spawn(spray(addr, bytes, seed % 4 < 2)));
    }
    // Endless header line, NUL storms, EOL storms, a frame that never ends.
    tasks.push(tokio::spawn(spray(addr, vec![b'A'; 512 * 1024], false)));
    tasks.push(tokio::spawn(spray(addr, vec![0u8; 256 * 1024], true)));
    tasks.push(tokio::spawn(spray(addr, vec![b'\n'; 256 * 1024], true)));
    tasks.push(tokio::spawn(spray(
        addr,
        [
            b"SEND\ndestination:/queue/x\n\n".as_slice(),
            &[b'z'; 300 * 1024],
        ]
        .concat(),
        true,
    )));
    for t in tasks {
        tokio::time::timeout(Duration::from_secs(20), t)
            .await
            .expect("a garbage sender hung")
            .expect("a garbage sender panicked");
    }
    witness.send_msg(&wdest, "still-alive", &[]).await;
    assert_eq!(witness.recv_message().await.body_str(), "still-alive");
    assert_broker_serves(addr).await;
    broker.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn violation_closes_only_the_offending_connection() {
    let broker = TestBroker::start().await;
    let dest = unique_queue("neighbour");
    // A consumer and a producer on the same queue, and a bad client in between.
    let mut consumer = broker.connected("1.1").await;
    consumer.subscribe("s", &dest, "client-individual").await;
    let mut producer = broker.connected("1.0").await;
    producer.send_msg(&dest, "before", &[]).await;
    let before = consumer.recv_message().await;

    let mut bad = broker.connected("1.2").await;
    bad.send_raw(b"NOT A FRAME\n\n\0").await;
    bad.expect_error().await;

    producer.send_msg(&dest, "after", &[]).await;
    let after = consumer.recv_message().await;
    assert_eq!(after.body_str(), "after");
    consumer.ack(&before).await;
    consumer.ack(&after).await;
    broker.stop().await;
}
