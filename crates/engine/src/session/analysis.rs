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
use ts_rs::TS;

use crate::diff::{DiffMode, similarity};
use crate::model::error::ErrorKind;
use crate::model::event::ResponseKey;
use crate::model::record::ResponseRecord;
use crate::model::target::Target;
use crate::stats::{
    self, BootstrapSettings, Comparison, Decision, Direction, Estimate, Interval, Margin, PairedTable, Variability,
    Verdict,
};
use crate::suite::{Case, CheckOutcome, CheckSubject, Margins};

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

/// What the analysis reads besides the responses.
pub struct SessionInput<'a> {
    pub session_id: String,
    pub status: String,
    pub cases: &'a [Case],
    pub targets: &'a [Target],
    pub repeat: u32,
    pub margins: &'a Margins,
    pub seed: u64,
    /// A judge's verdicts on the suite's `llm-rubric` checks, if a judge run graded them.
    pub judged: Option<&'a JudgedChecks>,
}

/// A judge's verdicts on `llm-rubric` checks: by response and the check's index in its test.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct JudgedChecks {
    /// The judge target's name and its run, for the method section.
    pub judge: String,
    pub judge_run_id: String,
    pub outcomes: HashMap<(ResponseKey, usize), CheckOutcome>,
}

/// A rate with its Wilson interval; all `None` when nothing was counted.
#[derive(Clone, Debug, PartialEq, Serialize, TS)]
#[ts(export)]
pub struct Rate {
    pub value: Option<f64>,
    pub low: Option<f64>,
    pub high: Option<f64>,
    pub count: u64,
    pub total: u64,
}

/// A latency-like distribution: quantiles, and bootstrap intervals of p50 and p95.
#[derive(Clone, Debug, PartialEq, Serialize, TS)]
#[ts(export)]
pub struct Distribution {
    pub count: usize,
    /// The quartiles: a box plot's box.
    pub p25: Option<f64>,
    pub p50: Option<f64>,
    pub p75: Option<f64>,
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

#[derive(Clone, Debug, PartialEq, Serialize, TS)]
#[ts(export)]
pub struct CostFigures {
    /// Sum of the known costs.
    pub total: f64,
    /// Per attempted call (one test, once).
    pub per_test: Option<f64>,
    pub per_1000_tests: Option<f64>,
    /// Calls whose cost is unknown (not in `total`).
    pub unknown: u64,
}

#[derive(Clone, Debug, PartialEq, Serialize, TS)]
#[ts(export)]
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
#[derive(Clone, Debug, PartialEq, Serialize, TS)]
#[ts(export)]
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

#[derive(Clone, Debug, PartialEq, Serialize, TS)]
#[ts(export)]
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

#[derive(Clone, Debug, PartialEq, Serialize, TS)]
#[ts(export)]
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

#[derive(Clone, Debug, PartialEq, Serialize, TS)]
#[ts(export)]
pub struct TestFigures {
    pub case_id: String,
    pub test_id: String,
    pub description: Option<String>,
    pub targets: Vec<TestTarget>,
}

#[derive(Clone, Debug, PartialEq, Serialize, TS)]
#[ts(export)]
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
#[derive(Clone, Debug, PartialEq, Serialize, TS)]
#[ts(export)]
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

#[derive(Clone, Debug, PartialEq, Serialize, TS)]
#[ts(export)]
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
    /// Per target, in the order of `targets`: what the method section names.
    #[serde(skip)]
    pub sources: Vec<TargetSources>,
}

