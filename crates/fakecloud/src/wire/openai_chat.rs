//! Chat Completions SSE as OpenAI and Azure OpenAI send it.
//!
//! OpenAI writes keys in field order with `usage:null` on every chunk when
//! usage was requested. Azure writes keys alphabetically, opens with a
//! `prompt_filter_results` event (`choices:[]`, empty id), carries
//! `content_filter_results` on each choice, and, as its asynchronous filter
//! does, slips in one annotation-only chunk (`content_filter_offsets`, no
//! `delta`) mid-stream. Both end with `data: [DONE]`.

use crate::clock::unix_seconds;
use crate::json::{JsonObject, array};
use crate::wire::{EncoderContext, FinishReason, TextEncoder, data_event};

/// Which cloud's dialect of the format.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ChatFlavour {
    OpenAi,
    Azure,
}

pub(crate) struct ChatEncoder {
    flavour: ChatFlavour,
    context: EncoderContext,
    id: String,
    created: u64,
    include_usage: bool,
    /// Token index after which Azure's annotation-only chunk goes out.
    annotate_after: Option<usize>,
    characters_so_far: usize,
}

const SYSTEM_FINGERPRINT: &str = "fp_fakecloud";
/// What a redeployed backend reports instead (`redeploy_after=N`).
const REDEPLOYED_FINGERPRINT: &str = "fp_fakecloud_2";
/// OpenAI pads chunks with a random `obfuscation` string; a fixed one keeps
/// our output deterministic while still exercising "ignore unknown fields".
const OBFUSCATION: &str = "fAkEcLoUd";

const SERVER_ERROR_MESSAGE: &str = "The server had an error while processing your request. Sorry about that!";

impl ChatEncoder {
    /// `planned_tokens` is how many content tokens will be sent, so the
    /// Azure annotation lands mid-stream.
    pub(crate) fn new(
        flavour: ChatFlavour,
        context: EncoderContext,
        include_usage: bool,
        planned_tokens: usize,
    ) -> Self {
        let id = format!("chatcmpl-fake{}", context.id_suffix);
        let created = unix_seconds(context.started);
        let annotate_after = match flavour {
            ChatFlavour::Azure if planned_tokens > 0 => Some((planned_tokens - 1) / 2),
            _ => None,
        };
        Self {
            flavour,
            context,
            id,
            created,
            include_usage,
            annotate_after,
            characters_so_far: 0,
        }
    }

    /// One chunk with a single choice whose `delta` is already encoded.
    fn chunk(&self, delta: &str, finish_reason: Option<&str>, filter: AzureFilter) -> String {
        match self.flavour {
            ChatFlavour::OpenAi => {
                let choice = JsonObject::new()
                    .value("index", 0)
                    .raw("delta", delta)
                    .null("logprobs")
                    .value("finish_reason", finish_reason)
                    .finish();
                self.openai_envelope(&array([choice]), None)
            }
            ChatFlavour::Azure => {
                let choice = JsonObject::new()
                    .raw("content_filter_results", &filter.encode())
                    .raw("delta", delta)
                    .value("finish_reason", finish_reason)
                    .value("index", 0)
                    .null("logprobs")
                    .finish();
                self.azure_envelope(&array([choice]), None)
            }
        }
    }

    fn fingerprint(&self) -> &'static str {
        if self.context.redeployed {
            REDEPLOYED_FINGERPRINT
        } else {
            SYSTEM_FINGERPRINT
        }
    }

    fn openai_envelope(&self, choices: &str, usage: Option<&str>) -> String {
        let mut object = JsonObject::new()
            .value("id", self.id.as_str())
            .value("object", "chat.completion.chunk")
            .value("created", self.created)
            .value("model", self.context.model.as_str())
            .value("service_tier", "default")
            .value("system_fingerprint", self.fingerprint())
            .raw("choices", choices);
        if self.include_usage {
            object = object.raw("usage", usage.unwrap_or("null"));
        }
        data_event(&object.value("obfuscation", OBFUSCATION).finish())
    }

    fn azure_envelope(&self, choices: &str, usage: Option<&str>) -> String {
        let mut object = JsonObject::new()
            .raw("choices", choices)
            .value("created", self.created)
            .value("id", self.id.as_str())
            .value("model", self.context.model.as_str())
            .value("obfuscation", OBFUSCATION)
            .value("object", "chat.completion.chunk")
            .value("system_fingerprint", self.fingerprint());
        if self.include_usage {
            object = object.raw("usage", usage.unwrap_or("null"));
        }
        data_event(&object.finish())
    }

    fn usage(&self, output_tokens: usize) -> String {
        let input = self.context.input_tokens;
        let total = input + output_tokens;
        let prompt_details = JsonObject::new().value("cached_tokens", 0).value("audio_tokens", 0);
        let completion_details = JsonObject::new()
            .value("reasoning_tokens", 0)
            .value("audio_tokens", 0)
            .value("accepted_prediction_tokens", 0)
            .value("rejected_prediction_tokens", 0);
        match self.flavour {
            ChatFlavour::OpenAi => JsonObject::new()
                .value("prompt_tokens", input)
                .value("completion_tokens", output_tokens)
                .value("total_tokens", total)
                .object("prompt_tokens_details", prompt_details)
                .object("completion_tokens_details", completion_details)
                .finish(),
            ChatFlavour::Azure => JsonObject::new()
                .value("completion_tokens", output_tokens)
                .object("completion_tokens_details", completion_details)
                .value("prompt_tokens", input)
                .object("prompt_tokens_details", prompt_details)
                .value("total_tokens", total)
                .finish(),
        }
    }

    /// Azure's asynchronous-filter annotation: a choice with
    /// `content_filter_offsets` and no `delta`, on an otherwise empty chunk.
    fn azure_annotation(&self) -> String {
        let offsets = JsonObject::new()
            .value("check_offset", self.characters_so_far)
            .value("end_offset", self.characters_so_far)
            .value("start_offset", 0);
        let choice = JsonObject::new()
            .object("content_filter_offsets", offsets)
            .raw("content_filter_results", &AzureFilter::Safe.encode())
            .null("finish_reason")
            .value("index", 0)
            .finish();
        let chunk = JsonObject::new()
            .raw("choices", &array([choice]))
            .value("created", 0)
            .value("id", "")
            .value("model", "")
            .value("object", "")
            .finish();
        data_event(&chunk)
    }
}

