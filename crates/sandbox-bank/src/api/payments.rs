//! `/v1/payments/{product}`: NextGenPSD2 payment initiation (PIS) on the bank's double-entry
//! ledger, its status, cancellation and SCA authorisations (redirect page at `/pis/authorize`,
//! decoupled approval in the bank app), and the merge of payments into AIS views and balances.
//!
//! Products: `sepa-credit-transfers` (books the next bank day) and
//! `instant-sepa-credit-transfers` (books at once). The spec defines no domestic product, so a
//! PLN transfer uses either path in the debtor account's currency; the instant one stands in
//! for Polish Express Elixir. `X-Request-ID` is the idempotency key: the same id with the same
//! body returns the same payment, with another body 409 STATUS_INVALID.

use std::collections::HashMap;
use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header as h};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use chrono::NaiveDate;
use okienko_core::{Iban, Lang, Money};
use rust_decimal::Decimal;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::consent::ScaStatus;
use crate::data::{Balances, Customer, TxView, money};
use crate::error::ApiError;
use crate::html::{esc, hidden, page, t};
use crate::http::{X_REQUEST_ID, base_url, header, header_true, json_response, lang, parse_pairs};
use crate::ledger::payments::{Payment, Pis, Product, ScaApproach, TxStatus};
use crate::state::Inner;

const PSU_MESSAGE: &str = "Please confirm the payment in your Okienko Bank app. / Potwierdź płatność w aplikacji Okienko Bank.";

pub fn routes() -> Router<Arc<Inner>> {
    Router::new()
        .route("/v1/payments/{product}", axum::routing::post(initiate))
        .route(
            "/v1/payments/{product}/{payment_id}",
            get(get_payment).delete(cancel),
        )
        .route("/v1/payments/{product}/{payment_id}/status", get(status))
        .route(
            "/v1/payments/{product}/{payment_id}/authorisations",
            get(list_authorisations).post(start_authorisation),
        )
        .route(
            "/v1/payments/{product}/{payment_id}/authorisations/{authorisation_id}",
            get(sca_status).put(update_psu_data),
        )
        .route("/pis/authorize", get(redirect_page).post(redirect_decide))
}

fn href(s: String) -> Value {
    json!({ "href": s })
}

fn product(p: &str) -> Result<Product, ApiError> {
    Product::from_path(p).ok_or(ApiError::ProductUnknown)
}

/// A validated initiation body.
struct Initiation {
    debtor: Iban,
    creditor: Iban,
    creditor_name: String,
    amount: Money,
    remittance: String,
}

fn iban_of(o: &serde_json::Map<String, Value>, key: &'static str) -> Result<Iban, ApiError> {
    o.get(key)
        .and_then(Value::as_object)
        .and_then(|a| a.get("iban"))
        .and_then(Value::as_str)
        .and_then(|s| s.parse::<Iban>().ok())
        .ok_or(ApiError::Format(
            "debtorAccount and creditorAccount must carry a valid iban",
        ))
}

fn clean_text(s: &str, max: usize) -> bool {
    s.chars().count() <= max && !s.chars().any(char::is_control)
}

