//! A service principal's client certificate from the environment (`AZURE_CLIENT_CERTIFICATE_PATH`
//! with `AZURE_TENANT_ID` and `AZURE_CLIENT_ID`), signed in with Entra's client-assertion flow:
//! a JWT naming the certificate by thumbprint, signed RS256 with its private key, which
//! `azure_identity`'s `ClientAssertionCredential` posts to the token endpoint (it also caches the
//! token).
//!
//! Why not `azure_identity`'s `ClientCertificateCredential`: it needs OpenSSL (its
//! `client_certificate` feature), a C library every build machine would need. The signature here
//! is `ring`'s RSA PKCS#1 v1.5 over SHA-256, with the OCI signer's key loading.
//!
//! The file is PEM holding the unencrypted private key (PKCS#8 `PRIVATE KEY` or PKCS#1
//! `RSA PRIVATE KEY`) and the certificate; the certificate named is the one holding the key's
//! public half, so a chain may come in any order. `AZURE_CLIENT_SEND_CERTIFICATE_CHAIN=true`
//! sends the certificates as `x5c` (subject name and issuer authentication).
//! Left out, each with a clear error: PKCS#12 files (`.pfx`, `.p12`) and so
//! `AZURE_CLIENT_CERTIFICATE_PASSWORD`, encrypted private keys, non-RSA keys.

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use azure_core::credentials::TokenCredential;
use azure_core::http::ClientMethodOptions;
use azure_identity::{ClientAssertion, ClientAssertionCredential};
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD as BASE64, URL_SAFE_NO_PAD as BASE64_URL};
use ring::digest::{SHA1_FOR_LEGACY_USE_ONLY, SHA256, digest};
use ring::rand::{SecureRandom, SystemRandom};
use ring::signature::{RSA_PKCS1_SHA256, RsaKeyPair};
use serde_json::json;

use crate::secrets::auth::error_chain;
use crate::secrets::auth::oci::parse_private_key;

/// Where Entra signs in when `AZURE_AUTHORITY_HOST` is not set.
const PUBLIC_CLOUD_AUTHORITY: &str = "https://login.microsoftonline.com";

/// How long an assertion is valid: Microsoft's libraries use 5 to 10 minutes; Entra only needs
/// it for the one token request.
const ASSERTION_LIFETIME: Duration = Duration::from_secs(600);

/// The environment variables this credential reads besides the tenant and client ids.
#[derive(Debug, Default)]
pub(super) struct CertificateVariables {
    /// `AZURE_CLIENT_CERTIFICATE_PATH`.
    pub path: String,
    /// `AZURE_CLIENT_CERTIFICATE_PASSWORD`.
    pub password: Option<String>,
    /// `AZURE_CLIENT_SEND_CERTIFICATE_CHAIN`.
    pub send_chain: Option<String>,
    /// `AZURE_AUTHORITY_HOST`.
    pub authority_host: Option<String>,
}

/// The credential for `client` in `tenant`, or why the certificate cannot be used (naming the
/// file, never its content).
pub(super) fn credential(
    tenant: &str,
    client: &str,
    variables: &CertificateVariables,
) -> Result<Arc<dyn TokenCredential>, String> {
    let path = &variables.path;
    if variables.password.is_some() {
        return Err(format!(
            "AZURE_CLIENT_CERTIFICATE_PASSWORD is set, but password-protected certificates (PKCS#12) are not \
             supported: convert it to PEM with `openssl pkcs12 -in {path} -out certificate.pem -nodes` and unset \
             the password"
        ));
    }
    let bytes =
        std::fs::read(path).map_err(|error| format!("cannot read AZURE_CLIENT_CERTIFICATE_PATH {path}: {error}"))?;
    let send_chain = variables
        .send_chain
        .as_deref()
        .is_some_and(|value| value == "1" || value.eq_ignore_ascii_case("true"));
    let authority = variables.authority_host.as_deref().unwrap_or(PUBLIC_CLOUD_AUTHORITY);
    let audience = token_endpoint(authority, tenant)?;
    let assertion = CertificateAssertion::from_pem(&bytes, path, client, &audience, send_chain)?;
    ClientAssertionCredential::new(tenant.to_owned(), client.to_owned(), assertion, None)
        .map(|credential| credential as Arc<dyn TokenCredential>)
        .map_err(|error| error_chain(&error))
}

