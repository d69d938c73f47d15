//! Run-once jobs under a leader lease: the workers added to a [`Jobs`] run only while this
//! instance holds the lease (`Store::try_acquire_lease`); another instance takes over when this
//! one dies or loses its lock connection. On SQLite (one process) the lease is always granted,
//! so the workers start at once and run until shutdown, exactly as without a lease.
//!
//! The fraud and notice watchers share one lease with the scheduled sync and the consent expiry
//! (`bank-events`). They hear new transactions from the event bus (durable consumers, see
//! `bus_events.rs`), so a sync done on any instance — a customer's question on a non-leader —
//! reaches them; the other bank-link events (expiry, revoked at the bank) come from the
//! leader's own jobs and stay on its in-process broadcast.

use std::sync::Mutex;
use std::time::Duration;

use okienko_store::Store;
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// The payments status follower.
pub const PAYMENTS_LEASE: &str = "payments-status";
/// The scheduled bank sync and consent expiry, and the notice and fraud watchers on its events.
pub const BANK_EVENTS_LEASE: &str = "bank-events";

/// How often an instance without the lease tries to take it.
pub const RETRY: Duration = Duration::from_secs(3);
/// How long a stopping worker may take to finish its round.
const STOP_GRACE: Duration = Duration::from_secs(10);

type Starter = Box<dyn Fn(watch::Receiver<bool>) -> JoinHandle<()> + Send + Sync>;

/// The workers under one lease. Each starter spawns its worker with a stop signal and is called
/// again every time the lease is (re)acquired.
pub struct Jobs {
    lease: &'static str,
    starters: Mutex<Vec<Starter>>,
}

impl Jobs {
    pub fn new(lease: &'static str) -> Self {
        Jobs {
            lease,
            starters: Mutex::new(Vec::new()),
        }
    }

    pub fn add(
        &self,
        start: impl Fn(watch::Receiver<bool>) -> JoinHandle<()> + Send + Sync + 'static,
    ) {
        match self.starters.lock() {
            Ok(mut s) => s.push(Box::new(start)),
            Err(p) => p.into_inner().push(Box::new(start)),
        }
    }

    /// Runs the workers whenever this instance holds the lease, until `shutdown` turns true
    /// (or its sender is dropped).
    pub fn spawn(
        self,
        store: Store,
        mut shutdown: watch::Receiver<bool>,
        retry: Duration,
    ) -> JoinHandle<()> {
        let starters = match self.starters.into_inner() {
            Ok(s) => s,
            Err(p) => p.into_inner(),
        };
        let lease = self.lease;
        tokio::spawn(async move {
            if starters.is_empty() {
                return;
            }
            loop {
                if stopping(&shutdown) {
                    return;
                }
                match store.try_acquire_lease(lease).await {
                    Ok(Some(mut guard)) => {
                        tracing::info!(lease, "leader: this instance runs the jobs");
                        let (stop_tx, stop_rx) = watch::channel(false);
                        let running: Vec<JoinHandle<()>> =
                            starters.iter().map(|s| s(stop_rx.clone())).collect();
                        tokio::select! {
                            _ = guard.lost() => {
                                tracing::warn!(lease, "leader: lease lost; stopping the jobs");
                            }
                            _ = shutdown.wait_for(|s| *s) => {}
                        }
                        stop_tx.send_replace(true);
                        for h in running {
                            let abort = h.abort_handle();
                            if tokio::time::timeout(STOP_GRACE, h).await.is_err() {
                                // Never two copies: the next term starts a fresh one.
                                abort.abort();
                                tracing::warn!(
                                    lease,
                                    "leader: a job did not stop in time; aborted"
                                );
                            }
                        }
                        drop(guard);
                    }
                    Ok(None) => {}
                    Err(e) => tracing::warn!(lease, error = %e, "leader: taking the lease failed"),
                }
                if stopping(&shutdown) {
                    return;
                }
                tokio::select! {
                    _ = tokio::time::sleep(retry) => {}
                    _ = shutdown.wait_for(|s| *s) => return,
                }
            }
        })
    }
}

