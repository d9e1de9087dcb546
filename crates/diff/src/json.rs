//! JSON answers compared value by value, by path, whatever their formatting or key order.
//!
//! Models often wrap JSON in a Markdown code fence, with prose around it: the whole text is tried
//! first, then each fenced block in order, and the first that parses is the answer's JSON.
//! Objects are compared by key, arrays by index (an element inserted at the front shows as every
//! later element changed: arrays in model output are usually records, not sequences to align).

use serde_json::Value;

use super::{Diff, DiffContent, DiffError, DiffMode, DiffStats, JsonChange, JsonChangeKind, Side, count, ratio_of};

/// The JSON in `text`: all of it, or else the first fenced block (```` ``` ````, ```` ```json ````
/// or `~~~`) that parses. The error is the whole text's, or the first block's when there are
/// blocks and none parses.
pub(super) fn extract_json(text: &str) -> Result<Value, String> {
    let whole_error = match serde_json::from_str(text.trim()) {
        Ok(value) => return Ok(value),
        Err(error) => error,
    };
    let mut first_block_error = None;
    for block in fenced_blocks(text) {
        match serde_json::from_str(block.trim()) {
            Ok(value) => return Ok(value),
            Err(error) => {
                first_block_error.get_or_insert(error);
            }
        }
    }
    Err(match first_block_error {
        Some(error) => format!("no fenced block parses (the first: {error})"),
        None => whole_error.to_string(),
    })
}

/// The contents of each fenced code block, in order. An unclosed fence runs to the end.
fn fenced_blocks(text: &str) -> Vec<&str> {
    let mut blocks = Vec::new();
    let mut open: Option<(&str, usize)> = None;
    let mut offset = 0;
    for line in text.split_inclusive('\n') {
        let trimmed = line.trim_start();
        let fence = ["```", "~~~"].into_iter().find(|fence| trimmed.starts_with(fence));
        match (open, fence) {
            (None, Some(fence)) => open = Some((fence, offset + line.len())),
            (Some((opening, start)), Some(fence)) if fence == opening && trimmed.trim_end() == fence => {
                blocks.push(&text[start..offset]);
                open = None;
            }
            _ => {}
        }
        offset += line.len();
    }
    if let Some((_, start)) = open {
        blocks.push(&text[start.min(text.len())..]);
    }
    blocks
}

pub(super) fn json_diff(a: &str, b: &str) -> Result<Diff, DiffError> {
    let a_value = extract_json(a).map_err(|cause| DiffError::NotJson { side: Side::A, cause })?;
    let b_value = extract_json(b).map_err(|cause| DiffError::NotJson { side: Side::B, cause })?;
    let mut comparison = Comparison::default();
    comparison.compare(&mut "$".to_owned(), &a_value, &b_value);
    let (a_leaves, b_leaves) = (leaves(&a_value), leaves(&b_value));
    let count_of = |kind: JsonChangeKind| comparison.changes.iter().filter(|change| change.kind == kind).count();
    Ok(Diff {
        mode: DiffMode::Json,
        ratio: ratio_of(comparison.matched, a_leaves + b_leaves),
        stats: DiffStats {
            a_units: count(a_leaves),
            b_units: count(b_leaves),
            unchanged: count(comparison.matched),
            deleted: count(count_of(JsonChangeKind::Removed)),
            inserted: count(count_of(JsonChangeKind::Added)),
            changed: count(count_of(JsonChangeKind::Changed)),
        },
        content: DiffContent::Json {
            changes: comparison.changes,
        },
    })
}

/// The similarity ratio of two parsed values (as [`json_diff`] computes it).
pub(super) fn json_ratio(a: &Value, b: &Value) -> f64 {
    let mut comparison = Comparison::default();
    comparison.compare(&mut "$".to_owned(), a, b);
    ratio_of(comparison.matched, leaves(a) + leaves(b))
}

/// Scalars and empty containers: the values a document is made of.
fn leaves(value: &Value) -> usize {
    match value {
        Value::Array(items) if !items.is_empty() => items.iter().map(leaves).sum(),
        Value::Object(fields) if !fields.is_empty() => fields.values().map(leaves).sum(),
        _ => 1,
    }
}

/// Numbers equal by value (`1` and `1.0`), exactly for integers, as `f64` otherwise.
fn same_scalar(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(left), Value::Number(right)) => {
            match (left.as_i64(), right.as_i64(), left.as_u64(), right.as_u64()) {
                (Some(left), Some(right), _, _) => left == right,
                (_, _, Some(left), Some(right)) => left == right,
                _ => left.as_f64() == right.as_f64(),
            }
        }
        _ => a == b,
    }
}

#[derive(Default)]
struct Comparison {
    changes: Vec<JsonChange>,
    /// Leaves equal at the same path.
    matched: usize,
}

impl Comparison {
    /// Compares at `path`, which it extends and restores as it descends.
    fn compare(&mut self, path: &mut String, a: &Value, b: &Value) {
        match (a, b) {
            (Value::Object(left), Value::Object(right)) if !left.is_empty() || !right.is_empty() => {
                for (key, left_value) in left {
                    self.descend(path, &key_segment(key), Some(left_value), right.get(key));
                }
                for (key, right_value) in right.iter().filter(|(key, _)| !left.contains_key(*key)) {
                    self.descend(path, &key_segment(key), None, Some(right_value));
                }
            }
            (Value::Array(left), Value::Array(right)) if !left.is_empty() || !right.is_empty() => {
                for index in 0..left.len().max(right.len()) {
                    self.descend(path, &format!("[{index}]"), left.get(index), right.get(index));
                }
            }
            _ if same_scalar(a, b) => self.matched += leaves(a),
            _ => self.change(path, JsonChangeKind::Changed, Some(a), Some(b)),
        }
    }

