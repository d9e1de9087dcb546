//! Gemini `streamGenerateContent?alt=sse`, as the Gemini API (AI Studio)
//! and Vertex AI send it.
//!
//! Each event is `data: {GenerateContentResponse}\r\n\r\n`; there is no
//! preamble, no event name and no `[DONE]`. Every chunk carries cumulative
//! `usageMetadata`; `finishReason` rides on the last content chunk only. A
//! blocked prompt is a single chunk with `promptFeedback.blockReason` and no
//! candidates; an output cut by the safety filter ends with a candidate whose
//! `finishReason` is `SAFETY`. JSON is spaced the way Google writes it
//! (`"key": value`), and Vertex adds `createTime`, `trafficType`, and lists
//! `role` before `parts`.

use crate::clock::rfc3339_micros;
use crate::json::{JsonObject, array, google_compact};
use crate::wire::{EncoderContext, FinishReason, TextEncoder};

/// Which Google API the stream comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum GeminiFlavour {
    AiStudio,
    Vertex,
}

pub(crate) struct GeminiEncoder {
    flavour: GeminiFlavour,
    context: EncoderContext,
    response_id: String,
    create_time: String,
    planned_tokens: usize,
    /// Stop or max-tokens: carried by the last content chunk itself.
    final_reason: Option<&'static str>,
}

/// The safety ratings of a filtered output or a blocked prompt: one
/// category over the line.
fn safety_ratings() -> String {
    let rating = |category: &str, probability: &str, blocked: bool| {
        let rating = JsonObject::new()
            .value("category", category)
            .value("probability", probability);
        if blocked { rating.value("blocked", true) } else { rating }.finish()
    };
    array([
        rating("HARM_CATEGORY_SEXUALLY_EXPLICIT", "NEGLIGIBLE", false),
        rating("HARM_CATEGORY_HATE_SPEECH", "NEGLIGIBLE", false),
        rating("HARM_CATEGORY_HARASSMENT", "NEGLIGIBLE", false),
        rating("HARM_CATEGORY_DANGEROUS_CONTENT", "HIGH", true),
    ])
}

fn token_details(count: usize) -> String {
    array([JsonObject::new()
        .value("modality", "TEXT")
        .value("tokenCount", count)
        .finish()])
}

fn sse(json: &str) -> String {
    format!("data: {}\r\n\r\n", google_compact(json))
}

impl GeminiEncoder {
    /// `planned_tokens` and `ending` come from the plan, so the last
    /// content chunk can carry the finish reason as Gemini's does.
    pub(crate) fn new(
        flavour: GeminiFlavour,
        context: EncoderContext,
        planned_tokens: usize,
        ending: Option<FinishReason>,
    ) -> Self {
        let final_reason = match ending {
            Some(FinishReason::Stop) => Some("STOP"),
            Some(FinishReason::Length) => Some("MAX_TOKENS"),
            _ => None,
        };
        Self {
            flavour,
            response_id: format!("fAkE{}", context.id_suffix),
            create_time: rfc3339_micros(context.started),
            context,
            planned_tokens,
            final_reason,
        }
    }

    fn usage(&self, candidates: Option<usize>) -> JsonObject {
        let prompt = self.context.input_tokens;
        let mut usage = JsonObject::new().value("promptTokenCount", prompt);
        if let Some(candidates) = candidates {
            usage = usage.value("candidatesTokenCount", candidates);
        }
        usage = usage.value("totalTokenCount", prompt + candidates.unwrap_or(0));
        if self.flavour == GeminiFlavour::Vertex {
            usage = usage.value("trafficType", "ON_DEMAND");
        }
        usage = usage.raw("promptTokensDetails", &token_details(prompt));
        match (self.flavour, candidates) {
            (GeminiFlavour::Vertex, Some(candidates)) => {
                usage.raw("candidatesTokensDetails", &token_details(candidates))
            }
            _ => usage,
        }
    }

    /// The envelope around `candidates` (or `promptFeedback`) and usage.
    fn response(&self, body: JsonObject, candidates: Option<usize>) -> String {
        let response = body
            .object("usageMetadata", self.usage(candidates))
            .value("modelVersion", self.context.model.as_str());
        let response = match self.flavour {
            GeminiFlavour::AiStudio => response,
            GeminiFlavour::Vertex => response.value("createTime", self.create_time.as_str()),
        };
        sse(&response.value("responseId", self.response_id.as_str()).finish())
    }

    fn candidate(&self, text: Option<&str>, finish_reason: Option<&str>) -> JsonObject {
        let mut candidate = JsonObject::new();
        if let Some(text) = text {
            let parts = array([JsonObject::new().value("text", text).finish()]);
            let content = match self.flavour {
                GeminiFlavour::AiStudio => JsonObject::new().raw("parts", &parts).value("role", "model"),
                GeminiFlavour::Vertex => JsonObject::new().value("role", "model").raw("parts", &parts),
            };
            candidate = candidate.object("content", content);
        }
        if let Some(reason) = finish_reason {
            candidate = candidate.value("finishReason", reason);
        }
        if self.flavour == GeminiFlavour::AiStudio {
            candidate = candidate.value("index", 0);
        }
        candidate
    }

    fn chunk(&self, candidate: JsonObject, candidates_tokens: usize) -> String {
        let body = JsonObject::new().raw("candidates", &array([candidate.finish()]));
        self.response(body, Some(candidates_tokens))
    }
}

impl TextEncoder for GeminiEncoder {
    fn preamble(&mut self) -> String {
        String::new()
    }

    fn content(&mut self, index: usize, token: &str) -> String {
        let is_last = index + 1 == self.planned_tokens;
        let finish_reason = if is_last { self.final_reason } else { None };
        self.chunk(self.candidate(Some(token), finish_reason), index + 1)
    }

    fn finish(&mut self, reason: FinishReason, output_tokens: usize) -> String {
        match reason {
            // Already on the last content chunk, unless there was none.
            FinishReason::Stop | FinishReason::Length if self.planned_tokens > 0 => String::new(),
            FinishReason::Stop | FinishReason::Length => {
                let candidate = self.candidate(Some(""), self.final_reason);
                self.chunk(candidate, output_tokens)
            }
            FinishReason::ContentFilter => {
                let candidate = self
                    .candidate(None, Some("SAFETY"))
                    .raw("safetyRatings", &safety_ratings());
                self.chunk(candidate, output_tokens)
            }
            FinishReason::PromptBlocked => {
                let feedback = JsonObject::new()
                    .value("blockReason", "SAFETY")
                    .raw("safetyRatings", &safety_ratings());
                self.response(JsonObject::new().object("promptFeedback", feedback), None)
            }
        }
    }

    fn midstream_error(&mut self, _output_tokens: usize) -> String {
        let error = JsonObject::new()
            .value("code", 500)
            .value(
                "message",
                "An internal error has occurred. Please retry or report in https://developers.generativeai.google/guide/troubleshooting",
            )
            .value("status", "INTERNAL");
        sse(&JsonObject::new().object("error", error).finish())
    }
}
