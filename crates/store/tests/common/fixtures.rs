//! Requests as the server would build them, with fixed clock values so
//! every boundary is exact.

use payfac_domain::{
    BuyerProfile, CodeId, Email, MerchantId, MerchantUserNo, Nonce, PersonName, SecretHash,
    random_alphanumeric,
};
use payfac_store::{
    NewSession, RedeemOutcome, Redemption, SessionKey, StoredKey, SyncOutcome, SyncRequest,
    new_user_id,
};

/// The tests' clock: a fixed instant, so expiry boundaries are exact.
pub const NOW: i64 = 1_750_000_000;

/// Replay window and code TTL, as the service defaults them.
pub const WINDOW: i64 = 300;

pub fn merchant(id: &str) -> MerchantId {
    MerchantId::parse(id).expect("valid merchant id")
}

pub fn fresh_nonce() -> String {
    random_alphanumeric(20)
}

/// A first or later sync of `user_no` at `merchant_id` at `NOW`, with a
/// fresh nonce, names and a fresh code.
pub fn sync(merchant_id: &str, user_no: &str) -> SyncRequest {
    SyncRequest {
        merchant: merchant(merchant_id),
        nonce: Nonce::parse(&fresh_nonce()).expect("valid nonce"),
        signed_at: NOW,
        window: WINDOW,
        profile: BuyerProfile {
            merchant_user_no: MerchantUserNo::parse(user_no).expect("valid merchantUserNo"),
            email: email("buyer@example.com"),
            first_name: Some(name("Ada")),
            last_name: Some(name("Lovelace")),
        },
        new_user_id: new_user_id(),
        code_hash: SecretHash::of(&random_alphanumeric(22)),
        code_expires_at: NOW + WINDOW,
        now: NOW,
    }
}

/// The same request with another nonce and code, as a later call.
pub fn again(request: &SyncRequest) -> SyncRequest {
    SyncRequest {
        nonce: Nonce::parse(&fresh_nonce()).expect("valid nonce"),
        code_hash: SecretHash::of(&random_alphanumeric(22)),
        new_user_id: new_user_id(),
        ..request.clone()
    }
}

/// The last second at which `request`'s own window judges its nonce live.
pub fn window_end(request: &SyncRequest) -> i64 {
    request.signed_at + request.window
}

pub fn with_nonce(mut request: SyncRequest, nonce: &str) -> SyncRequest {
    request.nonce = Nonce::parse(nonce).expect("valid nonce");
    request
}

pub fn email(text: &str) -> Email {
    Email::parse(text).expect("valid email")
}

pub fn name(text: &str) -> PersonName {
    PersonName::parse("name", text).expect("valid name")
}

/// `(user_id, code_id)` of an `Issued` outcome.
pub fn issued(outcome: SyncOutcome) -> (i64, CodeId) {
    match outcome {
        SyncOutcome::Issued { user_id, code_id } => (user_id, code_id),
        SyncOutcome::NonceReused => panic!("expected Issued, got NonceReused"),
    }
}

/// A redemption of a code at `now` into a new session with a fresh token.
pub fn redeem(code_id: CodeId, code_hash: SecretHash, now: i64) -> Redemption {
    Redemption {
        code_id,
        code_hash,
        now,
        session: NewSession {
            secret_hash: SecretHash::of(&random_alphanumeric(33)),
            expires_at: now + 3_600,
            pending: false,
        },
        replaces: None,
    }
}

/// The buyer of a `SignedIn` outcome.
pub fn signed_in(outcome: RedeemOutcome) -> payfac_domain::Buyer {
    match outcome {
        RedeemOutcome::SignedIn { buyer, .. } => buyer,
        RedeemOutcome::Rejected(reason) => panic!("expected SignedIn, got {reason:?}"),
    }
}

/// The key a browser signed in by `redemption` presents: the id storage
/// gave the session and the hash of the secret it was created with.
pub fn session_of(outcome: RedeemOutcome, redemption: &Redemption) -> SessionKey {
    match outcome {
        RedeemOutcome::SignedIn { session, .. } => SessionKey {
            id: session,
            secret_hash: redemption.session.secret_hash,
        },
        RedeemOutcome::Rejected(reason) => panic!("expected SignedIn, got {reason:?}"),
    }
}

pub fn key(id: &str) -> StoredKey {
    StoredKey {
        key_id: id.to_owned(),
        spki_der: format!("der of {id}").into_bytes(),
    }
}
