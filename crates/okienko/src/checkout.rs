//! Merchant checkout with saved cards, gateway side: the demo merchant "Sklep Demo" (pages at
//! `/merchant/demo`), its payment requests, and the [`Checkout`] service the chat uses, which
//! charges through the card vault (`okienko vault`, a separate process) with signed requests.
//!
//! The gateway and the merchant hold tokens only: the customer's card token for the gateway, and
//! the merchant token the vault returns on approval. A payment request's confirmation is bound to
//! an action id, which is the charge's idempotency key at the vault, so pressing "pay" twice, or
//! again after a timeout, charges once. Nothing here logs amounts, card digits or tokens.
//!
//! The merchant's book of payment requests is its own SQLite file (`DATA_DIR/merchant-demo.sqlite`),
//! not the gateway's store: the demo merchant stands in for a separate party, and a shop's orders
//! are not the gateway's data. Every change is written there before it is acted on, so a restart
//! loses no order, no binding to a chat confirmation and no outcome.

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

    fn parse(s: &str) -> Option<Status> {
        Some(match s {
            "pending" => Status::Pending,
            "paid" => Status::Paid,
            "declined" => Status::Declined,
            "cancelled" => Status::Cancelled,
            _ => return None,
        })
    }
}

struct PayRequest {
    order_id: String,
    code: String,
    amount: Money,
    created: chrono::DateTime<chrono::Utc>,
    status: Status,
    /// The customer who took the code in the chat, and the confirmation's action id.
    bound: Option<(CustomerId, Uuid)>,
    /// Obtained once per action, so a retried charge is the same request at the vault.
    cryptogram: Option<(String, String)>,
    decline_reason: Option<String>,
    merchant_token: Option<String>,
}

impl PayRequest {
    fn expired(&self) -> bool {
        chrono::Utc::now().signed_duration_since(self.created)
            > chrono::Duration::from_std(REQUEST_TTL).unwrap_or(chrono::Duration::minutes(30))
    }
}

fn corrupt() -> anyhow::Error {
    anyhow::anyhow!("a stored order is unreadable")
}

/// The demo merchant's payment requests, in its own SQLite file. The schema is created on first
/// use (the pool connects lazily, so building the service needs no runtime).
struct Book {
    pool: sqlx::SqlitePool,
    ready: tokio::sync::OnceCell<()>,
}

const BOOK_SCHEMA: &str = "CREATE TABLE IF NOT EXISTS orders (order_id TEXT PRIMARY KEY, \
     code TEXT NOT NULL UNIQUE, amount TEXT NOT NULL, currency TEXT NOT NULL, \
     created_at TEXT NOT NULL, status TEXT NOT NULL, customer_id TEXT, action_id TEXT, \
     token TEXT, cryptogram TEXT, decline_reason TEXT, merchant_token TEXT)";

const COLUMNS: &str = "order_id, code, amount, currency, created_at, status, customer_id, \
     action_id, token, cryptogram, decline_reason, merchant_token";

fn row_to_request(r: &sqlx::sqlite::SqliteRow) -> anyhow::Result<PayRequest> {
    use sqlx::Row;
    let s = |k: &str| r.try_get::<String, _>(k);
    let o = |k: &str| r.try_get::<Option<String>, _>(k);
    let amount = Money::parse(&s("amount")?, &s("currency")?).map_err(|_| corrupt())?;
    let created = chrono::DateTime::parse_from_rfc3339(&s("created_at")?)
        .map_err(|_| corrupt())?
        .with_timezone(&chrono::Utc);
    let bound = match (o("customer_id")?, o("action_id")?) {
        (Some(c), Some(a)) => Some((
            c.parse().map_err(|_| corrupt())?,
            Uuid::parse_str(&a).map_err(|_| corrupt())?,
        )),
        _ => None,
    };
    let cryptogram = match (o("token")?, o("cryptogram")?) {
        (Some(t), Some(c)) => Some((t, c)),
        _ => None,
    };
    Ok(PayRequest {
        order_id: s("order_id")?,
        code: s("code")?,
        amount,
        created,
        status: Status::parse(&s("status")?).ok_or_else(corrupt)?,
        bound,
        cryptogram,
        decline_reason: o("decline_reason")?,
        merchant_token: o("merchant_token")?,
    })
}

impl Book {
    fn open(path: &std::path::Path) -> Book {
        let opts = sqlx::sqlite::SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(true)
            .journal_mode(sqlx::sqlite::SqliteJournalMode::Wal)
            .busy_timeout(Duration::from_secs(5));
        let pool = sqlx::sqlite::SqlitePoolOptions::new()
            .max_connections(2)
            .acquire_timeout(Duration::from_secs(5))
            .connect_lazy_with(opts);
        Book {
            pool,
            ready: tokio::sync::OnceCell::new(),
        }
    }

