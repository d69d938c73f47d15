//! Customers: who they are to the gateway (language, time zone). No financial data here.

use okienko_core::{CustomerId, Lang};

use crate::codec::{instant, parse, read_instant};
use crate::error::StoreError;
use crate::records::CustomerRecord;
use crate::store::{Store, with_pool};

#[derive(sqlx::FromRow)]
struct CustomerRow {
    id: String,
    lang: String,
    tz: String,
    created_at: String,
}

impl TryFrom<CustomerRow> for CustomerRecord {
    type Error = StoreError;
    fn try_from(r: CustomerRow) -> Result<Self, StoreError> {
        Ok(CustomerRecord {
            id: parse(&r.id, "customers.id")?,
            lang: parse::<Lang>(&r.lang, "customers.lang")?,
            tz: r.tz,
            created_at: read_instant(&r.created_at, "customers.created_at")?,
        })
    }
}

impl Store {
    /// Inserts the customer or updates language and time zone (`created_at` stays as first stored).
    pub async fn upsert_customer(&self, c: &CustomerRecord) -> Result<(), StoreError> {
        let created = instant(c.created_at, "customer.created_at")?;
        with_pool!(self, p => sqlx::query(
            "INSERT INTO customers (id, lang, tz, created_at) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (id) DO UPDATE SET lang = excluded.lang, tz = excluded.tz",
        )
        .bind(c.id.to_string())
        .bind(c.lang.code())
        .bind(&c.tz)
        .bind(created)
        .execute(p)
        .await
        .map(|r| r.rows_affected()))?;
        Ok(())
    }

    pub async fn customer(&self, id: CustomerId) -> Result<Option<CustomerRecord>, StoreError> {
        let row: Option<CustomerRow> = with_pool!(self, p => sqlx::query_as(
            "SELECT id, lang, tz, created_at FROM customers WHERE id = $1",
        )
        .bind(id.to_string())
        .fetch_optional(p)
        .await)?;
        row.map(CustomerRecord::try_from).transpose()
    }
}
