//! `POST /admin/warnings`: a bank analyst publishes a scam-campaign warning to every opted-in
//! customer of a bank. Bearer token from the configuration, compared in constant time; with no
//! token configured the route does not exist (404). The body is validated before anything is
//! sent, and every customer gets a given warning id once (the ledger lives behind the privacy
//! crate), so a repeated POST or a restart resends nothing.

use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use okienko_dialog::fraud::{Notice, NoticeError, NoticePublisher};
use serde::Deserialize;
use serde_json::json;
use subtle::ConstantTimeEq;

/// Largest accepted body: two 2000-character texts with room to spare.
const MAX_BODY: usize = 32 * 1024;

#[derive(Clone)]
struct Admin {
    token: Arc<str>,
    publisher: Arc<dyn NoticePublisher>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Body {
    id: String,
    text_pl: String,
    text_en: String,
    bank: String,
}

/// The admin routes; empty (so every admin path is a 404) when `token` is `None` or blank.
pub fn routes(token: Option<String>, publisher: Arc<dyn NoticePublisher>) -> Router {
    let Some(token) = token.filter(|t| !t.trim().is_empty()) else {
        return Router::new();
    };
    Router::new()
        .route("/admin/warnings", post(warnings))
        .layer(DefaultBodyLimit::max(MAX_BODY))
        .with_state(Admin {
            token: Arc::from(token.trim()),
            publisher,
        })
}

fn error(status: StatusCode, code: &str, message: &str) -> Response {
    (
        status,
        axum::Json(json!({ "error": code, "message": message })),
    )
        .into_response()
}

fn authorized(headers: &HeaderMap, token: &str) -> bool {
    let given = headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or("")
        .trim();
    bool::from(given.as_bytes().ct_eq(token.as_bytes()))
}

async fn warnings(State(admin): State<Admin>, headers: HeaderMap, body: Bytes) -> Response {
    if !authorized(&headers, &admin.token) {
        return error(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "a valid bearer token is required",
        );
    }
    let body: Body = match serde_json::from_slice(&body) {
        Ok(b) => b,
        Err(_) => {
            return error(
                StatusCode::BAD_REQUEST,
                "bad_body",
                "the body must be JSON with exactly: id, text_pl, text_en, bank (strings)",
            );
        }
    };
    let notice = Notice {
        id: body.id,
        text_pl: body.text_pl,
        text_en: body.text_en,
        bank: body.bank,
    };
    match admin.publisher.publish(notice).await {
        Ok(r) => (
            StatusCode::OK,
            axum::Json(json!({
                "delivered": r.delivered,
                "already_delivered": r.already_had_it,
                "held_for_quiet_hours": r.held,
                "skipped_all_notices_off": r.skipped_all_off,
            })),
        )
            .into_response(),
        Err(NoticeError::Invalid(field, why)) => error(
            StatusCode::BAD_REQUEST,
            "invalid_field",
            &format!("{field} {why}"),
        ),
        Err(NoticeError::Store) => error(
            StatusCode::SERVICE_UNAVAILABLE,
            "unavailable",
            "the warning could not be recorded; try again",
        ),
    }
}
