//! The wrapper around the bot: one owner per conversation (bot, a person, or nobody while
//! queued), routing each customer event to whoever owns it.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use okienko_core::{CustomerId, Lang};
use okienko_dialog::fraud::CaseEscalation;
use okienko_dialog::{ChannelInfo, Conversation, Engine, InboundEvent, Outbox, QuickReply, Reply};
use okienko_privacy::FraudCaseId;
use okienko_privacy::support::{
    ConversationStatus, Sender, Staff, SupportConversation, SupportDesk, SupportError,
    TranscriptLine, TransferTarget,
};

use crate::config::AgentsConfig;
use crate::hub::{Hub, HubEvent};
use crate::texts::{self, T};

/// Lines of bot conversation kept per customer, copied into the transcript at handover so the
/// agent sees what led to it.
const RECENT_LINES: usize = 6;
/// A typing customer is looked up (and shown to the agent) at most this often.
const TYPING_EVERY: Duration = Duration::from_secs(1);

/// Why a conversation went to people.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HandoverReason {
    /// "Chcę rozmawiać z konsultantem", or the button after two misunderstandings.
    CustomerAsked,
    /// A fraud case: the gateway's own decision.
    Fraud,
}

impl HandoverReason {
    pub fn as_str(&self) -> &'static str {
        match self {
            HandoverReason::CustomerAsked => "customer_asked",
            HandoverReason::Fraud => "fraud",
        }
    }
}

const BACK: &str = "handover:back";
const LEAVE_MESSAGE: &str = "handover:leave_message";
const CALLBACK: &str = "handover:callback";

fn qr(t: T, lang: Lang, payload: &str) -> QuickReply {
    QuickReply::new(t.pick(lang), payload)
}

