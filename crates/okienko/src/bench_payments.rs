//! `okienko bench payments`: tokenized card payments end to end, and the sandbox ledger.
//!
//! Card payments: a sandbox bank and a card vault run in this process on their own ports and
//! talk real HTTP; customers' cards are typed into the vault's hosted page; then each payment is
//! a signed cryptogram request and a signed charge from the gateway's side (the vault
//! detokenises and charges at the bank's acquiring endpoint, which moves money on its ledger).
//! Figures: payments initiated (cryptogram issued) and completed (charge answered) per second,
//! p50/p99, beside a baseline of the same number of charges sent straight to the bank with the
//! card number (no vault), in the same run. The ledger part: two-phase transfers per second
//! beside a plain insert of the same rows (crates/sandbox-bank). JSON on stdout, progress on
//! stderr.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context;
use okienko_core::Money;
use okienko_sandbox_bank::{SandboxBank, SandboxConfig};
use okienko_vault::{ChargeRequest, VaultClient};
use serde_json::{Value, json};

/// What to run.
#[derive(Debug, Clone)]
pub struct PaymentsBench {
    pub payments: usize,
    pub concurrency: usize,
    pub customers: usize,
    pub ledger_transfers: usize,
}

struct Card {
    owner: String,
    token: String,
    pan: String,
    exp_month: u32,
    exp_year: u32,
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    sorted[((sorted.len() as f64 * p) as usize).min(sorted.len() - 1)]
}

fn figures(lat_ms: &mut [f64], secs: f64, ok: usize) -> Value {
    lat_ms.sort_by(f64::total_cmp);
    json!({
        "payments": lat_ms.len(),
        "approved": ok,
        "payments_per_second": lat_ms.len() as f64 / secs.max(1e-9),
        "p50_ms": percentile(lat_ms, 0.50),
        "p99_ms": percentile(lat_ms, 0.99),
    })
}

