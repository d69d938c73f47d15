//! A documented extension beyond NextGenPSD2 (see the crate README): the sandbox bank as a card
//! issuer and acquirer in one. Every card has a full number (PAN), expiry and CVC derived from its
//! account, so they are stable for a seed; a card vault charges a card by PAN at
//! `POST /acquiring/v1/charges`, and the money moves on the sandbox ledger from the card's account
//! to the bank's acquiring settlement account as a visible booking, so the charge is on the
//! cardholder's AIS transactions (code `CARD`, the merchant as counterparty) and balances. A
//! blocked card, a wrong expiry or CVC, or missing funds decline.
//!
//! Idempotency: `X-Request-ID` (a UUID) is the key. A repeat with the same id and body gets the
//! same answer and moves nothing more; the same id with another body is a 409.
//!
//! The sandbox never logs a card number: log lines carry the charge id and the outcome only.

use std::collections::HashMap;
use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::routing::{get, post};
use okienko_core::Currency;
use rust_decimal::Decimal;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::cards::{Card, cards_of};
use crate::error::ApiError;
use crate::http::{X_REQUEST_ID, header, json_response};
use crate::ledger::payments::Booking;
use crate::state::Inner;

/// The issuer BIN of every sandbox card. Vault tokens come from another range.
pub const CARD_BIN: &str = "400012";

/// The acquirer's settlement account on the ledger, per currency.
fn settlement(c: Currency) -> String {
    format!("internal:acquiring:{c}")
}

/// What the acquirer keeps: charges by X-Request-ID, and PAN hash → account, built once.
#[derive(Debug, Default)]
pub struct Acquiring {
    charges: HashMap<String, Charge>,
    pan_index: Option<HashMap<String, String>>,
}

#[derive(Debug, Clone)]
struct Charge {
    id: String,
    fingerprint: String,
    approved: bool,
    reason: Option<&'static str>,
}

/// A card's secrets as the issuer knows them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CardSecrets {
    pub pan: String,
    pub exp_month: u32,
    pub exp_year: u32,
    pub cvc: String,
}

/// Luhn check digit validity of a string of ASCII digits.
pub fn luhn_ok(digits: &str) -> bool {
    luhn_sum(digits).is_some_and(|s| s % 10 == 0)
}

fn luhn_sum(digits: &str) -> Option<u32> {
    let mut sum = 0;
    for (i, c) in digits.bytes().rev().enumerate() {
        let d = u32::from(c.checked_sub(b'0').filter(|d| *d <= 9)?);
        sum += if i % 2 == 1 {
            let x = d * 2;
            if x > 9 { x - 9 } else { x }
        } else {
            d
        };
    }
    Some(sum)
}

/// The card `card_id` whose masked number ends in `last4`: BIN, five digits from a hash of the
/// card id, one digit that makes the Luhn check pass, then the last four.
pub fn secrets_for(card_id: &str, last4: &str) -> CardSecrets {
    let h = Sha256::digest(format!("pan:{card_id}").as_bytes());
    let mid: String = h[..5].iter().map(|b| char::from(b'0' + b % 10)).collect();
    let mut pan = String::new();
    for fix in 0..10u8 {
        pan = format!("{CARD_BIN}{mid}{}{last4}", char::from(b'0' + fix));
        if luhn_ok(&pan) {
            break;
        }
    }
    CardSecrets {
        pan,
        exp_month: u32::from(h[5] % 12) + 1,
        exp_year: 2030 + u32::from(h[6] % 4),
        cvc: format!("{:03}", u16::from_be_bytes([h[7], h[8]]) % 1000),
    }
}

fn pan_hash(pan: &str) -> String {
    crate::state::hash(&format!("acquiring-pan:{pan}"))
}

pub fn routes() -> Router<Arc<Inner>> {
    Router::new().route("/acquiring/v1/charges", post(charge))
}

