//! Bedrock Runtime's two streaming APIs, as AWS event-stream frames.
//!
//! ConverseStream: `messageStart`, a `contentBlockDelta` per token,
//! `contentBlockStop`, `messageStop` (stop reason) and `metadata` (usage,
//! latency). Payload keys are alphabetical and every payload carries the
//! random-length `"p"` padding field, as in the recordings.
//!
//! InvokeModelWithResponseStream: `chunk` events whose payload is
//! `{"bytes":"<base64 of the model's native JSON>"}`: Anthropic Messages
//! events (no `ping`, `msg_bdrk_` ids, `amazon-bedrock-invocationMetrics` on
//! `message_stop`) or Llama's `{generation, …, stop_reason}` objects.
//!
//! A mid-stream error is a `modelStreamErrorException` exception frame, and
//! the body ends right after it.

use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;

use crate::json::JsonObject;
use crate::wire::anthropic;
use crate::wire::event_stream::{Padding, event_frame, exception_frame};
use crate::wire::{EncoderContext, FinishReason, WireEncoder};

/// What a Bedrock guardrail answers in place of a blocked prompt (the
/// console's default "blocked input" message).
pub(crate) const GUARDRAIL_BLOCKED_MESSAGE: &str = "Sorry, the model cannot answer this question.";

/// The payload of the mid-stream `modelStreamErrorException`.
fn model_stream_error() -> String {
    JsonObject::new()
        .value("message", "Model Stream Error")
        .value("originalStatusCode", 500)
        .value("originalMessage", "The model stream failed.")
        .finish()
}

fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

/// ConverseStream.
pub(crate) struct ConverseEncoder {
    context: EncoderContext,
    padding: Padding,
    started: Instant,
}

impl ConverseEncoder {
    pub(crate) fn new(context: EncoderContext) -> Self {
        Self {
            context,
            padding: Padding::new(),
            started: Instant::now(),
        }
    }

    fn delta(&mut self, text: &str) -> Vec<u8> {
        let payload = JsonObject::new()
            .value("contentBlockIndex", 0)
            .object("delta", JsonObject::new().value("text", text))
            .value("p", self.padding.next_padding())
            .finish();
        event_frame("contentBlockDelta", &payload)
    }
}

impl WireEncoder for ConverseEncoder {
    fn preamble(&mut self) -> Vec<u8> {
        let payload = JsonObject::new()
            .value("p", self.padding.next_padding())
            .value("role", "assistant")
            .finish();
        event_frame("messageStart", &payload)
    }

    fn content(&mut self, _index: usize, token: &str) -> Vec<u8> {
        self.delta(token)
    }

    fn finish(&mut self, reason: FinishReason, output_tokens: usize) -> Vec<u8> {
        let mut frames = Vec::new();
        let stop_reason = match reason {
            FinishReason::Stop => "end_turn",
            FinishReason::Length => "max_tokens",
            FinishReason::ContentFilter => "content_filtered",
            FinishReason::PromptBlocked => {
                // A guardrail answers a blocked prompt with its own message.
                frames.extend(self.delta(GUARDRAIL_BLOCKED_MESSAGE));
                "guardrail_intervened"
            }
        };
        let block_stop = JsonObject::new()
            .value("contentBlockIndex", 0)
            .value("p", self.padding.next_padding())
            .finish();
        frames.extend(event_frame("contentBlockStop", &block_stop));
        let message_stop = JsonObject::new()
            .value("p", self.padding.next_padding())
            .value("stopReason", stop_reason)
            .finish();
        frames.extend(event_frame("messageStop", &message_stop));
        let usage = JsonObject::new()
            .value("inputTokens", self.context.input_tokens)
            .value("outputTokens", output_tokens)
            .value("totalTokens", self.context.input_tokens + output_tokens);
        let metadata = JsonObject::new()
            .object(
                "metrics",
                JsonObject::new().value("latencyMs", millis(self.started.elapsed())),
            )
            .value("p", self.padding.next_padding())
            .object("usage", usage)
            .finish();
        frames.extend(event_frame("metadata", &metadata));
        frames
    }