/// One call's place and outcome: what the figures read of its response, and its answer only
/// where a similarity needs it (a test of the similarity sample), so a session of 120,000
/// answers is analysed in a few megabytes rather than holding every answer.
struct Call {
    key: ResponseKey,
    attempts: u32,
    complete: bool,
    client_saturated: bool,
    /// Read as a refusal (completed calls only).
    refusal: bool,
    passed: Option<bool>,
    error_kind: Option<ErrorKind>,
    // Kept small (a session holds one per call): `NAN` and `u64::MAX` stand for none.
    time_to_first_token_ms: f64,
    total_ms: f64,
    output_tokens_per_second: f64,
    cost_usd: f64,
    input_tokens: u64,
    output_tokens: u64,
    started_at_ms: i64,
    reported_model: Option<Name>,
    region: Option<Name>,
    system_fingerprint: Option<Name>,
    service_tier: Option<Name>,
    base_model: Option<Name>,
    /// The answer of a completed call in the similarity sample.
    text: Option<Box<str>>,
}

/// A name the responses report (a model version, a region…), stored once: thousands of calls
/// report the same few.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Name(std::num::NonZeroU32);

#[derive(Default)]
struct Names {
    names: Vec<String>,
    index: HashMap<String, Name>,
}

impl Names {
    fn intern(&mut self, name: Option<&String>) -> Option<Name> {
        let name = name?;
        if let Some(found) = self.index.get(name) {
            return Some(*found);
        }
        let found = Name(
            u32::try_from(self.names.len() + 1)
                .ok()
                .and_then(std::num::NonZeroU32::new)
                .unwrap_or(std::num::NonZeroU32::MAX),
        );
        self.names.push(name.clone());
        self.index.insert(name.clone(), found);
        Some(found)
    }

    fn get(&self, name: Option<Name>) -> Option<String> {
        name.and_then(|Name(number)| self.names.get(number.get() as usize - 1).cloned())
    }
}

/// What the method section reads of each target's responses, in stored order.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct TargetSources {
    /// The model versions the cloud reported, first seen first.
    pub reported_models: Vec<String>,
    /// The price source of its first priced call.
    pub price_source: Option<String>,
}

/// A graded answer that failed its checks, or a call that erred: what the report shows "one
/// click away".
#[derive(Clone, Debug, PartialEq, Serialize, TS)]
#[ts(export)]
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

impl Call {
    /// Sent at least once: a call cancelled or refused by the budget before its turn has no
    /// attempt (the runner records those with `attempts` 0).
    fn attempted(&self) -> bool {
        self.attempts > 0
    }

    fn errored(&self) -> bool {
        self.attempted() && !self.complete
    }

    fn time_to_first_token_ms(&self) -> Option<f64> {
        known(self.time_to_first_token_ms)
    }

    fn output_tokens_per_second(&self) -> Option<f64> {
        known(self.output_tokens_per_second)
    }

    fn cost_usd(&self) -> Option<f64> {
        known(self.cost_usd)
    }

    fn input_tokens(&self) -> Option<u64> {
        (self.input_tokens != u64::MAX).then_some(self.input_tokens)
    }

    fn output_tokens(&self) -> Option<u64> {
        (self.output_tokens != u64::MAX).then_some(self.output_tokens)
    }
}

/// `NAN` stands for a value the response did not have.
fn known(value: f64) -> Option<f64> {
    (!value.is_nan()).then_some(value)
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
        p25: summary.map(|summary| summary.p25),
        p50: summary.map(|summary| summary.p50),
        p75: summary.map(|summary| summary.p75),
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

/// From this many calls up, the targets' figures and the pairs' comparisons (each its own
/// seeded bootstrap, so the result does not depend on the order) are computed on threads of
/// their own.
const PARALLEL_CALLS: usize = 2_000;

/// `work` applied to each job, in order: on a thread per job when `parallel`.
fn each<J: Send, T: Send>(parallel: bool, jobs: Vec<J>, work: impl Fn(J) -> T + Sync) -> Vec<T> {
    if !parallel || jobs.len() < 2 {
        return jobs.into_iter().map(work).collect();
    }
    std::thread::scope(|scope| {
        let work = &work;
        let handles: Vec<_> = jobs.into_iter().map(|job| scope.spawn(move || work(job))).collect();
        handles
            .into_iter()
            .map(|handle| handle.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic)))
            .collect()
    })
}

