//! Persistence and integrity of the audit log: append-only (the schema's triggers refuse UPDATE and
//! DELETE), gapless sequence numbers, a keyed hash chain and a keyed head checkpoint.
//!
//! # Why keyed, and why a checkpoint
//!
//! A plain SHA-256 chain shows a row changed, deleted or reordered in the middle, but anyone who
//! can write the database can also drop the last rows (nothing points at them) or rewrite the
//! whole chain and recompute every hash. So:
//!
//! * each row's `hash` is HMAC-SHA256 over its fields and the previous row's `hash`, under the
//!   *audit key*; without the key no one can compute a valid link for a changed or forged row;
//! * the `audit_head` table (migration 0013) holds one checkpoint: the seq and hash of the last
//!   row, MACed under the same key and updated in the same transaction as every append; deleting
//!   the last rows leaves the checkpoint pointing past the end, and it cannot be moved back
//!   without the key.
//!
//! The audit key is a random 256-bit key stored like a customer's data key (wrapped under the
//! active master key, in `customer_keys` under the reserved id [`AUDIT_KEY_ID`]), and the MAC key
//! is derived from it with HKDF-SHA256 and its own info label. Deriving the MAC key straight from
//! the master key would make every row unverifiable once that master key is rotated out; wrapped
//! this way, `rotate_master_key` re-wraps the audit key with the customers' keys and the master
//! key never leaves the key handling (`crypto`, `vault`).
//!
//! # Databases written before the keyed chain
//!
//! Rows written before migration 0013 carry the unkeyed SHA-256 link (`legacy_link`). The first
//! keyed append records `keyed_from` (its own seq) in the checkpoint, covered by the checkpoint's
//! MAC; older rows are checked with the unkeyed link, and since the first keyed row's MAC covers
//! the last legacy row's hash, rewriting the legacy rows afterwards is detected too.
//!
//! # Concurrency
//!
//! Appends come one at a time ([`Store::append_audit`]) or as a batch in one transaction
//! ([`Store::append_audit_batch`], the privacy gate's group commit); a batch links and MACs each
//! row exactly like single appends, and moves the checkpoint once.
//! Appends are serialised by the database: `BEGIN IMMEDIATE` on SQLite (the write lock), and
//! `LOCK TABLE audit_log IN EXCLUSIVE MODE` on PostgreSQL (readers are not blocked). Reading the
//! last row, inserting the next one and moving the checkpoint happen in that one transaction, so
//! appenders in several tasks or processes never fork the chain. [`Store::verify_audit`] reads
//! the checkpoint and the rows in one snapshot (REPEATABLE READ on PostgreSQL, one read
//! transaction on SQLite), so appends running meanwhile do not show as tampering.
//!
//! Appends never launder tampering: they go on from the row the checkpoint vouches for (so
//! deleted last rows stay a gap, forged rows stay unlinked), and refuse (`Corrupt("audit_head")`)
//! when the checkpoint is forged or missing. On SQLite the audit key lives in the `.keys` file;
//! a crash between the two files' commits of the very first keyed append (SQLite commits attached
//! WAL databases one by one) would show as a missing checkpoint.
//!
//! What this cannot detect alone: tampering before the first keyed append of a legacy database,
//! and replacing the whole database (rows, checkpoint and keys) by an older copy of itself. The
//! latter is what the head kept outside the database is for ([`crate::audit_head`]): every
//! committed batch also returns its head sealed under the audit key, the privacy gate writes it to
//! a file the database's administrator cannot roll back with the database, and
//! [`Store::check_audit_head`] says whether the database still contains that head.
//!
//! A checkpoint that no longer verifies stops appends (and so every gated read) until an operator
//! runs [`Store::repair_audit_checkpoint`] (`okienko audit repair-checkpoint`), which re-verifies
//! the whole chain under the key and reseals only an intact chain (see `audit_repair`).

use std::fmt;

use chrono::{DateTime, SecondsFormat, Utc};
use hmac::{Hmac, Mac};
use serde::Serialize;
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

