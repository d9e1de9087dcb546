//! OpenAI Chat Completions streaming, as spoken by OpenAI, Azure OpenAI and every
//! OpenAI-compatible server (vLLM, LM Studio, OpenRouter, Groq, Ollama's `/v1`).
//!
//! Tolerates what those servers actually send: Azure's `choices:[]` prompt-filter chunk and
//! annotation chunks without `delta`, usage only in a trailing `choices:[]` chunk, error payloads
//! as `data: {"error":…}`, as `event: error` (Groq) or beside usage in a normal chunk (OpenRouter).

use serde::Deserialize;
use serde_json::{Value, json};

use super::wire::{Object, Str, Text};
use super::{
    Capabilities, Lifecycle, ParameterFields, ReadUsage, SseProtocol, insert_parameters, lenient_index, lenient_string,
    messages_json, null_as_default, protocol_error, stream_error,
};
use crate::framing::sse::SseEvent;
use crate::model::event::{FinishReason, ResponseMeta, StreamEvent, Usage};
use crate::model::request::{Parameters, Prompt};

pub const CAPABILITIES: Capabilities = Capabilities::ALL;

pub fn request_body(model: &str, prompt: &Prompt, parameters: &Parameters) -> Value {
    let messages = messages_json(prompt, true);
    let mut body = json!({
        "model": model,
        "messages": messages,
        "stream": true,
        "stream_options": {"include_usage": true},
    });
    let object = body.as_object_mut().expect("a JSON object literal");
    insert_parameters(
        object,
        parameters,
        &ParameterFields {
            temperature: Some("temperature"),
            top_p: Some("top_p"),
            max_output_tokens: Some("max_completion_tokens"),
            stop_sequences: Some("stop"),
            seed: Some("seed"),
        },
    );
    body
}

// Every field may be missing or `null`: OpenAI-compatible servers write optional fields as
// `null` (`"tool_calls": null` on every chunk from SGLang and LiteLLM), and one chunk that fails
// to decode would lose the whole answer. Strings borrow from the event's text ([`Str`]); fields
// not named here are skipped unread.
#[derive(Debug, Deserialize)]
struct Chunk<'a> {
    #[serde(default, borrow)]
    model: Option<Str<'a>>,
    #[serde(default, borrow, deserialize_with = "null_as_default")]
    choices: Vec<Choice<'a>>,
    #[serde(default)]
    usage: Option<Value>,
    /// Groq puts usage here, in the finish chunk, instead of in `usage`.
    #[serde(default)]
    x_groq: Object<GroqExtension>,
    #[serde(default)]
    error: Option<Value>,
    /// The backend configuration that served the chunk; read leniently, as it was never required.
    #[serde(default, borrow)]
    system_fingerprint: Text<'a>,
    /// The tier that served the request (`default`, `flex`, `priority`).
    #[serde(default, borrow)]
    service_tier: Text<'a>,
}

#[derive(Debug, Deserialize)]
struct GroqExtension {
    #[serde(default)]
    usage: Option<Value>,
}

#[derive(Debug, Deserialize)]
struct Choice<'a> {
    #[serde(default, borrow)]
    delta: Option<Delta<'a>>,
    #[serde(default, deserialize_with = "lenient_string")]
    finish_reason: Option<String>,
    /// Some OpenAI-compatible servers report usage on the choice that finishes.
    #[serde(default)]
    usage: Option<Value>,
}

#[derive(Debug, Deserialize)]
struct Delta<'a> {
    #[serde(default, borrow)]
    content: Option<Str<'a>>,
    /// The model declined: its answer arrives here, with `content: null`.
    #[serde(default, borrow)]
    refusal: Option<Str<'a>>,
    /// OpenRouter, Groq, vLLM and Ollama's OpenAI endpoint put reasoning here.
    #[serde(default, borrow)]
    reasoning: Option<Str<'a>>,
    /// DeepSeek and some gateways use this name instead.
    #[serde(default, borrow)]
    reasoning_content: Option<Str<'a>>,
    #[serde(default, borrow, deserialize_with = "null_as_default")]
    tool_calls: Vec<ToolCallFragment<'a>>,
}

