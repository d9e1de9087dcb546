//! From a suite document to a [`Suite`]: keys, referenced files, defaults, variable expansion,
//! test ids, prompt rendering and check compilation.
//!
//! One reader takes both shapes: ModelBench's (`name`, `defaults`, `prompt(s)`, `tests[].checks`,
//! `margins`) and promptfoo's (`prompts`, `tests[].vars`/`assert`, `defaultTest`,
//! `assertionTemplates` with `$ref`). `file://` references (prompts, tests, vars, check values,
//! `defaultTest`) are read relative to the suite's folder, with `*`/`?` globs in the last path
//! part; each file read joins the suite's hash. Errors are collected, not returned at the first,
//! so `suite check` lists them all.
//!
//! Left out: prompts, tests or variables produced by scripts (`.js`, `.py`, `exec:`), remote
//! sources (Google Sheets, Hugging Face, prompt registries), `scenarios`, `**` globs, and
//! per-test or per-provider model settings (targets and parameters belong to the session).

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;

use serde_json::{Map, Value};

mod prompts;

use super::node::{Location, Node, NodeValue};
use super::{
    Case, Defaults, Diagnostic, LoadedSuite, Margins, Note, PromptTemplate, ReferencedFile, Suite, SuiteErrors,
    SuiteFormat, TemplateBody, TemplateMessage, Test, check, hash_of, resolve, table, template,
};
use crate::{Message, Prompt, Role};

/// Top-level promptfoo keys that only concern promptfoo's own runner or UI.
const PROMPTFOO_ONLY_KEYS: &[&str] = &[
    "evaluateOptions",
    "outputPath",
    "sharing",
    "env",
    "commandLineOptions",
    "extensions",
    "tags",
    "nunjucksFilters",
    "derivedMetrics",
    "redteam",
    "metadata",
    "writeLatestResults",
    "tracing",
    "$schema",
    "version",
];

/// Extensions of files that are code: ModelBench reads them but never runs them.
const SCRIPT_EXTENSIONS: &[&str] = &["js", "mjs", "cjs", "ts", "py", "rb", "sh", "bash", "pl", "go", "rs"];

pub(super) fn load(
    text: String,
    format: SuiteFormat,
    base_dir: Option<PathBuf>,
    file: Option<String>,
    fallback_name: String,
) -> Result<LoadedSuite, SuiteErrors> {
    load_with(text, format, base_dir, None, file, fallback_name)
}

/// Loads a suite whose referenced files are given (as a stored session kept them) instead of
/// read from disk: nothing outside `stored` is read.
pub(super) fn restore(
    text: String,
    format: SuiteFormat,
    stored: Vec<ReferencedFile>,
    fallback_name: String,
) -> Result<LoadedSuite, SuiteErrors> {
    load_with(text, format, None, Some(stored), None, fallback_name)
}

fn load_with(
    text: String,
    format: SuiteFormat,
    base_dir: Option<PathBuf>,
    stored: Option<Vec<ReferencedFile>>,
    file: Option<String>,
    fallback_name: String,
) -> Result<LoadedSuite, SuiteErrors> {
    let mut reader = Reader {
        stored,
        base_dir,
        file: file.map(Arc::from),
        files: Vec::new(),
        notes: Vec::new(),
        errors: Vec::new(),
        root: None,
    };
    let mut raw = RawSuite::default();
    match format {
        SuiteFormat::Yaml | SuiteFormat::Json => match Node::parse_yaml(&text, reader.file.clone()) {
            Ok(root) => {
                reader.root = Some(root.clone());
                reader.read_document(&root, &mut raw);
            }
            Err(error) => reader.errors.push(error),
        },
        SuiteFormat::Jsonl => match table::jsonl_tests(&text, reader.file.clone()) {
            Ok(tests) => raw.tests = tests,
            Err(errors) => reader.errors.extend(errors),
        },
        SuiteFormat::Csv => match table::csv_tests(&text, reader.file.clone()) {
            Ok(table) => reader.take_table(table, &mut raw),
            Err(error) => reader.errors.push(error),
        },
    }
    let suite = reader.build(raw, fallback_name);
    if !reader.errors.is_empty() {
        return Err(SuiteErrors(reader.errors));
    }
    let hash = hash_of(&text, &reader.files);
    Ok(LoadedSuite {
        suite,
        text,
        hash,
        files: reader.files,
        notes: reader.notes,
    })
}

#[derive(Default)]
struct RawSuite {
    name: Option<String>,
    description: Option<String>,
    defaults: Defaults,
    default_test: Option<Node>,
    prompts: Vec<PromptTemplate>,
    tests: Vec<Node>,
    margins: Margins,
}

struct Reader {
    /// The referenced files as a session stored them; when set, the disk is never read.
    stored: Option<Vec<ReferencedFile>>,
    base_dir: Option<PathBuf>,
    file: Option<Arc<str>>,
    files: Vec<ReferencedFile>,
    notes: Vec<Note>,
    errors: Vec<Diagnostic>,
    /// The suite document, for `$ref` pointers.
    root: Option<Node>,
}

/// A test after defaults and before expansion, rendering and compilation.
#[derive(Clone)]
struct RawTest {
    id: Option<String>,
    /// Where the id was written (duplicates are reported there).
    id_location: Option<Location>,
    description: Option<String>,
    vars: Vec<(String, Node)>,
    prompt: Option<Node>,
    messages: Option<Node>,
    checks: Vec<Node>,
    threshold: Option<f64>,
    prefix: Option<String>,
    suffix: Option<String>,
    location: Location,
}

