//! Merchant checkout with saved cards, gateway side: the demo merchant "Sklep Demo" (pages at
//! `/merchant/demo`), its payment requests, and the [`Checkout`] service the chat uses, which
//! charges through the card vault (`okienko vault`, a separate process) with signed requests.
//!
//! The gateway and the merchant hold tokens only: the customer's card token for the gateway, and
//! the merchant token the vault returns on approval. A payment request's confirmation is bound to
//! an action id, which is the charge's idempotency key at the vault, so pressing "pay" twice, or
//! again after a timeout, charges once. Requests live in memory (a demo merchant): a restart
//! forgets open ones. Nothing here logs amounts, card digits or tokens.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use async_trait::async_trait;
use axum::extract::{Path, Query, State};
use axum::response::{Html, IntoResponse, Response};
use okienko_core::{CustomerId, Lang, Money};
use okienko_dialog::checkout::{Checkout, Offer, Paid};
use okienko_vault::{ChargeRequest, ClientError, VaultClient};
use serde::{Deserialize, Serialize};
use tokio::sync::Mutex;
use uuid::Uuid;

/// The gateway's name as a token requestor at the vault.
const REQUESTOR: &str = "gateway";
const DEMO_MERCHANT_ID: &str = "sklep-demo";
const DEMO_MERCHANT_NAME: &str = "Sklep Demo";
/// How long a payment request stays payable.
const REQUEST_TTL: Duration = Duration::from_secs(30 * 60);

/// `[checkout]`: paying merchants with cards saved in the card vault.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CheckoutSettings {
    /// The card vault's base URL (what customers open too); unset = checkout off.
    pub vault_url: Option<String>,
    /// The secret shared with the vault (`okienko vault` writes DATA_DIR/vault-api.secret).
    pub vault_secret_file: Option<PathBuf>,
    pub timeout_secs: u64,
    /// Serves the demo merchant "Sklep Demo" at `/merchant/demo`.
    pub demo_merchant: bool,
}

impl Default for CheckoutSettings {
    fn default() -> Self {
        CheckoutSettings {
            vault_url: None,
            vault_secret_file: None,
            timeout_secs: 10,
            demo_merchant: true,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Status {
    Pending,
    Paid,
    Declined,
    Cancelled,
}

impl Status {
    fn wire(self) -> &'static str {
        match self {
            Status::Pending => "pending",
            Status::Paid => "paid",
            Status::Declined => "declined",
            Status::Cancelled => "cancelled",
        }
    }
}

struct PayRequest {
    order_id: String,
    code: String,
    amount: Money,
    created: std::time::Instant,
    status: Status,
    /// The customer who took the code in the chat, and the confirmation's action id.
    bound: Option<(CustomerId, Uuid)>,
    /// Obtained once per action, so a retried charge is the same request at the vault.
    cryptogram: Option<(String, String)>,
    decline_reason: Option<String>,
    merchant_token: Option<String>,
}

#[derive(Default)]
struct Book {
    by_order: HashMap<String, PayRequest>,
}

impl Book {
    fn by_code(&mut self, code: &str) -> Option<&mut PayRequest> {
        self.by_order.values_mut().find(|r| r.code == code)
    }

    fn by_action(&mut self, customer: CustomerId, action: Uuid) -> Option<&mut PayRequest> {
        self.by_order
            .values_mut()
            .find(|r| r.bound == Some((customer, action)))
    }
}

/// The checkout service and the demo merchant's book of payment requests.
pub struct CheckoutService {
    vault: VaultClient,
    book: Mutex<Book>,
    /// One payment at a time: a double click waits for the first and then sees it paid.
    paying: Mutex<()>,
}

fn code() -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    // A v4 UUID's random bytes; 32 symbols, so each byte maps evenly.
    let id = Uuid::new_v4();
    let s: String = id.as_bytes()[..6]
        .iter()
        .map(|b| char::from(ALPHABET[usize::from(*b) % ALPHABET.len()]))
        .collect();
    format!("SD-{s}")
}

impl CheckoutService {
    /// A new payment request of the demo merchant: (order id, payment code).
    async fn create(&self, amount: Money) -> (String, String) {
        let order_id = format!("ORD-{}", &Uuid::new_v4().simple().to_string()[..12]);
        let code = code();
        self.book.lock().await.by_order.insert(
            order_id.clone(),
            PayRequest {
                order_id: order_id.clone(),
                code: code.clone(),
                amount,
                created: std::time::Instant::now(),
                status: Status::Pending,
                bound: None,
                cryptogram: None,
                decline_reason: None,
                merchant_token: None,
            },
        );
        (order_id, code)
    }
}

#[async_trait]
impl Checkout for CheckoutService {
    async fn offer(&self, customer: CustomerId, code: &str) -> Option<Offer> {
        let (amount, action) = {
            let mut book = self.book.lock().await;
            let r = book.by_code(code)?;
            if r.status != Status::Pending || r.created.elapsed() > REQUEST_TTL {
                return None;
            }
            let action = match r.bound {
                Some((c, a)) if c == customer => a,
                Some(_) => return None,
                None => {
                    let a = Uuid::new_v4();
                    r.bound = Some((customer, a));
                    a
                }
            };
            (r.amount, action)
        };
        let card_last4 = match self.vault.tokens(&customer.to_string(), REQUESTOR).await {
            Ok(t) => t.first().map(|t| t.last4.clone()),
            Err(e) => {
                tracing::warn!(error = %e, "card vault: listing tokens failed");
                None
            }
        };
        Some(Offer {
            action,
            amount,
            merchant: DEMO_MERCHANT_NAME.to_owned(),
            card_last4,
        })
    }

