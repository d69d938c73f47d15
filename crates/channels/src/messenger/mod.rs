//! Facebook Messenger: the webhook (subscription check, signed deliveries), the people behind
//! page-scoped ids, and replies through the Send API.
//!
//! Meta's platform reads everything sent through it, so this channel is platform-readable: the
//! engine masks financial replies for it (a short-lived link to the bank-owned page instead of
//! the numbers), and as a last line this adapter refuses to send any reply still marked
//! Financial. A delivery is checked in this order, and nothing happens unless all pass:
//! signature over the raw body (constant time) → JSON → replay (message id / timestamp window).
//! Accepted events are answered asynchronously, one at a time per person, so Meta gets its 200
//! at once.
//!
//! People are known by their PSID only. Their okienko customer id is derived from it with a
//! keyed HMAC (stable across restarts, reveals nothing without the key); the reverse mapping
//! (customer → PSID, for pushes) and the time of their last message (the 24-hour window) are kept
//! in memory.

mod replay;
pub mod send;
pub mod signature;
pub mod webhook;

use std::collections::HashMap;
use std::panic::AssertUnwindSafe;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use chrono::{DateTime, Utc};
use futures::FutureExt as _;
use hmac::{Hmac, Mac};
use okienko_core::{Clock, CustomerId};
use okienko_dialog::{Conversation, Outbox, Reply, Sensitivity};
use secrecy::{ExposeSecret, SecretString};
use sha2::Sha256;
use subtle::ConstantTimeEq as _;
use tokio::sync::mpsc;

use crate::adapter::{
    self, Capabilities, ChannelAdapter, ChannelEvent, HandoverEvent, HandoverSink,
};
use replay::ReplayGuard;
pub use replay::Verdict;
pub use send::{GraphClient, MessageTag, MessagingType, SendError, SendRequest};
pub use signature::SignatureError;
pub use webhook::{Inbound, ParseError};

/// The Messenger channel's settings; secrets stay in [`SecretString`].
#[derive(Clone)]
pub struct MessengerConfig {
    /// Signs webhook deliveries (`X-Hub-Signature-256`).
    pub app_secret: SecretString,
    /// What Meta echoes back in the subscription check (`hub.verify_token`).
    pub verify_token: SecretString,
    /// The Page access token for the Send API.
    pub page_access_token: SecretString,
    /// The Graph API root with its version.
    pub graph_api_url: String,
    /// Keys the PSID → customer id derivation. Changing it gives everyone a new customer id.
    pub psid_key: SecretString,
    /// Timeout of each Send API call.
    pub timeout: Duration,
    /// Events stamped further back than this are refused; ids are remembered this long.
    pub replay_window: Duration,
    /// Most event ids remembered at once.
    pub replay_capacity: usize,
}

impl std::fmt::Debug for MessengerConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MessengerConfig")
            .field("graph_api_url", &self.graph_api_url)
            .field("timeout", &self.timeout)
            .field("replay_window", &self.replay_window)
            .finish_non_exhaustive()
    }
}

