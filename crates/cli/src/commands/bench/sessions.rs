//! `modelbench bench --sessions TESTS`: the evaluation-session scale case.
//!
//! A suite of TESTS short questions on 4 targets of one base model (four wire protocols), each
//! repeated, against a fakecloud process with short answers. Three child processes, each the
//! real command with its peak RSS reported by the child itself: `session run --json` (the
//! session), `session show ID --json` (everything the analysis computes, from the database: its
//! wall time is the figure that must stay under 2 s), and `run --prompts --repeat --json` over the
//! same prompts, targets, repeats and concurrency (the scheduler's overhead: the two runs' stored
//! start-to-finish times are compared, so neither process start, suite loading, the session's
//! closing analysis nor the result document is counted).
//!
//! Left out: the statistics' own micro-benchmarks (`cargo bench -p modelbench-engine --bench
//! stats`) and the plain run's memory case (`--scale`).

use std::io::Write;
use std::path::Path;
use std::process::{Command, ExitCode, Stdio};
use std::time::Instant;

use anyhow::{Context, Result, bail};
use modelbench_engine::store::Store;
use serde::Serialize;

use super::{TARGETS, bench_targets, fakecloud_or_start, stop_and_print_json};

/// Short answers, quickly: the echo of the question (so a check can pass), 20 ms to the first
/// token.
const SESSIONS_SPEC: &str = "ttft_ms=20;gap_ms=2;answer=echo";

/// The session case's figures.
#[derive(Debug, Serialize)]
pub(super) struct SessionsResult {
    tests: usize,
    targets: usize,
    repeat: u32,
    concurrency: usize,
    calls: usize,
    /// `session run` as a process: wall time, its run's stored start-to-finish time, peak RSS.
    session_run_wall_s: f64,
    session_run_stored_s: f64,
    session_run_peak_rss_mb: f64,
    /// `session show --json` as a process.
    session_show_wall_s: f64,
    session_show_peak_rss_mb: f64,
    /// `run --prompts` over the same calls.
    plain_run_wall_s: f64,
    plain_run_stored_s: f64,
    plain_run_peak_rss_mb: f64,
    /// Session over plain run, stored times, minus 1, in percent.
    scheduler_overhead_percent: f64,
}

pub(super) fn run(
    tests: usize,
    repeat: u32,
    concurrency: usize,
    fakecloud: Option<&str>,
    json: bool,
) -> Result<ExitCode> {
    let (server, base) = fakecloud_or_start(fakecloud, SESSIONS_SPEC)?;
    let work = std::env::temp_dir().join(format!("modelbench-bench-sessions-{}", std::process::id()));
    std::fs::create_dir_all(&work)?;
    let result = measure(&work, &base, tests, repeat, concurrency);
    // MODELBENCH_BENCH_KEEP=1 keeps the databases, to profile `session show` on them.
    if std::env::var_os("MODELBENCH_BENCH_KEEP").is_some() {
        eprintln!("kept {}", work.display());
    } else {
        let _ = std::fs::remove_dir_all(&work);
    }
    let result = result?;
    let Some(mut out) = stop_and_print_json(server, json, &result)? else {
        return Ok(ExitCode::SUCCESS);
    };
    writeln!(
        out,
        "sessions: {} tests × {} targets × {} repeats = {} calls at concurrency {}, fakecloud {SESSIONS_SPEC}, full persistence",
        result.tests, result.targets, result.repeat, result.calls, result.concurrency
    )?;
    writeln!(out, "{:<22}  {:>8}  {:>9}  {:>8}", "", "wall s", "stored s", "RSS MB")?;
    let rows = [
        (
            "session run",
            result.session_run_wall_s,
            Some(result.session_run_stored_s),
            result.session_run_peak_rss_mb,
        ),
        (
            "session show --json",
            result.session_show_wall_s,
            None,
            result.session_show_peak_rss_mb,
        ),
        (
            "run --prompts",
            result.plain_run_wall_s,
            Some(result.plain_run_stored_s),
            result.plain_run_peak_rss_mb,
        ),
    ];
    for (name, wall, stored, rss) in rows {
        let stored = stored.map_or_else(|| "—".to_owned(), |stored| format!("{stored:.2}"));
        writeln!(out, "{name:<22}  {wall:>8.2}  {stored:>9}  {rss:>8.1}")?;
    }
    let met = |ok: bool| if ok { "met" } else { "MISSED" };
    writeln!(
        out,
        "targets: session show under 2 s: {:.2} s, {}; scheduler overhead within 2% of run --prompts: {:+.2}%, {}",
        result.session_show_wall_s,
        met(result.session_show_wall_s < 2.0),
        result.scheduler_overhead_percent,
        met(result.scheduler_overhead_percent.abs() <= 2.0)
    )?;
    Ok(ExitCode::SUCCESS)
}

