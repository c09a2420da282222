//! Schema migrations. SQLite's `user_version` counts the ones applied;
//! the missing ones run in one `BEGIN IMMEDIATE` transaction, so two
//! processes opening one file at once never both apply one, and a failure
//! leaves the schema as it was.

use rusqlite::Connection;

use crate::StoreError;

/// Schema migrations, applied in order; the index + 1 is the version.
pub(super) const MIGRATIONS: &[&str] = &[
    include_str!("schema.sql"),
    include_str!("migrations/002_nonce_log.sql"),
    include_str!("migrations/003_session_ids.sql"),
    include_str!("migrations/004_nonce_retention.sql"),
    include_str!("migrations/005_admin_api.sql"),
    include_str!("migrations/006_identity_keys.sql"),
    include_str!("migrations/007_server_secrets.sql"),
    include_str!("migrations/008_pending_sessions.sql"),
];

pub(super) fn migrate(connection: &Connection) -> Result<(), StoreError> {
    connection.execute_batch("BEGIN IMMEDIATE")?;
    let result = (|| -> Result<(), rusqlite::Error> {
        let version: i64 = connection.pragma_query_value(None, "user_version", |row| row.get(0))?;
        for (index, sql) in MIGRATIONS.iter().enumerate().skip(version as usize) {
            connection.execute_batch(sql)?;
            connection.pragma_update(None, "user_version", index as i64 + 1)?;
        }
        Ok(())
    })();
    match result {
        Ok(()) => Ok(connection.execute_batch("COMMIT")?),
        Err(error) => {
            let _ = connection.execute_batch("ROLLBACK");
            Err(error.into())
        }
    }
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
        connection.execute_batch(MIGRATIONS[0]).unwrap();
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
