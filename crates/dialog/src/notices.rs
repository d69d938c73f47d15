//! Proactive notices (issue 10): low balance, large payment, salary arrived, a recurring charge
//! that went up, a possible duplicate charge, a subscription that renewed.
//!
//! [`NoticeWatcher`] listens for the bank link's `NewTransactions` events like the fraud watcher
//! does. The first sync of a link is the baseline (two years of history are not news). After
//! that, for each notice the customer turned on, and only for those, it reads through the
//! privacy gate as the system job `notice_watcher` under that notice's own purpose
//! (`service.notice.large_payment`, …), finds the events, and claims each in the persisted
//! notice ledger (`okienko_privacy::NoticeBook`) keyed by the event ("large_payment:<transaction
//! id>"), so a re-sync or a restart never repeats one. Urgent notices (low balance, large
//! payment) are due at once, or when the customer's quiet hours end; the others wait for the
//! daily digest at the configured hour in the customer's zone, and a digest goes out at most once
//! a local day. "All off" drops everything (fraud warnings are the fraud watcher's, and stay).
//!
//! It never logs amounts, merchants, thresholds or texts: only ids, kinds and counts.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Days, NaiveTime, TimeZone, Utc};
use chrono_tz::Tz;
use okienko_bank::LinkEvent;
use okienko_core::{
    AccountId, BalanceKind, Clock, CustomerId, Lang, Money, Transaction, TransactionId, TxFilter,
    format,
};
use okienko_privacy::{
    AccessRequest, AccountBalances, AlertBook, AlertSettings, LedgerNotice, NoticeBook, NoticeKind,
    PrivacyGate, Quiet, Threshold,
};
use rust_decimal::Decimal;
use tokio::sync::Mutex;

use crate::fraud::{CustomerLang, QuietHours};
use crate::texts::T;
use crate::{Outbox, Reply, Sensitivity};

/// The system job name the gate's audit log shows for the watcher's reads.
pub const JOB: &str = "notice_watcher";
/// Most recent transactions read per notice kind (newest first): a few months.
const HISTORY: u32 = 500;

#[derive(Debug, Clone)]
pub struct NoticeConfig {
    /// The customers' zone (digest hour, quiet hours, "today").
    pub timezone: Tz,
    /// Local hour (0–23) of the daily digest.
    pub digest_hour: u32,
    /// Minute (0–59) past `digest_hour`.
    pub digest_minute: u32,
    /// How often due notices are checked.
    pub tick: Duration,
}

impl Default for NoticeConfig {
    fn default() -> Self {
        NoticeConfig {
            timezone: format::DEFAULT_TZ,
            digest_hour: 18,
            digest_minute: 0,
            tick: Duration::from_secs(30),
        }
    }
}

impl NoticeConfig {
    /// The digest's local time of day.
    pub fn digest_time(&self) -> NaiveTime {
        NaiveTime::from_hms_opt(self.digest_hour.min(23), self.digest_minute.min(59), 0)
            .unwrap_or(NaiveTime::MIN)
    }
}

/// Where notices go: every open chat of the customer, or the one channel they chose.
pub struct NoticeOutboxes {
    pub all: Arc<dyn Outbox>,
    /// By channel name ("web_chat", "messenger").
    pub by_channel: Vec<(String, Arc<dyn Outbox>)>,
}

impl NoticeOutboxes {
    fn pick(&self, channel: Option<&str>) -> &Arc<dyn Outbox> {
        channel
            .and_then(|c| self.by_channel.iter().find(|(n, _)| n == c))
            .map(|(_, o)| o)
            .unwrap_or(&self.all)
    }
}

/// When an urgent notice may go: now, or when the customer's quiet hours end.
pub fn urgent_due(now: DateTime<Utc>, quiet: Option<Quiet>, tz: Tz) -> DateTime<Utc> {
    quiet
        .and_then(|q| {
            QuietHours {
                start: q.start,
                end: q.end,
            }
            .ends_after(now, tz)
        })
        .unwrap_or(now)
}

/// The next digest time at or after `now`: today's digest hour in `tz` if it has not passed,
/// else tomorrow's; pushed past quiet hours if it falls in them.
pub fn next_digest(now: DateTime<Utc>, hour: u32, tz: Tz, quiet: Option<Quiet>) -> DateTime<Utc> {
    let at = NaiveTime::from_hms_opt(hour.min(23), 0, 0).unwrap_or(NaiveTime::MIN);
    next_digest_at(now, at, tz, quiet)
}

