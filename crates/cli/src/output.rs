//! How runs look on a terminal and in JSON.
//!
//! The JSON shapes here are the CLI's contract with scripts and CI: `run --json` and
//! `runs show --json` print the same per-response objects.

use std::collections::HashMap;
use std::io::Write;

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
        },
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
            "retryable": error.retryable,
        })),
    })
}

fn round2(value: f64) -> f64 {
    (value * 100.0).round() / 100.0
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

/// The lines under the table that explain its COST column: the total, what `*` means, and why
/// each unknown cost is unknown (once per reason, naming its targets).
fn cost_notes(responses: &[ResponseRecord]) -> String {
    let mut notes = String::new();
    let known: Vec<f64> = responses.iter().filter_map(|response| response.cost_usd).collect();
    if responses.len() > 1 && !known.is_empty() {
        let unknown = responses.len() - known.len();
        notes.push_str(&format!(
            "cost: {} in all for {} of {} responses{}\n",
            format_usd(known.iter().sum()),
            known.len(),
            responses.len(),
            if unknown > 0 {
                format!(" ({unknown} unknown, not counted)")
            } else {
                String::new()
            }
        ));
    }
    let mut overrides: Vec<&str> = responses
        .iter()
        .filter(|response| response.cost_usd.is_some() && is_override(response))
        .filter_map(|response| response.cost_source.as_deref())
        .collect();
    overrides.sort_unstable();
    overrides.dedup();
    for source in overrides {
        notes.push_str(&format!("* your price, {source}\n"));
    }
    let mut reasons: Vec<(&str, Vec<&str>)> = Vec::new();
    for response in responses.iter().filter(|response| response.cost_usd.is_none()) {
        let reason = response.cost_source.as_deref().unwrap_or("not computed");
        match reasons.iter_mut().find(|(known, _)| *known == reason) {
            Some((_, targets)) if targets.contains(&response.target.as_str()) => {}
            Some((_, targets)) => targets.push(&response.target),
            None => reasons.push((reason, vec![&response.target])),
        }
    }
    for (reason, targets) in reasons {
        notes.push_str(&format!("cost n/a for {}: {reason}\n", targets.join(", ")));
    }
    notes
}

/// The summary table printed after a run: one row per response, then the notes on its costs.
pub fn summary_table(responses: &[ResponseRecord], multiple: bool) -> String {
    let header = [
        "TARGET", "TTFT", "TOTAL", "IN", "OUT", "TOK/S", "COST", "STOP", "STATUS",
    ];
    let mut rows: Vec<Vec<String>> = Vec::new();
    for response in responses {
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
        rows.push(vec![
            name,
            format_ms(response.metrics.time_to_first_token_ms),
            format_ms(Some(response.metrics.total_ms)),
            format_count(response.usage.input_tokens),
            format_count(response.usage.output_tokens),
            response
                .metrics
                .output_tokens_per_second
                .map_or_else(|| "-".to_owned(), |speed| format!("{speed:.1}")),
            cost_cell(response),
            response.raw_finish_reason.clone().unwrap_or_else(|| "-".to_owned()),
            status,
        ]);
    }
    let mut widths: Vec<usize> = header.iter().map(|title| title.len()).collect();
    for row in &rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let mut table = String::new();
    let mut push_row = |cells: &[String]| {
        let last = cells.len() - 1;
        for (index, (cell, width)) in cells.iter().zip(&widths).enumerate() {
            if index == last {
                table.push_str(cell);
            } else if index == 0 {
                table.push_str(&format!("{cell:<width$}  "));
            } else {
                table.push_str(&format!("{cell:>width$}  "));
            }
        }
        table.push('\n');
    };
    push_row(&header.map(str::to_owned));
    for row in &rows {
        push_row(row);
    }
    table.push_str(&cost_notes(responses));
    table
}

/// Error details printed under the table: the full message names the target, status and code.
pub fn error_details(responses: &[ResponseRecord]) -> String {
    let mut text = String::new();
    for response in responses {
        if let Some(error) = &response.error {
            text.push_str(&format!("  {error}\n"));
        }
    }
    text
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
            region: None,
            text: "hi".to_owned(),
            reasoning: String::new(),
            tool_calls: Vec::new(),
            finish_reason: None,
            raw_finish_reason: Some("stop".to_owned()),
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
}
