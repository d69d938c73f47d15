//! The web chat: the page at `/`, its assets, and the `/ws` WebSocket that carries a customer's
//! messages to the conversation and the conversation's replies back.
//!
//! [`WebChat`] owns sessions (a demo identity per browser, resumable by token), ordering (one
//! event at a time per session) and delivery (every open tab gets every reply; replies made while
//! no tab is open wait, bounded, for the next one). It is bank-owned, so it shows financial
//! replies in full; it never logs what customers or the conversation say.

mod assets;
mod config;
mod protocol;
mod rate;
mod session;
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
        WebChat {
            inner: Arc::new(Inner {
                config,
                registry: Registry::new(Instant::now()),
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

    /// Sessions currently kept (open or resumable).
    pub fn session_count(&self) -> usize {
        self.inner.registry.len()
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
    /// without a web chat session (never connected, or expired) cannot be reached here.
    fn push(&self, customer: CustomerId, reply: Reply) {
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

    /// A bank agent is typing: the open tabs show the typing indicator.
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

    fn reaches(&self, customer: CustomerId) -> bool {
        self.inner.registry.by_customer(customer).is_some()
    }
}
