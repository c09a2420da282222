//! One-time authorization codes: 32 characters of `[A-Za-z0-9]`, a
//! 10-character lookup id and a 22-character secret (22 × log2(62) ≈ 131
//! bits); see `keyed` for why.

use crate::keyed::{self, ID_LENGTH};
use crate::secret::random_alphanumeric;
use crate::{InvalidInput, SecretHash};

const SECRET_LENGTH: usize = 22;

/// Storage id of a code: `0 ..= 62^10 - 1`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CodeId(pub i64);

/// A freshly issued or presented authorization code. `Debug` redacts it.
#[derive(Clone)]
pub struct AuthorizationCode {
    id: CodeId,
    secret: String,
}

impl AuthorizationCode {
    pub const LENGTH: usize = ID_LENGTH + SECRET_LENGTH;

    /// A new random secret, before storage has assigned the id.
    pub fn new_secret() -> (String, SecretHash) {
        let secret = random_alphanumeric(SECRET_LENGTH);
        let hash = SecretHash::of(&secret);
        (secret, hash)
    }

    /// Joins the id assigned by storage with the secret.
    pub fn assemble(id: CodeId, secret: String) -> Self {
        Self { id, secret }
    }

    /// Parses a presented code; anything of the wrong shape is refused
    /// before storage is asked.
    pub fn parse(text: &str) -> Result<Self, InvalidInput> {
        let (id, secret) = keyed::split(text, SECRET_LENGTH)
            .ok_or_else(|| InvalidInput::new("authorization code is malformed"))?;
        Ok(Self {
            id: CodeId(id),
            secret: secret.to_owned(),
        })
    }

    pub fn id(&self) -> CodeId {
        self.id
    }

    pub fn secret_hash(&self) -> SecretHash {
        SecretHash::of(&self.secret)
    }

    /// The full code, for the response body only.
    pub fn expose(&self) -> String {
        keyed::encode_id(self.id.0) + &self.secret
    }
}

impl std::fmt::Debug for AuthorizationCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "AuthorizationCode(id={}, <redacted>)", self.id.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_through_its_text_form() {
        for id in [0, 1, 61, 62, 123_456_789, 839_299_365_868_340_223] {
            let (secret, hash) = AuthorizationCode::new_secret();
            let code = AuthorizationCode::assemble(CodeId(id), secret);
            let text = code.expose();
            assert_eq!(text.len(), 32);
            assert!(text.bytes().all(|b| b.is_ascii_alphanumeric()));
            let parsed = AuthorizationCode::parse(&text).unwrap();
            assert_eq!(parsed.id(), CodeId(id));
            assert_eq!(parsed.secret_hash().0, hash.0);
        }
    }

    #[test]
    fn refuses_wrong_shapes() {
        assert!(AuthorizationCode::parse("").is_err());
        assert!(AuthorizationCode::parse(&"a".repeat(31)).is_err());
        assert!(AuthorizationCode::parse(&"a".repeat(33)).is_err());
        assert!(AuthorizationCode::parse(&format!("{}-", "a".repeat(31))).is_err());
    }

    #[test]
    fn debug_never_shows_the_secret() {
        let (secret, _) = AuthorizationCode::new_secret();
        let code = AuthorizationCode::assemble(CodeId(7), secret.clone());
        assert!(!format!("{code:?}").contains(&secret));
    }
}
