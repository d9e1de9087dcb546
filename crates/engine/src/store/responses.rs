//! The `responses` and `response_events` tables read back: a run's responses one at a time, a
//! response's stored events, and responses left `running` ended as incomplete from their events.
//!
//! Left out: writing them as a run streams (`writer`).

use rusqlite::{Connection, OptionalExtension, Row, params};
use serde::Serialize;
use ts_rs::TS;

use super::{Store, from_json, parse_run_id, replay, writer};
use crate::model::error::Result;
use crate::model::event::{FinishReason, ResponseKey, StreamEvent, Usage};
use crate::model::record::{Metrics, ResponseRecord, RunId};

/// Why a response still `running` when its own run ended is incomplete.
pub(super) const UNFINISHED_AT_RUN_END: &str = "the end of this response could not be stored; what had arrived is kept";

/// `responses.status`: the store's own vocabulary, derived from what the runner reports.
pub(super) const RESPONSE_STATUS_RUNNING: &str = "running";
pub(super) const RESPONSE_STATUS_COMPLETE: &str = "complete";
pub(super) const RESPONSE_STATUS_INCOMPLETE: &str = "incomplete";

/// One stored stream event of a response.
#[derive(Clone, Debug, PartialEq, Serialize, TS)]
#[ts(export)]
pub struct StoredEvent {
    pub sequence: u64,
    pub attempt: u32,
    pub elapsed_us: u64,
    pub event: StreamEvent,
}

impl Store {
    /// Hands each response of run `id` to `visit`, ordered by prompt, target and repeat, one at
    /// a time: what a run of any size is read back through, so no caller needs to hold them all.
    /// A response that never finished comes rebuilt from its events, as in [`Store::load_run`].
    pub fn for_each_response(&self, id: RunId, mut visit: impl FnMut(ResponseRecord) -> Result<()>) -> Result<()> {
        let mut connection = self.connection();
        let transaction = connection.transaction()?;
        visit_responses(&transaction, &id.to_string(), &mut visit)
    }

    /// The stored events of one response, in sequence order (empty if there is no such response).
    pub fn load_events(&self, id: RunId, key: ResponseKey) -> Result<Vec<StoredEvent>> {
        let connection = self.connection();
        let response_id: Option<i64> = connection
            .query_row(
                "SELECT id FROM responses
                 WHERE run_id = ?1 AND prompt_index = ?2 AND target_index = ?3 AND repeat_index = ?4",
                params![id.to_string(), key.prompt_index, key.target_index, key.repeat_index],
                |row| row.get(0),
            )
            .optional()?;
        match response_id {
            Some(response_id) => events_of_response(&connection, response_id),
            None => Ok(Vec::new()),
        }
    }
}

/// The columns [`response_from_row`] reads.
const COLUMNS: [&str; 49] = [
    "id",
    "run_id",
    "prompt_index",
    "target_index",
    "repeat_index",
    "target",
    "provider",
    "model",
    "status",
    "request_id",
    "reported_model",
    "base_model",
    "region",
    "system_fingerprint",
    "service_tier",
    "text",
    "reasoning",
    "tool_calls_json",
    "finish_reason",
    "raw_finish_reason",
    "input_tokens",
    "output_tokens",
    "reasoning_tokens",
    "cached_input_tokens",
    "cache_creation_input_tokens",
    "total_tokens",
    "usage_raw_json",
    "billed_input_tokens",
    "billed_output_tokens",
    "time_to_first_token_ms",
    "total_ms",
    "output_tokens_per_second",
    "content_chunks",
    "gap_p50_ms",
    "gap_p95_ms",
    "gap_max_ms",
    "server_latency_ms",
    "server_first_byte_ms",
    "client_lag_first_token_ms",
    "client_lag_end_ms",
    "client_saturated",
    "cost_usd",
    "cost_source",
    "complete",
    "error_json",
    "attempts",
    "unsupported_parameters_json",
    "started_at_ms",
    "finished_at_ms",
];

