//! Per-version header escaping (STOMP 1.1/1.2 §Value Encoding).

use bytes::{BufMut, Bytes, BytesMut};

use crate::command::Command;
use crate::error::CodecError;
use crate::version::Version;

/// Which escaping rules apply to one frame's headers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Escaping {
    /// STOMP 1.0, and CONNECT/STOMP/CONNECTED in every version: bytes are taken raw.
    Raw,
    /// STOMP 1.1: `\n`, `\c`, `\\`.
    V1_1,
    /// STOMP 1.2: 1.1 plus `\r`.
    V1_2,
}

impl Escaping {
    /// The rules for `command` under the negotiated `version`. Before negotiation
    /// (`None`) the 1.2 rules apply, except to the handshake frames, which are never
    /// escaped so that 1.0 peers can read them.
    pub(crate) fn for_frame(version: Option<Version>, command: Command) -> Self {
        if command.is_handshake() {
            return Self::Raw;
        }
        match version {
            Some(Version::V1_0) => Self::Raw,
            Some(Version::V1_1) => Self::V1_1,
            Some(Version::V1_2) | None => Self::V1_2,
        }
    }
}

/// Unescapes one header name or value. `offset` is the position of `raw` within the frame,
/// for error reporting. Returns `raw` itself (no copy) when there is nothing to unescape.
pub(crate) fn unescape(raw: Bytes, esc: Escaping, offset: usize) -> Result<Bytes, CodecError> {
    if esc == Escaping::Raw || !raw.contains(&b'\\') {
        return Ok(raw);
    }
    let mut out = Vec::with_capacity(raw.len());
    let mut i = 0;
    while i < raw.len() {
        let b = raw[i];
        if b != b'\\' {
            out.push(b);
            i += 1;
            continue;
        }
        let decoded = match raw.get(i + 1) {
            Some(b'n') => b'\n',
            Some(b'c') => b':',
            Some(b'\\') => b'\\',
            Some(b'r') if esc == Escaping::V1_2 => b'\r',
            // Undefined escapes, and a trailing lone backslash, are fatal per spec.
            _ => return Err(CodecError::InvalidEscape { offset: offset + i }),
        };
        out.push(decoded);
        i += 2;
    }
    Ok(Bytes::from(out))
}

/// Writes one header name or value with the given escaping.
///
/// In `Raw` mode an LF cannot be represented; it is written as a space because writing it
/// raw would let a header value (say, forwarded from a 1.2 producer to a 1.0 consumer)
/// inject header lines or whole frames. In `V1_1` mode a CR cannot be escaped and is written
/// raw, which 1.1's LF-only line endings allow.
pub(crate) fn write_escaped(dst: &mut BytesMut, s: &[u8], esc: Escaping) {
    // Fast path: nothing to escape (the common case for ids and destinations).
    let special = |b: &u8| match esc {
        Escaping::Raw => *b == b'\n',
        Escaping::V1_1 => matches!(*b, b'\n' | b':' | b'\\'),
        Escaping::V1_2 => matches!(*b, b'\n' | b':' | b'\\' | b'\r'),
    };
    if !s.iter().any(special) {
        dst.put_slice(s);
        return;
    }
    // Copy the runs between special bytes whole: message ids (`ID:host-1:42`) always
    // contain a `:`, so every MESSAGE takes this path.
    dst.reserve(s.len() + 8);
    let mut run = 0;
    for (i, &b) in s.iter().enumerate() {
        let replacement: &[u8] = match (esc, b) {
            (Escaping::Raw, b'\n') => b" ",
            (Escaping::Raw, _) => continue,
            (_, b'\n') => b"\\n",
            (_, b':') => b"\\c",
            (_, b'\\') => b"\\\\",
            (Escaping::V1_2, b'\r') => b"\\r",
            (_, _) => continue,
        };
        dst.put_slice(&s[run..i]);
        dst.put_slice(replacement);
        run = i + 1;
    }
    dst.put_slice(&s[run..]);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn un(s: &'static [u8], esc: Escaping) -> Result<Bytes, CodecError> {
        unescape(Bytes::from_static(s), esc, 0)
    }

    fn esc(s: &[u8], esc: Escaping) -> Vec<u8> {
        let mut b = BytesMut::new();
        write_escaped(&mut b, s, esc);
        b.to_vec()
    }

    #[test]
    fn rules_per_version_and_command() {
        use Command::*;
        for v in [
            None,
            Some(Version::V1_0),
            Some(Version::V1_1),
            Some(Version::V1_2),
        ] {
            for c in [Connect, Stomp, Connected] {
                assert_eq!(Escaping::for_frame(v, c), Escaping::Raw);
            }
        }
        assert_eq!(Escaping::for_frame(None, Send), Escaping::V1_2);
        assert_eq!(
            Escaping::for_frame(Some(Version::V1_0), Send),
            Escaping::Raw
        );
        assert_eq!(
            Escaping::for_frame(Some(Version::V1_1), Message),
            Escaping::V1_1
        );
    }

    #[test]
    fn unescape_1_1_and_1_2() {
        assert_eq!(
            &un(br"a\nb\cc\\d", Escaping::V1_1).unwrap()[..],
            b"a\nb:c\\d"
        );
        assert!(matches!(
            un(br"a\rb", Escaping::V1_1),
            Err(CodecError::InvalidEscape { offset: 1 })
        ));
        assert_eq!(&un(br"a\rb", Escaping::V1_2).unwrap()[..], b"a\rb");
        assert!(un(br"\t", Escaping::V1_2).is_err());
        assert!(un(b"trailing\\", Escaping::V1_2).is_err());
        assert_eq!(&un(br"\t\x", Escaping::Raw).unwrap()[..], br"\t\x");
    }

    #[test]
    fn escape_per_version() {
        let s = b"a\nb:c\\d\re";
        assert_eq!(esc(s, Escaping::V1_2), br"a\nb\cc\\d\re".to_vec());
        assert_eq!(esc(s, Escaping::V1_1), b"a\\nb\\cc\\\\d\re".to_vec());
        assert_eq!(esc(s, Escaping::Raw), b"a b:c\\d\re".to_vec());
        assert_eq!(esc(b"plain", Escaping::V1_2), b"plain".to_vec());
    }
}