/// [`next_digest`] at a local time of day (hour and minute).
pub fn next_digest_at(
    now: DateTime<Utc>,
    at: NaiveTime,
    tz: Tz,
    quiet: Option<Quiet>,
) -> DateTime<Utc> {
    let local = now.with_timezone(&tz).date_naive();
    let on = |d: chrono::NaiveDate| {
        tz.from_local_datetime(&d.and_time(at))
            .earliest()
            .map(|t| t.with_timezone(&Utc))
    };
    let today = on(local).unwrap_or(now);
    let due = if today >= now {
        today
    } else {
        local
            .checked_add_days(Days::new(1))
            .and_then(on)
            .unwrap_or(now)
    };
    urgent_due(due, quiet, tz)
}

/// The digest due after the one of `day` (used when `day`'s digest already went out).
fn digest_after_day(
    now: DateTime<Utc>,
    at: NaiveTime,
    tz: Tz,
    quiet: Option<Quiet>,
) -> DateTime<Utc> {
    let local = now.with_timezone(&tz).date_naive();
    let tomorrow = local
        .checked_add_days(Days::new(1))
        .and_then(|d| {
            tz.from_local_datetime(&d.and_time(NaiveTime::MIN))
                .earliest()
        })
        .map(|t| t.with_timezone(&Utc))
        .unwrap_or(now);
    next_digest_at(tomorrow, at, tz, quiet)
}

fn merchant_key(t: &Transaction) -> String {
    okienko_core::transaction::fold(t.merchant.as_deref().unwrap_or(&t.raw_description))
        .trim()
        .to_owned()
}

fn merchant_label(t: &Transaction) -> String {
    t.merchant
        .clone()
        .unwrap_or_else(|| t.raw_description.chars().take(40).collect())
}

fn month_index(d: chrono::NaiveDate) -> i32 {
    use chrono::Datelike;
    d.year() * 12 + d.month0() as i32
}

/// New debits over the threshold.
pub fn large_payments<'a>(new: &[&'a Transaction], t: &Threshold) -> Vec<&'a Transaction> {
    new.iter()
        .copied()
        .filter(|x| {
            x.amount.is_negative()
                && t.same_currency(x.amount.currency())
                && x.amount.amount().abs() > t.amount
        })
        .collect()
}

/// New debits with a twin: the same merchant and amount within two days (another new one, or
/// one already known). The later of each pair is the notice.
pub fn duplicates<'a>(new: &[&'a Transaction], history: &[Transaction]) -> Vec<&'a Transaction> {
    let mut out = Vec::new();
    for x in new.iter().copied().filter(|x| x.amount.is_negative()) {
        let key = merchant_key(x);
        let twin = history.iter().chain(new.iter().copied()).any(|y| {
            y.id != x.id
                && y.amount == x.amount
                && merchant_key(y) == key
                && (x.date - y.date).num_days().abs() <= 2
                // Of two new twins, only the later (by id order when on the same day) notices.
                && (y.date < x.date || (y.date == x.date && y.id < x.id))
        });
        if twin {
            out.push(x);
        }
    }
    out
}

const SALARY_WORDS: [&str; 8] = [
    "wynagrodzenie",
    "pensja",
    "wyplata",
    "salary",
    "payroll",
    "wages",
    "paycheck",
    "direct dep",
];

/// Earlier transactions of the same merchant and sign, in distinct earlier months (last 100
/// days), most recent first.
fn monthly_before<'a>(x: &Transaction, history: &'a [Transaction]) -> Vec<&'a Transaction> {
    let key = merchant_key(x);
    let mut prev: Vec<&Transaction> = history
        .iter()
        .filter(|y| {
            y.id != x.id
                && y.amount.is_negative() == x.amount.is_negative()
                && y.amount.currency() == x.amount.currency()
                && y.date < x.date
                && (x.date - y.date).num_days() <= 100
                && merchant_key(y) == key
        })
        .collect();
    prev.sort_by_key(|y| std::cmp::Reverse(y.date));
    let mut months = Vec::new();
    prev.retain(|y| {
        let m = month_index(y.date);
        if m == month_index(x.date) || months.contains(&m) {
            false
        } else {
            months.push(m);
            true
        }
    });
    prev
}

