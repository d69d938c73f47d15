//! Consent records: scopes, status, validity, and the OAuth/PKCE secrets of an authorisation in
//! flight. Lookups by OAuth `state` serve the redirect callback; by status, the expiry job.

use okienko_core::{ConsentId, ConsentScope, ConsentStatus, CustomerId};

use crate::codec::{date, instant, parse, read_date, read_instant};
use crate::error::StoreError;
use crate::records::ConsentRecord;
use crate::store::{Store, with_pool};

macro_rules! select_consents {
    ($tail:literal) => {
        concat!(
            "SELECT id, customer_id, bank, bank_consent_id, status, scopes, valid_until, \
             frequency_per_day, recurring, access_token, oauth_state, pkce_verifier, created_at, \
             updated_at FROM consents ",
            $tail
        )
    };
}

#[derive(sqlx::FromRow)]
struct ConsentRow {
    id: String,
    customer_id: String,
    bank: String,
    bank_consent_id: Option<String>,
    status: String,
    scopes: String,
    valid_until: String,
    frequency_per_day: i64,
    recurring: i64,
    access_token: Option<String>,
    oauth_state: Option<String>,
    pkce_verifier: Option<String>,
    created_at: String,
    updated_at: String,
}

impl TryFrom<ConsentRow> for ConsentRecord {
    type Error = StoreError;
    fn try_from(r: ConsentRow) -> Result<Self, StoreError> {
        let scopes = r
            .scopes
            .split(',')
            .filter(|s| !s.is_empty())
            .map(|s| ConsentScope::parse(s).ok_or(StoreError::Corrupt("consents.scopes")))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(ConsentRecord {
            id: parse(&r.id, "consents.id")?,
            customer: parse(&r.customer_id, "consents.customer_id")?,
            bank: r.bank,
            bank_consent_id: r.bank_consent_id,
            status: ConsentStatus::from_wire(&r.status)
                .ok_or(StoreError::Corrupt("consents.status"))?,
            scopes,
            valid_until: read_date(&r.valid_until, "consents.valid_until")?,
            frequency_per_day: u32::try_from(r.frequency_per_day)
                .map_err(|_| StoreError::Corrupt("consents.frequency_per_day"))?,
            recurring: match r.recurring {
                0 => false,
                1 => true,
                _ => return Err(StoreError::Corrupt("consents.recurring")),
            },
            access_token: r.access_token,
            oauth_state: r.oauth_state,
            pkce_verifier: r.pkce_verifier,
            created_at: read_instant(&r.created_at, "consents.created_at")?,
            updated_at: read_instant(&r.updated_at, "consents.updated_at")?,
        })
    }
}

/// The bind values of one consent that need converting first.
struct ConsentParams {
    id: String,
    customer_id: String,
    scopes: String,
    valid_until: String,
    created_at: String,
    updated_at: String,
}

impl ConsentParams {
    fn new(c: &ConsentRecord) -> Result<Self, StoreError> {
        let scopes: Vec<&str> = c.scopes.iter().map(ConsentScope::as_str).collect();
        Ok(ConsentParams {
            id: c.id.to_string(),
            customer_id: c.customer.to_string(),
            scopes: scopes.join(","),
            valid_until: date(c.valid_until, "consent.valid_until")?,
            created_at: instant(c.created_at, "consent.created_at")?,
            updated_at: instant(c.updated_at, "consent.updated_at")?,
        })
    }
}

/// Binds $1..$14 in the column order of the INSERT below.
macro_rules! bind_consent {
    ($q:expr, $c:expr, $v:expr) => {
        $q.bind(&$v.id)
            .bind(&$v.customer_id)
            .bind(&$c.bank)
            .bind(&$c.bank_consent_id)
            .bind($c.status.wire_name())
            .bind(&$v.scopes)
            .bind(&$v.valid_until)
            .bind(i64::from($c.frequency_per_day))
            .bind(i64::from($c.recurring))
            .bind(&$c.access_token)
            .bind(&$c.oauth_state)
            .bind(&$c.pkce_verifier)
            .bind(&$v.created_at)
            .bind(&$v.updated_at)
    };
}

fn rows_to_records(rows: Vec<ConsentRow>) -> Result<Vec<ConsentRecord>, StoreError> {
    rows.into_iter().map(ConsentRecord::try_from).collect()
}

impl Store {
    /// Inserts a new consent; an existing id or a reused OAuth state is a unique violation.
    pub async fn insert_consent(&self, c: &ConsentRecord) -> Result<(), StoreError> {
        let v = ConsentParams::new(c)?;
        with_pool!(self, p => bind_consent!(sqlx::query(
            "INSERT INTO consents (id, customer_id, bank, bank_consent_id, status, scopes, \
             valid_until, frequency_per_day, recurring, access_token, oauth_state, pkce_verifier, \
             created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)",
        ), c, v)
        .execute(p)
        .await
        .map(|r| r.rows_affected()))?;
        Ok(())
    }

    /// Replaces every field of the consent with this id (its customer and `created_at` included).
    /// `NotFound` if there is no such consent.
    pub async fn update_consent(&self, c: &ConsentRecord) -> Result<(), StoreError> {
        let v = ConsentParams::new(c)?;
        let done = with_pool!(self, p => bind_consent!(sqlx::query(
            "UPDATE consents SET customer_id = $2, bank = $3, bank_consent_id = $4, status = $5, \
             scopes = $6, valid_until = $7, frequency_per_day = $8, recurring = $9, \
             access_token = $10, oauth_state = $11, pkce_verifier = $12, created_at = $13, \
             updated_at = $14 WHERE id = $1",
        ), c, v)
        .execute(p)
        .await
        .map(|r| r.rows_affected()))?;
        if done == 0 {
            return Err(StoreError::NotFound("consents"));
        }
        Ok(())
    }

    pub async fn consent(&self, id: ConsentId) -> Result<Option<ConsentRecord>, StoreError> {
        let row: Option<ConsentRow> = with_pool!(self, p => sqlx::query_as(
            select_consents!("WHERE id = $1"),
        )
        .bind(id.to_string())
        .fetch_optional(p)
        .await)?;
        row.map(ConsentRecord::try_from).transpose()
    }

    /// The consent whose authorisation is waiting for this OAuth `state` (exact match).
    pub async fn consent_by_oauth_state(
        &self,
        state: &str,
    ) -> Result<Option<ConsentRecord>, StoreError> {
        let row: Option<ConsentRow> = with_pool!(self, p => sqlx::query_as(
            select_consents!("WHERE oauth_state = $1"),
        )
        .bind(state)
        .fetch_optional(p)
        .await)?;
        row.map(ConsentRecord::try_from).transpose()
    }

    /// Oldest first.
    pub async fn consents_for_customer(
        &self,
        c: CustomerId,
    ) -> Result<Vec<ConsentRecord>, StoreError> {
        let rows: Vec<ConsentRow> = with_pool!(self, p => sqlx::query_as(
            select_consents!("WHERE customer_id = $1 ORDER BY created_at, id"),
        )
        .bind(c.to_string())
        .fetch_all(p)
        .await)?;
        rows_to_records(rows)
    }

    /// Oldest first.
    pub async fn consents_with_status(
        &self,
        s: ConsentStatus,
    ) -> Result<Vec<ConsentRecord>, StoreError> {
        let rows: Vec<ConsentRow> = with_pool!(self, p => sqlx::query_as(
            select_consents!("WHERE status = $1 ORDER BY created_at, id"),
        )
        .bind(s.wire_name())
        .fetch_all(p)
        .await)?;
        rows_to_records(rows)
    }
}
