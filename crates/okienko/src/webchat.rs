//! Wiring of the web chat for several gateway instances: its sessions and reply backlog in the
//! store (migration 0022, `crates/store/src/webchat_sessions.rs`), each stored reply announced on
//! the event bus (`ChannelDelivery`, channel "webchat", message = the seq: ids only), and every
//! instance listening, so the one holding the customer's socket reads the sealed reply back and
//! sends it.
//!
//! On by default when the store is PostgreSQL (`chat.shared_sessions` decides otherwise); the
//! embedded SQLite default keeps sessions in memory.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use okienko_bus::{Event, EventBus, Topic};
use okienko_channels::webchat::{SessionStore, SessionStoreError, StoredSession};
use okienko_channels::{WebChat, WebChatConfig};
use okienko_core::{CustomerId, Lang};
use okienko_store::{Backend, Store, StoreError};
use tokio::sync::watch;

use crate::config::Config;

/// The channel name in `ChannelDelivery` events.
pub const CHANNEL: &str = "webchat";
/// Pause before listening again after the bus dropped the listener.
const RELISTEN_AFTER: Duration = Duration::from_secs(1);

/// Whether web chat sessions live in the store (shared by instances).
pub fn shared_sessions(cfg: &Config, store: &Store) -> bool {
    cfg.chat
        .shared_sessions
        .unwrap_or(store.backend() == Backend::Postgres)
}

/// The web chat: in memory, or with its sessions in `store` and its deliveries on `bus` (then
/// listening already when this returns, so no delivery made after it is missed).
pub async fn build(
    cfg: &Config,
    store: &Store,
    bus: &Arc<dyn EventBus>,
    config: WebChatConfig,
    shutdown: watch::Receiver<bool>,
) -> anyhow::Result<WebChat> {
    if !shared_sessions(cfg, store) {
        return Ok(WebChat::new(config));
    }
    let webchat = WebChat::shared(
        config,
        Arc::new(StoreSessions {
            store: store.clone(),
            bus: bus.clone(),
        }),
    );
    let listener = bus
        .listen(Topic::ChannelDelivery)
        .await
        .map_err(|e| anyhow::anyhow!("listening for web chat deliveries: {e}"))?;
    tokio::spawn(listen(webchat.clone(), bus.clone(), listener, shutdown));
    tracing::info!("web chat sessions shared through the store");
    Ok(webchat)
}

/// Hands every web chat delivery to the web chat (which ignores customers it does not hold);
/// after a gap (lag, reconnect) every held session catches up from the store.
async fn listen(
    webchat: WebChat,
    bus: Arc<dyn EventBus>,
    mut listener: okienko_bus::Listener,
    mut shutdown: watch::Receiver<bool>,
) {
    loop {
        loop {
            let item = tokio::select! {
                item = listener.next() => item,
                _ = shutdown.wait_for(|s| *s) => return,
            };
            match item {
                Some(Ok(Event::ChannelDelivery {
                    customer,
                    channel,
                    message,
                })) if channel == CHANNEL => match message.parse::<u64>() {
                    Ok(seq) => webchat.delivered(customer, seq),
                    Err(_) => tracing::warn!("web chat delivery event without a seq ignored"),
                },
                Some(Ok(_)) => {}
                Some(Err(e)) => {
                    tracing::warn!(error = %e, "web chat deliveries may have been missed; catching up");
                    webchat.resync();
                }
                None => break,
            }
        }
        // The bus closed the listener: listen again, then catch up on what went by meanwhile.
        loop {
            tokio::select! {
                _ = tokio::time::sleep(RELISTEN_AFTER) => {}
                _ = shutdown.wait_for(|s| *s) => return,
            }
            match bus.listen(Topic::ChannelDelivery).await {
                Ok(l) => {
                    listener = l;
                    webchat.resync();
                    break;
                }
                Err(e) => tracing::warn!(error = %e, "listening for web chat deliveries again"),
            }
        }
    }
}

/// The web chat's sessions in the store; each stored reply is announced on the bus.
struct StoreSessions {
    store: Store,
    bus: Arc<dyn EventBus>,
}

fn store_err(e: StoreError) -> SessionStoreError {
    tracing::warn!(error = %e, "web chat session store");
    SessionStoreError
}

#[async_trait]
impl SessionStore for StoreSessions {
    async fn create(
        &self,
        token: &str,
        customer: CustomerId,
        lang: Lang,
        now: DateTime<Utc>,
        expires_at: DateTime<Utc>,
    ) -> Result<(), SessionStoreError> {
        self.store
            .create_webchat_session(token, customer, lang, now, expires_at)
            .await
            .map_err(store_err)
    }

    async fn resume(
        &self,
        token: &str,
        lang: Option<Lang>,
        now: DateTime<Utc>,
        expires_at: DateTime<Utc>,
    ) -> Result<Option<StoredSession>, SessionStoreError> {
        Ok(self
            .store
            .resume_webchat_session(token, lang, now, expires_at)
            .await
            .map_err(store_err)?
            .map(|r| StoredSession {
                customer: r.customer,
                lang: r.lang,
                last_seq: r.last_seq,
            }))
    }

    async fn touch(
        &self,
        customer: CustomerId,
        now: DateTime<Utc>,
        expires_at: DateTime<Utc>,
    ) -> Result<(), SessionStoreError> {
        self.store
            .touch_webchat_session(customer, now, expires_at)
            .await
            .map(|_| ())
            .map_err(store_err)
    }

    async fn append(
        &self,
        customer: CustomerId,
        reply: &str,
        keep: usize,
        now: DateTime<Utc>,
        expires_at: DateTime<Utc>,
    ) -> Result<Option<u64>, SessionStoreError> {
        let keep = u64::try_from(keep).unwrap_or(u64::MAX);
        let seq = self
            .store
            .append_webchat_reply(customer, reply, keep, now, expires_at)
            .await
            .map_err(store_err)?;
        if let Some(seq) = seq {
            // Announced in the background: the local sockets need not wait for the bus, and the
            // other instances read the reply from the store whenever the notice comes.
            let bus = self.bus.clone();
            tokio::spawn(async move {
                let event = Event::ChannelDelivery {
                    customer,
                    channel: CHANNEL.into(),
                    message: seq.to_string(),
                };
                let id = format!("{CHANNEL}-{customer}-{seq}");
                if let Err(e) = bus.publish(&id, &event).await {
                    tracing::warn!(error = %e, %customer, seq, "web chat delivery not announced");
                }
            });
        }
        Ok(seq)
    }

    async fn replies_after(
        &self,
        customer: CustomerId,
        after: u64,
    ) -> Result<Vec<(u64, String)>, SessionStoreError> {
        self.store
            .webchat_replies_after(customer, after)
            .await
            .map_err(store_err)
    }

    async fn purge(&self, now: DateTime<Utc>) -> Result<u64, SessionStoreError> {
        self.store
            .purge_webchat_sessions(now)
            .await
            .map_err(store_err)
    }
}
