//! Server-side browser sessions: the cookie, the extractor that resolves
//! it to a buyer, and sign-out.

use axum::extract::{FromRequestParts, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use payfac_domain::{Buyer, SessionToken};
use payfac_store::{SessionKey, unix_now};

use crate::AppState;

pub const SESSION_COOKIE: &str = "payfac_session";

/// The session token the browser presented, if it has the right shape.
pub fn presented_token(headers: &HeaderMap) -> Option<SessionToken> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == SESSION_COOKIE)
        .and_then(|(_, value)| SessionToken::parse(value).ok())
}

/// The session key of the token the browser presented, if any.
pub fn presented_session(headers: &HeaderMap, state: &AppState) -> Option<SessionKey> {
    presented_token(headers).and_then(|token| SessionKey::of(&token, &state.keys.ids))
}

/// `Set-Cookie` for a new session: `HttpOnly`, `SameSite=Lax`, `Path=/`,
/// and `Secure` unless the service runs for plain-HTTP development.
pub fn session_cookie(token: &SessionToken, max_age: i64, insecure: bool) -> HeaderValue {
    cookie(SESSION_COOKIE, &token.expose(), max_age, insecure)
}

fn clearing_cookie(insecure: bool) -> HeaderValue {
    cookie(SESSION_COOKIE, "", 0, insecure)
}

/// `Set-Cookie` of payfac's own cookies: `HttpOnly`, `SameSite=Lax`,
/// `Path=/`, and `Secure` unless the service runs for plain-HTTP
/// development. `max_age` 0 clears the cookie.
pub(super) fn cookie(name: &str, value: &str, max_age: i64, insecure: bool) -> HeaderValue {
    let secure = if insecure { "" } else { "; Secure" };
    HeaderValue::from_str(&format!(
        "{name}={value}; Max-Age={max_age}; Path=/; HttpOnly; SameSite=Lax{secure}"
    ))
    .expect("credentials and attributes are ASCII")
}

/// The signed-in buyer, or `None`. Storage failures count as signed out
/// (and are logged): a page still renders.
pub struct CurrentBuyer(pub Option<Buyer>);

impl FromRequestParts<AppState> for CurrentBuyer {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let Some(key) = presented_session(&parts.headers, state) else {
            return Ok(Self(None));
        };
        let idle = state.config.session_idle_secs;
        match state.store.session_buyer(key, unix_now(), idle).await {
            Ok(buyer) => Ok(Self(buyer)),
            Err(error) => {
                tracing::error!(%error, "session lookup failed");
                Ok(Self(None))
            }
        }
    }
}

/// `POST /logout`: ends the session on the server and clears the cookie.
pub async fn logout(State(state): State<AppState>, headers: HeaderMap) -> Response {
    if let Some(key) = presented_session(&headers, &state) {
        // This instance stops handing the session to the storefront at once.
        state.identity.cache.forget(key.id.0);
        if let Err(error) = state.store.end_session(key).await {
            tracing::error!(%error, "ending a session failed");
            return (StatusCode::SERVICE_UNAVAILABLE, "Please try again.").into_response();
        }
    }
    let mut response = Redirect::to("/").into_response();
    response.headers_mut().insert(
        header::SET_COOKIE,
        clearing_cookie(state.config.insecure_cookies),
    );
    response
}
