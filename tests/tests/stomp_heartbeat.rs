//! Heart-beat negotiation and enforcement (STOMP 1.1+ §Heart-beating, ActiveMQ grace
//! multiplier). Real time with tolerant windows: this checks behaviour, not timing precision.

use std::time::Duration;

use ferromq_tests::*;
use tokio::time::Instant;

fn hb_config(server_ms: u64, min_client_ms: u64) -> BrokerConfig {
    let mut cfg = test_config();
    cfg.stomp.min_server_heartbeat_ms = server_ms as _;
    cfg.stomp.min_client_heartbeat_ms = min_client_ms as _;
    cfg.stomp.hb_grace_multiplier = 1.5;
    cfg
}

async fn connect_hb(broker: &TestBroker, hb: &str) -> (StompClient, (u64, u64), Instant) {
    let mut c = broker.client().await;
    let f = c
        .connect_with(&frame!(Connect, "accept-version" => "1.1,1.2", "host" => "localhost", "heart-beat" => hb))
        .await;
    let at = Instant::now();
    let server_hb = parse_heart_beat(f.must("heart-beat"));
    (c, server_hb, at)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connected_heart_beat_follows_the_configuration() {
    let broker = TestBroker::start_with(hb_config(250, 0)).await;
    // The client wants beats: the server offers its configured interval.
    let (_c, (sx, sy), _) = connect_hb(&broker, "0,100").await;
    assert_eq!(sx, 250, "server's outgoing heart-beat offer");
    assert_eq!(
        sy, 0,
        "client cannot send, so the server must not expect beats"
    );
    // The client offers beats: the server asks for them (non-zero), so a silent client can be
    // detected.
    let (_c, (_, sy), _) = connect_hb(&broker, "300,0").await;
    assert!(
        sy > 0,
        "a client offering heart-beats must be asked for them (got sy=0)"
    );
    // No header at all means 0,0 and nothing is negotiated.
    let mut c = broker.client().await;
    let f = c.connect_version("1.2").await;
    if let Some(hb) = f.hdr("heart-beat") {
        let (sx, sy) = parse_heart_beat(hb);
        assert_eq!(hb_interval(sx, 0), 0);
        assert_eq!(hb_interval(0, sy), 0);
    }
    broker.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_sends_heart_beats_when_negotiated() {
    let broker = TestBroker::start_with(hb_config(200, 0)).await;
    let (mut c, (sx, _), start) = connect_hb(&broker, "0,200").await;
    let interval = hb_interval(sx, 200);
    assert!(
        interval >= 200,
        "negotiated server->client interval {interval}"
    );
    let window = Duration::from_millis(interval * 6);
    let mut beats = 0;
    let mut last = start;
    let mut max_gap = Duration::ZERO;
    while start.elapsed() < window {
        let left = window.saturating_sub(start.elapsed());
        match c.try_recv_item_within(left).await {
            Some(Item::HeartBeat) => {
                beats += 1;
                max_gap = max_gap.max(last.elapsed());
                last = Instant::now();
            }
            Some(Item::Frame(f)) => panic!("unexpected frame:\n{}", f.describe()),
            None => break,
        }
    }
    assert!(
        beats >= 3,
        "only {beats} heart-beats in {window:?} (interval {interval} ms)"
    );
    assert!(
        max_gap <= Duration::from_millis(interval + 250),
        "gap of {max_gap:?} between heart-beats with a {interval} ms interval"
    );
    broker.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_heart_beats_when_the_client_wants_none() {
    let broker = TestBroker::start_with(hb_config(200, 0)).await;
    for hb in ["0,0", "300,0"] {
        let (mut c, _, _) = connect_hb(&broker, hb).await;
        if hb == "300,0" {
            // Keep our side alive so only the server->client direction is observed.
            for _ in 0..6 {
                match c.try_recv_item_within(Duration::from_millis(150)).await {
                    None => {}
                    Some(i) => {
                        panic!("client asked for no heart-beats (heart-beat:{hb}) but got {i:?}")
                    }
                }
                c.send_heartbeat().await;
            }
        } else {
            if let Some(i) = c.try_recv_item_within(Duration::from_millis(900)).await {
                panic!("client asked for no heart-beats (heart-beat:{hb}) but got {i:?}");
            }
        }
    }
    broker.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn silent_client_is_dropped_after_interval_times_grace() {
    let broker = TestBroker::start_with(hb_config(0, 0)).await;
    let (mut c, (_, sy), start) = connect_hb(&broker, "500,0").await;
    let interval = hb_interval(500, sy);
    assert!(
        interval >= 400,
        "negotiated client->server interval {interval} (sy={sy})"
    );
    // Still connected a little after one interval (grace 1.5 means not before ~1.5 intervals).
    let check = Duration::from_millis(interval * 11 / 10);
    c.assert_open_for(check.saturating_sub(start.elapsed()))
        .await;
    // Dropped by two intervals (plus scheduling slack).
    let deadline = Duration::from_millis(interval * 2 + 300);
    let left = deadline.saturating_sub(start.elapsed());
    let closed = c.closed_within(left).await;
    assert!(
        closed.is_some(),
        "silent client still connected {:?} after CONNECTED (interval {interval} ms, grace 1.5)",
        start.elapsed()
    );
    broker.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn read_timeout_uses_the_larger_of_client_offer_and_server_wish() {
    // Client offers 200 ms, server wants at least 500 ms: beats are expected every
    // max(200, 500) = 500 ms, so the client is still there at 1.5 * 200 ms * 2.
    let broker = TestBroker::start_with(hb_config(0, 500)).await;
    let (mut c, (_, sy), start) = connect_hb(&broker, "200,0").await;
    let interval = hb_interval(200, sy);
    assert_eq!(interval, sy.max(200));
    assert!(
        interval >= 500,
        "min_client_heartbeat_ms=500 must raise the interval (sy={sy})"
    );
    c.assert_open_for(Duration::from_millis(interval * 11 / 10).saturating_sub(start.elapsed()))
        .await;
    let left = Duration::from_millis(interval * 2 + 300).saturating_sub(start.elapsed());
    assert!(
        c.closed_within(left).await.is_some(),
        "not dropped by 2 x {interval} ms"
    );
    broker.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_sending_heart_beats_stays_connected() {
    let broker = TestBroker::start_with(hb_config(0, 0)).await;
    let (mut c, (_, sy), _) = connect_hb(&broker, "300,0").await;
    let interval = hb_interval(300, sy);
    let beat = Duration::from_millis(interval / 2);
    let until = Instant::now() + Duration::from_millis(interval * 5);
    while Instant::now() < until {
        c.assert_open_for(beat).await;
        c.send_heartbeat().await;
    }
    // Frames count as activity too.
    let dest = unique_queue("hb-alive");
    c.subscribe("s", &dest, "auto").await;
    for i in 0..3 {
        tokio::time::sleep(beat).await;
        c.send_msg(&dest, &format!("m{i}"), &[]).await;
    }
    let msgs = c.recv_messages(3).await;
    assert_eq!(msgs.len(), 3);
    broker.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fast_client_beats_with_slow_server_beats_is_not_dropped() {
    // ActiveMQ 5.17 drops a client asking heart-beat:100,10000; ferromq (default
    // configuration) must not, as long as the client keeps its promise.
    let broker = TestBroker::start().await;
    let (mut c, _, _) = connect_hb(&broker, "100,10000").await;
    let until = Instant::now() + Duration::from_millis(1200);
    while Instant::now() < until {
        c.assert_open_for(Duration::from_millis(50)).await;
        c.send_heartbeat().await;
    }
    let dest = unique_queue("hb-100");
    c.subscribe("s", &dest, "auto").await;
    c.send_msg(&dest, "ok", &[]).await;
    assert_eq!(c.recv_message().await.body_str(), "ok");
    broker.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_without_heart_beats_is_never_timed_out() {
    let broker = TestBroker::start_with(hb_config(0, 0)).await;
    let (mut c, _, _) = connect_hb(&broker, "0,0").await;
    c.assert_open_for(Duration::from_millis(1500)).await;
    let dest = unique_queue("hb-none");
    c.subscribe("s", &dest, "auto").await;
    c.send_msg(&dest, "ok", &[]).await;
    assert_eq!(c.recv_message().await.body_str(), "ok");
    broker.stop().await;
}
