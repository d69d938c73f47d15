//! The gateway's HTTP face: mounts the channels, the bank's consent callback, health and metrics,
//! behind one layer stack (request ids, tracing without payloads, timeouts, body limits).
//!
//! Routes stay thin: they translate HTTP into calls on the conversation engine and channels, and
//! never read financial data themselves.

pub mod admin;
pub mod bank_notify;
mod callback;
pub mod messenger;
mod metrics;
mod view;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::DefaultBodyLimit;
use axum::http::{HeaderName, StatusCode};
use axum::routing::get;
use axum::{Json, Router};
use okienko_channels::WebChat;
use okienko_dialog::Engine;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::TraceLayer;

pub use metrics::Metrics;

/// Everything the routes need.
#[derive(Clone)]
pub struct AppState {
    pub engine: Arc<Engine>,
    pub metrics: Arc<Metrics>,
}

/// Builds the gateway's router: the web chat at `/`, the consent callback, `/healthz`, `/metrics`.
pub fn router(engine: Arc<Engine>, webchat: WebChat) -> Router {
    router_with(engine, webchat, Router::new())
}

/// [`router`] plus more channels' routes (e.g. [`messenger::routes`]) behind the same layers.
pub fn router_with(engine: Arc<Engine>, webchat: WebChat, channels: Router) -> Router {
    let state = AppState {
        engine,
        metrics: Arc::new(Metrics::default()),
    };
    let request_id = HeaderName::from_static("x-request-id");
    let api = Router::new()
        .route("/consent/callback", get(callback::consent_callback))
        .route("/view/{token}", get(view::confirm).post(view::open))
        .route("/healthz", get(healthz))
        .route("/metrics", get(metrics::render))
        .with_state(state.clone())
        .layer(TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            Duration::from_secs(30),
        ));
    api.merge(webchat.router())
        .merge(channels)
        .layer(axum::middleware::from_fn_with_state(
            state.metrics.clone(),
            metrics::count,
        ))
        .layer(DefaultBodyLimit::max(64 * 1024))
        .layer(PropagateRequestIdLayer::new(request_id.clone()))
        // Spans carry method, path and status only: never query strings, which may hold codes.
        .layer(TraceLayer::new_for_http().make_span_with(|req: &axum::http::Request<_>| {
            tracing::info_span!("http", method = %req.method(), path = %view::log_path(req.uri().path()))
        }))
        .layer(SetRequestIdLayer::new(request_id, MakeRequestUuid))
}

async fn healthz() -> Json<serde_json::Value> {
    Json(serde_json::json!({ "status": "ok" }))
}

/// Serves `router` on `listener` until `shutdown` resolves.
pub async fn serve(
    listener: tokio::net::TcpListener,
    router: Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    use axum::serve::ListenerExt;
    // Chat frames are small and answered at once: without TCP_NODELAY a frame written right
    // after another (the typing notice, then the reply) waits for the client's delayed ACK,
    // some 40 ms (measured by `okienko bench agents`).
    let listener = listener.tap_io(|tcp| {
        if let Err(e) = tcp.set_nodelay(true) {
            tracing::debug!(error = %e, "could not set TCP_NODELAY");
        }
    });
    axum::serve(listener, router)
        .with_graceful_shutdown(shutdown)
        .await
}
