//! Which request header names are payfac's.
//!
//! A name is payfac's when, lower-cased and with `_` read as `-`, it
//! begins `x-payfac-`. The underscore form matters because CGI-style
//! servers (WSGI, PHP, Rack, many servlet containers) turn both `-` and
//! `_` into `_` when they build `HTTP_*` variables: an app reading
//! `HTTP_X_PAYFAC_USER_ID` sees `X_Payfac_User_Id` from a client exactly
//! as it sees payfac's `X-Payfac-User-Id`. The gateway removes every such
//! name a client sent; forward auth refuses a request carrying one that
//! payfac does not issue itself (the proxy overwrites only those).

use axum::http::{HeaderMap, HeaderName};

/// The prefix of every header payfac issues, in `HeaderMap`'s lower case.
const PREFIX: &str = "x-payfac-";

/// Whether `name` is payfac's (see the module doc).
pub fn is_payfacs(name: &str) -> bool {
    name.len() >= PREFIX.len()
        && name
            .bytes()
            .zip(PREFIX.bytes())
            .all(|(byte, wanted)| match byte {
                b'_' => wanted == b'-',
                byte => byte.to_ascii_lowercase() == wanted,
            })
}

/// Removes every header whose name is payfac's.
pub fn strip_payfacs(headers: &mut HeaderMap) {
    let names: Vec<HeaderName> = headers
        .keys()
        .filter(|name| is_payfacs(name.as_str()))
        .cloned()
        .collect();
    for name in names {
        headers.remove(name);
    }
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;

    use super::*;

    #[test]
    fn payfacs_names_in_every_spelling() {
        for name in [
            "x-payfac-user-id",
            "X-Payfac-Identity",
            "x_payfac_user_id",
            "X_PAYFAC_EMAIL",
            "x-payfac_x",
            "x_payfac-anything",
        ] {
            assert!(is_payfacs(name), "{name}");
        }
        for name in [
            "x-payfacade",
            "x-payfac",
            "payfac-user-id",
            "x--payfac-",
            "xpayfac-a",
        ] {
            assert!(!is_payfacs(name), "{name}");
        }
    }

    #[test]
    fn every_spelling_is_removed_and_nothing_else() {
        let mut headers = HeaderMap::new();
        headers.insert("X-Payfac-User-Id", HeaderValue::from_static("1"));
        headers.append("x-PAYFAC-identity", HeaderValue::from_static("forged"));
        headers.append("x_payfac_user_id", HeaderValue::from_static("4242"));
        headers.append("X_Payfac-Email", HeaderValue::from_static("a@b"));
        headers.insert("x-payfacade", HeaderValue::from_static("kept"));
        strip_payfacs(&mut headers);
        assert_eq!(headers.len(), 1, "{headers:?}");
        assert_eq!(headers["x-payfacade"], "kept");
    }

    /// The Caddyfile removes both spellings before `forward_auth`.
    #[test]
    fn the_shipped_caddyfile_removes_both_spellings() {
        let caddy = include_str!("../../../../deploy/caddy/Caddyfile");
        assert!(caddy.contains("request_header -X-Payfac-*"));
        assert!(caddy.contains("request_header -X_Payfac_*"));
    }
}
