//! The identity-signing keys: created on first start, kept in storage so
//! every instance on one database signs with a key that every instance's
//! JWKS publishes, and reloaded every second so a rotation reaches all of
//! them.
//!
//! Two kinds of key live in two tables with the same rules ([`KeyKind`]):
//! the Ed25519 keys of `X-Payfac-Identity` (and of EdDSA ID tokens), and
//! the OpenID Provider's RS256 keys, which every relying party accepts.
//!
//! Rotation is "publish, then sign": a new key is published at once but
//! signs only `lead` after its creation, by which time every instance and
//! every JWKS cache (`max-age` below `lead`) knows it. The key it replaces
//! stays published until the last token it signed has expired, plus a
//! margin for clocks.

use std::sync::{Arc, RwLock};
use std::time::Duration;

use aws_lc_rs::digest;
use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::rsa::KeySize;
use aws_lc_rs::signature::{
    ED25519, Ed25519KeyPair, KeyPair, RSA_PKCS1_2048_8192_SHA256, RSA_PKCS1_SHA256, RsaKeyPair,
    UnparsedPublicKey,
};
use axum::Json;
use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use payfac_store::{IdentityKeyRecord, Store, StoreError, unix_now};

use super::token::{self, ALGORITHM};
use crate::AppState;

pub const JWKS_PATH: &str = "/.well-known/jwks.json";

/// How long verifiers and HTTP caches may keep the JWK Set, seconds. It
/// must stay below the activation lead.
const JWKS_MAX_AGE_SECS: i64 = 30;

/// Clock differences between instances and verifiers, and the refresh
/// delay, allowed for when a replaced key stops being published.
const CLOCK_MARGIN_SECS: i64 = 60;

/// Which signing keys a ring holds; each kind has its own table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyKind {
    /// Ed25519 (`EdDSA`): `X-Payfac-Identity`, and ID tokens of clients
    /// registered with `--id-token-alg EdDSA`.
    Identity,
    /// RSA 2048 with PKCS#1 v1.5 and SHA-256 (`RS256`): ID tokens.
    Oidc,
}

impl KeyKind {
    /// The JWS `alg` of the kind's signatures.
    pub fn alg(self) -> &'static str {
        match self {
            Self::Identity => ALGORITHM,
            Self::Oidc => "RS256",
        }
    }

    async fn records(self, store: &dyn Store) -> Result<Vec<IdentityKeyRecord>, StoreError> {
        match self {
            Self::Identity => store.identity_keys().await,
            Self::Oidc => store.oidc_keys().await,
        }
    }

    async fn add(
        self,
        store: &dyn Store,
        key: IdentityKeyRecord,
        only_if_none: bool,
    ) -> Result<bool, StoreError> {
        match self {
            Self::Identity => store.add_identity_key(key, only_if_none).await,
            Self::Oidc => store.add_oidc_key(key, only_if_none).await,
        }
    }

    async fn remove_before(
        self,
        store: &dyn Store,
        created_before: i64,
    ) -> Result<u64, StoreError> {
        match self {
            Self::Identity => store.remove_identity_keys_before(created_before).await,
            Self::Oidc => store.remove_oidc_keys_before(created_before).await,
        }
    }

    /// A fresh key of this kind; its kid is its RFC 7638 JWK thumbprint.
    pub fn new_key(self, now: i64) -> IdentityKeyRecord {
        match self {
            Self::Identity => new_key(now),
            Self::Oidc => {
                let pair = RsaKeyPair::generate(KeySize::Rsa2048)
                    .expect("the OS random source is available");
                let pkcs8 = pair.as_der().expect("a key just generated encodes");
                IdentityKeyRecord {
                    kid: rsa_thumbprint(&pair),
                    private_pkcs8: pkcs8.as_ref().to_vec(),
                    created_at: now,
                }
            }
        }
    }
}

/// A key pair of either kind.
enum Pair {
    Ed25519(Ed25519KeyPair),
    Rsa(RsaKeyPair),
}

impl Pair {
    fn sign(&self, message: &[u8]) -> Vec<u8> {
        match self {
            Self::Ed25519(pair) => pair.sign(message).as_ref().to_vec(),
            Self::Rsa(pair) => {
                let mut signature = vec![0; pair.public_modulus_len()];
                let rng = aws_lc_rs::rand::SystemRandom::new();
                pair.sign(&RSA_PKCS1_SHA256, &rng, message, &mut signature)
                    .expect("an RSA key that parsed signs");
                signature
            }
        }
    }

