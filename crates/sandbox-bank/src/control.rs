//! The test control API under `/sandbox/` (only when `control_api` is on): move the bank's day,
//! inject faults into `/v1/accounts*`, expire a consent, read a customer's full truth, and book
//! card purchases, incoming credits and merchant debits.
//! It exists for tests; it must never be enabled in front of real users.

use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use chrono::NaiveDate;
use okienko_core::ConsentStatus;
use serde_json::{Value, json};

use crate::error::ApiError;
use crate::http::json_response;
use crate::state::{FaultMode, Inner};

pub fn routes() -> Router<Arc<Inner>> {
    Router::new()
        .route("/sandbox/clock", post(clock).get(get_clock))
        .route("/sandbox/faults", post(faults))
        .route("/sandbox/consents/{id}/expire", post(expire))
        .route("/sandbox/ledger", get(crate::api::payments::control_ledger))
        .route("/sandbox/customers/{psu_id}", get(customer))
        .route(
            "/sandbox/customers/{psu_id}/cards",
            get(crate::cards::control_list),
        )
        .route(
            "/sandbox/customers/{psu_id}/cards/{card_id}/activate",
            post(crate::cards::control_activate),
        )
        .route(
            "/sandbox/customers/{psu_id}/transactions",
            post(crate::cards::control_push),
        )
        .route(
            "/sandbox/customers/{psu_id}/bookings",
            post(crate::bookings::control_book),
        )
        .route(
            "/sandbox/customers/{psu_id}/fraud-episode",
            post(crate::cards::control_episode),
        )
}

fn body_json(body: &[u8]) -> Result<Value, ApiError> {
    serde_json::from_slice(body).map_err(|_| ApiError::Format("body is not valid JSON"))
}

async fn get_clock(State(inner): State<Arc<Inner>>) -> Response {
    json_response(
        StatusCode::OK,
        &json!({ "today": inner.today().to_string() }),
    )
}

async fn clock(State(inner): State<Arc<Inner>>, body: Bytes) -> Result<Response, ApiError> {
    let v = body_json(&body)?;
    let today = v
        .get("today")
        .and_then(Value::as_str)
        .and_then(|s| NaiveDate::parse_from_str(s, "%Y-%m-%d").ok())
        .ok_or(ApiError::Format("today must be a date (YYYY-MM-DD)"))?;
    if today < inner.books.start {
        return Err(ApiError::Format(
            "today is before the start of the bank's history",
        ));
    }
    let mut st = inner.state();
    st.today = today;
    for c in st.consents.values_mut() {
        c.refresh_status(today);
    }
    Ok(json_response(
        StatusCode::OK,
        &json!({ "today": today.to_string() }),
    ))
}

async fn faults(State(inner): State<Arc<Inner>>, body: Bytes) -> Result<Response, ApiError> {
    let v = body_json(&body)?;
    let mode = match v.get("mode").and_then(Value::as_str) {
        Some("none") => FaultMode::None,
        Some("unavailable") => FaultMode::Unavailable,
        Some("malformed_json") => FaultMode::MalformedJson,
        _ => {
            return Err(ApiError::Format(
                "mode must be none, unavailable or malformed_json",
            ));
        }
    };
    let count = match v.get("count") {
        None | Some(Value::Null) => None,
        Some(c) => Some(
            c.as_u64()
                .ok_or(ApiError::Format("count must be a non-negative integer"))?,
        ),
    };
    let mut st = inner.state();
    st.fault = mode;
    st.fault_count = count;
    Ok(StatusCode::NO_CONTENT.into_response())
}

async fn expire(
    State(inner): State<Arc<Inner>>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let mut st = inner.state();
    let today = st.today;
    let c = st.consents.get_mut(&id).ok_or(ApiError::ConsentUnknown)?;
    c.valid_until = today.pred_opt().unwrap_or(today);
    c.status = ConsentStatus::Expired;
    Ok(StatusCode::NO_CONTENT.into_response())
}

async fn customer(
    State(inner): State<Arc<Inner>>,
    Path(psu_id): Path<String>,
) -> Result<Response, ApiError> {
    let c = inner
        .books
        .customer_by_psu(&psu_id)
        .ok_or(ApiError::ResourceUnknown("no such customer"))?;
    let today = inner.today();
    let mut accounts = Vec::new();
    for (i, a) in c.profile.accounts.iter().enumerate() {
        let b = crate::api::payments::balances(&inner, &c, i, today);
        let txs: Vec<Value> = crate::api::payments::views(&inner, &c, i, today)
            .iter()
            .map(|t| {
                let mut v = json!({
                    "status": if t.booked { "booked" } else { "pending" },
                    "transactionId": t.id,
                    "entryDate": t.entry_date.to_string(),
                    "valueDate": t.entry_date.to_string(),
                    "amount": t.amount.amount_string(),
                    "currency": t.amount.currency().code(),
                    "counterparty": t.counterparty,
                    "description": t.description,
                    "pendingTransactionId": t.pending_id,
                    "pendingAmount": t.pending_amount.amount_string(),
                });
                if let Some(d) = t.booking_date {
                    v["bookingDate"] = json!(d.to_string());
                }
                v
            })
            .collect();
        accounts.push(json!({
            "resourceId": a.resource_id,
            "iban": a.iban.expose(),
            "currency": a.currency.code(),
            "name": a.name,
            "openingBalance": { "amount": b.map(|b| b.opening.amount_string()), "date": inner.books.start.to_string() },
            "balances": {
                "closingBooked": b.map(|b| b.closing_booked.amount_string()),
                "interimAvailable": b.map(|b| b.interim_available.amount_string()),
            },
            "transactions": txs,
        }));
    }
    Ok(json_response(
        StatusCode::OK,
        &json!({
            "psuId": c.profile.psu_id,
            "name": c.profile.name,
            "currency": c.profile.currency.code(),
            "today": today.to_string(),
            "accounts": accounts,
        }),
    ))
}
