//! The conformance suite on SQLite (a fresh file per test), plus SQLite-only connection checks.

mod conformance;

conformance_tests!(conformance::harness::sqlite);

/// A fresh SQLite store in a new temporary directory: the directory (kept alive by the caller),
/// the database file, its URL and the open store.
async fn fresh(
    name: &str,
) -> (
    tempfile::TempDir,
    std::path::PathBuf,
    String,
    okienko_store::Store,
) {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join(name);
    let url = format!("sqlite://{}?mode=rwc", file.display());
    let store = okienko_store::Store::connect(&url, conformance::harness::keyring())
        .await
        .unwrap();
    (dir, file, url, store)
}

#[tokio::test]
async fn unsupported_urls_are_refused() {
    for url in ["mysql://localhost/x", "", "file:/tmp/x"] {
        assert!(matches!(
            okienko_store::Store::connect(url, conformance::harness::keyring()).await,
            Err(okienko_store::StoreError::UnsupportedUrl)
        ));
    }
}

#[tokio::test]
async fn relative_urls_and_reopening_work() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("again.sqlite");
    let url = format!("sqlite://{}", file.display());
    let s = okienko_store::Store::connect(&url, conformance::harness::keyring())
        .await
        .unwrap();
    s.upsert_customer(&conformance::customer_rec())
        .await
        .unwrap();
    s.close().await;
    // Migrations are idempotent: a second open of the same file works.
    let s = okienko_store::Store::connect(&url, conformance::harness::keyring())
        .await
        .unwrap();
    s.close().await;
}

/// Every store future must be `Send`, so callers can hold it across `tokio::spawn` and axum handlers.
#[allow(dead_code, unused_must_use, clippy::let_underscore_future)]
fn store_futures_are_send(s: &okienko_store::Store) {
    use chrono::NaiveDate;
    use okienko_core::*;
    fn send<T: Send>(_: T) {}
    let (c, k, a) = (CustomerId::new(), ConsentId::new(), AccountId::new());
    let day = NaiveDate::MIN;
    let batch = okienko_store::TxBatch::default();
    send(s.customer(c));
    send(s.consent(k));
    send(s.consent_by_oauth_state("x"));
    send(s.consents_for_customer(c));
    send(s.consents_with_status(ConsentStatus::Valid));
    send(s.accounts_for_customer(c));
    send(s.accounts_for_consent(k));
    send(s.replace_balances(a, &[]));
    send(s.balances_for_customer(c));
    send(s.apply_transactions(a, &batch));
    send(s.stored_transactions(a, day));
    send(s.transactions_for_customer(c, &TxFilter::default(), 0, 1));
    send(s.merchants_for_customer(c));
    send(s.delete_customer_financial_data(c));
    send(s.take_access_budget(k, "x", day, 1));
    send(s.sync_state(a));
    send(s.last_audit());
    send(s.audit_rows(0, 1));
    send(s.audit_for_subject("x", 1));
    send(s.bulk_insert_transactions_baseline(a, &[]));
    send(s.close());
}

fn contains(hay: &[u8], needle: &str) -> bool {
    hay.windows(needle.len()).any(|w| w == needle.as_bytes())
}

/// The database file and its `-wal`, `.keys`, `.audit` and their `-wal` companions, as far as
/// they exist.
fn file_set(db: &std::path::Path) -> Vec<(std::path::PathBuf, Vec<u8>)> {
    ["", "-wal", ".keys", ".keys-wal", ".audit", ".audit-wal"]
        .iter()
        .filter_map(|suffix| {
            let mut p = db.as_os_str().to_owned();
            p.push(suffix);
            let p = std::path::PathBuf::from(p);
            std::fs::read(&p).ok().map(|b| (p, b))
        })
        .collect()
}

