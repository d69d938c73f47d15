//! Human support's tables: staff accounts and session-token hashes, support cases, handed-over
//! conversations and their transcripts. The store persists and reads back; the privacy crate
//! decides who may do what with them (roles, banks, cases) and audits transcript reads.
//!
//! Claiming a conversation is one conditional UPDATE (`WHERE owner IS NULL AND status =
//! 'queued'`), so of any number of agents racing for it exactly one sees a row affected.
//! Transcript text is sealed with the customer's data key and deleted with the customer's
//! financial data (see `erase`).

use chrono::{DateTime, Utc};
use okienko_core::CustomerId;
use serde::{Deserialize, Serialize};

use crate::codec::{instant, parse, read_instant};
use crate::error::StoreError;
use crate::sealed;
use crate::store::{Store, begin_write, with_pool};
use crate::vault::{DekCache, dek_for_write};

/// A member of bank staff who may sign in to the agent console.
#[derive(Clone, PartialEq, Eq)]
pub struct StaffRecord {
    pub id: String,
    /// The bank whose customers this person serves.
    pub bank: String,
    pub username: String,
    pub display_name: String,
    /// "agent" or "supervisor".
    pub role: String,
    pub team: String,
    /// A PHC string (argon2id); never the password.
    pub password_hash: String,
    pub created_at: DateTime<Utc>,
}

impl std::fmt::Debug for StaffRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StaffRecord")
            .field("id", &self.id)
            .field("bank", &self.bank)
            .field("role", &self.role)
            .field("team", &self.team)
            .finish_non_exhaustive()
    }
}

/// A support case: while open, `agent` may read `customer`'s data for `service.support`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SupportCaseRecord {
    pub id: String,
    pub agent: String,
    pub customer: CustomerId,
    pub opened_at: DateTime<Utc>,
    pub closed_at: Option<DateTime<Utc>>,
}

/// A conversation handed over to people.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SupportConversationRecord {
    pub id: String,
    pub bank: String,
    pub customer: CustomerId,
    pub team: String,
    /// The staff id holding it; `None` while queued (or offline, or closed unclaimed).
    pub owner: Option<String>,
    /// "queued", "active", "offline" (a message left outside business hours) or "closed".
    pub status: String,
    /// Why it was handed over ("customer_asked", "misunderstood", "fraud", …).
    pub reason: String,
    pub lang: String,
    pub case_id: Option<String>,
    pub requested_at: DateTime<Utc>,
    pub claimed_at: Option<DateTime<Utc>>,
    pub first_response_at: Option<DateTime<Utc>>,
    pub closed_at: Option<DateTime<Utc>>,
    pub resolution: Option<String>,
    /// The SLA ran out while it waited.
    pub escalated: bool,
    pub csat: Option<u8>,
}

/// One transcript line. `text` is plaintext here and sealed at rest.
#[derive(Clone, PartialEq, Eq)]
pub struct SupportMessageRecord {
    pub id: String,
    pub conversation_id: String,
    pub customer: CustomerId,
    /// 1, 2, 3, … per conversation, assigned by the store.
    pub seq: i64,
    /// "customer", "bot", "system" or "agent:<staff id>".
    pub sender: String,
    /// "message" (seen by the customer) or "note" (staff only).
    pub kind: String,
    pub at: DateTime<Utc>,
    pub text: String,
}

impl std::fmt::Debug for SupportMessageRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SupportMessageRecord")
            .field("id", &self.id)
            .field("conversation_id", &self.conversation_id)
            .field("seq", &self.seq)
            .field("sender", &self.sender)
            .field("kind", &self.kind)
            .finish_non_exhaustive()
    }
}

const MESSAGES: &str = "support_messages.sealed";

#[derive(Serialize, Deserialize)]
struct MessageSecret {
    text: String,
}

#[derive(sqlx::FromRow)]
struct StaffRow {
    id: String,
    bank: String,
    username: String,
    display_name: String,
    role: String,
    team: String,
    password_hash: String,
    created_at: String,
}

impl TryFrom<StaffRow> for StaffRecord {
    type Error = StoreError;
    fn try_from(r: StaffRow) -> Result<Self, StoreError> {
        Ok(StaffRecord {
            id: r.id,
            bank: r.bank,
            username: r.username,
            display_name: r.display_name,
            role: r.role,
            team: r.team,
            password_hash: r.password_hash,
            created_at: read_instant(&r.created_at, "staff.created_at")?,
        })
    }
}

