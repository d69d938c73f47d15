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
//! keyed HMAC (stable across restarts, reveals nothing without the key). What must outlive a
//! restart goes through [`MessengerState`] (the store, in the gateway): the keyed hashes of the
//! events handled (so a replay after a restart is still refused), and the link customer → PSID
//! with the time of their last message (pushes reach them after a restart, inside or outside the
//! 24-hour window as Meta's rules say). Memory holds a cache of both.
//!
//! Meta's account linking: a postback with [`ACCOUNT_LINK_PAYLOAD`] (a persistent-menu item)
//! gets an `account_link` button whose URL carries a single-use state bound to the PSID; the
//! gateway's page ([`Messenger::account_link_redirect`]) exchanges it for a single-use
//! authorization code bound to the same PSID and hands it to Meta; the `account_linking` webhook
//! must bring back that code from that PSID, unused and unexpired, or nothing changes.
//! `unlinked` drops the PSID link, and the bot says so.

mod replay;
pub mod send;
pub mod signature;
pub mod state;
pub mod webhook;

use std::collections::{HashMap, HashSet};
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
pub use state::{MemoryState, MessengerState, PsidLink, SecretKind, SecretTake, StateError};
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
    /// Most event ids remembered at once in memory (the state store remembers them all, for
    /// the window).
    pub replay_capacity: usize,
    /// The gateway's account-link page (`…/channels/messenger/account-link`); `None` turns
    /// Meta's account linking off.
    pub account_link_url: Option<String>,
    /// Lifetime of the account-link state and of the authorization code.
    pub account_link_ttl: Duration,
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
    /// No conversation is attached yet, or the state store failed (Meta retries).
    #[error("the channel is not ready")]
    Unavailable,
}

/// Why the account-link page refused outright (no redirect back to Meta).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum AccountLinkError {
    /// Account linking is off.
    #[error("account linking is not enabled")]
    Disabled,
    /// The `redirect_uri` is not Meta's account-linking endpoint.
    #[error("the redirect_uri is not Meta's account-linking endpoint")]
    BadRedirect,
}

/// The postback payload that asks for Meta's account-link button (a persistent-menu item).
pub const ACCOUNT_LINK_PAYLOAD: &str = "MESSENGER_ACCOUNT_LINK";
/// Where Meta's account-linking flow expects to be sent back to; anything else is refused, so
/// the page is no open redirect.
pub const META_REDIRECT_PREFIX: &str = "https://www.facebook.com/messenger_platform/";

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
/// The last-message time is written to the state store at most this often per person.
const LINK_WRITE_EVERY: chrono::Duration = chrono::Duration::minutes(10);
/// Handled events and expired secrets are purged at most this often.
const PURGE_EVERY: chrono::Duration = chrono::Duration::minutes(1);

const LINK_OFFER: &str = "Połącz Messengera ze swoim kontem w banku, żeby dostawać tu powiadomienia.\nLink Messenger to your bank account to get notices here.";
const LINKED: &str = "Messenger jest połączony z Twoim kontem w banku.\nMessenger is now linked to your bank account.";
const LINK_REFUSED: &str = "Nie udało się połączyć Messengera: link jest nieważny, wygasł albo został już użyty. Poproś o nowy.\nMessenger could not be linked: the link is invalid, expired or already used. Ask for a new one.";
const UNLINKED: &str = "Messenger został odłączony od Twojego konta w banku — nie wyślę tu już powiadomień, dopóki do mnie nie napiszesz.\nMessenger is unlinked from your bank account — I won't send notices here until you write to me.";

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
    state: Arc<dyn MessengerState>,
    people: Mutex<HashMap<CustomerId, Person>>,
    /// Customers with a link in the state store (loaded at start, kept up to date), so pushes
    /// reach them before they write again.
    linked: Mutex<HashSet<CustomerId>>,
    workers: Mutex<HashMap<CustomerId, mpsc::Sender<Job>>>,
    last_purge: Mutex<Option<DateTime<Utc>>>,
}

