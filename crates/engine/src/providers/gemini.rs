//! Gemini `streamGenerateContent?alt=sse`, as served by AI Studio and by Vertex AI.
//!
//! Each SSE event is a whole `GenerateContentResponse`; there is no `[DONE]`, so a body that ends
//! without a `finishReason` was cut. Text, thoughts and function calls are parts of the first
//! candidate; function calls arrive whole. `usageMetadata` rides on every chunk and is cumulative,
//! so each change is reported and the last one wins. A prompt the safety filters block has
//! `promptFeedback.blockReason` and no candidates. Errors, inside the stream and in HTTP bodies,
//! are google.rpc.Status objects; [`refine_rpc_status`] reads the details other clouds lack
//! (retry delay, spent quota, invalid API key).
//!
//! Left out: more than one candidate (ModelBench never asks for them), thought signatures (only
//! needed to replay a conversation) and code-execution parts.

use serde::Deserialize;
use serde::de::IgnoredAny;
use serde_json::{Map, Value, json};

use super::openai_chat::preview;
use super::{
    Capabilities, Lifecycle, ParameterFields, ReadUsage, SseProtocol, insert_parameters, lenient_string,
    null_as_default, protocol_error, stream_error,
};
use crate::framing::sse::SseEvent;
use crate::model::error::{ErrorKind, ProviderError};
use crate::model::event::{FinishReason, ResponseMeta, StreamEvent, Usage};
use crate::model::request::{Parameters, Prompt, Role};

pub const CAPABILITIES: Capabilities = Capabilities::ALL;

/// The body for both AI Studio and Vertex; the model is named in the URL.
pub fn request_body(prompt: &Prompt, parameters: &Parameters) -> Value {
    let contents: Vec<Value> = prompt
        .messages
        .iter()
        .map(|message| {
            let role = match message.role {
                Role::User => "user",
                Role::Assistant => "model",
            };
            json!({"role": role, "parts": [{"text": message.content}]})
        })
        .collect();
    let mut body = Map::new();
    body.insert("contents".into(), Value::Array(contents));
    if let Some(system) = &prompt.system {
        body.insert("systemInstruction".into(), json!({"parts": [{"text": system}]}));
    }
    let mut config = Map::new();
    insert_parameters(
        &mut config,
        parameters,
        &ParameterFields {
            temperature: Some("temperature"),
            top_p: Some("topP"),
            max_output_tokens: Some("maxOutputTokens"),
            stop_sequences: Some("stopSequences"),
            seed: Some("seed"),
        },
    );
    if !config.is_empty() {
        body.insert("generationConfig".into(), Value::Object(config));
    }
    Value::Object(body)
}

// `null` reads as absent everywhere (`"thought": null`, `"candidates": null`): a chunk that fails
// to decode would cost the answer.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Chunk {
    #[serde(default, deserialize_with = "null_as_default")]
    candidates: Vec<Candidate>,
    #[serde(default)]
    usage_metadata: Option<Value>,
    #[serde(default)]
    model_version: Option<String>,
    #[serde(default)]
    prompt_feedback: Option<PromptFeedback>,
    /// Present and not `null`: the chunk is a google.rpc.Status error, read as a `Value`.
    #[serde(default)]
    error: Option<IgnoredAny>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Candidate {
    #[serde(default)]
    content: Option<Content>,
    #[serde(default, deserialize_with = "lenient_string")]
    finish_reason: Option<String>,
}

#[derive(Debug, Deserialize)]
struct Content {
    #[serde(default, deserialize_with = "null_as_default")]
    parts: Vec<Part>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Part {
    #[serde(default)]
    text: Option<String>,
    /// A thought summary (reasoning), not answer text.
    #[serde(default, deserialize_with = "null_as_default")]
    thought: bool,
    #[serde(default)]
    function_call: Option<FunctionCall>,
}

#[derive(Debug, Deserialize)]
struct FunctionCall {
    /// Vertex and newer models name each call; older ones do not.
    #[serde(default)]
    id: Option<String>,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    args: Option<Value>,
    /// Streamed arguments (Vertex): pieces of the arguments, each at a JSON path.
    #[serde(default, rename = "partialArgs", deserialize_with = "null_as_default")]
    partial_args: Vec<PartialArg>,
    /// More of this call follows in later parts.
    #[serde(default, rename = "willContinue", deserialize_with = "null_as_default")]
    will_continue: bool,
}

/// One piece of a streamed call's arguments: a value at `jsonPath`. A string with
/// `willContinue` is continued by the next piece at the same path.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct PartialArg {
    #[serde(default)]
    json_path: Option<String>,
    #[serde(default)]
    string_value: Option<String>,
    #[serde(default)]
    number_value: Option<Value>,
    #[serde(default)]
    bool_value: Option<bool>,
    #[serde(default)]
    null_value: Option<Value>,
}

