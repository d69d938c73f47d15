//! Warnings held for quiet hours (migration 0018): the bank warnings as published (campaign texts,
//! no personal data) and, per customer, which warning waits until when. Ids, kinds, instants and
//! channel names only: the text a customer gets is rebuilt at delivery, so nothing here is sealed.

use chrono::{DateTime, Utc};
use okienko_core::CustomerId;

use crate::codec::{instant, parse, read_instant};
use crate::error::StoreError;
use crate::store::{Store, with_pool};

/// A bank warning as the analyst published it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BankWarningRecord {
    pub id: String,
    pub bank: String,
    pub text_pl: String,
    pub text_en: String,
    pub published_at: DateTime<Utc>,
}

/// One warning held for one customer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeldWarningRecord {
    pub customer: CustomerId,
    /// What is held ("bank_warning").
    pub kind: String,
    /// The held thing's id (the bank warning's id).
    pub ref_id: String,
    pub due_at: DateTime<Utc>,
    pub held_at: DateTime<Utc>,
    /// The channel it was meant for when it was held; `None` = every open chat.
    pub channel: Option<String>,
}

fn check(s: &str, what: &'static str, max: usize) -> Result<(), StoreError> {
    if s.is_empty() || s.len() > max {
        return Err(StoreError::Invalid(what));
    }
    Ok(())
}

type HeldRow = (String, String, String, String, String, Option<String>);

fn held_row(r: HeldRow) -> Result<HeldWarningRecord, StoreError> {
    let (customer, kind, ref_id, due_at, held_at, channel) = r;
    Ok(HeldWarningRecord {
        customer: parse(&customer, "held_warnings.customer_id")?,
        kind,
        ref_id,
        due_at: read_instant(&due_at, "held_warnings.due_at")?,
        held_at: read_instant(&held_at, "held_warnings.held_at")?,
        channel,
    })
}

impl Store {
    /// Records a published bank warning (a later publish of the same id replaces its texts).
    pub async fn save_bank_warning(&self, w: &BankWarningRecord) -> Result<(), StoreError> {
        check(&w.id, "bank_warnings.notice_id", 200)?;
        check(&w.bank, "bank_warnings.bank", 200)?;
        let at = instant(w.published_at, "bank_warnings.published_at")?;
        with_pool!(self, p => sqlx::query(
            "INSERT INTO bank_warnings (notice_id, bank, text_pl, text_en, published_at) \
             VALUES ($1, $2, $3, $4, $5) ON CONFLICT (notice_id) DO UPDATE SET \
             bank = excluded.bank, text_pl = excluded.text_pl, text_en = excluded.text_en, \
             published_at = excluded.published_at",
        )
        .bind(&w.id)
        .bind(&w.bank)
        .bind(&w.text_pl)
        .bind(&w.text_en)
        .bind(at)
        .execute(p)
        .await
        .map(|_| ()))?;
        Ok(())
    }

    pub async fn bank_warning(&self, id: &str) -> Result<Option<BankWarningRecord>, StoreError> {
        let row: Option<(String, String, String, String, String)> = with_pool!(self, p => sqlx::query_as(
            "SELECT notice_id, bank, text_pl, text_en, published_at FROM bank_warnings \
             WHERE notice_id = $1",
        )
        .bind(id)
        .fetch_optional(p)
        .await)?;
        row.map(|(id, bank, text_pl, text_en, at)| {
            Ok(BankWarningRecord {
                id,
                bank,
                text_pl,
                text_en,
                published_at: read_instant(&at, "bank_warnings.published_at")?,
            })
        })
        .transpose()
    }

