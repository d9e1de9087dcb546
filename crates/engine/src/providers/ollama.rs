//! Ollama's native `/api/chat` (and `/api/generate`) NDJSON streaming.
//!
//! Every line is checked for `error` first: a mid-stream failure is a bare `{"error":"…"}` line
//! with the HTTP status still 200. Tool calls arrive whole with object arguments, which are
//! re-serialised so every provider reports arguments as a JSON string.

use serde::Deserialize;
use serde::de::IgnoredAny;
use serde_json::{Value, json};

use super::openai_chat::preview;
use super::wire::{self, Flag, List, Object, Text};
use super::{
    AfterEnd, Capabilities, Lifecycle, ParameterFields, ReadUsage, WireDecoder, insert_parameters, messages_json,
    protocol_error, stream_error,
};
use crate::framing::ndjson::NdjsonDecoder;
use crate::model::event::{FinishReason, ResponseMeta, StreamEvent};
use crate::model::request::{Parameters, Prompt};

pub const CAPABILITIES: Capabilities = Capabilities::ALL;

pub fn request_body(model: &str, prompt: &Prompt, parameters: &Parameters) -> Value {
    let messages = messages_json(prompt, true);
    let mut options = serde_json::Map::new();
    insert_parameters(
        &mut options,
        parameters,
        &ParameterFields {
            temperature: Some("temperature"),
            top_p: Some("top_p"),
            max_output_tokens: Some("num_predict"),
            stop_sequences: Some("stop"),
            seed: Some("seed"),
        },
    );
    let mut body = json!({"model": model, "messages": messages, "stream": true});
    if !options.is_empty() {
        body["options"] = Value::Object(options);
    }
    body
}

/// One line of an Ollama stream, as far as it is read. Every field is lenient
/// ([`super::wire`]), as when lines were walked as `Value`s.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct Line<'a> {
    #[serde(borrow)]
    model: Text<'a>,
    #[serde(borrow)]
    message: Object<Message<'a>>,
    /// `/api/generate`'s reasoning and text.
    #[serde(borrow)]
    thinking: Text<'a>,
    #[serde(borrow)]
    response: Text<'a>,
    /// Present and not `null`: the line is an error.
    error: Option<IgnoredAny>,
    done: Flag,
    #[serde(borrow)]
    done_reason: Text<'a>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct Message<'a> {
    #[serde(borrow)]
    thinking: Text<'a>,
    #[serde(borrow)]
    content: Text<'a>,
    #[serde(borrow)]
    tool_calls: List<Object<ToolCall<'a>>>,
}

/// A tool call, whole: arguments are an object (re-serialised) or, from some servers, a string.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct ToolCall<'a> {
    #[serde(borrow)]
    id: Text<'a>,
    #[serde(borrow)]
    function: Object<Function<'a>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct Function<'a> {
    #[serde(borrow)]
    name: Text<'a>,
    /// Any JSON but `null`.
    arguments: Option<Value>,
}

pub struct OllamaDecoder {
    provider: &'static str,
    lines: NdjsonDecoder,
    pending: Vec<String>,
    lifecycle: Lifecycle,
    tool_calls: u32,
    after_end: AfterEnd,
}

impl OllamaDecoder {
    pub fn new(provider: &'static str, meta: ResponseMeta) -> Self {
        Self {
            provider,
            lines: NdjsonDecoder::new(),
            pending: Vec::new(),
            lifecycle: Lifecycle::new(meta),
            tool_calls: 0,
            after_end: AfterEnd::default(),
        }
    }

    fn handle(&mut self, line: &str, out: &mut Vec<StreamEvent>) {
        if self.lifecycle.is_ended() {
            return;
        }
        let wire = match wire::read::<Line<'_>>(line) {
            Ok(wire) => wire.unwrap_or_default(),
            Err(error) => {
                let message = format!("undecodable line ({error}): {}", preview(line));
                self.end(protocol_error(self.provider, message), out);
                return;
            }
        };
        // The whole line as JSON is wanted only twice: for an error, and as the raw usage.
        let whole = || serde_json::from_str::<Value>(line).unwrap_or(Value::Null);
        if wire.error.is_some() {
            self.end(stream_error(self.provider, &whole()), out);
            return;
        }
        self.lifecycle.observe_model(wire.model.as_deref(), out);
        let message = wire.message.0.unwrap_or_default();
        let text = |text: Text<'_>| text.into_owned().filter(|text| !text.is_empty());
        if let Some(thinking) = text(message.thinking).or_else(|| text(wire.thinking)) {
            self.lifecycle.ensure(out);
            out.push(StreamEvent::ReasoningDelta { text: thinking });
        }
        // `/api/chat` puts text in `message.content`, `/api/generate` in `response`.
        if let Some(content) = text(message.content).or_else(|| text(wire.response)) {
            self.lifecycle.ensure(out);
            out.push(StreamEvent::TextDelta { text: content });
        }
        for call in message.tool_calls.0.into_iter().flatten() {
            self.lifecycle.ensure(out);
            let call = call.0.unwrap_or_default();
            let function = call.function.0.unwrap_or_default();
            let arguments = match function.arguments {
                Some(Value::String(text)) => text,
                Some(value) => value.to_string(),
                None => String::new(),
            };
            out.push(StreamEvent::ToolCallDelta {
                index: self.tool_calls,
                id: call.id.into_owned(),
                name: function.name.into_owned(),
                arguments,
            });
            self.tool_calls += 1;
        }
        if wire.done.0 == Some(true) {
            self.lifecycle.ensure(out);
            let mut raw = whole();
            if let Some(object) = raw.as_object_mut() {
                for noise in ["message", "context", "response", "model", "created_at", "done"] {
                    object.remove(noise);
                }
            }
            ReadUsage::read(raw, |counts| {
                let input = counts.get(&["prompt_eval_count"]);
                let output = counts.get(&["eval_count"]);
                counts.input_output(input, output)
            })
            .push(out);
            let raw_reason = wire.done_reason.into_owned();
            let reason = match raw_reason.as_deref() {
                Some("length") => FinishReason::Length,
                Some("stop") | None if self.tool_calls > 0 => FinishReason::ToolCalls,
                Some("stop") | None => FinishReason::Stop,
                Some(_) => FinishReason::Other,
            };
            self.end(StreamEvent::Finished { reason, raw_reason }, out);
        }
    }

    fn dispatch(&mut self, out: &mut Vec<StreamEvent>) {
        let mut pending = std::mem::take(&mut self.pending);
        for line in pending.drain(..) {
            if self.lifecycle.is_ended() {
                self.after_end.ignored(out);
                continue;
            }
            let before = out.len();
            self.handle(&line, out);
            self.after_end.observe(&out[before..]);
        }
        self.pending = pending;
    }

    fn end(&mut self, event: StreamEvent, out: &mut Vec<StreamEvent>) {
        self.lifecycle.end(event, out);
    }
}

impl WireDecoder for OllamaDecoder {
    fn feed(&mut self, bytes: &[u8], out: &mut Vec<StreamEvent>) {
        self.lines.feed(bytes, &mut self.pending);
        self.dispatch(out);
    }

    fn finish(&mut self, out: &mut Vec<StreamEvent>) {
        self.lines.finish(&mut self.pending);
        self.dispatch(out);
        self.lifecycle.cut(self.provider, "its final `done` line", out);
    }

    /// The `done: true` line came, or an error line.
    fn is_done(&self) -> bool {
        self.lifecycle.is_ended()
    }
}
