//! Gemini's `GenerateContentRequest`, on the Gemini API and on Vertex AI,
//! with Google's proto-JSON wording; any field the request type does not
//! have is refused. Claude on Vertex AI takes Anthropic's format
//! (`anthropic.rs`).

use serde_json::Value;

use super::{Invalid, Validated, go_type_name};

pub(crate) fn malformed(error: &serde_json::Error) -> Invalid {
    Invalid::new(format!("Invalid JSON payload received. {error}"))
}

/// Fields of a `GenerateContentRequest`, in either of the spellings proto
/// JSON accepts. Google refuses any other.
const GEMINI_FIELDS: &[&str] = &[
    "model",
    "contents",
    "systemInstruction",
    "system_instruction",
    "generationConfig",
    "generation_config",
    "tools",
    "toolConfig",
    "tool_config",
    "safetySettings",
    "safety_settings",
    "cachedContent",
    "cached_content",
    "labels",
    "serviceTier",
    "service_tier",
];

/// Text of a Gemini `Content` (`{role, parts: [{text}, …]}`).
fn gemini_texts(content: &Value) -> impl Iterator<Item = &str> {
    content
        .get("parts")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|part| part.get("text").and_then(Value::as_str))
}

/// Gemini `streamGenerateContent`, on the Gemini API and on Vertex AI.
pub(crate) fn generate(body: &Value) -> Result<Validated, Invalid> {
    let Some(body) = body.as_object() else {
        return Err(Invalid::new(format!(
            "Invalid JSON payload received. Expected an object, got {}.",
            go_type_name(body)
        )));
    };
    if let Some(unknown) = body.keys().find(|key| !GEMINI_FIELDS.contains(&key.as_str())) {
        return Err(Invalid::new(format!(
            "Invalid JSON payload received. Unknown name \"{unknown}\": Cannot find field."
        )));
    }
    let contents = match body.get("contents") {
        Some(Value::Array(contents)) if !contents.is_empty() => contents,
        None | Some(Value::Null) | Some(Value::Array(_)) => {
            return Err(Invalid::new(
                "* GenerateContentRequest.contents: contents is not specified\n",
            ));
        }
        Some(other) => {
            return Err(Invalid::new(format!(
                "Invalid value at 'contents' (type.googleapis.com/google.ai.generativelanguage.v1beta.Content), {other}"
            )));
        }
    };
    let mut texts = Vec::new();
    let mut prompt = String::new();
    for (index, content) in contents.iter().enumerate() {
        let role = content.get("role").and_then(Value::as_str);
        match role {
            None | Some("user" | "model" | "function") => {}
            Some(_) => return Err(Invalid::new("Please use a valid role: user, model.")),
        }
        match content.get("parts") {
            Some(Value::Array(parts)) if !parts.is_empty() => {
                // Gemini takes a content without a role as the user's.
                if matches!(role, None | Some("user")) {
                    prompt = gemini_texts(content).collect::<Vec<_>>().join("\n");
                }
                texts.extend(gemini_texts(content));
            }
            _ => {
                return Err(Invalid::new(format!(
                    "* GenerateContentRequest.contents[{index}].parts: contents.parts must not be empty.\n"
                )));
            }
        }
    }
    if let Some(system) = body.get("systemInstruction").or_else(|| body.get("system_instruction")) {
        texts.extend(gemini_texts(system));
    }
    let mut max_tokens = None;
    if let Some(config) = body.get("generationConfig").or_else(|| body.get("generation_config")) {
        let Some(config) = config.as_object() else {
            return Err(Invalid::new(format!(
                "Invalid value at 'generation_config' (type.googleapis.com/google.ai.generativelanguage.v1beta.GenerationConfig), {config}"
            )));
        };
        if let Some(value) = config
            .get("maxOutputTokens")
            .or_else(|| config.get("max_output_tokens"))
        {
            match value.as_u64() {
                Some(limit) => max_tokens = Some(limit),
                None => {
                    return Err(Invalid::new(format!(
                        "Invalid value at 'generation_config.max_output_tokens' (TYPE_INT32), {value}"
                    )));
                }
            }
        }
        if let Some(value) = config.get("temperature") {
            match value.as_f64() {
                Some(number) if (0.0..=2.0).contains(&number) => {}
                _ => {
                    return Err(Invalid::new(
                        "* GenerateContentRequest.generation_config.temperature: must be in [0.0, 2.0]\n",
                    ));
                }
            }
        }
    }
    Ok(Validated::with_usage(max_tokens, texts, prompt))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn gemini_refuses_unknown_fields_and_empty_contents() {
        let body = json!({"contents": [{"role": "user", "parts": [{"text": "hello there"}]}],
            "systemInstruction": {"parts": [{"text": "Be brief."}]},
            "generationConfig": {"maxOutputTokens": 12, "temperature": 1.5}});
        let validated = generate(&body).expect("valid");
        assert_eq!((validated.input_tokens, validated.max_tokens), (4, Some(12)));
        let mut unknown = body.clone();
        unknown["messages"] = json!([]);
        assert_eq!(
            generate(&unknown).expect_err("rejected").message,
            "Invalid JSON payload received. Unknown name \"messages\": Cannot find field."
        );
        assert!(generate(&json!({"contents": []})).is_err());
        assert!(generate(&json!({"contents": [{"role": "assistant", "parts": [{"text": "x"}]}]})).is_err());
        assert!(generate(&json!({"contents": [{"role": "user", "parts": []}]})).is_err());
    }

    #[test]
    fn the_prompt_is_the_last_user_content() {
        let body = json!({"systemInstruction": {"parts": [{"text": "Be brief."}]}, "contents": [
            {"role": "user", "parts": [{"text": "first"}]},
            {"role": "model", "parts": [{"text": "answer"}]},
            {"parts": [{"text": "second"}, {"text": "part"}]},
            {"role": "model", "parts": [{"text": "more"}]}
        ]});
        assert_eq!(generate(&body).expect("valid").prompt, "second\npart");
    }
}
