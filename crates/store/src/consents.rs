//! Consent records: scopes, status, validity, and the OAuth/PKCE secrets of an authorisation in
//! flight. Lookups by OAuth `state` serve the redirect callback; by status, the expiry job.
//! The access token and PKCE verifier are sealed with the customer's data key (column `sealed`,
//! NULL when there is neither); the pre-encryption plaintext columns are emptied at connect.

use okienko_core::{ConsentId, ConsentScope, ConsentStatus, CustomerId};

use crate::codec::{date, instant, parse, read_date, read_instant};
use crate::crypto::DataKey;
use crate::error::StoreError;
use crate::records::ConsentRecord;
use crate::sealed::{self, ConsentSecret};
use crate::store::{Store, begin_write, with_pool};
use crate::vault::{DekCache, dek_for_write};

macro_rules! select_consents {
    ($tail:literal) => {
        concat!(
            "SELECT id, customer_id, bank, bank_consent_id, status, scopes, valid_until, \
             frequency_per_day, recurring, oauth_state, sealed, created_at, updated_at \
             FROM consents ",
            $tail
        )
    };
}

/// What one consent grants: its bank, status, scopes and last valid day, without its secrets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsentGrant {
    pub id: ConsentId,
    pub bank: String,
    pub status: ConsentStatus,
    pub scopes: Vec<ConsentScope>,
    pub valid_until: chrono::NaiveDate,
}

fn parse_scopes(column: &str) -> Result<Vec<ConsentScope>, StoreError> {
    column
        .split(',')
        .filter(|s| !s.is_empty())
        .map(|s| ConsentScope::parse(s).ok_or(StoreError::Corrupt("consents.scopes")))
        .collect()
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
    oauth_state: Option<String>,
    sealed: Option<Vec<u8>>,
    created_at: String,
    updated_at: String,
}

impl ConsentRow {
    fn into_record(self, dek: Option<&DataKey>) -> Result<ConsentRecord, StoreError> {
        let r = self;
        let mut secret = match &r.sealed {
            Some(bytes) => sealed::open::<ConsentSecret>(
                sealed::require(dek)?,
                sealed::CONSENTS,
                &r.id,
                bytes,
            )?,
            None => ConsentSecret {
                access_token: None,
                pkce_verifier: None,
            },
        };
        let scopes = parse_scopes(&r.scopes)?;
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
            access_token: secret.access_token.take(),
            oauth_state: r.oauth_state,
            pkce_verifier: secret.pkce_verifier.take(),
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
    /// Set inside the write transaction, once the customer's data key is known.
    sealed: Option<Vec<u8>>,
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
            sealed: None,
        })
    }

    fn has_secrets(c: &ConsentRecord) -> bool {
        c.access_token.is_some() || c.pkce_verifier.is_some()
    }

    fn seal(&mut self, dek: &DataKey, c: &ConsentRecord) -> Result<(), StoreError> {
        let secret = ConsentSecret {
            access_token: c.access_token.clone(),
            pkce_verifier: c.pkce_verifier.clone(),
        };
        self.sealed = Some(sealed::seal(dek, sealed::CONSENTS, &self.id, &secret)?);
        Ok(())
    }
}

/// Binds $1..$13 in the column order of the INSERT below.
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
            .bind(&$c.oauth_state)
            .bind(&$v.sealed)
            .bind(&$v.created_at)
            .bind(&$v.updated_at)
    };
}

impl Store {
    /// Inserts a new consent; an existing id or a reused OAuth state is a unique violation.
    pub async fn insert_consent(&self, c: &ConsentRecord) -> Result<(), StoreError> {
        let mut v = ConsentParams::new(c)?;
        let backend = self.backend();
        with_pool!(self, p => {
            let mut tx = begin_write(p, backend).await?;
            if ConsentParams::has_secrets(c) {
                let dek = dek_for_write!(self, &mut *tx, &v.customer_id);
                v.seal(&dek, c)?;
            }
            bind_consent!(sqlx::query(
                "INSERT INTO consents (id, customer_id, bank, bank_consent_id, status, scopes, \
                 valid_until, frequency_per_day, recurring, oauth_state, sealed, \
                 created_at, updated_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)",
            ), c, v)
            .execute(&mut *tx)
            .await?;
            tx.commit().await?;
        });
        self.consent_watch.changed(c.customer);
        Ok(())
    }

