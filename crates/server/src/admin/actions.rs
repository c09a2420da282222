//! Every administrative change, once, for both the admin API and the CLI:
//! the same validation, the same messages, and an audit record of each
//! change attempted (with `cli` or the admin token's name as the actor).

use payfac_domain::{MerchantId, MerchantStatus, MerchantUserNo, SecretHash, random_alphanumeric};
use payfac_signing::VerifyingKey;
use payfac_store::{
    AdminError, AuditEntry, BuyerExport, BuyerRef, EndedSessions, Erased, MerchantSummary, Store,
    StoreError, StoredKey, unix_now, valid_token_name,
};

/// Why an administrative call was refused. The message is safe to show
/// and to record: it never holds a secret.
#[derive(Debug, Clone, thiserror::Error)]
pub enum Refusal {
    /// Bad input (HTTP 422).
    #[error("{0}")]
    Invalid(String),
    /// No such merchant, key, buyer or token (404).
    #[error("{0}")]
    NotFound(String),
    /// Already exists, or would leave a merchant without keys (409).
    #[error("{0}")]
    Conflict(String),
    /// Storage failed (503).
    #[error("{0}")]
    Unavailable(String),
}

impl From<AdminError> for Refusal {
    fn from(error: AdminError) -> Self {
        let message = error.to_string();
        match error {
            AdminError::MerchantExists(_)
            | AdminError::KeyExists(_)
            | AdminError::LastKey { .. } => Self::Conflict(message),
            AdminError::UnknownMerchant(_) | AdminError::UnknownKey { .. } => {
                Self::NotFound(message)
            }
            AdminError::Store(error) => error.into(),
        }
    }
}

impl From<StoreError> for Refusal {
    fn from(error: StoreError) -> Self {
        Self::Unavailable(error.to_string())
    }
}

/// A merchant id as the CLI and the API take it.
pub fn merchant_id(text: &str) -> Result<MerchantId, Refusal> {
    MerchantId::parse(text).map_err(|error| Refusal::Invalid(error.to_string()))
}

/// A public key as the CLI and the API take it (docs/PROTOCOL.md §6).
pub fn public_key(text: &str) -> Result<VerifyingKey, Refusal> {
    VerifyingKey::parse(text).map_err(|error| Refusal::Invalid(error.to_string()))
}

/// A buyer named by merchant and merchantUserNo.
pub fn buyer_by_merchant(merchant: &str, merchant_user_no: &str) -> Result<BuyerRef, Refusal> {
    Ok(BuyerRef::Merchant {
        merchant: merchant_id(merchant)?,
        merchant_user_no: MerchantUserNo::parse(merchant_user_no)
            .map_err(|error| Refusal::Invalid(error.to_string()))?,
    })
}

/// A buyer named by its userId (a positive decimal integer).
pub fn buyer_by_user_id(text: &str) -> Result<BuyerRef, Refusal> {
    match text.parse::<i64>() {
        Ok(user_id) if user_id > 0 && text.bytes().all(|b| b.is_ascii_digit()) => {
            Ok(BuyerRef::UserId(user_id))
        }
        _ => Err(Refusal::Invalid(
            "userId must be a positive decimal integer".into(),
        )),
    }
}

pub fn stored(key: &VerifyingKey) -> StoredKey {
    StoredKey {
        key_id: key.key_id(),
        spki_der: key.spki_der().to_vec(),
    }
}

/// Prefix of every admin token, so a leaked one is recognisable.
pub const TOKEN_PREFIX: &str = "pfadm_";
/// Random characters after the prefix: 43 × log2(62) ≈ 256 bits.
const TOKEN_SECRET_LENGTH: usize = 43;

fn no_buyer(buyer: &BuyerRef) -> Refusal {
    Refusal::NotFound(format!("unknown buyer {buyer}"))
}

/// Someone changing things: the store and who they are for the audit.
pub struct Operator<'a> {
    pub store: &'a dyn Store,
    /// An admin token's name, or `cli`.
    pub actor: &'a str,
}

