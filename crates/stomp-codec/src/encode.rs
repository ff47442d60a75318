//! The encoder.

use bytes::{BufMut, BytesMut};

use crate::codec::StompCodec;
use crate::escape::{write_escaped, Escaping};
use crate::frame::Frame;
use crate::version::Version;

impl StompCodec {
    /// Appends `frame` to `dst`: command, headers escaped for the negotiated version (raw
    /// for 1.0 and for `CONNECT`/`STOMP`/`CONNECTED`), blank line, body, NUL.
    ///
    /// `content-length` is written only if the frame carries it: the caller decides (see
    /// [`Frame::set_content_length`]). A body containing NUL without that header would be cut
    /// short by the peer.
    ///
    /// Header bytes that a version cannot represent are handled so that the output always
    /// has the frame's header structure: a LF in a raw (1.0 or handshake) header becomes a
    /// space, and a header value ending in CR that cannot be escaped (raw or 1.1) is
    /// followed by a CR LF line ending so the CR survives a CR-stripping reader.
    pub fn encode(&self, frame: &Frame, dst: &mut BytesMut) {
        encode_frame(frame, self.version, dst);
    }

    /// Appends a heart-beat (a single `\n`) to `dst`.
    pub fn encode_heartbeat(dst: &mut BytesMut) {
        dst.put_u8(b'\n');
    }
}

/// Encodes `frame` with the escaping for `version` (`None`: not negotiated yet).
pub(crate) fn encode_frame(frame: &Frame, version: Option<Version>, dst: &mut BytesMut) {
    let esc = Escaping::for_frame(version, frame.command);
    let headers = frame.headers.entries();
    let estimate = frame.command.as_str().len()
        + headers
            .iter()
            .map(|(n, v)| n.len() + v.len() + 3)
            .sum::<usize>()
        + frame.body.len()
        + 3;
    dst.reserve(estimate);
    dst.put_slice(frame.command.as_str().as_bytes());
    dst.put_u8(b'\n');
    for (name, value) in headers {
        write_escaped(dst, name, esc);
        dst.put_u8(b':');
        write_escaped(dst, value, esc);
        if esc != Escaping::V1_2 && value.last() == Some(&b'\r') {
            dst.put_u8(b'\r');
        }
        dst.put_u8(b'\n');
    }
    dst.put_u8(b'\n');
    dst.put_slice(&frame.body);
    dst.put_u8(0);
}
