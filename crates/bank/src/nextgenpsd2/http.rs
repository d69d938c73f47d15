//! The HTTP plumbing of the NextGenPSD2 connector: one reqwest `Client`, a per-request timeout,
//! one fresh `X-Request-ID` per logical call that is reused on its retries (the bank's
//! idempotency key), backoff between attempts, and the mapping of status codes and `tppMessages`
//! codes to [`ConnectorError`].
//!
//! It must never log or return a response body: malformed bodies are reported by status and byte
//! length only.

use std::time::Duration;

use reqwest::header::{HeaderMap, RETRY_AFTER};
use reqwest::{RequestBuilder, StatusCode};
use serde::de::DeserializeOwned;
use uuid::Uuid;

use super::wire::ErrorBody;
use crate::error::ConnectorError;
use crate::retry::RetryPolicy;

/// Largest response body we accept (a two-year transaction page fits easily).
const MAX_BODY: usize = 16 * 1024 * 1024;

/// Whether a call may be repeated after the bank might have processed it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Idempotency {
    /// Reads, and writes that the bank deduplicates by X-Request-ID.
    Safe,
    /// Retried only when nothing reached the bank (e.g. an OAuth code exchange: a code works once).
    Unsafe,
}

pub struct Http {
    pub client: reqwest::Client,
    pub timeout: Duration,
    pub retry: RetryPolicy,
}

/// A successful response: the status and the raw bytes, not yet parsed.
pub struct Reply {
    pub status: StatusCode,
    pub body: Vec<u8>,
}

impl Http {
    /// Sends the request `build` makes (called once per attempt with the same request id) and
    /// returns the body of a 2xx answer, or the mapped error after the retries.
    pub async fn send(
        &self,
        op: &'static str,
        idem: Idempotency,
        build: impl Fn(&reqwest::Client) -> RequestBuilder,
    ) -> Result<Reply, ConnectorError> {
        self.send_keyed(op, idem, Uuid::new_v4(), build).await
    }

    /// As [`Http::send`] with the caller's `X-Request-ID`: a caller that retries a whole
    /// operation later (a card block after a restart) passes the same key, and the bank
    /// answers it idempotently.
    pub async fn send_keyed(
        &self,
        op: &'static str,
        idem: Idempotency,
        request_id: Uuid,
        build: impl Fn(&reqwest::Client) -> RequestBuilder,
    ) -> Result<Reply, ConnectorError> {
        let mut attempt = 1u32;
        loop {
            let result = self.attempt(op, request_id, &build).await;
            let err = match result {
                Ok(reply) => return Ok(reply),
                Err(e) => e,
            };
            let allowed = match idem {
                Idempotency::Safe => true,
                Idempotency::Unsafe => matches!(
                    err,
                    ConnectorError::Transport { connect: true, .. }
                        | ConnectorError::BankUnavailable { .. }
                ),
            };
            match self.retry.next_delay(attempt, &err) {
                Some(delay) if allowed => {
                    tracing::debug!(op, %request_id, attempt, delay_ms = delay.as_millis() as u64,
                        error = %err, "bank call failed, retrying");
                    tokio::time::sleep(delay).await;
                    attempt += 1;
                }
                _ => {
                    tracing::warn!(op, %request_id, attempt, error = %err, "bank call failed");
                    return Err(err);
                }
            }
        }
    }

    async fn attempt(
        &self,
        op: &'static str,
        request_id: Uuid,
        build: &impl Fn(&reqwest::Client) -> RequestBuilder,
    ) -> Result<Reply, ConnectorError> {
        let resp = build(&self.client)
            .header("X-Request-ID", request_id.to_string())
            .timeout(self.timeout)
            .send()
            .await
            .map_err(transport)?;
        let status = resp.status();
        let headers = resp.headers().clone();
        if let Some(len) = resp.content_length()
            && len > MAX_BODY as u64
        {
            tracing::warn!(op, %request_id, status = status.as_u16(), bytes = len, "bank response too large");
            return Err(ConnectorError::Malformed {
                status: status.as_u16(),
            });
        }
        let body = resp.bytes().await.map_err(transport)?;
        if body.len() > MAX_BODY {
            return Err(ConnectorError::Malformed {
                status: status.as_u16(),
            });
        }
        tracing::debug!(op, %request_id, status = status.as_u16(), bytes = body.len(), "bank answered");
        if status.is_success() {
            Ok(Reply {
                status,
                body: body.to_vec(),
            })
        } else {
            Err(map_error(status, &headers, &body))
        }
    }
}

/// Parses a success body, logging only status and length when it is not the expected JSON.
pub fn parse<T: DeserializeOwned>(op: &'static str, reply: &Reply) -> Result<T, ConnectorError> {
    serde_json::from_slice(&reply.body).map_err(|_| {
        tracing::warn!(
            op,
            status = reply.status.as_u16(),
            bytes = reply.body.len(),
            "bank response is not the expected JSON"
        );
        ConnectorError::Malformed {
            status: reply.status.as_u16(),
        }
    })
}

fn transport(e: reqwest::Error) -> ConnectorError {
    ConnectorError::Transport {
        timeout: e.is_timeout(),
        connect: e.is_connect(),
        // The URL holds resource ids; keep it out of every error chain.
        source: Some(e.without_url()),
    }
}

