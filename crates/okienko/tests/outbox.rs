//! The bus outbox relay (`okienko::outbox`) on real components: a SQLite store in a fresh file
//! and our own nats-server (`/usr/sbin/nats-server`, or `OKIENKO_NATS_SERVER`) on a free port
//! with its own store directory, stopped and started by the test.
//!
//! 1. An event put while NATS is down is still waiting after more failed publishes than the old
//!    in-memory retry loop made before giving up for good (8), and once the server is back a
//!    durable consumer gets it exactly once and the row is gone.
//! 2. Rows left by a process that died (no relay ever ran, or its relay died holding a claim)
//!    are published by a relay started later.

use std::sync::Arc;
use std::time::Duration;

mod support;

use okienko::outbox::{RelayOptions, spawn};
use okienko_bus::{BusOptions, Event, EventBus, JetStreamBus, Subscription, Topic};
use okienko_core::{ConsentId, CustomerId, TransactionId};
use okienko_store::{KeyId, Keyring, MasterKey, OutboxPut, Store};
use support::cluster::NatsServer;
use tokio::sync::watch;

fn keyring() -> Keyring {
    Keyring::single(
        KeyId::new("test-1").expect("key id"),
        MasterKey::from_bytes([7; 32]),
    )
}

async fn sqlite(dir: &tempfile::TempDir) -> Store {
    let url = format!(
        "sqlite://{}?mode=rwc",
        dir.path().join("okienko.sqlite").display()
    );
    Store::connect(&url, keyring()).await.expect("open store")
}

fn bus_options() -> BusOptions {
    BusOptions {
        ack_wait: Duration::from_secs(2),
        timeout: Duration::from_millis(500),
        ..BusOptions::default()
    }
}

/// Quick retries, so the test sees many attempts in seconds rather than minutes.
fn relay_options() -> RelayOptions {
    RelayOptions {
        poll: Duration::from_millis(200),
        publish_timeout: Duration::from_millis(500),
        backoff_start: Duration::from_millis(50),
        backoff_cap: Duration::from_millis(400),
        batch: 8,
        lease: Duration::from_secs(10),
    }
}

fn new_transactions(n: usize) -> (String, Event) {
    let consent = ConsentId::new();
    let added: Vec<TransactionId> = (0..n).map(|_| TransactionId::new()).collect();
    let id = okienko_bank::link::new_transactions_id(consent, &added, &[]);
    let event = Event::NewTransactions {
        customer: CustomerId::new(),
        consent,
        added,
        booked: Vec::new(),
        first_sync: false,
    };
    (id, event)
}

fn outbox_put(id: &str, event: &Event) -> OutboxPut {
    OutboxPut {
        id: id.to_owned(),
        topic: event.topic().subject().to_owned(),
        event: serde_json::to_string(event).expect("event JSON"),
    }
}

/// Every delivery within `wait` (acknowledged), as (id, event).
async fn drain(sub: &mut Subscription, wait: Duration) -> Vec<(String, Event)> {
    let deadline = tokio::time::Instant::now() + wait;
    let mut out = Vec::new();
    loop {
        match tokio::time::timeout_at(deadline, sub.next()).await {
            Ok(Some(Ok(d))) => {
                out.push((d.id.clone(), d.event.clone()));
                d.ack().await.expect("ack");
            }
            Ok(Some(Err(_))) => continue,
            Ok(None) => panic!("subscription ended"),
            Err(_) => return out,
        }
    }
}

async fn wait_empty(store: &Store, wait: Duration) {
    let deadline = tokio::time::Instant::now() + wait;
    while store.outbox_len().await.expect("outbox len") > 0 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "outbox not empty after {wait:?}: {:?}",
            store.outbox_events(10).await
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_event_put_while_nats_is_down_is_published_once_when_it_is_back() {
    let nats_dir = tempfile::tempdir().expect("temp dir");
    let mut nats = NatsServer::start(nats_dir.path()).await;
    let bus = JetStreamBus::connect(&nats.url(), "outbox-down", bus_options())
        .await
        .expect("connect");
    let dir = tempfile::tempdir().expect("temp dir");
    let store = sqlite(&dir).await;
    let (stop, stopped) = watch::channel(false);
    let relay = spawn(
        store.clone(),
        Arc::new(bus.clone()) as Arc<dyn EventBus>,
        relay_options(),
        stopped,
    );

    nats.stop();
    let (id, event) = new_transactions(3);
    assert!(
        store
            .put_outbox(&outbox_put(&id, &event))
            .await
            .expect("put")
    );
    // The old announcement gave up after 8 publishes (about a minute); the outbox keeps the
    // event and keeps trying for as long as the bus is down.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let rows = store.outbox_events(10).await.expect("outbox");
        assert_eq!(rows.len(), 1, "the event waits while NATS is down");
        if rows[0].attempts > 8 {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "only {} attempts in 20 s",
            rows[0].attempts
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    nats.start_again().await;
    wait_empty(&store, Duration::from_secs(20)).await;
    let mut sub = bus
        .subscribe("outbox-test", Some(Topic::NewTransactions))
        .await
        .expect("subscribe");
    let got = drain(&mut sub, Duration::from_secs(3)).await;
    assert_eq!(got, vec![(id, event)], "exactly once");
    let _ = stop.send(true);
    relay.await.expect("relay stops on shutdown");
    let _ = bus.delete_stream().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rows_left_by_a_dead_process_are_published_by_the_next_relay() {
    let dir = tempfile::tempdir().expect("temp dir");
    // The process that died: it stored three announcements (one of them claimed by its relay,
    // which died publishing it) and never published them.
    let mut want = Vec::new();
    {
        let store = sqlite(&dir).await;
        for n in 1..=3 {
            let (id, event) = new_transactions(n);
            assert!(
                store
                    .put_outbox(&outbox_put(&id, &event))
                    .await
                    .expect("put")
            );
            want.push((id, event));
        }
        let now = chrono::Utc::now();
        let claimed = store
            .claim_outbox("relay-dead", now, now + chrono::Duration::seconds(5), 1)
            .await
            .expect("claim");
        assert_eq!(claimed.len(), 1);
        store.close().await;
    }

    let nats_dir = tempfile::tempdir().expect("temp dir");
    let nats = NatsServer::start(nats_dir.path()).await;
    let bus = JetStreamBus::connect(&nats.url(), "outbox-dead", bus_options())
        .await
        .expect("connect");
    let mut sub = bus
        .subscribe("outbox-test", Some(Topic::NewTransactions))
        .await
        .expect("subscribe");
    let store = sqlite(&dir).await;
    let (stop, stopped) = watch::channel(false);
    let relay = spawn(
        store.clone(),
        Arc::new(bus.clone()) as Arc<dyn EventBus>,
        relay_options(),
        stopped,
    );
    // The two unclaimed rows go out at once; the claimed one when its dead relay's claim ends.
    let mut got = drain(&mut sub, Duration::from_secs(1)).await;
    assert_eq!(got.len(), 2, "{got:?}");
    wait_empty(&store, Duration::from_secs(10)).await;
    got.extend(drain(&mut sub, Duration::from_secs(2)).await);
    got.sort_by(|a, b| a.0.cmp(&b.0));
    want.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(got, want, "each once");
    let _ = stop.send(true);
    relay.await.expect("relay stops on shutdown");
    let _ = bus.delete_stream().await;
}
