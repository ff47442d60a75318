//! Every key the store writes or seeks to is built here, and decoded here.
//!
//! # Message keys ([`crate::cf::CF_MESSAGES`])
//!
//! ```text
//! varint(len(queue)) ‖ queue bytes ‖ (255 - priority): u8 ‖ seq: u64 BE
//! \___________ queue prefix ______/   \_________ 9-byte position ___________/
//! ```
//!
//! - **Prefix-free queue part.** Queue names may contain any byte (NUL included) and may be
//!   prefixes of one another (`a`, `ab`). A length-prefixed name is prefix-free: the LEB128
//!   varint is itself a prefix code, so two queue prefixes can only share their first bytes up
//!   to the end of the shorter one if the names are equal. So every key of a queue lies in
//!   `[queue_start, queue_end)` and no other queue's key does. The varint (rather than a fixed
//!   u16/u32) keeps the common short name to one length byte, and makes every encoder here
//!   infallible whatever the name's length. A compact numeric queue id would make keys shorter
//!   still, but needs a name→id table, its allocation and cleanup under the writer lock, and an
//!   extra lookup on every read; RocksDB's delta encoding of keys within a block already
//!   removes most of the repeated name from disk, so the name stays in the key.
//! - **Dispatch order is key order.** Within one queue, bytewise order of the position is
//!   priority descending (the byte is `255 - priority`), then seq ascending (big-endian), which
//!   is exactly [`broker_store::Store::load_queue`]'s order, so a page is one forward scan.
//!   `255 - priority` rather than `9 - priority` encodes every `u8` without a special case:
//!   a delete or `after` naming a priority above 9 simply addresses a key that cannot exist.
//! - The order *between* queues is that of their prefixes (by name length first); nothing
//!   depends on it.
//!
//! # Other keys
//!
//! Destination and queue-length keys are the plain name bytes: each lives in its own column
//! family and is only ever read by exact key or, for destinations, in full, where bytewise
//! order is the name order `destinations()` promises.

use broker_store::StoreError;

use crate::varint;

/// Bytes after the queue prefix: the priority byte and the big-endian seq.
pub(crate) const POSITION_LEN: usize = 1 + 8;

/// Key of the store's on-disk format version in [`crate::cf::CF_META`].
pub(crate) const META_FORMAT_VERSION: &[u8] = b"format_version";
/// Key of the seq high-water mark in [`crate::cf::CF_META`]: the highest seq ever put.
pub(crate) const META_MAX_SEQ: &[u8] = b"max_seq";

/// The prefix every message key of `queue` starts with, and only those.
pub(crate) fn queue_prefix(queue: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(varint::MAX_LEN + queue.len() + POSITION_LEN + 1);
    varint::put(&mut out, queue.len() as u64);
    out.extend_from_slice(queue.as_bytes());
    out
}

/// Key of the message `(queue, priority, seq)`.
pub(crate) fn message_key(queue: &str, priority: u8, seq: u64) -> Vec<u8> {
    let mut out = queue_prefix(queue);
    push_position(&mut out, priority, seq);
    out
}

fn push_position(out: &mut Vec<u8>, priority: u8, seq: u64) {
    out.push(u8::MAX - priority);
    out.extend_from_slice(&seq.to_be_bytes());
}

/// Inclusive lower bound of `queue`'s messages: its prefix, below all its keys.
pub(crate) fn queue_start(queue: &str) -> Vec<u8> {
    queue_prefix(queue)
}

/// Exclusive upper bound of `queue`'s messages. The greatest key of a queue is the position
/// `0xFF × 9` (priority 0, seq `u64::MAX`); the key right after it appends a zero byte.
pub(crate) fn queue_end(queue: &str) -> Vec<u8> {
    let mut out = message_key(queue, 0, u64::MAX);
    out.push(0);
    out
}

/// Inclusive lower bound of the messages strictly after position `(priority, seq)` in
/// `queue`: the key's immediate bytewise successor, `key ‖ 0x00`. The position need not be
/// stored, nor its priority valid.
pub(crate) fn after_position(queue: &str, priority: u8, seq: u64) -> Vec<u8> {
    let mut out = message_key(queue, priority, seq);
    out.push(0);
    out
}

/// The band of message key `key`: its queue prefix and priority byte, shared by the keys of
/// every message of that queue and priority, which are in seq order. `key` must be one
/// [`decode_message_key`] accepted.
pub(crate) fn band(key: &[u8]) -> &[u8] {
    &key[..key.len().saturating_sub(8)]
}

/// The greatest key a message in the band of message key `key` can have: `key` with its seq
/// set to `u64::MAX`. `key` must be one [`decode_message_key`] accepted.
pub(crate) fn band_last(key: &[u8]) -> Vec<u8> {
    let mut out = band(key).to_vec();
    out.extend_from_slice(&u64::MAX.to_be_bytes());
    out
}

