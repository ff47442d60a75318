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
/// then by seq, and dispatch follows the same order. Prioritized destinations use the JMS
/// priority; FIFO ones (ActiveMQ's default without `prioritizedMessages`) put every message
/// in one lane, so arrival order is dispatch order. The message's own priority always
/// travels in the `:priority` field.
pub(crate) fn store_lane(msg: &Message, prioritized: bool) -> u8 {
    if prioritized {
        msg.priority.min(9)
    } else {
        STORE_LANE
    }
}

/// The one lane FIFO destinations use.
pub(crate) const STORE_LANE: u8 = 4;

/// Where and when a message is dispatched: fixed when it is sent, stored with it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct Placement {
    /// The store lane (see [`store_lane`]).
    pub(crate) lane: u8,
    /// Not delivered before this time (ms since the epoch); 0 = at once.
    pub(crate) deliver_at: u64,
    /// Copies of a scheduled message still to deliver after the next one.
    pub(crate) repeats_left: u32,
}

pub(crate) fn to_record(queue: &str, seq: u64, msg: &Message, at: Placement) -> MessageRecord {
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
    let extras = msg.extras();
    if let Some(v) = &extras.correlation_id {
        headers.push((Bytes::from_static(b":correlation-id"), v.clone()));
    }
    if let Some(d) = &extras.reply_to {
        headers.push((Bytes::from_static(b":reply-to"), Bytes::from(d.to_string())));
    }
    if let Some(v) = &extras.message_type {
        headers.push((Bytes::from_static(b":type"), v.clone()));
    }
    if at.deliver_at != 0 {
        headers.push((
            Bytes::from_static(b":deliver-at"),
            Bytes::from(at.deliver_at.to_string()),
        ));
    }
    if at.repeats_left != 0 {
        headers.push((
            Bytes::from_static(b":repeats-left"),
            Bytes::from(at.repeats_left.to_string()),
        ));
    }
    if let Some(s) = &extras.schedule {
        headers.push((
            Bytes::from_static(b":schedule"),
            Bytes::from(format!("{},{},{}", s.delay, s.period, s.repeat)),
        ));
        if let Some(c) = &s.cron {
            headers.push((Bytes::from_static(b":cron"), Bytes::from(c.to_string())));
        }
    }
    if let Some(d) = &extras.original_destination {
        headers.push((
            Bytes::from_static(b":orig-dest"),
            Bytes::from(d.to_string()),
        ));
    }
    if !msg.destination.is_key(queue) {
        // Stored under another destination than it was sent to (a durable subscription's
        // queue keeps the topic's messages).
        headers.push((
            Bytes::from_static(b":dest"),
            Bytes::from(msg.destination.to_string()),
        ));
    }
    if let Some(c) = &extras.failure_cause {
        headers.push((Bytes::from_static(b":cause"), Bytes::from(c.to_string())));
    }
    headers.push((Bytes::from_static(SEPARATOR.as_bytes()), Bytes::new()));
    headers.extend(msg.properties.iter().cloned());
    MessageRecord {
        queue: queue.to_owned(),
        seq,
        priority: at.lane,
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

fn number<T: std::str::FromStr>(v: &[u8], what: &'static str) -> Result<T, RecordError> {
    std::str::from_utf8(v)
        .ok()
        .and_then(|s| s.parse().ok())
        .ok_or(RecordError(what))
}

pub(crate) fn from_record(
    rec: &MessageRecord,
    dest: &Destination,
) -> Result<(Message, Placement), RecordError> {
    let mut at = Placement {
        lane: rec.priority,
        ..Placement::default()
    };
    let mut msg = Message {
        id: Arc::from(rec.message_id.as_str()),
        destination: dest.clone(),
        persistent: true,
        priority: rec.priority,
        expires: rec.expires,
        timestamp: rec.timestamp,
        properties: Vec::new(),
        body: rec.body.clone(),
        body_kind: BodyKind::Text,
        producer: ConnectionId(0),
        extras: None,
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
            b":correlation-id" => msg.extras_mut().correlation_id = Some(v.clone()),
            b":reply-to" => {
                msg.extras_mut().reply_to = std::str::from_utf8(v).ok().and_then(parse_destination);
            }
            b":type" => msg.extras_mut().message_type = Some(v.clone()),
            b":deliver-at" => at.deliver_at = number(v, "stored message has a bad delivery time")?,
            b":repeats-left" => {
                at.repeats_left = number(v, "stored message has a bad repeat count")?;
            }
            b":schedule" => {
                let bad = "stored message has a bad schedule";
                let text = std::str::from_utf8(v).map_err(|_| RecordError(bad))?;
                let mut parts = text.split(',');
                let mut next = || parts.next().ok_or(RecordError(bad));
                let delay = number(next()?.as_bytes(), bad)?;
                let period = number(next()?.as_bytes(), bad)?;
                let repeat = number(next()?.as_bytes(), bad)?;
                let schedule = &mut msg.extras_mut().schedule;
                let cron = schedule.take().and_then(|s| s.cron);
                *schedule = Some(crate::Schedule {
                    delay,
                    period,
                    repeat,
                    cron,
                });
            }
            b":cron" => {
                let cron: Arc<str> = Arc::from(
                    std::str::from_utf8(v)
                        .map_err(|_| RecordError("stored message has a bad cron expression"))?,
                );
                msg.extras_mut()
                    .schedule
                    .get_or_insert_with(Default::default)
                    .cron = Some(cron);
            }
            b":orig-dest" => {
                msg.extras_mut().original_destination =
                    std::str::from_utf8(v).ok().and_then(parse_destination);
            }
            b":cause" => {
                msg.extras_mut().failure_cause =
                    Some(Arc::from(String::from_utf8_lossy(v).as_ref()));
            }
            b":dest" => {
                msg.destination = std::str::from_utf8(v)
                    .ok()
                    .and_then(parse_destination)
                    .ok_or(RecordError("stored message has a bad destination"))?;
            }
            _ => return Err(RecordError("stored message has an unknown field")),
        }
    }
    msg.properties = rec.headers[sep + 1..].to_vec();
    Ok((msg, at))
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
            properties: vec![(Bytes::from_static(b":odd"), Bytes::from_static(b"v"))],
            body: Bytes::from_static(b"\0body"),
            body_kind: BodyKind::Bytes,
            producer: ConnectionId(0),
            extras: Some(Arc::new(crate::MessageExtras {
                correlation_id: Some(Bytes::from_static(b"c")),
                reply_to: Some(Destination::new(DestinationKind::TempQueue, "ID:a:1")),
                message_type: Some(Bytes::from_static(b"t")),
                schedule: Some(crate::Schedule {
                    delay: 10,
                    period: 20,
                    repeat: 3,
                    cron: Some(Arc::from("0 * * * *")),
                }),
                original_destination: Some(Destination::topic("t.x")),
                failure_cause: Some(Arc::from("expired")),
            })),
        };
        let at = Placement {
            lane: 7,
            deliver_at: 1234,
            repeats_left: 2,
        };
        let rec = to_record("queue://q", 9, &msg, at);
        assert_eq!(rec.seq, 9);
        assert_eq!(rec.priority, 7);
        assert_eq!(from_record(&rec, &msg.destination).unwrap(), (msg, at));
    }
}
