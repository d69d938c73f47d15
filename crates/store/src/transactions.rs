//! Transaction rows: the sync engine's atomic batches and matching reads, the privacy gate's
//! filtered and paged reads, and the bench baseline.
//!
//! A row's sensitive fields are sealed (see `sealed`), so SQL can only narrow by customer, date
//! range and currency; amount bounds, direction and merchant text are checked in Rust on the
//! decrypted rows with `TxFilter::matches` itself, so the result agrees with it by construction.
//! A customer holds a few thousand rows, so decrypting their date range per query is cheap.

use chrono::{NaiveDate, Utc};
use okienko_core::transaction::fold;
use okienko_core::{AccountId, BookingStatus, CustomerId, Transaction, TransactionId, TxFilter};
use sqlx::QueryBuilder;

use crate::accounts::missing_account;
use crate::codec::{
    count, date, date_opt, instant, minor, parse, read_date, read_date_opt, read_instant,
    read_money,
};
use crate::crypto::DataKey;
use crate::error::StoreError;
use crate::outbox::{OutboxPut, insert_outbox};
use crate::records::{NewTransaction, StoredTransaction, TxBatch};
use crate::sealed::{self, TxSecret};
use crate::store::{Backend, Store, begin_write, with_pool};
use crate::vault::{dek_for_write, load_dek};

/// Rows per multi-row INSERT: 9 binds each stays far under SQLite's and PostgreSQL's bind limits.
const INSERT_CHUNK: usize = 500;

#[derive(sqlx::FromRow)]
struct TxRow {
    id: String,
    account_id: String,
    status: String,
    date: String,
    booking_date: Option<String>,
    value_date: Option<String>,
    currency: String,
    sealed: Vec<u8>,
    updated_at: String,
}

macro_rules! tx_columns {
    () => {
        "t.id, t.account_id, t.status, t.date, t.booking_date, t.value_date, t.currency, \
         t.sealed, t.updated_at"
    };
}

/// The customer's rows narrowed by what is plaintext: binds $1 customer, $2 from, $3 to,
/// $4 currency.
macro_rules! narrowed {
    () => {
        "FROM transactions t JOIN accounts a ON a.id = t.account_id \
         WHERE a.customer_id = $1 \
         AND ($2 IS NULL OR t.date >= $2) \
         AND ($3 IS NULL OR t.date <= $3) \
         AND ($4 IS NULL OR t.currency = $4)"
    };
}

/// A page of the customer's rows, newest first: binds as [`narrowed!`], $5 limit, $6 offset.
const TX_PAGE: &str = concat!(
    "SELECT ",
    tx_columns!(),
    " ",
    narrowed!(),
    " ORDER BY t.date DESC, t.seq DESC LIMIT $5 OFFSET $6"
);
/// How many rows [`narrowed!`] keeps.
const TX_COUNT: &str = concat!("SELECT COUNT(*) ", narrowed!());
/// All rows [`narrowed!`] keeps, unordered.
const TX_ALL: &str = concat!("SELECT ", tx_columns!(), " ", narrowed!());

/// Most ids one [`Store::transactions_by_ids`] takes (a sync announces at most 2,000 at a time).
const MAX_IDS_PER_READ: usize = 5_000;
/// The customer's rows among a JSON array of ids ($2), oldest first.
const TX_BY_IDS_SQLITE: &str = concat!(
    "SELECT ",
    tx_columns!(),
    " FROM transactions t JOIN accounts a ON a.id = t.account_id \
     WHERE a.customer_id = $1 AND t.id IN (SELECT value FROM json_each($2)) \
     ORDER BY t.date, t.seq"
);
const TX_BY_IDS_POSTGRES: &str = concat!(
    "SELECT ",
    tx_columns!(),
    " FROM transactions t JOIN accounts a ON a.id = t.account_id \
     WHERE a.customer_id = $1 AND t.id IN (SELECT jsonb_array_elements_text($2::jsonb)) \
     ORDER BY t.date, t.seq"
);

