//! The dialog's conversation state in the store (migration 0020), so any gateway instance can
//! continue any conversation: the engine's [`ConversationStore`] over okienko-store, which
//! seals the state with the customer's data key.

use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use okienko_core::CustomerId;
use okienko_dialog::{
    ConversationStore, ConversationStoreError, Loaded, Saved, StoredConversation,
};
use okienko_store::{Backend, ConversationRead, ConversationWrite, Store, StoreError};

/// The store as the engine's conversation store. On SQLite this process is taken to be the only
/// gateway on the file (the embedded default), so the engine skips the version check before
/// each message; the compare-and-set write still catches a second one.
pub fn store_backed(store: &Store) -> Arc<dyn ConversationStore> {
    Arc::new(StoreConversations {
        exclusive: store.backend() == Backend::Sqlite,
        store: store.clone(),
    })
}

struct StoreConversations {
    store: Store,
    exclusive: bool,
}

fn unavailable(e: StoreError) -> ConversationStoreError {
    tracing::warn!(error = %e, "conversation store");
    ConversationStoreError
}

#[async_trait]
impl ConversationStore for StoreConversations {
    fn exclusive(&self) -> bool {
        self.exclusive
    }

    async fn load(
        &self,
        customer: CustomerId,
        known: Option<i64>,
    ) -> Result<Loaded, ConversationStoreError> {
        Ok(
            match self
                .store
                .conversation(customer, known)
                .await
                .map_err(unavailable)?
            {
                ConversationRead::Current => Loaded::Current,
                ConversationRead::Changed(r) => Loaded::Changed(StoredConversation {
                    version: r.version,
                    state: r.state,
                    updated_at: r.updated_at,
                }),
                ConversationRead::Unreadable { version } => Loaded::Unreadable { version },
                ConversationRead::Missing => Loaded::Missing,
            },
        )
    }

    async fn save(
        &self,
        customer: CustomerId,
        expected: Option<i64>,
        state: &[u8],
        at: DateTime<Utc>,
    ) -> Result<Saved, ConversationStoreError> {
        Ok(
            match self
                .store
                .save_conversation(customer, expected, state, at)
                .await
                .map_err(unavailable)?
            {
                ConversationWrite::Saved(v) => Saved::Saved(v),
                ConversationWrite::Conflict => Saved::Conflict,
                ConversationWrite::Gone => Saved::Gone,
            },
        )
    }

    async fn purge_idle(&self, before: DateTime<Utc>) -> Result<u64, ConversationStoreError> {
        self.store
            .purge_idle_conversations(before)
            .await
            .map_err(unavailable)
    }
}
