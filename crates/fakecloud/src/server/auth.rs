//! Credential checks, in each cloud's header.
//!
//! OpenAI wants `Authorization: Bearer`, Azure `api-key` or a Bearer token
//! (only an Entra token when Entra is configured: see `entra`),
//! Anthropic `x-api-key`, Ollama nothing unless a key is configured, the
//! Gemini API `x-goog-api-key` or `?key=`, Vertex AI an OAuth Bearer token,
//! Bedrock a SigV4 signature (see `sigv4`) or a Bedrock API key, and OCI an
//! OCI HTTP signature (see `oci_signature`) or, on its OpenAI-compatible
//! surface, an OCI Generative AI API key.

use std::time::SystemTime;

use axum::http::{HeaderMap, Uri};

use crate::Keys;
use crate::server::Provider;
use crate::server::oci_signature::{self, OciFailure};
use crate::server::sigv4::{self, SignatureFailure};

/// Why a request was not let in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum AuthFailure {
    Missing,
    /// The key presented, kept only so OpenAI's message can mask it.
    Wrong(String),
    /// Bedrock's SigV4 or API-key refusal.
    Signature(SignatureFailure),
    /// OCI's signature or API-key refusal.
    Oci(OciFailure),
}

/// The parts of a request credentials can be in.
pub(crate) struct Presented<'a> {
    pub uri: &'a Uri,
    pub headers: &'a HeaderMap,
    /// The raw body, which a SigV4 signature covers.
    pub body: &'a [u8],
}

pub(crate) fn check(
    provider: Provider,
    keys: &Keys,
    request: &Presented<'_>,
    now: SystemTime,
) -> Result<(), AuthFailure> {
    let expected = match provider {
        Provider::OpenAi => keys.openai.as_str(),
        Provider::Azure => keys.azure.as_str(),
        Provider::Anthropic => keys.anthropic.as_str(),
        Provider::Ollama => match &keys.ollama {
            Some(expected) => expected.as_str(),
            None => return Ok(()),
        },
        Provider::Gemini => keys.gemini.as_str(),
        Provider::Vertex | Provider::VertexAnthropic => keys.vertex.as_str(),
        Provider::Bedrock => {
            return sigv4::verify(keys, request.uri, request.headers, request.body, now)
                .map_err(AuthFailure::Signature);
        }
        // The OpenAI-compatible surface also takes an API key; the native API does not.
        Provider::Oci => {
            let api_key_allowed = request.uri.path().starts_with("/openai/");
            return oci_signature::verify(keys, request, now, api_key_allowed).map_err(AuthFailure::Oci);
        }
    };
    match presented_key(provider, request) {
        None => Err(AuthFailure::Missing),
        Some(key) if key == expected => Ok(()),
        Some(key) => Err(AuthFailure::Wrong(key)),
    }
}

/// The key the request carries in the provider's header, if any. Bedrock
/// signs rather than presenting a key, so it has none here.
pub(crate) fn presented_key(provider: Provider, request: &Presented<'_>) -> Option<String> {
    let headers = request.headers;
    match provider {
        Provider::OpenAi | Provider::Ollama | Provider::Vertex | Provider::VertexAnthropic | Provider::Oci => {
            bearer(headers)
        }
        Provider::Azure => header(headers, "api-key").or_else(|| bearer(headers)),
        Provider::Anthropic => header(headers, "x-api-key"),
        Provider::Gemini => header(headers, "x-goog-api-key").or_else(|| query_key(request.uri)),
        Provider::Bedrock => None,
    }
}

/// Where the request's credential came from, for the request log; never
/// the secret.
pub(crate) fn describe(provider: Provider, request: &Presented<'_>) -> Option<String> {
    let headers = request.headers;
    let found = |name: &str| header(headers, name).map(|_| name.to_owned());
    match provider {
        Provider::Bedrock => sigv4::describe(headers),
        Provider::Oci => oci_signature::describe(headers),
        Provider::Anthropic => found("x-api-key"),
        Provider::Azure => found("api-key").or_else(|| bearer(headers).map(|_| "bearer".to_owned())),
        Provider::Gemini => found("x-goog-api-key").or_else(|| query_key(request.uri).map(|_| "?key=".to_owned())),
        Provider::OpenAi | Provider::Ollama | Provider::Vertex | Provider::VertexAnthropic => {
            bearer(headers).map(|_| "bearer".to_owned())
        }
    }
}

fn header(headers: &HeaderMap, name: &str) -> Option<String> {
    let value = headers.get(name)?.to_str().ok()?.trim();
    (!value.is_empty()).then(|| value.to_owned())
}

