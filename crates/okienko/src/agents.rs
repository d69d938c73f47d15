//! Wiring of human handover: the `[agents]` settings, the handover wrapper around the engine,
//! the SLA worker, the console's routes, and the demo's staff accounts.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use chrono::NaiveTime;
use okienko_agents::{AgentsConfig, BusinessHours, Handover};
use okienko_dialog::fraud::{FraudReplies, FraudWatcher};
use okienko_dialog::{Conversation, Engine, Outbox};
use okienko_privacy::PrivacyGate;
use okienko_privacy::support::{StaffRole, SupportDesk, SupportError};
use serde::{Deserialize, Serialize};

/// `[agents]`: the support desk of the bank in `[bank]`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AgentsSettings {
    /// The queue new handovers go to.
    pub default_team: String,
    /// Seconds a customer may wait before the conversation is escalated to supervisors.
    pub sla_secs: u64,
    /// Handling minutes per customer ahead, for the estimate shown to the customer.
    pub minutes_per_customer: u32,
    /// Business hours; without them staff answer at any hour.
    pub hours: Option<HoursSettings>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HoursSettings {
    /// Weekdays, 1 = Monday … 7 = Sunday.
    pub days: Vec<u32>,
    /// "08:00"
    pub open: String,
    /// "20:00"
    pub close: String,
    /// IANA zone; defaults to `chat.timezone`.
    pub timezone: Option<String>,
}

impl Default for AgentsSettings {
    fn default() -> Self {
        AgentsSettings {
            default_team: "general".into(),
            sla_secs: 120,
            minutes_per_customer: 3,
            hours: None,
        }
    }
}

impl AgentsSettings {
    pub fn to_config(&self, bank: &str, chat_tz: &str) -> anyhow::Result<AgentsConfig> {
        let hours = match &self.hours {
            None => None,
            Some(h) => {
                let time = |s: &str, key| {
                    NaiveTime::parse_from_str(s, "%H:%M")
                        .with_context(|| format!("agents.hours.{key} must be HH:MM"))
                };
                anyhow::ensure!(
                    !h.days.is_empty() && h.days.iter().all(|d| (1..=7).contains(d)),
                    "agents.hours.days must list weekdays 1..7"
                );
                let tz = h.timezone.as_deref().unwrap_or(chat_tz);
                Some(BusinessHours {
                    days: h.days.clone(),
                    open: time(&h.open, "open")?,
                    close: time(&h.close, "close")?,
                    timezone: tz.parse().map_err(|_| {
                        anyhow::anyhow!("agents.hours.timezone is not an IANA zone")
                    })?,
                })
            }
        };
        Ok(AgentsConfig {
            bank: bank.to_owned(),
            default_team: self.default_team.clone(),
            hours,
            sla: Duration::from_secs(self.sla_secs.max(1)),
            minutes_per_customer: self.minutes_per_customer.max(1),
            ..AgentsConfig::default()
        })
    }
}

/// The handover's settings for the gateway: `[agents]` for the bank in `[bank]`, and a `Secure`
/// console cookie when the gateway's public URL is https.
pub fn config(cfg: &crate::config::Config, public_url: &str) -> anyhow::Result<AgentsConfig> {
    let mut c = cfg.agents.to_config(&cfg.bank.name, &cfg.chat.timezone)?;
    c.secure_cookie = public_url.starts_with("https://");
    Ok(c)
}

/// What the channels (web chat, Messenger) attach: fraud answers first, and a fraud case goes
/// to the agents' queue; everything else to the handover, which passes to the bot whatever
/// people do not own.
pub fn conversation(handover: &Arc<Handover>, fraud: &Arc<FraudWatcher>) -> Arc<dyn Conversation> {
    FraudReplies::with_escalation(handover.clone(), fraud.clone(), handover.clone())
}

/// Wraps the engine in the handover and starts the SLA worker; the channels attach what this
/// returns, and [`routes`] serves its console.
pub fn start(
    engine: Arc<Engine>,
    gate: PrivacyGate,
    outbox: Arc<dyn Outbox>,
    config: AgentsConfig,
) -> Arc<Handover> {
    let handover = Handover::new(engine, SupportDesk::new(gate), outbox, config);
    handover.spawn_sla_worker();
    handover
}

/// The agent console's routes (`/agent`…).
pub fn routes(handover: &Arc<Handover>) -> axum::Router {
    okienko_agents::console::router(handover.clone())
}

/// The demo's staff: printed by `okienko demo`.
pub const DEMO_STAFF: [(&str, &str, StaffRole, &str); 3] = [
    ("agent", "Ola (konsultantka)", StaffRole::Agent, "general"),
    ("agent2", "Jan (konsultant)", StaffRole::Agent, "general"),
    (
        "supervisor",
        "Ewa (kierowniczka)",
        StaffRole::Supervisor,
        "general",
    ),
];
pub const DEMO_STAFF_PASSWORD: &str = "demo";

/// Creates the demo staff accounts unless they exist.
pub async fn seed_demo_staff(handover: &Handover) -> anyhow::Result<()> {
    let bank = handover.config().bank.clone();
    for (username, name, role, team) in DEMO_STAFF {
        match handover
            .desk()
            .add_staff(&bank, username, name, role, team, DEMO_STAFF_PASSWORD)
            .await
        {
            Ok(_) | Err(SupportError::UsernameTaken) => {}
            Err(e) => return Err(e).context("creating the demo staff"),
        }
    }
    Ok(())
}

/// `okienko agents add-staff`: creates a staff account in the configured store. The password is
/// read from the first line of stdin (so it stays out of the shell history and `ps`).
pub async fn add_staff_cli(
    config: Option<&std::path::Path>,
    bank: &str,
    role: &str,
    username: &str,
    name: Option<&str>,
    team: &str,
) -> anyhow::Result<()> {
    use std::io::BufRead;
    let role = StaffRole::parse(role)
        .ok_or_else(|| anyhow::anyhow!("--role must be agent or supervisor"))?;
    let mut password = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut password)
        .context("reading the password from stdin")?;
    let password = password.trim_end_matches(['\r', '\n']);
    let cfg = crate::config::Config::load(config)?;
    if cfg.store_url().starts_with("sqlite:") {
        std::fs::create_dir_all(&cfg.data_dir)
            .with_context(|| format!("creating data dir {}", cfg.data_dir.display()))?;
    }
    let key_file = cfg.master_key_file();
    let keyring = okienko_store::Keyring::from_file_or_create(&key_file)
        .with_context(|| format!("loading the master key file {}", key_file.display()))?;
    let store = okienko_store::Store::connect(&cfg.store_url(), keyring)
        .await
        .context("opening the store")?;
    let gate = PrivacyGate::try_new(store.clone(), Arc::new(okienko_core::SystemClock))
        .context("loading the privacy policies")?;
    let staff = SupportDesk::new(gate)
        .add_staff(
            bank,
            username,
            name.unwrap_or(username),
            role,
            team,
            password,
        )
        .await
        .map_err(|e| anyhow::anyhow!("could not add the staff account: {e}"))?;
    store.close().await;
    println!("{}", serde_json::to_string(&staff)?);
    Ok(())
}
