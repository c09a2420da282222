//! Browser session tokens: 43 characters of `[A-Za-z0-9]`, a 10-character
//! lookup id and a 33-character secret (33 × log2(62) ≈ 196 bits); see
//! `keyed` for why. The cookie carries the token; storage keeps the id and
//! the secret's SHA-256.

use crate::keyed::{Credential, credential_id};

credential_id!(
    /// Storage id of a session.
    SessionId,
    "session token"
);

/// A new or presented session token. `Debug` never shows it.
pub type SessionToken = Credential<SessionId, 33>;

#[cfg(test)]
mod tests {
    use super::*;

    fn ids() -> crate::IdPermutation {
        crate::IdPermutation::new(&[1; 16])
    }

    #[test]
    fn round_trips_through_the_cookie_value() {
        let (secret, hash) = SessionToken::new_secret();
        let token = SessionToken::assemble(SessionId(42), secret, &ids());
        let text = token.expose();
        assert_eq!(text.len(), SessionToken::LENGTH);
        let parsed = SessionToken::parse(&text).unwrap();
        assert_eq!(parsed.id(&ids()), Some(SessionId(42)));
        assert_eq!(parsed.secret_hash().0, hash.0);
    }

    #[test]
    fn refuses_wrong_shapes_and_redacts() {
        assert!(SessionToken::parse("short").is_err());
        assert!(SessionToken::parse(&"a".repeat(44)).is_err());
        let (secret, _) = SessionToken::new_secret();
        let token = SessionToken::assemble(SessionId(1), secret.clone(), &ids());
        let shown = format!("{token:?}");
        assert!(!shown.contains(&secret));
        assert!(!shown.contains(&token.expose()[..10]), "the id part");
        let id = format!("{:?}", SessionId(987_654_321));
        assert!(!id.contains("987654321"), "{id}");
    }
}
