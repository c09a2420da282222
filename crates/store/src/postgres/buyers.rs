//! Buyers, nonces and codes: the merchant call and the code redemption.
//!
//! Each method is a single statement, so it is atomic on its own and costs
//! one round trip once prepared on the connection. The sub-statements of a
//! CTE all see one snapshot, so the exactly-once guarantees come from what
//! PostgreSQL re-checks against the latest committed row instead: unique
//! keys with `ON CONFLICT` (a racing insert waits for the other, then takes
//! the conflict path) and `UPDATE … WHERE` (a racing update waits, then
//! re-evaluates its condition on the updated row).

use deadpool_postgres::Pool;
use payfac_domain::{Buyer, CodeId, SessionId};
use tokio_postgres::Row;

use super::connect::violates;
use crate::{RedeemOutcome, Redemption, RejectReason, StoreError, SyncOutcome, SyncRequest};

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
        WHERE id = $4::bigint AND secret_hash = $5::bytea AND EXISTS (SELECT 1 FROM consumed)
    ), created AS (
        INSERT INTO sessions (secret_hash, user_id, created_at, last_seen_at, expires_at)
        SELECT $6::bytea, user_id, $3::bigint, $3::bigint, $7::bigint FROM consumed
        RETURNING id, user_id
    )
    SELECT ",
    buyer_columns!(),
    ", created.id FROM created JOIN buyers b ON b.user_id = created.user_id"
);

pub(super) async fn redeem_code(
    pool: &Pool,
    redemption: &Redemption,
) -> Result<RedeemOutcome, StoreError> {
    let client = pool.get().await?;
    let statement = client.prepare_cached(REDEEM_CODE).await?;
    let hash = &redemption.code_hash.0[..];
    let replaces = redemption.replaces.as_ref();
    let replaces_id = replaces.map(|session| session.id.0);
    let replaces_hash = replaces.map(|session| &session.secret_hash.0[..]);
    let row = client
        .query_opt(
            &statement,
            &[
                &redemption.code_id.0,
                &hash,
                &redemption.now,
                &replaces_id,
                &replaces_hash,
                &&redemption.session.secret_hash.0[..],
                &redemption.session.expires_at,
            ],
        )
        .await?;
    if let Some(row) = row {
        return Ok(RedeemOutcome::SignedIn {
            buyer: buyer_from_row(&row)?,
            session: SessionId(row.try_get(6)?),
        });
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

pub(super) fn buyer_from_row(row: &Row) -> Result<Buyer, tokio_postgres::Error> {
    Ok(Buyer {
        user_id: row.try_get(0)?,
        merchant: row.try_get(1)?,
        merchant_user_no: row.try_get(2)?,
        email: row.try_get(3)?,
        first_name: row.try_get(4)?,
        last_name: row.try_get(5)?,
    })
}
