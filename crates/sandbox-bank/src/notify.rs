//! Sandbox extension (see the crate README, "New-transaction notifications"): when money lands on
//! an account, the bank POSTs a notification to every valid consent that covers the account's
//! transactions and gave a `TPP-Notification-URI` at creation. NextGenPSD2 1.3 defines the
//! header for payment status; this bank uses it for account news too.
//!
//! The body names the consent and the account only (`{"consentId", "accountId"}`): no amounts,
//! no names; the TPP reads what changed through AIS, under the consent. Each notification is
//! signed with a secret shared with the TPP (HMAC-SHA256 over `"{timestamp}.{X-Request-ID}.{body}"`,
//! sent as `X-Notification-Signature: v1=<hex>` with `X-Notification-Timestamp: <Unix seconds>`),
//! carries an idempotency key (`X-Request-ID`, the same on every retry), and is retried on
//! network errors, 408, 429 and 5xx with a growing pause, each attempt with a timeout. Without a
//! configured secret nothing is sent and consent creation answers `ASPSP-Notification-Support:
//! false`.

use std::time::Duration;

use hmac::{Hmac, Mac};
use okienko_core::ConsentStatus;
use serde_json::json;
use sha2::Sha256;

use crate::state::Inner;

type HmacSha256 = Hmac<Sha256>;

/// Longest notification URI accepted.
const MAX_URI: usize = 2000;

/// How notifications are sent.
pub struct Notifier {
    secret: Vec<u8>,
    client: reqwest::Client,
    /// Attempts per notification (the first included).
    attempts: u32,
    /// The pause before the second attempt; doubled before each further one.
    backoff: Duration,
}

impl std::fmt::Debug for Notifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Notifier")
            .field("attempts", &self.attempts)
            .field("backoff", &self.backoff)
            .finish_non_exhaustive()
    }
}

impl Notifier {
    /// A notifier signing with `secret`, each attempt limited to `timeout`.
    pub fn new(secret: &str, timeout: Duration) -> Option<Notifier> {
        if rustls::crypto::CryptoProvider::get_default().is_none() {
            let _ = rustls::crypto::ring::default_provider().install_default();
        }
        let client = reqwest::Client::builder()
            .connect_timeout(timeout)
            .timeout(timeout)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .ok()?;
        Some(Notifier {
            secret: secret.trim().as_bytes().to_vec(),
            client,
            attempts: 5,
            backoff: Duration::from_millis(250),
        })
    }
}

/// `v1=` and the hex HMAC-SHA256 of `"{timestamp}.{request_id}.{body}"`.
pub fn sign(secret: &[u8], timestamp: i64, request_id: &str, body: &[u8]) -> String {
    let Ok(mut mac) = HmacSha256::new_from_slice(secret) else {
        return String::new();
    };
    mac.update(format!("{timestamp}.{request_id}.").as_bytes());
    mac.update(body);
    format!("v1={}", hex::encode(mac.finalize().into_bytes()))
}

/// Whether a `TPP-Notification-URI` is one this bank will call: an absolute http(s) URL.
pub fn valid_uri(s: &str) -> bool {
    s.len() <= MAX_URI
        && url::Url::parse(s).is_ok_and(|u| matches!(u.scheme(), "http" | "https") && u.has_host())
}

/// Money landed on the account `account` (its `resourceId`): notifies every valid consent with a
/// notification URI that covers the account's transactions. Returns how many notifications were
/// started (they are sent in the background).
pub fn account_changed(inner: &Inner, account: &str) -> usize {
    let Some(n) = inner.notifier.get() else {
        return 0;
    };
    let targets: Vec<(String, String)> = {
        let mut st = inner.state();
        let today = st.today;
        st.consents
            .values_mut()
            .filter_map(|c| {
                if c.refresh_status(today) != ConsentStatus::Valid {
                    return None;
                }
                let uri = c.notification_uri.clone()?;
                c.grants
                    .iter()
                    .any(|g| g.resource_id == account && g.transactions)
                    .then(|| (c.id.clone(), uri))
            })
            .collect()
    };
    for (consent, uri) in &targets {
        let body = json!({ "consentId": consent, "accountId": account }).to_string();
        let (client, secret, attempts, backoff) =
            (n.client.clone(), n.secret.clone(), n.attempts, n.backoff);
        let (consent, uri) = (consent.clone(), uri.clone());
        tokio::spawn(async move {
            deliver(&client, &secret, &uri, &consent, body, attempts, backoff).await;
        });
    }
    targets.len()
}

async fn deliver(
    client: &reqwest::Client,
    secret: &[u8],
    uri: &str,
    consent: &str,
    body: String,
    attempts: u32,
    backoff: Duration,
) {
    let key = uuid::Uuid::new_v4().to_string();
    let mut pause = backoff;
    for attempt in 1..=attempts {
        let ts = chrono::Utc::now().timestamp();
        let sig = sign(secret, ts, &key, body.as_bytes());
        let sent = client
            .post(uri)
            .header("content-type", "application/json")
            .header("X-Request-ID", &key)
            .header("X-Notification-Timestamp", ts.to_string())
            .header("X-Notification-Signature", sig)
            .body(body.clone())
            .send()
            .await;
        let retry = match sent {
            Ok(r) if r.status().is_success() => {
                tracing::info!(%consent, notification = %key, attempt, "notification delivered");
                return;
            }
            Ok(r) => {
                let s = r.status().as_u16();
                let again = s == 408 || s == 429 || s >= 500;
                tracing::info!(%consent, notification = %key, attempt, status = s, "notification refused");
                again
            }
            Err(e) => {
                let kind = if e.is_timeout() { "timeout" } else { "network" };
                tracing::info!(%consent, notification = %key, attempt, error = kind, "notification not delivered");
                true
            }
        };
        if !retry || attempt == attempts {
            break;
        }
        tokio::time::sleep(pause).await;
        pause = pause.saturating_mul(2);
    }
    tracing::warn!(%consent, notification = %key, "notification given up");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uris_must_be_absolute_http() {
        assert!(valid_uri("http://127.0.0.1:8080/bank/notifications"));
        assert!(valid_uri("https://chat.bank.example/bank/notifications"));
        assert!(!valid_uri("ftp://x/y"));
        assert!(!valid_uri("/bank/notifications"));
        assert!(!valid_uri(&format!("https://x/{}", "a".repeat(3000))));
    }

    #[test]
    fn signatures_cover_timestamp_key_and_body() {
        let a = sign(b"s", 1, "k", b"{}");
        assert!(a.starts_with("v1=") && a.len() == 3 + 64);
        assert_ne!(a, sign(b"s", 2, "k", b"{}"));
        assert_ne!(a, sign(b"s", 1, "j", b"{}"));
        assert_ne!(a, sign(b"s", 1, "k", b"[]"));
        assert_ne!(a, sign(b"t", 1, "k", b"{}"));
    }
}
