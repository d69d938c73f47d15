//! Events between gateway instances (issue 9), on real processes and real stores:
//!
//! 1. Two `okienko serve` on one PostgreSQL schema and one NATS JetStream stream: a customer
//!    whose chat (and so whose syncs) is on the non-leader B gets their fraud baseline and then
//!    their fraud warning from the leader A, exactly once (one warned episode in the store, one
//!    warning in the chat), because B's syncs travel to A on the bus.
//! 2. Two gates on one store file, each with its own JetStream client: a revoke written through
//!    one denies reads on the other as soon as the bus delivers `ConsentChanged`, with the gates'
//!    clocks frozen (so the cache's max age never runs out: only the event can explain it).
//! 3. Two `okienko serve` again: an agent's console on A sees the lines of a customer whose chat
//!    is on B, and the agent's reply reaches the customer on B.

mod support;

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use okienko_bus::{BusOptions, EventBus, JetStreamBus};
use okienko_core::{
    Account, AccountId, Balance, BalanceKind, Clock, ConsentId, ConsentScope, ConsentStatus,
    Currency, CustomerId, FixedClock, Lang, Money,
};
use okienko_privacy::{
    AccessError, AccessRequest, ChannelContext, DenyReason, PrivacyGate, Purpose,
};
use okienko_store::{AccountRecord, ConsentRecord, CustomerRecord, Keyring, Store};
use serde_json::{Value, json};
use support::cluster::*;
use support::console::*;
use support::*;

const WAIT: Duration = Duration::from_secs(60);

fn is_warning(r: &Value) -> bool {
    let t = r.to_string();
    t.contains("Czy to Ty?") || t.contains("Was this you?")
}

/// Every reply that arrives within `wait`.
async fn drain(chat: &mut Chat, wait: Duration) -> Vec<Value> {
    let deadline = Instant::now() + wait;
    let mut out = Vec::new();
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return out;
        }
        let inner = left + Duration::from_secs(30);
        match tokio::time::timeout(left, chat.expect("any", "", inner)).await {
            Ok(r) => out.push(r),
            Err(_) => return out,
        }
    }
}

