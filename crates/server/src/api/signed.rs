//! The signed-request extractor: every check of docs/PROTOCOL.md §3 that
//! comes before the body is read as JSON, in order (route, merchant and
//! version → method → query and body size → signature), so that a
//! handler receives only a request its merchant signed.

use std::sync::Arc;

use axum::RequestExt;
use axum::body::Bytes;
use axum::extract::{FromRequest, Path, Request};
use axum::http::{HeaderMap, Method};
use axum::response::{IntoResponse, Response};
use payfac_store::unix_now;

use super::body::{check_query_size, read_body};
use super::verify::{SignedParts, Verified};
use crate::AppState;
use crate::envelope::{ApiError, SignatureFailure};
use crate::merchants::Merchant;
use crate::observability::MerchantLabel;

/// A merchant request that passed the route, size and signature checks.
pub struct SignedRequest {
    pub merchant: Arc<Merchant>,
    pub verified: Verified,
    pub headers: HeaderMap,
    pub raw_query: String,
    pub body: Bytes,
    /// The server time the timestamp was judged by.
    pub now: i64,
}

impl SignedRequest {
    /// The 10003 answer for `reason` (a replay found at storage):
    /// logged and counted like every signature failure.
    pub fn reject(&self, reason: SignatureFailure, sandbox: bool) -> ApiError {
        self.parts()
            .reject(&self.merchant, reason, self.now, sandbox)
    }

    fn parts(&self) -> SignedParts<'_> {
        SignedParts {
            headers: &self.headers,
            raw_query: &self.raw_query,
            body: &self.body,
        }
    }

    /// The label of the request log and metrics.
    pub fn label(&self) -> MerchantLabel {
        MerchantLabel(self.merchant.id.to_string())
    }
}

/// A refused request: its error, and the merchant it named when that is
/// a known, active merchant (the request log and metrics are labelled
/// with it only then).
pub struct Refused {
    pub error: ApiError,
    pub merchant: Option<MerchantLabel>,
}

impl IntoResponse for Refused {
    fn into_response(self) -> Response {
        let mut response = self.error.into_response();
        if let Some(label) = self.merchant {
            response.extensions_mut().insert(label);
        }
        response
    }
}

impl FromRequest<AppState> for SignedRequest {
    type Rejection = Refused;

    async fn from_request(mut request: Request, state: &AppState) -> Result<Self, Refused> {
        let merchant = request
            .extract_parts::<Path<(String, String)>>()
            .await
            .ok()
            .filter(|Path((_, version))| version == "v1")
            .and_then(|Path((id, _))| state.merchants.active(&id));
        let label = merchant.as_ref().map(|m| MerchantLabel(m.id.to_string()));
        check(request, merchant, state)
            .await
            .map_err(|error| Refused {
                error,
                merchant: label,
            })
    }
}

async fn check(
    request: Request,
    merchant: Option<Arc<Merchant>>,
    state: &AppState,
) -> Result<SignedRequest, ApiError> {
    let merchant = merchant.ok_or(ApiError::Route)?;
    if request.method() != Method::POST {
        return Err(ApiError::Method);
    }
    let (parts, body) = request.into_parts();
    let raw_query = parts.uri.query().unwrap_or("").to_owned();
    check_query_size(&raw_query)?;
    let body = read_body(&parts.headers, body).await?;
    // Reading the body may take up to 15 s: a `merchant disable` or `key
    // remove` that reached the directory meanwhile applies to this request.
    let merchant = state
        .merchants
        .active(merchant.id.as_str())
        .ok_or(ApiError::Route)?;
    let now = unix_now();
    let config = &state.config;
    let headers = parts.headers;
    let signed = SignedParts {
        headers: &headers,
        raw_query: &raw_query,
        body: &body,
    };
    let verified = signed
        .verify(&merchant, now, config.timestamp_window_secs)
        .map_err(|reason| signed.reject(&merchant, reason, now, config.sandbox))?;
    Ok(SignedRequest {
        merchant,
        verified,
        headers,
        raw_query,
        body,
        now,
    })
}
