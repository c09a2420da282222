//! Building and running the service; tests use the same path with port 0.

use std::sync::Arc;

use axum::Router;
use axum::routing::{any, get};
use payfac_store::{Store, StoreError};
use tokio::net::TcpListener;

use crate::merchants::MerchantDirectory;
use crate::observability::{metrics_handle, track_requests};
use crate::{AppState, Config, api, gateway, identity, ops, pages, playground, purge};

/// The whole HTTP surface.
pub fn router(state: AppState) -> Router {
    let own = Router::new()
        .route("/pay-fac/{merchant}/{version}/user", any(api::user_sync))
        .merge(pages::buyer_routes())
        .merge(playground::routes())
        .route(identity::JWKS_PATH, get(identity::jwks))
        .route("/healthz", get(ops::healthz))
        .route("/readyz", get(ops::readyz))
        .route("/metrics", get(ops::metrics));
    // With an upstream, every other path is the storefront's; without one,
    // payfac serves its demo storefront there.
    let rest = if state.upstream.is_some() {
        gateway::routes()
    } else {
        pages::routes().merge(playground::demo_routes())
    };
    own.merge(rest)
        .fallback(not_found)
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            pages::redeem_code_in_query,
        ))
        .layer(axum::middleware::from_fn(track_requests))
        .with_state(state)
}

/// Unknown paths: the merchant API's namespace answers with the 10001
/// envelope, everything else with a 404 page.
async fn not_found(
    state: axum::extract::State<AppState>,
    uri: axum::http::Uri,
    buyer: pages::CurrentBuyer,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    let path = uri.path();
    if path == "/pay-fac" || path.starts_with("/pay-fac/") {
        api::unknown_route().await.into_response()
    } else {
        pages::not_found(state, buyer).await
    }
}

/// A bound, ready-to-run service.
pub struct Application {
    listener: TcpListener,
    router: Router,
}

impl Application {
    /// Loads the merchant directory, starts the background tasks and binds
    /// the listener (port 0 picks a free port).
    pub async fn build(config: Config, store: Arc<dyn Store>) -> Result<Self, BuildError> {
        metrics_handle();
        let merchants = MerchantDirectory::load(store.as_ref()).await?;
        merchants.spawn_refresher(store.clone(), config.merchant_refresh);
        purge::spawn(store.clone(), config.purge_interval);
        let identity = identity::Handoff {
            keys: identity::KeyRing::load(
                store.as_ref(),
                config.identity_key_lead,
                config.identity_token_ttl_secs,
            )
            .await?,
            settings: Arc::new(identity::TokenSettings {
                issuer: config.identity_issuer.clone(),
                audience: config.identity_audience.clone(),
                ttl_secs: config.identity_token_ttl_secs,
            }),
            cache: Arc::default(),
        };
        identity
            .keys
            .spawn_refresher(store.clone(), config.identity_key_refresh);
        let upstream = config
            .upstream
            .as_ref()
            .map(|url| gateway::Upstream::new(url, &config));
        let listener = TcpListener::bind(config.listen)
            .await
            .map_err(|error| BuildError::Bind(config.listen.to_string(), error))?;
        let state = AppState {
            storage_permits: Arc::new(tokio::sync::Semaphore::new(config.max_pending_writes)),
            config: Arc::new(config),
            store,
            merchants,
            identity,
            upstream,
        };
        Ok(Self {
            listener,
            router: router(state),
        })
    }

    pub fn port(&self) -> u16 {
        self.listener.local_addr().map(|a| a.port()).unwrap_or(0)
    }

    /// Serves until the process receives Ctrl-C or SIGTERM.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        axum::serve(
            self.listener,
            self.router
                .into_make_service_with_connect_info::<std::net::SocketAddr>(),
        )
        .with_graceful_shutdown(shutdown_signal())
        .await
    }
}

#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("cannot listen on {0}: {1}")]
    Bind(String, std::io::Error),
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        if let Ok(mut signal) =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        {
            signal.recv().await;
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
}
