//! The user-sync body parser and the Content-Type check.
//!
//! Input: a Content-Type header value, a NUL, then the body. A parsed
//! profile must hold exactly the strings of the JSON object's fields, and
//! each of them must parse again as its domain type.
#![no_main]

use axum::http::{HeaderMap, HeaderValue, header};
use libfuzzer_sys::fuzz_target;
use payfac_domain::{Email, MerchantUserNo, PersonName};
use payfac_fuzz::fields;
use payfac_server::fuzzing::{check_content_type, parse_profile};
use serde_json::Value;

fuzz_target!(|data: &[u8]| {
    let parts = fields(data, 2);
    if let Ok(value) = HeaderValue::from_bytes(parts[0]) {
        let mut headers = HeaderMap::new();
        headers.insert(header::CONTENT_TYPE, value);
        if check_content_type(&headers).is_ok() {
            let text = std::str::from_utf8(parts[0]).expect("an accepted Content-Type is text");
            let media_type = text.split(';').next().unwrap_or("").trim();
            assert!(
                media_type.eq_ignore_ascii_case("application/json"),
                "accepted another media type"
            );
        }
    }

    let body = parts[1];
    let Ok(profile) = parse_profile(body) else {
        return;
    };
    let value: Value = serde_json::from_slice(body).expect("an accepted body is JSON");
    let object = value.as_object().expect("an accepted body is an object");
    let field = |name: &str| object.get(name).and_then(Value::as_str);
    assert_eq!(
        field("merchantUserNo"),
        Some(profile.merchant_user_no.as_str())
    );
    assert_eq!(field("email"), Some(profile.email.as_str()));
    assert_eq!(
        field("firstName"),
        profile.first_name.as_ref().map(PersonName::as_str)
    );
    assert_eq!(
        field("lastName"),
        profile.last_name.as_ref().map(PersonName::as_str)
    );

    let user_no = profile.merchant_user_no.as_str();
    assert!((1..=64).contains(&user_no.chars().count()));
    assert!(!user_no.chars().any(char::is_control));
    assert_eq!(
        MerchantUserNo::parse(user_no).as_ref(),
        Ok(&profile.merchant_user_no)
    );
    let email = profile.email.as_str();
    assert!(email.chars().count() <= 254 && email.matches('@').count() == 1);
    assert!(!email.chars().any(char::is_control));
    assert_eq!(
        Email::parse(email)
            .map(|e| e.as_str().to_owned())
            .as_deref(),
        Ok(email)
    );
    for name in [&profile.first_name, &profile.last_name]
        .into_iter()
        .flatten()
    {
        assert!(name.as_str().chars().count() <= 64);
        assert!(!name.as_str().chars().any(char::is_control));
    }
});
