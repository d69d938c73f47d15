//! The audit trail: one append-only row per access decision, in a keyed hash chain with a keyed
//! checkpoint (kept by the store, see `okienko_store::AuditCheck`).
//!
//! Rows hold no personal data: actors and subjects are opaque ids, purposes and decisions are
//! taxonomy names. Each row's link is an HMAC over its own fields and the previous row's link,
//! under an audit key only the store's key handling holds, and a MACed checkpoint records the
//! last row. So a row changed, deleted, reordered or forged, the last rows deleted, or the whole
//! chain rehashed without the key is detected, and [`AuditLog::verify`] says where and what.

use std::cell::RefCell;
use std::path::PathBuf;
use std::sync::atomic::AtomicBool;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use chrono::{DateTime, Utc};
use okienko_store::{
    AuditEntry, AuditHeadSeal, AuditProblem, DbFailure, HeadFileStatus, RepairOutcome, Store,
    StoreError,
};
use serde::Serialize;
use tokio::sync::watch;

/// A flush that takes longer than this fails the accesses it carries (they are refused).
const FLUSH_TIMEOUT: Duration = Duration::from_secs(20);
/// At most this many rows per transaction, so one batch never holds the write lock for long.
const MAX_BATCH: usize = 1024;

/// The audit writer of one gate: an in-memory queue of rows waiting to be written, and one
/// flushing task at a time that writes everything queued in one transaction (group commit).
///
/// An access queues its row and gets a [`Ticket`]; the row's seq, link and MAC are assigned by
/// the store inside the flush transaction (under its write lock), so gateways sharing a
/// PostgreSQL database still build one chain. Whoever hands the data out first waits for the
/// ticket: the gate itself, unless the access runs inside [`crate::PrivacyGate::deferred_audit`],
/// whose scope waits for all its tickets before it returns.
pub(crate) struct AuditLog {
    store: Store,
    queue: Mutex<Queue>,
    settle: Arc<Settle>,
    /// Transactions written and rows they carried (for the benchmark).
    batches: AtomicU64,
    rows: AtomicU64,
    /// Where the head is kept outside the database (see `okienko_store::audit_head`), if anywhere.
    head_file: Option<PathBuf>,
    /// Whether this writer has compared the database with the head file it found (once, before
    /// its first write of the file: a rolled-back database must not overwrite the evidence).
    head_checked: AtomicBool,
}

#[derive(Default)]
struct Queue {
    /// The last ticket number handed out.
    issued: u64,
    entries: Vec<AuditEntry>,
    tickets: Vec<Arc<Ticket>>,
    /// Whether a flushing task is running (it empties the queue before it stops).
    flushing: bool,
}

/// Tickets up to this number are settled: written (with a seq) or failed.
struct Settle {
    through: watch::Sender<u64>,
}

/// Why a queued audit row was not written. Kept small and clonable: every access of a failed
/// batch gets one.
#[derive(Debug, Clone)]
struct FlushFailure(DbFailure);

impl FlushFailure {
    fn of(e: &StoreError) -> Self {
        let kind = match e {
            StoreError::Query(f) | StoreError::Connect(f) => return FlushFailure(f.clone()),
            StoreError::Corrupt(_) => "audit log or checkpoint corrupt",
            StoreError::UnknownMasterKey(_) | StoreError::WrongMasterKey(_) => "audit key",
            _ => "audit append",
        };
        FlushFailure::kind(kind)
    }

    fn kind(kind: &'static str) -> Self {
        FlushFailure(DbFailure {
            kind,
            code: None,
            constraint: None,
        })
    }

    fn error(&self) -> StoreError {
        StoreError::Query(self.0.clone())
    }
}

/// One queued audit row: settled once, by the flushing task.
pub(crate) struct Ticket {
    n: u64,
    result: OnceLock<Result<i64, FlushFailure>>,
    settle: Arc<Settle>,
}

impl Ticket {
    /// The row's seq once it is written.
    pub(crate) fn seq(&self) -> Option<i64> {
        match self.result.get() {
            Some(Ok(seq)) => Some(*seq),
            _ => None,
        }
    }

    /// Waits until the row is durable; its seq, or why it was not written (then the access it
    /// records must not release anything).
    pub(crate) async fn durable(&self) -> Result<i64, StoreError> {
        if self.result.get().is_none() {
            let mut rx = self.settle.through.subscribe();
            // The sender lives in `settle`, which this ticket holds: it cannot close.
            let _ = rx.wait_for(|through| *through >= self.n).await;
        }
        match self.result.get() {
            Some(Ok(seq)) => Ok(*seq),
            Some(Err(f)) => Err(f.error()),
            None => Err(FlushFailure::kind("audit row not settled").error()),
        }
    }
}