/// Crypto-shredding on SQLite: the customer's data is encrypted at rest (a backup copy of the
/// database file holds none of it in plaintext), revocation leaves nothing in the live files, and
/// the backup stays unreadable for ever because the customer's data key is gone, whether it is
/// opened alone or restored next to the live key file.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn revoked_customer_is_unreadable_in_live_files_and_backups() {
    use chrono::Utc;
    use okienko_core::*;
    use okienko_store::*;

    const IBAN: &str = "PL27114020040000300201355387";
    const COUNTERPARTY: &str = "DE89370400440532013000";
    const MERCHANTS: [&str; 2] = ["Kwiaciarnia Pod Lipami", "Antykwariat Szuflada"];
    const DESCRIPTION: &str = "ZAKUP PRZY UZYCIU KARTY NR REF 77Q";
    const TOKEN: &str = "access-token-of-the-victim";
    const AMOUNTS: [&str; 3] = ["4321.87", "432187", "98765.43"];

    let dir = tempfile::tempdir().unwrap();
    let live = dir.path().join("live.sqlite");
    let url = |p: &std::path::Path| format!("sqlite://{}?mode=rwc", p.display());
    let store = Store::connect(&url(&live), conformance::harness::keyring())
        .await
        .unwrap();

    let (victim, consent, acc) = conformance::setup(&store).await;
    let (keeper, _, keeper_acc) = conformance::setup(&store).await;
    let mut c = store.consent(consent).await.unwrap().unwrap();
    c.access_token = Some(TOKEN.into());
    store.update_consent(&c).await.unwrap();
    let mut a = store.accounts_for_customer(victim).await.unwrap().remove(0);
    a.account.iban = Some(IBAN.parse().unwrap());
    a.account.name = "Konto Jana Testowego".into();
    store.upsert_account(&a).await.unwrap();
    for (acc, n) in [(acc, 40), (keeper_acc, 3)] {
        let rows: Vec<NewTransaction> = (0..n)
            .map(|i| {
                let mut t = conformance::new_tx(
                    &format!("2026-03-{:02}", i % 28 + 1),
                    conformance::pln("-4321.87"),
                    Some(MERCHANTS[i % 2]),
                    BookingStatus::Booked,
                );
                t.raw_description = DESCRIPTION.into();
                t.counterparty_iban = Some(COUNTERPARTY.into());
                t
            })
            .collect();
        store
            .apply_transactions(
                acc,
                &TxBatch {
                    insert: rows,
                    ..Default::default()
                },
            )
            .await
            .unwrap();
    }
    store
        .replace_balances(
            acc,
            &[Balance {
                account_id: acc,
                kind: BalanceKind::InterimAvailable,
                amount: conformance::pln("98765.43"),
                reference_date: None,
                fetched_at: Utc::now(),
            }],
        )
        .await
        .unwrap();

    // A backup: the database file after a clean close (WAL folded in), copied.
    store.close().await;
    let backup_dir = dir.path().join("backup");
    std::fs::create_dir(&backup_dir).unwrap();
    let backup = backup_dir.join("okienko.sqlite");
    std::fs::copy(&live, &backup).unwrap();

    let mut secrets: Vec<&str> = vec![IBAN, COUNTERPARTY, DESCRIPTION, TOKEN, "Konto Jana"];
    secrets.extend(MERCHANTS);
    secrets.extend(AMOUNTS);
    // (b) Encrypted at rest: the backup (and every live file) holds none of it in plaintext.
    for (path, bytes) in file_set(&backup).into_iter().chain(file_set(&live)) {
        for s in &secrets {
            assert!(
                !contains(&bytes, s),
                "{s} in plaintext in {}",
                path.display()
            );
        }
    }

    let store = Store::connect(&url(&live), conformance::harness::keyring())
        .await
        .unwrap();
    assert_eq!(
        store.accounts_for_customer(victim).await.unwrap()[0]
            .account
            .iban
            .as_ref()
            .map(Iban::expose),
        Some(IBAN)
    );
    store.delete_customer_financial_data(victim).await.unwrap();
    store.close().await;

    // (a) The live files hold nothing of the victim, not even their wrapped data key.
    let live_files = file_set(&live);
    assert!(
        live_files
            .iter()
            .any(|(p, _)| p.extension().is_some_and(|e| e == "keys"))
    );
    for (path, bytes) in &live_files {
        for s in &secrets {
            assert!(!contains(bytes, s), "{s} in {}", path.display());
        }
        if path.extension().is_some_and(|e| e == "keys") {
            assert!(
                !contains(bytes, &victim.to_string()),
                "victim's key row in {}",
                path.display()
            );
            assert!(
                contains(bytes, &keeper.to_string()),
                "keeper's key row is kept"
            );
        }
    }

    // (c) The backup opened as a store: alone (no key file travels with it)...
    let alone = Store::connect(&url(&backup), conformance::harness::keyring())
        .await
        .unwrap();
    assert!(matches!(
        alone.accounts_for_customer(victim).await,
        Err(StoreError::DataKeyMissing)
    ));
    alone.close().await;
    // ...or restored next to the live key file: the keeper reads fine, the victim never again.
    for suffix in [".keys", ".keys-wal"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", backup.display()));
    }
    std::fs::copy(
        format!("{}.keys", live.display()),
        format!("{}.keys", backup.display()),
    )
    .unwrap();
    let restored = Store::connect(&url(&backup), conformance::harness::keyring())
        .await
        .unwrap();
    assert_eq!(
        restored
            .transactions_for_customer(keeper, &TxFilter::default(), 0, 10)
            .await
            .unwrap()
            .1,
        3
    );
    for err in [
        restored.accounts_for_customer(victim).await.err(),
        restored.balances_for_customer(victim).await.err(),
        restored
            .transactions_for_customer(victim, &TxFilter::default(), 0, 10)
            .await
            .err(),
        restored.consent(consent).await.err(),
    ] {
        assert!(matches!(err, Some(StoreError::DataKeyMissing)), "{err:?}");
    }
    restored.close().await;
}

