//! Wiring of the bank's push notifications (issue 5): with `bank.notify_secret_file` set, the
//! gateway asks for them on every new consent (`TPP-Notification-URI` pointing at
//! `{public_url}/bank/notifications`), verifies each push (`okienko_server::bank_notify`), and
//! syncs the named consent at once, unattended: new transactions then go through the same
//! events as a scheduled sync's (fraud scoring, notices). Syncs of one consent never overlap:
//! notifications that arrive while one runs make one more run after it.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use anyhow::Context;
use async_trait::async_trait;
use okienko_bank::{BankError, BankLink};
use okienko_core::ConsentId;
use okienko_server::bank_notify::{BankNotifications, NotifyRefused};

use crate::config::Config;

/// The shared secret from `bank.notify_secret_file` (trimmed), when set.
pub fn secret(cfg: &Config) -> anyhow::Result<Option<String>> {
    let Some(path) = &cfg.bank.notify_secret_file else {
        return Ok(None);
    };
    let s = std::fs::read_to_string(path)
        .with_context(|| format!("reading bank.notify_secret_file {}", path.display()))?;
    let s = s.trim().to_owned();
    anyhow::ensure!(
        s.len() >= 16,
        "bank.notify_secret_file must hold a secret of at least 16 characters"
    );
    Ok(Some(s))
}

/// The URL the bank is asked to push to, when notifications are on.
pub fn notification_uri(secret: &Option<String>, public_url: &str) -> Option<String> {
    secret.as_ref().map(|_| {
        format!(
            "{}{}",
            public_url.trim_end_matches('/'),
            okienko_server::bank_notify::PATH
        )
    })
}

/// The route (404 without a secret).
pub fn routes(secret: Option<String>, bank: &BankLink) -> axum::Router {
    let sink = Arc::new(Syncs {
        inner: Arc::new(Inner {
            bank: bank.clone(),
            running: Mutex::new(HashMap::new()),
        }),
    });
    okienko_server::bank_notify::routes(secret, sink)
}

struct Inner {
    bank: BankLink,
    /// Consents being synced → whether another notification came meanwhile.
    running: Mutex<HashMap<ConsentId, bool>>,
}

struct Syncs {
    inner: Arc<Inner>,
}

impl Inner {
    fn running(&self) -> std::sync::MutexGuard<'_, HashMap<ConsentId, bool>> {
        match self.running.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        }
    }

    /// Starts a sync of `consent`, or marks the running one to go once more.
    fn schedule(self: &Arc<Self>, consent: ConsentId) {
        {
            let mut running = self.running();
            if let Some(again) = running.get_mut(&consent) {
                *again = true;
                return;
            }
            running.insert(consent, false);
        }
        let me = self.clone();
        tokio::spawn(async move {
            loop {
                match me.bank.sync_consent(consent).await {
                    Ok(r) => tracing::info!(%consent, accounts = r.accounts, inserted = r.inserted,
                        skipped = r.skipped_accounts, "synced after a bank notification"),
                    Err(e) => {
                        tracing::warn!(%consent, error = %e, "sync after a bank notification failed")
                    }
                }
                let mut running = me.running();
                if running.get(&consent) == Some(&true) {
                    running.insert(consent, false);
                    continue;
                }
                running.remove(&consent);
                break;
            }
        });
    }
}

#[async_trait]
impl BankNotifications for Syncs {
    async fn notified(&self, consent_id: &str, account_id: &str) -> Result<(), NotifyRefused> {
        let consent = match self
            .inner
            .bank
            .notified_consent(consent_id, account_id)
            .await
        {
            Ok(c) => c,
            Err(BankError::NotLinked) => return Err(NotifyRefused::Unknown),
            Err(e) => {
                tracing::warn!(error = %e, "looking up a notified consent failed");
                return Err(NotifyRefused::Unavailable);
            }
        };
        self.inner.schedule(consent);
        Ok(())
    }
}