tokio::task_local! {
    /// Inside [`crate::PrivacyGate::deferred_audit`]: the tickets of the accesses made so far,
    /// which the scope waits for before it returns.
    static DEFERRED: RefCell<Vec<Arc<Ticket>>>;
}

/// Whether this task runs inside a deferred-audit scope.
pub(crate) fn in_deferred_scope() -> bool {
    DEFERRED.try_with(|_| ()).is_ok()
}

/// Whether this task runs inside a deferred-audit scope; if so, `ticket` joins the scope's.
pub(crate) fn defer(ticket: &Arc<Ticket>) -> bool {
    DEFERRED
        .try_with(|d| d.borrow_mut().push(ticket.clone()))
        .is_ok()
}

/// Runs `f` as a deferred-audit scope and returns its output with the tickets it queued.
/// Takes `f` boxed, so the scope's future holds a pointer, not a second copy of `f`.
pub(crate) async fn deferred_scope<F: std::future::Future>(
    f: std::pin::Pin<Box<F>>,
) -> (F::Output, Vec<Arc<Ticket>>) {
    DEFERRED
        .scope(RefCell::new(Vec::new()), async move {
            let out = f.await;
            let tickets = DEFERRED
                .try_with(|d| std::mem::take(&mut *d.borrow_mut()))
                .unwrap_or_default();
            (out, tickets)
        })
        .await
}

/// Waits until every ticket is durable; the first failure if one was not written.
pub(crate) async fn all_durable(tickets: &[Arc<Ticket>]) -> Result<(), StoreError> {
    for t in tickets {
        t.durable().await?;
    }
    Ok(())
}

/// One access as the customer may see it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AccessLogEntry {
    pub at: DateTime<Utc>,
    /// "customer", "agent" or "system", with the agent's or job's id.
    pub actor: String,
    pub purpose: String,
    pub action: String,
    /// "allow", or the reason of the denial ("forbidden_purpose", "no_consent", …).
    pub decision: String,
    /// The ids of the Cedar policies that determined the decision.
    pub policies: Vec<String>,
    pub channel: String,
}

/// Splits an audit row's `decision` column into the verdict ("allow" or the denial reason) and
/// the ids of the policies that determined it: `deny:forbidden_purpose[forbidden_purpose]` →
/// ("forbidden_purpose", ["forbidden_purpose"]). Rows written before policy ids were recorded
/// ("allow", "no_consent") parse with no ids.
pub fn parse_decision(column: &str) -> (String, Vec<String>) {
    let (head, ids) = match column.split_once('[') {
        Some((head, rest)) => (head, rest.strip_suffix(']').unwrap_or(rest)),
        None => (column, ""),
    };
    let verdict = head.strip_prefix("deny:").unwrap_or(head);
    let ids = ids
        .split(',')
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect();
    (verdict.to_owned(), ids)
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AuditVerification {
    pub rows: u64,
    pub intact: bool,
    /// The first row where the chain breaks (for a truncated log: the first missing row), and why.
    pub first_broken_seq: Option<i64>,
    pub problem: Option<String>,
    /// The kind of the problem, for programs.
    pub kind: Option<AuditProblem>,
    /// The checkpoint (last row's seq and keyed hash).
    pub head_seq: Option<i64>,
    pub head_hash: Option<String>,
    /// The database compared with the head kept outside it, when a head file is configured: a
    /// database restored from an older copy shows here (`rolled_back`, `forked`).
    pub head_file: Option<HeadFileStatus>,
}

impl AuditVerification {
    /// The chain is intact and, when a head file is configured, nothing suggests a rollback.
    pub fn ok(&self) -> bool {
        self.intact && self.head_file.as_ref().is_none_or(HeadFileStatus::is_ok)
    }

    /// What is wrong, in one sentence for an operator; `None` when [`Self::ok`].
    pub fn complaint(&self) -> Option<String> {
        if let Some(p) = &self.problem {
            let at = self
                .first_broken_seq
                .map(|s| format!(" at row {s}"))
                .unwrap_or_default();
            return Some(format!("the audit chain is broken{at}: {p}"));
        }
        self.head_file
            .as_ref()
            .filter(|h| !h.is_ok())
            .map(HeadFileStatus::message)
    }
}

pub(crate) struct NewAudit<'a> {
    pub at: DateTime<Utc>,
    pub actor: String,
    pub subject: String,
    pub purpose: &'a str,
    pub action: &'a str,
    pub decision: &'a str,
    pub channel: &'a str,
}

