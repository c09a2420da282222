//! The operator's statements about buyers and merchants: lookup, export,
//! revocation, erasure, and disabling a merchant with its sessions ended.

use payfac_domain::{MerchantId, MerchantStatus};
use rusqlite::{Connection, OptionalExtension, params};

use super::buyers::{BUYER_COLUMNS, buyer_from_row};
use crate::{
    AdminError, BuyerDetails, BuyerExport, BuyerRef, CodeTimes, EndedSessions, Erased, KeySummary,
    MerchantSummary, SessionTimes, StoreError,
};

/// The buyer's row id, if there is such a buyer.
fn user_id_of(connection: &Connection, buyer: &BuyerRef) -> Result<Option<i64>, rusqlite::Error> {
    match buyer {
        BuyerRef::UserId(user_id) => connection
            .prepare_cached("SELECT user_id FROM buyers WHERE user_id = ?1")?
            .query_row([user_id], |row| row.get(0))
            .optional(),
        BuyerRef::Merchant {
            merchant,
            merchant_user_no,
        } => connection
            .prepare_cached(
                "SELECT user_id FROM buyers WHERE merchant_id = ?1 AND merchant_user_no = ?2",
            )?
            .query_row(
                params![merchant.as_str(), merchant_user_no.as_str()],
                |row| row.get(0),
            )
            .optional(),
    }
}

pub(super) fn buyer_details(
    connection: &Connection,
    buyer: &BuyerRef,
    now: i64,
    idle_secs: i64,
) -> Result<Option<BuyerDetails>, rusqlite::Error> {
    let Some(user_id) = user_id_of(connection, buyer)? else {
        return Ok(None);
    };
    connection
        .prepare_cached(&format!(
            "{BUYER_COLUMNS}, b.created_at, b.updated_at,
                 (SELECT count(*) FROM sessions s WHERE s.user_id = b.user_id
                    AND s.expires_at > ?2 AND s.last_seen_at > ?2 - ?3)
             FROM buyers b WHERE b.user_id = ?1"
        ))?
        .query_row(params![user_id, now, idle_secs], |row| {
            Ok(BuyerDetails {
                buyer: buyer_from_row(row)?,
                created_at: row.get(6)?,
                updated_at: row.get(7)?,
                live_sessions: row.get(8)?,
            })
        })
        .optional()
}

/// Read in one transaction of the reader connection, so the parts agree.
pub(super) fn export_buyer(
    connection: &Connection,
    buyer: &BuyerRef,
    now: i64,
    idle_secs: i64,
) -> Result<Option<BuyerExport>, rusqlite::Error> {
    connection.execute_batch("BEGIN")?;
    let result = (|| {
        let Some(details) = buyer_details(connection, buyer, now, idle_secs)? else {
            return Ok(None);
        };
        let user_id = details.buyer.user_id;
        let sessions = connection
            .prepare_cached(
                "SELECT created_at, last_seen_at, expires_at FROM sessions
                 WHERE user_id = ?1 ORDER BY id",
            )?
            .query_map([user_id], |row| {
                Ok(SessionTimes {
                    created_at: row.get(0)?,
                    last_seen_at: row.get(1)?,
                    expires_at: row.get(2)?,
                })
            })?
            .collect::<Result<_, _>>()?;
        let codes = connection
            .prepare_cached("SELECT expires_at, used_at FROM codes WHERE user_id = ?1 ORDER BY id")?
            .query_map([user_id], |row| {
                Ok(CodeTimes {
                    expires_at: row.get(0)?,
                    used_at: row.get(1)?,
                })
            })?
            .collect::<Result<_, _>>()?;
        Ok(Some(BuyerExport {
            details,
            sessions,
            codes,
        }))
    })();
    connection.execute_batch("COMMIT")?;
    result
}

pub(super) fn revoke_sessions(
    connection: &Connection,
    buyer: &BuyerRef,
) -> Result<Option<u64>, StoreError> {
    let Some(user_id) = user_id_of(connection, buyer)? else {
        return Ok(None);
    };
    let ended = connection
        .prepare_cached("DELETE FROM sessions WHERE user_id = ?1")?
        .execute([user_id])?;
    Ok(Some(ended as u64))
}

