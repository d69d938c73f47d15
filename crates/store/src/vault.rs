//! The key vault: one data key (DEK) per customer, stored wrapped by a master key with that
//! key's id (`customer_keys`), and one check value per master key id (`key_checks`).
//!
//! On SQLite both tables live in the attached `keys` database (a separate file, see `store`); on
//! PostgreSQL in the store's schema. A DEK is created on the customer's first encrypted write and
//! deleted by `delete_customer_financial_data` (crypto-shredding). `rotate_master_key` re-wraps
//! every DEK under a new master key in small batches while reads go on: the keyring keeps the
//! old keys, so a DEK is readable whichever key wraps it at the moment.

use chrono::Utc;

use crate::codec::instant;
use crate::crypto::{DataKey, key_check, key_check_ok};
use crate::error::StoreError;
use crate::keys::{KeyId, Keyring, MasterKey};
use crate::store::{Backend, Store, begin_write, with_pool};

/// DEKs re-wrapped per transaction during rotation.
const ROTATE_BATCH: i64 = 200;

/// PostgreSQL advisory lock ("okienko" in ASCII) that orders DEK creation against the switch of
/// the active master key: creators hold it shared until they commit, rotation takes it
/// exclusively to switch, so no DEK wrapped under the old key can commit after rotation started
/// its pass. (On SQLite the write lock does the same.)
pub(crate) const KEY_SWITCH_LOCK: i64 = 0x006f_6b69_656e_6b6f;

/// SQL text naming a key table: `keys.<table>` on SQLite, `<table>` on PostgreSQL.
macro_rules! keys_sql {
    ($backend:expr, $table:literal, $before:literal, $after:literal) => {
        match $backend {
            $crate::store::Backend::Sqlite => concat!($before, "keys.", $table, $after),
            $crate::store::Backend::Postgres => concat!($before, $table, $after),
        }
    };
}
pub(crate) use keys_sql;

/// `Option<(key_id, wrapped)>` of the customer's DEK, read through the executor `$ex`.
macro_rules! fetch_wrapped {
    ($backend:expr, $ex:expr, $customer:expr) => {{
        let row: Option<(String, Vec<u8>)> = sqlx::query_as(crate::vault::keys_sql!(
            $backend,
            "customer_keys",
            "SELECT key_id, wrapped FROM ",
            " WHERE customer_id = $1"
        ))
        .bind($customer)
        .fetch_optional($ex)
        .await?;
        row
    }};
}
pub(crate) use fetch_wrapped;

/// The customer's DEK (`Option<DataKey>`), or an error when it exists but cannot be unwrapped.
macro_rules! load_dek {
    ($store:expr, $ex:expr, $customer:expr) => {{
        match crate::vault::fetch_wrapped!($store.backend(), $ex, $customer) {
            Some((id, w)) => Some($store.unwrap_dek($customer, &id, &w)?),
            None => None,
        }
    }};
}
pub(crate) use load_dek;

/// The statement of [`fetch_wrapped!`] on SQLite, for direct connections.
const FETCH_WRAPPED_SQLITE: &str = keys_sql!(
    crate::store::Backend::Sqlite,
    "customer_keys",
    "SELECT key_id, wrapped FROM ",
    " WHERE customer_id = $1"
);

impl Store {
    /// [`load_dek!`] on a direct SQLite connection (`direct.rs`).
    pub(crate) fn load_dek_direct(
        &self,
        conn: &rusqlite::Connection,
        customer: &str,
    ) -> Result<Option<DataKey>, StoreError> {
        use rusqlite::OptionalExtension as _;
        let row: Option<(String, Vec<u8>)> = conn
            .prepare_cached(FETCH_WRAPPED_SQLITE)?
            .query_row([customer], |r| Ok((r.get(0)?, r.get(1)?)))
            .optional()?;
        row.map(|(id, w)| self.unwrap_dek(customer, &id, &w))
            .transpose()
    }
}

/// Each customer's data key, loaded at most once while a batch of rows is opened.
#[derive(Default)]
pub(crate) struct DekCache(Vec<(String, Option<DataKey>)>);

impl Store {
    /// The customer's data key from `cache`, loading it on first use (`None` when the customer
    /// has none: never written, or shredded).
    pub(crate) async fn cached_dek<'c>(
        &self,
        cache: &'c mut DekCache,
        customer: &str,
    ) -> Result<Option<&'c DataKey>, StoreError> {
        if !cache.0.iter().any(|(c, _)| c == customer) {
            let dek = with_pool!(self, p => load_dek!(self, p, customer));
            cache.0.push((customer.to_owned(), dek));
        }
        Ok(cache
            .0
            .iter()
            .find(|(c, _)| c == customer)
            .and_then(|(_, k)| k.as_ref()))
    }
}

