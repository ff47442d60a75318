//! The incremental decoder.
//!
//! A frame is decoded in two phases, and the state between calls is kept so that no byte
//! is scanned twice:
//!
//! 1. **Head**: the command line and header lines, up to the blank line. Lines are only
//!    recorded as offsets into the buffer; nothing is consumed until the blank line arrives.
//!    Every limit on the head (line length, header count, frame size) is checked against the
//!    bytes already buffered before answering "need more", so an endless line or header
//!    flood fails at the limit instead of buffering forever.
//! 2. **Body**: with `content-length` it is a "need N more bytes" state (checked against
//!    `max_body` up front, then `reserve`d); without it the buffer is scanned for the NUL,
//!    resuming where the last scan stopped, and fails once it grows past `max_body`.
//!
//! Between frames, each bare EOL is reported as [`Item::HeartBeat`].

use bytes::{Buf, BytesMut};

use crate::codec::StompCodec;
use crate::command::{Command, MAX_COMMAND_LEN};
use crate::error::CodecError;
use crate::escape::{unescape, Escaping};
use crate::frame::{Frame, Item};
use crate::headers::Headers;
use crate::limits::Limits;
use crate::parse;
use crate::version::Version;

/// How much of the frame in the buffer has been understood. Offsets are relative to the
/// start of the buffer, which is always the start of the current frame.
#[derive(Debug, Clone, Default)]
pub(crate) enum DecodeState {
    /// Between frames.
    #[default]
    Idle,
    /// Reading the command line and headers.
    Head(HeadState),
    /// Headers consumed; reading the body.
    Body(BodyState),
}

#[derive(Debug, Clone, Default)]
pub(crate) struct HeadState {
    command: Option<Command>,
    /// Start of the line being read.
    line_start: usize,
    /// `src[line_start..scanned]` is known to hold no LF.
    scanned: usize,
    /// Complete header lines as `(start, colon, end)` offsets, `end` excluding the EOL.
    lines: Vec<(usize, usize, usize)>,
}

#[derive(Debug, Clone)]
pub(crate) struct BodyState {
    command: Command,
    headers: Headers,
    /// Bytes of command line + headers + blank line (already consumed).
    head_len: usize,
    content_length: Option<usize>,
    /// Without content-length: `src[..scanned]` is known to hold no NUL.
    scanned: usize,
}

impl StompCodec {
    /// Decodes the next item from `src`, consuming its bytes.
    ///
    /// Returns `Ok(None)` when `src` holds only part of an item (the partial frame's parse
    /// state is kept, so call again with the same buffer after appending more bytes). Fails
    /// as soon as the buffered bytes break a [`Limits`] bound or the grammar. After an error
    /// the stream cannot be re-synchronised: send an `ERROR` frame and close.
    pub fn decode(&mut self, src: &mut BytesMut) -> Result<Option<Item>, CodecError> {
        let r = self.decode_inner(src);
        if r.is_err() {
            // Drop partial state so a caller that keeps going cannot hit stale offsets.
            self.state = DecodeState::Idle;
        }
        r
    }

    /// Like [`decode`](Self::decode), for when the peer has closed the stream: a frame that
    /// is still incomplete becomes [`CodecError::UnexpectedEof`].
    pub fn decode_eof(&mut self, src: &mut BytesMut) -> Result<Option<Item>, CodecError> {
        match self.decode(src)? {
            Some(item) => Ok(Some(item)),
            None if src.is_empty() && matches!(self.state, DecodeState::Idle) => Ok(None),
            None => {
                let buffered = match &self.state {
                    DecodeState::Body(b) => b.head_len + src.len(),
                    _ => src.len(),
                };
                self.state = DecodeState::Idle;
                Err(CodecError::UnexpectedEof { buffered })
            }
        }
    }

