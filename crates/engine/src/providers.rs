//! Providers: how to ask each cloud and how to read its answer.
//!
//! A provider is split in two, like the clouds themselves: the *protocol* (request body and
//! stream decoding: Chat Completions, Responses, Anthropic Messages, Ollama chat) and the
//! *endpoint* (URL, headers, which response headers carry the request id and region:
//! OpenAI, Azure, Anthropic, Ollama). Azure speaks the OpenAI protocols at its own endpoints.
//! Credentials are no part of either: [`crate::secrets::auth`] adds them when a request is sent.
//! Decoders are pure: bytes in, [`StreamEvent`]s out, so they are tested on recorded bodies; each
//! reads its events into typed wire structs ([`wire`]) and shares its start and end bookkeeping
//! ([`Lifecycle`]). Rejections are classified in [`error_from_response`] and nowhere else.

pub mod anthropic;
pub mod bedrock;
pub mod endpoint;
pub mod gemini;
pub mod http;
pub mod oci;
pub mod ollama;
pub mod openai_chat;
pub mod openai_responses;
mod wire;

use reqwest::header::HeaderMap;
use serde::{Deserialize, Deserializer};
use serde_json::Value;

use crate::framing::sse::{SseDecoder, SseEvent};
use crate::model::error::{ErrorKind, ProviderError, Result};
use crate::model::event::{ResponseMeta, StreamEvent, Usage, WarningKind};
use crate::model::request::{Parameter, Parameters, Prompt};
use crate::model::target::{Api, ProviderKind, Publisher, Target};

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
    /// Every parameter honoured.
    pub const ALL: Self = Self {
        system_prompt: true,
        temperature: true,
        top_p: true,
        max_output_tokens: true,
        stop_sequences: true,
        seed: true,
    };

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
    /// The protocol's terminal event arrived (or an error ended the stream): see
    /// [`WireDecoder::is_done`].
    fn is_done(&self) -> bool;
}

/// SSE framing (bytes to events) in front of a protocol's event handling.
pub(crate) struct SseWire<P> {
    sse: SseDecoder,
    pending: Vec<SseEvent>,
    protocol: P,
    after_end: AfterEnd,
}

impl<P> SseWire<P> {
    pub fn new(protocol: P) -> Self {
        Self {
            sse: SseDecoder::new(),
            pending: Vec::new(),
            protocol,
            after_end: AfterEnd::default(),
        }
    }
}

impl<P: SseProtocol> SseWire<P> {
    fn dispatch(&mut self, out: &mut Vec<StreamEvent>) {
        for event in self.pending.drain(..) {
            if self.protocol.is_done() {
                // Keep-alives (comments, empty `data:`) are no content; anything else is.
                if !event.data.trim().is_empty() {
                    self.after_end.ignored(out);
                }
                continue;
            }
            let before = out.len();
            self.protocol.handle(&event, out);
            self.after_end.observe(&out[before..]);
        }
    }
}

impl<P: SseProtocol> WireDecoder for SseWire<P> {
    fn feed(&mut self, bytes: &[u8], out: &mut Vec<StreamEvent>) {
        self.sse.feed(bytes, &mut self.pending);
        self.dispatch(out);
    }

    fn finish(&mut self, out: &mut Vec<StreamEvent>) {
        self.sse.finish(&mut self.pending);
        self.dispatch(out);
        if !self.protocol.is_done() {
            self.protocol.end_of_body(out);
        }
    }

    fn is_done(&self) -> bool {
        self.protocol.is_done()
    }
}

/// What a wire does with input after its protocol's terminal event: nothing, but the first
/// time something other than a keep-alive arrives after a clean end, one warning (after an error
/// ended the stream, what follows is the error's own aftermath, like Responses' `response.failed`
/// after `error`).
#[derive(Debug, Default)]
pub(crate) struct AfterEnd {
    warned: bool,
    failed: bool,
}

impl AfterEnd {
    /// Notes whether the events a protocol just emitted ended the stream with an error.
    pub fn observe(&mut self, emitted: &[StreamEvent]) {
        if emitted.iter().any(|event| matches!(event, StreamEvent::Error(_))) {
            self.failed = true;
        }
    }

