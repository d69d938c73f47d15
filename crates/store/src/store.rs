//! The `Store` handle: which backend, how to connect (pragmas, pool sizes, per-test schemas), and the
//! embedded migrations, and the keyring the store encrypts with. On SQLite the wrapped data keys
//! live in a second file next to the database (`<file>.keys`, attached to every connection as
//! schema `keys`), so a copy of the database file alone never holds a key that could decrypt it;
//! and the audit log in a third (`<file>.audit`, schema `audit`; see `audit_file` for why).
//! Every SQL statement lives in the sibling modules as one `impl Store` block
//! each; they run the same statement text on both backends through [`with_pool!`].

use std::path::PathBuf;
use std::str::FromStr;
use std::sync::{Arc, RwLock, Weak};
use std::time::Duration;

use sqlx::migrate::{MigrateError, Migrator};
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};
use sqlx::{Connection, Database, Pool, Transaction};

use okienko_core::CustomerId;

use crate::direct::Direct;
use crate::error::{DbFailure, StoreError};
use crate::keys::Keyring;

static SQLITE_MIGRATIONS: Migrator = sqlx::migrate!("./migrations/sqlite");
static POSTGRES_MIGRATIONS: Migrator = sqlx::migrate!("./migrations/postgres");

// SQLite settings, and why:
//
// * `journal_mode = WAL`: readers never block the one writer nor each other, so the gate's reads
//   run beside the audit writer and the sync engine.
// * `synchronous = NORMAL`: in WAL mode a commit is written to the WAL (the OS holds it) but the
//   WAL is fsynced only at checkpoints. A *process* crash loses nothing committed. A *power loss*
//   or kernel crash can roll back the last transactions committed since the last checkpoint; the
//   database stays consistent (never corrupt), it just ends a little earlier. Bank data synced
//   again and chat state can take that; the audit trail cannot (a read whose audit row vanished
//   would have disclosed data unaudited), so the audit file (`<file>.audit`) is attached with
//   `synchronous = FULL`: one fsync per batch of audit rows, none on the read path.
// * `busy_timeout`: a writer waits this long for the write lock (held by another process, e.g.
//   `okienko audit verify` or a second gateway on the same file) before failing.
// * pool size: WAL allows many readers and one writer at a time; 8 connections let reads from
//   several tasks proceed while a write (a sync batch, an audit batch) holds the lock, and stay
//   well under the file descriptors of a small host.

/// How long a SQLite writer waits for another writer before giving up.
pub(crate) const SQLITE_BUSY_TIMEOUT: Duration = Duration::from_secs(15);
/// Connections in a SQLite pool (see above).
const SQLITE_POOL_SIZE: u32 = 8;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Backend {
    Sqlite,
    Postgres,
}

#[derive(Clone)]
pub(crate) enum Pools {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

/// A cheap-to-clone handle on the gateway's database (a connection pool inside).
#[derive(Clone)]
pub struct Store {
    pub(crate) pools: Pools,
    /// Shared by every clone; rotation swaps the active key in place.
    pub(crate) ring: Arc<RwLock<Keyring>>,
    /// Told synchronously about every consent written through this handle or its clones.
    pub(crate) consent_watch: Arc<ConsentWatch>,
    /// SQLite only: connections for the statements on a chat answer's path (`direct.rs`).
    pub(crate) direct: Option<Arc<Direct>>,
    /// Woken after every bus outbox row put through this handle or its clones (`outbox.rs`).
    pub(crate) outbox_wake: Arc<tokio::sync::Notify>,
}

/// Something that keeps derived consent state (the privacy gate's consent cache) and must
/// forget a customer's as soon as one of their consents changes.
pub trait ConsentListener: Send + Sync {
    fn consent_changed(&self, customer: CustomerId);
}

/// The listeners of one store (all its clones). Held weakly: a dropped gate drops out.
#[derive(Default)]
pub(crate) struct ConsentWatch {
    listeners: RwLock<Vec<Weak<dyn ConsentListener>>>,
}

impl ConsentWatch {
    /// Tells every live listener, before the write that changed the consent returns.
    pub(crate) fn changed(&self, customer: CustomerId) {
        let mut dead = false;
        {
            let listeners = match self.listeners.read() {
                Ok(l) => l,
                Err(poisoned) => poisoned.into_inner(),
            };
            for l in listeners.iter() {
                match l.upgrade() {
                    Some(l) => l.consent_changed(customer),
                    None => dead = true,
                }
            }
        }
        if dead {
            self.prune();
        }
    }

