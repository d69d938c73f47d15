//! Alert settings and the notice ledger (migration 0007).
//!
//! Settings are kept as one sealed JSON document per customer (the privacy crate owns its
//! shape): thresholds describe the customer's money, so nothing of them is in plaintext. The
//! ledger holds one row per (customer, event key): inserting it is the claim that makes each
//! notice exactly once, across re-syncs and restarts. A notice's text waits sealed (bound to
//! customer and event key) until it is sent, then it is cleared. Digests are claimed per local
//! day. The store decides nothing: what is an event, when it is due and what is sent are the
//! privacy and dialog crates' business.

use chrono::{DateTime, NaiveDate, Utc};
use okienko_core::CustomerId;
use serde::{Deserialize, Serialize};
use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

use crate::codec::{date, instant, parse, read_instant};
use crate::error::StoreError;
use crate::sealed;
use crate::store::{Store, begin_write, with_pool};
use crate::vault::{DekCache, dek_for_write, load_dek};

const SETTINGS: &str = "alert_settings.sealed";
const NOTICE: &str = "notices.sealed";

#[derive(Serialize, Deserialize, Zeroize, ZeroizeOnDrop)]
struct TextSecret {
    text: String,
}

/// One notice in the ledger. `content` is the text to send (sealed at rest), `None` once sent.
#[derive(Clone, PartialEq, Eq)]
pub struct NoticeRecord {
    pub customer: CustomerId,
    /// What the notice is about, by ids only ("large_payment:<transaction id>").
    pub event_key: String,
    /// The privacy crate's notice kind, as text.
    pub kind: String,
    pub created_at: DateTime<Utc>,
    pub due_at: Option<DateTime<Utc>>,
    pub sent_at: Option<DateTime<Utc>>,
    /// Goes into the daily digest rather than on its own.
    pub digest: bool,
    pub content: Option<String>,
}

impl std::fmt::Debug for NoticeRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NoticeRecord")
            .field("customer", &self.customer)
            .field("event_key", &self.event_key)
            .field("kind", &self.kind)
            .field("due_at", &self.due_at)
            .field("sent_at", &self.sent_at)
            .field("digest", &self.digest)
            .finish_non_exhaustive()
    }
}

type NoticeRow = (
    String,
    String,
    String,
    String,
    Option<String>,
    Option<String>,
    i64,
    Option<Vec<u8>>,
);

fn opt_instant(s: Option<&str>, col: &'static str) -> Result<Option<DateTime<Utc>>, StoreError> {
    s.map(|s| read_instant(s, col)).transpose()
}

fn opt_text(t: Option<DateTime<Utc>>, col: &'static str) -> Result<Option<String>, StoreError> {
    t.map(|t| instant(t, col)).transpose()
}

fn check_key(s: &str) -> Result<(), StoreError> {
    if s.is_empty() || s.len() > 200 {
        return Err(StoreError::Invalid("notices.event_key"));
    }
    Ok(())
}

fn seal_id(customer: &str, key: &str) -> String {
    format!("{customer}/{key}")
}

impl Store {
    /// The customer's settings document, if they have any.
    pub async fn alert_settings(
        &self,
        customer: CustomerId,
    ) -> Result<Option<Zeroizing<String>>, StoreError> {
        let c = customer.to_string();
        let out = with_pool!(self, p => {
            let row: Option<(Vec<u8>,)> =
                sqlx::query_as("SELECT sealed FROM alert_settings WHERE customer_id = $1")
                    .bind(&c)
                    .fetch_optional(p)
                    .await?;
            match row {
                None => None,
                Some((bytes,)) => {
                    let dek = load_dek!(self, p, &c);
                    let s: TextSecret =
                        sealed::open(sealed::require(dek.as_ref())?, SETTINGS, &c, &bytes)?;
                    Some(Zeroizing::new(s.text.clone()))
                }
            }
        });
        Ok(out)
    }

    /// Replaces the customer's settings document (sealed with their data key).
    pub async fn put_alert_settings(
        &self,
        customer: CustomerId,
        document: &str,
        at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        if document.is_empty() || document.len() > 16_384 {
            return Err(StoreError::Invalid("alert_settings"));
        }
        let c = customer.to_string();
        let at = instant(at, "alert_settings.updated_at")?;
        let backend = self.backend();
        with_pool!(self, p => {
            let mut tx = begin_write(p, backend).await?;
            let dek = dek_for_write!(self, &mut *tx, &c);
            let secret = TextSecret {
                text: document.to_owned(),
            };
            let bytes = sealed::seal(&dek, SETTINGS, &c, &secret)?;
            sqlx::query(
                "INSERT INTO alert_settings (customer_id, updated_at, sealed) VALUES ($1, $2, $3) \
                 ON CONFLICT (customer_id) DO UPDATE SET updated_at = excluded.updated_at, \
                 sealed = excluded.sealed",
            )
            .bind(&c)
            .bind(at)
            .bind(bytes)
            .execute(&mut *tx)
            .await?;
            tx.commit().await?;
        });
        Ok(())
    }

