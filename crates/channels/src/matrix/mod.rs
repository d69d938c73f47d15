//! Matrix with end-to-end encryption: the bank's bot is one Matrix user with one persistent
//! device, its Olm/Megolm keys and room state in a passphrase-encrypted SQLite store, and
//! cross-signing bootstrapped so customers can verify it.
//!
//! The bot accepts every invite, and converses only in an encrypted room whose members (joined or
//! invited) are the bot and the person writing ([`policy`]); anywhere else it says why it will
//! not, in Polish and English, and does nothing else. In a room that passes, the conversation is
//! end-to-end encrypted with the account holder alone, so the engine shows financial data in
//! full; before sending anything the bot checks the room again (someone may have been invited
//! since), and drops what it may no longer say.
//!
//! People are known by their Matrix user id. Their okienko customer id is derived from it with a
//! keyed HMAC (stable across restarts, reveals nothing without the key); which room to push to
//! is kept in memory (the last room they talked in).
//!
//! Each person's messages and pushes are handled one at a time, in order, by a worker of their
//! own, so the sync loop never waits on the bank.

pub mod policy;
pub mod render;

/// The Matrix client library, for the tests' customer clients.
pub use matrix_sdk as sdk;

use std::collections::HashMap;
use std::panic::AssertUnwindSafe;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use base64::Engine as _;
use futures::FutureExt as _;
use hmac::{Hmac, Mac};
use matrix_sdk::attachment::AttachmentConfig;
use matrix_sdk::config::{RequestConfig, SyncSettings};
use matrix_sdk::ruma::api::client::uiaa;
use matrix_sdk::ruma::events::room::member::StrippedRoomMemberEvent;
use matrix_sdk::ruma::events::room::message::{
    MessageType, OriginalSyncRoomMessageEvent, RoomMessageEventContent, TextMessageEventContent,
};
use matrix_sdk::ruma::{OwnedDeviceId, OwnedRoomId, OwnedUserId, UserId};
use matrix_sdk::{
    AuthSession, Client, Room, RoomMemberships, RoomState, SessionMeta, SessionTokens,
};
use matrix_sdk_base::crypto::{CollectStrategy, DecryptionSettings, TrustRequirement};
use okienko_core::CustomerId;
use okienko_dialog::{Conversation, InboundEvent, Outbox, Reply};
use secrecy::{ExposeSecret, SecretString};
use sha2::Sha256;
use tokio::sync::{mpsc, watch};

use crate::adapter::{Capabilities, ChannelAdapter};
use policy::{Refusal, RoomFacts};
pub use render::MATRIX;
use render::MatrixMessage;

/// The Matrix channel's settings; secrets stay in [`SecretString`].
#[derive(Clone)]
pub struct MatrixConfig {
    /// The homeserver's client-server API root (`https://matrix.bank.example`).
    pub homeserver_url: String,
    /// The bot's full user id (`@bank:bank.example`).
    pub user_id: String,
    /// Logs in with this password (and the fixed `device_id`), unless an access token is given.
    pub password: Option<SecretString>,
    /// An access token issued for `device_id`; used instead of a password login.
    pub access_token: Option<SecretString>,
    /// The bot's one device. Logging in again with the same id and the same store keeps its keys.
    pub device_id: String,
    /// The device's display name, as customers see it.
    pub device_name: String,
    /// Where the encrypted SQLite stores (crypto, state, caches) live.
    pub store_dir: PathBuf,
    /// Encrypts the stores at rest.
    pub store_passphrase: SecretString,
    /// Keys the user id → customer id derivation. Changing it gives everyone a new customer id.
    pub user_key: SecretString,
    /// Timeout of each request to the homeserver (the sync long-poll adds its own wait).
    pub timeout: Duration,
}

impl std::fmt::Debug for MatrixConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MatrixConfig")
            .field("homeserver_url", &self.homeserver_url)
            .field("device_id", &self.device_id)
            .field("store_dir", &self.store_dir)
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

