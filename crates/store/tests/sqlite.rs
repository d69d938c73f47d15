//! The conformance suite on SQLite (a fresh file per test), plus SQLite-only connection checks.

mod conformance;

conformance_tests!(conformance::harness::sqlite);

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

/// The database file and its `-wal`, `.keys` and `.keys-wal` companions, as far as they exist.
fn file_set(db: &std::path::Path) -> Vec<(std::path::PathBuf, Vec<u8>)> {
    ["", "-wal", ".keys", ".keys-wal"]
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
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("legacy.sqlite");
    let url = format!("sqlite://{}?mode=rwc", file.display());
    let store = okienko_store::Store::connect(&url, conformance::harness::keyring())
        .await
        .unwrap();
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
