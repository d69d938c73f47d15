//! Payees (migration 0009): the customer's saved payees, their login at the bank for payment
//! approval, and the counterparties they already sent money to (read from their transactions).
//!
//! Names, IBANs and logins are sealed with the customer's data key; only ids and instants are
//! plaintext. The store never decides who may read them: the privacy gate does (purpose
//! `service.payment`). Erasing the customer deletes the rows and destroys the key.

use chrono::{DateTime, NaiveDate, Utc};
use okienko_core::{CustomerId, Iban};
use serde::{Deserialize, Serialize};

use crate::codec::{instant, parse, read_instant};
use crate::error::StoreError;
use crate::sealed::{self, TxSecret};
use crate::store::{Store, begin_write, with_pool};
use crate::vault::{dek_for_write, load_dek};

const PAYEES: &str = "payees.sealed";
const PROFILES: &str = "payment_profiles.sealed";

/// A saved payee. `Debug` hides the name and the IBAN.
#[derive(Clone, PartialEq, Eq)]
pub struct PayeeRecord {
    pub id: String,
    pub customer: CustomerId,
    pub name: String,
    pub iban: Iban,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl std::fmt::Debug for PayeeRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PayeeRecord")
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}

/// Someone the customer sent money to, as their transactions show it. `Debug` hides it all.
#[derive(Clone, PartialEq, Eq)]
pub struct CounterpartyRecord {
    pub name: String,
    pub iban: Iban,
    /// How many debits went to this IBAN.
    pub times: u32,
    pub last_date: NaiveDate,
}

impl std::fmt::Debug for CounterpartyRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CounterpartyRecord")
            .field("times", &self.times)
            .finish_non_exhaustive()
    }
}

#[derive(Serialize, Deserialize)]
struct PayeeSecret {
    name: String,
    iban: String,
}

#[derive(Serialize, Deserialize)]
struct ProfileSecret {
    bank_login: String,
}

fn check_name(name: &str) -> Result<(), StoreError> {
    let n = name.trim();
    if n.is_empty() || n.chars().count() > 70 || n.chars().any(char::is_control) {
        return Err(StoreError::Invalid("payee name"));
    }
    Ok(())
}

impl Store {
    /// Saves a payee for the customer; a payee with the same IBAN is renamed instead of
    /// duplicated. Returns the stored payee.
    pub async fn save_payee(
        &self,
        customer: CustomerId,
        name: &str,
        iban: &Iban,
        at: DateTime<Utc>,
    ) -> Result<PayeeRecord, StoreError> {
        check_name(name)?;
        let name = name.trim().to_owned();
        let c = customer.to_string();
        let now = instant(at, "payees.updated_at")?;
        let backend = self.backend();
        let existing = self
            .payees(customer)
            .await?
            .into_iter()
            .find(|p| &p.iban == iban);
        let id = existing
            .as_ref()
            .map(|p| p.id.clone())
            .unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
        let secret = PayeeSecret {
            name: name.clone(),
            iban: iban.expose().to_owned(),
        };
        with_pool!(self, p => {
            let mut tx = begin_write(p, backend).await?;
            let dek = dek_for_write!(self, &mut *tx, &c);
            let bytes = sealed::seal(&dek, PAYEES, &id, &secret)?;
            if existing.is_some() {
                sqlx::query(
                    "UPDATE payees SET sealed = $3, updated_at = $4 \
                     WHERE id = $1 AND customer_id = $2",
                )
                .bind(&id)
                .bind(&c)
                .bind(bytes)
                .bind(&now)
                .execute(&mut *tx)
                .await?;
            } else {
                sqlx::query(
                    "INSERT INTO payees (id, customer_id, sealed, created_at, updated_at) \
                     VALUES ($1, $2, $3, $4, $4)",
                )
                .bind(&id)
                .bind(&c)
                .bind(bytes)
                .bind(&now)
                .execute(&mut *tx)
                .await?;
            }
            tx.commit().await?;
        });
        Ok(PayeeRecord {
            id,
            customer,
            name,
            iban: iban.clone(),
            created_at: existing.map(|e| e.created_at).unwrap_or(at),
            updated_at: at,
        })
    }

    /// The customer's saved payees, oldest first; one per IBAN.
    pub async fn payees(&self, customer: CustomerId) -> Result<Vec<PayeeRecord>, StoreError> {
        let c = customer.to_string();
        type Row = (String, Vec<u8>, String, String);
        let (rows, dek) = with_pool!(self, p => {
            let rows: Vec<Row> = sqlx::query_as(
                "SELECT id, sealed, created_at, updated_at FROM payees WHERE customer_id = $1 \
                 ORDER BY created_at, id",
            )
            .bind(&c)
            .fetch_all(p)
            .await?;
            let dek = if rows.is_empty() { None } else { load_dek!(self, p, &c) };
            (rows, dek)
        });
        if rows.is_empty() {
            return Ok(Vec::new());
        }
        let dek = sealed::require(dek.as_ref())?;
        let mut out: Vec<PayeeRecord> = Vec::with_capacity(rows.len());
        for (id, bytes, created, updated) in rows {
            let s: PayeeSecret = sealed::open(dek, PAYEES, &id, &bytes)?;
            let iban: Iban = parse(&s.iban, "payees.sealed")?;
            if out.iter().any(|p| p.iban == iban) {
                continue;
            }
            out.push(PayeeRecord {
                customer,
                name: s.name,
                iban,
                created_at: read_instant(&created, "payees.created_at")?,
                updated_at: read_instant(&updated, "payees.updated_at")?,
                id,
            });
        }
        Ok(out)
    }

