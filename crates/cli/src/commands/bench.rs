//! `modelbench bench`: the engine's shipped benchmark.
//!
//! 200 streaming calls (50 prompts × 4 targets on four different wire protocols) against a
//! fakecloud *process* (so its CPU and memory are not counted as ours), with full persistence to
//! a real SQLite file, at each requested concurrency. Each concurrency runs in a fresh child
//! process so peak RSS and CPU belong to that level alone. Reports wall time against the ideal
//! (ceil(calls / C) × per-call server time), CPU seconds, peak RSS and the engine's
//! time-to-first-token overhead: engine-observed TTFT minus the TTFT fakecloud itself measured
//! for the same request id.

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, Command, ExitCode, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use clap::Args;
use modelbench_engine::accumulate::percentile;
use modelbench_engine::adaptive::Concurrency;
use modelbench_engine::credentials::{Secret, StaticCredentials};
use modelbench_engine::runner::{RunOptions, RunPlan, Runner};
use modelbench_engine::store::Store;
use modelbench_engine::target::Api;
use modelbench_engine::{Parameters, Prompt, ProviderKind, Target};
use serde::{Deserialize, Serialize};
use tokio_util::sync::CancellationToken;

mod history;
mod sessions;

#[derive(Args, Clone)]
pub struct BenchArgs {
    /// Concurrency levels to measure, comma-separated.
    #[arg(long, default_value = "4,50", value_delimiter = ',')]
    concurrency: Vec<Concurrency>,
    #[arg(long, default_value_t = 50)]
    prompts: usize,
    #[arg(long, default_value_t = 200)]
    first_token_ms: u64,
    #[arg(long, default_value_t = 200)]
    tokens: usize,
    #[arg(long, default_value_t = 5)]
    gap_ms: u64,
    /// Use a fakecloud already running at this base URL instead of starting one.
    #[arg(long)]
    fakecloud: Option<String>,
    /// Print the results as JSON.
    #[arg(long)]
    json: bool,
    /// Internal: measure one concurrency level in this process and print its JSON.
    #[arg(long, hide = true)]
    phase: bool,
    /// The memory case instead: `modelbench run --json` as a child process for each of these
    /// call counts (short answers, at --scale-concurrency), with its peak RSS. Peak memory must
    /// depend on concurrency, not on how many responses a run has.
    #[arg(long, value_delimiter = ',', value_name = "CALLS")]
    scale: Vec<usize>,
    #[arg(long, default_value_t = 200)]
    scale_concurrency: usize,
    /// Internal: run the `modelbench` arguments after `--` in this process, then write its peak
    /// RSS in kB to this file.
    #[arg(long, hide = true, value_name = "FILE")]
    phase_run_rss_file: Option<std::path::PathBuf>,
    #[arg(last = true, hide = true)]
    run_args: Vec<String>,
    /// The history case instead: a synthetic database of this many runs in a temporary folder,
    /// then the times of listing and searching it (the app's store calls and the CLI's commands).
    #[arg(long, value_name = "RUNS")]
    history: Option<usize>,
    /// Internal: build the history case's database in this folder and keep it; reuse one there.
    #[arg(long, hide = true, value_name = "DIR")]
    history_dir: Option<std::path::PathBuf>,
    /// The evaluation-session case instead: a suite of this many tests on 4 targets, repeated,
    /// as `session run`, then `session show --json` timed, then `run --prompts` over the same
    /// calls for the scheduler's overhead.
    #[arg(long, value_name = "TESTS")]
    sessions: Option<usize>,
    #[arg(long, default_value_t = 3)]
    sessions_repeat: u32,
    #[arg(long, default_value_t = 100)]
    sessions_concurrency: usize,
}

/// The fakecloud scenario of the memory case: short answers, quickly.
const SCALE_SPEC: &str = "ttft_ms=20;tokens=8;gap_ms=2";

const TARGETS: usize = 4;

