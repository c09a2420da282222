//! The purge of expired nonces, codes and sessions: the background
//! cleanup, one statement (one round trip) per call.

use deadpool_postgres::Pool;

use crate::{PurgeCounts, StoreError};

/// One statement for all three tables. `SKIP LOCKED` lets several
/// instances purge at once without queueing behind each other or behind
/// a request holding one of the rows. Nonces go by the earlier of the
/// instance's clock and the database's: an instance whose clock runs
/// ahead never deletes a nonce the others may still need.
const PURGE: &str = "
WITH n AS (
    DELETE FROM nonces WHERE (merchant_id, nonce) IN (
        SELECT merchant_id, nonce FROM nonces
        WHERE expires_at < LEAST($1::bigint, floor(extract(epoch FROM now()))::bigint)
        LIMIT $2::bigint FOR UPDATE SKIP LOCKED)
    RETURNING 1
), c AS (
    DELETE FROM codes WHERE id IN (
        SELECT id FROM codes WHERE expires_at < $1::bigint
        LIMIT $2::bigint FOR UPDATE SKIP LOCKED)
    RETURNING used_at IS NULL AS unused
), s AS (
    DELETE FROM sessions WHERE id IN (
        SELECT id FROM sessions WHERE expires_at < $1::bigint
        LIMIT $2::bigint FOR UPDATE SKIP LOCKED)
    RETURNING 1
)
SELECT (SELECT count(*) FROM n), (SELECT count(*) FROM c),
       (SELECT count(*) FROM c WHERE unused), (SELECT count(*) FROM s)";

pub(super) async fn purge_expired(
    pool: &Pool,
    now: i64,
    batch: i64,
) -> Result<PurgeCounts, StoreError> {
    let client = pool.get().await?;
    let statement = client.prepare_cached(PURGE).await?;
    let row = client.query_one(&statement, &[&now, &batch]).await?;
    super::oidc::purge(&client, now, batch).await?;
    let count = |index: usize| -> Result<u64, tokio_postgres::Error> {
        Ok(row.try_get::<_, i64>(index)?.max(0) as u64)
    };
    Ok(PurgeCounts {
        nonces: count(0)?,
        codes: count(1)?,
        codes_unused: count(2)?,
        sessions: count(3)?,
    })
}
