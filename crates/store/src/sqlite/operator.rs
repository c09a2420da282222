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

    /// The rows are zeroed as they are deleted (`secure_delete`); the WAL
    /// still holds the pages as they were until it is truncated, which is
    /// done at once. If a reader holds the WAL past the busy timeout the
    /// erase still stands, and the frames are overwritten once the WAL
    /// starts over after a later complete checkpoint.
    async fn erase_buyer(&self, buyer: &BuyerRef, now: i64) -> Result<Option<Erased>, StoreError> {
        let buyer = buyer.clone();
        let erased = self
            .writer
            .write(move |connection| buyers_admin::erase(connection, &buyer, now))
            .await?;
        if erased.is_some() {
            match self.truncate_wal().await {
                Ok(true) => {}
                Ok(false) => tracing::warn!("after an erase the WAL could not be emptied: busy"),
                Err(error) => {
                    tracing::warn!(%error, "after an erase the WAL could not be emptied");
                }
            }
        }
        Ok(erased)
    }

    async fn create_admin_token(
        &self,
        name: &str,
        secret_hash: SecretHash,
        now: i64,
        expires_at: Option<i64>,
    ) -> Result<bool, StoreError> {
        let name = name.to_owned();
        self.writer
            .write(move |connection| {
                admin_tokens::create(connection, &name, &secret_hash, now, expires_at)
            })
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

#[cfg(test)]
mod tests {
    use payfac_domain::{BuyerProfile, Email, MerchantId, MerchantUserNo, Nonce, PersonName};

    use super::*;
    use crate::{Store, SyncRequest};

    fn sync(nonce: &str, email: &str, last_name: &str) -> SyncRequest {
        SyncRequest {
            merchant: MerchantId::parse("M1").unwrap(),
            nonce: Nonce::parse(nonce).unwrap(),
            signed_at: 1_900_000_000,
            window: 300,
            profile: BuyerProfile {
                merchant_user_no: MerchantUserNo::parse("ERASE-ME-1").unwrap(),
                email: Email::parse(email).unwrap(),
                first_name: Some(PersonName::parse("first", "Quixotica").unwrap()),
                last_name: Some(PersonName::parse("last", last_name).unwrap()),
            },
            new_user_id: crate::new_user_id(),
            code_hash: payfac_domain::SecretHash::of(nonce),
            code_expires_at: 2_000_000_000,
            now: 1_900_000_000,
        }
    }

    /// Finding 7 of the second review: after an erase, neither the
    /// database file nor its WAL holds the buyer's email or names, in any
    /// version the buyer had (an update leaves the old one behind too).
    #[tokio::test]
    async fn an_erased_buyer_leaves_no_bytes_on_disk() {
        let directory = tempfile::tempdir().unwrap();
        let path = directory.path().join("erase.db");
        let store = SqliteStore::open(path.to_str().unwrap()).await.unwrap();
        store
            .sync_user(sync("nonce0001", "first-mail@zzyzx.example", "Vandersloot"))
            .await
            .unwrap();
        store
            .sync_user(sync(
                "nonce0002",
                "second-mail@zzyzx.example",
                "Vanderbloom",
            ))
            .await
            .unwrap();
        // Let the checkpointer copy both versions into the database file.
        store.truncate_wal().await.unwrap();
        let buyer = BuyerRef::Merchant {
            merchant: MerchantId::parse("M1").unwrap(),
            merchant_user_no: MerchantUserNo::parse("ERASE-ME-1").unwrap(),
        };
        assert!(
            store
                .erase_buyer(&buyer, 1_900_000_001)
                .await
                .unwrap()
                .is_some()
        );
        // While the store is open (a clean shutdown would checkpoint and
        // delete the WAL, hiding what it held), and after it closed.
        assert_no_trace(directory.path());
        drop(store);
        assert_no_trace(directory.path());
    }

    fn assert_no_trace(directory: &std::path::Path) {
        let mut files = 0;
        for entry in std::fs::read_dir(directory).unwrap() {
            let file = entry.unwrap().path();
            // The WAL and shm files go when the last connection closes.
            let Ok(bytes) = std::fs::read(&file) else {
                continue;
            };
            files += 1;
            for secret in [
                "first-mail@zzyzx",
                "second-mail@zzyzx",
                "Quixotica",
                "Vandersloot",
                "Vanderbloom",
                "ERASE-ME-1",
            ] {
                assert!(
                    !bytes
                        .windows(secret.len())
                        .any(|window| window == secret.as_bytes()),
                    "{secret} is still in {}",
                    file.display()
                );
            }
        }
        assert!(files >= 1);
    }
}
