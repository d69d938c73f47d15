//! The audit head kept outside the database: a small file holding the seq and keyed hash of the
//! last audit row, MACed under the audit key, replaced atomically after every committed batch
//! (two slots written in turn, each checksummed, so a crash mid-write leaves the other whole).
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

use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::audit::{AUDIT_KEY_ID, ChainKey, same};
use crate::error::StoreError;
use crate::store::{Backend, Store, with_pool};
use crate::vault::load_dek;

/// The `format` field of a head file's slots.
pub const HEAD_FILE_FORMAT: &str = "okienko-audit-head/2";

/// The format of the first head files: one JSON object, replaced by renaming a new file over it.
/// Still read; replaced by the two-slot format at the first write.
const LEGACY_FORMAT: &str = "okienko-audit-head/1";

/// A head file is two slots of this many bytes, written in turn in place.
const SLOT: usize = 512;
const MAGIC: &[u8; 4] = b"OKH2";
/// Magic, generation (u64 LE) and JSON length (u16 LE) before the JSON; its SHA-256 after.
const SLOT_HEADER: usize = 4 + 8 + 2;
const SLOT_CHECK: usize = 32;

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
    /// The seal stored at `path`; `None` when there is no file. Of the two slots, the one written
    /// last that is whole; a slot torn by a crash while it was written is passed over.
    pub fn read(path: &Path) -> Result<Option<AuditHeadSeal>, HeadFileError> {
        let bytes = match std::fs::read(path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(io("read")(e)),
        };
        if bytes.first() == Some(&b'{') {
            return legacy(&bytes).map(Some);
        }
        newest(&bytes)
            .map(|(_, _, seal)| Some(seal))
            .ok_or(HeadFileError::Format)
    }

    /// Keeps this seal in the file at `path`, so that a crash at any point leaves the previous
    /// head or this one, never a torn file: the slot not holding the newest head is overwritten in
    /// place and flushed to disk (`fdatasync`), under an exclusive lock on the file so that
    /// gateways sharing it write one after another. The newest head stays whole in the other
    /// slot until this one is. A missing or old-format file is first replaced whole: written
    /// beside it, flushed, renamed over it, and the directory flushed. Blocking: call it from a
    /// blocking task.
    ///
    /// In place rather than renamed every time: a rename per audit batch cost a metadata journal
    /// commit and a directory flush, most of the batch's time on disk (issue 9).
    pub fn write_atomic(&self, path: &Path) -> Result<(), HeadFileError> {
        let mut file = match std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open(path)
        {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return self.create(path);
            }
            Err(e) => return Err(io("open")(e)),
        };
        match file.lock() {
            // A file system without locks: two gateways writing at once aim at the same slot
            // (the one not holding the newest head), so at worst they tear that one, and the
            // head before stays whole in the other.
            Err(e) if e.kind() == std::io::ErrorKind::Unsupported => {}
            other => other.map_err(io("lock"))?,
        }
        let mut bytes = Vec::with_capacity(2 * SLOT);
        file.read_to_end(&mut bytes).map_err(io("read"))?;
        if bytes.len() != 2 * SLOT || bytes.first() == Some(&b'{') {
            // An old-format or damaged file: replaced whole (a damaged one is reported by
            // `okienko audit verify` until then, and checked before the first write).
            return self.create(path);
        }
        let (slot, generation) = match newest(&bytes) {
            Some((slot, generation, _)) => match generation.checked_add(1) {
                Some(next) => (1 - slot, next),
                // A generation no writer reaches (an edited file): start the count again.
                None => return self.create(path),
            },
            None => (0, 1),
        };
        let data = self.slot_bytes(generation)?;
        file.seek(SeekFrom::Start((slot * SLOT) as u64))
            .map_err(io("seek"))?;
        file.write_all(&data).map_err(io("write"))?;
        file.sync_data().map_err(io("fsync"))?;
        Ok(())
    }

    /// A new two-slot file holding this seal, put in place by a rename.
    fn create(&self, path: &Path) -> Result<(), HeadFileError> {
        let mut bytes = self.slot_bytes(1)?;
        bytes.resize(2 * SLOT, 0);
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

    /// One slot: magic, generation, the JSON's length, the JSON, the SHA-256 of all before it.
    fn slot_bytes(&self, generation: u64) -> Result<Vec<u8>, HeadFileError> {
        let file = HeadFile {
            format: HEAD_FILE_FORMAT.to_owned(),
            seal: self.clone(),
        };
        let json = serde_json::to_vec(&file).map_err(|_| HeadFileError::Format)?;
        let len = u16::try_from(json.len())
            .ok()
            .filter(|l| usize::from(*l) <= SLOT - SLOT_HEADER - SLOT_CHECK)
            .ok_or(HeadFileError::Format)?;
        let mut out = Vec::with_capacity(SLOT);
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(&generation.to_le_bytes());
        out.extend_from_slice(&len.to_le_bytes());
        out.extend_from_slice(&json);
        let check = Sha256::digest(&out);
        out.extend_from_slice(&check);
        out.resize(SLOT, 0);
        Ok(out)
    }
}

