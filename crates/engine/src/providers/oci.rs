//! OCI Generative AI's native chat API (`POST /20231130/actions/chat`), streamed as SSE.
//!
//! One request shape with two bodies: `GENERIC` (Meta, xAI, OpenAI, Google models: OpenAI-like
//! messages with upper-case roles and `{type: TEXT, text}` parts) and `COHERE` (Cohere's
//! `message` + `chatHistory` + `preambleOverride`); Cohere's vision models take `COHEREV2`, which
//! is GENERIC-like and read as GENERIC here. The traps this decoder exists for:
//! - `maxTokens` is always sent: without it the service stops answers after about 20 tokens.
//!   OpenAI's models (but gpt-oss) take `maxCompletionTokens` instead.
//! - GENERIC streams `{index, message {content [{type: TEXT, text}]}}` deltas, a chunk with a
//!   lower-case `finishReason`, then `{usage {promptTokens, completionTokens, …}}`.
//! - COHERE streams `{apiFormat: COHERE, text}` deltas, then a terminal event that repeats the
//!   **whole** text with its `finishReason`: the answer is the deltas, never deltas + repeat.
//! - Events are sometimes separated by a single `\n` (see [`crate::framing::sse`]).
//!
//! The OpenAI-compatible surface (`/openai/v1/…`) is no part of this file: it speaks Chat
//! Completions and Responses, decoded by their own modules. Left out: tool calls (ModelBench
//! sends no tools), images, and the non-streaming response.

use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::openai_chat::{UsageNames, read_usage_named};
use super::wire::{List, Object, Text, read};
use super::{
    Capabilities, Lifecycle, ParameterFields, ReadUsage, SseProtocol, insert_parameters, protocol_error, stream_error,
};
use crate::framing::sse::SseEvent;
use crate::model::event::{FinishReason, ResponseMeta, StreamEvent};
use crate::model::request::{Parameters, Prompt, Role};

pub const CAPABILITIES: Capabilities = Capabilities::ALL;

/// The output cap sent when the run sets none: OCI's own default is about 20 tokens, which
/// would cut every answer. 4,000 is the largest cap every OCI chat model accepts (Cohere's).
pub const DEFAULT_MAX_TOKENS: u32 = 4000;

/// The body format the native API takes for `model`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ApiFormat {
    Generic,
    Cohere,
    /// Cohere's vision models (`cohere.command-a-vision…`): GENERIC-like messages.
    CohereV2,
}

impl ApiFormat {
    pub fn for_model(model: &str) -> Self {
        let model = model.to_ascii_lowercase();
        match model.strip_prefix("cohere.") {
            Some(rest) if rest.contains("vision") => Self::CohereV2,
            Some(_) => Self::Cohere,
            None => Self::Generic,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Generic => "GENERIC",
            Self::Cohere => "COHERE",
            Self::CohereV2 => "COHEREV2",
        }
    }
}

/// The native chat request: `model` is an on-demand model id, or a dedicated endpoint's OCID.
pub fn request_body(compartment_id: &str, model: &str, prompt: &Prompt, parameters: &Parameters) -> Value {
    let serving_mode = if model.starts_with("ocid1.") {
        json!({"servingType": "DEDICATED", "endpointId": model})
    } else {
        json!({"servingType": "ON_DEMAND", "modelId": model})
    };
    let format = ApiFormat::for_model(model);
    let mut chat = match format {
        ApiFormat::Cohere => cohere_chat(prompt),
        ApiFormat::Generic | ApiFormat::CohereV2 => generic_chat(prompt),
    };
    chat.insert("apiFormat".into(), json!(format.as_str()));
    chat.insert("isStream".into(), json!(true));
    chat.insert("streamOptions".into(), json!({"isIncludeUsage": true}));
    let max_tokens_field = if takes_max_completion_tokens(model) {
        "maxCompletionTokens"
    } else {
        "maxTokens"
    };
    insert_parameters(
        &mut chat,
        parameters,
        &ParameterFields {
            temperature: Some("temperature"),
            top_p: Some("topP"),
            max_output_tokens: None,
            stop_sequences: Some(if format == ApiFormat::Cohere {
                "stopSequences"
            } else {
                "stop"
            }),
            seed: Some("seed"),
        },
    );
    chat.insert(
        max_tokens_field.into(),
        json!(parameters.max_output_tokens.unwrap_or(DEFAULT_MAX_TOKENS)),
    );
    json!({
        "compartmentId": compartment_id,
        "servingMode": serving_mode,
        "chatRequest": chat,
    })
}

