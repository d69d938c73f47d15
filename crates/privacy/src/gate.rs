//! The gate itself: look up the facts, decide, audit, and only then read.
//!
//! # Where the time goes, and what keeps it small
//!
//! A gated read costs, besides the read itself: the consent lookup, the Cedar decision and the
//! audit row. The consent lookup is served by [`ConsentCache`] (invalidated synchronously by the
//! store on every consent write in this process, at most [`crate::consent_cache::MAX_AGE`] old,
//! expiry judged on every access); the decision by the decision cache (`decision_cache`). The
//! audit row is queued in memory and written by a flushing task in batches (group commit, see
//! [`crate::audit`]).
//!
//! # The audit invariant
//!
//! Every access is audited, and its audit row is durable before the data leaves the process.
//! By default each read waits for its own row before returning (many concurrent reads share one
//! transaction). Code that hands the data out itself — the dialog's reply, the view page — runs
//! its reads inside [`PrivacyGate::deferred_audit`]: the reads return as soon as the row is
//! queued, and the scope returns its output (the reply) only once every row queued inside it is
//! durable, or an error instead of the output if one could not be written. A crash before the
//! flush therefore loses rows only of reads whose data never left. The scope's rows are written
//! when it ends, in one transaction with whatever else is queued: the reads that make a reply do
//! not run beside an audit commit, and a reply of several reads costs one commit.

use std::future::Future;
use std::sync::Arc;

use okienko_core::{Account, Balance, Clock, CustomerId, Transaction, TransactionId, TxFilter};
use okienko_store::{Store, StoreError};

use crate::audit::{AccessLogEntry, AuditLog, AuditVerification, NewAudit, Ticket};
use crate::case::{CaseBook, CaseId};
use crate::consent_cache::ConsentCache;
use crate::policy::{Decision, DenyReason, Facts, PolicyEngine, PolicyError};
use crate::purpose::{AccessRequest, Actor, Purpose};

#[derive(Debug, thiserror::Error)]
pub enum AccessError {
    #[error("access denied: {}", .0.as_str())]
    Denied(DenyReason),
    #[error("the request does not fit this kind of data")]
    WrongPurpose,
    #[error("storage failed")]
    Store(#[from] StoreError),
}

/// Data that passed the gate. Only this crate can make one, so a function that takes a
/// `Gated<T>` knows its data was read for a purpose and audited.
#[derive(Debug)]
pub struct Gated<T> {
    data: T,
    audit_seq: AuditSeq,
    purpose: Purpose,
}

/// The audit row of an access: written, or (inside [`PrivacyGate::deferred_audit`]) queued.
#[derive(Clone)]
pub(crate) enum AuditSeq {
    Written(i64),
    Queued(Arc<Ticket>),
}

impl std::fmt::Debug for AuditSeq {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            AuditSeq::Written(seq) => write!(f, "Written({seq})"),
            AuditSeq::Queued(t) => write!(f, "Queued({:?})", t.seq()),
        }
    }
}

impl AuditSeq {
    fn get(&self) -> i64 {
        match self {
            AuditSeq::Written(seq) => *seq,
            AuditSeq::Queued(t) => t.seq().unwrap_or(0),
        }
    }
}

impl<T> Gated<T> {
    /// Only the gate's own modules wrap data that passed it.
    pub(crate) fn new(data: T, audit_seq: AuditSeq, purpose: Purpose) -> Self {
        Gated {
            data,
            audit_seq,
            purpose,
        }
    }

    pub fn data(&self) -> &T {
        &self.data
    }

    pub fn into_data(self) -> T {
        self.data
    }

    /// The audit row that records this read. Inside [`PrivacyGate::deferred_audit`] the row may
    /// still be queued: then 0 until it is written (always written once the scope has returned).
    pub fn audit_seq(&self) -> i64 {
        self.audit_seq.get()
    }

    pub fn purpose(&self) -> Purpose {
        self.purpose
    }
}

/// An account with its balances.
#[derive(Debug, Clone)]
pub struct AccountBalances {
    pub account: Account,
    pub balances: Vec<Balance>,
}

/// One page of a customer's transactions.
#[derive(Debug, Clone)]
pub struct TxPage {
    pub transactions: Vec<Transaction>,
    pub total: u64,
    pub offset: u64,
}

#[derive(Clone)]
pub struct PrivacyGate {
    store: Store,
    audit: Arc<AuditLog>,
    clock: Arc<dyn Clock>,
    engine: Arc<PolicyEngine>,
    cases: Arc<CaseBook>,
    consents: Arc<ConsentCache>,
}