/// A function call whose arguments are still streaming in.
struct OpenCall {
    index: u32,
    arguments: Value,
}

impl OpenCall {
    fn apply(&mut self, partial: &PartialArg) {
        let Some(path) = partial.json_path.as_deref().and_then(parse_json_path) else {
            return;
        };
        let Some(slot) = slot_at(&mut self.arguments, &path) else {
            return;
        };
        if let Some(piece) = &partial.string_value {
            match slot {
                Value::String(text) => text.push_str(piece),
                _ => *slot = Value::String(piece.clone()),
            }
        } else if let Some(number) = &partial.number_value {
            *slot = number.clone();
        } else if let Some(boolean) = partial.bool_value {
            *slot = Value::Bool(boolean);
        } else if partial.null_value.is_some() {
            *slot = Value::Null;
        }
    }
}

/// One step of a JSON path: an object key or an array index.
#[derive(Debug, PartialEq)]
enum PathStep {
    Key(String),
    Index(usize),
}

/// Parses the JSONPath subset Vertex uses for streamed arguments: `$`, then `.key`, `[index]`
/// and `['key']`/`["key"]` steps. `None` for anything else.
fn parse_json_path(path: &str) -> Option<Vec<PathStep>> {
    let mut rest = path.strip_prefix('$')?;
    let mut steps = Vec::new();
    while !rest.is_empty() {
        if let Some(after) = rest.strip_prefix('.') {
            let end = after.find(['.', '[']).unwrap_or(after.len());
            if end == 0 {
                return None;
            }
            steps.push(PathStep::Key(after[..end].to_owned()));
            rest = &after[end..];
        } else if let Some(after) = rest.strip_prefix('[') {
            if let Some(quote) = after.chars().next().filter(|quote| *quote == '\'' || *quote == '"') {
                let inner = &after[1..];
                let close = inner.find(quote)?;
                steps.push(PathStep::Key(inner[..close].to_owned()));
                rest = inner[close + 1..].strip_prefix(']')?;
            } else {
                let close = after.find(']')?;
                steps.push(PathStep::Index(after[..close].trim().parse().ok()?));
                rest = &after[close + 1..];
            }
        } else {
            return None;
        }
    }
    Some(steps)
}

/// How far past an array's end a streamed argument may land. Pieces arrive in order, so a real
/// index is at most the array's length; one far beyond it would make the decoder allocate
/// whatever the server names (`[9223372036854775807]`), and is ignored instead.
const MAX_ARRAY_GAP: usize = 1024;

/// The value at `path` inside `root`, creating the objects and arrays on the way (a step into
/// something else replaces it, so indexing below always finds its container). `None` for an
/// index too far past its array's end.
fn slot_at<'a>(root: &'a mut Value, path: &[PathStep]) -> Option<&'a mut Value> {
    let mut current = root;
    for step in path {
        match step {
            PathStep::Key(key) => {
                if !current.is_object() {
                    *current = Value::Object(serde_json::Map::new());
                }
                current = &mut current[key.as_str()];
            }
            PathStep::Index(index) => {
                let length = current.as_array().map_or(0, Vec::len);
                if *index > length.saturating_add(MAX_ARRAY_GAP) {
                    return None;
                }
                match current {
                    Value::Array(items) if items.len() > *index => {}
                    Value::Array(items) => items.resize(index + 1, Value::Null),
                    _ => *current = Value::Array(vec![Value::Null; index + 1]),
                }
                current = &mut current[*index];
            }
        }
    }
    Some(current)
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct PromptFeedback {
    #[serde(default)]
    block_reason: Option<String>,
    #[serde(default)]
    block_reason_message: Option<String>,
}

