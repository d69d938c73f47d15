//! The console page and its static files, compiled into the binary; served by the same code as
//! the web chat (`okienko_channels::embedded`), with the same security headers.

use axum::extract::Path;
use axum::http::HeaderMap;
use axum::response::Response;
use okienko_channels::embedded::serve;
use rust_embed::RustEmbed;

#[derive(RustEmbed)]
#[folder = "assets/"]
struct Assets;

pub(super) async fn index(headers: HeaderMap) -> Response {
    serve::<Assets>("index.html", &headers)
}

pub(super) async fn asset(Path(path): Path<String>, headers: HeaderMap) -> Response {
    serve::<Assets>(&path, &headers)
}
