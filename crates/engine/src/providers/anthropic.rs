//! Anthropic Messages streaming.
//!
//! Input tokens come from `message_start`, output tokens from the last `message_delta` (its
//! count is cumulative; newer streams repeat the input counts there too, which then win).
//! Content blocks are indexed: text, thinking and tool_use blocks each map to their own event.

use serde_json::{Map, Value, json};

use super::openai_chat::preview;
use super::{
    Capabilities, ParameterFields, SseProtocol, StartGate, count, insert_parameters, messages_json, protocol_error,
    stream_error, truncated,
};
use crate::event::{FinishReason, ResponseMeta, StreamEvent, Usage};
use crate::request::{Parameters, Prompt};
use crate::sse::SseEvent;

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

fn usage(raw: Map<String, Value>) -> Usage {
    let raw = Value::Object(raw);
    let input = count(&raw, &["input_tokens"]);
    let output = count(&raw, &["output_tokens"]);
    let cache_read = count(&raw, &["cache_read_input_tokens"]);
    let cache_creation = count(&raw, &["cache_creation_input_tokens"]);
    let total = [input, output, cache_read, cache_creation]
        .into_iter()
        .flatten()
        .reduce(|sum, part| sum + part);
    Usage {
        input_tokens: input,
        output_tokens: output,
        reasoning_tokens: None,
        cached_input_tokens: cache_read,
        cache_creation_input_tokens: cache_creation,
        total_tokens: total,
        raw,
    }
}

pub struct MessagesDecoder {
    provider: &'static str,
    gate: StartGate,
    usage: Map<String, Value>,
    finished: bool,
    ended: bool,
}

impl MessagesDecoder {
    pub fn new(provider: &'static str, meta: ResponseMeta) -> Self {
        Self {
            provider,
            gate: StartGate::new(meta),
            usage: Map::new(),
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
                    self.usage.extend(usage.clone());
                    // Input tokens are known now; a stream that breaks later still reports them.
                    // Its `output_tokens` is a placeholder (1) until message_delta says more.
                    let mut known = self.usage.clone();
                    known.remove("output_tokens");
                    self.gate.ensure(out);
                    out.push(StreamEvent::Usage(self::usage(known)));
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
                    for (key, value) in usage {
                        if !value.is_null() {
                            self.usage.insert(key.clone(), value.clone());
                        }
                    }
                    out.push(StreamEvent::Usage(self::usage(self.usage.clone())));
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
        if !self.ended && !self.finished {
            self.end(truncated(self.provider, "message_stop"), out);
        }
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
}
