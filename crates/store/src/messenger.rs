//! Messenger channel state that outlives a process (`messenger_*`, migration 0017): handled
//! webhook events (replay protection), the PSID each Messenger customer is reached at, and the
//! single-use secrets of Meta's account linking.
//!
//! The store is given hashes (the channel keys or hashes every event key and secret) and keeps
//! the PSID only sealed with the customer's data key, bound to the customer id. It never decides
//! whether an event is fresh enough or a code acceptable beyond the facts it holds: the channel
//! does.

use chrono::{DateTime, Utc};
use okienko_core::CustomerId;
use serde::{Deserialize, Serialize};
use zeroize::{Zeroize, ZeroizeOnDrop};

use crate::codec::{instant, parse, read_instant};
use crate::error::StoreError;
use crate::sealed;
use crate::store::{Store, begin_write, with_pool};
use crate::vault::{dek_for_write, load_dek};

const LINK: &str = "messenger_links.sealed";

/// Where a Messenger customer is reached.
#[derive(Clone, PartialEq, Eq)]
pub struct MessengerLinkRecord {
    /// The page-scoped id (sealed at rest).
    pub psid: String,
    /// The page they write to (sealed at rest).
    pub page_id: String,
    /// Their last own action (opens Meta's 24-hour window).
    pub last_inbound: DateTime<Utc>,
    /// When Meta's account linking completed with a code this gateway issued.
    pub account_linked_at: Option<DateTime<Utc>>,
}

impl std::fmt::Debug for MessengerLinkRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MessengerLinkRecord")
            .field("last_inbound", &self.last_inbound)
            .field("account_linked_at", &self.account_linked_at)
            .finish_non_exhaustive()
    }
}

#[derive(Serialize, Deserialize, Zeroize, ZeroizeOnDrop)]
struct LinkSecret {
    psid: String,
    page_id: String,
}

/// What taking a single-use account-linking secret found. Only `Taken` changed anything.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkCodeTake {
    /// Valid, now used; the customer it was issued for.
    Taken(CustomerId),
    /// Issued for another customer (left untouched).
    Foreign,
    /// Used before.
    Used,
    /// Its time ran out.
    Expired,
    /// Never issued (or purged), or of another kind.
    Unknown,
}

impl Store {
    /// Remembers a handled webhook event by its keyed hash; true when it was not known (the
    /// event is fresh), false when it was (a replay). One statement, so two processes receiving
    /// the same delivery accept it once.
    pub async fn remember_messenger_event(
        &self,
        key_hash: &str,
        at: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        if key_hash.is_empty() {
            return Err(StoreError::Invalid("messenger_replays.key_hash"));
        }
        let at = instant(at, "messenger_replays.seen_at")?;
        let n = with_pool!(self, p => sqlx::query(
            "INSERT INTO messenger_replays (key_hash, seen_at) VALUES ($1, $2) \
             ON CONFLICT (key_hash) DO NOTHING",
        )
        .bind(key_hash)
        .bind(&at)
        .execute(p)
        .await?
        .rows_affected());
        Ok(n == 1)
    }

    /// Forgets events handled before `before`; returns how many.
    pub async fn purge_messenger_events(&self, before: DateTime<Utc>) -> Result<u64, StoreError> {
        let at = instant(before, "messenger_replays.seen_at")?;
        let n = with_pool!(self, p => sqlx::query("DELETE FROM messenger_replays WHERE seen_at < $1")
            .bind(&at)
            .execute(p)
            .await?
            .rows_affected());
        Ok(n)
    }

    /// Keeps where `customer` is reached: PSID and page sealed with their data key (created if
    /// missing). Replaces the row's facts; `account_linked_at` as given.
    pub async fn upsert_messenger_link(
        &self,
        customer: CustomerId,
        link: &MessengerLinkRecord,
    ) -> Result<(), StoreError> {
        if link.psid.is_empty() {
            return Err(StoreError::Invalid("messenger_links.psid"));
        }
        let id = customer.to_string();
        let last = instant(link.last_inbound, "messenger_links.last_inbound")?;
        let linked = link
            .account_linked_at
            .map(|t| instant(t, "messenger_links.account_linked_at"))
            .transpose()?;
        let backend = self.backend();
        with_pool!(self, p => {
            let mut tx = begin_write(p, backend).await?;
            let dek = dek_for_write!(self, &mut *tx, &id);
            let secret = LinkSecret {
                psid: link.psid.clone(),
                page_id: link.page_id.clone(),
            };
            let sealed = sealed::seal(&dek, LINK, &id, &secret)?;
            sqlx::query(
                "INSERT INTO messenger_links (customer_id, last_inbound, account_linked_at, sealed) \
                 VALUES ($1, $2, $3, $4) ON CONFLICT (customer_id) DO UPDATE SET \
                 last_inbound = excluded.last_inbound, \
                 account_linked_at = excluded.account_linked_at, sealed = excluded.sealed",
            )
            .bind(&id)
            .bind(&last)
            .bind(&linked)
            .bind(sealed)
            .execute(&mut *tx)
            .await?;
            tx.commit().await?;
        });
        Ok(())
    }

