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
use ts_rs::TS;

use crate::model::error::{Error, Result};

mod fields;

pub use fields::{FieldError, FieldSpec, FieldTable, ProviderFields, field_table};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, TS)]
#[serde(rename_all = "lowercase")]
#[ts(export)]
pub enum ProviderKind {
    /// OpenAI, and any OpenAI-compatible server (vLLM, LM Studio, OpenRouter, gateways) via `base_url`.
    OpenAi,
    Azure,
    Anthropic,
    Ollama,
    /// AWS Bedrock Runtime (ConverseStream or InvokeModelWithResponseStream), SigV4 or API key.
    Bedrock,
    /// Google AI Studio (Gemini API), `x-goog-api-key`.
    Gemini,
    /// Google Vertex AI: Gemini (`publisher = "google"`) or Claude (`publisher = "anthropic"`).
    Vertex,
    /// Oracle OCI Generative AI: its OpenAI-compatible surface (an API key or request signing)
    /// or its native chat API (request signing).
    Oci,
}

impl ProviderKind {
    pub const ALL: [Self; 8] = [
        Self::OpenAi,
        Self::Azure,
        Self::Anthropic,
        Self::Ollama,
        Self::Bedrock,
        Self::Gemini,
        Self::Vertex,
        Self::Oci,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::OpenAi => "openai",
            Self::Azure => "azure",
            Self::Anthropic => "anthropic",
            Self::Ollama => "ollama",
            Self::Bedrock => "bedrock",
            Self::Gemini => "gemini",
            Self::Vertex => "vertex",
            Self::Oci => "oci",
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
            Self::Gemini => Some("GEMINI_API_KEY"),
            // Bedrock API keys and Vertex access tokens are optional: without them the AWS and
            // Google credential chains are used.
            Self::Bedrock => Some("AWS_BEARER_TOKEN_BEDROCK"),
            Self::Vertex => Some("GOOGLE_OAUTH_ACCESS_TOKEN"),
            // OCI Generative AI API keys, for the OpenAI-compatible surface; without one,
            // requests are signed with the OCI configuration (`~/.oci/config`, `OCI_*`).
            Self::Oci => Some("OCI_GENAI_API_KEY"),
            Self::Ollama => None,
        }
    }
}

impl fmt::Display for ProviderKind {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(self.as_str())
    }
}

/// Which API of a cloud to speak: `chat`/`responses` for OpenAI and Azure; `converse`/`invoke`
/// (Bedrock Runtime) or `mantle-responses`/`mantle-chat`/`mantle-messages` (Bedrock Mantle) for
/// Bedrock; `openai-chat`/`openai-responses` (the OpenAI-compatible surface) or `native`
/// (`/20231130/actions/chat`) for OCI.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "lowercase")]
#[ts(export)]
pub enum Api {
    #[default]
    Chat,
    Responses,
    /// Bedrock ConverseStream (the default for Bedrock).
    Converse,
    /// Bedrock InvokeModelWithResponseStream with the model's native body.
    Invoke,
    /// Bedrock Mantle's OpenAI Responses API (`bedrock-mantle.{region}.api.aws`).
    #[serde(rename = "mantle-responses")]
    MantleResponses,
    /// Bedrock Mantle's OpenAI Chat Completions API.
    #[serde(rename = "mantle-chat")]
    MantleChat,
    /// Bedrock Mantle's Anthropic Messages API (Claude).
    #[serde(rename = "mantle-messages")]
    MantleMessages,
    /// OCI Generative AI's OpenAI-compatible Chat Completions (`/openai/v1/chat/completions`).
    #[serde(rename = "openai-chat")]
    OpenAiChat,
    /// OCI Generative AI's OpenAI-compatible Responses API (`/openai/v1/responses`).
    #[serde(rename = "openai-responses")]
    OpenAiResponses,
    /// OCI Generative AI's own chat API (`/20231130/actions/chat`, GENERIC or COHERE bodies).
    Native,
}

impl Api {
    pub const ALL: [Self; 10] = [
        Self::Chat,
        Self::Responses,
        Self::Converse,
        Self::Invoke,
        Self::MantleResponses,
        Self::MantleChat,
        Self::MantleMessages,
        Self::OpenAiChat,
        Self::OpenAiResponses,
        Self::Native,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Chat => "chat",
            Self::Responses => "responses",
            Self::Converse => "converse",
            Self::Invoke => "invoke",
            Self::MantleResponses => "mantle-responses",
            Self::MantleChat => "mantle-chat",
            Self::MantleMessages => "mantle-messages",
            Self::OpenAiChat => "openai-chat",
            Self::OpenAiResponses => "openai-responses",
            Self::Native => "native",
        }
    }

    pub fn parse(value: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|api| api.as_str() == value)
    }

    /// One of Bedrock Mantle's APIs.
    pub fn is_mantle(self) -> bool {
        matches!(self, Self::MantleResponses | Self::MantleChat | Self::MantleMessages)
    }
}