/// OpenAI's GPT models on OCI refuse `maxTokens`; gpt-oss takes it like every other model.
pub fn takes_max_completion_tokens(model: &str) -> bool {
    let model = model.to_ascii_lowercase();
    model.starts_with("openai.") && !model.starts_with("openai.gpt-oss")
}

fn text_parts(text: &str) -> Value {
    json!([{"type": "TEXT", "text": text}])
}

fn generic_chat(prompt: &Prompt) -> Map<String, Value> {
    let system = prompt
        .system
        .iter()
        .map(|system| json!({"role": "SYSTEM", "content": text_parts(system)}));
    let messages = prompt.messages.iter().map(|message| {
        let role = match message.role {
            Role::User => "USER",
            Role::Assistant => "ASSISTANT",
        };
        json!({"role": role, "content": text_parts(&message.content)})
    });
    let mut chat = Map::new();
    chat.insert("messages".into(), Value::Array(system.chain(messages).collect()));
    chat
}

/// Cohere's shape: the last user message is `message`, everything before it `chatHistory`.
fn cohere_chat(prompt: &Prompt) -> Map<String, Value> {
    let (message, history) = match prompt.messages.split_last() {
        Some((last, history)) if last.role == Role::User => (last.content.as_str(), history),
        _ => ("", &prompt.messages[..]),
    };
    let history: Vec<Value> = history
        .iter()
        .map(|message| {
            let role = match message.role {
                Role::User => "USER",
                Role::Assistant => "CHATBOT",
            };
            json!({"role": role, "message": message.content})
        })
        .collect();
    let mut chat = Map::new();
    chat.insert("message".into(), json!(message));
    if !history.is_empty() {
        chat.insert("chatHistory".into(), Value::Array(history));
    }
    if let Some(system) = &prompt.system {
        chat.insert("preambleOverride".into(), json!(system));
    }
    chat
}

/// One event of either format; every field lenient, so an odd one costs nothing.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Chunk<'a> {
    #[serde(default, borrow)]
    api_format: Text<'a>,
    /// COHERE: a delta, or on the terminal event the whole text again.
    #[serde(default, borrow)]
    text: Text<'a>,
    /// GENERIC: the delta.
    #[serde(default, borrow)]
    message: Object<GenericMessage<'a>>,
    #[serde(default)]
    finish_reason: Option<Value>,
    #[serde(default)]
    usage: Option<Value>,
    #[serde(default, borrow)]
    model_id: Text<'a>,
    /// An error sent inside the stream: `{code, message}` with no content.
    #[serde(default, borrow)]
    code: Text<'a>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct GenericMessage<'a> {
    #[serde(default, borrow)]
    content: List<Part<'a>>,
    /// Reasoning models' thinking, when the service streams it.
    #[serde(default, borrow)]
    reasoning_content: Text<'a>,
}

#[derive(Debug, Default, Deserialize)]
struct Part<'a> {
    #[serde(default, borrow, rename = "type")]
    kind: Text<'a>,
    #[serde(default, borrow)]
    text: Text<'a>,
}

