//! A parsed document that remembers where each value came from.
//!
//! YAML (and JSON, which is YAML) is parsed with `saphyr`'s marked loader and copied into a small
//! tree of our own, so that every later error ("unknown check type", "bad regex", "missing
//! variable") can name the file and line of the value at fault. JSONL lines and CSV cells become
//! nodes too, located at their line. Anchors and aliases are resolved by the loader; YAML 1.1
//! merge keys (`<<: *defaults`), which promptfoo configurations use, are applied here.
//!
//! Left out: tags (a tagged value is read as its content), complex mapping keys (a key must be a
//! scalar), and multi-document files (only the first document is read).

use std::sync::Arc;

use saphyr::{LoadableYamlNode, MarkedYaml, Scalar, YamlData};
use serde_json::Value;

use super::Diagnostic;

/// Where a value is: a file (`None` for text given without a path), a 1-based line, and, for a
/// YAML document, the value's path in it (`tests[3].checks[1].value`), so an editor can show an
/// error at its field even when several fields share a line.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Location {
    pub file: Option<Arc<str>>,
    pub line: Option<usize>,
    pub path: Option<Arc<str>>,
}

impl Location {
    pub fn new(file: Option<Arc<str>>, line: usize) -> Self {
        Self {
            file,
            line: Some(line),
            path: None,
        }
    }

