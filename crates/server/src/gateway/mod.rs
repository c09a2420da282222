//! Gateway mode (`payfac serve --upstream URL`): payfac is the front door
//! of the platform's own storefront, as oauth2-proxy is for OAuth.
//!
//! payfac answers its own routes; every other request streams to the
//! upstream and back. On the way the request loses what the upstream must
//! not see or must not believe (hop-by-hop headers, trailers, payfac's
//! cookies, any `X-Payfac-*` a client made up, in any spelling) and, for
//! a signed-in buyer,
//! gains the identity hand-off (`crate::identity`). A `GET` carrying
//! `authorizationCode` never gets here: the sign-in layer
//! (`signin::redeem_code_in_query`) answers it first, so the code never
//! reaches the upstream's logs.
//!
//! The request scope (`crate::scope`) has already said whose request it
//! is; the gateway proxies the storefront's and never payfac's.

mod hygiene;
mod shortcut;

use std::net::IpAddr;

use axum::body::Body;
use axum::extract::Request;
use axum::http::uri::{Authority, PathAndQuery};
use axum::http::{HeaderValue, Method, StatusCode, Uri, Version, header};
use axum::response::{Html, IntoResponse, Response};
use hyper::body::Body as _;
use payfac_store::unix_now;

use crate::boundary::code::{has_code, query_without_code};
use crate::boundary::hardening::Storefront;
use crate::edge::upstream::{Endpoint, Failure, Link};
use crate::scope::Scope;
use crate::{AppState, Config, boundary};

/// Gateway mode's front end: the upstream, and the state proxying needs.
#[derive(Clone)]
pub struct Gateway {
    state: AppState,
    upstream: Upstream,
}

impl Gateway {
    pub fn new(state: &AppState, url: &Uri) -> Self {
        Self {
            state: state.clone(),
            upstream: Upstream::new(url, &state.config),
        }
    }

    /// Streams a storefront request to the upstream and its answer back
    /// (the router's way, for requests the shortcut did not take).
    pub async fn forward(&self, request: Request, scope: &Scope, peer: Option<IpAddr>) -> Response {
        let link = request
            .extensions()
            .get::<Link>()
            .cloned()
            .unwrap_or_default();
        proxy(&self.state, &self.upstream, &link, peer, scope, request).await
    }
}

/// The upstream: where it is, and the `Host` its requests carry.
#[derive(Clone)]
struct Upstream {
    endpoint: Endpoint,
    host: HeaderValue,
}

impl Upstream {
    fn new(url: &Uri, config: &Config) -> Self {
        let authority: Authority = url
            .authority()
            .cloned()
            .expect("parse_upstream checked the authority");
        Self {
            host: HeaderValue::from_str(authority.as_str())
                .expect("an authority is a valid header value"),
            endpoint: Endpoint {
                authority,
                connect_timeout: config.upstream_connect_timeout,
                response_timeout: config.upstream_response_timeout,
            },
        }
    }
}

/// Checks an `--upstream` value: `http://host[:port]`, optionally with a
/// trailing `/`, nothing else. The message says what is wrong.
pub fn parse_upstream(url: &str) -> Result<Uri, String> {
    let uri: Uri = url
        .parse()
        .map_err(|_| format!("--upstream {url:?} is not a URL"))?;
    match uri.scheme_str() {
        Some("http") => {}
        Some("https") => {
            return Err(format!(
                "--upstream {url:?}: only http:// upstreams are supported (payfac and the storefront share a private network)"
            ));
        }
        _ => return Err(format!("--upstream {url:?} must start with http://")),
    }
    let Some(authority) = uri.authority() else {
        return Err(format!("--upstream {url:?} has no host"));
    };
    if authority.as_str().contains('@') {
        return Err(format!("--upstream {url:?} must not carry credentials"));
    }
    if !matches!(uri.path(), "" | "/") || uri.query().is_some() {
        return Err(format!(
            "--upstream {url:?} must be http://host[:port] without a path or query"
        ));
    }
    Ok(uri)
}

