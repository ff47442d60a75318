//! Queue semantics (competing consumers, order, round-robin over free prefetch) and the
//! headers of MESSAGE frames.

use std::collections::{HashMap, HashSet};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use ferromq_tests::*;

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock before 1970")
        .as_millis() as u64
}

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
async fn backlog_sent_before_subscribe_is_delivered_in_order() {
    let broker = TestBroker::start().await;
    let dest = unique_queue("backlog");
    let mut p = broker.connected("1.2").await;
    for i in 0..10 {
        p.send_msg(&dest, &format!("m{i}"), &[]).await;
    }
    let mut c = broker.connected("1.2").await;
    c.subscribe("s", &dest, "auto").await;
    let got = c.recv_messages(10).await;
    let expected: Vec<String> = (0..10).map(|i| format!("m{i}")).collect();
    assert_eq!(bodies(&got), expected);
    c.assert_no_frame(QUIET).await;
    broker.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn competing_consumers_get_each_message_once_in_order_round_robin() {
    let broker = TestBroker::start().await;
    let dest = unique_queue("compete");
    let mut c1 = broker.connected("1.2").await;
    let mut c2 = broker.connected("1.2").await;
    c1.subscribe("a", &dest, "auto").await;
    c2.subscribe("b", &dest, "auto").await;
    let mut p = broker.connected("1.2").await;
    const N: usize = 20;
    for i in 0..N {
        p.send_msg(&dest, &format!("{i:03}"), &[]).await;
    }
    let got1 = drain(&mut c1).await;
    let got2 = drain(&mut c2).await;
    let b1 = bodies(&got1);
    let b2 = bodies(&got2);

    // Exactly once.
    let mut all: Vec<String> = b1.iter().chain(b2.iter()).cloned().collect();
    all.sort();
    let expected: Vec<String> = (0..N).map(|i| format!("{i:03}")).collect();
    assert_eq!(all, expected, "c1 got {b1:?}, c2 got {b2:?}");
    // In order per consumer.
    for b in [&b1, &b2] {
        let mut sorted = b.clone();
        sorted.sort();
        assert_eq!(b, &sorted, "out of order for one consumer");
    }
    // Round-robin: both consumers have free prefetch, so the work is split evenly.
    assert_eq!(
        (b1.len(), b2.len()),
        (N / 2, N / 2),
        "round-robin dispatch expected; c1 got {b1:?}, c2 got {b2:?}"
    );
    // Subscription header names each consumer's own subscription.
    assert!(got1.iter().all(|m| m.hdr("subscription") == Some("a")));
    assert!(got2.iter().all(|m| m.hdr("subscription") == Some("b")));
    broker.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn round_robin_skips_consumers_whose_prefetch_is_full() {
    let broker = TestBroker::start().await;
    let dest = unique_queue("prefetch-rr");
    let mut c1 = broker.connected("1.2").await;
    let mut c2 = broker.connected("1.2").await;
    let pf = [("activemq.prefetchSize", "1")];
    c1.subscribe_with("a", &dest, "client-individual", &pf)
        .await;
    c2.subscribe_with("b", &dest, "client-individual", &pf)
        .await;
    let mut p = broker.connected("1.2").await;
    for i in 0..4 {
        p.send_msg(&dest, &format!("m{i}"), &[]).await;
    }
    let x1 = c1.recv_message().await;
    let x2 = c2.recv_message().await;
    let mut first_two = bodies(&[x1.clone(), x2.clone()]);
    first_two.sort();
    assert_eq!(first_two, ["m0", "m1"]);
    c1.assert_no_frame(QUIET).await;
    c2.assert_no_frame(Duration::from_millis(50)).await;

    // Only c1 frees a slot: the next message must go to c1, not wait for c2.
    c1.ack(&x1).await;
    let y1 = c1.recv_message().await;
    assert_eq!(y1.body_str(), "m2");
    c2.assert_no_frame(QUIET).await;
    c2.ack(&x2).await;
    let y2 = c2.recv_message().await;
    assert_eq!(y2.body_str(), "m3");
    broker.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unsubscribed_consumer_gets_nothing_more() {
    let broker = TestBroker::start().await;
    let dest = unique_queue("unsub");
    let mut c1 = broker.connected("1.2").await;
    let mut c2 = broker.connected("1.2").await;
    c1.subscribe("a", &dest, "auto").await;
    c2.subscribe("b", &dest, "auto").await;
    c1.unsubscribe("a").await;
    let mut p = broker.connected("1.2").await;
    for i in 0..4 {
        p.send_msg(&dest, &format!("m{i}"), &[]).await;
    }
    assert_eq!(bodies(&c2.recv_messages(4).await), ["m0", "m1", "m2", "m3"]);
    c1.assert_no_frame(QUIET).await;
    broker.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn message_headers_on_first_delivery() {
    let broker = TestBroker::start().await;
    let dest = unique_queue("hdrs");
    let mut c = broker.connected("1.2").await;
    c.subscribe("sub-7", &dest, "client-individual").await;
    let before = now_ms();
    c.send_msg(&dest, "hello", &[]).await;
    let after = now_ms();
    let m = c.recv_message().await;
    let d = m.describe();
    assert_eq!(m.hdr("destination"), Some(dest.as_str()), "{d}");
    assert!(!m.must("message-id").is_empty(), "{d}");
    assert_eq!(m.hdr("subscription"), Some("sub-7"), "{d}");
    assert!(
        !m.must("ack").is_empty(),
        "1.2 MESSAGE needs an `ack` header\n{d}"
    );
    assert_eq!(m.hdr("priority"), Some("4"), "default priority is 4\n{d}");
    assert_eq!(
        m.hdr("persistent"),
        None,
        "non-persistent send must not carry `persistent`\n{d}"
    );
    assert_eq!(
        m.hdr("expires"),
        Some("0"),
        "`expires` is 0 when not set\n{d}"
    );
    assert_eq!(
        m.hdr("redelivered"),
        None,
        "`redelivered` is absent on a first delivery\n{d}"
    );
    let ts: u64 = m
        .must("timestamp")
        .parse()
        .unwrap_or_else(|_| panic!("timestamp is not an integer\n{d}"));
    assert!(
        ts + 1000 >= before && ts <= after + 1000,
        "timestamp {ts} not within [{before}, {after}] ms\n{d}"
    );
    assert_eq!(m.body_str(), "hello");
    c.ack(&m).await;
    broker.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ack_header_only_in_1_2() {
    let broker = TestBroker::start().await;
    for version in ["1.0", "1.1"] {
        let dest = unique_queue("no-ack-hdr");
        let mut c = broker.connected(version).await;
        c.subscribe("s", &dest, "client").await;
        c.send_msg(&dest, "x", &[]).await;
        let m = c.recv_message().await;
        assert_eq!(
            m.hdr("ack"),
            None,
            "STOMP {version} MESSAGE must not carry `ack`\n{}",
            m.describe()
        );
        assert_eq!(m.hdr("subscription"), Some("s"));
        c.ack(&m).await;
        c.disconnect().await;
    }
    broker.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn message_ids_are_unique() {
    let broker = TestBroker::start().await;
    let q1 = unique_queue("ids");
    let q2 = unique_queue("ids");
    let t = unique_topic("ids");
    let mut c = broker.connected("1.2").await;
    // Explicit-ack subscriptions: STOMP 1.2 requires the `ack` header only for those.
    c.subscribe("1", &q1, "client-individual").await;
    c.subscribe("2", &q2, "client-individual").await;
    c.subscribe("3", &t, "client-individual").await;
    for i in 0..20 {
        for d in [&q1, &q2, &t] {
            c.send_msg(d, &format!("{i}"), &[]).await;
        }
    }
    let msgs = c.recv_messages(60).await;
    let ids: HashSet<String> = msgs
        .iter()
        .map(|m| m.must("message-id").to_owned())
        .collect();
    assert_eq!(ids.len(), 60, "duplicate message-id among 60 messages");
    let acks: HashSet<String> = msgs.iter().map(|m| m.must("ack").to_owned()).collect();
    assert_eq!(acks.len(), 60, "duplicate ack id among 60 messages");
    broker.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jms_headers_are_kept() {
    let broker = TestBroker::start().await;
    let dest = unique_queue("jms");
    let mut c = broker.connected("1.2").await;
    c.subscribe("s", &dest, "auto").await;
    let expires = (now_ms() + 3_600_000).to_string();
    let reply_to = unique_queue("replies");
    c.send_msg(
        &dest,
        "x",
        &[
            ("priority", "7"),
            ("persistent", "true"),
            ("expires", &expires),
            ("correlation-id", "corr-42"),
            ("reply-to", &reply_to),
            ("type", "OrderCreated"),
        ],
    )
    .await;
    let m = c.recv_message().await;
    let d = m.describe();
    assert_eq!(m.hdr("priority"), Some("7"), "{d}");
    assert_eq!(m.hdr("persistent"), Some("true"), "{d}");
    assert_eq!(m.hdr("expires"), Some(expires.as_str()), "{d}");
    assert_eq!(m.hdr("correlation-id"), Some("corr-42"), "{d}");
    assert_eq!(m.hdr("reply-to"), Some(reply_to.as_str()), "{d}");
    assert_eq!(m.hdr("type"), Some("OrderCreated"), "{d}");

    for p in ["0", "9", "4"] {
        c.send_msg(&dest, p, &[("priority", p)]).await;
        let m = c.recv_message().await;
        assert_eq!(m.hdr("priority"), Some(p), "{}", m.describe());
    }
    c.send_msg(&dest, "np", &[("persistent", "false")]).await;
    let m = c.recv_message().await;
    assert_eq!(
        m.hdr("persistent"),
        None,
        "persistent:false must not be echoed as persistent\n{}",
        m.describe()
    );
    broker.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn user_headers_pass_through_unchanged() {
    let broker = TestBroker::start().await;
    for version in ["1.1", "1.2"] {
        let dest = unique_queue("user-hdrs");
        let mut c = broker.connected(version).await;
        c.subscribe("s", &dest, "auto").await;
        let mut headers: Vec<(&str, &str)> = vec![
            ("x-plain", "value"),
            ("x-colon", "a:b"),
            ("x-newline", "line1\nline2"),
            ("x-backslash", "c\\d"),
            ("x-all", "a:b\\c\nd"),
            ("x-unicode", "héllo ✓"),
            ("x-empty", ""),
            ("CamelCase-Header", "Kept-Case"),
            ("x-spaces", " padded value "),
        ];
        if version == "1.2" {
            headers.push(("x-cr", "a\rb"));
        }
        // Encoded by the codec, so each value is escaped per the version.
        c.send_msg(&dest, "body", &headers).await;
        let m = c.recv_message().await;
        let d = m.describe();
        for (k, v) in &headers {
            assert_eq!(
                m.hdr(k),
                Some(*v),
                "STOMP {version}: header {k:?} changed\n{d}"
            );
        }
        c.disconnect().await;
    }
    broker.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn escaped_header_bytes_on_the_wire_are_unescaped_once() {
    let broker = TestBroker::start().await;
    let dest = unique_queue("raw-escape");
    let mut c = broker.connected("1.2").await;
    c.subscribe("s", &dest, "auto").await;
    c.send_raw(&raw_frame!(
        "SEND",
        format!("destination:{dest}"),
        "x-esc:a\\cb\\\\c\\nd",
        "receipt:esc-1";
        "payload"
    ))
    .await;
    c.wait_receipt("esc-1").await;
    let m = c.recv_message().await;
    assert_eq!(m.hdr("x-esc"), Some("a:b\\c\nd"), "{}", m.describe());
    broker.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn content_length_body_with_nuls_is_delivered_intact() {
    let broker = TestBroker::start().await;
    for version in ["1.0", "1.1", "1.2"] {
        let dest = unique_queue("nul-body");
        let mut c = broker.connected(version).await;
        c.subscribe("s", &dest, "auto").await;
        let body: Vec<u8> = vec![b'a', 0, b'b', 0, 0, b'c', 0xff, 0xfe, b'\n', 0];
        let f =
            frame!(Send, "destination" => dest, "receipt" => "nul-1"; body).with_content_length();
        c.send(&f).await;
        c.wait_receipt("nul-1").await;
        let m = c.recv_message().await;
        assert_eq!(
            &m.body[..],
            &body[..],
            "STOMP {version}: body changed\n{}",
            m.describe()
        );
        c.disconnect().await;
    }
    broker.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bodies_of_various_sizes_round_trip() {
    let broker = TestBroker::start().await;
    let dest = unique_queue("sizes");
    let mut c = broker.connected("1.2").await;
    c.subscribe("s", &dest, "auto").await;
    // Empty body.
    c.send_msg(&dest, "", &[]).await;
    assert_eq!(c.recv_message().await.body.len(), 0);
    // Text body without content-length.
    let text = "line 1\nline 2\r\nλ".to_owned();
    c.send_msg(&dest, &text, &[]).await;
    assert_eq!(c.recv_message().await.body_str(), text);
    // 256 KiB binary body with content-length.
    let big: Vec<u8> = (0..256 * 1024).map(|i| (i % 251) as u8).collect();
    let f = frame!(Send, "destination" => dest, "receipt" => "big"; big).with_content_length();
    c.send(&f).await;
    c.wait_receipt("big").await;
    let m = c.recv_message().await;
    assert!(
        m.body == big,
        "256 KiB body changed (got {} bytes)",
        m.body.len()
    );
    broker.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_producers_one_consumer_keep_per_producer_order() {
    let broker = TestBroker::start().await;
    let dest = unique_queue("fan-in");
    let mut c = broker.connected("1.2").await;
    c.subscribe("s", &dest, "auto").await;
    let addr = broker.addr();
    let mut tasks = Vec::new();
    for p in 0..3 {
        let dest = dest.clone();
        tasks.push(tokio::spawn(async move {
            let mut prod = StompClient::open(addr, "1.2").await;
            for i in 0..20 {
                prod.send_msg(&dest, &format!("{p}:{i}"), &[]).await;
            }
            prod.disconnect().await;
        }));
    }
    for t in tasks {
        t.await.expect("producer task panicked");
    }
    let msgs = c.recv_messages(60).await;
    let mut last: HashMap<String, i64> = HashMap::new();
    for m in &msgs {
        let body = m.body_str();
        let (p, i) = body.split_once(':').expect("body p:i");
        let i: i64 = i.parse().expect("seq");
        let prev = last.insert(p.to_owned(), i).unwrap_or(-1);
        assert_eq!(i, prev + 1, "producer {p}'s messages out of order");
    }
    c.assert_no_frame(QUIET).await;
    broker.stop().await;
}
