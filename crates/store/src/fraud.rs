//! Fraud-warning bookkeeping (migration 0004): which customers' history is the watcher's
//! baseline, fraud episodes (so one episode warns once, across restarts), fraud cases for bank
//! staff, and the delivery ledger of bank warnings. Ids, statuses and instants only: nothing
//! here describes money, so nothing needs sealing; content stays behind the privacy gate.

use chrono::{DateTime, Utc};
use okienko_core::{AccountId, CustomerId, TransactionId};

use crate::codec::{instant, parse, parse_opt, read_instant};
use crate::error::StoreError;
use crate::store::{Store, with_pool};

/// One fraud episode. `status` and `severity` are the privacy crate's words, kept as text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FraudEpisodeRecord {
    pub id: String,
    pub customer: CustomerId,
    pub opened_at: DateTime<Utc>,
    /// The newest suspicious transaction's time; the episode window runs from here.
    pub last_at: DateTime<Utc>,
    pub severity: String,
    pub status: String,
    /// The transaction the warning names.
    pub warning_tx: Option<TransactionId>,
    pub account: Option<AccountId>,
    /// When a delayed (quiet hours) warning is due; `None` once sent or when not to be sent.
    pub warn_due_at: Option<DateTime<Utc>>,
    pub warned_at: Option<DateTime<Utc>>,
    pub answered_at: Option<DateTime<Utc>>,
}

/// A fraud case for bank staff.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FraudCaseRecord {
    pub id: String,
    pub customer: CustomerId,
    pub episode_id: String,
    pub status: String,
    pub opened_at: DateTime<Utc>,
    pub closed_at: Option<DateTime<Utc>>,
    pub cards_blocked: u32,
}

#[derive(sqlx::FromRow)]
struct EpisodeRow {
    id: String,
    customer_id: String,
    opened_at: String,
    last_at: String,
    severity: String,
    status: String,
    warning_tx: Option<String>,
    account_id: Option<String>,
    warn_due_at: Option<String>,
    warned_at: Option<String>,
    answered_at: Option<String>,
}

fn opt_instant(s: Option<&str>, col: &'static str) -> Result<Option<DateTime<Utc>>, StoreError> {
    s.map(|s| read_instant(s, col)).transpose()
}

fn opt_text(t: Option<DateTime<Utc>>, col: &'static str) -> Result<Option<String>, StoreError> {
    t.map(|t| instant(t, col)).transpose()
}

impl TryFrom<EpisodeRow> for FraudEpisodeRecord {
    type Error = StoreError;
    fn try_from(r: EpisodeRow) -> Result<Self, StoreError> {
        Ok(FraudEpisodeRecord {
            customer: parse(&r.customer_id, "fraud_episodes.customer_id")?,
            opened_at: read_instant(&r.opened_at, "fraud_episodes.opened_at")?,
            last_at: read_instant(&r.last_at, "fraud_episodes.last_at")?,
            warning_tx: parse_opt(r.warning_tx.as_deref(), "fraud_episodes.warning_tx")?,
            account: parse_opt(r.account_id.as_deref(), "fraud_episodes.account_id")?,
            warn_due_at: opt_instant(r.warn_due_at.as_deref(), "fraud_episodes.warn_due_at")?,
            warned_at: opt_instant(r.warned_at.as_deref(), "fraud_episodes.warned_at")?,
            answered_at: opt_instant(r.answered_at.as_deref(), "fraud_episodes.answered_at")?,
            id: r.id,
            severity: r.severity,
            status: r.status,
        })
    }
}

#[derive(sqlx::FromRow)]
struct CaseRow {
    id: String,
    customer_id: String,
    episode_id: String,
    status: String,
    opened_at: String,
    closed_at: Option<String>,
    cards_blocked: i64,
}

impl TryFrom<CaseRow> for FraudCaseRecord {
    type Error = StoreError;
    fn try_from(r: CaseRow) -> Result<Self, StoreError> {
        Ok(FraudCaseRecord {
            customer: parse(&r.customer_id, "fraud_cases.customer_id")?,
            opened_at: read_instant(&r.opened_at, "fraud_cases.opened_at")?,
            closed_at: opt_instant(r.closed_at.as_deref(), "fraud_cases.closed_at")?,
            cards_blocked: u32::try_from(r.cards_blocked)
                .map_err(|_| StoreError::Corrupt("fraud_cases.cards_blocked"))?,
            id: r.id,
            episode_id: r.episode_id,
            status: r.status,
        })
    }
}

const EPISODE_COLS: &str = "id, customer_id, opened_at, last_at, severity, status, warning_tx, \
     account_id, warn_due_at, warned_at, answered_at";

macro_rules! select_episodes {
    ($rest:literal) => {
        concat!(
            "SELECT id, customer_id, opened_at, last_at, severity, status, warning_tx, \
             account_id, warn_due_at, warned_at, answered_at FROM fraud_episodes ",
            $rest
        )
    };
}

fn check_id(s: &str, what: &'static str) -> Result<(), StoreError> {
    if s.is_empty() || s.len() > 200 {
        return Err(StoreError::Invalid(what));
    }
    Ok(())
}

