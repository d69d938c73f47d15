//! Persistence of the audit log: append-only (the schema's triggers refuse UPDATE and DELETE) with
//! gapless sequence numbers. The privacy crate computes the hash chain; the store guarantees that
//! each appended row follows the last one (`seq` and `prev_hash`), so two concurrent appenders
//! cannot fork the chain: the second gets `AuditConflict` and must re-read and re-hash.

use crate::codec::{instant, read_instant};
use crate::error::StoreError;
use crate::records::AuditRow;
use crate::store::{Backend, Store, begin_write, with_pool};

macro_rules! select_audit {
    ($tail:literal) => {
        concat!(
            "SELECT seq, at, actor, subject, purpose, action, decision, channel, prev_hash, hash \
             FROM audit_log ",
            $tail
        )
    };
}

#[derive(sqlx::FromRow)]
struct AuditDbRow {
    seq: i64,
    at: String,
    actor: String,
    subject: String,
    purpose: String,
    action: String,
    decision: String,
    channel: String,
    prev_hash: String,
    hash: String,
}

impl TryFrom<AuditDbRow> for AuditRow {
    type Error = StoreError;
    fn try_from(r: AuditDbRow) -> Result<Self, StoreError> {
        Ok(AuditRow {
            seq: r.seq,
            at: read_instant(&r.at, "audit_log.at")?,
            actor: r.actor,
            subject: r.subject,
            purpose: r.purpose,
            action: r.action,
            decision: r.decision,
            channel: r.channel,
            prev_hash: r.prev_hash,
            hash: r.hash,
        })
    }
}

fn to_rows(rows: Vec<AuditDbRow>) -> Result<Vec<AuditRow>, StoreError> {
    rows.into_iter().map(AuditRow::try_from).collect()
}

impl Store {
    /// Appends `e` as the next row and returns its seq (1, 2, 3, … without gaps). `e.seq` may be 0
    /// (the store assigns it) or the seq the caller hashed over, which must then be the next one;
    /// when a previous row exists, `e.prev_hash` must equal its `hash`. Otherwise `AuditConflict`.
    pub async fn append_audit(&self, e: &AuditRow) -> Result<i64, StoreError> {
        let at = instant(e.at, "audit.at")?;
        let backend = self.backend();
        with_pool!(self, p => {
            let mut tx = begin_write(p, backend).await?;
            if backend == Backend::Postgres {
                // Serialises appenders; readers are not blocked.
                sqlx::query("LOCK TABLE audit_log IN EXCLUSIVE MODE")
                    .execute(&mut *tx)
                    .await?;
            }
            let last: Option<(i64, String)> =
                sqlx::query_as("SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1")
                    .fetch_optional(&mut *tx)
                    .await?;
            let next = match &last {
                Some((seq, hash)) => {
                    if *hash != e.prev_hash {
                        return Err(StoreError::AuditConflict);
                    }
                    seq.checked_add(1).ok_or(StoreError::Corrupt("audit_log.seq"))?
                }
                None => 1,
            };
            if e.seq != 0 && e.seq != next {
                return Err(StoreError::AuditConflict);
            }
            sqlx::query(
                "INSERT INTO audit_log (seq, at, actor, subject, purpose, action, decision, \
                 channel, prev_hash, hash) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
            )
            .bind(next)
            .bind(&at)
            .bind(&e.actor)
            .bind(&e.subject)
            .bind(&e.purpose)
            .bind(&e.action)
            .bind(&e.decision)
            .bind(&e.channel)
            .bind(&e.prev_hash)
            .bind(&e.hash)
            .execute(&mut *tx)
            .await?;
            tx.commit().await?;
            Ok(next)
        })
    }

    pub async fn last_audit(&self) -> Result<Option<AuditRow>, StoreError> {
        let row: Option<AuditDbRow> = with_pool!(self, p => sqlx::query_as(
            select_audit!("ORDER BY seq DESC LIMIT 1"),
        )
        .fetch_optional(p)
        .await)?;
        row.map(AuditRow::try_from).transpose()
    }

    /// Rows with seq > `after_seq`, ascending, at most `limit` (for verifying the chain in pages).
    pub async fn audit_rows(
        &self,
        after_seq: i64,
        limit: u32,
    ) -> Result<Vec<AuditRow>, StoreError> {
        let rows: Vec<AuditDbRow> = with_pool!(self, p => sqlx::query_as(
            select_audit!("WHERE seq > $1 ORDER BY seq LIMIT $2"),
        )
        .bind(after_seq)
        .bind(i64::from(limit))
        .fetch_all(p)
        .await)?;
        to_rows(rows)
    }

    /// The newest `limit` rows about `subject`, newest first ("who saw my data?").
    pub async fn audit_for_subject(
        &self,
        subject: &str,
        limit: u32,
    ) -> Result<Vec<AuditRow>, StoreError> {
        let rows: Vec<AuditDbRow> = with_pool!(self, p => sqlx::query_as(
            select_audit!("WHERE subject = $1 ORDER BY seq DESC LIMIT $2"),
        )
        .bind(subject)
        .bind(i64::from(limit))
        .fetch_all(p)
        .await)?;
        to_rows(rows)
    }
}
