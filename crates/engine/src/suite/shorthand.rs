//! One check written as a line of text: promptfoo's `__expected` syntax.
//!
//! `type:value` or `type(threshold):value`, with `not-` on any type; `is-json` alone; plain text
//! is `equals`. `fn:`/`javascript:`/`eval:` and `python:` (and `file://` scripts) are code,
//! `grade:` is `llm-rubric`: those are kept unevaluated. `contains-any`/`contains-all` (and the
//! `i` forms) split their value on commas. CSV cells and string entries in a `checks` list use
//! this. Left out: promptfoo's quoting of commas inside `contains-any` values, and `file://`
//! values other than scripts (they stay text).

use super::check;
use super::node::{Location, Node, NodeValue};

/// promptfoo's default `similar` threshold for checks written this way (0.75 elsewhere).
const SIMILAR_THRESHOLD: f64 = 0.8;

/// The check `text` describes, as the mapping a YAML suite would have written.
pub(crate) fn parse(text: &str, location: &Location) -> Node {
    let text = text.trim();
    let (type_name, value, threshold) = split(text);
    let mut entries = vec![("type".to_owned(), Node::string(type_name.clone(), location.clone()))];
    if let Some(value) = value {
        let base = type_name.strip_prefix("not-").unwrap_or(&type_name);
        let value_node = if base.ends_with("-any") || base.ends_with("-all") {
            let items = value
                .split(',')
                .map(|item| Node::string(item.trim(), location.clone()))
                .collect();
            Node::new(NodeValue::Sequence(items), location.clone())
        } else {
            Node::string(value, location.clone())
        };
        entries.push(("value".to_owned(), value_node));
    }
    let base = type_name.strip_prefix("not-").unwrap_or(&type_name);
    let threshold = threshold.or((base == "similar").then_some(SIMILAR_THRESHOLD));
    if let Some(threshold) = threshold {
        entries.push((
            "threshold".to_owned(),
            Node::new(NodeValue::Float(threshold), location.clone()),
        ));
    }
    Node::new(NodeValue::Mapping(entries), location.clone())
}

fn split(text: &str) -> (String, Option<String>, Option<f64>) {
    for (prefix, type_name) in [
        ("javascript:", "javascript"),
        ("fn:", "javascript"),
        ("eval:", "javascript"),
        ("python:", "python"),
        ("grade:", "llm-rubric"),
        ("llm-rubric:", "llm-rubric"),
    ] {
        if let Some(rest) = text.strip_prefix(prefix) {
            return (type_name.to_owned(), Some(rest.trim().to_owned()), None);
        }
    }
    if let Some(path) = text.strip_prefix("file://") {
        let script = if path.ends_with(".py") || path.contains(".py:") {
            Some("python")
        } else if [".js", ".ts", ".mjs", ".cjs"]
            .iter()
            .any(|extension| path.ends_with(extension))
            || path.contains(".js:")
            || path.contains(".ts:")
        {
            Some("javascript")
        } else {
            None
        };
        if let Some(type_name) = script {
            return (type_name.to_owned(), Some(path.to_owned()), None);
        }
    }
    let head_end = text.find(':').unwrap_or(text.len());
    let head = &text[..head_end];
    let value = (head_end < text.len()).then(|| text[head_end + 1..].trim_start().to_owned());
    let (type_name, threshold) = match head.split_once('(') {
        Some((name, rest)) => match rest
            .strip_suffix(')')
            .and_then(|number| number.trim().parse::<f64>().ok())
        {
            Some(threshold) => (name, Some(threshold)),
            None => return equals(text),
        },
        None => (head, None),
    };
    let base = type_name.strip_prefix("not-").unwrap_or(type_name);
    if !check::is_known_type(base) {
        return equals(text);
    }
    let value = value.filter(|value| !value.is_empty());
    (type_name.to_owned(), value, threshold)
}

fn equals(text: &str) -> (String, Option<String>, Option<f64>) {
    ("equals".to_owned(), Some(text.to_owned()), None)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn parsed(text: &str) -> serde_json::Value {
        parse(text, &Location::default()).to_json()
    }

    #[test]
    fn promptfoo_expected_strings() {
        assert_eq!(parsed("contains: Paris"), json!({"type": "contains", "value": "Paris"}));
        assert_eq!(
            parsed("icontains:bonjour"),
            json!({"type": "icontains", "value": "bonjour"})
        );
        assert_eq!(
            parsed("not-contains: error"),
            json!({"type": "not-contains", "value": "error"})
        );
        assert_eq!(
            parsed("regex: ^\\d+:\\d+$"),
            json!({"type": "regex", "value": "^\\d+:\\d+$"})
        );
        assert_eq!(parsed("is-json"), json!({"type": "is-json"}));
        assert_eq!(
            parsed("similar(0.7): Hello world"),
            json!({"type": "similar", "value": "Hello world", "threshold": 0.7})
        );
        assert_eq!(
            parsed("similar: Hello"),
            json!({"type": "similar", "value": "Hello", "threshold": 0.8})
        );
        assert_eq!(
            parsed("contains-any: <b>, </span>"),
            json!({"type": "contains-any", "value": ["<b>", "</span>"]})
        );
        assert_eq!(parsed("Paris"), json!({"type": "equals", "value": "Paris"}));
        assert_eq!(
            parsed("Note: be brief"),
            json!({"type": "equals", "value": "Note: be brief"})
        );
        assert_eq!(
            parsed("fn:output.includes('x')"),
            json!({"type": "javascript", "value": "output.includes('x')"})
        );
        assert_eq!(
            parsed("python: len(output) > 3"),
            json!({"type": "python", "value": "len(output) > 3"})
        );
        assert_eq!(
            parsed("grade: is polite"),
            json!({"type": "llm-rubric", "value": "is polite"})
        );
        assert_eq!(
            parsed("file://checks/check.py"),
            json!({"type": "python", "value": "checks/check.py"})
        );
    }
}
