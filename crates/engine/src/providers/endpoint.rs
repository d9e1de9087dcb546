//! Where each cloud listens, and the headers a request carries besides its credential.
//!
//! Base URLs follow each vendor SDK's convention, so users can paste what they already use:
//! OpenAI's includes `/v1`, Anthropic's and Ollama's do not, Azure's is the resource endpoint.
//! Credentials of every kind (keys, tokens, SigV4 signatures) are applied at send time by
//! [`crate::secrets::auth::authorize`], never here: a prepared request holds no secret.

use reqwest::header::{HeaderMap, HeaderName, HeaderValue};

use super::Protocol;
use crate::model::error::{Error, Result};
use crate::model::target::{Api, ProviderKind, Publisher, Target};

pub const OPENAI_BASE_URL: &str = "https://api.openai.com/v1";
pub const ANTHROPIC_BASE_URL: &str = "https://api.anthropic.com";
pub const OLLAMA_BASE_URL: &str = "http://localhost:11434";
pub const ANTHROPIC_VERSION: &str = "2023-06-01";
pub const GEMINI_BASE_URL: &str = "https://generativelanguage.googleapis.com";

#[derive(Debug)]
pub struct Endpoint {
    pub url: String,
    /// What goes in the body's `model` field.
    pub body_model: String,
    /// Azure's classic path names the deployment in the URL and ignores `model`.
    pub omit_model: bool,
}

pub fn resolve(target: &Target, protocol: Protocol) -> Result<Endpoint> {
    let base = |default: &str| {
        target
            .base_url
            .as_deref()
            .unwrap_or(default)
            .trim_end_matches('/')
            .to_owned()
    };
    let path = match protocol {
        Protocol::OpenAiChat => "chat/completions",
        Protocol::OpenAiResponses => "responses",
        Protocol::AnthropicMessages => "v1/messages",
        Protocol::OllamaChat => "api/chat",
        Protocol::BedrockConverse => "converse-stream",
        Protocol::BedrockInvoke => "invoke-with-response-stream",
        Protocol::GeminiGenerate => "streamGenerateContent?alt=sse",
        Protocol::OciNative => "20231130/actions/chat",
    };
    let model = target.model.clone();
    let endpoint = match target.provider {
        ProviderKind::OpenAi => Endpoint {
            url: format!("{}/{path}", base(OPENAI_BASE_URL)),
            body_model: model,
            omit_model: false,
        },
        ProviderKind::Anthropic => Endpoint {
            url: format!("{}/{path}", base(ANTHROPIC_BASE_URL)),
            body_model: model,
            omit_model: false,
        },
        ProviderKind::Ollama => Endpoint {
            url: format!("{}/{path}", base(OLLAMA_BASE_URL)),
            body_model: model,
            omit_model: false,
        },
        ProviderKind::Bedrock if target.api().is_mantle() => {
            let region = target.region.as_deref().unwrap_or("us-east-1");
            let root = base(&format!("https://bedrock-mantle.{region}.api.aws"));
            Endpoint {
                url: format!("{root}{}", mantle_path(target.api(), &target.model)),
                body_model: model,
                omit_model: false,
            }
        }
        ProviderKind::Bedrock => {
            let region = target.region.as_deref().unwrap_or("us-east-1");
            let root = base(&format!("https://bedrock-runtime.{region}.amazonaws.com"));
            Endpoint {
                url: format!("{root}/model/{}/{path}", encode_path_segment(&target.model)),
                body_model: model,
                omit_model: true,
            }
        }
        ProviderKind::Gemini => Endpoint {
            url: format!(
                "{}/v1beta/models/{}:{path}",
                base(GEMINI_BASE_URL),
                encode_path_segment(&target.model)
            ),
            body_model: model,
            omit_model: true,
        },
        ProviderKind::Vertex => {
            let location = target.location.as_deref().unwrap_or("global");
            let project = target.project.as_deref().unwrap_or_default();
            let host = if location == "global" {
                "https://aiplatform.googleapis.com".to_owned()
            } else {
                format!("https://{location}-aiplatform.googleapis.com")
            };
            let (publisher, method) = match target.publisher() {
                Publisher::Google => ("google", path),
                Publisher::Anthropic => ("anthropic", "streamRawPredict"),
            };
            Endpoint {
                url: format!(
                    "{}/v1/projects/{}/locations/{}/publishers/{publisher}/models/{}:{method}",
                    base(&host),
                    encode_path_segment(project),
                    encode_path_segment(location),
                    encode_path_segment(&target.model)
                ),
                body_model: model,
                omit_model: true,
            }
        }
        ProviderKind::Oci => {
            let region = target.region.as_deref().unwrap_or_default();
            let root = base(&oci_host(region));
            let (path, omit_model) = match protocol {
                Protocol::OciNative => (path, true),
                _ => (&format!("openai/v1/{path}")[..], false),
            };
            Endpoint {
                url: format!("{root}/{path}"),
                body_model: model,
                omit_model,
            }
        }
        ProviderKind::Azure => {
            let root = match (&target.base_url, &target.resource) {
                (Some(base_url), _) => base_url.trim_end_matches('/').to_owned(),
                (None, Some(resource)) => format!("https://{resource}.openai.azure.com"),
                (None, None) => {
                    return Err(Error::Target {
                        target: target.name.clone(),
                        message: "azure targets need `resource` or `base_url`".to_owned(),
                    });
                }
            };
            match (&target.deployment, &target.api_version) {
                (Some(deployment), Some(api_version)) => Endpoint {
                    url: format!(
                        "{root}/openai/deployments/{}/{path}?api-version={}",
                        encode_path_segment(deployment),
                        encode_path_segment(api_version)
                    ),
                    body_model: model,
                    omit_model: true,
                },
                _ => Endpoint {
                    url: format!("{root}/openai/v1/{path}"),
                    body_model: model,
                    omit_model: false,
                },
            }
        }
    };
    Ok(endpoint)
}

