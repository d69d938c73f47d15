//! What the gateway puts on the event bus and takes off it (issue 9), so several instances act
//! as one:
//!
//! - **New transactions.** Every instance's bank link puts each account's new transactions into
//!   the store's bus outbox with the transactions themselves
//!   ([`okienko_bank::BankLink::announce_via_outbox`]), and every instance's outbox relay
//!   ([`crate::outbox`]) publishes them on the bus, however long it is down; the leader of the
//!   `bank-events` lease feeds them to the fraud and notice watchers through one durable consumer
//!   each, acknowledging an event once its watcher has handled it (and asking for it again when
//!   handling failed). Both watchers dedupe per transaction, so a redelivery warns nobody twice.
//! - **Consent changes.** Every consent write through this instance's store is announced
//!   (`ConsentChanged`, ids only, through the outbox right after the write); every instance
//!   listens and drops that customer from its privacy gate's consent cache, so a revoke on one
//!   instance denies reads on all of them at once.
//!
//! - **Payment status.** The payments status follower (on the `payments-status` leader)
//!   announces every payment that ended (through the outbox); every instance listens and has its
//!   engine ask the bank on that customer's next question (money moved), wherever they ask it.
//!
//! With the in-process bus (one instance) the same paths run inside one process and behave as
//! the direct broadcast did. Nothing here logs or publishes more than ids.

use std::sync::Arc;
use std::time::Duration;

use futures::FutureExt;
use futures::future::BoxFuture;
use okienko_bus::{Event, EventBus, Topic};
use okienko_core::{CustomerId, TransactionId};
use okienko_privacy::PrivacyGate;
use okienko_store::{ConsentListener, OutboxPut, Store, StoreError};
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// The durable consumer of new transactions for fraud scoring.
pub const FRAUD_CONSUMER: &str = "fraud-watcher";
/// The durable consumer of new transactions for notices.
pub const NOTICES_CONSUMER: &str = "notice-watcher";

/// Pause before subscribing or listening again after the bus refused.
const RETRY: Duration = Duration::from_secs(2);

/// Routes new transactions through the bus: this instance's bank link puts its syncs' new
/// transactions into the outbox (published by the relay, [`crate::outbox::spawn`], which the
/// caller starts), and while this instance leads `jobs`' lease the fraud and notice watchers
/// consume them (one durable consumer each).
pub fn feed_watchers(
    bus: &Arc<dyn EventBus>,
    bank: &okienko_bank::BankLink,
    fraud: &Arc<okienko_dialog::fraud::FraudWatcher>,
    notices: &Arc<okienko_dialog::notices::NoticeWatcher>,
    jobs: &crate::leader::Jobs,
) {
    bank.announce_via_outbox();
    let (b, w) = (bus.clone(), fraud.clone());
    let score: NewTxHandler = Arc::new(move |customer, added, first_sync| {
        let w = w.clone();
        async move {
            match w.on_new(customer, &added, first_sync).await {
                Ok(_) => true,
                Err(e) => {
                    tracing::warn!(%customer, error = %e, "fraud scoring failed; the event comes again");
                    false
                }
            }
        }
        .boxed()
    });
    jobs.add(move |stop| consume_new_transactions(b.clone(), FRAUD_CONSUMER, score.clone(), stop));
    let (b, w) = (bus.clone(), notices.clone());
    let notice: NewTxHandler = Arc::new(move |customer, added, first_sync| {
        let w = w.clone();
        async move {
            match w.on_new(customer, &added, first_sync).await {
                Ok(n) => {
                    if n > 0 {
                        w.deliver_due().await;
                    }
                    true
                }
                Err(e) => {
                    tracing::warn!(%customer, error = %e, "notice check failed; the event comes again");
                    false
                }
            }
        }
        .boxed()
    });
    jobs.add(move |stop| {
        consume_new_transactions(b.clone(), NOTICES_CONSUMER, notice.clone(), stop)
    });
}

/// Handles one sync's new transactions; true when done (acknowledge), false to get it again.
pub type NewTxHandler =
    Arc<dyn Fn(CustomerId, Vec<TransactionId>, bool) -> BoxFuture<'static, bool> + Send + Sync>;

/// Consumes `Event::NewTransactions` as the durable consumer `consumer` until `stop` turns
/// true: each event is handed to `handle`, then acknowledged, or given back (nak) when the
/// handler failed so it comes again (up to the bus's `max_deliver`).
pub fn consume_new_transactions(
    bus: Arc<dyn EventBus>,
    consumer: &'static str,
    handle: NewTxHandler,
    mut stop: watch::Receiver<bool>,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        'subscribe: loop {
            let sub = tokio::select! {
                s = bus.subscribe(consumer, Some(Topic::NewTransactions)) => s,
                _ = stop.wait_for(|s| *s) => return,
            };
            let mut sub = match sub {
                Ok(s) => s,
                Err(e) => {
                    tracing::warn!(consumer, error = %e, "subscribing to new transactions failed");
                    tokio::select! {
                        _ = tokio::time::sleep(RETRY) => continue 'subscribe,
                        _ = stop.wait_for(|s| *s) => return,
                    }
                }
            };
            loop {
                let item = tokio::select! {
                    item = sub.next() => item,
                    _ = stop.wait_for(|s| *s) => return,
                };
                let delivery = match item {
                    Some(Ok(d)) => d,
                    // Transient (the subscription keeps trying).
                    Some(Err(e)) => {
                        tracing::debug!(consumer, error = %e, "new transactions: bus error");
                        continue;
                    }
                    None => {
                        tokio::select! {
                            _ = tokio::time::sleep(RETRY) => continue 'subscribe,
                            _ = stop.wait_for(|s| *s) => return,
                        }
                    }
                };
                let done = match &delivery.event {
                    Event::NewTransactions {
                        customer,
                        added,
                        first_sync,
                        ..
                    } => handle(*customer, added.clone(), *first_sync).await,
                    _ => true,
                };
                let settled = if done {
                    delivery.ack().await
                } else {
                    delivery.nak().await
                };
                if let Err(e) = settled {
                    // Not settled: the bus delivers it again after the ack wait.
                    tracing::warn!(consumer, error = %e, "settling a new-transactions event failed");
                }
            }
        }
    })
}

