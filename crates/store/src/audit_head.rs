//! The audit head kept outside the database: a small file holding the seq and keyed hash of the
//! last audit row, MACed under the audit key, replaced atomically after every committed batch.
//!
//! # Why
//!
//! The database's own checkpoint (`audit_head`) catches deleted last rows, but not the whole
//! database (rows, checkpoint and keys) replaced by an older copy of itself: that copy is
//! internally consistent. A head kept where the database's administrator cannot roll it back
//! together with the database (another volume, another host's mount, WORM storage) catches it:
//! the database must still contain the sealed head, i.e. have a row at the sealed seq with the
//! sealed hash. A copy restored from before it ends too early ([`HeadFileStatus::RolledBack`]);
//! one restored and then written again has another row at that seq
//! ([`HeadFileStatus::Forked`]).
//!
//! # Why it can never raise a false alarm
//!
//! The file is written after the batch it seals has committed (with `synchronous = FULL` on
//! SQLite), so the file never runs ahead of the database, even across a power loss: at worst it
//! is one batch behind, which only narrows what it can catch. Several writers (gateways on one
//! PostgreSQL database) may replace it in any order; every head they seal is on the one chain.
//!
//! # Limits
//!
//! It detects a rollback only to before the head the file holds, and only if the file itself was
//! not rolled back or deleted with the database: a missing file on a database with audit rows is
//! reported ([`HeadFileStatus::Missing`]), never taken as fine, but the gate then starts a new
//! one (an installation that predates the file has to start somewhere). The MAC is under the
//! audit key, which lives with the database: it proves the file was written by the store, not
//! that the keys were not rolled back too; the comparison with the rows is what catches that.

use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::audit::{AUDIT_KEY_ID, ChainKey, same};
use crate::error::StoreError;
use crate::store::{Backend, Store, with_pool};
use crate::vault::load_dek;

/// The `format` field of a head file.
pub const HEAD_FILE_FORMAT: &str = "okienko-audit-head/1";

/// The head of the audit chain sealed for keeping outside the database: the last row's seq and
/// keyed hash, the first keyed row, and a MAC over them under the audit key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditHeadSeal {
    pub keyed_from: i64,
    pub seq: i64,
    pub hash: String,
    pub mac: String,
}

#[derive(Serialize, Deserialize)]
struct HeadFile {
    format: String,
    #[serde(flatten)]
    seal: AuditHeadSeal,
}

/// Reading or writing the head file failed. Names the operation and the OS error class, never a
/// path's contents.
#[derive(Debug, thiserror::Error)]
pub enum HeadFileError {
    #[error("audit head file: {op} failed ({kind})")]
    Io {
        op: &'static str,
        kind: std::io::ErrorKind,
    },
    #[error("audit head file is not an okienko audit head (damaged, or another format)")]
    Format,
}

fn io(op: &'static str) -> impl FnOnce(std::io::Error) -> HeadFileError {
    move |e| HeadFileError::Io { op, kind: e.kind() }
}

impl AuditHeadSeal {
    /// The seal stored at `path`; `None` when there is no file.
    pub fn read(path: &Path) -> Result<Option<AuditHeadSeal>, HeadFileError> {
        let bytes = match std::fs::read(path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(io("read")(e)),
        };
        let file: HeadFile = serde_json::from_slice(&bytes).map_err(|_| HeadFileError::Format)?;
        if file.format != HEAD_FILE_FORMAT {
            return Err(HeadFileError::Format);
        }
        Ok(Some(file.seal))
    }

    /// Replaces the file at `path` with this seal atomically: written to a temporary file in the
    /// same directory, fsynced, renamed over the old one, and the directory fsynced, so a crash
    /// leaves either the old head or the new one, never a torn file. Blocking: call it from a
    /// blocking task.
    pub fn write_atomic(&self, path: &Path) -> Result<(), HeadFileError> {
        let file = HeadFile {
            format: HEAD_FILE_FORMAT.to_owned(),
            seal: self.clone(),
        };
        let bytes = serde_json::to_vec(&file).map_err(|_| HeadFileError::Format)?;
        let dir = match path.parent() {
            Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
            _ => PathBuf::from("."),
        };
        let mut tmp_name = path.file_name().unwrap_or_default().to_owned();
        tmp_name.push(format!(".tmp-{}", std::process::id()));
        let tmp = dir.join(tmp_name);
        let mut f = std::fs::File::create(&tmp).map_err(io("create"))?;
        f.write_all(&bytes).map_err(io("write"))?;
        f.sync_all().map_err(io("fsync"))?;
        drop(f);
        if let Err(e) = std::fs::rename(&tmp, path) {
            let _ = std::fs::remove_file(&tmp);
            return Err(io("rename")(e));
        }
        // The rename is durable once the directory is.
        #[cfg(unix)]
        std::fs::File::open(&dir)
            .and_then(|d| d.sync_all())
            .map_err(io("fsync directory"))?;
        Ok(())
    }
}