    /// Where `customer` is reached; `None` when unknown or when their data key is gone (erased:
    /// the link is forgotten with it).
    pub async fn messenger_link(
        &self,
        customer: CustomerId,
    ) -> Result<Option<MessengerLinkRecord>, StoreError> {
        let id = customer.to_string();
        let found = with_pool!(self, p => {
            let row: Option<(String, Option<String>, Vec<u8>)> = sqlx::query_as(
                "SELECT last_inbound, account_linked_at, sealed FROM messenger_links \
                 WHERE customer_id = $1",
            )
            .bind(&id)
            .fetch_optional(p)
            .await?;
            match row {
                None => None,
                Some((last, linked, bytes)) => {
                    let dek = load_dek!(self, p, &id);
                    match dek {
                        None => None,
                        Some(dek) => {
                            let secret: LinkSecret = sealed::open(&dek, LINK, &id, &bytes)?;
                            Some(MessengerLinkRecord {
                                psid: secret.psid.clone(),
                                page_id: secret.page_id.clone(),
                                last_inbound: read_instant(&last, "messenger_links.last_inbound")?,
                                account_linked_at: linked
                                    .as_deref()
                                    .map(|t| read_instant(t, "messenger_links.account_linked_at"))
                                    .transpose()?,
                            })
                        }
                    }
                }
            }
        });
        Ok(found)
    }

    /// Every customer with a Messenger link (ids only, nothing opened).
    pub async fn messenger_linked_customers(&self) -> Result<Vec<CustomerId>, StoreError> {
        let rows: Vec<(String,)> = with_pool!(self, p => sqlx::query_as(
            "SELECT customer_id FROM messenger_links ORDER BY customer_id",
        )
        .fetch_all(p)
        .await?);
        rows.iter()
            .map(|(c,)| parse(c, "messenger_links.customer_id"))
            .collect()
    }

    /// Drops the customer's Messenger link; true when there was one.
    pub async fn delete_messenger_link(&self, customer: CustomerId) -> Result<bool, StoreError> {
        let id = customer.to_string();
        let n = with_pool!(self, p => sqlx::query("DELETE FROM messenger_links WHERE customer_id = $1")
            .bind(&id)
            .execute(p)
            .await?
            .rows_affected());
        Ok(n > 0)
    }

    /// Keeps a single-use account-linking secret (its hash) of `kind` for `customer`.
    pub async fn insert_messenger_code(
        &self,
        code_hash: &str,
        kind: &str,
        customer: CustomerId,
        expires_at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        if code_hash.is_empty() || kind.is_empty() {
            return Err(StoreError::Invalid("messenger_link_codes"));
        }
        let id = customer.to_string();
        let expires = instant(expires_at, "messenger_link_codes.expires_at")?;
        with_pool!(self, p => sqlx::query(
            "INSERT INTO messenger_link_codes (code_hash, kind, customer_id, expires_at, used_at) \
             VALUES ($1, $2, $3, $4, NULL)",
        )
        .bind(code_hash)
        .bind(kind)
        .bind(&id)
        .bind(&expires)
        .execute(p)
        .await
        .map(|_| ())?);
        Ok(())
    }

    /// Takes the secret with this hash and kind at `now`, for `customer` when given (a secret of
    /// another customer is `Foreign` and stays untouched). Marks it used in the same
    /// transaction, so it is taken at most once across processes.
    pub async fn take_messenger_code(
        &self,
        code_hash: &str,
        kind: &str,
        customer: Option<CustomerId>,
        now: DateTime<Utc>,
    ) -> Result<LinkCodeTake, StoreError> {
        let at = instant(now, "messenger_link_codes.used_at")?;
        let backend = self.backend();
        let taken = with_pool!(self, p => {
            let mut tx = begin_write(p, backend).await?;
            let row: Option<(String, String, String, Option<String>)> = sqlx::query_as(
                "SELECT kind, customer_id, expires_at, used_at FROM messenger_link_codes \
                 WHERE code_hash = $1",
            )
            .bind(code_hash)
            .fetch_optional(&mut *tx)
            .await?;
            let Some((k, owner, expires, used)) = row else {
                return Ok(LinkCodeTake::Unknown);
            };
            if k != kind {
                return Ok(LinkCodeTake::Unknown);
            }
            let owner: CustomerId = parse(&owner, "messenger_link_codes.customer_id")?;
            if customer.is_some_and(|c| c != owner) {
                return Ok(LinkCodeTake::Foreign);
            }
            if used.is_some() {
                return Ok(LinkCodeTake::Used);
            }
            if read_instant(&expires, "messenger_link_codes.expires_at")? <= now {
                return Ok(LinkCodeTake::Expired);
            }
            let n = sqlx::query(
                "UPDATE messenger_link_codes SET used_at = $2 \
                 WHERE code_hash = $1 AND used_at IS NULL",
            )
            .bind(code_hash)
            .bind(&at)
            .execute(&mut *tx)
            .await?
            .rows_affected();
            tx.commit().await?;
            if n == 1 {
                LinkCodeTake::Taken(owner)
            } else {
                LinkCodeTake::Used
            }
        });
        Ok(taken)
    }

    /// Forgets account-linking secrets that expired before `now` (used or not); returns how many.
    pub async fn purge_messenger_codes(&self, now: DateTime<Utc>) -> Result<u64, StoreError> {
        let at = instant(now, "messenger_link_codes.expires_at")?;
        let n = with_pool!(self, p => sqlx::query(
            "DELETE FROM messenger_link_codes WHERE expires_at < $1",
        )
        .bind(&at)
        .execute(p)
        .await?
        .rows_affected());
        Ok(n)
    }
}
