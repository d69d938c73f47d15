//! The checks every AIS call passes, in order: injected faults, Consent-ID known, not expired,
//! valid, bearer token (OAuth consents), account in the consent, then `frequencyPerDay`.
//!
//! Counting rule: unattended calls (no `PSU-IP-Address`) are counted per consent, per account
//! (or the account list), per endpoint, per bank day; the call beyond `frequencyPerDay` gets
//! 429 ACCESS_EXCEEDED. Calls with `PSU-IP-Address` (customer present) are never counted.

use std::sync::Arc;
use std::time::Instant;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use chrono::NaiveDate;
use okienko_core::ConsentStatus;

use crate::consent::{Approach, Grant};
use crate::error::ApiError;
use crate::http::header;
use crate::state::{FaultMode, Inner, hash};

/// What a handler may use once the consent checks passed.
pub struct Ais {
    pub consent_id: String,
    pub grants: Vec<Grant>,
    pub today: NaiveDate,
    pub attended: bool,
}

/// Checks the consent (and token) of an AIS call; `account` must be granted when given.
pub fn check(inner: &Inner, headers: &HeaderMap, account: Option<&str>) -> Result<Ais, ApiError> {
    let consent_id =
        header(headers, "consent-id").ok_or(ApiError::Format("Consent-ID header is required"))?;
    let bearer = header(headers, "authorization")
        .and_then(|a| {
            a.strip_prefix("Bearer ")
                .or_else(|| a.strip_prefix("bearer "))
        })
        .map(|t| hash(t.trim()));
    let mut st = inner.state();
    let today = st.today;
    let token_ok = bearer
        .and_then(|h| st.tokens.get(&h).cloned())
        .is_some_and(|t| t.consent_id == consent_id && t.expires > Instant::now());
    let c = st
        .consents
        .get_mut(consent_id)
        .ok_or(ApiError::ConsentUnknown)?;
    match c.refresh_status(today) {
        ConsentStatus::Valid => {}
        ConsentStatus::Expired => return Err(ApiError::ConsentExpired),
        _ => return Err(ApiError::ConsentInvalid("consent is not valid")),
    }
    if c.approach == Approach::OAuth && !token_ok {
        return Err(ApiError::TokenInvalid);
    }
    let grants = c.grants.clone();
    let consent_id = c.id.clone();
    drop(st);
    if let Some(acc) = account
        && !grants.iter().any(|g| g.resource_id == acc)
    {
        if inner.books.account(acc).is_none() {
            return Err(ApiError::ResourceUnknown("no such account"));
        }
        return Err(ApiError::ConsentInvalid(
            "the consent does not cover this account",
        ));
    }
    Ok(Ais {
        consent_id,
        grants,
        today,
        attended: header(headers, "psu-ip-address").is_some(),
    })
}

impl Ais {
    pub fn grant(&self, resource_id: &str) -> Result<&Grant, ApiError> {
        self.grants
            .iter()
            .find(|g| g.resource_id == resource_id)
            .ok_or(ApiError::ConsentInvalid(
                "the consent does not cover this account",
            ))
    }

    /// Counts one access against `frequencyPerDay` (see the module doc) and records the action.
    pub fn count(&self, inner: &Inner, key: &str, endpoint: &'static str) -> Result<(), ApiError> {
        let mut st = inner.state();
        let today = st.today;
        let c = st
            .consents
            .get_mut(&self.consent_id)
            .ok_or(ApiError::ConsentUnknown)?;
        c.last_action = today;
        if self.attended {
            return Ok(());
        }
        let n = c
            .usage
            .entry((key.to_owned(), endpoint, today))
            .or_insert(0);
        if *n >= c.frequency {
            return Err(ApiError::AccessExceeded);
        }
        *n += 1;
        Ok(())
    }
}

/// Applies `/sandbox/faults` to `/v1/accounts*`.
pub async fn faults(State(inner): State<Arc<Inner>>, req: Request<Body>, next: Next) -> Response {
    let mode = {
        let mut st = inner.state();
        match (st.fault, st.fault_count) {
            (FaultMode::None, _) => FaultMode::None,
            (_, Some(0)) => {
                st.fault = FaultMode::None;
                st.fault_count = None;
                FaultMode::None
            }
            (m, Some(n)) => {
                st.fault_count = Some(n - 1);
                m
            }
            (m, None) => m,
        }
    };
    match mode {
        FaultMode::None => next.run(req).await,
        FaultMode::Unavailable => ApiError::ServiceUnavailable.into_response(),
        FaultMode::MalformedJson => {
            let resp = next.run(req).await;
            let bytes = axum::body::to_bytes(resp.into_body(), 64 * 1024 * 1024)
                .await
                .unwrap_or_default();
            let cut = bytes.slice(..bytes.len() / 2);
            let mut out = (StatusCode::OK, cut).into_response();
            out.headers_mut().insert(
                axum::http::header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            );
            out
        }
    }
}
