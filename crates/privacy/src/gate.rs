//! The gate itself: look up the facts, decide, audit, and only then read.

use std::sync::Arc;

use okienko_core::{Account, Balance, Clock, ConsentStatus, CustomerId, Transaction, TxFilter};
use okienko_store::{Store, StoreError};

use crate::audit::{AccessLogEntry, AuditLog, AuditVerification, NewAudit};
use crate::case::{CaseBook, CaseId};
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
    audit_seq: i64,
    purpose: Purpose,
}

impl<T> Gated<T> {
    /// Only the gate's own modules wrap data that passed it.
    pub(crate) fn new(data: T, audit_seq: i64, purpose: Purpose) -> Self {
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

    /// The audit row that records this read.
    pub fn audit_seq(&self) -> i64 {
        self.audit_seq
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
        PrivacyGate {
            audit: Arc::new(AuditLog::new(store.clone())),
            cases: Arc::new(CaseBook::new(store.clone())),
            store,
            clock,
            engine,
        }
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
    async fn facts(&self, req: &AccessRequest) -> Result<Facts, StoreError> {
        let today = self.clock.now().date_naive();
        let consents = self.store.consents_for_customer(req.subject).await?;
        let mut valid_scopes = Vec::new();
        for c in consents
            .iter()
            .filter(|c| c.status == ConsentStatus::Valid && c.valid_until >= today)
        {
            for s in &c.scopes {
                if !valid_scopes.contains(s) {
                    valid_scopes.push(*s);
                }
            }
        }
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

    /// Decides and audits; returns the audit sequence number when allowed.
    pub(crate) async fn authorize(
        &self,
        req: &AccessRequest,
        action: &str,
    ) -> Result<i64, AccessError> {
        let facts = self.facts(req).await?;
        let verdict = self.engine.decide(req, &facts);
        let decision = verdict.decision;
        let seq = self
            .audit
            .append(NewAudit {
                at: self.clock.now(),
                actor: req.actor.audit_label(),
                subject: req.subject.to_string(),
                purpose: req.purpose.as_str(),
                action,
                decision: &verdict.audit_string(),
                channel: req.channel.as_str(),
            })
            .await?;
        match decision {
            Decision::Allow => Ok(seq),
            Decision::Deny(reason) => {
                tracing::info!(
                    purpose = req.purpose.as_str(),
                    reason = reason.as_str(),
                    policies = ?verdict.policies,
                    audit_seq = seq,
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
        let accounts = self.store.accounts_for_customer(req.subject).await?;
        let balances = self.store.balances_for_customer(req.subject).await?;
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

    /// Recomputes the audit chain from the first row.
    pub async fn verify_audit(&self) -> Result<AuditVerification, AccessError> {
        Ok(self.audit.verify().await?)
    }
}
