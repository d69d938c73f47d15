//! The store's error type. Messages name tables, columns and error classes, never row values: a
//! database's own error text can quote the offending value, so it is reduced to its class and
//! SQLSTATE code before it leaves this crate.

use std::fmt;

/// What went wrong inside the database driver, with everything that could carry a row value
/// (server messages, details, hints) stripped.
#[derive(Clone, PartialEq, Eq)]
pub struct DbFailure {
    /// A short class: "database", "pool timed out", "io", "tls", "protocol", "decode", ...
    pub kind: &'static str,
    /// The SQLSTATE (PostgreSQL) or extended result code (SQLite), when the database sent one.
    pub code: Option<String>,
    /// The constraint that was violated, when the database named one.
    pub constraint: Option<String>,
}

impl fmt::Debug for DbFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl fmt::Display for DbFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.kind)?;
        if let Some(code) = &self.code {
            write!(f, " (code {code})")?;
        }
        if let Some(c) = &self.constraint {
            write!(f, " on constraint {c}")?;
        }
        Ok(())
    }
}

impl DbFailure {
    /// True when a UNIQUE or PRIMARY KEY constraint rejected the write.
    pub fn is_unique_violation(&self) -> bool {
        matches!(
            self.code.as_deref(),
            Some("23505") | Some("2067") | Some("1555")
        )
    }
}

impl From<&sqlx::Error> for DbFailure {
    fn from(e: &sqlx::Error) -> Self {
        let mut code = None;
        let mut constraint = None;
        let kind = match e {
            sqlx::Error::Database(db) => {
                code = db.code().map(|c| c.into_owned());
                constraint = db.constraint().map(str::to_owned);
                "database"
            }
            sqlx::Error::Configuration(_) => "configuration",
            sqlx::Error::Io(_) => "io",
            sqlx::Error::Tls(_) => "tls",
            sqlx::Error::Protocol(_) => "protocol",
            sqlx::Error::RowNotFound => "row not found",
            sqlx::Error::TypeNotFound { .. } => "type not found",
            sqlx::Error::ColumnIndexOutOfBounds { .. } => "column index out of bounds",
            sqlx::Error::ColumnNotFound(_) => "column not found",
            sqlx::Error::ColumnDecode { .. } | sqlx::Error::Decode(_) => "decode",
            sqlx::Error::Encode(_) => "encode",
            sqlx::Error::PoolTimedOut => "pool timed out",
            sqlx::Error::PoolClosed => "pool closed",
            sqlx::Error::WorkerCrashed => "worker crashed",
            sqlx::Error::Migrate(_) => "migration",
            _ => "other",
        };
        DbFailure {
            kind,
            code,
            constraint,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database could not be reached or opened.
    #[error("cannot connect to the database: {0}")]
    Connect(DbFailure),
    /// The URL is not `sqlite:` or `postgres://`.
    #[error("unsupported database URL (expected sqlite: or postgres://)")]
    UnsupportedUrl,
    /// Embedded migrations failed.
    #[error("database migration failed: {0}")]
    Migrate(String),
    /// A statement failed.
    #[error("database query failed: {0}")]
    Query(DbFailure),
    /// A stored value cannot be turned back into its domain type; names the column.
    #[error("corrupt value in column {0}")]
    Corrupt(&'static str),
    /// The caller passed something the store cannot persist; names the field.
    #[error("invalid value for {0}")]
    Invalid(&'static str),
    /// An update or reference named a row that does not exist; names the table.
    #[error("no such row in {0}")]
    NotFound(&'static str),
    /// The unattended-access budget for this consent, account and day is used up.
    #[error("unattended access budget exhausted for today")]
    BudgetExhausted,
    /// A stored data key is wrapped by a master key the keyring does not hold (names the key id,
    /// which is not secret).
    #[error("a stored data key is wrapped by master key {0}, which the keyring does not hold")]
    UnknownMasterKey(String),
    /// The keyring holds a key under this id, but not the key that was used under it.
    #[error("master key {0} is not the key this database was encrypted with (wrong key file?)")]
    WrongMasterKey(String),
    /// Encrypted rows exist but the customer's data key is gone (crypto-shredded): they can never
    /// be read again.
    #[error(
        "the customer's data key is gone (crypto-shredded); their encrypted rows are unreadable"
    )]
    DataKeyMissing,
    /// Another audit row was appended first (the caller's `seq` or `prev_hash` is stale).
    #[error("audit log moved on: seq or prev_hash does not follow the last row")]
    AuditConflict,
}

impl StoreError {
    pub(crate) fn query(e: sqlx::Error) -> Self {
        StoreError::Query(DbFailure::from(&e))
    }
}

impl From<sqlx::Error> for StoreError {
    fn from(e: sqlx::Error) -> Self {
        StoreError::query(e)
    }
}