    async fn pay(&self, customer: CustomerId, action: Uuid) -> Paid {
        let _one = self.paying.lock().await;
        let (amount, order_id, cryptogram) = {
            let mut book = self.book.lock().await;
            let Some(r) = book.by_action(customer, action) else {
                return Paid::Stale;
            };
            match r.status {
                Status::Paid => return Paid::Approved,
                Status::Declined => {
                    return Paid::Declined {
                        reason: r.decline_reason.clone().unwrap_or_default(),
                    };
                }
                Status::Cancelled => return Paid::Stale,
                Status::Pending => {}
            }
            (r.amount, r.order_id.clone(), r.cryptogram.clone())
        };
        let owner = customer.to_string();
        let tokens = match self.vault.tokens(&owner, REQUESTOR).await {
            Ok(t) => t,
            Err(_) => return Paid::Unavailable,
        };
        let (token, cryptogram) = match cryptogram {
            Some(c) => c,
            None => {
                let Some(t) = tokens.first() else {
                    return Paid::Stale;
                };
                match self
                    .vault
                    .cryptogram(&t.token, REQUESTOR, amount, DEMO_MERCHANT_ID, &order_id)
                    .await
                {
                    Ok(c) => {
                        let pair = (t.token.clone(), c);
                        if let Some(r) = self.book.lock().await.by_action(customer, action) {
                            r.cryptogram = Some(pair.clone());
                        }
                        pair
                    }
                    Err(_) => return Paid::Unavailable,
                }
            }
        };
        let result = self
            .vault
            .charge(
                &action.to_string(),
                &ChargeRequest {
                    token,
                    requestor: REQUESTOR.into(),
                    cryptogram,
                    amount,
                    merchant: DEMO_MERCHANT_ID.into(),
                    order_id,
                },
            )
            .await;
        let mut book = self.book.lock().await;
        let Some(r) = book.by_action(customer, action) else {
            return Paid::Stale;
        };
        match result {
            Ok(c) if c.status == "approved" => {
                r.status = Status::Paid;
                r.merchant_token = c.merchant_token;
                tracing::info!(action = %action, "card checkout approved");
                Paid::Approved
            }
            Ok(c) if c.status == "declined" => {
                r.status = Status::Declined;
                let reason = c.reason.unwrap_or_default();
                r.decline_reason = Some(reason.clone());
                tracing::info!(action = %action, "card checkout declined");
                Paid::Declined { reason }
            }
            Ok(_) | Err(ClientError::Unavailable) | Err(ClientError::Protocol) => Paid::Unavailable,
            Err(ClientError::Refused(code)) => {
                tracing::warn!(action = %action, code, "card vault refused a charge");
                Paid::Unavailable
            }
        }
    }

    async fn cancel(&self, customer: CustomerId, action: Uuid) {
        let mut book = self.book.lock().await;
        if let Some(r) = book.by_action(customer, action)
            && r.status == Status::Pending
        {
            r.status = Status::Cancelled;
        }
    }

