//! The two error types of bank access: [`ConnectorError`] (what one bank call can fail with,
//! classed for retry and for customer action) and [`BankError`] (what the link service and the
//! sync engine tell their callers).
//!
//! Display strings never carry bank payload: no body text, no amounts, no account numbers, no
//! tokens. A bank error code is kept only when it is one of the Berlin Group codes we know, as a
//! `&'static str` of our own.

use std::time::Duration;

use okienko_store::StoreError;

/// What one call to a bank connector can fail with.
#[derive(Debug, thiserror::Error)]
pub enum ConnectorError {
    /// BG `401 CONSENT_EXPIRED`: the customer must authorise again.
    #[error("the bank says the consent has expired")]
    ConsentExpired,
    /// BG `401 CONSENT_INVALID`: not (or no longer) valid, or not covering this request.
    #[error("the bank says the consent is not valid for this request")]
    ConsentInvalid,
    /// BG `CONSENT_UNKNOWN`: the bank does not know the consent id.
    #[error("the bank does not know the consent")]
    ConsentUnknown,
    /// BG `429 ACCESS_EXCEEDED`: the daily unattended budget (`frequencyPerDay`) is used up.
    #[error("the bank's daily access limit for this consent is used up")]
    AccessExceeded,
    /// BG `FORMAT_ERROR`, `PERIOD_INVALID`, `PARAMETER_NOT_SUPPORTED`: our request was wrong.
    #[error("the bank rejected the request format")]
    FormatError,
    /// BG `RESOURCE_UNKNOWN` or a plain 404.
    #[error("the bank does not know the requested resource")]
    NotFound,
    /// BG `TOKEN_INVALID` / `TOKEN_UNKNOWN` / `TOKEN_EXPIRED`.
    #[error("the bank rejected the access token")]
    TokenInvalid,
    /// The OAuth token endpoint refused the authorisation code (e.g. `invalid_grant`).
    #[error("the bank's authorisation server refused the authorisation code")]
    AuthorizationRejected,
    /// 5xx / `SERVICE_UNAVAILABLE`.
    #[error("the bank is unavailable")]
    BankUnavailable { retry_after: Option<Duration> },
    /// 429 other than `ACCESS_EXCEEDED`.
    #[error("the bank asked us to slow down")]
    RateLimited { retry_after: Option<Duration> },
    /// Any other refusal we have no better variant for.
    #[error("the bank refused the request (HTTP {status}, code {})", code.unwrap_or("none"))]
    Rejected {
        status: u16,
        code: Option<&'static str>,
    },
    /// The body was not the JSON we expected. Only the status and size are ever logged.
    #[error("the bank sent a malformed response (HTTP {status})")]
    Malformed { status: u16 },
    /// Connecting, sending or receiving failed (includes timeouts).
    #[error("could not reach the bank{}", if *timeout { " (timed out)" } else { "" })]
    Transport {
        timeout: bool,
        /// True when no byte reached the bank (safe to retry even non-idempotent calls).
        connect: bool,
        #[source]
        source: Option<reqwest::Error>,
    },
    /// The bank does not offer this operation (e.g. no card extension).
    #[error("the bank does not support this operation")]
    NotSupported,
    /// Our own configuration is wrong (bad base URL, bad redirect URL).
    #[error("bank connector misconfigured: {0}")]
    Config(&'static str),
}

impl ConnectorError {
    /// Worth trying again after a pause (transport, 5xx, 429 that is not ACCESS_EXCEEDED).
    pub fn retryable(&self) -> bool {
        matches!(
            self,
            ConnectorError::Transport { .. }
                | ConnectorError::BankUnavailable { .. }
                | ConnectorError::RateLimited { .. }
        )
    }

    /// Only the customer can fix this (re-authorise at the bank).
    pub fn needs_customer_action(&self) -> bool {
        matches!(
            self,
            ConnectorError::ConsentExpired
                | ConnectorError::ConsentInvalid
                | ConnectorError::ConsentUnknown
                | ConnectorError::TokenInvalid
                | ConnectorError::AuthorizationRejected
        )
    }

    /// The pause the bank asked for, if any.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            ConnectorError::BankUnavailable { retry_after }
            | ConnectorError::RateLimited { retry_after } => *retry_after,
            _ => None,
        }
    }
}

/// What the link service and the sync engine report to the conversation.
#[derive(Debug, thiserror::Error)]
pub enum BankError {
    #[error("the customer has no bank linked")]
    NotLinked,
    #[error("the bank consent has expired; the customer must link the bank again")]
    ConsentExpired,
    /// The customer withdrew the consent at the bank; the cached data is already deleted.
    #[error("the customer revoked the consent at the bank")]
    RevokedAtBank,
    #[error("the bank is unavailable; try again later")]
    BankUnavailable,
    #[error("the daily limit of automatic bank access is used up")]
    AccessExceeded,
    #[error("the bank sent data we could not read")]
    BadBankData,
    #[error("unknown or already used link request")]
    LinkUnknown,
    #[error("store: {0}")]
    Store(#[from] StoreError),
    #[error("bank: {0}")]
    Other(#[source] ConnectorError),
}

impl From<ConnectorError> for BankError {
    fn from(e: ConnectorError) -> Self {
        match e {
            ConnectorError::ConsentExpired
            | ConnectorError::ConsentInvalid
            | ConnectorError::ConsentUnknown
            | ConnectorError::TokenInvalid => BankError::ConsentExpired,
            ConnectorError::AccessExceeded => BankError::AccessExceeded,
            ConnectorError::BankUnavailable { .. }
            | ConnectorError::RateLimited { .. }
            | ConnectorError::Transport { .. } => BankError::BankUnavailable,
            ConnectorError::Malformed { .. } => BankError::BadBankData,
            other => BankError::Other(other),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classes() {
        assert!(ConnectorError::BankUnavailable { retry_after: None }.retryable());
        assert!(!ConnectorError::AccessExceeded.retryable());
        assert!(!ConnectorError::ConsentExpired.retryable());
        assert!(ConnectorError::ConsentExpired.needs_customer_action());
        assert!(!ConnectorError::Malformed { status: 200 }.needs_customer_action());
        assert!(matches!(
            BankError::from(ConnectorError::TokenInvalid),
            BankError::ConsentExpired
        ));
        let s = ConnectorError::Rejected {
            status: 409,
            code: Some("STATUS_INVALID"),
        }
        .to_string();
        assert_eq!(
            s,
            "the bank refused the request (HTTP 409, code STATUS_INVALID)"
        );
    }
}
