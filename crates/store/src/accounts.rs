//! Accounts and their balances, written by the bank crate's sync and read by the privacy gate.
//! An account is keyed by (consent, bank resource id): re-syncing the same bank account keeps the
//! gateway's `AccountId`.

use okienko_core::{Account, AccountId, Balance, BalanceKind, ConsentId, CustomerId, Iban};

use crate::codec::{
    date_opt, instant, minor, parse, parse_opt, read_date_opt, read_instant, read_money,
};
use crate::crypto::DataKey;
use crate::error::StoreError;
use crate::records::AccountRecord;
use crate::sealed::{self, AccountSecret, BalanceSecret};
use crate::store::{Store, begin_write, with_pool};
use crate::vault::{DekCache, dek_for_write, load_dek};

#[derive(sqlx::FromRow)]
struct AccountRow {
    id: String,
    customer_id: String,
    consent_id: String,
    bank_resource_id: String,
    currency: String,
    sealed: Vec<u8>,
}

impl AccountRow {
    fn into_record(self, dek: &DataKey) -> Result<AccountRecord, StoreError> {
        let secret: AccountSecret = sealed::open(dek, sealed::ACCOUNTS, &self.id, &self.sealed)?;
        Ok(AccountRecord {
            account: Account {
                id: parse(&self.id, "accounts.id")?,
                iban: parse_opt::<Iban>(secret.iban.as_deref(), "accounts.iban")?,
                currency: parse(&self.currency, "accounts.currency")?,
                name: secret.name,
            },
            customer: parse(&self.customer_id, "accounts.customer_id")?,
            consent: parse(&self.consent_id, "accounts.consent_id")?,
            bank_resource_id: self.bank_resource_id,
        })
    }
}

#[derive(sqlx::FromRow)]
struct BalanceRow {
    account_id: String,
    kind: String,
    currency: String,
    sealed: Vec<u8>,
    reference_date: Option<String>,
    fetched_at: String,
    pos: i64,
}

impl BalanceRow {
    fn into_balance(self, dek: &DataKey) -> Result<Balance, StoreError> {
        let row_id = balance_row_id(&self.account_id, self.pos);
        let secret: BalanceSecret = sealed::open(dek, sealed::BALANCES, &row_id, &self.sealed)?;
        Ok(Balance {
            account_id: parse(&self.account_id, "balances.account_id")?,
            kind: BalanceKind::from_wire(&self.kind).ok_or(StoreError::Corrupt("balances.kind"))?,
            amount: read_money(
                secret.amount_minor,
                &self.currency,
                "balances.amount",
                "balances.currency",
            )?,
            reference_date: read_date_opt(
                self.reference_date.as_deref(),
                "balances.reference_date",
            )?,
            fetched_at: read_instant(&self.fetched_at, "balances.fetched_at")?,
        })
    }
}

