//! `okienko vault`: the card vault alone, on its own port with its own SQLite file and keys
//! (crates/vault). It shares nothing with the gateway's store or master key.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;

/// Where and how the vault runs.
#[derive(Debug, Clone)]
pub struct VaultArgs {
    pub port: u16,
    pub data_dir: PathBuf,
    pub issuer_url: String,
    pub master_key_file: Option<PathBuf>,
    pub api_secret_file: Option<PathBuf>,
    pub issuer_timeout_secs: u64,
}

impl VaultArgs {
    pub fn config(&self) -> okienko_vault::VaultConfig {
        okienko_vault::VaultConfig {
            db_path: self.data_dir.join("vault.sqlite"),
            master_key_file: self
                .master_key_file
                .clone()
                .unwrap_or_else(|| self.data_dir.join("vault-master.key")),
            api_secret_file: self
                .api_secret_file
                .clone()
                .unwrap_or_else(|| self.data_dir.join("vault-api.secret")),
            issuer_url: self.issuer_url.clone(),
            issuer_timeout: Duration::from_secs(self.issuer_timeout_secs.clamp(1, 120)),
        }
    }
}

/// Serves the vault until `shutdown` resolves; prints the URL it listens on.
pub async fn run(
    args: VaultArgs,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    std::fs::create_dir_all(&args.data_dir)
        .with_context(|| format!("creating {}", args.data_dir.display()))?;
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", args.port))
        .await
        .with_context(|| format!("binding 127.0.0.1:{}", args.port))?;
    let cfg = args.config();
    // Open first: a wrong master key or an unreadable database fails before we announce anything.
    let app = okienko_vault::app(&cfg)
        .await
        .context("opening the card vault")?;
    println!("card vault listening on http://{}/", listener.local_addr()?);
    println!(
        "  API secret file (share with the gateway): {}",
        cfg.api_secret_file.display()
    );
    okienko_vault::serve_app(app, listener, shutdown)
        .await
        .context("running the card vault")
}
