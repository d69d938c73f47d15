//! The engine: one customer event in, replies out.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use chrono_tz::Tz;
use okienko_bank::{BankError, BankLink, LinkEvent, LinkStatus, Presence};
use okienko_core::{Clock, CustomerId, Lang, Transaction, TransactionId, TxFilter, format};
use okienko_guard::Guard;
use okienko_nlu::{Intent, Nlu, Parse};
use okienko_privacy::{AccessError, AccessRequest, ChannelInfo, PrivacyGate, Purpose};
use tokio::sync::Mutex;

use crate::forms::{self, TransferForm};
use crate::render;
use crate::texts::{self, T};
use crate::{Conversation, InboundEvent, Outbox, QuickReply, Reply};

mod persist;
mod summary;
pub use persist::IDLE_EXPIRY_MINUTES;
pub use summary::{ConversationSummary, OpenForm};

/// Rows shown per page of a transactions table.
pub const PAGE_SIZE: usize = 10;
/// At most this many matching transactions are read for one question.
const MAX_ROWS: u32 = 500;
/// Refresh times kept before the stale ones are dropped (`EngineConfig::refresh_after`).
const MAX_REFRESHED: usize = 100_000;
/// Conversations kept in memory before idle ones are dropped (they expire anyway, and the
/// conversation store, when set, keeps the rest).
const MAX_CACHED: usize = 100_000;
/// How often idle conversations are purged from the conversation store.
const PURGE_EVERY: Duration = Duration::from_secs(300);

#[derive(Debug, Clone)]
pub struct EngineConfig {
    /// The customer's zone, for "today", "last month" and for showing times.
    pub timezone: Tz,
    pub default_lang: Lang,
    /// Sent to the bank as PSU-IP-Address when the customer is present in the chat.
    pub psu_ip: String,
    /// How long to wait before retrying a bank that was down.
    pub retry_after: Duration,
    /// Where masked replies' view links point and how long they work.
    pub view: crate::masking::ViewConfig,
    /// A TrueType font for spending charts; `None` or unreadable means text-only summaries.
    pub chart_font: Option<std::path::PathBuf>,
    /// A question does not ask the bank again when the customer's data was refreshed with them
    /// present less than this long ago (the answer shows when it was fetched). Zero: every
    /// question asks the bank, so an answer is never older than the question.
    pub refresh_after: Duration,
}

/// DejaVu Sans as Debian installs it (fonts-dejavu-core).
pub const DEFAULT_CHART_FONT: &str = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf";

impl Default for EngineConfig {
    fn default() -> Self {
        EngineConfig {
            timezone: format::DEFAULT_TZ,
            default_lang: Lang::Pl,
            psu_ip: "127.0.0.1".into(),
            retry_after: Duration::from_secs(30),
            view: crate::masking::ViewConfig::default(),
            chart_font: Some(DEFAULT_CHART_FONT.into()),
            refresh_after: Duration::ZERO,
        }
    }
}

/// What the engine remembers about one customer's conversation; kept in memory and, when a
/// conversation store is set, stored between messages (`persist` says what is kept).
#[derive(Debug, Default)]
pub(crate) struct DialogState {
    lang: Option<Lang>,
    /// The last transactions question, so "a w zeszłym miesiącu?" can reuse its filter.
    last_filter: Option<TxFilter>,
    /// The rows of the last transactions answer, for "more" (in memory only).
    last_rows: Vec<Transaction>,
    /// The ids of those rows, in order: what is stored, so "more" on another instance reads
    /// the same rows again through the privacy gate.
    last_ids: Vec<TransactionId>,
    /// The last transactions question was a spending summary (its purpose, for reading again).
    last_summary: bool,
    misunderstandings: u8,
    /// The customer asked to check a link or message but has not pasted it yet.
    awaiting_scam_check: bool,
    /// The customer asked for a person; taken by whoever wraps the engine (the agents crate).
    wants_human: bool,
    /// A transfer being put together; it waits while the customer asks other things.
    pub(crate) form: Option<TransferForm>,
    /// The customer's last few messages, for scam patterns before a transfer (crate::transfer).
    pub(crate) recent_texts: crate::transfer::RecentTexts,
    /// The last few intents, for the summary a bank agent gets at handover.
    recent_intents: std::collections::VecDeque<Intent>,
    /// A card choice or read-back waiting for an answer (crate::cards).
    pub(crate) cards: crate::cards::CardDialog,
    /// The last summary's merchants, for category corrections (crate::categories).
    pub(crate) categories: crate::categories::CategoryDialog,
}

pub struct Engine {
    pub(crate) nlu: Nlu,
    pub(crate) gate: PrivacyGate,
    pub(crate) insights: crate::insights::Insights,
    pub(crate) bank: BankLink,
    pub(crate) guard: Arc<Guard>,
    outbox: Arc<dyn Outbox>,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) config: EngineConfig,
    states: Mutex<HashMap<CustomerId, Arc<Mutex<persist::Cached>>>>,
    /// Where conversation state is shared with other instances (crate::conversations).
    conversations: std::sync::OnceLock<Arc<dyn crate::conversations::ConversationStore>>,
    /// The payments side of transfers, when this gateway executes them (crate::transfer).
    pub(crate) transfers: std::sync::OnceLock<Arc<dyn crate::transfer::Transfers>>,
    /// Merchant checkout with saved cards, when a card vault is configured (crate::checkout).
    pub(crate) checkout: std::sync::OnceLock<Arc<dyn crate::checkout::Checkout>>,
    /// When each customer's data was last refreshed with them present (`refresh_after`).
    refreshed: std::sync::Mutex<HashMap<CustomerId, chrono::DateTime<chrono::Utc>>>,
}

