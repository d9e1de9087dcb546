//! Checks OCI Generative AI requests the way OCI does: an HTTP Signature v1 (RSA-SHA256)
//! verified against the configured public key, or, on the OpenAI-compatible surface, a
//! Generative AI API key.
//!
//! The signing string is rebuilt from the headers as received, in the order the signature's
//! `headers` parameter lists them, with `(request-target)` from the request line;
//! `x-content-sha256` is recomputed from the body and `content-length` compared with it, so a
//! tampered body, header or path fails. A POST must sign all six of `date (request-target) host
//! content-length content-type x-content-sha256`, and a `date` more than five minutes from the
//! server's clock is refused. Refusals are OCI's `401 {"code": "NotAuthenticated", …}`.

use std::time::{Duration, SystemTime};

use axum::http::HeaderMap;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use ring::signature::{RSA_PKCS1_2048_8192_SHA256, UnparsedPublicKey};
use sha2::{Digest, Sha256};

use crate::Keys;
use crate::server::auth::Presented;
use crate::server::der::rsa_public_key;

/// How far `date` may be from the server's clock, either way.
const MAXIMUM_SKEW: Duration = Duration::from_secs(5 * 60);
/// What a POST with a body must sign.
const REQUIRED: [&str; 6] = [
    "date",
    "(request-target)",
    "host",
    "content-length",
    "content-type",
    "x-content-sha256",
];

/// Why an OCI request was not let in; the message is OCI's `NotAuthenticated` text.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct OciFailure {
    pub message: String,
}

impl OciFailure {
    fn new(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
        }
    }
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|value| value.to_str().ok())
}

/// The `key="value"` parameters of `Signature …`.
fn parameters(value: &str) -> Option<Vec<(&str, &str)>> {
    let rest = value.strip_prefix("Signature ")?;
    let mut out = Vec::new();
    let mut rest = rest.trim();
    while !rest.is_empty() {
        let (name, after) = rest.split_once("=\"")?;
        let (value, after) = after.split_once('"')?;
        out.push((name.trim(), value));
        rest = after.trim_start().trim_start_matches(',').trim_start();
    }
    Some(out)
}

/// What an OCI request presents, for the request log: the key id's kind, never a secret.
pub(crate) fn describe(headers: &HeaderMap) -> Option<String> {
    let value = header(headers, "authorization")?;
    if let Some(parameters) = parameters(value) {
        let key_id = parameters
            .iter()
            .find_map(|(name, value)| (*name == "keyId").then_some(*value))
            .unwrap_or_default();
        return Some(if key_id.starts_with("ST$") {
            "oci-signature session-token".to_owned()
        } else {
            format!("oci-signature {key_id}")
        });
    }
    let (scheme, _) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| "oci-api-key".to_owned())
}

/// Verifies an OCI request at `now`. `api_key_allowed`: the OpenAI-compatible surface, which
/// also takes a Generative AI API key.
pub(crate) fn verify(
    keys: &Keys,
    request: &Presented<'_>,
    now: SystemTime,
    api_key_allowed: bool,
) -> Result<(), OciFailure> {
    let Presented { uri, headers, body } = *request;
    let Some(value) = header(headers, "authorization") else {
        return Err(OciFailure::new(
            "The required information to complete authentication was not provided.",
        ));
    };
    if let Some((scheme, key)) = value.split_once(' ')
        && scheme.eq_ignore_ascii_case("bearer")
    {
        return if api_key_allowed && key.trim() == keys.oci_api_key {
            Ok(())
        } else {
            Err(OciFailure::new(
                "The required information to complete authentication was not provided or was incorrect.",
            ))
        };
    }
    let parameters =
        parameters(value).ok_or_else(|| OciFailure::new("The Authorization header is not a valid OCI signature."))?;
    let get = |name: &str| {
        parameters
            .iter()
            .find_map(|(key, value)| (*key == name).then_some(*value))
    };
    if get("version") != Some("1") || get("algorithm") != Some("rsa-sha256") {
        return Err(OciFailure::new(
            "The signature must be version=\"1\" with algorithm=\"rsa-sha256\".",
        ));
    }
    let key_id = get("keyId").unwrap_or_default();
    if key_id != keys.oci_key_id {
        return Err(OciFailure::new(
            "The required information to complete authentication was not provided or was incorrect.",
        ));
    }
    let signed: Vec<&str> = get("headers").unwrap_or("date").split_whitespace().collect();
    if let Some(missing) = REQUIRED.iter().find(|name| !signed.contains(name)) {
        return Err(OciFailure::new(format!(
            "The signature of a request with a body must cover {missing} (headers=\"{}\")",
            REQUIRED.join(" ")
        )));
    }
    let date = header(headers, "date").unwrap_or_default();
    let signed_at = httpdate::parse_http_date(date)
        .map_err(|_| OciFailure::new(format!("The date header '{date}' is not a valid HTTP date.")))?;
    let skew = now
        .duration_since(signed_at)
        .or_else(|_| signed_at.duration_since(now))
        .unwrap_or_default();
    if skew > MAXIMUM_SKEW {
        return Err(OciFailure::new(format!(
            "The request date {date} is more than 5 minutes from the server's time ({}); check the client's clock.",
            httpdate::fmt_http_date(now)
        )));
    }
    let digest = BASE64.encode(Sha256::digest(body));
    if header(headers, "x-content-sha256") != Some(digest.as_str()) {
        return Err(OciFailure::new("The x-content-sha256 header does not match the body."));
    }
    if header(headers, "content-length") != Some(body.len().to_string().as_str()) {
        return Err(OciFailure::new("The content-length header does not match the body."));
    }
    let mut lines = Vec::new();
    for name in &signed {
        if *name == "(request-target)" {
            let target = uri.path_and_query().map_or("/", |path| path.as_str());
            lines.push(format!("(request-target): post {target}"));
        } else {
            let value = header(headers, name)
                .ok_or_else(|| OciFailure::new(format!("The signed header {name} is missing.")))?;
            lines.push(format!("{name}: {value}"));
        }
    }
    let signature = BASE64
        .decode(get("signature").unwrap_or_default())
        .map_err(|_| OciFailure::new("The signature is not base64."))?;
    let public_key = rsa_public_key(&keys.oci_public_key_pem)
        .ok_or_else(|| OciFailure::new("fakecloud: the configured OCI public key is not an RSA public key PEM."))?;
    UnparsedPublicKey::new(&RSA_PKCS1_2048_8192_SHA256, public_key)
        .verify(lines.join("\n").as_bytes(), &signature)
        .map_err(|_| {
            OciFailure::new(
                "The signature does not match the request (the signing string rebuilt from the received headers).",
            )
        })
}