#[derive(Debug, Deserialize)]
struct ToolCallFragment<'a> {
    #[serde(default, deserialize_with = "lenient_index")]
    index: u32,
    #[serde(default, borrow)]
    id: Option<Str<'a>>,
    #[serde(default, borrow)]
    function: Option<FunctionFragment<'a>>,
}

#[derive(Debug, Deserialize)]
struct FunctionFragment<'a> {
    #[serde(default, borrow)]
    name: Option<Str<'a>>,
    #[serde(default, borrow)]
    arguments: Option<Str<'a>>,
}

/// A string field's text, owned for the event that carries it.
fn owned(text: Option<Str<'_>>) -> Option<String> {
    text.map(|text| text.0.into_owned())
}

pub fn finish_reason(raw: &str) -> FinishReason {
    match raw {
        "stop" | "end_turn" | "stop_sequence" => FinishReason::Stop,
        "length" | "max_tokens" => FinishReason::Length,
        "tool_calls" | "function_call" => FinishReason::ToolCalls,
        "content_filter" => FinishReason::ContentFilter,
        _ => FinishReason::Other,
    }
}

pub(crate) fn usage(raw: Value) -> ReadUsage {
    openai_usage(raw, "prompt_tokens", "completion_tokens")
}

/// Usage in OpenAI's shape, whose names differ between Chat Completions (`prompt_tokens`,
/// `completion_tokens`) and Responses (`input_tokens`, `output_tokens`); the details objects
/// (cached and reasoning tokens) are named after them.
pub(crate) fn openai_usage(raw: Value, input: &str, output: &str) -> ReadUsage {
    let input_details = format!("{input}_details");
    let output_details = format!("{output}_details");
    read_usage_named(
        raw,
        &UsageNames {
            input: &[input],
            output: &[output],
            reasoning: &[&output_details, "reasoning_tokens"],
            cached_input: &[&input_details, "cached_tokens"],
            total: &["total_tokens"],
        },
    )
}

/// Where a usage object in OpenAI's shape keeps each count, whatever its cloud names them
/// (OCI writes them in camel case: `promptTokens`, `completionTokensDetails.reasoningTokens`).
pub(crate) struct UsageNames<'a> {
    pub input: &'a [&'a str],
    pub output: &'a [&'a str],
    pub reasoning: &'a [&'a str],
    pub cached_input: &'a [&'a str],
    pub total: &'a [&'a str],
}

pub(crate) fn read_usage_named(raw: Value, names: &UsageNames<'_>) -> ReadUsage {
    ReadUsage::read(raw, |counts| Usage {
        input_tokens: counts.get(names.input),
        output_tokens: counts.get(names.output),
        reasoning_tokens: counts.get(names.reasoning),
        cached_input_tokens: counts.get(names.cached_input),
        total_tokens: counts.get(names.total),
        ..Usage::default()
    })
}

pub struct ChatDecoder {
    provider: &'static str,
    lifecycle: Lifecycle,
    finished: bool,
    /// `[DONE]` came: the stream's end (the usage chunk, requested always, comes before it).
    done: bool,
    /// A refusal fragment arrived: the answer is a refusal, whatever the finish reason says.
    refused: bool,
}

impl ChatDecoder {
    pub fn new(provider: &'static str, meta: ResponseMeta) -> Self {
        Self {
            provider,
            lifecycle: Lifecycle::new(meta),
            finished: false,
            done: false,
            refused: false,
        }
    }