/// What the consent callback page tells the customer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CallbackOutcome {
    Linked { lang: Lang },
    Rejected { lang: Lang },
    Failed,
}

impl Engine {
    pub fn new(
        gate: PrivacyGate,
        bank: BankLink,
        guard: Arc<Guard>,
        outbox: Arc<dyn Outbox>,
        clock: Arc<dyn Clock>,
        config: EngineConfig,
    ) -> Arc<Engine> {
        let engine = Arc::new(Engine {
            nlu: Nlu::new(),
            gate,
            insights: crate::insights::Insights::new(config.chart_font.as_deref()),
            bank,
            guard,
            outbox,
            clock,
            config,
            states: Mutex::new(HashMap::new()),
            conversations: std::sync::OnceLock::new(),
            transfers: std::sync::OnceLock::new(),
            checkout: std::sync::OnceLock::new(),
            refreshed: std::sync::Mutex::new(HashMap::new()),
        });
        // Tell customers about their links' lifecycle as it happens (needs a runtime; a
        // synchronous caller, e.g. a unit test, simply gets no notifications).
        if tokio::runtime::Handle::try_current().is_ok() {
            tokio::spawn(Engine::relay_link_events(Arc::downgrade(&engine)));
        }
        engine
    }

    /// Turns link events into chat messages until the engine is dropped.
    async fn relay_link_events(engine: std::sync::Weak<Engine>) {
        let mut events = match engine.upgrade() {
            Some(e) => e.bank.subscribe(),
            None => return,
        };
        loop {
            let event = match events.recv().await {
                Ok(e) => e,
                Err(tokio::sync::broadcast::error::RecvError::Lagged(n)) => {
                    tracing::warn!(missed = n, "link events were dropped");
                    continue;
                }
                Err(tokio::sync::broadcast::error::RecvError::Closed) => return,
            };
            let Some(engine) = engine.upgrade() else {
                return;
            };
            engine.notify(event).await;
        }
    }

    async fn notify(&self, event: LinkEvent) {
        let relink = |lang| vec![qr(texts::QR_RETRY_LINK, lang, "intent:link_bank")];
        match event {
            LinkEvent::ExpiresSoon {
                customer,
                valid_until,
                ..
            } => {
                let lang = self.lang_of(customer).await;
                let text = texts::EXPIRES_SOON
                    .pick(lang)
                    .replace("{date}", &format::date(valid_until, lang));
                self.outbox
                    .push(customer, Reply::text(text).with_quick_replies(relink(lang)));
            }
            LinkEvent::Expired { customer, .. } => {
                let lang = self.lang_of(customer).await;
                self.outbox.push(
                    customer,
                    Reply::text(texts::CONSENT_EXPIRED.pick(lang)).with_quick_replies(relink(lang)),
                );
            }
            LinkEvent::RevokedAtBank { customer, .. } => {
                let lang = self.lang_of(customer).await;
                self.forget(customer).await;
                self.outbox.push(
                    customer,
                    Reply::text(texts::REVOKED_AT_BANK.pick(lang)).with_quick_replies(vec![qr(
                        texts::QR_LINK,
                        lang,
                        "intent:link_bank",
                    )]),
                );
            }
            // Scored and, when suspicious, warned about by the fraud watcher (crate::fraud).
            LinkEvent::NewTransactions { .. } => {}
        }
    }

    /// The next question of this customer asks the bank again (their money moved, say).
    pub fn refresh_next_time(&self, customer: CustomerId) {
        self.refreshed_lock().remove(&customer);
    }

    fn refreshed_lock(
        &self,
    ) -> std::sync::MutexGuard<'_, HashMap<CustomerId, chrono::DateTime<chrono::Utc>>> {
        // Only inserts and removes happen under it: a panic elsewhere leaves it consistent.
        self.refreshed.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Lets confirmed transfers execute through `service` (set once, at start-up).
    pub fn set_transfers(&self, service: Arc<dyn crate::transfer::Transfers>) {
        if self.transfers.set(service).is_err() {
            tracing::warn!("the transfers service was already set");
        }
    }

    /// Keeps conversation state in `store` between messages, so any instance sharing it can
    /// continue any conversation (set once, at start-up, before the first message). Also purges
    /// idle conversations from it every few minutes.
    pub fn set_conversations(
        self: &Arc<Self>,
        store: Arc<dyn crate::conversations::ConversationStore>,
    ) {
        if self.conversations.set(store).is_err() {
            tracing::warn!("the conversation store was already set");
            return;
        }
        if tokio::runtime::Handle::try_current().is_ok() {
            tokio::spawn(Engine::purge_idle(Arc::downgrade(self)));
        }
    }

