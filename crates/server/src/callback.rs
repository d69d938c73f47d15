//! Where the bank sends the customer back after strong authentication (OAuth 2.0 redirect).

use axum::extract::{Query, State};
use axum::response::Html;
use okienko_core::Lang;
use okienko_dialog::CallbackOutcome;
use serde::Deserialize;

use crate::AppState;

#[derive(Debug, Deserialize)]
pub struct CallbackQuery {
    state: Option<String>,
    code: Option<String>,
    error: Option<String>,
}

pub async fn consent_callback(
    State(app): State<AppState>,
    Query(q): Query<CallbackQuery>,
) -> (axum::http::StatusCode, Html<String>) {
    use axum::http::StatusCode;
    let outcome = match q.state.as_deref() {
        Some(state) if !state.is_empty() && state.len() <= 256 => {
            app.engine
                .consent_callback(state, q.code.as_deref(), q.error.as_deref())
                .await
        }
        _ => CallbackOutcome::Failed,
    };
    let (status, lang, title, body) = match outcome {
        CallbackOutcome::Linked { lang } => (
            StatusCode::OK,
            lang,
            pick(lang, "Bank połączony", "Bank connected"),
            pick(
                lang,
                "Gotowe. Wróć do czatu — Twoje konta już tam są.",
                "All set. Go back to the chat — your accounts are there.",
            ),
        ),
        CallbackOutcome::Rejected { lang } => (
            StatusCode::OK,
            lang,
            pick(lang, "Nie połączono", "Not connected"),
            pick(
                lang,
                "Nie udzieliłeś dostępu. Niczego nie pobrano. Wróć do czatu.",
                "You didn't grant access. Nothing was fetched. Go back to the chat.",
            ),
        ),
        CallbackOutcome::Failed => (
            StatusCode::BAD_REQUEST,
            Lang::Pl,
            "Nie udało się połączyć banku / The bank could not be connected",
            "Link wygasł albo został już użyty. Wróć do czatu i spróbuj ponownie. / The link expired or was already used. Go back to the chat and try again.",
        ),
    };
    let html = format!(
        "<!doctype html><html lang=\"{lang}\"><head><meta charset=\"utf-8\">\
<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><title>{title}</title>\
<style>body{{font-family:system-ui,sans-serif;max-width:32rem;margin:4rem auto;padding:0 1rem;color:#1c2733}}\
a{{display:inline-block;margin-top:1rem;padding:.6rem 1rem;background:#0b5cad;color:#fff;border-radius:.5rem;text-decoration:none}}</style>\
</head><body><h1 id=\"callback-title\">{title}</h1><p>{body}</p><a href=\"/\">{back}</a></body></html>",
        lang = lang.code(),
        back = pick(lang, "Wróć do czatu", "Back to the chat"),
    );
    (status, Html(html))
}

fn pick(lang: Lang, pl: &'static str, en: &'static str) -> &'static str {
    match lang {
        Lang::Pl => pl,
        Lang::En => en,
    }
}
