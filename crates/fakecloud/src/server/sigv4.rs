//! Checks Bedrock requests the way AWS does: a SigV4 signature recomputed
//! from the request as received, or a Bedrock API key.
//!
//! The signature is recomputed by `aws-sigv4` itself: the received method,
//! path, query, signed headers and body are handed to its signer with the
//! request's own `x-amz-date` and the configured secret, and the two
//! signatures must be equal. So the canonical request (double-encoded path,
//! sorted query, normalised headers, SHA-256 of the body) is built exactly
//! as the AWS SDKs build it, and a tampered body, header, path or a wrong
//! secret all fail. Refusals use AWS's own exception names and messages.

use std::borrow::Cow;
use std::time::{Duration, SystemTime};

use aws_credential_types::Credentials;
use aws_sigv4::http_request::{SessionTokenMode, SignableBody, SignableRequest, SigningSettings, sign};
use aws_sigv4::sign::v4;
use axum::http::{HeaderMap, Uri};

use crate::Keys;
use crate::clock::{amz_date, parse_amz_date};

/// The service name in the credential scope.
const SERVICE: &str = "bedrock";
const ALGORITHM: &str = "AWS4-HMAC-SHA256";
/// How far `x-amz-date` may be from the server's clock, either way.
const MAXIMUM_SKEW: Duration = Duration::from_secs(15 * 60);

/// AWS's message for a signature that does not match.
pub(crate) const SIGNATURE_MISMATCH: &str = "The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details.";

/// Why a Bedrock request was not let in.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum SignatureFailure {
    /// No `Authorization` header (`MissingAuthenticationTokenException`).
    MissingToken,
    /// Not a complete SigV4 authorization (`IncompleteSignatureException`,
    /// HTTP 400).
    Incomplete(String),
    /// An access key id or session token fakecloud does not know
    /// (`UnrecognizedClientException`).
    UnrecognizedClient,
    /// A wrong scope, a stale date or a signature that does not match
    /// (`InvalidSignatureException`).
    InvalidSignature(String),
    /// `Authorization: Bearer` with a key other than the configured one.
    InvalidApiKey,
}

/// The parts of `Authorization: AWS4-HMAC-SHA256 Credential=…, SignedHeaders=…, Signature=…`.
struct Authorization<'a> {
    credential: &'a str,
    signed_headers: &'a str,
    signature: &'a str,
}

fn parse_authorization(value: &str) -> Result<Authorization<'_>, SignatureFailure> {
    let parameters = value
        .strip_prefix(ALGORITHM)
        .filter(|rest| rest.starts_with(' '))
        .unwrap_or_default();
    let mut credential = None;
    let mut signed_headers = None;
    let mut signature = None;
    for parameter in parameters.split(',') {
        match parameter.trim().split_once('=') {
            Some(("Credential", value)) => credential = Some(value),
            Some(("SignedHeaders", value)) => signed_headers = Some(value),
            Some(("Signature", value)) => signature = Some(value),
            _ => {}
        }
    }
    match (credential, signed_headers, signature) {
        (Some(credential), Some(signed_headers), Some(signature)) => Ok(Authorization {
            credential,
            signed_headers,
            signature,
        }),
        _ => {
            let mut message = String::new();
            for (name, present) in [
                ("Credential", credential.is_some()),
                ("Signature", signature.is_some()),
                ("SignedHeaders", signed_headers.is_some()),
            ] {
                if !present {
                    message.push_str(&format!("Authorization header requires '{name}' parameter. "));
                }
            }
            message.push_str(&format!("Authorization={value}"));
            Err(SignatureFailure::Incomplete(message))
        }
    }
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|value| value.to_str().ok())
}

/// What a Bedrock request presents, for the request log: the SigV4
/// credential scope or the API-key scheme, never a secret.
pub(crate) fn describe(headers: &HeaderMap) -> Option<String> {
    let value = header(headers, "authorization")?;
    if let Ok(authorization) = parse_authorization(value) {
        return Some(format!("sigv4 {}", authorization.credential));
    }
    let (scheme, _) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| "bedrock-api-key".to_owned())
}