impl Reader {
    fn error(&mut self, diagnostic: Diagnostic) {
        if !self.errors.contains(&diagnostic) {
            self.errors.push(diagnostic);
        }
    }

    fn note(&mut self, location: &Location, message: impl Into<String>) {
        let note = location.error(message);
        if !self.notes.contains(&note) {
            self.notes.push(note);
        }
    }

    fn string_field(&mut self, node: &Node, key: &str) -> Option<String> {
        let field = node.get(key)?;
        if field.is_null() {
            return None;
        }
        match field.scalar_text() {
            Some(text) => Some(text),
            None => {
                self.error(field.error(format!("`{key}` must be text, found {}", field.kind_name())));
                None
            }
        }
    }

    fn number_field(&mut self, node: &Node, key: &str) -> Option<f64> {
        let field = node.get(key)?;
        match field.as_f64() {
            Some(number) => Some(number),
            None => {
                self.error(field.error(format!("`{key}` must be a number, found {}", field.kind_name())));
                None
            }
        }
    }

    fn read_document(&mut self, root: &Node, raw: &mut RawSuite) {
        let entries = match &root.value {
            NodeValue::Mapping(entries) => entries.clone(),
            // A bare list is a list of tests (promptfoo test files look like this).
            NodeValue::Sequence(items) => {
                raw.tests = self.test_nodes(items);
                return;
            }
            _ => {
                self.error(root.error(format!(
                    "a suite must be a mapping (name, prompts, tests…), found {}",
                    root.kind_name()
                )));
                return;
            }
        };
        for (key, value) in &entries {
            match key.as_str() {
                "name" => raw.name = self.string_field(root, "name"),
                "description" => raw.description = self.string_field(root, "description"),
                "defaults" => self.read_defaults(value, raw),
                "defaultTest" => raw.default_test = self.default_test(value),
                "prompts" | "prompt" => {
                    let templates = self.prompt_templates(value);
                    raw.prompts.extend(templates);
                }
                "tests" => {
                    let tests = match &value.value {
                        NodeValue::Sequence(items) => self.test_nodes(items),
                        NodeValue::String(_) => self.test_nodes(std::slice::from_ref(value)),
                        NodeValue::Null => Vec::new(),
                        _ => {
                            self.error(value.error(format!(
                                "`tests` must be a list or a file://, found {}",
                                value.kind_name()
                            )));
                            Vec::new()
                        }
                    };
                    raw.tests.extend(tests);
                }
                "margins" => raw.margins = self.margins(value),
                "providers" | "targets" => self.note(
                    &value.location,
                    format!("`{key}` is ignored: targets come from ModelBench, not from the suite"),
                ),
                "assertionTemplates" => {}
                "scenarios" => self.note(&value.location, "`scenarios` is not supported; ignored"),
                key if PROMPTFOO_ONLY_KEYS.contains(&key) => {
                    self.note(&value.location, format!("`{key}` is a promptfoo setting; ignored"));
                }
                key => self.note(&value.location, format!("unknown key `{key}` ignored")),
            }
        }
    }

    fn read_defaults(&mut self, node: &Node, raw: &mut RawSuite) {
        let Some(entries) = node.entries() else {
            self.error(node.error(format!("`defaults` must be a mapping, found {}", node.kind_name())));
            return;
        };
        let mut default_test = Vec::new();
        for (key, value) in entries {
            match key.as_str() {
                "system" => raw.defaults.system = self.string_field(node, "system"),
                "parameters" => self.parameters(value, &mut raw.defaults),
                "vars" | "checks" | "assert" | "threshold" => default_test.push((key.clone(), value.clone())),
                key => self.error(value.error(format!(
                    "unknown key `{key}` in `defaults` (system, parameters, vars, checks)"
                ))),
            }
        }
        if !default_test.is_empty() {
            raw.default_test = Some(Node::new(NodeValue::Mapping(default_test), node.location.clone()));
        }
    }

    fn parameters(&mut self, node: &Node, defaults: &mut Defaults) {
        let Some(entries) = node.entries() else {
            self.error(node.error(format!("`parameters` must be a mapping, found {}", node.kind_name())));
            return;
        };
        let parameters = &mut defaults.parameters;
        for (key, value) in entries {
            let number = value.as_f64();
            let wrong =
                |expected: &str| value.error(format!("`{key}` must be {expected}, found {}", value.kind_name()));
            match key.as_str() {
                "temperature" => match number {
                    Some(number) => parameters.temperature = Some(number),
                    None => self.error(wrong("a number")),
                },
                "top_p" => match number {
                    Some(number) => parameters.top_p = Some(number),
                    None => self.error(wrong("a number")),
                },
                "max_output_tokens" | "max_tokens" => {
                    match number.filter(|number| *number >= 1.0 && number.fract() == 0.0) {
                        Some(number) => parameters.max_output_tokens = Some(number as u32),
                        None => self.error(wrong("a positive whole number")),
                    }
                }
                "seed" => match number.filter(|number| number.fract() == 0.0) {
                    Some(number) => parameters.seed = Some(number as i64),
                    None => self.error(wrong("a whole number")),
                },
                "stop_sequences" | "stop" => match &value.value {
                    NodeValue::Sequence(items) => {
                        parameters.stop_sequences = items.iter().filter_map(Node::scalar_text).collect();
                    }
                    NodeValue::String(text) => parameters.stop_sequences = vec![text.clone()],
                    _ => self.error(wrong("a list of texts")),
                },
                key => self.error(value.error(format!(
                    "unknown parameter `{key}` (temperature, top_p, max_output_tokens, stop_sequences, seed)"
                ))),
            }
        }
    }

