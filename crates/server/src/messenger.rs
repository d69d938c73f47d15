//! `/channels/messenger/webhook`: Meta's subscription check (GET) and event deliveries (POST).
//!
//! The route only translates HTTP: the channel checks the signature on the raw bytes before
//! anything is parsed, and answers are sent asynchronously, so Meta gets its status at once.
//! Statuses: 200 accepted; 401 no signature; 403 wrong signature or verify token; 400 not a
//! page webhook; 409 nothing but replays; 503 not ready. Bodies never echo what was sent.
//!
//! `/channels/messenger/account-link`: the page Meta's account-link button opens. It redirects
//! (303) back to Meta's `redirect_uri`, with an authorization code when the state is valid and
//! without one otherwise; a `redirect_uri` that is not Meta's gets 400 (no open redirect).

use std::collections::HashMap;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use okienko_channels::Messenger;
use okienko_channels::messenger::{AccountLinkError, SignatureError, WebhookError};

pub const PATH: &str = "/channels/messenger/webhook";
pub const ACCOUNT_LINK_PATH: &str = "/channels/messenger/account-link";

/// The webhook routes, for merging into the gateway's router.
pub fn routes(messenger: Messenger) -> Router {
    Router::new()
        .route(PATH, get(subscribe).post(deliver))
        .route(ACCOUNT_LINK_PATH, get(account_link))
        .with_state(messenger)
}

async fn account_link(
    State(m): State<Messenger>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    match m
        .account_link_redirect(
            q.get("state").map(String::as_str),
            q.get("redirect_uri").map(String::as_str),
        )
        .await
    {
        Ok(location) => (
            StatusCode::SEE_OTHER,
            [
                (header::LOCATION, location),
                (header::CACHE_CONTROL, "no-store".to_owned()),
                (header::REFERRER_POLICY, "no-referrer".to_owned()),
            ],
        )
            .into_response(),
        Err(AccountLinkError::Disabled) => error(StatusCode::NOT_FOUND, "account_linking_off"),
        Err(AccountLinkError::BadRedirect) => error(StatusCode::BAD_REQUEST, "redirect_uri"),
    }
}

async fn subscribe(
    State(m): State<Messenger>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    match m.verify_subscription(
        q.get("hub.mode").map(String::as_str),
        q.get("hub.verify_token").map(String::as_str),
        q.get("hub.challenge").map(String::as_str),
    ) {
        Some(challenge) => (
            StatusCode::OK,
            [
                (header::CONTENT_TYPE, "text/plain; charset=utf-8"),
                (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
            ],
            challenge,
        )
            .into_response(),
        None => error(StatusCode::FORBIDDEN, "verify_token"),
    }
}

async fn deliver(State(m): State<Messenger>, headers: HeaderMap, body: Bytes) -> Response {
    let sig = headers.get("x-hub-signature-256").map(|v| v.as_bytes());
    match m.receive(sig, &body).await {
        Ok(a) => (
            StatusCode::OK,
            axum::Json(serde_json::json!({"status": "EVENT_RECEIVED", "events": a.events, "replayed": a.replayed})),
        )
            .into_response(),
        Err(e) => {
            let (status, code) = match &e {
                WebhookError::Signature(SignatureError::Missing) => {
                    (StatusCode::UNAUTHORIZED, "signature_missing")
                }
                WebhookError::Signature(_) => (StatusCode::FORBIDDEN, "signature_invalid"),
                WebhookError::Parse(_) => (StatusCode::BAD_REQUEST, "bad_payload"),
                WebhookError::Replayed => (StatusCode::CONFLICT, "replayed"),
                WebhookError::Unavailable => (StatusCode::SERVICE_UNAVAILABLE, "unavailable"),
            };
            tracing::info!(code, "messenger delivery refused");
            error(status, code)
        }
    }
}

fn error(status: StatusCode, code: &'static str) -> Response {
    (status, axum::Json(serde_json::json!({ "error": code }))).into_response()
}
