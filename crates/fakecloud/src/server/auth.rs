//! API-key checks, in each cloud's header.
//!
//! OpenAI wants `Authorization: Bearer`, Azure `api-key` or a Bearer token,
//! Anthropic `x-api-key`, and Ollama nothing unless a key is configured.

use axum::http::HeaderMap;

use crate::Keys;
use crate::server::Provider;

/// Why a request was not let in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum AuthFailure {
    Missing,
    /// The key presented, kept only so OpenAI's message can mask it.
    Wrong(String),
}

pub(crate) fn check(provider: Provider, keys: &Keys, headers: &HeaderMap) -> Result<(), AuthFailure> {
    let expected = match provider {
        Provider::OpenAi => keys.openai.as_str(),
        Provider::Azure => keys.azure.as_str(),
        Provider::Anthropic => keys.anthropic.as_str(),
        Provider::Ollama => match &keys.ollama {
            Some(expected) => expected.as_str(),
            None => return Ok(()),
        },
    };
    match presented_key(provider, headers) {
        None => Err(AuthFailure::Missing),
        Some(key) if key == expected => Ok(()),
        Some(key) => Err(AuthFailure::Wrong(key)),
    }
}

/// The key the request carries in the provider's header, if any.
pub(crate) fn presented_key(provider: Provider, headers: &HeaderMap) -> Option<String> {
    match provider {
        Provider::OpenAi | Provider::Ollama => bearer(headers),
        Provider::Azure => header(headers, "api-key").or_else(|| bearer(headers)),
        Provider::Anthropic => header(headers, "x-api-key"),
    }
}

fn header(headers: &HeaderMap, name: &str) -> Option<String> {
    let value = headers.get(name)?.to_str().ok()?.trim();
    (!value.is_empty()).then(|| value.to_owned())
}

fn bearer(headers: &HeaderMap) -> Option<String> {
    let value = header(headers, "authorization")?;
    let (scheme, token) = value.split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then(|| token.to_owned())
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
