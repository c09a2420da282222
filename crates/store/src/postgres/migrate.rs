//! Schema migrations, safe when several instances start at once on one
//! database.
//!
//! Every instance runs the same transaction: take a transaction-scoped
//! advisory lock (so migrators queue instead of racing on `CREATE TABLE`),
//! read the applied versions, apply the missing ones, record them, commit.
//! A failure rolls everything back and releases the lock; the next start
//! tries again.

use deadpool_postgres::Client;

use crate::StoreError;

/// Schema migrations, applied in order; the index + 1 is the version.
const MIGRATIONS: &[&str] = &[
    include_str!("schema.sql"),
    include_str!("migrations/002_session_ids.sql"),
    include_str!("migrations/003_nonce_log.sql"),
    include_str!("migrations/004_nonce_retention.sql"),
    include_str!("migrations/005_admin_api.sql"),
    include_str!("migrations/006_identity_keys.sql"),
    include_str!("migrations/007_server_secrets.sql"),
    include_str!("migrations/008_pending_sessions.sql"),
];

/// Advisory lock key of the migrator ("payfac" in ASCII). Advisory locks
/// are per database, so two databases on one server never wait on each
/// other.
const LOCK_KEY: i64 = 0x7061_7966_6163;

pub(super) async fn migrate(client: &mut Client) -> Result<(), StoreError> {
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
    for (index, sql) in MIGRATIONS.iter().enumerate().skip(applied as usize) {
        let version = index as i64 + 1;
        transaction.batch_execute(sql).await?;
        transaction
            .execute(
                "INSERT INTO schema_migrations (version) VALUES ($1)",
                &[&version],
            )
            .await?;
    }
    transaction.commit().await?;
    Ok(())
}
