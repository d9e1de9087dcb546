//! AWS Bedrock Runtime: ConverseStream and InvokeModelWithResponseStream.
//!
//! Both answer in AWS event-stream frames ([`crate::framing::eventstream`]). [`EventStreamWire`] reads
//! each frame's `:message-type`: `event`s go to the API's mapping, `exception` and `error`
//! frames end the stream with a classified [`ProviderError`], and corrupt frames with a protocol
//! error. ConverseStream has one event vocabulary for every model ([`converse`]).
//! InvokeModelWithResponseStream wraps each model family's native stream JSON in base64 `chunk`s
//! ([`invoke`]); Anthropic's is read by the Anthropic Messages mapping itself.
//!
//! Request bodies carry the conversation and sampling parameters only: no tools, documents or
//! guardrail configuration. Signing lives in [`crate::secrets::auth::aws`].

mod converse;
mod invoke;

use reqwest::header::HeaderMap;
use serde_json::{Map, Value, json};

use super::openai_chat::preview;
use super::{AfterEnd, Capabilities, ParameterFields, WireDecoder, anthropic, insert_parameters, protocol_error};
use crate::framing::eventstream::{EventStreamDecoder, EventStreamError, EventStreamMessage};
use crate::model::error::{ErrorKind, ProviderError};
use crate::model::event::{ResponseMeta, StreamEvent};
use crate::model::request::{Parameters, Prompt, Role};

/// Converse takes system prompts, temperature, topP, maxTokens and stop sequences for every
/// model; it has no seed.
pub const CONVERSE_CAPABILITIES: Capabilities = Capabilities {
    system_prompt: true,
    temperature: true,
    top_p: true,
    max_output_tokens: true,
    stop_sequences: true,
    seed: false,
};

/// What every model family's invoke body honours, for when the model is not known: Llama's
/// body has no stop sequences, and no family has a seed. [`invoke_capabilities`] is exact.
pub const INVOKE_CAPABILITIES: Capabilities = Capabilities {
    stop_sequences: false,
    ..CONVERSE_CAPABILITIES
};

/// The `anthropic_version` Bedrock expects in Anthropic invoke bodies.
pub const BEDROCK_ANTHROPIC_VERSION: &str = "bedrock-2023-05-31";

/// A model family, as far as the invoke body and stream are concerned.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ModelFamily {
    /// Claude: the Anthropic Messages body and stream events.
    Anthropic,
    /// Meta Llama 3 and later: a templated `prompt`, `generation` chunks.
    Llama,
    /// Amazon Titan Text: `inputText`, `outputText` chunks.
    Titan,
    /// Amazon Nova: the messages-v1 body, Converse-shaped stream events.
    Nova,
    /// Anything else (Mistral, DeepSeek, application inference profiles whose ARN hides the
    /// model): a plain `prompt` body, and the stream is recognised by its first chunk.
    Other,
}

impl ModelFamily {
    /// The family of a model id, with or without a cross-region prefix (`us.anthropic.…`), or of
    /// an ARN that names one (`…:inference-profile/eu.meta.llama3-…`).
    pub fn of(model: &str) -> Self {
        let model = model.to_ascii_lowercase();
        if model.contains("anthropic.") {
            Self::Anthropic
        } else if model.contains("meta.") {
            Self::Llama
        } else if model.contains("amazon.titan") {
            Self::Titan
        } else if model.contains("amazon.nova") {
            Self::Nova
        } else {
            Self::Other
        }
    }
}

/// What the invoke body of `model`'s family can honour.
pub fn invoke_capabilities(model: &str) -> Capabilities {
    match ModelFamily::of(model) {
        ModelFamily::Llama => INVOKE_CAPABILITIES,
        ModelFamily::Anthropic | ModelFamily::Titan | ModelFamily::Nova | ModelFamily::Other => CONVERSE_CAPABILITIES,
    }
}

/// The ConverseStream body. The model is named in the URL.
pub fn converse_request_body(prompt: &Prompt, parameters: &Parameters) -> Value {
    Value::Object(converse_shaped_body(prompt, parameters))
}

