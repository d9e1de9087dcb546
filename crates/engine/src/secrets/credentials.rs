//! Where keys come from, behind one small interface.
//!
//! Targets only name a key: a keychain entry (`key = "NAME"`) and/or an environment variable
//! (`api_key_ref = "env:VARIABLE"`, default the provider's usual one). A [`CredentialSource`]
//! turns those names into a [`Credential`] when a run starts. Bedrock and Vertex fall back to
//! their clouds' own credential chains (AWS profiles/SSO/roles, Google ADC), and Azure targets with
//! `auth = "entra"` use the Azure credential chain instead of a key; chains are resolved
//! and refreshed at request time by [`crate::secrets::auth`]. The key itself is a [`Secret`], which never
//! prints its value.

use std::collections::HashMap;

use crate::model::error::{Error, Result};
use crate::model::event::StreamEvent;
use crate::secrets::keychain::Keychain;
// Re-exported: `credentials::Secret` is the path the other crates have always used.
use crate::model::target::{KeyRef, ProviderKind, Target};
pub use crate::secrets::secret::{REDACTED, Secret};

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
    /// Microsoft Entra ID tokens (Azure targets with `auth = "entra"`), from the Azure credential
    /// chain at send time; no key is looked up.
    Entra,
    /// OCI request signing (OCI Generative AI without an API key).
    Oci(OciCredential),
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
            Self::Oci(OciCredential::Static {
                key_id,
                private_key_pem,
            }) => vec![key_id, private_key_pem],
            _ => Vec::new(),
        }
    }

    /// Removes this credential's secrets from everything in `event` that came from the cloud
    /// and is stored or shown: error messages and codes, the request id, region and model
    /// names of its response headers, and text (a gateway that echoes headers into the answer).
    /// A key split over several text deltas is caught by [`Self::redact`] on the whole text.
    pub fn redact_event(&self, event: &mut StreamEvent) {
        let secrets = self.secrets();
        if secrets.is_empty() {
            return;
        }
        let redact = |text: &mut String| {
            for secret in &secrets {
                if text.contains(secret.expose()) || text.contains(&secret.expose().replace('/', "\\/")) {
                    *text = secret.redact(text);
                }
            }
        };
        match event {
            StreamEvent::Error(error) => {
                redact(&mut error.message);
                if let Some(code) = &mut error.code {
                    redact(code);
                }
            }
            StreamEvent::Started(meta) => {
                for value in [
                    &mut meta.request_id,
                    &mut meta.region,
                    &mut meta.reported_model,
                    &mut meta.system_fingerprint,
                    &mut meta.service_tier,
                ]
                .into_iter()
                .flatten()
                {
                    redact(value);
                }
            }
            StreamEvent::Deployment {
                system_fingerprint,
                service_tier,
            } => {
                for value in [system_fingerprint, service_tier].into_iter().flatten() {
                    redact(value);
                }
            }
            StreamEvent::TextDelta { text } | StreamEvent::ReasoningDelta { text } => redact(text),
            StreamEvent::ToolCallDelta {
                id, name, arguments, ..
            } => {
                redact(arguments);
                for value in [id, name].into_iter().flatten() {
                    redact(value);
                }
            }
            _ => {}
        }
    }

    /// Removes this credential's secrets from a whole text (an answer assembled from deltas).
    pub fn redact(&self, text: String) -> String {
        self.secrets().iter().fold(text, |text, secret| {
            if text.contains(secret.expose()) {
                secret.redact(&text)
            } else {
                text
            }
        })
    }

    /// Removes this credential's secrets from a body before it is cut or parsed.
    pub fn redact_bytes(&self, bytes: &[u8]) -> Vec<u8> {
        self.secrets()
            .iter()
            .fold(bytes.to_vec(), |bytes, secret| secret.redact_bytes(&bytes))
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

/// Where OCI's request-signing credentials come from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum OciCredential {
    /// A resource principal, the `OCI_CLI_*` variables or a profile of the OCI config file
    /// (`profile`: the target's; it means the config file), found and loaded at send time by
    /// [`crate::secrets::auth::oci`].
    Chain { profile: Option<String> },
    /// Explicit credentials (tests, or a caller that already has them): the key id
    /// (`tenancy/user/fingerprint` or `ST$token`) and a PEM private key.
    Static { key_id: Secret, private_key_pem: Secret },
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
        ProviderKind::Oci => Some(Credential::Oci(OciCredential::Chain {
            profile: target.profile.clone(),
        })),
        _ => None,
    }
}

