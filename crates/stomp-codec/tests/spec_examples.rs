//! Byte fixtures taken from the STOMP 1.0/1.1/1.2 specification examples: input bytes →
//! expected frame, and frame → expected bytes.

use bytes::{Bytes, BytesMut};
use stomp_codec::{CodecError, Command, Frame, Headers, Item, Limits, StompCodec, Version};

/// Decodes every item in `input` (which must end on an item boundary).
fn decode_all(codec: &mut StompCodec, input: &[u8]) -> Vec<Item> {
    let mut buf = BytesMut::from(input);
    let mut out = Vec::new();
    while let Some(item) = codec.decode(&mut buf).expect("valid input") {
        out.push(item);
    }
    assert!(buf.is_empty(), "left over: {:?}", buf);
    out
}

fn decode_one(version: Option<Version>, input: &[u8]) -> Frame {
    let mut codec = StompCodec::new(Limits::default());
    if let Some(v) = version {
        codec.set_version(v);
    }
    let items = decode_all(&mut codec, input);
    match items.as_slice() {
        [Item::Frame(f), rest @ ..] if rest.iter().all(|i| *i == Item::HeartBeat) => f.clone(),
        other => panic!("expected one frame, got {other:?}"),
    }
}

fn decode_err(version: Option<Version>, input: &[u8]) -> CodecError {
    let mut codec = StompCodec::new(Limits::default());
    if let Some(v) = version {
        codec.set_version(v);
    }
    let mut buf = BytesMut::from(input);
    loop {
        match codec.decode(&mut buf) {
            Ok(Some(_)) => continue,
            Ok(None) => panic!("expected an error, got Ok(None)"),
            Err(e) => return e,
        }
    }
}

fn encode(version: Option<Version>, frame: &Frame) -> Vec<u8> {
    let mut codec = StompCodec::new(Limits::default());
    if let Some(v) = version {
        codec.set_version(v);
    }
    let mut out = BytesMut::new();
    codec.encode(frame, &mut out);
    out.to_vec()
}

fn headers(f: &Frame) -> Vec<(String, String)> {
    f.headers
        .iter()
        .map(|(n, v)| {
            (
                String::from_utf8_lossy(n).into_owned(),
                String::from_utf8_lossy(v).into_owned(),
            )
        })
        .collect()
}

fn pairs(p: &[(&str, &str)]) -> Vec<(String, String)> {
    p.iter()
        .map(|(n, v)| (n.to_string(), v.to_string()))
        .collect()
}

// ---------------------------------------------------------------- connecting

#[test]
fn connect_1_2() {
    let f = decode_one(
        None,
        b"CONNECT\naccept-version:1.2\nhost:stomp.github.org\n\n\0",
    );
    assert_eq!(f.command, Command::Connect);
    assert_eq!(f.headers.accept_version(), Some("1.2"));
    assert_eq!(f.headers.host(), Some("stomp.github.org"));
    assert!(f.body.is_empty());
}

#[test]
fn connect_1_1_with_heart_beat_and_stomp_frame() {
    let f = decode_one(
        None,
        b"STOMP\naccept-version:1.0,1.1,2.0\nhost:stomp.github.org\nheart-beat:1000,2000\n\n\0",
    );
    assert_eq!(f.command, Command::Stomp);
    assert_eq!(f.headers.heart_beat().unwrap().unwrap(), (1000, 2000));
    assert_eq!(
        Version::negotiate(f.headers.accept_version().unwrap(), &Version::ALL),
        Some(Version::V1_1)
    );
}

#[test]
fn connect_1_0_values_are_not_trimmed() {
    // STOMP 1.0 example (the spec's whitespace-only blank line is markdown indentation).
    let f = decode_one(
        None,
        b"CONNECT\nlogin: <username>\npasscode:<passcode>\n\n\0",
    );
    assert_eq!(
        headers(&f),
        pairs(&[("login", " <username>"), ("passcode", "<passcode>")])
    );
}

