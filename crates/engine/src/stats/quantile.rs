//! Quantiles of a sample and a distribution-free interval for one quantile.
//!
//! [`quantile`] is numpy's default (`method="linear"`, Hyndman & Fan type 7), so a p95 here is the
//! p95 anyone recomputes with numpy or a spreadsheet. [`order_statistic_interval`] is the exact
//! binomial interval for a population quantile (Thompson 1936; scipy's
//! `quantile_test(...).confidence_interval()`): its bounds are two observed values, its coverage
//! is at least the nominal level for any continuous distribution, and it needs no resampling and
//! no seed. Left out: weighted quantiles and streaming sketches.

use serde::{Deserialize, Serialize};

use super::distribution::{binomial_probabilities, cumulative, survival};
use super::{Interval, Result, StatsError, check_confidence, check_finite};

/// The `q` quantile (0 ≤ q ≤ 1) of an ascending `sorted` sample, interpolating linearly between
/// the two nearest order statistics (numpy's default, Hyndman & Fan type 7): the value at
/// position (n − 1)·q. `None` for an empty sample or a `q` outside [0, 1].
pub fn quantile(sorted: &[f64], q: f64) -> Option<f64> {
    if sorted.is_empty() || !(0.0..=1.0).contains(&q) {
        return None;
    }
    let position = (sorted.len() - 1) as f64 * q;
    let below = position.floor() as usize;
    let fraction = position - below as f64;
    let low = sorted[below];
    if fraction == 0.0 || below + 1 >= sorted.len() {
        return Some(low);
    }
    Some(interpolate(low, sorted[below + 1], fraction))
}

/// `low + fraction · (high − low)`, numpy's form (so results agree to the last bit with numpy's
/// `_lerp`, which switches to the `high`-anchored form above one half).
pub(crate) fn interpolate(low: f64, high: f64, fraction: f64) -> f64 {
    let difference = high - low;
    if fraction >= 0.5 {
        high - difference * (1.0 - fraction)
    } else {
        low + difference * fraction
    }
}

/// The usual description of a latency-like sample.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    pub count: usize,
    pub mean: f64,
    pub minimum: f64,
    /// The quartiles around the median: a box plot's box.
    pub p25: f64,
    pub p50: f64,
    pub p75: f64,
    pub p90: f64,
    pub p95: f64,
    pub p99: f64,
    pub maximum: f64,
}

impl Summary {
    /// Describes `values` (any order). Errors on an empty sample or a non-finite value.
    pub fn new(values: &[f64]) -> Result<Self> {
        check_finite(values)?;
        if values.is_empty() {
            return Err(StatsError::TooFewValues { got: 0, needed: 1 });
        }
        let mut sorted = values.to_vec();
        sorted.sort_unstable_by(f64::total_cmp);
        let at = |q: f64| quantile(&sorted, q).unwrap_or(f64::NAN);
        Ok(Self {
            count: sorted.len(),
            mean: sorted.iter().sum::<f64>() / sorted.len() as f64,
            minimum: sorted[0],
            p25: at(0.25),
            p50: at(0.50),
            p75: at(0.75),
            p90: at(0.90),
            p95: at(0.95),
            p99: at(0.99),
            maximum: sorted[sorted.len() - 1],
        })
    }
}

