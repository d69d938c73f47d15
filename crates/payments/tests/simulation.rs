//! Deterministic simulation of exactly-once payments (after TigerBeetle's VOPR): a real sandbox
//! bank over real HTTP, a real SQLite store, a fake clock, and between driver and bank a network
//! that drops answers (the bank acted, we never hear), fails requests (the bank never saw them),
//! duplicates them and delays them. The chat retries messages and double-clicks, customers
//! approve or reject in the bank app, and the driver is killed (dropped and rebuilt from the
//! store, then `recover()`) at random steps. After every step the bank's ledger must be
//! consistent and no chat action may have more than one payment at the bank or in the store;
//! at the end every action must have exactly one payment whose final state matches the bank's.
//!
//! A run is a pure function of its seed. A failure prints `SIM SEED n`; replay it with
//! `OKIENKO_SIM_SEED=n cargo nextest run -p okienko-payments --test simulation`.
//! `OKIENKO_SIM_RUNS` sets how many seeds a normal run tries (default 12).

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use chrono::{NaiveDate, TimeZone, Utc};
use okienko_bank::pis::{
    PaymentError, PaymentInitiated, PaymentInitiation, PaymentOrder, PaymentProduct, PaymentSca,
    PaymentStatus,
};
use okienko_bank::{ConnectorError, NextGenPsd2Connector, RetryPolicy, ScaApproach};
use okienko_core::{CustomerId, FixedClock, Iban, Lang, Money};
use okienko_payments::{PaymentState, Payments, TransferOrder};
use okienko_sandbox_bank::{SandboxBank, SandboxConfig};
use okienko_store::{CustomerRecord, KeyId, Keyring, MasterKey, Store};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde_json::Value;
use uuid::Uuid;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fault {
    Pass,
    Fail,
    Drop,
    Duplicate,
    Delay,
}

/// The network between driver and bank, faults drawn from the seed.
struct Net {
    inner: NextGenPsd2Connector,
    rng: Mutex<ChaCha8Rng>,
    clock: Arc<FixedClock>,
    faulty: Mutex<bool>,
    seen: Mutex<BTreeMap<&'static str, u32>>,
}

