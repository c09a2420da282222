//! The text form shared by authorization codes and session tokens: a
//! 10-character lookup id (the storage row id, base62, fixed width)
//! followed by a secret of `[A-Za-z0-9]` from the CSPRNG.
//!
//! Sequential row ids keep the tables' inserts append-only (a random key
//! costs a random B-tree page per insert, see docs/PERFORMANCE.md); the
//! secret is what makes the credential unguessable, and storage keeps only
//! its SHA-256.

use crate::secret::{alphabet_char, alphabet_index, random_alphanumeric};
use crate::{InvalidInput, SecretHash};

pub(crate) const ID_LENGTH: usize = 10;

/// The storage id of one kind of credential.
pub trait CredentialId: Copy {
    /// What the credential is called in messages.
    const NAME: &'static str;
    fn from_storage(id: i64) -> Self;
    fn storage(self) -> i64;
}

/// Declares the storage id of one kind of credential: an `i64` newtype.
/// The id, in base62, is the first ten characters of the credential's
/// text, so its `Debug` (what a stray `?` in a log line or a panic prints)
/// leaves the number out.
macro_rules! credential_id {
    ($(#[$doc:meta])* $name:ident, $kind:literal) => {
        $(#[$doc])*
        #[derive(Clone, Copy, PartialEq, Eq)]
        pub struct $name(pub i64);

        impl std::fmt::Debug for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(concat!(stringify!($name), "(<redacted>)"))
            }
        }

        impl $crate::keyed::CredentialId for $name {
            const NAME: &'static str = $kind;

            fn from_storage(id: i64) -> Self {
                Self(id)
            }

            fn storage(self) -> i64 {
                self.0
            }
        }
    };
}
pub(crate) use credential_id;

/// A credential freshly issued or presented: the storage id and the
/// secret. `Debug` shows neither (the id is the first part of the value).
#[derive(Clone)]
pub struct Credential<Id, const SECRET_LENGTH: usize> {
    id: Id,
    secret: String,
}

impl<Id: CredentialId, const SECRET_LENGTH: usize> Credential<Id, SECRET_LENGTH> {
    pub const LENGTH: usize = ID_LENGTH + SECRET_LENGTH;

    /// A new random secret and its hash, before storage assigns the id.
    pub fn new_secret() -> (String, SecretHash) {
        let secret = random_alphanumeric(SECRET_LENGTH);
        let hash = SecretHash::of(&secret);
        (secret, hash)
    }

    /// Joins the id assigned by storage with the secret.
    pub fn assemble(id: Id, secret: String) -> Self {
        Self { id, secret }
    }

    /// Parses a presented value; anything of the wrong shape is refused
    /// before storage is asked.
    pub fn parse(text: &str) -> Result<Self, InvalidInput> {
        let (id, secret) = split(text, SECRET_LENGTH)
            .ok_or_else(|| InvalidInput::new(format!("{} is malformed", Id::NAME)))?;
        Ok(Self {
            id: Id::from_storage(id),
            secret: secret.to_owned(),
        })
    }

    pub fn id(&self) -> Id {
        self.id
    }

    pub fn secret_hash(&self) -> SecretHash {
        SecretHash::of(&self.secret)
    }

    /// The full value, for the response body or the cookie only.
    pub fn expose(&self) -> String {
        encode_id(self.id.storage()) + &self.secret
    }
}

impl<Id: CredentialId, const SECRET_LENGTH: usize> std::fmt::Debug
    for Credential<Id, SECRET_LENGTH>
{
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}(<redacted>)", Id::NAME)
    }
}

/// The id in its fixed-width base62 form. Ids are `0 ..= 62^10 - 1`.
fn encode_id(id: i64) -> String {
    let mut digits = [0u64; ID_LENGTH];
    let mut rest = id as u64;
    for slot in digits.iter_mut().rev() {
        *slot = rest % 62;
        rest /= 62;
    }
    digits.iter().map(|&d| alphabet_char(d)).collect()
}

/// Splits `text` into its id and secret; `None` unless it is exactly
/// `ID_LENGTH + secret_length` characters of `[A-Za-z0-9]`.
fn split(text: &str, secret_length: usize) -> Option<(i64, &str)> {
    if text.len() != ID_LENGTH + secret_length {
        return None;
    }
    let (id_part, secret) = text.split_at_checked(ID_LENGTH)?;
    let mut id: u64 = 0;
    for byte in id_part.bytes() {
        id = id * 62 + alphabet_index(byte)?;
    }
    secret
        .bytes()
        .all(|b| b.is_ascii_alphanumeric())
        .then_some((id as i64, secret))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_round_trip_at_fixed_width() {
        for id in [0, 1, 61, 62, 123_456_789, 839_299_365_868_340_223] {
            let text = format!("{}{}", encode_id(id), "s".repeat(5));
            assert_eq!(text.len(), ID_LENGTH + 5);
            assert_eq!(split(&text, 5), Some((id, "sssss")));
        }
    }

    #[test]
    fn refuses_wrong_shapes() {
        assert_eq!(split("", 5), None);
        assert_eq!(split(&"a".repeat(14), 5), None);
        assert_eq!(split(&"a".repeat(16), 5), None);
        assert_eq!(split(&format!("{}-", "a".repeat(14)), 5), None);
        assert_eq!(split(&format!("{}é", "a".repeat(13)), 5), None);
    }
}