/// A message key taken apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct MessageKey<'a> {
    /// The queue name's bytes (not checked for UTF-8 here).
    pub(crate) queue: &'a [u8],
    pub(crate) priority: u8,
    pub(crate) seq: u64,
}

/// Decodes a key built by [`message_key`]; anything else is [`StoreError::Corrupt`].
pub(crate) fn decode_message_key(key: &[u8]) -> Result<MessageKey<'_>, StoreError> {
    let corrupt = |detail: &str| StoreError::Corrupt {
        what: "message key",
        detail: format!("{detail} (key {key:02x?})"),
    };
    let (name_len, used) = varint::get(key).ok_or_else(|| corrupt("bad queue name length"))?;
    let rest = &key[used..];
    let name_len = usize::try_from(name_len)
        .ok()
        .filter(|&n| rest.len().checked_sub(n) == Some(POSITION_LEN))
        .ok_or_else(|| corrupt("length does not match the key's size"))?;
    let (queue, position) = rest.split_at(name_len);
    let (&priority_byte, seq) = position
        .split_first()
        .ok_or_else(|| corrupt("missing priority"))?;
    let seq: [u8; 8] = seq.try_into().map_err(|_| corrupt("bad seq"))?;
    Ok(MessageKey {
        queue,
        priority: u8::MAX - priority_byte,
        seq: u64::from_be_bytes(seq),
    })
}

/// Key of a destination record in [`crate::cf::CF_DESTINATIONS`].
pub(crate) fn destination_key(name: &str) -> &[u8] {
    name.as_bytes()
}

/// The destination name a [`destination_key`] holds.
pub(crate) fn decode_destination_key(key: &[u8]) -> Result<String, StoreError> {
    String::from_utf8(key.to_vec()).map_err(|e| StoreError::Corrupt {
        what: "destination key",
        detail: e.to_string(),
    })
}

/// Key of a queue's message count in [`crate::cf::CF_QUEUE_LENS`].
pub(crate) fn queue_len_key(queue: &str) -> &[u8] {
    queue.as_bytes()
}

#[cfg(test)]
mod tests {
    use std::cmp::Reverse;

    use proptest::prelude::*;

    use super::*;

    /// The order message keys must have: queues apart (ordered by their prefix), then dispatch
    /// order within a queue.
    fn logical(queue: &str, priority: u8, seq: u64) -> (Vec<u8>, Reverse<u8>, u64) {
        (queue_prefix(queue), Reverse(priority), seq)
    }

    fn round_trip(queue: &str, priority: u8, seq: u64) {
        let key = message_key(queue, priority, seq);
        let decoded = decode_message_key(&key).expect("decodes");
        assert_eq!(
            decoded,
            MessageKey {
                queue: queue.as_bytes(),
                priority,
                seq
            }
        );
    }

    #[test]
    fn message_keys_round_trip_at_the_edges() {
        let long = "x".repeat(200);
        for queue in ["", "a", "a\0", "\u{10FFFF}", long.as_str()] {
            for priority in [0, 1, 9, 10, u8::MAX] {
                for seq in [0, 1, 255, 256, u64::MAX] {
                    round_trip(queue, priority, seq);
                }
            }
        }
    }

    #[test]
    fn bands_and_their_greatest_keys() {
        for (queue, priority, seq) in [("", 0, 0), ("ab", 9, 7), ("a\0", 10, u64::MAX)] {
            let key = message_key(queue, priority, seq);
            assert_eq!(band(&key), band(&message_key(queue, priority, 0)));
            assert_ne!(band(&key), band(&message_key(queue, priority ^ 1, seq)));
            let last = band_last(&key);
            assert_eq!(last, message_key(queue, priority, u64::MAX));
            assert!(last < message_key(queue, priority.wrapping_sub(1), 0) || priority == 0);
        }
    }

    #[test]
    fn layout_is_as_documented() {
        assert_eq!(
            message_key("ab", 9, 0x0102),
            [&[2, b'a', b'b', 246][..], &0x0102u64.to_be_bytes()].concat()
        );
        let name = "n".repeat(300);
        let key = message_key(&name, 0, 0);
        assert_eq!(&key[..2], &[0xAC, 0x02], "300 as a varint");
        assert_eq!(key.len(), 2 + 300 + POSITION_LEN);
    }

    #[test]
    fn prefixes_of_each_other_stay_apart() {
        let names = ["a", "ab", "a\0", "a\0b", "aa", "", "b"];
        for x in names {
            for y in names {
                if x == y {
                    continue;
                }
                assert!(
                    !queue_prefix(y).starts_with(&queue_prefix(x)),
                    "{x:?} is a prefix of {y:?}"
                );
                // No key of y falls in x's range.
                for (p, s) in [(0, 0), (9, 0), (0, u64::MAX), (255, 7)] {
                    let k = message_key(y, p, s);
                    assert!(
                        k < queue_start(x) || k >= queue_end(x),
                        "{y:?} key inside {x:?}'s range"
                    );
                }
            }
        }
    }

