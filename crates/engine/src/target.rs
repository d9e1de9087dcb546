//! Targets: a named place to send a prompt (provider + model + how to reach it).
//!
//! Targets come from a TOML file (`[[target]]` tables) or from the database. A target never holds
//! a secret: it names where the key comes from (`api_key_ref`), and the credential source resolves
//! it at run time.

use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ProviderKind {
    /// OpenAI, and any OpenAI-compatible server (vLLM, LM Studio, OpenRouter, gateways) via `base_url`.
    OpenAi,
    Azure,
    Anthropic,
    Ollama,
}

impl ProviderKind {
    pub const ALL: [Self; 4] = [Self::OpenAi, Self::Azure, Self::Anthropic, Self::Ollama];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::OpenAi => "openai",
            Self::Azure => "azure",
            Self::Anthropic => "anthropic",
            Self::Ollama => "ollama",
        }
    }

    pub fn parse(value: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|kind| kind.as_str() == value)
    }

    /// The environment variable holding this provider's key when a target names none.
    pub fn default_key_variable(self) -> Option<&'static str> {
        match self {
            Self::OpenAi => Some("OPENAI_API_KEY"),
            Self::Azure => Some("AZURE_OPENAI_API_KEY"),
            Self::Anthropic => Some("ANTHROPIC_API_KEY"),
            Self::Ollama => None,
        }
    }
}

impl fmt::Display for ProviderKind {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(self.as_str())
    }
}

/// Which OpenAI-style API to speak (OpenAI and Azure only).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Api {
    #[default]
    Chat,
    Responses,
}

/// Per-target timeouts in milliseconds; unset ones use the run's defaults.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TimeoutOverrides {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connect_ms: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_token_ms: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub idle_ms: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub total_ms: Option<u64>,
}

/// The timeouts in force for one target.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Timeouts {
    pub connect: Duration,
    pub first_token: Duration,
    pub idle: Duration,
    pub total: Duration,
}

impl Default for Timeouts {
    fn default() -> Self {
        Self {
            connect: Duration::from_secs(10),
            first_token: Duration::from_secs(120),
            idle: Duration::from_secs(60),
            total: Duration::from_secs(600),
        }
    }
}

