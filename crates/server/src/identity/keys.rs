//! The identity-signing keys: created on first start, kept in storage so
//! every instance on one database signs with a key that every instance's
//! JWKS publishes, and reloaded every second so a rotation reaches all of
//! them.
//!
//! Rotation is "publish, then sign": a new key is published at once but
//! signs only `lead` after its creation, by which time every instance and
//! every JWKS cache (`max-age` below `lead`) knows it. The key it replaces
//! stays published until the last token it signed has expired, plus a
//! margin for clocks.

use std::sync::{Arc, RwLock};
use std::time::Duration;

use aws_lc_rs::digest;
use aws_lc_rs::signature::{Ed25519KeyPair, KeyPair};
use axum::Json;
use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use payfac_store::{IdentityKeyRecord, Store, StoreError, unix_now};

use super::token::{self, ALGORITHM, IdentityClaims};

/// How long verifiers and HTTP caches may keep the JWK Set, seconds. It
/// must stay below the activation lead.
const JWKS_MAX_AGE_SECS: i64 = 30;

/// Clock differences between instances and verifiers, and the refresh
/// delay, allowed for when a replaced key stops being published.
const CLOCK_MARGIN_SECS: i64 = 60;

/// One usable key: its id, creation time, key pair and public JWK.
struct LoadedKey {
    kid: String,
    created_at: i64,
    pair: Ed25519KeyPair,
    encoded_header: String,
    jwk: serde_json::Value,
}

/// The keys of storage, oldest first, with the timing rules.
struct Keys {
    loaded: Vec<LoadedKey>,
    lead_secs: i64,
    ttl_secs: i64,
}

/// Every instance's view of the signing keys; cheap to clone.
#[derive(Clone)]
pub struct KeyRing {
    keys: Arc<RwLock<Arc<Keys>>>,
}

impl KeyRing {
    /// Loads the keys, creating the first one if storage has none (of
    /// instances starting together, one creation wins and all use it).
    pub async fn load(
        store: &dyn Store,
        lead: Duration,
        ttl_secs: i64,
    ) -> Result<Self, StoreError> {
        let mut records = store.identity_keys().await?;
        if records.is_empty() {
            store.add_identity_key(new_key(unix_now()), true).await?;
            records = store.identity_keys().await?;
        }
        let keys = Keys::from_records(&records, lead.as_secs() as i64, ttl_secs)?;
        Ok(Self {
            keys: Arc::new(RwLock::new(Arc::new(keys))),
        })
    }

    /// Reloads the keys every `interval`; a failed reload keeps the keys
    /// already loaded (and is logged without any key material).
    pub fn spawn_refresher(&self, store: Arc<dyn Store>, interval: Duration) {
        let ring = self.clone();
        tokio::spawn(async move {
            let mut ticker = tokio::time::interval(interval);
            ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                ticker.tick().await;
                if let Err(error) = ring.reload(store.as_ref()).await {
                    tracing::warn!(%error, "reloading the identity keys failed");
                }
            }
        });
    }

    async fn reload(&self, store: &dyn Store) -> Result<(), StoreError> {
        let records = store.identity_keys().await?;
        let current = self.snapshot();
        let unchanged = records.len() == current.loaded.len()
            && records
                .iter()
                .zip(&current.loaded)
                .all(|(record, loaded)| record.kid == loaded.kid);
        if !unchanged && !records.is_empty() {
            let keys = Keys::from_records(&records, current.lead_secs, current.ttl_secs)?;
            *self.keys.write().expect("key ring lock") = Arc::new(keys);
            tracing::info!(keys = records.len(), "identity keys reloaded");
        }
        Ok(())
    }

    fn snapshot(&self) -> Arc<Keys> {
        self.keys.read().expect("key ring lock").clone()
    }

    /// The compact JWS of `claims`, signed with the key that signs at `now`.
    pub fn sign(&self, claims: &IdentityClaims<'_>, now: i64) -> String {
        let keys = self.snapshot();
        let key = &keys.loaded[keys.signer(now)];
        token::compact(&key.encoded_header, claims, |bytes| {
            key.pair.sign(bytes).as_ref().to_vec()
        })
    }

    /// The kid that signs at `now`.
    pub fn signing_kid(&self, now: i64) -> String {
        let keys = self.snapshot();
        keys.loaded[keys.signer(now)].kid.clone()
    }

    /// The JWK Set published at `now`.
    pub fn jwk_set(&self, now: i64) -> serde_json::Value {
        let keys = self.snapshot();
        let times = keys.times();
        let published: Vec<&serde_json::Value> =
            published(&times, now, keys.lead_secs, keys.ttl_secs)
                .into_iter()
                .map(|index| &keys.loaded[index].jwk)
                .collect();
        serde_json::json!({ "keys": published })
    }
}