    fn margins(&mut self, node: &Node) -> Margins {
        let mut margins = Margins::default();
        let Some(entries) = node.entries() else {
            self.error(node.error(format!("`margins` must be a mapping, found {}", node.kind_name())));
            return margins;
        };
        for (key, value) in entries {
            let slot = match key.as_str() {
                "latency_percent" => &mut margins.latency_percent,
                "pass_rate_points" => &mut margins.pass_rate_points,
                "error_rate_points" => &mut margins.error_rate_points,
                key => {
                    self.error(value.error(format!(
                        "unknown margin `{key}` (latency_percent, pass_rate_points, error_rate_points)"
                    )));
                    continue;
                }
            };
            match value.as_f64().filter(|number| number.is_finite() && *number >= 0.0) {
                Some(number) => *slot = number,
                None => self.error(value.error(format!("`{key}` must be a non-negative number"))),
            }
        }
        margins
    }

    fn default_test(&mut self, node: &Node) -> Option<Node> {
        match &node.value {
            NodeValue::String(text) if text.starts_with("file://") => {
                let path = text.trim_start_matches("file://").to_owned();
                let (body, file) = self.read_file(&path, node)?;
                self.parse_structured(&body, file)
            }
            NodeValue::Mapping(_) => Some(node.clone()),
            NodeValue::Null => None,
            _ => {
                self.error(node.error(format!("`defaultTest` must be a mapping, found {}", node.kind_name())));
                None
            }
        }
    }

    // ---- files ----

    /// Reads a referenced file (once: later reads reuse the text), recording it for the hash.
    fn read_file(&mut self, path: &str, at: &Node) -> Option<(String, Arc<str>)> {
        if let Some(stored) = &self.stored {
            let label: Arc<str> = Arc::from(path);
            if let Some(existing) = self.files.iter().find(|file| file.path == path) {
                return Some((existing.text.clone(), label));
            }
            let Some(file) = stored.iter().find(|file| file.path == path).cloned() else {
                self.error(at.error(format!("`file://{path}` is not among the suite's stored files")));
                return None;
            };
            let text = file.text.clone();
            self.files.push(file);
            return Some((text, label));
        }
        let Some(full) = resolve(&self.base_dir, path) else {
            self.error(at.error(format!(
                "cannot follow `file://{path}`: the suite was given without a folder"
            )));
            return None;
        };
        let label: Arc<str> = Arc::from(full.display().to_string());
        if let Some(existing) = self.files.iter().find(|file| file.path == path) {
            return Some((existing.text.clone(), label));
        }
        match std::fs::read_to_string(&full) {
            Ok(text) => {
                self.files.push(ReferencedFile {
                    path: path.to_owned(),
                    text: text.clone(),
                });
                Some((text, label))
            }
            Err(error) => {
                self.error(at.error(format!("cannot read `{}`: {error}", full.display())));
                None
            }
        }
    }

    /// The paths a reference names: itself, or the files matching a glob in its last part (or
    /// the files of a folder), sorted.
    fn expand_paths(&mut self, path: &str, at: &Node) -> Vec<String> {
        let is_glob = path.contains(['*', '?']);
        if let Some(stored) = &self.stored {
            // The stored files are the expansion as it was first read.
            let (folder, pattern) = match path.trim_end_matches('/').rsplit_once('/') {
                Some((folder, pattern)) if is_glob => (folder.to_owned(), pattern.to_owned()),
                None if is_glob => (".".to_owned(), path.to_owned()),
                _ if stored.iter().any(|file| file.path == path) => return vec![path.to_owned()],
                _ => (path.trim_end_matches('/').to_owned(), "*".to_owned()),
            };
            let prefix = if folder == "." {
                String::new()
            } else {
                format!("{folder}/")
            };
            let names: Vec<String> = stored
                .iter()
                .filter_map(|file| file.path.strip_prefix(&prefix))
                .filter(|name| !name.contains('/') && wildcard_match(&pattern, name))
                .map(|name| format!("{prefix}{name}"))
                .collect();
            return if names.is_empty() { vec![path.to_owned()] } else { names };
        }
        let full = resolve(&self.base_dir, path);
        let is_folder = full.as_ref().is_some_and(|full| full.is_dir());
        if !is_glob && !is_folder {
            return vec![path.to_owned()];
        }
        let (folder, pattern) = if is_folder {
            (path.trim_end_matches('/').to_owned(), "*".to_owned())
        } else {
            match path.rsplit_once('/') {
                Some((folder, pattern)) => (folder.to_owned(), pattern.to_owned()),
                None => (".".to_owned(), path.to_owned()),
            }
        };
        if folder.contains(['*', '?']) {
            self.error(at.error(format!(
                "`file://{path}`: globs are only supported in the last path part"
            )));
            return Vec::new();
        }
        let Some(full_folder) = resolve(&self.base_dir, &folder) else {
            self.error(at.error(format!(
                "cannot follow `file://{path}`: the suite was given without a folder"
            )));
            return Vec::new();
        };
        let mut names: Vec<String> = std::fs::read_dir(&full_folder)
            .map(|listing| {
                listing
                    .filter_map(|entry| entry.ok())
                    .filter(|entry| entry.path().is_file())
                    .filter_map(|entry| entry.file_name().to_str().map(str::to_owned))
                    .filter(|name| wildcard_match(&pattern, name))
                    .collect()
            })
            .unwrap_or_default();
        names.sort();
        if names.is_empty() {
            self.error(at.error(format!("`file://{path}` matches no file")));
        }
        names
            .into_iter()
            .map(|name| {
                if folder == "." {
                    name
                } else {
                    format!("{folder}/{name}")
                }
            })
            .collect()
    }

