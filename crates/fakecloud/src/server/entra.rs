//! Microsoft Entra ID: the token endpoint a service principal signs in at
//! (`POST /{tenant}/oauth2/v2.0/token`, the client-credentials grant, as
//! `login.microsoftonline.com` serves it) and the bearer check the Azure
//! routes make instead of the `api-key` one when [`crate::Entra`] is set.
//!
//! Tokens are opaque strings remembered with their scope and expiry: the
//! Azure routes accept a token only for the Azure AI services audience and
//! only until it expires. Entra's refusals carry its `AADSTS` codes in the
//! shape Microsoft's libraries parse (`error`, `error_description`,
//! `error_codes`). No discovery request comes first: `azure_identity` posts
//! straight to the token endpoint.
//!
//! A client proves itself with its secret or with a client assertion: a JWT
//! (`client_assertion_type` `…:jwt-bearer`) whose header names the registered
//! certificate by its SHA-1 thumbprint (`x5t`), signed RS256 with that
//! certificate's key, whose `aud` is this endpoint's URL as the client
//! reached it, `iss` and `sub` the client id, and whose `nbf`..`exp` holds
//! fakecloud's clock (skewed as configured) with Entra's five minutes of
//! leeway. Each check is real: the signature is verified with the public key
//! read from the certificate.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, SystemTime};

use axum::Extension;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as BASE64_URL;
use ring::digest::{SHA1_FOR_LEGACY_USE_ONLY, digest};
use ring::signature::{RSA_PKCS1_2048_8192_SHA256, UnparsedPublicKey};
use serde_json::{Value, json};

use super::SharedState;
use super::auth::{AuthFailure, bearer};
use super::der::{certificate_rsa_public_key, pem_der};
use super::request_log::RequestRecord;
use crate::Entra;
use crate::tls::Https;

/// `client_assertion_type` for a JWT client assertion.
const JWT_BEARER: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";
/// How far Entra lets an assertion's `nbf` and `exp` be from its clock.
const ASSERTION_LEEWAY: Duration = Duration::from_secs(5 * 60);

/// The audience Azure OpenAI and Foundry resource endpoints accept.
pub const COGNITIVE_SERVICES_SCOPE: &str = "https://cognitiveservices.azure.com/.default";
/// The audience of Foundry project endpoints (issued, but not accepted by
/// the `/openai/…` routes, as on Azure).
pub const FOUNDRY_PROJECT_SCOPE: &str = "https://ai.azure.com/.default";

/// Tokens this server issued.
#[derive(Default)]
pub(crate) struct Tokens {
    issued: Mutex<HashMap<String, Issued>>,
    serial: AtomicU64,
}

struct Issued {
    scope: String,
    expires: SystemTime,
}

impl Tokens {
    /// The Azure routes' check when Entra is on: a bearer token this server
    /// issued for the Azure AI services audience that has not expired. An
    /// `api-key` alone is as good as nothing.
    pub(crate) fn check(&self, headers: &HeaderMap, now: SystemTime) -> Result<(), AuthFailure> {
        let token = bearer(headers).ok_or(AuthFailure::Missing)?;
        let issued = self.issued.lock().unwrap_or_else(PoisonError::into_inner);
        match issued.get(&token) {
            Some(found) if found.scope == COGNITIVE_SERVICES_SCOPE && found.expires > now => Ok(()),
            _ => Err(AuthFailure::Wrong(token)),
        }
    }

    fn issue(&self, scope: &str, lifetime: Duration, tag: &str) -> String {
        let serial = self.serial.fetch_add(1, Ordering::Relaxed) + 1;
        let token = format!("eyFakeEntraToken.{tag}.{serial:06}");
        self.issued.lock().unwrap_or_else(PoisonError::into_inner).insert(
            token.clone(),
            Issued {
                scope: scope.to_owned(),
                expires: SystemTime::now() + lifetime,
            },
        );
        token
    }
}