/// Rows of `sql` (selecting [`tx_columns!`]) on a direct SQLite connection (`direct.rs`).
fn tx_rows_direct(
    conn: &rusqlite::Connection,
    sql: &str,
    params: &[(&str, &dyn rusqlite::ToSql)],
) -> Result<Vec<TxRow>, StoreError> {
    Ok(conn
        .prepare_cached(sql)?
        .query_map(params, |r| {
            Ok(TxRow {
                id: r.get(0)?,
                account_id: r.get(1)?,
                status: r.get(2)?,
                date: r.get(3)?,
                booking_date: r.get(4)?,
                value_date: r.get(5)?,
                currency: r.get(6)?,
                sealed: r.get(7)?,
                updated_at: r.get(8)?,
            })
        })?
        .collect::<Result<Vec<_>, _>>()?)
}

impl Store {
    /// Rows of `sql` (selecting [`tx_columns!`]) on a direct SQLite connection, with the
    /// customer's data key when there are any to open.
    fn tx_rows_and_key_direct(
        &self,
        conn: &rusqlite::Connection,
        customer: &str,
        sql: &str,
        params: &[(&str, &dyn rusqlite::ToSql)],
    ) -> Result<(Vec<TxRow>, Option<DataKey>), StoreError> {
        let rows = tx_rows_direct(conn, sql, params)?;
        let dek = if rows.is_empty() {
            None
        } else {
            self.load_dek_direct(conn, customer)?
        };
        Ok((rows, dek))
    }
}

impl TxRow {
    fn into_stored(self, dek: &DataKey) -> Result<StoredTransaction, StoreError> {
        // Plaintext columns first, so a bad one is named even when the sealed value is bad too.
        let id = parse(&self.id, "transactions.id")?;
        let status =
            BookingStatus::parse(&self.status).ok_or(StoreError::Corrupt("transactions.status"))?;
        let date = read_date(&self.date, "transactions.date")?;
        let booking_date =
            read_date_opt(self.booking_date.as_deref(), "transactions.booking_date")?;
        let value_date = read_date_opt(self.value_date.as_deref(), "transactions.value_date")?;
        let s: TxSecret = sealed::open(dek, sealed::TRANSACTIONS, &self.id, &self.sealed)?;
        Ok(NewTransaction {
            id,
            status,
            date,
            booking_date,
            value_date,
            amount: read_money(
                s.amount_minor,
                &self.currency,
                "transactions.amount",
                "transactions.currency",
            )?,
            bank_transaction_id: s.bank_transaction_id,
            merchant: s.merchant,
            raw_description: s.raw_description,
            category: s.category,
            counterparty_iban: s.counterparty_iban,
            end_to_end_id: s.end_to_end_id,
            fingerprint: s.fingerprint,
        })
    }

