//! The verdict on one metric of one target pair: `equivalent`, `better`, `worse`, or
//! `too_few_samples` (with the sample size that would decide), and the margins it is judged by.
//!
//! The rules, in order (the estimate is second − first, so "better" speaks of the second target):
//!
//! 1. **equivalent** when the whole interval lies strictly inside ±margin. With a 95% two-sided
//!    interval this is the two one-sided tests (TOST) procedure at 2.5% per side, stricter than
//!    the usual 90% interval; a difference that is significant but inside the margin is
//!    equivalent, since the margin says what difference does not matter.
//! 2. **better** / **worse** when the whole interval lies beyond the margin on one side *and* the
//!    Holm-adjusted p-value of the test of no difference is below α. The p-value carries the
//!    correction across all the session's comparisons, so a session's claims of a difference
//!    hold together at α.
//! 3. **too_few_samples** otherwise: the interval straddles a margin bound, or it lies beyond
//!    the margin but the adjusted p-value does not reach α. `needed` is the sample size expected
//!    to decide: for two rates, the textbook formula (see `needed_pairs_for_proportions`); for
//!    other estimates, the current size scaled by (interval half-width / room to the margin)²,
//!    since an interval narrows as 1/√n; and when the p-value fell short, at least n·(z_α /
//!    z_p)². `None` when the estimate sits exactly on the margin.
//!
//! Left out: the multiplicity of equivalence claims (no standard Holm form exists for bootstrap
//! intervals; TOST at 2.5% per side is the conservative answer) and any verdict on cost, which is
//! computed from prices, not sampled.

use serde::{Deserialize, Serialize};

use super::distribution::normal_quantile;
use super::proportion::needed_pairs_for_proportions;
use super::{Estimate, Result, StatsError, check_confidence};

/// The verdict on one metric.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "verdict", rename_all = "snake_case")]
pub enum Verdict {
    /// The difference is within the margin.
    Equivalent,
    /// The second target is better by more than the margin.
    Better,
    /// The second target is worse by more than the margin.
    Worse,
    /// The data do not decide; `needed` samples (pairs) would be expected to.
    TooFewSamples { needed: Option<u64> },
}

/// Which way is better for a metric.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    /// Latency, error rate, cost.
    LowerIsBetter,
    /// Pass rate, throughput.
    HigherIsBetter,
}

/// How far apart two targets may be and still count as equivalent.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Margin {
    /// A fraction of the first target's value (0.10 = ±10%); the estimate must be a relative
    /// difference, (second − first) / first.
    Relative(f64),
    /// In the metric's own unit; for rates a fraction (0.03 = ±3 percentage points).
    Absolute(f64),
}

impl Margin {
    /// The margin's size in the estimate's unit.
    pub fn value(&self) -> f64 {
        match *self {
            Margin::Relative(value) | Margin::Absolute(value) => value,
        }
    }
}

/// The margins a suite judges by; each defaults to the issue's value when a suite omits it.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Margins {
    /// Time to first token, total time (and tokens/s): ±10% of the first target's quantile.
    pub latency: Margin,
    /// Check pass rate: ±3 percentage points.
    pub pass_rate: Margin,
    /// Error rate: ±1 percentage point.
    pub error_rate: Margin,
}

impl Default for Margins {
    fn default() -> Self {
        Self {
            latency: Margin::Relative(0.10),
            pass_rate: Margin::Absolute(0.03),
            error_rate: Margin::Absolute(0.01),
        }
    }
}

/// Where the sample-size estimate for `too_few_samples` comes from.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum Variability {
    /// Scale the current sample size by how much the interval must narrow.
    FromInterval,
    /// Two rates: use the sample-size formula for two proportions with 80% power.
    Proportions { first: f64, second: f64 },
}

/// Everything a verdict rests on.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Comparison {
    /// second − first with its interval, in the margin's unit.
    pub estimate: Estimate,
    /// The interval's two-sided confidence level.
    pub confidence: f64,
    pub margin: Margin,
    pub direction: Direction,
    /// The Holm-adjusted p-value of the test of no difference, when there is a test.
    pub adjusted_p_value: Option<f64>,
    /// The number of samples (pairs) behind the estimate.
    pub samples: u64,
    pub variability: Variability,
}

