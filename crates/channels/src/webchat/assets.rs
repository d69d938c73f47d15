//! The chat page and its static files, compiled into the binary (see `crate::embedded`).

use axum::extract::Path;
use axum::http::HeaderMap;
use axum::response::Response;
use rust_embed::RustEmbed;

use crate::embedded::serve;

#[derive(RustEmbed)]
#[folder = "assets/"]
struct Assets;

pub(crate) async fn index(headers: HeaderMap) -> Response {
    serve::<Assets>("index.html", &headers)
}

pub(crate) async fn asset(Path(path): Path<String>, headers: HeaderMap) -> Response {
    serve::<Assets>(&path, &headers)
}