/// Consent secrets written before encryption existed are sealed at the next connect.
#[tokio::test]
async fn legacy_plaintext_consent_secrets_are_sealed_at_connect() {
    let (_dir, _file, url, store) = fresh("legacy.sqlite").await;
    let mut c = conformance::consent_rec(okienko_core::CustomerId::new());
    c.pkce_verifier = None;
    store.insert_consent(&c).await.unwrap();
    store.close().await;
    let raw = sqlx::SqlitePool::connect(&url).await.unwrap();
    sqlx::query("UPDATE consents SET access_token = 'legacy-token', pkce_verifier = 'legacy-pkce'")
        .execute(&raw)
        .await
        .unwrap();

    let store = okienko_store::Store::connect(&url, conformance::harness::keyring())
        .await
        .unwrap();
    let back = store.consent(c.id).await.unwrap().unwrap();
    assert_eq!(back.access_token.as_deref(), Some("legacy-token"));
    assert_eq!(back.pkce_verifier.as_deref(), Some("legacy-pkce"));
    let plain: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM consents WHERE access_token IS NOT NULL OR pkce_verifier IS NOT NULL \
         OR sealed IS NULL",
    )
    .fetch_one(&raw)
    .await
    .unwrap();
    assert_eq!(plain, 0);
    raw.close().await;
    store.close().await;
}

fn audit_entry(n: usize) -> okienko_store::AuditEntry {
    okienko_store::AuditEntry {
        at: chrono::Utc::now(),
        actor: "customer".into(),
        subject: format!("subject-{n}"),
        purpose: "service.balance".into(),
        action: "read.balances".into(),
        decision: "allow[customer_balance]".into(),
        channel: "webchat".into(),
    }
}

/// Bytes of the file at `path` followed by `suffix`, empty when it does not exist.
fn read_or_empty(path: &std::path::Path, suffix: &str) -> Vec<u8> {
    std::fs::read(format!("{}{suffix}", path.display())).unwrap_or_default()
}