    /// Deletes stored conversations idle past the expiry, until the engine is dropped.
    async fn purge_idle(engine: std::sync::Weak<Engine>) {
        loop {
            tokio::time::sleep(PURGE_EVERY).await;
            let Some(engine) = engine.upgrade() else {
                return;
            };
            let Some(store) = engine.conversations.get() else {
                return;
            };
            let before = engine.clock.now() - persist::idle_expiry();
            match store.purge_idle(before).await {
                Ok(0) => {}
                Ok(n) => tracing::debug!(purged = n, "idle conversations purged"),
                Err(e) => tracing::warn!(error = %e, "idle conversations not purged"),
            }
        }
    }

    /// Lets customers pay merchants' payment requests through `service` (set once, at start-up).
    pub fn set_checkout(&self, service: Arc<dyn crate::checkout::Checkout>) {
        if self.checkout.set(service).is_err() {
            tracing::warn!("the checkout service was already set");
        }
    }

    /// The customer's conversation language (the configured default until they spoke).
    pub async fn customer_lang(&self, customer: CustomerId) -> Lang {
        self.lang_of(customer).await
    }

    /// Drops what the conversation remembers of the customer's financial data.
    async fn forget(&self, customer: CustomerId) {
        self.refreshed_lock().remove(&customer);
        let entry = self.state(customer).await;
        let mut c = entry.lock().await;
        // Twice at most: when another instance wrote meanwhile, forget on its state.
        for _ in 0..2 {
            self.sync_in(customer, &mut c).await;
            forget_financial(&mut c.st);
            if self.sync_out(customer, &mut c).await == persist::Written::Done {
                return;
            }
            Engine::invalidate(&mut c);
        }
    }

    /// The customer's entry in memory (made empty when new; read from the store when used).
    async fn state(&self, customer: CustomerId) -> Arc<Mutex<persist::Cached>> {
        let mut states = self.states.lock().await;
        if states.len() >= MAX_CACHED && !states.contains_key(&customer) {
            let now = self.clock.now();
            states.retain(|_, e| {
                Arc::strong_count(e) > 1 || e.try_lock().map_or(true, |c| !c.idle(now))
            });
        }
        states.entry(customer).or_default().clone()
    }

    /// Whether the customer asked for a person since the last call (and forgets it): the
    /// handover wrapper asks after each event it passed to the engine.
    pub async fn take_handover_request(&self, customer: CustomerId) -> bool {
        let entry = self.state(customer).await;
        let mut c = entry.lock().await;
        std::mem::take(&mut c.st.wants_human)
    }

    pub(crate) fn today(&self) -> chrono::NaiveDate {
        format::local_date(self.clock.now(), self.config.timezone)
    }

    fn present(&self) -> Presence {
        Presence::CustomerPresent {
            ip: self.config.psu_ip.clone(),
        }
    }

    /// A gate request for the customer's own data, naming where it will be shown.
    pub(crate) fn req(
        &self,
        customer: CustomerId,
        via: ChannelInfo,
        purpose: Purpose,
    ) -> AccessRequest {
        AccessRequest::customer_via(customer, purpose, crate::masking::shown_in(via))
    }

    /// The bank redirected the customer back with a code (or an error). Finishes the link,
    /// pushes the account list into the customer's chat, and says what the page should show.
    pub async fn consent_callback(
        self: &Arc<Self>,
        state: &str,
        code: Option<&str>,
        error: Option<&str>,
    ) -> CallbackOutcome {
        match (code, error) {
            (Some(code), None) => match self.bank.complete_link(state, code).await {
                Ok(done) => {
                    let lang = self.lang_of(done.customer).await;
                    let reply = self.linked_reply(done.customer, lang).await;
                    self.outbox.push(done.customer, reply);
                    CallbackOutcome::Linked { lang }
                }
                Err(e) => {
                    tracing::warn!(error = %e, "consent callback failed");
                    CallbackOutcome::Failed
                }
            },
            (_, Some(err)) => {
                match self.bank.fail_link(state, err).await {
                    Ok(customer) => {
                        let lang = self.lang_of(customer).await;
                        self.outbox.push(
                            customer,
                            Reply::text(texts::LINK_REJECTED.pick(lang)).with_quick_replies(vec![
                                qr(texts::QR_LINK, lang, "intent:link_bank"),
                            ]),
                        );
                        CallbackOutcome::Rejected { lang }
                    }
                    Err(_) => CallbackOutcome::Failed,
                }
            }
            _ => CallbackOutcome::Failed,
        }
    }

    /// The customer's language as the conversation settled it.
    pub async fn lang_of(&self, customer: CustomerId) -> Lang {
        let entry = self.state(customer).await;
        let mut c = entry.lock().await;
        if !c.is_loaded() {
            // Not read here yet: the conversation may have been held by another instance.
            self.sync_in(customer, &mut c).await;
        }
        c.st.lang.unwrap_or(self.config.default_lang)
    }

    async fn linked_reply(&self, customer: CustomerId, lang: Lang) -> Reply {
        match self
            .gate
            // Read for the chat; a channel that may not show it masks the push when delivering
            // it (`Conversation::prepare_push`), and its view link is decided again when opened.
            .accounts(&self.req(customer, ChannelInfo::WEB_CHAT, Purpose::ServiceBalance))
            .await
        {
            Ok(accounts) => render::linked(lang, accounts.data()),
            Err(e) => self.access_error_reply(e, lang),
        }
    }

