//! Anthropic Messages streaming.
//!
//! Input tokens come from `message_start`, output tokens from the last `message_delta` (its
//! count is cumulative; newer streams repeat the input counts there too, which then win).
//! Content blocks are indexed: text, thinking and tool_use blocks each map to their own event.
//! The response is whole at `message_stop`; a body that ends before it was cut, even after the
//! stop reason (Bedrock's metered counts ride on `message_stop`).

use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::openai_chat::preview;
use super::wire::{self, Count, Object, Text};
use super::{
    Capabilities, Counts, Lifecycle, ParameterFields, ReadUsage, SseProtocol, insert_parameters, messages_json,
    protocol_error, stream_error,
};
use crate::framing::sse::SseEvent;
use crate::model::event::{FinishReason, ResponseMeta, StreamEvent, Usage};
use crate::model::request::{Parameters, Prompt};

/// Messages has no seed.
pub const CAPABILITIES: Capabilities = Capabilities {
    system_prompt: true,
    temperature: true,
    top_p: true,
    max_output_tokens: true,
    stop_sequences: true,
    seed: false,
};

/// `max_tokens` is required by the API; this is sent when the run sets none.
pub const DEFAULT_MAX_TOKENS: u32 = 4096;

pub fn request_body(model: &str, prompt: &Prompt, parameters: &Parameters) -> Value {
    let messages = messages_json(prompt, false);
    let mut body = json!({
        "model": model,
        "max_tokens": parameters.max_output_tokens.unwrap_or(DEFAULT_MAX_TOKENS),
        "messages": messages,
        "stream": true,
    });
    let object = body.as_object_mut().expect("a JSON object literal");
    if let Some(system) = &prompt.system {
        object.insert("system".into(), json!(system));
    }
    // `max_tokens` is required and set above; Anthropic has no seed.
    insert_parameters(
        object,
        parameters,
        &ParameterFields {
            temperature: Some("temperature"),
            top_p: Some("top_p"),
            max_output_tokens: None,
            stop_sequences: Some("stop_sequences"),
            seed: None,
        },
    );
    body
}

/// The `anthropic_version` Vertex's `streamRawPredict` expects in the body.
pub const VERTEX_ANTHROPIC_VERSION: &str = "vertex-2023-10-16";

/// Anthropic Messages on Vertex: the model is named in the URL, the version in the body.
pub fn vertex_request_body(prompt: &Prompt, parameters: &Parameters) -> Value {
    let mut body = request_body("", prompt, parameters);
    if let Some(object) = body.as_object_mut() {
        object.remove("model");
        object.insert("anthropic_version".into(), json!(VERTEX_ANTHROPIC_VERSION));
    }
    body
}

pub fn finish_reason(raw: &str) -> FinishReason {
    match raw {
        "end_turn" | "stop_sequence" => FinishReason::Stop,
        "max_tokens" => FinishReason::Length,
        "tool_use" => FinishReason::ToolCalls,
        "refusal" => FinishReason::Refusal,
        // The server paused a long turn (server tools): unfinished, to be continued by the caller.
        "pause_turn" => FinishReason::PauseTurn,
        _ => FinishReason::Other,
    }
}

/// The counts in the usage merged so far, carrying `raw`. `message_start`'s `output_tokens` is a
/// placeholder (1) until `message_delta` says more, so it is left out there.
fn usage(merged: &Value, with_output: bool, raw: Value) -> ReadUsage {
    let mut counts = Counts::new(merged);
    let input = counts.get(&["input_tokens"]);
    let output = with_output.then(|| counts.get(&["output_tokens"])).flatten();
    let cache_read = counts.get(&["cache_read_input_tokens"]);
    let cache_creation = counts.get(&["cache_creation_input_tokens"]);
    let total = counts.sum("the total", &[input, output, cache_read, cache_creation]);
    ReadUsage {
        usage: Usage {
            input_tokens: input,
            output_tokens: output,
            cached_input_tokens: cache_read,
            cache_creation_input_tokens: cache_creation,
            total_tokens: total,
            raw,
            ..Usage::default()
        },
        warning: counts.warning(),
    }
}

