//! Fuzz target logic, kept in a library so it also runs on stable as a normal `#[test]`
//! over the committed corpus (`tests/corpus.rs`); the `fuzz_targets/` binaries are thin
//! `libfuzzer-sys` wrappers around these functions.

use bytes::BytesMut;
use stomp_codec::{Item, Limits, StompCodec, Version};

/// Every negotiated-version mode the codec has: before negotiation, then each version.
const VERSIONS: [Option<Version>; 4] = [
    None,
    Some(Version::V1_0),
    Some(Version::V1_1),
    Some(Version::V1_2),
];

/// Small limits so that short inputs reach every limit path.
const TIGHT: Limits = Limits {
    max_frame_size: 512,
    max_header_count: 8,
    max_header_line: 64,
    max_body: 256,
};

/// The `stomp_decode` target. For each version mode and for both the default and tight
/// limits, decodes `data` twice, as one buffer and fed one byte at a time, and checks:
///
/// - decoding never panics (the fuzzer's job);
/// - both feeds yield the same items, and both fail or neither does;
/// - while waiting for more bytes the decoder never holds a frame's worth past
///   `max_frame_size` (the fail-fast invariant);
/// - every decoded frame, re-encoded under the same version, decodes to an equal frame.
pub fn stomp_decode(data: &[u8]) {
    for version in VERSIONS {
        for limits in [Limits::default(), TIGHT] {
            let whole = decode_whole(version, limits, data);
            let bytewise = decode_bytewise(version, limits, data);
            assert_eq!(whole.items, bytewise.items, "{version:?} {limits:?}");
            assert_eq!(
                whole.failed, bytewise.failed,
                "{version:?} {limits:?}: whole={:?} bytewise={:?}",
                whole.error, bytewise.error
            );
            for item in &whole.items {
                if let Item::Frame(frame) = item {
                    check_round_trip(version, frame);
                }
            }
        }
    }
}

#[derive(Debug)]
struct Outcome {
    items: Vec<Item>,
    failed: bool,
    error: Option<String>,
}

fn codec(version: Option<Version>, limits: Limits) -> StompCodec {
    let mut codec = StompCodec::new(limits);
    if let Some(v) = version {
        codec.set_version(v);
    }
    codec
}

fn decode_whole(version: Option<Version>, limits: Limits, data: &[u8]) -> Outcome {
    let mut codec = codec(version, limits);
    let mut buf = BytesMut::from(data);
    let mut items = Vec::new();
    loop {
        match codec.decode(&mut buf) {
            Ok(Some(item)) => items.push(item),
            Ok(None) => {
                assert!(buf.len() < limits.max_frame_size, "over-buffered");
                return Outcome {
                    items,
                    failed: false,
                    error: None,
                };
            }
            Err(e) => {
                // Display must never be empty: it becomes an ERROR frame's message header.
                let msg = e.to_string();
                assert!(!msg.is_empty());
                return Outcome {
                    items,
                    failed: true,
                    error: Some(msg),
                };
            }
        }
    }
}

fn decode_bytewise(version: Option<Version>, limits: Limits, data: &[u8]) -> Outcome {
    let mut codec = codec(version, limits);
    let mut buf = BytesMut::new();
    let mut items = Vec::new();
    for &b in data {
        buf.extend_from_slice(&[b]);
        loop {
            match codec.decode(&mut buf) {
                Ok(Some(item)) => items.push(item),
                Ok(None) => {
                    assert!(buf.len() < limits.max_frame_size, "over-buffered");
                    break;
                }
                Err(e) => {
                    return Outcome {
                        items,
                        failed: true,
                        error: Some(e.to_string()),
                    };
                }
            }
        }
    }
    Outcome {
        items,
        failed: false,
        error: None,
    }
}

fn check_round_trip(version: Option<Version>, frame: &stomp_codec::Frame) {
    let encoder = codec(version, Limits::default());
    let mut buf = BytesMut::new();
    encoder.encode(frame, &mut buf);
    // Escaping can grow a frame past the limits it was decoded under; re-decode unbounded.
    let mut decoder = codec(
        version,
        Limits {
            max_frame_size: usize::MAX,
            max_header_count: usize::MAX,
            max_header_line: usize::MAX,
            max_body: usize::MAX,
        },
    );
    match decoder.decode(&mut buf) {
        Ok(Some(Item::Frame(again))) => assert_eq!(&again, frame, "{version:?}"),
        other => panic!("{version:?}: re-encoded frame did not decode: {other:?}"),
    }
    assert!(buf.is_empty(), "re-encoded frame left {} bytes", buf.len());
}
