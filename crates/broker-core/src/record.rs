//! Conversion between [`Message`] and the store's plain [`MessageRecord`].
//!
//! Fixed fields travel in headers whose names start with `:` (which no protocol header name
//! the adapters pass through can collide with, because they are followed by a `:` separator
//! entry and then the user properties in order).

use std::sync::Arc;

use broker_store::MessageRecord;
use bytes::Bytes;

use crate::{BodyKind, ConnectionId, Destination, DestinationKind, Message};

const SEPARATOR: &str = ":";

/// The store "lane" a message is kept in: the store returns a queue's messages lane 9 first,
/// then by seq. Queues dispatch in arrival order (ActiveMQ's default, FIFO), so every message
/// shares one lane and the store's order is the dispatch order; the message's own JMS
/// priority travels in the `:priority` field. Priority-ordered queues will use the priority.
pub(crate) fn store_lane(_msg: &Message) -> u8 {
    STORE_LANE
}

/// The one lane FIFO queues use.
pub(crate) const STORE_LANE: u8 = 4;

pub(crate) fn to_record(queue: &str, seq: u64, msg: &Message) -> MessageRecord {
    let mut headers = Vec::with_capacity(msg.properties.len() + 5);
    let kind = match msg.body_kind {
        BodyKind::Text => "text",
        BodyKind::Bytes => "bytes",
    };
    headers.push((
        Bytes::from_static(b":body"),
        Bytes::from_static(kind.as_bytes()),
    ));
    headers.push((
        Bytes::from_static(b":priority"),
        Bytes::from(vec![b'0' + msg.priority.min(9)]),
    ));
    if let Some(v) = &msg.correlation_id {
        headers.push((Bytes::from_static(b":correlation-id"), v.clone()));
    }
    if let Some(d) = &msg.reply_to {
        headers.push((Bytes::from_static(b":reply-to"), Bytes::from(d.to_string())));
    }
    if let Some(v) = &msg.message_type {
        headers.push((Bytes::from_static(b":type"), v.clone()));
    }
    headers.push((Bytes::from_static(SEPARATOR.as_bytes()), Bytes::new()));
    headers.extend(msg.properties.iter().cloned());
    MessageRecord {
        queue: queue.to_owned(),
        seq,
        priority: store_lane(msg),
        redeliveries: 0,
        message_id: msg.id.to_string(),
        expires: msg.expires,
        timestamp: msg.timestamp,
        headers,
        body: msg.body.clone(),
    }
}

/// Parses `queue://x`-style names written by [`Destination`]'s `Display`.
pub(crate) fn parse_destination(s: &str) -> Option<Destination> {
    let (scheme, name) = s.split_once("://")?;
    let kind = match scheme {
        "queue" => DestinationKind::Queue,
        "topic" => DestinationKind::Topic,
        "temp-queue" => DestinationKind::TempQueue,
        "temp-topic" => DestinationKind::TempTopic,
        _ => return None,
    };
    Some(Destination::new(kind, name))
}

#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub(crate) struct RecordError(&'static str);

pub(crate) fn from_record(rec: &MessageRecord, dest: &Destination) -> Result<Message, RecordError> {
    let mut msg = Message {
        id: Arc::from(rec.message_id.as_str()),
        destination: dest.clone(),
        persistent: true,
        priority: rec.priority,
        expires: rec.expires,
        timestamp: rec.timestamp,
        correlation_id: None,
        reply_to: None,
        message_type: None,
        properties: Vec::new(),
        body: rec.body.clone(),
        body_kind: BodyKind::Text,
        producer: ConnectionId(0),
        schedule: None,
        original_destination: None,
        failure_cause: None,
    };
    let sep = rec
        .headers
        .iter()
        .position(|(k, _)| k.as_ref() == SEPARATOR.as_bytes())
        .ok_or(RecordError("stored message lacks its field separator"))?;
    for (k, v) in &rec.headers[..sep] {
        match k.as_ref() {
            b":body" => {
                msg.body_kind = if v.as_ref() == b"bytes" {
                    BodyKind::Bytes
                } else {
                    BodyKind::Text
                }
            }
            b":priority" => match v.as_ref() {
                [d @ b'0'..=b'9'] => msg.priority = d - b'0',
                _ => return Err(RecordError("stored message has an invalid priority")),
            },
            b":correlation-id" => msg.correlation_id = Some(v.clone()),
            b":reply-to" => {
                msg.reply_to = std::str::from_utf8(v).ok().and_then(parse_destination);
            }
            b":type" => msg.message_type = Some(v.clone()),
            _ => return Err(RecordError("stored message has an unknown field")),
        }
    }
    msg.properties = rec.headers[sep + 1..].to_vec();
    Ok(msg)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        let msg = Message {
            id: Arc::from("ID:x-1:1"),
            destination: Destination::queue("q"),
            persistent: true,
            priority: 7,
            expires: 5,
            timestamp: 3,
            correlation_id: Some(Bytes::from_static(b"c")),
            reply_to: Some(Destination::new(DestinationKind::TempQueue, "ID:a:1")),
            message_type: Some(Bytes::from_static(b"t")),
            properties: vec![(Bytes::from_static(b":odd"), Bytes::from_static(b"v"))],
            body: Bytes::from_static(b"\0body"),
            body_kind: BodyKind::Bytes,
            producer: ConnectionId(0),
            schedule: None,
            original_destination: None,
            failure_cause: None,
        };
        let rec = to_record("queue://q", 9, &msg);
        assert_eq!(rec.seq, 9);
        assert_eq!(from_record(&rec, &msg.destination).unwrap(), msg);
    }
}