pub fn control_routes() -> Router<Arc<Inner>> {
    Router::new()
        .route(
            "/sandbox/customers/{psu_id}/card-details",
            get(control_details),
        )
        .route("/sandbox/cards/{card_id}/block", post(control_block))
}

/// `POST /sandbox/cards/{card_id}/block` (control API): blocks a card as the issuer would after a
/// fraud report, so tests can see a blocked card decline without linking a consent first.
async fn control_block(
    State(inner): State<Arc<Inner>>,
    Path(card_id): Path<String>,
) -> Result<Response, ApiError> {
    if uuid::Uuid::parse_str(&card_id).is_err() {
        return Err(ApiError::ResourceUnknown("no such card"));
    }
    inner
        .state()
        .blocked_cards
        .insert(card_id.to_ascii_lowercase());
    Ok(json_response(
        StatusCode::OK,
        &json!({ "status": "blocked" }),
    ))
}

/// `GET /sandbox/customers/{psu_id}/card-details` (control API): the full card numbers, so tests
/// and the demo can type a card into the vault's page like a customer would.
async fn control_details(
    State(inner): State<Arc<Inner>>,
    Path(psu_id): Path<String>,
) -> Result<Response, ApiError> {
    let c = inner
        .books
        .customer_by_psu(&psu_id)
        .ok_or(ApiError::ResourceUnknown("no such customer"))?;
    let cards: Vec<Card> = (0..c.profile.accounts.len())
        .flat_map(|i| cards_of(&inner, &c, i))
        .collect();
    let st = inner.state();
    let cards: Vec<Value> = cards
        .iter()
        .map(|k| {
            let s = secrets_for(&k.id, last4(&k.masked_pan));
            json!({
                "cardId": k.id,
                "accountId": k.account,
                "pan": s.pan,
                "expiry": format!("{:02}/{:02}", s.exp_month, s.exp_year % 100),
                "cvc": s.cvc,
                "status": crate::cards::status_of(&st, &k.id),
            })
        })
        .collect();
    drop(st);
    Ok(json_response(StatusCode::OK, &json!({ "cards": cards })))
}

struct ChargeRequest {
    pan: String,
    exp_month: u32,
    exp_year: u32,
    cvc: Option<String>,
    amount: Decimal,
    currency: Currency,
    /// The merchant's name as the cardholder's statement shows it.
    merchant: Option<String>,
}

fn parse(body: &[u8]) -> Result<ChargeRequest, ApiError> {
    let v: Value =
        serde_json::from_slice(body).map_err(|_| ApiError::Format("body is not valid JSON"))?;
    let s = |k: &str| v.get(k).and_then(Value::as_str).map(str::trim);
    let pan = s("pan")
        .filter(|p| p.len() == 16 && luhn_ok(p))
        .ok_or(ApiError::Format(
            "pan must be 16 digits with a valid check digit",
        ))?
        .to_owned();
    let num = |k: &str| v.get(k).and_then(Value::as_u64);
    let exp_month = num("expiryMonth")
        .filter(|m| (1..=12).contains(m))
        .ok_or(ApiError::Format("expiryMonth must be 1 to 12"))? as u32;
    let exp_year = num("expiryYear")
        .filter(|y| (2000..=2100).contains(y))
        .ok_or(ApiError::Format("expiryYear must be a four-digit year"))? as u32;
    let cvc = match s("cvc") {
        None => None,
        Some(c) if c.len() == 3 && c.bytes().all(|b| b.is_ascii_digit()) => Some(c.to_owned()),
        Some(_) => return Err(ApiError::Format("cvc must be three digits")),
    };
    let currency: Currency = s("currency")
        .and_then(|c| c.parse().ok())
        .ok_or(ApiError::Format("currency must be an ISO 4217 code"))?;
    let amount: Decimal = s("amount")
        .and_then(|a| a.parse().ok())
        .filter(|a: &Decimal| {
            *a >= Decimal::ZERO && a.scale() <= 2 && *a <= Decimal::from(1_000_000)
        })
        .ok_or(ApiError::Format(
            "amount must be a decimal string from 0.00 to 1000000.00",
        ))?;
    let merchant = match v.get("merchant") {
        None | Some(Value::Null) => None,
        Some(Value::String(m))
            if !m.trim().is_empty()
                && m.chars().count() <= 70
                && !m.chars().any(char::is_control) =>
        {
            Some(m.trim().to_owned())
        }
        Some(_) => {
            return Err(ApiError::Format(
                "merchant must be a name of at most 70 characters",
            ));
        }
    };
    Ok(ChargeRequest {
        pan,
        exp_month,
        exp_year,
        cvc,
        amount,
        currency,
        merchant,
    })
}