/// How the database compares with the head kept outside it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum HeadFileStatus {
    /// The database contains the sealed head (it may have gone on past it).
    Matches { head_seq: i64, db_seq: i64 },
    /// No head file and no audit rows: a fresh database, nothing to compare.
    NotYetWritten,
    /// No head file although the database has audit rows: a rollback cannot be ruled out.
    Missing { db_seq: i64 },
    /// The database ends before the sealed head: it was replaced by an older copy.
    RolledBack { head_seq: i64, db_seq: i64 },
    /// The database has another row at the sealed seq: it was replaced by an older copy and
    /// written to since.
    Forked { head_seq: i64, db_seq: i64 },
    /// The database has no audit key but the file seals a head: the database was replaced by
    /// one older than its first audit row, or the key was deleted.
    NoAuditKey { head_seq: i64, db_seq: i64 },
    /// The file's MAC does not verify under this database's audit key: the file was edited, or
    /// belongs to another database.
    BadSeal { head_seq: i64 },
    /// The file cannot be read or parsed.
    Unreadable { error: String },
}

impl HeadFileStatus {
    /// True when nothing suggests a rollback (a fresh database counts).
    pub fn is_ok(&self) -> bool {
        matches!(
            self,
            HeadFileStatus::Matches { .. } | HeadFileStatus::NotYetWritten
        )
    }

    /// One sentence for an operator.
    pub fn message(&self) -> String {
        match self {
            HeadFileStatus::Matches { head_seq, db_seq } => format!(
                "the database contains the head kept outside it (row {head_seq}; the log is at \
                 row {db_seq})"
            ),
            HeadFileStatus::NotYetWritten => {
                "no audit rows and no head file yet (a fresh database)".to_owned()
            }
            HeadFileStatus::Missing { db_seq } => format!(
                "the audit head file is missing although the log has {db_seq} rows: a rollback \
                 of the database cannot be ruled out"
            ),
            HeadFileStatus::RolledBack { head_seq, db_seq } => format!(
                "the database was rolled back: the audit head file records row {head_seq} but \
                 the log ends at row {db_seq}"
            ),
            HeadFileStatus::Forked { head_seq, db_seq } => format!(
                "the database was rolled back and written to since: its row {head_seq} is not \
                 the one the audit head file records (the log is now at row {db_seq})"
            ),
            HeadFileStatus::NoAuditKey { head_seq, db_seq } => format!(
                "the database has no audit key but the audit head file records row {head_seq} \
                 (the log has {db_seq} rows): the database was replaced by an older one"
            ),
            HeadFileStatus::BadSeal { head_seq } => format!(
                "the audit head file (row {head_seq}) does not verify under this database's \
                 audit key: it was edited, or belongs to another database"
            ),
            HeadFileStatus::Unreadable { error } => error.clone(),
        }
    }
}

impl Store {
    /// Compares the database with `seal`, the head kept outside it (`None`: there is no file),
    /// in one read snapshot.
    pub async fn check_audit_head(
        &self,
        seal: Option<&AuditHeadSeal>,
    ) -> Result<HeadFileStatus, StoreError> {
        let backend = self.backend();
        with_pool!(self, p => {
            let mut tx = p.begin().await?;
            if backend == Backend::Postgres {
                sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
                    .execute(&mut *tx)
                    .await?;
            }
            let db_seq: Option<i64> = sqlx::query_scalar("SELECT MAX(seq) FROM audit_log")
                .fetch_one(&mut *tx)
                .await?;
            let db_seq = db_seq.unwrap_or(0);
            let status = match seal {
                None if db_seq == 0 => HeadFileStatus::NotYetWritten,
                None => HeadFileStatus::Missing { db_seq },
                Some(s) => match load_dek!(self, &mut *tx, AUDIT_KEY_ID) {
                    None => HeadFileStatus::NoAuditKey {
                        head_seq: s.seq,
                        db_seq,
                    },
                    Some(k) => {
                        let key = ChainKey::new(&k);
                        if !same(&key.head_file_mac(s.keyed_from, s.seq, &s.hash), &s.mac) {
                            HeadFileStatus::BadSeal { head_seq: s.seq }
                        } else {
                            let hash: Option<String> =
                                sqlx::query_scalar("SELECT hash FROM audit_log WHERE seq = $1")
                                    .bind(s.seq)
                                    .fetch_optional(&mut *tx)
                                    .await?;
                            match hash {
                                Some(h) if same(&h, &s.hash) => HeadFileStatus::Matches {
                                    head_seq: s.seq,
                                    db_seq,
                                },
                                None if db_seq < s.seq => HeadFileStatus::RolledBack {
                                    head_seq: s.seq,
                                    db_seq,
                                },
                                _ => HeadFileStatus::Forked {
                                    head_seq: s.seq,
                                    db_seq,
                                },
                            }
                        }
                    }
                },
            };
            tx.commit().await?;
            Ok(status)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_file_round_trips_and_replaces_atomically() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("audit.head");
        assert_eq!(AuditHeadSeal::read(&path).unwrap(), None);
        let a = AuditHeadSeal {
            keyed_from: 1,
            seq: 5,
            hash: "ab".into(),
            mac: "cd".into(),
        };
        a.write_atomic(&path).unwrap();
        assert_eq!(AuditHeadSeal::read(&path).unwrap(), Some(a.clone()));
        let b = AuditHeadSeal { seq: 9, ..a };
        b.write_atomic(&path).unwrap();
        assert_eq!(AuditHeadSeal::read(&path).unwrap(), Some(b));
        // No temporary file is left behind.
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
        std::fs::write(&path, b"{\"format\":\"other\"}").unwrap();
        assert!(matches!(
            AuditHeadSeal::read(&path),
            Err(HeadFileError::Format)
        ));
    }
}
