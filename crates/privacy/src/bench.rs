//! `bench_gate`: what the privacy gate adds to a read, beside a direct store read of the same
//! data in the same run, where the time goes, and what the Cedar decision alone costs.
//!
//! A throwaway store (a SQLite file; and a PostgreSQL schema when a URL is given) gets one
//! customer with a valid consent, two accounts and ~2,000 transactions. Gate reads and direct
//! reads alternate, so both see the same cache and load.
//!
//! What is measured, per backend:
//!
//! * `balances`, `transactions`: direct read vs gated read as the dialog makes it (inside
//!   [`PrivacyGate::deferred_audit`]: consent cache, cached decision, audit row held until the
//!   scope ends), and the difference: the figure the target (p99 ≤ 20 µs added per
//!   access) is about.
//! * `reply_with_audit_barrier_us`: one gated read in its own deferred scope, i.e. the read plus
//!   waiting for its audit row to be durable, as a reply that is sent at once pays it (the
//!   worst case: nothing else overlaps the flush).
//! * `gated_waiting_for_own_row_us`: a read outside any scope (it waits for its own row; group
//!   commit shares the transaction with concurrent reads).
//! * `concurrent`: `TASKS` tasks reading at once outside any scope: accesses per second and
//!   latency, beside the same direct reads, and how many rows each audit transaction carried.
//! * `breakdown_us`: the parts: consent lookup from the cache, from the database (the query the
//!   cache saves) and as the gate did it before the cache (whole consent records, secrets
//!   decrypted); one audit row appended in its own transaction (what every read waited for before
//!   the queue); queuing one row.
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
    AccountRecord, AuditEntry, ConsentRecord, CustomerRecord, Keyring, NewTransaction, Store,
    TxBatch,
};
use serde_json::{Value, json};

use crate::gate::PrivacyGate;
use crate::policy::{Facts, PolicyEngine};
use crate::purpose::{AccessRequest, ChannelContext, Purpose};

/// Overhead per access the issue allows at p99.
const TARGET_ADDED_P99_US: f64 = 20.0;
const TRANSACTIONS: usize = 2_000;
const PAGE: u32 = 50;
/// Cedar alone is slow enough that this many samples give a stable p99.
const CEDAR_ITERATIONS: usize = 20_000;
/// Concurrent readers in the throughput part.
const TASKS: usize = 32;
/// Schema the PostgreSQL run uses (created if missing; rows of earlier runs stay).
const PG_SCHEMA: &str = "okienko_bench_gate";

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
    #[error("a reader task failed")]
    Join,
}

/// Runs `n` timed iterations of each measurement on SQLite and returns the figures as JSON (µs).
/// Progress goes to stderr; nothing is printed to stdout.
pub async fn bench_gate(n: usize) -> Value {
    bench_gate_with(n, None).await
}

