//! A session's numbers: per target, per test, the cloud-parity comparisons with their verdicts,
//! and the leaderboard across base models. Pure: it reads the suite's cases, the targets and the
//! stored responses, and computes everything from them (the statistics are `crate::stats`), so
//! `session show` and every export agree and a report reproduces from its seed.
//!
//! Definitions (docs/sessions.md says them for readers):
//! - a call is *attempted* when it was sent (a response exists that is not "never sent");
//! - its *error* is an attempted call that did not complete; the error rate is errors / attempted;
//! - the *pass rate* is over the completed answers whose checks could be evaluated (an error has
//!   no answer to grade; it counts in the error rate instead);
//! - latency figures are over completed answers.

use std::collections::{BTreeMap, HashMap};

use serde::Serialize;

use crate::diff::{DiffMode, similarity};
use crate::model::record::ResponseRecord;
use crate::model::target::Target;
use crate::stats::{
    self, BootstrapSettings, Comparison, Decision, Direction, Estimate, Interval, Margin, PairedTable, Variability,
    Verdict,
};
use crate::suite::{Case, CheckSubject, Margins};

/// Confidence of every interval, and the family-wise level of the verdicts.
pub const CONFIDENCE: f64 = 0.95;
const ALPHA: f64 = 0.05;
/// Bootstrap resamples per interval.
const RESAMPLES: usize = 2_000;
/// Permutations of the drift test.
const PERMUTATIONS: usize = 2_000;
/// The most tests whose answers are compared for drift and self-similarity: a seeded sample
/// beyond it keeps `session show` fast on suites of thousands of tests.
const SIMILARITY_TESTS: usize = 400;
/// Fewer pairs than this and a latency comparison says "too few samples" without computing.
const MINIMUM_PAIRS: usize = 5;

/// What `analyse` reads.
pub struct SessionInput<'a> {
    pub session_id: String,
    pub status: String,
    pub cases: &'a [Case],
    pub targets: &'a [Target],
    pub repeat: u32,
    pub responses: &'a [ResponseRecord],
    pub margins: &'a Margins,
    pub seed: u64,
}

/// A rate with its Wilson interval; all `None` when nothing was counted.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Rate {
    pub value: Option<f64>,
    pub low: Option<f64>,
    pub high: Option<f64>,
    pub count: u64,
    pub total: u64,
}

