//! The service's stored secrets (`server_secrets`): the first caller's
//! candidate becomes the secret every later caller gets, in one statement.

use deadpool_postgres::Pool;

use crate::StoreError;

/// The secret stored under `name`, storing `candidate` first if none is;
/// of instances starting at once, the first insert wins for all.
pub(super) async fn server_secret(
    pool: &Pool,
    name: &str,
    candidate: &[u8; 32],
) -> Result<Vec<u8>, StoreError> {
    let client = pool.get().await?;
    let statement = client
        .prepare_cached(
            "WITH inserted AS (
                 INSERT INTO server_secrets (name, secret, created_at) VALUES ($1, $2, $3)
                 ON CONFLICT (name) DO NOTHING RETURNING secret
             )
             SELECT secret FROM inserted
             UNION ALL SELECT secret FROM server_secrets WHERE name = $1
             LIMIT 1",
        )
        .await?;
    let row = client
        .query_one(&statement, &[&name, &&candidate[..], &crate::unix_now()])
        .await?;
    Ok(row.get(0))
}