    /// Replaces every field of the consent with this id (its customer and `created_at` included).
    /// `NotFound` if there is no such consent.
    pub async fn update_consent(&self, c: &ConsentRecord) -> Result<(), StoreError> {
        let mut v = ConsentParams::new(c)?;
        let backend = self.backend();
        let (done, before) = with_pool!(self, p => {
            let mut tx = begin_write(p, backend).await?;
            let before: Option<String> =
                sqlx::query_scalar("SELECT customer_id FROM consents WHERE id = $1")
                    .bind(&v.id)
                    .fetch_optional(&mut *tx)
                    .await?;
            if ConsentParams::has_secrets(c) {
                let dek = dek_for_write!(self, &mut *tx, &v.customer_id);
                v.seal(&dek, c)?;
            }
            let n = bind_consent!(sqlx::query(
                "UPDATE consents SET customer_id = $2, bank = $3, bank_consent_id = $4, \
                 status = $5, scopes = $6, valid_until = $7, frequency_per_day = $8, \
                 recurring = $9, oauth_state = $10, sealed = $11, created_at = $12, \
                 updated_at = $13 WHERE id = $1",
            ), c, v)
            .execute(&mut *tx)
            .await?
            .rows_affected();
            tx.commit().await?;
            (n, before)
        });
        if done == 0 {
            return Err(StoreError::NotFound("consents"));
        }
        // The update may have moved the consent to another customer: both forget it.
        self.consent_watch.changed(c.customer);
        if let Some(before) = before.and_then(|b| b.parse::<CustomerId>().ok())
            && before != c.customer
        {
            self.consent_watch.changed(before);
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
        Ok(self.open_consents(row.into_iter().collect()).await?.pop())
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
        Ok(self.open_consents(row.into_iter().collect()).await?.pop())
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
        self.open_consents(rows).await
    }

    /// What the customer's consents grant, without their secrets (no data key is touched): the
    /// privacy gate's consent lookup. Oldest first.
    pub async fn consent_grants_for_customer(
        &self,
        c: CustomerId,
    ) -> Result<Vec<ConsentGrant>, StoreError> {
        type GrantRow = (String, String, String, String, String);
        let rows: Vec<GrantRow> = with_pool!(self, p => sqlx::query_as(
            "SELECT id, bank, status, scopes, valid_until FROM consents \
             WHERE customer_id = $1 ORDER BY created_at, id",
        )
        .bind(c.to_string())
        .fetch_all(p)
        .await)?;
        rows.into_iter()
            .map(|(id, bank, status, scopes, valid_until)| {
                Ok(ConsentGrant {
                    id: parse(&id, "consents.id")?,
                    bank,
                    status: ConsentStatus::from_wire(&status)
                        .ok_or(StoreError::Corrupt("consents.status"))?,
                    scopes: parse_scopes(&scopes)?,
                    valid_until: read_date(&valid_until, "consents.valid_until")?,
                })
            })
            .collect()
    }

    /// The consents the bank knows by this id (its `consentId`), oldest first: a bank
    /// notification names a consent so.
    pub async fn consents_by_bank_consent_id(
        &self,
        bank_consent_id: &str,
    ) -> Result<Vec<ConsentRecord>, StoreError> {
        let rows: Vec<ConsentRow> = with_pool!(self, p => sqlx::query_as(
            select_consents!("WHERE bank_consent_id = $1 ORDER BY created_at, id"),
        )
        .bind(bank_consent_id)
        .fetch_all(p)
        .await)?;
        self.open_consents(rows).await
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
        self.open_consents(rows).await
    }
}

impl Store {
    /// Turns rows into records, loading each customer's data key once (only for sealed rows).
    async fn open_consents(&self, rows: Vec<ConsentRow>) -> Result<Vec<ConsentRecord>, StoreError> {
        let mut keys = DekCache::default();
        let mut out = Vec::with_capacity(rows.len());
        for r in rows {
            let dek = match r.sealed {
                Some(_) => self.cached_dek(&mut keys, &r.customer_id).await?,
                None => None,
            };
            out.push(r.into_record(dek)?);
        }
        Ok(out)
    }

    /// Seals access tokens and PKCE verifiers written before encryption existed and empties the
    /// old plaintext columns (run at connect; a no-op once done).
    pub(crate) async fn seal_legacy_consent_secrets(&self) -> Result<u64, StoreError> {
        type Legacy = (String, String, Option<String>, Option<String>);
        let backend = self.backend();
        let legacy: Vec<Legacy> = with_pool!(self, p => sqlx::query_as(
            "SELECT id, customer_id, access_token, pkce_verifier FROM consents \
             WHERE access_token IS NOT NULL OR pkce_verifier IS NOT NULL",
        )
        .fetch_all(p)
        .await)?;
        let mut n = 0;
        for (id, customer, access_token, pkce_verifier) in legacy {
            let secret = ConsentSecret {
                access_token,
                pkce_verifier,
            };
            with_pool!(self, p => {
                let mut tx = begin_write(p, backend).await?;
                let dek = dek_for_write!(self, &mut *tx, &customer);
                let sealed = sealed::seal(&dek, sealed::CONSENTS, &id, &secret)?;
                n += sqlx::query(
                    "UPDATE consents SET sealed = COALESCE(sealed, $2), access_token = NULL, \
                     pkce_verifier = NULL WHERE id = $1",
                )
                .bind(&id)
                .bind(sealed)
                .execute(&mut *tx)
                .await?
                .rows_affected();
                tx.commit().await?;
            });
        }
        if n > 0 {
            tracing::info!(
                consents = n,
                "sealed consent secrets stored before encryption"
            );
        }
        Ok(n)
    }
}
