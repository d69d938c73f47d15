//! Transaction rows: the sync engine's atomic batches and matching reads, the privacy gate's
//! filtered and paged reads, and the bench baseline. Filtering happens in SQL and must agree
//! exactly with `TxFilter::matches` (the conformance suite checks this on both backends).

use chrono::{NaiveDate, Utc};
use okienko_core::transaction::{Direction, fold};
use okienko_core::{AccountId, BookingStatus, CustomerId, Transaction, TxFilter};
use sqlx::QueryBuilder;

use crate::accounts::missing_account;
use crate::codec::{
    abs_scaled, count, date, date_opt, instant, like_contains, lower_bound, minor, parse,
    read_date, read_date_opt, read_instant, read_money, upper_bound,
};
use crate::error::StoreError;
use crate::records::{NewTransaction, StoredTransaction, TxBatch};
use crate::store::{Store, begin_write, with_pool};

/// Rows per multi-row INSERT: 19 binds each stays under SQLite's and PostgreSQL's bind limits.
const INSERT_CHUNK: usize = 500;

#[derive(sqlx::FromRow)]
struct TxRow {
    id: String,
    account_id: String,
    bank_transaction_id: Option<String>,
    status: String,
    date: String,
    booking_date: Option<String>,
    value_date: Option<String>,
    amount_minor: i64,
    currency: String,
    merchant: Option<String>,
    raw_description: String,
    category: Option<String>,
    counterparty_iban: Option<String>,
    end_to_end_id: Option<String>,
    fingerprint: String,
    updated_at: String,
}

macro_rules! tx_columns {
    () => {
        "t.id, t.account_id, t.bank_transaction_id, t.status, t.date, t.booking_date, \
         t.value_date, t.amount_minor, t.currency, t.merchant, t.raw_description, t.category, \
         t.counterparty_iban, t.end_to_end_id, t.fingerprint, t.updated_at"
    };
}

/// The customer filter; binds $1 customer, $2 from, $3 to, $4 min, $5 max, $6 currency,
/// $7 direction, $8 LIKE pattern over the folded columns.
macro_rules! filtered {
    () => {
        "FROM transactions t JOIN accounts a ON a.id = t.account_id \
         WHERE a.customer_id = $1 \
         AND ($2 IS NULL OR t.date >= $2) \
         AND ($3 IS NULL OR t.date <= $3) \
         AND ($4 IS NULL OR t.amount_abs_e4 >= $4) \
         AND ($5 IS NULL OR t.amount_abs_e4 <= $5) \
         AND ($6 IS NULL OR t.currency = $6) \
         AND ($7 IS NULL OR ($7 = 'debit' AND t.amount_minor < 0) \
              OR ($7 = 'credit' AND t.amount_minor >= 0)) \
         AND ($8 IS NULL OR t.merchant_folded LIKE $8 ESCAPE '\\' \
              OR t.description_folded LIKE $8 ESCAPE '\\')"
    };
}

impl TxRow {
    fn status(&self) -> Result<BookingStatus, StoreError> {
        BookingStatus::parse(&self.status).ok_or(StoreError::Corrupt("transactions.status"))
    }

    fn into_stored(self) -> Result<StoredTransaction, StoreError> {
        Ok(NewTransaction {
            id: parse(&self.id, "transactions.id")?,
            status: self.status()?,
            date: read_date(&self.date, "transactions.date")?,
            booking_date: read_date_opt(self.booking_date.as_deref(), "transactions.booking_date")?,
            value_date: read_date_opt(self.value_date.as_deref(), "transactions.value_date")?,
            amount: read_money(
                self.amount_minor,
                &self.currency,
                "transactions.amount_minor",
                "transactions.currency",
            )?,
            bank_transaction_id: self.bank_transaction_id,
            merchant: self.merchant,
            raw_description: self.raw_description,
            category: self.category,
            counterparty_iban: self.counterparty_iban,
            end_to_end_id: self.end_to_end_id,
            fingerprint: self.fingerprint,
        })
    }

