//! The sandbox "bank app" for decoupled SCA: the customer logs in at `/app`, sees access requests
//! addressed to them (what is shared, until when, how often) and approves or rejects them, and
//! can revoke active consents (→ `revokedByPsu`). Plain HTML forms, so tests can drive it over
//! HTTP; the session id travels as a hidden form field.

use std::collections::HashMap;
use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::HeaderMap;
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use okienko_core::{ConsentStatus, Lang};

use crate::consent::{Approach, ScaStatus};
use crate::html::{consent_summary, esc, hidden, page, t};
use crate::http::{lang, parse_pairs};
use crate::state::{Inner, secret};

pub fn routes() -> Router<Arc<Inner>> {
    Router::new()
        .route("/app", get(app_get))
        .route("/app/login", post(app_login))
        .route("/app/decide", post(app_decide))
}

fn login_page(lang: Lang, error: Option<&str>) -> Response {
    let err = error
        .map(|e| format!("<p class=\"err\">{}</p>", esc(e)))
        .unwrap_or_default();
    let body = format!(
        "<h2>{}</h2>{err}<form method=\"post\" action=\"/app/login\">{}\
<label>{} <input name=\"psu_id\" autocomplete=\"username\"></label>\
<label>{} <input name=\"password\" type=\"password\"></label>\
<button>{}</button></form>",
        t(lang, "app_title"),
        hidden("lang", lang.code()),
        t(lang, "psu_id"),
        t(lang, "password"),
        t(lang, "login_btn"),
    );
    Html(page(lang, t(lang, "app_title"), &body)).into_response()
}

fn session_psu(inner: &Inner, p: &HashMap<String, String>) -> Option<(String, String)> {
    let s = p.get("session")?;
    let st = inner.state();
    st.sessions.get(s).map(|psu| (s.clone(), psu.clone()))
}

fn dashboard(
    inner: &Inner,
    lang: Lang,
    session: &str,
    psu: &str,
    notice: Option<&str>,
) -> Response {
    let customer = inner.books.customer_by_psu(psu);
    let mut st = inner.state();
    let today = st.today;
    let mut pending = String::new();
    let mut active = String::new();
    let mut ids: Vec<String> = st.consents.keys().cloned().collect();
    ids.sort();
    for id in ids {
        let Some(c) = st.consents.get_mut(&id) else {
            continue;
        };
        let status = c.refresh_status(today);
        let button = |decision: &str, label: &str| {
            format!(
                "<form method=\"post\" action=\"/app/decide\" style=\"display:inline\">{}{}{}{}\
<button name=\"decision\" value=\"{decision}\">{label}</button></form>",
                hidden("session", session),
                hidden("consent_id", &c.id),
                hidden("lang", lang.code()),
                ""
            )
        };
        let awaiting = c.approach == Approach::Decoupled
            && status == ConsentStatus::Received
            && c.psu_hint.as_deref() == Some(psu)
            && c.authorisations
                .iter()
                .any(|(_, s)| *s == ScaStatus::Started);
        if awaiting {
            let (grants, err) = match customer.as_ref().map(|cu| c.resolve_grants(cu)) {
                Some(Ok(g)) => (Some(g), None),
                Some(Err(k)) => (None, Some(t(lang, k))),
                None => (None, None),
            };
            pending.push_str(&format!(
                "<div class=\"box\" data-consent=\"{}\">{}{}{}{}</div>",
                esc(&c.id),
                consent_summary(lang, c, grants.as_deref()),
                err.map(|e| format!("<p class=\"err\">{}</p>", esc(e)))
                    .unwrap_or_default(),
                button("approve", t(lang, "approve")),
                button("reject", t(lang, "reject")),
            ));
        } else if status == ConsentStatus::Valid && c.psu_id.as_deref() == Some(psu) {
            active.push_str(&format!(
                "<div class=\"box\" data-consent=\"{}\">{}{}</div>",
                esc(&c.id),
                consent_summary(lang, c, Some(&c.grants)),
                button("revoke", t(lang, "revoke")),
            ));
        }
    }
    drop(st);
    let payments = crate::api::payments::app_section(inner, lang, session, psu);
    let none = format!("<p>{}</p>", t(lang, "none"));
    let body = format!(
        "<h2>{}</h2><p>{}</p>{}{}{payments}<h3>{}</h3>{}<h3>{}</h3>{}",
        t(lang, "app_title"),
        esc(customer
            .as_ref()
            .map(|c| c.profile.name.as_str())
            .unwrap_or("")),
        hidden("session", session),
        notice
            .map(|n| format!("<p>{}</p>", esc(n)))
            .unwrap_or_default(),
        t(lang, "pending_title"),
        if pending.is_empty() { &none } else { &pending },
        t(lang, "active_title"),
        if active.is_empty() { &none } else { &active },
    );
    Html(page(lang, t(lang, "app_title"), &body)).into_response()
}