    async fn pool(&self) -> anyhow::Result<&sqlx::SqlitePool> {
        self.ready
            .get_or_try_init(|| async {
                sqlx::query(BOOK_SCHEMA)
                    .execute(&self.pool)
                    .await
                    .map(|_| ())
            })
            .await?;
        Ok(&self.pool)
    }

    /// One request by a fixed `clause` of this module (never outside text; values are bound).
    async fn one(&self, clause: &'static str, args: &[&str]) -> anyhow::Result<Option<PayRequest>> {
        let sql = format!("SELECT {COLUMNS} FROM orders WHERE {clause}");
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
        for a in args {
            q = q.bind(*a);
        }
        match q.fetch_optional(self.pool().await?).await? {
            Some(r) => Ok(Some(row_to_request(&r)?)),
            None => Ok(None),
        }
    }

    async fn insert(&self, r: &PayRequest) -> anyhow::Result<()> {
        sqlx::query(
            "INSERT INTO orders (order_id, code, amount, currency, created_at, status) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(&r.order_id)
        .bind(&r.code)
        .bind(r.amount.amount_string())
        .bind(r.amount.currency().code())
        .bind(r.created.to_rfc3339())
        .bind(r.status.wire())
        .execute(self.pool().await?)
        .await?;
        Ok(())
    }

    async fn by_order(&self, id: &str) -> anyhow::Result<Option<PayRequest>> {
        self.one("order_id = $1", &[id]).await
    }

    async fn by_code(&self, code: &str) -> anyhow::Result<Option<PayRequest>> {
        self.one("code = $1", &[code]).await
    }

    async fn by_action(
        &self,
        customer: CustomerId,
        action: Uuid,
    ) -> anyhow::Result<Option<PayRequest>> {
        self.one(
            "customer_id = $1 AND action_id = $2",
            &[&customer.to_string(), &action.to_string()],
        )
        .await
    }

    /// Binds an unbound request to a customer's confirmation; the first binding wins.
    async fn bind(&self, order: &str, customer: CustomerId, action: Uuid) -> anyhow::Result<()> {
        sqlx::query(
            "UPDATE orders SET customer_id = $1, action_id = $2 \
             WHERE order_id = $3 AND action_id IS NULL",
        )
        .bind(customer.to_string())
        .bind(action.to_string())
        .bind(order)
        .execute(self.pool().await?)
        .await?;
        Ok(())
    }

    async fn set_cryptogram(&self, order: &str, token: &str, c: &str) -> anyhow::Result<()> {
        sqlx::query(
            "UPDATE orders SET token = $1, cryptogram = $2 WHERE order_id = $3 AND cryptogram IS NULL",
        )
        .bind(token)
        .bind(c)
        .bind(order)
        .execute(self.pool().await?)
        .await?;
        Ok(())
    }

    /// Moves a pending request to its outcome (never out of a final one).
    async fn finish(
        &self,
        order: &str,
        to: Status,
        reason: Option<&str>,
        merchant_token: Option<&str>,
    ) -> anyhow::Result<()> {
        sqlx::query(
            "UPDATE orders SET status = $1, decline_reason = $2, merchant_token = $3 \
             WHERE order_id = $4 AND status = 'pending'",
        )
        .bind(to.wire())
        .bind(reason)
        .bind(merchant_token)
        .bind(order)
        .execute(self.pool().await?)
        .await?;
        Ok(())
    }
}

/// The checkout service and the demo merchant's book of payment requests.
pub struct CheckoutService {
    vault: VaultClient,
    book: Book,
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
    async fn create(&self, amount: Money) -> anyhow::Result<(String, String)> {
        let order_id = format!("ORD-{}", &Uuid::new_v4().simple().to_string()[..12]);
        let code = code();
        self.book
            .insert(&PayRequest {
                order_id: order_id.clone(),
                code: code.clone(),
                amount,
                created: chrono::Utc::now(),
                status: Status::Pending,
                bound: None,
                cryptogram: None,
                decline_reason: None,
                merchant_token: None,
            })
            .await?;
        Ok((order_id, code))
    }

    async fn bound_offer(
        &self,
        customer: CustomerId,
        code: &str,
    ) -> anyhow::Result<Option<(Money, Uuid)>> {
        let Some(r) = self.book.by_code(code).await? else {
            return Ok(None);
        };
        if r.status != Status::Pending || r.expired() {
            return Ok(None);
        }
        if r.bound.is_none() {
            self.book
                .bind(&r.order_id, customer, Uuid::new_v4())
                .await?;
        }
        // Whoever bound it first: this customer's confirmation, or nobody's offer.
        let Some(r) = self.book.by_order(&r.order_id).await? else {
            return Ok(None);
        };
        Ok(match r.bound {
            Some((c, a)) if c == customer => Some((r.amount, a)),
            _ => None,
        })
    }

