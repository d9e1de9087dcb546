//! The statistics of one evaluation session against their budget: `session show` must compute
//! everything in under 2 s on a 2-core machine for 10,000 tests × 4 targets × 3 repeats, so the
//! statistics themselves should take well under 1 s.
//!
//! `cargo bench -p modelbench-engine --bench stats`. Plain `std::time` measurement (no harness):
//! each part runs ITERATIONS times after a warm-up; it prints the median and the worst wall time
//! and the median CPU time of the measuring thread (the machines are shared: wall time includes
//! waiting for a core), and writes them to target/bench/stats.json.
//!
//! The data are generated deterministically to look like a session: per target 30,000 samples of
//! time to first token, total time and tokens/s (log-normal, one target 8% slower), pass flags
//! and error flags per (test, repeat), and per test the within- and across-target similarities.
//! "Full session" is what a report computes: per target a summary and order-statistic intervals
//! of four quantiles of three metrics; per pair (6) the paired bootstrap of p50 and p95
//! differences of two latencies, two Wilcoxon tests, the paired error-rate difference, McNemar on
//! passes, the drift permutation test; then Holm across every p-value and a verdict for each
//! comparison. The parts are also timed alone, and per-target bootstrap intervals instead of
//! order-statistic ones.

use std::time::{Duration, Instant};

use modelbench_engine::stats::{
    BootstrapSettings, Comparison, Direction, DriftTest, Estimate, Margin, PairedTable, Summary, Variability,
    bootstrap_quantile_intervals, decide, drift_test, exact_mcnemar, holm_adjust, order_statistic_interval,
    paired_drift_test, paired_proportion_difference, paired_quantile_differences, wilcoxon_signed_rank,
};

const TESTS: usize = 10_000;
const REPEATS: usize = 3;
const TARGETS: usize = 4;
const SAMPLES: usize = TESTS * REPEATS;
const ITERATIONS: usize = 5;
const BUDGET_MS: f64 = 1_000.0;
const QUANTILES: [f64; 4] = [0.5, 0.9, 0.95, 0.99];
const FULL: &str = "full session (order-statistic per target), B=1000";

/// xorshift64*: a fixed, dependency-free source of "randomness" so every run sees the same data.
struct Random(u64);

impl Random {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn uniform(&mut self) -> f64 {
        ((self.next() >> 11) as f64 + 0.5) / (1u64 << 53) as f64
    }

    /// A standard normal draw (Box–Muller).
    fn normal(&mut self) -> f64 {
        (-2.0 * self.uniform().ln()).sqrt() * (std::f64::consts::TAU * self.uniform()).cos()
    }
}

struct Target {
    time_to_first_token: Vec<f64>,
    total_time: Vec<f64>,
    tokens_per_second: Vec<f64>,
    passed: Vec<bool>,
    erred: Vec<bool>,
}

impl Target {
    /// The three latency-like metrics a report describes per target.
    fn metrics(&self) -> [&[f64]; 3] {
        [&self.time_to_first_token, &self.total_time, &self.tokens_per_second]
    }
}

fn target(index: usize) -> Target {
    let mut random = Random(0x9e37_79b9_7f4a_7c15 ^ (index as u64 + 1));
    let slower = if index == 3 { 1.08 } else { 1.0 };
    let mut target = Target {
        time_to_first_token: Vec::with_capacity(SAMPLES),
        total_time: Vec::with_capacity(SAMPLES),
        tokens_per_second: Vec::with_capacity(SAMPLES),
        passed: Vec::with_capacity(SAMPLES),
        erred: Vec::with_capacity(SAMPLES),
    };
    for _ in 0..SAMPLES {
        let first_token = slower * 400.0 * (0.4 * random.normal()).exp();
        let tokens = 200.0 + 600.0 * random.uniform();
        let rate = 80.0 * (0.2 * random.normal()).exp() / slower;
        target.time_to_first_token.push(first_token);
        target.total_time.push(first_token + 1000.0 * tokens / rate);
        target.tokens_per_second.push(rate);
        target.passed.push(random.uniform() < 0.85);
        target.erred.push(random.uniform() < 0.02);
    }
    target
}

