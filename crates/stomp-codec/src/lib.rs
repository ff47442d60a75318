//! Sans-IO STOMP 1.0 / 1.1 / 1.2 frame codec.
//!
//! This crate owns the STOMP wire format and nothing else: [`Command`]s, ordered
//! [`Headers`] with typed accessors, [`Frame`]s, per-version header escaping, the
//! incremental decoder and the encoder ([`StompCodec`]), decoder [`Limits`], and the
//! heart-beat arithmetic ([`heart_beat_period`]). Session rules (which commands a version
//! allows, required headers, receipts, ack modes) belong to `broker-stomp`.
//!
//! # Invariants
//!
//! - **Pure.** No I/O, no clocks, no tasks, no global state; depends only on `bytes`, `nom`
//!   and `thiserror`. The `tokio_util::codec` impls sit behind the `codec` feature, which
//!   pulls in `tokio-util` and nothing from tokio.
//! - **Bounded.** The decoder buffers at most [`Limits`] worth of one frame and fails as
//!   soon as the buffered bytes exceed a limit, never by answering "need more" forever. It
//!   never reserves memory for a declared `content-length` above `max_body`.
//! - **Total.** Decoding never panics, whatever the bytes; every failure is a
//!   [`CodecError`] whose `Display` is fit for an `ERROR` frame's `message` header.
//! - **Faithful.** Headers keep wire order and repeats; lookups return the first occurrence
//!   (STOMP 1.2 §Repeated Header Entries). For every version, decoding what the encoder
//!   wrote yields the original frame, provided its headers are representable in that
//!   version (no LF in 1.0 or handshake headers).
//! - **Escaping follows the spec.** 1.0: none. 1.1: `\n` `\c` `\\`. 1.2: adds `\r`.
//!   `CONNECT`, `STOMP` and `CONNECTED` are never escaped. Before
//!   [`StompCodec::set_version`] is called, other frames use the 1.2 rules.
//! - The encoder never adds `content-length`; the caller decides
//!   ([`Frame::set_content_length`]).
//!
//! # API contract
//!
//! Other crates are written against these names and signatures; keep them.
//!
//! ```text
//! pub enum Version { V1_0, V1_1, V1_2 }            // Copy, Eq, Ord, Debug; as_str() -> "1.0"...
//! pub enum Command { Connect, Stomp, Connected, Send, Subscribe, Unsubscribe, Begin, Commit,
//!                    Abort, Ack, Nack, Disconnect, Message, Receipt, Error }
//!     // Copy, Eq, Debug; as_str(); from_bytes(&[u8]) -> Option<Command>
//! pub struct Headers { /* ordered Vec<(Bytes, Bytes)>, values already unescaped */ }
//!     Headers::new(), push(name: impl Into<Bytes>, value: impl Into<Bytes>),
//!     get(&self, name: &str) -> Option<&[u8]>   // first occurrence wins (STOMP 1.2 §Repeated Header Entries)
//!     get_str(&self, name: &str) -> Option<&str> // None if absent or not UTF-8
//!     iter() -> impl Iterator<Item = (&[u8], &[u8])>, len(), is_empty(), remove(name) (all occurrences)
//!     typed accessors, each returning None when absent:
//!       content_length() -> Option<Result<usize, CodecError>>  (or a simpler typed form)
//!       receipt(), id(), ack(), destination(), subscription(), transaction(), message_id(),
//!       accept_version() -> Option<&str>, heart_beat() -> Option<Result<(u32,u32), CodecError>>
//! pub struct Frame { pub command: Command, pub headers: Headers, pub body: Bytes }
//!     Frame::new(command), .header(name, value) builder
//! pub enum Item { Frame(Frame), HeartBeat }        // HeartBeat = a bare EOL between frames
//! pub struct Limits { pub max_frame_size: usize, pub max_header_count: usize,
//!                     pub max_header_line: usize, pub max_body: usize }  // Default = sensible values
//! pub struct StompCodec { .. }
//!     StompCodec::new(limits: Limits) -> Self          // version starts "unknown": CONNECT/STOMP/CONNECTED
//!                                                      // frames are never escaped (spec); others use 1.2 rules
//!                                                      // until set_version is called
//!     set_version(&mut self, v: Version)
//!     decode(&mut self, src: &mut BytesMut) -> Result<Option<Item>, CodecError>
//!     encode(&self, frame: &Frame, dst: &mut BytesMut)   // escapes per negotiated version, adds
//!                                                      // content-length is the caller's choice (never added implicitly)
//!     encode_heartbeat(dst: &mut BytesMut)             // writes "\n"
//! #[derive(thiserror::Error)] pub enum CodecError { ..variants with positions/limits.. }
//!     every variant has a short human message usable as a STOMP ERROR `message` header
//! ```
//!
//! # Example
//!
//! ```
//! use bytes::BytesMut;
//! use stomp_codec::{Command, Frame, Item, Limits, StompCodec, Version};
//!
//! let mut codec = StompCodec::new(Limits::default());
//! let mut buf = BytesMut::from(&b"CONNECT\naccept-version:1.2\nhost:h\n\n\0\n"[..]);
//! let Some(Item::Frame(connect)) = codec.decode(&mut buf).unwrap() else { panic!() };
//! assert_eq!(connect.headers.accept_version(), Some("1.2"));
//! assert_eq!(codec.decode(&mut buf).unwrap(), Some(Item::HeartBeat));
//! codec.set_version(Version::V1_2);
//!
//! let mut out = BytesMut::new();
//! codec.encode(&Frame::new(Command::Connected).header("version", "1.2"), &mut out);
//! assert_eq!(&out[..], b"CONNECTED\nversion:1.2\n\n\0");
//! ```
#![deny(missing_docs, missing_debug_implementations)]

mod codec;
mod command;
mod decode;
mod encode;
mod error;
mod escape;
mod frame;
#[cfg(feature = "codec")]
mod framed;
mod headers;
mod heartbeat;
mod limits;
mod parse;
mod version;

pub use codec::StompCodec;
pub use command::Command;
pub use error::CodecError;
pub use frame::{Frame, Item};
pub use headers::{names, Headers};
pub use heartbeat::heart_beat_period;
pub use limits::Limits;
pub use version::Version;