/// `{messages, system, inferenceConfig}`, shared by Converse and Nova's invoke body.
fn converse_shaped_body(prompt: &Prompt, parameters: &Parameters) -> Map<String, Value> {
    let mut body = Map::new();
    let messages = prompt
        .messages
        .iter()
        .map(|message| json!({"role": message.role.as_str(), "content": [{"text": message.content}]}))
        .collect();
    body.insert("messages".into(), Value::Array(messages));
    if let Some(system) = &prompt.system {
        body.insert("system".into(), json!([{ "text": system }]));
    }
    let mut config = Map::new();
    insert_parameters(
        &mut config,
        parameters,
        &ParameterFields {
            temperature: Some("temperature"),
            top_p: Some("topP"),
            max_output_tokens: Some("maxTokens"),
            stop_sequences: Some("stopSequences"),
            seed: None,
        },
    );
    if !config.is_empty() {
        body.insert("inferenceConfig".into(), Value::Object(config));
    }
    body
}

/// The InvokeModelWithResponseStream body: the model family's native request.
pub fn invoke_request_body(model: &str, prompt: &Prompt, parameters: &Parameters) -> Value {
    match ModelFamily::of(model) {
        ModelFamily::Anthropic => {
            let mut body = anthropic::request_body(model, prompt, parameters);
            if let Some(object) = body.as_object_mut() {
                // The URL names the model, and the invoke path itself means streaming.
                object.remove("model");
                object.remove("stream");
                object.insert("anthropic_version".into(), json!(BEDROCK_ANTHROPIC_VERSION));
            }
            body
        }
        ModelFamily::Llama => {
            let mut body = Map::new();
            body.insert("prompt".into(), json!(llama3_prompt(prompt)));
            if let Some(max) = parameters.max_output_tokens {
                body.insert("max_gen_len".into(), json!(max));
            }
            insert_sampling(&mut body, parameters, "temperature", "top_p");
            Value::Object(body)
        }
        ModelFamily::Titan => {
            let mut config = Map::new();
            if let Some(max) = parameters.max_output_tokens {
                config.insert("maxTokenCount".into(), json!(max));
            }
            insert_sampling(&mut config, parameters, "temperature", "topP");
            if !parameters.stop_sequences.is_empty() {
                config.insert("stopSequences".into(), json!(parameters.stop_sequences));
            }
            json!({
                "inputText": plain_conversation(prompt, "User", "Bot"),
                "textGenerationConfig": config,
            })
        }
        ModelFamily::Nova => {
            let mut body = converse_shaped_body(prompt, parameters);
            body.insert("schemaVersion".into(), json!("messages-v1"));
            Value::Object(body)
        }
        ModelFamily::Other => {
            let mut body = Map::new();
            body.insert("prompt".into(), json!(plain_conversation(prompt, "User", "Assistant")));
            if let Some(max) = parameters.max_output_tokens {
                body.insert("max_tokens".into(), json!(max));
            }
            insert_sampling(&mut body, parameters, "temperature", "top_p");
            if !parameters.stop_sequences.is_empty() {
                body.insert("stop".into(), json!(parameters.stop_sequences));
            }
            Value::Object(body)
        }
    }
}

fn insert_sampling(body: &mut Map<String, Value>, parameters: &Parameters, temperature: &str, top_p: &str) {
    if let Some(value) = parameters.temperature {
        body.insert(temperature.into(), json!(value));
    }
    if let Some(value) = parameters.top_p {
        body.insert(top_p.into(), json!(value));
    }
}

/// The Llama 3 chat template, ending with an open assistant turn for the model to complete.
pub fn llama3_prompt(prompt: &Prompt) -> String {
    let mut text = String::from("<|begin_of_text|>");
    let mut turn = |role: &str, content: &str| {
        text.push_str("<|start_header_id|>");
        text.push_str(role);
        text.push_str("<|end_header_id|>\n\n");
        text.push_str(content);
        text.push_str("<|eot_id|>");
    };
    if let Some(system) = &prompt.system {
        turn("system", system);
    }
    for message in &prompt.messages {
        turn(message.role.as_str(), &message.content);
    }
    text.push_str("<|start_header_id|>assistant<|end_header_id|>\n\n");
    text
}