/// GENERIC's finish reasons are OpenAI's; COHERE's are its own upper-case names.
pub fn finish_reason(raw: &str) -> FinishReason {
    match raw {
        "COMPLETE" | "STOP_SEQUENCE" => FinishReason::Stop,
        "MAX_TOKENS" => FinishReason::Length,
        "TOOL_CALL" => FinishReason::ToolCalls,
        "CONTENT_FILTERED" | "ERROR_TOXIC" => FinishReason::ContentFilter,
        "ERROR" | "ERROR_LIMIT" => FinishReason::Error,
        other => super::openai_chat::finish_reason(other),
    }
}

/// OpenAI's counts under camel-case names; `promptTokens` include the cached ones.
fn usage(raw: Value) -> ReadUsage {
    read_usage_named(
        raw,
        &UsageNames {
            input: &["promptTokens"],
            output: &["completionTokens"],
            reasoning: &["completionTokensDetails", "reasoningTokens"],
            cached_input: &["promptTokensDetails", "cachedTokens"],
            total: &["totalTokens"],
        },
    )
}

pub struct NativeDecoder {
    provider: &'static str,
    lifecycle: Lifecycle,
    finished: bool,
    usage_seen: bool,
    /// Text deltas emitted so far: COHERE's terminal repeat is used only when there were none.
    streamed_text: bool,
}

impl NativeDecoder {
    pub fn new(provider: &'static str, meta: ResponseMeta) -> Self {
        Self {
            provider,
            lifecycle: Lifecycle::new(meta),
            finished: false,
            usage_seen: false,
            streamed_text: false,
        }
    }

    fn text(&mut self, text: String, out: &mut Vec<StreamEvent>) {
        if !text.is_empty() {
            self.streamed_text = true;
        }
        self.lifecycle.content(StreamEvent::TextDelta { text }, out);
    }

    fn handle_event(&mut self, event: &SseEvent, out: &mut Vec<StreamEvent>) {
        if event.data.trim().is_empty() || event.data == "[DONE]" {
            return;
        }
        let chunk: Chunk = match read(&event.data) {
            Ok(chunk) => chunk.unwrap_or_default(),
            Err(error) => {
                let message = format!(
                    "undecodable chunk ({error}): {}",
                    super::openai_chat::preview(&event.data)
                );
                self.lifecycle.end(protocol_error(self.provider, message), out);
                return;
            }
        };
        let has_content = chunk.message.as_ref().is_some() || chunk.text.as_deref().is_some();
        if chunk.code.as_deref().is_some() && !has_content && chunk.usage.is_none() {
            let json: Value = serde_json::from_str(&event.data).unwrap_or(Value::Null);
            self.lifecycle.end(stream_error(self.provider, &json), out);
            return;
        }
        self.lifecycle.observe_model(chunk.model_id.as_deref(), out);
        let raw_reason = chunk
            .finish_reason
            .filter(|reason| !reason.is_null())
            .map(|reason| match reason {
                Value::String(text) => text,
                other => other.to_string(),
            });
        if let Some(message) = chunk.message.0 {
            if let Some(reasoning) = message.reasoning_content.into_owned() {
                self.lifecycle
                    .content(StreamEvent::ReasoningDelta { text: reasoning }, out);
            }
            for part in message.content.0.unwrap_or_default() {
                if part
                    .kind
                    .as_deref()
                    .is_none_or(|kind| kind.eq_ignore_ascii_case("TEXT"))
                    && let Some(text) = part.text.into_owned()
                {
                    self.text(text, out);
                }
            }
        } else if let Some(text) = chunk.text.into_owned() {
            let cohere = chunk.api_format.as_deref() == Some("COHERE");
            // COHERE's terminal event repeats the whole answer: the deltas already said it.
            let repeat = cohere && raw_reason.is_some();
            if !repeat || !self.streamed_text {
                self.text(text, out);
            }
        }
        if let Some(raw) = raw_reason {
            self.lifecycle.ensure(out);
            self.finished = true;
            out.push(StreamEvent::Finished {
                reason: finish_reason(&raw),
                raw_reason: Some(raw),
            });
        }
        if let Some(raw) = chunk.usage.filter(Value::is_object) {
            self.lifecycle.ensure(out);
            self.usage_seen = true;
            usage(raw).push(out);
        }
        if self.finished && self.usage_seen {
            self.lifecycle.close(out);
        }
    }
}

