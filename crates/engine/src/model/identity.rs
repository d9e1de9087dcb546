//! One model identity across clouds: the **base model**, the model as its maker names it
//! (`gpt-5.4`, `claude-opus-4-7`, `gemini-2.5-pro`), without a cloud's prefixes, inference
//! profile geography, resource paths or version suffixes.
//!
//! `gpt-5.4` on OpenAI, `us.openai.gpt-5.4` on Bedrock, `openai.gpt-5.4` on Bedrock Mantle and
//! an Azure deployment `gpt54-sweden` with `base_model = "gpt-5.4"` are the same model; the
//! cloud-parity comparison groups targets by it. Resolved from the model id for every cloud
//! but Azure, whose deployment names are the user's own: there it comes from the target's
//! `base_model`, else from the model the response reports. A `base_model` on any target wins.

use crate::model::target::{ProviderKind, Target};

/// Vendor prefixes of Bedrock model ids (`anthropic.claude-…`, `openai.gpt-…`).
const BEDROCK_VENDORS: [&str; 20] = [
    "anthropic",
    "openai",
    "meta",
    "amazon",
    "mistral",
    "cohere",
    "ai21",
    "deepseek",
    "qwen",
    "google",
    "xai",
    "moonshotai",
    "moonshot",
    "nvidia",
    "writer",
    "minimax",
    "zai",
    "stability",
    "twelvelabs",
    "luma",
];

/// Cross-region inference profile prefixes (a geography, or `global`).
const BEDROCK_PROFILES: [&str; 9] = ["us-gov.", "us.", "eu.", "apac.", "au.", "jp.", "ca.", "in.", "global."];

/// The base model of `target`, or `None` when nothing says it (an Azure deployment without
/// `base_model`, before its response reports a model). `reported_model` is what the cloud said
/// it ran.
pub fn base_model(target: &Target, reported_model: Option<&str>) -> Option<String> {
    if let Some(declared) = target
        .base_model
        .as_deref()
        .map(str::trim)
        .filter(|name| !name.is_empty())
    {
        return Some(declared.to_ascii_lowercase());
    }
    let reported = reported_model.map(str::trim).filter(|name| !name.is_empty());
    match target.provider {
        ProviderKind::Azure => reported.map(|model| base_of(ProviderKind::OpenAi, model)),
        provider => {
            let model = target.model.trim();
            if model.is_empty() {
                return reported.map(|model| base_of(provider, model));
            }
            // An ARN that hides its model (an application inference profile) or an OCI dedicated
            // endpoint's OCID says nothing; the model the response reports may.
            let opaque = (provider == ProviderKind::Bedrock && model.starts_with("arn:") && arn_model(model).is_none())
                || (provider == ProviderKind::Oci && model.starts_with("ocid1."));
            if opaque {
                return reported.map(|model| base_of(provider, model));
            }
            Some(base_of(provider, model))
        }
    }
}

/// The base model of a model id as `provider` names it.
pub fn base_of(provider: ProviderKind, model: &str) -> String {
    let mut name = model.trim().to_ascii_lowercase();
    match provider {
        ProviderKind::Bedrock => {
            if name.starts_with("arn:") {
                name = arn_model(&name).unwrap_or(&name).to_owned();
            }
            // `mantle/…` is how the price catalog keys Bedrock Mantle's models.
            if let Some(rest) = name.strip_prefix("mantle/") {
                name = rest.to_owned();
            }
            name = strip_bedrock_profile(&name).to_owned();
            name = strip_vendor(&name).to_owned();
            name = strip_bedrock_version(&name).to_owned();
        }
        ProviderKind::Vertex | ProviderKind::Gemini => {
            name = last_path_segment(&name).to_owned();
            if let Some((unpinned, _)) = name.split_once('@') {
                name = unpinned.to_owned();
            }
            name = strip_numbered_version(&name).to_owned();
        }
        ProviderKind::Ollama => {
            if let Some(untagged) = name.strip_suffix(":latest") {
                name = untagged.to_owned();
            }
        }
        // OCI names models `vendor.model` (`openai.gpt-5.5`, `meta.llama-3.3-70b-instruct`,
        // `xai.grok-4`); a dedicated endpoint's OCID says nothing of its model.
        ProviderKind::Oci => {
            name = last_path_segment(&name).to_owned();
            name = strip_vendor(&name).to_owned();
        }
        ProviderKind::OpenAi | ProviderKind::Azure | ProviderKind::Anthropic => {
            // Gateways name models `vendor/model` (OpenRouter: `openai/gpt-5.4`).
            name = last_path_segment(&name).to_owned();
        }
    }
    strip_date(&name).to_owned()
}

/// The model id inside a Bedrock foundation-model or inference-profile ARN.
fn arn_model(arn: &str) -> Option<&str> {
    let resource = arn.splitn(6, ':').nth(5)?;
    match resource.split_once('/') {
        Some(("foundation-model" | "inference-profile", id)) if !id.is_empty() => Some(id),
        _ => None,
    }
}