/// Why the bot could not start.
#[derive(Debug, thiserror::Error)]
pub enum MatrixError {
    #[error("the Matrix settings are invalid: {0}")]
    Config(&'static str),
    // The SDK's errors are large; boxed so every `Result` of the bot stays small.
    #[error("the Matrix client could not be built: {0}")]
    Build(Box<matrix_sdk::ClientBuildError>),
    #[error("the homeserver refused or failed: {0}")]
    Sdk(Box<matrix_sdk::Error>),
    #[error("the homeserver refused or failed: {0}")]
    Http(Box<matrix_sdk::HttpError>),
}

impl From<matrix_sdk::ClientBuildError> for MatrixError {
    fn from(e: matrix_sdk::ClientBuildError) -> Self {
        MatrixError::Build(Box::new(e))
    }
}

impl From<matrix_sdk::Error> for MatrixError {
    fn from(e: matrix_sdk::Error) -> Self {
        MatrixError::Sdk(Box::new(e))
    }
}

impl From<matrix_sdk::HttpError> for MatrixError {
    fn from(e: matrix_sdk::HttpError) -> Self {
        MatrixError::Http(Box::new(e))
    }
}

/// How long the sync long-poll waits for news.
const SYNC_WAIT: Duration = Duration::from_secs(10);
/// Events waiting per person; more are dropped (a flood, not a conversation).
const QUEUE_PER_PERSON: usize = 32;
/// A person's worker ends after this long without events.
const WORKER_IDLE: Duration = Duration::from_secs(120);

/// The Matrix channel. Cheap to clone; clones share state.
#[derive(Clone)]
pub struct MatrixBot {
    inner: Arc<Inner>,
}

struct Inner {
    config: MatrixConfig,
    conversation: OnceLock<Arc<dyn Conversation>>,
    client: OnceLock<Client>,
    people: Mutex<HashMap<CustomerId, Person>>,
    workers: Mutex<HashMap<CustomerId, mpsc::Sender<Job>>>,
}

#[derive(Debug, Clone)]
struct Person {
    user_id: OwnedUserId,
    room_id: OwnedRoomId,
    /// The payloads of the numbered choices last shown to them.
    choices: Vec<String>,
}

enum Job {
    Message {
        room: Room,
        sender: OwnedUserId,
        text: String,
        encrypted: bool,
    },
    Push(Reply),
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    match m.lock() {
        Ok(g) => g,
        Err(poisoned) => poisoned.into_inner(),
    }
}

impl MatrixBot {
    /// A bot that is not connected yet ([`MatrixBot::run`] connects it).
    pub fn new(config: MatrixConfig) -> Result<MatrixBot, MatrixError> {
        UserId::parse(&config.user_id)
            .map_err(|_| MatrixError::Config("user_id is not a Matrix user id (@name:server)"))?;
        if config.password.is_none() && config.access_token.is_none() {
            return Err(MatrixError::Config(
                "a password or an access token is needed",
            ));
        }
        if config.device_id.is_empty() {
            return Err(MatrixError::Config("device_id is empty"));
        }
        if config.store_passphrase.expose_secret().len() < 8 {
            return Err(MatrixError::Config(
                "the store passphrase needs at least 8 characters",
            ));
        }
        Ok(MatrixBot {
            inner: Arc::new(Inner {
                config,
                conversation: OnceLock::new(),
                client: OnceLock::new(),
                people: Mutex::new(HashMap::new()),
                workers: Mutex::new(HashMap::new()),
            }),
        })
    }

    /// Connects the conversation that answers people. A second call is ignored.
    pub fn attach(&self, conversation: Arc<dyn Conversation>) {
        if self.inner.conversation.set(conversation).is_err() {
            tracing::warn!("MatrixBot::attach called twice; keeping the first conversation");
        }
    }

    /// The okienko customer behind a Matrix user id: HMAC-SHA256 under the user key, as a UUID
    /// (version 8).
    pub fn customer_for(&self, user_id: &str) -> CustomerId {
        derive_customer(&self.inner.config.user_key, user_id)
    }

