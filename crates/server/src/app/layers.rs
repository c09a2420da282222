//! The layers every request of the public listener passes, composed once,
//! outermost first:
//!
//! 1. `track_requests`: the request log line and the HTTP metrics;
//! 2. [`refuse_blocked_clients`]: the rate limits' one guard (merchant
//!    calls, code redemptions, the OpenID Provider's token endpoint);
//! 3. `signin::redeem_code_in_query`: a `GET` with `authorizationCode`
//!    signs the buyer in before any route;
//! 4. [`harden`]: the security headers of payfac's pages.
//!
//! The request scope (`crate::scope`) is worked out before all of them
//! (`super::front`). A new front end mounted in `super::routes` passes
//! them all, with nothing to copy.

use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::{Next, from_fn, from_fn_with_state};
use axum::response::{IntoResponse, Response};
use axum::{Json, Router};

use crate::AppState;
use crate::boundary::hardening::harden_headers;
use crate::envelope::ApiError;
use crate::observability::track_requests;
use crate::ratelimit::retry_after_secs;
use crate::scope::{Kind, Scope};
use crate::signin::redeem_code_in_query;

/// `routes` with every layer.
pub fn around(routes: Router<AppState>, state: &AppState) -> Router<AppState> {
    routes
        .layer(from_fn_with_state(state.clone(), harden))
        .layer(from_fn_with_state(state.clone(), redeem_code_in_query))
        .layer(from_fn_with_state(state.clone(), refuse_blocked_clients))
        .layer(from_fn(track_requests))
}

/// Headers every HTML page of payfac's carries (`boundary::hardening`),
/// the 404 page and the playground included.
async fn harden(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let mut response = next.run(request).await;
    harden_headers(&mut response, state.config.insecure_cookies);
    response
}

/// Refuses the merchant calls and code redemptions of a client whose
/// failures ran out (`crate::ratelimit`), before any work: no signature
/// check, no storage. The features count the failures themselves.
async fn refuse_blocked_clients(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Response {
    let Some(limiter) = &state.limiter else {
        return next.run(request).await;
    };
    let scope = Scope::get(
        request.extensions(),
        request.method(),
        request.uri(),
        request.headers(),
        &state,
    );
    let kind = match scope.kind {
        Kind::MerchantCall => "merchant_api",
        Kind::OidcToken => "oidc_token",
        kind if kind.redeems_code() => "sign_in",
        _ => return next.run(request).await,
    };
    let Some(wait) = limiter.blocked_for(scope.client) else {
        return next.run(request).await;
    };
    metrics::counter!("payfac_rate_limited_total", "limit" => "client_failures", "kind" => kind)
        .increment(1);
    let retry_after = retry_after_secs(wait);
    let mut response = match scope.kind {
        Kind::MerchantCall => return ApiError::RateLimited(retry_after).into_response(),
        // RFC 6749 §5.2's JSON, as the token endpoint's other errors.
        Kind::OidcToken => (
            StatusCode::TOO_MANY_REQUESTS,
            Json(serde_json::json!({
                "error": "invalid_request",
                "error_description": "too many failed token requests; retry later",
            })),
        )
            .into_response(),
        _ => (
            StatusCode::TOO_MANY_REQUESTS,
            "Too many sign-in attempts from your network. Please try again shortly.",
        )
            .into_response(),
    };
    let headers = response.headers_mut();
    headers.insert(header::RETRY_AFTER, HeaderValue::from(retry_after));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    response
}
