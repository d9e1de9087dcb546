//! OpenAI Responses API streaming (OpenAI and Azure's v1 path).
//!
//! Every event names its type; text, reasoning summaries and function-call arguments arrive as
//! deltas and the terminal event (`response.completed` / `.incomplete` / `.failed`) carries the
//! usage. Mid-stream `error` events come flat (as documented) or nested (as recorded): both work.

use std::collections::HashSet;

use serde::Deserialize;
use serde_json::{Value, json};

use super::openai_chat::preview;
use super::wire::{self, Count, Object, Text};
use super::{
    Capabilities, Lifecycle, ParameterFields, ReadUsage, SseProtocol, insert_parameters, messages_json, protocol_error,
    stream_error,
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

/// One Responses stream event, as far as it is read: the fields of every event type in one
/// struct, matched on `type` (the many types not read, like `response.output_text.done`, are
/// skipped). Every field is lenient ([`super::wire`]), as when events were walked as `Value`s.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct WireEvent<'a> {
    #[serde(rename = "type", borrow)]
    kind: Text<'a>,
    #[serde(borrow)]
    delta: Text<'a>,
    output_index: Count,
    #[serde(borrow)]
    item: Object<Item<'a>>,
    #[serde(borrow)]
    response: Object<Response<'a>>,
}

/// `response.output_item.added`'s `item`.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct Item<'a> {
    #[serde(rename = "type", borrow)]
    kind: Text<'a>,
    #[serde(borrow)]
    call_id: Text<'a>,
    #[serde(borrow)]
    id: Text<'a>,
    #[serde(borrow)]
    name: Text<'a>,
    #[serde(borrow)]
    arguments: Text<'a>,
}

/// The `response` of the lifecycle events (`response.created` … `response.completed`).
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct Response<'a> {
    #[serde(borrow)]
    model: Text<'a>,
    /// Any JSON but `null` is handed on as the usage's raw object.
    usage: Option<Value>,
    incomplete_details: Object<IncompleteDetails<'a>>,
    /// `response.failed`'s error object, as sent.
    error: Option<Value>,
    /// The tier that served the request (`default`, `flex`, `priority`).
    #[serde(borrow)]
    service_tier: Text<'a>,
    /// The backend configuration that served it, where the cloud says.
    #[serde(borrow)]
    system_fingerprint: Text<'a>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct IncompleteDetails<'a> {
    #[serde(borrow)]
    reason: Text<'a>,
}

pub struct ResponsesDecoder {
    provider: &'static str,
    lifecycle: Lifecycle,
    /// Output indexes of function calls, so `.done` events and the finish reason know them.
    function_calls: HashSet<u64>,
    refused: bool,
}

impl ResponsesDecoder {
    pub fn new(provider: &'static str, meta: ResponseMeta) -> Self {
        Self {
            provider,
            lifecycle: Lifecycle::new(meta),
            function_calls: HashSet::new(),
            refused: false,
        }
    }

    fn handle_event(&mut self, event: &SseEvent, out: &mut Vec<StreamEvent>) {
        if self.lifecycle.is_ended() {
            return;
        }
        let wire = match wire::read::<WireEvent<'_>>(&event.data) {
            Ok(wire) => wire.unwrap_or_default(),
            Err(error) => {
                let message = format!("undecodable event ({error}): {}", preview(&event.data));
                self.end(protocol_error(self.provider, message), out);
                return;
            }
        };
        let kind = wire.kind.as_deref().or(event.event.as_deref()).unwrap_or_default();
        let text = |field: Text<'_>| field.into_owned().unwrap_or_default();
        let output_index = wire.output_index.0.unwrap_or(0);
        match kind {
            "response.created" | "response.in_progress" => {
                // Its `service_tier` here is the one requested (`auto`); the one that served
                // comes with `response.completed`.
                let fingerprint = wire
                    .response
                    .as_ref()
                    .and_then(|response| response.system_fingerprint.as_deref());
                self.lifecycle.observe_deployment(fingerprint, None, out);
                let model = wire.response.as_ref().and_then(|response| response.model.as_deref());
                self.lifecycle.observe_model(model, out);
            }
            "response.output_text.delta" => self
                .lifecycle
                .content(StreamEvent::TextDelta { text: text(wire.delta) }, out),
            "response.refusal.delta" => {
                self.refused = true;
                self.lifecycle
                    .content(StreamEvent::TextDelta { text: text(wire.delta) }, out);
            }
            "response.reasoning_summary_text.delta" | "response.reasoning_text.delta" => {
                self.lifecycle
                    .content(StreamEvent::ReasoningDelta { text: text(wire.delta) }, out);
            }
            "response.output_item.added" => {
                let item = wire.item.0.unwrap_or_default();
                if item.kind.as_deref() == Some("function_call") {
                    self.function_calls.insert(output_index);
                    self.lifecycle.content(
                        StreamEvent::ToolCallDelta {
                            index: u32::try_from(output_index).unwrap_or(u32::MAX),
                            id: item.call_id.into_owned().or_else(|| item.id.into_owned()),
                            name: item.name.into_owned(),
                            arguments: item.arguments.into_owned().unwrap_or_default(),
                        },
                        out,
                    );
                }
            }
            "response.function_call_arguments.delta" => self.lifecycle.content(
                StreamEvent::ToolCallDelta {
                    index: u32::try_from(output_index).unwrap_or(u32::MAX),
                    id: None,
                    name: None,
                    arguments: text(wire.delta),
                },
                out,
            ),
            "response.completed" | "response.incomplete" => {
                let response = wire.response.0.unwrap_or_default();
                self.lifecycle.observe_deployment(
                    response.system_fingerprint.as_deref(),
                    response.service_tier.as_deref(),
                    out,
                );
                self.lifecycle.observe_model(response.model.as_deref(), out);
                self.lifecycle.ensure(out);
                if let Some(raw) = response.usage {
                    usage(raw).push(out);
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
                        .incomplete_details
                        .0
                        .and_then(|details| details.reason.into_owned())
                        .unwrap_or_else(|| "incomplete".to_owned());
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
                let payload = match wire.response.0.and_then(|response| response.error) {
                    Some(error) => json!({"error": error}),
                    None => json!({"error": {"message": "the response failed without an error object"}}),
                };
                self.end(stream_error(self.provider, &payload), out);
            }
            "error" => {
                let json = serde_json::from_str(&event.data).unwrap_or(Value::Null);
                self.end(stream_error(self.provider, &json), out);
            }
            _ => {}
        }
    }

    fn end(&mut self, event: StreamEvent, out: &mut Vec<StreamEvent>) {
        self.lifecycle.end(event, out);
    }
}

impl SseProtocol for ResponsesDecoder {
    fn handle(&mut self, event: &SseEvent, out: &mut Vec<StreamEvent>) {
        self.handle_event(event, out);
    }

    fn end_of_body(&mut self, out: &mut Vec<StreamEvent>) {
        self.lifecycle
            .cut(self.provider, "its terminal event (response.completed)", out);
    }

    fn is_done(&self) -> bool {
        self.lifecycle.is_ended()
    }
}
