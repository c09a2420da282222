//! Forward auth: `GET /_payfac/auth`, the sub-request a proxy of the
//! platform's own (nginx `auth_request`, Caddy `forward_auth`, Traefik
//! `forwardAuth`, Envoy `ext_authz`) makes for each buyer request.
//!
//! The original request arrives in headers: `X-Forwarded-Method`,
//! `X-Forwarded-Uri` (Caddy, Traefik) or `X-Original-URI` (nginx); which
//! headers, and what their disagreement means, is `boundary::forwarded`'s, and the
//! browser's `Cookie`. The answer:
//! - a live session: `200` with the `X-Payfac-*` identity headers and the
//!   `X-Payfac-Identity` JWT, for the proxy to copy onto the upstream
//!   request (the same headers and token as gateway mode);
//! - no live session: `200` without them, or `401` when the original path
//!   is under a `--require-session-prefix`;
//! - an `authorizationCode` in the original URI of a `GET`: the code is
//!   redeemed as on the pages (single use) and the answer is the pages'
//!   `303` to the original path and query without the code, with the
//!   session cookie, for the proxy to hand to the browser as it is.
//!
//! - an `X-Payfac-*` header of the client's that payfac never issues (the
//!   proxy overwrites only those it does): `403`.
//!
//! `X-Forwarded-Host` and `X-Forwarded-Proto` are not needed: `Location`
//! is always a path on the browser's own origin
//! (`boundary::redirects::safe_location`).

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::any;
use payfac_store::unix_now;

use crate::boundary::code::{code_in, query_without_code};
use crate::boundary::forwarded::original_uri;
use crate::boundary::paths::FORWARD_AUTH;
use crate::boundary::{headers as payfac_headers, redirects};
use crate::scope::{Kind, Scope};
use crate::{AppState, identity, signin};

/// Forward auth's path, for every method (Envoy's `ext_authz` sends the
/// original one), and below it (Envoy appends the original path to its
/// `path_prefix`).
pub fn routes() -> Router<AppState> {
    Router::new()
        .route(FORWARD_AUTH, any(check))
        .route(&format!("{FORWARD_AUTH}/{{*original}}"), any(check))
}

