//! The OAuth SCA approach: RFC 8414 metadata, the authorization page (bank login plus consent
//! screen, one GET to show, one form POST to decide), and the token endpoint with PKCE S256,
//! single-use codes and refresh tokens. Tokens are stored only as SHA-256 hashes.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use okienko_core::{ConsentStatus, Lang};
use serde_json::json;

use crate::consent::{Approach, ScaStatus};
use crate::html::{consent_summary, esc, hidden, page, t};
use crate::http::{base_url, json_response, lang, parse_pairs};
use crate::state::{AuthCode, Inner, Token, hash, pkce_s256, secret};

const TOKEN_TTL: Duration = Duration::from_secs(3600);
/// Authorization codes are short-lived (RFC 6749 §4.1.2 recommends at most 10 minutes).
const CODE_TTL: Duration = Duration::from_secs(600);

pub fn routes() -> Router<Arc<Inner>> {
    Router::new()
        .route("/.well-known/oauth-authorization-server", get(metadata))
        .route(
            "/oauth/authorize",
            get(authorize_page).post(authorize_decide),
        )
        .route("/oauth/token", post(token))
}

async fn metadata(headers: HeaderMap) -> Response {
    let base = base_url(&headers);
    json_response(
        StatusCode::OK,
        &json!({
            "issuer": base,
            "authorization_endpoint": format!("{base}/oauth/authorize"),
            "token_endpoint": format!("{base}/oauth/token"),
            "response_types_supported": ["code"],
            "grant_types_supported": ["authorization_code", "refresh_token"],
            "code_challenge_methods_supported": ["S256"],
            "token_endpoint_auth_methods_supported": ["none"],
        }),
    )
}

/// The validated authorization request.
struct AuthzRequest {
    client_id: String,
    redirect_uri: url::Url,
    state: Option<String>,
    challenge: String,
    consent_id: String,
}

const PARAMS: &[&str] = &[
    "response_type",
    "client_id",
    "redirect_uri",
    "state",
    "code_challenge",
    "code_challenge_method",
    "scope",
    "lang",
];

fn validate(inner: &Inner, p: &HashMap<String, String>) -> Result<AuthzRequest, &'static str> {
    let get = |k: &str| p.get(k).map(String::as_str).unwrap_or("");
    if get("response_type") != "code" {
        return Err("response_type must be code");
    }
    if get("client_id").is_empty() || get("client_id").len() > 200 {
        return Err("client_id is required");
    }
    let redirect_uri = url::Url::parse(get("redirect_uri"))
        .ok()
        .filter(|u| matches!(u.scheme(), "http" | "https"))
        .ok_or("redirect_uri must be an absolute http(s) URL")?;
    let challenge = get("code_challenge");
    if !(43..=128).contains(&challenge.len()) {
        return Err("code_challenge is required (PKCE)");
    }
    if get("code_challenge_method") != "S256" {
        return Err("code_challenge_method must be S256");
    }
    let consent_id = get("scope")
        .strip_prefix("AIS:")
        .ok_or("scope must be AIS:{consentId}")?;
    let mut st = inner.state();
    let today = st.today;
    let c = st.consents.get_mut(consent_id).ok_or("unknown consent")?;
    if c.approach != Approach::OAuth || c.refresh_status(today) != ConsentStatus::Received {
        return Err("the consent is not awaiting OAuth authorisation");
    }
    Ok(AuthzRequest {
        client_id: get("client_id").to_owned(),
        redirect_uri,
        state: p.get("state").cloned(),
        challenge: challenge.to_owned(),
        consent_id: consent_id.to_owned(),
    })
}

fn error_page(lang: Lang, msg: &str) -> Response {
    let body = format!("<p class=\"err\">{}</p>", esc(msg));
    (StatusCode::BAD_REQUEST, Html(page(lang, "Error", &body))).into_response()
}