impl Timeouts {
    pub fn with_overrides(self, overrides: &TimeoutOverrides) -> Self {
        let pick = |value: Option<u64>, default: Duration| value.map_or(default, Duration::from_millis);
        Self {
            connect: pick(overrides.connect_ms, self.connect),
            first_token: pick(overrides.first_token_ms, self.first_token),
            idle: pick(overrides.idle_ms, self.idle),
            total: pick(overrides.total_ms, self.total),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Target {
    pub name: String,
    pub provider: ProviderKind,
    /// The model to ask for. For Azure this is the deployment name on the v1 path.
    pub model: String,
    /// `chat` (default) or `responses`; OpenAI and Azure only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api: Option<Api>,
    /// Overrides the provider's endpoint (tests, gateways, OpenAI-compatible servers).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base_url: Option<String>,
    /// Azure: the resource name, giving `https://{resource}.openai.azure.com`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource: Option<String>,
    /// Azure classic path: the deployment name (with `api_version`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deployment: Option<String>,
    /// Azure classic path: the `api-version` query parameter. Without it Azure uses the v1 path.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_version: Option<String>,
    /// Where the key comes from: `env:VARIABLE`. Default: the provider's usual variable.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_key_ref: Option<String>,
    /// OpenAI: optional `OpenAI-Organization` / `OpenAI-Project` headers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub organization: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub project: Option<String>,
    /// Anthropic: `anthropic-version` header (default 2023-06-01).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub anthropic_version: Option<String>,
    /// Extra non-secret request headers (gateways, routing).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub headers: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "is_default_timeouts")]
    pub timeouts: TimeoutOverrides,
    /// A label shown next to the name (the demo marks its targets "simulated").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
}

fn is_default_timeouts(overrides: &TimeoutOverrides) -> bool {
    *overrides == TimeoutOverrides::default()
}

/// A key reference, parsed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum KeyRef {
    Env(String),
    None,
}

impl Target {
    pub fn new(name: impl Into<String>, provider: ProviderKind, model: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            provider,
            model: model.into(),
            api: None,
            base_url: None,
            resource: None,
            deployment: None,
            api_version: None,
            api_key_ref: None,
            organization: None,
            project: None,
            anthropic_version: None,
            headers: BTreeMap::new(),
            timeouts: TimeoutOverrides::default(),
            label: None,
        }
    }

    pub fn api(&self) -> Api {
        self.api.unwrap_or_default()
    }

    /// Where this target's key comes from.
    pub fn key_ref(&self) -> Result<KeyRef> {
        match &self.api_key_ref {
            Some(reference) => match reference.split_once(':') {
                Some(("env", variable)) if !variable.is_empty() => Ok(KeyRef::Env(variable.to_owned())),
                _ => Err(self.error("api_key_ref must be 'env:VARIABLE' (keys are never written into target files)")),
            },
            None => Ok(self
                .provider
                .default_key_variable()
                .map_or(KeyRef::None, |variable| KeyRef::Env(variable.to_owned()))),
        }
    }

    /// Checks the fields that each provider needs, so a bad target fails before any request.
    pub fn validate(&self) -> Result<()> {
        if self.name.trim().is_empty() {
            return Err(Error::InvalidInput("a target has an empty name".to_owned()));
        }
        if self.model.trim().is_empty() && self.deployment.is_none() {
            return Err(self.error("model is empty"));
        }
        if self.api.is_some() && !matches!(self.provider, ProviderKind::OpenAi | ProviderKind::Azure) {
            return Err(self.error("`api` applies only to openai and azure targets"));
        }
        if let Some(base_url) = &self.base_url
            && !(base_url.starts_with("http://") || base_url.starts_with("https://"))
        {
            return Err(self.error(format!("base_url '{base_url}' must start with http:// or https://")));
        }
        if self.provider == ProviderKind::Azure {
            if self.base_url.is_none() && self.resource.is_none() {
                return Err(self.error("azure targets need `resource` (or `base_url`)"));
            }
            if self.deployment.is_some() != self.api_version.is_some() {
                return Err(self.error(
                    "azure classic path needs both `deployment` and `api_version` (omit both for the v1 path)",
                ));
            }
            if self.deployment.is_some() && self.api() == Api::Responses {
                return Err(self.error("azure `responses` uses the v1 path: omit `deployment` and `api_version`"));
            }
        } else if self.resource.is_some() || self.deployment.is_some() || self.api_version.is_some() {
            return Err(self.error("`resource`, `deployment` and `api_version` apply only to azure targets"));
        }
        for name in self.headers.keys() {
            let lower = name.to_ascii_lowercase();
            if matches!(lower.as_str(), "authorization" | "api-key" | "x-api-key") {
                return Err(self.error(format!("header '{name}' would hold a secret; use api_key_ref instead")));
            }
        }
        self.key_ref()?;
        Ok(())
    }

    fn error(&self, message: impl Into<String>) -> Error {
        Error::Target {
            target: self.name.clone(),
            message: message.into(),
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct TargetsFile {
    #[serde(default)]
    target: Vec<Target>,
}

/// Parses a targets TOML document. Errors carry the line and column.
pub fn parse_targets(source: &str, origin: &str) -> Result<Vec<Target>> {
    let file: TargetsFile = toml::from_str(source).map_err(|error| Error::TargetsFile {
        path: origin.to_owned(),
        message: error.to_string().trim_end().to_owned(),
    })?;
    let mut seen = std::collections::HashSet::new();
    for target in &file.target {
        target.validate()?;
        if !seen.insert(target.name.as_str()) {
            return Err(Error::TargetsFile {
                path: origin.to_owned(),
                message: format!("target '{}' is defined twice", target.name),
            });
        }
    }
    Ok(file.target)
}

pub fn load_targets_file(path: &Path) -> Result<Vec<Target>> {
    let source = std::fs::read_to_string(path).map_err(|error| Error::TargetsFile {
        path: path.display().to_string(),
        message: format!("cannot read: {error}"),
    })?;
    parse_targets(&source, &path.display().to_string())
}

/// Serialises targets back into the `[[target]]` TOML form.
pub fn targets_to_toml(targets: &[Target]) -> String {
    #[derive(Serialize)]
    struct Out<'a> {
        target: &'a [Target],
    }
    toml::to_string(&Out { target: targets }).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_documented_example() {
        let targets = parse_targets(
            r#"
[[target]]
name = "gpt-openai"
provider = "openai"
model = "gpt-5.4"
api = "chat"
base_url = "http://127.0.0.1:8787/v1"

[[target]]
name = "azure-classic"
provider = "azure"
model = "gpt-5.4"
resource = "contoso"
deployment = "gpt54"
api_version = "2024-10-21"
api_key_ref = "env:CONTOSO_KEY"
timeouts = { first_token_ms = 5000 }
"#,
            "t.toml",
        )
        .expect("valid file");
        assert_eq!(targets.len(), 2);
        assert_eq!(targets[0].api(), Api::Chat);
        assert_eq!(targets[1].key_ref().expect("ref"), KeyRef::Env("CONTOSO_KEY".into()));
        assert_eq!(targets[1].timeouts.first_token_ms, Some(5000));
    }

    #[test]
    fn toml_errors_name_the_line() {
        let error = parse_targets("[[target]]\nname = \"a\"\nprovider = \n", "bad.toml").expect_err("invalid");
        let message = error.to_string();
        assert!(message.contains("bad.toml"), "{message}");
        assert!(message.contains("line 3"), "{message}");
    }

    #[test]
    fn unknown_provider_and_fields_are_rejected() {
        let error = parse_targets("[[target]]\nname='a'\nprovider='nope'\nmodel='m'\n", "t").expect_err("bad provider");
        assert!(error.to_string().contains("nope"), "{error}");
        let error = parse_targets(
            "[[target]]\nname='a'\nprovider='openai'\nmodel='m'\napi_key='sk-1'\n",
            "t",
        )
        .expect_err("unknown field");
        assert!(error.to_string().contains("api_key"), "{error}");
    }

    #[test]
    fn azure_needs_resource_or_base_url() {
        let error =
            parse_targets("[[target]]\nname='az'\nprovider='azure'\nmodel='m'\n", "t").expect_err("no resource");
        assert!(error.to_string().contains("target 'az'"), "{error}");
    }

    #[test]
    fn round_trips_through_toml() {
        let mut target = Target::new("x", ProviderKind::Anthropic, "claude");
        target.base_url = Some("http://127.0.0.1:1".into());
        let text = targets_to_toml(std::slice::from_ref(&target));
        assert_eq!(parse_targets(&text, "t").expect("parse"), vec![target]);
    }
}