macro_rules! select_staff {
    ($tail:literal) => {
        concat!(
            "SELECT id, bank, username, display_name, role, team, password_hash, created_at \
             FROM staff ",
            $tail
        )
    };
}

macro_rules! select_conversations {
    ($tail:literal) => {
        concat!(
            "SELECT id, bank, customer_id, team, owner, status, reason, lang, case_id, \
             requested_at, claimed_at, first_response_at, closed_at, resolution, escalated, csat \
             FROM support_conversations ",
            $tail
        )
    };
}

#[derive(sqlx::FromRow)]
struct ConversationRow {
    id: String,
    bank: String,
    customer_id: String,
    team: String,
    owner: Option<String>,
    status: String,
    reason: String,
    lang: String,
    case_id: Option<String>,
    requested_at: String,
    claimed_at: Option<String>,
    first_response_at: Option<String>,
    closed_at: Option<String>,
    resolution: Option<String>,
    escalated: i64,
    csat: Option<i64>,
}

fn opt_instant(s: Option<&str>, column: &'static str) -> Result<Option<DateTime<Utc>>, StoreError> {
    s.map(|s| read_instant(s, column)).transpose()
}

impl TryFrom<ConversationRow> for SupportConversationRecord {
    type Error = StoreError;
    fn try_from(r: ConversationRow) -> Result<Self, StoreError> {
        Ok(SupportConversationRecord {
            customer: parse(&r.customer_id, "support_conversations.customer_id")?,
            requested_at: read_instant(&r.requested_at, "support_conversations.requested_at")?,
            claimed_at: opt_instant(r.claimed_at.as_deref(), "support_conversations.claimed_at")?,
            first_response_at: opt_instant(
                r.first_response_at.as_deref(),
                "support_conversations.first_response_at",
            )?,
            closed_at: opt_instant(r.closed_at.as_deref(), "support_conversations.closed_at")?,
            escalated: r.escalated != 0,
            csat: r
                .csat
                .map(|c| {
                    u8::try_from(c).map_err(|_| StoreError::Corrupt("support_conversations.csat"))
                })
                .transpose()?,
            id: r.id,
            bank: r.bank,
            team: r.team,
            owner: r.owner,
            status: r.status,
            reason: r.reason,
            lang: r.lang,
            case_id: r.case_id,
            resolution: r.resolution,
        })
    }
}

fn conversations(rows: Vec<ConversationRow>) -> Result<Vec<SupportConversationRecord>, StoreError> {
    rows.into_iter()
        .map(SupportConversationRecord::try_from)
        .collect()
}

fn opt_instant_text(
    t: Option<DateTime<Utc>>,
    field: &'static str,
) -> Result<Option<String>, StoreError> {
    t.map(|t| instant(t, field)).transpose()
}

impl Store {
    // ------------------------------------------------------------------ staff

