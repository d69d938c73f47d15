//! Decoupled SCA end to end over real sockets: create → approve in the bank app → valid →
//! accounts → balances → transactions with paging and date filters; every body checked against
//! the spec's schemas.

mod common;

use common::*;
use serde_json::Value;

#[tokio::test]
async fn decoupled_flow_reads_accounts_balances_and_paged_transactions() {
    let bank = spawn(42).await;
    let body = bank_offered("2027-01-31", 4);
    let r = bank
        .create_consent(
            &body,
            &[("TPP-Decoupled-Preferred", "true"), ("PSU-ID", "anna")],
        )
        .await;
    assert_eq!(r.status(), 201);
    assert_eq!(r.headers()["aspsp-sca-approach"], "DECOUPLED");
    let created: Value = r.json().await.unwrap();
    conforms(&schema("consentsResponse-201"), &created);
    assert_eq!(created["consentStatus"], "received");
    assert_eq!(created["scaStatus"], "started");
    let id = created["consentId"].as_str().unwrap().to_owned();
    let sca_url = created["_links"]["scaStatus"]["href"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(sca_url.starts_with(&bank.base));

    // Not valid yet: AIS is refused.
    expect_error(
        bank.ais("/v1/accounts", &id, None, true).await,
        401,
        "CONSENT_INVALID",
    )
    .await;

    // The bank app shows the request with what is shared, in Polish by default.
    let page = bank.app_login("anna").await;
    assert!(page.contains("Prośby o dostęp"));
    assert!(page.contains("Konto osobiste"));
    assert!(page.contains("do 4 razy dziennie"));
    assert!(page.contains("31.01.2027"));
    let bad = bank
        .client
        .post(bank.url("/app/login"))
        .form(&[("psu_id", "anna"), ("password", "nope"), ("lang", "en")])
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(bad.contains("Wrong customer ID or password"));
    let session = hidden_value(&page, "session").unwrap();
    let r = bank
        .client
        .post(bank.url("/app/decide"))
        .form(&[
            ("session", session.as_str()),
            ("consent_id", id.as_str()),
            ("decision", "approve"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);

    let sca: Value = bank
        .client
        .get(&sca_url)
        .header("X-Request-ID", rid())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    conforms(&schema("scaStatusResponse"), &sca);
    assert_eq!(sca["scaStatus"], "finalised");
    let r = bank
        .client
        .get(bank.url(&format!("/v1/consents/{id}/status")))
        .header("X-Request-ID", rid())
        .send()
        .await
        .unwrap();
    let st: Value = r.json().await.unwrap();
    conforms(&schema("consentStatusResponse-200"), &st);
    assert_eq!(st["consentStatus"], "valid");
    let info: Value = bank
        .client
        .get(bank.url(&format!("/v1/consents/{id}")))
        .header("X-Request-ID", rid())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    conforms(&schema("consentInformationResponse-200_json"), &info);
    assert_eq!(info["access"]["balances"].as_array().unwrap().len(), 2);
    let auths: Value = bank
        .client
        .get(bank.url(&format!("/v1/consents/{id}/authorisations")))
        .header("X-Request-ID", rid())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    conforms(&schema("authorisations"), &auths);

    // Accounts with balances.
    let r = bank
        .ais("/v1/accounts?withBalance=true", &id, None, true)
        .await;
    assert_eq!(r.status(), 200);
    assert!(r.headers().contains_key("x-request-id"));
    let list: Value = r.json().await.unwrap();
    conforms(&schema("accountList"), &list);
    let accounts = list["accounts"].as_array().unwrap();
    assert_eq!(accounts.len(), 2);
    assert_eq!(accounts[0]["name"], "Konto osobiste");
    assert_eq!(accounts[1]["name"], "Konto oszczędnościowe");
    assert!(accounts[0]["iban"].as_str().unwrap().starts_with("PL"));
    let acc = accounts[0]["resourceId"].as_str().unwrap().to_owned();
    let tx_link = accounts[0]["_links"]["transactions"]["href"]
        .as_str()
        .unwrap();
    assert!(tx_link.starts_with(&bank.base));

    let details: Value = bank
        .ais(&format!("/v1/accounts/{acc}"), &id, None, true)
        .await
        .json()
        .await
        .unwrap();
    conforms(
        "#/components/responses/OK_200_AccountDetails/content/application~1json/schema",
        &details,
    );

    let bal: Value = bank
        .ais(&format!("/v1/accounts/{acc}/balances"), &id, None, true)
        .await
        .json()
        .await
        .unwrap();
    conforms(&schema("readAccountBalanceResponse-200"), &bal);
    let types: Vec<&str> = bal["balances"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["balanceType"].as_str().unwrap())
        .collect();
    assert_eq!(types, ["closingBooked", "interimAvailable"]);

    // Full history, followed page by page through _links.next.
    let mut url = format!("/v1/accounts/{acc}/transactions?bookingStatus=both");
    let (mut booked, mut pending, mut pages) = (Vec::new(), Vec::new(), 0);
    loop {
        let r = bank.ais(&url, &id, None, true).await;
        assert_eq!(r.status(), 200);
        let v: Value = r.json().await.unwrap();
        conforms(&schema("transactionsResponse-200_json"), &v);
        let report = &v["transactions"];
        let n = report["booked"].as_array().unwrap().len()
            + report["pending"].as_array().unwrap().len();
        assert!(n <= 100);
        booked.extend(report["booked"].as_array().unwrap().iter().cloned());
        pending.extend(report["pending"].as_array().unwrap().iter().cloned());
        pages += 1;
        match report["_links"]["next"]["href"].as_str() {
            Some(next) => url = next.to_owned(),
            None => break,
        }
    }
    assert!(pages > 5, "two years of history spans many pages");
    let truth = bank.truth("anna").await;
    let all = truth["accounts"][0]["transactions"].as_array().unwrap();
    assert_eq!(booked.len() + pending.len(), all.len());
    assert!(!pending.is_empty(), "recent entries are pending");
    for p in &pending {
        assert!(p.get("bookingDate").is_none());
        assert!(p["valueDate"].as_str().unwrap() >= "2026-10-12");
    }
    assert!(booked.len() > 730, "a few transactions a day for two years");
    let descs: Vec<&str> = booked
        .iter()
        .filter_map(|t| t["remittanceInformationUnstructured"].as_str())
        .collect();
    assert!(
        descs
            .iter()
            .any(|d| d.starts_with("PLATNOSC KARTA") && d.contains(" PLN "))
    );

    // Date filter: booked items inside the inclusive range only.
    let r = bank
        .ais(
            &format!("/v1/accounts/{acc}/transactions?bookingStatus=booked&dateFrom=2026-09-01&dateTo=2026-09-30"),
            &id,
            None,
            true,
        )
        .await;
    let v: Value = r.json().await.unwrap();
    conforms(&schema("transactionsResponse-200_json"), &v);
    assert!(v["transactions"].get("pending").is_none());
    let sept = v["transactions"]["booked"].as_array().unwrap();
    assert!(!sept.is_empty());
    for t in sept {
        let d = t["bookingDate"].as_str().unwrap();
        assert!(("2026-09-01"..="2026-09-30").contains(&d), "{d}");
    }
    let expected = all
        .iter()
        .filter(|t| t["status"] == "booked")
        .filter(|t| ("2026-09-01"..="2026-09-30").contains(&t["bookingDate"].as_str().unwrap()))
        .count();
    assert_eq!(sept.len(), expected);
    assert!(
        sept.iter()
            .any(|t| t["debtorName"] == "ACME Polska Sp. z o.o."),
        "salary in September"
    );

    // Transaction details.
    let tid = sept[0]["transactionId"].as_str().unwrap();
    let d: Value = bank
        .ais(
            &format!("/v1/accounts/{acc}/transactions/{tid}"),
            &id,
            None,
            true,
        )
        .await
        .json()
        .await
        .unwrap();
    conforms(
        "#/components/responses/OK_200_TransactionDetails/content/application~1json/schema",
        &d,
    );
    assert_eq!(d["transactionsDetails"]["transactionId"], tid);

    // The customer revokes in the app: revokedByPsu, and AIS stops.
    let page = bank.app_login("anna").await;
    let session = hidden_value(&page, "session").unwrap();
    bank.client
        .post(bank.url("/app/decide"))
        .form(&[
            ("session", session.as_str()),
            ("consent_id", id.as_str()),
            ("decision", "revoke"),
        ])
        .send()
        .await
        .unwrap();
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
    assert_eq!(st["consentStatus"], "revokedByPsu");
    expect_error(
        bank.ais("/v1/accounts", &id, None, true).await,
        401,
        "CONSENT_INVALID",
    )
    .await;
}

#[tokio::test]
async fn decoupled_without_psu_id_starts_with_an_authorisation_and_can_be_rejected() {
    let bank = spawn(42).await;
    let r = bank
        .create_consent(
            &all_psd2("2026-12-31", 4),
            &[("TPP-Decoupled-Preferred", "true")],
        )
        .await;
    let v: Value = r.json().await.unwrap();
    conforms(&schema("consentsResponse-201"), &v);
    let start = v["_links"]["startAuthorisationWithPsuIdentification"]["href"]
        .as_str()
        .unwrap()
        .to_owned();
    let id = v["consentId"].as_str().unwrap().to_owned();
    let r = bank
        .client
        .post(&start)
        .header("X-Request-ID", rid())
        .header("PSU-ID", "john")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let s: Value = r.json().await.unwrap();
    conforms(&schema("startScaprocessResponse"), &s);
    let page = bank
        .client
        .post(bank.url("/app/login"))
        .form(&[("psu_id", "john"), ("password", "demo"), ("lang", "en")])
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("Checking"));
    assert!(page.contains("up to 4 times a day"));
    let session = hidden_value(&page, "session").unwrap();
    bank.client
        .post(bank.url("/app/decide"))
        .form(&[
            ("session", session.as_str()),
            ("consent_id", id.as_str()),
            ("decision", "reject"),
        ])
        .send()
        .await
        .unwrap();
    let sca: Value = bank
        .client
        .get(s["_links"]["scaStatus"]["href"].as_str().unwrap())
        .header("X-Request-ID", rid())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(sca["scaStatus"], "failed");
    let r = bank
        .client
        .get(bank.url(&format!("/v1/consents/{id}/status")))
        .header("X-Request-ID", rid())
        .send()
        .await
        .unwrap();
    let st: Value = r.json().await.unwrap();
    assert_eq!(st["consentStatus"], "rejected");
}
