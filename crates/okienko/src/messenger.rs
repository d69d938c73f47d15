//! Wiring of the Messenger channel: its settings into the channel's config, and the demo's
//! secrets (demo only: anyone who reads this file knows them).

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use okienko_channels::messenger::{MessengerState, PsidLink, SecretKind, SecretTake, StateError};
use okienko_channels::{ChannelAdapter, Messenger, MessengerConfig, Outboxes, WebChat};
use okienko_core::{Clock, CustomerId};
use okienko_dialog::Outbox;
use okienko_store::{LinkCodeTake, MessengerLinkRecord, Store, StoreError};
use secrecy::SecretString;

use crate::config::MessengerSettings;

/// `okienko demo`'s Messenger app secret; tests and `okienko bench messenger` sign with it.
pub const DEMO_APP_SECRET: &str = "okienko-demo-app-secret";
pub const DEMO_VERIFY_TOKEN: &str = "okienko-demo-verify-token";
pub const DEMO_PAGE_TOKEN: &str = "okienko-demo-page-token";

/// The demo's settings: on, with the demo secrets, sending to `graph_api_url`.
pub fn demo_settings(graph_api_url: &str) -> MessengerSettings {
    MessengerSettings {
        enabled: true,
        app_secret: DEMO_APP_SECRET.into(),
        verify_token: DEMO_VERIFY_TOKEN.into(),
        page_access_token: DEMO_PAGE_TOKEN.into(),
        graph_api_url: graph_api_url.into(),
        ..MessengerSettings::default()
    }
}

/// The channel, when enabled, with its state in `store`, and whom it reaches restored from it.
pub async fn build(
    s: &MessengerSettings,
    clock: Arc<dyn Clock>,
    public_url: &str,
    store: &Store,
) -> anyhow::Result<Option<Messenger>> {
    if !s.enabled {
        return Ok(None);
    }
    let config = MessengerConfig {
        app_secret: SecretString::from(s.app_secret.clone()),
        verify_token: SecretString::from(s.verify_token.clone()),
        page_access_token: SecretString::from(s.page_access_token.clone()),
        graph_api_url: s.graph_api_url.trim_end_matches('/').to_owned(),
        psid_key: SecretString::from(s.psid_key.clone().unwrap_or_else(|| s.app_secret.clone())),
        timeout: Duration::from_secs(s.timeout_secs),
        replay_window: Duration::from_secs(s.replay_window_secs),
        replay_capacity: s.replay_capacity,
        account_link_url: (s.account_link_ttl_secs > 0).then(|| {
            format!(
                "{}{}",
                public_url.trim_end_matches('/'),
                okienko_server::messenger::ACCOUNT_LINK_PATH
            )
        }),
        account_link_ttl: Duration::from_secs(s.account_link_ttl_secs),
    };
    let messenger = Messenger::new(config, clock, Arc::new(StoreState(store.clone())))
        .context("building the Messenger Send API client")?;
    let n = messenger
        .restore()
        .await
        .map_err(|_| anyhow::anyhow!("reading the Messenger links from the store"))?;
    tracing::info!(links = n, "messenger links restored");
    Ok(Some(messenger))
}

/// The Messenger channel's state in the store (migration 0017).
struct StoreState(Store);

fn state_err(e: StoreError) -> StateError {
    tracing::warn!(error = %e, "messenger state store");
    StateError
}

#[async_trait]
impl MessengerState for StoreState {
    async fn remember_event(&self, key_hash: &str, at: DateTime<Utc>) -> Result<bool, StateError> {
        self.0
            .remember_messenger_event(key_hash, at)
            .await
            .map_err(state_err)
    }

    async fn purge(&self, before: DateTime<Utc>, now: DateTime<Utc>) -> Result<u64, StateError> {
        let events = self
            .0
            .purge_messenger_events(before)
            .await
            .map_err(state_err)?;
        let codes = self.0.purge_messenger_codes(now).await.map_err(state_err)?;
        Ok(events + codes)
    }

