//! ActiveMQ's STOMP ↔ JMS mapping: destination names, SEND headers to a core [`Message`] and
//! a core [`Delivery`] back to a MESSAGE frame (shared/specs/activemq-docs/stomp.md).

use std::sync::Arc;

use broker_core::{
    BodyKind, Connection, Delivery, Destination, DestinationKind, Message, MessageExtras, Schedule,
};
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
    // Set by the broker on every MESSAGE (redeliveries + 1); a client cannot preset it.
    "JMSXDeliveryCount",
];

/// ActiveMQ's scheduler properties (`org.apache.activemq.ScheduledMessage`). They are read
/// into [`Message::schedule`](broker_core::MessageExtras::schedule); a message they schedule
/// is delivered without them (as ActiveMQ's scheduler removes them), so a consumer that
/// sends it on does not schedule it again.
const SCHEDULED_DELAY: &str = "AMQ_SCHEDULED_DELAY";
const SCHEDULED_PERIOD: &str = "AMQ_SCHEDULED_PERIOD";
const SCHEDULED_REPEAT: &str = "AMQ_SCHEDULED_REPEAT";
const SCHEDULED_CRON: &str = "AMQ_SCHEDULED_CRON";
const SCHEDULED: [&str; 4] = [
    SCHEDULED_DELAY,
    SCHEDULED_PERIOD,
    SCHEDULED_REPEAT,
    SCHEDULED_CRON,
];
/// Set on a message the scheduler delivers (ActiveMQ: the job's id; here the scheduled
/// message's id, shared by every delivery of one schedule). A SEND that carries it is never
/// scheduled, as in ActiveMQ.
const SCHEDULED_JOB_ID: &str = "scheduledJobId";

/// MESSAGE headers of a dead-lettered message (ActiveMQ: `original-destination` header and
/// `dlqDeliveryFailureCause` string property).
const ORIGINAL_DESTINATION: &str = "original-destination";
const FAILURE_CAUSE: &str = "dlqDeliveryFailureCause";
const DELIVERY_COUNT: &str = "JMSXDeliveryCount";

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

