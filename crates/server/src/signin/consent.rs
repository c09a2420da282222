//! Switching buyers needs the buyer's consent (issue #18).
//!
//! A browser signed in as buyer A that opens a link with a code for buyer
//! B does not become B silently (login CSRF: an attacker's link would put
//! the victim into the attacker's account). The code is redeemed (so it
//! cannot be used again) into a session of B that lasts only the code's
//! TTL and is given to the browser in a separate `payfac_pending` cookie,
//! not as its session. `GET /_payfac/sign-in/confirm` asks "You are signed in as
//! A. Continue as B?"; its form posts to `POST /_payfac/sign-in/confirm`:
//!
//! - **Continue** makes the pending session a full one (storage moves its
//!   end to its creation + `--session-max-secs` and ends A's session in
//!   one transaction) and sets it as the session cookie. Only a session
//!   storage marks as pending can be confirmed, and a pending one is never
//!   accepted as a session, so neither a full session sent as the pending
//!   cookie nor a replayed "continue" moves any session's end;
//! - **Stay** ends the pending session; A stays signed in.
//!
//! The form's `csrf` field is HMAC-SHA256, under a key derived from the
//! service secret in storage, of the pending cookie's value. A cross-site
//! form post cannot know it: the pending cookie is `HttpOnly` and
//! `SameSite=Lax` (not sent on cross-site posts at all), and the page
//! cannot be read or framed from another origin. A post from another site
//! is refused as well (`boundary::origin`). The pending session lives in the
//! `sessions` table, so every instance on one database sees it.

use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use payfac_domain::SessionToken;
use payfac_store::{SessionKey, unix_now};

use super::session::{CurrentBuyer, session_cookie};
use crate::AppState;
use crate::boundary::cookies::{self, PENDING};
use crate::boundary::{origin, redirects};
use crate::pages::{BuyerView, ConfirmPage, render};
use crate::scope::Scope;

/// Where a sign-in that needs consent sends the browser; `next` is where
/// either choice ends up.
pub fn page_location(next: &str) -> String {
    let next: String = form_urlencoded::byte_serialize(next.as_bytes()).collect();
    format!("/_payfac/sign-in/confirm?next={next}")
}

/// `Set-Cookie` for a pending choice: as long as the code's TTL.
pub fn pending_cookie(token: &SessionToken, ttl: i64, insecure: bool) -> HeaderValue {
    cookies::set(PENDING, &token.expose(), ttl, insecure)
}

/// The pending cookie's raw value, token and session key, if it has the
/// shape of a token.
fn pending_value(
    headers: &HeaderMap,
    state: &AppState,
) -> Option<(String, SessionToken, SessionKey)> {
    let value = cookies::value(headers, PENDING)?;
    let token = SessionToken::parse(value).ok()?;
    let key = SessionKey::of(&token, &state.keys.ids)?;
    Some((value.to_owned(), token, key))
}

/// `next` as a path on this site.
fn next_location(next: Option<&str>) -> String {
    let next = next.unwrap_or("/");
    let (path, query) = next.split_once('?').unwrap_or((next, ""));
    redirects::safe_location(path, query)
}

#[derive(serde::Deserialize)]
pub struct ConfirmQuery {
    next: Option<String>,
}

/// `GET /_payfac/sign-in/confirm`: the question, or "this link has expired".
pub async fn page(
    State(state): State<AppState>,
    current: CurrentBuyer,
    Query(query): Query<ConfirmQuery>,
    headers: HeaderMap,
) -> Response {
    let next = next_location(query.next.as_deref());
    let now = unix_now();
    let pending = match pending_value(&headers, &state) {
        Some((value, _, key)) => match state.store.pending_buyer(key, now).await {
            Ok(Some(buyer)) => Some((value, buyer)),
            Ok(None) => None,
            Err(error) => {
                tracing::error!(%error, "pending sign-in lookup failed");
                return unavailable();
            }
        },
        None => None,
    };
    let page = ConfirmPage {
        platform_name: state.config.platform_name.clone(),
        csrf: pending
            .as_ref()
            .map(|(value, _)| state.keys.consent_token(value))
            .unwrap_or_default(),
        pending: pending.map(|(_, buyer)| BuyerView::from(buyer)),
        buyer: current.0.map(BuyerView::from),
        next,
    };
    let expired = page.pending.is_none();
    let mut response = render(StatusCode::OK, &page);
    if expired {
        response.headers_mut().insert(
            header::SET_COOKIE,
            cookies::clear(PENDING, state.config.insecure_cookies),
        );
    }
    response
}

/// `POST /_payfac/sign-in/confirm` (`csrf`, `choice=continue|stay`, `next`).
pub async fn decide(
    State(state): State<AppState>,
    scope: Scope,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let mut csrf = None;
    let mut choice = None;
    let mut next = None;
    for (name, value) in form_urlencoded::parse(&body) {
        match &*name {
            "csrf" if csrf.is_none() => csrf = Some(value.into_owned()),
            "choice" if choice.is_none() => choice = Some(value.into_owned()),
            "next" if next.is_none() => next = Some(value.into_owned()),
            _ => {}
        }
    }
    let insecure = state.config.insecure_cookies;
    let Some((value, pending, pending_key)) = pending_value(&headers, &state) else {
        return refused("This choice has expired. Please go back to your merchant's site.");
    };
    if origin::is_cross_site(&headers)
        || !csrf.is_some_and(|token| state.keys.consent_token_matches(&value, &token))
    {
        metrics::counter!("payfac_consent_refused_total").increment(1);
        tracing::warn!("consent form refused: cross-site or without its token");
        return refused("This form could not be accepted. Please go back to your merchant's site.");
    }
    let location = next_location(next.as_deref());
    let mut response = match choice.as_deref() {
        Some("continue") => {
            let now = unix_now();
            let max = state.config.session_max_secs;
            let replaces = scope.session;
            match state
                .store
                .confirm_session(pending_key, now, max, replaces)
                .await
            {
                Ok(true) => {
                    tracing::info!("buyer switched accounts with consent");
                    let mut response = see_other(&location);
                    response
                        .headers_mut()
                        .append(header::SET_COOKIE, session_cookie(&pending, max, insecure));
                    response
                }
                Ok(false) => {
                    refused("This choice has expired. Please go back to your merchant's site.")
                }
                Err(error) => {
                    tracing::error!(%error, "confirming a session failed");
                    return unavailable();
                }
            }
        }
        Some("stay") => {
            if let Err(error) = state.store.end_session(pending_key).await {
                tracing::error!(%error, "ending a pending session failed");
                return unavailable();
            }
            see_other(&location)
        }
        _ => return refused("Please choose to continue or to stay."),
    };
    response
        .headers_mut()
        .append(header::SET_COOKIE, cookies::clear(PENDING, insecure));
    response
}

fn see_other(location: &str) -> Response {
    let mut response = StatusCode::SEE_OTHER.into_response();
    response.headers_mut().insert(
        header::LOCATION,
        HeaderValue::from_str(location).unwrap_or(HeaderValue::from_static("/")),
    );
    no_store(response)
}

fn refused(message: &'static str) -> Response {
    no_store((StatusCode::FORBIDDEN, message).into_response())
}

fn unavailable() -> Response {
    no_store(
        (
            StatusCode::SERVICE_UNAVAILABLE,
            [(header::RETRY_AFTER, "1")],
            "Please try again shortly.",
        )
            .into_response(),
    )
}

fn no_store(mut response: Response) -> Response {
    let headers = response.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    response
}
