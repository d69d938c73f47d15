//! A documented extension beyond NextGenPSD2 AIS (see the crate README): payment cards per
//! account, blocking and unblocking them, and the control routes that push new transactions
//! (one, or a generated fraud episode) so tests can drive fraud warnings deterministically.
//!
//! Card routes sit under `/v1/accounts/{id}/cards` and pass the same consent and token checks as
//! the AIS routes. Block, unblock and report-lost are idempotent by `X-Request-ID`: a retry with the same id
//! gets the same answer and changes nothing more; the same id reused for another card or action
//! is a 409. Card operations are not account reads and do not count against `frequencyPerDay`.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use chrono::NaiveDate;
use rust_decimal::Decimal;
use rust_decimal::prelude::ToPrimitive;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::api::ais;
use crate::data::{AccountKind, Customer, GenTx};
use crate::error::ApiError;
use crate::http::{X_REQUEST_ID, header, json_response};
use crate::state::Inner;

/// A card as the bank shows it.
pub(crate) struct Card {
    pub(crate) id: String,
    pub(crate) masked_pan: String,
    brand: &'static str,
    pub(crate) account: String,
}

/// Why a card was reported, as the wire names it.
pub(crate) const REASONS: [&str; 2] = ["lost", "stolen"];

/// A card's id, last four digits and brand, derived from `seed` (stable for a bank seed).
fn derive(seed: &str, account: &str) -> Card {
    let h = Sha256::digest(seed.as_bytes());
    let mut b = [0u8; 16];
    b.copy_from_slice(&h[..16]);
    let id = uuid::Builder::from_random_bytes(b).into_uuid().to_string();
    let last4 = u16::from_be_bytes([h[16], h[17]]) % 10_000;
    Card {
        id,
        masked_pan: format!("************{last4:04}"),
        brand: if h[18] % 2 == 0 { "visa" } else { "mastercard" },
        account: account.to_owned(),
    }
}

/// The cards of one account: one debit card on every current account, none on savings, plus a
/// replacement for every card reported lost or stolen (each replacement derives from the card it
/// replaces). Ids and numbers derive from the account's resource id, so they are stable for a seed.
pub(crate) fn cards_of(inner: &Inner, customer: &Customer, account: usize) -> Vec<Card> {
    let Some(a) = customer.profile.accounts.get(account) else {
        return Vec::new();
    };
    if a.kind == AccountKind::Savings {
        return Vec::new();
    }
    let mut out = vec![derive(&format!("card:{}", a.resource_id), &a.resource_id)];
    let st = inner.state();
    // A chain: a replacement can itself be reported once it is active. Bounded by the reports.
    while let Some(last) = out.last() {
        if !st.reported_cards.contains_key(&last.id) || out.len() > st.reported_cards.len() + 1 {
            break;
        }
        let next = derive(&format!("replacement:{}", last.id), &a.resource_id);
        out.push(next);
    }
    out
}

/// A card's status: reported cards are `lost`/`stolen` for good; a replacement is `ordered` until
/// the control API activates it (the customer got it in the post); otherwise `blocked` or `active`.
pub(crate) fn status_of(st: &crate::state::State, id: &str) -> &'static str {
    if let Some((reason, _)) = st.reported_cards.get(id) {
        return reason;
    }
    if st.ordered_cards.contains(id) {
        return "ordered";
    }
    if st.blocked_cards.contains(id) {
        "blocked"
    } else {
        "active"
    }
}

fn card_json(inner: &Inner, c: &Card) -> Value {
    let status = status_of(&inner.state(), &c.id);
    json!({
        "cardId": c.id,
        "maskedPan": c.masked_pan,
        "brand": c.brand,
        "cardType": "debit",
        "accountId": c.account,
        "status": status,
    })
}

fn account_of(inner: &Inner, account_id: &str) -> Result<(Arc<Customer>, usize), ApiError> {
    inner
        .books
        .account(account_id)
        .ok_or(ApiError::ResourceUnknown("no such account"))
}

/// `GET /v1/accounts/{account_id}/cards`
pub async fn list(
    State(inner): State<Arc<Inner>>,
    headers: HeaderMap,
    Path(account_id): Path<String>,
) -> Result<Response, ApiError> {
    ais::check(&inner, &headers, Some(&account_id))?;
    let (c, idx) = account_of(&inner, &account_id)?;
    let cards: Vec<Value> = cards_of(&inner, &c, idx)
        .iter()
        .map(|k| card_json(&inner, k))
        .collect();
    Ok(json_response(StatusCode::OK, &json!({ "cards": cards })))
}

