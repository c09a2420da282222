//! Every vector of `shared/test-vectors/signature-vectors.json`, byte for byte.

use std::path::PathBuf;

use payfac_signing::{SigningKey, VerifyingKey, decode_signature, signature_string};
use serde::Deserialize;

#[derive(Deserialize)]
struct Vectors {
    #[serde(rename = "privateKey")]
    private_key: String,
    #[serde(rename = "publicKey")]
    public_key: String,
    cases: Vec<Case>,
}

#[derive(Deserialize)]
struct Case {
    name: String,
    #[serde(rename = "rawQuery")]
    raw_query: String,
    timestamp: String,
    nonce: String,
    body: String,
    #[serde(rename = "signatureString")]
    signature_string: String,
    signature: String,
}

fn vectors_dir() -> PathBuf {
    std::env::var_os("PAYFAC_TEST_VECTORS")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/test-vectors")
        })
}

fn load() -> (Vectors, PathBuf) {
    let dir = vectors_dir();
    let text = std::fs::read_to_string(dir.join("signature-vectors.json"))
        .expect("shared/test-vectors/signature-vectors.json beside the repository");
    (serde_json::from_str(&text).unwrap(), dir)
}

#[test]
fn signature_strings_match_every_vector() {
    let (vectors, _) = load();
    assert!(vectors.cases.len() >= 6);
    for case in &vectors.cases {
        let built = signature_string(
            &case.raw_query,
            &case.timestamp,
            &case.nonce,
            case.body.as_bytes(),
        );
        assert_eq!(
            String::from_utf8(built).unwrap(),
            case.signature_string,
            "case {}",
            case.name
        );
    }
}

#[test]
fn signatures_match_every_vector_and_verify() {
    let (vectors, dir) = load();
    let private = std::fs::read_to_string(dir.join(&vectors.private_key)).unwrap();
    let public = std::fs::read_to_string(dir.join(&vectors.public_key)).unwrap();
    let signer = SigningKey::from_pem(&private).unwrap();
    let verifier = VerifyingKey::parse(&public).unwrap();
    for case in &vectors.cases {
        let message = case.signature_string.as_bytes();
        assert_eq!(signer.sign(message), case.signature, "case {}", case.name);
        let raw = decode_signature(&case.signature).unwrap();
        assert!(verifier.verify(message, &raw), "case {}", case.name);
        let mut tampered = message.to_vec();
        tampered.push(b' ');
        assert!(!verifier.verify(&tampered, &raw), "case {}", case.name);
    }
}

#[test]
fn all_three_public_key_encodings_give_the_same_key() {
    let dir = vectors_dir();
    let read = |name: &str| std::fs::read_to_string(dir.join(name)).unwrap();
    let spki = VerifyingKey::parse(&read("merchant-test.pub.pem")).unwrap();
    let pkcs1 = VerifyingKey::parse(&read("merchant-test.pub.pkcs1.pem")).unwrap();
    let bare = VerifyingKey::parse(&read("merchant-test.pub.b64")).unwrap();
    assert_eq!(spki.spki_der(), pkcs1.spki_der());
    assert_eq!(spki.spki_der(), bare.spki_der());
    assert_eq!(spki.key_id(), bare.key_id());
    assert_eq!(spki.bits(), 2048);
}

#[test]
fn unpadded_signature_base64_is_accepted() {
    let (vectors, _) = load();
    let padded = &vectors.cases[0].signature;
    let unpadded = padded.trim_end_matches('=');
    assert_eq!(decode_signature(unpadded), decode_signature(padded));
    assert!(decode_signature("not base64!").is_none());
    assert!(decode_signature("").is_none());
    assert!(
        decode_signature("-_-_").is_none(),
        "base64url is not standard base64"
    );
}
