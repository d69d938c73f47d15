//! The vault's service: enrolling cards, issuing tokens and per-payment cryptograms, and charging
//! a token at the card issuer. It owns the vault's SQLite file (never the gateway's store) and is
//! the only code that ever sees a card number in the clear; it never logs one, and no error it
//! returns carries one.

use std::time::Duration;

use chrono::{DateTime, Utc};
use okienko_core::Money;
use rand::RngCore;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions};
use sqlx::{Row, Sqlite, Transaction};
use zeroize::Zeroizing;

use crate::acquirer::{Acquirer, CardData, IssuerAnswer};
use crate::crypto::{Key, card_aad};
use crate::error::VaultError;
use crate::luhn;

/// How long a hosted-field session and a cryptogram stay usable.
pub const SESSION_TTL: Duration = Duration::from_secs(15 * 60);
pub const CRYPTOGRAM_TTL: Duration = Duration::from_secs(5 * 60);

const SCHEMA: &[&str] = &[
    "CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value BLOB NOT NULL)",
    "CREATE TABLE IF NOT EXISTS owners (owner_id TEXT PRIMARY KEY, wrapped_dek BLOB NOT NULL, \
     created_at TEXT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS cards (card_id TEXT PRIMARY KEY, owner_id TEXT NOT NULL \
     REFERENCES owners(owner_id), sealed BLOB NOT NULL, fingerprint TEXT NOT NULL, \
     last4 TEXT NOT NULL, brand TEXT NOT NULL, created_at TEXT NOT NULL, \
     UNIQUE (owner_id, fingerprint))",
    "CREATE TABLE IF NOT EXISTS tokens (token TEXT PRIMARY KEY, card_id TEXT NOT NULL \
     REFERENCES cards(card_id), requestor TEXT NOT NULL, created_at TEXT NOT NULL, \
     UNIQUE (card_id, requestor))",
    "CREATE TABLE IF NOT EXISTS sessions (id_hash TEXT PRIMARY KEY, owner_id TEXT NOT NULL, \
     requestor TEXT NOT NULL, lang TEXT NOT NULL, expires_at TEXT NOT NULL, \
     used INTEGER NOT NULL DEFAULT 0)",
    "CREATE TABLE IF NOT EXISTS cryptograms (id_hash TEXT PRIMARY KEY, token TEXT NOT NULL, \
     binding TEXT NOT NULL, expires_at TEXT NOT NULL, used INTEGER NOT NULL DEFAULT 0)",
    "CREATE TABLE IF NOT EXISTS charges (request_id TEXT PRIMARY KEY, charge_id TEXT NOT NULL \
     UNIQUE, fingerprint TEXT NOT NULL, token TEXT NOT NULL, amount TEXT NOT NULL, \
     currency TEXT NOT NULL, merchant TEXT NOT NULL, order_id TEXT NOT NULL, \
     acquirer_request_id TEXT NOT NULL, status TEXT NOT NULL, reason TEXT, \
     merchant_token TEXT, created_at TEXT NOT NULL)",
];

/// A token as its requestor sees it: never the card number, only what a chat may show.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct TokenInfo {
    pub token: String,
    pub last4: String,
    pub brand: String,
}

/// What a charge came to.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct ChargeResult {
    pub charge_id: String,
    /// `approved`, `declined`, or `pending` (the issuer has not answered yet; retry).
    pub status: String,
    pub reason: Option<String>,
    /// The card's token for the merchant (a token of the card × merchant), on approval.
    pub merchant_token: Option<String>,
}

/// A charge request from the gateway.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ChargeRequest {
    pub token: String,
    pub requestor: String,
    pub cryptogram: String,
    pub amount: Money,
    pub merchant: String,
    pub order_id: String,
}

/// A cryptogram request: binds one payment (token, amount, merchant, order).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CryptogramRequest {
    pub token: String,
    pub requestor: String,
    pub amount: Money,
    pub merchant: String,
    pub order_id: String,
}

/// A hosted-field session as the card page sees it.
#[derive(Debug, Clone)]
pub struct Session {
    pub owner: String,
    pub requestor: String,
    pub lang: String,
}

#[derive(Clone)]
pub struct Vault {
    pool: SqlitePool,
    master: Key,
    acquirer: Acquirer,
}