/// `POST /{tenant}/oauth2/v2.0/token`.
pub(crate) async fn token(
    State(state): State<SharedState>,
    Path(tenant): Path<String>,
    https: Option<Extension<Https>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let scheme = if https.is_some() { "https" } else { "http" };
    let host = headers
        .get("host")
        .and_then(|value| value.to_str().ok())
        .unwrap_or_default();
    let reached = Reached {
        endpoint: format!("{scheme}://{host}/{tenant}/oauth2/v2.0/token"),
        now: state.now(),
    };
    let form: HashMap<String, String> = url_form(&body);
    let field = |name: &str| form.get(name).map(String::as_str).unwrap_or_default();
    let is_form = headers
        .get("content-type")
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| value.starts_with("application/x-www-form-urlencoded"));
    let answer = match &state.keys.entra {
        _ if !is_form => Err(refusal(
            400,
            "invalid_request",
            900144,
            "The request body must contain the following parameter: 'grant_type'.",
        )),
        None => Err(tenant_not_found(&tenant)),
        Some(entra) => grant(entra, &tenant, &reached, field),
    };
    let (status, body, scope) = match answer {
        Ok((scope, lifetime)) => {
            let token = state.entra_tokens.issue(scope, lifetime, &state.instance_tag);
            let seconds = lifetime.as_secs();
            let body = json!({
                "token_type": "Bearer",
                "expires_in": seconds,
                "ext_expires_in": seconds,
                "access_token": token,
            });
            (200, body, scope)
        }
        Err((status, body)) => (status, body, field("scope")),
    };
    // The log shows who asked for what, never the client secret or assertion.
    let credential = ["client_secret", "client_assertion"]
        .into_iter()
        .find(|name| form.contains_key(*name));
    state.log.push(RequestRecord {
        request_id: String::new(),
        provider: "entra".to_owned(),
        path: format!("/{tenant}/oauth2/v2.0/token"),
        model: String::new(),
        authenticated: status == 200,
        credential: credential.map(str::to_owned),
        status,
        server_time_to_first_token_us: None,
        server_body_sent_us: None,
        completed: true,
        scenario: None,
        body: json!({
            "grant_type": field("grant_type"),
            "client_id": field("client_id"),
            "scope": scope,
        }),
    });
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_REQUEST);
    (
        status,
        [("content-type", "application/json; charset=utf-8")],
        body.to_string(),
    )
        .into_response()
}

type Refusal = (u16, Value);

/// The token endpoint's URL as the client reached it (an assertion's
/// audience), and fakecloud's clock then.
pub(crate) struct Reached {
    pub endpoint: String,
    pub now: SystemTime,
}

/// The scope granted and the token's lifetime, or Entra's refusal, checked
/// in Entra's order: tenant, grant type, client, secret or assertion, scope.
fn grant<'a>(
    entra: &Entra,
    tenant: &str,
    reached: &Reached,
    field: impl Fn(&str) -> &'a str,
) -> Result<(&'a str, Duration), Refusal> {
    if tenant != entra.tenant {
        return Err(tenant_not_found(tenant));
    }
    if field("grant_type") != "client_credentials" {
        return Err(refusal(
            400,
            "unsupported_grant_type",
            70003,
            "The app requested an unsupported grant type.",
        ));
    }
    if field("client_id") != entra.client_id {
        return Err(refusal(
            400,
            "unauthorized_client",
            700016,
            &format!(
                "Application with identifier '{}' was not found in the directory '{tenant}'.",
                field("client_id")
            ),
        ));
    }
    if !field("client_assertion_type").is_empty() || !field("client_assertion").is_empty() {
        if field("client_assertion_type") != JWT_BEARER {
            return Err(refusal(
                400,
                "invalid_request",
                50027,
                &format!(
                    "Invalid client_assertion_type '{}': only {JWT_BEARER} is supported.",
                    field("client_assertion_type")
                ),
            ));
        }
        check_assertion(entra, field("client_assertion"), reached)?;
    } else if field("client_secret") != entra.client_secret {
        return Err(refusal(
            401,
            "invalid_client",
            7000215,
            "Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID.",
        ));
    }
    let scope = field("scope");
    if scope != COGNITIVE_SERVICES_SCOPE && scope != FOUNDRY_PROJECT_SCOPE {
        return Err(refusal(
            400,
            "invalid_scope",
            1002012,
            &format!(
                "The provided value for scope {scope} is not valid. Client credential flows must have a scope value with /.default suffixed to the resource identifier (application ID URI)."
            ),
        ));
    }
    Ok((scope, Duration::from_secs(entra.expires_in)))
}

