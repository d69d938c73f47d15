//! OAuth SCA with PKCE over real sockets: metadata → authorize page → form POST → code → token
//! → AIS with bearer; wrong verifier, code reuse, wrong password and rejection.

mod common;

use base64::Engine;
use common::*;
use serde_json::Value;
use sha2::{Digest, Sha256};

const REDIRECT: &str = "http://127.0.0.1:9/callback";

fn challenge(verifier: &str) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

async fn start(bank: &Bank) -> (String, Value, Vec<(String, String)>) {
    let r = bank
        .create_consent(
            &all_psd2("2099-12-31", 4),
            &[("TPP-Redirect-Preferred", "true")],
        )
        .await;
    assert_eq!(r.status(), 201);
    let v: Value = r.json().await.unwrap();
    conforms(&schema("consentsResponse-201"), &v);
    let id = v["consentId"].as_str().unwrap().to_owned();
    let meta_url = v["_links"]["scaOAuth"]["href"].as_str().unwrap();
    let meta: Value = bank
        .client
        .get(meta_url)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(meta["code_challenge_methods_supported"][0], "S256");
    assert_eq!(meta["issuer"], bank.base.as_str());
    let params = vec![
        ("response_type".to_owned(), "code".to_owned()),
        ("client_id".to_owned(), "okienko-test".to_owned()),
        ("redirect_uri".to_owned(), REDIRECT.to_owned()),
        ("state".to_owned(), "xyz<&>".to_owned()),
        (
            "code_challenge".to_owned(),
            challenge("verifier-0123456789-0123456789-0123456789-abc"),
        ),
        ("code_challenge_method".to_owned(), "S256".to_owned()),
        ("scope".to_owned(), format!("AIS:{id}")),
    ];
    (id, meta, params)
}