    /// Logs in, bootstraps cross-signing, and syncs until `shutdown` turns true. Connection
    /// failures are retried with a growing pause; the rest of the gateway keeps serving.
    pub async fn run(self, mut shutdown: watch::Receiver<bool>) {
        let mut pause = Duration::from_secs(1);
        let client = loop {
            let connecting = self.connect();
            tokio::select! {
                _ = stopped(&mut shutdown) => return,
                r = connecting => match r {
                    Ok(c) => break c,
                    Err(e) => {
                        tracing::warn!(error = %e, "matrix bot could not connect; retrying");
                    }
                },
            }
            tokio::select! {
                _ = stopped(&mut shutdown) => return,
                _ = tokio::time::sleep(pause) => {}
            }
            pause = (pause * 2).min(Duration::from_secs(60));
        };
        // Skip what happened while the bot was away; join the invites it missed.
        let mut settings = SyncSettings::default().timeout(Duration::ZERO);
        loop {
            tokio::select! {
                _ = stopped(&mut shutdown) => return,
                r = client.sync_once(settings.clone()) => match r {
                    Ok(resp) => {
                        settings = SyncSettings::default().token(resp.next_batch).timeout(SYNC_WAIT);
                        break;
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "matrix first sync failed; retrying");
                        tokio::time::sleep(Duration::from_secs(2)).await;
                    }
                },
            }
        }
        self.register_handlers(&client);
        for room in client.invited_rooms() {
            tokio::spawn(join_with_retries(room));
        }
        if self.inner.client.set(client.clone()).is_err() {
            tracing::warn!("MatrixBot::run called twice");
            return;
        }
        tracing::info!(device = %self.inner.config.device_id, "matrix bot ready");
        loop {
            tokio::select! {
                _ = stopped(&mut shutdown) => return,
                r = client.sync_once(settings.clone()) => match r {
                    Ok(resp) => settings = settings.token(resp.next_batch),
                    Err(e) => {
                        tracing::warn!(error = %e, "matrix sync failed; retrying");
                        tokio::select! {
                            _ = stopped(&mut shutdown) => return,
                            _ = tokio::time::sleep(Duration::from_secs(2)) => {}
                        }
                    }
                },
            }
        }
    }

    /// Whether the bot is logged in and syncing.
    pub fn is_ready(&self) -> bool {
        self.inner.client.get().is_some()
    }

    async fn connect(&self) -> Result<Client, MatrixError> {
        let c = &self.inner.config;
        std::fs::create_dir_all(&c.store_dir)
            .map_err(|_| MatrixError::Config("the store directory cannot be created"))?;
        let client = Client::builder()
            .homeserver_url(&c.homeserver_url)
            .sqlite_store(&c.store_dir, Some(c.store_passphrase.expose_secret()))
            .request_config(RequestConfig::new().timeout(c.timeout))
            // Room keys go only to devices their owner cross-signed (a device a homeserver
            // admin slipped into a customer's account gets nothing).
            .with_room_key_recipient_strategy(CollectStrategy::IdentityBasedStrategy)
            .with_decryption_settings(DecryptionSettings {
                sender_device_trust_requirement: TrustRequirement::CrossSignedOrLegacy,
            })
            .build()
            .await?;
        let user_id = UserId::parse(&c.user_id)
            .map_err(|_| MatrixError::Config("user_id is not a Matrix user id"))?;
        match (&c.access_token, &c.password) {
            (Some(token), _) => {
                let device_id: OwnedDeviceId = c.device_id.as_str().into();
                let session = matrix_sdk::authentication::matrix::MatrixSession {
                    meta: SessionMeta {
                        user_id: user_id.clone(),
                        device_id,
                    },
                    tokens: SessionTokens {
                        access_token: token.expose_secret().to_owned(),
                        refresh_token: None,
                    },
                };
                client.restore_session(AuthSession::Matrix(session)).await?;
            }
            (None, Some(password)) => {
                client
                    .matrix_auth()
                    .login_username(user_id.as_str(), password.expose_secret())
                    .device_id(&c.device_id)
                    .initial_device_display_name(&c.device_name)
                    .await?;
            }
            (None, None) => {
                return Err(MatrixError::Config(
                    "a password or an access token is needed",
                ));
            }
        }
        self.bootstrap_cross_signing(&client, &user_id).await?;
        Ok(client)
    }