/// OCI's native API takes signed requests only: no key is looked up for it.
fn signed_only(target: &Target) -> bool {
    target.provider == ProviderKind::Oci && target.api() == crate::model::target::Api::Native
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

/// Looks a key up by environment variable name.
type VariableLookup = Box<dyn Fn(&str) -> Option<Secret> + Send + Sync>;

/// Keys from the OS keychain for targets that name one (`key = "NAME"`), then the same fallbacks
/// as [`EnvCredentials`]: the environment variable, then the cloud's chain. Targets without a
/// `key` never touch the keychain, so environment-only setups work where no keychain runs.
pub struct KeychainCredentials {
    keychain: Keychain,
    lookup: VariableLookup,
}

impl KeychainCredentials {
    /// Reads fallbacks from the process environment.
    pub fn new(keychain: Keychain) -> Self {
        Self {
            keychain,
            lookup: Box::new(env_value),
        }
    }

    /// Reads fallbacks through `lookup` instead of the process environment (tests, embedders).
    pub fn with_lookup(mut self, lookup: impl Fn(&str) -> Option<Secret> + Send + Sync + 'static) -> Self {
        self.lookup = Box::new(lookup);
        self
    }
}

impl CredentialSource for KeychainCredentials {
    fn resolve(&self, target: &Target) -> Result<Credential> {
        let Some(name) = &target.key else {
            return resolve_with(target, None, &*self.lookup);
        };
        let reason = match self.keychain.get(name) {
            Ok(secret) => return Ok(Credential::Key(secret)),
            Err(reason) => reason,
        };
        let variable = match target.key_ref()? {
            KeyRef::Env(variable) => Some(variable),
            KeyRef::None => None,
        };
        match resolve_with(target, None, &*self.lookup) {
            // A target that names a key wants one: "no credential" (Ollama) is not a fallback.
            Ok(Credential::None) | Err(Error::MissingCredential { .. }) => Err(Error::Keychain {
                target: target.name.clone(),
                variable,
                reason,
            }),
            Ok(credential) => {
                let fallback = match (&credential, &variable) {
                    (Credential::Key(_), Some(variable)) => format!("the environment variable {variable}"),
                    (Credential::Aws(_), _) => "the AWS credential chain".to_owned(),
                    (Credential::GoogleAdc, _) => "Google Application Default Credentials".to_owned(),
                    (Credential::Oci(_), _) => "OCI request signing".to_owned(),
                    _ => "the fallback".to_owned(),
                };
                tracing::warn!(target = %target.name, "key '{name}' not used ({reason}); using {fallback}");
                Ok(credential)
            }
            Err(error) => Err(error),
        }
    }
}

/// The precedence shared by every source: Entra for Azure targets that ask for it (no key
/// then), the keychain entry (when `keychain` finds one), then the environment variable, then the
/// cloud's chain (Bedrock, Vertex), else an error.
pub fn resolve_with(
    target: &Target,
    keychain: Option<Secret>,
    lookup: impl Fn(&str) -> Option<Secret>,
) -> Result<Credential> {
    if target.uses_entra() {
        return Ok(Credential::Entra);
    }
    if let Some(secret) = keychain {
        return Ok(Credential::Key(secret));
    }
    if signed_only(target) {
        return Ok(Credential::Oci(OciCredential::Chain {
            profile: target.profile.clone(),
        }));
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
    oci: Option<OciCredential>,
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

impl StaticCredentials {
    /// OCI signing credentials for OCI targets that have no API key.
    pub fn with_oci(mut self, key_id: Secret, private_key_pem: Secret) -> Self {
        self.oci = Some(OciCredential::Static {
            key_id,
            private_key_pem,
        });
        self
    }
}

impl CredentialSource for StaticCredentials {
    fn resolve(&self, target: &Target) -> Result<Credential> {
        let credential = resolve_with(target, None, |variable| {
            self.by_variable.get(variable).cloned().or_else(|| env_value(variable))
        })?;
        Ok(match (credential, &self.aws, &self.oci) {
            (Credential::Aws(AwsCredential::Chain { .. }), Some(aws), _) => Credential::Aws(aws.clone()),
            (Credential::Oci(OciCredential::Chain { .. }), _, Some(oci)) => Credential::Oci(oci.clone()),
            (credential, _, _) => credential,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_lose_the_key_wherever_the_cloud_put_it() {
        let credential = Credential::Key(Secret::new("AIzaGEMINIFAKEKEY-3e8d41"));
        let mut error = crate::model::error::ProviderError::new(
            crate::model::error::ErrorKind::Auth,
            "gemini",
            "bad AIzaGEMINIFAKEKEY-3e8d41",
        );
        error.code = Some("Bearer AIzaGEMINIFAKEKEY-3e8d41".into());
        let mut event = StreamEvent::Error(error);
        credential.redact_event(&mut event);
        let StreamEvent::Error(error) = &event else {
            unreachable!("still an error")
        };
        assert_eq!(error.message, "bad [redacted]");
        assert_eq!(error.code.as_deref(), Some("Bearer [redacted]"));
        let mut started = StreamEvent::Started(crate::model::event::ResponseMeta {
            request_id: Some("AIzaGEMINIFAKEKEY-3e8d41".into()),
            reported_model: None,
            region: Some("x AIzaGEMINIFAKEKEY-3e8d41".into()),
            system_fingerprint: Some("fp_AIzaGEMINIFAKEKEY-3e8d41".into()),
            service_tier: None,
        });
        credential.redact_event(&mut started);
        let text = serde_json::to_string(&started).expect("json");
        assert!(!text.contains("GEMINIFAKE"), "{text}");
        assert_eq!(
            credential.redact("echo AIzaGEMINIFAKEKEY-3e8d41 echo".to_owned()),
            "echo [redacted] echo"
        );
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

    fn keychain_with(entries: &[(&str, &str)]) -> Keychain {
        let keychain = Keychain::with_builder(keyring::mock::default_credential_builder());
        for (name, value) in entries {
            keychain.set(name, &Secret::new(*value)).expect("mock set");
        }
        keychain
    }

    fn environment(
        variables: &[(&'static str, &'static str)],
    ) -> impl Fn(&str) -> Option<Secret> + Send + Sync + 'static {
        let variables: HashMap<&'static str, &'static str> = variables.iter().copied().collect();
        move |name| variables.get(name).map(|value| Secret::new(*value))
    }

    fn keyed(name: &str, provider: ProviderKind, key: &str) -> Target {
        let mut target = Target::new(name, provider, "m");
        target.key = Some(key.to_owned());
        match provider {
            ProviderKind::Bedrock => target.region = Some("us-east-1".into()),
            ProviderKind::Vertex => {
                target.project = Some("p".into());
                target.location = Some("global".into());
            }
            _ => {}
        }
        target
    }

    #[test]
    fn keychain_beats_the_environment() {
        let source = KeychainCredentials::new(keychain_with(&[("work", "sk-from-keychain")]))
            .with_lookup(environment(&[("OPENAI_API_KEY", "sk-from-env")]));
        let target = keyed("gpt", ProviderKind::OpenAi, "work");
        assert_eq!(
            source.resolve(&target).expect("key"),
            Credential::Key(Secret::new("sk-from-keychain"))
        );
        // Without `key`, the keychain is not consulted at all.
        let plain = Target::new("plain", ProviderKind::OpenAi, "m");
        assert_eq!(
            source.resolve(&plain).expect("env"),
            Credential::Key(Secret::new("sk-from-env"))
        );
    }

    #[test]
    fn environment_stands_in_for_a_missing_entry() {
        let source = KeychainCredentials::new(keychain_with(&[("other", "sk-other")]))
            .with_lookup(environment(&[("TEAM_KEY", "sk-team")]));
        let mut target = keyed("claude", ProviderKind::Anthropic, "work");
        target.api_key_ref = Some("env:TEAM_KEY".into());
        assert_eq!(
            source.resolve(&target).expect("env fallback"),
            Credential::Key(Secret::new("sk-team"))
        );
    }

    #[test]
    fn missing_everywhere_names_the_key_and_the_variable() {
        let source = KeychainCredentials::new(keychain_with(&[])).with_lookup(environment(&[]));
        let error = source
            .resolve(&keyed("gpt", ProviderKind::OpenAi, "work"))
            .expect_err("missing");
        assert_eq!(
            error.to_string(),
            "target 'gpt': no key 'work' in the keychain (modelbench keys set work); \
             the environment variable OPENAI_API_KEY is not set either"
        );
        // Ollama needs no key, but one that names a key wants it.
        let error = source
            .resolve(&keyed("local", ProviderKind::Ollama, "work"))
            .expect_err("missing");
        assert_eq!(
            error.to_string(),
            "target 'local': no key 'work' in the keychain (modelbench keys set work)"
        );
    }

    #[test]
    fn an_unreachable_keychain_explains_itself_unless_the_environment_helps() {
        let source = KeychainCredentials::new(crate::secrets::keychain::test_support::unreachable())
            .with_lookup(environment(&[]));
        let message = source
            .resolve(&keyed("gpt", ProviderKind::OpenAi, "work"))
            .expect_err("unreachable")
            .to_string();
        assert!(message.starts_with("target 'gpt': "), "{message}");
        assert!(message.contains("api_key_ref"), "{message}");
        assert!(message.contains("OPENAI_API_KEY is not set either"), "{message}");
        if cfg!(target_os = "linux") {
            assert!(message.contains("no Secret Service is running"), "{message}");
        }
        let source = KeychainCredentials::new(crate::secrets::keychain::test_support::unreachable())
            .with_lookup(environment(&[("OPENAI_API_KEY", "sk-env")]));
        assert_eq!(
            source
                .resolve(&keyed("gpt", ProviderKind::OpenAi, "work"))
                .expect("env"),
            Credential::Key(Secret::new("sk-env"))
        );
    }

    #[test]
    fn clouds_fall_back_to_their_chains_when_the_entry_is_missing() {
        let source = KeychainCredentials::new(keychain_with(&[])).with_lookup(environment(&[]));
        let mut bedrock = keyed("b", ProviderKind::Bedrock, "aws-work");
        bedrock.profile = Some("prod".into());
        assert_eq!(
            source.resolve(&bedrock).expect("aws chain"),
            Credential::Aws(AwsCredential::Chain {
                profile: Some("prod".into())
            })
        );
        assert_eq!(
            source
                .resolve(&keyed("v", ProviderKind::Vertex, "gcp-token"))
                .expect("adc"),
            Credential::GoogleAdc
        );
        let source = KeychainCredentials::new(keychain_with(&[("aws-work", "bedrock-api-key")]))
            .with_lookup(environment(&[("AWS_BEARER_TOKEN_BEDROCK", "from-env")]));
        assert_eq!(
            source.resolve(&bedrock).expect("keychain first"),
            Credential::Key(Secret::new("bedrock-api-key"))
        );
    }

    #[test]
    fn entra_targets_use_the_azure_chain_and_never_a_key() {
        let mut azure = Target::new("az", ProviderKind::Azure, "gpt54");
        azure.resource = Some("contoso".into());
        azure.auth = Some(crate::model::target::AzureAuth::Entra);
        let source = StaticCredentials::new().with("AZURE_OPENAI_API_KEY", Secret::new("sk-azure"));
        assert_eq!(source.resolve(&azure).expect("entra"), Credential::Entra);
        let keychain = KeychainCredentials::new(keychain_with(&[])).with_lookup(environment(&[]));
        assert_eq!(keychain.resolve(&azure).expect("entra"), Credential::Entra);
        assert!(Credential::Entra.secrets().is_empty());
        azure.auth = Some(crate::model::target::AzureAuth::Key);
        assert_eq!(
            source.resolve(&azure).expect("key"),
            Credential::Key(Secret::new("sk-azure"))
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
