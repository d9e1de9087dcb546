//! A suite being edited, for every host: opened from the store, checked as fields or as YAML
//! text (the engine's loader finds the problems, each at its field path and line), saved as a
//! stored suite, and tried: one test of it sent to one saved target, its checks evaluated.
//!
//! Every answer is a [`SuiteDraft`]: the YAML text, the fields it reads into (when it does),
//! the problems and the notes, so a window's structured and raw views stay in step by showing
//! what the last answer says.
//!
//! Left out: writing the file (the host's save dialog), and following `file://` references (a
//! suite edited here has no folder; a suite that uses them is edited as raw YAML and still
//! cannot follow them).

use modelbench_engine::runner::RunPlan;
use modelbench_engine::suite::{
    Case, CheckSubject, Review, Suite, SuiteDocument, SuiteFieldError, SuiteFormat, evaluated_check_types, review,
};
use serde::{Deserialize, Serialize};
use tokio_util::sync::CancellationToken;
use ts_rs::TS;

use super::suites::SuiteInfo;
use crate::Workbench;
use crate::error::{Error, Result};

/// A suite being edited, as the engine reads it.
#[derive(Clone, Debug, PartialEq, Serialize, TS)]
#[ts(export)]
pub struct SuiteDraft {
    /// The suite as YAML: the text given, or the fields written out.
    pub text: String,
    /// The fields the text reads into; `None` when it does not (bad YAML, `tests` from a file).
    pub document: Option<SuiteDocument>,
    /// Every problem, at its field (`tests[3].checks[1].value`) and its line in `text`.
    pub errors: Vec<SuiteFieldError>,
    /// What the suite says that ModelBench ignores or only partly honours.
    pub notes: Vec<String>,
    /// The check types the engine evaluates, for a type list.
    pub check_types: Vec<String>,
}

/// One test of a suite to send to one saved target.
#[derive(Clone, Debug, Deserialize, TS)]
#[ts(export)]
pub struct DryCheckRequest {
    /// The suite as YAML (as a draft holds it; it need not be saved).
    pub text: String,
    pub test_id: String,
    pub target: String,
}

/// A check's verdict on the dry check's answer.
#[derive(Clone, Debug, PartialEq, Serialize, TS)]
#[ts(export)]
pub struct DryCheckOutcome {
    #[serde(rename = "type")]
    pub type_name: String,
    /// `None` for a check ModelBench keeps unevaluated (judged, code).
    pub passed: Option<bool>,
    pub reason: String,
}

/// One case of the test (one per prompt template), as the target answered it.
#[derive(Clone, Debug, PartialEq, Serialize, TS)]
#[ts(export)]
pub struct DryCase {
    pub case_id: String,
    pub text: String,
    pub time_to_first_token_ms: Option<f64>,
    pub total_ms: f64,
    pub cost_usd: Option<f64>,
    pub checks: Vec<DryCheckOutcome>,
    /// The test's grade on this answer: `None` when no check was evaluated.
    pub passed: Option<bool>,
    pub reason: String,
}

/// What a dry check found.
#[derive(Clone, Debug, PartialEq, Serialize, TS)]
#[ts(export)]
pub struct DryCheck {
    pub target: String,
    pub test_id: String,
    pub cases: Vec<DryCase>,
}

fn draft(text: String, document: Option<SuiteDocument>, review: Review) -> SuiteDraft {
    SuiteDraft {
        text,
        document,
        errors: review.errors,
        notes: review.notes,
        check_types: evaluated_check_types(),
    }
}

/// The draft of edited fields: their YAML, and its problems at their fields.
pub fn draft_of_document(document: SuiteDocument) -> SuiteDraft {
    let text = document.to_yaml();
    let mut found = review(&text);
    let mut errors = document.missing_ids();
    errors.append(&mut found.errors);
    found.errors = errors;
    draft(text, Some(document), found)
}

/// The draft of edited YAML text: the fields it reads into, and its problems at their fields
/// and lines.
pub fn draft_of_text(text: String) -> SuiteDraft {
    match SuiteDocument::from_text(&text, SuiteFormat::Yaml) {
        Ok(document) => {
            let found = review(&text);
            draft(text, Some(document), found)
        }
        Err(mut errors) => {
            // Text the fields cannot hold still gets the loader's word; bad YAML is one error.
            let found = review(&text);
            for error in found.errors {
                if !errors.contains(&error) {
                    errors.push(error);
                }
            }
            let found = Review {
                errors,
                notes: found.notes,
            };
            draft(text, None, found)
        }
    }
}

