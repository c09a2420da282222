//! What changes on the way through the gateway: hop-by-hop headers
//! (RFC 9110 §7.6.1), request trailers, the `X-Forwarded-*` headers the
//! upstream reads the browser's view from, and redirects to the
//! upstream's own address. payfac's cookies and header names are
//! `crate::boundary`'s.

use std::net::IpAddr;

use axum::body::{Body, Bytes};
use axum::http::{HeaderMap, HeaderName, HeaderValue, header};
use http_body_util::BodyExt;
use hyper::body::{Body as _, Frame};

use crate::boundary::redirects;

/// Headers that describe one connection, not the message: never
/// forwarded, in either direction. `Proxy-Connection` and `Keep-Alive`
/// are pre-RFC 9110 but still sent by some clients.
const HOP_BY_HOP: [HeaderName; 8] = [
    header::CONNECTION,
    HeaderName::from_static("keep-alive"),
    HeaderName::from_static("proxy-connection"),
    header::PROXY_AUTHENTICATE,
    header::PROXY_AUTHORIZATION,
    header::TE,
    header::TRANSFER_ENCODING,
    header::UPGRADE,
];

/// Removes the hop-by-hop headers and every header the `Connection`
/// header names.
pub fn remove_hop_by_hop(headers: &mut HeaderMap) {
    let named: Vec<HeaderName> = headers
        .get_all(header::CONNECTION)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .filter_map(|name| HeaderName::from_bytes(name.trim().as_bytes()).ok())
        .collect();
    for name in named.iter().chain(HOP_BY_HOP.iter()) {
        headers.remove(name);
    }
}

/// A request body without its trailer section: a client's trailers
/// (`X-Payfac-User-Id` in a chunked trailer) never reach the storefront,
/// whose HTTP stack may merge them into the headers. The trailer frame
/// becomes an empty data frame, which adds nothing to the body.
pub fn without_trailers(body: Body) -> Body {
    if body.is_end_stream() {
        return body;
    }
    Body::new(body.map_frame(|frame| match frame.into_data() {
        Ok(data) => Frame::data(data),
        Err(_trailers) => Frame::data(Bytes::new()),
    }))
}

/// `X-Forwarded-For` gets the peer appended (as nginx's
/// `$proxy_add_x_forwarded_for`); `X-Forwarded-Host` is the host the
/// browser asked for and `X-Forwarded-Proto` the scheme it used, both
/// replacing whatever the client sent.
pub fn set_forwarded(
    headers: &mut HeaderMap,
    peer: Option<IpAddr>,
    host: Option<&str>,
    proto: &str,
) {
    if let Some(peer) = peer {
        let earlier: Vec<&str> = headers
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|value| value.to_str().ok())
            .collect();
        let mut list = earlier.join(", ");
        if !list.is_empty() {
            list.push_str(", ");
        }
        list.push_str(&peer.to_string());
        if let Ok(value) = HeaderValue::from_str(&list) {
            headers.insert("x-forwarded-for", value);
        }
    }
    headers.remove("x-forwarded-host");
    if let Some(value) = host.and_then(|host| HeaderValue::from_str(host).ok()) {
        headers.insert("x-forwarded-host", value);
    }
    headers.insert(
        "x-forwarded-proto",
        HeaderValue::from_str(proto).unwrap_or(HeaderValue::from_static("https")),
    );
}

/// A `Location` naming the upstream's own address (`http://{authority}`,
/// which a storefront builds from the `Host` payfac sends it, or
/// `https://{authority}` from that `Host` and `X-Forwarded-Proto`)
/// becomes the same path on payfac's origin (`/…`), as nginx's
/// `proxy_redirect default` does: the browser never learns the internal
/// address, and stays on the front door. Every other `Location` is kept.
///
/// The path is made by `boundary::redirects`, payfac's rule for its own
/// redirects: `http://{upstream}/\evil.example/` must not become
/// `/\evil.example/`, which browsers follow to another site (as they do
/// `//host` and `/\t/host`).
pub fn relocate(headers: &mut HeaderMap, authority: &str) {
    let Some(location) = headers.get(header::LOCATION) else {
        return;
    };
    // Bytes, not `to_str`: a tab or other control byte in it must be
    // rewritten (and encoded) too, not passed on as it came.
    let Ok(location) = std::str::from_utf8(location.as_bytes()) else {
        return;
    };
    let Some(rest) = strip_prefix_ignoring_case(location, "http://")
        .or_else(|| strip_prefix_ignoring_case(location, "https://"))
        .and_then(|rest| strip_prefix_ignoring_case(rest, authority))
    else {
        return;
    };
    let relative = match rest.chars().next() {
        None | Some('/' | '?' | '#') => {
            let (path, query) = rest.split_once('?').unwrap_or((rest, ""));
            redirects::safe_location(path, query)
        }
        // Another host or port that starts the same (`:30001`, `.evil`).
        _ => return,
    };
    if let Ok(value) = HeaderValue::from_str(&relative) {
        headers.insert(header::LOCATION, value);
    }
}