    fn into_transaction(self) -> Result<Transaction, StoreError> {
        let account_id = parse(&self.account_id, "transactions.account_id")?;
        let updated_at = read_instant(&self.updated_at, "transactions.updated_at")?;
        let s = self.into_stored()?;
        Ok(Transaction {
            id: s.id,
            account_id,
            status: s.status,
            date: s.date,
            booking_date: s.booking_date,
            value_date: s.value_date,
            amount: s.amount,
            merchant: s.merchant,
            raw_description: s.raw_description,
            category: s.category,
            updated_at,
        })
    }
}

/// One row's bind values, converted and validated before any statement runs.
struct TxParams {
    id: String,
    bank_transaction_id: Option<String>,
    status: &'static str,
    date: String,
    booking_date: Option<String>,
    value_date: Option<String>,
    amount_minor: i64,
    currency: String,
    amount_abs_e4: i64,
    merchant: Option<String>,
    merchant_folded: Option<String>,
    raw_description: String,
    description_folded: String,
    category: Option<String>,
    counterparty_iban: Option<String>,
    end_to_end_id: Option<String>,
    fingerprint: String,
}

impl TxParams {
    fn new(t: &NewTransaction) -> Result<Self, StoreError> {
        Ok(TxParams {
            id: t.id.to_string(),
            bank_transaction_id: t.bank_transaction_id.clone(),
            status: t.status.as_str(),
            date: date(t.date, "transaction.date")?,
            booking_date: date_opt(t.booking_date, "transaction.booking_date")?,
            value_date: date_opt(t.value_date, "transaction.value_date")?,
            amount_minor: minor(&t.amount, "transaction.amount")?,
            currency: t.amount.currency().code().to_owned(),
            amount_abs_e4: abs_scaled(&t.amount, "transaction.amount")?,
            merchant: t.merchant.clone(),
            merchant_folded: t.merchant.as_deref().map(fold),
            raw_description: t.raw_description.clone(),
            description_folded: fold(&t.raw_description),
            category: t.category.clone(),
            counterparty_iban: t.counterparty_iban.clone(),
            end_to_end_id: t.end_to_end_id.clone(),
            fingerprint: t.fingerprint.clone(),
        })
    }

    fn all(rows: &[NewTransaction]) -> Result<Vec<Self>, StoreError> {
        rows.iter().map(Self::new).collect()
    }
}

/// Multi-row INSERT of `rows` into `account` on the executor `$ex` (a pool or a transaction).
macro_rules! insert_rows {
    ($db:ty, $ex:expr, $account:expr, $rows:expr, $now:expr) => {{
        for chunk in $rows.chunks(INSERT_CHUNK) {
            let mut qb: QueryBuilder<$db> = QueryBuilder::new(
                "INSERT INTO transactions (id, account_id, bank_transaction_id, status, date, \
                 booking_date, value_date, amount_minor, currency, amount_abs_e4, merchant, \
                 merchant_folded, raw_description, description_folded, category, \
                 counterparty_iban, end_to_end_id, fingerprint, updated_at) ",
            );
            qb.push_values(chunk, |mut b, r| {
                b.push_bind(r.id.as_str())
                    .push_bind($account)
                    .push_bind(r.bank_transaction_id.as_deref())
                    .push_bind(r.status)
                    .push_bind(r.date.as_str())
                    .push_bind(r.booking_date.as_deref())
                    .push_bind(r.value_date.as_deref())
                    .push_bind(r.amount_minor)
                    .push_bind(r.currency.as_str())
                    .push_bind(r.amount_abs_e4)
                    .push_bind(r.merchant.as_deref())
                    .push_bind(r.merchant_folded.as_deref())
                    .push_bind(r.raw_description.as_str())
                    .push_bind(r.description_folded.as_str())
                    .push_bind(r.category.as_deref())
                    .push_bind(r.counterparty_iban.as_deref())
                    .push_bind(r.end_to_end_id.as_deref())
                    .push_bind(r.fingerprint.as_str())
                    .push_bind($now);
            });
            qb.build()
                .execute($ex)
                .await
                .map_err(|e| missing_account(e.into()))?;
        }
    }};
}

