//! Payment initiation (PIS), bank-neutral: the order, what the bank answered, the payment's
//! status, and [`PaymentError`], which tells a caller the one thing that matters for money —
//! whether the bank surely did nothing (`Refused`, `KeyReused`, ...) or the outcome is unknown
//! and must be asked again with the same idempotency key (`OutcomeUnknown`).
//!
//! The idempotency key travels as `X-Request-ID`; the NextGenPSD2 client reuses it on every
//! retry, and a caller that retries later (after a restart) passes the same key again.
//! `Debug` of orders hides amounts and account numbers.

use std::fmt;

use async_trait::async_trait;
use okienko_core::{Iban, Money};
use uuid::Uuid;

use crate::connector::ScaApproach;
use crate::error::ConnectorError;

/// The payment products this client speaks (NextGenPSD2 JSON products).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PaymentProduct {
    /// `sepa-credit-transfers`: executed on the bank's next business day.
    SepaCreditTransfer,
    /// `instant-sepa-credit-transfers`: executed within seconds (and the PLN express product of
    /// the sandbox bank).
    InstantSepaCreditTransfer,
}

impl PaymentProduct {
    pub fn path(self) -> &'static str {
        match self {
            PaymentProduct::SepaCreditTransfer => "sepa-credit-transfers",
            PaymentProduct::InstantSepaCreditTransfer => "instant-sepa-credit-transfers",
        }
    }

    pub fn from_path(s: &str) -> Option<Self> {
        match s {
            "sepa-credit-transfers" => Some(PaymentProduct::SepaCreditTransfer),
            "instant-sepa-credit-transfers" => Some(PaymentProduct::InstantSepaCreditTransfer),
            _ => None,
        }
    }
}

/// What the customer asked the bank to pay.
#[derive(Clone, PartialEq, Eq)]
pub struct PaymentOrder {
    pub product: PaymentProduct,
    pub debtor: Iban,
    pub creditor: Iban,
    pub creditor_name: String,
    /// Positive.
    pub amount: Money,
    pub remittance: Option<String>,
    /// The customer's id at the bank (needed for decoupled SCA).
    pub psu_id: Option<String>,
    pub psu_ip: String,
    pub approach: ScaApproach,
    /// Where the bank sends the customer back after redirect SCA.
    pub redirect_uri: Option<String>,
}

impl fmt::Debug for PaymentOrder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PaymentOrder")
            .field("product", &self.product)
            .field("amount", &self.amount)
            .field("approach", &self.approach)
            .finish_non_exhaustive()
    }
}

/// ISO 20022 transaction status, folded into what a payer needs to know.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PaymentStatus {
    /// RCVD / PDNG: waiting (usually for SCA).
    Received,
    /// ACTC, ACCP, ACFC, ACSP, ACWC, ACWP, PATC, PART: authorised, being executed.
    Accepted,
    /// ACSC / ACCC: the money left the account.
    Executed,
    /// RJCT, with the bank's reason code when it gave one (e.g. AM04).
    Rejected { reason: Option<String> },
    /// CANC.
    Cancelled,
}

impl PaymentStatus {
    pub fn from_iso(code: &str, reason: Option<String>) -> Option<Self> {
        Some(match code {
            "RCVD" | "PDNG" => PaymentStatus::Received,
            "ACTC" | "ACCP" | "ACFC" | "ACSP" | "ACWC" | "ACWP" | "PATC" | "PART" => {
                PaymentStatus::Accepted
            }
            "ACSC" | "ACCC" => PaymentStatus::Executed,
            "RJCT" => PaymentStatus::Rejected { reason },
            "CANC" => PaymentStatus::Cancelled,
            _ => return None,
        })
    }

    pub fn is_final(&self) -> bool {
        matches!(
            self,
            PaymentStatus::Executed | PaymentStatus::Rejected { .. } | PaymentStatus::Cancelled
        )
    }
}