/// Verifies a Bedrock request at `now`.
pub(crate) fn verify(
    keys: &Keys,
    uri: &Uri,
    headers: &HeaderMap,
    body: &[u8],
    now: SystemTime,
) -> Result<(), SignatureFailure> {
    let Some(value) = header(headers, "authorization") else {
        return Err(SignatureFailure::MissingToken);
    };
    if let Some((scheme, key)) = value.split_once(' ')
        && scheme.eq_ignore_ascii_case("bearer")
    {
        return if key.trim() == keys.bedrock_api_key {
            Ok(())
        } else {
            Err(SignatureFailure::InvalidApiKey)
        };
    }
    let authorization = parse_authorization(value)?;

    let scope: Vec<&str> = authorization.credential.split('/').collect();
    let [access_key_id, scope_date, region, service, terminator] = scope[..] else {
        return Err(SignatureFailure::Incomplete(format!(
            "Credential should be scoped to a valid region. Credential={}",
            authorization.credential
        )));
    };
    if terminator != "aws4_request" {
        return Err(SignatureFailure::InvalidSignature(format!(
            "Credential should be scoped with a valid terminator: 'aws4_request', not '{terminator}'. "
        )));
    }
    if access_key_id != keys.aws_access_key_id {
        return Err(SignatureFailure::UnrecognizedClient);
    }
    if service != SERVICE {
        return Err(SignatureFailure::InvalidSignature(format!(
            "Credential should be scoped to correct service: '{SERVICE}'. "
        )));
    }
    let Some(date) = header(headers, "x-amz-date") else {
        return Err(SignatureFailure::Incomplete(format!(
            "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header. Authorization={value}"
        )));
    };
    let Some(signed_at) = parse_amz_date(date) else {
        return Err(SignatureFailure::Incomplete(format!(
            "Date must be in ISO-8601 'basic format'. Got '{date}'. See http://en.wikipedia.org/wiki/ISO_8601"
        )));
    };
    if date.get(..8) != Some(scope_date) {
        return Err(SignatureFailure::InvalidSignature(format!(
            "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: '{scope_date}' != '{}', from '{date}'.",
            date.get(..8).unwrap_or_default()
        )));
    }
    check_skew(date, signed_at, now)?;

    let presented_token = header(headers, "x-amz-security-token");
    if presented_token != keys.aws_session_token.as_deref() {
        return Err(SignatureFailure::UnrecognizedClient);
    }
    let signed_names: Vec<&str> = authorization.signed_headers.split(';').collect();
    if !signed_names.contains(&"host") {
        return Err(SignatureFailure::Incomplete(
            "'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization.".to_owned(),
        ));
    }
    let expected = expected_signature(keys, uri, headers, body, &signed_names, region, signed_at)
        .ok_or_else(|| SignatureFailure::InvalidSignature(SIGNATURE_MISMATCH.to_owned()))?;
    if expected == authorization.signature {
        Ok(())
    } else {
        Err(SignatureFailure::InvalidSignature(SIGNATURE_MISMATCH.to_owned()))
    }
}

/// AWS's wording for a request signed too long ago or too far ahead.
fn check_skew(date: &str, signed_at: SystemTime, now: SystemTime) -> Result<(), SignatureFailure> {
    let earliest = now.checked_sub(MAXIMUM_SKEW).unwrap_or(SystemTime::UNIX_EPOCH);
    let latest = now + MAXIMUM_SKEW;
    if signed_at < earliest {
        return Err(SignatureFailure::InvalidSignature(format!(
            "Signature expired: {date} is now earlier than {} ({} - 15 min.)",
            amz_date(earliest),
            amz_date(now)
        )));
    }
    if signed_at > latest {
        return Err(SignatureFailure::InvalidSignature(format!(
            "Signature not yet current: {date} is still later than {} ({} + 15 min.)",
            amz_date(latest),
            amz_date(now)
        )));
    }
    Ok(())
}

