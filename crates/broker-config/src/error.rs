//! [`ConfigError`]: why a configuration could not be loaded or is not acceptable.

use std::path::{Path, PathBuf};

/// A configuration that could not be read, parsed, written or accepted.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// The config file could not be read.
    #[error("cannot read config file {}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// The text is not valid TOML, or does not fit the model (unknown key, wrong type).
    #[error("cannot parse config {}: {message}", origin(path.as_deref()))]
    Parse {
        /// The file, when the text came from one.
        path: Option<PathBuf>,
        /// The parser's message, with line, column and the offending excerpt.
        message: String,
    },
    /// A value is outside what the broker accepts.
    #[error("`{field}` {reason}")]
    Invalid {
        /// Dotted TOML path of the field, e.g. `stomp.max_body`.
        field: String,
        /// What is wrong, including the rejected value.
        reason: String,
    },
    /// The config could not be written as TOML.
    #[error("cannot write config as TOML: {message}")]
    Serialize {
        /// The serializer's message.
        message: String,
    },
}

impl ConfigError {
    pub(crate) fn invalid(field: &str, reason: impl Into<String>) -> Self {
        Self::Invalid {
            field: field.to_owned(),
            reason: reason.into(),
        }
    }
}

fn origin(path: Option<&Path>) -> String {
    path.map_or_else(|| "<string>".to_owned(), |p| p.display().to_string())
}
