//! The token endpoint (RFC 6749 §3.2, §4.1.3; OpenID Connect Core
//! §3.1.3): a code for an ID token and an access token.
//!
//! The client authenticates with `client_secret_basic` or
//! `client_secret_post` (exactly one of them), or, when public, names
//! itself with `client_id` and proves the code with PKCE. Storage checks
//! and spends the code in one transaction ([`payfac_store::OidcStore::
//! redeem_oidc_code`]): single use, unexpired, issued to this client for
//! this redirect URI and PKCE challenge; a second use revokes what the
//! first issued. Every refusal is JSON per RFC 6749 §5.2 with
//! `Cache-Control: no-store`, and counts as a failure of the client
//! address for the rate limit (`ratelimit.rs`), as refused sign-in codes
//! do. No code, secret, verifier or token is ever logged.

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use payfac_domain::{SecretHash, random_alphanumeric};
use payfac_store::{OidcClient, OidcCodeRedemption, unix_now};
use serde_json::json;

use super::clients::secret_matches;
use super::{ACCESS_TOKEN_TTL_SECS, id_token, is_pkce_text, no_store, parameters, provider};
use crate::AppState;
use crate::scope::Scope;

/// An RFC 6749 §5.2 error.
struct TokenError {
    status: StatusCode,
    error: &'static str,
    description: &'static str,
    /// `WWW-Authenticate: Basic` when the client tried Basic (§5.2).
    basic: bool,
}

fn error(error: &'static str, description: &'static str) -> TokenError {
    TokenError {
        status: StatusCode::BAD_REQUEST,
        error,
        description,
        basic: false,
    }
}

fn invalid_client(basic: bool) -> TokenError {
    TokenError {
        status: StatusCode::UNAUTHORIZED,
        error: "invalid_client",
        description: "client authentication failed",
        basic,
    }
}

impl IntoResponse for TokenError {
    fn into_response(self) -> Response {
        metrics::counter!("payfac_oidc_token_total", "outcome" => self.error).increment(1);
        let body = json!({"error": self.error, "error_description": self.description});
        let mut response = no_store((self.status, Json(body)).into_response());
        if self.basic {
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Basic realm=\"payfac\""),
            );
        }
        response
    }
}

/// `POST /_payfac/oidc/token`. A refused request (400 or 401) counts
/// against its client's failure limit (`crate::ratelimit`), as a refused
/// sign-in code does.
pub async fn token(
    State(state): State<AppState>,
    scope: Scope,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let response = exchange(&state, &headers, &body).await;
    let refused = matches!(
        response.status(),
        StatusCode::BAD_REQUEST | StatusCode::UNAUTHORIZED
    );
    if let (true, Some(limiter)) = (refused, &state.limiter) {
        limiter.note_failure(scope.client);
    }
    response
}

async fn exchange(state: &AppState, headers: &HeaderMap, body: &Bytes) -> Response {
    let provider = match provider(state) {
        Ok(provider) => provider,
        Err(response) => return *response,
    };
    let form = headers
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| {
            value.split(';').next().is_some_and(|mime| {
                mime.trim()
                    .eq_ignore_ascii_case("application/x-www-form-urlencoded")
            })
        });
    if !form {
        return error(
            "invalid_request",
            "the body must be application/x-www-form-urlencoded",
        )
        .into_response();
    }
    let (params, repeated) = parameters(body);
    if repeated.is_some() {
        return error("invalid_request", "a parameter is repeated").into_response();
    }
    let get = |name: &str| params.get(name).map(String::as_str);
    let client = match authenticate(state, headers, get("client_id"), get("client_secret")).await {
        Ok(client) => client,
        Err(Ok(refusal)) => return refusal.into_response(),
        Err(Err(response)) => return response,
    };
    match get("grant_type") {
        Some("authorization_code") => {}
        Some(_) => {
            return error(
                "unsupported_grant_type",
                "only authorization_code is supported",
            )
            .into_response();
        }
        None => return error("invalid_request", "grant_type is required").into_response(),
    }
    let (Some(code), Some(redirect_uri)) = (get("code"), get("redirect_uri")) else {
        return error("invalid_request", "code and redirect_uri are required").into_response();
    };
    let verifier = get("code_verifier");
    if verifier.is_some_and(|verifier| !is_pkce_text(verifier, 43)) {
        return error("invalid_request", "code_verifier is malformed").into_response();
    }
    let access_token = random_alphanumeric(43);
    let now = unix_now();
    let redemption = OidcCodeRedemption {
        code_hash: SecretHash::of(code),
        client_id: client.client_id.clone(),
        redirect_uri: redirect_uri.to_owned(),
        verifier_challenge: verifier.map(super::s256),
        now,
        access_token_hash: SecretHash::of(&access_token),
        access_expires_at: now + ACCESS_TOKEN_TTL_SECS,
    };
    let grant = match state.store.redeem_oidc_code(redemption).await {
        Ok(Ok(grant)) => grant,
        Ok(Err(refusal)) => {
            metrics::counter!("payfac_oidc_codes_refused_total", "reason" => refusal.as_str())
                .increment(1);
            tracing::warn!(reason = refusal.as_str(), "OpenID code refused");
            return error(
                "invalid_grant",
                "the code is invalid, expired, used or not this client's",
            )
            .into_response();
        }
        Err(error) => return super::unavailable(&error),
    };
    let id_token = id_token::issue(state, provider, &client, &grant, now);
    metrics::counter!("payfac_oidc_token_total", "outcome" => "issued").increment(1);
    no_store(
        Json(json!({
            "access_token": access_token,
            "token_type": "Bearer",
            "expires_in": ACCESS_TOKEN_TTL_SECS,
            "id_token": id_token,
            "scope": grant.scope,
        }))
        .into_response(),
    )
}

