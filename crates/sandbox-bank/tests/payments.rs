//! Payment initiation against a real sandbox bank over HTTP: decoupled and redirect SCA,
//! X-Request-ID idempotency, cancellation, insufficient funds, both sides of a transfer in AIS
//! and the truth API, and the ledger's own consistency check after every scenario.

mod common;

use common::*;
use rust_decimal::Decimal;
use serde_json::{Value, json};

/// A second PLN customer (the generator picks currencies per customer).
async fn pln_payee(bank: &Bank) -> (String, String) {
    for i in 3..=50 {
        let psu = format!("cust{i:05}");
        let t = bank.truth(&psu).await;
        if t["currency"] == "PLN" {
            let iban = t["accounts"][0]["iban"].as_str().unwrap().to_owned();
            return (psu, iban);
        }
    }
    panic!("no second PLN customer among 50");
}

fn dec(v: &Value) -> Decimal {
    v.as_str().unwrap().parse().unwrap()
}

struct Acc {
    booked: Decimal,
    available: Decimal,
    txs: Vec<Value>,
}

async fn account(bank: &Bank, psu: &str, iban: &str) -> Acc {
    let t = bank.truth(psu).await;
    let a = t["accounts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["iban"] == iban)
        .unwrap()
        .clone();
    Acc {
        booked: dec(&a["balances"]["closingBooked"]),
        available: dec(&a["balances"]["interimAvailable"]),
        txs: a["transactions"].as_array().unwrap().clone(),
    }
}

async fn anna_iban(bank: &Bank) -> String {
    bank.truth("anna").await["accounts"][0]["iban"]
        .as_str()
        .unwrap()
        .to_owned()
}

fn body(debtor: &str, creditor: &str, amount: &str) -> Value {
    json!({
        "instructedAmount": {"currency": "PLN", "amount": amount},
        "debtorAccount": {"iban": debtor},
        "creditorAccount": {"iban": creditor},
        "creditorName": "Jan Kowalski",
        "remittanceInformationUnstructured": "Za obiad"
    })
}

async fn initiate(
    bank: &Bank,
    product: &str,
    request_id: &str,
    body: &Value,
    extra: &[(&str, &str)],
) -> reqwest::Response {
    let mut r = bank
        .client
        .post(bank.url(&format!("/v1/payments/{product}")))
        .header("X-Request-ID", request_id)
        .header("PSU-IP-Address", "192.168.0.10")
        .json(body);
    for (k, v) in extra {
        r = r.header(*k, *v);
    }
    r.send().await.unwrap()
}

async fn get_json(bank: &Bank, path: &str) -> Value {
    let r = bank
        .client
        .get(bank.url(path))
        .header("X-Request-ID", rid())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "{path}");
    r.json().await.unwrap()
}

async fn status(bank: &Bank, product: &str, id: &str) -> Value {
    let v = get_json(bank, &format!("/v1/payments/{product}/{id}/status")).await;
    conforms(&schema("paymentInitiationStatusResponse-200_json"), &v);
    v
}

