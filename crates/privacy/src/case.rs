//! Support cases: the only way a bank agent gets to see a customer's data.
//!
//! A case names one agent and one customer and is open until closed. The gate keeps the book of
//! open cases in memory (the store has no case table yet) and hands the policy engine the agent's
//! open cases and the subject of the case a request names; the Cedar policy decides.

use std::collections::HashMap;
use std::fmt;
use std::sync::RwLock;

use chrono::{DateTime, Utc};
use okienko_core::CustomerId;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// An opaque support-case id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct CaseId(Uuid);

impl CaseId {
    pub fn new() -> Self {
        CaseId(Uuid::new_v4())
    }

    pub fn from_uuid(u: Uuid) -> Self {
        CaseId(u)
    }
}

impl Default for CaseId {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Display for CaseId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// An open support case.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SupportCase {
    pub id: CaseId,
    /// The staff id of the agent handling it.
    pub agent: String,
    /// The customer the case is about.
    pub subject: CustomerId,
    pub opened_at: DateTime<Utc>,
}

/// The open cases. Closing a case removes it, so a closed case grants nothing.
#[derive(Debug, Default)]
pub(crate) struct CaseBook {
    open: RwLock<HashMap<CaseId, SupportCase>>,
}

impl CaseBook {
    pub(crate) fn open(&self, agent: &str, subject: CustomerId, at: DateTime<Utc>) -> CaseId {
        let id = CaseId::new();
        let case = SupportCase {
            id,
            agent: agent.to_owned(),
            subject,
            opened_at: at,
        };
        self.open
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .insert(id, case);
        id
    }

    pub(crate) fn close(&self, id: CaseId) -> bool {
        self.open
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .remove(&id)
            .is_some()
    }

    /// The open cases assigned to `agent`, and the subject of `case` if it is open.
    pub(crate) fn facts(
        &self,
        agent: &str,
        case: Option<CaseId>,
    ) -> (Vec<CaseId>, Option<CustomerId>) {
        let open = self
            .open
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let mine = open
            .values()
            .filter(|c| c.agent == agent)
            .map(|c| c.id)
            .collect();
        let subject = case.and_then(|id| open.get(&id)).map(|c| c.subject);
        (mine, subject)
    }
}