/// OCI Generative AI's inference host in `region`; both its surfaces are served there.
pub fn oci_host(region: &str) -> String {
    format!("https://inference.generativeai.{region}.oci.oraclecloud.com")
}

/// The path of a Bedrock Mantle API for `model`: Claude's Anthropic Messages under
/// `/anthropic/v1`; OpenAI's GPT models under `/openai/v1`; every other model (gpt-oss, Gemma,
/// Qwen, …) under `/v1`. Mantle refuses a model on the wrong prefix ("isn't supported on this
/// route").
pub fn mantle_path(api: Api, model: &str) -> &'static str {
    let model = model.to_ascii_lowercase();
    let openai_gpt = model.starts_with("openai.gpt-") && !model.starts_with("openai.gpt-oss");
    match (api, openai_gpt) {
        (Api::MantleMessages, _) => "/anthropic/v1/messages",
        (Api::MantleChat, true) => "/openai/v1/chat/completions",
        (Api::MantleChat, false) => "/v1/chat/completions",
        (_, true) => "/openai/v1/responses",
        (_, false) => "/v1/responses",
    }
}

/// The protocol's headers and the target's own; no credential ([`crate::secrets::auth`] adds it).
pub fn headers(target: &Target) -> Result<HeaderMap> {
    let invalid = |what: &str| Error::Target {
        target: target.name.clone(),
        message: format!("{what} contains characters not allowed in an HTTP header"),
    };
    let mut headers = HeaderMap::new();
    let mut plain = |name: &str, value: &str| -> Result<()> {
        let header_name =
            HeaderName::from_bytes(name.as_bytes()).map_err(|_| invalid(&format!("header name '{name}'")))?;
        let header_value = HeaderValue::from_str(value).map_err(|_| invalid(&format!("header '{name}'")))?;
        headers.insert(header_name, header_value);
        Ok(())
    };
    if target.provider == ProviderKind::Anthropic || (target.is_mantle() && target.api() == Api::MantleMessages) {
        plain(
            "anthropic-version",
            target.anthropic_version.as_deref().unwrap_or(ANTHROPIC_VERSION),
        )?;
    }
    if let Some(organization) = &target.organization {
        plain("openai-organization", organization)?;
    }
    // Vertex targets use `project` too, but name it in the URL. On Mantle it is a Bedrock
    // project id.
    if let Some(project) = &target.project
        && (target.provider == ProviderKind::OpenAi || target.is_mantle())
    {
        plain("openai-project", project)?;
    }
    // OCI: the compartment a signed OpenAI-compatible request runs in (the native API names
    // it in the body).
    if let Some(compartment) = &target.compartment_id
        && target.provider == ProviderKind::Oci
        && target.api() != Api::Native
    {
        plain("opc-compartment-id", compartment)?;
    }
    for (name, value) in &target.headers {
        plain(name, value)?;
    }
    plain("content-type", "application/json")?;
    Ok(headers)
}

