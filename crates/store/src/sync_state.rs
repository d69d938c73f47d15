//! Per-account sync bookkeeping for the bank crate's incremental sync.

use okienko_core::AccountId;

use crate::accounts::missing_account;
use crate::codec::{date_opt, instant, parse, read_date_opt, read_instant};
use crate::error::StoreError;
use crate::records::SyncState;
use crate::store::{Store, with_pool};

#[derive(sqlx::FromRow)]
struct SyncRow {
    account_id: String,
    last_sync_at: String,
    last_booked_date: Option<String>,
}

impl Store {
    pub async fn sync_state(&self, a: AccountId) -> Result<Option<SyncState>, StoreError> {
        let row: Option<SyncRow> = with_pool!(self, p => sqlx::query_as(
            "SELECT account_id, last_sync_at, last_booked_date FROM sync_state WHERE account_id = $1",
        )
        .bind(a.to_string())
        .fetch_optional(p)
        .await)?;
        row.map(|r| {
            Ok(SyncState {
                account: parse(&r.account_id, "sync_state.account_id")?,
                last_sync_at: read_instant(&r.last_sync_at, "sync_state.last_sync_at")?,
                last_booked_date: read_date_opt(
                    r.last_booked_date.as_deref(),
                    "sync_state.last_booked_date",
                )?,
            })
        })
        .transpose()
    }

    /// Inserts or replaces the account's sync state; an unknown account is `NotFound("accounts")`.
    pub async fn set_sync_state(&self, s: &SyncState) -> Result<(), StoreError> {
        let at = instant(s.last_sync_at, "sync_state.last_sync_at")?;
        let booked = date_opt(s.last_booked_date, "sync_state.last_booked_date")?;
        with_pool!(self, p => sqlx::query(
            "INSERT INTO sync_state (account_id, last_sync_at, last_booked_date) VALUES ($1, $2, $3) \
             ON CONFLICT (account_id) DO UPDATE SET last_sync_at = excluded.last_sync_at, \
             last_booked_date = excluded.last_booked_date",
        )
        .bind(s.account.to_string())
        .bind(at)
        .bind(booked)
        .execute(p)
        .await
        .map(|r| r.rows_affected()))
        .map_err(|e| missing_account(e.into()))?;
        Ok(())
    }
}
