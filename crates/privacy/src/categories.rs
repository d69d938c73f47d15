//! A customer's own category corrections ("to nie restauracja, to zakupy"): remembered for that
//! customer only, sealed with their data key in the store, erased with their data. This module is
//! their only road in and out: a correction is written and read through the gate, for the
//! customer's own spending summary, and audited like any read of their data.
//!
//! Merchant names are kept folded (lower case, no diacritics), as the categoriser looks them up;
//! categories are the insights crate's names (`groceries`, …), which this crate does not check.

use okienko_core::transaction::fold;

use crate::gate::{AccessError, Gated, PrivacyGate};
use crate::purpose::{AccessRequest, Actor, Purpose};

/// Why a correction was not kept.
#[derive(Debug, thiserror::Error)]
pub enum CorrectionError {
    #[error(transparent)]
    Access(#[from] AccessError),
    /// Empty, too long, control characters, or too many corrections already.
    #[error("the correction is not valid")]
    Invalid,
}

/// One correction as the categoriser uses it: folded merchant → category name.
#[derive(Clone, PartialEq, Eq)]
pub struct Correction {
    pub merchant: String,
    pub category: String,
}

impl std::fmt::Debug for Correction {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Correction")
            .field("category", &self.category)
            .finish_non_exhaustive()
    }
}

impl PrivacyGate {
    /// Remembers the customer's own correction: `merchant` is `category` for them. Only the
    /// customer may correct their own categories (purpose `service.spending_summary`); audited as
    /// `write.category_correction`. Bad input changes nothing.
    pub async fn correct_category(
        &self,
        req: &AccessRequest,
        merchant: &str,
        category: &str,
    ) -> Result<(), CorrectionError> {
        if req.purpose != Purpose::ServiceSpendingSummary
            || req.actor != Actor::Customer(req.subject)
        {
            return Err(AccessError::WrongPurpose.into());
        }
        let merchant = fold(merchant.trim());
        if merchant.is_empty() || merchant.len() > 200 || category.is_empty() {
            return Err(CorrectionError::Invalid);
        }
        self.authorize(req, "write.category_correction").await?;
        self.store()
            .set_category_correction(req.subject, &merchant, category, self.clock().now())
            .await
            .map_err(|e| match e {
                okienko_store::StoreError::Invalid(_) => CorrectionError::Invalid,
                other => CorrectionError::Access(other.into()),
            })
    }

    /// The customer's corrections, for their spending summary (purpose
    /// `service.spending_summary`, audited as `read.category_corrections`).
    pub async fn category_corrections(
        &self,
        req: &AccessRequest,
    ) -> Result<Gated<Vec<Correction>>, AccessError> {
        if req.purpose.is_service() && req.purpose != Purpose::ServiceSpendingSummary {
            return Err(AccessError::WrongPurpose);
        }
        let seq = self.authorize(req, "read.category_corrections").await?;
        let data = self
            .store()
            .category_corrections(req.subject)
            .await?
            .into_iter()
            .map(|c| Correction {
                merchant: c.merchant,
                category: c.category,
            })
            .collect();
        Ok(Gated::new(data, seq, req.purpose))
    }
}
