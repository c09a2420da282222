//! The signature string against an independent model of the signing rules
//! (payfac_fuzz::model_signature_string): any difference is a crash.
//!
//! Input: raw query, timestamp and nonce separated by NUL bytes, then the
//! body (the rest, NULs included). Text fields that are not UTF-8 are read
//! lossily, as the server never sees a non-UTF-8 query.
#![no_main]

use libfuzzer_sys::fuzz_target;
use payfac_fuzz::{fields, model_signature_string, model_sorted_params};
use payfac_signing::{signature_string, sorted_params};

fuzz_target!(|data: &[u8]| {
    let parts = fields(data, 4);
    let text = |bytes: &[u8]| String::from_utf8_lossy(bytes).into_owned();
    let (query, timestamp, nonce, body) =
        (text(parts[0]), text(parts[1]), text(parts[2]), parts[3]);

    let params = sorted_params(&query);
    assert_eq!(
        params,
        model_sorted_params(&query),
        "sorted params differ from the model"
    );
    assert_eq!(
        signature_string(&query, &timestamp, &nonce, body),
        model_signature_string(&query, &timestamp, &nonce, body),
        "signature string differs from the model"
    );

    // Reordering the pairs never changes the canonical form.
    let mut reversed: Vec<&str> = query.split('&').collect();
    reversed.reverse();
    assert_eq!(
        sorted_params(&reversed.join("&")),
        params,
        "order changed the string"
    );
});
