//! Control API: `POST /sandbox/customers/{psu_id}/bookings` books money that crosses the bank's
//! edge on a customer account: an incoming credit transfer (a salary, a refund) or a merchant's
//! debit, on any day of the account's history up to today. Each is a posted transfer on the
//! double-entry ledger against `internal:world:<currency>`, and shows in the account's AIS
//! transactions and balances like any other entry. It exists so tests can make the events a
//! gateway reacts to (salary arrived, a charge that went up, a renewal, a double charge); it
//! never logs an amount or a name.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use chrono::NaiveDate;
use okienko_core::{Currency, Iban};
use rust_decimal::Decimal;
use serde_json::{Map, Value, json};

use crate::error::ApiError;
use crate::http::json_response;
use crate::ledger::LedgerError;
use crate::ledger::payments::NewBooking;
use crate::state::Inner;

/// Longest counterparty name and remittance text accepted.
const MAX_NAME: usize = 70;
const MAX_REMITTANCE: usize = 140;

fn text(o: &Map<String, Value>, key: &str, max: usize) -> Result<Option<String>, ApiError> {
    match o.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(v) => v
            .as_str()
            .map(str::trim)
            .filter(|s| !s.is_empty() && s.chars().count() <= max)
            .filter(|s| !s.chars().any(char::is_control))
            .map(|s| Some(s.to_owned()))
            .ok_or(match key {
                "counterparty" => ApiError::Format(
                    "counterparty must be a non-empty string of at most 70 characters",
                ),
                _ => ApiError::Format(
                    "remittance must be a non-empty string of at most 140 characters",
                ),
            }),
    }
}

/// "6500.00" → a positive amount with at most two decimals, at most 10 million.
fn amount(o: &Map<String, Value>) -> Result<Decimal, ApiError> {
    o.get("amount")
        .and_then(Value::as_str)
        .and_then(|s| s.trim().parse::<Decimal>().ok())
        .filter(|d| *d > Decimal::ZERO && d.scale() <= 2 && *d <= Decimal::from(10_000_000))
        .ok_or(ApiError::Format(
            "amount must be a positive decimal string like \"6500.00\"",
        ))
}

/// The amount as the bank prints it in a description: "43,00" in Poland, "43.00" elsewhere.
fn printed(d: Decimal, c: Currency) -> String {
    let s = format!("{:.2}", d);
    if c == Currency::PLN {
        s.replace('.', ",")
    } else {
        s
    }
}

/// `POST /sandbox/customers/{psu_id}/bookings`. Body:
/// `{"type": "credit" | "debit", "amount": "6500.00", "counterparty": "ACME SP Z O O",
/// "counterpartyIban": "PL…" (optional), "remittance": "WYNAGRODZENIE 11/2026" (optional),
/// "date": "YYYY-MM-DD" (optional, today by default), "account": "<resourceId>" (optional, the
/// customer's first account)}`. Answers 201 `{"transactionId", "bookingDate"}`.
pub async fn control_book(
    State(inner): State<Arc<Inner>>,
    Path(psu_id): Path<String>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let v: Value =
        serde_json::from_slice(&body).map_err(|_| ApiError::Format("body is not valid JSON"))?;
    let o = v
        .as_object()
        .ok_or(ApiError::Format("body must be a JSON object"))?;
    let c = inner
        .books
        .customer_by_psu(&psu_id)
        .ok_or(ApiError::ResourceUnknown("no such customer"))?;
    let credit = match o.get("type").and_then(Value::as_str) {
        Some("credit") => true,
        Some("debit") => false,
        _ => return Err(ApiError::Format("type must be credit or debit")),
    };
    let amount = amount(o)?;
    let counterparty =
        text(o, "counterparty", MAX_NAME)?.ok_or(ApiError::Format("counterparty is required"))?;
    let counterparty_iban = match o.get("counterpartyIban") {
        None | Some(Value::Null) => None,
        Some(s) => Some(
            s.as_str()
                .and_then(|s| s.parse::<Iban>().ok())
                .ok_or(ApiError::Format("counterpartyIban must be a valid IBAN"))?
                .expose()
                .to_owned(),
        ),
    };
    let remittance = text(o, "remittance", MAX_REMITTANCE)?;
    let idx = match o.get("account") {
        None | Some(Value::Null) => 0,
        Some(a) => {
            let rid = a
                .as_str()
                .ok_or(ApiError::Format("account must be a resourceId"))?;
            c.profile
                .accounts
                .iter()
                .position(|a| a.resource_id == rid)
                .ok_or(ApiError::ResourceUnknown(
                    "no such account of this customer",
                ))?
        }
    };
    let acc = c
        .profile
        .accounts
        .get(idx)
        .ok_or(ApiError::ResourceUnknown("the customer has no account"))?;
    let today = inner.today();
    let day = match o.get("date") {
        None | Some(Value::Null) => today,
        Some(d) => d
            .as_str()
            .and_then(|s| NaiveDate::parse_from_str(s, "%Y-%m-%d").ok())
            .ok_or(ApiError::Format("date must be a date (YYYY-MM-DD)"))?,
    };
    if day > today || day < inner.books.start {
        return Err(ApiError::Format(
            "date must be within the account's history, not after the bank's today",
        ));
    }
    let currency = acc.currency;
    let remittance = remittance.unwrap_or_else(|| {
        if credit {
            format!("PRZELEW PRZYCHODZACY {}", counterparty.to_uppercase())
        } else {
            format!(
                "PLATNOSC KARTA {} {} {}",
                printed(amount, currency),
                currency.code(),
                counterparty.to_uppercase()
            )
        }
    });
    // Generation runs outside the state lock.
    let generated = c
        .balances(inner.books.seed, idx, today)
        .map(|b| b.interim_available.amount())
        .unwrap_or_default();
    let key = acc.resource_id.clone();
    let id = {
        let mut st = inner.state();
        st.pis.book(
            &key,
            currency,
            generated,
            today,
            NewBooking {
                credit,
                amount,
                day,
                counterparty,
                counterparty_iban,
                remittance,
                code: if credit { "TRANSFER" } else { "CARD" },
            },
        )
    };
    let id = id.map_err(|e| match e {
        LedgerError::InsufficientFunds => {
            ApiError::StatusInvalid("the account cannot cover the debit")
        }
        _ => ApiError::ServiceUnavailable,
    })?;
    tracing::info!(booking = %id, credit, "control API booking");
    crate::notify::account_changed(&inner, &key);
    Ok(json_response(
        StatusCode::CREATED,
        &json!({ "transactionId": id, "bookingDate": day.to_string() }),
    ))
}
