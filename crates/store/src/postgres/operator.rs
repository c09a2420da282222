//! `OperatorStore` on PostgreSQL: each change is one transaction.

use async_trait::async_trait;
use payfac_domain::{MerchantId, SecretHash};

use super::{PostgresStore, admin_tokens, buyers_admin};
use crate::{
    AUDIT_LIMIT_MAX, AdminCredential, AdminError, AdminTokenRecord, AuditEntry, AuditRecord,
    BuyerDetails, BuyerExport, BuyerRef, EndedSessions, Erased, MerchantSummary, OperatorStore,
    StoreError,
};

#[async_trait]
impl OperatorStore for PostgresStore {
    async fn merchant_summaries(&self) -> Result<Vec<MerchantSummary>, StoreError> {
        buyers_admin::merchant_summaries(&self.pool).await
    }

    async fn remove_key_keeping_one(
        &self,
        id: &MerchantId,
        key_id: &str,
    ) -> Result<(), AdminError> {
        buyers_admin::remove_key_keeping_one(&self.pool, id, key_id).await
    }

    async fn disable_merchant(
        &self,
        id: &MerchantId,
        end_sessions: bool,
        now: i64,
    ) -> Result<EndedSessions, AdminError> {
        buyers_admin::disable_merchant(&self.pool, id, end_sessions, now).await
    }

    async fn buyer_details(
        &self,
        buyer: &BuyerRef,
        now: i64,
        idle_secs: i64,
    ) -> Result<Option<BuyerDetails>, StoreError> {
        buyers_admin::buyer_details(&self.pool, buyer, now, idle_secs).await
    }

    async fn export_buyer(
        &self,
        buyer: &BuyerRef,
        now: i64,
        idle_secs: i64,
    ) -> Result<Option<BuyerExport>, StoreError> {
        buyers_admin::export_buyer(&self.pool, buyer, now, idle_secs).await
    }

    async fn revoke_buyer_sessions(&self, buyer: &BuyerRef) -> Result<Option<u64>, StoreError> {
        buyers_admin::revoke_sessions(&self.pool, buyer).await
    }

    async fn erase_buyer(&self, buyer: &BuyerRef, now: i64) -> Result<Option<Erased>, StoreError> {
        buyers_admin::erase(&self.pool, buyer, now).await
    }

    async fn create_admin_token(
        &self,
        name: &str,
        secret_hash: SecretHash,
        now: i64,
        expires_at: Option<i64>,
    ) -> Result<bool, StoreError> {
        admin_tokens::create(&self.pool, name, &secret_hash, now, expires_at).await
    }

    async fn admin_tokens(&self) -> Result<Vec<AdminTokenRecord>, StoreError> {
        admin_tokens::list(&self.pool).await
    }

    async fn admin_credentials(&self) -> Result<Vec<AdminCredential>, StoreError> {
        admin_tokens::credentials(&self.pool).await
    }

    async fn revoke_admin_token(&self, name: &str) -> Result<bool, StoreError> {
        admin_tokens::revoke(&self.pool, name).await
    }

    async fn touch_admin_token(&self, name: &str, now: i64) -> Result<(), StoreError> {
        admin_tokens::touch(&self.pool, name, now).await
    }

    async fn record_audit(&self, entry: AuditEntry) -> Result<(), StoreError> {
        admin_tokens::record(&self.pool, &entry).await
    }

    async fn audit_log(&self, limit: i64) -> Result<Vec<AuditRecord>, StoreError> {
        admin_tokens::log(&self.pool, limit.clamp(0, AUDIT_LIMIT_MAX)).await
    }
}