/// The token endpoint as `azure_identity` builds it, which is the assertion's audience.
fn token_endpoint(authority: &str, tenant: &str) -> Result<String, String> {
    let base = reqwest::Url::parse(authority)
        .map_err(|error| format!("AZURE_AUTHORITY_HOST '{authority}' is not a URL: {error}"))?;
    base.join(&format!("/{tenant}/oauth2/v2.0/token"))
        .map(String::from)
        .map_err(|error| format!("no token endpoint for tenant '{tenant}': {error}"))
}

/// Makes client assertions: a fixed header, fresh claims each time.
pub(super) struct CertificateAssertion {
    client_id: String,
    audience: String,
    /// The JWT header, base64url.
    header: String,
    key: RsaKeyPair,
}

impl std::fmt::Debug for CertificateAssertion {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("CertificateAssertion")
            .field("client_id", &self.client_id)
            .field("audience", &self.audience)
            .finish_non_exhaustive()
    }
}

impl CertificateAssertion {
    /// From the PEM file at `path` (named in errors).
    pub(super) fn from_pem(
        bytes: &[u8],
        path: &str,
        client_id: &str,
        audience: &str,
        send_chain: bool,
    ) -> Result<Self, String> {
        let not_pem = || {
            format!(
                "AZURE_CLIENT_CERTIFICATE_PATH {path} is not a PEM file; PKCS#12 (.pfx, .p12) certificates are not \
                 supported: convert it with `openssl pkcs12 -in {path} -out certificate.pem -nodes`"
            )
        };
        let pem = std::str::from_utf8(bytes).map_err(|_| not_pem())?;
        if !pem.contains("-----BEGIN ") {
            return Err(not_pem());
        }
        let key = parse_private_key(
            pem,
            &format!("the private key in AZURE_CLIENT_CERTIFICATE_PATH {path}"),
            "point AZURE_CLIENT_CERTIFICATE_PATH at it with the certificate",
        )?;
        let certificates = pem_blocks(pem, "CERTIFICATE")
            .map_err(|error| format!("a certificate in {path} is not valid base64 ({error})"))?;
        if certificates.is_empty() {
            return Err(format!(
                "AZURE_CLIENT_CERTIFICATE_PATH {path} holds no certificate (expected -----BEGIN CERTIFICATE----- \
                 beside the private key)"
            ));
        }
        // A certificate's SubjectPublicKeyInfo holds the key's RSAPublicKey DER verbatim.
        let public_key = key.public().as_ref();
        let certificate = certificates
            .iter()
            .find(|der| der.windows(public_key.len()).any(|window| window == public_key))
            .ok_or_else(|| {
                format!("the private key in AZURE_CLIENT_CERTIFICATE_PATH {path} does not match its certificate")
            })?;
        let mut header = json!({
            "alg": "RS256",
            "typ": "JWT",
            "x5t": BASE64_URL.encode(digest(&SHA1_FOR_LEGACY_USE_ONLY, certificate)),
            "x5t#S256": BASE64_URL.encode(digest(&SHA256, certificate)),
        });
        if send_chain {
            header["x5c"] = certificates.iter().map(|der| BASE64.encode(der)).collect();
        }
        Ok(Self {
            client_id: client_id.to_owned(),
            audience: audience.to_owned(),
            header: BASE64_URL.encode(header.to_string()),
            key,
        })
    }

    /// The signed JWT, valid from `now` for [`ASSERTION_LIFETIME`], with `jti` as its id.
    pub(super) fn assertion_at(&self, now: SystemTime, jti: &str) -> Result<String, String> {
        let issued = now
            .duration_since(UNIX_EPOCH)
            .map_err(|_| "the system clock is before 1970".to_owned())?
            .as_secs();
        let claims = json!({
            "aud": self.audience,
            "iss": self.client_id,
            "sub": self.client_id,
            "jti": jti,
            "nbf": issued,
            "iat": issued,
            "exp": issued + ASSERTION_LIFETIME.as_secs(),
        });
        let signing_input = format!("{}.{}", self.header, BASE64_URL.encode(claims.to_string()));
        let mut signature = vec![0; self.key.public().modulus_len()];
        self.key
            .sign(
                &RSA_PKCS1_SHA256,
                &SystemRandom::new(),
                signing_input.as_bytes(),
                &mut signature,
            )
            .map_err(|_| "the certificate's private key could not sign the client assertion".to_owned())?;
        Ok(format!("{signing_input}.{}", BASE64_URL.encode(signature)))
    }
}