/// Gemini says `STOP` even when the model called functions; `called_functions` tells them apart.
pub fn finish_reason(raw: &str, called_functions: bool) -> FinishReason {
    match raw {
        "STOP" if called_functions => FinishReason::ToolCalls,
        "STOP" => FinishReason::Stop,
        "MAX_TOKENS" => FinishReason::Length,
        "SAFETY"
        | "RECITATION"
        | "BLOCKLIST"
        | "PROHIBITED_CONTENT"
        | "SPII"
        | "IMAGE_SAFETY"
        | "IMAGE_PROHIBITED_CONTENT"
        | "IMAGE_RECITATION" => FinishReason::ContentFilter,
        _ => FinishReason::Other,
    }
}

/// `usageMetadata` normalised. Gemini counts thoughts apart from `candidatesTokenCount`; here
/// output includes them, as it does for every other cloud (OpenAI's `completion_tokens`,
/// Anthropic's `output_tokens`), because they are generated and billed as output. Reasoning is
/// the thoughts alone; cached input is part of the input, as with OpenAI.
pub(crate) fn usage(raw: Value) -> ReadUsage {
    ReadUsage::read(raw, |counts| {
        let candidates = counts.get(&["candidatesTokenCount"]);
        let thoughts = counts.get(&["thoughtsTokenCount"]);
        let output = counts.sum("candidatesTokenCount + thoughtsTokenCount", &[candidates, thoughts]);
        Usage {
            input_tokens: counts.get(&["promptTokenCount"]),
            output_tokens: output,
            reasoning_tokens: thoughts,
            cached_input_tokens: counts.get(&["cachedContentTokenCount"]),
            total_tokens: counts.get(&["totalTokenCount"]),
            ..Usage::default()
        }
    })
}

pub struct GeminiDecoder {
    provider: &'static str,
    lifecycle: Lifecycle,
    /// The last usage reported, so unchanged repeats are not reported again.
    usage: Option<Value>,
    function_calls: u32,
    /// A call whose arguments are streaming in (`willContinue`), assembled until it closes.
    open_call: Option<OpenCall>,
    /// The chunk with a finish reason came (the protocol's terminal event).
    finished: bool,
}

impl GeminiDecoder {
    pub fn new(provider: &'static str, meta: ResponseMeta) -> Self {
        Self {
            provider,
            lifecycle: Lifecycle::new(meta),
            usage: None,
            function_calls: 0,
            open_call: None,
            finished: false,
        }
    }

    fn handle_event(&mut self, event: &SseEvent, out: &mut Vec<StreamEvent>) {
        if self.is_done() || event.data.trim().is_empty() {
            return;
        }
        // One typed parse for a normal chunk; anything else (an error payload, a chunk that does
        // not decode) takes the slow path through a `Value`, which tells them apart.
        let chunk = match serde_json::from_str::<Chunk>(&event.data) {
            Ok(chunk) if chunk.error.is_none() => chunk,
            _ => match self.slow_path(&event.data, out) {
                Some(chunk) => chunk,
                None => return,
            },
        };
        self.lifecycle.observe_model(chunk.model_version.as_deref(), out);
        let candidate = chunk.candidates.first();
        for part in candidate
            .and_then(|candidate| candidate.content.as_ref())
            .map_or(&[][..], |content| content.parts.as_slice())
        {
            self.part(part, out);
        }
        if let Some(raw) = chunk.usage_metadata.filter(|usage| !usage.is_null())
            && self.usage.as_ref() != Some(&raw)
        {
            self.usage = Some(raw.clone());
            self.lifecycle.ensure(out);
            usage(raw).push(out);
        }
        if let Some(raw) = candidate.and_then(|candidate| candidate.finish_reason.as_deref()) {
            // The chunk with the finish reason is the last: a call still streaming ends with it.
            self.close_call(out);
            self.lifecycle.ensure(out);
            self.finished = true;
            out.push(StreamEvent::Finished {
                reason: finish_reason(raw, self.function_calls > 0),
                raw_reason: Some(raw.to_owned()),
            });
        } else if candidate.is_none()
            && let Some(feedback) = &chunk.prompt_feedback
            && let Some(reason) = &feedback.block_reason
        {
            self.prompt_blocked(reason, feedback.block_reason_message.as_deref(), out);
        }
    }

