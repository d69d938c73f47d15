//! Error behaviour over real sockets: FORMAT_ERROR, CONSENT_UNKNOWN, CONSENT_EXPIRED after the
//! bank's clock moves, ACCESS_EXCEEDED on the 5th unattended call, account errors, faults.

mod common;

use common::*;
use serde_json::{Value, json};

#[tokio::test]
async fn format_errors_and_request_id() {
    let bank = spawn(1).await;
    // Missing and invalid X-Request-ID.
    let r = bank
        .client
        .get(bank.url("/v1/accounts"))
        .header("Consent-ID", "x")
        .send()
        .await
        .unwrap();
    expect_error(r, 400, "FORMAT_ERROR").await;
    let r = bank
        .client
        .get(bank.url("/v1/accounts"))
        .header("X-Request-ID", "not-a-uuid")
        .header("Consent-ID", "x")
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers()["x-request-id"], "not-a-uuid");
    expect_error(r, 400, "FORMAT_ERROR").await;
    // Echo on success paths too.
    let id = rid();
    let r = bank
        .client
        .get(bank.url("/v1/consents/unknown/status"))
        .header("X-Request-ID", &id)
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers()["x-request-id"], id.as_str());
    expect_error(r, 403, "CONSENT_UNKNOWN").await;
    // Consent bodies.
    for body in [
        json!("nope"),
        json!({"access": {}, "recurringIndicator": true, "validUntil": "2026-12-01", "frequencyPerDay": 4, "combinedServiceIndicator": false}),
        json!({"access": {"allPsd2": "allAccounts"}, "recurringIndicator": "yes", "validUntil": "2026-12-01", "frequencyPerDay": 4, "combinedServiceIndicator": false}),
        json!({"access": {"allPsd2": "allAccounts"}, "recurringIndicator": true, "validUntil": "31.12.2026", "frequencyPerDay": 4, "combinedServiceIndicator": false}),
        json!({"access": {"allPsd2": "allAccounts"}, "recurringIndicator": true, "validUntil": "2026-12-01", "frequencyPerDay": 0, "combinedServiceIndicator": false}),
        json!({"access": {"balances": [{"iban": "PL00123"}]}, "recurringIndicator": true, "validUntil": "2026-12-01", "frequencyPerDay": 4, "combinedServiceIndicator": false}),
    ] {
        expect_error(bank.create_consent(&body, &[]).await, 400, "FORMAT_ERROR").await;
    }
    let r = bank
        .client
        .post(bank.url("/v1/consents"))
        .header("X-Request-ID", rid())
        .header("PSU-IP-Address", "10.0.0.1")
        .body("{not json")
        .send()
        .await
        .unwrap();
    expect_error(r, 400, "FORMAT_ERROR").await;
    // PSU-IP-Address is mandatory on consent creation.
    let r = bank
        .client
        .post(bank.url("/v1/consents"))
        .header("X-Request-ID", rid())
        .json(&all_psd2("2026-12-01", 4))
        .send()
        .await
        .unwrap();
    expect_error(r, 400, "FORMAT_ERROR").await;
    // A past validUntil.
    expect_error(
        bank.create_consent(&all_psd2("2020-01-01", 4), &[]).await,
        401,
        "CONSENT_EXPIRED",
    )
    .await;
    // validUntil is clamped to 180 days and frequencyPerDay to 4.
    let v: Value = bank
        .create_consent(&all_psd2("9999-12-31", 30), &[])
        .await
        .json()
        .await
        .unwrap();
    let info: Value = bank
        .client
        .get(bank.url(&format!(
            "/v1/consents/{}",
            v["consentId"].as_str().unwrap()
        )))
        .header("X-Request-ID", rid())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    conforms(&schema("consentInformationResponse-200_json"), &info);
    assert_eq!(info["validUntil"], "2027-04-13");
    assert_eq!(info["frequencyPerDay"], 4);
    // Embedded SCA is refused with a spec-shaped error.
    let auths = format!(
        "/v1/consents/{}/authorisations/x",
        v["consentId"].as_str().unwrap()
    );
    let r = bank
        .client
        .put(bank.url(&auths))
        .header("X-Request-ID", rid())
        .json(&json!({"psuData": {"password": "demo"}}))
        .send()
        .await
        .unwrap();
    expect_error(r, 405, "SERVICE_INVALID").await;
}

