//! ConverseStream events mapped to [`StreamEvent`]s; Nova's invoke stream uses the same events.
//!
//! `messageStart`, then `contentBlockDelta`s (text, tool-input fragments, reasoning), with a
//! `contentBlockStart` only for tool and reasoning blocks, then `messageStop` (the stop reason)
//! and `metadata` (usage and Bedrock's own `latencyMs`). Every payload's random `p` padding is
//! ignored, as are reasoning signatures, redacted reasoning and guardrail traces.

use serde_json::{Map, Value};

use super::super::{Lifecycle, ReadUsage, count};
use super::FrameProtocol;
use crate::model::event::{FinishReason, ResponseMeta, StreamEvent, Usage};

pub(crate) fn finish_reason(raw: &str) -> FinishReason {
    match raw {
        "end_turn" | "stop_sequence" => FinishReason::Stop,
        "max_tokens" | "model_context_window_exceeded" => FinishReason::Length,
        "tool_use" => FinishReason::ToolCalls,
        "guardrail_intervened" | "content_filtered" => FinishReason::ContentFilter,
        _ => FinishReason::Other,
    }
}

/// `metadata.usage`, kept verbatim in `raw`. Nova's invoke stream spells the cache counts
/// `cache…InputTokenCount`.
pub(crate) fn usage(raw: &Map<String, Value>) -> ReadUsage {
    ReadUsage::read(Value::Object(raw.clone()), |counts| {
        let input = counts.get(&["inputTokens"]);
        let output = counts.get(&["outputTokens"]);
        let cache_read = counts.first(&[&["cacheReadInputTokens"], &["cacheReadInputTokenCount"]]);
        let cache_write = counts.first(&[&["cacheWriteInputTokens"], &["cacheWriteInputTokenCount"]]);
        let total = match counts.get(&["totalTokens"]) {
            Some(total) => Some(total),
            None => counts.sum("the total", &[input, output, cache_read, cache_write]),
        };
        Usage {
            input_tokens: input,
            output_tokens: output,
            cached_input_tokens: cache_read,
            cache_creation_input_tokens: cache_write,
            total_tokens: total,
            ..Usage::default()
        }
    })
}

pub(crate) struct ConverseEvents {
    provider: &'static str,
    lifecycle: Lifecycle,
    /// `messageStop` came (the stop reason is known).
    stopped: bool,
    /// `metadata` came (usage is known): with `stopped`, the response is whole.
    metadata: bool,
}

impl ConverseEvents {
    pub fn new(provider: &'static str, meta: ResponseMeta) -> Self {
        Self {
            provider,
            lifecycle: Lifecycle::new(meta),
            stopped: false,
            metadata: false,
        }
    }
}

impl FrameProtocol for ConverseEvents {
    fn event(&mut self, event_type: &str, payload: &Value, out: &mut Vec<StreamEvent>) {
        if self.is_done() {
            return;
        }
        let index = payload
            .get("contentBlockIndex")
            .and_then(Value::as_u64)
            .and_then(|index| u32::try_from(index).ok())
            .unwrap_or(0);
        let string = |value: Option<&Value>| value.and_then(Value::as_str).map(str::to_owned);
        match event_type {
            "messageStart" => self.lifecycle.ensure(out),
            "contentBlockStart" => {
                if let Some(tool) = payload.pointer("/start/toolUse") {
                    let call = StreamEvent::ToolCallDelta {
                        index,
                        id: string(tool.get("toolUseId")),
                        name: string(tool.get("name")),
                        arguments: String::new(),
                    };
                    self.lifecycle.content(call, out);
                }
            }
            "contentBlockDelta" => {
                let delta = payload.get("delta").unwrap_or(&Value::Null);
                if let Some(text) = string(delta.get("text")) {
                    self.lifecycle.content(StreamEvent::TextDelta { text }, out);
                } else if let Some(arguments) = string(delta.pointer("/toolUse/input")) {
                    // The first fragment is often "": not a token, and not worth an event.
                    if !arguments.is_empty() {
                        let fragment = StreamEvent::ToolCallDelta {
                            index,
                            id: None,
                            name: None,
                            arguments,
                        };
                        self.lifecycle.content(fragment, out);
                    }
                } else if let Some(text) = string(delta.pointer("/reasoningContent/text")) {
                    self.lifecycle.content(StreamEvent::ReasoningDelta { text }, out);
                }
            }
            "messageStop" => {
                self.lifecycle.ensure(out);
                self.stopped = true;
                let raw = string(payload.get("stopReason"));
                out.push(StreamEvent::Finished {
                    reason: raw.as_deref().map_or(FinishReason::Other, finish_reason),
                    raw_reason: raw,
                });
            }
            "metadata" => {
                self.lifecycle.ensure(out);
                self.metadata = true;
                if let Some(Value::Object(raw)) = payload.get("usage") {
                    usage(raw).push(out);
                }
                if let Some(latency) = count(payload, &["metrics", "latencyMs"]) {
                    out.push(StreamEvent::ServerTiming {
                        latency_ms: Some(latency),
                        first_byte_latency_ms: None,
                    });
                }
            }
            // contentBlockStop, and events added after this was written.
            _ => {}
        }
    }

    fn fail(&mut self, error: StreamEvent, out: &mut Vec<StreamEvent>) {
        self.lifecycle.end(error, out);
    }

    fn end_of_body(&mut self, out: &mut Vec<StreamEvent>) {
        if !self.stopped {
            self.lifecycle.cut(self.provider, "messageStop", out);
        } else if !self.metadata {
            self.lifecycle.cut(self.provider, "its metadata event (usage)", out);
        }
    }

    /// `messageStop` and `metadata` both came (or an error ended it): a replayed stream, or
    /// anything else after them, is not read.
    fn is_done(&self) -> bool {
        self.lifecycle.is_ended() || (self.stopped && self.metadata)
    }
}
