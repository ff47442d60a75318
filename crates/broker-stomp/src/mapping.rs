//! ActiveMQ's STOMP ↔ JMS mapping: destination names, SEND headers to a core [`Message`] and
//! a core [`Delivery`] back to a MESSAGE frame (shared/specs/activemq-docs/stomp.md).

use broker_core::{BodyKind, Connection, Delivery, Destination, DestinationKind, Message};
use bytes::Bytes;
use stomp_codec::{Command, Frame, Headers};

use crate::StompError;

const QUEUE: &str = "/queue/";
const TOPIC: &str = "/topic/";
const TEMP_QUEUE: &str = "/temp-queue/";
const TEMP_TOPIC: &str = "/temp-topic/";
const REMOTE_TEMP_QUEUE: &str = "/remote-temp-queue/";
const REMOTE_TEMP_TOPIC: &str = "/remote-temp-topic/";

/// SEND headers the broker interprets instead of passing through as user properties.
const RESERVED: &[&str] = &[
    "destination",
    "transaction",
    "receipt",
    "content-length",
    "persistent",
    "priority",
    "expires",
    "correlation-id",
    "reply-to",
    "type",
    "message-id",
    "timestamp",
    "redelivered",
    "subscription",
    "ack",
];

/// Parses a STOMP destination the ActiveMQ way: `/queue/x`, `/topic/x`, `/temp-queue/x`
/// (this connection's), `/remote-temp-queue/ID:...` (another's); anything else is a queue of
/// that literal name.
pub fn parse_destination(conn: &Connection, s: &str) -> Result<Destination, StompError> {
    let invalid = || StompError::InvalidDestination(s.to_owned());
    let (kind, name) = if let Some(n) = s.strip_prefix(QUEUE) {
        (DestinationKind::Queue, n)
    } else if let Some(n) = s.strip_prefix(TOPIC) {
        (DestinationKind::Topic, n)
    } else if let Some(n) = s.strip_prefix(TEMP_QUEUE) {
        if n.is_empty() {
            return Err(invalid());
        }
        return Ok(conn.temp_destination(DestinationKind::TempQueue, n));
    } else if let Some(n) = s.strip_prefix(TEMP_TOPIC) {
        if n.is_empty() {
            return Err(invalid());
        }
        return Ok(conn.temp_destination(DestinationKind::TempTopic, n));
    } else if let Some(n) = s.strip_prefix(REMOTE_TEMP_QUEUE) {
        (DestinationKind::TempQueue, n)
    } else if let Some(n) = s.strip_prefix(REMOTE_TEMP_TOPIC) {
        (DestinationKind::TempTopic, n)
    } else {
        (DestinationKind::Queue, s)
    };
    if name.is_empty() {
        return Err(invalid());
    }
    Ok(Destination::new(kind, name))
}

/// Renders a destination as this connection's client should see it.
pub fn render_destination(conn: &Connection, d: &Destination) -> String {
    match d.kind() {
        DestinationKind::Queue => format!("{QUEUE}{}", d.name()),
        DestinationKind::Topic => format!("{TOPIC}{}", d.name()),
        DestinationKind::TempQueue => match conn.own_temp_name(d) {
            Some(local) => format!("{TEMP_QUEUE}{local}"),
            None => format!("{REMOTE_TEMP_QUEUE}{}", d.name()),
        },
        DestinationKind::TempTopic => match conn.own_temp_name(d) {
            Some(local) => format!("{TEMP_TOPIC}{local}"),
            None => format!("{REMOTE_TEMP_TOPIC}{}", d.name()),
        },
    }
}

fn invalid(header: &'static str, reason: impl Into<String>) -> StompError {
    StompError::InvalidHeader {
        header,
        reason: reason.into(),
    }
}

/// Builds the core message for a SEND frame.
pub fn message_from_send(
    conn: &mut Connection,
    frame: Frame,
    dest: Destination,
    now_ms: u64,
) -> Result<Message, StompError> {
    let h = &frame.headers;
    let persistent = h
        .get("persistent")
        .is_some_and(|v| v.eq_ignore_ascii_case(b"true"));
    let priority = match h.get_str("priority") {
        None => broker_core::DEFAULT_PRIORITY,
        Some(p) => {
            let n: i64 = p
                .trim()
                .parse()
                .map_err(|_| invalid("priority", format!("'{p}' is not a number")))?;
            n.clamp(0, 9) as u8
        }
    };
    let expires = match h.get_str("expires") {
        None => 0,
        Some(e) => {
            let n: i64 = e
                .trim()
                .parse()
                .map_err(|_| invalid("expires", format!("'{e}' is not a number")))?;
            n.max(0) as u64
        }
    };
    let reply_to = match h.get_str("reply-to") {
        None => None,
        Some(r) => Some(parse_destination(conn, r)?),
    };
    let body_kind = if h.contains("content-length") {
        BodyKind::Bytes
    } else {
        BodyKind::Text
    };
    let mut properties: Vec<(Bytes, Bytes)> = Vec::new();
    for (name, value) in frame.headers.iter_bytes() {
        if RESERVED.iter().any(|r| r.as_bytes() == name.as_ref()) {
            continue;
        }
        // Repeated headers: the first occurrence wins (STOMP 1.2).
        if properties.iter().any(|(n, _)| n == name) {
            continue;
        }
        properties.push((name.clone(), value.clone()));
    }
    Ok(Message {
        id: conn.new_message_id(),
        destination: dest,
        persistent,
        priority,
        expires,
        timestamp: now_ms,
        correlation_id: h.get_bytes("correlation-id").cloned(),
        reply_to,
        message_type: h.get_bytes("type").cloned(),
        properties,
        body: frame.body,
        body_kind,
        producer: conn.id(),
        schedule: None,
        original_destination: None,
        failure_cause: None,
    })
}

/// Builds the MESSAGE frame for a delivery, with the headers ActiveMQ sends; `ack_header`
/// adds STOMP 1.2's `ack` (the message id, which the client's ACK/NACK `id` names).
pub fn message_frame(
    conn: &Connection,
    d: &Delivery,
    subscription: &str,
    ack_header: bool,
) -> Frame {
    let m = &d.message;
    let mut h = Headers::with_capacity(12 + m.properties.len());
    h.push("subscription", subscription.to_owned());
    h.push("message-id", m.id.to_string());
    h.push("destination", render_destination(conn, &m.destination));
    if ack_header {
        h.push("ack", m.id.to_string());
    }
    if let Some(v) = &m.correlation_id {
        h.push("correlation-id", v.clone());
    }
    h.push("expires", m.expires.to_string());
    if m.persistent {
        h.push("persistent", "true");
    }
    h.push("priority", m.priority.to_string());
    if d.redelivered() {
        h.push("redelivered", "true");
    }
    if let Some(r) = &m.reply_to {
        h.push("reply-to", render_destination(conn, r));
    }
    h.push("timestamp", m.timestamp.to_string());
    if let Some(v) = &m.message_type {
        h.push("type", v.clone());
    }
    for (k, v) in &m.properties {
        h.push(k.clone(), v.clone());
    }
    let mut frame = Frame {
        command: Command::Message,
        headers: h,
        body: m.body.clone(),
    };
    // Bytes bodies (sent with content-length) keep it, as ActiveMQ's BytesMessage does; a
    // text body needs it only when it contains NUL, which would otherwise end the frame.
    if m.body_kind == BodyKind::Bytes || m.body.contains(&0) {
        frame.set_content_length();
    }
    frame
}
