//! One test of a stored session, answer by answer: each target's text in each repeat, graded by
//! the test's checks as the analysis grades it (a judge's verdicts included), so a window's
//! per-test table shows why an answer failed without grading anything itself.
//!
//! Left out: diffs between the answers (the host asks the engine's `diff` for the pair the user
//! picks, as for a run's answers) and the statistics (the analysis's `tests`).

use modelbench_engine::suite::CheckSubject;
use serde::Serialize;
use ts_rs::TS;

use crate::Workbench;
use crate::error::{Error, Result};

/// The answers of one test (a case: one test with one prompt) of a session.
#[derive(Clone, Debug, PartialEq, Serialize, TS)]
#[ts(export)]
pub struct TestAnswers {
    pub case_id: String,
    pub test_id: String,
    pub description: Option<String>,
    /// In target order, then repeat order; calls never sent are left out.
    pub answers: Vec<TestAnswer>,
}

/// One call's answer with its grade.
#[derive(Clone, Debug, PartialEq, Serialize, TS)]
#[ts(export)]
pub struct TestAnswer {
    pub target: String,
    /// Numbered from 1.
    pub repeat: u32,
    pub text: String,
    /// The call ended with its whole answer (not an error part-way or before the first word).
    pub complete: bool,
    /// `false` when it failed its checks; `null` when it was not graded (an error, or no check
    /// could be evaluated).
    pub passed: Option<bool>,
    /// The grade in words: which checks failed and why, or why it was not graded.
    pub reason: String,
    /// `kind: message` of the error that ended the call.
    pub error: Option<String>,
    pub checks: Vec<CheckResult>,
}

/// One check's verdict on an answer.
#[derive(Clone, Debug, PartialEq, Serialize, TS)]
#[ts(export)]
pub struct CheckResult {
    /// The check's type as written (`icontains`, `not-regex`, `llm-rubric`).
    pub check: String,
    /// `null` when the check was not evaluated (a judged check no judge has graded).
    pub passed: Option<bool>,
    pub reason: String,
}

impl Workbench {
    /// The answers of test `case_id` of session `id`, each graded by the test's checks.
    pub fn session_answers(&self, id: &str, case_id: &str) -> Result<TestAnswers> {
        let header = self.load_session_header(id)?;
        let cases = header.suite.suite.cases();
        let Some((index, case)) = cases.iter().enumerate().find(|(_, case)| case.case_id == case_id) else {
            return Err(Error::Session(format!(
                "session {} has no test '{case_id}'",
                header.row.id
            )));
        };
        let judged = self.judged_checks(&header)?;
        let targets = &header.run.record.targets;
        let mut answers = Vec::new();
        self.store().load_run_visiting(header.row.id, &mut |record| {
            if record.key.prompt_index as usize != index || record.attempts == 0 {
                return Ok(());
            }
            let subject = CheckSubject::from(&record);
            let (passed, reason, checks) = if record.complete {
                let result = match &judged {
                    Some(judged) => {
                        case.evaluate_with(&subject, |check| judged.outcomes.get(&(record.key, check)).cloned())
                    }
                    None => case.evaluate(&subject),
                };
                let checks = case
                    .checks
                    .iter()
                    .zip(result.outcomes)
                    .map(|(check, outcome)| CheckResult {
                        check: check.type_name.clone(),
                        passed: outcome.passed,
                        reason: outcome.reason,
                    })
                    .collect();
                (result.grade.passed, result.grade.reason, checks)
            } else {
                (None, "not graded: the call did not complete".to_owned(), Vec::new())
            };
            answers.push(TestAnswer {
                target: targets
                    .get(record.key.target_index as usize)
                    .map_or_else(|| record.target.clone(), |target| target.name.clone()),
                repeat: record.key.repeat_index + 1,
                error: record
                    .error
                    .as_ref()
                    .map(|error| format!("{}: {}", error.kind.as_str(), error.message)),
                text: record.text,
                complete: record.complete,
                passed,
                reason,
                checks,
            });
            Ok(())
        })?;
        answers.sort_by(|a, b| {
            let place = |answer: &TestAnswer| targets.iter().position(|target| target.name == answer.target);
            place(a).cmp(&place(b)).then(a.repeat.cmp(&b.repeat))
        });
        Ok(TestAnswers {
            case_id: case.case_id.clone(),
            test_id: case.test_id.clone(),
            description: case.description.clone(),
            answers,
        })
    }
}