/// Routes customer events to the bot or to the bank's staff. Channels attach this instead of the
/// engine; the console works through it too.
pub struct Handover {
    engine: Arc<Engine>,
    desk: SupportDesk,
    outbox: Arc<dyn Outbox>,
    hub: Hub,
    config: AgentsConfig,
    /// Customers who chose "leave a message" and whose next text is that message.
    leaving_message: Mutex<HashSet<CustomerId>>,
    /// The last few lines of each customer's bot conversation (in memory only).
    recent: Mutex<HashMap<CustomerId, VecDeque<(Sender, String)>>>,
    /// When each customer's typing was last passed on.
    typing: Mutex<HashMap<CustomerId, Instant>>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Handover {
    pub fn new(
        engine: Arc<Engine>,
        desk: SupportDesk,
        outbox: Arc<dyn Outbox>,
        config: AgentsConfig,
    ) -> Arc<Handover> {
        Arc::new(Handover {
            engine,
            desk,
            outbox,
            hub: Hub::default(),
            config,
            leaving_message: Mutex::new(HashSet::new()),
            recent: Mutex::new(HashMap::new()),
            typing: Mutex::new(HashMap::new()),
        })
    }

    pub fn desk(&self) -> &SupportDesk {
        &self.desk
    }

    pub fn hub(&self) -> &Hub {
        &self.hub
    }

    pub fn config(&self) -> &AgentsConfig {
        &self.config
    }

    /// The bot, for the summary the agent gets.
    pub(crate) fn engine(&self) -> &Engine {
        &self.engine
    }

    fn changed(&self) {
        self.hub.publish(HubEvent::Changed {
            bank: self.config.bank.clone(),
        });
    }

    fn remember(&self, customer: CustomerId, sender: Sender, text: String) {
        let mut recent = lock(&self.recent);
        let lines = recent.entry(customer).or_default();
        lines.push_back((sender, text));
        while lines.len() > RECENT_LINES {
            lines.pop_front();
        }
    }

    fn estimate_minutes(&self, position: usize) -> usize {
        (position.max(1)) * self.config.minutes_per_customer as usize
    }

    async fn queue_reply(&self, conv: &SupportConversation, text: T) -> Reply {
        let position = self.desk.queue_position(conv).await.unwrap_or(0).max(1);
        let body = text
            .pick(conv.lang)
            .replace("{n}", &position.to_string())
            .replace("{m}", &self.estimate_minutes(position).to_string());
        Reply::text(body).with_quick_replies(vec![qr(texts::QR_BACK, conv.lang, BACK)])
    }

    fn failed(&self, e: SupportError, lang: Lang) -> Vec<Reply> {
        tracing::error!(error = %e, "support desk failed");
        vec![Reply::text(texts::TRY_AGAIN.pick(lang))]
    }

    /// Queues the customer for a person (or, outside business hours, offers a message or a
    /// callback). Returns what to tell the customer. Other code — a fraud case — calls this.
    pub async fn request_handover(
        &self,
        customer: CustomerId,
        reason: HandoverReason,
        lang: Lang,
    ) -> Vec<Reply> {
        if let Some(hours) = &self.config.hours
            && !hours.is_open(self.desk.now())
        {
            let text = texts::OFFLINE
                .pick(lang)
                .replace("{hours}", &hours.describe(lang == Lang::Pl));
            return vec![Reply::text(text).with_quick_replies(vec![
                qr(texts::QR_LEAVE_MESSAGE, lang, LEAVE_MESSAGE),
                qr(texts::QR_CALLBACK, lang, CALLBACK),
            ])];
        }
        let conv = match self
            .desk
            .request(
                customer,
                &self.config.bank,
                &self.config.default_team,
                reason.as_str(),
                lang,
                false,
            )
            .await
        {
            Ok(c) => c,
            Err(e) => return self.failed(e, lang),
        };
        // What led here, for the agent's summary (the bot's side of the chat).
        let recent: Vec<(Sender, String)> = lock(&self.recent)
            .remove(&customer)
            .map(|d| d.into_iter().collect())
            .unwrap_or_default();
        for (sender, text) in recent {
            if let Err(e) = self.desk.system_says(&conv, sender, &text).await {
                tracing::warn!(error = %e, "could not copy the bot conversation");
            }
        }
        self.changed();
        let mut out = Vec::new();
        if reason == HandoverReason::Fraud {
            out.push(Reply::text(texts::FRAUD.pick(lang)));
        }
        out.push(self.queue_reply(&conv, texts::QUEUED).await);
        out
    }

    async fn back_to_bot(&self, customer: CustomerId, lang: Lang) -> Vec<Reply> {
        match self.desk.customer_leaves(customer).await {
            Ok(Some(conv)) => {
                self.hub.publish(HubEvent::Ended {
                    bank: conv.bank.clone(),
                    conversation: conv.id.clone(),
                    owner: conv.owner.clone(),
                    by_customer: true,
                });
                self.changed();
            }
            Ok(None) => {}
            Err(e) => return self.failed(e, lang),
        }
        vec![Reply::text(texts::BACK_TO_BOT.pick(lang))]
    }

    /// An event while a person (or the queue) owns the conversation.
    async fn to_people(&self, conv: SupportConversation, event: InboundEvent) -> Vec<Reply> {
        let lang = conv.lang;
        let text = match event {
            InboundEvent::QuickReply(p) if p == BACK => {
                return self.back_to_bot(conv.customer, lang).await;
            }
            InboundEvent::Text(t) if texts::asks_for_bot(&t) => {
                return self.back_to_bot(conv.customer, lang).await;
            }
            InboundEvent::Text(t) => t,
            // A button from an earlier bot answer: pass its meaning on as text.
            InboundEvent::QuickReply(p) => p,
        };
        let line = match self.desk.customer_says(&conv, &text).await {
            Ok(l) => l,
            Err(SupportError::Invalid(_)) => return Vec::new(),
            Err(e) => return self.failed(e, lang),
        };
        self.hub.publish(HubEvent::Line {
            bank: conv.bank.clone(),
            conversation: conv.id.clone(),
            owner: conv.owner.clone(),
            line,
        });
        match conv.status {
            ConversationStatus::Queued => vec![self.queue_reply(&conv, texts::STILL_QUEUED).await],
            // The agent answers; nothing from the bot.
            _ => Vec::new(),
        }
    }

    /// Outside business hours: the customer's message or callback request is kept for staff.
    async fn offline(
        &self,
        customer: CustomerId,
        lang: Lang,
        reason: &str,
        text: &str,
    ) -> Vec<Reply> {
        let conv = match self
            .desk
            .request(
                customer,
                &self.config.bank,
                &self.config.default_team,
                reason,
                lang,
                true,
            )
            .await
        {
            Ok(c) => c,
            Err(e) => return self.failed(e, lang),
        };
        if let Err(e) = self.desk.customer_says(&conv, text).await {
            return self.failed(e, lang);
        }
        self.changed();
        let t = if reason == "callback_request" {
            texts::CALLBACK_NOTED
        } else {
            texts::MESSAGE_LEFT
        };
        vec![Reply::text(t.pick(lang))]
    }

    // ------------------------------------------------------------ staff side

    /// The console's claim: the customer is told who joined.
    pub async fn claim(&self, me: &Staff, id: &str) -> Result<SupportConversation, SupportError> {
        let conv = self.desk.claim(me, id).await?;
        let text = texts::AGENT_JOINED
            .pick(conv.lang)
            .replace("{name}", &me.display_name);
        if let Ok(line) = self.desk.system_says(&conv, Sender::System, &text).await {
            self.hub.publish(HubEvent::Line {
                bank: conv.bank.clone(),
                conversation: conv.id.clone(),
                owner: conv.owner.clone(),
                line,
            });
        }
        self.outbox.push(conv.customer, Reply::text(text));
        self.changed();
        Ok(conv)
    }

    /// An agent's reply, delivered to the customer's chat.
    pub async fn reply(
        &self,
        me: &Staff,
        id: &str,
        text: &str,
    ) -> Result<TranscriptLine, SupportError> {
        let (conv, line) = self.desk.reply(me, id, text).await?;
        self.outbox.push(
            conv.customer,
            Reply::text(format!("{}: {}", me.display_name, line.text)),
        );
        self.hub.publish(HubEvent::Line {
            bank: conv.bank.clone(),
            conversation: conv.id.clone(),
            owner: conv.owner.clone(),
            line: line.clone(),
        });
        Ok(line)
    }

    pub async fn note(
        &self,
        me: &Staff,
        id: &str,
        text: &str,
    ) -> Result<TranscriptLine, SupportError> {
        let line = self.desk.note(me, id, text).await?;
        self.hub.publish(HubEvent::Line {
            bank: me.bank.clone(),
            conversation: id.to_owned(),
            owner: Some(me.id.clone()),
            line: line.clone(),
        });
        Ok(line)
    }

    pub async fn transfer(
        &self,
        me: &Staff,
        id: &str,
        target: &TransferTarget,
    ) -> Result<SupportConversation, SupportError> {
        let conv = self.desk.transfer(me, id, target).await?;
        self.changed();
        Ok(conv)
    }

    /// Closes the conversation: the bot owns the chat again and asks for a CSAT score.
    pub async fn close(
        &self,
        me: &Staff,
        id: &str,
        resolution: &str,
    ) -> Result<SupportConversation, SupportError> {
        let conv = self.desk.close(me, id, resolution).await?;
        let lang = conv.lang;
        let scores = (1..=5)
            .map(|n| QuickReply::new(n.to_string(), format!("csat:{}:{n}", conv.id)))
            .collect();
        self.outbox.push(
            conv.customer,
            Reply::text(texts::CLOSED.pick(lang)).with_quick_replies(scores),
        );
        self.hub.publish(HubEvent::Ended {
            bank: conv.bank.clone(),
            conversation: conv.id.clone(),
            owner: Some(me.id.clone()),
            by_customer: false,
        });
        self.changed();
        Ok(conv)
    }

    /// The agent is typing: the customer's chat shows it.
    pub async fn agent_typing(&self, me: &Staff, id: &str) -> Result<(), SupportError> {
        let conv = self.desk.conversation(id).await?;
        if conv.bank != me.bank
            || conv.owner.as_deref() != Some(me.id.as_str())
            || conv.status != ConversationStatus::Active
        {
            return Err(SupportError::Forbidden);
        }
        self.outbox.typing(conv.customer);
        Ok(())
    }

    /// Flags conversations waiting past the SLA (the supervisor view shows them).
    pub async fn escalate_overdue(&self) -> Result<usize, SupportError> {
        let flagged = self
            .desk
            .escalate_overdue(&self.config.bank, self.config.sla)
            .await?;
        if !flagged.is_empty() {
            tracing::warn!(
                conversations = flagged.len(),
                "support conversations waited past the SLA"
            );
            self.changed();
        }
        Ok(flagged.len())
    }

    /// Runs the SLA check every `sla_check_every` until the handover is dropped.
    pub fn spawn_sla_worker(self: &Arc<Self>) {
        let weak = Arc::downgrade(self);
        let every = self.config.sla_check_every;
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(every);
            loop {
                tick.tick().await;
                let Some(h) = weak.upgrade() else { return };
                if let Err(e) = h.escalate_overdue().await {
                    tracing::warn!(error = %e, "SLA check failed");
                }
            }
        });
    }
}

