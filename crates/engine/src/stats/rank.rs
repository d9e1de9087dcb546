//! The Wilcoxon signed-rank test on paired differences: does one target tend to be slower than
//! the other on the same (test, repeat)?
//!
//! It matches scipy's `wilcoxon(first, second)` with its defaults (`zero_method="wilcox"`,
//! `correction=False`, `method="auto"`) except for one case: scipy's "auto" exact distribution
//! for n ≤ 50 without ties or zeros is used here too, but where scipy runs a permutation test (n ≤
//! 13 with ties or zeros) this uses the normal approximation. Zeros (pairs with equal values) are
//! dropped ("wilcox"); the variance carries the tie correction Σ(t³ − t)/48.
//! Left out: one-sided alternatives, the Pratt and zsplit zero methods, confidence intervals for
//! the Hodges–Lehmann shift (the bootstrap intervals on quantiles serve the report instead).

use serde::{Deserialize, Serialize};

use super::distribution::normal_upper_tail;
use super::{Result, StatsError, check_finite};

/// How the p-value was computed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SignedRankMethod {
    /// The exact null distribution of the rank sum (n ≤ 50, no ties, no zeros).
    Exact,
    /// The normal approximation with the tie correction.
    Normal,
}

/// The result of a two-sided signed-rank test.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct SignedRankTest {
    /// min(R⁺, R⁻), scipy's two-sided statistic.
    pub statistic: f64,
    /// The sum of the ranks of the positive differences (second > first).
    pub positive_rank_sum: f64,
    /// The number of non-zero differences the test used.
    pub used: usize,
    pub p_value: f64,
    pub method: SignedRankMethod,
}

/// Above this many pairs the exact distribution is not used (scipy's threshold).
const EXACT_LIMIT: usize = 50;

/// The two-sided Wilcoxon signed-rank test on the differences `second[i] − first[i]`.
/// Errors on lengths that differ, a non-finite value, or no non-zero difference.
pub fn wilcoxon_signed_rank(first: &[f64], second: &[f64]) -> Result<SignedRankTest> {
    if first.len() != second.len() {
        return Err(StatsError::LengthMismatch {
            first: first.len(),
            second: second.len(),
        });
    }
    check_finite(first)?;
    check_finite(second)?;
    let differences: Vec<f64> = first.iter().zip(second).map(|(a, b)| b - a).collect();
    let had_zeros = differences.contains(&0.0);
    let mut nonzero: Vec<f64> = differences
        .into_iter()
        .filter(|&difference| difference != 0.0)
        .collect();
    let used = nonzero.len();
    if used == 0 {
        return Err(StatsError::TooFewValues { got: 0, needed: 1 });
    }
    nonzero.sort_unstable_by(|a, b| a.abs().total_cmp(&b.abs()));
    // Average ranks over runs of equal magnitude, and the tie term Σ(t³ − t).
    let mut positive_rank_sum = 0.0;
    let mut tie_term = 0.0;
    let mut has_ties = false;
    let mut start = 0;
    while start < used {
        let mut end = start + 1;
        while end < used && nonzero[end].abs() == nonzero[start].abs() {
            end += 1;
        }
        let run = (end - start) as f64;
        let average_rank = (start + end + 1) as f64 / 2.0;
        if end - start > 1 {
            has_ties = true;
            tie_term += run * run * run - run;
        }
        positive_rank_sum += average_rank * nonzero[start..end].iter().filter(|&&value| value > 0.0).count() as f64;
        start = end;
    }
    let n = used as f64;
    let total_rank_sum = n * (n + 1.0) / 2.0;
    let statistic = positive_rank_sum.min(total_rank_sum - positive_rank_sum);
    let exact = first.len() <= EXACT_LIMIT && !has_ties && !had_zeros;
    let (p_value, method) = if exact {
        (exact_p_value(used, positive_rank_sum), SignedRankMethod::Exact)
    } else {
        let mean = total_rank_sum / 2.0;
        let variance = (n * (n + 1.0) * (2.0 * n + 1.0) - tie_term / 2.0) / 24.0;
        let z = (positive_rank_sum - mean) / variance.sqrt();
        let p = if variance > 0.0 {
            (2.0 * normal_upper_tail(z.abs())).min(1.0)
        } else {
            1.0
        };
        (p, SignedRankMethod::Normal)
    };
    Ok(SignedRankTest {
        statistic,
        positive_rank_sum,
        used,
        p_value,
        method,
    })
}

/// The exact two-sided p-value of a rank sum `r` with n untied ranks: 2·min(P(R ≤ r), P(R ≥ r)),
/// capped at 1, from the count of subsets of 1..=n with each sum (a subset-sum table).
fn exact_p_value(n: usize, rank_sum: f64) -> f64 {
    let maximum = n * (n + 1) / 2;
    // Counts reach 2⁵⁰ for n = 50: f64 holds them exactly enough (relative 1e-16).
    let mut counts = vec![0.0_f64; maximum + 1];
    counts[0] = 1.0;
    for rank in 1..=n {
        for sum in (rank..=maximum).rev() {
            counts[sum] += counts[sum - rank];
        }
    }
    let total = 2.0_f64.powi(n as i32);
    let r = rank_sum.round() as usize;
    let at_most: f64 = counts[..=r].iter().sum::<f64>() / total;
    let at_least: f64 = counts[r..].iter().sum::<f64>() / total;
    (2.0 * at_most.min(at_least)).min(1.0)
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn matches_scipy_wilcoxon() {
        // scipy 1.17 stats.wilcoxon(first, second) with defaults, reference/reference.py
        // "wilcoxon": (first, second, statistic, p-value, exact?).
        for (first, second, statistic, p_value, exact) in reference_cases() {
            let test = wilcoxon_signed_rank(&first, &second).expect("valid");
            assert_eq!(test.statistic, statistic);
            assert!(
                (test.p_value - p_value).abs() <= 1e-10 * p_value.max(1e-300),
                "{test:?} vs {p_value}"
            );
            assert_eq!(test.method == SignedRankMethod::Exact, exact);
        }
    }

    #[test]
    fn refuses_what_it_cannot_test() {
        assert!(wilcoxon_signed_rank(&[1.0, 2.0], &[1.0, 2.0]).is_err());
        assert!(wilcoxon_signed_rank(&[1.0], &[1.0, 2.0]).is_err());
    }

    proptest! {
        #[test]
        fn p_value_is_a_probability_and_symmetric(
            pairs in prop::collection::vec((0.0f64..100.0, 0.0f64..100.0), 1..120),
        ) {
            let (first, second): (Vec<f64>, Vec<f64>) = pairs.into_iter().unzip();
            prop_assume!(first.iter().zip(&second).any(|(a, b)| a != b));
            let forward = wilcoxon_signed_rank(&first, &second).expect("valid");
            let backward = wilcoxon_signed_rank(&second, &first).expect("valid");
            prop_assert!((0.0..=1.0).contains(&forward.p_value));
            prop_assert!((forward.p_value - backward.p_value).abs() < 1e-12);
        }
    }

    include!("reference/wilcoxon_values.rs");
}
