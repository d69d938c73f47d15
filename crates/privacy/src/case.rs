//! Support cases: the only way a bank agent gets to see a customer's data.
//!
//! A case names one agent and one customer and is open until closed. The gate keeps the book of
//! cases in the store (`support_cases`) and hands the policy engine the agent's open cases and the
//! subject of the case a request names; the Cedar policy decides.

use std::fmt;

use chrono::{DateTime, Utc};
use okienko_core::CustomerId;
use okienko_store::{Store, StoreError, SupportCaseRecord};
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

/// The book of support cases, kept in the store so that every gateway process sharing the
/// database sees the same open cases and a restart closes none of them. Closing a case ends what
/// it grants.
#[derive(Clone)]
pub(crate) struct CaseBook {
    store: Store,
}

impl CaseBook {
    pub(crate) fn new(store: Store) -> Self {
        CaseBook { store }
    }

    pub(crate) async fn open(
        &self,
        agent: &str,
        subject: CustomerId,
        at: DateTime<Utc>,
    ) -> Result<CaseId, StoreError> {
        let id = CaseId::new();
        self.store
            .insert_support_case(&SupportCaseRecord {
                id: id.to_string(),
                agent: agent.to_owned(),
                customer: subject,
                opened_at: at,
                closed_at: None,
            })
            .await?;
        Ok(id)
    }

    pub(crate) async fn close(&self, id: CaseId, at: DateTime<Utc>) -> Result<bool, StoreError> {
        self.store.close_support_case(&id.to_string(), at).await
    }

    /// The open cases assigned to `agent`, and the subject of `case` if it is open.
    pub(crate) async fn facts(
        &self,
        agent: &str,
        case: Option<CaseId>,
    ) -> Result<(Vec<CaseId>, Option<CustomerId>), StoreError> {
        let mine = self
            .store
            .open_support_cases_of(agent)
            .await?
            .iter()
            .map(|id| {
                id.parse::<Uuid>()
                    .map(CaseId::from_uuid)
                    .map_err(|_| StoreError::Corrupt("support_cases.id"))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let subject = match case {
            Some(id) => {
                self.store
                    .open_support_case_subject(&id.to_string())
                    .await?
            }
            None => None,
        };
        Ok((mine, subject))
    }
}
