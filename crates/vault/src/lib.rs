//! okienko's card vault: a separate process (`okienko vault`) with its own HTTP port, its own
//! SQLite file and its own key hierarchy (a master key from a key file wraps one data key per
//! owner; card records are sealed under their owner's key, bound to the card id). It alone holds
//! card numbers. It hands out network-style tokens (16 digits, Luhn-valid, from a token BIN no
//! card uses, one per card × requestor) and per-payment cryptograms, and charges a token at the
//! card issuer (the sandbox bank's acquiring endpoint). The gateway, the chat and the merchant
//! hold tokens only; cards are typed on the vault's own page.
//!
//! It must never log or return a card number, and never share storage with the gateway.

pub mod acquirer;
pub mod auth;
pub mod client;
pub mod crypto;
pub mod error;
pub mod http;
pub mod luhn;
pub mod service;

use std::future::Future;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

pub use client::{ClientError, VaultClient};
pub use error::VaultError;
pub use service::{ChargeRequest, ChargeResult, TokenInfo, Vault};
/// The client takes its secret as `zeroize::Zeroizing`; re-exported so callers need no own dependency.
pub use zeroize;

/// How to run a vault.
#[derive(Debug, Clone)]
pub struct VaultConfig {
    /// The vault's SQLite file.
    pub db_path: PathBuf,
    /// 64 hex digits; created (0600) when missing.
    pub master_key_file: PathBuf,
    /// The secret shared with the gateway (request signatures); created (0600) when missing.
    pub api_secret_file: PathBuf,
    /// The card issuer's base URL (the sandbox bank).
    pub issuer_url: String,
    pub issuer_timeout: Duration,
}

/// Reads the shared API secret file, creating it with a random secret when missing.
pub fn api_secret_from_file_or_create(
    path: &std::path::Path,
) -> Result<zeroize::Zeroizing<Vec<u8>>, VaultError> {
    // The same format and creation rules as the master key: 32 random bytes in hex, mode 0600.
    let k = crypto::Key::from_file_or_create(path)?;
    let text = zeroize::Zeroizing::new(
        std::fs::read_to_string(path)
            .map_err(|e| VaultError::Config(format!("reading the API secret: {}", e.kind())))?,
    );
    drop(k);
    Ok(zeroize::Zeroizing::new(text.trim().as_bytes().to_vec()))
}

/// Opens the vault (keys, database, issuer client) and builds its HTTP app. Fails on a wrong
/// master key before anything is served.
pub async fn app(cfg: &VaultConfig) -> Result<axum::Router, VaultError> {
    let master = crypto::Key::from_file_or_create(&cfg.master_key_file)?;
    let api_secret = api_secret_from_file_or_create(&cfg.api_secret_file)?;
    let acquirer = acquirer::Acquirer::new(&cfg.issuer_url, cfg.issuer_timeout)?;
    let vault = Vault::open(&cfg.db_path, master, acquirer).await?;
    Ok(http::router(Arc::new(http::AppState { vault, api_secret })))
}

/// Opens the vault and serves it on `listener` until `shutdown` resolves.
pub async fn serve(
    cfg: &VaultConfig,
    listener: tokio::net::TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), VaultError> {
    serve_app(app(cfg).await?, listener, shutdown).await
}

/// Serves an opened vault app.
pub async fn serve_app(
    app: axum::Router,
    listener: tokio::net::TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), VaultError> {
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown)
        .await
        .map_err(|e| VaultError::Config(format!("serving: {}", e.kind())))
}
