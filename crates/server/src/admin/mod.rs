//! The operator's admin API (`/admin/v1/…`), served only on its own
//! listener (`payfac serve --admin-listen ADDR`), never on the public
//! one. Every call needs an admin token (`payfac admin-token create`);
//! every answer is JSON, errors RFC 9457 problem details; every change is
//! recorded in the audit trail. The actions themselves (`actions`) are
//! shared with the CLI, so both validate and answer alike.

pub mod actions;
mod auth;
mod oidc_clients;
pub mod openapi;
pub mod problem;
mod routes;
pub mod views;

use std::sync::Arc;

use axum::Router;
use axum::extract::{DefaultBodyLimit, MatchedPath, Request, State};
use axum::http::{StatusCode, Uri};
use axum::middleware::Next;
use axum::response::Response;
use axum::routing::{get, post};
use payfac_store::Store;

use problem::Problem;

pub use auth::CACHE_TTL as TOKEN_CACHE_TTL;

/// Largest admin request body: a 4096-bit PEM key is under 1 KiB.
const BODY_LIMIT: usize = 64 * 1024;

#[derive(Clone)]
pub struct AdminState {
    pub store: Arc<dyn Store>,
    /// For counting a buyer's live sessions, as the pages judge them.
    pub idle_secs: i64,
    /// This instance's memo of sessions' identity headers: emptied when an
    /// action ends sessions or erases a buyer, so this instance stops
    /// handing them to the storefront at once (others within
    /// `identity::cache::RECHECK`).
    pub handoffs: Arc<crate::identity::HandoffCache>,
    /// This instance's merchant directory: reloaded after a merchant or
    /// key change, so the change works here at once (other instances at
    /// their next poll, within a second).
    pub merchants: crate::merchants::MerchantDirectory,
}

/// The admin API; state from the service's.
pub fn router(state: crate::AppState) -> Router {
    let tokens = auth::Tokens::new(state.store.clone());
    let state = AdminState {
        store: state.store.clone(),
        idle_secs: state.config.session_idle_secs,
        handoffs: state.identity.cache.clone(),
        merchants: state.merchants.clone(),
    };
    let merchant_buyer = "/admin/v1/merchants/{id}/buyers/{merchant_user_no}";
    let buyer = "/admin/v1/buyers/{user_id}";
    Router::new()
        .route(
            "/admin/v1/merchants",
            get(routes::list_merchants).post(routes::add_merchant),
        )
        .route("/admin/v1/merchants/{id}", get(routes::get_merchant))
        .route("/admin/v1/merchants/{id}/keys", post(routes::add_key))
        .route(
            "/admin/v1/merchants/{id}/keys/{key_id}",
            axum::routing::delete(routes::remove_key),
        )
        .route("/admin/v1/merchants/{id}/disable", post(routes::disable))
        .route("/admin/v1/merchants/{id}/enable", post(routes::enable))
        .route(
            merchant_buyer,
            get(routes::show_by_merchant).delete(routes::erase_by_merchant),
        )
        .route(
            &format!("{merchant_buyer}/export"),
            get(routes::export_by_merchant),
        )
        .route(
            &format!("{merchant_buyer}/sessions/revoke"),
            post(routes::revoke_by_merchant),
        )
        .route(
            buyer,
            get(routes::show_by_user_id).delete(routes::erase_by_user_id),
        )
        .route(&format!("{buyer}/export"), get(routes::export_by_user_id))
        .route(
            &format!("{buyer}/sessions/revoke"),
            post(routes::revoke_by_user_id),
        )
        .route("/admin/v1/audit", get(routes::audit))
        .route(
            "/admin/v1/oidc-clients",
            get(oidc_clients::list).post(oidc_clients::add),
        )
        .route(
            "/admin/v1/oidc-clients/{client_id}",
            axum::routing::delete(oidc_clients::remove),
        )
        .route("/admin/v1/openapi.json", get(openapi::openapi_json))
        .method_not_allowed_fallback(method_not_allowed)
        .fallback(not_found)
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            audit_refusals,
        ))
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .layer(axum::middleware::from_fn_with_state(
            tokens,
            auth::require_token,
        ))
        .layer(axum::middleware::from_fn(
            crate::observability::track_requests,
        ))
        .with_state(state)
}

/// Records every request the API refused for its input (400 malformed
/// JSON, 413 too large, 415 media type, 422 a bad path or field): such a
/// request never reaches an action, which records what it does itself.
/// The record names the route and the status, never the body.
async fn audit_refusals(State(state): State<AdminState>, request: Request, next: Next) -> Response {
    let method = request.method().clone();
    let route = request.extensions().get::<MatchedPath>().map_or_else(
        || request.uri().path().to_owned(),
        |path| path.as_str().to_owned(),
    );
    let target = request.uri().path().to_owned();
    let actor = request.extensions().get::<auth::Actor>().cloned();
    let response = next.run(request).await;
    let status = response.status();
    let refused = matches!(
        status,
        StatusCode::BAD_REQUEST
            | StatusCode::PAYLOAD_TOO_LARGE
            | StatusCode::UNSUPPORTED_MEDIA_TYPE
            | StatusCode::UNPROCESSABLE_ENTITY
    );
    if refused && let Some(actor) = actor {
        let operator = actions::Operator {
            store: state.store.as_ref(),
            actor: &actor.0,
        };
        let why = format!(
            "{} {}",
            status.as_u16(),
            status.canonical_reason().unwrap_or_default()
        );
        operator
            .refused(&format!("{method} {route}"), &target, &why)
            .await;
    }
    response
}

async fn not_found(uri: Uri) -> Problem {
    Problem::not_found(format!("no admin API route {}", uri.path()))
}

async fn method_not_allowed() -> Problem {
    Problem::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method-not-allowed",
        "Method not allowed",
        "this route does not take that method",
    )
}
