//! The `X-Payfac-*` request headers an app receives for a signed-in buyer.
//!
//! Header values are bytes, and names or emails may not be ASCII: every
//! byte outside visible ASCII (0x21–0x7E), and `%` itself, is sent
//! percent-encoded from UTF-8, so any standard percent-decoder gives the
//! exact value back.

use axum::http::{HeaderMap, HeaderName, HeaderValue};
use payfac_domain::Buyer;

const USER_ID: HeaderName = HeaderName::from_static("x-payfac-user-id");
const MERCHANT: HeaderName = HeaderName::from_static("x-payfac-merchant");
const MERCHANT_USER_NO: HeaderName = HeaderName::from_static("x-payfac-merchant-user-no");
const EMAIL: HeaderName = HeaderName::from_static("x-payfac-email");
const FIRST_NAME: HeaderName = HeaderName::from_static("x-payfac-first-name");
const LAST_NAME: HeaderName = HeaderName::from_static("x-payfac-last-name");
/// The `X-Payfac-Identity` JWT.
pub const IDENTITY: HeaderName = HeaderName::from_static("x-payfac-identity");

/// Every header name payfac issues.
pub const ISSUED: [HeaderName; 7] = [
    USER_ID,
    MERCHANT,
    MERCHANT_USER_NO,
    EMAIL,
    FIRST_NAME,
    LAST_NAME,
    IDENTITY,
];

/// Adds the buyer's headers and the token; a header whose value is
/// unknown (no name synced) is left out.
pub(super) fn add_identity(headers: &mut HeaderMap, buyer: &Buyer, token: &str) {
    let fields = [
        (USER_ID, Some(buyer.user_id.to_string())),
        (MERCHANT, Some(buyer.merchant.clone())),
        (MERCHANT_USER_NO, Some(buyer.merchant_user_no.clone())),
        (EMAIL, Some(buyer.email.clone())),
        (FIRST_NAME, buyer.first_name.clone()),
        (LAST_NAME, buyer.last_name.clone()),
    ];
    for (name, value) in fields {
        if let Some(value) = value.filter(|value| !value.is_empty()) {
            headers.insert(name, header_text(&value));
        }
    }
    if let Ok(token) = HeaderValue::from_str(token) {
        headers.insert(IDENTITY, token);
    }
}

/// `text` as a header value: visible ASCII except `%` as is, every other
/// byte of its UTF-8 as `%XX`.
pub fn header_text(text: &str) -> HeaderValue {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_graphic() && byte != b'%' {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    HeaderValue::from_str(&out).expect("visible ASCII only")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every name payfac issues is payfac's by the edge's rule, so the
    /// gateway's and forward auth's stripping covers all of them.
    #[test]
    fn every_issued_name_is_payfacs() {
        for name in ISSUED {
            assert!(
                crate::boundary::headers::is_payfacs(name.as_str()),
                "{name}"
            );
        }
    }

    #[test]
    fn values_outside_visible_ascii_are_percent_encoded() {
        assert_eq!(header_text("Ada"), "Ada");
        assert_eq!(header_text("jürgen@example.de"), "j%C3%BCrgen@example.de");
        assert_eq!(header_text("Mary Ann"), "Mary%20Ann");
        assert_eq!(header_text("100%"), "100%25");
        assert_eq!(header_text("a\u{7f}"), "a%7F");
    }
}