#[test]
fn connected_frames() {
    let f = decode_one(None, b"CONNECTED\nversion:1.2\n\n\0");
    assert_eq!(f.command, Command::Connected);
    assert_eq!(f.headers.version(), Some("1.2"));
    let f = decode_one(None, b"CONNECTED\nsession: <session-id>\n\n\0");
    assert_eq!(f.headers.get_str("session"), Some(" <session-id>"));
    let out = encode(
        None,
        &Frame::new(Command::Connected)
            .header("version", "1.2")
            .header("heart-beat", "0,0"),
    );
    assert_eq!(out, b"CONNECTED\nversion:1.2\nheart-beat:0,0\n\n\0");
}

#[test]
fn version_mismatch_error_example() {
    let f = decode_one(
        None,
        b"ERROR\nversion:1.2,2.1\ncontent-type:text/plain\n\nSupported protocol versions are 1.2 2.1\0",
    );
    assert_eq!(f.command, Command::Error);
    assert_eq!(&f.body[..], b"Supported protocol versions are 1.2 2.1");
}

// ---------------------------------------------------------------- client frames

#[test]
fn send_with_trailing_newline_body() {
    let f = decode_one(
        Some(Version::V1_2),
        b"SEND\ndestination:/queue/a\ncontent-type:text/plain\n\nhello queue a\n\0",
    );
    assert_eq!(f.command, Command::Send);
    assert_eq!(f.headers.destination(), Some("/queue/a"));
    assert_eq!(f.headers.content_type(), Some("text/plain"));
    assert_eq!(&f.body[..], b"hello queue a\n");
}

#[test]
fn send_with_receipt() {
    let f = decode_one(
        Some(Version::V1_0),
        b"SEND\ndestination:/queue/a\nreceipt:message-12345\n\nHello a!\0",
    );
    assert_eq!(f.headers.receipt(), Some("message-12345"));
    assert_eq!(&f.body[..], b"Hello a!");
}

#[test]
fn subscribe_and_unsubscribe() {
    let f = decode_one(
        Some(Version::V1_2),
        b"SUBSCRIBE\nid:0\ndestination:/queue/foo\nack:client\n\n\0",
    );
    assert_eq!(f.command, Command::Subscribe);
    assert_eq!(f.headers.id(), Some("0"));
    assert_eq!(f.headers.ack(), Some("client"));
    let f = decode_one(Some(Version::V1_2), b"UNSUBSCRIBE\nid:0\n\n\0");
    assert_eq!(f.command, Command::Unsubscribe);
    // 1.0 padded example keeps its padding.
    let f = decode_one(
        Some(Version::V1_0),
        b"UNSUBSCRIBE\ndestination: /queue/a\n\n\0",
    );
    assert_eq!(f.headers.destination(), Some(" /queue/a"));
}

#[test]
fn ack_and_nack_per_version() {
    let f = decode_one(
        Some(Version::V1_0),
        b"ACK\nmessage-id: <message-identifier>\ntransaction: <transaction-identifier>\n\n\0",
    );
    assert_eq!(f.command, Command::Ack);
    assert_eq!(f.headers.message_id(), Some(" <message-identifier>"));

    let f = decode_one(
        Some(Version::V1_1),
        b"ACK\nsubscription:0\nmessage-id:007\ntransaction:tx1\n\n\0",
    );
    assert_eq!(f.headers.subscription(), Some("0"));
    assert_eq!(f.headers.message_id(), Some("007"));
    assert_eq!(f.headers.transaction(), Some("tx1"));

    let f = decode_one(Some(Version::V1_2), b"ACK\nid:12345\ntransaction:tx1\n\n\0");
    assert_eq!(f.headers.id(), Some("12345"));

    for v in [Version::V1_1, Version::V1_2] {
        let f = decode_one(Some(v), b"NACK\nid:12345\n\n\0");
        assert_eq!(f.command, Command::Nack);
    }
}