/// Per test: mean similarity between a target's repeats, and between two targets' answers.
fn similarities(seed: u64, shift: f64) -> (Vec<f64>, Vec<f64>) {
    let mut random = Random(seed);
    (0..TESTS)
        .map(|_| {
            let base = 0.7 + 0.25 * random.uniform();
            (base + 0.02 * random.normal(), base - shift + 0.02 * random.normal())
        })
        .unzip()
}

fn per_target(targets: &[Target], settings: &BootstrapSettings) -> usize {
    let mut produced = 0;
    for target in targets {
        for metric in target.metrics() {
            let summary = Summary::new(metric).expect("valid");
            let intervals = bootstrap_quantile_intervals(metric, &QUANTILES, settings).expect("valid");
            produced += summary.count.min(1) + intervals.len();
        }
    }
    produced
}

fn per_target_order_statistics(targets: &[Target]) -> usize {
    let mut produced = 0;
    for target in targets {
        for metric in target.metrics() {
            let mut sorted = metric.to_vec();
            sorted.sort_unstable_by(f64::total_cmp);
            for q in QUANTILES {
                produced += usize::from(order_statistic_interval(&sorted, q, 0.95).expect("valid").is_some());
            }
        }
    }
    produced
}

fn pairs() -> Vec<(usize, usize)> {
    (0..TARGETS)
        .flat_map(|first| (first + 1..TARGETS).map(move |second| (first, second)))
        .collect()
}

/// Everything about one pair of targets: its comparisons (not yet adjusted) and their p-values.
fn pair_statistics(
    targets: &[Target],
    (first, second): (usize, usize),
    settings: &BootstrapSettings,
) -> Vec<(Option<Comparison>, f64)> {
    let (a, b) = (&targets[first], &targets[second]);
    let mut result = Vec::new();
    for (x, y) in [
        (&a.time_to_first_token, &b.time_to_first_token),
        (&a.total_time, &b.total_time),
    ] {
        let test = wilcoxon_signed_rank(x, y).expect("valid");
        for difference in paired_quantile_differences(x, y, &[0.5, 0.95], settings).expect("valid") {
            let estimate = difference.relative_difference.expect("positive latencies");
            let latency = comparison(
                estimate,
                Margin::Relative(0.10),
                Direction::LowerIsBetter,
                Variability::FromInterval,
            );
            result.push((Some(latency), test.p_value));
        }
    }
    result.push(rate_comparison(
        &a.erred,
        &b.erred,
        Margin::Absolute(0.01),
        Direction::LowerIsBetter,
    ));
    result.push(rate_comparison(
        &a.passed,
        &b.passed,
        Margin::Absolute(0.03),
        Direction::HigherIsBetter,
    ));
    let (within, across) = similarities((first * TARGETS + second) as u64, 0.0);
    let drift = paired_drift_test(&within, &across, 2_000, settings.seed).expect("valid");
    // Drift has a p-value but no margin: it joins the Holm family, not the verdicts.
    result.push((None, drift.p_value));
    result
}

/// A paired rate (errors or passes per (test, repeat)): the Newcombe interval and McNemar's p.
fn rate_comparison(first: &[bool], second: &[bool], margin: Margin, direction: Direction) -> (Option<Comparison>, f64) {
    let table = PairedTable::from_pairs(first.iter().copied().zip(second.iter().copied()));
    let estimate = paired_proportion_difference(table, 0.95).expect("valid");
    let rates = Variability::Proportions {
        first: table.first_rate(),
        second: table.second_rate(),
    };
    (
        Some(comparison(estimate, margin, direction, rates)),
        exact_mcnemar(table.first_only, table.second_only),
    )
}

