//! Providers: how to ask each cloud and how to read its answer.
//!
//! A provider is split in two, like the clouds themselves: the *protocol* (request body and
//! stream decoding: Chat Completions, Responses, Anthropic Messages, Ollama chat) and the
//! *endpoint* (URL, auth headers, which response headers carry the request id and region:
//! OpenAI, Azure, Anthropic, Ollama). Azure speaks the OpenAI protocols at its own endpoints.
//! Decoders are pure: bytes in, [`StreamEvent`]s out, so they are tested on recorded bodies.
//! Rejections are classified in [`error_from_response`] and nowhere else.

pub mod anthropic;
pub mod bedrock;
pub mod endpoint;
pub mod gemini;
pub mod ollama;
pub mod openai_chat;
pub mod openai_responses;

use reqwest::header::HeaderMap;

use crate::credentials::Secret;
use crate::error::{ErrorKind, ProviderError, Result};
use crate::event::{ResponseMeta, StreamEvent};
use crate::request::{Parameter, Parameters, Prompt};
use crate::sse::{SseDecoder, SseEvent};
use crate::target::{Api, ProviderKind, Publisher, Target};

/// What a protocol can honour. Data, not `if` chains: the runner reports every requested
/// parameter that is `false` here instead of silently dropping it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Capabilities {
    pub system_prompt: bool,
    pub temperature: bool,
    pub top_p: bool,
    pub max_output_tokens: bool,
    pub stop_sequences: bool,
    pub seed: bool,
}

impl Capabilities {
    pub fn supports(&self, parameter: Parameter) -> bool {
        match parameter {
            Parameter::SystemPrompt => self.system_prompt,
            Parameter::Temperature => self.temperature,
            Parameter::TopP => self.top_p,
            Parameter::MaxOutputTokens => self.max_output_tokens,
            Parameter::StopSequences => self.stop_sequences,
            Parameter::Seed => self.seed,
        }
    }

    /// The requested parameters this protocol cannot honour.
    pub fn unsupported(&self, prompt: &Prompt, parameters: &Parameters) -> Vec<Parameter> {
        parameters
            .requested(prompt)
            .into_iter()
            .filter(|parameter| !self.supports(*parameter))
            .collect()
    }
}

/// Handles one SSE event of a protocol; [`SseWire`] does the framing around it.
pub(crate) trait SseProtocol: Send {
    fn handle(&mut self, event: &SseEvent, out: &mut Vec<StreamEvent>);
    /// The body ended: reports the terminal event that never came, if it did not.
    fn end_of_body(&mut self, out: &mut Vec<StreamEvent>);
}

/// SSE framing (bytes to events) in front of a protocol's event handling.
pub(crate) struct SseWire<P> {
    sse: SseDecoder,
    pending: Vec<SseEvent>,
    protocol: P,
}

impl<P> SseWire<P> {
    pub fn new(protocol: P) -> Self {
        Self {
            sse: SseDecoder::new(),
            pending: Vec::new(),
            protocol,
        }
    }
}

impl<P: SseProtocol> WireDecoder for SseWire<P> {
    fn feed(&mut self, bytes: &[u8], out: &mut Vec<StreamEvent>) {
        self.sse.feed(bytes, &mut self.pending);
        for event in self.pending.drain(..) {
            self.protocol.handle(&event, out);
        }
    }

    fn finish(&mut self, out: &mut Vec<StreamEvent>) {
        self.sse.finish(&mut self.pending);
        for event in self.pending.drain(..) {
            self.protocol.handle(&event, out);
        }
        self.protocol.end_of_body(out);
    }
}

/// Where each generation parameter goes in one protocol's body: the field name, or `None` when
/// the protocol does not take it here (unsupported, or set elsewhere like Anthropic's required
/// `max_tokens`).
pub(crate) struct ParameterFields {
    pub temperature: Option<&'static str>,
    pub top_p: Option<&'static str>,
    pub max_output_tokens: Option<&'static str>,
    pub stop_sequences: Option<&'static str>,
    pub seed: Option<&'static str>,
}