#[test]
fn transactions_and_disconnect() {
    for (cmd, bytes) in [
        (Command::Begin, &b"BEGIN\ntransaction:tx1\n\n\0"[..]),
        (Command::Commit, b"COMMIT\ntransaction:tx1\n\n\0"),
        (Command::Abort, b"ABORT\ntransaction:tx1\n\n\0"),
    ] {
        let f = decode_one(Some(Version::V1_2), bytes);
        assert_eq!(f.command, cmd);
        assert_eq!(f.headers.transaction(), Some("tx1"));
    }
    // The 1.2 DISCONNECT example has no blank line: the NUL sits where it would be.
    let err = decode_err(Some(Version::V1_2), b"DISCONNECT\nreceipt:77\n\0\n");
    assert!(
        matches!(err, CodecError::MalformedHeader { offset: 22 }),
        "{err:?}"
    );
    let f = decode_one(Some(Version::V1_2), b"DISCONNECT\nreceipt:77\n\n\0");
    assert_eq!(f.command, Command::Disconnect);
    assert_eq!(f.headers.receipt(), Some("77"));
}

// ---------------------------------------------------------------- server frames

#[test]
fn message_and_receipt() {
    let f = decode_one(
        Some(Version::V1_2),
        b"MESSAGE\nsubscription:0\nmessage-id:007\ndestination:/queue/a\ncontent-type:text/plain\n\nhello queue a\0",
    );
    assert_eq!(f.command, Command::Message);
    assert_eq!(f.headers.subscription(), Some("0"));
    assert_eq!(f.headers.message_id(), Some("007"));
    assert_eq!(&f.body[..], b"hello queue a");

    let f = decode_one(
        Some(Version::V1_2),
        b"RECEIPT\nreceipt-id:message-12345\n\n\0",
    );
    assert_eq!(f.command, Command::Receipt);
    assert_eq!(f.headers.receipt_id(), Some("message-12345"));
}

const ERROR_BODY: &[u8] = b"The message:\n-----\nMESSAGE\ndestined:/queue/a\nreceipt:message-12345\n\nHello queue a!\n-----\nDid not contain a destination header, which is REQUIRED\nfor message propagation.\n";

#[test]
fn error_with_content_length_from_spec() {
    assert_eq!(ERROR_BODY.len(), 170);
    let mut input = b"ERROR\nreceipt-id:message-12345\ncontent-type:text/plain\ncontent-length:170\nmessage:malformed frame received\n\n".to_vec();
    input.extend_from_slice(ERROR_BODY);
    input.push(0);
    let f = decode_one(Some(Version::V1_2), &input);
    assert_eq!(f.headers.content_length().unwrap().unwrap(), 170);
    assert_eq!(f.headers.message(), Some("malformed frame received"));
    assert_eq!(&f.body[..], ERROR_BODY);
    // Encoding writes the header as given and nothing more: same bytes back.
    assert_eq!(encode(Some(Version::V1_2), &f), input);
}

#[test]
fn content_length_body_may_contain_nuls() {
    let input = b"ERROR\ncontent-length:7\n\na\0b\0\0c\0\0SEND\ndestination:/q\n\n\0";
    let mut codec = StompCodec::default();
    let items = decode_all(&mut codec, input);
    assert_eq!(items.len(), 2);
    let Item::Frame(f) = &items[0] else { panic!() };
    assert_eq!(&f.body[..], b"a\0b\0\0c\0");
    let Item::Frame(f) = &items[1] else { panic!() };
    assert_eq!(f.command, Command::Send);
}

#[test]
fn empty_body_with_content_length_zero() {
    let f = decode_one(None, b"SEND\ncontent-length:0\n\n\0");
    assert!(f.body.is_empty());
    let f = decode_one(None, b"SEND\ncontent-length: 3 \n\nabc\0");
    assert_eq!(&f.body[..], b"abc");
}

// ---------------------------------------------------------------- framing

