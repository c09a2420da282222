//! The `timestamp`, `nonce` and `signature` header parsers against their
//! documented shapes: a timestamp is 1-12 ASCII digits, a nonce 6-32 of
//! `[A-Za-z0-9]`, a signature non-empty standard base64 with optional
//! padding (payfac_fuzz::model_base64_decode).
//!
//! Input: any bytes, read lossily as the header text.
#![no_main]

use libfuzzer_sys::fuzz_target;
use payfac_domain::{Nonce, Timestamp};
use payfac_fuzz::model_base64_decode;
use payfac_signing::decode_signature;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let text = text.as_ref();

    let digits = (1..=12).contains(&text.len()) && text.bytes().all(|b| b.is_ascii_digit());
    match Timestamp::parse(text) {
        Ok(timestamp) => {
            assert!(digits, "a timestamp that is not 1-12 digits was accepted");
            let value = text.bytes().fold(0i64, |n, d| n * 10 + i64::from(d - b'0'));
            assert_eq!(timestamp.unix_seconds(), value);
            assert!(timestamp.unix_seconds() >= 0);
        }
        Err(_) => assert!(!digits, "a 1-12 digit timestamp was refused"),
    }

    let nonce_shape =
        (6..=32).contains(&text.len()) && text.bytes().all(|b| b.is_ascii_alphanumeric());
    match Nonce::parse(text) {
        Ok(nonce) => {
            assert!(nonce_shape, "a malformed nonce was accepted");
            assert_eq!(nonce.as_str(), text);
        }
        Err(_) => assert!(!nonce_shape, "a well-formed nonce was refused"),
    }

    let expected = model_base64_decode(text).filter(|bytes| !bytes.is_empty());
    assert_eq!(
        decode_signature(text),
        expected,
        "signature decoding differs from the model"
    );
});
