//! Checks: what a suite asks of an answer, compiled once and evaluated on each response.
//!
//! A check is built from a mapping (`type`, `value`, `threshold`, `weight`, `metric`, and a few
//! type-specific keys) whose strings have already been rendered with the test's variables, and
//! compiled up front: a bad regex or an invalid JSON Schema is a load error naming its line, not
//! a surprise half-way through a session. Any type takes a `not-` prefix, which inverts the
//! verdict (never an unknown: a check that cannot be evaluated, such as `max-cost` without a
//! cost, fails whichever way round it is written).
//!
//! Evaluated: the text checks, JSON and JSON Schema, latency, cost, `similar` (the engine's diff
//! ratio, not embeddings), refusal, finish reason, word count and `assert-set`. Known promptfoo
//! types that need a judge model, code (JavaScript, Python, webhooks) or a metric ModelBench does
//! not compute are kept with a note and never evaluated (`passed: None`); judges come with
//! panels. An unknown type is an error.

use std::fmt;
use std::sync::Arc;

use serde::Serialize;
use serde_json::Value;

use super::Diagnostic;
use super::node::{Node, NodeValue};
use super::refusal::reads_as_refusal;
use crate::diff::DiffMode;
use crate::{FinishReason, ResponseRecord};

/// promptfoo's default for `similar` when no threshold is given.
const SIMILAR_THRESHOLD: f64 = 0.75;

/// Types ModelBench evaluates (their `not-` forms too).
pub(crate) const EVALUATED: &[&str] = &[
    "contains",
    "icontains",
    "contains-any",
    "icontains-any",
    "contains-all",
    "icontains-all",
    "equals",
    "starts-with",
    "ends-with",
    "regex",
    "is-json",
    "contains-json",
    "json-schema",
    "max-latency",
    "latency",
    "max-cost",
    "cost",
    "similar",
    "similar:cosine",
    "similar:dot",
    "similar:euclidean",
    "refusal",
    "is-refusal",
    "finish-reason",
    "word-count",
    "assert-set",
];

/// promptfoo types graded by a model: kept for the panels issue.
const JUDGED: &[&str] = &[
    "llm-rubric",
    "model-graded-closedqa",
    "model-graded-factuality",
    "factuality",
    "answer-relevance",
    "context-faithfulness",
    "context-recall",
    "context-relevance",
    "conversation-relevance",
    "g-eval",
    "select-best",
    "max-score",
    "pi",
    "classifier",
    "moderation",
    "search-rubric",
    "agent-rubric",
    "research-rubric",
    "video-rubric",
    "citation-faithfulness",
    "noise-sensitivity",
    "trajectory:goal-success",
    "guardrails",
    "guardrail",
    "web-search",
    "verdict",
    "human",
];

/// promptfoo types that run the suite author's code.
const CODE: &[&str] = &["javascript", "python", "ruby", "webhook"];

/// Other promptfoo types: metrics or inputs ModelBench does not have.
const NOT_COMPUTED: &[&str] = &[
    "bleu",
    "gleu",
    "meteor",
    "rouge-n",
    "rouge-l",
    "rouge-s",
    "bertscore",
    "levenshtein",
    "character-count",
    "tokens-used",
    "math-equivalent",
    "perplexity",
    "perplexity-score",
    "is-html",
    "contains-html",
    "is-sql",
    "contains-sql",
    "is-xml",
    "contains-xml",
    "is-valid-function-call",
    "is-valid-openai-function-call",
    "is-valid-openai-tools-call",
    "tool-call-f1",
    "trace-span-count",
    "trace-span-duration",
    "trace-error-spans",
    "skill-used",
    "trajectory:tool-used",
    "trajectory:tool-args-match",
    "trajectory:tool-sequence",
    "trajectory:step-count",
];

fn is_evaluated_type(base: &str) -> bool {
    EVALUATED.contains(&base)
}

/// True for a type (without `not-`) that a suite may name, evaluated or not.
pub(crate) fn is_known_type(base: &str) -> bool {
    [EVALUATED, JUDGED, CODE, NOT_COMPUTED]
        .iter()
        .any(|list| list.contains(&base))
        || is_namespaced(base)
}