async fn wait_count(cluster: &Cluster, sql: &str, want: i64, wait: Duration) {
    let deadline = Instant::now() + wait;
    loop {
        let n = cluster.schema.count(sql).await;
        if n == want {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{sql}: {n}, not {want}, after {wait:?}\n{}",
            cluster.logs()
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sync_on_the_non_leader_is_scored_by_the_leader_once() {
    let cluster = Cluster::start(ClusterOptions {
        instances: 2,
        ..ClusterOptions::default()
    })
    .await;
    assert_eq!(
        cluster.wait_leader(BANK_EVENTS_LEASE, &[0], WAIT).await,
        0,
        "A leads"
    );
    // The customer talks to B only: the link's first sync and every later one run on B.
    let mut chat = Chat::connect(cluster.url(1), "pl").await;
    link(&mut chat, "połącz bank", "anna").await;
    // The first sync is the baseline, taken by the leader's watcher from B's event.
    wait_count(
        &cluster,
        "SELECT COUNT(*) FROM {schema}.fraud_baselines",
        1,
        WAIT,
    )
    .await;
    let early = drain(&mut chat, Duration::from_secs(2)).await;
    assert!(!early.iter().any(is_warning), "{early:#?}");

    let resp = http()
        .post(format!(
            "{}/sandbox/customers/anna/fraud-episode",
            cluster.bank_url()
        ))
        .json(&json!({ "count": 4, "amount": "1249.00" }))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 201);
    // B syncs (the customer asks); A scores and warns; the warning reaches the chat on B.
    chat.say("ile mam na koncie?").await;
    let warning = chat.expect("any", "Czy to Ty?", WAIT).await;
    assert!(is_warning(&warning));
    let more = drain(&mut chat, Duration::from_secs(5)).await;
    assert!(!more.iter().any(is_warning), "one warning: {more:#?}");
    wait_count(
        &cluster,
        "SELECT COUNT(*) FROM {schema}.fraud_episodes WHERE warned_at IS NOT NULL",
        1,
        Duration::from_secs(5),
    )
    .await;
    // Scored by the leader, not by B.
    let (a, b) = (cluster.gateways[0].log(), cluster.gateways[1].log());
    assert!(a.contains("fraud baseline taken"), "{}", tail(&a, 40));
    assert!(!b.contains("fraud baseline taken"), "{}", tail(&b, 40));
    assert_no_amounts(&a, &["1249"]);
    assert_no_amounts(&b, &["1249"]);
}

fn consent(customer: CustomerId, now: DateTime<Utc>) -> ConsentRecord {
    ConsentRecord {
        id: ConsentId::new(),
        customer,
        bank: "sandbox".into(),
        bank_consent_id: Some("c-1".into()),
        status: ConsentStatus::Valid,
        scopes: vec![ConsentScope::Balances, ConsentScope::Transactions],
        valid_until: (now + chrono::Duration::days(90)).date_naive(),
        frequency_per_day: 4,
        recurring: true,
        access_token: None,
        oauth_state: None,
        pkce_verifier: None,
        created_at: now,
        updated_at: now,
    }
}

/// One customer with a valid consent, an account and a balance.
async fn seed(store: &Store, now: DateTime<Utc>) -> (CustomerId, ConsentRecord) {
    let customer = CustomerId::new();
    store
        .upsert_customer(&CustomerRecord {
            id: customer,
            lang: Lang::Pl,
            tz: "Europe/Warsaw".into(),
            created_at: now,
        })
        .await
        .unwrap();
    let c = consent(customer, now);
    store.insert_consent(&c).await.unwrap();
    let account = AccountId::new();
    store
        .upsert_account(&AccountRecord {
            account: Account {
                id: account,
                iban: None,
                currency: Currency::PLN,
                name: "Konto osobiste".into(),
            },
            customer,
            consent: c.id,
            bank_resource_id: "acc-1".into(),
        })
        .await
        .unwrap();
    store
        .replace_balances(
            account,
            &[Balance {
                account_id: account,
                kind: BalanceKind::InterimAvailable,
                amount: Money::parse("100.00", "PLN").unwrap(),
                reference_date: None,
                fetched_at: now,
            }],
        )
        .await
        .unwrap();
    (customer, c)
}

fn nats_url() -> String {
    std::env::var("OKIENKO_TEST_NATS_URL").unwrap_or_else(|_| SYSTEM_NATS.to_owned())
}

/// One client of the JetStream stream `stream`: each stands for one gateway instance's.
async fn connect(stream: &str) -> JetStreamBus {
    JetStreamBus::connect(&nats_url(), stream, BusOptions::default())
        .await
        .unwrap_or_else(|e| panic!("NATS JetStream at {} is required: {e}", nats_url()))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revoke_on_one_instance_denies_reads_on_another_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!(
        "sqlite://{}?mode=rwc",
        dir.path().join("shared.sqlite").display()
    );
    let keyring = Keyring::generate();
    let (store_a, store_b) = (
        Store::connect(&url, keyring.clone()).await.unwrap(),
        Store::connect(&url, keyring.clone()).await.unwrap(),
    );
    let now = Utc::now();
    let clock: Arc<dyn Clock> = Arc::new(FixedClock::new(now));
    let (gate_a, gate_b) = (
        PrivacyGate::new(store_a.clone(), clock.clone()),
        PrivacyGate::new(store_b.clone(), clock.clone()),
    );
    let stream = format!("h5-consent-{}", std::process::id());
    let (bus_a, bus_b) = (connect(&stream).await, connect(&stream).await);
    let (stop_tx, stop) = tokio::sync::watch::channel(false);
    let dyn_a: Arc<dyn EventBus> = Arc::new(bus_a.clone());
    let dyn_b: Arc<dyn EventBus> = Arc::new(bus_b.clone());
    // Announcements go through each store's outbox; each instance runs its relay.
    let ra = okienko::outbox::spawn(
        store_a.clone(),
        dyn_a.clone(),
        okienko::outbox::RelayOptions::default(),
        stop.clone(),
    );
    let rb = okienko::outbox::spawn(
        store_b.clone(),
        dyn_b.clone(),
        okienko::outbox::RelayOptions::default(),
        stop.clone(),
    );
    let ta =
        okienko::bus_events::share_consent_changes(&store_a, dyn_a, gate_a.clone(), stop.clone());
    let tb =
        okienko::bus_events::share_consent_changes(&store_b, dyn_b, gate_b.clone(), stop.clone());
    // Both listen before anything changes (a listener sees what is published after it).
    tokio::time::sleep(Duration::from_millis(500)).await;

    let (customer, c) = seed(&store_a, now).await;
    let req = AccessRequest::customer(customer, Purpose::ServiceBalance, ChannelContext::WebChat);
    // The seed's own consent announcement goes out (through A's outbox) and reaches B first.
    let at = Instant::now();
    while store_a.outbox_len().await.unwrap() > 0 {
        assert!(
            at.elapsed() < Duration::from_secs(5),
            "the seed's announcement waits"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    // B has the grant cached (and, its clock frozen, would keep it for ever).
    for _ in 0..3 {
        gate_b.balances(&req).await.unwrap();
    }
    assert!(gate_b.consent_cache_stats().0 >= 2, "B's cache is used");

    let mut revoked = c.clone();
    revoked.status = ConsentStatus::RevokedByPsu;
    let at = Instant::now();
    store_a.update_consent(&revoked).await.unwrap();
    // A sees its own write synchronously; B once the event arrives.
    assert!(matches!(
        gate_a.balances(&req).await,
        Err(AccessError::Denied(DenyReason::NoConsent))
    ));
    loop {
        match gate_b.balances(&req).await {
            Err(AccessError::Denied(DenyReason::NoConsent)) => break,
            Ok(_) => {
                assert!(
                    at.elapsed() < Duration::from_secs(5),
                    "B still serves a revoked consent"
                );
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            Err(e) => panic!("unexpected {e:?}"),
        }
    }
    let took = at.elapsed();
    eprintln!("revoke on A denied on B after {took:?}");
    assert!(took < Duration::from_secs(1), "took {took:?}");

    // A grant written through B is seen by A at once too.
    let granted = consent(customer, now);
    assert!(gate_a.balances(&req).await.is_err());
    store_b.insert_consent(&granted).await.unwrap();
    let at = Instant::now();
    while gate_a.balances(&req).await.is_err() {
        assert!(
            at.elapsed() < Duration::from_secs(5),
            "A never saw B's grant"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }

    stop_tx.send_replace(true);
    let _ = tokio::time::timeout(Duration::from_secs(5), async {
        let _ = ta.await;
        let _ = tb.await;
        let _ = ra.await;
        let _ = rb.await;
    })
    .await;
    bus_a.delete_stream().await.unwrap();
}

fn queued_for<'a>(state: &'a Value, customer: &str) -> Option<&'a Value> {
    state["queue"].as_array()?.iter().find(|q| {
        q["customer_ref"]
            .as_str()
            .is_some_and(|r| customer.starts_with(r))
    })
}

/// `okienko agents add-staff` against the cluster's store (password "demo").
fn add_staff(cluster: &Cluster, username: &str) {
    use std::io::Write;
    let sep = if cluster.schema.url.contains('?') {
        '&'
    } else {
        '?'
    };
    let store_url = format!(
        "{}{sep}options[search_path]={}",
        cluster.schema.url, cluster.schema.name
    );
    let mut child = std::process::Command::new(BIN)
        .args([
            "agents",
            "add-staff",
            "--bank",
            "sandbox",
            "--role",
            "agent",
            "--username",
            username,
        ])
        .current_dir(cluster.dir.path())
        .env("OKIENKO_STORE_URL", store_url)
        .env(
            "OKIENKO_MASTER_KEY_FILE",
            cluster.dir.path().join("master.key"),
        )
        .env("OKIENKO_DATA_DIR", cluster.dir.path().join("staff"))
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(b"demo\n").unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "add-staff: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_agent_on_one_instance_talks_with_a_customer_on_another() {
    let cluster = Cluster::start(ClusterOptions {
        instances: 2,
        ..ClusterOptions::default()
    })
    .await;
    add_staff(&cluster, "agent");
    // The customer is on B.
    let mut chat = Chat::connect(cluster.url(1), "pl").await;
    chat.say("chcę rozmawiać z konsultantem").await;
    chat.expect("any", "w kolejce", WAIT).await;

    // The agent is on A.
    let console = format!("{}/agent", cluster.url(0));
    let cookie = sign_in(&console, "agent").await;
    let mut ws = console_ws(&console, Some(&cookie), None).await.unwrap();
    let state = until(&mut ws, WAIT, |v| {
        v["type"] == "state" && queued_for(v, &chat.customer).is_some()
    })
    .await;
    let id = queued_for(&state, &chat.customer).unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    send(&mut ws, json!({"type": "claim", "conversation": id})).await;
    until(&mut ws, WAIT, |v| v["type"] == "opened").await;
    // The claim's greeting reaches the customer on B.
    chat.expect("any", "", WAIT).await;

    // B's customer line shows in A's console; B's typing too.
    chat.typing().await;
    until(&mut ws, WAIT, |v| {
        v["type"] == "customer_typing" && v["conversation"] == id.as_str()
    })
    .await;
    chat.say("Halo, czy ktoś tu jest?").await;
    let line = until(&mut ws, WAIT, |v| {
        v["type"] == "line" && v["conversation"] == id.as_str()
    })
    .await;
    assert_eq!(line["line"]["text"], "Halo, czy ktoś tu jest?", "{line}");

    // A's reply reaches the customer on B.
    send(
        &mut ws,
        json!({"type": "reply", "conversation": id, "text": "Dzień dobry, w czym pomóc?"}),
    )
    .await;
    chat.expect("any", "w czym pomóc?", WAIT).await;
    // No texts on the bus: B's log and A's never carry them either.
    for g in &cluster.gateways {
        assert!(!g.log().contains("czy ktoś tu jest"), "texts in logs");
    }
}
