//! Random secrets and their stored hashes.

const ALPHANUMERIC: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// `length` characters of `[0-9A-Za-z]` from the operating system's CSPRNG,
/// by rejection sampling so every character is uniform (log2(62) ≈ 5.95
/// bits each).
pub fn random_alphanumeric(length: usize) -> String {
    let mut out = String::with_capacity(length);
    let mut buffer = [0u8; 64];
    while out.len() < length {
        aws_lc_rs::rand::fill(&mut buffer).expect("the OS random source is available");
        for byte in buffer {
            // 248 = 4 × 62: bytes at or above it would bias the result.
            if byte < 248 && out.len() < length {
                out.push(ALPHANUMERIC[usize::from(byte % 62)] as char);
            }
        }
    }
    out
}

pub(crate) fn alphabet_index(byte: u8) -> Option<u64> {
    ALPHANUMERIC
        .iter()
        .position(|&c| c == byte)
        .map(|index| index as u64)
}

pub(crate) fn alphabet_char(index: u64) -> char {
    ALPHANUMERIC[index as usize] as char
}

/// SHA-256 of a secret: what storage keeps instead of the secret itself.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct SecretHash(pub [u8; 32]);

impl SecretHash {
    pub fn of(secret: &str) -> Self {
        let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, secret.as_bytes());
        let mut bytes = [0u8; 32];
        bytes.copy_from_slice(digest.as_ref());
        Self(bytes)
    }

    pub fn from_slice(bytes: &[u8]) -> Option<Self> {
        bytes.try_into().ok().map(Self)
    }
}

impl std::fmt::Debug for SecretHash {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretHash(<redacted>)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn random_strings_have_length_alphabet_and_differ() {
        let a = random_alphanumeric(22);
        let b = random_alphanumeric(22);
        assert_eq!(a.len(), 22);
        assert!(a.bytes().all(|c| c.is_ascii_alphanumeric()));
        assert_ne!(a, b);
    }
}
