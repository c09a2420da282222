//! `GET /.well-known/openid-configuration` (OpenID Connect Discovery 1.0
//! §4): what the provider supports, so a relying party configures itself
//! from the issuer URL alone.

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::{AUTHORIZE_PATH, LOGOUT_PATH, SCOPES, TOKEN_PATH, USERINFO_PATH, provider};
use crate::AppState;
use crate::boundary::paths::JWKS as JWKS_PATH;
use crate::identity::KeyKind;

/// Every claim an ID token or userinfo may carry.
pub const CLAIMS: [&str; 15] = [
    "iss",
    "sub",
    "aud",
    "exp",
    "iat",
    "auth_time",
    "nonce",
    "azp",
    "merchant",
    "merchant_user_no",
    "name",
    "given_name",
    "family_name",
    "email",
    "email_verified",
];

pub async fn document(State(state): State<AppState>) -> Response {
    let provider = match provider(&state) {
        Ok(provider) => provider,
        Err(response) => return *response,
    };
    let document = json!({
        "issuer": provider.issuer,
        "authorization_endpoint": provider.endpoint(AUTHORIZE_PATH),
        "token_endpoint": provider.endpoint(TOKEN_PATH),
        "userinfo_endpoint": provider.endpoint(USERINFO_PATH),
        "jwks_uri": provider.endpoint(JWKS_PATH),
        "end_session_endpoint": provider.endpoint(LOGOUT_PATH),
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "grant_types_supported": ["authorization_code"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": [KeyKind::Oidc.alg(), KeyKind::Identity.alg()],
        "code_challenge_methods_supported": ["S256"],
        "scopes_supported": SCOPES,
        "claims_supported": CLAIMS,
        "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "none"],
        "authorization_response_iss_parameter_supported": true,
        "prompt_values_supported": ["none", "login"],
        "claims_parameter_supported": false,
        "request_parameter_supported": false,
        "request_uri_parameter_supported": false,
    });
    let mut response = Json(document).into_response();
    response.headers_mut().insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=300"),
    );
    response
}
