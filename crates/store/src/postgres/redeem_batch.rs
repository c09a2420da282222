//! Code redemptions on PostgreSQL, batched (see `batch`).
//!
//! Of the calls of a batch, those whose code is valid consume it, end the
//! session they replace and start a new one, all in one statement. Codes
//! are judged by the latest clock reading in the batch: a code counts as
//! expired up to a second or so early, never late.

use std::collections::HashMap;

use deadpool_postgres::Pool;
use payfac_domain::SessionId;

use super::batch::{Batched, Call, Failure};
use super::buyers::buyer_from_row;
use crate::{RedeemOutcome, Redemption, RejectReason};

/// Calls presenting the same code id share a batch: of the calls with one
/// `(id, hash)`, the earliest is the candidate, and only a candidate whose
/// hash matches can consume the code, so exactly one call wins whatever
/// else presents that id. The `UPDATE` returns the winner's position; only
/// the winner ends its old session and gets a new one. The new session's
/// secret hash (random, one per call) says which call a returned row
/// belongs to; calls missing from the result were refused.
const REDEEM_CODES: &str = concat!(
    "WITH input AS (
        SELECT * FROM unnest($1::bigint[], $2::bytea[], $3::bigint[], $4::bytea[],
                             $5::bytea[], $6::bigint[])
            WITH ORDINALITY AS t(code_id, code_hash, replaces_id, replaces_hash,
                                 session_hash, session_expires_at, position)
    ), candidate AS (
        SELECT DISTINCT ON (code_id, code_hash) code_id, code_hash, position
        FROM input ORDER BY code_id, code_hash, position
    ), consumed AS (
        UPDATE codes c SET used_at = $7::bigint
        FROM candidate i
        WHERE c.id = i.code_id AND c.secret_hash = i.code_hash
          AND c.used_at IS NULL AND c.expires_at > $7::bigint
        RETURNING c.user_id, i.position
    ), ended AS (
        DELETE FROM sessions s
        USING input i JOIN consumed k ON k.position = i.position
        WHERE s.id = i.replaces_id AND s.secret_hash = i.replaces_hash
    ), created AS (
        INSERT INTO sessions (secret_hash, user_id, created_at, last_seen_at, expires_at)
        SELECT i.session_hash, k.user_id, $7::bigint, $7::bigint, i.session_expires_at
        FROM input i JOIN consumed k ON k.position = i.position
        RETURNING id, user_id, secret_hash
    )
    SELECT ",
    buyer_columns!(),
    ", created.id, created.secret_hash FROM created JOIN buyers b ON b.user_id = created.user_id"
);

/// Why the refused codes of a batch were refused (for metrics): unknown
/// when no code has that id and hash, used, or else expired.
const WHY_REFUSED: &str = "
SELECT i.position, c.used_at IS NOT NULL
FROM unnest($1::bigint[], $2::bytea[]) WITH ORDINALITY AS i(code_id, code_hash, position)
JOIN codes c ON c.id = i.code_id AND c.secret_hash = i.code_hash";

/// Code redemptions.
pub(super) struct Redemptions;

impl Batched for Redemptions {
    type Request = Redemption;
    type Outcome = RedeemOutcome;

    /// None: calls presenting one code id share a batch (the statement
    /// lets exactly one of them win), so a flood of guesses at one id goes
    /// through in full batches instead of one call per batch.
    fn keys(_: &Redemption) -> Vec<String> {
        Vec::new()
    }

    type Answers = Vec<RedeemOutcome>;

    fn attempt(
        pool: &Pool,
        batch: &[Call<Redemption, RedeemOutcome>],
    ) -> impl Future<Output = Result<Vec<RedeemOutcome>, Failure>> + Send {
        attempt(pool, batch)
    }

    fn answer(batch: Vec<Call<Redemption, RedeemOutcome>>, outcomes: Vec<RedeemOutcome>) {
        for (call, outcome) in batch.into_iter().zip(outcomes) {
            let _ = call.answer.send(Ok(outcome));
        }
    }
}

/// Each call's outcome, in the batch's order.
async fn attempt(
    pool: &Pool,
    batch: &[Call<Redemption, RedeemOutcome>],
) -> Result<Vec<RedeemOutcome>, Failure> {
    let client = pool.get().await?;
    let statement = client.prepare_cached(REDEEM_CODES).await?;
    let calls: Vec<&Redemption> = batch.iter().map(|call| &call.request).collect();
    let code_ids: Vec<i64> = calls.iter().map(|r| r.code_id.0).collect();
    let code_hashes: Vec<&[u8]> = calls.iter().map(|r| &r.code_hash.0[..]).collect();
    let replaces_ids: Vec<Option<i64>> = calls.iter().map(|r| r.replaces.map(|s| s.id.0)).collect();
    let replaces_hashes: Vec<Option<&[u8]>> = calls
        .iter()
        .map(|r| r.replaces.as_ref().map(|s| &s.secret_hash.0[..]))
        .collect();
    let session_hashes: Vec<&[u8]> = calls.iter().map(|r| &r.session.secret_hash.0[..]).collect();
    let session_expiries: Vec<i64> = calls.iter().map(|r| r.session.expires_at).collect();
    let now = calls.iter().map(|r| r.now).max().unwrap_or_default();
    let rows = client
        .query(
            &statement,
            &[
                &code_ids,
                &code_hashes,
                &replaces_ids,
                &replaces_hashes,
                &session_hashes,
                &session_expiries,
                &now,
            ],
        )
        .await?;
    let mut signed_in = HashMap::with_capacity(rows.len());
    for row in &rows {
        let hash: Vec<u8> = row.try_get(7)?;
        let session = SessionId(row.try_get(6)?);
        let buyer = buyer_from_row(row)?;
        signed_in.insert(hash, RedeemOutcome::SignedIn { buyer, session });
    }
    let mut outcomes: Vec<Option<RedeemOutcome>> = calls
        .iter()
        .map(|r| signed_in.remove(&r.session.secret_hash.0[..]))
        .collect();
    if outcomes.iter().any(Option::is_none) {
        // The refusals may take a second look, to say why (for metrics).
        let statement = client.prepare_cached(WHY_REFUSED).await?;
        let found = client.query(&statement, &[&code_ids, &code_hashes]).await?;
        let mut used = HashMap::with_capacity(found.len());
        for row in &found {
            let position: i64 = row.try_get(0)?;
            used.insert(position as usize - 1, row.try_get::<_, bool>(1)?);
        }
        for (index, outcome) in outcomes.iter_mut().enumerate() {
            if outcome.is_none() {
                *outcome = Some(RedeemOutcome::Rejected(match used.get(&index) {
                    None => RejectReason::Unknown,
                    Some(true) => RejectReason::Used,
                    Some(false) => RejectReason::Expired,
                }));
            }
        }
    }
    Ok(outcomes.into_iter().flatten().collect())
}
