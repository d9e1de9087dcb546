//! The target rules, owned here once: which fields each provider takes (with labels, help text
//! and whether they are required) and what is wrong with a target, field by field.
//!
//! Every host asks this module: the CLI and the targets file loader through
//! [`Target::validate`] (the first problem, as an error naming the target), the desktop form
//! through [`Target::field_errors`] (every problem, keyed by the field to show it beside) and
//! through [`field_table`], which the shell serialises for the UI at build time. Nothing here
//! knows about forms or widgets: a field's `options` say "one of these values", not "a select".

use serde::Serialize;
use ts_rs::TS;

use super::{Api, AzureAuth, DeploymentType, ProviderKind, Target};

/// One problem with one field of a target (or of the parameters), as a form shows it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, TS)]
#[ts(export)]
pub struct FieldError {
    /// The field's name as serialised (`region`, `timeouts.idle_ms`, `headers`).
    pub field: String,
    pub message: String,
}

/// One field a provider's targets take.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, TS)]
#[ts(export)]
pub struct FieldSpec {
    /// The field's name in a target (`timeouts` fields by their own names, `connect_ms`…).
    pub field: &'static str,
    pub label: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub placeholder: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub hint: Option<&'static str>,
    pub required: bool,
    /// The values the field accepts, when it is one of a few; empty means free text.
    pub options: Vec<&'static str>,
}

/// The fields of every provider, and the ones all providers share.
#[derive(Clone, Debug, PartialEq, Serialize, TS)]
#[ts(export)]
pub struct FieldTable {
    /// Per provider, in the order a form shows them: `name`, the provider's own fields, then the
    /// common ones (key, key variable, label, base model).
    pub providers: Vec<ProviderFields>,
    /// Per-target timeouts, in milliseconds; every provider takes them.
    pub timeouts: Vec<FieldSpec>,
}

#[derive(Clone, Debug, PartialEq, Serialize, TS)]
#[ts(export)]
pub struct ProviderFields {
    pub provider: ProviderKind,
    pub fields: Vec<FieldSpec>,
    /// Where the key comes from when a target names none (`ProviderKind::default_key_variable`).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub default_key_variable: Option<&'static str>,
}

fn spec(field: &'static str, label: &'static str) -> FieldSpec {
    FieldSpec {
        field,
        label,
        placeholder: None,
        hint: None,
        required: false,
        options: Vec::new(),
    }
}

impl FieldSpec {
    fn placeholder(mut self, placeholder: impl Into<String>) -> Self {
        self.placeholder = Some(placeholder.into());
        self
    }

    fn hint(mut self, hint: &'static str) -> Self {
        self.hint = Some(hint);
        self
    }

    fn required(mut self) -> Self {
        self.required = true;
        self
    }

    fn options(mut self, options: impl IntoIterator<Item = &'static str>) -> Self {
        self.options = options.into_iter().collect();
        self
    }
}