/// promptfoo's namespaced families (`promptfoo:redteam:*`, `trajectory:*`) and `select-*`
/// comparisons: known to exist, never evaluated here.
fn is_namespaced(base: &str) -> bool {
    ["promptfoo:redteam:", "trajectory:", "select-"]
        .iter()
        .any(|prefix| base.starts_with(prefix))
}

/// True for types whose text values are templates rendered with the test's variables (schemas
/// are data, and unevaluated types keep their code or rubric as written).
pub(crate) fn renders_value(base: &str) -> bool {
    EVALUATED.contains(&base) && !["is-json", "contains-json", "json-schema"].contains(&base)
}

/// Which latency a `max-latency` check bounds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum LatencyMeasure {
    TimeToFirstToken,
    Total,
}

/// A compiled JSON Schema with the schema it came from.
#[derive(Clone)]
pub struct Schema {
    pub value: Value,
    validator: Arc<jsonschema::Validator>,
}

impl fmt::Debug for Schema {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter
            .debug_struct("Schema")
            .field("value", &self.value)
            .finish_non_exhaustive()
    }
}

impl Schema {
    fn compile(value: Value, node: &Node) -> Result<Self, Diagnostic> {
        let value = match value {
            // A schema given as text (a YAML or JSON string, as promptfoo allows).
            Value::String(text) => Node::parse_yaml(&text, None)
                .map(|parsed| parsed.to_json())
                .map_err(|error| node.error(format!("the JSON Schema is not valid JSON or YAML: {}", error.message)))?,
            other => other,
        };
        let validator =
            jsonschema::validator_for(&value).map_err(|error| node.error(format!("invalid JSON Schema: {error}")))?;
        Ok(Self {
            value,
            validator: Arc::new(validator),
        })
    }

    /// `None` when `instance` is valid, else the first violation.
    fn violation(&self, instance: &Value) -> Option<String> {
        self.validator
            .iter_errors(instance)
            .next()
            .map(|error| format!("{error} (at {})", error.instance_path()))
    }
}

/// A compiled regular expression: the `regex` crate's, or `fancy-regex`'s for the lookarounds
/// and backreferences JavaScript patterns in promptfoo suites use and `regex` does not have.
#[derive(Clone, Debug)]
pub enum Pattern {
    Linear(regex::Regex),
    Backtracking(Box<fancy_regex::Regex>),
}

impl Pattern {
    fn compile(source: &str, node: &Node) -> Result<Self, Diagnostic> {
        match regex::Regex::new(source) {
            Ok(regex) => Ok(Self::Linear(regex)),
            Err(error) => match fancy_regex::Regex::new(source) {
                Ok(regex) => Ok(Self::Backtracking(Box::new(regex))),
                Err(_) => Err(node.error(format!("bad regex: {error}"))),
            },
        }
    }

    fn is_match(&self, text: &str) -> Result<bool, String> {
        match self {
            Self::Linear(regex) => Ok(regex.is_match(text)),
            Self::Backtracking(regex) => regex.is_match(text).map_err(|error| format!("regex failed: {error}")),
        }
    }
}

/// What a check does, with its inputs compiled.
#[derive(Clone, Debug)]
pub enum CheckKind {
    Contains {
        needle: String,
        ignore_case: bool,
    },
    ContainsAny {
        needles: Vec<String>,
        ignore_case: bool,
    },
    ContainsAll {
        needles: Vec<String>,
        ignore_case: bool,
    },
    /// Exact text, or, for an object or list value, the answer parsed as JSON and compared.
    Equals {
        expected: Value,
    },
    StartsWith {
        prefix: String,
    },
    EndsWith {
        suffix: String,
    },
    Regex {
        pattern: Pattern,
    },
    /// The whole answer (trimmed) is JSON, valid against the schema if there is one.
    IsJson {
        schema: Option<Schema>,
    },
    /// The answer contains a JSON object or list (valid against the schema if there is one).
    ContainsJson {
        schema: Option<Schema>,
    },
    /// The answer, or the first JSON in it, is valid against the schema.
    JsonSchema {
        schema: Schema,
    },
    MaxLatency {
        limit_ms: f64,
        measure: LatencyMeasure,
    },
    /// Fails when the cost is unknown: a budget cannot be checked against nothing.
    MaxCost {
        limit_usd: f64,
    },
    /// The diff ratio to the best of the references is at least `threshold`.
    Similar {
        references: Vec<String>,
        threshold: f64,
        mode: DiffMode,
    },
    Refusal,
    FinishReason {
        expected: String,
    },
    WordCount {
        min: Option<u64>,
        max: Option<u64>,
    },
    /// promptfoo's `assert-set`: passes when the weighted share of its evaluated checks that pass
    /// reaches `threshold`, or when all pass if there is none.
    Set {
        checks: Vec<Check>,
        threshold: Option<f64>,
    },
    /// Kept as written and never evaluated; `note` says why.
    Unevaluated {
        note: String,
    },
}

