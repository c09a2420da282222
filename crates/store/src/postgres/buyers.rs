//! Buyers, nonces, codes and sessions: the request-path statements.
//!
//! Each method is a single statement, so it is atomic on its own and costs
//! one round trip once prepared on the connection. The sub-statements of a
//! CTE all see one snapshot, so the exactly-once guarantees come from what
//! PostgreSQL re-checks against the latest committed row instead: unique
//! keys with `ON CONFLICT` (a racing insert waits for the other, then takes
//! the conflict path) and `UPDATE … WHERE` (a racing update waits, then
//! re-evaluates its condition on the updated row).

use deadpool_postgres::Pool;
use payfac_domain::{Buyer, CodeId, SecretHash};
use tokio_postgres::Row;

use super::connect::violates;
use crate::{
    PurgeCounts, RedeemOutcome, Redemption, RejectReason, StoreError, SyncOutcome, SyncRequest,
};

/// A session's idle timer is refreshed at most this often, so most page
/// views write nothing.
const TOUCH_INTERVAL_SECS: i64 = 60;

/// Attempts at a fresh buyer id when a random id collides.
const USER_ID_ATTEMPTS: usize = 3;

/// The nonce is recorded first (a live nonce row makes the insert a no-op
/// that returns nothing), and the buyer upsert and code insert read from
/// it, so a replay writes nothing and returns no row. Concurrent first
/// syncs of one buyer meet on the buyers unique key: the later one waits,
/// then updates the committed row and gets its `user_id`.
const SYNC_USER: &str = "
WITH recorded AS (
    INSERT INTO nonces (merchant_id, nonce, expires_at) VALUES ($1::text, $2::text, $3::bigint)
    ON CONFLICT (merchant_id, nonce) DO UPDATE SET expires_at = EXCLUDED.expires_at
    WHERE nonces.expires_at < $4::bigint
    RETURNING 1
), buyer AS (
    INSERT INTO buyers (user_id, merchant_id, merchant_user_no, email,
                        first_name, last_name, created_at, updated_at)
    SELECT $5::bigint, $1::text, $6::text, $7::text, $8::text, $9::text, $4::bigint, $4::bigint
    FROM recorded
    ON CONFLICT (merchant_id, merchant_user_no) DO UPDATE SET
        email = EXCLUDED.email,
        first_name = COALESCE(EXCLUDED.first_name, buyers.first_name),
        last_name = COALESCE(EXCLUDED.last_name, buyers.last_name),
        updated_at = EXCLUDED.updated_at
    RETURNING user_id
), code AS (
    INSERT INTO codes (secret_hash, user_id, expires_at)
    SELECT $10::bytea, user_id, $11::bigint FROM buyer
    RETURNING id, user_id
)
SELECT user_id, id FROM code";

pub(super) async fn sync_user(
    pool: &Pool,
    request: &SyncRequest,
) -> Result<SyncOutcome, StoreError> {
    let client = pool.get().await?;
    let statement = client.prepare_cached(SYNC_USER).await?;
    let profile = &request.profile;
    let mut candidate = request.new_user_id;
    for _ in 0..USER_ID_ATTEMPTS {
        let result = client
            .query_opt(
                &statement,
                &[
                    &request.merchant.as_str(),
                    &request.nonce.as_str(),
                    &request.nonce_expires_at,
                    &request.now,
                    &candidate,
                    &profile.merchant_user_no.as_str(),
                    &profile.email.as_str(),
                    &profile.first_name.as_ref().map(|n| n.as_str()),
                    &profile.last_name.as_ref().map(|n| n.as_str()),
                    &&request.code_hash.0[..],
                    &request.code_expires_at,
                ],
            )
            .await;
        match result {
            // The statement failed as a whole, nonce included: retry it.
            Err(error) if violates(&error, "buyers_pkey") => candidate = crate::new_user_id(),
            Err(error) => return Err(error.into()),
            Ok(None) => return Ok(SyncOutcome::NonceReused),
            Ok(Some(row)) => {
                return Ok(SyncOutcome::Issued {
                    user_id: row.try_get(0)?,
                    code_id: CodeId(row.try_get(1)?),
                });
            }
        }
    }
    Err(StoreError::Unavailable(
        "could not allocate a user id".into(),
    ))
}

/// The columns `buyer_from_row` reads, as a literal for `concat!`.
macro_rules! buyer_columns {
    () => {
        "b.user_id, b.merchant_id, b.merchant_user_no, b.email, b.first_name, b.last_name"
    };
}

