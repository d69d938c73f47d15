//! HTTP plumbing shared by every route: the X-Request-ID rule (required as a UUID on `/v1/`,
//! echoed on every response), absolute base URLs from the Host header, query/form parsing that
//! turns any defect into a FORMAT_ERROR instead of a framework rejection, and language choice.

use std::collections::HashMap;

use axum::body::Body;
use axum::extract::Request;
use axum::http::{HeaderMap, HeaderValue};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use okienko_core::Lang;

use crate::error::ApiError;

pub const X_REQUEST_ID: &str = "x-request-id";

/// Requires a UUID X-Request-ID on `/v1/` and echoes the header on every response.
pub async fn request_id(req: Request<Body>, next: Next) -> Response {
    let rid = req.headers().get(X_REQUEST_ID).cloned();
    let on_v1 = req.uri().path().starts_with("/v1/");
    let valid = rid
        .as_ref()
        .and_then(|v| v.to_str().ok())
        .is_some_and(|s| uuid::Uuid::parse_str(s.trim()).is_ok());
    let mut resp = if on_v1 && !valid {
        ApiError::Format("X-Request-ID header must be a UUID").into_response()
    } else {
        next.run(req).await
    };
    if let Some(v) = rid {
        resp.headers_mut().insert(X_REQUEST_ID, v);
    }
    resp
}

pub async fn not_found() -> Response {
    ApiError::ResourceUnknown("no such resource").into_response()
}

/// `http://{host}` from the Host header; anything odd falls back to `localhost`.
pub fn base_url(headers: &HeaderMap) -> String {
    let host = headers
        .get(axum::http::header::HOST)
        .and_then(|h| h.to_str().ok())
        .filter(|h| {
            !h.is_empty()
                && h.len() <= 255
                && h.chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | ':' | '-' | '[' | ']'))
        })
        .unwrap_or("localhost");
    format!("http://{host}")
}

pub fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|s| !s.is_empty())
}

pub fn header_true(headers: &HeaderMap, name: &str) -> bool {
    header(headers, name).is_some_and(|v| v.eq_ignore_ascii_case("true"))
}

/// Parses `a=b&c=d` (query or form body); a repeated key keeps its first value.
pub fn parse_pairs(raw: &[u8]) -> HashMap<String, String> {
    let mut out = HashMap::new();
    for (k, v) in url::form_urlencoded::parse(raw) {
        out.entry(k.into_owned()).or_insert_with(|| v.into_owned());
    }
    out
}

/// The page language: `lang` parameter, else Accept-Language, else Polish.
pub fn lang(params: &HashMap<String, String>, headers: &HeaderMap) -> Lang {
    if let Some(l) = params.get("lang").and_then(|l| l.parse().ok()) {
        return l;
    }
    header(headers, "accept-language")
        .and_then(|al| al.split(',').next())
        .and_then(|first| first.split(';').next())
        .and_then(|tag| tag.trim().split('-').next())
        .and_then(|p| p.parse().ok())
        .unwrap_or(Lang::Pl)
}

pub fn json_response(status: axum::http::StatusCode, body: &serde_json::Value) -> Response {
    let bytes = serde_json::to_vec(body).unwrap_or_default();
    let mut resp = (status, bytes).into_response();
    resp.headers_mut().insert(
        axum::http::header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    resp
}
