//! Payments (migration 0006): the persisted half of crates/payments' state machine. The store
//! keeps what it is given — one row per chat action, unique on (customer, action key) and on the
//! bank idempotency key — and moves a row's state only by compare-and-set, so two drivers (or a
//! driver and its restarted self) can never both advance the same payment. It does not know
//! which states exist; the payments crate does.
//!
//! The amount, both IBANs, the payee's name and the reference are sealed with the customer's
//! data key like transactions; ids, state, currency and the bank's reason code stay plaintext.
//!
//! Several gateway instances share the table (issue 9, migration 0023): the right to tell the
//! customer how a payment ended is claimed once per payment ([`Store::claim_payment_notice`]),
//! and a daily cap is checked and the payment inserted in one transaction serialised per
//! customer ([`Store::create_payment_within`]), so two instances cannot both let through
//! transfers that together exceed it.

use chrono::{DateTime, Utc};
use okienko_core::{CustomerId, Iban, Money};
use serde::{Deserialize, Serialize};

use crate::codec::{instant, minor, parse, read_instant, read_money};
use crate::error::StoreError;
use crate::sealed;
use crate::store::{Backend, Store, begin_write, with_pool};
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
    /// When an instance claimed telling the customer how the payment ended (None: nobody yet).
    pub notified_at: Option<DateTime<Utc>>,
}

impl std::fmt::Debug for PaymentRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PaymentRecord")
            .field("id", &self.id)
            .field("state", &self.state)
            .field("bank_payment_id", &self.bank_payment_id)
            .field("reason", &self.reason)
            .field("notified_at", &self.notified_at)
            .finish_non_exhaustive()
    }
}

/// A cap on what one customer's payments created in `[from, until)` may add up to, e.g. the
/// calendar day in the chat's time zone. Payments in `uncounted_states` (rejected, cancelled)
/// and payments in another currency than `max`'s do not count.
#[derive(Clone, Copy)]
pub struct DayLimit<'a> {
    pub from: DateTime<Utc>,
    pub until: DateTime<Utc>,
    pub max: Money,
    pub uncounted_states: &'a [&'a str],
}

/// What [`Store::create_payment_within`] did. (`Debug` shows no amount: `Money` and
/// `PaymentRecord` hide theirs.)
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LimitedPayment {
    /// The stored payment and whether this call created it (false: the action had one already;
    /// a retry is never refused, it pays nothing new).
    Stored(Box<PaymentRecord>, bool),
    /// Not created: the window's counted payments add up to `spent` already, and this one
    /// would take them over the limit.
    OverLimit { spent: Money },
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
    notified_at: Option<String>,
}

