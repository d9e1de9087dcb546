//! How runs look on a terminal and in JSON.
//!
//! The JSON shapes here are the CLI's contract with scripts and CI: `run --json` and
//! `runs show --json` print the same per-response objects.

use std::collections::HashMap;
use std::io::Write;

use modelbench_engine::event::FinishReason;
use modelbench_engine::{ResponseKey, ResponseRecord, StampedEvent, StreamEvent};
use serde_json::{Value, json};

/// One response as scripts see it.
pub fn result_json(response: &ResponseRecord) -> Value {
    let usage = &response.usage;
    json!({
        "target": response.target,
        "provider": response.provider,
        "model": response.model,
        "reported_model": response.reported_model,
        // The model as its maker names it, the same on every cloud (`gpt-5.4`).
        "base_model": response.base_model,
        "prompt_index": response.key.prompt_index,
        "repeat_index": response.key.repeat_index,
        "request_id": response.request_id,
        "region": response.region,
        "text": response.text,
        "reasoning": response.reasoning,
        "tool_calls": response.tool_calls,
        "finish_reason": response.finish_reason.map(|reason| reason.as_str()),
        "raw_finish_reason": response.raw_finish_reason,
        "usage": {
            "input_tokens": usage.input_tokens,
            "output_tokens": usage.output_tokens,
            "reasoning_tokens": usage.reasoning_tokens,
            "cached_input_tokens": usage.cached_input_tokens,
            "cache_creation_input_tokens": usage.cache_creation_input_tokens,
            "total_tokens": usage.total_tokens,
            // What the cloud bills where it meters apart from the model's count (Bedrock).
            "billed_input_tokens": response.billed_input_tokens,
            "billed_output_tokens": response.billed_output_tokens,
        },
        "refusal": response.refusal,
        "time_to_first_token_ms": response.metrics.time_to_first_token_ms.map(round2),
        "total_ms": round2(response.metrics.total_ms),
        "output_tokens_per_second": response.metrics.output_tokens_per_second.map(round2),
        "inter_chunk_gap_ms": {
            "p50": response.metrics.gap_p50_ms.map(round2),
            "p95": response.metrics.gap_p95_ms.map(round2),
            "max": response.metrics.gap_max_ms.map(round2),
        },
        // The cloud's own timing (Bedrock), beside ours.
        "server_latency_ms": response.metrics.server_latency_ms,
        "server_first_byte_ms": response.metrics.server_first_byte_ms,
        "cost_usd": response.cost_usd,
        "cost_source": response.cost_source,
        "complete": response.complete,
        "attempts": response.attempts,
        "unsupported_parameters": response.unsupported_parameters,
        "error": response.error.as_ref().map(|error| json!({
            "kind": error.kind.as_str(),
            "message": error.to_string(),
            "status": error.status,
            "code": error.code,
            "retryable": error.retryable(),
        })),
    })
}

fn round2(value: f64) -> f64 {
    (value * 100.0).round() / 100.0
}

/// The counts of a `runs list` line: how every planned response ended, e.g. `22 complete,
/// 16 partial, 0 failed, 762 never sent of 800`. Cancellations and never-sent responses are not
/// failures; they are counted apart, and only when there are some.
pub fn run_counts(run: &modelbench_engine::RunSummary) -> String {
    let mut parts = vec![
        format!("{} complete", run.complete_count),
        format!("{} partial", run.partial_count),
        format!("{} failed", run.failed_count),
    ];
    if run.cancelled_count > 0 {
        parts.push(format!("{} cancelled", run.cancelled_count));
    }
    if run.running_count > 0 {
        parts.push(format!("{} running", run.running_count));
    }
    if run.never_sent_count > 0 {
        parts.push(format!("{} never sent", run.never_sent_count));
    }
    format!("{} of {}", parts.join(", "), run.response_count)
}

/// Live, interleaved output: each target's text is printed line by line, prefixed with its
/// name, so concurrent streams stay readable in a terminal and in a log file.
pub struct LiveView {
    width: usize,
    buffers: HashMap<(u32, u32, u32), String>,
    multiple_prompts: bool,
}

