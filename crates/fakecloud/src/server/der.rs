//! Just enough DER to find an RSA public key: in a `BEGIN PUBLIC KEY` PEM (OCI's API signing
//! keys) and in an X.509 certificate (Entra's client certificates). Written by hand rather than
//! with an ASN.1 crate: fakecloud only ever reads its own test keys.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;

const SEQUENCE: u8 = 0x30;
const BIT_STRING: u8 = 0x03;
/// `[0] EXPLICIT Version` at the start of a v3 `TBSCertificate`.
const VERSION: u8 = 0xa0;

/// The DER inside the first PEM block of `pem` (armour lines dropped).
pub(crate) fn pem_der(pem: &str) -> Option<Vec<u8>> {
    let mut lines = pem.lines().skip_while(|line| !line.starts_with("-----BEGIN"));
    lines.next()?;
    let body: String = lines
        .take_while(|line| !line.starts_with("-----END"))
        .collect::<String>()
        .split_whitespace()
        .collect();
    BASE64.decode(body).ok()
}

/// The PKCS#1 `RSAPublicKey` inside a `BEGIN PUBLIC KEY` (SubjectPublicKeyInfo) PEM.
pub(crate) fn rsa_public_key(pem: &str) -> Option<Vec<u8>> {
    let der = pem_der(pem)?;
    let (tag, spki, _) = element(&der)?;
    (tag == SEQUENCE).then_some(())?;
    spki_rsa_public_key(spki)
}

/// The PKCS#1 `RSAPublicKey` of the certificate in `pem`: `Certificate` is `SEQUENCE {
/// TBSCertificate, … }`, and `TBSCertificate` is `SEQUENCE { [0] version, serialNumber, signature,
/// issuer, validity, subject, subjectPublicKeyInfo, … }`.
pub(crate) fn certificate_rsa_public_key(der: &[u8]) -> Option<Vec<u8>> {
    let (tag, certificate, _) = element(der)?;
    (tag == SEQUENCE).then_some(())?;
    let (tag, mut fields, _) = element(certificate)?;
    (tag == SEQUENCE).then_some(())?;
    if fields.first() == Some(&VERSION) {
        fields = element(fields)?.2;
    }
    // serialNumber, signature, issuer, validity, subject
    for _ in 0..5 {
        fields = element(fields)?.2;
    }
    let (tag, spki, _) = element(fields)?;
    (tag == SEQUENCE).then_some(())?;
    spki_rsa_public_key(spki)
}

/// `SubjectPublicKeyInfo`'s contents: `AlgorithmIdentifier, BIT STRING { RSAPublicKey }`.
fn spki_rsa_public_key(spki: &[u8]) -> Option<Vec<u8>> {
    let (_, _, rest) = element(spki)?;
    let (tag, bits, _) = element(rest)?;
    // A BIT STRING's first byte counts the unused bits, 0 here.
    (tag == BIT_STRING && bits.first() == Some(&0)).then(|| bits[1..].to_vec())
}

/// One DER element: its tag, its contents and what follows it.
fn element(der: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let tag = *der.first()?;
    let first = *der.get(1)?;
    let (length, header) = if first < 0x80 {
        (usize::from(first), 2)
    } else {
        let count = usize::from(first & 0x7f);
        let bytes = der.get(2..2 + count)?;
        (
            bytes
                .iter()
                .fold(0_usize, |length, byte| (length << 8) | usize::from(*byte)),
            2 + count,
        )
    };
    let contents = der.get(header..header.checked_add(length)?)?;
    Some((tag, contents, &der[header + length..]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_configured_public_key_parses() {
        let key = rsa_public_key(crate::FAKE_OCI_PUBLIC_KEY_PEM).expect("an RSA public key");
        // RSAPublicKey is a SEQUENCE of the modulus and the exponent.
        assert_eq!(key[0], 0x30);
        assert!(rsa_public_key("-----BEGIN PUBLIC KEY-----\nbm9wZQ==\n-----END PUBLIC KEY-----").is_none());
    }

    #[test]
    fn the_test_certificate_holds_the_test_key() {
        let der = pem_der(crate::FAKE_ENTRA_CLIENT_CERTIFICATE_PEM).expect("PEM");
        let key = certificate_rsa_public_key(&der).expect("an RSA public key");
        assert_eq!(key[0], 0x30);
        // The private key's PKCS#8 form carries the same modulus.
        let private = pem_der(crate::FAKE_ENTRA_CLIENT_KEY_PEM).expect("PEM");
        let modulus = &key[8..72];
        assert!(private.windows(modulus.len()).any(|window| window == modulus));
        assert!(certificate_rsa_public_key(&der[..der.len() / 2]).is_none(), "cut short");
        assert!(certificate_rsa_public_key(b"\x30\x03\x02\x01\x01").is_none());
    }
}
