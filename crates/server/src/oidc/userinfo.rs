//! The userinfo endpoint (OpenID Connect Core §5.3): the buyer's claims
//! by the scope of the code, for an access token sent as
//! `Authorization: Bearer` (RFC 6750 §2.1; the form and query ways are
//! not accepted). A token is refused once it expired, its code was used
//! again (revoked), or the buyer's payfac session ended.

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use payfac_domain::SecretHash;
use payfac_store::unix_now;

use super::id_token::BuyerClaims;
use super::{no_store, provider};
use crate::AppState;

pub async fn userinfo(State(state): State<AppState>, headers: HeaderMap) -> Response {
    if let Err(response) = provider(&state) {
        return *response;
    }
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, token)| token.trim());
    let Some(token) = token else {
        return refused("Bearer");
    };
    match state
        .store
        .oidc_access(SecretHash::of(token), unix_now())
        .await
    {
        Ok(Some(grant)) => {
            metrics::counter!("payfac_oidc_userinfo_total", "outcome" => "ok").increment(1);
            no_store(Json(BuyerClaims::of(&grant.buyer, &grant.scope)).into_response())
        }
        Ok(None) => refused(
            "Bearer error=\"invalid_token\", error_description=\"the access token is invalid, expired or revoked\"",
        ),
        Err(error) => super::unavailable(&error),
    }
}

fn refused(challenge: &'static str) -> Response {
    metrics::counter!("payfac_oidc_userinfo_total", "outcome" => "refused").increment(1);
    let mut response = no_store(StatusCode::UNAUTHORIZED.into_response());
    response.headers_mut().insert(
        header::WWW_AUTHENTICATE,
        HeaderValue::from_static(challenge),
    );
    response
}