/// Parses a `destination` header that may be a composite (`/queue/a,/topic/b`): each part as
/// [`parse_destination`], except that a part without a `/` prefix takes the kind of the first
/// part, as in ActiveMQ (`/topic/a,b` is two topics).
pub fn parse_destinations(conn: &Connection, s: &str) -> Result<Vec<Destination>, StompError> {
    let mut out: Vec<Destination> = Vec::new();
    for part in s.split(',').map(str::trim) {
        let d = match out.first() {
            Some(first) if !part.starts_with('/') && !part.is_empty() => match first.kind() {
                DestinationKind::Topic => Destination::new(DestinationKind::Topic, part),
                _ => parse_destination(conn, part)?,
            },
            _ => parse_destination(conn, part)?,
        };
        out.push(d);
    }
    Ok(out)
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

/// A non-negative integer header no larger than `max` (Java's `long` or `int`, which is what
/// ActiveMQ converts the string to); `None` when absent.
fn non_negative(h: &Headers, header: &'static str, max: i64) -> Result<Option<u64>, StompError> {
    let Some(raw) = h.get(header) else {
        return Ok(None);
    };
    let text = String::from_utf8_lossy(raw);
    let n: i64 = text
        .trim()
        .parse()
        .map_err(|_| invalid(header, format!("'{text}' is not a number")))?;
    if !(0..=max).contains(&n) {
        return Err(invalid(
            header,
            format!("'{text}' is out of range 0..={max}"),
        ));
    }
    Ok(Some(n as u64))
}

/// Reads ActiveMQ's `AMQ_SCHEDULED_*` headers. As ActiveMQ's `SchedulerBroker`, a message is
/// scheduled only with a non-empty CRON entry, a delay or a period; a repeat count alone
/// leaves it immediate. The CRON syntax itself is checked by the core (`InvalidSchedule`).
fn schedule_from_headers(h: &Headers) -> Result<Option<Schedule>, StompError> {
    let delay = non_negative(h, SCHEDULED_DELAY, i64::MAX)?.unwrap_or(0);
    let period = non_negative(h, SCHEDULED_PERIOD, i64::MAX)?.unwrap_or(0);
    let repeat = non_negative(h, SCHEDULED_REPEAT, i64::from(i32::MAX))?.unwrap_or(0);
    let cron = match h.get(SCHEDULED_CRON) {
        None => None,
        Some(raw) => {
            let text = std::str::from_utf8(raw)
                .map_err(|_| invalid(SCHEDULED_CRON, "not valid UTF-8"))?
                .trim();
            (!text.is_empty()).then(|| Arc::<str>::from(text))
        }
    };
    if cron.is_none() && delay == 0 && period == 0 {
        return Ok(None);
    }
    Ok(Some(Schedule {
        delay,
        period,
        repeat: repeat as u32,
        cron,
    }))
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
    let schedule = if h.contains(SCHEDULED_JOB_ID) {
        None
    } else {
        schedule_from_headers(h)?
    };
    let id = conn.new_message_id();
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
        if schedule.is_some() && SCHEDULED.iter().any(|s| s.as_bytes() == name.as_ref()) {
            continue;
        }
        properties.push((name.clone(), value.clone()));
    }
    if schedule.is_some() {
        properties.push((
            Bytes::from_static(SCHEDULED_JOB_ID.as_bytes()),
            Bytes::copy_from_slice(id.as_bytes()),
        ));
    }
    let correlation_id = h.get_bytes("correlation-id").cloned();
    let message_type = h.get_bytes("type").cloned();
    // Most messages have none of these: then nothing is allocated.
    let extras = (correlation_id.is_some()
        || reply_to.is_some()
        || message_type.is_some()
        || schedule.is_some())
    .then(|| {
        Arc::new(MessageExtras {
            correlation_id,
            reply_to,
            message_type,
            schedule,
            // Only the broker dead-letters: a client's `original-destination` or
            // `dlqDeliveryFailureCause` header stays a plain property.
            original_destination: None,
            failure_cause: None,
        })
    });
    Ok(Message {
        id,
        destination: dest,
        persistent,
        priority,
        expires,
        timestamp: now_ms,
        properties,
        body: frame.body,
        body_kind,
        producer: conn.id(),
        extras,
    })
}

/// The MESSAGE that ends a browse: no body, `browser:end` (ActiveMQ's marker).
pub fn browse_end_frame(conn: &Connection, dest: &Destination, subscription: &str) -> Frame {
    let mut h = Headers::with_capacity(4);
    h.push("subscription", subscription.to_owned());
    h.push("message-id", format!("{subscription}:browser-end"));
    h.push("destination", render_destination(conn, dest));
    h.push("browser", "end");
    Frame {
        command: Command::Message,
        headers: h,
        body: Bytes::new(),
    }
}

/// Builds the MESSAGE frame for a delivery, with the headers ActiveMQ sends; `ack_header`
/// adds STOMP 1.2's `ack` (the message id, which the client's ACK/NACK `id` names).
/// A number as header text, without an allocation for the common small ones (priority,
/// delivery count, `expires:0`): every MESSAGE carries three of them.
fn small_number(n: u64) -> Bytes {
    const SMALL: [&str; 11] = ["0", "1", "2", "3", "4", "5", "6", "7", "8", "9", "10"];
    match usize::try_from(n).ok().and_then(|i| SMALL.get(i)) {
        Some(s) => Bytes::from_static(s.as_bytes()),
        None => Bytes::from(n.to_string()),
    }
}

