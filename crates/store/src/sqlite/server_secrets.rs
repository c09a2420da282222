//! The service's stored secrets (`server_secrets`): the first caller's
//! candidate becomes the secret every later caller gets.

use rusqlite::{Connection, params};

use crate::StoreError;

/// The secret stored under `name`, storing `candidate` first if none is.
pub(super) fn server_secret(
    connection: &Connection,
    name: &str,
    candidate: &[u8; 32],
) -> Result<Vec<u8>, StoreError> {
    connection
        .prepare_cached(
            "INSERT INTO server_secrets (name, secret, created_at) VALUES (?1, ?2, ?3)
             ON CONFLICT (name) DO NOTHING",
        )?
        .execute(params![name, &candidate[..], crate::unix_now()])?;
    Ok(connection
        .prepare_cached("SELECT secret FROM server_secrets WHERE name = ?1")?
        .query_row(params![name], |row| row.get(0))?)
}
