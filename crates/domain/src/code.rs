//! One-time authorization codes: 32 characters of `[A-Za-z0-9]`, a
//! 10-character lookup id and a 22-character secret (22 × log2(62) ≈ 131
//! bits); see `keyed` for why.

use crate::keyed::{Credential, credential_id};

credential_id!(
    /// Storage id of a code: `0 ..= 62^10 - 1`.
    CodeId,
    "authorization code"
);

/// A freshly issued or presented authorization code. `Debug` redacts it.
pub type AuthorizationCode = Credential<CodeId, 22>;

#[cfg(test)]
mod tests {
    use super::*;

    fn ids() -> crate::IdPermutation {
        crate::IdPermutation::new(&[1; 16])
    }

    #[test]
    fn round_trips_through_its_text_form() {
        for id in [0, 1, 61, 62, 123_456_789, (1 << 56) - 1, 1 << 57] {
            let (secret, hash) = AuthorizationCode::new_secret();
            let code = AuthorizationCode::assemble(CodeId(id), secret, &ids());
            let text = code.expose();
            assert_eq!(text.len(), 32);
            assert!(text.bytes().all(|b| b.is_ascii_alphanumeric()));
            let parsed = AuthorizationCode::parse(&text).unwrap();
            assert_eq!(parsed.id(&ids()), Some(CodeId(id)));
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
        let code = AuthorizationCode::assemble(CodeId(7), secret.clone(), &ids());
        assert!(!format!("{code:?}").contains(&secret));
    }

    #[test]
    fn debug_of_the_id_leaves_the_number_out() {
        let shown = format!("{:?}", Some(CodeId(987_654_321)));
        assert!(!shown.contains("987654321"), "{shown}");
        assert!(shown.contains("CodeId"));
    }
}
