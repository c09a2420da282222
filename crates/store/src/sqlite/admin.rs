//! Merchants and their keys: the administration statements.

use payfac_domain::{MerchantId, MerchantStatus};
use rusqlite::{Connection, params};

use super::connect::is_constraint;
use crate::{AdminError, MerchantRecord, StoredKey};

pub(super) fn config_version(connection: &Connection) -> Result<i64, rusqlite::Error> {
    connection.query_row("SELECT version FROM config_version", [], |row| row.get(0))
}

pub(super) fn merchants(connection: &Connection) -> Result<Vec<MerchantRecord>, rusqlite::Error> {
    let mut merchants: Vec<MerchantRecord> = connection
        .prepare_cached("SELECT id, status FROM merchants ORDER BY id")?
        .query_map([], |row| {
            let status: String = row.get(1)?;
            Ok(MerchantRecord {
                id: row.get(0)?,
                status: MerchantStatus::parse(&status).unwrap_or(MerchantStatus::Disabled),
                keys: Vec::new(),
            })
        })?
        .collect::<Result<_, _>>()?;
    let mut statement = connection.prepare_cached(
        "SELECT merchant_id, key_id, spki_der FROM merchant_keys ORDER BY created_at, key_id",
    )?;
    let mut rows = statement.query([])?;
    while let Some(row) = rows.next()? {
        let merchant_id: String = row.get(0)?;
        if let Ok(index) = merchants.binary_search_by(|m| m.id.cmp(&merchant_id)) {
            merchants[index].keys.push(StoredKey {
                key_id: row.get(1)?,
                spki_der: row.get(2)?,
            });
        }
    }
    Ok(merchants)
}

fn bump_version(connection: &Connection) -> Result<(), rusqlite::Error> {
    connection.execute("UPDATE config_version SET version = version + 1", [])?;
    Ok(())
}

fn insert_key(connection: &Connection, id: &MerchantId, key: &StoredKey) -> Result<(), AdminError> {
    connection
        .execute(
            "INSERT INTO merchant_keys (key_id, merchant_id, spki_der, created_at)
             VALUES (?1, ?2, ?3, ?4)",
            params![key.key_id, id.as_str(), key.spki_der, crate::unix_now()],
        )
        .map_err(|error| {
            if is_constraint(&error, rusqlite::ffi::SQLITE_CONSTRAINT_PRIMARYKEY) {
                AdminError::KeyExists(key.key_id.clone())
            } else {
                error.into()
            }
        })?;
    Ok(())
}

fn require_merchant(connection: &Connection, id: &MerchantId) -> Result<(), AdminError> {
    let exists: bool = connection.query_row(
        "SELECT EXISTS (SELECT 1 FROM merchants WHERE id = ?1)",
        [id.as_str()],
        |row| row.get(0),
    )?;
    if exists {
        Ok(())
    } else {
        Err(AdminError::UnknownMerchant(id.to_string()))
    }
}

pub(super) fn add_merchant(
    connection: &Connection,
    id: &MerchantId,
    key: &StoredKey,
) -> Result<(), AdminError> {
    connection
        .execute(
            "INSERT INTO merchants (id, status, created_at) VALUES (?1, 'active', ?2)",
            params![id.as_str(), crate::unix_now()],
        )
        .map_err(|error| {
            if is_constraint(&error, rusqlite::ffi::SQLITE_CONSTRAINT_PRIMARYKEY) {
                AdminError::MerchantExists(id.to_string())
            } else {
                error.into()
            }
        })?;
    insert_key(connection, id, key)?;
    Ok(bump_version(connection)?)
}

pub(super) fn add_key(
    connection: &Connection,
    id: &MerchantId,
    key: &StoredKey,
) -> Result<(), AdminError> {
    require_merchant(connection, id)?;
    insert_key(connection, id, key)?;
    Ok(bump_version(connection)?)
}

pub(super) fn remove_key(
    connection: &Connection,
    id: &MerchantId,
    key_id: &str,
) -> Result<(), AdminError> {
    require_merchant(connection, id)?;
    let removed = connection.execute(
        "DELETE FROM merchant_keys WHERE merchant_id = ?1 AND key_id = ?2",
        params![id.as_str(), key_id],
    )?;
    if removed == 0 {
        return Err(AdminError::UnknownKey {
            merchant: id.to_string(),
            key: key_id.to_owned(),
        });
    }
    Ok(bump_version(connection)?)
}

pub(super) fn set_status(
    connection: &Connection,
    id: &MerchantId,
    status: MerchantStatus,
) -> Result<(), AdminError> {
    let changed = connection.execute(
        "UPDATE merchants SET status = ?2 WHERE id = ?1",
        params![id.as_str(), status.as_str()],
    )?;
    if changed == 0 {
        return Err(AdminError::UnknownMerchant(id.to_string()));
    }
    Ok(bump_version(connection)?)
}
