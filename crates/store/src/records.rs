//! The rows the store reads and writes, as plain Rust records built from core's domain types.
//! Records that hold secrets (consent access tokens, PKCE verifiers) hide them from `Debug`.

use std::fmt;

use chrono::{DateTime, NaiveDate, Utc};
use okienko_core::{
    Account, BookingStatus, ConsentId, ConsentScope, ConsentStatus, CustomerId, Lang, Money,
    TransactionId,
};

/// A customer of the gateway (no financial data).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CustomerRecord {
    pub id: CustomerId,
    pub lang: Lang,
    /// IANA time zone name ("Europe/Warsaw").
    pub tz: String,
    pub created_at: DateTime<Utc>,
}

/// The gateway's record of a NextGenPSD2 consent.
#[derive(Clone, PartialEq, Eq)]
pub struct ConsentRecord {
    pub id: ConsentId,
    pub customer: CustomerId,
    /// Which bank (connector name).
    pub bank: String,
    /// The bank's own `consentId`, once it issued one.
    pub bank_consent_id: Option<String>,
    pub status: ConsentStatus,
    pub scopes: Vec<ConsentScope>,
    pub valid_until: NaiveDate,
    pub frequency_per_day: u32,
    pub recurring: bool,
    pub access_token: Option<String>,
    pub oauth_state: Option<String>,
    pub pkce_verifier: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl fmt::Debug for ConsentRecord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fn hidden(o: &Option<String>) -> &'static str {
            if o.is_some() { "<redacted>" } else { "None" }
        }
        f.debug_struct("ConsentRecord")
            .field("id", &self.id)
            .field("customer", &self.customer)
            .field("bank", &self.bank)
            .field("bank_consent_id", &self.bank_consent_id)
            .field("status", &self.status)
            .field("scopes", &self.scopes)
            .field("valid_until", &self.valid_until)
            .field("frequency_per_day", &self.frequency_per_day)
            .field("recurring", &self.recurring)
            .field("access_token", &hidden(&self.access_token))
            .field("oauth_state", &hidden(&self.oauth_state))
            .field("pkce_verifier", &hidden(&self.pkce_verifier))
            .field("created_at", &self.created_at)
            .field("updated_at", &self.updated_at)
            .finish()
    }
}

/// An account as the sync engine stores it, with the keys that tie it to a consent and a bank.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountRecord {
    pub account: Account,
    pub customer: CustomerId,
    pub consent: ConsentId,
    /// The bank's `resourceId` for the account, unique within a consent.
    pub bank_resource_id: String,
}

/// One transaction row with its bank-side identifiers, as the sync engine writes and matches it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewTransaction {
    pub id: TransactionId,
    pub bank_transaction_id: Option<String>,
    pub status: BookingStatus,
    pub date: NaiveDate,
    pub booking_date: Option<NaiveDate>,
    pub value_date: Option<NaiveDate>,
    pub amount: Money,
    pub merchant: Option<String>,
    pub raw_description: String,
    pub category: Option<String>,
    pub counterparty_iban: Option<String>,
    pub end_to_end_id: Option<String>,
    /// The sync engine's content hash for matching rows that carry no stable bank id.
    pub fingerprint: String,
}

/// A stored transaction row, read back for matching.
pub type StoredTransaction = NewTransaction;

/// One account's sync result, applied in one database transaction.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TxBatch {
    pub insert: Vec<NewTransaction>,
    /// Rows replaced by id (pending → booked keeps the id).
    pub update: Vec<NewTransaction>,
    pub delete: Vec<TransactionId>,
}

/// Sync bookkeeping for one account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyncState {
    pub account: okienko_core::AccountId,
    pub last_sync_at: DateTime<Utc>,
    pub last_booked_date: Option<NaiveDate>,
}

/// One row of the append-only, keyed hash-chained audit log (see the store's `audit` module).
/// Holds no personal data: subjects are ids.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditRow {
    /// 1, 2, 3, … without gaps; assigned by the store.
    pub seq: i64,
    pub at: DateTime<Utc>,
    pub actor: String,
    pub subject: String,
    pub purpose: String,
    pub action: String,
    pub decision: String,
    pub channel: String,
    pub prev_hash: String,
    pub hash: String,
}
