//! Server lifecycle: connection limit and graceful shutdown.

use std::time::Duration;

use ferromq_tests::*;

/// True if a new connection to `addr` completes the STOMP handshake within `d`.
async fn handshake_succeeds(addr: std::net::SocketAddr, d: Duration) -> bool {
    let Ok(mut c) = StompClient::try_connect(addr).await else {
        return false;
    };
    if c.try_send(&frame!(Connect, "accept-version" => "1.2", "host" => "localhost"))
        .await
        .is_err()
    {
        return false;
    }
    match c.read_within(d).await {
        ReadOutcome::Item(Item::Frame(f)) => f.command == Command::Connected,
        _ => false,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connection_limit_refuses_extra_connections() {
    let mut cfg = test_config();
    cfg.network.max_connections = 2;
    let broker = TestBroker::start_with(cfg).await;
    let addr = broker.addr();

    let c1 = broker.connected("1.2").await;
    let mut c2 = broker.connected("1.2").await;

    // The third is refused: connect fails, or the broker closes it (an ERROR first is fine),
    // and it is never served.
    let third_outcome = match StompClient::try_connect(addr).await {
        Err(e) => format!("connect failed: {e}"),
        Ok(mut c) => {
            let _ = c
                .try_send(&frame!(Connect, "accept-version" => "1.2", "host" => "localhost"))
                .await;
            c.set_timeout(Duration::from_secs(2));
            match c.closed_within(Duration::from_secs(2)).await {
                Some(frames) => {
                    assert!(
                        frames.iter().all(|f| f.command == Command::Error),
                        "third connection got frames other than ERROR with max_connections = 2: {:#?}",
                        frames.iter().map(FrameExt::describe).collect::<Vec<_>>()
                    );
                    format!("closed after {} ERROR frame(s)", frames.len())
                }
                None => panic!(
                    "third connection neither refused nor closed within 2 s with max_connections = 2"
                ),
            }
        }
    };
    eprintln!("third connection: {third_outcome}");
    // The two open ones still work.
    let dest = unique_queue("limit");
    c2.subscribe("s", &dest, "auto").await;
    c2.send_msg(&dest, "ok", &[]).await;
    assert_eq!(c2.recv_message().await.body_str(), "ok");

    // After one closes, a new connection is accepted.
    c1.disconnect().await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    let mut ok = false;
    while tokio::time::Instant::now() < deadline {
        if handshake_succeeds(addr, Duration::from_millis(500)).await {
            ok = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        ok,
        "a connection slot did not come free after a client disconnected"
    );
    broker.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn graceful_shutdown_closes_clients_and_stops_accepting() {
    let broker = TestBroker::start().await;
    let addr = broker.addr();
    let mut idle = broker.connected("1.2").await;
    let mut busy = broker.connected("1.1").await;
    let dest = unique_queue("shutdown");
    busy.subscribe("s", &dest, "client-individual").await;
    busy.send_msg(&dest, "held", &[]).await;
    let _held = busy.recv_message().await;
    // A TCP connection that never said CONNECT.
    let mut raw = broker.client().await;

    let started = tokio::time::Instant::now();
    broker.stop().await;
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "shutdown took {:?}",
        started.elapsed()
    );

    for (name, c) in [("idle", &mut idle), ("busy", &mut busy), ("raw", &mut raw)] {
        let frames = c.expect_closed().await;
        assert!(
            frames.iter().all(|f| f.command == Command::Error),
            "{name}: only an ERROR may precede the close at shutdown: {:#?}",
            frames.iter().map(FrameExt::describe).collect::<Vec<_>>()
        );
    }
    assert!(
        !handshake_succeeds(addr, Duration::from_millis(500)).await,
        "the broker still serves new connections after shutdown"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancelling_the_shutdown_token_shuts_down() {
    let broker = TestBroker::start().await;
    let addr = broker.addr();
    let mut c = broker.connected("1.2").await;
    broker.server().shutdown_token().cancel();
    c.expect_closed().await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    loop {
        if !handshake_succeeds(addr, Duration::from_millis(300)).await {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "still accepting after the token was cancelled"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // shutdown() after the token fired still completes.
    broker.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn receipts_before_shutdown_are_honoured() {
    let broker = TestBroker::start().await;
    let mut c = broker.connected("1.2").await;
    let dest = unique_queue("pre-shutdown");
    // Pipelined SENDs whose receipts were all delivered are really taken by the broker.
    for i in 0..50 {
        c.send(&frame!(Send, "destination" => dest, "receipt" => format!("p{i}"); "x"))
            .await;
    }
    for i in 0..50 {
        let r = c.recv().await;
        r.assert_command(Command::Receipt);
        assert_eq!(r.hdr("receipt-id"), Some(format!("p{i}").as_str()));
    }
    broker.stop().await;
    c.expect_closed().await;
}
