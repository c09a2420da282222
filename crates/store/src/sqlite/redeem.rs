//! Code redemptions: a valid code is consumed and, only then, the session
//! it replaces ends and a new one starts, in one job of the writer's
//! transaction.

use payfac_domain::SessionId;
use rusqlite::{Connection, OptionalExtension, params};

use super::buyers::{BUYER_COLUMNS, buyer_from_row};
use super::sessions::end_session;
use crate::{RedeemOutcome, Redemption, RejectReason, StoreError};

pub(super) fn redeem_code(
    connection: &Connection,
    redemption: &Redemption,
) -> Result<RedeemOutcome, StoreError> {
    let now = redemption.now;
    let hash = &redemption.code_hash.0[..];
    let user_id: Option<i64> = connection
        .prepare_cached(
            "UPDATE codes SET used_at = ?3
             WHERE id = ?1 AND secret_hash = ?2 AND used_at IS NULL AND expires_at > ?3
             RETURNING user_id",
        )?
        .query_row(params![redemption.code_id.0, hash, now], |row| row.get(0))
        .optional()?;
    let Some(user_id) = user_id else {
        return Ok(RedeemOutcome::Rejected(why_rejected(
            connection, redemption,
        )?));
    };
    if let Some(previous) = &redemption.replaces {
        end_session(connection, previous)?;
    }
    let session: i64 = connection
        .prepare_cached(
            "INSERT INTO sessions (secret_hash, user_id, created_at, last_seen_at, expires_at, pending)
             VALUES (?1, ?2, ?3, ?3, ?4, ?5)
             RETURNING id",
        )?
        .query_row(
            params![
                &redemption.session.secret_hash.0[..],
                user_id,
                now,
                redemption.session.expires_at,
                redemption.session.pending
            ],
            |row| row.get(0),
        )?;
    let buyer = connection
        .prepare_cached(&format!(
            "{BUYER_COLUMNS} FROM buyers b WHERE b.user_id = ?1"
        ))?
        .query_row([user_id], buyer_from_row)?;
    Ok(RedeemOutcome::SignedIn {
        buyer,
        session: SessionId(session),
    })
}

fn why_rejected(
    connection: &Connection,
    redemption: &Redemption,
) -> Result<RejectReason, rusqlite::Error> {
    let row: Option<(Option<i64>, i64)> = connection
        .prepare_cached("SELECT used_at, expires_at FROM codes WHERE id = ?1 AND secret_hash = ?2")?
        .query_row(
            params![redemption.code_id.0, &redemption.code_hash.0[..]],
            |row| Ok((row.get(0)?, row.get(1)?)),
        )
        .optional()?;
    Ok(match row {
        None => RejectReason::Unknown,
        Some((Some(_), _)) => RejectReason::Used,
        Some((None, _)) => RejectReason::Expired,
    })
}