/// One check of a test.
#[derive(Clone, Debug, Serialize)]
pub struct Check {
    /// The type as written, `not-` included (`not-icontains`, `is-refusal`).
    #[serde(rename = "type")]
    pub type_name: String,
    /// The value after template rendering (a schema, a reference answer, a list of needles…).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub threshold: Option<f64>,
    /// The check's share of the test's score (promptfoo's `weight`); 0 records without counting.
    pub weight: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub metric: Option<String>,
    pub negated: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub line: Option<usize>,
    #[serde(skip)]
    pub kind: CheckKind,
}

/// A check's verdict on one response.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct CheckOutcome {
    /// `None` when the check is not evaluated (judged, code, unsupported).
    pub passed: Option<bool>,
    pub reason: String,
}

/// What a check looks at: one response's text and measurements.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct CheckSubject<'a> {
    pub text: &'a str,
    /// The cloud marked the answer as a refusal.
    pub refusal: bool,
    pub finish_reason: Option<FinishReason>,
    pub time_to_first_token_ms: Option<f64>,
    pub total_ms: Option<f64>,
    pub cost_usd: Option<f64>,
}

impl<'a> CheckSubject<'a> {
    /// A subject with only a text, as when checking an answer outside a run.
    pub fn text(text: &'a str) -> Self {
        Self {
            text,
            ..Self::default()
        }
    }

    /// The cloud said so (flag, refusal or content-filter finish), or the text reads as one.
    pub fn is_refusal(&self) -> bool {
        self.refusal
            || matches!(
                self.finish_reason,
                Some(FinishReason::Refusal | FinishReason::ContentFilter)
            )
            || reads_as_refusal(self.text)
    }
}

impl<'a> From<&'a ResponseRecord> for CheckSubject<'a> {
    fn from(record: &'a ResponseRecord) -> Self {
        Self {
            text: &record.text,
            refusal: record.refusal,
            finish_reason: record.finish_reason,
            time_to_first_token_ms: record.metrics.time_to_first_token_ms,
            total_ms: Some(record.metrics.total_ms),
            cost_usd: record.cost_usd,
        }
    }
}

/// What a fact-finding evaluation found: the fact (before negation), or that it could not tell.
type Finding = Result<(bool, String), String>;

impl Check {
    pub fn is_evaluated(&self) -> bool {
        !matches!(self.kind, CheckKind::Unevaluated { .. })
    }

    pub fn evaluate(&self, subject: &CheckSubject<'_>) -> CheckOutcome {
        if let CheckKind::Unevaluated { note } = &self.kind {
            return CheckOutcome {
                passed: None,
                reason: note.clone(),
            };
        }
        match self.find(subject) {
            Ok((fact, reason)) => CheckOutcome {
                passed: Some(fact != self.negated),
                reason,
            },
            Err(reason) => CheckOutcome {
                passed: Some(false),
                reason,
            },
        }
    }