/// Writes the parameters the request set into `object`, under each protocol's field names.
pub(crate) fn insert_parameters(
    object: &mut serde_json::Map<String, serde_json::Value>,
    parameters: &Parameters,
    fields: &ParameterFields,
) {
    use serde_json::json;
    let mut put = |field: Option<&'static str>, value: Option<serde_json::Value>| {
        if let (Some(field), Some(value)) = (field, value) {
            object.insert(field.into(), value);
        }
    };
    put(fields.temperature, parameters.temperature.map(|value| json!(value)));
    put(fields.top_p, parameters.top_p.map(|value| json!(value)));
    put(
        fields.max_output_tokens,
        parameters.max_output_tokens.map(|value| json!(value)),
    );
    put(
        fields.stop_sequences,
        (!parameters.stop_sequences.is_empty()).then(|| json!(parameters.stop_sequences)),
    );
    put(fields.seed, parameters.seed.map(|value| json!(value)));
}

/// The conversation as `[{role, content}]`, led by the system prompt for protocols that take it
/// as a message (Chat Completions, Ollama) rather than as a field of its own.
pub(crate) fn messages_json(prompt: &Prompt, system_as_message: bool) -> Vec<serde_json::Value> {
    let system = prompt.system.as_ref().filter(|_| system_as_message);
    system
        .map(|system| serde_json::json!({"role": "system", "content": system}))
        .into_iter()
        .chain(
            prompt
                .messages
                .iter()
                .map(|message| serde_json::json!({"role": message.role.as_str(), "content": message.content})),
        )
        .collect()
}

/// Turns a cloud's stream bytes into events. Implementations buffer partial frames.
pub trait WireDecoder: Send {
    fn feed(&mut self, bytes: &[u8], out: &mut Vec<StreamEvent>);
    /// The body ended. Emits an error if the cloud's terminal event never came.
    fn finish(&mut self, out: &mut Vec<StreamEvent>);
}

/// The wire protocol a target speaks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Protocol {
    OpenAiChat,
    OpenAiResponses,
    AnthropicMessages,
    OllamaChat,
    /// Bedrock ConverseStream (AWS event-stream framing).
    BedrockConverse,
    /// Bedrock InvokeModelWithResponseStream: event-stream `chunk`s of the model's native JSON.
    BedrockInvoke,
    /// Gemini `streamGenerateContent?alt=sse` (AI Studio and Vertex).
    GeminiGenerate,
}

impl Protocol {
    pub fn for_target(target: &Target) -> Self {
        match (target.provider, target.api()) {
            (ProviderKind::OpenAi | ProviderKind::Azure, Api::Chat) => Self::OpenAiChat,
            (ProviderKind::OpenAi | ProviderKind::Azure, Api::Responses) => Self::OpenAiResponses,
            (ProviderKind::OpenAi | ProviderKind::Azure, _) => Self::OpenAiChat,
            (ProviderKind::Anthropic, _) => Self::AnthropicMessages,
            (ProviderKind::Ollama, _) => Self::OllamaChat,
            (ProviderKind::Bedrock, Api::Invoke) => Self::BedrockInvoke,
            (ProviderKind::Bedrock, _) => Self::BedrockConverse,
            (ProviderKind::Gemini, _) => Self::GeminiGenerate,
            (ProviderKind::Vertex, _) => match target.publisher() {
                Publisher::Google => Self::GeminiGenerate,
                Publisher::Anthropic => Self::AnthropicMessages,
            },
        }
    }

    /// What this protocol can honour for `model`: Bedrock's invoke bodies differ by model family.
    pub fn capabilities_for(self, model: &str) -> Capabilities {
        match self {
            Self::BedrockInvoke => bedrock::invoke_capabilities(model),
            _ => self.capabilities(),
        }
    }