/// Why a webhook delivery was refused; nothing was done with it.
#[derive(Debug, thiserror::Error)]
pub enum WebhookError {
    #[error(transparent)]
    Signature(#[from] SignatureError),
    #[error(transparent)]
    Parse(#[from] ParseError),
    /// Every event in it was seen before or is stamped outside the window.
    #[error("the delivery replays events already handled or too old")]
    Replayed,
    /// No conversation is attached yet.
    #[error("the channel is not ready")]
    Unavailable,
}

/// What was done with a delivery.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Accepted {
    /// Events queued for the conversation or the handover sink.
    pub events: usize,
    /// Events dropped as replays.
    pub replayed: usize,
}

/// The hours after a person's last action in which we may write to them (Meta's standard
/// messaging window).
const WINDOW_HOURS: i64 = 24;
/// Events waiting per person; more are dropped (a flood, not a conversation).
const QUEUE_PER_PERSON: usize = 32;
/// A person's worker ends after this long without events.
const WORKER_IDLE: Duration = Duration::from_secs(120);

/// Said instead of a reply that is still Financial when it reaches this channel: a last line,
/// since answers are masked by the conversation and pushes by its `prepare_push` before they are
/// delivered here. Both languages: a reply carries no language.
const WITHHELD: &str = "Masz nowe informacje o koncie. Nie pokażę ich na Messengerze, bo Meta mogłaby je przeczytać — zapytaj mnie o saldo lub transakcje, a dostaniesz link do strony banku.\nThere's news about your account. I won't show it on Messenger, where Meta could read it — ask me for your balance or transactions and you'll get a link to the bank's page.";

/// The Messenger channel. Cheap to clone; clones share state.
#[derive(Clone)]
pub struct Messenger {
    inner: Arc<Inner>,
}

struct Inner {
    config: MessengerConfig,
    graph: GraphClient,
    clock: Arc<dyn Clock>,
    conversation: OnceLock<Arc<dyn Conversation>>,
    handover: OnceLock<Arc<dyn HandoverSink>>,
    replay: ReplayGuard,
    people: Mutex<HashMap<CustomerId, Person>>,
    workers: Mutex<HashMap<CustomerId, mpsc::Sender<Job>>>,
}

#[derive(Debug, Clone)]
struct Person {
    psid: String,
    last_inbound: DateTime<Utc>,
    /// Another app (an agent inbox) owns the thread: the bot keeps quiet.
    owned_elsewhere: bool,
}

enum Job {
    Event(Inbound),
    Push(Reply),
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    match m.lock() {
        Ok(g) => g,
        Err(poisoned) => poisoned.into_inner(),
    }
}

impl Messenger {
    pub fn new(config: MessengerConfig, clock: Arc<dyn Clock>) -> Result<Messenger, SendError> {
        let graph = GraphClient::new(
            &config.graph_api_url,
            config.page_access_token.clone(),
            config.timeout,
        )?;
        let window = chrono::Duration::from_std(config.replay_window)
            .unwrap_or_else(|_| chrono::Duration::hours(1));
        Ok(Messenger {
            inner: Arc::new(Inner {
                replay: ReplayGuard::new(window, config.replay_capacity),
                config,
                graph,
                clock,
                conversation: OnceLock::new(),
                handover: OnceLock::new(),
                people: Mutex::new(HashMap::new()),
                workers: Mutex::new(HashMap::new()),
            }),
        })
    }

    /// Connects the conversation that answers people (the engine, or the agents' handover
    /// wrapper around it). A second call is ignored.
    pub fn attach(&self, conversation: Arc<dyn Conversation>) {
        if self.inner.conversation.set(conversation).is_err() {
            tracing::warn!("Messenger::attach called twice; keeping the first conversation");
        }
    }

    /// Where handover events (thread passed, taken, requested) go. A second call is ignored.
    pub fn set_handover_sink(&self, sink: Arc<dyn HandoverSink>) {
        if self.inner.handover.set(sink).is_err() {
            tracing::warn!("Messenger::set_handover_sink called twice; keeping the first");
        }
    }

    /// The subscription check: the challenge to echo when `mode` is `subscribe` and the token
    /// matches (compared in constant time), otherwise `None` (answer 403).
    pub fn verify_subscription(
        &self,
        mode: Option<&str>,
        token: Option<&str>,
        challenge: Option<&str>,
    ) -> Option<String> {
        let expected = self.inner.config.verify_token.expose_secret().as_bytes();
        let token_ok =
            token.is_some_and(|t| !expected.is_empty() && bool::from(t.as_bytes().ct_eq(expected)));
        match (mode, challenge) {
            (Some("subscribe"), Some(c)) if token_ok && !c.is_empty() && c.len() <= 512 => {
                Some(c.to_owned())
            }
            _ => None,
        }
    }

    /// The okienko customer behind a page-scoped id: HMAC-SHA256 of page and PSID under the
    /// PSID key, as a UUID (version 8).
    pub fn customer_for(&self, page_id: &str, psid: &str) -> CustomerId {
        derive_customer(&self.inner.config.psid_key, page_id, psid)
    }

    /// Handles one webhook delivery: signature, parsing, replay check, then queues the fresh
    /// events and returns at once. On any error nothing was queued.
    pub fn receive(&self, signature: Option<&[u8]>, body: &[u8]) -> Result<Accepted, WebhookError> {
        signature::verify(&self.inner.config.app_secret, signature, body)?;
        let events = webhook::parse(body)?;
        if self.inner.conversation.get().is_none() {
            return Err(WebhookError::Unavailable);
        }
        let now = self.inner.clock.now();
        let mut accepted = Accepted {
            events: 0,
            replayed: 0,
        };
        let total = events.len();
        for ev in events {
            match self.inner.replay.check(&ev.key, ev.timestamp_ms, now) {
                Verdict::Fresh => {
                    accepted.events += 1;
                    self.enqueue_event(ev, now);
                }
                Verdict::Duplicate | Verdict::Stale => accepted.replayed += 1,
            }
        }
        if total > 0 && accepted.events == 0 {
            return Err(WebhookError::Replayed);
        }
        Ok(accepted)
    }

