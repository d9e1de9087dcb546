//! Where keys come from, behind one small interface.
//!
//! Targets only name a key: a keychain entry (`key = "NAME"`) and/or an environment variable
//! (`api_key_ref = "env:VARIABLE"`, default the provider's usual one). A [`CredentialSource`]
//! turns those names into a [`Credential`] when a run starts. Bedrock and Vertex fall back to
//! their clouds' own credential chains (AWS profiles/SSO/roles, Google ADC), which are resolved
//! and refreshed at request time by [`crate::auth`].
//! A `Secret` never prints its value, so it cannot leak through `Debug`, logs or errors.

use std::collections::HashMap;
use std::fmt;

use crate::error::{Error, Result};
use crate::target::{KeyRef, ProviderKind, Target};

/// A key. Its `Debug` and `Display` never show the value.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Removes every occurrence of the secret from `text` (clouds sometimes echo keys in errors).
    pub fn redact(&self, text: &str) -> String {
        if self.0.len() < 4 {
            return text.to_owned();
        }
        text.replace(&self.0, "[redacted]")
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str("Secret([redacted])")
    }
}

/// How a target authenticates, once resolved.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Credential {
    /// No credential (local Ollama).
    None,
    /// A key or token, sent the way the provider expects it: `Authorization: Bearer` (OpenAI,
    /// Ollama, Bedrock API keys, Vertex access tokens), `api-key` (Azure), `x-api-key`
    /// (Anthropic), `x-goog-api-key` (Gemini).
    Key(Secret),
    /// AWS SigV4 signing (Bedrock).
    Aws(AwsCredential),
    /// Google Application Default Credentials (Vertex), fetched and refreshed by `gcp_auth`.
    GoogleAdc,
}

impl Credential {
    /// Every secret value this credential holds, for redaction.
    pub fn secrets(&self) -> Vec<&Secret> {
        match self {
            Self::Key(secret) => vec![secret],
            Self::Aws(AwsCredential::Static {
                secret_access_key,
                session_token,
                ..
            }) => std::iter::once(secret_access_key)
                .chain(session_token.as_ref())
                .collect(),
            _ => Vec::new(),
        }
    }

    pub fn key(&self) -> Option<&Secret> {
        match self {
            Self::Key(secret) => Some(secret),
            _ => None,
        }
    }
}

/// Where Bedrock's SigV4 credentials come from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AwsCredential {
    /// The standard AWS chain (`aws-config`): environment, shared config/credentials files and
    /// profiles (SSO included), web identity, container and instance roles.
    Chain { profile: Option<String> },
    /// Explicit credentials (tests, or a caller that already has them).
    Static {
        access_key_id: String,
        secret_access_key: Secret,
        session_token: Option<Secret>,
    },
}

pub trait CredentialSource: Send + Sync {
    /// The credential for `target`. A key that is named but missing everywhere is an error
    /// naming what to set.
    fn resolve(&self, target: &Target) -> Result<Credential>;
}

/// What a target falls back to when no key is found: the cloud's own chain, or nothing.
fn cloud_chain(target: &Target) -> Option<Credential> {
    match target.provider {
        ProviderKind::Bedrock => Some(Credential::Aws(AwsCredential::Chain {
            profile: target.profile.clone(),
        })),
        ProviderKind::Vertex => Some(Credential::GoogleAdc),
        _ => None,
    }
}

fn env_value(variable: &str) -> Option<Secret> {
    std::env::var(variable)
        .ok()
        .map(|value| value.trim().to_owned())
        .filter(|value| !value.is_empty())
        .map(Secret::new)
}

/// Reads keys from environment variables, then the cloud chains.
#[derive(Clone, Debug, Default)]
pub struct EnvCredentials;

impl CredentialSource for EnvCredentials {
    fn resolve(&self, target: &Target) -> Result<Credential> {
        resolve_with(target, None, env_value)
    }
}

/// The precedence shared by every source: the keychain entry (when `keychain` finds one), then
/// the environment variable, then the cloud's chain (Bedrock, Vertex), else an error.
pub fn resolve_with(
    target: &Target,
    keychain: Option<Secret>,
    lookup: impl Fn(&str) -> Option<Secret>,
) -> Result<Credential> {
    if let Some(secret) = keychain {
        return Ok(Credential::Key(secret));
    }
    match target.key_ref()? {
        KeyRef::None => Ok(Credential::None),
        KeyRef::Env(variable) => {
            if let Some(secret) = lookup(&variable) {
                return Ok(Credential::Key(secret));
            }
            if let Some(chain) = cloud_chain(target) {
                return Ok(chain);
            }
            Err(Error::MissingCredential {
                target: target.name.clone(),
                variable,
            })
        }
    }
}