fn parse_initiation(body: &[u8]) -> Result<Initiation, ApiError> {
    let v: Value =
        serde_json::from_slice(body).map_err(|_| ApiError::Format("body is not valid JSON"))?;
    let o = v
        .as_object()
        .ok_or(ApiError::Format("body must be a JSON object"))?;
    let amt = o
        .get("instructedAmount")
        .and_then(Value::as_object)
        .ok_or(ApiError::Format("instructedAmount is required"))?;
    let amount = match (
        amt.get("amount").and_then(Value::as_str),
        amt.get("currency").and_then(Value::as_str),
    ) {
        (Some(a), Some(c)) => Money::parse(a, c).map_err(|_| {
            ApiError::Format("instructedAmount must be a decimal amount and an ISO 4217 currency")
        })?,
        _ => {
            return Err(ApiError::Format(
                "instructedAmount needs amount and currency strings",
            ));
        }
    };
    if amount.amount() <= Decimal::ZERO {
        return Err(ApiError::Format("instructedAmount must be positive"));
    }
    let debtor = iban_of(o, "debtorAccount")?;
    let creditor = iban_of(o, "creditorAccount")?;
    let creditor_name = o
        .get("creditorName")
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|s| !s.is_empty() && clean_text(s, 70))
        .ok_or(ApiError::Format(
            "creditorName is required (at most 70 characters)",
        ))?
        .to_owned();
    let remittance = match o.get("remittanceInformationUnstructured") {
        None | Some(Value::Null) => String::new(),
        Some(Value::String(s)) if clean_text(s, 140) => s.trim().to_owned(),
        Some(_) => {
            return Err(ApiError::Format(
                "remittanceInformationUnstructured must be text of at most 140 characters",
            ));
        }
    };
    if debtor == creditor {
        return Err(ApiError::PaymentFailed(
            "debtor and creditor account are the same",
        ));
    }
    Ok(Initiation {
        debtor,
        creditor,
        creditor_name,
        amount,
        remittance,
    })
}

/// `resourceId` of the sandbox account with this IBAN, if the bank holds it.
fn account_by_iban(inner: &Inner, iban: &Iban) -> Option<String> {
    let mut st = inner.state();
    if st.pis.iban_index.is_none() {
        drop(st);
        let books = &inner.books;
        let mut idx = HashMap::new();
        for i in 1..=books.customers {
            let p = crate::data::profile(books.seed, i, books.start);
            for a in p.accounts {
                idx.insert(a.iban.expose().to_owned(), a.resource_id);
            }
        }
        st = inner.state();
        st.pis.iban_index = Some(idx);
    }
    st.pis
        .iban_index
        .as_ref()
        .and_then(|m| m.get(iban.expose()).cloned())
}

fn links(base: &str, p: &Payment) -> serde_json::Map<String, Value> {
    let url = format!("{base}/v1/payments/{}/{}", p.product.path(), p.id);
    let mut l = serde_json::Map::new();
    l.insert("self".into(), href(url.clone()));
    l.insert("status".into(), href(format!("{url}/status")));
    if let Some((auth, _)) = p.authorisations.last() {
        l.insert(
            "scaStatus".into(),
            href(format!("{url}/authorisations/{auth}")),
        );
        if p.approach == ScaApproach::Redirect && p.awaiting_sca() {
            l.insert(
                "scaRedirect".into(),
                href(format!(
                    "{base}/pis/authorize?paymentId={}&authorisationId={auth}",
                    p.id
                )),
            );
        }
    } else if p.status == TxStatus::Rcvd {
        l.insert(
            "startAuthorisationWithPsuIdentification".into(),
            href(format!("{url}/authorisations")),
        );
    }
    l
}

fn initiation_body(base: &str, p: &Payment) -> Value {
    let mut body = json!({
        "transactionStatus": p.status.wire(),
        "paymentId": p.id,
        "_links": Value::Object(links(base, p)),
    });
    if let Some((_, s)) = p.authorisations.last() {
        body["scaStatus"] = json!(s.wire());
    }
    if p.approach == ScaApproach::Decoupled && p.awaiting_sca() {
        body["psuMessage"] = json!(PSU_MESSAGE);
    }
    if let Some(r) = p.reason {
        body["tppMessages"] = json!([{ "category": "WARNING", "code": "WARNING",
            "text": format!("{r}: {}", reason_text(r)) }]);
    }
    body
}

fn reason_text(r: &str) -> &'static str {
    match r {
        "AM04" => "insufficient funds",
        _ => "the payer did not authorise the payment",
    }
}

fn created(base: &str, p: &Payment) -> Response {
    let mut resp = json_response(StatusCode::CREATED, &initiation_body(base, p));
    let url = format!("{base}/v1/payments/{}/{}", p.product.path(), p.id);
    if let Ok(v) = HeaderValue::from_str(&url) {
        resp.headers_mut().insert(h::LOCATION, v);
    }
    resp.headers_mut().insert(
        "aspsp-sca-approach",
        HeaderValue::from_static(match p.approach {
            ScaApproach::Redirect => "REDIRECT",
            ScaApproach::Decoupled => "DECOUPLED",
        }),
    );
    resp
}

