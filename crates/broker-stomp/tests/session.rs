//! The session state machine driven directly (no sockets), with a fake clock.

use std::sync::Arc;
use std::time::{Duration, Instant};

use broker_core::{Broker, CoreConfig};
use broker_stomp::{Outgoing, StompConfig, StompSession};
use broker_store::MemStore;
use stomp_codec::{Command, Frame, Version};

fn session(cfg: StompConfig) -> (StompSession, Broker, Instant) {
    let broker = Broker::new(CoreConfig::default(), Arc::new(MemStore::new())).unwrap();
    let now = Instant::now();
    (
        StompSession::new(broker.connect(), Arc::new(cfg), now),
        broker,
        now,
    )
}

fn frames(s: &mut StompSession) -> Vec<Outgoing> {
    std::iter::from_fn(|| s.poll_transmit()).collect()
}

fn only_frame(s: &mut StompSession) -> Frame {
    let mut out = frames(s);
    assert_eq!(out.len(), 1, "{out:?}");
    match out.remove(0) {
        Outgoing::Frame(f) => f,
        o => panic!("expected a frame, got {o:?}"),
    }
}

fn connect(accept: Option<&'static str>, hb: Option<&'static str>) -> Frame {
    let mut f = Frame::new(Command::Connect).header("host", "localhost");
    if let Some(a) = accept {
        f = f.header("accept-version", a);
    }
    if let Some(h) = hb {
        f = f.header("heart-beat", h);
    }
    f
}

#[tokio::test]
async fn version_negotiation() {
    for (accept, want) in [
        (None, "1.0"),
        (Some("1.0,1.1"), "1.1"),
        (Some("1.1,1.2,2.0"), "1.2"),
    ] {
        let (mut s, _b, now) = session(StompConfig::default());
        s.handle_frame(connect(accept, None), now).await;
        let f = only_frame(&mut s);
        assert_eq!(f.command, Command::Connected);
        assert_eq!(f.headers.get_str("version"), Some(want));
        assert!(f.headers.get_str("server").unwrap().starts_with("ferromq/"));
        assert!(s.is_connected());
    }
    let (mut s, _b, now) = session(StompConfig::default());
    s.handle_frame(connect(Some("9.9"), None), now).await;
    let f = only_frame(&mut s);
    assert_eq!(f.command, Command::Error);
    assert!(f
        .headers
        .get_str("message")
        .unwrap()
        .contains("1.0,1.1,1.2"));
    assert!(s.is_closing());
}

#[tokio::test]
async fn frames_before_connect_are_errors_with_receipt_id() {
    let (mut s, _b, now) = session(StompConfig::default());
    let send = Frame::new(Command::Send)
        .header("destination", "/queue/a")
        .header("receipt", "r1");
    s.handle_frame(send, now).await;
    let f = only_frame(&mut s);
    assert_eq!(f.command, Command::Error);
    assert_eq!(f.headers.get_str("receipt-id"), Some("r1"));
    assert!(s.is_closing());
    assert_eq!(s.poll_timeout(), None);
}

#[tokio::test]
async fn heart_beats_are_negotiated_sent_and_enforced_with_grace() {
    let cfg = StompConfig {
        min_server_heartbeat_ms: 100,
        min_client_heartbeat_ms: 100,
        ..StompConfig::default()
    };
    let (mut s, _b, now) = session(cfg);
    // Client can send every 1000 ms and wants ours every 500 ms.
    s.handle_frame(connect(Some("1.2"), Some("1000,500")), now)
        .await;
    let f = only_frame(&mut s);
    assert_eq!(f.headers.get_str("heart-beat"), Some("500,1000"));
    s.note_written(now);
    // First deadline: our heart-beat at +500 ms.
    assert_eq!(s.poll_timeout(), Some(now + Duration::from_millis(500)));
    s.handle_timeout(now + Duration::from_millis(500));
    assert_eq!(frames(&mut s), vec![Outgoing::HeartBeat]);
    // The client is allowed 1000 ms × 1.5 of silence.
    s.handle_timeout(now + Duration::from_millis(1400));
    assert!(!s.is_closing());
    s.note_read(now + Duration::from_millis(1400));
    s.handle_timeout(now + Duration::from_millis(2800));
    assert!(!s.is_closing());
    s.handle_timeout(now + Duration::from_millis(2901));
    assert!(s.is_closing());
}

