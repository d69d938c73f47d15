//! Leader leases for jobs that must run in one gateway instance at a time (the payments status
//! follower, the notice and fraud watchers, scheduled syncs).
//!
//! PostgreSQL: a session advisory lock (`pg_try_advisory_lock`) taken on a connection of its own
//! (not from the pool), held for the lease's life. The key is derived from the schema and the
//! lease name, so deployments sharing a database in different schemas do not block each other.
//! The lock dies with its connection: when the holder crashes, or its connection is killed, the
//! server releases it and another instance's next attempt wins. The holder pings its connection
//! every [`PING_EVERY`]; the first failed ping turns the guard to lost. In the window between a
//! connection dying and the holder's next ping both instances may run the job, so jobs under a
//! lease must stay idempotent (they are: claims and state machines in the store).
//!
//! SQLite: a single-process deployment (the database is a local file), so the lease is always
//! granted and never lost.
//!
//! The lease connection's `application_name` is `okienko-lease:<name>`, so an operator (or a
//! test) can see and kill it in `pg_stat_activity`.

use std::time::Duration;

use sqlx::Connection;
use sqlx::postgres::PgConnection;
use tokio::sync::{oneshot, watch};

use crate::error::{DbFailure, StoreError};
use crate::store::{Pools, Store};

/// How often the holder checks that its lock connection is alive.
pub const PING_EVERY: Duration = Duration::from_secs(1);
/// The limit on connecting, taking the lock and each ping.
const CALL_TIMEOUT: Duration = Duration::from_secs(5);

const LOCK_SQL: &str = "SELECT pg_try_advisory_lock(hashtextextended('okienko-lease:' || current_schema() || ':' || $1, 0))";
const UNLOCK_SQL: &str = "SELECT pg_advisory_unlock(hashtextextended('okienko-lease:' || current_schema() || ':' || $1, 0))";

/// Held while alive; dropping it releases the lease.
pub struct LeaseGuard {
    name: String,
    held: watch::Receiver<bool>,
    /// Dropped with the guard: tells the PostgreSQL holder task to unlock and disconnect.
    _release: Option<oneshot::Sender<()>>,
    /// The SQLite lease's own "held" flag, kept alive so it never turns lost.
    _local: Option<watch::Sender<bool>>,
}

impl std::fmt::Debug for LeaseGuard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LeaseGuard")
            .field("name", &self.name)
            .field("held", &self.is_held())
            .finish()
    }
}

impl LeaseGuard {
    pub fn name(&self) -> &str {
        &self.name
    }

    /// False once the lease is known lost (the lock connection died or failed a ping).
    pub fn is_held(&self) -> bool {
        *self.held.borrow()
    }

    /// Resolves when the lease is lost (never, for SQLite's local lease).
    pub async fn lost(&mut self) {
        let _ = self.held.wait_for(|h| !*h).await;
    }
}

fn valid_lease_name(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 48
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
}

fn timed_out() -> StoreError {
    StoreError::Connect(DbFailure {
        kind: "timed out",
        code: None,
        constraint: None,
    })
}

impl Store {
    /// Takes the lease `name` (1–48 of `[a-z0-9_-]`) if no other holder has it. `None` when
    /// another instance holds it; try again later.
    pub async fn try_acquire_lease(&self, name: &str) -> Result<Option<LeaseGuard>, StoreError> {
        if !valid_lease_name(name) {
            return Err(StoreError::Invalid("lease name"));
        }
        let pool = match &self.pools {
            Pools::Sqlite(_) => {
                let (tx, rx) = watch::channel(true);
                return Ok(Some(LeaseGuard {
                    name: name.to_owned(),
                    held: rx,
                    _release: None,
                    _local: Some(tx),
                }));
            }
            Pools::Postgres(p) => p,
        };
        let opts = (*pool.connect_options())
            .clone()
            .application_name(&format!("okienko-lease:{name}"));
        let mut conn = tokio::time::timeout(CALL_TIMEOUT, PgConnection::connect_with(&opts))
            .await
            .map_err(|_| timed_out())?
            .map_err(|e| StoreError::Connect(DbFailure::from(&e)))?;
        let got: bool = tokio::time::timeout(
            CALL_TIMEOUT,
            sqlx::query_scalar(LOCK_SQL).bind(name).fetch_one(&mut conn),
        )
        .await
        .map_err(|_| timed_out())?
        .map_err(StoreError::query)?;
        if !got {
            let _ = tokio::time::timeout(CALL_TIMEOUT, conn.close()).await;
            return Ok(None);
        }
        let (held_tx, held_rx) = watch::channel(true);
        let (release_tx, release_rx) = oneshot::channel();
        tokio::spawn(hold(conn, name.to_owned(), held_tx, release_rx));
        tracing::info!(lease = name, "lease acquired");
        Ok(Some(LeaseGuard {
            name: name.to_owned(),
            held: held_rx,
            _release: Some(release_tx),
            _local: None,
        }))
    }
}

/// Keeps the lock connection alive until the guard is dropped or a ping fails.
async fn hold(
    mut conn: PgConnection,
    name: String,
    held: watch::Sender<bool>,
    mut release: oneshot::Receiver<()>,
) {
    let mut tick = tokio::time::interval(PING_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = &mut release => {
                let _ = tokio::time::timeout(
                    CALL_TIMEOUT,
                    sqlx::query_scalar::<_, bool>(UNLOCK_SQL).bind(&name).fetch_one(&mut conn),
                )
                .await;
                let _ = tokio::time::timeout(CALL_TIMEOUT, conn.close()).await;
                tracing::info!(lease = %name, "lease released");
                return;
            }
            _ = tick.tick() => {
                let alive = matches!(
                    tokio::time::timeout(CALL_TIMEOUT, conn.ping()).await,
                    Ok(Ok(()))
                );
                if !alive {
                    held.send_replace(false);
                    tracing::warn!(lease = %name, "lease lost: its connection failed");
                    return;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lease_names_are_plain() {
        assert!(valid_lease_name("payments-status"));
        assert!(!valid_lease_name(""));
        assert!(!valid_lease_name("Pay"));
        assert!(!valid_lease_name("a'b"));
        assert!(!valid_lease_name(&"x".repeat(49)));
    }
}