    /// Holds a warning for a customer; false when it is already held (the first hold stays).
    pub async fn hold_warning(&self, h: &HeldWarningRecord) -> Result<bool, StoreError> {
        check(&h.kind, "held_warnings.kind", 40)?;
        check(&h.ref_id, "held_warnings.ref_id", 200)?;
        if let Some(c) = &h.channel {
            check(c, "held_warnings.channel", 40)?;
        }
        let due = instant(h.due_at, "held_warnings.due_at")?;
        let held = instant(h.held_at, "held_warnings.held_at")?;
        let n = with_pool!(self, p => sqlx::query(
            "INSERT INTO held_warnings (customer_id, kind, ref_id, due_at, held_at, channel) \
             VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (customer_id, kind, ref_id) DO NOTHING",
        )
        .bind(h.customer.to_string())
        .bind(&h.kind)
        .bind(&h.ref_id)
        .bind(due)
        .bind(held)
        .bind(&h.channel)
        .execute(p)
        .await
        .map(|r| r.rows_affected()))?;
        Ok(n == 1)
    }

    /// Whether this warning is held for this customer.
    pub async fn is_warning_held(
        &self,
        customer: CustomerId,
        kind: &str,
        ref_id: &str,
    ) -> Result<bool, StoreError> {
        let n: i64 = with_pool!(self, p => sqlx::query_scalar(
            "SELECT COUNT(*) FROM held_warnings \
             WHERE customer_id = $1 AND kind = $2 AND ref_id = $3",
        )
        .bind(customer.to_string())
        .bind(kind)
        .bind(ref_id)
        .fetch_one(p)
        .await)?;
        Ok(n > 0)
    }

    /// Held warnings due at or before `now`, oldest due first (at most `limit`).
    pub async fn held_warnings_due(
        &self,
        now: DateTime<Utc>,
        limit: u32,
    ) -> Result<Vec<HeldWarningRecord>, StoreError> {
        let now = instant(now, "held_warnings.due_at")?;
        let rows: Vec<HeldRow> = with_pool!(self, p => sqlx::query_as(
            "SELECT customer_id, kind, ref_id, due_at, held_at, channel FROM held_warnings \
             WHERE due_at <= $1 ORDER BY due_at, customer_id, ref_id LIMIT $2",
        )
        .bind(now)
        .bind(i64::from(limit))
        .fetch_all(p)
        .await)?;
        rows.into_iter().map(held_row).collect()
    }

    /// Every warning held for a customer, oldest due first.
    pub async fn held_warnings_for_customer(
        &self,
        customer: CustomerId,
    ) -> Result<Vec<HeldWarningRecord>, StoreError> {
        let rows: Vec<HeldRow> = with_pool!(self, p => sqlx::query_as(
            "SELECT customer_id, kind, ref_id, due_at, held_at, channel FROM held_warnings \
             WHERE customer_id = $1 ORDER BY due_at, ref_id",
        )
        .bind(customer.to_string())
        .fetch_all(p)
        .await)?;
        rows.into_iter().map(held_row).collect()
    }

    /// Moves a held warning's due instant (the customer's quiet hours changed).
    pub async fn reschedule_held_warning(
        &self,
        customer: CustomerId,
        kind: &str,
        ref_id: &str,
        due_at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let due = instant(due_at, "held_warnings.due_at")?;
        with_pool!(self, p => sqlx::query(
            "UPDATE held_warnings SET due_at = $4 \
             WHERE customer_id = $1 AND kind = $2 AND ref_id = $3",
        )
        .bind(customer.to_string())
        .bind(kind)
        .bind(ref_id)
        .bind(due)
        .execute(p)
        .await
        .map(|_| ()))?;
        Ok(())
    }

    /// Forgets a held warning (sent, or no longer to be sent); false when it was not held.
    pub async fn release_held_warning(
        &self,
        customer: CustomerId,
        kind: &str,
        ref_id: &str,
    ) -> Result<bool, StoreError> {
        let n = with_pool!(self, p => sqlx::query(
            "DELETE FROM held_warnings WHERE customer_id = $1 AND kind = $2 AND ref_id = $3",
        )
        .bind(customer.to_string())
        .bind(kind)
        .bind(ref_id)
        .execute(p)
        .await
        .map(|r| r.rows_affected()))?;
        Ok(n == 1)
    }
}
