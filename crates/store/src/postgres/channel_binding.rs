//! SCRAM channel binding over TLS (`tls-server-end-point`, RFC 5929):
//! the hash of the server's certificate, which binds password
//! authentication to the TLS connection so `channel_binding=require`
//! works as in libpq. The hash follows the certificate's signature
//! algorithm, read with a few lines of DER rather than a second X.509
//! parser (rustls hands over the certificate as DER and parses nothing
//! it exposes).

/// RFC 5929 `tls-server-end-point`: the certificate's hash with the hash
/// of its signature algorithm (SHA-256 for MD5 and SHA-1), as PostgreSQL
/// computes it. `None` for an algorithm without one (Ed25519): the
/// connection then offers no channel binding.
pub(super) fn tls_server_end_point(certificate: &[u8]) -> Option<Vec<u8>> {
    use aws_lc_rs::digest;
    const SHA384: &[&[u8]] = &[
        &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x0c], // sha384WithRSAEncryption
        &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x03],       // ecdsa-with-SHA384
    ];
    const SHA512: &[&[u8]] = &[
        &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x0d], // sha512WithRSAEncryption
        &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x04],       // ecdsa-with-SHA512
    ];
    const ED25519: &[u8] = &[0x2b, 0x65, 0x70];
    let algorithm = signature_algorithm(certificate)?;
    let hash = if SHA384.contains(&algorithm) {
        &digest::SHA384
    } else if SHA512.contains(&algorithm) {
        &digest::SHA512
    } else if algorithm == ED25519 {
        return None;
    } else {
        &digest::SHA256
    };
    Some(digest::digest(hash, certificate).as_ref().to_vec())
}

/// The OID of a DER certificate's outer `signatureAlgorithm`:
/// `SEQUENCE { tbsCertificate SEQUENCE, signatureAlgorithm SEQUENCE { OID, … }, … }`.
fn signature_algorithm(certificate: &[u8]) -> Option<&[u8]> {
    let (tag, certificate, _) = der(certificate)?;
    if tag != 0x30 {
        return None;
    }
    let (_, _, rest) = der(certificate)?;
    let (tag, algorithm, _) = der(rest)?;
    if tag != 0x30 {
        return None;
    }
    let (tag, oid, _) = der(algorithm)?;
    (tag == 0x06).then_some(oid)
}

/// One DER element: its tag, its contents and what follows it.
fn der(input: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let (&tag, input) = input.split_first()?;
    let (&first, mut input) = input.split_first()?;
    let length = if first < 0x80 {
        usize::from(first)
    } else {
        let count = usize::from(first & 0x7f);
        if count == 0 || count > 4 || input.len() < count {
            return None;
        }
        let (bytes, rest) = input.split_at(count);
        input = rest;
        bytes
            .iter()
            .fold(0usize, |length, &byte| (length << 8) | usize::from(byte))
    };
    if input.len() < length {
        return None;
    }
    let (contents, rest) = input.split_at(length);
    Some((tag, contents, rest))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn der_elements_are_read_and_truncation_is_refused() {
        assert_eq!(
            der(&[0x06, 0x01, 0x2a, 0xff]),
            Some((0x06, &[0x2a][..], &[0xff][..]))
        );
        let long: Vec<u8> = [0x04, 0x81, 0x80].into_iter().chain([7; 0x80]).collect();
        assert_eq!(der(&long).map(|(_, c, _)| c.len()), Some(0x80));
        assert_eq!(der(&[0x04, 0x02, 0x00]), None);
        assert_eq!(der(&[0x04, 0x80]), None);
        assert_eq!(signature_algorithm(&[0x30, 0x00]), None);
    }
}