    fn midstream_error(&mut self, _output_tokens: usize) -> Vec<u8> {
        exception_frame("modelStreamErrorException", &model_stream_error())
    }
}

/// The model-native body family of an InvokeModelWithResponseStream call.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum InvokeFamily {
    /// Anthropic Messages with `anthropic_version: "bedrock-2023-05-31"`.
    Anthropic,
    /// Meta Llama: `{prompt, max_gen_len, …}`.
    Llama,
}

/// `chunk` frames around model-native JSON, with the timings Bedrock
/// reports in `amazon-bedrock-invocationMetrics`.
struct ChunkWriter {
    padding: Padding,
    started: Instant,
    first_token: Option<Instant>,
}

impl ChunkWriter {
    fn new() -> Self {
        Self {
            padding: Padding::new(),
            started: Instant::now(),
            first_token: None,
        }
    }

    fn chunk(&mut self, native_json: &str) -> Vec<u8> {
        let payload = JsonObject::new()
            .value("bytes", STANDARD.encode(native_json))
            .value("p", self.padding.next_padding())
            .finish();
        event_frame("chunk", &payload)
    }

    fn invocation_metrics(&self, input_tokens: usize, output_tokens: usize) -> JsonObject {
        let now = Instant::now();
        let first_byte = self.first_token.unwrap_or(now).duration_since(self.started);
        JsonObject::new()
            .value("inputTokenCount", input_tokens)
            .value("outputTokenCount", output_tokens)
            .value("invocationLatency", millis(now.duration_since(self.started)))
            .value("firstByteLatency", millis(first_byte))
    }
}

/// The name Anthropic's own events use for a Bedrock model id:
/// `us.anthropic.claude-sonnet-4-5-20250929-v1:0` → `claude-sonnet-4-5-20250929`.
pub(crate) fn anthropic_model_name(model_id: &str) -> &str {
    let name = model_id.rsplit_once("anthropic.").map_or(model_id, |(_, name)| name);
    // Drop a `-v1` or `-v1:0` version suffix.
    match name.rsplit_once("-v") {
        Some((base, version))
            if !version.is_empty() && version.split(':').all(|part| part.bytes().all(|b| b.is_ascii_digit())) =>
        {
            base
        }
        _ => name,
    }
}

/// InvokeModelWithResponseStream for Anthropic models.
pub(crate) struct InvokeAnthropicEncoder {
    context: EncoderContext,
    writer: ChunkWriter,
    message_id: String,
}

impl InvokeAnthropicEncoder {
    pub(crate) fn new(context: EncoderContext) -> Self {
        Self {
            message_id: format!("msg_bdrk_fake{}", context.id_suffix),
            context,
            writer: ChunkWriter::new(),
        }
    }
}

impl WireEncoder for InvokeAnthropicEncoder {
    fn preamble(&mut self) -> Vec<u8> {
        let usage = JsonObject::new()
            .value("input_tokens", self.context.input_tokens)
            .value("output_tokens", 1);
        let message = JsonObject::new()
            .value("id", self.message_id.as_str())
            .value("type", "message")
            .value("role", "assistant")
            .value("model", anthropic_model_name(&self.context.model))
            .raw("content", "[]")
            .null("stop_reason")
            .null("stop_sequence")
            .object("usage", usage);
        let message_start = JsonObject::new()
            .value("type", "message_start")
            .object("message", message)
            .finish();
        let block_start = JsonObject::new()
            .value("type", "content_block_start")
            .value("index", 0)
            .object(
                "content_block",
                JsonObject::new().value("type", "text").value("text", ""),
            )
            .finish();
        let mut frames = self.writer.chunk(&message_start);
        frames.extend(self.writer.chunk(&block_start));
        frames
    }

    fn content(&mut self, _index: usize, token: &str) -> Vec<u8> {
        self.writer.first_token.get_or_insert_with(Instant::now);
        let delta = JsonObject::new()
            .value("type", "content_block_delta")
            .value("index", 0)
            .object(
                "delta",
                JsonObject::new().value("type", "text_delta").value("text", token),
            )
            .finish();
        self.writer.chunk(&delta)
    }

