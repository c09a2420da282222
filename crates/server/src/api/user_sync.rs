//! `POST /pay-fac/{merchant}/v1/user`: register or update a buyer and issue
//! a one-time authorization code.

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use payfac_api_types::Issued;
use payfac_domain::AuthorizationCode;
use payfac_store::{SyncOutcome, SyncRequest, new_user_id};

use super::body::{check_content_type, parse_profile};
use super::count_failure;
use super::signed::{Refused, SignedRequest};
use crate::AppState;
use crate::envelope::{ApiError, SignatureFailure, success};
use crate::scope::Scope;

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
        (status = 400, description = "10002 JSON parsing error", body = payfac_api_types::ErrorEnvelope),
        (status = 401, description = "10003 Request signature error", body = payfac_api_types::ErrorEnvelope),
        (status = 404, description = "10001 URL parsing error", body = payfac_api_types::ErrorEnvelope),
        (status = 405, description = "10001 URL parsing error (use POST)", body = payfac_api_types::ErrorEnvelope),
        (status = 413, description = "10002 body over 64 KiB", body = payfac_api_types::ErrorEnvelope),
        (status = 414, description = "10002 query string over 4096 bytes or 64 parameters", body = payfac_api_types::ErrorEnvelope),
        (status = 429, description = "10004 rate limited; see Retry-After", body = payfac_api_types::ErrorEnvelope),
        (status = 500, description = "10004 Server error; nothing was persisted", body = payfac_api_types::ErrorEnvelope),
        (status = 503, description = "10004 overloaded; see Retry-After", body = payfac_api_types::ErrorEnvelope),
    )
)]
pub async fn user_sync(
    State(state): State<AppState>,
    scope: Scope,
    signed: Result<SignedRequest, Refused>,
) -> Response {
    let signed = match signed {
        Ok(signed) => signed,
        Err(refused) => {
            count_failure(&state, &scope, &refused.error);
            return refused.into_response();
        }
    };
    let label = signed.label();
    let mut response = match handle(&state, signed).await {
        Ok(response) => response,
        Err(error) => {
            count_failure(&state, &scope, &error);
            error.into_response()
        }
    };
    response.extensions_mut().insert(label);
    response
}

/// The checks after the signature (docs/PROTOCOL.md §3): content type and
/// JSON, the merchant's call budget, then replay and persistence in one
/// transaction.
async fn handle(state: &AppState, signed: SignedRequest) -> Result<Response, ApiError> {
    let config = &state.config;
    check_content_type(&signed.headers)?;
    let profile = parse_profile(&signed.body)?;
    admit_merchant_call(state, signed.merchant.id.as_str())?;

    let _permit = state
        .backlog
        .writes
        .try_acquire()
        .map_err(|_| ApiError::Overloaded)?;
    let now = signed.now;
    let (secret, code_hash) = AuthorizationCode::new_secret();
    let started = std::time::Instant::now();
    let outcome = state
        .store
        .sync_user(SyncRequest {
            merchant: signed.merchant.id.clone(),
            nonce: signed.verified.nonce.clone(),
            signed_at: signed.verified.timestamp.unix_seconds(),
            window: config.timestamp_window_secs,
            profile,
            new_user_id: new_user_id(),
            code_hash,
            code_expires_at: now + config.code_ttl_secs,
            now,
        })
        .await;
    metrics::histogram!("payfac_storage_duration_seconds", "operation" => "user_sync")
        .record(started.elapsed().as_secs_f64());
    match outcome? {
        SyncOutcome::NonceReused => {
            Err(signed.reject(SignatureFailure::NonceReused, config.sandbox))
        }
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

/// Checks the successful-call budget of a verified merchant call; `Ok`
/// when limits are off.
fn admit_merchant_call(state: &AppState, merchant: &str) -> Result<(), ApiError> {
    let Some(limiter) = state.limiter.as_ref() else {
        return Ok(());
    };
    limiter.admit_merchant_call(merchant).map_err(|wait| {
        metrics::counter!("payfac_rate_limited_total", "limit" => "merchant_calls").increment(1);
        ApiError::RateLimited(crate::ratelimit::retry_after_secs(wait))
    })
}