#[test]
fn crlf_line_endings() {
    let f = decode_one(
        Some(Version::V1_2),
        b"SEND\r\ndestination:/queue/a\r\nreceipt:r\r\n\r\nbody\r\n\0\r\n",
    );
    assert_eq!(f.command, Command::Send);
    assert_eq!(
        headers(&f),
        pairs(&[("destination", "/queue/a"), ("receipt", "r")])
    );
    assert_eq!(&f.body[..], b"body\r\n");
    // Mixed endings in one frame are fine too.
    let f = decode_one(None, b"MESSAGE\r\na:1\nb:2\r\n\n\0");
    assert_eq!(headers(&f), pairs(&[("a", "1"), ("b", "2")]));
}

#[test]
fn heart_beats_between_frames() {
    let mut codec = StompCodec::default();
    let items = decode_all(
        &mut codec,
        b"\n\r\nSEND\ndestination:/q\n\nx\0\n\n\r\nBEGIN\ntransaction:t\n\n\0\n",
    );
    let kinds: Vec<_> = items
        .iter()
        .map(|i| match i {
            Item::HeartBeat => "hb".to_string(),
            Item::Frame(f) => f.command.to_string(),
        })
        .collect();
    assert_eq!(kinds, ["hb", "hb", "SEND", "hb", "hb", "hb", "BEGIN", "hb"]);
    // A lone CR may be the first half of a CR LF: wait for more.
    let mut buf = BytesMut::from(&b"\r"[..]);
    assert_eq!(codec.decode(&mut buf).unwrap(), None);
    buf.extend_from_slice(b"\n");
    assert_eq!(codec.decode(&mut buf).unwrap(), Some(Item::HeartBeat));
    let mut out = BytesMut::new();
    StompCodec::encode_heartbeat(&mut out);
    assert_eq!(&out[..], b"\n");
}

#[test]
fn repeated_headers_first_wins_and_all_kept() {
    let f = decode_one(Some(Version::V1_2), b"MESSAGE\nfoo:World\nfoo:Hello\n\n\0");
    assert_eq!(f.headers.get_str("foo"), Some("World"));
    assert_eq!(f.headers.len(), 2);
    assert_eq!(
        encode(Some(Version::V1_2), &f),
        b"MESSAGE\nfoo:World\nfoo:Hello\n\n\0"
    );
    // The first content-length governs framing.
    let f = decode_one(None, b"SEND\ncontent-length:2\ncontent-length:5\n\na\0\0");
    assert_eq!(&f.body[..], b"a\0");
}

#[test]
fn colons_after_the_first_belong_to_the_value() {
    let f = decode_one(
        Some(Version::V1_0),
        b"SEND\ndestination:/queue/a:b\nempty:\n\n\0",
    );
    assert_eq!(
        headers(&f),
        pairs(&[("destination", "/queue/a:b"), ("empty", "")])
    );
}

// ---------------------------------------------------------------- escaping

#[test]
fn unescaping_per_version() {
    let input = b"MESSAGE\nk\\cey:a\\nb\\cc\\\\d\n\n\0";
    let f = decode_one(Some(Version::V1_0), input);
    assert_eq!(headers(&f), pairs(&[("k\\cey", "a\\nb\\cc\\\\d")]));
    for v in [None, Some(Version::V1_1), Some(Version::V1_2)] {
        let f = decode_one(v, input);
        assert_eq!(headers(&f), pairs(&[("k:ey", "a\nb:c\\d")]));
    }
    // \r is only defined by 1.2.
    let input = b"MESSAGE\nk:a\\rb\n\n\0";
    assert_eq!(
        decode_one(Some(Version::V1_2), input).headers.get("k"),
        Some(&b"a\rb"[..])
    );
    assert_eq!(decode_one(None, input).headers.get("k"), Some(&b"a\rb"[..]));
    let err = decode_err(Some(Version::V1_1), input);
    assert!(
        matches!(err, CodecError::InvalidEscape { offset: 11 }),
        "{err:?}"
    );
    // Undefined escapes are fatal in 1.1+ but plain bytes in 1.0.
    for v in [None, Some(Version::V1_1), Some(Version::V1_2)] {
        assert!(matches!(
            decode_err(v, b"SEND\nk:\\t\n\n\0"),
            CodecError::InvalidEscape { .. }
        ));
        assert!(matches!(
            decode_err(v, b"SEND\nk:v\\\n\n\0"),
            CodecError::InvalidEscape { .. }
        ));
    }
    assert_eq!(
        decode_one(Some(Version::V1_0), b"SEND\nk:\\t\n\n\0")
            .headers
            .get("k"),
        Some(&b"\\t"[..])
    );
}

