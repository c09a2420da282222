//! Merchant calls on PostgreSQL, batched (see `batch`).
//!
//! Calls are sent sorted by buyer, so batches of two instances lock buyers
//! in the same order. Nonces are judged by the earliest `now - window` in
//! the batch: a nonce counts as live up to a second or so longer, never
//! shorter, so a replay verified in its window's last second is refused.
//! Each call's clock and window are the ones that accepted its timestamp,
//! so judging by them never finds a replay's recorded nonce expired,
//! whatever clock or window the recording instance had.

use std::collections::HashMap;

use deadpool_postgres::Pool;
use payfac_domain::CodeId;

use super::batch::{Batched, Call, Failure};
use crate::{StoreError, SyncOutcome, SyncRequest};

/// Nonce, buyer upsert and code for every call whose nonce was recorded;
/// the code's secret hash (random, one per call) says which call a
/// returned row belongs to. Calls missing from the result hit a live nonce.
const SYNC_USERS: &str = "
WITH input AS (
    SELECT * FROM unnest($1::text[], $2::text[], $3::bigint[], $4::bigint[], $5::text[],
                         $6::text[], $7::text[], $8::text[], $9::bytea[], $10::bigint[])
        WITH ORDINALITY AS t(merchant_id, nonce, nonce_expires_at, new_user_id, merchant_user_no,
                             email, first_name, last_name, code_hash, code_expires_at, position)
), recorded AS (
    INSERT INTO nonces (merchant_id, nonce, expires_at)
    SELECT merchant_id, nonce, nonce_expires_at FROM input ORDER BY position
    ON CONFLICT (merchant_id, nonce) DO UPDATE SET expires_at = EXCLUDED.expires_at
    WHERE nonces.expires_at < $12::bigint
    RETURNING merchant_id, nonce
), buyer AS (
    INSERT INTO buyers (user_id, merchant_id, merchant_user_no, email,
                        first_name, last_name, created_at, updated_at)
    SELECT i.new_user_id, i.merchant_id, i.merchant_user_no, i.email, i.first_name, i.last_name,
           $11::bigint, $11::bigint
    FROM input i JOIN recorded r ON r.merchant_id = i.merchant_id AND r.nonce = i.nonce
    ORDER BY i.position
    ON CONFLICT (merchant_id, merchant_user_no) DO UPDATE SET
        email = EXCLUDED.email,
        first_name = COALESCE(EXCLUDED.first_name, buyers.first_name),
        last_name = COALESCE(EXCLUDED.last_name, buyers.last_name),
        updated_at = CASE
            WHEN (buyers.email, buyers.first_name, buyers.last_name) IS DISTINCT FROM
                 (EXCLUDED.email, COALESCE(EXCLUDED.first_name, buyers.first_name),
                  COALESCE(EXCLUDED.last_name, buyers.last_name))
            THEN EXCLUDED.updated_at ELSE buyers.updated_at END
    RETURNING user_id, merchant_id, merchant_user_no
), code AS (
    INSERT INTO codes (secret_hash, user_id, expires_at)
    SELECT i.code_hash, b.user_id, i.code_expires_at
    FROM input i JOIN buyer b
      ON b.merchant_id = i.merchant_id AND b.merchant_user_no = i.merchant_user_no
    ORDER BY i.position
    RETURNING id, user_id, secret_hash
)
SELECT id, user_id, secret_hash FROM code";

/// `user-sync` calls.
pub(super) struct Syncs;

impl Batched for Syncs {
    type Request = SyncRequest;
    type Outcome = SyncOutcome;

    /// The nonce and the buyer: `ON CONFLICT DO UPDATE` may touch each
    /// row once per statement.
    fn keys(request: &SyncRequest) -> Vec<String> {
        let (merchant, user_no) = buyer(request);
        vec![
            format!("nonce {merchant} {}", request.nonce.as_str()),
            format!("buyer {merchant} {user_no}"),
        ]
    }

    type Answers = Issued;

    fn attempt(
        pool: &Pool,
        batch: &[Call<SyncRequest, SyncOutcome>],
    ) -> impl Future<Output = Result<Issued, Failure>> + Send {
        attempt(pool, batch)
    }

