//! OCI Generative AI's native chat stream (`/20231130/actions/chat`), GENERIC and COHERE.
//!
//! Each event is `data: {…}` with no event name and no `[DONE]`; like OCI, every other event is
//! ended by a single `\n` instead of a blank line (the server splits the bytes across writes
//! too, see the server's `split`). GENERIC sends `{index, message {role, content [{type: TEXT,
//! text}]}}` deltas, then a chunk with a lower-case `finishReason`, then `{usage {…}}` when the
//! request asked for it. COHERE sends `{apiFormat: COHERE, text}` deltas, then a terminal event
//! that repeats the whole text with `chatHistory` and an upper-case `finishReason`, then usage.

use crate::json::{JsonObject, array};
use crate::wire::{EncoderContext, FinishReason, TextEncoder};

/// Which body the request carried, which sets the stream's shape.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum OciFormat {
    Generic,
    Cohere,
}

pub(crate) struct OciEncoder {
    format: OciFormat,
    context: EncoderContext,
    include_usage: bool,
    /// The text so far, which COHERE's terminal event repeats.
    text: String,
    /// The prompt, which COHERE's chat history repeats.
    prompt: String,
    events: usize,
}

impl OciEncoder {
    pub(crate) fn new(format: OciFormat, context: EncoderContext, include_usage: bool, prompt: String) -> Self {
        Self {
            format,
            context,
            include_usage,
            text: String::new(),
            prompt,
            events: 0,
        }
    }

    /// One event, ended by a blank line or, every other time, by a single `\n`.
    fn event(&mut self, json: &str) -> String {
        self.events += 1;
        let end = if self.events % 2 == 1 { "\n" } else { "\n\n" };
        format!("data: {json}{end}")
    }

    fn message(text: &str) -> JsonObject {
        let part = JsonObject::new().value("type", "TEXT").value("text", text).finish();
        JsonObject::new()
            .value("role", "ASSISTANT")
            .raw("content", &array([part]))
    }

    fn usage(&mut self, output_tokens: usize) -> String {
        if !self.include_usage {
            return String::new();
        }
        let prompt = self.context.input_tokens;
        let usage = JsonObject::new()
            .value("completionTokens", output_tokens)
            .value("promptTokens", prompt)
            .value("totalTokens", prompt + output_tokens)
            .object("completionTokensDetails", JsonObject::new().value("reasoningTokens", 0))
            .object("promptTokensDetails", JsonObject::new().value("cachedTokens", 0));
        let chunk = match self.format {
            OciFormat::Generic => JsonObject::new().object("message", JsonObject::new().value("role", "ASSISTANT")),
            OciFormat::Cohere => JsonObject::new().value("apiFormat", "COHERE"),
        };
        self.event(&chunk.object("usage", usage).finish())
    }
}

impl TextEncoder for OciEncoder {
    fn preamble(&mut self) -> String {
        String::new()
    }

    fn content(&mut self, _index: usize, token: &str) -> String {
        self.text.push_str(token);
        let chunk = match self.format {
            OciFormat::Generic => JsonObject::new()
                .value("index", 0)
                .object("message", Self::message(token))
                .value("pad", "aaaaaaaaaa"),
            OciFormat::Cohere => JsonObject::new().value("apiFormat", "COHERE").value("text", token),
        };
        self.event(&chunk.finish())
    }

    fn finish(&mut self, reason: FinishReason, output_tokens: usize) -> String {
        let finish = match self.format {
            OciFormat::Generic => {
                let reason = match reason {
                    FinishReason::Stop => "stop",
                    FinishReason::Length => "length",
                    FinishReason::ContentFilter | FinishReason::PromptBlocked => "content_filter",
                };
                JsonObject::new()
                    .value("index", 0)
                    .object("message", Self::message(""))
                    .value("finishReason", reason)
            }
            OciFormat::Cohere => {
                let reason = match reason {
                    FinishReason::Stop => "COMPLETE",
                    FinishReason::Length => "MAX_TOKENS",
                    FinishReason::ContentFilter | FinishReason::PromptBlocked => "CONTENT_FILTERED",
                };
                let history = array([
                    JsonObject::new()
                        .value("role", "USER")
                        .value("message", self.prompt.as_str())
                        .finish(),
                    JsonObject::new()
                        .value("role", "CHATBOT")
                        .value("message", self.text.as_str())
                        .finish(),
                ]);
                JsonObject::new()
                    .value("apiFormat", "COHERE")
                    .value("text", self.text.as_str())
                    .raw("chatHistory", &history)
                    .value("finishReason", reason)
            }
        };
        let mut body = self.event(&finish.finish());
        body.push_str(&self.usage(output_tokens));
        body
    }

    fn midstream_error(&mut self, _output_tokens: usize) -> String {
        let error = JsonObject::new()
            .value("code", "InternalServerError")
            .value("message", "Internal error occurred")
            .finish();
        format!("data: {error}\n\n")
    }
}

#[cfg(test)]
mod tests {
    use std::time::SystemTime;

    use super::*;

    fn encoder(format: OciFormat) -> OciEncoder {
        let context = EncoderContext {
            id_suffix: "x".into(),
            request_id: "r".into(),
            model: "m".into(),
            input_tokens: 5,
            started: SystemTime::UNIX_EPOCH,
            redeployed: false,
        };
        OciEncoder::new(format, context, true, "hi".into())
    }

    #[test]
    fn cohere_repeats_the_whole_text_at_the_end_and_some_events_end_with_one_newline() {
        let mut cohere = encoder(OciFormat::Cohere);
        let first = cohere.content(0, "Hel");
        let second = cohere.content(1, "lo");
        assert_eq!(first, "data: {\"apiFormat\":\"COHERE\",\"text\":\"Hel\"}\n");
        assert_eq!(second, "data: {\"apiFormat\":\"COHERE\",\"text\":\"lo\"}\n\n");
        let end = cohere.finish(FinishReason::Stop, 2);
        assert!(
            end.starts_with("data: {\"apiFormat\":\"COHERE\",\"text\":\"Hello\",\"chatHistory\""),
            "{end}"
        );
        assert!(end.contains("\"finishReason\":\"COMPLETE\""), "{end}");
        assert!(
            end.contains("\"usage\":{\"completionTokens\":2,\"promptTokens\":5,\"totalTokens\":7"),
            "{end}"
        );
    }

    #[test]
    fn generic_finishes_then_reports_usage() {
        let mut generic = encoder(OciFormat::Generic);
        let delta = generic.content(0, "Hi");
        assert!(
            delta.contains("\"content\":[{\"type\":\"TEXT\",\"text\":\"Hi\"}]"),
            "{delta}"
        );
        let end = generic.finish(FinishReason::Length, 1);
        let finish = end.find("\"finishReason\":\"length\"").expect("finish");
        let usage = end.find("\"usage\"").expect("usage");
        assert!(finish < usage, "{end}");
    }
}