    pub(crate) fn access_error_reply(&self, e: AccessError, lang: Lang) -> Reply {
        match e {
            AccessError::Denied(_) => Reply::text(texts::NOT_LINKED.pick(lang))
                .with_quick_replies(vec![qr(texts::QR_LINK, lang, "intent:link_bank")]),
            AccessError::WrongPurpose | AccessError::Store(_) => {
                tracing::error!(error = %e, "privacy gate read failed");
                Reply::text(texts::INTERNAL_ERROR.pick(lang))
            }
        }
    }

    async fn dispatch(
        &self,
        customer: CustomerId,
        via: ChannelInfo,
        st: &mut DialogState,
        parse: Parse,
    ) -> Vec<Reply> {
        let lang = st.lang.unwrap_or(self.config.default_lang);
        summary::note(st, &parse);
        let sure = parse.confidence >= Nlu::LOW_CONFIDENCE || parse.alternatives.len() <= 1;
        if let Some(ask) = crate::cards::ask(&parse.text, sure.then_some(parse.intent)) {
            st.misunderstandings = 0;
            return self
                .cards_ask(customer, via, &mut st.cards, lang, ask)
                .await;
        }
        if let Some(replies) = self
            .category_text(customer, via, &mut st.categories, lang, &parse)
            .await
        {
            st.misunderstandings = 0;
            return replies;
        }
        if parse.intent == Intent::OutOfScope {
            st.misunderstandings += 1;
            if st.misunderstandings >= 2 {
                return vec![crate::handover::ask_human(lang)];
            }
            return vec![
                Reply::text(texts::OUT_OF_SCOPE.pick(lang)).with_quick_replies(main_menu(lang)),
            ];
        }
        if parse.confidence < Nlu::LOW_CONFIDENCE && parse.alternatives.len() > 1 {
            st.misunderstandings += 1;
            if st.misunderstandings >= 2 {
                return vec![crate::handover::ask_human(lang)];
            }
            let options = parse
                .alternatives
                .iter()
                .filter(|(i, _)| *i != Intent::OutOfScope)
                .take(3)
                .map(|(i, _)| {
                    QuickReply::new(intent_label(*i, lang), format!("intent:{}", i.as_str()))
                })
                .collect();
            return vec![Reply::text(texts::DID_YOU_MEAN.pick(lang)).with_quick_replies(options)];
        }
        st.misunderstandings = 0;
        match parse.intent {
            Intent::Greeting => {
                vec![Reply::text(texts::GREETING.pick(lang)).with_quick_replies(main_menu(lang))]
            }
            Intent::Thanks => vec![Reply::text(texts::THANKS.pick(lang))],
            Intent::Help => {
                vec![Reply::text(texts::HELP.pick(lang)).with_quick_replies(main_menu(lang))]
            }
            Intent::LinkBank => vec![self.link(customer, lang).await],
            Intent::Balance => self.balance(customer, via, lang).await,
            Intent::SpendingSummary => {
                self.spending_summary(customer, via, lang, &parse, &mut st.categories)
                    .await
            }
            Intent::Transactions => self.transactions(customer, via, st, lang, &parse).await,
            Intent::RevokeConsent => vec![self.revoke(customer, st, lang).await],
            Intent::AccessLog => vec![self.access_log(customer, lang).await],
            Intent::ScamCheck => vec![self.scam_check(st, lang, &parse.text)],
            Intent::Transfer => self.start_transfer(customer, via, st, &parse, lang).await,
            Intent::AlertSettings => self.alert_settings(customer, lang, &parse).await,
            Intent::Agent => {
                st.wants_human = true;
                vec![crate::handover::to_human(lang)]
            }
            _ => vec![Reply::text(texts::NOT_YET.pick(lang)).with_quick_replies(main_menu(lang))],
        }
    }

    async fn link(&self, customer: CustomerId, lang: Lang) -> Reply {
        let status = match self.bank.status(customer).await {
            Ok(s) => s,
            Err(e) => return self.bank_error_reply(customer, e, lang, false),
        };
        if let LinkStatus::Linked { .. } = status {
            return Reply::text(texts::ALREADY_LINKED.pick(lang))
                .with_quick_replies(main_menu(lang));
        }
        match self.bank.start_link(customer, &self.config.psu_ip).await {
            Ok(start) => {
                let intro = if matches!(status, LinkStatus::Pending) {
                    texts::LINK_PENDING
                } else {
                    texts::LINK_INTRO
                };
                render::link(
                    lang,
                    intro.pick(lang),
                    texts::LINK_LABEL.pick(lang),
                    &start.url,
                )
            }
            Err(e) => self.bank_error_reply(customer, e, lang, false),
        }
    }