    #[test]
    fn bounds_enclose_exactly_the_queue() {
        for (p, s) in [
            (0, 0),
            (0, u64::MAX),
            (9, 0),
            (u8::MAX, 0),
            (u8::MAX, u64::MAX),
        ] {
            let k = message_key("q", p, s);
            assert!(queue_start("q") <= k && k < queue_end("q"));
            let after = after_position("q", p, s);
            assert!(after > k);
        }
        // after_position is the immediate successor: the next position sorts at or above it.
        assert!(after_position("q", 5, 7) <= message_key("q", 5, 8));
        assert!(after_position("q", 5, u64::MAX) <= message_key("q", 4, 0));
        assert_eq!(after_position("q", 0, u64::MAX), queue_end("q"));
    }

    #[test]
    fn malformed_keys_are_corrupt() {
        let good = message_key("queue", 3, 42);
        for cut in 0..good.len() {
            assert!(
                decode_message_key(&good[..cut]).is_err(),
                "truncated at {cut}"
            );
        }
        let mut long = good;
        long.push(0);
        assert!(decode_message_key(&long).is_err(), "trailing byte");
        assert!(decode_message_key(&[0xff; 12]).is_err(), "overlong varint");
        // A length that would overflow when added to anything.
        let mut huge = Vec::new();
        varint::put(&mut huge, u64::MAX);
        huge.extend_from_slice(&[0; POSITION_LEN]);
        assert!(decode_message_key(&huge).is_err(), "huge length");
    }

    #[test]
    fn destination_keys_order_like_names() {
        let mut names = vec![
            "queue://b",
            "topic://a",
            "queue://a.b",
            "queue://a",
            "é",
            "Z",
        ];
        let mut keys: Vec<&[u8]> = names.iter().map(|n| destination_key(n)).collect();
        keys.sort();
        names.sort();
        let decoded: Vec<String> = keys
            .iter()
            .map(|k| decode_destination_key(k).expect("utf-8"))
            .collect();
        assert_eq!(decoded, names);
        assert!(decode_destination_key(b"\xff").is_err());
    }

    fn queue_name() -> impl Strategy<Value = String> {
        // Small alphabets make shared prefixes, NULs and equal names common.
        prop_oneof![
            "[ab\\x00]{0,4}",
            "[a-z/:.\\x00é]{0,40}",
            proptest::collection::vec(any::<char>(), 0..200)
                .prop_map(|chars| chars.into_iter().collect()),
        ]
    }

    fn priority() -> impl Strategy<Value = u8> {
        prop_oneof![0..=9u8, any::<u8>()]
    }

    fn seq() -> impl Strategy<Value = u64> {
        prop_oneof![
            0..600u64,
            any::<u64>(),
            (0..64u32).prop_map(|shift| 1u64 << shift),
            Just(u64::MAX),
        ]
    }

    proptest! {
        #[test]
        fn key_round_trips(q in queue_name(), p in priority(), s in seq()) {
            round_trip(&q, p, s);
        }

        #[test]
        fn key_order_is_logical_order(
            (qa, pa, sa) in (queue_name(), priority(), seq()),
            (qb, pb, sb) in (queue_name(), priority(), seq()),
            same_queue: bool,
        ) {
            let qb = if same_queue { qa.clone() } else { qb };
            let ka = message_key(&qa, pa, sa);
            let kb = message_key(&qb, pb, sb);
            prop_assert_eq!(ka.cmp(&kb), logical(&qa, pa, sa).cmp(&logical(&qb, pb, sb)));
            if qa == qb {
                // Within a queue: priority 9..0, then seq ascending.
                prop_assert_eq!(ka.cmp(&kb), (Reverse(pa), sa).cmp(&(Reverse(pb), sb)));
                prop_assert!(queue_start(&qa) <= kb && kb < queue_end(&qa));
            } else {
                // Prefix-free, so another queue's key is never inside this queue's range.
                prop_assert!(!queue_prefix(&qb).starts_with(&queue_prefix(&qa)));
                prop_assert!(kb < queue_start(&qa) || kb >= queue_end(&qa));
            }
        }

        #[test]
        fn after_position_splits_a_queue_exactly(
            q in queue_name(),
            (p, s) in (priority(), seq()),
            (ap, as_) in (priority(), seq()),
        ) {
            let key = message_key(&q, p, s);
            let after = after_position(&q, ap, as_);
            let expected = (Reverse(p), s) > (Reverse(ap), as_);
            prop_assert_eq!(key >= after, expected);
            prop_assert_ne!(after, key);
        }

        #[test]
        fn decoding_garbage_never_panics(input: Vec<u8>) {
            if let Ok(k) = decode_message_key(&input) {
                // Whatever decodes re-encodes to the same bytes when the name is UTF-8.
                if let Ok(name) = std::str::from_utf8(k.queue) {
                    prop_assert_eq!(message_key(name, k.priority, k.seq), input);
                }
            }
        }
    }
}
