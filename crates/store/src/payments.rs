//! Payments (migration 0006): the persisted half of crates/payments' state machine. The store
//! keeps what it is given — one row per chat action, unique on (customer, action key) and on the
//! bank idempotency key — and moves a row's state only by compare-and-set, so two drivers (or a
//! driver and its restarted self) can never both advance the same payment. It does not know
//! which states exist; the payments crate does.
//!
//! The amount, both IBANs, the payee's name and the reference are sealed with the customer's
//! data key like transactions; ids, state, currency and the bank's reason code stay plaintext.

use chrono::{DateTime, Utc};
use okienko_core::{CustomerId, Iban, Money};
use serde::{Deserialize, Serialize};

use crate::codec::{instant, minor, parse, read_instant, read_money};
use crate::error::StoreError;
use crate::sealed;
use crate::store::{Store, begin_write, with_pool};
use crate::vault::dek_for_write;

pub(crate) const PAYMENTS: &str = "payments.sealed";

/// A payment to create. `id`, `action_key` and `request_id` are chosen by the caller.
#[derive(Clone, PartialEq, Eq)]
pub struct NewPayment {
    pub id: String,
    pub customer: CustomerId,
    pub action_key: String,
    pub request_id: String,
    pub product: String,
    pub state: String,
    pub amount: Money,
    pub debtor: Iban,
    pub creditor: Iban,
    pub creditor_name: String,
    pub remittance: Option<String>,
    /// Sealed and opaque to the store: what the payments crate needs to send the order again
    /// after a restart (how the customer authorises, their id at the bank).
    pub context: String,
    pub at: DateTime<Utc>,
}

impl std::fmt::Debug for NewPayment {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewPayment")
            .field("id", &self.id)
            .field("state", &self.state)
            .finish_non_exhaustive()
    }
}

/// A stored payment. `Debug` hides the amount, IBANs and names.
#[derive(Clone, PartialEq, Eq)]
pub struct PaymentRecord {
    pub id: String,
    pub customer: CustomerId,
    pub action_key: String,
    pub request_id: String,
    pub product: String,
    pub state: String,
    pub bank_payment_id: Option<String>,
    pub reason: Option<String>,
    pub amount: Money,
    pub debtor: Iban,
    pub creditor: Iban,
    pub creditor_name: String,
    pub remittance: Option<String>,
    pub context: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl std::fmt::Debug for PaymentRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PaymentRecord")
            .field("id", &self.id)
            .field("state", &self.state)
            .field("bank_payment_id", &self.bank_payment_id)
            .field("reason", &self.reason)
            .finish_non_exhaustive()
    }
}

#[derive(Serialize, Deserialize)]
struct PaymentSecret {
    amount_minor: i64,
    debtor: String,
    creditor: String,
    creditor_name: String,
    remittance: Option<String>,
    #[serde(default)]
    context: String,
}

#[derive(sqlx::FromRow)]
struct PaymentRow {
    id: String,
    customer_id: String,
    action_key: String,
    request_id: String,
    product: String,
    currency: String,
    state: String,
    bank_payment_id: Option<String>,
    reason: Option<String>,
    sealed: Vec<u8>,
    created_at: String,
    updated_at: String,
}

macro_rules! select_payments {
    ($rest:literal) => {
        concat!(
            "SELECT id, customer_id, action_key, request_id, product, currency, state, \
             bank_payment_id, reason, sealed, created_at, updated_at FROM payments ",
            $rest
        )
    };
}

impl PaymentRow {
    fn open(self, dek: &crate::crypto::DataKey) -> Result<PaymentRecord, StoreError> {
        let s: PaymentSecret = sealed::open(dek, PAYMENTS, &self.id, &self.sealed)?;
        Ok(PaymentRecord {
            customer: parse(&self.customer_id, "payments.customer_id")?,
            amount: read_money(
                s.amount_minor,
                &self.currency,
                "payments.sealed",
                "payments.currency",
            )?,
            debtor: parse(&s.debtor, "payments.sealed")?,
            creditor: parse(&s.creditor, "payments.sealed")?,
            creditor_name: s.creditor_name,
            remittance: s.remittance,
            context: s.context,
            created_at: read_instant(&self.created_at, "payments.created_at")?,
            updated_at: read_instant(&self.updated_at, "payments.updated_at")?,
            id: self.id,
            action_key: self.action_key,
            request_id: self.request_id,
            product: self.product,
            state: self.state,
            bank_payment_id: self.bank_payment_id,
            reason: self.reason,
        })
    }
}

fn check(s: &str, what: &'static str) -> Result<(), StoreError> {
    if s.is_empty() || s.len() > 200 || s.chars().any(char::is_control) {
        return Err(StoreError::Invalid(what));
    }
    Ok(())
}