#[derive(Debug, Serialize, Deserialize)]
struct PhaseResult {
    /// The level asked for (`auto` for an automatic run).
    concurrency: String,
    /// An automatic run's level at the end and the highest it reached.
    auto_final_level: Option<usize>,
    auto_highest_level: Option<usize>,
    calls: usize,
    failed: usize,
    wall_s: f64,
    ideal_s: f64,
    wall_over_ideal_percent: f64,
    cpu_s: f64,
    peak_rss_mb: f64,
    ttft_overhead_p50_ms: f64,
    ttft_overhead_p95_ms: f64,
    ttft_overhead_max_ms: f64,
    /// The same after the first wave, when every request reuses a pooled connection.
    warm_ttft_overhead_p50_ms: f64,
    warm_ttft_overhead_p95_ms: f64,
    ttft_overhead_p99_ms: f64,
    /// The same for the whole stream: the engine's total time minus the moment fakecloud handed
    /// over the body's last byte.
    total_overhead_p50_ms: f64,
    total_overhead_p95_ms: f64,
    total_overhead_p99_ms: f64,
    events_stored: u64,
    /// CPU time per stored event, storage included, in µs.
    cpu_per_event_us: f64,
    /// Responses whose timings the runner marked `client_saturated`.
    client_saturated: usize,
    /// Responses not marked whose TTFT or total overhead exceeds the lag threshold: should be 0.
    unmarked_over_threshold: usize,
    worst_client_lag_ms: f64,
}

pub async fn run(args: BenchArgs) -> Result<ExitCode> {
    if let Some(rss_file) = &args.phase_run_rss_file {
        use clap::Parser;
        let cli = crate::Cli::try_parse_from(std::iter::once("modelbench".to_owned()).chain(args.run_args.clone()))?;
        let code = Box::pin(crate::dispatch(cli)).await?;
        std::fs::write(rss_file, peak_rss_kb()?.to_string())?;
        return Ok(code);
    }
    if !args.scale.is_empty() {
        return scale(&args);
    }
    if let Some(tests) = args.sessions {
        return sessions::run(
            tests,
            args.sessions_repeat,
            args.sessions_concurrency,
            args.fakecloud.as_deref(),
            args.json,
        );
    }
    if let Some(runs) = args.history {
        return history::run(runs, args.history_dir.as_deref(), args.json);
    }
    if args.phase {
        let base = args.fakecloud.clone().context("--phase needs --fakecloud")?;
        let concurrency = *args.concurrency.first().context("--phase needs one --concurrency")?;
        let result = phase(&args, &base, concurrency).await?;
        println!("{}", serde_json::to_string(&result)?);
        return Ok(ExitCode::SUCCESS);
    }
    let mut server = None;
    let base = match &args.fakecloud {
        Some(base) => base.clone(),
        None => {
            let (child, base) = start_fakecloud(&args)?;
            server = Some(child);
            base
        }
    };
    let mut results = Vec::new();
    for concurrency in &args.concurrency {
        let output = Command::new(std::env::current_exe()?)
            .args(["bench", "--phase", "--fakecloud", &base])
            .args(["--concurrency", &concurrency.to_string()])
            .args(["--prompts", &args.prompts.to_string()])
            .args(["--first-token-ms", &args.first_token_ms.to_string()])
            .args(["--tokens", &args.tokens.to_string()])
            .args(["--gap-ms", &args.gap_ms.to_string()])
            .stderr(Stdio::inherit())
            .output()
            .context("cannot start the benchmark phase")?;
        if !output.status.success() {
            bail!("the benchmark phase at concurrency {concurrency} failed");
        }
        let result: PhaseResult = serde_json::from_slice(&output.stdout).context("unreadable phase result")?;
        results.push(result);
    }
    let Some(mut out) = stop_and_print_json(server, args.json, &results)? else {
        return Ok(ExitCode::SUCCESS);
    };
    writeln!(
        out,
        "{} calls each ({} prompts × {TARGETS} targets: openai chat, openai responses, azure, anthropic); fakecloud: {} ms to first token, {} tokens {} ms apart; full persistence",
        args.prompts * TARGETS,
        args.prompts,
        args.first_token_ms,
        args.tokens,
        args.gap_ms
    )?;
    writeln!(
        out,
        "{:>5}  {:>7}  {:>7}  {:>7}  {:>6}  {:>7}  {:>7}  {:>20}  {:>20}  {:>5}  {:>6}  {:>7}  {:>6}",
        "C",
        "wall s",
        "ideal s",
        "over %",
        "CPU s",
        "µs/evt",
        "RSS MB",
        "TTFT+ p50/p95/p99 ms",
        "total+ p50/p95/p99",
        "sat.",
        "unmrk",
        "lag ms",
        "failed"
    )?;
    for result in &results {
        writeln!(
            out,
            "{:>5}  {:>7.3}  {:>7.3}  {:>7.2}  {:>6.2}  {:>7.2}  {:>7.1}  {:>20}  {:>20}  {:>5}  {:>6}  {:>7.1}  {:>6}",
            match (result.auto_final_level, result.auto_highest_level) {
                (Some(last), Some(highest)) => format!("auto→{last} (≤{highest})"),
                _ => result.concurrency.clone(),
            },
            result.wall_s,
            result.ideal_s,
            result.wall_over_ideal_percent,
            result.cpu_s,
            result.cpu_per_event_us,
            result.peak_rss_mb,
            format!(
                "{:.2}/{:.2}/{:.2}",
                result.ttft_overhead_p50_ms, result.ttft_overhead_p95_ms, result.ttft_overhead_p99_ms
            ),
            format!(
                "{:.2}/{:.2}/{:.2}",
                result.total_overhead_p50_ms, result.total_overhead_p95_ms, result.total_overhead_p99_ms
            ),
            result.client_saturated,
            result.unmarked_over_threshold,
            result.worst_client_lag_ms,
            result.failed
        )?;
    }
    writeln!(
        out,
        "TTFT+/total+: the engine's time minus fakecloud's own for the same request; sat.: responses marked client_saturated; unmrk: not marked yet over the 5 ms threshold (should be 0)"
    )?;
    writeln!(
        out,
        "targets at C=50: wall within 2% of ideal, CPU < 1.2 s, RSS < 40 MB, TTFT overhead p50 <= 1 ms and p95 <= 5 ms"
    )?;
    for result in results.iter().filter(|result| result.concurrency == "50") {
        let checks = [
            ("wall", result.wall_over_ideal_percent <= 2.0),
            ("cpu", result.cpu_s < 1.2),
            ("rss", result.peak_rss_mb < 40.0),
            ("ttft p50", result.ttft_overhead_p50_ms <= 1.0),
            ("ttft p95", result.ttft_overhead_p95_ms <= 5.0),
        ];
        let summary: Vec<String> = checks
            .iter()
            .map(|(name, ok)| format!("{name} {}", if *ok { "met" } else { "MISSED" }))
            .collect();
        writeln!(out, "C=50: {}", summary.join(", "))?;
    }
    Ok(ExitCode::SUCCESS)
}

