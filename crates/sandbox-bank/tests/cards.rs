//! The card extension (README): listing, idempotent block/unblock by X-Request-ID, consent
//! checks, and the control routes that push transactions.

mod common;

use common::*;
use serde_json::{Value, json};

async fn post_card(bank: &Bank, path: &str, consent: &str, request_id: &str) -> reqwest::Response {
    reqwest::Client::new()
        .post(bank.url(path))
        .header("X-Request-ID", request_id)
        .header("Consent-ID", consent)
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn cards_block_idempotently_and_decline_payments() {
    let bank = spawn(7).await;
    let consent = bank
        .decoupled_consent("anna", &all_psd2("2099-01-01", 4))
        .await;
    let accounts: Value = bank
        .ais("/v1/accounts", &consent, None, true)
        .await
        .json()
        .await
        .unwrap();
    let account = accounts["accounts"][0]["resourceId"]
        .as_str()
        .unwrap()
        .to_owned();
    let r = bank
        .ais(
            &format!("/v1/accounts/{account}/cards"),
            &consent,
            None,
            true,
        )
        .await;
    assert_eq!(r.status(), 200);
    let cards: Value = r.json().await.unwrap();
    let card = cards["cards"][0].clone();
    assert_eq!(card["status"], "active");
    assert!(
        card["maskedPan"]
            .as_str()
            .unwrap()
            .starts_with("************")
    );
    let card_id = card["cardId"].as_str().unwrap().to_owned();
    let block = format!("/v1/accounts/{account}/cards/{card_id}/block");
    let unblock = format!("/v1/accounts/{account}/cards/{card_id}/unblock");

    let key = rid();
    for _ in 0..2 {
        let r = post_card(&bank, &block, &consent, &key).await;
        assert_eq!(r.status(), 200);
        let v: Value = r.json().await.unwrap();
        assert_eq!(v["status"], "blocked");
    }
    let truth: Value = reqwest::get(bank.url("/sandbox/customers/anna/cards"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(
        truth["cards"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["cardId"] == card_id.as_str() && c["status"] == "blocked")
    );
    // A blocked card declines new payments.
    let r = bank
        .control(
            "/sandbox/customers/anna/transactions",
            &json!({ "account": account }),
        )
        .await;
    assert_eq!(r.status(), 409);
    // The same key for another action is a conflict and changes nothing.
    expect_error(
        post_card(&bank, &unblock, &consent, &key).await,
        409,
        "STATUS_INVALID",
    )
    .await;
    let r = post_card(&bank, &unblock, &consent, &rid()).await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.json::<Value>().await.unwrap()["status"], "active");
    let r = bank
        .control(
            "/sandbox/customers/anna/transactions",
            &json!({ "account": account, "amount": "12.50" }),
        )
        .await;
    assert_eq!(r.status(), 201);

    // Consent checks as for AIS: unknown card, unknown consent, another customer's consent.
    let ghost = format!("/v1/accounts/{account}/cards/{}/block", rid());
    expect_error(
        post_card(&bank, &ghost, &consent, &rid()).await,
        404,
        "RESOURCE_UNKNOWN",
    )
    .await;
    expect_error(
        post_card(&bank, &block, "nope", &rid()).await,
        403,
        "CONSENT_UNKNOWN",
    )
    .await;
    let johns = bank
        .decoupled_consent("john", &all_psd2("2099-01-01", 4))
        .await;
    expect_error(
        post_card(&bank, &block, &johns, &rid()).await,
        401,
        "CONSENT_INVALID",
    )
    .await;
    let r = post_card(&bank, &block, &consent, "not-a-uuid").await;
    assert_eq!(r.status(), 400);
}

#[tokio::test]
async fn control_pushes_validate_their_input() {
    let bank = spawn(7).await;
    for body in [
        json!({ "count": 0 }),
        json!({ "count": 21 }),
        json!({ "amount": "-5.00" }),
        json!({ "amount": "1.234" }),
        json!({ "amount": 12 }),
    ] {
        let r = bank
            .control("/sandbox/customers/anna/fraud-episode", &body)
            .await;
        assert_eq!(r.status(), 400, "{body}");
    }
    let r = bank
        .control(
            "/sandbox/customers/anna/transactions",
            &json!({ "merchant": "\u{7}" }),
        )
        .await;
    assert_eq!(r.status(), 400);
    let r = bank
        .control("/sandbox/customers/nobody/fraud-episode", &json!({}))
        .await;
    assert_eq!(r.status(), 404);
    let r = bank
        .control(
            "/sandbox/customers/anna/fraud-episode",
            &json!({ "count": 3 }),
        )
        .await;
    assert_eq!(r.status(), 201);
    let ids: Value = r.json().await.unwrap();
    assert_eq!(ids["transactionIds"].as_array().unwrap().len(), 3);
    let truth = bank.truth("anna").await;
    let all = truth["accounts"].to_string();
    for id in ids["transactionIds"].as_array().unwrap() {
        assert!(all.contains(id.as_str().unwrap()));
    }
    assert!(all.contains("PLATNOSC KARTA INTERNET"));
}

async fn report(
    bank: &Bank,
    path: &str,
    consent: &str,
    request_id: &str,
    reason: &str,
) -> reqwest::Response {
    reqwest::Client::new()
        .post(bank.url(path))
        .header("X-Request-ID", request_id)
        .header("Consent-ID", consent)
        .json(&json!({ "reason": reason }))
        .send()
        .await
        .unwrap()
}

/// Report stolen: permanent, idempotent by X-Request-ID, a replacement ordered that declines
/// payments until activated; the stolen card can never be unblocked.
#[tokio::test]
async fn report_stolen_orders_a_replacement_and_is_permanent() {
    let bank = spawn(7).await;
    let consent = bank
        .decoupled_consent("anna", &all_psd2("2099-01-01", 4))
        .await;
    let accounts: Value = bank
        .ais("/v1/accounts", &consent, None, true)
        .await
        .json()
        .await
        .unwrap();
    let account = accounts["accounts"][0]["resourceId"]
        .as_str()
        .unwrap()
        .to_owned();
    let list = format!("/v1/accounts/{account}/cards");
    let cards: Value = bank
        .ais(&list, &consent, None, true)
        .await
        .json()
        .await
        .unwrap();
    let card = &cards["cards"][0];
    assert!(["visa", "mastercard"].contains(&card["brand"].as_str().unwrap()));
    let card_id = card["cardId"].as_str().unwrap().to_owned();
    let path = format!("/v1/accounts/{account}/cards/{card_id}/report-lost");

    // Bad reasons change nothing.
    for reason in ["", "broken", "LOST"] {
        let r = report(&bank, &path, &consent, &rid(), reason).await;
        assert_eq!(r.status(), 400, "{reason}");
    }
    let key = rid();
    let mut replacement = String::new();
    for _ in 0..2 {
        let r = report(&bank, &path, &consent, &key, "stolen").await;
        assert_eq!(r.status(), 200);
        let v: Value = r.json().await.unwrap();
        assert_eq!(v["card"]["status"], "stolen");
        assert_eq!(v["replacement"]["status"], "ordered");
        assert_ne!(v["replacement"]["cardId"], card_id.as_str());
        replacement = v["replacement"]["cardId"].as_str().unwrap().to_owned();
    }
    let cards: Value = bank
        .ais(&list, &consent, None, true)
        .await
        .json()
        .await
        .unwrap();
    let statuses: Vec<(String, String)> = cards["cards"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["cardId"].as_str().unwrap().to_owned(),
                c["status"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(
        statuses,
        vec![
            (card_id.clone(), "stolen".to_owned()),
            (replacement.clone(), "ordered".to_owned())
        ]
    );
    // Once reported, never again, never unblocked; the same key for another reason conflicts.
    expect_error(
        report(&bank, &path, &consent, &rid(), "lost").await,
        409,
        "STATUS_INVALID",
    )
    .await;
    expect_error(
        report(&bank, &path, &consent, &key, "lost").await,
        409,
        "STATUS_INVALID",
    )
    .await;
    let unblock = format!("/v1/accounts/{account}/cards/{card_id}/unblock");
    expect_error(
        post_card(&bank, &unblock, &consent, &rid()).await,
        409,
        "STATUS_INVALID",
    )
    .await;
    // No active card: payments are declined until the replacement is activated.
    let r = bank
        .control(
            "/sandbox/customers/anna/transactions",
            &json!({ "account": account }),
        )
        .await;
    assert_eq!(r.status(), 409);
    let r = bank
        .control(
            &format!("/sandbox/customers/anna/cards/{replacement}/activate"),
            &json!({}),
        )
        .await;
    assert_eq!(r.status(), 200);
    let r = bank
        .control(
            "/sandbox/customers/anna/transactions",
            &json!({ "account": account, "amount": "9.99" }),
        )
        .await;
    assert_eq!(r.status(), 201);
}
