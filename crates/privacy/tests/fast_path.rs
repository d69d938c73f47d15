//! The gate's fast path over real SQLite files: the consent cache never serves a revoked,
//! replaced or expired consent, and the queued audit never lets data out before its row is
//! durable (a flush that cannot happen, a writer that dies, a forged checkpoint), while a busy
//! run still leaves one intact chain.

mod common;
use common::raw;

use std::sync::Arc;
use std::time::Duration as StdDuration;

use chrono::{DateTime, Duration, NaiveTime, Utc};
use okienko_core::{
    Account, AccountId, Balance, BalanceKind, Clock, ConsentId, ConsentScope, ConsentStatus,
    Currency, CustomerId, FixedClock, Lang, Money,
};
use okienko_privacy::{
    AccessError, AccessRequest, ChannelContext, DenyReason, PrivacyGate, Purpose,
};
use okienko_store::{AccountRecord, ConsentRecord, CustomerRecord, Keyring, Store};

struct Fixture {
    _dir: tempfile::TempDir,
    path: std::path::PathBuf,
    url: String,
    keyring: Keyring,
    store: Store,
    clock: Arc<FixedClock>,
    gate: PrivacyGate,
    customer: CustomerId,
    consent: ConsentRecord,
}

fn consent(customer: CustomerId, now: DateTime<Utc>, valid_days: i64) -> ConsentRecord {
    ConsentRecord {
        id: ConsentId::new(),
        customer,
        bank: "sandbox".into(),
        bank_consent_id: Some("c-1".into()),
        status: ConsentStatus::Valid,
        scopes: vec![ConsentScope::Balances, ConsentScope::Transactions],
        valid_until: (now + Duration::days(valid_days)).date_naive(),
        frequency_per_day: 4,
        recurring: true,
        access_token: None,
        oauth_state: None,
        pkce_verifier: None,
        created_at: now,
        updated_at: now,
    }
}

/// A customer with one valid consent (for `valid_days` more days), one account and a balance;
/// the gate's clock stands at `now`.
async fn fixture_at(now: DateTime<Utc>, valid_days: i64) -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("gate.sqlite");
    let url = format!("sqlite://{}?mode=rwc", path.display());
    let keyring = Keyring::generate();
    let store = Store::connect(&url, keyring.clone()).await.unwrap();
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
    let consent = consent(customer, now, valid_days);
    store.insert_consent(&consent).await.unwrap();
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
            consent: consent.id,
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
                amount: Money::parse("1234.56", "PLN").unwrap(),
                reference_date: None,
                fetched_at: now,
            }],
        )
        .await
        .unwrap();
    let clock = Arc::new(FixedClock::new(now));
    let dyn_clock: Arc<dyn Clock> = clock.clone();
    Fixture {
        gate: PrivacyGate::new(store.clone(), dyn_clock),
        _dir: dir,
        path,
        url,
        keyring,
        store,
        clock,
        customer,
        consent,
    }
}

async fn fixture() -> Fixture {
    fixture_at(Utc::now(), 90).await
}

fn balance_req(f: &Fixture) -> AccessRequest {
    AccessRequest::customer(f.customer, Purpose::ServiceBalance, ChannelContext::WebChat)
}

fn denied_no_consent<T: std::fmt::Debug>(r: Result<T, AccessError>) -> bool {
    matches!(r, Err(AccessError::Denied(DenyReason::NoConsent)))
}

async fn audit_rows(path: &std::path::Path) -> i64 {
    let pool = raw(path).await;
    let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM audit_log")
        .fetch_one(&pool)
        .await
        .unwrap();
    pool.close().await;
    n
}

#[tokio::test]
async fn a_revoke_denies_the_very_next_access() {
    let f = fixture().await;
    let req = balance_req(&f);
    // Warm the cache: these are served from it afterwards.
    for _ in 0..3 {
        f.gate.balances(&req).await.unwrap();
    }
    let (hits, _) = f.gate.consent_cache_stats();
    assert!(hits >= 2, "the cache was not used: {hits}");
    let mut revoked = f.consent.clone();
    revoked.status = ConsentStatus::RevokedByPsu;
    f.store.update_consent(&revoked).await.unwrap();
    // Same instant on the gate's clock: only the synchronous invalidation can explain a denial.
    assert!(denied_no_consent(f.gate.balances(&req).await));
    assert!(denied_no_consent(
        f.gate.deferred_audit(f.gate.balances(&req)).await.unwrap()
    ));
    // A new consent (a grant) is seen at once too.
    let granted = consent(f.customer, f.clock.now(), 90);
    f.store.insert_consent(&granted).await.unwrap();
    f.gate.balances(&req).await.unwrap();
    // The expiry job marks it expired: denied at once.
    let mut expired = granted.clone();
    expired.status = ConsentStatus::Expired;
    f.store.update_consent(&expired).await.unwrap();
    assert!(denied_no_consent(f.gate.balances(&req).await));
}