    async fn save_link(&self, customer: CustomerId, link: &PsidLink) -> Result<(), StateError> {
        let rec = MessengerLinkRecord {
            psid: link.psid.clone(),
            page_id: link.page_id.clone(),
            last_inbound: link.last_inbound,
            account_linked_at: link.account_linked_at,
        };
        self.0
            .upsert_messenger_link(customer, &rec)
            .await
            .map_err(state_err)
    }

    async fn link(&self, customer: CustomerId) -> Result<Option<PsidLink>, StateError> {
        Ok(self
            .0
            .messenger_link(customer)
            .await
            .map_err(state_err)?
            .map(|r| PsidLink {
                psid: r.psid,
                page_id: r.page_id,
                last_inbound: r.last_inbound,
                account_linked_at: r.account_linked_at,
            }))
    }

    async fn linked_customers(&self) -> Result<Vec<CustomerId>, StateError> {
        self.0.messenger_linked_customers().await.map_err(state_err)
    }

    async fn drop_link(&self, customer: CustomerId) -> Result<bool, StateError> {
        self.0
            .delete_messenger_link(customer)
            .await
            .map_err(state_err)
    }

    async fn issue_secret(
        &self,
        hash: &str,
        kind: SecretKind,
        customer: CustomerId,
        expires_at: DateTime<Utc>,
    ) -> Result<(), StateError> {
        self.0
            .insert_messenger_code(hash, kind.as_str(), customer, expires_at)
            .await
            .map_err(state_err)
    }

    async fn take_secret(
        &self,
        hash: &str,
        kind: SecretKind,
        customer: Option<CustomerId>,
        now: DateTime<Utc>,
    ) -> Result<SecretTake, StateError> {
        Ok(
            match self
                .0
                .take_messenger_code(hash, kind.as_str(), customer, now)
                .await
                .map_err(state_err)?
            {
                LinkCodeTake::Taken(c) => SecretTake::Taken(c),
                LinkCodeTake::Foreign => SecretTake::Foreign,
                LinkCodeTake::Used => SecretTake::Used,
                LinkCodeTake::Expired => SecretTake::Expired,
                LinkCodeTake::Unknown => SecretTake::Unknown,
            },
        )
    }
}

/// Where the engine's pushes go: the web chat, and Messenger when it is on.
pub fn outbox(webchat: &WebChat, messenger: Option<&Messenger>) -> Arc<dyn Outbox> {
    let mut channels: Vec<Arc<dyn ChannelAdapter>> = vec![Arc::new(webchat.clone())];
    if let Some(m) = messenger {
        channels.push(Arc::new(m.clone()));
    }
    Arc::new(Outboxes::new(channels))
}

/// The webhook routes when Messenger is on (nothing otherwise).
pub fn routes(messenger: Option<Messenger>) -> axum::Router {
    match messenger {
        Some(m) => okienko_server::messenger::routes(m),
        None => axum::Router::new(),
    }
}

/// Turns Messenger on for `okienko demo` with the demo secrets, unless the configuration
/// already set it up. The Graph API URL stays as configured.
pub fn enable_for_demo(cfg: &mut crate::config::Config) {
    if !cfg.messenger.enabled {
        let url = cfg.messenger.graph_api_url.clone();
        cfg.messenger = demo_settings(&url);
    }
}

/// What `okienko demo` prints about Messenger (demo secrets only).
pub fn demo_lines(cfg: &crate::config::Config, gateway_url: &str) -> Vec<String> {
    if !cfg.messenger.enabled {
        return Vec::new();
    }
    let demo = cfg.messenger.app_secret == DEMO_APP_SECRET;
    let mut out = vec![format!(
        "Messenger webhook:   {gateway_url}{}",
        okienko_server::messenger::PATH
    )];
    if demo {
        out.push(format!(
            "Messenger (demo):    app secret {DEMO_APP_SECRET}, verify token {DEMO_VERIFY_TOKEN}, page token {DEMO_PAGE_TOKEN}"
        ));
    }
    out.push(format!(
        "Messenger Send API:  {}",
        cfg.messenger.graph_api_url
    ));
    out
}
