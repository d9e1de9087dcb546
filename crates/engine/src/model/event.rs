//! The one stream-event vocabulary every provider is mapped into.
//!
//! Wire decoders (one per cloud) turn bytes into these events; the runner stamps them with the
//! target, a sequence number and a monotonic time. Lifecycle (started, finished, error) is kept
//! apart from content (text, reasoning, tool calls) so consumers never guess which is which.

use serde::{Deserialize, Serialize};
use ts_rs::TS;

use crate::model::error::ProviderError;

/// One event from a streaming response, provider-neutral.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, TS)]
#[serde(tag = "type", rename_all = "snake_case")]
#[ts(export)]
pub enum StreamEvent {
    /// The cloud accepted the request. Emitted once, before any content.
    Started(ResponseMeta),
    TextDelta {
        text: String,
    },
    ReasoningDelta {
        text: String,
    },
    /// A fragment of a tool call. `id`/`name` arrive on the first fragment of an `index`;
    /// `arguments` fragments are concatenated per `index`.
    ToolCallDelta {
        index: u32,
        #[serde(skip_serializing_if = "Option::is_none", default)]
        #[ts(optional)]
        id: Option<String>,
        #[serde(skip_serializing_if = "Option::is_none", default)]
        #[ts(optional)]
        name: Option<String>,
        arguments: String,
    },
    /// Token counts as the cloud reports them. Later usage events replace earlier ones.
    Usage(Usage),
    /// The cloud's own timing of the response (Bedrock's `latencyMs`, its invoke
    /// `invocationLatency`/`firstByteLatency`), kept beside the engine's measurements.
    ServerTiming {
        #[serde(skip_serializing_if = "Option::is_none", default)]
        #[ts(optional)]
        latency_ms: Option<u64>,
        #[serde(skip_serializing_if = "Option::is_none", default)]
        #[ts(optional)]
        first_byte_latency_ms: Option<u64>,
    },
    /// The token counts the cloud bills, where it meters them apart from the model's own usage
    /// (Bedrock's `amazon-bedrock-invocationMetrics`). Cost uses these; both are kept.
    BilledUsage {
        #[serde(skip_serializing_if = "Option::is_none", default)]
        #[ts(optional)]
        input_tokens: Option<u64>,
        #[serde(skip_serializing_if = "Option::is_none", default)]
        #[ts(optional)]
        output_tokens: Option<u64>,
    },
    Finished {
        reason: FinishReason,
        #[serde(skip_serializing_if = "Option::is_none", default)]
        #[ts(optional)]
        raw_reason: Option<String>,
    },
    /// What the cloud said about the deployment serving the response after `Started` went out:
    /// OpenAI's Responses API names the tier it used only when it completes (its first event
    /// repeats the requested `auto`), and a fingerprint may first appear on a later chunk.
    /// A field that is `None` leaves the earlier value standing.
    Deployment {
        #[serde(skip_serializing_if = "Option::is_none", default)]
        #[ts(optional)]
        system_fingerprint: Option<String>,
        #[serde(skip_serializing_if = "Option::is_none", default)]
        #[ts(optional)]
        service_tier: Option<String>,
    },
    /// The stream broke or the cloud reported an error inside it. Terminal.
    Error(ProviderError),
    /// Something the cloud sent was set aside rather than believed or failed on; the response
    /// goes on (a token count no cloud could mean, data after the stream's terminal event).
    Warning {
        kind: WarningKind,
        message: String,
    },
}

/// What a [`StreamEvent::Warning`] is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
#[ts(export)]
pub enum WarningKind {
    /// A token count that is no plausible number of tokens (negative, fractional, not a number,
    /// or above 2^53): read as unknown, so it reaches no sum, cost or column; the raw usage
    /// object in the events keeps it as sent.
    ImplausibleUsage,
    /// The stream went on after its terminal event (a gateway replaying it, a stray `[DONE]`):
    /// ignored.
    AfterEnd,
}

impl StreamEvent {
    /// Content is what the user waits for: it is what time-to-first-token measures and what
    /// forbids a retry once seen.
    pub fn is_content(&self) -> bool {
        matches!(
            self,
            Self::TextDelta { .. } | Self::ReasoningDelta { .. } | Self::ToolCallDelta { .. }
        )
    }

