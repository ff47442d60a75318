//! STOMP protocol versions.

use std::fmt;

/// A STOMP protocol version. Ordered, so `max` picks the newest.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Version {
    /// STOMP 1.0: no header escaping, LF line endings.
    V1_0,
    /// STOMP 1.1: escapes `\n`, `\c`, `\\` in headers; adds `NACK`, heart-beats.
    V1_1,
    /// STOMP 1.2: adds `\r` escaping, CR LF line endings and the `ack` header.
    V1_2,
}

impl Version {
    /// All versions, oldest first.
    pub const ALL: [Self; 3] = [Self::V1_0, Self::V1_1, Self::V1_2];

    /// The version as written in `accept-version` / `version` headers (`"1.0"`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::V1_0 => "1.0",
            Self::V1_1 => "1.1",
            Self::V1_2 => "1.2",
        }
    }

    /// Parses `"1.0"`, `"1.1"` or `"1.2"` (no surrounding whitespace).
    pub fn from_bytes(s: &[u8]) -> Option<Self> {
        match s {
            b"1.0" => Some(Self::V1_0),
            b"1.1" => Some(Self::V1_1),
            b"1.2" => Some(Self::V1_2),
            _ => None,
        }
    }

    /// The highest version named in an `accept-version` value (a comma separated list) that
    /// is also in `supported`. Unknown entries such as `2.1` are ignored; spaces around
    /// entries are tolerated. The caller treats a *missing* `accept-version` as 1.0
    /// (STOMP 1.1 §Protocol Negotiation); an empty value yields `None`.
    pub fn negotiate(accept_version: &str, supported: &[Self]) -> Option<Self> {
        accept_version
            .split(',')
            .filter_map(|v| Self::from_bytes(v.trim().as_bytes()))
            .filter(|v| supported.contains(v))
            .max()
    }
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn negotiate_picks_highest_common() {
        assert_eq!(
            Version::negotiate("1.0,1.1,2.0", &Version::ALL),
            Some(Version::V1_1)
        );
        assert_eq!(
            Version::negotiate("1.1, 1.2", &Version::ALL),
            Some(Version::V1_2)
        );
        assert_eq!(
            Version::negotiate("1.2", &[Version::V1_0, Version::V1_1]),
            None
        );
        assert_eq!(Version::negotiate("", &Version::ALL), None);
        assert!(Version::V1_0 < Version::V1_2);
        assert_eq!(Version::V1_1.to_string(), "1.1");
    }
}
