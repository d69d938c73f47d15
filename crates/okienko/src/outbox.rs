//! The bus outbox relay (issue 9): publishes what waits in the store's bus outbox
//! (`Store::put_outbox`, `Store::apply_transactions_announced`) on the event bus, on every
//! gateway instance, so an announcement outlives a bus that is down for longer than any retry
//! loop and a process that dies before publishing.
//!
//! The loop: claim due rows (a lease, so with several instances on one PostgreSQL only one
//! relays a row at a time), publish each under its id (the bus's idempotency id: a publish
//! repeated after a crash between publish and delete is stored once within the bus's duplicate
//! window, and consumers are idempotent beyond it), delete it on success, and on failure move it
//! on by a capped exponential backoff (0.5 s doubling to 30 s by default, never giving up). The
//! relay wakes at once when this process puts a row (the store's outbox `Notify`), and polls
//! every few seconds otherwise, for rows another instance left behind (it died, or its claim ran
//! out). After a failed publish the rest of the batch is given back untried, due with the failed
//! row: the bus is most likely down for all of them.
//!
//! Order is not kept across rows (the watchers do not need it: each event names its own
//! transactions). Logs carry ids, topics and attempt counts, never an event's content.

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use okienko_bus::{Event, EventBus};
use okienko_store::{OutboxEvent, Store, StoreError};
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio::time::Instant;

/// How the relay paces itself.
#[derive(Debug, Clone)]
pub struct RelayOptions {
    /// How often the outbox is looked at without a wake-up (rows left by other instances).
    pub poll: Duration,
    /// The most one publish may take, whatever the bus's own limit.
    pub publish_timeout: Duration,
    /// The pause after a row's first failed publish; doubled after each further one.
    pub backoff_start: Duration,
    /// The longest pause between two publishes of one row.
    pub backoff_cap: Duration,
    /// Rows claimed at once.
    pub batch: u32,
    /// How long a claim holds. The relay publishes only while at least `publish_timeout` of it
    /// is left and gives the rest back, so no row is published under a claim that ran out.
    pub lease: Duration,
}

impl Default for RelayOptions {
    fn default() -> Self {
        RelayOptions {
            poll: Duration::from_secs(3),
            publish_timeout: Duration::from_secs(10),
            backoff_start: Duration::from_millis(500),
            backoff_cap: Duration::from_secs(30),
            batch: 32,
            lease: Duration::from_secs(60),
        }
    }
}

impl RelayOptions {
    /// The pause after the `attempts`-th failed publish of a row (1 for the first).
    pub fn backoff(&self, attempts: u32) -> Duration {
        let doublings = attempts.saturating_sub(1).min(31);
        self.backoff_start
            .saturating_mul(1u32 << doublings)
            .min(self.backoff_cap)
    }
}

/// What one pass over the outbox did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
struct Pass {
    /// Rows claimed.
    claimed: usize,
    /// When the earliest row this pass moved on is due again.
    retry_in: Option<Duration>,
}

/// Starts the relay for `store`'s outbox on `bus` until `shutdown` turns true. Rows still
/// claimed then are given back, due at once, for the next relay (this instance's after a
/// restart, or another's).
pub fn spawn(
    store: Store,
    bus: Arc<dyn EventBus>,
    opts: RelayOptions,
    mut shutdown: watch::Receiver<bool>,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        let claimer = format!("relay-{}", uuid::Uuid::new_v4().simple());
        let wake = store.outbox_wake();
        let mut retry_at: Option<Instant> = None;
        tracing::debug!(relay = %claimer, "bus outbox relay started");
        loop {
            if *shutdown.borrow() {
                return;
            }
            // Not raced with the shutdown: the pass checks it between publishes and gives back
            // what it has not published, instead of leaving it claimed until the lease runs out.
            let pass = relay_once(&store, bus.as_ref(), &opts, &claimer, &shutdown).await;
            let now = Instant::now();
            match pass {
                Ok(p) => {
                    if let Some(r) = p.retry_in {
                        let at = now + r;
                        retry_at = Some(retry_at.map_or(at, |t| t.min(at)));
                    }
                    // A full batch: more may be due right now.
                    if p.claimed >= opts.batch as usize && p.retry_in.is_none() {
                        continue;
                    }
                }
                Err(e) => {
                    tracing::warn!(error = %e, "bus outbox: reading the store failed; trying again");
                }
            }
            let mut until = now + opts.poll;
            if let Some(t) = retry_at {
                if t <= now {
                    retry_at = None;
                    continue;
                }
                until = until.min(t);
            }
            tokio::select! {
                _ = wake.notified() => {}
                _ = tokio::time::sleep_until(until) => {}
                _ = shutdown.wait_for(|s| *s) => return,
            }
            if retry_at.is_some_and(|t| t <= Instant::now()) {
                retry_at = None;
            }
        }
    })
}

