//! Ordered frame headers with typed accessors for the well-known ones.

use bytes::Bytes;

use crate::error::CodecError;
use crate::parse;

/// Names of the headers defined by the STOMP specifications.
pub mod names {
    /// `accept-version` (CONNECT/STOMP).
    pub const ACCEPT_VERSION: &str = "accept-version";
    /// `ack` (SUBSCRIBE mode; MESSAGE ack id in 1.2).
    pub const ACK: &str = "ack";
    /// `content-length`.
    pub const CONTENT_LENGTH: &str = "content-length";
    /// `content-type`.
    pub const CONTENT_TYPE: &str = "content-type";
    /// `destination`.
    pub const DESTINATION: &str = "destination";
    /// `heart-beat`.
    pub const HEART_BEAT: &str = "heart-beat";
    /// `host` (CONNECT/STOMP).
    pub const HOST: &str = "host";
    /// `id` (SUBSCRIBE/UNSUBSCRIBE; ACK/NACK in 1.2).
    pub const ID: &str = "id";
    /// `login` (CONNECT/STOMP).
    pub const LOGIN: &str = "login";
    /// `message` (ERROR).
    pub const MESSAGE: &str = "message";
    /// `message-id` (MESSAGE; ACK/NACK in 1.0/1.1).
    pub const MESSAGE_ID: &str = "message-id";
    /// `passcode` (CONNECT/STOMP).
    pub const PASSCODE: &str = "passcode";
    /// `receipt`.
    pub const RECEIPT: &str = "receipt";
    /// `receipt-id` (RECEIPT, ERROR).
    pub const RECEIPT_ID: &str = "receipt-id";
    /// `server` (CONNECTED).
    pub const SERVER: &str = "server";
    /// `session` (CONNECTED).
    pub const SESSION: &str = "session";
    /// `subscription` (MESSAGE; ACK/NACK in 1.1).
    pub const SUBSCRIPTION: &str = "subscription";
    /// `transaction`.
    pub const TRANSACTION: &str = "transaction";
    /// `version` (CONNECTED).
    pub const VERSION: &str = "version";
}

/// The headers of a frame, in wire order, values already unescaped.
///
/// Repeated names are all kept (so unknown and repeated headers pass through untouched);
/// lookups return the first occurrence (STOMP 1.2 §Repeated Header Entries).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Headers {
    entries: Vec<(Bytes, Bytes)>,
}

impl Headers {
    /// No headers.
    pub fn new() -> Self {
        Self::default()
    }

    /// No headers, with room for `n`.
    pub fn with_capacity(n: usize) -> Self {
        Self {
            entries: Vec::with_capacity(n),
        }
    }

    /// Appends a header (after any existing header of the same name, which keeps
    /// precedence).
    pub fn push(&mut self, name: impl Into<Bytes>, value: impl Into<Bytes>) {
        self.entries.push((name.into(), value.into()));
    }

    /// Replaces every occurrence of `name` with a single header holding `value`, kept at
    /// the position of the first occurrence (appended if absent).
    pub fn set(&mut self, name: impl Into<Bytes>, value: impl Into<Bytes>) {
        let name = name.into();
        let value = value.into();
        match self.entries.iter().position(|(n, _)| *n == name) {
            Some(i) => {
                self.entries[i].1 = value;
                let mut idx = 0;
                self.entries.retain(|(n, _)| {
                    let keep = idx <= i || *n != name;
                    idx += 1;
                    keep
                });
            }
            None => self.entries.push((name, value)),
        }
    }

    /// The value of the first header called `name`.
    pub fn get(&self, name: &str) -> Option<&[u8]> {
        self.entries
            .iter()
            .find(|(n, _)| n.as_ref() == name.as_bytes())
            .map(|(_, v)| v.as_ref())
    }

    /// The first value of `name` as `Bytes` (cheap clone of the decoded buffer).
    pub fn get_bytes(&self, name: &str) -> Option<&Bytes> {
        self.entries
            .iter()
            .find(|(n, _)| n.as_ref() == name.as_bytes())
            .map(|(_, v)| v)
    }

    /// The value of the first header called `name`, or `None` if absent or not UTF-8.
    pub fn get_str(&self, name: &str) -> Option<&str> {
        self.get(name).and_then(|v| std::str::from_utf8(v).ok())
    }

