//! The proxied request's short way past the router.
//!
//! Most requests a gateway sees are the storefront's, and for those the
//! router and its four layers only decide to do nothing: no route of
//! payfac's, no rate limit (not a merchant call, not a sign-in), no code to
//! redeem, a storefront page `harden` leaves alone. The accept loop
//! (`crate::connections`) hands such requests here instead, which proxies
//! them with the same log line, metrics and fault pages, and skips the
//! rest; payfac's own paths and every `GET` carrying `authorizationCode`
//! still go through the router.

use std::net::IpAddr;

use axum::body::Body;
use axum::http::{Method, Request};
use axum::response::Response;
use tracing::Instrument;

use super::{Link, Upstream, proxy, reserved};
use crate::observability::RequestTrace;
use crate::{AppState, forward_auth, identity, pages};

/// What the accept loop needs to proxy a request itself.
#[derive(Clone)]
pub struct Shortcut {
    state: AppState,
    upstream: Upstream,
}

impl Shortcut {
    /// `None` without an upstream: every path is then payfac's.
    pub fn of(state: &AppState) -> Option<Self> {
        let upstream = state.upstream.clone()?;
        Some(Self {
            state: state.clone(),
            upstream,
        })
    }

    /// Whether the request is one the router would only proxy.
    pub fn takes<B>(&self, request: &Request<B>) -> bool {
        let path = request.uri().path();
        let sign_in =
            request.method() == Method::GET && request.uri().query().is_some_and(pages::has_code);
        !sign_in && !self.owns(path)
    }

    /// payfac's own paths in gateway mode, as `startup::router` routes
    /// them (the API test `payfacs_own_routes_stay_payfacs` holds the two
    /// together).
    fn owns(&self, path: &str) -> bool {
        reserved(path)
            || forward_auth::is_auth_path(path)
            || matches!(path, "/healthz" | "/readyz" | "/openapi.json")
            || path == identity::JWKS_PATH
            || (path == "/metrics" && self.state.config.metrics_listen.is_none())
    }

    /// Proxies the request as the router's `forward` does, traced as the
    /// router traces it.
    pub async fn proxy(&self, request: Request<Body>, peer: IpAddr, link: Link) -> Response {
        let route = if request.uri().path() == "/" {
            "/"
        } else {
            "/{*path}"
        };
        let trace = RequestTrace::start(request.method(), route);
        let mut response = proxy(&self.state, &self.upstream, &link, Some(peer), request)
            .instrument(trace.span.clone())
            .await;
        pages::harden_headers(&mut response, self.state.config.insecure_cookies);
        trace.finish(response)
    }
}
