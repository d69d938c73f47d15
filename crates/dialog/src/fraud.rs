//! Live fraud warnings and bank warnings in the chat.
//!
//! [`FraudWatcher`] listens for the bank link's `NewTransactions` events, reads the customer's
//! transactions through the privacy gate as the system job `fraud_watcher` with purpose
//! `service.fraud_alert`, keeps each customer's risk state in memory (rebuilt from history after
//! a restart), and scores the new transactions with the risk crate's live scorer. A suspicious
//! transaction opens a fraud episode (persisted through `okienko_privacy::FraudBook`), which warns
//! once: "Czy to Ty? …" with "Tak, to ja" / "Nie, zablokuj kartę". Low-severity warnings wait out
//! quiet hours and stop once the customer's monthly false-alarm budget is used; high severity
//! always warns. "Nie" blocks the card through the bank link and opens a fraud case.
//!
//! It also delivers bank warnings (scam campaigns) once to every opted-in customer, respecting
//! their alert settings: nobody who turned all notices off gets one, each goes to the channel
//! the customer chose for alerts (else the chat they last wrote from, else every open chat), and
//! quiet hours hold it until they end. Held bank warnings are kept in the store (ids only; the
//! texts are rebuilt from the published warning), so a restart delivers them when the quiet
//! hours end, exactly once (a delivery is claimed in the ledger before it is pushed); held fraud
//! warnings live in their episode (`warn_due_at`) the same way. Fraud warnings about the customer's own account are exempt from "all off"
//! (issue 5 subjects them to quiet hours only, and high severity not even to those).
//!
//! It never logs amounts, merchants or message texts: only ids, counts and decisions.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Datelike, NaiveTime, Offset, TimeZone, Utc};
use chrono_tz::Tz;
use okienko_bank::{BankLink, LinkEvent};
use okienko_core::{Clock, CustomerId, Lang, Transaction, TransactionId, TxFilter, format};
use okienko_privacy::{
    AccessRequest, AlertSettings, AlertSeverity, ChannelInfo, EpisodeId, EpisodeStatus, FraudBook,
    FraudCaseId, FraudEpisode, NoticeLedger, PrivacyGate, PublishedWarning, Purpose,
};
use okienko_risk::{CustomerState, LiveScorer, Severity, Tx};
use tokio::sync::Mutex;

mod watched;
use watched::Watched;

use crate::texts::{self, T};
use crate::{Conversation, Engine, InboundEvent, Outbox, QuickReply, Reply, Sensitivity};

/// The system job name the gate's audit log shows for the watcher's reads.
pub const JOB: &str = "fraud_watcher";
/// Rows per gated read of history.
const PAGE: u32 = 500;
/// Most history read to rebuild one customer's state.
const MAX_HISTORY: u64 = 20_000;
/// Added transactions per gated read by id.
const ADDED_PER_READ: usize = 1_000;

/// Quiet hours in the customer's zone, e.g. 22:00–07:00 (may wrap midnight). Equal start and
/// end means none.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QuietHours {
    pub start: NaiveTime,
    pub end: NaiveTime,
}

impl QuietHours {
    /// Parses "22:00-07:00".
    pub fn parse(s: &str) -> Option<QuietHours> {
        let (a, b) = s.trim().split_once('-')?;
        let t = |x: &str| NaiveTime::parse_from_str(x.trim(), "%H:%M").ok();
        Some(QuietHours {
            start: t(a)?,
            end: t(b)?,
        })
    }

    /// If `now` falls in quiet hours (in `tz`), the instant they end.
    pub fn ends_after(&self, now: DateTime<Utc>, tz: Tz) -> Option<DateTime<Utc>> {
        if self.start == self.end {
            return None;
        }
        let local = now.with_timezone(&tz);
        let t = local.time();
        let inside = if self.start < self.end {
            t >= self.start && t < self.end
        } else {
            t >= self.start || t < self.end
        };
        if !inside {
            return None;
        }
        let mut day = local.date_naive();
        if t >= self.end && self.start > self.end {
            day = day.succ_opt()?;
        }
        let end = tz
            .from_local_datetime(&day.and_time(self.end))
            .earliest()?
            .with_timezone(&Utc);
        Some(end.max(now))
    }
}

/// How the watcher decides.
#[derive(Debug, Clone)]
pub struct FraudConfig {
    pub timezone: Tz,
    pub quiet_hours: Option<QuietHours>,
    /// Scores at or above this open an episode.
    pub warn_score: f32,
    /// Suspicious transactions within this time of the episode's last one belong to it.
    pub episode_window: chrono::Duration,
    /// "Yes, it was me" answers a month before low-severity warnings stop.
    pub monthly_false_alarms: u32,
    /// How often held-back warnings are checked.
    pub tick: Duration,
}

impl Default for FraudConfig {
    fn default() -> Self {
        FraudConfig {
            timezone: format::DEFAULT_TZ,
            quiet_hours: QuietHours::parse("22:00-07:00"),
            warn_score: 0.8,
            episode_window: chrono::Duration::hours(24),
            monthly_false_alarms: 3,
            tick: Duration::from_secs(30),
        }
    }
}

/// What to do with a new episode's warning.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WarnDecision {
    Now,
    /// Quiet hours: send at this instant.
    At(DateTime<Utc>),
    /// Over the false-alarm budget and not severe enough: do not warn.
    Suppress,
}

/// The warning policy: high severity always warns now; low severity is suppressed over the
/// monthly false-alarm budget and otherwise waits out quiet hours.
pub fn warn_decision(
    cfg: &FraudConfig,
    clock: &dyn Clock,
    severity: AlertSeverity,
    false_alarms_this_month: u64,
) -> WarnDecision {
    if severity == AlertSeverity::High {
        return WarnDecision::Now;
    }
    if false_alarms_this_month >= u64::from(cfg.monthly_false_alarms) {
        return WarnDecision::Suppress;
    }
    match cfg
        .quiet_hours
        .and_then(|q| q.ends_after(clock.now(), cfg.timezone))
    {
        Some(at) => WarnDecision::At(at),
        None => WarnDecision::Now,
    }
}

