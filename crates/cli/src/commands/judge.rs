//! `modelbench judge`: an LLM judge of a stored session. Pairwise (every pair of targets on every
//! test, asked in both orders; a win only when both agree), on a rubric (scores with reasons), or
//! on the suite's `llm-rubric` checks; under a spend cap, resumable by asking again; and `judge
//! show` for a session's judge runs. The workbench does the work (`modelbench_workbench::judge`).

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{Context, Result, bail};
use clap::{Args, Subcommand};
use modelbench_engine::judge::{JudgeMode, Rubric};
use modelbench_engine::runner::RunEvent;
use modelbench_workbench::Workbench;
use modelbench_workbench::judge::{
    DEFAULT_MAX_OUTPUT_TOKENS, JudgePlan, JudgeResult, StartedJudge, self_preference_warning,
};
use serde_json::json;

use super::run::select_targets;
use super::session::workbench;
use crate::database;
use crate::terminal;

#[derive(Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct JudgeArgs {
    #[command(subcommand)]
    command: Option<JudgeCommand>,
    /// The session to judge: its id or a unique prefix of one.
    session: Option<String>,
    /// The judge: a target's name (saved, or in --targets FILE).
    #[arg(long)]
    judge: Option<String>,
    /// Compare every pair of the session's targets on every test, asking twice with the answers'
    /// positions swapped.
    #[arg(long, group = "mode")]
    pairwise: bool,
    /// Score every answer 1–5 on the criteria of this rubric file (its `- name: …` items).
    #[arg(long, value_name = "FILE", group = "mode")]
    rubric: Option<PathBuf>,
    /// Grade the suite's `llm-rubric` checks on every answer.
    #[arg(long, group = "mode")]
    checks: bool,
    /// A targets TOML file to find the judge in (default: the targets saved in the database).
    #[arg(long)]
    targets: Option<PathBuf>,
    /// A hard cap in US dollars on the judge run (what it spent before counts when resuming).
    #[arg(long)]
    budget: Option<f64>,
    /// The bound on each judge answer, which a budget needs.
    #[arg(long, default_value_t = DEFAULT_MAX_OUTPUT_TOKENS)]
    max_output_tokens: u32,
    /// Judge calls in flight at once.
    #[arg(long, default_value_t = 4)]
    concurrency: usize,
    /// Retries of a retryable failure per call.
    #[arg(long, default_value_t = 2)]
    retries: u32,
    #[arg(long)]
    json: bool,
}

#[derive(Subcommand)]
enum JudgeCommand {
    /// A session's judge runs and their verdicts.
    Show {
        /// A session id or a unique prefix of one.
        session: String,
        #[arg(long)]
        json: bool,
    },
}

