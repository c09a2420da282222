//! The OpenID Provider's rows (`crate::oidc`): clients, codes, access
//! tokens and RS256 keys. A code's redemption is one transaction holding
//! the code's row lock, so of two uses at once the second sees the first.

use async_trait::async_trait;
use deadpool_postgres::Client;
use payfac_domain::SecretHash;
use tokio_postgres::Row;

use super::PostgresStore;
use super::buyers::buyer_from_row;
use super::identity_keys::{self, OIDC};
use crate::oidc::{join_uris, oidc_binding_holds, split_uris};
use crate::{
    IdentityKeyRecord, NewOidcCode, OidcClient, OidcCodeRedemption, OidcCodeRefusal, OidcGrant,
    OidcSession, OidcStore, SessionKey, StoreError,
};

const CLIENT_COLUMNS: &str = "SELECT client_id, name, secret_hash, redirect_uris, \
     post_logout_redirect_uris, id_token_alg, created_at FROM oidc_clients";

fn client_from_row(row: &Row) -> Result<OidcClient, tokio_postgres::Error> {
    let hash: Option<Vec<u8>> = row.try_get(2)?;
    Ok(OidcClient {
        client_id: row.try_get(0)?,
        name: row.try_get(1)?,
        secret_hash: hash.as_deref().and_then(SecretHash::from_slice),
        redirect_uris: split_uris(row.try_get(3)?),
        post_logout_redirect_uris: split_uris(row.try_get(4)?),
        id_token_alg: row.try_get(5)?,
        created_at: row.try_get(6)?,
    })
}

/// The grant columns after the buyer's: scope, nonce, auth_time.
fn grant_from_row(row: &Row) -> Result<OidcGrant, tokio_postgres::Error> {
    Ok(OidcGrant {
        buyer: buyer_from_row(row)?,
        scope: row.try_get(6)?,
        nonce: row.try_get(7)?,
        auth_time: row.try_get(8)?,
    })
}

const CODE: &str = concat!(
    "SELECT ",
    buyer_columns!(),
    ", c.scope, c.nonce, c.auth_time, c.id, c.used_at, c.expires_at, s.expires_at,
       c.client_id, c.redirect_uri, c.code_challenge
     FROM oidc_codes c JOIN sessions s ON s.id = c.session_id
     JOIN buyers b ON b.user_id = s.user_id
     WHERE c.code_hash = $1 FOR UPDATE OF c"
);

async fn redeem(
    client: &mut Client,
    redemption: &OidcCodeRedemption,
) -> Result<Result<OidcGrant, OidcCodeRefusal>, StoreError> {
    let now = redemption.now;
    let transaction = client.transaction().await?;
    let Some(row) = transaction
        .query_opt(CODE, &[&&redemption.code_hash.0[..]])
        .await?
    else {
        return Ok(Err(OidcCodeRefusal::Unknown));
    };
    let code_id: i64 = row.try_get(9)?;
    let used_at: Option<i64> = row.try_get(10)?;
    let outcome = if used_at.is_some() {
        transaction
            .execute(
                "DELETE FROM oidc_access_tokens WHERE code_id = $1",
                &[&code_id],
            )
            .await?;
        Err(OidcCodeRefusal::Reused)
    } else {
        transaction
            .execute(
                "UPDATE oidc_codes SET used_at = $2 WHERE id = $1",
                &[&code_id, &now],
            )
            .await?;
        let (expires_at, session_expires_at): (i64, i64) = (row.try_get(11)?, row.try_get(12)?);
        let (stored_client, redirect, challenge): (String, String, Option<String>) =
            (row.try_get(13)?, row.try_get(14)?, row.try_get(15)?);
        if expires_at <= now || session_expires_at <= now {
            Err(OidcCodeRefusal::Expired)
        } else if !oidc_binding_holds(&stored_client, &redirect, challenge.as_deref(), redemption) {
            Err(OidcCodeRefusal::Mismatch)
        } else {
            transaction
                .execute(
                    "INSERT INTO oidc_access_tokens (token_hash, code_id, expires_at)
                     VALUES ($1, $2, $3)",
                    &[
                        &&redemption.access_token_hash.0[..],
                        &code_id,
                        &redemption.access_expires_at,
                    ],
                )
                .await?;
            Ok(grant_from_row(&row)?)
        }
    };
    transaction.commit().await?;
    Ok(outcome)
}

const SESSION: &str = concat!(
    "SELECT ",
    buyer_columns!(),
    ", s.created_at FROM sessions s JOIN buyers b ON b.user_id = s.user_id
     WHERE s.id = $1 AND s.secret_hash = $2 AND NOT s.pending
       AND s.expires_at > $3 AND s.last_seen_at > $3 - $4"
);

const ACCESS: &str = concat!(
    "SELECT ",
    buyer_columns!(),
    ", c.scope, c.nonce, c.auth_time
     FROM oidc_access_tokens t JOIN oidc_codes c ON c.id = t.code_id
     JOIN sessions s ON s.id = c.session_id
     JOIN buyers b ON b.user_id = s.user_id
     WHERE t.token_hash = $1 AND t.expires_at > $2 AND s.expires_at > $2"
);