    /// Refreshes from the bank with the customer present. Returns a note to show beside
    /// synced data when the bank could not be reached, or a reply that replaces the answer.
    pub(crate) async fn refresh(
        &self,
        customer: CustomerId,
        lang: Lang,
    ) -> Result<Option<Reply>, Reply> {
        let window = self.config.refresh_after;
        let now = self.clock.now();
        if !window.is_zero()
            && let Some(at) = self.refreshed_lock().get(&customer)
            && (now - *at).to_std().is_ok_and(|age| age < window)
        {
            return Ok(None);
        }
        // Boxed: a bank sync is a future of ~10 KB, and every answer that may refresh (balance,
        // transactions, summaries) would otherwise carry it, and copy it, even when fresh.
        match Box::pin(self.bank.refresh(customer, self.present())).await {
            Ok(_) => {
                if !window.is_zero() {
                    let mut fresh = self.refreshed_lock();
                    if fresh.len() >= MAX_REFRESHED {
                        fresh.retain(|_, at| (now - *at).to_std().is_ok_and(|age| age < window));
                    }
                    fresh.insert(customer, now);
                }
                Ok(None)
            }
            Err(BankError::BankUnavailable) => {
                self.schedule_retry(customer, lang);
                Ok(Some(Reply::text(texts::BANK_DOWN_STALE.pick(lang))))
            }
            Err(BankError::AccessExceeded) => {
                Ok(Some(Reply::text(texts::ACCESS_EXCEEDED.pick(lang))))
            }
            Err(e) => Err(self.bank_error_reply(customer, e, lang, true)),
        }
    }

    async fn balance(&self, customer: CustomerId, via: ChannelInfo, lang: Lang) -> Vec<Reply> {
        let mut out = Vec::new();
        match self.refresh(customer, lang).await {
            Ok(Some(note)) => out.push(note),
            Ok(None) => {}
            Err(reply) => return vec![reply],
        }
        match self
            .gate
            .balances(&self.req(customer, via, Purpose::ServiceBalance))
            .await
        {
            Ok(data) => out.push(render::balances(
                lang,
                data.data(),
                self.config.timezone,
                self.clock.now(),
            )),
            Err(e) => out.push(self.access_error_reply(e, lang)),
        }
        out
    }

    async fn transactions(
        &self,
        customer: CustomerId,
        via: ChannelInfo,
        st: &mut DialogState,
        lang: Lang,
        parse: &Parse,
    ) -> Vec<Reply> {
        let mut out = Vec::new();
        match self.refresh(customer, lang).await {
            Ok(Some(note)) => out.push(note),
            Ok(None) => {}
            Err(reply) => return vec![reply],
        }
        // Match the customer's words against their own merchants, read through the gate.
        let parse = match self
            .gate
            .merchants(&self.req(customer, via, Purpose::ServiceTransactions))
            .await
        {
            Ok(m) => self.nlu.parse(&parse.text, self.today(), m.data()),
            Err(e) => return vec![self.access_error_reply(e, lang)],
        };
        let filter = filter_from(&parse, st.last_filter.as_ref());
        let purpose = if parse.intent == Intent::SpendingSummary {
            Purpose::ServiceSpendingSummary
        } else {
            Purpose::ServiceTransactions
        };
        match self
            .gate
            .transactions(&self.req(customer, via, purpose), &filter, 0, MAX_ROWS)
            .await
        {
            Ok(page) => {
                let page = page.into_data();
                st.last_ids = page.transactions.iter().map(|t| t.id).collect();
                st.last_rows = page.transactions;
                st.last_summary = purpose == Purpose::ServiceSpendingSummary;
                st.last_filter = Some(filter);
                out.push(render::transactions(
                    lang,
                    &st.last_rows,
                    page.total,
                    0,
                    PAGE_SIZE,
                ));
            }
            Err(e) => out.push(self.access_error_reply(e, lang)),
        }
        out
    }

    async fn revoke(&self, customer: CustomerId, st: &mut DialogState, lang: Lang) -> Reply {
        self.refreshed_lock().remove(&customer);
        match self.bank.revoke(customer).await {
            Ok(report) if report.consents == 0 => Reply::text(texts::NOTHING_TO_REVOKE.pick(lang)),
            Ok(_) => {
                forget_financial(st);
                Reply::text(texts::REVOKED.pick(lang)).with_quick_replies(vec![qr(
                    texts::QR_LINK,
                    lang,
                    "intent:link_bank",
                )])
            }
            Err(e) => self.bank_error_reply(customer, e, lang, false),
        }
    }

    /// Checks a link or message the customer brought. Nothing of it is stored or logged.
    fn scam_check(&self, st: &mut DialogState, lang: Lang, text: &str) -> Reply {
        let verdict = self.guard.check(text);
        if verdict.reasons.is_empty() && !st.awaiting_scam_check {
            // "Is this link safe?" with no link yet: ask for it, and check the next message.
            st.awaiting_scam_check = true;
            return Reply::text(texts::PASTE_TO_CHECK.pick(lang));
        }
        st.awaiting_scam_check = false;
        Reply::text(verdict.explain(lang))
    }

    async fn access_log(&self, customer: CustomerId, lang: Lang) -> Reply {
        match self.gate.access_log(customer).await {
            Ok(entries) => render::access_log(lang, entries.data(), self.config.timezone),
            Err(e) => self.access_error_reply(e, lang),
        }
    }