/// The first instant of the customer's current calendar month, in UTC.
pub fn month_start(now: DateTime<Utc>, tz: Tz) -> DateTime<Utc> {
    let local = now.with_timezone(&tz).date_naive();
    local
        .with_day(1)
        .and_then(|d| {
            tz.from_local_datetime(&d.and_time(NaiveTime::MIN))
                .earliest()
        })
        .map(|t| t.with_timezone(&Utc))
        .unwrap_or(now)
}

/// The conversation language of a customer.
#[async_trait]
pub trait CustomerLang: Send + Sync + 'static {
    async fn lang(&self, customer: CustomerId) -> Lang;
}

#[async_trait]
impl CustomerLang for Engine {
    async fn lang(&self, customer: CustomerId) -> Lang {
        self.customer_lang(customer).await
    }
}

/// A bank warning as an analyst publishes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notice {
    pub id: String,
    pub text_pl: String,
    pub text_en: String,
    pub bank: String,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum NoticeError {
    #[error("invalid field {0}: {1}")]
    Invalid(&'static str, &'static str),
    #[error("storage failed")]
    Store,
}

impl Notice {
    /// Lengths and characters: ids are short tokens, texts are 1..=2000 characters without
    /// control characters other than line breaks.
    pub fn validate(&self) -> Result<(), NoticeError> {
        let token = |v: &str, f: &'static str| {
            if v.is_empty() || v.len() > 100 {
                return Err(NoticeError::Invalid(f, "must be 1 to 100 characters"));
            }
            if !v
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | ':'))
            {
                return Err(NoticeError::Invalid(
                    f,
                    "only letters, digits and - _ . : are allowed",
                ));
            }
            Ok(())
        };
        token(&self.id, "id")?;
        token(&self.bank, "bank")?;
        for (v, f) in [(&self.text_pl, "text_pl"), (&self.text_en, "text_en")] {
            let n = v.trim().chars().count();
            if n == 0 || n > 2000 {
                return Err(NoticeError::Invalid(f, "must be 1 to 2000 characters"));
            }
            if v.chars().any(|c| c.is_control() && c != '\n') {
                return Err(NoticeError::Invalid(f, "must not hold control characters"));
            }
        }
        Ok(())
    }
}

/// What one publish did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct NoticeReport {
    pub delivered: u32,
    pub already_had_it: u32,
    /// Customers in their quiet hours: delivered when those end.
    pub held: u32,
    /// Customers who turned all notices off: not delivered.
    pub skipped_all_off: u32,
}

/// Publishes bank warnings; the admin route talks to this.
#[async_trait]
pub trait NoticePublisher: Send + Sync + 'static {
    async fn publish(&self, notice: Notice) -> Result<NoticeReport, NoticeError>;
}

pub struct FraudWatcher {
    gate: PrivacyGate,
    book: FraudBook,
    notices: NoticeLedger,
    bank: BankLink,
    scorer: LiveScorer,
    outbox: Arc<dyn Outbox>,
    /// One outbox per channel ("web_chat", "messenger", "matrix"), for bank warnings that go to
    /// the customer's chosen channel.
    channels: Vec<(String, Arc<dyn Outbox>)>,
    /// The channel each customer last wrote from (in memory: after a restart, until they write
    /// again, a held warning goes where it was meant to when held, else to every open chat).
    last_channel: std::sync::Mutex<HashMap<CustomerId, &'static str>>,
    langs: Arc<dyn CustomerLang>,
    clock: Arc<dyn Clock>,
    config: FraudConfig,
    /// Risk state per customer; rebuilt from history when missing.
    states: Mutex<HashMap<CustomerId, Watched>>,
    /// One scoring or answer at a time per process, so an episode is never opened twice.
    serial: Mutex<()>,
    /// Itself, for the timers that send held bank warnings on any instance (the tick loop runs
    /// only where the watcher holds its lease).
    me: std::sync::Weak<FraudWatcher>,
}

/// Whether the bank's text says the card was not present (online). The sandbox and Polish
/// banks print "INTERNET"; others "ONLINE", "E-COMMERCE" or "CNP". A card payment otherwise
/// counts as present; transfers say nothing.
fn card_present(description: &str) -> Option<bool> {
    let d = description.to_uppercase();
    if ["INTERNET", "ONLINE", "E-COMMERCE", " CNP"]
        .iter()
        .any(|k| d.contains(k))
    {
        Some(false)
    } else if ["KARTA", "CARD", "POS "].iter().any(|k| d.contains(k)) {
        Some(true)
    } else {
        None
    }
}