use crate::audit_head::AuditHeadSeal;
use crate::codec::{instant, read_instant};
use crate::crypto::DataKey;
use crate::error::StoreError;
use crate::records::AuditRow;
use crate::store::{Backend, Store, begin_write, with_pool};
use crate::vault::{dek_for_write, load_dek};

/// The hash the first row points back to.
pub const AUDIT_GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// The reserved `customer_keys` id the audit key is stored under (not a customer id: those are
/// UUIDs).
pub(crate) const AUDIT_KEY_ID: &str = "okienko:audit-chain";

/// HKDF info label of the audit MAC key (distinct from every other use of a stored key).
const MAC_KEY_INFO: &[u8] = b"okienko/v1/audit-chain-mac";
const ROW_LABEL: &str = "okienko/v1/audit-row";
const HEAD_LABEL: &str = "okienko/v1/audit-head";
/// The head kept outside the database (`audit_head_file`): its own label, so a file's MAC can
/// never pass for the database checkpoint's, nor the other way round.
const HEAD_FILE_LABEL: &str = "okienko/v1/audit-head-file";

/// Rows read per page while verifying.
pub(crate) const VERIFY_PAGE: i64 = 1000;

type HmacSha256 = Hmac<Sha256>;

macro_rules! select_audit {
    ($tail:literal) => {
        concat!(
            "SELECT seq, at, actor, subject, purpose, action, decision, channel, prev_hash, hash \
             FROM audit_log ",
            $tail
        )
    };
}
pub(crate) use select_audit;

/// Inserts `$row` (an [`AuditRow`]; `$at`: its instant as stored text) on the transaction `$tx`.
/// A macro, so the one statement serves both backends inside `with_pool!`.
macro_rules! insert_audit_row {
    ($tx:expr, $row:expr, $at:expr) => {
        sqlx::query(
            "INSERT INTO audit_log (seq, at, actor, subject, purpose, action, decision, channel, \
             prev_hash, hash) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
        )
        .bind($row.seq)
        .bind($at)
        .bind(&$row.actor)
        .bind(&$row.subject)
        .bind(&$row.purpose)
        .bind(&$row.action)
        .bind(&$row.decision)
        .bind(&$row.channel)
        .bind(&$row.prev_hash)
        .bind(&$row.hash)
        .execute(&mut *$tx)
        .await
    };
}
pub(crate) use insert_audit_row;

/// Audit rows per INSERT statement in a batch (10 values each: well under either database's
/// limit on bound parameters).
const INSERT_CHUNK: usize = 100;

/// Writes the checkpoint (one row, id 1) on the transaction `$tx`.
macro_rules! write_audit_head {
    ($tx:expr, $keyed_from:expr, $seq:expr, $hash:expr, $mac:expr) => {
        sqlx::query(
            "INSERT INTO audit_head (id, keyed_from, seq, hash, mac) VALUES (1, $1, $2, $3, $4) \
             ON CONFLICT (id) DO UPDATE SET keyed_from = excluded.keyed_from, \
             seq = excluded.seq, hash = excluded.hash, mac = excluded.mac",
        )
        .bind($keyed_from)
        .bind($seq)
        .bind($hash)
        .bind($mac)
        .execute(&mut *$tx)
        .await
    };
}
pub(crate) use write_audit_head;

/// [`write_audit_head!`]'s statement, for direct connections (positional parameters).
const WRITE_AUDIT_HEAD: &str = "INSERT INTO audit_head (id, keyed_from, seq, hash, mac) \
     VALUES (1, ?1, ?2, ?3, ?4) ON CONFLICT (id) DO UPDATE SET \
     keyed_from = excluded.keyed_from, seq = excluded.seq, hash = excluded.hash, mac = excluded.mac";
/// The chain's last row.
const LAST_AUDIT_ROW: &str = "SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1";
/// The checkpoint.
const AUDIT_HEAD: &str = "SELECT keyed_from, seq, hash, mac FROM audit_head WHERE id = 1";

/// A batch linked onto the chain, ready to insert, with the checkpoint that will vouch for it.
struct Chained<'a> {
    keyed_from: i64,
    rows: Vec<(AuditRow, &'a str)>,
    mac: String,
    seal: AuditHeadSeal,
}

