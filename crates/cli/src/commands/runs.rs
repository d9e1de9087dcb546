//! `modelbench runs`: past runs listed, one shown in full, an unfinished one resumed; deleting
//! and pruning them is `cleanup.rs`'s.

use std::io::Write;
use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{Result, bail};
use clap::Subcommand;
use modelbench_engine::credentials::KeychainCredentials;
use modelbench_engine::keychain::Keychain;
use modelbench_engine::store::{RunStatus, Store};
use serde_json::json;

use super::cleanup;
use crate::database::{self, find_run};
use crate::execute::{ViewMode, execute_with, run_exit_code};
use crate::output::{self, format_time};
use crate::terminal;

#[derive(Subcommand)]
pub enum RunsCommand {
    /// The most recent runs.
    List {
        #[arg(long, default_value_t = 20)]
        limit: usize,
        #[arg(long)]
        json: bool,
    },
    /// Send again, into the same run, only the responses that are missing or not complete (after
    /// a crash, a kill or a cancel); complete ones are kept and not paid for twice.
    Resume {
        /// A run id or a unique prefix of one.
        run_id: String,
        #[arg(long, default_value_t = 16)]
        concurrency: usize,
        #[arg(long, default_value_t = 2)]
        retries: u32,
        #[arg(long)]
        json: bool,
    },
    /// One run: prompts, per-target metrics and full outputs.
    Show {
        /// A run id or a unique prefix of one.
        run_id: String,
        #[arg(long)]
        json: bool,
    },
    /// Delete runs with everything stored for them. All or nothing: an unknown or running run
    /// stops it before anything is deleted.
    Delete(cleanup::DeleteArgs),
    /// Delete the runs that started before a date, or all but the newest N (or both: older than
    /// the date and not among the newest N). Running runs are left alone.
    Prune(cleanup::PruneArgs),
}

pub async fn run(data_dir: Option<&Path>, command: RunsCommand) -> Result<ExitCode> {
    match command {
        RunsCommand::List { limit, json } => list(&database::open(data_dir)?, limit, json)?,
        RunsCommand::Show { run_id, json } => show(&database::open(data_dir)?, &run_id, json)?,
        RunsCommand::Resume {
            run_id,
            concurrency,
            retries,
            json,
        } => {
            let store = database::open_for_run(data_dir)?;
            let code = resume(&store, &run_id, concurrency, retries, json).await;
            // It wrote: see `dispatch` for why writing commands end with a checkpoint.
            store.checkpoint();
            return code;
        }
        RunsCommand::Delete(args) => cleanup::delete(&database::open(data_dir)?, &args)?,
        RunsCommand::Prune(args) => cleanup::prune(&database::open(data_dir)?, &args)?,
    }
    Ok(ExitCode::SUCCESS)
}

/// `runs list`: the newest runs, one line each, or as JSON.
fn list(store: &Store, limit: usize, json: bool) -> Result<()> {
    let mut out = terminal::stdout().lock();
    if limit == 0 {
        bail!("--limit must be at least 1");
    }
    let runs = store.list_runs(limit)?;
    if json {
        serde_json::to_writer_pretty(&mut out, &runs)?;
        writeln!(out)?;
        return Ok(());
    }
    if runs.is_empty() {
        writeln!(out, "no runs yet: try `modelbench demo`")?;
    }
    for run in runs {
        let prompt: String = run.first_prompt.chars().take(60).collect::<String>().replace('\n', " ");
        writeln!(
            out,
            "{}  {}  {:<11}  {}  {}  \"{}\"",
            run.id,
            format_time(run.started_at_ms),
            run.status,
            output::run_counts(&run),
            run.target_names.join(","),
            prompt
        )?;
    }
    Ok(())
}

/// `runs show`: one run's prompts, summary table and full answers, or all of it as JSON.
fn show(store: &Store, run_id: &str, json: bool) -> Result<()> {
    let mut out = terminal::stdout().lock();
    let run = find_run(store, run_id)?;
    if json {
        let document = json!({
            "run_id": run.record.id.to_string(),
            "status": run.status,
            "started_at_ms": run.record.started_at_ms,
            "finished_at_ms": run.finished_at_ms,
            "parameters": run.record.parameters,
            "prompts": run.record.prompts,
            "targets": run.record.targets,
            "repeat": run.record.repeat,
            "results": run.responses.iter().map(output::result_json).collect::<Vec<_>>(),
        });
        serde_json::to_writer_pretty(&mut out, &document)?;
        writeln!(out)?;
        return Ok(());
    }
    writeln!(
        out,
        "run {}  {}  {}",
        run.record.id,
        format_time(run.record.started_at_ms),
        run.status
    )?;
    let sent = run.responses.iter().filter(|response| response.attempts > 0).count();
    let never_sent = (run.planned_count as usize).saturating_sub(sent);
    if never_sent > 0 {
        let why = match run.status {
            RunStatus::Interrupted => " (the run's process stopped before it sent them; see `modelbench runs list`)",
            RunStatus::Cancelled => " (the run was cancelled first)",
            RunStatus::Running => " yet (the run is still going)",
            RunStatus::Completed => "",
        };
        writeln!(
            out,
            "{never_sent} of {} planned responses were never sent{why}",
            run.planned_count
        )?;
    }
    let parameters = serde_json::to_string(&run.record.parameters)?;
    writeln!(out, "parameters: {parameters}")?;
    for (index, prompt) in run.record.prompts.iter().enumerate() {
        if let Some(system) = &prompt.system {
            writeln!(out, "system #{}: {system}", index + 1)?;
        }
        writeln!(out, "prompt #{}: {}", index + 1, prompt.last_user_text())?;
    }
    let batch = run.record.prompts.len() > 1 || run.record.repeat > 1;
    writeln!(out)?;
    write!(out, "{}", output::summary_table(&run.responses, batch))?;
    for response in &run.responses {
        writeln!(
            out,
            "\n── {} #{}.{} ({} {}{}) ──",
            response.target,
            response.key.prompt_index + 1,
            response.key.repeat_index + 1,
            response.provider,
            response.reported_model.as_deref().unwrap_or(&response.model),
            match (response.complete, run.status, &response.error) {
                (true, _, _) => "",
                // Rebuilt from its events: it is streaming right now.
                (false, RunStatus::Running, None) => ", still running",
                (false, _, _) => ", incomplete",
            }
        )?;
        writeln!(out, "{}", response.text)?;
        if let Some(error) = &response.error {
            writeln!(out, "✗ {error}")?;
        }
    }
    Ok(())
}

/// `runs resume`: the run's missing and unfinished responses, sent again into it.
async fn resume(store: &Arc<Store>, run_id: &str, concurrency: usize, retries: u32, json: bool) -> Result<ExitCode> {
    let stored = find_run(store, run_id)?;
    let id = stored.record.id;
    let Some(resumption) = modelbench_workbench::run::resumption(stored, concurrency, retries)? else {
        println!("run {id}: every response is complete; nothing to send");
        return Ok(ExitCode::SUCCESS);
    };
    let view = ViewMode { json, events: false };
    let credentials = Arc::new(KeychainCredentials::new(Keychain::os()));
    let resumed = Some((&resumption.record, resumption.only));
    let outcome = execute_with(store, resumption.plan, credentials, view, resumed).await?;
    Ok(run_exit_code(&outcome))
}
