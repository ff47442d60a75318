//! STOMP commands (the first line of a frame).

use std::fmt;

/// Every command defined by STOMP 1.0, 1.1 and 1.2.
///
/// The decoder accepts each command under every version (for example `NACK` or `STOMP`
/// under 1.0); rejecting commands a version lacks is the session's job, not the codec's.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Command {
    /// Client: open a session (all versions).
    Connect,
    /// Client: open a session; same as `CONNECT` (1.1+).
    Stomp,
    /// Server: session accepted.
    Connected,
    /// Client: send a message.
    Send,
    /// Client: create a subscription.
    Subscribe,
    /// Client: remove a subscription.
    Unsubscribe,
    /// Client: start a transaction.
    Begin,
    /// Client: commit a transaction.
    Commit,
    /// Client: roll back a transaction.
    Abort,
    /// Client: acknowledge a message.
    Ack,
    /// Client: negatively acknowledge a message (1.1+).
    Nack,
    /// Client: graceful disconnect.
    Disconnect,
    /// Server: a message for a subscription.
    Message,
    /// Server: receipt for a client frame.
    Receipt,
    /// Server: error; the server closes the connection after it.
    Error,
}

/// Length of the longest command (`UNSUBSCRIBE`), used to fail fast on garbage command lines.
pub(crate) const MAX_COMMAND_LEN: usize = 11;

impl Command {
    /// All commands.
    pub const ALL: [Self; 15] = [
        Self::Connect,
        Self::Stomp,
        Self::Connected,
        Self::Send,
        Self::Subscribe,
        Self::Unsubscribe,
        Self::Begin,
        Self::Commit,
        Self::Abort,
        Self::Ack,
        Self::Nack,
        Self::Disconnect,
        Self::Message,
        Self::Receipt,
        Self::Error,
    ];

    /// The command as written on the wire (`"SEND"`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Connect => "CONNECT",
            Self::Stomp => "STOMP",
            Self::Connected => "CONNECTED",
            Self::Send => "SEND",
            Self::Subscribe => "SUBSCRIBE",
            Self::Unsubscribe => "UNSUBSCRIBE",
            Self::Begin => "BEGIN",
            Self::Commit => "COMMIT",
            Self::Abort => "ABORT",
            Self::Ack => "ACK",
            Self::Nack => "NACK",
            Self::Disconnect => "DISCONNECT",
            Self::Message => "MESSAGE",
            Self::Receipt => "RECEIPT",
            Self::Error => "ERROR",
        }
    }

    /// Parses a command line (without its EOL). Commands are case sensitive.
    pub fn from_bytes(b: &[u8]) -> Option<Self> {
        Some(match b {
            b"CONNECT" => Self::Connect,
            b"STOMP" => Self::Stomp,
            b"CONNECTED" => Self::Connected,
            b"SEND" => Self::Send,
            b"SUBSCRIBE" => Self::Subscribe,
            b"UNSUBSCRIBE" => Self::Unsubscribe,
            b"BEGIN" => Self::Begin,
            b"COMMIT" => Self::Commit,
            b"ABORT" => Self::Abort,
            b"ACK" => Self::Ack,
            b"NACK" => Self::Nack,
            b"DISCONNECT" => Self::Disconnect,
            b"MESSAGE" => Self::Message,
            b"RECEIPT" => Self::Receipt,
            b"ERROR" => Self::Error,
            _ => return None,
        })
    }

    /// `true` for frames a client sends.
    pub fn is_client(self) -> bool {
        !self.is_server()
    }

    /// `true` for frames a server sends (`CONNECTED`, `MESSAGE`, `RECEIPT`, `ERROR`).
    pub fn is_server(self) -> bool {
        matches!(
            self,
            Self::Connected | Self::Message | Self::Receipt | Self::Error
        )
    }

    /// `true` for `SEND`, `MESSAGE` and `ERROR`, the only frames that MAY have a body.
    pub fn allows_body(self) -> bool {
        matches!(self, Self::Send | Self::Message | Self::Error)
    }

    /// `true` for `CONNECT`, `STOMP` and `CONNECTED`, whose headers are never escaped in
    /// any version (STOMP 1.1/1.2 §Value Encoding, kept for 1.0 compatibility).
    pub fn is_handshake(self) -> bool {
        matches!(self, Self::Connect | Self::Stomp | Self::Connected)
    }
}

impl fmt::Display for Command {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_every_command() {
        for c in Command::ALL {
            assert_eq!(Command::from_bytes(c.as_str().as_bytes()), Some(c));
            assert!(c.as_str().len() <= MAX_COMMAND_LEN);
        }
        assert_eq!(Command::from_bytes(b"send"), None);
        assert_eq!(Command::from_bytes(b"SEND "), None);
        assert_eq!(Command::from_bytes(b""), None);
    }
}
