//! `/v1/accounts`: account list and details, balances, transaction reports with paging, and
//! single transaction details, rendered in NextGenPSD2 1.3.11 shapes.

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use chrono::NaiveDate;
use serde_json::{Value, json};

use super::ais::{self, Ais};
use crate::consent::Grant;
use crate::data::{AccountProfile, Balances, TxView};
use crate::error::ApiError;
use crate::http::{base_url, json_response, parse_pairs};
use crate::state::Inner;

const DEFAULT_PAGE: usize = 100;
const MAX_PAGE: usize = 1000;

fn href(s: String) -> Value {
    json!({ "href": s })
}

fn query(raw: Option<String>) -> HashMap<String, String> {
    parse_pairs(raw.unwrap_or_default().as_bytes())
}

fn bool_param(q: &HashMap<String, String>, name: &str) -> Result<bool, ApiError> {
    match q.get(name).map(String::as_str) {
        None => Ok(false),
        Some("true") => Ok(true),
        Some("false") => Ok(false),
        Some(_) => Err(ApiError::Format(
            "boolean query parameter must be true or false",
        )),
    }
}

fn amount(m: &okienko_core::Money) -> Value {
    json!({ "currency": m.currency().code(), "amount": m.amount_string() })
}

fn balances_json(b: &Balances, today: NaiveDate) -> Value {
    json!([
        { "balanceAmount": amount(&b.closing_booked), "balanceType": "closingBooked",
          "referenceDate": today.to_string() },
        { "balanceAmount": amount(&b.interim_available), "balanceType": "interimAvailable",
          "referenceDate": today.to_string() },
    ])
}

fn account_json(base: &str, a: &AccountProfile, g: &Grant, balances: Option<Value>) -> Value {
    let mut v = json!({
        "resourceId": a.resource_id,
        "iban": a.iban.expose(),
        "currency": a.currency.code(),
        "name": a.name,
        "product": a.product,
        "cashAccountType": a.kind.cash_account_type(),
        "status": "enabled",
        "usage": "PRIV",
    });
    let mut links = serde_json::Map::new();
    let url = format!("{base}/v1/accounts/{}", a.resource_id);
    if g.balances {
        links.insert("balances".into(), href(format!("{url}/balances")));
    }
    if g.transactions {
        links.insert("transactions".into(), href(format!("{url}/transactions")));
    }
    v["_links"] = Value::Object(links);
    if let Some(b) = balances {
        v["balances"] = b;
    }
    v
}

fn tx_json(base: &str, resource_id: &str, t: &TxView, with_link: bool) -> Value {
    let mut v = json!({
        "transactionId": t.id,
        "valueDate": t.entry_date.to_string(),
        "transactionAmount": amount(&t.amount),
        "remittanceInformationUnstructured": t.description.chars().take(140).collect::<String>(),
        "proprietaryBankTransactionCode": t.code,
    });
    if let Some(b) = t.booking_date {
        v["bookingDate"] = json!(b.to_string());
    }
    let name: String = t.counterparty.chars().take(70).collect();
    let (name_key, acc_key) = if t.is_credit {
        ("debtorName", "debtorAccount")
    } else {
        ("creditorName", "creditorAccount")
    };
    v[name_key] = json!(name);
    if let Some(i) = &t.counterparty_iban {
        v[acc_key] = json!({ "iban": i });
    }
    if with_link {
        v["_links"] = json!({ "transactionDetails":
            href(format!("{base}/v1/accounts/{resource_id}/transactions/{}", t.id)) });
    }
    v
}

/// Loads an account the consent covers: its profile, and the customer for data access.
fn load(inner: &Inner, resource_id: &str) -> Result<(Arc<crate::data::Customer>, usize), ApiError> {
    inner
        .books
        .account(resource_id)
        .ok_or(ApiError::ResourceUnknown("no such account"))
}

pub async fn list(
    State(inner): State<Arc<Inner>>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    let q = query(raw);
    let with_balance = bool_param(&q, "withBalance")?;
    let ais = ais::check(&inner, &headers, None)?;
    if with_balance && ais.grants.iter().any(|g| !g.balances) {
        return Err(ApiError::ConsentInvalid(
            "the consent does not cover balances of every account",
        ));
    }
    ais.count(&inner, "list", "list")?;
    let base = base_url(&headers);
    let mut accounts = Vec::new();
    for g in &ais.grants {
        let (c, idx) = load(&inner, &g.resource_id)?;
        let a = &c.profile.accounts[idx];
        let b = if with_balance {
            super::payments::balances(&inner, &c, idx, ais.today)
                .map(|b| balances_json(&b, ais.today))
        } else {
            None
        };
        accounts.push(account_json(&base, a, g, b));
    }
    Ok(json_response(
        StatusCode::OK,
        &json!({ "accounts": accounts }),
    ))
}