/// Runs the benchmark and returns its JSON figures.
pub async fn run(b: PaymentsBench) -> anyhow::Result<Value> {
    let dir = tempfile_dir()?;
    let bank = SandboxBank::new(SandboxConfig {
        customers: b.customers.max(2),
        seed: 7,
        today: chrono::Utc::now().date_naive(),
        control_api: true,
    });
    let bl = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let bank_url = format!("http://{}", bl.local_addr()?);
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let mut s1 = stop_rx.clone();
    tokio::spawn(bank.clone().serve(bl, async move {
        let _ = s1.wait_for(|s| *s).await;
    }));
    let vl = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let vault_url = format!("http://{}", vl.local_addr()?);
    let cfg = okienko_vault::VaultConfig {
        db_path: dir.join("vault.sqlite"),
        master_key_file: dir.join("vault-master.key"),
        api_secret_file: dir.join("vault-api.secret"),
        issuer_url: bank_url.clone(),
        issuer_timeout: Duration::from_secs(10),
    };
    let secret = okienko_vault::api_secret_from_file_or_create(&cfg.api_secret_file)?;
    let mut s2 = stop_rx.clone();
    tokio::spawn(async move {
        let _ = okienko_vault::serve(&cfg, vl, async move {
            let _ = s2.wait_for(|s| *s).await;
        })
        .await;
    });
    let vc = VaultClient::new(&vault_url, secret, Duration::from_secs(10))?;
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()?;

    eprintln!("enrolling {} customers' cards at the vault…", b.customers);
    let mut cards = Vec::new();
    for login in bank.demo_logins().into_iter().take(b.customers.max(1)) {
        if login.currency.code() != "PLN" {
            continue;
        }
        let details: Value = http
            .get(format!(
                "{bank_url}/sandbox/customers/{}/card-details",
                login.psu_id
            ))
            .send()
            .await?
            .json()
            .await?;
        let Some(c) = details["cards"].as_array().and_then(|a| a.first()) else {
            continue;
        };
        let pan = c["pan"].as_str().unwrap_or_default().to_owned();
        let expiry = c["expiry"].as_str().unwrap_or_default().to_owned();
        let cvc = c["cvc"].as_str().unwrap_or_default().to_owned();
        let owner = format!("bench-{}", login.psu_id);
        let page = vc.card_page(&owner, "gateway", "en").await?;
        let session = page
            .split("session=")
            .nth(1)
            .and_then(|s| s.split('&').next())
            .context("card page URL without a session")?
            .to_owned();
        let r = http
            .post(format!("{vault_url}/cards/new"))
            .form(&[
                ("session", session.as_str()),
                ("card_number", pan.as_str()),
                ("expiry", expiry.as_str()),
                ("cvc", cvc.as_str()),
            ])
            .send()
            .await?;
        anyhow::ensure!(r.status().is_success(), "enrolment failed: {}", r.status());
        let tokens = vc.tokens(&owner, "gateway").await?;
        let token = tokens
            .first()
            .context("no token after enrolment")?
            .token
            .clone();
        let (m, y) = okienko_vault::service::parse_expiry(&expiry).context("expiry")?;
        cards.push(Card {
            owner,
            token,
            pan,
            exp_month: m,
            exp_year: y,
        });
    }
    anyhow::ensure!(!cards.is_empty(), "no PLN customer with a card");
    let cards = Arc::new(cards);
    let amount = Money::parse("1.00", "PLN")?;

    eprintln!("{} card payments through the vault…", b.payments);
    let next = Arc::new(AtomicUsize::new(0));
    let t = Instant::now();
    let mut workers = Vec::new();
    for _ in 0..b.concurrency.max(1) {
        let (vc, cards, next) = (vc.clone(), cards.clone(), next.clone());
        let n = b.payments;
        workers.push(tokio::spawn(async move {
            let mut out: Vec<(f64, bool)> = Vec::new();
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= n {
                    break;
                }
                let card = &cards[i % cards.len()];
                let s = Instant::now();
                let order = format!("bench-{i}");
                let ok = match vc
                    .cryptogram(&card.token, "gateway", amount, "bench-shop", &order)
                    .await
                {
                    Ok(c) => vc
                        .charge(
                            &uuid::Uuid::new_v4().to_string(),
                            &ChargeRequest {
                                token: card.token.clone(),
                                requestor: "gateway".into(),
                                cryptogram: c,
                                amount,
                                merchant: "bench-shop".into(),
                                order_id: order,
                            },
                        )
                        .await
                        .is_ok_and(|r| r.status == "approved"),
                    Err(_) => false,
                };
                out.push((s.elapsed().as_secs_f64() * 1000.0, ok));
                let _ = &card.owner;
            }
            out
        }));
    }
    let mut lat = Vec::new();
    let mut ok = 0;
    for w in workers {
        for (l, o) in w.await? {
            lat.push(l);
            ok += usize::from(o);
        }
    }
    let vault_fig = figures(&mut lat, t.elapsed().as_secs_f64(), ok);

    eprintln!("{} baseline charges straight at the bank…", b.payments);
    let next = Arc::new(AtomicUsize::new(0));
    let t = Instant::now();
    let mut workers = Vec::new();
    for _ in 0..b.concurrency.max(1) {
        let (http, cards, next, bank_url) =
            (http.clone(), cards.clone(), next.clone(), bank_url.clone());
        let n = b.payments;
        workers.push(tokio::spawn(async move {
            let mut out: Vec<(f64, bool)> = Vec::new();
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= n {
                    break;
                }
                let card = &cards[i % cards.len()];
                let s = Instant::now();
                let r = http
                    .post(format!("{bank_url}/acquiring/v1/charges"))
                    .header("x-request-id", uuid::Uuid::new_v4().to_string())
                    .json(&json!({
                        "pan": card.pan, "expiryMonth": card.exp_month, "expiryYear": card.exp_year,
                        "amount": "1.00", "currency": "PLN",
                    }))
                    .send()
                    .await;
                let ok = match r {
                    Ok(r) => r
                        .json::<Value>()
                        .await
                        .is_ok_and(|v| v["status"] == "approved"),
                    Err(_) => false,
                };
                out.push((s.elapsed().as_secs_f64() * 1000.0, ok));
            }
            out
        }));
    }
    let mut lat = Vec::new();
    let mut ok = 0;
    for w in workers {
        for (l, o) in w.await? {
            lat.push(l);
            ok += usize::from(o);
        }
    }
    let base_fig = figures(&mut lat, t.elapsed().as_secs_f64(), ok);
    let ledger_check: Value = http
        .get(format!("{bank_url}/sandbox/ledger"))
        .send()
        .await?
        .json()
        .await?;
    let _ = stop_tx.send(true);

    eprintln!("ledger: {} transfers…", b.ledger_transfers);
    let ledger = okienko_sandbox_bank::ledger_bench(b.ledger_transfers, 1000, 7);
    let _ = std::fs::remove_dir_all(&dir);
    Ok(json!({
        "card_payments": {
            "path": "cryptogram + charge at the vault → acquiring at the sandbox bank (real HTTP)",
            "concurrency": b.concurrency,
            "cards": cards.len(),
            "vault": vault_fig,
            "baseline": { "path": "the same charges straight at the bank with the card number", "figures": base_fig },
            "bank_ledger_consistent": ledger_check["consistent"],
            "fault_rate": 0.0,
        },
        "ledger": ledger,
    }))
}

fn tempfile_dir() -> anyhow::Result<std::path::PathBuf> {
    let d = std::env::temp_dir().join(format!("okienko-bench-payments-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&d)?;
    Ok(d)
}
