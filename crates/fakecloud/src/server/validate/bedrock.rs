//! Bedrock's request formats: ConverseStream, and the native bodies of
//! InvokeModelWithResponseStream (Anthropic's, checked with the Messages
//! fields from `anthropic.rs`, and Meta Llama's), with Bedrock's
//! `Malformed input request` and `validation error detected` wording.
//!
//! Bedrock Mantle speaks OpenAI's and Anthropic's formats: its checks are in
//! `openai.rs` and `anthropic.rs`.

use serde_json::{Map, Value};

use crate::wire::bedrock::InvokeFamily;

use super::{Invalid, Validated, anthropic, go_type_name};

/// The `anthropic_version` Bedrock requires in a native Anthropic body.
const BEDROCK_ANTHROPIC_VERSION: &str = "bedrock-2023-05-31";

/// Bedrock's wording for a native body that fails its schema.
fn malformed(detail: &str) -> Invalid {
    Invalid::new(format!(
        "Malformed input request: {detail}, please reformat your input and try again."
    ))
}

pub(crate) fn malformed_json() -> Invalid {
    Invalid::new("Malformed input request, please reformat your input and try again.")
}

/// Bedrock's constraint-violation wording (`1 validation error detected: …`).
fn constraint(value: &str, at: &str, constraint: &str) -> Invalid {
    Invalid::new(format!(
        "1 validation error detected: Value {value} at '{at}' failed to satisfy constraint: {constraint}"
    ))
}

const CONVERSE_STARTS_WITH_USER: &str =
    "A conversation must start with a user message. Try again with a conversation that starts with a user message.";

/// Text of Converse content blocks (`[{text}, {image}, …]`).
fn converse_texts(blocks: &[Value]) -> impl Iterator<Item = &str> {
    blocks
        .iter()
        .filter_map(|block| block.get("text").and_then(Value::as_str))
}

/// Bedrock ConverseStream.
pub(crate) fn converse(body: &Value) -> Result<Validated, Invalid> {
    let Some(body) = body.as_object() else {
        return Err(malformed_json());
    };
    let messages = match body.get("messages") {
        None | Some(Value::Null) => return Err(Invalid::new(CONVERSE_STARTS_WITH_USER)),
        Some(Value::Array(messages)) => messages,
        Some(_) => return Err(malformed_json()),
    };
    let mut texts = Vec::new();
    let mut prompt = String::new();
    for (index, message) in messages.iter().enumerate() {
        let member = index + 1;
        let role = message.get("role").and_then(Value::as_str);
        match role {
            Some("user" | "assistant") => {}
            Some(role) => {
                return Err(constraint(
                    &format!("'{role}'"),
                    &format!("messages.{member}.member.role"),
                    "Member must satisfy enum value set: [user, assistant]",
                ));
            }
            None => {
                return Err(constraint(
                    "null",
                    &format!("messages.{member}.member.role"),
                    "Member must not be null",
                ));
            }
        }
        if index == 0 && role != Some("user") {
            return Err(Invalid::new(CONVERSE_STARTS_WITH_USER));
        }
        match message.get("content") {
            Some(Value::Array(blocks)) => {
                if role == Some("user") {
                    prompt = converse_texts(blocks).collect::<Vec<_>>().join("\n");
                }
                texts.extend(converse_texts(blocks));
            }
            None | Some(Value::Null) => {
                return Err(constraint(
                    "null",
                    &format!("messages.{member}.member.content"),
                    "Member must not be null",
                ));
            }
            Some(_) => return Err(malformed_json()),
        }
    }
    if messages.is_empty() {
        return Err(Invalid::new(CONVERSE_STARTS_WITH_USER));
    }
    match body.get("system") {
        None | Some(Value::Null) => {}
        Some(Value::Array(blocks)) => texts.extend(converse_texts(blocks)),
        Some(_) => return Err(malformed_json()),
    }
    let mut max_tokens = None;
    match body.get("inferenceConfig") {
        None | Some(Value::Null) => {}
        Some(Value::Object(config)) => {
            if let Some(value) = config.get("maxTokens") {
                match value.as_i64() {
                    Some(number) if number >= 1 => max_tokens = u64::try_from(number).ok(),
                    _ => {
                        return Err(constraint(
                            &format!("'{value}'"),
                            "inferenceConfig.maxTokens",
                            "Member must have value greater than or equal to 1",
                        ));
                    }
                }
            }
            for (name, maximum) in [("temperature", 1.0), ("topP", 1.0)] {
                if let Some(value) = config.get(name) {
                    let at = format!("inferenceConfig.{name}");
                    match value.as_f64() {
                        Some(number) if number < 0.0 => {
                            return Err(constraint(
                                &format!("'{value}'"),
                                &at,
                                "Member must have value greater than or equal to 0",
                            ));
                        }
                        Some(number) if number > maximum => {
                            return Err(constraint(
                                &format!("'{value}'"),
                                &at,
                                "Member must have value less than or equal to 1",
                            ));
                        }
                        Some(_) => {}
                        None => return Err(malformed_json()),
                    }
                }
            }
        }
        Some(_) => return Err(malformed_json()),
    }
    Ok(Validated::with_usage(max_tokens, texts, prompt))
}

