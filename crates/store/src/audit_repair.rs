//! Repairing a damaged audit checkpoint, and nothing else.
//!
//! A checkpoint that does not verify (edited, or deleted) stops every append, and with them every
//! gated read: the gate fails closed rather than extend a chain it cannot vouch for. Only an
//! operator gets it going again, with [`Store::repair_audit_checkpoint`]: it re-verifies every row
//! under the audit key and, only if the chain itself is intact, appends a row recording the repair
//! and writes a fresh checkpoint after it. Anything else (a changed, missing or reordered row, a
//! checkpoint that verifies but disagrees with the rows, a damaged checkpoint that claims more rows
//! than there are, a head kept outside the database that the rows do not contain) is refused with
//! what is wrong, and nothing is written: a repair must never launder tampering into a valid chain.
//!
//! Which rows are keyed is recomputed, not taken from the damaged checkpoint: rows written before
//! the keyed chain (migration 0013) carry the unkeyed link and can only form a prefix, since the
//! first keyed row's MAC covers the last legacy row's hash. A chain without any keyed row is
//! refused: with the key present, that is what rewriting every row without the key looks like.

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::audit::{
    AUDIT_KEY_ID, AuditDbRow, AuditProblem, ChainKey, ChainWalk, HeadDbRow, VERIFY_PAGE,
    insert_audit_row, legacy_link, same, select_audit, write_audit_head,
};
use crate::audit_head::{AuditHeadSeal, HeadFileStatus};
use crate::codec::instant;
use crate::error::StoreError;
use crate::records::AuditRow;
use crate::store::{Backend, Store, begin_write, with_pool};
use crate::vault::load_dek;

/// Why a repair was refused. Nothing was written.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum RepairRefusal {
    /// There is no audit key: no row can be verified.
    NoAuditKey,
    /// The chain itself is broken at `seq`.
    Chain { seq: i64, problem: AuditProblem },
    /// The checkpoint verifies but disagrees with the rows: the rows were changed, not it.
    CheckpointDisagrees { problem: AuditProblem },
    /// The damaged checkpoint claims more rows than the log has: the last rows may have been
    /// deleted.
    CheckpointAhead { claimed_seq: i64, last_seq: i64 },
    /// Rows exist but none is keyed: they may all have been rewritten without the key.
    NoKeyedRows { rows: u64 },
    /// The head kept outside the database is not in this chain.
    HeadFile { status: HeadFileStatus },
}

impl std::fmt::Display for RepairRefusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RepairRefusal::NoAuditKey => {
                f.write_str("the audit key is missing: the chain cannot be verified")
            }
            RepairRefusal::Chain { seq, problem } => {
                write!(f, "the chain itself is broken at row {seq}: {problem}")
            }
            RepairRefusal::CheckpointDisagrees { problem } => write!(
                f,
                "the checkpoint verifies but the rows do not match it ({problem}): the rows \
                 were changed, not the checkpoint"
            ),
            RepairRefusal::CheckpointAhead {
                claimed_seq,
                last_seq,
            } => write!(
                f,
                "the damaged checkpoint claims row {claimed_seq} but the log ends at row \
                 {last_seq}: the last rows may have been deleted"
            ),
            RepairRefusal::NoKeyedRows { rows } => write!(
                f,
                "none of the {rows} rows is keyed although the audit key exists: they may have \
                 been rewritten without the key"
            ),
            RepairRefusal::HeadFile { status } => f.write_str(&status.message()),
        }
    }
}

/// What [`Store::repair_audit_checkpoint`] did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum RepairOutcome {
    /// The checkpoint verifies and matches the chain: nothing was written.
    NotNeeded {
        rows: u64,
        head_seq: i64,
    },
    /// The chain verified; the repair was recorded as row `repair_seq` and the checkpoint
    /// rewritten after it. `seal` is the new head, for the file kept outside the database.
    Repaired {
        rows_verified: u64,
        /// What was wrong with the checkpoint (`bad_checkpoint` or `missing_checkpoint`).
        previous: AuditProblem,
        repair_seq: i64,
        seal: AuditHeadSeal,
    },
    Refused {
        reason: RepairRefusal,
    },
}

fn refused(reason: RepairRefusal) -> Result<RepairOutcome, StoreError> {
    Ok(RepairOutcome::Refused { reason })
}

