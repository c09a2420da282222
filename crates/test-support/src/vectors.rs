//! The project's signature test vectors in `tests/vectors/`, made by
//! `scripts/gen-vectors.py` with Python and the `openssl` command line, so
//! that they check the Rust signer instead of echoing it.

use std::path::PathBuf;

use serde::Deserialize;

/// `tests/vectors/` at the root of the repository.
pub fn dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/vectors")
}

/// A file of the vectors folder, by name.
pub fn path(name: &str) -> PathBuf {
    dir().join(name)
}

/// A file of the vectors folder, as text.
pub fn read(name: &str) -> String {
    let file = path(name);
    std::fs::read_to_string(&file)
        .unwrap_or_else(|error| panic!("cannot read {}: {error}", file.display()))
}

/// The throwaway merchant key pair's private half (PKCS#8 PEM).
pub fn private_key_pem() -> String {
    read(PRIVATE_KEY)
}

/// The throwaway merchant key pair's public half (SPKI PEM).
pub fn public_key_pem() -> String {
    read(PUBLIC_KEY)
}

pub const PRIVATE_KEY: &str = "merchant-test.key.pem";
pub const PUBLIC_KEY: &str = "merchant-test.pub.pem";
pub const PUBLIC_KEY_PKCS1: &str = "merchant-test.pub.pkcs1.pem";
pub const PUBLIC_KEY_BARE: &str = "merchant-test.pub.b64";

/// `signature-vectors.json`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Vectors {
    pub private_key: String,
    pub public_key: String,
    pub cases: Vec<Case>,
}

/// One request and the signature string and signature it must give.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Case {
    pub name: String,
    pub raw_query: String,
    pub timestamp: String,
    pub nonce: String,
    pub body: String,
    pub signature_string: String,
    pub signature: String,
}

/// Every vector.
pub fn load() -> Vectors {
    serde_json::from_str(&read("signature-vectors.json")).expect("signature-vectors.json parses")
}