#[tokio::test]
async fn a_cached_consent_expires_at_midnight_not_at_the_next_reload() {
    // The consent's last valid day is today; the clock stands just before midnight.
    let today = Utc::now().date_naive();
    let before_midnight = today
        .and_time(NaiveTime::from_hms_milli_opt(23, 59, 59, 700).unwrap())
        .and_utc();
    let f = fixture_at(before_midnight, 0).await;
    let req = balance_req(&f);
    f.gate.balances(&req).await.unwrap();
    let (_, misses) = f.gate.consent_cache_stats();
    // 0.5 s later (well within the cache's max age) it is tomorrow: the entry is still fresh,
    // but the consent is not.
    f.clock.advance(Duration::milliseconds(500));
    assert!(denied_no_consent(f.gate.balances(&req).await));
    assert_eq!(
        f.gate.consent_cache_stats().1,
        misses,
        "judged from the cached entry, not a reload"
    );
}

#[tokio::test]
async fn another_processs_revoke_takes_effect_within_the_max_age() {
    let f = fixture().await;
    let req = balance_req(&f);
    f.gate.balances(&req).await.unwrap();
    // A second handle on the same file stands for another gateway process: its writes tell
    // nobody here.
    let other = Store::connect(&f.url, f.keyring.clone()).await.unwrap();
    let mut revoked = f.consent.clone();
    revoked.status = ConsentStatus::RevokedByPsu;
    other.update_consent(&revoked).await.unwrap();
    // Within the max age the cached grant may still be served (documented: the bus will carry
    // consent changes between instances)...
    f.clock.advance(Duration::milliseconds(200));
    let _ = f.gate.balances(&req).await;
    // ...but not after it.
    f.clock.advance(Duration::milliseconds(1_000));
    assert!(denied_no_consent(f.gate.balances(&req).await));
}

#[tokio::test]
async fn deferred_reads_are_durable_when_the_scope_returns() {
    let f = fixture().await;
    let req = balance_req(&f);
    let before = audit_rows(&f.path).await;
    let reads = f
        .gate
        .deferred_audit(async {
            let mut out = Vec::new();
            for _ in 0..20 {
                out.push(f.gate.balances(&req).await.unwrap());
            }
            out
        })
        .await
        .unwrap();
    // Every row is in the file (read through another connection) the moment the scope returns.
    assert_eq!(audit_rows(&f.path).await, before + 20);
    let mut seqs: Vec<i64> = reads.iter().map(|g| g.audit_seq()).collect();
    assert!(seqs.iter().all(|s| *s > 0), "{seqs:?}");
    seqs.dedup();
    assert_eq!(seqs.len(), 20);
    assert!(f.gate.verify_audit().await.unwrap().intact);
}

/// Holds SQLite's write lock from another connection until dropped.
struct WriteLock(sqlx::pool::PoolConnection<sqlx::Sqlite>, sqlx::SqlitePool);

async fn hold_write_lock(path: &std::path::Path) -> WriteLock {
    let pool = raw(path).await;
    let mut conn = pool.acquire().await.unwrap();
    sqlx::query("BEGIN IMMEDIATE")
        .execute(&mut *conn)
        .await
        .unwrap();
    WriteLock(conn, pool)
}

impl WriteLock {
    async fn release(mut self) {
        sqlx::query("ROLLBACK").execute(&mut *self.0).await.unwrap();
        drop(self.0);
        self.1.close().await;
    }
}

#[tokio::test]
async fn no_data_leaves_while_its_audit_row_cannot_be_written() {
    let f = fixture().await;
    let req = balance_req(&f);
    f.gate.balances(&req).await.unwrap();
    let before = audit_rows(&f.path).await;
    let lock = hold_write_lock(&f.path).await;
    // Inside a scope the read itself returns (its row is queued)...
    let inner = tokio::time::timeout(
        StdDuration::from_secs(2),
        f.gate.deferred_audit(async {
            let read = f.gate.balances(&req).await;
            assert!(read.is_ok(), "the read inside the scope returns");
            read
        }),
    )
    .await;
    // ...but the scope does not hand it out while the row cannot be written.
    assert!(
        inner.is_err(),
        "the scope returned before its audit row was durable"
    );
    // A read outside a scope does not return either.
    assert!(
        tokio::time::timeout(StdDuration::from_millis(500), f.gate.balances(&req))
            .await
            .is_err()
    );
    assert_eq!(audit_rows(&f.path).await, before);
    lock.release().await;
    // Once the database takes writes again the queued rows go in (audited, never disclosed),
    // and the chain is whole.
    f.gate.flush_audit().await;
    assert_eq!(audit_rows(&f.path).await, before + 2);
    f.gate.balances(&req).await.unwrap();
    let v = f.gate.verify_audit().await.unwrap();
    assert!(v.intact, "{v:?}");
}