pub async fn run(data_dir: Option<&Path>, args: JudgeArgs) -> Result<ExitCode> {
    if let Some(JudgeCommand::Show { session, json }) = args.command {
        let store = Arc::new(database::open(data_dir)?);
        let results = workbench(&store)?.judge_results(&session)?;
        let mut out = terminal::stdout().lock();
        if json {
            serde_json::to_writer_pretty(&mut out, &results)?;
            writeln!(out)?;
        } else if results.is_empty() {
            writeln!(
                out,
                "session {session} has no judge runs: `modelbench judge {session} --judge TARGET --pairwise`"
            )?;
        }
        if !json {
            for result in &results {
                write!(out, "{}", result_text(result))?;
            }
        }
        return Ok(ExitCode::SUCCESS);
    }
    let Some(session) = args.session.clone() else {
        bail!("which session? `modelbench judge SESSION --judge TARGET --pairwise|--rubric FILE|--checks`");
    };
    let Some(judge_name) = args.judge.clone() else {
        bail!("which judge? --judge TARGET names the target that judges session {session}");
    };
    let mode = match (args.pairwise, &args.rubric, args.checks) {
        (true, None, false) => JudgeMode::Pairwise,
        (false, Some(_), false) => JudgeMode::Rubric,
        (false, None, true) => JudgeMode::Checks,
        _ => bail!("say how to judge: one of --pairwise, --rubric FILE or --checks"),
    };
    let rubric = match &args.rubric {
        Some(path) => {
            let text =
                std::fs::read_to_string(path).with_context(|| format!("cannot read the rubric {}", path.display()))?;
            Some(Rubric::parse(&text).with_context(|| format!("the rubric {} is empty", path.display()))?)
        }
        None => None,
    };
    let store = database::open_for_run(data_dir)?;
    let judge = select_targets(&store, args.targets.as_deref(), std::slice::from_ref(&judge_name))?
        .into_iter()
        .next()
        .with_context(|| format!("no judge target '{judge_name}'"))?;
    let workbench = workbench(&store)?;
    let started = workbench.start_judge(JudgePlan {
        session,
        judge,
        mode,
        rubric,
        budget_usd: args.budget,
        max_output_tokens: args.max_output_tokens,
        concurrency: args.concurrency,
        retries: Some(args.retries),
    })?;
    let code = follow(&workbench, started, &judge_name, args.json).await;
    store.checkpoint();
    code
}

/// A bar while the judge run goes; then its verdicts.
async fn follow(workbench: &Workbench, started: StartedJudge, judge_name: &str, json: bool) -> Result<ExitCode> {
    let StartedJudge {
        judge_run_id,
        session_id,
        live,
        budget,
        calls,
        planned,
        resumed,
        skipped,
        self_preference,
        worst_case_usd,
    } = started;
    let warning = self_preference_warning(judge_name, &self_preference);
    if let Some(warning) = &warning {
        eprintln!("{warning}");
    }
    if !json {
        let again = if resumed {
            format!(" (resumed: {calls} of {planned} sent now)")
        } else {
            String::new()
        };
        println!(
            "judge run {judge_run_id}: '{judge_name}' judges session {session_id}: {planned} call(s){again}, {skipped} skipped for want of an answer"
        );
    }
    let mut status = "completed";
    if let Some(mut live) = live {
        let canceller = live.canceller();
        let bar = (!json && std::io::stderr().is_terminal()).then(|| {
            let bar = indicatif::ProgressBar::new(calls);
            let style = indicatif::ProgressStyle::with_template("judge {bar:30} {pos}/{len}  {msg}")
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar());
            bar.set_style(style);
            bar
        });
        let (mut errors, mut spend) = (0_u64, 0.0_f64);
        let mut interrupted = false;
        loop {
            tokio::select! {
                event = live.handle.events.recv() => {
                    let Some(event) = event else { break };
                    if let RunEvent::ResponseFinished(response) = event {
                        if response.error.is_some() && !response.complete {
                            errors += 1;
                        }
                        spend += response.cost_usd.unwrap_or(0.0);
                        if let Some(bar) = &bar {
                            bar.inc(1);
                            bar.set_message(format!("{errors} error(s)  ${spend:.4}"));
                        }
                    }
                }
                _ = tokio::signal::ctrl_c(), if !interrupted => {
                    interrupted = true;
                    eprintln!("\ninterrupted: cancelling; what arrived is kept (ask again to resume)");
                    canceller.cancel();
                }
            }
        }
        if let Some(bar) = &bar {
            bar.finish();
        }
        let outcome = live.outcome().await?;
        status = workbench.finish_judge(judge_run_id, outcome.cancelled, budget.as_deref())?;
    }
    let result = workbench
        .judge_results(&session_id.to_string())?
        .into_iter()
        .find(|result| result.judge_run_id == judge_run_id)
        .with_context(|| format!("judge run {judge_run_id} is not stored"))?;
    let mut out = terminal::stdout().lock();
    if json {
        serde_json::to_writer_pretty(
            &mut out,
            &json!({
                "judge_run_id": judge_run_id,
                "session_id": session_id,
                "status": status,
                "resumed": resumed,
                "calls_sent": calls,
                "worst_case_usd": worst_case_usd,
                "budget_usd": budget.as_ref().map(|budget| budget.cap_usd()),
                "warnings": warning.into_iter().collect::<Vec<_>>(),
                "result": result,
            }),
        )?;
        writeln!(out)?;
    } else {
        write!(out, "{}", result_text(&result))?;
        if let Some(budget) = &budget {
            writeln!(
                out,
                "spent ${:.4} of the ${:.2} budget{}",
                budget.spent_usd(),
                budget.cap_usd(),
                if budget.stopped() {
                    ": stopped before a call could exceed it"
                } else {
                    ""
                }
            )?;
        }
        writeln!(
            out,
            "judge run {judge_run_id}: {status}{}",
            if status == "completed" {
                ""
            } else {
                "; ask again (same session, judge and mode) to finish it"
            }
        )?;
    }
    Ok(match status {
        "completed" => ExitCode::SUCCESS,
        "stopped" => ExitCode::from(4),
        _ => ExitCode::from(130),
    })
}