    fn finish(&mut self, reason: FinishReason, output_tokens: usize) -> Vec<u8> {
        let stop_reason = anthropic::stop_reason(reason);
        let block_stop = JsonObject::new()
            .value("type", "content_block_stop")
            .value("index", 0)
            .finish();
        let message_delta = JsonObject::new()
            .value("type", "message_delta")
            .object(
                "delta",
                JsonObject::new()
                    .value("stop_reason", stop_reason)
                    .null("stop_sequence"),
            )
            .object("usage", JsonObject::new().value("output_tokens", output_tokens))
            .finish();
        let message_stop = JsonObject::new()
            .value("type", "message_stop")
            .object(
                "amazon-bedrock-invocationMetrics",
                self.writer.invocation_metrics(self.context.input_tokens, output_tokens),
            )
            .finish();
        let mut frames = self.writer.chunk(&block_stop);
        frames.extend(self.writer.chunk(&message_delta));
        frames.extend(self.writer.chunk(&message_stop));
        frames
    }

    fn midstream_error(&mut self, _output_tokens: usize) -> Vec<u8> {
        exception_frame("modelStreamErrorException", &model_stream_error())
    }
}

/// InvokeModelWithResponseStream for Meta Llama models.
pub(crate) struct InvokeLlamaEncoder {
    context: EncoderContext,
    writer: ChunkWriter,
    /// Llama reports the prompt's token count on its first chunk only.
    prompt_count_sent: bool,
}

impl InvokeLlamaEncoder {
    pub(crate) fn new(context: EncoderContext) -> Self {
        Self {
            context,
            writer: ChunkWriter::new(),
            prompt_count_sent: false,
        }
    }

    fn line(&mut self, generation: &str, generated: usize) -> JsonObject {
        let prompt_count = (!self.prompt_count_sent).then_some(self.context.input_tokens);
        self.prompt_count_sent = true;
        JsonObject::new()
            .value("generation", generation)
            .value("prompt_token_count", prompt_count)
            .value("generation_token_count", generated)
    }
}

impl WireEncoder for InvokeLlamaEncoder {
    fn preamble(&mut self) -> Vec<u8> {
        Vec::new()
    }

    fn content(&mut self, index: usize, token: &str) -> Vec<u8> {
        self.writer.first_token.get_or_insert_with(Instant::now);
        let line = self.line(token, index + 1).null("stop_reason").finish();
        self.writer.chunk(&line)
    }

    fn finish(&mut self, reason: FinishReason, output_tokens: usize) -> Vec<u8> {
        let stop_reason = match reason {
            FinishReason::Length => "length",
            // Llama has no filter of its own; it just stops.
            FinishReason::Stop | FinishReason::ContentFilter | FinishReason::PromptBlocked => "stop",
        };
        let metrics = self.writer.invocation_metrics(self.context.input_tokens, output_tokens);
        let line = self
            .line("", output_tokens)
            .value("stop_reason", stop_reason)
            .object("amazon-bedrock-invocationMetrics", metrics)
            .finish();
        self.writer.chunk(&line)
    }

    fn midstream_error(&mut self, _output_tokens: usize) -> Vec<u8> {
        exception_frame("modelStreamErrorException", &model_stream_error())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn anthropic_model_names_drop_prefixes_and_versions() {
        for (id, name) in [
            ("anthropic.claude-3-sonnet-20240229-v1:0", "claude-3-sonnet-20240229"),
            (
                "us.anthropic.claude-sonnet-4-5-20250929-v1:0",
                "claude-sonnet-4-5-20250929",
            ),
            (
                "arn:aws:bedrock:us-east-1:123456789012:inference-profile/eu.anthropic.claude-3-haiku-20240307-v1",
                "claude-3-haiku-20240307",
            ),
            ("replay-model", "replay-model"),
            ("anthropic.claude-vivid", "claude-vivid"),
        ] {
            assert_eq!(anthropic_model_name(id), name, "{id}");
        }
    }
}
