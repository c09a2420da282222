//! The original request a proxy's forward-auth sub-request describes:
//! which headers carry it, and what to do when they disagree. Forward auth
//! answers from it, and the request scope classifies the sub-request by it
//! (a sign-in when the original request is one).

use axum::http::{HeaderMap, Method, Uri};

use super::{code, paths};

/// The original request's method: `X-Forwarded-Method` (Caddy, Traefik;
/// the shipped nginx config sets it too). Absent, the sub-request's own.
pub const FORWARDED_METHOD: &str = "x-forwarded-method";
/// The original request URI (path and query): Caddy, Traefik.
pub const FORWARDED_URI: &str = "x-forwarded-uri";
/// The original request URI: nginx (`$request_uri`).
pub const ORIGINAL_URI: &str = "x-original-uri";

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get(name)
        .and_then(|value| value.to_str().ok())
        .filter(|value| !value.is_empty())
}

/// The original request URI: `X-Forwarded-Uri` or `X-Original-URI`,
/// else what follows the forward-auth path in the sub-request's own URI
/// (Envoy's `path_prefix`), else `/`. `None` when both headers are present
/// and differ: one of them is the client's, and which one a proxy set
/// cannot be told.
pub fn original_uri(headers: &HeaderMap, own: &Uri) -> Option<String> {
    match (
        header(headers, FORWARDED_URI),
        header(headers, ORIGINAL_URI),
    ) {
        (Some(forwarded), Some(original)) if forwarded != original => return None,
        (Some(uri), _) | (None, Some(uri)) => return Some(uri.to_owned()),
        (None, None) => {}
    }
    Some(match own.path().strip_prefix(paths::FORWARD_AUTH) {
        Some(rest) if rest.starts_with('/') => match own.query() {
            Some(query) => format!("{rest}?{query}"),
            None => rest.to_owned(),
        },
        _ => "/".to_owned(),
    })
}

/// `X-Forwarded-Method`, else the sub-request's own method (Envoy sends
/// the original one; nginx and Caddy send `GET` and the header).
pub fn original_method_is_get(headers: &HeaderMap, own: &Method) -> bool {
    match header(headers, FORWARDED_METHOD) {
        Some(method) => method == Method::GET.as_str(),
        None => own == Method::GET,
    }
}

/// Whether the original request is a sign-in: a `GET` with a code.
pub fn describes_sign_in(method: &Method, uri: &Uri, headers: &HeaderMap) -> bool {
    let Some(original) = original_uri(headers, uri) else {
        return false;
    };
    let query = original.split_once('?').map_or("", |(_, query)| query);
    original_method_is_get(headers, method) && code::has_code(query)
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    #[test]
    fn two_different_original_uris_are_refused() {
        let own: Uri = "/_payfac/auth".parse().unwrap();
        let mut headers = HeaderMap::new();
        headers.insert(ORIGINAL_URI, HeaderValue::from_static("/account/orders"));
        assert_eq!(
            original_uri(&headers, &own).as_deref(),
            Some("/account/orders")
        );
        headers.insert(FORWARDED_URI, HeaderValue::from_static("/account/orders"));
        assert_eq!(
            original_uri(&headers, &own).as_deref(),
            Some("/account/orders")
        );
        headers.insert(FORWARDED_URI, HeaderValue::from_static("/"));
        assert_eq!(original_uri(&headers, &own), None);
        headers.remove(ORIGINAL_URI);
        assert_eq!(original_uri(&headers, &own).as_deref(), Some("/"));
        let envoy: Uri = "/_payfac/auth/account?x=1".parse().unwrap();
        assert_eq!(
            original_uri(&HeaderMap::new(), &envoy).as_deref(),
            Some("/account?x=1")
        );
    }

    #[test]
    fn a_sign_in_is_a_get_with_a_code_in_the_original_uri() {
        let own: Uri = "/_payfac/auth".parse().unwrap();
        let mut headers = HeaderMap::new();
        headers.insert(
            ORIGINAL_URI,
            HeaderValue::from_static("/p?authorizationCode=x"),
        );
        assert!(describes_sign_in(&Method::GET, &own, &headers));
        headers.insert(FORWARDED_METHOD, HeaderValue::from_static("HEAD"));
        assert!(!describes_sign_in(&Method::GET, &own, &headers));
    }
}