    fn enqueue_event(&self, ev: Inbound, now: DateTime<Utc>) {
        let customer = self.customer_for(&ev.page_id, &ev.psid);
        {
            let mut people = lock(&self.inner.people);
            let p = people.entry(customer).or_insert_with(|| Person {
                psid: ev.psid.clone(),
                last_inbound: now,
                owned_elsewhere: false,
            });
            // Only the person's own actions open the window; standby events count too.
            if !matches!(ev.event, ChannelEvent::Handover(_)) {
                p.last_inbound = now;
            }
        }
        self.enqueue(customer, Job::Event(ev));
    }

    fn enqueue(&self, customer: CustomerId, job: Job) {
        let mut workers = lock(&self.inner.workers);
        let tx = workers.entry(customer).or_insert_with(|| {
            let (tx, rx) = mpsc::channel(QUEUE_PER_PERSON);
            tokio::spawn(worker(self.inner.clone(), customer, rx));
            tx
        });
        if let Err(e) = tx.try_send(job) {
            match e {
                mpsc::error::TrySendError::Full(_) => {
                    tracing::warn!(%customer, "messenger queue full; event dropped")
                }
                mpsc::error::TrySendError::Closed(job) => {
                    // The worker just ended: start a new one.
                    let (tx, rx) = mpsc::channel(QUEUE_PER_PERSON);
                    tokio::spawn(worker(self.inner.clone(), customer, rx));
                    let _ = tx.try_send(job);
                    workers.insert(customer, tx);
                }
            }
        }
    }

