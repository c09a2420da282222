//! Sessions: the statements behind every page view, and ending and
//! confirming a session, one statement (one round trip) each.

use deadpool_postgres::Pool;
use payfac_domain::Buyer;

use super::buyers::buyer_from_row;
use crate::{SessionKey, StoreError};

/// A session's idle timer is refreshed at most this often, so most page
/// views write nothing.
const TOUCH_INTERVAL_SECS: i64 = 60;

/// Reads the buyer of a live session and, in the same statement, refreshes
/// the idle timer when the last refresh is a minute old or more.
const SESSION_BUYER: &str = concat!(
    "WITH live AS (
        SELECT user_id FROM sessions
        WHERE id = $1::bigint AND secret_hash = $2::bytea AND NOT pending
          AND expires_at > $3::bigint AND last_seen_at > $3::bigint - $4::bigint
    ), touched AS (
        UPDATE sessions SET last_seen_at = $3::bigint
        WHERE id = $1::bigint AND secret_hash = $2::bytea AND NOT pending
          AND expires_at > $3::bigint
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

/// The buyer of a live session pending the buyer's consent.
const PENDING_BUYER: &str = concat!(
    "SELECT ",
    buyer_columns!(),
    " FROM sessions s JOIN buyers b ON b.user_id = s.user_id
    WHERE s.id = $1::bigint AND s.secret_hash = $2::bytea AND s.pending
      AND s.expires_at > $3::bigint"
);

pub(super) async fn pending_buyer(
    pool: &Pool,
    session: &SessionKey,
    now: i64,
) -> Result<Option<Buyer>, StoreError> {
    let client = pool.get().await?;
    let statement = client.prepare_cached(PENDING_BUYER).await?;
    let row = client
        .query_opt(
            &statement,
            &[&session.id.0, &&session.secret_hash.0[..], &now],
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

/// Makes a live pending session a full one, ending `max_secs` after its
/// creation, and ends the one it replaces, in one statement; `false` when
/// the session is over, unknown or not pending.
const CONFIRM_SESSION: &str = "
WITH confirmed AS (
    UPDATE sessions
    SET pending = false, expires_at = created_at + $3::bigint, last_seen_at = $4::bigint
    WHERE id = $1::bigint AND secret_hash = $2::bytea AND pending AND expires_at > $4::bigint
    RETURNING id
), ended AS (
    DELETE FROM sessions
    WHERE id = $5::bigint AND secret_hash = $6::bytea AND id <> $1::bigint
      AND EXISTS (SELECT 1 FROM confirmed)
)
SELECT count(*) FROM confirmed";

pub(super) async fn confirm_session(
    pool: &Pool,
    pending: &SessionKey,
    now: i64,
    max_secs: i64,
    replaces: Option<&SessionKey>,
) -> Result<bool, StoreError> {
    let client = pool.get().await?;
    let statement = client.prepare_cached(CONFIRM_SESSION).await?;
    let (old_id, old_hash): (Option<i64>, Option<&[u8]>) = match replaces {
        Some(old) => (Some(old.id.0), Some(&old.secret_hash.0[..])),
        None => (None, None),
    };
    let row = client
        .query_one(
            &statement,
            &[
                &pending.id.0,
                &&pending.secret_hash.0[..],
                &max_secs,
                &now,
                &old_id,
                &old_hash,
            ],
        )
        .await?;
    Ok(row.get::<_, i64>(0) == 1)
}
