//! The text form shared by authorization codes and session tokens: a
//! 10-character lookup id (base62, fixed width) followed by a secret of
//! `[A-Za-z0-9]` from the CSPRNG.
//!
//! Storage row ids stay sequential, which keeps the tables' inserts
//! append-only (a random key costs a random B-tree page per insert, see
//! docs/PERFORMANCE.md). The id in the text is not the row id but its
//! image under a keyed permutation ([`IdPermutation`]: an 8-round Feistel
//! network over 56 bits with AES-128 as round function), so a credential
//! reveals neither how many were issued nor in which order (issue #18).
//! The secret is what makes the credential unguessable, and storage keeps
//! only its SHA-256.
//!
//! The public id is `2^59 + permute(row id)` for row ids below `2^56`.
//! Values below `2^59` are the earlier form (the row id itself) and are
//! still accepted, so credentials issued before the upgrade keep working.

use aws_lc_rs::cipher::{AES_128, EncryptingKey, UnboundCipherKey};

use crate::secret::{alphabet_char, alphabet_index, random_alphanumeric};
use crate::{InvalidInput, SecretHash};

pub(crate) const ID_LENGTH: usize = 10;

/// Row ids the permutation covers: `0 .. 2^56`.
const PERMUTED_BITS: u32 = 56;
const HALF_BITS: u32 = PERMUTED_BITS / 2;
const HALF_MASK: u64 = (1 << HALF_BITS) - 1;
/// Public ids of the permuted form start here; below it, the earlier form.
const PERMUTED_BASE: u64 = 1 << 59;
const ROUNDS: u8 = 8;

/// The keyed permutation between storage row ids and the ids in
/// credentials. Every instance on one database must use the same key (the
/// server derives it from the service secret in storage).
pub struct IdPermutation {
    key: EncryptingKey,
}

impl IdPermutation {
    pub fn new(key: &[u8; 16]) -> Self {
        let key = UnboundCipherKey::new(&AES_128, key).expect("a 16-byte AES-128 key");
        Self {
            key: EncryptingKey::ecb(key).expect("AES-128 supports ECB"),
        }
    }

    /// The round function: 28 bits of AES-128 over (round, half, kind).
    fn round(&self, round: u8, half: u64, kind: &str) -> u64 {
        let mut block = [0u8; 16];
        block[0] = round;
        block[1..5].copy_from_slice(&(half as u32).to_be_bytes());
        let kind = kind.as_bytes();
        let n = kind.len().min(11);
        block[5..5 + n].copy_from_slice(&kind[..n]);
        self.key
            .encrypt(&mut block)
            .expect("one whole block in ECB mode");
        u64::from(u32::from_be_bytes([block[0], block[1], block[2], block[3]])) & HALF_MASK
    }

    /// The public id of a row id (`kind` separates codes from sessions).
    fn public(&self, row: u64, kind: &str) -> u64 {
        if row >> PERMUTED_BITS != 0 {
            // Not reached before 2^56 rows: then the earlier form, which
            // names rows below 2^59.
            return row;
        }
        let (mut left, mut right) = (row >> HALF_BITS, row & HALF_MASK);
        for round in 0..ROUNDS {
            (left, right) = (right, left ^ self.round(round, right, kind));
        }
        PERMUTED_BASE + ((left << HALF_BITS) | right)
    }

    /// The row id a public id names, if any.
    fn row(&self, public: u64, kind: &str) -> Option<u64> {
        if public < PERMUTED_BASE {
            return Some(public);
        }
        let value = public - PERMUTED_BASE;
        if value >> PERMUTED_BITS != 0 {
            return None;
        }
        let (mut left, mut right) = (value >> HALF_BITS, value & HALF_MASK);
        for round in (0..ROUNDS).rev() {
            (left, right) = (right ^ self.round(round, left, kind), left);
        }
        Some((left << HALF_BITS) | right)
    }
}

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