/// Long lines are broken at a word boundary after this many characters.
const WRAP_AT: usize = 100;

impl LiveView {
    pub fn new(target_names: &[String], multiple_prompts: bool) -> Self {
        Self {
            width: target_names.iter().map(|name| name.chars().count()).max().unwrap_or(0),
            buffers: HashMap::new(),
            multiple_prompts,
        }
    }

    fn label(&self, target: &str, key: ResponseKey) -> String {
        if self.multiple_prompts {
            format!(
                "{target:<width$} #{}.{}",
                key.prompt_index + 1,
                key.repeat_index + 1,
                width = self.width
            )
        } else {
            format!("{target:<width$}", width = self.width)
        }
    }

    pub fn on_event(&mut self, event: &StampedEvent, out: &mut impl Write) -> std::io::Result<()> {
        let key = event.response_key;
        let id = (key.prompt_index, key.target_index, key.repeat_index);
        match &event.event {
            StreamEvent::TextDelta { text } => {
                let buffer = self.buffers.entry(id).or_default();
                buffer.push_str(text);
                let ready = take_ready_lines(buffer);
                let label = self.label(&event.target, event.response_key);
                for line in ready {
                    writeln!(out, "{label} │ {line}")?;
                }
            }
            StreamEvent::Error(error) => {
                self.flush_one(id, event, out)?;
                // Whether this ends the response or a retry follows is told by the final line.
                writeln!(out, "{} ⚠ {}", self.label(&event.target, event.response_key), error)?;
            }
            StreamEvent::Finished { .. } => self.flush_one(id, event, out)?,
            _ => {}
        }
        Ok(())
    }

    fn flush_one(&mut self, id: (u32, u32, u32), event: &StampedEvent, out: &mut impl Write) -> std::io::Result<()> {
        if let Some(rest) = self.buffers.remove(&id)
            && !rest.is_empty()
        {
            writeln!(out, "{} │ {rest}", self.label(&event.target, event.response_key))?;
        }
        Ok(())
    }

    /// Prints whatever is still buffered for a finished response (a stream cut mid-line), then
    /// its final status.
    pub fn on_response_finished(&mut self, response: &ResponseRecord, out: &mut impl Write) -> std::io::Result<()> {
        let key = response.key;
        let label = self.label(&response.target, key);
        if let Some(rest) = self
            .buffers
            .remove(&(key.prompt_index, key.target_index, key.repeat_index))
            && !rest.is_empty()
        {
            writeln!(out, "{label} │ {rest}")?;
        }
        let attempts = if response.attempts > 1 {
            format!(" after {} attempts", response.attempts)
        } else {
            String::new()
        };
        match &response.error {
            None if response.complete => writeln!(
                out,
                "{label} ✓ {} in {}{attempts}",
                response.raw_finish_reason.as_deref().unwrap_or("done"),
                format_ms(Some(response.metrics.total_ms))
            ),
            Some(error) => writeln!(
                out,
                "{label} ✗ {}{attempts}{}",
                error.kind.as_str(),
                if response.text.is_empty() {
                    ""
                } else {
                    " (partial answer kept)"
                }
            ),
            None if response.finish_reason == Some(FinishReason::PauseTurn) => {
                writeln!(out, "{label} ✗ incomplete: paused by the server (pause_turn){attempts}")
            }
            None => writeln!(out, "{label} ✗ incomplete{attempts}"),
        }
    }
}

/// Removes and returns the complete lines of `buffer` (and over-long partial lines, broken at
/// the last space).
fn take_ready_lines(buffer: &mut String) -> Vec<String> {
    let mut lines = Vec::new();
    while let Some(newline) = buffer.find('\n') {
        let line: String = buffer.drain(..=newline).collect();
        lines.push(line.trim_end_matches(['\n', '\r']).to_owned());
    }
    while buffer.chars().count() > WRAP_AT {
        let limit = buffer
            .char_indices()
            .nth(WRAP_AT)
            .map_or(buffer.len(), |(index, _)| index);
        let cut = buffer[..limit].rfind(' ').filter(|&index| index > 0).unwrap_or(limit);
        let line: String = buffer.drain(..cut).collect();
        if buffer.starts_with(' ') {
            buffer.remove(0);
        }
        lines.push(line);
    }
    lines
}