    pub fn kind(&self) -> &'static str {
        match self {
            Self::Started(_) => "started",
            Self::TextDelta { .. } => "text_delta",
            Self::ReasoningDelta { .. } => "reasoning_delta",
            Self::ToolCallDelta { .. } => "tool_call_delta",
            Self::Usage(_) => "usage",
            Self::ServerTiming { .. } => "server_timing",
            Self::BilledUsage { .. } => "billed_usage",
            Self::Deployment { .. } => "deployment",
            Self::Finished { .. } => "finished",
            Self::Error(_) => "error",
            Self::Warning { .. } => "warning",
        }
    }
}

/// What the cloud says about the response it is producing.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct ResponseMeta {
    pub request_id: Option<String>,
    /// The model or model version the cloud reports having used (may differ from the requested one).
    pub reported_model: Option<String>,
    /// Region or data zone, where the cloud reports one (Azure `x-ms-region`).
    pub region: Option<String>,
    /// The backend configuration that served the response (OpenAI and Azure
    /// `system_fingerprint`): it changes when the cloud redeploys the same model name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub system_fingerprint: Option<String>,
    /// The capacity tier that served the response (OpenAI `service_tier`, Anthropic
    /// `usage.service_tier`): `default`, `flex`, `priority`, `standard`, …
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub service_tier: Option<String>,
}

/// Token usage normalised across clouds. `None` means the cloud did not say.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct Usage {
    pub input_tokens: Option<u64>,
    pub output_tokens: Option<u64>,
    pub reasoning_tokens: Option<u64>,
    pub cached_input_tokens: Option<u64>,
    pub cache_creation_input_tokens: Option<u64>,
    pub total_tokens: Option<u64>,
    /// The cloud's own usage object, kept verbatim for audit.
    #[serde(default, skip_serializing_if = "serde_json::Value::is_null")]
    pub raw: serde_json::Value,
}

impl Usage {
    /// Every count, in field order: input, output, reasoning, cached input, cache creation,
    /// total.
    pub fn counts(&self) -> [Option<u64>; 6] {
        [
            self.input_tokens,
            self.output_tokens,
            self.reasoning_tokens,
            self.cached_input_tokens,
            self.cache_creation_input_tokens,
            self.total_tokens,
        ]
    }
}

/// Why generation stopped, normalised. The raw value is kept beside it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
#[ts(export)]
pub enum FinishReason {
    Stop,
    Length,
    ToolCalls,
    ContentFilter,
    /// The model declined (Chat Completions `delta.refusal`, Responses `response.refusal.delta`,
    /// Anthropic `stop_reason: "refusal"`); its text is the refusal.
    Refusal,
    /// The server paused a long turn (Anthropic `pause_turn`): the answer is unfinished.
    PauseTurn,
    Error,
    Other,
}

impl FinishReason {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Stop => "stop",
            Self::Length => "length",
            Self::ToolCalls => "tool_calls",
            Self::ContentFilter => "content_filter",
            Self::Refusal => "refusal",
            Self::PauseTurn => "pause_turn",
            Self::Error => "error",
            Self::Other => "other",
        }
    }

    pub fn parse(value: &str) -> Option<Self> {
        Some(match value {
            "stop" => Self::Stop,
            "length" => Self::Length,
            "tool_calls" => Self::ToolCalls,
            "content_filter" => Self::ContentFilter,
            "refusal" => Self::Refusal,
            "pause_turn" => Self::PauseTurn,
            "error" => Self::Error,
            "other" => Self::Other,
            _ => return None,
        })
    }
}

/// A stream event as the runner saw it: which response it belongs to, its place in that
/// response's stream and when it arrived.
#[derive(Clone, Debug, Serialize, TS)]
#[ts(export)]
pub struct StampedEvent {
    pub response_key: ResponseKey,
    pub target: String,
    /// 0-based attempt number (retries before first content start a new attempt).
    pub attempt: u32,
    /// Sequence number within the response, across attempts.
    pub sequence: u64,
    /// Microseconds since the response's first attempt was started (monotonic clock).
    pub elapsed_us: u64,
    pub event: StreamEvent,
}

/// Identifies one response inside a run: which prompt, which target, which repeat.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct ResponseKey {
    pub prompt_index: u32,
    pub target_index: u32,
    pub repeat_index: u32,
}
