//! `GET /playground`: a page where a merchant's engineer signs a request in
//! the browser (WebCrypto; the private key never leaves the page), sends
//! it, and reads the sandbox diagnostics. Assets are embedded.

use axum::Router;
use axum::http::header;
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;

use crate::AppState;
use crate::pages::harden;

/// The page's ES modules, served at `/assets/playground/{name}`. `ui.mjs`
/// is the entry point; it imports the others by relative URL.
const MODULES: &[(&str, &str)] = &[
    ("ui.mjs", include_str!("../assets/playground/ui.mjs")),
    (
        "signing.mjs",
        include_str!("../assets/playground/signing.mjs"),
    ),
    ("keys.mjs", include_str!("../assets/playground/keys.mjs")),
    (
        "explanations.mjs",
        include_str!("../assets/playground/explanations.mjs"),
    ),
];

pub fn routes() -> Router<AppState> {
    let mut router = Router::new()
        .route("/playground", get(page))
        .route("/assets/playground.css", get(stylesheet))
        .route("/openapi.json", get(crate::api::openapi::openapi_json));
    // One route per module, so an unknown name falls through to the site's
    // 404 like any other path.
    for &(name, source) in MODULES {
        router = router.route(
            &format!("/assets/playground/{name}"),
            get(move || async move { module(source) }),
        );
    }
    router
}

async fn page() -> Response {
    harden(Html(include_str!("../assets/playground.html")).into_response())
}

async fn stylesheet() -> Response {
    asset(
        "text/css; charset=utf-8",
        include_str!("../assets/playground.css"),
    )
}

/// Modules are revalidated on every load: their URLs carry no version, and
/// a browser that mixed a cached module with a newer one after a deploy
/// would fail on a missing import.
fn module(source: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/javascript; charset=utf-8"),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        source,
    )
        .into_response()
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
