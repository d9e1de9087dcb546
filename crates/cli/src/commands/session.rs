//! `modelbench session`: run a suite on many targets with repeats (estimate first, a spend cap,
//! interleaved calls, one progress bar per target), resume it, cancel it, list them, show the
//! statistics and the cloud-parity verdicts, and export the report.

use std::collections::HashMap;
use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use clap::{Args, Subcommand};
use modelbench_engine::adaptive::Concurrency;
use modelbench_engine::credentials::KeychainCredentials;
use modelbench_engine::keychain::Keychain;
use modelbench_engine::runner::RunEvent;
use modelbench_engine::session::Estimate;
use modelbench_engine::store::Store;
use modelbench_engine::suite::{Suite, SuiteFormat};
use modelbench_workbench::Workbench;
use modelbench_workbench::session::{SessionOptions, SessionPlan, StartedSession};
use serde_json::json;

use super::run::select_targets;
use crate::database;
use crate::output::format_time;
use crate::terminal;

#[derive(Subcommand)]
pub enum SessionCommand {
    /// Run a suite on every target, `--repeat` times, calls interleaved across targets.
    Run(SessionRunArgs),
    /// Send what a session is missing: calls never sent or ended by an infrastructure failure
    /// (connect, 5xx, 429 after retries, timeout). Model outcomes are results and stay.
    Resume {
        /// A session id or a unique prefix of one.
        id: String,
        /// A new spending cap for the whole session (what it spent so far counts against it).
        #[arg(long)]
        budget: Option<f64>,
        #[arg(long)]
        json: bool,
    },
    /// Sessions, newest first.
    List {
        #[arg(long)]
        json: bool,
    },
    /// A session's statistics: per target, per test, and the parity verdicts.
    Show {
        id: String,
        #[arg(long)]
        json: bool,
    },
    /// Stop a session (one running in another process stops when it sees the request).
    Cancel { id: String },
    /// The session report: html, md, json, csv or pdf.
    Export {
        id: String,
        #[arg(long, default_value = "html")]
        format: String,
        /// Where to write it (default: standard output).
        #[arg(short, long)]
        output: Option<PathBuf>,
        /// Who signs the PDF report off, as "Name, Role" (repeatable; default: two blank blocks).
        #[arg(long, value_name = "NAME, ROLE")]
        signoff: Vec<String>,
    },
}

#[derive(Args)]
pub struct SessionRunArgs {
    /// The suite: YAML, JSON, JSONL, CSV, or a promptfoo config.
    suite: PathBuf,
    /// A targets TOML file (default: the targets saved in the database).
    #[arg(long)]
    targets: Option<PathBuf>,
    /// Only these targets, by name (repeatable).
    #[arg(long = "target")]
    target_names: Vec<String>,
    #[arg(long, default_value_t = 1)]
    repeat: u32,
    /// Calls in flight at once, across all targets: a number, or `auto` (widen while
    /// ModelBench's own timing lag stays under 5 ms, up to 1,000; `auto:N` caps it at N).
    #[arg(long, default_value = "8")]
    concurrency: Concurrency,
    /// How late ModelBench itself may run around a call's timings before they are marked
    /// `client_saturated` and left out of the latency statistics, in milliseconds.
    #[arg(long = "lag-threshold-ms", default_value_t = 5.0)]
    lag_threshold_ms: f64,
    /// A tighter limit for one provider: `--provider-concurrency bedrock=2` (repeatable).
    #[arg(long = "provider-concurrency")]
    provider_concurrency: Vec<String>,
    /// A hard cap in US dollars: no call is sent that could take the session over it.
    #[arg(long)]
    budget: Option<f64>,
    /// Print the estimate (calls, tokens, cost range per target) and send nothing.
    #[arg(long)]
    estimate: bool,
    /// Retries of a retryable failure per call.
    #[arg(long, default_value_t = 2)]
    retries: u32,
    /// The seed of the statistics' resampling (reports reproduce from it).
    #[arg(long)]
    seed: Option<u64>,
    #[arg(long)]
    json: bool,
}

