//! OpenAI Responses API streaming (OpenAI and Azure's v1 path).
//!
//! Every event names its type; text, reasoning summaries and function-call arguments arrive as
//! deltas and the terminal event (`response.completed` / `.incomplete` / `.failed`) carries the
//! usage. Mid-stream `error` events come flat (as documented) or nested (as recorded): both work.

use std::collections::HashSet;

use serde_json::{Value, json};

use super::openai_chat::preview;
use super::{
    Capabilities, ParameterFields, ReadUsage, SseProtocol, StartGate, insert_parameters, messages_json, protocol_error,
    stream_error, truncated,
};
use crate::framing::sse::SseEvent;
use crate::model::event::{FinishReason, ResponseMeta, StreamEvent};
use crate::model::request::{Parameters, Prompt, Role};

/// The Responses API has no `stop` and no `seed`.
pub const CAPABILITIES: Capabilities = Capabilities {
    system_prompt: true,
    temperature: true,
    top_p: true,
    max_output_tokens: true,
    stop_sequences: false,
    seed: false,
};

pub fn request_body(model: &str, prompt: &Prompt, parameters: &Parameters) -> Value {
    let input = match prompt.messages.as_slice() {
        [only] if only.role == Role::User => json!(only.content),
        _ => Value::Array(messages_json(prompt, false)),
    };
    let mut body = json!({"model": model, "input": input, "stream": true});
    let object = body.as_object_mut().expect("a JSON object literal");
    if let Some(system) = &prompt.system {
        object.insert("instructions".into(), json!(system));
    }
    // No `stop` or `seed` in the Responses API (reported as unsupported).
    insert_parameters(
        object,
        parameters,
        &ParameterFields {
            temperature: Some("temperature"),
            top_p: Some("top_p"),
            max_output_tokens: Some("max_output_tokens"),
            stop_sequences: None,
            seed: None,
        },
    );
    body
}

pub(crate) fn usage(raw: Value) -> ReadUsage {
    super::openai_chat::openai_usage(raw, "input_tokens", "output_tokens")
}

pub struct ResponsesDecoder {
    provider: &'static str,
    gate: StartGate,
    /// Output indexes of function calls, so `.done` events and the finish reason know them.
    function_calls: HashSet<u64>,
    refused: bool,
    ended: bool,
}

impl ResponsesDecoder {
    pub fn new(provider: &'static str, meta: ResponseMeta) -> Self {
        Self {
            provider,
            gate: StartGate::new(meta),
            function_calls: HashSet::new(),
            refused: false,
            ended: false,
        }
    }

    fn handle_event(&mut self, event: &SseEvent, out: &mut Vec<StreamEvent>) {
        if self.ended {
            return;
        }
        let json: Value = match serde_json::from_str(&event.data) {
            Ok(json) => json,
            Err(error) => {
                let message = format!("undecodable event ({error}): {}", preview(&event.data));
                self.end(protocol_error(self.provider, message), out);
                return;
            }
        };
        let kind = json
            .get("type")
            .and_then(Value::as_str)
            .or(event.event.as_deref())
            .unwrap_or_default();
        let text = |field: &str| json.get(field).and_then(Value::as_str).unwrap_or_default().to_owned();
        let output_index = json.get("output_index").and_then(Value::as_u64).unwrap_or(0);
        match kind {
            "response.created" | "response.in_progress" => {
                let model = json.pointer("/response/model").and_then(Value::as_str);
                self.gate.observe_model(model, out);
            }
            "response.output_text.delta" => self.gate.content(StreamEvent::TextDelta { text: text("delta") }, out),
            "response.refusal.delta" => {
                self.refused = true;
                self.gate.content(StreamEvent::TextDelta { text: text("delta") }, out);
            }
            "response.reasoning_summary_text.delta" | "response.reasoning_text.delta" => {
                self.gate
                    .content(StreamEvent::ReasoningDelta { text: text("delta") }, out);
            }
            "response.output_item.added" => {
                let item = json.get("item").unwrap_or(&Value::Null);
                if item.get("type").and_then(Value::as_str) == Some("function_call") {
                    self.function_calls.insert(output_index);
                    let field = |name: &str| item.get(name).and_then(Value::as_str).map(str::to_owned);
                    self.gate.content(
                        StreamEvent::ToolCallDelta {
                            index: u32::try_from(output_index).unwrap_or(u32::MAX),
                            id: field("call_id").or_else(|| field("id")),
                            name: field("name"),
                            arguments: field("arguments").unwrap_or_default(),
                        },
                        out,
                    );
                }
            }
            "response.function_call_arguments.delta" => self.gate.content(
                StreamEvent::ToolCallDelta {
                    index: u32::try_from(output_index).unwrap_or(u32::MAX),
                    id: None,
                    name: None,
                    arguments: text("delta"),
                },
                out,
            ),
            "response.completed" | "response.incomplete" => {
                let response = json.get("response").unwrap_or(&Value::Null);
                self.gate
                    .observe_model(response.get("model").and_then(Value::as_str), out);
                self.gate.ensure(out);
                if let Some(raw) = response.get("usage").filter(|usage| !usage.is_null()) {
                    usage(raw.clone()).push(out);
                }
                let (reason, raw_reason) = if kind == "response.completed" {
                    let reason = if self.refused {
                        FinishReason::Refusal
                    } else if self.function_calls.is_empty() {
                        FinishReason::Stop
                    } else {
                        FinishReason::ToolCalls
                    };
                    (reason, "completed".to_owned())
                } else {
                    let raw = response
                        .pointer("/incomplete_details/reason")
                        .and_then(Value::as_str)
                        .unwrap_or("incomplete")
                        .to_owned();
                    let reason = match raw.as_str() {
                        "max_output_tokens" => FinishReason::Length,
                        "content_filter" => FinishReason::ContentFilter,
                        _ => FinishReason::Other,
                    };
                    (reason, raw)
                };
                self.end(
                    StreamEvent::Finished {
                        reason,
                        raw_reason: Some(raw_reason),
                    },
                    out,
                );
            }
            "response.failed" => {
                let error = json.pointer("/response/error").cloned().unwrap_or(Value::Null);
                let payload = if error.is_null() {
                    json!({"error": {"message": "the response failed without an error object"}})
                } else {
                    json!({"error": error})
                };
                self.end(stream_error(self.provider, &payload), out);
            }
            "error" => self.end(stream_error(self.provider, &json), out),
            _ => {}
        }
    }

    fn end(&mut self, event: StreamEvent, out: &mut Vec<StreamEvent>) {
        self.gate.ensure(out);
        self.ended = true;
        out.push(event);
    }
}

impl SseProtocol for ResponsesDecoder {
    fn handle(&mut self, event: &SseEvent, out: &mut Vec<StreamEvent>) {
        self.handle_event(event, out);
    }

    fn end_of_body(&mut self, out: &mut Vec<StreamEvent>) {
        if !self.ended {
            self.end(truncated(self.provider, "its terminal event (response.completed)"), out);
        }
    }

    fn is_done(&self) -> bool {
        self.ended
    }
}