/// The file name a save dialog proposes for the suite `name`: its letters and digits, the
/// rest as dashes, `.yaml`.
pub fn suggested_file_name(name: &str) -> String {
    let mut stem = String::new();
    for character in name.trim().chars() {
        if character.is_alphanumeric() {
            stem.extend(character.to_lowercase());
        } else if !stem.is_empty() && !stem.ends_with('-') {
            stem.push('-');
        }
    }
    let stem = stem.trim_end_matches('-');
    format!("{}.yaml", if stem.is_empty() { "suite" } else { stem })
}

impl Workbench {
    /// The stored suite `hash` as a draft: its own text when it is YAML or JSON, its fields
    /// written out as YAML when it is a table (JSONL, CSV).
    pub fn open_suite_draft(&self, hash: &str) -> Result<SuiteDraft> {
        let row = self
            .store()
            .load_suite(hash)?
            .ok_or_else(|| Error::Session(format!("no stored suite '{hash}': import it first")))?;
        match SuiteFormat::parse(&row.format).unwrap_or(SuiteFormat::Yaml) {
            SuiteFormat::Yaml | SuiteFormat::Json => Ok(draft_of_text(row.text)),
            format => {
                let document = SuiteDocument::from_text(&row.text, format).map_err(|errors| {
                    let reasons: Vec<String> = errors.into_iter().map(|error| error.message).collect();
                    Error::Session(format!("suite '{}' cannot be edited: {}", row.name, reasons.join("; ")))
                })?;
                Ok(draft_of_document(document))
            }
        }
    }

    /// Stores an edited suite (YAML text) as sessions store theirs: its full text under its
    /// content hash. A suite with errors is refused, naming them.
    pub fn save_suite_draft(&self, text: &str) -> Result<SuiteInfo> {
        self.add_suite_text(text, SuiteFormat::Yaml)
    }

    /// Sends test `test_id` of the suite (every prompt template of it) to the saved target
    /// `target`, once, unstored, and evaluates the test's checks on each answer. A target that
    /// fails is an error naming it.
    pub async fn dry_check(&self, request: DryCheckRequest) -> Result<DryCheck> {
        let loaded = Suite::parse(&request.text, SuiteFormat::Yaml, None)
            .map_err(|errors| Error::Session(format!("the suite has errors:\n{errors}")))?;
        let cases: Vec<Case> = loaded
            .suite
            .cases()
            .iter()
            .filter(|case| case.test_id == request.test_id)
            .cloned()
            .collect();
        if cases.is_empty() {
            return Err(Error::Session(format!("the suite has no test '{}'", request.test_id)));
        }
        let target = self.saved_target(&request.target)?;
        let plan = RunPlan {
            prompts: cases.iter().map(|case| case.prompt.clone()).collect(),
            parameters: loaded.suite.defaults.parameters.clone(),
            ..RunPlan::connection_test(target)
        };
        let failed = |reason: String| {
            Error::Session(format!(
                "the dry check of test '{}' on target '{}' failed: {reason}",
                request.test_id, request.target
            ))
        };
        let handle = self.tester.start(plan, CancellationToken::new())?;
        let mut records = handle.outcome().await?.responses;
        records.sort_by_key(|record| record.key.prompt_index);
        let mut dry_cases = Vec::new();
        for record in records {
            if let Some(error) = record.error.as_ref().filter(|_| !record.complete) {
                return Err(failed(error.to_string()));
            }
            let Some(case) = cases.get(record.key.prompt_index as usize) else {
                continue;
            };
            let result = case.evaluate(&CheckSubject::from(&record));
            dry_cases.push(DryCase {
                case_id: case.case_id.clone(),
                text: record.text.clone(),
                time_to_first_token_ms: record.metrics.time_to_first_token_ms,
                total_ms: record.metrics.total_ms,
                cost_usd: record.cost_usd,
                checks: case
                    .checks
                    .iter()
                    .zip(result.outcomes)
                    .map(|(check, outcome)| DryCheckOutcome {
                        type_name: check.type_name.clone(),
                        passed: outcome.passed,
                        reason: outcome.reason,
                    })
                    .collect(),
                passed: result.grade.passed,
                reason: result.grade.reason,
            });
        }
        if dry_cases.len() != cases.len() {
            return Err(failed("the target did not answer every prompt".to_owned()));
        }
        Ok(DryCheck {
            target: request.target,
            test_id: request.test_id,
            cases: dry_cases,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::suggested_file_name;

    #[test]
    fn a_suite_s_file_name_comes_from_its_name() {
        assert_eq!(
            suggested_file_name("Sample: why run one model on several clouds"),
            "sample-why-run-one-model-on-several-clouds.yaml"
        );
        assert_eq!(suggested_file_name(" ?! "), "suite.yaml");
    }
}
