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
//!
//! P2P payments (`p2p`): transfers as the chat makes them, through the gateway's payment driver
//! (crates/payments: a persisted state machine in a real SQLite store) against the sandbox
//! bank's PIS over HTTP, through a network that refuses, drops, duplicates and delays a
//! configurable share of the driver's bank calls; the customer approves each in the bank app
//! (decoupled SCA). Figures: payments initiated (the bank has it) and completed (final state)
//! per second, p50/p99 to completion, the fault rate asked for and observed, and the number of
//! payments that happened exactly once (one stored row, one bank payment under its key, the same
//! final status on both sides), which must equal the number requested.

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
    /// The P2P part (none when `payments` is 0).
    pub pis: PisBench,
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
    let p2p = if b.pis.payments > 0 {
        run_pis(&bank, &bank_url, &b.pis).await?
    } else {
        Value::Null
    };
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
        "p2p": p2p,
        "ledger": ledger,
    }))
}

fn tempfile_dir() -> anyhow::Result<std::path::PathBuf> {
    let d = std::env::temp_dir().join(format!("okienko-bench-payments-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&d)?;
    Ok(d)
}

/// What the P2P part runs: payment initiations through the gateway's payment driver
/// (crates/payments) against the sandbox bank over HTTP, through a network that injects faults.
#[derive(Debug, Clone)]
pub struct PisBench {
    pub payments: usize,
    pub concurrency: usize,
    /// Share of bank calls that meet a fault (0.0–0.9): each fault is one of a refused
    /// request, a dropped answer, a duplicated request, or a delay, drawn evenly.
    pub fault_rate: f64,
    pub seed: u64,
}

mod pis {
    //! The P2P part: a faulty network between the payment driver and the sandbox bank, in the
    //! image of the deterministic simulation's (crates/payments/tests/simulation.rs), but with
    //! real time and real concurrency.

    use std::collections::BTreeMap;
    use std::sync::Mutex;
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::time::Duration;

    use async_trait::async_trait;
    use okienko_bank::NextGenPsd2Connector;
    use okienko_bank::pis::{
        PaymentError, PaymentInitiated, PaymentInitiation, PaymentOrder, PaymentProduct,
        PaymentSca, PaymentStatus,
    };
    use okienko_bank::{ConnectorError, RetryPolicy};

    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    enum Fault {
        Pass,
        Fail,
        Drop,
        Duplicate,
        Delay,
    }

    /// The driver's view of the bank: every call may be refused before the bank sees it, have
    /// its answer dropped after the bank acted, be sent twice, or be delayed.
    pub struct FaultyNet {
        inner: NextGenPsd2Connector,
        rate: f64,
        state: AtomicU64,
        pub seen: Mutex<BTreeMap<&'static str, u64>>,
    }

    /// splitmix64: a seeded stream of draws, so a run's fault mix is reproducible in count.
    fn next(state: &AtomicU64) -> u64 {
        let mut z = state
            .fetch_add(0x9e37_79b9_7f4a_7c15, Ordering::Relaxed)
            .wrapping_add(0x9e37_79b9_7f4a_7c15);
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    impl FaultyNet {
        pub fn new(base: &str, rate: f64, seed: u64) -> anyhow::Result<FaultyNet> {
            let inner = NextGenPsd2Connector::new(base, "okienko-bench", Duration::from_secs(10))?
                // The driver, not the connector, is what the bench measures retrying.
                .with_retry(RetryPolicy {
                    max_attempts: 1,
                    base: Duration::from_millis(1),
                    cap: Duration::from_millis(1),
                });
            Ok(FaultyNet {
                inner,
                rate: rate.clamp(0.0, 0.9),
                state: AtomicU64::new(seed),
                seen: Mutex::default(),
            })
        }

        async fn pick(&self) -> Fault {
            let draw = next(&self.state);
            let u = (draw >> 11) as f64 / (1u64 << 53) as f64;
            let f = if u >= self.rate {
                Fault::Pass
            } else {
                match draw % 4 {
                    0 => Fault::Fail,
                    1 => Fault::Drop,
                    2 => Fault::Duplicate,
                    _ => Fault::Delay,
                }
            };
            let name = match f {
                Fault::Pass => "pass",
                Fault::Fail => "fail",
                Fault::Drop => "drop",
                Fault::Duplicate => "duplicate",
                Fault::Delay => "delay",
            };
            if let Ok(mut s) = self.seen.lock() {
                *s.entry(name).or_default() += 1;
            }
            if f == Fault::Delay {
                tokio::time::sleep(Duration::from_millis(5 + (draw >> 40) % 46)).await;
            }
            f
        }
    }

    fn lost() -> PaymentError {
        PaymentError::OutcomeUnknown(ConnectorError::Transport {
            timeout: true,
            connect: false,
            source: None,
        })
    }

    fn down() -> PaymentError {
        PaymentError::OutcomeUnknown(ConnectorError::BankUnavailable { retry_after: None })
    }

    macro_rules! through {
        ($self:ident, $call:expr) => {{
            match $self.pick().await {
                Fault::Fail => Err(down()),
                Fault::Drop => {
                    let _ = $call.await;
                    Err(lost())
                }
                Fault::Duplicate => {
                    let _ = $call.await;
                    $call.await
                }
                Fault::Pass | Fault::Delay => $call.await,
            }
        }};
    }

    #[async_trait]
    impl PaymentInitiation for FaultyNet {
        async fn initiate_payment(
            &self,
            order: &PaymentOrder,
            key: uuid::Uuid,
        ) -> Result<PaymentInitiated, PaymentError> {
            through!(self, self.inner.initiate_payment(order, key))
        }
        async fn payment_status(
            &self,
            product: PaymentProduct,
            id: &str,
        ) -> Result<PaymentStatus, PaymentError> {
            through!(self, self.inner.payment_status(product, id))
        }
        async fn cancel_payment(
            &self,
            product: PaymentProduct,
            id: &str,
        ) -> Result<(), PaymentError> {
            through!(self, self.inner.cancel_payment(product, id))
        }
        async fn start_authorisation(
            &self,
            product: PaymentProduct,
            id: &str,
            psu: Option<&str>,
        ) -> Result<PaymentSca, PaymentError> {
            through!(self, self.inner.start_authorisation(product, id, psu))
        }
    }
}

/// A bank-app session of a payer, to approve decoupled SCA like the customer would.
async fn app_session(http: &reqwest::Client, bank: &str, psu: &str) -> anyhow::Result<String> {
    let page = http
        .post(format!("{bank}/app/login"))
        .form(&[("psu_id", psu), ("password", "demo")])
        .send()
        .await?
        .text()
        .await?;
    let marker = "name=\"session\" value=\"";
    let s = page.find(marker).context("bank app login failed")? + marker.len();
    let e = page[s..].find('"').context("bank app page")?;
    Ok(page[s..s + e].to_owned())
}

/// P2P payments through the payment driver against a sandbox bank at `bank_url` (served by
/// `bank`), with faults injected between driver and bank. Returns its JSON figures.
pub async fn run_pis(bank: &SandboxBank, bank_url: &str, b: &PisBench) -> anyhow::Result<Value> {
    use okienko_bank::ScaApproach;
    use okienko_bank::pis::PaymentProduct;
    use okienko_core::{CustomerId, Iban, Lang, SystemClock};
    use okienko_payments::{PaymentState, Payments, TransferOrder};
    use okienko_store::{CustomerRecord, KeyId, Keyring, MasterKey, Store};

    let dir = tempfile_dir()?;
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()?;
    let store = Store::connect(
        &format!("sqlite://{}", dir.join("bench.sqlite").display()),
        Keyring::single(KeyId::new("bench-1")?, MasterKey::from_bytes([7; 32])),
    )
    .await?;
    // Payers and payees: the bank's PLN customers, each paying the next.
    struct Party {
        psu: String,
        iban: Iban,
        customer: CustomerId,
        session: String,
    }
    let mut parties = Vec::new();
    for login in bank.demo_logins() {
        if login.currency.code() != "PLN" {
            continue;
        }
        let t: Value = http
            .get(format!("{bank_url}/sandbox/customers/{}", login.psu_id))
            .send()
            .await?
            .json()
            .await?;
        let Some(iban) = t["accounts"][0]["iban"]
            .as_str()
            .and_then(|s| s.parse::<Iban>().ok())
        else {
            continue;
        };
        let customer = CustomerId::new();
        store
            .upsert_customer(&CustomerRecord {
                id: customer,
                lang: Lang::Pl,
                tz: "Europe/Warsaw".into(),
                created_at: chrono::Utc::now(),
            })
            .await?;
        let session = app_session(&http, bank_url, &login.psu_id).await?;
        parties.push(Party {
            psu: login.psu_id,
            iban,
            customer,
            session,
        });
    }
    anyhow::ensure!(parties.len() >= 2, "the P2P part needs two PLN customers");
    let parties = Arc::new(parties);
    let net = Arc::new(pis::FaultyNet::new(bank_url, b.fault_rate, b.seed)?);
    let driver = Payments::new(store.clone(), net.clone(), Arc::new(SystemClock));
    let amount = Money::parse("1.00", "PLN")?;

    eprintln!(
        "{} P2P payments through the payment driver (fault rate {})…",
        b.payments, b.fault_rate
    );
    #[derive(Default)]
    struct Outcome {
        action: String,
        initiated_ms: Option<f64>,
        completed_ms: Option<f64>,
        state: Option<PaymentState>,
        attempts: u32,
    }
    let next_i = Arc::new(AtomicUsize::new(0));
    let t = Instant::now();
    let mut workers = Vec::new();
    for _ in 0..b.concurrency.max(1) {
        let (driver, store, parties, next_i, http, bank_url) = (
            driver.clone(),
            store.clone(),
            parties.clone(),
            next_i.clone(),
            http.clone(),
            bank_url.to_owned(),
        );
        let (n, seed) = (b.payments, b.seed);
        workers.push(tokio::spawn(async move {
            let mut out = Vec::new();
            loop {
                let i = next_i.fetch_add(1, Ordering::Relaxed);
                if i >= n {
                    break;
                }
                let payer = &parties[i % parties.len()];
                let payee = &parties[(i + 1) % parties.len()];
                let order = TransferOrder {
                    action: uuid::Uuid::from_u64_pair(seed, i as u64),
                    product: PaymentProduct::InstantSepaCreditTransfer,
                    debtor: payer.iban.clone(),
                    creditor: payee.iban.clone(),
                    creditor_name: "Bench Payee".into(),
                    amount,
                    remittance: Some(format!("bench {i}")),
                    psu_id: Some(payer.psu.clone()),
                    psu_ip: "127.0.0.1".into(),
                    approach: ScaApproach::Decoupled,
                    redirect_uri: None,
                };
                let s = Instant::now();
                let mut o = Outcome {
                    action: order.action.to_string(),
                    ..Outcome::default()
                };
                let mut id: Option<String> = None;
                // The chat re-sends the confirmation until the driver has a payment, then the
                // driver follows it; the customer approves in the bank app when asked.
                while o.attempts < 400 {
                    o.attempts += 1;
                    let v = match &id {
                        None => driver.start(payer.customer, &order).await,
                        Some(id) => driver.step(id).await,
                    };
                    let Ok(v) = v else {
                        tokio::time::sleep(Duration::from_millis(2)).await;
                        continue;
                    };
                    id = Some(v.id.clone());
                    if o.initiated_ms.is_none()
                        && !matches!(v.state, PaymentState::Requested | PaymentState::Unknown)
                    {
                        o.initiated_ms = Some(s.elapsed().as_secs_f64() * 1000.0);
                    }
                    if v.state.is_final() {
                        o.completed_ms = Some(s.elapsed().as_secs_f64() * 1000.0);
                        o.state = Some(v.state);
                        break;
                    }
                    if v.state == PaymentState::AwaitingSca
                        && let Ok(Some(rec)) = bank_payment_id(&store, &v.id).await
                    {
                        let _ = http
                            .post(format!("{bank_url}/app/decide"))
                            .form(&[
                                ("session", payer.session.as_str()),
                                ("payment_id", rec.as_str()),
                                ("decision", "approve"),
                            ])
                            .send()
                            .await;
                    }
                }
                out.push(o);
            }
            out
        }));
    }
    let mut outcomes = Vec::new();
    for w in workers {
        outcomes.extend(w.await?);
    }
    let secs = t.elapsed().as_secs_f64();
    let seen = net.seen.lock().map(|s| s.clone()).unwrap_or_default();

    // Exactly once: one stored row per action, one bank payment per row's key, and the bank's
    // final status the one the gateway recorded.
    let ledger: Value = http
        .get(format!("{bank_url}/sandbox/ledger"))
        .send()
        .await?
        .json()
        .await?;
    let mut at_bank: std::collections::HashMap<String, Vec<String>> = Default::default();
    for p in ledger["payments"].as_array().into_iter().flatten() {
        at_bank
            .entry(p["requestId"].as_str().unwrap_or_default().to_owned())
            .or_default()
            .push(
                p["transactionStatus"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned(),
            );
    }
    let mut rows_by_action: std::collections::HashMap<String, Vec<okienko_store::PaymentRecord>> =
        Default::default();
    for p in parties.iter() {
        for r in store.customer_payments(p.customer).await? {
            rows_by_action
                .entry(r.action_key.clone())
                .or_default()
                .push(r);
        }
    }
    let mut exactly_once = 0;
    let (mut executed, mut rejected) = (0, 0);
    for o in &outcomes {
        match o.state {
            Some(PaymentState::Executed) => executed += 1,
            Some(PaymentState::Rejected) => rejected += 1,
            _ => {}
        }
        let Some(rows) = rows_by_action.get(&o.action) else {
            continue;
        };
        let [row] = rows.as_slice() else { continue };
        let want = match PaymentState::parse(&row.state) {
            Some(PaymentState::Executed) => "ACSC",
            Some(PaymentState::Rejected) => "RJCT",
            Some(PaymentState::Cancelled) => "CANC",
            _ => continue,
        };
        if at_bank
            .get(&row.request_id)
            .is_some_and(|l| l.len() == 1 && l[0] == want)
        {
            exactly_once += 1;
        }
    }
    let stored_total: usize = rows_by_action.values().map(Vec::len).sum();
    let duplicated_at_bank = at_bank.values().filter(|l| l.len() > 1).count();
    let mut init: Vec<f64> = outcomes.iter().filter_map(|o| o.initiated_ms).collect();
    let mut done: Vec<f64> = outcomes.iter().filter_map(|o| o.completed_ms).collect();
    init.sort_by(f64::total_cmp);
    done.sort_by(f64::total_cmp);
    let calls: u64 = seen.values().sum();
    let faults: u64 = calls - seen.get("pass").copied().unwrap_or(0);
    let attempts: u64 = outcomes.iter().map(|o| u64::from(o.attempts)).sum();
    let _ = std::fs::remove_dir_all(&dir);
    Ok(json!({
        "path": "chat action → payment driver (persisted state machine, SQLite) → faulty network → sandbox bank PIS over HTTP; decoupled SCA approved in the bank app",
        "product": "instant-sepa-credit-transfers (PLN, domestic instant)",
        "requested": b.payments,
        "concurrency": b.concurrency,
        "fault_rate": b.fault_rate,
        "faults": {
            "bank_calls": calls,
            "injected": faults,
            "observed_rate": faults as f64 / (calls.max(1) as f64),
            "by_kind": seen,
        },
        "initiated": init.len(),
        "completed": done.len(),
        "executed": executed,
        "rejected": rejected,
        "initiated_per_second": init.len() as f64 / secs.max(1e-9),
        "completed_per_second": done.len() as f64 / secs.max(1e-9),
        "initiation_p50_ms": percentile(&init, 0.50),
        "initiation_p99_ms": percentile(&init, 0.99),
        "p50_ms": percentile(&done, 0.50),
        "p99_ms": percentile(&done, 0.99),
        "driver_steps": attempts,
        "stored_payments": stored_total,
        "bank_payments": at_bank.values().map(Vec::len).sum::<usize>(),
        "keys_paid_twice": duplicated_at_bank,
        "exactly_once": exactly_once,
        "bank_ledger_consistent": ledger["consistent"],
        "seconds": secs,
    }))
}

/// The bank's id of a stored payment, once the bank gave one.
async fn bank_payment_id(store: &okienko_store::Store, id: &str) -> anyhow::Result<Option<String>> {
    Ok(store.payment(id).await?.and_then(|r| r.bank_payment_id))
}