    /// A chunk that is an error, or that did not decode: the error it ends the stream with, or
    /// (a chunk that decodes after all) the chunk.
    fn slow_path(&mut self, data: &str, out: &mut Vec<StreamEvent>) -> Option<Chunk> {
        let json: Value = match serde_json::from_str(data) {
            Ok(json) => json,
            Err(error) => {
                let message = format!("undecodable chunk ({error}): {}", preview(data));
                self.fail(protocol_error(self.provider, message), out);
                return None;
            }
        };
        if json.get("error").is_some_and(|error| !error.is_null()) {
            self.fail(stream_error(self.provider, &json), out);
            return None;
        }
        match serde_json::from_value(json) {
            Ok(chunk) => Some(chunk),
            Err(error) => {
                let message = format!("unexpected chunk ({error}): {}", preview(data));
                self.fail(protocol_error(self.provider, message), out);
                None
            }
        }
    }

    fn part(&mut self, part: &Part, out: &mut Vec<StreamEvent>) {
        if let Some(text) = &part.text {
            let text = text.clone();
            let event = if part.thought {
                StreamEvent::ReasoningDelta { text }
            } else {
                StreamEvent::TextDelta { text }
            };
            self.lifecycle.content(event, out);
        }
        if let Some(call) = &part.function_call {
            self.function_call(call, out);
        }
    }

    /// A call arrives whole (`name` and `args`), or streamed (Vertex): a part with the name and
    /// `willContinue` opens it, parts with `partialArgs` add to its arguments, and the first part
    /// without `willContinue` closes it. A streamed call is one call, its arguments the JSON
    /// assembled from the pieces; each part is a content arrival.
    fn function_call(&mut self, call: &FunctionCall, out: &mut Vec<StreamEvent>) {
        if let Some(open) = &mut self.open_call {
            for partial in &call.partial_args {
                open.apply(partial);
            }
            let index = open.index;
            self.lifecycle.content(
                StreamEvent::ToolCallDelta {
                    index,
                    id: None,
                    name: None,
                    arguments: String::new(),
                },
                out,
            );
            if !call.will_continue {
                self.close_call(out);
            }
            return;
        }
        let index = self.function_calls;
        self.function_calls += 1;
        let streamed = call.will_continue || !call.partial_args.is_empty();
        if !streamed {
            let arguments = call.args.as_ref().map_or_else(|| "{}".to_owned(), Value::to_string);
            self.lifecycle.content(
                StreamEvent::ToolCallDelta {
                    index,
                    id: call.id.clone(),
                    name: call.name.clone(),
                    arguments,
                },
                out,
            );
            return;
        }
        let mut open = OpenCall {
            index,
            arguments: call
                .args
                .clone()
                .filter(Value::is_object)
                .unwrap_or_else(|| Value::Object(serde_json::Map::new())),
        };
        for partial in &call.partial_args {
            open.apply(partial);
        }
        self.open_call = Some(open);
        self.lifecycle.content(
            StreamEvent::ToolCallDelta {
                index,
                id: call.id.clone(),
                name: call.name.clone(),
                arguments: String::new(),
            },
            out,
        );
        if !call.will_continue {
            self.close_call(out);
        }
    }

    /// Reports the assembled arguments of the open call, if any: when it closes, and when the
    /// stream ends or breaks before it did (the arguments received so far are kept).
    fn close_call(&mut self, out: &mut Vec<StreamEvent>) {
        if let Some(open) = self.open_call.take() {
            self.lifecycle.content(
                StreamEvent::ToolCallDelta {
                    index: open.index,
                    id: None,
                    name: None,
                    arguments: open.arguments.to_string(),
                },
                out,
            );
        }
    }