async fn app_get(
    State(inner): State<Arc<Inner>>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Response {
    let p = parse_pairs(raw.unwrap_or_default().as_bytes());
    let lang = lang(&p, &headers);
    match session_psu(&inner, &p) {
        Some((s, psu)) => dashboard(&inner, lang, &s, &psu, None),
        None => login_page(lang, None),
    }
}

async fn app_login(State(inner): State<Arc<Inner>>, headers: HeaderMap, body: Bytes) -> Response {
    let p = parse_pairs(&body);
    let lang = lang(&p, &headers);
    let psu = p.get("psu_id").map(|s| s.trim()).unwrap_or("");
    let password = p.get("password").map(String::as_str).unwrap_or("");
    if !inner.login(psu, password) {
        return login_page(lang, Some(t(lang, "bad_login")));
    }
    let session = secret();
    inner
        .state()
        .sessions
        .insert(session.clone(), psu.to_owned());
    dashboard(&inner, lang, &session, psu, None)
}

async fn app_decide(State(inner): State<Arc<Inner>>, headers: HeaderMap, body: Bytes) -> Response {
    let p = parse_pairs(&body);
    let lang = lang(&p, &headers);
    let Some((session, psu)) = session_psu(&inner, &p) else {
        return login_page(lang, None);
    };
    let consent_id = p.get("consent_id").cloned().unwrap_or_default();
    let decision = p.get("decision").map(String::as_str).unwrap_or("");
    let customer = inner.books.customer_by_psu(&psu);
    let mut notice: Option<&str> = None;
    if let Some(pid) = p.get("payment_id") {
        if crate::api::payments::app_decide(&inner, &psu, pid, decision) {
            notice = Some(t(lang, "done"));
        }
        return dashboard(&inner, lang, &session, &psu, notice);
    }
    {
        let mut st = inner.state();
        let today = st.today;
        if let Some(c) = st.consents.get_mut(&consent_id) {
            let status = c.refresh_status(today);
            let mine_pending = c.approach == Approach::Decoupled
                && status == ConsentStatus::Received
                && c.psu_hint.as_deref() == Some(psu.as_str());
            match decision {
                "approve" if mine_pending => {
                    match customer.as_ref().map(|cu| c.resolve_grants(cu)) {
                        Some(Ok(g)) => {
                            c.grants = g;
                            c.psu_id = Some(psu.clone());
                            c.status = ConsentStatus::Valid;
                            c.set_sca(ScaStatus::Finalised);
                            notice = Some(t(lang, "done"));
                            tracing::info!(consent = %c.id, "consent authorised in bank app");
                        }
                        Some(Err(k)) => notice = Some(t(lang, k)),
                        None => {}
                    }
                }
                "reject" if mine_pending => {
                    c.status = ConsentStatus::Rejected;
                    c.set_sca(ScaStatus::Failed);
                    notice = Some(t(lang, "done"));
                }
                "revoke"
                    if status == ConsentStatus::Valid
                        && c.psu_id.as_deref() == Some(psu.as_str()) =>
                {
                    c.status = ConsentStatus::RevokedByPsu;
                    notice = Some(t(lang, "done"));
                    tracing::info!(consent = %c.id, "consent revoked by PSU");
                }
                _ => {}
            }
        }
    }
    dashboard(&inner, lang, &session, &psu, notice)
}