pub(crate) fn bearer(headers: &HeaderMap) -> Option<String> {
    let value = header(headers, "authorization")?;
    let (scheme, token) = value.split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then(|| token.to_owned())
}

/// `?key=` in the query, percent-decoded, as the Gemini API accepts it.
fn query_key(uri: &Uri) -> Option<String> {
    query_value(uri, "key")
        .and_then(|value| crate::scenario::percent_decode(&value.replace('+', " ")))
        .filter(|key| !key.is_empty())
}

/// The raw value of a query parameter.
pub(crate) fn query_value<'a>(uri: &'a Uri, name: &str) -> Option<&'a str> {
    uri.query()?
        .split('&')
        .filter_map(|pair| pair.split_once('='))
        .find_map(|(key, value)| (key == name).then_some(value))
}

/// OpenAI's masking in "Incorrect API key provided": the first four and the
/// last character, so a log never holds the key. Short keys are hidden
/// entirely.
pub(crate) fn mask_key(key: &str) -> String {
    let characters: Vec<char> = key.chars().collect();
    if characters.len() < 8 {
        return "***".to_owned();
    }
    let head: String = characters[..4].iter().collect();
    let tail = characters[characters.len() - 1];
    format!("{head}***{tail}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.insert(*name, value.parse().expect("valid header value"));
        }
        map
    }

    fn check(provider: Provider, keys: &Keys, headers: &HeaderMap) -> Result<(), AuthFailure> {
        check_at(provider, keys, headers, "/")
    }

    fn check_at(provider: Provider, keys: &Keys, headers: &HeaderMap, uri: &str) -> Result<(), AuthFailure> {
        let uri: Uri = uri.parse().expect("uri");
        let request = Presented {
            uri: &uri,
            headers,
            body: b"",
        };
        super::check(provider, keys, &request, SystemTime::now())
    }

    #[test]
    fn google_keys_come_from_header_query_or_bearer() {
        let keys = Keys::default();
        let goog = headers(&[("x-goog-api-key", "fake-key")]);
        assert_eq!(check(Provider::Gemini, &keys, &goog), Ok(()));
        assert_eq!(
            check_at(
                Provider::Gemini,
                &keys,
                &HeaderMap::new(),
                "/v1beta/models/m:x?alt=sse&key=fake%2Dkey"
            ),
            Ok(())
        );
        assert_eq!(
            check_at(Provider::Gemini, &keys, &HeaderMap::new(), "/x?key=nope"),
            Err(AuthFailure::Wrong("nope".to_owned()))
        );
        assert_eq!(
            check(Provider::Gemini, &keys, &HeaderMap::new()),
            Err(AuthFailure::Missing)
        );
        let bearer_ok = headers(&[("authorization", "Bearer fake-key")]);
        assert_eq!(check(Provider::Vertex, &keys, &bearer_ok), Ok(()));
        assert_eq!(
            check(Provider::VertexAnthropic, &keys, &goog),
            Err(AuthFailure::Missing)
        );
        assert!(matches!(
            check(Provider::Bedrock, &keys, &HeaderMap::new()),
            Err(AuthFailure::Signature(SignatureFailure::MissingToken))
        ));
    }

    #[test]
    fn each_provider_reads_its_own_header() {
        let keys = Keys::default();
        let bearer_ok = headers(&[("authorization", "Bearer fake-key")]);
        assert_eq!(check(Provider::OpenAi, &keys, &bearer_ok), Ok(()));
        assert_eq!(check(Provider::Azure, &keys, &bearer_ok), Ok(()));
        assert_eq!(check(Provider::Anthropic, &keys, &bearer_ok), Err(AuthFailure::Missing));
        assert_eq!(
            check(Provider::Azure, &keys, &headers(&[("api-key", "fake-key")])),
            Ok(())
        );
        assert_eq!(
            check(Provider::Anthropic, &keys, &headers(&[("x-api-key", "nope")])),
            Err(AuthFailure::Wrong("nope".to_owned()))
        );
        assert_eq!(check(Provider::Ollama, &keys, &HeaderMap::new()), Ok(()));
        let locked = Keys {
            ollama: Some("secret".to_owned()),
            ..Keys::default()
        };
        assert_eq!(
            check(Provider::Ollama, &locked, &HeaderMap::new()),
            Err(AuthFailure::Missing)
        );
    }

    #[test]
    fn masking_never_shows_the_whole_key() {
        assert_eq!(mask_key("sk-fakekey"), "sk-f***y");
        assert_eq!(mask_key("short"), "***");
    }
}
