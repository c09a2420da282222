//! Every vector of `tests/vectors/signature-vectors.json` (made by
//! `scripts/gen-vectors.py` with Python and openssl), byte for byte.

use payfac_signing::{SigningKey, VerifyingKey, decode_signature, signature_string};
use payfac_test_support::vectors;

#[test]
fn signature_strings_match_every_vector() {
    let vectors = vectors::load();
    assert!(vectors.cases.len() >= 10);
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
    let vectors = vectors::load();
    let private = vectors::read(&vectors.private_key);
    let public = vectors::read(&vectors.public_key);
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
    let spki = VerifyingKey::parse(&vectors::read(vectors::PUBLIC_KEY)).unwrap();
    let pkcs1 = VerifyingKey::parse(&vectors::read(vectors::PUBLIC_KEY_PKCS1)).unwrap();
    let bare = VerifyingKey::parse(&vectors::read(vectors::PUBLIC_KEY_BARE)).unwrap();
    assert_eq!(spki.spki_der(), pkcs1.spki_der());
    assert_eq!(spki.spki_der(), bare.spki_der());
    assert_eq!(spki.key_id(), bare.key_id());
    assert_eq!(spki.bits(), 2048);
}

#[test]
fn unpadded_signature_base64_is_accepted() {
    let vectors = vectors::load();
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
