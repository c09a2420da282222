//! Schema migrations, safe when several instances start at once on one
//! database.
//!
//! Every instance runs the same transaction: take a transaction-scoped
//! advisory lock (so migrators queue instead of racing on `CREATE TABLE`),
//! read the applied versions, apply the missing ones, record them, commit.
//! A failure rolls everything back and releases the lock; the next start
//! tries again.

use deadpool_postgres::Client;

use crate::{Migration, StoreError};

/// Schema migrations (name, SQL), applied in order; the index + 1 is
/// the version.
pub(super) const MIGRATIONS: &[(&str, &str)] = &[
    ("schema", include_str!("schema.sql")),
    (
        "session_ids",
        include_str!("migrations/002_session_ids.sql"),
    ),
    ("nonce_log", include_str!("migrations/003_nonce_log.sql")),
    (
        "nonce_retention",
        include_str!("migrations/004_nonce_retention.sql"),
    ),
    ("admin_api", include_str!("migrations/005_admin_api.sql")),
    (
        "identity_keys",
        include_str!("migrations/006_identity_keys.sql"),
    ),
    (
        "server_secrets",
        include_str!("migrations/007_server_secrets.sql"),
    ),
    (
        "pending_sessions",
        include_str!("migrations/008_pending_sessions.sql"),
    ),
    (
        "admin_token_expiry",
        include_str!("migrations/009_admin_token_expiry.sql"),
    ),
    (
        "oidc_provider",
        include_str!("migrations/010_oidc_provider.sql"),
    ),
];

/// Advisory lock key of the migrator ("payfac" in ASCII). Advisory locks
/// are per database, so two databases on one server never wait on each
/// other.
const LOCK_KEY: i64 = 0x7061_7966_6163;

/// Applies the missing migrations and answers which it applied.
pub(super) async fn migrate(client: &mut Client) -> Result<Vec<Migration>, StoreError> {
    let transaction = client.transaction().await?;
    transaction
        .execute("SELECT pg_advisory_xact_lock($1)", &[&LOCK_KEY])
        .await?;
    transaction
        .batch_execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations (
                 version    BIGINT PRIMARY KEY,
                 applied_at TIMESTAMPTZ NOT NULL DEFAULT now()
             )",
        )
        .await?;
    let applied: i64 = transaction
        .query_one(
            "SELECT COALESCE(max(version), 0) FROM schema_migrations",
            &[],
        )
        .await?
        .get(0);
    // A database already migrated further by a newer release is used as it
    // is, so an older instance can still run during a rolling upgrade.
    let pending = pending(applied);
    for migration in &pending {
        transaction
            .batch_execute(MIGRATIONS[migration.version as usize - 1].1)
            .await?;
        transaction
            .execute(
                "INSERT INTO schema_migrations (version) VALUES ($1)",
                &[&migration.version],
            )
            .await?;
    }
    transaction.commit().await?;
    Ok(pending)
}

/// The schema version the database records, reading only: 0 when it
/// has no `schema_migrations` table (a new database).
pub(super) async fn version(client: &Client) -> Result<i64, StoreError> {
    let exists: bool = client
        .query_one("SELECT to_regclass('schema_migrations') IS NOT NULL", &[])
        .await?
        .get(0);
    if !exists {
        return Ok(0);
    }
    Ok(client
        .query_one(
            "SELECT COALESCE(max(version), 0) FROM schema_migrations",
            &[],
        )
        .await?
        .get(0))
}

/// The migrations after `version`, in order.
pub(super) fn pending(version: i64) -> Vec<Migration> {
    crate::schema::after(MIGRATIONS, version)
}