/// A credential freshly issued or presented: the public id and the
/// secret. `Debug` shows neither (the id is the first part of the value).
#[derive(Clone)]
pub struct Credential<Id, const SECRET_LENGTH: usize> {
    public: u64,
    secret: String,
    kind: std::marker::PhantomData<Id>,
}

impl<Id: CredentialId, const SECRET_LENGTH: usize> Credential<Id, SECRET_LENGTH> {
    pub const LENGTH: usize = ID_LENGTH + SECRET_LENGTH;

    /// A new random secret and its hash, before storage assigns the id.
    pub fn new_secret() -> (String, SecretHash) {
        let secret = random_alphanumeric(SECRET_LENGTH);
        let hash = SecretHash::of(&secret);
        (secret, hash)
    }

    /// Joins the id assigned by storage, permuted, with the secret.
    pub fn assemble(id: Id, secret: String, ids: &IdPermutation) -> Self {
        Self {
            public: ids.public(id.storage() as u64, Id::NAME),
            secret,
            kind: std::marker::PhantomData,
        }
    }

    /// Parses a presented value; anything of the wrong shape is refused
    /// before storage is asked.
    pub fn parse(text: &str) -> Result<Self, InvalidInput> {
        let (id, secret) = split(text, SECRET_LENGTH)
            .ok_or_else(|| InvalidInput::new(format!("{} is malformed", Id::NAME)))?;
        Ok(Self {
            public: id,
            secret: secret.to_owned(),
            kind: std::marker::PhantomData,
        })
    }

    /// The storage id the credential names; `None` for an id no
    /// credential can have (then it is nobody's).
    pub fn id(&self, ids: &IdPermutation) -> Option<Id> {
        ids.row(self.public, Id::NAME)
            .map(|row| Id::from_storage(row as i64))
    }

    pub fn secret_hash(&self) -> SecretHash {
        SecretHash::of(&self.secret)
    }

    /// The full value, for the response body or the cookie only.
    pub fn expose(&self) -> String {
        encode_id(self.public) + &self.secret
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
fn encode_id(id: u64) -> String {
    let mut digits = [0u64; ID_LENGTH];
    let mut rest = id;
    for slot in digits.iter_mut().rev() {
        *slot = rest % 62;
        rest /= 62;
    }
    digits.iter().map(|&d| alphabet_char(d)).collect()
}

/// Splits `text` into its id and secret; `None` unless it is exactly
/// `ID_LENGTH + secret_length` characters of `[A-Za-z0-9]`.
fn split(text: &str, secret_length: usize) -> Option<(u64, &str)> {
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
        .then_some((id, secret))
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
    fn the_permutation_round_trips_and_hides_the_order() {
        let ids = IdPermutation::new(&[7; 16]);
        let other = IdPermutation::new(&[8; 16]);
        let mut seen = std::collections::HashSet::new();
        for row in (0..2_000u64).chain([1 << 40, (1 << 56) - 1]) {
            let public = ids.public(row, "code");
            assert!((PERMUTED_BASE..PERMUTED_BASE + (1 << 56)).contains(&public));
            assert_eq!(ids.row(public, "code"), Some(row));
            assert_ne!(ids.row(public, "session"), Some(row), "kinds differ");
            assert_ne!(other.public(row, "code"), public, "keys differ");
            assert!(public < 62u64.pow(10));
            seen.insert(public);
        }
        assert_eq!(seen.len(), 2_002);
        // Consecutive rows are not consecutive, nor ordered, in public.
        let publics: Vec<u64> = (0..100).map(|row| ids.public(row, "code")).collect();
        assert!(publics.windows(2).filter(|w| w[0] < w[1]).count() < 80);
        // The earlier form (the row id itself) still names its row.
        assert_eq!(ids.row(12_345, "code"), Some(12_345));
        assert_eq!(ids.row(PERMUTED_BASE + (1 << 56), "code"), None);
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