impl FraudWatcher {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        gate: PrivacyGate,
        book: FraudBook,
        notices: NoticeLedger,
        bank: BankLink,
        scorer: LiveScorer,
        outbox: Arc<dyn Outbox>,
        channels: Vec<(String, Arc<dyn Outbox>)>,
        langs: Arc<dyn CustomerLang>,
        clock: Arc<dyn Clock>,
        config: FraudConfig,
    ) -> Arc<FraudWatcher> {
        Arc::new_cyclic(|me| FraudWatcher {
            gate,
            book,
            notices,
            bank,
            scorer,
            outbox,
            channels,
            last_channel: std::sync::Mutex::new(HashMap::new()),
            langs,
            clock,
            config,
            states: Mutex::new(HashMap::new()),
            serial: Mutex::new(()),
            me: me.clone(),
        })
    }

    /// Listens for new transactions and sends held-back warnings when due, until `shutdown`.
    pub fn spawn(
        self: &Arc<Self>,
        mut shutdown: tokio::sync::watch::Receiver<bool>,
    ) -> tokio::task::JoinHandle<()> {
        let me = self.clone();
        let mut events = self.bank.subscribe();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(me.config.tick.max(Duration::from_millis(100)));
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tokio::select! {
                    ev = events.recv() => match ev {
                        Ok(LinkEvent::NewTransactions { customer, added, first_sync, .. }) => {
                            if let Err(e) = me.on_new(customer, &added, first_sync).await {
                                tracing::warn!(%customer, error = %e, "fraud scoring failed");
                            }
                        }
                        Ok(_) => {}
                        Err(tokio::sync::broadcast::error::RecvError::Lagged(n)) => {
                            tracing::warn!(missed = n, "fraud watcher missed link events");
                        }
                        Err(tokio::sync::broadcast::error::RecvError::Closed) => break,
                    },
                    _ = tick.tick() => me.deliver_due().await,
                    changed = shutdown.changed() => {
                        if changed.is_err() || *shutdown.borrow() {
                            break;
                        }
                    }
                }
            }
            tracing::info!("fraud watcher stopped");
        })
    }

    /// The configuration for one customer: quiet hours from their alert settings when set.
    async fn config_for(&self, customer: CustomerId) -> FraudConfig {
        let settings = self.alert_settings(customer).await;
        self.config_with(&settings)
    }

    fn config_with(&self, settings: &AlertSettings) -> FraudConfig {
        let mut cfg = self.config.clone();
        if let Some(q) = settings.quiet {
            cfg.quiet_hours = Some(QuietHours {
                start: q.start,
                end: q.end,
            });
        }
        cfg
    }

    /// The customer's alert settings; the defaults (nothing off, no own quiet hours) when they
    /// cannot be read, so a storage hiccup never silences a warning.
    async fn alert_settings(&self, customer: CustomerId) -> AlertSettings {
        match self.gate.alert_book().get(customer).await {
            Ok(s) => s,
            Err(e) => {
                tracing::warn!(%customer, error = %e, "reading alert settings failed; defaults used");
                AlertSettings::default()
            }
        }
    }

    /// Where a bank warning for `customer` goes now, by their alert settings.
    fn notice_route(&self, settings: &AlertSettings, now: DateTime<Utc>) -> NoticeRoute {
        if settings.all_off {
            return NoticeRoute::AllOff;
        }
        let cfg = self.config_with(settings);
        match cfg
            .quiet_hours
            .and_then(|q| q.ends_after(now, cfg.timezone))
        {
            Some(at) => NoticeRoute::HoldUntil(at),
            None => NoticeRoute::Now,
        }
    }

    /// Records the channel a customer just wrote from.
    pub fn saw(&self, customer: CustomerId, channel: &'static str) {
        let mut last = match self.last_channel.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        };
        if last.get(&customer) != Some(&channel) {
            last.insert(customer, channel);
        }
    }

    /// The channel a customer last wrote from (since this process started).
    pub fn last_channel(&self, customer: CustomerId) -> Option<&'static str> {
        match self.last_channel.lock() {
            Ok(g) => g.get(&customer).copied(),
            Err(p) => p.into_inner().get(&customer).copied(),
        }
    }

    fn channel_outbox(&self, name: &str) -> Option<&Arc<dyn Outbox>> {
        self.channels
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, o)| o)
    }

    /// The channel a bank warning for `customer` goes to: the one they chose in their alert
    /// settings; without a choice (or when the chosen channel does not run here), the chat they
    /// last wrote from, else (after a restart) the one the warning was meant for when it was
    /// held (`held_for`); `None` = every open chat.
    fn notice_channel(
        &self,
        customer: CustomerId,
        settings: &AlertSettings,
        held_for: Option<&str>,
    ) -> Option<String> {
        let last = self.last_channel(customer);
        [settings.channel.as_deref(), last, held_for]
            .into_iter()
            .flatten()
            .find(|c| self.channel_outbox(c).is_some())
            .map(str::to_owned)
    }

    /// Claims and pushes one bank warning to `channel` (every open chat when `None`); false when
    /// the customer already had it.
    async fn send_notice(
        &self,
        n: &Notice,
        customer: CustomerId,
        now: DateTime<Utc>,
        channel: Option<&str>,
    ) -> Result<bool, NoticeError> {
        if !self
            .notices
            .claim(&n.id, customer, now)
            .await
            .map_err(|_| NoticeError::Store)?
        {
            return Ok(false);
        }
        let lang = self.langs.lang(customer).await;
        let text = match lang {
            Lang::Pl => &n.text_pl,
            Lang::En => &n.text_en,
        };
        let title = texts::BANK_NOTICE.pick(lang);
        let outbox = channel
            .and_then(|c| self.channel_outbox(c))
            .unwrap_or(&self.outbox);
        outbox.push(customer, Reply::text(format!("{title}\n{}", text.trim())));
        tracing::info!(%customer, notice = %n.id, channel = channel.unwrap_or("all"), "bank warning sent");
        Ok(true)
    }

    /// Sends the held bank warnings whose quiet hours ended (again by the settings of now: a
    /// customer who turned everything off meanwhile, or withdrew their consent, does not get
    /// them). The held rows live in the store, so this works after a restart too; each warning
    /// is claimed before it is sent and its row deleted after, so it goes out once.
    async fn deliver_held_notices(&self, now: DateTime<Utc>) {
        let due = match self.notices.held_due(now, 500).await {
            Ok(d) => d,
            Err(e) => {
                tracing::warn!(error = %e, "reading held bank warnings failed");
                return;
            }
        };
        let mut opted: HashMap<String, Vec<CustomerId>> = HashMap::new();
        for h in due {
            let (customer, id) = (h.customer, h.notice.as_str());
            let published = match self.notices.published(id).await {
                Ok(p) => p,
                Err(e) => {
                    tracing::warn!(%customer, notice = %id, error = %e, "reading a held bank warning failed");
                    continue;
                }
            };
            let Some(p) = published else {
                let _ = self.notices.unhold(id, customer).await;
                continue;
            };
            if !opted.contains_key(&p.bank) {
                match self.notices.opted_in(&p.bank).await {
                    Ok(list) => {
                        opted.insert(p.bank.clone(), list);
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "reading opted-in customers failed");
                        continue;
                    }
                }
            }
            if !opted.get(&p.bank).is_some_and(|l| l.contains(&customer)) {
                tracing::info!(%customer, notice = %id, "held bank warning dropped: no longer opted in");
                let _ = self.notices.unhold(id, customer).await;
                continue;
            }
            let settings = self.alert_settings(customer).await;
            match self.notice_route(&settings, now) {
                NoticeRoute::AllOff => {
                    tracing::info!(%customer, notice = %id, "held bank warning dropped: all notices off");
                    let _ = self.notices.unhold(id, customer).await;
                }
                NoticeRoute::HoldUntil(at) => {
                    // Quiet hours changed meanwhile: wait for the new end.
                    if let Err(e) = self.notices.hold_until(id, customer, at).await {
                        tracing::warn!(%customer, notice = %id, error = %e, "rescheduling a held bank warning failed");
                    }
                }
                NoticeRoute::Now => {
                    let n = Notice {
                        id: p.id.clone(),
                        text_pl: p.text_pl.clone(),
                        text_en: p.text_en.clone(),
                        bank: p.bank.clone(),
                    };
                    let channel = self.notice_channel(customer, &settings, h.channel.as_deref());
                    match self
                        .send_notice(&n, customer, now, channel.as_deref())
                        .await
                    {
                        Ok(sent) => {
                            if sent {
                                tracing::info!(%customer, notice = %id, "held bank warning sent");
                            }
                            let _ = self.notices.unhold(id, customer).await;
                        }
                        Err(e) => {
                            tracing::warn!(%customer, notice = %id, error = %e, "held bank warning not sent");
                        }
                    }
                }
            }
        }
    }

    fn req(&self, customer: CustomerId) -> AccessRequest {
        AccessRequest::system(JOB, customer, Purpose::ServiceFraudAlert)
    }

    /// The customer's transactions through the gate, oldest first.
    async fn history(&self, customer: CustomerId) -> Result<Vec<Transaction>, WatchError> {
        let mut all = Vec::new();
        let mut offset = 0u64;
        loop {
            let page = self
                .gate
                .transactions(&self.req(customer), &TxFilter::default(), offset, PAGE)
                .await
                .map_err(|e| WatchError(e.to_string()))?
                .into_data();
            let n = page.transactions.len() as u64;
            all.extend(page.transactions);
            offset += n;
            if n == 0 || offset >= page.total || offset >= MAX_HISTORY {
                break;
            }
        }
        all.sort_by_key(|t| t.date);
        Ok(all)
    }

    fn to_tx(&self, t: &Transaction) -> Option<Tx> {
        if !t.amount.is_negative() {
            return None;
        }
        let noon = NaiveTime::from_hms_opt(12, 0, 0).unwrap_or(NaiveTime::MIN);
        let ts = self
            .config
            .timezone
            .from_local_datetime(&t.date.and_time(noon))
            .earliest()?
            .with_timezone(&Utc);
        let mut tx = Tx::new(ts, t.amount.amount());
        let offset = ts
            .with_timezone(&self.config.timezone)
            .offset()
            .fix()
            .local_minus_utc();
        tx.utc_offset_secs = offset;
        tx.merchant = t.merchant.clone();
        tx.category = t.category.clone();
        tx.card_present = card_present(&t.raw_description);
        Some(tx)
    }

    /// Scores what a sync added. The first sync of a link (or a customer never seen) only builds
    /// the baseline: two years of history arriving at once is not news.
    pub async fn on_new(
        &self,
        customer: CustomerId,
        added: &[TransactionId],
        first_sync: bool,
    ) -> Result<u32, WatchError> {
        let _one = self.serial.lock().await;
        let baseline = self
            .book
            .baseline(customer)
            .await
            .map_err(WatchError::store)?;
        if added.is_empty() && !first_sync && baseline.is_some() {
            // Only bookings of transactions scored when they arrived: nothing new to score, and
            // no reason to read (and audit a read of) the whole history.
            return Ok(0);
        }
        if baseline.is_some() && self.states.lock().await.contains_key(&customer) {
            if !first_sync {
                // The customer's risk state is in memory: only what the sync added is read.
                return self.score_added(customer, added).await;
            }
            if self.first_sync_already_held(customer, added).await? {
                // A link's first sync announces each account on its own, and the first of them
                // to arrive built the state from every account then stored. Rebuilding now
                // would fold in transactions stored since, whose own event then counts them
                // a second time.
                tracing::info!(%customer, "first sync of an account already in the fraud baseline");
                return Ok(0);
            }
        }
        let history = self.history(customer).await?;
        let accounts = || history.iter().map(|t| t.account_id);
        let mut states = self.states.lock().await;
        if first_sync || baseline.is_none() {
            let mut st = CustomerState::new();
            for t in &history {
                if let Some(tx) = self.to_tx(t) {
                    self.scorer.observe(&mut st, &tx);
                }
            }
            let watched = match states.remove(&customer) {
                Some(before) => before.rebuilt(st, accounts()),
                None => Watched::new(st, accounts()),
            };
            states.insert(customer, watched);
            self.book
                .set_baseline(customer, self.clock.now())
                .await
                .map_err(WatchError::store)?;
            tracing::info!(%customer, transactions = history.len(), "fraud baseline taken");
            return Ok(0);
        }
        let (new, old): (Vec<&Transaction>, Vec<&Transaction>) =
            history.iter().partition(|t| added.contains(&t.id));
        states.entry(customer).or_insert_with(|| {
            let mut st = CustomerState::new();
            for t in &old {
                if let Some(tx) = self.to_tx(t) {
                    self.scorer.observe(&mut st, &tx);
                }
            }
            Watched::new(st, accounts())
        });
        self.score_held(&mut states, customer, new).await
    }

    /// True when a first-sync event has nothing the customer's state in memory lacks: it
    /// announces one account (one event per account), and the state was built from that
    /// account's stored history. Reads one of the event's transactions to learn the account.
    async fn first_sync_already_held(
        &self,
        customer: CustomerId,
        added: &[TransactionId],
    ) -> Result<bool, WatchError> {
        let Some(first) = added.first() else {
            return Ok(true);
        };
        let seen = self
            .gate
            .transactions_by_ids(&self.req(customer), std::slice::from_ref(first))
            .await
            .map_err(|e| WatchError(e.to_string()))?
            .into_data();
        let Some(t) = seen.first() else {
            // Gone since (the customer unlinked): a rebuild reads what is there now.
            return Ok(false);
        };
        let states = self.states.lock().await;
        Ok(states
            .get(&customer)
            .is_some_and(|w| w.covers(t.account_id)))
    }

    /// Scores the added transactions against the risk state kept in memory, reading only them
    /// (through the gate, audited like any read of transactions).
    async fn score_added(
        &self,
        customer: CustomerId,
        added: &[TransactionId],
    ) -> Result<u32, WatchError> {
        let mut new = Vec::new();
        for chunk in added.chunks(ADDED_PER_READ) {
            new.extend(
                self.gate
                    .transactions_by_ids(&self.req(customer), chunk)
                    .await
                    .map_err(|e| WatchError(e.to_string()))?
                    .into_data(),
            );
        }
        new.sort_by_key(|t| t.date);
        // Held since the caller looked (`serial`): nothing else drops it.
        let mut states = self.states.lock().await;
        self.score_held(&mut states, customer, new.iter().collect())
            .await
    }

    /// Scores `new` on the customer's state in `states`. A scoring that fails half-way has
    /// folded in transactions whose warning may not be out, so the state is dropped: rebuilt from
    /// the store when the event comes again, they are scored afresh, once.
    async fn score_held(
        &self,
        states: &mut HashMap<CustomerId, Watched>,
        customer: CustomerId,
        new: Vec<&Transaction>,
    ) -> Result<u32, WatchError> {
        let Some(watched) = states.get_mut(&customer) else {
            return Ok(0);
        };
        let scored = self.score(customer, watched, new).await;
        if scored.is_err() {
            states.remove(&customer);
        }
        scored
    }

    /// Assesses each new transaction in date order, updating the state, and warns about the
    /// suspicious ones. A transaction scored lately (its event delivered again) is passed over.
    async fn score(
        &self,
        customer: CustomerId,
        watched: &mut Watched,
        new: Vec<&Transaction>,
    ) -> Result<u32, WatchError> {
        let mut suspicious = 0u32;
        for t in new {
            if watched.was_scored(t.id) {
                continue;
            }
            let Some(tx) = self.to_tx(t) else { continue };
            let a = self.scorer.assess(&mut watched.risk, &tx);
            watched.mark_scored(t.id);
            if a.score < self.config.warn_score {
                continue;
            }
            suspicious += 1;
            let severity = match LiveScorer::severity(&a) {
                Severity::High => AlertSeverity::High,
                Severity::Low => AlertSeverity::Low,
            };
            tracing::info!(%customer, transaction = %t.id, severity = severity.as_str(),
                rules = ?a.rule_hits.iter().map(|h| h.id.as_str()).collect::<Vec<_>>(),
                rules_version = %a.rules_version, "suspicious transaction");
            let reason = a
                .rule_hits
                .first()
                .map(|h| (h.reason_pl.clone(), h.reason_en.clone()));
            self.suspicious(customer, t, severity, reason).await?;
        }
        Ok(suspicious)
    }

    /// Opens an episode or extends the current one.
    async fn suspicious(
        &self,
        customer: CustomerId,
        t: &Transaction,
        severity: AlertSeverity,
        reason: Option<(String, String)>,
    ) -> Result<(), WatchError> {
        let now = self.clock.now();
        if let Some(mut e) = self
            .book
            .latest_episode(customer)
            .await
            .map_err(WatchError::store)?
            && now - e.last_at <= self.config.episode_window
        {
            e.last_at = now;
            let escalate =
                severity > e.severity && e.status == EpisodeStatus::Open && e.warned_at.is_none();
            e.severity = e.severity.max(severity);
            if escalate {
                e.warn_due_at = Some(now);
            }
            self.book
                .save_episode(&e)
                .await
                .map_err(WatchError::store)?;
            tracing::info!(%customer, episode = %e.id, "suspicious transaction joins the open episode; no new warning");
            if escalate {
                self.deliver_due().await;
            }
            return Ok(());
        }
        let false_alarms = self
            .book
            .false_alarms_since(customer, month_start(now, self.config.timezone))
            .await
            .map_err(WatchError::store)?;
        // The customer's own quiet hours (their alert settings) replace the gateway's default.
        let cfg = self.config_for(customer).await;
        let decision = warn_decision(&cfg, self.clock.as_ref(), severity, false_alarms);
        let mut e = FraudEpisode {
            id: EpisodeId::new(),
            customer,
            opened_at: now,
            last_at: now,
            severity,
            status: EpisodeStatus::Open,
            warning_tx: Some(t.id),
            account: Some(t.account_id),
            warn_due_at: None,
            warned_at: None,
            answered_at: None,
        };
        match decision {
            WarnDecision::Suppress => {
                e.status = EpisodeStatus::Suppressed;
                self.book
                    .save_episode(&e)
                    .await
                    .map_err(WatchError::store)?;
                tracing::info!(%customer, episode = %e.id, "warning suppressed: false-alarm budget used");
            }
            WarnDecision::At(at) => {
                e.warn_due_at = Some(at);
                self.book
                    .save_episode(&e)
                    .await
                    .map_err(WatchError::store)?;
                tracing::info!(%customer, episode = %e.id, "warning held until quiet hours end");
            }
            WarnDecision::Now => {
                // Saved as warned before it is pushed: a crash in between loses one warning
                // rather than repeating it.
                e.warned_at = Some(now);
                self.book
                    .save_episode(&e)
                    .await
                    .map_err(WatchError::store)?;
                self.push_warning(&e, t, reason).await;
            }
        }
        Ok(())
    }

    async fn push_warning(
        &self,
        e: &FraudEpisode,
        t: &Transaction,
        reason: Option<(String, String)>,
    ) {
        let lang = self.langs.lang(e.customer).await;
        let amount = okienko_core::Money::new(t.amount.amount().abs(), t.amount.currency())
            .map(|m| format::money(&m, lang))
            .unwrap_or_default();
        let merchant = t
            .merchant
            .clone()
            .unwrap_or_else(|| t.raw_description.chars().take(40).collect());
        let mut text = texts::FRAUD_WARNING
            .pick(lang)
            .replace("{amount}", &amount)
            .replace("{merchant}", &merchant)
            .replace("{date}", &format::date(t.date, lang));
        if let Some((pl, en)) = reason {
            text.push(' ');
            text.push_str(match lang {
                Lang::Pl => &pl,
                Lang::En => &en,
            });
        }
        let mut reply = Reply::text(text).with_quick_replies(vec![
            QuickReply::new(texts::FRAUD_YES.pick(lang), format!("fraud:yes:{}", e.id)),
            QuickReply::new(texts::FRAUD_NO.pick(lang), format!("fraud:no:{}", e.id)),
        ]);
        reply.sensitivity = Sensitivity::Financial;
        self.outbox.push(e.customer, reply);
        tracing::info!(customer = %e.customer, episode = %e.id, "fraud warning sent");
    }

    /// Sends warnings (fraud warnings and bank warnings) whose quiet hours ended.
    pub async fn deliver_due(&self) {
        let now = self.clock.now();
        self.deliver_held_notices(now).await;
        let due = match self.book.due_warnings(now).await {
            Ok(d) => d,
            Err(e) => {
                tracing::warn!(error = %e, "reading due fraud warnings failed");
                return;
            }
        };
        for mut e in due {
            if e.warned_at.is_some() {
                e.warn_due_at = None;
                let _ = self.book.save_episode(&e).await;
                continue;
            }
            let tx = match self.history(e.customer).await {
                Ok(h) => h.into_iter().find(|t| Some(t.id) == e.warning_tx),
                Err(err) => {
                    tracing::warn!(customer = %e.customer, error = %err, "reading a held-back warning's transaction failed");
                    continue;
                }
            };
            e.warned_at = Some(now);
            e.warn_due_at = None;
            if self.book.save_episode(&e).await.is_err() {
                continue;
            }
            if let Some(t) = tx {
                self.push_warning(&e, &t, None).await;
            }
        }
    }

    /// The customer's answer to a warning. `yes` = "it was me".
    pub async fn answer(
        &self,
        customer: CustomerId,
        episode: Option<EpisodeId>,
        yes: bool,
    ) -> Option<Reply> {
        self.answer_with_case(customer, episode, yes).await.0
    }

    /// [`FraudWatcher::answer`], with the fraud case it opened (on "not me").
    pub async fn answer_with_case(
        &self,
        customer: CustomerId,
        episode: Option<EpisodeId>,
        yes: bool,
    ) -> (Option<Reply>, Option<FraudCaseId>) {
        let _one = self.serial.lock().await;
        let lang = self.langs.lang(customer).await;
        let e = match episode {
            Some(id) => self.book.episode(id).await.ok().flatten(),
            None => self.book.latest_episode(customer).await.ok().flatten(),
        };
        let Some(mut e) = e.filter(|e| e.customer == customer && e.warned_at.is_some()) else {
            return (
                episode.map(|_| Reply::text(texts::FRAUD_UNKNOWN.pick(lang))),
                None,
            );
        };
        if e.status != EpisodeStatus::Open {
            return (Some(Reply::text(texts::FRAUD_ALREADY.pick(lang))), None);
        }
        let now = self.clock.now();
        e.answered_at = Some(now);
        if yes {
            e.status = EpisodeStatus::Legit;
            if self.book.save_episode(&e).await.is_err() {
                return (Some(Reply::text(texts::INTERNAL_ERROR.pick(lang))), None);
            }
            tracing::info!(%customer, episode = %e.id, "customer confirmed the transactions");
            return (Some(Reply::text(texts::FRAUD_THANKS.pick(lang))), None);
        }
        e.status = EpisodeStatus::Fraud;
        if self.book.save_episode(&e).await.is_err() {
            return (Some(Reply::text(texts::INTERNAL_ERROR.pick(lang))), None);
        }
        let accounts: Vec<_> = e.account.into_iter().collect();
        let blocked = self
            .bank
            .block_cards(customer, &accounts, e.id.as_uuid())
            .await;
        let n = blocked.as_ref().map_or(0, |b| b.len() as u32);
        let case = match self.book.open_case(customer, e.id, n, now).await {
            Ok(c) => c,
            Err(err) => {
                tracing::error!(%customer, error = %err, "opening the fraud case failed");
                return (Some(Reply::text(texts::INTERNAL_ERROR.pick(lang))), None);
            }
        };
        let text: T = match blocked {
            Ok(b) if !b.is_empty() => texts::FRAUD_BLOCKED,
            Ok(_) => texts::FRAUD_NO_CARD,
            Err(err) => {
                tracing::warn!(%customer, error = %err, "blocking the card failed");
                texts::FRAUD_BLOCK_FAILED
            }
        };
        let short: String = case.id.to_string().chars().take(8).collect();
        (
            Some(Reply::text(text.pick(lang).replace("{case}", &short))),
            Some(case.id),
        )
    }
}