    fn find(&self, subject: &CheckSubject<'_>) -> Finding {
        let text = subject.text;
        Ok(match &self.kind {
            CheckKind::Contains { needle, ignore_case } => {
                let found = contains(text, needle, *ignore_case);
                (found, format!("output {} {}", contain_word(found), quoted(needle)))
            }
            CheckKind::ContainsAny { needles, ignore_case } => {
                match needles.iter().find(|needle| contains(text, needle, *ignore_case)) {
                    Some(needle) => (true, format!("output contains {}", quoted(needle))),
                    None => (false, format!("output contains none of {}", quoted_list(needles))),
                }
            }
            CheckKind::ContainsAll { needles, ignore_case } => {
                let missing: Vec<String> = needles
                    .iter()
                    .filter(|needle| !contains(text, needle, *ignore_case))
                    .cloned()
                    .collect();
                if missing.is_empty() {
                    (true, format!("output contains all of {}", quoted_list(needles)))
                } else {
                    (false, format!("output lacks {}", quoted_list(&missing)))
                }
            }
            CheckKind::Equals { expected } => match expected {
                Value::Object(_) | Value::Array(_) => match serde_json::from_str::<Value>(text.trim()) {
                    Ok(actual) if actual == *expected => (true, "output is the expected JSON".to_owned()),
                    Ok(_) => (false, "output is JSON but not the expected value".to_owned()),
                    Err(error) => (false, format!("output is not JSON: {error}")),
                },
                expected => {
                    let expected = scalar_text(expected);
                    let equal = text == expected;
                    let verb = if equal { "equals" } else { "does not equal" };
                    (equal, format!("output {verb} {}", quoted(&expected)))
                }
            },
            CheckKind::StartsWith { prefix } => {
                let starts = text.starts_with(prefix.as_str());
                let verb = if starts { "starts" } else { "does not start" };
                (starts, format!("output {verb} with {}", quoted(prefix)))
            }
            CheckKind::EndsWith { suffix } => {
                let ends = text.ends_with(suffix.as_str());
                let verb = if ends { "ends" } else { "does not end" };
                (ends, format!("output {verb} with {}", quoted(suffix)))
            }
            CheckKind::Regex { pattern } => {
                let matched = pattern.is_match(text)?;
                let verb = if matched { "matches" } else { "does not match" };
                (matched, format!("output {verb} the regex"))
            }
            CheckKind::IsJson { schema } => match serde_json::from_str::<Value>(text.trim()) {
                Err(error) => (false, format!("output is not JSON: {error}")),
                Ok(value) => schema_finding(schema.as_ref(), &value, "output is JSON"),
            },
            CheckKind::ContainsJson { schema } => {
                let candidates = embedded_json(text);
                if candidates.is_empty() {
                    (false, "output contains no JSON".to_owned())
                } else if let Some(schema) = schema {
                    match candidates.iter().find(|value| schema.violation(value).is_none()) {
                        Some(_) => (true, "output contains JSON valid against the schema".to_owned()),
                        None => schema_finding(Some(schema), &candidates[0], "output contains JSON"),
                    }
                } else {
                    (true, "output contains JSON".to_owned())
                }
            }
            CheckKind::JsonSchema { schema } => {
                let whole = serde_json::from_str::<Value>(text.trim()).ok();
                match whole.or_else(|| embedded_json(text).into_iter().next()) {
                    None => (false, "output holds no JSON".to_owned()),
                    Some(value) => schema_finding(Some(schema), &value, "output's JSON"),
                }
            }
            CheckKind::MaxLatency { limit_ms, measure } => {
                let (measured, name) = match measure {
                    LatencyMeasure::TimeToFirstToken => (subject.time_to_first_token_ms, "time to first token"),
                    LatencyMeasure::Total => (subject.total_ms, "total time"),
                };
                let measured = measured.ok_or_else(|| format!("{name} unknown"))?;
                let within = measured <= *limit_ms;
                let relation = if within { "≤" } else { ">" };
                (within, format!("{name} {measured:.0} ms {relation} {limit_ms} ms"))
            }
            CheckKind::MaxCost { limit_usd } => {
                let cost = subject.cost_usd.ok_or_else(|| "cost unknown".to_owned())?;
                let within = cost <= *limit_usd;
                let relation = if within { "≤" } else { ">" };
                (within, format!("cost ${cost:.6} {relation} ${limit_usd}"))
            }
            CheckKind::Similar {
                references,
                threshold,
                mode,
            } => {
                let mut best = 0.0_f64;
                for reference in references {
                    let matrix = crate::diff::similarity(&[text, reference.as_str()], *mode)
                        .map_err(|error| format!("cannot compare: {error}"))?;
                    best = best.max(matrix.ratios[0][1]);
                }
                let similar = best >= *threshold;
                let relation = if similar { "≥" } else { "<" };
                (similar, format!("similarity {best:.3} {relation} {threshold}"))
            }
            CheckKind::Refusal => {
                let refused = subject.is_refusal();
                let reason = if subject.refusal {
                    "the cloud marked the answer as a refusal"
                } else if refused && subject.finish_reason == Some(FinishReason::ContentFilter) {
                    "the answer was stopped by a content filter"
                } else if refused && subject.finish_reason == Some(FinishReason::Refusal) {
                    "the answer finished as a refusal"
                } else if refused {
                    "the answer reads as a refusal"
                } else {
                    "the answer is not a refusal"
                };
                (refused, reason.to_owned())
            }
            CheckKind::FinishReason { expected } => {
                let actual = subject.finish_reason.ok_or_else(|| "no finish reason".to_owned())?;
                let matches = actual.as_str().eq_ignore_ascii_case(expected);
                (
                    matches,
                    format!("finish reason {} (expected {expected})", actual.as_str()),
                )
            }
            CheckKind::WordCount { min, max } => {
                let count = text.split_whitespace().count() as u64;
                let within = min.is_none_or(|min| count >= min) && max.is_none_or(|max| count <= max);
                let bounds = match (min, max) {
                    (Some(min), Some(max)) if min == max => format!("{min}"),
                    (Some(min), Some(max)) => format!("{min}–{max}"),
                    (Some(min), None) => format!("at least {min}"),
                    (None, Some(max)) => format!("at most {max}"),
                    (None, None) => "any".to_owned(),
                };
                (within, format!("{count} words (wanted {bounds})"))
            }
            CheckKind::Set { checks, threshold } => {
                let outcomes: Vec<CheckOutcome> = checks.iter().map(|check| check.evaluate(subject)).collect();
                let grade = grade(checks, &outcomes, *threshold);
                match grade.passed {
                    Some(passed) => (passed, format!("set: {}", grade.reason)),
                    None => return Err("set: none of its checks is evaluated".to_owned()),
                }
            }
            CheckKind::Unevaluated { note } => return Err(note.clone()),
        })
    }
}