#[tokio::test]
async fn ais_errors() {
    let bank = spawn(1).await;
    expect_error(
        bank.ais("/v1/accounts", "no-such-consent", None, false)
            .await,
        403,
        "CONSENT_UNKNOWN",
    )
    .await;
    let r = bank
        .client
        .get(bank.url("/v1/accounts"))
        .header("X-Request-ID", rid())
        .send()
        .await
        .unwrap();
    expect_error(r, 400, "FORMAT_ERROR").await;

    let anna = bank
        .decoupled_consent("anna", &all_psd2("2026-12-31", 4))
        .await;
    let list: Value = bank
        .ais("/v1/accounts", &anna, None, true)
        .await
        .json()
        .await
        .unwrap();
    let acc = list["accounts"][0]["resourceId"]
        .as_str()
        .unwrap()
        .to_owned();
    let john = bank
        .decoupled_consent("john", &all_psd2("2026-12-31", 4))
        .await;
    let jl: Value = bank
        .ais("/v1/accounts", &john, None, true)
        .await
        .json()
        .await
        .unwrap();
    let john_acc = jl["accounts"][0]["resourceId"].as_str().unwrap().to_owned();
    assert_eq!(jl["accounts"][0]["currency"], "USD");

    let tx = |q: &str| format!("/v1/accounts/{acc}/transactions{q}");
    expect_error(
        bank.ais(&tx(""), &anna, None, true).await,
        400,
        "FORMAT_ERROR",
    )
    .await;
    expect_error(
        bank.ais(&tx("?bookingStatus=information"), &anna, None, true)
            .await,
        400,
        "PARAMETER_NOT_SUPPORTED",
    )
    .await;
    expect_error(
        bank.ais(
            &tx("?bookingStatus=booked&dateFrom=2026-13-01"),
            &anna,
            None,
            true,
        )
        .await,
        400,
        "FORMAT_ERROR",
    )
    .await;
    expect_error(
        bank.ais(
            &tx("?bookingStatus=booked&dateFrom=2026-10-10&dateTo=2026-10-01"),
            &anna,
            None,
            true,
        )
        .await,
        400,
        "PERIOD_INVALID",
    )
    .await;
    expect_error(
        bank.ais(&tx("?bookingStatus=booked&pageIndex=-1"), &anna, None, true)
            .await,
        400,
        "FORMAT_ERROR",
    )
    .await;
    expect_error(
        bank.ais(
            &tx("?bookingStatus=booked&pageIndex=99999"),
            &anna,
            None,
            true,
        )
        .await,
        400,
        "FORMAT_ERROR",
    )
    .await;
    expect_error(
        bank.ais(
            &format!("/v1/accounts/{acc}/transactions/nope"),
            &anna,
            None,
            true,
        )
        .await,
        404,
        "RESOURCE_UNKNOWN",
    )
    .await;
    // Unknown account vs. someone else's account.
    expect_error(
        bank.ais(
            &format!("/v1/accounts/{}/balances", uuid::Uuid::new_v4()),
            &anna,
            None,
            true,
        )
        .await,
        404,
        "RESOURCE_UNKNOWN",
    )
    .await;
    expect_error(
        bank.ais("/v1/accounts/%3Cscript%3E/balances", &anna, None, true)
            .await,
        404,
        "RESOURCE_UNKNOWN",
    )
    .await;
    expect_error(
        bank.ais(
            &format!("/v1/accounts/{john_acc}/balances"),
            &anna,
            None,
            true,
        )
        .await,
        401,
        "CONSENT_INVALID",
    )
    .await;

    // Account-list-only consent cannot read balances.
    let only = bank
        .decoupled_consent(
            "anna",
            &json!({
        "access": {"availableAccounts": "allAccounts"}, "recurringIndicator": false,
        "validUntil": "2026-10-15", "frequencyPerDay": 1, "combinedServiceIndicator": false}),
        )
        .await;
    expect_error(
        bank.ais(&format!("/v1/accounts/{acc}/balances"), &only, None, true)
            .await,
        401,
        "CONSENT_INVALID",
    )
    .await;
    expect_error(
        bank.ais("/v1/accounts?withBalance=true", &only, None, true)
            .await,
        401,
        "CONSENT_INVALID",
    )
    .await;
    assert_eq!(
        bank.ais("/v1/accounts", &only, None, true).await.status(),
        200
    );

    // Explicit IBAN consent: only the named account.
    let iban = list["accounts"][1]["iban"].as_str().unwrap();
    let named = bank
        .decoupled_consent(
            "anna",
            &json!({
        "access": {"balances": [{"iban": iban}]}, "recurringIndicator": true,
        "validUntil": "2026-12-31", "frequencyPerDay": 4, "combinedServiceIndicator": false}),
        )
        .await;
    let nl: Value = bank
        .ais("/v1/accounts", &named, None, true)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(nl["accounts"].as_array().unwrap().len(), 1);
    expect_error(
        bank.ais(&format!("/v1/accounts/{acc}/balances"), &named, None, true)
            .await,
        401,
        "CONSENT_INVALID",
    )
    .await;
}

