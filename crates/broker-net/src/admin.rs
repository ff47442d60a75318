//! The admin HTTP API (`[admin]`): a few JSON endpoints for operators and the `ferromq`
//! CLI, on its own listener (loopback by default; it has no authentication).
//!
//! - `GET /api/destinations`: every destination with its counts.
//! - `POST /api/queues/{name}/redrive[?message-id=ID]`: moves the dead-lettered messages of
//!   queue `{name}` (all, or the one with that id) back to where they were first sent.
//!
//! One request per connection (`Connection: close`), no request bodies. Every read and write
//! is bounded in size and time, and bad input gets a 4xx answer, never a panic.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use broker_core::{Broker, CoreError, Destination, DestinationKind};
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// Largest request head (request line and headers) accepted.
const MAX_HEAD: usize = 64 * 1024;
/// Largest request body read (and ignored); no endpoint takes one.
const MAX_BODY: usize = 64 * 1024;
/// Most headers in one request.
const MAX_HEADERS: usize = 64;
/// Time a client gets to send its whole request.
const READ_TIMEOUT: Duration = Duration::from_secs(10);
/// Time a client gets to take the response.
const WRITE_TIMEOUT: Duration = Duration::from_secs(10);
/// Admin connections served at once; more wait in the accept backlog.
const MAX_CONNECTIONS: usize = 64;
/// After answering, how long and how much of what the client still sends is read and
/// dropped (a lingering close).
const LINGER: Duration = Duration::from_secs(2);
const LINGER_BYTES: usize = 1024 * 1024;

#[derive(Clone)]
pub(crate) struct Context {
    pub(crate) broker: Broker,
    pub(crate) token: CancellationToken,
    pub(crate) tracker: TaskTracker,
}

/// An answer: status code and JSON body.
#[derive(Debug, PartialEq)]
struct Response {
    status: u16,
    body: Value,
    /// `Allow` header of a 405.
    allow: Option<&'static str>,
}

impl Response {
    fn ok(body: Value) -> Self {
        Self {
            status: 200,
            body,
            allow: None,
        }
    }

    fn error(status: u16, message: impl Into<String>) -> Self {
        Self {
            status,
            body: json!({ "error": message.into() }),
            allow: None,
        }
    }

    fn method_not_allowed(allow: &'static str) -> Self {
        Self {
            allow: Some(allow),
            ..Self::error(405, format!("method not allowed; use {allow}"))
        }
    }

    fn encode(&self) -> Vec<u8> {
        let body = self.body.to_string();
        let mut head = format!(
            "HTTP/1.1 {} {}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\
             Cache-Control: no-store\r\nConnection: close\r\n",
            self.status,
            reason(self.status),
            body.len()
        );
        if let Some(allow) = self.allow {
            head.push_str("Allow: ");
            head.push_str(allow);
            head.push_str("\r\n");
        }
        head.push_str("\r\n");
        let mut out = head.into_bytes();
        out.extend_from_slice(body.as_bytes());
        out
    }
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        400 => "Bad Request",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        408 => "Request Timeout",
        413 => "Payload Too Large",
        431 => "Request Header Fields Too Large",
        500 => "Internal Server Error",
        503 => "Service Unavailable",
        _ => "",
    }
}