/// Only a consumed code ends the old session, starts the new one and
/// yields the buyer; of racing redemptions, the `UPDATE` lets one through.
const REDEEM_CODE: &str = concat!(
    "WITH consumed AS (
        UPDATE codes SET used_at = $3::bigint
        WHERE id = $1::bigint AND secret_hash = $2::bytea
          AND used_at IS NULL AND expires_at > $3::bigint
        RETURNING user_id
    ), ended AS (
        DELETE FROM sessions
        WHERE token_hash = $4::bytea AND EXISTS (SELECT 1 FROM consumed)
    ), created AS (
        INSERT INTO sessions (token_hash, user_id, created_at, last_seen_at, expires_at)
        SELECT $5::bytea, user_id, $3::bigint, $3::bigint, $6::bigint FROM consumed
        RETURNING user_id
    )
    SELECT ",
    buyer_columns!(),
    " FROM created JOIN buyers b ON b.user_id = created.user_id"
);

pub(super) async fn redeem_code(
    pool: &Pool,
    redemption: &Redemption,
) -> Result<RedeemOutcome, StoreError> {
    let client = pool.get().await?;
    let statement = client.prepare_cached(REDEEM_CODE).await?;
    let hash = &redemption.code_hash.0[..];
    let replaces = redemption.replaces.as_ref().map(|token| &token.0[..]);
    let row = client
        .query_opt(
            &statement,
            &[
                &redemption.code_id.0,
                &hash,
                &redemption.now,
                &replaces,
                &&redemption.session.token.0[..],
                &redemption.session.expires_at,
            ],
        )
        .await?;
    if let Some(row) = row {
        return Ok(RedeemOutcome::SignedIn(buyer_from_row(&row)?));
    }
    // The failure path may take a second look, to say why (for metrics).
    let statement = client
        .prepare_cached("SELECT used_at FROM codes WHERE id = $1 AND secret_hash = $2")
        .await?;
    let found = client
        .query_opt(&statement, &[&redemption.code_id.0, &hash])
        .await?;
    Ok(RedeemOutcome::Rejected(match found {
        None => RejectReason::Unknown,
        Some(row) if row.try_get::<_, Option<i64>>(0)?.is_some() => RejectReason::Used,
        Some(_) => RejectReason::Expired,
    }))
}

fn buyer_from_row(row: &Row) -> Result<Buyer, tokio_postgres::Error> {
    Ok(Buyer {
        user_id: row.try_get(0)?,
        merchant: row.try_get(1)?,
        merchant_user_no: row.try_get(2)?,
        email: row.try_get(3)?,
        first_name: row.try_get(4)?,
        last_name: row.try_get(5)?,
    })
}

/// Reads the buyer of a live session and, in the same statement, refreshes
/// the idle timer when the last refresh is a minute old or more.
const SESSION_BUYER: &str = concat!(
    "WITH live AS (
        SELECT user_id FROM sessions
        WHERE token_hash = $1::bytea AND expires_at > $2::bigint
          AND last_seen_at > $2::bigint - $3::bigint
    ), touched AS (
        UPDATE sessions SET last_seen_at = $2::bigint
        WHERE token_hash = $1::bytea AND expires_at > $2::bigint
          AND last_seen_at > $2::bigint - $3::bigint
          AND last_seen_at <= $2::bigint - $4::bigint
    )
    SELECT ",
    buyer_columns!(),
    " FROM live JOIN buyers b ON b.user_id = live.user_id"
);

pub(super) async fn session_buyer(
    pool: &Pool,
    token: &SecretHash,
    now: i64,
    idle_secs: i64,
) -> Result<Option<Buyer>, StoreError> {
    let client = pool.get().await?;
    let statement = client.prepare_cached(SESSION_BUYER).await?;
    let row = client
        .query_opt(
            &statement,
            &[&&token.0[..], &now, &idle_secs, &TOUCH_INTERVAL_SECS],
        )
        .await?;
    Ok(row.as_ref().map(buyer_from_row).transpose()?)
}

pub(super) async fn end_session(pool: &Pool, token: &SecretHash) -> Result<(), StoreError> {
    let client = pool.get().await?;
    let statement = client
        .prepare_cached("DELETE FROM sessions WHERE token_hash = $1")
        .await?;
    client.execute(&statement, &[&&token.0[..]]).await?;
    Ok(())
}

/// One statement for all three tables. `SKIP LOCKED` lets several
/// instances purge at once without queueing behind each other or behind
/// a request holding one of the rows.
const PURGE: &str = "
WITH n AS (
    DELETE FROM nonces WHERE (merchant_id, nonce) IN (
        SELECT merchant_id, nonce FROM nonces WHERE expires_at < $1::bigint
        LIMIT $2::bigint FOR UPDATE SKIP LOCKED)
    RETURNING 1
), c AS (
    DELETE FROM codes WHERE id IN (
        SELECT id FROM codes WHERE expires_at < $1::bigint
        LIMIT $2::bigint FOR UPDATE SKIP LOCKED)
    RETURNING used_at IS NULL AS unused
), s AS (
    DELETE FROM sessions WHERE token_hash IN (
        SELECT token_hash FROM sessions WHERE expires_at < $1::bigint
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
