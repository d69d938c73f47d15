//! The books: balances agree with transactions, pending entries book later (sometimes with a new
//! id or a changed amount), and the same (seed, today) gives byte-identical responses.

mod common;

use chrono::NaiveDate;
use common::*;
use rust_decimal::Decimal;
use serde_json::{Value, json};

fn dec(v: &Value) -> Decimal {
    v.as_str().unwrap().parse().unwrap()
}

#[tokio::test]
async fn balances_equal_opening_plus_transactions() {
    let bank = spawn(11).await;
    for psu in ["anna", "john", "cust00003", "cust00017"] {
        let t = bank.truth(psu).await;
        for acc in t["accounts"].as_array().unwrap() {
            let mut booked = dec(&acc["openingBalance"]["amount"]);
            let mut pending = Decimal::ZERO;
            for tx in acc["transactions"].as_array().unwrap() {
                if tx["status"] == "booked" {
                    booked += dec(&tx["amount"]);
                } else {
                    pending += dec(&tx["amount"]);
                }
            }
            assert_eq!(dec(&acc["balances"]["closingBooked"]), booked, "{psu}");
            assert_eq!(
                dec(&acc["balances"]["interimAvailable"]),
                booked + pending,
                "{psu}"
            );
            let iban: okienko_core::Iban = acc["iban"].as_str().unwrap().parse().unwrap();
            assert_eq!(
                iban.country(),
                if acc["currency"] == "PLN" { "PL" } else { "GB" }
            );
        }
    }
    // And the AIS balances say the same.
    let id = bank
        .decoupled_consent("anna", &all_psd2("2026-12-31", 4))
        .await;
    let t = bank.truth("anna").await;
    let acc = &t["accounts"][0];
    let b: Value = bank
        .ais(
            &format!(
                "/v1/accounts/{}/balances",
                acc["resourceId"].as_str().unwrap()
            ),
            &id,
            None,
            true,
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        b["balances"][0]["balanceAmount"]["amount"],
        acc["balances"]["closingBooked"]
    );
    assert_eq!(
        b["balances"][1]["balanceAmount"]["amount"],
        acc["balances"]["interimAvailable"]
    );
}

#[tokio::test]
async fn pending_entries_book_later_sometimes_with_new_ids_and_amounts() {
    let bank = spawn(12).await;
    let before = bank.truth("anna").await;
    let pending: Vec<Value> = before["accounts"][0]["transactions"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|t| t["status"] == "pending")
        .cloned()
        .collect();
    assert!(!pending.is_empty());
    for p in &pending {
        assert!(p["entryDate"].as_str().unwrap() >= "2026-10-12");
    }
    bank.control("/sandbox/clock", &json!({"today": "2026-10-20"}))
        .await;
    let after = bank.truth("anna").await;
    let txs = after["accounts"][0]["transactions"].as_array().unwrap();
    for p in &pending {
        let booked = txs
            .iter()
            .find(|t| t["pendingTransactionId"] == p["transactionId"])
            .expect("every pending entry books");
        assert_eq!(booked["status"], "booked");
    }
    // Across the whole history: about half keep their id, some change amount.
    let all: Vec<&Value> = txs.iter().filter(|t| t["status"] == "booked").collect();
    let new_id = all
        .iter()
        .filter(|t| t["transactionId"] != t["pendingTransactionId"])
        .count();
    let changed = all
        .iter()
        .filter(|t| t["amount"] != t["pendingAmount"])
        .count();
    let n = all.len();
    assert!(new_id * 10 > n * 3 && new_id * 10 < n * 7, "{new_id}/{n}");
    assert!(
        changed * 100 > n * 5 && changed * 100 < n * 30,
        "{changed}/{n}"
    );
    // Salary and rent recur monthly.
    assert!(
        txs.iter()
            .filter(|t| t["counterparty"] == "ACME Polska Sp. z o.o.")
            .count()
            >= 24
    );
}

#[tokio::test]
async fn same_seed_and_day_give_identical_responses() {
    async fn snapshot(seed: u64) -> (String, String) {
        let bank = spawn(seed).await;
        let truth = bank
            .client
            .get(bank.url("/sandbox/customers/cust00042"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        let id = bank
            .decoupled_consent("anna", &all_psd2("2026-12-31", 4))
            .await;
        let t: Value = bank.truth("anna").await;
        let acc = t["accounts"][0]["resourceId"].as_str().unwrap().to_owned();
        let page = bank
            .ais(
                &format!("/v1/accounts/{acc}/transactions?bookingStatus=both&dateFrom=2026-01-01"),
                &id,
                None,
                true,
            )
            .await
            .text()
            .await
            .unwrap();
        (truth, page.replace(&bank.base, "BASE"))
    }
    let a = snapshot(99).await;
    let b = snapshot(99).await;
    assert_eq!(a, b);
    let c = snapshot(100).await;
    assert_ne!(a.0, c.0);
}

#[tokio::test]
async fn demo_logins_and_unknown_customers() {
    let bank = okienko_sandbox_bank::SandboxBank::new(okienko_sandbox_bank::SandboxConfig {
        customers: 10_000,
        seed: 5,
        today: TODAY.parse().unwrap(),
        control_api: false,
    });
    let logins = bank.demo_logins();
    assert_eq!(logins.len(), 10_000);
    assert_eq!(logins[0].psu_id, "anna");
    assert_eq!(logins[0].name, "Anna Kowalska");
    assert_eq!(logins[1].psu_id, "john");
    assert_eq!(logins[1].currency, okienko_core::Currency::USD);
    assert_eq!(logins[2].psu_id, "cust00003");
    assert!(logins.iter().all(|l| l.password == "demo"));

    // Without the control API, /sandbox/* does not exist.
    let server = spawn(5).await;
    assert_eq!(
        server
            .client
            .get(server.url("/sandbox/customers/nobody"))
            .send()
            .await
            .unwrap()
            .status(),
        404
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(bank.serve(listener, std::future::pending()));
    let r = server
        .client
        .get(format!("http://{addr}/sandbox/customers/anna"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
}

/// Customers live within their means: two years of history do not leave the everyday account
/// deep in the red, and savings only grow.
#[tokio::test]
async fn balances_stay_realistic_over_two_years() {
    let bank = common::spawn_with(7, NaiveDate::from_ymd_opt(2026, 11, 30).unwrap()).await;
    let mut negative = 0;
    for psu in [
        "anna",
        "john",
        "cust00003",
        "cust00004",
        "cust00005",
        "cust00006",
    ] {
        let t = bank.truth(psu).await;
        for a in t["accounts"].as_array().unwrap() {
            let opening: Decimal = a["openingBalance"]["amount"]
                .as_str()
                .unwrap()
                .parse()
                .unwrap();
            let now: Decimal = a["balances"]["interimAvailable"]
                .as_str()
                .unwrap()
                .parse()
                .unwrap();
            if now < Decimal::ZERO {
                negative += 1;
            }
            assert!(
                now > -opening,
                "{psu}: balance fell further below zero than the opening balance"
            );
        }
        if psu == "anna" {
            let main: Decimal = t["accounts"][0]["balances"]["interimAvailable"]
                .as_str()
                .unwrap()
                .parse()
                .unwrap();
            assert!(main > Decimal::ZERO, "the demo persona should be in credit");
        }
    }
    assert!(negative <= 1, "{negative} accounts are overdrawn");
}