#[tokio::test]
async fn frequency_per_day_counts_unattended_calls_only() {
    let bank = spawn(2).await;
    let id = bank
        .decoupled_consent("anna", &all_psd2("2026-12-31", 4))
        .await;
    let list: Value = bank
        .ais("/v1/accounts", &id, None, true)
        .await
        .json()
        .await
        .unwrap();
    let acc = list["accounts"][0]["resourceId"]
        .as_str()
        .unwrap()
        .to_owned();
    let path = format!("/v1/accounts/{acc}/balances");
    for _ in 0..4 {
        assert_eq!(bank.ais(&path, &id, None, false).await.status(), 200);
    }
    expect_error(
        bank.ais(&path, &id, None, false).await,
        429,
        "ACCESS_EXCEEDED",
    )
    .await;
    // The customer present is never limited.
    assert_eq!(bank.ais(&path, &id, None, true).await.status(), 200);
    // A new bank day resets the count.
    bank.control("/sandbox/clock", &json!({"today": "2026-10-16"}))
        .await;
    assert_eq!(bank.ais(&path, &id, None, false).await.status(), 200);
}

#[tokio::test]
async fn consents_expire_with_the_bank_clock_and_by_control() {
    let bank = spawn(3).await;
    let id = bank
        .decoupled_consent("anna", &all_psd2("2026-10-20", 4))
        .await;
    assert_eq!(
        bank.ais("/v1/accounts", &id, None, true).await.status(),
        200
    );
    let r = bank
        .control("/sandbox/clock", &json!({"today": "2026-10-21"}))
        .await;
    assert_eq!(r.status(), 200);
    expect_error(
        bank.ais("/v1/accounts", &id, None, true).await,
        401,
        "CONSENT_EXPIRED",
    )
    .await;
    let st: Value = bank
        .client
        .get(bank.url(&format!("/v1/consents/{id}/status")))
        .header("X-Request-ID", rid())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(st["consentStatus"], "expired");

    let id2 = bank
        .decoupled_consent("john", &all_psd2("2026-12-31", 4))
        .await;
    assert_eq!(
        bank.control(&format!("/sandbox/consents/{id2}/expire"), &json!({}))
            .await
            .status(),
        204
    );
    expect_error(
        bank.ais("/v1/accounts", &id2, None, true).await,
        401,
        "CONSENT_EXPIRED",
    )
    .await;
}

#[tokio::test]
async fn faults_affect_accounts_only_and_run_out() {
    let bank = spawn(4).await;
    let id = bank
        .decoupled_consent("anna", &all_psd2("2026-12-31", 4))
        .await;
    bank.control(
        "/sandbox/faults",
        &json!({"mode": "unavailable", "count": 2}),
    )
    .await;
    assert_eq!(
        bank.ais("/v1/accounts", &id, None, true).await.status(),
        503
    );
    // Consent endpoints are not affected.
    let r = bank
        .client
        .get(bank.url(&format!("/v1/consents/{id}/status")))
        .header("X-Request-ID", rid())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(
        bank.ais("/v1/accounts", &id, None, true).await.status(),
        503
    );
    assert_eq!(
        bank.ais("/v1/accounts", &id, None, true).await.status(),
        200
    );

    bank.control("/sandbox/faults", &json!({"mode": "malformed_json"}))
        .await;
    let r = bank.ais("/v1/accounts", &id, None, true).await;
    assert_eq!(r.status(), 200);
    let text = r.text().await.unwrap();
    assert!(serde_json::from_str::<Value>(&text).is_err());
    assert!(text.starts_with("{\"accounts\""));
    bank.control("/sandbox/faults", &json!({"mode": "none"}))
        .await;
    assert!(
        bank.ais("/v1/accounts", &id, None, true)
            .await
            .json::<Value>()
            .await
            .is_ok()
    );
}

#[test]
#[should_panic]
fn the_conformance_check_catches_a_bad_body() {
    conforms(
        &schema("accountList"),
        &json!({"accounts": [{"currency": "zloty"}]}),
    );
}
