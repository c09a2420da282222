//! The merchant API's JSON envelope and its error codes.
//!
//! `ApiError` maps one-to-one onto the codes of docs/PROTOCOL.md §3; its
//! `IntoResponse` is the only place an error becomes an answer, and the
//! only place an unexpected failure is logged.

use std::borrow::Cow;

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use payfac_api_types::{Envelope, code};
use serde::Serialize;

pub use payfac_api_types::SignatureDebug;

/// The envelope code of a response, for the request log and metrics.
#[derive(Debug, Clone, Copy)]
pub struct ResultCode(pub &'static str);

/// Why a request's signature was refused. Logged and counted always;
/// returned to the caller only in sandbox mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignatureFailure {
    MissingHeader,
    BadTimestamp,
    ClockSkew,
    BadNonce,
    NonceReused,
    BadSignatureEncoding,
    NoKeyMatched,
}

impl SignatureFailure {
    /// Every reason, for the metrics registered at zero
    /// (`metric_catalog`); a new variant belongs here too.
    pub const ALL: [Self; 7] = [
        Self::MissingHeader,
        Self::BadTimestamp,
        Self::ClockSkew,
        Self::BadNonce,
        Self::NonceReused,
        Self::BadSignatureEncoding,
        Self::NoKeyMatched,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::MissingHeader => "missing_header",
            Self::BadTimestamp => "bad_timestamp",
            Self::ClockSkew => "clock_skew",
            Self::BadNonce => "bad_nonce",
            Self::NonceReused => "nonce_reused",
            Self::BadSignatureEncoding => "bad_signature_encoding",
            Self::NoKeyMatched => "no_key_matched",
        }
    }
}

/// `yyyy-MM-dd HH:mm:ss`, UTC.
pub fn envelope_time() -> String {
    let format = time::macros::format_description!("[year]-[month]-[day] [hour]:[minute]:[second]");
    time::OffsetDateTime::now_utc()
        .format(&format)
        .unwrap_or_default()
}

/// A `0000` answer.
pub fn success<T: Serialize>(data: T) -> Response {
    respond(
        StatusCode::OK,
        code::SUCCESS,
        "Success".into(),
        Some(data),
        None,
    )
}

fn respond<T: Serialize>(
    status: StatusCode,
    code: &'static str,
    msg: String,
    data: Option<T>,
    debug: Option<SignatureDebug>,
) -> Response {
    let envelope = Envelope {
        code: Cow::Borrowed(code),
        msg: Cow::Owned(msg),
        time: envelope_time(),
        data,
        debug,
    };
    let mut response = (status, Json(envelope)).into_response();
    response.extensions_mut().insert(ResultCode(code));
    response
}

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("no such route, merchant or version")]
    Route,
    #[error("method not allowed")]
    Method,
    #[error("body over the size limit")]
    BodyTooLarge,
    #[error("query string over the size limit")]
    QueryTooLarge,
    #[error("invalid body: {0}")]
    Body(String),
    #[error("signature check failed: {}", .reason.as_str())]
    Signature {
        reason: SignatureFailure,
        debug: Option<SignatureDebug>,
    },
    #[error("overloaded")]
    Overloaded,
    /// Over a rate limit (`ratelimit.rs`): 429, wait this many seconds.
    #[error("rate limited")]
    RateLimited(u64),
    #[error("internal failure: {0}")]
    Internal(String),
}

impl ApiError {
    /// Whether the caller caused it (10001–10003), as opposed to payfac's
    /// own state (10004): what the failure rate limit counts.
    pub fn is_callers_fault(&self) -> bool {
        !matches!(
            self,
            Self::Overloaded | Self::RateLimited(_) | Self::Internal(_)
        )
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        const NO_DATA: Option<()> = None;
        match self {
            Self::Route => respond(
                StatusCode::NOT_FOUND,
                code::URL,
                "URL parsing error.".into(),
                NO_DATA,
                None,
            ),
            Self::Method => {
                let mut response = respond(
                    StatusCode::METHOD_NOT_ALLOWED,
                    code::URL,
                    "URL parsing error. Use POST.".into(),
                    NO_DATA,
                    None,
                );
                response
                    .headers_mut()
                    .insert(header::ALLOW, HeaderValue::from_static("POST"));
                response
            }
            Self::BodyTooLarge => respond(
                StatusCode::PAYLOAD_TOO_LARGE,
                code::JSON,
                "JSON parsing error. Body exceeds 65536 bytes.".into(),
                NO_DATA,
                None,
            ),
            Self::QueryTooLarge => respond(
                StatusCode::URI_TOO_LONG,
                "10002",
                "JSON parsing error. Query string exceeds 4096 bytes or 64 parameters.".into(),
                NO_DATA,
                None,
            ),
            Self::Body(detail) => respond(
                StatusCode::BAD_REQUEST,
                code::JSON,
                format!("JSON parsing error. {detail}"),
                NO_DATA,
                None,
            ),
            Self::Signature { debug, .. } => respond(
                StatusCode::UNAUTHORIZED,
                code::SIGNATURE,
                "Request signature error.".into(),
                NO_DATA,
                debug,
            ),
            Self::Overloaded => {
                let mut response = respond(
                    StatusCode::SERVICE_UNAVAILABLE,
                    code::SERVER,
                    "Server error. Overloaded; retry shortly.".into(),
                    NO_DATA,
                    None,
                );
                response
                    .headers_mut()
                    .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
                response
            }
            Self::RateLimited(retry_after) => {
                let mut response = respond(
                    StatusCode::TOO_MANY_REQUESTS,
                    code::SERVER,
                    format!("Server error. Rate limit exceeded; retry after {retry_after} s."),
                    NO_DATA,
                    None,
                );
                response
                    .headers_mut()
                    .insert(header::RETRY_AFTER, HeaderValue::from(retry_after));
                response
            }
            Self::Internal(detail) => {
                tracing::error!(error = %detail, "request failed with an internal error");
                respond(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    code::SERVER,
                    "Server error.".into(),
                    NO_DATA,
                    None,
                )
            }
        }
    }
}

impl From<payfac_store::StoreError> for ApiError {
    fn from(error: payfac_store::StoreError) -> Self {
        Self::Internal(error.to_string())
    }
}
