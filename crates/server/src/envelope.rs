//! The merchant API's JSON envelope and its error codes.
//!
//! `ApiError` maps one-to-one onto the codes of SPEC §3; its
//! `IntoResponse` is the only place an error becomes an answer, and the
//! only place an unexpected failure is logged.

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use crate::api::SignatureFailure;

/// The envelope code of a response, for the request log and metrics.
#[derive(Debug, Clone, Copy)]
pub struct ResultCode(pub &'static str);

#[derive(Serialize)]
struct Envelope<T: Serialize> {
    code: &'static str,
    msg: String,
    time: String,
    data: Option<T>,
    #[serde(skip_serializing_if = "Option::is_none")]
    debug: Option<SignatureDebug>,
}

/// Sandbox-only diagnostics of a 10003.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SignatureDebug {
    /// missing_header, bad_timestamp, clock_skew, bad_nonce, nonce_reused,
    /// bad_signature_encoding or no_key_matched.
    pub reason: &'static str,
    /// The server's Unix time in seconds.
    pub server_time: i64,
    /// The exact string the server verified.
    pub signature_string: String,
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
    respond(StatusCode::OK, "0000", "Success".into(), Some(data), None)
}

fn respond<T: Serialize>(
    status: StatusCode,
    code: &'static str,
    msg: String,
    data: Option<T>,
    debug: Option<SignatureDebug>,
) -> Response {
    let envelope = Envelope {
        code,
        msg,
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
    #[error("internal failure: {0}")]
    Internal(String),
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        const NO_DATA: Option<()> = None;
        match self {
            Self::Route => respond(
                StatusCode::NOT_FOUND,
                "10001",
                "URL parsing error.".into(),
                NO_DATA,
                None,
            ),
            Self::Method => {
                let mut response = respond(
                    StatusCode::METHOD_NOT_ALLOWED,
                    "10001",
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
                "10002",
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
                "10002",
                format!("JSON parsing error. {detail}"),
                NO_DATA,
                None,
            ),
            Self::Signature { debug, .. } => respond(
                StatusCode::UNAUTHORIZED,
                "10003",
                "Request signature error.".into(),
                NO_DATA,
                debug,
            ),
            Self::Overloaded => {
                let mut response = respond(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "10004",
                    "Server error. Overloaded; retry shortly.".into(),
                    NO_DATA,
                    None,
                );
                response
                    .headers_mut()
                    .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
                response
            }
            Self::Internal(detail) => {
                tracing::error!(error = %detail, "request failed with an internal error");
                respond(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "10004",
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
