//! The conformance suite on SQLite (a fresh file per test), plus SQLite-only connection checks.

mod conformance;

conformance_tests!(conformance::harness::sqlite);

#[tokio::test]
async fn unsupported_urls_are_refused() {
    for url in ["mysql://localhost/x", "", "file:/tmp/x"] {
        assert!(matches!(
            okienko_store::Store::connect(url).await,
            Err(okienko_store::StoreError::UnsupportedUrl)
        ));
    }
}

#[tokio::test]
async fn relative_urls_and_reopening_work() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("again.sqlite");
    let url = format!("sqlite://{}", file.display());
    let s = okienko_store::Store::connect(&url).await.unwrap();
    s.upsert_customer(&conformance::customer_rec())
        .await
        .unwrap();
    s.close().await;
    // Migrations are idempotent: a second open of the same file works.
    let s = okienko_store::Store::connect(&url).await.unwrap();
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
