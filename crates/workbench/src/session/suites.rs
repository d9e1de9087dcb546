//! Suites as a window picks them: imported from a file (stored at once, so a session names it by
//! its hash and the page never names a file to read), shipped with the app, or stored by an
//! earlier session; and the request a window sends to start a session on one.
//!
//! Left out: editing a suite (a later increment) and reading the file dialog (the host's).

use std::path::Path;

use modelbench_engine::store::StoredSuite;
use modelbench_engine::suite::{LoadedSuite, Suite, SuiteFormat};
use serde::{Deserialize, Serialize};
use ts_rs::TS;

use super::{SessionOptions, SessionPlan};
use crate::Workbench;
use crate::error::{Error, Result};

/// What a window shows of a suite before it runs.
#[derive(Clone, Debug, PartialEq, Serialize, TS)]
#[ts(export)]
pub struct SuiteInfo {
    /// The content hash a session records, and the name a [`SessionRequest`] uses.
    pub hash: String,
    pub name: String,
    pub description: Option<String>,
    /// `yaml`, `json`, `jsonl` or `csv`.
    pub format: String,
    /// Where it was read from; `None` for a suite shipped with the app.
    pub path: Option<String>,
    pub tests: usize,
    /// Tests × prompts: the calls one repeat sends to each target.
    pub cases: usize,
    pub checks: usize,
    /// The bound on every answer a budget needs (`defaults.parameters.max_output_tokens`).
    pub max_output_tokens: Option<u32>,
    /// What the suite says that ModelBench ignores or only partly honours.
    pub notes: Vec<String>,
}

/// What a window asks to run: a stored suite by hash, saved targets by name, and the options.
#[derive(Clone, Debug, Deserialize, TS)]
#[ts(export)]
pub struct SessionRequest {
    pub suite_hash: String,
    pub targets: Vec<String>,
    pub repeat: u32,
    pub concurrency: usize,
    #[serde(default)]
    #[ts(optional)]
    pub budget_usd: Option<f64>,
}

fn info(suite: &LoadedSuite, format: &str, path: Option<String>) -> SuiteInfo {
    let cases = suite.suite.cases();
    SuiteInfo {
        hash: suite.hash.clone(),
        name: suite.suite.name.clone(),
        description: suite.suite.description.clone(),
        format: format.to_owned(),
        path,
        tests: suite.suite.tests.len(),
        cases: cases.len(),
        checks: cases.iter().map(|case| case.checks.len()).sum(),
        max_output_tokens: suite.suite.defaults.parameters.max_output_tokens,
        notes: suite.notes.iter().map(ToString::to_string).collect(),
    }
}

fn stored(suite: &LoadedSuite, format: SuiteFormat, path: Option<String>) -> Result<StoredSuite> {
    Ok(StoredSuite {
        hash: suite.hash.clone(),
        name: suite.suite.name.clone(),
        format: format.as_str().to_owned(),
        path,
        text: suite.text.clone(),
        files_json: serde_json::to_string(&suite.files).map_err(|error| Error::Session(error.to_string()))?,
    })
}

/// A stored suite loaded again from its text and files, as a session that ran it would.
fn restore(row: &StoredSuite) -> Result<(LoadedSuite, SuiteFormat)> {
    let files = serde_json::from_str(&row.files_json)
        .map_err(|error| Error::Session(format!("suite '{}': its stored files are damaged: {error}", row.name)))?;
    let format = SuiteFormat::parse(&row.format).unwrap_or(SuiteFormat::Yaml);
    let suite = Suite::restore(&row.text, format, files, &row.name)
        .map_err(|errors| Error::Session(format!("suite '{}' no longer loads: {errors}", row.name)))?;
    Ok((suite, format))
}

impl Workbench {
    /// Loads the suite at `path` and stores it; its errors name the file and line.
    pub fn import_suite(&self, path: &Path) -> Result<SuiteInfo> {
        let suite = Suite::load(path)
            .map_err(|errors| Error::Session(format!("the suite {} has errors:\n{errors}", path.display())))?;
        let format = SuiteFormat::from_path(path);
        let shown = path.display().to_string();
        self.store().save_suite(&stored(&suite, format, Some(shown.clone()))?)?;
        Ok(info(&suite, format.as_str(), Some(shown)))
    }

    /// Stores a suite given as text (one shipped with the app), named by its own `name`.
    pub fn add_suite_text(&self, text: &str, format: SuiteFormat) -> Result<SuiteInfo> {
        let suite = Suite::parse(text, format, None)
            .map_err(|errors| Error::Session(format!("the suite has errors:\n{errors}")))?;
        self.store().save_suite(&stored(&suite, format, None)?)?;
        Ok(info(&suite, format.as_str(), None))
    }

    /// Every stored suite, newest first. One that no longer loads is left out, so one damaged
    /// row does not hide the others (starting it names the damage).
    pub fn list_suites(&self) -> Result<Vec<SuiteInfo>> {
        let mut suites = Vec::new();
        for row in self.store().list_suites()? {
            if let Ok((suite, _)) = restore(&row) {
                suites.push(info(&suite, &row.format, row.path.clone()));
            }
        }
        Ok(suites)
    }

    /// The stored suite `hash`.
    pub fn load_suite(&self, hash: &str) -> Result<SuiteInfo> {
        let row = self.stored_suite(hash)?;
        let (suite, _) = restore(&row)?;
        Ok(info(&suite, &row.format, row.path.clone()))
    }

    fn stored_suite(&self, hash: &str) -> Result<StoredSuite> {
        self.store()
            .load_suite(hash)?
            .ok_or_else(|| Error::Session(format!("no stored suite '{hash}': import it first")))
    }

    /// The plan of `request`: its suite loaded from the store, its targets from the saved ones.
    pub fn plan_session(&self, request: &SessionRequest) -> Result<SessionPlan> {
        if request.repeat == 0 {
            return Err(Error::Session("repeat must be at least 1".to_owned()));
        }
        if request.concurrency == 0 {
            return Err(Error::Session("concurrency must be at least 1".to_owned()));
        }
        if request.targets.is_empty() {
            return Err(Error::Session("choose at least one target for the session".to_owned()));
        }
        let row = self.stored_suite(&request.suite_hash)?;
        let (suite, format) = restore(&row)?;
        let targets = request
            .targets
            .iter()
            .map(|name| self.saved_target(name))
            .collect::<Result<Vec<_>>>()?;
        Ok(SessionPlan {
            suite,
            format,
            path: row.path,
            targets,
            options: SessionOptions {
                repeat: request.repeat,
                concurrency: request.concurrency,
                ..SessionOptions::default()
            },
            budget_usd: request.budget_usd,
        })
    }
}