impl SseProtocol for NativeDecoder {
    fn handle(&mut self, event: &SseEvent, out: &mut Vec<StreamEvent>) {
        self.handle_event(event, out);
    }

    /// The finish reason is the answer's end; the usage chunk that follows it is asked for
    /// always but is no part of the answer, so a body that ends without it is whole.
    fn end_of_body(&mut self, out: &mut Vec<StreamEvent>) {
        if self.finished {
            self.lifecycle.close(out);
        } else {
            self.lifecycle.cut(self.provider, "a finish reason", out);
        }
    }

    fn is_done(&self) -> bool {
        self.lifecycle.is_ended()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::request::Message;

    #[test]
    fn bodies_always_cap_the_answer_and_use_each_formats_names() {
        let prompt = Prompt {
            system: Some("Be brief.".into()),
            messages: vec![
                Message {
                    role: Role::User,
                    content: "hi".into(),
                },
                Message {
                    role: Role::Assistant,
                    content: "hello".into(),
                },
                Message {
                    role: Role::User,
                    content: "again".into(),
                },
            ],
        };
        let parameters = Parameters::default();
        let generic = request_body(
            "ocid1.compartment.oc1..x",
            "meta.llama-3.3-70b-instruct",
            &prompt,
            &parameters,
        );
        assert_eq!(
            generic["servingMode"],
            json!({"servingType": "ON_DEMAND", "modelId": "meta.llama-3.3-70b-instruct"})
        );
        assert_eq!(generic["chatRequest"]["apiFormat"], "GENERIC");
        assert_eq!(generic["chatRequest"]["maxTokens"], DEFAULT_MAX_TOKENS);
        assert_eq!(
            generic["chatRequest"]["messages"][0],
            json!({"role": "SYSTEM", "content": [{"type": "TEXT", "text": "Be brief."}]})
        );
        assert_eq!(generic["chatRequest"]["messages"][2]["role"], "ASSISTANT");
        assert_eq!(generic["chatRequest"]["streamOptions"], json!({"isIncludeUsage": true}));
        let gpt = request_body(
            "c",
            "openai.gpt-5.5",
            &prompt,
            &Parameters {
                max_output_tokens: Some(99),
                ..Parameters::default()
            },
        );
        assert_eq!(gpt["chatRequest"]["maxCompletionTokens"], 99);
        assert!(gpt["chatRequest"].get("maxTokens").is_none());
        let oss = request_body("c", "openai.gpt-oss-120b", &prompt, &parameters);
        assert_eq!(oss["chatRequest"]["maxTokens"], DEFAULT_MAX_TOKENS);
        let cohere = request_body("c", "cohere.command-a-03-2025", &prompt, &parameters);
        assert_eq!(cohere["chatRequest"]["apiFormat"], "COHERE");
        assert_eq!(cohere["chatRequest"]["message"], "again");
        assert_eq!(cohere["chatRequest"]["preambleOverride"], "Be brief.");
        assert_eq!(
            cohere["chatRequest"]["chatHistory"],
            json!([{"role": "USER", "message": "hi"}, {"role": "CHATBOT", "message": "hello"}])
        );
        assert_eq!(cohere["chatRequest"]["maxTokens"], DEFAULT_MAX_TOKENS);
        let vision = request_body("c", "cohere.command-a-vision-07-2025", &prompt, &parameters);
        assert_eq!(vision["chatRequest"]["apiFormat"], "COHEREV2");
        let dedicated = request_body(
            "c",
            "ocid1.generativeaiendpoint.oc1.us-chicago-1.x",
            &prompt,
            &parameters,
        );
        assert_eq!(dedicated["servingMode"]["servingType"], "DEDICATED");
    }
}
