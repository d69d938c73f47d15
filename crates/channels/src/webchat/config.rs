//! The web chat's settings: language default, session lifetime and the limits that keep one
//! browser from hurting the others.

use std::time::Duration;

use okienko_core::Lang;

/// How the web chat behaves. `WebChatConfig::default()` is a sensible production start.
#[derive(Debug, Clone)]
pub struct WebChatConfig {
    /// The language used until a browser says which one it wants in its `hello`.
    pub default_lang: Lang,
    /// How long a session survives with no socket open; after that its token is forgotten and the
    /// browser gets a new session (and a new demo customer).
    pub session_ttl: Duration,
    /// The largest client frame accepted, in bytes. Larger frames get a `too_large` error frame;
    /// frames beyond four times this (at least 16 KiB) close the connection.
    pub max_message_bytes: usize,
    /// Replies kept per session for resuming (the newest ones; older ones are dropped).
    pub backlog: usize,
    /// Frames a session may send at once before it is rate limited.
    pub rate_burst: u32,
    /// Frames per second a session may send in the long run.
    pub rate_per_second: u32,
    /// Events waiting for the conversation per session; beyond this the customer gets `busy`.
    pub queue_depth: usize,
    /// Sessions kept at once (open or resumable); beyond this new browsers are refused.
    pub max_sessions: usize,
}

impl Default for WebChatConfig {
    fn default() -> Self {
        WebChatConfig {
            default_lang: Lang::Pl,
            session_ttl: Duration::from_secs(24 * 60 * 60),
            max_message_bytes: 4096,
            backlog: 200,
            rate_burst: 10,
            rate_per_second: 5,
            queue_depth: 32,
            max_sessions: 100_000,
        }
    }
}

impl WebChatConfig {
    /// The hard frame limit given to the WebSocket layer: big enough that an oversized message
    /// still gets a polite error frame, small enough that nobody can make us buffer megabytes.
    pub(crate) fn hard_frame_limit(&self) -> usize {
        self.max_message_bytes.saturating_mul(4).max(16 * 1024)
    }
}