    async fn pay_inner(&self, customer: CustomerId, action: Uuid) -> anyhow::Result<Paid> {
        let _one = self.paying.lock().await;
        let Some(r) = self.book.by_action(customer, action).await? else {
            return Ok(Paid::Stale);
        };
        match r.status {
            Status::Paid => return Ok(Paid::Approved),
            Status::Declined => {
                return Ok(Paid::Declined {
                    reason: r.decline_reason.clone().unwrap_or_default(),
                });
            }
            Status::Cancelled => return Ok(Paid::Stale),
            Status::Pending => {}
        }
        let (amount, order_id) = (r.amount, r.order_id.clone());
        let (token, cryptogram) = match r.cryptogram {
            Some(c) => c,
            None => {
                let tokens = match self.vault.tokens(&customer.to_string(), REQUESTOR).await {
                    Ok(t) => t,
                    Err(_) => return Ok(Paid::Unavailable),
                };
                let Some(t) = tokens.first() else {
                    return Ok(Paid::Stale);
                };
                match self
                    .vault
                    .cryptogram(&t.token, REQUESTOR, amount, DEMO_MERCHANT_ID, &order_id)
                    .await
                {
                    Ok(c) => {
                        // Written before the charge: a retry after a restart resends the same.
                        self.book.set_cryptogram(&order_id, &t.token, &c).await?;
                        (t.token.clone(), c)
                    }
                    Err(_) => return Ok(Paid::Unavailable),
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
                    order_id: order_id.clone(),
                },
            )
            .await;
        Ok(match result {
            Ok(c) if c.status == "approved" => {
                self.book
                    .finish(&order_id, Status::Paid, None, c.merchant_token.as_deref())
                    .await?;
                tracing::info!(action = %action, "card checkout approved");
                Paid::Approved
            }
            Ok(c) if c.status == "declined" => {
                let reason = c.reason.unwrap_or_default();
                self.book
                    .finish(&order_id, Status::Declined, Some(&reason), None)
                    .await?;
                tracing::info!(action = %action, "card checkout declined");
                Paid::Declined { reason }
            }
            Ok(_) | Err(ClientError::Unavailable) | Err(ClientError::Protocol) => Paid::Unavailable,
            Err(ClientError::Refused(code)) => {
                tracing::warn!(action = %action, code, "card vault refused a charge");
                Paid::Unavailable
            }
        })
    }
}

#[async_trait]
impl Checkout for CheckoutService {
    async fn offer(&self, customer: CustomerId, code: &str) -> Option<Offer> {
        let (amount, action) = match self.bound_offer(customer, code).await {
            Ok(o) => o?,
            Err(e) => {
                tracing::warn!(error = %e, "merchant order book: reading a request failed");
                return None;
            }
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
        match self.pay_inner(customer, action).await {
            Ok(p) => p,
            Err(e) => {
                tracing::warn!(action = %action, error = %e, "merchant order book failed");
                Paid::Unavailable
            }
        }
    }

    async fn cancel(&self, customer: CustomerId, action: Uuid) {
        let r = match self.book.by_action(customer, action).await {
            Ok(Some(r)) => r,
            Ok(None) => return,
            Err(e) => {
                tracing::warn!(error = %e, "merchant order book: reading a request failed");
                return;
            }
        };
        if let Err(e) = self
            .book
            .finish(&r.order_id, Status::Cancelled, None, None)
            .await
        {
            tracing::warn!(error = %e, "merchant order book: cancelling failed");
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
    data_dir: &std::path::Path,
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
        book: Book::open(&data_dir.join("merchant-demo.sqlite")),
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
    let (order_id, code) = match s.create(amount).await {
        Ok(o) => o,
        Err(e) => {
            tracing::warn!(error = %e, "merchant order book: creating an order failed");
            return axum::http::StatusCode::SERVICE_UNAVAILABLE.into_response();
        }
    };
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
    let r = match s.book.by_order(&id).await {
        Ok(Some(r)) => r,
        Ok(None) => return (axum::http::StatusCode::NOT_FOUND, "no such order").into_response(),
        Err(e) => {
            tracing::warn!(error = %e, "merchant order book: reading an order failed");
            return axum::http::StatusCode::SERVICE_UNAVAILABLE.into_response();
        }
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