    /// Deletes one of the customer's payees; `false` when there was none.
    pub async fn delete_payee(&self, customer: CustomerId, id: &str) -> Result<bool, StoreError> {
        let c = customer.to_string();
        let n = with_pool!(self, p => sqlx::query(
            "DELETE FROM payees WHERE id = $1 AND customer_id = $2",
        )
        .bind(id)
        .bind(&c)
        .execute(p)
        .await?
        .rows_affected());
        Ok(n == 1)
    }

    /// Remembers the customer's login at the bank (PSU-ID), for decoupled payment approval.
    pub async fn set_bank_login(
        &self,
        customer: CustomerId,
        login: &str,
        at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let login = login.trim();
        if login.is_empty() || login.chars().count() > 70 || login.chars().any(char::is_control) {
            return Err(StoreError::Invalid("bank login"));
        }
        let c = customer.to_string();
        let now = instant(at, "payment_profiles.updated_at")?;
        let backend = self.backend();
        let secret = ProfileSecret {
            bank_login: login.to_owned(),
        };
        with_pool!(self, p => {
            let mut tx = begin_write(p, backend).await?;
            let dek = dek_for_write!(self, &mut *tx, &c);
            let bytes = sealed::seal(&dek, PROFILES, &c, &secret)?;
            sqlx::query(
                "INSERT INTO payment_profiles (customer_id, sealed, updated_at) VALUES ($1, $2, $3) \
                 ON CONFLICT (customer_id) DO UPDATE SET sealed = excluded.sealed, \
                 updated_at = excluded.updated_at",
            )
            .bind(&c)
            .bind(bytes)
            .bind(&now)
            .execute(&mut *tx)
            .await?;
            tx.commit().await?;
        });
        Ok(())
    }

    /// The customer's login at the bank, when they gave it.
    pub async fn bank_login(&self, customer: CustomerId) -> Result<Option<String>, StoreError> {
        let c = customer.to_string();
        let (row, dek) = with_pool!(self, p => {
            let row: Option<(Vec<u8>,)> =
                sqlx::query_as("SELECT sealed FROM payment_profiles WHERE customer_id = $1")
                    .bind(&c)
                    .fetch_optional(p)
                    .await?;
            let dek = if row.is_none() { None } else { load_dek!(self, p, &c) };
            (row, dek)
        });
        let Some((bytes,)) = row else {
            return Ok(None);
        };
        let s: ProfileSecret = sealed::open(sealed::require(dek.as_ref())?, PROFILES, &c, &bytes)?;
        Ok(Some(s.bank_login))
    }

    /// Everyone the customer sent money to, by IBAN, as their transactions show it (debits with
    /// a counterparty IBAN), most frequent first. The name is the latest one seen.
    pub async fn payment_counterparties(
        &self,
        customer: CustomerId,
    ) -> Result<Vec<CounterpartyRecord>, StoreError> {
        let c = customer.to_string();
        type Row = (String, String, Vec<u8>);
        let (rows, dek) = with_pool!(self, p => {
            let rows: Vec<Row> = sqlx::query_as(
                "SELECT t.id, t.date, t.sealed FROM transactions t \
                 JOIN accounts a ON a.id = t.account_id WHERE a.customer_id = $1 \
                 ORDER BY t.date, t.seq",
            )
            .bind(&c)
            .fetch_all(p)
            .await?;
            let dek = if rows.is_empty() { None } else { load_dek!(self, p, &c) };
            (rows, dek)
        });
        if rows.is_empty() {
            return Ok(Vec::new());
        }
        let dek = sealed::require(dek.as_ref())?;
        let mut out: Vec<CounterpartyRecord> = Vec::new();
        for (id, day, bytes) in rows {
            let s: TxSecret = sealed::open(dek, sealed::TRANSACTIONS, &id, &bytes)?;
            if s.amount_minor >= 0 {
                continue;
            }
            let (Some(iban), Some(name)) = (s.counterparty_iban, s.merchant) else {
                continue;
            };
            let Ok(iban) = iban.parse::<Iban>() else {
                continue;
            };
            let date = crate::codec::read_date(&day, "transactions.date")?;
            match out.iter_mut().find(|cp| cp.iban == iban) {
                Some(cp) => {
                    cp.times += 1;
                    if date >= cp.last_date {
                        cp.last_date = date;
                        cp.name = name;
                    }
                }
                None => out.push(CounterpartyRecord {
                    name,
                    iban,
                    times: 1,
                    last_date: date,
                }),
            }
        }
        out.sort_by(|a, b| b.times.cmp(&a.times).then(b.last_date.cmp(&a.last_date)));
        Ok(out)
    }
}
