//! The authorization endpoint (OpenID Connect Core §3.1.2), `GET` with a
//! query or `POST` with a form.
//!
//! Until the client and its exactly registered redirect URI are known,
//! every problem is an error page (400), never a redirect: redirecting to
//! an unchecked URI would make payfac an open redirector (RFC 9700
//! §4.11). From then on every answer is a redirect to that URI with
//! `state` and `iss` (RFC 9207), errors included.
//!
//! payfac has no login form: a buyer signs in through a merchant's code
//! link. So a buyer with a confirmed session gets a code at once (the
//! platform's own apps: no consent screen), and without one, or when the
//! client asks for a fresh sign-in (`prompt=login`, `max_age` passed), the
//! answer is `login_required`.

use std::collections::HashMap;

use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use payfac_domain::{SecretHash, random_alphanumeric};
use payfac_store::{NewOidcCode, OidcClient, unix_now};

use super::page::error_page;
use super::{CODE_TTL_SECS, SCOPES, is_pkce_text, no_store, parameters, provider};
use crate::AppState;

/// Longest `state` and `nonce` accepted: they travel in URLs and `nonce`
/// is stored with the code.
const MAX_ECHO_LEN: usize = 1024;

pub async fn by_query(
    State(state): State<AppState>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    authorize(&state, &headers, query.unwrap_or_default().as_bytes()).await
}

pub async fn by_form(State(state): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    authorize(&state, &headers, &body).await
}

/// Where the answers of one request go: the checked redirect URI, with
/// the request's `state` and the issuer.
struct Reply<'a> {
    redirect_uri: &'a str,
    state: Option<&'a str>,
    issuer: &'a str,
}

impl Reply<'_> {
    fn send(&self, pairs: &[(&str, &str)]) -> Response {
        let mut location = self.redirect_uri.to_owned();
        location.push(if location.contains('?') { '&' } else { '?' });
        let mut query = form_urlencoded::Serializer::new(String::new());
        query.extend_pairs(pairs);
        if let Some(state) = self.state {
            query.append_pair("state", state);
        }
        query.append_pair("iss", self.issuer);
        location.push_str(&query.finish());
        let mut response = StatusCode::SEE_OTHER.into_response();
        match HeaderValue::from_str(&location) {
            Ok(value) => response.headers_mut().insert(header::LOCATION, value),
            Err(_) => return error_page("The redirect URI cannot be used."),
        };
        no_store(response)
    }

    fn error(&self, error: &str, description: &str) -> Response {
        metrics::counter!("payfac_oidc_authorize_total", "outcome" => error.to_owned())
            .increment(1);
        self.send(&[("error", error), ("error_description", description)])
    }
}

async fn authorize(state: &AppState, headers: &HeaderMap, encoded: &[u8]) -> Response {
    let provider = match provider(state) {
        Ok(provider) => provider,
        Err(response) => return *response,
    };
    let (params, repeated) = parameters(encoded);
    if repeated
        .as_deref()
        .is_some_and(|name| name == "client_id" || name == "redirect_uri")
    {
        return error_page("The request names its client or redirect URI more than once.");
    }
    let client = match params.get("client_id") {
        Some(id) => match state.store.oidc_client(id).await {
            Ok(client) => client,
            Err(error) => return super::unavailable(&error),
        },
        None => None,
    };
    let Some(client) = client else {
        metrics::counter!("payfac_oidc_authorize_total", "outcome" => "unknown_client")
            .increment(1);
        return error_page("This sign-in link names an application payfac does not know.");
    };
    let Some(redirect_uri) = params
        .get("redirect_uri")
        .filter(|uri| client.redirect_uris.iter().any(|known| known == *uri))
    else {
        metrics::counter!("payfac_oidc_authorize_total", "outcome" => "unknown_redirect_uri")
            .increment(1);
        return error_page(
            "This sign-in link names a return address the application did not register.",
        );
    };
    let reply = Reply {
        redirect_uri,
        state: params.get("state").map(String::as_str),
        issuer: &provider.issuer,
    };
    if repeated.is_some() {
        return reply.error("invalid_request", "a parameter is repeated");
    }
    match grant(state, headers, &client, &params).await {
        Ok(code) => {
            metrics::counter!("payfac_oidc_authorize_total", "outcome" => "code").increment(1);
            reply.send(&[("code", &code)])
        }
        Err(Refusal::Oauth(error, description)) => reply.error(error, description),
        Err(Refusal::Unavailable(response)) => *response,
    }
}

enum Refusal {
    /// An OAuth error for the client.
    Oauth(&'static str, &'static str),
    /// Storage failed: 503, nothing redirected.
    Unavailable(Box<Response>),
}

fn oauth(error: &'static str, description: &'static str) -> Refusal {
    Refusal::Oauth(error, description)
}