    pub fn capabilities(self) -> Capabilities {
        match self {
            Self::OpenAiChat => openai_chat::CAPABILITIES,
            Self::OpenAiResponses => openai_responses::CAPABILITIES,
            Self::AnthropicMessages => anthropic::CAPABILITIES,
            Self::OllamaChat => ollama::CAPABILITIES,
            Self::BedrockConverse => bedrock::CONVERSE_CAPABILITIES,
            Self::BedrockInvoke => bedrock::INVOKE_CAPABILITIES,
            Self::GeminiGenerate => gemini::CAPABILITIES,
        }
    }

    /// The JSON body for a streaming request. Unsupported parameters are left out here and
    /// reported by the runner via [`Capabilities::unsupported`].
    pub fn body(self, target: &Target, model: &str, prompt: &Prompt, parameters: &Parameters) -> serde_json::Value {
        match self {
            Self::OpenAiChat => openai_chat::request_body(model, prompt, parameters),
            Self::OpenAiResponses => openai_responses::request_body(model, prompt, parameters),
            Self::AnthropicMessages if target.provider == ProviderKind::Vertex => {
                anthropic::vertex_request_body(prompt, parameters)
            }
            Self::AnthropicMessages => anthropic::request_body(model, prompt, parameters),
            Self::OllamaChat => ollama::request_body(model, prompt, parameters),
            Self::BedrockConverse => bedrock::converse_request_body(prompt, parameters),
            Self::BedrockInvoke => bedrock::invoke_request_body(model, prompt, parameters),
            Self::GeminiGenerate => gemini::request_body(prompt, parameters),
        }
    }

    /// The decoder for one response. `model` is the target's model (Bedrock's invoke bodies
    /// depend on the model family).
    pub fn decoder(self, provider: ProviderKind, model: &str, meta: ResponseMeta) -> Box<dyn WireDecoder> {
        let provider = provider.as_str();
        match self {
            Self::OpenAiChat => Box::new(SseWire::new(openai_chat::ChatDecoder::new(provider, meta))),
            Self::OpenAiResponses => Box::new(SseWire::new(openai_responses::ResponsesDecoder::new(provider, meta))),
            Self::AnthropicMessages => Box::new(SseWire::new(anthropic::MessagesDecoder::new(provider, meta))),
            Self::OllamaChat => Box::new(ollama::OllamaDecoder::new(provider, meta)),
            Self::BedrockConverse => bedrock::converse_decoder(provider, meta),
            Self::BedrockInvoke => bedrock::invoke_decoder(provider, model, meta),
            Self::GeminiGenerate => Box::new(SseWire::new(gemini::GeminiDecoder::new(provider, meta))),
        }
    }
}

/// Everything needed to send one request. Header values that hold secrets are marked so they
/// never show in `Debug` output.
#[derive(Debug)]
pub struct PreparedRequest {
    pub url: String,
    pub headers: reqwest::header::HeaderMap,
    pub body: serde_json::Value,
    /// `body`, serialised once: retries resend these bytes.
    pub body_bytes: bytes::Bytes,
    pub protocol: Protocol,
    pub unsupported: Vec<Parameter>,
}

/// Builds the request for `target`.
pub fn prepare(
    target: &Target,
    prompt: &Prompt,
    parameters: &Parameters,
    key: Option<&Secret>,
) -> Result<PreparedRequest> {
    let protocol = Protocol::for_target(target);
    let endpoint = endpoint::resolve(target, protocol)?;
    let mut body = protocol.body(target, &endpoint.body_model, prompt, parameters);
    if endpoint.omit_model
        && let Some(object) = body.as_object_mut()
    {
        object.remove("model");
    }
    let headers = endpoint::headers(target, key)?;
    let body_bytes = serde_json::to_vec(&body)
        .map(bytes::Bytes::from)
        .map_err(|error| crate::error::Error::InvalidInput(format!("cannot serialise the request: {error}")))?;
    Ok(PreparedRequest {
        url: endpoint.url,
        headers,
        body,
        body_bytes,
        protocol,
        unsupported: protocol
            .capabilities_for(&endpoint.body_model)
            .unsupported(prompt, parameters),
    })
}