impl Keys {
    fn from_records(
        records: &[IdentityKeyRecord],
        lead_secs: i64,
        ttl_secs: i64,
    ) -> Result<Self, StoreError> {
        let loaded = records
            .iter()
            .map(|record| {
                // The error says which key, never what is in it.
                let pair = Ed25519KeyPair::from_pkcs8(&record.private_pkcs8).map_err(|_| {
                    StoreError::Config(format!("identity key {} is not usable", record.kid))
                })?;
                Ok(LoadedKey {
                    encoded_header: token::encoded_header(&record.kid),
                    jwk: public_jwk(&record.kid, pair.public_key().as_ref()),
                    kid: record.kid.clone(),
                    created_at: record.created_at,
                    pair,
                })
            })
            .collect::<Result<Vec<_>, StoreError>>()?;
        Ok(Self {
            loaded,
            lead_secs,
            ttl_secs,
        })
    }

    fn times(&self) -> Vec<i64> {
        self.loaded.iter().map(|key| key.created_at).collect()
    }

    fn signer(&self, now: i64) -> usize {
        signer_index(&self.times(), now, self.lead_secs)
    }
}

/// Of keys created at `created` (oldest first, at least one), the one that
/// signs at `now`: the newest one created at least `lead` ago, or the
/// oldest when none is that old (a new database's first key signs at once).
pub fn signer_index(created: &[i64], now: i64, lead: i64) -> usize {
    created
        .iter()
        .rposition(|&at| at + lead <= now)
        .unwrap_or(0)
}

/// The keys published at `now`: the signer, the newer keys waiting for
/// their lead, and each older key until its successor has signed for
/// longer than a token lives (plus the clock margin).
pub fn published(created: &[i64], now: i64, lead: i64, ttl: i64) -> Vec<usize> {
    let signer = signer_index(created, now, lead);
    (0..created.len())
        .filter(|&index| {
            index >= signer
                || created
                    .get(index + 1)
                    .is_some_and(|&next| next + lead + ttl + CLOCK_MARGIN_SECS > now)
        })
        .collect()
}

/// Keys replaced longer ago than this are deleted by a rotation: far
/// beyond any activation lead plus token lifetime.
const KEEP_REPLACED_SECS: i64 = 24 * 60 * 60;

/// `payfac identity-key rotate`: stores a new key (published by every
/// instance at its next reload, signing after the lead) and deletes keys
/// replaced more than a day ago. Answers the new kid.
pub async fn rotate(store: &dyn Store, now: i64) -> Result<String, StoreError> {
    // Keys are ordered by creation second: a rotation in the same second
    // as the newest key is dated one second later, so it sorts after it.
    let newest = store
        .identity_keys()
        .await?
        .last()
        .map(|key| key.created_at);
    let key = new_key(newest.map_or(now, |newest| now.max(newest + 1)));
    let kid = key.kid.clone();
    store.add_identity_key(key, false).await?;
    let records = store.identity_keys().await?;
    let replaced_long_ago = records
        .windows(2)
        .map(|pair| pair[1].created_at)
        .filter(|&successor| successor + KEEP_REPLACED_SECS < now)
        .max();
    if let Some(created_before) = replaced_long_ago {
        store.remove_identity_keys_before(created_before).await?;
    }
    Ok(kid)
}

/// `payfac identity-key revoke KID`: deletes the key at once (a leaked
/// key). Every instance stops publishing and signing with it at its next
/// reload (within a second), and tokens it signed stop verifying once a
/// verifier refetches the JWK Set (`max-age` 30 s). When it was the last
/// key, a new one replaces it in the same step and signs at once (a lone
/// key needs no lead); otherwise the newest remaining key that is past its
/// lead signs, as after a rotation. Answers `None` for an unknown kid, else
/// the replacement's kid if one was made.
pub async fn revoke(
    store: &dyn Store,
    kid: &str,
    now: i64,
) -> Result<Option<Option<String>>, StoreError> {
    let replacement = new_key(now);
    let replacement_kid = replacement.kid.clone();
    if !store.revoke_identity_key(kid, replacement).await? {
        return Ok(None);
    }
    let remaining = store.identity_keys().await?;
    Ok(Some(
        remaining
            .iter()
            .any(|key| key.kid == replacement_kid)
            .then_some(replacement_kid),
    ))
}

