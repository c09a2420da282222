//! Admin API tokens (stored hashed) and the audit trail.

use payfac_domain::SecretHash;
use rusqlite::{Connection, params};

use super::connect::is_constraint;
use crate::{AdminCredential, AdminTokenRecord, AuditEntry, AuditRecord, StoreError};

pub(super) fn create(
    connection: &Connection,
    name: &str,
    secret_hash: &SecretHash,
    now: i64,
    expires_at: Option<i64>,
) -> Result<bool, StoreError> {
    let inserted = connection
        .prepare_cached(
            "INSERT INTO admin_tokens (name, secret_hash, created_at, expires_at)
             VALUES (?1, ?2, ?3, ?4)",
        )?
        .execute(params![name, &secret_hash.0[..], now, expires_at]);
    match inserted {
        Ok(_) => Ok(true),
        Err(error) if is_constraint(&error, rusqlite::ffi::SQLITE_CONSTRAINT_PRIMARYKEY) => {
            Ok(false)
        }
        Err(error) => Err(error.into()),
    }
}

pub(super) fn list(connection: &Connection) -> Result<Vec<AdminTokenRecord>, rusqlite::Error> {
    connection
        .prepare_cached(
            "SELECT name, created_at, last_used_at, expires_at FROM admin_tokens ORDER BY name",
        )?
        .query_map([], |row| {
            Ok(AdminTokenRecord {
                name: row.get(0)?,
                created_at: row.get(1)?,
                last_used_at: row.get(2)?,
                expires_at: row.get(3)?,
            })
        })?
        .collect()
}

pub(super) fn credentials(
    connection: &Connection,
) -> Result<Vec<AdminCredential>, rusqlite::Error> {
    connection
        .prepare_cached("SELECT name, secret_hash, expires_at FROM admin_tokens ORDER BY name")?
        .query_map([], |row| {
            let hash: Vec<u8> = row.get(1)?;
            Ok((row.get::<_, String>(0)?, hash, row.get(2)?))
        })?
        .filter_map(|row| match row {
            Ok((name, hash, expires_at)) => SecretHash::from_slice(&hash).map(|secret_hash| {
                Ok(AdminCredential {
                    name,
                    secret_hash,
                    expires_at,
                })
            }),
            Err(error) => Some(Err(error)),
        })
        .collect()
}

pub(super) fn revoke(connection: &Connection, name: &str) -> Result<bool, StoreError> {
    let removed = connection
        .prepare_cached("DELETE FROM admin_tokens WHERE name = ?1")?
        .execute([name])?;
    Ok(removed > 0)
}

pub(super) fn touch(connection: &Connection, name: &str, now: i64) -> Result<(), StoreError> {
    connection
        .prepare_cached("UPDATE admin_tokens SET last_used_at = ?2 WHERE name = ?1")?
        .execute(params![name, now])?;
    Ok(())
}

pub(super) fn record(connection: &Connection, entry: &AuditEntry) -> Result<(), StoreError> {
    connection
        .prepare_cached(
            "INSERT INTO admin_audit (at, actor, action, target, result)
             VALUES (?1, ?2, ?3, ?4, ?5)",
        )?
        .execute(params![
            entry.at,
            entry.actor,
            entry.action,
            entry.target,
            entry.result
        ])?;
    Ok(())
}

pub(super) fn log(
    connection: &Connection,
    limit: i64,
) -> Result<Vec<AuditRecord>, rusqlite::Error> {
    connection
        .prepare_cached(
            "SELECT id, at, actor, action, target, result FROM admin_audit
             ORDER BY id DESC LIMIT ?1",
        )?
        .query_map([limit], |row| {
            Ok(AuditRecord {
                id: row.get(0)?,
                entry: AuditEntry {
                    at: row.get(1)?,
                    actor: row.get(2)?,
                    action: row.get(3)?,
                    target: row.get(4)?,
                    result: row.get(5)?,
                },
            })
        })?
        .collect()
}