/// Stops the fakecloud the bench started, if it did; prints `results` as JSON when asked (and
/// returns `None`), else hands back stdout for the table.
fn stop_and_print_json(
    server: Option<Child>,
    json: bool,
    results: &impl Serialize,
) -> Result<Option<std::io::StdoutLock<'static>>> {
    if let Some(mut child) = server {
        let _ = child.kill();
        let _ = child.wait();
    }
    let mut out = std::io::stdout().lock();
    if json {
        serde_json::to_writer_pretty(&mut out, results)?;
        writeln!(out)?;
        return Ok(None);
    }
    Ok(Some(out))
}

/// One call count of the memory case.
#[derive(Debug, Serialize)]
struct ScaleResult {
    calls: usize,
    concurrency: usize,
    results: usize,
    wall_s: f64,
    peak_rss_mb: f64,
}

/// The memory case: for each call count, `modelbench run --json` in a fresh child process (the
/// real command: live progress, the run, the store, the streamed result document), its output
/// read and counted here, its peak RSS reported by the child itself.
fn scale(args: &BenchArgs) -> Result<ExitCode> {
    let (mut server, base) = fakecloud_or_start(args.fakecloud.as_deref(), SCALE_SPEC)?;
    let work = std::env::temp_dir().join(format!("modelbench-bench-scale-{}", std::process::id()));
    std::fs::create_dir_all(&work)?;
    let targets_file = work.join("targets.toml");
    std::fs::write(
        &targets_file,
        modelbench_engine::target::targets_to_toml(&bench_targets(&base)),
    )?;
    let mut results = Vec::new();
    for &calls in &args.scale {
        let prompts = calls.div_ceil(TARGETS);
        let prompts_file = work.join(format!("prompts-{calls}.txt"));
        let text: String = (0..prompts)
            .map(|index| format!("Scale prompt number {index}: answer briefly.\n"))
            .collect();
        std::fs::write(&prompts_file, text)?;
        let data_dir = work.join(format!("data-{calls}"));
        let rss_file = work.join(format!("rss-{calls}"));
        let started = Instant::now();
        let mut child = Command::new(std::env::current_exe()?)
            .arg("bench")
            .arg("--phase-run-rss-file")
            .arg(&rss_file)
            .arg("--")
            .arg("--data-dir")
            .arg(&data_dir)
            .arg("run")
            .arg("--targets")
            .arg(&targets_file)
            .arg("--prompts")
            .arg(&prompts_file)
            .args([
                "--concurrency",
                &args.scale_concurrency.to_string(),
                "--retries",
                "0",
                "--json",
            ])
            .env("OPENAI_API_KEY", "fake-key")
            .env("AZURE_OPENAI_API_KEY", "fake-key")
            .env("ANTHROPIC_API_KEY", "fake-key")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .context("cannot start the memory phase")?;
        let stdout = child.stdout.take().context("no stdout from the memory phase")?;
        // One result object opens per `    {` line of the pretty-printed document.
        let mut count = 0_usize;
        for line in BufReader::new(stdout).lines() {
            if line?.starts_with("    {") {
                count += 1;
            }
        }
        let status = child.wait()?;
        let wall = started.elapsed();
        if !status.success() {
            bail!("the memory phase with {calls} calls failed ({status})");
        }
        let peak_kb: u64 = std::fs::read_to_string(&rss_file)?.trim().parse()?;
        let _ = std::fs::remove_dir_all(&data_dir);
        results.push(ScaleResult {
            calls: prompts * TARGETS,
            concurrency: args.scale_concurrency,
            results: count,
            wall_s: wall.as_secs_f64(),
            peak_rss_mb: peak_kb as f64 / 1024.0,
        });
    }
    let _ = std::fs::remove_dir_all(&work);
    let Some(mut out) = stop_and_print_json(server.take(), args.json, &results)? else {
        return Ok(ExitCode::SUCCESS);
    };
    writeln!(
        out,
        "memory: `modelbench run --json` at concurrency {}, fakecloud {SCALE_SPEC}, full persistence",
        args.scale_concurrency
    )?;
    writeln!(
        out,
        "{:>8}  {:>8}  {:>8}  {:>8}",
        "calls", "results", "wall s", "RSS MB"
    )?;
    for result in &results {
        writeln!(
            out,
            "{:>8}  {:>8}  {:>8.2}  {:>8.1}",
            result.calls, result.results, result.wall_s, result.peak_rss_mb
        )?;
    }
    if let (Some(first), Some(last)) = (
        results.iter().find(|result| result.calls >= 2_000),
        results.iter().rfind(|result| result.calls >= 2_000),
    ) && first.calls < last.calls
    {
        let growth = last.peak_rss_mb - first.peak_rss_mb;
        writeln!(
            out,
            "target: peak RSS flat within 10 MB from {} to {} calls: {growth:+.1} MB, {}",
            first.calls,
            last.calls,
            if growth <= 10.0 { "met" } else { "MISSED" }
        )?;
    }
    Ok(ExitCode::SUCCESS)
}