    fn into_transaction(self, dek: &DataKey) -> Result<Transaction, StoreError> {
        let account_id = parse(&self.account_id, "transactions.account_id")?;
        let updated_at = read_instant(&self.updated_at, "transactions.updated_at")?;
        let s = self.into_stored(dek)?;
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

/// One row's values, converted and validated before any statement runs; sealed inside the
/// write transaction, once the customer's data key is known.
struct TxParams {
    id: String,
    status: &'static str,
    date: String,
    booking_date: Option<String>,
    value_date: Option<String>,
    currency: String,
    secret: TxSecret,
}

impl TxParams {
    fn new(t: &NewTransaction) -> Result<Self, StoreError> {
        Ok(TxParams {
            id: t.id.to_string(),
            status: t.status.as_str(),
            date: date(t.date, "transaction.date")?,
            booking_date: date_opt(t.booking_date, "transaction.booking_date")?,
            value_date: date_opt(t.value_date, "transaction.value_date")?,
            currency: t.amount.currency().code().to_owned(),
            secret: TxSecret {
                amount_minor: minor(&t.amount, "transaction.amount")?,
                bank_transaction_id: t.bank_transaction_id.clone(),
                merchant: t.merchant.clone(),
                raw_description: t.raw_description.clone(),
                category: t.category.clone(),
                counterparty_iban: t.counterparty_iban.clone(),
                end_to_end_id: t.end_to_end_id.clone(),
                fingerprint: t.fingerprint.clone(),
            },
        })
    }

    fn all(rows: &[NewTransaction]) -> Result<Vec<Self>, StoreError> {
        rows.iter().map(Self::new).collect()
    }

    fn seal(&self, dek: &DataKey) -> Result<Vec<u8>, StoreError> {
        sealed::seal(dek, sealed::TRANSACTIONS, &self.id, &self.secret)
    }
}

/// The customer owning `$account`, read through `$ex`; `NotFound("accounts")` when unknown.
macro_rules! account_customer {
    ($ex:expr, $account:expr) => {{
        let c: Option<String> =
            sqlx::query_scalar("SELECT customer_id FROM accounts WHERE id = $1")
                .bind($account)
                .fetch_optional($ex)
                .await?;
        c.ok_or(StoreError::NotFound("accounts"))?
    }};
}

/// Multi-row INSERT of `rows` (with their sealed values) into `account` on the executor `$ex`.
macro_rules! insert_rows {
    ($db:ty, $ex:expr, $account:expr, $rows:expr, $sealed:expr, $now:expr) => {{
        let pairs: Vec<(&TxParams, &Vec<u8>)> = $rows.iter().zip($sealed.iter()).collect();
        for chunk in pairs.chunks(INSERT_CHUNK) {
            let mut qb: QueryBuilder<$db> = QueryBuilder::new(
                "INSERT INTO transactions (id, account_id, status, date, booking_date, \
                 value_date, currency, sealed, updated_at) ",
            );
            qb.push_values(chunk, |mut b, (r, sealed)| {
                b.push_bind(r.id.as_str())
                    .push_bind($account)
                    .push_bind(r.status)
                    .push_bind(r.date.as_str())
                    .push_bind(r.booking_date.as_deref())
                    .push_bind(r.value_date.as_deref())
                    .push_bind(r.currency.as_str())
                    .push_bind(sealed.as_slice())
                    .push_bind($now);
            });
            qb.build()
                .execute($ex)
                .await
                .map_err(|e| missing_account(e.into()))?;
        }
    }};
}

/// Does the filter need the decrypted values (beyond customer, dates and currency)?
fn needs_decrypted_filter(f: &TxFilter) -> bool {
    f.amount_min.is_some()
        || f.amount_max.is_some()
        || f.direction.is_some()
        || f.merchant.is_some()
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
        self.apply_transactions_inner(account, batch, &[]).await
    }

    /// As [`Store::apply_transactions`], and puts `announce` into the bus outbox in the same
    /// transaction (each ignored when its id is already there): the batch is stored with its
    /// announcements or not at all, so a crash right after the commit loses no announcement.
    pub async fn apply_transactions_announced(
        &self,
        account: AccountId,
        batch: &TxBatch,
        announce: &[OutboxPut],
    ) -> Result<(), StoreError> {
        for put in announce {
            put.check()?;
        }
        self.apply_transactions_inner(account, batch, announce)
            .await?;
        self.outbox_put_done();
        Ok(())
    }

    async fn apply_transactions_inner(
        &self,
        account: AccountId,
        batch: &TxBatch,
        announce: &[OutboxPut],
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
            if !inserts.is_empty() || !updates.is_empty() {
                let customer = account_customer!(&mut *tx, &account);
                let dek = dek_for_write!(self, &mut *tx, &customer);
                for r in &updates {
                    let n = sqlx::query(
                        "UPDATE transactions SET status = $3, date = $4, booking_date = $5, \
                         value_date = $6, currency = $7, sealed = $8, updated_at = $9 \
                         WHERE id = $1 AND account_id = $2",
                    )
                    .bind(&r.id)
                    .bind(&account)
                    .bind(r.status)
                    .bind(&r.date)
                    .bind(&r.booking_date)
                    .bind(&r.value_date)
                    .bind(&r.currency)
                    .bind(r.seal(&dek)?)
                    .bind(&now)
                    .execute(&mut *tx)
                    .await?
                    .rows_affected();
                    if n == 0 {
                        return Err(StoreError::NotFound("transactions"));
                    }
                }
                let sealed = inserts
                    .iter()
                    .map(|r| r.seal(&dek))
                    .collect::<Result<Vec<_>, _>>()?;
                insert_rows!(_, &mut *tx, account.as_str(), inserts, sealed, now.as_str());
            }
            for put in announce {
                insert_outbox!(&mut *tx, put, &now);
            }
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
        let account = account.to_string();
        let (rows, dek): (Vec<TxRow>, Option<DataKey>) = with_pool!(self, p => {
            let rows: Vec<TxRow> = sqlx::query_as(concat!(
                "SELECT ", tx_columns!(), " FROM transactions t WHERE t.account_id = $1 \
                 AND (t.date >= $2 OR t.status = 'pending') ORDER BY t.date, t.seq",
            ))
            .bind(&account)
            .bind(since)
            .fetch_all(p)
            .await?;
            if rows.is_empty() {
                return Ok(Vec::new());
            }
            let customer = account_customer!(p, &account);
            (rows, load_dek!(self, p, &customer))
        });
        let dek = sealed::require(dek.as_ref())?;
        rows.into_iter().map(|r| r.into_stored(dek)).collect()
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
        let currency = f.currency.map(|c| c.code().to_owned());
        let in_sql = !needs_decrypted_filter(f);
        let (sql_offset, sql_limit) = if in_sql {
            (i64::try_from(offset).unwrap_or(i64::MAX), i64::from(limit))
        } else {
            (0, i64::MAX)
        };
        let (rows, total, dek): (Vec<TxRow>, i64, Option<DataKey>) =
            if let Some(direct) = self.direct() {
                // On a chat answer's path (the transactions question): read directly.
                direct.read(|conn| {
                    use rusqlite::named_params;
                    let (rows, dek) = self.tx_rows_and_key_direct(
                        conn,
                        &customer,
                        TX_PAGE,
                        named_params! {"$1": customer, "$2": from, "$3": to, "$4": currency,
                        "$5": sql_limit, "$6": sql_offset},
                    )?;
                    let total: i64 = if in_sql {
                        conn.prepare_cached(TX_COUNT)?.query_row(
                            named_params! {"$1": customer, "$2": from, "$3": to, "$4": currency},
                            |r| r.get(0),
                        )?
                    } else {
                        0
                    };
                    Ok((rows, total, dek))
                })?
            } else {
                with_pool!(self, p => {
                    let rows: Vec<TxRow> = sqlx::query_as(TX_PAGE)
                    .bind(&customer).bind(&from).bind(&to).bind(&currency)
                    .bind(sql_limit).bind(sql_offset)
                    .fetch_all(p)
                    .await?;
                    let total: i64 = if in_sql {
                        sqlx::query_scalar(TX_COUNT)
                            .bind(&customer).bind(&from).bind(&to).bind(&currency)
                            .fetch_one(p)
                            .await?
                    } else {
                        0
                    };
                    let dek = if rows.is_empty() { None } else { load_dek!(self, p, &customer) };
                    (rows, total, dek)
                })
            };
        if rows.is_empty() {
            return Ok((Vec::new(), count(total, "count")?));
        }
        let dek = sealed::require(dek.as_ref())?;
        if in_sql {
            let page = rows
                .into_iter()
                .map(|r| r.into_transaction(dek))
                .collect::<Result<Vec<_>, _>>()?;
            return Ok((page, count(total, "count")?));
        }
        let mut matched = 0u64;
        let mut page = Vec::new();
        for r in rows {
            let t = r.into_transaction(dek)?;
            if !f.matches(&t) {
                continue;
            }
            if matched >= offset && page.len() < limit as usize {
                page.push(t);
            }
            matched += 1;
        }
        Ok((page, matched))
    }

    /// The customer's transactions among `ids` (a sync's announcement), oldest first; ids that
    /// are not the customer's, or no longer stored, are left out. Lets a watcher look at what a
    /// sync added without reading (and decrypting) the customer's whole history again.
    pub async fn transactions_by_ids(
        &self,
        c: CustomerId,
        ids: &[TransactionId],
    ) -> Result<Vec<Transaction>, StoreError> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        if ids.len() > MAX_IDS_PER_READ {
            return Err(StoreError::Invalid("transaction ids"));
        }
        let customer = c.to_string();
        // One bound JSON array instead of a statement per id or a list of placeholders.
        let list = serde_json::to_string(&ids.iter().map(|i| i.to_string()).collect::<Vec<_>>())
            .map_err(|_| StoreError::Invalid("transaction ids"))?;
        let (rows, dek): (Vec<TxRow>, Option<DataKey>) = if let Some(direct) = self.direct() {
            direct.read(|conn| {
                self.tx_rows_and_key_direct(
                    conn,
                    &customer,
                    TX_BY_IDS_SQLITE,
                    rusqlite::named_params! {"$1": customer, "$2": list},
                )
            })?
        } else {
            let sql = match self.backend() {
                Backend::Sqlite => TX_BY_IDS_SQLITE,
                Backend::Postgres => TX_BY_IDS_POSTGRES,
            };
            with_pool!(self, p => {
                let rows: Vec<TxRow> = sqlx::query_as(sql)
                    .bind(&customer)
                    .bind(&list)
                    .fetch_all(p)
                    .await?;
                let dek = if rows.is_empty() { None } else { load_dek!(self, p, &customer) };
                (rows, dek)
            })
        };
        if rows.is_empty() {
            return Ok(Vec::new());
        }
        let dek = sealed::require(dek.as_ref())?;
        rows.into_iter().map(|r| r.into_transaction(dek)).collect()
    }

