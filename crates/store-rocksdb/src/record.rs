//! Value encodings: hand-written, versioned, and decoded without trusting a single byte.
//!
//! # Message record, format version 1 ([`crate::cf::CF_MESSAGES`])
//!
//! The queue, priority and seq are in the key ([`crate::keys`]), so the value holds the rest:
//!
//! ```text
//! version: u8 = 1
//! redeliveries: varint (≤ u32::MAX)
//! expires: varint
//! timestamp: varint
//! message_id: varint length ‖ UTF-8 bytes
//! header count: varint, then per header: varint length ‖ name, varint length ‖ value
//! body: every remaining byte
//! ```
//!
//! Varints are LEB128 ([`crate::varint`]), shortest form only. Keeping `redeliveries` first
//! lets [`set_redeliveries`] rewrite it without decoding the rest. A body needs no length
//! because it is last. Decoding returns [`StoreError::Corrupt`] for any malformed input and
//! never panics or allocates more than the input's size; the decoded `Bytes` fields share
//! the value's buffer instead of copying it.
//!
//! # Destination record, format version 1 ([`crate::cf::CF_DESTINATIONS`])
//!
//! The name is the key; the value is the version byte alone. Fields added later go after it.

use std::ops::Range;

use broker_store::{DestinationRecord, MessageRecord, StoreError};
use bytes::Bytes;

use crate::varint;

/// Version byte of message records written now.
const MESSAGE_VERSION: u8 = 1;
/// Version byte of destination records written now.
/// Version 1: no attributes (nothing after the version byte). Version 2: a varint count,
/// then per attribute a length-prefixed name and value. Version 1 records still decode.
const DESTINATION_VERSION: u8 = 2;
const DESTINATION_VERSION_1: u8 = 1;

/// Encodes everything of `message` except its key fields (queue, priority, seq).
pub(crate) fn encode_message(message: &MessageRecord) -> Vec<u8> {
    let headers_len: usize = message
        .headers
        .iter()
        .map(|(name, value)| 2 * varint::MAX_LEN + name.len() + value.len())
        .sum();
    let mut out = Vec::with_capacity(
        1 + 5 * varint::MAX_LEN + message.message_id.len() + headers_len + message.body.len(),
    );
    out.push(MESSAGE_VERSION);
    varint::put(&mut out, u64::from(message.redeliveries));
    varint::put(&mut out, message.expires);
    varint::put(&mut out, message.timestamp);
    put_bytes(&mut out, message.message_id.as_bytes());
    varint::put(&mut out, message.headers.len() as u64);
    for (name, value) in &message.headers {
        put_bytes(&mut out, name);
        put_bytes(&mut out, value);
    }
    out.extend_from_slice(&message.body);
    out
}

fn put_bytes(out: &mut Vec<u8>, bytes: &[u8]) {
    varint::put(out, bytes.len() as u64);
    out.extend_from_slice(bytes);
}

/// Rebuilds a message from its key fields and its encoded `value`.
pub(crate) fn decode_message(
    queue: String,
    priority: u8,
    seq: u64,
    value: Bytes,
) -> Result<MessageRecord, StoreError> {
    let mut r = Reader::new(&value, "message record");
    r.version(MESSAGE_VERSION)?;
    let redeliveries = r.redeliveries()?;
    let expires = r.varint("expires")?;
    let timestamp = r.varint("timestamp")?;
    let id = r.length_prefixed("message id")?;
    let message_id = std::str::from_utf8(&value[id])
        .map_err(|e| r.corrupt(format!("message id is not UTF-8: {e}")))?
        .to_owned();
    let count = r.varint("header count")?;
    // Each header takes at least two bytes, so a larger count is corrupt; checking before
    // allocating keeps a bad count from reserving more memory than the record's size.
    if count > (r.remaining() / 2) as u64 {
        return Err(r.corrupt(format!(
            "header count {count} exceeds what {} bytes can hold",
            r.remaining()
        )));
    }
    let mut headers = Vec::with_capacity(count as usize);
    for _ in 0..count {
        let name = r.length_prefixed("header name")?;
        let val = r.length_prefixed("header value")?;
        headers.push((value.slice(name), value.slice(val)));
    }
    let body = value.slice(r.rest());
    Ok(MessageRecord {
        queue,
        seq,
        priority,
        redeliveries,
        message_id,
        expires,
        timestamp,
        headers,
        body,
    })
}