fn format_ms(value: Option<f64>) -> String {
    match value {
        Some(ms) if ms >= 10_000.0 => format!("{:.1}s", ms / 1000.0),
        Some(ms) => format!("{ms:.0}ms"),
        None => "-".to_owned(),
    }
}

/// A token count as the model reported it, with what the cloud bills beside it when the two
/// disagree (Bedrock meters its own count, and the cost uses that one).
fn with_billed(reported: Option<u64>, billed: Option<u64>) -> String {
    match billed {
        Some(billed) if Some(billed) != reported => format!("{} (billed {billed})", format_count(reported)),
        _ => format_count(reported),
    }
}

fn format_count(value: Option<u64>) -> String {
    value.map_or_else(|| "-".to_owned(), |count| count.to_string())
}

/// A cost in dollars, to about three significant digits: `$0.000225`, `$0.0123`, `$1.50`.
fn format_usd(usd: f64) -> String {
    if usd == 0.0 {
        return "$0".to_owned();
    }
    if usd >= 1.0 {
        return format!("${usd:.2}");
    }
    let decimals = ((-usd.log10()).ceil() as usize + 2).clamp(4, 9);
    let text = format!("{usd:.decimals$}");
    format!("${}", text.trim_end_matches('0'))
}

fn is_override(response: &ResponseRecord) -> bool {
    response
        .cost_source
        .as_deref()
        .is_some_and(|source| source.starts_with("override"))
}

/// The COST cell: the cost, `*` when it comes from the user's own price, `n/a` when unknown (the
/// reason is printed under the table).
fn cost_cell(response: &ResponseRecord) -> String {
    match response.cost_usd {
        Some(usd) if is_override(response) => format!("{}*", format_usd(usd)),
        Some(usd) => format_usd(usd),
        None => "n/a".to_owned(),
    }
}

/// What the lines under the table need to know of the responses, gathered one response at a
/// time: bounded by the distinct prices and reasons, not by how many responses there are.
#[derive(Default)]
struct CostNotes {
    responses: usize,
    known: usize,
    known_sum: f64,
    overrides: Vec<String>,
    /// Why costs are unknown, in first-seen order, with the targets each reason applies to.
    reasons: Vec<(String, Vec<String>)>,
}

impl CostNotes {
    fn add(&mut self, response: &ResponseRecord) {
        self.responses += 1;
        match response.cost_usd {
            Some(usd) => {
                self.known += 1;
                self.known_sum += usd;
                if is_override(response)
                    && let Some(source) = response.cost_source.as_deref()
                    && !self.overrides.iter().any(|known| known == source)
                {
                    self.overrides.push(source.to_owned());
                }
            }
            None => {
                let reason = response.cost_source.as_deref().unwrap_or("not computed");
                match self.reasons.iter_mut().find(|(known, _)| known == reason) {
                    Some((_, targets)) if targets.contains(&response.target) => {}
                    Some((_, targets)) => targets.push(response.target.clone()),
                    None => self.reasons.push((reason.to_owned(), vec![response.target.clone()])),
                }
            }
        }
    }

    /// The lines under the table that explain its COST column: the total, what `*` means, and
    /// why each unknown cost is unknown (once per reason, naming its targets).
    fn render(&self) -> String {
        let mut notes = String::new();
        if self.responses > 1 && self.known > 0 {
            let unknown = self.responses - self.known;
            notes.push_str(&format!(
                "cost: {} in all for {} of {} responses{}\n",
                format_usd(self.known_sum),
                self.known,
                self.responses,
                if unknown > 0 {
                    format!(" ({unknown} unknown, not counted)")
                } else {
                    String::new()
                }
            ));
        }
        let mut overrides = self.overrides.clone();
        overrides.sort_unstable();
        for source in overrides {
            notes.push_str(&format!("* your price, {source}\n"));
        }
        for (reason, targets) in &self.reasons {
            notes.push_str(&format!("cost n/a for {}: {reason}\n", targets.join(", ")));
        }
        notes
    }
}

