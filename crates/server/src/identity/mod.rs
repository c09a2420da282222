//! The identity hand-off: how payfac tells the platform's apps who the
//! signed-in buyer is, in a form they can trust without trusting the
//! browser.
//!
//! Kept apart from the proxy so that every way payfac hands a buyer over
//! (the gateway, and forward auth for nginx `auth_request` / Caddy
//! `forward_auth`) sends exactly the same headers, the same JWT and
//! the same JWKS:
//! - `keys`: the Ed25519 signing keys shared through storage, rotation,
//!   and the published JWK Set;
//! - `token`: the `X-Payfac-Identity` JWT;
//! - `headers`: the `X-Payfac-*` header set, and stripping what a client
//!   sent under that prefix.

mod cache;
mod headers;
mod keys;
mod token;

use std::sync::Arc;

use axum::http::HeaderMap;
use payfac_domain::Buyer;
use payfac_store::{SessionKey, Store};

pub use cache::HandoffCache;

pub use headers::{IDENTITY as IDENTITY_HEADER, ISSUED as ISSUED_HEADERS, header_text};
pub use keys::{
    JWKS_PATH, KeyKind, KeyRing, jwks, new_key, published, revoke, rotate, rotate_kind,
    signer_index,
};
pub use token::{ALGORITHM, IdentityClaims};

/// Who signs, for whom, and for how long: the JWT settings.
#[derive(Debug, Clone)]
pub struct TokenSettings {
    /// `iss` of every token.
    pub issuer: String,
    /// `aud` of every token: the upstream apps check it.
    pub audience: String,
    /// `exp - iat`, seconds; at most 300.
    pub ttl_secs: i64,
}

/// Everything a handler needs to hand a buyer to an app; cheap to clone.
#[derive(Clone)]
pub struct Handoff {
    pub keys: KeyRing,
    pub settings: Arc<TokenSettings>,
    pub cache: Arc<HandoffCache>,
}

impl Handoff {
    /// Removes every `X-Payfac-*` header the client sent and adds the
    /// identity headers of the session `key` names, when it is live.
    /// Storage is asked at most once a second per session (see `cache`);
    /// a storage failure counts as signed out, as on the pages.
    pub async fn apply_session(
        &self,
        headers: &mut HeaderMap,
        key: Option<SessionKey>,
        store: &dyn Store,
        idle_secs: i64,
        now: i64,
    ) {
        crate::boundary::headers::strip_payfacs(headers);
        let Some(key) = key else {
            return;
        };
        let entry = match self.cache.fresh(key.id.0, &key.secret_hash, now) {
            Some(entry) => entry,
            None => {
                let buyer = match store.session_buyer(key, now, idle_secs).await {
                    Ok(buyer) => buyer,
                    Err(error) => {
                        tracing::error!(%error, "session lookup failed");
                        return;
                    }
                };
                let identity = buyer.map(|buyer| {
                    let mut identity = HeaderMap::new();
                    self.apply(&mut identity, Some(&buyer), now);
                    identity
                });
                self.cache
                    .remember(key.id.0, key.secret_hash, now, identity)
            }
        };
        if let Some(identity) = &entry.headers {
            for (name, value) in identity {
                headers.insert(name, value.clone());
            }
        }
    }

    /// Removes every `X-Payfac-*` header the client sent and, for a
    /// signed-in buyer, adds the identity headers and a fresh token.
    pub fn apply(&self, headers: &mut HeaderMap, buyer: Option<&Buyer>, now: i64) {
        crate::boundary::headers::strip_payfacs(headers);
        if let Some(buyer) = buyer {
            let claims = IdentityClaims::new(buyer, &self.settings, now);
            let token = self.keys.sign(&claims, now);
            headers::add_identity(headers, buyer, &token);
        }
    }
}
