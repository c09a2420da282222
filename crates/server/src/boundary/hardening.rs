//! The security headers of payfac's own HTML pages, and how a response
//! the storefront made is told apart (its pages keep their own headers).
//! The router's hardening layer and the gateway's shortcut both apply
//! [`harden_headers`].

use axum::http::{HeaderValue, header};
use axum::response::Response;

/// `Strict-Transport-Security`: one year, the usual minimum. No
/// `includeSubDomains` (the service does not speak for other hosts of its
/// domain) and no `preload` (the domain owner's decision).
pub const HSTS: &str = "max-age=31536000";

/// Marks a response the upstream storefront made (gateway mode): its
/// pages are the platform's, with their own scripts and headers, and
/// [`harden_headers`] leaves them as they are.
#[derive(Debug, Clone, Copy)]
pub struct Storefront;

/// Headers every HTML page of payfac's carries: no framing, no sniffing,
/// scripts and styles from this origin only, no referrer; and HSTS when
/// session cookies are `Secure`, i.e. the service is reached over HTTPS
/// (with `--insecure-cookies`, plain-HTTP development, a browser must not
/// be told to insist on HTTPS for that host for a year). A header the
/// handler set itself is kept.
pub fn harden_headers(response: &mut Response, insecure_cookies: bool) {
    if response.extensions().get::<Storefront>().is_some() {
        return;
    }
    let html = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| value.starts_with("text/html"));
    if !html {
        return;
    }
    let hsts = (!insecure_cookies).then_some((header::STRICT_TRANSPORT_SECURITY, HSTS));
    let headers = response.headers_mut();
    for (name, value) in [
        (
            header::CONTENT_SECURITY_POLICY,
            "default-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
        ),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::X_FRAME_OPTIONS, "DENY"),
        (header::REFERRER_POLICY, "no-referrer"),
    ]
    .into_iter()
    .chain(hsts)
    {
        headers
            .entry(name)
            .or_insert(HeaderValue::from_static(value));
    }
}
