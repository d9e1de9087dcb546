//! InvokeModelWithResponseStream: `chunk` events whose `{"bytes": "<base64>"}` hold one piece
//! of the model family's native stream JSON.
//!
//! Claude's chunks are Anthropic Messages stream events and go through the Anthropic mapping;
//! Nova's are Converse-shaped (`{"contentBlockDelta": {…}}`) and go through the Converse one;
//! Llama, Titan and the rest stream flat objects with a text field, a stop reason and token
//! counts, read here. A model whose family the id does not show is recognised by its first
//! chunk. Every family's last chunk carries `amazon-bedrock-invocationMetrics`, Bedrock's own
//! timing of the call, reported as [`StreamEvent::ServerTiming`], and its metered token counts,
//! reported as [`StreamEvent::BilledUsage`].

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use serde_json::{Map, Value};

use super::super::anthropic::MessagesDecoder;
use super::super::openai_chat::preview;
use super::super::{Counts, Lifecycle, ReadUsage, count, protocol_error};
use super::converse::ConverseEvents;
use super::{FrameProtocol, ModelFamily};
use crate::model::event::{FinishReason, ResponseMeta, StreamEvent};

/// Bedrock's key for its own metrics in the last chunk of every family.
const INVOCATION_METRICS: &str = "amazon-bedrock-invocationMetrics";

/// How the chunks of this response are read, once known.
enum Mapping {
    Anthropic(MessagesDecoder),
    Converse(ConverseEvents),
    Native(NativeChunks),
}

pub(crate) struct InvokeChunks {
    provider: &'static str,
    family: ModelFamily,
    /// Handed to the mapping when it is created.
    meta: Option<ResponseMeta>,
    mapping: Option<Mapping>,
}

impl InvokeChunks {
    pub fn new(provider: &'static str, family: ModelFamily, meta: ResponseMeta) -> Self {
        Self {
            provider,
            family,
            meta: Some(meta),
            mapping: None,
        }
    }

    /// The mapping, created on first use from the model family or, when the model id does not
    /// tell, from the shape of the first chunk.
    fn mapping(&mut self, first_chunk: Option<&Value>) -> &mut Mapping {
        let (provider, family, meta) = (self.provider, self.family, &mut self.meta);
        self.mapping.get_or_insert_with(|| {
            let meta = meta.take().unwrap_or_default();
            let family = match (family, first_chunk) {
                (ModelFamily::Other, Some(chunk)) => sniff(chunk),
                (family, _) => family,
            };
            match family {
                ModelFamily::Anthropic => Mapping::Anthropic(MessagesDecoder::new(provider, meta)),
                ModelFamily::Nova => Mapping::Converse(ConverseEvents::new(provider, meta)),
                ModelFamily::Llama | ModelFamily::Titan | ModelFamily::Other => {
                    Mapping::Native(NativeChunks::new(provider, meta))
                }
            }
        })
    }
}

/// The family a chunk's shape belongs to.
fn sniff(chunk: &Value) -> ModelFamily {
    const CONVERSE_EVENTS: [&str; 6] = [
        "messageStart",
        "contentBlockStart",
        "contentBlockDelta",
        "contentBlockStop",
        "messageStop",
        "metadata",
    ];
    if chunk
        .get("type")
        .and_then(Value::as_str)
        .is_some_and(|kind| kind.starts_with("message_") || kind.starts_with("content_block_"))
    {
        ModelFamily::Anthropic
    } else if CONVERSE_EVENTS.iter().any(|event| chunk.get(event).is_some()) {
        ModelFamily::Nova
    } else {
        ModelFamily::Other
    }
}

impl FrameProtocol for InvokeChunks {
    fn event(&mut self, event_type: &str, payload: &Value, out: &mut Vec<StreamEvent>) {
        if event_type != "chunk" || self.is_done() {
            return;
        }
        let chunk = match decode_chunk(payload) {
            Ok(chunk) => chunk,
            Err(message) => return self.fail(protocol_error(self.provider, message), out),
        };
        match self.mapping(Some(&chunk)) {
            Mapping::Anthropic(messages) => messages.handle_json(&chunk, None, out),
            Mapping::Converse(events) => {
                if let Some(object) = chunk.as_object() {
                    for (event_type, payload) in object {
                        events.event(event_type, payload, out);
                    }
                }
            }
            Mapping::Native(native) => native.chunk(&chunk, out),
        }
        if let Some(metrics) = chunk.get(INVOCATION_METRICS) {
            out.push(StreamEvent::ServerTiming {
                latency_ms: count(metrics, &["invocationLatency"]),
                first_byte_latency_ms: count(metrics, &["firstByteLatency"]),
            });
            // Bedrock bills what Bedrock meters, which can differ from the model's own count
            // (a Claude body saying 88 output tokens, the metrics 72): kept beside the usage.
            let mut counts = Counts::new(metrics);
            let (input_tokens, output_tokens) = (counts.get(&["inputTokenCount"]), counts.get(&["outputTokenCount"]));
            out.extend(counts.warning());
            if input_tokens.is_some() || output_tokens.is_some() {
                out.push(StreamEvent::BilledUsage {
                    input_tokens,
                    output_tokens,
                });
            }
        }
    }

    fn fail(&mut self, error: StreamEvent, out: &mut Vec<StreamEvent>) {
        match self.mapping(None) {
            Mapping::Anthropic(messages) => messages.fail(error, out),
            Mapping::Converse(events) => events.fail(error, out),
            Mapping::Native(native) => native.fail(error, out),
        }
    }