const SUMMARY_HEADER: [&str; 9] = [
    "TARGET", "TTFT", "TOTAL", "IN", "OUT", "TOK/S", "COST", "STOP", "STATUS",
];

/// The summary table printed after a run, built in two passes over the responses so that a run
/// of any size is printed without holding its responses: [`SummaryTable::measure`] each one
/// (column widths and cost notes), then [`SummaryTable::write_row`] each one in the same order.
pub struct SummaryTable {
    multiple: bool,
    widths: Vec<usize>,
    notes: CostNotes,
}

impl SummaryTable {
    pub fn new(multiple: bool) -> Self {
        Self {
            multiple,
            widths: SUMMARY_HEADER.iter().map(|title| title.len()).collect(),
            notes: CostNotes::default(),
        }
    }

    pub fn measure(&mut self, response: &ResponseRecord) {
        for (width, cell) in self.widths.iter_mut().zip(row_cells(response, self.multiple)) {
            *width = (*width).max(cell.chars().count());
        }
        self.notes.add(response);
    }

    pub fn header(&self) -> String {
        self.line(&SUMMARY_HEADER.map(str::to_owned))
    }

    pub fn row(&self, response: &ResponseRecord) -> String {
        self.line(&row_cells(response, self.multiple))
    }

    pub fn notes(&self) -> String {
        self.notes.render()
    }

    fn line(&self, cells: &[String]) -> String {
        let mut line = String::new();
        let last = cells.len() - 1;
        for (index, (cell, width)) in cells.iter().zip(&self.widths).enumerate() {
            if index == last {
                line.push_str(cell);
            } else if index == 0 {
                line.push_str(&format!("{cell:<width$}  "));
            } else {
                line.push_str(&format!("{cell:>width$}  "));
            }
        }
        line.push('\n');
        line
    }
}

fn row_cells(response: &ResponseRecord, multiple: bool) -> Vec<String> {
    let name = if multiple {
        format!(
            "{} #{}.{}",
            response.target,
            response.key.prompt_index + 1,
            response.key.repeat_index + 1
        )
    } else {
        response.target.clone()
    };
    let status = match (&response.error, response.complete) {
        (None, true) if response.refusal => "ok (refusal)".to_owned(),
        (None, true) => "ok".to_owned(),
        (Some(error), _) => {
            let mut status = error.kind.as_str().to_owned();
            if let Some(code) = error.status {
                status.push_str(&format!(" {code}"));
            }
            if let Some(code) = &error.code {
                status.push_str(&format!(" {code}"));
            }
            if !response.text.is_empty() {
                status.push_str(" (partial kept)");
            }
            status
        }
        (None, false) if response.finish_reason == Some(FinishReason::PauseTurn) => {
            "incomplete (paused by the server)".to_owned()
        }
        (None, false) => "incomplete".to_owned(),
    };
    let status = if response.attempts > 1 {
        format!("{status}, {} attempts", response.attempts)
    } else {
        status
    };
    let status = if response.unsupported_parameters.is_empty() {
        status
    } else {
        format!("{status}; not sent: {}", response.unsupported_parameters.join(", "))
    };
    vec![
        name,
        format_ms(response.metrics.time_to_first_token_ms),
        format_ms(Some(response.metrics.total_ms)),
        with_billed(response.usage.input_tokens, response.billed_input_tokens),
        with_billed(response.usage.output_tokens, response.billed_output_tokens),
        response
            .metrics
            .output_tokens_per_second
            .map_or_else(|| "-".to_owned(), |speed| format!("{speed:.1}")),
        cost_cell(response),
        response.raw_finish_reason.clone().unwrap_or_else(|| "-".to_owned()),
        status,
    ]
}

