//! Building and running the service; tests use the same path with port 0.

use std::sync::Arc;

use axum::Router;
use axum::routing::{any, get};
use payfac_store::{Store, StoreError};
use tokio::net::TcpListener;

use crate::merchants::MerchantDirectory;
use crate::observability::{metrics_handle, track_requests};
use crate::{
    AppState, Backlog, Config, api, connections, forward_auth, gateway, identity, ops, pages,
    playground, purge,
};

/// The whole public HTTP surface; `/metrics` only while no separate
/// metrics listener is configured.
pub fn router(state: AppState) -> Router {
    let mut own = Router::new()
        .route("/pay-fac/{merchant}/{version}/user", any(api::user_sync))
        .merge(pages::buyer_routes())
        .merge(playground::routes(&state.config))
        .route(identity::JWKS_PATH, get(identity::jwks))
        .merge(crate::oidc::routes())
        .route(forward_auth::AUTH_PATH, any(forward_auth::check))
        // Envoy's ext_authz appends the original path to its path_prefix.
        .route(
            &format!("{}/{{*original}}", forward_auth::AUTH_PATH),
            any(forward_auth::check),
        )
        .route("/healthz", get(ops::healthz))
        .route("/readyz", get(ops::readyz));
    if state.config.metrics_listen.is_none() {
        own = own.route("/metrics", get(ops::metrics));
    }
    // With an upstream, every other path is the storefront's; without one,
    // payfac serves its demo storefront there.
    let rest = if state.upstream.is_some() {
        gateway::routes()
    } else {
        pages::routes().merge(playground::demo_routes(&state.config))
    };
    own.merge(rest)
        .fallback(not_found)
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            pages::harden,
        ))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            pages::redeem_code_in_query,
        ))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            crate::ratelimit::guard,
        ))
        .layer(axum::middleware::from_fn(track_requests))
        .with_state(state)
}

/// The metrics listener's surface (`--metrics-listen`).
fn metrics_router() -> Router {
    Router::new()
        .route("/metrics", get(ops::metrics))
        .route("/healthz", get(ops::healthz))
}

/// Unknown paths: the merchant API's namespace answers with the 10001
/// envelope, everything else with a 404 page. Gateway mode's catch-all
/// answers payfac's own unrouted paths with it too.
pub(crate) async fn not_found(
    state: axum::extract::State<AppState>,
    uri: axum::http::Uri,
    buyer: pages::CurrentBuyer,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    let path = uri.path();
    if api::owns(path) {
        api::unknown_route().await.into_response()
    } else {
        pages::not_found(state, buyer).await
    }
}

/// A bound, ready-to-run service: the public listener, and the metrics
/// and admin listeners when configured.
pub struct Application {
    listener: TcpListener,
    pub(crate) router: Router,
    /// Gateway mode's way past `router` for the storefront's requests.
    shortcut: Option<gateway::Shortcut>,
    metrics_listener: Option<TcpListener>,
    /// The admin API's own listener, when configured.
    admin: Option<(TcpListener, Router)>,
    limits: connections::Limits,
    /// Flushed once the listeners have stopped.
    store: Arc<dyn Store>,
    backlog: Backlog,
    shutdown_grace: std::time::Duration,
}

impl Application {
    /// Loads the merchant directory, starts the background tasks and binds
    /// the listeners (port 0 picks a free port).
    pub async fn build(config: Config, store: Arc<dyn Store>) -> Result<Self, BuildError> {
        if config.header_read_timeout.is_zero() || config.max_connections == 0 {
            return Err(BuildError::Config(
                "the header read timeout and the connection cap must be positive".into(),
            ));
        }
        if !(1..=payfac_store::MAX_TIMESTAMP_WINDOW_SECS).contains(&config.timestamp_window_secs) {
            return Err(BuildError::Config(format!(
                "the timestamp window must be 1 to {} seconds",
                payfac_store::MAX_TIMESTAMP_WINDOW_SECS
            )));
        }
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
        let listener = bind(config.listen).await?;
        let metrics_listener = bind_optional(config.metrics_listen).await?;
        let admin_listener = bind_optional(config.admin_listen).await?;
        let limits = connections::Limits {
            header_read_timeout: config.header_read_timeout,
            max_connections: config.max_connections,
        };
        let shutdown_grace = config.shutdown_grace;
        let keys = Arc::new(crate::keys::ServiceKeys::load(store.as_ref()).await?);
        let limiter = crate::ratelimit::Limiter::new(&config.rate_limits);
        if let Some(limiter) = &limiter {
            limiter.spawn_sweeper();
        }
        let backlog = Backlog::new(config.max_pending_writes, config.max_pending_sign_ins);
        let oidc = crate::oidc::Provider::start(&config, &store).await?;
        let state = AppState::new(crate::state::Shared {
            oidc,
            keys,
            limiter,
            backlog: backlog.clone(),
            config: Arc::new(config),
            store: store.clone(),
            merchants,
            identity,
            upstream,
        });
        Ok(Self {
            store,
            backlog,
            shutdown_grace,
            listener,
            metrics_listener,
            admin: admin_listener.map(|l| (l, crate::admin::router(state.clone()))),
            shortcut: gateway::Shortcut::of(&state),
            router: router(state),
            limits,
        })
    }

