//! The audit trail: one append-only row per access decision, in a keyed hash chain with a keyed
//! checkpoint (kept by the store, see `okienko_store::AuditCheck`).
//!
//! Rows hold no personal data: actors and subjects are opaque ids, purposes and decisions are
//! taxonomy names. Each row's link is an HMAC over its own fields and the previous row's link,
//! under an audit key only the store's key handling holds, and a MACed checkpoint records the
//! last row. So a row changed, deleted, reordered or forged, the last rows deleted, or the whole
//! chain rehashed without the key is detected, and [`AuditLog::verify`] says where and what.

use chrono::{DateTime, Utc};
use okienko_store::{AuditEntry, AuditProblem, Store, StoreError};
use serde::Serialize;
use tokio::sync::Mutex;

pub(crate) struct AuditLog {
    store: Store,
    /// Appends in this process queue here rather than on the database's write lock (the store
    /// serialises appenders across processes too).
    append_lock: Mutex<()>,
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
    /// The checkpoint (last row's seq and keyed hash): keep it elsewhere to detect a rollback of
    /// the whole database to an older copy.
    pub head_seq: Option<i64>,
    pub head_hash: Option<String>,
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
    pub(crate) fn new(store: Store) -> Self {
        AuditLog {
            store,
            append_lock: Mutex::new(()),
        }
    }

    pub(crate) async fn append(&self, e: NewAudit<'_>) -> Result<i64, StoreError> {
        let _guard = self.append_lock.lock().await;
        let row = self
            .store
            .append_audit(&AuditEntry {
                at: e.at,
                actor: e.actor,
                subject: e.subject,
                purpose: e.purpose.to_owned(),
                action: e.action.to_owned(),
                decision: e.decision.to_owned(),
                channel: e.channel.to_owned(),
            })
            .await?;
        Ok(row.seq)
    }

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
        Ok(AuditVerification {
            rows: check.rows,
            intact: check.problem.is_none(),
            first_broken_seq: check.first_broken_seq,
            problem: check.problem.as_ref().map(ToString::to_string),
            kind: check.problem,
            head_seq: check.head_seq,
            head_hash: check.head_hash,
        })
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
