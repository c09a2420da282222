//! payfac as an OpenID Provider (issue 30): the authorization code flow
//! of OpenID Connect Core 1.0 for the platform's other apps, with PKCE
//! (RFC 7636), the `iss` authorization response parameter (RFC 9207) and
//! the authorization server rules of RFC 9700.
//!
//! The buyer's sign-in is payfac's own session cookie on the issuer's
//! origin (a merchant's code link signs the buyer in); the provider only
//! hands that sign-in to relying parties. One file per endpoint:
//! `discovery`, `authorize`, `token` (with `id_token` for the claims),
//! `userinfo` and `logout`; `clients` validates registrations (the CLI
//! and the admin API share it); `page` renders the provider's own HTML.
//!
//! Off without `--public-url`: every path below then answers 404, the
//! discovery document included.

mod authorize;
pub mod clients;
mod discovery;
mod id_token;
mod logout;
mod page;
mod token;
mod userinfo;

use axum::Router;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use payfac_store::{OidcSession, SessionKey, StoreError, unix_now};

use crate::AppState;

pub use crate::identity::{ID_TOKEN_TTL_SECS, Provider, issuer_of};
pub use clients::{ClientView, NewClient, Registration};

pub use crate::boundary::paths::{
    OIDC_AUTHORIZE as AUTHORIZE_PATH, OIDC_LOGOUT as LOGOUT_PATH, OIDC_TOKEN as TOKEN_PATH,
    OIDC_USERINFO as USERINFO_PATH, OPENID_CONFIGURATION as DISCOVERY_PATH,
};

/// An authorization code lives this long, seconds (RFC 9700 §4.2.1 asks
/// for short-lived codes; the redirect and the RP's token request take
/// well under a second).
pub const CODE_TTL_SECS: i64 = 60;

/// An access token lives this long, seconds.
pub const ACCESS_TOKEN_TTL_SECS: i64 = payfac_store::ACCESS_TOKEN_MAX_SECS;

/// The scopes payfac knows; any other requested scope is ignored.
pub const SCOPES: [&str; 3] = ["openid", "profile", "email"];

/// The provider's paths, mounted in every mode; each answers 404 while
/// the provider is off, so gateway mode never proxies them upstream.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route(DISCOVERY_PATH, get(discovery::document))
        .route(
            AUTHORIZE_PATH,
            get(authorize::by_query).post(authorize::by_form),
        )
        .route(TOKEN_PATH, post(token::token))
        .route(
            USERINFO_PATH,
            get(userinfo::userinfo).post(userinfo::userinfo),
        )
        .route(LOGOUT_PATH, get(logout::by_query).post(logout::by_form))
}

/// The provider, or the 404 every path answers while it is off.
fn provider(state: &AppState) -> Result<&Provider, Box<Response>> {
    state
        .oidc
        .as_ref()
        .ok_or_else(|| Box::new(no_store(StatusCode::NOT_FOUND.into_response())))
}

/// The browser's live, confirmed payfac session and its buyer. The one
/// place the provider reads payfac's session cookie.
async fn signed_in(
    state: &AppState,
    headers: &HeaderMap,
) -> Result<Option<(SessionKey, OidcSession)>, StoreError> {
    let Some(key) = crate::scope::presented_session(headers, state) else {
        return Ok(None);
    };
    let idle = state.config.session_idle_secs;
    let session = state.store.oidc_session(key, unix_now(), idle).await?;
    Ok(session.map(|session| (key, session)))
}

/// Ends the browser's session as payfac's own logout does
/// (`signin::end_session`).
async fn sign_out(
    state: &AppState,
    headers: &HeaderMap,
    response: &mut Response,
) -> Result<(), StoreError> {
    let session = crate::scope::presented_session(headers, state);
    crate::signin::end_session(state, session, headers, response).await
}

/// Parameters of a query or form, by their first value, and the name of
/// the first one sent more than once, which RFC 6749 §3.1 and §3.2 do not
/// allow.
fn parameters(encoded: &[u8]) -> (std::collections::HashMap<String, String>, Option<String>) {
    let mut map = std::collections::HashMap::new();
    let mut repeated = None;
    for (name, value) in form_urlencoded::parse(encoded) {
        if map.contains_key(&*name) {
            repeated.get_or_insert_with(|| name.into_owned());
        } else {
            map.insert(name.into_owned(), value.into_owned());
        }
    }
    (map, repeated)
}

/// `Cache-Control: no-store` and no `Referer`: every provider answer
/// carries a secret or depends on the session.
fn no_store(mut response: Response) -> Response {
    let headers = response.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    response
}

/// BASE64URL(SHA-256(verifier)): the S256 challenge of a PKCE verifier.
pub fn s256(verifier: &str) -> String {
    use base64::Engine;
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, verifier.as_bytes());
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(digest)
}

/// RFC 7636 §4.1: 43–128 characters of `[A-Za-z0-9-._~]` (a challenge
/// of S256 is 43 of base64url, which this accepts too).
fn is_pkce_text(text: &str, min: usize) -> bool {
    (min..=128).contains(&text.len())
        && text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~'))
}

fn unavailable(error: &StoreError) -> Response {
    tracing::error!(%error, "OpenID Provider storage call failed");
    no_store(
        (
            StatusCode::SERVICE_UNAVAILABLE,
            [(header::RETRY_AFTER, "1")],
            "Please try again shortly.",
        )
            .into_response(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 7636 Appendix B.
    #[test]
    fn s256_matches_rfc_7636() {
        assert_eq!(
            s256("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"),
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        );
    }

    #[test]
    fn repeated_parameters_are_named() {
        let (map, repeated) = parameters(b"a=1&b=2");
        assert_eq!((map["b"].as_str(), repeated), ("2", None));
        let (map, repeated) = parameters(b"a=1&a=2");
        assert_eq!((map["a"].as_str(), repeated.as_deref()), ("1", Some("a")));
    }

    #[test]
    fn pkce_text_has_its_length_and_alphabet() {
        assert!(is_pkce_text(&"a".repeat(43), 43));
        assert!(!is_pkce_text(&"a".repeat(42), 43));
        assert!(!is_pkce_text(&"a".repeat(129), 43));
        assert!(!is_pkce_text(&format!("{}+", "a".repeat(43)), 43));
        assert_eq!(issuer_of("https://id.example/"), "https://id.example");
    }
}