/// Everything `session show` reports, from responses held in memory.
pub fn analyse(input: &SessionInput<'_>, responses: &[ResponseRecord]) -> Analysis {
    let mut analyser = Analyser::new(input);
    for response in responses {
        analyser.add(response);
    }
    analyser.finish()
}

/// The analysis fed one response at a time (as the store reads them), keeping of each only what
/// the figures need: see [`Call`].
pub struct Analyser<'a> {
    input: &'a SessionInput<'a>,
    /// calls[target][case][repeat]
    calls: Vec<Vec<Vec<Option<Call>>>>,
    names: Names,
    /// Which tests' answers are kept for the similarities.
    sample: Vec<usize>,
    sampled: Vec<bool>,
    /// The first failures by (test, target, repeat), at most [`FAILURES_SHOWN`].
    failures: BTreeMap<(usize, usize, u32), Failure>,
    failure_count: u64,
    sources: Vec<TargetSources>,
}

impl<'a> Analyser<'a> {
    pub fn new(input: &'a SessionInput<'a>) -> Self {
        let repeat = input.repeat.max(1);
        let calls = input
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
        let sample = similarity_sample(input.cases.len(), input.seed);
        let mut sampled = vec![false; input.cases.len()];
        for &case in &sample {
            sampled[case] = true;
        }
        Self {
            input,
            calls,
            names: Names::default(),
            sample,
            sampled,
            failures: BTreeMap::new(),
            failure_count: 0,
            sources: vec![TargetSources::default(); input.targets.len()],
        }
    }

    /// Takes one response into the analysis (a later one with the same key replaces it).
    pub fn add(&mut self, record: &ResponseRecord) {
        let (target, case, repeat_index) = (
            record.key.target_index as usize,
            record.key.prompt_index as usize,
            record.key.repeat_index as usize,
        );
        let Some(slot) = self
            .calls
            .get_mut(target)
            .and_then(|cases| cases.get_mut(case))
            .and_then(|repeats| repeats.get_mut(repeat_index))
        else {
            return;
        };
        let subject = CheckSubject::from(record);
        let (passed, reason) = match self.input.cases.get(case) {
            Some(case) if record.complete => {
                let grade = match self.input.judged {
                    Some(judged) => {
                        case.evaluate_with(&subject, |index| judged.outcomes.get(&(record.key, index)).cloned())
                    }
                    None => case.evaluate(&subject),
                }
                .grade;
                (grade.passed, grade.reason)
            }
            _ => (None, String::new()),
        };
        let names = &mut self.names;
        let call = Call {
            key: record.key,
            attempts: record.attempts,
            complete: record.complete,
            client_saturated: record.metrics.client_saturated,
            refusal: record.complete && subject.is_refusal(),
            passed,
            error_kind: record.error.as_ref().map(|error| error.kind),
            time_to_first_token_ms: record.metrics.time_to_first_token_ms.unwrap_or(f64::NAN),
            total_ms: record.metrics.total_ms,
            output_tokens_per_second: record.metrics.output_tokens_per_second.unwrap_or(f64::NAN),
            cost_usd: record.cost_usd.unwrap_or(f64::NAN),
            input_tokens: record.usage.input_tokens.unwrap_or(u64::MAX),
            output_tokens: record.usage.output_tokens.unwrap_or(u64::MAX),
            started_at_ms: record.started_at_ms,
            reported_model: names.intern(record.reported_model.as_ref()),
            region: names.intern(record.region.as_ref()),
            system_fingerprint: names.intern(record.system_fingerprint.as_ref()),
            service_tier: names.intern(record.service_tier.as_ref()),
            base_model: names.intern(record.base_model.as_ref()),
            text: (record.complete && self.sampled[case]).then(|| record.text.as_str().into()),
        };
        let outcome = if call.errored() {
            Some(call.error_kind.map_or("incomplete", ErrorKind::as_str))
        } else if call.passed == Some(false) {
            Some("failed")
        } else {
            None
        };
        if let (Some(outcome), Some(test)) = (outcome, self.input.cases.get(case)) {
            self.failure_count += 1;
            let place = (case, target, record.key.repeat_index);
            let shown = self.failures.len() < FAILURES_SHOWN
                || self.failures.last_key_value().is_some_and(|(last, _)| place < *last);
            if shown {
                self.failures.insert(
                    place,
                    Failure {
                        case_id: test.case_id.clone(),
                        target: self.input.targets[target].name.clone(),
                        repeat: record.key.repeat_index,
                        outcome: outcome.to_owned(),
                        reason: match &record.error {
                            Some(error) if call.errored() => error.message.clone(),
                            _ => reason,
                        },
                        answer: record.text.chars().take(2_000).collect(),
                    },
                );
                if self.failures.len() > FAILURES_SHOWN {
                    self.failures.pop_last();
                }
            }
        }
        let sources = &mut self.sources[target];
        if let Some(model) = &record.reported_model
            && !sources.reported_models.contains(model)
        {
            sources.reported_models.push(model.clone());
        }
        if sources.price_source.is_none() && record.cost_usd.is_some() {
            sources.price_source.clone_from(&record.cost_source);
        }
        *slot = Some(call);
    }