/// New credits that look like a salary: named so, or from the same payer in each of the two
/// months before at a similar amount.
pub fn salaries<'a>(new: &[&'a Transaction], history: &[Transaction]) -> Vec<&'a Transaction> {
    new.iter()
        .copied()
        .filter(|x| !x.amount.is_negative() && !x.amount.amount().is_zero())
        .filter(|x| {
            let text = okienko_core::transaction::fold(&format!(
                "{} {} {}",
                x.raw_description,
                x.merchant.as_deref().unwrap_or(""),
                x.category.as_deref().unwrap_or("")
            ));
            if SALARY_WORDS.iter().any(|w| text.contains(w)) {
                return true;
            }
            let prev = monthly_before(x, history);
            prev.len() >= 2
                && prev.iter().take(2).all(|y| {
                    let (a, b) = (x.amount.amount(), y.amount.amount());
                    (a - b).abs() <= b * Decimal::new(2, 1)
                })
        })
        .collect()
}

/// New debits of a merchant charged in each of the two months before, now more than the last
/// time (by over 1 %): with the previous amount.
pub fn recurring_up<'a>(
    new: &[&'a Transaction],
    history: &[Transaction],
) -> Vec<(&'a Transaction, Money)> {
    new.iter()
        .copied()
        .filter(|x| x.amount.is_negative())
        .filter_map(|x| {
            let prev = monthly_before(x, history);
            if prev.len() < 2 {
                return None;
            }
            let last = prev[0].amount.amount().abs();
            let now = x.amount.amount().abs();
            (now > last + last / Decimal::new(100, 0)).then_some((x, prev[0].amount.abs()))
        })
        .collect()
}

const SUBSCRIPTIONS: [&str; 16] = [
    "netflix",
    "spotify",
    "youtube",
    "hbo",
    "max.com",
    "disney",
    "apple.com",
    "icloud",
    "google one",
    "google storage",
    "amazon prime",
    "prime video",
    "canal+",
    "player.pl",
    "tidal",
    "microsoft",
];

/// New debits renewing a subscription: a known subscription (or so categorised) charged a month
/// (or a year) before.
pub fn renewals<'a>(new: &[&'a Transaction], history: &[Transaction]) -> Vec<&'a Transaction> {
    new.iter()
        .copied()
        .filter(|x| x.amount.is_negative())
        .filter(|x| {
            let key = merchant_key(x);
            let cat = okienko_core::transaction::fold(x.category.as_deref().unwrap_or(""));
            let known = SUBSCRIPTIONS.iter().any(|s| key.contains(s))
                || cat.contains("subscri")
                || cat.contains("subskryp")
                || cat.contains("abonament");
            known
                && history.iter().any(|y| {
                    let days = (x.date - y.date).num_days();
                    y.id != x.id
                        && y.amount.is_negative()
                        && merchant_key(y) == key
                        && ((20..=40).contains(&days) || (330..=400).contains(&days))
                })
        })
        .collect()
}

/// The balance a low-balance notice compares: what can be spent now, else the booked one.
fn spendable(a: &AccountBalances) -> Option<Money> {
    a.balances
        .iter()
        .find(|b| b.kind == BalanceKind::InterimAvailable)
        .or_else(|| a.balances.first())
        .map(|b| b.amount)
}

/// Accounts below the threshold (with their balance), and accounts at or above it.
pub fn low_balances(
    accounts: &[AccountBalances],
    t: &Threshold,
) -> (Vec<(AccountId, String, Money)>, Vec<AccountId>) {
    let mut below = Vec::new();
    let mut above = Vec::new();
    for a in accounts {
        let Some(m) = spendable(a) else { continue };
        if !t.same_currency(m.currency()) {
            continue;
        }
        if m.amount() < t.amount {
            below.push((a.account.id, a.account.name.clone(), m));
        } else {
            above.push(a.account.id);
        }
    }
    (below, above)
}

