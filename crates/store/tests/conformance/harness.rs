//! Per-test databases for the conformance suite: a fresh SQLite file in a temp dir, or a fresh
//! PostgreSQL schema (dropped after a passing test). `Raw` reaches under the API to plant corrupt
//! rows and to check that erased rows are really gone.

use std::path::PathBuf;
use std::sync::atomic::{AtomicU32, Ordering};

use okienko_store::{KeyId, Keyring, MasterKey, Store};
use sqlx::postgres::{PgPool, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqlitePool, SqlitePoolOptions};

pub const DEFAULT_PG_URL: &str = "postgres://127.0.0.1:5432/test";

pub enum Raw {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

pub struct Ctx {
    pub store: Store,
    pub raw: Raw,
    /// The SQLite database file (None on PostgreSQL).
    pub db_file: Option<PathBuf>,
    schema: Option<(String, String)>,
    _dir: Option<tempfile::TempDir>,
}

impl Ctx {
    pub async fn exec(&self, sql: &'static str) -> Result<u64, sqlx::Error> {
        match &self.raw {
            Raw::Sqlite(p) => sqlx::query(sql).execute(p).await.map(|r| r.rows_affected()),
            Raw::Postgres(p) => sqlx::query(sql).execute(p).await.map(|r| r.rows_affected()),
        }
    }

    /// Runs a `SELECT COUNT(*) … WHERE x = $1` style query with one text bind.
    pub async fn count(&self, sql: &'static str, bind: &str) -> i64 {
        match &self.raw {
            Raw::Sqlite(p) => sqlx::query_scalar(sql).bind(bind).fetch_one(p).await,
            Raw::Postgres(p) => sqlx::query_scalar(sql).bind(bind).fetch_one(p).await,
        }
        .expect("raw count query")
    }

    /// Runs a statement with two text binds ($1, $2).
    pub async fn exec2(&self, sql: &'static str, a: &str, b: &str) -> u64 {
        match &self.raw {
            Raw::Sqlite(p) => sqlx::query(sql)
                .bind(a)
                .bind(b)
                .execute(p)
                .await
                .map(|r| r.rows_affected()),
            Raw::Postgres(p) => sqlx::query(sql)
                .bind(a)
                .bind(b)
                .execute(p)
                .await
                .map(|r| r.rows_affected()),
        }
        .expect("raw statement")
    }

    /// Opens a second store on the same database with another keyring.
    pub async fn reopen(&self, keyring: Keyring) -> Result<Store, okienko_store::StoreError> {
        match (&self.db_file, &self.schema) {
            (Some(file), _) => {
                Store::connect(&format!("sqlite://{}", file.display()), keyring).await
            }
            (None, Some((url, schema))) => Store::connect_isolated(url, schema, keyring).await,
            (None, None) => unreachable!("a test database is a file or a schema"),
        }
    }

    pub async fn finish(self) {
        self.store.close().await;
        match &self.raw {
            Raw::Sqlite(p) => p.close().await,
            Raw::Postgres(p) => p.close().await,
        }
        if let Some((url, schema)) = &self.schema {
            let opts = okienko_store::pg_connect_options(url).expect("PG URL");
            let pool = PgPool::connect_with(opts)
                .await
                .expect("reconnect to drop schema");
            sqlx::query(sqlx::AssertSqlSafe(format!(
                "DROP SCHEMA \"{schema}\" CASCADE"
            )))
            .execute(&pool)
            .await
            .expect("drop test schema");
            pool.close().await;
        }
    }
}

/// The keyring every conformance store is opened with (a fixed key, so a test can reopen).
pub fn keyring() -> Keyring {
    Keyring::single(
        KeyId::new("test-1").expect("key id"),
        MasterKey::from_bytes([7; 32]),
    )
}

pub async fn sqlite(_test: &str) -> Ctx {
    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("okienko.sqlite");
    let url = format!("sqlite://{}?mode=rwc", file.display());
    let store = Store::connect(&url, keyring())
        .await
        .expect("open SQLite store");
    assert_eq!(store.backend(), okienko_store::Backend::Sqlite);
    // The audit log lives in `<file>.audit`, attached as the store attaches it.
    let audit = format!("{}.audit", file.display());
    let raw = SqlitePoolOptions::new()
        .after_connect(move |conn, _| {
            let audit = audit.clone();
            Box::pin(async move {
                sqlx::query("ATTACH DATABASE $1 AS audit")
                    .bind(audit)
                    .execute(conn)
                    .await
                    .map(|_| ())
            })
        })
        .connect_with(SqliteConnectOptions::new().filename(&file))
        .await
        .expect("raw SQLite pool");
    Ctx {
        store,
        raw: Raw::Sqlite(raw),
        db_file: Some(file),
        schema: None,
        _dir: Some(dir),
    }
}

pub async fn postgres(test: &str) -> Ctx {
    static N: AtomicU32 = AtomicU32::new(0);
    let url = std::env::var("OKIENKO_TEST_PG_URL").unwrap_or_else(|_| DEFAULT_PG_URL.to_owned());
    let schema = format!(
        "store_{}_{}_{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed),
        test.chars().take(30).collect::<String>()
    );
    let store = Store::connect_isolated(&url, &schema, keyring())
        .await
        .unwrap_or_else(|e| {
            panic!(
                "PostgreSQL at {url} is required for the store conformance tests and could not be \
             used ({e}). Start PostgreSQL there or point OKIENKO_TEST_PG_URL at one."
            )
        });
    assert_eq!(store.backend(), okienko_store::Backend::Postgres);
    let opts = okienko_store::pg_connect_options(&url)
        .expect("PG URL")
        .options([("search_path", schema.as_str())]);
    let raw = PgPoolOptions::new()
        .max_connections(2)
        .connect_with(opts)
        .await
        .expect("raw PostgreSQL pool");
    Ctx {
        store,
        raw: Raw::Postgres(raw),
        db_file: None,
        schema: Some((url, schema)),
        _dir: None,
    }
}
