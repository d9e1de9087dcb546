//! Request-body checks, with each cloud's wording, so an engine that sends a
//! malformed body fails here as it would against the real service.
//!
//! Only the fields that matter for streaming text are checked; unknown
//! fields are accepted, as the clouds accept them.

use serde_json::{Map, Value};

use crate::text::count_words;
use crate::wire::bedrock::InvokeFamily;
use crate::wire::openai_responses::EchoedRequest;

/// A rejected body: the message and, for OpenAI-style envelopes, the
/// offending parameter and error code.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Invalid {
    pub message: String,
    pub param: Option<String>,
    pub code: Option<&'static str>,
}

impl Invalid {
    pub(crate) fn new(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            param: None,
            code: None,
        }
    }

    fn with(mut self, param: impl Into<String>, code: &'static str) -> Self {
        self.param = Some(param.into());
        self.code = Some(code);
        self
    }
}

/// What a valid body asks of the stream.
#[derive(Clone, Debug, Default)]
pub(crate) struct Validated {
    /// The request's own output-token limit.
    pub max_tokens: Option<u64>,
    /// OpenAI `stream_options.include_usage`.
    pub include_usage: bool,
    /// The fake prompt token count.
    pub input_tokens: usize,
    /// Fields the Responses API echoes back.
    pub echoed: EchoedRequest,
    /// Which native body a Bedrock InvokeModel request carried.
    pub invoke_family: Option<InvokeFamily>,
}

const STREAM_ONLY: &str = "fakecloud only serves streaming requests: set \"stream\": true.";

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

/// Present and not null; OpenAI treats `null` as "not given".
fn field<'a>(body: &'a Map<String, Value>, name: &str) -> Option<&'a Value> {
    body.get(name).filter(|value| !value.is_null())
}

/// The top-level object, or OpenAI's complaint about the body.
pub(crate) fn openai_object(body: &Value) -> Result<&Map<String, Value>, Invalid> {
    body.as_object().ok_or_else(|| {
        Invalid::new(format!(
            "Invalid type for request body: expected an object, but got {} instead.",
            type_name(body)
        ))
        .with("body", "invalid_type")
    })
}

pub(crate) fn openai_malformed() -> Invalid {
    Invalid::new(
        "We could not parse the JSON body of your request. (HINT: This likely means you aren't \
         using your HTTP library correctly. The OpenAI API expects a JSON payload, but what was \
         sent was not valid JSON. If you have trouble figuring out how to fix this, please \
         contact us through our help center at help.openai.com.)",
    )
}

fn openai_model(body: &Map<String, Value>) -> Result<(), Invalid> {
    match field(body, "model") {
        Some(Value::String(model)) if !model.is_empty() => Ok(()),
        Some(Value::String(_)) | None => Err(Invalid::new("you must provide a model parameter")),
        Some(other) => Err(Invalid::new(format!(
            "Invalid type for 'model': expected a string, but got {} instead.",
            type_name(other)
        ))
        .with("model", "invalid_type")),
    }
}

fn openai_stream(body: &Map<String, Value>) -> Result<(), Invalid> {
    match body.get("stream") {
        Some(Value::Bool(true)) => Ok(()),
        Some(Value::Bool(false)) | Some(Value::Null) | None => {
            Err(Invalid::new(STREAM_ONLY).with("stream", "invalid_value"))
        }
        Some(other) => Err(Invalid::new(format!(
            "Invalid type for 'stream': expected a boolean, but got {} instead.",
            type_name(other)
        ))
        .with("stream", "invalid_type")),
    }
}