/// Percent-encodes everything but RFC 3986's unreserved characters (Bedrock model ids and ARNs:
/// `:` becomes `%3A`, `/` becomes `%2F`).
pub fn encode_path_segment(segment: &str) -> String {
    let mut encoded = String::with_capacity(segment.len());
    for byte in segment.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'_' | b'.' | b'~') {
            encoded.push(char::from(byte));
        } else {
            encoded.push_str(&format!("%{byte:02X}"));
        }
    }
    encoded
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_follow_each_clouds_layout() {
        let mut openai = Target::new("o", ProviderKind::OpenAi, "gpt-5.4");
        assert_eq!(
            resolve(&openai, Protocol::OpenAiChat).expect("url").url,
            "https://api.openai.com/v1/chat/completions"
        );
        openai.base_url = Some("http://127.0.0.1:9/v1/".into());
        assert_eq!(
            resolve(&openai, Protocol::OpenAiResponses).expect("url").url,
            "http://127.0.0.1:9/v1/responses"
        );

        let mut azure = Target::new("a", ProviderKind::Azure, "gpt-5.4");
        azure.resource = Some("contoso".into());
        azure.deployment = Some("my deploy".into());
        azure.api_version = Some("2024-10-21".into());
        let endpoint = resolve(&azure, Protocol::OpenAiChat).expect("url");
        assert_eq!(
            endpoint.url,
            "https://contoso.openai.azure.com/openai/deployments/my%20deploy/chat/completions?api-version=2024-10-21"
        );
        assert!(endpoint.omit_model);
        azure.deployment = None;
        azure.api_version = None;
        azure.api = Some(Api::Responses);
        assert_eq!(
            resolve(&azure, Protocol::OpenAiResponses).expect("url").url,
            "https://contoso.openai.azure.com/openai/v1/responses"
        );

        let anthropic = Target::new("c", ProviderKind::Anthropic, "claude");
        assert_eq!(
            resolve(&anthropic, Protocol::AnthropicMessages).expect("url").url,
            "https://api.anthropic.com/v1/messages"
        );
        let mut bedrock = Target::new(
            "b",
            ProviderKind::Bedrock,
            "arn:aws:bedrock:us-east-1:1:inference-profile/us.x",
        );
        bedrock.region = Some("eu-west-1".into());
        assert_eq!(
            resolve(&bedrock, Protocol::BedrockConverse).expect("url").url,
            "https://bedrock-runtime.eu-west-1.amazonaws.com/model/arn%3Aaws%3Abedrock%3Aus-east-1%3A1%3Ainference-profile%2Fus.x/converse-stream"
        );
        let gemini = Target::new("g", ProviderKind::Gemini, "gemini-2.5-flash");
        assert_eq!(
            resolve(&gemini, Protocol::GeminiGenerate).expect("url").url,
            "https://generativelanguage.googleapis.com/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse"
        );
        let mut vertex = Target::new("v", ProviderKind::Vertex, "claude-opus-4-7");
        vertex.project = Some("acme".into());
        vertex.location = Some("us-east5".into());
        vertex.publisher = Some(Publisher::Anthropic);
        assert_eq!(
            resolve(&vertex, Protocol::AnthropicMessages).expect("url").url,
            "https://us-east5-aiplatform.googleapis.com/v1/projects/acme/locations/us-east5/publishers/anthropic/models/claude-opus-4-7:streamRawPredict"
        );
        vertex.location = Some("global".into());
        vertex.publisher = None;
        vertex.model = "gemini-3-flash-preview".into();
        assert_eq!(
            resolve(&vertex, Protocol::GeminiGenerate).expect("url").url,
            "https://aiplatform.googleapis.com/v1/projects/acme/locations/global/publishers/google/models/gemini-3-flash-preview:streamGenerateContent?alt=sse"
        );
        let ollama = Target::new("l", ProviderKind::Ollama, "llama3");
        assert_eq!(
            resolve(&ollama, Protocol::OllamaChat).expect("url").url,
            "http://localhost:11434/api/chat"
        );
    }

    #[test]
    fn protocol_headers_carry_no_credential() {
        for provider in [
            ProviderKind::OpenAi,
            ProviderKind::Azure,
            ProviderKind::Anthropic,
            ProviderKind::Gemini,
            ProviderKind::Vertex,
            ProviderKind::Bedrock,
            ProviderKind::Ollama,
        ] {
            let headers = headers(&Target::new("t", provider, "m")).expect("headers");
            for credential in ["authorization", "api-key", "x-api-key", "x-goog-api-key"] {
                assert!(!headers.contains_key(credential), "{provider:?}: {headers:?}");
            }
        }
        let anthropic = headers(&Target::new("a", ProviderKind::Anthropic, "m")).expect("headers");
        assert_eq!(anthropic["anthropic-version"], ANTHROPIC_VERSION);
    }

    #[test]
    fn vertex_names_its_project_in_the_url_only() {
        let mut vertex = Target::new("v", ProviderKind::Vertex, "gemini-2.5-pro");
        vertex.project = Some("acme".into());
        vertex.location = Some("us-central1".into());
        let headers = headers(&vertex).expect("headers");
        // The Google project is in the URL; it is not OpenAI's project header.
        assert!(!headers.contains_key("openai-project"), "{headers:?}");
        assert_eq!(
            resolve(&vertex, Protocol::GeminiGenerate).expect("url").url,
            "https://us-central1-aiplatform.googleapis.com/v1/projects/acme/locations/us-central1/publishers/google/models/gemini-2.5-pro:streamGenerateContent?alt=sse"
        );
    }

    #[test]
    fn mantle_serves_gpt_under_openai_claude_under_anthropic_and_the_rest_under_v1() {
        let mantle = |api: Api, model: &str| {
            let mut target = Target::new("m", ProviderKind::Bedrock, model);
            target.region = Some("us-west-2".into());
            target.api = Some(api);
            resolve(&target, Protocol::for_target(&target)).expect("url")
        };
        let endpoint = mantle(Api::MantleResponses, "openai.gpt-5.4");
        assert_eq!(
            endpoint.url,
            "https://bedrock-mantle.us-west-2.api.aws/openai/v1/responses"
        );
        assert_eq!(endpoint.body_model, "openai.gpt-5.4");
        assert!(!endpoint.omit_model, "Mantle reads the model from the body");
        assert_eq!(
            mantle(Api::MantleChat, "openai.gpt-5.5").url,
            "https://bedrock-mantle.us-west-2.api.aws/openai/v1/chat/completions"
        );
        assert_eq!(
            mantle(Api::MantleChat, "openai.gpt-oss-120b").url,
            "https://bedrock-mantle.us-west-2.api.aws/v1/chat/completions"
        );
        assert_eq!(
            mantle(Api::MantleResponses, "qwen.qwen3-32b").url,
            "https://bedrock-mantle.us-west-2.api.aws/v1/responses"
        );
        assert_eq!(
            mantle(Api::MantleMessages, "anthropic.claude-opus-4-7").url,
            "https://bedrock-mantle.us-west-2.api.aws/anthropic/v1/messages"
        );
        let mut gateway = Target::new("g", ProviderKind::Bedrock, "openai.gpt-5.4");
        gateway.region = Some("us-east-1".into());
        gateway.api = Some(Api::MantleResponses);
        gateway.base_url = Some("http://127.0.0.1:9/".into());
        assert_eq!(
            resolve(&gateway, Protocol::OpenAiResponses).expect("url").url,
            "http://127.0.0.1:9/openai/v1/responses"
        );
    }

    #[test]
    fn oci_serves_both_surfaces_on_one_host() {
        let oci = |api: Api, base_url: Option<&str>| {
            let mut target = Target::new("o", ProviderKind::Oci, "openai.gpt-5.5");
            target.region = Some("us-chicago-1".into());
            target.api = Some(api);
            target.compartment_id = Some("ocid1.compartment.oc1..aaaa".into());
            target.base_url = base_url.map(str::to_owned);
            (
                resolve(&target, Protocol::for_target(&target)).expect("url"),
                headers(&target).expect("headers"),
            )
        };
        let (chat, chat_headers) = oci(Api::OpenAiChat, None);
        assert_eq!(
            chat.url,
            "https://inference.generativeai.us-chicago-1.oci.oraclecloud.com/openai/v1/chat/completions"
        );
        assert!(!chat.omit_model);
        assert_eq!(chat_headers["opc-compartment-id"], "ocid1.compartment.oc1..aaaa");
        assert_eq!(
            oci(Api::OpenAiResponses, Some("http://127.0.0.1:9/")).0.url,
            "http://127.0.0.1:9/openai/v1/responses"
        );
        let (native, native_headers) = oci(Api::Native, None);
        assert_eq!(
            native.url,
            "https://inference.generativeai.us-chicago-1.oci.oraclecloud.com/20231130/actions/chat"
        );
        assert!(native.omit_model);
        assert!(!native_headers.contains_key("opc-compartment-id"), "the body names it");
    }

    #[test]
    fn mantle_takes_a_project_header() {
        let mut target = Target::new("m", ProviderKind::Bedrock, "anthropic.claude-opus-4-7");
        target.region = Some("us-east-1".into());
        target.api = Some(Api::MantleMessages);
        target.project = Some("proj_123".into());
        let mantle = headers(&target).expect("headers");
        assert_eq!(mantle["openai-project"], "proj_123");
        assert_eq!(mantle["anthropic-version"], ANTHROPIC_VERSION);
        // Bedrock Runtime has no such headers.
        target.api = Some(Api::Converse);
        target.project = None;
        let runtime = headers(&target).expect("headers");
        assert!(!runtime.contains_key("anthropic-version"), "{runtime:?}");
    }
}