fn stopping(shutdown: &watch::Receiver<bool>) -> bool {
    *shutdown.borrow() || shutdown.has_changed().is_err()
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicU32, Ordering};

    use okienko_store::{KeyId, Keyring, MasterKey};

    use super::*;

    fn keyring() -> Keyring {
        Keyring::single(
            KeyId::new("test-1").unwrap(),
            MasterKey::from_bytes([7; 32]),
        )
    }

    /// A job that counts how many copies of it are running right now, and the most ever.
    fn counting(jobs: &Jobs, now: Arc<AtomicU32>, most: Arc<AtomicU32>, starts: Arc<AtomicU32>) {
        jobs.add(move |mut stop| {
            let (now, most) = (now.clone(), most.clone());
            starts.fetch_add(1, Ordering::SeqCst);
            tokio::spawn(async move {
                let n = now.fetch_add(1, Ordering::SeqCst) + 1;
                most.fetch_max(n, Ordering::SeqCst);
                let _ = stop.wait_for(|s| *s).await;
                now.fetch_sub(1, Ordering::SeqCst);
            })
        });
    }

    async fn wait_until(what: &str, f: impl Fn() -> bool) {
        let t = std::time::Instant::now();
        while !f() {
            assert!(
                t.elapsed() < Duration::from_secs(15),
                "timed out waiting: {what}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Two instances on one PostgreSQL schema: the job runs in exactly one; killing that one's
    /// lease connection moves it to the other; shutdown stops it.
    #[tokio::test]
    async fn jobs_run_in_one_instance_and_move_when_the_leader_dies() {
        let url = std::env::var("OKIENKO_TEST_PG_URL")
            .unwrap_or_else(|_| "postgres://127.0.0.1:5432/test".to_owned());
        let schema = format!("leader_{}", std::process::id());
        let a = Store::connect_isolated(&url, &schema, keyring())
            .await
            .expect("PostgreSQL is required");
        let b = Store::connect_isolated(&url, &schema, keyring())
            .await
            .unwrap();
        let lease = "test-jobs";
        let (now, most) = (Arc::new(AtomicU32::new(0)), Arc::new(AtomicU32::new(0)));
        let (starts_a, starts_b) = (Arc::new(AtomicU32::new(0)), Arc::new(AtomicU32::new(0)));
        let (ja, jb) = (Jobs::new(lease), Jobs::new(lease));
        counting(&ja, now.clone(), most.clone(), starts_a.clone());
        counting(&jb, now.clone(), most.clone(), starts_b.clone());
        let (stop_tx, stop_rx) = watch::channel(false);
        let retry = Duration::from_millis(200);
        let ha = ja.spawn(a.clone(), stop_rx.clone(), retry);
        wait_until("a leads", || starts_a.load(Ordering::SeqCst) == 1).await;
        let hb = jb.spawn(b.clone(), stop_rx.clone(), retry);
        tokio::time::sleep(Duration::from_secs(1)).await;
        assert_eq!(starts_b.load(Ordering::SeqCst), 0, "b waits while a leads");
        assert_eq!(now.load(Ordering::SeqCst), 1);

        let raw = sqlx::PgPool::connect_with(okienko_store::pg_connect_options(&url).unwrap())
            .await
            .unwrap();
        let killed: Vec<bool> = sqlx::query_scalar(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1",
        )
        .bind(format!("okienko-lease:{lease}"))
        .fetch_all(&raw)
        .await
        .unwrap();
        assert_eq!(killed, [true]);
        wait_until("b takes over", || starts_b.load(Ordering::SeqCst) == 1).await;
        wait_until("one copy", || now.load(Ordering::SeqCst) == 1).await;

        stop_tx.send_replace(true);
        tokio::time::timeout(Duration::from_secs(15), async {
            ha.await.unwrap();
            hb.await.unwrap();
        })
        .await
        .expect("both runners stop on shutdown");
        assert_eq!(now.load(Ordering::SeqCst), 0, "shutdown stops the job");
        a.close().await;
        b.close().await;
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "DROP SCHEMA \"{schema}\" CASCADE"
        )))
        .execute(&raw)
        .await
        .unwrap();
        raw.close().await;
    }
}