    /// The prompt itself was refused: nothing was generated. Reported like Azure's prompt
    /// filter, as a content-filter error, so it is never mistaken for an empty answer.
    fn prompt_blocked(&mut self, reason: &str, detail: Option<&str>, out: &mut Vec<StreamEvent>) {
        self.lifecycle.ensure(out);
        self.finished = true;
        out.push(StreamEvent::Finished {
            reason: FinishReason::ContentFilter,
            raw_reason: Some(format!("prompt blocked: {reason}")),
        });
        let mut message = format!("the prompt was blocked by Google's safety filters (blockReason {reason})");
        if let Some(detail) = detail.filter(|detail| !detail.is_empty()) {
            message.push_str(": ");
            message.push_str(detail);
        }
        let mut error = ProviderError::new(ErrorKind::ContentFilter, self.provider, message);
        error.code = Some(reason.to_owned());
        self.fail(StreamEvent::Error(error), out);
    }

    fn fail(&mut self, error: StreamEvent, out: &mut Vec<StreamEvent>) {
        self.close_call(out);
        self.lifecycle.end(error, out);
    }
}

impl SseProtocol for GeminiDecoder {
    fn handle(&mut self, event: &SseEvent, out: &mut Vec<StreamEvent>) {
        self.handle_event(event, out);
    }

    fn end_of_body(&mut self, out: &mut Vec<StreamEvent>) {
        if self.lifecycle.is_ended() {
            return;
        }
        self.close_call(out);
        if !self.finished {
            self.lifecycle.cut(self.provider, "a finish reason", out);
        }
    }

    /// The chunk with a finish reason (and the usage in it) is the end: Gemini sends no `[DONE]`,
    /// so anything after it (a gateway's `data: [DONE]`, the stream replayed) is ignored.
    fn is_done(&self) -> bool {
        self.finished || self.lifecycle.is_ended()
    }
}

/// Reads what a google.rpc.Status error says beyond its code: `RetryInfo.retryDelay` becomes the
/// retry hint; a `RESOURCE_EXHAUSTED` that is a spent quota (a daily limit, a limit of 0, no
/// credits left) is [`ErrorKind::Quota`], since waiting a minute will not help; an invalid API
/// key, which Gemini reports as `INVALID_ARGUMENT`, is [`ErrorKind::Auth`]. Payloads of other
/// shapes are left alone.
pub(crate) fn refine_rpc_status(error: &mut ProviderError, json: &Value) {
    let inner = json.get("error").unwrap_or(json);
    let Some(status) = inner.get("status").and_then(Value::as_str) else {
        return;
    };
    let details = inner
        .get("details")
        .and_then(Value::as_array)
        .map_or(&[][..], Vec::as_slice);
    let of_type = |name: &'static str| {
        details.iter().filter(move |detail| {
            detail
                .get("@type")
                .and_then(Value::as_str)
                .is_some_and(|kind| kind.ends_with(name))
        })
    };
    if error.retry_after_ms.is_none() {
        error.retry_after_ms = of_type("google.rpc.RetryInfo")
            .find_map(|detail| detail.get("retryDelay").and_then(Value::as_str))
            .and_then(duration_ms);
    }
    let reasons: Vec<&str> = of_type("google.rpc.ErrorInfo")
        .filter_map(|detail| detail.get("reason").and_then(Value::as_str))
        .collect();
    let kind = if reasons
        .iter()
        .any(|reason| matches!(*reason, "API_KEY_INVALID" | "API_KEY_EXPIRED"))
    {
        ErrorKind::Auth
    } else if status == "RESOURCE_EXHAUSTED" && quota_spent(inner, details) {
        ErrorKind::Quota
    } else {
        return;
    };
    error.reclassify(kind);
}

