//! The control API's bookings (README, "Control API additions"): an incoming credit and a
//! merchant's debit on any day of the history are posted on the double-entry ledger, show in the
//! account's AIS transactions (spec-shaped, in date order) and balances, and bad input is refused
//! and changes nothing.

mod common;

use common::*;
use rust_decimal::Decimal;
use serde_json::{Value, json};

fn dec(v: &Value) -> Decimal {
    v.as_str().unwrap().parse().unwrap()
}

async fn ledger(bank: &Bank) -> Value {
    bank.client
        .get(bank.url("/sandbox/ledger"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

#[tokio::test]
async fn credits_and_debits_are_booked_on_the_ledger_and_show_in_ais() {
    let bank = spawn(7).await;
    let consent = bank
        .decoupled_consent("anna", &all_psd2("2099-01-01", 4))
        .await;
    let before = bank.truth("anna").await;
    let acc = before["accounts"][0]["resourceId"]
        .as_str()
        .unwrap()
        .to_owned();
    let booked_before = dec(&before["accounts"][0]["balances"]["closingBooked"]);

    // A salary today, and a subscription charge a month ago (before the consent's first read).
    let r = bank
        .control(
            "/sandbox/customers/anna/bookings",
            &json!({ "type": "credit", "amount": "6500.00", "counterparty": "ACME SP Z O O",
                     "counterpartyIban": "PL61109010140000071219812874",
                     "remittance": "WYNAGRODZENIE 09/2026" }),
        )
        .await;
    assert_eq!(r.status(), 201);
    let salary: Value = r.json().await.unwrap();
    assert_eq!(salary["bookingDate"], TODAY);
    let salary_id = salary["transactionId"].as_str().unwrap().to_owned();
    let r = bank
        .control(
            "/sandbox/customers/anna/bookings",
            &json!({ "type": "debit", "amount": "43.00", "counterparty": "DISNEY PLUS",
                     "date": "2026-09-15", "account": acc }),
        )
        .await;
    assert_eq!(r.status(), 201);
    let charge: Value = r.json().await.unwrap();
    let charge_id = charge["transactionId"].as_str().unwrap().to_owned();
    assert_ne!(salary_id, charge_id);

    // AIS: both booked, the credit with its debtor, the debit (entered weeks ago) with its
    // creditor and the bank's description.
    let r = bank
        .ais(
            &format!("/v1/accounts/{acc}/transactions?bookingStatus=both&dateFrom=2026-09-01&itemsPerPage=1000"),
            &consent,
            None,
            true,
        )
        .await;
    assert_eq!(r.status(), 200);
    let page: Value = r.json().await.unwrap();
    conforms(&schema("transactionsResponse-200_json"), &page);
    let booked = page["transactions"]["booked"].as_array().unwrap();
    let find = |id: &str| {
        booked
            .iter()
            .find(|t| t["transactionId"] == id)
            .unwrap_or_else(|| panic!("{id} not in {page}"))
            .clone()
    };
    let s = find(&salary_id);
    assert_eq!(s["transactionAmount"]["amount"], "6500.00");
    assert_eq!(s["transactionAmount"]["currency"], "PLN");
    assert_eq!(s["debtorName"], "ACME SP Z O O");
    assert_eq!(s["debtorAccount"]["iban"], "PL61109010140000071219812874");
    assert_eq!(
        s["remittanceInformationUnstructured"],
        "WYNAGRODZENIE 09/2026"
    );
    assert_eq!(s["bookingDate"], TODAY);
    let d = find(&charge_id);
    assert_eq!(d["transactionAmount"]["amount"], "-43.00");
    assert_eq!(d["creditorName"], "DISNEY PLUS");
    assert_eq!(d["bookingDate"], "2026-09-15");
    assert_eq!(
        d["remittanceInformationUnstructured"],
        "PLATNOSC KARTA 43,00 PLN DISNEY PLUS"
    );
    // Balances move by exactly the two bookings; the ledger still balances.
    let after = bank.truth("anna").await;
    assert_eq!(
        dec(&after["accounts"][0]["balances"]["closingBooked"]),
        booked_before + Decimal::new(650_000, 2) - Decimal::new(4_300, 2)
    );
    let l = ledger(&bank).await;
    assert_eq!(l["consistent"], true, "{l}");
    let world = l["accounts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["key"] == "internal:world:PLN")
        .unwrap()
        .clone();
    assert!(dec(&world["debitsPosted"]) >= Decimal::new(650_000, 2));
}

#[tokio::test]
async fn bad_bookings_are_refused_and_change_nothing() {
    let bank = spawn(7).await;
    let before = bank.truth("anna").await;
    for body in [
        json!({ "type": "gift", "amount": "10.00", "counterparty": "X" }),
        json!({ "amount": "10.00", "counterparty": "X" }),
        json!({ "type": "credit", "amount": "-10.00", "counterparty": "X" }),
        json!({ "type": "credit", "amount": "1.234", "counterparty": "X" }),
        json!({ "type": "credit", "amount": 10, "counterparty": "X" }),
        json!({ "type": "credit", "amount": "10.00" }),
        json!({ "type": "credit", "amount": "10.00", "counterparty": "" }),
        json!({ "type": "credit", "amount": "10.00", "counterparty": "A\u{7}" }),
        json!({ "type": "credit", "amount": "10.00", "counterparty": "X", "counterpartyIban": "PL00" }),
        json!({ "type": "credit", "amount": "10.00", "counterparty": "X", "date": "2099-01-01" }),
        json!({ "type": "credit", "amount": "10.00", "counterparty": "X", "date": "1999-01-01" }),
        json!({ "type": "credit", "amount": "10.00", "counterparty": "X", "date": "15.10.2026" }),
        json!([1, 2]),
    ] {
        let r = bank
            .control("/sandbox/customers/anna/bookings", &body)
            .await;
        assert_eq!(r.status(), 400, "{body}");
        let v: Value = r.json().await.unwrap();
        assert_eq!(v["tppMessages"][0]["code"], "FORMAT_ERROR", "{body}");
    }
    let r = bank
        .control(
            "/sandbox/customers/anna/bookings",
            &json!({ "type": "credit", "amount": "10.00", "counterparty": "X", "account": "nope" }),
        )
        .await;
    assert_eq!(r.status(), 404);
    let r = bank
        .control(
            "/sandbox/customers/nobody/bookings",
            &json!({ "type": "credit", "amount": "10.00", "counterparty": "X" }),
        )
        .await;
    assert_eq!(r.status(), 404);
    // A debit the account cannot cover is declined.
    let r = bank
        .control(
            "/sandbox/customers/anna/bookings",
            &json!({ "type": "debit", "amount": "9999999.00", "counterparty": "YACHTS" }),
        )
        .await;
    assert_eq!(r.status(), 409);
    assert_eq!(bank.truth("anna").await, before);
    assert_eq!(ledger(&bank).await["consistent"], true);
}