const URGENT_TITLE: T = T("Powiadomienie:", "Alert:");
const DIGEST_TITLE: T = T("Podsumowanie dnia ({date}):", "Your daily digest ({date}):");
const LARGE: T = T(
    "Płatność {amount} — {merchant}, {date} (powyżej Twojego progu {threshold}).",
    "Payment of {amount} at {merchant} on {date} (over your {threshold} alert).",
);
const LOW: T = T(
    "Saldo konta „{account}” spadło poniżej {threshold}: teraz {balance}.",
    "The balance of \"{account}\" fell below {threshold}: now {balance}.",
);
const SALARY: T = T(
    "Wpłynęła pensja: {amount} od {merchant}, {date}.",
    "Your salary arrived: {amount} from {merchant} on {date}.",
);
const RECURRING: T = T(
    "Stała opłata {merchant} wzrosła z {old} do {amount} ({date}).",
    "A recurring charge from {merchant} went up from {old} to {amount} ({date}).",
);
const DUPLICATE: T = T(
    "Możliwe podwójne obciążenie: {amount} w {merchant} dwa razy ({date}). Jeśli to błąd, napisz „konsultant”.",
    "Possible duplicate charge: {amount} at {merchant} twice ({date}). If it's a mistake, say \"agent\".",
);
const SUBSCRIPTION: T = T(
    "Subskrypcja {merchant} odnowiła się: {amount}, {date}.",
    "Your {merchant} subscription renewed: {amount} on {date}.",
);

fn threshold_text(t: &Threshold, lang: Lang) -> String {
    match t.currency.and_then(|c| Money::new(t.amount, c).ok()) {
        Some(m) => format::money(&m, lang),
        None => {
            let s = t.amount.normalize().to_string();
            match lang {
                Lang::Pl => s.replace('.', ","),
                Lang::En => s,
            }
        }
    }
}

fn tx_text(tpl: &T, t: &Transaction, lang: Lang) -> String {
    tpl.pick(lang)
        .replace("{amount}", &format::money(&t.amount.abs(), lang))
        .replace("{merchant}", &merchant_label(t))
        .replace("{date}", &format::date(t.date, lang))
}

/// A failure of the watcher, as an error kind (no data).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct NoticeError(String);

impl NoticeError {
    fn of(e: impl std::fmt::Display) -> Self {
        NoticeError(e.to_string())
    }
}

pub struct NoticeWatcher {
    gate: PrivacyGate,
    alerts: AlertBook,
    book: NoticeBook,
    outboxes: NoticeOutboxes,
    langs: Arc<dyn CustomerLang>,
    clock: Arc<dyn Clock>,
    config: NoticeConfig,
    /// One event or delivery round at a time per process.
    serial: Mutex<()>,
}

impl NoticeWatcher {
    pub fn new(
        gate: PrivacyGate,
        book: NoticeBook,
        outboxes: NoticeOutboxes,
        langs: Arc<dyn CustomerLang>,
        clock: Arc<dyn Clock>,
        config: NoticeConfig,
    ) -> Arc<NoticeWatcher> {
        Arc::new(NoticeWatcher {
            alerts: gate.alert_book(),
            gate,
            book,
            outboxes,
            langs,
            clock,
            config,
            serial: Mutex::new(()),
        })
    }