    /// People seen since start (for tests and metrics).
    pub fn people(&self) -> usize {
        lock(&self.inner.people).len()
    }
}

fn derive_customer(key: &SecretString, page_id: &str, psid: &str) -> CustomerId {
    let mut bytes = [0u8; 16];
    if let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(key.expose_secret().as_bytes()) {
        mac.update(b"okienko messenger psid v1\0");
        mac.update(page_id.as_bytes());
        mac.update(b"\0");
        mac.update(psid.as_bytes());
        let out = mac.finalize().into_bytes();
        bytes.copy_from_slice(&out[..16]);
    }
    CustomerId::from_uuid(uuid::Builder::from_custom_bytes(bytes).into_uuid())
}

/// One person's events and pushes, in order.
async fn worker(inner: Arc<Inner>, customer: CustomerId, mut rx: mpsc::Receiver<Job>) {
    loop {
        let job = match tokio::time::timeout(WORKER_IDLE, rx.recv()).await {
            Ok(Some(job)) => job,
            Ok(None) => break,
            Err(_) => {
                // Idle: leave, unless something arrived while we decided.
                let mut workers = lock(&inner.workers);
                if rx.is_empty() {
                    workers.remove(&customer);
                    break;
                }
                continue;
            }
        };
        match job {
            Job::Event(ev) => handle_event(&inner, customer, ev).await,
            Job::Push(reply) => {
                // Masked here, for this channel, as answers are (a view link instead of numbers).
                let reply = match inner.conversation.get().cloned() {
                    Some(c) => {
                        c.prepare_push(customer, Capabilities::MESSENGER.info(), reply)
                            .await
                    }
                    None => reply,
                };
                deliver(&inner, customer, reply, Mode::Push).await;
            }
        }
    }
}

async fn handle_event(inner: &Arc<Inner>, customer: CustomerId, ev: Inbound) {
    match ev.event {
        ChannelEvent::Handover(h) => {
            if let Some(p) = lock(&inner.people).get_mut(&customer) {
                match &h {
                    HandoverEvent::PassedToUs { .. } => p.owned_elsewhere = false,
                    HandoverEvent::TakenFromUs { .. } => p.owned_elsewhere = true,
                    HandoverEvent::Requested { .. } | HandoverEvent::RolesChanged => {}
                }
            }
            match inner.handover.get() {
                Some(sink) => sink.handover(customer, Capabilities::MESSENGER.name, h),
                None => tracing::info!(%customer, "messenger handover event (no handover sink)"),
            }
        }
        ChannelEvent::AccountLink(result) => {
            // okienko links the bank through the bank's consent page (a URL button), keyed by
            // the PSID-derived customer; Messenger's own account linking carries nothing we
            // act on yet, so it is only noted.
            let linked = matches!(result, adapter::AccountLinkResult::Linked { .. });
            tracing::info!(%customer, linked, "messenger account_linking event");
        }
        event => {
            if ev.standby {
                // Another app owns the thread: watch, do not answer.
                return;
            }
            let Some(event) = event.into_dialog() else {
                return;
            };
            let Some(conversation) = inner.conversation.get().cloned() else {
                return;
            };
            let handled = AssertUnwindSafe(conversation.handle(
                customer,
                Capabilities::MESSENGER.info(),
                None,
                event,
            ))
            .catch_unwind()
            .await;
            match handled {
                Ok(replies) => {
                    for reply in replies {
                        if !deliver(inner, customer, reply, Mode::Response).await {
                            break;
                        }
                    }
                }
                Err(_) => tracing::error!(%customer, "conversation panicked on a messenger event"),
            }
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// An answer to the person's event.
    Response,
    /// Something okienko says first (the bank confirmed a consent, an alert).
    Push,
}

/// How Meta's rules let us send: answers are RESPONSE; our own messages inside the window are
/// UPDATE; outside it only account notices, tagged ACCOUNT_UPDATE. Every push the engine makes
/// is an account notice (consent linked or ended, sync results, alerts), never a promotion.
fn messaging_type(
    mode: Mode,
    last_inbound: DateTime<Utc>,
    now: DateTime<Utc>,
) -> (MessagingType, Option<MessageTag>) {
    let open = now - last_inbound < chrono::Duration::hours(WINDOW_HOURS);
    match (mode, open) {
        (Mode::Response, true) => (MessagingType::Response, None),
        (Mode::Push, true) => (MessagingType::Update, None),
        (_, false) => (MessagingType::MessageTag, Some(MessageTag::AccountUpdate)),
    }
}

/// Sends one reply; false when sending failed (the rest of the replies are not sent).
async fn deliver(inner: &Arc<Inner>, customer: CustomerId, reply: Reply, mode: Mode) -> bool {
    let Some(person) = lock(&inner.people).get(&customer).cloned() else {
        return false;
    };
    if person.owned_elsewhere {
        tracing::info!(%customer, "messenger thread owned by another app; reply not sent");
        return false;
    }
    let reply = if reply.sensitivity == Sensitivity::Financial {
        // The engine should have masked it; never let it reach Meta.
        tracing::info!(%customer, "financial reply withheld from messenger");
        // The buttons say nothing about money; they stay.
        Reply::text(WITHHELD).with_quick_replies(reply.quick_replies)
    } else {
        reply
    };
    let (messaging_type, tag) = messaging_type(mode, person.last_inbound, inner.clock.now());
    for m in adapter::render(&reply, &Capabilities::MESSENGER) {
        let req = SendRequest {
            recipient: send::Recipient {
                id: person.psid.clone(),
            },
            messaging_type,
            tag,
            message: send::wire_message(&m),
        };
        if let Err(e) = inner.graph.send(&req).await {
            if e.not_thread_owner()
                && let Some(p) = lock(&inner.people).get_mut(&customer)
            {
                p.owned_elsewhere = true;
            }
            tracing::warn!(%customer, error = %e, "messenger send failed");
            return false;
        }
    }
    true
}

impl Outbox for Messenger {
    /// Queues behind the person's own events, so a push never overtakes an answer.
    fn push(&self, customer: CustomerId, reply: Reply) {
        if !self.reaches(customer) {
            return;
        }
        self.enqueue(customer, Job::Push(reply));
    }
}

impl ChannelAdapter for Messenger {
    fn capabilities(&self) -> &'static Capabilities {
        &Capabilities::MESSENGER
    }

    fn reaches(&self, customer: CustomerId) -> bool {
        lock(&self.inner.people).contains_key(&customer)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn psid_maps_to_a_stable_customer_per_key_and_page() {
        let k = SecretString::from("k1");
        let a = derive_customer(&k, "PAGE", "123");
        assert_eq!(a, derive_customer(&k, "PAGE", "123"));
        assert_ne!(a, derive_customer(&k, "PAGE", "124"));
        assert_ne!(a, derive_customer(&k, "PAGE2", "123"));
        assert_ne!(a, derive_customer(&SecretString::from("k2"), "PAGE", "123"));
        assert_eq!(a.as_uuid().get_version_num(), 8);
    }

    #[test]
    fn messaging_type_follows_the_window() {
        let now = Utc::now();
        let recent = now - chrono::Duration::hours(1);
        let old = now - chrono::Duration::hours(25);
        assert_eq!(
            messaging_type(Mode::Response, recent, now),
            (MessagingType::Response, None)
        );
        assert_eq!(
            messaging_type(Mode::Push, recent, now),
            (MessagingType::Update, None)
        );
        assert_eq!(
            messaging_type(Mode::Push, old, now),
            (MessagingType::MessageTag, Some(MessageTag::AccountUpdate))
        );
    }
}
