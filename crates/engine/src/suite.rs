//! Suites: the tests an evaluation session runs, loaded from a file, and the checks that grade
//! each answer.
//!
//! A suite is YAML in ModelBench's own shape (`name`, `defaults`, `prompts`, `tests` with
//! `checks`, `margins`) or in promptfoo's (`prompts`, `tests[].vars`, `tests[].assert`,
//! `defaultTest`), which are read by the same code: the keys do not clash. Tests can also come
//! from JSONL (one test per line) and CSV (one per row, promptfoo's `__expected` columns for
//! checks). Loading renders every prompt with its test's variables and compiles every check, so
//! a suite that loads can run: each error names its file and line, and everything the suite
//! says that ModelBench ignores (providers, filters, judged checks…) comes back as a [`Note`].
//!
//! A [`LoadedSuite`] keeps the suite's exact text, the text of every file it references, and a
//! SHA-256 over all of them (see [`LoadedSuite::hash`]), so a session can say what it ran.
//!
//! Left out: running anything (the session runner does), statistics, judges (`llm-rubric` and
//! other model-graded checks are kept unevaluated), and promptfoo features that execute code
//! (JavaScript/Python prompts, tests, variables and checks), fetch from the network, or need
//! Nunjucks beyond `{{ variable }}` substitution.

mod check;
mod document;
mod node;
mod read;
mod refusal;
mod shorthand;
mod table;
mod template;

use std::fmt;
use std::path::{Path, PathBuf};

use serde::Serialize;
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};
use ts_rs::TS;

pub use check::{
    Check, CheckKind, CheckOutcome, CheckSubject, Grade, LatencyMeasure, Pattern, Schema, embedded_json, grade,
};
pub use document::{
    DocumentCheck, DocumentEntry, DocumentTest, Review, SuiteDocument, SuiteFieldError, evaluated_check_types, review,
};
pub use refusal::{REFUSAL_OPENERS, REFUSAL_PHRASES, reads_as_refusal};

use crate::{Parameters, Prompt};

/// The kind of file a suite is read from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum SuiteFormat {
    /// YAML: a suite document, or a bare list of tests.
    Yaml,
    /// JSON, read as YAML (of which it is a subset), so its errors have lines too.
    Json,
    /// One JSON test per line.
    Jsonl,
    /// One test per row.
    Csv,
}

impl SuiteFormat {
    /// From the file's extension; anything unknown is read as YAML (JSON is YAML).
    pub fn from_path(path: &Path) -> Self {
        match path
            .extension()
            .and_then(|extension| extension.to_str())
            .map(str::to_ascii_lowercase)
            .as_deref()
        {
            Some("jsonl" | "ndjson") => Self::Jsonl,
            Some("csv") => Self::Csv,
            Some("json") => Self::Json,
            _ => Self::Yaml,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Yaml => "yaml",
            Self::Json => "json",
            Self::Jsonl => "jsonl",
            Self::Csv => "csv",
        }
    }

    pub fn parse(name: &str) -> Option<Self> {
        [Self::Yaml, Self::Json, Self::Jsonl, Self::Csv]
            .into_iter()
            .find(|format| format.as_str() == name)
    }
}

/// One problem with a suite, where it is.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Diagnostic {
    /// The file, as given or as referenced from the suite; `None` for text given without a path.
    pub file: Option<String>,
    /// 1-based.
    pub line: Option<usize>,
    /// 1-based, when known.
    pub column: Option<usize>,
    pub message: String,
    /// Where in the YAML document the value at fault is (`tests[3].checks[1].value`), for an
    /// editor to show the error at its field; `None` outside a YAML document's values.
    #[serde(skip)]
    pub path: Option<String>,
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Always `FILE:LINE: message`, the shape editors and terminals link; a column, when
        // known, is part of the message.
        let file = self.file.as_deref().unwrap_or("suite");
        match self.line {
            Some(line) => write!(formatter, "{file}:{line}: {}", self.message),
            None => write!(formatter, "{file}: {}", self.message),
        }
    }
}

