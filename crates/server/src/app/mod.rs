//! The top of the server: building and running the service (tests use
//! the same path with port 0), the routes of every front end and the
//! layers around them, each composed here and only here.
//!
//! ```text
//!   app          routes + layers + the per-connection front (scope, shortcut)
//!   front ends   api · signin · demo · gateway · forward_auth · playground · admin · ops
//!   shared       scope · identity · pages · state
//!   foundations  boundary · edge · ratelimit · envelope · observability · config · keys · merchants
//! ```
//!
//! A layer imports only from the layers below it (docs/DESIGN.md).

mod front;
mod layers;
mod routes;

use std::sync::Arc;

use axum::Router;
use payfac_store::{Store, StoreError};
use tokio::net::TcpListener;

pub use routes::router;

use crate::edge::connections;
use crate::gateway::Gateway;
use crate::merchants::MerchantDirectory;
use crate::observability::metrics_handle;
use crate::{AppState, Backlog, Config, identity, purge};
use front::Front;

/// A bound, ready-to-run service: the public listener, and the metrics
/// and admin listeners when configured.
pub struct Application {
    listener: TcpListener,
    pub(crate) router: Router,
    state: AppState,
    /// Gateway mode's front end.
    gateway: Option<Gateway>,
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
        let oidc = identity::Provider::start(&config, &store).await?;
        let state = AppState::new(crate::state::Shared {
            oidc,
            keys,
            limiter,
            backlog: backlog.clone(),
            config: Arc::new(config),
            store: store.clone(),
            merchants,
            identity,
        });
        let gateway = state
            .config
            .upstream
            .as_ref()
            .map(|url| Gateway::new(&state, url));
        Ok(Self {
            store,
            backlog,
            shutdown_grace,
            listener,
            metrics_listener,
            admin: admin_listener.map(|l| (l, crate::admin::router(state.clone()))),
            router: router(state.clone(), gateway.clone()),
            gateway,
            state,
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
        let limits = self.limits;
        let until_stopped = || {
            let mut stopped = stopped.clone();
            async move {
                let _ = stopped.wait_for(|stop| *stop).await;
            }
        };
        let (router, state, gateway) = (self.router, self.state, self.gateway);
        let public = connections::serve(
            self.listener,
            move |peer| Front::new(router.clone(), state.clone(), gateway.clone(), peer),
            limits,
            until_stopped(),
        );
        let plain = |served: Option<(TcpListener, Router)>| {
            let stop = until_stopped();
            async move {
                match served {
                    Some((listener, router)) => {
                        connections::serve(listener, move |_| router.clone(), limits, stop).await
                    }
                    None => Ok(()),
                }
            }
        };
        let metrics = plain(
            self.metrics_listener
                .map(|listener| (listener, routes::metrics_router())),
        );
        let admin = plain(self.admin);
        let serving = async { tokio::try_join!(public, metrics, admin).map(|_| ()) };
        let result = tokio::select! {
            result = serving => result,
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

#[cfg(test)]
mod layering;