#[derive(Debug, Clone)]
struct Person {
    psid: String,
    page_id: String,
    last_inbound: DateTime<Utc>,
    /// Another app (an agent inbox) owns the thread: the bot keeps quiet.
    owned_elsewhere: bool,
    account_linked_at: Option<DateTime<Utc>>,
    /// The last-message time last written to the state store; `None`: not read from it yet in
    /// this process.
    stored_inbound: Option<DateTime<Utc>>,
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
    pub fn new(
        config: MessengerConfig,
        clock: Arc<dyn Clock>,
        state: Arc<dyn MessengerState>,
    ) -> Result<Messenger, SendError> {
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
                state,
                people: Mutex::new(HashMap::new()),
                linked: Mutex::new(HashSet::new()),
                workers: Mutex::new(HashMap::new()),
                last_purge: Mutex::new(None),
            }),
        })
    }

    /// Learns from the state store whom pushes can reach (call once at start); returns how many.
    pub async fn restore(&self) -> Result<usize, StateError> {
        let customers = self.inner.state.linked_customers().await?;
        let n = customers.len();
        lock(&self.inner.linked).extend(customers);
        Ok(n)
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

    /// Handles one webhook delivery: signature, parsing, replay check (the timestamp window,
    /// then the state store), then queues the fresh events and returns. On a signature, parse or
    /// replay error nothing was queued; when the state store fails midway, the events before
    /// were queued and are remembered, so Meta's retry delivers only the rest.
    pub async fn receive(
        &self,
        signature: Option<&[u8]>,
        body: &[u8],
    ) -> Result<Accepted, WebhookError> {
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
        self.maybe_purge(now);
        for ev in events {
            match self.inner.replay.check(&ev.key, ev.timestamp_ms, now) {
                Verdict::Fresh => {
                    let hash = self.event_hash(&ev.key);
                    match self.inner.state.remember_event(&hash, now).await {
                        Ok(true) => {
                            accepted.events += 1;
                            self.enqueue_event(ev, now);
                        }
                        Ok(false) => accepted.replayed += 1,
                        Err(_) => {
                            // Not remembered: let Meta's retry bring it again.
                            self.inner.replay.forget(&ev.key);
                            tracing::warn!("messenger state store failed; delivery refused");
                            return Err(WebhookError::Unavailable);
                        }
                    }
                }
                Verdict::Duplicate | Verdict::Stale => accepted.replayed += 1,
            }
        }
        if total > 0 && accepted.events == 0 {
            return Err(WebhookError::Replayed);
        }
        Ok(accepted)
    }

    /// The event key as the state store keeps it: keyed, since fallback keys name the PSID.
    fn event_hash(&self, key: &str) -> String {
        let mut mac = match Hmac::<Sha256>::new_from_slice(
            self.inner.config.psid_key.expose_secret().as_bytes(),
        ) {
            Ok(m) => m,
            Err(_) => return secret_hash(key),
        };
        mac.update(b"okienko messenger event v1\0");
        mac.update(key.as_bytes());
        hex::encode(mac.finalize().into_bytes())
    }

    /// Purges old event hashes and expired secrets in the background, at most once a minute.
    fn maybe_purge(&self, now: DateTime<Utc>) {
        {
            let mut last = lock(&self.inner.last_purge);
            if last.is_some_and(|t| now - t < PURGE_EVERY) {
                return;
            }
            *last = Some(now);
        }
        let window = chrono::Duration::from_std(self.inner.config.replay_window)
            .unwrap_or_else(|_| chrono::Duration::hours(1));
        let state = self.inner.state.clone();
        tokio::spawn(async move {
            // Events stamped before the window are refused by their stamp; keep a margin for
            // clock skew.
            let before = now - window - chrono::Duration::minutes(10);
            if state.purge(before, now).await.is_err() {
                tracing::warn!("messenger state purge failed");
            }
        });
    }

    /// The account-link page: Meta opens it with our `state`, its `account_linking_token` and
    /// its `redirect_uri`. A valid state (single use, unexpired) becomes an authorization code
    /// bound to the same person, sent back to Meta in the redirect; otherwise the redirect
    /// carries no code, and Meta reports the linking as failed. Returns where to redirect.
    pub async fn account_link_redirect(
        &self,
        state: Option<&str>,
        redirect_uri: Option<&str>,
    ) -> Result<String, AccountLinkError> {
        if self.inner.config.account_link_url.is_none() {
            return Err(AccountLinkError::Disabled);
        }
        let redirect = redirect_uri
            .filter(|r| {
                r.starts_with(META_REDIRECT_PREFIX)
                    && r.len() <= 2048
                    && !r.contains(['#', '\r', '\n'])
            })
            .ok_or(AccountLinkError::BadRedirect)?;
        let sep = if redirect.contains('?') { '&' } else { '?' };
        let now = self.inner.clock.now();
        let taken = match state.filter(|s| !s.is_empty() && s.len() <= 128) {
            Some(s) => self
                .inner
                .state
                .take_secret(&secret_hash(s), SecretKind::State, None, now)
                .await
                .unwrap_or(SecretTake::Unknown),
            None => SecretTake::Unknown,
        };
        let SecretTake::Taken(customer) = taken else {
            tracing::info!(outcome = ?taken, "messenger account-link state refused");
            return Ok(redirect.to_owned());
        };
        let code = new_secret();
        let expires = now + self.link_ttl();
        if self
            .inner
            .state
            .issue_secret(&secret_hash(&code), SecretKind::Code, customer, expires)
            .await
            .is_err()
        {
            tracing::warn!(%customer, "messenger authorization code could not be kept");
            return Ok(redirect.to_owned());
        }
        Ok(format!("{redirect}{sep}authorization_code={code}"))
    }

    fn link_ttl(&self) -> chrono::Duration {
        chrono::Duration::from_std(self.inner.config.account_link_ttl)
            .unwrap_or_else(|_| chrono::Duration::minutes(10))
    }

    fn enqueue_event(&self, ev: Inbound, now: DateTime<Utc>) {
        let customer = self.customer_for(&ev.page_id, &ev.psid);
        {
            let mut people = lock(&self.inner.people);
            let p = people.entry(customer).or_insert_with(|| Person {
                psid: ev.psid.clone(),
                page_id: ev.page_id.clone(),
                last_inbound: now,
                owned_elsewhere: false,
                account_linked_at: None,
                stored_inbound: None,
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

/// A random single-use secret, URL-safe.
fn new_secret() -> String {
    use base64::Engine as _;
    let bytes: [u8; 32] = rand::random();
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// What the state store keeps of a secret.
fn secret_hash(secret: &str) -> String {
    use sha2::Digest as _;
    hex::encode(Sha256::digest(secret.as_bytes()))
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
                if !load_person(&inner, customer).await {
                    continue;
                }
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

/// Makes sure the person is in memory, from the state store when they are not (a push after a
/// restart); false when they cannot be reached.
async fn load_person(inner: &Arc<Inner>, customer: CustomerId) -> bool {
    if lock(&inner.people).contains_key(&customer) {
        return true;
    }
    match inner.state.link(customer).await {
        Ok(Some(link)) => {
            lock(&inner.people).entry(customer).or_insert(Person {
                psid: link.psid,
                page_id: link.page_id,
                last_inbound: link.last_inbound,
                owned_elsewhere: false,
                account_linked_at: link.account_linked_at,
                stored_inbound: Some(link.last_inbound),
            });
            true
        }
        Ok(None) => {
            // Gone (unlinked elsewhere, or the customer's data was erased).
            lock(&inner.linked).remove(&customer);
            false
        }
        Err(_) => {
            tracing::warn!(%customer, "messenger link could not be read; push not sent");
            false
        }
    }
}

/// Keeps the person's link in the state store: read once per process (what was stored before a
/// restart, such as the account linking, is kept), written when new or when the last-message
/// time moved on by [`LINK_WRITE_EVERY`].
async fn sync_link(inner: &Arc<Inner>, customer: CustomerId) {
    let Some(person) = lock(&inner.people).get(&customer).cloned() else {
        return;
    };
    let mut account_linked_at = person.account_linked_at;
    if person.stored_inbound.is_none() {
        match inner.state.link(customer).await {
            Ok(Some(stored)) if stored.psid == person.psid => {
                account_linked_at = account_linked_at.or(stored.account_linked_at);
            }
            Ok(_) => {}
            Err(_) => {
                tracing::warn!(%customer, "messenger link could not be read");
                return;
            }
        }
    }
    let due = person
        .stored_inbound
        .is_none_or(|t| person.last_inbound - t >= LINK_WRITE_EVERY);
    if !due {
        return;
    }
    let link = PsidLink {
        psid: person.psid.clone(),
        page_id: person.page_id.clone(),
        last_inbound: person.last_inbound,
        account_linked_at,
    };
    if inner.state.save_link(customer, &link).await.is_err() {
        tracing::warn!(%customer, "messenger link could not be saved");
        return;
    }
    lock(&inner.linked).insert(customer);
    if let Some(p) = lock(&inner.people).get_mut(&customer) {
        p.account_linked_at = account_linked_at;
        p.stored_inbound = Some(person.last_inbound);
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
        ChannelEvent::AccountLink(result) => account_link_event(inner, customer, result).await,
        ChannelEvent::Button { payload }
            if payload == ACCOUNT_LINK_PAYLOAD && inner.config.account_link_url.is_some() =>
        {
            if ev.standby {
                return;
            }
            sync_link(inner, customer).await;
            offer_account_link(inner, customer).await;
        }
        event => {
            if ev.standby {
                // Another app owns the thread: watch, do not answer.
                return;
            }
            sync_link(inner, customer).await;
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

/// Sends the `account_link` button, its URL carrying a fresh single-use state for this person.
async fn offer_account_link(inner: &Arc<Inner>, customer: CustomerId) {
    let Some(base) = inner.config.account_link_url.clone() else {
        return;
    };
    let state = new_secret();
    let ttl = chrono::Duration::from_std(inner.config.account_link_ttl)
        .unwrap_or_else(|_| chrono::Duration::minutes(10));
    let expires = inner.clock.now() + ttl;
    if inner
        .state
        .issue_secret(&secret_hash(&state), SecretKind::State, customer, expires)
        .await
        .is_err()
    {
        tracing::warn!(%customer, "messenger account-link state could not be kept");
        return;
    }
    let message = send::account_link_message(LINK_OFFER, &format!("{base}?state={state}"));
    send_wire(inner, customer, message, Mode::Response).await;
}

/// Meta's account linking finished: `linked` with a code we issued for this very person
/// completes it; anything else is refused and changes nothing. `unlinked` drops the link.
async fn account_link_event(
    inner: &Arc<Inner>,
    customer: CustomerId,
    result: adapter::AccountLinkResult,
) {
    if inner.config.account_link_url.is_none() {
        tracing::info!(%customer, "messenger account_linking event (account linking off)");
        return;
    }
    match result {
        adapter::AccountLinkResult::Linked { authorization_code } => {
            let code = authorization_code.expose_secret();
            let now = inner.clock.now();
            let taken = if code.is_empty() || code.len() > 128 {
                SecretTake::Unknown
            } else {
                inner
                    .state
                    .take_secret(&secret_hash(code), SecretKind::Code, Some(customer), now)
                    .await
                    .unwrap_or(SecretTake::Unknown)
            };
            if taken != SecretTake::Taken(customer) {
                tracing::info!(%customer, outcome = ?taken, "messenger account linking refused");
                deliver(inner, customer, Reply::text(LINK_REFUSED), Mode::Response).await;
                return;
            }
            if let Some(p) = lock(&inner.people).get_mut(&customer) {
                p.account_linked_at = Some(now);
                // Written now, whatever was written before.
                p.stored_inbound = None;
            }
            sync_link(inner, customer).await;
            tracing::info!(%customer, "messenger account linked");
            deliver(inner, customer, Reply::text(LINKED), Mode::Response).await;
        }
        adapter::AccountLinkResult::Unlinked => {
            // Said first, while the PSID is still known.
            deliver(inner, customer, Reply::text(UNLINKED), Mode::Response).await;
            if inner.state.drop_link(customer).await.is_err() {
                tracing::warn!(%customer, "messenger link could not be dropped");
            }
            lock(&inner.linked).remove(&customer);
            lock(&inner.people).remove(&customer);
            tracing::info!(%customer, "messenger account unlinked");
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
    for m in adapter::render(&reply, &Capabilities::MESSENGER) {
        if !send_wire(inner, customer, send::wire_message(&m), mode).await {
            return false;
        }
    }
    true
}

/// Sends one wire message to the person; false when it was not sent.
async fn send_wire(
    inner: &Arc<Inner>,
    customer: CustomerId,
    message: send::WireMessage,
    mode: Mode,
) -> bool {
    let Some(person) = lock(&inner.people).get(&customer).cloned() else {
        return false;
    };
    if person.owned_elsewhere {
        return false;
    }
    let (messaging_type, tag) = messaging_type(mode, person.last_inbound, inner.clock.now());
    let req = SendRequest {
        recipient: send::Recipient {
            id: person.psid.clone(),
        },
        messaging_type,
        tag,
        message,
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
            || lock(&self.inner.linked).contains(&customer)
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