macro_rules! select_payments {
    ($rest:literal) => {
        concat!(
            "SELECT id, customer_id, action_key, request_id, product, currency, state, \
             bank_payment_id, reason, sealed, created_at, updated_at, notified_at FROM payments ",
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
            notified_at: self
                .notified_at
                .as_deref()
                .map(|t| read_instant(t, "payments.notified_at"))
                .transpose()?,
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

/// Serialises the limit check of one customer's payments across PostgreSQL connections (and
/// gateway instances) until the transaction ends; namespaced by schema like the leases.
const DAY_LOCK_SQL: &str = "SELECT pg_advisory_xact_lock(hashtextextended(\
     'okienko-payment-limit:' || current_schema() || ':' || $1, 0))";

/// What the rows of a limit's window add up to, in the limit's currency. The amounts are sealed,
/// so they are opened with the customer's key inside the checking transaction.
fn counted_total(
    dek: &crate::crypto::DataKey,
    limit: &DayLimit<'_>,
    rows: Vec<(String, String, String, Vec<u8>)>,
) -> Result<Money, StoreError> {
    let currency = limit.max.currency();
    let mut total = rust_decimal::Decimal::ZERO;
    for (id, state, cur, sealed_bytes) in rows {
        if limit.uncounted_states.contains(&state.as_str()) || cur != currency.code() {
            continue;
        }
        let s: PaymentSecret = sealed::open(dek, PAYMENTS, &id, &sealed_bytes)?;
        let m = read_money(s.amount_minor, &cur, "payments.sealed", "payments.currency")?;
        total = total
            .checked_add(m.amount())
            .ok_or(StoreError::Corrupt("payments.sealed"))?;
    }
    Money::new(total, currency).map_err(|_| StoreError::Corrupt("payments.sealed"))
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
        match self.insert_payment(p, None).await? {
            LimitedPayment::Stored(rec, created) => Ok((*rec, created)),
            // Without a limit nothing is refused.
            LimitedPayment::OverLimit { .. } => Err(StoreError::Invalid("payment limit")),
        }
    }

    /// [`Store::create_payment`] under a cap: in one write transaction, serialised per customer
    /// (the write lock on SQLite, a per-customer advisory transaction lock on PostgreSQL), it
    /// sums the customer's counted payments in the limit's window and inserts only if this one
    /// keeps them within it. Two gateway instances confirming transfers of one customer at the
    /// same moment therefore see each other's rows; the second one to get the lock is refused.
    /// A retry of an action that already has a payment returns it without counting.
    pub async fn create_payment_within(
        &self,
        p: &NewPayment,
        limit: &DayLimit<'_>,
    ) -> Result<LimitedPayment, StoreError> {
        if p.amount.currency() != limit.max.currency() {
            return Err(StoreError::Invalid("payment currency"));
        }
        self.insert_payment(p, Some(limit)).await
    }

    async fn insert_payment(
        &self,
        p: &NewPayment,
        limit: Option<&DayLimit<'_>>,
    ) -> Result<LimitedPayment, StoreError> {
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
        let window = match limit {
            Some(l) => Some((
                instant(l.from, "payment limit from")?,
                instant(l.until, "payment limit until")?,
            )),
            None => None,
        };
        let secret = PaymentSecret {
            amount_minor: minor(&p.amount, "payment amount")?,
            debtor: p.debtor.expose().to_owned(),
            creditor: p.creditor.expose().to_owned(),
            creditor_name: p.creditor_name.clone(),
            remittance: p.remittance.clone(),
            context: p.context.clone(),
        };
        let backend = self.backend();
        let (refused, created) = with_pool!(self, pool => {
            let mut tx = begin_write(pool, backend).await?;
            if limit.is_some() && backend == Backend::Postgres {
                sqlx::query(DAY_LOCK_SQL)
                    .bind(&customer)
                    .execute(&mut *tx)
                    .await?;
            }
            let dek = dek_for_write!(self, &mut *tx, &customer);
            let mut refused = None;
            let mut created = false;
            if let (Some(l), Some((from, until))) = (limit, &window) {
                let existing: i64 = sqlx::query_scalar(
                    "SELECT COUNT(*) FROM payments WHERE customer_id = $1 AND action_key = $2",
                )
                .bind(&customer)
                .bind(&p.action_key)
                .fetch_one(&mut *tx)
                .await?;
                if existing == 0 {
                    let rows: Vec<(String, String, String, Vec<u8>)> = sqlx::query_as(
                        "SELECT id, state, currency, sealed FROM payments \
                         WHERE customer_id = $1 AND created_at >= $2 AND created_at < $3",
                    )
                    .bind(&customer)
                    .bind(from)
                    .bind(until)
                    .fetch_all(&mut *tx)
                    .await?;
                    let spent = counted_total(&dek, l, rows)?;
                    if spent.amount() + p.amount.amount() > l.max.amount() {
                        refused = Some(spent);
                    }
                }
            }
            if refused.is_none() {
                let sealed_bytes = sealed::seal(&dek, PAYMENTS, &p.id, &secret)?;
                created = sqlx::query(
                    "INSERT INTO payments (id, customer_id, action_key, request_id, product, \
                     currency, state, bank_payment_id, reason, sealed, created_at, updated_at) \
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
                .rows_affected()
                    == 1;
                tx.commit().await?;
            }
            (refused, created)
        });
        if let Some(spent) = refused {
            return Ok(LimitedPayment::OverLimit { spent });
        }
        let rec = self
            .payment_by_action(p.customer, &p.action_key)
            .await?
            .ok_or(StoreError::NotFound("payments"))?;
        Ok(LimitedPayment::Stored(Box::new(rec), created))
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

    /// Takes the right to tell the customer how payment `id` ended: `true` for exactly one caller
    /// over all instances (the first to set `notified_at`), `false` for every other and when the
    /// payment does not exist. Call it right before the push, with the message ready: a claim
    /// is never given back, so a process dying between claim and push loses that one message
    /// (at most once: a customer is never told twice that money left).
    pub async fn claim_payment_notice(
        &self,
        id: &str,
        at: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let at = instant(at, "payment notified at")?;
        let n = with_pool!(self, p => sqlx::query(
            "UPDATE payments SET notified_at = $2 WHERE id = $1 AND notified_at IS NULL",
        )
        .bind(id)
        .bind(&at)
        .execute(p)
        .await?
        .rows_affected());
        Ok(n == 1)
    }

    /// Payments in one of `final_states` whose end nobody has told the customer yet, last moved
    /// before `ended_before` (so the instance that just ended one gets to tell first), oldest
    /// first: the leader's sweep for instances that died before telling.
    pub async fn unnotified_payments(
        &self,
        final_states: &[&str],
        ended_before: DateTime<Utc>,
    ) -> Result<Vec<PaymentRecord>, StoreError> {
        let before = instant(ended_before, "payment ended before")?;
        let sql = select_payments!(
            "WHERE notified_at IS NULL AND updated_at < $1 ORDER BY updated_at, id"
        );
        let rows: Vec<PaymentRow> =
            with_pool!(self, p => sqlx::query_as(sql).bind(&before).fetch_all(p).await?);
        let ended: Vec<PaymentRow> = rows
            .into_iter()
            .filter(|r| final_states.contains(&r.state.as_str()))
            .collect();
        self.payment_rows(ended).await
    }
}