#[async_trait::async_trait]
impl ClientAssertion for CertificateAssertion {
    async fn secret(&self, _: Option<ClientMethodOptions<'_>>) -> azure_core::Result<String> {
        let credential_error =
            |message: String| azure_core::Error::with_message(azure_core::error::ErrorKind::Credential, message);
        let mut random = [0_u8; 16];
        SystemRandom::new()
            .fill(&mut random)
            .map_err(|_| credential_error("no randomness for the client assertion's id".to_owned()))?;
        let jti = uuid::Builder::from_random_bytes(random).into_uuid().to_string();
        self.assertion_at(SystemTime::now(), &jti).map_err(credential_error)
    }
}

/// The DER of every PEM block labelled `label`, in order.
fn pem_blocks(pem: &str, label: &str) -> Result<Vec<Vec<u8>>, base64::DecodeError> {
    let begin = format!("-----BEGIN {label}-----");
    let end = format!("-----END {label}-----");
    let mut blocks = Vec::new();
    let mut rest = pem;
    while let Some(start) = rest.find(&begin) {
        let body = &rest[start + begin.len()..];
        let Some(stop) = body.find(&end) else { break };
        let base64: String = body[..stop].split_whitespace().collect();
        blocks.push(BASE64.decode(base64)?);
        rest = &body[stop + end.len()..];
    }
    Ok(blocks)
}

#[cfg(test)]
mod tests {
    use ring::signature::{RSA_PKCS1_2048_8192_SHA256, UnparsedPublicKey};
    use serde_json::Value;

    use super::*;

    const KEY: &str = include_str!("../../../../../fakecloud/keys/entra_throwaway_client.key");
    const CERTIFICATE: &str = include_str!("../../../../../fakecloud/keys/entra_throwaway_client.crt");
    /// Another key: with [`CERTIFICATE`], a pair that does not match.
    const OTHER_KEY: &str = include_str!("../../../../../fakecloud/keys/oci_throwaway_key.pem");
    const AUDIENCE: &str = "https://login.microsoftonline.com/contoso-tenant/oauth2/v2.0/token";

    fn decode(part: &str) -> Value {
        serde_json::from_slice(&BASE64_URL.decode(part).expect("base64url")).expect("JSON")
    }

    fn certificate_der() -> Vec<u8> {
        pem_blocks(CERTIFICATE, "CERTIFICATE").expect("base64").remove(0)
    }

    #[test]
    fn the_assertion_names_the_certificate_and_the_client_and_verifies_with_its_public_key() {
        // The certificate first, then the key: the order in the file does not matter.
        let pem = format!("{CERTIFICATE}{KEY}");
        let assertion = CertificateAssertion::from_pem(pem.as_bytes(), "client.pem", "app-1", AUDIENCE, false)
            .expect("a certificate");
        let now = UNIX_EPOCH + Duration::from_secs(1_780_000_000);
        let jwt = assertion.assertion_at(now, "jti-1").expect("signed");
        let parts: Vec<&str> = jwt.split('.').collect();
        assert_eq!(parts.len(), 3);
        let der = certificate_der();
        // The SHA-1 thumbprint `openssl x509 -fingerprint -sha1` prints for the throwaway certificate.
        assert_eq!(
            digest(&SHA1_FOR_LEGACY_USE_ONLY, &der).as_ref(),
            [
                0x19, 0x0C, 0xE5, 0xE8, 0x9A, 0x2D, 0x9E, 0xFC, 0x30, 0x73, 0xBE, 0xF9, 0x7F, 0x26, 0x37, 0xEE, 0xE6,
                0x3F, 0x8A, 0x94
            ]
        );
        assert_eq!(
            decode(parts[0]),
            json!({
                "alg": "RS256",
                "typ": "JWT",
                "x5t": BASE64_URL.encode(digest(&SHA1_FOR_LEGACY_USE_ONLY, &der)),
                "x5t#S256": BASE64_URL.encode(digest(&SHA256, &der)),
            })
        );
        assert_eq!(
            decode(parts[1]),
            json!({
                "aud": AUDIENCE,
                "iss": "app-1",
                "sub": "app-1",
                "jti": "jti-1",
                "nbf": 1_780_000_000,
                "iat": 1_780_000_000,
                "exp": 1_780_000_600,
            })
        );
        let key = parse_private_key(KEY, "key", "").expect("key");
        let signature = BASE64_URL.decode(parts[2]).expect("base64url");
        UnparsedPublicKey::new(&RSA_PKCS1_2048_8192_SHA256, key.public().as_ref())
            .verify(format!("{}.{}", parts[0], parts[1]).as_bytes(), &signature)
            .expect("the signature verifies with the certificate's public key");
        // A changed claim no longer verifies.
        let forged = BASE64_URL.encode(decode(parts[1]).to_string().replace("app-1", "app-2"));
        assert!(
            UnparsedPublicKey::new(&RSA_PKCS1_2048_8192_SHA256, key.public().as_ref())
                .verify(format!("{}.{forged}", parts[0]).as_bytes(), &signature)
                .is_err()
        );
    }

