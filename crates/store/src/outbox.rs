//! The bus outbox (migration 0024): events waiting to be published on the event bus, so an
//! announcement survives a bus that is down and a process that dies before publishing. This
//! module stores, claims, reschedules and deletes rows; the relay that publishes them lives in the
//! gateway (`okienko::outbox`), since the store knows nothing of the bus.
//!
//! A row holds the bus's idempotency id, the topic's name and the event's JSON as the bus encodes
//! it: ids and closed states only (the bus sits outside the privacy gate), so nothing is sealed.
//! This module never parses the event and never logs it.
//!
//! Claims are leases: a relay sets `claimed_by` (its token) and `claimed_until`; a row is due when
//! its `next_attempt_at` has come and it has no live claim. On PostgreSQL the claiming statement
//! skips rows another instance's claim is locking at that moment (`FOR UPDATE SKIP LOCKED`), on
//! SQLite writers run one at a time (`BEGIN IMMEDIATE`); either way two relays never hold one row
//! at once. A relay that dies leaves its rows to whoever claims after the lease.

use std::sync::Arc;

use chrono::{DateTime, Utc};

use crate::codec::{instant, read_instant};
use crate::error::StoreError;
use crate::store::{Backend, Store, begin_write, with_pool};

/// The longest event the outbox takes (NATS's default payload limit is 1 MiB).
pub const MAX_OUTBOX_EVENT_BYTES: usize = 1_000_000;

/// An event to put into the outbox.
#[derive(Clone, PartialEq, Eq)]
pub struct OutboxPut {
    /// The bus's idempotency id (1–128 printable ASCII characters, no spaces): a second put with
    /// the same id is ignored.
    pub id: String,
    /// The topic's name, for the relay's logs and metrics.
    pub topic: String,
    /// The event as the bus's JSON (ids and states only).
    pub event: String,
}

/// Ids and topic only: the event stays out of logs.
impl std::fmt::Debug for OutboxPut {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OutboxPut")
            .field("id", &self.id)
            .field("topic", &self.topic)
            .finish_non_exhaustive()
    }
}

/// An event in the outbox, as a claim or a listing returns it.
#[derive(Clone, PartialEq, Eq)]
pub struct OutboxEvent {
    pub id: String,
    pub topic: String,
    pub event: String,
    pub created_at: DateTime<Utc>,
    /// Failed publishes so far.
    pub attempts: u32,
    pub next_attempt_at: DateTime<Utc>,
}

impl std::fmt::Debug for OutboxEvent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OutboxEvent")
            .field("id", &self.id)
            .field("topic", &self.topic)
            .field("created_at", &self.created_at)
            .field("attempts", &self.attempts)
            .field("next_attempt_at", &self.next_attempt_at)
            .finish_non_exhaustive()
    }
}

impl OutboxPut {
    pub(crate) fn check(&self) -> Result<(), StoreError> {
        if self.id.is_empty()
            || self.id.len() > 128
            || !self.id.bytes().all(|b| b.is_ascii_graphic())
        {
            return Err(StoreError::Invalid("bus_outbox.id"));
        }
        if self.topic.is_empty() || self.topic.len() > 64 {
            return Err(StoreError::Invalid("bus_outbox.topic"));
        }
        if self.event.is_empty() || self.event.len() > MAX_OUTBOX_EVENT_BYTES {
            return Err(StoreError::Invalid("bus_outbox.event"));
        }
        Ok(())
    }
}

/// Inserts an [`OutboxPut`] (checked) on `$ex` at the instant text `$now`, ignoring a second put
/// of the same id; evaluates to the rows inserted (0 or 1). For the writes that announce their
/// own change in the same transaction.
macro_rules! insert_outbox {
    ($ex:expr, $put:expr, $now:expr) => {
        sqlx::query($crate::outbox::INSERT_OUTBOX)
            .bind(&$put.id)
            .bind(&$put.topic)
            .bind(&$put.event)
            .bind($now)
            .execute($ex)
            .await?
            .rows_affected()
    };
}
pub(crate) use insert_outbox;

