//! The OpenAPI 3.1 document of the merchant API, generated from the
//! handler's annotation and the wire types' schemas (`payfac_api_types`).

use std::sync::OnceLock;

use axum::http::header;
use axum::response::IntoResponse;
use utoipa::OpenApi;

use payfac_api_types::{Envelope, ErrorEnvelope, Issued, NoData, SignatureDebug, UserSyncBody};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "payfac merchant API",
        version = "1",
        description = "User Sync & Authorization API. Sign every request with SHA256withRSA over sorted_params + timestamp + nonce + body; see docs/INTEGRATION.md."
    ),
    paths(super::user_sync::user_sync),
    components(schemas(UserSyncBody, Envelope<Issued>, ErrorEnvelope, Issued, NoData, SignatureDebug))
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
