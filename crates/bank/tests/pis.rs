//! The PIS client against a real sandbox bank on a real socket: initiate, retry with the same
//! key (same payment), key reuse with another order (KeyReused), decoupled approval in the bank
//! app, status to Executed, cancellation rules, typed refusals; and against a tiny
//! fault-injecting server: retries reuse the X-Request-ID, and a silent bank times out as
//! OutcomeUnknown.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::NaiveDate;
use okienko_bank::pis::{PaymentError, PaymentOrder, PaymentProduct, PaymentSca, PaymentStatus};
use okienko_bank::{BankConnector, NextGenPsd2Connector, RetryPolicy, ScaApproach};
use okienko_core::{Iban, Money};
use okienko_sandbox_bank::{SandboxBank, SandboxConfig};
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use uuid::Uuid;

async fn sandbox() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let bank = SandboxBank::new(SandboxConfig {
        customers: 30,
        seed: 11,
        today: NaiveDate::from_ymd_opt(2026, 10, 15).unwrap(),
        control_api: true,
    });
    tokio::spawn(bank.serve(listener, std::future::pending()));
    base
}

async fn truth(base: &str, psu: &str) -> Value {
    reqwest::get(format!("{base}/sandbox/customers/{psu}"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

async fn anna_iban(base: &str) -> Iban {
    truth(base, "anna").await["accounts"][0]["iban"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap()
}

async fn pln_payee(base: &str) -> Iban {
    for i in 3..=30 {
        let t = truth(base, &format!("cust{i:05}")).await;
        if t["currency"] == "PLN" {
            return t["accounts"][0]["iban"].as_str().unwrap().parse().unwrap();
        }
    }
    panic!("no PLN payee");
}

fn order(debtor: &Iban, creditor: &Iban, amount: &str) -> PaymentOrder {
    PaymentOrder {
        product: PaymentProduct::InstantSepaCreditTransfer,
        debtor: debtor.clone(),
        creditor: creditor.clone(),
        creditor_name: "Jan Kowalski".into(),
        amount: Money::parse(amount, "PLN").unwrap(),
        remittance: Some("obiad".into()),
        psu_id: Some("anna".into()),
        psu_ip: "127.0.0.1".into(),
        approach: ScaApproach::Decoupled,
        redirect_uri: None,
    }
}

/// Approves (or rejects) a payment in the bank app as `psu`, over plain HTML forms.
pub async fn app_decide(base: &str, psu: &str, payment_id: &str, decision: &str) {
    let c = reqwest::Client::new();
    let page = c
        .post(format!("{base}/app/login"))
        .form(&[("psu_id", psu), ("password", "demo")])
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let marker = "name=\"session\" value=\"";
    let s = page.find(marker).unwrap() + marker.len();
    let session = &page[s..s + page[s..].find('"').unwrap()];
    c.post(format!("{base}/app/decide"))
        .form(&[
            ("session", session),
            ("payment_id", payment_id),
            ("decision", decision),
        ])
        .send()
        .await
        .unwrap();
}

#[tokio::test]
async fn initiate_retry_approve_execute_against_the_sandbox() {
    let base = sandbox().await;
    let conn = NextGenPsd2Connector::new(&base, "okienko", Duration::from_secs(5)).unwrap();
    let pis = conn.payments().expect("NextGenPSD2 offers PIS");
    let anna = anna_iban(&base).await;
    let payee = pln_payee(&base).await;
    let key = Uuid::new_v4();
    let o = order(&anna, &payee, "25.00");
    let first = pis.initiate_payment(&o, key).await.unwrap();
    assert_eq!(first.status, PaymentStatus::Received);
    assert!(matches!(first.sca, PaymentSca::Decoupled { .. }));
    // The same key again (a retry after a lost answer) names the same payment.
    let again = pis.initiate_payment(&o, key).await.unwrap();
    assert_eq!(again.payment_id, first.payment_id);
    // The same key for another order is a conflict, and creates nothing.
    let err = pis
        .initiate_payment(&order(&anna, &payee, "26.00"), key)
        .await
        .unwrap_err();
    assert!(matches!(err, PaymentError::KeyReused), "{err:?}");

    let product = PaymentProduct::InstantSepaCreditTransfer;
    app_decide(&base, "anna", &first.payment_id, "approve").await;
    assert_eq!(
        pis.payment_status(product, &first.payment_id)
            .await
            .unwrap(),
        PaymentStatus::Executed
    );
    let err = pis
        .cancel_payment(product, &first.payment_id)
        .await
        .unwrap_err();
    assert!(matches!(err, PaymentError::CannotCancel), "{err:?}");
    let err = pis.payment_status(product, "nope").await.unwrap_err();
    assert!(matches!(err, PaymentError::NotFound), "{err:?}");
    let err = pis
        .initiate_payment(&order(&anna, &anna, "1.00"), Uuid::new_v4())
        .await
        .unwrap_err();
    assert!(matches!(err, PaymentError::Refused { .. }), "{err:?}");

    // No funds: the bank answers RJCT with AM04.
    let broke = pis
        .initiate_payment(&order(&anna, &payee, "90000000.00"), Uuid::new_v4())
        .await
        .unwrap();
    assert_eq!(
        broke.status,
        PaymentStatus::Rejected {
            reason: Some("AM04".into())
        }
    );

    // Redirect SCA, then cancelled before SCA.
    let mut r = order(&anna, &payee, "3.00");
    r.approach = ScaApproach::Redirect;
    r.redirect_uri = Some("https://chat.example/back".into());
    let p = pis.initiate_payment(&r, Uuid::new_v4()).await.unwrap();
    assert!(matches!(p.sca, PaymentSca::Redirect { ref url } if url.contains("/pis/authorize")));
    pis.cancel_payment(product, &p.payment_id).await.unwrap();
    assert_eq!(
        pis.payment_status(product, &p.payment_id).await.unwrap(),
        PaymentStatus::Cancelled
    );
    let err = pis
        .start_authorisation(product, &p.payment_id, Some("anna"))
        .await
        .unwrap_err();
    assert!(matches!(err, PaymentError::NotAwaitingSca), "{err:?}");

    let ledger: Value = reqwest::get(format!("{base}/sandbox/ledger"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(ledger["consistent"], true);
}

/// Two gateway instances start the authorisation of one payment at once (a follower lease
/// changing hands): the bank holds one new authorisation, and both get it.
#[tokio::test]
async fn overlapping_authorisation_starts_make_one_authorisation() {
    let base = sandbox().await;
    let conn = NextGenPsd2Connector::new(&base, "okienko", Duration::from_secs(5)).unwrap();
    let other = NextGenPsd2Connector::new(&base, "okienko", Duration::from_secs(5)).unwrap();
    let (a, b) = (
        conn.payments().expect("PIS"),
        other.payments().expect("PIS"),
    );
    let anna = anna_iban(&base).await;
    let payee = pln_payee(&base).await;
    let product = PaymentProduct::InstantSepaCreditTransfer;
    let authorisations = |id: String| {
        let base = base.clone();
        async move {
            let url = format!("{base}/v1/payments/{}/{id}/authorisations", product.path());
            let v: Value = reqwest::Client::new()
                .get(url)
                .header("X-Request-ID", Uuid::new_v4().to_string())
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            v["authorisationIds"].as_array().unwrap().len()
        }
    };
    for approach in [ScaApproach::Redirect, ScaApproach::Decoupled] {
        let mut o = order(&anna, &payee, "4.00");
        o.approach = approach;
        o.redirect_uri = Some("https://chat.example/back".into());
        let p = a.initiate_payment(&o, Uuid::new_v4()).await.unwrap();
        let before = authorisations(p.payment_id.clone()).await;
        let (x, y) = tokio::join!(
            a.start_authorisation(product, &p.payment_id, Some("anna")),
            b.start_authorisation(product, &p.payment_id, Some("anna")),
        );
        let (x, y) = (x.unwrap(), y.unwrap());
        assert_eq!(
            x, y,
            "{approach:?}: both instances got the same authorisation"
        );
        assert_eq!(
            authorisations(p.payment_id.clone()).await,
            before + 1,
            "{approach:?}: one authorisation started"
        );
        // A third start later (a restarted follower) still names that one.
        let z = a
            .start_authorisation(product, &p.payment_id, Some("anna"))
            .await
            .unwrap();
        assert_eq!(z, x);
        assert_eq!(authorisations(p.payment_id.clone()).await, before + 1);
    }
}

/// Answers 503 `fails` times, then a 201 initiation; records every X-Request-ID.
async fn flaky(fails: usize) -> (String, Arc<Mutex<Vec<String>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let seen = Arc::new(Mutex::new(Vec::new()));
    let rec = seen.clone();
    tokio::spawn(async move {
        let mut n = 0;
        while let Ok((mut sock, _)) = listener.accept().await {
            let mut buf = Vec::new();
            let mut chunk = [0u8; 4096];
            while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
                match sock.read(&mut chunk).await {
                    Ok(0) | Err(_) => break,
                    Ok(k) => buf.extend_from_slice(&chunk[..k]),
                }
            }
            let head = String::from_utf8_lossy(&buf).to_lowercase();
            if let Some(l) = head.lines().find(|l| l.starts_with("x-request-id:")) {
                rec.lock().unwrap().push(l[13..].trim().to_owned());
            }
            let (status, body) = if n < fails {
                (
                    "503 Service Unavailable",
                    r#"{"tppMessages":[{"category":"ERROR","code":"SERVICE_UNAVAILABLE"}]}"#,
                )
            } else {
                (
                    "201 Created",
                    r#"{"transactionStatus":"RCVD","paymentId":"p1","_links":{"scaRedirect":{"href":"http://bank/sca"}}}"#,
                )
            };
            n += 1;
            let resp = format!(
                "HTTP/1.1 {status}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            );
            let _ = sock.write_all(resp.as_bytes()).await;
        }
    });
    (base, seen)
}

fn fast() -> RetryPolicy {
    RetryPolicy {
        max_attempts: 3,
        base: Duration::from_millis(10),
        cap: Duration::from_millis(50),
    }
}

#[tokio::test]
async fn retries_reuse_the_key_and_silence_is_an_unknown_outcome() {
    let (base, seen) = flaky(2).await;
    let conn = NextGenPsd2Connector::new(&base, "okienko", Duration::from_secs(2))
        .unwrap()
        .with_retry(fast());
    let a: Iban = "PL61109010140000071219812874".parse().unwrap();
    let b: Iban = "DE89370400440532013000".parse().unwrap();
    let key = Uuid::new_v4();
    let p = conn
        .payments()
        .unwrap()
        .initiate_payment(&order(&a, &b, "1.00"), key)
        .await
        .unwrap();
    assert_eq!(p.payment_id, "p1");
    let ids = seen.lock().unwrap().clone();
    assert_eq!(ids.len(), 3);
    assert!(ids.iter().all(|i| *i == key.to_string()), "{ids:?}");

    // A bank that accepts the connection and never answers: bounded by the timeout.
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let silent = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((s, _)) = listener.accept().await {
            held.push(s);
        }
    });
    let conn = NextGenPsd2Connector::new(&silent, "okienko", Duration::from_millis(200))
        .unwrap()
        .with_retry(fast());
    let t = Instant::now();
    let err = conn
        .payments()
        .unwrap()
        .initiate_payment(&order(&a, &b, "1.00"), Uuid::new_v4())
        .await
        .unwrap_err();
    assert!(err.outcome_unknown(), "{err:?}");
    assert!(t.elapsed() < Duration::from_secs(3));
}