/// How an Azure deployment is served, which sets its price: Global Standard, Data Zone
/// Standard (US or EU) or Regional (Standard).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "kebab-case")]
#[ts(export)]
pub enum DeploymentType {
    #[default]
    Global,
    DataZoneUs,
    DataZoneEu,
    Regional,
}

impl DeploymentType {
    pub const ALL: [Self; 4] = [Self::Global, Self::DataZoneUs, Self::DataZoneEu, Self::Regional];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Global => "global",
            Self::DataZoneUs => "data-zone-us",
            Self::DataZoneEu => "data-zone-eu",
            Self::Regional => "regional",
        }
    }

    pub fn parse(value: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|kind| kind.as_str() == value)
    }
}

/// How an Azure target authenticates: an `api-key` (the default) or an Entra ID token.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "lowercase")]
#[ts(export)]
pub enum AzureAuth {
    /// A key from the keychain or `AZURE_OPENAI_API_KEY`, sent as `api-key`.
    #[default]
    Key,
    /// A Microsoft Entra ID token from the Azure credential chain, sent as `Authorization: Bearer`.
    Entra,
}

impl AzureAuth {
    pub const ALL: [Self; 2] = [Self::Key, Self::Entra];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Key => "key",
            Self::Entra => "entra",
        }
    }

    pub fn parse(value: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|auth| auth.as_str() == value)
    }
}

/// Who publishes a Vertex model: Google (Gemini) or Anthropic (Claude).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "lowercase")]
#[ts(export)]
pub enum Publisher {
    #[default]
    Google,
    Anthropic,
}

/// Per-target timeouts in milliseconds; unset ones use the run's defaults.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(deny_unknown_fields)]
#[ts(export)]
pub struct TimeoutOverrides {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub connect_ms: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub first_token_ms: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub idle_ms: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub total_ms: Option<u64>,
}

