//! The vault's errors: variants a caller can act on, each with a stable public code. No variant
//! ever carries a card number, a token's card or an amount.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

#[derive(Debug, thiserror::Error)]
pub enum VaultError {
    #[error("{0}")]
    BadRequest(&'static str),
    #[error("the request's signature is missing, stale or wrong")]
    Unauthorized,
    #[error("{0}")]
    NotFound(&'static str),
    #[error("{0}")]
    Conflict(&'static str),
    #[error("the card issuer did not answer in time; retry with the same X-Request-ID")]
    AcquirerUnavailable,
    #[error("configuration: {0}")]
    Config(String),
    #[error("the vault's database failed")]
    Db(#[from] sqlx::Error),
    #[error("a stored record failed to decrypt")]
    Corrupt,
}

impl VaultError {
    pub fn status(&self) -> StatusCode {
        match self {
            VaultError::BadRequest(_) => StatusCode::BAD_REQUEST,
            VaultError::Unauthorized => StatusCode::UNAUTHORIZED,
            VaultError::NotFound(_) => StatusCode::NOT_FOUND,
            VaultError::Conflict(_) => StatusCode::CONFLICT,
            VaultError::AcquirerUnavailable => StatusCode::BAD_GATEWAY,
            VaultError::Config(_) | VaultError::Db(_) | VaultError::Corrupt => {
                StatusCode::INTERNAL_SERVER_ERROR
            }
        }
    }

    pub fn code(&self) -> &'static str {
        match self {
            VaultError::BadRequest(_) => "bad_request",
            VaultError::Unauthorized => "unauthorized",
            VaultError::NotFound(_) => "not_found",
            VaultError::Conflict(_) => "conflict",
            VaultError::AcquirerUnavailable => "acquirer_unavailable",
            VaultError::Config(_) => "config",
            VaultError::Db(_) => "internal",
            VaultError::Corrupt => "internal",
        }
    }
}

impl IntoResponse for VaultError {
    fn into_response(self) -> Response {
        if matches!(self, VaultError::Db(_) | VaultError::Corrupt) {
            tracing::error!(error = %self, "vault request failed");
        }
        let body = serde_json::json!({ "error": self.code(), "message": self.to_string() });
        (self.status(), axum::Json(body)).into_response()
    }
}