/// The signature `aws-sigv4` computes for this request as received, signed
/// with the configured secret; `None` if it cannot be signed at all (a
/// header value that is not text, say), which is also a mismatch.
fn expected_signature(
    keys: &Keys,
    uri: &Uri,
    headers: &HeaderMap,
    body: &[u8],
    signed_names: &[&str],
    region: &str,
    signed_at: SystemTime,
) -> Option<String> {
    // The signer adds `x-amz-date` (from the time) and the session token
    // (from the credentials) itself; every other signed header is passed
    // as received, and only those.
    let mut signed_headers: Vec<(&str, &str)> = Vec::new();
    for name in signed_names {
        if matches!(*name, "x-amz-date" | "x-amz-security-token") {
            continue;
        }
        for value in headers.get_all(*name) {
            signed_headers.push((name, value.to_str().ok()?));
        }
    }
    let host = header(headers, "host").unwrap_or("localhost");
    let path_and_query = uri.path_and_query().map_or("/", |path| path.as_str());
    let url = format!("http://{host}{path_and_query}");
    let request = SignableRequest::new(
        "POST",
        Cow::Owned(url),
        signed_headers.into_iter(),
        SignableBody::Bytes(body),
    )
    .ok()?;

    let mut settings = SigningSettings::default();
    // Sign exactly what the client signed, user-agent included if it did.
    settings.excluded_headers = Some(Vec::new());
    settings.session_token_mode = if signed_names.contains(&"x-amz-security-token") {
        SessionTokenMode::Include
    } else {
        SessionTokenMode::Exclude
    };
    let identity = Credentials::new(
        keys.aws_access_key_id.clone(),
        keys.aws_secret_access_key.clone(),
        keys.aws_session_token.clone(),
        None,
        "fakecloud",
    )
    .into();
    let params = v4::SigningParams::builder()
        .identity(&identity)
        .region(region)
        .name(SERVICE)
        .time(signed_at)
        .settings(settings)
        .build()
        .ok()?
        .into();
    let output = sign(request, &params).ok()?;
    Some(output.signature().to_owned())
}

#[cfg(test)]
mod tests {
    use std::time::UNIX_EPOCH;

    use super::*;

    const NOW: u64 = 1_750_000_000;