    pub(crate) fn bank_error_reply(
        &self,
        customer: CustomerId,
        e: BankError,
        lang: Lang,
        retry: bool,
    ) -> Reply {
        match e {
            BankError::NotLinked => Reply::text(texts::NOT_LINKED.pick(lang))
                .with_quick_replies(vec![qr(texts::QR_LINK, lang, "intent:link_bank")]),
            BankError::ConsentExpired => Reply::text(texts::CONSENT_EXPIRED.pick(lang))
                .with_quick_replies(vec![qr(texts::QR_RETRY_LINK, lang, "intent:link_bank")]),
            BankError::RevokedAtBank => Reply::text(texts::REVOKED_AT_BANK.pick(lang))
                .with_quick_replies(vec![qr(texts::QR_LINK, lang, "intent:link_bank")]),
            BankError::BankUnavailable => {
                if retry {
                    self.schedule_retry(customer, lang);
                }
                Reply::text(texts::BANK_DOWN.pick(lang))
            }
            BankError::AccessExceeded => Reply::text(texts::ACCESS_EXCEEDED.pick(lang)),
            BankError::BadBankData => Reply::text(texts::BAD_BANK_DATA.pick(lang)),
            other => {
                tracing::error!(error = %other, "bank operation failed");
                Reply::text(texts::INTERNAL_ERROR.pick(lang))
            }
        }
    }

    /// The bank was down: try again later, and tell the customer when it is back.
    fn schedule_retry(&self, customer: CustomerId, lang: Lang) {
        let bank = self.bank.clone();
        let outbox = self.outbox.clone();
        let wait = self.config.retry_after;
        let ip = self.config.psu_ip.clone();
        tokio::spawn(async move {
            for attempt in 0..5u32 {
                tokio::time::sleep(wait * (attempt + 1)).await;
                match bank
                    .refresh(customer, Presence::CustomerPresent { ip: ip.clone() })
                    .await
                {
                    Ok(_) => {
                        outbox.push(customer, Reply::text(texts::BANK_BACK.pick(lang)));
                        return;
                    }
                    Err(BankError::BankUnavailable) => continue,
                    Err(_) => return,
                }
            }
        });
    }

    /// The page at `offset` of the last transactions answer. The rows are in memory when that
    /// answer was given here; otherwise (another instance gave it) the same question is read
    /// again through the privacy gate, and the stored ids pick and order the rows shown then.
    async fn next_page(
        &self,
        customer: CustomerId,
        via: ChannelInfo,
        st: &mut DialogState,
        lang: Lang,
        offset: usize,
    ) -> Reply {
        if st.last_rows.len() != st.last_ids.len() {
            let purpose = if st.last_summary {
                Purpose::ServiceSpendingSummary
            } else {
                Purpose::ServiceTransactions
            };
            let filter = st.last_filter.clone().unwrap_or_default();
            match self
                .gate
                .transactions(&self.req(customer, via, purpose), &filter, 0, MAX_ROWS)
                .await
            {
                Ok(page) => {
                    let mut by_id: HashMap<TransactionId, Transaction> = page
                        .into_data()
                        .transactions
                        .into_iter()
                        .map(|t| (t.id, t))
                        .collect();
                    st.last_rows = st
                        .last_ids
                        .iter()
                        .filter_map(|id| by_id.remove(id))
                        .collect();
                    // Rows gone since (erased, or no longer matching) are left out for good.
                    st.last_ids = st.last_rows.iter().map(|t| t.id).collect();
                }
                Err(e) => return self.access_error_reply(e, lang),
            }
            if offset >= st.last_rows.len() {
                return Reply::text(texts::TX_NONE.pick(lang));
            }
        }
        render::transactions(
            lang,
            &st.last_rows,
            st.last_rows.len() as u64,
            offset,
            PAGE_SIZE,
        )
    }
}

/// Drops what the conversation remembers of the customer's financial data (revoked, erased).
fn forget_financial(st: &mut DialogState) {
    st.last_rows.clear();
    st.last_ids.clear();
    st.last_filter = None;
    st.categories.forget();
}

fn qr(label: T, lang: Lang, payload: &str) -> QuickReply {
    QuickReply::new(label.pick(lang), payload)
}

fn main_menu(lang: Lang) -> Vec<QuickReply> {
    vec![
        qr(texts::QR_BALANCE, lang, "intent:balance"),
        qr(texts::QR_TRANSACTIONS, lang, "intent:transactions"),
        qr(texts::QR_LINK, lang, "intent:link_bank"),
        qr(texts::QR_HELP, lang, "intent:help"),
    ]
}

/// Builds the filter for a transactions question. A follow-up that names only new dates
/// ("a w zeszłym miesiącu?") keeps the rest of the previous question.
fn filter_from(parse: &Parse, previous: Option<&TxFilter>) -> TxFilter {
    let s = &parse.slots;
    let only_dates = s.merchant.is_none()
        && s.amount_min.is_none()
        && s.amount_max.is_none()
        && s.amount.is_none()
        && (s.date_from.is_some() || s.date_to.is_some());
    let follow_up = only_dates && parse.text.split_whitespace().count() <= 5;
    let mut f = match (follow_up, previous) {
        (true, Some(prev)) => prev.clone(),
        _ => TxFilter::default(),
    };
    if s.date_from.is_some() || s.date_to.is_some() {
        f.date_from = s.date_from;
        f.date_to = s.date_to;
    }
    if s.merchant.is_some() {
        f.merchant = s.merchant.clone();
    }
    if s.amount_min.is_some() {
        f.amount_min = s.amount_min;
    }
    if s.amount_max.is_some() {
        f.amount_max = s.amount_max;
    }
    if s.currency.is_some() && (s.amount_min.is_some() || s.amount_max.is_some()) {
        f.currency = s.currency;
    }
    f
}

