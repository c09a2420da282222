//! The OpenID Provider's rows (`crate::oidc`): clients, codes, access
//! tokens and RS256 keys. Writes are jobs of the single writer, so a
//! code's check, spending and token are one step.

use async_trait::async_trait;
use payfac_domain::SecretHash;
use rusqlite::{Connection, OptionalExtension, params};

use super::SqliteStore;
use super::buyers::{BUYER_COLUMNS, buyer_from_row};
use super::identity_keys::{self, OIDC};
use crate::oidc::{join_uris, oidc_binding_holds, split_uris};
use crate::{
    IdentityKeyRecord, NewOidcCode, OidcClient, OidcCodeRedemption, OidcCodeRefusal, OidcGrant,
    OidcSession, OidcStore, SessionKey, StoreError,
};

const CLIENT_COLUMNS: &str = "SELECT client_id, name, secret_hash, redirect_uris, \
     post_logout_redirect_uris, id_token_alg, created_at FROM oidc_clients";

fn client_from_row(row: &rusqlite::Row<'_>) -> Result<OidcClient, rusqlite::Error> {
    let hash: Option<Vec<u8>> = row.get(2)?;
    Ok(OidcClient {
        client_id: row.get(0)?,
        name: row.get(1)?,
        secret_hash: hash.as_deref().and_then(SecretHash::from_slice),
        redirect_uris: split_uris(&row.get::<_, String>(3)?),
        post_logout_redirect_uris: split_uris(&row.get::<_, String>(4)?),
        id_token_alg: row.get(5)?,
        created_at: row.get(6)?,
    })
}

fn add_client(connection: &Connection, client: &OidcClient) -> Result<bool, rusqlite::Error> {
    let added = connection
        .prepare_cached(
            "INSERT INTO oidc_clients (client_id, name, secret_hash, redirect_uris,
                 post_logout_redirect_uris, id_token_alg, created_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) ON CONFLICT (client_id) DO NOTHING",
        )?
        .execute(params![
            client.client_id,
            client.name,
            client.secret_hash.as_ref().map(|hash| hash.0.to_vec()),
            join_uris(&client.redirect_uris),
            join_uris(&client.post_logout_redirect_uris),
            client.id_token_alg,
            client.created_at,
        ])?;
    Ok(added == 1)
}

/// The grant columns after the buyer's: scope, nonce, auth_time.
fn grant_from_row(row: &rusqlite::Row<'_>) -> Result<OidcGrant, rusqlite::Error> {
    Ok(OidcGrant {
        buyer: buyer_from_row(row)?,
        scope: row.get(6)?,
        nonce: row.get(7)?,
        auth_time: row.get(8)?,
    })
}

fn redeem(
    connection: &Connection,
    redemption: &OidcCodeRedemption,
) -> Result<Result<OidcGrant, OidcCodeRefusal>, rusqlite::Error> {
    let now = redemption.now;
    let found = connection
        .prepare_cached(&format!(
            "{BUYER_COLUMNS}, c.scope, c.nonce, c.auth_time, c.id, c.used_at, c.expires_at,
                 s.expires_at, c.client_id, c.redirect_uri, c.code_challenge
             FROM oidc_codes c JOIN sessions s ON s.id = c.session_id
             JOIN buyers b ON b.user_id = s.user_id
             WHERE c.code_hash = ?1"
        ))?
        .query_row([&redemption.code_hash.0[..]], |row| {
            let code: (i64, Option<i64>, i64, i64) =
                (row.get(9)?, row.get(10)?, row.get(11)?, row.get(12)?);
            let binding: (String, String, Option<String>) =
                (row.get(13)?, row.get(14)?, row.get(15)?);
            Ok((grant_from_row(row)?, code, binding))
        })
        .optional()?;
    let Some((grant, (code_id, used_at, expires_at, session_expires_at), binding)) = found else {
        return Ok(Err(OidcCodeRefusal::Unknown));
    };
    if used_at.is_some() {
        connection
            .prepare_cached("DELETE FROM oidc_access_tokens WHERE code_id = ?1")?
            .execute([code_id])?;
        return Ok(Err(OidcCodeRefusal::Reused));
    }
    connection
        .prepare_cached("UPDATE oidc_codes SET used_at = ?2 WHERE id = ?1")?
        .execute(params![code_id, now])?;
    if expires_at <= now || session_expires_at <= now {
        return Ok(Err(OidcCodeRefusal::Expired));
    }
    let (client, redirect, challenge) = binding;
    if !oidc_binding_holds(&client, &redirect, challenge.as_deref(), redemption) {
        return Ok(Err(OidcCodeRefusal::Mismatch));
    }
    connection
        .prepare_cached(
            "INSERT INTO oidc_access_tokens (token_hash, code_id, expires_at) VALUES (?1, ?2, ?3)",
        )?
        .execute(params![
            &redemption.access_token_hash.0[..],
            code_id,
            redemption.access_expires_at
        ])?;
    Ok(Ok(grant))
}

#[async_trait]
impl OidcStore for SqliteStore {
    async fn add_oidc_client(&self, client: OidcClient) -> Result<bool, StoreError> {
        self.writer
            .write(move |connection| Ok::<_, StoreError>(add_client(connection, &client)?))
            .await
    }

    async fn oidc_clients(&self) -> Result<Vec<OidcClient>, StoreError> {
        self.readers
            .read(|connection| {
                connection
                    .prepare_cached(&format!("{CLIENT_COLUMNS} ORDER BY created_at, client_id"))?
                    .query_map([], client_from_row)?
                    .collect()
            })
            .await
    }