    /// Adds a staff account; a taken username is a unique violation.
    pub async fn insert_staff(&self, s: &StaffRecord) -> Result<(), StoreError> {
        let created = instant(s.created_at, "staff.created_at")?;
        with_pool!(self, p => sqlx::query(
            "INSERT INTO staff (id, bank, username, display_name, role, team, password_hash, \
             created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(&s.id)
        .bind(&s.bank)
        .bind(&s.username)
        .bind(&s.display_name)
        .bind(&s.role)
        .bind(&s.team)
        .bind(&s.password_hash)
        .bind(created)
        .execute(p)
        .await
        .map(|r| r.rows_affected()))?;
        Ok(())
    }

    pub async fn staff_by_username(
        &self,
        username: &str,
    ) -> Result<Option<StaffRecord>, StoreError> {
        let row: Option<StaffRow> = with_pool!(self, p => sqlx::query_as(
            select_staff!("WHERE username = $1"),
        )
        .bind(username)
        .fetch_optional(p)
        .await)?;
        row.map(StaffRecord::try_from).transpose()
    }

    pub async fn staff_by_id(&self, id: &str) -> Result<Option<StaffRecord>, StoreError> {
        let row: Option<StaffRow> = with_pool!(self, p => sqlx::query_as(
            select_staff!("WHERE id = $1"),
        )
        .bind(id)
        .fetch_optional(p)
        .await)?;
        row.map(StaffRecord::try_from).transpose()
    }

    /// The bank's staff, by username.
    pub async fn staff_of_bank(&self, bank: &str) -> Result<Vec<StaffRecord>, StoreError> {
        let rows: Vec<StaffRow> = with_pool!(self, p => sqlx::query_as(
            select_staff!("WHERE bank = $1 ORDER BY username"),
        )
        .bind(bank)
        .fetch_all(p)
        .await)?;
        rows.into_iter().map(StaffRecord::try_from).collect()
    }

    /// Stores a session by the hash of its token.
    pub async fn insert_staff_session(
        &self,
        token_hash: &str,
        staff_id: &str,
        created_at: DateTime<Utc>,
        expires_at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let created = instant(created_at, "staff_sessions.created_at")?;
        let expires = instant(expires_at, "staff_sessions.expires_at")?;
        with_pool!(self, p => sqlx::query(
            "INSERT INTO staff_sessions (token_hash, staff_id, created_at, expires_at) \
             VALUES ($1, $2, $3, $4)",
        )
        .bind(token_hash)
        .bind(staff_id)
        .bind(created)
        .bind(expires)
        .execute(p)
        .await
        .map(|r| r.rows_affected()))?;
        Ok(())
    }

    /// The staff id of a session that has not expired at `now`.
    pub async fn staff_session(
        &self,
        token_hash: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<String>, StoreError> {
        let now = instant(now, "now")?;
        let id: Option<String> = with_pool!(self, p => sqlx::query_scalar(
            "SELECT staff_id FROM staff_sessions WHERE token_hash = $1 AND expires_at > $2",
        )
        .bind(token_hash)
        .bind(now)
        .fetch_optional(p)
        .await)?;
        Ok(id)
    }

    pub async fn delete_staff_session(&self, token_hash: &str) -> Result<bool, StoreError> {
        let n = with_pool!(self, p => sqlx::query(
            "DELETE FROM staff_sessions WHERE token_hash = $1",
        )
        .bind(token_hash)
        .execute(p)
        .await
        .map(|r| r.rows_affected()))?;
        Ok(n > 0)
    }

    // ------------------------------------------------------------------ cases

    pub async fn insert_support_case(&self, c: &SupportCaseRecord) -> Result<(), StoreError> {
        let opened = instant(c.opened_at, "support_cases.opened_at")?;
        let closed = opt_instant_text(c.closed_at, "support_cases.closed_at")?;
        with_pool!(self, p => sqlx::query(
            "INSERT INTO support_cases (id, agent, customer_id, opened_at, closed_at) \
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(&c.id)
        .bind(&c.agent)
        .bind(c.customer.to_string())
        .bind(opened)
        .bind(closed)
        .execute(p)
        .await
        .map(|r| r.rows_affected()))?;
        Ok(())
    }

    /// Closes an open case; false if it was not open.
    pub async fn close_support_case(
        &self,
        id: &str,
        at: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let at = instant(at, "support_cases.closed_at")?;
        let n = with_pool!(self, p => sqlx::query(
            "UPDATE support_cases SET closed_at = $2 WHERE id = $1 AND closed_at IS NULL",
        )
        .bind(id)
        .bind(at)
        .execute(p)
        .await
        .map(|r| r.rows_affected()))?;
        Ok(n > 0)
    }

    /// The ids of the agent's open cases.
    pub async fn open_support_cases_of(&self, agent: &str) -> Result<Vec<String>, StoreError> {
        let ids: Vec<String> = with_pool!(self, p => sqlx::query_scalar(
            "SELECT id FROM support_cases WHERE agent = $1 AND closed_at IS NULL ORDER BY id",
        )
        .bind(agent)
        .fetch_all(p)
        .await)?;
        Ok(ids)
    }

    /// The customer an open case is about.
    pub async fn open_support_case_subject(
        &self,
        id: &str,
    ) -> Result<Option<CustomerId>, StoreError> {
        let c: Option<String> = with_pool!(self, p => sqlx::query_scalar(
            "SELECT customer_id FROM support_cases WHERE id = $1 AND closed_at IS NULL",
        )
        .bind(id)
        .fetch_optional(p)
        .await)?;
        c.map(|c| parse(&c, "support_cases.customer_id"))
            .transpose()
    }

    // ---------------------------------------------------------- conversations

    pub async fn insert_support_conversation(
        &self,
        c: &SupportConversationRecord,
    ) -> Result<(), StoreError> {
        let requested = instant(c.requested_at, "support_conversations.requested_at")?;
        let claimed = opt_instant_text(c.claimed_at, "support_conversations.claimed_at")?;
        let first = opt_instant_text(
            c.first_response_at,
            "support_conversations.first_response_at",
        )?;
        let closed = opt_instant_text(c.closed_at, "support_conversations.closed_at")?;
        // Before the insert: a customer looked up from now on is looked up in the file.
        if let Some(direct) = self.direct() {
            direct.quiet_support.conversation_created();
        }
        with_pool!(self, p => sqlx::query(
            "INSERT INTO support_conversations (id, bank, customer_id, team, owner, status, \
             reason, lang, case_id, requested_at, claimed_at, first_response_at, closed_at, \
             resolution, escalated, csat) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)",
        )
        .bind(&c.id)
        .bind(&c.bank)
        .bind(c.customer.to_string())
        .bind(&c.team)
        .bind(&c.owner)
        .bind(&c.status)
        .bind(&c.reason)
        .bind(&c.lang)
        .bind(&c.case_id)
        .bind(requested)
        .bind(claimed)
        .bind(first)
        .bind(closed)
        .bind(&c.resolution)
        .bind(i64::from(c.escalated))
        .bind(c.csat.map(i64::from))
        .execute(p)
        .await
        .map(|r| r.rows_affected()))?;
        Ok(())
    }

    pub async fn support_conversation(
        &self,
        id: &str,
    ) -> Result<Option<SupportConversationRecord>, StoreError> {
        let row: Option<ConversationRow> = with_pool!(self, p => sqlx::query_as(
            select_conversations!("WHERE id = $1"),
        )
        .bind(id)
        .fetch_optional(p)
        .await)?;
        row.map(SupportConversationRecord::try_from).transpose()
    }

    /// The customer's conversation that is queued or with an agent, if any (newest).
    pub async fn live_support_conversation_of(
        &self,
        customer: CustomerId,
    ) -> Result<Option<SupportConversationRecord>, StoreError> {
        const LIVE: &str = select_conversations!(
            "WHERE customer_id = $1 AND status IN ('queued', 'active') \
             ORDER BY requested_at DESC LIMIT 1"
        );
        if let Some(direct) = self.direct() {
            // Asked before every answer of the bot (is a person holding this chat?): from
            // memory when the customer had none since the last one was created, else directly.
            use rusqlite::OptionalExtension as _;
            let id = customer.to_string();
            if direct.quiet_support.is_quiet(&id) {
                return Ok(None);
            }
            let epoch = direct.quiet_support.epoch();
            let row = direct.read(|conn| {
                Ok(conn
                    .prepare_cached(LIVE)?
                    .query_row([&id], |r| {
                        Ok(ConversationRow {
                            id: r.get(0)?,
                            bank: r.get(1)?,
                            customer_id: r.get(2)?,
                            team: r.get(3)?,
                            owner: r.get(4)?,
                            status: r.get(5)?,
                            reason: r.get(6)?,
                            lang: r.get(7)?,
                            case_id: r.get(8)?,
                            requested_at: r.get(9)?,
                            claimed_at: r.get(10)?,
                            first_response_at: r.get(11)?,
                            closed_at: r.get(12)?,
                            resolution: r.get(13)?,
                            escalated: r.get(14)?,
                            csat: r.get(15)?,
                        })
                    })
                    .optional()?)
            })?;
            if row.is_none() {
                direct.quiet_support.remember(&id, epoch);
            }
            return row.map(SupportConversationRecord::try_from).transpose();
        }
        let row: Option<ConversationRow> = with_pool!(self, p => sqlx::query_as(LIVE)
        .bind(customer.to_string())
        .fetch_optional(p)
        .await)?;
        row.map(SupportConversationRecord::try_from).transpose()
    }

    /// The bank's conversations with `status`, oldest request first.
    pub async fn support_conversations_with_status(
        &self,
        bank: &str,
        status: &str,
    ) -> Result<Vec<SupportConversationRecord>, StoreError> {
        let rows: Vec<ConversationRow> = with_pool!(self, p => sqlx::query_as(
            select_conversations!("WHERE bank = $1 AND status = $2 ORDER BY requested_at, id"),
        )
        .bind(bank)
        .bind(status)
        .fetch_all(p)
        .await)?;
        conversations(rows)
    }

    /// Conversations of the bank closed at or after `since`, newest first (at most `limit`).
    pub async fn support_conversations_closed_since(
        &self,
        bank: &str,
        since: DateTime<Utc>,
        limit: i64,
    ) -> Result<Vec<SupportConversationRecord>, StoreError> {
        let since = instant(since, "since")?;
        let rows: Vec<ConversationRow> = with_pool!(self, p => sqlx::query_as(
            select_conversations!(
                "WHERE bank = $1 AND status = 'closed' AND closed_at >= $2 \
                 ORDER BY closed_at DESC LIMIT $3"
            ),
        )
        .bind(bank)
        .bind(since)
        .bind(limit)
        .fetch_all(p)
        .await)?;
        conversations(rows)
    }

    /// Atomically gives a queued conversation of `bank` to `staff`: true for exactly one of any
    /// number of concurrent callers.
    pub async fn claim_support_conversation(
        &self,
        id: &str,
        bank: &str,
        staff: &str,
        at: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let at = instant(at, "support_conversations.claimed_at")?;
        let n = with_pool!(self, p => sqlx::query(
            "UPDATE support_conversations SET owner = $3, status = 'active', claimed_at = $4 \
             WHERE id = $1 AND bank = $2 AND owner IS NULL AND status = 'queued'",
        )
        .bind(id)
        .bind(bank)
        .bind(staff)
        .bind(at)
        .execute(p)
        .await
        .map(|r| r.rows_affected()))?;
        Ok(n == 1)
    }

    /// Links the conversation to the case opened for its owner.
    pub async fn set_support_conversation_case(
        &self,
        id: &str,
        case_id: Option<&str>,
    ) -> Result<(), StoreError> {
        with_pool!(self, p => sqlx::query(
            "UPDATE support_conversations SET case_id = $2 WHERE id = $1",
        )
        .bind(id)
        .bind(case_id)
        .execute(p)
        .await
        .map(|r| r.rows_affected()))?;
        Ok(())
    }

    /// Moves an active conversation held by `from` to another agent (`to = Some`, stays active)
    /// or back to the queue of `team` (`to = None`). False if `from` no longer holds it.
    pub async fn transfer_support_conversation(
        &self,
        id: &str,
        from: &str,
        to: Option<&str>,
        team: &str,
    ) -> Result<bool, StoreError> {
        let status = if to.is_some() { "active" } else { "queued" };
        let n = with_pool!(self, p => sqlx::query(
            "UPDATE support_conversations SET owner = $3, team = $4, status = $5, case_id = NULL \
             WHERE id = $1 AND owner = $2 AND status = 'active'",
        )
        .bind(id)
        .bind(from)
        .bind(to)
        .bind(team)
        .bind(status)
        .execute(p)
        .await
        .map(|r| r.rows_affected()))?;
        Ok(n == 1)
    }

    /// Records the first agent reply's time (once).
    pub async fn mark_support_first_response(
        &self,
        id: &str,
        at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let at = instant(at, "support_conversations.first_response_at")?;
        with_pool!(self, p => sqlx::query(
            "UPDATE support_conversations SET first_response_at = $2 \
             WHERE id = $1 AND first_response_at IS NULL",
        )
        .bind(id)
        .bind(at)
        .execute(p)
        .await
        .map(|r| r.rows_affected()))?;
        Ok(())
    }

    /// Closes a queued, active or offline conversation. With `owner = Some`, only if that agent
    /// holds it. False if it was not open (or not theirs).
    pub async fn close_support_conversation(
        &self,
        id: &str,
        owner: Option<&str>,
        resolution: &str,
        at: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let at = instant(at, "support_conversations.closed_at")?;
        let n = with_pool!(self, p => sqlx::query(
            "UPDATE support_conversations SET status = 'closed', closed_at = $3, resolution = $4 \
             WHERE id = $1 AND status IN ('queued', 'active', 'offline') \
             AND ($2 IS NULL OR owner = $2)",
        )
        .bind(id)
        .bind(owner)
        .bind(at)
        .bind(resolution)
        .execute(p)
        .await
        .map(|r| r.rows_affected()))?;
        Ok(n == 1)
    }

    /// Flags queued conversations of `bank` requested before `deadline` that are not flagged yet;
    /// returns their ids.
    pub async fn escalate_support_conversations(
        &self,
        bank: &str,
        deadline: DateTime<Utc>,
    ) -> Result<Vec<String>, StoreError> {
        let deadline = instant(deadline, "deadline")?;
        let backend = self.backend();
        let ids = with_pool!(self, p => {
            let mut tx = begin_write(p, backend).await?;
            let ids: Vec<String> = sqlx::query_scalar(
                "SELECT id FROM support_conversations WHERE bank = $1 AND status = 'queued' \
                 AND escalated = 0 AND requested_at < $2 ORDER BY requested_at",
            )
            .bind(bank)
            .bind(&deadline)
            .fetch_all(&mut *tx)
            .await?;
            for id in &ids {
                sqlx::query("UPDATE support_conversations SET escalated = 1 WHERE id = $1")
                    .bind(id)
                    .execute(&mut *tx)
                    .await?;
            }
            tx.commit().await?;
            ids
        });
        Ok(ids)
    }

    /// Stores the customer's satisfaction score (once) for their closed conversation.
    pub async fn record_support_csat(
        &self,
        id: &str,
        customer: CustomerId,
        score: u8,
    ) -> Result<bool, StoreError> {
        if !(1..=5).contains(&score) {
            return Err(StoreError::Invalid("support_conversations.csat"));
        }
        let n = with_pool!(self, p => sqlx::query(
            "UPDATE support_conversations SET csat = $3 \
             WHERE id = $1 AND customer_id = $2 AND status = 'closed' AND csat IS NULL",
        )
        .bind(id)
        .bind(customer.to_string())
        .bind(i64::from(score))
        .execute(p)
        .await
        .map(|r| r.rows_affected()))?;
        Ok(n == 1)
    }

    // ------------------------------------------------------------- transcripts

    /// Appends a transcript line, sealed with the customer's data key; returns its seq.
    pub async fn append_support_message(
        &self,
        m: &SupportMessageRecord,
    ) -> Result<i64, StoreError> {
        let customer = m.customer.to_string();
        let at = instant(m.at, "support_messages.at")?;
        let backend = self.backend();
        let seq = with_pool!(self, p => {
            let mut tx = begin_write(p, backend).await?;
            let dek = dek_for_write!(self, &mut *tx, &customer);
            let sealed = sealed::seal(&dek, MESSAGES, &m.id, &MessageSecret { text: m.text.clone() })?;
            let last: Option<i64> = sqlx::query_scalar(
                "SELECT MAX(seq) FROM support_messages WHERE conversation_id = $1",
            )
            .bind(&m.conversation_id)
            .fetch_one(&mut *tx)
            .await?;
            let seq = last.unwrap_or(0) + 1;
            sqlx::query(
                "INSERT INTO support_messages (id, conversation_id, customer_id, seq, sender, \
                 kind, at, sealed) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
            )
            .bind(&m.id)
            .bind(&m.conversation_id)
            .bind(&customer)
            .bind(seq)
            .bind(&m.sender)
            .bind(&m.kind)
            .bind(at)
            .bind(sealed)
            .execute(&mut *tx)
            .await?;
            tx.commit().await?;
            seq
        });
        Ok(seq)
    }

    /// The conversation's transcript in order, opened with the customer's data key.
    pub async fn support_messages(
        &self,
        conversation_id: &str,
    ) -> Result<Vec<SupportMessageRecord>, StoreError> {
        type Row = (String, String, String, i64, String, String, String, Vec<u8>);
        let rows: Vec<Row> = with_pool!(self, p => sqlx::query_as(
            "SELECT id, conversation_id, customer_id, seq, sender, kind, at, sealed \
             FROM support_messages WHERE conversation_id = $1 ORDER BY seq",
        )
        .bind(conversation_id)
        .fetch_all(p)
        .await)?;
        let mut keys = DekCache::default();
        let mut out = Vec::with_capacity(rows.len());
        for (id, conv, customer, seq, sender, kind, at, bytes) in rows {
            let dek = sealed::require(self.cached_dek(&mut keys, &customer).await?)?;
            let secret: MessageSecret = sealed::open(dek, MESSAGES, &id, &bytes)?;
            out.push(SupportMessageRecord {
                customer: parse(&customer, "support_messages.customer_id")?,
                at: read_instant(&at, "support_messages.at")?,
                text: secret.text,
                id,
                conversation_id: conv,
                seq,
                sender,
                kind,
            });
        }
        Ok(out)
    }
}
