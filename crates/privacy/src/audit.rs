//! The audit trail: one append-only, hash-chained row per access decision.
//!
//! Rows hold no personal data: actors and subjects are opaque ids, purposes and decisions are
//! taxonomy names. Each row's hash covers its own fields and the previous row's hash, so a row
//! changed, deleted or reordered by hand breaks the chain, and [`AuditLog::verify`] says where.

use chrono::{DateTime, SecondsFormat, Utc};
use okienko_store::{AuditRow, Store, StoreError};
use serde::Serialize;
use sha2::{Digest, Sha256};
use tokio::sync::Mutex;

/// The hash the first row points back to.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

pub(crate) struct AuditLog {
    store: Store,
    /// Appends are serialised so the chain has one head.
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
    /// The first row where the chain breaks, and why.
    pub first_broken_seq: Option<i64>,
    pub problem: Option<String>,
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

fn row_hash(row: &AuditRow) -> String {
    let mut h = Sha256::new();
    for field in [
        row.prev_hash.as_str(),
        &row.seq.to_string(),
        &row.at.to_rfc3339_opts(SecondsFormat::Micros, true),
        &row.actor,
        &row.subject,
        &row.purpose,
        &row.action,
        &row.decision,
        &row.channel,
    ] {
        h.update((field.len() as u64).to_be_bytes());
        h.update(field.as_bytes());
    }
    h.finalize().iter().map(|b| format!("{b:02x}")).collect()
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
        let (seq, prev_hash) = match self.store.last_audit().await? {
            Some(last) => (last.seq + 1, last.hash),
            None => (1, GENESIS.to_owned()),
        };
        // Micro-second precision, so the hash survives a round trip through either database.
        let at = DateTime::from_timestamp_micros(e.at.timestamp_micros()).unwrap_or(e.at);
        let mut row = AuditRow {
            seq,
            at,
            actor: e.actor,
            subject: e.subject,
            purpose: e.purpose.to_owned(),
            action: e.action.to_owned(),
            decision: e.decision.to_owned(),
            channel: e.channel.to_owned(),
            prev_hash,
            hash: String::new(),
        };
        row.hash = row_hash(&row);
        self.store.append_audit(&row).await
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
        let mut prev = GENESIS.to_owned();
        let mut expected_seq = 1i64;
        let mut rows = 0u64;
        let mut after = 0i64;
        loop {
            let page = self.store.audit_rows(after, 1000).await?;
            if page.is_empty() {
                break;
            }
            for row in page {
                after = row.seq;
                rows += 1;
                let problem = if row.seq != expected_seq {
                    Some(format!(
                        "expected row {expected_seq}, found row {}",
                        row.seq
                    ))
                } else if row.prev_hash != prev {
                    Some("row does not point to the previous row's hash".to_owned())
                } else if row_hash(&row) != row.hash {
                    Some("row content does not match its hash".to_owned())
                } else {
                    None
                };
                if let Some(problem) = problem {
                    return Ok(AuditVerification {
                        rows,
                        intact: false,
                        first_broken_seq: Some(row.seq),
                        problem: Some(problem),
                    });
                }
                prev = row.hash.clone();
                expected_seq += 1;
            }
        }
        Ok(AuditVerification {
            rows,
            intact: true,
            first_broken_seq: None,
            problem: None,
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
