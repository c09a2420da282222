//! Admin API tokens (stored hashed) and the audit trail on PostgreSQL.
//! Mirrors sqlite/admin_tokens.rs.

use deadpool_postgres::Pool;
use payfac_domain::SecretHash;

use super::connect::violates;
use crate::{AdminCredential, AdminTokenRecord, AuditEntry, AuditRecord, StoreError};

pub(super) async fn create(
    pool: &Pool,
    name: &str,
    secret_hash: &SecretHash,
    now: i64,
    expires_at: Option<i64>,
) -> Result<bool, StoreError> {
    let client = pool.get().await?;
    let inserted = client
        .execute(
            "INSERT INTO admin_tokens (name, secret_hash, created_at, expires_at)
             VALUES ($1::text, $2::bytea, $3::bigint, $4::bigint)",
            &[&name, &&secret_hash.0[..], &now, &expires_at],
        )
        .await;
    match inserted {
        Ok(_) => Ok(true),
        Err(error) if violates(&error, "admin_tokens_pkey") => Ok(false),
        Err(error) => Err(error.into()),
    }
}

pub(super) async fn list(pool: &Pool) -> Result<Vec<AdminTokenRecord>, StoreError> {
    let client = pool.get().await?;
    let rows = client
        .query(
            "SELECT name, created_at, last_used_at, expires_at FROM admin_tokens ORDER BY name",
            &[],
        )
        .await?;
    rows.iter()
        .map(|row| {
            Ok(AdminTokenRecord {
                name: row.try_get(0)?,
                created_at: row.try_get(1)?,
                last_used_at: row.try_get(2)?,
                expires_at: row.try_get(3)?,
            })
        })
        .collect()
}

pub(super) async fn credentials(pool: &Pool) -> Result<Vec<AdminCredential>, StoreError> {
    let client = pool.get().await?;
    let statement = client
        .prepare_cached("SELECT name, secret_hash, expires_at FROM admin_tokens ORDER BY name")
        .await?;
    let rows = client.query(&statement, &[]).await?;
    let mut credentials = Vec::with_capacity(rows.len());
    for row in rows {
        let hash: Vec<u8> = row.try_get(1)?;
        if let Some(secret_hash) = SecretHash::from_slice(&hash) {
            credentials.push(AdminCredential {
                name: row.try_get(0)?,
                secret_hash,
                expires_at: row.try_get(2)?,
            });
        }
    }
    Ok(credentials)
}

pub(super) async fn revoke(pool: &Pool, name: &str) -> Result<bool, StoreError> {
    let client = pool.get().await?;
    let removed = client
        .execute("DELETE FROM admin_tokens WHERE name = $1::text", &[&name])
        .await?;
    Ok(removed > 0)
}

pub(super) async fn touch(pool: &Pool, name: &str, now: i64) -> Result<(), StoreError> {
    let client = pool.get().await?;
    client
        .execute(
            "UPDATE admin_tokens SET last_used_at = $2::bigint WHERE name = $1::text",
            &[&name, &now],
        )
        .await?;
    Ok(())
}

pub(super) async fn record(pool: &Pool, entry: &AuditEntry) -> Result<(), StoreError> {
    let client = pool.get().await?;
    client
        .execute(
            "INSERT INTO admin_audit (at, actor, action, target, result)
             VALUES ($1::bigint, $2::text, $3::text, $4::text, $5::text)",
            &[
                &entry.at,
                &entry.actor,
                &entry.action,
                &entry.target,
                &entry.result,
            ],
        )
        .await?;
    Ok(())
}

pub(super) async fn log(pool: &Pool, limit: i64) -> Result<Vec<AuditRecord>, StoreError> {
    let client = pool.get().await?;
    let rows = client
        .query(
            "SELECT id, at, actor, action, target, result FROM admin_audit
             ORDER BY id DESC LIMIT $1::bigint",
            &[&limit],
        )
        .await?;
    rows.iter()
        .map(|row| {
            Ok(AuditRecord {
                id: row.try_get(0)?,
                entry: AuditEntry {
                    at: row.try_get(1)?,
                    actor: row.try_get(2)?,
                    action: row.try_get(3)?,
                    target: row.try_get(4)?,
                    result: row.try_get(5)?,
                },
            })
        })
        .collect()
}
