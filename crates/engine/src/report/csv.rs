//! The CSV export: one row per response, for spreadsheets.
//!
//! The columns are [`COLUMNS`], in that order, with that header; they keep their names and
//! meaning within a [`super::SCHEMA_VERSION`] (new columns are only ever added at the end).
//! Quoting follows RFC 4180: fields holding a comma, a quote or a line break are quoted, quotes
//! doubled, and records end with CRLF. Unknown values are empty fields, never 0.
//!
//! Texts are written verbatim, so a spreadsheet may read an answer starting with `=` as a
//! formula; the report keeps the data exact rather than guess what a reader's program does.

use super::{Report, ResponseSection, format_number};

/// The header row. Indices are 0-based, as in `run --json`.
pub const COLUMNS: [&str; 31] = [
    "run_id",
    "prompt_index",
    "target_index",
    "repeat_index",
    "target",
    "provider",
    "model",
    "region",
    "reported_model",
    "request_id",
    "outcome",
    "finish_reason",
    "time_to_first_token_ms",
    "total_ms",
    "output_tokens_per_second",
    "input_tokens",
    "output_tokens",
    "reasoning_tokens",
    "total_tokens",
    "cost_usd",
    "cost_source",
    "attempts",
    "error_kind",
    "error_status",
    "error_code",
    "error_message",
    "mean_similarity",
    "is_majority",
    "is_outlier",
    "prompt",
    "text",
];

/// The report as CSV: the header, then one row per response.
pub fn render(report: &Report) -> String {
    let mut out = String::new();
    push_record(&mut out, COLUMNS.iter().map(|column| (*column).to_owned()));
    for response in &report.responses {
        push_record(&mut out, row(report, response));
    }
    out
}

fn row(report: &Report, response: &ResponseSection) -> [String; COLUMNS.len()] {
    let optional = |value: Option<String>| value.unwrap_or_default();
    let count = |value: Option<u64>| value.map(|value| value.to_string()).unwrap_or_default();
    let number = |value: Option<f64>| value.map(|value| value.to_string()).unwrap_or_default();
    let error = response.error.as_ref();
    let prompt = report
        .prompts
        .get(response.prompt_index as usize)
        .and_then(|prompt| {
            prompt
                .messages
                .iter()
                .rev()
                .find(|message| message.role == crate::request::Role::User)
        })
        .map(|message| message.content.clone());
    [
        report.run.id.clone(),
        response.prompt_index.to_string(),
        response.target_index.to_string(),
        response.repeat_index.to_string(),
        response.target.clone(),
        response.provider.clone(),
        response.model.clone(),
        optional(response.region.clone()),
        optional(response.reported_model.clone()),
        optional(response.request_id.clone()),
        response.outcome.as_str().to_owned(),
        optional(response.finish_reason.map(|reason| reason.as_str().to_owned())),
        number(response.metrics.time_to_first_token_ms),
        response.metrics.total_ms.to_string(),
        number(response.metrics.output_tokens_per_second),
        count(response.usage.input_tokens),
        count(response.usage.output_tokens),
        count(response.usage.reasoning_tokens),
        count(response.usage.total_tokens),
        number(response.cost.usd),
        optional(response.cost.source.clone()),
        response.attempts.to_string(),
        optional(error.map(|error| error.kind.clone())),
        optional(error.and_then(|error| error.status).map(|status| status.to_string())),
        optional(error.and_then(|error| error.code.clone())),
        optional(error.map(|error| error.message.clone())),
        response
            .mean_similarity
            .map(|ratio| format_number(Some(ratio), 4))
            .unwrap_or_default(),
        response.is_majority.to_string(),
        response.is_outlier.to_string(),
        optional(prompt),
        response.text.clone(),
    ]
}

fn push_record(out: &mut String, fields: impl IntoIterator<Item = String>) {
    for (index, field) in fields.into_iter().enumerate() {
        if index > 0 {
            out.push(',');
        }
        push_field(out, &field);
    }
    out.push_str("\r\n");
}

/// One field, quoted when RFC 4180 requires it.
fn push_field(out: &mut String, field: &str) {
    if field.contains([',', '"', '\r', '\n']) {
        out.push('"');
        out.push_str(&field.replace('"', "\"\""));
        out.push('"');
    } else {
        out.push_str(field);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_are_quoted_as_rfc_4180_says() {
        let mut out = String::new();
        push_record(
            &mut out,
            ["plain", "a,b", "say \"hi\"", "two\nlines", "cr\r", ""].map(str::to_owned),
        );
        assert_eq!(out, "plain,\"a,b\",\"say \"\"hi\"\"\",\"two\nlines\",\"cr\r\",\r\n");
    }
}