impl AuditLog {
    pub(crate) fn new(store: Store, head_file: Option<PathBuf>) -> Self {
        AuditLog {
            store,
            queue: Mutex::new(Queue::default()),
            settle: Arc::new(Settle {
                through: watch::Sender::new(0),
            }),
            batches: AtomicU64::new(0),
            rows: AtomicU64::new(0),
            head_file,
            head_checked: AtomicBool::new(false),
        }
    }

    /// Keeps the committed head outside the database: compares the database with the file the
    /// first time (refusing to overwrite a head the database does not contain), then replaces the
    /// file atomically. An error fails the batch's accesses: their data must not leave without
    /// the head that would reveal a rollback hiding them.
    async fn keep_head(&self, seal: AuditHeadSeal, first_seq: i64) -> Result<(), FlushFailure> {
        let Some(path) = self.head_file.clone() else {
            return Ok(());
        };
        if !self.head_checked.load(Ordering::Acquire) {
            let found = read_head_file(&path).await;
            let status = match found {
                Ok(found) => self
                    .store
                    .check_audit_head(found.as_ref())
                    .await
                    .map_err(|e| FlushFailure::of(&e))?,
                Err(status) => status,
            };
            match status {
                HeadFileStatus::Matches { .. } | HeadFileStatus::NotYetWritten => {}
                HeadFileStatus::Missing { .. } if first_seq > 1 => tracing::warn!(
                    rows_before = first_seq - 1,
                    "audit head file missing on a database with audit rows: starting a new one;                      a rollback to before now cannot be detected"
                ),
                HeadFileStatus::Missing { .. } => {}
                bad => {
                    tracing::error!(
                        problem = %bad.message(),
                        "the database does not contain the audit head kept outside it;                          refusing to go on (see `okienko audit verify`)"
                    );
                    return Err(FlushFailure::kind("audit head file disagrees"));
                }
            }
            self.head_checked.store(true, Ordering::Release);
        }
        let written = tokio::task::spawn_blocking(move || seal.write_atomic(&path)).await;
        match written {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => {
                tracing::error!(error = %e, "writing the audit head file failed");
                Err(FlushFailure::kind("audit head file write"))
            }
            Err(_) => Err(FlushFailure::kind("audit head file write")),
        }
    }

    /// (transactions written, rows they carried) so far.
    pub(crate) fn writer_stats(&self) -> (u64, u64) {
        (
            self.batches.load(Ordering::Relaxed),
            self.rows.load(Ordering::Relaxed),
        )
    }

