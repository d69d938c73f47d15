//! What each table keeps encrypted: one `sealed` column per row holding the row's sensitive
//! fields as JSON, encrypted with the customer's data key and bound to (table.column, row id).
//!
//! Plaintext columns keep only what indexes and filters need and what reveals little: ids,
//! account/customer/consent ids, the bank's opaque resource id (unique key), dates, booking
//! status, balance kind, currency. Everything that identifies a person or describes their money
//! is sealed: IBANs, account names, amounts, merchants, descriptions, categories, counterparty
//! IBANs, end-to-end ids, the bank's transaction ids (some banks embed account numbers or
//! references in them), the sync fingerprint (a hash over amount and text, guessable by brute
//! force), access tokens and PKCE verifiers.

use serde::{Deserialize, Serialize, de::DeserializeOwned};
use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

use crate::crypto::DataKey;
use crate::error::StoreError;

pub(crate) const ACCOUNTS: &str = "accounts.sealed";
pub(crate) const BALANCES: &str = "balances.sealed";
pub(crate) const TRANSACTIONS: &str = "transactions.sealed";
pub(crate) const CONSENTS: &str = "consents.sealed";

#[derive(Serialize, Deserialize)]
pub(crate) struct AccountSecret {
    pub iban: Option<String>,
    pub name: String,
}

#[derive(Serialize, Deserialize)]
pub(crate) struct BalanceSecret {
    pub amount_minor: i64,
}

#[derive(Serialize, Deserialize)]
pub(crate) struct TxSecret {
    pub amount_minor: i64,
    pub bank_transaction_id: Option<String>,
    pub merchant: Option<String>,
    pub raw_description: String,
    pub category: Option<String>,
    pub counterparty_iban: Option<String>,
    pub end_to_end_id: Option<String>,
    pub fingerprint: String,
}

/// Consent secrets; zeroed when dropped.
#[derive(Serialize, Deserialize, Zeroize, ZeroizeOnDrop)]
pub(crate) struct ConsentSecret {
    pub access_token: Option<String>,
    pub pkce_verifier: Option<String>,
}

/// Serializes and encrypts `v` for `column` of row `row_id`.
pub(crate) fn seal<T: Serialize>(
    dek: &DataKey,
    column: &'static str,
    row_id: &str,
    v: &T,
) -> Result<Vec<u8>, StoreError> {
    let plain = Zeroizing::new(serde_json::to_vec(v).map_err(|_| StoreError::Invalid(column))?);
    Ok(dek.seal(column, row_id, &plain))
}

/// Decrypts and parses what [`seal`] stored; anything else is `Corrupt(column)`.
pub(crate) fn open<T: DeserializeOwned>(
    dek: &DataKey,
    column: &'static str,
    row_id: &str,
    sealed: &[u8],
) -> Result<T, StoreError> {
    let plain = dek.open(column, row_id, sealed)?;
    serde_json::from_slice(&plain).map_err(|_| StoreError::Corrupt(column))
}

/// Rows were read but the customer has no data key: they are crypto-shredded.
pub(crate) fn require(dek: Option<&DataKey>) -> Result<&DataKey, StoreError> {
    dek.ok_or(StoreError::DataKeyMissing)
}
