//! Anthropic's Messages format, with its pydantic-style wording: on the
//! Anthropic API and Bedrock Mantle (`messages`) and on Vertex AI
//! (`vertex_messages`). The fields every host of Claude checks the same way
//! (`fields`) serve Bedrock's native InvokeModel body too, in `bedrock.rs`.

use serde_json::{Map, Value};

use super::{Invalid, STREAM_ONLY, Validated, content_texts};

pub(crate) fn malformed(error: &serde_json::Error) -> Invalid {
    Invalid::new(format!(
        "There was an error parsing the body of your request as JSON: {error}"
    ))
}

/// Anthropic Messages; messages use its pydantic-style wording.
pub(crate) fn messages(body: &Value) -> Result<Validated, Invalid> {
    let Some(body) = body.as_object() else {
        return Err(Invalid::new("Input should be a valid dictionary or object"));
    };
    match body.get("model") {
        Some(Value::String(model)) if !model.is_empty() => {}
        Some(Value::String(_)) => return Err(Invalid::new("model: String should have at least 1 character")),
        None => return Err(Invalid::new("model: Field required")),
        Some(_) => return Err(Invalid::new("model: Input should be a valid string")),
    }
    let validated = fields(body)?;
    if body.get("stream") != Some(&Value::Bool(true)) {
        return Err(Invalid::new(STREAM_ONLY));
    }
    Ok(validated)
}

/// The Messages fields every host of Claude checks the same way (the
/// Anthropic API, Bedrock's native body, Vertex AI's).
pub(super) fn fields(body: &Map<String, Value>) -> Result<Validated, Invalid> {
    let max_tokens = match body.get("max_tokens") {
        None => return Err(Invalid::new("max_tokens: Field required")),
        Some(value) => match value.as_i64() {
            Some(number) if number >= 1 => u64::try_from(number).ok(),
            Some(_) => {
                return Err(Invalid::new("max_tokens: Input should be greater than or equal to 1"));
            }
            None => return Err(Invalid::new("max_tokens: Input should be a valid integer")),
        },
    };
    let messages = match body.get("messages") {
        None => return Err(Invalid::new("messages: Field required")),
        Some(Value::Array(messages)) => messages,
        Some(_) => return Err(Invalid::new("messages: Input should be a valid list")),
    };
    if messages.is_empty() {
        return Err(Invalid::new("messages: at least one message is required"));
    }
    let mut texts = Vec::new();
    let mut prompt = String::new();
    for (index, message) in messages.iter().enumerate() {
        let Some(message) = message.as_object() else {
            return Err(Invalid::new(format!(
                "messages.{index}: Input should be a valid dictionary or object"
            )));
        };
        match message.get("role").and_then(Value::as_str) {
            Some("user" | "assistant") => {}
            Some("system") => {
                return Err(Invalid::new(
                    "messages: Unexpected role \"system\". The Messages API accepts a top-level `system` parameter, not \"system\" as an input message role.",
                ));
            }
            Some(_) => {
                return Err(Invalid::new(format!(
                    "messages.{index}.role: Input should be 'user' or 'assistant'"
                )));
            }
            None if message.contains_key("role") => {
                return Err(Invalid::new(format!(
                    "messages.{index}.role: Input should be 'user' or 'assistant'"
                )));
            }
            None => return Err(Invalid::new(format!("messages.{index}.role: Field required"))),
        }
        match message.get("content") {
            Some(content @ (Value::String(_) | Value::Array(_))) => {
                if message.get("role").and_then(Value::as_str) == Some("user") {
                    prompt = content_texts(content).join("\n");
                }
                texts.extend(content_texts(content));
            }
            None => {
                return Err(Invalid::new(format!("messages.{index}.content: Field required")));
            }
            Some(_) => {
                return Err(Invalid::new(format!(
                    "messages.{index}.content: Input should be a valid list"
                )));
            }
        }
    }
    match body.get("system") {
        None => {}
        Some(system @ (Value::String(_) | Value::Array(_))) => texts.extend(content_texts(system)),
        Some(_) => return Err(Invalid::new("system: Input should be a valid list")),
    }
    match body.get("stop_sequences") {
        None => {}
        Some(Value::Array(items)) if items.iter().all(Value::is_string) => {}
        Some(Value::Array(_)) => {
            return Err(Invalid::new("stop_sequences.0: Input should be a valid string"));
        }
        Some(_) => return Err(Invalid::new("stop_sequences: Input should be a valid list")),
    }
    if let Some(value) = body.get("temperature") {
        match value.as_f64() {
            Some(number) if (0.0..=1.0).contains(&number) => {}
            Some(number) if number < 0.0 => {
                return Err(Invalid::new("temperature: Input should be greater than or equal to 0"));
            }
            Some(_) => {
                return Err(Invalid::new("temperature: Input should be less than or equal to 1"));
            }
            None => return Err(Invalid::new("temperature: Input should be a valid number")),
        }
    }
    Ok(Validated::with_usage(max_tokens, texts, prompt))
}