/// Every usage key reported so far, with its latest value: `message_start`'s counts, then each
/// `message_delta`'s. Each usage event carries the merged object as its raw usage while that
/// stays within a constant factor of the usage bytes received; past that (a stream whose usage
/// keys keep changing) it carries the event's own object, so time, memory and the events stored
/// stay linear in the stream.
#[derive(Debug)]
struct MergedUsage {
    /// Always an object.
    merged: Value,
    /// The merged object's size as JSON, kept up to date as keys change.
    merged_bytes: usize,
    /// Bytes of usage objects received, and of raw usage emitted.
    received_bytes: usize,
    emitted_bytes: usize,
}

/// What the merged raw usage may cost beyond twice what came in.
const MERGED_USAGE_SLACK_BYTES: usize = 4 << 10;

impl Default for MergedUsage {
    fn default() -> Self {
        Self {
            merged: Value::Object(Map::new()),
            merged_bytes: 0,
            received_bytes: 0,
            emitted_bytes: 0,
        }
    }
}

impl MergedUsage {
    /// Merges `usage` (an event's own object; `null` values are skipped when `skip_nulls`) and
    /// returns the raw object its usage event carries: the merged one (without `leave_out`), or
    /// the event's own once the merged one would cost too much.
    fn merge(&mut self, usage: &Map<String, Value>, skip_nulls: bool, leave_out: Option<&str>) -> Value {
        let own_bytes = usage
            .iter()
            .map(|(key, value)| entry_len(key, value))
            .fold(2, usize::saturating_add);
        self.received_bytes = self.received_bytes.saturating_add(own_bytes);
        let Value::Object(merged) = &mut self.merged else {
            return Value::Object(usage.clone());
        };
        for (key, value) in usage {
            if skip_nulls && value.is_null() {
                continue;
            }
            if let Some(old) = merged.insert(key.clone(), value.clone()) {
                self.merged_bytes = self.merged_bytes.saturating_sub(entry_len(key, &old));
            }
            self.merged_bytes = self.merged_bytes.saturating_add(entry_len(key, value));
        }
        let budget = self
            .received_bytes
            .saturating_mul(2)
            .saturating_add(MERGED_USAGE_SLACK_BYTES);
        let mut raw = if self.emitted_bytes.saturating_add(self.merged_bytes) <= budget {
            self.emitted_bytes = self.emitted_bytes.saturating_add(self.merged_bytes);
            merged.clone()
        } else {
            self.emitted_bytes = self.emitted_bytes.saturating_add(own_bytes);
            usage.clone()
        };
        if let Some(key) = leave_out {
            raw.remove(key);
        }
        Value::Object(raw)
    }
}

/// How long `"key":value,` is as compact JSON (near enough: key escapes are not counted).
fn entry_len(key: &str, value: &Value) -> usize {
    key.len().saturating_add(json_len(value)).saturating_add(4)
}

/// How long `value` is as compact JSON, without keeping the text.
fn json_len(value: &Value) -> usize {
    struct Counter(usize);
    impl std::io::Write for Counter {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.0 += bytes.len();
            Ok(bytes.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let mut counter = Counter(0);
    // Writing a Value to a counter cannot fail.
    let _ = serde_json::to_writer(&mut counter, value);
    counter.0
}

/// One Messages stream event, as far as it is read: the fields of every event type in one
/// struct, matched on `type` (an unknown type, like `ping`, is skipped). Every field is lenient
/// ([`super::wire`]): a field of another JSON type reads as absent, as it did when events were
/// walked as `Value`s.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct WireEvent<'a> {
    #[serde(rename = "type", borrow)]
    kind: Text<'a>,
    index: Count,
    #[serde(borrow)]
    message: Object<MessageStart<'a>>,
    #[serde(borrow)]
    content_block: Object<ContentBlock<'a>>,
    #[serde(borrow)]
    delta: Object<Delta<'a>>,
    usage: Object<Map<String, Value>>,
}

/// `message_start`'s `message`.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct MessageStart<'a> {
    #[serde(borrow)]
    model: Text<'a>,
    usage: Object<Map<String, Value>>,
}

