//! Accounts and their balances, written by the bank crate's sync and read by the privacy gate.
//! An account is keyed by (consent, bank resource id): re-syncing the same bank account keeps the
//! gateway's `AccountId`.

use okienko_core::{Account, AccountId, Balance, BalanceKind, ConsentId, CustomerId, Iban};

use crate::codec::{
    date_opt, instant, minor, parse, parse_opt, read_date_opt, read_instant, read_money,
};
use crate::error::StoreError;
use crate::records::AccountRecord;
use crate::store::{Store, begin_write, with_pool};

#[derive(sqlx::FromRow)]
struct AccountRow {
    id: String,
    customer_id: String,
    consent_id: String,
    bank_resource_id: String,
    iban: Option<String>,
    currency: String,
    name: String,
}

impl TryFrom<AccountRow> for AccountRecord {
    type Error = StoreError;
    fn try_from(r: AccountRow) -> Result<Self, StoreError> {
        Ok(AccountRecord {
            account: Account {
                id: parse(&r.id, "accounts.id")?,
                iban: parse_opt::<Iban>(r.iban.as_deref(), "accounts.iban")?,
                currency: parse(&r.currency, "accounts.currency")?,
                name: r.name,
            },
            customer: parse(&r.customer_id, "accounts.customer_id")?,
            consent: parse(&r.consent_id, "accounts.consent_id")?,
            bank_resource_id: r.bank_resource_id,
        })
    }
}

#[derive(sqlx::FromRow)]
struct BalanceRow {
    account_id: String,
    kind: String,
    amount_minor: i64,
    currency: String,
    reference_date: Option<String>,
    fetched_at: String,
}

impl TryFrom<BalanceRow> for Balance {
    type Error = StoreError;
    fn try_from(r: BalanceRow) -> Result<Self, StoreError> {
        Ok(Balance {
            account_id: parse(&r.account_id, "balances.account_id")?,
            kind: BalanceKind::from_wire(&r.kind).ok_or(StoreError::Corrupt("balances.kind"))?,
            amount: read_money(
                r.amount_minor,
                &r.currency,
                "balances.amount_minor",
                "balances.currency",
            )?,
            reference_date: read_date_opt(r.reference_date.as_deref(), "balances.reference_date")?,
            fetched_at: read_instant(&r.fetched_at, "balances.fetched_at")?,
        })
    }
}

/// A foreign-key failure means the account the caller named is not there (SQLite 787, PG 23503).
pub(crate) fn missing_account(e: StoreError) -> StoreError {
    match &e {
        StoreError::Query(f) if matches!(f.code.as_deref(), Some("787") | Some("23503")) => {
            StoreError::NotFound("accounts")
        }
        _ => e,
    }
}

fn to_records(rows: Vec<AccountRow>) -> Result<Vec<AccountRecord>, StoreError> {
    rows.into_iter().map(AccountRecord::try_from).collect()
}

impl Store {
    /// Inserts the account or, when (consent, bank_resource_id) is already stored, updates its
    /// IBAN, currency and name and keeps the stored `AccountId` (and customer).
    pub async fn upsert_account(&self, a: &AccountRecord) -> Result<(), StoreError> {
        self.upsert_account_id(a).await.map(|_| ())
    }

    /// [`Store::upsert_account`], returning the id the account has in the store, which is the
    /// stored one when the account was already known (not necessarily `a.account.id`).
    pub async fn upsert_account_id(&self, a: &AccountRecord) -> Result<AccountId, StoreError> {
        let id: String = with_pool!(self, p => sqlx::query_scalar(
            "INSERT INTO accounts (id, customer_id, consent_id, bank_resource_id, iban, currency, \
             name, seq) VALUES ($1, $2, $3, $4, $5, $6, $7, \
             (SELECT COALESCE(MAX(seq), 0) + 1 FROM accounts)) \
             ON CONFLICT (consent_id, bank_resource_id) DO UPDATE SET iban = excluded.iban, \
             currency = excluded.currency, name = excluded.name \
             RETURNING id",
        )
        .bind(a.account.id.to_string())
        .bind(a.customer.to_string())
        .bind(a.consent.to_string())
        .bind(&a.bank_resource_id)
        .bind(a.account.iban.as_ref().map(Iban::expose))
        .bind(a.account.currency.code())
        .bind(&a.account.name)
        .fetch_one(p)
        .await)?;
        parse(&id, "accounts.id")
    }