/// `POST /v1/accounts/{account_id}/cards/{card_id}/block`
pub async fn block(
    State(inner): State<Arc<Inner>>,
    headers: HeaderMap,
    Path((account_id, card_id)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    set_blocked(&inner, &headers, &account_id, &card_id, "block").await
}

/// `POST /v1/accounts/{account_id}/cards/{card_id}/unblock`
pub async fn unblock(
    State(inner): State<Arc<Inner>>,
    headers: HeaderMap,
    Path((account_id, card_id)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    set_blocked(&inner, &headers, &account_id, &card_id, "unblock").await
}

/// The request's idempotency key (the request-id middleware already required a UUID).
fn request_id(headers: &HeaderMap) -> Result<String, ApiError> {
    Ok(header(headers, X_REQUEST_ID)
        .ok_or(ApiError::Format("X-Request-ID header must be a UUID"))?
        .to_ascii_lowercase())
}

async fn set_blocked(
    inner: &Inner,
    headers: &HeaderMap,
    account_id: &str,
    card_id: &str,
    action: &'static str,
) -> Result<Response, ApiError> {
    ais::check(inner, headers, Some(account_id))?;
    let (c, idx) = account_of(inner, account_id)?;
    let card = cards_of(inner, &c, idx)
        .into_iter()
        .find(|k| k.id == card_id)
        .ok_or(ApiError::ResourceUnknown("no such card"))?;
    let rid = request_id(headers)?;
    {
        let mut st = inner.state();
        match st.card_requests.get(&rid) {
            Some((k, a)) if k == card_id && *a == action => {
                tracing::info!(action, "card request repeated; answered idempotently");
            }
            Some(_) => {
                return Err(ApiError::StatusInvalid(
                    "X-Request-ID was already used for another card operation",
                ));
            }
            None => {
                match status_of(&st, card_id) {
                    "lost" | "stolen" => {
                        return Err(ApiError::StatusInvalid(
                            "the card was reported lost or stolen and cannot be used again",
                        ));
                    }
                    "ordered" => {
                        return Err(ApiError::StatusInvalid(
                            "the card is ordered and not active yet",
                        ));
                    }
                    _ => {}
                }
                st.card_requests.insert(rid, (card_id.to_owned(), action));
                if action == "block" {
                    st.blocked_cards.insert(card_id.to_owned());
                } else {
                    st.blocked_cards.remove(card_id);
                }
                tracing::info!(action, "card status changed");
            }
        }
    }
    Ok(json_response(StatusCode::OK, &card_json(inner, &card)))
}

/// `POST /v1/accounts/{account_id}/cards/{card_id}/report-lost` with `{"reason": "lost"|"stolen"}`:
/// the card is stopped for good and a replacement is ordered. Idempotent by `X-Request-ID`.
pub async fn report_lost(
    State(inner): State<Arc<Inner>>,
    headers: HeaderMap,
    Path((account_id, card_id)): Path<(String, String)>,
    body: Bytes,
) -> Result<Response, ApiError> {
    ais::check(&inner, &headers, Some(&account_id))?;
    let v = body_json(&body)?;
    let reason: &'static str = v
        .get("reason")
        .and_then(Value::as_str)
        .and_then(|r| REASONS.into_iter().find(|k| *k == r))
        .ok_or(ApiError::Format("reason must be \"lost\" or \"stolen\""))?;
    let action: &'static str = if reason == "lost" {
        "report-lost:lost"
    } else {
        "report-lost:stolen"
    };
    let (c, idx) = account_of(&inner, &account_id)?;
    let card = cards_of(&inner, &c, idx)
        .into_iter()
        .find(|k| k.id == card_id)
        .ok_or(ApiError::ResourceUnknown("no such card"))?;
    let rid = request_id(&headers)?;
    {
        let mut st = inner.state();
        match st.card_requests.get(&rid) {
            Some((k, a)) if *k == card_id && *a == action => {
                tracing::info!("card report repeated; answered idempotently");
            }
            Some(_) => {
                return Err(ApiError::StatusInvalid(
                    "X-Request-ID was already used for another card operation",
                ));
            }
            None => {
                if matches!(status_of(&st, &card_id), "lost" | "stolen" | "ordered") {
                    return Err(ApiError::StatusInvalid(
                        "only an active or blocked card can be reported",
                    ));
                }
                let replacement = derive(&format!("replacement:{card_id}"), &account_id);
                st.card_requests.insert(rid, (card_id.clone(), action));
                st.blocked_cards.remove(&card_id);
                st.reported_cards
                    .insert(card_id.clone(), (reason, replacement.id.clone()));
                st.ordered_cards.insert(replacement.id);
                tracing::info!(reason, "card reported; replacement ordered");
            }
        }
    }
    let replacement = {
        let st = inner.state();
        st.reported_cards.get(&card_id).map(|(_, r)| r.clone())
    };
    let replacement = cards_of(&inner, &c, idx)
        .into_iter()
        .find(|k| Some(&k.id) == replacement.as_ref())
        .map(|k| card_json(&inner, &k));
    Ok(json_response(
        StatusCode::OK,
        &json!({ "card": card_json(&inner, &card), "replacement": replacement }),
    ))
}

/// `GET /sandbox/customers/{psu_id}/cards`: every card of the customer with its status.
pub async fn control_list(
    State(inner): State<Arc<Inner>>,
    Path(psu_id): Path<String>,
) -> Result<Response, ApiError> {
    let c = inner
        .books
        .customer_by_psu(&psu_id)
        .ok_or(ApiError::ResourceUnknown("no such customer"))?;
    let cards: Vec<Value> = (0..c.profile.accounts.len())
        .flat_map(|i| cards_of(&inner, &c, i))
        .map(|k| card_json(&inner, &k))
        .collect();
    Ok(json_response(StatusCode::OK, &json!({ "cards": cards })))
}

/// `POST /sandbox/customers/{psu_id}/cards/{card_id}/activate`: the customer received an ordered
/// replacement and activated it; it becomes `active`.
pub async fn control_activate(
    State(inner): State<Arc<Inner>>,
    Path((psu_id, card_id)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let c = inner
        .books
        .customer_by_psu(&psu_id)
        .ok_or(ApiError::ResourceUnknown("no such customer"))?;
    let card = (0..c.profile.accounts.len())
        .flat_map(|i| cards_of(&inner, &c, i))
        .find(|k| k.id == card_id)
        .ok_or(ApiError::ResourceUnknown("no such card"))?;
    if !inner.state().ordered_cards.remove(&card_id) {
        return Err(ApiError::StatusInvalid(
            "the card is not waiting for activation",
        ));
    }
    Ok(json_response(StatusCode::OK, &card_json(&inner, &card)))
}

/// Far-away online shops for generated fraud episodes: (descriptor, city, country).
const FAR_SHOPS: [(&str, &str, &str); 6] = [
    ("ELECTRO-MEGASTORE.COM", "LAGOS", "NG"),
    ("LUXWATCH OUTLET", "BANGKOK", "TH"),
    ("GIFTCARDS-24.SHOP", "MANILA", "PH"),
    ("PHONEDEALS ONLINE", "SAO PAULO", "BR"),
    ("CRYPTO-VOUCHERS.IO", "HANOI", "VN"),
    ("SNEAKER DROP STORE", "LIMA", "PE"),
];

/// What one pushed purchase looks like.
struct Push {
    account: usize,
    minor: i64,
    counterparty: String,
    description: String,
}

fn body_json(body: &[u8]) -> Result<Value, ApiError> {
    if body.is_empty() {
        return Ok(json!({}));
    }
    serde_json::from_slice(body).map_err(|_| ApiError::Format("body is not valid JSON"))
}

/// Parses "1249.00" into minor units: positive, at most two decimals, at most 10 million.
fn parse_amount(v: Option<&Value>, default: i64) -> Result<i64, ApiError> {
    let Some(v) = v else {
        return Ok(default);
    };
    let d: Option<Decimal> = v.as_str().and_then(|s| s.trim().parse().ok());
    d.filter(|d| *d > Decimal::ZERO && d.scale() <= 2 && *d <= Decimal::from(10_000_000))
        .and_then(|d| (d * Decimal::ONE_HUNDRED).to_i64())
        .ok_or(ApiError::Format(
            "amount must be a positive decimal string like \"1249.00\"",
        ))
}

fn card_account(inner: &Inner, c: &Customer, v: &Value) -> Result<usize, ApiError> {
    let idx = match v.get("account").and_then(Value::as_str) {
        Some(rid) => c
            .profile
            .accounts
            .iter()
            .position(|a| a.resource_id == rid)
            .ok_or(ApiError::ResourceUnknown(
                "no such account of this customer",
            ))?,
        None => (0..c.profile.accounts.len())
            .find(|i| !cards_of(inner, c, *i).is_empty())
            .ok_or(ApiError::ResourceUnknown("the customer has no card"))?,
    };
    let cards = cards_of(inner, c, idx);
    if cards.is_empty() {
        return Err(ApiError::ResourceUnknown("the account has no card"));
    }
    let st = inner.state();
    if cards.iter().all(|k| status_of(&st, &k.id) != "active") {
        return Err(ApiError::StatusInvalid(
            "the card is blocked; the bank declines the payment",
        ));
    }
    Ok(idx)
}

fn inject(inner: &Inner, c: &Customer, pushes: Vec<Push>) -> Vec<String> {
    let today: NaiveDate = inner.today();
    let cur = c.profile.currency.code();
    let mut ids = Vec::new();
    for p in pushes {
        let n = {
            let mut st = inner.state();
            st.injected += 1;
            st.injected
        };
        let id = format!("inj{n:013x}");
        c.inject(
            inner.books.seed,
            GenTx {
                account: p.account,
                entry_date: today,
                book_date: today + chrono::Days::new(2),
                pending_id: id.clone(),
                booked_id: id.clone(),
                pending_amount: Decimal::new(-p.minor, 2),
                booked_amount: Decimal::new(-p.minor, 2),
                counterparty: p.counterparty,
                counterparty_iban: None,
                raw_template: p.description.replace("{CUR}", cur),
                code: "CARD",
            },
        );
        ids.push(id);
    }
    ids
}

/// New-transaction notifications for the account the card purchases went to.
fn announce(inner: &Inner, c: &Customer, account: usize) {
    if let Some(a) = c.profile.accounts.get(account) {
        crate::notify::account_changed(inner, &a.resource_id);
    }
}

/// `POST /sandbox/customers/{psu_id}/transactions`: one card purchase made today.
/// Body (all optional): `{"amount": "49.99", "merchant": "SHOP", "city": "WARSZAWA",
/// "country": "PL", "card_present": true, "account": "<resourceId>"}`.
pub async fn control_push(
    State(inner): State<Arc<Inner>>,
    Path(psu_id): Path<String>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let v = body_json(&body)?;
    let c = inner
        .books
        .customer_by_psu(&psu_id)
        .ok_or(ApiError::ResourceUnknown("no such customer"))?;
    let text = |k: &str, d: &str| -> Result<String, ApiError> {
        match v.get(k) {
            None => Ok(d.to_owned()),
            Some(s) => s
                .as_str()
                .map(|s| s.trim())
                .filter(|s| !s.is_empty() && s.len() <= 60 && !s.chars().any(char::is_control))
                .map(|s| s.to_ascii_uppercase())
                .ok_or(ApiError::Format(
                    "merchant, city and country must be short non-empty strings",
                )),
        }
    };
    let merchant = text("merchant", "ELECTRO-MEGASTORE.COM")?;
    let city = text("city", "LAGOS")?;
    let country = text("country", "NG")?;
    let present = match v.get("card_present") {
        None => false,
        Some(b) => b
            .as_bool()
            .ok_or(ApiError::Format("card_present must be true or false"))?,
    };
    let minor = parse_amount(v.get("amount"), 124_900)?;
    let account = card_account(&inner, &c, &v)?;
    let description = if present {
        format!("PLATNOSC KARTA {{AMT}} {{CUR}} {merchant} {city} {country}")
    } else {
        format!("PLATNOSC KARTA INTERNET {{AMT}} {{CUR}} {merchant} {city} {country}")
    };
    let ids = inject(
        &inner,
        &c,
        vec![Push {
            account,
            minor,
            counterparty: merchant,
            description,
        }],
    );
    announce(&inner, &c, account);
    Ok(json_response(
        StatusCode::CREATED,
        &json!({ "transactionIds": ids }),
    ))
}

/// `POST /sandbox/customers/{psu_id}/fraud-episode`: several card-not-present purchases far from
/// home within minutes. Body (optional): `{"count": 4, "amount": "1249.00"}`; the first purchase
/// has exactly `amount`, the others vary around it deterministically.
pub async fn control_episode(
    State(inner): State<Arc<Inner>>,
    Path(psu_id): Path<String>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let v = body_json(&body)?;
    let c = inner
        .books
        .customer_by_psu(&psu_id)
        .ok_or(ApiError::ResourceUnknown("no such customer"))?;
    let count = match v.get("count") {
        None => 4,
        Some(n) => n
            .as_u64()
            .filter(|n| (1..=20).contains(n))
            .ok_or(ApiError::Format("count must be between 1 and 20"))? as usize,
    };
    let minor = parse_amount(v.get("amount"), 124_900)?;
    let account = card_account(&inner, &c, &v)?;
    let pushes = (0..count)
        .map(|i| {
            let (shop, city, country) = FAR_SHOPS[i % FAR_SHOPS.len()];
            Push {
                account,
                minor: minor + (i as i64) * 37_311 % 90_000,
                counterparty: shop.to_owned(),
                description: format!(
                    "PLATNOSC KARTA INTERNET {{AMT}} {{CUR}} {shop} {city} {country}"
                ),
            }
        })
        .collect();
    let ids = inject(&inner, &c, pushes);
    announce(&inner, &c, account);
    Ok(json_response(
        StatusCode::CREATED,
        &json!({ "transactionIds": ids }),
    ))
}