/// A client assertion checked as Entra does: registered certificate, RS256
/// signature, audience, issuer and subject, validity window.
fn check_assertion(entra: &Entra, assertion: &str, reached: &Reached) -> Result<(), Refusal> {
    let invalid_client = |code, description: &str| refusal(401, "invalid_client", code, description);
    let malformed = || refusal(400, "invalid_request", 50027, "JWT token is invalid or malformed.");
    let parts: Vec<&str> = assertion.split('.').collect();
    let [header, claims, signature] = parts[..] else {
        return Err(malformed());
    };
    let json_part = |part: &str| -> Option<Value> { serde_json::from_slice(&BASE64_URL.decode(part).ok()?).ok() };
    let (Some(header_json), Some(claims_json), Ok(signature)) =
        (json_part(header), json_part(claims), BASE64_URL.decode(signature))
    else {
        return Err(malformed());
    };
    let unregistered = || {
        invalid_client(
            700027,
            "The certificate with identifier used to sign the client assertion is not registered on application.",
        )
    };
    let certificate = entra
        .client_certificate_pem
        .as_deref()
        .and_then(pem_der)
        .ok_or_else(unregistered)?;
    let thumbprint = BASE64_URL.encode(digest(&SHA1_FOR_LEGACY_USE_ONLY, &certificate));
    if header_json["x5t"].as_str() != Some(thumbprint.as_str()) {
        return Err(unregistered());
    }
    let public_key = certificate_rsa_public_key(&certificate).ok_or_else(unregistered)?;
    let signed = format!("{header}.{claims}");
    let verified = header_json["alg"] == "RS256"
        && UnparsedPublicKey::new(&RSA_PKCS1_2048_8192_SHA256, public_key)
            .verify(signed.as_bytes(), &signature)
            .is_ok();
    if !verified {
        return Err(invalid_client(700027, "Client assertion failed signature validation."));
    }
    if claims_json["aud"].as_str() != Some(reached.endpoint.as_str()) {
        return Err(invalid_client(
            700212,
            &format!(
                "No matching federated identity record found for presented assertion audience '{}'; expected '{}'.",
                claims_json["aud"].as_str().unwrap_or_default(),
                reached.endpoint
            ),
        ));
    }
    let client_id = Some(entra.client_id.as_str());
    if claims_json["iss"].as_str() != client_id || claims_json["sub"].as_str() != client_id {
        return Err(invalid_client(
            700021,
            "Client assertion application identifier doesn't match 'client_id' parameter.",
        ));
    }
    let now = crate::clock::unix_seconds(reached.now);
    let leeway = ASSERTION_LEEWAY.as_secs();
    let (Some(not_before), Some(expires)) = (claims_json["nbf"].as_u64(), claims_json["exp"].as_u64()) else {
        return Err(malformed());
    };
    if claims_json["jti"].as_str().is_none_or(str::is_empty) {
        return Err(malformed());
    }
    if not_before > now + leeway || expires + leeway <= now {
        return Err(invalid_client(
            700024,
            "Client assertion is not within its valid time range.",
        ));
    }
    Ok(())
}

fn tenant_not_found(tenant: &str) -> Refusal {
    refusal(
        400,
        "invalid_request",
        90002,
        &format!(
            "Tenant '{tenant}' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud."
        ),
    )
}

fn refusal(status: u16, error: &str, code: u32, description: &str) -> Refusal {
    (
        status,
        json!({
            "error": error,
            "error_description": format!("AADSTS{code}: {description}"),
            "error_codes": [code],
            "timestamp": "2026-01-01 00:00:00Z",
            "trace_id": "00000000-0000-4000-8000-000000000000",
            "correlation_id": "00000000-0000-4000-8000-000000000001",
        }),
    )
}

