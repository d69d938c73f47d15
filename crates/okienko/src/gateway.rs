//! Starts the gateway: store, bank link, privacy gate, conversation engine, web chat, HTTP.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use okienko_bank::{BankLink, LinkConfig, NextGenPsd2Connector, SyncWorker};
use okienko_channels::WebChatConfig;
use okienko_core::{Clock, Lang, SystemClock};
use okienko_dialog::{Engine, EngineConfig};
use okienko_privacy::PrivacyGate;
use okienko_store::Store;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::config::Config;

/// A gateway that is serving.
pub struct RunningGateway {
    pub url: String,
    pub task: JoinHandle<std::io::Result<()>>,
    /// Human handover (the console's staff accounts are created through it).
    pub handover: Arc<okienko_agents::Handover>,
    /// The event bus (`[bus]`): in-process unless NATS JetStream is configured.
    pub bus: Arc<dyn okienko_bus::EventBus>,
    /// The conversation engine (tests drive two instances' engines directly).
    pub engine: Arc<Engine>,
}

/// Connects everything and serves on `listener` until `shutdown` turns true.
pub async fn start(
    cfg: &Config,
    listener: TcpListener,
    shutdown: watch::Receiver<bool>,
) -> anyhow::Result<RunningGateway> {
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let store_url = cfg.store_url();
    if store_url.starts_with("sqlite:") {
        std::fs::create_dir_all(&cfg.data_dir)
            .with_context(|| format!("creating data dir {}", cfg.data_dir.display()))?;
    }
    let key_file = cfg.master_key_file();
    let keyring = okienko_store::Keyring::from_file_or_create(&key_file)
        .with_context(|| format!("loading the master key file {}", key_file.display()))?;
    let store = Store::connect(&store_url, keyring)
        .await
        .context("opening the store")?;
    let bus = cfg
        .bus
        .connect()
        .await
        .context("connecting the event bus")?;
    let connector = NextGenPsd2Connector::new(
        &cfg.bank.base_url,
        &cfg.bank.client_id,
        Duration::from_secs(cfg.bank.timeout_secs),
    )
    .context("building the bank connector")?;
    let local = listener.local_addr()?;
    // Without a configured public URL, the bank sends customers back to the address we bound.
    let public_url = match &cfg.public_url {
        Some(u) => u.trim_end_matches('/').to_owned(),
        None => format!("http://{local}"),
    };
    // Bank pushes (issue 5): asked for on each new consent when a shared secret is configured.
    let notify_secret = crate::bank_notify::secret(cfg)?;
    let connector = connector.with_notification_uri(crate::bank_notify::notification_uri(
        &notify_secret,
        &public_url,
    ));
    let bank = BankLink::new(
        store.clone(),
        Arc::new(connector),
        LinkConfig {
            bank: cfg.bank.name.clone(),
            redirect_uri: format!("{public_url}/consent/callback"),
            valid_days: cfg.bank.consent_days,
            frequency_per_day: cfg.bank.frequency_per_day,
        },
        clock.clone(),
    );
    let head_file = cfg.audit_head_file();
    if let Some(dir) = head_file.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).with_context(|| {
            format!("creating the audit head file's directory {}", dir.display())
        })?;
    }
    let gate = PrivacyGate::try_new(store.clone(), clock.clone())
        .context("loading the privacy policies")?
        .with_audit_head_file(head_file);
    let default_lang: Lang = cfg.chat.default_lang.parse()?;
    let timezone: chrono_tz::Tz = cfg
        .chat
        .timezone
        .parse()
        .map_err(|_| anyhow::anyhow!("chat.timezone is not an IANA time zone"))?;
    // In memory, or (several instances) with its sessions in the store and deliveries on the bus.
    let webchat = crate::webchat::build(
        cfg,
        &store,
        &bus,
        WebChatConfig {
            default_lang,
            rate_per_second: cfg.chat.rate_per_second,
            rate_burst: cfg.chat.rate_burst,
            ..WebChatConfig::default()
        },
        shutdown.clone(),
    )
    .await?;
    let guard = okienko_guard::Guard::new(okienko_guard::GuardConfig {
        known_bad_files: cfg.guard.known_bad_files.clone(),
        ..okienko_guard::GuardConfig::default()
    })
    .context("loading the guard's lists")?;
    let messenger =
        crate::messenger::build(&cfg.messenger, clock.clone(), &public_url, &store).await?;
    let matrix = crate::matrix::build(cfg)?;
    let engine = Engine::new(
        gate.clone(),
        bank.clone(),
        Arc::new(guard),
        crate::matrix::outbox(&webchat, messenger.as_ref(), matrix.as_ref()),
        clock.clone(),
        EngineConfig {
            timezone,
            default_lang,
            psu_ip: cfg.chat.psu_ip.clone(),
            retry_after: Duration::from_secs(cfg.bank.retry_after_secs),
            view: okienko_dialog::ViewConfig {
                base_url: public_url.clone(),
                ttl: Duration::from_secs(cfg.chat.view_link_ttl_secs),
            },
            chart_font: cfg.chat.chart_font.clone(),
            refresh_after: Duration::from_secs(cfg.chat.refresh_after_secs),
        },
    );
    // Conversation state lives in the store too, so any instance continues any conversation.
    engine.set_conversations(crate::conversations::store_backed(&store));
    let bank_jobs = crate::leader::Jobs::new(crate::leader::BANK_EVENTS_LEASE);
    let payment_jobs = crate::leader::Jobs::new(crate::leader::PAYMENTS_LEASE);
    let notices = crate::notices::start(
        cfg,
        &store,
        gate.clone(),
        &bank,
        crate::matrix::outbox(&webchat, messenger.as_ref(), matrix.as_ref()),
        &webchat,
        messenger.as_ref(),
        matrix.as_ref(),
        engine.clone(),
        clock.clone(),
        &bank_jobs,
    )?;
    crate::payments::start(
        &cfg.payments,
        &store,
        gate.clone(),
        Arc::new(
            NextGenPsd2Connector::new(
                &cfg.bank.base_url,
                &cfg.bank.client_id,
                Duration::from_secs(cfg.bank.timeout_secs),
            )
            .context("building the bank's payment client")?,
        ),
        engine.clone(),
        crate::matrix::outbox(&webchat, messenger.as_ref(), matrix.as_ref()),
        clock.clone(),
        timezone,
        &cfg.chat.psu_ip,
        &public_url,
        &payment_jobs,
    )?;
    let fraud = crate::fraud::start(
        cfg,
        &store,
        gate.clone(),
        bank.clone(),
        crate::matrix::outbox(&webchat, messenger.as_ref(), matrix.as_ref()),
        crate::notices::channel_outboxes(&webchat, messenger.as_ref(), matrix.as_ref()),
        engine.clone(),
        clock,
        &bank_jobs,
    )?;
    // Issue 9: new transactions and consent changes travel on the bus between instances.
    crate::bus_events::feed_watchers(&bus, &bank, &fraud, &notices, &bank_jobs);
    // What waits in the store's bus outbox (this instance's or one that died) goes out from here.
    crate::outbox::spawn(
        store.clone(),
        bus.clone(),
        crate::outbox::RelayOptions::default(),
        shutdown.clone(),
    );
    crate::bus_events::share_consent_changes(&store, bus.clone(), gate.clone(), shutdown.clone());
    crate::bus_events::refresh_after_payments(bus.clone(), engine.clone(), shutdown.clone());
    // Channels talk to the handover, which passes to the bot whatever people do not own.
    let handover = crate::agents::start(
        engine.clone(),
        gate,
        crate::matrix::outbox(&webchat, messenger.as_ref(), matrix.as_ref()),
        crate::agents::config(cfg, &public_url)?,
    );
    // Issue 9: consoles on every instance see every instance's support conversations.
    okienko_agents::relay::spawn(handover.clone(), bus.clone(), shutdown.clone());
    webchat.attach(crate::agents::conversation(&handover, &fraud));
    if let Some(m) = &messenger {
        m.attach(crate::agents::conversation(&handover, &fraud));
    }
    // Matrix talks to the handover too, so a Matrix customer can reach an agent.
    crate::matrix::start(
        matrix.as_ref(),
        crate::agents::conversation(&handover, &fraud),
        shutdown.clone(),
    );
    let notify_routes = crate::bank_notify::routes(notify_secret, &bank);
    let sync_every = Duration::from_secs(cfg.sync_interval_secs.max(60));
    bank_jobs.add(move |stop| SyncWorker::spawn(bank.clone(), sync_every, stop));
    // Run-once jobs: each set runs only while this instance holds its lease (always, on SQLite).
    bank_jobs.spawn(store.clone(), shutdown.clone(), crate::leader::RETRY);
    payment_jobs.spawn(store.clone(), shutdown.clone(), crate::leader::RETRY);
    // The agent console rides behind the same layers as the channels.
    let routes = crate::messenger::routes(messenger)
        .merge(crate::agents::routes(&handover))
        .merge(crate::fraud::routes(cfg, &fraud))
        .merge(notify_routes)
        .merge(crate::payments::routes())
        .merge(crate::checkout::start(
            &cfg.checkout,
            &cfg.data_dir,
            &engine,
        )?);
    let router = okienko_server::router_with(engine.clone(), webchat, routes);
    let url = format!("http://{local}");
    let mut stop = shutdown;
    let task = tokio::spawn(okienko_server::serve(listener, router, async move {
        let _ = stop.wait_for(|s| *s).await;
    }));
    Ok(RunningGateway {
        url,
        task,
        handover,
        bus,
        engine,
    })
}
