//! Errors of the NLU's model and benchmark entry points. Messages name the operation and the
//! file's role, never message text (customers' words are financial data too).

use thiserror::Error;

#[derive(Debug, Error)]
pub enum NluError {
    #[error("{what}: {source}")]
    Io {
        what: &'static str,
        #[source]
        source: std::io::Error,
    },
    #[error("invalid model file: {0}")]
    BadModel(&'static str),
    #[error("invalid data set {file}: {reason}")]
    BadData { file: String, reason: String },
    /// The optional sentence encoder could not be loaded or run (feature `encoder`).
    #[error("sentence encoder, {what}: {reason}")]
    Encoder { what: &'static str, reason: String },
}
