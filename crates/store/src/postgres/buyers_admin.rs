//! The operator's statements about buyers and merchants on PostgreSQL.
//! Mirrors sqlite/buyers_admin.rs. Changes run in one transaction that
//! first locks the buyer (or merchant) row, so a concurrent sync or
//! sign-in either finishes before or meets the change.

use deadpool_postgres::{GenericClient, Pool};
use payfac_domain::{MerchantId, MerchantStatus};

use super::buyers::buyer_from_row;
use crate::{
    AdminError, BuyerDetails, BuyerExport, BuyerRef, CodeTimes, EndedSessions, Erased, KeySummary,
    MerchantSummary, SessionTimes, StoreError,
};

/// The buyer's id, locked `FOR UPDATE` when `lock` (inside a transaction).
async fn user_id_of(
    client: &impl GenericClient,
    buyer: &BuyerRef,
    lock: bool,
) -> Result<Option<i64>, tokio_postgres::Error> {
    let suffix = if lock { " FOR UPDATE" } else { "" };
    let row = match buyer {
        BuyerRef::UserId(user_id) => {
            let sql = format!("SELECT user_id FROM buyers WHERE user_id = $1::bigint{suffix}");
            client.query_opt(&sql, &[user_id]).await?
        }
        BuyerRef::Merchant {
            merchant,
            merchant_user_no,
        } => {
            let sql = format!(
                "SELECT user_id FROM buyers
                 WHERE merchant_id = $1::text AND merchant_user_no = $2::text{suffix}"
            );
            client
                .query_opt(&sql, &[&merchant.as_str(), &merchant_user_no.as_str()])
                .await?
        }
    };
    row.map(|row| row.try_get(0)).transpose()
}

const DETAILS: &str = concat!(
    "SELECT ",
    buyer_columns!(),
    ", b.created_at, b.updated_at,
        (SELECT count(*) FROM sessions s WHERE s.user_id = b.user_id
           AND s.expires_at > $2::bigint AND s.last_seen_at > $2::bigint - $3::bigint)
     FROM buyers b WHERE b.user_id = $1::bigint"
);

async fn details(
    client: &impl GenericClient,
    buyer: &BuyerRef,
    now: i64,
    idle_secs: i64,
) -> Result<Option<BuyerDetails>, tokio_postgres::Error> {
    let Some(user_id) = user_id_of(client, buyer, false).await? else {
        return Ok(None);
    };
    let row = client
        .query_opt(DETAILS, &[&user_id, &now, &idle_secs])
        .await?;
    row.map(|row| {
        Ok(BuyerDetails {
            buyer: buyer_from_row(&row)?,
            created_at: row.try_get(6)?,
            updated_at: row.try_get(7)?,
            live_sessions: row.try_get(8)?,
        })
    })
    .transpose()
}

pub(super) async fn buyer_details(
    pool: &Pool,
    buyer: &BuyerRef,
    now: i64,
    idle_secs: i64,
) -> Result<Option<BuyerDetails>, StoreError> {
    let client = pool.get().await?;
    Ok(details(&client, buyer, now, idle_secs).await?)
}

/// Read in one REPEATABLE READ transaction, so the parts agree.
pub(super) async fn export_buyer(
    pool: &Pool,
    buyer: &BuyerRef,
    now: i64,
    idle_secs: i64,
) -> Result<Option<BuyerExport>, StoreError> {
    let mut client = pool.get().await?;
    let transaction = client
        .build_transaction()
        .isolation_level(tokio_postgres::IsolationLevel::RepeatableRead)
        .read_only(true)
        .start()
        .await?;
    let Some(details) = details(&transaction, buyer, now, idle_secs).await? else {
        return Ok(None);
    };
    let user_id = details.buyer.user_id;
    let sessions = transaction
        .query(
            "SELECT created_at, last_seen_at, expires_at FROM sessions
             WHERE user_id = $1::bigint ORDER BY id",
            &[&user_id],
        )
        .await?
        .iter()
        .map(|row| {
            Ok(SessionTimes {
                created_at: row.try_get(0)?,
                last_seen_at: row.try_get(1)?,
                expires_at: row.try_get(2)?,
            })
        })
        .collect::<Result<_, tokio_postgres::Error>>()?;
    let codes = transaction
        .query(
            "SELECT expires_at, used_at FROM codes WHERE user_id = $1::bigint ORDER BY id",
            &[&user_id],
        )
        .await?
        .iter()
        .map(|row| {
            Ok(CodeTimes {
                expires_at: row.try_get(0)?,
                used_at: row.try_get(1)?,
            })
        })
        .collect::<Result<_, tokio_postgres::Error>>()?;
    transaction.commit().await?;
    Ok(Some(BuyerExport {
        details,
        sessions,
        codes,
    }))
}

pub(super) async fn revoke_sessions(
    pool: &Pool,
    buyer: &BuyerRef,
) -> Result<Option<u64>, StoreError> {
    let mut client = pool.get().await?;
    let transaction = client.transaction().await?;
    let Some(user_id) = user_id_of(&transaction, buyer, true).await? else {
        return Ok(None);
    };
    let ended = transaction
        .execute(
            "DELETE FROM sessions WHERE user_id = $1::bigint",
            &[&user_id],
        )
        .await?;
    transaction.commit().await?;
    Ok(Some(ended))
}