    #[test]
    fn the_chain_is_sent_only_when_asked() {
        let pem = format!("{KEY}{CERTIFICATE}");
        let assertion = CertificateAssertion::from_pem(pem.as_bytes(), "client.pem", "app-1", AUDIENCE, true)
            .expect("a certificate");
        let jwt = assertion.assertion_at(SystemTime::now(), "jti").expect("signed");
        let header = decode(jwt.split('.').next().expect("header"));
        assert_eq!(header["x5c"], json!([BASE64.encode(certificate_der())]));
    }

    #[test]
    fn unusable_files_are_refused_naming_the_file_never_the_key() {
        let refused = |bytes: &[u8]| {
            CertificateAssertion::from_pem(bytes, "/secrets/client.pem", "app-1", AUDIENCE, false).expect_err("refused")
        };
        let mismatched = refused(format!("{OTHER_KEY}{CERTIFICATE}").as_bytes());
        assert_eq!(
            mismatched,
            "the private key in AZURE_CLIENT_CERTIFICATE_PATH /secrets/client.pem does not match its certificate"
        );
        assert!(refused(KEY.as_bytes()).contains("holds no certificate"));
        assert!(
            refused(&[0x30, 0x82, 0x0a, 0xff, 0x02]).contains("PKCS#12 (.pfx, .p12) certificates are not supported")
        );
        assert!(refused(CERTIFICATE.as_bytes()).contains("is no PEM RSA private key"));
        let encrypted =
            format!("-----BEGIN ENCRYPTED PRIVATE KEY-----\nxx\n-----END ENCRYPTED PRIVATE KEY-----\n{CERTIFICATE}");
        assert!(refused(encrypted.as_bytes()).contains("encrypted with a passphrase"));
        let key_body: String = KEY.lines().filter(|line| !line.starts_with("-----")).collect();
        for message in [mismatched, refused(KEY.as_bytes())] {
            assert!(!message.contains(&key_body[..40]), "{message}");
        }
    }

    #[test]
    fn a_password_or_a_missing_file_is_a_clear_error() {
        let with_password = CertificateVariables {
            path: "/secrets/client.pfx".to_owned(),
            password: Some("pfx-password".to_owned()),
            ..CertificateVariables::default()
        };
        let error = credential("contoso-tenant", "app-1", &with_password).expect_err("refused");
        assert!(
            error.starts_with("AZURE_CLIENT_CERTIFICATE_PASSWORD is set, but password-protected"),
            "{error}"
        );
        assert!(!error.contains("pfx-password"));
        let missing = CertificateVariables {
            path: "/nonexistent/modelbench/client.pem".to_owned(),
            ..CertificateVariables::default()
        };
        let error = credential("contoso-tenant", "app-1", &missing).expect_err("refused");
        assert!(
            error.starts_with("cannot read AZURE_CLIENT_CERTIFICATE_PATH /nonexistent/modelbench/client.pem"),
            "{error}"
        );
    }

    #[test]
    fn the_audience_is_the_token_endpoint_of_the_authority() {
        assert_eq!(
            token_endpoint(PUBLIC_CLOUD_AUTHORITY, "contoso-tenant").expect("url"),
            AUDIENCE
        );
        assert_eq!(
            token_endpoint("https://127.0.0.1:4443/", "t-1").expect("url"),
            "https://127.0.0.1:4443/t-1/oauth2/v2.0/token"
        );
    }
}