/// Audit rows go to `<db>.audit` and nowhere else: appending them leaves the main file and its
/// WAL byte for byte as they were (so readers of financial data keep their page caches), and the
/// main file has no audit table at all.
#[tokio::test]
async fn audit_rows_are_written_to_the_audit_file_only() {
    let (_dir, file, url, store) = fresh("okienko.sqlite").await;
    store
        .upsert_customer(&conformance::customer_rec())
        .await
        .unwrap();
    // The first append creates the audit key (in `.keys`); later ones touch only `.audit`.
    store.append_audit(&audit_entry(0)).await.unwrap();
    let before = (read_or_empty(&file, ""), read_or_empty(&file, "-wal"));
    for batch in 0..5 {
        let entries: Vec<_> = (0..4).map(|i| audit_entry(batch * 4 + i)).collect();
        store.append_audit_batch(&entries).await.unwrap();
    }
    let after = (read_or_empty(&file, ""), read_or_empty(&file, "-wal"));
    assert!(
        before == after,
        "audit appends changed the main database file"
    );
    let check = store.verify_audit().await.unwrap();
    assert_eq!((check.rows, check.problem), (21, None));

    let raw = sqlx::SqlitePool::connect(&url).await.unwrap();
    let in_main: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM sqlite_master WHERE name IN ('audit_log', 'audit_head')",
    )
    .fetch_one(&raw)
    .await
    .unwrap();
    assert_eq!(in_main, 0, "audit tables in the main file");
    raw.close().await;
    let audit = sqlx::SqlitePool::connect(&format!("sqlite://{}.audit", file.display()))
        .await
        .unwrap();
    let rows: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM audit_log")
        .fetch_one(&audit)
        .await
        .unwrap();
    assert_eq!(rows, 21);
    // The append-only triggers came along.
    assert!(
        sqlx::query("DELETE FROM audit_log WHERE seq = 1")
            .execute(&audit)
            .await
            .is_err()
    );
    audit.close().await;
    store.close().await;
}

/// The audit tables as an older version created them in the main file (migrations 0001, 0013).
const OLD_AUDIT_TABLES: &[&str] = &[
    "CREATE TABLE main.audit_log (seq BIGINT PRIMARY KEY NOT NULL, at TEXT NOT NULL, \
     actor TEXT NOT NULL, subject TEXT NOT NULL, purpose TEXT NOT NULL, action TEXT NOT NULL, \
     decision TEXT NOT NULL, channel TEXT NOT NULL, prev_hash TEXT NOT NULL, hash TEXT NOT NULL)",
    "CREATE TABLE main.audit_head (id INTEGER PRIMARY KEY NOT NULL CHECK (id = 1), \
     keyed_from BIGINT NOT NULL, seq BIGINT NOT NULL, hash TEXT NOT NULL, mac TEXT NOT NULL)",
    "INSERT INTO main.audit_log SELECT * FROM audit.audit_log",
    "INSERT INTO main.audit_head SELECT * FROM audit.audit_head",
];

/// A database written before the audit file existed has its audit rows in the main file: the
/// next connect moves them (the chain still verifies, appends go on after the last row, and the
/// main file's tables are gone). A move interrupted after the copy (rows in both files) is
/// finished without copying a row twice.
#[tokio::test]
async fn audit_rows_of_an_older_database_move_into_the_audit_file() {
    for interrupted in [false, true] {
        let (_dir, file, url, store) = fresh("okienko.sqlite").await;
        let entries: Vec<_> = (0..3).map(audit_entry).collect();
        store.append_audit_batch(&entries).await.unwrap();
        store.close().await;

        // Put the rows back where an older version kept them.
        let audit_file = format!("{}.audit", file.display());
        let raw = sqlx::SqlitePool::connect_with(
            sqlx::sqlite::SqliteConnectOptions::new().filename(&file),
        )
        .await
        .unwrap();
        let mut conn = raw.acquire().await.unwrap();
        sqlx::query("ATTACH DATABASE $1 AS audit")
            .bind(&audit_file)
            .execute(&mut *conn)
            .await
            .unwrap();
        for sql in OLD_AUDIT_TABLES {
            sqlx::query(*sql).execute(&mut *conn).await.unwrap();
        }
        drop(conn);
        raw.close().await;
        if !interrupted {
            for suffix in ["", "-wal", "-shm"] {
                let _ = std::fs::remove_file(format!("{audit_file}{suffix}"));
            }
        }

        let store = okienko_store::Store::connect(&url, conformance::harness::keyring())
            .await
            .unwrap();
        let check = store.verify_audit().await.unwrap();
        assert_eq!(
            (check.rows, check.problem),
            (3, None),
            "interrupted: {interrupted}"
        );
        let next = store.append_audit(&audit_entry(3)).await.unwrap();
        assert_eq!(next.seq, 4);
        assert!(store.verify_audit().await.unwrap().problem.is_none());
        let raw = sqlx::SqlitePool::connect(&url).await.unwrap();
        let in_main: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM sqlite_master WHERE name IN ('audit_log', 'audit_head')",
        )
        .fetch_one(&raw)
        .await
        .unwrap();
        assert_eq!(in_main, 0);
        raw.close().await;
        store.close().await;
    }
}