async fn check(
    State(state): State<AppState>,
    scope: Scope,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    if let Some(name) = unknown_identity_header(&headers) {
        // A proxy that cannot remove headers by prefix (nginx) overwrites
        // the names payfac issues; any other X-Payfac-* name the client
        // sent would reach the app as it is, so the request is refused.
        tracing::info!(
            header = name,
            "forward auth: a client sent an X-Payfac-* header"
        );
        metrics::counter!("payfac_forward_auth_total", "answer" => "forbidden").increment(1);
        return forbidden("X-Payfac-* headers are payfac's own.");
    }
    let Some(original) = original_uri(&headers, &uri) else {
        // nginx sets X-Original-URI; a client's own X-Forwarded-Uri that
        // a config forgot to clear would otherwise decide which path the
        // buyers-only prefixes are checked against.
        tracing::info!("forward auth: X-Forwarded-Uri and X-Original-URI disagree");
        metrics::counter!("payfac_forward_auth_total", "answer" => "forbidden").increment(1);
        return forbidden("The original request is described twice, differently.");
    };
    let (path, query) = original.split_once('?').unwrap_or((&original, ""));
    if scope.kind == (Kind::ForwardAuth { sign_in: true }) {
        let location = redirects::safe_location(path, &query_without_code(query));
        let code = code_in(query).unwrap_or_default();
        let outcome = signin::sign_in(&state, &code, &scope).await;
        metrics::counter!("payfac_forward_auth_total", "answer" => "sign_in").increment(1);
        return signin::sign_in_response(outcome, &location);
    }
    let key = scope.session;
    let mut identity = HeaderMap::new();
    if key.is_some() {
        state
            .identity
            .apply_session(
                &mut identity,
                key,
                state.store.as_ref(),
                state.config.session_idle_secs,
                unix_now(),
            )
            .await;
    }
    let signed_in = identity.contains_key(identity::IDENTITY_HEADER);
    let status = if signed_in || !requires_session(&state.config.require_session_prefixes, path) {
        StatusCode::OK
    } else {
        StatusCode::UNAUTHORIZED
    };
    let answer = match (signed_in, status) {
        (true, _) => "identity",
        (false, StatusCode::OK) => "anonymous",
        _ => "unauthorized",
    };
    metrics::counter!("payfac_forward_auth_total", "answer" => answer).increment(1);
    let mut response = status.into_response();
    response.headers_mut().extend(identity);
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// `403` (nginx and Caddy hand it to the browser as it is).
fn forbidden(text: &'static str) -> Response {
    let mut response = (StatusCode::FORBIDDEN, text).into_response();
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// The first header of the client's whose name is payfac's
/// (`boundary::headers`: any case, `_` read as `-`) but not, exactly, one
/// payfac issues and the proxy overwrites: `X_Payfac_User_Id` is refused,
/// since a CGI-style app reads it as `X-Payfac-User-Id`.
fn unknown_identity_header(headers: &HeaderMap) -> Option<&str> {
    headers.keys().map(|name| name.as_str()).find(|name| {
        payfac_headers::is_payfacs(name)
            && !identity::ISSUED_HEADERS
                .iter()
                .any(|issued| issued.as_str() == *name)
    })
}

/// Whether `path` (raw, as the browser sent it) is under one of the
/// buyers-only prefixes. The path is normalized the way some upstream
/// reads it (percent-decoded, `//` collapsed, `;` path parameters
/// dropped as servlet containers do, `.` and `..` resolved) and compared
/// without regard to ASCII case (as Express, ASP.NET and case-insensitive
/// file systems route), so `/public/../account`, `/%61ccount`,
/// `/account;x=1`, `/public/..;/account` and `/ACCOUNT` are not ways
/// around `/account`. Erring this way costs a case-sensitive app nothing:
/// `/ACCOUNT` is a 404 there either way. A prefix matches itself and
/// everything below it: `/account` covers `/account` and
/// `/account/orders`, not `/accounts`.
pub fn requires_session(prefixes: &[String], path: &str) -> bool {
    if prefixes.is_empty() {
        return false;
    }
    let path = normalize(path);
    prefixes.iter().any(|prefix| {
        let prefix = normalize(prefix);
        let prefix = prefix.trim_end_matches('/');
        prefix.is_empty()
            || path == prefix
            || path
                .strip_prefix(prefix)
                .is_some_and(|rest| rest.starts_with('/'))
    })
}

/// Percent-decoded, `\` read as `/` (as some servers do), ASCII lower
/// case, `;` parameters cut from each segment, empty and `.` segments
/// dropped, `..` resolved; always starts with `/`.
fn normalize(path: &str) -> String {
    let decoded: Vec<u8> = percent_decode(path.as_bytes());
    let decoded = String::from_utf8_lossy(&decoded)
        .replace('\\', "/")
        .to_ascii_lowercase();
    let mut segments: Vec<&str> = Vec::new();
    for segment in decoded.split('/') {
        let segment = segment.split_once(';').map_or(segment, |(name, _)| name);
        match segment {
            "" | "." => {}
            ".." => {
                segments.pop();
            }
            segment => segments.push(segment),
        }
    }
    let mut out = String::with_capacity(decoded.len() + 1);
    for segment in &segments {
        out.push('/');
        out.push_str(segment);
    }
    if out.is_empty() {
        out.push('/');
    }
    out
}

/// Decodes `%XX` until nothing changes (a double-encoded `%252e` counts
/// as `.` too, in case some hop decodes twice).
fn percent_decode(bytes: &[u8]) -> Vec<u8> {
    let mut current = bytes.to_vec();
    for _ in 0..4 {
        let mut out = Vec::with_capacity(current.len());
        let mut i = 0;
        while i < current.len() {
            let pair = (current[i] == b'%' && i + 2 < current.len())
                .then(|| (hex(current[i + 1]), hex(current[i + 2])));
            if let Some((Some(high), Some(low))) = pair {
                out.push((high << 4) | low);
                i += 3;
            } else {
                out.push(current[i]);
                i += 1;
            }
        }
        if out == current {
            break;
        }
        current = out;
    }
    current
}

fn hex(byte: u8) -> Option<u8> {
    (byte as char).to_digit(16).map(|digit| digit as u8)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn prefixes(list: &[&str]) -> Vec<String> {
        list.iter().map(|prefix| (*prefix).to_owned()).collect()
    }

    #[test]
    fn a_prefix_covers_itself_and_below_only() {
        let list = prefixes(&["/account", "/orders/"]);
        assert!(requires_session(&list, "/account"));
        assert!(requires_session(&list, "/account/"));
        assert!(requires_session(&list, "/account/x"));
        assert!(!requires_session(&list, "/accounts"));
        assert!(requires_session(&list, "/orders"));
        assert!(requires_session(&list, "/orders/1"));
        assert!(!requires_session(&list, "/"));
        assert!(!requires_session(&[], "/account"));
        assert!(requires_session(&prefixes(&["/"]), "/anything"));
    }

    #[test]
    fn encodings_and_dot_segments_do_not_get_around_a_prefix() {
        let list = prefixes(&["/account"]);
        for path in [
            "/public/../account",
            "//account",
            "/%61ccount",
            "/./account/x",
            "/public/%2e%2e/account",
            "/public/%252e%252e/account",
            "/public\\..\\account",
            "/%2Faccount",
        ] {
            assert!(requires_session(&list, path), "{path}");
        }
        assert!(!requires_session(&list, "/account/../public"));
    }

    #[test]
    fn case_and_path_parameters_do_not_get_around_a_prefix() {
        let list = prefixes(&["/account"]);
        for path in [
            "/ACCOUNT",
            "/Account/Orders",
            "/account;x=1",
            "/account;jsessionid=1/orders",
            "/public/..;/account",
            "/public/..;x=1/account",
            "/%41ccount",
            "/account%3Bx",
        ] {
            assert!(requires_session(&list, path), "{path}");
        }
        assert!(requires_session(&prefixes(&["/Account"]), "/account"));
        assert!(!requires_session(&list, "/accounts;x=1"));
        assert!(!requires_session(&list, "/public;/account"));
    }
}