/// A conversation as plain text for models with no chat template: a lone user message as it
/// is, otherwise the system prompt and labelled turns ending with an open assistant turn.
fn plain_conversation(prompt: &Prompt, user: &str, assistant: &str) -> String {
    if let (None, [message]) = (&prompt.system, prompt.messages.as_slice())
        && message.role == Role::User
    {
        return message.content.clone();
    }
    let mut text = prompt
        .system
        .as_ref()
        .map(|system| format!("{system}\n\n"))
        .unwrap_or_default();
    for message in &prompt.messages {
        let label = match message.role {
            Role::User => user,
            Role::Assistant => assistant,
        };
        text.push_str(&format!("{label}: {}\n", message.content));
    }
    text.push_str(assistant);
    text.push(':');
    text
}

pub fn converse_decoder(provider: &'static str, meta: ResponseMeta) -> Box<dyn WireDecoder> {
    Box::new(EventStreamWire::new(
        provider,
        converse::ConverseEvents::new(provider, meta),
    ))
}

/// `model` picks how the chunks are read (see [`ModelFamily`]).
pub fn invoke_decoder(provider: &'static str, model: &str, meta: ResponseMeta) -> Box<dyn WireDecoder> {
    Box::new(EventStreamWire::new(
        provider,
        invoke::InvokeChunks::new(provider, ModelFamily::of(model), meta),
    ))
}

/// The AWS error name in a rejection's `x-amzn-ErrorType` header
/// (`ThrottlingException:http://internal.amazon.com/coral/com.amazon.bedrock/`): Bedrock's
/// error bodies are only `{"message": …}`.
pub(crate) fn error_type(headers: &HeaderMap) -> Option<String> {
    let value = headers.get("x-amzn-errortype")?.to_str().ok()?;
    let name = value.split_once(':').map_or(value, |(name, _)| name).trim();
    (!name.is_empty()).then(|| name.to_owned())
}

/// Handles the `event` messages of one Bedrock API; [`EventStreamWire`] does the framing and
/// the exceptions around it.
trait FrameProtocol: Send {
    /// An `event` message: its `:event-type` and JSON payload.
    fn event(&mut self, event_type: &str, payload: &Value, out: &mut Vec<StreamEvent>);
    /// The stream cannot go on: report `error` (after `Started`) unless the response already ended.
    fn fail(&mut self, error: StreamEvent, out: &mut Vec<StreamEvent>);
    /// The body ended: reports the terminal event that never came, if it did not.
    fn end_of_body(&mut self, out: &mut Vec<StreamEvent>);
    /// The API's terminal event arrived, or an error ended the response.
    fn is_done(&self) -> bool;
}

/// Event-stream framing in front of a Bedrock API's event mapping.
struct EventStreamWire<P> {
    provider: &'static str,
    frames: EventStreamDecoder,
    pending: Vec<Result<EventStreamMessage, EventStreamError>>,
    protocol: P,
    /// An exception, error or corrupt frame ended the stream; nothing after it is read.
    stopped: bool,
    after_end: AfterEnd,
}

impl<P: FrameProtocol> EventStreamWire<P> {
    fn new(provider: &'static str, protocol: P) -> Self {
        Self {
            provider,
            frames: EventStreamDecoder::new(),
            pending: Vec::new(),
            protocol,
            stopped: false,
            after_end: AfterEnd::default(),
        }
    }

    fn frame(&mut self, frame: Result<EventStreamMessage, EventStreamError>, out: &mut Vec<StreamEvent>) {
        if self.stopped {
            return;
        }
        if self.protocol.is_done() {
            // A frame, or bytes that do not frame, after the end: nothing that counts.
            self.after_end.ignored(out);
            return;
        }
        let before = out.len();
        self.read_frame(frame, out);
        self.after_end.observe(&out[before..]);
    }