    fn prune(&self) {
        let mut listeners = match self.listeners.write() {
            Ok(l) => l,
            Err(poisoned) => poisoned.into_inner(),
        };
        listeners.retain(|l| l.strong_count() > 0);
    }
}

/// Runs `$body` with `$p` bound to the concrete pool. The body is compiled once per backend, so
/// one statement text serves both (placeholders are `$1`, `$2`, … which SQLite also accepts).
macro_rules! with_pool {
    ($store:expr, $p:ident => $body:expr) => {
        match &$store.pools {
            $crate::store::Pools::Sqlite($p) => $body,
            $crate::store::Pools::Postgres($p) => $body,
        }
    };
}
pub(crate) use with_pool;

/// Starts a transaction that will write. On SQLite it takes the write lock up front
/// (`BEGIN IMMEDIATE`), so it waits on the busy timeout instead of failing when a read snapshot
/// would have to be upgraded; PostgreSQL uses its row locks.
pub(crate) async fn begin_write<DB: Database>(
    pool: &Pool<DB>,
    backend: Backend,
) -> Result<Transaction<'static, DB>, StoreError> {
    let tx = match backend {
        Backend::Sqlite => pool.begin_with("BEGIN IMMEDIATE").await,
        Backend::Postgres => pool.begin().await,
    };
    tx.map_err(StoreError::query)
}

fn migrate_error(e: MigrateError) -> StoreError {
    match e {
        MigrateError::Execute(inner) => StoreError::Migrate(DbFailure::from(&inner).to_string()),
        other => StoreError::Migrate(other.to_string()),
    }
}

fn connect_error(e: sqlx::Error) -> StoreError {
    StoreError::Connect(DbFailure::from(&e))
}

/// The connection options the store uses for a PostgreSQL `url` (with libpq's user default, see
/// `pg_user`), for tools and tests that need a raw connection next to the store.
pub fn pg_connect_options(url: &str) -> Result<PgConnectOptions, StoreError> {
    let opts = PgConnectOptions::from_str(url).map_err(connect_error)?;
    Ok(match crate::pg_user::implicit_user(url) {
        Some(user) => opts.username(&user),
        None => opts,
    })
}

fn is_postgres_url(url: &str) -> bool {
    url.starts_with("postgres://") || url.starts_with("postgresql://")
}

/// Schema names are spliced into DDL, so only plain lower-case identifiers are accepted.
fn valid_schema_name(s: &str) -> bool {
    let mut chars = s.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_lowercase() || c == '_')
        && s.len() <= 63
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

impl Store {
    /// Opens the database at `url` (`sqlite:…` or `postgres://…`), runs the migrations and checks
    /// `keyring` against the keys the database already uses (`WrongMasterKey` /
    /// `UnknownMasterKey` when it cannot read them).
    pub async fn connect(url: &str, keyring: Keyring) -> Result<Store, StoreError> {
        let store = if url.starts_with("sqlite:") {
            Self::connect_sqlite(url, keyring).await?
        } else if is_postgres_url(url) {
            Self::connect_postgres(pg_connect_options(url)?, keyring).await?
        } else {
            return Err(StoreError::UnsupportedUrl);
        };
        store.init_keys().await?;
        Ok(store)
    }

    /// For tests: PostgreSQL in a fresh schema named `schema` (created if missing; every pooled
    /// connection starts with `search_path` set to it). SQLite ignores `schema`.
    pub async fn connect_isolated(
        url: &str,
        schema: &str,
        keyring: Keyring,
    ) -> Result<Store, StoreError> {
        if !is_postgres_url(url) {
            return Self::connect(url, keyring).await;
        }
        if !valid_schema_name(schema) {
            return Err(StoreError::Invalid("schema"));
        }
        let opts = pg_connect_options(url)?;
        let mut conn = sqlx::PgConnection::connect_with(&opts)
            .await
            .map_err(connect_error)?;
        let ddl = format!("CREATE SCHEMA IF NOT EXISTS \"{schema}\"");
        sqlx::query(sqlx::AssertSqlSafe(ddl))
            .execute(&mut conn)
            .await
            .map_err(connect_error)?;
        conn.close().await.map_err(connect_error)?;
        let store =
            Self::connect_postgres(opts.options([("search_path", schema)]), keyring).await?;
        store.init_keys().await?;
        Ok(store)
    }

    async fn connect_sqlite(url: &str, keyring: Keyring) -> Result<Store, StoreError> {
        let opts = SqliteConnectOptions::from_str(url).map_err(connect_error)?;
        let keys_file = sqlite_companion_file(&opts, ".keys")?;
        let audit_file = sqlite_companion_file(&opts, ".audit")?;
        let direct = Direct::new(opts.get_filename(), &keys_file, &audit_file);
        let opts = opts
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .busy_timeout(SQLITE_BUSY_TIMEOUT)
            .foreign_keys(true)
            // Erased customer data is overwritten, not just unlinked from the b-tree.
            .pragma("secure_delete", "ON");
        let pool = SqlitePoolOptions::new()
            .max_connections(SQLITE_POOL_SIZE)
            .after_connect(move |conn, _meta| {
                let keys_file = keys_file.clone();
                let audit_file = audit_file.clone();
                Box::pin(async move { attach_companions(conn, &keys_file, &audit_file).await })
            })
            .connect_with(opts)
            .await
            .map_err(connect_error)?;
        SQLITE_MIGRATIONS.run(&pool).await.map_err(migrate_error)?;
        crate::vault::create_sqlite_key_tables(&pool).await?;
        crate::audit_file::move_into_audit_file(&pool)
            .await
            .map_err(|e| StoreError::Migrate(DbFailure::from(&e).to_string()))?;
        tracing::debug!(backend = "sqlite", "store connected and migrated");
        Ok(Store {
            pools: Pools::Sqlite(pool),
            ring: Arc::new(RwLock::new(keyring)),
            consent_watch: Arc::default(),
            outbox_wake: Arc::default(),
            direct: Some(Arc::new(direct)),
        })
    }