#[async_trait]
impl NoticePublisher for FraudWatcher {
    async fn publish(&self, n: Notice) -> Result<NoticeReport, NoticeError> {
        n.validate()?;
        let now = self.clock.now();
        // The texts are kept, so a warning held for quiet hours is rebuilt from them when it
        // goes out (after a restart too).
        self.notices
            .save_published(
                &PublishedWarning {
                    id: n.id.clone(),
                    bank: n.bank.clone(),
                    text_pl: n.text_pl.clone(),
                    text_en: n.text_en.clone(),
                },
                now,
            )
            .await
            .map_err(|_| NoticeError::Store)?;
        let customers = self
            .notices
            .opted_in(&n.bank)
            .await
            .map_err(|_| NoticeError::Store)?;
        let mut report = NoticeReport::default();
        let mut wake: Vec<DateTime<Utc>> = Vec::new();
        for c in customers {
            if self
                .notices
                .is_held(&n.id, c)
                .await
                .map_err(|_| NoticeError::Store)?
            {
                report.held += 1;
                continue;
            }
            let settings = self.alert_settings(c).await;
            let channel = self.notice_channel(c, &settings, None);
            match self.notice_route(&settings, now) {
                NoticeRoute::AllOff => report.skipped_all_off += 1,
                NoticeRoute::HoldUntil(at) => {
                    self.notices
                        .hold(&n.id, c, at, now, channel.as_deref())
                        .await
                        .map_err(|_| NoticeError::Store)?;
                    report.held += 1;
                    if !wake.contains(&at) {
                        wake.push(at);
                    }
                }
                NoticeRoute::Now => {
                    if self.send_notice(&n, c, now, channel.as_deref()).await? {
                        report.delivered += 1;
                    } else {
                        report.already_had_it += 1;
                    }
                }
            }
        }
        // A timer per distinct end of quiet hours, so held warnings go out on this instance even
        // when its tick loop is not running (the tick sends them too, after a restart as well;
        // claims keep it once).
        if let Some(me) = self.me.upgrade() {
            for at in wake {
                let me = me.clone();
                let wait = (at - now).to_std().unwrap_or_default() + Duration::from_secs(1);
                tokio::spawn(async move {
                    tokio::time::sleep(wait).await;
                    me.deliver_held_notices(me.clock.now()).await;
                });
            }
        }
        tracing::info!(notice = %n.id, delivered = report.delivered, repeated = report.already_had_it,
            held = report.held, all_off = report.skipped_all_off, "bank warning published");
        Ok(report)
    }
}