/// The balance read keeps a decrypted copy between questions (`read_cache.rs`); a write to the
/// customer's accounts or balances by anyone, here a second process-like handle on the same
/// file, is seen at the next read, and an erase leaves nothing.
#[tokio::test]
async fn kept_balances_follow_writes_from_another_connection() {
    use okienko_core::*;

    let (_dir, _file, url, a) = fresh("kept.sqlite").await;
    let b = okienko_store::Store::connect(&url, conformance::harness::keyring())
        .await
        .unwrap();
    let (cust, _, acc) = conformance::setup(&a).await;
    let (other, _, other_acc) = conformance::setup(&a).await;
    let bal = |a: AccountId, amount: &str| Balance {
        account_id: a,
        kind: BalanceKind::InterimAvailable,
        amount: conformance::pln(amount),
        reference_date: None,
        fetched_at: chrono::Utc::now(),
    };
    let amounts = |s: &okienko_store::Store, c| {
        let s = s.clone();
        async move {
            let (accounts, balances) = s.accounts_and_balances_for_customer(c).await.unwrap();
            let names: Vec<String> = accounts.into_iter().map(|a| a.account.name).collect();
            let amounts: Vec<String> = balances
                .into_iter()
                .map(|b| b.amount.amount_string())
                .collect();
            (names, amounts)
        }
    };
    a.replace_balances(acc, &[bal(acc, "100.00")])
        .await
        .unwrap();
    a.replace_balances(other_acc, &[bal(other_acc, "5.00")])
        .await
        .unwrap();
    let first = amounts(&a, cust).await;
    assert_eq!(first.1.len(), 1);
    assert!(first.1[0].contains("100.00"), "{first:?}");
    assert_eq!(amounts(&a, cust).await, first, "read again unchanged");

    // Another handle writes new balances: the first sees them at once.
    b.replace_balances(acc, &[bal(acc, "42.10")]).await.unwrap();
    let after = amounts(&a, cust).await;
    assert!(after.1[0].contains("42.10"), "{after:?}");
    // ... and a renamed account.
    let mut rec = b.accounts_for_customer(cust).await.unwrap().remove(0);
    rec.account.name = "Konto po zmianie".into();
    b.upsert_account(&rec).await.unwrap();
    assert_eq!(
        amounts(&a, cust).await.0,
        vec!["Konto po zmianie".to_owned()]
    );
    // Another customer's writes do not disturb this one's answer.
    b.replace_balances(other_acc, &[bal(other_acc, "6.00")])
        .await
        .unwrap();
    assert!(amounts(&a, cust).await.1[0].contains("42.10"));
    assert!(amounts(&a, other).await.1[0].contains("6.00"));

    // Erased through the other handle: nothing is served from memory.
    b.delete_customer_financial_data(cust).await.unwrap();
    assert_eq!(amounts(&a, cust).await, (vec![], vec![]));
    b.close().await;
    a.close().await;
}
