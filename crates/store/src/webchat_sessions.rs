//! Web chat sessions shared by several gateway instances (`webchat_*`, migration 0022): which
//! session token is which customer, the reply sequence, and the bounded backlog of replies a
//! browser that reconnects (to any instance) may ask for.
//!
//! Tokens are never stored: only an HMAC of each, keyed with a key derived from the master key
//! (every instance holds the same one). Replies may show balances and transactions, so they are
//! sealed with the customer's data key, bound to (customer, seq), and erased with the customer's
//! financial data. The reply seq is raised with `UPDATE … RETURNING` inside the transaction that
//! stores the reply: the row lock orders concurrent appends, so seqs are unique per customer and
//! become visible in seq order (a reader that sees seq n sees every kept seq below it).
//!
//! The store keeps what the web chat gives it (replies as opaque JSON text); it never decides who
//! is allowed a session: the channel does.

use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use okienko_core::{CustomerId, Lang};
use sha2::Sha256;
use zeroize::Zeroizing;

use crate::codec::{instant, parse};
use crate::error::StoreError;
use crate::sealed;
use crate::store::{Store, begin_write, with_pool};
use crate::vault::{dek_for_write, load_dek};

const REPLY: &str = "webchat_replies.sealed";
/// Domain separation for the token key derived from each master key.
const TOKEN_KEY_LABEL: &[u8] = b"okienko webchat session token v1";

/// A live web chat session as the store knows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WebChatSessionRecord {
    pub customer: CustomerId,
    pub lang: Lang,
    /// The highest reply seq handed out so far (0: none yet).
    pub last_seq: u64,
}

fn row_id(customer: &str, seq: u64) -> String {
    format!("{customer}:{seq}")
}

fn seq_of(v: i64) -> Result<u64, StoreError> {
    u64::try_from(v).map_err(|_| StoreError::Corrupt("webchat_sessions.last_seq"))
}

fn seq_param(v: u64, field: &'static str) -> Result<i64, StoreError> {
    i64::try_from(v).map_err(|_| StoreError::Invalid(field))
}

impl Store {
    /// The keyed hashes a token may be stored under: under the active master key first (new
    /// sessions), then under each older key (sessions made before a rotation).
    fn webchat_token_hashes(&self, token: &str) -> Vec<String> {
        let ring = self.ring.read().unwrap_or_else(|e| e.into_inner());
        ring.all()
            .filter_map(|(_, master)| {
                let mut kdf = Hmac::<Sha256>::new_from_slice(master.bytes()).ok()?;
                kdf.update(TOKEN_KEY_LABEL);
                let mut key = Zeroizing::new([0u8; 32]);
                key.copy_from_slice(&kdf.finalize().into_bytes());
                let mut mac = Hmac::<Sha256>::new_from_slice(key.as_slice()).ok()?;
                mac.update(token.as_bytes());
                Some(
                    mac.finalize()
                        .into_bytes()
                        .iter()
                        .map(|b| format!("{b:02x}"))
                        .collect(),
                )
            })
            .collect()
    }

    /// Keeps a new session: the token's keyed hash, the customer, the language, expiry.
    pub async fn create_webchat_session(
        &self,
        token: &str,
        customer: CustomerId,
        lang: Lang,
        now: DateTime<Utc>,
        expires_at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let Some(hash) = self.webchat_token_hashes(token).into_iter().next() else {
            return Err(StoreError::Invalid("webchat_sessions.token"));
        };
        let created = instant(now, "webchat_sessions.created_at")?;
        let expires = instant(expires_at, "webchat_sessions.expires_at")?;
        with_pool!(self, p => sqlx::query(
            "INSERT INTO webchat_sessions (token_hash, customer_id, lang, last_seq, created_at, \
             expires_at) VALUES ($1, $2, $3, 0, $4, $5)",
        )
        .bind(&hash)
        .bind(customer.to_string())
        .bind(lang.code())
        .bind(&created)
        .bind(&expires)
        .execute(p)
        .await?
        .rows_affected());
        Ok(())
    }

    /// The live session with this token, its expiry moved to `expires_at` and its language set
    /// to `lang` when given; `None` when unknown or expired (nothing changes then).
    pub async fn resume_webchat_session(
        &self,
        token: &str,
        lang: Option<Lang>,
        now: DateTime<Utc>,
        expires_at: DateTime<Utc>,
    ) -> Result<Option<WebChatSessionRecord>, StoreError> {
        let now = instant(now, "webchat_sessions.expires_at")?;
        let expires = instant(expires_at, "webchat_sessions.expires_at")?;
        for hash in self.webchat_token_hashes(token) {
            let row: Option<(String, String, i64)> = with_pool!(self, p => sqlx::query_as(
                "UPDATE webchat_sessions SET expires_at = $3, lang = COALESCE($4, lang) \
                 WHERE token_hash = $1 AND expires_at > $2 \
                 RETURNING customer_id, lang, last_seq",
            )
            .bind(&hash)
            .bind(&now)
            .bind(&expires)
            .bind(lang.map(|l| l.code()))
            .fetch_optional(p)
            .await?);
            if let Some((customer, lang, last_seq)) = row {
                return Ok(Some(WebChatSessionRecord {
                    customer: parse(&customer, "webchat_sessions.customer_id")?,
                    lang: parse(&lang, "webchat_sessions.lang")?,
                    last_seq: seq_of(last_seq)?,
                }));
            }
        }
        Ok(None)
    }

