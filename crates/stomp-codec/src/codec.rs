//! The codec value: limits, negotiated version and decoder state.

use crate::decode::DecodeState;
use crate::limits::Limits;
use crate::version::Version;

/// A sans-IO STOMP codec for one connection.
///
/// Feed it bytes with [`decode`](Self::decode) and write frames with
/// [`encode`](Self::encode). It starts with no negotiated version: `CONNECT`, `STOMP` and
/// `CONNECTED` are never escaped in any version, and every other frame uses the 1.2 rules
/// until [`set_version`](Self::set_version) is called (normally right after the
/// `CONNECTED` frame is sent or received).
#[derive(Debug, Clone)]
pub struct StompCodec {
    pub(crate) limits: Limits,
    pub(crate) version: Option<Version>,
    pub(crate) state: DecodeState,
    /// The header-offset list of the last frame head, kept for the next one (a list per
    /// frame was a measurable share of the decode's allocations).
    pub(crate) spare_lines: Vec<(usize, usize, usize)>,
}

impl StompCodec {
    /// A codec with the given limits and no negotiated version.
    pub fn new(limits: Limits) -> Self {
        Self {
            limits,
            version: None,
            state: DecodeState::Idle,
            spare_lines: Vec::new(),
        }
    }

    /// Sets the negotiated version; header escaping for both directions follows it from the
    /// next frame on.
    pub fn set_version(&mut self, v: Version) {
        self.version = Some(v);
    }

    /// The negotiated version, or `None` before [`set_version`](Self::set_version).
    pub fn version(&self) -> Option<Version> {
        self.version
    }

    /// The decoder limits.
    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// Replaces the decoder limits; applies from the next check on, including to a frame
    /// that is partly buffered.
    pub fn set_limits(&mut self, limits: Limits) {
        self.limits = limits;
    }
}

impl Default for StompCodec {
    fn default() -> Self {
        Self::new(Limits::default())
    }
}