    fn end_of_body(&mut self, out: &mut Vec<StreamEvent>) {
        match self.mapping(None) {
            Mapping::Anthropic(messages) => messages.end_of_body(out),
            Mapping::Converse(events) => events.end_of_body(out),
            Mapping::Native(native) => native.end_of_body(out),
        }
    }

    /// The model's stream reached its end: Anthropic's `message_stop`, Nova's `metadata`, a
    /// native stream's stop reason. Bedrock's invocation metrics ride on that same last chunk.
    fn is_done(&self) -> bool {
        match &self.mapping {
            None => false,
            Some(Mapping::Anthropic(messages)) => messages.is_done(),
            Some(Mapping::Converse(events)) => events.is_done(),
            Some(Mapping::Native(native)) => native.finished || native.lifecycle.is_ended(),
        }
    }
}

/// A chunk's `bytes`, base64-decoded and parsed.
fn decode_chunk(payload: &Value) -> Result<Value, String> {
    let encoded = payload
        .get("bytes")
        .and_then(Value::as_str)
        .ok_or_else(|| format!("a chunk without bytes: {}", preview(&payload.to_string())))?;
    let decoded = BASE64
        .decode(encoded)
        .map_err(|error| format!("a chunk whose bytes are not base64 ({error})"))?;
    serde_json::from_slice(&decoded).map_err(|error| {
        format!(
            "undecodable chunk ({error}): {}",
            preview(&String::from_utf8_lossy(&decoded))
        )
    })
}

/// Stop reasons of the flat native streams: Llama and Mistral `stop`/`length`, Titan's
/// `FINISH`/`LENGTH`/`CONTENT_FILTERED`.
fn native_finish_reason(raw: &str) -> FinishReason {
    match raw {
        "stop" | "end_turn" | "stop_sequence" | "FINISH" | "STOP_CRITERIA_MET" => FinishReason::Stop,
        "length" | "max_tokens" | "LENGTH" => FinishReason::Length,
        "CONTENT_FILTERED" | "content_filtered" | "guardrail_intervened" => FinishReason::ContentFilter,
        _ => FinishReason::Other,
    }
}

/// Token counts the flat native streams carry, and the invocation metrics every family ends
/// with; kept verbatim in `Usage::raw`.
const NATIVE_COUNTS: [&str; 5] = [
    "prompt_token_count",
    "generation_token_count",
    "inputTextTokenCount",
    "totalOutputTextTokenCount",
    INVOCATION_METRICS,
];

/// Llama (`generation`, `stop_reason`, `prompt_token_count`, `generation_token_count`), Titan
/// (`outputText`, `completionReason`, `inputTextTokenCount`, `totalOutputTextTokenCount`) and
/// the other flat streams (`outputs[0]`, `choices[0]`, `completion`).
struct NativeChunks {
    provider: &'static str,
    lifecycle: Lifecycle,
    counts: Map<String, Value>,
    input_reported: bool,
    finished: bool,
}

impl NativeChunks {
    fn new(provider: &'static str, meta: ResponseMeta) -> Self {
        Self {
            provider,
            lifecycle: Lifecycle::new(meta),
            counts: Map::new(),
            input_reported: false,
            finished: false,
        }
    }

    fn chunk(&mut self, chunk: &Value, out: &mut Vec<StreamEvent>) {
        if self.lifecycle.is_ended() {
            return;
        }
        self.lifecycle.ensure(out);
        let string = |pointer: &str| chunk.pointer(pointer).and_then(Value::as_str);
        let text = [
            "/generation",
            "/outputText",
            "/outputs/0/text",
            "/choices/0/text",
            "/completion",
        ]
        .into_iter()
        .find_map(string);
        if let Some(text) = text {
            self.lifecycle
                .content(StreamEvent::TextDelta { text: text.to_owned() }, out);
        }
        for name in NATIVE_COUNTS {
            if let Some(value) = chunk.get(name).filter(|value| !value.is_null()) {
                self.counts.insert(name.to_owned(), value.clone());
            }
        }
        let stop = [
            "/stop_reason",
            "/completionReason",
            "/outputs/0/stop_reason",
            "/choices/0/stop_reason",
            "/choices/0/finish_reason",
        ]
        .into_iter()
        .find_map(string);
        let usage = self.usage();
        // Input tokens as soon as they are known (a stream that breaks later still has them);
        // the rest with the last chunk.
        let input_now_known = !self.input_reported && usage.usage.input_tokens.is_some();
        if input_now_known || stop.is_some() || chunk.get(INVOCATION_METRICS).is_some() {
            self.input_reported = true;
            usage.push(out);
        }
        if let Some(raw) = stop {
            self.finished = true;
            out.push(StreamEvent::Finished {
                reason: native_finish_reason(raw),
                raw_reason: Some(raw.to_owned()),
            });
        }
    }

    /// The invocation metrics are authoritative; the model's own counters stand in before them.
    fn usage(&self) -> ReadUsage {
        ReadUsage::read(Value::Object(self.counts.clone()), |counts| {
            let input = counts.first(&[
                &[INVOCATION_METRICS, "inputTokenCount"],
                &["prompt_token_count"],
                &["inputTextTokenCount"],
            ]);
            let output = counts.first(&[
                &[INVOCATION_METRICS, "outputTokenCount"],
                &["generation_token_count"],
                &["totalOutputTextTokenCount"],
            ]);
            counts.input_output(input, output)
        })
    }

    fn fail(&mut self, error: StreamEvent, out: &mut Vec<StreamEvent>) {
        self.lifecycle.end(error, out);
    }

    fn end_of_body(&mut self, out: &mut Vec<StreamEvent>) {
        if !self.finished {
            self.lifecycle
                .cut(self.provider, "the last chunk (its stop reason)", out);
        }
    }
}
