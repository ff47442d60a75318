//! STOMP adapter: turns STOMP 1.0/1.1/1.2 frames into ferromq core operations and core
//! deliveries into MESSAGE frames, with ActiveMQ's header mapping and semantics.
//!
//! Sans-IO: no sockets and no clock reads on the session path; the connection task passes
//! `now` in and writes what [`StompSession::poll_transmit`] yields.
//!
//! Invariants worth naming:
//! - This is the only crate where STOMP frames and core types meet (`stomp_codec::Frame`
//!   never reaches `broker-core`).
//! - Every protocol violation ends the session with one ERROR frame carrying a `message`
//!   header (and `receipt-id` when the frame asked for a receipt); nothing else follows it.
//! - A RECEIPT is queued only after the core has accepted the operation (for a SEND with a
//!   receipt: after the destination took the message).

mod error;
pub mod mapping;
mod session;

pub use error::StompError;
pub use session::{Outgoing, StompConfig, StompSession};