    /// A YAML or JSON file's document; a syntax error is reported in that file.
    fn parse_structured(&mut self, text: &str, file: Arc<str>) -> Option<Node> {
        match Node::parse_yaml(text, Some(file)) {
            Ok(node) => Some(node),
            Err(error) => {
                self.error(error);
                None
            }
        }
    }

    /// A `file://` value of a variable or check: JSON and YAML files as their values, code as
    /// its path (with a note), anything else as text; a glob gives a list.
    fn file_value(&mut self, text: &str, at: &Node) -> Node {
        let path = text.trim_start_matches("file://");
        let (path, function) = split_function(path);
        let extension = extension_of(path);
        if SCRIPT_EXTENSIONS.contains(&extension.as_str()) || function.is_some() {
            self.note(
                &at.location,
                format!("`{text}` is code; ModelBench does not run it and keeps the text as is"),
            );
            return at.clone();
        }
        if ["png", "jpg", "jpeg", "gif", "webp", "pdf", "mp3", "wav", "mp4", "xlsx"].contains(&extension.as_str()) {
            self.note(&at.location, format!("`{text}` is not text; kept as its path"));
            return at.clone();
        }
        let paths = self.expand_paths(path, at);
        let is_glob = path.contains(['*', '?']) || paths.len() != 1;
        let mut values = Vec::new();
        for path in paths {
            let Some((body, file)) = self.read_file(&path, at) else {
                continue;
            };
            let value = match extension_of(&path).as_str() {
                "json" | "yaml" | "yml" => self.parse_structured(&body, file),
                _ => Some(Node::string(body, at.location.clone())),
            };
            values.extend(value);
        }
        if is_glob {
            Node::new(NodeValue::Sequence(values), at.location.clone())
        } else {
            values.into_iter().next().unwrap_or_else(|| at.clone())
        }
    }

    /// A list of `{role, content}`: system, user or assistant, content as text (the text parts
    /// of a list content, with a note).
    fn messages(&mut self, node: &Node) -> Option<Vec<TemplateMessage>> {
        let Some(items) = node.items() else {
            self.error(node.error(format!(
                "`messages` must be a list of {{role, content}}, found {}",
                node.kind_name()
            )));
            return None;
        };
        let mut messages = Vec::new();
        for item in items {
            let role = item.get("role").and_then(Node::scalar_text);
            let role = match role.as_deref() {
                Some("system" | "developer") => "system",
                Some("user" | "human") => "user",
                Some("assistant" | "model" | "ai") => "assistant",
                Some(other) => {
                    self.error(item.error(format!("unknown role `{other}` (system, user, assistant)")));
                    continue;
                }
                None => {
                    self.error(item.error("a message needs a `role` and a `content`"));
                    continue;
                }
            };
            let content = match item.get("content") {
                Some(content) => match &content.value {
                    NodeValue::Sequence(parts) => {
                        self.note(&content.location, "only the text parts of a message's content are sent");
                        parts
                            .iter()
                            .filter_map(|part| {
                                part.get("text")
                                    .and_then(Node::scalar_text)
                                    .or_else(|| part.scalar_text())
                            })
                            .collect::<Vec<_>>()
                            .join("\n")
                    }
                    _ => content.scalar_text().unwrap_or_default(),
                },
                None => {
                    self.error(item.error("a message needs a `content`"));
                    continue;
                }
            };
            messages.push(TemplateMessage {
                role: role.to_owned(),
                content,
            });
        }
        Some(messages)
    }

    // ---- tests ----

    fn take_table(&mut self, table: table::Table, raw: &mut RawSuite) {
        for column in &table.ignored_columns {
            let location = Location::new(self.file.clone(), 1);
            self.note(&location, format!("CSV column `{column}` is ignored"));
        }
        raw.tests.extend(table.tests);
    }

    /// Test mappings from a `tests` list: inline tests and `file://` references.
    fn test_nodes(&mut self, items: &[Node]) -> Vec<Node> {
        let mut tests = Vec::new();
        for item in items {
            match &item.value {
                NodeValue::Mapping(_) if item.get("path").is_some() && item.get("vars").is_none() => {
                    self.note(&item.location, "tests generated by a script are not supported; skipped");
                }
                NodeValue::Mapping(_) => tests.push(item.clone()),
                NodeValue::String(text) if text.starts_with("file://") => tests.extend(self.tests_file(text, item)),
                // Older promptfoo configs name test files without `file://`.
                NodeValue::String(text) if looks_like_tests_file(text) => tests.extend(self.tests_file(text, item)),
                NodeValue::String(text) if text.starts_with("huggingface://") || text.contains("docs.google.com") => {
                    self.note(
                        &item.location,
                        format!("remote tests `{text}` are not supported; skipped"),
                    );
                }
                _ => self.error(item.error(format!("a test must be a mapping, found {}", item.kind_name()))),
            }
        }
        tests
    }

