//! The Responses API SSE (OpenAI `/v1/responses`, Azure `/openai/v1/responses`).
//!
//! Every event is `event: <type>` plus `data:` whose `type` repeats the name
//! and whose `sequence_number` counts from 0. The message item and its text
//! part are opened with the first token (the model has started writing), and
//! the stream ends with `response.completed`, `response.incomplete` or, after
//! an `event: error`, `response.failed`. There is no `[DONE]`.

use crate::clock::unix_seconds;
use crate::json::{JsonObject, array};
use crate::wire::{EncoderContext, FinishReason, TextEncoder, named_event};

/// Request fields the real service echoes back in its response object.
#[derive(Clone, Debug, Default)]
pub(crate) struct EchoedRequest {
    pub instructions: Option<String>,
    pub max_output_tokens: Option<u64>,
    pub temperature: Option<f64>,
    pub top_p: Option<f64>,
}

pub(crate) struct ResponsesEncoder {
    context: EncoderContext,
    echoed: EchoedRequest,
    response_id: String,
    item_id: String,
    created_at: u64,
    sequence_number: u64,
    item_opened: bool,
    text: String,
}

const OBFUSCATION: &str = "fAkEcLoUd";
const SERVER_ERROR_MESSAGE: &str = "The server had an error processing your request. Sorry about that! You can retry your request, or contact us through our help center at help.openai.com if you keep seeing this error.";

/// How the response object inside `response.*` events looks at each stage.
enum Stage<'a> {
    InProgress,
    Completed { usage: String },
    Incomplete { reason: &'a str, usage: String },
    Failed,
}

impl ResponsesEncoder {
    pub(crate) fn new(context: EncoderContext, echoed: EchoedRequest) -> Self {
        Self {
            response_id: format!("resp_fake{}", context.id_suffix),
            item_id: format!("msg_fake{}", context.id_suffix),
            created_at: unix_seconds(context.started),
            context,
            echoed,
            sequence_number: 0,
            item_opened: false,
            text: String::new(),
        }
    }

    /// An event whose data starts with `type` and `sequence_number`; `fill`
    /// adds the event's own fields.
    fn event(&mut self, name: &str, fill: impl FnOnce(JsonObject) -> JsonObject) -> String {
        let object = JsonObject::new()
            .value("type", name)
            .value("sequence_number", self.sequence_number);
        self.sequence_number += 1;
        named_event(name, &fill(object).finish())
    }

    fn output_text_part(&self) -> String {
        JsonObject::new()
            .value("type", "output_text")
            .raw("annotations", "[]")
            .raw("logprobs", "[]")
            .value("text", self.text.as_str())
            .finish()
    }

    fn message_item(&self, status: &str, content: &str) -> String {
        JsonObject::new()
            .value("id", self.item_id.as_str())
            .value("type", "message")
            .value("status", status)
            .raw("content", content)
            .value("role", "assistant")
            .finish()
    }

    fn response_object(&self, stage: &Stage<'_>) -> String {
        let (status, output, usage) = match stage {
            Stage::InProgress => ("in_progress", "[]".to_owned(), "null"),
            Stage::Completed { usage } => (
                "completed",
                array([self.message_item("completed", &array([self.output_text_part()]))]),
                usage.as_str(),
            ),
            Stage::Incomplete { usage, .. } => (
                "incomplete",
                array([self.message_item("incomplete", &array([self.output_text_part()]))]),
                usage.as_str(),
            ),
            Stage::Failed => ("failed", "[]".to_owned(), "null"),
        };
        let error = match stage {
            Stage::Failed => JsonObject::new()
                .value("code", "server_error")
                .value("message", SERVER_ERROR_MESSAGE)
                .finish(),
            _ => "null".to_owned(),
        };
        let incomplete_details = match stage {
            Stage::Incomplete { reason, .. } => JsonObject::new().value("reason", *reason).finish(),
            _ => "null".to_owned(),
        };
        let reasoning = JsonObject::new().null("effort").null("summary");
        let text_format = JsonObject::new()
            .object("format", JsonObject::new().value("type", "text"))
            .value("verbosity", "medium");
        JsonObject::new()
            .value("id", self.response_id.as_str())
            .value("object", "response")
            .value("created_at", self.created_at)
            .value("status", status)
            .value("background", false)
            .raw("error", &error)
            .raw("incomplete_details", &incomplete_details)
            .value("instructions", self.echoed.instructions.clone())
            .value("max_output_tokens", self.echoed.max_output_tokens)
            .null("max_tool_calls")
            .value("model", self.context.model.as_str())
            .raw("output", &output)
            .value("parallel_tool_calls", true)
            .null("previous_response_id")
            .null("prompt_cache_key")
            .null("prompt_cache_retention")
            .object("reasoning", reasoning)
            .null("safety_identifier")
            .value("service_tier", "default")
            .value("store", true)
            .value("temperature", self.echoed.temperature.unwrap_or(1.0))
            .object("text", text_format)
            .value("tool_choice", "auto")
            .raw("tools", "[]")
            .value("top_logprobs", 0)
            .value("top_p", self.echoed.top_p.unwrap_or(1.0))
            .value("truncation", "disabled")
            .raw("usage", usage)
            .null("user")
            .raw("metadata", "{}")
            .finish()
    }

