//! The vault's HTTP surface. `/v1/*` is for the gateway only and every request there must carry
//! a valid HMAC signature ([`crate::auth`]). `/cards/new` is the hosted card page customers open
//! from the chat: the only place a card number is typed, so it never passes the gateway or a
//! chat platform. Pages are in Polish and English, are never cached, send no referrer (the
//! session id is in the URL) and never echo a typed card number back.

use std::collections::HashMap;
use std::sync::Arc;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{DefaultBodyLimit, Path, Query, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{delete, get, post};
use serde::Deserialize;

use crate::error::VaultError;
use crate::service::{ChargeRequest, CryptogramRequest, Vault};

/// Largest request body the vault reads.
const MAX_BODY: usize = 16 * 1024;

pub struct AppState {
    pub vault: Vault,
    pub api_secret: zeroize::Zeroizing<Vec<u8>>,
}

pub fn router(state: Arc<AppState>) -> Router {
    let api = Router::new()
        .route("/v1/sessions", post(new_session))
        .route("/v1/owners/{owner}/tokens", get(tokens))
        .route("/v1/owners/{owner}", delete(forget))
        .route("/v1/cryptograms", post(cryptogram))
        .route("/v1/charges", post(charge))
        .route("/v1/charges/{id}", get(charge_status))
        .route_layer(axum::middleware::from_fn_with_state(state.clone(), signed));
    Router::new()
        .merge(api)
        .route("/cards/new", get(card_page).post(card_submit))
        .route("/healthz", get(|| async { "ok" }))
        .layer(DefaultBodyLimit::max(MAX_BODY))
        .with_state(state)
}

/// Rejects any `/v1/` request without a fresh, valid signature over its exact bytes.
async fn signed(State(st): State<Arc<AppState>>, req: Request, next: Next) -> Response {
    let (parts, body) = req.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, MAX_BODY).await else {
        return VaultError::BadRequest("request body too large").into_response();
    };
    let h = |n: &str| parts.headers.get(n).and_then(|v| v.to_str().ok());
    let path = parts
        .uri
        .path_and_query()
        .map(|p| p.as_str())
        .unwrap_or("/");
    let ok = crate::auth::verify(
        &st.api_secret,
        chrono::Utc::now().timestamp(),
        h(crate::auth::TIMESTAMP),
        h(crate::auth::SIGNATURE),
        parts.method.as_str(),
        path,
        &bytes,
    );
    if !ok {
        tracing::warn!("vault request with a bad signature refused");
        return VaultError::Unauthorized.into_response();
    }
    next.run(Request::from_parts(parts, Body::from(bytes)))
        .await
}

fn json<T: serde::de::DeserializeOwned>(b: &Bytes) -> Result<T, VaultError> {
    serde_json::from_slice(b)
        .map_err(|_| VaultError::BadRequest("the body is not the expected JSON"))
}

#[derive(Deserialize)]
struct SessionBody {
    owner: String,
    requestor: String,
    #[serde(default)]
    lang: String,
}

async fn new_session(State(st): State<Arc<AppState>>, body: Bytes) -> Result<Response, VaultError> {
    let b: SessionBody = json(&body)?;
    let path = st
        .vault
        .new_session(&b.owner, &b.requestor, &b.lang)
        .await?;
    Ok(axum::Json(serde_json::json!({ "path": path })).into_response())
}

async fn tokens(
    State(st): State<Arc<AppState>>,
    Path(owner): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Response, VaultError> {
    let requestor = q
        .get("requestor")
        .ok_or(VaultError::BadRequest("requestor is required"))?;
    let t = st.vault.tokens(&owner, requestor).await?;
    Ok(axum::Json(serde_json::json!({ "tokens": t })).into_response())
}

async fn forget(
    State(st): State<Arc<AppState>>,
    Path(owner): Path<String>,
) -> Result<Response, VaultError> {
    st.vault.forget_owner(&owner).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

async fn cryptogram(State(st): State<Arc<AppState>>, body: Bytes) -> Result<Response, VaultError> {
    let r: CryptogramRequest = json(&body)?;
    let c = st.vault.cryptogram(&r).await?;
    Ok(axum::Json(serde_json::json!({ "cryptogram": c })).into_response())
}

async fn charge(
    State(st): State<Arc<AppState>>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, VaultError> {
    let rid = headers
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .ok_or(VaultError::BadRequest("X-Request-ID must be a UUID"))?
        .to_ascii_lowercase();
    let r: ChargeRequest = json(&body)?;
    let res = st.vault.charge(&rid, &r).await?;
    Ok(axum::Json(res).into_response())
}

async fn charge_status(
    State(st): State<Arc<AppState>>,
    Path(id): Path<String>,
) -> Result<Response, VaultError> {
    Ok(axum::Json(st.vault.charge_status(&id).await?).into_response())
}

// ----- the hosted card page --------------------------------------------------------------------

fn esc(s: &str) -> String {
    s.chars()
        .map(|c| match c {
            '<' => "&lt;".to_owned(),
            '>' => "&gt;".to_owned(),
            '&' => "&amp;".to_owned(),
            '"' => "&quot;".to_owned(),
            '\'' => "&#39;".to_owned(),
            c => c.to_string(),
        })
        .collect()
}

fn t(lang: &str, pl: &'static str, en: &'static str) -> &'static str {
    if lang == "en" { en } else { pl }
}

fn page(lang: &str, status: StatusCode, body: &str) -> Response {
    let html = format!(
        "<!doctype html><html lang=\"{}\"><head><meta charset=\"utf-8\">\
<meta name=\"viewport\" content=\"width=device-width,initial-scale=1\"><title>{}</title>\
<style>body{{font-family:sans-serif;max-width:28rem;margin:2rem auto;padding:0 1rem}}\
label{{display:block;margin:.6rem 0}}input{{display:block;width:100%;padding:.4rem;font-size:1.1rem}}\
button{{margin-top:1rem;padding:.5rem 1rem;font-size:1.1rem}}.err{{color:#b00}}</style></head>\
<body><h1>{}</h1>{body}<p><small>{}</small></p></body></html>",
        if lang == "en" { "en" } else { "pl" },
        t(lang, "Dodaj kartę", "Add a card"),
        t(lang, "Dodaj kartę", "Add a card"),
        t(
            lang,
            "Numer karty trafia tylko do sejfu kart banku; czat widzi wyłącznie token.",
            "The card number goes only to the bank's card vault; the chat sees a token only."
        ),
    );
    let mut r = (status, Html(html)).into_response();
    let h = r.headers_mut();
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert("referrer-policy", HeaderValue::from_static("no-referrer"));
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'",
        ),
    );
    h.insert(
        "x-content-type-options",
        HeaderValue::from_static("nosniff"),
    );
    r
}

