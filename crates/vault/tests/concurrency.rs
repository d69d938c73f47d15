//! The vault under concurrent payments: a real sandbox bank (issuer and acquirer) and a real
//! vault on their own ports, a signed client firing cryptogram + charge pairs from several tasks
//! at once. Every charge must be approved exactly once and the bank's ledger must move by
//! exactly the sum charged. (Before the vault took SQLite's write lock up front, a read snapshot
//! upgraded to a write inside a transaction failed at once with "database is locked" whenever
//! another connection had committed meanwhile, so concurrent charges came back as 500s.)

use std::sync::Arc;
use std::time::Duration;

use okienko_core::Money;
use okienko_sandbox_bank::{SandboxBank, SandboxConfig};
use okienko_vault::{ChargeRequest, VaultClient, VaultConfig};
use rust_decimal::Decimal;
use serde_json::Value;

struct World {
    bank_url: String,
    vault_url: String,
    vc: VaultClient,
    http: reqwest::Client,
    /// PLN customers' logins at the bank.
    pln: Vec<String>,
    _dir: tempfile::TempDir,
}

async fn world() -> World {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let bank = SandboxBank::new(SandboxConfig {
        customers: 6,
        seed: 7,
        today: chrono::Utc::now().date_naive(),
        control_api: true,
    });
    let pln = bank
        .demo_logins()
        .into_iter()
        .filter(|l| l.currency.code() == "PLN")
        .map(|l| l.psu_id)
        .collect();
    let bl = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let bank_url = format!("http://{}", bl.local_addr().unwrap());
    tokio::spawn(bank.serve(bl, std::future::pending()));
    let dir = tempfile::tempdir().unwrap();
    let cfg = VaultConfig {
        db_path: dir.path().join("vault.sqlite"),
        master_key_file: dir.path().join("vault-master.key"),
        api_secret_file: dir.path().join("vault-api.secret"),
        issuer_url: bank_url.clone(),
        issuer_timeout: Duration::from_secs(10),
    };
    let secret = okienko_vault::api_secret_from_file_or_create(&cfg.api_secret_file).unwrap();
    let vl = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let vault_url = format!("http://{}", vl.local_addr().unwrap());
    let app = okienko_vault::app(&cfg).await.unwrap();
    tokio::spawn(okienko_vault::serve_app(app, vl, std::future::pending()));
    World {
        vc: VaultClient::new(&vault_url, secret, Duration::from_secs(10)).unwrap(),
        bank_url,
        vault_url,
        http: reqwest::Client::new(),
        pln,
        _dir: dir,
    }
}

impl World {
    async fn get(&self, path: &str) -> Value {
        self.http
            .get(format!("{}{path}", self.bank_url))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    /// Types `psu`'s first card into the vault's page; returns (token, card's account key).
    async fn enrol(&self, psu: &str, owner: &str) -> (String, String) {
        let d = self
            .get(&format!("/sandbox/customers/{psu}/card-details"))
            .await;
        let c = &d["cards"][0];
        let page = self.vc.card_page(owner, "gateway", "en").await.unwrap();
        let session = page
            .split("session=")
            .nth(1)
            .unwrap()
            .split('&')
            .next()
            .unwrap()
            .to_owned();
        let r = self
            .http
            .post(format!("{}/cards/new", self.vault_url))
            .form(&[
                ("session", session.as_str()),
                ("card_number", c["pan"].as_str().unwrap()),
                ("expiry", c["expiry"].as_str().unwrap()),
                ("cvc", c["cvc"].as_str().unwrap()),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        let t = self.vc.tokens(owner, "gateway").await.unwrap();
        (
            t[0].token.clone(),
            c["accountId"].as_str().unwrap().to_owned(),
        )
    }

    async fn debits_posted(&self, key: &str) -> Decimal {
        let l = self.get("/sandbox/ledger").await;
        assert_eq!(l["consistent"], true, "{l}");
        l["accounts"]
            .as_array()
            .unwrap()
            .iter()
            .find(|a| a["key"] == key)
            .and_then(|a| a["debitsPosted"].as_str())
            .unwrap_or("0")
            .parse()
            .unwrap()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_charges_through_the_vault_are_all_approved_exactly_once() {
    let w = world().await;
    let mut cards = Vec::new();
    for login in w.pln.iter().take(3) {
        cards.push(w.enrol(login, &format!("owner-{login}")).await);
    }
    assert!(cards.len() >= 2, "{:?}", w.pln);
    let mut before = Vec::new();
    for (_, acc) in &cards {
        before.push(w.debits_posted(acc).await);
    }
    let cards = Arc::new(cards);
    let amount = Money::parse("1.00", "PLN").unwrap();
    let n = 40;
    let mut tasks = Vec::new();
    for i in 0..n {
        let (vc, cards) = (w.vc.clone(), cards.clone());
        tasks.push(tokio::spawn(async move {
            let (token, _) = &cards[i % cards.len()];
            let order = format!("order-{i}");
            let c = vc
                .cryptogram(token, "gateway", amount, "shop", &order)
                .await
                .map_err(|e| format!("cryptogram: {e}"))?;
            let r = vc
                .charge(
                    &uuid::Uuid::new_v4().to_string(),
                    &ChargeRequest {
                        token: token.clone(),
                        requestor: "gateway".into(),
                        cryptogram: c,
                        amount,
                        merchant: "shop".into(),
                        order_id: order,
                    },
                )
                .await
                .map_err(|e| format!("charge: {e}"))?;
            Ok::<_, String>(r.status)
        }));
    }
    let mut outcomes = Vec::new();
    for t in tasks {
        outcomes.push(t.await.unwrap());
    }
    let approved = outcomes
        .iter()
        .filter(|o| o.as_deref() == Ok("approved"))
        .count();
    assert_eq!(approved, n, "outcomes: {outcomes:?}");
    let mut charged = Decimal::ZERO;
    for (i, (_, acc)) in cards.iter().enumerate() {
        charged += w.debits_posted(acc).await - before[i];
    }
    assert_eq!(charged, Decimal::from(n as i64), "each charge moved once");
}
