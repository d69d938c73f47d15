//! What a customer allowed, and where that consent stands.

use serde::{Deserialize, Serialize};

/// A scope of access a customer grants, per bank. Payments and alerts are their own scopes so
/// that reading a balance never implies the right to move money.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ConsentScope {
    Balances,
    Transactions,
    Payments,
    Alerts,
}

impl ConsentScope {
    pub fn as_str(&self) -> &'static str {
        match self {
            ConsentScope::Balances => "balances",
            ConsentScope::Transactions => "transactions",
            ConsentScope::Payments => "payments",
            ConsentScope::Alerts => "alerts",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "balances" => Some(ConsentScope::Balances),
            "transactions" => Some(ConsentScope::Transactions),
            "payments" => Some(ConsentScope::Payments),
            "alerts" => Some(ConsentScope::Alerts),
            _ => None,
        }
    }
}

/// NextGenPSD2 `consentStatus`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum ConsentStatus {
    Received,
    Rejected,
    Valid,
    RevokedByPsu,
    Expired,
    TerminatedByTpp,
    PartiallyAuthorised,
}

impl ConsentStatus {
    pub fn wire_name(&self) -> &'static str {
        match self {
            ConsentStatus::Received => "received",
            ConsentStatus::Rejected => "rejected",
            ConsentStatus::Valid => "valid",
            ConsentStatus::RevokedByPsu => "revokedByPsu",
            ConsentStatus::Expired => "expired",
            ConsentStatus::TerminatedByTpp => "terminatedByTpp",
            ConsentStatus::PartiallyAuthorised => "partiallyAuthorised",
        }
    }

    pub fn from_wire(s: &str) -> Option<Self> {
        Some(match s {
            "received" => ConsentStatus::Received,
            "rejected" => ConsentStatus::Rejected,
            "valid" => ConsentStatus::Valid,
            "revokedByPsu" => ConsentStatus::RevokedByPsu,
            "expired" => ConsentStatus::Expired,
            "terminatedByTpp" => ConsentStatus::TerminatedByTpp,
            "partiallyAuthorised" => ConsentStatus::PartiallyAuthorised,
            _ => return None,
        })
    }

    /// A consent in a final state can never become valid again.
    pub fn is_final(&self) -> bool {
        matches!(
            self,
            ConsentStatus::Rejected
                | ConsentStatus::RevokedByPsu
                | ConsentStatus::Expired
                | ConsentStatus::TerminatedByTpp
        )
    }
}