    fn tests_file(&mut self, text: &str, at: &Node) -> Vec<Node> {
        let path = text.trim_start_matches("file://");
        let (path_only, function) = split_function(path);
        if SCRIPT_EXTENSIONS.contains(&extension_of(path_only).as_str()) || function.is_some() {
            self.note(
                &at.location,
                format!("tests from the script `{text}` are not supported; skipped"),
            );
            return Vec::new();
        }
        let mut tests = Vec::new();
        for path in self.expand_paths(path_only, at) {
            let extension = extension_of(&path);
            if ["xlsx", "xls"].contains(&extension.as_str()) {
                self.note(
                    &at.location,
                    format!("`{path}`: spreadsheets are not supported; export it to CSV"),
                );
                continue;
            }
            let Some((body, file)) = self.read_file(&path, at) else {
                continue;
            };
            match extension.as_str() {
                "csv" => match table::csv_tests(&body, Some(file)) {
                    Ok(table) => {
                        for column in &table.ignored_columns {
                            self.note(&at.location, format!("CSV column `{column}` in `{path}` is ignored"));
                        }
                        tests.extend(table.tests);
                    }
                    Err(error) => self.error(error),
                },
                "jsonl" | "ndjson" => match table::jsonl_tests(&body, Some(file)) {
                    Ok(found) => tests.extend(found),
                    Err(errors) => errors.into_iter().for_each(|error| self.error(error)),
                },
                _ => {
                    let Some(document) = self.parse_structured(&body, file) else {
                        continue;
                    };
                    match &document.value {
                        NodeValue::Sequence(items) => tests.extend(self.test_nodes(items)),
                        NodeValue::Mapping(_) if document.get("tests").is_some() => {
                            if let Some(items) = document.get("tests").and_then(Node::items) {
                                tests.extend(self.test_nodes(items));
                            }
                        }
                        NodeValue::Mapping(_) => tests.push(document.clone()),
                        _ => self.error(document.error("a tests file must hold a list of tests")),
                    }
                }
            }
        }
        tests
    }

    /// A test mapping read into its parts, `defaultTest` applied.
    fn raw_test(&mut self, node: &Node, defaults: Option<&RawTest>, disable_default_checks: bool) -> Option<RawTest> {
        let Some(entries) = node.entries() else {
            self.error(node.error(format!("a test must be a mapping, found {}", node.kind_name())));
            return None;
        };
        let mut test = match defaults {
            Some(defaults) => RawTest {
                location: node.location.clone(),
                checks: if disable_default_checks {
                    Vec::new()
                } else {
                    defaults.checks.clone()
                },
                ..defaults.clone()
            },
            None => RawTest {
                id: None,
                id_location: None,
                description: None,
                vars: Vec::new(),
                prompt: None,
                messages: None,
                checks: Vec::new(),
                threshold: None,
                prefix: None,
                suffix: None,
                location: node.location.clone(),
            },
        };
        for (key, value) in entries {
            match key.as_str() {
                "id" => {
                    test.id = self.string_field(node, "id").map(|id| id.trim().to_owned());
                    test.id_location = Some(value.location.clone());
                }
                "description" => test.description = self.string_field(node, "description"),
                "vars" => {
                    for (name, value) in self.vars(value) {
                        test.vars.retain(|(existing, _)| *existing != name);
                        test.vars.push((name, value));
                    }
                }
                "prompt" => match value.scalar_text() {
                    Some(_) => test.prompt = Some(value.clone()),
                    None => self.error(value.error(format!("`prompt` must be text, found {}", value.kind_name()))),
                },
                "messages" => test.messages = Some(value.clone()),
                "checks" | "assert" => match value.items() {
                    Some(items) => test.checks.extend(items.iter().cloned()),
                    None if value.is_null() => {}
                    None => self
                        .error(value.error(format!("`{key}` must be a list of checks, found {}", value.kind_name()))),
                },
                "threshold" => test.threshold = self.number_field(node, "threshold"),
                "options" => self.test_options(value, &mut test),
                "metadata" => {}
                "provider" | "providers" | "providerOutput" | "assertScoringFunction" => {
                    self.note(&value.location, format!("a test's `{key}` is ignored"));
                }
                key => self.note(&value.location, format!("unknown test key `{key}` ignored")),
            }
        }
        Some(test)
    }

    fn test_options(&mut self, node: &Node, test: &mut RawTest) {
        let Some(entries) = node.entries() else { return };
        for (key, value) in entries {
            match key.as_str() {
                "prefix" => test.prefix = value.scalar_text(),
                "suffix" => test.suffix = value.scalar_text(),
                "disableDefaultAsserts" => {}
                "transform" | "postprocess" => {
                    self.note(
                        &value.location,
                        "`options.transform` is code; checks see the untransformed output",
                    );
                }
                key => self.note(&value.location, format!("test option `{key}` is ignored")),
            }
        }
    }

    /// A test's `vars`: a mapping (file:// values read) or a `file://` to one.
    fn vars(&mut self, node: &Node) -> Vec<(String, Node)> {
        let node = match &node.value {
            // A plain string is a path too: promptfoo reads `vars: vars.yaml` as a file.
            NodeValue::String(text) => self.file_value(text, node),
            NodeValue::Null => return Vec::new(),
            _ => node.clone(),
        };
        let mappings: Vec<Node> = match node.value {
            NodeValue::Sequence(items) => items,
            _ => vec![node],
        };
        let mut vars = Vec::new();
        for mapping in mappings {
            let Some(entries) = mapping.entries() else {
                self.error(mapping.error(format!("`vars` must be a mapping, found {}", mapping.kind_name())));
                continue;
            };
            for (name, value) in entries {
                let value = match &value.value {
                    NodeValue::String(text) if text.starts_with("file://") => self.file_value(text, value),
                    _ => value.clone(),
                };
                vars.retain(|(existing, _): &(String, Node)| existing != name);
                vars.push((name.clone(), value));
            }
        }
        vars
    }

    // ---- assembly ----