#[async_trait]
impl Conversation for Handover {
    async fn handle(
        &self,
        customer: CustomerId,
        channel: ChannelInfo,
        lang_hint: Option<Lang>,
        event: InboundEvent,
    ) -> Vec<Reply> {
        let lang = lang_hint.unwrap_or(Lang::Pl);
        // A CSAT score for a closed conversation.
        if let InboundEvent::QuickReply(p) = &event
            && let Some(rest) = p.strip_prefix("csat:")
        {
            let (conv_lang, ok) = match rest.rsplit_once(':') {
                Some((id, n)) => {
                    let lang = self
                        .desk
                        .conversation(id)
                        .await
                        .map(|c| c.lang)
                        .unwrap_or(lang);
                    match n.parse::<u8>() {
                        Ok(n) => (lang, self.desk.record_csat(customer, id, n).await),
                        Err(_) => (lang, Err(SupportError::Invalid("score"))),
                    }
                }
                None => (lang, Err(SupportError::Invalid("score"))),
            };
            return match ok {
                Ok(true) => vec![Reply::text(texts::CSAT_THANKS.pick(conv_lang))],
                Ok(false) => vec![Reply::text(texts::CSAT_ALREADY.pick(conv_lang))],
                Err(SupportError::Invalid(_)) => {
                    vec![Reply::text(texts::CSAT_ALREADY.pick(conv_lang))]
                }
                Err(e) => self.failed(e, conv_lang),
            };
        }
        match &event {
            InboundEvent::QuickReply(p) if p == LEAVE_MESSAGE => {
                lock(&self.leaving_message).insert(customer);
                return vec![Reply::text(texts::WRITE_MESSAGE.pick(lang))];
            }
            InboundEvent::QuickReply(p) if p == CALLBACK => {
                let text = texts::QR_CALLBACK.pick(lang);
                return self.offline(customer, lang, "callback_request", text).await;
            }
            InboundEvent::Text(t) if lock(&self.leaving_message).remove(&customer) => {
                return self.offline(customer, lang, "offline_message", t).await;
            }
            _ => {}
        }
        match self.desk.live_conversation(customer).await {
            Ok(Some(conv)) => return self.to_people(conv, event).await,
            Ok(None) => {}
            Err(e) => return self.failed(e, lang),
        }
        if let InboundEvent::QuickReply(p) = &event
            && p == BACK
        {
            // Already with the bot (the agent closed meanwhile).
            return vec![Reply::text(texts::BACK_TO_BOT.pick(lang))];
        }
        if let InboundEvent::Text(t) = &event {
            self.remember(customer, Sender::Customer, t.clone());
        }
        let replies = self
            .engine
            .handle(customer, channel, lang_hint, event)
            .await;
        for r in &replies {
            // Only what any channel may show goes into the agent's summary.
            if r.sensitivity == okienko_dialog::Sensitivity::Public {
                self.remember(customer, Sender::Bot, r.plain_text());
            }
        }
        if self.engine.take_handover_request(customer).await {
            let lang = self.engine.lang_of(customer).await;
            let mut out = replies;
            out.extend(
                self.request_handover(customer, HandoverReason::CustomerAsked, lang)
                    .await,
            );
            return out;
        }
        replies
    }

