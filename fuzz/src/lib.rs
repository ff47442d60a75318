//! Fuzz target logic, kept in a library so it also runs on stable as a normal `#[test]`
//! over the committed corpus (`tests/corpus.rs`); the `fuzz_targets/` binaries are thin
//! `libfuzzer-sys` wrappers around these functions.

use std::borrow::Cow;

use bytes::BytesMut;
use jms_model::{Selector, SelectorSource, Value, MAX_SELECTOR_LEN};
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

/// The `selector` target. For any UTF-8 input, `Selector::parse` must not panic; then:
///
/// - an error's position lies within the text (0 ..= its length in characters) and its
///   message is not empty (it becomes a STOMP ERROR `message` header);
/// - a selector evaluates without panicking against sources with every kind of value (and
///   none), and `matches` agrees with `evaluate`;
/// - its canonical text (`Display`) parses, prints the same again, and evaluates the same.
pub fn selector(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let sel = match Selector::parse(text) {
        Ok(sel) => sel,
        Err(e) => {
            assert!(e.position <= text.chars().count(), "{text:?}: {e}");
            assert!(!e.message.is_empty());
            return;
        }
    };
    assert_eq!(sel.text(), text);
    let canonical = sel.to_string();
    // Parentheses and spaces make the canonical text longer; past the length limit it is
    // rightly refused.
    let again = (canonical.len() <= MAX_SELECTOR_LEN).then(|| {
        let again = Selector::parse(&canonical)
            .unwrap_or_else(|e| panic!("canonical {canonical:?} of {text:?} does not parse: {e}"));
        assert_eq!(again.to_string(), canonical, "{text:?}");
        again
    });
    for source in SOURCES {
        let truth = sel.evaluate(source);
        assert_eq!(sel.matches(source), truth == Some(true));
        if let Some(again) = &again {
            assert_eq!(again.evaluate(source), truth, "{text:?} vs {canonical:?}");
        }
    }
}

/// Fixed messages for the `selector` target: a typical one, one with awkward values, and one
/// without properties (every identifier NULL).
const SOURCES: [&dyn SelectorSource; 3] = [&Typical, &Awkward, &()];

/// Values of every type under the names the seed corpus uses.
struct Typical;

impl SelectorSource for Typical {
    fn value(&self, identifier: &str) -> Option<Value<'_>> {
        let borrowed = |s: &'static str| Some(Value::String(Cow::Borrowed(s)));
        match identifier {
            "JMSType" => borrowed("car"),
            "JMSDeliveryMode" => borrowed("PERSISTENT"),
            "JMSPriority" => Some(Value::Long(4)),
            "JMSTimestamp" => Some(Value::Long(1_700_000_000_000)),
            "JMSRedelivered" => Some(Value::Bool(false)),
            "JMSXGroupSeq" => Some(Value::Long(-1)),
            "color" => borrowed("blue"),
            "weight" => Some(Value::Long(3000)),
            "age" => Some(Value::Long(17)),
            "price" => Some(Value::Double(9.5)),
            "Country" => borrowed("UK"),
            "phone" => borrowed("12993"),
            "word" => borrowed("lose"),
            "underscored" => borrowed("_foo"),
            "NumberOfOrders" => borrowed("2"),
            "flag" => Some(Value::Bool(true)),
            "text" => borrowed("true"),
            // An owned value, as a source that formats or decodes on demand returns.
            "owned" => Some(Value::String(Cow::Owned("4.5".to_owned()))),
            _ => None,
        }
    }
}

/// Extremes: overflow, NaN, infinities, numeric-looking and empty strings, for any name.
struct Awkward;

impl SelectorSource for Awkward {
    fn value(&self, identifier: &str) -> Option<Value<'_>> {
        let pick = identifier
            .bytes()
            .fold(0usize, |h, b| h.wrapping_mul(31).wrapping_add(b.into()));
        Some(match pick % 9 {
            0 => Value::Long(i64::MIN),
            1 => Value::Long(i64::MAX),
            2 => Value::Long(0),
            3 => Value::Double(f64::NAN),
            4 => Value::Double(f64::NEG_INFINITY),
            5 => Value::String(Cow::Borrowed("-9223372036854775808")),
            6 => Value::String(Cow::Borrowed("")),
            7 => Value::Bool(true),
            _ => return None,
        })
    }
}