    /// Every value of `name`, in wire order.
    pub fn get_all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a [u8]> + 'a {
        self.entries
            .iter()
            .filter(move |(n, _)| n.as_ref() == name.as_bytes())
            .map(|(_, v)| v.as_ref())
    }

    /// `true` if at least one header is called `name`.
    pub fn contains(&self, name: &str) -> bool {
        self.get(name).is_some()
    }

    /// All headers as shared buffers, in wire order: cloning one is a reference-count bump,
    /// so adapters can keep header values without copying them.
    pub fn iter_bytes(&self) -> impl Iterator<Item = (&Bytes, &Bytes)> {
        self.entries.iter().map(|(n, v)| (n, v))
    }

    /// All headers, in wire order.
    pub fn iter(&self) -> impl Iterator<Item = (&[u8], &[u8])> {
        self.entries.iter().map(|(n, v)| (n.as_ref(), v.as_ref()))
    }

    /// Number of header entries, repeats included.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// `true` if there are no headers.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Removes every occurrence of `name`; returns the first removed value.
    pub fn remove(&mut self, name: &str) -> Option<Bytes> {
        let mut first = None;
        self.entries.retain(|(n, v)| {
            if n.as_ref() == name.as_bytes() {
                if first.is_none() {
                    first = Some(v.clone());
                }
                false
            } else {
                true
            }
        });
        first
    }

    /// `content-length` as a byte count. `Some(Err)` if present but not a decimal number
    /// (spaces around it are tolerated for padded 1.0 peers).
    pub fn content_length(&self) -> Option<Result<usize, CodecError>> {
        self.get(names::CONTENT_LENGTH)
            .map(|v| parse::decimal_usize(v).ok_or(CodecError::InvalidContentLength))
    }

    /// `heart-beat` as `(cx, cy)` milliseconds. `Some(Err)` if present but malformed. A
    /// missing header means `(0, 0)` per spec; that default is the caller's to apply.
    pub fn heart_beat(&self) -> Option<Result<(u32, u32), CodecError>> {
        self.get(names::HEART_BEAT)
            .map(|v| parse::heart_beat(v).ok_or(CodecError::InvalidHeartBeat))
    }

    /// `receipt`.
    pub fn receipt(&self) -> Option<&str> {
        self.get_str(names::RECEIPT)
    }

    /// `receipt-id`.
    pub fn receipt_id(&self) -> Option<&str> {
        self.get_str(names::RECEIPT_ID)
    }

    /// `id`.
    pub fn id(&self) -> Option<&str> {
        self.get_str(names::ID)
    }

    /// `ack`.
    pub fn ack(&self) -> Option<&str> {
        self.get_str(names::ACK)
    }

    /// `destination`.
    pub fn destination(&self) -> Option<&str> {
        self.get_str(names::DESTINATION)
    }

    /// `subscription`.
    pub fn subscription(&self) -> Option<&str> {
        self.get_str(names::SUBSCRIPTION)
    }

    /// `transaction`.
    pub fn transaction(&self) -> Option<&str> {
        self.get_str(names::TRANSACTION)
    }

    /// `message-id`.
    pub fn message_id(&self) -> Option<&str> {
        self.get_str(names::MESSAGE_ID)
    }

    /// `accept-version`.
    pub fn accept_version(&self) -> Option<&str> {
        self.get_str(names::ACCEPT_VERSION)
    }

    /// `version`.
    pub fn version(&self) -> Option<&str> {
        self.get_str(names::VERSION)
    }

    /// `host`.
    pub fn host(&self) -> Option<&str> {
        self.get_str(names::HOST)
    }

    /// `login`.
    pub fn login(&self) -> Option<&str> {
        self.get_str(names::LOGIN)
    }

    /// `passcode`.
    pub fn passcode(&self) -> Option<&str> {
        self.get_str(names::PASSCODE)
    }

    /// `content-type`.
    pub fn content_type(&self) -> Option<&str> {
        self.get_str(names::CONTENT_TYPE)
    }

    /// `message`.
    pub fn message(&self) -> Option<&str> {
        self.get_str(names::MESSAGE)
    }

    pub(crate) fn entries(&self) -> &[(Bytes, Bytes)] {
        &self.entries
    }
}

impl<N: Into<Bytes>, V: Into<Bytes>> FromIterator<(N, V)> for Headers {
    fn from_iter<I: IntoIterator<Item = (N, V)>>(iter: I) -> Self {
        Self {
            entries: iter
                .into_iter()
                .map(|(n, v)| (n.into(), v.into()))
                .collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_occurrence_wins_and_remove_takes_all() {
        let mut h = Headers::new();
        h.push("foo", "World");
        h.push("foo", "Hello");
        h.push("bar", "x");
        assert_eq!(h.get("foo"), Some(&b"World"[..]));
        assert_eq!(h.get_all("foo").count(), 2);
        assert_eq!(h.len(), 3);
        assert_eq!(h.remove("foo"), Some(Bytes::from_static(b"World")));
        assert_eq!(h.len(), 1);
        assert_eq!(h.get("foo"), None);
        assert_eq!(h.remove("foo"), None);
    }

    #[test]
    fn set_replaces_all_in_place() {
        let mut h: Headers = [("a", "1"), ("b", "2"), ("a", "3"), ("c", "4")]
            .into_iter()
            .collect();
        h.set("a", "9");
        let v: Vec<_> = h.iter().collect();
        assert_eq!(
            v,
            vec![
                (&b"a"[..], &b"9"[..]),
                (&b"b"[..], &b"2"[..]),
                (&b"c"[..], &b"4"[..])
            ]
        );
        h.set("d", "5");
        assert_eq!(h.get_str("d"), Some("5"));
    }

    #[test]
    fn typed_accessors() {
        let mut h = Headers::new();
        assert!(h.content_length().is_none());
        assert!(h.heart_beat().is_none());
        h.push("content-length", "12");
        h.push("heart-beat", "10,20");
        h.push("destination", "/queue/a");
        h.push("receipt", Bytes::from_static(b"\xff"));
        assert_eq!(h.content_length().unwrap().unwrap(), 12);
        assert_eq!(h.heart_beat().unwrap().unwrap(), (10, 20));
        assert_eq!(h.destination(), Some("/queue/a"));
        assert_eq!(h.receipt(), None, "non-UTF-8 reads as absent");
        let mut bad = Headers::new();
        bad.push("content-length", "x");
        bad.push("heart-beat", "1");
        assert!(matches!(
            bad.content_length(),
            Some(Err(CodecError::InvalidContentLength))
        ));
        assert!(matches!(
            bad.heart_beat(),
            Some(Err(CodecError::InvalidHeartBeat))
        ));
    }
}
