//! Request-body checks, with each cloud's wording, so an engine that sends a
//! malformed body fails here as it would against the real service.
//!
//! One module per request format, each serving every cloud that accepts it:
//! `openai` (Chat Completions and Responses, on OpenAI, Azure and Bedrock
//! Mantle), `anthropic` (Messages, on Anthropic, Mantle and Vertex AI),
//! `bedrock` (Converse, and InvokeModel's native bodies), `gemini`
//! (generateContent, on the Gemini API and Vertex AI), `oci` (OCI Generative
//! AI's native chat) and `ollama`. This file
//! holds what they share: the rejection, what a valid body asks of the
//! stream, and reading text out of a body.
//!
//! Only the fields that matter for streaming text are checked; unknown
//! fields are accepted wherever the cloud accepts them.

use serde_json::Value;

use crate::text::count_words;
use crate::wire::bedrock::InvokeFamily;
use crate::wire::openai_responses::EchoedRequest;

pub(crate) mod anthropic;
pub(crate) mod bedrock;
pub(crate) mod gemini;
pub(crate) mod oci;
pub(crate) mod ollama;
pub(crate) mod openai;

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
    /// The last user message's text (its parts joined by newlines), which `answer=echo`
    /// repeats; empty if there is none.
    pub prompt: String,
    /// Fields the Responses API echoes back.
    pub echoed: EchoedRequest,
    /// Which native body a Bedrock InvokeModel request carried.
    pub invoke_family: Option<InvokeFamily>,
    /// Which body an OCI native chat request carried.
    pub oci_format: Option<crate::wire::oci::OciFormat>,
}

impl Validated {
    /// A body asking for at most `max_tokens` after a prompt of `texts`
    /// whose last user message is `prompt`, with usage reported: every
    /// format but Chat Completions always reports it (there,
    /// `stream_options.include_usage` asks for it).
    fn with_usage<'a>(max_tokens: Option<u64>, texts: impl IntoIterator<Item = &'a str>, prompt: String) -> Self {
        Self {
            max_tokens,
            include_usage: true,
            input_tokens: count_words(texts),
            prompt,
            echoed: EchoedRequest::default(),
            invoke_family: None,
            oci_format: None,
        }
    }
}

const STREAM_ONLY: &str = "fakecloud only serves streaming requests: set \"stream\": true.";

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

/// A JSON value's type in the short words Go's, Bedrock's and Google's
/// errors use (`bool`, `number`, `object`).
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