/// An `application/x-www-form-urlencoded` body (`+` is a space).
fn url_form(body: &[u8]) -> HashMap<String, String> {
    String::from_utf8_lossy(body)
        .split('&')
        .filter_map(|pair| pair.split_once('='))
        .filter_map(|(name, value)| {
            let decode = |text: &str| crate::scenario::percent_decode(&text.replace('+', " "));
            Some((decode(name)?, decode(value)?))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entra() -> Entra {
        Entra {
            tenant: "contoso-tenant".to_owned(),
            client_id: "app-1".to_owned(),
            client_secret: "s3cret~value".to_owned(),
            client_certificate_pem: Some(crate::FAKE_ENTRA_CLIENT_CERTIFICATE_PEM.to_owned()),
            expires_in: 3600,
        }
    }

    const ENDPOINT: &str = "https://127.0.0.1:4443/contoso-tenant/oauth2/v2.0/token";

    fn reached() -> Reached {
        Reached {
            endpoint: ENDPOINT.to_owned(),
            now: SystemTime::now(),
        }
    }

    fn form<'a>(pairs: &[(&str, &'a str)]) -> impl Fn(&str) -> &'a str {
        let pairs: HashMap<String, &'a str> = pairs.iter().map(|(name, value)| ((*name).to_owned(), *value)).collect();
        move |name| pairs.get(name).copied().unwrap_or_default()
    }

    const GOOD: [(&str, &str); 4] = [
        ("grant_type", "client_credentials"),
        ("client_id", "app-1"),
        ("client_secret", "s3cret~value"),
        ("scope", COGNITIVE_SERVICES_SCOPE),
    ];

    fn code(refusal: Refusal) -> (u16, Value) {
        (refusal.0, refusal.1["error_codes"][0].clone())
    }

    #[test]
    fn grants_the_configured_principal_and_refuses_everything_else_as_entra_does() {
        assert_eq!(
            grant(&entra(), "contoso-tenant", &reached(), form(&GOOD)),
            Ok((COGNITIVE_SERVICES_SCOPE, Duration::from_secs(3600)))
        );
        let with = |name: &str, value: &'static str| {
            let mut pairs = GOOD.to_vec();
            pairs.retain(|(field, _)| *field != name);
            pairs.push((name, value));
            grant(&entra(), "contoso-tenant", &reached(), form(&pairs)).map_err(code)
        };
        assert_eq!(with("client_secret", "wrong"), Err((401, json!(7000215))));
        assert_eq!(with("client_id", "app-2"), Err((400, json!(700016))));
        assert_eq!(with("grant_type", "password"), Err((400, json!(70003))));
        assert_eq!(
            with("scope", "https://management.azure.com/.default"),
            Err((400, json!(1002012)))
        );
        assert_eq!(
            with("scope", FOUNDRY_PROJECT_SCOPE),
            Ok((FOUNDRY_PROJECT_SCOPE, Duration::from_secs(3600)))
        );
        assert_eq!(
            grant(&entra(), "other-tenant", &reached(), form(&GOOD)).map_err(code),
            Err((400, json!(90002)))
        );
    }

    /// A client assertion with `header` and `claims`, signed with `key_pem`.
    fn assertion(header: &Value, claims: &Value, key_pem: &str) -> String {
        let der = pem_der(key_pem).expect("PEM");
        let key = ring::signature::RsaKeyPair::from_pkcs8(&der)
            .or_else(|_| ring::signature::RsaKeyPair::from_der(&der))
            .expect("RSA key");
        let signed = format!(
            "{}.{}",
            BASE64_URL.encode(header.to_string()),
            BASE64_URL.encode(claims.to_string())
        );
        let mut signature = vec![0; key.public().modulus_len()];
        key.sign(
            &ring::signature::RSA_PKCS1_SHA256,
            &ring::rand::SystemRandom::new(),
            signed.as_bytes(),
            &mut signature,
        )
        .expect("signed");
        format!("{signed}.{}", BASE64_URL.encode(signature))
    }

    fn good_header() -> Value {
        let certificate = pem_der(crate::FAKE_ENTRA_CLIENT_CERTIFICATE_PEM).expect("PEM");
        json!({
            "alg": "RS256",
            "typ": "JWT",
            "x5t": BASE64_URL.encode(digest(&SHA1_FOR_LEGACY_USE_ONLY, &certificate)),
        })
    }

    fn good_claims() -> Value {
        let now = crate::clock::unix_seconds(SystemTime::now());
        json!({"aud": ENDPOINT, "iss": "app-1", "sub": "app-1", "jti": "j-1", "nbf": now, "iat": now, "exp": now + 600})
    }

    /// What the endpoint says to an assertion.
    fn with_assertion(assertion: &str) -> Result<(String, Duration), (u16, Value)> {
        assertion_to(&entra(), JWT_BEARER, assertion)
    }

    /// What `entra`'s endpoint says to an assertion of `assertion_type`.
    fn assertion_to(entra: &Entra, assertion_type: &str, assertion: &str) -> Result<(String, Duration), (u16, Value)> {
        let pairs = [
            ("grant_type", "client_credentials"),
            ("client_id", "app-1"),
            ("client_assertion_type", assertion_type),
            ("client_assertion", assertion),
            ("scope", COGNITIVE_SERVICES_SCOPE),
        ];
        grant(entra, "contoso-tenant", &reached(), form(&pairs))
            .map(|(scope, lifetime)| (scope.to_owned(), lifetime))
            .map_err(code)
    }

    #[test]
    fn a_client_assertion_is_verified_with_the_registered_certificate() {
        let key = crate::FAKE_ENTRA_CLIENT_KEY_PEM;
        let granted = Ok((COGNITIVE_SERVICES_SCOPE.to_owned(), Duration::from_secs(3600)));
        assert_eq!(with_assertion(&assertion(&good_header(), &good_claims(), key)), granted);
        // Signed with another key.
        assert_eq!(
            with_assertion(&assertion(
                &good_header(),
                &good_claims(),
                crate::FAKE_OCI_PRIVATE_KEY_PEM
            )),
            Err((401, json!(700027)))
        );
        // A certificate that is not registered.
        let mut header = good_header();
        header["x5t"] = json!("c29tZS1vdGhlci1jZXJ0aWZpY2F0ZQ");
        assert_eq!(
            with_assertion(&assertion(&header, &good_claims(), key)),
            Err((401, json!(700027)))
        );
        // Another algorithm.
        let mut header = good_header();
        header["alg"] = json!("PS256");
        assert_eq!(
            with_assertion(&assertion(&header, &good_claims(), key)),
            Err((401, json!(700027)))
        );
        // A changed claim after signing.
        let good = assertion(&good_header(), &good_claims(), key);
        let mut parts: Vec<String> = good.split('.').map(str::to_owned).collect();
        let mut forged = good_claims();
        forged["exp"] = json!(u64::MAX / 2);
        parts[1] = BASE64_URL.encode(forged.to_string());
        assert_eq!(with_assertion(&parts.join(".")), Err((401, json!(700027))));
        let claims_with = |name: &str, value: Value| {
            let mut claims = good_claims();
            claims[name] = value;
            with_assertion(&assertion(&good_header(), &claims, key))
        };
        assert_eq!(
            claims_with(
                "aud",
                json!("https://login.microsoftonline.com/contoso-tenant/oauth2/v2.0/token")
            ),
            Err((401, json!(700212)))
        );
        assert_eq!(claims_with("iss", json!("app-2")), Err((401, json!(700021))));
        assert_eq!(claims_with("sub", json!("app-2")), Err((401, json!(700021))));
        let now = crate::clock::unix_seconds(SystemTime::now());
        assert_eq!(claims_with("exp", json!(now - 301)), Err((401, json!(700024))));
        assert_eq!(claims_with("nbf", json!(now + 301)), Err((401, json!(700024))));
        // Inside the leeway.
        assert_eq!(claims_with("nbf", json!(now + 240)), granted);
        assert_eq!(claims_with("jti", json!("")), Err((400, json!(50027))));
        assert_eq!(with_assertion("not.a.jwt"), Err((400, json!(50027))));
        assert_eq!(with_assertion("two.parts"), Err((400, json!(50027))));
    }

    #[test]
    fn without_a_registered_certificate_every_assertion_is_refused() {
        let mut entra = entra();
        entra.client_certificate_pem = None;
        let assertion = assertion(&good_header(), &good_claims(), crate::FAKE_ENTRA_CLIENT_KEY_PEM);
        assert_eq!(assertion_to(&entra, JWT_BEARER, &assertion), Err((401, json!(700027))));
        assert_eq!(
            assertion_to(&entra, "urn:example:saml", &assertion),
            Err((400, json!(50027)))
        );
    }

    #[test]
    fn the_form_is_percent_decoded() {
        let form = url_form(b"scope=https%3A%2F%2Fcognitiveservices.azure.com%2F.default&client_secret=a+b%7E");
        assert_eq!(form["scope"], COGNITIVE_SERVICES_SCOPE);
        assert_eq!(form["client_secret"], "a b~");
    }

    #[test]
    fn azure_routes_take_only_unexpired_tokens_for_their_audience() {
        let tokens = Tokens::default();
        let good = tokens.issue(COGNITIVE_SERVICES_SCOPE, Duration::from_secs(60), "t");
        let project = tokens.issue(FOUNDRY_PROJECT_SCOPE, Duration::from_secs(60), "t");
        let headers = |name: &'static str, value: String| {
            let mut map = HeaderMap::new();
            map.insert(name, value.parse().expect("header"));
            map
        };
        let now = SystemTime::now();
        assert_eq!(
            tokens.check(&headers("authorization", format!("Bearer {good}")), now),
            Ok(())
        );
        assert_eq!(
            tokens.check(
                &headers("authorization", format!("Bearer {good}")),
                now + Duration::from_secs(61)
            ),
            Err(AuthFailure::Wrong(good.clone()))
        );
        assert_eq!(
            tokens.check(&headers("authorization", format!("Bearer {project}")), now),
            Err(AuthFailure::Wrong(project))
        );
        assert_eq!(
            tokens.check(&headers("api-key", "fake-key".to_owned()), now),
            Err(AuthFailure::Missing)
        );
        assert_eq!(
            tokens.check(&headers("authorization", "Bearer made-up".to_owned()), now),
            Err(AuthFailure::Wrong("made-up".to_owned()))
        );
    }
}
