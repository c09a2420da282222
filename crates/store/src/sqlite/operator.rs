//! `OperatorStore` on SQLite: changes through the writer thread (each one
//! transaction), reads on the reader connections.

use async_trait::async_trait;
use payfac_domain::{MerchantId, SecretHash};

use super::{SqliteStore, admin_tokens, buyers_admin};
use crate::{
    AUDIT_LIMIT_MAX, AdminCredential, AdminError, AdminTokenRecord, AuditEntry, AuditRecord,
    BuyerDetails, BuyerExport, BuyerRef, EndedSessions, Erased, MerchantSummary, OperatorStore,
    StoreError,
};

#[async_trait]
impl OperatorStore for SqliteStore {
    async fn merchant_summaries(&self) -> Result<Vec<MerchantSummary>, StoreError> {
        self.readers.read(buyers_admin::merchant_summaries).await
    }

    async fn remove_key_keeping_one(
        &self,
        id: &MerchantId,
        key_id: &str,
    ) -> Result<(), AdminError> {
        let (id, key_id) = (id.clone(), key_id.to_owned());
        self.writer
            .write(move |connection| buyers_admin::remove_key_keeping_one(connection, &id, &key_id))
            .await
    }

    async fn disable_merchant(
        &self,
        id: &MerchantId,
        end_sessions: bool,
        now: i64,
    ) -> Result<EndedSessions, AdminError> {
        let id = id.clone();
        self.writer
            .write(move |connection| {
                buyers_admin::disable_merchant(connection, &id, end_sessions, now)
            })
            .await
    }

    async fn buyer_details(
        &self,
        buyer: &BuyerRef,
        now: i64,
        idle_secs: i64,
    ) -> Result<Option<BuyerDetails>, StoreError> {
        let buyer = buyer.clone();
        self.readers
            .read(move |connection| buyers_admin::buyer_details(connection, &buyer, now, idle_secs))
            .await
    }

    async fn export_buyer(
        &self,
        buyer: &BuyerRef,
        now: i64,
        idle_secs: i64,
    ) -> Result<Option<BuyerExport>, StoreError> {
        let buyer = buyer.clone();
        self.readers
            .read(move |connection| buyers_admin::export_buyer(connection, &buyer, now, idle_secs))
            .await
    }

    async fn revoke_buyer_sessions(&self, buyer: &BuyerRef) -> Result<Option<u64>, StoreError> {
        let buyer = buyer.clone();
        self.writer
            .write(move |connection| buyers_admin::revoke_sessions(connection, &buyer))
            .await
    }

    async fn erase_buyer(&self, buyer: &BuyerRef, now: i64) -> Result<Option<Erased>, StoreError> {
        let buyer = buyer.clone();
        self.writer
            .write(move |connection| buyers_admin::erase(connection, &buyer, now))
            .await
    }

    async fn create_admin_token(
        &self,
        name: &str,
        secret_hash: SecretHash,
        now: i64,
    ) -> Result<bool, StoreError> {
        let name = name.to_owned();
        self.writer
            .write(move |connection| admin_tokens::create(connection, &name, &secret_hash, now))
            .await
    }

    async fn admin_tokens(&self) -> Result<Vec<AdminTokenRecord>, StoreError> {
        self.readers.read(admin_tokens::list).await
    }

    async fn admin_credentials(&self) -> Result<Vec<AdminCredential>, StoreError> {
        self.readers.read(admin_tokens::credentials).await
    }

    async fn revoke_admin_token(&self, name: &str) -> Result<bool, StoreError> {
        let name = name.to_owned();
        self.writer
            .write(move |connection| admin_tokens::revoke(connection, &name))
            .await
    }

    async fn touch_admin_token(&self, name: &str, now: i64) -> Result<(), StoreError> {
        let name = name.to_owned();
        self.writer
            .write(move |connection| admin_tokens::touch(connection, &name, now))
            .await
    }

    async fn record_audit(&self, entry: AuditEntry) -> Result<(), StoreError> {
        self.writer
            .write(move |connection| admin_tokens::record(connection, &entry))
            .await
    }

    async fn audit_log(&self, limit: i64) -> Result<Vec<AuditRecord>, StoreError> {
        let limit = limit.clamp(0, AUDIT_LIMIT_MAX);
        self.readers
            .read(move |connection| admin_tokens::log(connection, limit))
            .await
    }
}
