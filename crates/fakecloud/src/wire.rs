//! Encoders for each cloud's streaming wire format.
//!
//! An encoder turns "preamble, token i, finish, mid-stream error" into the
//! exact bytes a real cloud sends; it knows nothing about timing, failures
//! or HTTP, which the stream driver and the server own. Only encoding lives
//! here: fakecloud must never decode with the engine's code, or a bug shared
//! by both would pass every test.

use std::time::SystemTime;

pub(crate) mod anthropic;
pub(crate) mod bedrock;
pub(crate) mod event_stream;
pub(crate) mod gemini;
pub(crate) mod oci;
pub(crate) mod ollama;
pub(crate) mod openai_chat;
pub(crate) mod openai_responses;

/// Why a successful (HTTP 200) stream stopped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum FinishReason {
    /// The text ran out naturally.
    Stop,
    /// The request's max-token limit cut it.
    Length,
    /// The output filter cut it.
    ContentFilter,
    /// The prompt was blocked before any output. Only clouds that report
    /// this inside a 200 stream see it (Gemini's `promptFeedback`, a
    /// Bedrock guardrail); the others refuse with an HTTP error instead.
    PromptBlocked,
}

/// What every encoder needs to know about the request it answers.
#[derive(Clone, Debug)]
pub(crate) struct EncoderContext {
    /// Unique per request; the tail of every id the encoder invents.
    pub id_suffix: String,
    /// The request id also sent in the response headers.
    pub request_id: String,
    /// The model name the cloud reports back.
    pub model: String,
    /// The fake prompt token count.
    pub input_tokens: usize,
    pub started: SystemTime,
    /// The backend was redeployed ([`crate::scenario::Scenario::redeployed`]): another
    /// `system_fingerprint`.
    pub redeployed: bool,
}

/// One wire format. Every method returns the bytes of zero or more complete
/// events (text for SSE and NDJSON, binary frames for AWS event streams);
/// the stream driver decides when they are sent and how they are cut.
pub(crate) trait WireEncoder: Send {
    /// Sent with the headers, before the first content token.
    fn preamble(&mut self) -> Vec<u8>;
    /// Content token `index` (0-based).
    fn content(&mut self, index: usize, token: &str) -> Vec<u8>;
    /// The terminal events of a successful stream that produced
    /// `output_tokens` tokens.
    fn finish(&mut self, reason: FinishReason, output_tokens: usize) -> Vec<u8>;
    /// The provider's mid-stream error; the body ends right after it.
    fn midstream_error(&mut self, output_tokens: usize) -> Vec<u8>;
}

/// A [`WireEncoder`] for text formats (SSE, NDJSON), which build their
/// events as strings.
pub(crate) trait TextEncoder: Send {
    fn preamble(&mut self) -> String;
    fn content(&mut self, index: usize, token: &str) -> String;
    fn finish(&mut self, reason: FinishReason, output_tokens: usize) -> String;
    fn midstream_error(&mut self, output_tokens: usize) -> String;
}

impl<T: TextEncoder> WireEncoder for T {
    fn preamble(&mut self) -> Vec<u8> {
        TextEncoder::preamble(self).into_bytes()
    }

    fn content(&mut self, index: usize, token: &str) -> Vec<u8> {
        TextEncoder::content(self, index, token).into_bytes()
    }

    fn finish(&mut self, reason: FinishReason, output_tokens: usize) -> Vec<u8> {
        TextEncoder::finish(self, reason, output_tokens).into_bytes()
    }

    fn midstream_error(&mut self, output_tokens: usize) -> Vec<u8> {
        TextEncoder::midstream_error(self, output_tokens).into_bytes()
    }
}

/// One server-sent event with an `event:` line, as Responses and Anthropic
/// frame theirs.
pub(crate) fn named_event(name: &str, data: &str) -> String {
    format!("event: {name}\ndata: {data}\n\n")
}

/// One `data:`-only server-sent event, as Chat Completions frames them.
pub(crate) fn data_event(data: &str) -> String {
    format!("data: {data}\n\n")
}
