//! Buyers, nonces, codes and sessions: the request-path statements.

use payfac_domain::{Buyer, SessionId};
use rusqlite::{Connection, ErrorCode, OptionalExtension, params};

use super::nonces::LiveNonces;
use crate::{
    PurgeCounts, RedeemOutcome, Redemption, RejectReason, SessionKey, StoreError, SyncOutcome,
    SyncRequest,
};

/// A session's idle timer is refreshed at most this often, so page views
/// are reads, not writes.
const TOUCH_INTERVAL_SECS: i64 = 60;

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
            "INSERT INTO sessions (secret_hash, user_id, created_at, last_seen_at, expires_at)
             VALUES (?1, ?2, ?3, ?3, ?4)
             RETURNING id",
        )?
        .query_row(
            params![
                &redemption.session.secret_hash.0[..],
                user_id,
                now,
                redemption.session.expires_at
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

pub(super) const BUYER_COLUMNS: &str = "SELECT b.user_id, b.merchant_id, b.merchant_user_no, b.email, \
                             b.first_name, b.last_name";

pub(super) fn buyer_from_row(row: &rusqlite::Row<'_>) -> Result<Buyer, rusqlite::Error> {
    Ok(Buyer {
        user_id: row.get(0)?,
        merchant: row.get(1)?,
        merchant_user_no: row.get(2)?,
        email: row.get(3)?,
        first_name: row.get(4)?,
        last_name: row.get(5)?,
    })
}

/// The buyer and the session's last-seen time, for a live session.
pub(super) fn session_buyer(
    connection: &Connection,
    session: &SessionKey,
    now: i64,
    idle_secs: i64,
) -> Result<Option<(Buyer, i64)>, rusqlite::Error> {
    connection
        .prepare_cached(&format!(
            "{BUYER_COLUMNS}, s.last_seen_at FROM sessions s
             JOIN buyers b ON b.user_id = s.user_id
             WHERE s.id = ?1 AND s.secret_hash = ?2
               AND s.expires_at > ?3 AND s.last_seen_at > ?3 - ?4"
        ))?
        .query_row(
            params![session.id.0, &session.secret_hash.0[..], now, idle_secs],
            |row| Ok((buyer_from_row(row)?, row.get(6)?)),
        )
        .optional()
}

pub(super) fn needs_touch(last_seen_at: i64, now: i64) -> bool {
    now - last_seen_at >= TOUCH_INTERVAL_SECS
}

pub(super) fn touch_session(
    connection: &Connection,
    session: &SessionKey,
    now: i64,
) -> Result<(), StoreError> {
    connection
        .prepare_cached("UPDATE sessions SET last_seen_at = ?3 WHERE id = ?1 AND secret_hash = ?2")?
        .execute(params![session.id.0, &session.secret_hash.0[..], now])?;
    Ok(())
}

pub(super) fn end_session(connection: &Connection, session: &SessionKey) -> Result<(), StoreError> {
    connection
        .prepare_cached("DELETE FROM sessions WHERE id = ?1 AND secret_hash = ?2")?
        .execute(params![session.id.0, &session.secret_hash.0[..]])?;
    Ok(())
}

/// Makes a live session (pending a buyer's consent) a full one: its end
/// moves to `expires_at`, and the session it replaces ends. `false` when
/// the pending session is over or unknown.
pub(super) fn confirm_session(
    connection: &Connection,
    pending: &SessionKey,
    now: i64,
    expires_at: i64,
    replaces: Option<&SessionKey>,
) -> Result<bool, StoreError> {
    let changed = connection
        .prepare_cached(
            "UPDATE sessions SET expires_at = ?3, last_seen_at = ?4
             WHERE id = ?1 AND secret_hash = ?2 AND expires_at > ?4",
        )?
        .execute(params![
            pending.id.0,
            &pending.secret_hash.0[..],
            expires_at,
            now
        ])?;
    if changed == 1
        && let Some(old) = replaces
        && old.id.0 != pending.id.0
    {
        end_session(connection, old)?;
    }
    Ok(changed == 1)
}

/// The secret stored under `name`, storing `candidate` first if none is.
pub(super) fn server_secret(
    connection: &Connection,
    name: &str,
    candidate: &[u8; 32],
) -> Result<Vec<u8>, StoreError> {
    connection
        .prepare_cached(
            "INSERT INTO server_secrets (name, secret, created_at) VALUES (?1, ?2, ?3)
             ON CONFLICT (name) DO NOTHING",
        )?
        .execute(params![name, &candidate[..], crate::unix_now()])?;
    Ok(connection
        .prepare_cached("SELECT secret FROM server_secrets WHERE name = ?1")?
        .query_row(params![name], |row| row.get(0))?)
}

pub(super) fn purge_expired(
    connection: &Connection,
    live_nonces: &mut LiveNonces,
    now: i64,
    batch: i64,
) -> Result<PurgeCounts, StoreError> {
    live_nonces.forget_expired(now);
    let nonces = connection
        .prepare_cached(
            "DELETE FROM nonces WHERE id IN
             (SELECT id FROM nonces WHERE expires_at < ?1 LIMIT ?2)",
        )?
        .execute(params![now, batch])?;
    let mut codes = 0;
    let mut codes_unused = 0;
    let mut statement = connection.prepare_cached(
        "DELETE FROM codes WHERE id IN
         (SELECT id FROM codes WHERE expires_at < ?1 LIMIT ?2)
         RETURNING used_at IS NULL",
    )?;
    let mut rows = statement.query(params![now, batch])?;
    while let Some(row) = rows.next()? {
        codes += 1;
        if row.get::<_, bool>(0)? {
            codes_unused += 1;
        }
    }
    let sessions = connection
        .prepare_cached(
            "DELETE FROM sessions WHERE id IN
             (SELECT id FROM sessions WHERE expires_at < ?1 LIMIT ?2)",
        )?
        .execute(params![now, batch])?;
    Ok(PurgeCounts {
        nonces: nonces as u64,
        codes,
        codes_unused,
        sessions: sessions as u64,
    })
}

/// True for a constraint violation of the given kind.
pub(super) fn is_constraint(error: &rusqlite::Error, code: i32) -> bool {
    matches!(error, rusqlite::Error::SqliteFailure(e, _)
        if e.code == ErrorCode::ConstraintViolation && e.extended_code == code)
}
