//! `POST /bank/notifications`: the bank's push that a consent's account has new transactions (the
//! sandbox bank's extension of NextGenPSD2's `TPP-Notification-URI`, see
//! crates/sandbox-bank/README.md). The gateway sends this URL on consent creation when
//! `bank.notify_secret` is set; without a secret the route does not exist (404).
//!
//! A notification is checked before anything happens: `X-Notification-Timestamp` (Unix seconds)
//! within [`MAX_SKEW_SECS`] of now, `X-Notification-Signature: v1=<hex HMAC-SHA256>` over
//! `"{timestamp}.{X-Request-ID}.{body}"` with the shared secret (compared in constant time), a
//! body of exactly `{"consentId", "accountId"}`, and a consent and account the gateway knows.
//! `X-Request-ID` is the idempotency key the bank repeats on retries: a key seen in the last
//! [`SEEN_FOR_SECS`] is answered 202 again without a second sync. A good notification is
//! answered 202 at once; the sync runs afterwards (the sink starts it). Forged, stale or
//! malformed → 401/400, unknown consent or account → 404, and nothing changes.
//!
//! Nothing here logs a body: it holds ids only, and only the outcome is logged.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use async_trait::async_trait;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use hmac::{Hmac, Mac};
use serde::Deserialize;
use serde_json::json;
use sha2::Sha256;

/// The route's path.
pub const PATH: &str = "/bank/notifications";
/// Oldest (or furthest in the future) a notification's timestamp may be.
pub const MAX_SKEW_SECS: i64 = 300;
/// How long an idempotency key is remembered (longer than the skew window, so a replay of a
/// signed notification is either remembered or stale).
pub const SEEN_FOR_SECS: u64 = 900;
/// Most idempotency keys remembered at once.
const SEEN_CAPACITY: usize = 100_000;
/// Largest body accepted: two ids.
const MAX_BODY: usize = 4 * 1024;

type HmacSha256 = Hmac<Sha256>;

/// Why a notification was not taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum NotifyRefused {
    #[error("no valid consent with that account")]
    Unknown,
    #[error("the notification could not be handled now")]
    Unavailable,
}

/// What a verified notification goes to: checks the consent and account and starts a sync of
/// the consent in the background (it must return quickly).
#[async_trait]
pub trait BankNotifications: Send + Sync + 'static {
    async fn notified(&self, consent_id: &str, account_id: &str) -> Result<(), NotifyRefused>;
}

#[derive(Clone)]
struct Notify {
    secret: Arc<[u8]>,
    sink: Arc<dyn BankNotifications>,
    seen: Arc<Mutex<HashMap<String, Instant>>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct Body {
    consent_id: String,
    account_id: String,
}

/// The signature the bank sends: `v1=` and the hex HMAC-SHA256 of
/// `"{timestamp}.{request_id}.{body}"` under `secret`.
pub fn sign(secret: &[u8], timestamp: i64, request_id: &str, body: &[u8]) -> String {
    let mut mac = match HmacSha256::new_from_slice(secret) {
        Ok(m) => m,
        // HMAC takes keys of any length; this arm is unreachable.
        Err(_) => return String::new(),
    };
    mac.update(format!("{timestamp}.{request_id}.").as_bytes());
    mac.update(body);
    format!("v1={}", hex::encode(mac.finalize().into_bytes()))
}

fn verify(secret: &[u8], timestamp: i64, request_id: &str, body: &[u8], given: &str) -> bool {
    let Some(hex_sig) = given.trim().strip_prefix("v1=") else {
        return false;
    };
    let Ok(sig) = hex::decode(hex_sig) else {
        return false;
    };
    let Ok(mut mac) = HmacSha256::new_from_slice(secret) else {
        return false;
    };
    mac.update(format!("{timestamp}.{request_id}.").as_bytes());
    mac.update(body);
    mac.verify_slice(&sig).is_ok()
}

/// The route; empty (404) when `secret` is `None` or blank.
pub fn routes(secret: Option<String>, sink: Arc<dyn BankNotifications>) -> Router {
    let Some(secret) = secret.filter(|s| !s.trim().is_empty()) else {
        return Router::new();
    };
    Router::new()
        .route(PATH, post(notification))
        .layer(DefaultBodyLimit::max(MAX_BODY))
        .with_state(Notify {
            secret: Arc::from(secret.trim().as_bytes()),
            sink,
            seen: Arc::new(Mutex::new(HashMap::new())),
        })
}

fn error(status: StatusCode, code: &str, message: &str) -> Response {
    (
        status,
        axum::Json(json!({ "error": code, "message": message })),
    )
        .into_response()
}

fn header<'a>(h: &'a HeaderMap, name: &str) -> Option<&'a str> {
    h.get(name).and_then(|v| v.to_str().ok()).map(str::trim)
}

fn now_secs() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// An idempotency key: 1 to 64 characters of letters, digits and `-`.
fn good_key(k: &str) -> bool {
    (1..=64).contains(&k.len()) && k.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
}

