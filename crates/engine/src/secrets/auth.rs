//! Request-time authentication, for every kind of credential and in this one place: keys and
//! pasted tokens (the header each cloud reads them from), AWS SigV4 and OCI HTTP signatures
//! (signed per request, over the exact bytes sent), Google OAuth tokens (fetched and refreshed
//! from Application Default Credentials) and Microsoft Entra ID tokens (from the Azure credential
//! chain). A prepared request ([`crate::providers::PreparedRequest`]) holds no secret:
//! the headers are added to the copy that is sent, and marked sensitive so no `Debug` shows them.

pub mod aws;
pub mod entra;
pub mod google;
pub mod oci;

use reqwest::header::{AUTHORIZATION, HeaderMap, HeaderName, HeaderValue};

use crate::model::error::{ErrorKind, ProviderError};
use crate::model::target::{ProviderKind, Target};
use crate::secrets::credentials::Credential;
use crate::secrets::secret::Secret;

/// Adds the headers `credential` needs to a request that is about to be sent. Called before
/// every attempt: SigV4 signatures carry the time, and tokens expire.
pub async fn authorize(
    credential: &Credential,
    target: &Target,
    url: &str,
    headers: &mut HeaderMap,
    body: &[u8],
) -> Result<(), ProviderError> {
    match credential {
        Credential::Aws(aws) => aws::sign(aws, target, url, headers, body).await,
        Credential::GoogleAdc => google::authorize(target, headers).await,
        Credential::Entra => entra::authorize(target, url, headers).await,
        Credential::Oci(oci) => oci::sign(oci, target, url, headers, body).await,
        Credential::Key(key) => apply_key(target, key, headers),
        Credential::None => Ok(()),
    }
}

/// Sets a key or pasted token where `target`'s cloud reads it: `Authorization: Bearer` (OpenAI,
/// Ollama, Bedrock API keys, Vertex access tokens, OCI Generative AI API keys), `api-key` (Azure), `x-api-key` (Anthropic),
/// `x-goog-api-key` (Gemini).
fn apply_key(target: &Target, key: &Secret, headers: &mut HeaderMap) -> Result<(), ProviderError> {
    let (name, value) = match target.provider {
        ProviderKind::OpenAi
        | ProviderKind::Ollama
        | ProviderKind::Bedrock
        | ProviderKind::Vertex
        | ProviderKind::Oci => (AUTHORIZATION, format!("Bearer {}", key.expose())),
        ProviderKind::Azure => (HeaderName::from_static("api-key"), key.expose().to_owned()),
        ProviderKind::Anthropic => (HeaderName::from_static("x-api-key"), key.expose().to_owned()),
        ProviderKind::Gemini => (HeaderName::from_static("x-goog-api-key"), key.expose().to_owned()),
    };
    let mut value = HeaderValue::from_str(&value).map_err(|_| {
        let mut error = ProviderError::new(
            ErrorKind::Validation,
            target.provider.as_str(),
            "the key contains characters not allowed in an HTTP header",
        );
        error.target.clone_from(&target.name);
        error
    })?;
    value.set_sensitive(true);
    headers.insert(name, value);
    Ok(())
}

/// An error and its sources, one after another: credential libraries' top-level errors often
/// say only that something failed, their sources say why. A source already quoted by the
/// message before it is not repeated.
pub(crate) fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    fn authorized(target: &Target, key: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        apply_key(target, &Secret::new(key), &mut headers).expect("a valid key");
        headers
    }

    fn target(provider: ProviderKind) -> Target {
        Target::new("t", provider, "m")
    }

    #[test]
    fn keys_go_where_each_cloud_reads_them_and_never_show() {
        let azure = authorized(&target(ProviderKind::Azure), "sk-test-1234");
        assert_eq!(azure["api-key"], "sk-test-1234");
        assert!(azure["api-key"].is_sensitive());
        assert!(!format!("{azure:?}").contains("sk-test-1234"));
        assert_eq!(
            authorized(&target(ProviderKind::Anthropic), "sk-test-1234")["x-api-key"],
            "sk-test-1234"
        );
        for bearer in [
            ProviderKind::OpenAi,
            ProviderKind::Ollama,
            ProviderKind::Bedrock,
            ProviderKind::Vertex,
        ] {
            let headers = authorized(&target(bearer), "tok-1");
            assert_eq!(headers["authorization"], "Bearer tok-1", "{bearer:?}");
            assert!(headers["authorization"].is_sensitive());
            assert_eq!(headers.len(), 1, "{bearer:?}: {headers:?}");
        }
        let gemini = authorized(&target(ProviderKind::Gemini), "AIza-test-1234");
        assert_eq!(gemini["x-goog-api-key"], "AIza-test-1234");
        assert!(gemini["x-goog-api-key"].is_sensitive());
        assert!(!gemini.contains_key("authorization"));
    }

    #[test]
    fn a_key_no_header_can_hold_is_refused_naming_the_target() {
        let mut headers = HeaderMap::new();
        let error =
            apply_key(&target(ProviderKind::OpenAi), &Secret::new("sk-\nbad"), &mut headers).expect_err("a line break");
        assert_eq!(error.kind, ErrorKind::Validation);
        assert_eq!(error.target, "t");
        assert_eq!(
            error.message,
            "the key contains characters not allowed in an HTTP header"
        );
        assert!(headers.is_empty());
    }

    #[tokio::test]
    async fn every_credential_is_applied_by_authorize() {
        let mut headers = HeaderMap::new();
        let credential = Credential::Key(Secret::new("sk-1"));
        authorize(
            &credential,
            &target(ProviderKind::OpenAi),
            "http://127.0.0.1:1/v1",
            &mut headers,
            b"{}",
        )
        .await
        .expect("a key");
        assert_eq!(headers["authorization"], "Bearer sk-1");
        let mut none = HeaderMap::new();
        authorize(
            &Credential::None,
            &target(ProviderKind::Ollama),
            "http://127.0.0.1:1",
            &mut none,
            b"{}",
        )
        .await
        .expect("nothing to add");
        assert!(none.is_empty());
    }
}
