//! `modelbench`: send one prompt (or a batch) to many model targets, stream the answers side by
//! side, and keep every run in the local database. A thin clap layer over the engine.

mod commands;
mod output;
mod prompts;
mod terminal;

use std::io::{IsTerminal, Read, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{Context, Result, bail};
use clap::{Args, Parser, Subcommand};
use commands::{bench, cleanup, demo, diff, export, keys, prices};
use modelbench_engine::credentials::{CredentialSource, KeychainCredentials};
use modelbench_engine::keychain::Keychain;
use modelbench_engine::runner::{RunEvent, RunOptions, RunOutcome, RunPlan};
use modelbench_engine::store::Store;
use modelbench_engine::target::{Api, DeploymentType, Publisher, TimeoutOverrides, load_targets_file, targets_to_toml};
use modelbench_engine::{Parameters, Prompt, ProviderKind, StoredRun, Target};
use modelbench_workbench::Workbench;
use serde_json::json;

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
    Run(Box<RunArgs>),
    /// Run a keyless comparison against simulated clouds (fakecloud) to see ModelBench work.
    Demo {
        /// Print the result as JSON instead of the live view.
        #[arg(long)]
        json: bool,
    },
    /// Past runs.
    #[command(subcommand)]
    Runs(RunsCommand),
    /// A stored run as a report: md, csv, json or html.
    Export(export::ExportArgs),
    /// Full-text search over prompts and responses.
    Search {
        text: String,
        #[arg(long, default_value_t = 20)]
        limit: usize,
        #[arg(long)]
        json: bool,
    },
    /// Where a run's answers differ (or files'), and how alike they all are.
    Diff(diff::DiffArgs),
    /// Targets saved in the database.
    #[command(subcommand)]
    Targets(TargetsCommand),
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

#[derive(Args)]
struct RunArgs {
    /// The prompt; `-` reads it from stdin.
    prompt: Option<String>,
    /// A TOML file of `[[target]]` tables (default: the targets saved in the database).
    #[arg(long)]
    targets: Option<PathBuf>,
    /// Only these targets (repeatable).
    #[arg(long = "target", value_name = "NAME")]
    target_names: Vec<String>,
    /// A batch of prompts: JSONL (`{"prompt":…, "system":…}`) or one prompt per line.
    #[arg(long, conflicts_with = "prompt")]
    prompts: Option<PathBuf>,
    #[arg(long)]
    system: Option<String>,
    #[arg(long)]
    temperature: Option<f64>,
    #[arg(long)]
    top_p: Option<f64>,
    #[arg(long)]
    max_tokens: Option<u32>,
    /// A stop sequence (repeatable).
    #[arg(long = "stop")]
    stop: Vec<String>,
    #[arg(long)]
    seed: Option<i64>,
    /// Ask every target this many times per prompt.
    #[arg(long, default_value_t = 1)]
    repeat: u32,
    /// Requests in flight at once, across all targets.
    #[arg(long, default_value_t = 16)]
    concurrency: usize,
    /// Requests in flight at once per provider, e.g. `ollama=1` (repeatable).
    #[arg(long = "provider-concurrency", value_name = "PROVIDER=N")]
    provider_concurrency: Vec<String>,
    /// Retries for infrastructure failures (429, 5xx, overloaded, connect) before the first token.
    #[arg(long, default_value_t = 2)]
    retries: u32,
    #[command(flatten)]
    timeouts: TimeoutArgs,
    /// Print one JSON document with every result at the end.
    #[arg(long)]
    json: bool,
    /// Print each stream event as a JSON line as it happens.
    #[arg(long)]
    events: bool,
    /// The most output (text and reasoning) one response may stream, in MiB; beyond it the
    /// response ends as incomplete, what came before kept.
    #[arg(long, value_name = "MIB", default_value_t = 16, value_parser = clap::value_parser!(u32).range(1..=4096))]
    max_output_mib: u32,
}

#[derive(Subcommand)]
enum RunsCommand {
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

#[derive(Subcommand)]
enum TargetsCommand {
    /// Save a target (replaces one with the same name).
    Add(Box<AddTargetArgs>),
    List {
        #[arg(long)]
        json: bool,
    },
    Remove {
        name: String,
    },
    /// Save every target of a TOML file, replacing same-named ones.
    Import {
        file: PathBuf,
    },
}

#[derive(Args)]
struct AddTargetArgs {
    #[arg(long)]
    name: String,
    /// openai | azure | anthropic | ollama | bedrock | gemini | vertex
    #[arg(long)]
    provider: String,
    #[arg(long)]
    model: String,
    /// chat | responses (openai, azure); converse | invoke | mantle-responses | mantle-chat |
    /// mantle-messages (bedrock)
    #[arg(long)]
    api: Option<String>,
    #[arg(long)]
    base_url: Option<String>,
    /// Azure: the resource name.
    #[arg(long)]
    resource: Option<String>,
    /// Azure classic path: the deployment (with --api-version).
    #[arg(long)]
    deployment: Option<String>,
    #[arg(long)]
    api_version: Option<String>,
    /// The name of a key in the OS keychain (`modelbench keys set NAME`), tried first.
    #[arg(long, value_name = "NAME")]
    key: Option<String>,
    /// Where the key comes from when the keychain has none: `env:VARIABLE`.
    #[arg(long)]
    api_key_ref: Option<String>,
    /// OpenAI: the organization header.
    #[arg(long)]
    organization: Option<String>,
    /// OpenAI and Bedrock Mantle: the OpenAI-Project header. Vertex: the Google Cloud project id.
    #[arg(long)]
    project: Option<String>,
    /// Bedrock: the AWS region.
    #[arg(long)]
    region: Option<String>,
    /// Bedrock: the AWS profile to take credentials from.
    #[arg(long)]
    profile: Option<String>,
    /// Vertex: the location (`us-east5`, `global`).
    #[arg(long)]
    location: Option<String>,
    /// Vertex: google | anthropic
    #[arg(long)]
    publisher: Option<String>,
    /// Anthropic: the `anthropic-version` header.
    #[arg(long)]
    anthropic_version: Option<String>,
    /// An extra non-secret header (repeatable).
    #[arg(long = "header", value_name = "NAME=VALUE")]
    headers: Vec<String>,
    /// A label shown next to the name.
    #[arg(long)]
    label: Option<String>,
    /// The model as its maker names it (`gpt-5.4`): the model an Azure deployment runs.
    #[arg(long)]
    base_model: Option<String>,
    /// Azure: global | data-zone-us | data-zone-eu | regional (default global); sets the price.
    #[arg(long)]
    deployment_type: Option<String>,
    #[command(flatten)]
    timeouts: TimeoutArgs,
}

/// Timeout flags, shared by `run` (the run's defaults) and `targets add` (one target's overrides).
#[derive(Args)]
struct TimeoutArgs {
    #[arg(long, value_name = "MS")]
    connect_timeout_ms: Option<u64>,
    #[arg(long, value_name = "MS")]
    first_token_timeout_ms: Option<u64>,
    #[arg(long, value_name = "MS")]
    idle_timeout_ms: Option<u64>,
    #[arg(long, value_name = "MS")]
    total_timeout_ms: Option<u64>,
}

impl TimeoutArgs {
    fn overrides(&self) -> TimeoutOverrides {
        TimeoutOverrides {
            connect_ms: self.connect_timeout_ms,
            first_token_ms: self.first_token_timeout_ms,
            idle_ms: self.idle_timeout_ms,
            total_ms: self.total_timeout_ms,
        }
    }
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

pub(crate) async fn dispatch(cli: Cli) -> Result<ExitCode> {
    match cli.command {
        Command::Bench(args) => return bench::run(args).await,
        // Commands that write end with a WAL checkpoint, so `modelbench.db` alone holds their data
        // (a copy of that file without its `-wal` is complete).
        Command::Run(args) => {
            let store = Arc::new(open_store(cli.data_dir.as_deref())?);
            // Before anything is sent (and paid for): a run that cannot be stored is refused.
            store.check_ready_for_run()?;
            let code = run(&store, *args).await;
            store.checkpoint();
            return code;
        }
        Command::Demo { json } => {
            let store = Arc::new(open_store(cli.data_dir.as_deref())?);
            store.check_ready_for_run()?;
            let code = demo::run(&store, json).await;
            store.checkpoint();
            return code;
        }
        Command::Runs(RunsCommand::Resume {
            run_id,
            concurrency,
            retries,
            json,
        }) => {
            let store = Arc::new(open_store(cli.data_dir.as_deref())?);
            store.check_ready_for_run()?;
            let code = resume(&store, &run_id, concurrency, retries, json).await;
            store.checkpoint();
            return code;
        }
        Command::Runs(RunsCommand::Delete(args)) => cleanup::delete(&open_store(cli.data_dir.as_deref())?, &args)?,
        Command::Runs(RunsCommand::Prune(args)) => cleanup::prune(&open_store(cli.data_dir.as_deref())?, &args)?,
        Command::Runs(command) => runs(&open_store(cli.data_dir.as_deref())?, command)?,
        Command::Db(command) => cleanup::db(&open_store(cli.data_dir.as_deref())?, &command)?,
        Command::Export(args) => export::run(&open_store(cli.data_dir.as_deref())?, args)?,
        Command::Search { text, limit, json } => search(&open_store(cli.data_dir.as_deref())?, &text, limit, json)?,
        Command::Diff(args) => diff::run(cli.data_dir.as_deref(), args)?,
        Command::Targets(command) => {
            let store = open_store(cli.data_dir.as_deref())?;
            let result = targets(&store, command);
            store.checkpoint();
            result?;
        }
        Command::Prices(command) => {
            let store = open_store(cli.data_dir.as_deref())?;
            let result = prices::run(&store, command);
            store.checkpoint();
            result?;
        }
        Command::Keys(command) => keys::run(cli.data_dir.as_deref(), command)?,
    }
    Ok(ExitCode::SUCCESS)
}

/// The database of the data dir (`--data-dir`, `MODELBENCH_DATA_DIR` or the platform's).
fn open_store(data_dir: Option<&Path>) -> Result<Store> {
    let dir = modelbench_workbench::data_dir::resolve(data_dir)
        .context("cannot find the platform data directory; pass --data-dir")?;
    Ok(modelbench_workbench::data_dir::open_store(&dir)?)
}

/// The run `text` names (an id or a unique prefix of one).
fn find_run(store: &Store, text: &str) -> Result<StoredRun> {
    modelbench_workbench::history::find(store, text).map_err(|error| match error {
        modelbench_workbench::Error::NoRunMatches(text) => {
            anyhow::anyhow!("no run matches '{text}' (see `modelbench runs list`)")
        }
        other => other.into(),
    })
}

fn read_prompt(prompt: Option<String>, args: &RunArgs) -> Result<Vec<Prompt>> {
    if let Some(path) = &args.prompts {
        let text =
            std::fs::read_to_string(path).with_context(|| format!("cannot read prompts file {}", path.display()))?;
        return prompts::parse_prompts_file(&text, &path.display().to_string(), args.system.as_deref());
    }
    let text = match prompt.as_deref() {
        Some("-") => {
            let mut text = String::new();
            std::io::stdin()
                .read_to_string(&mut text)
                .context("cannot read the prompt from stdin")?;
            prompts::without_byte_order_mark(&text).to_owned()
        }
        Some(text) => text.to_owned(),
        None => bail!("give a PROMPT (or `-` for stdin) or --prompts FILE"),
    };
    if text.trim().is_empty() {
        bail!("the prompt is empty");
    }
    Ok(vec![Prompt::user(text).with_system(args.system.clone())])
}

fn select_targets(store: &Store, args: &RunArgs) -> Result<Vec<Target>> {
    let (available, origin) = match &args.targets {
        Some(path) => (load_targets_file(path)?, path.display().to_string()),
        None => (store.list_targets()?, "the database".to_owned()),
    };
    if available.is_empty() {
        bail!("no targets in {origin}: pass --targets FILE or save some with `modelbench targets import FILE`");
    }
    if args.target_names.is_empty() {
        return Ok(available);
    }
    args.target_names
        .iter()
        .map(|name| {
            available
                .iter()
                .find(|target| &target.name == name)
                .cloned()
                .with_context(|| {
                    let known: Vec<&str> = available.iter().map(|target| target.name.as_str()).collect();
                    format!("unknown target '{name}' (known in {origin}: {})", known.join(", "))
                })
        })
        .collect()
}

fn run_options(args: &RunArgs) -> Result<RunOptions> {
    check_run_numbers(args)?;
    let mut options = RunOptions {
        concurrency: args.concurrency,
        repeat: args.repeat,
        ..RunOptions::default()
    };
    options.retry.max_retries = args.retries;
    options.max_output_bytes = (args.max_output_mib as usize) << 20;
    options.timeouts = options.timeouts.with_overrides(&args.timeouts.overrides());
    for entry in &args.provider_concurrency {
        let (provider, limit) = entry
            .split_once('=')
            .with_context(|| format!("--provider-concurrency '{entry}' must be PROVIDER=N"))?;
        let provider = ProviderKind::parse(provider).with_context(|| format!("unknown provider '{provider}'"))?;
        let limit: usize = limit.parse().with_context(|| format!("'{limit}' is not a number"))?;
        if limit == 0 {
            bail!("--provider-concurrency '{entry}': the limit must be at least 1");
        }
        options.per_provider_concurrency.insert(provider, limit);
    }
    Ok(options)
}

/// Refuses numbers that would otherwise be clamped, sent as `null` or make every request fail,
/// before anything is sent.
fn check_run_numbers(args: &RunArgs) -> Result<()> {
    if args.repeat == 0 {
        bail!("--repeat must be at least 1");
    }
    if args.concurrency == 0 {
        bail!("--concurrency must be at least 1");
    }
    for (flag, value) in [("--temperature", args.temperature), ("--top-p", args.top_p)] {
        if let Some(value) = value
            && !value.is_finite()
        {
            bail!("{flag} must be a finite number, not {value}");
        }
    }
    if let Some(field) = args.timeouts.overrides().zero_field() {
        // `first_token_ms` is `--first-token-timeout-ms`.
        let flag = format!("--{}-timeout-ms", field.trim_end_matches("_ms").replace('_', "-"));
        bail!("{flag} must be at least 1 (0 would fail every request)");
    }
    Ok(())
}

async fn run(store: &Arc<Store>, args: RunArgs) -> Result<ExitCode> {
    let targets = select_targets(store, &args)?;
    let prompts = read_prompt(args.prompt.clone(), &args)?;
    let parameters = Parameters {
        temperature: args.temperature,
        top_p: args.top_p,
        max_output_tokens: args.max_tokens,
        stop_sequences: args.stop.clone(),
        seed: args.seed,
    };
    let plan = RunPlan {
        targets,
        prompts,
        parameters,
        options: run_options(&args)?,
    };
    let view = ViewMode {
        json: args.json,
        events: args.events,
    };
    let outcome = execute(store, plan, Arc::new(KeychainCredentials::new(Keychain::os())), view).await?;
    Ok(run_exit_code(&outcome))
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

/// The exit code of a finished run: 128 + the signal that cancelled it (130 for Ctrl-C, 143 for
/// SIGTERM, 129 for SIGHUP), else 3 when the database could not store all of it (its answers
/// were printed all the same), else 0.
pub fn run_exit_code(outcome: &Executed) -> ExitCode {
    if outcome.cancelled {
        ExitCode::from(128 + outcome.signal.unwrap_or(2))
    } else if let Some(error) = &outcome.storage_error {
        eprintln!("error: the database could not store all of this run (the answers above are complete): {error}");
        ExitCode::from(3)
    } else {
        ExitCode::SUCCESS
    }
}

/// A finished run as the CLI ran it.
pub struct Executed {
    pub outcome: RunOutcome,
    /// The number of the signal that cancelled the run (2 for Ctrl-C), if one did.
    pub signal: Option<u8>,
}

impl std::ops::Deref for Executed {
    type Target = RunOutcome;

    fn deref(&self) -> &RunOutcome {
        &self.outcome
    }
}

/// Resolves with the number of the first of SIGINT, SIGTERM or SIGHUP to arrive: each cancels a
/// run the same way (partial answers kept, the run recorded as cancelled), whether it comes from
/// Ctrl-C, `kill`, `timeout`, systemd, `docker stop`, a CI cancel or a closed SSH session.
async fn cancelling_signal() -> u8 {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let (Ok(mut terminate), Ok(mut hangup)) = (signal(SignalKind::terminate()), signal(SignalKind::hangup()))
        else {
            let _ = tokio::signal::ctrl_c().await;
            return 2;
        };
        tokio::select! {
            _ = tokio::signal::ctrl_c() => 2,
            _ = terminate.recv() => 15,
            _ = hangup.recv() => 1,
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
        2
    }
}

#[derive(Clone, Copy)]
pub struct ViewMode {
    pub json: bool,
    pub events: bool,
}

/// Runs a plan with live output, then prints the summary (or the JSON document).
pub async fn execute(
    store: &Arc<Store>,
    plan: RunPlan,
    credentials: Arc<dyn CredentialSource>,
    view: ViewMode,
) -> Result<Executed> {
    execute_with(store, plan, credentials, view, None).await
}

/// [`execute`], or with `resume` the run's own plan sent again into it for the given responses.
async fn execute_with(
    store: &Arc<Store>,
    plan: RunPlan,
    credentials: Arc<dyn CredentialSource>,
    view: ViewMode,
    resume: Option<(
        &modelbench_engine::RunRecord,
        std::collections::HashSet<modelbench_engine::ResponseKey>,
    )>,
) -> Result<Executed> {
    let mut plan = plan;
    // The summary and `--json` read the responses back from the database, so the run keeps
    // none of them: its memory depends on its concurrency, not on its size.
    plan.options.keep_responses = false;
    let total_responses = plan.targets.len() * plan.prompts.len() * plan.options.repeat.max(1) as usize;
    let batch = plan.prompts.len() > 1 || plan.options.repeat > 1;
    let names: Vec<String> = plan.targets.iter().map(|target| target.name.clone()).collect();
    let workbench = Workbench::new(store.clone(), credentials)?;
    let resending = resume.as_ref().map(|(_, only)| only.len());
    let mut started = match resume {
        Some((record, only)) => workbench.resume_plan(plan, record, only)?,
        None => workbench.start_plan(plan)?,
    };
    let cancel_on_interrupt = started.canceller();
    let received = Arc::new(std::sync::atomic::AtomicU8::new(0));
    let received_by_task = Arc::clone(&received);
    let interrupt = tokio::spawn(async move {
        let signal = cancelling_signal().await;
        received_by_task.store(signal, std::sync::atomic::Ordering::SeqCst);
        let name = match signal {
            15 => "terminated (SIGTERM)",
            1 => "hung up (SIGHUP)",
            _ => "interrupted",
        };
        eprintln!("\n{name}: cancelling; partial answers are kept");
        cancel_on_interrupt.cancel();
    });

    let stdout = terminal::stdout();
    let live_text = !view.json && !view.events && !batch;
    let progress = (batch && std::io::stderr().is_terminal() && !view.events).then(|| {
        let bar = indicatif::ProgressBar::new(resending.unwrap_or(total_responses) as u64);
        bar.set_style(
            indicatif::ProgressStyle::with_template("{bar:40} {pos}/{len} responses  {elapsed_precise}  {msg}")
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        );
        bar
    });
    if !view.json && !view.events {
        let mut out = stdout.lock();
        writeln!(
            out,
            "run {}: {} target(s) × {} response(s) each",
            started.run_id,
            names.len(),
            total_responses / names.len().max(1)
        )?;
        if let Some(count) = resending {
            writeln!(
                out,
                "resuming: sending the {count} missing or unfinished response(s) again"
            )?;
        }
    }
    let mut live = output::LiveView::new(&names, batch);
    let mut failures = 0usize;
    while let Some(event) = started.handle.events.recv().await {
        let mut out = stdout.lock();
        match &event {
            RunEvent::Stream(stamped) => {
                if view.events {
                    serde_json::to_writer(&mut out, stamped)?;
                    writeln!(out)?;
                } else if live_text {
                    live.on_event(stamped, &mut out)?;
                }
            }
            RunEvent::ResponseFinished(response) => {
                if live_text {
                    live.on_response_finished(response, &mut out)?;
                }
                if response.error.is_some() {
                    failures += 1;
                }
                if let Some(bar) = &progress {
                    bar.inc(1);
                    if failures > 0 {
                        bar.set_message(format!("{failures} failed"));
                    }
                }
            }
        }
    }
    if let Some(bar) = &progress {
        bar.finish_and_clear();
    }
    interrupt.abort();
    let outcome = started.handle.outcome().await?;
    let mut out = std::io::BufWriter::new(stdout.lock());
    if view.json {
        output::write_results_document(&mut out, &outcome.run.id.to_string(), outcome.cancelled, |visit| {
            each_result(store, &outcome, visit)
        })?;
    } else if !view.events {
        writeln!(out)?;
        let mut table = output::SummaryTable::new(batch);
        each_result(store, &outcome, &mut |response| {
            table.measure(response);
            Ok(())
        })?;
        write!(out, "{}", table.header())?;
        each_result(store, &outcome, &mut |response| write!(out, "{}", table.row(response)))?;
        write!(out, "{}", table.notes())?;
        let mut errors = 0_usize;
        each_result(store, &outcome, &mut |response| {
            // A response cancelled before it was sent failed nothing: it is counted below.
            match &response.error {
                Some(error) if response.attempts > 0 => {
                    if errors == 0 {
                        writeln!(out, "\nerrors:")?;
                    }
                    errors += 1;
                    writeln!(out, "  {error}")
                }
                _ => Ok(()),
            }
        })?;
        if errors > 0 {
            writeln!(out)?;
        }
        if outcome.tally.never_sent > 0 {
            writeln!(
                out,
                "{} of {} responses were cancelled before they were sent",
                outcome.tally.never_sent,
                outcome.tally.total()
            )?;
        }
        writeln!(out, "stored as run {} in {}", outcome.run.id, store.path().display())?;
    }
    out.flush()?;
    let signal = Some(received.load(std::sync::atomic::Ordering::SeqCst)).filter(|signal| *signal != 0);
    Ok(Executed { outcome, signal })
}

/// Hands each response of the finished run to `visit`, in prompt, target, repeat order, read
/// back from the database one at a time (a run keeps none of them in memory). Responses the
/// store could not save come from the outcome instead, so a storage failure never withholds an
/// answer that arrived.
fn each_result(
    store: &Store,
    outcome: &RunOutcome,
    visit: &mut dyn FnMut(&modelbench_engine::ResponseRecord) -> std::io::Result<()>,
) -> Result<()> {
    let mut unsaved = outcome.responses.iter().peekable();
    let read = store.for_each_response(outcome.run.id, |stored| {
        while let Some(response) = unsaved.next_if(|response| response.key < stored.key) {
            visit(response)?;
        }
        match unsaved.next_if(|response| response.key == stored.key) {
            Some(response) => visit(response)?,
            None => visit(&stored)?,
        }
        Ok(())
    });
    if let Err(error) = read {
        // Whatever the database cannot give back, the outcome's records still can.
        if outcome.responses.is_empty() {
            return Err(error.into());
        }
        tracing::error!(%error, "cannot read the run back from the database");
    }
    for response in unsaved {
        visit(response)?;
    }
    Ok(())
}

fn runs(store: &Store, command: RunsCommand) -> Result<()> {
    let mut out = terminal::stdout().lock();
    match command {
        RunsCommand::List { limit, json } => {
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
        }
        // Dispatched before: it runs, so it needs the async runtime.
        RunsCommand::Resume { .. } | RunsCommand::Delete(_) | RunsCommand::Prune(_) => {
            bail!("this `runs` command is handled by dispatch")
        }
        RunsCommand::Show { run_id, json } => {
            let run = find_run(store, &run_id)?;
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
                let why = match run.status.as_str() {
                    modelbench_engine::store::RUN_STATUS_INTERRUPTED => {
                        " (the run's process stopped before it sent them; see `modelbench runs list`)"
                    }
                    modelbench_engine::store::RUN_STATUS_CANCELLED => " (the run was cancelled first)",
                    modelbench_engine::store::RUN_STATUS_RUNNING => " yet (the run is still going)",
                    _ => "",
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
                    match (response.complete, run.status.as_str(), &response.error) {
                        (true, _, _) => "",
                        // Rebuilt from its events: it is streaming right now.
                        (false, modelbench_engine::store::RUN_STATUS_RUNNING, None) => ", still running",
                        (false, _, _) => ", incomplete",
                    }
                )?;
                writeln!(out, "{}", response.text)?;
                if let Some(error) = &response.error {
                    writeln!(out, "✗ {error}")?;
                }
            }
        }
    }
    Ok(())
}

fn search(store: &Store, text: &str, limit: usize, json: bool) -> Result<()> {
    if limit == 0 {
        bail!("--limit must be at least 1");
    }
    let hits = store.search(text, limit)?;
    let mut out = terminal::stdout().lock();
    if json {
        serde_json::to_writer_pretty(&mut out, &hits)?;
        writeln!(out)?;
        return Ok(());
    }
    if hits.is_empty() {
        writeln!(out, "nothing matches '{text}'")?;
    }
    for hit in hits {
        let place = match &hit.target {
            Some(target) => format!("{} #{} {target}", hit.kind, hit.prompt_index + 1),
            None => format!("{} #{}", hit.kind, hit.prompt_index + 1),
        };
        writeln!(out, "{}  {place}: {}", hit.run_id, hit.snippet.replace('\n', " "))?;
    }
    Ok(())
}

fn targets(store: &Store, command: TargetsCommand) -> Result<()> {
    let mut out = terminal::stdout().lock();
    match command {
        TargetsCommand::Add(args) => {
            let target = target_from_args(*args)?;
            target.validate()?;
            store.save_target(&target)?;
            writeln!(out, "saved target '{}'", target.name)?;
        }
        TargetsCommand::List { json } => {
            let targets = store.list_targets()?;
            if json {
                // Each target as saved, plus the base model it resolves to (`null`: an Azure
                // deployment without `base_model`, resolved from its responses).
                let listed: Vec<serde_json::Value> = targets
                    .iter()
                    .map(|target| {
                        let mut value = serde_json::to_value(target)?;
                        if let Some(object) = value.as_object_mut() {
                            object.insert(
                                "base_model_resolved".to_owned(),
                                json!(modelbench_engine::identity::base_model(target, None)),
                            );
                        }
                        Ok(value)
                    })
                    .collect::<serde_json::Result<_>>()?;
                serde_json::to_writer_pretty(&mut out, &listed)?;
                writeln!(out)?;
            } else if targets.is_empty() {
                writeln!(
                    out,
                    "no saved targets: `modelbench targets import FILE` or `targets add`"
                )?;
            } else {
                // Each target as TOML (importable as is), under a comment with its base model.
                for target in &targets {
                    let base_model = modelbench_engine::identity::base_model(target, None).unwrap_or_else(|| {
                        "from the response (set base_model to name the deployment's model)".to_owned()
                    });
                    writeln!(out, "# base model: {base_model}")?;
                    writeln!(out, "{}", targets_to_toml(std::slice::from_ref(target)).trim_end())?;
                    writeln!(out)?;
                }
            }
        }
        TargetsCommand::Remove { name } => {
            if !store.remove_target(&name)? {
                bail!("no saved target named '{name}'");
            }
            writeln!(out, "removed target '{name}'")?;
        }
        TargetsCommand::Import { file } => {
            let targets = load_targets_file(&file)?;
            for target in &targets {
                store.save_target(target)?;
            }
            writeln!(out, "imported {} target(s) from {}", targets.len(), file.display())?;
        }
    }
    Ok(())
}

/// A target from `targets add` flags; `Target::validate` judges the combination.
fn target_from_args(args: AddTargetArgs) -> Result<Target> {
    let provider = ProviderKind::parse(&args.provider).with_context(|| {
        let known: Vec<&str> = ProviderKind::ALL.iter().map(|kind| kind.as_str()).collect();
        format!("unknown provider '{}' ({})", args.provider, known.join(", "))
    })?;
    let mut target = Target::new(args.name, provider, args.model);
    target.api = args
        .api
        .map(|api| {
            Api::parse(&api).with_context(|| {
                let known: Vec<&str> = Api::ALL.iter().map(|api| api.as_str()).collect();
                format!("unknown api '{api}' ({})", known.join(", "))
            })
        })
        .transpose()?;
    target.deployment_type = args
        .deployment_type
        .map(|kind| {
            DeploymentType::parse(&kind).with_context(|| {
                let known: Vec<&str> = DeploymentType::ALL.iter().map(|kind| kind.as_str()).collect();
                format!("unknown deployment type '{kind}' ({})", known.join(", "))
            })
        })
        .transpose()?;
    target.base_model = args.base_model;
    target.publisher = match args.publisher.as_deref() {
        None => None,
        Some("google") => Some(Publisher::Google),
        Some("anthropic") => Some(Publisher::Anthropic),
        Some(other) => bail!("unknown publisher '{other}' (google, anthropic)"),
    };
    for header in &args.headers {
        let (name, value) = header
            .split_once('=')
            .with_context(|| format!("--header '{header}' must be NAME=VALUE"))?;
        target.headers.insert(name.trim().to_owned(), value.trim().to_owned());
    }
    target.base_url = args.base_url;
    target.resource = args.resource;
    target.deployment = args.deployment;
    target.api_version = args.api_version;
    target.key = args.key;
    target.api_key_ref = args.api_key_ref;
    target.organization = args.organization;
    target.project = args.project;
    target.region = args.region;
    target.profile = args.profile;
    target.location = args.location;
    target.anthropic_version = args.anthropic_version;
    target.label = args.label;
    target.timeouts = args.timeouts.overrides();
    Ok(target)
}

/// `YYYY-MM-DD HH:MM:SS` UTC from Unix milliseconds.
pub fn format_time(unix_ms: i64) -> String {
    modelbench_engine::record::utc_date_time(unix_ms)
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

    /// `run` with `arguments` (split on whitespace) as far as its options.
    fn run_options(arguments: &str) -> anyhow::Result<super::RunOptions> {
        use clap::Parser;
        let words = ["modelbench", "run"].into_iter().chain(arguments.split_whitespace());
        let cli = super::Cli::try_parse_from(words)?;
        let super::Command::Run(args) = cli.command else {
            unreachable!("parsed as run");
        };
        super::run_options(&args)
    }

    #[test]
    fn numbers_that_would_be_clamped_or_fail_every_request_are_refused() {
        for (arguments, flag) in [
            ("--repeat 0 hi", "--repeat"),
            ("--concurrency 0 hi", "--concurrency"),
            ("--provider-concurrency openai=0 hi", "--provider-concurrency"),
            ("--total-timeout-ms 0 hi", "--total-timeout-ms"),
            ("--connect-timeout-ms 0 hi", "--connect-timeout-ms"),
            ("--idle-timeout-ms 0 hi", "--idle-timeout-ms"),
            ("--first-token-timeout-ms 0 hi", "--first-token-timeout-ms"),
            ("--temperature NaN hi", "--temperature"),
            ("--temperature inf hi", "--temperature"),
            ("--top-p inf hi", "--top-p"),
        ] {
            let error = run_options(arguments).expect_err(arguments);
            assert!(format!("{error:#}").contains(flag), "{arguments}: {error:#}");
        }
        let options = run_options("--repeat 2 --concurrency 3 --temperature 0.5 hi").expect("fine");
        assert_eq!((options.repeat, options.concurrency), (2, 3));
    }

    #[test]
    fn formats_utc_times() {
        assert_eq!(super::format_time(0), "1970-01-01 00:00:00");
        assert_eq!(super::format_time(1_795_000_000_000), "2026-11-18 11:06:40");
    }

    /// `targets add` with `arguments` (split on whitespace), validated as the command does.
    fn added(arguments: &str) -> anyhow::Result<super::Target> {
        use clap::Parser;
        let words = ["modelbench", "targets", "add"]
            .into_iter()
            .chain(arguments.split_whitespace());
        let cli = super::Cli::try_parse_from(words)?;
        let super::Command::Targets(super::TargetsCommand::Add(args)) = cli.command else {
            unreachable!("parsed as targets add");
        };
        let target = super::target_from_args(*args)?;
        target.validate()?;
        Ok(target)
    }

    #[test]
    fn targets_add_sets_every_cloud_field() {
        let bedrock = added(
            "--name b --provider bedrock --model anthropic.claude --region eu-west-1 --profile prod \
             --api invoke --key aws-work --first-token-timeout-ms 5000",
        )
        .expect("bedrock");
        assert_eq!(bedrock.region.as_deref(), Some("eu-west-1"));
        assert_eq!(bedrock.profile.as_deref(), Some("prod"));
        assert_eq!(bedrock.api, Some(super::Api::Invoke));
        assert_eq!(bedrock.key.as_deref(), Some("aws-work"));
        assert_eq!(bedrock.timeouts.first_token_ms, Some(5000));
        let vertex = added(
            "--name v --provider vertex --model claude --project p-1 --location us-east5 \
             --publisher anthropic --header x-route=eu",
        )
        .expect("vertex");
        assert_eq!(vertex.publisher, Some(super::Publisher::Anthropic));
        assert_eq!(vertex.headers.get("x-route").map(String::as_str), Some("eu"));
        let gemini = added("--name g --provider gemini --model gemini-2.5-flash").expect("gemini");
        assert_eq!(gemini.provider, super::ProviderKind::Gemini);
    }

    #[test]
    fn targets_add_reports_what_validation_rejects() {
        let message = |arguments: &str| format!("{:#}", added(arguments).expect_err("rejected"));
        let error = message("--name b --provider bedrock --model m");
        assert!(error.contains("target 'b'") && error.contains("region"), "{error}");
        let error = message("--name o --provider openai --model m --api converse");
        assert!(error.contains("does not apply to openai"), "{error}");
        let error = message("--name o --provider openai --model m --api nope");
        assert!(error.contains("unknown api 'nope'"), "{error}");
        let error = message("--name o --provider openai --model m --region us-east-1");
        assert!(error.contains("`region` applies only to bedrock"), "{error}");
    }
}