/// Announces every consent write through `store` on the bus, through the store's bus outbox
/// (published by the relay, [`crate::outbox::spawn`]). Keep the returned handle alive as long as
/// the store is used (the store holds its listeners weakly).
pub fn announce_consent_changes(store: &Store) -> Arc<dyn ConsentListener> {
    let listener: Arc<dyn ConsentListener> = Arc::new(ConsentAnnouncer {
        store: store.clone(),
    });
    store.on_consent_change(Arc::downgrade(&listener));
    listener
}

struct ConsentAnnouncer {
    store: Store,
}

impl ConsentListener for ConsentAnnouncer {
    fn consent_changed(&self, customer: CustomerId) {
        // Called inside the store's write (sync): the outbox row follows in the background,
        // right after the consent's commit.
        let Ok(rt) = tokio::runtime::Handle::try_current() else {
            return;
        };
        let store = self.store.clone();
        rt.spawn(async move {
            // Each change is its own event: two revokes in a row are two announcements.
            let id = format!("consent:{customer}:{}", uuid::Uuid::new_v4().simple());
            if let Err(e) = put_event(&store, &id, &Event::ConsentChanged { customer }).await {
                tracing::warn!(error = %e, "queueing a consent change for the bus failed; other instances see it within the cache's max age");
            }
        });
    }
}

/// Puts `event` into the store's bus outbox under the idempotency id `id`; the relay publishes
/// it. A second put of the same id is ignored.
pub async fn put_event(store: &Store, id: &str, event: &Event) -> Result<(), StoreError> {
    let json = serde_json::to_string(event).map_err(|_| StoreError::Invalid("bus_outbox.event"))?;
    store
        .put_outbox(&OutboxPut {
            id: id.to_owned(),
            topic: event.topic().subject().to_owned(),
            event: json,
        })
        .await?;
    Ok(())
}

/// Shares consent changes between instances until `shutdown`: announces this store's consent
/// writes (into the outbox: a relay must run on `store`, see [`crate::outbox::spawn`]), and
/// listens for everyone's, dropping them from `gate`'s consent cache (after a gap —
/// lag, lost server — the whole cache).
pub fn share_consent_changes(
    store: &Store,
    bus: Arc<dyn EventBus>,
    gate: PrivacyGate,
    mut shutdown: watch::Receiver<bool>,
) -> JoinHandle<()> {
    let announcer = announce_consent_changes(store);
    tokio::spawn(async move {
        // Announces for as long as this task runs.
        let _announcer = announcer;
        loop {
            let listener = tokio::select! {
                l = bus.listen(Topic::ConsentChanged) => l,
                _ = shutdown.wait_for(|s| *s) => return,
            };
            match listener {
                Ok(mut l) => {
                    // Whatever changed while nobody listened.
                    gate.forget_all_consents();
                    loop {
                        let item = tokio::select! {
                            item = l.next() => item,
                            _ = shutdown.wait_for(|s| *s) => return,
                        };
                        match item {
                            Some(Ok(Event::ConsentChanged { customer })) => {
                                gate.forget_consents(customer)
                            }
                            Some(Ok(_)) => {}
                            Some(Err(e)) => {
                                tracing::warn!(error = %e, "consent changes may have been missed; consent cache emptied");
                                gate.forget_all_consents();
                            }
                            None => break,
                        }
                    }
                }
                Err(e) => tracing::warn!(error = %e, "listening for consent changes failed"),
            }
            tokio::select! {
                _ = tokio::time::sleep(RETRY) => {}
                _ = shutdown.wait_for(|s| *s) => return,
            }
        }
    })
}

/// Listens for ended payments on every instance until `shutdown`: the customer's next question
/// on this instance asks the bank again. A gap only costs freshness (the engine's own refresh
/// interval still applies), so it is logged and listening goes on.
pub fn refresh_after_payments(
    bus: Arc<dyn EventBus>,
    engine: Arc<okienko_dialog::Engine>,
    mut shutdown: watch::Receiver<bool>,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            let listener = tokio::select! {
                l = bus.listen(Topic::PaymentStatus) => l,
                _ = shutdown.wait_for(|s| *s) => return,
            };
            match listener {
                Ok(mut l) => loop {
                    let item = tokio::select! {
                        item = l.next() => item,
                        _ = shutdown.wait_for(|s| *s) => return,
                    };
                    match item {
                        Some(Ok(Event::PaymentStatus { customer, .. })) => {
                            engine.refresh_next_time(customer)
                        }
                        Some(Ok(_)) => {}
                        Some(Err(e)) => {
                            tracing::warn!(error = %e, "payment status events may have been missed")
                        }
                        None => break,
                    }
                },
                Err(e) => tracing::warn!(error = %e, "listening for payment status failed"),
            }
            tokio::select! {
                _ = tokio::time::sleep(RETRY) => {}
                _ = shutdown.wait_for(|s| *s) => return,
            }
        }
    })
}
