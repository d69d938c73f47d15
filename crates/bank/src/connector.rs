//! The bank connector trait: one implementation per bank-side standard (NextGenPSD2 first), and
//! the bank-neutral types it speaks. The wire format of any standard never leaves its own module;
//! everything here is already parsed into okienko's domain types (Money, Iban, BookingStatus).
//!
//! Types here that hold customer data have a `Debug` that hides it.

use std::fmt;

use async_trait::async_trait;
use chrono::NaiveDate;
use okienko_core::{
    BalanceKind, BookingStatus, ConsentScope, ConsentStatus, Currency, Iban, Money,
};

use crate::error::ConnectorError;

/// What a bank (profile) supports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Capabilities {
    pub redirect_sca: bool,
    pub decoupled_sca: bool,
    /// `bookingStatus=pending|both` is supported.
    pub pending_transactions: bool,
    /// `entryReferenceFrom` / `deltaList` delta access.
    pub delta: bool,
    pub max_page_size: Option<u32>,
    /// The longest consent the bank grants (180 days under the EU RTS).
    pub max_consent_days: u32,
    /// The highest `frequencyPerDay` the bank accepts (4 unless agreed bilaterally).
    pub max_frequency_per_day: u32,
}

/// How the customer authorises at the bank.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScaApproach {
    /// OAuth2 authorization code with PKCE in the browser.
    Redirect,
    /// The customer confirms in the bank's own app.
    Decoupled,
}

/// A request for account-information access. Always bank-offered: the customer picks the
/// accounts at the bank.
#[derive(Debug, Clone)]
pub struct ConsentRequest {
    pub scopes: Vec<ConsentScope>,
    pub valid_until: NaiveDate,
    pub frequency_per_day: u32,
    pub recurring: bool,
    pub psu_ip: Option<String>,
    pub psu_id: Option<String>,
    pub approach: ScaApproach,
}

/// What the bank answered to a new consent.
#[derive(Debug, Clone)]
pub struct ConsentCreated {
    pub bank_consent_id: String,
    pub status: ConsentStatus,
    pub next: ScaStep,
}

/// What the gateway must do next for SCA.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ScaStep {
    /// Send the customer's browser to the bank's OAuth authorization endpoint.
    Redirect { authorize_url_base: String },
    /// Wait for the customer to confirm in the bank's app.
    Decoupled { message: Option<String> },
    /// Nothing to do.
    None,
}

/// An OAuth access token for AIS calls. `Debug` hides it.
#[derive(Clone)]
pub struct AccessToken {
    pub token: String,
    pub expires_in: Option<u64>,
}

impl fmt::Debug for AccessToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AccessToken")
            .field("token", &"<redacted>")
            .field("expires_in", &self.expires_in)
            .finish()
    }
}

/// Whether the customer is in the conversation right now. A present customer's calls carry
/// `PSU-IP-Address` and do not count against the daily unattended budget.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Presence {
    CustomerPresent { ip: String },
    Unattended,
}

/// Everything an AIS call needs to name the consent it runs under. `Debug` hides the token.
#[derive(Clone)]
pub struct AccessCtx {
    pub bank_consent_id: String,
    pub access_token: Option<String>,
    pub presence: Presence,
}

impl fmt::Debug for AccessCtx {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AccessCtx")
            .field("bank_consent_id", &self.bank_consent_id)
            .field(
                "access_token",
                &self.access_token.as_ref().map(|_| "<redacted>"),
            )
            .field("presence", &self.presence)
            .finish()
    }
}

/// An account as the bank lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BankAccount {
    /// The bank's opaque `resourceId`.
    pub resource_id: String,
    pub iban: Option<Iban>,
    pub currency: Currency,
    pub name: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BankBalance {
    pub kind: BalanceKind,
    pub amount: Money,
    pub reference_date: Option<NaiveDate>,
}

/// Which booking states to ask for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TxStatusQuery {
    Booked,
    Pending,
    Both,
}

impl TxStatusQuery {
    pub fn wire_name(&self) -> &'static str {
        match self {
            TxStatusQuery::Booked => "booked",
            TxStatusQuery::Pending => "pending",
            TxStatusQuery::Both => "both",
        }
    }
}

/// A transaction list query (inclusive dates).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TxQuery {
    pub date_from: NaiveDate,
    pub date_to: Option<NaiveDate>,
    pub status: TxStatusQuery,
}

/// Where the next page starts. Opaque to callers: for NextGenPSD2 it wraps `_links.next`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PageCursor(pub(crate) String);

/// One page of a transaction report.
#[derive(Debug, Clone, Default)]
pub struct BankTxPage {
    pub booked: Vec<BankTransaction>,
    pub pending: Vec<BankTransaction>,
    pub next: Option<PageCursor>,
}

/// A transaction as the bank reported it, parsed. `raw_description` is the bank's text, never
/// cleaned; `merchant` is our cleaned guess. `Debug` hides the customer data.
#[derive(Clone, PartialEq, Eq)]
pub struct BankTransaction {
    pub bank_transaction_id: Option<String>,
    pub end_to_end_id: Option<String>,
    pub status: BookingStatus,
    pub booking_date: Option<NaiveDate>,
    pub value_date: Option<NaiveDate>,
    /// When the bank first saw it (non-standard `entryDate`/`transactionDate`, if sent).
    pub entry_date: Option<NaiveDate>,
    /// Negative = money out, as the bank gave it.
    pub amount: Money,
    pub merchant: Option<String>,
    pub raw_description: String,
    pub counterparty_iban: Option<Iban>,
}