/// Whether a `RESOURCE_EXHAUSTED` names a limit that a short wait does not lift.
fn quota_spent(inner: &Value, details: &[Value]) -> bool {
    let message = inner
        .get("message")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_ascii_lowercase();
    let daily = |text: &str| {
        let text = text.to_ascii_lowercase();
        text.contains("perday") || text.contains("per_day") || text.contains("per day")
    };
    // QuotaFailure violations name the quota (`…PerDayPerProjectPerModel-FreeTier`); ErrorInfo
    // metadata does the same on other Google APIs (`quota_limit`).
    let named_daily = details.iter().any(|detail| {
        let violations = detail.get("violations").and_then(Value::as_array);
        violations.into_iter().flatten().any(|violation| {
            ["quotaId", "quotaMetric"]
                .iter()
                .filter_map(|key| violation.get(*key).and_then(Value::as_str))
                .any(daily)
        }) || detail
            .pointer("/metadata/quota_limit")
            .and_then(Value::as_str)
            .is_some_and(daily)
    });
    named_daily
        || daily(&message)
        || message.contains("limit: 0")
        || message.contains("credits are depleted")
        || message.contains("billing account")
}

/// A google.protobuf.Duration in its JSON form (`"37s"`, `"36.429760048s"`) in milliseconds.
fn duration_ms(text: &str) -> Option<u64> {
    let seconds: f64 = text.trim().strip_suffix('s')?.parse().ok()?;
    (seconds.is_finite() && seconds >= 0.0).then(|| (seconds * 1000.0).round() as u64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::request::Message;

    #[test]
    fn json_paths_of_streamed_arguments_parse() {
        use PathStep::{Index, Key};
        assert_eq!(
            parse_json_path("$.recipe.ingredients[10].name"),
            Some(vec![
                Key("recipe".into()),
                Key("ingredients".into()),
                Index(10),
                Key("name".into())
            ])
        );
        assert_eq!(
            parse_json_path("$['a.b'][\"c\"]"),
            Some(vec![Key("a.b".into()), Key("c".into())])
        );
        assert_eq!(parse_json_path("$"), Some(vec![]));
        for bad in ["recipe", "$.", "$[x]", "$['open", "$x"] {
            assert_eq!(parse_json_path(bad), None, "{bad}");
        }
    }

    fn partial(path: &str, value: Value, will_continue: bool) -> Value {
        let mut piece = serde_json::json!({"jsonPath": path, "willContinue": will_continue});
        let field = match &value {
            Value::String(_) => "stringValue",
            Value::Number(_) => "numberValue",
            Value::Bool(_) => "boolValue",
            _ => "nullValue",
        };
        piece[field] = value;
        piece
    }

    /// Decodes SSE `data` payloads and folds the events, as the runner would.
    fn decode_chunks<const N: usize>(chunks: [String; N]) -> crate::model::accumulate::Accumulator {
        let mut decoder = GeminiDecoder::new("vertex", ResponseMeta::default());
        let mut out = Vec::new();
        for data in chunks {
            decoder.handle(
                &SseEvent {
                    event: None,
                    data,
                    id: None,
                },
                &mut out,
            );
        }
        decoder.end_of_body(&mut out);
        let mut accumulator = crate::model::accumulate::Accumulator::new();
        for event in &out {
            accumulator.apply(event, std::time::Duration::ZERO);
        }
        accumulator
    }

    fn decode_body(body: &str) -> (Vec<StreamEvent>, crate::model::accumulate::Accumulator) {
        let mut decoder = crate::providers::Protocol::GeminiGenerate.decoder(
            crate::model::target::ProviderKind::Gemini,
            "m",
            ResponseMeta::default(),
        );
        let mut events = Vec::new();
        decoder.feed(body.as_bytes(), &mut events);
        decoder.finish(&mut events);
        let mut accumulator = crate::model::accumulate::Accumulator::new();
        for event in &events {
            accumulator.apply(event, std::time::Duration::ZERO);
        }
        (events, accumulator)
    }

    #[test]
    fn nulls_read_as_absent() {
        let (_, accumulator) = decode_body(concat!(
            "data: {\"candidates\": null, \"usageMetadata\": null}\n\n",
            "data: {\"candidates\": [{\"content\": {\"parts\": [{\"text\": \"Hi\", \"thought\": null}]}, \"finishReason\": null}]}\n\n",
            "data: {\"candidates\": [{\"content\": {\"parts\": null}}]}\n\n",
            "data: {\"candidates\": [{\"content\": {\"parts\": [{\"functionCall\": {\"name\": \"f\", \"args\": {}, \"partialArgs\": null, \"willContinue\": null}}]}, \"finishReason\": \"STOP\"}]}\n\n",
        ));
        assert_eq!(accumulator.text, "Hi");
        assert_eq!(accumulator.tool_calls().len(), 1);
        assert_eq!(accumulator.finish_reason, Some(FinishReason::ToolCalls));
        assert!(accumulator.is_complete(), "{:?}", accumulator.error);
    }

    #[test]
    fn the_chunk_with_a_finish_reason_is_the_end() {
        let body = concat!(
            "data: {\"candidates\": [{\"content\": {\"parts\": [{\"text\": \"The answer is \"}]}}]}\n\n",
            "data: {\"candidates\": [{\"content\": {\"parts\": [{\"text\": \"42.\"}]}, \"finishReason\": \"STOP\"}], \"usageMetadata\": {\"promptTokenCount\": 5, \"candidatesTokenCount\": 4}}\n\n",
        );
        let (once, accumulator) = decode_body(body);
        assert_eq!(accumulator.text, "The answer is 42.");
        for (extra, what) in [
            ("data: [DONE]\r\n\r\n", "a gateway's [DONE]"),
            (body, "the stream again"),
            (
                "data: {\"candidates\": [{\"content\": {\"parts\": [{\"text\": \" More.\"}]}}]}\n\n",
                "more text",
            ),
        ] {
            let (events, after) = decode_body(&format!("{body}{extra}"));
            assert_eq!(after.text, accumulator.text, "{what}");
            assert_eq!(after.usage, accumulator.usage, "{what}");
            assert!(after.is_complete(), "{what}: {:?}", after.error);
            assert_eq!(events.len(), once.len() + 1, "{what}: one warning more");
            assert!(matches!(
                events.last(),
                Some(StreamEvent::Warning {
                    kind: crate::model::event::WarningKind::AfterEnd,
                    ..
                })
            ));
        }
        // Keep-alives after the end are nothing to warn about.
        let (events, _) = decode_body(&format!("{body}: ping\n\n\n"));
        assert_eq!(events, once);
    }

    fn chunk_with(call: Value) -> String {
        serde_json::json!({"candidates": [{"content": {"role": "model", "parts": [{"functionCall": call}]}}]})
            .to_string()
    }

    #[test]
    fn streamed_function_call_arguments_assemble_into_one_call() {
        use serde_json::json;
        let accumulator = decode_chunks([
            chunk_with(json!({"name": "book", "willContinue": true})),
            chunk_with(json!({"partialArgs": [partial("$.city", json!("Par"), true)], "willContinue": true})),
            chunk_with(json!({"partialArgs": [partial("$.city", json!("is"), true)], "willContinue": true})),
            chunk_with(json!({"partialArgs": [partial("$.city", json!(""), false)], "willContinue": true})),
            chunk_with(
                json!({"partialArgs": [partial("$.nights[1]", json!(3), false), partial("$.pets", json!(false), false)], "willContinue": true}),
            ),
            chunk_with(json!({})),
            json!({"candidates": [{"finishReason": "STOP"}]}).to_string(),
        ]);
        let calls = accumulator.tool_calls();
        assert_eq!(calls.len(), 1, "{calls:?}");
        assert_eq!(calls[0].name.as_deref(), Some("book"));
        let arguments: Value = serde_json::from_str(&calls[0].arguments).expect("JSON arguments");
        assert_eq!(arguments, json!({"city": "Paris", "nights": [null, 3], "pets": false}));
        assert_eq!(accumulator.finish_reason, Some(FinishReason::ToolCalls));
        assert!(accumulator.is_complete());
    }

    #[test]
    fn a_streamed_argument_far_past_its_array_is_ignored() {
        let accumulator = decode_chunks([
            chunk_with(json!({"name": "f", "willContinue": true})),
            chunk_with(json!({"partialArgs": [
                partial("$.list[0]", json!("a"), false),
                partial("$.list[9223372036854775807]", json!("b"), false),
                partial("$.list[18446744073709551615]", json!("c"), false),
            ], "willContinue": false})),
        ]);
        let calls = accumulator.tool_calls();
        assert_eq!(calls[0].arguments, r#"{"list":["a"]}"#);
    }

    #[test]
    fn a_streamed_call_cut_off_keeps_the_arguments_received() {
        use serde_json::json;
        let accumulator = decode_chunks([
            chunk_with(json!({"name": "book", "willContinue": true})),
            chunk_with(json!({"partialArgs": [partial("$.city", json!("Par"), true)], "willContinue": true})),
        ]);
        assert_eq!(accumulator.tool_calls()[0].arguments, r#"{"city":"Par"}"#);
        assert!(accumulator.error.is_some(), "the stream was cut off");
    }

    #[test]
    fn the_body_maps_roles_system_and_generation_config() {
        let mut prompt = Prompt::user("Hi").with_system(Some("Be brief.".into()));
        prompt.messages.push(Message {
            role: Role::Assistant,
            content: "Hello.".into(),
        });
        prompt.messages.push(Message {
            role: Role::User,
            content: "Again".into(),
        });
        let parameters = Parameters {
            temperature: Some(0.5),
            top_p: Some(0.9),
            max_output_tokens: Some(64),
            stop_sequences: vec!["END".into()],
            seed: Some(7),
        };
        assert_eq!(
            request_body(&prompt, &parameters),
            json!({
                "contents": [
                    {"role": "user", "parts": [{"text": "Hi"}]},
                    {"role": "model", "parts": [{"text": "Hello."}]},
                    {"role": "user", "parts": [{"text": "Again"}]},
                ],
                "systemInstruction": {"parts": [{"text": "Be brief."}]},
                "generationConfig": {
                    "temperature": 0.5,
                    "maxOutputTokens": 64,
                    "topP": 0.9,
                    "stopSequences": ["END"],
                    "seed": 7,
                },
            })
        );
        // Nothing set, nothing sent: the cloud's defaults apply.
        assert_eq!(
            request_body(&Prompt::user("Hi"), &Parameters::default()),
            json!({"contents": [{"role": "user", "parts": [{"text": "Hi"}]}]})
        );
    }

    #[test]
    fn finish_reasons_are_normalised() {
        assert_eq!(finish_reason("STOP", false), FinishReason::Stop);
        assert_eq!(finish_reason("STOP", true), FinishReason::ToolCalls);
        assert_eq!(finish_reason("MAX_TOKENS", false), FinishReason::Length);
        for filtered in [
            "SAFETY",
            "RECITATION",
            "BLOCKLIST",
            "PROHIBITED_CONTENT",
            "SPII",
            "IMAGE_SAFETY",
        ] {
            assert_eq!(
                finish_reason(filtered, false),
                FinishReason::ContentFilter,
                "{filtered}"
            );
        }
        for other in ["MALFORMED_FUNCTION_CALL", "OTHER", "FINISH_REASON_UNSPECIFIED"] {
            assert_eq!(finish_reason(other, false), FinishReason::Other, "{other}");
        }
    }

    #[test]
    fn usage_counts_thoughts_as_output_and_as_reasoning() {
        let raw = json!({
            "promptTokenCount": 18,
            "candidatesTokenCount": 80,
            "thoughtsTokenCount": 35,
            "cachedContentTokenCount": 4,
            "totalTokenCount": 133,
        });
        let usage = usage(raw.clone()).usage;
        assert_eq!(usage.input_tokens, Some(18));
        assert_eq!(usage.output_tokens, Some(115));
        assert_eq!(usage.reasoning_tokens, Some(35));
        assert_eq!(usage.cached_input_tokens, Some(4));
        assert_eq!(usage.total_tokens, Some(133));
        assert_eq!(usage.raw, raw);
        // Early chunks carry only the prompt count: output is unknown, not zero.
        assert_eq!(
            super::usage(json!({"promptTokenCount": 15, "totalTokenCount": 15}))
                .usage
                .output_tokens,
            None
        );
    }

    #[test]
    fn durations_parse_like_protobuf_json() {
        assert_eq!(duration_ms("37s"), Some(37_000));
        assert_eq!(duration_ms("36.429760048s"), Some(36_430));
        assert_eq!(duration_ms("0.5s"), Some(500));
        assert_eq!(duration_ms("37"), None);
        assert_eq!(duration_ms("-1s"), None);
    }
}