/// Starts the `fakecloud` binary that sits next to this one and reads its address.
fn start_fakecloud(args: &BenchArgs) -> Result<(Child, String)> {
    start_fakecloud_with(&format!(
        "ttft_ms={};tokens={};gap_ms={}",
        args.first_token_ms, args.tokens, args.gap_ms
    ))
}

/// The fakecloud at `given`, or one started with `spec` (then its process, to stop).
fn fakecloud_or_start(given: Option<&str>, spec: &str) -> Result<(Option<Child>, String)> {
    Ok(match given {
        Some(base) => (None, base.to_owned()),
        None => {
            let (child, base) = start_fakecloud_with(spec)?;
            (Some(child), base)
        }
    })
}

fn start_fakecloud_with(spec: &str) -> Result<(Child, String)> {
    let exe = std::env::current_exe()?;
    let path = exe.with_file_name(format!("fakecloud{}", std::env::consts::EXE_SUFFIX));
    if !path.exists() {
        bail!(
            "the fakecloud binary was not found at {} (build it with `cargo build --release -p fakecloud`, or pass --fakecloud URL)",
            path.display()
        );
    }
    let mut child = Command::new(&path)
        .args(["--port", "0", "--default", spec])
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .with_context(|| format!("cannot start {}", path.display()))?;
    let stdout = child.stdout.take().context("no stdout from fakecloud")?;
    let mut line = String::new();
    BufReader::new(stdout).read_line(&mut line)?;
    let base = line
        .trim()
        .rsplit(' ')
        .next()
        .filter(|url| url.starts_with("http://"))
        .with_context(|| format!("unexpected fakecloud greeting: {line:?}"))?
        .to_owned();
    Ok((child, base))
}

