//! Self-preference: judges rate their own family's answers higher (Zheng et al., 2023, "Judging
//! LLM-as-a-Judge", §3.3; Panickssery et al., 2024). A judge of the same family as a target it
//! judges is allowed but warned about.
//!
//! A family is the maker's line of models, read from the base model (`identity::base_model`):
//! its leading letters (`claude-opus-4-7` → `claude`, `gemini-2.5-pro` → `gemini`,
//! `llama-3.3-70b` → `llama`), with OpenAI's `o1`/`o3`/`o4` reasoning models counted as `gpt`.

use crate::model::identity::base_model;
use crate::model::target::Target;

/// The family of a base model; `None` when it has no leading letters.
pub fn model_family(base: &str) -> Option<String> {
    let letters: String = base
        .trim()
        .chars()
        .take_while(char::is_ascii_alphabetic)
        .collect::<String>()
        .to_ascii_lowercase();
    match letters.as_str() {
        "" => None,
        // `o3-mini`, `o4`: OpenAI's reasoning line; `chatgpt-4o-latest` too.
        "o" | "chatgpt" => Some("gpt".to_owned()),
        _ => Some(letters),
    }
}

/// The targets among `targets` whose family is the judge's, by name.
pub fn self_preference(judge: &Target, targets: &[Target]) -> Vec<String> {
    let family = |target: &Target| base_model(target, None).as_deref().and_then(model_family);
    let Some(judge_family) = family(judge) else {
        return Vec::new();
    };
    targets
        .iter()
        .filter(|target| family(target).as_ref() == Some(&judge_family))
        .map(|target| target.name.clone())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::target::ProviderKind;

    #[test]
    fn families_are_the_makers_lines() {
        assert_eq!(model_family("claude-opus-4-7").as_deref(), Some("claude"));
        assert_eq!(model_family("gpt-5.4").as_deref(), Some("gpt"));
        assert_eq!(model_family("o3-mini").as_deref(), Some("gpt"));
        assert_eq!(model_family("gemini-2.5-pro").as_deref(), Some("gemini"));
        assert_eq!(model_family("Llama-3.3-70b").as_deref(), Some("llama"));
        assert_eq!(model_family("4o"), None);
    }

    #[test]
    fn a_judge_is_warned_about_the_targets_of_its_own_family_on_any_cloud() {
        let judge = Target::new("judge", ProviderKind::Anthropic, "claude-sonnet-4-6");
        let bedrock_claude = Target::new(
            "claude-on-bedrock",
            ProviderKind::Bedrock,
            "us.anthropic.claude-opus-4-7-v1:0",
        );
        let gpt = Target::new("gpt", ProviderKind::OpenAi, "gpt-5.4");
        let mut azure = Target::new("azure", ProviderKind::Azure, "my-deployment");
        azure.base_model = Some("claude-haiku-4-5".to_owned());
        assert_eq!(
            self_preference(&judge, &[bedrock_claude, gpt.clone(), azure]),
            ["claude-on-bedrock", "azure"]
        );
        assert!(self_preference(&gpt, &[Target::new("c", ProviderKind::Anthropic, "claude-x")]).is_empty());
    }
}