    /// Moves the expiry of the customer's live session (a socket closed, or it is still used).
    pub async fn touch_webchat_session(
        &self,
        customer: CustomerId,
        now: DateTime<Utc>,
        expires_at: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let now = instant(now, "webchat_sessions.expires_at")?;
        let expires = instant(expires_at, "webchat_sessions.expires_at")?;
        let n = with_pool!(self, p => sqlx::query(
            "UPDATE webchat_sessions SET expires_at = $3 WHERE customer_id = $1 AND expires_at > $2",
        )
        .bind(customer.to_string())
        .bind(&now)
        .bind(&expires)
        .execute(p)
        .await?
        .rows_affected());
        Ok(n == 1)
    }

    /// Gives `reply` (the reply's JSON text) the customer's next seq, keeps it sealed, drops
    /// replies older than the newest `keep`, and moves the expiry. `None` when the customer has
    /// no live session (nothing is stored then).
    pub async fn append_webchat_reply(
        &self,
        customer: CustomerId,
        reply: &str,
        keep: u64,
        now: DateTime<Utc>,
        expires_at: DateTime<Utc>,
    ) -> Result<Option<u64>, StoreError> {
        let id = customer.to_string();
        let now = instant(now, "webchat_sessions.expires_at")?;
        let expires = instant(expires_at, "webchat_sessions.expires_at")?;
        let keep = seq_param(keep.max(1), "webchat_replies.keep")?;
        let backend = self.backend();
        let seq = with_pool!(self, p => {
            let mut tx = begin_write(p, backend).await?;
            let row: Option<(i64,)> = sqlx::query_as(
                "UPDATE webchat_sessions SET last_seq = last_seq + 1, expires_at = $3 \
                 WHERE customer_id = $1 AND expires_at > $2 RETURNING last_seq",
            )
            .bind(&id)
            .bind(&now)
            .bind(&expires)
            .fetch_optional(&mut *tx)
            .await?;
            match row {
                None => None,
                Some((seq,)) => {
                    let dek = dek_for_write!(self, &mut *tx, &id);
                    let text = Zeroizing::new(reply.to_owned());
                    let sealed = sealed::seal(&dek, REPLY, &row_id(&id, seq_of(seq)?), &*text)?;
                    sqlx::query(
                        "INSERT INTO webchat_replies (customer_id, seq, sealed) VALUES ($1, $2, $3)",
                    )
                    .bind(&id)
                    .bind(seq)
                    .bind(sealed)
                    .execute(&mut *tx)
                    .await?;
                    sqlx::query("DELETE FROM webchat_replies WHERE customer_id = $1 AND seq <= $2")
                        .bind(&id)
                        .bind(seq - keep)
                        .execute(&mut *tx)
                        .await?;
                    tx.commit().await?;
                    Some(seq_of(seq)?)
                }
            }
        });
        Ok(seq)
    }

    /// The kept replies of the customer with a seq above `after`, in seq order (JSON text as
    /// given to [`Store::append_webchat_reply`]). Empty when the customer's data key is gone.
    pub async fn webchat_replies_after(
        &self,
        customer: CustomerId,
        after: u64,
    ) -> Result<Vec<(u64, String)>, StoreError> {
        let id = customer.to_string();
        let after = seq_param(after, "webchat_replies.after")?;
        let out = with_pool!(self, p => {
            let rows: Vec<(i64, Vec<u8>)> = sqlx::query_as(
                "SELECT seq, sealed FROM webchat_replies WHERE customer_id = $1 AND seq > $2 \
                 ORDER BY seq",
            )
            .bind(&id)
            .bind(after)
            .fetch_all(p)
            .await?;
            if rows.is_empty() {
                Vec::new()
            } else {
                match load_dek!(self, p, &id) {
                    // Shredded: the rows can never be read (erasure deletes them too).
                    None => Vec::new(),
                    Some(dek) => {
                        let mut out = Vec::with_capacity(rows.len());
                        for (seq, bytes) in rows {
                            let seq = seq_of(seq)?;
                            let text: String =
                                sealed::open(&dek, REPLY, &row_id(&id, seq), &bytes)?;
                            out.push((seq, text));
                        }
                        out
                    }
                }
            }
        });
        Ok(out)
    }

    /// Forgets sessions expired before `now` and their replies; returns how many sessions.
    pub async fn purge_webchat_sessions(&self, now: DateTime<Utc>) -> Result<u64, StoreError> {
        let now = instant(now, "webchat_sessions.expires_at")?;
        let backend = self.backend();
        let n = with_pool!(self, p => {
            let mut tx = begin_write(p, backend).await?;
            sqlx::query(
                "DELETE FROM webchat_replies WHERE customer_id IN \
                 (SELECT customer_id FROM webchat_sessions WHERE expires_at <= $1)",
            )
            .bind(&now)
            .execute(&mut *tx)
            .await?;
            let n = sqlx::query("DELETE FROM webchat_sessions WHERE expires_at <= $1")
                .bind(&now)
                .execute(&mut *tx)
                .await?
                .rows_affected();
            tx.commit().await?;
            n
        });
        Ok(n)
    }
}