    fn usage(&self, output_tokens: usize) -> String {
        let input = self.context.input_tokens;
        JsonObject::new()
            .value("input_tokens", input)
            .object("input_tokens_details", JsonObject::new().value("cached_tokens", 0))
            .value("output_tokens", output_tokens)
            .object("output_tokens_details", JsonObject::new().value("reasoning_tokens", 0))
            .value("total_tokens", input + output_tokens)
            .finish()
    }

    /// `output_item.added` and `content_part.added`, once.
    fn open_item(&mut self) -> String {
        if self.item_opened {
            return String::new();
        }
        self.item_opened = true;
        let item = self.message_item("in_progress", "[]");
        let part = self.output_text_part();
        let item_id = self.item_id.clone();
        let mut events = self.event("response.output_item.added", |object| {
            object.value("output_index", 0).raw("item", &item)
        });
        events.push_str(&self.event("response.content_part.added", |object| {
            object
                .value("item_id", item_id)
                .value("output_index", 0)
                .value("content_index", 0)
                .raw("part", &part)
        }));
        events
    }

    /// `output_text.done`, `content_part.done` and `output_item.done`.
    fn close_item(&mut self, item_status: &str) -> String {
        let mut events = self.open_item();
        let item_id = self.item_id.clone();
        let text = self.text.clone();
        let part = self.output_text_part();
        let item = self.message_item(item_status, &array([part.clone()]));
        events.push_str(&self.event("response.output_text.done", |object| {
            object
                .value("item_id", item_id.as_str())
                .value("output_index", 0)
                .value("content_index", 0)
                .value("text", text)
                .raw("logprobs", "[]")
        }));
        events.push_str(&self.event("response.content_part.done", |object| {
            object
                .value("item_id", item_id.as_str())
                .value("output_index", 0)
                .value("content_index", 0)
                .raw("part", &part)
        }));
        events.push_str(&self.event("response.output_item.done", |object| {
            object.value("output_index", 0).raw("item", &item)
        }));
        events
    }
}

impl TextEncoder for ResponsesEncoder {
    fn preamble(&mut self) -> String {
        let response = self.response_object(&Stage::InProgress);
        let mut events = self.event("response.created", |object| object.raw("response", &response));
        events.push_str(&self.event("response.in_progress", |object| object.raw("response", &response)));
        events
    }

    fn content(&mut self, _index: usize, token: &str) -> String {
        let mut events = self.open_item();
        self.text.push_str(token);
        let item_id = self.item_id.clone();
        events.push_str(&self.event("response.output_text.delta", |object| {
            object
                .value("item_id", item_id)
                .value("output_index", 0)
                .value("content_index", 0)
                .value("delta", token)
                .raw("logprobs", "[]")
                .value("obfuscation", OBFUSCATION)
        }));
        events
    }

    fn finish(&mut self, reason: FinishReason, output_tokens: usize) -> String {
        let usage = self.usage(output_tokens);
        let (item_status, name, stage) = match reason {
            FinishReason::Stop => ("completed", "response.completed", Stage::Completed { usage }),
            FinishReason::Length => (
                "incomplete",
                "response.incomplete",
                Stage::Incomplete {
                    reason: "max_output_tokens",
                    usage,
                },
            ),
            FinishReason::ContentFilter | FinishReason::PromptBlocked => (
                "incomplete",
                "response.incomplete",
                Stage::Incomplete {
                    reason: "content_filter",
                    usage,
                },
            ),
        };
        let mut events = self.close_item(item_status);
        let response = self.response_object(&stage);
        events.push_str(&self.event(name, |object| object.raw("response", &response)));
        events
    }

    fn midstream_error(&mut self, _output_tokens: usize) -> String {
        let error = JsonObject::new()
            .value("type", "server_error")
            .value("code", "server_error")
            .value("message", SERVER_ERROR_MESSAGE)
            .null("param");
        let mut events = self.event("error", |object| object.object("error", error));
        let response = self.response_object(&Stage::Failed);
        events.push_str(&self.event("response.failed", |object| object.raw("response", &response)));
        events
    }
}