#[test]
fn a_crash_before_the_flush_has_disclosed_nothing() {
    // The gateway "crashes" (its runtime is dropped, the flushing task with it) while its audit
    // flush is stuck behind another writer, after a read inside a scope: nothing was handed out,
    // the row is not in the file, and the next gateway on the same file goes on with an intact
    // chain. The other writer lives on its own runtime, like another process.
    let outside = tokio::runtime::Runtime::new().unwrap();
    let gateway = tokio::runtime::Runtime::new().unwrap();
    let f = gateway.block_on(fixture());
    gateway.block_on(f.gate.balances(&balance_req(&f))).unwrap();
    let lock = outside.block_on(hold_write_lock(&f.path));
    let disclosed = Arc::new(std::sync::atomic::AtomicBool::new(false));
    gateway.block_on(async {
        let flag = disclosed.clone();
        let gate = f.gate.clone();
        let req = balance_req(&f);
        tokio::spawn(async move {
            let out = gate.deferred_audit(gate.balances(&req)).await;
            flag.store(true, std::sync::atomic::Ordering::SeqCst);
            out.map(|r| r.map(|g| g.into_data().len()))
        });
        tokio::time::sleep(StdDuration::from_millis(300)).await;
    });
    let Fixture {
        _dir: dir,
        path,
        url,
        keyring,
        ..
    } = f;
    drop(gateway); // the crash
    assert!(!disclosed.load(std::sync::atomic::Ordering::SeqCst));
    outside.block_on(async {
        lock.release().await;
        // Only the row of the read before the lock is in the file.
        assert_eq!(audit_rows(&path).await, 1);
        // The next process: the chain is whole and goes on.
        let store = Store::connect(&url, keyring).await.unwrap();
        let gate = PrivacyGate::new(store, Arc::new(okienko_core::SystemClock));
        let v = gate.verify_audit().await.unwrap();
        assert!(v.intact && v.rows == 1, "{v:?}");
    });
    drop(dir);
}

#[tokio::test]
async fn a_forged_checkpoint_refuses_every_read() {
    let f = fixture().await;
    let req = balance_req(&f);
    f.gate.balances(&req).await.unwrap();
    let pool = raw(&f.path).await;
    sqlx::query("UPDATE audit_head SET mac = 'forged'")
        .execute(&pool)
        .await
        .unwrap();
    pool.close().await;
    assert!(matches!(
        f.gate.balances(&req).await,
        Err(AccessError::Store(_))
    ));
    assert!(matches!(
        f.gate.deferred_audit(f.gate.balances(&req)).await,
        Err(AccessError::Store(_))
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_busy_run_leaves_one_intact_chain() {
    let f = fixture().await;
    let before = audit_rows(&f.path).await;
    let mut tasks = Vec::new();
    for i in 0..16 {
        let gate = f.gate.clone();
        let req = balance_req(&f);
        tasks.push(tokio::spawn(async move {
            let mut seqs = Vec::new();
            for _ in 0..25 {
                if i % 2 == 0 {
                    seqs.push(gate.balances(&req).await.unwrap().audit_seq());
                } else {
                    let g = gate.deferred_audit(gate.balances(&req)).await.unwrap();
                    seqs.push(g.unwrap().audit_seq());
                }
            }
            seqs
        }));
    }
    // A second gate on the same store (another part of the gateway) appends meanwhile.
    let other = PrivacyGate::new(f.store.clone(), Arc::new(okienko_core::SystemClock));
    let req = balance_req(&f);
    for _ in 0..50 {
        other.balances(&req).await.unwrap();
    }
    let mut seqs = Vec::new();
    for t in tasks {
        seqs.extend(t.await.unwrap());
    }
    seqs.sort_unstable();
    seqs.dedup();
    assert_eq!(seqs.len(), 400, "every read has its own row");
    assert_eq!(audit_rows(&f.path).await, before + 450);
    let v = f.gate.verify_audit().await.unwrap();
    assert!(v.intact, "{v:?}");
    assert_eq!(v.rows as i64, before + 450);
    let (batches, rows) = f.gate.audit_writer_stats();
    assert!(
        batches < rows,
        "no batching: {batches} transactions for {rows} rows"
    );
}
