//! OpenAI's request formats: Chat Completions (OpenAI, Azure's v1 and classic
//! paths, Bedrock Mantle) and Responses (OpenAI, Azure v1, Mantle), with
//! OpenAI's wording and its `param` and `code` on each rejection.
//!
//! The other clouds' formats live beside this file; what counts as text and
//! the rejection type are in `validate.rs`.

use serde_json::{Map, Value};

use crate::text::count_words;
use crate::wire::openai_responses::EchoedRequest;

use super::{Invalid, STREAM_ONLY, Validated, content_texts};

fn type_name(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(number) if number.is_i64() || number.is_u64() => "an integer",
        Value::Number(_) => "a decimal",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// OpenAI's `invalid_type` rejection of `param`, which should have been
/// `expected`.
fn wrong_type(param: &str, expected: &str, value: &Value) -> Invalid {
    Invalid::new(format!(
        "Invalid type for '{param}': expected {expected}, but got {} instead.",
        type_name(value)
    ))
    .with(param, "invalid_type")
}

/// OpenAI's rejection of a body without `param`.
fn missing(param: &str) -> Invalid {
    Invalid::new(format!("Missing required parameter: '{param}'.")).with(param, "missing_required_parameter")
}

/// Present and not null; OpenAI treats `null` as "not given".
fn field<'a>(body: &'a Map<String, Value>, name: &str) -> Option<&'a Value> {
    body.get(name).filter(|value| !value.is_null())
}

/// The top-level object, or OpenAI's complaint about the body.
fn body_object(body: &Value) -> Result<&Map<String, Value>, Invalid> {
    body.as_object().ok_or_else(|| {
        Invalid::new(format!(
            "Invalid type for request body: expected an object, but got {} instead.",
            type_name(body)
        ))
        .with("body", "invalid_type")
    })
}

pub(crate) fn malformed() -> Invalid {
    Invalid::new(
        "We could not parse the JSON body of your request. (HINT: This likely means you aren't \
         using your HTTP library correctly. The OpenAI API expects a JSON payload, but what was \
         sent was not valid JSON. If you have trouble figuring out how to fix this, please \
         contact us through our help center at help.openai.com.)",
    )
}

fn require_model(body: &Map<String, Value>) -> Result<(), Invalid> {
    match field(body, "model") {
        Some(Value::String(model)) if !model.is_empty() => Ok(()),
        Some(Value::String(_)) | None => Err(Invalid::new("you must provide a model parameter")),
        Some(other) => Err(wrong_type("model", "a string", other)),
    }
}

fn require_stream(body: &Map<String, Value>) -> Result<(), Invalid> {
    match body.get("stream") {
        Some(Value::Bool(true)) => Ok(()),
        Some(Value::Bool(false)) | Some(Value::Null) | None => {
            Err(Invalid::new(STREAM_ONLY).with("stream", "invalid_value"))
        }
        Some(other) => Err(wrong_type("stream", "a boolean", other)),
    }
}

fn decimal(body: &Map<String, Value>, name: &str, minimum: f64, maximum: f64) -> Result<Option<f64>, Invalid> {
    let Some(value) = field(body, name) else {
        return Ok(None);
    };
    let Some(number) = value.as_f64() else {
        return Err(wrong_type(name, "a decimal", value));
    };
    if number < minimum {
        return Err(Invalid::new(format!(
            "Invalid '{name}': decimal below minimum value. Expected a value >= {minimum}, but got {value} instead."
        ))
        .with(name, "decimal_below_min_value"));
    }
    if number > maximum {
        return Err(Invalid::new(format!(
            "Invalid '{name}': decimal above maximum value. Expected a value <= {maximum}, but got {value} instead."
        ))
        .with(name, "decimal_above_max_value"));
    }
    Ok(Some(number))
}

fn integer(body: &Map<String, Value>, name: &str) -> Result<Option<i64>, Invalid> {
    let Some(value) = field(body, name) else {
        return Ok(None);
    };
    value
        .as_i64()
        .map(Some)
        .ok_or_else(|| wrong_type(name, "an integer", value))
}

fn positive(body: &Map<String, Value>, name: &str) -> Result<Option<u64>, Invalid> {
    match integer(body, name)? {
        None => Ok(None),
        Some(number) if number >= 1 => Ok(u64::try_from(number).ok()),
        Some(number) => Err(Invalid::new(format!(
            "Invalid '{name}': integer below minimum value. Expected a value >= 1, but got {number} instead."
        ))
        .with(name, "integer_below_min_value")),
    }
}

const CHAT_ROLES: &[&str] = &["system", "developer", "user", "assistant", "tool"];