fn percent(value: Option<f64>) -> String {
    value.map_or_else(|| "–".to_owned(), |value| format!("{:.0}%", value * 100.0))
}

/// One judge run's verdicts as text.
fn result_text(result: &JudgeResult) -> String {
    let mut text = format!(
        "judge run {} ({}, judge '{}', {}): {} of {} call(s) answered, {} unparsed, ${:.4}\n",
        result.judge_run_id,
        result.mode.as_str(),
        result.judge,
        result.status,
        result.answered,
        result.planned,
        result.unparsed,
        result.spent_usd
    );
    if let Some(warning) = self_preference_warning(&result.judge, &result.self_preference) {
        text.push_str(&format!("  {warning}\n"));
    }
    let width = result.targets.iter().map(String::len).max().unwrap_or(6).max(6);
    let name = |index: u32| result.targets.get(index as usize).map_or("?", String::as_str);
    match result.mode {
        JudgeMode::Pairwise => {
            text.push_str(&format!(
                "  {:<width$}  {:>5} {:>5} {:>6} {:>8}  position consistency\n",
                "target", "wins", "ties", "losses", "unparsed"
            ));
            for tally in &result.pair_tallies {
                text.push_str(&format!(
                    "  {:<width$}  {:>5} {:>5} {:>6} {:>8}  {}\n",
                    name(tally.target_index),
                    tally.wins,
                    tally.ties,
                    tally.losses,
                    tally.unparsed,
                    percent(tally.position_consistency)
                ));
            }
        }
        JudgeMode::Rubric => {
            text.push_str(&format!(
                "  {:<width$}  scored unparsed  mean per criterion\n",
                "target"
            ));
            for tally in &result.rubric_tallies {
                let means: Vec<String> = tally
                    .mean
                    .iter()
                    .map(|(criterion, mean)| format!("{criterion} {mean:.2}"))
                    .collect();
                text.push_str(&format!(
                    "  {:<width$}  {:>6} {:>8}  {}\n",
                    name(tally.target_index),
                    tally.scored,
                    tally.unparsed,
                    means.join(", ")
                ));
            }
        }
        JudgeMode::Checks => {
            for (index, target) in result.targets.iter().enumerate() {
                let mine = result
                    .checks
                    .iter()
                    .filter(|check| check.key.target_index as usize == index);
                let (mut passed, mut failed, mut unread) = (0, 0, 0);
                for check in mine {
                    match check.outcome.passed {
                        Some(true) => passed += 1,
                        Some(false) => failed += 1,
                        None => unread += 1,
                    }
                }
                text.push_str(&format!(
                    "  {target:<width$}  llm-rubric: {passed} passed, {failed} failed, {unread} unparsed\n"
                ));
            }
        }
    }
    text
}
