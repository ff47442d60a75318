//! LEB128 unsigned varints, shared by [`crate::keys`] and [`crate::record`].
//!
//! A varint is a prefix code: no encoding is a prefix of another, which is what makes
//! `varint(len) ‖ bytes` a prefix-free encoding of byte strings.

/// Longest encoding of a `u64`: ceil(64 / 7) bytes.
pub(crate) const MAX_LEN: usize = 10;

/// Appends `value` to `out`, 7 bits per byte, least significant group first.
pub(crate) fn put(out: &mut Vec<u8>, mut value: u64) {
    while value >= 0x80 {
        out.push((value as u8 & 0x7f) | 0x80);
        value >>= 7;
    }
    out.push(value as u8);
}

/// Decodes one varint from the start of `input`: the value and the bytes it used, or `None`
/// when the input ends inside the varint, the value does not fit in a `u64`, or the encoding
/// is not the shortest one (so every value has exactly one accepted encoding).
pub(crate) fn get(input: &[u8]) -> Option<(u64, usize)> {
    let mut value: u64 = 0;
    for (i, &byte) in input.iter().take(MAX_LEN).enumerate() {
        let group = u64::from(byte & 0x7f);
        // The tenth byte may carry only the top bit of a u64.
        if i == MAX_LEN - 1 && group > 1 {
            return None;
        }
        value |= group << (7 * i);
        if byte & 0x80 == 0 {
            // A final zero group after a continuation byte adds nothing: not the shortest.
            if byte == 0 && i > 0 {
                return None;
            }
            return Some((value, i + 1));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_edge_values() {
        for value in [
            0,
            1,
            0x7f,
            0x80,
            0x3fff,
            0x4000,
            u64::from(u32::MAX),
            u64::MAX - 1,
            u64::MAX,
        ] {
            let mut out = Vec::new();
            put(&mut out, value);
            let bits = 64 - (value | 1).leading_zeros() as usize;
            assert_eq!(out.len(), bits.div_ceil(7), "length of {value}");
            assert_eq!(get(&out), Some((value, out.len())), "round trip {value}");
            // Trailing bytes are not consumed.
            out.push(0xAB);
            assert_eq!(get(&out), Some((value, out.len() - 1)));
        }
    }

    #[test]
    fn rejects_truncated_and_overflowing_input() {
        assert_eq!(get(&[]), None);
        assert_eq!(get(&[0x80]), None);
        assert_eq!(get(&[0xff; 9]), None);
        // Eleven bytes, or ten whose last carries more than one bit, overflow a u64.
        assert_eq!(get(&[0xff; 11]), None);
        let mut too_big = vec![0xff; 9];
        too_big.push(0x02);
        assert_eq!(get(&too_big), None);
        // Padded encodings of small values are refused.
        assert_eq!(get(&[0x80, 0x00]), None);
        assert_eq!(get(&[0x81, 0x80, 0x00]), None);
    }

    proptest::proptest! {
        #[test]
        fn round_trips_any_value(value: u64, tail: Vec<u8>) {
            let mut out = Vec::new();
            put(&mut out, value);
            let used = out.len();
            out.extend_from_slice(&tail);
            proptest::prop_assert_eq!(get(&out), Some((value, used)));
        }

        #[test]
        fn never_panics_on_garbage(input: Vec<u8>) {
            if let Some((_, used)) = get(&input) {
                proptest::prop_assert!(used >= 1 && used <= MAX_LEN.min(input.len()));
            }
        }
    }
}
