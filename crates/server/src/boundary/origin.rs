//! Which buyer `POST`s come from another site.
//!
//! Every state-changing buyer form of payfac's (the consent choice,
//! logout) is refused when the browser says the request comes from
//! another origin. Browsers say it in `Sec-Fetch-Site` (every current
//! browser, on every request) and in `Origin` (on every form `POST`).
//!
//! `Sec-Fetch-Site` decides when present: only `same-origin` (and `none`,
//! a request the user made directly) passes; `same-site` (another port or
//! subdomain) does not. `Origin` cannot decide alone: payfac's pages send
//! `Referrer-Policy: no-referrer`, under which a browser sends `Origin:
//! null` even for a form posted from payfac's own page (Fetch standard,
//! "serializing a request origin"). So an `Origin` naming another host is
//! refused always, and `null` only when `Sec-Fetch-Site` is absent and
//! nothing else tells where the form came from.

use axum::http::{HeaderMap, header};

/// Whether the request says it comes from another origin (see the module
/// doc).
pub fn is_cross_site(headers: &HeaderMap) -> bool {
    let fetch_site = headers.get("sec-fetch-site").map(|value| value.as_bytes());
    if fetch_site.is_some_and(|site| !matches!(site, b"same-origin" | b"none")) {
        return true;
    }
    let Some(origin) = headers.get(header::ORIGIN) else {
        return false;
    };
    if origin.as_bytes() == b"null" {
        return fetch_site.is_none();
    }
    let host = headers.get(header::HOST).map(|host| host.as_bytes());
    let origin_host = origin
        .to_str()
        .ok()
        .and_then(|origin| origin.split_once("://"))
        .map(|(_, host)| host.as_bytes());
    origin_host.is_none() || origin_host != host
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;

    use super::*;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for (name, value) in pairs {
            headers.insert(*name, HeaderValue::from_static(value));
        }
        headers
    }

    #[test]
    fn another_origin_or_a_cross_site_fetch_is_cross_site() {
        let host = ("host", "shop.example");
        assert!(!is_cross_site(&headers(&[host])));
        assert!(!is_cross_site(&headers(&[
            host,
            ("origin", "https://shop.example")
        ])));
        assert!(!is_cross_site(&headers(&[
            host,
            ("sec-fetch-site", "same-origin")
        ])));
        assert!(is_cross_site(&headers(&[
            host,
            ("origin", "https://evil.example")
        ])));
        assert!(is_cross_site(&headers(&[host, ("origin", "null")])));
        assert!(is_cross_site(&headers(&[
            host,
            ("origin", "https://shop.example.evil")
        ])));
        assert!(is_cross_site(&headers(&[
            host,
            ("sec-fetch-site", "cross-site")
        ])));
        assert!(is_cross_site(&headers(&[
            host,
            ("sec-fetch-site", "same-site")
        ])));
        // A form on payfac's own no-referrer page: Origin null, same-origin.
        let own_form = [host, ("origin", "null"), ("sec-fetch-site", "same-origin")];
        assert!(!is_cross_site(&headers(&own_form)));
        let contradiction = [
            host,
            ("origin", "https://evil.example"),
            ("sec-fetch-site", "same-origin"),
        ];
        assert!(is_cross_site(&headers(&contradiction)));
    }
}