fn now() -> String {
    Utc::now().to_rfc3339()
}

fn sha_hex(s: &str) -> String {
    hex::encode(Sha256::digest(s.as_bytes()))
}

fn random_secret() -> String {
    let mut b = [0u8; 32];
    rand::rng().fill_bytes(&mut b);
    base64::Engine::encode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, b)
}

fn expired(at: &str) -> bool {
    DateTime::parse_from_rfc3339(at).map_or(true, |t| t < Utc::now())
}

/// An id from outside (owner, requestor, merchant, order): short, printable, no control chars.
pub fn check_id(s: &str, what: &'static str) -> Result<(), VaultError> {
    if s.is_empty() || s.len() > 100 || s.chars().any(|c| c.is_control()) {
        return Err(VaultError::BadRequest(what));
    }
    Ok(())
}

impl Vault {
    /// Opens (creating when missing) the vault database at `db_path` under `master`.
    pub async fn open(
        db_path: &std::path::Path,
        master: Key,
        acquirer: Acquirer,
    ) -> Result<Vault, VaultError> {
        let opts = SqliteConnectOptions::new()
            .filename(db_path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .busy_timeout(Duration::from_secs(5));
        let pool = SqlitePoolOptions::new()
            .max_connections(4)
            .connect_with(opts)
            .await?;
        for s in SCHEMA {
            sqlx::query(*s).execute(&pool).await?;
        }
        let check: Option<Vec<u8>> =
            sqlx::query_scalar("SELECT value FROM meta WHERE name = 'master_check'")
                .fetch_optional(&pool)
                .await?;
        match check {
            Some(c) if !master.check_ok(&c) => {
                return Err(VaultError::Config(
                    "the master key does not open this vault database".into(),
                ));
            }
            Some(_) => {}
            None => {
                sqlx::query("INSERT INTO meta (name, value) VALUES ('master_check', $1)")
                    .bind(master.check_value())
                    .execute(&pool)
                    .await?;
            }
        }
        Ok(Vault {
            pool,
            master,
            acquirer,
        })
    }

    /// A transaction that holds SQLite's write lock from its first statement (`BEGIN
    /// IMMEDIATE`). A deferred transaction that reads and then writes must upgrade its read
    /// snapshot to a write; when another connection committed in between, SQLite fails that
    /// upgrade at once with "database is locked" instead of waiting on the busy timeout, so
    /// concurrent charges came back as 500s. Taking the lock up front makes them queue instead.
    async fn write_tx(&self) -> Result<Transaction<'static, Sqlite>, sqlx::Error> {
        self.pool.begin_with("BEGIN IMMEDIATE").await
    }

    /// The owner's data key, created and wrapped on first use.
    async fn dek(&self, tx: &mut Transaction<'_, Sqlite>, owner: &str) -> Result<Key, VaultError> {
        let row: Option<Vec<u8>> =
            sqlx::query_scalar("SELECT wrapped_dek FROM owners WHERE owner_id = $1")
                .bind(owner)
                .fetch_optional(&mut **tx)
                .await?;
        if let Some(w) = row {
            return self.master.unwrap_key(owner, &w).ok_or(VaultError::Corrupt);
        }
        let dek = Key::generate();
        sqlx::query("INSERT INTO owners (owner_id, wrapped_dek, created_at) VALUES ($1, $2, $3)")
            .bind(owner)
            .bind(self.master.wrap(owner, &dek))
            .bind(now())
            .execute(&mut **tx)
            .await?;
        Ok(dek)
    }

