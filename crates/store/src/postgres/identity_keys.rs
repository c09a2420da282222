//! The identity-signing keys: a handful of rows, read by every instance's
//! key ring and written only at first start and by `identity-key rotate`.

use deadpool_postgres::Pool;

use crate::{IdentityKeyRecord, StoreError};

/// Serialises first-start inserts of instances starting at once
/// ("payfacid" in ASCII); per database, like the migrator's lock.
const FIRST_KEY_LOCK: i64 = 0x7061_7966_6163_6964;

pub(super) async fn identity_keys(pool: &Pool) -> Result<Vec<IdentityKeyRecord>, StoreError> {
    let client = pool.get().await?;
    let rows = client
        .query(
            "SELECT kid, private_pkcs8, created_at FROM identity_keys ORDER BY created_at, kid",
            &[],
        )
        .await?;
    rows.iter()
        .map(|row| {
            Ok(IdentityKeyRecord {
                kid: row.try_get(0)?,
                private_pkcs8: row.try_get(1)?,
                created_at: row.try_get(2)?,
            })
        })
        .collect()
}

/// With `only_if_none`, a transaction-scoped advisory lock makes the
/// emptiness check and the insert one step across instances.
pub(super) async fn add_identity_key(
    pool: &Pool,
    key: &IdentityKeyRecord,
    only_if_none: bool,
) -> Result<bool, StoreError> {
    let mut client = pool.get().await?;
    let transaction = client.transaction().await?;
    if only_if_none {
        transaction
            .execute("SELECT pg_advisory_xact_lock($1)", &[&FIRST_KEY_LOCK])
            .await?;
        let any: bool = transaction
            .query_one("SELECT EXISTS (SELECT 1 FROM identity_keys)", &[])
            .await?
            .try_get(0)?;
        if any {
            return Ok(false);
        }
    }
    transaction
        .execute(
            "INSERT INTO identity_keys (kid, private_pkcs8, created_at) VALUES ($1, $2, $3)",
            &[&key.kid, &key.private_pkcs8, &key.created_at],
        )
        .await?;
    transaction.commit().await?;
    Ok(true)
}

pub(super) async fn remove_identity_keys_before(
    pool: &Pool,
    created_before: i64,
) -> Result<u64, StoreError> {
    let client = pool.get().await?;
    Ok(client
        .execute(
            "DELETE FROM identity_keys WHERE created_at < $1
               AND kid <> (SELECT kid FROM identity_keys ORDER BY created_at DESC, kid DESC LIMIT 1)",
            &[&created_before],
        )
        .await?)
}

/// One statement: the delete, and the replacement only when no other key
/// remains (the subquery sees the table as it was before the delete).
pub(super) async fn revoke_identity_key(
    pool: &Pool,
    kid: &str,
    replacement: &IdentityKeyRecord,
) -> Result<bool, StoreError> {
    let client = pool.get().await?;
    let row = client
        .query_one(
            "WITH gone AS (
                 DELETE FROM identity_keys WHERE kid = $1 RETURNING kid
             ), added AS (
                 INSERT INTO identity_keys (kid, private_pkcs8, created_at)
                 SELECT $2, $3, $4
                 WHERE EXISTS (SELECT 1 FROM gone)
                   AND NOT EXISTS (SELECT 1 FROM identity_keys WHERE kid <> $1)
             )
             SELECT count(*) FROM gone",
            &[
                &kid,
                &replacement.kid,
                &replacement.private_pkcs8,
                &replacement.created_at,
            ],
        )
        .await?;
    Ok(row.try_get::<_, i64>(0)? > 0)
}