/// Holm across the session's p-values, then a verdict for each comparison.
fn decide_all(statistics: Vec<(Option<Comparison>, f64)>) -> usize {
    let p_values: Vec<f64> = statistics.iter().map(|(_, p)| *p).collect();
    let adjusted = holm_adjust(&p_values);
    let mut decided = 0;
    for ((comparison, _), p) in statistics.into_iter().zip(adjusted) {
        if let Some(comparison) = comparison {
            std::hint::black_box(
                decide(
                    Comparison {
                        adjusted_p_value: Some(p),
                        ..comparison
                    },
                    0.05,
                )
                .expect("valid"),
            );
            decided += 1;
        }
    }
    decided
}

fn per_pair(targets: &[Target], settings: &BootstrapSettings) -> usize {
    decide_all(
        pairs()
            .into_iter()
            .flat_map(|pair| pair_statistics(targets, pair, settings))
            .collect(),
    )
}

/// The same on two threads, half of the pairs each: the functions are pure, so a caller can
/// spread the pairs over the cores and get the same numbers.
fn per_pair_on_two_threads(targets: &[Target], settings: &BootstrapSettings) -> usize {
    let all = pairs();
    let (left, right) = all.split_at(all.len() / 2);
    let statistics = std::thread::scope(|scope| {
        let other = scope.spawn(|| {
            right
                .iter()
                .flat_map(|&pair| pair_statistics(targets, pair, settings))
                .collect::<Vec<_>>()
        });
        let mut mine: Vec<_> = left
            .iter()
            .flat_map(|&pair| pair_statistics(targets, pair, settings))
            .collect();
        mine.extend(other.join().expect("no panic"));
        mine
    });
    decide_all(statistics)
}

fn comparison(estimate: Estimate, margin: Margin, direction: Direction, variability: Variability) -> Comparison {
    Comparison {
        estimate,
        confidence: 0.95,
        margin,
        direction,
        adjusted_p_value: None,
        samples: SAMPLES as u64,
        variability,
    }
}

/// The calling thread's time on a CPU (Linux's schedstat, in ns), or `None` elsewhere. The
/// machines are shared, so wall time measures the neighbours too; CPU time says what the work
/// costs on an idle core.
fn thread_cpu_time() -> Option<Duration> {
    let text = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    let nanoseconds: u64 = text.split_whitespace().next()?.parse().ok()?;
    Some(Duration::from_nanos(nanoseconds))
}

/// Runs `run` once to warm up and ITERATIONS times measured; the median and worst wall time and
/// the median CPU time of this thread, in ms.
fn measure(name: &str, mut run: impl FnMut() -> usize) -> (String, f64, f64, f64) {
    std::hint::black_box(run());
    let mut walls = Vec::with_capacity(ITERATIONS);
    let mut cpus = Vec::with_capacity(ITERATIONS);
    for _ in 0..ITERATIONS {
        let (start, cpu_start) = (Instant::now(), thread_cpu_time());
        std::hint::black_box(run());
        walls.push(start.elapsed());
        if let (Some(before), Some(after)) = (cpu_start, thread_cpu_time()) {
            cpus.push(after.saturating_sub(before));
        }
    }
    walls.sort();
    cpus.sort();
    let median = walls[ITERATIONS / 2].as_secs_f64() * 1000.0;
    let worst = walls[ITERATIONS - 1].as_secs_f64() * 1000.0;
    let cpu = cpus
        .get(cpus.len() / 2)
        .map_or(f64::NAN, |time| time.as_secs_f64() * 1000.0);
    println!("{name:<56} median {median:7.1} ms   worst {worst:7.1} ms   cpu {cpu:7.1} ms");
    (name.to_owned(), median, worst, cpu)
}

fn per_target_summaries(targets: &[Target]) -> usize {
    targets
        .iter()
        .flat_map(Target::metrics)
        .map(|metric| Summary::new(metric).expect("valid").count)
        .sum::<usize>()
        + per_target_order_statistics(targets)
}