impl Store {
    /// Re-verifies the whole audit chain under the audit key and, only if it is intact but its
    /// checkpoint is damaged or missing, appends a row recording the repair (by `actor`, a
    /// pseudonymous operator id, at `at`) and writes a fresh checkpoint after it, in one write
    /// transaction (appenders wait). `external` is the head kept outside the database, when
    /// there is one: the chain must contain it.
    pub async fn repair_audit_checkpoint(
        &self,
        actor: &str,
        at: DateTime<Utc>,
        external: Option<&AuditHeadSeal>,
    ) -> Result<RepairOutcome, StoreError> {
        let at = DateTime::from_timestamp_micros(at.timestamp_micros()).unwrap_or(at);
        let at_text = instant(at, "audit.at")?;
        let backend = self.backend();
        with_pool!(self, p => {
            let mut tx = begin_write(p, backend).await?;
            if backend == Backend::Postgres {
                sqlx::query("LOCK TABLE audit_log IN EXCLUSIVE MODE")
                    .execute(&mut *tx)
                    .await?;
            }
            let Some(audit_key) = load_dek!(self, &mut *tx, AUDIT_KEY_ID) else {
                return refused(RepairRefusal::NoAuditKey);
            };
            let key = ChainKey::new(&audit_key);
            let head: Option<HeadDbRow> =
                sqlx::query_as("SELECT keyed_from, seq, hash, mac FROM audit_head WHERE id = 1")
                    .fetch_optional(&mut *tx)
                    .await?;
            let head_valid = head
                .as_ref()
                .is_some_and(|h| same(&key.head_mac(h.keyed_from, h.seq, &h.hash), &h.mac));
            if let Some(s) = external
                && !same(&key.head_file_mac(s.keyed_from, s.seq, &s.hash), &s.mac)
            {
                return refused(RepairRefusal::HeadFile {
                    status: HeadFileStatus::BadSeal { head_seq: s.seq },
                });
            }

            // Every row, in order: gapless, linked, a legacy prefix then keyed rows.
            let mut walk = ChainWalk::new();
            let mut keyed_from: Option<i64> = None;
            let mut external_hash: Option<String> = None;
            loop {
                let page: Vec<AuditDbRow> =
                    sqlx::query_as(select_audit!("WHERE seq >= $1 ORDER BY seq LIMIT $2"))
                        .bind(walk.page_from())
                        .bind(VERIFY_PAGE)
                        .fetch_all(&mut *tx)
                        .await?;
                let n = page.len();
                for db_row in page {
                    let step = walk.step(AuditRow::try_from(db_row)?, |row, linked| {
                        if !linked {
                            return Some(AuditProblem::BrokenLink);
                        }
                        if same(&key.row_link(row), &row.hash) {
                            keyed_from.get_or_insert(row.seq);
                        } else if keyed_from.is_some() || !same(&legacy_link(row), &row.hash) {
                            return Some(AuditProblem::BadMac);
                        }
                        if external.is_some_and(|s| s.seq == row.seq) {
                            external_hash = Some(row.hash.clone());
                        }
                        None
                    });
                    if let Err((seq, problem)) = step {
                        return refused(RepairRefusal::Chain { seq, problem });
                    }
                }
                if n < VERIFY_PAGE as usize {
                    break;
                }
            }
            let (rows, last_seq, prev) = (walk.rows, walk.last_seq(), walk.prev);

            if let Some(s) = external {
                let status = match &external_hash {
                    Some(h) if same(h, &s.hash) => None,
                    Some(_) => Some(HeadFileStatus::Forked {
                        head_seq: s.seq,
                        db_seq: last_seq,
                    }),
                    None => Some(HeadFileStatus::RolledBack {
                        head_seq: s.seq,
                        db_seq: last_seq,
                    }),
                };
                if let Some(status) = status {
                    return refused(RepairRefusal::HeadFile { status });
                }
            }
            let previous = match &head {
                Some(h) if head_valid => {
                    let problem = if h.seq > last_seq {
                        AuditProblem::Truncated {
                            head_seq: h.seq,
                            last_seq,
                        }
                    } else if h.seq < last_seq {
                        AuditProblem::PastHead { head_seq: h.seq }
                    } else if !same(&h.hash, &prev) {
                        AuditProblem::HeadMismatch
                    } else {
                        return Ok(RepairOutcome::NotNeeded {
                            rows,
                            head_seq: h.seq,
                        });
                    };
                    return refused(RepairRefusal::CheckpointDisagrees { problem });
                }
                Some(h) => {
                    if h.seq > last_seq {
                        return refused(RepairRefusal::CheckpointAhead {
                            claimed_seq: h.seq,
                            last_seq,
                        });
                    }
                    AuditProblem::BadCheckpoint
                }
                None => AuditProblem::MissingCheckpoint,
            };
            if rows > 0 && keyed_from.is_none() {
                return refused(RepairRefusal::NoKeyedRows { rows });
            }

            let seq = last_seq
                .checked_add(1)
                .ok_or(StoreError::Corrupt("audit_log.seq"))?;
            let keyed_from = keyed_from.unwrap_or(seq);
            let decision = match previous {
                AuditProblem::MissingCheckpoint => "repaired:missing_checkpoint",
                _ => "repaired:bad_checkpoint",
            };
            let mut row = AuditRow {
                seq,
                at,
                actor: actor.to_owned(),
                subject: "okienko:audit".to_owned(),
                purpose: "system.audit_repair".to_owned(),
                action: "repair.checkpoint".to_owned(),
                decision: decision.to_owned(),
                channel: "cli".to_owned(),
                prev_hash: prev,
                hash: String::new(),
            };
            row.hash = key.row_link(&row);
            insert_audit_row!(tx, row, &at_text)?;
            let mac = key.head_mac(keyed_from, seq, &row.hash);
            write_audit_head!(tx, keyed_from, seq, &row.hash, &mac)?;
            tx.commit().await?;
            tracing::warn!(
                repair_seq = seq,
                rows_verified = rows,
                "audit checkpoint repaired after the chain verified"
            );
            Ok(RepairOutcome::Repaired {
                rows_verified: rows,
                previous,
                repair_seq: seq,
                seal: key.seal(keyed_from, seq, &row.hash),
            })
        })
    }
}