/// A verdict with what it rests on, as a report shows it.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Decision {
    #[serde(flatten)]
    pub verdict: Verdict,
    #[serde(flatten)]
    pub comparison: Comparison,
}

/// Power used for the sample size of two rates.
const POWER: f64 = 0.8;

/// The verdict on `comparison` at family-wise level `alpha` (the level the adjusted p-value is
/// compared with; usually 1 − confidence). See the module documentation for the rules.
pub fn decide(comparison: Comparison, alpha: f64) -> Result<Decision> {
    check_confidence(comparison.confidence)?;
    let margin = comparison.margin.value();
    if !(margin.is_finite() && margin > 0.0) {
        return Err(StatsError::InvalidArgument(format!("margin {margin} is not positive")));
    }
    if !(alpha > 0.0 && alpha < 1.0) {
        return Err(StatsError::InvalidArgument(format!("alpha {alpha} is not in (0, 1)")));
    }
    let Estimate { value, interval } = comparison.estimate;
    if !(value.is_finite() && interval.lower.is_finite() && interval.upper.is_finite()) {
        return Err(StatsError::NotFinite);
    }
    let verdict = if -margin < interval.lower && interval.upper < margin {
        Verdict::Equivalent
    } else if interval.upper < -margin || interval.lower > margin {
        let significant = comparison.adjusted_p_value.is_none_or(|p| p < alpha);
        let second_is_lower = interval.upper < -margin;
        match (significant, second_is_lower, comparison.direction) {
            (false, ..) => Verdict::TooFewSamples {
                needed: needed(&comparison, alpha)?,
            },
            (true, true, Direction::LowerIsBetter) | (true, false, Direction::HigherIsBetter) => Verdict::Better,
            (true, _, _) => Verdict::Worse,
        }
    } else {
        Verdict::TooFewSamples {
            needed: needed(&comparison, alpha)?,
        }
    };
    Ok(Decision { verdict, comparison })
}

/// The sample size expected to turn `too_few_samples` into a verdict.
fn needed(comparison: &Comparison, alpha: f64) -> Result<Option<u64>> {
    let margin = comparison.margin.value();
    let Estimate { value, interval } = comparison.estimate;
    let samples = comparison.samples.max(1) as f64;
    let distance = value.abs() - margin;
    if distance.abs() < 1e-12 {
        return Ok(None);
    }
    let mut size = match comparison.variability {
        Variability::Proportions { first, second } => {
            match needed_pairs_for_proportions(first, second, margin, comparison.confidence, POWER)? {
                Some(size) => size as f64,
                None => return Ok(None),
            }
        }
        Variability::FromInterval => {
            let above = interval.upper - value;
            let below = value - interval.lower;
            let factor = if distance < 0.0 {
                // Aiming at "equivalent": both ends must come inside the margin.
                (above / (margin - value)).max(below / (margin + value))
            } else if value > 0.0 {
                below / distance
            } else {
                above / distance
            };
            samples * factor.max(0.0).powi(2)
        }
    };
    if distance > 0.0
        && let Some(p) = comparison.adjusted_p_value
        && p >= alpha
    {
        // Under a real difference the test statistic grows as √n.
        let observed = normal_quantile(1.0 - p / 2.0);
        if observed <= 1e-9 {
            return Ok(None);
        }
        size = size.max(samples * (normal_quantile(1.0 - alpha / 2.0) / observed).powi(2));
    }
    // Rounding in the ratios (0.15 / 0.1 is 1.5000000000000002) must not add a sample.
    Ok(Some(((size - 1e-6).ceil() as u64).max(comparison.samples + 1)))
}

#[cfg(test)]
mod tests {
    use super::super::Interval;
    use super::*;

    fn latency(value: f64, lower: f64, upper: f64, p: Option<f64>) -> Comparison {
        Comparison {
            estimate: Estimate {
                value,
                interval: Interval { lower, upper },
            },
            confidence: 0.95,
            margin: Margin::Relative(0.10),
            direction: Direction::LowerIsBetter,
            adjusted_p_value: p,
            samples: 1_000,
            variability: Variability::FromInterval,
        }
    }

    fn verdict(comparison: Comparison) -> Verdict {
        decide(comparison, 0.05).expect("valid").verdict
    }