impl Chained<'_> {
    /// The checkpoint's values: (keyed_from, last seq, last hash).
    fn end(&self) -> Result<(i64, i64, &str), StoreError> {
        match self.rows.last() {
            Some((r, _)) => Ok((self.keyed_from, r.seq, r.hash.as_str())),
            None => Err(StoreError::Corrupt("audit_log")),
        }
    }

    fn finish(self) -> (Vec<AuditRow>, AuditHeadSeal) {
        (self.rows.into_iter().map(|(r, _)| r).collect(), self.seal)
    }
}

/// Links `entries` onto the chain whose end is `last` and whose checkpoint is `head`.
///
/// Appending must never launder tampering into a fresh, valid checkpoint. A forged or missing
/// checkpoint stops appends (the gate then fails closed) until an operator has looked at
/// `okienko audit verify`; otherwise the chain goes on from the row the checkpoint vouches for,
/// so deleted last rows stay a gap and rows appended around the store stay unlinked.
fn chain<'a>(
    key: &ChainKey,
    key_existed: bool,
    head: Option<HeadDbRow>,
    last: Option<(i64, String)>,
    entries: &[AuditEntry],
    stamps: &'a [(DateTime<Utc>, String)],
) -> Result<Chained<'a>, StoreError> {
    let (mut seq, mut prev_hash) = match (&head, last) {
        (Some(h), last) => {
            if !same(&key.head_mac(h.keyed_from, h.seq, &h.hash), &h.mac) {
                tracing::error!("audit checkpoint does not verify; refusing to append");
                return Err(StoreError::Corrupt("audit_head"));
            }
            let top = last.map_or(h.seq, |(seq, _)| seq.max(h.seq));
            (
                top.checked_add(1)
                    .ok_or(StoreError::Corrupt("audit_log.seq"))?,
                h.hash.clone(),
            )
        }
        (None, _) if key_existed => {
            // (On SQLite a crash between committing the key file and the main file of the very
            // first keyed append could also leave this state; see the docs.)
            tracing::error!("audit checkpoint missing; refusing to append");
            return Err(StoreError::Corrupt("audit_head"));
        }
        (None, Some((seq, hash))) => (
            seq.checked_add(1)
                .ok_or(StoreError::Corrupt("audit_log.seq"))?,
            hash,
        ),
        (None, None) => (1, AUDIT_GENESIS.to_owned()),
    };
    // The first keyed row of a database written before 0013 starts the keyed part.
    let keyed_from = head.as_ref().map_or(seq, |h| h.keyed_from);
    let mut rows = Vec::with_capacity(entries.len());
    for (e, (at, at_text)) in entries.iter().zip(stamps) {
        let mut row = AuditRow {
            seq,
            at: *at,
            actor: e.actor.clone(),
            subject: e.subject.clone(),
            purpose: e.purpose.clone(),
            action: e.action.clone(),
            decision: e.decision.clone(),
            channel: e.channel.clone(),
            prev_hash: std::mem::take(&mut prev_hash),
            hash: String::new(),
        };
        row.hash = key.row_link(&row);
        prev_hash = row.hash.clone();
        seq = seq
            .checked_add(1)
            .ok_or(StoreError::Corrupt("audit_log.seq"))?;
        rows.push((row, at_text.as_str()));
    }
    let (last_seq, last_hash) = match rows.last() {
        Some((r, _)) => (r.seq, r.hash.as_str()),
        None => return Err(StoreError::Corrupt("audit_log")),
    };
    let mac = key.head_mac(keyed_from, last_seq, last_hash);
    let seal = key.seal(keyed_from, last_seq, last_hash);
    Ok(Chained {
        keyed_from,
        rows,
        mac,
        seal,
    })
}

/// What is appended: the store assigns `seq`, the link to the previous row and the row's MAC.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditEntry {
    pub at: DateTime<Utc>,
    pub actor: String,
    pub subject: String,
    pub purpose: String,
    pub action: String,
    pub decision: String,
    pub channel: String,
}