    /// Creates and uploads the bot's cross-signing keys unless it has them; the homeserver may
    /// ask for the password once (user-interactive auth).
    async fn bootstrap_cross_signing(
        &self,
        client: &Client,
        user_id: &UserId,
    ) -> Result<(), MatrixError> {
        let enc = client.encryption();
        match enc.bootstrap_cross_signing_if_needed(None).await {
            Ok(()) => Ok(()),
            Err(e) => {
                let (Some(uiaa_info), Some(password)) =
                    (e.as_uiaa_response(), &self.inner.config.password)
                else {
                    return Err(e.into());
                };
                let mut auth = uiaa::Password::new(
                    uiaa::UserIdentifier::Matrix(uiaa::MatrixUserIdentifier::new(
                        user_id.to_string(),
                    )),
                    password.expose_secret().to_owned(),
                );
                auth.session = uiaa_info.session.clone();
                enc.bootstrap_cross_signing(Some(uiaa::AuthData::Password(auth)))
                    .await?;
                Ok(())
            }
        }
    }

    fn register_handlers(&self, client: &Client) {
        client.add_event_handler(
            |ev: StrippedRoomMemberEvent, room: Room, client: Client| async move {
                if client.user_id() == Some(&*ev.state_key) && room.state() == RoomState::Invited {
                    tokio::spawn(join_with_retries(room));
                }
            },
        );
        let bot = self.clone();
        client.add_event_handler(
            move |ev: OriginalSyncRoomMessageEvent,
                  room: Room,
                  client: Client,
                  encryption: Option<matrix_sdk::deserialized_responses::EncryptionInfo>| {
                let bot = bot.clone();
                async move {
                    if room.state() != RoomState::Joined
                        || client.user_id() == Some(&*ev.sender)
                    {
                        return;
                    }
                    // Only what a person typed; notices are other bots talking.
                    let MessageType::Text(text) = ev.content.msgtype else {
                        return;
                    };
                    let customer = bot.customer_for(ev.sender.as_str());
                    bot.enqueue(
                        customer,
                        Job::Message {
                            room,
                            sender: ev.sender,
                            text: text.body,
                            encrypted: encryption.is_some(),
                        },
                    );
                }
            },
        );
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
                    tracing::warn!(%customer, "matrix queue full; event dropped")
                }
                mpsc::error::TrySendError::Closed(job) => {
                    let (tx, rx) = mpsc::channel(QUEUE_PER_PERSON);
                    tokio::spawn(worker(self.inner.clone(), customer, rx));
                    let _ = tx.try_send(job);
                    workers.insert(customer, tx);
                }
            }
        }
    }
}

/// Resolves when `shutdown` is true (or its sender is gone).
async fn stopped(shutdown: &mut watch::Receiver<bool>) {
    let _ = shutdown.wait_for(|s| *s).await;
}

fn derive_customer(key: &SecretString, user_id: &str) -> CustomerId {
    let mut bytes = [0u8; 16];
    if let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(key.expose_secret().as_bytes()) {
        mac.update(b"okienko matrix user v1\0");
        mac.update(user_id.as_bytes());
        let out = mac.finalize().into_bytes();
        bytes.copy_from_slice(&out[..16]);
    }
    CustomerId::from_uuid(uuid::Builder::from_custom_bytes(bytes).into_uuid())
}

/// Joins an invited room; Synapse sometimes needs a moment before the join works.
async fn join_with_retries(room: Room) {
    let mut pause = Duration::from_millis(500);
    for _ in 0..6 {
        match room.join().await {
            Ok(()) => return,
            Err(e) => {
                tracing::debug!(error = %e, "matrix join failed; retrying");
                tokio::time::sleep(pause).await;
                pause *= 2;
            }
        }
    }
    tracing::warn!("matrix bot could not join a room it was invited to");
}

/// The room as it is now, for `sender`.
async fn room_facts(room: &Room, sender: &UserId, message_encrypted: bool) -> RoomFacts {
    let state = room.encryption_state();
    let encrypted = if state.is_unknown() {
        match room.latest_encryption_state().await {
            Ok(s) => s.is_encrypted(),
            Err(_) => false,
        }
    } else {
        state.is_encrypted()
    };
    let (members, sender_is_member) = match room
        .members(RoomMemberships::JOIN | RoomMemberships::INVITE)
        .await
    {
        Ok(m) => (m.len(), m.iter().any(|m| m.user_id() == sender)),
        // Not knowing who is in the room is not being alone in it.
        Err(_) => (0, false),
    };
    RoomFacts {
        encrypted,
        members,
        sender_is_member,
        message_encrypted,
    }
}

