//! Authorization codes, session tokens and the session cookie.
//!
//! Input: any bytes. As text they are a code and a token: accepted only
//! in the documented shape (32 or 43 of `[A-Za-z0-9]`), and printing an
//! accepted one gives the same text back (a 10-character base62 id always
//! fits the 64-bit storage id: 62^10 < 2^63). As a `Cookie` header they give
//! a session token only when a `payfac_session` pair carries exactly it.
#![no_main]

use axum::http::{HeaderMap, HeaderValue, header};
use libfuzzer_sys::fuzz_target;
use payfac_domain::{AuthorizationCode, SessionToken};
use payfac_server::fuzzing::presented_token;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let text = text.as_ref();
    let shaped =
        |length: usize| text.len() == length && text.bytes().all(|b| b.is_ascii_alphanumeric());

    match AuthorizationCode::parse(text) {
        Ok(code) => {
            assert!(
                shaped(AuthorizationCode::LENGTH),
                "a malformed code was accepted"
            );
            assert!(
                code.expose() == text,
                "a code does not print as it was given"
            );
        }
        Err(_) => assert!(
            !shaped(AuthorizationCode::LENGTH),
            "a well-formed code was refused"
        ),
    }
    match SessionToken::parse(text) {
        Ok(token) => {
            assert!(
                shaped(SessionToken::LENGTH),
                "a malformed token was accepted"
            );
            assert!(
                token.expose() == text,
                "a token does not print as it was given"
            );
        }
        Err(_) => assert!(
            !shaped(SessionToken::LENGTH),
            "a well-formed token was refused"
        ),
    }

    let Ok(value) = HeaderValue::from_bytes(data) else {
        return;
    };
    let mut headers = HeaderMap::new();
    headers.insert(header::COOKIE, value);
    if let Some(token) = presented_token(&headers) {
        let cookie = std::str::from_utf8(data).expect("a cookie that gave a token is text");
        let wanted = format!("payfac_session={}", token.expose());
        assert!(
            cookie.split(';').any(|pair| pair.trim() == wanted),
            "a token was read from a cookie without that pair"
        );
    }
});