    /// Distinct cleaned merchant names of the customer's transactions, sorted by their folded form
    /// (so "Żabka" sorts with "Zara", not after "Z"), ties by exact text.
    pub async fn merchants_for_customer(&self, c: CustomerId) -> Result<Vec<String>, StoreError> {
        /// What the direct read found: the kept names, or the rows at a generation.
        enum MerchantRead {
            Kept(Vec<String>),
            Rows(Vec<TxRow>, Option<DataKey>, i64),
        }
        let customer = c.to_string();
        let mut kept_at = None;
        let (rows, dek): (Vec<TxRow>, Option<DataKey>) = if let Some(direct) = self.direct() {
            // Read before every transactions question (the customer's own merchants): directly,
            // or the names kept since the last read when none of the customer's transactions
            // changed since (`read_cache.rs`, migration 0026).
            let read = direct.read(|conn| {
                use rusqlite::named_params;
                // The generation first: a write after it leaves the kept names behind.
                let generation = crate::read_cache::generation(conn, &customer)?;
                if let Some(names) = direct.balances.merchants(&customer, generation) {
                    return Ok(MerchantRead::Kept(names));
                }
                let (rows, dek) = self.tx_rows_and_key_direct(
                    conn,
                    &customer,
                    TX_ALL,
                    named_params! {"$1": customer, "$2": None::<String>, "$3": None::<String>,
                    "$4": None::<String>},
                )?;
                Ok(MerchantRead::Rows(rows, dek, generation))
            })?;
            match read {
                MerchantRead::Kept(names) => return Ok(names),
                MerchantRead::Rows(rows, dek, generation) => {
                    kept_at = Some(generation);
                    (rows, dek)
                }
            }
        } else {
            with_pool!(self, p => {
                let rows: Vec<TxRow> = sqlx::query_as(TX_ALL)
                .bind(&customer)
                .bind(None::<String>)
                .bind(None::<String>)
                .bind(None::<String>)
                .fetch_all(p)
                .await?;
                let dek = if rows.is_empty() { None } else { load_dek!(self, p, &customer) };
                (rows, dek)
            })
        };
        if rows.is_empty() {
            return Ok(Vec::new());
        }
        let dek = sealed::require(dek.as_ref())?;
        let mut names = Vec::new();
        for r in rows {
            let s: TxSecret = sealed::open(dek, sealed::TRANSACTIONS, &r.id, &r.sealed)?;
            if let Some(m) = s.merchant {
                names.push(m);
            }
        }
        names.sort_by_cached_key(|n| (fold(n), n.clone()));
        names.dedup();
        if let (Some(direct), Some(generation)) = (self.direct(), kept_at) {
            direct.balances.put_merchants(&customer, generation, &names);
        }
        Ok(names)
    }

    /// A plain bulk insert of rows into the transactions table (one DB transaction, multi-row
    /// INSERTs, encrypted like every write), the baseline for `okienko bench sync`.
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
            if !rows.is_empty() {
                let customer = account_customer!(&mut *tx, &account);
                let dek = dek_for_write!(self, &mut *tx, &customer);
                let sealed = rows
                    .iter()
                    .map(|r| r.seal(&dek))
                    .collect::<Result<Vec<_>, _>>()?;
                insert_rows!(_, &mut *tx, account.as_str(), rows, sealed, now.as_str());
            }
            tx.commit().await?;
        });
        Ok(())
    }
}