impl ProviderKind {
    /// The `api` values this provider's targets accept; empty when `api` does not apply.
    pub fn apis(self) -> &'static [Api] {
        match self {
            Self::OpenAi | Self::Azure => &[Api::Chat, Api::Responses],
            Self::Bedrock => &[
                Api::Converse,
                Api::Invoke,
                Api::MantleResponses,
                Api::MantleChat,
                Api::MantleMessages,
            ],
            Self::Oci => &[Api::OpenAiChat, Api::OpenAiResponses, Api::Native],
            Self::Anthropic | Self::Ollama | Self::Gemini | Self::Vertex => &[],
        }
    }

    /// The providers whose targets take `field` (for the fields only some providers take);
    /// `None` for fields every provider takes.
    fn only(field: &str) -> Option<&'static [ProviderKind]> {
        Some(match field {
            "region" | "profile" => &[Self::Bedrock, Self::Oci],
            "compartment_id" => &[Self::Oci],
            "location" | "publisher" => &[Self::Vertex],
            "project" => &[Self::OpenAi, Self::Vertex, Self::Bedrock],
            "resource" | "deployment" | "api_version" | "deployment_type" | "auth" => &[Self::Azure],
            "organization" => &[Self::OpenAi],
            "anthropic_version" => &[Self::Anthropic],
            "api" => &[Self::OpenAi, Self::Azure, Self::Bedrock, Self::Oci],
            _ => return None,
        })
    }

    /// The provider's own fields, in the order a form shows them.
    pub fn fields(self) -> Vec<FieldSpec> {
        let base_url = || {
            spec("base_url", "Base URL")
                .placeholder("https://…")
                .hint("overrides the endpoint (gateways, compatible servers)")
        };
        let api = |hint| {
            spec("api", "API")
                .options(self.apis().iter().map(|api| api.as_str()))
                .hint(hint)
        };
        match self {
            Self::OpenAi => vec![
                spec("model", "Model").placeholder("gpt-5.4").required(),
                api("default: chat"),
                base_url(),
                spec("organization", "Organization").placeholder("org-…"),
                spec("project", "Project").placeholder("proj_…"),
            ],
            Self::Azure => vec![
                spec("model", "Model")
                    .placeholder("gpt-5.4")
                    .required()
                    .hint("the deployment name on the v1 path"),
                spec("resource", "Resource")
                    .placeholder("contoso-sweden")
                    .hint("https://{resource}.openai.azure.com (or set Base URL)"),
                base_url(),
                spec("deployment", "Deployment")
                    .placeholder("gpt54")
                    .hint("classic path: with API version; leave both empty for v1"),
                spec("api_version", "API version").placeholder("2024-10-21"),
                api("default: chat"),
                spec("deployment_type", "Deployment type")
                    .options(DeploymentType::ALL.iter().map(|kind| kind.as_str()))
                    .hint("default: global; sets the price"),
                spec("auth", "Auth")
                    .options(AzureAuth::ALL.iter().map(|auth| auth.as_str()))
                    .hint("default: key (api-key); entra: an Entra ID token from the Azure credential chain"),
            ],
            Self::Anthropic => vec![
                spec("model", "Model").placeholder("claude-opus-4-7").required(),
                spec("anthropic_version", "anthropic-version").placeholder("2023-06-01"),
                base_url(),
            ],
            Self::Ollama => vec![
                spec("model", "Model").placeholder("llama3.3").required(),
                base_url().placeholder("http://127.0.0.1:11434"),
            ],
            Self::Bedrock => vec![
                spec("region", "Region").placeholder("us-east-1").required(),
                spec("model", "Model")
                    .placeholder("us.anthropic.claude-opus-4-7-v1:0")
                    .required()
                    .hint("model id, inference profile id or ARN"),
                api("default: converse; mantle-* for Bedrock Mantle (GPT-5.x: mantle-responses)"),
                spec("project", "Project")
                    .placeholder("proj_…")
                    .hint("Mantle only: a Bedrock project id"),
                spec("profile", "AWS profile")
                    .placeholder("default chain")
                    .hint("a profile in ~/.aws (SSO works)"),
                base_url(),
            ],
            Self::Gemini => vec![
                spec("model", "Model").placeholder("gemini-2.5-pro").required(),
                base_url(),
            ],
            Self::Vertex => vec![
                spec("project", "Project").placeholder("acme-evals").required(),
                spec("location", "Location")
                    .placeholder("us-east5 or global")
                    .required(),
                spec("publisher", "Publisher")
                    .options(["google", "anthropic"])
                    .hint("default: google (Gemini)"),
                spec("model", "Model").placeholder("gemini-2.5-pro").required(),
                base_url(),
            ],
            Self::Oci => vec![
                spec("region", "Region")
                    .placeholder("us-chicago-1")
                    .required()
                    .hint("the model's region (or set Base URL)"),
                spec("model", "Model")
                    .placeholder("openai.gpt-5.5")
                    .required()
                    .hint("OCI's vendor.model id (meta.llama-3.3-70b-instruct, xai.grok-4, cohere.command-a-03-2025)"),
                api("default: openai-chat; native for the OCI chat API (needs a compartment)"),
                spec("compartment_id", "Compartment")
                    .placeholder("ocid1.compartment.oc1..…")
                    .hint("native: required; OpenAI-compatible with signing: sent as opc-compartment-id"),
                spec("profile", "OCI profile")
                    .placeholder("OCI_PROFILE, else DEFAULT")
                    .hint("a profile in ~/.oci/config (or OCI_CONFIG_FILE) for request signing"),
                base_url(),
            ],
        }
    }

    /// Every field a form shows for this provider: the name, the provider's own fields, then
    /// the ones every provider takes.
    pub fn form_fields(self) -> Vec<FieldSpec> {
        let mut fields = vec![spec("name", "Name").placeholder("unique, e.g. gpt-openai").required()];
        fields.extend(self.fields());
        let key_placeholder = match self.default_key_variable() {
            Some(variable) => format!("default: env:{variable}"),
            None => "none needed".to_owned(),
        };
        fields.extend([
            spec("key", "Keychain entry")
                .placeholder("none")
                .hint("the name of a key set in the keychain; looked up first"),
            spec("api_key_ref", "Key variable")
                .placeholder(key_placeholder)
                .hint("env:VARIABLE, used when no keychain entry is set"),
            spec("label", "Label")
                .placeholder("none")
                .hint("shown next to the name"),
            if self == Self::Azure {
                spec("base_model", "Base model")
                    .placeholder("gpt-5.4")
                    .hint("the model the deployment runs: prices it and groups it with the same model on other clouds")
            } else {
                spec("base_model", "Base model")
                    .placeholder("from the model id")
                    .hint("the model as its maker names it; resolved from the model id unless set")
            },
        ]);
        fields
    }
}

