//! The signing keys: a handful of rows, read by every instance's key ring
//! and written only at first start and by a rotation. The same statements
//! serve the Ed25519 identity keys and the OpenID Provider's RS256 keys:
//! `table` is [`IDENTITY`] or [`OIDC`].

use deadpool_postgres::Pool;

use crate::{IdentityKeyRecord, StoreError};

/// A key table, with the advisory lock that serialises its first-start
/// inserts of instances starting at once (per database, like the
/// migrator's lock).
pub(super) struct KeyTable {
    name: &'static str,
    first_key_lock: i64,
}

/// "payfacid" in ASCII.
pub(super) const IDENTITY: KeyTable = KeyTable {
    name: "identity_keys",
    first_key_lock: 0x7061_7966_6163_6964,
};

/// "payfacop" in ASCII.
pub(super) const OIDC: KeyTable = KeyTable {
    name: "oidc_keys",
    first_key_lock: 0x7061_7966_6163_6f70,
};

pub(super) async fn identity_keys(
    pool: &Pool,
    table: &KeyTable,
) -> Result<Vec<IdentityKeyRecord>, StoreError> {
    let client = pool.get().await?;
    let rows = client
        .query(
            &format!(
                "SELECT kid, private_pkcs8, created_at FROM {} ORDER BY created_at, kid",
                table.name
            ),
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
    table: &KeyTable,
    key: &IdentityKeyRecord,
    only_if_none: bool,
) -> Result<bool, StoreError> {
    let mut client = pool.get().await?;
    let transaction = client.transaction().await?;
    if only_if_none {
        transaction
            .execute("SELECT pg_advisory_xact_lock($1)", &[&table.first_key_lock])
            .await?;
        let any: bool = transaction
            .query_one(
                &format!("SELECT EXISTS (SELECT 1 FROM {})", table.name),
                &[],
            )
            .await?
            .try_get(0)?;
        if any {
            return Ok(false);
        }
    }
    transaction
        .execute(
            &format!(
                "INSERT INTO {} (kid, private_pkcs8, created_at) VALUES ($1, $2, $3)",
                table.name
            ),
            &[&key.kid, &key.private_pkcs8, &key.created_at],
        )
        .await?;
    transaction.commit().await?;
    Ok(true)
}

pub(super) async fn remove_identity_keys_before(
    pool: &Pool,
    table: &KeyTable,
    created_before: i64,
) -> Result<u64, StoreError> {
    let client = pool.get().await?;
    let name = table.name;
    Ok(client
        .execute(
            &format!(
                "DELETE FROM {name} WHERE created_at < $1
                   AND kid <> (SELECT kid FROM {name} ORDER BY created_at DESC, kid DESC LIMIT 1)"
            ),
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
