//! Which `Location` values stay on the browser's origin.
//!
//! One rule for every redirect payfac makes or passes on (after a
//! sign-in, the consent page's `next`, the gateway's rewrite of a
//! storefront redirect to its own address): a path with exactly one
//! leading `/`, no `\` (browsers read `/\host` as `//host`), and only
//! visible ASCII (browsers drop tabs and newlines from URLs, so `/\t/host`
//! is `//host` too); anything else is percent-encoded.

/// `path` and `query` as a `Location` on this site: leading `/` and `\`
/// collapse to one `/`, and every byte outside visible ASCII, and `\`,
/// is percent-encoded.
pub fn safe_location(path: &str, query: &str) -> String {
    let rest = path.trim_start_matches(['/', '\\']);
    let mut location = String::with_capacity(path.len() + query.len() + 2);
    location.push('/');
    push_encoded(&mut location, rest);
    if !query.is_empty() {
        location.push('?');
        push_encoded(&mut location, query);
    }
    location
}

fn push_encoded(out: &mut String, text: &str) {
    for byte in text.bytes() {
        if byte.is_ascii_graphic() && byte != b'\\' {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The rule, stated apart from the function that applies it: a path
    /// on this site that no browser reads as another origin.
    fn is_safe(location: &str) -> bool {
        let bytes = location.as_bytes();
        bytes.first() == Some(&b'/')
            && bytes.get(1).is_none_or(|second| *second != b'/')
            && bytes
                .iter()
                .all(|byte| byte.is_ascii_graphic() && *byte != b'\\')
    }

    #[test]
    fn location_never_leaves_the_site() {
        assert_eq!(safe_location("//evil.example/x", ""), "/evil.example/x");
        assert_eq!(safe_location("/\\evil.example", ""), "/evil.example");
        assert_eq!(
            safe_location("/\\/\\evil.example", "a=1"),
            "/evil.example?a=1"
        );
        assert_eq!(safe_location("/items/1", ""), "/items/1");
        assert_eq!(safe_location("/", ""), "/");
        assert_eq!(safe_location("/a\\b", ""), "/a%5Cb");
        assert_eq!(safe_location("/a b", "x=\t"), "/a%20b?x=%09");
        assert_eq!(safe_location("/\t/evil.example", ""), "/%09/evil.example");
    }

    #[test]
    fn what_safe_location_makes_is_safe_and_nothing_else() {
        for location in ["/", "/cart?x=1", "/a%5Cb", "/%09/evil.example"] {
            assert!(is_safe(location), "{location}");
        }
        for location in [
            "//evil.example",
            "/\\evil.example",
            "/\t/evil.example",
            "/a\\b",
            "/a b",
            "",
            "?x=1",
            "evil.example",
            "/\n/evil.example",
        ] {
            assert!(!is_safe(location), "{location:?}");
        }
        for (path, query) in [
            ("//x", ""),
            ("/\\x", "q"),
            ("/\t/x", ""),
            ("/é", "a=\u{7f}"),
        ] {
            assert!(is_safe(&safe_location(path, query)), "{path:?} {query:?}");
        }
    }
}
