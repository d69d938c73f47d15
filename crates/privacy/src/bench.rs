//! `bench_gate`: what the privacy gate adds to a read, beside a direct store read of the same
//! data in the same run, and what the Cedar decision alone costs.
//!
//! A throwaway SQLite store gets one customer with a valid consent, two accounts and ~2,000
//! transactions. Gate reads and direct reads alternate, so both see the same cache and load. The
//! gate's overhead is the consent lookup, the Cedar decision and the audit append (a database
//! write); the decision-only figure isolates the policy decision the target is about.
//!
//! The decision is measured twice in the same run: as the gate makes it (Cedar's verdict from
//! the decision cache, keyed by the request's shape; see `decision_cache`) and with Cedar asked
//! every time (an engine without the cache: the figure before the cache, and what a request of a
//! shape never seen before costs once). Each timed decision is for a different customer, so a
//! cache keyed by customer could not help.

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{Duration as Days, Utc};
use okienko_core::{
    Account, AccountId, Balance, BalanceKind, BookingStatus, Clock, ConsentId, ConsentScope,
    ConsentStatus, Currency, CustomerId, Lang, Money, SystemClock, TransactionId, TxFilter,
};
use okienko_store::{
    AccountRecord, ConsentRecord, CustomerRecord, Keyring, NewTransaction, Store, TxBatch,
};
use serde_json::{Value, json};

use crate::gate::PrivacyGate;
use crate::policy::{Facts, PolicyEngine};
use crate::purpose::{AccessRequest, ChannelContext, Purpose};

/// Decision overhead the issue allows at p99.
const TARGET_DECISION_P99_US: f64 = 20.0;
const TRANSACTIONS: usize = 2_000;
const PAGE: u32 = 50;
/// Cedar alone is slow enough that this many samples give a stable p99.
const CEDAR_ITERATIONS: usize = 20_000;