    fn verifies(&self, message: &[u8], signature: &[u8]) -> bool {
        match self {
            Self::Ed25519(pair) => UnparsedPublicKey::new(&ED25519, pair.public_key().as_ref())
                .verify(message, signature)
                .is_ok(),
            Self::Rsa(pair) => {
                UnparsedPublicKey::new(&RSA_PKCS1_2048_8192_SHA256, pair.public_key().as_ref())
                    .verify(message, signature)
                    .is_ok()
            }
        }
    }
}

/// One usable key: its id, creation time, key pair and public JWK.
struct LoadedKey {
    kid: String,
    created_at: i64,
    pair: Pair,
    encoded_header: String,
    jwk: serde_json::Value,
}

/// The keys of storage, oldest first, with the timing rules.
struct Keys {
    loaded: Vec<LoadedKey>,
    lead_secs: i64,
    ttl_secs: i64,
}

/// Every instance's view of the signing keys of one kind; cheap to clone.
#[derive(Clone)]
pub struct KeyRing {
    kind: KeyKind,
    keys: Arc<RwLock<Arc<Keys>>>,
}

impl KeyRing {
    /// Loads the identity keys, creating the first one if storage has
    /// none (of instances starting together, one creation wins and all
    /// use it).
    pub async fn load(
        store: &dyn Store,
        lead: Duration,
        ttl_secs: i64,
    ) -> Result<Self, StoreError> {
        Self::load_kind(store, KeyKind::Identity, lead, ttl_secs).await
    }

    /// As [`KeyRing::load`], for the keys of `kind`.
    pub async fn load_kind(
        store: &dyn Store,
        kind: KeyKind,
        lead: Duration,
        ttl_secs: i64,
    ) -> Result<Self, StoreError> {
        let mut records = kind.records(store).await?;
        if records.is_empty() {
            kind.add(store, kind.new_key(unix_now()), true).await?;
            records = kind.records(store).await?;
        }
        let keys = Keys::from_records(kind, &records, lead.as_secs() as i64, ttl_secs)?;
        Ok(Self {
            kind,
            keys: Arc::new(RwLock::new(Arc::new(keys))),
        })
    }

    pub fn kind(&self) -> KeyKind {
        self.kind
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
                    tracing::warn!(%error, kind = ?ring.kind, "reloading the signing keys failed");
                }
            }
        });
    }

    async fn reload(&self, store: &dyn Store) -> Result<(), StoreError> {
        let records = self.kind.records(store).await?;
        let current = self.snapshot();
        let unchanged = records.len() == current.loaded.len()
            && records
                .iter()
                .zip(&current.loaded)
                .all(|(record, loaded)| record.kid == loaded.kid);
        if !unchanged && !records.is_empty() {
            let keys =
                Keys::from_records(self.kind, &records, current.lead_secs, current.ttl_secs)?;
            *self.keys.write().expect("key ring lock") = Arc::new(keys);
            tracing::info!(keys = records.len(), kind = ?self.kind, "signing keys reloaded");
        }
        Ok(())
    }

    fn snapshot(&self) -> Arc<Keys> {
        self.keys.read().expect("key ring lock").clone()
    }

    /// The compact JWS of `claims`, signed with the key that signs at `now`.
    pub fn sign(&self, claims: &impl serde::Serialize, now: i64) -> String {
        let keys = self.snapshot();
        let key = &keys.loaded[keys.signer(now)];
        token::compact(&key.encoded_header, claims, |bytes| key.pair.sign(bytes))
    }

    /// The claims of a compact JWS that a key of this ring still loaded
    /// signed, expired or not (an `id_token_hint` may be old); `None` when
    /// none verifies it.
    pub fn verify(&self, token: &str) -> Option<serde_json::Value> {
        let (signed, signature) = token.rsplit_once('.')?;
        let (header, payload) = signed.split_once('.')?;
        let header: serde_json::Value =
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(header).ok()?).ok()?;
        if header.get("alg")?.as_str()? != self.kind.alg() {
            return None;
        }
        let kid = header.get("kid")?.as_str()?;
        let keys = self.snapshot();
        let key = keys.loaded.iter().find(|key| key.kid == kid)?;
        let signature = URL_SAFE_NO_PAD.decode(signature).ok()?;
        if !key.pair.verifies(signed.as_bytes(), &signature) {
            return None;
        }
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).ok()?).ok()
    }

    /// The kid that signs at `now`.
    pub fn signing_kid(&self, now: i64) -> String {
        let keys = self.snapshot();
        keys.loaded[keys.signer(now)].kid.clone()
    }

    /// The JWKs published at `now`.
    pub fn published_jwks(&self, now: i64) -> Vec<serde_json::Value> {
        let keys = self.snapshot();
        let times = keys.times();
        published(&times, now, keys.lead_secs, keys.ttl_secs)
            .into_iter()
            .map(|index| keys.loaded[index].jwk.clone())
            .collect()
    }

    /// The JWK Set published at `now`.
    pub fn jwk_set(&self, now: i64) -> serde_json::Value {
        serde_json::json!({ "keys": self.published_jwks(now) })
    }
}

