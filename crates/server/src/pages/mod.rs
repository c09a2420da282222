//! The buyer-facing platform pages, and single sign-on by authorization
//! code on any of them.

mod session;
mod sign_in;
mod views;

use axum::Router;
use axum::http::{HeaderValue, header};
use axum::response::Response;
use axum::routing::{get, post};

use crate::AppState;

pub use session::{CurrentBuyer, SESSION_COOKIE, presented_token};
pub use sign_in::{redeem_code_in_query, safe_location};
pub use views::not_found;

/// The buyer routes payfac answers in every mode, under its own prefix so
/// they never shadow a path of the platform's storefront.
pub fn buyer_routes() -> Router<AppState> {
    Router::new()
        .route("/_payfac/me", get(views::me))
        .route("/_payfac/logout", post(session::logout))
}

/// The built-in demo storefront, served when there is no upstream: `/`,
/// `/items/{itemId}`, `/orders`, `/account`, `/api/me`, `/logout` and the
/// site's static assets.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/", get(views::home))
        .route("/items/{item_id}", get(views::item))
        .route("/orders", get(views::orders))
        .route("/account", get(views::account))
        .route("/api/me", get(views::me))
        .route("/logout", post(session::logout))
        .route("/assets/site.css", get(views::site_css))
        .route("/favicon.ico", get(views::favicon))
}

/// Headers every page carries: no framing, no sniffing, scripts and styles
/// from this origin only, and no caching of personal pages.
pub fn harden(mut response: Response) -> Response {
    let headers = response.headers_mut();
    for (name, value) in [
        (
            header::CONTENT_SECURITY_POLICY,
            "default-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
        ),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::X_FRAME_OPTIONS, "DENY"),
        (header::REFERRER_POLICY, "no-referrer"),
    ] {
        headers
            .entry(name)
            .or_insert(HeaderValue::from_static(value));
    }
    response
}