#[async_trait]
impl OidcStore for PostgresStore {
    async fn add_oidc_client(&self, client: OidcClient) -> Result<bool, StoreError> {
        let connection = self.pool.get().await?;
        let added = connection
            .execute(
                "INSERT INTO oidc_clients (client_id, name, secret_hash, redirect_uris,
                     post_logout_redirect_uris, id_token_alg, created_at)
                 VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (client_id) DO NOTHING",
                &[
                    &client.client_id,
                    &client.name,
                    &client.secret_hash.as_ref().map(|hash| hash.0.to_vec()),
                    &join_uris(&client.redirect_uris),
                    &join_uris(&client.post_logout_redirect_uris),
                    &client.id_token_alg,
                    &client.created_at,
                ],
            )
            .await?;
        Ok(added == 1)
    }

    async fn oidc_clients(&self) -> Result<Vec<OidcClient>, StoreError> {
        let connection = self.pool.get().await?;
        let rows = connection
            .query(
                &format!("{CLIENT_COLUMNS} ORDER BY created_at, client_id"),
                &[],
            )
            .await?;
        Ok(rows.iter().map(client_from_row).collect::<Result<_, _>>()?)
    }

    async fn oidc_client(&self, client_id: &str) -> Result<Option<OidcClient>, StoreError> {
        let connection = self.pool.get().await?;
        let statement = connection
            .prepare_cached(&format!("{CLIENT_COLUMNS} WHERE client_id = $1"))
            .await?;
        let row = connection.query_opt(&statement, &[&client_id]).await?;
        Ok(row.as_ref().map(client_from_row).transpose()?)
    }

    async fn remove_oidc_client(&self, client_id: &str) -> Result<bool, StoreError> {
        let connection = self.pool.get().await?;
        let removed = connection
            .execute(
                "DELETE FROM oidc_clients WHERE client_id = $1",
                &[&client_id],
            )
            .await?;
        Ok(removed == 1)
    }

    async fn oidc_session(
        &self,
        session: SessionKey,
        now: i64,
        idle_secs: i64,
    ) -> Result<Option<OidcSession>, StoreError> {
        let connection = self.pool.get().await?;
        let statement = connection.prepare_cached(SESSION).await?;
        let row = connection
            .query_opt(
                &statement,
                &[&session.id.0, &&session.secret_hash.0[..], &now, &idle_secs],
            )
            .await?;
        let session = |row: &Row| -> Result<OidcSession, tokio_postgres::Error> {
            Ok(OidcSession {
                buyer: buyer_from_row(row)?,
                auth_time: row.try_get(6)?,
            })
        };
        Ok(row.as_ref().map(session).transpose()?)
    }

    async fn add_oidc_code(&self, code: NewOidcCode) -> Result<(), StoreError> {
        let connection = self.pool.get().await?;
        let statement = connection
            .prepare_cached(
                "INSERT INTO oidc_codes (code_hash, client_id, session_id, redirect_uri,
                     code_challenge, nonce, scope, auth_time, expires_at)
                 SELECT $1, $2, s.id, $4, $5, $6, $7, $8, $9
                 FROM sessions s WHERE s.id = $3 AND s.secret_hash = $10",
            )
            .await?;
        connection
            .execute(
                &statement,
                &[
                    &&code.code_hash.0[..],
                    &code.client_id,
                    &code.session.id.0,
                    &code.redirect_uri,
                    &code.code_challenge,
                    &code.nonce,
                    &code.scope,
                    &code.auth_time,
                    &code.expires_at,
                    &&code.session.secret_hash.0[..],
                ],
            )
            .await?;
        Ok(())
    }

    async fn redeem_oidc_code(
        &self,
        redemption: OidcCodeRedemption,
    ) -> Result<Result<OidcGrant, OidcCodeRefusal>, StoreError> {
        let mut connection = self.pool.get().await?;
        redeem(&mut connection, &redemption).await
    }

    async fn oidc_access(
        &self,
        token_hash: SecretHash,
        now: i64,
    ) -> Result<Option<OidcGrant>, StoreError> {
        let connection = self.pool.get().await?;
        let statement = connection.prepare_cached(ACCESS).await?;
        let row = connection
            .query_opt(&statement, &[&&token_hash.0[..], &now])
            .await?;
        Ok(row.as_ref().map(grant_from_row).transpose()?)
    }

    async fn oidc_keys(&self) -> Result<Vec<IdentityKeyRecord>, StoreError> {
        identity_keys::identity_keys(&self.pool, &OIDC).await
    }

    async fn add_oidc_key(
        &self,
        key: IdentityKeyRecord,
        only_if_none: bool,
    ) -> Result<bool, StoreError> {
        identity_keys::add_identity_key(&self.pool, &OIDC, &key, only_if_none).await
    }

    async fn remove_oidc_keys_before(&self, created_before: i64) -> Result<u64, StoreError> {
        identity_keys::remove_identity_keys_before(&self.pool, &OIDC, created_before).await
    }
}

/// Part of the purge: expired tokens, and codes whose tokens have all
/// expired (a used code is kept that long so a second use still revokes
/// them).
pub(super) async fn purge(client: &Client, now: i64, batch: i64) -> Result<(), StoreError> {
    let statement = client
        .prepare_cached(
            "WITH t AS (
                 DELETE FROM oidc_access_tokens WHERE token_hash IN (
                     SELECT token_hash FROM oidc_access_tokens WHERE expires_at < $1::bigint
                     LIMIT $2::bigint FOR UPDATE SKIP LOCKED)
             )
             DELETE FROM oidc_codes WHERE id IN (
                 SELECT id FROM oidc_codes WHERE expires_at < $1::bigint - $3::bigint
                 LIMIT $2::bigint FOR UPDATE SKIP LOCKED)",
        )
        .await?;
    client
        .execute(
            &statement,
            &[&now, &batch, &crate::oidc::ACCESS_TOKEN_MAX_SECS],
        )
        .await?;
    Ok(())
}
