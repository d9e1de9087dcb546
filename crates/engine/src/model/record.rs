//! What a run leaves behind: the records the runner produces and the store keeps.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use time::format_description::BorrowedFormatItem;
use time::macros::format_description;
use time::{OffsetDateTime, PrimitiveDateTime};
use ts_rs::TS;
use uuid::Uuid;

use crate::model::error::ProviderError;
use crate::model::event::{FinishReason, ResponseKey, Usage};
use crate::model::request::{Parameters, Prompt};

/// A run's id: a UUIDv7, so ids sort by creation time.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct RunId(pub Uuid);

/// Written out rather than derived: ts-rs's derive does not read `#[serde(transparent)]` and
/// warns about it on every build. The binding is the UUID's canonical string, as serialised.
impl TS for RunId {
    type WithoutGenerics = Self;
    type OptionInnerType = Self;

    fn name(_config: &ts_rs::Config) -> String {
        "RunId".to_owned()
    }

    fn inline(config: &ts_rs::Config) -> String {
        Uuid::inline(config)
    }

    fn decl(config: &ts_rs::Config) -> String {
        format!("type RunId = {};", Self::inline(config))
    }

    fn decl_concrete(config: &ts_rs::Config) -> String {
        Self::decl(config)
    }

    fn output_path() -> Option<std::path::PathBuf> {
        Some("RunId.ts".into())
    }
}

impl RunId {
    pub fn new() -> Self {
        Self(Uuid::now_v7())
    }
}

impl Default for RunId {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Display for RunId {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(formatter)
    }
}

impl FromStr for RunId {
    type Err = uuid::Error;
    fn from_str(value: &str) -> Result<Self, Self::Err> {
        Uuid::parse_str(value).map(Self)
    }
}

/// Wall-clock time in milliseconds since the Unix epoch (for records; durations use monotonic time).
pub fn now_unix_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |elapsed| i64::try_from(elapsed.as_millis()).unwrap_or(i64::MAX))
}

/// `YYYY-MM-DD HH:MM:SS` in UTC from Unix milliseconds. A time beyond what `time` represents
/// (years -9999 to 9999, so only a corrupt value) shows as the nearest one it does.
pub fn utc_date_time(unix_ms: i64) -> String {
    const FORMAT: &[BorrowedFormatItem<'_>] = format_description!("[year]-[month]-[day] [hour]:[minute]:[second]");
    let seconds = unix_ms.div_euclid(1000);
    let time = OffsetDateTime::from_unix_timestamp(seconds).unwrap_or(if seconds < 0 {
        PrimitiveDateTime::MIN.assume_utc()
    } else {
        PrimitiveDateTime::MAX.assume_utc()
    });
    time.format(FORMAT)
        .unwrap_or_else(|error| unreachable!("a UTC date and time always formats: {error}"))
}

/// A run as started: what was asked of which targets.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct RunRecord {
    pub id: RunId,
    pub started_at_ms: i64,
    pub parameters: Parameters,
    pub prompts: Vec<Prompt>,
    /// The targets as run (secrets are never part of a target; only key references are).
    pub targets: Vec<crate::model::target::Target>,
    pub repeat: u32,
}

/// A finished tool call, arguments concatenated from their fragments.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct ToolCall {
    pub index: u32,
    pub id: Option<String>,
    pub name: Option<String>,
    pub arguments: String,
}

/// Timings measured in the engine on a monotonic clock, from the moment the request was sent
/// (the first attempt, so retries count against the cloud).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct Metrics {
    /// Time to the first content delta (text, reasoning or tool call).
    pub time_to_first_token_ms: Option<f64>,
    pub total_ms: f64,
    /// Output tokens per second after the first token (the cloud's count when it reports one).
    pub output_tokens_per_second: Option<f64>,
    /// Number of content deltas received.
    pub content_chunks: u64,
    /// Gaps between consecutive content deltas.
    pub gap_p50_ms: Option<f64>,
    pub gap_p95_ms: Option<f64>,
    pub gap_max_ms: Option<f64>,
    /// The cloud's own measurement of the whole response (Bedrock `latencyMs`/`invocationLatency`).
    #[serde(default)]
    pub server_latency_ms: Option<f64>,
    /// The cloud's own time to first byte (Bedrock invoke `firstByteLatency`).
    #[serde(default)]
    pub server_first_byte_ms: Option<f64>,
    /// How late the client itself was (its scheduling lag, see `run::lag`) around the request
    /// going out and the first token: how far `time_to_first_token_ms` may be ModelBench's own.
    #[serde(default)]
    pub client_lag_first_token_ms: Option<f64>,
    /// The same around the request going out and the end: how far `total_ms` may be ours.
    #[serde(default)]
    pub client_lag_end_ms: Option<f64>,
    /// The client's lag could have moved a timing by more than the run's threshold (5 ms unless
    /// set): the timings are not the cloud's alone. Sessions leave such samples out of latency
    /// statistics and count them.
    #[serde(default)]
    pub client_saturated: bool,
}

