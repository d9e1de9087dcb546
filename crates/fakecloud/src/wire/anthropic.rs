//! Anthropic Messages SSE.
//!
//! `message_start`, `content_block_start` and a `ping` go out at once; then
//! `content_block_delta` per token, `content_block_stop`, `message_delta`
//! (stop reason, cumulative usage) and `message_stop`. Payloads carry the
//! whitespace padding before the closing brace that the real service sends,
//! so clients that do not use a real JSON parser fail here and not in
//! production.

use crate::json::JsonObject;
use crate::wire::{EncoderContext, FinishReason, TextEncoder, named_event};

pub(crate) struct AnthropicEncoder {
    context: EncoderContext,
    message_id: String,
}

/// Padding before the closing brace, per event, as in a real recording.
mod padding {
    pub(super) const MESSAGE_START: usize = 12;
    pub(super) const CONTENT_BLOCK_START: usize = 8;
    pub(super) const CONTENT_BLOCK_DELTA: usize = 6;
    pub(super) const CONTENT_BLOCK_STOP: usize = 8;
    pub(super) const MESSAGE_DELTA: usize = 7;
    pub(super) const MESSAGE_STOP: usize = 4;
}

impl AnthropicEncoder {
    pub(crate) fn new(context: EncoderContext) -> Self {
        Self::with_message_id_prefix(context, "msg_")
    }

    /// Claude on Vertex AI numbers its messages `msg_vrtx_…`.
    pub(crate) fn with_message_id_prefix(context: EncoderContext, prefix: &str) -> Self {
        Self {
            message_id: format!("{prefix}fake{}", context.id_suffix),
            context,
        }
    }
}

/// Claude's `stop_reason`, wherever Claude is hosted.
pub(crate) fn stop_reason(reason: FinishReason) -> &'static str {
    match reason {
        FinishReason::Stop => "end_turn",
        FinishReason::Length => "max_tokens",
        FinishReason::ContentFilter | FinishReason::PromptBlocked => "refusal",
    }
}

/// Anthropic's `{"type":"error","error":…,"request_id":…}` envelope, shared
/// by mid-stream errors and HTTP error bodies. Mid-stream errors carry
/// `"details":null` inside the error; HTTP error bodies do not.
pub(crate) fn error_envelope(error_type: &str, message: &str, request_id: &str, with_details: bool) -> String {
    let mut error = JsonObject::new();
    if with_details {
        error = error.null("details");
    }
    let error = error.value("type", error_type).value("message", message);
    JsonObject::new()
        .value("type", "error")
        .object("error", error)
        .value("request_id", request_id)
        .finish()
}

impl TextEncoder for AnthropicEncoder {
    fn preamble(&mut self) -> String {
        let usage = JsonObject::new()
            .value("input_tokens", self.context.input_tokens)
            .value("cache_creation_input_tokens", 0)
            .value("cache_read_input_tokens", 0)
            .object(
                "cache_creation",
                JsonObject::new()
                    .value("ephemeral_5m_input_tokens", 0)
                    .value("ephemeral_1h_input_tokens", 0),
            )
            .value("output_tokens", 1)
            .value("service_tier", "standard");
        let message = JsonObject::new()
            .value("model", self.context.model.as_str())
            .value("id", self.message_id.as_str())
            .value("type", "message")
            .value("role", "assistant")
            .raw("content", "[]")
            .null("stop_reason")
            .null("stop_sequence")
            .object("usage", usage);
        let message_start = JsonObject::new()
            .value("type", "message_start")
            .object("message", message)
            .finish_padded(padding::MESSAGE_START);
        let block = JsonObject::new().value("type", "text").value("text", "");
        let block_start = JsonObject::new()
            .value("type", "content_block_start")
            .value("index", 0)
            .object("content_block", block)
            .finish_padded(padding::CONTENT_BLOCK_START);
        let mut events = named_event("message_start", &message_start);
        events.push_str(&named_event("content_block_start", &block_start));
        // The real ping has a space after the colon, unlike every other event.
        events.push_str(&named_event("ping", r#"{"type": "ping"}"#));
        events
    }

    fn content(&mut self, _index: usize, token: &str) -> String {
        let delta = JsonObject::new().value("type", "text_delta").value("text", token);
        let data = JsonObject::new()
            .value("type", "content_block_delta")
            .value("index", 0)
            .object("delta", delta)
            .finish_padded(padding::CONTENT_BLOCK_DELTA);
        named_event("content_block_delta", &data)
    }

    fn finish(&mut self, reason: FinishReason, output_tokens: usize) -> String {
        let stop_reason = stop_reason(reason);
        let block_stop = JsonObject::new()
            .value("type", "content_block_stop")
            .value("index", 0)
            .finish_padded(padding::CONTENT_BLOCK_STOP);
        let delta = JsonObject::new()
            .value("stop_reason", stop_reason)
            .null("stop_sequence");
        // Newer streams repeat the input counts next to the cumulative
        // output count.
        let usage = JsonObject::new()
            .value("input_tokens", self.context.input_tokens)
            .value("cache_creation_input_tokens", 0)
            .value("cache_read_input_tokens", 0)
            .value("output_tokens", output_tokens);
        let message_delta = JsonObject::new()
            .value("type", "message_delta")
            .object("delta", delta)
            .object("usage", usage)
            .finish_padded(padding::MESSAGE_DELTA);
        let message_stop = JsonObject::new()
            .value("type", "message_stop")
            .finish_padded(padding::MESSAGE_STOP);
        let mut events = named_event("content_block_stop", &block_stop);
        events.push_str(&named_event("message_delta", &message_delta));
        events.push_str(&named_event("message_stop", &message_stop));
        events
    }

    fn midstream_error(&mut self, _output_tokens: usize) -> String {
        named_event(
            "error",
            &error_envelope("overloaded_error", "Overloaded", &self.context.request_id, true),
        )
    }
}
