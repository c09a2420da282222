//! Merchant calls (`user-sync`): the nonce, the buyer and a new code, in
//! one job of the writer's transaction. Nonces are checked against the
//! writer's live set (`nonces`), not a unique index.

use rusqlite::{Connection, OptionalExtension, params};

use super::nonces::LiveNonces;
use crate::{StoreError, SyncOutcome, SyncRequest};

/// Attempts at a fresh buyer id when a random id collides.
const USER_ID_ATTEMPTS: usize = 3;

pub(super) fn sync_user(
    connection: &Connection,
    nonces: &mut LiveNonces,
    request: &SyncRequest,
) -> Result<SyncOutcome, StoreError> {
    let (merchant, nonce) = (request.merchant.as_str(), request.nonce.as_str());
    if nonces.is_live(connection, merchant, nonce, request.now, request.window)? {
        return Ok(SyncOutcome::NonceReused);
    }
    let user_id = upsert_buyer(connection, request)?;
    let code_id: i64 = connection
        .prepare_cached(
            "INSERT INTO codes (secret_hash, user_id, expires_at) VALUES (?1, ?2, ?3)
             RETURNING id",
        )?
        .query_row(
            params![&request.code_hash.0[..], user_id, request.code_expires_at],
            |row| row.get(0),
        )?;
    let expires_at = request.signed_at + crate::NONCE_RETENTION_SECS;
    nonces.record(connection, merchant, nonce, expires_at)?;
    Ok(SyncOutcome::Issued {
        user_id,
        code_id: payfac_domain::CodeId(code_id),
    })
}

/// The buyer's id, after creating or updating it. A returning buyer whose
/// stored profile already matches the call is only read: merchants sync
/// at every sign-in and profiles rarely change, and a write would cost a
/// random page of the buyers table in the commit (`updated_at` so says
/// when the profile last changed).
fn upsert_buyer(connection: &Connection, request: &SyncRequest) -> Result<i64, StoreError> {
    let profile = &request.profile;
    let unchanged: Option<i64> = connection
        .prepare_cached(
            "SELECT user_id FROM buyers
             WHERE merchant_id = ?1 AND merchant_user_no = ?2 AND email = ?3
               AND (?4 IS NULL OR first_name IS ?4) AND (?5 IS NULL OR last_name IS ?5)",
        )?
        .query_row(
            params![
                request.merchant.as_str(),
                profile.merchant_user_no.as_str(),
                profile.email.as_str(),
                profile.first_name.as_ref().map(|n| n.as_str()),
                profile.last_name.as_ref().map(|n| n.as_str()),
            ],
            |row| row.get(0),
        )
        .optional()?;
    if let Some(user_id) = unchanged {
        return Ok(user_id);
    }
    let mut candidate = request.new_user_id;
    for _ in 0..USER_ID_ATTEMPTS {
        let result = connection
            .prepare_cached(
                "INSERT INTO buyers (user_id, merchant_id, merchant_user_no, email,
                                     first_name, last_name, created_at, updated_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?7)
                 ON CONFLICT (merchant_id, merchant_user_no) DO UPDATE SET
                     email = excluded.email,
                     first_name = COALESCE(excluded.first_name, buyers.first_name),
                     last_name = COALESCE(excluded.last_name, buyers.last_name),
                     updated_at = excluded.updated_at
                 RETURNING user_id",
            )?
            .query_row(
                params![
                    candidate,
                    request.merchant.as_str(),
                    profile.merchant_user_no.as_str(),
                    profile.email.as_str(),
                    profile.first_name.as_ref().map(|n| n.as_str()),
                    profile.last_name.as_ref().map(|n| n.as_str()),
                    request.now,
                ],
                |row| row.get(0),
            );
        match result {
            // A taken id, or an erased one (the trigger of migration 4).
            Err(rusqlite::Error::SqliteFailure(error, _))
                if error.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_PRIMARYKEY
                    || error.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_TRIGGER =>
            {
                candidate = crate::new_user_id();
            }
            other => return Ok(other?),
        }
    }
    Err(StoreError::Unavailable(
        "could not allocate a user id".into(),
    ))
}