    fn read_frame(&mut self, frame: Result<EventStreamMessage, EventStreamError>, out: &mut Vec<StreamEvent>) {
        let message = match frame {
            Ok(message) => message,
            Err(error) => {
                let event = protocol_error(self.provider, format!("corrupt event stream: {error}"));
                return self.stop(event, out);
            }
        };
        match message.string_header(":message-type").unwrap_or("event") {
            "event" => {
                let Some(event_type) = message.string_header(":event-type") else {
                    let event = protocol_error(self.provider, "an event frame without :event-type".to_owned());
                    return self.stop(event, out);
                };
                match payload_json(&message) {
                    Ok(payload) => self.protocol.event(event_type, &payload, out),
                    Err(error) => {
                        let text = String::from_utf8_lossy(message.payload());
                        let event = protocol_error(
                            self.provider,
                            format!("undecodable {event_type} event ({error}): {}", preview(&text)),
                        );
                        self.stop(event, out);
                    }
                }
            }
            "exception" => {
                let exception_type = message.string_header(":exception-type").unwrap_or("unknownException");
                let event = exception_error(self.provider, exception_type, &message);
                self.stop(event, out);
            }
            "error" => {
                let code = message.string_header(":error-code").unwrap_or("UnknownError");
                let text = message.string_header(":error-message").unwrap_or("no message");
                let error =
                    ProviderError::from_cloud(self.provider, None, Some(code.to_owned()), format!("{code}: {text}"));
                self.stop(StreamEvent::Error(error), out);
            }
            other => {
                let event = protocol_error(self.provider, format!("unknown event-stream message type '{other}'"));
                self.stop(event, out);
            }
        }
    }

    fn stop(&mut self, error: StreamEvent, out: &mut Vec<StreamEvent>) {
        self.stopped = true;
        self.protocol.fail(error, out);
    }
}

impl<P: FrameProtocol> WireDecoder for EventStreamWire<P> {
    fn feed(&mut self, bytes: &[u8], out: &mut Vec<StreamEvent>) {
        self.frames.feed(bytes, &mut self.pending);
        let mut pending = std::mem::take(&mut self.pending);
        for frame in pending.drain(..) {
            self.frame(frame, out);
        }
        self.pending = pending;
    }

    fn finish(&mut self, out: &mut Vec<StreamEvent>) {
        if let Err(error) = self.frames.finish()
            && !self.stopped
        {
            if self.protocol.is_done() {
                self.after_end.ignored(out);
            } else {
                // Cut mid-frame: the connection ended early, the bytes themselves were fine.
                let error = ProviderError::new(ErrorKind::Network, self.provider, error.to_string());
                self.stop(StreamEvent::Error(error), out);
            }
        }
        if !self.stopped && !self.protocol.is_done() {
            self.protocol.end_of_body(out);
        }
    }

    fn is_done(&self) -> bool {
        self.stopped || self.protocol.is_done()
    }
}

/// A frame's JSON payload; an empty payload is `{}`.
fn payload_json(message: &EventStreamMessage) -> serde_json::Result<Value> {
    if message.payload().is_empty() {
        return Ok(Value::Object(Map::new()));
    }
    serde_json::from_slice(message.payload())
}

/// An `exception` frame (`throttlingException`, `modelStreamErrorException`, ...) as an error
/// that names the exception and carries the cloud's message and, for model errors, the model's.
fn exception_error(provider: &str, exception_type: &str, message: &EventStreamMessage) -> StreamEvent {
    let payload = payload_json(message).unwrap_or(Value::Null);
    let field = |name: &str| payload.get(name).and_then(Value::as_str);
    let cloud_message = field("message")
        .or_else(|| field("Message"))
        .map(str::to_owned)
        .unwrap_or_else(|| {
            let text = String::from_utf8_lossy(message.payload());
            let text = text.trim();
            if text.is_empty() {
                "no message".to_owned()
            } else {
                preview(text)
            }
        });
    let mut text = format!("{exception_type}: {cloud_message}");
    if let Some(original) = field("originalMessage") {
        match payload.get("originalStatusCode").and_then(Value::as_u64) {
            Some(status) => text.push_str(&format!(" (the model answered HTTP {status}: {original})")),
            None => text.push_str(&format!(" (the model said: {original})")),
        }
    }
    StreamEvent::Error(ProviderError::from_cloud(
        provider,
        None,
        Some(exception_type.to_owned()),
        text,
    ))
}

#[cfg(test)]
mod tests;