    fn decode_inner(&mut self, src: &mut BytesMut) -> Result<Option<Item>, CodecError> {
        loop {
            match &mut self.state {
                DecodeState::Idle => {
                    match src.first() {
                        None => return Ok(None),
                        Some(b'\n') => {
                            src.advance(1);
                            return Ok(Some(Item::HeartBeat));
                        }
                        Some(b'\r') => match src.get(1) {
                            None => return Ok(None),
                            Some(b'\n') => {
                                src.advance(2);
                                return Ok(Some(Item::HeartBeat));
                            }
                            // A stray CR starts a "command line" that will be rejected.
                            Some(_) => {}
                        },
                        Some(_) => {}
                    }
                    self.state = DecodeState::Head(HeadState {
                        lines: std::mem::take(&mut self.spare_lines),
                        ..HeadState::default()
                    });
                }
                DecodeState::Head(head) => {
                    match decode_head(head, src, &self.limits, self.version)? {
                        Some(body) => {
                            let mut lines = std::mem::take(&mut head.lines);
                            lines.clear();
                            self.spare_lines = lines;
                            self.state = DecodeState::Body(body);
                        }
                        None => return Ok(None),
                    }
                }
                DecodeState::Body(body) => {
                    if !decode_body(body, src, &self.limits)? {
                        return Ok(None);
                    }
                    let DecodeState::Body(body) = std::mem::take(&mut self.state) else {
                        unreachable!("state was Body a moment ago");
                    };
                    let len = body.scanned;
                    let frame = Frame {
                        command: body.command,
                        headers: body.headers,
                        body: src.split_to(len).freeze(),
                    };
                    src.advance(1); // the NUL, checked by decode_body
                    return Ok(Some(Item::Frame(frame)));
                }
            }
        }
    }
}

/// Advances the head parse over complete lines. Returns the body state once the blank line
/// has been read (and the head consumed from `src`), `None` if more bytes are needed.
fn decode_head(
    h: &mut HeadState,
    src: &mut BytesMut,
    limits: &Limits,
    version: Option<Version>,
) -> Result<Option<BodyState>, CodecError> {
    if h.scanned > src.len() {
        // The caller swapped or truncated the buffer mid-frame; start the head over rather
        // than index past the end.
        *h = HeadState::default();
    }
    loop {
        let Some(i) = parse::find_lf(&src[h.scanned..]) else {
            h.scanned = src.len();
            check_partial_line(h, src, limits)?;
            // Everything buffered belongs to this frame, and a NUL must still follow.
            check_frame_size(src.len() + 1, limits)?;
            return Ok(None);
        };
        let lf = h.scanned + i;
        let start = h.line_start;
        let end = if lf > start && src[lf - 1] == b'\r' {
            lf - 1
        } else {
            lf
        };
        h.line_start = lf + 1;
        h.scanned = lf + 1;
        check_frame_size(lf + 2, limits)?;

        let Some(command) = h.command else {
            h.command = Some(parse_command(&src[start..end])?);
            continue;
        };
        if start == end {
            return finish_head(command, &h.lines, lf + 1, src, limits, version).map(Some);
        }
        if end - start > limits.max_header_line {
            return Err(CodecError::HeaderLineTooLong {
                limit: limits.max_header_line,
                offset: start,
            });
        }
        if h.lines.len() >= limits.max_header_count {
            return Err(CodecError::TooManyHeaders {
                limit: limits.max_header_count,
            });
        }
        let Some((name, _)) = parse::split_header(&src[start..end]) else {
            return Err(CodecError::MalformedHeader { offset: start });
        };
        if name.is_empty() {
            return Err(CodecError::EmptyHeaderName { offset: start });
        }
        h.lines.push((start, start + name.len(), end));
    }
}

/// Fails fast on an unterminated line that is already too long to ever be valid.
fn check_partial_line(h: &HeadState, src: &[u8], limits: &Limits) -> Result<(), CodecError> {
    let partial = &src[h.line_start..];
    // +1: the line may still end in the CR of a CR LF.
    if h.command.is_none() {
        if partial.len() > MAX_COMMAND_LEN + 1 {
            return Err(command_error(partial));
        }
    } else if partial.len() > limits.max_header_line + 1 {
        return Err(CodecError::HeaderLineTooLong {
            limit: limits.max_header_line,
            offset: h.line_start,
        });
    }
    Ok(())
}