fn measure(work: &Path, base: &str, tests: usize, repeat: u32, concurrency: usize) -> Result<SessionsResult> {
    let mut targets = bench_targets(base);
    // One base model on every cloud, so the analysis has every pair to compare (6 for 4).
    for target in &mut targets {
        target.base_model = Some("bench-model".to_owned());
    }
    let targets_file = work.join("targets.toml");
    std::fs::write(&targets_file, modelbench_engine::target::targets_to_toml(&targets))?;
    let questions: Vec<String> = (0..tests)
        .map(|index| format!("Scale question {index}: answer briefly."))
        .collect();
    let suite_file = work.join("suite.yaml");
    let mut suite = String::from("name: scale\ndescription: short questions, answered by echo\ntests:\n");
    for (index, question) in questions.iter().enumerate() {
        suite.push_str(&format!(
            "  - id: q{index}\n    prompt: \"{question}\"\n    checks:\n      - type: contains\n        value: \"question {index}:\"\n"
        ));
    }
    std::fs::write(&suite_file, suite)?;
    let prompts_file = work.join("prompts.txt");
    std::fs::write(&prompts_file, questions.join("\n") + "\n")?;
    let calls = tests * targets.len() * repeat as usize;
    let common = |data: &Path| -> Vec<String> { vec!["--data-dir".to_owned(), data.display().to_string()] };
    let limits = [
        "--repeat".to_owned(),
        repeat.to_string(),
        "--concurrency".to_owned(),
        concurrency.to_string(),
        "--retries".to_owned(),
        "0".to_owned(),
        "--json".to_owned(),
    ];

    let session_data = work.join("session-data");
    let mut arguments = common(&session_data);
    arguments.extend(["session", "run"].map(str::to_owned));
    arguments.push(suite_file.display().to_string());
    arguments.extend(["--targets".to_owned(), targets_file.display().to_string()]);
    arguments.extend(limits.iter().cloned());
    let session_output = work.join("session.json");
    let session = child(work, "session-run", &arguments, Some(&session_output))?;
    let document: serde_json::Value = serde_json::from_slice(&std::fs::read(&session_output)?)
        .context("`session run --json` printed no JSON document")?;
    let session_id = document["session_id"]
        .as_str()
        .context("no session_id in the session's document")?
        .to_owned();
    let completed: u64 = document["targets"]
        .as_array()
        .context("no targets in the session's document")?
        .iter()
        .filter_map(|target| target["completed"].as_u64())
        .sum();
    if completed != calls as u64 {
        bail!("the session completed {completed} of {calls} calls");
    }
    let session_stored = stored_seconds(&session_data)?;

    let mut arguments = common(&session_data);
    arguments.extend(["session", "show", &session_id, "--json"].map(str::to_owned));
    let show = child(work, "session-show", &arguments, None)?;

    let plain_data = work.join("run-data");
    let mut arguments = common(&plain_data);
    arguments.push("run".to_owned());
    arguments.extend(["--targets".to_owned(), targets_file.display().to_string()]);
    arguments.extend(["--prompts".to_owned(), prompts_file.display().to_string()]);
    arguments.extend(limits.iter().cloned());
    let plain = child(work, "run", &arguments, None)?;
    let plain_stored = stored_seconds(&plain_data)?;

    Ok(SessionsResult {
        tests,
        targets: TARGETS,
        repeat,
        concurrency,
        calls,
        session_run_wall_s: session.wall_s,
        session_run_stored_s: session_stored,
        session_run_peak_rss_mb: session.peak_rss_mb,
        session_show_wall_s: show.wall_s,
        session_show_peak_rss_mb: show.peak_rss_mb,
        plain_run_wall_s: plain.wall_s,
        plain_run_stored_s: plain_stored,
        plain_run_peak_rss_mb: plain.peak_rss_mb,
        scheduler_overhead_percent: (session_stored / plain_stored - 1.0) * 100.0,
    })
}

struct ChildFigures {
    wall_s: f64,
    peak_rss_mb: f64,
}

/// Runs `modelbench ARGUMENTS` as a child process that reports its own peak RSS, its stdout to
/// `output` (or discarded: reading it here would time this process's reading too).
fn child(work: &Path, name: &str, arguments: &[String], output: Option<&Path>) -> Result<ChildFigures> {
    let rss_file = work.join(format!("rss-{name}"));
    let stdout = match output {
        Some(path) => Stdio::from(std::fs::File::create(path)?),
        None => Stdio::null(),
    };
    let started = Instant::now();
    let status = Command::new(std::env::current_exe()?)
        .arg("bench")
        .arg("--phase-run-rss-file")
        .arg(&rss_file)
        .arg("--")
        .args(arguments)
        .env("OPENAI_API_KEY", "fake-key")
        .env("AZURE_OPENAI_API_KEY", "fake-key")
        .env("ANTHROPIC_API_KEY", "fake-key")
        .stdout(stdout)
        .stderr(Stdio::inherit())
        .status()
        .with_context(|| format!("cannot start `{name}`"))?;
    let wall_s = started.elapsed().as_secs_f64();
    if !status.success() {
        bail!("`{name}` failed ({status})");
    }
    let peak_kb: u64 = std::fs::read_to_string(&rss_file)?.trim().parse()?;
    Ok(ChildFigures {
        wall_s,
        peak_rss_mb: peak_kb as f64 / 1024.0,
    })
}

/// The start-to-finish time of the one run stored in `data_dir`, as its run row says.
fn stored_seconds(data_dir: &Path) -> Result<f64> {
    let store = Store::open(&data_dir.join("modelbench.db"))?;
    let run = store.list_runs(1)?.into_iter().next().context("no run stored")?;
    let finished = run.finished_at_ms.context("the run has no finish time")?;
    Ok((finished - run.started_at_ms) as f64 / 1000.0)
}
