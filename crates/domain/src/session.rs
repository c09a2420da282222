//! Browser session tokens: 43 characters of `[A-Za-z0-9]`, a 10-character
//! lookup id and a 33-character secret (33 × log2(62) ≈ 196 bits); see
//! `keyed` for why. The cookie carries the token; storage keeps the id and
//! the secret's SHA-256.

use crate::SecretHash;
use crate::keyed::{self, ID_LENGTH};
use crate::secret::random_alphanumeric;

const SECRET_LENGTH: usize = 33;

/// Storage id of a session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionId(pub i64);

/// A new or presented session token. `Debug` never shows the secret.
#[derive(Clone)]
pub struct SessionToken {
    id: SessionId,
    secret: String,
}

impl SessionToken {
    pub const LENGTH: usize = ID_LENGTH + SECRET_LENGTH;

    /// A new random secret, before storage has assigned the id.
    pub fn new_secret() -> (String, SecretHash) {
        let secret = random_alphanumeric(SECRET_LENGTH);
        let hash = SecretHash::of(&secret);
        (secret, hash)
    }

    /// Joins the id assigned by storage with the secret.
    pub fn assemble(id: SessionId, secret: String) -> Self {
        Self { id, secret }
    }

    /// Shape check of a cookie value; `None` for anything that cannot be a
    /// token, so garbage never reaches storage.
    pub fn parse(text: &str) -> Option<Self> {
        let (id, secret) = keyed::split(text, SECRET_LENGTH)?;
        Some(Self {
            id: SessionId(id),
            secret: secret.to_owned(),
        })
    }

    pub fn id(&self) -> SessionId {
        self.id
    }

    pub fn secret_hash(&self) -> SecretHash {
        SecretHash::of(&self.secret)
    }

    /// The raw value, for the `Set-Cookie` header only.
    pub fn expose(&self) -> String {
        keyed::encode_id(self.id.0) + &self.secret
    }
}

impl std::fmt::Debug for SessionToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SessionToken(id={}, <redacted>)", self.id.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_through_the_cookie_value() {
        let (secret, hash) = SessionToken::new_secret();
        let token = SessionToken::assemble(SessionId(42), secret);
        let text = token.expose();
        assert_eq!(text.len(), SessionToken::LENGTH);
        let parsed = SessionToken::parse(&text).unwrap();
        assert_eq!(parsed.id(), SessionId(42));
        assert_eq!(parsed.secret_hash().0, hash.0);
    }

    #[test]
    fn refuses_wrong_shapes_and_redacts() {
        assert!(SessionToken::parse("short").is_none());
        assert!(SessionToken::parse(&"a".repeat(44)).is_none());
        let (secret, _) = SessionToken::new_secret();
        let token = SessionToken::assemble(SessionId(1), secret.clone());
        assert!(!format!("{token:?}").contains(&secret));
    }
}