/// A bank id: 1 to 128 characters of letters, digits and `-_.:`.
fn good_id(k: &str) -> bool {
    (1..=128).contains(&k.len())
        && k.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | ':'))
}

impl Notify {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Instant>> {
        match self.seen.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        }
    }

    fn was_seen(&self, key: &str) -> bool {
        let seen = self.lock();
        let horizon = Duration::from_secs(SEEN_FOR_SECS);
        seen.get(key).is_some_and(|at| at.elapsed() < horizon)
    }

    fn remember(&self, key: &str) {
        let mut seen = self.lock();
        if seen.len() >= SEEN_CAPACITY {
            let horizon = Duration::from_secs(SEEN_FOR_SECS);
            seen.retain(|_, at| at.elapsed() < horizon);
        }
        if seen.len() < SEEN_CAPACITY {
            seen.insert(key.to_owned(), Instant::now());
        }
    }
}

async fn notification(State(n): State<Notify>, headers: HeaderMap, body: Bytes) -> Response {
    let (Some(ts), Some(sig), Some(key)) = (
        header(&headers, "x-notification-timestamp"),
        header(&headers, "x-notification-signature"),
        header(&headers, "x-request-id"),
    ) else {
        tracing::info!(outcome = "unsigned", "bank notification refused");
        return error(
            StatusCode::UNAUTHORIZED,
            "unsigned",
            "X-Notification-Timestamp, X-Notification-Signature and X-Request-ID are required",
        );
    };
    let Ok(ts) = ts.parse::<i64>() else {
        return error(
            StatusCode::UNAUTHORIZED,
            "bad_timestamp",
            "X-Notification-Timestamp must be Unix seconds",
        );
    };
    if !good_key(key) {
        return error(
            StatusCode::BAD_REQUEST,
            "bad_request_id",
            "X-Request-ID must be 1 to 64 letters, digits or hyphens",
        );
    }
    if !verify(&n.secret, ts, key, &body, sig) {
        tracing::warn!(outcome = "forged", "bank notification refused");
        return error(
            StatusCode::UNAUTHORIZED,
            "bad_signature",
            "the signature does not match",
        );
    }
    if (now_secs() - ts).abs() > MAX_SKEW_SECS {
        tracing::warn!(outcome = "stale", "bank notification refused");
        return error(
            StatusCode::UNAUTHORIZED,
            "stale",
            "the timestamp is too far from now",
        );
    }
    if n.was_seen(key) {
        tracing::info!(outcome = "repeated", "bank notification already taken");
        return (
            StatusCode::ACCEPTED,
            axum::Json(json!({ "status": "already_accepted" })),
        )
            .into_response();
    }
    let b: Body = match serde_json::from_slice(&body) {
        Ok(b) => b,
        Err(_) => {
            return error(
                StatusCode::BAD_REQUEST,
                "bad_body",
                "the body must be JSON with exactly: consentId, accountId (strings)",
            );
        }
    };
    if !good_id(&b.consent_id) || !good_id(&b.account_id) {
        return error(
            StatusCode::BAD_REQUEST,
            "bad_body",
            "consentId and accountId must be 1 to 128 letters, digits or - _ . :",
        );
    }
    match n.sink.notified(&b.consent_id, &b.account_id).await {
        Ok(()) => {
            n.remember(key);
            tracing::info!(outcome = "accepted", "bank notification accepted");
            (
                StatusCode::ACCEPTED,
                axum::Json(json!({ "status": "accepted" })),
            )
                .into_response()
        }
        Err(NotifyRefused::Unknown) => {
            tracing::info!(
                outcome = "unknown",
                "bank notification for an unknown consent"
            );
            error(
                StatusCode::NOT_FOUND,
                "unknown_consent",
                "no valid consent with that account",
            )
        }
        Err(NotifyRefused::Unavailable) => error(
            StatusCode::SERVICE_UNAVAILABLE,
            "unavailable",
            "the notification could not be handled now; retry",
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_bind_timestamp_key_and_body() {
        let s = sign(b"secret", 1_700_000_000, "k-1", b"{}");
        assert!(s.starts_with("v1="));
        assert!(verify(b"secret", 1_700_000_000, "k-1", b"{}", &s));
        assert!(!verify(b"secret", 1_700_000_001, "k-1", b"{}", &s));
        assert!(!verify(b"secret", 1_700_000_000, "k-2", b"{}", &s));
        assert!(!verify(b"secret", 1_700_000_000, "k-1", b"{ }", &s));
        assert!(!verify(b"other", 1_700_000_000, "k-1", b"{}", &s));
        assert!(!verify(b"secret", 1_700_000_000, "k-1", b"{}", "v1=zz"));
        assert!(!verify(b"secret", 1_700_000_000, "k-1", b"{}", ""));
    }

    #[test]
    fn keys_and_ids_are_checked() {
        assert!(good_key("0b7f6a52-9c1e-4f7e-8a3d-2f1e0c9b8a7d"));
        assert!(!good_key(""));
        assert!(!good_key("a b"));
        assert!(good_id("acc-1"));
        assert!(!good_id("acc/1"));
    }
}
