//! Web chat sessions shared by several gateway instances: the session registry and the reply
//! backlog behind a trait, so a browser whose instance died resumes on another one with its token
//! and `last_seen`. The channel never touches the store; the binary plugs it in (see
//! `crates/okienko/src/webchat.rs`), and without it sessions live in this process's memory.
//!
//! The channel hands over raw tokens only to be hashed (the implementation keeps keyed hashes),
//! and replies as their JSON text, which the implementation must keep sealed (they may show
//! balances and transactions). Seqs come from the implementation, unique per customer.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use okienko_core::{CustomerId, Lang};

/// A live session as the shared store knows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StoredSession {
    pub customer: CustomerId,
    pub lang: Lang,
    /// The highest reply seq handed out so far (0: none).
    pub last_seq: u64,
}

/// The shared store failed; the caller changes nothing it cannot take back and tells the
/// browser the chat is unavailable.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the web chat session store failed")]
pub struct SessionStoreError;

#[async_trait]
pub trait SessionStore: Send + Sync + 'static {
    /// Keeps a new session (the token only as a keyed hash).
    async fn create(
        &self,
        token: &str,
        customer: CustomerId,
        lang: Lang,
        now: DateTime<Utc>,
        expires_at: DateTime<Utc>,
    ) -> Result<(), SessionStoreError>;

    /// The live session with this token, its expiry moved and its language set when given;
    /// `None` when unknown or expired.
    async fn resume(
        &self,
        token: &str,
        lang: Option<Lang>,
        now: DateTime<Utc>,
        expires_at: DateTime<Utc>,
    ) -> Result<Option<StoredSession>, SessionStoreError>;

    /// Moves the expiry of the customer's session (a socket closed).
    async fn touch(
        &self,
        customer: CustomerId,
        now: DateTime<Utc>,
        expires_at: DateTime<Utc>,
    ) -> Result<(), SessionStoreError>;

    /// Keeps `reply` (JSON text) under the customer's next seq, keeping the newest `keep`, and
    /// tells every instance (so the one holding the customer's socket sends it: it then calls
    /// [`super::WebChat::delivered`]). `None` when the customer has no live session.
    async fn append(
        &self,
        customer: CustomerId,
        reply: &str,
        keep: usize,
        now: DateTime<Utc>,
        expires_at: DateTime<Utc>,
    ) -> Result<Option<u64>, SessionStoreError>;

    /// The kept replies above `after`, in seq order.
    async fn replies_after(
        &self,
        customer: CustomerId,
        after: u64,
    ) -> Result<Vec<(u64, String)>, SessionStoreError>;

    /// Forgets sessions (and their replies) expired by `now`.
    async fn purge(&self, now: DateTime<Utc>) -> Result<u64, SessionStoreError>;
}
