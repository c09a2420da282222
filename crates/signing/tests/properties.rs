//! Property tests of the signature string: the order of the query's
//! parameters and the way each one is percent-encoded never change what
//! is signed. (The fuzz target fuzz/fuzz_targets/signature_string.rs
//! compares the string with an independent model on hostile bytes.)

use payfac_signing::{signature_string, sorted_params};
use proptest::prelude::*;

/// `k=v` pairs as form encoding writes them (`+` for space).
fn encode(pairs: &[(String, String)]) -> Vec<String> {
    pairs
        .iter()
        .map(|(key, value)| {
            let key: String = form_urlencoded::byte_serialize(key.as_bytes()).collect();
            let value: String = form_urlencoded::byte_serialize(value.as_bytes()).collect();
            format!("{key}={value}")
        })
        .collect()
}

/// Every byte as `%XX`, the other encoding a client may choose.
fn percent_every_byte(text: &str) -> String {
    text.bytes().map(|b| format!("%{b:02X}")).collect()
}

fn pairs() -> impl Strategy<Value = Vec<(String, String)>> {
    proptest::collection::vec((any::<String>(), any::<String>()), 0..8)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn a_shuffled_query_gives_the_same_string(
        (original, shuffled) in pairs().prop_flat_map(|pairs| {
            let encoded = encode(&pairs);
            (Just(encoded.clone()), Just(encoded).prop_shuffle())
        }),
        timestamp in "[0-9]{1,12}",
        nonce in "[A-Za-z0-9]{6,32}",
        body in proptest::collection::vec(any::<u8>(), 0..64),
    ) {
        let (a, b) = (original.join("&"), shuffled.join("&"));
        prop_assert_eq!(sorted_params(&a), sorted_params(&b));
        prop_assert_eq!(
            signature_string(&a, &timestamp, &nonce, &body),
            signature_string(&b, &timestamp, &nonce, &body)
        );
    }

    #[test]
    fn the_string_is_the_decoded_pairs_sorted(pairs in pairs()) {
        let query = encode(&pairs).join("&");
        // Every pair is kept, an empty one too: it is written "=", not
        // an empty part.
        let mut expected = pairs;
        expected.sort_by(|x, y| {
            x.0.as_bytes().cmp(y.0.as_bytes()).then_with(|| x.1.as_bytes().cmp(y.1.as_bytes()))
        });
        let joined: Vec<String> = expected.iter().map(|(k, v)| format!("{k}={v}")).collect();
        prop_assert_eq!(sorted_params(&query), joined.join("&"));
    }

    #[test]
    fn the_percent_encoding_chosen_does_not_matter(pairs in pairs()) {
        let usual = encode(&pairs).join("&");
        let every_byte: Vec<String> = pairs
            .iter()
            .map(|(key, value)| format!("{}={}", percent_every_byte(key), percent_every_byte(value)))
            .collect();
        prop_assert_eq!(sorted_params(&usual), sorted_params(&every_byte.join("&")));
    }

    #[test]
    fn timestamp_nonce_and_body_follow_the_params_verbatim(
        query in "[a-z0-9=&]{0,40}",
        timestamp in "[0-9]{1,12}",
        nonce in "[A-Za-z0-9]{6,32}",
        body in proptest::collection::vec(any::<u8>(), 0..256),
    ) {
        let mut expected = sorted_params(&query).into_bytes();
        expected.extend_from_slice(timestamp.as_bytes());
        expected.extend_from_slice(nonce.as_bytes());
        expected.extend_from_slice(&body);
        prop_assert_eq!(signature_string(&query, &timestamp, &nonce, &body), expected);
    }
}
