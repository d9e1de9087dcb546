//! Folds a response's events into its final shape and its metrics.
//!
//! The same fold serves the live runner, replays of stored events and tests on recordings, so a
//! response shown live, stored and replayed can never disagree.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::Serialize;
use ts_rs::TS;

use crate::model::error::ProviderError;
use crate::model::event::{FinishReason, ResponseMeta, StreamEvent, Usage, WarningKind};
use crate::model::record::{Metrics, ToolCall};

/// How fast one response is coming: the counters behind time to first token and tokens per
/// second, and the one place those formulas live. The final metrics ([`Accumulator::metrics`])
/// and the live view a host shows while the answer streams (the workbench's batches) both read
/// it, so a number shown live and the one stored cannot be computed two ways.
#[derive(Clone, Copy, Debug, Default)]
pub struct Speed {
    first_content: Option<Duration>,
    last_event: Option<Duration>,
    content_chunks: u64,
    reported_output_tokens: Option<u64>,
}

/// A response's speed so far, as a host shows it while the answer streams.
#[derive(Clone, Debug, PartialEq, Serialize, TS)]
#[ts(export)]
pub struct LiveMetrics {
    pub time_to_first_token_ms: Option<f64>,
    /// The cloud's count when it reported one, else the content deltas so far.
    pub output_tokens: Option<u64>,
    /// `output_tokens` counts deltas, not the cloud's tokens.
    pub tokens_estimated: bool,
    pub output_tokens_per_second: Option<f64>,
}

impl Speed {
    /// Counts one event that arrived `elapsed` after the request was first sent.
    pub fn apply(&mut self, event: &StreamEvent, elapsed: Duration) {
        self.last_event = Some(elapsed);
        if event.is_content() {
            self.content_chunks += 1;
            self.first_content.get_or_insert(elapsed);
        }
        if let StreamEvent::Usage(usage) = event {
            self.reported_output_tokens = usage.output_tokens;
        }
    }

    /// The cloud's output token count when it gave one, else the number of content deltas.
    pub fn output_tokens(&self) -> u64 {
        self.reported_output_tokens.unwrap_or(self.content_chunks)
    }

    /// Speed after the first token: the tokens that followed it over the time they took, up to
    /// the last event.
    pub fn output_tokens_per_second(&self) -> Option<f64> {
        let tokens = self.output_tokens();
        match (self.first_content, self.last_event) {
            (Some(first), Some(last)) if last > first && tokens > 1 => {
                Some((tokens - 1) as f64 / (last - first).as_secs_f64())
            }
            _ => None,
        }
    }

    pub fn time_to_first_token(&self) -> Option<Duration> {
        self.first_content
    }

    pub fn live(&self) -> LiveMetrics {
        LiveMetrics {
            time_to_first_token_ms: self.first_content.map(milliseconds),
            output_tokens: (self.reported_output_tokens.is_some() || self.content_chunks > 0)
                .then(|| self.output_tokens()),
            tokens_estimated: self.reported_output_tokens.is_none(),
            output_tokens_per_second: self.output_tokens_per_second(),
        }
    }
}

#[derive(Debug, Default)]
pub struct Accumulator {
    pub meta: ResponseMeta,
    pub text: String,
    pub reasoning: String,
    tool_calls: BTreeMap<u32, ToolCall>,
    pub usage: Option<Usage>,
    pub finish_reason: Option<FinishReason>,
    pub raw_finish_reason: Option<String>,
    pub error: Option<ProviderError>,
    speed: Speed,
    content_chunks: u64,
    first_content: Option<Duration>,
    last_content: Option<Duration>,
    gaps_ms: Vec<f64>,
    server_latency_ms: Option<u64>,
    server_first_byte_ms: Option<u64>,
    pub billed_input_tokens: Option<u64>,
    pub billed_output_tokens: Option<u64>,
    /// What was set aside rather than believed, in arrival order.
    pub warnings: Vec<(WarningKind, String)>,
}

impl Accumulator {
    pub fn new() -> Self {
        Self::default()
    }