/// What a customer's alert settings say about a bank warning now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum NoticeRoute {
    Now,
    HoldUntil(DateTime<Utc>),
    AllOff,
}

/// A failure of the watcher, as an error kind (no data).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct WatchError(String);

impl WatchError {
    fn store(e: impl std::fmt::Display) -> Self {
        WatchError(e.to_string())
    }
}

/// Where a fraud case goes once the customer said "not me": to bank staff. The agents crate's
/// handover implements it (dialog does not know who picks the case up); without one, the case
/// waits in the fraud book.
#[async_trait]
pub trait CaseEscalation: Send + Sync + 'static {
    /// A case was opened for the customer; returns what to tell them besides (e.g. their place
    /// in the queue for a person).
    async fn case_opened(&self, customer: CustomerId, case: FraudCaseId, lang: Lang) -> Vec<Reply>;
}

/// Wraps the conversation: answers to fraud warnings (buttons or typed) go to the watcher,
/// everything else to the conversation inside.
pub struct FraudReplies {
    inner: Arc<dyn Conversation>,
    watcher: Arc<FraudWatcher>,
    escalation: Option<Arc<dyn CaseEscalation>>,
}

impl FraudReplies {
    pub fn new(inner: Arc<dyn Conversation>, watcher: Arc<FraudWatcher>) -> Arc<Self> {
        Arc::new(FraudReplies {
            inner,
            watcher,
            escalation: None,
        })
    }