    /// The figures of every response added.
    pub fn finish(self) -> Analysis {
        let Self {
            input,
            calls,
            names,
            sample,
            failures,
            failure_count,
            sources,
            ..
        } = self;
        analyse_calls(input, &calls, &names, &sample, failures, failure_count, sources)
    }
}

fn analyse_calls(
    input: &SessionInput<'_>,
    calls: &[Vec<Vec<Option<Call>>>],
    names: &Names,
    sample: &[usize],
    failures: BTreeMap<(usize, usize, u32), Failure>,
    failure_count: u64,
    sources: Vec<TargetSources>,
) -> Analysis {
    let repeat = input.repeat.max(1);
    let mut notes = Vec::new();
    if let Some(judged) = input.judged {
        notes.push(format!(
            "`llm-rubric` checks graded by the judge {} (judge run {}): {} verdict(s); see `modelbench judge show {}`",
            judged.judge,
            judged.judge_run_id,
            judged.outcomes.len(),
            input.session_id
        ));
    }
    let planned = (input.cases.len() as u64) * u64::from(repeat);
    let parallel = calls.iter().flatten().flatten().flatten().count() >= PARALLEL_CALLS;
    let targets: Vec<TargetFigures> = each(
        parallel,
        input.targets.iter().enumerate().collect(),
        |(index, target)| {
            target_figures(
                target,
                &calls[index],
                names,
                planned,
                seed_for(input.seed, &target.name),
            )
        },
    );

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
    let mut pairs = Vec::new();
    for a in 0..input.targets.len() {
        for b in a + 1..input.targets.len() {
            let (Some(base_a), Some(base_b)) = (&targets[a].base_model, &targets[b].base_model) else {
                continue;
            };
            if base_a != base_b {
                continue;
            }
            pairs.push((a, b));
        }
    }
    let mut parity = each(parallel, pairs, |(a, b)| {
        compare(input, calls, &targets, a, b, sample, &within)
    });
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

    Analysis {
        decisions: decisions(&targets, &parity),
        failures: failures.into_values().collect(),
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
        sources,
    }
}

