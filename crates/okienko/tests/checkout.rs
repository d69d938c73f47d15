//! Tokenized card payments over real processes: the sandbox bank (issuer and acquirer) and the
//! card vault (`okienko vault`), each its own `okienko` process on its own port. The customer
//! types the card on the vault's hosted page over HTTP; the gateway's side (the signed vault
//! client) only ever holds tokens, cryptograms and results. Afterwards the vault's database
//! files and every process log are scanned for the card number in its common written forms.

mod support;

use std::path::Path;
use std::time::Duration;

use okienko_core::Money;
use okienko_vault::{ChargeRequest, ClientError, VaultClient};
use serde_json::Value;
use support::{Proc, http, spawn, spawn_bank};

fn spawn_vault(dir: &Path, bank: &str) -> Proc {
    spawn(
        &[
            "vault",
            "--port",
            "0",
            "--data-dir",
            &dir.join("vault").display().to_string(),
            "--issuer-url",
            bank,
            "--issuer-timeout-secs",
            "5",
        ],
        &[],
        dir,
        "listening on",
    )
}

fn client(dir: &Path, vault: &str) -> VaultClient {
    let secret = std::fs::read_to_string(dir.join("vault/vault-api.secret")).unwrap();
    VaultClient::new(
        vault,
        okienko_vault::zeroize::Zeroizing::new(secret.trim().as_bytes().to_vec()),
        Duration::from_secs(10),
    )
    .unwrap()
}

/// Every way a card number is commonly written, and the parts that would give it away.
fn pan_forms(pan: &str) -> Vec<String> {
    let g: Vec<&str> = (0..4).map(|i| &pan[i * 4..i * 4 + 4]).collect();
    vec![
        pan.to_owned(),
        g.join(" "),
        g.join("-"),
        g.join("."),
        format!("{} {} {}", &pan[..4], &pan[4..10], &pan[10..]),
        // The digits a masked "first six, last four" form hides: never anywhere.
        pan[6..12].to_owned(),
        // First twelve: with the last four shown elsewhere, this would reveal the number.
        pan[..12].to_owned(),
        format!("{} {} {}", g[0], g[1], g[2]),
        // Reversed (a careless "obfuscation").
        pan.chars().rev().collect(),
    ]
}

fn scan(path: &Path, pan: &str) -> Vec<String> {
    let Ok(bytes) = std::fs::read(path) else {
        return Vec::new();
    };
    pan_forms(pan)
        .into_iter()
        .filter(|f| bytes.windows(f.len()).any(|w| w == f.as_bytes()))
        .collect()
}

