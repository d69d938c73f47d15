//! Wiring of live fraud warnings and bank warnings: the scorer (model when configured, else the
//! hard rules alone), the watcher on the bank link's events, the conversation wrapper that takes
//! the answers, and the admin route. Bank warnings go to the customer's chosen channel (one
//! outbox per running channel, as for notices).

use std::sync::Arc;

use anyhow::Context;
use okienko_bank::BankLink;
use okienko_core::Clock;
use okienko_dialog::fraud::{FraudConfig, FraudReplies, FraudWatcher, QuietHours};
use okienko_dialog::{Conversation, Engine, Outbox};
use okienko_privacy::{FraudBook, NoticeLedger, PrivacyGate};
use okienko_risk::{LiveScorer, RuleSet};
use okienko_store::Store;

use crate::config::Config;

/// Builds and starts the fraud watcher.
#[allow(clippy::too_many_arguments)]
pub fn start(
    cfg: &Config,
    store: &Store,
    gate: PrivacyGate,
    bank: BankLink,
    outbox: Arc<dyn Outbox>,
    channels: Vec<(String, Arc<dyn Outbox>)>,
    engine: Arc<Engine>,
    clock: Arc<dyn Clock>,
    jobs: &crate::leader::Jobs,
) -> anyhow::Result<Arc<FraudWatcher>> {
    let g = &cfg.guard;
    let rules = RuleSet::default_rules().context("loading the fraud rules")?;
    let scorer = match &g.model_file {
        Some(path) => {
            let s = LiveScorer::from_model_file(path, rules)
                .with_context(|| format!("loading the risk model {}", path.display()))?;
            tracing::info!(
                rules_version = s.rules_version(),
                "fraud scoring: trained model and hard rules"
            );
            s
        }
        None => {
            let s = LiveScorer::rules_only(rules);
            tracing::info!(
                rules_version = s.rules_version(),
                "fraud scoring: hard rules alone (no guard.model_file configured)"
            );
            s
        }
    };
    let quiet = QuietHours::parse(&g.quiet_hours)
        .context("guard.quiet_hours must look like 22:00-07:00")?;
    anyhow::ensure!(
        (0.0..=1.0).contains(&g.warn_score),
        "guard.warn_score must be between 0 and 1"
    );
    let timezone: chrono_tz::Tz = cfg
        .chat
        .timezone
        .parse()
        .map_err(|_| anyhow::anyhow!("chat.timezone is not an IANA time zone"))?;
    let watcher = FraudWatcher::new(
        gate,
        FraudBook::new(store.clone()),
        NoticeLedger::new(store.clone()),
        bank,
        scorer,
        outbox,
        channels,
        engine,
        clock,
        FraudConfig {
            timezone,
            quiet_hours: Some(quiet),
            warn_score: g.warn_score,
            monthly_false_alarms: g.monthly_false_alarms,
            // Held warnings (quiet hours over) are checked as often as held notices.
            tick: std::time::Duration::from_secs(cfg.notices.tick_secs),
            ..FraudConfig::default()
        },
    );
    let w = watcher.clone();
    jobs.add(move |stop| w.spawn(stop));
    Ok(watcher)
}

/// The conversation channels talk to: fraud answers first, then `inner`.
pub fn wrap(inner: Arc<dyn Conversation>, watcher: &Arc<FraudWatcher>) -> Arc<dyn Conversation> {
    FraudReplies::new(inner, watcher.clone())
}

/// `POST /admin/warnings` when `guard.admin_token` is set.
pub fn routes(cfg: &Config, watcher: &Arc<FraudWatcher>) -> axum::Router {
    okienko_server::admin::routes(cfg.guard.admin_token.clone(), watcher.clone())
}
