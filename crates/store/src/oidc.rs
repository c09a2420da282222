//! What the OpenID Provider (issue 30) keeps: its registered clients,
//! authorization codes and access tokens, and its RS256 signing keys.
//!
//! A supertrait of `Store`, like [`crate::OperatorStore`], implemented by
//! each backend in its own `oidc.rs`. Codes and tokens are stored hashed
//! and hang off the buyer's session (`ON DELETE CASCADE`): ending a
//! session (logout, revocation, erasure, expiry purge) ends every code
//! and token issued under it, and removing a client removes its codes
//! and tokens.

use async_trait::async_trait;
use payfac_domain::{Buyer, SecretHash};

use crate::{IdentityKeyRecord, SessionKey, StoreError};

/// The longest an access token may live, seconds: a used code is kept
/// this long past its expiry, so a second use can still revoke the tokens
/// of the first.
pub const ACCESS_TOKEN_MAX_SECS: i64 = 600;

/// A registered relying party as stored. `Debug` never shows the hash.
#[derive(Clone, PartialEq, Eq)]
pub struct OidcClient {
    pub client_id: String,
    pub name: String,
    /// SHA-256 of the client secret; `None` for a public client.
    pub secret_hash: Option<SecretHash>,
    /// Exact-match redirect URIs, at least one.
    pub redirect_uris: Vec<String>,
    pub post_logout_redirect_uris: Vec<String>,
    /// `RS256` or `EdDSA`.
    pub id_token_alg: String,
    pub created_at: i64,
}

impl OidcClient {
    pub fn is_public(&self) -> bool {
        self.secret_hash.is_none()
    }
}

impl std::fmt::Debug for OidcClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OidcClient")
            .field("client_id", &self.client_id)
            .field("name", &self.name)
            .field("public", &self.is_public())
            .field("redirect_uris", &self.redirect_uris)
            .field("post_logout_redirect_uris", &self.post_logout_redirect_uris)
            .field("id_token_alg", &self.id_token_alg)
            .field("created_at", &self.created_at)
            .finish()
    }
}

/// A live session as the authorization endpoint needs it.
#[derive(Debug, Clone)]
pub struct OidcSession {
    pub buyer: Buyer,
    /// When the buyer signed in (the session's creation): `auth_time`.
    pub auth_time: i64,
}

/// An authorization code to store, bound to everything the token
/// endpoint checks.
#[derive(Debug, Clone)]
pub struct NewOidcCode {
    pub code_hash: SecretHash,
    pub client_id: String,
    pub session: SessionKey,
    pub redirect_uri: String,
    /// The S256 `code_challenge`; `None` when the client sent none.
    pub code_challenge: Option<String>,
    pub nonce: Option<String>,
    pub scope: String,
    pub auth_time: i64,
    pub expires_at: i64,
}

/// A token request presenting a code.
#[derive(Debug, Clone)]
pub struct OidcCodeRedemption {
    pub code_hash: SecretHash,
    /// The authenticated (or, for public clients, named) client.
    pub client_id: String,
    pub redirect_uri: String,
    /// BASE64URL(SHA-256(code_verifier)) of the presented verifier.
    pub verifier_challenge: Option<String>,
    pub now: i64,
    /// The access token issued when the code is good.
    pub access_token_hash: SecretHash,
    pub access_expires_at: i64,
}

/// What a good code grants.
#[derive(Debug, Clone)]
pub struct OidcGrant {
    pub buyer: Buyer,
    pub scope: String,
    pub nonce: Option<String>,
    pub auth_time: i64,
}

/// Why a code was refused: every one is `invalid_grant` to the client,
/// the reason is for metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OidcCodeRefusal {
    /// No such code (or its session or client is gone).
    Unknown,
    /// Used before: the tokens the first use issued are revoked now.
    Reused,
    Expired,
    /// Another client, another redirect URI, or a wrong or missing PKCE
    /// verifier. The code is spent.
    Mismatch,
}

impl OidcCodeRefusal {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Unknown => "unknown",
            Self::Reused => "reused",
            Self::Expired => "expired",
            Self::Mismatch => "mismatch",
        }
    }
}

/// Whether a stored code's binding holds for a redemption; the PKCE
/// comparison is constant-time. A verifier presented for a code issued
/// without a challenge is refused too (RFC 9700 §4.8.2, PKCE downgrade).
pub fn oidc_binding_holds(
    stored_client: &str,
    stored_redirect: &str,
    stored_challenge: Option<&str>,
    redemption: &OidcCodeRedemption,
) -> bool {
    let pkce = match (stored_challenge, redemption.verifier_challenge.as_deref()) {
        (None, None) => true,
        (Some(stored), Some(presented)) => aws_lc_rs::constant_time::verify_slices_are_equal(
            stored.as_bytes(),
            presented.as_bytes(),
        )
        .is_ok(),
        _ => false,
    };
    pkce && stored_client == redemption.client_id && stored_redirect == redemption.redirect_uri
}

/// How a backend stores a list of URIs in one column: one per line (a
/// registered URI never holds whitespace).
pub(crate) fn join_uris(uris: &[String]) -> String {
    uris.join("\n")
}

pub(crate) fn split_uris(text: &str) -> Vec<String> {
    text.lines()
        .filter(|line| !line.is_empty())
        .map(str::to_owned)
        .collect()
}

#[async_trait]
pub trait OidcStore: Send + Sync + 'static {
    /// `false` when the client id is taken.
    async fn add_oidc_client(&self, client: OidcClient) -> Result<bool, StoreError>;

    /// Every client, by creation then id.
    async fn oidc_clients(&self) -> Result<Vec<OidcClient>, StoreError>;

    async fn oidc_client(&self, client_id: &str) -> Result<Option<OidcClient>, StoreError>;

    /// Removes the client with its codes and tokens; `false` when unknown.
    async fn remove_oidc_client(&self, client_id: &str) -> Result<bool, StoreError>;

    /// The buyer and sign-in time of a live, confirmed session.
    async fn oidc_session(
        &self,
        session: SessionKey,
        now: i64,
        idle_secs: i64,
    ) -> Result<Option<OidcSession>, StoreError>;

    async fn add_oidc_code(&self, code: NewOidcCode) -> Result<(), StoreError>;

    /// In one transaction: a used code revokes the tokens its first use
    /// issued (`Reused`); otherwise the code is spent, and when it is
    /// unexpired, its session live and its binding holds, the access token
    /// is stored and the grant answered.
    async fn redeem_oidc_code(
        &self,
        redemption: OidcCodeRedemption,
    ) -> Result<Result<OidcGrant, OidcCodeRefusal>, StoreError>;

    /// The grant of a live access token whose session is live.
    async fn oidc_access(
        &self,
        token_hash: SecretHash,
        now: i64,
    ) -> Result<Option<OidcGrant>, StoreError>;

    /// The RS256 signing keys (PKCS#8 DER), oldest first; the same
    /// publish-then-sign rules as the identity keys.
    async fn oidc_keys(&self) -> Result<Vec<IdentityKeyRecord>, StoreError>;

    /// As `add_identity_key`, for the RS256 keys.
    async fn add_oidc_key(
        &self,
        key: IdentityKeyRecord,
        only_if_none: bool,
    ) -> Result<bool, StoreError>;

    /// As `remove_identity_keys_before`, for the RS256 keys.
    async fn remove_oidc_keys_before(&self, created_before: i64) -> Result<u64, StoreError>;
}