    /// When the notice watcher took the customer's history as its baseline, if it has.
    pub async fn notice_baseline(
        &self,
        customer: CustomerId,
    ) -> Result<Option<DateTime<Utc>>, StoreError> {
        let row: Option<(String,)> = with_pool!(self, p => sqlx::query_as(
            "SELECT taken_at FROM notice_baselines WHERE customer_id = $1",
        )
        .bind(customer.to_string())
        .fetch_optional(p)
        .await)?;
        row.map(|(t,)| read_instant(&t, "notice_baselines.taken_at"))
            .transpose()
    }

    /// Records the baseline; a second call keeps the first time.
    pub async fn set_notice_baseline(
        &self,
        customer: CustomerId,
        at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let at = instant(at, "notice_baselines.taken_at")?;
        with_pool!(self, p => sqlx::query(
            "INSERT INTO notice_baselines (customer_id, taken_at) VALUES ($1, $2) \
             ON CONFLICT (customer_id) DO NOTHING",
        )
        .bind(customer.to_string())
        .bind(at)
        .execute(p)
        .await
        .map(|_| ()))?;
        Ok(())
    }

    /// Claims a notice event: inserts the row unless one with the same customer and key
    /// exists. True when this call made it (the caller then owns sending it).
    pub async fn claim_notice(&self, n: &NoticeRecord) -> Result<bool, StoreError> {
        check_key(&n.event_key)?;
        let c = n.customer.to_string();
        let created = instant(n.created_at, "notices.created_at")?;
        let due = opt_text(n.due_at, "notices.due_at")?;
        let sent = opt_text(n.sent_at, "notices.sent_at")?;
        let backend = self.backend();
        let claimed = with_pool!(self, p => {
            let mut tx = begin_write(p, backend).await?;
            let bytes = match &n.content {
                Some(text) => {
                    let dek = dek_for_write!(self, &mut *tx, &c);
                    let secret = TextSecret { text: text.clone() };
                    Some(sealed::seal(&dek, NOTICE, &seal_id(&c, &n.event_key), &secret)?)
                }
                None => None,
            };
            let k = sqlx::query(
                "INSERT INTO notices (customer_id, event_key, kind, created_at, due_at, sent_at, \
                 digest, sealed) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) \
                 ON CONFLICT (customer_id, event_key) DO NOTHING",
            )
            .bind(&c)
            .bind(&n.event_key)
            .bind(&n.kind)
            .bind(created)
            .bind(due)
            .bind(sent)
            .bind(i64::from(n.digest))
            .bind(bytes)
            .execute(&mut *tx)
            .await?
            .rows_affected();
            tx.commit().await?;
            k == 1
        });
        Ok(claimed)
    }

    /// Whether the customer's ledger holds this event.
    pub async fn notice_claimed(
        &self,
        customer: CustomerId,
        event_key: &str,
    ) -> Result<bool, StoreError> {
        let n: i64 = with_pool!(self, p => sqlx::query_scalar(
            "SELECT COUNT(*) FROM notices WHERE customer_id = $1 AND event_key = $2",
        )
        .bind(customer.to_string())
        .bind(event_key)
        .fetch_one(p)
        .await)?;
        Ok(n > 0)
    }

    /// Forgets an event (a condition that ended and may start again, like a low balance
    /// that recovered), so its next occurrence is a new notice.
    pub async fn release_notice(
        &self,
        customer: CustomerId,
        event_key: &str,
    ) -> Result<bool, StoreError> {
        let n = with_pool!(self, p => sqlx::query(
            "DELETE FROM notices WHERE customer_id = $1 AND event_key = $2",
        )
        .bind(customer.to_string())
        .bind(event_key)
        .execute(p)
        .await?
        .rows_affected());
        Ok(n > 0)
    }

    /// Unsent notices due at `now` (every customer), oldest first, with their texts.
    pub async fn due_notices(&self, now: DateTime<Utc>) -> Result<Vec<NoticeRecord>, StoreError> {
        let at = instant(now, "notices.due_at")?;
        let rows: Vec<NoticeRow> = with_pool!(self, p => sqlx::query_as(
            "SELECT customer_id, event_key, kind, created_at, due_at, sent_at, digest, sealed \
             FROM notices WHERE sent_at IS NULL AND due_at IS NOT NULL AND due_at <= $1 \
             ORDER BY created_at, event_key LIMIT 10000",
        )
        .bind(at)
        .fetch_all(p)
        .await)?;
        self.open_notices(rows).await
    }