    fn build(&mut self, raw: RawSuite, fallback_name: String) -> Suite {
        let mut prompts = raw.prompts;
        let mut seen_prompt_ids: HashMap<String, Option<usize>> = HashMap::new();
        let mut duplicates = Vec::new();
        for prompt in prompts.iter().filter(|prompt| !prompt.id.is_empty()) {
            if let Some(first) = seen_prompt_ids.insert(prompt.id.clone(), prompt.line) {
                let first = first.map_or_else(String::new, |line| format!(" (first at line {line})"));
                let location = Location {
                    file: self.file.clone(),
                    line: prompt.line,
                    ..Location::default()
                };
                duplicates.push(location.error(format!("duplicate prompt id `{}`{first}", prompt.id)));
            }
        }
        duplicates.into_iter().for_each(|error| self.error(error));
        for (index, prompt) in prompts.iter_mut().enumerate() {
            if prompt.id.is_empty() {
                let mut candidate = format!("p{}", index + 1);
                while seen_prompt_ids.contains_key(&candidate) {
                    candidate.push('_');
                }
                seen_prompt_ids.insert(candidate.clone(), prompt.line);
                prompt.id = candidate;
            }
        }

        let defaults = match &raw.default_test {
            Some(node) => self.raw_test(node, None, false),
            None => None,
        };
        let mut tests: Vec<RawTest> = Vec::new();
        let implicit;
        let test_nodes = if raw.tests.is_empty() && !prompts.is_empty() {
            // promptfoo runs each prompt once when a config has prompts but no tests.
            let location = Location::new(self.file.clone(), 1);
            self.note(&location, "no tests: each prompt runs once, with the default variables");
            implicit = vec![Node::new(NodeValue::Mapping(Vec::new()), location)];
            &implicit
        } else {
            &raw.tests
        };
        for node in test_nodes {
            let disable = node
                .get("options")
                .and_then(|options| options.get("disableDefaultAsserts"))
                .is_some_and(|flag| flag.value == NodeValue::Bool(true));
            if let Some(test) = self.raw_test(node, defaults.as_ref(), disable) {
                tests.extend(expand(test));
            }
        }
        if tests.is_empty() && self.errors.is_empty() {
            let location = Location::new(self.file.clone(), 1);
            self.error(location.error("the suite has no tests"));
        }

        let ids = self.test_ids(&tests);
        let mut built_tests = Vec::new();
        let mut cases = Vec::new();
        for (test, id) in tests.iter().zip(ids) {
            let vars: Map<String, Value> = test
                .vars
                .iter()
                .map(|(name, node)| (name.clone(), node.to_json()))
                .collect();
            let checks = self.compile_checks(test, &id, &vars);
            cases.extend(self.cases_of(test, &id, &vars, &prompts, &raw.defaults, &checks));
            built_tests.push(Test {
                id,
                description: test.description.clone(),
                vars,
                checks,
                threshold: test.threshold,
                file: test.location.file.as_deref().map(str::to_owned),
                line: test.location.line,
            });
        }
        Suite {
            name: raw.name.unwrap_or(fallback_name),
            description: raw.description,
            defaults: raw.defaults,
            prompts,
            tests: built_tests,
            margins: raw.margins,
            cases,
        }
    }

    /// Given ids are kept (a duplicate is an error naming both lines); the others are `t` and
    /// the test's 1-based position, three digits, made unique with `-2`, `-3`… if taken.
    fn test_ids(&mut self, tests: &[RawTest]) -> Vec<String> {
        let mut taken: HashMap<String, Location> = HashMap::new();
        for test in tests {
            let Some(id) = &test.id else { continue };
            if id.is_empty() {
                self.error(test.location.error("a test id cannot be empty"));
                continue;
            }
            let at = test.id_location.as_ref().unwrap_or(&test.location);
            if let Some(first) = taken.get(id) {
                let first = describe_location(first);
                self.error(at.error(format!("duplicate test id `{id}` (first at {first})")));
            } else {
                taken.insert(id.clone(), at.clone());
            }
        }
        tests
            .iter()
            .enumerate()
            .map(|(index, test)| match &test.id {
                Some(id) => id.clone(),
                None => {
                    let base = format!("t{:03}", index + 1);
                    let mut candidate = base.clone();
                    let mut suffix = 2;
                    while taken.contains_key(&candidate) {
                        candidate = format!("{base}-{suffix}");
                        suffix += 1;
                    }
                    taken.insert(candidate.clone(), test.location.clone());
                    candidate
                }
            })
            .collect()
    }

    fn compile_checks(&mut self, test: &RawTest, id: &str, vars: &Map<String, Value>) -> Vec<check::Check> {
        // Exactly as many as written: a check is 176 bytes and a suite has thousands of tests,
        // so a growing vector's spare room (4 slots for the first push) would outweigh the checks.
        let mut checks = Vec::with_capacity(test.checks.len());
        for node in &test.checks {
            let Some(node) = self.resolve_check(node) else { continue };
            let node = self.render_check(&node, id, vars);
            match check::compile(&node, false) {
                Ok(check) => {
                    if let check::CheckKind::Unevaluated { note } = &check.kind {
                        self.note(&node.location, note.clone());
                    }
                    checks.push(check);
                }
                Err(error) => self.error(error),
            }
        }
        checks
    }