fn form_page(
    inner: &Inner,
    p: &HashMap<String, String>,
    lang: Lang,
    req: &AuthzRequest,
    error: Option<&str>,
) -> Response {
    let summary = {
        let st = inner.state();
        match st.consents.get(&req.consent_id) {
            Some(c) => consent_summary(lang, c, None),
            None => String::new(),
        }
    };
    let hidden_fields: String = PARAMS
        .iter()
        .filter(|k| **k != "lang")
        .filter_map(|k| p.get(*k).map(|v| hidden(k, v)))
        .collect::<String>()
        + &hidden("lang", lang.code());
    let err = error
        .map(|e| format!("<p class=\"err\">{}</p>", esc(e)))
        .unwrap_or_default();
    let who = esc(&req.client_id);
    let intro = if lang == Lang::Pl {
        format!("<p>Aplikacja <b>{who}</b> prosi o dostęp do informacji o Twoich rachunkach.</p>")
    } else {
        format!("<p>The application <b>{who}</b> asks for access to your account information.</p>")
    };
    let body = format!(
        "<h2>{}</h2>{intro}{summary}{err}<form method=\"post\" action=\"/oauth/authorize\">{hidden_fields}\
<label>{} <input name=\"psu_id\" autocomplete=\"username\" value=\"{}\"></label>\
<label>{} <input name=\"password\" type=\"password\" autocomplete=\"current-password\"></label>\
<button name=\"decision\" value=\"approve\">{}</button>\
<button name=\"decision\" value=\"reject\">{}</button></form>",
        t(lang, "consent_title"),
        t(lang, "psu_id"),
        esc(p.get("psu_id").map(String::as_str).unwrap_or("")),
        t(lang, "password"),
        t(lang, "approve"),
        t(lang, "reject"),
    );
    Html(page(lang, t(lang, "consent_title"), &body)).into_response()
}