    /// Listens to `events` (the bank link's) and sends due notices every tick, until `shutdown`.
    pub fn spawn(
        self: &Arc<Self>,
        mut events: tokio::sync::broadcast::Receiver<LinkEvent>,
        mut shutdown: tokio::sync::watch::Receiver<bool>,
    ) -> tokio::task::JoinHandle<()> {
        let me = self.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(me.config.tick.max(Duration::from_millis(100)));
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tokio::select! {
                    ev = events.recv() => match ev {
                        Ok(LinkEvent::NewTransactions { customer, added, first_sync, .. }) => {
                            match me.on_new(customer, &added, first_sync).await {
                                Ok(n) if n > 0 => me.deliver_due().await,
                                Ok(_) => {}
                                Err(e) => tracing::warn!(%customer, error = %e, "notice check failed"),
                            }
                        }
                        Ok(_) => {}
                        Err(tokio::sync::broadcast::error::RecvError::Lagged(n)) => {
                            tracing::warn!(missed = n, "notice watcher missed link events");
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
            tracing::info!("notice watcher stopped");
        })
    }

    fn req(&self, customer: CustomerId, kind: NoticeKind) -> AccessRequest {
        AccessRequest::system(JOB, customer, kind.purpose())
    }

    /// The newest transactions, read under `kind`'s purpose.
    async fn recent(
        &self,
        customer: CustomerId,
        kind: NoticeKind,
    ) -> Result<Vec<Transaction>, NoticeError> {
        Ok(self
            .gate
            .transactions(&self.req(customer, kind), &TxFilter::default(), 0, HISTORY)
            .await
            .map_err(NoticeError::of)?
            .into_data()
            .transactions)
    }

    /// Finds and claims the notices a sync's new transactions make. Returns how many were
    /// claimed (they are sent by [`NoticeWatcher::deliver_due`]).
    pub async fn on_new(
        &self,
        customer: CustomerId,
        added: &[TransactionId],
        first_sync: bool,
    ) -> Result<u32, NoticeError> {
        let _one = self.serial.lock().await;
        let now = self.clock.now();
        let baseline = self
            .book
            .baseline(customer)
            .await
            .map_err(NoticeError::of)?;
        if first_sync || baseline.is_none() {
            self.book
                .set_baseline(customer, now)
                .await
                .map_err(NoticeError::of)?;
            tracing::info!(%customer, "notice baseline taken");
            return Ok(0);
        }
        let settings = self.alerts.get(customer).await.map_err(NoticeError::of)?;
        if !settings.any_on() {
            return Ok(0);
        }
        let lang = self.langs.lang(customer).await;
        let mut found: Vec<(NoticeKind, String, String)> = Vec::new();
        for kind in NoticeKind::ALL {
            if !settings.is_on(kind) {
                continue;
            }
            if kind == NoticeKind::LowBalance {
                found.extend(self.low_balance(customer, &settings, lang).await?);
                continue;
            }
            if added.is_empty() {
                continue;
            }
            let history = self.recent(customer, kind).await?;
            let new: Vec<&Transaction> = history.iter().filter(|t| added.contains(&t.id)).collect();
            let key = |t: &Transaction| format!("{}:{}", kind.as_str(), t.id);
            match kind {
                NoticeKind::LargePayment => {
                    if let Some(th) = &settings.large_payment {
                        for t in large_payments(&new, th) {
                            let text = tx_text(&LARGE, t, lang)
                                .replace("{threshold}", &threshold_text(th, lang));
                            found.push((kind, key(t), text));
                        }
                    }
                }
                NoticeKind::Salary => {
                    for t in salaries(&new, &history) {
                        found.push((kind, key(t), tx_text(&SALARY, t, lang)));
                    }
                }
                NoticeKind::RecurringUp => {
                    for (t, old) in recurring_up(&new, &history) {
                        let text = tx_text(&RECURRING, t, lang)
                            .replace("{old}", &format::money(&old, lang));
                        found.push((kind, key(t), text));
                    }
                }
                NoticeKind::Duplicate => {
                    for t in duplicates(&new, &history) {
                        found.push((kind, key(t), tx_text(&DUPLICATE, t, lang)));
                    }
                }
                NoticeKind::Subscription => {
                    for t in renewals(&new, &history) {
                        found.push((kind, key(t), tx_text(&SUBSCRIPTION, t, lang)));
                    }
                }
                NoticeKind::LowBalance => {}
            }
        }
        let mut claimed = 0u32;
        for (kind, event_key, text) in found {
            let urgent = kind.urgent();
            let due = if urgent {
                urgent_due(now, settings.quiet, self.config.timezone)
            } else {
                next_digest_at(
                    now,
                    self.config.digest_time(),
                    self.config.timezone,
                    settings.quiet,
                )
            };
            let n = LedgerNotice {
                customer,
                kind,
                event_key,
                created_at: now,
                due_at: Some(due),
                sent_at: None,
                digest: !urgent,
                text: Some(text),
            };
            if self.book.claim(&n).await.map_err(NoticeError::of)? {
                claimed += 1;
                tracing::info!(%customer, kind = kind.as_str(), event = %n.event_key, "notice claimed");
            }
        }
        Ok(claimed)
    }

    /// Low balance: one notice per account each time it falls below the threshold (a balance
    /// that recovers re-arms it).
    async fn low_balance(
        &self,
        customer: CustomerId,
        settings: &AlertSettings,
        lang: Lang,
    ) -> Result<Vec<(NoticeKind, String, String)>, NoticeError> {
        let Some(th) = &settings.low_balance else {
            return Ok(Vec::new());
        };
        let accounts = self
            .gate
            .balances(&self.req(customer, NoticeKind::LowBalance))
            .await
            .map_err(NoticeError::of)?
            .into_data();
        let (below, above) = low_balances(&accounts, th);
        for id in above {
            let key = format!("low_balance:{id}");
            if self
                .book
                .release(customer, &key)
                .await
                .map_err(NoticeError::of)?
            {
                tracing::info!(%customer, account = %id, "low balance recovered; notice re-armed");
            }
        }
        Ok(below
            .into_iter()
            .map(|(id, name, m)| {
                let text = LOW
                    .pick(lang)
                    .replace("{account}", &name)
                    .replace("{threshold}", &threshold_text(th, lang))
                    .replace("{balance}", &format::money(&m, lang));
                (NoticeKind::LowBalance, format!("low_balance:{id}"), text)
            })
            .collect())
    }

    /// Sends the notices that are due: urgent ones one by one, the rest as one digest per
    /// customer and local day. Settings are read again first: a notice turned off (or "all
    /// off") since it was found is dropped, quiet hours set since then hold it.
    pub async fn deliver_due(&self) {
        let _one = self.serial.lock().await;
        let now = self.clock.now();
        let due = match self.book.due(now).await {
            Ok(d) => d,
            Err(e) => {
                tracing::warn!(error = %e, "reading due notices failed");
                return;
            }
        };
        let mut by_customer: BTreeMap<String, (CustomerId, Vec<LedgerNotice>)> = BTreeMap::new();
        for n in due {
            by_customer
                .entry(n.customer.to_string())
                .or_insert_with(|| (n.customer, Vec::new()))
                .1
                .push(n);
        }
        for (_, (customer, notices)) in by_customer {
            if let Err(e) = self.deliver_customer(customer, notices, now).await {
                tracing::warn!(%customer, error = %e, "delivering notices failed");
            }
        }
    }

    async fn deliver_customer(
        &self,
        customer: CustomerId,
        notices: Vec<LedgerNotice>,
        now: DateTime<Utc>,
    ) -> Result<(), NoticeError> {
        let settings = self.alerts.get(customer).await.map_err(NoticeError::of)?;
        let tz = self.config.timezone;
        let (drop, keep): (Vec<LedgerNotice>, Vec<LedgerNotice>) = notices
            .into_iter()
            .partition(|n| !settings.is_on(n.kind) || n.text.is_none());
        if !drop.is_empty() {
            let keys: Vec<String> = drop.iter().map(|n| n.event_key.clone()).collect();
            self.book
                .reschedule(customer, &keys, None)
                .await
                .map_err(NoticeError::of)?;
            tracing::info!(%customer, dropped = keys.len(), "notices turned off before they were sent");
        }
        let quiet_end = urgent_due(now, settings.quiet, tz);
        if quiet_end > now {
            let keys: Vec<String> = keep.iter().map(|n| n.event_key.clone()).collect();
            self.book
                .reschedule(customer, &keys, Some(quiet_end))
                .await
                .map_err(NoticeError::of)?;
            return Ok(());
        }
        let outbox = self.outboxes.pick(settings.channel.as_deref());
        let lang = self.langs.lang(customer).await;
        let (urgent, digest): (Vec<LedgerNotice>, Vec<LedgerNotice>) =
            keep.into_iter().partition(|n| !n.digest);
        for n in urgent {
            // Marked sent before it is pushed: a crash in between loses a notice rather than
            // repeating it.
            let sent = self
                .book
                .mark_sent(customer, std::slice::from_ref(&n.event_key), now)
                .await
                .map_err(NoticeError::of)?;
            if sent == 1
                && let Some(text) = &n.text
            {
                let mut reply = Reply::text(format!("{} {text}", URGENT_TITLE.pick(lang)));
                reply.sensitivity = Sensitivity::Financial;
                outbox.push(customer, reply);
                tracing::info!(%customer, kind = n.kind.as_str(), event = %n.event_key, "notice sent");
            }
        }
        if digest.is_empty() {
            return Ok(());
        }
        let keys: Vec<String> = digest.iter().map(|n| n.event_key.clone()).collect();
        let day = now.with_timezone(&tz).date_naive();
        if !self
            .book
            .claim_digest(customer, day, now)
            .await
            .map_err(NoticeError::of)?
        {
            let next = digest_after_day(now, self.config.digest_time(), tz, settings.quiet);
            self.book
                .reschedule(customer, &keys, Some(next))
                .await
                .map_err(NoticeError::of)?;
            tracing::info!(%customer, held = keys.len(), "today's digest already went out; notices wait for the next");
            return Ok(());
        }
        let sent = self
            .book
            .mark_sent(customer, &keys, now)
            .await
            .map_err(NoticeError::of)?;
        if sent == 0 {
            let _ = self.book.release_digest(customer, day).await;
            return Ok(());
        }
        let mut text = DIGEST_TITLE
            .pick(lang)
            .replace("{date}", &format::date(day, lang));
        for n in &digest {
            if let Some(t) = &n.text {
                text.push_str("\n• ");
                text.push_str(t);
            }
        }
        let mut reply = Reply::text(text);
        reply.sensitivity = Sensitivity::Financial;
        outbox.push(customer, reply);
        tracing::info!(%customer, notices = digest.len(), "daily digest sent");
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use okienko_core::{Account, BookingStatus, Currency};

    fn tx(date: &str, amount: &str, merchant: &str) -> Transaction {
        Transaction {
            id: TransactionId::new(),
            account_id: AccountId::new(),
            status: BookingStatus::Booked,
            date: date.parse().unwrap(),
            booking_date: None,
            value_date: None,
            amount: Money::parse(amount, "PLN").unwrap(),
            merchant: Some(merchant.into()),
            raw_description: format!("PLATNOSC KARTA {merchant}"),
            category: None,
            updated_at: Utc::now(),
        }
    }

    fn th(a: &str) -> Threshold {
        Threshold::new(a.parse().unwrap(), Some(Currency::PLN)).unwrap()
    }

    fn at(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    #[test]
    fn large_payments_are_over_the_threshold_only() {
        let a = tx("2026-11-30", "-400.00", "SKLEP");
        let b = tx("2026-11-30", "-600.00", "SKLEP");
        let c = tx("2026-11-30", "-500.00", "SKLEP");
        let d = tx("2026-11-30", "900.00", "ZWROT");
        let got = large_payments(&[&a, &b, &c, &d], &th("500"));
        assert_eq!(got.iter().map(|t| t.id).collect::<Vec<_>>(), vec![b.id]);
        let usd = Threshold::new("100".parse().unwrap(), Some(Currency::USD)).unwrap();
        assert!(large_payments(&[&b], &usd).is_empty(), "another currency");
        let any = Threshold::new("100".parse().unwrap(), None).unwrap();
        assert_eq!(large_payments(&[&b], &any).len(), 1);
    }

    #[test]
    fn duplicates_salary_recurring_and_renewals_are_found() {
        let old = tx("2026-11-29", "-89.99", "ALLEGRO");
        let twin = tx("2026-11-30", "-89.99", "ALLEGRO");
        let other = tx("2026-11-30", "-12.00", "ALLEGRO");
        let hist = vec![old.clone(), twin.clone(), other.clone()];
        let got = duplicates(&[&twin, &other], &hist);
        assert_eq!(got.iter().map(|t| t.id).collect::<Vec<_>>(), vec![twin.id]);
        // Two new twins: one notice.
        let a = tx("2026-11-30", "-5.00", "KAWA");
        let b = tx("2026-11-30", "-5.00", "KAWA");
        assert_eq!(duplicates(&[&a, &b], &[a.clone(), b.clone()]).len(), 1);

        let s1 = tx("2026-09-28", "6500.00", "ACME SP Z O O");
        let s2 = tx("2026-10-28", "6500.00", "ACME SP Z O O");
        let s3 = tx("2026-11-28", "6550.00", "ACME SP Z O O");
        let gift = tx("2026-11-28", "50.00", "MAMA");
        let hist = vec![s1, s2, s3.clone(), gift.clone()];
        let got = salaries(&[&s3, &gift], &hist);
        assert_eq!(got.iter().map(|t| t.id).collect::<Vec<_>>(), vec![s3.id]);
        let mut named = tx("2026-11-10", "3000.00", "FIRMA");
        named.raw_description = "PRZELEW WYNAGRODZENIE ZA 10/2026".into();
        assert_eq!(salaries(&[&named], std::slice::from_ref(&named)).len(), 1);

        let p1 = tx("2026-09-05", "-59.99", "ORANGE");
        let p2 = tx("2026-10-05", "-59.99", "ORANGE");
        let p3 = tx("2026-11-05", "-69.99", "ORANGE");
        let hist = vec![p1, p2, p3.clone()];
        let up = recurring_up(&[&p3], &hist);
        assert_eq!(up.len(), 1);
        assert_eq!(up[0].1, Money::parse("59.99", "PLN").unwrap());
        let same = tx("2026-12-05", "-59.99", "ORANGE");
        // 59.99 after 69.99 is a decrease: never a notice.
        assert!(recurring_up(&[&same], &[hist, vec![same.clone()]].concat()).is_empty());

        let n1 = tx("2026-10-14", "-43.00", "NETFLIX.COM");
        let n2 = tx("2026-11-14", "-43.00", "NETFLIX.COM");
        let first = tx("2026-11-14", "-20.00", "SPOTIFY");
        let hist = vec![n1, n2.clone(), first.clone()];
        let got = renewals(&[&n2, &first], &hist);
        assert_eq!(got.iter().map(|t| t.id).collect::<Vec<_>>(), vec![n2.id]);
    }

    #[test]
    fn low_balance_compares_the_spendable_balance() {
        let acc = |name: &str, amount: &str| AccountBalances {
            account: Account {
                id: AccountId::new(),
                iban: None,
                currency: Currency::PLN,
                name: name.into(),
            },
            balances: vec![okienko_core::Balance {
                account_id: AccountId::new(),
                kind: BalanceKind::InterimAvailable,
                amount: Money::parse(amount, "PLN").unwrap(),
                reference_date: None,
                fetched_at: Utc::now(),
            }],
        };
        let low = acc("Konto", "80.00");
        let ok = acc("Oszczędności", "5000.00");
        let (below, above) = low_balances(&[low.clone(), ok.clone()], &th("100"));
        assert_eq!(below.len(), 1);
        assert_eq!(below[0].0, low.account.id);
        assert_eq!(above, vec![ok.account.id]);
    }

    #[test]
    fn urgent_waits_out_quiet_hours_and_digests_come_at_the_hour() {
        let tz = format::DEFAULT_TZ;
        let quiet = Some(Quiet {
            start: NaiveTime::from_hms_opt(22, 0, 0).unwrap(),
            end: NaiveTime::from_hms_opt(7, 0, 0).unwrap(),
        });
        // 23:30 in Warsaw (UTC+1): held until 07:00 local.
        assert_eq!(
            urgent_due(at("2026-11-30T22:30:00Z"), quiet, tz),
            at("2026-12-01T06:00:00Z")
        );
        assert_eq!(
            urgent_due(at("2026-11-30T12:00:00Z"), quiet, tz),
            at("2026-11-30T12:00:00Z")
        );
        assert_eq!(
            urgent_due(at("2026-11-30T22:30:00Z"), None, tz),
            at("2026-11-30T22:30:00Z")
        );
        // Before 18:00 local: today at 18:00; after: tomorrow.
        assert_eq!(
            next_digest(at("2026-11-30T10:00:00Z"), 18, tz, quiet),
            at("2026-11-30T17:00:00Z")
        );
        assert_eq!(
            next_digest(at("2026-11-30T17:30:00Z"), 18, tz, quiet),
            at("2026-12-01T17:00:00Z")
        );
        // With minutes: 18:30 local.
        let half = NaiveTime::from_hms_opt(18, 30, 0).unwrap();
        assert_eq!(
            next_digest_at(at("2026-11-30T17:10:00Z"), half, tz, None),
            at("2026-11-30T17:30:00Z")
        );
        assert_eq!(
            next_digest_at(at("2026-11-30T17:30:01Z"), half, tz, None),
            at("2026-12-01T17:30:00Z")
        );
        // A digest hour inside quiet hours waits for their end.
        assert_eq!(
            next_digest(at("2026-11-30T10:00:00Z"), 23, tz, quiet),
            at("2026-12-01T06:00:00Z")
        );
        assert_eq!(
            digest_after_day(
                at("2026-11-30T17:00:00Z"),
                NaiveTime::from_hms_opt(18, 0, 0).unwrap(),
                tz,
                None
            ),
            at("2026-12-01T17:00:00Z")
        );
    }
}
