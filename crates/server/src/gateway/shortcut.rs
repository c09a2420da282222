//! The proxied request's short way past the router.
//!
//! Most requests a gateway sees are the storefront's, and for those the
//! router and its layers only decide to do nothing: no route of payfac's,
//! no rate limit (not a merchant call, not a sign-in), no code to redeem, a
//! storefront page the hardening leaves alone. The outermost layer
//! (`crate::app`) hands such requests here, by their scope, and this
//! proxies them with the same log line, metrics and fault pages; payfac's
//! own paths and every `GET` carrying `authorizationCode` still go through
//! the router.

use std::net::IpAddr;

use axum::body::Body;
use axum::http::Request;
use axum::response::Response;
use tracing::Instrument;

use super::{Gateway, proxy};
use crate::boundary::hardening::harden_headers;
use crate::edge::upstream::Link;
use crate::observability::RequestTrace;
use crate::scope::{Kind, Owner, Scope};

impl Gateway {
    /// Whether the request is one the router would only proxy: the
    /// storefront's, and not a sign-in.
    pub fn takes(scope: &Scope) -> bool {
        scope.owner == Owner::Storefront && scope.kind != Kind::SignIn
    }

    /// Proxies the request as the router's way does, traced as the
    /// router traces it.
    pub async fn proxy_direct(
        &self,
        request: Request<Body>,
        scope: Scope,
        peer: IpAddr,
        link: Link,
    ) -> Response {
        let route = if request.uri().path() == "/" {
            "/"
        } else {
            "/{*path}"
        };
        let trace = RequestTrace::start(request.method(), route);
        let mut response = proxy(
            &self.state,
            &self.upstream,
            &link,
            Some(peer),
            &scope,
            request,
        )
        .instrument(trace.span.clone())
        .await;
        harden_headers(&mut response, self.state.config.insecure_cookies);
        trace.finish(response)
    }
}
