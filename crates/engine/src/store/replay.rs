//! Rebuilds what an unfinished response had streamed, from its stored events.
//!
//! A response's row is only filled in when the runner reports its end. If the process died first
//! (or the run is still going), the row holds nothing but who was asked; the events hold the rest.
//! Partial output is kept either way, so loading such a response folds its events back into a
//! record marked incomplete, with the runner's own [`Accumulator`] so a replay cannot disagree
//! with what the runner would have recorded.

use std::time::Duration;

use super::StoredEvent;
use crate::model::accumulate::Accumulator;
use crate::model::record::ResponseRecord;

/// Folds `events` (in sequence order) into `response`, whose row never got its final values.
pub(super) fn fold_events(response: &mut ResponseRecord, events: &[StoredEvent]) {
    let mut accumulator = Accumulator::new();
    for stored in events {
        accumulator.apply(&stored.event, Duration::from_micros(stored.elapsed_us));
    }
    // The last moment anything was heard from the response: the best "end" there is.
    let last_heard = Duration::from_micros(events.last().map_or(0, |stored| stored.elapsed_us));

    response.metrics = accumulator.metrics(last_heard);
    response.tool_calls = accumulator.tool_calls();
    response.request_id = accumulator.meta.request_id;
    response.reported_model = accumulator.meta.reported_model;
    response.region = accumulator.meta.region;
    response.system_fingerprint = accumulator.meta.system_fingerprint;
    response.service_tier = accumulator.meta.service_tier;
    response.text = accumulator.text;
    response.reasoning = accumulator.reasoning;
    response.billed_input_tokens = accumulator.billed_input_tokens;
    response.billed_output_tokens = accumulator.billed_output_tokens;
    response.refusal = accumulator.finish_reason == Some(crate::model::event::FinishReason::Refusal);
    response.usage = accumulator.usage.unwrap_or_default();
    response.finish_reason = accumulator.finish_reason;
    response.raw_finish_reason = accumulator.raw_finish_reason;
    response.error = accumulator.error;
    response.complete = false;
    if let Some(last_attempt) = events.iter().map(|stored| stored.attempt).max() {
        response.attempts = last_attempt.saturating_add(1);
    }
    if !events.is_empty() {
        let last_heard_ms = i64::try_from(last_heard.as_millis()).unwrap_or(i64::MAX);
        response.finished_at_ms = response.started_at_ms.saturating_add(last_heard_ms);
    }
}