/// The whole table, as the shell hands it to the UI.
pub fn field_table() -> FieldTable {
    FieldTable {
        providers: ProviderKind::ALL
            .into_iter()
            .map(|provider| ProviderFields {
                provider,
                fields: provider.form_fields(),
                default_key_variable: provider.default_key_variable(),
            })
            .collect(),
        timeouts: vec![
            spec("connect_ms", "Connect").placeholder("10000"),
            spec("first_token_ms", "First token").placeholder("120000"),
            spec("idle_ms", "Idle").placeholder("60000"),
            spec("total_ms", "Total").placeholder("600000"),
        ],
    }
}

/// Headers that would carry a secret: keys go through `key` or `api_key_ref`, never a header.
const SECRET_HEADERS: [&str; 5] = [
    "authorization",
    "api-key",
    "x-api-key",
    "x-goog-api-key",
    "x-amz-security-token",
];

/// AWS regions, Google project ids and Vertex locations: letters, digits, `-`, `_`, `.`.
fn is_cloud_name(value: &str) -> bool {
    !value.is_empty()
        && value
            .chars()
            .all(|character| character.is_ascii_alphanumeric() || matches!(character, '-' | '_' | '.'))
}

fn names_something(value: &str) -> bool {
    !value.trim().is_empty() && !value.chars().any(char::is_control)
}

