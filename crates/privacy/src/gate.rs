//! The gate itself: look up the facts, decide, audit, and only then read.

use std::sync::Arc;

use okienko_core::{Account, Balance, Clock, ConsentStatus, CustomerId, Transaction, TxFilter};
use okienko_store::{Store, StoreError};

use crate::audit::{AccessLogEntry, AuditLog, AuditVerification, NewAudit};
use crate::policy::{Decision, DenyReason, Facts, decide};
use crate::purpose::{AccessRequest, Purpose};

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
}

impl PrivacyGate {
    pub fn new(store: Store, clock: Arc<dyn Clock>) -> Self {
        PrivacyGate {
            audit: Arc::new(AuditLog::new(store.clone())),
            store,
            clock,
        }
    }

    async fn consent_covers(&self, req: &AccessRequest) -> Result<bool, StoreError> {
        let Some(scope) = req.purpose.required_scope() else {
            return Ok(true);
        };
        let today = self.clock.now().date_naive();
        let consents = self.store.consents_for_customer(req.subject).await?;
        Ok(consents.iter().any(|c| {
            c.status == ConsentStatus::Valid && c.valid_until >= today && c.scopes.contains(&scope)
        }))
    }

    /// Decides and audits; returns the audit sequence number when allowed.
    async fn authorize(&self, req: &AccessRequest, action: &str) -> Result<i64, AccessError> {
        let facts = Facts {
            consent_covers: self.consent_covers(req).await?,
        };
        let decision = decide(req, facts);
        let seq = self
            .audit
            .append(NewAudit {
                at: self.clock.now(),
                actor: req.actor.audit_label(),
                subject: req.subject.to_string(),
                purpose: req.purpose.as_str(),
                action,
                decision: decision.as_str(),
                channel: req.channel.as_str(),
            })
            .await?;
        match decision {
            Decision::Allow => Ok(seq),
            Decision::Deny(reason) => {
                tracing::info!(
                    purpose = req.purpose.as_str(),
                    reason = reason.as_str(),
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

    /// Recomputes the audit chain from the first row.
    pub async fn verify_audit(&self) -> Result<AuditVerification, AccessError> {
        Ok(self.audit.verify().await?)
    }
}
