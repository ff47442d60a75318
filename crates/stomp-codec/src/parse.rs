//! Small nom parsers for the byte-level pieces of a frame.
//!
//! The frame-level state machine lives in `decode.rs`: nom's streaming parsers answer
//! `Incomplete` for an unterminated line forever, so the limits are enforced there, around
//! these parsers, before the decoder ever waits for more input.

use nom::bytes::complete::take_till;
use nom::bytes::streaming::take_until;
use nom::character::complete::{char, digit1, space0};
use nom::combinator::all_consuming;
use nom::sequence::{delimited, separated_pair};
use nom::{IResult, Parser};

type NomError<'a> = nom::error::Error<&'a [u8]>;

/// Finds the next LF in `input`; `None` means "no complete line buffered yet".
/// Returns the index of the LF.
pub(crate) fn find_lf(input: &[u8]) -> Option<usize> {
    let r: IResult<&[u8], &[u8], NomError<'_>> = take_until(&b"\n"[..]).parse(input);
    r.ok().map(|(_, line)| line.len())
}

/// Index of the first NUL in `input`, if any.
pub(crate) fn find_nul(input: &[u8]) -> Option<usize> {
    let r: IResult<&[u8], &[u8], NomError<'_>> = take_until(&b"\0"[..]).parse(input);
    r.ok().map(|(_, body)| body.len())
}

/// Splits a header line on its FIRST colon: `name:value`. `None` if there is no colon.
/// Later colons belong to the value (lenient for 1.0 peers and raw colons in 1.1+).
pub(crate) fn split_header(line: &[u8]) -> Option<(&[u8], &[u8])> {
    let r: IResult<&[u8], &[u8], NomError<'_>> = take_till(|b| b == b':').parse(line);
    match r {
        Ok((rest, name)) if !rest.is_empty() => Some((name, &rest[1..])),
        _ => None,
    }
}

/// Parses a decimal `usize`, tolerating spaces around it (1.0 peers pad header values).
pub(crate) fn decimal_usize(value: &[u8]) -> Option<usize> {
    let r: IResult<&[u8], &[u8], NomError<'_>> =
        all_consuming(delimited(space0, digit1, space0)).parse(value);
    let (_, digits) = r.ok()?;
    digits.iter().try_fold(0usize, |acc, &d| {
        acc.checked_mul(10)?.checked_add(usize::from(d - b'0'))
    })
}

/// Parses a `heart-beat` value `cx,cy`, tolerating spaces around each number.
pub(crate) fn heart_beat(value: &[u8]) -> Option<(u32, u32)> {
    let num = |i| delimited(space0, digit1, space0).parse(i);
    let r: IResult<&[u8], (&[u8], &[u8]), NomError<'_>> =
        all_consuming(separated_pair(num, char(','), num)).parse(value);
    let (_, (x, y)) = r.ok()?;
    Some((decimal_u32(x)?, decimal_u32(y)?))
}

fn decimal_u32(digits: &[u8]) -> Option<u32> {
    digits.iter().try_fold(0u32, |acc, &d| {
        acc.checked_mul(10)?.checked_add(u32::from(d - b'0'))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_and_nuls() {
        assert_eq!(find_lf(b"abc\ndef"), Some(3));
        assert_eq!(find_lf(b"abc"), None);
        assert_eq!(find_lf(b""), None);
        assert_eq!(find_nul(b"ab\0"), Some(2));
        assert_eq!(find_nul(b"ab"), None);
    }

    #[test]
    fn header_split_on_first_colon() {
        assert_eq!(split_header(b"a:b:c"), Some((&b"a"[..], &b"b:c"[..])));
        assert_eq!(split_header(b"a:"), Some((&b"a"[..], &b""[..])));
        assert_eq!(split_header(b":v"), Some((&b""[..], &b"v"[..])));
        assert_eq!(split_header(b"novalue"), None);
    }

    #[test]
    fn numbers() {
        assert_eq!(decimal_usize(b"170"), Some(170));
        assert_eq!(decimal_usize(b" 5 "), Some(5));
        assert_eq!(decimal_usize(b""), None);
        assert_eq!(decimal_usize(b"-1"), None);
        assert_eq!(decimal_usize(b"+1"), None);
        assert_eq!(decimal_usize(b"1x"), None);
        assert_eq!(decimal_usize(b"99999999999999999999999999"), None);
        assert_eq!(heart_beat(b"0,0"), Some((0, 0)));
        assert_eq!(heart_beat(b"1000, 2000"), Some((1000, 2000)));
        assert_eq!(heart_beat(b"1000"), None);
        assert_eq!(heart_beat(b"1,2,3"), None);
        assert_eq!(heart_beat(b"4294967296,0"), None);
    }
}
