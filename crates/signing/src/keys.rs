//! RSA key parsing, generation and the sign/verify primitives (aws-lc-rs).

use aws_lc_rs::encoding::{AsDer, Pkcs8V1Der, PublicKeyX509Der};
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::rsa::{KeyPair, KeySize, PublicKey};
use aws_lc_rs::signature::{
    KeyPair as _, ParsedPublicKey, RSA_PKCS1_2048_8192_SHA256, RSA_PKCS1_SHA256,
};
use base64::Engine;
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig, STANDARD};
use base64::engine::{DecodePaddingMode, general_purpose};

/// Smallest and largest modulus the platform accepts, in bits.
pub const MIN_KEY_BITS: usize = 2048;
pub const MAX_KEY_BITS: usize = 4096;

/// DER prefix of the `id-ecPublicKey` algorithm OID, to tell an EC key apart
/// from garbage in the error message.
const EC_PUBLIC_KEY_OID: &[u8] = &[0x06, 0x07, 0x2A, 0x86, 0x48, 0xCE, 0x3D, 0x02, 0x01];

/// PEM with `\n` line endings, as openssl writes it.
fn pem_text(tag: &str, der: Vec<u8>) -> String {
    pem::encode_config(
        &pem::Pem::new(tag, der),
        pem::EncodeConfig::new().set_line_ending(pem::LineEnding::LF),
    )
}

/// Standard alphabet, padding optional: merchants' libraries differ on it.
const SIGNATURE_BASE64: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// Why a key was refused. Messages are one line, meant for a person
/// registering a key, and never contain key material.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum KeyError {
    #[error("this is a private key; register the merchant's public key instead")]
    PrivateKeyGiven,
    #[error("unsupported PEM block \"{0}\"; expected PUBLIC KEY or RSA PUBLIC KEY")]
    UnsupportedPem(String),
    #[error("not valid PEM or base64 of a DER public key")]
    NotDecodable,
    #[error("EC keys are not supported; an RSA key of 2048-4096 bits is required")]
    EcKey,
    #[error("not an RSA public key (SPKI or PKCS#1 DER expected)")]
    NotRsa,
    #[error("RSA key of {0} bits refused; 2048-4096 bits are accepted")]
    BadSize(usize),
    #[error("not a PKCS#8 or PKCS#1 RSA private key")]
    BadPrivateKey,
    #[error("key generation supports 2048, 3072 or 4096 bits, not {0}")]
    UnsupportedGenerateSize(usize),
    #[error("the crypto library failed to encode the key")]
    Encoding,
}

/// A merchant's public key, parsed once and kept for fast verification.
pub struct VerifyingKey {
    parsed: ParsedPublicKey,
    spki_der: Vec<u8>,
    bits: usize,
}

impl std::fmt::Debug for VerifyingKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VerifyingKey")
            .field("bits", &self.bits)
            .field("id", &self.key_id())
            .finish()
    }
}

impl VerifyingKey {
    /// Accepts PEM SPKI (`BEGIN PUBLIC KEY`), PEM PKCS#1 (`BEGIN RSA PUBLIC
    /// KEY`) or bare base64 of the SPKI DER; RSA 2048-4096 bits only.
    pub fn parse(text: &str) -> Result<Self, KeyError> {
        let text = text.trim();
        let der = if text.starts_with("-----BEGIN") {
            let block = pem::parse(text).map_err(|_| KeyError::NotDecodable)?;
            match block.tag() {
                "PUBLIC KEY" | "RSA PUBLIC KEY" => block.into_contents(),
                tag if tag.contains("PRIVATE KEY") => return Err(KeyError::PrivateKeyGiven),
                tag => return Err(KeyError::UnsupportedPem(tag.to_owned())),
            }
        } else {
            let compact: String = text.split_whitespace().collect();
            STANDARD
                .decode(compact)
                .map_err(|_| KeyError::NotDecodable)?
        };
        Self::from_der(&der)
    }

    /// Parses SPKI or PKCS#1 DER. The canonical SPKI form is kept for
    /// storage and for the key id.
    pub fn from_der(der: &[u8]) -> Result<Self, KeyError> {
        let public = PublicKey::from_der(der).map_err(|_| {
            if der
                .windows(EC_PUBLIC_KEY_OID.len())
                .any(|w| w == EC_PUBLIC_KEY_OID)
            {
                KeyError::EcKey
            } else {
                KeyError::NotRsa
            }
        })?;
        let bits = modulus_bits(public.modulus().big_endian_without_leading_zero());
        if !(MIN_KEY_BITS..=MAX_KEY_BITS).contains(&bits) {
            return Err(KeyError::BadSize(bits));
        }
        let spki: PublicKeyX509Der = public.as_der().map_err(|_| KeyError::Encoding)?;
        let spki_der = spki.as_ref().to_vec();
        let parsed = ParsedPublicKey::new(&RSA_PKCS1_2048_8192_SHA256, &spki_der)
            .map_err(|_| KeyError::NotRsa)?;
        Ok(Self {
            parsed,
            spki_der,
            bits,
        })
    }

