//! A customer's own category corrections ("Żabka is groceries"), kept for that customer only
//! (`category_corrections`, migration 0008).
//!
//! The merchant and the category are sealed with the customer's data key, bound to the row's
//! random id; the plaintext columns hold only the customer id, the row id and the time. A hash of
//! the merchant would be guessable from a list of shops, so rows are matched after opening them
//! (a customer has a handful). Erasure deletes the rows, and crypto-shredding makes any copy
//! unreadable. The store never decides who may read them: the privacy crate does.

use chrono::{DateTime, Utc};
use okienko_core::CustomerId;
use serde::{Deserialize, Serialize};
use zeroize::{Zeroize, ZeroizeOnDrop};

use crate::codec::instant;
use crate::error::StoreError;
use crate::sealed;
use crate::store::{Store, begin_write, with_pool};
use crate::vault::{dek_for_write, load_dek};

const SEALED: &str = "category_corrections.sealed";

/// The most corrections one customer keeps; a new merchant beyond it is refused.
pub const MAX_CORRECTIONS: usize = 500;

#[derive(Serialize, Deserialize, Zeroize, ZeroizeOnDrop)]
struct CorrectionSecret {
    /// The merchant as the customer's summary names it, folded by the caller.
    merchant: String,
    category: String,
}

/// One correction, opened. `Debug` hides the merchant.
#[derive(Clone, PartialEq, Eq)]
pub struct CategoryCorrection {
    pub merchant: String,
    pub category: String,
    pub updated_at: DateTime<Utc>,
}

impl std::fmt::Debug for CategoryCorrection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CategoryCorrection")
            .field("category", &self.category)
            .field("updated_at", &self.updated_at)
            .finish_non_exhaustive()
    }
}

type Row = (String, String, Vec<u8>);

fn valid(s: &str) -> bool {
    !s.trim().is_empty() && s.len() <= 200 && !s.chars().any(char::is_control)
}

impl Store {
    /// Remembers that `merchant` is `category` for this customer, replacing an earlier correction
    /// of the same merchant. Empty, over-long or control-character values are refused and change
    /// nothing; so is a new merchant past [`MAX_CORRECTIONS`].
    pub async fn set_category_correction(
        &self,
        customer: CustomerId,
        merchant: &str,
        category: &str,
        at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        if !valid(merchant) || !valid(category) {
            return Err(StoreError::Invalid("category_corrections"));
        }
        let customer = customer.to_string();
        let updated = instant(at, "category_corrections.updated_at")?;
        let backend = self.backend();
        with_pool!(self, p => {
            let mut tx = begin_write(p, backend).await?;
            let dek = dek_for_write!(self, &mut *tx, &customer);
            let rows: Vec<Row> = sqlx::query_as(
                "SELECT id, updated_at, sealed FROM category_corrections WHERE customer_id = $1",
            )
            .bind(&customer)
            .fetch_all(&mut *tx)
            .await?;
            let mut same = Vec::new();
            for (id, _, bytes) in &rows {
                let s: CorrectionSecret = sealed::open(&dek, SEALED, id, bytes)?;
                if s.merchant == merchant {
                    same.push(id.clone());
                }
            }
            if same.is_empty() && rows.len() >= MAX_CORRECTIONS {
                return Err(StoreError::Invalid("category_corrections"));
            }
            for id in &same {
                sqlx::query("DELETE FROM category_corrections WHERE id = $1")
                    .bind(id)
                    .execute(&mut *tx)
                    .await?;
            }
            let id = uuid::Uuid::new_v4().to_string();
            let secret = CorrectionSecret {
                merchant: merchant.to_owned(),
                category: category.to_owned(),
            };
            let bytes = sealed::seal(&dek, SEALED, &id, &secret)?;
            sqlx::query(
                "INSERT INTO category_corrections (id, customer_id, updated_at, sealed) \
                 VALUES ($1, $2, $3, $4)",
            )
            .bind(&id)
            .bind(&customer)
            .bind(&updated)
            .bind(bytes)
            .execute(&mut *tx)
            .await?;
            tx.commit().await?;
        });
        Ok(())
    }

    /// The customer's corrections, oldest first. None when they have none (or were erased).
    pub async fn category_corrections(
        &self,
        customer: CustomerId,
    ) -> Result<Vec<CategoryCorrection>, StoreError> {
        let customer = customer.to_string();
        let out = with_pool!(self, p => {
            let rows: Vec<Row> = sqlx::query_as(
                "SELECT id, updated_at, sealed FROM category_corrections \
                 WHERE customer_id = $1 ORDER BY updated_at, id",
            )
            .bind(&customer)
            .fetch_all(p)
            .await?;
            if rows.is_empty() {
                return Ok(Vec::new());
            }
            let dek = load_dek!(self, p, &customer);
            let dek = sealed::require(dek.as_ref())?;
            let mut out = Vec::with_capacity(rows.len());
            for (id, updated, bytes) in &rows {
                let s: CorrectionSecret = sealed::open(dek, SEALED, id, bytes)?;
                out.push(CategoryCorrection {
                    merchant: s.merchant.clone(),
                    category: s.category.clone(),
                    updated_at: crate::codec::read_instant(
                        updated,
                        "category_corrections.updated_at",
                    )?,
                });
            }
            out
        });
        Ok(out)
    }

    /// Forgets the customer's correction of `merchant`; true if there was one.
    pub async fn delete_category_correction(
        &self,
        customer: CustomerId,
        merchant: &str,
    ) -> Result<bool, StoreError> {
        let customer_s = customer.to_string();
        let backend = self.backend();
        let n = with_pool!(self, p => {
            let mut tx = begin_write(p, backend).await?;
            let rows: Vec<Row> = sqlx::query_as(
                "SELECT id, updated_at, sealed FROM category_corrections WHERE customer_id = $1",
            )
            .bind(&customer_s)
            .fetch_all(&mut *tx)
            .await?;
            let mut n = 0u64;
            if !rows.is_empty() {
                let dek = load_dek!(self, &mut *tx, &customer_s);
                let dek = sealed::require(dek.as_ref())?;
                for (id, _, bytes) in &rows {
                    let s: CorrectionSecret = sealed::open(dek, SEALED, id, bytes)?;
                    if s.merchant == merchant {
                        n += sqlx::query("DELETE FROM category_corrections WHERE id = $1")
                            .bind(id)
                            .execute(&mut *tx)
                            .await?
                            .rows_affected();
                    }
                }
            }
            tx.commit().await?;
            n
        });
        Ok(n > 0)
    }
}