impl Target {
    /// Every problem with this target, in the order [`Target::validate`] reports the first.
    /// Empty when the target is good.
    pub fn field_errors(&self) -> Vec<FieldError> {
        let mut errors = Vec::new();
        let mut error = |field: &str, message: String| {
            errors.push(FieldError {
                field: field.to_owned(),
                message,
            });
        };
        let provider = self.provider;
        if self.name.trim().is_empty() {
            error("name", "a target has an empty name".to_owned());
        }
        if self.model.trim().is_empty() && self.deployment.is_none() {
            error("model", "model is empty".to_owned());
        }
        if let Some(api) = self.api
            && !provider.apis().contains(&api)
        {
            error(
                "api",
                format!(
                    "`api = \"{}\"` does not apply to {provider} targets (openai/azure: chat, responses; bedrock: converse, invoke, mantle-responses, mantle-chat, mantle-messages; oci: openai-chat, openai-responses, native)",
                    api.as_str(),
                ),
            );
        }
        if let Some(base_model) = &self.base_model
            && !names_something(base_model)
        {
            error(
                "base_model",
                "`base_model` must name a model (for example \"gpt-5.4\")".to_owned(),
            );
        }
        if let Some(key) = &self.key
            && !names_something(key)
        {
            error(
                "key",
                "`key` must name a keychain entry (modelbench keys set NAME)".to_owned(),
            );
        }
        let set = [
            ("region", self.region.is_some()),
            ("profile", self.profile.is_some()),
            ("location", self.location.is_some()),
            ("publisher", self.publisher.is_some()),
            ("project", self.project.is_some()),
            ("resource", self.resource.is_some()),
            ("deployment", self.deployment.is_some()),
            ("api_version", self.api_version.is_some()),
            ("deployment_type", self.deployment_type.is_some()),
            ("auth", self.auth.is_some()),
            ("compartment_id", self.compartment_id.is_some()),
            ("organization", self.organization.is_some()),
            ("anthropic_version", self.anthropic_version.is_some()),
        ];
        for (field, is_set) in set {
            if let Some(allowed) = ProviderKind::only(field)
                && is_set
                && !allowed.contains(&provider)
            {
                let names: Vec<&str> = allowed.iter().map(|kind| kind.as_str()).collect();
                error(
                    field,
                    format!("`{field}` applies only to {} targets", names.join(" and ")),
                );
            }
        }
        if provider == ProviderKind::Bedrock && self.project.is_some() && !self.api().is_mantle() {
            error(
                "project",
                "`project` applies to bedrock targets only with a Mantle api (it is sent as OpenAI-Project)".to_owned(),
            );
        }
        match provider {
            ProviderKind::Bedrock => match &self.region {
                None => error(
                    "region",
                    "bedrock targets need `region` (for example \"us-east-1\")".to_owned(),
                ),
                Some(region) if !is_cloud_name(region) => {
                    error("region", format!("region '{region}' is not an AWS region name"));
                }
                Some(_) => {}
            },
            ProviderKind::Vertex => {
                match &self.project {
                    None => error(
                        "project",
                        "vertex targets need `project` (the Google Cloud project id)".to_owned(),
                    ),
                    Some(project) if !is_cloud_name(project) => {
                        error(
                            "project",
                            format!("project '{project}' is not a Google Cloud project id"),
                        );
                    }
                    Some(_) => {}
                }
                match &self.location {
                    None => error(
                        "location",
                        "vertex targets need `location` (for example \"us-east5\" or \"global\")".to_owned(),
                    ),
                    Some(location) if !is_cloud_name(location) => {
                        error("location", format!("location '{location}' is not a Vertex location"));
                    }
                    Some(_) => {}
                }
            }
            ProviderKind::Oci => self.oci_field_errors(&mut error),
            _ => {}
        }
        if let Some(base_url) = &self.base_url
            && !(base_url.starts_with("http://") || base_url.starts_with("https://"))
        {
            error(
                "base_url",
                format!("base_url '{base_url}' must start with http:// or https://"),
            );
        }
        if provider == ProviderKind::Azure {
            if self.base_url.is_none() && self.resource.is_none() {
                error("resource", "azure targets need `resource` (or `base_url`)".to_owned());
            }
            if self.deployment.is_some() != self.api_version.is_some() {
                let missing = if self.deployment.is_none() {
                    "deployment"
                } else {
                    "api_version"
                };
                error(
                    missing,
                    "azure classic path needs both `deployment` and `api_version` (omit both for the v1 path)"
                        .to_owned(),
                );
            }
            if self.deployment.is_some() && self.api() == Api::Responses {
                error(
                    "api",
                    "azure `responses` uses the v1 path: omit `deployment` and `api_version`".to_owned(),
                );
            }
        }
        if self.uses_entra() {
            for (field, is_set) in [("key", self.key.is_some()), ("api_key_ref", self.api_key_ref.is_some())] {
                if is_set {
                    error(
                        field,
                        format!(
                            "`{field}` is not used with `auth = \"entra\"` (the token comes from the Entra \
                             credential chain): remove it, or set `auth = \"key\"`"
                        ),
                    );
                }
            }
        }
        for (name, value) in &self.headers {
            if SECRET_HEADERS.contains(&name.to_ascii_lowercase().as_str()) {
                error(
                    "headers",
                    format!("header '{name}' would hold a secret; use `key` or api_key_ref instead"),
                );
            } else if reqwest::header::HeaderName::from_bytes(name.as_bytes()).is_err() {
                error(
                    "headers",
                    format!("header name '{}' is not a valid HTTP header name", name.escape_debug()),
                );
            } else if reqwest::header::HeaderValue::from_str(value).is_err() {
                error(
                    "headers",
                    format!(
                        "header '{}' has a value with characters not allowed in HTTP (line breaks, control characters)",
                        name.escape_debug()
                    ),
                );
            }
        }
        for (field, value) in self.timeouts.fields() {
            if value == Some(0) {
                error(
                    &format!("timeouts.{field}"),
                    format!("timeouts.{field} must be at least 1 (0 would fail every request)"),
                );
            }
        }
        if let Some(reference) = &self.api_key_ref
            && !matches!(reference.split_once(':'), Some(("env", variable)) if !variable.is_empty())
        {
            error(
                "api_key_ref",
                "api_key_ref must be 'env:VARIABLE' (keys are never written into target files)".to_owned(),
            );
        }
        errors
    }

