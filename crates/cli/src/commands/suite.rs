//! `modelbench suite check FILE`: loads a suite as a session would and names the line of each
//! error; on success, what it holds (tests, cases, checks) and its notes.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Result;
use clap::Subcommand;
use modelbench_engine::suite::Suite;
use serde_json::json;

use crate::terminal;

#[derive(Subcommand)]
pub enum SuiteCommand {
    /// Validate a suite (YAML, JSON, JSONL, CSV or a promptfoo config) and name each error's line.
    Check {
        file: PathBuf,
        #[arg(long)]
        json: bool,
    },
}

pub fn run(command: SuiteCommand) -> Result<ExitCode> {
    let SuiteCommand::Check { file, json } = command;
    let mut out = terminal::stdout().lock();
    match Suite::load(&file) {
        Ok(loaded) => {
            let cases = loaded.suite.cases();
            let checks: usize = cases.iter().map(|case| case.checks.len()).sum();
            let unevaluated: usize = cases
                .iter()
                .flat_map(|case| &case.checks)
                .filter(|check| !check.is_evaluated())
                .count();
            if json {
                let document = json!({
                    "valid": true,
                    "name": loaded.suite.name,
                    "hash": loaded.hash,
                    "tests": loaded.suite.tests.len(),
                    "cases": cases.len(),
                    "checks": checks,
                    "unevaluated_checks": unevaluated,
                    "notes": loaded.notes,
                    "errors": [],
                });
                serde_json::to_writer_pretty(&mut out, &document)?;
                writeln!(out)?;
            } else {
                writeln!(
                    out,
                    "{}: ok — suite '{}', {} test(s), {} case(s), {} check(s){}",
                    file.display(),
                    loaded.suite.name,
                    loaded.suite.tests.len(),
                    cases.len(),
                    checks,
                    if unevaluated > 0 {
                        format!(" ({unevaluated} kept unevaluated)")
                    } else {
                        String::new()
                    }
                )?;
                writeln!(out, "hash: {}", loaded.hash)?;
                for note in &loaded.notes {
                    writeln!(out, "note: {note}")?;
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        Err(errors) => {
            if json {
                let document = json!({
                    "valid": false,
                    "errors": errors.0.iter().map(|diagnostic| json!({
                        "file": diagnostic.file,
                        "line": diagnostic.line,
                        "column": diagnostic.column,
                        "message": diagnostic.message,
                    })).collect::<Vec<_>>(),
                });
                serde_json::to_writer_pretty(&mut out, &document)?;
                writeln!(out)?;
            } else {
                let mut err = terminal::stderr();
                writeln!(err, "{errors}")?;
                writeln!(err, "{} error(s) in {}", errors.0.len(), file.display())?;
            }
            Ok(ExitCode::from(1))
        }
    }
}