/// The customer's DEK, created (and stored wrapped under the active master key) if missing.
macro_rules! dek_for_write {
    ($store:expr, $ex:expr, $customer:expr) => {{
        let backend = $store.backend();
        match crate::vault::fetch_wrapped!(backend, $ex, $customer) {
            Some((id, w)) => $store.unwrap_dek($customer, &id, &w)?,
            None => {
                if backend == crate::store::Backend::Postgres {
                    sqlx::query("SELECT pg_advisory_xact_lock_shared($1)")
                        .bind(crate::vault::KEY_SWITCH_LOCK)
                        .execute($ex)
                        .await?;
                }
                let (key_id, wrapped, created) = $store.new_wrapped_dek($customer)?;
                sqlx::query(crate::vault::keys_sql!(
                    backend,
                    "customer_keys",
                    "INSERT INTO ",
                    " (customer_id, key_id, wrapped, created_at) VALUES ($1, $2, $3, $4) \
                     ON CONFLICT (customer_id) DO NOTHING"
                ))
                .bind($customer)
                .bind(key_id)
                .bind(wrapped)
                .bind(created)
                .execute($ex)
                .await?;
                // Re-read: a concurrent writer may have stored its DEK first.
                match crate::vault::fetch_wrapped!(backend, $ex, $customer) {
                    Some((id, w)) => $store.unwrap_dek($customer, &id, &w)?,
                    None => return Err(StoreError::DataKeyMissing),
                }
            }
        }
    }};
}
pub(crate) use dek_for_write;

/// Creates the key tables in the attached `keys` database (a fresh key file is empty; the
/// migrations only cover the main file).
pub(crate) async fn create_sqlite_key_tables(pool: &sqlx::SqlitePool) -> Result<(), StoreError> {
    for ddl in [
        "CREATE TABLE IF NOT EXISTS keys.customer_keys (
            customer_id TEXT PRIMARY KEY NOT NULL,
            key_id      TEXT NOT NULL,
            wrapped     BLOB NOT NULL,
            created_at  TEXT NOT NULL
        )",
        "CREATE INDEX IF NOT EXISTS keys.customer_keys_key_id ON customer_keys (key_id)",
        "CREATE TABLE IF NOT EXISTS keys.key_checks (
            key_id  TEXT PRIMARY KEY NOT NULL,
            check_value BLOB NOT NULL
        )",
    ] {
        sqlx::query(ddl)
            .execute(pool)
            .await
            .map_err(|e| StoreError::Migrate(crate::error::DbFailure::from(&e).to_string()))?;
    }
    Ok(())
}