/// The request id and region the cloud put in its response headers.
pub fn response_meta(provider: ProviderKind, headers: &HeaderMap) -> ResponseMeta {
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|value| value.to_str().ok())
            .filter(|value| !value.is_empty())
            .map(str::to_owned)
    };
    let request_id = match provider {
        ProviderKind::OpenAi => header("x-request-id"),
        ProviderKind::Azure => header("apim-request-id").or_else(|| header("x-request-id")),
        ProviderKind::Anthropic => header("request-id"),
        ProviderKind::Bedrock => header("x-amzn-requestid"),
        ProviderKind::Gemini | ProviderKind::Vertex => header("x-goog-request-id"),
        ProviderKind::Ollama => None,
    };
    ResponseMeta {
        request_id,
        reported_model: None,
        region: header("x-ms-region"),
    }
}

/// The cloud's hint for when to retry: `retry-after-ms` (Azure, OpenAI) or `retry-after` seconds.
pub fn retry_after_ms(headers: &HeaderMap) -> Option<u64> {
    let value = |name: &str| headers.get(name).and_then(|value| value.to_str().ok());
    if let Some(milliseconds) = value("retry-after-ms").and_then(|text| text.trim().parse::<f64>().ok()) {
        return Some(milliseconds.max(0.0).round() as u64);
    }
    value("retry-after")
        .and_then(|text| text.trim().parse::<f64>().ok())
        .map(|seconds| (seconds.max(0.0) * 1000.0).round() as u64)
}

/// Classifies a non-2xx HTTP response from any cloud. Understands OpenAI/Azure
/// (`{"error":{"message","type","code"}}`), Anthropic (`{"type":"error","error":{"type","message"}}`),
/// Ollama (`{"error":"..."}`), Google's google.rpc.Status (`{"error":{"code","status","message",
/// "details"}}`, or a one-element array of it) and anything else as plain text.
pub fn error_from_response(provider: ProviderKind, status: u16, headers: &HeaderMap, body: &[u8]) -> ProviderError {
    if let Some(error) = crate::http::redirect_error(provider.as_str(), status, headers) {
        return error;
    }
    let json = match serde_json::from_slice::<serde_json::Value>(body) {
        // Google's streaming methods wrap the error in an array.
        Ok(serde_json::Value::Array(items)) => items.into_iter().next(),
        Ok(json) => Some(json),
        Err(_) => None,
    };
    let (code, message) = json.as_ref().map_or((None, None), error_fields);
    // AWS names the error in a header; Bedrock's body is only `{"message": …}`.
    let code = code.or_else(|| bedrock::error_type(headers));
    let message = message.unwrap_or_else(|| {
        let text = String::from_utf8_lossy(body);
        let text = text.trim();
        if text.is_empty() {
            "no error body".to_owned()
        } else {
            text.chars().take(500).collect()
        }
    });
    let mut error = ProviderError::from_cloud(provider.as_str(), Some(status), code, message);
    error.retry_after_ms = retry_after_ms(headers);
    if let Some(json) = &json {
        gemini::refine_rpc_status(&mut error, json);
    }
    error
}

/// Extracts (code, message) from an error payload, wherever the cloud put them. Used for HTTP
/// error bodies and for error payloads inside streams.
pub(crate) fn error_fields(json: &serde_json::Value) -> (Option<String>, Option<String>) {
    let inner = json.get("error").unwrap_or(json);
    if let Some(text) = inner.as_str() {
        return (None, Some(text.to_owned()));
    }
    let text = |value: Option<&serde_json::Value>| value.and_then(serde_json::Value::as_str).map(str::to_owned);
    let inner_code = inner
        .get("innererror")
        .and_then(|innererror| innererror.get("code"))
        .and_then(serde_json::Value::as_str);
    // A textual `code` is the most specific (`insufficient_quota`); Azure's numeric codes ("401")
    // and OpenRouter's numbers say less than the `type`, Google's less than its `status`.
    let code = text(inner.get("code"))
        .filter(|code| !code.chars().all(|character| character.is_ascii_digit()))
        .or_else(|| text(inner.get("type")))
        .or_else(|| inner_code.map(str::to_owned))
        .or_else(|| text(inner.get("status")))
        .or_else(|| {
            inner
                .get("code")
                .map(|code| code.to_string().trim_matches('"').to_owned())
        })
        .filter(|code| !code.is_empty() && code != "null");
    (code, text(inner.get("message")))
}

