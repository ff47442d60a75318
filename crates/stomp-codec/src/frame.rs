//! Frames and decoded items.

use bytes::Bytes;

use crate::command::Command;
use crate::headers::{names, Headers};

/// One STOMP frame: command, headers (unescaped, in wire order) and body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    /// The command line.
    pub command: Command,
    /// Header entries, repeats kept.
    pub headers: Headers,
    /// The body, without the terminating NUL.
    pub body: Bytes,
}

impl Frame {
    /// A frame with no headers and an empty body.
    pub fn new(command: Command) -> Self {
        Self {
            command,
            headers: Headers::new(),
            body: Bytes::new(),
        }
    }

    /// Builder: appends a header.
    #[must_use]
    pub fn header(mut self, name: impl Into<Bytes>, value: impl Into<Bytes>) -> Self {
        self.headers.push(name, value);
        self
    }

    /// Builder: sets the body. Does not touch `content-length`; see
    /// [`with_content_length`](Self::with_content_length).
    #[must_use]
    pub fn with_body(mut self, body: impl Into<Bytes>) -> Self {
        self.body = body.into();
        self
    }

    /// Builder: sets `content-length` to the body's length, replacing any existing value.
    #[must_use]
    pub fn with_content_length(mut self) -> Self {
        self.set_content_length();
        self
    }

    /// Sets `content-length` to the body's length, replacing any existing value. Call this
    /// before encoding any frame whose body may contain NUL octets: the encoder never adds
    /// the header by itself, and without it the first NUL would end the frame early.
    pub fn set_content_length(&mut self) {
        self.headers
            .set(names::CONTENT_LENGTH, self.body.len().to_string());
    }
}

/// What the decoder yields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Item {
    /// A complete frame.
    Frame(Frame),
    /// A bare EOL (`\n` or `\r\n`) between frames: a heart-beat, or the optional EOLs that
    /// may follow a frame's NUL.
    HeartBeat,
}
