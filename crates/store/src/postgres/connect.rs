//! Opening the store: the connection pool, and how its failures become
//! `StoreError`s.
//!
//! Every wait is bounded: an unreachable database must answer a request
//! (10004) or a readiness probe (503) within seconds, not hang it, and the
//! pool reconnects on its own once the database is back.

use std::time::Duration;

use deadpool_postgres::{
    Manager, ManagerConfig, Pool, PoolError, RecyclingMethod, Runtime, TimeoutType,
};
use tokio_postgres::error::SqlState;

use super::PostgresStore;
use super::batch::Batcher;
use super::migrate::{MIGRATIONS, migrate, pending, version};
use super::tls::{MakeRustls, split_url};
use crate::{AdminError, Migration, SchemaStatus, StoreError, redact_url};

/// Connections per instance. Fixed rather than taken from the URL, so that
/// the total an operator must allow for is instances × this.
pub const POOL_SIZE: usize = 16;

/// Longest wait for a free pooled connection before the request fails.
pub const WAIT_TIMEOUT: Duration = Duration::from_secs(2);

/// Longest wait for a new connection, unless the URL sets
/// `connect_timeout`.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);

/// Unacknowledged data on a connection fails it after this long, so a
/// database that vanished from the network is noticed instead of waited on
/// forever (unless the URL sets `tcp_user_timeout`).
const TCP_USER_TIMEOUT: Duration = Duration::from_secs(10);

impl PostgresStore {
    /// Connects to the database a `postgres://` URL names and migrates it.
    /// Fails within a few seconds when the server cannot be reached.
    pub async fn open(url: &str) -> Result<Self, StoreError> {
        let pool = pool(url)?;
        let mut client = pool.get().await?;
        migrate(&mut client).await?;
        drop(client);
        Ok(Self {
            syncs: Batcher::start(pool.clone()),
            redemptions: Batcher::start(pool.clone()),
            pool,
        })
    }
}

/// `payfac migrate`: applies the pending migrations, under the same
/// advisory lock as instances starting.
pub(crate) async fn apply_migrations(url: &str) -> Result<Vec<Migration>, StoreError> {
    let pool = pool(url)?;
    let mut client = pool.get().await?;
    migrate(&mut client).await
}

/// `payfac migrate --check`: the recorded schema version, read only.
pub(crate) async fn schema_status(url: &str) -> Result<SchemaStatus, StoreError> {
    let pool = pool(url)?;
    let client = pool.get().await?;
    let current = version(&client).await?;
    Ok(SchemaStatus {
        current,
        latest: MIGRATIONS.len() as i64,
        pending: pending(current),
    })
}

/// The pool for a URL. `sslmode` and `sslrootcert` are read as libpq
/// reads them (`tls.rs`); everything else as tokio-postgres does.
pub(super) fn pool(url: &str) -> Result<Pool, StoreError> {
    let invalid = |reason: String| {
        StoreError::Config(format!(
            "invalid PostgreSQL URL ({reason}): {}",
            redact_url(url)
        ))
    };
    let (plain, tls) = split_url(url).map_err(|error| match error {
        StoreError::Config(reason) => invalid(reason),
        other => other,
    })?;
    // tokio-postgres's parse errors ("unknown option `sslcert`") name the
    // option, never its value; the reason is in the error's source.
    let mut config: tokio_postgres::Config =
        plain.parse().map_err(|error: tokio_postgres::Error| {
            invalid(match std::error::Error::source(&error) {
                Some(cause) => cause.to_string(),
                None => error.to_string(),
            })
        })?;
    config.ssl_mode(tls.ssl_mode());
    let connector = MakeRustls::new(tls)?;
    if config.get_connect_timeout().is_none() {
        config.connect_timeout(CONNECT_TIMEOUT);
    }
    if config.get_tcp_user_timeout().is_none() {
        config.tcp_user_timeout(TCP_USER_TIMEOUT);
    }
    if config.get_application_name().is_none() {
        config.application_name("payfac");
    }
    // The idempotent migrations (`DROP TRIGGER IF EXISTS …`) make the
    // server send NOTICEs such as "does not exist, skipping", which read
    // like errors in payfac's log. Warnings and errors still arrive.
    if config.get_options().is_none() {
        config.options("-c client_min_messages=warning");
    }
    // `Fast` recycling only checks that the connection is still open: a
    // health query per checkout would double the round trips of a request.
    let manager = Manager::from_config(
        config,
        connector,
        ManagerConfig {
            recycling_method: RecyclingMethod::Fast,
        },
    );
    Pool::builder(manager)
        .max_size(POOL_SIZE)
        .runtime(Runtime::Tokio1)
        .wait_timeout(Some(WAIT_TIMEOUT))
        .create_timeout(Some(CONNECT_TIMEOUT))
        .recycle_timeout(Some(WAIT_TIMEOUT))
        .build()
        .map_err(|error| StoreError::Config(error.to_string()))
}

/// One simple-protocol round trip, bounded in time as a whole so a probe
/// never outlives the orchestrator's patience.
pub(super) async fn ping(pool: &Pool) -> Result<(), StoreError> {
    let probe = async {
        let client = pool.get().await?;
        client.batch_execute("SELECT 1").await?;
        Ok(())
    };
    tokio::time::timeout(WAIT_TIMEOUT, probe)
        .await
        .unwrap_or_else(|_| Err(StoreError::Unavailable("database ping timed out".into())))
}

/// True when `error` violated the named unique or foreign-key constraint.
pub(super) fn violates(error: &tokio_postgres::Error, constraint: &str) -> bool {
    error.as_db_error().is_some_and(|db| {
        (*db.code() == SqlState::UNIQUE_VIOLATION || *db.code() == SqlState::FOREIGN_KEY_VIOLATION)
            && db.constraint() == Some(constraint)
    })
}

/// The server's message and SQLSTATE, without its DETAIL line: details
/// quote row values, which may include hashes or buyer data.
fn describe(error: &tokio_postgres::Error) -> String {
    match error.as_db_error() {
        Some(db) => format!("{} (SQLSTATE {})", db.message(), db.code().code()),
        None => match std::error::Error::source(error) {
            Some(cause) => format!("{error}: {cause}"),
            None => error.to_string(),
        },
    }
}

impl From<tokio_postgres::Error> for StoreError {
    fn from(error: tokio_postgres::Error) -> Self {
        Self::Unavailable(describe(&error))
    }
}

impl From<PoolError> for StoreError {
    fn from(error: PoolError) -> Self {
        match error {
            PoolError::Backend(error) => error.into(),
            PoolError::Timeout(TimeoutType::Create) => {
                Self::Unavailable("timed out connecting to the database".into())
            }
            PoolError::Timeout(_) => {
                Self::Unavailable("timed out waiting for a database connection".into())
            }
            other => Self::Unavailable(other.to_string()),
        }
    }
}

impl From<tokio_postgres::Error> for AdminError {
    fn from(error: tokio_postgres::Error) -> Self {
        Self::Store(error.into())
    }
}

impl From<PoolError> for AdminError {
    fn from(error: PoolError) -> Self {
        Self::Store(error.into())
    }
}
