//! Wiring of proactive notices (issue 10): the notice watcher on the bank link's events, with
//! the daily digest hour from `[notices]` and one outbox per channel (web chat, Messenger and
//! Matrix when they run) so a customer's channel choice is honoured; a chosen channel that does
//! not run falls back to every open chat.

use std::sync::Arc;
use std::time::Duration;

use okienko_bank::BankLink;
use okienko_channels::{ChannelAdapter, Messenger, Outboxes, WebChat};
use okienko_core::Clock;
use okienko_dialog::fraud::CustomerLang;
use okienko_dialog::notices::{NoticeConfig, NoticeOutboxes, NoticeWatcher};
use okienko_dialog::{Engine, Outbox};
use okienko_privacy::{NoticeBook, PrivacyGate};
use okienko_store::Store;
use serde::{Deserialize, Serialize};

use crate::config::Config;

/// `[notices]`: when the daily digest goes out and how often due notices are checked.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct NoticeSettings {
    /// Local hour (0–23, in `chat.timezone`) of the daily digest of non-urgent notices.
    pub digest_hour: u32,
    /// Minute (0–59) past `digest_hour`.
    pub digest_minute: u32,
    /// Seconds between checks for due notices (quiet hours ended, digest time).
    pub tick_secs: u64,
}

impl Default for NoticeSettings {
    fn default() -> Self {
        NoticeSettings {
            digest_hour: 18,
            digest_minute: 0,
            tick_secs: 30,
        }
    }
}

impl NoticeSettings {
    pub fn validate(&self) -> anyhow::Result<()> {
        anyhow::ensure!(
            self.digest_hour <= 23,
            "notices.digest_hour must be between 0 and 23"
        );
        anyhow::ensure!(
            self.digest_minute <= 59,
            "notices.digest_minute must be between 0 and 59"
        );
        anyhow::ensure!(
            (1..=3600).contains(&self.tick_secs),
            "notices.tick_secs must be between 1 and 3600"
        );
        Ok(())
    }
}

/// One outbox per running channel, by the names alert settings use ("web_chat", "messenger",
/// "matrix"): notices and bank warnings go to the customer's chosen one.
pub fn channel_outboxes(
    webchat: &WebChat,
    messenger: Option<&Messenger>,
    matrix: Option<&crate::matrix::Bot>,
) -> Vec<(String, Arc<dyn Outbox>)> {
    let one = |c: Arc<dyn ChannelAdapter>| -> Arc<dyn Outbox> { Arc::new(Outboxes::new(vec![c])) };
    let mut by_channel = vec![("web_chat".to_owned(), one(Arc::new(webchat.clone())))];
    if let Some(m) = messenger {
        by_channel.push(("messenger".to_owned(), one(Arc::new(m.clone()))));
    }
    // "Powiadamiaj mnie na Matrixie": the bot's rooms, when the Matrix channel runs.
    #[cfg(feature = "matrix")]
    if let Some(b) = matrix {
        by_channel.push(("matrix".to_owned(), one(Arc::new(b.clone()))));
    }
    #[cfg(not(feature = "matrix"))]
    let _ = matrix;
    by_channel
}

/// Builds and starts the notice watcher.
#[allow(clippy::too_many_arguments)]
pub fn start(
    cfg: &Config,
    store: &Store,
    gate: PrivacyGate,
    bank: &BankLink,
    all: Arc<dyn Outbox>,
    webchat: &WebChat,
    messenger: Option<&Messenger>,
    matrix: Option<&crate::matrix::Bot>,
    engine: Arc<Engine>,
    clock: Arc<dyn Clock>,
    jobs: &crate::leader::Jobs,
) -> anyhow::Result<Arc<NoticeWatcher>> {
    let s = &cfg.notices;
    s.validate()?;
    let timezone: chrono_tz::Tz = cfg
        .chat
        .timezone
        .parse()
        .map_err(|_| anyhow::anyhow!("chat.timezone is not an IANA time zone"))?;
    let by_channel = channel_outboxes(webchat, messenger, matrix);
    let langs: Arc<dyn CustomerLang> = engine;
    let watcher = NoticeWatcher::new(
        gate,
        NoticeBook::new(store.clone()),
        NoticeOutboxes { all, by_channel },
        langs,
        clock,
        NoticeConfig {
            timezone,
            digest_hour: s.digest_hour,
            digest_minute: s.digest_minute,
            tick: Duration::from_secs(s.tick_secs),
        },
    );
    let (w, bank) = (watcher.clone(), bank.clone());
    jobs.add(move |stop| w.spawn(bank.subscribe(), stop));
    Ok(watcher)
}
