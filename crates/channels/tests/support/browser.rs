//! A headless Chromium driven through chromedriver, for browser tests. Self-contained on purpose:
//! copy this file into another crate's `tests/support/` (it needs `fantoccini`, `tempfile`,
//! `anyhow`, `serde_json` and `tokio` as dev-dependencies).
//!
//! `ChromeDriver::start()` spawns `chromedriver --port=<free port>` and fails with a clear message
//! when chromedriver or Chromium is missing (never a silent skip); dropping it kills the process.
//! Each `new_client()` is a fresh browser session with its own throwaway profile.
#![allow(dead_code)]

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use fantoccini::elements::Element;
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::json;

const DEFAULT_DRIVER: &str = "/usr/bin/chromedriver";
const DEFAULT_CHROMIUM: &str = "/usr/bin/chromium";
const INSTALL_HINT: &str = "install them with `apt-get update && apt-get install -y chromium chromium-driver` \
(or point CHROMEDRIVER / CHROMIUM at other binaries)";

/// A running chromedriver, killed on drop.
pub struct ChromeDriver {
    child: Child,
    port: u16,
    chromium: PathBuf,
    profiles: Mutex<Vec<tempfile::TempDir>>,
}

impl ChromeDriver {
    pub async fn start() -> anyhow::Result<ChromeDriver> {
        let driver = PathBuf::from(
            std::env::var("CHROMEDRIVER").unwrap_or_else(|_| DEFAULT_DRIVER.to_owned()),
        );
        let chromium = PathBuf::from(
            std::env::var("CHROMIUM").unwrap_or_else(|_| DEFAULT_CHROMIUM.to_owned()),
        );
        if !driver.is_file() {
            bail!(
                "chromedriver not found at {}: {INSTALL_HINT}",
                driver.display()
            );
        }
        if !chromium.is_file() {
            bail!(
                "Chromium not found at {}: {INSTALL_HINT}",
                chromium.display()
            );
        }
        let port = free_port()?;
        let child = Command::new(&driver)
            .arg(format!("--port={port}"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .with_context(|| format!("could not start {}", driver.display()))?;
        let mut cd = ChromeDriver {
            child,
            port,
            chromium,
            profiles: Mutex::new(Vec::new()),
        };
        cd.wait_until_listening(Duration::from_secs(20)).await?;
        Ok(cd)
    }

    async fn wait_until_listening(&mut self, limit: Duration) -> anyhow::Result<()> {
        let addr = SocketAddr::from(([127, 0, 0, 1], self.port));
        let started = Instant::now();
        loop {
            if let Some(status) = self.child.try_wait()? {
                bail!("chromedriver exited at start-up with {status}");
            }
            if TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok() {
                return Ok(());
            }
            if started.elapsed() > limit {
                bail!(
                    "chromedriver did not listen on port {} within {limit:?}",
                    self.port
                );
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// A new headless browser session with a fresh profile.
    pub async fn new_client(&self) -> anyhow::Result<Client> {
        let profile = tempfile::tempdir().context("temp profile dir")?;
        let args = vec![
            "--headless=new".to_owned(),
            "--no-sandbox".to_owned(),
            "--disable-gpu".to_owned(),
            "--disable-dev-shm-usage".to_owned(),
            "--disable-quic".to_owned(),
            "--no-first-run".to_owned(),
            "--disable-background-networking".to_owned(),
            "--disable-component-update".to_owned(),
            "--disable-sync".to_owned(),
            "--window-size=900,1000".to_owned(),
            format!("--user-data-dir={}", profile.path().display()),
        ];
        let mut caps = serde_json::Map::new();
        caps.insert(
            "goog:chromeOptions".to_owned(),
            json!({ "args": args, "binary": self.chromium.display().to_string() }),
        );
        let client = ClientBuilder::rustls()
            .context("TLS roots for the WebDriver client")?
            .capabilities(caps)
            .connect(&self.url())
            .await
            .context("chromedriver refused a new Chromium session")?;
        if let Ok(mut p) = self.profiles.lock() {
            p.push(profile);
        }
        Ok(client)
    }
}

impl Drop for ChromeDriver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> anyhow::Result<u16> {
    let l = TcpListener::bind("127.0.0.1:0").context("no free local port")?;
    Ok(l.local_addr()?.port())
}

/// Waits up to `limit` for an element matching `css`.
pub async fn wait_for(client: &Client, css: &str, limit: Duration) -> anyhow::Result<Element> {
    client
        .wait()
        .at_most(limit)
        .every(Duration::from_millis(50))
        .for_element(Locator::Css(css))
        .await
        .with_context(|| format!("no element matching `{css}` within {limit:?}"))
}

/// Waits until `count` elements match `css`.
pub async fn wait_for_count(
    client: &Client,
    css: &str,
    count: usize,
    limit: Duration,
) -> anyhow::Result<Vec<Element>> {
    let started = Instant::now();
    loop {
        let found = client.find_all(Locator::Css(css)).await?;
        if found.len() >= count {
            return Ok(found);
        }
        if started.elapsed() > limit {
            bail!(
                "{} of {count} elements matching `{css}` after {limit:?}",
                found.len()
            );
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Where screenshots go: `$CARGO_TARGET_DIR/screenshots`, else `target/screenshots` of the
/// workspace this test belongs to.
pub fn screenshot_path(name: &str) -> anyhow::Result<PathBuf> {
    let target = match std::env::var_os("CARGO_TARGET_DIR") {
        Some(dir) => PathBuf::from(dir),
        None => workspace_root(Path::new(env!("CARGO_MANIFEST_DIR"))).join("target"),
    };
    let dir = target.join("screenshots");
    std::fs::create_dir_all(&dir).with_context(|| format!("create {}", dir.display()))?;
    Ok(dir.join(name))
}

fn workspace_root(start: &Path) -> PathBuf {
    start
        .ancestors()
        .find(|p| p.join("Cargo.lock").is_file())
        .unwrap_or(start)
        .to_path_buf()
}

/// Saves a PNG screenshot of the whole window and returns where it went.
pub async fn screenshot(client: &Client, name: &str) -> anyhow::Result<PathBuf> {
    let png = client.screenshot().await?;
    let path = screenshot_path(name)?;
    std::fs::write(&path, &png).with_context(|| format!("write {}", path.display()))?;
    Ok(path)
}
