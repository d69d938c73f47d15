//! Leader leases on real PostgreSQL (`OKIENKO_TEST_PG_URL`, default
//! postgres://127.0.0.1:5432/test; unreachable FAILS) and the SQLite local lease.

use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use okienko_store::{KeyId, Keyring, MasterKey, Store, StoreError};
use sqlx::postgres::PgPool;

const DEFAULT_PG_URL: &str = "postgres://127.0.0.1:5432/test";

fn url() -> String {
    std::env::var("OKIENKO_TEST_PG_URL").unwrap_or_else(|_| DEFAULT_PG_URL.to_owned())
}

fn keyring() -> Keyring {
    Keyring::single(
        KeyId::new("test-1").expect("key id"),
        MasterKey::from_bytes([7; 32]),
    )
}

/// A fresh schema name for this test (leases are keyed by schema too).
fn schema(test: &str) -> String {
    static N: AtomicU32 = AtomicU32::new(0);
    format!(
        "lease_{}_{}_{test}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    )
}

/// Two stores with their own pools on one schema: two gateway instances.
async fn two_instances(schema: &str) -> (Store, Store) {
    let open = || async {
        Store::connect_isolated(&url(), schema, keyring())
            .await
            .unwrap_or_else(|e| panic!("PostgreSQL at {} is required: {e}", url()))
    };
    let a = open().await;
    let b = open().await;
    (a, b)
}

async fn drop_schema(schema: &str) {
    let pool = PgPool::connect_with(okienko_store::pg_connect_options(&url()).expect("PG URL"))
        .await
        .expect("raw pool");
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "DROP SCHEMA \"{schema}\" CASCADE"
    )))
    .execute(&pool)
    .await
    .expect("drop schema");
    pool.close().await;
}

/// Kills every connection holding `lease`, as a crashed instance or a DBA would.
async fn kill_holder(lease: &str) -> u64 {
    let pool = PgPool::connect_with(okienko_store::pg_connect_options(&url()).expect("PG URL"))
        .await
        .expect("raw pool");
    let killed: Vec<bool> = sqlx::query_scalar(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1",
    )
    .bind(format!("okienko-lease:{lease}"))
    .fetch_all(&pool)
    .await
    .expect("terminate");
    pool.close().await;
    killed.into_iter().filter(|k| *k).count() as u64
}

#[tokio::test]
async fn two_holders_race_and_exactly_one_wins() {
    let s = schema("race");
    let (a, b) = two_instances(&s).await;
    for round in 0..5 {
        let name = format!("race-{round}");
        let (ga, gb) = tokio::join!(a.try_acquire_lease(&name), b.try_acquire_lease(&name));
        let (ga, gb) = (ga.expect("a"), gb.expect("b"));
        assert!(
            ga.is_some() != gb.is_some(),
            "round {round}: exactly one holder, got a={} b={}",
            ga.is_some(),
            gb.is_some()
        );
        let winner = ga.or(gb).expect("a winner");
        assert!(winner.is_held());
        // While it is held nobody else gets it, not even the winner's own store again.
        assert!(a.try_acquire_lease(&name).await.expect("a").is_none());
        assert!(b.try_acquire_lease(&name).await.expect("b").is_none());
        drop(winner);
        // Dropping releases: the next attempt (after the holder task unlocks) wins.
        let mut next = None;
        for _ in 0..50 {
            next = b.try_acquire_lease(&name).await.expect("b");
            if next.is_some() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        assert!(
            next.is_some(),
            "round {round}: a dropped lease is free again"
        );
    }
    // Different names do not exclude each other.
    let x = a.try_acquire_lease("job-x").await.expect("x");
    let y = b.try_acquire_lease("job-y").await.expect("y");
    assert!(x.is_some() && y.is_some());
    drop((x, y));
    a.close().await;
    b.close().await;
    drop_schema(&s).await;
}

#[tokio::test]
async fn a_killed_holder_is_taken_over_within_bounded_time() {
    let s = schema("takeover");
    let (a, b) = two_instances(&s).await;
    let name = "payments-status";
    let mut held = a
        .try_acquire_lease(name)
        .await
        .expect("a")
        .expect("a is first");
    assert!(b.try_acquire_lease(name).await.expect("b").is_none());
    assert_eq!(kill_holder(name).await, 1, "one lease connection to kill");
    let started = std::time::Instant::now();
    let mut taken = None;
    while started.elapsed() < Duration::from_secs(10) {
        if let Some(g) = b.try_acquire_lease(name).await.expect("b") {
            taken = Some(g);
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let taken = taken.expect("b takes over within 10 s");
    assert!(taken.is_held());
    // The old holder learns it lost the lease within a couple of pings.
    tokio::time::timeout(Duration::from_secs(5), held.lost())
        .await
        .expect("the killed holder notices within 5 s");
    assert!(!held.is_held());
    // And it cannot take it back while b holds it.
    assert!(a.try_acquire_lease(name).await.expect("a").is_none());
    drop(taken);
    drop(held);
    a.close().await;
    b.close().await;
    drop_schema(&s).await;
}

#[tokio::test]
async fn schemas_have_their_own_leases() {
    let (s1, s2) = (schema("one"), schema("two"));
    let (a, _) = two_instances(&s1).await;
    let (b, _) = two_instances(&s2).await;
    let ga = a.try_acquire_lease("same-name").await.expect("a");
    let gb = b.try_acquire_lease("same-name").await.expect("b");
    assert!(ga.is_some() && gb.is_some());
    drop((ga, gb));
    a.close().await;
    b.close().await;
    drop_schema(&s1).await;
    drop_schema(&s2).await;
}

#[tokio::test]
async fn sqlite_grants_a_local_lease_and_names_are_checked() {
    let dir = tempfile::tempdir().expect("temp dir");
    let url = format!(
        "sqlite://{}?mode=rwc",
        dir.path().join("okienko.sqlite").display()
    );
    let store = Store::connect(&url, keyring()).await.expect("sqlite");
    let mut g = store
        .try_acquire_lease("payments-status")
        .await
        .expect("lease")
        .expect("always granted on SQLite");
    assert!(g.is_held());
    assert_eq!(g.name(), "payments-status");
    assert!(
        tokio::time::timeout(Duration::from_millis(300), g.lost())
            .await
            .is_err(),
        "a local lease is never lost"
    );
    assert!(matches!(
        store.try_acquire_lease("Bad Name").await,
        Err(StoreError::Invalid("lease name"))
    ));
    store.close().await;
}
