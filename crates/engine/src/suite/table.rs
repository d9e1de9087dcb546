//! Tests from CSV and JSONL files, as the test mappings a YAML suite would have written.
//!
//! CSV: one test per row, the header naming the columns. `id` and `description` (or
//! promptfoo's `__description`) describe the test; `__expected`, `__expected1`, … each hold one
//! check in promptfoo's shorthand (`contains: Paris`, `similar(0.8): …`, plain text = equals);
//! `__prefix` / `__suffix` wrap the prompt; `__threshold` and `__metric` apply to the row's
//! checks; `__metadata:*` and other `__` columns are ignored; every other column is a variable
//! (so a `prompt` column feeds the default `{{prompt}}` template). JSONL: one JSON test object
//! per line (`id`, `prompt` or `vars`, `messages`, `checks` or `assert`, …).
//!
//! Left out: XLSX and Google Sheets, and promptfoo's `__config:*` columns.

use std::sync::Arc;

use serde_json::Value;

use super::Diagnostic;
use super::node::{Location, Node, NodeValue};
use super::shorthand;

/// What reading a table gave: the tests and the columns it ignored.
pub(crate) struct Table {
    pub tests: Vec<Node>,
    pub ignored_columns: Vec<String>,
}

pub(crate) fn csv_tests(text: &str, file: Option<Arc<str>>) -> Result<Table, Diagnostic> {
    let mut reader = csv::ReaderBuilder::new().flexible(true).from_reader(text.as_bytes());
    let header_error = |error: csv::Error| Location::new(file.clone(), 1).error(format!("bad CSV header: {error}"));
    let headers: Vec<String> = reader
        .headers()
        .map_err(header_error)?
        .iter()
        .map(|name| name.trim().trim_start_matches('\u{feff}').to_owned())
        .collect();
    let mut ignored_columns = Vec::new();
    let mut tests = Vec::new();
    for record in reader.records() {
        let record = record.map_err(|error| {
            let line = error.position().map_or(1, |position| position.line() as usize);
            Location::new(file.clone(), line).error(format!("bad CSV row: {error}"))
        })?;
        let line = record.position().map_or(1, |position| position.line() as usize);
        let location = Location::new(file.clone(), line);
        if record.iter().all(|cell| cell.trim().is_empty()) {
            continue;
        }
        tests.push(row_test(&headers, &record, &location, &mut ignored_columns));
    }
    Ok(Table { tests, ignored_columns })
}

fn row_test(headers: &[String], record: &csv::StringRecord, location: &Location, ignored: &mut Vec<String>) -> Node {
    let text = |value: &str| Node::string(value, location.clone());
    let mut entries: Vec<(String, Node)> = Vec::new();
    let mut vars: Vec<(String, Node)> = Vec::new();
    let mut checks: Vec<Node> = Vec::new();
    let mut options: Vec<(String, Node)> = Vec::new();
    let mut metric = None;
    for (header, cell) in headers.iter().zip(record.iter()) {
        match header.as_str() {
            "id" => {
                if !cell.trim().is_empty() {
                    entries.push(("id".to_owned(), text(cell.trim())));
                }
                vars.push((header.clone(), text(cell)));
            }
            "description" | "__description" => {
                if !cell.trim().is_empty() {
                    entries.push(("description".to_owned(), text(cell)));
                }
                if header == "description" {
                    vars.push((header.clone(), text(cell)));
                }
            }
            name if name.starts_with("__expected") => {
                if !cell.trim().is_empty() {
                    checks.push(shorthand::parse(cell, location));
                }
            }
            "__prefix" => options.push(("prefix".to_owned(), text(cell))),
            "__suffix" => options.push(("suffix".to_owned(), text(cell))),
            "__threshold" if !cell.trim().is_empty() => entries.push(("threshold".to_owned(), text(cell.trim()))),
            "__metric" if !cell.trim().is_empty() => metric = Some(cell.to_owned()),
            name if name.starts_with("__") => {
                if !ignored.iter().any(|existing| existing == name) {
                    ignored.push(name.to_owned());
                }
            }
            _ => vars.push((header.clone(), text(cell))),
        }
    }
    if let Some(metric) = metric {
        for check in &mut checks {
            if let NodeValue::Mapping(check_entries) = &mut check.value {
                check_entries.push(("metric".to_owned(), text(&metric)));
            }
        }
    }
    entries.push(("vars".to_owned(), Node::new(NodeValue::Mapping(vars), location.clone())));
    if !checks.is_empty() {
        entries.push((
            "assert".to_owned(),
            Node::new(NodeValue::Sequence(checks), location.clone()),
        ));
    }
    if !options.is_empty() {
        entries.push((
            "options".to_owned(),
            Node::new(NodeValue::Mapping(options), location.clone()),
        ));
    }
    Node::new(NodeValue::Mapping(entries), location.clone())
}

pub(crate) fn jsonl_tests(text: &str, file: Option<Arc<str>>) -> Result<Vec<Node>, Vec<Diagnostic>> {
    let mut tests = Vec::new();
    let mut errors = Vec::new();
    for (index, line) in text.lines().enumerate() {
        let location = Location::new(file.clone(), index + 1);
        if line.trim().is_empty() {
            continue;
        }
        match serde_json::from_str::<Value>(line) {
            Ok(value @ Value::Object(_)) => tests.push(Node::from_json(&value, &location)),
            Ok(_) => errors.push(location.error("each JSONL line must be a JSON object (one test)")),
            Err(error) => errors.push(location.error(format!("not valid JSON: {error}"))),
        }
    }
    if errors.is_empty() { Ok(tests) } else { Err(errors) }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn csv_rows_become_tests_with_checks_from_expected_columns() {
        let text = "id,question,__expected,__expected2,__description,__prefix,__metadata:category\n\
                    capital,What is the capital of France?,contains: Paris,not-icontains: london,Capital,Q: ,geo\n\
                    ,\"Say \"\"hi\"\"\",hi,,,,\n";
        let table = csv_tests(text, None).expect("reads");
        assert_eq!(table.ignored_columns, vec!["__metadata:category".to_owned()]);
        assert_eq!(table.tests.len(), 2);
        assert_eq!(
            table.tests[0].to_json(),
            json!({
                "id": "capital",
                "description": "Capital",
                "vars": {"id": "capital", "question": "What is the capital of France?"},
                "assert": [
                    {"type": "contains", "value": "Paris"},
                    {"type": "not-icontains", "value": "london"}
                ],
                "options": {"prefix": "Q: "}
            })
        );
        assert_eq!(table.tests[1].line(), Some(3));
        assert_eq!(
            table.tests[1]
                .get("vars")
                .and_then(|vars| vars.get("question"))
                .and_then(Node::as_str),
            Some("Say \"hi\"")
        );
    }

    #[test]
    fn jsonl_lines_are_tests_and_bad_lines_are_named() {
        let tests =
            jsonl_tests("{\"id\": \"a\", \"prompt\": \"hi\"}\n\n{\"vars\": {\"x\": 1}}\n", None).expect("reads");
        assert_eq!(tests.len(), 2);
        assert_eq!(tests[1].line(), Some(3));
        let errors = jsonl_tests("{\"id\": \"a\"}\n[1]\n{oops\n", None).expect_err("bad lines");
        let lines: Vec<_> = errors.iter().map(|error| error.line).collect();
        assert_eq!(lines, vec![Some(2), Some(3)]);
    }
}
