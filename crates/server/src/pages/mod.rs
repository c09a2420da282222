//! The buyer-facing platform pages, and single sign-on by authorization
//! code on any of them.

mod consent;
mod session;
mod sign_in;
mod views;

use axum::Router;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, header};
use axum::middleware::Next;
use axum::response::Response;
use axum::routing::{get, post};

use crate::AppState;

pub use session::{CurrentBuyer, presented_session, presented_token};
pub use sign_in::{
    SignIn, code_in, has_code, query_without_code, redeem_code_in_query, sign_in, sign_in_response,
};
pub use views::not_found;

/// The buyer routes payfac answers in every mode, under its own prefix so
/// they never shadow a path of the platform's storefront.
pub fn buyer_routes() -> Router<AppState> {
    Router::new()
        .route("/_payfac/me", get(views::me))
        .route("/_payfac/logout", post(session::logout))
        .route(
            "/_payfac/sign-in/confirm",
            get(consent::page).post(consent::decide),
        )
        // The stylesheet of payfac's own pages (the consent page included,
        // which gateway mode serves too).
        .route("/_payfac/assets/site.css", get(views::site_css))
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

/// `Strict-Transport-Security`: one year, the usual minimum. No
/// `includeSubDomains` (the service does not speak for other hosts of its
/// domain) and no `preload` (the domain owner's decision).
pub const HSTS: &str = "max-age=31536000";

/// Marks a response the upstream storefront made (gateway mode): its
/// pages are the platform's, with their own scripts and headers, and
/// `harden` leaves them as they are.
#[derive(Debug, Clone, Copy)]
pub struct Storefront;

/// Headers every HTML page carries: no framing, no sniffing, scripts and
/// styles from this origin only, no referrer; and HSTS when session cookies
/// are `Secure`, i.e. the service is reached over HTTPS (with
/// `--insecure-cookies`, plain-HTTP development, a browser must not be told
/// to insist on HTTPS for that host for a year).
///
/// A layer over the whole router (`startup::router`), so every `text/html`
/// response has them, the 404 page and the playground included. A header
/// the handler set itself is kept.
pub async fn harden(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let mut response = next.run(request).await;
    harden_headers(&mut response, state.config.insecure_cookies);
    response
}

/// What `harden` does to one response; the gateway's shortcut calls it
/// directly.
pub fn harden_headers(response: &mut Response, insecure_cookies: bool) {
    if response.extensions().get::<Storefront>().is_some() {
        return;
    }
    let html = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| value.starts_with("text/html"));
    if !html {
        return;
    }
    let hsts = (!insecure_cookies).then_some((header::STRICT_TRANSPORT_SECURITY, HSTS));
    let headers = response.headers_mut();
    for (name, value) in [
        (
            header::CONTENT_SECURITY_POLICY,
            "default-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
        ),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::X_FRAME_OPTIONS, "DENY"),
        (header::REFERRER_POLICY, "no-referrer"),
    ]
    .into_iter()
    .chain(hsts)
    {
        headers
            .entry(name)
            .or_insert(HeaderValue::from_static(value));
    }
}