/// OpenAI and Azure Chat Completions. Azure's classic path takes the model
/// from the deployment, so `model_required` is false there.
pub(crate) fn chat_completions(body: &Value, model_required: bool) -> Result<Validated, Invalid> {
    let body = body_object(body)?;
    if model_required {
        require_model(body)?;
    }
    let messages = match field(body, "messages") {
        None => {
            return Err(missing("messages"));
        }
        Some(Value::Array(messages)) => messages,
        Some(other) => {
            return Err(wrong_type("messages", "an array", other));
        }
    };
    if messages.is_empty() {
        return Err(Invalid::new(
            "Invalid 'messages': empty array. Expected an array with minimum length 1, but got an empty array instead.",
        )
        .with("messages", "empty_array"));
    }
    let mut texts = Vec::new();
    let mut prompt = String::new();
    for (index, message) in messages.iter().enumerate() {
        let Some(message) = message.as_object() else {
            return Err(wrong_type(&format!("messages[{index}]"), "an object", message));
        };
        let role = match message.get("role") {
            Some(Value::String(role)) => role.as_str(),
            None | Some(Value::Null) => {
                return Err(missing(&format!("messages[{index}].role")));
            }
            Some(other) => {
                return Err(wrong_type(&format!("messages[{index}].role"), "a string", other));
            }
        };
        if !CHAT_ROLES.contains(&role) {
            return Err(Invalid::new(format!(
                "Invalid value: '{role}'. Supported values are: 'system', 'developer', 'user', 'assistant', and 'tool'."
            ))
            .with(format!("messages[{index}].role"), "invalid_value"));
        }
        match message.get("content") {
            Some(content @ (Value::String(_) | Value::Array(_))) => {
                if role == "user" {
                    prompt = content_texts(content).join("\n");
                }
                texts.extend(content_texts(content));
            }
            // An assistant turn that only called tools has no content.
            None | Some(Value::Null) if role == "assistant" => {}
            None | Some(Value::Null) => {
                return Err(missing(&format!("messages[{index}].content")));
            }
            Some(other) => {
                return Err(wrong_type(
                    &format!("messages[{index}].content"),
                    "one of a string or array of objects",
                    other,
                ));
            }
        }
    }
    require_stream(body)?;
    let include_usage = match field(body, "stream_options") {
        None => false,
        Some(Value::Object(options)) => match field(options, "include_usage") {
            None => false,
            Some(Value::Bool(include)) => *include,
            Some(other) => {
                return Err(wrong_type("stream_options.include_usage", "a boolean", other));
            }
        },
        Some(other) => {
            return Err(wrong_type("stream_options", "an object", other));
        }
    };
    decimal(body, "temperature", 0.0, 2.0)?;
    decimal(body, "top_p", 0.0, 1.0)?;
    let max_tokens = positive(body, "max_tokens")?;
    let max_completion_tokens = positive(body, "max_completion_tokens")?;
    integer(body, "seed")?;
    match field(body, "stop") {
        None | Some(Value::String(_)) => {}
        Some(Value::Array(items)) if items.iter().all(Value::is_string) => {}
        Some(other) => {
            return Err(wrong_type("stop", "one of a string or array of strings", other));
        }
    }
    Ok(Validated {
        // The newer name wins when both are sent.
        max_tokens: max_completion_tokens.or(max_tokens),
        include_usage,
        input_tokens: count_words(texts),
        prompt,
        echoed: EchoedRequest::default(),
        invoke_family: None,
        oci_format: None,
    })
}