/// Model id prefixes of families whose native InvokeModel bodies fakecloud
/// does not speak (they have their own schemas).
const OTHER_BEDROCK_FAMILIES: &[&str] = &[
    "amazon.",
    "ai21.",
    "cohere.",
    "deepseek.",
    "mistral.",
    "openai.",
    "qwen.",
    "stability.",
    "twelvelabs.",
    "writer.",
];

/// Bedrock InvokeModelWithResponseStream: the body is the model family's
/// native request. The family comes from the model id; for ids that name
/// none (a test's `replay-model`), from the body's shape.
pub(crate) fn invoke(body: &Value, model_id: &str) -> Result<Validated, Invalid> {
    let Some(object) = body.as_object() else {
        return Err(malformed_json());
    };
    let family = if model_id.contains("anthropic.") {
        InvokeFamily::Anthropic
    } else if model_id.contains("meta.") {
        InvokeFamily::Llama
    } else if OTHER_BEDROCK_FAMILIES.iter().any(|prefix| model_id.contains(prefix)) {
        return Err(Invalid::new(format!(
            "fakecloud serves InvokeModelWithResponseStream for Anthropic and Meta models only; use converse-stream for {model_id}"
        )));
    } else if object.contains_key("anthropic_version") {
        InvokeFamily::Anthropic
    } else if object.contains_key("prompt") {
        InvokeFamily::Llama
    } else {
        return Err(Invalid::new("The provided model identifier is invalid."));
    };
    let mut validated = match family {
        InvokeFamily::Anthropic => invoke_anthropic(object)?,
        InvokeFamily::Llama => invoke_llama(object)?,
    };
    validated.invoke_family = Some(family);
    Ok(validated)
}

fn invoke_anthropic(body: &Map<String, Value>) -> Result<Validated, Invalid> {
    // The path names the model and the route streams: both keys are refused.
    for extraneous in ["model", "stream"] {
        if body.contains_key(extraneous) {
            return Err(malformed(&format!("#: extraneous key [{extraneous}] is not permitted")));
        }
    }
    match body.get("anthropic_version") {
        None => return Err(malformed("#: required key [anthropic_version] not found")),
        Some(Value::String(version)) if version == BEDROCK_ANTHROPIC_VERSION => {}
        Some(other) => {
            return Err(malformed(&format!(
                "#/anthropic_version: {other} is not a valid enum value, expected {BEDROCK_ANTHROPIC_VERSION}"
            )));
        }
    }
    anthropic::fields(body).map_err(|invalid| malformed(&invalid.message))
}

const LLAMA_KEYS: &[&str] = &["prompt", "temperature", "top_p", "max_gen_len", "images"];