fn openai_decimal(body: &Map<String, Value>, name: &str, minimum: f64, maximum: f64) -> Result<Option<f64>, Invalid> {
    let Some(value) = field(body, name) else {
        return Ok(None);
    };
    let Some(number) = value.as_f64() else {
        return Err(Invalid::new(format!(
            "Invalid type for '{name}': expected a decimal, but got {} instead.",
            type_name(value)
        ))
        .with(name, "invalid_type"));
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

fn openai_integer(body: &Map<String, Value>, name: &str) -> Result<Option<i64>, Invalid> {
    let Some(value) = field(body, name) else {
        return Ok(None);
    };
    value.as_i64().map(Some).ok_or_else(|| {
        Invalid::new(format!(
            "Invalid type for '{name}': expected an integer, but got {} instead.",
            type_name(value)
        ))
        .with(name, "invalid_type")
    })
}

fn openai_positive(body: &Map<String, Value>, name: &str) -> Result<Option<u64>, Invalid> {
    match openai_integer(body, name)? {
        None => Ok(None),
        Some(number) if number >= 1 => Ok(u64::try_from(number).ok()),
        Some(number) => Err(Invalid::new(format!(
            "Invalid '{name}': integer below minimum value. Expected a value >= 1, but got {number} instead."
        ))
        .with(name, "integer_below_min_value")),
    }
}

/// Text of a `content` that is a string or an array of parts with `text`.
fn content_texts(content: &Value) -> Vec<&str> {
    match content {
        Value::String(text) => vec![text.as_str()],
        Value::Array(parts) => parts
            .iter()
            .filter_map(|part| part.get("text").and_then(Value::as_str))
            .collect(),
        _ => Vec::new(),
    }
}

const CHAT_ROLES: &[&str] = &["system", "developer", "user", "assistant", "tool"];

/// OpenAI and Azure Chat Completions. Azure's classic path takes the model
/// from the deployment, so `model_required` is false there.
pub(crate) fn chat_completions(body: &Value, model_required: bool) -> Result<Validated, Invalid> {
    let body = openai_object(body)?;
    if model_required {
        openai_model(body)?;
    }
    let messages = match field(body, "messages") {
        None => {
            return Err(
                Invalid::new("Missing required parameter: 'messages'.").with("messages", "missing_required_parameter")
            );
        }
        Some(Value::Array(messages)) => messages,
        Some(other) => {
            return Err(Invalid::new(format!(
                "Invalid type for 'messages': expected an array, but got {} instead.",
                type_name(other)
            ))
            .with("messages", "invalid_type"));
        }
    };
    if messages.is_empty() {
        return Err(Invalid::new(
            "Invalid 'messages': empty array. Expected an array with minimum length 1, but got an empty array instead.",
        )
        .with("messages", "empty_array"));
    }
    let mut texts = Vec::new();
    for (index, message) in messages.iter().enumerate() {
        let Some(message) = message.as_object() else {
            return Err(Invalid::new(format!(
                "Invalid type for 'messages[{index}]': expected an object, but got {} instead.",
                type_name(message)
            ))
            .with(format!("messages[{index}]"), "invalid_type"));
        };
        let role = match message.get("role") {
            Some(Value::String(role)) => role.as_str(),
            None | Some(Value::Null) => {
                return Err(
                    Invalid::new(format!("Missing required parameter: 'messages[{index}].role'."))
                        .with(format!("messages[{index}].role"), "missing_required_parameter"),
                );
            }
            Some(other) => {
                return Err(Invalid::new(format!(
                    "Invalid type for 'messages[{index}].role': expected a string, but got {} instead.",
                    type_name(other)
                ))
                .with(format!("messages[{index}].role"), "invalid_type"));
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
                texts.extend(content_texts(content));
            }
            // An assistant turn that only called tools has no content.
            None | Some(Value::Null) if role == "assistant" => {}
            None | Some(Value::Null) => {
                return Err(
                    Invalid::new(format!("Missing required parameter: 'messages[{index}].content'."))
                        .with(format!("messages[{index}].content"), "missing_required_parameter"),
                );
            }
            Some(other) => {
                return Err(Invalid::new(format!(
                    "Invalid type for 'messages[{index}].content': expected one of a string or array of objects, but got {} instead.",
                    type_name(other)
                ))
                .with(format!("messages[{index}].content"), "invalid_type"));
            }
        }
    }
    openai_stream(body)?;
    let include_usage = match field(body, "stream_options") {
        None => false,
        Some(Value::Object(options)) => match field(options, "include_usage") {
            None => false,
            Some(Value::Bool(include)) => *include,
            Some(other) => {
                return Err(Invalid::new(format!(
                    "Invalid type for 'stream_options.include_usage': expected a boolean, but got {} instead.",
                    type_name(other)
                ))
                .with("stream_options.include_usage", "invalid_type"));
            }
        },
        Some(other) => {
            return Err(Invalid::new(format!(
                "Invalid type for 'stream_options': expected an object, but got {} instead.",
                type_name(other)
            ))
            .with("stream_options", "invalid_type"));
        }
    };
    openai_decimal(body, "temperature", 0.0, 2.0)?;
    openai_decimal(body, "top_p", 0.0, 1.0)?;
    let max_tokens = openai_positive(body, "max_tokens")?;
    let max_completion_tokens = openai_positive(body, "max_completion_tokens")?;
    openai_integer(body, "seed")?;
    match field(body, "stop") {
        None | Some(Value::String(_)) => {}
        Some(Value::Array(items)) if items.iter().all(Value::is_string) => {}
        Some(other) => {
            return Err(Invalid::new(format!(
                "Invalid type for 'stop': expected one of a string or array of strings, but got {} instead.",
                type_name(other)
            ))
            .with("stop", "invalid_type"));
        }
    }
    Ok(Validated {
        // The newer name wins when both are sent.
        max_tokens: max_completion_tokens.or(max_tokens),
        include_usage,
        input_tokens: count_words(texts),
        echoed: EchoedRequest::default(),
        invoke_family: None,
    })
}

/// OpenAI and Azure v1 Responses.
pub(crate) fn responses(body: &Value) -> Result<Validated, Invalid> {
    let body = openai_object(body)?;
    openai_model(body)?;
    let mut texts = Vec::new();
    match field(body, "input") {
        None => {
            return Err(
                Invalid::new("Missing required parameter: 'input'.").with("input", "missing_required_parameter")
            );
        }
        Some(Value::String(text)) => texts.push(text.as_str()),
        Some(Value::Array(items)) if items.is_empty() => {
            return Err(Invalid::new(
                "Invalid 'input': empty array. Expected an array with minimum length 1, but got an empty array instead.",
            )
            .with("input", "empty_array"));
        }
        Some(Value::Array(items)) => {
            for (index, item) in items.iter().enumerate() {
                let Some(item) = item.as_object() else {
                    return Err(Invalid::new(format!(
                        "Invalid type for 'input[{index}]': expected an object, but got {} instead.",
                        type_name(item)
                    ))
                    .with(format!("input[{index}]"), "invalid_type"));
                };
                if let Some(content) = item.get("content") {
                    texts.extend(content_texts(content));
                }
            }
        }
        Some(other) => {
            return Err(Invalid::new(format!(
                "Invalid type for 'input': expected one of a string or array of input items, but got {} instead.",
                type_name(other)
            ))
            .with("input", "invalid_type"));
        }
    }
    let instructions = match field(body, "instructions") {
        None => None,
        Some(Value::String(text)) => {
            texts.push(text.as_str());
            Some(text.clone())
        }
        Some(other) => {
            return Err(Invalid::new(format!(
                "Invalid type for 'instructions': expected a string, but got {} instead.",
                type_name(other)
            ))
            .with("instructions", "invalid_type"));
        }
    };
    openai_stream(body)?;
    let temperature = openai_decimal(body, "temperature", 0.0, 2.0)?;
    let top_p = openai_decimal(body, "top_p", 0.0, 1.0)?;
    let max_output_tokens = openai_positive(body, "max_output_tokens")?;
    Ok(Validated {
        max_tokens: max_output_tokens,
        include_usage: true,
        input_tokens: count_words(texts),
        echoed: EchoedRequest {
            instructions,
            max_output_tokens,
            temperature,
            top_p,
        },
        invoke_family: None,
    })
}

pub(crate) fn anthropic_malformed(error: &serde_json::Error) -> Invalid {
    Invalid::new(format!(
        "There was an error parsing the body of your request as JSON: {error}"
    ))
}

/// Anthropic Messages; messages use its pydantic-style wording.
pub(crate) fn anthropic_messages(body: &Value) -> Result<Validated, Invalid> {
    let Some(body) = body.as_object() else {
        return Err(Invalid::new("Input should be a valid dictionary or object"));
    };
    match body.get("model") {
        Some(Value::String(model)) if !model.is_empty() => {}
        Some(Value::String(_)) => return Err(Invalid::new("model: String should have at least 1 character")),
        None => return Err(Invalid::new("model: Field required")),
        Some(_) => return Err(Invalid::new("model: Input should be a valid string")),
    }
    let validated = anthropic_fields(body)?;
    if body.get("stream") != Some(&Value::Bool(true)) {
        return Err(Invalid::new(STREAM_ONLY));
    }
    Ok(validated)
}

/// The Messages fields every host of Claude checks the same way (the
/// Anthropic API, Bedrock's native body, Vertex AI's).
fn anthropic_fields(body: &Map<String, Value>) -> Result<Validated, Invalid> {
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
    Ok(Validated {
        max_tokens,
        include_usage: true,
        input_tokens: count_words(texts),
        echoed: EchoedRequest::default(),
        invoke_family: None,
    })
}

/// The `anthropic_version` Vertex AI requires in the body.
pub(crate) const VERTEX_ANTHROPIC_VERSION: &str = "vertex-2023-10-16";
/// The `anthropic_version` Bedrock requires in a native Anthropic body.
pub(crate) const BEDROCK_ANTHROPIC_VERSION: &str = "bedrock-2023-05-31";

/// Claude on Vertex AI (`:streamRawPredict`): Messages without `model`
/// (the path names it), with Vertex's `anthropic_version`.
pub(crate) fn vertex_anthropic(body: &Value) -> Result<Validated, Invalid> {
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
    let validated = anthropic_fields(body)?;
    if body.get("stream") != Some(&Value::Bool(true)) {
        return Err(Invalid::new(STREAM_ONLY));
    }
    Ok(validated)
}

/// Bedrock's wording for a native body that fails its schema.
fn bedrock_malformed(detail: &str) -> Invalid {
    Invalid::new(format!(
        "Malformed input request: {detail}, please reformat your input and try again."
    ))
}

pub(crate) fn bedrock_malformed_json() -> Invalid {
    Invalid::new("Malformed input request, please reformat your input and try again.")
}

/// Bedrock's constraint-violation wording (`1 validation error detected: …`).
fn bedrock_constraint(value: &str, at: &str, constraint: &str) -> Invalid {
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
pub(crate) fn bedrock_converse(body: &Value) -> Result<Validated, Invalid> {
    let Some(body) = body.as_object() else {
        return Err(bedrock_malformed_json());
    };
    let messages = match body.get("messages") {
        None | Some(Value::Null) => return Err(Invalid::new(CONVERSE_STARTS_WITH_USER)),
        Some(Value::Array(messages)) => messages,
        Some(_) => return Err(bedrock_malformed_json()),
    };
    let mut texts = Vec::new();
    for (index, message) in messages.iter().enumerate() {
        let member = index + 1;
        let role = message.get("role").and_then(Value::as_str);
        match role {
            Some("user" | "assistant") => {}
            Some(role) => {
                return Err(bedrock_constraint(
                    &format!("'{role}'"),
                    &format!("messages.{member}.member.role"),
                    "Member must satisfy enum value set: [user, assistant]",
                ));
            }
            None => {
                return Err(bedrock_constraint(
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
            Some(Value::Array(blocks)) => texts.extend(converse_texts(blocks)),
            None | Some(Value::Null) => {
                return Err(bedrock_constraint(
                    "null",
                    &format!("messages.{member}.member.content"),
                    "Member must not be null",
                ));
            }
            Some(_) => return Err(bedrock_malformed_json()),
        }
    }
    if messages.is_empty() {
        return Err(Invalid::new(CONVERSE_STARTS_WITH_USER));
    }
    match body.get("system") {
        None | Some(Value::Null) => {}
        Some(Value::Array(blocks)) => texts.extend(converse_texts(blocks)),
        Some(_) => return Err(bedrock_malformed_json()),
    }
    let mut max_tokens = None;
    match body.get("inferenceConfig") {
        None | Some(Value::Null) => {}
        Some(Value::Object(config)) => {
            if let Some(value) = config.get("maxTokens") {
                match value.as_i64() {
                    Some(number) if number >= 1 => max_tokens = u64::try_from(number).ok(),
                    _ => {
                        return Err(bedrock_constraint(
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
                            return Err(bedrock_constraint(
                                &format!("'{value}'"),
                                &at,
                                "Member must have value greater than or equal to 0",
                            ));
                        }
                        Some(number) if number > maximum => {
                            return Err(bedrock_constraint(
                                &format!("'{value}'"),
                                &at,
                                "Member must have value less than or equal to 1",
                            ));
                        }
                        Some(_) => {}
                        None => return Err(bedrock_malformed_json()),
                    }
                }
            }
        }
        Some(_) => return Err(bedrock_malformed_json()),
    }
    Ok(Validated {
        max_tokens,
        include_usage: true,
        input_tokens: count_words(texts),
        echoed: EchoedRequest::default(),
        invoke_family: None,
    })
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
pub(crate) fn bedrock_invoke(body: &Value, model_id: &str) -> Result<Validated, Invalid> {
    let Some(object) = body.as_object() else {
        return Err(bedrock_malformed_json());
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
        InvokeFamily::Anthropic => bedrock_invoke_anthropic(object)?,
        InvokeFamily::Llama => bedrock_invoke_llama(object)?,
    };
    validated.invoke_family = Some(family);
    Ok(validated)
}

fn bedrock_invoke_anthropic(body: &Map<String, Value>) -> Result<Validated, Invalid> {
    // The path names the model and the route streams: both keys are refused.
    for extraneous in ["model", "stream"] {
        if body.contains_key(extraneous) {
            return Err(bedrock_malformed(&format!(
                "#: extraneous key [{extraneous}] is not permitted"
            )));
        }
    }
    match body.get("anthropic_version") {
        None => return Err(bedrock_malformed("#: required key [anthropic_version] not found")),
        Some(Value::String(version)) if version == BEDROCK_ANTHROPIC_VERSION => {}
        Some(other) => {
            return Err(bedrock_malformed(&format!(
                "#/anthropic_version: {other} is not a valid enum value, expected {BEDROCK_ANTHROPIC_VERSION}"
            )));
        }
    }
    anthropic_fields(body).map_err(|invalid| bedrock_malformed(&invalid.message))
}

const LLAMA_KEYS: &[&str] = &["prompt", "temperature", "top_p", "max_gen_len", "images"];

fn bedrock_invoke_llama(body: &Map<String, Value>) -> Result<Validated, Invalid> {
    if let Some(extraneous) = body.keys().find(|key| !LLAMA_KEYS.contains(&key.as_str())) {
        return Err(bedrock_malformed(&format!(
            "#: extraneous key [{extraneous}] is not permitted"
        )));
    }
    let prompt = match body.get("prompt") {
        None => return Err(bedrock_malformed("#: required key [prompt] not found")),
        Some(Value::String(prompt)) => prompt,
        Some(other) => {
            return Err(bedrock_malformed(&format!(
                "#/prompt: expected type: String, found: {}",
                go_type_name(other)
            )));
        }
    };
    let max_tokens = match body.get("max_gen_len") {
        None => None,
        Some(value) => match value.as_u64() {
            Some(length @ 1..=2048) => Some(length),
            Some(0) => return Err(bedrock_malformed("#/max_gen_len: 0 is not greater or equal to 1")),
            Some(length) => {
                return Err(bedrock_malformed(&format!(
                    "#/max_gen_len: {length} is not less or equal to 2048"
                )));
            }
            None => return Err(bedrock_malformed("#/max_gen_len: expected type: Integer")),
        },
    };
    for name in ["temperature", "top_p"] {
        if let Some(value) = body.get(name) {
            match value.as_f64() {
                Some(number) if (0.0..=1.0).contains(&number) => {}
                _ => {
                    return Err(bedrock_malformed(&format!(
                        "#/{name}: {value} is not a number between 0 and 1"
                    )));
                }
            }
        }
    }
    Ok(Validated {
        max_tokens,
        include_usage: true,
        input_tokens: count_words([prompt.as_str()]),
        echoed: EchoedRequest::default(),
        invoke_family: None,
    })
}

pub(crate) fn gemini_malformed(error: &serde_json::Error) -> Invalid {
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
pub(crate) fn gemini_generate(body: &Value) -> Result<Validated, Invalid> {
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
    for (index, content) in contents.iter().enumerate() {
        match content.get("role").and_then(Value::as_str) {
            None | Some("user" | "model" | "function") => {}
            Some(_) => return Err(Invalid::new("Please use a valid role: user, model.")),
        }
        match content.get("parts") {
            Some(Value::Array(parts)) if !parts.is_empty() => texts.extend(gemini_texts(content)),
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
    Ok(Validated {
        max_tokens,
        include_usage: true,
        input_tokens: count_words(texts),
        echoed: EchoedRequest::default(),
        invoke_family: None,
    })
}

pub(crate) fn ollama_malformed(error: &serde_json::Error) -> Invalid {
    Invalid::new(format!("invalid character in request body: {error}"))
}

/// Ollama `/api/chat`; errors read like its Go server's.
pub(crate) fn ollama_chat(body: &Value) -> Result<Validated, Invalid> {
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
    for message in messages {
        let Some(message) = message.as_object() else {
            return Err(Invalid::new(format!(
                "json: cannot unmarshal {} into Go struct field ChatRequest.messages of type api.Message",
                go_type_name(message)
            )));
        };
        if let Some(content) = message.get("content").and_then(Value::as_str) {
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
    Ok(Validated {
        max_tokens,
        include_usage: true,
        input_tokens: count_words(texts),
        echoed: EchoedRequest::default(),
        invoke_family: None,
    })
}

fn go_type_name(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "bool",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
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
    fn anthropic_requires_max_tokens_and_rejects_system_messages() {
        let base = json!({"model": "claude", "max_tokens": 5, "stream": true, "system": "Be brief.",
            "messages": [{"role": "user", "content": "hello"}]});
        assert_eq!(anthropic_messages(&base).expect("body is valid").input_tokens, 3);
        let mut missing = base.clone();
        missing.as_object_mut().expect("an object").remove("max_tokens");
        assert_eq!(
            anthropic_messages(&missing).expect_err("body is rejected").message,
            "max_tokens: Field required"
        );
        let mut system_role = base.clone();
        system_role["messages"] = json!([{"role": "system", "content": "x"}]);
        assert!(
            anthropic_messages(&system_role)
                .expect_err("body is rejected")
                .message
                .contains("system")
        );
        let mut stops = base.clone();
        stops["stop_sequences"] = json!("STOP");
        assert!(anthropic_messages(&stops).is_err());
        let mut empty = base;
        empty["messages"] = json!([]);
        assert!(anthropic_messages(&empty).is_err());
    }

    #[test]
    fn ollama_reads_num_predict() {
        let body = json!({"model": "llama3", "messages": [{"role": "user", "content": "hi"}],
            "options": {"num_predict": 3}});
        assert_eq!(ollama_chat(&body).expect("body is valid").max_tokens, Some(3));
        let unlimited = json!({"model": "llama3", "messages": [{"role": "user", "content": "hi"}],
            "options": {"num_predict": -1}});
        assert_eq!(ollama_chat(&unlimited).expect("body is valid").max_tokens, None);
        assert!(ollama_chat(&json!({"model": "llama3", "messages": []})).is_err());
        assert!(ollama_chat(&json!({"messages": [{"role": "user", "content": "hi"}]})).is_err());
        assert!(
            ollama_chat(&json!({"model": "m", "messages": [{"role": "user", "content": "hi"}], "options": 3})).is_err()
        );
    }

    #[test]
    fn vertex_anthropic_wants_its_version_and_no_model() {
        let body = json!({"anthropic_version": "vertex-2023-10-16", "max_tokens": 5, "stream": true,
            "messages": [{"role": "user", "content": "hello there"}]});
        assert_eq!(vertex_anthropic(&body).expect("body is valid").input_tokens, 2);
        let mut with_model = body.clone();
        with_model["model"] = json!("claude");
        assert!(vertex_anthropic(&with_model).is_err());
        let mut bedrock_version = body.clone();
        bedrock_version["anthropic_version"] = json!("bedrock-2023-05-31");
        assert_eq!(
            vertex_anthropic(&bedrock_version).expect_err("rejected").message,
            "anthropic_version: Input should be 'vertex-2023-10-16'"
        );
    }

    #[test]
    fn converse_checks_roles_and_limits() {
        let body = json!({"system": [{"text": "Be brief."}],
            "messages": [{"role": "user", "content": [{"text": "hello there"}]}],
            "inferenceConfig": {"maxTokens": 7, "temperature": 0.5}});
        let validated = bedrock_converse(&body).expect("body is valid");
        assert_eq!((validated.input_tokens, validated.max_tokens), (4, Some(7)));
        let mut assistant_first = body.clone();
        assistant_first["messages"] = json!([{"role": "assistant", "content": [{"text": "x"}]}]);
        assert_eq!(
            bedrock_converse(&assistant_first).expect_err("rejected").message,
            CONVERSE_STARTS_WITH_USER
        );
        let mut bad_role = body.clone();
        bad_role["messages"] = json!([{"role": "system", "content": [{"text": "x"}]}]);
        assert!(
            bedrock_converse(&bad_role)
                .expect_err("rejected")
                .message
                .contains("'messages.1.member.role'")
        );
        let mut zero = body.clone();
        zero["inferenceConfig"]["maxTokens"] = json!(0);
        assert!(bedrock_converse(&zero).is_err());
        let mut string_content = body;
        string_content["messages"] = json!([{"role": "user", "content": "hi"}]);
        assert!(bedrock_converse(&string_content).is_err());
    }

    #[test]
    fn invoke_picks_the_family_and_refuses_extraneous_keys() {
        let anthropic = json!({"anthropic_version": "bedrock-2023-05-31", "max_tokens": 9,
            "messages": [{"role": "user", "content": "hi"}]});
        let validated = bedrock_invoke(&anthropic, "us.anthropic.claude-3-haiku-20240307-v1:0").expect("valid");
        assert_eq!(validated.invoke_family, Some(InvokeFamily::Anthropic));
        assert_eq!(validated.max_tokens, Some(9));
        let mut streamed = anthropic.clone();
        streamed["stream"] = json!(true);
        assert_eq!(
            bedrock_invoke(&streamed, "anthropic.claude-3-haiku-20240307-v1:0")
                .expect_err("rejected")
                .message,
            "Malformed input request: #: extraneous key [stream] is not permitted, please reformat your input and try again."
        );
        let mut no_version = anthropic.clone();
        no_version.as_object_mut().expect("object").remove("anthropic_version");
        assert!(bedrock_invoke(&no_version, "anthropic.claude-3-haiku-20240307-v1:0").is_err());

        let llama = json!({"prompt": "one two three", "max_gen_len": 4});
        let validated = bedrock_invoke(&llama, "meta.llama3-8b-instruct-v1:0").expect("valid");
        assert_eq!(validated.invoke_family, Some(InvokeFamily::Llama));
        assert_eq!((validated.input_tokens, validated.max_tokens), (3, Some(4)));
        assert!(
            bedrock_invoke(
                &json!({"prompt": "x", "max_gen_len": 5000}),
                "meta.llama3-8b-instruct-v1:0"
            )
            .is_err()
        );
        assert!(bedrock_invoke(&json!({"inputText": "x"}), "amazon.titan-text-express-v1").is_err());
        // An id naming no family: the body's shape decides.
        assert_eq!(
            bedrock_invoke(&anthropic, "replay-model").expect("valid").invoke_family,
            Some(InvokeFamily::Anthropic)
        );
        assert!(bedrock_invoke(&json!({"x": 1}), "replay-model").is_err());
    }

    #[test]
    fn gemini_refuses_unknown_fields_and_empty_contents() {
        let body = json!({"contents": [{"role": "user", "parts": [{"text": "hello there"}]}],
            "systemInstruction": {"parts": [{"text": "Be brief."}]},
            "generationConfig": {"maxOutputTokens": 12, "temperature": 1.5}});
        let validated = gemini_generate(&body).expect("valid");
        assert_eq!((validated.input_tokens, validated.max_tokens), (4, Some(12)));
        let mut unknown = body.clone();
        unknown["messages"] = json!([]);
        assert_eq!(
            gemini_generate(&unknown).expect_err("rejected").message,
            "Invalid JSON payload received. Unknown name \"messages\": Cannot find field."
        );
        assert!(gemini_generate(&json!({"contents": []})).is_err());
        assert!(gemini_generate(&json!({"contents": [{"role": "assistant", "parts": [{"text": "x"}]}]})).is_err());
        assert!(gemini_generate(&json!({"contents": [{"role": "user", "parts": []}]})).is_err());
    }
}
