//! The identity-signing keys: a handful of rows, read by every instance's
//! key ring and written only at first start and by `identity-key rotate`.

use rusqlite::{Connection, params};

use crate::IdentityKeyRecord;

pub(super) fn identity_keys(
    connection: &Connection,
) -> Result<Vec<IdentityKeyRecord>, rusqlite::Error> {
    connection
        .prepare_cached(
            "SELECT kid, private_pkcs8, created_at FROM identity_keys ORDER BY created_at, kid",
        )?
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
    key: &IdentityKeyRecord,
    only_if_none: bool,
) -> Result<bool, rusqlite::Error> {
    if only_if_none {
        let any: bool =
            connection.query_row("SELECT EXISTS (SELECT 1 FROM identity_keys)", [], |row| {
                row.get(0)
            })?;
        if any {
            return Ok(false);
        }
    }
    connection.execute(
        "INSERT INTO identity_keys (kid, private_pkcs8, created_at) VALUES (?1, ?2, ?3)",
        params![key.kid, key.private_pkcs8, key.created_at],
    )?;
    Ok(true)
}

pub(super) fn remove_identity_keys_before(
    connection: &Connection,
    created_before: i64,
) -> Result<u64, rusqlite::Error> {
    let removed = connection.execute(
        "DELETE FROM identity_keys WHERE created_at < ?1
           AND kid <> (SELECT kid FROM identity_keys ORDER BY created_at DESC, kid DESC LIMIT 1)",
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
    add_identity_key(connection, replacement, true)?;
    Ok(true)
}
