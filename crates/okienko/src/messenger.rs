//! Wiring of the Messenger channel: its settings into the channel's config, and the demo's
//! secrets (demo only: anyone who reads this file knows them).

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use okienko_channels::{ChannelAdapter, Messenger, MessengerConfig, Outboxes, WebChat};
use okienko_core::Clock;
use okienko_dialog::Outbox;
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

/// The channel, when enabled.
pub fn build(s: &MessengerSettings, clock: Arc<dyn Clock>) -> anyhow::Result<Option<Messenger>> {
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
    };
    Messenger::new(config, clock)
        .map(Some)
        .context("building the Messenger Send API client")
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