fn last_path_segment(name: &str) -> &str {
    name.rsplit('/').next().unwrap_or(name)
}

/// `us.anthropic.claude-…` → `anthropic.claude-…`.
pub(crate) fn strip_bedrock_profile(model: &str) -> &str {
    BEDROCK_PROFILES
        .iter()
        .find_map(|prefix| model.strip_prefix(prefix))
        .unwrap_or(model)
}

/// `anthropic.claude-opus-4-7` → `claude-opus-4-7`.
fn strip_vendor(model: &str) -> &str {
    match model.split_once('.') {
        Some((vendor, rest)) if BEDROCK_VENDORS.contains(&vendor) && !rest.is_empty() => rest,
        _ => model,
    }
}

/// Bedrock's model version suffix: `-v1:0`, `-v2`, `-v1:0:200k`, or a bare `:0`.
pub(crate) fn strip_bedrock_version(model: &str) -> &str {
    let mut rest = model;
    // Context-window variants (`:200k`, `:28k`) and the minor version (`:0`).
    while let Some((head, tail)) = rest.rsplit_once(':') {
        let is_suffix = !tail.is_empty()
            && (tail.bytes().all(|byte| byte.is_ascii_digit())
                || (tail.ends_with('k') && tail[..tail.len() - 1].bytes().all(|byte| byte.is_ascii_digit())));
        if !is_suffix {
            break;
        }
        rest = head;
    }
    if let Some((head, tail)) = rest.rsplit_once("-v")
        && !tail.is_empty()
        && tail.bytes().all(|byte| byte.is_ascii_digit())
        && !head.is_empty()
    {
        return head;
    }
    rest
}

/// Google's stable version suffix: `gemini-2.0-flash-001` → `gemini-2.0-flash`.
fn strip_numbered_version(model: &str) -> &str {
    match model.rsplit_once('-') {
        Some((head, tail)) if tail.len() == 3 && tail.bytes().all(|byte| byte.is_ascii_digit()) => head,
        _ => model,
    }
}