    /// Applies one event that arrived `elapsed` after the request was first sent.
    pub fn apply(&mut self, event: &StreamEvent, elapsed: Duration) {
        self.speed.apply(event, elapsed);
        if event.is_content() {
            self.content_chunks += 1;
            if let Some(previous) = self.last_content {
                self.gaps_ms.push(milliseconds(elapsed.saturating_sub(previous)));
            }
            self.first_content.get_or_insert(elapsed);
            self.last_content = Some(elapsed);
        }
        match event {
            StreamEvent::Started(meta) => self.meta = meta.clone(),
            StreamEvent::TextDelta { text } => self.text.push_str(text),
            StreamEvent::ReasoningDelta { text } => self.reasoning.push_str(text),
            StreamEvent::ToolCallDelta {
                index,
                id,
                name,
                arguments,
            } => {
                let call = self.tool_calls.entry(*index).or_insert_with(|| ToolCall {
                    index: *index,
                    ..ToolCall::default()
                });
                if id.is_some() {
                    call.id.clone_from(id);
                }
                if name.is_some() {
                    call.name.clone_from(name);
                }
                call.arguments.push_str(arguments);
            }
            StreamEvent::Usage(usage) => self.usage = Some(usage.clone()),
            StreamEvent::ServerTiming {
                latency_ms,
                first_byte_latency_ms,
            } => {
                self.server_latency_ms = latency_ms.or(self.server_latency_ms);
                self.server_first_byte_ms = first_byte_latency_ms.or(self.server_first_byte_ms);
            }
            StreamEvent::BilledUsage {
                input_tokens,
                output_tokens,
            } => {
                self.billed_input_tokens = input_tokens.or(self.billed_input_tokens);
                self.billed_output_tokens = output_tokens.or(self.billed_output_tokens);
            }
            StreamEvent::Deployment {
                system_fingerprint,
                service_tier,
            } => {
                if system_fingerprint.is_some() {
                    self.meta.system_fingerprint.clone_from(system_fingerprint);
                }
                if service_tier.is_some() {
                    self.meta.service_tier.clone_from(service_tier);
                }
            }
            StreamEvent::Finished { reason, raw_reason } => {
                self.finish_reason = Some(*reason);
                self.raw_finish_reason.clone_from(raw_reason);
            }
            StreamEvent::Error(error) => {
                // The first error is the cause; later ones are consequences.
                if self.error.is_none() {
                    self.error = Some(error.clone());
                }
            }
            StreamEvent::Warning { kind, message } => self.warnings.push((*kind, message.clone())),
        }
    }

    /// Why the reported usage cannot be trusted, if a count in it was implausible: then no cost
    /// is computed from it.
    pub fn implausible_usage(&self) -> Option<&str> {
        self.warnings
            .iter()
            .find(|(kind, _)| *kind == WarningKind::ImplausibleUsage)
            .map(|(_, message)| message.as_str())
    }

    pub fn has_content(&self) -> bool {
        self.content_chunks > 0
    }

    /// Complete means the cloud said why it stopped, nothing went wrong, and the answer is not
    /// one the server paused part-way (Anthropic `pause_turn`: the turn is unfinished).
    pub fn is_complete(&self) -> bool {
        self.finish_reason
            .is_some_and(|reason| reason != FinishReason::PauseTurn)
            && self.error.is_none()
    }

    /// The usage the cloud bills: the model's own counts, with the cloud's metered counts in
    /// their place where it reported them (Bedrock bills what Bedrock meters).
    pub fn billable_usage(&self) -> Option<Usage> {
        let mut usage = self.usage.clone();
        if self.billed_input_tokens.is_some() || self.billed_output_tokens.is_some() {
            let usage = usage.get_or_insert_with(Usage::default);
            usage.input_tokens = self.billed_input_tokens.or(usage.input_tokens);
            usage.output_tokens = self.billed_output_tokens.or(usage.output_tokens);
            usage.total_tokens = usage
                .input_tokens
                .zip(usage.output_tokens)
                .map(|(input, output)| input.saturating_add(output))
                .or(usage.total_tokens);
        }
        usage
    }

    pub fn tool_calls(&self) -> Vec<ToolCall> {
        self.tool_calls.values().cloned().collect()
    }

    pub fn time_to_first_token(&self) -> Option<Duration> {
        self.first_content
    }

    /// Metrics for a response that ended `total` after its request was first sent.
    pub fn metrics(&self, total: Duration) -> Metrics {
        let mut gaps = self.gaps_ms.clone();
        gaps.sort_by(f64::total_cmp);
        Metrics {
            time_to_first_token_ms: self.first_content.map(milliseconds),
            total_ms: milliseconds(total),
            output_tokens_per_second: self.speed.output_tokens_per_second(),
            content_chunks: self.content_chunks,
            gap_p50_ms: percentile(&gaps, 0.50),
            gap_p95_ms: percentile(&gaps, 0.95),
            gap_max_ms: gaps.last().copied(),
            server_latency_ms: self.server_latency_ms.map(|value| value as f64),
            server_first_byte_ms: self.server_first_byte_ms.map(|value| value as f64),
            // The runner measures these; the stream cannot know them.
            client_lag_first_token_ms: None,
            client_lag_end_ms: None,
            client_saturated: false,
        }
    }
}