/// Something the suite says that ModelBench ignores or only partly honours. Not an error.
pub type Note = Diagnostic;

/// Every error found in a suite (loading goes on after the first, so all are reported at once).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub struct SuiteErrors(pub Vec<Diagnostic>);

impl fmt::Display for SuiteErrors {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (index, diagnostic) in self.0.iter().enumerate() {
            if index > 0 {
                writeln!(formatter)?;
            }
            write!(formatter, "{diagnostic}")?;
        }
        Ok(())
    }
}

/// How far apart two targets may be and still count as at parity.
#[derive(Clone, Debug, PartialEq, Serialize, TS)]
#[ts(export)]
pub struct Margins {
    /// Latency within ± this percent.
    pub latency_percent: f64,
    /// Pass rate within ± this many percentage points.
    pub pass_rate_points: f64,
    /// Error rate within ± this many percentage points.
    pub error_rate_points: f64,
}

impl Default for Margins {
    fn default() -> Self {
        Self {
            latency_percent: 10.0,
            pass_rate_points: 3.0,
            error_rate_points: 1.0,
        }
    }
}

/// What every case shares unless its test or template says otherwise.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Defaults {
    pub system: Option<String>,
    pub parameters: Parameters,
}

/// A message of a template or test conversation, before rendering.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct TemplateMessage {
    /// `system`, `user` or `assistant`.
    pub role: String,
    pub content: String,
}

/// A prompt template: one text (the user turn) or a conversation.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TemplateBody {
    Text(String),
    Chat(Vec<TemplateMessage>),
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct PromptTemplate {
    /// Given, or `p1`, `p2`… in order.
    pub id: String,
    pub label: Option<String>,
    pub body: TemplateBody,
    /// Where the template was written: the suite, or the prompt file it came from.
    pub file: Option<String>,
    pub line: Option<usize>,
}

/// One test as loaded: its variables and compiled checks (defaults included).
#[derive(Clone, Debug, Serialize)]
pub struct Test {
    /// Given, or derived from its position (`t001`, `t002`…); unique in the suite.
    pub id: String,
    pub description: Option<String>,
    pub vars: Map<String, Value>,
    pub checks: Vec<Check>,
    /// promptfoo's test-level threshold on the weighted share of passing checks.
    pub threshold: Option<f64>,
    pub file: Option<String>,
    pub line: Option<usize>,
}

/// One thing to send: a test with one prompt rendered, and the checks to grade the answer by.
#[derive(Clone, Debug, Serialize)]
pub struct Case {
    /// `TEST` when the test has one prompt, `TEST/PROMPT` when the suite's templates fan it out.
    pub case_id: String,
    pub test_id: String,
    pub prompt_id: Option<String>,
    pub description: Option<String>,
    pub prompt: Prompt,
    pub checks: Vec<Check>,
    pub threshold: Option<f64>,
}

/// A case's checks run on one response.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct CaseResult {
    pub outcomes: Vec<CheckOutcome>,
    pub grade: Grade,
}

impl Case {
    pub fn evaluate(&self, subject: &CheckSubject<'_>) -> CaseResult {
        let outcomes: Vec<CheckOutcome> = self.checks.iter().map(|check| check.evaluate(subject)).collect();
        let grade = grade(&self.checks, &outcomes, self.threshold);
        CaseResult { outcomes, grade }
    }

    /// As [`Case::evaluate`], with the outcome `judged` gives for a check's index in place of
    /// the check's own (a judge's verdict on an `llm-rubric` check, kept unevaluated alone).
    pub fn evaluate_with(
        &self,
        subject: &CheckSubject<'_>,
        judged: impl Fn(usize) -> Option<CheckOutcome>,
    ) -> CaseResult {
        let outcomes: Vec<CheckOutcome> = self
            .checks
            .iter()
            .enumerate()
            .map(|(index, check)| judged(index).unwrap_or_else(|| check.evaluate(subject)))
            .collect();
        let grade = grade(&self.checks, &outcomes, self.threshold);
        CaseResult { outcomes, grade }
    }
}