/// Why [`Store::verify_audit`] rejects the audit log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum AuditProblem {
    /// A row is missing (deleted) or out of place (reordered): `found` where `expected` should be.
    Gap { expected: i64, found: i64 },
    /// The row does not point to the previous row's hash (rows moved or replaced).
    BrokenLink,
    /// The row's content does not match its keyed hash (changed, forged, or rehashed without
    /// the key).
    BadMac,
    /// The checkpoint says the log goes up to `head_seq`, but it ends at `last_seq`: the last
    /// rows were deleted.
    Truncated { head_seq: i64, last_seq: i64 },
    /// Rows go on past the checkpoint: appended around the store.
    PastHead { head_seq: i64 },
    /// The checkpoint names a last row whose hash is not the actual last row's.
    HeadMismatch,
    /// The checkpoint's own MAC is wrong (edited without the key).
    BadCheckpoint,
    /// The audit key exists, so keyed rows were written, but the checkpoint is gone.
    MissingCheckpoint,
    /// A checkpoint exists but the audit key that signs it is gone.
    MissingKey,
}

impl fmt::Display for AuditProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AuditProblem::Gap { expected, found } => write!(
                f,
                "expected row {expected}, found row {found}: rows deleted or reordered"
            ),
            AuditProblem::BrokenLink => {
                f.write_str("row does not point to the previous row's hash")
            }
            AuditProblem::BadMac => f.write_str("row content does not match its keyed hash"),
            AuditProblem::Truncated { head_seq, last_seq } => write!(
                f,
                "the checkpoint records {head_seq} rows but the log ends at row {last_seq}: \
                 the last rows were deleted"
            ),
            AuditProblem::PastHead { head_seq } => write!(
                f,
                "rows after the checkpoint's last row {head_seq}: appended around the store"
            ),
            AuditProblem::HeadMismatch => {
                f.write_str("the checkpoint does not match the last row's hash")
            }
            AuditProblem::BadCheckpoint => f.write_str("the checkpoint's MAC is wrong"),
            AuditProblem::MissingCheckpoint => {
                f.write_str("the audit checkpoint is missing although keyed rows were written")
            }
            AuditProblem::MissingKey => {
                f.write_str("the audit key is missing although a checkpoint exists")
            }
        }
    }
}

/// The outcome of [`Store::verify_audit`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AuditCheck {
    /// Rows read (up to and including the first broken one).
    pub rows: u64,
    /// The row where the log breaks (for a truncated log: the first missing row).
    pub first_broken_seq: Option<i64>,
    pub problem: Option<AuditProblem>,
    /// The checkpoint: last row's seq and hash (`None` before the first keyed append).
    pub head_seq: Option<i64>,
    pub head_hash: Option<String>,
    /// The first row protected by the key (older rows were written before the keyed chain).
    pub keyed_from: Option<i64>,
}

#[derive(sqlx::FromRow)]
pub(crate) struct AuditDbRow {
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

#[derive(sqlx::FromRow)]
pub(crate) struct HeadDbRow {
    pub(crate) keyed_from: i64,
    pub(crate) seq: i64,
    pub(crate) hash: String,
    pub(crate) mac: String,
}

fn hex(bytes: &[u8]) -> String {
    hex::encode(bytes)
}

/// Length-prefixed fields, so no two different rows encode to the same bytes.
fn row_fields(row: &AuditRow) -> [String; 9] {
    [
        row.prev_hash.clone(),
        row.seq.to_string(),
        row.at.to_rfc3339_opts(SecondsFormat::Micros, true),
        row.actor.clone(),
        row.subject.clone(),
        row.purpose.clone(),
        row.action.clone(),
        row.decision.clone(),
        row.channel.clone(),
    ]
}

/// The unkeyed SHA-256 link of rows written before migration 0013.
pub(crate) fn legacy_link(row: &AuditRow) -> String {
    let mut h = Sha256::new();
    for field in row_fields(row) {
        h.update((field.len() as u64).to_be_bytes());
        h.update(field.as_bytes());
    }
    hex(&h.finalize())
}

/// The MAC key of the audit chain, derived from the stored audit key. Zeroed on drop.
pub(crate) struct ChainKey(Zeroizing<[u8; 32]>);

impl ChainKey {
    pub(crate) fn new(audit_key: &DataKey) -> ChainKey {
        ChainKey(audit_key.derive(MAC_KEY_INFO))
    }