pub async fn run(data_dir: Option<&Path>, command: SessionCommand) -> Result<ExitCode> {
    match command {
        SessionCommand::Run(args) => {
            let store = database::open_for_run(data_dir)?;
            let code = run_session(&store, args).await;
            store.checkpoint();
            code
        }
        SessionCommand::Resume { id, budget, json } => {
            let store = database::open_for_run(data_dir)?;
            let workbench = workbench(&store)?;
            let code = match workbench.resume_session(&id, budget)? {
                None => {
                    println!("session {id}: nothing is missing; it is complete");
                    Ok(ExitCode::SUCCESS)
                }
                Some(started) => follow(&workbench, started, json).await,
            };
            store.checkpoint();
            code
        }
        SessionCommand::List { json } => {
            let store = Arc::new(database::open(data_dir)?);
            list(&workbench(&store)?, json)
        }
        SessionCommand::Show { id, json } => {
            let store = Arc::new(database::open(data_dir)?);
            let (_, analysis) = workbench(&store)?.analyse_session(&id)?;
            print_analysis(&mut terminal::stdout().lock(), &analysis, json)?;
            Ok(ExitCode::SUCCESS)
        }
        SessionCommand::Cancel { id } => {
            let store = Arc::new(database::open(data_dir)?);
            let session = workbench(&store)?.cancel_session(&id)?;
            println!("session {session}: cancelled");
            store.checkpoint();
            Ok(ExitCode::SUCCESS)
        }
        SessionCommand::Export {
            id,
            format,
            output,
            signoff,
        } => {
            let store = Arc::new(database::open(data_dir)?);
            let workbench = workbench(&store)?;
            let document = if format == "pdf" {
                workbench.export_session_pdf(&id, &super::export::signers(&signoff)?)?
            } else {
                let format = modelbench_engine::session::report::Format::parse(&format)
                    .with_context(|| format!("unknown format '{format}': html, md, json, csv or pdf"))?;
                workbench.export_session(&id, format)?.into_bytes()
            };
            match output {
                Some(path) => super::export::write_report(&path, &document, true, store.path())
                    .with_context(|| format!("cannot write {}", path.display()))?,
                None if format == "pdf" && std::io::stdout().is_terminal() => {
                    bail!("a PDF is not for the terminal: write it with -o FILE (or pipe it)")
                }
                None => terminal::stdout().lock().write_all(&document)?,
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

pub(crate) fn workbench(store: &Arc<Store>) -> Result<Workbench> {
    Ok(Workbench::new(
        store.clone(),
        Arc::new(KeychainCredentials::new(Keychain::os())),
    )?)
}

fn parse_provider_limits(entries: &[String]) -> Result<Vec<(String, usize)>> {
    entries
        .iter()
        .map(|entry| {
            let (provider, limit) = entry
                .split_once('=')
                .with_context(|| format!("--provider-concurrency takes PROVIDER=N, not '{entry}'"))?;
            let limit: usize = limit
                .parse()
                .ok()
                .filter(|limit| *limit > 0)
                .with_context(|| format!("--provider-concurrency {entry}: N must be at least 1"))?;
            Ok((provider.trim().to_owned(), limit))
        })
        .collect()
}

async fn run_session(store: &Arc<Store>, args: SessionRunArgs) -> Result<ExitCode> {
    if args.repeat == 0 {
        bail!("--repeat must be at least 1");
    }
    let (concurrency, auto_concurrency) = args.concurrency.limit_and_auto();
    let suite = match Suite::load(&args.suite) {
        Ok(suite) => suite,
        Err(errors) => bail!("the suite has errors:\n{errors}"),
    };
    let targets = select_targets(store, args.targets.as_deref(), &args.target_names)?;
    let plan = SessionPlan {
        format: SuiteFormat::from_path(&args.suite),
        path: Some(args.suite.display().to_string()),
        targets,
        options: SessionOptions {
            repeat: args.repeat,
            concurrency,
            auto_concurrency,
            lag_threshold_ms: Some(super::run::lag_threshold(args.lag_threshold_ms)?.as_secs_f64() * 1000.0),
            per_provider_concurrency: parse_provider_limits(&args.provider_concurrency)?,
            seed: args.seed.unwrap_or(modelbench_workbench::session::DEFAULT_SEED),
            retries: Some(args.retries),
        },
        budget_usd: args.budget,
        suite,
    };
    let workbench = workbench(store)?;
    let estimate = workbench.estimate_session(&plan);
    if args.estimate {
        let mut out = terminal::stdout().lock();
        if args.json {
            serde_json::to_writer_pretty(
                &mut out,
                &json!({ "suite": plan.suite.suite.name, "hash": plan.suite.hash, "estimate": estimate, "notes": plan.suite.notes }),
            )?;
            writeln!(out)?;
        } else {
            write!(out, "{}", estimate_text(&estimate))?;
            writeln!(out, "nothing sent (--estimate)")?;
        }
        return Ok(ExitCode::SUCCESS);
    }
    if !args.json {
        let mut out = terminal::stdout().lock();
        writeln!(
            out,
            "suite '{}' ({} case(s), hash {}…)",
            plan.suite.suite.name,
            plan.suite.suite.cases().len(),
            &plan.suite.hash[..12.min(plan.suite.hash.len())]
        )?;
        for note in &plan.suite.notes {
            writeln!(out, "note: {note}")?;
        }
        write!(out, "{}", estimate_text(&estimate))?;
        if let Some(budget) = args.budget {
            writeln!(out, "budget: ${budget:.2} (hard cap)")?;
        }
    }
    let started = workbench.start_session(plan)?;
    follow(&workbench, started, args.json).await
}

/// One bar per target while the session runs; then how it ended and where to read it.
async fn follow(workbench: &Workbench, started: StartedSession, json: bool) -> Result<ExitCode> {
    let StartedSession {
        session_id,
        mut live,
        budget,
        calls,
        targets,
        pause: _,
    } = started;
    let canceller = live.canceller();
    let per_target = calls / targets.len().max(1) as u64;
    let bars = (!json && std::io::stderr().is_terminal()).then(|| {
        let group = indicatif::MultiProgress::new();
        let width = targets.iter().map(String::len).max().unwrap_or(8);
        let style =
            indicatif::ProgressStyle::with_template(&format!("{{prefix:{width}}} {{bar:30}} {{pos}}/{{len}}  {{msg}}"))
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar());
        let bars: Vec<indicatif::ProgressBar> = targets
            .iter()
            .map(|name| {
                let bar = group.add(indicatif::ProgressBar::new(per_target));
                bar.set_style(style.clone());
                bar.set_prefix(name.clone());
                bar
            })
            .collect();
        (group, bars)
    });
    if !json {
        println!("session {session_id}: {calls} call(s) over {} target(s)", targets.len());
    }
    let mut errors: HashMap<u32, u64> = HashMap::new();
    let mut spend: HashMap<u32, f64> = HashMap::new();
    let mut poll = tokio::time::interval(Duration::from_millis(500));
    let mut interrupted = false;
    loop {
        tokio::select! {
            event = live.handle.events.recv() => {
                let Some(event) = event else { break };
                if let RunEvent::ResponseFinished(response) = event {
                    let index = response.key.target_index;
                    if response.error.is_some() && !response.complete {
                        *errors.entry(index).or_default() += 1;
                    }
                    *spend.entry(index).or_default() += response.cost_usd.unwrap_or(0.0);
                    if let Some((_, bars)) = &bars
                        && let Some(bar) = bars.get(index as usize)
                    {
                        bar.inc(1);
                        bar.set_message(format!(
                            "{} error(s)  ${:.4}",
                            errors.get(&index).copied().unwrap_or(0),
                            spend.get(&index).copied().unwrap_or(0.0)
                        ));
                    }
                }
            }
            _ = poll.tick() => {
                if workbench.cancel_requested(session_id).unwrap_or(false) {
                    canceller.cancel();
                }
            }
            _ = tokio::signal::ctrl_c(), if !interrupted => {
                interrupted = true;
                eprintln!("\ninterrupted: cancelling; what arrived is kept (resume with `modelbench session resume {session_id}`)");
                canceller.cancel();
            }
        }
    }
    if let Some((_, bars)) = &bars {
        for bar in bars {
            bar.finish();
        }
    }
    let outcome = live.outcome().await?;
    let status = workbench.finish_session(session_id, outcome.cancelled, budget.as_deref())?;
    let (_, analysis) = workbench.analyse_session(&session_id.to_string())?;
    let mut out = terminal::stdout().lock();
    print_analysis(&mut out, &analysis, json)?;
    if !json {
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
            "session {session_id}: {status}. Read it with `modelbench session show {session_id}`{}",
            if status == "completed" {
                ""
            } else {
                "; finish it with `modelbench session resume`"
            }
        )?;
    }
    Ok(match status {
        "completed" => ExitCode::SUCCESS,
        "stopped" => ExitCode::from(4),
        _ => ExitCode::from(130),
    })
}

/// `session show`'s document: the JSON, or the text table.
fn print_analysis(out: &mut impl Write, analysis: &modelbench_engine::session::Analysis, json: bool) -> Result<()> {
    if json {
        // Buffered: standard output is line-buffered, and a large session's document has
        // hundreds of thousands of lines (a write each).
        let mut buffered = std::io::BufWriter::with_capacity(1 << 16, &mut *out);
        serde_json::to_writer_pretty(&mut buffered, analysis)?;
        writeln!(buffered)?;
        buffered.flush()?;
    } else {
        write!(out, "{}", modelbench_engine::session::report::text(analysis))?;
    }
    Ok(())
}

fn estimate_text(estimate: &Estimate) -> String {
    let money = |value: Option<f64>| value.map_or_else(|| "unpriced".to_owned(), |value| format!("${value:.4}"));
    let mut text = format!("estimate: {} call(s)\n", estimate.calls);
    for target in &estimate.targets {
        text.push_str(&format!(
            "  {:<24} {:>6} calls  {:>9} input tokens ({})  output ≤ {}  cost {} – {}\n",
            target.target,
            target.calls,
            target.input_tokens,
            target.tokenizer,
            target
                .max_output_tokens
                .map_or_else(|| "unbounded (no max_output_tokens)".to_owned(), |max| max.to_string()),
            money(target.cost_low_usd),
            money(target.cost_high_usd),
        ));
    }
    text.push_str(&format!(
        "  in all: {} – {}\n",
        money(estimate.cost_low_usd),
        money(estimate.cost_high_usd)
    ));
    if !estimate.unpriced.is_empty() {
        text.push_str(&format!("  no price known for: {}\n", estimate.unpriced.join(", ")));
    }
    text
}

fn list(workbench: &Workbench, json: bool) -> Result<ExitCode> {
    let sessions = workbench.list_sessions()?;
    let mut out = terminal::stdout().lock();
    if json {
        serde_json::to_writer_pretty(&mut out, &sessions)?;
        writeln!(out)?;
        return Ok(ExitCode::SUCCESS);
    }
    if sessions.is_empty() {
        writeln!(out, "no sessions yet: `modelbench session run SUITE`")?;
    }
    for session in sessions {
        writeln!(
            out,
            "{}  {}  {:<11}  {}/{} responses  suite '{}'",
            session.id,
            format_time(session.created_at_ms),
            session.status,
            session.responses,
            session.planned,
            session.suite_name,
        )?;
    }
    Ok(ExitCode::SUCCESS)
}