/// `content_block_start`'s `content_block`: `text`, `thinking`, `tool_use`, `server_tool_use`.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct ContentBlock<'a> {
    #[serde(rename = "type", borrow)]
    kind: Text<'a>,
    #[serde(borrow)]
    id: Text<'a>,
    #[serde(borrow)]
    name: Text<'a>,
    #[serde(borrow)]
    text: Text<'a>,
    #[serde(borrow)]
    thinking: Text<'a>,
}

/// `content_block_delta`'s and `message_delta`'s `delta`.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct Delta<'a> {
    #[serde(rename = "type", borrow)]
    kind: Text<'a>,
    #[serde(borrow)]
    text: Text<'a>,
    #[serde(borrow)]
    thinking: Text<'a>,
    #[serde(borrow)]
    partial_json: Text<'a>,
    #[serde(borrow)]
    stop_reason: Text<'a>,
}

pub struct MessagesDecoder {
    provider: &'static str,
    lifecycle: Lifecycle,
    usage: MergedUsage,
    finished: bool,
}

impl MessagesDecoder {
    pub fn new(provider: &'static str, meta: ResponseMeta) -> Self {
        Self {
            provider,
            lifecycle: Lifecycle::new(meta),
            usage: MergedUsage::default(),
            finished: false,
        }
    }

