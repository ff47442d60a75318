//! Protocol errors of a STOMP session. Every one is connection-fatal: the session sends an
//! ERROR frame whose `message` header is the error's `Display`, then closes.

use broker_core::CoreError;
use stomp_codec::{CodecError, Command};

/// Why a STOMP session ends with an ERROR frame.
#[derive(Debug, thiserror::Error)]
pub enum StompError {
    /// The bytes did not form a valid frame (or broke a limit).
    #[error("{0}")]
    Codec(#[from] CodecError),
    /// A frame other than CONNECT/STOMP arrived first.
    #[error("Not connected: send CONNECT first")]
    NotConnected,
    /// A second CONNECT on the same connection.
    #[error("Already connected")]
    AlreadyConnected,
    /// No common protocol version.
    #[error("Supported protocol versions are 1.0,1.1,1.2")]
    UnsupportedVersion,
    /// A server-only frame (MESSAGE, RECEIPT, ...) was sent by the client.
    #[error("{0} is not a client frame")]
    NotAClientFrame(Command),
    /// A required header is missing.
    #[error("{command} frame requires a '{header}' header")]
    MissingHeader {
        /// The frame.
        command: Command,
        /// The missing header.
        header: &'static str,
    },
    /// A header value is malformed.
    #[error("invalid '{header}' header: {reason}")]
    InvalidHeader {
        /// The header.
        header: &'static str,
        /// What is wrong with it.
        reason: String,
    },
    /// The destination name cannot be used.
    #[error("invalid destination '{0}'")]
    InvalidDestination(String),
    /// UNSUBSCRIBE or ACK names a subscription this connection does not have.
    #[error("no subscription '{0}' on this connection")]
    UnknownSubscription(String),
    /// ACK/NACK for a message this connection does not hold unacknowledged.
    #[error("unexpected ACK/NACK for message '{0}': not delivered or already acknowledged")]
    UnknownMessage(String),
    /// A request ferromq does not serve (yet); the text says what.
    #[error("{0}")]
    Unsupported(&'static str),
    /// The broker core refused the operation.
    #[error("{0}")]
    Core(#[from] CoreError),
}