pub async fn details(
    State(inner): State<Arc<Inner>>,
    headers: HeaderMap,
    Path(account_id): Path<String>,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    let q = query(raw);
    let with_balance = bool_param(&q, "withBalance")?;
    let ais = ais::check(&inner, &headers, Some(&account_id))?;
    let g = ais.grant(&account_id)?;
    if with_balance && !g.balances {
        return Err(ApiError::ConsentInvalid(
            "the consent does not cover balances of this account",
        ));
    }
    ais.count(&inner, &account_id, "account")?;
    let (c, idx) = load(&inner, &account_id)?;
    let b = if with_balance {
        super::payments::balances(&inner, &c, idx, ais.today).map(|b| balances_json(&b, ais.today))
    } else {
        None
    };
    let base = base_url(&headers);
    let v = account_json(&base, &c.profile.accounts[idx], g, b);
    Ok(json_response(StatusCode::OK, &json!({ "account": v })))
}

pub async fn balances(
    State(inner): State<Arc<Inner>>,
    headers: HeaderMap,
    Path(account_id): Path<String>,
) -> Result<Response, ApiError> {
    let ais = ais::check(&inner, &headers, Some(&account_id))?;
    if !ais.grant(&account_id)?.balances {
        return Err(ApiError::ConsentInvalid(
            "the consent does not cover balances of this account",
        ));
    }
    ais.count(&inner, &account_id, "balances")?;
    let (c, idx) = load(&inner, &account_id)?;
    let a = &c.profile.accounts[idx];
    let b = super::payments::balances(&inner, &c, idx, ais.today)
        .ok_or(ApiError::ResourceUnknown("no such account"))?;
    Ok(json_response(
        StatusCode::OK,
        &json!({
            "account": { "iban": a.iban.expose(), "currency": a.currency.code() },
            "balances": balances_json(&b, ais.today),
        }),
    ))
}

fn date_param(q: &HashMap<String, String>, name: &str) -> Result<Option<NaiveDate>, ApiError> {
    q.get(name)
        .map(|s| {
            NaiveDate::parse_from_str(s, "%Y-%m-%d")
                .map_err(|_| ApiError::Format("dateFrom/dateTo must be dates (YYYY-MM-DD)"))
        })
        .transpose()
}

fn usize_param(q: &HashMap<String, String>, name: &str) -> Result<Option<usize>, ApiError> {
    q.get(name)
        .map(|s| {
            s.parse::<usize>().map_err(|_| {
                ApiError::Format("pageIndex/itemsPerPage must be non-negative integers")
            })
        })
        .transpose()
}

fn transactions_ais(inner: &Inner, headers: &HeaderMap, account_id: &str) -> Result<Ais, ApiError> {
    let ais = ais::check(inner, headers, Some(account_id))?;
    if !ais.grant(account_id)?.transactions {
        return Err(ApiError::ConsentInvalid(
            "the consent does not cover transactions of this account",
        ));
    }
    Ok(ais)
}