    #[test]
    fn interval_inside_the_margin_is_equivalent_even_when_significant() {
        assert_eq!(verdict(latency(0.04, 0.02, 0.06, Some(0.001))), Verdict::Equivalent);
        assert_eq!(verdict(latency(0.0, -0.09, 0.09, None)), Verdict::Equivalent);
    }

    #[test]
    fn interval_beyond_the_margin_is_better_or_worse_by_direction() {
        assert_eq!(verdict(latency(0.3, 0.2, 0.4, Some(0.001))), Verdict::Worse);
        assert_eq!(verdict(latency(-0.3, -0.4, -0.2, Some(0.001))), Verdict::Better);
        let pass_rate = Comparison {
            margin: Margin::Absolute(0.03),
            direction: Direction::HigherIsBetter,
            variability: Variability::Proportions {
                first: 0.7,
                second: 0.8,
            },
            ..latency(0.1, 0.06, 0.14, Some(0.0001))
        };
        assert_eq!(verdict(pass_rate), Verdict::Better);
    }

    #[test]
    fn beyond_the_margin_but_not_significant_after_holm_needs_more() {
        let decision = decide(latency(0.3, 0.2, 0.4, Some(0.2)), 0.05).expect("valid");
        // Interval: a lower half-width of 0.1 against 0.2 of room → ×0.25; the p-value: (1.96 /
        // z(0.2) = 1.2816)² = 2.339 → 2339, the larger.
        assert_eq!(decision.verdict, Verdict::TooFewSamples { needed: Some(2339) });
    }

    #[test]
    fn straddling_the_margin_states_the_size_that_would_decide() {
        // Aiming at equivalent: estimate 0.02, upper half-width 0.1, room 0.08 → (1.25)² · 1000.
        assert_eq!(
            verdict(latency(0.02, -0.08, 0.12, None)),
            Verdict::TooFewSamples { needed: Some(1563) }
        );
        // Aiming at worse: estimate 0.2, lower half-width 0.15, room 0.1 → 2.25 · 1000.
        assert_eq!(
            verdict(latency(0.2, 0.05, 0.3, None)),
            Verdict::TooFewSamples { needed: Some(2250) }
        );
        // On the margin nothing decides.
        assert_eq!(
            verdict(latency(0.1, 0.0, 0.2, None)),
            Verdict::TooFewSamples { needed: None }
        );
        // Two rates use the proportions formula (see proportion.rs: 3736 for 0.8 vs 0.8, ±3 points).
        let rates = Comparison {
            margin: Margin::Absolute(0.03),
            direction: Direction::HigherIsBetter,
            variability: Variability::Proportions {
                first: 0.8,
                second: 0.8,
            },
            ..latency(0.0, -0.05, 0.05, None)
        };
        assert_eq!(verdict(rates), Verdict::TooFewSamples { needed: Some(3736) });
    }

    #[test]
    fn verdicts_serialize_in_snake_case_with_their_grounds() {
        let decision = decide(latency(0.2, 0.05, 0.3, None), 0.05).expect("valid");
        let json = serde_json::to_value(decision).expect("serializable");
        assert_eq!(json["verdict"], "too_few_samples");
        assert_eq!(json["needed"], 2250);
        assert_eq!(json["margin"]["relative"], 0.1);
        assert_eq!(json["direction"], "lower_is_better");
        assert_eq!(json["estimate"]["interval"]["lower"], 0.05);
        let names: Vec<String> = [Verdict::Equivalent, Verdict::Better, Verdict::Worse]
            .iter()
            .map(|verdict| serde_json::to_value(verdict).expect("serializable")["verdict"].to_string())
            .collect();
        assert_eq!(names, ["\"equivalent\"", "\"better\"", "\"worse\""]);
        let margins: Margins = serde_json::from_str(r#"{"pass_rate": {"absolute": 0.05}}"#).expect("valid");
        assert_eq!(margins.pass_rate, Margin::Absolute(0.05));
        assert_eq!(margins.latency, Margin::Relative(0.10));
    }

    #[test]
    fn refuses_a_zero_margin() {
        let comparison = Comparison {
            margin: Margin::Absolute(0.0),
            ..latency(0.0, -0.1, 0.1, None)
        };
        assert!(decide(comparison, 0.05).is_err());
    }
}
