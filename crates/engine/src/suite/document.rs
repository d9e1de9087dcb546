//! A suite as an editor holds it: the document's fields (name, description, defaults, prompt
//! templates, tests with their variables, prompt and checks), read from a suite's text and
//! written back as YAML, with every problem the loader finds named by its field's path
//! (`tests[3].checks[1].value`).
//!
//! The document is what the suite *says*, not what it loads to: ids, variables and checks as
//! written, before defaults, expansion and rendering. Validation is the loader's own (one owner
//! per rule): the document is written out as YAML and loaded, and each error keeps the path of
//! the value it is about. The only rule added here is that an edited test has an id, so a dry
//! check and a session's per-test table can name it.
//!
//! Left out: comments and the quoting style of the text (YAML is written afresh), keys the editor
//! has no field for beyond keeping them as written (`other`), and `file://` references (a suite
//! edited here has no folder to follow them from).

use saphyr::{Mapping, Scalar, Yaml, YamlEmitter};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use ts_rs::TS;

use super::node::{Location, Node, NodeValue};
use super::{Diagnostic, Suite, SuiteFormat, check, shorthand, table};

/// One key of a mapping and its value as written (a variable, a parameter, a key the editor
/// has no field for), in the document's order.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct DocumentEntry {
    pub key: String,
    pub value: Value,
}

/// One check of a test as written: its type, value and threshold, and any other keys
/// (`weight`, `metric`, `measure`, `flags`…).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct DocumentCheck {
    #[serde(rename = "type")]
    pub type_name: String,
    pub value: Option<Value>,
    pub threshold: Option<f64>,
    pub other: Vec<DocumentEntry>,
}

/// One test as written.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct DocumentTest {
    pub id: String,
    pub description: Option<String>,
    pub vars: Vec<DocumentEntry>,
    /// The test's own prompt (the user turn); `None` when the suite's templates give it.
    pub prompt: Option<String>,
    /// A conversation before the prompt, as written (`[{role, content}]`).
    pub messages: Option<Value>,
    pub checks: Vec<DocumentCheck>,
    pub other: Vec<DocumentEntry>,
}

/// A suite as an editor holds it.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct SuiteDocument {
    pub name: String,
    pub description: Option<String>,
    /// `defaults.system`.
    pub system: Option<String>,
    /// `defaults.parameters` (temperature, max_output_tokens…).
    pub parameters: Vec<DocumentEntry>,
    /// The prompt templates: texts, or conversations and objects kept as written.
    pub prompts: Vec<Value>,
    pub tests: Vec<DocumentTest>,
    /// Top-level keys the editor has no field for (`margins`, `defaultTest`…), kept as written,
    /// and `defaults` keys other than `system` and `parameters`, under `defaults.<key>`.
    pub other: Vec<DocumentEntry>,
}

/// A problem with a suite, at its field when the loader knows which.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, TS)]
#[ts(export)]
pub struct SuiteFieldError {
    /// `tests[3].checks[1].value`; `None` for a problem of the whole suite (no tests, bad YAML).
    pub path: Option<String>,
    /// In the YAML text the problem was found in (1-based).
    pub line: Option<usize>,
    pub message: String,
}

impl From<Diagnostic> for SuiteFieldError {
    fn from(diagnostic: Diagnostic) -> Self {
        Self {
            path: diagnostic.path,
            line: diagnostic.line,
            message: diagnostic.message,
        }
    }
}

/// The check types ModelBench evaluates, for an editor's type list (any known promptfoo type
/// is accepted too, and kept unevaluated).
pub fn evaluated_check_types() -> Vec<String> {
    check::EVALUATED.iter().map(|name| (*name).to_owned()).collect()
}

