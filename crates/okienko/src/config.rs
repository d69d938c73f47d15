//! Configuration: built-in defaults, then a TOML file, then `OKIENKO_` environment variables
//! (nested keys joined by `__`, e.g. `OKIENKO_BANK__BASE_URL`).

use std::path::{Path, PathBuf};

use anyhow::Context;
use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Address the gateway listens on.
    pub listen: String,
    /// The URL customers reach the gateway at (used in the bank's redirect back). Defaults to
    /// `http://{listen}`.
    pub public_url: Option<String>,
    /// Where the default SQLite database lives.
    pub data_dir: PathBuf,
    /// `sqlite://…` or `postgres://…`; defaults to `okienko.sqlite` in `data_dir`.
    pub store_url: Option<String>,
    pub bank: BankConfig,
    pub chat: ChatConfig,
    /// Seconds between unattended background syncs (each spends the bank's daily budget).
    pub sync_interval_secs: u64,
    /// The master key file that wraps every customer's data key; created (mode 0600) with a
    /// fresh key when missing. Defaults to `master.key` in `data_dir`. Losing it makes the
    /// cached data and stored bank tokens unreadable.
    pub master_key_file: Option<PathBuf>,
    pub guard: GuardSettings,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GuardSettings {
    /// Known-bad domain lists in CERT Polska's one-domain-a-line format, re-read when they change.
    pub known_bad_files: Vec<PathBuf>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BankConfig {
    /// A short name for the bank profile, stored with each consent.
    pub name: String,
    /// The NextGenPSD2 base URL (the part before `/v1/`).
    pub base_url: String,
    pub client_id: String,
    pub timeout_secs: u64,
    /// Requested consent lifetime; the bank may shorten it. At most 180 days.
    pub consent_days: u32,
    /// Unattended reads a day per account; NextGenPSD2 allows 4 unless agreed otherwise.
    pub frequency_per_day: u32,
    /// After the bank failed to answer a customer, try again after this many seconds.
    pub retry_after_secs: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChatConfig {
    /// "pl" or "en".
    pub default_lang: String,
    /// IANA zone used for customers who have not chosen one.
    pub timezone: String,
    /// Sent to the bank as PSU-IP-Address for reads the customer asked for.
    pub psu_ip: String,
}

const TOP_LEVEL_KEYS: [&str; 9] = [
    "master_key_file",
    "guard",
    "listen",
    "public_url",
    "data_dir",
    "store_url",
    "bank",
    "chat",
    "sync_interval_secs",
];

impl Default for Config {
    fn default() -> Self {
        Config {
            listen: "127.0.0.1:8080".into(),
            public_url: None,
            data_dir: PathBuf::from("okienko-data"),
            store_url: None,
            bank: BankConfig {
                name: "sandbox".into(),
                base_url: "http://127.0.0.1:8081".into(),
                client_id: "okienko".into(),
                timeout_secs: 10,
                consent_days: 180,
                frequency_per_day: 4,
                retry_after_secs: 30,
            },
            chat: ChatConfig {
                default_lang: "pl".into(),
                timezone: "Europe/Warsaw".into(),
                psu_ip: "127.0.0.1".into(),
            },
            sync_interval_secs: 6 * 3600,
            master_key_file: None,
            guard: GuardSettings::default(),
        }
    }
}

impl Config {
    /// Defaults, then `file` if given, then the environment.
    pub fn load(file: Option<&Path>) -> anyhow::Result<Config> {
        let mut fig = Figment::from(Serialized::defaults(Config::default()));
        if let Some(f) = file {
            anyhow::ensure!(f.exists(), "config file {} does not exist", f.display());
            fig = fig.merge(Toml::file(f));
        }
        // Other OKIENKO_ variables (OKIENKO_LOG, the test script's) are not configuration.
        let env = Env::prefixed("OKIENKO_")
            .filter(|k| {
                let k = k.as_str().to_ascii_lowercase();
                TOP_LEVEL_KEYS
                    .iter()
                    .any(|t| k == *t || k.starts_with(&format!("{t}__")))
            })
            .split("__");
        fig = fig.merge(env);
        let cfg: Config = fig.extract().context("invalid configuration")?;
        cfg.validate()?;
        Ok(cfg)
    }

    pub fn validate(&self) -> anyhow::Result<()> {
        anyhow::ensure!(
            (1..=180).contains(&self.bank.consent_days),
            "bank.consent_days must be between 1 and 180"
        );
        anyhow::ensure!(
            (1..=24).contains(&self.bank.frequency_per_day),
            "bank.frequency_per_day must be between 1 and 24"
        );
        anyhow::ensure!(
            (1..=120).contains(&self.bank.timeout_secs),
            "bank.timeout_secs must be between 1 and 120"
        );
        self.chat
            .default_lang
            .parse::<okienko_core::Lang>()
            .context("chat.default_lang")?;
        self.chat
            .timezone
            .parse::<chrono_tz::Tz>()
            .map_err(|_| anyhow::anyhow!("chat.timezone is not an IANA time zone"))?;
        anyhow::ensure!(
            (1..=3600).contains(&self.bank.retry_after_secs),
            "bank.retry_after_secs must be between 1 and 3600"
        );
        url::Url::parse(&self.bank.base_url).context("bank.base_url is not a URL")?;
        Ok(())
    }

    pub fn master_key_file(&self) -> PathBuf {
        self.master_key_file
            .clone()
            .unwrap_or_else(|| self.data_dir.join("master.key"))
    }

    pub fn store_url(&self) -> String {
        match &self.store_url {
            Some(u) => u.clone(),
            None => format!(
                "sqlite://{}?mode=rwc",
                self.data_dir.join("okienko.sqlite").display()
            ),
        }
    }
}
