//! Issue 4 over real sockets: priority order under backlog, redelivery back-off with
//! `redelivered`/`JMSXDeliveryCount`, dead-lettering with `original-destination` and
//! `dlqDeliveryFailureCause`, redrive through the admin API, scheduled delivery
//! (`AMQ_SCHEDULED_*`) and expiry.
//!
//! These use the real clock, so delays are short (a few hundred ms). Lower bounds are
//! asserted exactly (less 2 ms for the core's ms-granular clock); upper bounds are generous.

use std::time::{Duration, Instant};

use ferromq_tests::*;

/// The core's clock is whole ms since the epoch: a deadline can be reached up to 1 ms early
/// as measured by `Instant`.
const CLOCK_SLACK: Duration = Duration::from_millis(2);

/// Redelivery 300 ms apart, dead-lettered after 2 redeliveries, to `DLQ.<queue>`.
const BACKOFF_MS: u64 = 300;
const REDELIVERY_CONFIG: &str = r#"
[redelivery.defaultEntry]
maximumRedeliveries = 2
initialRedeliveryDelay = 300
redeliveryDelay = 300

[[policy]]
queue = ">"
deadLetterStrategy = { type = "individual", queuePrefix = "DLQ." }
"#;

fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock after 1970")
        .as_millis() as u64
}

fn queue_name(dest: &str) -> &str {
    dest.strip_prefix("/queue/").expect("a /queue/ destination")
}

fn json(body: &str) -> serde_json::Value {
    serde_json::from_str(body).unwrap_or_else(|e| panic!("not JSON ({e}): {body}"))
}

/// `pending` of queue `name` per `GET /api/destinations`, `None` when it is not listed.
async fn pending(broker: &TestBroker, name: &str) -> Option<u64> {
    let (status, body) = http_request(broker.admin_addr(), "GET", "/api/destinations").await;
    assert_eq!(status, 200, "{body}");
    json(&body)["destinations"]
        .as_array()
        .expect("destinations array")
        .iter()
        .find(|d| d["kind"] == "queue" && d["name"] == name)
        .map(|d| d["pending"].as_u64().expect("pending count"))
}

