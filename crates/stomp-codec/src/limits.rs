//! Decoder size limits.

/// Bounds on what the decoder buffers for one frame (STOMP 1.2 §Size Limits). Exceeding any
/// of them is a fatal [`CodecError`](crate::CodecError); the decoder reports it as soon as
/// the buffered bytes prove the limit is exceeded, never by waiting for more input.
///
/// Defaults (see [`Limits::default`]):
///
/// | field | default | why |
/// | --- | --- | --- |
/// | `max_body` | 10 MiB | ActiveMQ 6's STOMP `maxFrameSize` default |
/// | `max_frame_size` | 10 MiB + 64 KiB | one full body plus room for headers |
/// | `max_header_count` | 1000 | ActiveMQ's `MAX_HEADERS` |
/// | `max_header_line` | 64 KiB | generous for long selectors; ActiveMQ 5 uses 10 KiB |
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Largest frame in bytes, from the first byte of the command line through the NUL.
    pub max_frame_size: usize,
    /// Most header entries in one frame (repeats count).
    pub max_header_count: usize,
    /// Longest header line in bytes, excluding its EOL, before unescaping.
    pub max_header_line: usize,
    /// Largest body in bytes, excluding the NUL; applies to `content-length` values and to
    /// bodies delimited by NUL alike.
    pub max_body: usize,
}

impl Limits {
    /// Default `max_body`: 10 MiB.
    pub const DEFAULT_MAX_BODY: usize = 10 * 1024 * 1024;
    /// Default `max_header_line`: 64 KiB.
    pub const DEFAULT_MAX_HEADER_LINE: usize = 64 * 1024;
    /// Default `max_header_count`: 1000.
    pub const DEFAULT_MAX_HEADER_COUNT: usize = 1000;
    /// Default `max_frame_size`: 10 MiB + 64 KiB.
    pub const DEFAULT_MAX_FRAME_SIZE: usize = Self::DEFAULT_MAX_BODY + 64 * 1024;
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_frame_size: Self::DEFAULT_MAX_FRAME_SIZE,
            max_header_count: Self::DEFAULT_MAX_HEADER_COUNT,
            max_header_line: Self::DEFAULT_MAX_HEADER_LINE,
            max_body: Self::DEFAULT_MAX_BODY,
        }
    }
}