    fn mac(&self, label: &str, fields: &[&str]) -> String {
        // HMAC takes keys of any length; a 32-byte key cannot be refused.
        let Ok(mut m) = HmacSha256::new_from_slice(self.0.as_ref()) else {
            return String::new();
        };
        for field in std::iter::once(label).chain(fields.iter().copied()) {
            m.update(&(field.len() as u64).to_be_bytes());
            m.update(field.as_bytes());
        }
        hex(&m.finalize().into_bytes())
    }

    pub(crate) fn row_link(&self, row: &AuditRow) -> String {
        let fields = row_fields(row);
        let refs: Vec<&str> = fields.iter().map(String::as_str).collect();
        self.mac(ROW_LABEL, &refs)
    }

    pub(crate) fn head_mac(&self, keyed_from: i64, seq: i64, hash: &str) -> String {
        self.mac(
            HEAD_LABEL,
            &[&keyed_from.to_string(), &seq.to_string(), hash],
        )
    }

    /// The MAC of a head kept outside the database ([`AuditHeadSeal`]).
    pub(crate) fn head_file_mac(&self, keyed_from: i64, seq: i64, hash: &str) -> String {
        self.mac(
            HEAD_FILE_LABEL,
            &[&keyed_from.to_string(), &seq.to_string(), hash],
        )
    }