/// One response: one target answering one prompt, once (of `repeat`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct ResponseRecord {
    pub run_id: RunId,
    pub key: ResponseKey,
    pub target: String,
    pub provider: String,
    pub model: String,
    pub request_id: Option<String>,
    pub reported_model: Option<String>,
    /// The model as its maker names it (`gpt-5.4`), the same on every cloud: from the target's
    /// model id, its `base_model`, or (Azure) the model the response reports. `None` when
    /// nothing says it.
    #[serde(default)]
    #[ts(optional)]
    pub base_model: Option<String>,
    pub region: Option<String>,
    /// The backend configuration that served the response, as the cloud reports it (OpenAI
    /// and Azure `system_fingerprint`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub system_fingerprint: Option<String>,
    /// The capacity tier the cloud says served the response.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub service_tier: Option<String>,
    pub text: String,
    pub reasoning: String,
    pub tool_calls: Vec<ToolCall>,
    pub finish_reason: Option<FinishReason>,
    pub raw_finish_reason: Option<String>,
    pub usage: Usage,
    /// The input tokens the cloud bills, where it meters them apart from `usage` (Bedrock's
    /// invocation metrics); cost is computed from these when present.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub billed_input_tokens: Option<u64>,
    /// The output tokens the cloud bills (see `billed_input_tokens`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub billed_output_tokens: Option<u64>,
    /// The model declined to answer; `text` holds its refusal. The same mark on every cloud.
    #[serde(default)]
    pub refusal: bool,
    pub metrics: Metrics,
    /// What the response cost in US dollars, from its reported usage and the price in force.
    /// `None` when it cannot be known; never a silent 0.
    #[serde(default)]
    pub cost_usd: Option<f64>,
    /// Where the price came from (catalog entry and date, or a user override), or, when
    /// `cost_usd` is `None`, why there is no cost.
    #[serde(default)]
    pub cost_source: Option<String>,
    /// True only when the cloud ended the stream normally. Partial output is kept either way.
    pub complete: bool,
    pub error: Option<ProviderError>,
    pub attempts: u32,
    /// Parameters the request set that this provider cannot honour (reported, never dropped silently).
    pub unsupported_parameters: Vec<String>,
    pub started_at_ms: i64,
    pub finished_at_ms: i64,
}

#[cfg(test)]
mod tests {
    use super::utc_date_time;

    #[test]
    fn dates_and_times_are_utc_and_zero_padded() {
        assert_eq!(utc_date_time(0), "1970-01-01 00:00:00");
        // Milliseconds are dropped, never rounded up; before the epoch they count back.
        assert_eq!(utc_date_time(999), "1970-01-01 00:00:00");
        assert_eq!(utc_date_time(-1), "1969-12-31 23:59:59");
        assert_eq!(utc_date_time(1_709_210_096_789), "2024-02-29 12:34:56");
        assert_eq!(utc_date_time(951_868_800_000), "2000-03-01 00:00:00");
        assert_eq!(utc_date_time(-62_135_596_800_000), "0001-01-01 00:00:00");
        assert_eq!(utc_date_time(253_402_300_799_999), "9999-12-31 23:59:59");
    }

    #[test]
    fn a_time_out_of_range_shows_as_the_nearest_one() {
        assert_eq!(utc_date_time(i64::MAX), "9999-12-31 23:59:59");
        assert_eq!(utc_date_time(i64::MIN), "-9999-01-01 00:00:00");
    }
}