/// The checks of a request whose client and redirect URI are known, and
/// the code when they pass.
async fn grant(
    state: &AppState,
    headers: &HeaderMap,
    client: &OidcClient,
    params: &HashMap<String, String>,
) -> Result<String, Refusal> {
    let get = |name: &str| params.get(name).map(String::as_str);
    if get("request").is_some() {
        return Err(oauth(
            "request_not_supported",
            "request objects are not supported",
        ));
    }
    if get("request_uri").is_some() {
        return Err(oauth(
            "request_uri_not_supported",
            "request_uri is not supported",
        ));
    }
    match get("response_type") {
        Some("code") => {}
        Some(_) => {
            return Err(oauth(
                "unsupported_response_type",
                "only response_type=code is supported",
            ));
        }
        None => return Err(oauth("invalid_request", "response_type is required")),
    }
    if get("response_mode").is_some_and(|mode| mode != "query") {
        return Err(oauth(
            "invalid_request",
            "only response_mode=query is supported",
        ));
    }
    let requested = get("scope").unwrap_or("");
    if !requested.split(' ').any(|scope| scope == "openid") {
        return Err(oauth("invalid_scope", "the openid scope is required"));
    }
    let scope = SCOPES
        .iter()
        .filter(|known| requested.split(' ').any(|scope| scope == **known))
        .copied()
        .collect::<Vec<_>>()
        .join(" ");
    let code_challenge = pkce(client, get("code_challenge"), get("code_challenge_method"))?;
    let nonce = get("nonce");
    if nonce.is_some_and(|nonce| nonce.len() > MAX_ECHO_LEN)
        || get("state").is_some_and(|text| text.len() > MAX_ECHO_LEN)
    {
        return Err(oauth("invalid_request", "state or nonce is too long"));
    }
    let prompt: Vec<&str> = get("prompt")
        .unwrap_or("")
        .split(' ')
        .filter(|p| !p.is_empty())
        .collect();
    if prompt.contains(&"none") && prompt.len() > 1 {
        return Err(oauth("invalid_request", "prompt=none cannot be combined"));
    }
    let max_age = match get("max_age") {
        Some(text) => Some(
            text.parse::<u64>()
                .map_err(|_| oauth("invalid_request", "max_age must be a number of seconds"))?,
        ),
        None => None,
    };
    let signed_in = super::signed_in(state, headers)
        .await
        .map_err(|error| Refusal::Unavailable(Box::new(super::unavailable(&error))))?;
    let Some((session_key, session)) = signed_in else {
        return Err(oauth(
            "login_required",
            "the buyer is not signed in to payfac",
        ));
    };
    if prompt.contains(&"login") {
        return Err(oauth(
            "login_required",
            "payfac cannot ask the buyer to sign in again",
        ));
    }
    let now = unix_now();
    if max_age.is_some_and(|max| now.saturating_sub(session.auth_time) as u64 > max) {
        return Err(oauth(
            "login_required",
            "the buyer signed in longer ago than max_age",
        ));
    }
    let code = random_alphanumeric(43);
    let stored = NewOidcCode {
        code_hash: SecretHash::of(&code),
        client_id: client.client_id.clone(),
        session: session_key,
        redirect_uri: get("redirect_uri").unwrap_or_default().to_owned(),
        code_challenge,
        nonce: nonce.map(str::to_owned),
        scope,
        auth_time: session.auth_time,
        expires_at: now + CODE_TTL_SECS,
    };
    state
        .store
        .add_oidc_code(stored)
        .await
        .map_err(|error| Refusal::Unavailable(Box::new(super::unavailable(&error))))?;
    Ok(code)
}

/// The stored challenge: S256 only (`plain`, or a challenge without a
/// method, which RFC 7636 reads as `plain`, is refused: a downgrade);
/// required of public clients.
fn pkce(
    client: &OidcClient,
    challenge: Option<&str>,
    method: Option<&str>,
) -> Result<Option<String>, Refusal> {
    match (challenge, method) {
        (None, None) if client.is_public() => Err(oauth(
            "invalid_request",
            "PKCE (S256) is required for this client",
        )),
        (None, None) => Ok(None),
        (_, Some(method)) if method != "S256" => Err(oauth(
            "invalid_request",
            "only code_challenge_method=S256 is supported",
        )),
        (Some(_), None) => Err(oauth(
            "invalid_request",
            "only code_challenge_method=S256 is supported",
        )),
        (None, Some(_)) => Err(oauth("invalid_request", "code_challenge is required")),
        (Some(challenge), Some(_)) if challenge.len() == 43 && is_pkce_text(challenge, 43) => {
            Ok(Some(challenge.to_owned()))
        }
        (Some(_), Some(_)) => Err(oauth("invalid_request", "code_challenge is malformed")),
    }
}
