//! OCI Generative AI's native `ChatDetails` (`/20231130/actions/chat`): a compartment, a
//! serving mode and a `chatRequest` in the GENERIC, COHERE or COHEREV2 format. Like the
//! service, a request without `maxTokens` is refused here rather than answered with about 20
//! tokens, and OpenAI's GPT models (but gpt-oss) take `maxCompletionTokens` only.

use serde_json::Value;

use super::{Invalid, STREAM_ONLY, Validated, content_texts};
use crate::wire::oci::OciFormat;

pub(crate) fn malformed(error: &serde_json::Error) -> Invalid {
    Invalid::new(format!("Invalid request body: {error}")).with("body", "InvalidParameter")
}

fn missing(field: &str) -> Invalid {
    Invalid::new(format!("{field} is required")).with(field, "MissingParameter")
}

/// The model a native body names: `servingMode.modelId`, or a dedicated `endpointId`.
pub(crate) fn model(body: &Value) -> String {
    let mode = &body["servingMode"];
    mode.get("modelId")
        .or_else(|| mode.get("endpointId"))
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned()
}

/// The body's format and what it asks of the stream.
pub(crate) fn chat(body: &Value) -> Result<(Validated, OciFormat), Invalid> {
    if body
        .get("compartmentId")
        .and_then(Value::as_str)
        .is_none_or(str::is_empty)
    {
        return Err(missing("compartmentId"));
    }
    let mode = &body["servingMode"];
    match mode.get("servingType").and_then(Value::as_str) {
        Some("ON_DEMAND") if mode.get("modelId").and_then(Value::as_str).is_some() => {}
        Some("DEDICATED") if mode.get("endpointId").and_then(Value::as_str).is_some() => {}
        Some("ON_DEMAND") => return Err(missing("servingMode.modelId")),
        Some("DEDICATED") => return Err(missing("servingMode.endpointId")),
        _ => return Err(missing("servingMode.servingType")),
    }
    let model = model(body);
    let Some(chat) = body.get("chatRequest").and_then(Value::as_object) else {
        return Err(missing("chatRequest"));
    };
    if chat.get("isStream") != Some(&Value::Bool(true)) {
        return Err(Invalid::new(STREAM_ONLY).with("chatRequest.isStream", "InvalidParameter"));
    }
    let openai_gpt = model.starts_with("openai.") && !model.starts_with("openai.gpt-oss");
    let max_tokens = match (chat.get("maxTokens"), chat.get("maxCompletionTokens"), openai_gpt) {
        (Some(_), _, true) => {
            return Err(Invalid::new(format!(
                "maxTokens is not supported by {model}: use maxCompletionTokens"
            ))
            .with("chatRequest.maxTokens", "InvalidParameter"));
        }
        (_, Some(limit), true) | (Some(limit), _, false) => limit.as_u64(),
        (_, None, true) => return Err(missing("chatRequest.maxCompletionTokens")),
        (None, _, false) => return Err(missing("chatRequest.maxTokens")),
    };
    let Some(max_tokens) = max_tokens.filter(|limit| *limit > 0) else {
        return Err(
            Invalid::new("maxTokens must be a positive integer").with("chatRequest.maxTokens", "InvalidParameter")
        );
    };
    let include_usage = chat
        .get("streamOptions")
        .and_then(|options| options.get("isIncludeUsage"))
        == Some(&Value::Bool(true));
    let (mut validated, format) = match chat.get("apiFormat").and_then(Value::as_str) {
        Some("GENERIC" | "COHEREV2") => (generic(chat)?, OciFormat::Generic),
        Some("COHERE") => (cohere(chat)?, OciFormat::Cohere),
        Some(other) => {
            return Err(Invalid::new(format!(
                "Unsupported apiFormat {other}: use GENERIC, COHERE or COHEREV2"
            ))
            .with("chatRequest.apiFormat", "InvalidParameter"));
        }
        None => return Err(missing("chatRequest.apiFormat")),
    };
    validated.max_tokens = Some(max_tokens);
    validated.include_usage = include_usage;
    Ok((validated, format))
}

fn generic(chat: &serde_json::Map<String, Value>) -> Result<Validated, Invalid> {
    let Some(messages) = chat
        .get("messages")
        .and_then(Value::as_array)
        .filter(|messages| !messages.is_empty())
    else {
        return Err(missing("chatRequest.messages"));
    };
    let mut texts = Vec::new();
    let mut prompt = String::new();
    for message in messages {
        let role = message.get("role").and_then(Value::as_str).unwrap_or_default();
        if !matches!(role, "SYSTEM" | "USER" | "ASSISTANT" | "TOOL" | "DEVELOPER") {
            return Err(
                Invalid::new(format!("Invalid role '{role}': use SYSTEM, USER, ASSISTANT or TOOL"))
                    .with("chatRequest.messages.role", "InvalidParameter"),
            );
        }
        let parts = content_texts(message.get("content").unwrap_or(&Value::Null));
        if role == "USER" {
            prompt = parts.join("\n");
        }
        texts.extend(parts);
    }
    Ok(Validated::with_usage(None, texts, prompt))
}

fn cohere(chat: &serde_json::Map<String, Value>) -> Result<Validated, Invalid> {
    let Some(message) = chat
        .get("message")
        .and_then(Value::as_str)
        .filter(|message| !message.is_empty())
    else {
        return Err(missing("chatRequest.message"));
    };
    let mut texts: Vec<&str> = chat
        .get("chatHistory")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|entry| entry.get("message").and_then(Value::as_str))
        .collect();
    texts.extend(chat.get("preambleOverride").and_then(Value::as_str));
    texts.push(message);
    Ok(Validated::with_usage(None, texts, message.to_owned()))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn body(model: &str, chat: Value) -> Value {
        json!({"compartmentId": "ocid1.compartment.oc1..x", "servingMode": {"servingType": "ON_DEMAND", "modelId": model}, "chatRequest": chat})
    }

    #[test]
    fn a_request_without_max_tokens_is_refused() {
        let generic = json!({"apiFormat": "GENERIC", "isStream": true, "messages": [{"role": "USER", "content": [{"type": "TEXT", "text": "hi"}]}]});
        let error = chat(&body("meta.llama-3.3-70b-instruct", generic.clone())).expect_err("no maxTokens");
        assert_eq!(error.message, "chatRequest.maxTokens is required");
        let mut capped = generic.clone();
        capped["maxTokens"] = json!(50);
        let (validated, format) = chat(&body("meta.llama-3.3-70b-instruct", capped.clone())).expect("valid");
        assert_eq!(
            (validated.max_tokens, format, validated.prompt.as_str()),
            (Some(50), OciFormat::Generic, "hi")
        );
        let error = chat(&body("openai.gpt-5.5", capped)).expect_err("gpt takes maxCompletionTokens");
        assert!(error.message.contains("use maxCompletionTokens"), "{}", error.message);
        let cohere = json!({"apiFormat": "COHERE", "isStream": true, "message": "hi", "maxTokens": 9});
        let (validated, format) = chat(&body("cohere.command-a-03-2025", cohere)).expect("valid");
        assert_eq!((validated.max_tokens, format), (Some(9), OciFormat::Cohere));
    }
}
