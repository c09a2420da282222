//! The string a merchant signs: `sorted_params + timestamp + nonce + body`.

/// Canonical form of a raw URL query: `&`-separated parts (empty ones
/// skipped), each split at its first `=`, both halves decoded as
/// `application/x-www-form-urlencoded` (`+` is a space), sorted by key then
/// value in UTF-8 byte order and joined as `k1=v1&k2=v2`.
pub fn sorted_params(raw_query: &str) -> String {
    let mut pairs: Vec<(String, String)> = form_urlencoded::parse(raw_query.as_bytes())
        .map(|(key, value)| (key.into_owned(), value.into_owned()))
        .collect();
    // `String`'s ordering is byte order of its UTF-8 encoding.
    pairs.sort_unstable();
    let mut out = String::with_capacity(raw_query.len());
    for (index, (key, value)) in pairs.iter().enumerate() {
        if index > 0 {
            out.push('&');
        }
        out.push_str(key);
        out.push('=');
        out.push_str(value);
    }
    out
}

/// The exact bytes that are signed. The body is taken as raw bytes, never
/// re-serialized, so any JSON formatting the merchant sent is what counts.
pub fn signature_string(raw_query: &str, timestamp: &str, nonce: &str, body: &[u8]) -> Vec<u8> {
    let params = sorted_params(raw_query);
    let mut out = Vec::with_capacity(params.len() + timestamp.len() + nonce.len() + body.len());
    out.extend_from_slice(params.as_bytes());
    out.extend_from_slice(timestamp.as_bytes());
    out.extend_from_slice(nonce.as_bytes());
    out.extend_from_slice(body);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_query_gives_empty_params() {
        assert_eq!(sorted_params(""), "");
    }

    #[test]
    fn empty_parts_are_skipped_and_bare_keys_get_empty_values() {
        assert_eq!(sorted_params("&b=1&&a&"), "a=&b=1");
    }

    #[test]
    fn value_split_at_first_equals_sign_only() {
        assert_eq!(sorted_params("k=a=b"), "k=a=b");
    }

    #[test]
    fn sorts_by_utf8_bytes_not_utf16() {
        // U+FF21 (3 UTF-8 bytes, EF BC A1) sorts before U+1F600 (F0 ...) in
        // UTF-8 byte order but after it in UTF-16 code unit order.
        assert_eq!(
            sorted_params("k=%F0%9F%98%80&k=%EF%BC%A1"),
            "k=\u{FF21}&k=\u{1F600}"
        );
    }
}
