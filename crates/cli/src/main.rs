//! `modelbench`: send one prompt (or a batch) to many model targets, stream the answers side by
//! side, and keep every run in the local database. A thin clap layer over the workbench and the
//! engine.
//!
//! This file declares the subcommands and hands each to its module in `commands/`, which holds
//! its arguments and its body: a new subcommand is a `Command` variant, a module and its arm in
//! `dispatch`. What several commands share sits beside this file: `database` (opening it,
//! finding a run), `execute` (a run shown live), `prompts`, `output` and `terminal`.

mod commands;
mod database;
mod execute;
mod output;
mod prompts;
mod terminal;

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Result;
use clap::{Parser, Subcommand};
use commands::{
    bench, cleanup, demo, diff, evidence, export, judge, keys, panel, prices, run, runs, search, session, suite,
    targets,
};

#[derive(Parser)]
#[command(name = "modelbench", version, about = "Compare one prompt across many model targets")]
pub(crate) struct Cli {
    /// Where the database lives (default: the platform data directory).
    #[arg(long, global = true, env = "MODELBENCH_DATA_DIR")]
    data_dir: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Send a prompt (or a prompts file) to every target and compare.
    Run(Box<run::RunArgs>),
    /// Run a keyless comparison against simulated clouds (fakecloud) to see ModelBench work.
    Demo(demo::DemoArgs),
    /// Past runs.
    #[command(subcommand)]
    Runs(runs::RunsCommand),
    /// Evaluation suites: check one before a session runs it.
    #[command(subcommand)]
    Suite(suite::SuiteCommand),
    /// Evaluation sessions: a suite on many targets with repeats, statistics and parity verdicts.
    #[command(subcommand)]
    Session(session::SessionCommand),
    /// Blind human panels over a session's answers: rating packets, ratings, agreement, rankings.
    #[command(subcommand)]
    Panel(panel::PanelCommand),
    /// An LLM judge of a session: `judge SESSION --judge TARGET --pairwise|--rubric FILE|--checks`
    /// (pairs asked in both orders), and `judge show SESSION`.
    Judge(Box<judge::JudgeArgs>),
    /// A stored run as a report: md, csv, json, html or pdf.
    Export(export::ExportArgs),
    /// Evidence bundles of sessions: export (sealed and optionally signed), verify, keygen.
    #[command(subcommand)]
    Evidence(evidence::EvidenceCommand),
    /// Full-text search over prompts and responses.
    Search(search::SearchArgs),
    /// Where a run's answers differ (or files'), and how alike they all are.
    Diff(diff::DiffArgs),
    /// Targets saved in the database.
    #[command(subcommand)]
    Targets(targets::TargetsCommand),
    /// Keys in the OS keychain, named by targets with `key = "NAME"`.
    #[command(subcommand)]
    Keys(keys::KeysCommand),
    /// Prices runs are costed at: the catalog and your own (`prices set`), which win.
    #[command(subcommand)]
    Prices(prices::PricesCommand),
    /// Measure the engine: 200 streaming calls against fakecloud at several concurrencies.
    Bench(bench::BenchArgs),
    /// The database file itself.
    #[command(subcommand)]
    Db(cleanup::DbCommand),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("MODELBENCH_LOG").unwrap_or_else(|_| "warn".into()),
        )
        // Log lines quote cloud errors: they go through the same gate as everything printed.
        .with_writer(terminal::stderr)
        .with_ansi(false)
        .init();
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("error: cannot start the async runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(dispatch(cli)) {
        Ok(code) => code,
        // The reader went away (`modelbench runs show … | head`): stop quietly, like any filter.
        Err(error)
            if error.chain().any(|cause| {
                cause
                    .downcast_ref::<std::io::Error>()
                    .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
            }) =>
        {
            ExitCode::SUCCESS
        }
        Err(error) => {
            let _ = writeln!(terminal::stderr(), "error: {}", error_text(&error));
            ExitCode::from(2)
        }
    }
}

/// The error and its causes, joined with `: `, leaving out a cause whose text is already there
/// (`database: X` caused by `X`), so nothing is said twice.
fn error_text(error: &anyhow::Error) -> String {
    let mut text = String::new();
    for cause in error.chain() {
        let cause = cause.to_string();
        if text.is_empty() {
            text = cause;
        } else if !text.contains(&cause) {
            text.push_str(": ");
            text.push_str(&cause);
        }
    }
    text
}

/// Hands the command to its module, with the database opened as the command needs it.
pub(crate) async fn dispatch(cli: Cli) -> Result<ExitCode> {
    let data_dir = cli.data_dir.as_deref();
    match cli.command {
        Command::Bench(args) => return bench::run(args).await,
        // Commands that write end with a WAL checkpoint, so `modelbench.db` alone holds their data
        // (a copy of that file without its `-wal` is complete).
        Command::Run(args) => {
            let store = database::open_for_run(data_dir)?;
            let code = run::run(&store, *args).await;
            store.checkpoint();
            return code;
        }
        Command::Demo(args) => {
            let store = database::open_for_run(data_dir)?;
            let code = demo::run(&store, args).await;
            store.checkpoint();
            return code;
        }
        Command::Runs(command) => return runs::run(data_dir, command).await,
        Command::Suite(command) => return suite::run(command),
        Command::Session(command) => return session::run(data_dir, command).await,
        Command::Panel(command) => return panel::run(data_dir, command).await,
        Command::Judge(args) => return judge::run(data_dir, *args).await,
        Command::Evidence(command) => return evidence::run(data_dir, command).await,
        Command::Db(command) => cleanup::db(&database::open(data_dir)?, &command)?,
        Command::Export(args) => export::run(&database::open(data_dir)?, args)?,
        Command::Search(args) => search::run(&database::open(data_dir)?, &args)?,
        Command::Diff(args) => diff::run(data_dir, args)?,
        Command::Targets(command) => {
            let store = database::open(data_dir)?;
            let result = targets::run(&store, command);
            store.checkpoint();
            result?;
        }
        Command::Prices(command) => {
            let store = database::open(data_dir)?;
            let result = prices::run(&store, command);
            store.checkpoint();
            result?;
        }
        Command::Keys(command) => keys::run(data_dir, command)?,
    }
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    #[test]
    fn error_text_says_each_cause_once() {
        let io = std::io::Error::new(std::io::ErrorKind::PermissionDenied, "Permission denied (os error 13)");
        let error = anyhow::Error::from(modelbench_engine::Error::Io(io)).context("cannot open the database at x");
        assert_eq!(
            super::error_text(&error),
            "cannot open the database at x: I/O: Permission denied (os error 13)"
        );
    }
}