impl Store {
    /// Creates the payment unless the customer already has one for `action_key`; returns the
    /// stored row and whether this call created it. A retried chat message lands here twice and
    /// gets the first payment back.
    pub async fn create_payment(
        &self,
        p: &NewPayment,
    ) -> Result<(PaymentRecord, bool), StoreError> {
        check(&p.id, "payment id")?;
        check(&p.action_key, "payment action key")?;
        check(&p.request_id, "payment request id")?;
        check(&p.product, "payment product")?;
        check(&p.state, "payment state")?;
        if p.creditor_name.chars().count() > 140
            || p.remittance
                .as_ref()
                .is_some_and(|r| r.chars().count() > 140)
            || p.context.len() > 4096
        {
            return Err(StoreError::Invalid("payment text"));
        }
        let customer = p.customer.to_string();
        let at = instant(p.at, "payment at")?;
        let secret = PaymentSecret {
            amount_minor: minor(&p.amount, "payment amount")?,
            debtor: p.debtor.expose().to_owned(),
            creditor: p.creditor.expose().to_owned(),
            creditor_name: p.creditor_name.clone(),
            remittance: p.remittance.clone(),
            context: p.context.clone(),
        };
        let backend = self.backend();
        let created = with_pool!(self, pool => {
            let mut tx = begin_write(pool, backend).await?;
            let dek = dek_for_write!(self, &mut *tx, &customer);
            let sealed_bytes = sealed::seal(&dek, PAYMENTS, &p.id, &secret)?;
            let n = sqlx::query(
                "INSERT INTO payments (id, customer_id, action_key, request_id, product, currency, \
                 state, bank_payment_id, reason, sealed, created_at, updated_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, NULL, NULL, $8, $9, $9) \
                 ON CONFLICT (customer_id, action_key) DO NOTHING",
            )
            .bind(&p.id)
            .bind(&customer)
            .bind(&p.action_key)
            .bind(&p.request_id)
            .bind(&p.product)
            .bind(p.amount.currency().code())
            .bind(&p.state)
            .bind(sealed_bytes)
            .bind(&at)
            .execute(&mut *tx)
            .await?
            .rows_affected();
            tx.commit().await?;
            n == 1
        });
        let rec = self
            .payment_by_action(p.customer, &p.action_key)
            .await?
            .ok_or(StoreError::NotFound("payments"))?;
        Ok((rec, created))
    }

    async fn payment_rows(&self, rows: Vec<PaymentRow>) -> Result<Vec<PaymentRecord>, StoreError> {
        let mut out = Vec::with_capacity(rows.len());
        let mut cache = crate::vault::DekCache::default();
        for r in rows {
            let dek = self.cached_dek(&mut cache, &r.customer_id).await?;
            out.push(r.open(sealed::require(dek)?)?);
        }
        Ok(out)
    }

    pub async fn payment(&self, id: &str) -> Result<Option<PaymentRecord>, StoreError> {
        let sql = select_payments!("WHERE id = $1");
        let rows: Vec<PaymentRow> =
            with_pool!(self, p => sqlx::query_as(sql).bind(id).fetch_all(p).await?);
        Ok(self.payment_rows(rows).await?.pop())
    }

    pub async fn payment_by_action(
        &self,
        customer: CustomerId,
        action_key: &str,
    ) -> Result<Option<PaymentRecord>, StoreError> {
        let sql = select_payments!("WHERE customer_id = $1 AND action_key = $2");
        let c = customer.to_string();
        let rows: Vec<PaymentRow> = with_pool!(self, p => sqlx::query_as(sql)
            .bind(&c).bind(action_key).fetch_all(p).await?);
        Ok(self.payment_rows(rows).await?.pop())
    }

    /// Every payment whose state is not one of `final_states`, oldest first (start-up recovery).
    pub async fn open_payments(
        &self,
        final_states: &[&str],
    ) -> Result<Vec<PaymentRecord>, StoreError> {
        let sql = select_payments!("ORDER BY created_at, id");
        let rows: Vec<PaymentRow> = with_pool!(self, p => sqlx::query_as(sql).fetch_all(p).await?);
        let open: Vec<PaymentRow> = rows
            .into_iter()
            .filter(|r| !final_states.contains(&r.state.as_str()))
            .collect();
        self.payment_rows(open).await
    }

    /// The customer's payments, newest first.
    pub async fn customer_payments(
        &self,
        customer: CustomerId,
    ) -> Result<Vec<PaymentRecord>, StoreError> {
        let sql = select_payments!("WHERE customer_id = $1 ORDER BY created_at DESC, id");
        let c = customer.to_string();
        let rows: Vec<PaymentRow> =
            with_pool!(self, p => sqlx::query_as(sql).bind(&c).fetch_all(p).await?);
        self.payment_rows(rows).await
    }

    /// Moves a payment from `from` to `to` (compare-and-set), recording the bank's payment id
    /// and reason when given. `false` when the row was not in `from` any more: someone else
    /// advanced it, and the caller must re-read instead of acting.
    pub async fn advance_payment(
        &self,
        id: &str,
        from: &str,
        to: &str,
        bank_payment_id: Option<&str>,
        reason: Option<&str>,
        at: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        check(to, "payment state")?;
        if let Some(b) = bank_payment_id {
            check(b, "bank payment id")?;
        }
        if let Some(r) = reason {
            check(r, "payment reason")?;
        }
        let at = instant(at, "payment at")?;
        let n = with_pool!(self, p => sqlx::query(
            "UPDATE payments SET state = $3, bank_payment_id = COALESCE($4, bank_payment_id), \
             reason = COALESCE($5, reason), updated_at = $6 WHERE id = $1 AND state = $2",
        )
        .bind(id)
        .bind(from)
        .bind(to)
        .bind(bank_payment_id)
        .bind(reason)
        .bind(&at)
        .execute(p)
        .await?
        .rows_affected());
        Ok(n == 1)
    }
}