    fn queue(&self) -> std::sync::MutexGuard<'_, Queue> {
        match self.queue.lock() {
            Ok(q) => q,
            Err(poisoned) => poisoned.into_inner(),
        }
    }

    /// Queues the row and makes sure a flushing task is running; returns at once. The row is
    /// durable when [`Ticket::durable`] says so, and not before.
    pub(crate) fn enqueue(self: &Arc<Self>, e: NewAudit<'_>) -> Arc<Ticket> {
        self.push(e, true)
    }

    /// Queues the row without starting a flush: for accesses inside a deferred-audit scope, whose
    /// end starts it ([`AuditLog::kick`]). The rows of one reply then go to the database in one
    /// transaction when the reply is ready, and the reads that make the reply do not run beside a
    /// commit (which on two cores slowed every read made meanwhile). A flush started by anyone
    /// else takes them along.
    pub(crate) fn enqueue_held(self: &Arc<Self>, e: NewAudit<'_>) -> Arc<Ticket> {
        self.push(e, false)
    }

    /// Starts the flushing task if rows are queued and none is running.
    pub(crate) fn kick(self: &Arc<Self>) {
        let start = {
            let mut q = self.queue();
            let start = !q.flushing && !q.entries.is_empty();
            q.flushing |= start;
            start
        };
        if start {
            self.spawn_flush();
        }
    }

    fn spawn_flush(self: &Arc<Self>) {
        let log = self.clone();
        match tokio::runtime::Handle::try_current() {
            Ok(rt) => {
                rt.spawn(async move { log.flush().await });
            }
            Err(_) => {
                // No runtime (a scope dropped while the runtime shuts down): nothing can be
                // written now; the held rows' accesses fail rather than wait.
                let guard = FlushGuard {
                    log: &log,
                    in_flight: Vec::new(),
                    done: false,
                };
                drop(guard);
            }
        }
    }

    fn push(self: &Arc<Self>, e: NewAudit<'_>, start_flush: bool) -> Arc<Ticket> {
        let entry = AuditEntry {
            at: e.at,
            actor: e.actor,
            subject: e.subject,
            purpose: e.purpose.to_owned(),
            action: e.action.to_owned(),
            decision: e.decision.to_owned(),
            channel: e.channel.to_owned(),
        };
        let (ticket, start) = {
            let mut q = self.queue();
            q.issued += 1;
            let ticket = Arc::new(Ticket {
                n: q.issued,
                result: OnceLock::new(),
                settle: self.settle.clone(),
            });
            q.entries.push(entry);
            q.tickets.push(ticket.clone());
            let start = start_flush && !q.flushing;
            q.flushing |= start;
            (ticket, start)
        };
        if start {
            self.spawn_flush();
        }
        ticket
    }

    /// Queues the row and waits until it is durable (what the gate did before the queue).
    pub(crate) async fn append(self: &Arc<Self>, e: NewAudit<'_>) -> Result<i64, StoreError> {
        self.enqueue(e).durable().await
    }

    /// Waits until every row queued so far is settled (written or failed).
    pub(crate) async fn settled(self: &Arc<Self>) {
        self.kick();
        let issued = self.queue().issued;
        let mut rx = self.settle.through.subscribe();
        let _ = rx.wait_for(|through| *through >= issued).await;
    }

    /// The flushing task: writes what is queued, batch after batch, until the queue is empty.
    async fn flush(self: Arc<Self>) {
        let mut guard = FlushGuard {
            log: &self,
            in_flight: Vec::new(),
            done: false,
        };
        loop {
            let entries = {
                let mut q = self.queue();
                if q.entries.is_empty() {
                    q.flushing = false;
                    guard.done = true;
                    return;
                }
                let n = q.entries.len().min(MAX_BATCH);
                guard.in_flight = q.tickets.drain(..n).collect();
                q.entries.drain(..n).collect::<Vec<_>>()
            };
            let written = tokio::time::timeout(FLUSH_TIMEOUT, async {
                let Some((rows, seal)) = self
                    .store
                    .append_audit_batch_sealed(&entries)
                    .await
                    .map_err(|e| FlushFailure::of(&e))?
                else {
                    return Ok(Vec::new());
                };
                let first = rows.first().map_or(1, |r| r.seq);
                self.keep_head(seal, first).await?;
                Ok::<_, FlushFailure>(rows)
            })
            .await;
            let tickets = std::mem::take(&mut guard.in_flight);
            match written {
                Ok(Ok(rows)) if rows.len() == tickets.len() => {
                    self.batches.fetch_add(1, Ordering::Relaxed);
                    self.rows.fetch_add(rows.len() as u64, Ordering::Relaxed);
                    for (t, row) in tickets.iter().zip(&rows) {
                        let _ = t.result.set(Ok(row.seq));
                    }
                }
                outcome => {
                    let failure = match &outcome {
                        Ok(Err(f)) => f.clone(),
                        Ok(Ok(_)) => FlushFailure::kind("audit append returned other rows"),
                        Err(_) => FlushFailure::kind("audit flush timed out"),
                    };
                    tracing::error!(
                        rows = tickets.len(),
                        error = %failure.0,
                        "audit flush failed; the accesses it recorded are refused"
                    );
                    for t in &tickets {
                        let _ = t.result.set(Err(failure.clone()));
                    }
                }
            }
            if let Some(last) = tickets.last() {
                self.settle
                    .through
                    .send_modify(|through| *through = (*through).max(last.n));
            }
        }
    }
}

/// If the flushing task is dropped mid-flush (its runtime shuts down) or panics, the accesses it
/// carried and those still queued fail instead of waiting forever, and the next access starts a
/// new task.
struct FlushGuard<'a> {
    log: &'a AuditLog,
    in_flight: Vec<Arc<Ticket>>,
    /// Set when the task ends normally (queue empty, flag lowered under the lock).
    done: bool,
}

