//! Public-key parsing: PEM SPKI, PEM PKCS#1 and bare base64 DER, and DER
//! directly. An accepted key is RSA of 2048-4096 bits, and its PEM form
//! parses back to the same key and id.
//!
//! Input: the key text (read lossily), also tried as raw DER bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;
use payfac_signing::VerifyingKey;

fn check(key: &VerifyingKey) {
    assert!(
        (2048..=4096).contains(&key.bits()),
        "a key outside 2048-4096 bits was accepted"
    );
    let again = VerifyingKey::parse(&key.to_pem()).expect("the key's own PEM parses");
    assert_eq!(again.spki_der(), key.spki_der());
    assert_eq!(again.key_id(), key.key_id());
    let from_der = VerifyingKey::from_der(key.spki_der()).expect("the key's own DER parses");
    assert_eq!(from_der.key_id(), key.key_id());
}

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    if let Ok(key) = VerifyingKey::parse(&text) {
        check(&key);
    }
    if let Ok(key) = VerifyingKey::from_der(data) {
        check(&key);
    }
});