/// Accepts admin connections until shutdown.
pub(crate) async fn accept_loop(listener: TcpListener, ctx: Context) {
    let permits = Arc::new(Semaphore::new(MAX_CONNECTIONS));
    loop {
        // Take a permit before accepting, so excess clients wait in the backlog instead of
        // costing a task each.
        let permit = tokio::select! {
            () = ctx.token.cancelled() => break,
            p = Arc::clone(&permits).acquire_owned() => match p {
                Ok(p) => p,
                Err(_) => break,
            },
        };
        let accepted = tokio::select! {
            () = ctx.token.cancelled() => break,
            r = listener.accept() => r,
        };
        match accepted {
            Ok((stream, peer)) => {
                let ctx2 = ctx.clone();
                ctx.tracker.spawn(async move {
                    tokio::select! {
                        // Shutdown cuts a request short; it is idempotent for the client to
                        // retry.
                        () = ctx2.token.cancelled() => {}
                        () = serve(stream, peer, &ctx2.broker) => {}
                    }
                    drop(permit);
                });
            }
            Err(e) => {
                tracing::warn!(error = %e, "admin accept failed");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
}

async fn serve(mut stream: TcpStream, peer: SocketAddr, broker: &Broker) {
    let response = match tokio::time::timeout(READ_TIMEOUT, read_request(&mut stream)).await {
        Err(_) => Response::error(408, "request not received in time"),
        Ok(Err(ReadError::Closed)) => return,
        Ok(Err(ReadError::Bad(r))) => r,
        Ok(Ok(req)) => {
            let r = handle(broker, &req).await;
            tracing::info!(%peer, method = %req.method, target = %req.target, status = r.status, "admin request");
            r
        }
    };
    let bytes = response.encode();
    let written = tokio::time::timeout(WRITE_TIMEOUT, async {
        stream.write_all(&bytes).await?;
        stream.shutdown().await
    })
    .await;
    if !matches!(written, Ok(Ok(()))) {
        return;
    }
    // Closing with unread bytes (an early 4xx) would reset the connection, and a reset can
    // discard the answer before the client reads it: take what it still sends, bounded,
    // until it closes its side.
    let _ = tokio::time::timeout(LINGER, async {
        let mut sink = [0u8; 4096];
        let mut total = 0;
        while total < LINGER_BYTES {
            match stream.read(&mut sink).await {
                Ok(0) | Err(_) => break,
                Ok(n) => total += n,
            }
        }
    })
    .await;
}

/// A parsed request: what routing needs.
#[derive(Debug)]
struct Request {
    method: String,
    target: String,
    /// An `Origin` header was sent (a browser made the request).
    has_origin: bool,
}

enum ReadError {
    /// The client went away before sending a whole request: nothing to answer.
    Closed,
    /// Answer with this and close.
    Bad(Response),
}

async fn read_request(stream: &mut TcpStream) -> Result<Request, ReadError> {
    let mut buf = Vec::with_capacity(1024);
    let mut chunk = [0u8; 4096];
    loop {
        let n = stream
            .read(&mut chunk)
            .await
            .map_err(|_| ReadError::Closed)?;
        if n == 0 {
            return Err(ReadError::Closed);
        }
        buf.extend_from_slice(&chunk[..n]);
        match parse_head(&buf)? {
            Some((req, head_len, body_len)) => {
                // Read (and drop) a body, so closing does not reset the connection under the
                // response while the client still sends.
                let mut left = body_len.saturating_sub(buf.len() - head_len);
                while left > 0 {
                    let n = stream
                        .read(&mut chunk)
                        .await
                        .map_err(|_| ReadError::Closed)?;
                    if n == 0 {
                        return Err(ReadError::Closed);
                    }
                    left = left.saturating_sub(n);
                }
                return Ok(req);
            }
            None if buf.len() >= MAX_HEAD => {
                return Err(ReadError::Bad(Response::error(
                    431,
                    format!("request head exceeds {MAX_HEAD} bytes"),
                )))
            }
            None => {}
        }
    }
}

/// Parses a request head: `None` while incomplete, else the request, the head's length and
/// the body's.
fn parse_head(buf: &[u8]) -> Result<Option<(Request, usize, usize)>, ReadError> {
    let bad = |status, msg: &str| ReadError::Bad(Response::error(status, msg));
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut req = httparse::Request::new(&mut headers);
    let head_len = match req.parse(buf) {
        Ok(httparse::Status::Complete(n)) => n,
        Ok(httparse::Status::Partial) => return Ok(None),
        Err(httparse::Error::TooManyHeaders) => {
            return Err(bad(
                431,
                &format!("more than {MAX_HEADERS} request headers"),
            ))
        }
        Err(e) => return Err(bad(400, &format!("malformed HTTP request: {e}"))),
    };
    let mut body_len = 0usize;
    let mut has_origin = false;
    for h in req.headers.iter() {
        if h.name.eq_ignore_ascii_case("content-length") {
            body_len = std::str::from_utf8(h.value)
                .ok()
                .and_then(|v| v.trim().parse().ok())
                .ok_or_else(|| bad(400, "invalid Content-Length"))?;
        } else if h.name.eq_ignore_ascii_case("transfer-encoding") {
            return Err(bad(400, "request bodies are not accepted"));
        } else if h.name.eq_ignore_ascii_case("origin") {
            has_origin = true;
        }
    }
    if body_len > MAX_BODY {
        return Err(bad(413, "request bodies are not accepted"));
    }
    let request = Request {
        method: req.method.unwrap_or_default().to_owned(),
        target: req.path.unwrap_or_default().to_owned(),
        has_origin,
    };
    Ok(Some((request, head_len, body_len)))
}

/// Routes one request.
async fn handle(broker: &Broker, req: &Request) -> Response {
    // Browsers send `Origin` on cross-site requests and on every POST; the API is for the
    // CLI and scripts, so refusing them stops a web page from driving the broker (CSRF,
    // DNS rebinding) through an operator's browser.
    if req.has_origin {
        return Response::error(403, "browser (Origin) requests are not accepted");
    }
    let (path, query) = match req.target.split_once('?') {
        Some((p, q)) => (p, Some(q)),
        None => (req.target.as_str(), None),
    };
    let segments: Vec<&str> = path.split('/').collect();
    match segments.as_slice() {
        ["", "api", "destinations"] => {
            if req.method != "GET" {
                return Response::method_not_allowed("GET");
            }
            if let Err(r) = parse_query(query, &[]) {
                return r;
            }
            list_destinations(broker).await
        }
        ["", "api", "queues", name, "redrive"] => {
            if req.method != "POST" {
                return Response::method_not_allowed("POST");
            }
            let Some(name) = percent_decode(name, false).filter(|n| !n.is_empty()) else {
                return Response::error(400, "invalid queue name in the path");
            };
            let params = match parse_query(query, &["message-id"]) {
                Ok(p) => p,
                Err(r) => return r,
            };
            let message_id = params.into_iter().find(|(k, _)| k == "message-id");
            if message_id.as_ref().is_some_and(|(_, v)| v.is_empty()) {
                return Response::error(400, "empty message-id");
            }
            redrive(broker, &name, message_id.as_ref().map(|(_, v)| v.as_str())).await
        }
        _ => Response::error(404, format!("no such endpoint: {path}")),
    }
}

/// Decoded `k=v` pairs; any name outside `allowed` is an error (a misspelt `message-id` must
/// not turn a one-message redrive into redriving everything).
fn parse_query(query: Option<&str>, allowed: &[&str]) -> Result<Vec<(String, String)>, Response> {
    let mut out = Vec::new();
    for pair in query.unwrap_or("").split('&').filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        let (Some(k), Some(v)) = (percent_decode(k, true), percent_decode(v, true)) else {
            return Err(Response::error(
                400,
                "invalid percent-encoding in the query",
            ));
        };
        if !allowed.contains(&k.as_str()) {
            return Err(Response::error(
                400,
                format!("unknown query parameter '{k}'"),
            ));
        }
        if out.iter().any(|(seen, _)| *seen == k) {
            return Err(Response::error(
                400,
                format!("repeated query parameter '{k}'"),
            ));
        }
        out.push((k, v));
    }
    Ok(out)
}

/// Percent-decodes `s` (and `+` as a space in a query, as HTML forms encode it); `None` when
/// an escape is malformed or the result is not UTF-8.
fn percent_decode(s: &str, plus_is_space: bool) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' => {
                let hex = bytes.get(i + 1..i + 3)?;
                let hex = std::str::from_utf8(hex).ok()?;
                out.push(u8::from_str_radix(hex, 16).ok()?);
                i += 3;
            }
            b'+' if plus_is_space => {
                out.push(b' ');
                i += 1;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8(out).ok()
}

fn kind_name(kind: DestinationKind) -> &'static str {
    match kind {
        DestinationKind::Queue => "queue",
        DestinationKind::Topic => "topic",
        DestinationKind::TempQueue => "temp-queue",
        DestinationKind::TempTopic => "temp-topic",
    }
}