/// `COLUMNS` as a SELECT list.
static RESPONSE_COLUMNS: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| COLUMNS.join(", "));

/// The position of `name` in [`COLUMNS`], found when compiling (an unknown name does not
/// compile): a row read by position, not by name (rusqlite finds a name by comparing it with
/// every column's, which was a third of `session show`'s time on a large session).
const fn column(name: &str) -> usize {
    let mut index = 0;
    while index < COLUMNS.len() {
        if same(COLUMNS[index].as_bytes(), name.as_bytes()) {
            return index;
        }
        index += 1;
    }
    panic!("not a column of COLUMNS");
}

const fn same(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let mut index = 0;
    while index < a.len() {
        if a[index] != b[index] {
            return false;
        }
        index += 1;
    }
    true
}

/// A column's position in [`COLUMNS`], checked when compiling.
macro_rules! col {
    ($name:literal) => {
        const { column($name) }
    };
}

fn response_from_row(row: &Row<'_>) -> Result<ResponseRecord> {
    let usage_raw_json: Option<String> = row.get(col!("usage_raw_json"))?;
    let error_json: Option<String> = row.get(col!("error_json"))?;
    let finish_reason: Option<String> = row.get(col!("finish_reason"))?;
    let refusal = finish_reason.as_deref() == Some(FinishReason::Refusal.as_str());
    Ok(ResponseRecord {
        run_id: parse_run_id(&row.get::<_, String>(col!("run_id"))?)?,
        key: ResponseKey {
            prompt_index: row.get(col!("prompt_index"))?,
            target_index: row.get(col!("target_index"))?,
            repeat_index: row.get(col!("repeat_index"))?,
        },
        target: row.get(col!("target"))?,
        provider: row.get(col!("provider"))?,
        model: row.get(col!("model"))?,
        request_id: row.get(col!("request_id"))?,
        reported_model: row.get(col!("reported_model"))?,
        base_model: row.get(col!("base_model"))?,
        region: row.get(col!("region"))?,
        system_fingerprint: row.get(col!("system_fingerprint"))?,
        service_tier: row.get(col!("service_tier"))?,
        text: row.get(col!("text"))?,
        reasoning: row.get(col!("reasoning"))?,
        tool_calls: from_json(&row.get::<_, String>(col!("tool_calls_json"))?, "tool calls")?,
        // A newer ModelBench may know reasons this build does not; the raw reason is kept beside.
        finish_reason: finish_reason.map(|reason| FinishReason::parse(&reason).unwrap_or(FinishReason::Other)),
        raw_finish_reason: row.get(col!("raw_finish_reason"))?,
        billed_input_tokens: row.get(col!("billed_input_tokens"))?,
        billed_output_tokens: row.get(col!("billed_output_tokens"))?,
        refusal,
        usage: Usage {
            input_tokens: row.get(col!("input_tokens"))?,
            output_tokens: row.get(col!("output_tokens"))?,
            reasoning_tokens: row.get(col!("reasoning_tokens"))?,
            cached_input_tokens: row.get(col!("cached_input_tokens"))?,
            cache_creation_input_tokens: row.get(col!("cache_creation_input_tokens"))?,
            total_tokens: row.get(col!("total_tokens"))?,
            raw: usage_raw_json
                .map(|text| from_json(&text, "usage"))
                .transpose()?
                .unwrap_or_default(),
        },
        metrics: Metrics {
            time_to_first_token_ms: row.get(col!("time_to_first_token_ms"))?,
            total_ms: row.get::<_, Option<f64>>(col!("total_ms"))?.unwrap_or_default(),
            output_tokens_per_second: row.get(col!("output_tokens_per_second"))?,
            content_chunks: row.get(col!("content_chunks"))?,
            gap_p50_ms: row.get(col!("gap_p50_ms"))?,
            gap_p95_ms: row.get(col!("gap_p95_ms"))?,
            gap_max_ms: row.get(col!("gap_max_ms"))?,
            server_latency_ms: row.get(col!("server_latency_ms"))?,
            server_first_byte_ms: row.get(col!("server_first_byte_ms"))?,
            client_lag_first_token_ms: row.get(col!("client_lag_first_token_ms"))?,
            client_lag_end_ms: row.get(col!("client_lag_end_ms"))?,
            client_saturated: row.get(col!("client_saturated"))?,
        },
        cost_usd: row.get(col!("cost_usd"))?,
        cost_source: row.get(col!("cost_source"))?,
        complete: row.get(col!("complete"))?,
        error: error_json.map(|text| from_json(&text, "error")).transpose()?,
        attempts: row.get(col!("attempts"))?,
        unsupported_parameters: from_json(
            &row.get::<_, String>(col!("unsupported_parameters_json"))?,
            "unsupported parameters",
        )?,
        started_at_ms: row.get(col!("started_at_ms"))?,
        // A response that never finished has no end yet; replay fills in its last event's time.
        finished_at_ms: row.get::<_, Option<i64>>(col!("finished_at_ms"))?.unwrap_or_default(),
    })
}