fn fingerprint(product: Product, body: &[u8]) -> String {
    let mut d = Sha256::new();
    d.update(product.path().as_bytes());
    d.update([0]);
    d.update(body);
    d.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

/// A redirect URL the TPP gave: absolute http(s) only.
fn redirect_header(headers: &HeaderMap, name: &str) -> Option<String> {
    header(headers, name)
        .and_then(|u| url::Url::parse(u).ok())
        .filter(|u| matches!(u.scheme(), "http" | "https"))
        .map(|u| u.to_string())
}

pub async fn initiate(
    State(inner): State<Arc<Inner>>,
    Path(product_path): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let product = product(&product_path)?;
    if header(&headers, "psu-ip-address").is_none() {
        return Err(ApiError::Format("PSU-IP-Address header is required"));
    }
    let request_id = header(&headers, X_REQUEST_ID)
        .unwrap_or_default()
        .to_ascii_lowercase();
    let base = base_url(&headers);
    let fp = fingerprint(product, &body);
    // A retry is answered before anything else is looked at, so it can never pay twice.
    {
        let mut st = inner.state();
        let today = st.today;
        st.pis.settle_due(today);
        if let Some(id) = st.pis.by_request.get(&request_id).cloned() {
            let p = st
                .pis
                .payments
                .get(&id)
                .ok_or(ApiError::ServiceUnavailable)?;
            if p.fingerprint != fp {
                return Err(ApiError::StatusInvalid(
                    "X-Request-ID was already used for a different request",
                ));
            }
            return Ok(created(&base, p));
        }
    }
    let req = parse_initiation(&body)?;
    let debtor_key = account_by_iban(&inner, &req.debtor).ok_or(ApiError::PaymentFailed(
        "debtorAccount is not an account of this bank",
    ))?;
    let (debtor, d_idx) = inner
        .books
        .account(&debtor_key)
        .ok_or(ApiError::ServiceUnavailable)?;
    let currency = debtor.profile.accounts[d_idx].currency;
    if req.amount.currency() != currency {
        return Err(ApiError::PaymentFailed(
            "instructedAmount must be in the debtor account's currency",
        ));
    }
    let creditor_key = match account_by_iban(&inner, &req.creditor) {
        Some(k) => {
            let (c, i) = inner
                .books
                .account(&k)
                .ok_or(ApiError::ServiceUnavailable)?;
            if c.profile.accounts[i].currency != currency {
                return Err(ApiError::PaymentFailed(
                    "the creditor account holds another currency",
                ));
            }
            k
        }
        None => Pis::clearing_key(currency),
    };
    let decoupled = header_true(&headers, "tpp-decoupled-preferred");
    let psu_hint = header(&headers, "psu-id").map(str::to_owned);
    let today = inner.today();
    // Generation runs outside the state lock.
    let generated = debtor
        .balances(inner.books.seed, d_idx, today)
        .map(|b| b.interim_available.amount())
        .unwrap_or_default();
    let mut st = inner.state();
    // Re-check under the lock: a concurrent twin may have won the race.
    if let Some(id) = st.pis.by_request.get(&request_id).cloned() {
        let p = st
            .pis
            .payments
            .get(&id)
            .ok_or(ApiError::ServiceUnavailable)?;
        if p.fingerprint != fp {
            return Err(ApiError::StatusInvalid(
                "X-Request-ID was already used for a different request",
            ));
        }
        return Ok(created(&base, p));
    }
    let today = st.today;
    st.pis
        .sync_generated(&debtor_key, currency, generated, today);
    if creditor_key != Pis::clearing_key(currency) {
        st.pis.ensure_customer_account(&creditor_key, currency);
    }
    let id = uuid::Uuid::new_v4().to_string();
    let auth_id = uuid::Uuid::new_v4().to_string();
    let mut p = Payment {
        id: id.clone(),
        product,
        request_id: request_id.clone(),
        fingerprint: fp,
        debtor_key,
        debtor_psu: debtor.profile.psu_id.clone(),
        debtor_name: debtor.profile.name.clone(),
        debtor_iban: req.debtor,
        creditor_key,
        creditor_iban: req.creditor,
        creditor_name: req.creditor_name,
        amount: req.amount,
        remittance: req.remittance,
        status: TxStatus::Rcvd,
        reason: None,
        approach: if decoupled {
            ScaApproach::Decoupled
        } else {
            ScaApproach::Redirect
        },
        psu_hint: psu_hint.clone(),
        authorisations: Vec::new(),
        authorisation_starts: Vec::new(),
        transfer: None,
        accepted: None,
        redirect_ok: redirect_header(&headers, "tpp-redirect-uri"),
        redirect_nok: redirect_header(&headers, "tpp-nok-redirect-uri"),
    };
    st.pis.reserve(&mut p, today);
    if p.status == TxStatus::Rcvd {
        match p.approach {
            ScaApproach::Redirect => p.authorisations.push((auth_id, ScaStatus::Received)),
            ScaApproach::Decoupled if psu_hint.is_some() => {
                p.authorisations.push((auth_id, ScaStatus::Started))
            }
            ScaApproach::Decoupled => {}
        }
    }
    let resp = created(&base, &p);
    st.pis.by_request.insert(request_id, id.clone());
    st.pis.payments.insert(id.clone(), p);
    drop(st);
    tracing::info!(payment = %id, "payment initiated");
    Ok(resp)
}

/// Runs `f` on a payment of this product after booking what is due; unknown ids are 403
/// RESOURCE_UNKNOWN as the spec asks for ids in the path.
fn with_payment<T>(
    inner: &Inner,
    product_path: &str,
    id: &str,
    f: impl FnOnce(&mut Pis, &str, NaiveDate) -> Result<T, ApiError>,
) -> Result<T, ApiError> {
    let product = product(product_path)?;
    let mut st = inner.state();
    let today = st.today;
    st.pis.settle_due(today);
    match st.pis.payments.get(id) {
        Some(p) if p.product == product => {}
        _ => return Err(ApiError::ResourceUnknown("no such payment")),
    }
    f(&mut st.pis, id, today)
}

fn payment<'a>(pis: &'a Pis, id: &str) -> Result<&'a Payment, ApiError> {
    pis.payments
        .get(id)
        .ok_or(ApiError::ResourceUnknown("no such payment"))
}

