//! okienko's sandbox bank: a Berlin Group NextGenPSD2 1.3.11 account-information server with an
//! OAuth2 (PKCE) redirect SCA page, a decoupled "bank app", synthetic customers and a test
//! control API.
//!
//! It is a separate system that happens to live in the workspace: it shares only okienko-core's
//! types and keeps its whole state in memory, never in the gateway's store. Links it returns are
//! absolute URLs built from the request's `Host` header, so it works on any port.

mod acquiring;
mod api;
mod app;
mod bench;
mod bookings;
mod cards;
mod consent;
mod control;
mod data;
mod error;
mod html;
mod http;
mod ledger;
mod notify;
mod oauth;
mod state;

use std::future::Future;
use std::sync::Arc;

use chrono::NaiveDate;
use okienko_core::Currency;

pub use bench::ledger_bench;
pub use error::ApiError;

/// How to build a sandbox bank.
#[derive(Debug, Clone)]
pub struct SandboxConfig {
    /// Number of customers (at least the two demo personas are always there).
    pub customers: usize,
    /// Seed of the deterministic data generator.
    pub seed: u64,
    /// The bank's day at start; history runs two years back from it.
    pub today: NaiveDate,
    /// Enables the `/sandbox/*` test control routes.
    pub control_api: bool,
}

/// A login the sandbox accepts (all passwords are `demo`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DemoLogin {
    pub psu_id: String,
    pub password: String,
    pub name: String,
    pub currency: Currency,
}

/// The sandbox bank. Cheap to clone; all clones share one bank.
#[derive(Clone)]
pub struct SandboxBank {
    inner: Arc<state::Inner>,
}

impl SandboxBank {
    pub fn new(cfg: SandboxConfig) -> SandboxBank {
        SandboxBank {
            inner: Arc::new(state::Inner::new(&cfg)),
        }
    }

    /// Everything: NextGenPSD2 under `/v1/`, OAuth under `/oauth/` and `/.well-known/`, the bank
    /// app at `/app`, and `/sandbox/*` when the control API is on.
    pub fn router(&self) -> axum::Router {
        let mut r = axum::Router::new()
            .merge(api::routes(self.inner.clone()))
            .merge(oauth::routes())
            .merge(app::routes())
            .merge(acquiring::routes());
        if self.inner.control_api {
            r = r
                .merge(control::routes())
                .merge(acquiring::control_routes());
        }
        r.fallback(http::not_found)
            .layer(axum::middleware::from_fn(http::request_id))
            .with_state(self.inner.clone())
    }

    /// Serves until `shutdown` resolves.
    pub async fn serve(
        self,
        listener: tokio::net::TcpListener,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        axum::serve(listener, self.router())
            .with_graceful_shutdown(shutdown)
            .await
    }

    /// Turns on new-transaction notifications (a sandbox extension, see the README): consents
    /// created with a `TPP-Notification-URI` get a signed POST there when money lands on one of
    /// their accounts. `secret` is shared with the TPP (at least 16 characters); false when it
    /// is too short or notifications were already on.
    pub fn enable_notifications(&self, secret: &str) -> bool {
        if secret.trim().len() < 16 {
            return false;
        }
        match notify::Notifier::new(secret, std::time::Duration::from_secs(5)) {
            Some(n) => self.inner.notifier.set(n).is_ok(),
            None => false,
        }
    }

    /// Every customer's login, demo personas (`anna`, `john`) first.
    pub fn demo_logins(&self) -> Vec<DemoLogin> {
        let books = &self.inner.books;
        (1..=books.customers)
            .map(|i| {
                let p = data::profile(books.seed, i, books.start);
                DemoLogin {
                    psu_id: p.psu_id,
                    password: state::DEMO_PASSWORD.to_owned(),
                    name: p.name,
                    currency: p.currency,
                }
            })
            .collect()
    }
}