    fn now() -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(NOW)
    }

    /// Signs like an AWS SDK would, with aws-sigv4's defaults.
    fn signed(secret: &str, body: &[u8], at: SystemTime) -> (Uri, HeaderMap) {
        let url = "http://127.0.0.1:4000/model/us.amazon.nova-micro-v1%3A0/converse-stream";
        let base = [("host", "127.0.0.1:4000"), ("content-type", "application/json")];
        let identity = Credentials::new(crate::FAKE_AWS_ACCESS_KEY_ID, secret, None, None, "test").into();
        let params = v4::SigningParams::builder()
            .identity(&identity)
            .region("us-east-1")
            .name("bedrock")
            .time(at)
            .settings(SigningSettings::default())
            .build()
            .expect("params")
            .into();
        let request = SignableRequest::new("POST", url, base.into_iter(), SignableBody::Bytes(body)).expect("signable");
        let (instructions, _) = sign(request, &params).expect("signed").into_parts();
        let mut builder = http::Request::builder().method("POST").uri(url);
        for (name, value) in base {
            builder = builder.header(name, value);
        }
        let mut request = builder.body(()).expect("request");
        instructions.apply_to_request_http1x(&mut request);
        let (parts, ()) = request.into_parts();
        (parts.uri, parts.headers)
    }

    #[test]
    fn a_correct_signature_passes_and_any_change_fails() {
        let keys = Keys::default();
        let body = br#"{"messages":[]}"#;
        let (uri, headers) = signed(crate::FAKE_AWS_SECRET_ACCESS_KEY, body, now());
        assert_eq!(verify(&keys, &uri, &headers, body, now()), Ok(()));
        let mismatch = Err(SignatureFailure::InvalidSignature(SIGNATURE_MISMATCH.to_owned()));
        assert_eq!(verify(&keys, &uri, &headers, br#"{"messages":[1]}"#, now()), mismatch);
        let other_path: Uri = "/model/us.amazon.nova-lite-v1%3A0/converse-stream"
            .parse()
            .expect("uri");
        assert_eq!(verify(&keys, &other_path, &headers, body, now()), mismatch);
        let (uri, headers) = signed("not-the-secret", body, now());
        assert_eq!(verify(&keys, &uri, &headers, body, now()), mismatch);
    }

    #[test]
    fn scope_key_date_and_token_are_checked() {
        let keys = Keys::default();
        let body = b"{}";
        let (uri, headers) = signed(crate::FAKE_AWS_SECRET_ACCESS_KEY, body, now());
        let late = now() + Duration::from_secs(16 * 60);
        assert!(matches!(
            verify(&keys, &uri, &headers, body, late),
            Err(SignatureFailure::InvalidSignature(message)) if message.starts_with("Signature expired: ")
        ));
        let early = now() - Duration::from_secs(16 * 60);
        assert!(matches!(
            verify(&keys, &uri, &headers, body, early),
            Err(SignatureFailure::InvalidSignature(message)) if message.starts_with("Signature not yet current: ")
        ));
        let other_key = Keys {
            aws_access_key_id: "AKIDSOMEONEELSE".to_owned(),
            ..Keys::default()
        };
        assert_eq!(
            verify(&other_key, &uri, &headers, body, now()),
            Err(SignatureFailure::UnrecognizedClient)
        );
        let with_token = Keys {
            aws_session_token: Some("token".to_owned()),
            ..Keys::default()
        };
        assert_eq!(
            verify(&with_token, &uri, &headers, body, now()),
            Err(SignatureFailure::UnrecognizedClient)
        );
        let mut wrong_service = headers.clone();
        let authorization = header(&headers, "authorization")
            .expect("signed")
            .replace("/bedrock/", "/s3/");
        wrong_service.insert("authorization", authorization.parse().expect("header"));
        assert!(matches!(
            verify(&keys, &uri, &wrong_service, body, now()),
            Err(SignatureFailure::InvalidSignature(message)) if message.contains("'bedrock'")
        ));
        let mut no_date = headers.clone();
        no_date.remove("x-amz-date");
        assert!(matches!(
            verify(&keys, &uri, &no_date, body, now()),
            Err(SignatureFailure::Incomplete(_))
        ));
        assert_eq!(
            verify(&keys, &uri, &HeaderMap::new(), body, now()),
            Err(SignatureFailure::MissingToken)
        );
        assert_eq!(
            describe(&headers),
            Some(format!(
                "sigv4 {}/20250615/us-east-1/bedrock/aws4_request",
                crate::FAKE_AWS_ACCESS_KEY_ID
            ))
        );
    }

    #[test]
    fn bearer_api_keys_and_incomplete_headers() {
        let keys = Keys::default();
        let uri: Uri = "/model/m/converse-stream".parse().expect("uri");
        let mut headers = HeaderMap::new();
        headers.insert("authorization", "Bearer fake-key".parse().expect("header"));
        assert_eq!(verify(&keys, &uri, &headers, b"", now()), Ok(()));
        assert_eq!(describe(&headers).as_deref(), Some("bedrock-api-key"));
        headers.insert("authorization", "Bearer nope".parse().expect("header"));
        assert_eq!(
            verify(&keys, &uri, &headers, b"", now()),
            Err(SignatureFailure::InvalidApiKey)
        );
        headers.insert(
            "authorization",
            "AWS4-HMAC-SHA256 Credential=AKID/20250615/us-east-1/bedrock/aws4_request"
                .parse()
                .expect("header"),
        );
        let Err(SignatureFailure::Incomplete(message)) = verify(&keys, &uri, &headers, b"", now()) else {
            panic!("an incomplete header is refused");
        };
        assert!(message.starts_with(
            "Authorization header requires 'Signature' parameter. Authorization header requires 'SignedHeaders' parameter."
        ));
    }
}