fn target_figures(
    target: &Target,
    calls: &[Vec<Option<Call>>],
    names: &Names,
    planned: u64,
    seed: u64,
) -> TargetFigures {
    let all: Vec<&Call> = calls.iter().flatten().flatten().collect();
    let attempted: Vec<&&Call> = all.iter().filter(|call| call.attempted()).collect();
    let completed: Vec<&&Call> = attempted.iter().copied().filter(|call| call.complete).collect();
    let mut errors: BTreeMap<String, u64> = BTreeMap::new();
    for call in attempted.iter().filter(|call| call.errored()) {
        let kind = call.error_kind.map_or("incomplete", ErrorKind::as_str);
        *errors.entry(kind.to_owned()).or_default() += 1;
    }
    let attempted_count = attempted.len() as u64;
    let error_count: u64 = errors.values().sum();
    let graded: Vec<bool> = completed.iter().filter_map(|call| call.passed).collect();
    let passes = graded.iter().filter(|&&passed| passed).count() as u64;
    let values = |pick: fn(&Call) -> Option<f64>| -> Vec<f64> {
        completed
            .iter()
            .filter(|call| !call.client_saturated)
            .filter_map(|call| pick(call))
            .filter(|value| value.is_finite())
            .collect()
    };
    let ttft = values(Call::time_to_first_token_ms);
    let total = values(|call| Some(call.total_ms));
    let speed = values(Call::output_tokens_per_second);
    let known_costs: Vec<f64> = attempted.iter().filter_map(|call| call.cost_usd()).collect();
    let cost_total: f64 = known_costs.iter().sum();
    let priced = known_costs.len() as u64;
    let per_test = (priced > 0).then(|| cost_total / priced as f64);
    // "Changed during the session" reads the calls in the order they were sent, not test order.
    let mut by_start = all.clone();
    by_start.sort_by_key(|call| (call.started_at_ms, call.key));
    let reported = |pick: fn(&Call) -> Option<Name>| first_seen(by_start.iter().map(|call| names.get(pick(call))));
    let reported_models = reported(|call| call.reported_model);
    let system_fingerprints = reported(|call| call.system_fingerprint);
    let service_tiers = reported(|call| call.service_tier);
    TargetFigures {
        target: target.name.clone(),
        provider: target.provider.as_str().to_owned(),
        model: target.model.clone(),
        region: target.region.clone().or_else(|| target.location.clone()),
        base_model: all
            .iter()
            .find_map(|call| names.get(call.base_model))
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
        refusals: completed.iter().filter(|call| call.refusal).count() as u64,
        ttft_ms: distribution(&ttft, seed_for(seed, "ttft")),
        total_ms: distribution(&total, seed_for(seed, "total")),
        output_tokens_per_second: distribution(&speed, seed_for(seed, "speed")),
        client_saturated: completed.iter().filter(|call| call.client_saturated).count() as u64,
        input_tokens: attempted.iter().filter_map(|call| call.input_tokens()).sum(),
        output_tokens: attempted.iter().filter_map(|call| call.output_tokens()).sum(),
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
        reported_regions: reported(|call| call.region),
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

/// The answer of a completed call of the similarity sample.
fn completed_text(call: &Option<Call>) -> Option<&str> {
    call.as_ref()
        .filter(|call| call.complete)
        .and_then(|call| call.text.as_deref())
}

/// Similarities between every two completed repeats of one target on one test.
fn within_similarities(repeats: &[Option<Call>]) -> Vec<f64> {
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
    calls: &[Vec<Vec<Option<Call>>>],
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
    let pairs: Vec<(&Call, &Call)> = calls[a]
        .iter()
        .zip(&calls[b])
        .flat_map(|(left, right)| left.iter().zip(right))
        .filter_map(|(left, right)| Some((left.as_ref()?, right.as_ref()?)))
        .filter(|(left, right)| left.attempted() && right.attempted())
        .collect();

    // Latency: paired by (test, repeat), both completed, neither timed by a saturated client.
    let (first, second): (Vec<f64>, Vec<f64>) = pairs
        .iter()
        .filter(|(left, right)| left.complete && right.complete)
        .filter(|(left, right)| !left.client_saturated && !right.client_saturated)
        .filter_map(|(left, right)| Some((left.time_to_first_token_ms()?, right.time_to_first_token_ms()?)))
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::record::RunId;
    use crate::model::target::ProviderKind;
    use crate::report::tests::response;
    use crate::suite::{Suite, SuiteFormat};

    /// 150 tests whose check asks for "yes", two clouds of one model, two repeats.
    fn fixture() -> (crate::suite::LoadedSuite, Vec<Target>, Vec<ResponseRecord>) {
        let mut yaml = String::from("name: order\ntests:\n");
        for index in 0..150 {
            yaml.push_str(&format!(
                "  - id: t{index}\n    prompt: \"question {index}\"\n    checks:\n      - type: contains\n        value: \"yes\"\n"
            ));
        }
        let suite = Suite::parse(&yaml, SuiteFormat::Yaml, None).expect("the suite loads");
        let mut targets = vec![
            Target::new("openai", ProviderKind::OpenAi, "gpt-5.4"),
            Target::new("azure", ProviderKind::Azure, "gpt-5.4"),
        ];
        for target in &mut targets {
            target.base_model = Some("gpt-5.4".to_owned());
        }
        let run_id = RunId::new();
        let mut responses = Vec::new();
        for prompt_index in 0..150_u32 {
            for (target_index, target) in targets.iter().enumerate() {
                for repeat_index in 0..2 {
                    let key = ResponseKey {
                        prompt_index,
                        target_index: target_index as u32,
                        repeat_index,
                    };
                    // Every third answer passes; the azure target's first repeat of every fifth
                    // test errs; the reported model changes half-way on openai.
                    let text = if prompt_index % 3 == 0 { "yes" } else { "no" };
                    let mut record = response(run_id, key, target, text);
                    if target_index == 1 && repeat_index == 0 && prompt_index % 5 == 0 {
                        record.complete = false;
                        record.error = Some(crate::model::error::ProviderError::new(
                            crate::model::error::ErrorKind::Server,
                            "azure",
                            "503 from the cloud",
                        ));
                    }
                    if target_index == 0 && prompt_index >= 75 {
                        record.reported_model = Some("gpt-5.4-2026-06-01".to_owned());
                    }
                    responses.push(record);
                }
            }
        }
        (suite, targets, responses)
    }

    #[test]
    fn the_analysis_does_not_depend_on_the_order_the_responses_come_in() {
        let (suite, targets, responses) = fixture();
        let input = SessionInput {
            session_id: "s".to_owned(),
            status: "completed".to_owned(),
            cases: suite.suite.cases(),
            targets: &targets,
            repeat: 2,
            margins: &suite.suite.margins,
            seed: 7,
            judged: None,
        };
        let in_order = analyse(&input, &responses);
        let mut shuffled = responses.clone();
        shuffled.reverse();
        shuffled.rotate_left(37);
        let mut other = analyse(&input, &shuffled);
        // Only what the method names follows the order given (the stored order, by design).
        assert_eq!(
            other.sources[0].reported_models,
            ["gpt-5.4-2026-06-01", "gpt-5.4-2026-01-01"]
        );
        other.sources.clone_from(&in_order.sources);
        assert!(
            other == in_order,
            "the analysis changed with the order of its responses"
        );

        // 200 of 100 × 2 × 2 failing answers and 30 errors are listed, the first in test, target,
        // repeat order; the count is exact.
        assert_eq!(in_order.failure_count, 100 * 2 * 2 + 30 - 20);
        assert_eq!(in_order.failures.len(), FAILURES_SHOWN);
        let first = &in_order.failures[0];
        assert_eq!(
            (first.case_id.as_str(), first.target.as_str(), first.repeat),
            ("t0", "azure", 0)
        );
        assert_eq!(first.outcome, "server");
        assert_eq!(first.reason, "503 from the cloud");
        assert_eq!(in_order.failures[1].case_id, "t1");
        assert_eq!(in_order.failures[1].outcome, "failed");

        // What the method names, per target in stored order.
        assert_eq!(
            in_order.sources[0].reported_models,
            ["gpt-5.4-2026-01-01", "gpt-5.4-2026-06-01"]
        );
        assert!(in_order.targets[0].model_changed);
        assert!(
            in_order.sources[1]
                .price_source
                .as_deref()
                .is_some_and(|source| source.contains("azure"))
        );
        // The similarity sample kept the answers it compares: repeats agree word for word.
        assert_eq!(in_order.tests[1].targets[0].self_similarity, Some(1.0));
    }
}