fn answer(c: &Charge) -> Response {
    json_response(
        StatusCode::OK,
        &json!({
            "chargeId": c.id,
            "status": if c.approved { "approved" } else { "declined" },
            "reason": c.reason,
        }),
    )
}

/// `POST /acquiring/v1/charges`: body `{"pan", "expiryMonth", "expiryYear", "cvc"?, "amount",
/// "currency", "merchant"?, "reference"?}`; amount `"0.00"` verifies the card without charging.
async fn charge(
    State(inner): State<Arc<Inner>>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let rid = header(&headers, X_REQUEST_ID)
        .filter(|r| uuid::Uuid::parse_str(r).is_ok())
        .ok_or(ApiError::Format("X-Request-ID header must be a UUID"))?
        .to_ascii_lowercase();
    let fp = hex_sha(&body);
    if let Some(r) = repeated(&inner, &rid, &fp)? {
        return Ok(r);
    }
    let req = parse(&body)?;
    // The card, its account and the generated balance are looked up before the state lock is
    // taken for the charge (card listing and generation take it themselves).
    let card = find_card(&inner, &req.pan);
    let today = inner.today();
    let generated = card.as_ref().and_then(|k| {
        let (c, i) = inner.books.account(&k.account)?;
        let b = c.balances(inner.books.seed, i, today)?;
        Some((b.interim_available.amount(), c.profile.accounts[i].currency))
    });
    let mut st = inner.state();
    if let Some(r) = repeated_in(&st.acquiring, &rid, &fp)? {
        return Ok(r);
    }
    let charge_id = uuid::Uuid::new_v4().to_string();
    let new_charge = |approved: bool, reason: Option<&'static str>| Charge {
        id: charge_id.clone(),
        fingerprint: fp.clone(),
        approved,
        reason,
    };
    let outcome = match (&card, generated) {
        (Some(k), Some((available, currency))) => {
            let s = secrets_for(&k.id, last4(&k.masked_pan));
            let status = crate::cards::status_of(&st, &k.id);
            if s.exp_month != req.exp_month
                || s.exp_year != req.exp_year
                || req.cvc.as_ref().is_some_and(|cvc| *cvc != s.cvc)
            {
                new_charge(false, Some("invalid_card"))
            } else if status == "blocked" {
                new_charge(false, Some("card_blocked"))
            } else if status != "active" {
                new_charge(false, Some("card_inactive"))
            } else if currency != req.currency {
                new_charge(false, Some("currency_not_supported"))
            } else if req.amount.is_zero() {
                new_charge(true, None)
            } else {
                let day = st.today;
                st.pis.sync_generated(&k.account, currency, available, day);
                let settle = settlement(currency);
                if st.pis.ledger.account(&settle).is_none() {
                    let _ = st.pis.ledger.open(&settle, currency, None);
                }
                // A visible booking: the charge is on the cardholder's statement (AIS
                // transactions and balances) as well as on the ledger.
                match st
                    .pis
                    .ledger
                    .book_visible(&k.account, &settle, req.amount, day)
                {
                    Ok(t) => {
                        st.pis.bookings.push(Booking {
                            id: format!("card-{charge_id}"),
                            account: k.account.clone(),
                            transfer: t,
                            counterparty: req
                                .merchant
                                .clone()
                                .unwrap_or_else(|| "CARD PAYMENT".to_owned()),
                            counterparty_iban: None,
                            remittance: format!("Płatność kartą •••• {}", last4(&k.masked_pan)),
                            code: "CARD",
                        });
                        new_charge(true, None)
                    }
                    Err(crate::ledger::LedgerError::InsufficientFunds) => {
                        new_charge(false, Some("insufficient_funds"))
                    }
                    Err(_) => new_charge(false, Some("processing_error")),
                }
            }
        }
        _ => new_charge(false, Some("invalid_card")),
    };
    let resp = answer(&outcome);
    // A real charge lands on the cardholder's account: new-transaction notifications.
    let changed = card
        .as_ref()
        .filter(|_| outcome.approved && !req.amount.is_zero())
        .map(|k| k.account.clone());
    tracing::info!(
        charge = %outcome.id,
        approved = outcome.approved,
        reason = outcome.reason.unwrap_or(""),
        "card charge"
    );
    st.acquiring.charges.insert(rid, outcome);
    drop(st);
    if let Some(a) = changed {
        crate::notify::account_changed(&inner, &a);
    }
    Ok(resp)
}

