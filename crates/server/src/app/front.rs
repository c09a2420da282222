//! The public listener's outermost layer, one per connection: works out
//! the request's scope (`crate::scope`) once and hands it on, then lets
//! gateway mode's shortcut proxy the storefront's requests past the
//! router, or passes the request to the router.

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::task::{Context, Poll};

use axum::Router;
use axum::body::Body;
use axum::http::Request;
use axum::response::Response;

use crate::AppState;
use crate::edge::upstream::Link;
use crate::gateway::Gateway;
use crate::scope::Scope;

/// One connection's service.
#[derive(Clone)]
pub struct Front {
    router: Router,
    state: AppState,
    /// Gateway mode: the gateway, and this connection's upstream link.
    gateway: Option<(Gateway, Link)>,
    peer: SocketAddr,
}

impl Front {
    pub fn new(
        router: Router,
        state: AppState,
        gateway: Option<Gateway>,
        peer: SocketAddr,
    ) -> Self {
        Self {
            router,
            state,
            gateway: gateway.map(|gateway| (gateway, Link::default())),
            peer,
        }
    }
}

impl tower::Service<Request<Body>> for Front {
    type Response = Response;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Response, Infallible>> + Send>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, mut request: Request<Body>) -> Self::Future {
        let scope = Scope::of(
            request.method(),
            request.uri(),
            request.headers(),
            self.peer.ip(),
            &self.state,
        );
        if let Some((gateway, link)) = &self.gateway {
            if Gateway::takes(&scope) {
                let (gateway, link, peer) = (gateway.clone(), link.clone(), self.peer.ip());
                return Box::pin(async move {
                    Ok(gateway.proxy_direct(request, scope, peer, link).await)
                });
            }
            request.extensions_mut().insert(link.clone());
        }
        request.extensions_mut().insert(scope);
        Box::pin(tower::ServiceExt::oneshot(self.router.clone(), request))
    }
}