impl Store {
    fn ring(&self) -> std::sync::RwLockReadGuard<'_, Keyring> {
        self.ring.read().unwrap_or_else(|e| e.into_inner())
    }

    /// Unwraps a stored DEK with the keyring's key of that id.
    pub(crate) fn unwrap_dek(
        &self,
        customer: &str,
        key_id: &str,
        wrapped: &[u8],
    ) -> Result<DataKey, StoreError> {
        let ring = self.ring();
        let (id, kek) = ring
            .all()
            .find(|(id, _)| id.as_str() == key_id)
            .ok_or_else(|| StoreError::UnknownMasterKey(key_id.to_owned()))?;
        DataKey::unwrap_with(id, kek, customer, wrapped)
            .ok_or_else(|| StoreError::WrongMasterKey(key_id.to_owned()))
    }

    /// A fresh DEK wrapped under the active master key: (key id, wrapped, created_at).
    pub(crate) fn new_wrapped_dek(
        &self,
        customer: &str,
    ) -> Result<(String, Vec<u8>, String), StoreError> {
        let ring = self.ring();
        let (id, kek) = &ring.active;
        let wrapped = DataKey::generate().wrap(id, kek, customer);
        Ok((
            id.as_str().to_owned(),
            wrapped,
            instant(Utc::now(), "customer_keys.created_at")?,
        ))
    }

    /// At connect: every keyring key must match its stored check value (a new id gets one), and
    /// every stored DEK must be wrapped by a key the keyring holds.
    pub(crate) async fn init_keys(&self) -> Result<(), StoreError> {
        let backend = self.backend();
        let keys: Vec<(KeyId, MasterKey)> = self.ring().all().cloned().collect();
        for (id, kek) in &keys {
            self.check_master_key(backend, id, kek).await?;
        }
        let used: Vec<String> = with_pool!(self, p => sqlx::query_scalar(keys_sql!(
            backend, "customer_keys", "SELECT DISTINCT key_id FROM ", ""
        ))
        .fetch_all(p)
        .await)?;
        if let Some(missing) = used
            .into_iter()
            .find(|u| !keys.iter().any(|(id, _)| id.as_str() == u))
        {
            return Err(StoreError::UnknownMasterKey(missing));
        }
        self.seal_legacy_consent_secrets().await?;
        Ok(())
    }

    async fn check_master_key(
        &self,
        backend: Backend,
        id: &KeyId,
        kek: &MasterKey,
    ) -> Result<(), StoreError> {
        let fresh = key_check(id, kek);
        let stored: Vec<u8> = with_pool!(self, p => {
            sqlx::query(keys_sql!(
                backend, "key_checks", "INSERT INTO ",
                " (key_id, check_value) VALUES ($1, $2) ON CONFLICT (key_id) DO NOTHING"
            ))
            .bind(id.as_str())
            .bind(&fresh)
            .execute(p)
            .await?;
            sqlx::query_scalar(keys_sql!(
                backend, "key_checks", "SELECT check_value FROM ", " WHERE key_id = $1"
            ))
            .bind(id.as_str())
            .fetch_one(p)
            .await?
        });
        if key_check_ok(id, kek, &stored) {
            Ok(())
        } else {
            Err(StoreError::WrongMasterKey(id.as_str().to_owned()))
        }
    }

    /// Makes `new` the active master key and re-wraps every customer's data key under it, a
    /// batch per transaction, while reads and writes go on (the old keys stay in this store's
    /// keyring, so a DEK is readable under either key). Returns how many DEKs were re-wrapped.
    /// Other processes sharing the database must hold `new` in their keyring before this runs.
    pub async fn rotate_master_key(&self, new: (KeyId, MasterKey)) -> Result<u64, StoreError> {
        let backend = self.backend();
        self.check_master_key(backend, &new.0, &new.1).await?;
        let new_id = new.0.clone();
        // Switch while no DEK creator is between reading the active key and committing.
        with_pool!(self, p => {
            let mut tx = begin_write(p, backend).await?;
            if backend == Backend::Postgres {
                sqlx::query("SELECT pg_advisory_xact_lock($1)")
                    .bind(KEY_SWITCH_LOCK)
                    .execute(&mut *tx)
                    .await?;
            }
            self.ring
                .write()
                .unwrap_or_else(|e| e.into_inner())
                .activate(new);
            tx.commit().await?;
        });
        let mut done = 0u64;
        let mut after = String::new();
        loop {
            let n = with_pool!(self, p => {
                let mut tx = begin_write(p, backend).await?;
                let rows: Vec<(String, String, Vec<u8>)> = sqlx::query_as(keys_sql!(
                    backend, "customer_keys",
                    "SELECT customer_id, key_id, wrapped FROM ",
                    " WHERE key_id <> $1 AND customer_id > $2 ORDER BY customer_id LIMIT $3"
                ))
                .bind(new_id.as_str())
                .bind(&after)
                .bind(ROTATE_BATCH)
                .fetch_all(&mut *tx)
                .await?;
                let fetched = rows.len();
                for (customer, old_id, wrapped) in rows {
                    let dek = self.unwrap_dek(&customer, &old_id, &wrapped)?;
                    let rewrapped = {
                        let ring = self.ring();
                        let (id, kek) = &ring.active;
                        if *id != new_id {
                            // Another rotation started meanwhile; let it finish the job.
                            return Err(StoreError::Invalid("concurrent master key rotation"));
                        }
                        dek.wrap(id, kek, &customer)
                    };
                    done += sqlx::query(keys_sql!(
                        backend, "customer_keys", "UPDATE ",
                        " SET key_id = $1, wrapped = $2 \
                         WHERE customer_id = $3 AND key_id = $4 AND wrapped = $5"
                    ))
                    .bind(new_id.as_str())
                    .bind(rewrapped)
                    .bind(&customer)
                    .bind(&old_id)
                    .bind(&wrapped)
                    .execute(&mut *tx)
                    .await?
                    .rows_affected();
                    after = customer;
                }
                tx.commit().await?;
                fetched
            });
            if n < ROTATE_BATCH as usize {
                break;
            }
        }
        tracing::info!(key_id = %new_id, rewrapped = done, "master key rotated");
        Ok(done)
    }
}