    fn handle_event(&mut self, event: &SseEvent, out: &mut Vec<StreamEvent>) {
        if self.lifecycle.is_ended() {
            return;
        }
        match wire::read::<WireEvent<'_>>(&event.data) {
            Ok(wire) => {
                let error_payload = || serde_json::from_str(&event.data).unwrap_or(Value::Null);
                self.handle_wire(wire.unwrap_or_default(), event.event.as_deref(), error_payload, out);
            }
            Err(error) => {
                let message = format!("undecodable event ({error}): {}", preview(&event.data));
                self.lifecycle.end(protocol_error(self.provider, message), out);
            }
        }
    }

    /// Handles one Messages stream event already parsed from its framing: SSE here, Bedrock's
    /// event-stream `chunk`s in [`super::bedrock`]. `event_name` is the framing's name for it,
    /// used when the JSON has no `type`.
    pub(crate) fn handle_json(&mut self, json: &Value, event_name: Option<&str>, out: &mut Vec<StreamEvent>) {
        if self.lifecycle.is_ended() {
            return;
        }
        // Every field is lenient, so reading a Value as the event cannot fail.
        let wire = Object::<WireEvent<'_>>::deserialize(json).unwrap_or_default();
        self.handle_wire(wire.0.unwrap_or_default(), event_name, || json.clone(), out);
    }

    /// `error_payload` is the whole event as JSON, wanted only for an `error` event.
    fn handle_wire(
        &mut self,
        wire: WireEvent<'_>,
        event_name: Option<&str>,
        error_payload: impl FnOnce() -> Value,
        out: &mut Vec<StreamEvent>,
    ) {
        let kind = wire.kind.as_deref().or(event_name).unwrap_or_default();
        let index = wire.index.0.and_then(|index| u32::try_from(index).ok()).unwrap_or(0);
        match kind {
            "message_start" => {
                let message = wire.message.0.unwrap_or_default();
                let tier = message
                    .usage
                    .0
                    .as_ref()
                    .and_then(|usage| usage.get("service_tier"))
                    .and_then(Value::as_str);
                self.lifecycle.observe_deployment(None, tier, out);
                self.lifecycle.observe_model(message.model.as_deref(), out);
                if let Some(usage) = &message.usage.0 {
                    // Input tokens are known now; a stream that breaks later still reports them.
                    // Its `output_tokens` is a placeholder (1) until message_delta says more.
                    let raw = self.usage.merge(usage, false, Some("output_tokens"));
                    self.lifecycle.ensure(out);
                    self::usage(&self.usage.merged, false, raw).push(out);
                }
            }
            "content_block_start" => {
                let block = wire.content_block.0.unwrap_or_default();
                match block.kind.as_deref() {
                    Some("tool_use" | "server_tool_use") => self.lifecycle.content(
                        StreamEvent::ToolCallDelta {
                            index,
                            id: block.id.into_owned(),
                            name: block.name.into_owned(),
                            arguments: String::new(),
                        },
                        out,
                    ),
                    Some("text") => self.lifecycle.content(
                        StreamEvent::TextDelta {
                            text: block.text.into_owned().unwrap_or_default(),
                        },
                        out,
                    ),
                    Some("thinking") => self.lifecycle.content(
                        StreamEvent::ReasoningDelta {
                            text: block.thinking.into_owned().unwrap_or_default(),
                        },
                        out,
                    ),
                    _ => {}
                }
            }
            "content_block_delta" => {
                let delta = wire.delta.0.unwrap_or_default();
                let field = |text: Text<'_>| text.into_owned().unwrap_or_default();
                match delta.kind.as_deref() {
                    Some("text_delta") => self.lifecycle.content(
                        StreamEvent::TextDelta {
                            text: field(delta.text),
                        },
                        out,
                    ),
                    Some("thinking_delta") => self.lifecycle.content(
                        StreamEvent::ReasoningDelta {
                            text: field(delta.thinking),
                        },
                        out,
                    ),
                    Some("input_json_delta") => self.lifecycle.content(
                        StreamEvent::ToolCallDelta {
                            index,
                            id: None,
                            name: None,
                            arguments: field(delta.partial_json),
                        },
                        out,
                    ),
                    _ => {}
                }
            }
            "message_delta" => {
                self.lifecycle.ensure(out);
                if let Some(usage) = &wire.usage.0 {
                    let raw = self.usage.merge(usage, true, None);
                    self::usage(&self.usage.merged, true, raw).push(out);
                }
                if let Some(raw) = wire.delta.0.and_then(|delta| delta.stop_reason.into_owned()) {
                    self.finished = true;
                    out.push(StreamEvent::Finished {
                        reason: finish_reason(&raw),
                        raw_reason: Some(raw),
                    });
                }
            }
            "message_stop" => {
                self.lifecycle.close(out);
                if !self.finished {
                    out.push(StreamEvent::Finished {
                        reason: FinishReason::Other,
                        raw_reason: None,
                    });
                }
            }
            "error" => self.lifecycle.end(stream_error(self.provider, &error_payload()), out),
            _ => {}
        }
    }

    /// Ends the stream with `event` (an error found by the framing around it), unless it already
    /// ended.
    pub(crate) fn fail(&mut self, event: StreamEvent, out: &mut Vec<StreamEvent>) {
        self.lifecycle.end(event, out);
    }

    /// The body ended: reports a missing `message_stop`.
    pub(crate) fn end_of_body(&mut self, out: &mut Vec<StreamEvent>) {
        self.lifecycle.cut(self.provider, "message_stop", out);
    }

    /// `message_stop` came, or an error ended the stream.
    pub(crate) fn is_done(&self) -> bool {
        self.lifecycle.is_ended()
    }
}

impl SseProtocol for MessagesDecoder {
    fn handle(&mut self, event: &SseEvent, out: &mut Vec<StreamEvent>) {
        self.handle_event(event, out);
    }

    fn end_of_body(&mut self, out: &mut Vec<StreamEvent>) {
        MessagesDecoder::end_of_body(self, out);
    }

    fn is_done(&self) -> bool {
        MessagesDecoder::is_done(self)
    }
}