pub(super) async fn erase(
    pool: &Pool,
    buyer: &BuyerRef,
    now: i64,
) -> Result<Option<Erased>, StoreError> {
    let mut client = pool.get().await?;
    let transaction = client.transaction().await?;
    // The lock makes a concurrent sync wait, then create a new buyer; each
    // statement below sees every code and session committed before it.
    let Some(user_id) = user_id_of(&transaction, buyer, true).await? else {
        return Ok(None);
    };
    let sessions = transaction
        .execute(
            "DELETE FROM sessions WHERE user_id = $1::bigint",
            &[&user_id],
        )
        .await?;
    let codes = transaction
        .execute("DELETE FROM codes WHERE user_id = $1::bigint", &[&user_id])
        .await?;
    transaction
        .execute(
            "INSERT INTO erased_buyers (user_id, erased_at) VALUES ($1::bigint, $2::bigint)
             ON CONFLICT DO NOTHING",
            &[&user_id, &now],
        )
        .await?;
    transaction
        .execute("DELETE FROM buyers WHERE user_id = $1::bigint", &[&user_id])
        .await?;
    transaction.commit().await?;
    Ok(Some(Erased {
        user_id,
        sessions,
        codes,
    }))
}

pub(super) async fn disable_merchant(
    pool: &Pool,
    id: &MerchantId,
    end_sessions: bool,
    now: i64,
) -> Result<EndedSessions, AdminError> {
    let mut client = pool.get().await?;
    let transaction = client.transaction().await?;
    let changed = transaction
        .execute(
            "WITH changed AS (
                 UPDATE merchants SET status = $2::text WHERE id = $1::text
                 RETURNING 1
             )
             UPDATE config_version SET version = version + 1
             WHERE EXISTS (SELECT 1 FROM changed)",
            &[&id.as_str(), &MerchantStatus::Disabled.as_str()],
        )
        .await?;
    if changed == 0 {
        return Err(AdminError::UnknownMerchant(id.to_string()));
    }
    let mut ended = EndedSessions::default();
    if end_sessions {
        ended.sessions = transaction
            .execute(
                "DELETE FROM sessions WHERE user_id IN
                 (SELECT user_id FROM buyers WHERE merchant_id = $1::text)",
                &[&id.as_str()],
            )
            .await?;
        ended.codes = transaction
            .execute(
                "DELETE FROM codes WHERE used_at IS NULL AND expires_at > $2::bigint
                   AND user_id IN (SELECT user_id FROM buyers WHERE merchant_id = $1::text)",
                &[&id.as_str(), &now],
            )
            .await?;
    }
    transaction.commit().await?;
    Ok(ended)
}

pub(super) async fn remove_key_keeping_one(
    pool: &Pool,
    id: &MerchantId,
    key_id: &str,
) -> Result<(), AdminError> {
    let mut client = pool.get().await?;
    let transaction = client.transaction().await?;
    // Locking the merchant first serializes two removals of its last two
    // keys: the second sees the first's commit and keeps its key.
    transaction
        .execute(
            "SELECT 1 FROM merchants WHERE id = $1::text FOR UPDATE",
            &[&id.as_str()],
        )
        .await?;
    let row = transaction
        .query_one(
            "WITH removed AS (
                 DELETE FROM merchant_keys WHERE merchant_id = $1::text AND key_id = $2::text
                   AND EXISTS (SELECT 1 FROM merchant_keys o
                               WHERE o.merchant_id = $1::text AND o.key_id <> $2::text)
                 RETURNING 1
             ), bumped AS (
                 UPDATE config_version SET version = version + 1
                 WHERE EXISTS (SELECT 1 FROM removed)
             )
             SELECT EXISTS (SELECT 1 FROM merchants WHERE id = $1::text),
                    EXISTS (SELECT 1 FROM merchant_keys
                            WHERE merchant_id = $1::text AND key_id = $2::text),
                    EXISTS (SELECT 1 FROM removed)",
            &[&id.as_str(), &key_id],
        )
        .await?;
    let found: (bool, bool, bool) = (row.try_get(0)?, row.try_get(1)?, row.try_get(2)?);
    transaction.commit().await?;
    match found {
        (false, _, _) => Err(AdminError::UnknownMerchant(id.to_string())),
        (true, _, true) => Ok(()),
        (true, true, false) => Err(AdminError::LastKey {
            merchant: id.to_string(),
            key: key_id.to_owned(),
        }),
        (true, false, false) => Err(AdminError::UnknownKey {
            merchant: id.to_string(),
            key: key_id.to_owned(),
        }),
    }
}

pub(super) async fn merchant_summaries(pool: &Pool) -> Result<Vec<MerchantSummary>, StoreError> {
    let client = pool.get().await?;
    let rows = client
        .query(
            "SELECT m.id, m.status, m.created_at, k.key_id, k.created_at
             FROM merchants m LEFT JOIN merchant_keys k ON k.merchant_id = m.id
             ORDER BY m.id, k.created_at, k.key_id",
            &[],
        )
        .await?;
    let mut merchants: Vec<MerchantSummary> = Vec::new();
    for row in rows {
        let id: String = row.try_get(0)?;
        if merchants.last().is_none_or(|last| last.id != id) {
            let status: String = row.try_get(1)?;
            merchants.push(MerchantSummary {
                id,
                status: MerchantStatus::parse(&status).unwrap_or(MerchantStatus::Disabled),
                created_at: row.try_get(2)?,
                keys: Vec::new(),
            });
        }
        if let Some(key_id) = row.try_get::<_, Option<String>>(3)? {
            let merchant = merchants.last_mut().expect("pushed above");
            merchant.keys.push(KeySummary {
                key_id,
                created_at: row.try_get(4)?,
            });
        }
    }
    Ok(merchants)
}