#[async_trait]
impl Conversation for Engine {
    async fn handle(
        &self,
        customer: CustomerId,
        via: ChannelInfo,
        lang_hint: Option<Lang>,
        event: InboundEvent,
    ) -> Vec<Reply> {
        // Reads inside return once their audit row is queued; the replies leave only when every
        // row is durable (issue 4: the gate's overhead stays off the read path).
        let answered = self
            .gate
            .deferred_audit(async {
                let replies = self.respond(customer, via, lang_hint, event).await;
                let lang = self.lang_of(customer).await;
                crate::masking::apply(&self.gate, &self.config.view, customer, via, lang, replies)
                    .await
            })
            .await;
        match answered {
            Ok(replies) => replies,
            Err(e) => {
                tracing::error!(error = %e, "replies held back: their audit rows were not written");
                let lang = self.lang_of(customer).await;
                vec![Reply::text(texts::INTERNAL_ERROR.pick(lang))]
            }
        }
    }

    async fn prepare_push(&self, customer: CustomerId, via: ChannelInfo, reply: Reply) -> Reply {
        let lang = self.lang_of(customer).await;
        crate::masking::apply_one(&self.gate, &self.config.view, customer, via, lang, reply).await
    }
}

impl Engine {
    /// Opens a masked reply's view link (`/view/{token}`): once, through the gate, audited.
    pub async fn open_view(&self, token: &str) -> crate::masking::ViewPage {
        let page = self
            .gate
            .deferred_audit(crate::masking::open(
                &self.gate,
                &*self.outbox,
                self.config.timezone,
                token,
            ))
            .await;
        page.unwrap_or_else(|e| {
            tracing::error!(error = %e, "view page held back: its audit row was not written");
            crate::masking::ViewPage::Unavailable
        })
    }

    /// The answer to one event, before masking for the channel. The customer's state is
    /// brought up to date from the conversation store first and written back after; when
    /// another instance wrote it meanwhile, the event is answered again, once, on that state
    /// (actions are bound to ids kept in the state, so nothing runs twice).
    async fn respond(
        &self,
        customer: CustomerId,
        via: ChannelInfo,
        lang_hint: Option<Lang>,
        event: InboundEvent,
    ) -> Vec<Reply> {
        let entry = self.state(customer).await;
        let mut c = entry.lock().await;
        self.sync_in(customer, &mut c).await;
        let replies = self
            .respond_on(customer, via, lang_hint, event.clone(), &mut c.st)
            .await;
        if self.sync_out(customer, &mut c).await == persist::Written::Done {
            return replies;
        }
        tracing::warn!(%customer, "conversation changed on another instance meanwhile; answering on its state");
        Engine::invalidate(&mut c);
        self.sync_in(customer, &mut c).await;
        let replies = self
            .respond_on(customer, via, lang_hint, event, &mut c.st)
            .await;
        if self.sync_out(customer, &mut c).await == persist::Written::Conflict {
            tracing::warn!(%customer, "conversation changed again meanwhile; keeping the stored state");
            Engine::invalidate(&mut c);
            self.sync_in(customer, &mut c).await;
        }
        replies
    }

    async fn respond_on(
        &self,
        customer: CustomerId,
        via: ChannelInfo,
        lang_hint: Option<Lang>,
        event: InboundEvent,
        st: &mut DialogState,
    ) -> Vec<Reply> {
        if st.lang.is_none() {
            st.lang = lang_hint;
        }
        let lang = st.lang.unwrap_or(self.config.default_lang);
        if let InboundEvent::Text(t) = &event {
            st.recent_texts.push(t);
        }
        if let Some(replies) = crate::checkout::handle(
            self.checkout.get().map(|c| c.as_ref()),
            customer,
            lang,
            &event,
        )
        .await
        {
            return replies;
        }
        match self.form_step(customer, via, st, lang, &event).await {
            FormStep::Done(replies) => return replies,
            FormStep::Aside(parse) => {
                let mut replies = self.dispatch(customer, via, st, *parse).await;
                if st.form.is_some() {
                    replies.push(forms::reminder(lang));
                }
                return replies;
            }
            FormStep::Pass => {}
        }
        if let Some(replies) = self
            .card_event(customer, via, &mut st.cards, lang, &event)
            .await
        {
            return replies;
        }
        if let Some(replies) = self
            .category_button(customer, via, &mut st.categories, lang, &event)
            .await
        {
            return replies;
        }
        let parse = match event {
            InboundEvent::Text(text) if st.awaiting_scam_check => {
                return vec![self.scam_check(st, lang, &text)];
            }
            InboundEvent::Text(text) if asks_about_ads(&text) => {
                let lang = self.nlu.parse(&text, self.today(), &[]).lang;
                return vec![
                    Reply::text(texts::NO_ADS.pick(lang)).with_quick_replies(vec![qr(
                        texts::QR_ACCESS_LOG,
                        lang,
                        "intent:access_log",
                    )]),
                ];
            }
            InboundEvent::Text(text) => {
                let parse = self.nlu.parse(&text, self.today(), &[]);
                // Short messages ("ok", "saldo") say little about the language; keep the one we have.
                if st.lang.is_none() || text.split_whitespace().count() >= 2 {
                    st.lang = Some(parse.lang);
                }
                parse
            }
            InboundEvent::QuickReply(payload) => {
                if payload.starts_with("transfer:") {
                    return self.transfer_button(customer, lang, &payload).await;
                }
                if payload.starts_with("form:") {
                    // A button of a form that is no longer open: never act on it twice.
                    return vec![Reply::text(texts::FORM_STALE.pick(lang))];
                }
                if let Some(offset) = payload.strip_prefix("tx:page:") {
                    return match offset.parse::<usize>() {
                        Ok(o) if o < st.last_ids.len() => {
                            vec![self.next_page(customer, via, st, lang, o).await]
                        }
                        _ => vec![Reply::text(texts::TX_NONE.pick(lang))],
                    };
                }
                // A button names its intent: no need to guess it again.
                match payload.strip_prefix("intent:").and_then(Intent::parse) {
                    Some(intent) => Parse {
                        text: canonical_utterance(intent, lang).to_owned(),
                        lang,
                        intent,
                        confidence: 1.0,
                        slots: Default::default(),
                        alternatives: Vec::new(),
                    },
                    None => return vec![Reply::text(texts::OUT_OF_SCOPE.pick(lang))],
                }
            }
        };
        self.dispatch(customer, via, st, parse).await
    }
}