    /// In the order they were first stored.
    pub async fn accounts_for_customer(
        &self,
        c: CustomerId,
    ) -> Result<Vec<AccountRecord>, StoreError> {
        let rows: Vec<AccountRow> = with_pool!(self, p => sqlx::query_as(
            "SELECT id, customer_id, consent_id, bank_resource_id, iban, currency, name \
             FROM accounts WHERE customer_id = $1 ORDER BY seq, id",
        )
        .bind(c.to_string())
        .fetch_all(p)
        .await)?;
        to_records(rows)
    }

    /// In the order they were first stored.
    pub async fn accounts_for_consent(
        &self,
        c: ConsentId,
    ) -> Result<Vec<AccountRecord>, StoreError> {
        let rows: Vec<AccountRow> = with_pool!(self, p => sqlx::query_as(
            "SELECT id, customer_id, consent_id, bank_resource_id, iban, currency, name \
             FROM accounts WHERE consent_id = $1 ORDER BY seq, id",
        )
        .bind(c.to_string())
        .fetch_all(p)
        .await)?;
        to_records(rows)
    }

    /// Replaces all stored balances of `account` with `b` (in one transaction). Every balance must
    /// carry `account` as its `account_id` (`Invalid("balance.account_id")` otherwise); an unknown
    /// account is `NotFound("accounts")`.
    pub async fn replace_balances(
        &self,
        account: AccountId,
        b: &[Balance],
    ) -> Result<(), StoreError> {
        struct Row {
            kind: &'static str,
            amount_minor: i64,
            currency: String,
            reference_date: Option<String>,
            fetched_at: String,
        }
        let mut rows = Vec::with_capacity(b.len());
        for bal in b {
            if bal.account_id != account {
                return Err(StoreError::Invalid("balance.account_id"));
            }
            rows.push(Row {
                kind: bal.kind.wire_name(),
                amount_minor: minor(&bal.amount, "balance.amount")?,
                currency: bal.amount.currency().code().to_owned(),
                reference_date: date_opt(bal.reference_date, "balance.reference_date")?,
                fetched_at: instant(bal.fetched_at, "balance.fetched_at")?,
            });
        }
        let account = account.to_string();
        let backend = self.backend();
        with_pool!(self, p => {
            let mut tx = begin_write(p, backend).await?;
            sqlx::query("DELETE FROM balances WHERE account_id = $1")
                .bind(&account)
                .execute(&mut *tx)
                .await?;
            for (pos, r) in (0i64..).zip(&rows) {
                sqlx::query(
                    "INSERT INTO balances (account_id, kind, amount_minor, currency, \
                     reference_date, fetched_at, pos) VALUES ($1, $2, $3, $4, $5, $6, $7)",
                )
                .bind(&account)
                .bind(r.kind)
                .bind(r.amount_minor)
                .bind(&r.currency)
                .bind(&r.reference_date)
                .bind(&r.fetched_at)
                .bind(pos)
                .execute(&mut *tx)
                .await
                .map_err(|e| missing_account(e.into()))?;
            }
            tx.commit().await?;
        });
        Ok(())
    }

    /// All balances of all the customer's accounts, by account (stored order), then as given.
    pub async fn balances_for_customer(&self, c: CustomerId) -> Result<Vec<Balance>, StoreError> {
        let rows: Vec<BalanceRow> = with_pool!(self, p => sqlx::query_as(
            "SELECT b.account_id, b.kind, b.amount_minor, b.currency, b.reference_date, \
             b.fetched_at FROM balances b JOIN accounts a ON a.id = b.account_id \
             WHERE a.customer_id = $1 ORDER BY a.seq, a.id, b.pos",
        )
        .bind(c.to_string())
        .fetch_all(p)
        .await)?;
        rows.into_iter().map(Balance::try_from).collect()
    }
}