    pub fn port(&self) -> u16 {
        port_of(&self.listener)
    }

    /// The metrics listener's port, when there is one.
    pub fn metrics_port(&self) -> Option<u16> {
        self.metrics_listener.as_ref().map(port_of)
    }

    /// How many requests wait on storage now; a handle that stays valid
    /// while the application runs.
    pub fn backlog(&self) -> Backlog {
        self.backlog.clone()
    }

    /// The admin listener's port, when there is one.
    pub fn admin_port(&self) -> Option<u16> {
        self.admin.as_ref().map(|(listener, _)| port_of(listener))
    }

    /// Serves every listener until the process receives Ctrl-C or SIGTERM.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        self.run_until(shutdown_signal()).await
    }

    /// Serves every listener until `shutdown` resolves; then stops
    /// accepting, lets the requests in flight finish for at most the
    /// shutdown grace, and flushes the store's pending writes
    /// (docs/RELIABILITY.md, "Graceful shutdown").
    pub async fn run_until(
        self,
        shutdown: impl std::future::Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        let (stop, stopped) = tokio::sync::watch::channel(false);
        tokio::spawn(async move {
            shutdown.await;
            tracing::info!("shutting down: no new connections; requests in flight finish");
            let _ = stop.send(true);
        });
        let (store, grace) = (self.store, self.shutdown_grace);
        let mut signalled = stopped.clone();
        let grace_over = async move {
            let _ = signalled.wait_for(|stop| *stop).await;
            tokio::time::sleep(grace).await;
        };
        let mut served = vec![(self.listener, self.router, self.shortcut)];
        served.extend(self.metrics_listener.map(|l| (l, metrics_router(), None)));
        served.extend(self.admin.map(|(l, router)| (l, router, None)));
        let limits = self.limits;
        let serving = futures_util::future::join_all(served.into_iter().map(
            |(listener, router, shortcut)| {
                let mut stopped = stopped.clone();
                connections::serve(listener, router, shortcut, limits, async move {
                    let _ = stopped.wait_for(|stop| *stop).await;
                })
            },
        ));
        let result = tokio::select! {
            results = serving => results.into_iter().collect(),
            () = grace_over => {
                tracing::warn!(grace_secs = grace.as_secs_f64(), "shutdown grace over; requests still in flight are dropped unanswered");
                Ok(())
            }
        };
        // Whatever was answered is durable already; this waits for writes
        // still queued, so the process leaves no work half-done behind it.
        match store.flush().await {
            Ok(()) => tracing::info!("stopped; pending writes flushed"),
            Err(error) => tracing::error!(%error, "stopped; flushing pending writes failed"),
        }
        result
    }
}

async fn bind(address: std::net::SocketAddr) -> Result<TcpListener, BuildError> {
    TcpListener::bind(address)
        .await
        .map_err(|error| BuildError::Bind(address.to_string(), error))
}

async fn bind_optional(
    address: Option<std::net::SocketAddr>,
) -> Result<Option<TcpListener>, BuildError> {
    match address {
        Some(address) => bind(address).await.map(Some),
        None => Ok(None),
    }
}

fn port_of(listener: &TcpListener) -> u16 {
    listener.local_addr().map(|a| a.port()).unwrap_or(0)
}

#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("cannot listen on {0}: {1}")]
    Bind(String, std::io::Error),
    #[error("{0}")]
    Config(String),
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