    pub(crate) fn seal(&self, keyed_from: i64, seq: i64, hash: &str) -> AuditHeadSeal {
        AuditHeadSeal {
            keyed_from,
            seq,
            hash: hash.to_owned(),
            mac: self.head_file_mac(keyed_from, seq, hash),
        }
    }
}

/// Compares MACs in constant time (their length is public).
pub(crate) fn same(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

fn broken(rows: u64, seq: i64, problem: AuditProblem, head: &Option<HeadDbRow>) -> AuditCheck {
    AuditCheck {
        rows,
        first_broken_seq: Some(seq),
        problem: Some(problem),
        head_seq: head.as_ref().map(|h| h.seq),
        head_hash: head.as_ref().map(|h| h.hash.clone()),
        keyed_from: head.as_ref().map(|h| h.keyed_from),
    }
}

/// A walk along the chain from row 1, shared by [`Store::verify_audit`] and the checkpoint repair:
/// it reads the rows page by page (`page_from`), checks that each comes in order (gapless) and
/// tells the caller whether it points to the previous row's hash; what else a row must satisfy
/// (its MAC, the checkpoint) is the caller's `check`.
pub(crate) struct ChainWalk {
    /// The hash of the last row walked past (the genesis hash before row 1).
    pub(crate) prev: String,
    /// The seq the next row must have.
    pub(crate) expected: i64,
    /// Rows read so far, including a broken one.
    pub(crate) rows: u64,
}

impl ChainWalk {
    pub(crate) fn new() -> ChainWalk {
        ChainWalk {
            prev: AUDIT_GENESIS.to_owned(),
            expected: 1,
            rows: 0,
        }
    }

    /// Where the next page starts.
    pub(crate) fn page_from(&self) -> i64 {
        self.expected
    }

    /// Takes the next row. `check(row, linked)` decides what is wrong with a row that is in
    /// order (`linked`: it points to the previous row's hash). Fails with the first row the
    /// problem is about (for a gap, the first missing row).
    pub(crate) fn step(
        &mut self,
        row: AuditRow,
        check: impl FnOnce(&AuditRow, bool) -> Option<AuditProblem>,
    ) -> Result<(), (i64, AuditProblem)> {
        self.rows += 1;
        let problem = if row.seq != self.expected {
            Some(AuditProblem::Gap {
                expected: self.expected,
                found: row.seq,
            })
        } else {
            check(&row, row.prev_hash == self.prev)
        };
        if let Some(problem) = problem {
            return Err((self.expected, problem));
        }
        self.prev = row.hash;
        self.expected += 1;
        Ok(())
    }

    /// The last row walked past (0 before any).
    pub(crate) fn last_seq(&self) -> i64 {
        self.expected - 1
    }
}

impl Store {
    /// Appends `e` as the next row (seq 1, 2, 3, … without gaps), links and MACs it under the
    /// audit key (created on the first append) and moves the checkpoint, all in one transaction.
    /// Returns the stored row.
    pub async fn append_audit(&self, e: &AuditEntry) -> Result<AuditRow, StoreError> {
        self.append_audit_batch(std::slice::from_ref(e))
            .await?
            .pop()
            .ok_or(StoreError::Corrupt("audit_log"))
    }

    /// Appends `entries` as the next rows, in the order given, in one transaction (group commit):
    /// each row is linked to the one before it and MACed exactly as [`Store::append_audit`] does,
    /// and the checkpoint moves once, to the last row. All or none are written. Returns the stored
    /// rows in order; an empty batch writes nothing.
    ///
    /// On SQLite the rows go to the audit file, which commits with `synchronous = FULL` (the WAL
    /// is fsynced before the commit returns), so an audit row survives a power loss too, not only
    /// a process crash; the main file keeps `NORMAL` (see `store.rs`, `audit_file`). One fsync per
    /// batch, not per row.
    pub async fn append_audit_batch(
        &self,
        entries: &[AuditEntry],
    ) -> Result<Vec<AuditRow>, StoreError> {
        Ok(self
            .append_audit_batch_sealed(entries)
            .await?
            .map(|(rows, _)| rows)
            .unwrap_or_default())
    }

    /// As [`Store::append_audit_batch`], and also returns the new head sealed for keeping outside
    /// the database ([`AuditHeadSeal::write_atomic`]); `None` for an empty batch.
    pub async fn append_audit_batch_sealed(
        &self,
        entries: &[AuditEntry],
    ) -> Result<Option<(Vec<AuditRow>, AuditHeadSeal)>, StoreError> {
        if entries.is_empty() {
            return Ok(None);
        }
        // Micro-second precision, so the MAC survives a round trip through either database.
        let mut stamps = Vec::with_capacity(entries.len());
        for e in entries {
            let at = DateTime::from_timestamp_micros(e.at.timestamp_micros()).unwrap_or(e.at);
            stamps.push((at, instant(at, "audit.at")?));
        }
        if let Some(direct) = self.direct() {
            // Written before every answer leaves: directly, one hop for the transaction.
            let store = self.clone();
            let entries = entries.to_vec();
            let stamps_owned = stamps.clone();
            let appended = direct
                .write(move |conn| store.append_audit_direct(conn, &entries, &stamps_owned))
                .await?;
            if let Some(out) = appended {
                return Ok(Some(out));
            }
            // No audit key yet (the very first append): the path below creates it.
        }
        let backend = self.backend();
        with_pool!(self, p => {
            let mut tx = begin_write(p, backend).await?;
            if backend == Backend::Postgres {
                // Serialises appenders; readers are not blocked.
                sqlx::query("LOCK TABLE audit_log IN EXCLUSIVE MODE")
                    .execute(&mut *tx)
                    .await?;
            }
            let key_existed = load_dek!(self, &mut *tx, AUDIT_KEY_ID).is_some();
            let key = ChainKey::new(&dek_for_write!(self, &mut *tx, AUDIT_KEY_ID));
            let last: Option<(i64, String)> = sqlx::query_as(LAST_AUDIT_ROW)
                .fetch_optional(&mut *tx)
                .await?;
            let head: Option<HeadDbRow> = sqlx::query_as(AUDIT_HEAD)
                .fetch_optional(&mut *tx)
                .await?;
            let chained = chain(&key, key_existed, head, last, entries, &stamps)?;
            // Many rows per statement: a statement is a round trip to sqlx's SQLite thread.
            for chunk in chained.rows.chunks(INSERT_CHUNK) {
                let mut insert = sqlx::QueryBuilder::new(
                    "INSERT INTO audit_log (seq, at, actor, subject, purpose, action, decision, \
                     channel, prev_hash, hash) ",
                );
                insert.push_values(chunk, |mut b, (row, at_text)| {
                    b.push_bind(row.seq)
                        .push_bind(*at_text)
                        .push_bind(&row.actor)
                        .push_bind(&row.subject)
                        .push_bind(&row.purpose)
                        .push_bind(&row.action)
                        .push_bind(&row.decision)
                        .push_bind(&row.channel)
                        .push_bind(&row.prev_hash)
                        .push_bind(&row.hash);
                });
                insert.build().execute(&mut *tx).await?;
            }
            let (keyed_from, last_seq, last_hash) = chained.end()?;
            write_audit_head!(tx, keyed_from, last_seq, last_hash, &chained.mac)?;
            tx.commit().await?;
            Ok(Some(chained.finish()))
        })
    }

    /// [`Store::append_audit_batch_sealed`] on the direct SQLite writer (`direct.rs`): the same
    /// statements in one immediate transaction; `None`, having written nothing, before the audit
    /// key exists.
    fn append_audit_direct(
        &self,
        conn: &mut rusqlite::Connection,
        entries: &[AuditEntry],
        stamps: &[(DateTime<Utc>, String)],
    ) -> Result<Option<(Vec<AuditRow>, AuditHeadSeal)>, StoreError> {
        use rusqlite::{OptionalExtension as _, params};
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let Some(dek) = self.load_dek_direct(&tx, AUDIT_KEY_ID)? else {
            return Ok(None);
        };
        let key = ChainKey::new(&dek);
        let last: Option<(i64, String)> = tx
            .prepare_cached(LAST_AUDIT_ROW)?
            .query_row([], |r| Ok((r.get(0)?, r.get(1)?)))
            .optional()?;
        let head: Option<HeadDbRow> = tx
            .prepare_cached(AUDIT_HEAD)?
            .query_row([], |r| {
                Ok(HeadDbRow {
                    keyed_from: r.get(0)?,
                    seq: r.get(1)?,
                    hash: r.get(2)?,
                    mac: r.get(3)?,
                })
            })
            .optional()?;
        let chained = chain(&key, true, head, last, entries, stamps)?;
        {
            let mut insert = tx.prepare_cached(
                "INSERT INTO audit_log (seq, at, actor, subject, purpose, action, decision, \
                 channel, prev_hash, hash) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
            )?;
            for (row, at_text) in &chained.rows {
                insert.execute(params![
                    row.seq,
                    at_text,
                    row.actor,
                    row.subject,
                    row.purpose,
                    row.action,
                    row.decision,
                    row.channel,
                    row.prev_hash,
                    row.hash
                ])?;
            }
            let (keyed_from, last_seq, last_hash) = chained.end()?;
            tx.prepare_cached(WRITE_AUDIT_HEAD)?.execute(params![
                keyed_from,
                last_seq,
                last_hash,
                chained.mac
            ])?;
        }
        tx.commit()?;
        Ok(Some(chained.finish()))
    }

    /// Checks the whole audit log against the audit key and the checkpoint, in one snapshot, and
    /// reports the first problem. Errors only when the database cannot be read.
    pub async fn verify_audit(&self) -> Result<AuditCheck, StoreError> {
        let backend = self.backend();
        with_pool!(self, p => {
            let mut tx = p.begin().await?;
            if backend == Backend::Postgres {
                sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
                    .execute(&mut *tx)
                    .await?;
            }
            let head: Option<HeadDbRow> =
                sqlx::query_as("SELECT keyed_from, seq, hash, mac FROM audit_head WHERE id = 1")
                    .fetch_optional(&mut *tx)
                    .await?;
            let audit_key = load_dek!(self, &mut *tx, AUDIT_KEY_ID);
            let key = audit_key.as_ref().map(ChainKey::new);
            let key = match (&head, key) {
                (Some(h), Some(k)) => {
                    if !same(&k.head_mac(h.keyed_from, h.seq, &h.hash), &h.mac) {
                        return Ok(broken(0, h.seq, AuditProblem::BadCheckpoint, &head));
                    }
                    Some(k)
                }
                (Some(h), None) => {
                    return Ok(broken(0, h.seq, AuditProblem::MissingKey, &head));
                }
                (None, Some(_)) => {
                    let first: Option<i64> =
                        sqlx::query_scalar("SELECT MIN(seq) FROM audit_log")
                            .fetch_one(&mut *tx)
                            .await?;
                    return Ok(broken(
                        0,
                        first.unwrap_or(1),
                        AuditProblem::MissingCheckpoint,
                        &head,
                    ));
                }
                (None, None) => None,
            };
            // Without a checkpoint every row is a legacy row (no keyed append ever happened).
            let keyed_from = head.as_ref().map_or(i64::MAX, |h| h.keyed_from);
            let mut walk = ChainWalk::new();
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
                        if let Some(h) = head.as_ref().filter(|h| row.seq > h.seq) {
                            return Some(AuditProblem::PastHead { head_seq: h.seq });
                        }
                        if !linked {
                            return Some(AuditProblem::BrokenLink);
                        }
                        let want = match &key {
                            Some(k) if row.seq >= keyed_from => k.row_link(row),
                            _ => legacy_link(row),
                        };
                        (!same(&want, &row.hash)).then_some(AuditProblem::BadMac)
                    });
                    if let Err((at, problem)) = step {
                        return Ok(broken(walk.rows, at, problem, &head));
                    }
                }
                if n < VERIFY_PAGE as usize {
                    break;
                }
            }
            let (rows, last_seq, prev) = (walk.rows, walk.last_seq(), walk.prev);
            if let Some(h) = &head {
                if last_seq < h.seq {
                    return Ok(broken(
                        rows,
                        last_seq + 1,
                        AuditProblem::Truncated {
                            head_seq: h.seq,
                            last_seq,
                        },
                        &head,
                    ));
                }
                if !same(&h.hash, &prev) {
                    return Ok(broken(rows, h.seq, AuditProblem::HeadMismatch, &head));
                }
            }
            tx.commit().await?;
            Ok(AuditCheck {
                rows,
                first_broken_seq: None,
                problem: None,
                head_seq: head.as_ref().map(|h| h.seq),
                head_hash: head.as_ref().map(|h| h.hash.clone()),
                keyed_from: head.as_ref().map(|h| h.keyed_from),
            })
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

    /// Rows with seq > `after_seq`, ascending, at most `limit`.
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

#[cfg(test)]
mod tests {
    use super::*;

    fn row(seq: i64) -> AuditRow {
        AuditRow {
            seq,
            at: DateTime::from_timestamp_micros(1_700_000_000_000_000).unwrap_or_default(),
            actor: "customer".into(),
            subject: "c".into(),
            purpose: "service.balance".into(),
            action: "read".into(),
            decision: "allow".into(),
            channel: "webchat".into(),
            prev_hash: AUDIT_GENESIS.into(),
            hash: String::new(),
        }
    }

    #[test]
    fn links_depend_on_the_key_and_every_field() {
        let k1 = ChainKey::new(&DataKey::generate());
        let k2 = ChainKey::new(&DataKey::generate());
        let r = row(1);
        assert_eq!(k1.row_link(&r), k1.row_link(&r));
        assert_ne!(k1.row_link(&r), k2.row_link(&r));
        assert_ne!(k1.row_link(&r), legacy_link(&r));
        let mut changed = r.clone();
        changed.decision = "deny".into();
        assert_ne!(k1.row_link(&r), k1.row_link(&changed));
        // Field boundaries count: moving a character between fields changes the link.
        let mut a = r.clone();
        a.actor = "ab".into();
        a.subject = "c".into();
        let mut b = r.clone();
        b.actor = "a".into();
        b.subject = "bc".into();
        assert_ne!(k1.row_link(&a), k1.row_link(&b));
        assert_ne!(k1.head_mac(1, 2, "h"), k1.head_mac(1, 3, "h"));
        assert_ne!(k1.head_mac(1, 2, "h"), k2.head_mac(1, 2, "h"));
        assert!(same("abc", "abc") && !same("abc", "abd") && !same("abc", "ab"));
    }
}