/// The summary table of responses held in memory: one row per response, then the notes on
/// their costs.
pub fn summary_table(responses: &[ResponseRecord], multiple: bool) -> String {
    let mut table = SummaryTable::new(multiple);
    for response in responses {
        table.measure(response);
    }
    let mut text = table.header();
    for response in responses {
        text.push_str(&table.row(response));
    }
    text.push_str(&table.notes());
    text
}

/// Writes the `run --json` document, `{"run_id", "cancelled", "results": [...]}`, exactly as
/// `serde_json::to_writer_pretty` would print it, but with the results streamed in one at a
/// time by `results`, so a run of any size is printed without being held.
pub fn write_results_document<W: Write>(
    out: &mut W,
    run_id: &str,
    cancelled: bool,
    results: impl FnOnce(&mut dyn FnMut(&ResponseRecord) -> std::io::Result<()>) -> anyhow::Result<()>,
) -> anyhow::Result<()> {
    const PLACEHOLDER: &str = "modelbench results placeholder";
    // The frame comes from serde_json itself, so key order and layout match the contract.
    let frame = serde_json::to_string_pretty(&json!({
        "run_id": run_id,
        "cancelled": cancelled,
        "results": PLACEHOLDER,
    }))?;
    let quoted = format!("\"{PLACEHOLDER}\"");
    let (before, after) = frame
        .split_once(&quoted)
        .ok_or_else(|| anyhow::anyhow!("the results placeholder is missing"))?;
    out.write_all(before.as_bytes())?;
    out.write_all(b"[")?;
    let mut written = 0_usize;
    results(&mut |response| {
        out.write_all(if written == 0 { b"\n" } else { b",\n" })?;
        let item = serde_json::to_string_pretty(&result_json(response)).map_err(std::io::Error::other)?;
        // JSON strings never hold a raw newline, so every line break is the layout's own.
        for (index, line) in item.lines().enumerate() {
            if index > 0 {
                out.write_all(b"\n")?;
            }
            out.write_all(b"    ")?;
            out.write_all(line.as_bytes())?;
        }
        written += 1;
        Ok(())
    })?;
    if written > 0 {
        out.write_all(b"\n  ")?;
    }
    out.write_all(b"]")?;
    out.write_all(after.as_bytes())?;
    writeln!(out)?;
    Ok(())
}

/// `YYYY-MM-DD HH:MM:SS` UTC from Unix milliseconds.
pub fn format_time(unix_ms: i64) -> String {
    modelbench_engine::record::utc_date_time(unix_ms)
}

#[cfg(test)]
mod tests {
    use modelbench_engine::{Metrics, RunId, Usage};

    use super::*;

    fn response(target: &str, cost_usd: Option<f64>, cost_source: &str) -> ResponseRecord {
        ResponseRecord {
            run_id: RunId::new(),
            key: ResponseKey {
                prompt_index: 0,
                target_index: 0,
                repeat_index: 0,
            },
            target: target.to_owned(),
            provider: "openai".to_owned(),
            model: "m".to_owned(),
            request_id: None,
            reported_model: None,
            base_model: None,
            region: None,
            system_fingerprint: None,
            service_tier: None,
            text: "hi".to_owned(),
            reasoning: String::new(),
            tool_calls: Vec::new(),
            finish_reason: None,
            raw_finish_reason: Some("stop".to_owned()),
            billed_input_tokens: None,
            billed_output_tokens: None,
            refusal: false,
            usage: Usage::default(),
            metrics: Metrics::default(),
            cost_usd,
            cost_source: Some(cost_source.to_owned()),
            complete: true,
            error: None,
            attempts: 1,
            unsupported_parameters: Vec::new(),
            started_at_ms: 0,
            finished_at_ms: 0,
        }
    }

