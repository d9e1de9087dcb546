//! Anthropic Messages streaming.
//!
//! Input tokens come from `message_start`, output tokens from the last `message_delta` (its
//! count is cumulative; newer streams repeat the input counts there too, which then win).
//! Content blocks are indexed: text, thinking and tool_use blocks each map to their own event.
//! The response is whole at `message_stop`; a body that ends before it was cut, even after the
//! stop reason (Bedrock's metered counts ride on `message_stop`).

use serde_json::{Map, Value, json};

use super::openai_chat::preview;
use super::{
    Capabilities, Counts, ParameterFields, ReadUsage, SseProtocol, StartGate, insert_parameters, messages_json,
    protocol_error, stream_error, truncated,
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

pub struct MessagesDecoder {
    provider: &'static str,
    gate: StartGate,
    usage: MergedUsage,
    finished: bool,
    ended: bool,
}

impl MessagesDecoder {
    pub fn new(provider: &'static str, meta: ResponseMeta) -> Self {
        Self {
            provider,
            gate: StartGate::new(meta),
            usage: MergedUsage::default(),
            finished: false,
            ended: false,
        }
    }

    fn handle_event(&mut self, event: &SseEvent, out: &mut Vec<StreamEvent>) {
        if self.ended {
            return;
        }
        match serde_json::from_str::<Value>(&event.data) {
            Ok(json) => self.handle_json(&json, event.event.as_deref(), out),
            Err(error) => {
                let message = format!("undecodable event ({error}): {}", preview(&event.data));
                self.end(protocol_error(self.provider, message), out);
            }
        }
    }

    /// Handles one Messages stream event already parsed from its framing: SSE here, Bedrock's
    /// event-stream `chunk`s in [`super::bedrock`]. `event_name` is the framing's name for it,
    /// used when the JSON has no `type`.
    pub(crate) fn handle_json(&mut self, json: &Value, event_name: Option<&str>, out: &mut Vec<StreamEvent>) {
        if self.ended {
            return;
        }
        let kind = json
            .get("type")
            .and_then(Value::as_str)
            .or(event_name)
            .unwrap_or_default();
        let index = json
            .get("index")
            .and_then(Value::as_u64)
            .and_then(|index| u32::try_from(index).ok())
            .unwrap_or(0);
        match kind {
            "message_start" => {
                let message = json.get("message").unwrap_or(&Value::Null);
                self.gate
                    .observe_model(message.get("model").and_then(Value::as_str), out);
                if let Some(Value::Object(usage)) = message.get("usage") {
                    // Input tokens are known now; a stream that breaks later still reports them.
                    // Its `output_tokens` is a placeholder (1) until message_delta says more.
                    let raw = self.usage.merge(usage, false, Some("output_tokens"));
                    self.gate.ensure(out);
                    self::usage(&self.usage.merged, false, raw).push(out);
                }
            }
            "content_block_start" => {
                let block = json.get("content_block").unwrap_or(&Value::Null);
                let field = |name: &str| block.get(name).and_then(Value::as_str).map(str::to_owned);
                match block.get("type").and_then(Value::as_str) {
                    Some("tool_use" | "server_tool_use") => self.gate.content(
                        StreamEvent::ToolCallDelta {
                            index,
                            id: field("id"),
                            name: field("name"),
                            arguments: String::new(),
                        },
                        out,
                    ),
                    Some("text") => self.gate.content(
                        StreamEvent::TextDelta {
                            text: field("text").unwrap_or_default(),
                        },
                        out,
                    ),
                    Some("thinking") => self.gate.content(
                        StreamEvent::ReasoningDelta {
                            text: field("thinking").unwrap_or_default(),
                        },
                        out,
                    ),
                    _ => {}
                }
            }
            "content_block_delta" => {
                let delta = json.get("delta").unwrap_or(&Value::Null);
                let field = |name: &str| delta.get(name).and_then(Value::as_str).unwrap_or_default().to_owned();
                match delta.get("type").and_then(Value::as_str) {
                    Some("text_delta") => self.gate.content(StreamEvent::TextDelta { text: field("text") }, out),
                    Some("thinking_delta") => self.gate.content(
                        StreamEvent::ReasoningDelta {
                            text: field("thinking"),
                        },
                        out,
                    ),
                    Some("input_json_delta") => self.gate.content(
                        StreamEvent::ToolCallDelta {
                            index,
                            id: None,
                            name: None,
                            arguments: field("partial_json"),
                        },
                        out,
                    ),
                    _ => {}
                }
            }
            "message_delta" => {
                self.gate.ensure(out);
                if let Some(Value::Object(usage)) = json.get("usage") {
                    let raw = self.usage.merge(usage, true, None);
                    self::usage(&self.usage.merged, true, raw).push(out);
                }
                if let Some(raw) = json.pointer("/delta/stop_reason").and_then(Value::as_str) {
                    self.finished = true;
                    out.push(StreamEvent::Finished {
                        reason: finish_reason(raw),
                        raw_reason: Some(raw.to_owned()),
                    });
                }
            }
            "message_stop" => {
                self.gate.ensure(out);
                self.ended = true;
                if !self.finished {
                    out.push(StreamEvent::Finished {
                        reason: FinishReason::Other,
                        raw_reason: None,
                    });
                }
            }
            "error" => self.end(stream_error(self.provider, json), out),
            _ => {}
        }
    }

    /// Ends the stream with `event` (an error found by the framing around it), unless it already
    /// ended.
    pub(crate) fn fail(&mut self, event: StreamEvent, out: &mut Vec<StreamEvent>) {
        if !self.ended {
            self.end(event, out);
        }
    }

    /// The body ended: reports a missing `message_stop`.
    pub(crate) fn end_of_body(&mut self, out: &mut Vec<StreamEvent>) {
        if !self.ended {
            self.end(truncated(self.provider, "message_stop"), out);
        }
    }

    /// `message_stop` came, or an error ended the stream.
    pub(crate) fn is_done(&self) -> bool {
        self.ended
    }

    fn end(&mut self, event: StreamEvent, out: &mut Vec<StreamEvent>) {
        self.gate.ensure(out);
        self.ended = true;
        out.push(event);
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