fn schema_finding(schema: Option<&Schema>, value: &Value, subject: &str) -> (bool, String) {
    match schema.map(|schema| schema.violation(value)) {
        None => (true, subject.to_owned()),
        Some(None) => (true, format!("{subject}, valid against the schema")),
        Some(Some(violation)) => (
            false,
            format!("{subject} but not valid against the schema: {violation}"),
        ),
    }
}

fn contains(text: &str, needle: &str, ignore_case: bool) -> bool {
    if ignore_case {
        text.to_lowercase().contains(&needle.to_lowercase())
    } else {
        text.contains(needle)
    }
}

fn contain_word(found: bool) -> &'static str {
    if found { "contains" } else { "does not contain" }
}

fn quoted(text: &str) -> String {
    const LIMIT: usize = 80;
    if text.chars().count() > LIMIT {
        let short: String = text.chars().take(LIMIT).collect();
        format!("\"{short}…\"")
    } else {
        format!("\"{text}\"")
    }
}

fn quoted_list(items: &[String]) -> String {
    items.iter().map(|item| quoted(item)).collect::<Vec<_>>().join(", ")
}

fn scalar_text(value: &Value) -> String {
    match value {
        Value::String(text) => text.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

/// The JSON objects and lists found in `text`, in order, each starting at a `{` or `[` (fenced
/// code blocks included). Bounded: at most this many starts are tried. Judges' answers are read
/// with it too (`judge::verdict`).
pub fn embedded_json(text: &str) -> Vec<Value> {
    const MAX_STARTS: usize = 256;
    let mut found = Vec::new();
    let mut search_from = 0;
    let mut starts = 0;
    while let Some(offset) = text[search_from..].find(['{', '[']) {
        let start = search_from + offset;
        starts += 1;
        if starts > MAX_STARTS {
            break;
        }
        let mut stream = serde_json::Deserializer::from_str(&text[start..]).into_iter::<Value>();
        match stream.next() {
            Some(Ok(value)) => {
                found.push(value);
                search_from = start + stream.byte_offset();
            }
            _ => search_from = start + 1,
        }
    }
    found
}

/// A test's verdict from its checks' outcomes.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Grade {
    /// `None` when no check was evaluated (a test with only judged checks, or none).
    pub passed: Option<bool>,
    /// The weighted share of evaluated checks that passed, 0..1.
    pub score: Option<f64>,
    pub reason: String,
}

/// A test passes when every evaluated check with a weight passes, or, with a `threshold`
/// (promptfoo's test-level threshold), when the weighted share passing reaches it. Unevaluated
/// checks and checks of weight 0 do not count either way.
pub fn grade(checks: &[Check], outcomes: &[CheckOutcome], threshold: Option<f64>) -> Grade {
    let mut total = 0.0;
    let mut passed_weight = 0.0;
    let mut failures = Vec::new();
    let mut counted = 0;
    for (check, outcome) in checks.iter().zip(outcomes) {
        let Some(passed) = outcome.passed else { continue };
        if check.weight <= 0.0 {
            continue;
        }
        counted += 1;
        total += check.weight;
        if passed {
            passed_weight += check.weight;
        } else {
            failures.push(format!("{}: {}", check.type_name, outcome.reason));
        }
    }
    if counted == 0 {
        return Grade {
            passed: None,
            score: None,
            reason: "no evaluated checks".to_owned(),
        };
    }
    let score = passed_weight / total;
    let passed = match threshold {
        Some(threshold) => score + 1e-9 >= threshold,
        None => failures.is_empty(),
    };
    let reason = match (passed, threshold) {
        (true, None) => format!("all {counted} evaluated checks passed"),
        (_, Some(threshold)) if !failures.is_empty() => {
            format!(
                "score {score:.2} against threshold {threshold}; failed: {}",
                failures.join("; ")
            )
        }
        (_, Some(threshold)) => format!("score {score:.2} against threshold {threshold}"),
        (false, None) => failures.join("; "),
    };
    Grade {
        passed: Some(passed),
        score: Some(score),
        reason,
    }
}

/// Compiles one check from its mapping (strings already rendered). `in_set` forbids nesting
/// sets inside sets, which promptfoo does not allow either.
pub(crate) fn compile(node: &Node, in_set: bool) -> Result<Check, Diagnostic> {
    if node.entries().is_none() {
        return Err(node.error(format!(
            "a check must be a mapping with a `type`, found {}",
            node.kind_name()
        )));
    }
    let type_node = node.get("type").ok_or_else(|| node.error("a check needs a `type`"))?;
    let type_name = type_node.scalar_text().ok_or_else(|| {
        type_node.error(format!(
            "a check's `type` must be text, found {}",
            type_node.kind_name()
        ))
    })?;
    let (negated, base) = match type_name.strip_prefix("not-") {
        Some(base) => (true, base.to_owned()),
        None => (false, type_name.clone()),
    };
    let value_node = node.get("value").filter(|value| !value.is_null());
    let threshold = number_field(node, "threshold")?;
    let weight = number_field(node, "weight")?.unwrap_or(1.0);
    if weight < 0.0 {
        return Err(node.error("a check's `weight` cannot be negative"));
    }
    let metric = node.get("metric").and_then(Node::scalar_text);
    let code_value = value_node
        .and_then(Node::as_str)
        .is_some_and(|text| text.starts_with("file://"));
    let kind = if node.get("transform").is_some() {
        CheckKind::Unevaluated {
            note: format!("`{type_name}` transforms the output with code first; ModelBench does not run suite code"),
        }
    } else if code_value && is_evaluated_type(&base) {
        CheckKind::Unevaluated {
            note: format!("`{type_name}` takes its value from code or a file that is not text; not evaluated"),
        }
    } else {
        kind_of(&base, &type_name, node, type_node, value_node, threshold, in_set)?
    };
    Ok(Check {
        type_name,
        value: value_node.map(Node::to_json),
        threshold,
        weight,
        metric,
        negated,
        line: node.line(),
        kind,
    })
}

fn kind_of(
    base: &str,
    type_name: &str,
    node: &Node,
    type_node: &Node,
    value: Option<&Node>,
    threshold: Option<f64>,
    in_set: bool,
) -> Result<CheckKind, Diagnostic> {
    let needs_text = || -> Result<String, Diagnostic> {
        let value = value.ok_or_else(|| node.error(format!("`{type_name}` needs a `value`")))?;
        value.scalar_text().ok_or_else(|| {
            value.error(format!(
                "`{type_name}` needs a text `value`, found {}",
                value.kind_name()
            ))
        })
    };
    let needs_list = || -> Result<Vec<String>, Diagnostic> {
        let value = value.ok_or_else(|| node.error(format!("`{type_name}` needs a `value`")))?;
        text_list(value, type_name)
    };
    let schema = |value: Option<&Node>| -> Result<Option<Schema>, Diagnostic> {
        value.map(|value| Schema::compile(value.to_json(), value)).transpose()
    };
    let limit = |unit: &str| -> Result<f64, Diagnostic> {
        if threshold.is_none()
            && let Some(value) = value.filter(|value| value.as_f64().is_none())
        {
            return Err(value.error(format!(
                "`{type_name}` needs a number in {unit}, found {}",
                value.kind_name()
            )));
        }
        let number = threshold.or_else(|| value.and_then(Node::as_f64));
        let number = number.ok_or_else(|| node.error(format!("`{type_name}` needs a `threshold` in {unit}")))?;
        if number.is_finite() && number >= 0.0 {
            Ok(number)
        } else {
            Err(node.error(format!("`{type_name}` needs a non-negative limit")))
        }
    };
    Ok(match base {
        "contains" | "icontains" => CheckKind::Contains {
            needle: needs_text()?,
            ignore_case: base == "icontains",
        },
        "contains-any" | "icontains-any" => CheckKind::ContainsAny {
            needles: needs_list()?,
            ignore_case: base.starts_with('i'),
        },
        "contains-all" | "icontains-all" => CheckKind::ContainsAll {
            needles: needs_list()?,
            ignore_case: base.starts_with('i'),
        },
        "equals" => CheckKind::Equals {
            expected: value
                .map(Node::to_json)
                .ok_or_else(|| node.error("`equals` needs a `value`"))?,
        },
        "starts-with" => CheckKind::StartsWith { prefix: needs_text()? },
        "ends-with" => CheckKind::EndsWith { suffix: needs_text()? },
        "regex" => {
            let source = needs_text()?;
            let flags = node.get("flags").and_then(Node::scalar_text).unwrap_or_default();
            if let Some(flag) = flags.chars().find(|flag| !"imsxU".contains(*flag)) {
                return Err(node.error(format!("unknown regex flag `{flag}` (i, m, s, x, U)")));
            }
            let source = if flags.is_empty() {
                source
            } else {
                format!("(?{flags}){source}")
            };
            let pattern_node = value.unwrap_or(node);
            CheckKind::Regex {
                pattern: Pattern::compile(&source, pattern_node)?,
            }
        }
        "is-json" => CheckKind::IsJson { schema: schema(value)? },
        "contains-json" => CheckKind::ContainsJson { schema: schema(value)? },
        "json-schema" => CheckKind::JsonSchema {
            schema: schema(value)?.ok_or_else(|| node.error("`json-schema` needs the schema as its `value`"))?,
        },
        "max-latency" | "latency" => {
            let measure = match node.get("measure").and_then(Node::scalar_text).as_deref() {
                None | Some("total") => LatencyMeasure::Total,
                Some("ttft" | "time_to_first_token" | "first_token") => LatencyMeasure::TimeToFirstToken,
                Some(other) => {
                    return Err(node.error(format!("unknown latency measure `{other}` (ttft or total)")));
                }
            };
            CheckKind::MaxLatency {
                limit_ms: limit("milliseconds")?,
                measure,
            }
        }
        "max-cost" | "cost" if threshold.is_none() && value.is_none() => CheckKind::Unevaluated {
            note: format!("`{type_name}` without a threshold only records the cost"),
        },
        "max-cost" | "cost" => CheckKind::MaxCost {
            limit_usd: limit("US dollars")?,
        },
        "similar" | "similar:cosine" | "similar:dot" | "similar:euclidean" => {
            let mode = match node.get("mode").and_then(Node::scalar_text) {
                Some(mode) => mode
                    .parse::<DiffMode>()
                    .map_err(|error| node.error(error.to_string()))?,
                None => DiffMode::Normalized,
            };
            let threshold = threshold.unwrap_or(SIMILAR_THRESHOLD);
            if !(0.0..=1.0).contains(&threshold) {
                return Err(node.error("a `similar` threshold is a ratio between 0 and 1"));
            }
            CheckKind::Similar {
                references: needs_list()?,
                threshold,
                mode,
            }
        }
        "refusal" | "is-refusal" => CheckKind::Refusal,
        "finish-reason" => {
            let expected = needs_text()?;
            if FinishReason::parse(&expected.to_lowercase()).is_none() {
                return Err(node.error(format!("unknown finish reason `{expected}`")));
            }
            CheckKind::FinishReason { expected }
        }
        "word-count" => {
            let value = value.ok_or_else(|| node.error("`word-count` needs a `value`"))?;
            let bound = |name: &str| -> Result<Option<u64>, Diagnostic> {
                value
                    .get(name)
                    .map(|bound| {
                        bound
                            .as_f64()
                            .filter(|number| *number >= 0.0)
                            .map(|number| number as u64)
                            .ok_or_else(|| bound.error(format!("`{name}` must be a non-negative number")))
                    })
                    .transpose()
            };
            match value.as_f64() {
                Some(exact) if exact >= 0.0 => CheckKind::WordCount {
                    min: Some(exact as u64),
                    max: Some(exact as u64),
                },
                _ if value.entries().is_some() => CheckKind::WordCount {
                    min: bound("min")?,
                    max: bound("max")?,
                },
                _ => return Err(value.error("`word-count` needs a number or `{min, max}`")),
            }
        }
        "assert-set" if in_set => return Err(node.error("an `assert-set` cannot hold another")),
        "assert-set" => {
            let items = node
                .get("assert")
                .or_else(|| node.get("checks"))
                .and_then(Node::items)
                .ok_or_else(|| node.error("`assert-set` needs an `assert` list"))?;
            CheckKind::Set {
                checks: items.iter().map(|item| compile(item, true)).collect::<Result<_, _>>()?,
                threshold,
            }
        }
        _ if JUDGED.contains(&base) => CheckKind::Unevaluated {
            note: format!("`{type_name}` needs a judge model; judges come with panels"),
        },
        _ if CODE.contains(&base) => CheckKind::Unevaluated {
            note: format!("`{type_name}` runs code; ModelBench does not run suite code"),
        },
        _ if NOT_COMPUTED.contains(&base) || is_namespaced(base) => CheckKind::Unevaluated {
            note: format!("`{type_name}` is not computed by ModelBench"),
        },
        _ => {
            let suggestion = closest_type(base)
                .map(|name| format!(" (did you mean `{name}`?)"))
                .unwrap_or_default();
            return Err(type_node.error(format!("unknown check type `{type_name}`{suggestion}")));
        }
    })
}

fn number_field(node: &Node, name: &str) -> Result<Option<f64>, Diagnostic> {
    match node.get(name) {
        None => Ok(None),
        Some(field) if field.is_null() => Ok(None),
        Some(field) => field
            .as_f64()
            .map(Some)
            .ok_or_else(|| field.error(format!("`{name}` must be a number, found {}", field.kind_name()))),
    }
}

/// A list of texts, or one text split on commas (promptfoo accepts both for `contains-any`).
fn text_list(value: &Node, type_name: &str) -> Result<Vec<String>, Diagnostic> {
    match &value.value {
        NodeValue::Sequence(items) => items
            .iter()
            .map(|item| {
                item.scalar_text()
                    .ok_or_else(|| item.error(format!("`{type_name}` needs texts, found {}", item.kind_name())))
            })
            .collect(),
        _ if type_name.contains("similar") => value
            .scalar_text()
            .map(|text| vec![text])
            .ok_or_else(|| value.error(format!("`{type_name}` needs a text or a list of texts"))),
        _ => value
            .scalar_text()
            .map(|text| text.split(',').map(|item| item.trim().to_owned()).collect())
            .ok_or_else(|| value.error(format!("`{type_name}` needs a list of texts"))),
    }
}

/// The known type nearest to a misspelt one, when it is close (edit distance ≤ 2).
fn closest_type(name: &str) -> Option<&'static str> {
    [EVALUATED, JUDGED, CODE, NOT_COMPUTED]
        .iter()
        .flat_map(|list| list.iter())
        .map(|candidate| (edit_distance(name, candidate), *candidate))
        .filter(|(distance, _)| *distance <= 2)
        .min_by_key(|(distance, _)| *distance)
        .map(|(_, candidate)| candidate)
}

fn edit_distance(left: &str, right: &str) -> usize {
    let right: Vec<char> = right.chars().collect();
    let mut previous: Vec<usize> = (0..=right.len()).collect();
    for (row, left_char) in left.chars().enumerate() {
        let mut current = vec![row + 1];
        for (column, right_char) in right.iter().enumerate() {
            let substitution = previous[column] + usize::from(left_char != *right_char);
            current.push(substitution.min(previous[column + 1] + 1).min(current[column] + 1));
        }
        previous = current;
    }
    previous[right.len()]
}

#[cfg(test)]
#[path = "check/tests.rs"]
mod tests;