    /// Like [`FraudReplies::new`], and every fraud case opened here goes to `escalation`.
    pub fn with_escalation(
        inner: Arc<dyn Conversation>,
        watcher: Arc<FraudWatcher>,
        escalation: Arc<dyn CaseEscalation>,
    ) -> Arc<Self> {
        Arc::new(FraudReplies {
            inner,
            watcher,
            escalation: Some(escalation),
        })
    }

    /// The watcher's answer, then (for a new case) what the escalation adds.
    async fn answered(
        &self,
        customer: CustomerId,
        episode: Option<EpisodeId>,
        yes: bool,
    ) -> Option<Vec<Reply>> {
        let (reply, case) = self.watcher.answer_with_case(customer, episode, yes).await;
        let mut out = vec![reply?];
        if let (Some(case), Some(esc)) = (case, &self.escalation) {
            let lang = self.watcher.langs.lang(customer).await;
            out.extend(esc.case_opened(customer, case, lang).await);
        }
        Some(out)
    }
}

/// "tak, to ja" / "nie, zablokuj kartę" typed instead of pressed (diacritics optional).
fn typed_answer(text: &str) -> Option<bool> {
    let t = okienko_core::transaction::fold(text);
    let t = t.trim().trim_end_matches(['.', '!']);
    match t {
        "tak, to ja" | "tak to ja" | "to ja" | "yes, it was me" | "yes it was me" | "it was me" => {
            Some(true)
        }
        "nie, zablokuj karte"
        | "nie zablokuj karte"
        | "zablokuj karte"
        | "no, block my card"
        | "no block my card"
        | "block my card" => Some(false),
        _ => None,
    }
}