    /// Every notice of the customer, oldest first (texts of unsent ones included).
    pub async fn notices_for_customer(
        &self,
        customer: CustomerId,
    ) -> Result<Vec<NoticeRecord>, StoreError> {
        let rows: Vec<NoticeRow> = with_pool!(self, p => sqlx::query_as(
            "SELECT customer_id, event_key, kind, created_at, due_at, sent_at, digest, sealed \
             FROM notices WHERE customer_id = $1 ORDER BY created_at, event_key",
        )
        .bind(customer.to_string())
        .fetch_all(p)
        .await)?;
        self.open_notices(rows).await
    }

    async fn open_notices(&self, rows: Vec<NoticeRow>) -> Result<Vec<NoticeRecord>, StoreError> {
        let mut cache = DekCache::default();
        let mut out = Vec::with_capacity(rows.len());
        for (c, key, kind, created, due, sent, digest, bytes) in rows {
            let content = match bytes {
                Some(b) => {
                    let dek = sealed::require(self.cached_dek(&mut cache, &c).await?)?;
                    let s: TextSecret = sealed::open(dek, NOTICE, &seal_id(&c, &key), &b)?;
                    Some(s.text.clone())
                }
                None => None,
            };
            out.push(NoticeRecord {
                customer: parse(&c, "notices.customer_id")?,
                created_at: read_instant(&created, "notices.created_at")?,
                due_at: opt_instant(due.as_deref(), "notices.due_at")?,
                sent_at: opt_instant(sent.as_deref(), "notices.sent_at")?,
                digest: digest != 0,
                event_key: key,
                kind,
                content,
            });
        }
        Ok(out)
    }

    /// Marks notices sent (clears their texts and due times). Only unsent rows change; returns
    /// how many did, so two senders racing send each notice once.
    pub async fn mark_notices_sent(
        &self,
        customer: CustomerId,
        event_keys: &[String],
        at: DateTime<Utc>,
    ) -> Result<u64, StoreError> {
        let c = customer.to_string();
        let at = instant(at, "notices.sent_at")?;
        let backend = self.backend();
        let n = with_pool!(self, p => {
            let mut tx = begin_write(p, backend).await?;
            let mut n = 0;
            for k in event_keys {
                n += sqlx::query(
                    "UPDATE notices SET sent_at = $3, due_at = NULL, sealed = NULL \
                     WHERE customer_id = $1 AND event_key = $2 AND sent_at IS NULL",
                )
                .bind(&c)
                .bind(k)
                .bind(&at)
                .execute(&mut *tx)
                .await?
                .rows_affected();
            }
            tx.commit().await?;
            n
        });
        Ok(n)
    }

    /// Moves unsent notices to a new due time (the next digest, the end of quiet hours), or
    /// drops them (`None`: never sent, kept so the event is not noticed again).
    pub async fn reschedule_notices(
        &self,
        customer: CustomerId,
        event_keys: &[String],
        due_at: Option<DateTime<Utc>>,
    ) -> Result<(), StoreError> {
        let c = customer.to_string();
        let due = opt_text(due_at, "notices.due_at")?;
        let drop = due_at.is_none();
        let backend = self.backend();
        with_pool!(self, p => {
            let mut tx = begin_write(p, backend).await?;
            for k in event_keys {
                let sql = if drop {
                    "UPDATE notices SET due_at = $3, sealed = NULL \
                     WHERE customer_id = $1 AND event_key = $2 AND sent_at IS NULL"
                } else {
                    "UPDATE notices SET due_at = $3 \
                     WHERE customer_id = $1 AND event_key = $2 AND sent_at IS NULL"
                };
                sqlx::query(sql)
                    .bind(&c)
                    .bind(k)
                    .bind(due.clone())
                    .execute(&mut *tx)
                    .await?;
            }
            tx.commit().await?;
        });
        Ok(())
    }

    /// Claims the customer's digest for a local day; false when one went out that day.
    pub async fn claim_digest(
        &self,
        customer: CustomerId,
        day: NaiveDate,
        at: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let d = date(day, "notice_digests.day")?;
        let at = instant(at, "notice_digests.sent_at")?;
        let n = with_pool!(self, p => sqlx::query(
            "INSERT INTO notice_digests (customer_id, day, sent_at) VALUES ($1, $2, $3) \
             ON CONFLICT (customer_id, day) DO NOTHING",
        )
        .bind(customer.to_string())
        .bind(d)
        .bind(at)
        .execute(p)
        .await?
        .rows_affected());
        Ok(n == 1)
    }

    /// Gives back a digest claim whose delivery did not happen.
    pub async fn release_digest(
        &self,
        customer: CustomerId,
        day: NaiveDate,
    ) -> Result<(), StoreError> {
        let d = date(day, "notice_digests.day")?;
        with_pool!(self, p => sqlx::query(
            "DELETE FROM notice_digests WHERE customer_id = $1 AND day = $2",
        )
        .bind(customer.to_string())
        .bind(d)
        .execute(p)
        .await
        .map(|_| ()))?;
        Ok(())
    }
}