pub(crate) const INSERT_OUTBOX: &str = "INSERT INTO bus_outbox (id, topic, event, created_at, attempts, next_attempt_at) \
     VALUES ($1, $2, $3, $4, 0, $4) ON CONFLICT (id) DO NOTHING";

type OutboxRow = (String, String, String, String, i64, String);

fn outbox_row(r: OutboxRow) -> Result<OutboxEvent, StoreError> {
    let (id, topic, event, created_at, attempts, next_attempt_at) = r;
    Ok(OutboxEvent {
        id,
        topic,
        event,
        created_at: read_instant(&created_at, "bus_outbox.created_at")?,
        attempts: u32::try_from(attempts)
            .map_err(|_| StoreError::Corrupt("bus_outbox.attempts"))?,
        next_attempt_at: read_instant(&next_attempt_at, "bus_outbox.next_attempt_at")?,
    })
}

const CLAIM_SQLITE: &str = "UPDATE bus_outbox SET claimed_by = $1, claimed_until = $2 \
     WHERE id IN (SELECT id FROM bus_outbox WHERE next_attempt_at <= $3 \
     AND (claimed_until IS NULL OR claimed_until <= $3) \
     ORDER BY next_attempt_at, created_at LIMIT $4) \
     RETURNING id, topic, event, created_at, attempts, next_attempt_at";

const CLAIM_POSTGRES: &str = "UPDATE bus_outbox SET claimed_by = $1, claimed_until = $2 \
     WHERE id IN (SELECT id FROM bus_outbox WHERE next_attempt_at <= $3 \
     AND (claimed_until IS NULL OR claimed_until <= $3) \
     ORDER BY next_attempt_at, created_at LIMIT $4 FOR UPDATE SKIP LOCKED) \
     RETURNING id, topic, event, created_at, attempts, next_attempt_at";

impl Store {
    /// Woken (one permit) after every outbox row this process puts through this store or its
    /// clones, so the relay publishes at once instead of at its next poll.
    pub fn outbox_wake(&self) -> Arc<tokio::sync::Notify> {
        self.outbox_wake.clone()
    }

    pub(crate) fn outbox_put_done(&self) {
        self.outbox_wake.notify_one();
    }

    /// Puts an event into the outbox, due at once; false when a row with this id is already
    /// there (the first put stands). Outbox instants are the wall clock's (`Utc::now`), like the
    /// bus's own timeouts: a relay retries in real time whatever clock the caller runs on.
    pub async fn put_outbox(&self, put: &OutboxPut) -> Result<bool, StoreError> {
        put.check()?;
        let now = instant(Utc::now(), "bus_outbox.created_at")?;
        let n = with_pool!(self, p => sqlx::query(INSERT_OUTBOX)
            .bind(&put.id)
            .bind(&put.topic)
            .bind(&put.event)
            .bind(&now)
            .execute(p)
            .await
            .map(|r| r.rows_affected()))?;
        self.outbox_put_done();
        Ok(n == 1)
    }