/// A fresh Ed25519 key; its kid is its RFC 7638 JWK thumbprint.
pub fn new_key(now: i64) -> IdentityKeyRecord {
    let rng = aws_lc_rs::rand::SystemRandom::new();
    let pkcs8 = Ed25519KeyPair::generate_pkcs8(&rng).expect("the OS random source is available");
    let pair = Ed25519KeyPair::from_pkcs8(pkcs8.as_ref()).expect("a key just generated parses");
    IdentityKeyRecord {
        kid: thumbprint(pair.public_key().as_ref()),
        private_pkcs8: pkcs8.as_ref().to_vec(),
        created_at: now,
    }
}

/// RFC 7638: SHA-256 of the required members in lexicographic order.
fn thumbprint(public: &[u8]) -> String {
    let canonical = format!(
        r#"{{"crv":"Ed25519","kty":"OKP","x":"{}"}}"#,
        URL_SAFE_NO_PAD.encode(public)
    );
    URL_SAFE_NO_PAD.encode(digest::digest(&digest::SHA256, canonical.as_bytes()))
}

fn public_jwk(kid: &str, public: &[u8]) -> serde_json::Value {
    serde_json::json!({
        "kty": "OKP",
        "crv": "Ed25519",
        "x": URL_SAFE_NO_PAD.encode(public),
        "kid": kid,
        "alg": ALGORITHM,
        "use": "sig",
    })
}

/// `GET /.well-known/jwks.json`: the public keys apps verify
/// `X-Payfac-Identity` with.
pub async fn jwks(State(keys): State<KeyRing>) -> impl IntoResponse {
    (
        [(
            header::CACHE_CONTROL,
            format!("public, max-age={JWKS_MAX_AGE_SECS}"),
        )],
        Json(keys.jwk_set(unix_now())),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_new_key_signs_only_after_its_lead() {
        // Keys created at 0 (first start) and 1000 (rotation), lead 60.
        let created = [0, 1000];
        assert_eq!(signer_index(&created, 5, 60), 0);
        assert_eq!(signer_index(&created, 1059, 60), 0);
        assert_eq!(signer_index(&created, 1060, 60), 1);
        // A first key signs at once, even inside its lead.
        assert_eq!(signer_index(&[100], 100, 60), 0);
        assert_eq!(signer_index(&[100, 101], 102, 60), 0);
    }

    #[test]
    fn a_replaced_key_is_published_until_its_last_token_expired() {
        let created = [0, 1000];
        let (lead, ttl) = (60, 60);
        // Before the rotation's lead: both published (the new one in advance).
        assert_eq!(published(&created, 1001, lead, ttl), [0, 1]);
        // The new key signs from 1060; tokens of the old one live until
        // 1120, and the clock margin keeps it until 1180.
        assert_eq!(published(&created, 1179, lead, ttl), [0, 1]);
        assert_eq!(published(&created, 1180, lead, ttl), [1]);
        // A key waiting for its lead is published before it signs.
        assert_eq!(published(&[0, 1000, 2000], 2001, lead, ttl), [1, 2]);
    }

    /// RFC 8037 A.3: the thumbprint of the RFC's Ed25519 example key.
    #[test]
    fn thumbprint_matches_rfc_8037() {
        let x = URL_SAFE_NO_PAD
            .decode("11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo")
            .unwrap();
        assert_eq!(
            thumbprint(&x),
            "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k"
        );
    }

    #[test]
    fn kids_are_thumbprints_and_keys_round_trip() {
        let record = new_key(7);
        let pair = Ed25519KeyPair::from_pkcs8(&record.private_pkcs8).unwrap();
        assert_eq!(record.kid, thumbprint(pair.public_key().as_ref()));
        assert_eq!(record.kid.len(), 43);
        assert!(!format!("{record:?}").contains(&format!("{:?}", record.private_pkcs8)));
    }
}