    /// True when `signature` is a valid SHA256withRSA signature of `message`.
    pub fn verify(&self, message: &[u8], signature: &[u8]) -> bool {
        self.parsed.verify_sig(message, signature).is_ok()
    }

    pub fn spki_der(&self) -> &[u8] {
        &self.spki_der
    }

    pub fn bits(&self) -> usize {
        self.bits
    }

    /// Stable, public identifier of the key: the first 8 bytes of the
    /// SHA-256 of its SPKI DER, in hex. The same key always gets the same id.
    pub fn key_id(&self) -> String {
        let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, &self.spki_der);
        digest.as_ref()[..8]
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    }

    /// PEM SPKI text of the key.
    pub fn to_pem(&self) -> String {
        pem_text("PUBLIC KEY", self.spki_der.clone())
    }
}

fn modulus_bits(modulus: &[u8]) -> usize {
    match modulus.first() {
        None => 0,
        Some(first) => (modulus.len() - 1) * 8 + (8 - first.leading_zeros() as usize),
    }
}

/// A merchant's private key, used by merchant-side tools to sign requests.
pub struct SigningKey {
    pair: KeyPair,
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SigningKey(<redacted>)")
    }
}

impl SigningKey {
    /// Accepts PEM PKCS#8 (`BEGIN PRIVATE KEY`) or PKCS#1 (`BEGIN RSA
    /// PRIVATE KEY`): merchants hold both, and refusing one only costs them
    /// a conversion step.
    pub fn from_pem(text: &str) -> Result<Self, KeyError> {
        let block = pem::parse(text.trim()).map_err(|_| KeyError::BadPrivateKey)?;
        let pair = match block.tag() {
            "PRIVATE KEY" => KeyPair::from_pkcs8(block.contents()),
            "RSA PRIVATE KEY" => KeyPair::from_der(block.contents()),
            _ => return Err(KeyError::BadPrivateKey),
        }
        .map_err(|_| KeyError::BadPrivateKey)?;
        Ok(Self { pair })
    }

    /// Standard base64 (with padding) of the SHA256withRSA signature.
    pub fn sign(&self, message: &[u8]) -> String {
        let mut signature = vec![0; self.pair.public_modulus_len()];
        self.pair
            .sign(
                &RSA_PKCS1_SHA256,
                &SystemRandom::new(),
                message,
                &mut signature,
            )
            .expect("RSA signing with a valid key and a right-sized buffer cannot fail");
        general_purpose::STANDARD.encode(signature)
    }
}

/// Decodes the `signature` header: standard base64, padding optional. An
/// empty header is malformed, not merely a signature that fails.
pub fn decode_signature(header: &str) -> Option<Vec<u8>> {
    SIGNATURE_BASE64
        .decode(header)
        .ok()
        .filter(|bytes| !bytes.is_empty())
}

/// A freshly generated pair, both halves PEM encoded.
pub struct KeyPairPem {
    /// PKCS#8 `BEGIN PRIVATE KEY`.
    pub private_pem: String,
    /// SPKI `BEGIN PUBLIC KEY`.
    pub public_pem: String,
}

impl std::fmt::Debug for KeyPairPem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyPairPem")
            .field("public_pem", &self.public_pem)
            .finish_non_exhaustive()
    }
}

/// Generates an RSA key pair of 2048, 3072 or 4096 bits.
pub fn generate_key_pair(bits: usize) -> Result<KeyPairPem, KeyError> {
    let size = match bits {
        2048 => KeySize::Rsa2048,
        3072 => KeySize::Rsa3072,
        4096 => KeySize::Rsa4096,
        other => return Err(KeyError::UnsupportedGenerateSize(other)),
    };
    let pair = KeyPair::generate(size).map_err(|_| KeyError::Encoding)?;
    let pkcs8: Pkcs8V1Der = pair.as_der().map_err(|_| KeyError::Encoding)?;
    let spki: PublicKeyX509Der = pair.public_key().as_der().map_err(|_| KeyError::Encoding)?;
    Ok(KeyPairPem {
        private_pem: pem_text("PRIVATE KEY", pkcs8.as_ref().to_vec()),
        public_pem: pem_text("PUBLIC KEY", spki.as_ref().to_vec()),
    })
}
