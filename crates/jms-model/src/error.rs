//! The selector error type.

/// Why a selector was refused (JMS `InvalidSelectorException`).
///
/// `Display` reads `invalid selector at position 4: unterminated string literal`, short enough
/// for a STOMP `ERROR` frame's `message` header or an AMQP `error.description`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid selector at position {position}: {message}")]
pub struct SelectorError {
    /// 0-based offset, in characters (not bytes), into the text given to
    /// [`Selector::parse`](crate::Selector::parse), prefix included; equal to the text's
    /// length when the problem is an unexpected end.
    pub position: usize,
    /// What is wrong, in a few words.
    pub message: String,
}

impl SelectorError {
    pub(crate) fn new(position: usize, message: impl Into<String>) -> Self {
        Self {
            position,
            message: message.into(),
        }
    }
}
