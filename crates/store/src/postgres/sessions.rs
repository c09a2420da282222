//! Sessions and the purge: the statements behind every page view and the
//! background cleanup, one statement (one round trip) each.

use deadpool_postgres::Pool;
use payfac_domain::Buyer;

use super::buyers::buyer_from_row;
use crate::{PurgeCounts, SessionKey, StoreError};

/// A session's idle timer is refreshed at most this often, so most page
/// views write nothing.
const TOUCH_INTERVAL_SECS: i64 = 60;

/// Reads the buyer of a live session and, in the same statement, refreshes
/// the idle timer when the last refresh is a minute old or more.
const SESSION_BUYER: &str = concat!(
    "WITH live AS (
        SELECT user_id FROM sessions
        WHERE id = $1::bigint AND secret_hash = $2::bytea AND expires_at > $3::bigint
          AND last_seen_at > $3::bigint - $4::bigint
    ), touched AS (
        UPDATE sessions SET last_seen_at = $3::bigint
        WHERE id = $1::bigint AND secret_hash = $2::bytea AND expires_at > $3::bigint
          AND last_seen_at > $3::bigint - $4::bigint
          AND last_seen_at <= $3::bigint - $5::bigint
    )
    SELECT ",
    buyer_columns!(),
    " FROM live JOIN buyers b ON b.user_id = live.user_id"
);

pub(super) async fn session_buyer(
    pool: &Pool,
    session: &SessionKey,
    now: i64,
    idle_secs: i64,
) -> Result<Option<Buyer>, StoreError> {
    let client = pool.get().await?;
    let statement = client.prepare_cached(SESSION_BUYER).await?;
    let row = client
        .query_opt(
            &statement,
            &[
                &session.id.0,
                &&session.secret_hash.0[..],
                &now,
                &idle_secs,
                &TOUCH_INTERVAL_SECS,
            ],
        )
        .await?;
    Ok(row.as_ref().map(buyer_from_row).transpose()?)
}

pub(super) async fn end_session(pool: &Pool, session: &SessionKey) -> Result<(), StoreError> {
    let client = pool.get().await?;
    let statement = client
        .prepare_cached("DELETE FROM sessions WHERE id = $1 AND secret_hash = $2")
        .await?;
    client
        .execute(&statement, &[&session.id.0, &&session.secret_hash.0[..]])
        .await?;
    Ok(())
}

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
