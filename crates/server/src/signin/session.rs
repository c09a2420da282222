//! Server-side browser sessions: the cookie, the extractor that resolves
//! it to a buyer, and sign-out.

use axum::Json;
use axum::extract::{FromRequestParts, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use payfac_domain::{Buyer, SessionToken};
use payfac_store::unix_now;

use crate::AppState;
use crate::boundary::{cookies, origin};
use crate::scope::Scope;

/// `Set-Cookie` for a new session (`boundary::cookies::set`).
pub fn session_cookie(token: &SessionToken, max_age: i64, insecure: bool) -> HeaderValue {
    cookies::set(cookies::SESSION, &token.expose(), max_age, insecure)
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
        let scope = Scope::from_request_parts(parts, state).await?;
        let Some(key) = scope.session else {
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

/// `POST /_payfac/logout` (and the demo's `POST /logout`): ends the
/// session on the server and clears payfac's cookies the browser
/// presented, and only those.
///
/// A logout from another site is refused (`boundary::origin`): a clearing
/// `Set-Cookie` answered to an attacker's auto-submitted form would sign
/// the victim out, and the attacker's code link would then sign the
/// victim in as the attacker without the "switch account" question. For
/// the same reason a browser that presented no session cookie gets no
/// clearing cookie.
pub async fn logout(State(state): State<AppState>, scope: Scope, headers: HeaderMap) -> Response {
    if origin::is_cross_site(&headers) {
        metrics::counter!("payfac_logouts_refused_total").increment(1);
        tracing::warn!("logout refused: cross-site");
        let mut response = (
            StatusCode::FORBIDDEN,
            "This sign-out came from another site and was not accepted.",
        )
            .into_response();
        response
            .headers_mut()
            .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        return response;
    }
    let mut response = StatusCode::SEE_OTHER.into_response();
    if let Err(error) = end_session(&state, scope.session, &headers, &mut response).await {
        tracing::error!(%error, "ending a session failed");
        return (StatusCode::SERVICE_UNAVAILABLE, "Please try again.").into_response();
    }
    let headers_out = response.headers_mut();
    headers_out.insert(header::LOCATION, HeaderValue::from_static("/"));
    headers_out.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// Ends `session` (if any) on the server and in this instance's hand-off
/// memo, and adds to `response` a clearing cookie for each of payfac's
/// cookies the browser presented, and only those. Every sign-out (this
/// module's and the OpenID Provider's) goes through here.
pub async fn end_session(
    state: &AppState,
    session: Option<payfac_store::SessionKey>,
    presented: &HeaderMap,
    response: &mut Response,
) -> Result<(), payfac_store::StoreError> {
    if let Some(key) = session {
        // This instance stops handing the session to the storefront at once.
        state.identity.cache.forget(key.id.0);
        state.store.end_session(key).await?;
    }
    let insecure = state.config.insecure_cookies;
    for name in cookies::ISSUED {
        if cookies::presented(presented, name) {
            response
                .headers_mut()
                .append(header::SET_COOKIE, cookies::clear(name, insecure));
        }
    }
    Ok(())
}

/// `GET /_payfac/me` (and the demo's `/api/me`): the signed-in buyer as a
/// flat JSON object, or 401.
pub async fn me(current: CurrentBuyer) -> Response {
    let mut response = match current.0 {
        Some(buyer) => Json(buyer).into_response(),
        None => (
            StatusCode::UNAUTHORIZED,
            Json(serde_json::json!({"error": "not signed in"})),
        )
            .into_response(),
    };
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}