    #[test]
    fn costs_print_to_about_three_significant_digits() {
        assert_eq!(format_usd(0.0), "$0");
        assert_eq!(format_usd(0.000_225), "$0.000225");
        assert_eq!(format_usd(0.001_2), "$0.0012");
        assert_eq!(format_usd(0.012_345), "$0.0123");
        assert_eq!(format_usd(0.05), "$0.05");
        assert_eq!(format_usd(1.5), "$1.50");
    }

    #[test]
    fn the_table_marks_overrides_and_explains_unknown_costs() {
        let responses = [
            response(
                "gpt",
                Some(0.000_25),
                "catalog: litellm 1.110.2 as of 2026-11-24 (openai/gpt-5.4)",
            ),
            response("claude", Some(0.002), "override: contract (set 2026-11-24)"),
            response("llama", Some(0.0), "local model (no charge)"),
            response("azure", None, "no price for azure/gpt54"),
            response("azure", None, "no price for azure/gpt54"),
            response("broken", None, "no usage reported"),
        ];
        let table = summary_table(&responses, false);
        let cost_column = |target: &str| {
            let row = table
                .lines()
                .find(|line| line.starts_with(target))
                .unwrap_or_else(|| panic!("no row for {target} in\n{table}"));
            row.split_whitespace().nth(6).unwrap_or_default().to_owned()
        };
        assert!(
            table.lines().next().is_some_and(|header| header.contains(" COST ")),
            "{table}"
        );
        assert_eq!(cost_column("gpt"), "$0.00025");
        assert_eq!(cost_column("claude"), "$0.002*");
        assert_eq!(cost_column("llama"), "$0");
        assert_eq!(cost_column("azure"), "n/a");
        assert!(
            table.contains("\ncost: $0.00225 in all for 3 of 6 responses (3 unknown, not counted)\n"),
            "{table}"
        );
        assert!(
            table.contains("\n* your price, override: contract (set 2026-11-24)\n"),
            "{table}"
        );
        assert!(
            table.contains("\ncost n/a for azure: no price for azure/gpt54\n"),
            "{table}"
        );
        assert!(table.contains("\ncost n/a for broken: no usage reported\n"), "{table}");
    }

    #[test]
    fn the_streamed_results_document_matches_the_pretty_printed_one() {
        let mut second = response("claude", None, "no usage reported");
        second.key.prompt_index = 1;
        second.text = "line one\nline \"two\"\n".to_owned();
        let responses = [response("gpt", Some(0.1), "catalog"), second];
        for (count, cancelled) in [(0, false), (1, true), (2, false)] {
            let expected = serde_json::to_string_pretty(&json!({
                "run_id": "01900000-0000-7000-8000-000000000001",
                "cancelled": cancelled,
                "results": responses[..count].iter().map(result_json).collect::<Vec<_>>(),
            }))
            .expect("pretty json")
                + "\n";
            let mut streamed = Vec::new();
            write_results_document(
                &mut streamed,
                "01900000-0000-7000-8000-000000000001",
                cancelled,
                |visit| {
                    for response in &responses[..count] {
                        visit(response)?;
                    }
                    Ok(())
                },
            )
            .expect("streamed");
            assert_eq!(String::from_utf8(streamed).expect("utf-8"), expected);
        }
    }

    #[test]
    fn lines_are_released_whole_and_long_ones_wrapped() {
        let mut buffer = "first\nsecond\r\nthird".to_owned();
        assert_eq!(take_ready_lines(&mut buffer), ["first", "second"]);
        assert_eq!(buffer, "third");
        let mut long = "word ".repeat(40);
        let lines = take_ready_lines(&mut long);
        assert!(!lines.is_empty());
        assert!(lines.iter().all(|line| line.chars().count() <= WRAP_AT));
        assert_eq!(format!("{} {}", lines.join(" "), long).split_whitespace().count(), 40);
    }

    #[test]
    fn formats_utc_times() {
        assert_eq!(format_time(0), "1970-01-01 00:00:00");
        assert_eq!(format_time(1_795_000_000_000), "2026-11-18 11:06:40");
    }
}
