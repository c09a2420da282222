//! Oracles shared by the fuzz targets: independent, deliberately plain
//! models of the signing rules (docs/PROTOCOL.md §2), written without the
//! project's code or `form_urlencoded`, so a target compares the project's
//! answer with a second reading of the protocol instead of with itself.

/// The fields of a fuzz input, split at NUL bytes: the first `count - 1`
/// fields end at a NUL, the last one is the rest of the input (it may hold
/// NULs). Missing fields are empty.
pub fn fields(data: &[u8], count: usize) -> Vec<&[u8]> {
    let mut out = Vec::with_capacity(count);
    let mut rest = data;
    while out.len() + 1 < count {
        match rest.iter().position(|&b| b == 0) {
            Some(at) => {
                out.push(&rest[..at]);
                rest = &rest[at + 1..];
            }
            None => {
                out.push(rest);
                rest = &[];
            }
        }
    }
    out.push(rest);
    out
}

/// `application/x-www-form-urlencoded` decoding of one half of a pair:
/// `+` is a space, `%XY` with two hex digits is the byte 0xXY, anything
/// else stands for itself; invalid UTF-8 becomes U+FFFD.
pub fn model_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            b'%' if i + 2 < bytes.len()
                && hex(bytes[i + 1]).is_some()
                && hex(bytes[i + 2]).is_some() =>
            {
                out.push(hex(bytes[i + 1]).unwrap() * 16 + hex(bytes[i + 2]).unwrap());
                i += 3;
            }
            other => {
                out.push(other);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn hex(byte: u8) -> Option<u8> {
    match byte {
        b'0'..=b'9' => Some(byte - b'0'),
        b'a'..=b'f' => Some(byte - b'a' + 10),
        b'A'..=b'F' => Some(byte - b'A' + 10),
        _ => None,
    }
}

/// The signing rules' canonical query: split on `&`, skip empty parts,
/// split each at its first `=` (a bare key has an empty value), decode
/// both halves, sort by key then value as UTF-8 bytes, join `k=v` by `&`.
pub fn model_sorted_params(raw_query: &str) -> String {
    let mut pairs: Vec<(String, String)> = Vec::new();
    for part in raw_query.split('&') {
        if part.is_empty() {
            continue;
        }
        let (key, value) = match part.find('=') {
            Some(at) => (&part[..at], &part[at + 1..]),
            None => (part, ""),
        };
        pairs.push((model_decode(key), model_decode(value)));
    }
    pairs.sort_by(|a, b| {
        a.0.as_bytes()
            .cmp(b.0.as_bytes())
            .then_with(|| a.1.as_bytes().cmp(b.1.as_bytes()))
    });
    pairs
        .iter()
        .map(|(key, value)| format!("{key}={value}"))
        .collect::<Vec<_>>()
        .join("&")
}

/// `sorted_params + timestamp + nonce + body`, as bytes.
pub fn model_signature_string(
    raw_query: &str,
    timestamp: &str,
    nonce: &str,
    body: &[u8],
) -> Vec<u8> {
    let mut out = model_sorted_params(raw_query).into_bytes();
    out.extend_from_slice(timestamp.as_bytes());
    out.extend_from_slice(nonce.as_bytes());
    out.extend_from_slice(body);
    out
}

/// Standard-alphabet base64 with unused trailing bits zero; the `=`
/// padding optional, in whole or in part (never more than the canonical
/// form has).
pub fn model_base64_decode(text: &str) -> Option<Vec<u8>> {
    let value = |c: u8| -> Option<u32> {
        Some(match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        } as u32)
    };
    let unpadded = text.trim_end_matches('=');
    let padding = text.len() - unpadded.len();
    let data = unpadded.as_bytes();
    // Padding is optional, and so is any part of it: at most the `=` the
    // canonical form has (none after a full group of four).
    if data.len() % 4 == 1 || padding > (4 - data.len() % 4) % 4 {
        return None;
    }
    let mut out = Vec::new();
    for chunk in data.chunks(4) {
        let mut acc: u32 = 0;
        for &c in chunk {
            acc = acc << 6 | value(c)?;
        }
        match chunk.len() {
            4 => out.extend_from_slice(&[(acc >> 16) as u8, (acc >> 8) as u8, acc as u8]),
            3 => {
                if acc & 0b11 != 0 {
                    return None;
                }
                let acc = acc >> 2;
                out.extend_from_slice(&[(acc >> 8) as u8, acc as u8]);
            }
            2 => {
                if acc & 0b1111 != 0 {
                    return None;
                }
                out.push((acc >> 4) as u8);
            }
            _ => unreachable!("a chunk of 1 was refused above"),
        }
    }
    Some(out)
}

/// The test vectors' public key (SPKI DER), for verifying independently
/// of the project's key parser.
pub const VECTOR_PUBLIC_KEY_B64: &str = include_str!("../../tests/vectors/merchant-test.pub.b64");

/// The test vectors' private key, for the HTTP target to sign with.
pub const VECTOR_PRIVATE_KEY_PEM: &str = include_str!("../../tests/vectors/merchant-test.key.pem");

/// True when `signature` is a SHA256withRSA signature of `message` by the
/// vectors' key, checked with aws-lc-rs directly.
pub fn vector_key_signed(message: &[u8], signature: &[u8]) -> bool {
    let compact: String = VECTOR_PUBLIC_KEY_B64.split_whitespace().collect();
    let der = model_base64_decode(&compact).expect("the vector key file is base64");
    aws_lc_rs::signature::UnparsedPublicKey::new(
        &aws_lc_rs::signature::RSA_PKCS1_2048_8192_SHA256,
        der,
    )
    .verify(message, signature)
    .is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn model_matches_the_documented_examples() {
        assert_eq!(model_sorted_params("&b=1&&a&"), "a=&b=1");
        assert_eq!(model_sorted_params("k=a=b"), "k=a=b");
        assert_eq!(
            model_sorted_params("q=hello%20world&a=%E4%B8%AD&p=1+2"),
            "a=中&p=1 2&q=hello world"
        );
        assert_eq!(model_base64_decode("QQ"), Some(b"A".to_vec()));
        assert_eq!(model_base64_decode("QQ=="), Some(b"A".to_vec()));
        assert_eq!(model_base64_decode("QR=="), None);
        assert_eq!(model_base64_decode("QQ="), Some(b"A".to_vec()));
        assert_eq!(model_base64_decode("QQ==="), None);
        assert_eq!(model_base64_decode("QUJD="), None);
    }
}
