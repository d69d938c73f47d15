//! Masked replies waiting behind single-use links to the bank-owned page (`view_links`).
//!
//! The store keeps only a hash of each link's token (the caller hashes), the customer, the
//! purpose the content was read for, the language and the times; the content itself is sealed
//! with the customer's data key, bound to the token hash. Taking a link clears its content in the
//! same transaction that reads it, so two concurrent views of one link show it at most once. The
//! store never decides whether a view is allowed: the privacy gate does, and audits it.

use chrono::{DateTime, Duration, Utc};
use okienko_core::CustomerId;
use serde::{Deserialize, Serialize};
use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

use crate::codec::{instant, parse, read_instant};
use crate::error::StoreError;
use crate::sealed;
use crate::store::{Store, begin_write, with_pool};
use crate::vault::{dek_for_write, load_dek};

const CONTENT: &str = "view_links.sealed";

/// How long a used or expired link is remembered (empty) so a replay is recognised.
const REMEMBER_SPENT: Duration = Duration::days(1);

/// A masked reply to keep until its link is opened or expires.
#[derive(Clone, PartialEq, Eq)]
pub struct NewViewLink {
    /// A hash of the link's token (never the token).
    pub token_hash: String,
    pub customer: CustomerId,
    /// The purpose the content was read for (`service.balance`, …).
    pub purpose: String,
    /// The customer's language, for the page around the content.
    pub lang: String,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    /// What the page will show; sealed at rest.
    pub content: String,
}

impl std::fmt::Debug for NewViewLink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewViewLink")
            .field("purpose", &self.purpose)
            .field("expires_at", &self.expires_at)
            .finish_non_exhaustive()
    }
}

/// The link's facts, whatever became of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ViewLinkFacts {
    pub customer: CustomerId,
    pub purpose: String,
    pub lang: String,
    /// When it was opened, if it was.
    pub viewed_at: Option<DateTime<Utc>>,
    /// Set on the first take of a link that was already opened (a replay), once per link across
    /// processes: the customer is to be told that their link was opened again.
    pub replay_notice_due: bool,
}

/// What taking a link found.
pub enum ViewLinkTake {
    /// First use within its lifetime: here is the content, now gone from the store.
    Opened {
        facts: ViewLinkFacts,
        content: Zeroizing<String>,
    },
    /// It was opened before.
    Used(ViewLinkFacts),
    /// Its time ran out (its content is now gone too).
    Expired(ViewLinkFacts),
    /// No such link (never made, purged, or the customer's data was erased).
    Unknown,
}

impl std::fmt::Debug for ViewLinkTake {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ViewLinkTake::Opened { facts, .. } => write!(f, "Opened({facts:?})"),
            ViewLinkTake::Used(facts) => write!(f, "Used({facts:?})"),
            ViewLinkTake::Expired(facts) => write!(f, "Expired({facts:?})"),
            ViewLinkTake::Unknown => f.write_str("Unknown"),
        }
    }
}

#[derive(Serialize, Deserialize, Zeroize, ZeroizeOnDrop)]
struct ContentSecret {
    content: String,
}

type LinkRow = (
    String,
    String,
    String,
    String,
    Option<String>,
    Option<Vec<u8>>,
);

impl Store {
    /// Keeps a masked reply for its link; the content is sealed with the customer's data key.
    pub async fn insert_view_link(&self, link: &NewViewLink) -> Result<(), StoreError> {
        if link.token_hash.is_empty() || link.expires_at <= link.created_at {
            return Err(StoreError::Invalid("view_links"));
        }
        let customer = link.customer.to_string();
        let created = instant(link.created_at, "view_links.created_at")?;
        let expires = instant(link.expires_at, "view_links.expires_at")?;
        let backend = self.backend();
        with_pool!(self, p => {
            let mut tx = begin_write(p, backend).await?;
            let dek = dek_for_write!(self, &mut *tx, &customer);
            let secret = ContentSecret {
                content: link.content.clone(),
            };
            let sealed = sealed::seal(&dek, CONTENT, &link.token_hash, &secret)?;
            sqlx::query(
                "INSERT INTO view_links (token_hash, customer_id, purpose, lang, created_at, \
                 expires_at, viewed_at, sealed) VALUES ($1, $2, $3, $4, $5, $6, NULL, $7)",
            )
            .bind(&link.token_hash)
            .bind(&customer)
            .bind(&link.purpose)
            .bind(&link.lang)
            .bind(created)
            .bind(expires)
            .bind(sealed)
            .execute(&mut *tx)
            .await?;
            tx.commit().await?;
        });
        Ok(())
    }

