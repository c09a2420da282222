//! `POST /pay-fac/{merchant}/v1/user`: register or update a buyer and issue
//! a one-time authorization code.

use std::sync::Arc;

use axum::extract::rejection::PathRejection;
use axum::extract::{Path, Request, State};
use axum::http::Method;
use axum::response::{IntoResponse, Response};
use payfac_api_types::Issued;
use payfac_domain::AuthorizationCode;
use payfac_store::{SyncOutcome, SyncRequest, new_user_id, unix_now};

use super::body::{check_content_type, check_query_size, parse_profile, read_body};
use super::verify::SignedParts;
use crate::AppState;
use crate::envelope::{ApiError, SignatureFailure, success};
use crate::merchants::Merchant;
use crate::observability::MerchantLabel;

/// Register or update a buyer and issue a one-time authorization code.
#[utoipa::path(
    post,
    path = "/pay-fac/{merchant}/{version}/user",
    tag = "merchant",
    params(
        ("merchant" = String, Path, description = "Merchant ID assigned by the platform"),
        ("version" = String, Path, description = "API version: v1"),
        ("timestamp" = String, Header, description = "Unix time in seconds, at most 12 digits"),
        ("nonce" = String, Header, description = "6-32 of [A-Za-z0-9], unique per request"),
        ("signature" = String, Header, description = "Base64 SHA256withRSA signature"),
    ),
    request_body(content = payfac_api_types::UserSyncBody, content_type = "application/json"),
    responses(
        (status = 200, description = "0000 Success", body = payfac_api_types::Envelope<Issued>),
        (status = 400, description = "10002 JSON parsing error", body = crate::api::openapi::ErrorEnvelope),
        (status = 401, description = "10003 Request signature error", body = crate::api::openapi::ErrorEnvelope),
        (status = 404, description = "10001 URL parsing error", body = crate::api::openapi::ErrorEnvelope),
        (status = 405, description = "10001 URL parsing error (use POST)", body = crate::api::openapi::ErrorEnvelope),
        (status = 413, description = "10002 body over 64 KiB", body = crate::api::openapi::ErrorEnvelope),
        (status = 414, description = "10002 query string over 4096 bytes or 64 parameters", body = crate::api::openapi::ErrorEnvelope),
        (status = 429, description = "10004 rate limited; see Retry-After", body = crate::api::openapi::ErrorEnvelope),
        (status = 500, description = "10004 Server error; nothing was persisted", body = crate::api::openapi::ErrorEnvelope),
        (status = 503, description = "10004 overloaded; see Retry-After", body = crate::api::openapi::ErrorEnvelope),
    )
)]
pub async fn user_sync(
    State(state): State<AppState>,
    path: Result<Path<(String, String)>, PathRejection>,
    request: Request,
) -> Response {
    // Looked up once: the handler uses it, and the request log is labelled
    // with it only when it is a known, active merchant.
    let merchant = path
        .ok()
        .filter(|Path((_, version))| version == "v1")
        .and_then(|Path((id, _))| state.merchants.active(&id));
    let label = merchant.as_ref().map(|m| MerchantLabel(m.id.to_string()));
    let mut response = match handle(&state, merchant, request).await {
        Ok(response) => response,
        Err(error) => error.into_response(),
    };
    if let Some(label) = label {
        response.extensions_mut().insert(label);
    }
    response
}

/// The checks of docs/PROTOCOL.md §3 in their order: route, query and body size, signature,
/// content type and JSON, then replay and persistence in one transaction.
/// `merchant` is `None` when the route, version or merchant is unknown.
async fn handle(
    state: &AppState,
    merchant: Option<Arc<Merchant>>,
    request: Request,
) -> Result<Response, ApiError> {
    let merchant = merchant.ok_or(ApiError::Route)?;
    if request.method() != Method::POST {
        return Err(ApiError::Method);
    }
    let (parts, body) = request.into_parts();
    check_query_size(parts.uri.query().unwrap_or(""))?;
    let body = read_body(&parts.headers, body).await?;
    // Reading the body may take up to 15 s: a `merchant disable` or `key
    // remove` that reached the directory meanwhile applies to this request.
    let merchant = state
        .merchants
        .active(merchant.id.as_str())
        .ok_or(ApiError::Route)?;

    let now = unix_now();
    let config = &state.config;
    let signed = SignedParts {
        headers: &parts.headers,
        raw_query: parts.uri.query().unwrap_or(""),
        body: &body,
    };
    let merchant_id = merchant.id.as_str();
    let reject = |reason| signed.reject(merchant_id, reason, now, config.sandbox);
    let verified = signed
        .verify(&merchant, now, config.timestamp_window_secs)
        .map_err(reject)?;

    check_content_type(&parts.headers)?;
    let profile = parse_profile(&body)?;
    crate::ratelimit::admit_merchant_call(state, merchant_id)?;

    let _permit = state
        .storage_permits
        .try_acquire()
        .map_err(|_| ApiError::Overloaded)?;
    let (secret, code_hash) = AuthorizationCode::new_secret();
    let outcome = state
        .store
        .sync_user(SyncRequest {
            merchant: merchant.id.clone(),
            nonce: verified.nonce,
            signed_at: verified.timestamp.unix_seconds(),
            window: config.timestamp_window_secs,
            profile,
            new_user_id: new_user_id(),
            code_hash,
            code_expires_at: now + config.code_ttl_secs,
            now,
        })
        .await?;
    match outcome {
        SyncOutcome::NonceReused => Err(reject(SignatureFailure::NonceReused)),
        SyncOutcome::Issued { user_id, code_id } => {
            metrics::counter!("payfac_codes_issued_total").increment(1);
            let code = AuthorizationCode::assemble(code_id, secret, &state.keys.ids);
            Ok(success(Issued {
                user_id: user_id.to_string(),
                authorization_code: code.expose(),
            }))
        }
    }
}