    async fn card_page(&self, customer: CustomerId, lang: Lang) -> Option<String> {
        self.vault
            .card_page(&customer.to_string(), REQUESTOR, lang.code())
            .await
            .ok()
    }
}

/// Builds the service when a vault is configured, hands it to the engine, and returns the demo
/// merchant's routes.
pub fn start(
    settings: &CheckoutSettings,
    engine: &Arc<okienko_dialog::Engine>,
) -> anyhow::Result<axum::Router> {
    let Some(url) = &settings.vault_url else {
        return Ok(axum::Router::new());
    };
    let file = settings
        .vault_secret_file
        .as_ref()
        .context("checkout.vault_secret_file is required with checkout.vault_url")?;
    let secret =
        std::fs::read_to_string(file).with_context(|| format!("reading {}", file.display()))?;
    let vault = VaultClient::new(
        url,
        okienko_vault::zeroize::Zeroizing::new(secret.trim().as_bytes().to_vec()),
        Duration::from_secs(settings.timeout_secs.clamp(1, 60)),
    )
    .map_err(|e| anyhow::anyhow!("building the vault client: {e}"))?;
    let service = Arc::new(CheckoutService {
        vault,
        book: Mutex::new(Book::default()),
        paying: Mutex::new(()),
    });
    engine.set_checkout(service.clone());
    if !settings.demo_merchant {
        return Ok(axum::Router::new());
    }
    Ok(axum::Router::new()
        .route("/merchant/demo", axum::routing::get(shop))
        .route("/merchant/demo/orders", axum::routing::post(order))
        .route(
            "/merchant/demo/orders/{id}",
            axum::routing::get(order_status),
        )
        .with_state(service))
}

fn page(body: &str) -> Response {
    Html(format!(
        "<!doctype html><html lang=\"pl\"><head><meta charset=\"utf-8\">\
<meta name=\"viewport\" content=\"width=device-width,initial-scale=1\"><title>{DEMO_MERCHANT_NAME}</title>\
<style>body{{font-family:sans-serif;max-width:30rem;margin:2rem auto;padding:0 1rem}}\
.pay{{display:inline-block;padding:.6rem 1rem;background:#0a5;color:#fff;text-decoration:none}}</style>\
</head><body><h1>{DEMO_MERCHANT_NAME}</h1>{body}</body></html>"
    ))
    .into_response()
}

async fn shop() -> Response {
    page(
        "<p>Kubek „Okienko” — 129,00 zł <span lang=\"en\">(an “Okienko” mug — PLN 129.00)</span></p>\
<form method=\"post\" action=\"/merchant/demo/orders\"><button>Kup / Buy</button></form>",
    )
}

async fn order(State(s): State<Arc<CheckoutService>>) -> Response {
    let amount = match Money::parse("129.00", "PLN") {
        Ok(a) => a,
        Err(_) => return axum::http::StatusCode::INTERNAL_SERVER_ERROR.into_response(),
    };
    let (order_id, code) = s.create(amount).await;
    page(&format!(
        "<p>Zamówienie <span id=\"order\">{order_id}</span>: 129,00 zł.</p>\
<p><a class=\"pay\" href=\"/\" target=\"_blank\">Zapłać w okienku</a></p>\
<p>W czacie napisz: <code id=\"command\">zapłać <span id=\"code\">{code}</span></code>\
<br><span lang=\"en\">In the chat, type: <code>pay {code}</code></span></p>\
<p><a id=\"status\" href=\"/merchant/demo/orders/{order_id}\">Status płatności / payment status</a></p>"
    ))
}

#[derive(Deserialize)]
struct StatusQuery {
    format: Option<String>,
}

async fn order_status(
    State(s): State<Arc<CheckoutService>>,
    Path(id): Path<String>,
    Query(q): Query<StatusQuery>,
) -> Response {
    let book = s.book.lock().await;
    let Some(r) = book.by_order.get(&id) else {
        return (axum::http::StatusCode::NOT_FOUND, "no such order").into_response();
    };
    if q.format.as_deref() == Some("json") {
        return axum::Json(serde_json::json!({
            "orderId": r.order_id,
            "status": r.status.wire(),
            "declineReason": r.decline_reason,
            "merchantToken": r.merchant_token,
        }))
        .into_response();
    }
    let text = match r.status {
        Status::Pending => "Oczekuje na płatność / awaiting payment",
        Status::Paid => "Opłacone / paid",
        Status::Declined => "Odrzucone przez bank / declined by the bank",
        Status::Cancelled => "Anulowane / cancelled",
    };
    page(&format!(
        "<p>Zamówienie {}: <strong id=\"state\" data-status=\"{}\">{text}</strong></p>",
        r.order_id,
        r.status.wire()
    ))
}