impl Keys {
    fn from_records(
        kind: KeyKind,
        records: &[IdentityKeyRecord],
        lead_secs: i64,
        ttl_secs: i64,
    ) -> Result<Self, StoreError> {
        let loaded = records
            .iter()
            .map(|record| {
                // The error says which key, never what is in it.
                let unusable =
                    || StoreError::Config(format!("signing key {} is not usable", record.kid));
                let (pair, jwk) = match kind {
                    KeyKind::Identity => {
                        let pair = Ed25519KeyPair::from_pkcs8(&record.private_pkcs8)
                            .map_err(|_| unusable())?;
                        let jwk = public_jwk(&record.kid, pair.public_key().as_ref());
                        (Pair::Ed25519(pair), jwk)
                    }
                    KeyKind::Oidc => {
                        let pair = RsaKeyPair::from_pkcs8(&record.private_pkcs8)
                            .map_err(|_| unusable())?;
                        let jwk = rsa_jwk(&record.kid, &pair);
                        (Pair::Rsa(pair), jwk)
                    }
                };
                Ok(LoadedKey {
                    encoded_header: token::encoded_header(kind.alg(), &record.kid),
                    jwk,
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
    rotate_kind(store, KeyKind::Identity, now).await
}

/// [`rotate`] for the keys of `kind` (`identity-key rotate --rs256`).
pub async fn rotate_kind(store: &dyn Store, kind: KeyKind, now: i64) -> Result<String, StoreError> {
    // Keys are ordered by creation second: a rotation in the same second
    // as the newest key is dated one second later, so it sorts after it.
    let newest = kind.records(store).await?.last().map(|key| key.created_at);
    let key = kind.new_key(newest.map_or(now, |newest| now.max(newest + 1)));
    let kid = key.kid.clone();
    kind.add(store, key, false).await?;
    let records = kind.records(store).await?;
    let replaced_long_ago = records
        .windows(2)
        .map(|pair| pair[1].created_at)
        .filter(|&successor| successor + KEEP_REPLACED_SECS < now)
        .max();
    if let Some(created_before) = replaced_long_ago {
        kind.remove_before(store, created_before).await?;
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

/// RFC 7638 for an RSA key: `e`, `kty`, `n`.
fn rsa_thumbprint(pair: &RsaKeyPair) -> String {
    let (n, e) = rsa_public(pair);
    let canonical = format!(r#"{{"e":"{e}","kty":"RSA","n":"{n}"}}"#);
    URL_SAFE_NO_PAD.encode(digest::digest(&digest::SHA256, canonical.as_bytes()))
}

/// The modulus and exponent, base64url without leading zeros (RFC 7518
/// §6.3.1).
fn rsa_public(pair: &RsaKeyPair) -> (String, String) {
    let public = pair.public_key();
    (
        URL_SAFE_NO_PAD.encode(public.modulus().big_endian_without_leading_zero()),
        URL_SAFE_NO_PAD.encode(public.exponent().big_endian_without_leading_zero()),
    )
}

fn rsa_jwk(kid: &str, pair: &RsaKeyPair) -> serde_json::Value {
    let (n, e) = rsa_public(pair);
    serde_json::json!({
        "kty": "RSA",
        "n": n,
        "e": e,
        "kid": kid,
        "alg": KeyKind::Oidc.alg(),
        "use": "sig",
    })
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
/// `X-Payfac-Identity` with, and, with the OpenID Provider on, the RS256
/// keys of its ID tokens.
pub async fn jwks(State(state): State<AppState>) -> impl IntoResponse {
    let now = unix_now();
    let mut keys = state.identity.keys.published_jwks(now);
    if let Some(provider) = &state.oidc {
        keys.extend(provider.keys.published_jwks(now));
    }
    (
        [(
            header::CACHE_CONTROL,
            format!("public, max-age={JWKS_MAX_AGE_SECS}"),
        )],
        Json(serde_json::json!({ "keys": keys })),
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