    fn descend(&mut self, path: &mut String, segment: &str, a: Option<&Value>, b: Option<&Value>) {
        let length = path.len();
        path.push_str(segment);
        match (a, b) {
            (Some(a), Some(b)) => self.compare(path, a, b),
            (Some(a), None) => self.change(path, JsonChangeKind::Removed, Some(a), None),
            (None, Some(b)) => self.change(path, JsonChangeKind::Added, None, Some(b)),
            (None, None) => {}
        }
        path.truncate(length);
    }

    fn change(&mut self, path: &str, kind: JsonChangeKind, a: Option<&Value>, b: Option<&Value>) {
        self.changes.push(JsonChange {
            path: path.to_owned(),
            kind,
            a: a.cloned(),
            b: b.cloned(),
        });
    }
}

/// `.key` for identifier-like keys, `["key"]` (JSON-quoted) for the rest.
fn key_segment(key: &str) -> String {
    let mut characters = key.chars();
    let identifier = characters
        .next()
        .is_some_and(|first| first.is_alphabetic() || first == '_' || first == '$')
        && characters.all(|character| character.is_alphanumeric() || character == '_' || character == '$');
    if identifier {
        format!(".{key}")
    } else {
        format!("[{}]", Value::String(key.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::{extract_json, fenced_blocks};
    use crate::{DiffContent, DiffError, DiffMode, JsonChange, JsonChangeKind, Side, diff};

    fn changes(a: &str, b: &str) -> Vec<JsonChange> {
        match diff(a, b, DiffMode::Json).expect("both sides parse").content {
            DiffContent::Json { changes } => changes,
            other => panic!("not a JSON diff: {other:?}"),
        }
    }

    #[test]
    fn compares_values_by_path() {
        let a = r#"{"name": "lamp", "items": [{"name": "a"}, {"name": "b"}, {"name": "c"}], "old": 1, "n": 2}"#;
        let b =
            r#"{"n": 2.0, "items": [{"name": "a"}, {"name": "b"}, {"name": "C"}, 4], "name": "lamp", "new key": null}"#;
        assert_eq!(
            changes(a, b),
            [
                JsonChange {
                    path: "$.items[2].name".to_owned(),
                    kind: JsonChangeKind::Changed,
                    a: Some(json!("c")),
                    b: Some(json!("C")),
                },
                JsonChange {
                    path: "$.items[3]".to_owned(),
                    kind: JsonChangeKind::Added,
                    a: None,
                    b: Some(json!(4)),
                },
                JsonChange {
                    path: "$.old".to_owned(),
                    kind: JsonChangeKind::Removed,
                    a: Some(json!(1)),
                    b: None,
                },
                JsonChange {
                    path: r#"$["new key"]"#.to_owned(),
                    kind: JsonChangeKind::Added,
                    a: None,
                    b: Some(json!(null)),
                },
            ]
        );
        let result = diff(a, b, DiffMode::Json).expect("parses");
        // Leaves: a has 6, b has 7; equal at the same path: name, items[0..2].name, n.
        assert_eq!(
            (result.stats.a_units, result.stats.b_units, result.stats.unchanged),
            (6, 7, 4)
        );
        assert!((result.ratio - 8.0 / 13.0).abs() < 1e-12);
        assert_eq!(
            (result.stats.changed, result.stats.inserted, result.stats.deleted),
            (1, 2, 1)
        );
    }

    #[test]
    fn formatting_and_key_order_do_not_matter() {
        let result = diff(
            "{\"a\":[1,2],\"b\":{}}",
            "{\n  \"b\": {},\n  \"a\": [1, 2]\n}",
            DiffMode::Json,
        )
        .expect("parses");
        assert_eq!(result.ratio, 1.0);
        assert_eq!(result.content, DiffContent::Json { changes: Vec::new() });
        // A type change at a path is one change, whatever the values hold.
        assert_eq!(changes(r#"{"a": {"x": 1}}"#, r#"{"a": [1]}"#)[0].path, "$.a");
    }

    #[test]
    fn finds_json_inside_code_fences() {
        let a = "Here you go:\n```json\n{\"city\": \"Paris\"}\n```\nAnything else?";
        let b = "Sure.\n```\nnot json\n```\n~~~\n{\"city\": \"Lyon\"}\n~~~";
        assert_eq!(extract_json(a), Ok(json!({"city": "Paris"})));
        assert_eq!(extract_json(b), Ok(json!({"city": "Lyon"})));
        assert_eq!(changes(a, b)[0].path, "$.city");
        assert_eq!(fenced_blocks("```\nunclosed"), ["unclosed"]);
    }

    #[test]
    fn names_the_side_that_does_not_parse() {
        let error = diff("[1, 2]", "I cannot do that.", DiffMode::Json).expect_err("b is prose");
        assert!(matches!(&error, DiffError::NotJson { side: Side::B, .. }), "{error:?}");
        assert!(
            error.to_string().starts_with("side b is not JSON: expected value"),
            "{error}"
        );
        let error = diff("```json\n{\"a\": }\n```", "{}", DiffMode::Json).expect_err("a is broken");
        assert!(matches!(&error, DiffError::NotJson { side: Side::A, .. }), "{error:?}");
        assert!(error.to_string().contains("no fenced block parses"), "{error}");
    }
}