    /// A colliding random buyer id: every new buyer gets a fresh one.
    fn before_retry(batch: &mut [Call<SyncRequest, SyncOutcome>], failure: &Failure) {
        if matches!(failure, Failure::UserIdTaken) {
            for call in batch {
                call.request.new_user_id = crate::new_user_id();
            }
        }
    }

    fn answer(batch: Vec<Call<SyncRequest, SyncOutcome>>, issued: Issued) {
        for call in batch {
            let outcome = issued.get(&call.request.code_hash.0).map_or(
                SyncOutcome::NonceReused,
                |&(user_id, code_id)| SyncOutcome::Issued {
                    user_id,
                    code_id: CodeId(code_id),
                },
            );
            let _ = call.answer.send(Ok(outcome));
        }
    }
}

/// The buyer a call is for; batches lock buyers in this order.
fn buyer(request: &SyncRequest) -> (&str, &str) {
    (
        request.merchant.as_str(),
        request.profile.merchant_user_no.as_str(),
    )
}

/// `code hash → (user id, code id)` of every call that was issued a code.
type Issued = HashMap<[u8; 32], (i64, i64)>;

async fn attempt(pool: &Pool, batch: &[Call<SyncRequest, SyncOutcome>]) -> Result<Issued, Failure> {
    let client = pool.get().await?;
    let statement = client.prepare_cached(SYNC_USERS).await?;
    let mut requests: Vec<&SyncRequest> = batch.iter().map(|call| &call.request).collect();
    requests.sort_by(|a, b| buyer(a).cmp(&buyer(b)));
    let column = |field: fn(&SyncRequest) -> &str| -> Vec<&str> {
        requests.iter().map(|request| field(request)).collect()
    };
    let number = |field: fn(&SyncRequest) -> i64| -> Vec<i64> {
        requests.iter().map(|request| field(request)).collect()
    };
    let name = |field: fn(&SyncRequest) -> Option<&str>| -> Vec<Option<&str>> {
        requests.iter().map(|request| field(request)).collect()
    };
    let merchants = column(|r| r.merchant.as_str());
    let nonces = column(|r| r.nonce.as_str());
    let nonce_expiries = number(|r| r.signed_at + crate::NONCE_RETENTION_SECS);
    let new_user_ids = number(|r| r.new_user_id);
    let user_nos = column(|r| r.profile.merchant_user_no.as_str());
    let emails = column(|r| r.profile.email.as_str());
    let first_names = name(|r| r.profile.first_name.as_ref().map(|n| n.as_str()));
    let last_names = name(|r| r.profile.last_name.as_ref().map(|n| n.as_str()));
    let code_hashes: Vec<&[u8]> = requests.iter().map(|r| &r.code_hash.0[..]).collect();
    let code_expiries = number(|r| r.code_expires_at);
    // The calls of a batch were verified within a second or so of each
    // other. The earliest `now - window` among them judges the nonces: a
    // nonce counts as live for up to that much longer, never shorter, so a
    // replay verified in its window's last second is still refused. A
    // recorded nonce is live when its timestamp is `now - window` or later.
    let now = requests.iter().map(|r| r.now).min().unwrap_or_default();
    let live_from = requests
        .iter()
        .map(|r| r.now - r.window)
        .min()
        .unwrap_or_default()
        + crate::NONCE_RETENTION_SECS;
    let rows = client
        .query(
            &statement,
            &[
                &merchants,
                &nonces,
                &nonce_expiries,
                &new_user_ids,
                &user_nos,
                &emails,
                &first_names,
                &last_names,
                &code_hashes,
                &code_expiries,
                &now,
                &live_from,
            ],
        )
        .await?;
    let mut issued = Issued::with_capacity(rows.len());
    for row in &rows {
        let hash: &[u8] = row.try_get(2)?;
        let code_hash: [u8; 32] = hash.try_into().map_err(|_| {
            Failure::Failed(StoreError::Unavailable(
                "a code hash is not 32 bytes".into(),
            ))
        })?;
        issued.insert(code_hash, (row.try_get(1)?, row.try_get(0)?));
    }
    Ok(issued)
}