    async fn oidc_client(&self, client_id: &str) -> Result<Option<OidcClient>, StoreError> {
        let client_id = client_id.to_owned();
        self.readers
            .read(move |connection| {
                connection
                    .prepare_cached(&format!("{CLIENT_COLUMNS} WHERE client_id = ?1"))?
                    .query_row([client_id], client_from_row)
                    .optional()
            })
            .await
    }

    async fn remove_oidc_client(&self, client_id: &str) -> Result<bool, StoreError> {
        let client_id = client_id.to_owned();
        self.writer
            .write(move |connection| {
                let removed = connection
                    .prepare_cached("DELETE FROM oidc_clients WHERE client_id = ?1")?
                    .execute([client_id])?;
                Ok::<_, StoreError>(removed == 1)
            })
            .await
    }

    async fn oidc_session(
        &self,
        session: SessionKey,
        now: i64,
        idle_secs: i64,
    ) -> Result<Option<OidcSession>, StoreError> {
        self.readers
            .read(move |connection| {
                connection
                    .prepare_cached(&format!(
                        "{BUYER_COLUMNS}, s.created_at FROM sessions s
                         JOIN buyers b ON b.user_id = s.user_id
                         WHERE s.id = ?1 AND s.secret_hash = ?2 AND s.pending = 0
                           AND s.expires_at > ?3 AND s.last_seen_at > ?3 - ?4"
                    ))?
                    .query_row(
                        params![session.id.0, &session.secret_hash.0[..], now, idle_secs],
                        |row| {
                            Ok(OidcSession {
                                buyer: buyer_from_row(row)?,
                                auth_time: row.get(6)?,
                            })
                        },
                    )
                    .optional()
            })
            .await
    }

    async fn add_oidc_code(&self, code: NewOidcCode) -> Result<(), StoreError> {
        self.writer
            .write(move |connection| {
                connection
                    .prepare_cached(
                        "INSERT INTO oidc_codes (code_hash, client_id, session_id, redirect_uri,
                             code_challenge, nonce, scope, auth_time, expires_at)
                         SELECT ?1, ?2, s.id, ?4, ?5, ?6, ?7, ?8, ?9
                         FROM sessions s WHERE s.id = ?3 AND s.secret_hash = ?10",
                    )?
                    .execute(params![
                        &code.code_hash.0[..],
                        code.client_id,
                        code.session.id.0,
                        code.redirect_uri,
                        code.code_challenge,
                        code.nonce,
                        code.scope,
                        code.auth_time,
                        code.expires_at,
                        &code.session.secret_hash.0[..],
                    ])?;
                Ok::<_, StoreError>(())
            })
            .await
    }

    async fn redeem_oidc_code(
        &self,
        redemption: OidcCodeRedemption,
    ) -> Result<Result<OidcGrant, OidcCodeRefusal>, StoreError> {
        self.writer
            .write(move |connection| Ok::<_, StoreError>(redeem(connection, &redemption)?))
            .await
    }

    async fn oidc_access(
        &self,
        token_hash: SecretHash,
        now: i64,
    ) -> Result<Option<OidcGrant>, StoreError> {
        self.readers
            .read(move |connection| {
                connection
                    .prepare_cached(&format!(
                        "{BUYER_COLUMNS}, c.scope, c.nonce, c.auth_time
                         FROM oidc_access_tokens t JOIN oidc_codes c ON c.id = t.code_id
                         JOIN sessions s ON s.id = c.session_id
                         JOIN buyers b ON b.user_id = s.user_id
                         WHERE t.token_hash = ?1 AND t.expires_at > ?2 AND s.expires_at > ?2"
                    ))?
                    .query_row(params![&token_hash.0[..], now], grant_from_row)
                    .optional()
            })
            .await
    }

    async fn oidc_keys(&self) -> Result<Vec<IdentityKeyRecord>, StoreError> {
        self.readers
            .read(|connection| identity_keys::identity_keys(connection, OIDC))
            .await
    }

    async fn add_oidc_key(
        &self,
        key: IdentityKeyRecord,
        only_if_none: bool,
    ) -> Result<bool, StoreError> {
        self.writer
            .write(move |connection| {
                Ok::<_, StoreError>(identity_keys::add_identity_key(
                    connection,
                    OIDC,
                    &key,
                    only_if_none,
                )?)
            })
            .await
    }

    async fn remove_oidc_keys_before(&self, created_before: i64) -> Result<u64, StoreError> {
        self.writer
            .write(move |connection| {
                Ok::<_, StoreError>(identity_keys::remove_identity_keys_before(
                    connection,
                    OIDC,
                    created_before,
                )?)
            })
            .await
    }
}

/// Part of the purge: codes whose tokens have all expired (a used code is
/// kept that long so a second use still revokes them), and expired tokens.
pub(super) fn purge(connection: &Connection, now: i64, batch: i64) -> Result<(), rusqlite::Error> {
    connection
        .prepare_cached(
            "DELETE FROM oidc_access_tokens WHERE token_hash IN
             (SELECT token_hash FROM oidc_access_tokens WHERE expires_at < ?1 LIMIT ?2)",
        )?
        .execute(params![now, batch])?;
    connection
        .prepare_cached(
            "DELETE FROM oidc_codes WHERE id IN
             (SELECT id FROM oidc_codes WHERE expires_at < ?1 - ?3 LIMIT ?2)",
        )?
        .execute(params![now, batch, crate::oidc::ACCESS_TOKEN_MAX_SECS])?;
    Ok(())
}