impl Net {
    fn pick(&self) -> Fault {
        let faulty = *self.faulty.lock().unwrap();
        let mut r = self.rng.lock().unwrap();
        let f = if !faulty {
            Fault::Pass
        } else {
            match r.random_range(0..100) {
                0..=11 => Fault::Fail,
                12..=23 => Fault::Drop,
                24..=33 => Fault::Duplicate,
                34..=43 => Fault::Delay,
                _ => Fault::Pass,
            }
        };
        if f == Fault::Delay {
            self.clock
                .advance(chrono::Duration::seconds(r.random_range(1..120)));
        }
        let name = match f {
            Fault::Pass => "pass",
            Fault::Fail => "fail",
            Fault::Drop => "drop",
            Fault::Duplicate => "duplicate",
            Fault::Delay => "delay",
        };
        *self.seen.lock().unwrap().entry(name).or_default() += 1;
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
        match $self.pick() {
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
impl PaymentInitiation for Net {
    async fn initiate_payment(
        &self,
        order: &PaymentOrder,
        key: Uuid,
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
    async fn cancel_payment(&self, product: PaymentProduct, id: &str) -> Result<(), PaymentError> {
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

struct World {
    base: String,
    http: reqwest::Client,
    store: Store,
    net: Arc<Net>,
    clock: Arc<FixedClock>,
    customer: CustomerId,
    _dir: tempfile::TempDir,
}

async fn world(seed: u64) -> World {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let bank = SandboxBank::new(SandboxConfig {
        customers: 30,
        seed: 11,
        today: NaiveDate::from_ymd_opt(2026, 10, 15).unwrap(),
        control_api: true,
    });
    tokio::spawn(bank.serve(listener, std::future::pending()));
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("sim.sqlite").display());
    let store = Store::connect(
        &url,
        Keyring::single(KeyId::new("sim-1").unwrap(), MasterKey::from_bytes([3; 32])),
    )
    .await
    .unwrap();
    let clock = Arc::new(FixedClock::new(
        Utc.with_ymd_and_hms(2026, 10, 15, 9, 0, 0).unwrap(),
    ));
    let customer = CustomerId::new();
    store
        .upsert_customer(&CustomerRecord {
            id: customer,
            lang: Lang::Pl,
            tz: "Europe/Warsaw".into(),
            created_at: clock.now_utc(),
        })
        .await
        .unwrap();
    let inner = NextGenPsd2Connector::new(&base, "okienko", Duration::from_secs(5))
        .unwrap()
        .with_retry(RetryPolicy {
            max_attempts: 1,
            base: Duration::from_millis(1),
            cap: Duration::from_millis(1),
        });
    let net = Arc::new(Net {
        inner,
        rng: Mutex::new(ChaCha8Rng::seed_from_u64(seed ^ 0x6e6574)),
        clock: clock.clone(),
        faulty: Mutex::new(true),
        seen: Mutex::default(),
    });
    World {
        base,
        http: reqwest::Client::new(),
        store,
        net,
        clock,
        customer,
        _dir: dir,
    }
}

trait NowUtc {
    fn now_utc(&self) -> chrono::DateTime<Utc>;
}
impl NowUtc for FixedClock {
    fn now_utc(&self) -> chrono::DateTime<Utc> {
        okienko_core::Clock::now(self)
    }
}

impl World {
    fn driver(&self) -> Payments {
        Payments::new(self.store.clone(), self.net.clone(), self.clock.clone())
    }

    async fn get(&self, path: &str) -> Value {
        self.http
            .get(format!("{}{path}", self.base))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    /// The customer's decision in the bank app on whatever bank payment carries `key`.
    async fn decide(&self, bank_payment_id: &str, decision: &str) {
        common::decide_in_bank_app(&self.http, &self.base, bank_payment_id, decision).await;
    }

    /// Bank-side payments by X-Request-ID, after checking the ledger's own invariants.
    async fn bank_payments(&self, seed: u64, step: usize) -> BTreeMap<String, Vec<Value>> {
        let l = self.get("/sandbox/ledger").await;
        assert_eq!(
            l["consistent"], true,
            "SIM SEED {seed} step {step}: ledger inconsistent: {l}"
        );
        let mut by_key: BTreeMap<String, Vec<Value>> = BTreeMap::new();
        for p in l["payments"].as_array().unwrap() {
            by_key
                .entry(p["requestId"].as_str().unwrap().to_owned())
                .or_default()
                .push(p.clone());
        }
        by_key
    }
}

async fn payees(w: &World) -> (Iban, Vec<Iban>) {
    let anna: Iban = w.get("/sandbox/customers/anna").await["accounts"][0]["iban"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    let mut out = Vec::new();
    for i in 3..=30 {
        let t = w.get(&format!("/sandbox/customers/cust{i:05}")).await;
        if t["currency"] == "PLN" {
            out.push(t["accounts"][0]["iban"].as_str().unwrap().parse().unwrap());
        }
        if out.len() == 3 {
            break;
        }
    }
    assert!(!out.is_empty());
    (anna, out)
}

/// (booked, pending) sums of the payment entries on the account as its holder sees them
/// (generated history moves with the bank's day, so only payments are compared).
async fn payment_entries(w: &World, psu: &str, iban: &Iban) -> (rust_decimal::Decimal, usize) {
    let t = w.get(&format!("/sandbox/customers/{psu}")).await;
    let a = t["accounts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["iban"] == iban.expose())
        .unwrap()
        .clone();
    let mut booked = rust_decimal::Decimal::ZERO;
    let mut pending = 0;
    for tx in a["transactions"].as_array().unwrap() {
        if !tx["transactionId"].as_str().unwrap().starts_with("pis-") {
            continue;
        }
        if tx["status"] == "booked" {
            booked += tx["amount"]
                .as_str()
                .unwrap()
                .parse::<rust_decimal::Decimal>()
                .unwrap();
        } else {
            pending += 1;
        }
    }
    (booked, pending)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Plan {
    Approve,
    Reject,
    Cancel,
}

async fn run(seed: u64) {
    let w = world(seed).await;
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let (anna, payees) = payees(&w).await;

    // The chat actions of this run: amount, payee, product, what the customer will do.
    let n = rng.random_range(2..=5);
    let mut orders = Vec::new();
    let mut plans = Vec::new();
    for _ in 0..n {
        let cents: i64 = rng.random_range(100..20_000);
        let product = if rng.random_bool(0.7) {
            PaymentProduct::InstantSepaCreditTransfer
        } else {
            PaymentProduct::SepaCreditTransfer
        };
        orders.push(TransferOrder {
            action: Uuid::from_u128(rng.random()),
            product,
            debtor: anna.clone(),
            creditor: payees[rng.random_range(0..payees.len())].clone(),
            creditor_name: "Jan Kowalski".into(),
            amount: Money::new(
                rust_decimal::Decimal::new(cents, 2),
                okienko_core::Currency::PLN,
            )
            .unwrap(),
            remittance: Some("sim".into()),
            psu_id: Some("anna".into()),
            psu_ip: "127.0.0.1".into(),
            approach: ScaApproach::Decoupled,
            redirect_uri: None,
        });
        plans.push(match rng.random_range(0..10) {
            0..=5 => Plan::Approve,
            6..=7 => Plan::Reject,
            _ => Plan::Cancel,
        });
    }

    let mut driver = w.driver();
    let mut ids: BTreeMap<usize, String> = BTreeMap::new();
    let steps = rng.random_range(25..60);
    for step in 0..steps {
        match rng.random_range(0..100) {
            // The chat: a (re)sent confirmation or a double click.
            0..=29 => {
                let i = rng.random_range(0..n);
                if let Ok(v) = driver.start(w.customer, &orders[i]).await {
                    ids.insert(i, v.id);
                }
            }
            // The driver moves a payment on.
            30..=54 => {
                if let Some((_, id)) = ids.iter().nth(rng.random_range(0..ids.len().max(1))) {
                    let _ = driver.step(id).await;
                }
            }
            // The customer acts at the bank, as planned for that payment.
            55..=69 => {
                let i = rng.random_range(0..n);
                if let Some(id) = ids.get(&i)
                    && let Ok(Some(rec)) = w.store.payment(id).await
                {
                    match (plans[i], rec.bank_payment_id) {
                        (Plan::Approve, Some(b)) => w.decide(&b, "approve").await,
                        (Plan::Reject, Some(b)) => w.decide(&b, "reject").await,
                        (Plan::Cancel, _) => {
                            let _ = driver.cancel(id).await;
                        }
                        _ => {}
                    }
                }
            }
            // The gateway is killed and restarts: a new driver from the store, then recovery.
            70..=84 => {
                drop(driver);
                driver = w.driver();
                let _ = driver.recover().await;
            }
            // Time passes at the bank (SEPA transfers book on the next day).
            _ => {
                let today = w.get("/sandbox/clock").await["today"]
                    .as_str()
                    .unwrap()
                    .parse::<NaiveDate>()
                    .unwrap();
                let next = (today + chrono::Days::new(1)).to_string();
                w.http
                    .post(format!("{}/sandbox/clock", w.base))
                    .json(&serde_json::json!({ "today": next }))
                    .send()
                    .await
                    .unwrap();
                w.clock.advance(chrono::Duration::days(1));
            }
        }
        // Invariants after every step.
        let bank = w.bank_payments(seed, step).await;
        for (k, list) in &bank {
            assert_eq!(
                list.len(),
                1,
                "SIM SEED {seed} step {step}: key {k} paid {} times",
                list.len()
            );
        }
        let stored = w.store.customer_payments(w.customer).await.unwrap();
        let actions: BTreeSet<&str> = stored.iter().map(|p| p.action_key.as_str()).collect();
        assert_eq!(
            actions.len(),
            stored.len(),
            "SIM SEED {seed} step {step}: two rows for one action"
        );
        let keys: BTreeSet<&str> = stored.iter().map(|p| p.request_id.as_str()).collect();
        for k in bank.keys() {
            assert!(
                keys.contains(k.as_str()),
                "SIM SEED {seed} step {step}: bank payment without a stored row"
            );
        }
    }

    // Quiesce: the network heals, every action is (re)confirmed, the customer finishes.
    *w.net.faulty.lock().unwrap() = false;
    drop(driver);
    let driver = w.driver();
    driver.recover().await.unwrap();
    for (i, o) in orders.iter().enumerate() {
        let v = driver.start(w.customer, o).await.unwrap();
        ids.insert(i, v.id);
    }
    for round in 0..6 {
        for (i, id) in &ids {
            let rec = w.store.payment(id).await.unwrap().unwrap();
            if PaymentState::parse(&rec.state).unwrap().is_final() {
                continue;
            }
            match (plans[*i], rec.bank_payment_id) {
                (Plan::Approve, Some(b)) => w.decide(&b, "approve").await,
                (Plan::Reject, Some(b)) => w.decide(&b, "reject").await,
                (Plan::Cancel, _) => {
                    driver.cancel(id).await.unwrap();
                }
                _ => {}
            }
            driver.step(id).await.unwrap();
        }
        if round >= 2 {
            // SEPA transfers book the next bank day.
            let today = w.get("/sandbox/clock").await["today"]
                .as_str()
                .unwrap()
                .parse::<NaiveDate>()
                .unwrap();
            w.http
                .post(format!("{}/sandbox/clock", w.base))
                .json(&serde_json::json!({ "today": (today + chrono::Days::new(1)).to_string() }))
                .send()
                .await
                .unwrap();
        }
    }

    // Exactly once, for every action: one row, one bank payment, the same final outcome.
    let bank = w.bank_payments(seed, steps).await;
    let stored = w.store.customer_payments(w.customer).await.unwrap();
    assert_eq!(stored.len(), n, "SIM SEED {seed}: one row per action");
    let mut executed = rust_decimal::Decimal::ZERO;
    for rec in &stored {
        let state = PaymentState::parse(&rec.state).unwrap();
        assert!(
            state.is_final(),
            "SIM SEED {seed}: {} left {:?}",
            rec.id,
            state
        );
        let at_bank = bank.get(&rec.request_id);
        let bank_status = at_bank.map(|l| l[0]["transactionStatus"].as_str().unwrap().to_owned());
        let expected = match state {
            PaymentState::Executed => Some("ACSC"),
            PaymentState::Rejected => Some("RJCT"),
            PaymentState::Cancelled => Some("CANC"),
            _ => None,
        };
        assert_eq!(
            bank_status.as_deref(),
            expected,
            "SIM SEED {seed}: {} store {state:?} vs bank",
            rec.id
        );
        if state == PaymentState::Executed {
            executed += rec.amount.amount();
        }
    }
    assert_eq!(
        bank.len(),
        n,
        "SIM SEED {seed}: one bank payment per action"
    );
    let (booked, pending) = payment_entries(&w, "anna", &anna).await;
    assert_eq!(
        -booked, executed,
        "SIM SEED {seed}: money left exactly once"
    );
    assert_eq!(pending, 0, "SIM SEED {seed}: nothing left reserved");
    let seen = w.net.seen.lock().unwrap().clone();
    eprintln!("SIM SEED {seed}: ok, {n} payments, {steps} steps, network {seen:?}");
}

#[tokio::test(flavor = "current_thread")]
async fn exactly_once_under_faults_and_restarts() {
    if let Some(seed) = std::env::var("OKIENKO_SIM_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
    {
        eprintln!("SIM SEED {seed} (replay)");
        run(seed).await;
        return;
    }
    let runs: u64 = std::env::var("OKIENKO_SIM_RUNS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(12);
    for seed in 1..=runs {
        eprintln!("SIM SEED {seed}");
        run(seed).await;
    }
}
