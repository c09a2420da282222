//! Gateway mode (`payfac serve --upstream URL`): payfac is the front door
//! of the platform's own storefront, as oauth2-proxy is for OAuth.
//!
//! payfac answers its own routes; every other request streams to the
//! upstream and back. On the way the request loses what the upstream must
//! not see or must not believe (hop-by-hop headers, payfac's session
//! cookie, any `X-Payfac-*` a client made up) and, for a signed-in buyer,
//! gains the identity hand-off (`crate::identity`). A `GET` carrying
//! `authorizationCode` never gets here: `pages::redeem_code_in_query`
//! answers it first, so the code never reaches the upstream's logs.

mod hygiene;

use std::net::SocketAddr;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::uri::{Authority, PathAndQuery, Scheme};
use axum::http::{HeaderValue, StatusCode, Uri, Version, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::any;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use payfac_store::unix_now;

use crate::pages::{CurrentBuyer, presented_session};
use crate::{AppState, Config, api, pages};

/// The upstream and the pooled HTTP/1.1 client that reaches it.
#[derive(Clone)]
pub struct Upstream {
    client: Client<HttpConnector, Body>,
    scheme: Scheme,
    authority: Authority,
    response_timeout: Duration,
}

impl Upstream {
    pub fn new(url: &Uri, config: &Config) -> Self {
        let mut connector = HttpConnector::new();
        connector.set_connect_timeout(Some(config.upstream_connect_timeout));
        connector.set_nodelay(true);
        let client = Client::builder(TokioExecutor::new()).build(connector);
        Self {
            client,
            scheme: url.scheme().cloned().unwrap_or(Scheme::HTTP),
            authority: url
                .authority()
                .cloned()
                .expect("parse_upstream checked the authority"),
            response_timeout: config.upstream_response_timeout,
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

/// Every path payfac does not answer itself.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/", any(forward))
        .route("/{*path}", any(forward))
}

/// Paths payfac keeps even when they are not routes: the merchant API's
/// namespace and payfac's own buyer routes.
fn reserved(path: &str) -> bool {
    ["/pay-fac", "/_payfac"].iter().any(|prefix| {
        path.strip_prefix(prefix)
            .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
    })
}

async fn forward(State(state): State<AppState>, request: Request) -> Response {
    let path = request.uri().path();
    if path == "/pay-fac" || path.starts_with("/pay-fac/") {
        return api::unknown_route().await.into_response();
    }
    if reserved(path) {
        let buyer = current_buyer(&state, request.headers().clone()).await;
        return pages::not_found(State(state), buyer).await;
    }
    let Some(upstream) = state.upstream.clone() else {
        let buyer = current_buyer(&state, request.headers().clone()).await;
        return pages::not_found(State(state), buyer).await;
    };
    let (mut parts, body) = request.into_parts();
    let peer = parts
        .extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|info| info.0.ip());
    let host = parts
        .headers
        .get(header::HOST)
        .and_then(|value| value.to_str().ok())
        .map(str::to_owned)
        .or_else(|| parts.uri.authority().map(|a| a.to_string()));
    let headers = &mut parts.headers;
    let session = presented_session(headers, &state);
    hygiene::remove_hop_by_hop(headers);
    hygiene::remove_session_cookie(headers);
    headers.remove(header::HOST);
    headers.remove(header::EXPECT);
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

    parts.uri = match Uri::builder()
        .scheme(upstream.scheme.clone())
        .authority(upstream.authority.clone())
        .path_and_query(
            parts
                .uri
                .path_and_query()
                .cloned()
                .unwrap_or(PathAndQuery::from_static("/")),
        )
        .build()
    {
        Ok(uri) => uri,
        Err(_) => return StatusCode::BAD_REQUEST.into_response(),
    };
    parts.version = Version::HTTP_11;
    let sent = upstream.client.request(Request::from_parts(parts, body));
    match tokio::time::timeout(upstream.response_timeout, sent).await {
        Ok(Ok(response)) => {
            let (mut parts, body) = response.into_parts();
            hygiene::remove_hop_by_hop(&mut parts.headers);
            // The storefront's pages keep their own security headers.
            parts.extensions.insert(pages::Storefront);
            Response::from_parts(parts, Body::new(body))
        }
        Ok(Err(error)) => {
            let timed_out = error.is_connect() && caused_by_timeout(&error);
            let reason = match (error.is_connect(), timed_out) {
                (_, true) => "connect_timeout",
                (true, false) => "connect",
                (false, _) => "failed",
            };
            tracing::warn!(reason, error = %error_chain(&error), "upstream request failed");
            fault(reason)
        }
        Err(_) => {
            tracing::warn!(reason = "timeout", "upstream response timed out");
            fault("timeout")
        }
    }
}

/// The buyer for payfac's own 404 page.
async fn current_buyer(state: &AppState, headers: axum::http::HeaderMap) -> CurrentBuyer {
    use axum::extract::FromRequestParts;
    let (mut parts, ()) = Request::new(()).into_parts();
    parts.headers = headers;
    match CurrentBuyer::from_request_parts(&mut parts, state).await {
        Ok(buyer) => buyer,
        Err(never) => match never {},
    }
}

/// 502 or 504 with a short page, counted by reason.
fn fault(reason: &'static str) -> Response {
    metrics::counter!("payfac_upstream_errors_total", "reason" => reason).increment(1);
    let (status, text) = match reason {
        "timeout" | "connect_timeout" => (
            StatusCode::GATEWAY_TIMEOUT,
            "The store took too long to answer. Please try again.",
        ),
        _ => (
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

fn caused_by_timeout(error: &(dyn std::error::Error + 'static)) -> bool {
    let mut current = Some(error);
    while let Some(error) = current {
        if error
            .downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::TimedOut)
        {
            return true;
        }
        current = error.source();
    }
    false
}

fn error_chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut text = error.to_string();
    let mut current = error.source();
    while let Some(error) = current {
        text.push_str(": ");
        text.push_str(&error.to_string());
        current = error.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn upstream_urls() {
        assert!(parse_upstream("http://127.0.0.1:3000").is_ok());
        assert!(parse_upstream("http://shop.internal/").is_ok());
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
    fn reserved_paths() {
        assert!(reserved("/_payfac"));
        assert!(reserved("/_payfac/x"));
        assert!(reserved("/pay-fac/M/v1/x"));
        assert!(!reserved("/_payfacade"));
        assert!(!reserved("/"));
    }
}
