//! Property tests: encode→decode round trips for every version, streams split at every byte
//! offset decode the same, and arbitrary bytes never panic or buffer past the limits.

use bytes::{Bytes, BytesMut};
use proptest::prelude::*;
use stomp_codec::{Command, Frame, Item, Limits, StompCodec, Version};

fn version() -> impl Strategy<Value = Option<Version>> {
    prop_oneof![
        Just(None),
        Just(Some(Version::V1_0)),
        Just(Some(Version::V1_1)),
        Just(Some(Version::V1_2)),
    ]
}

fn command() -> impl Strategy<Value = Command> {
    prop::sample::select(Command::ALL.to_vec())
}

/// Bytes biased towards the ones that matter to framing and escaping.
fn octet(excluded: &'static [u8]) -> impl Strategy<Value = u8> {
    prop_oneof![
        3 => any::<u8>(),
        1 => prop::sample::select(b"\n\r:\\\0cnrt ".to_vec()),
    ]
    .prop_filter("not representable here", move |b| !excluded.contains(b))
}

fn octets(excluded: &'static [u8], len: std::ops::Range<usize>) -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(octet(excluded), len)
}

/// A frame that `version` can represent: in raw contexts (1.0 and the handshake frames)
/// names exclude LF and `:` and values exclude LF. A body with a NUL gets content-length.
fn frame(version: Option<Version>) -> impl Strategy<Value = Frame> {
    command()
        .prop_flat_map(move |cmd| {
            let raw = cmd.is_handshake() || version == Some(Version::V1_0);
            let (name_ex, value_ex): (&'static [u8], &'static [u8]) =
                if raw { (b"\n:", b"\n") } else { (b"", b"") };
            (
                Just(cmd),
                prop::collection::vec((octets(name_ex, 1..8), octets(value_ex, 0..12)), 0..6),
                prop::collection::vec(any::<u8>(), 0..40),
                any::<bool>(),
            )
        })
        .prop_map(|(cmd, headers, body, with_len)| {
            let mut f = Frame::new(cmd);
            for (n, v) in headers {
                if n != b"content-length" {
                    f.headers.push(n, v);
                }
            }
            f.body = Bytes::from(body);
            if with_len || f.body.contains(&0) {
                f.set_content_length();
            }
            f
        })
}

fn codec(version: Option<Version>, limits: Limits) -> StompCodec {
    let mut c = StompCodec::new(limits);
    if let Some(v) = version {
        c.set_version(v);
    }
    c
}

/// A stream of frames and heart-beats (LF or CR LF) with its encoding.
fn stream() -> impl Strategy<Value = (Option<Version>, Vec<Item>, Vec<u8>)> {
    version()
        .prop_flat_map(|v| {
            let item = prop_oneof![
                1 => prop_oneof![Just((Item::HeartBeat, false)), Just((Item::HeartBeat, true))],
                3 => frame(v).prop_map(|f| (Item::Frame(f), false)),
            ];
            (Just(v), prop::collection::vec(item, 1..6))
        })
        .prop_map(|(v, items)| {
            let c = codec(v, Limits::default());
            let mut out = BytesMut::new();
            let mut plain = Vec::new();
            for (item, crlf) in items {
                match &item {
                    Item::HeartBeat if crlf => out.extend_from_slice(b"\r\n"),
                    Item::HeartBeat => StompCodec::encode_heartbeat(&mut out),
                    Item::Frame(f) => c.encode(f, &mut out),
                }
                plain.push(item);
            }
            (v, plain, out.to_vec())
        })
}

/// Decodes everything available; panics on error.
fn drain(c: &mut StompCodec, buf: &mut BytesMut, out: &mut Vec<Item>) {
    while let Some(item) = c.decode(buf).expect("valid stream") {
        out.push(item);
    }
}

proptest! {
    #[test]
    fn encode_decode_round_trip((v, f) in version().prop_flat_map(|v| (Just(v), frame(v)))) {
        let mut c = codec(v, Limits::default());
        let mut buf = BytesMut::new();
        c.encode(&f, &mut buf);
        let item = c.decode(&mut buf).expect("decodes");
        prop_assert_eq!(item, Some(Item::Frame(f)));
        prop_assert!(buf.is_empty());
    }

    #[test]
    fn split_at_every_offset_decodes_the_same((v, items, bytes) in stream()) {
        let mut whole = Vec::new();
        drain(&mut codec(v, Limits::default()), &mut BytesMut::from(&bytes[..]), &mut whole);
        prop_assert_eq!(&whole, &items);

        for split in 0..=bytes.len() {
            let mut c = codec(v, Limits::default());
            let mut buf = BytesMut::from(&bytes[..split]);
            let mut got = Vec::new();
            drain(&mut c, &mut buf, &mut got);
            buf.extend_from_slice(&bytes[split..]);
            drain(&mut c, &mut buf, &mut got);
            prop_assert!(buf.is_empty());
            prop_assert_eq!(&got, &items, "split at {}", split);
        }

        let mut c = codec(v, Limits::default());
        let mut buf = BytesMut::new();
        let mut got = Vec::new();
        for b in &bytes {
            buf.extend_from_slice(&[*b]);
            drain(&mut c, &mut buf, &mut got);
        }
        prop_assert_eq!(&got, &items);
    }

    #[test]
    fn arbitrary_bytes_never_panic_nor_overbuffer(
        v in version(),
        prefix in prop::option::of(command()),
        tail in prop::collection::vec(octet(b""), 0..400),
        chunk in 1usize..40,
        tight in any::<bool>(),
    ) {
        // Usually start with a valid command line so the header and body paths are reached.
        let mut data = prefix.map(|c| format!("{c}\n").into_bytes()).unwrap_or_default();
        data.extend_from_slice(&tail);
        let limits = if tight {
            Limits { max_frame_size: 64, max_header_count: 4, max_header_line: 12, max_body: 24 }
        } else {
            Limits::default()
        };
        let mut c = codec(v, limits);
        let mut buf = BytesMut::new();
        'feed: for piece in data.chunks(chunk) {
            buf.extend_from_slice(piece);
            loop {
                match c.decode(&mut buf) {
                    Ok(Some(Item::Frame(f))) => {
                        // Whatever decodes re-encodes to something that decodes the same.
                        let mut again = BytesMut::new();
                        c.encode(&f, &mut again);
                        let mut fresh = codec(v, Limits::default());
                        prop_assert_eq!(fresh.decode(&mut again).unwrap(), Some(Item::Frame(f)));
                    }
                    Ok(Some(Item::HeartBeat)) => {}
                    Ok(None) => {
                        // Fail-fast: waiting never means holding more than one frame's worth.
                        prop_assert!(buf.len() < limits.max_frame_size);
                        break;
                    }
                    Err(_) => break 'feed,
                }
            }
        }
    }

    #[test]
    fn arbitrary_frames_with_escapable_bytes_survive_any_version(
        v in version(),
        data in prop::collection::vec(any::<u8>(), 0..200),
    ) {
        // Random bytes after a valid command line reach the header and body paths.
        let mut input = b"MESSAGE\n".to_vec();
        input.extend_from_slice(&data);
        let mut c = codec(v, Limits::default());
        let mut buf = BytesMut::from(&input[..]);
        while let Ok(Some(_)) = c.decode(&mut buf) {}
    }
}