/// A latency-like distribution: quantiles, and bootstrap intervals of p50 and p95.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Distribution {
    pub count: usize,
    pub p50: Option<f64>,
    pub p90: Option<f64>,
    pub p95: Option<f64>,
    pub p99: Option<f64>,
    pub p50_ci: Option<[f64; 2]>,
    pub p95_ci: Option<[f64; 2]>,
    pub p90_ci: Option<[f64; 2]>,
    pub p99_ci: Option<[f64; 2]>,
    pub mean: Option<f64>,
    pub min: Option<f64>,
    pub max: Option<f64>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct CostFigures {
    /// Sum of the known costs.
    pub total: f64,
    /// Per attempted call (one test, once).
    pub per_test: Option<f64>,
    pub per_1000_tests: Option<f64>,
    /// Calls whose cost is unknown (not in `total`).
    pub unknown: u64,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct TargetFigures {
    pub target: String,
    pub provider: String,
    pub model: String,
    pub region: Option<String>,
    pub base_model: Option<String>,
    pub planned: u64,
    pub completed: u64,
    pub attempted: u64,
    pub errors: BTreeMap<String, u64>,
    pub error_rate: Rate,
    /// Per error kind, its rate over attempted calls.
    pub error_rates: BTreeMap<String, Rate>,
    pub pass_rate: Rate,
    pub refusals: u64,
    /// Latency of the completed calls whose timings are the cloud's: those marked
    /// `client_saturated` (ModelBench itself was late around them) are left out and counted in
    /// `client_saturated`.
    pub ttft_ms: Distribution,
    pub total_ms: Distribution,
    pub output_tokens_per_second: Distribution,
    /// Completed calls left out of the latency figures because the client was saturated.
    pub client_saturated: u64,
    pub input_tokens: u64,
    pub output_tokens: u64,
    pub cost_usd: CostFigures,
    /// What the cloud said it ran, each list in the order the calls started: the model
    /// version, the region or data zone, the backend configuration (`system_fingerprint`) and
    /// the capacity tier. Empty where the cloud never says.
    pub reported_models: Vec<String>,
    pub reported_regions: Vec<String>,
    pub system_fingerprints: Vec<String>,
    pub service_tiers: Vec<String>,
    /// The reported model changed during the session.
    pub model_changed: bool,
    /// The reported fingerprint changed during the session: the cloud redeployed (or balanced
    /// across backends), so answers before and after may differ for reasons of its own.
    pub fingerprint_changed: bool,
    /// Calls were served at more than one capacity tier, whose latencies need not compare.
    pub service_tier_changed: bool,
}

/// One metric of one pair.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ParityMetric {
    /// `ttft_p50`, `ttft_p95`, `error_rate`, `pass_rate`, `output_drift`, `cost_per_test`.
    pub metric: &'static str,
    /// The first target's value (for latency, the quantile in ms; rates as fractions).
    pub a: Option<f64>,
    pub b: Option<f64>,
    /// b − a in the margin's unit: relative for latency and cost, absolute for rates, the drop
    /// in similarity below the noise floor for drift.
    pub difference: Option<f64>,
    pub ci: Option<[f64; 2]>,
    /// The raw p-value of the test of no difference, where there is one.
    pub p_value: Option<f64>,
    /// Holm-adjusted across every comparison of the session.
    pub p_value_adjusted: Option<f64>,
    /// `equivalent`, `better`, `worse` (b against a) or `too_few_samples`.
    pub verdict: &'static str,
    /// With `too_few_samples`: the pairs expected to decide, when it can be said.
    pub needed_samples: Option<u64>,
    pub samples: u64,
    /// The margin it was judged by, in the difference's unit.
    pub margin: f64,
    pub note: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Parity {
    pub base_model: String,
    pub a: String,
    pub b: String,
    pub metrics: Vec<ParityMetric>,
    /// The two clouds reported different model versions.
    pub versions_differ: bool,
    /// The two clouds reported different capacity tiers (latency compares unlike service).
    pub service_tiers_differ: bool,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct TestTarget {
    pub target: String,
    pub passed: u64,
    pub failed: u64,
    pub errors: u64,
    /// Share of the graded repeats that passed.
    pub pass_share: Option<f64>,
    /// Mean similarity between this target's repeats (1 when they agree word for word).
    pub self_similarity: Option<f64>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct TestFigures {
    pub case_id: String,
    pub test_id: String,
    pub description: Option<String>,
    pub targets: Vec<TestTarget>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Leader {
    pub base_model: String,
    pub rank: usize,
    pub pass_rate: f64,
    pub low: f64,
    pub high: f64,
    pub passes: u64,
    pub total: u64,
    pub tied_with_leader: bool,
    pub ttft_p50_ms: Option<f64>,
    pub cost_per_1000_tests: Option<f64>,
}

/// The decision for one base model: which targets are at parity, and among them the cheapest,
/// the fastest and the most reliable.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct BaseModelDecision {
    pub base_model: String,
    pub targets: Vec<String>,
    /// The targets no other target of the group beats on pass rate or error rate (verdict
    /// `worse` against one of them excludes a target).
    pub equivalent: Vec<String>,
    pub cheapest: Option<String>,
    pub fastest: Option<String>,
    pub most_reliable: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Analysis {
    pub session_id: String,
    pub status: String,
    pub seed: u64,
    pub confidence: f64,
    pub margins: Margins,
    pub targets: Vec<TargetFigures>,
    pub parity: Vec<Parity>,
    pub tests: Vec<TestFigures>,
    pub leaderboard: Vec<Leader>,
    /// Per base model with two or more targets: the decision table.
    pub decisions: Vec<BaseModelDecision>,
    /// The first failing answers and errors, in test, target, repeat order.
    pub failures: Vec<Failure>,
    /// How many there are in all.
    pub failure_count: u64,
    pub notes: Vec<String>,
}

/// One call's place and outcome.
struct Call<'a> {
    record: &'a ResponseRecord,
    passed: Option<bool>,
    reason: String,
}

/// A graded answer that failed its checks, or a call that erred: what the report shows "one
/// click away".
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Failure {
    pub case_id: String,
    pub target: String,
    pub repeat: u32,
    /// `failed` (checks) or the error kind.
    pub outcome: String,
    pub reason: String,
    /// The answer (or the partial output), at most 2,000 characters.
    pub answer: String,
}

/// Failures listed in full, at most; the counts stay exact.
const FAILURES_SHOWN: usize = 200;

impl Call<'_> {
    /// Sent at least once: a call cancelled or refused by the budget before its turn has no
    /// attempt (the runner records those with `attempts` 0).
    fn attempted(&self) -> bool {
        self.record.attempts > 0
    }

    fn errored(&self) -> bool {
        self.attempted() && !self.record.complete
    }
}

fn rate(count: u64, total: u64) -> Rate {
    let interval = stats::wilson_interval(count, total, CONFIDENCE).ok();
    Rate {
        value: (total > 0).then(|| count as f64 / total as f64),
        low: interval.map(|interval| interval.lower),
        high: interval.map(|interval| interval.upper),
        count,
        total,
    }
}

fn pair(interval: Interval) -> [f64; 2] {
    [interval.lower, interval.upper]
}

fn distribution(values: &[f64], seed: u64) -> Distribution {
    let summary = stats::Summary::new(values).ok();
    let settings = BootstrapSettings {
        resamples: RESAMPLES,
        confidence: CONFIDENCE,
        seed,
    };
    let intervals = if values.len() >= 2 {
        stats::bootstrap_quantile_intervals(values, &[0.5, 0.9, 0.95, 0.99], &settings).ok()
    } else {
        None
    };
    let interval = |index: usize| {
        intervals
            .as_ref()
            .and_then(|all| all.get(index))
            .map(|estimate| pair(estimate.interval))
    };
    Distribution {
        count: values.len(),
        p50: summary.map(|summary| summary.p50),
        p90: summary.map(|summary| summary.p90),
        p95: summary.map(|summary| summary.p95),
        p99: summary.map(|summary| summary.p99),
        p50_ci: interval(0),
        p90_ci: interval(1),
        p95_ci: interval(2),
        p99_ci: interval(3),
        mean: summary.map(|summary| summary.mean),
        min: summary.map(|summary| summary.minimum),
        max: summary.map(|summary| summary.maximum),
    }
}

fn first_seen(values: impl Iterator<Item = Option<String>>) -> Vec<String> {
    let mut seen: Vec<String> = Vec::new();
    for value in values.flatten() {
        if !seen.contains(&value) {
            seen.push(value);
        }
    }
    seen
}

/// A stable 64-bit mix of the session seed and a label, so each statistic draws its own stream.
fn seed_for(seed: u64, label: &str) -> u64 {
    label.bytes().fold(seed ^ 0x9E37_79B9_7F4A_7C15, |hash, byte| {
        (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01B3)
    })
}

/// Everything `session show` reports.
pub fn analyse(input: &SessionInput<'_>) -> Analysis {
    let repeat = input.repeat.max(1);
    let mut notes = Vec::new();
    // calls[target][case][repeat]
    let mut calls: Vec<Vec<Vec<Option<Call<'_>>>>> = input
        .targets
        .iter()
        .map(|_| {
            input
                .cases
                .iter()
                .map(|_| (0..repeat).map(|_| None).collect())
                .collect()
        })
        .collect();
    for record in input.responses {
        let (target, case, repeat_index) = (
            record.key.target_index as usize,
            record.key.prompt_index as usize,
            record.key.repeat_index as usize,
        );
        let Some(slot) = calls
            .get_mut(target)
            .and_then(|cases| cases.get_mut(case))
            .and_then(|repeats| repeats.get_mut(repeat_index))
        else {
            continue;
        };
        let (passed, reason) = match input.cases.get(case) {
            Some(case) if record.complete => {
                let grade = case.evaluate(&CheckSubject::from(record)).grade;
                (grade.passed, grade.reason)
            }
            _ => (None, String::new()),
        };
        *slot = Some(Call { record, passed, reason });
    }

    let planned = (input.cases.len() as u64) * u64::from(repeat);
    let targets: Vec<TargetFigures> = input
        .targets
        .iter()
        .enumerate()
        .map(|(index, target)| target_figures(target, &calls[index], planned, seed_for(input.seed, &target.name)))
        .collect();

    let sample = similarity_sample(input.cases.len(), input.seed);
    // Each target's similarities between its repeats of each sampled test, computed once: the
    // drift test of every pair the target is in and its per-test self-similarity all read them,
    // and these diffs are most of the analysis's time.
    let within: Vec<HashMap<usize, Vec<f64>>> = calls
        .iter()
        .map(|cases| {
            sample
                .iter()
                .map(|&case| (case, within_similarities(&cases[case])))
                .collect()
        })
        .collect();
    let mut parity = Vec::new();
    for a in 0..input.targets.len() {
        for b in a + 1..input.targets.len() {
            let (Some(base_a), Some(base_b)) = (&targets[a].base_model, &targets[b].base_model) else {
                continue;
            };
            if base_a != base_b {
                continue;
            }
            parity.push(compare(input, &calls, &targets, a, b, &sample, &within));
        }
    }
    // Holm across every p-value of the session, then the verdicts that rest on them.
    let mut p_values = Vec::new();
    for comparison in &parity {
        for metric in &comparison.metrics {
            if let Some(p) = metric.p_value {
                p_values.push(p);
            }
        }
    }
    let adjusted = stats::holm_adjust(&p_values);
    let mut next = adjusted.into_iter();
    for comparison in &mut parity {
        for metric in &mut comparison.metrics {
            if metric.p_value.is_some() {
                metric.p_value_adjusted = next.next();
            }
        }
    }
    for comparison in &mut parity {
        for metric in &mut comparison.metrics {
            settle_verdict(metric);
        }
    }

    let tests = input
        .cases
        .iter()
        .enumerate()
        .map(|(case_index, case)| TestFigures {
            case_id: case.case_id.clone(),
            test_id: case.test_id.clone(),
            description: case.description.clone(),
            targets: input
                .targets
                .iter()
                .enumerate()
                .map(|(target_index, target)| {
                    let repeats = &calls[target_index][case_index];
                    let graded: Vec<bool> = repeats.iter().flatten().filter_map(|call| call.passed).collect();
                    let passed = graded.iter().filter(|&&passed| passed).count() as u64;
                    let errors = repeats.iter().flatten().filter(|call| call.errored()).count() as u64;
                    let self_similarity = match within[target_index].get(&case_index) {
                        Some(within) if repeat > 1 && !within.is_empty() => {
                            Some(within.iter().sum::<f64>() / within.len() as f64)
                        }
                        _ => None,
                    };
                    TestTarget {
                        target: target.name.clone(),
                        passed,
                        failed: graded.len() as u64 - passed,
                        errors,
                        pass_share: (!graded.is_empty()).then(|| passed as f64 / graded.len() as f64),
                        self_similarity,
                    }
                })
                .collect(),
        })
        .collect();
    if input.cases.len() > SIMILARITY_TESTS && repeat > 1 {
        notes.push(format!(
            "output similarity (drift, self-similarity) is computed on a seeded sample of {SIMILARITY_TESTS} of the {} tests",
            input.cases.len()
        ));
    }

    let saturated: u64 = targets.iter().map(|target| target.client_saturated).sum();
    if saturated > 0 {
        let completed: u64 = targets.iter().map(|target| target.completed).sum();
        notes.push(format!(
            "{saturated} of {completed} completed calls were timed while ModelBench itself was running late \
             (client saturated: its scheduling lag could have moved their timings past the threshold); \
             their latency is left out of the latency figures and verdicts. Run the session at a lower \
             concurrency (or `--concurrency auto`) so every call counts"
        ));
    }

    let mut failures = Vec::new();
    let mut failure_count = 0;
    for (case_index, case) in input.cases.iter().enumerate() {
        for (target_index, target) in input.targets.iter().enumerate() {
            for call in calls[target_index][case_index].iter().flatten() {
                let outcome = if call.errored() {
                    call.record
                        .error
                        .as_ref()
                        .map_or("incomplete", |error| error.kind.as_str())
                } else if call.passed == Some(false) {
                    "failed"
                } else {
                    continue;
                };
                failure_count += 1;
                if failures.len() < FAILURES_SHOWN {
                    failures.push(Failure {
                        case_id: case.case_id.clone(),
                        target: target.name.clone(),
                        repeat: call.record.key.repeat_index,
                        outcome: outcome.to_owned(),
                        reason: match &call.record.error {
                            Some(error) if call.errored() => error.message.clone(),
                            _ => call.reason.clone(),
                        },
                        answer: call.record.text.chars().take(2_000).collect(),
                    });
                }
            }
        }
    }

    Analysis {
        decisions: decisions(&targets, &parity),
        failures,
        failure_count,
        session_id: input.session_id.clone(),
        status: input.status.clone(),
        seed: input.seed,
        confidence: CONFIDENCE,
        margins: input.margins.clone(),
        leaderboard: leaderboard(&targets),
        targets,
        parity,
        tests,
        notes,
    }
}

fn target_figures(target: &Target, calls: &[Vec<Option<Call<'_>>>], planned: u64, seed: u64) -> TargetFigures {
    let all: Vec<&Call<'_>> = calls.iter().flatten().flatten().collect();
    let attempted: Vec<&&Call<'_>> = all.iter().filter(|call| call.attempted()).collect();
    let completed: Vec<&&Call<'_>> = attempted.iter().copied().filter(|call| call.record.complete).collect();
    let mut errors: BTreeMap<String, u64> = BTreeMap::new();
    for call in attempted.iter().filter(|call| call.errored()) {
        let kind = call
            .record
            .error
            .as_ref()
            .map_or("incomplete", |error| error.kind.as_str());
        *errors.entry(kind.to_owned()).or_default() += 1;
    }
    let attempted_count = attempted.len() as u64;
    let error_count: u64 = errors.values().sum();
    let graded: Vec<bool> = completed.iter().filter_map(|call| call.passed).collect();
    let passes = graded.iter().filter(|&&passed| passed).count() as u64;
    let values = |pick: fn(&ResponseRecord) -> Option<f64>| -> Vec<f64> {
        completed
            .iter()
            .filter(|call| !call.record.metrics.client_saturated)
            .filter_map(|call| pick(call.record))
            .filter(|value| value.is_finite())
            .collect()
    };
    let ttft = values(|record| record.metrics.time_to_first_token_ms);
    let total = values(|record| Some(record.metrics.total_ms));
    let speed = values(|record| record.metrics.output_tokens_per_second);
    let known_costs: Vec<f64> = attempted.iter().filter_map(|call| call.record.cost_usd).collect();
    let cost_total: f64 = known_costs.iter().sum();
    let priced = known_costs.len() as u64;
    let per_test = (priced > 0).then(|| cost_total / priced as f64);
    // "Changed during the session" reads the calls in the order they were sent, not test order.
    let mut by_start = all.clone();
    by_start.sort_by_key(|call| (call.record.started_at_ms, call.record.key));
    let reported = |pick: fn(&ResponseRecord) -> &Option<String>| {
        first_seen(by_start.iter().map(|call| pick(call.record).clone()))
    };
    let reported_models = reported(|record| &record.reported_model);
    let system_fingerprints = reported(|record| &record.system_fingerprint);
    let service_tiers = reported(|record| &record.service_tier);
    TargetFigures {
        target: target.name.clone(),
        provider: target.provider.as_str().to_owned(),
        model: target.model.clone(),
        region: target.region.clone().or_else(|| target.location.clone()),
        base_model: all
            .iter()
            .find_map(|call| call.record.base_model.clone())
            .or_else(|| crate::model::identity::base_model(target, None)),
        planned,
        completed: completed.len() as u64,
        attempted: attempted_count,
        error_rates: errors
            .iter()
            .map(|(kind, count)| (kind.clone(), rate(*count, attempted_count)))
            .collect(),
        errors,
        error_rate: rate(error_count, attempted_count),
        pass_rate: rate(passes, graded.len() as u64),
        refusals: completed
            .iter()
            .filter(|call| CheckSubject::from(call.record).is_refusal())
            .count() as u64,
        ttft_ms: distribution(&ttft, seed_for(seed, "ttft")),
        total_ms: distribution(&total, seed_for(seed, "total")),
        output_tokens_per_second: distribution(&speed, seed_for(seed, "speed")),
        client_saturated: completed
            .iter()
            .filter(|call| call.record.metrics.client_saturated)
            .count() as u64,
        input_tokens: attempted.iter().filter_map(|call| call.record.usage.input_tokens).sum(),
        output_tokens: attempted
            .iter()
            .filter_map(|call| call.record.usage.output_tokens)
            .sum(),
        cost_usd: CostFigures {
            total: cost_total,
            per_test,
            per_1000_tests: per_test.map(|per_test| per_test * 1000.0),
            unknown: attempted_count - priced,
        },
        model_changed: reported_models.len() > 1,
        fingerprint_changed: system_fingerprints.len() > 1,
        service_tier_changed: service_tiers.len() > 1,
        reported_models,
        reported_regions: reported(|record| &record.region),
        system_fingerprints,
        service_tiers,
    }
}

/// The tests whose answers are compared for similarity: all of them, or a seeded sample.
fn similarity_sample(count: usize, seed: u64) -> Vec<usize> {
    if count <= SIMILARITY_TESTS {
        return (0..count).collect();
    }
    // A seeded partial Fisher-Yates over the indices (SplitMix64 steps).
    let mut state = seed_for(seed, "similarity sample");
    let mut next = || {
        state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut mixed = state;
        mixed = (mixed ^ (mixed >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        mixed = (mixed ^ (mixed >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        mixed ^ (mixed >> 31)
    };
    let mut indices: Vec<usize> = (0..count).collect();
    for position in 0..SIMILARITY_TESTS {
        let pick = position + (next() % (count - position) as u64) as usize;
        indices.swap(position, pick);
    }
    let mut sample = indices[..SIMILARITY_TESTS].to_vec();
    sample.sort_unstable();
    sample
}

fn completed_text<'a>(call: &'a Option<Call<'_>>) -> Option<&'a str> {
    call.as_ref()
        .filter(|call| call.record.complete)
        .map(|call| call.record.text.as_str())
}

/// Similarities between every two completed repeats of one target on one test.
fn within_similarities(repeats: &[Option<Call<'_>>]) -> Vec<f64> {
    let texts: Vec<&str> = repeats.iter().filter_map(completed_text).collect();
    if texts.len() < 2 {
        return Vec::new();
    }
    let Ok(matrix) = similarity(&texts, DiffMode::Normalized) else {
        return Vec::new();
    };
    let mut values = Vec::new();
    for row in 0..texts.len() {
        for column in row + 1..texts.len() {
            values.push(matrix.ratios[row][column]);
        }
    }
    values
}

fn compare(
    input: &SessionInput<'_>,
    calls: &[Vec<Vec<Option<Call<'_>>>>],
    targets: &[TargetFigures],
    a: usize,
    b: usize,
    sample: &[usize],
    within_by_target: &[HashMap<usize, Vec<f64>>],
) -> Parity {
    let label = format!("{}\u{0}{}", input.targets[a].name, input.targets[b].name);
    let seed = seed_for(input.seed, &label);
    let latency_margin = input.margins.latency_percent / 100.0;
    let mut metrics = Vec::new();

    // Pairs (test, repeat) that ran on both.
    let pairs: Vec<(&Call<'_>, &Call<'_>)> = calls[a]
        .iter()
        .zip(&calls[b])
        .flat_map(|(left, right)| left.iter().zip(right))
        .filter_map(|(left, right)| Some((left.as_ref()?, right.as_ref()?)))
        .filter(|(left, right)| left.attempted() && right.attempted())
        .collect();

    // Latency: paired by (test, repeat), both completed, neither timed by a saturated client.
    let (first, second): (Vec<f64>, Vec<f64>) = pairs
        .iter()
        .filter(|(left, right)| left.record.complete && right.record.complete)
        .filter(|(left, right)| !left.record.metrics.client_saturated && !right.record.metrics.client_saturated)
        .filter_map(|(left, right)| {
            Some((
                left.record.metrics.time_to_first_token_ms?,
                right.record.metrics.time_to_first_token_ms?,
            ))
        })
        .unzip();
    let rank_test = stats::wilcoxon_signed_rank(&first, &second).ok();
    let differences = if first.len() >= MINIMUM_PAIRS {
        stats::paired_quantile_differences(
            &first,
            &second,
            &[0.5, 0.95],
            &BootstrapSettings {
                resamples: RESAMPLES,
                confidence: CONFIDENCE,
                seed,
            },
        )
        .ok()
    } else {
        None
    };
    for (index, metric) in ["ttft_p50", "ttft_p95"].into_iter().enumerate() {
        let difference = differences.as_ref().and_then(|all| all.get(index));
        let relative = difference.and_then(|difference| difference.relative_difference);
        metrics.push(ParityMetric {
            metric,
            a: difference.map(|difference| difference.first),
            b: difference.map(|difference| difference.second),
            difference: relative.map(|estimate| estimate.value),
            ci: relative.map(|estimate| pair(estimate.interval)),
            p_value: rank_test.map(|test| test.p_value),
            p_value_adjusted: None,
            verdict: "too_few_samples",
            needed_samples: None,
            samples: first.len() as u64,
            margin: latency_margin,
            note: (first.len() < MINIMUM_PAIRS).then(|| {
                format!(
                    "{} paired answers with a first token; {MINIMUM_PAIRS} at least",
                    first.len()
                )
            }),
        });
    }

    // Error rate: paired attempted calls.
    let errors = PairedTable::from_pairs(pairs.iter().map(|(left, right)| (left.errored(), right.errored())));
    metrics.push(paired_rate_metric(
        "error_rate",
        errors,
        input.margins.error_rate_points / 100.0,
    ));

    // Pass rate: paired graded answers.
    let passes = PairedTable::from_pairs(
        pairs
            .iter()
            .filter_map(|(left, right)| Some((left.passed?, right.passed?))),
    );
    metrics.push(paired_rate_metric(
        "pass_rate",
        passes,
        input.margins.pass_rate_points / 100.0,
    ));

    // Output drift: the two targets' answers to the same test against each one's repeats.
    let mut within = Vec::new();
    let mut across = Vec::new();
    for &case in sample {
        let (left, right) = (&calls[a][case], &calls[b][case]);
        for side in [a, b] {
            within.extend(within_by_target[side].get(&case).into_iter().flatten());
        }
        for (one, other) in left.iter().zip(right) {
            if let (Some(one), Some(other)) = (completed_text(one), completed_text(other))
                && let Ok(matrix) = similarity(&[one, other], DiffMode::Normalized)
            {
                across.push(matrix.ratios[0][1]);
            }
        }
    }
    let drift = stats::drift_test(&within, &across, PERMUTATIONS, seed_for(seed, "drift")).ok();
    metrics.push(ParityMetric {
        metric: "output_drift",
        a: drift.map(|test| test.within_mean),
        b: drift.map(|test| test.across_mean),
        difference: drift.map(|test| test.across_mean - test.within_mean),
        ci: None,
        p_value: drift.map(|test| test.p_value),
        p_value_adjusted: None,
        verdict: "too_few_samples",
        needed_samples: None,
        samples: across.len() as u64,
        margin: 0.0,
        note: Some(if within.is_empty() {
            "needs at least 2 repeats: the noise floor is the similarity between repeats on one target".to_owned()
        } else {
            "a: the noise floor (similarity between repeats on one target); b: similarity between the two targets' answers"
                .to_owned()
        }),
    });

    // Cost per test: from prices, not sampled; judged by the latency margin.
    let (cost_a, cost_b) = (targets[a].cost_usd.per_test, targets[b].cost_usd.per_test);
    let relative = cost_a.zip(cost_b).filter(|(a, _)| *a > 0.0).map(|(a, b)| (b - a) / a);
    metrics.push(ParityMetric {
        metric: "cost_per_test",
        a: cost_a,
        b: cost_b,
        difference: relative,
        ci: None,
        p_value: None,
        p_value_adjusted: None,
        verdict: match relative {
            None => "too_few_samples",
            Some(relative) if relative.abs() <= latency_margin => "equivalent",
            Some(relative) if relative < 0.0 => "better",
            Some(_) => "worse",
        },
        needed_samples: None,
        samples: pairs.len() as u64,
        margin: latency_margin,
        note: Some("computed from prices and measured tokens; judged by the latency margin".to_owned()),
    });

    // Both must have said something to differ: a cloud that never reports is no evidence.
    let differ = |first: &[String], second: &[String]| !first.is_empty() && !second.is_empty() && first != second;
    Parity {
        base_model: targets[a].base_model.clone().unwrap_or_default(),
        a: input.targets[a].name.clone(),
        b: input.targets[b].name.clone(),
        versions_differ: differ(&targets[a].reported_models, &targets[b].reported_models),
        service_tiers_differ: differ(&targets[a].service_tiers, &targets[b].service_tiers),
        metrics,
    }
}

fn paired_rate_metric(metric: &'static str, table: PairedTable, margin: f64) -> ParityMetric {
    let total = table.total();
    let estimate = (total > 0)
        .then(|| stats::paired_proportion_difference(table, CONFIDENCE).ok())
        .flatten();
    ParityMetric {
        metric,
        a: (total > 0).then(|| table.first_rate()),
        b: (total > 0).then(|| table.second_rate()),
        difference: estimate.map(|estimate| estimate.value),
        ci: estimate.map(|estimate| pair(estimate.interval)),
        p_value: (total > 0).then(|| stats::exact_mcnemar(table.first_only, table.second_only)),
        p_value_adjusted: None,
        verdict: "too_few_samples",
        needed_samples: None,
        samples: total,
        margin,
        note: None,
    }
}

/// The verdict of a metric once its adjusted p-value is known.
fn settle_verdict(metric: &mut ParityMetric) {
    match metric.metric {
        "cost_per_test" => {}
        "output_drift" => {
            if let Some(adjusted) = metric.p_value_adjusted {
                let drifts = adjusted < ALPHA;
                metric.verdict = if drifts { "worse" } else { "equivalent" };
                metric.note = Some(if drifts {
                    "outputs differ more than sampling noise explains".to_owned()
                } else {
                    "outputs differ no more than sampling noise explains".to_owned()
                });
            }
        }
        name => {
            let (Some(value), Some([lower, upper])) = (metric.difference, metric.ci) else {
                return;
            };
            let direction = if name == "pass_rate" {
                Direction::HigherIsBetter
            } else {
                Direction::LowerIsBetter
            };
            let is_rate = name.ends_with("_rate");
            let comparison = Comparison {
                estimate: Estimate {
                    value,
                    interval: Interval { lower, upper },
                },
                confidence: CONFIDENCE,
                margin: if is_rate {
                    Margin::Absolute(metric.margin)
                } else {
                    Margin::Relative(metric.margin)
                },
                direction,
                adjusted_p_value: metric.p_value_adjusted,
                samples: metric.samples,
                variability: match (is_rate, metric.a, metric.b) {
                    (true, Some(first), Some(second)) => Variability::Proportions { first, second },
                    _ => Variability::FromInterval,
                },
            };
            if let Ok(Decision { verdict, .. }) = stats::decide(comparison, ALPHA) {
                (metric.verdict, metric.needed_samples) = match verdict {
                    Verdict::Equivalent => ("equivalent", None),
                    Verdict::Better => ("better", None),
                    Verdict::Worse => ("worse", None),
                    Verdict::TooFewSamples { needed } => ("too_few_samples", needed),
                };
            }
        }
    }
}

fn leaderboard(targets: &[TargetFigures]) -> Vec<Leader> {
    let mut by_model: Vec<(String, u64, u64)> = Vec::new();
    let mut figures: HashMap<String, (Vec<f64>, Vec<f64>)> = HashMap::new();
    for target in targets {
        let name = target.base_model.clone().unwrap_or_else(|| target.model.clone());
        match by_model.iter_mut().find(|(model, ..)| *model == name) {
            Some((_, passes, total)) => {
                *passes += target.pass_rate.count;
                *total += target.pass_rate.total;
            }
            None => by_model.push((name.clone(), target.pass_rate.count, target.pass_rate.total)),
        }
        let entry = figures.entry(name).or_default();
        entry.0.extend(target.ttft_ms.p50);
        entry.1.extend(target.cost_usd.per_1000_tests);
    }
    by_model.retain(|(_, _, total)| *total > 0);
    let Ok(entries) = stats::leaderboard(&by_model, CONFIDENCE) else {
        return Vec::new();
    };
    let best = |values: &[f64]| values.iter().copied().reduce(f64::min);
    entries
        .into_iter()
        .map(|entry| {
            let (ttft, cost) = figures.get(&entry.name).cloned().unwrap_or_default();
            Leader {
                rank: entry.rank,
                pass_rate: entry.pass_rate,
                low: entry.interval.lower,
                high: entry.interval.upper,
                passes: entry.passes,
                total: entry.total,
                tied_with_leader: entry.tied_with_leader,
                ttft_p50_ms: best(&ttft),
                cost_per_1000_tests: best(&cost),
                base_model: entry.name,
            }
        })
        .collect()
}

fn decisions(targets: &[TargetFigures], parity: &[Parity]) -> Vec<BaseModelDecision> {
    let mut groups: Vec<(String, Vec<&TargetFigures>)> = Vec::new();
    for target in targets {
        let Some(base) = &target.base_model else { continue };
        match groups.iter_mut().find(|(name, _)| name == base) {
            Some((_, members)) => members.push(target),
            None => groups.push((base.clone(), vec![target])),
        }
    }
    groups
        .into_iter()
        .filter(|(_, members)| members.len() > 1)
        .map(|(base_model, members)| {
            let beaten = |name: &str| {
                parity.iter().any(|comparison| {
                    comparison.metrics.iter().any(|metric| {
                        matches!(metric.metric, "pass_rate" | "error_rate")
                            && ((comparison.b == name && metric.verdict == "worse")
                                || (comparison.a == name && metric.verdict == "better"))
                    })
                })
            };
            let equivalent: Vec<&TargetFigures> = members
                .iter()
                .copied()
                .filter(|target| !beaten(&target.target))
                .collect();
            let best = |value: fn(&TargetFigures) -> Option<f64>| {
                equivalent
                    .iter()
                    .filter_map(|target| Some((value(target)?, target.target.clone())))
                    .min_by(|left, right| left.0.total_cmp(&right.0))
                    .map(|(_, name)| name)
            };
            BaseModelDecision {
                targets: members.iter().map(|target| target.target.clone()).collect(),
                equivalent: equivalent.iter().map(|target| target.target.clone()).collect(),
                cheapest: best(|target| target.cost_usd.per_1000_tests),
                fastest: best(|target| target.ttft_ms.p50),
                most_reliable: best(|target| target.error_rate.value),
                base_model,
            }
        })
        .collect()
}
