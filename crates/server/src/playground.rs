//! `GET /playground`: a page where a merchant's engineer signs a request in
//! the browser (WebCrypto; the private key never leaves the page), sends
//! it, and reads the sandbox diagnostics. Assets are embedded.

use axum::Router;
use axum::http::header;
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;

use crate::AppState;
use crate::pages::harden;

/// The playground under `/_payfac/` (every mode) and the OpenAPI document.
/// The page names its assets by relative paths, so the same page works at
/// `/playground` too.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/_payfac/playground", get(page))
        .route("/_payfac/assets/playground.js", get(script))
        .route("/_payfac/assets/playground.css", get(stylesheet))
        .route("/openapi.json", get(crate::api::openapi::openapi_json))
}

/// The playground at its original paths, for the built-in storefront
/// (with an upstream, these paths are the storefront's).
pub fn demo_routes() -> Router<AppState> {
    Router::new()
        .route("/playground", get(page))
        .route("/assets/playground.js", get(script))
        .route("/assets/playground.css", get(stylesheet))
}

async fn page() -> Response {
    harden(Html(include_str!("../assets/playground.html")).into_response())
}

async fn script() -> Response {
    asset(
        "text/javascript; charset=utf-8",
        include_str!("../assets/playground.js"),
    )
}

async fn stylesheet() -> Response {
    asset(
        "text/css; charset=utf-8",
        include_str!("../assets/playground.css"),
    )
}

fn asset(content_type: &'static str, body: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, content_type),
            (header::CACHE_CONTROL, "public, max-age=300"),
        ],
        body,
    )
        .into_response()
}
