//! Sessions: the statements behind every page view (a read on a reader
//! connection; the idle timer's refresh, at most once a minute, is a
//! write), and ending and confirming a session.

use payfac_domain::Buyer;
use rusqlite::{Connection, OptionalExtension, params};

use super::buyers::{BUYER_COLUMNS, buyer_from_row};
use crate::{SessionKey, StoreError};

/// A session's idle timer is refreshed at most this often, so page views
/// are reads, not writes.
const TOUCH_INTERVAL_SECS: i64 = 60;

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
             WHERE s.id = ?1 AND s.secret_hash = ?2 AND s.pending = 0
               AND s.expires_at > ?3 AND s.last_seen_at > ?3 - ?4"
        ))?
        .query_row(
            params![session.id.0, &session.secret_hash.0[..], now, idle_secs],
            |row| Ok((buyer_from_row(row)?, row.get(6)?)),
        )
        .optional()
}

/// The buyer of a live session pending the buyer's consent.
pub(super) fn pending_buyer(
    connection: &Connection,
    session: &SessionKey,
    now: i64,
) -> Result<Option<Buyer>, rusqlite::Error> {
    connection
        .prepare_cached(&format!(
            "{BUYER_COLUMNS} FROM sessions s
             JOIN buyers b ON b.user_id = s.user_id
             WHERE s.id = ?1 AND s.secret_hash = ?2 AND s.pending = 1 AND s.expires_at > ?3"
        ))?
        .query_row(
            params![session.id.0, &session.secret_hash.0[..], now],
            buyer_from_row,
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

/// Makes a live pending session a full one: its end moves to `max_secs`
/// after its creation, and the session it replaces ends. `false` when the
/// session is over, unknown or not pending.
pub(super) fn confirm_session(
    connection: &Connection,
    pending: &SessionKey,
    now: i64,
    max_secs: i64,
    replaces: Option<&SessionKey>,
) -> Result<bool, StoreError> {
    let changed = connection
        .prepare_cached(
            "UPDATE sessions SET pending = 0, expires_at = created_at + ?3, last_seen_at = ?4
             WHERE id = ?1 AND secret_hash = ?2 AND pending = 1 AND expires_at > ?4",
        )?
        .execute(params![
            pending.id.0,
            &pending.secret_hash.0[..],
            max_secs,
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
