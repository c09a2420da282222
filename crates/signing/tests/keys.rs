//! Key acceptance rules: formats, sizes and clear refusals.

use payfac_signing::{KeyError, SigningKey, VerifyingKey, generate_key_pair};

#[test]
fn generated_pair_signs_and_verifies() {
    let pair = generate_key_pair(2048).unwrap();
    assert!(
        pair.private_pem
            .starts_with("-----BEGIN PRIVATE KEY-----\n")
    );
    assert!(!pair.private_pem.contains('\r') && !pair.public_pem.contains('\r'));
    let signer = SigningKey::from_pem(&pair.private_pem).unwrap();
    let verifier = VerifyingKey::parse(&pair.public_pem).unwrap();
    let signature = payfac_signing::decode_signature(&signer.sign(b"hello")).unwrap();
    assert!(verifier.verify(b"hello", &signature));
    assert!(!verifier.verify(b"hellO", &signature));
}

#[test]
fn private_key_given_as_public_is_refused() {
    let pair = generate_key_pair(2048).unwrap();
    assert_eq!(
        VerifyingKey::parse(&pair.private_pem).unwrap_err(),
        KeyError::PrivateKeyGiven
    );
}

#[test]
fn garbage_is_refused() {
    assert_eq!(
        VerifyingKey::parse("hello world").unwrap_err(),
        KeyError::NotDecodable
    );
    assert_eq!(
        VerifyingKey::parse("aGVsbG8=").unwrap_err(),
        KeyError::NotRsa
    );
}

#[test]
fn ec_key_is_refused_as_ec() {
    assert_eq!(
        VerifyingKey::parse(include_str!("fixtures/ec-p256.pub.pem")).unwrap_err(),
        KeyError::EcKey
    );
}

#[test]
fn rsa_sizes_outside_2048_to_4096_are_refused() {
    assert_eq!(
        VerifyingKey::parse(include_str!("fixtures/rsa-1024.pub.pem")).unwrap_err(),
        KeyError::BadSize(1024)
    );
    assert_eq!(
        VerifyingKey::parse(include_str!("fixtures/rsa-8192.pub.pem")).unwrap_err(),
        KeyError::BadSize(8192)
    );
    let largest = VerifyingKey::parse(include_str!("fixtures/rsa-4096.pub.pem")).unwrap();
    assert_eq!(largest.bits(), 4096);
}

#[test]
fn unsupported_generate_size_is_refused() {
    assert_eq!(
        generate_key_pair(1024).unwrap_err(),
        KeyError::UnsupportedGenerateSize(1024)
    );
}