/// Ends every response of `run` still marked `running` as incomplete, rebuilt from its events
/// (so its partial text is stored and indexed for search), with `reason` as its error when the
/// events hold none. Returns how many there were.
pub(super) fn finish_unfinished_responses(connection: &Connection, run: RunId, reason: &str) -> Result<usize> {
    let mut unfinished = Vec::new();
    {
        let mut statement = connection.prepare_cached(&format!(
            "SELECT {} FROM responses WHERE run_id = ?1 AND status = ?2",
            *RESPONSE_COLUMNS
        ))?;
        let mut rows = statement.query(params![run.to_string(), RESPONSE_STATUS_RUNNING])?;
        while let Some(row) = rows.next()? {
            let mut response = response_from_row(row)?;
            let events = events_of_response(connection, row.get(col!("id"))?)?;
            replay::fold_events(&mut response, &events);
            unfinished.push(response);
        }
    }
    for response in &mut unfinished {
        // An error the stream already reported (a timeout, a broken connection) says more.
        if response.error.is_none() {
            let mut error = crate::model::error::ProviderError::new(
                crate::model::error::ErrorKind::Interrupted,
                &response.provider,
                reason,
            );
            error.target.clone_from(&response.target);
            response.error = Some(error);
        }
        response.complete = false;
        if response.finished_at_ms == 0 {
            response.finished_at_ms = response.started_at_ms;
        }
        writer::upsert_response(connection, response)?;
    }
    Ok(unfinished.len())
}

/// Reads the responses of one run in order and hands each on; see [`Store::for_each_response`].
pub(super) fn visit_responses(
    connection: &Connection,
    run_id: &str,
    visit: &mut dyn FnMut(ResponseRecord) -> Result<()>,
) -> Result<()> {
    let mut statement = connection.prepare(&format!(
        "SELECT {} FROM responses WHERE run_id = ?1
         ORDER BY prompt_index, target_index, repeat_index",
        *RESPONSE_COLUMNS
    ))?;
    let mut rows = statement.query([run_id])?;
    while let Some(row) = rows.next()? {
        let mut response = response_from_row(row)?;
        if row.get::<_, String>(col!("status"))? == RESPONSE_STATUS_RUNNING {
            let events = events_of_response(connection, row.get(col!("id"))?)?;
            replay::fold_events(&mut response, &events);
        }
        visit(response)?;
    }
    Ok(())
}

fn events_of_response(connection: &Connection, response_id: i64) -> Result<Vec<StoredEvent>> {
    let mut statement = connection.prepare_cached(
        "SELECT sequence, attempt, elapsed_us, payload_json FROM response_events
         WHERE response_id = ?1 ORDER BY sequence",
    )?;
    let mut rows = statement.query([response_id])?;
    let mut events = Vec::new();
    while let Some(row) = rows.next()? {
        events.push(StoredEvent {
            sequence: row.get(0)?,
            attempt: row.get(1)?,
            elapsed_us: row.get(2)?,
            event: from_json(&row.get::<_, String>(3)?, "event")?,
        });
    }
    Ok(events)
}