/// The distribution-free confidence interval for the population `q` quantile from an ascending
/// `sorted` sample: the order statistics x(l) and x(u) with l + 1 = the binomial(n, q)
/// `confidence`-level lower point and u its upper point, as scipy computes them.
///
/// `Ok(None)` when the sample is too small for that confidence (the p99 of 100 values has no
/// 95% upper bound among them); errors on a `q` outside (0, 1) or a bad confidence level.
pub fn order_statistic_interval(sorted: &[f64], q: f64, confidence: f64) -> Result<Option<Interval>> {
    check_confidence(confidence)?;
    if !(q > 0.0 && q < 1.0) {
        return Err(StatsError::InvalidArgument(format!("quantile {q} is not in (0, 1)")));
    }
    let n = sorted.len();
    if n == 0 {
        return Ok(None);
    }
    let tail = (1.0 - confidence) / 2.0;
    let probabilities = binomial_probabilities(n as u64, q);
    // scipy: low index = binom.ppf(tail) − 1, the smallest k with P(X ≤ k) ≥ tail, minus one;
    // high index = binom.isf(tail), the smallest k with P(X > k) ≤ tail.
    let below = cumulative(&probabilities);
    let above = survival(&probabilities);
    let lowest = below.iter().position(|&probability| probability >= tail).unwrap_or(n);
    let highest = above.iter().position(|&probability| probability <= tail).unwrap_or(n);
    if lowest == 0 || highest >= n {
        return Ok(None);
    }
    Ok(Some(Interval {
        lower: sorted[lowest - 1],
        upper: sorted[highest],
    }))
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn quantile_matches_numpy_linear() {
        // numpy 2.x np.quantile(x, q) (method="linear"), see reference/reference.py "quantile".
        let sorted = [1.0, 2.0, 3.5, 7.0, 7.25, 10.0, 40.0];
        // numpy's rounding included: the interpolation is the same expression, bit for bit.
        let expected = [
            (0.0, 1.0),
            (0.5, 7.0),
            (0.9, 22.00000000000001),
            (0.95, 30.99999999999998),
        ];
        for (q, expected) in expected.into_iter().chain([(0.99, 38.19999999999999), (1.0, 40.0)]) {
            assert_eq!(quantile(&sorted, q), Some(expected), "q {q}");
        }
        assert_eq!(quantile(&[], 0.5), None);
        assert_eq!(quantile(&[3.0], 0.99), Some(3.0));
    }

    #[test]
    fn summary_matches_numpy() {
        let summary = Summary::new(&[10.0, 40.0, 1.0, 7.25, 2.0, 3.5, 7.0]).expect("valid");
        assert_eq!(summary.count, 7);
        assert!((summary.mean - 10.107142857142858).abs() < 1e-12);
        assert_eq!((summary.minimum, summary.p50, summary.maximum), (1.0, 7.0, 40.0));
        // numpy.quantile(values, [0.25, 0.75]) (linear interpolation).
        assert_eq!((summary.p25, summary.p75), (2.75, 8.625));
        assert!(Summary::new(&[]).is_err());
        assert_eq!(Summary::new(&[1.0, f64::NAN]), Err(StatsError::NotFinite));
    }

    /// (n, q, expected interval as 1-based ranks).
    type Case = (usize, f64, Option<(f64, f64)>);

    #[test]
    fn order_statistic_interval_matches_scipy_quantile_test() {
        // scipy 1.17 stats.quantile_test(x, p=q).confidence_interval(0.95) on x = 1..=n (so
        // each bound is its 1-based rank), see reference/reference.py "order statistic".
        let cases: [Case; 5] = [
            (100, 0.5, Some((40.0, 61.0))),
            (100, 0.95, Some((90.0, 100.0))),
            (100, 0.99, None),
            (1000, 0.99, Some((983.0, 997.0))),
            (30_000, 0.95, Some((28_426.0, 28_575.0))),
        ];
        for (n, q, expected) in cases {
            let sorted: Vec<f64> = (1..=n).map(|value| value as f64).collect();
            let interval = order_statistic_interval(&sorted, q, 0.95).expect("valid");
            assert_eq!(
                interval.map(|found| (found.lower, found.upper)),
                expected,
                "n {n} q {q}"
            );
        }
    }

    proptest! {
        #[test]
        fn quantile_is_monotone_and_within_range(
            mut values in prop::collection::vec(-1e6f64..1e6, 1..200),
            first in 0.0f64..=1.0,
            second in 0.0f64..=1.0,
        ) {
            values.sort_unstable_by(f64::total_cmp);
            let (low, high) = if first <= second { (first, second) } else { (second, first) };
            let at_low = quantile(&values, low).expect("non-empty");
            let at_high = quantile(&values, high).expect("non-empty");
            prop_assert!(at_low <= at_high);
            prop_assert!(values[0] <= at_low && at_high <= values[values.len() - 1]);
        }

        #[test]
        fn order_statistic_interval_contains_the_sample_quantile(
            mut values in prop::collection::vec(0.0f64..1e4, 60..400),
        ) {
            values.sort_unstable_by(f64::total_cmp);
            let interval = order_statistic_interval(&values, 0.5, 0.95).expect("valid").expect("n ≥ 60");
            prop_assert!(interval.contains(quantile(&values, 0.5).expect("non-empty")));
        }
    }
}