#[derive(Debug, thiserror::Error)]
enum BenchError {
    #[error("temporary directory: {0}")]
    Io(#[from] std::io::Error),
    #[error("store: {0}")]
    Store(#[from] okienko_store::StoreError),
    #[error("fixture: {0}")]
    Fixture(String),
    #[error("gate: {0}")]
    Gate(#[from] crate::gate::AccessError),
    #[error("policies: {0}")]
    Policy(#[from] crate::policy::PolicyError),
}

/// Runs `n` timed iterations of each measurement and returns the figures as JSON (µs). Progress
/// goes to stderr; nothing is printed to stdout.
pub async fn bench_gate(n: usize) -> Value {
    match run(n.clamp(10, 1_000_000)).await {
        Ok(v) => v,
        Err(e) => json!({ "bench": "privacy_gate", "error": e.to_string() }),
    }
}

fn us(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
}

fn stats(samples: &mut [f64]) -> Value {
    samples.sort_by(f64::total_cmp);
    let at = |q: f64| {
        let i = ((samples.len() as f64 - 1.0) * q).round() as usize;
        samples.get(i).copied().unwrap_or(0.0)
    };
    let mean = samples.iter().sum::<f64>() / samples.len().max(1) as f64;
    json!({
        "p50": round(at(0.50)),
        "p99": round(at(0.99)),
        "mean": round(mean),
    })
}

fn round(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

fn pair(direct: &mut [f64], gated: &mut [f64]) -> Value {
    let d = stats(direct);
    let g = stats(gated);
    let diff = |k: &str| round(g[k].as_f64().unwrap_or(0.0) - d[k].as_f64().unwrap_or(0.0));
    json!({
        "direct_us": d,
        "gate_us": g,
        "added_us": { "p50": diff("p50"), "p99": diff("p99"), "mean": diff("mean") },
    })
}

async fn run(n: usize) -> Result<Value, BenchError> {
    let dir = tempfile::tempdir()?;
    let url = format!(
        "sqlite://{}?mode=rwc",
        dir.path().join("gate-bench.sqlite").display()
    );
    let store = Store::connect(&url, Keyring::generate()).await?;
    let customer = fixture(&store).await?;
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let engine = PolicyEngine::embedded_shared()?;
    let gate = PrivacyGate::with_engine(store.clone(), clock, engine.clone());
    let bal_req =
        AccessRequest::customer(customer, Purpose::ServiceBalance, ChannelContext::WebChat);
    let tx_req = AccessRequest::customer(
        customer,
        Purpose::ServiceTransactions,
        ChannelContext::WebChat,
    );
    let filter = TxFilter::default();

    eprintln!("bench gate: warming up");
    for _ in 0..(n / 10).max(10) {
        gate.balances(&bal_req).await?;
        gate.transactions(&tx_req, &filter, 0, PAGE).await?;
        store.accounts_for_customer(customer).await?;
        store.balances_for_customer(customer).await?;
        store
            .transactions_for_customer(customer, &filter, 0, PAGE)
            .await?;
    }

    eprintln!("bench gate: {n} balance reads each way");
    let (mut direct_bal, mut gate_bal) = (Vec::with_capacity(n), Vec::with_capacity(n));
    for _ in 0..n {
        let t = Instant::now();
        store.accounts_for_customer(customer).await?;
        store.balances_for_customer(customer).await?;
        direct_bal.push(us(t.elapsed()));
        let t = Instant::now();
        gate.balances(&bal_req).await?;
        gate_bal.push(us(t.elapsed()));
    }

    eprintln!("bench gate: {n} transaction pages each way");
    let (mut direct_tx, mut gate_tx) = (Vec::with_capacity(n), Vec::with_capacity(n));
    for _ in 0..n {
        let t = Instant::now();
        store
            .transactions_for_customer(customer, &filter, 0, PAGE)
            .await?;
        direct_tx.push(us(t.elapsed()));
        let t = Instant::now();
        gate.transactions(&tx_req, &filter, 0, PAGE).await?;
        gate_tx.push(us(t.elapsed()));
    }

    eprintln!("bench gate: {n} decisions each way (cached, Cedar every time)");
    let cedar = PolicyEngine::embedded()?.without_cache();
    let (cached, uncached) = (
        decisions(&engine, n),
        decisions(&cedar, n.min(CEDAR_ITERATIONS)),
    );
    let [mut allow, mut forbid, mut explained] = cached;
    let [mut cedar_allow, mut cedar_forbid, mut cedar_explained] = uncached;
    let decision = stats(&mut allow);
    let p99 = decision["p99"].as_f64().unwrap_or(f64::INFINITY);
    let audit_rows = gate.verify_audit().await?.rows;
    Ok(json!({
        "bench": "privacy_gate",
        "iterations": n,
        "transactions_in_store": TRANSACTIONS,
        "page_size": PAGE,
        "balances": pair(&mut direct_bal, &mut gate_bal),
        "transactions": pair(&mut direct_tx, &mut gate_tx),
        "decision_only_us": {
            "allow": decision,
            "deny_forbidden": stats(&mut forbid),
            "deny_explained": stats(&mut explained),
        },
        "decision_cedar_every_time_us": {
            "allow": stats(&mut cedar_allow),
            "deny_forbidden": stats(&mut cedar_forbid),
            "deny_explained": stats(&mut cedar_explained),
        },
        "decision_cache": engine.cache_stats(),
        "target_decision_p99_us": TARGET_DECISION_P99_US,
        "decision_meets_target": p99 <= TARGET_DECISION_P99_US,
        "audit_rows_written": audit_rows,
        "note": "gate overhead = consent lookup + Cedar decision + hash-chained audit append (one database write per read)",
    }))
}

/// Timed decisions of three kinds (allow; a forbidden purpose; a denial explained by asking the
/// policies why), each for a fresh customer id. The requests are built before the clock starts.
fn decisions(engine: &PolicyEngine, n: usize) -> [Vec<f64>; 3] {
    let facts = Facts {
        valid_scopes: vec![ConsentScope::Balances, ConsentScope::Transactions],
        ..Facts::default()
    };
    let no_consent = Facts::default();
    let mut out = [
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
    ];
    for _ in 0..n {
        let c = CustomerId::new();
        let cases = [
            (
                AccessRequest::customer(c, Purpose::ServiceBalance, ChannelContext::WebChat),
                &facts,
            ),
            (
                AccessRequest::customer(c, Purpose::Advertising, ChannelContext::WebChat),
                &facts,
            ),
            (
                AccessRequest::customer(c, Purpose::ServiceBalance, ChannelContext::WebChat),
                &no_consent,
            ),
        ];
        for (i, (req, facts)) in cases.iter().enumerate() {
            let t = Instant::now();
            std::hint::black_box(engine.decide(std::hint::black_box(req), facts));
            out[i].push(us(t.elapsed()));
        }
    }
    out
}

/// One customer, a valid consent, two accounts with balances, and ~2,000 transactions.
async fn fixture(store: &Store) -> Result<CustomerId, BenchError> {
    let now = Utc::now();
    let today = now.date_naive();
    let customer = CustomerId::new();
    store
        .upsert_customer(&CustomerRecord {
            id: customer,
            lang: Lang::Pl,
            tz: "Europe/Warsaw".into(),
            created_at: now,
        })
        .await?;
    let consent = ConsentId::new();
    store
        .insert_consent(&ConsentRecord {
            id: consent,
            customer,
            bank: "sandbox".into(),
            bank_consent_id: Some("bench".into()),
            status: ConsentStatus::Valid,
            scopes: vec![ConsentScope::Balances, ConsentScope::Transactions],
            valid_until: today + Days::days(90),
            frequency_per_day: 4,
            recurring: true,
            access_token: None,
            oauth_state: None,
            pkce_verifier: None,
            created_at: now,
            updated_at: now,
        })
        .await?;
    let money = |s: &str| Money::parse(s, "PLN").map_err(|e| BenchError::Fixture(e.to_string()));
    let merchants = ["Biedronka", "Żabka", "Orlen", "Rossmann", "Allegro", "Lidl"];
    for (a, name) in ["Konto osobiste", "Konto oszczędnościowe"]
        .iter()
        .enumerate()
    {
        let account = AccountId::new();
        store
            .upsert_account(&AccountRecord {
                account: Account {
                    id: account,
                    iban: None,
                    currency: Currency::PLN,
                    name: (*name).into(),
                },
                customer,
                consent,
                bank_resource_id: format!("acc-{a}"),
            })
            .await?;
        store
            .replace_balances(
                account,
                &[Balance {
                    account_id: account,
                    kind: BalanceKind::InterimAvailable,
                    amount: money("5234.56")?,
                    reference_date: None,
                    fetched_at: now,
                }],
            )
            .await?;
        let mut insert = Vec::with_capacity(TRANSACTIONS / 2);
        for i in 0..TRANSACTIONS / 2 {
            let date = today - Days::days((i % 730) as i64);
            let merchant = merchants[i % merchants.len()];
            insert.push(NewTransaction {
                id: TransactionId::new(),
                bank_transaction_id: Some(format!("t-{a}-{i}")),
                status: BookingStatus::Booked,
                date,
                booking_date: Some(date),
                value_date: None,
                amount: money(&format!("-{}.{:02}", 5 + i % 300, i % 100))?,
                merchant: Some(merchant.into()),
                raw_description: format!("PLATNOSC KARTA {}", merchant.to_uppercase()),
                category: None,
                counterparty_iban: None,
                end_to_end_id: None,
                fingerprint: format!("f-{a}-{i}"),
            });
        }
        store
            .apply_transactions(
                account,
                &TxBatch {
                    insert,
                    update: vec![],
                    delete: vec![],
                },
            )
            .await?;
    }
    Ok(customer)
}
