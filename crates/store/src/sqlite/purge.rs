//! The purge of expired nonces, codes and sessions, at most `batch` rows
//! of each per call, as a job of the writer: it also forgets the expired
//! nonces of the writer's live set.

use rusqlite::{Connection, params};

use super::nonces::LiveNonces;
use crate::{PurgeCounts, StoreError};

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
    super::oidc::purge(connection, now, batch)?;
    Ok(PurgeCounts {
        nonces: nonces as u64,
        codes,
        codes_unused,
        sessions: sessions as u64,
    })
}