async fn authorize_page(
    State(inner): State<Arc<Inner>>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Response {
    let p = parse_pairs(raw.unwrap_or_default().as_bytes());
    let lang = lang(&p, &headers);
    match validate(&inner, &p) {
        Ok(req) => form_page(&inner, &p, lang, &req, None),
        Err(e) => error_page(lang, e),
    }
}

fn redirect(mut to: url::Url, pairs: &[(&str, &str)], state: Option<&str>) -> Response {
    {
        let mut q = to.query_pairs_mut();
        for (k, v) in pairs {
            q.append_pair(k, v);
        }
        if let Some(s) = state {
            q.append_pair("state", s);
        }
    }
    let mut resp = StatusCode::FOUND.into_response();
    if let Ok(v) = HeaderValue::from_str(to.as_str()) {
        resp.headers_mut().insert(header::LOCATION, v);
    }
    resp
}

async fn authorize_decide(
    State(inner): State<Arc<Inner>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let p = parse_pairs(&body);
    let lang = lang(&p, &headers);
    let req = match validate(&inner, &p) {
        Ok(r) => r,
        Err(e) => return error_page(lang, e),
    };
    let psu_id = p.get("psu_id").map(String::as_str).unwrap_or("").trim();
    let password = p.get("password").map(String::as_str).unwrap_or("");
    if !inner.login(psu_id, password) {
        return form_page(&inner, &p, lang, &req, Some(t(lang, "bad_login")));
    }
    let decision = p.get("decision").map(String::as_str).unwrap_or("");
    if decision == "reject" {
        let mut st = inner.state();
        if let Some(c) = st.consents.get_mut(&req.consent_id) {
            c.status = ConsentStatus::Rejected;
            c.set_sca(ScaStatus::Failed);
        }
        drop(st);
        tracing::info!(consent = %req.consent_id, "consent rejected by PSU");
        return redirect(
            req.redirect_uri,
            &[("error", "access_denied")],
            req.state.as_deref(),
        );
    }
    if decision != "approve" {
        return form_page(&inner, &p, lang, &req, None);
    }
    let Some(customer) = inner.books.customer_by_psu(psu_id) else {
        return form_page(&inner, &p, lang, &req, Some(t(lang, "bad_login")));
    };
    let code = secret();
    {
        let mut st = inner.state();
        let Some(c) = st.consents.get_mut(&req.consent_id) else {
            return error_page(lang, "unknown consent");
        };
        let grants = match c.resolve_grants(&customer) {
            Ok(g) => g,
            Err(key) => {
                drop(st);
                return form_page(&inner, &p, lang, &req, Some(t(lang, key)));
            }
        };
        c.grants = grants;
        c.psu_id = Some(psu_id.to_owned());
        c.status = ConsentStatus::Valid;
        c.set_sca(ScaStatus::Finalised);
        st.codes.insert(
            hash(&code),
            AuthCode {
                consent_id: req.consent_id.clone(),
                client_id: req.client_id.clone(),
                redirect_uri: req.redirect_uri.to_string(),
                challenge: req.challenge.clone(),
                used: false,
                issued: Instant::now(),
            },
        );
    }
    tracing::info!(consent = %req.consent_id, "consent authorised via OAuth");
    redirect(req.redirect_uri, &[("code", &code)], req.state.as_deref())
}

fn oauth_error(code: &str) -> Response {
    json_response(StatusCode::BAD_REQUEST, &json!({ "error": code }))
}

fn issue(
    st: &mut crate::state::State,
    consent_id: &str,
    refresh: Option<String>,
) -> serde_json::Value {
    let access = secret();
    st.tokens.insert(
        hash(&access),
        Token {
            consent_id: consent_id.to_owned(),
            expires: Instant::now() + TOKEN_TTL,
        },
    );
    let refresh = refresh.unwrap_or_else(|| {
        let r = secret();
        st.refresh_tokens.insert(hash(&r), consent_id.to_owned());
        r
    });
    json!({
        "access_token": access,
        "token_type": "Bearer",
        "expires_in": TOKEN_TTL.as_secs(),
        "refresh_token": refresh,
        "scope": format!("AIS:{consent_id}"),
    })
}

async fn token(State(inner): State<Arc<Inner>>, body: Bytes) -> Response {
    let p = parse_pairs(&body);
    let get = |k: &str| p.get(k).map(String::as_str).unwrap_or("");
    let mut st = inner.state();
    let today = st.today;
    let body = match get("grant_type") {
        "authorization_code" => {
            let key = hash(get("code"));
            let Some(code) = st.codes.get(&key).cloned() else {
                return oauth_error("invalid_grant");
            };
            if code.used
                || code.issued.elapsed() > CODE_TTL
                || code.redirect_uri != get("redirect_uri")
                    && url::Url::parse(get("redirect_uri"))
                        .map(|u| u.to_string())
                        .ok()
                        != Some(code.redirect_uri.clone())
                || code.client_id != get("client_id")
                || pkce_s256(get("code_verifier")) != code.challenge
            {
                return oauth_error("invalid_grant");
            }
            if let Some(c) = st.codes.get_mut(&key) {
                c.used = true;
            }
            issue(&mut st, &code.consent_id, None)
        }
        "refresh_token" => {
            let rt = get("refresh_token").to_owned();
            let Some(consent_id) = st.refresh_tokens.get(&hash(&rt)).cloned() else {
                return oauth_error("invalid_grant");
            };
            let valid = st
                .consents
                .get_mut(&consent_id)
                .is_some_and(|c| c.refresh_status(today) == ConsentStatus::Valid);
            if !valid {
                return oauth_error("invalid_grant");
            }
            issue(&mut st, &consent_id, Some(rt))
        }
        "" => return oauth_error("invalid_request"),
        _ => return oauth_error("unsupported_grant_type"),
    };
    drop(st);
    let mut resp = json_response(StatusCode::OK, &body);
    resp.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    resp
}
