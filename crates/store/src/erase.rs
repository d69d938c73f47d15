//! Erasure of a customer's cached financial data (consent revoked, or the customer asked). It
//! removes accounts, balances, transactions, sync state, support transcripts and conversation
//! state in one
//! transaction, forgets the
//! consents' access tokens and PKCE verifiers, and destroys the customer's data key
//! (crypto-shredding: any copy of the encrypted rows, in a backup or a stale page, can no longer
//! be decrypted). Consent records, the access budget and the audit log stay: they hold no
//! financial data and are needed to prove what happened.

use okienko_core::CustomerId;

use crate::error::StoreError;
use crate::store::{Backend, Store, begin_write, with_pool};
use crate::vault::keys_sql;

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
    /// Deletes accounts, balances, transactions and sync state of the customer, clears the
    /// access tokens and PKCE verifiers of their consents and deletes the customer's data key;
    /// returns how many financial rows were deleted (the key is not counted). On SQLite, deleted
    /// content is overwritten (`secure_delete`) and the WALs of the database and key files are
    /// checkpointed and truncated, so neither the rows nor the key linger in the files.
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
            // Support transcripts are sealed with the same key; delete them too (not counted:
            // they are conversation, not financial rows).
            sqlx::query("DELETE FROM support_messages WHERE customer_id = $1")
                .bind(&customer)
                .execute(&mut *tx)
                .await?;
            // Saved payees and the bank login for payments are sealed with the same key.
            for sql in [
                "DELETE FROM payees WHERE customer_id = $1",
                "DELETE FROM payment_profiles WHERE customer_id = $1",
            ] {
                sqlx::query(sql).bind(&customer).execute(&mut *tx).await?;
            }
            // The customer's category corrections name merchants; sealed with the same key.
            sqlx::query("DELETE FROM category_corrections WHERE customer_id = $1")
                .bind(&customer)
                .execute(&mut *tx)
                .await?;
            // The dialog's conversation state (a form in progress, the last question's
            // filter, recent messages) is sealed with the same key.
            sqlx::query("DELETE FROM conversations WHERE customer_id = $1")
                .bind(&customer)
                .execute(&mut *tx)
                .await?;
            // Masked replies waiting for their view link are sealed with the same key.
            sqlx::query("DELETE FROM view_links WHERE customer_id = $1")
                .bind(&customer)
                .execute(&mut *tx)
                .await?;
            // Web chat replies kept for resuming may show balances; sealed with the same key.
            sqlx::query("DELETE FROM webchat_replies WHERE customer_id = $1")
                .bind(&customer)
                .execute(&mut *tx)
                .await?;
            // Alert settings (thresholds) and unsent notice texts are sealed with the same key;
            // the ledger's keys (ids only) stay so a later sync never repeats a notice.
            sqlx::query("DELETE FROM alert_settings WHERE customer_id = $1")
                .bind(&customer)
                .execute(&mut *tx)
                .await?;
            sqlx::query(
                "UPDATE notices SET sealed = NULL, due_at = NULL WHERE customer_id = $1",
            )
            .bind(&customer)
            .execute(&mut *tx)
            .await?;
            sqlx::query(
                "UPDATE consents SET access_token = NULL, pkce_verifier = NULL, sealed = NULL \
                 WHERE customer_id = $1 AND (access_token IS NOT NULL \
                 OR pkce_verifier IS NOT NULL OR sealed IS NOT NULL)",
            )
            .bind(&customer)
            .execute(&mut *tx)
            .await?;
            sqlx::query(keys_sql!(
                backend, "customer_keys", "DELETE FROM ", " WHERE customer_id = $1"
            ))
            .bind(&customer)
            .execute(&mut *tx)
            .await?;
            tx.commit().await?;
            if backend == Backend::Sqlite {
                // Best effort: a concurrent reader can keep old pages in a WAL a little longer.
                for pragma in [
                    "PRAGMA main.wal_checkpoint(TRUNCATE)",
                    "PRAGMA keys.wal_checkpoint(TRUNCATE)",
                ] {
                    if let Err(e) = sqlx::query(pragma).execute(p).await {
                        tracing::warn!(error = %crate::error::DbFailure::from(&e), "WAL checkpoint after erasure failed");
                    }
                }
            }
            n
        });
        if let Some(direct) = self.direct() {
            // The triggers already made the kept copy stale; drop the plaintext now too.
            direct.balances.forget(&customer);
        }
        tracing::info!(customer = %c, rows = deleted, "customer financial data erased");
        Ok(deleted)
    }
}