impl Drop for FlushGuard<'_> {
    fn drop(&mut self) {
        if self.done {
            return;
        }
        let mut q = self.log.queue();
        let failure = FlushFailure::kind("audit writer stopped");
        let queued = std::mem::take(&mut q.tickets);
        q.entries.clear();
        q.flushing = false;
        let issued = q.issued;
        drop(q);
        for t in self.in_flight.iter().chain(&queued) {
            let _ = t.result.set(Err(failure.clone()));
        }
        self.log
            .settle
            .through
            .send_modify(|through| *through = (*through).max(issued));
    }
}

impl AuditLog {
    pub(crate) async fn for_subject(
        &self,
        subject: &str,
    ) -> Result<Vec<AccessLogEntry>, StoreError> {
        let rows = self.store.audit_for_subject(subject, 200).await?;
        Ok(rows
            .into_iter()
            .map(|r| {
                let (decision, policies) = parse_decision(&r.decision);
                AccessLogEntry {
                    at: r.at,
                    actor: r.actor,
                    purpose: r.purpose,
                    action: r.action,
                    decision,
                    policies,
                    channel: r.channel,
                }
            })
            .collect())
    }

    pub(crate) async fn verify(&self) -> Result<AuditVerification, StoreError> {
        let check = self.store.verify_audit().await?;
        let head_file = match &self.head_file {
            Some(path) => Some(match read_head_file(path).await {
                Ok(seal) => self.store.check_audit_head(seal.as_ref()).await?,
                Err(status) => status,
            }),
            None => None,
        };
        Ok(AuditVerification {
            rows: check.rows,
            intact: check.problem.is_none(),
            first_broken_seq: check.first_broken_seq,
            problem: check.problem.as_ref().map(ToString::to_string),
            kind: check.problem,
            head_seq: check.head_seq,
            head_hash: check.head_hash,
            head_file,
        })
    }

    /// Repairs a damaged checkpoint (see `okienko_store::audit_repair`), recording `operator`
    /// as who did it, and keeps the new head outside the database.
    pub(crate) async fn repair_checkpoint(
        self: &Arc<Self>,
        operator: &str,
        at: DateTime<Utc>,
    ) -> Result<RepairOutcome, StoreError> {
        self.settled().await;
        let external = match &self.head_file {
            Some(path) => match read_head_file(path).await {
                Ok(seal) => seal,
                Err(status) => {
                    return Ok(RepairOutcome::Refused {
                        reason: okienko_store::RepairRefusal::HeadFile { status },
                    });
                }
            },
            None => None,
        };
        let outcome = self
            .store
            .repair_audit_checkpoint(&format!("operator:{operator}"), at, external.as_ref())
            .await?;
        if let (RepairOutcome::Repaired { seal, .. }, Some(path)) = (&outcome, &self.head_file) {
            let (seal, path) = (seal.clone(), path.clone());
            match tokio::task::spawn_blocking(move || seal.write_atomic(&path)).await {
                Ok(Ok(())) => self.head_checked.store(true, Ordering::Release),
                _ => return Err(FlushFailure::kind("audit head file write").error()),
            }
        }
        Ok(outcome)
    }
}

/// The head file's seal (`None`: no file), or the status to report when it cannot be read.
async fn read_head_file(path: &std::path::Path) -> Result<Option<AuditHeadSeal>, HeadFileStatus> {
    let path = path.to_path_buf();
    match tokio::task::spawn_blocking(move || AuditHeadSeal::read(&path)).await {
        Ok(Ok(seal)) => Ok(seal),
        Ok(Err(e)) => Err(HeadFileStatus::Unreadable {
            error: e.to_string(),
        }),
        Err(_) => Err(HeadFileStatus::Unreadable {
            error: "audit head file: read task failed".to_owned(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::parse_decision;

    #[test]
    fn decision_columns_parse_back() {
        assert_eq!(
            parse_decision("allow[customer_balance]"),
            ("allow".to_owned(), vec!["customer_balance".to_owned()])
        );
        assert_eq!(
            parse_decision("deny:forbidden_purpose[forbidden_purpose]"),
            (
                "forbidden_purpose".to_owned(),
                vec!["forbidden_purpose".to_owned()]
            )
        );
        assert_eq!(
            parse_decision("deny:no_consent[]"),
            ("no_consent".to_owned(), vec![])
        );
        assert_eq!(parse_decision("allow"), ("allow".to_owned(), vec![]));
        assert_eq!(parse_decision("a[b,c]").1, ["b", "c"]);
    }
}
