//! `okienko bench sync`: how fast the sync engine fills the store, beside a plain bulk insert of
//! the same rows into the same database in the same run.
//!
//! Customers are linked through the sandbox bank's real OAuth2 consent page (over HTTP, as a
//! browser would); the timed part is the first sync of two years of history for each customer.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use okienko_bank::{BankLink, LinkConfig, NextGenPsd2Connector};
use okienko_core::{Clock, CustomerId, SystemClock, TxFilter};
use okienko_sandbox_bank::{SandboxBank, SandboxConfig};
use okienko_store::{Keyring, Store, StoreError};
use serde_json::{Value, json};
use tokio::net::TcpListener;

/// Runs the benchmark and prints one JSON object on stdout; progress goes to stderr.
pub async fn sync(customers: usize, postgres: &str, seed: u64) -> anyhow::Result<()> {
    anyhow::ensure!(
        (1..=10_000).contains(&customers),
        "--customers must be 1..=10000"
    );
    let bank = SandboxBank::new(SandboxConfig {
        customers: customers.max(2),
        seed,
        today: chrono::Utc::now().date_naive(),
        control_api: true,
    });
    let psus: Vec<String> = bank
        .demo_logins()
        .into_iter()
        .take(customers)
        .map(|l| l.psu_id)
        .collect();
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let bank_url = format!("http://{}", listener.local_addr()?);
    let (stop_tx, mut stop_rx) = tokio::sync::watch::channel(false);
    let bank_task = tokio::spawn(bank.serve(listener, async move {
        let _ = stop_rx.wait_for(|s| *s).await;
    }));

    let dir = tempfile_dir()?;
    let mut results = serde_json::Map::new();
    let sqlite_url = format!("sqlite://{}/bench.sqlite?mode=rwc", dir.display());
    let sqlite_base = format!("sqlite://{}/baseline.sqlite?mode=rwc", dir.display());
    eprintln!("bench sync: SQLite");
    let sqlite = run_backend(
        &bank_url,
        &psus,
        Store::connect(&sqlite_url, Keyring::generate()).await?,
        Store::connect(&sqlite_base, Keyring::generate()).await?,
    )
    .await?;
    results.insert("sqlite".into(), sqlite);
    if postgres != "none" {
        eprintln!("bench sync: PostgreSQL");
        let tag = uuid::Uuid::new_v4().simple().to_string();
        let a =
            Store::connect_isolated(postgres, &format!("bench_{tag}"), Keyring::generate()).await;
        let b =
            Store::connect_isolated(postgres, &format!("bench_base_{tag}"), Keyring::generate())
                .await;
        match (a, b) {
            (Ok(a), Ok(b)) => {
                results.insert(
                    "postgres".into(),
                    run_backend(&bank_url, &psus, a, b).await?,
                );
            }
            (Err(e), _) | (_, Err(e)) => bail!("PostgreSQL at {postgres}: {e}"),
        }
    }
    let _ = stop_tx.send(true);
    let _ = bank_task.await;
    let _ = std::fs::remove_dir_all(&dir);
    results.insert("customers".into(), json!(customers));
    println!("{}", Value::Object(results));
    Ok(())
}

fn tempfile_dir() -> anyhow::Result<std::path::PathBuf> {
    let dir = std::env::temp_dir().join(format!("okienko-bench-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}

async fn run_backend(
    bank_url: &str,
    psus: &[String],
    store: Store,
    baseline: Store,
) -> anyhow::Result<Value> {
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let connector = NextGenPsd2Connector::new(bank_url, "okienko-bench", Duration::from_secs(30))?;
    let link = BankLink::new(
        store.clone(),
        Arc::new(connector),
        LinkConfig {
            bank: "sandbox".into(),
            redirect_uri: "http://127.0.0.1:9/consent/callback".into(),
            valid_days: 90,
            frequency_per_day: 4,
        },
        clock,
    );
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(30))
        .build()?;
    let progress = indicatif::ProgressBar::new(psus.len() as u64);
    let mut sync_time = Duration::ZERO;
    let mut customers = Vec::new();
    for psu in psus {
        let customer = CustomerId::new();
        let start = link.start_link(customer, "127.0.0.1").await?;
        let (state, code) = approve(&http, &start.url, psu).await?;
        let t = Instant::now();
        link.complete_link(&state, &code).await?;
        sync_time += t.elapsed();
        customers.push(customer);
        progress.inc(1);
    }
    progress.finish_and_clear();
    let mut rows = 0u64;
    for c in &customers {
        let (_, total) = store
            .transactions_for_customer(*c, &TxFilter::default(), 0, 1)
            .await?;
        rows += total;
    }
    let baseline_secs = baseline_insert(&store, &baseline, &customers).await?;
    let secs = sync_time.as_secs_f64().max(1e-9);
    Ok(json!({
        "transactions": rows,
        "seconds": secs,
        "transactions_per_second": rows as f64 / secs,
        "baseline": {
            "what": "plain bulk insert of the same rows into the same kind of database",
            "seconds": baseline_secs,
            "transactions_per_second": rows as f64 / baseline_secs.max(1e-9),
        }
    }))
}

/// Copies the synced customers' rows into a fresh store with the plain bulk insert, timed.
async fn baseline_insert(
    from: &Store,
    to: &Store,
    customers: &[CustomerId],
) -> Result<f64, StoreError> {
    let far_past = chrono::NaiveDate::from_ymd_opt(1970, 1, 1).unwrap_or_default();
    let mut batches = Vec::new();
    for c in customers {
        if let Some(customer) = from.customer(*c).await? {
            to.upsert_customer(&customer).await?;
        }
        for consent in from.consents_for_customer(*c).await? {
            to.insert_consent(&consent).await?;
        }
        for acc in from.accounts_for_customer(*c).await? {
            to.upsert_account(&acc).await?;
            let rows = from.stored_transactions(acc.account.id, far_past).await?;
            batches.push((acc.account.id, rows));
        }
    }
    let t = Instant::now();
    for (account, rows) in &batches {
        to.bulk_insert_transactions_baseline(*account, rows).await?;
    }
    Ok(t.elapsed().as_secs_f64())
}

/// Signs in and approves on the bank's consent page; returns (state, code) from the redirect.
async fn approve(http: &reqwest::Client, url: &str, psu: &str) -> anyhow::Result<(String, String)> {
    let back =
        crate::sandbox_customer::decide_at_consent_page(http, url, psu, "demo", "approve").await?;
    let get = |k: &str| {
        back.query_pairs()
            .find(|(n, _)| n == k)
            .map(|(_, v)| v.into_owned())
    };
    Ok((
        get("state").context("no state")?,
        get("code").context("no code")?,
    ))
}