    /// Input arrived after the end and was ignored.
    pub fn ignored(&mut self, out: &mut Vec<StreamEvent>) {
        if !self.warned && !self.failed {
            self.warned = true;
            out.push(StreamEvent::Warning {
                kind: WarningKind::AfterEnd,
                message: "the stream went on after its terminal event; what followed was ignored".to_owned(),
            });
        }
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
    /// The protocol's terminal event has arrived (`[DONE]`, `message_stop`, `response.completed`
    /// and its failed and incomplete siblings, Ollama's `done` line, Bedrock's `metadata` after
    /// `messageStop` or invoke's last chunk, Gemini's chunk with a `finishReason`), or an error
    /// ended the stream: the response is whole, and nothing that follows can change it. The
    /// runner stops reading here: a server need not close the connection at once.
    fn is_done(&self) -> bool;
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
    /// OCI Generative AI's native chat (`/20231130/actions/chat`, GENERIC or COHERE).
    OciNative,
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
            // Bedrock Mantle speaks OpenAI's and Anthropic's own formats; only the endpoint
            // and auth are Bedrock's.
            (ProviderKind::Bedrock, Api::MantleResponses) => Self::OpenAiResponses,
            (ProviderKind::Bedrock, Api::MantleChat) => Self::OpenAiChat,
            (ProviderKind::Bedrock, Api::MantleMessages) => Self::AnthropicMessages,
            (ProviderKind::Bedrock, _) => Self::BedrockConverse,
            (ProviderKind::Gemini, _) => Self::GeminiGenerate,
            // OCI's OpenAI-compatible surface speaks OpenAI's own formats.
            (ProviderKind::Oci, Api::Native) => Self::OciNative,
            (ProviderKind::Oci, Api::OpenAiResponses) => Self::OpenAiResponses,
            (ProviderKind::Oci, _) => Self::OpenAiChat,
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
            Self::OciNative => oci::CAPABILITIES,
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
            Self::OciNative => oci::request_body(
                target.compartment_id.as_deref().unwrap_or_default(),
                model,
                prompt,
                parameters,
            ),
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
            Self::OciNative => Box::new(SseWire::new(oci::NativeDecoder::new(provider, meta))),
        }
    }
}