    async fn customer_typing(&self, customer: CustomerId) {
        self.pass_typing(customer).await;
    }

    /// Pushes are masked by the engine for the channel delivering them.
    async fn prepare_push(
        &self,
        customer: CustomerId,
        channel: ChannelInfo,
        reply: Reply,
    ) -> Reply {
        self.engine.prepare_push(customer, channel, reply).await
    }
}

/// A fraud case ("Nie, zablokuj kartę") puts the customer in the queue for a person at once; the
/// agent who claims it finds the case in the conversation's summary.
#[async_trait]
impl CaseEscalation for Handover {
    async fn case_opened(&self, customer: CustomerId, case: FraudCaseId, lang: Lang) -> Vec<Reply> {
        if let Ok(Some(conv)) = self.desk.live_conversation(customer).await
            && conv.status == ConversationStatus::Active
        {
            // Already with a person: the case shows in their conversation at once.
            let short: String = case.to_string().chars().take(8).collect();
            let text = format!("Zgłoszenie oszustwa nr {short} · Fraud case {short}");
            if let Ok(line) = self.desk.system_says(&conv, Sender::System, &text).await {
                self.hub.publish(HubEvent::Line {
                    bank: conv.bank.clone(),
                    conversation: conv.id.clone(),
                    owner: conv.owner.clone(),
                    line,
                });
            }
            tracing::info!(%customer, %case, "fraud case added to the agent's conversation");
            return Vec::new();
        }
        tracing::info!(%customer, %case, "fraud case handed to the agents' queue");
        self.request_handover(customer, HandoverReason::Fraud, lang)
            .await
    }
}

impl Handover {
    /// The customer is typing: the agent holding the conversation sees it. Throttled per
    /// customer; nothing happens while the bot or the queue owns the chat.
    async fn pass_typing(&self, customer: CustomerId) {
        {
            let now = Instant::now();
            let mut seen = lock(&self.typing);
            if seen
                .get(&customer)
                .is_some_and(|t| now.duration_since(*t) < TYPING_EVERY)
            {
                return;
            }
            seen.insert(customer, now);
            if seen.len() > 10_000 {
                seen.retain(|_, t| now.duration_since(*t) < TYPING_EVERY);
            }
        }
        match self.desk.live_conversation(customer).await {
            Ok(Some(conv)) if conv.status == ConversationStatus::Active => {
                self.hub.publish(HubEvent::CustomerTyping {
                    bank: conv.bank.clone(),
                    conversation: conv.id.clone(),
                    owner: conv.owner.clone(),
                });
            }
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "typing: support desk lookup failed"),
        }
    }
}