/// What a waiting form made of an event (crate::transfer decides).
pub(crate) enum FormStep {
    /// The form took the event and answered it.
    Done(Vec<Reply>),
    /// The customer asked something else; answer it and remind them of the form.
    Aside(Box<Parse>),
    /// No form is open, or the event is not about it.
    Pass,
}

/// What a quick-reply button means, as the customer would have typed it (kept as the parse's
/// text, which the transactions filter reads).
fn canonical_utterance(intent: Intent, lang: Lang) -> &'static str {
    match (intent, lang) {
        (Intent::Balance, Lang::Pl) => "pokaż saldo",
        (Intent::Balance, Lang::En) => "show my balance",
        (Intent::Transactions, Lang::Pl) => "pokaż transakcje",
        (Intent::Transactions, Lang::En) => "show my transactions",
        (Intent::SpendingSummary, Lang::Pl) => "ile wydałem w tym miesiącu",
        (Intent::SpendingSummary, Lang::En) => "how much did I spend this month",
        (Intent::LinkBank, Lang::Pl) => "połącz bank",
        (Intent::LinkBank, Lang::En) => "connect my bank",
        (Intent::RevokeConsent, Lang::Pl) => "odłącz bank",
        (Intent::RevokeConsent, Lang::En) => "disconnect my bank",
        (Intent::AccessLog, Lang::Pl) => "kto widział moje dane",
        (Intent::AccessLog, Lang::En) => "who has seen my data",
        (_, Lang::Pl) => "pomoc",
        (_, Lang::En) => "help",
    }
}

/// "Czy używacie moich danych do reklam?" / "Do you use my data for ads?": a question about the
/// data's use that deserves the true answer, whatever the intent model makes of it.
fn asks_about_ads(text: &str) -> bool {
    let t = okienko_core::transaction::fold(text);
    let topic = [
        "reklam",
        "marketing",
        "advert",
        " ads",
        "ads?",
        "profilow",
        "profiling",
        "sprzeda",
    ]
    .iter()
    .any(|k| t.contains(k));
    let data = ["dane", "danych", "data", "informac"]
        .iter()
        .any(|k| t.contains(k));
    topic && data
}

/// The name of an intent on a "did you mean" button.
fn intent_label(intent: Intent, lang: Lang) -> &'static str {
    let t = match intent {
        Intent::Greeting => T("Przywitanie", "Greeting"),
        Intent::Thanks => T("Podziękowanie", "Thanks"),
        Intent::Help => T("Pomoc", "Help"),
        Intent::LinkBank => T("Połącz bank", "Connect bank"),
        Intent::Balance => T("Saldo", "Balance"),
        Intent::Transactions => T("Transakcje", "Transactions"),
        Intent::SpendingSummary => T("Moje wydatki", "Spending summary"),
        Intent::CardBlock => T("Zablokuj kartę", "Block card"),
        Intent::CardUnblock => T("Odblokuj kartę", "Unblock card"),
        Intent::Transfer => T("Przelew", "Transfer"),
        Intent::Agent => T("Konsultant", "Talk to a person"),
        Intent::ReportFraud => T("Zgłoś oszustwo", "Report fraud"),
        Intent::ScamCheck => T("Sprawdź link", "Check a link"),
        Intent::AlertSettings => T("Powiadomienia", "Alerts"),
        Intent::RevokeConsent => T("Odłącz bank", "Disconnect bank"),
        Intent::AccessLog => T("Kto widział dane?", "Who saw my data"),
        Intent::OutOfScope => T("Coś innego", "Something else"),
    };
    t.pick(lang)
}
