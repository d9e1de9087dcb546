//! `modelbench run`: one prompt (or a batch) sent to every target, its answers streamed in the
//! terminal and stored as a run. This reads the flags, the prompts and the targets into a plan;
//! running and showing it is `execute.rs`'s.

use std::io::Read;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{Context, Result, bail};
use clap::Args;
use modelbench_engine::adaptive::Concurrency;
use modelbench_engine::credentials::KeychainCredentials;
use modelbench_engine::keychain::Keychain;
use modelbench_engine::runner::{RunOptions, RunPlan};
use modelbench_engine::store::Store;
use modelbench_engine::target::load_targets_file;
use modelbench_engine::{Parameters, Prompt, ProviderKind, Target};

use super::TimeoutArgs;
use crate::execute::{ViewMode, execute, run_exit_code};
use crate::prompts;

#[derive(Args)]
pub struct RunArgs {
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
    /// Requests in flight at once, across all targets: a number, or `auto` (follow the
    /// machine: widen while ModelBench's own timing lag stays under 5 ms, up to 1,000; `auto:N`
    /// caps it at N).
    #[arg(long, default_value = "16")]
    concurrency: Concurrency,
    /// How late ModelBench itself may run around a response's timings before they are marked
    /// `client_saturated` (its scheduling lag), in milliseconds.
    #[arg(long = "lag-threshold-ms", default_value_t = 5.0)]
    lag_threshold_ms: f64,
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

pub async fn run(store: &Arc<Store>, args: RunArgs) -> Result<ExitCode> {
    let targets = select_targets(store, args.targets.as_deref(), &args.target_names)?;
    let prompts = read_prompt(args.prompt.clone(), &args)?;
    let plan = RunPlan {
        targets,
        prompts,
        parameters: parameters(&args),
        options: run_options(&args)?,
    };
    let view = ViewMode {
        json: args.json,
        events: args.events,
    };
    let outcome = execute(store, plan, Arc::new(KeychainCredentials::new(Keychain::os())), view).await?;
    Ok(run_exit_code(&outcome))
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

/// The targets of `--targets FILE` (or the saved ones), narrowed to `names` when any are given.
pub(crate) fn select_targets(store: &Store, file: Option<&std::path::Path>, names: &[String]) -> Result<Vec<Target>> {
    let (available, origin) = match file {
        Some(path) => (load_targets_file(path)?, path.display().to_string()),
        None => (store.list_targets()?, "the database".to_owned()),
    };
    if available.is_empty() {
        bail!("no targets in {origin}: pass --targets FILE or save some with `modelbench targets import FILE`");
    }
    if names.is_empty() {
        return Ok(available);
    }
    names
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

fn parameters(args: &RunArgs) -> Parameters {
    Parameters {
        temperature: args.temperature,
        top_p: args.top_p,
        max_output_tokens: args.max_tokens,
        stop_sequences: args.stop.clone(),
        seed: args.seed,
    }
}

/// The flag that sets a `Parameters` field.
fn parameter_flag(field: &str) -> String {
    match field {
        "max_output_tokens" => "--max-tokens".to_owned(),
        field => format!("--{}", field.replace('_', "-")),
    }
}

fn run_options(args: &RunArgs) -> Result<RunOptions> {
    check_run_numbers(args)?;
    let (concurrency, auto_concurrency) = args.concurrency.limit_and_auto();
    let mut options = RunOptions {
        concurrency,
        auto_concurrency,
        repeat: args.repeat,
        ..RunOptions::default()
    };
    options.retry.max_retries = args.retries;
    options.lag_threshold = lag_threshold(args.lag_threshold_ms)?;
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

/// `--lag-threshold-ms` as a duration: a positive number of milliseconds.
pub(crate) fn lag_threshold(milliseconds: f64) -> Result<std::time::Duration> {
    if !(milliseconds.is_finite() && milliseconds > 0.0) {
        bail!("--lag-threshold-ms must be a positive number of milliseconds, not {milliseconds}");
    }
    Ok(std::time::Duration::from_secs_f64(milliseconds / 1000.0))
}

/// Refuses numbers that would otherwise be clamped, sent as `null` or make every request fail,
/// before anything is sent.
fn check_run_numbers(args: &RunArgs) -> Result<()> {
    if args.repeat == 0 {
        bail!("--repeat must be at least 1");
    }
    // The engine owns the ranges (`PARAMETER_RANGES`); its message names the field, the user
    // typed the flag.
    if let Some(error) = parameters(args).field_errors().into_iter().next() {
        let flag = parameter_flag(&error.field);
        match error.message.strip_prefix(error.field.as_str()) {
            Some(rest) => bail!("{flag}{rest}"),
            None => bail!("{flag}: {}", error.message),
        }
    }
    if let Some(field) = args.timeouts.overrides().zero_field() {
        // `first_token_ms` is `--first-token-timeout-ms`.
        let flag = format!("--{}-timeout-ms", field.trim_end_matches("_ms").replace('_', "-"));
        bail!("{flag} must be at least 1 (0 would fail every request)");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    /// `run` with `arguments` (split on whitespace) as far as its options.
    fn run_options(arguments: &str) -> anyhow::Result<super::RunOptions> {
        use clap::Parser;
        let words = ["modelbench", "run"].into_iter().chain(arguments.split_whitespace());
        let cli = crate::Cli::try_parse_from(words)?;
        let crate::Command::Run(args) = cli.command else {
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
        // Out of range, by the engine's ranges, in the terms of the flags.
        for (arguments, message) in [
            (
                "--temperature 2.5 hi",
                "--temperature must be a number from 0 to 2, not 2.5",
            ),
            (
                "--temperature NaN hi",
                "--temperature must be a number from 0 to 2, not NaN",
            ),
            ("--top-p 1.5 hi", "--top-p must be a number from 0 to 1, not 1.5"),
            (
                "--max-tokens 0 hi",
                "--max-tokens must be a whole number from 1 to 4294967295, not 0",
            ),
            (
                "--seed 9007199254740993 hi",
                "--seed must be a whole number from -9007199254740991 to 9007199254740991, not 9007199254740992",
            ),
        ] {
            let error = run_options(arguments).expect_err(arguments);
            assert_eq!(format!("{error:#}"), message, "{arguments}");
        }
        let options = run_options("--repeat 2 --concurrency 3 --temperature 0.5 hi").expect("fine");
        assert_eq!(
            (options.repeat, options.concurrency, options.auto_concurrency),
            (2, 3, false)
        );
        let options = run_options("--concurrency auto hi").expect("fine");
        assert_eq!((options.concurrency, options.auto_concurrency), (1000, true));
        let options = run_options("--concurrency auto:64 hi").expect("fine");
        assert_eq!((options.concurrency, options.auto_concurrency), (64, true));
    }
}