fn paired_bootstraps_only(targets: &[Target], settings: &BootstrapSettings) -> usize {
    let mut produced = 0;
    for (first, second) in pairs() {
        let (a, b) = (&targets[first], &targets[second]);
        for (x, y) in [
            (&a.time_to_first_token, &b.time_to_first_token),
            (&a.total_time, &b.total_time),
        ] {
            produced += paired_quantile_differences(x, y, &[0.5, 0.95], settings)
                .expect("valid")
                .len();
        }
    }
    produced
}

/// Every pair's drift test with `test` (the two-sample or the paired one).
fn drift_tests_only(test: fn(&[f64], &[f64], usize, u64) -> modelbench_engine::stats::Result<DriftTest>) -> usize {
    pairs()
        .into_iter()
        .map(|(first, second)| {
            let (within, across) = similarities((first * TARGETS + second) as u64, 0.0);
            usize::from(test(&within, &across, 2_000, 1).expect("valid").exact)
        })
        .sum()
}

fn main() {
    let targets: Vec<Target> = (0..TARGETS).map(target).collect();
    println!(
        "{TARGETS} targets × {SAMPLES} samples, {} pairs, {ITERATIONS} iterations",
        pairs().len()
    );
    let settings = BootstrapSettings {
        resamples: 1_000,
        confidence: 0.95,
        seed: 1,
    };
    let results = vec![
        measure("per target: summaries + order-statistic intervals", || {
            per_target_summaries(&targets)
        }),
        measure("per target: bootstrap intervals instead, B=1000", || {
            per_target(&targets, &settings)
        }),
        measure("pairs: paired bootstraps only (2 latencies), B=1000", || {
            paired_bootstraps_only(&targets, &settings)
        }),
        measure("pairs: two-sample drift tests only, R=2000", || {
            drift_tests_only(drift_test)
        }),
        measure("pairs: paired drift tests only, R=2000", || {
            drift_tests_only(paired_drift_test)
        }),
        measure("pairs: everything + Holm + verdicts, B=1000", || {
            per_pair(&targets, &settings)
        }),
        measure(FULL, || per_target_summaries(&targets) + per_pair(&targets, &settings)),
        measure(
            "full session, pairs on 2 threads (cpu: main thread only), B=1000",
            || per_target_summaries(&targets) + per_pair_on_two_threads(&targets, &settings),
        ),
        measure("full session with per-target bootstrap, B=1000", || {
            per_target(&targets, &settings) + per_pair(&targets, &settings)
        }),
    ];
    let full = results
        .iter()
        .find(|(name, ..)| name == FULL)
        .map_or(f64::NAN, |result| result.1);
    println!("{FULL}: {full:.1} ms (budget {BUDGET_MS} ms)");

    let document = serde_json::json!({
        "targets": TARGETS,
        "samples_per_target": SAMPLES,
        "iterations": ITERATIONS,
        "budget_ms": BUDGET_MS,
        "full_session_ms": full,
        "within_budget": full < BUDGET_MS,
        "cases": results.iter().map(|(name, median, worst, cpu)| serde_json::json!({
            "name": name,
            "median_ms": median,
            "worst_ms": worst,
            "cpu_ms": cpu,
        })).collect::<Vec<_>>(),
    });
    let directory = std::env::var_os("CARGO_TARGET_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target"))
        .join("bench");
    let path = directory.join("stats.json");
    let written = std::fs::create_dir_all(&directory).and_then(|()| std::fs::write(&path, format!("{document:#}\n")));
    match written {
        Ok(()) => println!("wrote {}", path.display()),
        Err(error) => eprintln!("cannot write {}: {error}", path.display()),
    }
    if full > BUDGET_MS {
        println!("over budget: {full:.1} ms > {BUDGET_MS} ms");
    }
}