impl Store {
    /// Applies one account's sync result atomically (one DB transaction): deletes `batch.delete`,
    /// replaces every field of the `batch.update` rows by id (pending→booked keeps the row's
    /// `TransactionId`), and inserts `batch.insert`. Any failure rolls the whole batch back: an
    /// update or delete naming a row that is not this account's is `NotFound("transactions")`,
    /// an unknown account is `NotFound("accounts")`.
    pub async fn apply_transactions(
        &self,
        account: AccountId,
        batch: &TxBatch,
    ) -> Result<(), StoreError> {
        let inserts = TxParams::all(&batch.insert)?;
        let updates = TxParams::all(&batch.update)?;
        let deletes: Vec<String> = batch.delete.iter().map(|d| d.to_string()).collect();
        let account = account.to_string();
        let now = instant(Utc::now(), "updated_at")?;
        let backend = self.backend();
        with_pool!(self, p => {
            let mut tx = begin_write(p, backend).await?;
            for id in &deletes {
                let n = sqlx::query("DELETE FROM transactions WHERE id = $1 AND account_id = $2")
                    .bind(id)
                    .bind(&account)
                    .execute(&mut *tx)
                    .await?
                    .rows_affected();
                if n == 0 {
                    return Err(StoreError::NotFound("transactions"));
                }
            }
            for r in &updates {
                let n = sqlx::query(
                    "UPDATE transactions SET bank_transaction_id = $3, status = $4, date = $5, \
                     booking_date = $6, value_date = $7, amount_minor = $8, currency = $9, \
                     amount_abs_e4 = $10, merchant = $11, merchant_folded = $12, \
                     raw_description = $13, description_folded = $14, category = $15, \
                     counterparty_iban = $16, end_to_end_id = $17, fingerprint = $18, \
                     updated_at = $19 WHERE id = $1 AND account_id = $2",
                )
                .bind(&r.id)
                .bind(&account)
                .bind(&r.bank_transaction_id)
                .bind(r.status)
                .bind(&r.date)
                .bind(&r.booking_date)
                .bind(&r.value_date)
                .bind(r.amount_minor)
                .bind(&r.currency)
                .bind(r.amount_abs_e4)
                .bind(&r.merchant)
                .bind(&r.merchant_folded)
                .bind(&r.raw_description)
                .bind(&r.description_folded)
                .bind(&r.category)
                .bind(&r.counterparty_iban)
                .bind(&r.end_to_end_id)
                .bind(&r.fingerprint)
                .bind(&now)
                .execute(&mut *tx)
                .await?
                .rows_affected();
                if n == 0 {
                    return Err(StoreError::NotFound("transactions"));
                }
            }
            insert_rows!(_, &mut *tx, account.as_str(), inserts, now.as_str());
            tx.commit().await?;
        });
        Ok(())
    }

    /// Stored rows of an account with their bank-side ids, for the sync engine's matching: rows
    /// dated on/after `since`, plus ALL pending rows regardless of date. Oldest first.
    pub async fn stored_transactions(
        &self,
        account: AccountId,
        since: NaiveDate,
    ) -> Result<Vec<StoredTransaction>, StoreError> {
        let since = date(since, "since")?;
        let rows: Vec<TxRow> = with_pool!(self, p => sqlx::query_as(concat!(
            "SELECT ", tx_columns!(), " FROM transactions t WHERE t.account_id = $1 \
             AND (t.date >= $2 OR t.status = 'pending') ORDER BY t.date, t.seq",
        ))
        .bind(account.to_string())
        .bind(since)
        .fetch_all(p)
        .await)?;
        rows.into_iter().map(TxRow::into_stored).collect()
    }

