//! Ollama's native `/api/chat` NDJSON stream.
//!
//! One JSON object per `\n`-terminated line, no preamble: a line per token,
//! then a `done:true` line with the stop reason, counts and nanosecond
//! timings. A mid-stream error is a bare `{"error":…}` line.

use std::time::{Duration, Instant, SystemTime};

use crate::clock::rfc3339_nanos;
use crate::json::JsonObject;
use crate::wire::{EncoderContext, FinishReason, TextEncoder};

pub(crate) struct OllamaEncoder {
    context: EncoderContext,
    started: Instant,
    first_token: Option<Instant>,
}

/// A plausible warm-model load time, reported on the final line (capped by
/// the time before the first token, which includes it).
const LOAD_DURATION: Duration = Duration::from_micros(1631);

impl OllamaEncoder {
    pub(crate) fn new(context: EncoderContext) -> Self {
        Self {
            context,
            started: Instant::now(),
            first_token: None,
        }
    }

    fn line(&self, content: &str) -> JsonObject {
        let message = JsonObject::new().value("role", "assistant").value("content", content);
        JsonObject::new()
            .value("model", self.context.model.as_str())
            .value("created_at", rfc3339_nanos(SystemTime::now()))
            .object("message", message)
    }
}

fn nanos(duration: Duration) -> u64 {
    u64::try_from(duration.as_nanos()).unwrap_or(u64::MAX)
}

impl TextEncoder for OllamaEncoder {
    fn preamble(&mut self) -> String {
        String::new()
    }

    fn content(&mut self, _index: usize, token: &str) -> String {
        self.first_token.get_or_insert_with(Instant::now);
        self.line(token).value("done", false).finish() + "\n"
    }

    fn finish(&mut self, reason: FinishReason, output_tokens: usize) -> String {
        let done_reason = match reason {
            FinishReason::Stop => "stop",
            FinishReason::Length => "length",
            // Ollama has no output filter; a local model just stops.
            FinishReason::ContentFilter | FinishReason::PromptBlocked => "stop",
        };
        let now = Instant::now();
        let total = now.duration_since(self.started);
        let first_token = self.first_token.unwrap_or(now);
        let prompt_eval = first_token.duration_since(self.started);
        let eval = now.duration_since(first_token);
        self.line("")
            .value("done_reason", done_reason)
            .value("done", true)
            .value("total_duration", nanos(total))
            .value("load_duration", nanos(LOAD_DURATION.min(prompt_eval)))
            .value("prompt_eval_count", self.context.input_tokens)
            .value("prompt_eval_duration", nanos(prompt_eval))
            .value("eval_count", output_tokens)
            .value("eval_duration", nanos(eval))
            .finish()
            + "\n"
    }

    fn midstream_error(&mut self, _output_tokens: usize) -> String {
        JsonObject::new()
            .value(
                "error",
                "an error was encountered while running the model: unexpected EOF",
            )
            .finish()
            + "\n"
    }
}