fn check_frame_size(lower_bound: usize, limits: &Limits) -> Result<(), CodecError> {
    if lower_bound > limits.max_frame_size {
        return Err(CodecError::FrameTooLarge {
            limit: limits.max_frame_size,
            size: lower_bound,
        });
    }
    Ok(())
}

fn parse_command(line: &[u8]) -> Result<Command, CodecError> {
    Command::from_bytes(line).ok_or_else(|| command_error(line))
}

fn command_error(line: &[u8]) -> CodecError {
    // Keep the echo short: it ends up in an ERROR frame's message header.
    let shown = &line[..line.len().min(MAX_COMMAND_LEN + 1)];
    match std::str::from_utf8(shown) {
        // error_len() == None: only a multi-byte char cut by the truncation, not bad UTF-8.
        Err(e) if e.error_len().is_some() => CodecError::InvalidUtf8 { offset: 0 },
        _ => CodecError::UnknownCommand {
            command: String::from_utf8_lossy(shown).into_owned(),
        },
    }
}

/// Consumes the head (`head_len` bytes), unescapes the headers and checks the declared
/// body size against the limits before any body byte is awaited.
fn finish_head(
    command: Command,
    lines: &[(usize, usize, usize)],
    head_len: usize,
    src: &mut BytesMut,
    limits: &Limits,
    version: Option<Version>,
) -> Result<BodyState, CodecError> {
    let head = src.split_to(head_len).freeze();
    let esc = Escaping::for_frame(version, command);
    let mut headers = Headers::with_capacity(lines.len());
    for &(start, colon, end) in lines {
        let name = unescape(head.slice(start..colon), esc, start)?;
        let value = unescape(head.slice(colon + 1..end), esc, colon + 1)?;
        headers.push(name, value);
    }
    let content_length = match headers.content_length() {
        None => None,
        Some(Err(e)) => return Err(e),
        Some(Ok(n)) => {
            if n > limits.max_body {
                return Err(CodecError::BodyTooLarge {
                    limit: limits.max_body,
                    size: n,
                });
            }
            check_frame_size(head_len.saturating_add(n).saturating_add(1), limits)?;
            Some(n)
        }
    };
    Ok(BodyState {
        command,
        headers,
        head_len,
        content_length,
        scanned: 0,
    })
}

/// Returns `true` once the body and its NUL are buffered; `b.scanned` is then the body
/// length and `src[b.scanned]` the NUL.
fn decode_body(b: &mut BodyState, src: &mut BytesMut, limits: &Limits) -> Result<bool, CodecError> {
    if let Some(n) = b.content_length {
        if src.len() <= n {
            // n <= max_body was checked in finish_head, so this reservation is bounded.
            src.reserve(n + 1 - src.len());
            return Ok(false);
        }
        if src[n] != 0 {
            return Err(CodecError::MissingNul {
                offset: b.head_len + n,
            });
        }
        b.scanned = n;
        return Ok(true);
    }
    // min(): stay in bounds even if the caller truncated the buffer between calls.
    let from = b.scanned.min(src.len());
    let found = parse::find_nul(&src[from..]).map(|i| from + i);
    // Without a NUL yet, the body is at least as long as what is buffered.
    let body_len = found.unwrap_or(src.len());
    if body_len > limits.max_body {
        return Err(CodecError::BodyTooLarge {
            limit: limits.max_body,
            size: body_len,
        });
    }
    check_frame_size(b.head_len + body_len + 1, limits)?;
    match found {
        Some(n) => {
            b.scanned = n;
            Ok(true)
        }
        None => {
            b.scanned = src.len();
            Ok(false)
        }
    }
}