#[async_trait]
impl Conversation for FraudReplies {
    async fn handle(
        &self,
        customer: CustomerId,
        channel: ChannelInfo,
        lang_hint: Option<Lang>,
        event: InboundEvent,
    ) -> Vec<Reply> {
        self.watcher.saw(customer, channel.name);
        match &event {
            InboundEvent::QuickReply(p) if p.starts_with("fraud:") => {
                let mut it = p.splitn(3, ':').skip(1);
                let yes = it.next() == Some("yes");
                let id = it.next().and_then(|s| s.parse::<EpisodeId>().ok());
                if let Some(r) = self.answered(customer, id, yes).await {
                    return r;
                }
                let lang = self.watcher.langs.lang(customer).await;
                return vec![Reply::text(texts::FRAUD_UNKNOWN.pick(lang))];
            }
            InboundEvent::Text(t) => {
                if let Some(yes) = typed_answer(t)
                    && let Some(r) = self.answered(customer, None, yes).await
                {
                    return r;
                }
            }
            _ => {}
        }
        self.inner.handle(customer, channel, lang_hint, event).await
    }

    async fn customer_typing(&self, customer: CustomerId) {
        self.inner.customer_typing(customer).await;
    }

    async fn prepare_push(
        &self,
        customer: CustomerId,
        channel: ChannelInfo,
        reply: Reply,
    ) -> Reply {
        self.inner.prepare_push(customer, channel, reply).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Fixed(DateTime<Utc>);
    impl Clock for Fixed {
        fn now(&self) -> DateTime<Utc> {
            self.0
        }
    }

    fn at(s: &str) -> Fixed {
        Fixed(s.parse().unwrap())
    }

    #[test]
    fn quiet_hours_hold_low_severity_until_morning_in_the_customers_zone() {
        let cfg = FraudConfig::default();
        // 23:30 in Warsaw (UTC+1 in winter): held until 07:00 local = 06:00 UTC next day.
        let late = at("2026-11-30T22:30:00Z");
        assert_eq!(
            warn_decision(&cfg, &late, AlertSeverity::Low, 0),
            WarnDecision::At("2026-12-01T06:00:00Z".parse().unwrap())
        );
        // 03:00 local: held until 07:00 the same day.
        let night = at("2026-12-01T02:00:00Z");
        assert_eq!(
            warn_decision(&cfg, &night, AlertSeverity::Low, 0),
            WarnDecision::At("2026-12-01T06:00:00Z".parse().unwrap())
        );
        // High severity never waits; daytime never waits.
        assert_eq!(
            warn_decision(&cfg, &late, AlertSeverity::High, 0),
            WarnDecision::Now
        );
        let day = at("2026-11-30T12:00:00Z");
        assert_eq!(
            warn_decision(&cfg, &day, AlertSeverity::Low, 0),
            WarnDecision::Now
        );
        // No quiet hours at all.
        let none = FraudConfig {
            quiet_hours: QuietHours::parse("00:00-00:00"),
            ..FraudConfig::default()
        };
        assert_eq!(
            warn_decision(&none, &late, AlertSeverity::Low, 0),
            WarnDecision::Now
        );
    }

    #[test]
    fn the_false_alarm_budget_stops_low_severity_only() {
        let cfg = FraudConfig {
            monthly_false_alarms: 2,
            ..FraudConfig::default()
        };
        let day = at("2026-11-30T12:00:00Z");
        assert_eq!(
            warn_decision(&cfg, &day, AlertSeverity::Low, 1),
            WarnDecision::Now
        );
        assert_eq!(
            warn_decision(&cfg, &day, AlertSeverity::Low, 2),
            WarnDecision::Suppress
        );
        assert_eq!(
            warn_decision(&cfg, &day, AlertSeverity::High, 9),
            WarnDecision::Now
        );
        assert_eq!(
            month_start(day.0, format::DEFAULT_TZ),
            "2026-10-31T23:00:00Z".parse::<DateTime<Utc>>().unwrap()
        );
    }

    #[test]
    fn quiet_hours_parse_and_reject() {
        assert!(QuietHours::parse("22:00-07:00").is_some());
        assert!(QuietHours::parse("25:00-07:00").is_none());
        assert!(QuietHours::parse("nonsense").is_none());
    }

    #[test]
    fn notices_are_validated() {
        let ok = Notice {
            id: "campaign-2026-11".into(),
            text_pl: "Uwaga na fałszywe SMS-y".into(),
            text_en: "Beware of fake texts".into(),
            bank: "sandbox".into(),
        };
        assert_eq!(ok.validate(), Ok(()));
        let mut bad = ok.clone();
        bad.text_pl = " ".into();
        assert!(bad.validate().is_err());
        let mut bad = ok.clone();
        bad.id = "a b".into();
        assert!(bad.validate().is_err());
        let mut bad = ok;
        bad.text_en = "x\u{7}".into();
        assert!(bad.validate().is_err());
    }

    #[test]
    fn typed_answers_with_and_without_diacritics() {
        assert_eq!(typed_answer("Tak, to ja"), Some(true));
        assert_eq!(typed_answer("nie, zablokuj kartę"), Some(false));
        assert_eq!(typed_answer("Nie zablokuj karte!"), Some(false));
        assert_eq!(typed_answer("No, block my card"), Some(false));
        assert_eq!(typed_answer("ile mam na koncie"), None);
    }
}