    fn handle_event(&mut self, event: &SseEvent, out: &mut Vec<StreamEvent>) {
        if self.lifecycle.is_ended() || self.done {
            return;
        }
        if event.data == "[DONE]" {
            self.done = true;
            return;
        }
        if event.event.as_deref() == Some("error") {
            let json = serde_json::from_str::<Value>(&event.data).unwrap_or_else(|_| json!({"message": event.data}));
            self.fail(stream_error(self.provider, &json), out);
            return;
        }
        let chunk: Chunk = match serde_json::from_str(&event.data) {
            Ok(chunk) => chunk,
            Err(error) => {
                let message = format!("undecodable chunk ({error}): {}", preview(&event.data));
                self.fail(protocol_error(self.provider, message), out);
                return;
            }
        };
        self.lifecycle
            .observe_deployment(chunk.system_fingerprint.as_deref(), chunk.service_tier.as_deref(), out);
        self.lifecycle
            .observe_model(chunk.model.as_ref().map(|model| model.0.as_ref()), out);
        // Only the first choice is compared; `n > 1` is not something ModelBench asks for.
        let mut choice_usage = None;
        if let Some(choice) = chunk.choices.into_iter().next() {
            if let Some(delta) = choice.delta {
                for reasoning in [delta.reasoning, delta.reasoning_content].into_iter().flatten() {
                    if !reasoning.0.is_empty() {
                        self.lifecycle.ensure(out);
                        out.push(StreamEvent::ReasoningDelta {
                            text: reasoning.0.into_owned(),
                        });
                    }
                }
                if let Some(content) = delta.content.filter(|content| !content.0.is_empty()) {
                    self.lifecycle.ensure(out);
                    out.push(StreamEvent::TextDelta {
                        text: content.0.into_owned(),
                    });
                }
                // A refusal is the model's answer: its text is the response text and its first
                // fragment the first token; the finish reason below marks the response.
                if let Some(refusal) = delta.refusal.filter(|refusal| !refusal.0.is_empty()) {
                    self.refused = true;
                    self.lifecycle.ensure(out);
                    out.push(StreamEvent::TextDelta {
                        text: refusal.0.into_owned(),
                    });
                }
                for fragment in delta.tool_calls {
                    self.lifecycle.ensure(out);
                    let (name, arguments) = fragment.function.map_or((None, None), |function| {
                        (owned(function.name), owned(function.arguments))
                    });
                    out.push(StreamEvent::ToolCallDelta {
                        index: fragment.index,
                        id: owned(fragment.id),
                        name,
                        arguments: arguments.unwrap_or_default(),
                    });
                }
            }
            if let Some(raw) = choice.finish_reason {
                self.lifecycle.ensure(out);
                self.finished = true;
                let reason = match finish_reason(&raw) {
                    FinishReason::Stop if self.refused => FinishReason::Refusal,
                    reason => reason,
                };
                out.push(StreamEvent::Finished {
                    reason,
                    raw_reason: Some(raw),
                });
            }
            choice_usage = choice.usage;
        }
        // Usage in the standard place, else where OpenAI-compatible servers put it: Groq's
        // `x_groq.usage`, or the finishing choice (Together and others).
        let groq_usage = chunk.x_groq.0.and_then(|extension| extension.usage);
        if let Some(raw) = [chunk.usage, groq_usage, choice_usage]
            .into_iter()
            .flatten()
            .find(|usage| usage.is_object())
        {
            self.lifecycle.ensure(out);
            usage(raw).push(out);
        }
        if let Some(error) = chunk.error.filter(|error| !error.is_null()) {
            self.fail(stream_error(self.provider, &json!({"error": error})), out);
        }
    }

    fn fail(&mut self, error: StreamEvent, out: &mut Vec<StreamEvent>) {
        self.lifecycle.end(error, out);
    }
}

impl SseProtocol for ChatDecoder {
    fn handle(&mut self, event: &SseEvent, out: &mut Vec<StreamEvent>) {
        self.handle_event(event, out);
    }

