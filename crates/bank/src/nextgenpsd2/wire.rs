//! NextGenPSD2 1.3.11 JSON shapes, exactly as on the wire (camelCase), and only the fields the
//! gateway reads. These types never leave the `nextgenpsd2` module: `transformers` turns them into
//! the connector's domain types. Unknown fields are ignored; missing optional ones are `None`.
//!
//! No `Debug` here prints customer data in practice (the types only reach logs through the
//! transformers' errors, which carry no payload), but keep it that way: never log these.

use serde::{Deserialize, Serialize};

// ---- consent creation -------------------------------------------------------------------

/// Body of `POST /v1/consents` (bank-offered: empty arrays let the customer pick at the bank).
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ConsentsBody {
    pub access: AccountAccess,
    pub recurring_indicator: bool,
    pub valid_until: String,
    pub frequency_per_day: u32,
    pub combined_service_indicator: bool,
}

#[derive(Serialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct AccountAccess {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub balances: Option<Vec<serde_json::Value>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub transactions: Option<Vec<serde_json::Value>>,
}

#[derive(Deserialize)]
pub struct HrefType {
    pub href: String,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct ConsentLinks {
    pub sca_o_auth: Option<HrefType>,
    pub sca_redirect: Option<HrefType>,
    pub sca_status: Option<HrefType>,
    pub start_authorisation_with_psu_identification: Option<HrefType>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ConsentsResponse201 {
    pub consent_status: String,
    pub consent_id: String,
    #[serde(rename = "_links", default)]
    pub links: ConsentLinks,
    pub psu_message: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ConsentStatusResponse {
    pub consent_status: String,
}

// ---- OAuth ------------------------------------------------------------------------------

/// RFC 8414 authorization server metadata (the fields we use).
#[derive(Deserialize, Clone)]
pub struct OAuthMetadata {
    pub authorization_endpoint: String,
    pub token_endpoint: String,
}

#[derive(Deserialize)]
pub struct TokenResponse {
    pub access_token: String,
    pub token_type: Option<String>,
    pub expires_in: Option<u64>,
}

// ---- errors -----------------------------------------------------------------------------

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct ErrorBody {
    #[serde(default)]
    pub tpp_messages: Vec<TppMessage>,
    /// OAuth endpoints answer RFC 6749 `{"error": "..."}` instead.
    pub error: Option<String>,
}

#[derive(Deserialize)]
pub struct TppMessage {
    pub category: Option<String>,
    pub code: Option<String>,
}

// ---- AIS --------------------------------------------------------------------------------

#[derive(Deserialize)]
pub struct AccountList {
    pub accounts: Vec<AccountDetails>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AccountDetails {
    pub resource_id: Option<String>,
    pub iban: Option<String>,
    pub currency: String,
    pub name: Option<String>,
    pub display_name: Option<String>,
    pub product: Option<String>,
    pub status: Option<String>,
}

#[derive(Deserialize)]
pub struct BalancesResponse {
    pub balances: Vec<WireBalance>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WireBalance {
    pub balance_amount: Amount,
    pub balance_type: String,
    pub reference_date: Option<String>,
}

#[derive(Deserialize)]
pub struct Amount {
    pub currency: String,
    pub amount: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AccountReference {
    pub iban: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TransactionsResponse {
    pub transactions: Option<AccountReport>,
    #[serde(rename = "_links")]
    pub links: Option<ReportLinks>,
}

#[derive(Deserialize)]
pub struct AccountReport {
    #[serde(default)]
    pub booked: Vec<WireTransaction>,
    #[serde(default)]
    pub pending: Vec<WireTransaction>,
    #[serde(rename = "_links")]
    pub links: Option<ReportLinks>,
}

#[derive(Deserialize)]
pub struct ReportLinks {
    pub next: Option<HrefType>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WireTransaction {
    pub transaction_id: Option<String>,
    pub end_to_end_id: Option<String>,
    pub booking_date: Option<String>,
    pub value_date: Option<String>,
    /// Not in the BG `transactions` schema; some banks send it for pending items.
    pub entry_date: Option<String>,
    pub transaction_date: Option<String>,
    pub transaction_amount: Amount,
    pub creditor_name: Option<String>,
    pub creditor_account: Option<AccountReference>,
    pub debtor_name: Option<String>,
    pub debtor_account: Option<AccountReference>,
    pub remittance_information_unstructured: Option<String>,
    pub remittance_information_unstructured_array: Option<Vec<String>>,
    pub additional_information: Option<String>,
}

/// A card (okienko's documented sandbox extension, see crates/sandbox-bank/README.md).
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WireCard {
    pub card_id: String,
    pub masked_pan: Option<String>,
    pub brand: Option<String>,
    pub status: String,
}

/// The answer to a lost or stolen card (the same extension).
#[derive(Deserialize)]
pub struct CardReport {
    pub card: WireCard,
    pub replacement: Option<WireCard>,
}

#[derive(Deserialize)]
pub struct CardList {
    pub cards: Vec<WireCard>,
}
