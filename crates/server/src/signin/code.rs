//! Single sign-on: `?authorizationCode=` on any page `GET`.
//!
//! The code is consumed atomically by storage; whatever the outcome, the
//! browser is redirected to the same path and query without the code, so
//! the code leaves the address bar, the history and any `Referer`. A
//! browser signed in as another buyer is asked first (`consent.rs`).
//!
//! [`sign_in`] is the decision, [`sign_in_response`] its answer; forward
//! auth redeems the codes of the original requests it is told about with
//! them. A code that signs nobody in counts against its client's failure
//! limit (`crate::ratelimit`).

use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use payfac_domain::{AuthorizationCode, Buyer, SessionToken};
use payfac_store::{NewSession, RedeemOutcome, Redemption, SessionKey, unix_now};

use super::consent;
use super::session::session_cookie;
use crate::AppState;
use crate::boundary::code::{code_in, query_without_code};
use crate::boundary::redirects::safe_location;
use crate::scope::{Kind, Scope};

/// Middleware in front of every page: redeems a code in the query, then
/// redirects; requests without one pass through.
pub async fn redeem_code_in_query(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Response {
    // Forward auth reads the code from the original URI it is told about
    // (the sub-request's own query is the browser's again: Caddy keeps it
    // when it rewrites the path, and redeeming it here would send the
    // browser to /_payfac/auth); the merchant API has no codes in queries.
    let (parts, body) = request.into_parts();
    let scope = Scope::get(
        &parts.extensions,
        &parts.method,
        &parts.uri,
        &parts.headers,
        &state,
    );
    if scope.kind != Kind::SignIn {
        return next.run(Request::from_parts(parts, body)).await;
    }
    let query = parts.uri.query().unwrap_or("");
    let code_text = code_in(query).unwrap_or_default();
    let location = safe_location(parts.uri.path(), &query_without_code(query));
    let outcome = sign_in(&state, &code_text, &scope).await;
    sign_in_response(outcome, &location)
}

/// What presenting a code did.
#[derive(Debug)]
pub enum SignIn {
    /// A buyer is signed in: set this session cookie.
    SignedIn(HeaderValue),
    /// The code was good but for another buyer than the browser's live
    /// session: the code is spent and the choice waits for the buyer's
    /// consent. Set this (pending) cookie and show the confirmation page.
    NeedsConsent(HeaderValue),
    /// The code signed nobody in (malformed, unknown, used or expired);
    /// an existing session is left as it was.
    Refused,
    /// Storage could not be asked; the code is unspent.
    Unavailable,
}

/// The answer to a sign-in: `303` to `location` (a path from
/// [`safe_location`]) with the cookie, or to the confirmation page, or
/// `503`; never cached, never a `Referer`.
pub fn sign_in_response(outcome: SignIn, location: &str) -> Response {
    let mut response = match outcome {
        SignIn::SignedIn(cookie) => {
            let mut response = redirect(location);
            response.headers_mut().insert(header::SET_COOKIE, cookie);
            response
        }
        SignIn::NeedsConsent(cookie) => {
            let mut response = redirect(&consent::page_location(location));
            response.headers_mut().insert(header::SET_COOKIE, cookie);
            response
        }
        SignIn::Refused => redirect(location),
        // The code was not consumed: the same link works once storage is back.
        SignIn::Unavailable => (
            StatusCode::SERVICE_UNAVAILABLE,
            [(header::RETRY_AFTER, "1")],
            "Sign-in is briefly unavailable. Please reload this page.",
        )
            .into_response(),
    };
    let headers = response.headers_mut();
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// Redeems the code a browser presented (`scope`: its request's, for the
/// session cookie and the client).
///
/// Without a live session, or with one of the code's own buyer, the buyer
/// is signed in and the browser's old session ends. With a live session of
/// another buyer the code is redeemed into a session that lasts only the
/// code's TTL and is not yet the browser's: `NeedsConsent`.
pub async fn sign_in(state: &AppState, code_text: &str, scope: &Scope) -> SignIn {
    let outcome = redeem(state, code_text, scope.session).await;
    if let (SignIn::Refused, Some(limiter)) = (&outcome, &state.limiter) {
        limiter.note_failure(scope.client);
    }
    outcome
}

async fn redeem(state: &AppState, code_text: &str, presented: Option<SessionKey>) -> SignIn {
    let Ok(code) = AuthorizationCode::parse(code_text) else {
        metrics::counter!("payfac_codes_rejected_total", "reason" => "malformed").increment(1);
        return SignIn::Refused;
    };
    let Some(code_id) = code.id(&state.keys.ids) else {
        metrics::counter!("payfac_codes_rejected_total", "reason" => "unknown").increment(1);
        return SignIn::Refused;
    };
    let Ok(_permit) = state.backlog.sign_ins.try_acquire() else {
        // Too many sign-ins wait on storage already (a flood of guesses):
        // answered at once, the code unspent.
        metrics::counter!("payfac_sign_ins_shed_total").increment(1);
        return SignIn::Unavailable;
    };
    let now = unix_now();
    let config = &state.config;
    // Only a browser that presents a session cookie costs this lookup.
    let current: Option<Buyer> = match presented {
        Some(key) => match state
            .store
            .session_buyer(key, now, config.session_idle_secs)
            .await
        {
            Ok(buyer) => buyer,
            Err(error) => {
                tracing::error!(%error, "session lookup failed");
                return SignIn::Unavailable;
            }
        },
        None => None,
    };
    let (secret, secret_hash) = SessionToken::new_secret();
    let expires_at = if current.is_some() {
        now + config.code_ttl_secs
    } else {
        now + config.session_max_secs
    };
    let started = std::time::Instant::now();
    let outcome = state
        .store
        .redeem_code(Redemption {
            code_id,
            code_hash: code.secret_hash(),
            now,
            session: NewSession {
                secret_hash,
                expires_at,
                // Whoever the code's buyer is, a browser with a live
                // session gets a pending one first (confirmed below for
                // the same buyer, on the consent page for another).
                pending: current.is_some(),
            },
            // With a live session the old one ends only once the buyer
            // is known to be the same, or has agreed.
            replaces: if current.is_some() { None } else { presented },
        })
        .await;
    metrics::histogram!("payfac_storage_duration_seconds", "operation" => "redeem_code")
        .record(started.elapsed().as_secs_f64());
    let (buyer, session) = match outcome {
        Ok(RedeemOutcome::SignedIn { buyer, session }) => (buyer, session),
        Ok(RedeemOutcome::Rejected(reason)) => {
            metrics::counter!("payfac_codes_rejected_total", "reason" => reason.as_str())
                .increment(1);
            // The code's id is part of the code: it is not logged either.
            tracing::info!(reason = reason.as_str(), "code rejected");
            return SignIn::Refused;
        }
        Err(error) => {
            tracing::error!(%error, "code redemption failed");
            return SignIn::Unavailable;
        }
    };
    metrics::counter!("payfac_codes_redeemed_total").increment(1);
    let token = SessionToken::assemble(session, secret, &state.keys.ids);
    let Some(key) = SessionKey::of(&token, &state.keys.ids) else {
        tracing::error!("a new session's id has no public form");
        return SignIn::Unavailable;
    };
    match current {
        Some(current) if current.user_id != buyer.user_id => {
            metrics::counter!("payfac_sign_ins_pending_consent_total").increment(1);
            tracing::info!(user_id = buyer.user_id, merchant = %buyer.merchant, "sign-in waits for the buyer's consent");
            SignIn::NeedsConsent(consent::pending_cookie(
                &token,
                config.code_ttl_secs,
                config.insecure_cookies,
            ))
        }
        Some(_) => {
            // The same buyer again: the new session replaces the old one.
            let confirmed = state
                .store
                .confirm_session(key, now, config.session_max_secs, presented)
                .await;
            match confirmed {
                Ok(true) => {
                    tracing::info!(user_id = buyer.user_id, merchant = %buyer.merchant, "buyer signed in");
                    SignIn::SignedIn(session_cookie(
                        &token,
                        config.session_max_secs,
                        config.insecure_cookies,
                    ))
                }
                Ok(false) => SignIn::Refused,
                Err(error) => {
                    tracing::error!(%error, "confirming a session failed");
                    SignIn::Unavailable
                }
            }
        }
        None => {
            tracing::info!(user_id = buyer.user_id, merchant = %buyer.merchant, "buyer signed in");
            SignIn::SignedIn(session_cookie(
                &token,
                config.session_max_secs,
                config.insecure_cookies,
            ))
        }
    }
}

fn redirect(location: &str) -> Response {
    let mut response = StatusCode::SEE_OTHER.into_response();
    response.headers_mut().insert(
        header::LOCATION,
        HeaderValue::from_str(location).unwrap_or(HeaderValue::from_static("/")),
    );
    response
}
