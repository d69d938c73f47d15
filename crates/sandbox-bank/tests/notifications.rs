//! New-transaction notifications (README, "Extension: new-transaction notifications"): a consent
//! created with `TPP-Notification-URI` gets a signed POST naming only the consent and the account
//! when money lands on that account; a failed delivery is retried with the same idempotency key;
//! other customers' bookings notify nobody; without a configured secret nothing is sent.

mod common;

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use common::*;
use hmac::{Hmac, Mac};
use serde_json::{Value, json};
use sha2::Sha256;

const SECRET: &str = "sandbox-notify-secret-0123";

#[derive(Clone, Debug)]
struct Call {
    key: String,
    ts: i64,
    sig: String,
    body: Vec<u8>,
}

#[derive(Clone, Default)]
struct Receiver {
    calls: Arc<Mutex<Vec<Call>>>,
    /// Answer 503 to this many calls first.
    fail: Arc<AtomicU32>,
}

impl Receiver {
    fn calls(&self) -> Vec<Call> {
        self.calls.lock().unwrap().clone()
    }

    async fn wait_for(&self, n: usize) -> Vec<Call> {
        let deadline = Instant::now() + Duration::from_secs(15);
        while self.calls().len() < n {
            assert!(Instant::now() < deadline, "{:?}", self.calls());
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        self.calls()
    }
}

async fn hook(State(r): State<Receiver>, headers: HeaderMap, body: Bytes) -> StatusCode {
    let h = |n: &str| {
        headers
            .get(n)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_owned()
    };
    r.calls.lock().unwrap().push(Call {
        key: h("x-request-id"),
        ts: h("x-notification-timestamp").parse().unwrap_or(0),
        sig: h("x-notification-signature"),
        body: body.to_vec(),
    });
    if r.fail
        .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
        .is_ok()
    {
        StatusCode::SERVICE_UNAVAILABLE
    } else {
        StatusCode::ACCEPTED
    }
}

async fn receiver(fail_first: u32) -> (Receiver, String) {
    let r = Receiver::default();
    r.fail.store(fail_first, Ordering::SeqCst);
    let app = axum::Router::new()
        .route("/hook", axum::routing::post(hook))
        .with_state(r.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (r, url)
}

fn signed_right(c: &Call) -> bool {
    let mut mac = Hmac::<Sha256>::new_from_slice(SECRET.as_bytes()).unwrap();
    mac.update(format!("{}.{}.", c.ts, c.key).as_bytes());
    mac.update(&c.body);
    c.sig == format!("v1={}", hex::encode(mac.finalize().into_bytes()))
}

/// A decoupled consent for `psu` asking for notifications at `uri`, approved in the bank app.
async fn consent_with_uri(bank: &Bank, psu: &str, uri: &str) -> (String, String) {
    let r = bank
        .create_consent(
            &all_psd2("2099-01-01", 4),
            &[
                ("TPP-Decoupled-Preferred", "true"),
                ("PSU-ID", psu),
                ("TPP-Notification-URI", uri),
            ],
        )
        .await;
    assert_eq!(r.status(), 201);
    let support = r
        .headers()
        .get("aspsp-notification-support")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    let v: Value = r.json().await.unwrap();
    let id = v["consentId"].as_str().unwrap().to_owned();
    let page = bank.app_login(psu).await;
    let session = hidden_value(&page, "session").unwrap();
    let page = bank
        .client
        .post(bank.url("/app/decide"))
        .form(&[
            ("session", session.as_str()),
            ("consent_id", id.as_str()),
            ("decision", "approve"),
        ])
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains(&id));
    (id, support)
}

async fn book(bank: &Bank, psu: &str, account: Option<&str>) {
    let mut body = json!({ "type": "debit", "amount": "12.30", "counterparty": "ZABKA" });
    if let Some(a) = account {
        body["account"] = json!(a);
    }
    let r = bank
        .control(&format!("/sandbox/customers/{psu}/bookings"), &body)
        .await;
    assert_eq!(r.status(), 201);
}

#[tokio::test]
async fn a_booking_is_pushed_signed_and_retried_with_the_same_key() {
    let bank = spawn_notifying(7, SECRET).await;
    let (rx, uri) = receiver(1).await;
    let (consent, support) = consent_with_uri(&bank, "anna", &uri).await;
    assert_eq!(support, "true");
    let truth = bank.truth("anna").await;
    let account = truth["accounts"][0]["resourceId"]
        .as_str()
        .unwrap()
        .to_owned();

    book(&bank, "anna", Some(&account)).await;
    // The first attempt gets a 503; the retry, with the same key, a 202.
    let calls = rx.wait_for(2).await;
    assert_eq!(calls[0].key, calls[1].key);
    assert!(uuid::Uuid::parse_str(&calls[0].key).is_ok());
    for c in &calls {
        assert!(signed_right(c), "{c:?}");
        assert!((chrono::Utc::now().timestamp() - c.ts).abs() < 30);
        let body: Value = serde_json::from_slice(&c.body).unwrap();
        assert_eq!(
            body,
            json!({ "consentId": consent, "accountId": account }),
            "ids only"
        );
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(rx.calls().len(), 2, "delivered: no more attempts");

    // Another customer's booking notifies nobody here; a card purchase on hers does, with a new
    // key.
    book(&bank, "john", None).await;
    let r = bank
        .control(
            "/sandbox/customers/anna/transactions",
            &json!({ "amount": "19.99" }),
        )
        .await;
    assert_eq!(r.status(), 201);
    let calls = rx.wait_for(3).await;
    assert_ne!(calls[2].key, calls[0].key);
    assert!(signed_right(&calls[2]));
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(rx.calls().len(), 3, "{:?}", rx.calls());
}

#[tokio::test]
async fn a_receiver_that_keeps_failing_gets_five_attempts() {
    let bank = spawn_notifying(7, SECRET).await;
    let (rx, uri) = receiver(100).await;
    consent_with_uri(&bank, "anna", &uri).await;
    book(&bank, "anna", None).await;
    let calls = rx.wait_for(5).await;
    assert!(calls.iter().all(|c| c.key == calls[0].key));
    // 0.25 + 0.5 + 1 + 2 s of pauses; then it gives up.
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(rx.calls().len(), 5);
}

#[tokio::test]
async fn without_a_secret_or_with_a_bad_uri_nothing_is_pushed() {
    let bank = spawn(7).await;
    let (rx, uri) = receiver(0).await;
    let (_, support) = consent_with_uri(&bank, "anna", &uri).await;
    assert_eq!(support, "false");
    book(&bank, "anna", None).await;

    let notifying = spawn_notifying(7, SECRET).await;
    let (_, support) = consent_with_uri(&notifying, "anna", "not a url").await;
    assert_eq!(support, "false");
    book(&notifying, "anna", None).await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert!(rx.calls().is_empty(), "{:?}", rx.calls());
}