fn strip_prefix_ignoring_case<'a>(text: &'a str, prefix: &str) -> Option<&'a str> {
    let head = text.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix)
        .then(|| &text[prefix.len()..])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redirects_to_the_upstream_stay_on_payfac() {
        for (location, sent) in [
            ("http://shop:3000/cart?x=1", "/cart?x=1"),
            ("HTTP://Shop:3000/cart", "/cart"),
            ("http://shop:3000", "/"),
            ("http://shop:3000?x=1", "/?x=1"),
            ("http://shop:30001/cart", "http://shop:30001/cart"),
            (
                "http://shop:3000.evil.example/",
                "http://shop:3000.evil.example/",
            ),
            ("http://shop:3000//evil.example", "/evil.example"),
            ("http://shop:3000/\\evil.example/", "/evil.example/"),
            ("http://shop:3000/%09/evil.example/", "/%09/evil.example/"),
            (
                "http://shop:3000/\\/\\evil.example?next=/",
                "/evil.example?next=/",
            ),
            ("http://shop:3000/a\\b", "/a%5Cb"),
            ("https://shop:3000/cart", "/cart"),
            ("ftp://shop:3000/cart", "ftp://shop:3000/cart"),
            ("https://pay.example/return", "https://pay.example/return"),
            ("/already/relative", "/already/relative"),
        ] {
            let mut headers = HeaderMap::new();
            headers.insert(header::LOCATION, HeaderValue::from_str(location).unwrap());
            relocate(&mut headers, "shop:3000");
            assert_eq!(headers[header::LOCATION], sent, "{location}");
        }
        // A control byte is rewritten and encoded, not passed on.
        let mut headers = HeaderMap::new();
        headers.insert(
            header::LOCATION,
            HeaderValue::from_bytes(b"http://shop:3000/\t/evil.example/").unwrap(),
        );
        relocate(&mut headers, "shop:3000");
        assert_eq!(headers[header::LOCATION], "/%09/evil.example/");
    }

    #[test]
    fn hop_by_hop_and_connection_named_headers_go() {
        let mut headers = HeaderMap::new();
        headers.insert(
            "connection",
            HeaderValue::from_static("keep-alive, X-Secret"),
        );
        headers.insert("x-secret", HeaderValue::from_static("1"));
        headers.insert("keep-alive", HeaderValue::from_static("timeout=5"));
        headers.insert("te", HeaderValue::from_static("trailers"));
        headers.insert("transfer-encoding", HeaderValue::from_static("chunked"));
        headers.insert("upgrade", HeaderValue::from_static("websocket"));
        headers.insert("accept", HeaderValue::from_static("text/html"));
        remove_hop_by_hop(&mut headers);
        assert_eq!(headers.len(), 1, "{headers:?}");
        assert_eq!(headers["accept"], "text/html");
    }

    #[test]
    fn forwarded_headers_append_and_replace() {
        let mut headers = HeaderMap::new();
        headers.insert("x-forwarded-for", HeaderValue::from_static("203.0.113.9"));
        headers.insert("x-forwarded-host", HeaderValue::from_static("evil.example"));
        set_forwarded(
            &mut headers,
            Some("127.0.0.1".parse().unwrap()),
            Some("shop.example"),
            "https",
        );
        assert_eq!(headers["x-forwarded-for"], "203.0.113.9, 127.0.0.1");
        assert_eq!(headers["x-forwarded-host"], "shop.example");
        assert_eq!(headers["x-forwarded-proto"], "https");
    }
}
