//! `GET /playground`: a page where a merchant's engineer signs a request in
//! the browser (WebCrypto; the private key never leaves the page), sends
//! it, and reads the sandbox diagnostics. Assets are embedded.

use axum::Router;
use axum::http::header;
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;

use crate::AppState;
use crate::pages::harden;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/playground", get(page))
        .route("/assets/playground.js", get(script))
        .route("/assets/playground.css", get(stylesheet))
        .route("/openapi.json", get(crate::api::openapi::openapi_json))
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
