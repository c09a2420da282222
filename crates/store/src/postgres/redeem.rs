//! Code redemptions on PostgreSQL, batched (see `batch`).
//!
//! Of the calls of a batch, those whose code is valid consume it, end the
//! session they replace and start a new one, all in one statement. Codes
//! are judged by the latest clock reading in the batch: a code counts as
//! expired up to a second or so early, never late.

use deadpool_postgres::Pool;
use payfac_domain::SessionId;

use super::batch::{Batched, Call, Failure};
use super::buyers::buyer_from_row;
use crate::{RedeemOutcome, Redemption, RejectReason};

/// Calls presenting the same code id share a batch: of the calls with one
/// `(id, hash)`, the earliest is the candidate, and only a candidate whose
/// hash matches can consume the code, so exactly one call wins whatever
/// else presents that id. The `UPDATE` returns the winner's position; only
/// the winner ends its old session and gets a new one.
///
/// One row per call, in order: the new session and its buyer for a
/// winner; else why it was refused, worked out in the same statement (a
/// second query after the commit could fail and turn committed sign-ins
/// into errors): `used` when the code was used before or by another call
/// of this batch, `known` when a code has that id and hash at all (else
/// the code is unknown; known and unused means expired). The codes table
/// is read as it was before this statement, so this batch's own use shows
/// through `consumed`.
const REDEEM_CODES: &str = concat!(
    "WITH input AS (
        SELECT * FROM unnest($1::bigint[], $2::bytea[], $3::bigint[], $4::bytea[],
                             $5::bytea[], $6::bigint[], $8::boolean[])
            WITH ORDINALITY AS t(code_id, code_hash, replaces_id, replaces_hash,
                                 session_hash, session_expires_at, session_pending,
                                 position)
    ), candidate AS (
        SELECT DISTINCT ON (code_id, code_hash) code_id, code_hash, position
        FROM input ORDER BY code_id, code_hash, position
    ), consumed AS (
        UPDATE codes c SET used_at = $7::bigint
        FROM candidate i
        WHERE c.id = i.code_id AND c.secret_hash = i.code_hash
          AND c.used_at IS NULL AND c.expires_at > $7::bigint
        RETURNING c.id, c.secret_hash, c.user_id, i.position
    ), ended AS (
        DELETE FROM sessions s
        USING input i JOIN consumed k ON k.position = i.position
        WHERE s.id = i.replaces_id AND s.secret_hash = i.replaces_hash
    ), created AS (
        INSERT INTO sessions (secret_hash, user_id, created_at, last_seen_at, expires_at,
                              pending)
        SELECT i.session_hash, k.user_id, $7::bigint, $7::bigint, i.session_expires_at,
               i.session_pending
        FROM input i JOIN consumed k ON k.position = i.position
        RETURNING id, user_id, secret_hash
    )
    SELECT ",
    buyer_columns!(),
    ", created.id,
           (c.used_at IS NOT NULL OR k.id IS NOT NULL) AS used,
           (c.id IS NOT NULL) AS known
    FROM input i
    LEFT JOIN created ON created.secret_hash = i.session_hash
    LEFT JOIN buyers b ON b.user_id = created.user_id
    LEFT JOIN codes c ON c.id = i.code_id AND c.secret_hash = i.code_hash
    LEFT JOIN consumed k ON k.id = i.code_id AND k.secret_hash = i.code_hash
    ORDER BY i.position"
);

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
    let session_pending: Vec<bool> = calls.iter().map(|r| r.session.pending).collect();
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
                &session_pending,
            ],
        )
        .await?;
    if rows.len() != calls.len() {
        return Err(Failure::Failed(crate::StoreError::Unavailable(
            "the redemption statement answered the wrong number of rows".into(),
        )));
    }
    rows.iter()
        .map(outcome)
        .collect::<Result<_, _>>()
        .map_err(Failure::from)
}

/// A call's outcome from its row of `REDEEM_CODES`.
fn outcome(row: &tokio_postgres::Row) -> Result<RedeemOutcome, tokio_postgres::Error> {
    if let Some(session) = row.try_get::<_, Option<i64>>(6)? {
        return Ok(RedeemOutcome::SignedIn {
            buyer: buyer_from_row(row)?,
            session: SessionId(session),
        });
    }
    let (used, known): (bool, bool) = (row.try_get(7)?, row.try_get(8)?);
    Ok(RedeemOutcome::Rejected(match (used, known) {
        (true, _) => RejectReason::Used,
        (false, true) => RejectReason::Expired,
        (false, false) => RejectReason::Unknown,
    }))
}
