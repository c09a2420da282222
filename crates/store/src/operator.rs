//! What the operator's tools need from storage (issue #17): buyer lookup,
//! export, session revocation and erasure, disabling a merchant with its
//! sessions ended, admin tokens and the audit trail.
//!
//! A supertrait of `Store`, so every handler's `Arc<dyn Store>` reaches it,
//! and each backend implements it in files of its own.

use async_trait::async_trait;
use payfac_domain::{Buyer, MerchantId, MerchantStatus, MerchantUserNo, SecretHash};

use crate::{AdminError, StoreError};

/// A buyer as the operator names it.
#[derive(Debug, Clone)]
pub enum BuyerRef {
    /// The merchant's own id for the buyer.
    Merchant {
        merchant: MerchantId,
        merchant_user_no: MerchantUserNo,
    },
    /// The platform's `userId`.
    UserId(i64),
}

impl std::fmt::Display for BuyerRef {
    /// The form used in audit records: `merchant/merchantUserNo` or the
    /// userId.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Merchant {
                merchant,
                merchant_user_no,
            } => write!(f, "{}/{}", merchant.as_str(), merchant_user_no.as_str()),
            Self::UserId(user_id) => write!(f, "{user_id}"),
        }
    }
}

/// A buyer's profile, its times and how many of its sessions are live.
#[derive(Debug, Clone)]
pub struct BuyerDetails {
    pub buyer: Buyer,
    pub created_at: i64,
    pub updated_at: i64,
    pub live_sessions: i64,
}

/// A session as an export shows it: times only, never its id or hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionTimes {
    pub created_at: i64,
    pub last_seen_at: i64,
    pub expires_at: i64,
}

/// An authorization code as an export shows it: times only.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CodeTimes {
    pub expires_at: i64,
    pub used_at: Option<i64>,
}

/// Everything stored about one buyer, without secrets or hashes.
#[derive(Debug, Clone)]
pub struct BuyerExport {
    pub details: BuyerDetails,
    /// Oldest first.
    pub sessions: Vec<SessionTimes>,
    /// Oldest first.
    pub codes: Vec<CodeTimes>,
}

/// What an erasure removed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Erased {
    pub user_id: i64,
    pub sessions: u64,
    pub codes: u64,
}

/// What disabling a merchant with `endSessions` ended.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct EndedSessions {
    pub sessions: u64,
    /// Unused codes deleted: they can no longer sign anyone in.
    pub codes: u64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeySummary {
    pub key_id: String,
    pub created_at: i64,
}

/// A merchant with its keys' creation times, for the admin API.
#[derive(Debug, Clone)]
pub struct MerchantSummary {
    pub id: String,
    pub status: MerchantStatus,
    pub created_at: i64,
    /// Oldest first.
    pub keys: Vec<KeySummary>,
}

/// An admin token as listed: never its secret or hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdminTokenRecord {
    pub name: String,
    pub created_at: i64,
    pub last_used_at: Option<i64>,
    /// `None`: never.
    pub expires_at: Option<i64>,
}

/// What the server compares a presented token against.
#[derive(Debug, Clone)]
pub struct AdminCredential {
    pub name: String,
    pub secret_hash: SecretHash,
    /// Refused from this time on; `None`: never.
    pub expires_at: Option<i64>,
}

/// One audit record. `actor` is a token name or `cli`; `target` names
/// what was changed (merchant id, key id, buyer, token name); `result` is
/// `ok` or why it was refused. None of them ever holds a secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditEntry {
    pub at: i64,
    pub actor: String,
    pub action: String,
    pub target: String,
    pub result: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditRecord {
    pub id: i64,
    pub entry: AuditEntry,
}

/// The most audit records one read returns.
pub const AUDIT_LIMIT_MAX: i64 = 1000;

/// Admin token names: 1–64 of `[A-Za-z0-9_.-]`.
pub fn valid_token_name(name: &str) -> bool {
    (1..=64).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'))
}

#[async_trait]
pub trait OperatorStore: Send + Sync + 'static {
    /// Every merchant with its keys' creation times, by id.
    async fn merchant_summaries(&self) -> Result<Vec<MerchantSummary>, StoreError>;

    /// Removes a key unless it is the merchant's last one (`LastKey`).
    async fn remove_key_keeping_one(&self, id: &MerchantId, key_id: &str)
    -> Result<(), AdminError>;

    /// Sets the merchant's status to disabled and, with `end_sessions`,
    /// in the same transaction ends every session of its buyers and
    /// deletes their unused codes.
    async fn disable_merchant(
        &self,
        id: &MerchantId,
        end_sessions: bool,
        now: i64,
    ) -> Result<EndedSessions, AdminError>;

    /// The buyer, with the number of sessions live at `now` (not past
    /// their expiry, used within `idle_secs`).
    async fn buyer_details(
        &self,
        buyer: &BuyerRef,
        now: i64,
        idle_secs: i64,
    ) -> Result<Option<BuyerDetails>, StoreError>;

    async fn export_buyer(
        &self,
        buyer: &BuyerRef,
        now: i64,
        idle_secs: i64,
    ) -> Result<Option<BuyerExport>, StoreError>;

    /// Ends all of the buyer's sessions; `None` when there is no such
    /// buyer, else how many ended.
    async fn revoke_buyer_sessions(&self, buyer: &BuyerRef) -> Result<Option<u64>, StoreError>;

    /// Deletes the buyer, its codes and sessions, and keeps its userId
    /// in a tombstone so it is never issued again.
    async fn erase_buyer(&self, buyer: &BuyerRef, now: i64) -> Result<Option<Erased>, StoreError>;

    /// Stores a new token's hash, refused from `expires_at` on (`None`:
    /// never); `false` when the name is taken.
    async fn create_admin_token(
        &self,
        name: &str,
        secret_hash: SecretHash,
        now: i64,
        expires_at: Option<i64>,
    ) -> Result<bool, StoreError>;

    /// Tokens by name.
    async fn admin_tokens(&self) -> Result<Vec<AdminTokenRecord>, StoreError>;

    async fn admin_credentials(&self) -> Result<Vec<AdminCredential>, StoreError>;

    /// `false` when there was no such token.
    async fn revoke_admin_token(&self, name: &str) -> Result<bool, StoreError>;

    async fn touch_admin_token(&self, name: &str, now: i64) -> Result<(), StoreError>;

    async fn record_audit(&self, entry: AuditEntry) -> Result<(), StoreError>;

    /// The newest `limit` records (at most `AUDIT_LIMIT_MAX`), newest first.
    async fn audit_log(&self, limit: i64) -> Result<Vec<AuditRecord>, StoreError>;
}
