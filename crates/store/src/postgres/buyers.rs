//! Code redemption (the merchant call is in `sync_batch`).
//!
//! Redemption is a single statement, so it is atomic on its own and costs
//! one round trip once prepared on the connection. The sub-statements of a
//! CTE all see one snapshot, so the exactly-once guarantees come from what
//! PostgreSQL re-checks against the latest committed row instead: unique
//! keys with `ON CONFLICT` (a racing insert waits for the other, then takes
//! the conflict path) and `UPDATE … WHERE` (a racing update waits, then
//! re-evaluates its condition on the updated row).

use deadpool_postgres::Pool;
use payfac_domain::{Buyer, SessionId};
use tokio_postgres::Row;

use crate::{RedeemOutcome, Redemption, RejectReason, StoreError};

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