/// A balance row is (account, position); that pair is what its ciphertext is bound to.
fn balance_row_id(account: &str, pos: i64) -> String {
    format!("{account}/{pos}")
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

const ACCOUNTS_OF_CUSTOMER: &str = "SELECT id, customer_id, consent_id, bank_resource_id, currency, sealed \
     FROM accounts WHERE customer_id = $1 ORDER BY seq, id";

const BALANCES_OF_CUSTOMER: &str = "SELECT b.account_id, b.kind, b.currency, b.sealed, b.reference_date, \
     b.fetched_at, b.pos FROM balances b JOIN accounts a ON a.id = b.account_id \
     WHERE a.customer_id = $1 ORDER BY a.seq, a.id, b.pos";

/// [`ACCOUNTS_OF_CUSTOMER`] on a direct SQLite connection (`direct.rs`).
fn account_rows_direct(
    conn: &rusqlite::Connection,
    c: &str,
) -> Result<Vec<AccountRow>, StoreError> {
    Ok(conn
        .prepare_cached(ACCOUNTS_OF_CUSTOMER)?
        .query_map([c], |r| {
            Ok(AccountRow {
                id: r.get(0)?,
                customer_id: r.get(1)?,
                consent_id: r.get(2)?,
                bank_resource_id: r.get(3)?,
                currency: r.get(4)?,
                sealed: r.get(5)?,
            })
        })?
        .collect::<Result<Vec<_>, _>>()?)
}

/// [`BALANCES_OF_CUSTOMER`] on a direct SQLite connection (`direct.rs`).
fn balance_rows_direct(
    conn: &rusqlite::Connection,
    c: &str,
) -> Result<Vec<BalanceRow>, StoreError> {
    Ok(conn
        .prepare_cached(BALANCES_OF_CUSTOMER)?
        .query_map([c], |r| {
            Ok(BalanceRow {
                account_id: r.get(0)?,
                kind: r.get(1)?,
                currency: r.get(2)?,
                sealed: r.get(3)?,
                reference_date: r.get(4)?,
                fetched_at: r.get(5)?,
                pos: r.get(6)?,
            })
        })?
        .collect::<Result<Vec<_>, _>>()?)
}

fn to_records(
    rows: Vec<AccountRow>,
    dek: Option<&DataKey>,
) -> Result<Vec<AccountRecord>, StoreError> {
    if rows.is_empty() {
        return Ok(Vec::new());
    }
    let dek = sealed::require(dek)?;
    rows.into_iter().map(|r| r.into_record(dek)).collect()
}

impl Store {
    /// Inserts the account or, when (consent, bank_resource_id) is already stored, updates its
    /// IBAN, currency and name and keeps the stored `AccountId` (and customer).
    pub async fn upsert_account(&self, a: &AccountRecord) -> Result<(), StoreError> {
        self.upsert_account_id(a).await.map(|_| ())
    }

    /// [`Store::upsert_account`], returning the id the account has in the store, which is the
    /// stored one when the account was already known (not necessarily `a.account.id`). The IBAN
    /// and name are sealed under the (stored) customer's data key, bound to the stored id.
    pub async fn upsert_account_id(&self, a: &AccountRecord) -> Result<AccountId, StoreError> {
        let secret = AccountSecret {
            iban: a.account.iban.as_ref().map(|i| i.expose().to_owned()),
            name: a.account.name.clone(),
        };
        let consent = a.consent.to_string();
        let backend = self.backend();
        let id: Option<String> = with_pool!(self, p => {
            let mut tx = begin_write(p, backend).await?;
            let mut id = None;
            // Twice at most: a concurrent first insert of the same bank account wins the race,
            // then this write becomes an update of the row it created.
            for _ in 0..2 {
                let existing: Option<(String, String)> = sqlx::query_as(
                    "SELECT id, customer_id FROM accounts \
                     WHERE consent_id = $1 AND bank_resource_id = $2",
                )
                .bind(&consent)
                .bind(&a.bank_resource_id)
                .fetch_optional(&mut *tx)
                .await?;
                if let Some((stored, customer)) = existing {
                    let dek = dek_for_write!(self, &mut *tx, &customer);
                    let sealed = sealed::seal(&dek, sealed::ACCOUNTS, &stored, &secret)?;
                    sqlx::query("UPDATE accounts SET currency = $2, sealed = $3 WHERE id = $1")
                        .bind(&stored)
                        .bind(a.account.currency.code())
                        .bind(sealed)
                        .execute(&mut *tx)
                        .await?;
                    id = Some(stored);
                    break;
                }
                let fresh = a.account.id.to_string();
                let customer = a.customer.to_string();
                let dek = dek_for_write!(self, &mut *tx, &customer);
                let sealed = sealed::seal(&dek, sealed::ACCOUNTS, &fresh, &secret)?;
                let inserted: Option<String> = sqlx::query_scalar(
                    "INSERT INTO accounts (id, customer_id, consent_id, bank_resource_id, \
                     currency, sealed, seq) VALUES ($1, $2, $3, $4, $5, $6, \
                     (SELECT COALESCE(MAX(seq), 0) + 1 FROM accounts)) \
                     ON CONFLICT (consent_id, bank_resource_id) DO NOTHING RETURNING id",
                )
                .bind(&fresh)
                .bind(&customer)
                .bind(&consent)
                .bind(&a.bank_resource_id)
                .bind(a.account.currency.code())
                .bind(sealed)
                .fetch_optional(&mut *tx)
                .await?;
                if inserted.is_some() {
                    id = inserted;
                    break;
                }
            }
            tx.commit().await?;
            id
        });
        parse(&id.ok_or(StoreError::NotFound("accounts"))?, "accounts.id")
    }

    /// In the order they were first stored.
    pub async fn accounts_for_customer(
        &self,
        c: CustomerId,
    ) -> Result<Vec<AccountRecord>, StoreError> {
        if let Some(direct) = self.direct() {
            // On a chat answer's path (the balance question): read directly.
            let c = c.to_string();
            return direct.read(|conn| {
                let rows = account_rows_direct(conn, &c)?;
                if rows.is_empty() {
                    return Ok(Vec::new());
                }
                to_records(rows, self.load_dek_direct(conn, &c)?.as_ref())
            });
        }
        let rows: Vec<AccountRow> = with_pool!(self, p => sqlx::query_as(ACCOUNTS_OF_CUSTOMER)
        .bind(c.to_string())
        .fetch_all(p)
        .await)?;
        if rows.is_empty() {
            return Ok(Vec::new());
        }
        let dek = with_pool!(self, p => load_dek!(self, p, &c.to_string()));
        to_records(rows, dek.as_ref())
    }

    /// In the order they were first stored.
    pub async fn accounts_for_consent(
        &self,
        c: ConsentId,
    ) -> Result<Vec<AccountRecord>, StoreError> {
        let rows: Vec<AccountRow> = with_pool!(self, p => sqlx::query_as(
            "SELECT id, customer_id, consent_id, bank_resource_id, currency, sealed \
             FROM accounts WHERE consent_id = $1 ORDER BY seq, id",
        )
        .bind(c.to_string())
        .fetch_all(p)
        .await)?;
        // One consent's accounts belong to one customer, but read each row with its own key.
        let mut out = Vec::with_capacity(rows.len());
        let mut keys = DekCache::default();
        for r in rows {
            let dek = self.cached_dek(&mut keys, &r.customer_id).await?;
            out.push(r.into_record(sealed::require(dek)?)?);
        }
        Ok(out)
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
        let mut sealed_rows = Vec::with_capacity(rows.len());
        with_pool!(self, p => {
            let mut tx = begin_write(p, backend).await?;
            sqlx::query("DELETE FROM balances WHERE account_id = $1")
                .bind(&account)
                .execute(&mut *tx)
                .await?;
            if !rows.is_empty() {
                let customer: Option<String> =
                    sqlx::query_scalar("SELECT customer_id FROM accounts WHERE id = $1")
                        .bind(&account)
                        .fetch_optional(&mut *tx)
                        .await?;
                let customer = customer.ok_or(StoreError::NotFound("accounts"))?;
                let dek = dek_for_write!(self, &mut *tx, &customer);
                for (pos, r) in (0i64..).zip(&rows) {
                    let secret = BalanceSecret {
                        amount_minor: r.amount_minor,
                    };
                    let row_id = balance_row_id(&account, pos);
                    sealed_rows.push(sealed::seal(&dek, sealed::BALANCES, &row_id, &secret)?);
                }
            }
            for ((pos, r), sealed) in (0i64..).zip(&rows).zip(&sealed_rows) {
                sqlx::query(
                    "INSERT INTO balances (account_id, kind, currency, sealed, \
                     reference_date, fetched_at, pos) VALUES ($1, $2, $3, $4, $5, $6, $7)",
                )
                .bind(&account)
                .bind(r.kind)
                .bind(&r.currency)
                .bind(sealed)
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

    /// [`Store::accounts_for_customer`] and [`Store::balances_for_customer`] together: on
    /// SQLite one direct read with one data key (the balance question asks for both), or the
    /// copy kept since the last such read when nothing of the customer's changed since
    /// (`read_cache.rs`).
    pub async fn accounts_and_balances_for_customer(
        &self,
        c: CustomerId,
    ) -> Result<(Vec<AccountRecord>, Vec<Balance>), StoreError> {
        let Some(direct) = self.direct() else {
            let accounts = self.accounts_for_customer(c).await?;
            let balances = self.balances_for_customer(c).await?;
            return Ok((accounts, balances));
        };
        let c = c.to_string();
        direct.read(|conn| {
            // The generation first: a write after it leaves the kept copy behind, never ahead.
            let generation = crate::read_cache::generation(conn, &c)?;
            if let Some(kept) = direct.balances.get(&c, generation) {
                return Ok(kept);
            }
            let accounts = account_rows_direct(conn, &c)?;
            let balances = balance_rows_direct(conn, &c)?;
            if accounts.is_empty() && balances.is_empty() {
                return Ok((Vec::new(), Vec::new()));
            }
            let dek = self.load_dek_direct(conn, &c)?;
            let accounts = to_records(accounts, dek.as_ref())?;
            let balances: Vec<Balance> = balances
                .into_iter()
                .map(|r| r.into_balance(sealed::require(dek.as_ref())?))
                .collect::<Result<_, _>>()?;
            direct.balances.put(&c, generation, &accounts, &balances);
            Ok((accounts, balances))
        })
    }

    /// All balances of all the customer's accounts, by account (stored order), then as given.
    pub async fn balances_for_customer(&self, c: CustomerId) -> Result<Vec<Balance>, StoreError> {
        if let Some(direct) = self.direct() {
            // On a chat answer's path (the balance question): read directly.
            let c = c.to_string();
            return direct.read(|conn| {
                let rows = balance_rows_direct(conn, &c)?;
                if rows.is_empty() {
                    return Ok(Vec::new());
                }
                let dek = self.load_dek_direct(conn, &c)?;
                let dek = sealed::require(dek.as_ref())?;
                rows.into_iter().map(|r| r.into_balance(dek)).collect()
            });
        }
        let rows: Vec<BalanceRow> = with_pool!(self, p => sqlx::query_as(BALANCES_OF_CUSTOMER)
        .bind(c.to_string())
        .fetch_all(p)
        .await)?;
        if rows.is_empty() {
            return Ok(Vec::new());
        }
        let dek = with_pool!(self, p => load_dek!(self, p, &c.to_string()));
        let dek = sealed::require(dek.as_ref())?;
        rows.into_iter().map(|r| r.into_balance(dek)).collect()
    }
}