    /// Claims up to `limit` due rows for `claimer` until `claimed_until`, oldest due first. No
    /// other claimer gets them until they are rescheduled, released or the claim runs out.
    pub async fn claim_outbox(
        &self,
        claimer: &str,
        now: DateTime<Utc>,
        claimed_until: DateTime<Utc>,
        limit: u32,
    ) -> Result<Vec<OutboxEvent>, StoreError> {
        if claimer.is_empty() || claimer.len() > 64 {
            return Err(StoreError::Invalid("bus_outbox.claimed_by"));
        }
        if claimed_until <= now {
            return Err(StoreError::Invalid("bus_outbox.claimed_until"));
        }
        let now = instant(now, "bus_outbox.now")?;
        let until = instant(claimed_until, "bus_outbox.claimed_until")?;
        let backend = self.backend();
        let sql = match backend {
            Backend::Sqlite => CLAIM_SQLITE,
            Backend::Postgres => CLAIM_POSTGRES,
        };
        let rows: Vec<OutboxRow> = with_pool!(self, p => {
            let mut tx = begin_write(p, backend).await?;
            let rows: Vec<OutboxRow> = sqlx::query_as(sql)
                .bind(claimer)
                .bind(&until)
                .bind(&now)
                .bind(i64::from(limit))
                .fetch_all(&mut *tx)
                .await?;
            tx.commit().await?;
            rows
        });
        let mut out = rows
            .into_iter()
            .map(outbox_row)
            .collect::<Result<Vec<_>, _>>()?;
        out.sort_by(|a, b| {
            (a.next_attempt_at, a.created_at).cmp(&(b.next_attempt_at, b.created_at))
        });
        Ok(out)
    }

    /// The event was published: deletes its row, whoever holds the claim (a relay whose claim
    /// ran out and the one that took over may both publish; the bus stores the id once). False
    /// when it was already gone.
    pub async fn outbox_done(&self, id: &str) -> Result<bool, StoreError> {
        let n = with_pool!(self, p => sqlx::query("DELETE FROM bus_outbox WHERE id = $1")
            .bind(id)
            .execute(p)
            .await
            .map(|r| r.rows_affected()))?;
        Ok(n == 1)
    }

    /// A publish failed: counts the attempt, drops `claimer`'s claim and makes the row due again
    /// at `next_attempt_at`. False (and nothing changed) when `claimer` no longer holds it.
    pub async fn reschedule_outbox(
        &self,
        id: &str,
        claimer: &str,
        next_attempt_at: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        self.unclaim(id, claimer, next_attempt_at, 1).await
    }

    /// Gives a claimed row back untried (the relay stopped before publishing it), due at
    /// `next_attempt_at`, without counting an attempt. False when `claimer` no longer holds it.
    pub async fn release_outbox(
        &self,
        id: &str,
        claimer: &str,
        next_attempt_at: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        self.unclaim(id, claimer, next_attempt_at, 0).await
    }

    async fn unclaim(
        &self,
        id: &str,
        claimer: &str,
        next_attempt_at: DateTime<Utc>,
        attempts: i64,
    ) -> Result<bool, StoreError> {
        let next = instant(next_attempt_at, "bus_outbox.next_attempt_at")?;
        let n = with_pool!(self, p => sqlx::query(
            "UPDATE bus_outbox SET attempts = attempts + $4, next_attempt_at = $3, \
             claimed_until = NULL, claimed_by = NULL WHERE id = $1 AND claimed_by = $2",
        )
        .bind(id)
        .bind(claimer)
        .bind(next)
        .bind(attempts)
        .execute(p)
        .await
        .map(|r| r.rows_affected()))?;
        Ok(n == 1)
    }

    /// Up to `limit` rows waiting in the outbox, due or not, claimed or not, oldest first (for
    /// tests and operators).
    pub async fn outbox_events(&self, limit: u32) -> Result<Vec<OutboxEvent>, StoreError> {
        let rows: Vec<OutboxRow> = with_pool!(self, p => sqlx::query_as(
            "SELECT id, topic, event, created_at, attempts, next_attempt_at FROM bus_outbox \
             ORDER BY created_at, id LIMIT $1",
        )
        .bind(i64::from(limit))
        .fetch_all(p)
        .await)?;
        rows.into_iter().map(outbox_row).collect()
    }

    /// How many rows wait in the outbox.
    pub async fn outbox_len(&self) -> Result<u64, StoreError> {
        let n: i64 = with_pool!(self, p => sqlx::query_scalar("SELECT COUNT(*) FROM bus_outbox")
            .fetch_one(p)
            .await)?;
        u64::try_from(n).map_err(|_| StoreError::Corrupt("bus_outbox"))
    }
}