impl SuiteDocument {
    /// Reads a suite's text into its fields. Tests without an id get the one the loader would
    /// give them (`t001`…). Errors: the text is not YAML (with its line), or its shape is not
    /// one the editor can hold (`tests` from a file, say).
    pub fn from_text(text: &str, format: SuiteFormat) -> Result<Self, Vec<SuiteFieldError>> {
        let root = match format {
            SuiteFormat::Yaml | SuiteFormat::Json => {
                Node::parse_yaml(text, None).map_err(|error| vec![SuiteFieldError::from(error)])?
            }
            SuiteFormat::Jsonl => {
                let tests = table::jsonl_tests(text, None)
                    .map_err(|errors| errors.into_iter().map(SuiteFieldError::from).collect::<Vec<_>>())?;
                Node::new(NodeValue::Sequence(tests), Location::default())
            }
            SuiteFormat::Csv => {
                let table = table::csv_tests(text, None).map_err(|error| vec![SuiteFieldError::from(error)])?;
                Node::new(NodeValue::Sequence(table.tests), Location::default())
            }
        };
        let mut reading = Reading::default();
        let document = reading.document(&root);
        if reading.errors.is_empty() {
            Ok(document)
        } else {
            Err(reading.errors)
        }
    }

    /// The document as a YAML suite.
    pub fn to_yaml(&self) -> String {
        let mut root = Mapping::new();
        insert(&mut root, "name", text(&self.name));
        if let Some(description) = &self.description {
            insert(&mut root, "description", text(description));
        }
        let mut defaults = Mapping::new();
        if let Some(system) = &self.system {
            insert(&mut defaults, "system", text(system));
        }
        if !self.parameters.is_empty() {
            insert(&mut defaults, "parameters", entries(&self.parameters));
        }
        for entry in &self.other {
            if let Some(key) = entry.key.strip_prefix("defaults.") {
                insert(&mut defaults, key, yaml_of(&entry.value));
            }
        }
        if !defaults.is_empty() {
            insert(&mut root, "defaults", Yaml::Mapping(defaults));
        }
        if !self.prompts.is_empty() {
            insert(
                &mut root,
                "prompts",
                Yaml::Sequence(self.prompts.iter().map(yaml_of).collect()),
            );
        }
        let tests = self.tests.iter().map(DocumentTest::to_yaml).collect();
        insert(&mut root, "tests", Yaml::Sequence(tests));
        for entry in self.other.iter().filter(|entry| !entry.key.starts_with("defaults.")) {
            insert(&mut root, &entry.key, yaml_of(&entry.value));
        }
        let mut out = String::new();
        let mut emitter = YamlEmitter::new(&mut out);
        emitter.multiline(true);
        // Writing to a String cannot fail; an emitter error would be a bug in the emitter.
        if emitter.dump(&Yaml::Mapping(root)).is_err() {
            out.clear();
        }
        let body = out.strip_prefix("---\n").unwrap_or(&out);
        format!("{body}\n")
    }

    /// Everything wrong with the document, each at its field: a test without an id, and the
    /// loader's errors on the YAML it writes (their lines are that YAML's).
    pub fn problems(&self) -> Vec<SuiteFieldError> {
        let mut problems = self.missing_ids();
        problems.extend(review(&self.to_yaml()).errors);
        problems
    }

    /// A test without an id, at its `id` field.
    pub fn missing_ids(&self) -> Vec<SuiteFieldError> {
        self.tests
            .iter()
            .enumerate()
            .filter(|(_, test)| test.id.trim().is_empty())
            .map(|(index, _)| SuiteFieldError {
                path: Some(format!("tests[{index}].id")),
                line: None,
                message: "a test needs an id".to_owned(),
            })
            .collect()
    }
}

/// What loading a YAML suite's text finds: its errors, each at its field and line, and its
/// notes (what it says that ModelBench ignores).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Review {
    pub errors: Vec<SuiteFieldError>,
    pub notes: Vec<String>,
}

/// Loads `text` as a YAML suite, as a session would, and says what is wrong with it.
pub fn review(text: &str) -> Review {
    match Suite::parse(text, SuiteFormat::Yaml, None) {
        Ok(loaded) => Review {
            errors: Vec::new(),
            notes: loaded.notes.iter().map(ToString::to_string).collect(),
        },
        Err(errors) => Review {
            errors: errors.0.into_iter().map(SuiteFieldError::from).collect(),
            notes: Vec::new(),
        },
    }
}

