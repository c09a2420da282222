//! Building and running the service; tests use the same path with port 0.

use std::sync::Arc;

use axum::Router;
use axum::routing::{any, get};
use payfac_store::{Store, StoreError};
use tokio::net::TcpListener;

use crate::merchants::MerchantDirectory;
use crate::observability::{metrics_handle, track_requests};
use crate::{AppState, Config, api, ops, pages, playground, purge};

/// The whole HTTP surface.
pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/pay-fac/{merchant}/{version}/user", any(api::user_sync))
        .merge(pages::routes())
        .merge(playground::routes(&state.config))
        .route("/healthz", get(ops::healthz))
        .route("/readyz", get(ops::readyz))
        .route("/metrics", get(ops::metrics))
        .fallback(not_found)
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            pages::harden,
        ))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            pages::redeem_code_in_query,
        ))
        .layer(axum::middleware::from_fn(track_requests))
        .with_state(state)
}

/// Unknown paths: the merchant API's namespace answers with the 10001
/// envelope, everything else with a 404 page.
async fn not_found(uri: axum::http::Uri, buyer: pages::CurrentBuyer) -> axum::response::Response {
    use axum::response::IntoResponse;
    let path = uri.path();
    if path == "/pay-fac" || path.starts_with("/pay-fac/") {
        api::unknown_route().await.into_response()
    } else {
        pages::not_found(buyer).await
    }
}

/// A bound, ready-to-run service.
pub struct Application {
    listener: TcpListener,
    router: Router,
    /// The admin API's own listener, when configured.
    admin: Option<(TcpListener, Router)>,
}

impl Application {
    /// Loads the merchant directory, starts the background tasks and binds
    /// the listener (port 0 picks a free port).
    pub async fn build(config: Config, store: Arc<dyn Store>) -> Result<Self, BuildError> {
        metrics_handle();
        let merchants = MerchantDirectory::load(store.as_ref()).await?;
        merchants.spawn_refresher(store.clone(), config.merchant_refresh);
        purge::spawn(store.clone(), config.purge_interval);
        let listener = TcpListener::bind(config.listen)
            .await
            .map_err(|error| BuildError::Bind(config.listen.to_string(), error))?;
        let admin_listener = match config.admin_listen {
            Some(address) => Some(
                TcpListener::bind(address)
                    .await
                    .map_err(|error| BuildError::Bind(address.to_string(), error))?,
            ),
            None => None,
        };
        let state = AppState {
            storage_permits: Arc::new(tokio::sync::Semaphore::new(config.max_pending_writes)),
            config: Arc::new(config),
            store,
            merchants,
        };
        Ok(Self {
            listener,
            admin: admin_listener.map(|l| (l, crate::admin::router(state.clone()))),
            router: router(state),
        })
    }

    pub fn port(&self) -> u16 {
        self.listener.local_addr().map(|a| a.port()).unwrap_or(0)
    }

    /// The admin listener's port, when there is one.
    pub fn admin_port(&self) -> Option<u16> {
        let (listener, _) = self.admin.as_ref()?;
        listener.local_addr().ok().map(|a| a.port())
    }

    /// Serves until the process receives Ctrl-C or SIGTERM.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        if let Some((listener, router)) = self.admin {
            tokio::spawn(async move {
                let served = axum::serve(listener, router)
                    .with_graceful_shutdown(shutdown_signal())
                    .await;
                if let Err(error) = served {
                    tracing::error!(%error, "the admin listener stopped");
                }
            });
        }
        axum::serve(self.listener, self.router)
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