async fn ledger_account(bank: &str, key: &str) -> Value {
    let v: Value = http()
        .get(format!("{bank}/sandbox/ledger"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(v["consistent"], true, "ledger invariants: {v}");
    v["accounts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["key"] == key)
        .cloned()
        .unwrap_or(Value::Null)
}

fn posted_debits(a: &Value) -> rust_decimal::Decimal {
    a["debitsPosted"].as_str().unwrap_or("0").parse().unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_card_typed_at_the_vault_is_charged_by_token_and_never_leaves_it_in_the_clear() {
    let dir = tempfile::tempdir().unwrap();
    let bank = spawn_bank(dir.path(), 0);
    let mut vault = spawn_vault(dir.path(), &bank.url);
    let vc = client(dir.path(), &vault.url);
    let h = http();

    // The issuer's truth: anna's card.
    let cards: Value = h
        .get(format!("{}/sandbox/customers/anna/card-details", bank.url))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let card = cards["cards"][0].clone();
    let pan = card["pan"].as_str().unwrap().to_owned();
    let expiry = card["expiry"].as_str().unwrap().to_owned();
    let cvc = card["cvc"].as_str().unwrap().to_owned();
    let account = card["accountId"].as_str().unwrap().to_owned();
    let card_id = card["cardId"].as_str().unwrap().to_owned();
    assert_eq!(pan.len(), 16);

    // The gateway asks for a card page; the customer opens it and types the card.
    let page_url = vc.card_page("cust-anna", "gateway", "pl").await.unwrap();
    assert!(page_url.starts_with(&vault.url), "{page_url}");
    let page = h.get(&page_url).send().await.unwrap();
    assert_eq!(page.status(), 200);
    assert_eq!(page.headers()["cache-control"], "no-store");
    assert_eq!(page.headers()["referrer-policy"], "no-referrer");
    let html = page.text().await.unwrap();
    assert!(html.contains("Numer karty"), "{html}");
    let session = page_url
        .split("session=")
        .nth(1)
        .unwrap()
        .split('&')
        .next()
        .unwrap()
        .to_owned();
    let spaced = pan_forms(&pan)[1].clone();
    let submit = |num: String, exp: String, cvc: String| {
        let h = h.clone();
        let url = format!("{}/cards/new", vault.url);
        let session = session.clone();
        async move {
            let r = h
                .post(url)
                .form(&[
                    ("session", session.as_str()),
                    ("lang", "pl"),
                    ("card_number", num.as_str()),
                    ("expiry", exp.as_str()),
                    ("cvc", cvc.as_str()),
                ])
                .send()
                .await
                .unwrap();
            (r.status().as_u16(), r.text().await.unwrap())
        }
    };
    // A wrong CVC: the issuer declines the verification, nothing is stored, the page stays.
    let wrong_cvc = format!("{:03}", (cvc.parse::<u32>().unwrap() + 1) % 1000);
    let (status, body) = submit(spaced.clone(), expiry.clone(), wrong_cvc).await;
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("odrzucił"), "{body}");
    assert!(
        !body.contains(&pan[6..12]),
        "the page echoed the card number"
    );
    // A mistyped number fails the check digit.
    let mut typo = pan.clone().into_bytes();
    typo[15] = b'0' + (typo[15] - b'0' + 1) % 10;
    let (status, body) = submit(
        String::from_utf8(typo).unwrap(),
        expiry.clone(),
        cvc.clone(),
    )
    .await;
    assert_eq!(status, 400);
    assert!(body.contains("poprawny numer"), "{body}");
    assert!(vc.tokens("cust-anna", "gateway").await.unwrap().is_empty());
    // Now right.
    let (status, body) = submit(spaced.clone(), expiry.clone(), cvc.clone()).await;
    assert_eq!(status, 200, "{body}");
    assert!(body.contains(&format!("•••• {}", &pan[12..])), "{body}");
    // The session is single-use.
    let (status, _) = submit(spaced.clone(), expiry.clone(), cvc.clone()).await;
    assert_eq!(status, 404);

    // The gateway sees a token: 16 digits, Luhn-valid, from the token range, not the card.
    let tokens = vc.tokens("cust-anna", "gateway").await.unwrap();
    assert_eq!(tokens.len(), 1);
    let token = tokens[0].token.clone();
    assert_eq!(tokens[0].last4, &pan[12..]);
    assert_eq!(token.len(), 16);
    assert!(token.starts_with(okienko_vault::luhn::TOKEN_BIN));
    assert!(okienko_vault::luhn::valid(&token));
    assert_ne!(token, pan);
    // One token per card × requestor: stable for the gateway, another for someone else.
    assert_eq!(
        vc.tokens("cust-anna", "gateway").await.unwrap()[0].token,
        token
    );
    let other = vc.tokens("cust-anna", "merchant:other").await.unwrap();
    assert_ne!(other[0].token, token);
    // Another customer sees nothing of anna's.
    assert!(vc.tokens("cust-john", "gateway").await.unwrap().is_empty());

    // Pay 129.00 PLN at "sklep-demo" with a one-time cryptogram.
    let before = posted_debits(&ledger_account(&bank.url, &account).await);
    let amount = Money::parse("129.00", "PLN").unwrap();
    let cryptogram = vc
        .cryptogram(&token, "gateway", amount, "sklep-demo", "order-1")
        .await
        .unwrap();
    let req = ChargeRequest {
        token: token.clone(),
        requestor: "gateway".into(),
        cryptogram: cryptogram.clone(),
        amount,
        merchant: "sklep-demo".into(),
        order_id: "order-1".into(),
    };
    let rid = uuid::Uuid::new_v4().to_string();
    let first = vc.charge(&rid, &req).await.unwrap();
    assert_eq!(first.status, "approved", "{first:?}");
    let merchant_token = first.merchant_token.clone().unwrap();
    assert!(okienko_vault::luhn::valid(&merchant_token));
    assert_ne!(merchant_token, token);
    assert_ne!(merchant_token, pan);
    // A retry (a double click, a timeout) answers the same and moves nothing more.
    let again = vc.charge(&rid, &req).await.unwrap();
    assert_eq!(again, first);
    assert_eq!(vc.charge_status(&first.charge_id).await.unwrap(), first);
    let after = posted_debits(&ledger_account(&bank.url, &account).await);
    assert_eq!(after - before, amount.amount(), "charged exactly once");
    let settled = ledger_account(&bank.url, "internal:acquiring:PLN").await;
    assert_eq!(
        settled["creditsPosted"]
            .as_str()
            .unwrap()
            .parse::<rust_decimal::Decimal>()
            .unwrap(),
        amount.amount()
    );
    // The same idempotency key for another payment is refused.
    let mut other_req = req.clone();
    other_req.order_id = "order-2".into();
    assert!(matches!(
        vc.charge(&rid, &other_req).await,
        Err(ClientError::Refused(409))
    ));
    // A used cryptogram cannot pay again under a new key.
    assert!(matches!(
        vc.charge(&uuid::Uuid::new_v4().to_string(), &req).await,
        Err(ClientError::Refused(400))
    ));
    // A cryptogram is bound to its amount.
    let c2 = vc
        .cryptogram(
            &token,
            "gateway",
            Money::parse("1.00", "PLN").unwrap(),
            "sklep-demo",
            "order-3",
        )
        .await
        .unwrap();
    let mut forged = req.clone();
    forged.cryptogram = c2;
    forged.order_id = "order-3".into();
    assert!(matches!(
        vc.charge(&uuid::Uuid::new_v4().to_string(), &forged).await,
        Err(ClientError::Refused(400))
    ));
    // Someone else's token name does not work for the gateway.
    let mut stolen = req.clone();
    stolen.token = other[0].token.clone();
    assert!(matches!(
        vc.charge(&uuid::Uuid::new_v4().to_string(), &stolen).await,
        Err(ClientError::Refused(404))
    ));
    // Unsigned or wrongly signed requests are refused before anything is read.
    let r = h
        .post(format!("{}/v1/charges", vault.url))
        .header("x-request-id", uuid::Uuid::new_v4().to_string())
        .header(
            "x-vault-timestamp",
            chrono::Utc::now().timestamp().to_string(),
        )
        .header("x-vault-signature", "00".repeat(32))
        .body(serde_json::to_vec(&req).unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    let r = h
        .get(format!(
            "{}/v1/owners/cust-anna/tokens?requestor=gateway",
            vault.url
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    let wrong = VaultClient::new(
        &vault.url,
        okienko_vault::zeroize::Zeroizing::new(b"not the secret".to_vec()),
        Duration::from_secs(5),
    )
    .unwrap();
    assert!(matches!(
        wrong.tokens("cust-anna", "gateway").await,
        Err(ClientError::Refused(401))
    ));

    // A blocked card declines, and no money moves.
    let r = h
        .post(format!("{}/sandbox/cards/{card_id}/block", bank.url))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let c3 = vc
        .cryptogram(&token, "gateway", amount, "sklep-demo", "order-4")
        .await
        .unwrap();
    let mut blocked = req.clone();
    blocked.cryptogram = c3;
    blocked.order_id = "order-4".into();
    let declined = vc
        .charge(&uuid::Uuid::new_v4().to_string(), &blocked)
        .await
        .unwrap();
    assert_eq!(declined.status, "declined");
    assert_eq!(declined.reason.as_deref(), Some("card_blocked"));
    assert_eq!(declined.merchant_token, None);
    assert_eq!(
        posted_debits(&ledger_account(&bank.url, &account).await),
        after
    );

    // The vault's files hold no card number in any written form; nor does any log.
    vault.kill();
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir.path().join("vault")).unwrap() {
        let p = entry.unwrap().path();
        for f in scan(&p, &pan) {
            found.push(format!("{}: {f}", p.display()));
        }
    }
    for log in [&vault.stderr, &bank.stderr] {
        for f in scan(log, &pan) {
            found.push(format!("{}: {f}", log.display()));
        }
    }
    assert!(found.is_empty(), "card number found: {found:?}");
    // The vault really stored something (the scan looked at a live database).
    let db = std::fs::metadata(dir.path().join("vault/vault.sqlite")).unwrap();
    assert!(db.len() > 0);
    assert!(vault.log().contains("card enrolled"), "{}", vault.log());
}

#[tokio::test(flavor = "multi_thread")]
async fn the_vault_refuses_a_database_under_another_master_key() {
    let dir = tempfile::tempdir().unwrap();
    let bank = spawn_bank(dir.path(), 0);
    let mut vault = spawn_vault(dir.path(), &bank.url);
    vault.kill();
    std::fs::write(dir.path().join("vault/vault-master.key"), "11".repeat(32)).unwrap();
    let out = std::process::Command::new(support::BIN)
        .args([
            "vault",
            "--port",
            "0",
            "--data-dir",
            &dir.path().join("vault").display().to_string(),
            "--issuer-url",
            &bank.url,
        ])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("master key does not open"), "{err}");
}

/// The demo merchant's payment code from its order page.
async fn new_order(gateway: &str) -> (String, String) {
    let html = http()
        .post(format!("{gateway}/merchant/demo/orders"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let between = |a: &str| {
        let i = html.find(a).unwrap() + a.len();
        html[i..].split('<').next().unwrap().to_owned()
    };
    (
        between("<span id=\"order\">"),
        between("<span id=\"code\">"),
    )
}

async fn order_state(gateway: &str, order: &str) -> Value {
    http()
        .get(format!(
            "{gateway}/merchant/demo/orders/{order}?format=json"
        ))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

/// Paying with no saved card: the chat answers with the vault's card page (never asking for the
/// number in the chat), and the card is typed there, as `card_number`.
async fn save_card_from_the_chat_link(
    chat: &mut support::Chat,
    vault_url: &str,
    code: &str,
    card_number: &str,
    card: &Value,
) {
    chat.say(&format!("zapłać {code}")).await;
    let r = chat
        .expect("any", "zapisz najpierw kartę", Duration::from_secs(30))
        .await;
    let text = r.to_string();
    let start = text.find(vault_url).unwrap();
    let link: String = text[start..]
        .chars()
        .take_while(|c| !c.is_whitespace() && *c != '"' && *c != '\\')
        .collect();
    let session = link
        .split("session=")
        .nth(1)
        .unwrap()
        .split('&')
        .next()
        .unwrap()
        .to_owned();
    let saved = http()
        .post(format!("{vault_url}/cards/new"))
        .form(&[
            ("session", session.as_str()),
            ("card_number", card_number),
            ("expiry", card["expiry"].as_str().unwrap()),
            ("cvc", card["cvc"].as_str().unwrap()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(saved.status(), 200);
}

fn pay_button(reply: &Value) -> String {
    reply["quick_replies"]
        .as_array()
        .unwrap()
        .iter()
        .map(|q| q["payload"].as_str().unwrap().to_owned())
        .find(|p| p.starts_with("checkout:pay:"))
        .unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_shop_order_is_paid_in_the_chat_with_a_saved_card_and_the_gateway_never_holds_the_number()
{
    let dir = tempfile::tempdir().unwrap();
    let bank = spawn_bank(dir.path(), 0);
    let mut vault = spawn_vault(dir.path(), &bank.url);
    let mut gateway = spawn(
        &["serve"],
        &[
            ("OKIENKO_LISTEN", "127.0.0.1:0".to_owned()),
            (
                "OKIENKO_DATA_DIR",
                dir.path().join("data").display().to_string(),
            ),
            ("OKIENKO_BANK__BASE_URL", bank.url.clone()),
            ("OKIENKO_CHECKOUT__VAULT_URL", vault.url.clone()),
            (
                "OKIENKO_CHECKOUT__VAULT_SECRET_FILE",
                dir.path()
                    .join("vault/vault-api.secret")
                    .display()
                    .to_string(),
            ),
        ],
        dir.path(),
        "listening on",
    );
    let h = http();
    let cards: Value = h
        .get(format!("{}/sandbox/customers/anna/card-details", bank.url))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let card = cards["cards"][0].clone();
    let pan = card["pan"].as_str().unwrap().to_owned();
    let account = card["accountId"].as_str().unwrap().to_owned();

    // The shop: an order, and the code to pay it in the chat.
    let (order, code) = new_order(&gateway.url).await;
    assert_eq!(order_state(&gateway.url, &order).await["status"], "pending");
    let mut chat = support::Chat::connect(&gateway.url, "pl").await;
    // No card yet: the chat sends the customer to the vault's page, never asks for the number.
    save_card_from_the_chat_link(&mut chat, &vault.url, &code, &pan_forms(&pan)[2], &card).await;

    // The read-back, then confirm.
    let before = posted_debits(&ledger_account(&bank.url, &account).await);
    chat.say(&format!("zapłać {code}")).await;
    let offer = chat
        .expect(
            "any",
            &format!("Zapłacić 129,00 zł w Sklep Demo kartą •••• {}?", &pan[12..]),
            Duration::from_secs(30),
        )
        .await;
    let pay = pay_button(&offer);
    chat.press(&pay).await;
    chat.expect("any", "Zapłacone", Duration::from_secs(30))
        .await;
    // A double click answers the same and charges nothing more.
    chat.press(&pay).await;
    chat.expect("any", "Zapłacone", Duration::from_secs(30))
        .await;
    let after = posted_debits(&ledger_account(&bank.url, &account).await);
    assert_eq!(
        after - before,
        "129.00".parse::<rust_decimal::Decimal>().unwrap()
    );
    // The merchant sees it paid, and holds a token only.
    let st = order_state(&gateway.url, &order).await;
    assert_eq!(st["status"], "paid", "{st}");
    let mt = st["merchantToken"].as_str().unwrap();
    assert!(mt.starts_with(okienko_vault::luhn::TOKEN_BIN) && mt != pan);
    // The code cannot be paid again.
    chat.say(&format!("zapłać {code}")).await;
    chat.expect("any", "Nie znam tego kodu", Duration::from_secs(30))
        .await;

    // A blocked card declines, and the merchant sees the decline.
    h.post(format!(
        "{}/sandbox/cards/{}/block",
        bank.url,
        card["cardId"].as_str().unwrap()
    ))
    .send()
    .await
    .unwrap();
    let (order2, code2) = new_order(&gateway.url).await;
    chat.say(&format!("zapłać {code2}")).await;
    let offer = chat
        .expect("any", "Zapłacić", Duration::from_secs(30))
        .await;
    chat.press(&pay_button(&offer)).await;
    chat.expect("any", "karta jest zablokowana", Duration::from_secs(30))
        .await;
    assert_eq!(
        order_state(&gateway.url, &order2).await["status"],
        "declined"
    );
    assert_eq!(
        posted_debits(&ledger_account(&bank.url, &account).await),
        after
    );

    // Scan the gateway's database files, its log and the chat transcript for the number.
    gateway.kill();
    vault.kill();
    let mut found = Vec::new();
    let mut files = vec![gateway.stderr.clone(), vault.stderr.clone()];
    for d in [dir.path().join("data"), dir.path().join("vault")] {
        for e in std::fs::read_dir(&d).unwrap() {
            files.push(e.unwrap().path());
        }
    }
    assert!(
        files
            .iter()
            .any(|f| f.to_string_lossy().contains("okienko.sqlite")),
        "{files:?}"
    );
    for f in &files {
        for hit in scan(f, &pan) {
            found.push(format!("{}: {hit}", f.display()));
        }
    }
    let transcript = serde_json::to_string(&chat.replies).unwrap();
    for form in pan_forms(&pan) {
        if transcript.contains(&form) {
            found.push(format!("transcript: {form}"));
        }
    }
    assert!(found.is_empty(), "card number found: {found:?}");
}

#[test]
fn the_payments_and_ledger_benchmarks_print_their_figures_beside_baselines() {
    let out = std::process::Command::new(support::BIN)
        .args([
            "bench",
            "payments",
            "--payments",
            "20",
            "--concurrency",
            "2",
            "--customers",
            "4",
            "--ledger-transfers",
            "2000",
            "--pis-payments",
            "40",
            "--fault-rate",
            "0.3",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    let cp = &v["card_payments"];
    assert_eq!(cp["vault"]["payments"], 20, "{v}");
    assert_eq!(cp["vault"]["approved"], 20, "{v}");
    assert!(cp["vault"]["payments_per_second"].as_f64().unwrap() > 0.0);
    assert!(cp["vault"]["p99_ms"].as_f64().unwrap() >= cp["vault"]["p50_ms"].as_f64().unwrap());
    assert_eq!(cp["baseline"]["figures"]["payments"], 20);
    assert_eq!(cp["bank_ledger_consistent"], true);
    // P2P through the payment driver, with faults between it and the bank: every payment
    // happened exactly once, and the faults really were injected.
    let p2p = &v["p2p"];
    assert_eq!(p2p["requested"], 40, "{p2p}");
    assert_eq!(p2p["completed"], 40, "{p2p}");
    assert_eq!(p2p["exactly_once"], 40, "{p2p}");
    assert_eq!(p2p["keys_paid_twice"], 0, "{p2p}");
    assert_eq!(p2p["bank_payments"], 40, "{p2p}");
    assert_eq!(p2p["bank_ledger_consistent"], true);
    assert!(p2p["faults"]["injected"].as_u64().unwrap() > 0, "{p2p}");
    assert!(p2p["completed_per_second"].as_f64().unwrap() > 0.0);
    assert!(p2p["p99_ms"].as_f64().unwrap() >= p2p["p50_ms"].as_f64().unwrap());
    assert_eq!(v["ledger"]["invariants_hold"], true);
    assert!(v["ledger"]["transfers_per_second"].as_f64().unwrap() > 0.0);
    assert!(v["ledger"]["baseline"]["rows_per_second"].as_f64().unwrap() > 0.0);

    let out = std::process::Command::new(support::BIN)
        .args(["bench", "ledger", "--transfers", "1000", "--accounts", "10"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["transfers"], 1000);
    assert_eq!(v["invariants_hold"], true);
}

fn spawn_shop_gateway(dir: &Path, bank: &str, vault: &str) -> Proc {
    spawn(
        &["serve"],
        &[
            ("OKIENKO_LISTEN", "127.0.0.1:0".to_owned()),
            ("OKIENKO_DATA_DIR", dir.join("data").display().to_string()),
            ("OKIENKO_BANK__BASE_URL", bank.to_owned()),
            ("OKIENKO_CHECKOUT__VAULT_URL", vault.to_owned()),
            (
                "OKIENKO_CHECKOUT__VAULT_SECRET_FILE",
                dir.join("vault/vault-api.secret").display().to_string(),
            ),
        ],
        dir,
        "listening on",
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn the_shops_orders_and_their_outcomes_survive_a_gateway_restart() {
    let dir = tempfile::tempdir().unwrap();
    let bank = spawn_bank(dir.path(), 0);
    let vault = spawn_vault(dir.path(), &bank.url);
    let mut gateway = spawn_shop_gateway(dir.path(), &bank.url, &vault.url);
    let h = http();
    let cards: Value = h
        .get(format!("{}/sandbox/customers/anna/card-details", bank.url))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let card = cards["cards"][0].clone();
    let account = card["accountId"].as_str().unwrap().to_owned();

    // Two orders; the gateway restarts before either is paid.
    let (order, code) = new_order(&gateway.url).await;
    let (other, _) = new_order(&gateway.url).await;
    gateway.kill();
    let mut gateway = spawn_shop_gateway(dir.path(), &bank.url, &vault.url);
    assert!(
        dir.path().join("data/merchant-demo.sqlite").exists(),
        "the merchant's own order book"
    );
    assert_eq!(order_state(&gateway.url, &order).await["status"], "pending");
    assert_eq!(order_state(&gateway.url, &other).await["status"], "pending");
    let r = h
        .get(format!(
            "{}/merchant/demo/orders/ORD-nosuchorder?format=json",
            gateway.url
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);

    // The code from before the restart is still payable in the chat.
    let mut chat = support::Chat::connect(&gateway.url, "pl").await;
    save_card_from_the_chat_link(
        &mut chat,
        &vault.url,
        &code,
        card["pan"].as_str().unwrap(),
        &card,
    )
    .await;
    let before = posted_debits(&ledger_account(&bank.url, &account).await);
    chat.say(&format!("zapłać {code}")).await;
    let offer = chat
        .expect("any", "Zapłacić 129,00 zł", Duration::from_secs(30))
        .await;
    chat.press(&pay_button(&offer)).await;
    chat.expect("any", "Zapłacone", Duration::from_secs(30))
        .await;
    let paid = order_state(&gateway.url, &order).await;
    assert_eq!(paid["status"], "paid", "{paid}");

    // After another restart the outcome and the merchant's token are still there, the code is
    // spent, and the other order is untouched.
    drop(chat);
    gateway.kill();
    let gateway = spawn_shop_gateway(dir.path(), &bank.url, &vault.url);
    let again = order_state(&gateway.url, &order).await;
    assert_eq!(again, paid);
    assert!(
        again["merchantToken"]
            .as_str()
            .unwrap()
            .starts_with(okienko_vault::luhn::TOKEN_BIN)
    );
    assert_eq!(order_state(&gateway.url, &other).await["status"], "pending");
    let mut chat = support::Chat::connect(&gateway.url, "pl").await;
    chat.say(&format!("zapłać {code}")).await;
    chat.expect("any", "Nie znam tego kodu", Duration::from_secs(30))
        .await;
    assert_eq!(
        posted_debits(&ledger_account(&bank.url, &account).await) - before,
        "129.00".parse::<rust_decimal::Decimal>().unwrap(),
        "charged exactly once"
    );
}
