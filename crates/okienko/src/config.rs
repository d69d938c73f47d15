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
    pub messenger: MessengerSettings,
    /// The Matrix channel (`[matrix]`; needs the `matrix` feature).
    #[serde(default)]
    pub matrix: crate::matrix::MatrixSettings,
    /// Human handover and the agent console (`[agents]`).
    pub agents: crate::agents::AgentsSettings,
    /// Proactive notices (`[notices]`): the daily digest hour.
    #[serde(default)]
    pub notices: crate::notices::NoticeSettings,
    /// Transfers from the chat (`[payments]`): SCA approach, product, limits.
    #[serde(default)]
    pub payments: crate::payments::PaymentSettings,
    /// Merchant checkout with cards saved in the card vault (`[checkout]`).
    #[serde(default)]
    pub checkout: crate::checkout::CheckoutSettings,
    /// The event bus (`[bus]`): `kind = "in-process"` (default) or `"nats"` with `url` and
    /// `stream` (the deployment prefix).
    #[serde(default)]
    pub bus: okienko_bus::BusSettings,
    /// The audit trail (`[audit]`): where its head is kept outside the database.
    #[serde(default)]
    pub audit: AuditSettings,
}

/// `[audit]`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AuditSettings {
    /// The file that keeps the audit chain's head outside the database (replaced atomically after
    /// every audit batch; `okienko audit verify` compares the database with it, so a database
    /// restored from an older copy is detected). Defaults to `audit.head` in `data_dir`; for the
    /// guarantee to hold, put it on storage that whoever can restore the database cannot roll
    /// back with it.
    pub head_file: Option<PathBuf>,
}

#[derive(Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct GuardSettings {
    /// Known-bad domain lists in CERT Polska's one-domain-a-line format, re-read when they change.
    pub known_bad_files: Vec<PathBuf>,
    /// A risk model from `okienko guard train`; without one, live scoring runs on the versioned
    /// hard rules alone.
    pub model_file: Option<PathBuf>,
    /// Quiet hours for low-severity fraud warnings, in the customer's zone ("22:00-07:00";
    /// equal ends turn them off).
    pub quiet_hours: String,
    /// Risk score (0..1) from which a transaction opens a fraud episode.
    pub warn_score: f32,
    /// "Yes, it was me" answers a month after which only high-severity warnings are sent.
    pub monthly_false_alarms: u32,
    /// Bearer token for `POST /admin/warnings`; unset = the endpoint is off (404).
    pub admin_token: Option<String>,
}

impl Default for GuardSettings {
    fn default() -> Self {
        GuardSettings {
            known_bad_files: Vec::new(),
            model_file: None,
            quiet_hours: "22:00-07:00".into(),
            warn_score: 0.8,
            monthly_false_alarms: 3,
            admin_token: None,
        }
    }
}

impl std::fmt::Debug for GuardSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GuardSettings")
            .field("known_bad_files", &self.known_bad_files)
            .field("model_file", &self.model_file)
            .field("quiet_hours", &self.quiet_hours)
            .field("warn_score", &self.warn_score)
            .field("monthly_false_alarms", &self.monthly_false_alarms)
            .field(
                "admin_token",
                &self.admin_token.as_ref().map(|_| "<redacted>"),
            )
            .finish()
    }
}

/// The Messenger channel (`[messenger]`). Off unless `enabled`; then the three secrets are
/// required. `okienko demo` turns it on with demo secrets it prints.
#[derive(Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MessengerSettings {
    pub enabled: bool,
    /// The Meta app secret: webhook deliveries are signed with it.
    pub app_secret: String,
    /// Echoed in the webhook subscription check.
    pub verify_token: String,
    /// The Page access token for the Send API.
    pub page_access_token: String,
    /// The Graph API root, with its version.
    pub graph_api_url: String,
    /// Keys the PSID → customer id mapping; defaults to the app secret (rotating that then
    /// gives every Messenger customer a new id, so set this if you rotate).
    pub psid_key: Option<String>,
    pub timeout_secs: u64,
    /// Events older than this are refused as replays; event ids are remembered this long.
    pub replay_window_secs: u64,
    /// Event ids remembered at once (in memory).
    pub replay_capacity: usize,
    /// Lifetime of Meta account linking's state and authorization code; 0 turns Meta's
    /// account linking off.
    #[serde(default = "default_account_link_ttl_secs")]
    pub account_link_ttl_secs: u64,
}

fn default_account_link_ttl_secs() -> u64 {
    600
}

impl Default for MessengerSettings {
    fn default() -> Self {
        MessengerSettings {
            enabled: false,
            app_secret: String::new(),
            verify_token: String::new(),
            page_access_token: String::new(),
            graph_api_url: "https://graph.facebook.com/v25.0".into(),
            psid_key: None,
            timeout_secs: 10,
            replay_window_secs: 3600,
            replay_capacity: 100_000,
            account_link_ttl_secs: default_account_link_ttl_secs(),
        }
    }
}

impl std::fmt::Debug for MessengerSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MessengerSettings")
            .field("enabled", &self.enabled)
            .field("graph_api_url", &self.graph_api_url)
            .field("timeout_secs", &self.timeout_secs)
            .field("replay_window_secs", &self.replay_window_secs)
            .field("replay_capacity", &self.replay_capacity)
            .finish_non_exhaustive()
    }
}

