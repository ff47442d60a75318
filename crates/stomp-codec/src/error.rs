//! The codec's error type.

/// Everything that can go wrong while decoding STOMP bytes or reading a typed header.
///
/// Each variant's `Display` is a short sentence meant to be sent verbatim as the `message`
/// header of a STOMP `ERROR` frame (the encoder escapes it, so peer-supplied text such as an
/// unknown command cannot break the frame). Offsets count bytes from the first byte of the
/// frame being decoded (its command line), not from the start of the connection.
///
/// Every error returned by [`StompCodec::decode`](crate::StompCodec::decode) is
/// connection-fatal: the byte stream can no longer be re-synchronised, so the server should
/// send an `ERROR` frame and close (STOMP 1.2 §Size Limits).
#[derive(Debug, thiserror::Error)]
pub enum CodecError {
    /// The command line is not one of the STOMP 1.0/1.1/1.2 commands.
    #[error("unknown command {command:?}")]
    UnknownCommand {
        /// The offending command line, lossily decoded and truncated to a few bytes.
        command: String,
    },
    /// The command line is not valid UTF-8 (STOMP 1.1+ §Value Encoding).
    #[error("command line is not valid UTF-8")]
    InvalidUtf8 {
        /// Offset of the command line within the frame (always 0 today).
        offset: usize,
    },
    /// A header line has no `:` separator.
    #[error("header line without a colon")]
    MalformedHeader {
        /// Offset of the header line within the frame.
        offset: usize,
    },
    /// A header line starts with `:`, so its name is empty.
    #[error("header line with an empty name")]
    EmptyHeaderName {
        /// Offset of the header line within the frame.
        offset: usize,
    },
    /// A header contains a `\` escape that the negotiated version does not define
    /// (STOMP 1.1/1.2 §Value Encoding: "MUST be treated as a fatal protocol error").
    #[error("invalid escape sequence in header")]
    InvalidEscape {
        /// Offset of the backslash within the frame.
        offset: usize,
    },
    /// The `content-length` header is not a plain decimal number that fits in `usize`.
    #[error("invalid content-length header")]
    InvalidContentLength,
    /// The `heart-beat` header is not two decimal `u32`s separated by a comma.
    #[error("invalid heart-beat header")]
    InvalidHeartBeat,
    /// The octet after a `content-length` body is not NUL.
    #[error("frame body not terminated by NUL after content-length bytes")]
    MissingNul {
        /// Offset within the frame where the NUL was expected.
        offset: usize,
    },
    /// A header line (or the command line) is longer than [`Limits::max_header_line`](crate::Limits).
    #[error("header line exceeds {limit} bytes")]
    HeaderLineTooLong {
        /// The configured limit.
        limit: usize,
        /// Offset of the line within the frame.
        offset: usize,
    },
    /// The frame has more headers than [`Limits::max_header_count`](crate::Limits).
    #[error("frame has more than {limit} headers")]
    TooManyHeaders {
        /// The configured limit.
        limit: usize,
    },
    /// The body (declared by `content-length`, or buffered while looking for the NUL) is
    /// larger than [`Limits::max_body`](crate::Limits).
    #[error("frame body exceeds {limit} bytes")]
    BodyTooLarge {
        /// The configured limit.
        limit: usize,
        /// The size that was declared or already buffered.
        size: usize,
    },
    /// The whole frame (command line through NUL) is larger than
    /// [`Limits::max_frame_size`](crate::Limits).
    #[error("frame exceeds {limit} bytes")]
    FrameTooLarge {
        /// The configured limit.
        limit: usize,
        /// A lower bound on the frame's size when the limit was detected.
        size: usize,
    },
    /// The stream ended in the middle of a frame.
    #[error("connection closed in the middle of a frame")]
    UnexpectedEof {
        /// How many bytes of the unfinished frame were buffered.
        buffered: usize,
    },
    /// An I/O error surfaced through `tokio_util::codec` (which requires `From<io::Error>`).
    /// The codec itself never performs I/O.
    #[error("i/o error: {0}")]
    Io(#[from] std::io::Error),
}