/// The `anthropic_version` Vertex AI requires in the body.
const VERTEX_ANTHROPIC_VERSION: &str = "vertex-2023-10-16";

/// Claude on Vertex AI (`:streamRawPredict`): Messages without `model`
/// (the path names it), with Vertex's `anthropic_version`.
pub(crate) fn vertex_messages(body: &Value) -> Result<Validated, Invalid> {
    let Some(body) = body.as_object() else {
        return Err(Invalid::new("Input should be a valid dictionary or object"));
    };
    if body.contains_key("model") {
        return Err(Invalid::new("model: Extra inputs are not permitted"));
    }
    match body.get("anthropic_version") {
        None => return Err(Invalid::new("anthropic_version: Field required")),
        Some(Value::String(version)) if version == VERTEX_ANTHROPIC_VERSION => {}
        Some(_) => {
            return Err(Invalid::new(format!(
                "anthropic_version: Input should be '{VERTEX_ANTHROPIC_VERSION}'"
            )));
        }
    }
    let validated = fields(body)?;
    if body.get("stream") != Some(&Value::Bool(true)) {
        return Err(Invalid::new(STREAM_ONLY));
    }
    Ok(validated)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn anthropic_requires_max_tokens_and_rejects_system_messages() {
        let base = json!({"model": "claude", "max_tokens": 5, "stream": true, "system": "Be brief.",
            "messages": [{"role": "user", "content": "hello"}]});
        assert_eq!(messages(&base).expect("body is valid").input_tokens, 3);
        let mut missing = base.clone();
        missing.as_object_mut().expect("an object").remove("max_tokens");
        assert_eq!(
            messages(&missing).expect_err("body is rejected").message,
            "max_tokens: Field required"
        );
        let mut system_role = base.clone();
        system_role["messages"] = json!([{"role": "system", "content": "x"}]);
        assert!(
            messages(&system_role)
                .expect_err("body is rejected")
                .message
                .contains("system")
        );
        let mut stops = base.clone();
        stops["stop_sequences"] = json!("STOP");
        assert!(messages(&stops).is_err());
        let mut empty = base;
        empty["messages"] = json!([]);
        assert!(messages(&empty).is_err());
    }

    #[test]
    fn vertex_anthropic_wants_its_version_and_no_model() {
        let body = json!({"anthropic_version": "vertex-2023-10-16", "max_tokens": 5, "stream": true,
            "messages": [{"role": "user", "content": "hello there"}]});
        assert_eq!(vertex_messages(&body).expect("body is valid").input_tokens, 2);
        let mut with_model = body.clone();
        with_model["model"] = json!("claude");
        assert!(vertex_messages(&with_model).is_err());
        let mut bedrock_version = body.clone();
        bedrock_version["anthropic_version"] = json!("bedrock-2023-05-31");
        assert_eq!(
            vertex_messages(&bedrock_version).expect_err("rejected").message,
            "anthropic_version: Input should be 'vertex-2023-10-16'"
        );
    }

    #[test]
    fn the_prompt_is_the_last_user_message() {
        let body = json!({"model": "claude", "max_tokens": 5, "stream": true, "system": "Be brief.",
        "messages": [
            {"role": "user", "content": "first"},
            {"role": "assistant", "content": "answer"},
            {"role": "user", "content": [{"type": "text", "text": "second"}, {"type": "text", "text": "part"}]}
        ]});
        assert_eq!(messages(&body).expect("valid").prompt, "second\npart");
        let vertex = json!({"anthropic_version": "vertex-2023-10-16", "max_tokens": 5, "stream": true,
            "messages": [{"role": "user", "content": "hello there"}, {"role": "assistant", "content": "hi"}]});
        assert_eq!(vertex_messages(&vertex).expect("valid").prompt, "hello there");
    }
}