#[tokio::test]
async fn heart_beats_are_floored_and_ignored_in_1_0() {
    let cfg = StompConfig {
        min_server_heartbeat_ms: 1000,
        min_client_heartbeat_ms: 1000,
        ..StompConfig::default()
    };
    let (mut s, _b, now) = session(cfg.clone());
    s.handle_frame(connect(Some("1.1"), Some("100,10")), now)
        .await;
    assert_eq!(
        only_frame(&mut s).headers.get_str("heart-beat"),
        Some("1000,1000")
    );
    let (mut s, _b, now) = session(cfg);
    s.handle_frame(connect(None, Some("100,100")), now).await;
    let f = only_frame(&mut s);
    assert_eq!(f.headers.get_str("heart-beat"), Some("0,0"));
    assert_eq!(s.poll_timeout(), None);
}

#[tokio::test]
async fn connect_timeout_ends_a_silent_connection() {
    let cfg = StompConfig {
        connect_timeout: Duration::from_millis(200),
        ..StompConfig::default()
    };
    let (mut s, _b, now) = session(cfg);
    assert_eq!(s.poll_timeout(), Some(now + Duration::from_millis(200)));
    s.handle_timeout(now + Duration::from_millis(200));
    assert_eq!(only_frame(&mut s).command, Command::Error);
    assert!(s.is_closing());
}

#[tokio::test]
async fn send_subscribe_deliver_ack_in_1_2() {
    let (mut s, _b, now) = session(StompConfig::default());
    s.handle_frame(connect(Some("1.2"), None), now).await;
    frames(&mut s);
    assert_eq!(s.version(), Some(Version::V1_2));
    let sub = Frame::new(Command::Subscribe)
        .header("id", "s1")
        .header("destination", "/queue/x")
        .header("ack", "client-individual")
        .header("receipt", "r-sub");
    s.handle_frame(sub, now).await;
    assert_eq!(
        only_frame(&mut s).headers.get_str("receipt-id"),
        Some("r-sub")
    );
    let send = Frame::new(Command::Send)
        .header("destination", "/queue/x")
        .header("custom", "v")
        .header("receipt", "r-send")
        .with_body(&b"hello"[..]);
    s.handle_frame(send, now).await;
    assert_eq!(only_frame(&mut s).command, Command::Receipt);
    let d = tokio::time::timeout(Duration::from_secs(5), s.next_delivery())
        .await
        .unwrap()
        .unwrap();
    s.handle_delivery(d).await;
    let m = only_frame(&mut s);
    assert_eq!(m.command, Command::Message);
    assert_eq!(m.headers.get_str("destination"), Some("/queue/x"));
    assert_eq!(m.headers.get_str("subscription"), Some("s1"));
    assert_eq!(m.headers.get_str("custom"), Some("v"));
    assert_eq!(m.headers.get_str("priority"), Some("4"));
    assert_eq!(m.headers.get_str("persistent"), None);
    assert_eq!(m.headers.get_str("redelivered"), None);
    assert_eq!(&m.body[..], b"hello");
    let ack_id = m.headers.get_str("ack").unwrap().to_owned();
    s.handle_frame(Frame::new(Command::Ack).header("id", ack_id.clone()), now)
        .await;
    assert!(frames(&mut s).is_empty());
    // Acking it twice is a protocol error.
    s.handle_frame(Frame::new(Command::Ack).header("id", ack_id), now)
        .await;
    assert_eq!(only_frame(&mut s).command, Command::Error);
}

#[tokio::test]
async fn disconnect_with_receipt_then_closing() {
    let (mut s, _b, now) = session(StompConfig::default());
    s.handle_frame(connect(Some("1.1"), None), now).await;
    frames(&mut s);
    s.handle_frame(
        Frame::new(Command::Disconnect).header("receipt", "bye"),
        now,
    )
    .await;
    let f = only_frame(&mut s);
    assert_eq!(f.command, Command::Receipt);
    assert_eq!(f.headers.get_str("receipt-id"), Some("bye"));
    assert!(s.is_closing());
}