    /// OCI's own rules: a region (unless a base URL says where), a compartment for the native
    /// API, and no API key there (the native API takes signed requests only).
    fn oci_field_errors(&self, error: &mut impl FnMut(&str, String)) {
        match &self.region {
            None if self.base_url.is_none() => error(
                "region",
                "oci targets need `region` (for example \"us-chicago-1\") or `base_url`".to_owned(),
            ),
            Some(region) if !is_cloud_name(region) => {
                error("region", format!("region '{region}' is not an OCI region name"));
            }
            _ => {}
        }
        match &self.compartment_id {
            None if self.api() == Api::Native => error(
                "compartment_id",
                "oci `native` targets need `compartment_id` (the compartment OCID the requests run in)".to_owned(),
            ),
            Some(compartment) if !is_cloud_name(compartment) => error(
                "compartment_id",
                format!("compartment_id '{compartment}' is not an OCID (ocid1.compartment.oc1..…)"),
            ),
            _ => {}
        }
        if self.api() == Api::Native && (self.key.is_some() || self.api_key_ref.is_some()) {
            let field = if self.key.is_some() { "key" } else { "api_key_ref" };
            error(
                field,
                "oci `native` requests are signed with the OCI configuration; API keys work only with `openai-chat` and `openai-responses`".to_owned(),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use serde::Deserialize;

    use super::*;
    use crate::request::PARAMETER_RANGES;

    #[derive(Deserialize)]
    struct Fixture {
        bad: Vec<Bad>,
        good: Vec<Target>,
    }

    #[derive(Deserialize)]
    struct Bad {
        target: Target,
        fields: Vec<String>,
        #[serde(rename = "match")]
        matches: Vec<String>,
    }

    /// The list the app's form is fed too (ui/tests/targets.test.ts).
    fn fixture() -> Fixture {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/fixtures/targets.json");
        let text = std::fs::read_to_string(path).expect("tests/fixtures/targets.json");
        serde_json::from_str(&text).expect("a valid fixture")
    }

    #[test]
    fn flags_exactly_the_fields_of_each_bad_target_and_validate_reports_the_first() {
        for bad in fixture().bad {
            let errors = bad.target.field_errors();
            let mut flagged: Vec<&str> = errors.iter().map(|error| error.field.as_str()).collect();
            flagged.dedup();
            let mut expected: Vec<&str> = bad.fields.iter().map(String::as_str).collect();
            flagged.sort_unstable();
            expected.sort_unstable();
            assert_eq!(flagged, expected, "{:?}: {errors:?}", bad.target);
            for piece in &bad.matches {
                assert!(
                    errors.iter().any(|error| error.message.contains(piece.as_str())),
                    "{:?}: no message contains {piece:?} in {errors:?}",
                    bad.target
                );
            }
            let message = bad.target.validate().expect_err("a bad target").to_string();
            assert!(message.contains(&errors[0].message), "{message}");
        }
    }

    #[test]
    fn accepts_every_good_target() {
        for good in fixture().good {
            assert_eq!(good.field_errors(), Vec::new(), "{good:?}");
            good.validate().expect("a good target");
        }
    }

    #[test]
    fn the_field_table_names_real_target_fields_and_the_apis_each_provider_takes() {
        let mut every_field = Target::new("n", ProviderKind::OpenAi, "m");
        every_field.api = Some(Api::Chat);
        for field in [
            &mut every_field.base_url,
            &mut every_field.resource,
            &mut every_field.deployment,
            &mut every_field.api_version,
            &mut every_field.key,
            &mut every_field.api_key_ref,
            &mut every_field.organization,
            &mut every_field.project,
            &mut every_field.region,
            &mut every_field.profile,
            &mut every_field.location,
            &mut every_field.anthropic_version,
            &mut every_field.label,
            &mut every_field.base_model,
            &mut every_field.compartment_id,
        ] {
            *field = Some("x".to_owned());
        }
        every_field.publisher = Some(super::super::Publisher::Google);
        every_field.deployment_type = Some(DeploymentType::Global);
        every_field.auth = Some(AzureAuth::Entra);
        let serialised = serde_json::to_value(&every_field).expect("a target serialises");
        let table = field_table();
        assert_eq!(table.providers.len(), ProviderKind::ALL.len());
        for entry in &table.providers {
            for spec in &entry.fields {
                assert!(
                    serialised.get(spec.field).is_some(),
                    "{}: `{}` is not a target field",
                    entry.provider,
                    spec.field
                );
                assert!(
                    ProviderKind::only(spec.field).is_none_or(|allowed| allowed.contains(&entry.provider)),
                    "{} shows `{}`, which its targets may not set",
                    entry.provider,
                    spec.field
                );
            }
            let api_options: Vec<&str> = entry
                .fields
                .iter()
                .find(|spec| spec.field == "api")
                .map(|spec| spec.options.clone())
                .unwrap_or_default();
            let apis: Vec<&str> = entry.provider.apis().iter().map(|api| api.as_str()).collect();
            assert_eq!(api_options, apis, "{}", entry.provider);
        }
        let timeouts: Vec<&str> = table.timeouts.iter().map(|spec| spec.field).collect();
        let known: Vec<&str> = every_field.timeouts.fields().iter().map(|(field, _)| *field).collect();
        assert_eq!(timeouts, known);
    }

    #[test]
    fn parameter_ranges_say_what_they_check() {
        for range in PARAMETER_RANGES {
            let kind = if range.integer { "a whole number" } else { "a number" };
            assert_eq!(range.accepts, format!("{kind} from {} to {}", range.low, range.high));
        }
        let parameters = crate::Parameters {
            temperature: Some(5.0),
            top_p: Some(f64::NAN),
            max_output_tokens: Some(0),
            seed: Some(1),
            ..Default::default()
        };
        let fields: Vec<String> = parameters.field_errors().into_iter().map(|error| error.field).collect();
        assert_eq!(fields, ["temperature", "top_p", "max_output_tokens"]);
        assert_eq!(
            parameters.validate().expect_err("out of range").to_string(),
            "temperature must be a number from 0 to 2, not 5"
        );
        crate::Parameters {
            temperature: Some(2.0),
            top_p: Some(0.0),
            max_output_tokens: Some(1),
            ..Default::default()
        }
        .validate()
        .expect("in range");
    }
}