/// The client of the request: `Err(Ok(_))` is an OAuth refusal,
/// `Err(Err(_))` a storage failure's answer.
async fn authenticate(
    state: &AppState,
    headers: &HeaderMap,
    form_id: Option<&str>,
    form_secret: Option<&str>,
) -> Result<OidcClient, Result<TokenError, Response>> {
    let basic = basic_credentials(headers);
    let (client_id, secret, via_basic) = match (basic, form_secret) {
        (Some(Err(())), _) => return Err(Ok(invalid_client(true))),
        (Some(Ok(_)), Some(_)) => {
            return Err(Ok(error(
                "invalid_request",
                "use one client authentication method",
            )));
        }
        (Some(Ok((id, secret))), None) => {
            if form_id.is_some_and(|form_id| form_id != id) {
                return Err(Ok(error(
                    "invalid_request",
                    "client_id differs from the credentials",
                )));
            }
            (id, Some(secret), true)
        }
        (None, secret) => match form_id {
            Some(id) => (id.to_owned(), secret.map(str::to_owned), false),
            None => return Err(Ok(invalid_client(false))),
        },
    };
    let client = match state.store.oidc_client(&client_id).await {
        Ok(Some(client)) => client,
        Ok(None) => return Err(Ok(invalid_client(via_basic))),
        Err(error) => return Err(Err(super::unavailable(&error))),
    };
    let authenticated = match secret {
        Some(secret) => secret_matches(&client, &secret),
        None => client.is_public(),
    };
    if authenticated {
        Ok(client)
    } else {
        Err(Ok(invalid_client(via_basic)))
    }
}

/// `Authorization: Basic` credentials: the client id and secret, each
/// form-urlencoded (RFC 6749 §2.3.1). `Some(Err)` for a malformed header.
fn basic_credentials(headers: &HeaderMap) -> Option<Result<(String, String), ()>> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok();
    let encoded = value.and_then(|value| {
        let (scheme, rest) = value.split_once(' ')?;
        scheme.eq_ignore_ascii_case("basic").then_some(rest.trim())
    });
    let Some(encoded) = encoded else {
        return Some(Err(()));
    };
    let decoded = STANDARD
        .decode(encoded)
        .ok()
        .and_then(|bytes| String::from_utf8(bytes).ok());
    let Some((id, secret)) = decoded.as_deref().and_then(|text| text.split_once(':')) else {
        return Some(Err(()));
    };
    let unescape = |text: &str| {
        form_urlencoded::parse(format!("x={text}").as_bytes())
            .next()
            .map(|(_, value)| value.into_owned())
            .unwrap_or_default()
    };
    Some(Ok((unescape(id), unescape(secret))))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn basic_credentials_are_form_decoded() {
        let mut headers = HeaderMap::new();
        assert!(basic_credentials(&headers).is_none());
        let encoded = STANDARD.encode("my%20client:s%3Acret");
        headers.insert(
            header::AUTHORIZATION,
            format!("Basic {encoded}").parse().unwrap(),
        );
        assert_eq!(
            basic_credentials(&headers).unwrap().unwrap(),
            ("my client".to_owned(), "s:cret".to_owned())
        );
        headers.insert(header::AUTHORIZATION, "Basic !!!".parse().unwrap());
        assert!(basic_credentials(&headers).unwrap().is_err());
        headers.insert(header::AUTHORIZATION, "Bearer x".parse().unwrap());
        assert!(basic_credentials(&headers).unwrap().is_err());
    }
}
