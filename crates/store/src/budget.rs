//! The unattended-access budget (NextGenPSD2 `frequencyPerDay`): how many times per UTC day the
//! gateway may read an account under a consent without the customer present. One atomic
//! statement per take, so concurrent syncs can never overspend on either backend.

use chrono::NaiveDate;
use okienko_core::ConsentId;

use crate::codec::date;
use crate::error::StoreError;
use crate::store::{Store, with_pool};

impl Store {
    /// Atomically counts one more access for (consent, account_key, day) and returns the new
    /// count, or returns `Err(BudgetExhausted)` without counting when `limit` is already reached.
    pub async fn take_access_budget(
        &self,
        consent: ConsentId,
        account_key: &str,
        day: NaiveDate,
        limit: u32,
    ) -> Result<u32, StoreError> {
        if limit == 0 {
            return Err(StoreError::BudgetExhausted);
        }
        let day = date(day, "day")?;
        // The conditional upsert is one statement: PostgreSQL re-checks the WHERE under the row
        // lock, SQLite runs writers one at a time. No row back means the WHERE refused.
        let used: Option<i64> = with_pool!(self, p => sqlx::query_scalar(
            "INSERT INTO access_budget (consent_id, account_key, day, used) VALUES ($1, $2, $3, 1) \
             ON CONFLICT (consent_id, account_key, day) \
             DO UPDATE SET used = access_budget.used + 1 WHERE access_budget.used < $4 \
             RETURNING used",
        )
        .bind(consent.to_string())
        .bind(account_key)
        .bind(day)
        .bind(i64::from(limit))
        .fetch_optional(p)
        .await)?;
        match used {
            Some(n) => u32::try_from(n).map_err(|_| StoreError::Corrupt("access_budget.used")),
            None => Err(StoreError::BudgetExhausted),
        }
    }

    /// How many accesses were already counted (0 when none).
    pub async fn access_budget_used(
        &self,
        consent: ConsentId,
        account_key: &str,
        day: NaiveDate,
    ) -> Result<u32, StoreError> {
        let day = date(day, "day")?;
        let used: Option<i64> = with_pool!(self, p => sqlx::query_scalar(
            "SELECT used FROM access_budget WHERE consent_id = $1 AND account_key = $2 AND day = $3",
        )
        .bind(consent.to_string())
        .bind(account_key)
        .bind(day)
        .fetch_optional(p)
        .await)?;
        u32::try_from(used.unwrap_or(0)).map_err(|_| StoreError::Corrupt("access_budget.used"))
    }
}
