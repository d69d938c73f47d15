//! The background sync worker: on a fixed period it expires consents past `validUntil` and
//! refreshes every valid consent unattended (spending the daily budget the sync engine guards).
//! It stops cleanly when the shutdown channel turns `true` or its sender is dropped.
//!
//! Errors are logged as error kinds and ids only, never with data.

use std::time::Duration;

use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::link::BankLink;

pub struct SyncWorker;

impl SyncWorker {
    /// Runs the first round right away, then every `every`.
    pub fn spawn(
        link: BankLink,
        every: Duration,
        mut shutdown: watch::Receiver<bool>,
    ) -> JoinHandle<()> {
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(every.max(Duration::from_millis(10)));
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                if *shutdown.borrow() {
                    break;
                }
                tokio::select! {
                    _ = tick.tick() => {
                        Self::round(&link).await;
                    }
                    changed = shutdown.changed() => {
                        if changed.is_err() || *shutdown.borrow() {
                            break;
                        }
                    }
                }
            }
            tracing::info!("bank sync worker stopped");
        })
    }

    async fn round(link: &BankLink) {
        if let Err(e) = link.expire_due().await {
            tracing::warn!(error = %e, "consent expiry round failed");
        }
        match link.refresh_all_unattended().await {
            Ok((ok, failed)) => tracing::debug!(ok, failed, "unattended refresh round done"),
            Err(e) => tracing::warn!(error = %e, "unattended refresh round failed"),
        }
    }
}