impl DocumentTest {
    fn to_yaml(&self) -> Yaml<'static> {
        let mut test = Mapping::new();
        insert(&mut test, "id", text(&self.id));
        if let Some(description) = &self.description {
            insert(&mut test, "description", text(description));
        }
        if !self.vars.is_empty() {
            insert(&mut test, "vars", entries(&self.vars));
        }
        if let Some(prompt) = &self.prompt {
            insert(&mut test, "prompt", text(prompt));
        }
        if let Some(messages) = &self.messages {
            insert(&mut test, "messages", yaml_of(messages));
        }
        if !self.checks.is_empty() {
            let checks = self.checks.iter().map(DocumentCheck::to_yaml).collect();
            insert(&mut test, "checks", Yaml::Sequence(checks));
        }
        for entry in &self.other {
            insert(&mut test, &entry.key, yaml_of(&entry.value));
        }
        Yaml::Mapping(test)
    }
}

impl DocumentCheck {
    fn to_yaml(&self) -> Yaml<'static> {
        let mut check = Mapping::new();
        insert(&mut check, "type", text(&self.type_name));
        if let Some(value) = &self.value {
            insert(&mut check, "value", yaml_of(value));
        }
        if let Some(threshold) = self.threshold {
            insert(&mut check, "threshold", number(threshold));
        }
        for entry in &self.other {
            insert(&mut check, &entry.key, yaml_of(&entry.value));
        }
        Yaml::Mapping(check)
    }
}

/// Reading a document's nodes into fields; shapes the editor cannot hold are errors at them.
#[derive(Default)]
struct Reading {
    errors: Vec<SuiteFieldError>,
}

impl Reading {
    fn error(&mut self, node: &Node, message: String) {
        self.errors.push(SuiteFieldError::from(node.error(message)));
    }

    fn text(&mut self, node: &Node, key: &str) -> Option<String> {
        let field = node.get(key).filter(|field| !field.is_null())?;
        let text = field.scalar_text();
        if text.is_none() {
            self.error(field, format!("`{key}` must be text, found {}", field.kind_name()));
        }
        text
    }

    fn entries(&mut self, node: &Node, what: &str) -> Vec<DocumentEntry> {
        match node.entries() {
            Some(entries) => entries
                .iter()
                .map(|(key, value)| DocumentEntry {
                    key: key.clone(),
                    value: value.to_json(),
                })
                .collect(),
            None if node.is_null() => Vec::new(),
            None => {
                self.error(
                    node,
                    format!("`{what}` must be a mapping to edit here, found {}", node.kind_name()),
                );
                Vec::new()
            }
        }
    }

    fn document(&mut self, root: &Node) -> SuiteDocument {
        let mut document = SuiteDocument::default();
        let entries = match &root.value {
            NodeValue::Mapping(entries) => entries.clone(),
            // A bare list is a list of tests.
            NodeValue::Sequence(_) => vec![("tests".to_owned(), root.clone())],
            NodeValue::Null => Vec::new(),
            _ => {
                self.error(root, format!("a suite must be a mapping, found {}", root.kind_name()));
                return document;
            }
        };
        for (key, value) in &entries {
            match key.as_str() {
                "name" => document.name = self.text(root, "name").unwrap_or_default(),
                "description" => document.description = self.text(root, "description"),
                "defaults" => self.defaults(value, &mut document),
                "prompts" | "prompt" => match &value.value {
                    NodeValue::Sequence(items) => document.prompts.extend(items.iter().map(Node::to_json)),
                    _ => document.prompts.push(value.to_json()),
                },
                "tests" => match value.items() {
                    Some(items) => {
                        for (index, item) in items.iter().enumerate() {
                            let test = self.test(item, index);
                            document.tests.extend(test);
                        }
                    }
                    None if value.is_null() => {}
                    None => self.error(
                        value,
                        format!(
                            "`tests` must be a list to edit here, found {} (edit the raw YAML)",
                            value.kind_name()
                        ),
                    ),
                },
                _ => document.other.push(DocumentEntry {
                    key: key.clone(),
                    value: value.to_json(),
                }),
            }
        }
        document
    }

    fn defaults(&mut self, node: &Node, document: &mut SuiteDocument) {
        let Some(entries) = node.entries() else {
            self.error(
                node,
                format!("`defaults` must be a mapping, found {}", node.kind_name()),
            );
            return;
        };
        for (key, value) in entries {
            match key.as_str() {
                "system" => document.system = self.text(node, "system"),
                "parameters" => document.parameters = self.entries(value, "parameters"),
                _ => document.other.push(DocumentEntry {
                    key: format!("defaults.{key}"),
                    value: value.to_json(),
                }),
            }
        }
    }

