//! Where conversation state lives between messages when several gateway instances serve the
//! same customers: any instance can continue any conversation (issue 9).
//!
//! The engine keeps each customer's [`DialogState`](crate::engine) in memory and, when a
//! [`ConversationStore`] is set ([`Engine::set_conversations`](crate::Engine::set_conversations)),
//! also in that store, as one versioned row per customer: it validates its copy by version
//! before a message, writes the new state after it when it changed, and loses (reloads and
//! answers again once) when another instance wrote first. The dialog never sees the database:
//! the binary implements this trait over the store, which seals the bytes with the customer's
//! data key. The bytes are the engine's own serialization (`engine::persist`), with a format
//! version; the store treats them as opaque.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use okienko_core::CustomerId;

/// One customer's stored state. `Debug` shows the version and size only.
#[derive(Clone, PartialEq, Eq)]
pub struct StoredConversation {
    pub version: i64,
    pub state: Vec<u8>,
    pub updated_at: DateTime<Utc>,
}

impl std::fmt::Debug for StoredConversation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoredConversation")
            .field("version", &self.version)
            .field("bytes", &self.state.len())
            .finish_non_exhaustive()
    }
}

/// What a load found, compared with the version the engine already holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Loaded {
    /// The stored row is at the version the engine named: its copy is current.
    Current,
    /// The row is at another version (or the engine named none).
    Changed(StoredConversation),
    /// A row exists but cannot be read (its key was destroyed, or it does not decrypt): the
    /// engine starts afresh and overwrites it at this version.
    Unreadable { version: i64 },
    /// No row.
    Missing,
}

/// What a save did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Saved {
    /// Written; the row is now at this version.
    Saved(i64),
    /// Another instance wrote first; nothing was written.
    Conflict,
    /// The row the engine had read is gone (the customer's data was erased, or it expired);
    /// nothing was written.
    Gone,
}

/// The store could not be used. Carries no detail: the implementation logs its own error
/// (without values), and the engine carries on with its in-memory copy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the conversation store is unavailable")]
pub struct ConversationStoreError;

/// Shared, versioned conversation state (implemented by the binary over okienko-store).
#[async_trait]
pub trait ConversationStore: Send + Sync + 'static {
    /// Whether this process is the only one that writes these rows (the embedded SQLite
    /// default). The engine then trusts its in-memory copy once loaded and skips the version
    /// check before each message; the compare-and-set write still catches a foreign writer.
    fn exclusive(&self) -> bool {
        false
    }

    /// The customer's state unless the engine's copy at version `known` is current.
    async fn load(
        &self,
        customer: CustomerId,
        known: Option<i64>,
    ) -> Result<Loaded, ConversationStoreError>;

    /// Writes `state` as the version after `expected` (`None`: the engine saw no row), only if
    /// the row is still at `expected`.
    async fn save(
        &self,
        customer: CustomerId,
        expected: Option<i64>,
        state: &[u8],
        at: DateTime<Utc>,
    ) -> Result<Saved, ConversationStoreError>;

    /// Deletes conversations idle since before `before`; returns how many.
    async fn purge_idle(&self, before: DateTime<Utc>) -> Result<u64, ConversationStoreError>;
}