/// One person's messages and pushes, in order.
async fn worker(inner: Arc<Inner>, customer: CustomerId, mut rx: mpsc::Receiver<Job>) {
    loop {
        let job = match tokio::time::timeout(WORKER_IDLE, rx.recv()).await {
            Ok(Some(job)) => job,
            Ok(None) => break,
            Err(_) => {
                let mut workers = lock(&inner.workers);
                if rx.is_empty() {
                    workers.remove(&customer);
                    break;
                }
                continue;
            }
        };
        match job {
            Job::Message {
                room,
                sender,
                text,
                encrypted,
            } => {
                let handled = AssertUnwindSafe(handle_message(
                    &inner, customer, room, sender, text, encrypted,
                ))
                .catch_unwind()
                .await;
                if handled.is_err() {
                    tracing::error!(%customer, "conversation panicked on a matrix message");
                }
            }
            Job::Push(reply) => push_now(&inner, customer, reply).await,
        }
    }
}

async fn handle_message(
    inner: &Arc<Inner>,
    customer: CustomerId,
    room: Room,
    sender: OwnedUserId,
    text: String,
    encrypted: bool,
) {
    if let Err(refusal) = room_facts(&room, &sender, encrypted).await.verdict() {
        tracing::info!(%customer, reason = ?refusal, "matrix message refused");
        send_refusal(&room, refusal).await;
        return;
    }
    let Some(conversation) = inner.conversation.get().cloned() else {
        return;
    };
    let event = {
        let mut people = lock(&inner.people);
        let person = people.entry(customer).or_insert_with(|| Person {
            user_id: sender.clone(),
            room_id: room.room_id().to_owned(),
            choices: Vec::new(),
        });
        person.room_id = room.room_id().to_owned();
        match render::pick(&person.choices, &text) {
            Some(payload) => InboundEvent::QuickReply(payload),
            None => InboundEvent::Text(text),
        }
    };
    let replies = conversation
        .handle(customer, MATRIX.info(), None, event)
        .await;
    for reply in replies {
        if !deliver(inner, customer, &room, &sender, reply).await {
            break;
        }
    }
}

async fn push_now(inner: &Arc<Inner>, customer: CustomerId, reply: Reply) {
    let Some(person) = lock(&inner.people).get(&customer).cloned() else {
        return;
    };
    let Some(room) = inner.client.get().and_then(|c| c.get_room(&person.room_id)) else {
        return;
    };
    deliver(inner, customer, &room, &person.user_id, reply).await;
}

async fn send_refusal(room: &Room, refusal: Refusal) {
    let content = RoomMessageEventContent::notice_plain(refusal.text());
    if let Err(e) = room.send(content).await {
        tracing::warn!(error = %e, "matrix refusal could not be sent");
    }
}

/// Sends one reply after checking the room again; false when it was not sent.
async fn deliver(
    inner: &Arc<Inner>,
    customer: CustomerId,
    room: &Room,
    holder: &UserId,
    reply: Reply,
) -> bool {
    // Someone may have been invited, or the room changed, since the message came in.
    if let Err(refusal) = room_facts(room, holder, true).await.verdict() {
        tracing::info!(%customer, reason = ?refusal, "matrix reply withheld");
        send_refusal(room, refusal).await;
        return false;
    }
    let rendered = render::render(&reply);
    if let Some(p) = lock(&inner.people).get_mut(&customer) {
        p.choices = rendered.choices.clone();
    }
    for m in rendered.messages {
        let sent = match m {
            MatrixMessage::Notice { plain, html } => {
                let content = match html {
                    Some(h) => RoomMessageEventContent::notice_html(plain, h),
                    None => RoomMessageEventContent::notice_plain(plain),
                };
                room.send(content).await.map(|_| ())
            }
            MatrixMessage::Image {
                alt,
                mime,
                data_base64,
            } => send_image(room, &alt, &mime, &data_base64).await,
        };
        if let Err(e) = sent {
            tracing::warn!(%customer, error = %e, "matrix send failed");
            return false;
        }
    }
    true
}

