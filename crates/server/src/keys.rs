//! The service's own secrets (issue #18), derived from one 256-bit key
//! kept in storage (`server_secrets`), so every instance on a database
//! derives the same ones and a restart changes nothing.

use aws_lc_rs::hmac;
use payfac_domain::IdPermutation;
use payfac_store::{Store, StoreError};

/// The name of the stored key every secret below is derived from.
const SERVICE_SECRET: &str = "service";

/// Keys derived from the stored service secret, one per purpose.
pub struct ServiceKeys {
    /// Binds the consent page's form to the browser's pending choice.
    consent: hmac::Key,
    /// Maps storage row ids to the ids in codes and session cookies.
    pub ids: IdPermutation,
}

impl ServiceKeys {
    /// Reads the service secret, creating it (from the CSPRNG) on first
    /// use.
    /// The keys of the service secret stored in `store` (the benchmark
    /// uses this to make codes the way the server does).
    pub async fn load(store: &dyn Store) -> Result<Self, StoreError> {
        let mut candidate = [0u8; 32];
        aws_lc_rs::rand::fill(&mut candidate).expect("the OS random source is available");
        let secret = store.server_secret(SERVICE_SECRET, candidate).await?;
        Ok(Self::derive(&secret))
    }

    fn derive(secret: &[u8]) -> Self {
        let root = hmac::Key::new(hmac::HMAC_SHA256, secret);
        let sub =
            |label: &[u8]| hmac::Key::new(hmac::HMAC_SHA256, hmac::sign(&root, label).as_ref());
        let ids = hmac::sign(&root, b"payfac credential ids v1");
        let ids: [u8; 16] = ids.as_ref()[..16].try_into().expect("32 bytes");
        Self {
            consent: sub(b"payfac consent csrf v1"),
            ids: IdPermutation::new(&ids),
        }
    }

    /// The CSRF token of a pending choice: HMAC-SHA256 of the pending
    /// cookie's value, in hex. Only a page read by the browser holding the
    /// cookie can know it.
    pub fn consent_token(&self, pending: &str) -> String {
        hmac::sign(&self.consent, pending.as_bytes())
            .as_ref()
            .iter()
            .map(|byte| format!("{byte:02x}"))
            .collect()
    }

    /// Whether `token` is the pending choice's token (constant time).
    pub fn consent_token_matches(&self, pending: &str, token: &str) -> bool {
        let Some(tag) = decode_hex(token) else {
            return false;
        };
        hmac::verify(&self.consent, pending.as_bytes(), &tag).is_ok()
    }
}

fn decode_hex(text: &str) -> Option<Vec<u8>> {
    if text.len() != 64 {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn consent_tokens_bind_the_pending_value() {
        let keys = ServiceKeys::derive(b"k");
        let token = keys.consent_token("pending-a");
        assert!(keys.consent_token_matches("pending-a", &token));
        assert!(!keys.consent_token_matches("pending-b", &token));
        assert!(!keys.consent_token_matches("pending-a", ""));
        assert!(!ServiceKeys::derive(b"other").consent_token_matches("pending-a", &token));
    }
}
