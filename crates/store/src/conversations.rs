//! Conversation state (migration 0020): what the dialog remembers of one customer between
//! messages, so any gateway instance can continue any conversation.
//!
//! The store keeps the state as opaque bytes (the dialog's own serialization), sealed with the
//! customer's data key and bound to the customer id and the row's version: a copy of the table
//! reveals nothing, a blob moved to another row or version does not open, and erasure (which
//! deletes the row and destroys the key) leaves nothing readable. Writes are compare-and-set on
//! `version`: an instance that read version `v` writes `v + 1` only if the row is still at `v`,
//! so two instances never silently overwrite each other.

use chrono::{DateTime, Utc};
use okienko_core::CustomerId;

use crate::codec::{instant, read_instant};
use crate::error::StoreError;
use crate::store::{Store, begin_write, with_pool};
use crate::vault::{dek_for_write, load_dek};

const CONVERSATIONS: &str = "conversations.sealed";

/// The largest state accepted (a runaway serialization is refused, not stored).
pub const MAX_CONVERSATION_BYTES: usize = 256 * 1024;

/// One customer's stored conversation state. `Debug` shows the version and size only.
#[derive(Clone, PartialEq, Eq)]
pub struct ConversationRecord {
    pub version: i64,
    /// The dialog's serialized state, decrypted.
    pub state: Vec<u8>,
    pub updated_at: DateTime<Utc>,
}

impl std::fmt::Debug for ConversationRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConversationRecord")
            .field("version", &self.version)
            .field("bytes", &self.state.len())
            .finish_non_exhaustive()
    }
}

/// What [`Store::conversation`] found, compared with the version the caller already holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConversationRead {
    /// The row is at the version the caller named: its copy is current (nothing was decrypted).
    Current,
    /// The row is at another version (or the caller named none).
    Changed(ConversationRecord),
    /// A row exists but cannot be read: its data key is gone (crypto-shredded) or the blob does
    /// not open. The caller starts afresh and may overwrite it at this version.
    Unreadable { version: i64 },
    /// No row for the customer.
    Missing,
}

/// What [`Store::save_conversation`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConversationWrite {
    /// Written; the row is now at this version.
    Saved(i64),
    /// The row is at another version than expected (another instance wrote first); nothing
    /// was written.
    Conflict,
    /// A version was expected but the row is gone (erased or purged); nothing was written.
    Gone,
}

const INSERT_CONVERSATION: &str = "INSERT INTO conversations (customer_id, version, sealed, updated_at) \
     VALUES ($1, $2, $3, $4) ON CONFLICT (customer_id) DO NOTHING";
const UPDATE_CONVERSATION: &str = "UPDATE conversations SET version = $2, sealed = $3, updated_at = $4 \
     WHERE customer_id = $1 AND version = $5";
const CONVERSATION_VERSION: &str = "SELECT version FROM conversations WHERE customer_id = $1";

/// The sealed value is bound to the customer and the version it was written as.
fn row_id(customer: &str, version: i64) -> String {
    format!("{customer}/{version}")
}

impl Store {
    /// The customer's conversation state unless the caller's copy, at version `known`, is
    /// current: one indexed read, and the blob is decrypted only when it changed.
    pub async fn conversation(
        &self,
        customer: CustomerId,
        known: Option<i64>,
    ) -> Result<ConversationRead, StoreError> {
        let c = customer.to_string();
        // Versions start at 1: -1 never matches, so "no copy" always reads the blob.
        let known_v = known.unwrap_or(-1);
        type Row = (i64, String, Option<Vec<u8>>);
        let (row, dek) = with_pool!(self, p => {
            let row: Option<Row> = sqlx::query_as(
                "SELECT version, updated_at, \
                 CASE WHEN version = $2 THEN NULL ELSE sealed END \
                 FROM conversations WHERE customer_id = $1",
            )
            .bind(&c)
            .bind(known_v)
            .fetch_optional(p)
            .await?;
            let dek = match &row {
                Some((_, _, Some(_))) => load_dek!(self, p, &c),
                _ => None,
            };
            (row, dek)
        });
        let Some((version, updated, bytes)) = row else {
            return Ok(ConversationRead::Missing);
        };
        let Some(bytes) = bytes else {
            return Ok(ConversationRead::Current);
        };
        let Some(dek) = dek else {
            return Ok(ConversationRead::Unreadable { version });
        };
        let state = match dek.open(CONVERSATIONS, &row_id(&c, version), &bytes) {
            Ok(plain) => plain.to_vec(),
            Err(_) => return Ok(ConversationRead::Unreadable { version }),
        };
        Ok(ConversationRead::Changed(ConversationRecord {
            version,
            state,
            updated_at: read_instant(&updated, "conversations.updated_at")?,
        }))
    }