    /// A hosted-field session: the URL path and query the customer opens to type a card.
    pub async fn new_session(
        &self,
        owner: &str,
        requestor: &str,
        lang: &str,
    ) -> Result<String, VaultError> {
        check_id(owner, "owner must be a short id")?;
        check_id(requestor, "requestor must be a short id")?;
        let lang = if lang == "en" { "en" } else { "pl" };
        let id = random_secret();
        let expires = Utc::now()
            + chrono::Duration::from_std(SESSION_TTL).unwrap_or(chrono::Duration::minutes(15));
        sqlx::query(
            "INSERT INTO sessions (id_hash, owner_id, requestor, lang, expires_at) \
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(sha_hex(&id))
        .bind(owner)
        .bind(requestor)
        .bind(lang)
        .bind(expires.to_rfc3339())
        .execute(&self.pool)
        .await?;
        Ok(format!("/cards/new?session={id}&lang={lang}"))
    }

    /// A live, unused session.
    pub async fn session(&self, id: &str) -> Result<Session, VaultError> {
        let row = sqlx::query(
            "SELECT owner_id, requestor, lang, expires_at, used FROM sessions WHERE id_hash = $1",
        )
        .bind(sha_hex(id))
        .fetch_optional(&self.pool)
        .await?
        .ok_or(VaultError::NotFound("no such card session"))?;
        let used: i64 = row.try_get("used")?;
        let expires: String = row.try_get("expires_at")?;
        if used != 0 || expired(&expires) {
            return Err(VaultError::NotFound("the card session has ended"));
        }
        Ok(Session {
            owner: row.try_get("owner_id")?,
            requestor: row.try_get("requestor")?,
            lang: row.try_get("lang")?,
        })
    }

    /// Enrols a card typed on the hosted page: the issuer verifies it (zero amount, with the CVC,
    /// which is then forgotten), the number is sealed under the owner's key, and the session's
    /// requestor gets a token. The same card twice for one owner keeps one record.
    pub async fn enrol(
        &self,
        session_id: &str,
        pan_typed: &str,
        expiry: &str,
        cvc: &str,
    ) -> Result<TokenInfo, VaultError> {
        let s = self.session(session_id).await?;
        let pan = Zeroizing::new(
            luhn::normalize_pan(pan_typed).ok_or(VaultError::BadRequest("card_number"))?,
        );
        if pan.starts_with(luhn::TOKEN_BIN) {
            return Err(VaultError::BadRequest("card_number"));
        }
        let (exp_month, exp_year) = parse_expiry(expiry).ok_or(VaultError::BadRequest("expiry"))?;
        let cvc = cvc.trim();
        if !(cvc.len() == 3 && cvc.bytes().all(|b| b.is_ascii_digit())) {
            return Err(VaultError::BadRequest("cvc"));
        }
        let card = CardData {
            pan: pan.clone(),
            exp_month,
            exp_year,
        };
        let zero = Money::parse("0.00", "PLN").map_err(|_| VaultError::BadRequest("amount"))?;
        match self
            .acquirer
            .charge(
                &uuid::Uuid::new_v4().to_string(),
                &card,
                Some(cvc),
                &zero,
                None,
            )
            .await?
        {
            IssuerAnswer::Approved { .. } => {}
            IssuerAnswer::Declined { .. } => return Err(VaultError::BadRequest("declined")),
        }
        let mut tx = self.write_tx().await?;
        // The session is spent in the same transaction that stores the card.
        let spent = sqlx::query("UPDATE sessions SET used = 1 WHERE id_hash = $1 AND used = 0")
            .bind(sha_hex(session_id))
            .execute(&mut *tx)
            .await?;
        if spent.rows_affected() != 1 {
            return Err(VaultError::NotFound("the card session has ended"));
        }
        let dek = self.dek(&mut tx, &s.owner).await?;
        let fp = self.master.fingerprint("card", pan.as_bytes());
        let existing: Option<String> = sqlx::query_scalar(
            "SELECT card_id FROM cards WHERE owner_id = $1 AND fingerprint = $2",
        )
        .bind(&s.owner)
        .bind(&fp)
        .fetch_optional(&mut *tx)
        .await?;
        let last4 = pan[pan.len() - 4..].to_owned();
        let brand = luhn::brand(&pan);
        let card_id = match existing {
            Some(id) => id,
            None => {
                let id = uuid::Uuid::new_v4().to_string();
                let record = Zeroizing::new(
                    serde_json::to_vec(&StoredCard {
                        pan: pan.to_string(),
                        exp_month,
                        exp_year,
                    })
                    .map_err(|_| VaultError::Corrupt)?,
                );
                sqlx::query(
                    "INSERT INTO cards (card_id, owner_id, sealed, fingerprint, last4, brand, \
                     created_at) VALUES ($1, $2, $3, $4, $5, $6, $7)",
                )
                .bind(&id)
                .bind(&s.owner)
                .bind(dek.seal(&card_aad(&id, &s.owner), &record))
                .bind(&fp)
                .bind(&last4)
                .bind(brand)
                .bind(now())
                .execute(&mut *tx)
                .await?;
                id
            }
        };
        let token = token_for(&mut tx, &card_id, &s.requestor).await?;
        tx.commit().await?;
        tracing::info!(card = %card_id, "card enrolled");
        Ok(TokenInfo {
            token,
            last4,
            brand: brand.to_owned(),
        })
    }

    /// The owner's cards as tokens of `requestor` (issuing a token for a card that has none yet).
    pub async fn tokens(&self, owner: &str, requestor: &str) -> Result<Vec<TokenInfo>, VaultError> {
        check_id(owner, "owner must be a short id")?;
        check_id(requestor, "requestor must be a short id")?;
        let mut tx = self.write_tx().await?;
        let cards: Vec<(String, String, String)> = sqlx::query_as(
            "SELECT card_id, last4, brand FROM cards WHERE owner_id = $1 ORDER BY created_at, card_id",
        )
        .bind(owner)
        .fetch_all(&mut *tx)
        .await?;
        let mut out = Vec::new();
        for (card_id, last4, brand) in cards {
            let token = token_for(&mut tx, &card_id, requestor).await?;
            out.push(TokenInfo {
                token,
                last4,
                brand,
            });
        }
        tx.commit().await?;
        Ok(out)
    }

    /// A one-time cryptogram for one payment with `token`.
    pub async fn cryptogram(&self, r: &CryptogramRequest) -> Result<String, VaultError> {
        self.card_of_token(&r.token, &r.requestor).await?;
        check_id(&r.merchant, "merchant must be a short id")?;
        check_id(&r.order_id, "order_id must be a short id")?;
        positive(&r.amount)?;
        let c = random_secret();
        let expires = Utc::now()
            + chrono::Duration::from_std(CRYPTOGRAM_TTL).unwrap_or(chrono::Duration::minutes(5));
        sqlx::query(
            "INSERT INTO cryptograms (id_hash, token, binding, expires_at) VALUES ($1, $2, $3, $4)",
        )
        .bind(sha_hex(&c))
        .bind(&r.token)
        .bind(binding(&r.token, &r.amount, &r.merchant, &r.order_id))
        .bind(expires.to_rfc3339())
        .execute(&self.pool)
        .await?;
        Ok(c)
    }

    /// (card id, owner) of a token issued to `requestor`.
    async fn card_of_token(
        &self,
        token: &str,
        requestor: &str,
    ) -> Result<(String, String), VaultError> {
        let row: Option<(String, String)> = sqlx::query_as(
            "SELECT t.card_id, c.owner_id FROM tokens t JOIN cards c ON c.card_id = t.card_id \
             WHERE t.token = $1 AND t.requestor = $2",
        )
        .bind(token)
        .bind(requestor)
        .fetch_optional(&self.pool)
        .await?;
        row.ok_or(VaultError::NotFound("no such token for this requestor"))
    }

    /// Charges `token` once per `request_id` (the caller's idempotency key): the cryptogram
    /// must match this exact payment and be unused. A repeat with the same key and request
    /// answers what the first did (retrying the issuer, idempotently, while it is pending); the
    /// same key with another request is a conflict.
    pub async fn charge(
        &self,
        request_id: &str,
        r: &ChargeRequest,
    ) -> Result<ChargeResult, VaultError> {
        uuid::Uuid::parse_str(request_id)
            .map_err(|_| VaultError::BadRequest("X-Request-ID must be a UUID"))?;
        check_id(&r.merchant, "merchant must be a short id")?;
        check_id(&r.order_id, "order_id must be a short id")?;
        positive(&r.amount)?;
        let fp = sha_hex(&format!(
            "{}|{}|{}|{}",
            r.requestor,
            binding(&r.token, &r.amount, &r.merchant, &r.order_id),
            r.cryptogram.len(),
            sha_hex(&r.cryptogram)
        ));
        let (card_id, owner) = self.card_of_token(&r.token, &r.requestor).await?;
        let mut tx = self.write_tx().await?;
        let existing = sqlx::query(
            "SELECT charge_id, fingerprint, status, reason, merchant_token, acquirer_request_id \
             FROM charges WHERE request_id = $1",
        )
        .bind(request_id)
        .fetch_optional(&mut *tx)
        .await?;
        let (charge_id, acq_rid) = match existing {
            Some(row) => {
                let stored_fp: String = row.try_get("fingerprint")?;
                if stored_fp != fp {
                    return Err(VaultError::Conflict(
                        "X-Request-ID was already used for another charge",
                    ));
                }
                let status: String = row.try_get("status")?;
                let charge_id: String = row.try_get("charge_id")?;
                if status != "pending" {
                    return Ok(ChargeResult {
                        charge_id,
                        status,
                        reason: row.try_get("reason")?,
                        merchant_token: row.try_get("merchant_token")?,
                    });
                }
                (charge_id, row.try_get::<String, _>("acquirer_request_id")?)
            }
            None => {
                let used = sqlx::query(
                    "UPDATE cryptograms SET used = 1 WHERE id_hash = $1 AND token = $2 \
                     AND binding = $3 AND used = 0 AND expires_at > $4",
                )
                .bind(sha_hex(&r.cryptogram))
                .bind(&r.token)
                .bind(binding(&r.token, &r.amount, &r.merchant, &r.order_id))
                .bind(now())
                .execute(&mut *tx)
                .await?;
                if used.rows_affected() != 1 {
                    return Err(VaultError::BadRequest(
                        "the cryptogram is unknown, used, expired or for another payment",
                    ));
                }
                let charge_id = uuid::Uuid::new_v4().to_string();
                let acq_rid = uuid::Uuid::new_v4().to_string();
                sqlx::query(
                    "INSERT INTO charges (request_id, charge_id, fingerprint, token, amount, \
                     currency, merchant, order_id, acquirer_request_id, status, created_at) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, 'pending', $10)",
                )
                .bind(request_id)
                .bind(&charge_id)
                .bind(&fp)
                .bind(&r.token)
                .bind(r.amount.amount_string())
                .bind(r.amount.currency().code())
                .bind(&r.merchant)
                .bind(&r.order_id)
                .bind(&acq_rid)
                .bind(now())
                .execute(&mut *tx)
                .await?;
                (charge_id, acq_rid)
            }
        };
        let dek = self.dek(&mut tx, &owner).await?;
        tx.commit().await?;
        let card = self.open_card(&dek, &card_id, &owner).await?;
        // A timeout leaves the charge pending; the caller's retry asks the issuer again with the
        // same acquirer request id, which the issuer answers idempotently.
        let answer = self
            .acquirer
            .charge(&acq_rid, &card, None, &r.amount, Some(&r.merchant))
            .await?;
        let (status, reason) = match answer {
            IssuerAnswer::Approved { .. } => ("approved", None),
            IssuerAnswer::Declined { reason } => ("declined", Some(reason)),
        };
        let mut tx = self.write_tx().await?;
        let merchant_token = if status == "approved" {
            Some(token_for(&mut tx, &card_id, &format!("merchant:{}", r.merchant)).await?)
        } else {
            None
        };
        sqlx::query(
            "UPDATE charges SET status = $1, reason = $2, merchant_token = $3 \
             WHERE request_id = $4 AND status = 'pending'",
        )
        .bind(status)
        .bind(&reason)
        .bind(&merchant_token)
        .bind(request_id)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        tracing::info!(charge = %charge_id, status, "card charge");
        Ok(ChargeResult {
            charge_id,
            status: status.to_owned(),
            reason,
            merchant_token,
        })
    }

    /// A charge's result by its id.
    pub async fn charge_status(&self, charge_id: &str) -> Result<ChargeResult, VaultError> {
        let row = sqlx::query(
            "SELECT charge_id, status, reason, merchant_token FROM charges WHERE charge_id = $1",
        )
        .bind(charge_id)
        .fetch_optional(&self.pool)
        .await?
        .ok_or(VaultError::NotFound("no such charge"))?;
        Ok(ChargeResult {
            charge_id: row.try_get("charge_id")?,
            status: row.try_get("status")?,
            reason: row.try_get("reason")?,
            merchant_token: row.try_get("merchant_token")?,
        })
    }

    async fn open_card(
        &self,
        dek: &Key,
        card_id: &str,
        owner: &str,
    ) -> Result<CardData, VaultError> {
        let sealed: Vec<u8> = sqlx::query_scalar("SELECT sealed FROM cards WHERE card_id = $1")
            .bind(card_id)
            .fetch_one(&self.pool)
            .await?;
        let plain = dek
            .open(&card_aad(card_id, owner), &sealed)
            .ok_or(VaultError::Corrupt)?;
        let c: StoredCard = serde_json::from_slice(&plain).map_err(|_| VaultError::Corrupt)?;
        Ok(CardData {
            pan: Zeroizing::new(c.pan.clone()),
            exp_month: c.exp_month,
            exp_year: c.exp_year,
        })
    }

    /// Deletes an owner's cards, tokens and data key (crypto-shredding what a backup may hold).
    pub async fn forget_owner(&self, owner: &str) -> Result<(), VaultError> {
        let mut tx = self.write_tx().await?;
        sqlx::query(
            "DELETE FROM tokens WHERE card_id IN (SELECT card_id FROM cards WHERE owner_id = $1)",
        )
        .bind(owner)
        .execute(&mut *tx)
        .await?;
        sqlx::query("DELETE FROM cards WHERE owner_id = $1")
            .bind(owner)
            .execute(&mut *tx)
            .await?;
        sqlx::query("DELETE FROM owners WHERE owner_id = $1")
            .bind(owner)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }
}

/// The card record as sealed: the number and expiry (the CVC is never kept).
#[derive(Serialize, Deserialize, zeroize::Zeroize, zeroize::ZeroizeOnDrop)]
struct StoredCard {
    pan: String,
    exp_month: u32,
    exp_year: u32,
}

fn positive(m: &Money) -> Result<(), VaultError> {
    if m.amount() <= rust_decimal::Decimal::ZERO
        || m.amount() > rust_decimal::Decimal::from(1_000_000)
    {
        return Err(VaultError::BadRequest(
            "amount must be positive and at most 1000000",
        ));
    }
    Ok(())
}

fn binding(token: &str, amount: &Money, merchant: &str, order: &str) -> String {
    sha_hex(&format!(
        "{token}|{}|{}|{merchant}|{order}",
        amount.amount_string(),
        amount.currency().code()
    ))
}

/// The token of `card_id` for `requestor`, issued on first use (one per card × requestor).
async fn token_for(
    tx: &mut Transaction<'_, Sqlite>,
    card_id: &str,
    requestor: &str,
) -> Result<String, VaultError> {
    let have: Option<String> =
        sqlx::query_scalar("SELECT token FROM tokens WHERE card_id = $1 AND requestor = $2")
            .bind(card_id)
            .bind(requestor)
            .fetch_optional(&mut **tx)
            .await?;
    if let Some(t) = have {
        return Ok(t);
    }
    for _ in 0..8 {
        let t = luhn::new_token();
        let r = sqlx::query(
            "INSERT INTO tokens (token, card_id, requestor, created_at) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (token) DO NOTHING",
        )
        .bind(&t)
        .bind(card_id)
        .bind(requestor)
        .bind(now())
        .execute(&mut **tx)
        .await?;
        if r.rows_affected() == 1 {
            return Ok(t);
        }
    }
    Err(VaultError::Conflict("could not issue a unique token"))
}

/// "MM/YY", "MM/YYYY" or "MM YY" → (month, four-digit year); not in the past.
pub fn parse_expiry(s: &str) -> Option<(u32, u32)> {
    let s = s.trim();
    if s.len() > 10 {
        return None;
    }
    let (m, y) = s.split_once(['/', ' ', '-'])?;
    let m: u32 = m.trim().parse().ok().filter(|m| (1..=12).contains(m))?;
    let y = y.trim();
    let y: u32 = match y.len() {
        2 => 2000 + y.parse::<u32>().ok()?,
        4 => y.parse().ok()?,
        _ => return None,
    };
    let today = Utc::now().date_naive();
    use chrono::Datelike;
    let now = (today.year() as u32) * 12 + today.month();
    (y * 12 + m >= now && y <= 2100).then_some((m, y))
}