impl Operator<'_> {
    /// Records the attempt; a failure to record is logged, not returned:
    /// the change itself has already happened (or not).
    pub(super) async fn audit<T>(&self, action: &str, target: &str, result: &Result<T, Refusal>) {
        let entry = AuditEntry {
            at: unix_now(),
            actor: self.actor.to_owned(),
            action: action.to_owned(),
            target: target.to_owned(),
            result: match result {
                Ok(_) => "ok".to_owned(),
                Err(refusal) => format!("refused: {refusal}"),
            },
        };
        if let Err(error) = self.store.record_audit(entry).await {
            tracing::error!(%error, action, target, "could not record an audit entry");
        }
    }

    pub async fn merchants(&self) -> Result<Vec<MerchantSummary>, Refusal> {
        Ok(self.store.merchant_summaries().await?)
    }

    pub async fn merchant(&self, id: &MerchantId) -> Result<MerchantSummary, Refusal> {
        self.store
            .merchant_summaries()
            .await?
            .into_iter()
            .find(|m| m.id == id.as_str())
            .ok_or_else(|| {
                Refusal::NotFound(AdminError::UnknownMerchant(id.to_string()).to_string())
            })
    }

    pub async fn add_merchant(&self, id: &MerchantId, key: &VerifyingKey) -> Result<(), Refusal> {
        let result = self
            .store
            .add_merchant(id, stored(key))
            .await
            .map_err(Refusal::from);
        let target = format!("{id} key {}", key.key_id());
        self.audit("merchant.add", &target, &result).await;
        result
    }

    pub async fn add_key(&self, id: &MerchantId, key: &VerifyingKey) -> Result<String, Refusal> {
        let result = self
            .store
            .add_key(id, stored(key))
            .await
            .map(|()| key.key_id())
            .map_err(Refusal::from);
        let target = format!("{id} key {}", key.key_id());
        self.audit("merchant.key.add", &target, &result).await;
        result
    }

    /// `keep_one`: refuse to remove the merchant's last key (the admin
    /// API); the CLI keeps its documented behaviour and allows it.
    pub async fn remove_key(
        &self,
        id: &MerchantId,
        key_id: &str,
        keep_one: bool,
    ) -> Result<(), Refusal> {
        let result = if keep_one {
            self.store.remove_key_keeping_one(id, key_id).await
        } else {
            self.store.remove_key(id, key_id).await
        }
        .map_err(Refusal::from);
        self.audit(
            "merchant.key.remove",
            &format!("{id} key {key_id}"),
            &result,
        )
        .await;
        result
    }

    pub async fn disable(
        &self,
        id: &MerchantId,
        end_sessions: bool,
    ) -> Result<EndedSessions, Refusal> {
        let result = self
            .store
            .disable_merchant(id, end_sessions, unix_now())
            .await
            .map_err(Refusal::from);
        let action = if end_sessions {
            "merchant.disable.end_sessions"
        } else {
            "merchant.disable"
        };
        let target = match &result {
            Ok(ended) if end_sessions => format!(
                "{id} ({} sessions ended, {} codes voided)",
                ended.sessions, ended.codes
            ),
            _ => id.to_string(),
        };
        self.audit(action, &target, &result).await;
        result
    }

    pub async fn enable(&self, id: &MerchantId) -> Result<(), Refusal> {
        let result = self
            .store
            .set_status(id, MerchantStatus::Active)
            .await
            .map_err(Refusal::from);
        self.audit("merchant.enable", id.as_str(), &result).await;
        result
    }

    /// Reads only, but a read of personal data is recorded too.
    pub async fn buyer(
        &self,
        buyer: &BuyerRef,
        idle_secs: i64,
    ) -> Result<payfac_store::BuyerDetails, Refusal> {
        let result = self.details(buyer, idle_secs).await;
        self.audit("buyer.show", &buyer.to_string(), &result).await;
        result
    }

    async fn details(
        &self,
        buyer: &BuyerRef,
        idle_secs: i64,
    ) -> Result<payfac_store::BuyerDetails, Refusal> {
        self.store
            .buyer_details(buyer, unix_now(), idle_secs)
            .await?
            .ok_or_else(|| no_buyer(buyer))
    }

    /// Records a request refused before it reached an action (bad JSON,
    /// media type, path or field): the attempt is on record too.
    pub async fn refused(&self, action: &str, target: &str, why: &str) {
        let result: Result<(), Refusal> = Err(Refusal::Invalid(why.to_owned()));
        self.audit(action, target, &result).await;
    }

    /// Reads only, but an export of personal data is recorded too.
    pub async fn export(&self, buyer: &BuyerRef, idle_secs: i64) -> Result<BuyerExport, Refusal> {
        let result = self
            .store
            .export_buyer(buyer, unix_now(), idle_secs)
            .await
            .map_err(Refusal::from)
            .and_then(|found| found.ok_or_else(|| no_buyer(buyer)));
        self.audit("buyer.export", &buyer.to_string(), &result)
            .await;
        result
    }

    /// `(userId, sessions ended)`.
    pub async fn revoke_sessions(&self, buyer: &BuyerRef) -> Result<(i64, u64), Refusal> {
        let result = async {
            // The userId for the answer; the revocation itself is one
            // statement keyed the way the caller named the buyer.
            let details = self.details(buyer, 1).await?;
            let ended = self
                .store
                .revoke_buyer_sessions(buyer)
                .await?
                .ok_or_else(|| no_buyer(buyer))?;
            Ok((details.buyer.user_id, ended))
        }
        .await;
        self.audit("buyer.sessions.revoke", &buyer.to_string(), &result)
            .await;
        result
    }

    pub async fn erase(&self, buyer: &BuyerRef) -> Result<Erased, Refusal> {
        let result = self
            .store
            .erase_buyer(buyer, unix_now())
            .await
            .map_err(Refusal::from)
            .and_then(|found| found.ok_or_else(|| no_buyer(buyer)));
        // Named by userId too: after erasure nothing else links the two.
        let target = match &result {
            Ok(erased) if matches!(buyer, BuyerRef::Merchant { .. }) => {
                format!("{buyer} (userId {})", erased.user_id)
            }
            _ => buyer.to_string(),
        };
        self.audit("buyer.erase", &target, &result).await;
        result
    }

    /// Creates a token that never expires and returns it: the only time it
    /// is ever shown.
    pub async fn create_token(&self, name: &str) -> Result<String, Refusal> {
        self.create_expiring_token(name, None).await
    }

    /// Creates a token refused `expires_in` seconds from now (`None`:
    /// never) and returns it: the only time it is ever shown.
    pub async fn create_expiring_token(
        &self,
        name: &str,
        expires_in: Option<i64>,
    ) -> Result<String, Refusal> {
        let result = async {
            if expires_in.is_some_and(|secs| secs <= 0) {
                return Err(Refusal::Invalid("--expires-in must be positive".into()));
            }
            if !valid_token_name(name) {
                return Err(Refusal::Invalid(
                    "token name must be 1-64 of A-Z a-z 0-9 _ . -".into(),
                ));
            }
            let token = format!("{TOKEN_PREFIX}{}", random_alphanumeric(TOKEN_SECRET_LENGTH));
            if self
                .store
                .create_admin_token(
                    name,
                    SecretHash::of(&token),
                    unix_now(),
                    expires_in.map(|secs| unix_now() + secs),
                )
                .await?
            {
                Ok(token)
            } else {
                Err(Refusal::Conflict(format!(
                    "admin token {name} already exists"
                )))
            }
        }
        .await;
        self.audit("admin_token.create", name, &result).await;
        result
    }

    pub async fn revoke_token(&self, name: &str) -> Result<(), Refusal> {
        let result = match self.store.revoke_admin_token(name).await {
            Ok(true) => Ok(()),
            Ok(false) => Err(Refusal::NotFound(format!("unknown admin token {name}"))),
            Err(error) => Err(error.into()),
        };
        self.audit("admin_token.revoke", name, &result).await;
        result
    }
}