    async fn connect_postgres(
        opts: PgConnectOptions,
        keyring: Keyring,
    ) -> Result<Store, StoreError> {
        let pool = PgPoolOptions::new()
            .max_connections(10)
            .connect_with(opts)
            .await
            .map_err(connect_error)?;
        POSTGRES_MIGRATIONS
            .run(&pool)
            .await
            .map_err(migrate_error)?;
        tracing::debug!(backend = "postgres", "store connected and migrated");
        Ok(Store {
            pools: Pools::Postgres(pool),
            ring: Arc::new(RwLock::new(keyring)),
            consent_watch: Arc::default(),
            outbox_wake: Arc::default(),
            direct: None,
        })
    }

    /// The direct SQLite connections (`None` on PostgreSQL).
    pub(crate) fn direct(&self) -> Option<&Arc<Direct>> {
        self.direct.as_ref()
    }

    pub fn backend(&self) -> Backend {
        match self.pools {
            Pools::Sqlite(_) => Backend::Sqlite,
            Pools::Postgres(_) => Backend::Postgres,
        }
    }

    /// Registers `listener` to be told, synchronously and before the write returns, whenever a
    /// consent of a customer is inserted or updated through this store (any clone). Only writes
    /// in this process are seen: another process sharing the database tells nobody here (the
    /// event bus is the way for that, issue 9), so keep what is derived from consents short-lived.
    pub fn on_consent_change(&self, listener: Weak<dyn ConsentListener>) {
        self.consent_watch.prune();
        let mut listeners = match self.consent_watch.listeners.write() {
            Ok(l) => l,
            Err(poisoned) => poisoned.into_inner(),
        };
        listeners.push(listener);
    }

    /// Closes the pool and waits for connections to finish (SQLite checkpoints its WAL).
    pub async fn close(&self) {
        if let Some(d) = &self.direct {
            d.close().await;
        }
        with_pool!(self, p => p.close().await)
    }
}

/// A file SQLite keeps beside the database: `<database file><suffix>` (`.keys`: the wrapped data
/// keys; `.audit`: the audit log). In-memory databases are refused (each pooled connection would
/// get its own, empty companions).
fn sqlite_companion_file(opts: &SqliteConnectOptions, suffix: &str) -> Result<PathBuf, StoreError> {
    let main = opts.get_filename();
    let text = main.to_string_lossy();
    if text.is_empty() || text == ":memory:" || text.starts_with("file:") {
        return Err(StoreError::Invalid(
            "sqlite url (in-memory databases are not supported)",
        ));
    }
    let mut path = main.as_os_str().to_owned();
    path.push(suffix);
    Ok(PathBuf::from(path))
}

/// Attaches the key database as schema `keys`, with the main database's durability and
/// overwrite-on-delete settings, and the audit database as schema `audit`, fsynced at every
/// commit (see the SQLite settings above).
async fn attach_companions(
    conn: &mut sqlx::SqliteConnection,
    keys_file: &std::path::Path,
    audit_file: &std::path::Path,
) -> Result<(), sqlx::Error> {
    for (file, schema) in [(keys_file, "keys"), (audit_file, "audit")] {
        // The schema name is one of the two literals above.
        let attach = format!("ATTACH DATABASE $1 AS {schema}");
        sqlx::query(sqlx::AssertSqlSafe(attach))
            .bind(file.to_string_lossy().into_owned())
            .execute(&mut *conn)
            .await?;
    }
    for pragma in [
        "PRAGMA keys.journal_mode = WAL",
        "PRAGMA keys.synchronous = NORMAL",
        "PRAGMA keys.secure_delete = ON",
        "PRAGMA audit.journal_mode = WAL",
        "PRAGMA audit.synchronous = FULL",
    ] {
        sqlx::query(pragma).execute(&mut *conn).await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schema_names_are_plain_identifiers() {
        assert!(valid_schema_name("t_1a"));
        assert!(valid_schema_name("_x"));
        assert!(!valid_schema_name("1x"));
        assert!(!valid_schema_name("a\"; drop"));
        assert!(!valid_schema_name("Upper"));
        assert!(!valid_schema_name(""));
    }
}
