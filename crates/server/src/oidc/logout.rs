//! RP-initiated logout (OpenID Connect RP-Initiated Logout 1.0): the
//! `end_session_endpoint`, `GET` with a query or `POST` with a form.
//!
//! Where the browser goes afterwards is only ever a
//! `post_logout_redirect_uri` registered for the client (named by
//! `client_id` or by the audience of a valid `id_token_hint`), matched
//! exactly; anything else is an error page, never a redirect.
//!
//! Cross-site logout (CSRF): an RP sends the browser here by a top-level
//! `GET` from its own site, so the origin check of payfac's own logout
//! (`boundary::origin`) cannot decide alone. The session ends at once only
//! when the request proves it comes from an RP this sign-in was handed to:
//! a valid `id_token_hint` whose `sub` and `auth_time` are the signed-in
//! buyer's and session's (an attacker's own ID token names another buyer
//! or sign-in). Otherwise payfac asks (as Keycloak does): a page whose form
//! posts the same parameters back with `confirm=yes`, accepted only from
//! the same origin. Without a live session there is nothing to end, and
//! the browser goes straight on.

use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use payfac_store::OidcClient;

use super::page::{confirm_logout, error_page, signed_out};
use super::{id_token, no_store, parameters, provider};
use crate::AppState;
use crate::boundary::origin;

pub async fn by_query(
    State(state): State<AppState>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    logout(
        &state,
        &headers,
        Method::GET,
        query.unwrap_or_default().as_bytes(),
    )
    .await
}

pub async fn by_form(State(state): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    logout(&state, &headers, Method::POST, &body).await
}

async fn logout(state: &AppState, headers: &HeaderMap, method: Method, encoded: &[u8]) -> Response {
    let provider = match provider(state) {
        Ok(provider) => provider,
        Err(response) => return *response,
    };
    let (params, repeated) = parameters(encoded);
    if repeated.is_some() {
        return error_page("The sign-out request repeats a parameter.");
    }
    let get = |name: &str| params.get(name).map(String::as_str);
    let hint = match get("id_token_hint") {
        Some(token) => match id_token::verify_hint(state, provider, token) {
            Some(claims) => Some(claims),
            None => {
                return refused("The sign-out request carries an ID token payfac did not issue.");
            }
        },
        None => None,
    };
    let hinted_client = hint
        .as_ref()
        .and_then(|claims| claims.get("aud")?.as_str().map(str::to_owned));
    let client_id = match (get("client_id"), hinted_client.as_deref()) {
        (Some(named), Some(hinted)) if named != hinted => {
            return refused("The sign-out request names two different applications.");
        }
        (named, hinted) => named.or(hinted),
    };
    let client = match client_id {
        Some(id) => match state.store.oidc_client(id).await {
            Ok(Some(client)) => Some(client),
            Ok(None) => return refused("The sign-out request names an unknown application."),
            Err(error) => return super::unavailable(&error),
        },
        None => None,
    };
    let next = match get("post_logout_redirect_uri") {
        Some(uri) => match registered(client.as_ref(), uri) {
            Some(uri) => Some(after_logout(uri, get("state"))),
            None => {
                return refused(
                    "The sign-out request names a return address the application did not register.",
                );
            }
        },
        None => None,
    };
    let session = match super::signed_in(state, headers).await {
        Ok(session) => session,
        Err(error) => return super::unavailable(&error),
    };
    let Some((_, session)) = session else {
        return finish(next);
    };
    let hint_is_this_sign_in = hint.as_ref().is_some_and(|claims| {
        claims.get("sub").and_then(|sub| sub.as_str()) == Some(&session.buyer.user_id.to_string())
            && claims.get("auth_time").and_then(|at| at.as_i64()) == Some(session.auth_time)
    });
    let confirmed =
        method == Method::POST && get("confirm") == Some("yes") && !origin::is_cross_site(headers);
    if !hint_is_this_sign_in && !confirmed {
        let fields = [
            "id_token_hint",
            "client_id",
            "post_logout_redirect_uri",
            "state",
        ]
        .into_iter()
        .filter_map(|name| Some((name, get(name)?)))
        .collect();
        return confirm_logout(fields);
    }
    let mut response = finish(next);
    if let Err(error) = super::sign_out(state, headers, &mut response).await {
        return super::unavailable(&error);
    }
    metrics::counter!("payfac_oidc_logouts_total").increment(1);
    response
}

/// `uri` when it is one of the client's post-logout redirect URIs.
fn registered<'a>(client: Option<&OidcClient>, uri: &'a str) -> Option<&'a str> {
    client?
        .post_logout_redirect_uris
        .iter()
        .any(|known| known == uri)
        .then_some(uri)
}

fn after_logout(uri: &str, state: Option<&str>) -> String {
    match state {
        Some(state) => {
            let separator = if uri.contains('?') { '&' } else { '?' };
            let state: String = form_urlencoded::byte_serialize(state.as_bytes()).collect();
            format!("{uri}{separator}state={state}")
        }
        None => uri.to_owned(),
    }
}

/// To the registered URI, or payfac's "signed out" page.
fn finish(next: Option<String>) -> Response {
    let Some(location) = next.and_then(|next| HeaderValue::from_str(&next).ok()) else {
        return signed_out();
    };
    let mut response = StatusCode::SEE_OTHER.into_response();
    response.headers_mut().insert(header::LOCATION, location);
    no_store(response)
}

fn refused(message: &str) -> Response {
    metrics::counter!("payfac_oidc_logouts_refused_total").increment(1);
    error_page(message)
}