/// `value` with its redelivery count replaced; the rest is copied undecoded.
pub(crate) fn set_redeliveries(value: &[u8], redeliveries: u32) -> Result<Vec<u8>, StoreError> {
    let mut r = Reader::new(value, "message record");
    r.version(MESSAGE_VERSION)?;
    r.redeliveries()?;
    let rest = &value[r.rest()];
    let mut out = Vec::with_capacity(1 + varint::MAX_LEN + rest.len());
    out.push(MESSAGE_VERSION);
    varint::put(&mut out, u64::from(redeliveries));
    out.extend_from_slice(rest);
    Ok(out)
}

/// Encodes a destination's value (its name is the key).
pub(crate) fn encode_destination(destination: &DestinationRecord) -> Vec<u8> {
    if destination.attributes.is_empty() {
        // What older builds read too.
        return vec![DESTINATION_VERSION_1];
    }
    let mut out = vec![DESTINATION_VERSION];
    varint::put(&mut out, destination.attributes.len() as u64);
    for (k, v) in &destination.attributes {
        for s in [k, v] {
            varint::put(&mut out, s.len() as u64);
            out.extend_from_slice(s.as_bytes());
        }
    }
    out
}

/// Rebuilds a destination from its name (decoded from the key) and its value.
pub(crate) fn decode_destination(
    name: String,
    value: &[u8],
) -> Result<DestinationRecord, StoreError> {
    let mut r = Reader::new(value, "destination record");
    let mut attributes = Vec::new();
    if value.first() == Some(&DESTINATION_VERSION_1) {
        r.version(DESTINATION_VERSION_1)?;
    } else {
        r.version(DESTINATION_VERSION)?;
        let n = r.varint("attribute count")?;
        for _ in 0..n {
            let k = r.length_prefixed("attribute name")?;
            let v = r.length_prefixed("attribute value")?;
            let text = |range: Range<usize>| {
                String::from_utf8(value[range].to_vec())
                    .map_err(|_| r.corrupt("attribute is not UTF-8".to_owned()))
            };
            attributes.push((text(k)?, text(v)?));
        }
    }
    if r.remaining() != 0 {
        return Err(r.corrupt(format!("{} unexpected trailing bytes", r.remaining())));
    }
    Ok(DestinationRecord { name, attributes })
}

/// Encodes a queue's message count ([`crate::cf::CF_QUEUE_LENS`]).
pub(crate) fn encode_queue_len(len: u64) -> [u8; 8] {
    len.to_be_bytes()
}

/// Decodes a queue's message count.
pub(crate) fn decode_queue_len(value: &[u8]) -> Result<u64, StoreError> {
    decode_u64(value, "queue length")
}

/// Encodes the seq high-water mark ([`crate::keys::META_MAX_SEQ`]): u64 BE.
pub(crate) fn encode_max_seq(seq: u64) -> [u8; 8] {
    seq.to_be_bytes()
}

/// Decodes the seq high-water mark.
pub(crate) fn decode_max_seq(value: &[u8]) -> Result<u64, StoreError> {
    decode_u64(value, "max seq")
}

fn decode_u64(value: &[u8], what: &'static str) -> Result<u64, StoreError> {
    let bytes: [u8; 8] = value.try_into().map_err(|_| StoreError::Corrupt {
        what,
        detail: format!("expected 8 bytes, found {}", value.len()),
    })?;
    Ok(u64::from_be_bytes(bytes))
}

/// A cursor over an encoded value that reports every problem as [`StoreError::Corrupt`].
struct Reader<'a> {
    input: &'a [u8],
    pos: usize,
    what: &'static str,
}

impl<'a> Reader<'a> {
    fn new(input: &'a [u8], what: &'static str) -> Self {
        Self {
            input,
            pos: 0,
            what,
        }
    }

    fn corrupt(&self, detail: String) -> StoreError {
        StoreError::Corrupt {
            what: self.what,
            detail: format!("{detail} (at byte {} of {})", self.pos, self.input.len()),
        }
    }

    fn remaining(&self) -> usize {
        self.input.len() - self.pos
    }

    fn version(&mut self, expected: u8) -> Result<(), StoreError> {
        match self.input.get(self.pos) {
            Some(&v) if v == expected => {
                self.pos += 1;
                Ok(())
            }
            Some(&v) => Err(self.corrupt(format!(
                "unsupported format version {v} (this build reads {expected})"
            ))),
            None => Err(self.corrupt("empty value".to_owned())),
        }
    }