#[tokio::test]
async fn redirect_flow_with_pkce_and_bearer() {
    let bank = spawn(7).await;
    let (id, meta, params) = start(&bank).await;
    let authz = meta["authorization_endpoint"].as_str().unwrap().to_owned();

    let page = bank
        .client
        .get(&authz)
        .query(&params)
        .query(&[("lang", "en")])
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    assert!(html.contains("Consent to access account information"));
    assert!(html.contains("balances, transaction history"));
    assert!(html.contains("31 Dec 2099") || html.contains("Valid until"));
    assert!(html.contains("xyz&lt;&amp;&gt;"), "state is escaped");
    assert!(!html.contains("xyz<&>"));
    let polish = bank
        .client
        .get(&authz)
        .query(&params)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(polish.contains("Zgoda na dostęp"));

    // Wrong password: the form again, consent unchanged.
    let mut form = params.clone();
    form.push(("psu_id".into(), "anna".into()));
    form.push(("password".into(), "wrong".into()));
    form.push(("decision".into(), "approve".into()));
    let r = bank.client.post(&authz).form(&form).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.text().await.unwrap().contains("class=\"err\""));
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
    assert_eq!(st["consentStatus"], "received");

    // Approve.
    let mut form = params.clone();
    form.push(("psu_id".into(), "anna".into()));
    form.push(("password".into(), "demo".into()));
    form.push(("decision".into(), "approve".into()));
    let r = bank.client.post(&authz).form(&form).send().await.unwrap();
    assert_eq!(r.status(), 302);
    let loc = url::Url::parse(r.headers()["location"].to_str().unwrap()).unwrap();
    assert!(loc.as_str().starts_with(REDIRECT));
    let q: std::collections::HashMap<_, _> = loc.query_pairs().into_owned().collect();
    assert_eq!(q["state"], "xyz<&>");
    let code = q["code"].clone();
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
    assert_eq!(st["consentStatus"], "valid");

    let token_url = meta["token_endpoint"].as_str().unwrap().to_owned();
    let exchange = |verifier: &'static str| {
        let form = vec![
            ("grant_type", "authorization_code".to_owned()),
            ("code", code.clone()),
            ("redirect_uri", REDIRECT.to_owned()),
            ("client_id", "okienko-test".to_owned()),
            ("code_verifier", verifier.to_owned()),
        ];
        bank.client.post(&token_url).form(&form).send()
    };
    let bad = exchange("not-the-verifier-0123456789-0123456789-012345")
        .await
        .unwrap();
    assert_eq!(bad.status(), 400);
    assert_eq!(bad.json::<Value>().await.unwrap()["error"], "invalid_grant");
    let ok = exchange("verifier-0123456789-0123456789-0123456789-abc")
        .await
        .unwrap();
    assert_eq!(ok.status(), 200);
    let tok: Value = ok.json().await.unwrap();
    assert_eq!(tok["token_type"], "Bearer");
    assert!(tok["expires_in"].as_u64().unwrap() > 0);
    let access = tok["access_token"].as_str().unwrap().to_owned();
    let again = exchange("verifier-0123456789-0123456789-0123456789-abc")
        .await
        .unwrap();
    assert_eq!(again.status(), 400, "a code works once");

    // AIS needs the bearer token of this consent.
    expect_error(
        bank.ais("/v1/accounts", &id, None, true).await,
        401,
        "TOKEN_INVALID",
    )
    .await;
    expect_error(
        bank.ais("/v1/accounts", &id, Some("forged"), true).await,
        401,
        "TOKEN_INVALID",
    )
    .await;
    let r = bank.ais("/v1/accounts", &id, Some(&access), true).await;
    assert_eq!(r.status(), 200);
    let list: Value = r.json().await.unwrap();
    conforms(&schema("accountList"), &list);
    assert_eq!(list["accounts"].as_array().unwrap().len(), 2);

    // Refresh keeps unattended access going after the hour.
    let refreshed: Value = bank
        .client
        .post(&token_url)
        .form(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", tok["refresh_token"].as_str().unwrap()),
        ])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let access2 = refreshed["access_token"].as_str().unwrap();
    assert_eq!(
        bank.ais("/v1/accounts", &id, Some(access2), true)
            .await
            .status(),
        200
    );

    // TPP ends it.
    let r = bank
        .client
        .delete(bank.url(&format!("/v1/consents/{id}")))
        .header("X-Request-ID", rid())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    expect_error(
        bank.ais("/v1/accounts", &id, Some(&access), true).await,
        401,
        "CONSENT_INVALID",
    )
    .await;
}

#[tokio::test]
async fn reject_redirects_with_access_denied() {
    let bank = spawn(7).await;
    let (id, meta, mut params) = start(&bank).await;
    params.push(("psu_id".into(), "john".into()));
    params.push(("password".into(), "demo".into()));
    params.push(("decision".into(), "reject".into()));
    let r = bank
        .client
        .post(meta["authorization_endpoint"].as_str().unwrap())
        .form(&params)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 302);
    let loc = r.headers()["location"].to_str().unwrap().to_owned();
    assert!(loc.contains("error=access_denied"));
    assert!(loc.contains("state="));
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
    assert_eq!(st["consentStatus"], "rejected");
}

#[tokio::test]
async fn authorize_rejects_bad_requests_without_redirecting() {
    let bank = spawn(7).await;
    let (_id, meta, params) = start(&bank).await;
    let authz = meta["authorization_endpoint"].as_str().unwrap();
    for (k, v) in [
        ("code_challenge_method", "plain"),
        ("scope", "AIS:nope"),
        ("redirect_uri", "javascript:alert(1)"),
    ] {
        let p: Vec<(String, String)> = params
            .iter()
            .map(|(a, b)| {
                if a == k {
                    (a.clone(), v.to_owned())
                } else {
                    (a.clone(), b.clone())
                }
            })
            .collect();
        let r = bank.client.get(authz).query(&p).send().await.unwrap();
        assert_eq!(r.status(), 400, "{k}");
        assert!(r.headers().get("location").is_none());
    }
}