/// Streams `request` to the upstream on `link` and its answer back: the
/// request loses hop-by-hop headers, its trailers, payfac's cookies and
/// any header name of payfac's (`boundary`), and gains `X-Forwarded-*`
/// and, for a signed-in buyer, the identity headers. A `GET` or `HEAD`
/// with a body is refused.
async fn proxy(
    state: &AppState,
    upstream: &Upstream,
    link: &Link,
    peer: Option<IpAddr>,
    scope: &Scope,
    request: Request,
) -> Response {
    let (mut parts, body) = request.into_parts();
    if matches!(parts.method, Method::GET | Method::HEAD) && !body.is_end_stream() {
        // A storefront that ignores `Content-Length` on a GET would read
        // the body as the next request, with headers payfac never saw.
        return bodied_get();
    }
    let body = hygiene::without_trailers(body);
    let host = parts
        .headers
        .get(header::HOST)
        .and_then(|value| value.to_str().ok())
        .map(str::to_owned)
        .or_else(|| parts.uri.authority().map(|a| a.to_string()));
    let headers = &mut parts.headers;
    let session = scope.session;
    hygiene::remove_hop_by_hop(headers);
    boundary::cookies::strip_issued(headers);
    headers.remove(header::EXPECT);
    headers.remove(header::TRAILER);
    headers.insert(header::HOST, upstream.host.clone());
    let proto = if state.config.insecure_cookies {
        "http"
    } else {
        "https"
    };
    hygiene::set_forwarded(headers, peer, host.as_deref(), proto);
    state
        .identity
        .apply_session(
            headers,
            session,
            state.store.as_ref(),
            state.config.session_idle_secs,
            unix_now(),
        )
        .await;
    parts.uri = origin_form(&parts.uri);
    parts.version = Version::HTTP_11;
    match upstream
        .endpoint
        .send(link, Request::from_parts(parts, body))
        .await
    {
        Ok(response) => {
            let (mut parts, body) = response.into_parts();
            hygiene::remove_hop_by_hop(&mut parts.headers);
            hygiene::relocate(&mut parts.headers, upstream.endpoint.authority.as_str());
            // payfac's own version (RFC 9110 §6.2), not the storefront's:
            // hyper answers an HTTP/1.0 client in 1.0 by itself, and an
            // HTTP/1.0 answer would close a 1.1 client's connection.
            parts.version = Version::HTTP_11;
            // The storefront's pages keep their own security headers.
            parts.extensions.insert(Storefront);
            Response::from_parts(parts, Body::new(body))
        }
        Err(failure) => fault(failure),
    }
}

/// The URI as an HTTP/1.1 request to an origin server carries it: path
/// and query only. A `GET` with `authorizationCode` never gets here (the
/// sign-in layer answers it); a code on any other method
/// is not redeemed (a link checker's `HEAD` must not burn it) and is
/// dropped from the query, so no live code reaches the storefront's logs.
fn origin_form(uri: &Uri) -> Uri {
    let path = uri.path();
    match uri.query() {
        Some(query) if has_code(query) => {
            let kept = query_without_code(query);
            let path_and_query = if kept.is_empty() {
                path.to_owned()
            } else {
                format!("{path}?{kept}")
            };
            Uri::try_from(path_and_query).expect("a part of a valid URI is one")
        }
        _ => Uri::from(
            uri.path_and_query()
                .cloned()
                .unwrap_or(PathAndQuery::from_static("/")),
        ),
    }
}

/// 400 for a `GET` or `HEAD` with a body (`Content-Length` above 0, or
/// chunked): such a body has no meaning (RFC 9110 §9.3.1) and is the
/// vehicle of request smuggling.
fn bodied_get() -> Response {
    metrics::counter!("payfac_upstream_refused_total", "reason" => "get_with_body").increment(1);
    let mut response = (
        StatusCode::BAD_REQUEST,
        [(header::CONNECTION, "close")],
        "A GET or HEAD request carries no body.",
    )
        .into_response();
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// 502 or 504 with a short page, counted by reason.
fn fault(failure: Failure) -> Response {
    let reason = failure.reason();
    tracing::warn!(reason, "upstream request failed");
    metrics::counter!("payfac_upstream_errors_total", "reason" => reason).increment(1);
    let (status, text) = match failure {
        Failure::Timeout | Failure::ConnectTimeout => (
            StatusCode::GATEWAY_TIMEOUT,
            "The store took too long to answer. Please try again.",
        ),
        Failure::Connect | Failure::Failed => (
            StatusCode::BAD_GATEWAY,
            "The store is unavailable right now. Please try again.",
        ),
    };
    let page = format!(
        "<!doctype html><html lang=\"en\"><meta charset=\"utf-8\"><title>{code}</title><h1>{code}</h1><p>{text}</p></html>",
        code = status.as_u16()
    );
    let mut response = (status, Html(page)).into_response();
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn upstream_urls() {
        assert!(parse_upstream("http://127.0.0.1:3000").is_ok());
        assert!(parse_upstream("http://shop.internal/").is_ok());
        assert!(parse_upstream("http://[::1]:8080").is_ok());
        for bad in [
            "",
            "shop:3000",
            "ftp://shop",
            "https://shop",
            "http://user:pw@shop",
            "http://shop/app",
            "http://shop/?a=1",
            "http://",
        ] {
            assert!(parse_upstream(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn origin_form_drops_codes_and_keeps_the_rest_as_sent() {
        for (uri, sent) in [
            ("http://shop/a/b?x=1&y=%20", "/a/b?x=1&y=%20"),
            ("http://shop", "/"),
            ("/p?authorizationCode=c1", "/p"),
            ("/p?a=1&authorizationCode=c1&b=2", "/p?a=1&b=2"),
            ("/p?authorizationCode=c1&authorizationCode=c2", "/p"),
        ] {
            let uri: Uri = uri.parse().unwrap();
            assert_eq!(origin_form(&uri), sent, "{uri}");
        }
    }
}
