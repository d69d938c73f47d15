//! The conformance suite on PostgreSQL (`OKIENKO_TEST_PG_URL`, default
//! postgres://127.0.0.1:5432/test), one fresh schema per test. An unreachable server FAILS the
//! tests with a message saying so: there is no silent skip.

mod conformance;

conformance_tests!(conformance::harness::postgres);

#[tokio::test]
async fn isolated_schema_names_are_checked() {
    let url = std::env::var("OKIENKO_TEST_PG_URL")
        .unwrap_or_else(|_| conformance::harness::DEFAULT_PG_URL.to_owned());
    assert!(matches!(
        okienko_store::Store::connect_isolated(&url, "bad\"name", conformance::harness::keyring())
            .await,
        Err(okienko_store::StoreError::Invalid("schema"))
    ));
}
