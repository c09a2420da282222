//! Values passed to and returned by the store.

use payfac_domain::{
    Buyer, BuyerProfile, CodeId, IdPermutation, MerchantId, MerchantStatus, Nonce, SecretHash,
    SessionId, SessionToken,
};

/// One verified merchant request, ready to persist.
#[derive(Debug, Clone)]
pub struct SyncRequest {
    pub merchant: MerchantId,
    pub nonce: Nonce,
    /// The request's signed `timestamp` header. Storage keeps the nonce
    /// until `signed_at + NONCE_RETENTION_SECS`, whatever the window.
    pub signed_at: i64,
    /// The deciding instance's timestamp window: a recorded nonce whose
    /// `signed_at` is at least `now - window` is live. The same clock and
    /// window accepted this request's timestamp, so a replay of a recorded
    /// request is always judged live.
    pub window: i64,
    pub profile: BuyerProfile,
    /// Candidate id if the buyer is new; ignored for a known buyer.
    pub new_user_id: i64,
    pub code_hash: SecretHash,
    pub code_expires_at: i64,
    pub now: i64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SyncOutcome {
    Issued { user_id: i64, code_id: CodeId },
    NonceReused,
}

/// A new browser session, created by a successful redemption. Storage
/// assigns its id.
#[derive(Debug, Clone)]
pub struct NewSession {
    pub secret_hash: SecretHash,
    pub expires_at: i64,
    /// Waits for the buyer's consent: never accepted as a session until
    /// `Store::confirm_session` makes it one.
    pub pending: bool,
}

/// A session as a browser presents it: the row id and the hash of the
/// secret, both of which must match.
#[derive(Debug, Clone, Copy)]
pub struct SessionKey {
    pub id: SessionId,
    pub secret_hash: SecretHash,
}

impl SessionKey {
    /// The key of a presented token; `None` when its id names no row.
    pub fn of(token: &SessionToken, ids: &IdPermutation) -> Option<Self> {
        Some(Self {
            id: token.id(ids)?,
            secret_hash: token.secret_hash(),
        })
    }
}

#[derive(Debug, Clone)]
pub struct Redemption {
    pub code_id: CodeId,
    pub code_hash: SecretHash,
    pub now: i64,
    pub session: NewSession,
    /// The browser's previous session, ended when the code is good.
    pub replaces: Option<SessionKey>,
}

#[derive(Debug, Clone)]
pub enum RedeemOutcome {
    SignedIn { buyer: Buyer, session: SessionId },
    Rejected(RejectReason),
}

/// Why a code signed nobody in (for metrics; the browser is told nothing).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RejectReason {
    Unknown,
    Used,
    Expired,
}

impl RejectReason {
    /// Every reason, for the metrics registered at zero; a new variant
    /// belongs here too.
    pub const ALL: [Self; 3] = [Self::Unknown, Self::Used, Self::Expired];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Unknown => "unknown",
            Self::Used => "used",
            Self::Expired => "expired",
        }
    }
}

/// A merchant public key as stored: canonical SPKI DER and its id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredKey {
    pub key_id: String,
    pub spki_der: Vec<u8>,
}

#[derive(Debug, Clone)]
pub struct MerchantRecord {
    pub id: String,
    pub status: MerchantStatus,
    pub keys: Vec<StoredKey>,
}

/// Rows removed by one purge pass. `codes_unused` counts codes that
/// expired without ever being redeemed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PurgeCounts {
    pub nonces: u64,
    pub codes: u64,
    pub codes_unused: u64,
    pub sessions: u64,
}

/// A key payfac signs buyer identities with (Ed25519, PKCS#8 v2 DER).
/// `Debug` never shows the private key.
#[derive(Clone, PartialEq, Eq)]
pub struct IdentityKeyRecord {
    pub kid: String,
    pub private_pkcs8: Vec<u8>,
    pub created_at: i64,
}

impl std::fmt::Debug for IdentityKeyRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IdentityKeyRecord")
            .field("kid", &self.kid)
            .field("private_pkcs8", &"<redacted>")
            .field("created_at", &self.created_at)
            .finish()
    }
}