impl Store {
    /// When the fraud watcher took the customer's history as its baseline, if it has.
    pub async fn fraud_baseline(
        &self,
        customer: CustomerId,
    ) -> Result<Option<DateTime<Utc>>, StoreError> {
        let row: Option<(String,)> = with_pool!(self, p => sqlx::query_as(
            "SELECT taken_at FROM fraud_baselines WHERE customer_id = $1",
        )
        .bind(customer.to_string())
        .fetch_optional(p)
        .await)?;
        row.map(|(t,)| read_instant(&t, "fraud_baselines.taken_at"))
            .transpose()
    }

    /// Records the baseline; a second call keeps the first time.
    pub async fn set_fraud_baseline(
        &self,
        customer: CustomerId,
        at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let at = instant(at, "fraud_baselines.taken_at")?;
        with_pool!(self, p => sqlx::query(
            "INSERT INTO fraud_baselines (customer_id, taken_at) VALUES ($1, $2) \
             ON CONFLICT (customer_id) DO NOTHING",
        )
        .bind(customer.to_string())
        .bind(at)
        .execute(p)
        .await
        .map(|r| r.rows_affected()))?;
        Ok(())
    }

    /// Inserts or replaces an episode by id.
    pub async fn upsert_fraud_episode(&self, e: &FraudEpisodeRecord) -> Result<(), StoreError> {
        check_id(&e.id, "fraud_episodes.id")?;
        check_id(&e.severity, "fraud_episodes.severity")?;
        check_id(&e.status, "fraud_episodes.status")?;
        let sql = format!(
            "INSERT INTO fraud_episodes ({EPISODE_COLS}) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) \
             ON CONFLICT (id) DO UPDATE SET last_at = excluded.last_at, \
             severity = excluded.severity, status = excluded.status, \
             warning_tx = excluded.warning_tx, account_id = excluded.account_id, \
             warn_due_at = excluded.warn_due_at, warned_at = excluded.warned_at, \
             answered_at = excluded.answered_at"
        );
        let opened = instant(e.opened_at, "fraud_episodes.opened_at")?;
        let last = instant(e.last_at, "fraud_episodes.last_at")?;
        let due = opt_text(e.warn_due_at, "fraud_episodes.warn_due_at")?;
        let warned = opt_text(e.warned_at, "fraud_episodes.warned_at")?;
        let answered = opt_text(e.answered_at, "fraud_episodes.answered_at")?;
        with_pool!(self, p => sqlx::query(sqlx::AssertSqlSafe(sql.clone()))
            .bind(&e.id)
            .bind(e.customer.to_string())
            .bind(&opened)
            .bind(&last)
            .bind(&e.severity)
            .bind(&e.status)
            .bind(e.warning_tx.map(|t| t.to_string()))
            .bind(e.account.map(|a| a.to_string()))
            .bind(&due)
            .bind(&warned)
            .bind(&answered)
            .execute(p)
            .await
            .map(|r| r.rows_affected()))?;
        Ok(())
    }

    pub async fn fraud_episode(&self, id: &str) -> Result<Option<FraudEpisodeRecord>, StoreError> {
        let row: Option<EpisodeRow> = with_pool!(self, p => sqlx::query_as(
            select_episodes!("WHERE id = $1"),
        )
        .bind(id)
        .fetch_optional(p)
        .await)?;
        row.map(FraudEpisodeRecord::try_from).transpose()
    }

    /// The customer's newest episode.
    pub async fn latest_fraud_episode(
        &self,
        customer: CustomerId,
    ) -> Result<Option<FraudEpisodeRecord>, StoreError> {
        let row: Option<EpisodeRow> = with_pool!(self, p => sqlx::query_as(
            select_episodes!("WHERE customer_id = $1 ORDER BY opened_at DESC, id DESC LIMIT 1"),
        )
        .bind(customer.to_string())
        .fetch_optional(p)
        .await)?;
        row.map(FraudEpisodeRecord::try_from).transpose()
    }

    /// Episodes in `status` whose delayed warning is due at `now`, oldest first.
    pub async fn fraud_episodes_due(
        &self,
        status: &str,
        now: DateTime<Utc>,
    ) -> Result<Vec<FraudEpisodeRecord>, StoreError> {
        let now = instant(now, "now")?;
        let rows: Vec<EpisodeRow> = with_pool!(self, p => sqlx::query_as(
            select_episodes!("WHERE status = $1 AND warn_due_at IS NOT NULL AND warn_due_at <= $2 \
                              ORDER BY warn_due_at, id"),
        )
        .bind(status)
        .bind(now)
        .fetch_all(p)
        .await)?;
        rows.into_iter().map(FraudEpisodeRecord::try_from).collect()
    }