/// The HTTP status an error payload inside a stream carries, if any (Groq's `status_code`,
/// OpenRouter's numeric `code`).
pub(crate) fn embedded_status(json: &serde_json::Value) -> Option<u16> {
    let inner = json.get("error").unwrap_or(json);
    inner
        .get("status_code")
        .or_else(|| inner.get("code"))
        .and_then(serde_json::Value::as_u64)
        .and_then(|status| u16::try_from(status).ok())
}

/// An error payload found inside a stream (after HTTP 200).
pub(crate) fn stream_error(provider: &str, json: &serde_json::Value) -> StreamEvent {
    let (code, message) = error_fields(json);
    let status = embedded_status(json);
    let mut error = ProviderError::from_cloud(
        provider,
        None,
        code.clone(),
        message.unwrap_or_else(|| "the cloud reported an error in the stream".to_owned()),
    );
    // The status inside the payload still tells the kind when the code does not.
    if code.is_none() || error.kind == ErrorKind::Server {
        let kind = ErrorKind::from_status_and_code(status.or(Some(500)), code.as_deref());
        error.kind = kind;
        error.retryable = kind.is_retryable();
    }
    gemini::refine_rpc_status(&mut error, json);
    StreamEvent::Error(error)
}

pub(crate) fn protocol_error(provider: &str, message: String) -> StreamEvent {
    StreamEvent::Error(ProviderError::new(ErrorKind::Protocol, provider, message))
}

pub(crate) fn truncated(provider: &str, what: &str) -> StreamEvent {
    StreamEvent::Error(ProviderError::new(
        ErrorKind::Network,
        provider,
        format!("the stream ended before {what}"),
    ))
}

/// Emits `Started` exactly once: as soon as the cloud names the model it used, or before the
/// first other event if it never does.
#[derive(Debug)]
pub(crate) struct StartGate {
    pending: Option<ResponseMeta>,
}

impl StartGate {
    pub fn new(meta: ResponseMeta) -> Self {
        Self { pending: Some(meta) }
    }

    pub fn observe_model(&mut self, model: Option<&str>, out: &mut Vec<StreamEvent>) {
        if let Some(model) = model.filter(|model| !model.is_empty())
            && let Some(mut meta) = self.pending.take()
        {
            meta.reported_model = Some(model.to_owned());
            out.push(StreamEvent::Started(meta));
        }
    }

    pub fn ensure(&mut self, out: &mut Vec<StreamEvent>) {
        if let Some(meta) = self.pending.take() {
            out.push(StreamEvent::Started(meta));
        }
    }

    /// Emits a content event after `Started`, dropping empty text (clouds send empty deltas to
    /// open blocks; they are not tokens and must not start the time-to-first-token clock).
    pub fn content(&mut self, event: StreamEvent, out: &mut Vec<StreamEvent>) {
        if let StreamEvent::TextDelta { text } | StreamEvent::ReasoningDelta { text } = &event
            && text.is_empty()
        {
            return;
        }
        self.ensure(out);
        out.push(event);
    }
}

/// Reads an unsigned count from a JSON object.
pub(crate) fn count(value: &serde_json::Value, path: &[&str]) -> Option<u64> {
    let mut current = value;
    for key in path {
        current = current.get(key)?;
    }
    current.as_u64()
}