/// The Berlin Group codes we know, as our own static strings (never the bank's bytes).
const KNOWN_CODES: &[&str] = &[
    "FORMAT_ERROR",
    "PERIOD_INVALID",
    "PARAMETER_NOT_SUPPORTED",
    "CONSENT_UNKNOWN",
    "CONSENT_INVALID",
    "CONSENT_EXPIRED",
    "RESOURCE_UNKNOWN",
    "RESOURCE_EXPIRED",
    "RESOURCE_BLOCKED",
    "TOKEN_UNKNOWN",
    "TOKEN_INVALID",
    "TOKEN_EXPIRED",
    "ACCESS_EXCEEDED",
    "SERVICE_UNAVAILABLE",
    "SERVICE_BLOCKED",
    "SERVICE_INVALID",
    "STATUS_INVALID",
    "PSU_CREDENTIALS_INVALID",
    "SCA_INVALID",
    "PRODUCT_INVALID",
    "PRODUCT_UNKNOWN",
    "REQUESTED_FORMATS_INVALID",
    "CERTIFICATE_INVALID",
    "SIGNATURE_INVALID",
    "TIMESTAMP_INVALID",
    "invalid_grant",
    "invalid_request",
    "invalid_client",
    "unauthorized_client",
    "unsupported_grant_type",
];

fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    headers
        .get(RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim()
        .parse::<u64>()
        .ok()
        .map(Duration::from_secs)
}

/// Maps a non-2xx answer to a typed error.
pub fn map_error(status: StatusCode, headers: &HeaderMap, body: &[u8]) -> ConnectorError {
    let parsed: ErrorBody = serde_json::from_slice(body).unwrap_or_default();
    let codes: Vec<&'static str> = parsed
        .tpp_messages
        .iter()
        .filter(|m| m.category.as_deref().is_none_or(|c| c == "ERROR"))
        .filter_map(|m| m.code.as_deref())
        .chain(parsed.error.as_deref())
        .filter_map(|c| KNOWN_CODES.iter().copied().find(|k| *k == c))
        .collect();
    let has = |c: &str| codes.contains(&c);
    let ra = retry_after(headers);
    if has("ACCESS_EXCEEDED") {
        return ConnectorError::AccessExceeded;
    }
    if has("CONSENT_EXPIRED") {
        return ConnectorError::ConsentExpired;
    }
    if has("CONSENT_UNKNOWN") {
        return ConnectorError::ConsentUnknown;
    }
    if has("CONSENT_INVALID") {
        return ConnectorError::ConsentInvalid;
    }
    if has("TOKEN_INVALID") || has("TOKEN_UNKNOWN") || has("TOKEN_EXPIRED") {
        return ConnectorError::TokenInvalid;
    }
    if has("invalid_grant") {
        return ConnectorError::AuthorizationRejected;
    }
    if has("RESOURCE_UNKNOWN") {
        return ConnectorError::NotFound;
    }
    if has("FORMAT_ERROR") || has("PERIOD_INVALID") || has("PARAMETER_NOT_SUPPORTED") {
        return ConnectorError::FormatError;
    }
    if has("SERVICE_UNAVAILABLE") || status.is_server_error() {
        return ConnectorError::BankUnavailable { retry_after: ra };
    }
    match status {
        StatusCode::TOO_MANY_REQUESTS => ConnectorError::RateLimited { retry_after: ra },
        StatusCode::NOT_FOUND => ConnectorError::NotFound,
        _ => ConnectorError::Rejected {
            status: status.as_u16(),
            code: codes.first().copied(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(status: u16, body: &str) -> ConnectorError {
        map_error(
            StatusCode::from_u16(status).unwrap(),
            &HeaderMap::new(),
            body.as_bytes(),
        )
    }

    #[test]
    fn maps_codes() {
        let m = |c: &str| {
            format!(r#"{{"tppMessages":[{{"category":"ERROR","code":"{c}","text":"x"}}]}}"#)
        };
        assert!(matches!(
            err(429, &m("ACCESS_EXCEEDED")),
            ConnectorError::AccessExceeded
        ));
        assert!(matches!(
            err(401, &m("CONSENT_EXPIRED")),
            ConnectorError::ConsentExpired
        ));
        assert!(matches!(
            err(401, &m("CONSENT_INVALID")),
            ConnectorError::ConsentInvalid
        ));
        assert!(matches!(
            err(403, &m("CONSENT_UNKNOWN")),
            ConnectorError::ConsentUnknown
        ));
        assert!(matches!(
            err(401, &m("TOKEN_INVALID")),
            ConnectorError::TokenInvalid
        ));
        assert!(matches!(
            err(404, &m("RESOURCE_UNKNOWN")),
            ConnectorError::NotFound
        ));
        assert!(matches!(
            err(400, &m("FORMAT_ERROR")),
            ConnectorError::FormatError
        ));
        assert!(matches!(
            err(503, &m("SERVICE_UNAVAILABLE")),
            ConnectorError::BankUnavailable { .. }
        ));
        assert!(matches!(
            err(502, "<html>"),
            ConnectorError::BankUnavailable { .. }
        ));
        assert!(matches!(err(429, "{}"), ConnectorError::RateLimited { .. }));
        assert!(matches!(
            err(400, r#"{"error":"invalid_grant"}"#),
            ConnectorError::AuthorizationRejected
        ));
        match err(409, &m("SOMETHING_SECRET_1234")) {
            ConnectorError::Rejected { status, code } => {
                assert_eq!(status, 409);
                assert_eq!(code, None);
            }
            other => panic!("unexpected {other:?}"),
        }
        assert!(!ConnectorError::AccessExceeded.retryable());
    }

    #[test]
    fn retry_after_seconds() {
        let mut h = HeaderMap::new();
        h.insert(RETRY_AFTER, "2".parse().unwrap());
        let e = map_error(StatusCode::TOO_MANY_REQUESTS, &h, b"{}");
        assert_eq!(e.retry_after(), Some(Duration::from_secs(2)));
    }
}