pub async fn get_payment(
    State(inner): State<Arc<Inner>>,
    Path((product_path, id)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let body = with_payment(&inner, &product_path, &id, |pis, id, _| {
        let p = payment(pis, id)?;
        let mut v = json!({
            "debtorAccount": { "iban": p.debtor_iban.expose() },
            "instructedAmount": { "currency": p.amount.currency().code(), "amount": p.amount.amount_string() },
            "creditorAccount": { "iban": p.creditor_iban.expose() },
            "creditorName": p.creditor_name,
            "transactionStatus": p.status.wire(),
        });
        if !p.remittance.is_empty() {
            v["remittanceInformationUnstructured"] = json!(p.remittance);
        }
        Ok(v)
    })?;
    Ok(json_response(StatusCode::OK, &body))
}

pub async fn status(
    State(inner): State<Arc<Inner>>,
    Path((product_path, id)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let body = with_payment(&inner, &product_path, &id, |pis, id, _| {
        let p = payment(pis, id)?;
        let mut v = json!({ "transactionStatus": p.status.wire() });
        if p.status != TxStatus::Rcvd || p.transfer.is_some() {
            v["fundsAvailable"] = json!(p.reason != Some("AM04"));
        }
        if let Some(r) = p.reason {
            v["tppMessages"] = json!([{ "category": "WARNING", "code": "WARNING",
                "text": format!("{r}: {}", reason_text(r)) }]);
        }
        Ok(v)
    })?;
    Ok(json_response(StatusCode::OK, &body))
}

/// Cancels a payment that has not been executed (no cancellation SCA in this sandbox: 204).
pub async fn cancel(
    State(inner): State<Arc<Inner>>,
    Path((product_path, id)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    with_payment(&inner, &product_path, &id, |pis, id, today| {
        pis.cancel(id, today)
            .map_err(|_| ApiError::CancellationInvalid)
    })?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

pub async fn list_authorisations(
    State(inner): State<Arc<Inner>>,
    Path((product_path, id)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let ids = with_payment(&inner, &product_path, &id, |pis, id, _| {
        Ok(payment(pis, id)?
            .authorisations
            .iter()
            .map(|(a, _)| a.clone())
            .collect::<Vec<_>>())
    })?;
    Ok(json_response(
        StatusCode::OK,
        &json!({ "authorisationIds": ids }),
    ))
}

pub async fn start_authorisation(
    State(inner): State<Arc<Inner>>,
    headers: HeaderMap,
    Path((product_path, id)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let base = base_url(&headers);
    let psu = header(&headers, "psu-id").map(str::to_owned);
    // The request-id middleware already required it on /v1/.
    let request_id = header(&headers, X_REQUEST_ID)
        .unwrap_or_default()
        .to_owned();
    let body = with_payment(&inner, &product_path, &id, |pis, id, _| {
        let p = pis
            .payments
            .get_mut(id)
            .ok_or(ApiError::ResourceUnknown("no such payment"))?;
        if let Some((_, answered)) = p
            .authorisation_starts
            .iter()
            .find(|(r, _)| *r == request_id)
        {
            tracing::info!("authorisation start repeated; answered idempotently");
            return Ok(answered.clone());
        }
        if p.status != TxStatus::Rcvd {
            return Err(ApiError::StatusInvalid(
                "payment is not awaiting authorisation",
            ));
        }
        let auth_id = uuid::Uuid::new_v4().to_string();
        let url = format!("{base}/v1/payments/{}/{}", p.product.path(), p.id);
        let mut links = serde_json::Map::new();
        links.insert(
            "scaStatus".into(),
            href(format!("{url}/authorisations/{auth_id}")),
        );
        let mut body = json!({ "authorisationId": auth_id });
        match p.approach {
            ScaApproach::Decoupled => {
                if let Some(psu) = psu {
                    p.psu_hint = Some(psu);
                }
                if p.psu_hint.is_none() {
                    return Err(ApiError::Format(
                        "PSU-ID header is required for decoupled authorisation",
                    ));
                }
                p.authorisations.push((auth_id.clone(), ScaStatus::Started));
                body["scaStatus"] = json!("started");
                body["psuMessage"] = json!(PSU_MESSAGE);
            }
            ScaApproach::Redirect => {
                p.authorisations
                    .push((auth_id.clone(), ScaStatus::Received));
                links.insert(
                    "scaRedirect".into(),
                    href(format!(
                        "{base}/pis/authorize?paymentId={}&authorisationId={auth_id}",
                        p.id
                    )),
                );
                body["scaStatus"] = json!("received");
            }
        }
        body["_links"] = Value::Object(links);
        p.authorisation_starts
            .push((request_id.clone(), body.clone()));
        Ok(body)
    })?;
    Ok(json_response(StatusCode::CREATED, &body))
}

pub async fn sca_status(
    State(inner): State<Arc<Inner>>,
    Path((product_path, id, auth_id)): Path<(String, String, String)>,
) -> Result<Response, ApiError> {
    let s = with_payment(&inner, &product_path, &id, |pis, id, _| {
        payment(pis, id)?
            .authorisations
            .iter()
            .find(|(a, _)| *a == auth_id)
            .map(|(_, s)| *s)
            .ok_or(ApiError::ResourceUnknown("no such authorisation"))
    })?;
    Ok(json_response(
        StatusCode::OK,
        &json!({ "scaStatus": s.wire() }),
    ))
}

/// Embedded SCA (credentials through the TPP) is deliberately not offered.
pub async fn update_psu_data(
    State(inner): State<Arc<Inner>>,
    Path((product_path, id, _auth)): Path<(String, String, String)>,
) -> Result<Response, ApiError> {
    with_payment(&inner, &product_path, &id, |_, _, _| Ok(()))?;
    Err(ApiError::ServiceInvalid(
        "embedded SCA is not supported: use the redirect or decoupled approach",
    ))
}

// ----- AIS merge -------------------------------------------------------------------------------

/// An account's transactions on `today`: generated history and payments, newest entry first.
pub fn views(inner: &Inner, c: &Customer, idx: usize, today: NaiveDate) -> Vec<TxView> {
    let mut out = c.views(inner.books.seed, idx, today);
    let Some(acc) = c.profile.accounts.get(idx) else {
        return out;
    };
    let entries = {
        let mut st = inner.state();
        st.pis.settle_due(today);
        st.pis.entries(&acc.resource_id, today)
    };
    for e in entries {
        let is_credit = !e.amount.is_negative();
        out.push(TxView {
            booked: e.booked,
            id: e.tx_id.clone(),
            entry_date: e.entry_date,
            booking_date: e.booking_date,
            amount: e.amount,
            counterparty: e.counterparty,
            counterparty_iban: e.counterparty_iban,
            description: e.remittance,
            code: e.code,
            is_credit,
            pending_id: e.tx_id,
            pending_amount: e.amount,
        });
    }
    // Stable: generated entries keep their order within a day; entries pushed for an earlier
    // day through the control API move to their place.
    out.sort_by_key(|t| std::cmp::Reverse(t.entry_date));
    out
}

/// An account's balances on `today` with payments: posted ones in both, reserved and
/// announced ones in the available balance.
pub fn balances(inner: &Inner, c: &Customer, idx: usize, today: NaiveDate) -> Option<Balances> {
    let b = c.balances(inner.books.seed, idx, today)?;
    let acc = c.profile.accounts.get(idx)?;
    let (booked, pending) = {
        let mut st = inner.state();
        st.pis.settle_due(today);
        st.pis.effect(&acc.resource_id, today)
    };
    let cur = acc.currency;
    Some(Balances {
        opening: b.opening,
        closing_booked: money(b.closing_booked.amount() + booked, cur),
        interim_available: money(b.interim_available.amount() + booked + pending, cur),
    })
}

// ----- SCA: redirect page and bank app ---------------------------------------------------------

fn tr(lang: Lang, pl: &'static str, en: &'static str) -> &'static str {
    if lang == Lang::Pl { pl } else { en }
}

fn summary(lang: Lang, p: &Payment) -> String {
    format!(
        "<div class=\"box\" data-payment=\"{}\"><p><b>{}:</b> {}</p><p><b>{}:</b> {} ({})</p><p><b>{}:</b> {}</p><p><b>{}:</b> {}</p></div>",
        esc(&p.id),
        tr(lang, "Kwota", "Amount"),
        esc(&okienko_core::format::money(&p.amount, lang)),
        tr(lang, "Odbiorca", "Payee"),
        esc(&p.creditor_name),
        esc(&p.creditor_iban.masked()),
        tr(lang, "Z rachunku", "From account"),
        esc(&p.debtor_iban.masked()),
        tr(lang, "Tytuł", "Reference"),
        esc(&p.remittance),
    )
}

fn page_error(lang: Lang, msg: &str) -> Response {
    let body = format!("<p class=\"err\">{}</p>", esc(msg));
    (StatusCode::BAD_REQUEST, Html(page(lang, "Error", &body))).into_response()
}

/// The payment awaiting this redirect authorisation, cloned for rendering.
fn redirect_target(inner: &Inner, p: &HashMap<String, String>) -> Result<Payment, &'static str> {
    let id = p.get("paymentId").map(String::as_str).unwrap_or("");
    let auth = p.get("authorisationId").map(String::as_str).unwrap_or("");
    let st = inner.state();
    let pay = st.pis.payments.get(id).ok_or("unknown payment")?;
    let open = pay.approach == ScaApproach::Redirect
        && pay.status == TxStatus::Rcvd
        && pay
            .authorisations
            .iter()
            .any(|(a, s)| a == auth && *s == ScaStatus::Received);
    if !open {
        return Err("the payment is not awaiting authorisation");
    }
    Ok(pay.clone())
}

fn redirect_form(lang: Lang, pay: &Payment, auth: &str, error: Option<&str>) -> Response {
    let err = error
        .map(|e| format!("<p class=\"err\">{}</p>", esc(e)))
        .unwrap_or_default();
    let body = format!(
        "<h2>{}</h2>{}{err}<form method=\"post\" action=\"/pis/authorize\">{}{}{}\
<label>{} <input name=\"psu_id\" autocomplete=\"username\"></label>\
<label>{} <input name=\"password\" type=\"password\" autocomplete=\"current-password\"></label>\
<button name=\"decision\" value=\"approve\">{}</button>\
<button name=\"decision\" value=\"reject\">{}</button></form>",
        tr(lang, "Potwierdź płatność", "Confirm the payment"),
        summary(lang, pay),
        hidden("paymentId", &pay.id),
        hidden("authorisationId", auth),
        hidden("lang", lang.code()),
        t(lang, "psu_id"),
        t(lang, "password"),
        t(lang, "approve"),
        t(lang, "reject"),
    );
    Html(page(lang, tr(lang, "Płatność", "Payment"), &body)).into_response()
}

async fn redirect_page(
    State(inner): State<Arc<Inner>>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Response {
    let p = parse_pairs(raw.unwrap_or_default().as_bytes());
    let lang = lang(&p, &headers);
    match redirect_target(&inner, &p) {
        Ok(pay) => {
            let auth = p.get("authorisationId").cloned().unwrap_or_default();
            redirect_form(lang, &pay, &auth, None)
        }
        Err(e) => page_error(lang, e),
    }
}

fn done_page(lang: Lang, to: Option<&str>, ok: bool) -> Response {
    if let Some(url) = to
        && let Ok(v) = HeaderValue::from_str(url)
    {
        let mut resp = StatusCode::FOUND.into_response();
        resp.headers_mut().insert(h::LOCATION, v);
        return resp;
    }
    let msg = match (ok, lang) {
        (true, _) => tr(lang, "Płatność potwierdzona.", "Payment confirmed."),
        (false, _) => tr(lang, "Płatność odrzucona.", "Payment rejected."),
    };
    Html(page(lang, msg, &format!("<p>{msg}</p>"))).into_response()
}

async fn redirect_decide(
    State(inner): State<Arc<Inner>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let p = parse_pairs(&body);
    let lang = lang(&p, &headers);
    let pay = match redirect_target(&inner, &p) {
        Ok(pay) => pay,
        Err(e) => return page_error(lang, e),
    };
    let auth = p.get("authorisationId").cloned().unwrap_or_default();
    let psu = p.get("psu_id").map(String::as_str).unwrap_or("").trim();
    let password = p.get("password").map(String::as_str).unwrap_or("");
    if !inner.login(psu, password) || psu != pay.debtor_psu {
        return redirect_form(lang, &pay, &auth, Some(t(lang, "bad_login")));
    }
    let decision = p.get("decision").map(String::as_str).unwrap_or("");
    let mut st = inner.state();
    let today = st.today;
    match decision {
        "approve" => {
            let done = st.pis.authorised(&pay.id, today);
            drop(st);
            if done {
                // An incoming transfer for the payee, when they bank here too.
                crate::notify::account_changed(&inner, &pay.creditor_key);
            }
            done_page(lang, pay.redirect_ok.as_deref(), true)
        }
        "reject" => {
            st.pis.sca_failed(&pay.id, today);
            drop(st);
            let to = pay.redirect_nok.as_deref().or(pay.redirect_ok.as_deref());
            done_page(lang, to, false)
        }
        _ => {
            drop(st);
            redirect_form(lang, &pay, &auth, None)
        }
    }
}

/// The bank app's list of payments waiting for this PSU's decoupled approval.
pub fn app_section(inner: &Inner, lang: Lang, session: &str, psu: &str) -> String {
    let st = inner.state();
    let mut waiting: Vec<&Payment> = st
        .pis
        .payments
        .values()
        .filter(|p| {
            p.approach == ScaApproach::Decoupled
                && p.awaiting_sca()
                && p.debtor_psu == psu
                && p.psu_hint.as_deref() == Some(psu)
        })
        .collect();
    waiting.sort_by(|a, b| a.id.cmp(&b.id));
    let mut out = format!(
        "<h3>{}</h3>",
        tr(lang, "Płatności do potwierdzenia", "Payments to confirm")
    );
    if waiting.is_empty() {
        out.push_str(&format!("<p>{}</p>", t(lang, "none")));
    }
    for p in waiting {
        let button = |decision: &str, label: &str| {
            format!(
                "<form method=\"post\" action=\"/app/decide\" style=\"display:inline\">{}{}{}\
<button name=\"decision\" value=\"{decision}\">{label}</button></form>",
                hidden("session", session),
                hidden("payment_id", &p.id),
                hidden("lang", lang.code()),
            )
        };
        out.push_str(&summary(lang, p));
        out.push_str(&button("approve", t(lang, "approve")));
        out.push_str(&button("reject", t(lang, "reject")));
    }
    out
}

/// A decision in the bank app on a payment; `true` when it changed something.
pub fn app_decide(inner: &Inner, psu: &str, payment_id: &str, decision: &str) -> bool {
    let mut st = inner.state();
    let today = st.today;
    let mine = st.pis.payments.get(payment_id).is_some_and(|p| {
        p.approach == ScaApproach::Decoupled
            && p.awaiting_sca()
            && p.debtor_psu == psu
            && p.psu_hint.as_deref() == Some(psu)
    });
    if !mine {
        return false;
    }
    match decision {
        "approve" => {
            let creditor = st
                .pis
                .payments
                .get(payment_id)
                .map(|p| p.creditor_key.clone());
            let done = st.pis.authorised(payment_id, today);
            drop(st);
            if let Some(c) = creditor.filter(|_| done) {
                // An incoming transfer for the payee, when they bank here too.
                crate::notify::account_changed(inner, &c);
            }
            done
        }
        "reject" => st.pis.sca_failed(payment_id, today),
        _ => false,
    }
}

/// `GET /sandbox/ledger` (control API): the ledger's invariant check and every payment's
/// X-Request-ID and status, so tests can prove each request paid exactly once.
pub async fn control_ledger(State(inner): State<Arc<Inner>>) -> Response {
    let mut st = inner.state();
    let today = st.today;
    st.pis.settle_due(today);
    let check = st.pis.ledger.check();
    let mut payments: Vec<Value> = st
        .pis
        .payments
        .values()
        .map(|p| {
            json!({
                "paymentId": p.id,
                "requestId": p.request_id,
                "transactionStatus": p.status.wire(),
                "amount": p.amount.amount_string(),
                "currency": p.amount.currency().code(),
            })
        })
        .collect();
    payments.sort_by(|a, b| a["paymentId"].as_str().cmp(&b["paymentId"].as_str()));
    let accounts: Vec<Value> = st
        .pis
        .ledger
        .accounts()
        .map(|(k, a)| {
            json!({
                "key": k, "currency": a.currency.code(),
                "debitsPending": a.debits_pending.to_string(), "debitsPosted": a.debits_posted.to_string(),
                "creditsPending": a.credits_pending.to_string(), "creditsPosted": a.credits_posted.to_string(),
            })
        })
        .collect();
    json_response(
        StatusCode::OK,
        &json!({
            "consistent": check.is_ok(),
            "error": check.err(),
            "transfers": st.pis.ledger.transfers().len(),
            "accounts": accounts,
            "payments": payments,
        }),
    )
}
