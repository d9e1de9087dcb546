//! The JSON export: the whole [`Report`] as structured data, for scripts and archives.
//!
//! The schema is [`Report`]'s serialisation, documented field by field in `docs/report-json.md`
//! and versioned by [`super::SCHEMA_VERSION`]. Responses are referred to by their position in
//! `responses`, so nothing is repeated.

use super::Report;

/// The report as pretty-printed JSON, ending with a newline.
pub fn render(report: &Report) -> String {
    // Serialising cannot fail: every map key is a string and every value a plain type (a
    // non-finite number would become `null`). The fallback still says what happened.
    let mut text = serde_json::to_string_pretty(report)
        .unwrap_or_else(|error| serde_json::json!({ "error": error.to_string() }).to_string());
    text.push('\n');
    text
}