fn core_error(e: &CoreError) -> Response {
    match e {
        CoreError::NoSuchDestination(d) => Response::error(
            404,
            format!("no such {} '{}'", kind_name(d.kind()), d.name()),
        ),
        CoreError::ShuttingDown => Response::error(503, e.to_string()),
        _ => Response::error(500, e.to_string()),
    }
}

async fn list_destinations(broker: &Broker) -> Response {
    let mut list = Vec::new();
    for d in broker.destinations() {
        match broker.stats(&d).await {
            Ok(s) => list.push(json!({
                "kind": kind_name(d.kind()),
                "name": d.name(),
                "pending": s.pending,
                "delayed": s.delayed,
                "paged_out": s.paged_out,
                "consumers": s.consumers,
            })),
            // Deleted since the listing (a temporary destination whose owner left).
            Err(CoreError::NoSuchDestination(_)) => {}
            Err(e) => return core_error(&e),
        }
    }
    Response::ok(json!({ "destinations": list }))
}

async fn redrive(broker: &Broker, queue: &str, message_id: Option<&str>) -> Response {
    let dlq = Destination::queue(queue);
    match broker.redrive(&dlq, message_id).await {
        Ok(moved) => {
            tracing::info!(dlq = %dlq, moved, message_id, "redrive");
            Response::ok(json!({ "queue": queue, "moved": moved }))
        }
        Err(e) => core_error(&e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(method: &str, target: &str) -> Request {
        Request {
            method: method.to_owned(),
            target: target.to_owned(),
            has_origin: false,
        }
    }

    fn broker() -> Broker {
        Broker::new(
            broker_core::CoreConfig::default(),
            Arc::new(broker_store::MemStore::new()),
        )
        .expect("broker")
    }

    fn head(text: &str) -> Result<Option<(Request, usize, usize)>, u16> {
        parse_head(text.as_bytes()).map_err(|e| match e {
            ReadError::Bad(r) => r.status,
            ReadError::Closed => 0,
        })
    }

    #[test]
    fn percent_decoding() {
        assert_eq!(
            percent_decode("DLQ.a%2Fb", false).as_deref(),
            Some("DLQ.a/b")
        );
        assert_eq!(percent_decode("a+b", false).as_deref(), Some("a+b"));
        assert_eq!(percent_decode("a+b%2B", true).as_deref(), Some("a b+"));
        assert_eq!(
            percent_decode("ID%3Aferromq-1-2-3%3A4", true).as_deref(),
            Some("ID:ferromq-1-2-3:4")
        );
        assert_eq!(percent_decode("%e2%82%ac", false).as_deref(), Some("€"));
        for bad in ["%", "%4", "%zz", "%ff", "a%2"] {
            assert_eq!(percent_decode(bad, false), None, "{bad}");
        }
    }

    #[test]
    fn request_heads() {
        let text = "POST /api/queues/q/redrive HTTP/1.1\r\nHost: x\r\n\r\n";
        let (r, len, body) = head(text).expect("valid").expect("complete");
        assert_eq!(
            (r.method.as_str(), r.target.as_str()),
            ("POST", "/api/queues/q/redrive")
        );
        assert_eq!((len, body, r.has_origin), (text.len(), 0, false));
        assert!(head("GET /api/destinations HTTP/1.1\r\nHost: x\r\n")
            .unwrap()
            .is_none());
        let (_, _, body) = head("POST / HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc")
            .unwrap()
            .unwrap();
        assert_eq!(body, 3);
        let (r, _, _) = head("GET / HTTP/1.1\r\nOrigin: http://evil\r\n\r\n")
            .unwrap()
            .unwrap();
        assert!(r.has_origin);
        assert_eq!(head("GARBAGE\0\r\n\r\n").err(), Some(400));
        assert_eq!(
            head("POST / HTTP/1.1\r\nContent-Length: x\r\n\r\n").err(),
            Some(400)
        );
        assert_eq!(
            head("POST / HTTP/1.1\r\nContent-Length: 99999999\r\n\r\n").err(),
            Some(413)
        );
        assert_eq!(
            head("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n").err(),
            Some(400)
        );
        let many: String = (0..=MAX_HEADERS).map(|i| format!("h{i}: v\r\n")).collect();
        assert_eq!(
            head(&format!("GET / HTTP/1.1\r\n{many}\r\n")).err(),
            Some(431)
        );
    }

    #[test]
    fn responses_are_complete_http() {
        let r = Response::method_not_allowed("POST").encode();
        let text = String::from_utf8(r).unwrap();
        let (head, body) = text.split_once("\r\n\r\n").unwrap();
        assert!(
            head.starts_with("HTTP/1.1 405 Method Not Allowed\r\n"),
            "{head}"
        );
        assert!(head.contains("\r\nAllow: POST"), "{head}");
        assert!(head.contains("\r\nConnection: close"), "{head}");
        assert!(
            head.contains(&format!("\r\nContent-Length: {}", body.len())),
            "{head}"
        );
        let v: Value = serde_json::from_str(body).unwrap();
        assert!(v["error"].as_str().unwrap().contains("POST"));
    }

    #[tokio::test]
    async fn routing_and_errors() {
        let b = broker();
        let status = |r: Response| r.status;
        assert_eq!(
            status(handle(&b, &req("GET", "/api/destinations")).await),
            200
        );
        assert_eq!(
            status(handle(&b, &req("POST", "/api/destinations")).await),
            405
        );
        assert_eq!(
            status(handle(&b, &req("GET", "/api/destinations?x=1")).await),
            400
        );
        assert_eq!(
            status(handle(&b, &req("GET", "/api/queues/q/redrive")).await),
            405
        );
        assert_eq!(status(handle(&b, &req("GET", "/")).await), 404);
        assert_eq!(
            status(handle(&b, &req("GET", "/api/destinations/")).await),
            404
        );
        let missing = handle(&b, &req("POST", "/api/queues/DLQ.none/redrive")).await;
        assert_eq!(missing.status, 404);
        assert_eq!(missing.body["error"], "no such queue 'DLQ.none'");
        // Typos and bad encodings never fall back to "redrive everything".
        for target in [
            "/api/queues/DLQ.none/redrive?messageId=1",
            "/api/queues/DLQ.none/redrive?message-id=",
            "/api/queues/DLQ.none/redrive?message-id=a&message-id=b",
            "/api/queues/DLQ.none/redrive?message-id=%zz",
            "/api/queues/%zz/redrive",
            "/api/queues//redrive",
        ] {
            assert_eq!(
                status(handle(&b, &req("POST", target)).await),
                400,
                "{target}"
            );
        }
        let mut browser = req("GET", "/api/destinations");
        browser.has_origin = true;
        assert_eq!(status(handle(&b, &browser).await), 403);
    }

    #[tokio::test]
    async fn destinations_list_names_kind_and_counts() {
        let b = broker();
        let mut conn = b.connect();
        let msg = broker_core::Message {
            body: bytes::Bytes::from_static(b"x"),
            ..broker_core::Message::new(
                conn.new_message_id(),
                Destination::queue("a b/c"),
                conn.id(),
            )
        };
        conn.send(msg, None, true).await.expect("send");
        let r = handle(&b, &req("GET", "/api/destinations")).await;
        assert_eq!(r.status, 200);
        assert_eq!(
            r.body,
            json!({ "destinations": [{
                "kind": "queue", "name": "a b/c", "pending": 1, "delayed": 0,
                "paged_out": 0, "consumers": 0,
            }]})
        );
        // Percent-decoded name; nothing dead-lettered there, so nothing moves.
        let r = handle(&b, &req("POST", "/api/queues/a%20b%2Fc/redrive")).await;
        assert_eq!((r.status, &r.body["moved"]), (200, &json!(0)));
    }
}