impl PrivacyGate {
    /// A gate deciding with the embedded policies.
    ///
    /// # Panics
    /// At start-up, if the embedded policies do not validate against the schema (a broken build:
    /// the unit tests validate them). Use [`PrivacyGate::try_new`] to handle that as an error.
    pub fn new(store: Store, clock: Arc<dyn Clock>) -> Self {
        match Self::try_new(store, clock) {
            Ok(gate) => gate,
            Err(e) => panic!("the embedded privacy policies are invalid: {e}"),
        }
    }

    /// A gate deciding with the embedded policies, validated against the schema now.
    pub fn try_new(store: Store, clock: Arc<dyn Clock>) -> Result<Self, PolicyError> {
        Ok(Self::with_engine(
            store,
            clock,
            PolicyEngine::embedded_shared()?,
        ))
    }

    /// A gate deciding with an engine built elsewhere (shared between gates, or custom policies).
    pub fn with_engine(store: Store, clock: Arc<dyn Clock>, engine: Arc<PolicyEngine>) -> Self {
        let consents = Arc::new(ConsentCache::new());
        let listener: Arc<dyn okienko_store::ConsentListener> = consents.clone();
        store.on_consent_change(Arc::downgrade(&listener));
        PrivacyGate {
            audit: Arc::new(AuditLog::new(store.clone(), None)),
            cases: Arc::new(CaseBook::new(store.clone())),
            store,
            clock,
            engine,
            consents,
        }
    }

    /// Keeps the audit chain's head outside the database too, in the file at `path` (config
    /// `audit.head_file`): replaced atomically after every committed batch, and compared with the
    /// database by [`PrivacyGate::verify_audit`], so a database restored from an older copy is
    /// detected. Put it where whoever can restore the database cannot roll it back with it. Call
    /// at start-up, before the first read.
    pub fn with_audit_head_file(mut self, path: std::path::PathBuf) -> Self {
        self.audit = Arc::new(AuditLog::new(self.store.clone(), Some(path)));
        self
    }