impl TimeoutOverrides {
    /// The first timeout set to 0, by its field name: 0 would fail every request.
    pub fn zero_field(&self) -> Option<&'static str> {
        self.fields()
            .into_iter()
            .find(|(_, value)| *value == Some(0))
            .map(|(field, _)| field)
    }

    /// Each timeout by its field name.
    pub fn fields(&self) -> [(&'static str, Option<u64>); 4] {
        [
            ("connect_ms", self.connect_ms),
            ("first_token_ms", self.first_token_ms),
            ("idle_ms", self.idle_ms),
            ("total_ms", self.total_ms),
        ]
    }
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

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(deny_unknown_fields)]
#[ts(export)]
pub struct Target {
    pub name: String,
    pub provider: ProviderKind,
    /// The model to ask for. For Azure this is the deployment name on the v1 path.
    pub model: String,
    /// `chat` (default) or `responses`; OpenAI and Azure only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub api: Option<Api>,
    /// Overrides the provider's endpoint (tests, gateways, OpenAI-compatible servers).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub base_url: Option<String>,
    /// Azure: the resource name, giving `https://{resource}.openai.azure.com`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub resource: Option<String>,
    /// Azure classic path: the deployment name (with `api_version`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub deployment: Option<String>,
    /// Azure classic path: the `api-version` query parameter. Without it Azure uses the v1 path.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub api_version: Option<String>,
    /// The name of a key in the OS keychain (`modelbench keys set NAME`). Looked up first.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub key: Option<String>,
    /// The environment variable holding the key: `env:VARIABLE`. Default: the provider's usual
    /// variable. Used when `key` is unset or not in the keychain.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub api_key_ref: Option<String>,
    /// OpenAI: optional `OpenAI-Organization` header.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub organization: Option<String>,
    /// OpenAI and Bedrock Mantle: the `OpenAI-Project` header (a Bedrock project id on Mantle).
    /// Vertex: the Google Cloud project id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub project: Option<String>,
    /// Bedrock: the AWS region (`us-east-1`). OCI: the region (`us-chicago-1`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub region: Option<String>,
    /// Bedrock: the AWS profile to take credentials from (default: the standard chain). OCI: the
    /// profile of the OCI config file (default: `OCI_PROFILE`, else `DEFAULT`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub profile: Option<String>,
    /// Vertex: the location (`us-east5`, `europe-west1`, `global`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub location: Option<String>,
    /// Vertex: `google` (Gemini, default) or `anthropic` (Claude).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub publisher: Option<Publisher>,
    /// Anthropic: `anthropic-version` header (default 2023-06-01).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub anthropic_version: Option<String>,
    /// Extra non-secret request headers (gateways, routing).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub headers: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "is_default_timeouts")]
    pub timeouts: TimeoutOverrides,
    /// A label shown next to the name (the demo marks its targets "simulated").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub label: Option<String>,
    /// The model as its maker names it (`gpt-5.4`, `claude-opus-4-7`), when the model id does
    /// not say: an Azure deployment's model. Overrides the resolution from the model id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub base_model: Option<String>,
    /// Azure: how the deployment is served (`global`, `data-zone-us`, `data-zone-eu`,
    /// `regional`; default `global`). It chooses the price.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub deployment_type: Option<DeploymentType>,
    /// Azure: `key` (default: an `api-key`) or `entra` (an Entra ID token from the Azure
    /// credential chain; no key).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub auth: Option<AzureAuth>,
    /// OCI: the compartment OCID requests run in (`ocid1.compartment.oc1..…`); the native API
    /// needs it, the OpenAI-compatible surface sends it as `opc-compartment-id` when signing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub compartment_id: Option<String>,
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
            key: None,
            api_key_ref: None,
            organization: None,
            project: None,
            region: None,
            profile: None,
            location: None,
            publisher: None,
            anthropic_version: None,
            headers: BTreeMap::new(),
            timeouts: TimeoutOverrides::default(),
            label: None,
            base_model: None,
            deployment_type: None,
            auth: None,
            compartment_id: None,
        }
    }

    pub fn api(&self) -> Api {
        match (self.api, self.provider) {
            (Some(api), _) => api,
            (None, ProviderKind::Bedrock) => Api::Converse,
            (None, ProviderKind::Oci) => Api::OpenAiChat,
            (None, _) => Api::Chat,
        }
    }

    /// Azure: the deployment type, `global` unless set.
    pub fn deployment_type(&self) -> DeploymentType {
        self.deployment_type.unwrap_or_default()
    }

    /// This target is an Azure target that authenticates with Entra ID tokens.
    pub fn uses_entra(&self) -> bool {
        self.provider == ProviderKind::Azure && self.auth == Some(AzureAuth::Entra)
    }

    /// This target speaks one of Bedrock Mantle's APIs.
    pub fn is_mantle(&self) -> bool {
        self.provider == ProviderKind::Bedrock && self.api().is_mantle()
    }

    pub fn publisher(&self) -> Publisher {
        self.publisher.unwrap_or_default()
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

    /// Checks the fields that each provider needs, so a bad target fails before any request:
    /// the first of its [`field_errors`](Target::field_errors), naming the target.
    pub fn validate(&self) -> Result<()> {
        match self.field_errors().into_iter().next() {
            None => Ok(()),
            Some(error) if error.field == "name" => Err(Error::InvalidInput(error.message)),
            Some(error) => Err(self.error(error.message)),
        }
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
    // Windows editors start UTF-8 files with a byte-order mark, which TOML does not allow.
    let source = source.strip_prefix('\u{feff}').unwrap_or(source);
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
    fn bad_headers_zero_timeouts_and_byte_order_marks_are_caught_at_load_time() {
        let base = "[[target]]\nname = \"bad\"\nprovider = \"openai\"\nmodel = \"m\"\n";
        for (table, expected) in [
            ("headers = { \"bad header\\n\" = \"x\" }", "header name 'bad header\\n'"),
            (
                "headers = { \"x-ok\" = \"a\\r\\nx-injected: 1\" }",
                "header 'x-ok' has a value",
            ),
            ("timeouts = { total_ms = 0 }", "timeouts.total_ms must be at least 1"),
            (
                "timeouts = { connect_ms = 0 }",
                "timeouts.connect_ms must be at least 1",
            ),
        ] {
            let error = parse_targets(&format!("{base}{table}\n"), "t.toml").expect_err(table);
            let message = error.to_string();
            assert!(
                message.contains("target 'bad'") && message.contains(expected),
                "{message}"
            );
        }
        let targets = parse_targets(&format!("\u{feff}{base}"), "t.toml").expect("a byte-order mark is fine");
        assert_eq!(targets[0].name, "bad");
    }

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
