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

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, SystemTime};

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::SharedState;
use super::auth::{AuthFailure, bearer};
use super::request_log::RequestRecord;
use crate::Entra;

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
    headers: HeaderMap,
    body: Bytes,
) -> Response {
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
        Some(entra) => grant(entra, &tenant, field),
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
    // The log shows who asked for what, never the client secret.
    state.log.push(RequestRecord {
        request_id: String::new(),
        provider: "entra".to_owned(),
        path: format!("/{tenant}/oauth2/v2.0/token"),
        model: String::new(),
        authenticated: status == 200,
        credential: form.contains_key("client_secret").then(|| "client_secret".to_owned()),
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

/// The scope granted and the token's lifetime, or Entra's refusal, checked
/// in Entra's order: tenant, grant type, client, secret, scope.
fn grant<'a>(entra: &Entra, tenant: &str, field: impl Fn(&str) -> &'a str) -> Result<(&'a str, Duration), Refusal> {
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
    if field("client_secret") != entra.client_secret {
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
            expires_in: 3600,
        }
    }

    fn form(pairs: &[(&str, &'static str)]) -> impl Fn(&str) -> &'static str {
        let pairs: HashMap<String, &'static str> =
            pairs.iter().map(|(name, value)| ((*name).to_owned(), *value)).collect();
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
            grant(&entra(), "contoso-tenant", form(&GOOD)),
            Ok((COGNITIVE_SERVICES_SCOPE, Duration::from_secs(3600)))
        );
        let with = |name: &str, value: &'static str| {
            let mut pairs = GOOD.to_vec();
            pairs.retain(|(field, _)| *field != name);
            pairs.push((name, value));
            grant(&entra(), "contoso-tenant", form(&pairs)).map_err(code)
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
            grant(&entra(), "other-tenant", form(&GOOD)).map_err(code),
            Err((400, json!(90002)))
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
