//! The statistics an evaluation session reports: intervals, tests, multiplicity and verdicts.
//!
//! A session runs a suite of tests on several targets × repeats, paired by (test, repeat). The
//! session runner collects plain numbers (latencies, pass/fail and error counts, similarity
//! ratios) and calls these functions; this module turns them into estimates with intervals,
//! p-values, a Holm correction across the session's comparisons and a verdict per metric
//! (`equivalent`, `better`, `worse`, `too_few_samples`). Blind human panels and LLM judges get
//! theirs too: Bradley-Terry strengths with bootstrap ranks, win rates, Krippendorff's alpha,
//! Cohen's kappa, each rater's agreement with the rest, the position-bias check and the number of
//! comparisons that would separate the top two. `docs/statistics.md` describes each method, the
//! reference implementation its tests are pinned to, and the verdict rules.
//!
//! Everything here is a pure function of its inputs: random procedures (bootstrap, permutation
//! test) take an explicit seed and use ChaCha8 with our own index sampling, so a report
//! recomputed from the same data is the same report, on any machine and any version of `rand`.
//!
//! Deliberately left out: anything that knows what a target, a run, a test or a panel is (the
//! session runner and the panel code map their records to slices, counts and player indices),
//! text similarity itself (the diff module computes it; here similarities are plain numbers),
//! and rendering. This module imports nothing from the rest of the crate.

mod agreement;
mod bootstrap;
mod consistency;
#[cfg(test)]
mod coverage;
mod distribution;
mod multiple;
mod pairwise;
mod permutation;
mod proportion;
mod quantile;
mod random;
mod rank;
mod verdict;

use serde::{Deserialize, Serialize};

pub use agreement::{Level, RaterAgreement, cohen_kappa, krippendorff_alpha, rater_agreement};
pub use bootstrap::{
    BootstrapSettings, QuantileDifference, QuantileEstimate, bootstrap_quantile_intervals, paired_quantile_differences,
};
pub use consistency::{Consistency, LeaderboardEntry, consistency, leaderboard};
pub use distribution::{normal_cdf, normal_quantile};
pub use multiple::holm_adjust;
pub use pairwise::{
    BradleyTerryFit, PairOutcome, PositionBias, WinRate, bradley_terry, bradley_terry_fit, comparisons_to_separate,
    position_bias, win_rates,
};
pub use permutation::{DriftTest, drift_test, paired_drift_test};
pub use proportion::{
    PairedTable, exact_mcnemar, needed_pairs_for_proportions, paired_proportion_difference, proportion_difference,
    wilson_interval, wilson_interval_fractional,
};
pub use quantile::{Summary, order_statistic_interval, quantile};
pub(crate) use random::SeededRandom;
pub use rank::{SignedRankMethod, SignedRankTest, wilcoxon_signed_rank};
pub use verdict::{Comparison, Decision, Direction, Margin, Margins, Variability, Verdict, decide};

/// What went wrong with the input of a statistic. The session runner maps these to a
/// `too_few_samples` verdict or a bug report; none of them is a transient failure.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum StatsError {
    /// The statistic needs at least `needed` values and got `got`.
    #[error("too few values: {got}, at least {needed} needed")]
    TooFewValues { got: usize, needed: usize },
    /// A NaN or an infinity among the values: a latency or a similarity is always finite.
    #[error("a value is not a finite number")]
    NotFinite,
    /// Paired samples must have one value on each side for every pair.
    #[error("paired samples differ in length: {first} and {second}")]
    LengthMismatch { first: usize, second: usize },
    /// A count larger than its total, a confidence level outside (0, 1), a quantile outside
    /// [0, 1], a negative margin: a caller's mistake, named in the message.
    #[error("invalid argument: {0}")]
    InvalidArgument(String),
    /// The data leave the statistic undefined, e.g. an agreement coefficient when every rating
    /// is the same value (chance agreement is then 1 and the coefficient 0/0).
    #[error("undefined for these data: {0}")]
    Undefined(String),
}

/// The result type of this module.
pub type Result<T, E = StatsError> = std::result::Result<T, E>;

/// A two-sided confidence interval, `lower <= upper`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Interval {
    pub lower: f64,
    pub upper: f64,
}

impl Interval {
    /// Whether `value` lies in the closed interval.
    pub fn contains(&self, value: f64) -> bool {
        self.lower <= value && value <= self.upper
    }

    /// Half the interval's width.
    pub fn half_width(&self) -> f64 {
        (self.upper - self.lower) / 2.0
    }
}

/// A point estimate with its confidence interval.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Estimate {
    pub value: f64,
    pub interval: Interval,
}

/// Checks a confidence level and returns the two-sided normal critical value for it.
fn critical_value(confidence: f64) -> Result<f64> {
    check_confidence(confidence)?;
    Ok(normal_quantile(1.0 - (1.0 - confidence) / 2.0))
}

fn check_confidence(confidence: f64) -> Result<()> {
    if confidence > 0.0 && confidence < 1.0 {
        Ok(())
    } else {
        Err(StatsError::InvalidArgument(format!(
            "confidence level {confidence} is not in (0, 1)"
        )))
    }
}

fn check_finite(values: &[f64]) -> Result<()> {
    if values.iter().all(|value| value.is_finite()) {
        Ok(())
    } else {
        Err(StatsError::NotFinite)
    }
}
