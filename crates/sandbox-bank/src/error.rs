//! NextGenPSD2 error responses: one enum of the failures the bank reports, each mapped to its HTTP
//! status and Berlin Group message code, rendered as `{"tppMessages":[{category, code, text}]}`.
//! Texts are fixed phrases: they never carry account numbers, amounts, tokens or other input.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ApiError {
    #[error("{0}")]
    Format(&'static str),
    #[error("dateFrom is after dateTo")]
    PeriodInvalid,
    #[error("{0}")]
    ParameterNotSupported(&'static str),
    #[error("consent is unknown")]
    ConsentUnknown,
    #[error("consent has expired")]
    ConsentExpired,
    #[error("{0}")]
    ConsentInvalid(&'static str),
    #[error("bearer token is missing, expired or belongs to another consent")]
    TokenInvalid,
    #[error("{0}")]
    ResourceUnknown(&'static str),
    #[error("frequencyPerDay of this consent is exhausted for today")]
    AccessExceeded,
    #[error("the bank is temporarily unavailable")]
    ServiceUnavailable,
    #[error("{0}")]
    StatusInvalid(&'static str),
    #[error("{0}")]
    ServiceInvalid(&'static str),
    #[error("{0}")]
    PaymentFailed(&'static str),
    #[error("payment product is not offered by this bank")]
    ProductUnknown,
    #[error("the payment can no longer be cancelled")]
    CancellationInvalid,
}

impl ApiError {
    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::Format(_) | ApiError::PeriodInvalid | ApiError::ParameterNotSupported(_) => {
                StatusCode::BAD_REQUEST
            }
            ApiError::ConsentUnknown => StatusCode::FORBIDDEN,
            ApiError::ConsentExpired | ApiError::ConsentInvalid(_) | ApiError::TokenInvalid => {
                StatusCode::UNAUTHORIZED
            }
            ApiError::ResourceUnknown(_) => StatusCode::NOT_FOUND,
            ApiError::AccessExceeded => StatusCode::TOO_MANY_REQUESTS,
            ApiError::ServiceUnavailable => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::StatusInvalid(_) => StatusCode::CONFLICT,
            ApiError::ServiceInvalid(_) => StatusCode::METHOD_NOT_ALLOWED,
            ApiError::PaymentFailed(_) => StatusCode::BAD_REQUEST,
            ApiError::ProductUnknown => StatusCode::NOT_FOUND,
            ApiError::CancellationInvalid => StatusCode::METHOD_NOT_ALLOWED,
        }
    }

    pub fn code(&self) -> &'static str {
        match self {
            ApiError::Format(_) => "FORMAT_ERROR",
            ApiError::PeriodInvalid => "PERIOD_INVALID",
            ApiError::ParameterNotSupported(_) => "PARAMETER_NOT_SUPPORTED",
            ApiError::ConsentUnknown => "CONSENT_UNKNOWN",
            ApiError::ConsentExpired => "CONSENT_EXPIRED",
            ApiError::ConsentInvalid(_) => "CONSENT_INVALID",
            ApiError::TokenInvalid => "TOKEN_INVALID",
            ApiError::ResourceUnknown(_) => "RESOURCE_UNKNOWN",
            ApiError::AccessExceeded => "ACCESS_EXCEEDED",
            ApiError::ServiceUnavailable => "SERVICE_UNAVAILABLE",
            ApiError::StatusInvalid(_) => "STATUS_INVALID",
            ApiError::ServiceInvalid(_) => "SERVICE_INVALID",
            ApiError::PaymentFailed(_) => "PAYMENT_FAILED",
            ApiError::ProductUnknown => "PRODUCT_UNKNOWN",
            ApiError::CancellationInvalid => "CANCELLATION_INVALID",
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = json!({
            "tppMessages": [{
                "category": "ERROR",
                "code": self.code(),
                "text": self.to_string(),
            }]
        });
        (self.status(), axum::Json(body)).into_response()
    }
}
