//! Sans-IO STOMP 1.0 / 1.1 / 1.2 frame codec.
//!
//! API CONTRACT (other crates are written against this; keep these names and signatures):
//!
//! ```ignore
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
