//! Ollama's `/api/chat` body, with errors worded like its Go server's
//! (`json: cannot unmarshal …`). fakecloud serves no other Ollama route.

use serde_json::Value;

use super::{Invalid, Validated, go_type_name};

pub(crate) fn malformed(error: &serde_json::Error) -> Invalid {
    Invalid::new(format!("invalid character in request body: {error}"))
}

/// Ollama `/api/chat`; errors read like its Go server's.
pub(crate) fn chat(body: &Value) -> Result<Validated, Invalid> {
    let Some(body) = body.as_object() else {
        return Err(Invalid::new(format!(
            "json: cannot unmarshal {} into Go value of type api.ChatRequest",
            go_type_name(body)
        )));
    };
    match body.get("model") {
        Some(Value::String(model)) if !model.is_empty() => {}
        None | Some(Value::Null) | Some(Value::String(_)) => {
            return Err(Invalid::new("model is required"));
        }
        Some(other) => {
            return Err(Invalid::new(format!(
                "json: cannot unmarshal {} into Go struct field ChatRequest.model of type string",
                go_type_name(other)
            )));
        }
    }
    let messages = match body.get("messages") {
        None | Some(Value::Null) => return Err(Invalid::new("messages are required")),
        Some(Value::Array(messages)) => messages,
        Some(other) => {
            return Err(Invalid::new(format!(
                "json: cannot unmarshal {} into Go struct field ChatRequest.messages of type []api.Message",
                go_type_name(other)
            )));
        }
    };
    if messages.is_empty() {
        return Err(Invalid::new("messages are required"));
    }
    let mut texts = Vec::new();
    let mut prompt = String::new();
    for message in messages {
        let Some(message) = message.as_object() else {
            return Err(Invalid::new(format!(
                "json: cannot unmarshal {} into Go struct field ChatRequest.messages of type api.Message",
                go_type_name(message)
            )));
        };
        if let Some(content) = message.get("content").and_then(Value::as_str) {
            if message.get("role").and_then(Value::as_str) == Some("user") {
                content.clone_into(&mut prompt);
            }
            texts.push(content);
        }
    }
    let max_tokens = match body.get("options") {
        None | Some(Value::Null) => None,
        Some(Value::Object(options)) => match options.get("num_predict") {
            None | Some(Value::Null) => None,
            Some(value) => match value.as_i64() {
                // Negative means "no limit" in Ollama.
                Some(limit) => u64::try_from(limit).ok(),
                None => {
                    return Err(Invalid::new(format!(
                        "option \"num_predict\" must be of type integer, not {}",
                        go_type_name(value)
                    )));
                }
            },
        },
        Some(other) => {
            return Err(Invalid::new(format!(
                "json: cannot unmarshal {} into Go struct field ChatRequest.options of type map[string]interface {{}}",
                go_type_name(other)
            )));
        }
    };
    if body.get("stream") == Some(&Value::Bool(false)) {
        return Err(Invalid::new(
            "fakecloud only serves streaming requests: omit \"stream\" or set it to true",
        ));
    }
    Ok(Validated::with_usage(max_tokens, texts, prompt))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn ollama_reads_num_predict() {
        let body = json!({"model": "llama3", "messages": [{"role": "user", "content": "hi"}],
            "options": {"num_predict": 3}});
        assert_eq!(chat(&body).expect("body is valid").max_tokens, Some(3));
        let unlimited = json!({"model": "llama3", "messages": [{"role": "user", "content": "hi"}],
            "options": {"num_predict": -1}});
        assert_eq!(chat(&unlimited).expect("body is valid").max_tokens, None);
        assert!(chat(&json!({"model": "llama3", "messages": []})).is_err());
        assert!(chat(&json!({"messages": [{"role": "user", "content": "hi"}]})).is_err());
        assert!(chat(&json!({"model": "m", "messages": [{"role": "user", "content": "hi"}], "options": 3})).is_err());
    }

    #[test]
    fn the_prompt_is_the_last_user_message() {
        let body = json!({"model": "llama3", "messages": [
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": "first"},
            {"role": "assistant", "content": "answer"},
            {"role": "user", "content": "second"}
        ]});
        assert_eq!(chat(&body).expect("valid").prompt, "second");
    }
}
