//! The signing keys: a handful of rows, read by every instance's key ring
//! and written only at first start and by a rotation. The same statements
//! serve the Ed25519 identity keys (`identity_keys`) and the OpenID
//! Provider's RS256 keys (`oidc_keys`): `table` is one of those names.

use rusqlite::{Connection, params};

use crate::IdentityKeyRecord;

pub(super) const IDENTITY: &str = "identity_keys";
pub(super) const OIDC: &str = "oidc_keys";

pub(super) fn identity_keys(
    connection: &Connection,
    table: &str,
) -> Result<Vec<IdentityKeyRecord>, rusqlite::Error> {
    connection
        .prepare_cached(&format!(
            "SELECT kid, private_pkcs8, created_at FROM {table} ORDER BY created_at, kid"
        ))?
        .query_map([], |row| {
            Ok(IdentityKeyRecord {
                kid: row.get(0)?,
                private_pkcs8: row.get(1)?,
                created_at: row.get(2)?,
            })
        })?
        .collect()
}

/// Runs on the single writer thread, so the emptiness check and the
/// insert cannot interleave with another instance's (SQLite locks the file).
pub(super) fn add_identity_key(
    connection: &Connection,
    table: &str,
    key: &IdentityKeyRecord,
    only_if_none: bool,
) -> Result<bool, rusqlite::Error> {
    if only_if_none {
        let any: bool = connection.query_row(
            &format!("SELECT EXISTS (SELECT 1 FROM {table})"),
            [],
            |row| row.get(0),
        )?;
        if any {
            return Ok(false);
        }
    }
    connection.execute(
        &format!("INSERT INTO {table} (kid, private_pkcs8, created_at) VALUES (?1, ?2, ?3)"),
        params![key.kid, key.private_pkcs8, key.created_at],
    )?;
    Ok(true)
}

pub(super) fn remove_identity_keys_before(
    connection: &Connection,
    table: &str,
    created_before: i64,
) -> Result<u64, rusqlite::Error> {
    let removed = connection.execute(
        &format!(
            "DELETE FROM {table} WHERE created_at < ?1
               AND kid <> (SELECT kid FROM {table} ORDER BY created_at DESC, kid DESC LIMIT 1)"
        ),
        [created_before],
    )?;
    Ok(removed as u64)
}

/// On the writer thread: the delete and the replacement are one job.
pub(super) fn revoke_identity_key(
    connection: &Connection,
    kid: &str,
    replacement: &IdentityKeyRecord,
) -> Result<bool, rusqlite::Error> {
    if connection.execute("DELETE FROM identity_keys WHERE kid = ?1", [kid])? == 0 {
        return Ok(false);
    }
    add_identity_key(connection, IDENTITY, replacement, true)?;
    Ok(true)
}
