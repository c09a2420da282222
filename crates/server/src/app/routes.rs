//! The public listener's routes: every front end mounted in one place,
//! then the layers (`super::layers`), then the fallback that decides who
//! answers a path no route matched.

use axum::Router;
use axum::extract::{ConnectInfo, Request, State};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get};

use super::layers;
use crate::boundary::paths;
use crate::gateway::Gateway;
use crate::scope::{Owner, Scope};
use crate::signin::CurrentBuyer;
use crate::{AppState, api, demo, forward_auth, identity, oidc, ops, pages, playground, signin};

/// The whole public HTTP surface; `/metrics` only while no separate
/// metrics listener is configured. With a `gateway`, every path that is
/// not payfac's is the upstream storefront's; without one, payfac serves
/// its demo storefront there.
pub fn router(state: AppState, gateway: Option<Gateway>) -> Router {
    let mut own = Router::new()
        .route(
            &format!("{}/{{merchant}}/{{version}}/user", paths::MERCHANT_API),
            any(api::user_sync),
        )
        .merge(signin::routes())
        .merge(playground::routes(&state.config))
        .merge(forward_auth::routes())
        .merge(oidc::routes())
        .route(paths::JWKS, get(identity::jwks))
        .route(paths::HEALTHZ, get(ops::healthz))
        .route(paths::READYZ, get(ops::readyz));
    if state.config.ownership().metrics {
        own = own.route(paths::METRICS, get(ops::metrics));
    }
    let routes = match &gateway {
        Some(_) => own,
        None => own
            .merge(demo::routes())
            .merge(playground::demo_routes(&state.config)),
    };
    let routes = routes.fallback(move |state, scope, buyer, request| {
        fallback(state, scope, buyer, gateway.clone(), request)
    });
    layers::around(routes, &state).with_state(state)
}

/// The metrics listener's surface (`--metrics-listen`).
pub fn metrics_router() -> Router {
    Router::new()
        .route(paths::METRICS, get(ops::metrics))
        .route(paths::HEALTHZ, get(ops::healthz))
}

/// Paths no route matched: in the merchant API's namespace the 10001
/// envelope; the storefront's paths go to the upstream in gateway mode;
/// everything else is payfac's 404 page.
async fn fallback(
    State(state): State<AppState>,
    scope: Scope,
    buyer: CurrentBuyer,
    gateway: Option<Gateway>,
    request: Request,
) -> Response {
    let path = request.uri().path();
    if paths::is_merchant_api(path) {
        return api::unknown_route(&state, &scope).into_response();
    }
    match (scope.owner, gateway) {
        (Owner::Storefront, Some(gateway)) => {
            let peer = request
                .extensions()
                .get::<ConnectInfo<std::net::SocketAddr>>()
                .map(|info| info.0.ip());
            gateway.forward(request, &scope, peer).await
        }
        _ => pages::not_found(&state.config.platform_name, buyer.0),
    }
}