fn form(lang: &str, session: &str, error: Option<&str>) -> String {
    let err = error
        .map(|e| format!("<p class=\"err\" id=\"error\">{}</p>", esc(e)))
        .unwrap_or_default();
    format!(
        "{err}<form method=\"post\" action=\"/cards/new\">\
<input type=\"hidden\" name=\"session\" value=\"{}\"><input type=\"hidden\" name=\"lang\" value=\"{}\">\
<label>{} <input name=\"card_number\" inputmode=\"numeric\" autocomplete=\"cc-number\" maxlength=\"23\" required></label>\
<label>{} <input name=\"expiry\" placeholder=\"MM/RR\" autocomplete=\"cc-exp\" maxlength=\"7\" required></label>\
<label>CVC <input name=\"cvc\" inputmode=\"numeric\" autocomplete=\"cc-csc\" maxlength=\"3\" required></label>\
<button type=\"submit\">{}</button></form>",
        esc(session),
        if lang == "en" { "en" } else { "pl" },
        t(lang, "Numer karty", "Card number"),
        t(lang, "Ważna do (MM/RR)", "Expires (MM/YY)"),
        t(lang, "Zapisz kartę", "Save the card"),
    )
}

fn ended(lang: &str) -> Response {
    page(
        lang,
        StatusCode::NOT_FOUND,
        &format!(
            "<p class=\"err\">{}</p>",
            t(
                lang,
                "Ten link wygasł albo został już użyty. Poproś w czacie o nowy.",
                "This link has expired or was already used. Ask the chat for a new one."
            )
        ),
    )
}

async fn card_page(
    State(st): State<Arc<AppState>>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let lang = q.get("lang").map(String::as_str).unwrap_or("pl");
    let session = q.get("session").map(String::as_str).unwrap_or("");
    match st.vault.session(session).await {
        Ok(s) => page(&s.lang, StatusCode::OK, &form(&s.lang, session, None)),
        Err(_) => ended(lang),
    }
}

async fn card_submit(State(st): State<Arc<AppState>>, body: Bytes) -> Response {
    let p: HashMap<String, String> = url_pairs(&body);
    let get = |k: &str| p.get(k).map(String::as_str).unwrap_or("");
    let session = get("session");
    let Ok(s) = st.vault.session(session).await else {
        return ended(get("lang"));
    };
    let lang = s.lang.as_str();
    match st
        .vault
        .enrol(session, get("card_number"), get("expiry"), get("cvc"))
        .await
    {
        Ok(tok) => page(
            lang,
            StatusCode::OK,
            &format!(
                "<p id=\"saved\">{} •••• {}</p><p>{}</p>",
                t(lang, "Zapisano kartę", "Card saved:"),
                esc(&tok.last4),
                t(
                    lang,
                    "Możesz wrócić do czatu i zapłacić tą kartą.",
                    "You can go back to the chat and pay with this card."
                )
            ),
        ),
        Err(VaultError::BadRequest(field)) => {
            let msg = match field {
                "card_number" => t(
                    lang,
                    "To nie jest poprawny numer karty.",
                    "That is not a valid card number.",
                ),
                "expiry" => t(
                    lang,
                    "Podaj datę ważności jako MM/RR (karta nie może być przeterminowana).",
                    "Enter the expiry as MM/YY (the card must not have expired).",
                ),
                "cvc" => t(
                    lang,
                    "CVC to trzy cyfry z tyłu karty.",
                    "The CVC is the three digits on the back of the card.",
                ),
                _ => t(
                    lang,
                    "Bank odrzucił tę kartę. Sprawdź dane albo użyj innej karty.",
                    "The bank declined this card. Check the details or use another card.",
                ),
            };
            page(
                lang,
                StatusCode::BAD_REQUEST,
                &form(lang, session, Some(msg)),
            )
        }
        Err(VaultError::NotFound(_)) => ended(lang),
        Err(e) => {
            let status = e.status();
            page(
                lang,
                status,
                &form(
                    lang,
                    session,
                    Some(t(
                        lang,
                        "Nie udało się teraz zapisać karty. Spróbuj ponownie za chwilę.",
                        "The card could not be saved just now. Try again in a moment.",
                    )),
                ),
            )
        }
    }
}

/// `application/x-www-form-urlencoded` pairs.
fn url_pairs(b: &[u8]) -> HashMap<String, String> {
    url::form_urlencoded::parse(b).into_owned().collect()
}