#[cfg(test)]
mod tests {
    use axum::http::Uri;
    use ring::rand::SystemRandom;
    use ring::signature::{RSA_PKCS1_SHA256, RsaKeyPair};

    use super::*;

    const BODY: &[u8] = br#"{"compartmentId":"c"}"#;

    /// A request signed at `signed_at` with the throwaway key, its signing string written out
    /// here by hand.
    fn signed(signed_at: SystemTime, headers_parameter: &str) -> (Uri, HeaderMap) {
        let uri: Uri = "/20231130/actions/chat".parse().expect("uri");
        let date = httpdate::fmt_http_date(signed_at);
        let digest = BASE64.encode(Sha256::digest(BODY));
        let signing_string = format!(
            "date: {date}\n(request-target): post /20231130/actions/chat\nhost: 127.0.0.1:9\ncontent-length: {}\ncontent-type: application/json\nx-content-sha256: {digest}",
            BODY.len()
        );
        let der: String = crate::FAKE_OCI_PRIVATE_KEY_PEM
            .lines()
            .filter(|line| !line.starts_with("-----"))
            .collect();
        let key = RsaKeyPair::from_der(&BASE64.decode(der).expect("base64")).expect("key");
        let mut signature = vec![0; key.public().modulus_len()];
        key.sign(
            &RSA_PKCS1_SHA256,
            &SystemRandom::new(),
            signing_string.as_bytes(),
            &mut signature,
        )
        .expect("signed");
        let mut headers = HeaderMap::new();
        for (name, value) in [
            ("date", date),
            ("host", "127.0.0.1:9".to_owned()),
            ("content-length", BODY.len().to_string()),
            ("content-type", "application/json".to_owned()),
            ("x-content-sha256", digest),
            (
                "authorization",
                format!(
                    "Signature version=\"1\",keyId=\"{}\",algorithm=\"rsa-sha256\",headers=\"{headers_parameter}\",signature=\"{}\"",
                    crate::FAKE_OCI_KEY_ID,
                    BASE64.encode(signature)
                ),
            ),
        ] {
            headers.insert(name, value.parse().expect("header"));
        }
        (uri, headers)
    }

    #[test]
    fn signatures_are_checked_against_the_body_the_key_and_the_clock() {
        let keys = Keys::default();
        let now = SystemTime::now();
        let check = |uri: &Uri, headers: &HeaderMap, body: &[u8], api_key_allowed: bool| {
            verify(&keys, &Presented { uri, headers, body }, now, api_key_allowed)
        };
        let all = REQUIRED.join(" ");
        let (uri, headers) = signed(now - Duration::from_secs(4 * 60), &all);
        assert_eq!(check(&uri, &headers, BODY, false), Ok(()));
        let tampered = check(&uri, &headers, br#"{"compartmentId":"d"}"#, false).expect_err("tampered");
        assert!(tampered.message.contains("x-content-sha256"), "{tampered:?}");
        let other_path: Uri = "/20231130/actions/chat?x=1".parse().expect("uri");
        assert!(check(&other_path, &headers, BODY, false).is_err());
        let (uri, stale) = signed(now - Duration::from_secs(6 * 60), &all);
        let skewed = check(&uri, &stale, BODY, false).expect_err("6 minutes off");
        assert!(skewed.message.contains("more than 5 minutes"), "{skewed:?}");
        let (uri, partial) = signed(now, "date (request-target) host");
        let partial = check(&uri, &partial, BODY, false).expect_err("too few headers signed");
        assert!(partial.message.contains("must cover content-length"), "{partial:?}");
        let mut bearer = HeaderMap::new();
        bearer.insert(
            "authorization",
            format!("Bearer {}", keys.oci_api_key).parse().expect("header"),
        );
        assert!(
            check(&uri, &bearer, BODY, false).is_err(),
            "no API keys on the native API"
        );
        assert_eq!(check(&uri, &bearer, BODY, true), Ok(()));
    }

    #[test]
    fn parameters_are_read_in_order() {
        let parameters =
            parameters("Signature version=\"1\",keyId=\"ST$a=b\",headers=\"date host\",signature=\"x/y=\"")
                .expect("parsed");
        assert_eq!(
            parameters,
            [
                ("version", "1"),
                ("keyId", "ST$a=b"),
                ("headers", "date host"),
                ("signature", "x/y=")
            ]
        );
    }
}
