//! Ollama's native `/api/chat` (and `/api/generate`) NDJSON streaming.
//!
//! Every line is checked for `error` first: a mid-stream failure is a bare `{"error":"…"}` line
//! with the HTTP status still 200. Tool calls arrive whole with object arguments, which are
//! re-serialised so every provider reports arguments as a JSON string.

use serde_json::{Value, json};

use super::openai_chat::preview;
use super::{
    AfterEnd, Capabilities, ParameterFields, ReadUsage, StartGate, WireDecoder, insert_parameters, messages_json,
    protocol_error, stream_error, truncated,
};
use crate::framing::ndjson::NdjsonDecoder;
use crate::model::event::{FinishReason, ResponseMeta, StreamEvent};
use crate::model::request::{Parameters, Prompt};

pub const CAPABILITIES: Capabilities = Capabilities {
    system_prompt: true,
    temperature: true,
    top_p: true,
    max_output_tokens: true,
    stop_sequences: true,
    seed: true,
};

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

pub struct OllamaDecoder {
    provider: &'static str,
    lines: NdjsonDecoder,
    pending: Vec<String>,
    gate: StartGate,
    tool_calls: u32,
    ended: bool,
    after_end: AfterEnd,
}

impl OllamaDecoder {
    pub fn new(provider: &'static str, meta: ResponseMeta) -> Self {
        Self {
            provider,
            lines: NdjsonDecoder::new(),
            pending: Vec::new(),
            gate: StartGate::new(meta),
            tool_calls: 0,
            ended: false,
            after_end: AfterEnd::default(),
        }
    }

    fn handle(&mut self, line: &str, out: &mut Vec<StreamEvent>) {
        if self.ended {
            return;
        }
        let json: Value = match serde_json::from_str(line) {
            Ok(json) => json,
            Err(error) => {
                let message = format!("undecodable line ({error}): {}", preview(line));
                self.end(protocol_error(self.provider, message), out);
                return;
            }
        };
        if json.get("error").is_some_and(|error| !error.is_null()) {
            self.end(stream_error(self.provider, &json), out);
            return;
        }
        self.gate.observe_model(json.get("model").and_then(Value::as_str), out);
        let message = json.get("message").unwrap_or(&Value::Null);
        let text = |value: Option<&Value>| {
            value
                .and_then(Value::as_str)
                .filter(|text| !text.is_empty())
                .map(str::to_owned)
        };
        if let Some(thinking) = text(message.get("thinking")).or_else(|| text(json.get("thinking"))) {
            self.gate.ensure(out);
            out.push(StreamEvent::ReasoningDelta { text: thinking });
        }
        // `/api/chat` puts text in `message.content`, `/api/generate` in `response`.
        if let Some(content) = text(message.get("content")).or_else(|| text(json.get("response"))) {
            self.gate.ensure(out);
            out.push(StreamEvent::TextDelta { text: content });
        }
        if let Some(calls) = message.get("tool_calls").and_then(Value::as_array) {
            for call in calls {
                self.gate.ensure(out);
                let function = call.get("function").unwrap_or(&Value::Null);
                let arguments = match function.get("arguments") {
                    Some(Value::String(text)) => text.clone(),
                    Some(value) if !value.is_null() => value.to_string(),
                    _ => String::new(),
                };
                out.push(StreamEvent::ToolCallDelta {
                    index: self.tool_calls,
                    id: call.get("id").and_then(Value::as_str).map(str::to_owned),
                    name: function.get("name").and_then(Value::as_str).map(str::to_owned),
                    arguments,
                });
                self.tool_calls += 1;
            }
        }
        if json.get("done").and_then(Value::as_bool) == Some(true) {
            self.gate.ensure(out);
            let mut raw = json.clone();
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
            let raw_reason = json.get("done_reason").and_then(Value::as_str).map(str::to_owned);
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
            if self.ended {
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
        self.gate.ensure(out);
        self.ended = true;
        out.push(event);
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
        if !self.ended {
            self.end(truncated(self.provider, "its final `done` line"), out);
        }
    }

    /// The `done: true` line came, or an error line.
    fn is_done(&self) -> bool {
        self.ended
    }
}