    fn test(&mut self, node: &Node, index: usize) -> Option<DocumentTest> {
        let Some(entries) = node.entries() else {
            self.error(
                node,
                format!("a test must be a mapping to edit here, found {}", node.kind_name()),
            );
            return None;
        };
        let mut test = DocumentTest {
            id: format!("t{:03}", index + 1),
            description: None,
            vars: Vec::new(),
            prompt: None,
            messages: None,
            checks: Vec::new(),
            other: Vec::new(),
        };
        for (key, value) in entries {
            match key.as_str() {
                "id" => {
                    if let Some(id) = self.text(node, "id") {
                        test.id = id;
                    }
                }
                "description" => test.description = self.text(node, "description"),
                "vars" => test.vars = self.entries(value, "vars"),
                "prompt" => test.prompt = self.text(node, "prompt"),
                "messages" => test.messages = Some(value.to_json()),
                "checks" | "assert" => match value.items() {
                    Some(items) => test.checks.extend(items.iter().filter_map(|item| self.check(item))),
                    None if value.is_null() => {}
                    None => self.error(
                        value,
                        format!("`{key}` must be a list of checks, found {}", value.kind_name()),
                    ),
                },
                _ => test.other.push(DocumentEntry {
                    key: key.clone(),
                    value: value.to_json(),
                }),
            }
        }
        Some(test)
    }

    fn check(&mut self, node: &Node) -> Option<DocumentCheck> {
        let node = match &node.value {
            NodeValue::String(text) => shorthand::parse(text, &node.location),
            _ => node.clone(),
        };
        let Some(entries) = node.entries() else {
            self.error(
                &node,
                format!("a check must be a mapping with a `type`, found {}", node.kind_name()),
            );
            return None;
        };
        let mut check = DocumentCheck {
            type_name: String::new(),
            value: None,
            threshold: None,
            other: Vec::new(),
        };
        for (key, value) in entries {
            match key.as_str() {
                "type" => check.type_name = value.scalar_text().unwrap_or_default(),
                "value" => check.value = (!value.is_null()).then(|| value.to_json()),
                "threshold" if value.as_f64().is_some() => check.threshold = value.as_f64(),
                _ => check.other.push(DocumentEntry {
                    key: key.clone(),
                    value: value.to_json(),
                }),
            }
        }
        Some(check)
    }
}

fn insert(mapping: &mut Mapping<'static>, key: &str, value: Yaml<'static>) {
    mapping.insert(text(key), value);
}

fn text(value: &str) -> Yaml<'static> {
    Yaml::Value(Scalar::String(value.to_owned().into()))
}

fn number(value: f64) -> Yaml<'static> {
    if value.fract() == 0.0 && value.abs() < 1e15 {
        Yaml::Value(Scalar::Integer(value as i64))
    } else {
        Yaml::Value(Scalar::FloatingPoint(value.into()))
    }
}

fn entries(entries: &[DocumentEntry]) -> Yaml<'static> {
    let mut mapping = Mapping::new();
    for entry in entries {
        insert(&mut mapping, &entry.key, yaml_of(&entry.value));
    }
    Yaml::Mapping(mapping)
}

fn yaml_of(value: &Value) -> Yaml<'static> {
    match value {
        Value::Null => Yaml::Value(Scalar::Null),
        Value::Bool(flag) => Yaml::Value(Scalar::Boolean(*flag)),
        Value::Number(number) => match number.as_i64() {
            Some(integer) => Yaml::Value(Scalar::Integer(integer)),
            None => Yaml::Value(Scalar::FloatingPoint(number.as_f64().unwrap_or(f64::NAN).into())),
        },
        Value::String(value) => text(value),
        Value::Array(items) => Yaml::Sequence(items.iter().map(yaml_of).collect()),
        Value::Object(object) => {
            let mut mapping = Mapping::new();
            for (key, value) in object {
                insert(&mut mapping, key, yaml_of(value));
            }
            Yaml::Mapping(mapping)
        }
    }
}

#[cfg(test)]
mod tests;