    pub fn error(&self, message: impl Into<String>) -> Diagnostic {
        Diagnostic {
            file: self.file.as_deref().map(str::to_owned),
            line: self.line,
            column: None,
            message: message.into(),
            path: self.path.as_deref().map(str::to_owned),
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub(crate) enum NodeValue {
    Null,
    Bool(bool),
    Integer(i64),
    Float(f64),
    String(String),
    Sequence(Vec<Node>),
    Mapping(Vec<(String, Node)>),
}

/// One value of a suite document and where it was written.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Node {
    pub value: NodeValue,
    pub location: Location,
}

impl Node {
    pub fn new(value: NodeValue, location: Location) -> Self {
        Self { value, location }
    }

    pub fn string(text: impl Into<String>, location: Location) -> Self {
        Self::new(NodeValue::String(text.into()), location)
    }

    /// Parses the first YAML document of `text`. An empty document is a null node.
    pub fn parse_yaml(text: &str, file: Option<Arc<str>>) -> Result<Self, Diagnostic> {
        let documents = match MarkedYaml::load_from_str(text) {
            Ok(documents) => documents,
            Err(error) => {
                // JSON is YAML, except where YAML is stricter (tabs as indentation): a file that
                // is valid JSON still loads, its values all located at line 1.
                if let Ok(value) = serde_json::from_str::<Value>(text) {
                    return Ok(Self::from_json(&value, &Location::new(file, 1)));
                }
                return Err(Diagnostic {
                    file: file.as_deref().map(str::to_owned),
                    line: Some(error.marker().line()),
                    column: Some(error.marker().col() + 1),
                    message: format!("not valid YAML (column {}): {}", error.marker().col() + 1, error.info()),
                    path: None,
                });
            }
        };
        match documents.into_iter().next() {
            Some(document) => Ok(from_marked(document, &file, "")),
            None => Ok(Self::new(NodeValue::Null, Location::new(file, 1))),
        }
    }

    /// A JSON value read from one line of a JSONL file: every part of it is on that line.
    pub fn from_json(value: &Value, location: &Location) -> Self {
        let node_value = match value {
            Value::Null => NodeValue::Null,
            Value::Bool(flag) => NodeValue::Bool(*flag),
            Value::Number(number) => match number.as_i64() {
                Some(integer) => NodeValue::Integer(integer),
                None => NodeValue::Float(number.as_f64().unwrap_or(f64::NAN)),
            },
            Value::String(text) => NodeValue::String(text.clone()),
            Value::Array(items) => {
                NodeValue::Sequence(items.iter().map(|item| Self::from_json(item, location)).collect())
            }
            Value::Object(entries) => NodeValue::Mapping(
                entries
                    .iter()
                    .map(|(key, item)| (key.clone(), Self::from_json(item, location)))
                    .collect(),
            ),
        };
        Self::new(node_value, location.clone())
    }

    pub fn line(&self) -> Option<usize> {
        self.location.line
    }

    pub fn error(&self, message: impl Into<String>) -> Diagnostic {
        self.location.error(message)
    }

    pub fn get(&self, key: &str) -> Option<&Node> {
        match &self.value {
            NodeValue::Mapping(entries) => entries.iter().find(|(name, _)| name == key).map(|(_, node)| node),
            _ => None,
        }
    }

    pub fn entries(&self) -> Option<&[(String, Node)]> {
        match &self.value {
            NodeValue::Mapping(entries) => Some(entries),
            _ => None,
        }
    }

    pub fn items(&self) -> Option<&[Node]> {
        match &self.value {
            NodeValue::Sequence(items) => Some(items),
            _ => None,
        }
    }

    pub fn as_str(&self) -> Option<&str> {
        match &self.value {
            NodeValue::String(text) => Some(text),
            _ => None,
        }
    }

    pub fn is_null(&self) -> bool {
        self.value == NodeValue::Null
    }

    pub fn as_f64(&self) -> Option<f64> {
        match &self.value {
            NodeValue::Integer(integer) => Some(*integer as f64),
            NodeValue::Float(float) => Some(*float),
            // CSV cells and quoted YAML numbers arrive as text.
            NodeValue::String(text) => text.trim().parse().ok(),
            _ => None,
        }
    }

    /// A scalar as text (numbers and booleans as written); `None` for null and collections.
    pub fn scalar_text(&self) -> Option<String> {
        match &self.value {
            NodeValue::String(text) => Some(text.clone()),
            NodeValue::Integer(integer) => Some(integer.to_string()),
            NodeValue::Float(float) => Some(float.to_string()),
            NodeValue::Bool(flag) => Some(flag.to_string()),
            NodeValue::Null | NodeValue::Sequence(_) | NodeValue::Mapping(_) => None,
        }
    }

    pub fn kind_name(&self) -> &'static str {
        match self.value {
            NodeValue::Null => "null",
            NodeValue::Bool(_) => "a boolean",
            NodeValue::Integer(_) | NodeValue::Float(_) => "a number",
            NodeValue::String(_) => "a string",
            NodeValue::Sequence(_) => "a list",
            NodeValue::Mapping(_) => "a mapping",
        }
    }

    pub fn to_json(&self) -> Value {
        match &self.value {
            NodeValue::Null => Value::Null,
            NodeValue::Bool(flag) => Value::Bool(*flag),
            NodeValue::Integer(integer) => Value::from(*integer),
            NodeValue::Float(float) => serde_json::Number::from_f64(*float).map_or(Value::Null, Value::Number),
            NodeValue::String(text) => Value::String(text.clone()),
            NodeValue::Sequence(items) => Value::Array(items.iter().map(Self::to_json).collect()),
            NodeValue::Mapping(entries) => Value::Object(
                entries
                    .iter()
                    .map(|(key, node)| (key.clone(), node.to_json()))
                    .collect(),
            ),
        }
    }

    /// The value at a JSON pointer inside this document (`#/assertionTemplates/name`).
    pub fn pointer(&self, pointer: &str) -> Option<&Node> {
        let path = pointer.strip_prefix('#').unwrap_or(pointer);
        let mut node = self;
        for part in path.split('/').filter(|part| !part.is_empty()) {
            let part = part.replace("~1", "/").replace("~0", "~");
            node = match &node.value {
                NodeValue::Mapping(_) => node.get(&part)?,
                NodeValue::Sequence(items) => items.get(part.parse::<usize>().ok()?)?,
                _ => return None,
            };
        }
        Some(node)
    }
}

/// `path` is where `node` is in the document: `` for the root, then `key`, `key.child`,
/// `list[0]`.
fn from_marked(node: MarkedYaml<'_>, file: &Option<Arc<str>>, path: &str) -> Node {
    let location = Location {
        file: file.clone(),
        line: Some(node.span.start.line()),
        path: (!path.is_empty()).then(|| Arc::from(path)),
    };
    let value = match node.data {
        YamlData::Value(scalar) => scalar_value(scalar),
        YamlData::Representation(text, _, _) => NodeValue::String(text.into_owned()),
        YamlData::Sequence(items) => NodeValue::Sequence(
            items
                .into_iter()
                .enumerate()
                .map(|(index, item)| from_marked(item, file, &format!("{path}[{index}]")))
                .collect(),
        ),
        YamlData::Mapping(entries) => {
            let mut own: Vec<(String, Node)> = Vec::new();
            let mut merged: Vec<Node> = Vec::new();
            for (key, value) in entries {
                let key = from_marked(key, file, path);
                let name = key.scalar_text().unwrap_or_default();
                let value_path = if path.is_empty() {
                    name.clone()
                } else {
                    format!("{path}.{name}")
                };
                let value = from_marked(value, file, &value_path);
                if name == "<<" {
                    merged.push(value);
                } else {
                    own.push((name, value));
                }
            }
            // Merge keys fill in what the mapping does not set itself, first source first.
            for source in merged {
                let sources = match source.value {
                    NodeValue::Sequence(items) => items,
                    _ => vec![source],
                };
                for source in sources {
                    if let NodeValue::Mapping(entries) = source.value {
                        for (name, value) in entries {
                            if !own.iter().any(|(existing, _)| *existing == name) {
                                own.push((name, value));
                            }
                        }
                    }
                }
            }
            NodeValue::Mapping(own)
        }
        YamlData::Tagged(_, inner) => return from_marked(*inner, file, path),
        YamlData::Alias(_) | YamlData::BadValue => NodeValue::Null,
    };
    Node::new(value, location)
}

fn scalar_value(scalar: Scalar<'_>) -> NodeValue {
    match scalar {
        Scalar::Null => NodeValue::Null,
        Scalar::Boolean(flag) => NodeValue::Bool(flag),
        Scalar::Integer(integer) => NodeValue::Integer(integer),
        Scalar::FloatingPoint(float) => NodeValue::Float(float.into_inner()),
        Scalar::String(text) => NodeValue::String(text.into_owned()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_keep_their_lines_and_merge_keys_apply() {
        let text = "base: &base\n  a: 1\n  b: two\nchild:\n  <<: *base\n  b: three\nlist:\n  - x\n  - 2.5\n";
        let node = Node::parse_yaml(text, None).expect("parses");
        let child = node.get("child").expect("child");
        assert_eq!(child.line(), Some(5));
        assert_eq!(child.get("a").and_then(Node::as_f64), Some(1.0));
        assert_eq!(child.get("b").and_then(Node::as_str), Some("three"));
        let list = node.get("list").and_then(Node::items).expect("list");
        assert_eq!(list[1].line(), Some(9));
        assert_eq!(list[1].as_f64(), Some(2.5));
        assert_eq!(node.pointer("#/base/b").and_then(Node::as_str), Some("two"));
    }

    #[test]
    fn values_know_their_path_in_the_document() {
        let text = "tests:\n  - id: a\n    checks:\n      - {type: regex, value: x}\n";
        let node = Node::parse_yaml(text, None).expect("parses");
        let value = node.pointer("#/tests/0/checks/0/value").expect("value");
        assert_eq!(value.location.path.as_deref(), Some("tests[0].checks[0].value"));
        let error = node.pointer("#/tests/0/id").expect("id").error("bad");
        assert_eq!(error.path.as_deref(), Some("tests[0].id"));
        assert_eq!(node.location.path, None);
    }

    #[test]
    fn json_with_tab_indentation_still_loads() {
        let node = Node::parse_yaml("{\n\t\"tests\": [{\"prompt\": \"hi\"}]\n}", None).expect("parses");
        assert_eq!(node.pointer("#/tests/0/prompt").and_then(Node::as_str), Some("hi"));
    }

    #[test]
    fn a_syntax_error_names_its_line() {
        let error = Node::parse_yaml("a: 1\nb: [1, 2\nc: 3\n", None).expect_err("broken");
        assert!(error.line.is_some_and(|line| line >= 2), "{error:?}");
        assert!(error.message.starts_with("not valid YAML"));
    }
}
