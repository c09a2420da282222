//! The PostgreSQL backend: several service instances share one database.
//!
//! Exactly-once rests on the database's own primitives — unique keys,
//! `ON CONFLICT`, row locks taken by `UPDATE` — not on any lock held in a
//! process, so it holds across instances. Each request-path method is one
//! statement (data-modifying CTEs) run as its own implicit transaction, and
//! a statement that fails leaves nothing behind. Merchant calls waiting at
//! the same moment share one such statement (`sync`).
//!
//! This file holds the store and hands each call to the file of its
//! concern (`PostgresStore::open` is in `connect`).

/// The columns `buyer_from_row` reads, as a literal for `concat!`.
macro_rules! buyer_columns {
    () => {
        "b.user_id, b.merchant_id, b.merchant_user_no, b.email, b.first_name, b.last_name"
    };
}

mod admin;
mod admin_tokens;
mod batch;
mod buyers;
mod buyers_admin;
mod channel_binding;
mod connect;
mod identity_keys;
mod migrate;
mod oidc;
mod operator;
mod purge;
mod redeem;
mod server_secrets;
mod sessions;
mod sync;
mod tls;

use async_trait::async_trait;
use batch::Batcher;
use deadpool_postgres::Pool;
use payfac_domain::{Buyer, MerchantId, MerchantStatus};

use crate::{
    AdminError, IdentityKeyRecord, MerchantRecord, PurgeCounts, RedeemOutcome, Redemption,
    SessionKey, Store, StoreError, StoredKey, SyncOutcome, SyncRequest,
};

pub use connect::{CONNECT_TIMEOUT, POOL_SIZE, WAIT_TIMEOUT};
pub(crate) use connect::{apply_migrations, schema_status};

pub struct PostgresStore {
    pool: Pool,
    syncs: Batcher<sync::Syncs>,
    redemptions: Batcher<redeem::Redemptions>,
}

#[async_trait]
impl Store for PostgresStore {
    async fn sync_user(&self, request: SyncRequest) -> Result<SyncOutcome, StoreError> {
        self.syncs.call(request).await
    }

    async fn redeem_code(&self, redemption: Redemption) -> Result<RedeemOutcome, StoreError> {
        self.redemptions.call(redemption).await
    }

    async fn session_buyer(
        &self,
        session: SessionKey,
        now: i64,
        idle_secs: i64,
    ) -> Result<Option<Buyer>, StoreError> {
        sessions::session_buyer(&self.pool, &session, now, idle_secs).await
    }

    async fn end_session(&self, session: SessionKey) -> Result<(), StoreError> {
        sessions::end_session(&self.pool, &session).await
    }

    async fn pending_buyer(
        &self,
        session: SessionKey,
        now: i64,
    ) -> Result<Option<Buyer>, StoreError> {
        sessions::pending_buyer(&self.pool, &session, now).await
    }

    async fn confirm_session(
        &self,
        pending: SessionKey,
        now: i64,
        max_secs: i64,
        replaces: Option<SessionKey>,
    ) -> Result<bool, StoreError> {
        sessions::confirm_session(&self.pool, &pending, now, max_secs, replaces.as_ref()).await
    }

    async fn server_secret(&self, name: &str, candidate: [u8; 32]) -> Result<Vec<u8>, StoreError> {
        server_secrets::server_secret(&self.pool, name, &candidate).await
    }

    async fn purge_expired(&self, now: i64, batch: i64) -> Result<PurgeCounts, StoreError> {
        purge::purge_expired(&self.pool, now, batch).await
    }

    async fn ping(&self) -> Result<(), StoreError> {
        connect::ping(&self.pool).await
    }

    async fn config_version(&self) -> Result<i64, StoreError> {
        admin::config_version(&self.pool).await
    }

    async fn merchants(&self) -> Result<Vec<MerchantRecord>, StoreError> {
        admin::merchants(&self.pool).await
    }

    async fn add_merchant(&self, id: &MerchantId, key: StoredKey) -> Result<(), AdminError> {
        admin::add_merchant(&self.pool, id, &key).await
    }

    async fn add_key(&self, id: &MerchantId, key: StoredKey) -> Result<(), AdminError> {
        admin::add_key(&self.pool, id, &key).await
    }

    async fn remove_key(&self, id: &MerchantId, key_id: &str) -> Result<(), AdminError> {
        admin::remove_key(&self.pool, id, key_id).await
    }

    async fn set_status(&self, id: &MerchantId, status: MerchantStatus) -> Result<(), AdminError> {
        admin::set_status(&self.pool, id, status).await
    }

    async fn identity_keys(&self) -> Result<Vec<IdentityKeyRecord>, StoreError> {
        identity_keys::identity_keys(&self.pool, &identity_keys::IDENTITY).await
    }

    async fn add_identity_key(
        &self,
        key: IdentityKeyRecord,
        only_if_none: bool,
    ) -> Result<bool, StoreError> {
        identity_keys::add_identity_key(&self.pool, &identity_keys::IDENTITY, &key, only_if_none)
            .await
    }

    async fn revoke_identity_key(
        &self,
        kid: &str,
        replacement: IdentityKeyRecord,
    ) -> Result<bool, StoreError> {
        identity_keys::revoke_identity_key(&self.pool, kid, &replacement).await
    }

    async fn remove_identity_keys_before(&self, created_before: i64) -> Result<u64, StoreError> {
        identity_keys::remove_identity_keys_before(
            &self.pool,
            &identity_keys::IDENTITY,
            created_before,
        )
        .await
    }
}
