//! The web chat: the page at `/`, its assets, and the `/ws` WebSocket that carries a customer's
//! messages to the conversation and the conversation's replies back.
//!
//! [`WebChat`] owns sessions (a demo identity per browser, resumable by token), ordering (one
//! event at a time per session) and delivery (every open tab gets every reply; replies made while
//! no tab is open wait, bounded, for the next one). It is bank-owned, so it shows financial
//! replies in full; it never logs what customers or the conversation say.
//!
//! With several gateway instances, sessions and the backlog live in a shared [`SessionStore`]
//! ([`WebChat::shared`]): any instance resumes any session, and a reply made on one instance
//! reaches the customer's sockets on another (the store's implementation announces each stored
//! reply; the instances call [`WebChat::delivered`]).

mod assets;
mod config;
mod protocol;
mod rate;
mod session;
mod shared;
mod socket;
mod token;
mod worker;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};

use axum::Router;
use axum::extract::State;
use axum::extract::ws::WebSocketUpgrade;
use axum::response::Response;
use axum::routing::get;
use okienko_core::CustomerId;
use okienko_dialog::{Conversation, Outbox, Reply};
use tokio::time::Instant;

pub use config::WebChatConfig;
pub use shared::{SessionStore, SessionStoreError, StoredSession};

use session::Registry;

/// Bytes read from a socket at a time (see `upgrade`).
const READ_BUFFER: usize = 4096;

/// The web chat channel. Cheap to clone; clones share sessions.
#[derive(Clone)]
pub struct WebChat {
    inner: Arc<Inner>,
}

pub(crate) struct Inner {
    config: WebChatConfig,
    registry: Registry,
    /// Sessions and backlog in a store shared by several instances; `None`: in memory.
    shared: Option<Arc<dyn SessionStore>>,
    conversation: OnceLock<Arc<dyn Conversation>>,
    next_conn: AtomicU64,
}

impl Inner {
    fn next_conn_id(&self) -> u64 {
        self.next_conn.fetch_add(1, Ordering::Relaxed)
    }
}

impl WebChat {
    pub fn new(config: WebChatConfig) -> WebChat {
        Self::build(config, None)
    }

    /// A web chat whose sessions and reply backlog live in `store`, shared with other gateway
    /// instances: a browser resumes on any of them.
    pub fn shared(config: WebChatConfig, store: Arc<dyn SessionStore>) -> WebChat {
        Self::build(config, Some(store))
    }

    fn build(config: WebChatConfig, shared: Option<Arc<dyn SessionStore>>) -> WebChat {
        WebChat {
            inner: Arc::new(Inner {
                config,
                registry: Registry::new(Instant::now()),
                shared,
                conversation: OnceLock::new(),
                next_conn: AtomicU64::new(1),
            }),
        }
    }

    /// Connects the conversation that answers customers. Must be called once before serving
    /// (the engine needs the WebChat as its Outbox first, hence the two steps). Until then,
    /// browsers get an `unavailable` error; a second call is ignored.
    pub fn attach(&self, conversation: Arc<dyn Conversation>) {
        if self.inner.conversation.set(conversation).is_err() {
            tracing::warn!("WebChat::attach called twice; keeping the first conversation");
        }
    }

    /// `GET /` (the chat page), `GET /assets/{*path}`, `GET /ws` (the WebSocket).
    pub fn router(&self) -> Router {
        Router::new()
            .route("/", get(assets::index))
            .route("/assets/{*path}", get(assets::asset))
            .route("/ws", get(upgrade))
            .with_state(self.inner.clone())
    }

    /// Sessions currently kept (open or resumable); shared: those this instance holds.
    pub fn session_count(&self) -> usize {
        self.inner.registry.len()
    }

    /// Shared sessions: a reply with `seq` was stored for `customer` (on any instance). If this
    /// instance holds the customer's session, its sockets get what they have not had yet, read
    /// from the store in seq order. Returns at once; the store is read in the background.
    pub fn delivered(&self, customer: CustomerId, seq: u64) {
        if let Some(session) = self.inner.registry.by_customer(customer)
            && session.is_shared()
        {
            tokio::spawn(async move { session.catch_up(Some(seq)).await });
        }
    }

    /// Shared sessions: notices may have been missed (the bus lagged or reconnected); every
    /// session this instance holds catches up from the store.
    pub fn resync(&self) {
        for session in self.inner.registry.all() {
            if session.is_shared() {
                tokio::spawn(async move { session.catch_up(None).await });
            }
        }
    }
}

async fn upgrade(State(chat): State<Arc<Inner>>, ws: WebSocketUpgrade) -> Response {
    let limit = chat.config.hard_frame_limit();
    // Chat frames are small: a 4 KiB read buffer instead of the 128 KiB default is what lets
    // ten thousand idle sessions fit in a few hundred megabytes (`okienko bench chat
    // --open-sessions`). Longer frames (up to `limit`) still arrive, in more reads.
    ws.read_buffer_size(READ_BUFFER)
        .max_message_size(limit)
        .max_frame_size(limit)
        .on_upgrade(move |socket| socket::serve(socket, chat))
}

impl Outbox for WebChat {
    /// Delivers to the customer's open tabs, or keeps the reply for their next visit. A customer
    /// without a web chat session (never connected, or expired) cannot be reached here. Shared:
    /// the reply is stored (the store tells the instance holding the customer's sockets).
    fn push(&self, customer: CustomerId, reply: Reply) {
        if let Some(store) = &self.inner.shared {
            let session = self.inner.registry.by_customer(customer);
            let store = store.clone();
            let keep = self.inner.config.backlog.max(1);
            let ttl = chrono::Duration::from_std(self.inner.config.session_ttl)
                .unwrap_or(chrono::Duration::days(1));
            tokio::spawn(async move {
                match session {
                    Some(s) => s.deliver_shared(&reply).await,
                    None => {
                        let json = match serde_json::to_string(&reply) {
                            Ok(j) => j,
                            Err(e) => {
                                tracing::error!(error = %e, "could not serialize a web chat push");
                                return;
                            }
                        };
                        let now = chrono::Utc::now();
                        match store.append(customer, &json, keep, now, now + ttl).await {
                            Ok(Some(seq)) => {
                                tracing::debug!(%customer, seq, "web chat push stored")
                            }
                            Ok(None) => tracing::debug!(
                                %customer,
                                "web chat push for a customer without a session dropped"
                            ),
                            Err(_) => {
                                tracing::warn!(%customer, "web chat push could not be stored")
                            }
                        }
                    }
                }
            });
            return;
        }
        match self.inner.registry.by_customer(customer) {
            Some(session) => {
                let seq = session.deliver(&reply);
                tracing::debug!(%customer, seq, "web chat push");
            }
            None => {
                tracing::debug!(%customer, "web chat push for a customer without a session dropped")
            }
        }
    }

    /// A bank agent is typing: the open tabs (on this instance) show the typing indicator.
    fn typing(&self, customer: CustomerId) {
        if let Some(session) = self.inner.registry.by_customer(customer) {
            session.broadcast(&protocol::typing_frame());
        }
    }
}

impl crate::adapter::ChannelAdapter for WebChat {
    fn capabilities(&self) -> &'static crate::adapter::Capabilities {
        &crate::adapter::Capabilities::WEB_CHAT
    }

    /// Shared: whether the customer has a session is known only to the store (the push finds
    /// out), so every customer counts as reachable.
    fn reaches(&self, customer: CustomerId) -> bool {
        self.inner.shared.is_some() || self.inner.registry.by_customer(customer).is_some()
    }
}