pub async fn transactions(
    State(inner): State<Arc<Inner>>,
    headers: HeaderMap,
    Path(account_id): Path<String>,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    let q = query(raw);
    let (want_booked, want_pending) = match q.get("bookingStatus").map(String::as_str) {
        Some("booked") => (true, false),
        Some("pending") => (false, true),
        Some("both") => (true, true),
        Some("information") | Some("all") => {
            return Err(ApiError::ParameterNotSupported(
                "bookingStatus information/all is not supported",
            ));
        }
        _ => {
            return Err(ApiError::Format(
                "bookingStatus must be booked, pending or both",
            ));
        }
    };
    if q.contains_key("entryReferenceFrom") || q.contains_key("deltaList") {
        return Err(ApiError::ParameterNotSupported(
            "delta access (entryReferenceFrom/deltaList) is not supported",
        ));
    }
    let date_from = date_param(&q, "dateFrom")?;
    let date_to = date_param(&q, "dateTo")?;
    let with_balance = bool_param(&q, "withBalance")?;
    let page = usize_param(&q, "pageIndex")?.unwrap_or(0);
    let per_page = usize_param(&q, "itemsPerPage")?.unwrap_or(DEFAULT_PAGE);
    if per_page == 0 || per_page > MAX_PAGE {
        return Err(ApiError::Format("itemsPerPage must be between 1 and 1000"));
    }
    let ais = transactions_ais(&inner, &headers, &account_id)?;
    let g = ais.grant(&account_id)?;
    if with_balance && !g.balances {
        return Err(ApiError::ConsentInvalid(
            "the consent does not cover balances of this account",
        ));
    }
    let from = date_from.unwrap_or(inner.books.start);
    let to = date_to.unwrap_or(ais.today);
    if from > to {
        return Err(ApiError::PeriodInvalid);
    }
    let (c, idx) = load(&inner, &account_id)?;
    let views = super::payments::views(&inner, &c, idx, ais.today);
    // Pending first (filtered on entry date), then booked (on booking date); newest first.
    let mut items: Vec<&TxView> = Vec::new();
    if want_pending {
        items.extend(
            views
                .iter()
                .filter(|v| !v.booked && v.entry_date >= from && v.entry_date <= to),
        );
    }
    if want_booked {
        let mut booked: Vec<&TxView> = views
            .iter()
            .filter(|v| v.booked)
            .filter(|v| v.booking_date.is_some_and(|b| b >= from && b <= to))
            .collect();
        booked.sort_by_key(|b| std::cmp::Reverse(b.booking_date));
        items.extend(booked);
    }
    let pages = items.len().div_ceil(per_page).max(1);
    if page >= pages {
        return Err(ApiError::Format("pageIndex is beyond the last page"));
    }
    ais.count(&inner, &account_id, "transactions")?;
    let base = base_url(&headers);
    let chunk = items.iter().skip(page * per_page).take(per_page);
    let (mut booked, mut pending) = (Vec::new(), Vec::new());
    for t in chunk {
        let v = tx_json(&base, &account_id, t, true);
        if t.booked {
            booked.push(v);
        } else {
            pending.push(v);
        }
    }
    let status = q.get("bookingStatus").cloned().unwrap_or_default();
    let acc_url = format!("{base}/v1/accounts/{account_id}");
    let per = if q.contains_key("itemsPerPage") {
        format!("&itemsPerPage={per_page}")
    } else {
        String::new()
    };
    let page_url = |i: usize| {
        format!(
            "{acc_url}/transactions?bookingStatus={status}&dateFrom={from}&dateTo={to}{per}&pageIndex={i}"
        )
    };
    let mut links = serde_json::Map::new();
    links.insert("account".into(), href(acc_url.clone()));
    links.insert("first".into(), href(page_url(0)));
    links.insert("last".into(), href(page_url(pages - 1)));
    if page + 1 < pages {
        links.insert("next".into(), href(page_url(page + 1)));
    }
    if page > 0 {
        links.insert("previous".into(), href(page_url(page - 1)));
    }
    let mut report = serde_json::Map::new();
    if want_booked {
        report.insert("booked".into(), Value::Array(booked));
    }
    if want_pending {
        report.insert("pending".into(), Value::Array(pending));
    }
    report.insert("_links".into(), Value::Object(links));
    let a = &c.profile.accounts[idx];
    let mut body = json!({
        "account": { "iban": a.iban.expose(), "currency": a.currency.code() },
        "transactions": Value::Object(report),
    });
    if with_balance && let Some(b) = super::payments::balances(&inner, &c, idx, ais.today) {
        body["balances"] = balances_json(&b, ais.today);
    }
    Ok(json_response(StatusCode::OK, &body))
}

pub async fn transaction(
    State(inner): State<Arc<Inner>>,
    headers: HeaderMap,
    Path((account_id, transaction_id)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let ais = transactions_ais(&inner, &headers, &account_id)?;
    let (c, idx) = load(&inner, &account_id)?;
    let views = super::payments::views(&inner, &c, idx, ais.today);
    let t = views
        .iter()
        .find(|v| v.id == transaction_id)
        .ok_or(ApiError::ResourceUnknown("no such transaction"))?;
    ais.count(&inner, &account_id, "transaction")?;
    let base = base_url(&headers);
    Ok(json_response(
        StatusCode::OK,
        &json!({ "transactionsDetails": tx_json(&base, &account_id, t, false) }),
    ))
}
