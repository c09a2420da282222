//! Sign-in: how a buyer's browser becomes signed in, stays signed in and
//! signs out, for every front end.
//!
//! - [`code`]: single sign-on by `?authorizationCode=` on any page `GET`
//!   (the router's layer), and the same redemption for forward auth;
//! - [`consent`]: the "switch account?" question when the code is for
//!   another buyer than the browser's session;
//! - [`session`]: the session cookie resolved to the current buyer, and
//!   sign-out;
//! - [`routes`]: payfac's own buyer routes under `/_payfac/`, served in
//!   every mode.
//!
//! The demo storefront, the gateway, forward auth and the OpenID Provider
//! are clients of this module; it knows none of them.

mod code;
mod consent;
mod session;

use axum::Router;
use axum::routing::{get, post};

use crate::AppState;

pub use code::{SignIn, redeem_code_in_query, sign_in, sign_in_response};
pub use session::{CurrentBuyer, end_session, logout, me};

/// payfac's own buyer routes, under its prefix so they never shadow a
/// path of the platform's storefront.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/_payfac/me", get(me))
        .route("/_payfac/logout", post(logout))
        .route(
            "/_payfac/sign-in/confirm",
            get(consent::page).post(consent::decide),
        )
        // The stylesheet of payfac's own pages (the consent page included,
        // which gateway mode serves too).
        .route("/_payfac/assets/site.css", get(crate::pages::site_css))
}
