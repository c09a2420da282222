//! Everything a timed phase sends, made before its clock starts: signed
//! user-sync requests (in parallel on every core) and redemption URLs for
//! codes obtained beforehand.

use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::Context;
use bytes::Bytes;
use hyper::Method;
use hyper::header::HeaderValue;
use payfac_domain::MerchantId;
use payfac_domain::{
    AuthorizationCode, BuyerProfile, Email, MerchantUserNo, Nonce, PersonName, random_alphanumeric,
};
use payfac_signing::{SigningKey, signature_string};
use payfac_store::{SyncOutcome, SyncRequest, new_user_id, unix_now};

use crate::Setup;
use crate::load::{Kind, Prepared};

/// `BENCH0`, `BENCH1`, ...
pub fn merchant_name(index: usize) -> String {
    format!("BENCH{index}")
}

/// Stored buyer `index` (see `Backend::populate_buyers`): its merchant's
/// index, `merchantUserNo` and email.
pub fn stored_buyer(index: u64, merchants: usize) -> (usize, String, String) {
    (
        (index % merchants as u64) as usize,
        format!("R{index:09}"),
        format!("r{index}@example.com"),
    )
}

/// A new buyer, unique in this run.
fn new_buyer(serial: usize, merchants: usize) -> (usize, String, String) {
    (
        serial % merchants,
        format!("N{serial:09}"),
        format!("n{serial}@example.com"),
    )
}

/// A well-mixed 64-bit value of `x` (SplitMix64), for picking stored
/// buyers at random but reproducibly.
pub fn mix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}

fn now_secs() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// The buyer that request `serial` of a phase syncs.
pub fn buyer_for(
    kind: Kind,
    serial: usize,
    stored: u64,
    merchants: usize,
) -> (usize, String, String) {
    match kind {
        Kind::SyncReturning => stored_buyer(mix(serial as u64) % stored.max(1), merchants),
        _ => new_buyer(serial, merchants),
    }
}

/// One signed `POST /pay-fac/{merchant}/v1/user` for the buyer, with a
/// fresh nonce and the current time.
pub fn signed_sync(
    keys: &[SigningKey],
    merchant_ids: &[MerchantId],
    buyer: &(usize, String, String),
) -> Prepared {
    let (merchant, merchant_user_no, email) = buyer;
    let body = serde_json::json!({
        "merchantUserNo": merchant_user_no,
        "email": email,
        "firstName": "Bench",
        "lastName": "Buyer",
    })
    .to_string();
    let timestamp = now_secs().to_string();
    let nonce = random_alphanumeric(24);
    let signature =
        keys[*merchant].sign(&signature_string("", &timestamp, &nonce, body.as_bytes()));
    let header = |text: &str| HeaderValue::from_str(text).expect("ASCII header value");
    Prepared {
        method: Method::POST,
        path: format!("/pay-fac/{}/v1/user", merchant_ids[*merchant].as_str()),
        body: Bytes::from(body),
        signed: Some([header(&timestamp), header(&nonce), header(&signature)]),
    }
}

/// `count` signed user-sync requests, numbered from `first`, signed on
/// every core.
pub fn sign_sync_requests(
    setup: &Setup,
    kind: Kind,
    first: usize,
    count: usize,
    stored: u64,
) -> Vec<Prepared> {
    let threads = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(2)
        .max(1);
    let chunk = count.div_ceil(threads).max(1);
    let merchants = setup.merchants.len();
    std::thread::scope(|scope| {
        let handles: Vec<_> = (0..threads)
            .map(|thread| {
                let start = first + thread * chunk;
                let end = (first + (thread + 1) * chunk).min(first + count);
                scope.spawn(move || {
                    (start..end)
                        .map(|serial| {
                            signed_sync(
                                &setup.keys,
                                &setup.merchants,
                                &buyer_for(kind, serial, stored, merchants),
                            )
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|handle| handle.join().expect("signing thread panicked"))
            .collect()
    })
}

/// `GET /account?authorizationCode=…` for each code, as a buyer's browser
/// arriving from the merchant's redirect (no session cookie yet).
pub fn redeem_requests(codes: Vec<String>) -> Vec<Prepared> {
    codes
        .into_iter()
        .map(|code| Prepared {
            method: Method::GET,
            path: format!("/account?authorizationCode={code}"),
            body: Bytes::new(),
            signed: None,
        })
        .collect()
}

/// Issues `count` codes for stored buyers straight through the store, as
/// a verified user-sync would (nonce, buyer upsert, code), many at a time
/// so the store's group commit batches them.
pub async fn issue_codes(
    setup: &Setup,
    count: usize,
    code_ttl_secs: i64,
) -> anyhow::Result<Vec<String>> {
    const IN_FLIGHT: usize = 512;
    let merchants = setup.merchants.len();
    let stored = {
        // Codes go to stored buyers; at least one must exist.
        let probe = setup.buyers_stored;
        anyhow::ensure!(probe > 0, "redemption needs stored buyers (--buyers > 0)");
        probe
    };
    // Codes as the server makes them: ids permuted with the database's key.
    let keys = std::sync::Arc::new(
        payfac_server::keys::ServiceKeys::load(setup.store.as_ref())
            .await
            .context("reading the service secret")?,
    );
    let mut codes = Vec::with_capacity(count);
    let mut tasks = tokio::task::JoinSet::new();
    let mut serial = 0usize;
    while codes.len() < count {
        while tasks.len() < IN_FLIGHT && serial < count {
            let (merchant, merchant_user_no, email) =
                stored_buyer(mix(serial as u64 ^ 0x5EED) % stored, merchants);
            serial += 1;
            let store = setup.store.clone();
            let keys = keys.clone();
            let merchant = setup.merchants[merchant].clone();
            tasks.spawn(async move {
                let now = unix_now();
                let (secret, code_hash) = AuthorizationCode::new_secret();
                let request = SyncRequest {
                    merchant,
                    nonce: Nonce::parse(&random_alphanumeric(24)).expect("valid nonce"),
                    signed_at: now,
                    window: code_ttl_secs,
                    profile: BuyerProfile {
                        merchant_user_no: MerchantUserNo::parse(&merchant_user_no)
                            .expect("valid merchantUserNo"),
                        email: Email::parse(&email).expect("valid email"),
                        first_name: Some(PersonName::parse("firstName", "Bench").expect("name")),
                        last_name: Some(PersonName::parse("lastName", "Buyer").expect("name")),
                    },
                    new_user_id: new_user_id(),
                    code_hash,
                    code_expires_at: now + code_ttl_secs,
                    now,
                };
                match store.sync_user(request).await? {
                    SyncOutcome::Issued { code_id, .. } => {
                        Ok(AuthorizationCode::assemble(code_id, secret, &keys.ids).expose())
                    }
                    SyncOutcome::NonceReused => anyhow::bail!("a fresh nonce was refused"),
                }
            });
        }
        match tasks.join_next().await {
            Some(result) => codes.push(result.context("a code task panicked")??),
            None => break,
        }
    }
    Ok(codes)
}