    /// A body that ends before `[DONE]` was cut, even after the finish chunk: the usage chunk
    /// (always requested) and, from OpenRouter, an error may still have been on their way.
    fn end_of_body(&mut self, out: &mut Vec<StreamEvent>) {
        if !(self.done && self.finished) {
            let what = if self.done { "a finish reason" } else { "[DONE]" };
            self.lifecycle.cut(self.provider, what, out);
        }
    }

    fn is_done(&self) -> bool {
        self.done || self.lifecycle.is_ended()
    }
}

pub(crate) fn preview(data: &str) -> String {
    let mut preview: String = data.chars().take(200).collect();
    if preview.len() < data.len() {
        preview.push('…');
    }
    preview
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode(chunks: &[&str]) -> crate::model::accumulate::Accumulator {
        let mut decoder = ChatDecoder::new("openai", ResponseMeta::default());
        let mut out = Vec::new();
        for data in chunks {
            let event = SseEvent {
                event: None,
                data: (*data).to_owned(),
                id: None,
            };
            decoder.handle(&event, &mut out);
        }
        decoder.end_of_body(&mut out);
        let mut accumulator = crate::model::accumulate::Accumulator::new();
        for event in &out {
            accumulator.apply(event, std::time::Duration::from_millis(1));
        }
        accumulator
    }

    #[test]
    fn a_refusal_is_the_answer_and_marks_the_finish() {
        let accumulator = decode(&[
            r#"{"choices":[{"delta":{"role":"assistant","content":null,"refusal":""}}]}"#,
            r#"{"choices":[{"delta":{"content":null,"refusal":"I can't"}}]}"#,
            r#"{"choices":[{"delta":{"content":null,"refusal":" help."}}]}"#,
            r#"{"choices":[{"delta":{},"finish_reason":"stop"}]}"#,
            "[DONE]",
        ]);
        assert_eq!(accumulator.text, "I can't help.");
        assert_eq!(accumulator.finish_reason, Some(FinishReason::Refusal));
        assert_eq!(accumulator.raw_finish_reason.as_deref(), Some("stop"));
        assert!(accumulator.time_to_first_token().is_some());
        assert!(accumulator.is_complete());
    }

    #[test]
    fn explicit_nulls_read_as_absent_and_an_odd_finish_reason_still_finishes() {
        // As SGLang and LiteLLM write them: every optional field present, as `null`.
        let accumulator = decode(&[
            r#"{"choices":[{"index":0,"delta":{"role":"assistant","content":"Hi","tool_calls":null,"function_call":null,"refusal":null,"reasoning_content":null},"finish_reason":null}],"usage":null}"#,
            r#"{"choices":[{"index":0,"delta":{"tool_calls":[{"index":null,"id":"c1","function":{"name":"f","arguments":null}}]}}]}"#,
            r#"{"choices":[{"index":0,"delta":{"tool_calls":[{"index":-1,"function":{"arguments":"{}"}}]},"finish_reason":1}]}"#,
            r#"{"choices":null,"usage":{"prompt_tokens":3,"completion_tokens":2,"total_tokens":5}}"#,
            "[DONE]",
        ]);
        assert_eq!(accumulator.text, "Hi");
        let calls = accumulator.tool_calls();
        assert_eq!(calls.len(), 1);
        assert_eq!(
            (calls[0].name.as_deref(), calls[0].arguments.as_str()),
            (Some("f"), "{}")
        );
        assert_eq!(accumulator.raw_finish_reason.as_deref(), Some("1"));
        assert_eq!(
            accumulator.usage.as_ref().and_then(|usage| usage.output_tokens),
            Some(2)
        );
        assert!(accumulator.is_complete(), "{:?}", accumulator.error);
    }

    #[test]
    fn a_stream_that_ends_before_done_was_cut_even_after_its_finish() {
        let finished = [
            r#"{"choices":[{"delta":{"content":"Hi"}}]}"#,
            r#"{"choices":[{"delta":{},"finish_reason":"stop"}]}"#,
        ];
        let accumulator = decode(&finished);
        assert_eq!(accumulator.text, "Hi", "the text is kept");
        assert_eq!(accumulator.finish_reason, Some(FinishReason::Stop));
        assert!(!accumulator.is_complete());
        let error = accumulator.error.expect("cut");
        assert_eq!(error.kind, crate::model::error::ErrorKind::Network);
        assert_eq!(error.message, "the stream ended before [DONE]");
        let mut whole = finished.to_vec();
        whole.push("[DONE]");
        assert!(decode(&whole).is_complete());
    }

    #[test]
    fn usage_counts_that_are_no_counts_are_flagged_and_never_summed() {
        for (value, shown) in [
            ("9223372036854775808", "9223372036854775808"),
            ("18446744073709551616", "1.8446744073709552e+19"),
            ("-1", "-1"),
            ("1.5", "1.5"),
            ("\"12\"", "\"12\""),
            ("9007199254740993", "9007199254740993"),
        ] {
            let usage_chunk = format!(
                r#"{{"choices":[],"usage":{{"prompt_tokens":5,"completion_tokens":{value},"total_tokens":7}}}}"#
            );
            let accumulator = decode(&[
                r#"{"choices":[{"delta":{"content":"Hi"},"finish_reason":"stop"}]}"#,
                &usage_chunk,
                "[DONE]",
            ]);
            let usage = accumulator.usage.clone().expect("usage");
            assert_eq!((usage.input_tokens, usage.output_tokens), (Some(5), None), "{value}");
            let reason = accumulator.implausible_usage().expect("flagged");
            assert!(reason.contains(&format!("completion_tokens = {shown}")), "{reason}");
            assert!(accumulator.is_complete());
        }
        // 2^53 itself, and a whole number written as a float, are counts.
        let accumulator = decode(&[
            r#"{"choices":[{"delta":{"content":"Hi"},"finish_reason":"stop"}]}"#,
            r#"{"choices":[],"usage":{"prompt_tokens":9007199254740992,"completion_tokens":12.0}}"#,
            "[DONE]",
        ]);
        let usage = accumulator.usage.clone().expect("usage");
        assert_eq!(
            (usage.input_tokens, usage.output_tokens),
            (Some(9_007_199_254_740_992), Some(12))
        );
        assert_eq!(accumulator.implausible_usage(), None);
    }

    #[test]
    fn usage_is_read_from_vendor_extensions_and_the_finishing_choice() {
        let groq = decode(&[
            r#"{"choices":[{"delta":{"content":"Hi"}}]}"#,
            r#"{"choices":[{"delta":{},"finish_reason":"stop"}],"x_groq":{"id":"req_1","usage":{"prompt_tokens":12,"completion_tokens":26,"total_tokens":38}}}"#,
            "[DONE]",
        ]);
        let usage = groq.usage.expect("usage from x_groq");
        assert_eq!((usage.input_tokens, usage.output_tokens), (Some(12), Some(26)));

        let on_choice = decode(&[
            r#"{"choices":[{"delta":{"content":"Hi"}}]}"#,
            r#"{"choices":[{"delta":{},"finish_reason":"stop","usage":{"prompt_tokens":5,"completion_tokens":1}}]}"#,
            "[DONE]",
        ]);
        let usage = on_choice.usage.expect("usage from the finishing choice");
        assert_eq!((usage.input_tokens, usage.output_tokens), (Some(5), Some(1)));

        // The standard place wins over the extensions when both are there.
        let both = decode(&[
            r#"{"choices":[{"delta":{"content":"Hi"},"finish_reason":"stop"}],"usage":{"prompt_tokens":7,"completion_tokens":2},"x_groq":{"usage":{"prompt_tokens":1,"completion_tokens":1}}}"#,
            "[DONE]",
        ]);
        assert_eq!(both.usage.and_then(|usage| usage.input_tokens), Some(7));
    }
}