/// An image, uploaded encrypted (the room is encrypted) with its words as the caption; its
/// words alone when it cannot be decoded.
async fn send_image(
    room: &Room,
    alt: &str,
    mime: &str,
    data_base64: &str,
) -> Result<(), matrix_sdk::Error> {
    let decoded = base64::engine::general_purpose::STANDARD.decode(data_base64);
    let parsed: Result<mime::Mime, _> = mime.parse();
    match (decoded, parsed) {
        (Ok(data), Ok(mime)) => {
            let config = AttachmentConfig::new().caption(Some(TextMessageEventContent::plain(alt)));
            room.send_attachment("chart.png", &mime, data, config)
                .await
                .map(|_| ())
        }
        _ => room
            .send(RoomMessageEventContent::notice_plain(alt))
            .await
            .map(|_| ()),
    }
}

impl Outbox for MatrixBot {
    /// Queues behind the person's own messages, so a push never overtakes an answer.
    fn push(&self, customer: CustomerId, reply: Reply) {
        if !self.reaches(customer) {
            return;
        }
        self.enqueue(customer, Job::Push(reply));
    }
}

impl ChannelAdapter for MatrixBot {
    fn capabilities(&self) -> &'static Capabilities {
        &MATRIX
    }

    fn reaches(&self, customer: CustomerId) -> bool {
        lock(&self.inner.people).contains_key(&customer)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_id_maps_to_a_stable_customer_per_key() {
        let k = SecretString::from("k1");
        let a = derive_customer(&k, "@alice:bank.example");
        assert_eq!(a, derive_customer(&k, "@alice:bank.example"));
        assert_ne!(a, derive_customer(&k, "@alice:other.example"));
        assert_ne!(
            a,
            derive_customer(&SecretString::from("k2"), "@alice:bank.example")
        );
        assert_eq!(a.as_uuid().get_version_num(), 8);
    }

    #[test]
    fn settings_without_a_secret_or_with_a_short_passphrase_are_refused() {
        let ok = MatrixConfig {
            homeserver_url: "http://127.0.0.1:8008".into(),
            user_id: "@bank:localhost".into(),
            password: Some("botpass-123".to_owned().into()),
            access_token: None,
            device_id: "OKIENKO".into(),
            device_name: "okienko".into(),
            store_dir: PathBuf::from("/nonexistent"),
            store_passphrase: "passphrase-123".to_owned().into(),
            user_key: "key".to_owned().into(),
            timeout: Duration::from_secs(5),
        };
        assert!(MatrixBot::new(ok.clone()).is_ok());
        let no_secret = MatrixConfig {
            password: None,
            ..ok.clone()
        };
        assert!(matches!(
            MatrixBot::new(no_secret),
            Err(MatrixError::Config(_))
        ));
        let short = MatrixConfig {
            store_passphrase: "short".to_owned().into(),
            ..ok.clone()
        };
        assert!(matches!(MatrixBot::new(short), Err(MatrixError::Config(_))));
        let bad_user = MatrixConfig {
            user_id: "bank".into(),
            ..ok
        };
        assert!(matches!(
            MatrixBot::new(bad_user),
            Err(MatrixError::Config(_))
        ));
        // Debug output names no secret.
        let shown = format!(
            "{:?}",
            MatrixConfig {
                password: Some("botpass-123".to_owned().into()),
                ..MatrixConfig {
                    homeserver_url: "http://h".into(),
                    user_id: "@b:h".into(),
                    password: None,
                    access_token: Some("syt_secret".to_owned().into()),
                    device_id: "D".into(),
                    device_name: "d".into(),
                    store_dir: PathBuf::new(),
                    store_passphrase: "passphrase-123".to_owned().into(),
                    user_key: "key".to_owned().into(),
                    timeout: Duration::from_secs(1),
                }
            }
        );
        assert!(
            !shown.contains("botpass")
                && !shown.contains("syt_secret")
                && !shown.contains("passphrase-123")
        );
    }
}