#[test]
fn handshake_frames_are_never_unescaped() {
    for v in [
        None,
        Some(Version::V1_0),
        Some(Version::V1_1),
        Some(Version::V1_2),
    ] {
        for cmd in ["CONNECT", "STOMP", "CONNECTED"] {
            let input = format!("{cmd}\nlogin:a\\cb\npasscode:x\\ty\\\n\n\0");
            let f = decode_one(v, input.as_bytes());
            assert_eq!(f.headers.login(), Some("a\\cb"));
            assert_eq!(f.headers.passcode(), Some("x\\ty\\"));
        }
    }
    let connect = Frame::new(Command::Connect)
        .header("login", "us:er")
        .header("passcode", "p\\w");
    for v in [None, Some(Version::V1_1), Some(Version::V1_2)] {
        assert_eq!(
            encode(v, &connect),
            b"CONNECT\nlogin:us:er\npasscode:p\\w\n\n\0"
        );
    }
}

#[test]
fn escaping_on_encode_per_version() {
    let f = Frame::new(Command::Message)
        .header("a:b", "x\ny:z\\w\rv")
        .with_body("body");
    assert_eq!(
        encode(Some(Version::V1_2), &f),
        b"MESSAGE\na\\cb:x\\ny\\cz\\\\w\\rv\n\nbody\0"
    );
    assert_eq!(encode(None, &f), encode(Some(Version::V1_2), &f));
    assert_eq!(
        encode(Some(Version::V1_1), &f),
        b"MESSAGE\na\\cb:x\\ny\\cz\\\\w\rv\n\nbody\0"
    );
    // 1.0 writes raw, except that a LF cannot be represented and becomes a space.
    assert_eq!(
        encode(Some(Version::V1_0), &f),
        b"MESSAGE\na:b:x y:z\\w\rv\n\nbody\0"
    );
    for v in [None, Some(Version::V1_1), Some(Version::V1_2)] {
        assert_eq!(decode_one(v, &encode(v, &f)), f);
    }
}

#[test]
fn trailing_cr_survives_where_it_cannot_be_escaped() {
    let f = Frame::new(Command::Send).header("k", "v\r");
    for v in [Version::V1_0, Version::V1_1] {
        let out = encode(Some(v), &f);
        assert_eq!(out, b"SEND\nk:v\r\r\n\n\0");
        assert_eq!(decode_one(Some(v), &out), f);
    }
    assert_eq!(encode(Some(Version::V1_2), &f), b"SEND\nk:v\\r\n\n\0");
}

#[test]
fn encoder_never_adds_content_length() {
    let f = Frame::new(Command::Send)
        .header("destination", "/q")
        .with_body(Bytes::from_static(b"hi"));
    assert_eq!(encode(None, &f), b"SEND\ndestination:/q\n\nhi\0");
    let f = f.with_content_length();
    assert_eq!(
        encode(None, &f),
        b"SEND\ndestination:/q\ncontent-length:2\n\nhi\0"
    );
}

#[test]
fn headers_builder_and_frame_equality() {
    let mut h = Headers::new();
    h.push("destination", "/q");
    let f = Frame {
        command: Command::Send,
        headers: h,
        body: Bytes::new(),
    };
    assert_eq!(f, Frame::new(Command::Send).header("destination", "/q"));
}
