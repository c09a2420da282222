//! Schema migrations. SQLite's `user_version` counts the ones applied;
//! the missing ones run in one `BEGIN IMMEDIATE` transaction, so two
//! processes opening one file at once never both apply one, and a failure
//! leaves the schema as it was.

use rusqlite::Connection;

use crate::{Migration, StoreError};

/// Schema migrations (name, SQL), applied in order; the index + 1 is
/// the version.
pub(super) const MIGRATIONS: &[(&str, &str)] = &[
    ("schema", include_str!("schema.sql")),
    ("nonce_log", include_str!("migrations/002_nonce_log.sql")),
    (
        "session_ids",
        include_str!("migrations/003_session_ids.sql"),
    ),
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

/// Applies the missing migrations and answers which it applied.
pub(super) fn migrate(connection: &Connection) -> Result<Vec<Migration>, StoreError> {
    connection.execute_batch("BEGIN IMMEDIATE")?;
    let result = (|| -> Result<Vec<Migration>, rusqlite::Error> {
        let mut applied = Vec::new();
        for migration in pending(version(connection)?) {
            connection.execute_batch(MIGRATIONS[migration.version as usize - 1].1)?;
            connection.pragma_update(None, "user_version", migration.version)?;
            applied.push(migration);
        }
        Ok(applied)
    })();
    match result {
        Ok(applied) => {
            connection.execute_batch("COMMIT")?;
            Ok(applied)
        }
        Err(error) => {
            let _ = connection.execute_batch("ROLLBACK");
            Err(error.into())
        }
    }
}

/// The schema version a database records (0 for a new one).
pub(super) fn version(connection: &Connection) -> Result<i64, rusqlite::Error> {
    connection.pragma_query_value(None, "user_version", |row| row.get(0))
}

/// The migrations after `version`, in order.
pub(super) fn pending(version: i64) -> Vec<Migration> {
    crate::schema::after(MIGRATIONS, version)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sqlite::SqliteStore;
    use crate::{Store, SyncOutcome, SyncRequest};
    use payfac_domain::{MerchantId, Nonce, SecretHash};

    /// A database of schema version 1 keeps its live nonces through the
    /// move to the nonce log: a replay after the upgrade is still refused.
    #[tokio::test]
    async fn upgrade_keeps_live_nonces() {
        let directory = tempfile::tempdir().unwrap();
        let path = directory.path().join("v1.db");
        let connection = Connection::open(&path).unwrap();
        connection.execute_batch(MIGRATIONS[0].1).unwrap();
        connection.pragma_update(None, "user_version", 1).unwrap();
        connection
            .execute_batch(
                "INSERT INTO nonces VALUES ('M1', 'abcdef', 2000000000);
                 INSERT INTO nonces VALUES ('M1', 'expired', 1000);",
            )
            .unwrap();
        drop(connection);

        let store = SqliteStore::open(path.to_str().unwrap()).await.unwrap();
        let request = |nonce: &str| SyncRequest {
            merchant: MerchantId::parse("M1").unwrap(),
            nonce: Nonce::parse(nonce).unwrap(),
            signed_at: 1_900_000_000,
            window: 300,
            profile: payfac_domain::BuyerProfile {
                merchant_user_no: payfac_domain::MerchantUserNo::parse("U1").unwrap(),
                email: payfac_domain::Email::parse("buyer@example.com").unwrap(),
                first_name: None,
                last_name: None,
            },
            new_user_id: crate::new_user_id(),
            code_hash: SecretHash::of("secret"),
            code_expires_at: 2_000_000_000,
            now: 1_900_000_000,
        };
        let replay = store.sync_user(request("abcdef")).await.unwrap();
        assert_eq!(replay, SyncOutcome::NonceReused);
        let reused = store.sync_user(request("expired")).await.unwrap();
        assert!(matches!(reused, SyncOutcome::Issued { .. }), "{reused:?}");
    }
}