/// As [`bench_gate`], and the same on PostgreSQL at `postgres` (a URL) when given.
pub async fn bench_gate_with(n: usize, postgres: Option<&str>) -> Value {
    match run(n.clamp(10, 1_000_000), postgres).await {
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

async fn run(n: usize, postgres: Option<&str>) -> Result<Value, BenchError> {
    let dir = tempfile::tempdir()?;
    let url = format!(
        "sqlite://{}?mode=rwc",
        dir.path().join("gate-bench.sqlite").display()
    );
    eprintln!("bench gate: SQLite");
    let store = Store::connect(&url, Keyring::generate()).await?;
    let sqlite = backend(store, n).await?;
    let postgres = match postgres {
        Some(url) => {
            eprintln!("bench gate: PostgreSQL");
            let store = Store::connect_isolated(url, PG_SCHEMA, Keyring::generate()).await?;
            Some(backend(store, n).await?)
        }
        None => None,
    };

    eprintln!("bench gate: {n} decisions each way (cached, Cedar every time)");
    let engine = PolicyEngine::embedded_shared()?;
    let cedar = PolicyEngine::embedded()?.without_cache();
    let (cached, uncached) = (
        decisions(&engine, n),
        decisions(&cedar, n.min(CEDAR_ITERATIONS)),
    );
    let [mut allow, mut forbid, mut explained] = cached;
    let [mut cedar_allow, mut cedar_forbid, mut cedar_explained] = uncached;
    let added_p99 = sqlite["gate_overhead_us"]["p99"]
        .as_f64()
        .unwrap_or(f64::INFINITY);
    let mut out = json!({
        "bench": "privacy_gate",
        "iterations": n,
        "transactions_in_store": TRANSACTIONS,
        "page_size": PAGE,
        "sqlite": sqlite,
        "decision_only_us": {
            "allow": stats(&mut allow),
            "deny_forbidden": stats(&mut forbid),
            "deny_explained": stats(&mut explained),
        },
        "decision_cedar_every_time_us": {
            "allow": stats(&mut cedar_allow),
            "deny_forbidden": stats(&mut cedar_forbid),
            "deny_explained": stats(&mut cedar_explained),
        },
        "decision_cache": engine.cache_stats(),
        "target_added_p99_us": TARGET_ADDED_P99_US,
        "sqlite_gate_overhead_p99_us": added_p99,
        "sqlite_meets_target": added_p99 <= TARGET_ADDED_P99_US,
        "note": "gate_overhead_us: the gate's own work per access timed alone (consent lookup, \
                 decision, audit row queued), what the target is judged on; added_us is the \
                 difference of two separately measured distributions and carries their noise. \
                 gate_us/added_us: the read as the dialog makes it (consent cache + cached Cedar \
                 decision + audit row held in the queue until the reply's scope ends; the reply \
                 then waits for its rows to be durable, see reply_with_audit_barrier_us). \
                 direct_beside_audit_writer_us: a direct read right after an audit flush was \
                 started, what every gated read paid while each started its own flush. \
                 gated_waiting_for_own_row_us: a read outside a deferred scope. breakdown_us: \
                 the parts, and the old per-read costs.",
    });
    if let Some(pg) = postgres {
        out["postgres"] = pg;
    }
    Ok(out)
}

/// Every measurement that depends on the store, on one backend.
async fn backend(store: Store, n: usize) -> Result<Value, BenchError> {
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

    eprintln!("bench gate: {n} balance reads and {n} transaction pages each way");
    // A direct read that queues an audit row first (not timed) and so runs beside the audit
    // writer like a gated read does: separates what the audit write does to the read (the
    // writer's commits) from the gate's own work.
    let queue_row = |action: &'static str| {
        gate.enqueue_audit(crate::audit::NewAudit {
            at: Utc::now(),
            actor: "customer".into(),
            subject: customer.to_string(),
            purpose: Purpose::ServiceBalance.as_str(),
            action,
            decision: "allow[customer_balance]",
            channel: "webchat",
        })
    };
    let timed = gate
        .deferred_audit(async {
            let (mut direct_bal, mut gate_bal) = (Vec::with_capacity(n), Vec::with_capacity(n));
            let mut writer_bal = Vec::with_capacity(n);
            for _ in 0..n {
                let t = Instant::now();
                store.accounts_for_customer(customer).await?;
                store.balances_for_customer(customer).await?;
                direct_bal.push(us(t.elapsed()));
                let t = Instant::now();
                gate.balances(&bal_req).await?;
                gate_bal.push(us(t.elapsed()));
                queue_row("bench.beside_writer");
                let t = Instant::now();
                store.accounts_for_customer(customer).await?;
                store.balances_for_customer(customer).await?;
                writer_bal.push(us(t.elapsed()));
            }
            let (mut direct_tx, mut gate_tx) = (Vec::with_capacity(n), Vec::with_capacity(n));
            let mut writer_tx = Vec::with_capacity(n);
            for _ in 0..n {
                let t = Instant::now();
                store
                    .transactions_for_customer(customer, &filter, 0, PAGE)
                    .await?;
                direct_tx.push(us(t.elapsed()));
                let t = Instant::now();
                gate.transactions(&tx_req, &filter, 0, PAGE).await?;
                gate_tx.push(us(t.elapsed()));
                queue_row("bench.beside_writer");
                let t = Instant::now();
                store
                    .transactions_for_customer(customer, &filter, 0, PAGE)
                    .await?;
                writer_tx.push(us(t.elapsed()));
            }
            // What the gate adds, timed alone: consent lookup, decision, audit row queued.
            let mut overhead = Vec::with_capacity(n);
            for _ in 0..n {
                let t = Instant::now();
                std::hint::black_box(gate.authorize(&bal_req, "read.balances").await?);
                overhead.push(us(t.elapsed()));
            }
            let mut balances = pair(&mut direct_bal, &mut gate_bal);
            balances["direct_beside_audit_writer_us"] = stats(&mut writer_bal);
            let mut transactions = pair(&mut direct_tx, &mut gate_tx);
            transactions["direct_beside_audit_writer_us"] = stats(&mut writer_tx);
            Ok::<_, BenchError>((balances, transactions, stats(&mut overhead)))
        })
        .await??;
    let (balances, transactions, overhead) = timed;

    eprintln!("bench gate: {n} replies waiting for their audit row, {n} reads outside a scope");
    let (mut barrier, mut own_row) = (Vec::with_capacity(n), Vec::with_capacity(n));
    for _ in 0..n {
        let t = Instant::now();
        gate.deferred_audit(gate.balances(&bal_req)).await??;
        barrier.push(us(t.elapsed()));
        let t = Instant::now();
        gate.balances(&bal_req).await?;
        own_row.push(us(t.elapsed()));
    }

    eprintln!("bench gate: {TASKS} concurrent readers");
    let concurrent = concurrent(&gate, &store, customer, n).await?;

    eprintln!("bench gate: breakdown");
    let breakdown = breakdown(&gate, &store, customer, &bal_req, n).await?;

    let audit = gate.verify_audit().await?;
    let (hits, misses) = gate.consent_cache_stats();
    Ok(json!({
        "backend": format!("{:?}", store.backend()).to_lowercase(),
        "gate_overhead_us": overhead,
        "balances": balances,
        "transactions": transactions,
        "reply_with_audit_barrier_us": stats(&mut barrier),
        "gated_waiting_for_own_row_us": stats(&mut own_row),
        "concurrent": concurrent,
        "breakdown_us": breakdown,
        "consent_cache": { "hits": hits, "misses": misses },
        "audit_rows_written": audit.rows,
        "audit_chain_intact": audit.intact,
    }))
}

/// `TASKS` tasks reading balances at once, outside any scope (each read waits for its own audit
/// row), beside the same number of direct reads done the same way.
async fn concurrent(
    gate: &PrivacyGate,
    store: &Store,
    customer: CustomerId,
    n: usize,
) -> Result<Value, BenchError> {
    let per_task = (n / TASKS).max(10);
    let mut figures = Vec::new();
    let mut writer_before = (0, 0);
    for gated in [false, true] {
        let start = Instant::now();
        let mut tasks = Vec::with_capacity(TASKS);
        for _ in 0..TASKS {
            let (gate, store) = (gate.clone(), store.clone());
            tasks.push(tokio::spawn(async move {
                let req = AccessRequest::customer(
                    customer,
                    Purpose::ServiceBalance,
                    ChannelContext::WebChat,
                );
                let mut lat = Vec::with_capacity(per_task);
                for _ in 0..per_task {
                    let t = Instant::now();
                    if gated {
                        gate.balances(&req).await?;
                    } else {
                        store.accounts_for_customer(customer).await?;
                        store.balances_for_customer(customer).await?;
                    }
                    lat.push(us(t.elapsed()));
                }
                Ok::<_, BenchError>(lat)
            }));
        }
        let mut lat = Vec::with_capacity(per_task * TASKS);
        for t in tasks {
            lat.extend(t.await.map_err(|_| BenchError::Join)??);
        }
        let secs = start.elapsed().as_secs_f64();
        figures.push((lat.len() as f64 / secs, stats(&mut lat)));
        if !gated {
            writer_before = gate.audit_writer_stats();
        }
    }
    let (batches, rows) = gate.audit_writer_stats();
    let (batches, rows) = (batches - writer_before.0, rows - writer_before.1);
    Ok(json!({
        "tasks": TASKS,
        "reads_per_task": per_task,
        "direct": { "reads_per_second": figures[0].0.round(), "latency_us": figures[0].1 },
        "gated": { "reads_per_second": figures[1].0.round(), "latency_us": figures[1].1 },
        "audit_rows_per_transaction": round(rows as f64 / batches.max(1) as f64),
    }))
}

/// The parts of a gated read, each timed alone.
async fn breakdown(
    gate: &PrivacyGate,
    store: &Store,
    customer: CustomerId,
    req: &AccessRequest,
    n: usize,
) -> Result<Value, BenchError> {
    let (mut cached, mut grants, mut records) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..n {
        let t = Instant::now();
        std::hint::black_box(gate.facts(req).await?);
        cached.push(us(t.elapsed()));
        let t = Instant::now();
        std::hint::black_box(store.consent_grants_for_customer(customer).await?);
        grants.push(us(t.elapsed()));
        let t = Instant::now();
        std::hint::black_box(store.consents_for_customer(customer).await?);
        records.push(us(t.elapsed()));
    }
    let (mut append, mut enqueue) = (Vec::new(), Vec::new());
    let subject = customer.to_string();
    for _ in 0..n.min(1_000) {
        let entry = AuditEntry {
            at: Utc::now(),
            actor: "customer".into(),
            subject: subject.clone(),
            purpose: Purpose::ServiceBalance.as_str().into(),
            action: "bench.append".into(),
            decision: "allow[customer_balance]".into(),
            channel: "webchat".into(),
        };
        let t = Instant::now();
        store.append_audit(&entry).await?;
        append.push(us(t.elapsed()));
        let t = Instant::now();
        gate.enqueue_audit(crate::audit::NewAudit {
            at: Utc::now(),
            actor: "customer".into(),
            subject: subject.clone(),
            purpose: Purpose::ServiceBalance.as_str(),
            action: "bench.enqueue",
            decision: "allow[customer_balance]",
            channel: "webchat",
        });
        enqueue.push(us(t.elapsed()));
    }
    gate.flush_audit().await;
    Ok(json!({
        "consent_lookup_cached": stats(&mut cached),
        "consent_lookup_query": stats(&mut grants),
        "consent_lookup_before_cache": stats(&mut records),
        "audit_one_row_own_transaction": stats(&mut append),
        "audit_row_queued": stats(&mut enqueue),
        "note": "consent_lookup_before_cache: whole consent records with secrets decrypted, as \
                 the gate read them per access before the cache; audit_one_row_own_transaction: \
                 what every read waited for before the queue (now with synchronous=FULL on \
                 SQLite: one fsync per transaction)",
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