    /// Takes the link with this token hash at `now`: returns its content once, within its
    /// lifetime, and clears it in the same transaction; a second take sees `Used`.
    pub async fn take_view_link(
        &self,
        token_hash: &str,
        now: DateTime<Utc>,
    ) -> Result<ViewLinkTake, StoreError> {
        let at = instant(now, "view_links.viewed_at")?;
        let backend = self.backend();
        let taken = with_pool!(self, p => {
            let mut tx = begin_write(p, backend).await?;
            let row: Option<LinkRow> = sqlx::query_as(
                "SELECT customer_id, purpose, lang, expires_at, viewed_at, sealed \
                 FROM view_links WHERE token_hash = $1",
            )
            .bind(token_hash)
            .fetch_optional(&mut *tx)
            .await?;
            let Some((customer, purpose, lang, expires, viewed, bytes)) = row else {
                return Ok(ViewLinkTake::Unknown);
            };
            let viewed_at = match &viewed {
                Some(v) => Some(read_instant(v, "view_links.viewed_at")?),
                None => None,
            };
            let mut facts = ViewLinkFacts {
                customer: parse(&customer, "view_links.customer_id")?,
                purpose,
                lang,
                viewed_at,
                replay_notice_due: false,
            };
            if viewed.is_some() {
                // The first replay of an opened link claims its notice, once across processes.
                let n = sqlx::query(
                    "UPDATE view_links SET replay_noticed_at = $2 \
                     WHERE token_hash = $1 AND replay_noticed_at IS NULL",
                )
                .bind(token_hash)
                .bind(&at)
                .execute(&mut *tx)
                .await?
                .rows_affected();
                tx.commit().await?;
                facts.replay_notice_due = n == 1;
                return Ok(ViewLinkTake::Used(facts));
            }
            if read_instant(&expires, "view_links.expires_at")? <= now {
                sqlx::query("UPDATE view_links SET sealed = NULL WHERE token_hash = $1")
                    .bind(token_hash)
                    .execute(&mut *tx)
                    .await?;
                tx.commit().await?;
                return Ok(ViewLinkTake::Expired(facts));
            }
            let Some(bytes) = bytes else {
                // Cleared without being viewed: only a purge of expired rows does that.
                return Ok(ViewLinkTake::Expired(facts));
            };
            let dek = load_dek!(self, &mut *tx, &customer);
            let secret: ContentSecret =
                sealed::open(sealed::require(dek.as_ref())?, CONTENT, token_hash, &bytes)?;
            let n = sqlx::query(
                "UPDATE view_links SET sealed = NULL, viewed_at = $2 \
                 WHERE token_hash = $1 AND viewed_at IS NULL",
            )
            .bind(token_hash)
            .bind(at)
            .execute(&mut *tx)
            .await?
            .rows_affected();
            tx.commit().await?;
            if n == 1 {
                facts.viewed_at = Some(now);
                ViewLinkTake::Opened {
                    facts,
                    content: Zeroizing::new(secret.content.clone()),
                }
            } else {
                ViewLinkTake::Used(facts)
            }
        });
        Ok(taken)
    }

    /// Clears the content of links expired by `now` and forgets spent links a day after they
    /// expired; returns how many rows changed.
    pub async fn purge_view_links(&self, now: DateTime<Utc>) -> Result<u64, StoreError> {
        let at = instant(now, "view_links.expires_at")?;
        let forget = instant(now - REMEMBER_SPENT, "view_links.expires_at")?;
        let n = with_pool!(self, p => {
            let cleared = sqlx::query(
                "UPDATE view_links SET sealed = NULL WHERE expires_at <= $1 AND sealed IS NOT NULL",
            )
            .bind(&at)
            .execute(p)
            .await?
            .rows_affected();
            let forgotten = sqlx::query("DELETE FROM view_links WHERE expires_at <= $1")
                .bind(&forget)
                .execute(p)
                .await?
                .rows_affected();
            cleared + forgotten
        });
        Ok(n)
    }

    /// Deletes every link of the customer (consent revoked, data erased); returns how many.
    pub async fn delete_view_links(&self, customer: CustomerId) -> Result<u64, StoreError> {
        let customer = customer.to_string();
        let n = with_pool!(self, p => sqlx::query("DELETE FROM view_links WHERE customer_id = $1")
            .bind(&customer)
            .execute(p)
            .await?
            .rows_affected());
        Ok(n)
    }
}