    /// Runs `f` (code that reads through this gate and then hands the data out: a chat reply, a
    /// page) with the audit deferred: reads inside return as soon as their decision is made and
    /// their audit row is queued, and this returns `f`'s output only once every audit row queued
    /// inside is durable. If one could not be written, the output is dropped unseen and the
    /// error returned: the caller must then send nothing from it.
    ///
    /// The output must be the only way data read inside leaves: anything sent from inside `f`
    /// (a push, a spawned task) is not held back. Tasks spawned inside are outside the scope, so
    /// their reads wait for their own rows as usual.
    ///
    /// `f` is moved to the heap at once: a whole conversation turn is a future of tens of
    /// kilobytes, and each layer that held it by value would copy it again on every call.
    pub fn deferred_audit<'a, F: Future + 'a>(
        &'a self,
        f: F,
    ) -> impl Future<Output = Result<F::Output, AccessError>> + 'a {
        let f = Box::pin(f);
        async move {
            // The scope's rows are held until it ends (see `AuditLog::enqueue_held`); the guard
            // starts their flush then, or when the scope is dropped half-way.
            let _flush = FlushOnDrop(&self.audit);
            let (out, tickets) = crate::audit::deferred_scope(f).await;
            self.audit.kick();
            crate::audit::all_durable(&tickets).await?;
            Ok(out)
        }
    }

    /// Waits until every audit row queued by this gate so far is settled (written, or failed and
    /// its access refused).
    pub async fn flush_audit(&self) {
        self.audit.settled().await
    }

    /// (audit transactions written, rows they carried) so far by this gate's writer.
    pub fn audit_writer_stats(&self) -> (u64, u64) {
        self.audit.writer_stats()
    }

    /// Queues an audit row for the benchmark's breakdown, without waiting.
    pub(crate) fn enqueue_audit(&self, row: NewAudit<'_>) {
        self.audit.enqueue(row);
    }

    /// (hits, misses) of the consent cache so far.
    pub fn consent_cache_stats(&self) -> (u64, u64) {
        self.consents.stats()
    }

    /// Another instance changed `customer`'s consents (the event bus said so): the next access
    /// reads them from the store again.
    pub fn forget_consents(&self, customer: CustomerId) {
        okienko_store::ConsentListener::consent_changed(self.consents.as_ref(), customer);
    }

    /// Consent changes may have been missed (the bus listener fell behind): every next access
    /// reads the store again.
    pub fn forget_all_consents(&self) {
        self.consents.clear();
    }

    /// The policy engine this gate decides with.
    pub fn engine(&self) -> &PolicyEngine {
        &self.engine
    }

    /// The customers' alert settings (issue 10), kept in the gate's store: the dialog, which has
    /// no store of its own, changes them through here.
    pub fn alert_book(&self) -> crate::alerts::AlertBook {
        crate::alerts::AlertBook::new(self.store.clone())
    }

    /// Opens a support case (stored): `agent` may now read `subject`'s data for
    /// `service.support` while naming this case, until it is closed.
    pub async fn open_case(&self, agent: &str, subject: CustomerId) -> Result<CaseId, StoreError> {
        self.cases.open(agent, subject, self.clock.now()).await
    }

    /// Closes a case; false if it was not open.
    pub async fn close_case(&self, case: CaseId) -> Result<bool, StoreError> {
        self.cases.close(case, self.clock.now()).await
    }

    /// The store, for the support desk (same crate: it decides who may see what too).
    pub(crate) fn store(&self) -> &Store {
        &self.store
    }

    pub(crate) fn clock(&self) -> &Arc<dyn Clock> {
        &self.clock
    }

    /// The consent scopes valid now for the subject, and the agent's case facts.
    pub(crate) async fn facts(&self, req: &AccessRequest) -> Result<Facts, StoreError> {
        let valid_scopes = self
            .consents
            .valid_scopes(&self.store, req.subject, self.clock.now())
            .await?;
        let (agent_cases, case_subject) = match &req.actor {
            Actor::BankAgent(staff) => self.cases.facts(staff, req.case).await?,
            _ => (Vec::new(), None),
        };
        Ok(Facts {
            valid_scopes,
            agent_cases,
            case_subject,
        })
    }

    /// Decides and audits; returns the audit row when allowed. Outside
    /// [`PrivacyGate::deferred_audit`] the row is durable when this returns (a denial's too);
    /// inside, it is queued and the scope waits for it.
    pub(crate) async fn authorize(
        &self,
        req: &AccessRequest,
        action: &str,
    ) -> Result<AuditSeq, AccessError> {
        let facts = self.facts(req).await?;
        let verdict = self.engine.decide(req, &facts);
        let decision = verdict.decision;
        let row = NewAudit {
            at: self.clock.now(),
            actor: req.actor.audit_label(),
            subject: req.subject.to_string(),
            purpose: req.purpose.as_str(),
            action,
            decision: &verdict.audit_string(),
            channel: req.channel.as_str(),
        };
        let ticket = if crate::audit::in_deferred_scope() {
            self.audit.enqueue_held(row)
        } else {
            self.audit.enqueue(row)
        };
        let seq = if crate::audit::defer(&ticket) {
            AuditSeq::Queued(ticket)
        } else {
            AuditSeq::Written(ticket.durable().await?)
        };
        match decision {
            Decision::Allow => Ok(seq),
            Decision::Deny(reason) => {
                tracing::info!(
                    purpose = req.purpose.as_str(),
                    reason = reason.as_str(),
                    policies = ?verdict.policies,
                    audit_seq = seq.get(),
                    "privacy gate denied a read"
                );
                Err(AccessError::Denied(reason))
            }
        }
    }

    /// Accounts and balances, for showing the balance.
    pub async fn balances(
        &self,
        req: &AccessRequest,
    ) -> Result<Gated<Vec<AccountBalances>>, AccessError> {
        let seq = self.authorize(req, "read.balances").await?;
        let (accounts, balances) = self
            .store
            .accounts_and_balances_for_customer(req.subject)
            .await?;
        let data = accounts
            .into_iter()
            .map(|a| AccountBalances {
                balances: balances
                    .iter()
                    .filter(|b| b.account_id == a.account.id)
                    .cloned()
                    .collect(),
                account: a.account,
            })
            .collect();
        Ok(Gated {
            data,
            audit_seq: seq,
            purpose: req.purpose,
        })
    }

    /// Accounts alone (names, masked numbers), e.g. to list what was linked.
    pub async fn accounts(&self, req: &AccessRequest) -> Result<Gated<Vec<Account>>, AccessError> {
        let seq = self.authorize(req, "read.accounts").await?;
        let data = self
            .store
            .accounts_for_customer(req.subject)
            .await?
            .into_iter()
            .map(|a| a.account)
            .collect();
        Ok(Gated {
            data,
            audit_seq: seq,
            purpose: req.purpose,
        })
    }

    /// A page of transactions matching the customer's filter, newest first.
    pub async fn transactions(
        &self,
        req: &AccessRequest,
        filter: &TxFilter,
        offset: u64,
        limit: u32,
    ) -> Result<Gated<TxPage>, AccessError> {
        transactions_purpose(req)?;
        let seq = self.authorize(req, "read.transactions").await?;
        let (transactions, total) = self
            .store
            .transactions_for_customer(req.subject, filter, offset, limit.min(500))
            .await?;
        Ok(Gated {
            data: TxPage {
                transactions,
                total,
                offset,
            },
            audit_seq: seq,
            purpose: req.purpose,
        })
    }

    /// The customer's transactions among `ids` (what a sync announced), oldest first: decided
    /// and audited as a read of transactions, like [`PrivacyGate::transactions`].
    pub async fn transactions_by_ids(
        &self,
        req: &AccessRequest,
        ids: &[TransactionId],
    ) -> Result<Gated<Vec<Transaction>>, AccessError> {
        transactions_purpose(req)?;
        let seq = self.authorize(req, "read.transactions").await?;
        let data = self.store.transactions_by_ids(req.subject, ids).await?;
        Ok(Gated {
            data,
            audit_seq: seq,
            purpose: req.purpose,
        })
    }

    /// The customer's merchant names, so their words can be matched to their own merchants.
    pub async fn merchants(&self, req: &AccessRequest) -> Result<Gated<Vec<String>>, AccessError> {
        let seq = self.authorize(req, "read.merchants").await?;
        let data = self.store.merchants_for_customer(req.subject).await?;
        Ok(Gated {
            data,
            audit_seq: seq,
            purpose: req.purpose,
        })
    }

    /// Who has seen the customer's data ("kto widział moje dane?"). Only the customer may ask.
    pub async fn access_log(
        &self,
        customer: CustomerId,
    ) -> Result<Gated<Vec<AccessLogEntry>>, AccessError> {
        let req = AccessRequest::customer(
            customer,
            Purpose::ServiceAccessLog,
            crate::purpose::ChannelContext::WebChat,
        );
        // Rows still queued (this gate's deferred reads) are part of the answer.
        self.audit.settled().await;
        let entries = self.audit.for_subject(&customer.to_string()).await?;
        let seq = self.authorize(&req, "read.access_log").await?;
        Ok(Gated {
            data: entries,
            audit_seq: seq,
            purpose: req.purpose,
        })
    }

    /// Appends an audit row for a decision taken outside the policies (a spent view link).
    pub(crate) async fn append_audit(&self, row: NewAudit<'_>) -> Result<i64, StoreError> {
        self.audit.append(row).await
    }

    /// Recomputes the audit chain from the first row, and compares the database with the head
    /// kept outside it when a head file is configured.
    pub async fn verify_audit(&self) -> Result<AuditVerification, AccessError> {
        Ok(self.audit.verify().await?)
    }

    /// The operator's way out of a damaged audit checkpoint (which stops every read): re-verifies
    /// the whole chain under the audit key and, only if it is intact, records the repair as an
    /// audit row by `operator:{operator}` and writes a fresh checkpoint (and head file). A broken
    /// chain is refused with what is wrong, and nothing is written.
    ///
    /// `operator` is a pseudonymous staff id (letters, digits, `.`, `_`, `-`; at most 64), never
    /// a name.
    pub async fn repair_audit_checkpoint(
        &self,
        operator: &str,
    ) -> Result<okienko_store::RepairOutcome, AccessError> {
        let valid = !operator.is_empty()
            && operator.len() <= 64
            && operator
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
        if !valid {
            return Err(AccessError::Store(StoreError::Invalid("operator id")));
        }
        Ok(self
            .audit
            .repair_checkpoint(operator, self.clock.now())
            .await?)
    }
}

/// Starts the audit flush when a deferred-audit scope ends, however it ends: rows held by a scope
/// whose future was dropped must still be written (or fail), not wait for the next access.
struct FlushOnDrop<'a>(&'a Arc<AuditLog>);

impl Drop for FlushOnDrop<'_> {
    fn drop(&mut self) {
        self.0.kick();
    }
}

/// The service purposes that may read transactions (others are refused before the policy).
fn transactions_purpose(req: &AccessRequest) -> Result<(), AccessError> {
    if !matches!(
        req.purpose,
        Purpose::ServiceTransactions
            | Purpose::ServiceSpendingSummary
            | Purpose::ServiceFraudAlert
            | Purpose::ServiceSupport
            | Purpose::ServiceNoticeLargePayment
            | Purpose::ServiceNoticeSalary
            | Purpose::ServiceNoticeRecurringUp
            | Purpose::ServiceNoticeDuplicate
            | Purpose::ServiceNoticeSubscription
    ) && req.purpose.is_service()
    {
        return Err(AccessError::WrongPurpose);
    }
    Ok(())
}