/// Dated snapshots: `gpt-5.4-2026-03-05` and `claude-opus-4-7-20260416` → the undated name.
pub(crate) fn strip_date(model: &str) -> &str {
    let bytes = model.as_bytes();
    let digits = |range: std::ops::Range<usize>| bytes[range].iter().all(u8::is_ascii_digit);
    // -YYYY-MM-DD
    if bytes.len() > 11 {
        let start = bytes.len() - 11;
        if bytes[start] == b'-'
            && digits(start + 1..start + 5)
            && bytes[start + 5] == b'-'
            && digits(start + 6..start + 8)
            && bytes[start + 8] == b'-'
            && digits(start + 9..start + 11)
        {
            return &model[..start];
        }
    }
    // -YYYYMMDD
    if bytes.len() > 9 {
        let start = bytes.len() - 9;
        if bytes[start] == b'-' && digits(start + 1..bytes.len()) && bytes[start + 1] == b'2' {
            return &model[..start];
        }
    }
    model
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::target::{Api, Publisher};

    fn target(provider: ProviderKind, model: &str) -> Target {
        Target::new("t", provider, model)
    }

    #[test]
    fn the_same_model_on_every_cloud_has_one_base_model() {
        let cases = [
            (ProviderKind::OpenAi, "gpt-5.4", "gpt-5.4"),
            (ProviderKind::OpenAi, "gpt-5.4-2026-03-05", "gpt-5.4"),
            (ProviderKind::OpenAi, "openai/gpt-5.4", "gpt-5.4"),
            (ProviderKind::Bedrock, "us.openai.gpt-5.4", "gpt-5.4"),
            (ProviderKind::Bedrock, "global.openai.gpt-5.4", "gpt-5.4"),
            (ProviderKind::Bedrock, "openai.gpt-5.4", "gpt-5.4"),
            (ProviderKind::Bedrock, "mantle/openai.gpt-5.4", "gpt-5.4"),
            (
                ProviderKind::Bedrock,
                "us.anthropic.claude-opus-4-7-v1:0",
                "claude-opus-4-7",
            ),
            (ProviderKind::Bedrock, "anthropic.claude-opus-4-7", "claude-opus-4-7"),
            (
                ProviderKind::Bedrock,
                "anthropic.claude-3-5-sonnet-20240620-v1:0",
                "claude-3-5-sonnet",
            ),
            (
                ProviderKind::Bedrock,
                "anthropic.claude-3-sonnet-20240229-v1:0:200k",
                "claude-3-sonnet",
            ),
            (
                ProviderKind::Bedrock,
                "arn:aws:bedrock:us-east-1:123456789012:inference-profile/eu.anthropic.claude-opus-4-7-v1:0",
                "claude-opus-4-7",
            ),
            (
                ProviderKind::Bedrock,
                "arn:aws:bedrock:us-east-1::foundation-model/meta.llama3-3-70b-instruct-v1:0",
                "llama3-3-70b-instruct",
            ),
            (ProviderKind::Bedrock, "amazon.nova-pro-v1:0", "nova-pro"),
            (ProviderKind::Anthropic, "claude-opus-4-7", "claude-opus-4-7"),
            (ProviderKind::Anthropic, "claude-opus-4-7-20260416", "claude-opus-4-7"),
            (ProviderKind::Vertex, "claude-opus-4-7@20260416", "claude-opus-4-7"),
            (ProviderKind::Vertex, "claude-opus-4-7@default", "claude-opus-4-7"),
            (
                ProviderKind::Vertex,
                "publishers/google/models/gemini-2.5-pro",
                "gemini-2.5-pro",
            ),
            (ProviderKind::Vertex, "gemini-2.0-flash-001", "gemini-2.0-flash"),
            (ProviderKind::Gemini, "models/gemini-2.5-pro", "gemini-2.5-pro"),
            (
                ProviderKind::Gemini,
                "gemini-2.5-flash-preview-09-2025",
                "gemini-2.5-flash-preview-09-2025",
            ),
            (ProviderKind::Ollama, "llama3.3:latest", "llama3.3"),
            (ProviderKind::Ollama, "llama3.3:70b", "llama3.3:70b"),
            (ProviderKind::Oci, "openai.gpt-5.5", "gpt-5.5"),
            (
                ProviderKind::Oci,
                "meta.llama-3.3-70b-instruct",
                "llama-3.3-70b-instruct",
            ),
            (ProviderKind::Oci, "xai.grok-4", "grok-4"),
            (ProviderKind::Oci, "cohere.command-a-03-2025", "command-a-03-2025"),
            (ProviderKind::Oci, "google.gemini-2.5-pro", "gemini-2.5-pro"),
        ];
        for (provider, model, expected) in cases {
            assert_eq!(base_of(provider, model), expected, "{provider} {model}");
            assert_eq!(
                base_model(&target(provider, model), None).as_deref(),
                Some(expected),
                "{provider} {model}"
            );
        }
    }

    #[test]
    fn azure_takes_base_model_then_the_reported_model_never_the_deployment_name() {
        let mut azure = target(ProviderKind::Azure, "gpt54-sweden");
        assert_eq!(base_model(&azure, None), None, "a deployment name is the user's own");
        assert_eq!(
            base_model(&azure, Some("gpt-5.4-2026-03-05")).as_deref(),
            Some("gpt-5.4")
        );
        azure.base_model = Some("GPT-5.4".into());
        assert_eq!(base_model(&azure, Some("gpt-4o")).as_deref(), Some("gpt-5.4"));
    }

    #[test]
    fn a_declared_base_model_wins_and_hidden_arns_fall_back_to_the_reported_model() {
        let mut mantle = target(ProviderKind::Bedrock, "openai.gpt-5.4");
        mantle.api = Some(Api::MantleResponses);
        assert_eq!(base_model(&mantle, None).as_deref(), Some("gpt-5.4"));
        mantle.base_model = Some("gpt-5.4-custom".into());
        assert_eq!(base_model(&mantle, None).as_deref(), Some("gpt-5.4-custom"));
        let hidden = target(
            ProviderKind::Bedrock,
            "arn:aws:bedrock:us-east-1:123456789012:application-inference-profile/abc123",
        );
        assert_eq!(base_model(&hidden, None), None);
        assert_eq!(
            base_model(&hidden, Some("anthropic.claude-opus-4-7-v1:0")).as_deref(),
            Some("claude-opus-4-7")
        );
        let mut vertex = target(ProviderKind::Vertex, "claude-opus-4-7@20260416");
        vertex.publisher = Some(Publisher::Anthropic);
        assert_eq!(base_model(&vertex, None).as_deref(), Some("claude-opus-4-7"));
    }

    #[test]
    fn version_suffixes_are_stripped_only_where_they_are_versions() {
        assert_eq!(strip_bedrock_version("claude-opus-4-7-v1:0"), "claude-opus-4-7");
        assert_eq!(strip_bedrock_version("nova-pro-v1"), "nova-pro");
        assert_eq!(strip_bedrock_version("gpt-5.4"), "gpt-5.4");
        assert_eq!(
            strip_bedrock_version("llama3-3-70b-instruct-v1:0"),
            "llama3-3-70b-instruct"
        );
        assert_eq!(strip_date("gpt-5.4-mini"), "gpt-5.4-mini");
        assert_eq!(strip_date("o3-2025-04-16"), "o3");
        assert_eq!(strip_date("claude-haiku-4-5-20251001"), "claude-haiku-4-5");
        assert_eq!(strip_numbered_version("gemini-2.5-pro"), "gemini-2.5-pro");
    }
}
