//! A few Prometheus counters in the text exposition format. Labels carry route classes and status
//! codes only, never anything a customer typed.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::AppState;

#[derive(Debug, Default)]
pub struct Metrics {
    requests: AtomicU64,
    responses_4xx: AtomicU64,
    responses_5xx: AtomicU64,
}

pub async fn count(State(m): State<Arc<Metrics>>, req: Request, next: Next) -> Response {
    m.requests.fetch_add(1, Ordering::Relaxed);
    let resp = next.run(req).await;
    let status = resp.status();
    if status.is_client_error() {
        m.responses_4xx.fetch_add(1, Ordering::Relaxed);
    } else if status.is_server_error() {
        m.responses_5xx.fetch_add(1, Ordering::Relaxed);
    }
    resp
}

pub async fn render(State(app): State<AppState>) -> impl IntoResponse {
    let m = &app.metrics;
    let body = format!(
        "# HELP okienko_http_requests_total HTTP requests received.\n\
# TYPE okienko_http_requests_total counter\n\
okienko_http_requests_total {}\n\
# HELP okienko_http_responses_total HTTP error responses by class.\n\
# TYPE okienko_http_responses_total counter\n\
okienko_http_responses_total{{class=\"4xx\"}} {}\n\
okienko_http_responses_total{{class=\"5xx\"}} {}\n",
        m.requests.load(Ordering::Relaxed),
        m.responses_4xx.load(Ordering::Relaxed),
        m.responses_5xx.load(Ordering::Relaxed),
    );
    (
        [(
            axum::http::header::CONTENT_TYPE,
            "text/plain; version=0.0.4",
        )],
        body,
    )
}