    /// Writes the customer's state as the version after `expected` (`None`: the caller saw no
    /// row), only if the row is still at `expected`.
    pub async fn save_conversation(
        &self,
        customer: CustomerId,
        expected: Option<i64>,
        state: &[u8],
        at: DateTime<Utc>,
    ) -> Result<ConversationWrite, StoreError> {
        if state.is_empty() || state.len() > MAX_CONVERSATION_BYTES {
            return Err(StoreError::Invalid("conversation state"));
        }
        if expected.is_some_and(|v| v < 1) {
            return Err(StoreError::Invalid("conversation version"));
        }
        let c = customer.to_string();
        let now = instant(at, "conversations.updated_at")?;
        let next = expected.map_or(1, |v| v + 1);
        if let Some(direct) = self.direct() {
            // Written after every answer: directly, one hop for the transaction.
            let store = self.clone();
            let (c, now, state) = (c.clone(), now.clone(), state.to_vec());
            let saved = direct
                .write(move |conn| store.save_conversation_direct(conn, &c, expected, &state, &now))
                .await?;
            if let Some(outcome) = saved {
                return Ok(outcome);
            }
            // The customer has no data key yet: the path below creates it.
        }
        let backend = self.backend();
        let outcome = with_pool!(self, p => {
            let mut tx = begin_write(p, backend).await?;
            let dek = dek_for_write!(self, &mut *tx, &c);
            let bytes = dek.seal(CONVERSATIONS, &row_id(&c, next), state);
            let written = match expected {
                None => sqlx::query(INSERT_CONVERSATION)
                .bind(&c)
                .bind(next)
                .bind(bytes)
                .bind(&now)
                .execute(&mut *tx)
                .await?
                .rows_affected(),
                Some(v) => sqlx::query(UPDATE_CONVERSATION)
                .bind(&c)
                .bind(next)
                .bind(bytes)
                .bind(&now)
                .bind(v)
                .execute(&mut *tx)
                .await?
                .rows_affected(),
            };
            let outcome = if written == 1 {
                ConversationWrite::Saved(next)
            } else if expected.is_none() {
                ConversationWrite::Conflict
            } else {
                let exists: Option<i64> =
                    sqlx::query_scalar(CONVERSATION_VERSION)
                        .bind(&c)
                        .fetch_optional(&mut *tx)
                        .await?;
                if exists.is_some() {
                    ConversationWrite::Conflict
                } else {
                    ConversationWrite::Gone
                }
            };
            tx.commit().await?;
            outcome
        });
        Ok(outcome)
    }

    /// [`Store::save_conversation`] on the direct SQLite writer (`direct.rs`); `None`, having
    /// written nothing, when the customer has no data key yet.
    fn save_conversation_direct(
        &self,
        conn: &mut rusqlite::Connection,
        c: &str,
        expected: Option<i64>,
        state: &[u8],
        now: &str,
    ) -> Result<Option<ConversationWrite>, StoreError> {
        use rusqlite::{OptionalExtension as _, named_params};
        let next = expected.map_or(1, |v| v + 1);
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let Some(dek) = self.load_dek_direct(&tx, c)? else {
            return Ok(None);
        };
        let bytes = dek.seal(CONVERSATIONS, &row_id(c, next), state);
        let written = match expected {
            None => tx
                .prepare_cached(INSERT_CONVERSATION)?
                .execute(named_params! {"$1": c, "$2": next, "$3": bytes, "$4": now})?,
            Some(v) => tx
                .prepare_cached(UPDATE_CONVERSATION)?
                .execute(named_params! {"$1": c, "$2": next, "$3": bytes, "$4": now, "$5": v})?,
        };
        let outcome = if written == 1 {
            ConversationWrite::Saved(next)
        } else if expected.is_none() {
            ConversationWrite::Conflict
        } else {
            let exists: Option<i64> = tx
                .prepare_cached(CONVERSATION_VERSION)?
                .query_row([c], |r| r.get(0))
                .optional()?;
            if exists.is_some() {
                ConversationWrite::Conflict
            } else {
                ConversationWrite::Gone
            }
        };
        tx.commit()?;
        Ok(Some(outcome))
    }

    /// Forgets the customer's conversation state; `false` when there was none.
    pub async fn delete_conversation(&self, customer: CustomerId) -> Result<bool, StoreError> {
        let c = customer.to_string();
        let n = with_pool!(self, p => sqlx::query(
            "DELETE FROM conversations WHERE customer_id = $1",
        )
        .bind(&c)
        .execute(p)
        .await?
        .rows_affected());
        Ok(n == 1)
    }

    /// Deletes conversations idle since before `before`; returns how many.
    pub async fn purge_idle_conversations(&self, before: DateTime<Utc>) -> Result<u64, StoreError> {
        let cutoff = instant(before, "conversations.updated_at")?;
        let n = with_pool!(self, p => sqlx::query(
            "DELETE FROM conversations WHERE updated_at < $1",
        )
        .bind(&cutoff)
        .execute(p)
        .await?
        .rows_affected());
        Ok(n)
    }
}