pub fn message_frame(
    conn: &Connection,
    d: &Delivery,
    subscription: &str,
    ack_header: bool,
) -> Frame {
    let m = &d.message;
    let mut h = Headers::with_capacity(15 + m.properties.len());
    h.push("subscription", subscription.to_owned());
    let id = Bytes::from(m.id.to_string());
    h.push("message-id", id.clone());
    h.push("destination", render_destination(conn, &m.destination));
    if ack_header {
        h.push("ack", id);
    }
    let extras = m.extras();
    if let Some(v) = &extras.correlation_id {
        h.push("correlation-id", v.clone());
    }
    h.push("expires", small_number(m.expires));
    if m.persistent {
        h.push("persistent", "true");
    }
    h.push("priority", small_number(u64::from(m.priority)));
    if d.redelivered() {
        h.push("redelivered", "true");
    }
    // JMSXDeliveryCount counts this delivery too. ActiveMQ's STOMP leaves it out; ferromq
    // sends it on every MESSAGE so clients can see how often a message came back.
    h.push(DELIVERY_COUNT, small_number(u64::from(d.redeliveries) + 1));
    if let Some(r) = &extras.reply_to {
        h.push("reply-to", render_destination(conn, r));
    }
    h.push("timestamp", m.timestamp.to_string());
    if let Some(v) = &extras.message_type {
        h.push("type", v.clone());
    }
    if let Some(o) = &extras.original_destination {
        h.push(ORIGINAL_DESTINATION, render_destination(conn, o));
    }
    if let Some(c) = &extras.failure_cause {
        h.push(FAILURE_CAUSE, c.to_string());
    }
    for (k, v) in &m.properties {
        // A same-named property a client sent loses to what the broker set (clients read
        // the first of repeated headers, but not all do; leave no ambiguity).
        let shadowed = (extras.original_destination.is_some() && k == ORIGINAL_DESTINATION)
            || (extras.failure_cause.is_some() && k == FAILURE_CAUSE)
            || k == DELIVERY_COUNT;
        if !shadowed {
            h.push(k.clone(), v.clone());
        }
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

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use broker_core::{Broker, ConsumerId, CoreConfig, DeliveryTag};
    use broker_store::MemStore;

    use super::*;

    fn connection() -> Connection {
        Broker::new(CoreConfig::default(), Arc::new(MemStore::new()))
            .expect("broker")
            .connect()
    }

    #[tokio::test]
    async fn composite_parts_without_prefix_take_the_first_parts_kind() {
        let conn = connection();
        let parse = |s| parse_destinations(&conn, s).unwrap();
        assert_eq!(
            parse("/topic/a,b, /queue/c"),
            [
                Destination::topic("a"),
                Destination::topic("b"),
                Destination::queue("c")
            ]
        );
        assert_eq!(
            parse("/queue/a,b"),
            [Destination::queue("a"), Destination::queue("b")]
        );
        assert_eq!(parse("/topic/x"), [Destination::topic("x")]);
        assert!(parse_destinations(&conn, "/queue/a,").is_err());
    }

    fn send(headers: &[(&str, &str)]) -> Frame {
        let mut f = Frame::new(Command::Send).header("destination", "/queue/q");
        for (k, v) in headers {
            f.headers.push(k.to_string(), v.to_string());
        }
        f
    }

    fn message(conn: &mut Connection, headers: &[(&str, &str)]) -> Result<Message, StompError> {
        message_from_send(conn, send(headers), Destination::queue("q"), 1_000)
    }

    fn property<'a>(m: &'a Message, name: &str) -> Option<&'a [u8]> {
        m.properties
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_ref())
    }

    fn header_count(f: &Frame, name: &str) -> usize {
        f.headers.get_all(name).count()
    }

    fn frame_for(conn: &Connection, msg: Message, redeliveries: u32) -> Frame {
        let d = Delivery {
            consumer: ConsumerId(1),
            tag: DeliveryTag(1),
            message: Arc::new(msg),
            redeliveries,
        };
        message_frame(conn, &d, "sub-1", true)
    }

    #[tokio::test]
    async fn scheduled_headers_become_the_schedule_and_a_job_id() {
        let mut conn = connection();
        let m = message(
            &mut conn,
            &[
                (SCHEDULED_DELAY, "2000"),
                (SCHEDULED_PERIOD, " 500 "),
                (SCHEDULED_REPEAT, "3"),
                (SCHEDULED_CRON, "0 * * * *"),
            ],
        )
        .expect("valid");
        assert_eq!(
            m.schedule().cloned(),
            Some(Schedule {
                delay: 2000,
                period: 500,
                repeat: 3,
                cron: Some(Arc::from("0 * * * *")),
            })
        );
        // Delivered without them (as ActiveMQ), so sending it on does not schedule it again.
        for name in SCHEDULED {
            assert_eq!(property(&m, name), None, "{name}");
        }
        assert_eq!(property(&m, SCHEDULED_JOB_ID), Some(m.id.as_bytes()));
        let f = frame_for(&conn, m.clone(), 0);
        assert_eq!(f.headers.get_str(SCHEDULED_JOB_ID), Some(&*m.id));
        assert_eq!(f.headers.get_str(SCHEDULED_DELAY), None);

        let delay_only = message(&mut conn, &[(SCHEDULED_DELAY, "250")]).expect("valid");
        assert_eq!(
            delay_only.schedule().cloned(),
            Some(Schedule {
                delay: 250,
                ..Schedule::default()
            })
        );
    }

    #[tokio::test]
    async fn no_schedule_without_delay_period_or_cron() {
        let mut conn = connection();
        for headers in [
            &[][..],
            &[(SCHEDULED_DELAY, "0"), (SCHEDULED_PERIOD, "0")][..],
            // ActiveMQ's SchedulerBroker ignores a repeat count without a delay, period or
            // CRON entry: the message goes out at once, once.
            &[(SCHEDULED_REPEAT, "5")][..],
            &[(SCHEDULED_CRON, "  ")][..],
        ] {
            let m = message(&mut conn, headers).expect("valid");
            assert_eq!(m.schedule().cloned(), None, "{headers:?}");
            // Not scheduled: they stay ordinary properties, as in ActiveMQ.
            for (name, value) in headers {
                assert_eq!(property(&m, name), Some(value.as_bytes()), "{name}");
            }
            assert_eq!(property(&m, SCHEDULED_JOB_ID), None);
        }
    }

    #[tokio::test]
    async fn a_send_with_a_job_id_is_not_scheduled() {
        let mut conn = connection();
        let m = message(
            &mut conn,
            &[
                (SCHEDULED_JOB_ID, "ID:elsewhere"),
                (SCHEDULED_DELAY, "5000"),
            ],
        )
        .expect("valid");
        assert_eq!(m.schedule(), None);
        assert_eq!(property(&m, SCHEDULED_DELAY), Some(&b"5000"[..]));
        assert_eq!(property(&m, SCHEDULED_JOB_ID), Some(&b"ID:elsewhere"[..]));
    }

    #[tokio::test]
    async fn bad_scheduled_values_are_errors_naming_the_header() {
        let mut conn = connection();
        for (name, value, why) in [
            (SCHEDULED_DELAY, "soon", "is not a number"),
            (SCHEDULED_DELAY, "-1", "out of range"),
            (SCHEDULED_PERIOD, "1.5", "is not a number"),
            (SCHEDULED_PERIOD, "-1000", "out of range"),
            (SCHEDULED_REPEAT, "-2", "out of range"),
            // Java int, as ActiveMQ reads it.
            (SCHEDULED_REPEAT, "2147483648", "out of range"),
            (SCHEDULED_DELAY, "99999999999999999999", "is not a number"),
        ] {
            let err = message(&mut conn, &[(name, value)]).expect_err(value);
            match &err {
                StompError::InvalidHeader { header, reason } => {
                    assert_eq!(*header, name);
                    assert!(reason.contains(why), "{name}:{value} → {reason}");
                }
                other => panic!("{name}:{value} → {other:?}"),
            }
            assert!(err
                .to_string()
                .starts_with(&format!("invalid '{name}' header")));
        }
        let ok = message(
            &mut conn,
            &[(SCHEDULED_REPEAT, "2147483647"), (SCHEDULED_DELAY, "1")],
        );
        assert_eq!(
            ok.expect("int max").schedule().map(|s| s.repeat),
            Some(i32::MAX as u32)
        );
    }

    #[tokio::test]
    async fn priority_is_clamped_like_activemq_and_defaults_to_4() {
        let mut conn = connection();
        let p = |conn: &mut Connection, v: Option<&str>| {
            let headers: Vec<(&str, &str)> = v.map(|v| ("priority", v)).into_iter().collect();
            message(conn, &headers).map(|m| m.priority)
        };
        assert_eq!(p(&mut conn, None).unwrap(), 4);
        assert_eq!(p(&mut conn, Some("9")).unwrap(), 9);
        assert_eq!(p(&mut conn, Some(" 0 ")).unwrap(), 0);
        // ActiveMQ's priority cursors clamp to 0..=9 rather than refuse.
        assert_eq!(p(&mut conn, Some("12")).unwrap(), 9);
        assert_eq!(p(&mut conn, Some("-3")).unwrap(), 0);
        assert!(matches!(
            p(&mut conn, Some("high")),
            Err(StompError::InvalidHeader {
                header: "priority",
                ..
            })
        ));
    }

    #[tokio::test]
    async fn clients_cannot_preset_broker_headers() {
        let mut conn = connection();
        let m = message(
            &mut conn,
            &[
                (DELIVERY_COUNT, "7"),
                (ORIGINAL_DESTINATION, "/queue/elsewhere"),
                (FAILURE_CAUSE, "made up"),
            ],
        )
        .expect("valid");
        assert_eq!(m.extras().original_destination, None);
        assert_eq!(m.extras().failure_cause, None);
        assert_eq!(property(&m, DELIVERY_COUNT), None);
        // Plain properties, delivered as such.
        assert_eq!(
            property(&m, ORIGINAL_DESTINATION),
            Some(&b"/queue/elsewhere"[..])
        );
        let f = frame_for(&conn, m, 0);
        assert_eq!(f.headers.get_str(DELIVERY_COUNT), Some("1"));
        assert_eq!(header_count(&f, DELIVERY_COUNT), 1);
        assert_eq!(
            f.headers.get_str(ORIGINAL_DESTINATION),
            Some("/queue/elsewhere")
        );
        assert_eq!(f.headers.get_str(FAILURE_CAUSE), Some("made up"));
    }

    #[tokio::test]
    async fn delivery_count_and_redelivered_flag() {
        let mut conn = connection();
        let m = message(&mut conn, &[]).expect("valid");
        let first = frame_for(&conn, m.clone(), 0);
        assert_eq!(first.headers.get_str("redelivered"), None);
        assert_eq!(first.headers.get_str(DELIVERY_COUNT), Some("1"));
        let third = frame_for(&conn, m.clone(), 2);
        assert_eq!(third.headers.get_str("redelivered"), Some("true"));
        assert_eq!(third.headers.get_str(DELIVERY_COUNT), Some("3"));
        let max = frame_for(&conn, m, u32::MAX);
        assert_eq!(
            max.headers.get_str(DELIVERY_COUNT),
            Some("4294967296"),
            "no overflow"
        );
    }

    #[tokio::test]
    async fn dead_lettered_message_names_its_origin_and_cause() {
        let mut conn = connection();
        let mut m = message(
            &mut conn,
            &[
                (FAILURE_CAUSE, "spoofed"),
                (ORIGINAL_DESTINATION, "spoofed"),
            ],
        )
        .expect("valid");
        m.destination = Destination::queue("DLQ.orders");
        m.extras_mut().original_destination = Some(Destination::queue("orders"));
        m.extras_mut().failure_cause =
            Some(Arc::from("Delivery[4] exceeds redelivery policy limit"));
        let f = frame_for(&conn, m, 3);
        assert_eq!(f.headers.get_str("destination"), Some("/queue/DLQ.orders"));
        assert_eq!(
            f.headers.get_str(ORIGINAL_DESTINATION),
            Some("/queue/orders")
        );
        assert_eq!(
            f.headers.get_str(FAILURE_CAUSE),
            Some("Delivery[4] exceeds redelivery policy limit")
        );
        // The broker's values are the only ones.
        assert_eq!(header_count(&f, ORIGINAL_DESTINATION), 1);
        assert_eq!(header_count(&f, FAILURE_CAUSE), 1);
        assert_eq!(f.headers.get_str(DELIVERY_COUNT), Some("4"));

        let mut from_topic = message(&mut conn, &[]).expect("valid");
        from_topic.extras_mut().original_destination = Some(Destination::topic("prices"));
        let f = frame_for(&conn, from_topic, 0);
        assert_eq!(
            f.headers.get_str(ORIGINAL_DESTINATION),
            Some("/topic/prices")
        );
        assert_eq!(f.headers.get_str(FAILURE_CAUSE), None);
    }
}