fn invoke_llama(body: &Map<String, Value>) -> Result<Validated, Invalid> {
    if let Some(extraneous) = body.keys().find(|key| !LLAMA_KEYS.contains(&key.as_str())) {
        return Err(malformed(&format!("#: extraneous key [{extraneous}] is not permitted")));
    }
    let prompt = match body.get("prompt") {
        None => return Err(malformed("#: required key [prompt] not found")),
        Some(Value::String(prompt)) => prompt,
        Some(other) => {
            return Err(malformed(&format!(
                "#/prompt: expected type: String, found: {}",
                go_type_name(other)
            )));
        }
    };
    let max_tokens = match body.get("max_gen_len") {
        None => None,
        Some(value) => match value.as_u64() {
            Some(length @ 1..=2048) => Some(length),
            Some(0) => return Err(malformed("#/max_gen_len: 0 is not greater or equal to 1")),
            Some(length) => {
                return Err(malformed(&format!(
                    "#/max_gen_len: {length} is not less or equal to 2048"
                )));
            }
            None => return Err(malformed("#/max_gen_len: expected type: Integer")),
        },
    };
    for name in ["temperature", "top_p"] {
        if let Some(value) = body.get(name) {
            match value.as_f64() {
                Some(number) if (0.0..=1.0).contains(&number) => {}
                _ => {
                    return Err(malformed(&format!("#/{name}: {value} is not a number between 0 and 1")));
                }
            }
        }
    }
    // Llama's native body is one formatted prompt; it is echoed whole.
    Ok(Validated::with_usage(max_tokens, [prompt.as_str()], prompt.clone()))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn converse_checks_roles_and_limits() {
        let body = json!({"system": [{"text": "Be brief."}],
            "messages": [{"role": "user", "content": [{"text": "hello there"}]}],
            "inferenceConfig": {"maxTokens": 7, "temperature": 0.5}});
        let validated = converse(&body).expect("body is valid");
        assert_eq!((validated.input_tokens, validated.max_tokens), (4, Some(7)));
        let mut assistant_first = body.clone();
        assistant_first["messages"] = json!([{"role": "assistant", "content": [{"text": "x"}]}]);
        assert_eq!(
            converse(&assistant_first).expect_err("rejected").message,
            CONVERSE_STARTS_WITH_USER
        );
        let mut bad_role = body.clone();
        bad_role["messages"] = json!([{"role": "system", "content": [{"text": "x"}]}]);
        assert!(
            converse(&bad_role)
                .expect_err("rejected")
                .message
                .contains("'messages.1.member.role'")
        );
        let mut zero = body.clone();
        zero["inferenceConfig"]["maxTokens"] = json!(0);
        assert!(converse(&zero).is_err());
        let mut string_content = body;
        string_content["messages"] = json!([{"role": "user", "content": "hi"}]);
        assert!(converse(&string_content).is_err());
    }

    #[test]
    fn invoke_picks_the_family_and_refuses_extraneous_keys() {
        let anthropic = json!({"anthropic_version": "bedrock-2023-05-31", "max_tokens": 9,
            "messages": [{"role": "user", "content": "hi"}]});
        let validated = invoke(&anthropic, "us.anthropic.claude-3-haiku-20240307-v1:0").expect("valid");
        assert_eq!(validated.invoke_family, Some(InvokeFamily::Anthropic));
        assert_eq!(validated.max_tokens, Some(9));
        let mut streamed = anthropic.clone();
        streamed["stream"] = json!(true);
        assert_eq!(
            invoke(&streamed, "anthropic.claude-3-haiku-20240307-v1:0")
                .expect_err("rejected")
                .message,
            "Malformed input request: #: extraneous key [stream] is not permitted, please reformat your input and try again."
        );
        let mut no_version = anthropic.clone();
        no_version.as_object_mut().expect("object").remove("anthropic_version");
        assert!(invoke(&no_version, "anthropic.claude-3-haiku-20240307-v1:0").is_err());

        let llama = json!({"prompt": "one two three", "max_gen_len": 4});
        let validated = invoke(&llama, "meta.llama3-8b-instruct-v1:0").expect("valid");
        assert_eq!(validated.invoke_family, Some(InvokeFamily::Llama));
        assert_eq!((validated.input_tokens, validated.max_tokens), (3, Some(4)));
        assert!(
            invoke(
                &json!({"prompt": "x", "max_gen_len": 5000}),
                "meta.llama3-8b-instruct-v1:0"
            )
            .is_err()
        );
        assert!(invoke(&json!({"inputText": "x"}), "amazon.titan-text-express-v1").is_err());
        // An id naming no family: the body's shape decides.
        assert_eq!(
            invoke(&anthropic, "replay-model").expect("valid").invoke_family,
            Some(InvokeFamily::Anthropic)
        );
        assert!(invoke(&json!({"x": 1}), "replay-model").is_err());
    }

    #[test]
    fn the_prompt_is_the_last_user_message() {
        let body = json!({"system": [{"text": "Be brief."}], "messages": [
            {"role": "user", "content": [{"text": "first"}]},
            {"role": "assistant", "content": [{"text": "answer"}]},
            {"role": "user", "content": [{"text": "second"}, {"image": {}}, {"text": "part"}]}
        ]});
        assert_eq!(converse(&body).expect("valid").prompt, "second\npart");
        let anthropic = json!({"anthropic_version": "bedrock-2023-05-31", "max_tokens": 9,
            "messages": [{"role": "user", "content": "hi there"}]});
        assert_eq!(
            invoke(&anthropic, "anthropic.claude-3-haiku-20240307-v1:0")
                .expect("valid")
                .prompt,
            "hi there"
        );
        // Llama's native body is one formatted prompt, echoed whole.
        let llama = json!({"prompt": "<|user|>one two<|assistant|>"});
        assert_eq!(
            invoke(&llama, "meta.llama3-8b-instruct-v1:0").expect("valid").prompt,
            "<|user|>one two<|assistant|>"
        );
    }
}