fn repeated(inner: &Inner, rid: &str, fp: &str) -> Result<Option<Response>, ApiError> {
    repeated_in(&inner.state().acquiring, rid, fp)
}

fn repeated_in(a: &Acquiring, rid: &str, fp: &str) -> Result<Option<Response>, ApiError> {
    match a.charges.get(rid) {
        Some(c) if c.fingerprint != fp => Err(ApiError::StatusInvalid(
            "X-Request-ID was already used for a different charge",
        )),
        Some(c) => Ok(Some(answer(c))),
        None => Ok(None),
    }
}

fn last4(masked: &str) -> &str {
    masked.get(masked.len().saturating_sub(4)..).unwrap_or("")
}

fn hex_sha(b: &[u8]) -> String {
    Sha256::digest(b)
        .iter()
        .map(|x| format!("{x:02x}"))
        .collect()
}

/// The card with this PAN, through an index of PAN hashes → account; the index is rebuilt when
/// a number is not in it (a replacement card issued since).
fn find_card(inner: &Inner, pan: &str) -> Option<Card> {
    if !pan.starts_with(CARD_BIN) {
        return None;
    }
    let h = pan_hash(pan);
    let cached = inner
        .state()
        .acquiring
        .pan_index
        .as_ref()
        .and_then(|ix| ix.get(&h).cloned());
    let account = match cached {
        Some(a) => a,
        None => {
            let mut ix = HashMap::new();
            for n in 1..=inner.books.customers {
                let Some(c) = inner.books.customer(n) else {
                    continue;
                };
                for i in 0..c.profile.accounts.len() {
                    for k in cards_of(inner, &c, i) {
                        let s = secrets_for(&k.id, last4(&k.masked_pan));
                        ix.insert(pan_hash(&s.pan), k.account.clone());
                    }
                }
            }
            let found = ix.get(&h).cloned();
            inner.state().acquiring.pan_index = Some(ix);
            found?
        }
    };
    let (c, i) = inner.books.account(&account)?;
    cards_of(inner, &c, i)
        .into_iter()
        .find(|k| secrets_for(&k.id, last4(&k.masked_pan)).pan == pan)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pans_are_luhn_valid_and_keep_the_masked_last_four() {
        for n in 0..200 {
            let s = secrets_for(&format!("acc{n}"), &format!("{:04}", n * 37 % 10_000));
            assert_eq!(s.pan.len(), 16);
            assert!(s.pan.starts_with(CARD_BIN));
            assert!(luhn_ok(&s.pan), "{}", s.pan);
            assert!(s.pan.ends_with(&format!("{:04}", n * 37 % 10_000)));
            assert!((1..=12).contains(&s.exp_month));
        }
        assert!(luhn_ok("4242424242424242"));
        assert!(!luhn_ok("4242424242424241"));
        assert!(!luhn_ok("42424242x2424242"));
    }
}
