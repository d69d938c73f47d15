//! Wiring of the Matrix channel (`[matrix]`): its settings into the bot's config, and where its
//! pushes go. The bot itself needs the cargo feature `matrix`; without it, enabling the section
//! is refused at start-up.

use std::path::PathBuf;
use std::sync::Arc;

use okienko_channels::{ChannelAdapter, Outboxes, WebChat};
use okienko_dialog::Outbox;
use serde::{Deserialize, Serialize};

/// The Matrix channel (`[matrix]`). Off unless `enabled`; then the homeserver, the bot's user
/// id, a password or an access token, and the store passphrase are required.
#[derive(Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MatrixSettings {
    pub enabled: bool,
    /// The homeserver's client-server API root.
    pub homeserver_url: String,
    /// The bot's full user id (`@bank:bank.example`).
    pub user_id: String,
    /// The bot's password (a password login with the fixed `device_id`).
    pub password: Option<String>,
    /// An access token issued for `device_id`, instead of the password.
    pub access_token: Option<String>,
    /// The bot's one device; keep it (and the store) across restarts.
    pub device_id: String,
    pub device_name: String,
    /// Where the bot's encrypted SQLite stores live; defaults to `matrix` in `data_dir`.
    pub store_dir: Option<PathBuf>,
    /// Encrypts the bot's stores (its Olm/Megolm keys) at rest.
    pub store_passphrase: String,
    /// Keys the user id → customer id mapping; defaults to the store passphrase (rotating that
    /// then gives every Matrix customer a new id, so set this if you rotate).
    pub user_key: Option<String>,
    pub timeout_secs: u64,
}

impl Default for MatrixSettings {
    fn default() -> Self {
        MatrixSettings {
            enabled: false,
            homeserver_url: String::new(),
            user_id: String::new(),
            password: None,
            access_token: None,
            device_id: "OKIENKOBOT".into(),
            device_name: "okienko".into(),
            store_dir: None,
            store_passphrase: String::new(),
            user_key: None,
            timeout_secs: 30,
        }
    }
}

impl std::fmt::Debug for MatrixSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MatrixSettings")
            .field("enabled", &self.enabled)
            .field("homeserver_url", &self.homeserver_url)
            .field("device_id", &self.device_id)
            .field("store_dir", &self.store_dir)
            .field("timeout_secs", &self.timeout_secs)
            .finish_non_exhaustive()
    }
}

impl MatrixSettings {
    pub fn validate(&self) -> anyhow::Result<()> {
        use anyhow::Context as _;
        if !self.enabled {
            return Ok(());
        }
        anyhow::ensure!(
            cfg!(feature = "matrix"),
            "matrix is enabled, but this okienko was built without the `matrix` feature"
        );
        url::Url::parse(&self.homeserver_url).context("matrix.homeserver_url is not a URL")?;
        anyhow::ensure!(
            self.user_id.starts_with('@') && self.user_id.contains(':'),
            "matrix.user_id must be a full Matrix user id (@name:server)"
        );
        anyhow::ensure!(
            self.password.as_deref().is_some_and(|p| !p.is_empty())
                || self.access_token.as_deref().is_some_and(|t| !t.is_empty()),
            "matrix.password or matrix.access_token is required when matrix is enabled"
        );
        anyhow::ensure!(
            !self.device_id.is_empty(),
            "matrix.device_id must not be empty"
        );
        anyhow::ensure!(
            self.store_passphrase.len() >= 8,
            "matrix.store_passphrase is required (at least 8 characters) when matrix is enabled"
        );
        anyhow::ensure!(
            (1..=120).contains(&self.timeout_secs),
            "matrix.timeout_secs must be between 1 and 120"
        );
        Ok(())
    }
}

/// The bot, when enabled (not connected yet: [`start`] connects it).
#[cfg(feature = "matrix")]
pub type Bot = okienko_channels::matrix::MatrixBot;
/// Without the feature there is no bot.
#[cfg(not(feature = "matrix"))]
pub enum Bot {}

/// The bot, when enabled.
pub fn build(cfg: &crate::config::Config) -> anyhow::Result<Option<Bot>> {
    let s = &cfg.matrix;
    if !s.enabled {
        return Ok(None);
    }
    build_enabled(s, cfg.data_dir.join("matrix"))
}

#[cfg(feature = "matrix")]
fn build_enabled(s: &MatrixSettings, default_store: PathBuf) -> anyhow::Result<Option<Bot>> {
    use anyhow::Context as _;
    use okienko_channels::matrix::{MatrixBot, MatrixConfig};
    use secrecy::SecretString;
    let config = MatrixConfig {
        homeserver_url: s.homeserver_url.trim_end_matches('/').to_owned(),
        user_id: s.user_id.clone(),
        password: s.password.clone().map(SecretString::from),
        access_token: s.access_token.clone().map(SecretString::from),
        device_id: s.device_id.clone(),
        device_name: s.device_name.clone(),
        store_dir: s.store_dir.clone().unwrap_or(default_store),
        store_passphrase: SecretString::from(s.store_passphrase.clone()),
        user_key: SecretString::from(
            s.user_key
                .clone()
                .unwrap_or_else(|| s.store_passphrase.clone()),
        ),
        timeout: std::time::Duration::from_secs(s.timeout_secs),
    };
    MatrixBot::new(config)
        .map(Some)
        .context("setting up the Matrix bot")
}

#[cfg(not(feature = "matrix"))]
fn build_enabled(_: &MatrixSettings, _: PathBuf) -> anyhow::Result<Option<Bot>> {
    anyhow::bail!("matrix is enabled, but this okienko was built without the `matrix` feature")
}

/// Where the engine's pushes go: the web chat, Messenger when it is on, Matrix when it is on.
pub fn outbox(
    webchat: &WebChat,
    messenger: Option<&okienko_channels::Messenger>,
    matrix: Option<&Bot>,
) -> Arc<dyn Outbox> {
    let mut channels: Vec<Arc<dyn ChannelAdapter>> = vec![Arc::new(webchat.clone())];
    if let Some(m) = messenger {
        channels.push(Arc::new(m.clone()));
    }
    #[cfg(feature = "matrix")]
    if let Some(b) = matrix {
        channels.push(Arc::new(b.clone()));
    }
    #[cfg(not(feature = "matrix"))]
    let _ = matrix;
    Arc::new(Outboxes::new(channels))
}

/// Connects the bot to the conversation and starts its sync loop (in the background: the
/// gateway serves while it connects).
#[cfg(feature = "matrix")]
pub fn start(
    bot: Option<&Bot>,
    conversation: Arc<dyn okienko_dialog::Conversation>,
    shutdown: tokio::sync::watch::Receiver<bool>,
) {
    if let Some(b) = bot {
        b.attach(conversation);
        tokio::spawn(b.clone().run(shutdown));
    }
}

#[cfg(not(feature = "matrix"))]
pub fn start(
    bot: Option<&Bot>,
    _conversation: Arc<dyn okienko_dialog::Conversation>,
    _shutdown: tokio::sync::watch::Receiver<bool>,
) {
    if let Some(b) = bot {
        match *b {}
    }
}
