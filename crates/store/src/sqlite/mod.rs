//! The embedded SQLite backend: one file in WAL mode, one writer thread
//! with group commit, and a small pool of reader connections. This file
//! holds the store and hands each call to the file of its concern
//! (`SqliteStore::open` is in `connect`).

mod admin;
mod admin_tokens;
mod backup;
mod buyers;
mod buyers_admin;
mod connect;
mod identity_keys;
mod migrate;
mod nonces;
mod oidc;
mod operator;
mod purge;
mod readers;
mod redeem;
mod server_secrets;
mod sessions;
mod sync;
mod writer;

pub use backup::BackupSummary;
pub(crate) use backup::backup;
pub(crate) use connect::{apply_migrations, file_path, schema_status};

use async_trait::async_trait;
use payfac_domain::{Buyer, MerchantId, MerchantStatus};

use crate::{
    AdminError, IdentityKeyRecord, MerchantRecord, PurgeCounts, RedeemOutcome, Redemption,
    SessionKey, Store, StoreError, StoredKey, SyncOutcome, SyncRequest,
};
use readers::Readers;
use writer::Writer;

pub struct SqliteStore {
    writer: Writer,
    readers: Readers,
    /// Dropping it stops the checkpoint thread.
    _checkpointer: std::sync::mpsc::Sender<()>,
    /// The database file, for checkpoints outside the writer.
    path: std::path::PathBuf,
}

#[async_trait]
impl Store for SqliteStore {
    async fn sync_user(&self, request: SyncRequest) -> Result<SyncOutcome, StoreError> {
        self.writer
            .write_with_nonces(move |connection, nonces| {
                sync::sync_user(connection, nonces, &request)
            })
            .await
    }

    async fn redeem_code(&self, redemption: Redemption) -> Result<RedeemOutcome, StoreError> {
        self.writer
            .write(move |connection| redeem::redeem_code(connection, &redemption))
            .await
    }

    async fn session_buyer(
        &self,
        session: SessionKey,
        now: i64,
        idle_secs: i64,
    ) -> Result<Option<Buyer>, StoreError> {
        let found = self
            .readers
            .read(move |connection| sessions::session_buyer(connection, &session, now, idle_secs))
            .await?;
        let Some((buyer, last_seen_at)) = found else {
            return Ok(None);
        };
        if sessions::needs_touch(last_seen_at, now) {
            self.writer
                .write(move |connection| sessions::touch_session(connection, &session, now))
                .await?;
        }
        Ok(Some(buyer))
    }

    async fn end_session(&self, session: SessionKey) -> Result<(), StoreError> {
        self.writer
            .write(move |connection| sessions::end_session(connection, &session))
            .await
    }

    async fn pending_buyer(
        &self,
        session: SessionKey,
        now: i64,
    ) -> Result<Option<Buyer>, StoreError> {
        self.readers
            .read(move |connection| sessions::pending_buyer(connection, &session, now))
            .await
    }

    async fn confirm_session(
        &self,
        pending: SessionKey,
        now: i64,
        max_secs: i64,
        replaces: Option<SessionKey>,
    ) -> Result<bool, StoreError> {
        self.writer
            .write(move |connection| {
                sessions::confirm_session(connection, &pending, now, max_secs, replaces.as_ref())
            })
            .await
    }

    async fn server_secret(&self, name: &str, candidate: [u8; 32]) -> Result<Vec<u8>, StoreError> {
        let name = name.to_owned();
        self.writer
            .write(move |connection| server_secrets::server_secret(connection, &name, &candidate))
            .await
    }

    async fn purge_expired(&self, now: i64, batch: i64) -> Result<PurgeCounts, StoreError> {
        self.writer
            .write_with_nonces(move |connection, nonces| {
                purge::purge_expired(connection, nonces, now, batch)
            })
            .await
    }

    async fn ping(&self) -> Result<(), StoreError> {
        connect::ping(&self.readers, &self.writer).await
    }

    /// The writer runs jobs in the order queued: once an empty job is
    /// answered, every job queued before it has committed or failed.
    async fn flush(&self) -> Result<(), StoreError> {
        self.writer.write(|_| Ok::<_, StoreError>(())).await
    }

    async fn config_version(&self) -> Result<i64, StoreError> {
        self.readers.read(admin::config_version).await
    }

    async fn merchants(&self) -> Result<Vec<MerchantRecord>, StoreError> {
        self.readers.read(admin::merchants).await
    }

    async fn add_merchant(&self, id: &MerchantId, key: StoredKey) -> Result<(), AdminError> {
        let id = id.clone();
        self.writer
            .write(move |connection| admin::add_merchant(connection, &id, &key))
            .await
    }

    async fn add_key(&self, id: &MerchantId, key: StoredKey) -> Result<(), AdminError> {
        let id = id.clone();
        self.writer
            .write(move |connection| admin::add_key(connection, &id, &key))
            .await
    }

    async fn remove_key(&self, id: &MerchantId, key_id: &str) -> Result<(), AdminError> {
        let (id, key_id) = (id.clone(), key_id.to_owned());
        self.writer
            .write(move |connection| admin::remove_key(connection, &id, &key_id))
            .await
    }

    async fn set_status(&self, id: &MerchantId, status: MerchantStatus) -> Result<(), AdminError> {
        let id = id.clone();
        self.writer
            .write(move |connection| admin::set_status(connection, &id, status))
            .await
    }

    async fn identity_keys(&self) -> Result<Vec<IdentityKeyRecord>, StoreError> {
        self.readers
            .read(|connection| identity_keys::identity_keys(connection, identity_keys::IDENTITY))
            .await
    }

    async fn add_identity_key(
        &self,
        key: IdentityKeyRecord,
        only_if_none: bool,
    ) -> Result<bool, StoreError> {
        self.writer
            .write(move |connection| {
                Ok::<_, StoreError>(identity_keys::add_identity_key(
                    connection,
                    identity_keys::IDENTITY,
                    &key,
                    only_if_none,
                )?)
            })
            .await
    }

    async fn revoke_identity_key(
        &self,
        kid: &str,
        replacement: IdentityKeyRecord,
    ) -> Result<bool, StoreError> {
        let kid = kid.to_owned();
        self.writer
            .write(move |connection| {
                Ok::<_, StoreError>(identity_keys::revoke_identity_key(
                    connection,
                    &kid,
                    &replacement,
                )?)
            })
            .await
    }

    async fn remove_identity_keys_before(&self, created_before: i64) -> Result<u64, StoreError> {
        self.writer
            .write(move |connection| {
                Ok::<_, StoreError>(identity_keys::remove_identity_keys_before(
                    connection,
                    identity_keys::IDENTITY,
                    created_before,
                )?)
            })
            .await
    }
}
