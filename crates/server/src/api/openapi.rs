//! The OpenAPI 3.1 document of the merchant API, generated from the
//! handler's annotation and the types below.

use std::sync::OnceLock;

use axum::http::header;
use axum::response::IntoResponse;
use utoipa::{OpenApi, ToSchema};

use super::user_sync::Issued;
use crate::envelope::SignatureDebug;

/// The request body. Unknown fields are ignored.
#[derive(ToSchema)]
#[schema(example = json!({"merchantUserNo": "U1000001", "email": "john.doe@example.com", "firstName": "John", "lastName": "Doe"}))]
#[allow(dead_code)] // documentation only; the handler parses field by field
#[serde(rename_all = "camelCase")]
pub struct UserSyncBody {
    /// The buyer's id in the merchant's system: 1-64 characters, no control
    /// characters, case-sensitive.
    #[schema(min_length = 1, max_length = 64)]
    merchant_user_no: String,
    /// A valid address of at most 254 characters.
    #[schema(max_length = 254)]
    email: String,
    /// At most 64 characters; absent or null leaves the stored value.
    #[schema(max_length = 64)]
    first_name: Option<String>,
    /// At most 64 characters; absent or null leaves the stored value.
    #[schema(max_length = 64)]
    last_name: Option<String>,
}

/// A `0000` answer.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct SuccessEnvelope {
    /// Always `0000`.
    code: String,
    /// `Success`.
    msg: String,
    /// UTC, `yyyy-MM-dd HH:mm:ss`.
    time: String,
    data: Issued,
}

/// Any error answer: `data` is null; `debug` only in sandbox mode on 10003.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct ErrorEnvelope {
    /// `10001` URL, `10002` JSON, `10003` signature, `10004` server.
    code: String,
    /// Begins with the code's fixed message, e.g. `Request signature error.`
    msg: String,
    time: String,
    data: Option<()>,
    debug: Option<SignatureDebug>,
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "payfac merchant API",
        version = "1",
        description = "User Sync & Authorization API. Sign every request with SHA256withRSA over sorted_params + timestamp + nonce + body; see docs/INTEGRATION.md."
    ),
    paths(super::user_sync::user_sync),
    components(schemas(UserSyncBody, SuccessEnvelope, ErrorEnvelope, Issued, SignatureDebug))
)]
struct ApiDoc;

/// `GET /openapi.json`.
pub async fn openapi_json() -> impl IntoResponse {
    static DOCUMENT: OnceLock<String> = OnceLock::new();
    let document = DOCUMENT.get_or_init(|| {
        ApiDoc::openapi()
            .to_pretty_json()
            .expect("the OpenAPI document serializes")
    });
    (
        [(header::CONTENT_TYPE, "application/json")],
        document.as_str(),
    )
}
