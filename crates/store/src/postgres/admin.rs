//! Merchants and their keys: the administration statements.
//!
//! Each change is one statement that also bumps `config_version` only when
//! the change was made, so a refused change neither half-applies nor makes
//! every server reload its merchant cache. Refusals are told apart
//! as in the SQLite backend: an unknown merchant before an unknown or
//! duplicate key.

use deadpool_postgres::Pool;
use payfac_domain::{MerchantId, MerchantStatus};

use super::connect::violates;
use crate::{AdminError, MerchantRecord, StoreError, StoredKey};

pub(super) async fn config_version(pool: &Pool) -> Result<i64, StoreError> {
    let client = pool.get().await?;
    let statement = client
        .prepare_cached("SELECT version FROM config_version")
        .await?;
    Ok(client.query_one(&statement, &[]).await?.try_get(0)?)
}

/// Every merchant with its keys, in one query; merchants in byte order of
/// their id (the column's collation is "C"), keys oldest first.
pub(super) async fn merchants(pool: &Pool) -> Result<Vec<MerchantRecord>, StoreError> {
    let client = pool.get().await?;
    let rows = client
        .query(
            "SELECT m.id, m.status, k.key_id, k.spki_der
             FROM merchants m LEFT JOIN merchant_keys k ON k.merchant_id = m.id
             ORDER BY m.id, k.created_at, k.key_id",
            &[],
        )
        .await?;
    let mut merchants: Vec<MerchantRecord> = Vec::new();
    for row in rows {
        let id: String = row.try_get(0)?;
        if merchants.last().is_none_or(|last| last.id != id) {
            let status: String = row.try_get(1)?;
            merchants.push(MerchantRecord {
                id,
                status: MerchantStatus::parse(&status).unwrap_or(MerchantStatus::Disabled),
                keys: Vec::new(),
            });
        }
        if let Some(key_id) = row.try_get::<_, Option<String>>(2)? {
            let merchant = merchants.last_mut().expect("pushed above");
            merchant.keys.push(StoredKey {
                key_id,
                spki_der: row.try_get(3)?,
            });
        }
    }
    Ok(merchants)
}

pub(super) async fn add_merchant(
    pool: &Pool,
    id: &MerchantId,
    key: &StoredKey,
) -> Result<(), AdminError> {
    let client = pool.get().await?;
    let result = client
        .execute(
            "WITH merchant AS (
                 INSERT INTO merchants (id, status, created_at)
                 VALUES ($1::text, 'active', $4::bigint)
                 RETURNING id
             ), new_key AS (
                 INSERT INTO merchant_keys (key_id, merchant_id, spki_der, created_at)
                 SELECT $2::text, id, $3::bytea, $4::bigint FROM merchant
             )
             UPDATE config_version SET version = version + 1
             WHERE EXISTS (SELECT 1 FROM merchant)",
            &[&id.as_str(), &key.key_id, &key.spki_der, &crate::unix_now()],
        )
        .await;
    match result {
        Err(error) if violates(&error, "merchants_pkey") => {
            Err(AdminError::MerchantExists(id.to_string()))
        }
        Err(error) if violates(&error, "merchant_keys_pkey") => {
            Err(AdminError::KeyExists(key.key_id.clone()))
        }
        Err(error) => Err(error.into()),
        Ok(_) => Ok(()),
    }
}

pub(super) async fn add_key(
    pool: &Pool,
    id: &MerchantId,
    key: &StoredKey,
) -> Result<(), AdminError> {
    let client = pool.get().await?;
    let result = client
        .execute(
            "WITH new_key AS (
                 INSERT INTO merchant_keys (key_id, merchant_id, spki_der, created_at)
                 SELECT $2::text, id, $3::bytea, $4::bigint FROM merchants WHERE id = $1::text
                 RETURNING 1
             )
             UPDATE config_version SET version = version + 1
             WHERE EXISTS (SELECT 1 FROM new_key)",
            &[&id.as_str(), &key.key_id, &key.spki_der, &crate::unix_now()],
        )
        .await;
    match result {
        Err(error) if violates(&error, "merchant_keys_pkey") => {
            Err(AdminError::KeyExists(key.key_id.clone()))
        }
        Err(error) => Err(error.into()),
        Ok(0) => Err(AdminError::UnknownMerchant(id.to_string())),
        Ok(_) => Ok(()),
    }
}

pub(super) async fn remove_key(
    pool: &Pool,
    id: &MerchantId,
    key_id: &str,
) -> Result<(), AdminError> {
    let client = pool.get().await?;
    let row = client
        .query_one(
            "WITH removed AS (
                 DELETE FROM merchant_keys WHERE merchant_id = $1::text AND key_id = $2::text
                 RETURNING 1
             ), bumped AS (
                 UPDATE config_version SET version = version + 1
                 WHERE EXISTS (SELECT 1 FROM removed)
             )
             SELECT EXISTS (SELECT 1 FROM merchants WHERE id = $1::text),
                    EXISTS (SELECT 1 FROM removed)",
            &[&id.as_str(), &key_id],
        )
        .await?;
    match (row.try_get(0)?, row.try_get(1)?) {
        (false, _) => Err(AdminError::UnknownMerchant(id.to_string())),
        (true, false) => Err(AdminError::UnknownKey {
            merchant: id.to_string(),
            key: key_id.to_owned(),
        }),
        (true, true) => Ok(()),
    }
}

pub(super) async fn set_status(
    pool: &Pool,
    id: &MerchantId,
    status: MerchantStatus,
) -> Result<(), AdminError> {
    let client = pool.get().await?;
    let changed = client
        .execute(
            "WITH changed AS (
                 UPDATE merchants SET status = $2::text WHERE id = $1::text
                 RETURNING 1
             )
             UPDATE config_version SET version = version + 1
             WHERE EXISTS (SELECT 1 FROM changed)",
            &[&id.as_str(), &status.as_str()],
        )
        .await?;
    if changed == 0 {
        return Err(AdminError::UnknownMerchant(id.to_string()));
    }
    Ok(())
}
