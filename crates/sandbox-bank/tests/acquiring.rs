//! Card charges at the acquiring endpoint are on the cardholder's statement: an approved charge
//! is a booked AIS transaction (code CARD, the merchant as creditor, the amount negative) and
//! moves the balances by exactly its amount; a retry under the same X-Request-ID adds nothing,
//! and a declined charge shows nowhere.

mod common;

use common::*;
use rust_decimal::Decimal;
use serde_json::{Value, json};

fn dec(v: &Value) -> Decimal {
    v.as_str().unwrap().parse().unwrap()
}

#[tokio::test]
async fn an_approved_card_charge_is_in_the_payers_ais_transactions_and_balances() {
    let bank = spawn(7).await;
    let consent = bank
        .decoupled_consent("anna", &all_psd2("2099-01-01", 4))
        .await;
    let details: Value = bank
        .client
        .get(bank.url("/sandbox/customers/anna/card-details"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let card = details["cards"][0].clone();
    let acc = card["accountId"].as_str().unwrap().to_owned();
    let (m, y) = card["expiry"].as_str().unwrap().split_once('/').unwrap();
    let body = |amount: &str, merchant: &str| {
        json!({
            "pan": card["pan"], "expiryMonth": m.parse::<u32>().unwrap(),
            "expiryYear": 2000 + y.parse::<u32>().unwrap(),
            "amount": amount, "currency": "PLN", "merchant": merchant,
        })
    };
    let charge = |rid: String, b: Value| {
        let c = bank.client.clone();
        let url = bank.url("/acquiring/v1/charges");
        async move {
            let r = c
                .post(url)
                .header("x-request-id", rid)
                .json(&b)
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), 200);
            r.json::<Value>().await.unwrap()
        }
    };
    let balance = || async {
        let t = bank.truth("anna").await;
        let a = t["accounts"]
            .as_array()
            .unwrap()
            .iter()
            .find(|a| a["resourceId"] == acc.as_str())
            .unwrap()
            .clone();
        dec(&a["balances"]["closingBooked"])
    };
    let transactions = || async {
        let r = bank
            .ais(
                &format!(
                    "/v1/accounts/{acc}/transactions?bookingStatus=both&dateFrom=2026-10-01&itemsPerPage=1000"
                ),
                &consent,
                None,
                true,
            )
            .await;
        assert_eq!(r.status(), 200);
        let page: Value = r.json().await.unwrap();
        conforms(&schema("transactionsResponse-200_json"), &page);
        page
    };
    let before = balance().await;

    let rid1 = rid();
    let ok = charge(rid1.clone(), body("12.34", "SKLEP DEMO")).await;
    assert_eq!(ok["status"], "approved", "{ok}");
    let charge_id = ok["chargeId"].as_str().unwrap().to_owned();
    // A retry of the same request answers the same and books nothing more.
    assert_eq!(charge(rid1, body("12.34", "SKLEP DEMO")).await, ok);
    // A declined one (wrong expiry) books nothing.
    let mut bad = body("5.00", "ELSEWHERE");
    bad["expiryMonth"] = json!(if m == "01" { 2 } else { 1 });
    assert_eq!(charge(rid(), bad).await["status"], "declined");

    let page = transactions().await;
    let booked = page["transactions"]["booked"].as_array().unwrap();
    let mine: Vec<&Value> = booked
        .iter()
        .filter(|t| t["transactionId"] == format!("card-{charge_id}").as_str())
        .collect();
    assert_eq!(mine.len(), 1, "{page}");
    let t = mine[0];
    assert_eq!(t["transactionAmount"]["amount"], "-12.34");
    assert_eq!(t["transactionAmount"]["currency"], "PLN");
    assert_eq!(t["creditorName"], "SKLEP DEMO");
    assert_eq!(t["proprietaryBankTransactionCode"], "CARD");
    assert_eq!(t["bookingDate"], TODAY);
    assert!(
        !page.to_string().contains("ELSEWHERE"),
        "a declined charge is on the statement"
    );
    assert!(
        !page.to_string().contains(card["pan"].as_str().unwrap()),
        "the statement shows the full card number"
    );
    assert_eq!(balance().await, before - Decimal::new(1234, 2));
    let l: Value = bank
        .client
        .get(bank.url("/sandbox/ledger"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(l["consistent"], true, "{l}");
}
