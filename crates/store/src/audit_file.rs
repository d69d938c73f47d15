//! On SQLite the audit log lives in its own file, `<database>.audit`, attached to every pooled
//! connection as schema `audit` (beside `keys`, see `store.rs`).
//!
//! # Why a file of its own
//!
//! Every gated read appends an audit row, so the audit log is written far more often than anything
//! else. In WAL mode a commit to a database file makes every *other* connection drop its whole
//! page cache for that file at its next read: with the audit log in the main file, each group
//! commit of audit rows threw away the cached pages of accounts, balances and transactions, and
//! the next reads went back to the file (most of what the gate appeared to add to a read). In a
//! file of its own, audit commits leave the main file's caches warm.
//!
//! It also lets the two files keep different durability: the audit file is always
//! `synchronous = FULL` (a committed audit row survives a power loss, not only a process crash:
//! a read whose row vanished would have disclosed data unaudited), while the main file stays
//! `NORMAL`.
//!
//! Statements name the tables without a schema (`audit_log`, `audit_head`); SQLite finds them in
//! the attached file because the main file has no tables of those names. PostgreSQL keeps both
//! tables in the one database (its migrations are unchanged).
//!
//! # Databases written before the move
//!
//! Migrations 0001 and 0013 create `audit_log` and `audit_head` in the main file (a database
//! written by an older version has its rows there). At every connect, after the migrations,
//! [`move_into_audit_file`] makes sure the tables exist in the audit file and moves any rows left
//! in the main file: first copying them in a transaction that writes only the audit file, then
//! dropping the main file's tables in a transaction that writes only the main file. SQLite
//! commits attached WAL databases one by one, so the two steps are never one transaction: a crash
//! in between leaves the rows in both files, and the next connect copies nothing twice (it copies
//! only rows past the audit file's last seq) and drops the old tables.

use sqlx::SqlitePool;

/// The audit tables in the attached file: the same columns, index and append-only triggers as
/// migrations 0001 and 0013 give them in the main file.
const AUDIT_SCHEMA: &[&str] = &[
    "CREATE TABLE IF NOT EXISTS audit.audit_log (
        seq        BIGINT PRIMARY KEY NOT NULL,
        at         TEXT NOT NULL,
        actor      TEXT NOT NULL,
        subject    TEXT NOT NULL,
        purpose    TEXT NOT NULL,
        action     TEXT NOT NULL,
        decision   TEXT NOT NULL,
        channel    TEXT NOT NULL,
        prev_hash  TEXT NOT NULL,
        hash       TEXT NOT NULL
    )",
    "CREATE INDEX IF NOT EXISTS audit.audit_log_subject ON audit_log (subject, seq)",
    "CREATE TRIGGER IF NOT EXISTS audit.audit_log_no_update BEFORE UPDATE ON audit_log
     BEGIN
         SELECT RAISE(ABORT, 'audit_log is append-only');
     END",
    "CREATE TRIGGER IF NOT EXISTS audit.audit_log_no_delete BEFORE DELETE ON audit_log
     BEGIN
         SELECT RAISE(ABORT, 'audit_log is append-only');
     END",
    "CREATE TABLE IF NOT EXISTS audit.audit_head (
        id          INTEGER PRIMARY KEY NOT NULL CHECK (id = 1),
        keyed_from  BIGINT NOT NULL,
        seq         BIGINT NOT NULL,
        hash        TEXT NOT NULL,
        mac         TEXT NOT NULL
    )",
];

const COLUMNS: &str =
    "seq, at, actor, subject, purpose, action, decision, channel, prev_hash, hash";

/// Creates the audit tables in the audit file when missing and moves rows an older version left
/// in the main file (see the module docs). Idempotent; safe with several processes starting at
/// once (each step re-checks under the write lock).
pub(crate) async fn move_into_audit_file(pool: &SqlitePool) -> Result<(), sqlx::Error> {
    let mut conn = pool.acquire().await?;
    for ddl in AUDIT_SCHEMA {
        sqlx::query(*ddl).execute(&mut *conn).await?;
    }

    // Step 1 writes only the audit file.
    let mut tx = sqlx::Connection::begin_with(&mut *conn, "BEGIN IMMEDIATE").await?;
    if main_has(&mut tx, "audit_log").await? {
        let copy = format!(
            "INSERT INTO audit.audit_log ({COLUMNS}) SELECT {COLUMNS} FROM main.audit_log \
             WHERE seq > (SELECT COALESCE(MAX(seq), 0) FROM audit.audit_log) ORDER BY seq"
        );
        let copied = sqlx::query(sqlx::AssertSqlSafe(copy))
            .execute(&mut *tx)
            .await?
            .rows_affected();
        if copied > 0 {
            tracing::info!(rows = copied, "audit rows moved into the audit file");
        }
    }
    if main_has(&mut tx, "audit_head").await? {
        sqlx::query(
            "INSERT OR REPLACE INTO audit.audit_head (id, keyed_from, seq, hash, mac) \
             SELECT id, keyed_from, seq, hash, mac FROM main.audit_head",
        )
        .execute(&mut *tx)
        .await?;
    }
    tx.commit().await?;

    // Step 2 writes only the main file.
    let mut tx = sqlx::Connection::begin_with(&mut *conn, "BEGIN IMMEDIATE").await?;
    for table in ["audit_log", "audit_head"] {
        if main_has(&mut tx, table).await? {
            let drop = format!("DROP TABLE main.{table}");
            sqlx::query(sqlx::AssertSqlSafe(drop))
                .execute(&mut *tx)
                .await?;
        }
    }
    tx.commit().await
}

async fn main_has(conn: &mut sqlx::SqliteConnection, table: &str) -> Result<bool, sqlx::Error> {
    let n: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM main.sqlite_master WHERE type = 'table' AND name = $1",
    )
    .bind(table)
    .fetch_one(&mut *conn)
    .await?;
    Ok(n > 0)
}