/// One claim and the publishes of what it got.
async fn relay_once(
    store: &Store,
    bus: &dyn EventBus,
    opts: &RelayOptions,
    claimer: &str,
    shutdown: &watch::Receiver<bool>,
) -> Result<Pass, StoreError> {
    let now = Utc::now();
    let lease = chrono::Duration::from_std(opts.lease).unwrap_or(chrono::Duration::seconds(60));
    let rows = store
        .claim_outbox(claimer, now, now + lease, opts.batch)
        .await?;
    let mut pass = Pass {
        claimed: rows.len(),
        retry_in: None,
    };
    let started = Instant::now();
    let mut rows = rows.into_iter();
    while let Some(row) = rows.next() {
        let lease_left = opts.lease.saturating_sub(started.elapsed());
        if *shutdown.borrow() || lease_left <= opts.publish_timeout + Duration::from_secs(1) {
            // Not under this claim: give it back for the next pass (or another instance).
            give_back(
                store,
                claimer,
                std::iter::once(row).chain(rows),
                Duration::ZERO,
            )
            .await;
            break;
        }
        let Ok(event) = serde_json::from_str::<Event>(&row.event) else {
            // Written by a newer version (an event this one does not know): left for it, looked
            // at again only rarely.
            tracing::warn!(id = %row.id, topic = %row.topic, "bus outbox: undecodable event; left for a newer version");
            let next =
                Utc::now() + chrono::Duration::from_std(opts.backoff_cap).unwrap_or_default();
            if let Err(e) = store.reschedule_outbox(&row.id, claimer, next).await {
                tracing::warn!(id = %row.id, error = %e, "bus outbox: rescheduling failed; the claim runs out instead");
            }
            continue;
        };
        match publish(bus, &row.id, &event, opts.publish_timeout).await {
            Ok(()) => {
                if let Err(e) = store.outbox_done(&row.id).await {
                    // Published: the row comes again after its claim and the bus stores it once.
                    tracing::warn!(id = %row.id, error = %e, "bus outbox: deleting a published event failed");
                }
            }
            Err(reason) => {
                let attempts = row.attempts.saturating_add(1);
                let pause = opts.backoff(attempts);
                tracing::warn!(id = %row.id, topic = %row.topic, attempts, retry_in_ms = pause.as_millis() as u64,
                    error = %reason, "bus outbox: publish failed; will retry");
                let next = Utc::now() + chrono::Duration::from_std(pause).unwrap_or_default();
                if let Err(e) = store.reschedule_outbox(&row.id, claimer, next).await {
                    tracing::warn!(id = %row.id, error = %e, "bus outbox: rescheduling failed; the claim runs out instead");
                }
                // The bus is most likely down for the rest as well.
                give_back(store, claimer, rows, pause).await;
                pass.retry_in = Some(pause);
                break;
            }
        }
    }
    Ok(pass)
}

/// One publish within `limit`; the error says why not (no content).
async fn publish(
    bus: &dyn EventBus,
    id: &str,
    event: &Event,
    limit: Duration,
) -> Result<(), okienko_bus::BusError> {
    match tokio::time::timeout(limit, bus.publish(id, event)).await {
        Ok(Ok(_)) => Ok(()),
        Ok(Err(e)) => Err(e),
        Err(_) => Err(okienko_bus::BusError::Timeout("publish")),
    }
}

/// Releases claimed rows untried, due after `pause`.
async fn give_back(
    store: &Store,
    claimer: &str,
    rows: impl Iterator<Item = OutboxEvent>,
    pause: Duration,
) {
    let at = Utc::now() + chrono::Duration::from_std(pause).unwrap_or_default();
    for row in rows {
        if let Err(e) = store.release_outbox(&row.id, claimer, at).await {
            tracing::warn!(id = %row.id, error = %e, "bus outbox: giving a claim back failed; it runs out instead");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_to_the_cap() {
        let o = RelayOptions::default();
        let ms = |n| o.backoff(n).as_millis();
        assert_eq!(
            [ms(1), ms(2), ms(3), ms(6), ms(7), ms(50), ms(u32::MAX)],
            [500, 1000, 2000, 16000, 30000, 30000, 30000]
        );
    }
}