fn assert_elapsed_at_least(since: Instant, min_ms: u64, what: &str) {
    let waited = since.elapsed();
    assert!(
        waited + CLOCK_SLACK >= Duration::from_millis(min_ms),
        "{what} after {waited:?}, before the {min_ms} ms it had to wait"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backlog_drains_in_priority_order_fifo_within_a_priority() {
    let broker = TestBroker::start().await;
    let dest = unique_queue("prio");
    let mut p = broker.connected("1.2").await;
    let mut sent = Vec::new();
    // Three rounds of 0..=9 in a scrambled order, so arrival order is not priority order.
    for round in 0..3 {
        for prio in [3u8, 9, 0, 7, 4, 1, 8, 2, 6, 5] {
            let body = format!("p{prio}-r{round}");
            p.send_msg(
                &dest,
                &body,
                &[("persistent", "true"), ("priority", &prio.to_string())],
            )
            .await;
            sent.push((prio, round, body));
        }
    }
    p.disconnect().await;
    // Highest priority first; within a priority, the order they were sent in.
    sent.sort_by_key(|&(prio, round, _)| (std::cmp::Reverse(prio), round));
    let expected: Vec<String> = sent.into_iter().map(|(_, _, b)| b).collect();

    let mut c = broker.connected("1.2").await;
    c.subscribe_with(
        "s",
        &dest,
        "client-individual",
        &[("activemq.prefetchSize", "1")],
    )
    .await;
    let mut got = Vec::new();
    for _ in 0..expected.len() {
        let m = c.recv_message().await;
        got.push(m.body_str());
        c.ack(&m).await;
    }
    assert_eq!(got, expected);
    c.assert_no_frame(QUIET).await;
    c.disconnect().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nack_backs_off_then_dead_letters_and_redrive_brings_it_back() {
    let broker = TestBroker::start_with_config_text(REDELIVERY_CONFIG).await;
    let dest = unique_queue("nack");
    let dlq = format!("/queue/DLQ.{}", queue_name(&dest));
    let mut c = broker.connected("1.2").await;
    c.subscribe_with(
        "s",
        &dest,
        "client-individual",
        &[("activemq.prefetchSize", "10")],
    )
    .await;
    let mut p = broker.connected("1.2").await;
    for body in ["a", "b"] {
        p.send_msg(
            &dest,
            body,
            &[
                ("persistent", "true"),
                ("priority", "6"),
                ("app-header", body),
            ],
        )
        .await;
    }

    // Delivery 1, then two redeliveries, each at least the back-off after its NACK.
    let mut ids = Vec::new();
    // Taken before the round's first NACK goes out, so it is never later than the broker's
    // NACK time: the measured wait is never longer than the real one.
    let mut nacked: Option<Instant> = None;
    for delivery in 1..=3u32 {
        let ms = c.recv_messages(2).await;
        let bodies: Vec<String> = ms.iter().map(FrameExt::body_str).collect();
        assert_eq!(bodies, ["a", "b"], "delivery {delivery}");
        for m in &ms {
            assert_eq!(
                m.hdr("JMSXDeliveryCount"),
                Some(delivery.to_string().as_str()),
                "{}",
                m.describe()
            );
            if delivery == 1 {
                assert_eq!(m.hdr("redelivered"), None, "{}", m.describe());
            } else {
                assert_eq!(m.hdr("redelivered"), Some("true"), "{}", m.describe());
                let since = nacked.expect("NACKed in the previous round");
                assert_elapsed_at_least(since, BACKOFF_MS, "redelivery");
            }
        }
        if delivery == 1 {
            ids = ms.iter().map(|m| m.must("message-id").to_owned()).collect();
        }
        nacked = Some(Instant::now());
        for m in &ms {
            c.nack(m).await;
        }
    }
    // The third NACK exceeds maximumRedeliveries = 2: both go to DLQ.<queue>, not back.
    c.assert_no_frame(Duration::from_millis(BACKOFF_MS + 300))
        .await;
    assert_eq!(
        pending(&broker, &format!("DLQ.{}", queue_name(&dest))).await,
        Some(2)
    );
    assert_eq!(pending(&broker, queue_name(&dest)).await, Some(0));

    // Redrive one message by id (percent-encoded: ids contain ':').
    let target = format!(
        "/api/queues/DLQ.{}/redrive?message-id={}",
        queue_name(&dest),
        ids[1].replace(':', "%3A")
    );
    let (status, body) = http_request(broker.admin_addr(), "POST", &target).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(json(&body)["moved"], 1, "{body}");
    let back = c.recv_message().await;
    assert_eq!(back.body_str(), "b");
    // Back on its queue as a new delivery: count reset, no dead-letter headers.
    assert_eq!(back.hdr("destination"), Some(dest.as_str()));
    assert_eq!(
        back.hdr("JMSXDeliveryCount"),
        Some("1"),
        "{}",
        back.describe()
    );
    assert_eq!(back.hdr("redelivered"), None);
    assert_eq!(back.hdr("original-destination"), None);
    assert_eq!(back.hdr("dlqDeliveryFailureCause"), None);
    assert_eq!(back.hdr("app-header"), Some("b"));
    c.ack(&back).await;

    // The other one waits on the DLQ with its origin, cause and count, body and headers kept.
    let mut d = broker.connected("1.2").await;
    d.subscribe("d", &dlq, "client-individual").await;
    let dead = d.recv_message().await;
    assert_eq!(dead.body_str(), "a");
    assert_eq!(dead.hdr("message-id"), Some(ids[0].as_str()));
    assert_eq!(dead.hdr("destination"), Some(dlq.as_str()));
    assert_eq!(dead.hdr("original-destination"), Some(dest.as_str()));
    let cause = dead.must("dlqDeliveryFailureCause");
    assert!(cause.contains("maximumRedeliveries = 2"), "{cause}");
    assert_eq!(dead.hdr("persistent"), Some("true"));
    assert_eq!(dead.hdr("priority"), Some("6"));
    assert_eq!(dead.hdr("app-header"), Some("a"));
    // Three deliveries so far; this is the fourth.
    assert_eq!(dead.hdr("redelivered"), Some("true"));
    assert_eq!(dead.hdr("JMSXDeliveryCount"), Some("4"));
    d.ack(&dead).await;
    d.disconnect().await;
    c.assert_no_frame(QUIET).await;
    c.disconnect().await;
    p.disconnect().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redrive_moves_every_dead_letter_back() {
    // maximumRedeliveries = 0: the first NACK dead-letters.
    let broker = TestBroker::start_with_config_text(
        r#"
[redelivery.defaultEntry]
maximumRedeliveries = 0

[[policy]]
queue = ">"
deadLetterStrategy = { type = "individual", queuePrefix = "DLQ." }
"#,
    )
    .await;
    let dest = unique_queue("redrive-all");
    let dlq_name = format!("DLQ.{}", queue_name(&dest));
    let mut c = broker.connected("1.2").await;
    c.subscribe("s", &dest, "client-individual").await;
    for i in 0..3 {
        c.send_msg(&dest, &format!("m{i}"), &[("persistent", "true")])
            .await;
    }
    for m in c.recv_messages(3).await {
        c.nack(&m).await;
    }
    c.assert_no_frame(QUIET).await;
    assert_eq!(pending(&broker, &dlq_name).await, Some(3));

    // Name percent-encoded in the path, as any client may.
    let target = format!("/api/queues/{}/redrive", dlq_name.replace('.', "%2E"));
    let (status, body) = http_request(broker.admin_addr(), "POST", &target).await;
    assert_eq!(
        (status, json(&body)["moved"].as_u64()),
        (200, Some(3)),
        "{body}"
    );
    let back: Vec<String> = c
        .recv_messages(3)
        .await
        .iter()
        .map(FrameExt::body_str)
        .collect();
    assert_eq!(back, ["m0", "m1", "m2"]);
    assert_eq!(pending(&broker, &dlq_name).await, Some(0));

    // Nothing left: a second redrive moves nothing; an unknown queue is a 404 with a reason.
    let (status, body) = http_request(broker.admin_addr(), "POST", &target).await;
    assert_eq!(
        (status, json(&body)["moved"].as_u64()),
        (200, Some(0)),
        "{body}"
    );
    let (status, body) = http_request(
        broker.admin_addr(),
        "POST",
        "/api/queues/DLQ.nowhere/redrive",
    )
    .await;
    assert_eq!(status, 404, "{body}");
    assert_eq!(json(&body)["error"], "no such queue 'DLQ.nowhere'");
    c.disconnect().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_api_rejects_bad_requests_without_harm() {
    let broker = TestBroker::start().await;
    let admin = broker.admin_addr();
    for (method, target, want) in [
        ("GET", "/api/queues/x/redrive", 405),
        ("DELETE", "/api/destinations", 405),
        ("GET", "/nope", 404),
        ("POST", "/api/queues/x/redrive?messageid=1", 400),
        ("POST", "/api/queues/%G0/redrive", 400),
    ] {
        let (status, body) = http_request(admin, method, target).await;
        assert_eq!(status, want, "{method} {target}: {body}");
        assert!(json(&body)["error"].is_string(), "{body}");
    }
    // Not HTTP at all, and a head that never ends: 400 and 431, and the API still answers.
    for (raw, want) in [
        (b"\x00\x01garbage\r\n\r\n".to_vec(), "HTTP/1.1 400 "),
        (
            [b"GET / HTTP/1.1\r\nX: ".as_slice(), &vec![b'a'; 70 * 1024]].concat(),
            "HTTP/1.1 431 ",
        ),
    ] {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let mut s = tokio::net::TcpStream::connect(admin)
            .await
            .expect("connect");
        // The server may answer and close before taking all of it.
        let _ = s.write_all(&raw).await;
        let mut answer = Vec::new();
        let _ = tokio::time::timeout(DEFAULT_TIMEOUT, s.read_to_end(&mut answer)).await;
        let answer = String::from_utf8_lossy(&answer);
        assert!(answer.starts_with(want), "{answer:?}");
    }
    let (status, _) = http_request(admin, "GET", "/api/destinations").await;
    assert_eq!(status, 200);
    assert_broker_serves(broker.addr()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scheduled_delay_holds_the_message_back() {
    let broker = TestBroker::start().await;
    let dest = unique_queue("delay");
    let mut c = broker.connected("1.2").await;
    c.subscribe("s", &dest, "auto").await;
    let sent = Instant::now();
    c.send_msg(
        &dest,
        "later",
        &[("AMQ_SCHEDULED_DELAY", "400"), ("persistent", "true")],
    )
    .await;
    c.send_msg(&dest, "now", &[]).await;
    let first = c.recv_message().await;
    assert_eq!(
        first.body_str(),
        "now",
        "an undelayed message is not held up"
    );
    let m = c.recv_message().await;
    assert_elapsed_at_least(sent, 400, "delayed message");
    assert!(
        sent.elapsed() < Duration::from_secs(3),
        "{:?}",
        sent.elapsed()
    );
    assert_eq!(m.body_str(), "later");
    // As ActiveMQ's scheduler: the scheduling headers are gone, a job id is there (so a
    // consumer that sends it on does not schedule it again).
    assert_eq!(m.hdr("AMQ_SCHEDULED_DELAY"), None);
    assert_eq!(m.hdr("scheduledJobId"), m.hdr("message-id"));
    c.assert_no_frame(QUIET).await;
    c.disconnect().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scheduled_repeat_delivers_repeat_plus_one_copies_period_apart() {
    let broker = TestBroker::start().await;
    let dest = unique_queue("repeat");
    let mut c = broker.connected("1.2").await;
    c.subscribe("s", &dest, "client-individual").await;
    let sent = Instant::now();
    c.send_msg(
        &dest,
        "tick",
        &[
            ("AMQ_SCHEDULED_DELAY", "200"),
            ("AMQ_SCHEDULED_PERIOD", "150"),
            ("AMQ_SCHEDULED_REPEAT", "2"),
        ],
    )
    .await;
    let mut ids = Vec::new();
    for (i, due_ms) in [200u64, 350, 500].into_iter().enumerate() {
        let m = c.recv_message().await;
        assert_elapsed_at_least(sent, due_ms, &format!("copy {i}"));
        assert_eq!(m.body_str(), "tick");
        ids.push(m.must("message-id").to_owned());
        c.ack(&m).await;
    }
    assert!(
        sent.elapsed() < Duration::from_secs(4),
        "{:?}",
        sent.elapsed()
    );
    let mut distinct = ids.clone();
    distinct.sort();
    distinct.dedup();
    assert_eq!(
        distinct.len(),
        3,
        "each copy is a message of its own: {ids:?}"
    );
    c.assert_no_frame(Duration::from_millis(500)).await;
    c.disconnect().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_schedules_are_refused() {
    let broker = TestBroker::start().await;
    for (header, value, says) in [
        ("AMQ_SCHEDULED_DELAY", "-5", "AMQ_SCHEDULED_DELAY"),
        ("AMQ_SCHEDULED_REPEAT", "many", "AMQ_SCHEDULED_REPEAT"),
        ("AMQ_SCHEDULED_CRON", "every tuesday", "invalid schedule"),
    ] {
        let bad = raw_frame!(
            "SEND",
            "destination:/queue/sched-bad",
            format!("{header}:{value}"),
            "receipt:r1";
            b"x"
        );
        let err = assert_violation(&broker, Some("1.2"), &bad, Some("r1")).await;
        let msg = err.must("message");
        assert!(msg.contains(says), "{header}:{value} → {msg}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expired_message_is_never_delivered_and_goes_to_the_dlq() {
    let broker = TestBroker::start().await;
    let dest = unique_queue("expired");
    let mut c = broker.connected("1.2").await;
    c.subscribe("s", &dest, "auto").await;
    let past = (now_ms() - 1_000).to_string();
    c.send_msg(
        &dest,
        "stale",
        &[("persistent", "true"), ("expires", &past)],
    )
    .await;
    let future = (now_ms() + 60_000).to_string();
    c.send_msg(&dest, "fresh", &[("expires", &future)]).await;
    let m = c.recv_message().await;
    assert_eq!(m.body_str(), "fresh");
    c.assert_no_frame(QUIET).await;

    // processExpired defaults to true; the shared strategy's queue is ActiveMQ.DLQ.
    let mut d = broker.connected("1.2").await;
    d.subscribe("d", "/queue/ActiveMQ.DLQ", "auto").await;
    let dead = d.recv_message().await;
    assert_eq!(dead.body_str(), "stale");
    assert_eq!(dead.hdr("original-destination"), Some(dest.as_str()));
    // ActiveMQ's text and property, verbatim.
    assert_eq!(
        dead.hdr("dlqDeliveryFailureCause"),
        Some(format!("java.lang.Throwable: Message Expired. Expiration:{past}").as_str()),
        "{}",
        dead.describe()
    );
    assert_eq!(dead.hdr("originalExpiration"), Some(past.as_str()));
    // Dead-lettered messages do not expire again.
    assert_eq!(dead.hdr("expires"), Some("0"));
    d.assert_no_frame(QUIET).await;
    d.disconnect().await;
    c.disconnect().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expired_message_is_dropped_without_process_expired() {
    let broker = TestBroker::start_with_config_text(
        r#"
[[policy]]
queue = ">"
deadLetterStrategy = { type = "shared", processExpired = false }
"#,
    )
    .await;
    let dest = unique_queue("expired-drop");
    let mut c = broker.connected("1.2").await;
    c.subscribe("s", &dest, "auto").await;
    let past = (now_ms() - 1_000).to_string();
    c.send_msg(
        &dest,
        "stale",
        &[("persistent", "true"), ("expires", &past)],
    )
    .await;
    c.assert_no_frame(QUIET).await;
    assert_eq!(pending(&broker, "ActiveMQ.DLQ").await.unwrap_or(0), 0);
    let mut d = broker.connected("1.2").await;
    d.subscribe("d", "/queue/ActiveMQ.DLQ", "auto").await;
    d.assert_no_frame(QUIET).await;
    d.disconnect().await;
    c.disconnect().await;
}