    /// `$ref` pointers, string shorthands, and `file://` values, resolved.
    fn resolve_check(&mut self, node: &Node) -> Option<Node> {
        let mut node = match &node.value {
            NodeValue::String(text) => super::shorthand::parse(text, &node.location),
            _ => node.clone(),
        };
        if let Some(pointer) = node.get("$ref").and_then(Node::scalar_text) {
            match self.root.as_ref().and_then(|root| root.pointer(&pointer)) {
                Some(target) => node = Node::new(target.value.clone(), node.location.clone()),
                None => {
                    self.error(node.error(format!("`$ref: {pointer}` points at nothing in the suite")));
                    return None;
                }
            }
        }
        if let NodeValue::Mapping(entries) = &mut node.value {
            for (key, value) in entries.iter_mut() {
                let nested = key == "assert" || key == "checks";
                if nested && let Some(items) = value.items() {
                    let resolved: Vec<Node> = items.iter().filter_map(|item| self.resolve_check(item)).collect();
                    *value = Node::new(NodeValue::Sequence(resolved), value.location.clone());
                } else if key == "value"
                    && let NodeValue::String(text) = &value.value
                    && text.starts_with("file://")
                {
                    *value = self.file_value(&text.clone(), value);
                }
            }
        }
        Some(node)
    }

    /// Renders the variables in an evaluated check's text values (not in schemas or objects,
    /// and not in checks kept unevaluated, whose text is code or a rubric for later).
    fn render_check(&mut self, node: &Node, id: &str, vars: &Map<String, Value>) -> Node {
        let base = node
            .get("type")
            .and_then(Node::scalar_text)
            .map(|name| name.trim_start_matches("not-").to_owned())
            .unwrap_or_default();
        let mut node = node.clone();
        if node.get("transform").is_some() {
            // Checked against transformed output, which is never computed: nothing to render.
            return node;
        }
        let NodeValue::Mapping(entries) = &mut node.value else {
            return node;
        };
        for (key, value) in entries.iter_mut() {
            if base == "assert-set" && (key == "assert" || key == "checks") {
                if let Some(items) = value.items() {
                    let rendered: Vec<Node> = items.iter().map(|item| self.render_check(item, id, vars)).collect();
                    *value = Node::new(NodeValue::Sequence(rendered), value.location.clone());
                }
                continue;
            }
            if key != "value" || !check::renders_value(&base) {
                continue;
            }
            match &mut value.value {
                NodeValue::String(text) => {
                    *text = self.render(text, vars, id, (&value.location, &value.location), "this check's value")
                }
                NodeValue::Sequence(items) => {
                    for item in items.iter_mut() {
                        let location = item.location.clone();
                        if let NodeValue::String(text) = &mut item.value {
                            *text = self.render(text, vars, id, (&location, &location), "this check's value");
                        }
                    }
                }
                _ => {}
            }
        }
        node
    }

    /// Renders `text`; a missing variable is an error at `location` (the test, or the check), a
    /// tag left as written is a note at `written_at` (where the template is), once.
    fn render(
        &mut self,
        text: &str,
        vars: &Map<String, Value>,
        id: &str,
        (location, written_at): (&Location, &Location),
        what: &str,
    ) -> String {
        if !template::has_tags(text) {
            return text.to_owned();
        }
        let rendered = template::render(text, vars);
        for name in &rendered.missing {
            self.error(location.error(format!(
                "{what} uses `{{{{{name}}}}}`, but test `{id}` has no variable `{name}`"
            )));
        }
        for tag in &rendered.unsupported {
            self.note(
                written_at,
                format!("`{tag}` is not rendered (only `{{{{ variable }}}}` is); sent as written"),
            );
        }
        rendered.text
    }

    fn cases_of(
        &mut self,
        test: &RawTest,
        id: &str,
        vars: &Map<String, Value>,
        prompts: &[PromptTemplate],
        defaults: &Defaults,
        checks: &[check::Check],
    ) -> Vec<Case> {
        let history = match &test.messages {
            Some(node) => self.messages(node).unwrap_or_default(),
            None => Vec::new(),
        };
        let own_prompt = test.prompt.as_ref().and_then(Node::scalar_text);
        let conversation_only = own_prompt.is_none() && history.last().is_some_and(|message| message.role == "user");
        let passthrough;
        let bodies: Vec<(Option<&str>, TemplateBody, Location)> = if let Some(prompt) = own_prompt {
            let location = test
                .prompt
                .as_ref()
                .map_or(test.location.clone(), |node| node.location.clone());
            vec![(None, TemplateBody::Text(prompt), location)]
        } else if conversation_only {
            vec![(None, TemplateBody::Chat(Vec::new()), test.location.clone())]
        } else if prompts.is_empty() {
            if !vars.contains_key("prompt") {
                self.error(test.location.error(format!(
                    "test `{id}` has no prompt: give it a `prompt`, a `prompt` variable, or `messages`, or give the suite `prompts`"
                )));
                return Vec::new();
            }
            passthrough = TemplateBody::Text("{{prompt}}".to_owned());
            vec![(None, passthrough, test.location.clone())]
        } else {
            prompts
                .iter()
                .map(|prompt| {
                    let written_at = Location {
                        file: prompt.file.as_deref().map(Arc::from),
                        line: prompt.line,
                        ..Location::default()
                    };
                    (Some(prompt.id.as_str()), prompt.body.clone(), written_at)
                })
                .collect()
        };
        let fan_out = bodies.len() > 1;
        let mut cases = Vec::new();
        for (prompt_id, body, written_at) in bodies {
            let what = match prompt_id {
                Some(prompt_id) => format!("prompt `{prompt_id}`"),
                None => "the prompt".to_owned(),
            };
            let mut turns = history.clone();
            match body {
                TemplateBody::Text(text) => turns.push(TemplateMessage {
                    role: "user".to_owned(),
                    content: text,
                }),
                TemplateBody::Chat(messages) => turns.extend(messages),
            }
            let mut system_parts = Vec::new();
            let mut messages = Vec::new();
            for turn in turns {
                let content = self.render(&turn.content, vars, id, (&test.location, &written_at), &what);
                match turn.role.as_str() {
                    "system" => system_parts.push(content),
                    "assistant" => messages.push(Message {
                        role: Role::Assistant,
                        content,
                    }),
                    _ => messages.push(Message {
                        role: Role::User,
                        content,
                    }),
                }
            }
            if let Some(last) = messages.last_mut().filter(|message| message.role == Role::User) {
                if let Some(prefix) = &test.prefix {
                    last.content.insert_str(0, prefix);
                }
                if let Some(suffix) = &test.suffix {
                    last.content.push_str(suffix);
                }
            } else {
                self.error(
                    test.location
                        .error(format!("test `{id}`: {what} must end with a user turn")),
                );
                continue;
            }
            let system = if system_parts.is_empty() {
                defaults.system.as_ref().map(|system| {
                    self.render(
                        system,
                        vars,
                        id,
                        (&test.location, &test.location),
                        "the default system prompt",
                    )
                })
            } else {
                Some(system_parts.join("\n\n"))
            };
            let case_id = match prompt_id {
                Some(prompt_id) if fan_out => format!("{id}/{prompt_id}"),
                _ => id.to_owned(),
            };
            cases.push(Case {
                case_id,
                test_id: id.to_owned(),
                prompt_id: prompt_id.map(str::to_owned),
                description: test.description.clone(),
                prompt: Prompt { system, messages },
                checks: checks.to_vec(),
                threshold: test.threshold,
            });
        }
        cases
    }
}