impl BankTransaction {
    /// The date a customer thinks of: booking date when booked, else value or entry date.
    pub fn customer_date(&self) -> Option<NaiveDate> {
        match self.status {
            BookingStatus::Booked => self.booking_date.or(self.value_date).or(self.entry_date),
            BookingStatus::Pending => self.entry_date.or(self.value_date).or(self.booking_date),
        }
    }
}

impl fmt::Debug for BankTransaction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BankTransaction")
            .field("bank_transaction_id", &self.bank_transaction_id)
            .field("status", &self.status)
            .field("booking_date", &self.booking_date)
            .field("value_date", &self.value_date)
            .field("amount", &self.amount)
            .finish_non_exhaustive()
    }
}

/// Whether a card can pay.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CardStatus {
    Active,
    /// Frozen for now; the customer can unblock it.
    Blocked,
    /// Reported lost: stopped for good.
    Lost,
    /// Reported stolen: stopped for good.
    Stolen,
    /// A replacement on its way, not active yet.
    Ordered,
}

/// Why a card is reported (permanently stopped, a replacement ordered).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LostReason {
    Lost,
    Stolen,
}

impl LostReason {
    pub fn wire_name(&self) -> &'static str {
        match self {
            LostReason::Lost => "lost",
            LostReason::Stolen => "stolen",
        }
    }
}

/// A payment card on an account. The masked number shows the last four digits only.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BankCard {
    /// The bank's opaque card id.
    pub card_id: String,
    /// "************1234"; `None` when the bank did not send one.
    pub masked_pan: Option<String>,
    /// "visa", "mastercard", … as the bank names it; `None` when not sent.
    pub brand: Option<String>,
    pub status: CardStatus,
}

impl BankCard {
    /// The last four digits of the masked number, if the bank sent them.
    pub fn last4(&self) -> Option<&str> {
        let m = self.masked_pan.as_deref()?;
        let tail = m.get(m.len().checked_sub(4)?..)?;
        tail.chars().all(|c| c.is_ascii_digit()).then_some(tail)
    }
}

/// What the bank answered to a lost or stolen card: the card, now stopped, and its replacement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CardReport {
    pub card: BankCard,
    pub replacement: Option<BankCard>,
}

/// One bank-side standard. Implementations own transport, retries and the wire format.
#[async_trait]
pub trait BankConnector: Send + Sync + 'static {
    fn capabilities(&self) -> Capabilities;
    async fn create_consent(&self, req: &ConsentRequest) -> Result<ConsentCreated, ConnectorError>;
    /// The URL to send the customer's browser to (OAuth2 authorization code + PKCE S256).
    async fn authorize_url(
        &self,
        created: &ConsentCreated,
        redirect_uri: &str,
        state: &str,
        code_challenge: &str,
    ) -> Result<String, ConnectorError>;
    async fn exchange_code(
        &self,
        code: &str,
        verifier: &str,
        redirect_uri: &str,
    ) -> Result<AccessToken, ConnectorError>;
    async fn consent_status(&self, ctx: &AccessCtx) -> Result<ConsentStatus, ConnectorError>;
    async fn delete_consent(&self, ctx: &AccessCtx) -> Result<(), ConnectorError>;
    async fn accounts(&self, ctx: &AccessCtx) -> Result<Vec<BankAccount>, ConnectorError>;
    async fn balances(
        &self,
        ctx: &AccessCtx,
        account: &str,
    ) -> Result<Vec<BankBalance>, ConnectorError>;
    async fn transactions(
        &self,
        ctx: &AccessCtx,
        account: &str,
        q: &TxQuery,
        page: Option<&PageCursor>,
    ) -> Result<BankTxPage, ConnectorError>;
    /// The cards on one account. Banks without the card extension answer `NotSupported`.
    async fn cards(
        &self,
        _ctx: &AccessCtx,
        _account: &str,
    ) -> Result<Vec<BankCard>, ConnectorError> {
        Err(ConnectorError::NotSupported)
    }
    /// Payment initiation, when this bank offers it.
    fn payments(&self) -> Option<&dyn crate::pis::PaymentInitiation> {
        None
    }
    /// Blocks (or unblocks) a card. `request_id` is the idempotency key: the same key repeated
    /// after a timeout or a restart never acts twice.
    async fn set_card_blocked(
        &self,
        _ctx: &AccessCtx,
        _account: &str,
        _card: &str,
        _blocked: bool,
        _request_id: uuid::Uuid,
    ) -> Result<BankCard, ConnectorError> {
        Err(ConnectorError::NotSupported)
    }
    /// Reports a card lost or stolen: permanent, the bank orders a replacement. `request_id` is
    /// the idempotency key, as for [`BankConnector::set_card_blocked`].
    async fn report_card_lost(
        &self,
        _ctx: &AccessCtx,
        _account: &str,
        _card: &str,
        _reason: LostReason,
        _request_id: uuid::Uuid,
    ) -> Result<CardReport, ConnectorError> {
        Err(ConnectorError::NotSupported)
    }
}