/// Keys given in memory by variable name, falling back to the environment. Used by the demo
/// (fakecloud's fake keys) and tests, so neither has to touch the process environment.
#[derive(Clone, Debug, Default)]
pub struct StaticCredentials {
    by_variable: HashMap<String, Secret>,
    aws: Option<AwsCredential>,
}

impl StaticCredentials {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn with(mut self, variable: impl Into<String>, secret: Secret) -> Self {
        self.by_variable.insert(variable.into(), secret);
        self
    }

    /// SigV4 credentials for Bedrock targets that have no API key.
    pub fn with_aws(mut self, access_key_id: impl Into<String>, secret_access_key: Secret) -> Self {
        self.aws = Some(AwsCredential::Static {
            access_key_id: access_key_id.into(),
            secret_access_key,
            session_token: None,
        });
        self
    }
}

impl CredentialSource for StaticCredentials {
    fn resolve(&self, target: &Target) -> Result<Credential> {
        let credential = resolve_with(target, None, |variable| {
            self.by_variable.get(variable).cloned().or_else(|| env_value(variable))
        })?;
        Ok(match (credential, &self.aws) {
            (Credential::Aws(AwsCredential::Chain { .. }), Some(aws)) => Credential::Aws(aws.clone()),
            (credential, _) => credential,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_never_print() {
        let secret = Secret::new("sk-very-secret");
        assert_eq!(format!("{secret:?}"), "Secret([redacted])");
        assert_eq!(secret.redact("bad key sk-very-secret!"), "bad key [redacted]!");
    }

    #[test]
    fn missing_key_names_the_variable() {
        let mut target = Target::new("t1", ProviderKind::OpenAi, "m");
        target.api_key_ref = Some("env:MODELBENCH_TEST_SURELY_UNSET_VARIABLE".into());
        let error = EnvCredentials.resolve(&target).expect_err("unset");
        let message = error.to_string();
        assert!(
            message.contains("MODELBENCH_TEST_SURELY_UNSET_VARIABLE") && message.contains("t1"),
            "{message}"
        );
    }

    #[test]
    fn ollama_needs_no_key_and_static_keys_win() {
        let target = Target::new("local", ProviderKind::Ollama, "llama3");
        assert_eq!(EnvCredentials.resolve(&target).expect("no key"), Credential::None);
        let target = Target::new("o", ProviderKind::OpenAi, "m");
        let source = StaticCredentials::new().with("OPENAI_API_KEY", Secret::new("fake-key"));
        assert_eq!(
            source.resolve(&target).expect("key"),
            Credential::Key(Secret::new("fake-key"))
        );
    }

    #[test]
    fn clouds_fall_back_to_their_chains() {
        let mut bedrock = Target::new("b", ProviderKind::Bedrock, "m");
        bedrock.region = Some("us-east-1".into());
        bedrock.profile = Some("prod".into());
        bedrock.api_key_ref = Some("env:MODELBENCH_TEST_SURELY_UNSET_VARIABLE".into());
        assert_eq!(
            EnvCredentials.resolve(&bedrock).expect("chain"),
            Credential::Aws(AwsCredential::Chain {
                profile: Some("prod".into())
            })
        );
        let source = StaticCredentials::new().with_aws("AKID", Secret::new("secret"));
        assert!(matches!(
            source.resolve(&bedrock).expect("static"),
            Credential::Aws(AwsCredential::Static { .. })
        ));
        let mut vertex = Target::new("v", ProviderKind::Vertex, "gemini");
        vertex.api_key_ref = Some("env:MODELBENCH_TEST_SURELY_UNSET_VARIABLE".into());
        assert_eq!(EnvCredentials.resolve(&vertex).expect("adc"), Credential::GoogleAdc);
        let keyed = resolve_with(&vertex, Some(Secret::new("ya29.token")), |_| None).expect("keychain");
        assert_eq!(keyed, Credential::Key(Secret::new("ya29.token")));
    }
}