    /// The customer's transactions matching `f` exactly as `TxFilter::matches` would (amount bounds
    /// on the absolute amount; merchant case- and Polish-diacritic-insensitive against the cleaned
    /// merchant or the raw description). Newest first: date descending, then the most recently
    /// inserted first. Returns the page (`offset`, `limit`) and the total count of matches.
    pub async fn transactions_for_customer(
        &self,
        c: CustomerId,
        f: &TxFilter,
        offset: u64,
        limit: u32,
    ) -> Result<(Vec<Transaction>, u64), StoreError> {
        let customer = c.to_string();
        let from = date_opt(f.date_from, "filter.date_from")?;
        let to = date_opt(f.date_to, "filter.date_to")?;
        let min = f.amount_min.map(lower_bound);
        let max = f.amount_max.map(upper_bound);
        let currency = f.currency.map(|c| c.code().to_owned());
        let direction = f.direction.map(|d| match d {
            Direction::Debit => "debit",
            Direction::Credit => "credit",
        });
        let pattern = f.merchant.as_deref().map(|m| like_contains(&fold(m)));
        let offset = i64::try_from(offset).unwrap_or(i64::MAX);
        let limit = i64::from(limit);
        let (rows, total): (Vec<TxRow>, i64) = with_pool!(self, p => {
            let rows = sqlx::query_as(concat!(
                "SELECT ", tx_columns!(), " ", filtered!(),
                " ORDER BY t.date DESC, t.seq DESC LIMIT $9 OFFSET $10"
            ))
            .bind(&customer).bind(&from).bind(&to).bind(min).bind(max)
            .bind(&currency).bind(direction).bind(&pattern).bind(limit).bind(offset)
            .fetch_all(p)
            .await?;
            let total = sqlx::query_scalar(concat!("SELECT COUNT(*) ", filtered!()))
                .bind(&customer).bind(&from).bind(&to).bind(min).bind(max)
                .bind(&currency).bind(direction).bind(&pattern)
                .fetch_one(p)
                .await?;
            (rows, total)
        });
        let page = rows
            .into_iter()
            .map(TxRow::into_transaction)
            .collect::<Result<Vec<_>, _>>()?;
        Ok((page, count(total, "count")?))
    }

    /// Distinct cleaned merchant names of the customer's transactions, sorted by their folded form
    /// (so "Żabka" sorts with "Zara", not after "Z"), ties by exact text.
    pub async fn merchants_for_customer(&self, c: CustomerId) -> Result<Vec<String>, StoreError> {
        let mut names: Vec<String> = with_pool!(self, p => sqlx::query_scalar(
            "SELECT DISTINCT t.merchant FROM transactions t JOIN accounts a \
             ON a.id = t.account_id WHERE a.customer_id = $1 AND t.merchant IS NOT NULL",
        )
        .bind(c.to_string())
        .fetch_all(p)
        .await)?;
        names.sort_by_cached_key(|n| (fold(n), n.clone()));
        Ok(names)
    }

    /// A plain bulk insert of rows into the transactions table (one DB transaction, multi-row
    /// INSERTs), the baseline for `okienko bench sync`.
    pub async fn bulk_insert_transactions_baseline(
        &self,
        account: AccountId,
        rows: &[NewTransaction],
    ) -> Result<(), StoreError> {
        let rows = TxParams::all(rows)?;
        let account = account.to_string();
        let now = instant(Utc::now(), "updated_at")?;
        let backend = self.backend();
        with_pool!(self, p => {
            let mut tx = begin_write(p, backend).await?;
            insert_rows!(_, &mut *tx, account.as_str(), rows, now.as_str());
            tx.commit().await?;
        });
        Ok(())
    }
}