    /// How many of the customer's episodes ended in `status` with an answer at or after `since`.
    pub async fn fraud_answers_since(
        &self,
        customer: CustomerId,
        status: &str,
        since: DateTime<Utc>,
    ) -> Result<u64, StoreError> {
        let since = instant(since, "since")?;
        let (n,): (i64,) = with_pool!(self, p => sqlx::query_as(
            "SELECT COUNT(*) FROM fraud_episodes WHERE customer_id = $1 AND status = $2 \
             AND answered_at IS NOT NULL AND answered_at >= $3",
        )
        .bind(customer.to_string())
        .bind(status)
        .bind(since)
        .fetch_one(p)
        .await)?;
        crate::codec::count(n, "count")
    }

    /// Opens a fraud case; a second case for the same episode is `Conflict`-free: the first
    /// one is kept and returned.
    pub async fn insert_fraud_case(
        &self,
        c: &FraudCaseRecord,
    ) -> Result<FraudCaseRecord, StoreError> {
        check_id(&c.id, "fraud_cases.id")?;
        check_id(&c.episode_id, "fraud_cases.episode_id")?;
        check_id(&c.status, "fraud_cases.status")?;
        let opened = instant(c.opened_at, "fraud_cases.opened_at")?;
        let closed = opt_text(c.closed_at, "fraud_cases.closed_at")?;
        with_pool!(self, p => sqlx::query(
            "INSERT INTO fraud_cases (id, customer_id, episode_id, status, opened_at, closed_at, \
             cards_blocked) VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (episode_id) DO NOTHING",
        )
        .bind(&c.id)
        .bind(c.customer.to_string())
        .bind(&c.episode_id)
        .bind(&c.status)
        .bind(&opened)
        .bind(&closed)
        .bind(i64::from(c.cards_blocked))
        .execute(p)
        .await
        .map(|r| r.rows_affected()))?;
        self.fraud_case_for_episode(&c.episode_id)
            .await?
            .ok_or(StoreError::NotFound("fraud_cases"))
    }

    pub async fn fraud_case_for_episode(
        &self,
        episode: &str,
    ) -> Result<Option<FraudCaseRecord>, StoreError> {
        let row: Option<CaseRow> = with_pool!(self, p => sqlx::query_as(
            "SELECT id, customer_id, episode_id, status, opened_at, closed_at, cards_blocked \
             FROM fraud_cases WHERE episode_id = $1",
        )
        .bind(episode)
        .fetch_optional(p)
        .await)?;
        row.map(FraudCaseRecord::try_from).transpose()
    }

    pub async fn fraud_cases_for_customer(
        &self,
        customer: CustomerId,
    ) -> Result<Vec<FraudCaseRecord>, StoreError> {
        let rows: Vec<CaseRow> = with_pool!(self, p => sqlx::query_as(
            "SELECT id, customer_id, episode_id, status, opened_at, closed_at, cards_blocked \
             FROM fraud_cases WHERE customer_id = $1 ORDER BY opened_at, id",
        )
        .bind(customer.to_string())
        .fetch_all(p)
        .await)?;
        rows.into_iter().map(FraudCaseRecord::try_from).collect()
    }

    /// Sets a case's status, blocked-card count and closing time.
    pub async fn update_fraud_case(&self, c: &FraudCaseRecord) -> Result<(), StoreError> {
        check_id(&c.status, "fraud_cases.status")?;
        let closed = opt_text(c.closed_at, "fraud_cases.closed_at")?;
        let n = with_pool!(self, p => sqlx::query(
            "UPDATE fraud_cases SET status = $2, closed_at = $3, cards_blocked = $4 WHERE id = $1",
        )
        .bind(&c.id)
        .bind(&c.status)
        .bind(&closed)
        .bind(i64::from(c.cards_blocked))
        .execute(p)
        .await
        .map(|r| r.rows_affected()))?;
        if n == 0 {
            return Err(StoreError::NotFound("fraud_cases"));
        }
        Ok(())
    }

    /// Records that `notice` reached `customer`. True the first time, false if it already had
    /// (so a repeated publish or a restart never delivers twice).
    pub async fn record_notice_delivery(
        &self,
        notice: &str,
        customer: CustomerId,
        at: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        check_id(notice, "notice_deliveries.notice_id")?;
        let at = instant(at, "notice_deliveries.delivered_at")?;
        let n = with_pool!(self, p => sqlx::query(
            "INSERT INTO notice_deliveries (notice_id, customer_id, delivered_at) \
             VALUES ($1, $2, $3) ON CONFLICT (notice_id, customer_id) DO NOTHING",
        )
        .bind(notice)
        .bind(customer.to_string())
        .bind(at)
        .execute(p)
        .await
        .map(|r| r.rows_affected()))?;
        Ok(n == 1)
    }

    /// Takes back a delivery record (the push failed after recording), so a retry sends it.
    pub async fn forget_notice_delivery(
        &self,
        notice: &str,
        customer: CustomerId,
    ) -> Result<(), StoreError> {
        with_pool!(self, p => sqlx::query(
            "DELETE FROM notice_deliveries WHERE notice_id = $1 AND customer_id = $2",
        )
        .bind(notice)
        .bind(customer.to_string())
        .execute(p)
        .await
        .map(|r| r.rows_affected()))?;
        Ok(())
    }
}