impl TextEncoder for ChatEncoder {
    fn preamble(&mut self) -> String {
        let role_delta = JsonObject::new()
            .value("role", "assistant")
            .value("content", "")
            .null("refusal")
            .finish();
        match self.flavour {
            ChatFlavour::OpenAi => self.chunk(&role_delta, None, AzureFilter::Empty),
            ChatFlavour::Azure => {
                let role_delta = JsonObject::new()
                    .value("content", "")
                    .null("refusal")
                    .value("role", "assistant")
                    .finish();
                let prompt_filter = JsonObject::new()
                    .value("prompt_index", 0)
                    .raw("content_filter_results", &azure_prompt_filter_results(false))
                    .finish();
                let first = JsonObject::new()
                    .raw("choices", "[]")
                    .value("created", 0)
                    .value("id", "")
                    .value("model", "")
                    .value("object", "")
                    .raw("prompt_filter_results", &array([prompt_filter]))
                    .finish();
                data_event(&first) + &self.chunk(&role_delta, None, AzureFilter::Empty)
            }
        }
    }

    fn content(&mut self, index: usize, token: &str) -> String {
        let delta = JsonObject::new().value("content", token).finish();
        let mut events = self.chunk(&delta, None, AzureFilter::Safe);
        self.characters_so_far += token.chars().count();
        if self.annotate_after == Some(index) {
            events.push_str(&self.azure_annotation());
        }
        events
    }

    fn finish(&mut self, reason: FinishReason, output_tokens: usize) -> String {
        let (finish_reason, filter) = match reason {
            FinishReason::Stop => ("stop", AzureFilter::Safe),
            FinishReason::Length => ("length", AzureFilter::Safe),
            FinishReason::ContentFilter | FinishReason::PromptBlocked => ("content_filter", AzureFilter::Filtered),
        };
        let mut events = self.chunk("{}", Some(finish_reason), filter);
        if self.include_usage {
            let usage = self.usage(output_tokens);
            events.push_str(&match self.flavour {
                ChatFlavour::OpenAi => self.openai_envelope("[]", Some(&usage)),
                ChatFlavour::Azure => self.azure_envelope("[]", Some(&usage)),
            });
        }
        events.push_str(&data_event("[DONE]"));
        events
    }

    fn midstream_error(&mut self, _output_tokens: usize) -> String {
        let error = JsonObject::new()
            .value("message", SERVER_ERROR_MESSAGE)
            .value("type", "server_error")
            .null("param")
            .value("code", "server_error");
        data_event(&JsonObject::new().object("error", error).finish())
    }
}

/// The `content_filter_results` an Azure choice carries.
#[derive(Clone, Copy)]
enum AzureFilter {
    /// `{}`, as on the role chunk.
    Empty,
    /// Every category checked and safe.
    Safe,
    /// The output tripped the violence filter.
    Filtered,
}

impl AzureFilter {
    fn encode(self) -> String {
        match self {
            AzureFilter::Empty => "{}".to_owned(),
            AzureFilter::Safe => azure_output_filter_results(false),
            AzureFilter::Filtered => azure_output_filter_results(true),
        }
    }
}

fn severity(filtered: bool, level: &str) -> JsonObject {
    JsonObject::new().value("filtered", filtered).value("severity", level)
}

fn detection(detected: bool, filtered: bool) -> JsonObject {
    JsonObject::new()
        .value("detected", detected)
        .value("filtered", filtered)
}

/// Per-choice results; `violence` is the category that trips when filtered.
fn azure_output_filter_results(violence_filtered: bool) -> String {
    let violence = if violence_filtered {
        severity(true, "medium")
    } else {
        severity(false, "safe")
    };
    JsonObject::new()
        .object("hate", severity(false, "safe"))
        .object("protected_material_code", detection(false, false))
        .object("protected_material_text", detection(false, false))
        .object("self_harm", severity(false, "safe"))
        .object("sexual", severity(false, "safe"))
        .object("violence", violence)
        .finish()
}

/// Prompt results, as in the first Azure event and in a blocked-prompt 400;
/// `hate` is the category that trips when blocked.
pub(crate) fn azure_prompt_filter_results(hate_filtered: bool) -> String {
    let hate = if hate_filtered {
        severity(true, "high")
    } else {
        severity(false, "safe")
    };
    JsonObject::new()
        .object("hate", hate)
        .object("jailbreak", detection(false, false))
        .object("self_harm", severity(false, "safe"))
        .object("sexual", severity(false, "safe"))
        .object("violence", severity(false, "safe"))
        .finish()
}