async fn ledger_consistent(bank: &Bank) -> Value {
    let v: Value = bank
        .client
        .get(bank.url("/sandbox/ledger"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(v["consistent"], true, "{v}");
    v
}

async fn app_decide_payment(bank: &Bank, psu: &str, payment_id: &str, decision: &str) -> String {
    let page = bank.app_login(psu).await;
    assert!(page.contains(payment_id), "payment listed in the bank app");
    let session = hidden_value(&page, "session").unwrap();
    bank.client
        .post(bank.url("/app/decide"))
        .form(&[
            ("session", session.as_str()),
            ("payment_id", payment_id),
            ("decision", decision),
        ])
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
}

#[tokio::test]
async fn decoupled_instant_transfer_shows_on_both_sides_exactly_once() {
    let bank = spawn(7).await;
    let anna = anna_iban(&bank).await;
    let (payee, payee_iban) = pln_payee(&bank).await;
    let before_a = account(&bank, "anna", &anna).await;
    let before_p = account(&bank, &payee, &payee_iban).await;

    let key = rid();
    let b = body(&anna, &payee_iban, "50.00");
    let r = initiate(
        &bank,
        "instant-sepa-credit-transfers",
        &key,
        &b,
        &[("TPP-Decoupled-Preferred", "true"), ("PSU-ID", "anna")],
    )
    .await;
    assert_eq!(r.status(), 201);
    assert_eq!(r.headers()["aspsp-sca-approach"], "DECOUPLED");
    let v: Value = r.json().await.unwrap();
    conforms(&schema("paymentInitationRequestResponse-201"), &v);
    assert_eq!(v["transactionStatus"], "RCVD");
    assert_eq!(v["scaStatus"], "started");
    let id = v["paymentId"].as_str().unwrap().to_owned();

    // Reserved: available drops, booked does not.
    let mid = account(&bank, "anna", &anna).await;
    assert_eq!(mid.booked, before_a.booked);
    assert_eq!(mid.available, before_a.available - Decimal::new(5000, 2));

    // The same request again is the same payment; another body under the same id is refused.
    let again: Value = initiate(
        &bank,
        "instant-sepa-credit-transfers",
        &key,
        &b,
        &[("TPP-Decoupled-Preferred", "true"), ("PSU-ID", "anna")],
    )
    .await
    .json()
    .await
    .unwrap();
    assert_eq!(again["paymentId"], id.as_str());
    let r = initiate(
        &bank,
        "instant-sepa-credit-transfers",
        &key,
        &body(&anna, &payee_iban, "51.00"),
        &[],
    )
    .await;
    assert_eq!(r.status(), 409);

    // The payee cannot approve anna's payment; anna can.
    let page = bank.app_login(&payee).await;
    assert!(!page.contains(&id));
    let page = app_decide_payment(&bank, "anna", &id, "approve").await;
    assert!(
        !page.contains(&format!("data-payment=\"{id}\"")),
        "no longer waiting"
    );
    let s = status(&bank, "instant-sepa-credit-transfers", &id).await;
    assert_eq!(s["transactionStatus"], "ACSC");

    let after_a = account(&bank, "anna", &anna).await;
    let after_p = account(&bank, &payee, &payee_iban).await;
    assert_eq!(after_a.booked, before_a.booked - Decimal::new(5000, 2));
    assert_eq!(after_p.booked, before_p.booked + Decimal::new(5000, 2));
    let pid = format!("pis-{id}");
    let out: Vec<&Value> = after_a
        .txs
        .iter()
        .filter(|t| t["transactionId"] == pid.as_str())
        .collect();
    let inn: Vec<&Value> = after_p
        .txs
        .iter()
        .filter(|t| t["transactionId"] == pid.as_str())
        .collect();
    assert_eq!(out.len(), 1);
    assert_eq!(inn.len(), 1);
    assert_eq!(out[0]["amount"], "-50.00");
    assert_eq!(out[0]["status"], "booked");
    assert_eq!(inn[0]["amount"], "50.00");

    // And through AIS: the payee's consent sees the credit in booked transactions.
    let consent = bank
        .decoupled_consent(&payee, &all_psd2("9999-12-31", 4))
        .await;
    let accounts: Value = bank
        .ais("/v1/accounts", &consent, None, true)
        .await
        .json()
        .await
        .unwrap();
    let res = accounts["accounts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["iban"] == payee_iban.as_str())
        .unwrap()["resourceId"]
        .as_str()
        .unwrap()
        .to_owned();
    let tx: Value = bank
        .ais(
            &format!("/v1/accounts/{res}/transactions?bookingStatus=booked"),
            &consent,
            None,
            true,
        )
        .await
        .json()
        .await
        .unwrap();
    conforms(&schema("transactionsResponse-200_json"), &tx);
    let booked = tx["transactions"]["booked"].as_array().unwrap();
    let credit = booked
        .iter()
        .find(|t| t["transactionId"] == pid.as_str())
        .unwrap();
    assert_eq!(credit["transactionAmount"]["amount"], "50.00");
    assert_eq!(credit["debtorAccount"]["iban"], anna.as_str());

    // GET payment echoes the order, conforming to the spec.
    let p = get_json(
        &bank,
        &format!("/v1/payments/instant-sepa-credit-transfers/{id}"),
    )
    .await;
    conforms(&schema("paymentInitiationWithStatusResponse"), &p);
    assert_eq!(p["transactionStatus"], "ACSC");
    // Executed payments cannot be cancelled.
    let r = bank
        .client
        .delete(bank.url(&format!("/v1/payments/instant-sepa-credit-transfers/{id}")))
        .header("X-Request-ID", rid())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 405);

    let l = ledger_consistent(&bank).await;
    assert_eq!(l["payments"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn redirect_sepa_transfer_books_next_day_and_cancel_voids() {
    let bank = spawn(8).await;
    let anna = anna_iban(&bank).await;
    let (_, payee_iban) = pln_payee(&bank).await;
    let before = account(&bank, "anna", &anna).await;

    let r = initiate(
        &bank,
        "sepa-credit-transfers",
        &rid(),
        &body(&anna, &payee_iban, "12.34"),
        &[
            ("TPP-Redirect-URI", "https://tpp.example/ok"),
            ("TPP-Nok-Redirect-URI", "https://tpp.example/nok"),
        ],
    )
    .await;
    assert_eq!(r.status(), 201);
    let v: Value = r.json().await.unwrap();
    conforms(&schema("paymentInitationRequestResponse-201"), &v);
    let id = v["paymentId"].as_str().unwrap().to_owned();
    let sca = v["_links"]["scaRedirect"]["href"]
        .as_str()
        .unwrap()
        .to_owned();
    let page = bank
        .client
        .get(&sca)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("12,34"), "the page shows the amount");
    let auth = hidden_value(&page, "authorisationId").unwrap();
    // Wrong person: refused, nothing changes.
    let r = bank
        .client
        .post(bank.url("/pis/authorize"))
        .form(&[
            ("paymentId", id.as_str()),
            ("authorisationId", auth.as_str()),
            ("psu_id", "john"),
            ("password", "demo"),
            ("decision", "approve"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(
        status(&bank, "sepa-credit-transfers", &id).await["transactionStatus"],
        "RCVD"
    );
    let r = bank
        .client
        .post(bank.url("/pis/authorize"))
        .form(&[
            ("paymentId", id.as_str()),
            ("authorisationId", auth.as_str()),
            ("psu_id", "anna"),
            ("password", "demo"),
            ("decision", "approve"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 302);
    assert_eq!(r.headers()["location"], "https://tpp.example/ok");
    assert_eq!(
        status(&bank, "sepa-credit-transfers", &id).await["transactionStatus"],
        "ACTC"
    );
    let sca_status = get_json(
        &bank,
        &format!("/v1/payments/sepa-credit-transfers/{id}/authorisations/{auth}"),
    )
    .await;
    assert_eq!(sca_status["scaStatus"], "finalised");
    let mid = account(&bank, "anna", &anna).await;
    let pending: Vec<&Value> = mid
        .txs
        .iter()
        .filter(|t| t["transactionId"] == format!("pis-{id}").as_str())
        .collect();
    assert_eq!(pending[0]["status"], "pending");

    // Next bank day it is booked.
    let today: chrono::NaiveDate = TODAY.parse().unwrap();
    let next = (today + chrono::Days::new(1)).to_string();
    assert!(
        bank.control("/sandbox/clock", &json!({"today": next}))
            .await
            .status()
            .is_success()
    );
    assert_eq!(
        status(&bank, "sepa-credit-transfers", &id).await["transactionStatus"],
        "ACSC"
    );

    // A second payment, cancelled before SCA: its reservation is released.
    let r = initiate(
        &bank,
        "sepa-credit-transfers",
        &rid(),
        &body(&anna, &payee_iban, "20.00"),
        &[],
    )
    .await;
    let id2 = r.json::<Value>().await.unwrap()["paymentId"]
        .as_str()
        .unwrap()
        .to_owned();
    let held = account(&bank, "anna", &anna).await.available;
    let r = bank
        .client
        .delete(bank.url(&format!("/v1/payments/sepa-credit-transfers/{id2}")))
        .header("X-Request-ID", rid())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    assert_eq!(
        status(&bank, "sepa-credit-transfers", &id2).await["transactionStatus"],
        "CANC"
    );
    assert_eq!(
        account(&bank, "anna", &anna).await.available,
        held + Decimal::new(2000, 2)
    );
    let _ = before;
    ledger_consistent(&bank).await;
}

#[tokio::test]
async fn no_funds_and_rejected_sca_move_nothing() {
    let bank = spawn(9).await;
    let anna = anna_iban(&bank).await;
    let (_, payee_iban) = pln_payee(&bank).await;
    let before = account(&bank, "anna", &anna).await;

    let r = initiate(
        &bank,
        "instant-sepa-credit-transfers",
        &rid(),
        &body(&anna, &payee_iban, "99999999.00"),
        &[],
    )
    .await;
    assert_eq!(r.status(), 201);
    let v: Value = r.json().await.unwrap();
    conforms(&schema("paymentInitationRequestResponse-201"), &v);
    assert_eq!(v["transactionStatus"], "RJCT");
    let id = v["paymentId"].as_str().unwrap();
    let s = status(&bank, "instant-sepa-credit-transfers", id).await;
    assert_eq!(s["fundsAvailable"], false);
    assert!(
        s["tppMessages"][0]["text"]
            .as_str()
            .unwrap()
            .starts_with("AM04")
    );

    let r = initiate(
        &bank,
        "instant-sepa-credit-transfers",
        &rid(),
        &body(&anna, &payee_iban, "10.00"),
        &[("TPP-Decoupled-Preferred", "true"), ("PSU-ID", "anna")],
    )
    .await;
    let id = r.json::<Value>().await.unwrap()["paymentId"]
        .as_str()
        .unwrap()
        .to_owned();
    app_decide_payment(&bank, "anna", &id, "reject").await;
    assert_eq!(
        status(&bank, "instant-sepa-credit-transfers", &id).await["transactionStatus"],
        "RJCT"
    );
    let after = account(&bank, "anna", &anna).await;
    assert_eq!(after.available, before.available);
    assert_eq!(after.booked, before.booked);
    ledger_consistent(&bank).await;
}

#[tokio::test]
async fn bad_payment_requests_get_spec_errors_and_change_nothing() {
    let bank = spawn(10).await;
    let anna = anna_iban(&bank).await;
    let (_, payee_iban) = pln_payee(&bank).await;
    let cases: Vec<(&str, Value, u16, &str)> = vec![
        ("sepa-credit-transfers", json!("nope"), 400, "FORMAT_ERROR"),
        (
            "sepa-credit-transfers",
            body(&anna, &payee_iban, "-5.00"),
            400,
            "FORMAT_ERROR",
        ),
        (
            "sepa-credit-transfers",
            body(&anna, &payee_iban, "1.001"),
            400,
            "FORMAT_ERROR",
        ),
        (
            "sepa-credit-transfers",
            body(&anna, &anna, "1.00"),
            400,
            "PAYMENT_FAILED",
        ),
        (
            "sepa-credit-transfers",
            body("DE89370400440532013000", &payee_iban, "1.00"),
            400,
            "PAYMENT_FAILED",
        ),
        (
            "target-2-payments",
            body(&anna, &payee_iban, "1.00"),
            404,
            "PRODUCT_UNKNOWN",
        ),
    ];
    for (product, b, code, msg) in cases {
        let r = initiate(&bank, product, &rid(), &b, &[]).await;
        assert_eq!(r.status().as_u16(), code, "{b}");
        let v: Value = r.json().await.unwrap();
        assert_eq!(v["tppMessages"][0]["code"], msg, "{b}");
    }
    let r = bank
        .client
        .get(bank.url("/v1/payments/sepa-credit-transfers/nope/status"))
        .header("X-Request-ID", rid())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    let l = ledger_consistent(&bank).await;
    assert_eq!(l["payments"].as_array().unwrap().len(), 0);
}