/// A file in the first format: one JSON object.
fn legacy(bytes: &[u8]) -> Result<AuditHeadSeal, HeadFileError> {
    let file: HeadFile = serde_json::from_slice(bytes).map_err(|_| HeadFileError::Format)?;
    if file.format != LEGACY_FORMAT {
        return Err(HeadFileError::Format);
    }
    Ok(file.seal)
}

/// The whole slot written last: (slot, generation, seal); `None` when neither is whole.
fn newest(bytes: &[u8]) -> Option<(usize, u64, AuditHeadSeal)> {
    (0..2)
        .filter_map(|i| {
            let slot = bytes.get(i * SLOT..(i + 1) * SLOT)?;
            let (generation, seal) = parse_slot(slot)?;
            Some((i, generation, seal))
        })
        .max_by_key(|(_, generation, _)| *generation)
}

fn parse_slot(slot: &[u8]) -> Option<(u64, AuditHeadSeal)> {
    if slot.get(..4)? != MAGIC {
        return None;
    }
    let generation = u64::from_le_bytes(slot.get(4..12)?.try_into().ok()?);
    let len = usize::from(u16::from_le_bytes(slot.get(12..14)?.try_into().ok()?));
    let end = SLOT_HEADER + len;
    let check = slot.get(end..end + SLOT_CHECK)?;
    if Sha256::digest(&slot[..end])[..] != *check {
        return None;
    }
    let file: HeadFile = serde_json::from_slice(&slot[SLOT_HEADER..end]).ok()?;
    (file.format == HEAD_FILE_FORMAT).then_some((generation, file.seal))
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

    fn seal(seq: i64) -> AuditHeadSeal {
        AuditHeadSeal {
            keyed_from: 1,
            seq,
            hash: format!("{seq:064x}"),
            mac: format!("{:064x}", seq * 7),
        }
    }

    #[test]
    fn slots_are_written_in_turn_and_a_torn_one_leaves_the_other() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("audit.head");
        seal(1).write_atomic(&path).unwrap();
        seal(2).write_atomic(&path).unwrap();
        seal(3).write_atomic(&path).unwrap();
        let bytes = std::fs::read(&path).unwrap();
        assert_eq!(bytes.len(), 2 * SLOT);
        // 1 went to slot 0, 2 to slot 1, 3 over 1 in slot 0.
        assert_eq!(parse_slot(&bytes[..SLOT]).unwrap(), (3, seal(3)));
        assert_eq!(parse_slot(&bytes[SLOT..]).unwrap(), (2, seal(2)));
        assert_eq!(AuditHeadSeal::read(&path).unwrap(), Some(seal(3)));

        // A crash while slot 0 was rewritten (any byte of it wrong): the head before it is read.
        for at in [0, 5, 13, 40, SLOT_HEADER + 60] {
            let mut torn = bytes.clone();
            torn[at] ^= 0x20;
            std::fs::write(&path, &torn).unwrap();
            assert_eq!(
                AuditHeadSeal::read(&path).unwrap(),
                Some(seal(2)),
                "byte {at}"
            );
        }
        // The next write goes over the torn slot, and is then the newest.
        seal(4).write_atomic(&path).unwrap();
        let bytes = std::fs::read(&path).unwrap();
        assert_eq!(parse_slot(&bytes[..SLOT]).unwrap(), (3, seal(4)));
        assert_eq!(AuditHeadSeal::read(&path).unwrap(), Some(seal(4)));

        // The newest written wins, whatever its seq: an edited head is what the file says.
        seal(1).write_atomic(&path).unwrap();
        assert_eq!(AuditHeadSeal::read(&path).unwrap(), Some(seal(1)));

        // A slot at the last generation (written by hand): the next write starts afresh.
        let mut edited = seal(5).slot_bytes(u64::MAX).unwrap();
        edited.resize(2 * SLOT, 0);
        std::fs::write(&path, &edited).unwrap();
        seal(6).write_atomic(&path).unwrap();
        assert_eq!(AuditHeadSeal::read(&path).unwrap(), Some(seal(6)));

        // Neither slot whole: not a head file.
        std::fs::write(&path, vec![0u8; 2 * SLOT]).unwrap();
        assert!(matches!(
            AuditHeadSeal::read(&path),
            Err(HeadFileError::Format)
        ));
    }

    #[test]
    fn a_first_format_file_is_read_and_replaced_at_the_next_write() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("audit.head");
        let old = serde_json::json!({
            "format": LEGACY_FORMAT,
            "keyed_from": 1,
            "seq": 7,
            "hash": seal(7).hash,
            "mac": seal(7).mac,
        });
        std::fs::write(&path, old.to_string()).unwrap();
        assert_eq!(AuditHeadSeal::read(&path).unwrap(), Some(seal(7)));
        seal(8).write_atomic(&path).unwrap();
        assert_eq!(std::fs::read(&path).unwrap().len(), 2 * SLOT);
        assert_eq!(AuditHeadSeal::read(&path).unwrap(), Some(seal(8)));
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }
}