/// How the customer authorises the payment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PaymentSca {
    /// Send the customer's browser here.
    Redirect { url: String },
    /// The customer approves in the bank's app.
    Decoupled { message: Option<String> },
    /// An authorisation must be started first (see [`PaymentInitiation::start_authorisation`]).
    StartAuthorisation,
    /// Nothing to do (already final, e.g. rejected for funds).
    None,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PaymentInitiated {
    pub payment_id: String,
    pub status: PaymentStatus,
    pub sca: PaymentSca,
}

/// What a PIS call can fail with.
#[derive(Debug, thiserror::Error)]
pub enum PaymentError {
    /// The bank refused the order (400: format, unknown account, same debtor and creditor).
    /// Nothing was created.
    #[error("the bank refused the payment order")]
    Refused { code: Option<&'static str> },
    /// 409: this idempotency key was used for a different order. A bug on our side.
    #[error("the idempotency key was already used for a different payment")]
    KeyReused,
    /// The bank does not know the payment (or the product).
    #[error("the bank does not know the payment")]
    NotFound,
    /// 405: executed, rejected or cancelled already.
    #[error("the payment can no longer be cancelled")]
    CannotCancel,
    /// 409 on an authorisation start: the payment is no longer waiting for one.
    #[error("the payment is not awaiting authorisation")]
    NotAwaitingSca,
    /// Timeout, connection lost after sending, or 5xx after all retries: the bank may or may
    /// not have acted. Ask again with the same key.
    #[error("the bank's answer was lost; the outcome is unknown")]
    OutcomeUnknown(#[source] ConnectorError),
    /// The bank does not offer payment initiation.
    #[error("the bank does not offer payment initiation")]
    NotSupported,
    #[error("bank: {0}")]
    Other(#[source] ConnectorError),
}

impl PaymentError {
    /// Maps a connector error on a PIS call; `on_409` is what a conflict means for this call.
    pub fn from_connector(e: ConnectorError, on_409: fn() -> PaymentError) -> PaymentError {
        match e {
            ConnectorError::Transport { .. }
            | ConnectorError::BankUnavailable { .. }
            | ConnectorError::RateLimited { .. }
            | ConnectorError::Malformed { .. } => PaymentError::OutcomeUnknown(e),
            ConnectorError::NotFound => PaymentError::NotFound,
            ConnectorError::FormatError => PaymentError::Refused {
                code: Some("FORMAT_ERROR"),
            },
            ConnectorError::NotSupported => PaymentError::NotSupported,
            ConnectorError::Rejected { status: 400, code } => PaymentError::Refused { code },
            ConnectorError::Rejected { status: 405, .. } => PaymentError::CannotCancel,
            ConnectorError::Rejected { status: 409, .. } => on_409(),
            other => PaymentError::Other(other),
        }
    }

    /// The bank may have acted: the caller must ask again, never give up silently.
    pub fn outcome_unknown(&self) -> bool {
        matches!(self, PaymentError::OutcomeUnknown(_))
    }
}

/// Payment initiation at one bank. Every call has a timeout and bounded retries inside.
#[async_trait]
pub trait PaymentInitiation: Send + Sync {
    /// Initiates `order`; `key` is the idempotency key (`X-Request-ID`): the same key with the
    /// same order always names the same payment.
    async fn initiate_payment(
        &self,
        order: &PaymentOrder,
        key: Uuid,
    ) -> Result<PaymentInitiated, PaymentError>;

    async fn payment_status(
        &self,
        product: PaymentProduct,
        payment_id: &str,
    ) -> Result<PaymentStatus, PaymentError>;

    /// Cancels a payment that is not executed yet.
    async fn cancel_payment(
        &self,
        product: PaymentProduct,
        payment_id: &str,
    ) -> Result<(), PaymentError>;

    /// Starts an SCA authorisation (decoupled needs `psu_id`).
    async fn start_authorisation(
        &self,
        product: PaymentProduct,
        payment_id: &str,
        psu_id: Option<&str>,
    ) -> Result<PaymentSca, PaymentError>;
}