/// promptfoo's array variables: a test whose variables hold lists of plain values runs once per
/// combination. Lists of objects (a message history, say) are values, not choices. Given ids
/// get `-1`, `-2`… per combination.
fn expand(test: RawTest) -> Vec<RawTest> {
    let choices: Vec<usize> = test
        .vars
        .iter()
        .enumerate()
        .filter(|(_, (_, value))| {
            value
                .items()
                .is_some_and(|items| !items.is_empty() && items.iter().all(|item| item.scalar_text().is_some()))
        })
        .map(|(index, _)| index)
        .collect();
    if choices.is_empty() {
        return vec![test];
    }
    let mut combinations: Vec<Vec<(String, Node)>> = vec![test.vars.clone()];
    for index in choices {
        let options = test.vars[index].1.items().map(<[Node]>::to_vec).unwrap_or_default();
        combinations = combinations
            .into_iter()
            .flat_map(|vars| {
                options.iter().map(move |option| {
                    let mut vars = vars.clone();
                    vars[index].1 = option.clone();
                    vars
                })
            })
            .collect();
    }
    combinations
        .into_iter()
        .enumerate()
        .map(|(number, vars)| RawTest {
            id: test.id.as_ref().map(|id| format!("{id}-{}", number + 1)),
            vars,
            ..test.clone()
        })
        .collect()
}

fn describe_location(location: &Location) -> String {
    match (&location.file, location.line) {
        (Some(file), Some(line)) => format!("{file}:{line}"),
        (None, Some(line)) => format!("line {line}"),
        (Some(file), None) => file.to_string(),
        (None, None) => "an earlier test".to_owned(),
    }
}

fn looks_like_tests_file(text: &str) -> bool {
    let text = text.trim();
    !text.contains(char::is_whitespace)
        && (["csv", "yaml", "yml", "json", "jsonl", "xlsx"].contains(&extension_of(text).as_str())
            || text.contains('*'))
}

fn extension_of(path: &str) -> String {
    let name = path.rsplit('/').next().unwrap_or(path);
    name.rsplit_once('.')
        .map(|(_, extension)| extension.to_ascii_lowercase())
        .unwrap_or_default()
}

/// `file.py:function` names a function in a script file.
fn split_function(path: &str) -> (&str, Option<&str>) {
    match path.rsplit_once(':') {
        Some((file, function))
            if !function.contains('/')
                && SCRIPT_EXTENSIONS.contains(&extension_of(file).as_str())
                && !function.is_empty() =>
        {
            (file, Some(function))
        }
        _ => (path, None),
    }
}

/// `*` (any run) and `?` (one character) against a whole name.
fn wildcard_match(pattern: &str, name: &str) -> bool {
    let pattern: Vec<char> = pattern.chars().collect();
    let name: Vec<char> = name.chars().collect();
    let (mut pattern_index, mut name_index) = (0, 0);
    let (mut star, mut star_name) = (None, 0);
    while name_index < name.len() {
        match pattern.get(pattern_index) {
            Some('?') => {
                pattern_index += 1;
                name_index += 1;
            }
            Some('*') => {
                star = Some(pattern_index);
                star_name = name_index;
                pattern_index += 1;
            }
            Some(character) if *character == name[name_index] => {
                pattern_index += 1;
                name_index += 1;
            }
            _ => match star {
                Some(star_index) => {
                    pattern_index = star_index + 1;
                    star_name += 1;
                    name_index = star_name;
                }
                None => return false,
            },
        }
    }
    pattern[pattern_index..].iter().all(|character| *character == '*')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcards_match_whole_names() {
        assert!(wildcard_match("*.txt", "a.txt"));
        assert!(wildcard_match("vars?.yaml", "vars1.yaml"));
        assert!(!wildcard_match("*.txt", "a.txt.bak"));
        assert!(wildcard_match("*", "anything"));
    }

    #[test]
    fn script_functions_are_recognised() {
        assert_eq!(split_function("p.py:make"), ("p.py", Some("make")));
        assert_eq!(split_function("prompts/p.txt"), ("prompts/p.txt", None));
    }
}