fn bench_targets(base: &str) -> Vec<Target> {
    let mut openai = Target::new("openai-chat", ProviderKind::OpenAi, "bench-model");
    openai.base_url = Some(format!("{base}/v1"));
    let mut responses = Target::new("openai-responses", ProviderKind::OpenAi, "bench-model");
    responses.base_url = Some(format!("{base}/v1"));
    responses.api = Some(Api::Responses);
    let mut azure = Target::new("azure-v1", ProviderKind::Azure, "bench-model");
    azure.base_url = Some(base.to_owned());
    let mut anthropic = Target::new("anthropic", ProviderKind::Anthropic, "bench-model");
    anthropic.base_url = Some(base.to_owned());
    vec![openai, responses, azure, anthropic]
}

async fn phase(args: &BenchArgs, base: &str, setting: Concurrency) -> Result<PhaseResult> {
    let (concurrency, auto_concurrency) = setting.limit_and_auto();
    let data_dir = std::env::temp_dir().join(format!("modelbench-bench-{}-{concurrency}", std::process::id()));
    let store = Store::open(&data_dir.join("modelbench.db"))?;
    let credentials = StaticCredentials::new()
        .with("OPENAI_API_KEY", Secret::new("fake-key"))
        .with("AZURE_OPENAI_API_KEY", Secret::new("fake-key"))
        .with("ANTHROPIC_API_KEY", Secret::new("fake-key"));
    let plan = RunPlan {
        targets: bench_targets(base),
        prompts: (0..args.prompts)
            .map(|index| Prompt::user(format!("Benchmark prompt number {index}: say something long.")))
            .collect(),
        parameters: Parameters::default(),
        options: RunOptions {
            concurrency,
            auto_concurrency,
            retry: modelbench_engine::runner::RetryPolicy {
                max_retries: 0,
                ..Default::default()
            },
            ..RunOptions::default()
        },
    };
    let runner = Runner::new(Arc::new(credentials)).with_store(store.writer());
    let cpu_before = process_cpu_seconds()?;
    let started = Instant::now();
    let mut handle = runner.start(plan, CancellationToken::new())?;
    while handle.events.recv().await.is_some() {}
    let outcome = handle.outcome().await?;
    let wall = started.elapsed();
    let cpu = process_cpu_seconds()? - cpu_before;
    let peak_rss_mb = peak_rss_kb()? as f64 / 1024.0;

    // What fakecloud measured for each request, by request id.
    let records: Vec<serde_json::Value> = reqwest::get(format!("{base}/_fakecloud/requests"))
        .await?
        .error_for_status()?
        .json()
        .await?;
    // Fakecloud's own first-token and last-byte times, by request id.
    let server_times: std::collections::HashMap<String, (f64, f64)> = records
        .iter()
        .filter_map(|record| {
            Some((
                record.get("request_id")?.as_str()?.to_owned(),
                (
                    record.get("server_time_to_first_token_us")?.as_f64()? / 1000.0,
                    record.get("server_body_sent_us")?.as_f64()? / 1000.0,
                ),
            ))
        })
        .collect();
    let threshold_ms = RunOptions::default().lag_threshold.as_secs_f64() * 1000.0;
    let mut total_overheads = Vec::new();
    let mut unmarked_over_threshold = 0;
    // (start time, overhead) per response; the first `concurrency` to start opened the connections.
    let mut measured: Vec<(i64, f64)> = outcome
        .responses
        .iter()
        .filter_map(|response| {
            let engine = response.metrics.time_to_first_token_ms?;
            let (server_ttft, server_total) = server_times.get(response.request_id.as_deref()?)?;
            let total_overhead = response.metrics.total_ms - server_total;
            total_overheads.push(total_overhead);
            let ttft_overhead = engine - server_ttft;
            if !response.metrics.client_saturated && ttft_overhead.max(total_overhead) > threshold_ms {
                unmarked_over_threshold += 1;
            }
            Some((response.started_at_ms, ttft_overhead))
        })
        .collect();
    total_overheads.sort_by(f64::total_cmp);
    measured.sort_by_key(|(started, _)| *started);
    let sorted = |values: &[(i64, f64)]| {
        let mut values: Vec<f64> = values.iter().map(|(_, overhead)| *overhead).collect();
        values.sort_by(f64::total_cmp);
        values
    };
    let overheads = sorted(&measured);
    let warm = sorted(measured.get(concurrency..).unwrap_or_default());
    let calls = outcome.responses.len();
    if measured.len() != calls {
        bail!(
            "matched {} of {calls} responses to fakecloud's records",
            overheads.len()
        );
    }
    let events_stored = store.count_events()?;
    let per_call = Duration::from_millis(args.first_token_ms)
        + Duration::from_millis(args.gap_ms) * (args.tokens.saturating_sub(1) as u32);
    // An automatic run is held to the ideal of the highest level it reached.
    let level = outcome
        .auto_concurrency
        .map_or(concurrency, |auto| auto.highest_level.max(1));
    let ideal = per_call.as_secs_f64() * calls.div_ceil(level) as f64;
    drop(store);
    let _ = std::fs::remove_dir_all(&data_dir);
    Ok(PhaseResult {
        concurrency: setting.to_string(),
        auto_final_level: outcome.auto_concurrency.map(|auto| auto.final_level),
        auto_highest_level: outcome.auto_concurrency.map(|auto| auto.highest_level),
        calls,
        failed: outcome.responses.iter().filter(|response| !response.complete).count(),
        wall_s: wall.as_secs_f64(),
        ideal_s: ideal,
        wall_over_ideal_percent: (wall.as_secs_f64() / ideal - 1.0) * 100.0,
        cpu_s: cpu,
        peak_rss_mb,
        ttft_overhead_p50_ms: percentile(&overheads, 0.5).unwrap_or(f64::NAN),
        ttft_overhead_p95_ms: percentile(&overheads, 0.95).unwrap_or(f64::NAN),
        ttft_overhead_max_ms: overheads.last().copied().unwrap_or(f64::NAN),
        warm_ttft_overhead_p50_ms: percentile(&warm, 0.5).unwrap_or(f64::NAN),
        warm_ttft_overhead_p95_ms: percentile(&warm, 0.95).unwrap_or(f64::NAN),
        ttft_overhead_p99_ms: percentile(&overheads, 0.99).unwrap_or(f64::NAN),
        total_overhead_p50_ms: percentile(&total_overheads, 0.5).unwrap_or(f64::NAN),
        total_overhead_p95_ms: percentile(&total_overheads, 0.95).unwrap_or(f64::NAN),
        total_overhead_p99_ms: percentile(&total_overheads, 0.99).unwrap_or(f64::NAN),
        cpu_per_event_us: cpu * 1e6 / events_stored.max(1) as f64,
        events_stored,
        client_saturated: outcome
            .responses
            .iter()
            .filter(|response| response.metrics.client_saturated)
            .count(),
        unmarked_over_threshold,
        worst_client_lag_ms: outcome.worst_client_lag_ms,
    })
}

/// User + system CPU of this process (all threads), from /proc (Linux clock ticks of 1/100 s).
fn process_cpu_seconds() -> Result<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").context("CPU time needs /proc (Linux)")?;
    // Fields after the parenthesised command name; utime and stime are fields 14 and 15.
    let rest = stat
        .rsplit_once(')')
        .map(|(_, rest)| rest)
        .context("unexpected /proc/self/stat")?;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks =
        |index: usize| -> Result<f64> { Ok(fields.get(index).context("short /proc/self/stat")?.parse::<f64>()?) };
    Ok((ticks(11)? + ticks(12)?) / 100.0)
}

/// Peak resident set size of this process, from /proc/self/status (VmHWM).
fn peak_rss_kb() -> Result<u64> {
    let status = std::fs::read_to_string("/proc/self/status").context("peak RSS needs /proc (Linux)")?;
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))
        .and_then(|value| value.trim().trim_end_matches("kB").trim().parse().ok())
        .context("no VmHWM in /proc/self/status")
}
