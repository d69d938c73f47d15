//! Erasure of a customer's cached financial data (consent revoked, or the customer asked). It
//! removes accounts, balances, transactions and sync state in one transaction and forgets the
//! consents' access tokens and PKCE verifiers. Consent records, the access budget and the audit
//! log stay: they hold no financial data and are needed to prove what happened.

use okienko_core::CustomerId;

use crate::error::StoreError;
use crate::store::{Backend, Store, begin_write, with_pool};

macro_rules! of_customer_accounts {
    ($table:literal) => {
        concat!(
            "DELETE FROM ",
            $table,
            " WHERE account_id IN (SELECT id FROM accounts WHERE customer_id = $1)"
        )
    };
}

impl Store {
    /// Deletes accounts, balances, transactions and sync state of the customer and clears the
    /// access tokens and PKCE verifiers of their consents; returns how many rows were deleted.
    /// On SQLite, deleted content is overwritten (`secure_delete`) and the WAL is checkpointed
    /// and truncated, so the erased rows do not linger in the database files.
    pub async fn delete_customer_financial_data(&self, c: CustomerId) -> Result<u64, StoreError> {
        let customer = c.to_string();
        let backend = self.backend();
        let deleted = with_pool!(self, p => {
            let mut tx = begin_write(p, backend).await?;
            let mut n = 0u64;
            for sql in [
                of_customer_accounts!("transactions"),
                of_customer_accounts!("balances"),
                of_customer_accounts!("sync_state"),
                "DELETE FROM accounts WHERE customer_id = $1",
            ] {
                n += sqlx::query(sql)
                    .bind(&customer)
                    .execute(&mut *tx)
                    .await?
                    .rows_affected();
            }
            sqlx::query(
                "UPDATE consents SET access_token = NULL, pkce_verifier = NULL \
                 WHERE customer_id = $1 AND (access_token IS NOT NULL OR pkce_verifier IS NOT NULL)",
            )
            .bind(&customer)
            .execute(&mut *tx)
            .await?;
            tx.commit().await?;
            if backend == Backend::Sqlite {
                // Best effort: a concurrent reader can keep old pages in the WAL a little longer.
                if let Err(e) = sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)").execute(p).await {
                    tracing::warn!(error = %crate::error::DbFailure::from(&e), "WAL checkpoint after erasure failed");
                }
            }
            n
        });
        tracing::info!(customer = %c, rows = deleted, "customer financial data erased");
        Ok(deleted)
    }
}