    fn varint(&mut self, field: &str) -> Result<u64, StoreError> {
        let (value, used) = varint::get(&self.input[self.pos..])
            .ok_or_else(|| self.corrupt(format!("truncated or invalid varint in {field}")))?;
        self.pos += used;
        Ok(value)
    }

    fn redeliveries(&mut self) -> Result<u32, StoreError> {
        let n = self.varint("redeliveries")?;
        u32::try_from(n).map_err(|_| self.corrupt(format!("redeliveries {n} exceeds u32")))
    }

    /// A varint length and that many bytes, returned as their range in the input.
    fn length_prefixed(&mut self, field: &str) -> Result<Range<usize>, StoreError> {
        let len = self.varint(field)?;
        let remaining = self.remaining();
        let len = usize::try_from(len)
            .ok()
            .filter(|&len| len <= remaining)
            .ok_or_else(|| {
                self.corrupt(format!(
                    "{field} of {len} bytes but only {remaining} remain"
                ))
            })?;
        let range = self.pos..self.pos + len;
        self.pos += len;
        Ok(range)
    }

    /// Everything not read yet.
    fn rest(&mut self) -> Range<usize> {
        let range = self.pos..self.input.len();
        self.pos = self.input.len();
        range
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn full() -> MessageRecord {
        MessageRecord {
            queue: "queue://q".to_owned(),
            seq: 77,
            priority: 4,
            redeliveries: u32::MAX,
            message_id: "ID:host-1:1:1:1 ü".to_owned(),
            expires: u64::MAX,
            timestamp: 1_733_000_000_123,
            headers: vec![
                (Bytes::from_static(b"dup"), Bytes::from_static(b"first")),
                (Bytes::from_static(b"empty"), Bytes::new()),
                (Bytes::new(), Bytes::from_static(b"nameless")),
                (Bytes::from_static(b"dup"), Bytes::from_static(b"second")),
                (
                    Bytes::from_static(b"bin\0"),
                    Bytes::from_static(b"\xff\x00"),
                ),
            ],
            body: Bytes::from((0..=255u8).cycle().take(1000).collect::<Vec<u8>>()),
        }
    }

    fn bare() -> MessageRecord {
        MessageRecord {
            queue: String::new(),
            seq: 0,
            priority: 0,
            redeliveries: 0,
            message_id: String::new(),
            expires: 0,
            timestamp: 0,
            headers: Vec::new(),
            body: Bytes::new(),
        }
    }

    fn decode(m: &MessageRecord, value: Vec<u8>) -> Result<MessageRecord, StoreError> {
        decode_message(m.queue.clone(), m.priority, m.seq, Bytes::from(value))
    }

    #[test]
    fn messages_round_trip() {
        for m in [full(), bare()] {
            assert_eq!(decode(&m, encode_message(&m)).expect("decodes"), m);
        }
    }

    #[test]
    fn bare_message_is_small() {
        // Version, four one-byte varints (redeliveries, expires, timestamp, id length) and a
        // zero header count.
        assert_eq!(encode_message(&bare()), [1, 0, 0, 0, 0, 0]);
    }

    #[test]
    fn every_truncation_is_corrupt_or_a_shorter_body() {
        let m = full();
        let value = encode_message(&m);
        let body_start = value.len() - m.body.len();
        for cut in 0..value.len() {
            let result = decode(&m, value[..cut].to_vec());
            if cut < body_start {
                assert!(
                    matches!(result, Err(StoreError::Corrupt { .. })),
                    "truncated at {cut}: {result:?}"
                );
            } else {
                // The body has no length: a cut inside it is indistinguishable from a short
                // body. RocksDB's block checksums catch torn data; this format does not.
                assert_eq!(result.expect("decodes").body.len(), cut - body_start);
            }
        }
    }

    #[test]
    fn malformed_values_are_corrupt() {
        let m = bare();
        let cases: &[(&str, Vec<u8>)] = &[
            ("empty", vec![]),
            ("unknown version", vec![2, 0, 0, 0, 0, 0]),
            ("redeliveries above u32", {
                let mut v = vec![1];
                varint::put(&mut v, u64::from(u32::MAX) + 1);
                v.extend_from_slice(&[0, 0, 0, 0]);
                v
            }),
            ("id longer than the value", vec![1, 0, 0, 0, 5, b'a']),
            ("id not UTF-8", vec![1, 0, 0, 0, 1, 0xff, 0]),
            ("huge header count", {
                let mut v = vec![1, 0, 0, 0, 0];
                varint::put(&mut v, u64::MAX);
                v
            }),
            ("header count beyond the data", vec![1, 0, 0, 0, 0, 2, 0, 0]),
            ("header value cut", vec![1, 0, 0, 0, 0, 1, 1, b'n', 3, b'v']),
            (
                "overlong varint",
                vec![
                    1, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0,
                ],
            ),
            ("padded varint", vec![1, 0x80, 0x00, 0, 0, 0, 0]),
        ];
        for (name, value) in cases {
            let result = decode(&m, value.clone());
            assert!(
                matches!(
                    result,
                    Err(StoreError::Corrupt {
                        what: "message record",
                        ..
                    })
                ),
                "{name}: {result:?}"
            );
        }
    }

    #[test]
    fn set_redeliveries_rewrites_only_the_count() {
        let m = MessageRecord {
            redeliveries: 3,
            ..full()
        };
        for n in [0, 1, 127, 128, u32::MAX] {
            let value = set_redeliveries(&encode_message(&m), n).expect("valid value");
            let expected = MessageRecord {
                redeliveries: n,
                ..m.clone()
            };
            assert_eq!(decode(&m, value).expect("decodes"), expected);
        }
        assert!(set_redeliveries(&[], 1).is_err());
        assert!(set_redeliveries(&[9, 0], 1).is_err());
        assert!(set_redeliveries(&[1, 0x80], 1).is_err());
    }

    #[test]
    fn destinations_round_trip() {
        let d = DestinationRecord {
            name: "queue://a".to_owned(),
            attributes: Vec::new(),
        };
        let value = encode_destination(&d);
        assert_eq!(value, [1], "no attributes: the version 1 form");
        assert_eq!(
            decode_destination(d.name.clone(), &value).expect("decodes"),
            d
        );
        let with = DestinationRecord {
            name: "queue://b".to_owned(),
            attributes: vec![
                ("topic".into(), "topic://x".into()),
                ("s".into(), "".into()),
            ],
        };
        let value = encode_destination(&with);
        assert_eq!(value[0], 2);
        assert_eq!(
            decode_destination(with.name.clone(), &value).expect("decodes"),
            with
        );
        assert!(decode_destination(d.name.clone(), &[]).is_err());
        assert!(decode_destination(d.name.clone(), &[2]).is_err());
        assert!(decode_destination(d.name.clone(), &[3]).is_err());
        assert!(decode_destination(d.name.clone(), &[2, 1, 5, b'a']).is_err());
        assert!(decode_destination(d.name, &[1, 0]).is_err());
    }

    #[test]
    fn queue_lens_round_trip() {
        for n in [0, 1, u64::MAX] {
            assert_eq!(decode_queue_len(&encode_queue_len(n)).expect("decodes"), n);
        }
        assert!(decode_queue_len(&[0; 7]).is_err());
        assert!(decode_queue_len(&[0; 9]).is_err());
    }

    fn bytes() -> impl Strategy<Value = Bytes> {
        proptest::collection::vec(any::<u8>(), 0..300).prop_map(Bytes::from)
    }

    fn record() -> impl Strategy<Value = MessageRecord> {
        (
            (any::<u32>(), any::<u64>(), any::<u64>(), ".{0,40}"),
            proptest::collection::vec((bytes(), bytes()), 0..8),
            bytes(),
        )
            .prop_map(
                |((redeliveries, expires, timestamp, message_id), headers, body)| MessageRecord {
                    queue: "q".to_owned(),
                    seq: 1,
                    priority: 5,
                    redeliveries,
                    message_id,
                    expires,
                    timestamp,
                    headers,
                    body,
                },
            )
    }

    proptest! {
        #[test]
        fn any_message_round_trips(m in record()) {
            prop_assert_eq!(decode(&m, encode_message(&m))?, m);
        }

        #[test]
        fn garbage_never_panics(value in proptest::collection::vec(any::<u8>(), 0..64)) {
            let _ = decode(&bare(), value.clone());
            let _ = set_redeliveries(&value, 7);
            let _ = decode_destination(String::new(), &value);
            let _ = decode_queue_len(&value);
        }

        #[test]
        fn a_flipped_byte_never_panics(m in record(), at: usize, bit in 0..8u8) {
            let mut value = encode_message(&m);
            if !value.is_empty() {
                let i = at % value.len();
                value[i] ^= 1 << bit;
            }
            let _ = decode(&m, value);
        }
    }
}