#[derive(Clone, Debug, Serialize)]
pub struct Suite {
    pub name: String,
    pub description: Option<String>,
    pub defaults: Defaults,
    pub prompts: Vec<PromptTemplate>,
    pub tests: Vec<Test>,
    pub margins: Margins,
    cases: Vec<Case>,
}

/// A file a suite referenced (prompts, tests, variables, schemas), as read.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct ReferencedFile {
    /// As written in the suite, after `file://`, relative to the suite's folder.
    pub path: String,
    pub text: String,
}

/// A suite with everything needed to say exactly what it was.
#[derive(Clone, Debug, Serialize)]
pub struct LoadedSuite {
    pub suite: Suite,
    /// The suite file's text, exactly.
    pub text: String,
    /// Lowercase hex SHA-256 of the suite's text followed, for each referenced file in the order
    /// first read, by a NUL byte, its path as written, a NUL byte and its text. Two loads hash
    /// alike exactly when every byte that went into the suite is the same.
    pub hash: String,
    pub files: Vec<ReferencedFile>,
    pub notes: Vec<Note>,
}

impl Suite {
    /// Reads and loads the suite at `path`; referenced files are found relative to its folder.
    pub fn load(path: &Path) -> Result<LoadedSuite, SuiteErrors> {
        let label = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|error| {
            SuiteErrors(vec![Diagnostic {
                file: Some(label.clone()),
                line: None,
                column: None,
                message: format!("cannot read the suite: {error}"),
                path: None,
            }])
        })?;
        let base_dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
        let fallback_name = path
            .file_stem()
            .and_then(|stem| stem.to_str())
            .unwrap_or("suite")
            .to_owned();
        read::load(
            text,
            SuiteFormat::from_path(path),
            Some(base_dir),
            Some(label),
            fallback_name,
        )
    }

    /// Loads a suite from text; `base_dir` is where its `file://` references are found (none
    /// can be followed without one).
    pub fn parse(text: &str, format: SuiteFormat, base_dir: Option<&Path>) -> Result<LoadedSuite, SuiteErrors> {
        read::load(
            text.to_owned(),
            format,
            base_dir.map(Path::to_path_buf),
            None,
            "suite".to_owned(),
        )
    }

    /// Loads a suite again from what a session stored: its text and its referenced files (the
    /// disk is not read, so the suite is exactly what ran, even if its files changed since).
    pub fn restore(
        text: &str,
        format: SuiteFormat,
        files: Vec<ReferencedFile>,
        name: &str,
    ) -> Result<LoadedSuite, SuiteErrors> {
        read::restore(text.to_owned(), format, files, name.to_owned())
    }

    /// Every (test × prompt) case, in test order, then prompt order.
    pub fn cases(&self) -> &[Case] {
        &self.cases
    }

    pub fn case(&self, case_id: &str) -> Option<&Case> {
        self.cases.iter().find(|case| case.case_id == case_id)
    }
}

fn hash_of(text: &str, files: &[ReferencedFile]) -> String {
    let mut hasher = Sha256::new();
    hasher.update(text.as_bytes());
    for file in files {
        hasher.update([0]);
        hasher.update(file.path.as_bytes());
        hasher.update([0]);
        hasher.update(file.text.as_bytes());
    }
    hasher.finalize().iter().map(|byte| format!("{byte:02x}")).collect()
}

/// Where a suite's referenced files are found.
fn resolve(base_dir: &Option<PathBuf>, path: &str) -> Option<PathBuf> {
    let path = Path::new(path);
    if path.is_absolute() {
        Some(path.to_path_buf())
    } else {
        base_dir.as_ref().map(|base| base.join(path))
    }
}