fn milliseconds(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1000.0
}

/// Nearest-rank percentile of sorted values.
pub fn percentile(sorted: &[f64], quantile: f64) -> Option<f64> {
    if sorted.is_empty() {
        return None;
    }
    let rank = (quantile * sorted.len() as f64).ceil() as usize;
    Some(sorted[rank.clamp(1, sorted.len()) - 1])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_use_nearest_rank() {
        let values: Vec<f64> = (1..=100).map(f64::from).collect();
        assert_eq!(percentile(&values, 0.5), Some(50.0));
        assert_eq!(percentile(&values, 0.95), Some(95.0));
        assert_eq!(percentile(&[7.0], 0.95), Some(7.0));
        assert_eq!(percentile(&[], 0.5), None);
    }

    #[test]
    fn metrics_measure_from_the_first_content() {
        let mut accumulator = Accumulator::new();
        let at = Duration::from_millis;
        accumulator.apply(&StreamEvent::Started(ResponseMeta::default()), at(50));
        for (index, time) in [200, 210, 220, 230, 240].into_iter().enumerate() {
            accumulator.apply(
                &StreamEvent::TextDelta {
                    text: format!("t{index}"),
                },
                at(time),
            );
        }
        accumulator.apply(
            &StreamEvent::Finished {
                reason: FinishReason::Stop,
                raw_reason: None,
            },
            at(240),
        );
        let metrics = accumulator.metrics(at(250));
        assert_eq!(metrics.time_to_first_token_ms, Some(200.0));
        assert_eq!(metrics.content_chunks, 5);
        assert_eq!(metrics.gap_max_ms.map(f64::round), Some(10.0));
        // 4 tokens after the first, over 40 ms.
        assert_eq!(metrics.output_tokens_per_second.map(f64::round), Some(100.0));
        assert!(accumulator.is_complete());
        assert_eq!(accumulator.text, "t0t1t2t3t4");
    }

    #[test]
    fn billed_counts_replace_the_model_counts_for_cost_only() {
        let mut accumulator = Accumulator::new();
        accumulator.apply(
            &StreamEvent::Usage(Usage {
                input_tokens: Some(273),
                output_tokens: Some(88),
                total_tokens: Some(361),
                ..Usage::default()
            }),
            Duration::ZERO,
        );
        assert_eq!(accumulator.billable_usage(), accumulator.usage);
        accumulator.apply(
            &StreamEvent::BilledUsage {
                input_tokens: Some(273),
                output_tokens: Some(72),
            },
            Duration::ZERO,
        );
        let billable = accumulator.billable_usage().expect("usage");
        assert_eq!(
            (billable.input_tokens, billable.output_tokens, billable.total_tokens),
            (Some(273), Some(72), Some(345))
        );
        // The model's own count is kept as it said.
        assert_eq!(
            accumulator.usage.as_ref().and_then(|usage| usage.output_tokens),
            Some(88)
        );
    }

    #[test]
    fn billed_counts_at_the_limit_do_not_overflow_the_total() {
        let mut accumulator = Accumulator::new();
        accumulator.apply(
            &StreamEvent::BilledUsage {
                input_tokens: Some(u64::MAX),
                output_tokens: Some(u64::MAX),
            },
            Duration::ZERO,
        );
        assert_eq!(
            accumulator.billable_usage().and_then(|usage| usage.total_tokens),
            Some(u64::MAX)
        );
    }

    #[test]
    fn a_paused_turn_is_not_complete() {
        let mut accumulator = Accumulator::new();
        accumulator.apply(&StreamEvent::TextDelta { text: "Let me".into() }, Duration::ZERO);
        accumulator.apply(
            &StreamEvent::Finished {
                reason: FinishReason::PauseTurn,
                raw_reason: Some("pause_turn".into()),
            },
            Duration::ZERO,
        );
        assert!(!accumulator.is_complete());
        assert_eq!(FinishReason::parse("pause_turn"), Some(FinishReason::PauseTurn));
        assert_eq!(FinishReason::PauseTurn.as_str(), "pause_turn");
    }
}
