//! The crate's one error type. Messages name the row and the column that was wrong, never the
//! value: amounts and identifiers must not leak into logs through error strings.

use thiserror::Error;

#[derive(Debug, Error)]
pub enum RiskError {
    #[error("cannot read {what}: {source}")]
    Io {
        what: &'static str,
        #[source]
        source: std::io::Error,
    },
    #[error("row {row}: {problem}")]
    BadRow { row: u64, problem: String },
    #[error("the CSV header lacks column `{0}`")]
    MissingColumn(&'static str),
    #[error("not enough data: {0}")]
    NotEnoughData(String),
    #[error("rules file: {0}")]
    Rules(String),
    #[error("model file: {0}")]
    Model(String),
    #[error("invalid input: {0}")]
    Invalid(String),
}

impl RiskError {
    pub(crate) fn bad_row(row: u64, problem: impl Into<String>) -> Self {
        RiskError::BadRow {
            row,
            problem: problem.into(),
        }
    }
}
