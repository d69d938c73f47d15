//! The agent console at `/agent`: a page for bank staff, its embedded assets, sign-in with a
//! session cookie (HttpOnly, SameSite=Strict, Secure behind https; a random token of which only the hash is stored),
//! and one WebSocket per open console carrying the queue, the conversations and the replies.
//!
//! Routes stay thin: every decision (who may claim, see, reply) is the support desk's, in the
//! privacy crate. Nothing here logs message text, passwords or tokens.

mod assets;
mod socket;
mod view;

use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::extract::ws::WebSocketUpgrade;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use okienko_privacy::support::{Staff, SupportError};
use serde::Deserialize;

use crate::handover::Handover;

/// The session cookie's name.
pub const COOKIE: &str = "okienko_agent";

#[derive(Clone)]
pub(crate) struct ConsoleState {
    pub(crate) handover: Arc<Handover>,
}

/// `/agent` (page), `/agent/assets/*`, `/agent/login`, `/agent/logout`, `/agent/me`, `/agent/ws`.
pub fn router(handover: Arc<Handover>) -> Router {
    Router::new()
        .route("/agent", get(assets::index))
        .route("/agent/", get(assets::index))
        .route("/agent/assets/{*path}", get(assets::asset))
        .route("/agent/login", post(login))
        .route("/agent/logout", post(logout))
        .route("/agent/me", get(me))
        .route("/agent/ws", get(upgrade))
        .with_state(ConsoleState { handover })
}

fn token_from(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == COOKIE)
        .map(|(_, v)| v.to_owned())
}

/// The signed-in staff member, from the session cookie.
pub(crate) async fn staff_of(state: &ConsoleState, headers: &HeaderMap) -> Option<Staff> {
    let token = token_from(headers)?;
    match state.handover.desk().session(&token).await {
        Ok(s) => s,
        Err(e) => {
            tracing::warn!(error = %e, "console session lookup failed");
            None
        }
    }
}

fn json(status: StatusCode, v: serde_json::Value) -> Response {
    (status, axum::Json(v)).into_response()
}

fn error(status: StatusCode, code: &str) -> Response {
    json(status, serde_json::json!({ "error": code }))
}

#[derive(Deserialize)]
struct Login {
    username: String,
    password: String,
}

async fn login(State(state): State<ConsoleState>, body: axum::body::Bytes) -> Response {
    let Ok(form) = serde_json::from_slice::<Login>(&body) else {
        return error(StatusCode::BAD_REQUEST, "bad_request");
    };
    match state
        .handover
        .desk()
        .sign_in(&form.username, &form.password)
        .await
    {
        Ok((staff, token)) => {
            let cookie = format!(
                "{COOKIE}={token}; HttpOnly; SameSite=Strict; Path=/agent; Max-Age={}{}",
                okienko_privacy::support::SESSION_TTL.num_seconds(),
                secure(&state)
            );
            let mut r = json(StatusCode::OK, serde_json::json!({ "staff": staff }));
            if let Ok(v) = HeaderValue::from_str(&cookie) {
                r.headers_mut().insert(header::SET_COOKIE, v);
            }
            r
        }
        Err(SupportError::BadCredentials) => error(StatusCode::UNAUTHORIZED, "bad_credentials"),
        Err(e) => {
            tracing::error!(error = %e, "console sign-in failed");
            error(StatusCode::INTERNAL_SERVER_ERROR, "internal")
        }
    }
}

async fn logout(State(state): State<ConsoleState>, headers: HeaderMap) -> Response {
    if let Some(token) = token_from(&headers)
        && let Err(e) = state.handover.desk().sign_out(&token).await
    {
        tracing::warn!(error = %e, "console sign-out failed");
    }
    let mut r = StatusCode::NO_CONTENT.into_response();
    let cookie = format!(
        "{COOKIE}=; HttpOnly; SameSite=Strict; Path=/agent; Max-Age=0{}",
        secure(&state)
    );
    if let Ok(v) = HeaderValue::from_str(&cookie) {
        r.headers_mut().insert(header::SET_COOKIE, v);
    }
    r
}

/// `; Secure` when the gateway is served over https (its public URL says so): the browser then
/// never sends the session over plain http. Off for the http demo, where it would never be sent.
fn secure(state: &ConsoleState) -> &'static str {
    if state.handover.config().secure_cookie {
        "; Secure"
    } else {
        ""
    }
}

async fn me(State(state): State<ConsoleState>, headers: HeaderMap) -> Response {
    match staff_of(&state, &headers).await {
        Some(staff) => json(StatusCode::OK, serde_json::json!({ "staff": staff })),
        None => error(StatusCode::UNAUTHORIZED, "signed_out"),
    }
}

/// The socket needs a session, and (against cross-site WebSocket hijacking) a same-origin page.
async fn upgrade(
    State(state): State<ConsoleState>,
    headers: HeaderMap,
    ws: WebSocketUpgrade,
) -> Response {
    if let (Some(origin), Some(host)) = (
        headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()),
        headers.get(header::HOST).and_then(|v| v.to_str().ok()),
    ) {
        let origin_host = origin.split_once("://").map(|(_, h)| h).unwrap_or(origin);
        if origin_host != host {
            return error(StatusCode::FORBIDDEN, "cross_origin");
        }
    }
    let Some(staff) = staff_of(&state, &headers).await else {
        return error(StatusCode::UNAUTHORIZED, "signed_out");
    };
    ws.max_message_size(16 * 1024)
        .on_upgrade(move |socket| socket::serve(socket, state, staff))
}