impl MessengerSettings {
    fn validate(&self) -> anyhow::Result<()> {
        if !self.enabled {
            return Ok(());
        }
        anyhow::ensure!(
            self.app_secret.len() >= 8,
            "messenger.app_secret is required (at least 8 characters) when messenger is enabled"
        );
        anyhow::ensure!(
            !self.verify_token.is_empty(),
            "messenger.verify_token is required when messenger is enabled"
        );
        anyhow::ensure!(
            !self.page_access_token.is_empty(),
            "messenger.page_access_token is required when messenger is enabled"
        );
        url::Url::parse(&self.graph_api_url).context("messenger.graph_api_url is not a URL")?;
        anyhow::ensure!(
            (1..=60).contains(&self.timeout_secs),
            "messenger.timeout_secs must be between 1 and 60"
        );
        anyhow::ensure!(
            (60..=7 * 86400).contains(&self.replay_window_secs),
            "messenger.replay_window_secs must be between 60 and 604800"
        );
        anyhow::ensure!(
            (100..=10_000_000).contains(&self.replay_capacity),
            "messenger.replay_capacity must be between 100 and 10000000"
        );
        Ok(())
    }
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
    /// A file holding the secret the bank signs its pushes with (the sandbox bank's
    /// new-transaction notifications to `/bank/notifications`, asked for with
    /// `TPP-Notification-URI`); unset = no notifications, the gateway syncs on its schedule.
    #[serde(default)]
    pub notify_secret_file: Option<PathBuf>,
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
    /// How long a masked reply's single-use link to the bank's page works (10 s to 1 h).
    #[serde(default = "default_view_link_ttl_secs")]
    pub view_link_ttl_secs: u64,
    /// A TrueType font for the spending charts; without it, summaries come as text only.
    #[serde(default = "default_chart_font")]
    pub chart_font: Option<PathBuf>,
    /// Frames per second one web chat session may send in the long run, and at once.
    #[serde(default = "default_rate_per_second")]
    pub rate_per_second: u32,
    #[serde(default = "default_rate_burst")]
    pub rate_burst: u32,
    /// A question does not ask the bank again when the customer's data was refreshed with them
    /// present less than this many seconds ago; 0 (the default) asks on every question.
    #[serde(default)]
    pub refresh_after_secs: u64,
    /// Web chat sessions and their reply backlog in the store, shared by every gateway instance
    /// (a browser resumes on any of them). Unset: on when the store is PostgreSQL.
    #[serde(default)]
    pub shared_sessions: Option<bool>,
}

fn default_rate_per_second() -> u32 {
    okienko_channels::WebChatConfig::default().rate_per_second
}

fn default_rate_burst() -> u32 {
    okienko_channels::WebChatConfig::default().rate_burst
}

fn default_chart_font() -> Option<PathBuf> {
    Some(PathBuf::from(okienko_dialog::DEFAULT_CHART_FONT))
}

fn default_view_link_ttl_secs() -> u64 {
    300
}

const TOP_LEVEL_KEYS: [&str; 17] = [
    "audit",
    "bus",
    "checkout",
    "payments",
    "notices",
    "matrix",
    "agents",
    "messenger",
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
                notify_secret_file: None,
            },
            chat: ChatConfig {
                default_lang: "pl".into(),
                timezone: "Europe/Warsaw".into(),
                psu_ip: "127.0.0.1".into(),
                view_link_ttl_secs: default_view_link_ttl_secs(),
                chart_font: default_chart_font(),
                rate_per_second: default_rate_per_second(),
                rate_burst: default_rate_burst(),
                refresh_after_secs: 0,
                shared_sessions: None,
            },
            sync_interval_secs: 6 * 3600,
            master_key_file: None,
            guard: GuardSettings::default(),
            messenger: MessengerSettings::default(),
            matrix: crate::matrix::MatrixSettings::default(),
            agents: crate::agents::AgentsSettings::default(),
            notices: crate::notices::NoticeSettings::default(),
            payments: crate::payments::PaymentSettings::default(),
            checkout: crate::checkout::CheckoutSettings::default(),
            bus: okienko_bus::BusSettings::default(),
            audit: AuditSettings::default(),
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
        anyhow::ensure!(
            (10..=3600).contains(&self.chat.view_link_ttl_secs),
            "chat.view_link_ttl_secs must be between 10 and 3600"
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
        self.messenger.validate()?;
        anyhow::ensure!(
            self.chat.rate_per_second >= 1 && self.chat.rate_burst >= 1,
            "chat.rate_per_second and chat.rate_burst must be at least 1"
        );
        anyhow::ensure!(
            self.chat.refresh_after_secs <= 3600,
            "chat.refresh_after_secs must be at most 3600"
        );
        self.notices.validate()?;
        self.payments.validate()?;
        self.matrix.validate()?;
        self.bus.validate()?;
        Ok(())
    }

    pub fn master_key_file(&self) -> PathBuf {
        self.master_key_file
            .clone()
            .unwrap_or_else(|| self.data_dir.join("master.key"))
    }

    pub fn audit_head_file(&self) -> PathBuf {
        self.audit
            .head_file
            .clone()
            .unwrap_or_else(|| self.data_dir.join("audit.head"))
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