pub(super) fn erase(
    connection: &Connection,
    buyer: &BuyerRef,
    now: i64,
) -> Result<Option<Erased>, StoreError> {
    let Some(user_id) = user_id_of(connection, buyer)? else {
        return Ok(None);
    };
    let sessions = connection
        .prepare_cached("DELETE FROM sessions WHERE user_id = ?1")?
        .execute([user_id])?;
    // Codes have no index by buyer (it would cost every sync a random
    // page); the table holds only codes of the last TTL, so this scan is
    // bounded.
    let codes = connection
        .prepare_cached("DELETE FROM codes WHERE user_id = ?1")?
        .execute([user_id])?;
    connection
        .prepare_cached("INSERT OR IGNORE INTO erased_buyers (user_id, erased_at) VALUES (?1, ?2)")?
        .execute(params![user_id, now])?;
    connection
        .prepare_cached("DELETE FROM buyers WHERE user_id = ?1")?
        .execute([user_id])?;
    Ok(Some(Erased {
        user_id,
        sessions: sessions as u64,
        codes: codes as u64,
    }))
}

pub(super) fn disable_merchant(
    connection: &Connection,
    id: &MerchantId,
    end_sessions: bool,
    now: i64,
) -> Result<EndedSessions, AdminError> {
    super::admin::set_status(connection, id, MerchantStatus::Disabled)?;
    if !end_sessions {
        return Ok(EndedSessions::default());
    }
    let sessions = connection
        .prepare_cached(
            "DELETE FROM sessions WHERE user_id IN
             (SELECT user_id FROM buyers WHERE merchant_id = ?1)",
        )?
        .execute([id.as_str()])?;
    let codes = connection
        .prepare_cached(
            "DELETE FROM codes WHERE used_at IS NULL AND expires_at > ?2 AND user_id IN
             (SELECT user_id FROM buyers WHERE merchant_id = ?1)",
        )?
        .execute(params![id.as_str(), now])?;
    Ok(EndedSessions {
        sessions: sessions as u64,
        codes: codes as u64,
    })
}

pub(super) fn remove_key_keeping_one(
    connection: &Connection,
    id: &MerchantId,
    key_id: &str,
) -> Result<(), AdminError> {
    let keys: i64 = connection.query_row(
        "SELECT count(*) FROM merchant_keys WHERE merchant_id = ?1",
        [id.as_str()],
        |row| row.get(0),
    )?;
    let owns: bool = connection.query_row(
        "SELECT EXISTS (SELECT 1 FROM merchant_keys WHERE merchant_id = ?1 AND key_id = ?2)",
        params![id.as_str(), key_id],
        |row| row.get(0),
    )?;
    if keys == 1 && owns {
        return Err(AdminError::LastKey {
            merchant: id.to_string(),
            key: key_id.to_owned(),
        });
    }
    super::admin::remove_key(connection, id, key_id)
}

pub(super) fn merchant_summaries(
    connection: &Connection,
) -> Result<Vec<MerchantSummary>, rusqlite::Error> {
    let mut merchants: Vec<MerchantSummary> = connection
        .prepare_cached("SELECT id, status, created_at FROM merchants ORDER BY id")?
        .query_map([], |row| {
            let status: String = row.get(1)?;
            Ok(MerchantSummary {
                id: row.get(0)?,
                status: MerchantStatus::parse(&status).unwrap_or(MerchantStatus::Disabled),
                created_at: row.get(2)?,
                keys: Vec::new(),
            })
        })?
        .collect::<Result<_, _>>()?;
    let mut statement = connection.prepare_cached(
        "SELECT merchant_id, key_id, created_at FROM merchant_keys ORDER BY created_at, key_id",
    )?;
    let mut rows = statement.query([])?;
    while let Some(row) = rows.next()? {
        let merchant_id: String = row.get(0)?;
        if let Ok(index) = merchants.binary_search_by(|m| m.id.cmp(&merchant_id)) {
            merchants[index].keys.push(KeySummary {
                key_id: row.get(1)?,
                created_at: row.get(2)?,
            });
        }
    }
    Ok(merchants)
}