/// OpenAI and Azure v1 Responses.
pub(crate) fn responses(body: &Value) -> Result<Validated, Invalid> {
    let body = body_object(body)?;
    require_model(body)?;
    let mut texts = Vec::new();
    let mut prompt = String::new();
    match field(body, "input") {
        None => {
            return Err(missing("input"));
        }
        Some(Value::String(text)) => {
            texts.push(text.as_str());
            prompt.clone_from(text);
        }
        Some(Value::Array(items)) if items.is_empty() => {
            return Err(Invalid::new(
                "Invalid 'input': empty array. Expected an array with minimum length 1, but got an empty array instead.",
            )
            .with("input", "empty_array"));
        }
        Some(Value::Array(items)) => {
            for (index, item) in items.iter().enumerate() {
                let Some(item) = item.as_object() else {
                    return Err(wrong_type(&format!("input[{index}]"), "an object", item));
                };
                if let Some(content) = item.get("content") {
                    if item.get("role").and_then(Value::as_str) == Some("user") {
                        prompt = content_texts(content).join("\n");
                    }
                    texts.extend(content_texts(content));
                }
            }
        }
        Some(other) => {
            return Err(wrong_type("input", "one of a string or array of input items", other));
        }
    }
    let instructions = match field(body, "instructions") {
        None => None,
        Some(Value::String(text)) => {
            texts.push(text.as_str());
            Some(text.clone())
        }
        Some(other) => {
            return Err(wrong_type("instructions", "a string", other));
        }
    };
    require_stream(body)?;
    let temperature = decimal(body, "temperature", 0.0, 2.0)?;
    let top_p = decimal(body, "top_p", 0.0, 1.0)?;
    let max_output_tokens = positive(body, "max_output_tokens")?;
    Ok(Validated {
        max_tokens: max_output_tokens,
        include_usage: true,
        input_tokens: count_words(texts),
        prompt,
        echoed: EchoedRequest {
            instructions,
            max_output_tokens,
            temperature,
            top_p,
        },
        invoke_family: None,
        oci_format: None,
    })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn chat(body: Value) -> Result<Validated, Invalid> {
        chat_completions(&body, true)
    }

    #[test]
    fn chat_accepts_a_typical_body() {
        let validated = chat(json!({
            "model": "gpt-4o", "stream": true, "stream_options": {"include_usage": true},
            "messages": [
                {"role": "system", "content": "Be brief."},
                {"role": "user", "content": [{"type": "text", "text": "Hello there"}]},
                {"role": "assistant", "content": null, "tool_calls": []}
            ],
            "temperature": 0.5, "max_completion_tokens": 7, "seed": 3, "stop": ["x"],
            "unknown_field": {"anything": true}
        }))
        .expect("body is valid");
        assert_eq!(validated.max_tokens, Some(7));
        assert!(validated.include_usage);
        assert_eq!(validated.input_tokens, 4);
    }

    #[test]
    fn chat_rejections_name_the_parameter() {
        let base = json!({"model": "m", "stream": true, "messages": [{"role": "user", "content": "hi"}]});
        let cases = [
            ("model", json!(""), None),
            ("messages", json!([]), Some("messages")),
            (
                "messages",
                json!([{"role": "wizard", "content": "x"}]),
                Some("messages[0].role"),
            ),
            (
                "messages",
                json!([{"role": "user", "content": 5}]),
                Some("messages[0].content"),
            ),
            ("stream", json!(false), Some("stream")),
            ("temperature", json!(2.5), Some("temperature")),
            ("temperature", json!("hot"), Some("temperature")),
            ("top_p", json!(-0.1), Some("top_p")),
            ("max_tokens", json!(0), Some("max_tokens")),
            ("max_completion_tokens", json!(1.5), Some("max_completion_tokens")),
            ("seed", json!("x"), Some("seed")),
            ("stop", json!([1]), Some("stop")),
        ];
        for (key, value, param) in cases {
            let mut body = base.clone();
            body[key] = value;
            let error = chat(body).expect_err("body is rejected");
            assert_eq!(error.param.as_deref(), param, "{key}: {}", error.message);
        }
        assert!(
            chat_completions(
                &json!({"stream": true, "messages": [{"role": "user", "content": "x"}]}),
                false
            )
            .is_ok()
        );
        assert!(chat(json!([1, 2])).is_err());
    }

    #[test]
    fn rejections_use_openai_wording() {
        let error = chat(json!({"model": "m", "stream": true, "messages": [{"role": 3, "content": "x"}]}))
            .expect_err("body is rejected");
        assert_eq!(
            error,
            Invalid {
                message: "Invalid type for 'messages[0].role': expected a string, but got an integer instead.".into(),
                param: Some("messages[0].role".into()),
                code: Some("invalid_type"),
            }
        );
        let error = responses(&json!({"model": "m", "stream": true})).expect_err("body is rejected");
        assert_eq!(
            error,
            Invalid {
                message: "Missing required parameter: 'input'.".into(),
                param: Some("input".into()),
                code: Some("missing_required_parameter"),
            }
        );
    }

    #[test]
    fn responses_checks_input_and_limits() {
        let validated = responses(&json!({
            "model": "m", "stream": true, "input": "one two three", "instructions": "four",
            "max_output_tokens": 20
        }))
        .expect("body is valid");
        assert_eq!(validated.input_tokens, 4);
        assert_eq!(validated.max_tokens, Some(20));
        assert_eq!(validated.echoed.instructions.as_deref(), Some("four"));
        assert!(responses(&json!({"model": "m", "stream": true, "input": []})).is_err());
        assert!(responses(&json!({"model": "m", "stream": true})).is_err());
        assert!(responses(&json!({"model": "m", "stream": true, "input": "x", "max_output_tokens": 0})).is_err());
        assert!(responses(&json!({"model": "m", "stream": true, "input": "x", "instructions": 3})).is_err());
    }

    #[test]
    fn the_prompt_is_the_last_user_message() {
        let validated = chat(json!({"model": "m", "stream": true, "messages": [
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": "first"},
            {"role": "assistant", "content": "answer"},
            {"role": "user", "content": [{"type": "text", "text": "second"}, {"type": "text", "text": "part"}]},
            {"role": "assistant", "content": null, "tool_calls": []}
        ]}))
        .expect("body is valid");
        assert_eq!(validated.prompt, "second\npart");
        let validated = responses(&json!({"model": "m", "stream": true, "input": "one two"})).expect("valid");
        assert_eq!(validated.prompt, "one two");
        let validated = responses(
            &json!({"model": "m", "stream": true, "instructions": "Be brief.", "input": [
                {"role": "user", "content": "first"},
                {"role": "assistant", "content": "answer"},
                {"role": "user", "content": [{"type": "input_text", "text": "second"}]}
            ]}),
        )
        .expect("valid");
        assert_eq!(validated.prompt, "second");
    }
}
