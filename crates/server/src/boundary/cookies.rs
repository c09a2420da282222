//! payfac's cookies: the only two it issues, how they are set and read,
//! and how they are kept from the storefront.

use axum::http::{HeaderMap, HeaderValue, header};

/// The buyer's session.
pub const SESSION: &str = "payfac_session";
/// A sign-in waiting for the buyer's consent (`sign_in::consent`).
pub const PENDING: &str = "payfac_pending";
/// Every cookie payfac issues: none of them ever reaches a storefront.
pub const ISSUED: [&str; 2] = [SESSION, PENDING];

/// `Set-Cookie` of one of payfac's cookies: `HttpOnly`, `SameSite=Lax`,
/// `Path=/`, and `Secure` unless the service runs for plain-HTTP
/// development. `max_age` 0 clears the cookie.
pub fn set(name: &str, value: &str, max_age: i64, insecure: bool) -> HeaderValue {
    debug_assert!(
        ISSUED.contains(&name),
        "{name} is not one of payfac's cookies"
    );
    let secure = if insecure { "" } else { "; Secure" };
    HeaderValue::from_str(&format!(
        "{name}={value}; Max-Age={max_age}; Path=/; HttpOnly; SameSite=Lax{secure}"
    ))
    .expect("credentials and attributes are ASCII")
}

/// `Set-Cookie` that clears `name`.
pub fn clear(name: &str, insecure: bool) -> HeaderValue {
    set(name, "", 0, insecure)
}

/// The `name=value` pairs of every `Cookie` header, each pair trimmed of
/// the whitespace around it (`; ` separates them) and nothing else: a
/// value is read exactly as sent, so `payfac_session=<TAB>token` is no
/// session.
fn pairs(headers: &HeaderMap) -> impl Iterator<Item = (&str, &str)> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
}

/// The first value of the cookie `name` the browser presented.
pub fn value<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    pairs(headers)
        .find(|(found, _)| *found == name)
        .map(|(_, value)| value)
}

/// Whether the browser presented a cookie named `name`, whatever its
/// value.
pub fn presented(headers: &HeaderMap, name: &str) -> bool {
    pairs(headers).any(|(found, _)| found == name)
}

/// Removes every cookie payfac issues from every `Cookie` header and keeps
/// the other cookies exactly as sent; a header left empty is dropped.
pub fn strip_issued(headers: &mut HeaderMap) {
    let values: Vec<HeaderValue> = headers.get_all(header::COOKIE).iter().cloned().collect();
    if values.is_empty() {
        return;
    }
    headers.remove(header::COOKIE);
    for value in values {
        let Ok(text) = value.to_str() else {
            // Not text: it cannot be parsed, so it cannot be shown to hold
            // none of payfac's cookies; it is dropped rather than risked.
            continue;
        };
        let kept: Vec<&str> = text
            .split(';')
            .map(str::trim)
            .filter(|pair| {
                let name = pair.split_once('=').map_or(*pair, |(name, _)| name).trim();
                !pair.is_empty() && !ISSUED.contains(&name)
            })
            .collect();
        if kept.is_empty() {
            continue;
        }
        if let Ok(value) = HeaderValue::from_str(&kept.join("; ")) {
            headers.append(header::COOKIE, value);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_issued_cookie_is_removed_and_nothing_else() {
        let mut headers = HeaderMap::new();
        headers.append(
            "cookie",
            HeaderValue::from_static("a=1; payfac_session=1.secret;b=2"),
        );
        headers.append("cookie", HeaderValue::from_static("payfac_pending=2.x"));
        headers.append(
            "cookie",
            HeaderValue::from_static("payfac_sessionx=kept; payfac_pending =3.y"),
        );
        strip_issued(&mut headers);
        let cookies: Vec<_> = headers.get_all("cookie").iter().collect();
        assert_eq!(cookies, ["a=1; b=2", "payfac_sessionx=kept"]);
    }

    #[test]
    fn values_are_read_by_exact_name() {
        let mut headers = HeaderMap::new();
        headers.insert(
            "cookie",
            HeaderValue::from_static("payfac_sessionx=1; payfac_session=2; payfac_session=3"),
        );
        assert_eq!(value(&headers, SESSION), Some("2"));
        assert!(presented(&headers, SESSION));
        assert!(!presented(&headers, PENDING));
        headers.insert("cookie", HeaderValue::from_static("payfac_session="));
        assert!(presented(&headers, SESSION));
        headers.insert(
            "cookie",
            HeaderValue::from_static("a=1; payfac_session=\t2 "),
        );
        assert_eq!(
            value(&headers, SESSION),
            Some("\t2"),
            "read exactly as sent"
        );
    }

    /// The shipped proxy configurations keep every issued cookie from the
    /// app too: a cookie added here without them fails this test.
    #[test]
    fn the_shipped_proxy_configs_strip_every_issued_cookie() {
        let nginx = include_str!("../../../../deploy/nginx/payfac.conf");
        let caddy = include_str!("../../../../deploy/caddy/Caddyfile");
        for name in ISSUED {
            assert!(nginx.contains(&format!("{name}=[^;]*")), "nginx: {name}");
            let suffix = name.strip_prefix("payfac_").unwrap();
            let caddy_rule = caddy
                .lines()
                .find(|line| line.contains("request_header Cookie") && line.contains("payfac_("))
                .expect("the Caddyfile's cookie rule");
            assert!(caddy_rule.contains(suffix), "Caddyfile: {name}");
        }
    }

    #[test]
    fn set_cookie_attributes() {
        assert_eq!(
            set(SESSION, "v", 60, false),
            "payfac_session=v; Max-Age=60; Path=/; HttpOnly; SameSite=Lax; Secure"
        );
        assert_eq!(
            clear(PENDING, true),
            "payfac_pending=; Max-Age=0; Path=/; HttpOnly; SameSite=Lax"
        );
    }
}
