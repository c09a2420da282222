//! The OpenID Provider's issuer and ID-token keys: what every instance
//! needs at startup and every request may read (the JWK Set publishes the
//! keys), so it sits with the other signing keys; the endpoints are
//! `crate::oidc`'s.

use std::sync::Arc;

use payfac_store::{Store, StoreError};

use super::{KeyKind, KeyRing};
use crate::Config;

/// An ID token lives this long, seconds.
pub const ID_TOKEN_TTL_SECS: i64 = 300;

/// The running provider: its issuer and RS256 keys (the EdDSA keys are
/// the identity hand-off's).
pub struct Provider {
    /// `--public-url` without a trailing `/`.
    pub issuer: String,
    pub keys: KeyRing,
}

impl Provider {
    /// The provider `config` asks for: `None` without `--public-url`.
    /// Loads (on a new database, creates) the RS256 keys and keeps them
    /// fresh like the identity keys.
    pub async fn start(
        config: &Config,
        store: &Arc<dyn Store>,
    ) -> Result<Option<Self>, StoreError> {
        let Some(url) = &config.public_url else {
            return Ok(None);
        };
        let keys = KeyRing::load_kind(
            store.as_ref(),
            KeyKind::Oidc,
            config.identity_key_lead,
            ID_TOKEN_TTL_SECS,
        )
        .await?;
        keys.spawn_refresher(store.clone(), config.identity_key_refresh);
        Ok(Some(Self {
            issuer: issuer_of(url),
            keys,
        }))
    }

    pub fn endpoint(&self, path: &str) -> String {
        format!("{}{path}", self.issuer)
    }
}

/// The issuer a `--public-url` names: the URL without trailing `/`.
pub fn issuer_of(url: &str) -> String {
    url.trim_end_matches('/').to_owned()
}