/// Everything needed to send one request, but its credential: that is applied to each attempt's
/// copy of the headers by [`crate::secrets::auth::authorize`], so a prepared request holds no
/// secret.
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
pub fn prepare(target: &Target, prompt: &Prompt, parameters: &Parameters) -> Result<PreparedRequest> {
    let protocol = Protocol::for_target(target);
    let endpoint = endpoint::resolve(target, protocol)?;
    let mut body = protocol.body(target, &endpoint.body_model, prompt, parameters);
    if endpoint.omit_model
        && let Some(object) = body.as_object_mut()
    {
        object.remove("model");
    }
    let headers = endpoint::headers(target)?;
    let body_bytes = serde_json::to_vec(&body)
        .map(bytes::Bytes::from)
        .map_err(|error| crate::model::error::Error::InvalidInput(format!("cannot serialise the request: {error}")))?;
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
        ProviderKind::Bedrock => header("x-amzn-requestid").or_else(|| header("x-request-id")),
        ProviderKind::Gemini | ProviderKind::Vertex => header("x-goog-request-id"),
        ProviderKind::Oci => header("opc-request-id"),
        ProviderKind::Ollama => None,
    };
    ResponseMeta {
        request_id,
        reported_model: None,
        region: header("x-ms-region"),
        ..ResponseMeta::default()
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
    if let Some(error) = crate::providers::http::redirect_error(provider.as_str(), status, headers) {
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
    // OCI answers 404 both for a model its region does not serve and for a compartment the
    // user may not use, and says neither.
    let message = if provider == ProviderKind::Oci && status == 404 {
        format!("{message} (OCI: is the model served in this region, and may this user use the compartment?)")
    } else {
        message
    };
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
    let inner = error_object(json);
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

/// The error object of a payload: its `error` (unless that is `null`), else the payload itself
/// (errors sent flat).
fn error_object(json: &Value) -> &Value {
    json.get("error").filter(|error| !error.is_null()).unwrap_or(json)
}

/// The HTTP status an error payload inside a stream carries, if any (Groq's `status_code`,
/// OpenRouter's numeric `code`).
pub(crate) fn embedded_status(json: &serde_json::Value) -> Option<u16> {
    let inner = error_object(json);
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
        error.reclassify(ErrorKind::from_status_and_code(status.or(Some(500)), code.as_deref()));
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

/// What every decoder shares about a response's beginning and end: `Started` exactly once (as
/// soon as the cloud names the model it used, or before the first other event if it never does),
/// and the end, reached once, by the protocol's terminal event or by an error, after `Started`.
/// What counts as the end, and what a body that stops short of it lacks, is each protocol's own.
#[derive(Debug)]
pub(crate) struct Lifecycle {
    pending: Option<ResponseMeta>,
    ended: bool,
    /// The fingerprint and tier already reported, so a chunk repeating them (OpenAI repeats
    /// both on every chunk) adds no event.
    fingerprint: Option<String>,
    tier: Option<String>,
}

impl Lifecycle {
    pub fn new(meta: ResponseMeta) -> Self {
        Self {
            pending: Some(meta),
            ended: false,
            fingerprint: None,
            tier: None,
        }
    }

    /// Notes the deployment the cloud reports (`system_fingerprint`, service tier). Before
    /// `Started` it rides in the meta; after, a changed value is sent as
    /// [`StreamEvent::Deployment`]. Call it before [`Self::observe_model`] on the same chunk.
    pub fn observe_deployment(
        &mut self,
        system_fingerprint: Option<&str>,
        service_tier: Option<&str>,
        out: &mut Vec<StreamEvent>,
    ) {
        let fresh = |value: Option<&str>, known: &Option<String>| {
            value
                .filter(|value| !value.is_empty() && known.as_deref() != Some(*value))
                .map(str::to_owned)
        };
        let fingerprint = fresh(system_fingerprint, &self.fingerprint);
        let tier = fresh(service_tier, &self.tier);
        if fingerprint.is_none() && tier.is_none() {
            return;
        }
        if fingerprint.is_some() {
            self.fingerprint.clone_from(&fingerprint);
        }
        if tier.is_some() {
            self.tier.clone_from(&tier);
        }
        match &mut self.pending {
            Some(meta) => {
                meta.system_fingerprint = self.fingerprint.clone();
                meta.service_tier = self.tier.clone();
            }
            None => out.push(StreamEvent::Deployment {
                system_fingerprint: fingerprint,
                service_tier: tier,
            }),
        }
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

    /// Ends the response with `event` (its terminal `Finished`, or an error), unless it ended.
    pub fn end(&mut self, event: StreamEvent, out: &mut Vec<StreamEvent>) {
        if !self.ended {
            self.close(out);
            out.push(event);
        }
    }

    /// Ends the response with no event of its own (the terminal event's content was emitted
    /// already, or it has none).
    pub fn close(&mut self, out: &mut Vec<StreamEvent>) {
        self.ensure(out);
        self.ended = true;
    }

    /// The body ended before the protocol's terminal event: the response was cut, and `what`
    /// names what it lacks.
    pub fn cut(&mut self, provider: &str, what: &str, out: &mut Vec<StreamEvent>) {
        self.end(truncated(provider, what), out);
    }

    /// The terminal event arrived, or an error ended the response: nothing more is read.
    pub fn is_ended(&self) -> bool {
        self.ended
    }
}

/// The largest number taken as a token count: 2^53, the largest integer every consumer holds
/// exactly (JavaScript, an `f64` price, SQLite's `REAL`). No response comes near it; a bigger
/// number is a broken or hostile server, and must reach neither a sum, a cost nor the database.
pub const MAX_PLAUSIBLE_COUNT: u64 = 1 << 53;

/// A count as a cloud wrote it: `Ok(None)` when absent or `null`, `Err` when it is there but
/// is no count (negative, fractional, above [`MAX_PLAUSIBLE_COUNT`], not a number).
fn read_count(value: &Value, path: &[&str]) -> std::result::Result<Option<u64>, ()> {
    let mut current = value;
    for key in path {
        match current.get(key) {
            Some(next) => current = next,
            None => return Ok(None),
        }
    }
    let count = match current {
        Value::Null => return Ok(None),
        Value::Number(number) => number.as_u64().or_else(|| {
            // `12.0` is a count; `1.5`, `-1` and `1e300` are not.
            number
                .as_f64()
                .filter(|float| *float >= 0.0 && float.fract() == 0.0 && *float <= MAX_PLAUSIBLE_COUNT as f64)
                .map(|float| float as u64)
        }),
        _ => None,
    };
    count.filter(|count| *count <= MAX_PLAUSIBLE_COUNT).map(Some).ok_or(())
}

/// Reads a count that is not a token count (a latency): `None` when absent or implausible.
pub(crate) fn count(value: &Value, path: &[&str]) -> Option<u64> {
    read_count(value, path).ok().flatten()
}

/// Reads the token counts of one usage object. A count that is there but is no plausible
/// number of tokens reads as unknown and is noted, so the response carries a
/// [`WarningKind::ImplausibleUsage`] warning (and no cost) while its raw usage keeps the number
/// as sent.
pub(crate) struct Counts<'a> {
    raw: &'a Value,
    implausible: Vec<String>,
}

impl<'a> Counts<'a> {
    pub fn new(raw: &'a Value) -> Self {
        Self {
            raw,
            implausible: Vec::new(),
        }
    }

    /// The count at `path`: `None` when absent, `null` or implausible.
    pub fn get(&mut self, path: &[&str]) -> Option<u64> {
        read_count(self.raw, path).unwrap_or_else(|()| {
            let mut at = self.raw;
            for key in path {
                at = &at[key];
            }
            let mut shown = at.to_string();
            if shown.len() > 40 {
                shown = format!("{}…", shown.chars().take(40).collect::<String>());
            }
            self.implausible.push(format!("{} = {shown}", path.join(".")));
            None
        })
    }

    /// The sum of the counts present, `None` when none is. A sum no response can have is
    /// implausible like a count would be (`what` names it in the warning).
    pub fn sum(&mut self, what: &str, parts: &[Option<u64>]) -> Option<u64> {
        let mut present = parts.iter().flatten().peekable();
        present.peek()?;
        let sum = present.fold(0_u64, |sum, part| sum.saturating_add(*part));
        if sum > MAX_PLAUSIBLE_COUNT {
            self.implausible.push(format!("{what} = {sum}"));
            return None;
        }
        Some(sum)
    }

    /// A usage of input and output counts alone (Ollama, Bedrock's native invoke streams), with
    /// their sum as the total when both are known.
    pub fn input_output(&mut self, input: Option<u64>, output: Option<u64>) -> Usage {
        let total = input
            .zip(output)
            .and_then(|(input, output)| self.sum("the total", &[Some(input), Some(output)]));
        Usage {
            input_tokens: input,
            output_tokens: output,
            total_tokens: total,
            ..Usage::default()
        }
    }

    /// The first of `paths` that holds a plausible count.
    pub fn first(&mut self, paths: &[&[&str]]) -> Option<u64> {
        paths.iter().find_map(|path| self.get(path))
    }

    /// The warning the implausible counts call for, if there were any.
    pub fn warning(self) -> Option<StreamEvent> {
        (!self.implausible.is_empty()).then(|| StreamEvent::Warning {
            kind: WarningKind::ImplausibleUsage,
            message: format!(
                "implausible usage: {} (no response has that many tokens, or it is no whole number); read as unknown",
                self.implausible.join(", ")
            ),
        })
    }
}

/// A usage object as read: its event, and the warning its implausible counts call for.
pub(crate) struct ReadUsage {
    pub usage: Usage,
    pub warning: Option<StreamEvent>,
}

impl ReadUsage {
    /// Reads the usage object `raw` with `read`, which fills in the counts; `raw` is kept as sent.
    pub fn read(raw: Value, read: impl FnOnce(&mut Counts<'_>) -> Usage) -> Self {
        let mut counts = Counts::new(&raw);
        let usage = read(&mut counts);
        let warning = counts.warning();
        Self {
            usage: Usage { raw, ..usage },
            warning,
        }
    }

    /// Emits the warning, if any, then the usage.
    pub fn push(self, out: &mut Vec<StreamEvent>) {
        out.extend(self.warning);
        out.push(StreamEvent::Usage(self.usage));
    }
}

/// `null` reads as the type's default, as a missing field does: OpenAI-compatible servers
/// write `"tool_calls": null` (SGLang, LiteLLM), Google writes `"thought": null`.
pub(crate) fn null_as_default<'de, D, T>(deserializer: D) -> std::result::Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Default + Deserialize<'de>,
{
    Option::<T>::deserialize(deserializer).map(Option::unwrap_or_default)
}

/// A string the cloud may send as another JSON type: a finish reason of `1` is still a finish
/// (its raw text kept), not a reason to lose the chunk; `null` is absent.
pub(crate) fn lenient_string<'de, D>(deserializer: D) -> std::result::Result<Option<String>, D::Error>
where
    D: Deserializer<'de>,
{
    Ok(match Value::deserialize(deserializer)? {
        Value::Null => None,
        Value::String(text) => Some(text),
        other => Some(other.to_string()),
    })
}

/// An array index that may be missing, `null`, negative or too large: all of those read as 0.
pub(crate) fn lenient_index<'de, D>(deserializer: D) -> std::result::Result<u32, D::Error>
where
    D: Deserializer<'de>,
{
    Ok(Value::deserialize(deserializer)?
        .as_u64()
        .and_then(|index| u32::try_from(index).ok())
        .unwrap_or(0))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::accumulate::Accumulator;

    /// A recording from the shared fixtures, decoded whole, and the meta its events fold into.
    fn decoded(protocol: Protocol, provider: ProviderKind, file: &str) -> (Vec<StreamEvent>, ResponseMeta) {
        let path = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("../../../shared/fixtures/streams")
            .join(file);
        let bytes = std::fs::read(&path).unwrap_or_else(|error| panic!("{}: {error}", path.display()));
        let mut decoder = protocol.decoder(provider, "model", ResponseMeta::default());
        let mut events = Vec::new();
        decoder.feed(&bytes, &mut events);
        decoder.finish(&mut events);
        let mut accumulator = Accumulator::new();
        for event in &events {
            accumulator.apply(event, std::time::Duration::from_millis(1));
        }
        (events, accumulator.meta)
    }

    #[test]
    fn openai_chat_reports_its_fingerprint_and_tier_as_it_starts() {
        let (events, meta) = decoded(Protocol::OpenAiChat, ProviderKind::OpenAi, "openai_chat_usage.sse");
        let Some(StreamEvent::Started(started)) = events.first() else {
            panic!("no Started first: {events:?}")
        };
        assert_eq!(started.system_fingerprint.as_deref(), Some("fp_d0469e1700"));
        assert_eq!(started.service_tier.as_deref(), Some("default"));
        // Repeated on every chunk, said once.
        assert!(
            !events
                .iter()
                .any(|event| matches!(event, StreamEvent::Deployment { .. }))
        );
        assert_eq!(meta.reported_model.as_deref(), Some("gpt-4o-mini-2024-07-18"));
    }

    #[test]
    fn azure_chat_without_a_fingerprint_reports_none() {
        let (_, meta) = decoded(
            Protocol::OpenAiChat,
            ProviderKind::Azure,
            "azure_chat_content_filter_2024.sse",
        );
        assert_eq!(meta.system_fingerprint, None);
        assert_eq!(meta.service_tier, None);
    }

    #[test]
    fn the_responses_api_tier_is_the_one_it_completed_with_not_the_requested_auto() {
        let (events, meta) = decoded(
            Protocol::OpenAiResponses,
            ProviderKind::OpenAi,
            "openai_responses_text_seq.sse",
        );
        let Some(StreamEvent::Started(started)) = events.first() else {
            panic!("no Started first: {events:?}")
        };
        assert_eq!(started.service_tier, None);
        assert!(events.iter().any(|event| matches!(
            event,
            StreamEvent::Deployment { service_tier: Some(tier), .. } if tier == "default"
        )));
        assert_eq!(meta.service_tier.as_deref(), Some("default"));
    }

    #[test]
    fn anthropic_reports_its_tier_in_the_opening_usage() {
        let (_, meta) = decoded(
            Protocol::AnthropicMessages,
            ProviderKind::Anthropic,
            "anthropic_messages_short.sse",
        );
        assert_eq!(meta.service_tier.as_deref(), Some("standard"));
        assert_eq!(meta.system_fingerprint, None);
    }
}
