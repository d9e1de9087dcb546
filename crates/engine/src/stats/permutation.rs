//! Output drift: do two targets' answers to the same test differ more than one target's answers
//! differ between repeats? A one-sided two-sample permutation test on similarity ratios.
//!
//! The *noise floor* is the similarity between repeats on the same target (within); the
//! *across* similarities compare the two targets' answers to the same test. Under "no drift" the
//! labels within/across are exchangeable; the statistic is mean(across) − mean(within), and the
//! p-value is the share of relabellings whose statistic is at most the observed one (scipy
//! `permutation_test((across, within), statistic, permutation_type="independent",
//! alternative="less")`, including its relative tolerance of 100 ε for ties and its
//! (count + 1)/(R + 1) for random relabellings). All C(N, n) relabellings are enumerated when
//! there are at most `resamples` of them, as scipy does.
//!
//! When every test has both numbers, [`paired_drift_test`] is the better test and much the
//! faster: it compares each test's across-target similarity with *its own* noise floor, so the
//! large differences between tests (a one-word answer against an essay) do not blur the
//! comparison; under "no drift" each test's difference is as likely negative as positive, and the
//! p-value counts sign flips (scipy `permutation_test(..., permutation_type="samples")`). A
//! session of 10,000 tests costs ~10 ms with 2,000 resamples, against ~100 ms for the two-sample
//! test's relabellings.
//!
//! Callers should pass one number per test on each side (the mean similarity over its pairs):
//! similarities of the same test are not independent, and one long answer must not outweigh the
//! suite. Left out: computing similarity (the diff module does), and two-sided alternatives
//! (answers more alike across targets than within one is not drift).

use serde::{Deserialize, Serialize};

use super::random::SeededRandom;
use super::{Result, StatsError, check_finite};

/// The result of the drift test.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct DriftTest {
    /// The mean similarity between repeats on one target: the noise floor.
    pub within_mean: f64,
    /// The mean similarity between the two targets' answers.
    pub across_mean: f64,
    /// The one-sided p-value for "across is lower than within".
    pub p_value: f64,
    /// True when every relabelling was enumerated (the p-value is exact).
    pub exact: bool,
    /// How many relabellings the p-value counts.
    pub permutations: u64,
}

impl DriftTest {
    /// Whether the outputs differ more than sampling noise explains, at `alpha` (apply it to a
    /// Holm-adjusted p-value in a session with several comparisons).
    pub fn drifts(&self, alpha: f64) -> bool {
        self.p_value < alpha
    }
}

/// The one-sided permutation test of `across` against `within` similarities.
pub fn drift_test(within: &[f64], across: &[f64], resamples: usize, seed: u64) -> Result<DriftTest> {
    check_finite(within)?;
    check_finite(across)?;
    for side in [within, across] {
        if side.is_empty() {
            return Err(StatsError::TooFewValues { got: 0, needed: 1 });
        }
    }
    if resamples == 0 {
        return Err(StatsError::InvalidArgument("0 resamples".to_owned()));
    }
    let pooled: Vec<f64> = across.iter().chain(within).copied().collect();
    let total: f64 = pooled.iter().sum();
    let (across_count, within_count) = (across.len(), within.len());
    // The statistic from the sum of the values labelled "across".
    let statistic = |across_sum: f64| across_sum / across_count as f64 - (total - across_sum) / within_count as f64;
    let across_sum: f64 = across.iter().sum();
    let observed = statistic(across_sum);
    let threshold = observed + (observed * f64::EPSILON * 100.0).abs();
    let within_mean = (total - across_sum) / within_count as f64;
    let across_mean = across_sum / across_count as f64;

    let arrangements = combinations(pooled.len(), across_count.min(within_count));
    if arrangements.is_some_and(|count| count <= resamples as u64) {
        let mut at_most = 0u64;
        let mut seen = 0u64;
        // Enumerate which positions carry the "across" label.
        for_each_combination(pooled.len(), across_count, |chosen| {
            let sum: f64 = chosen.iter().map(|&index| pooled[index]).sum();
            seen += 1;
            at_most += u64::from(statistic(sum) <= threshold);
        });
        return Ok(DriftTest {
            within_mean,
            across_mean,
            p_value: at_most as f64 / seen as f64,
            exact: true,
            permutations: seen,
        });
    }
    let mut random = SeededRandom::new(seed);
    let mut shuffled = pooled;
    let mut at_most = 0u64;
    for _ in 0..resamples {
        // A partial Fisher–Yates: only the first `across_count` positions need a random value.
        for position in 0..across_count {
            let other = position + random.index((shuffled.len() - position) as u32) as usize;
            shuffled.swap(position, other);
        }
        let sum: f64 = shuffled[..across_count].iter().sum();
        at_most += u64::from(statistic(sum) <= threshold);
    }
    Ok(DriftTest {
        within_mean,
        across_mean,
        p_value: (at_most + 1) as f64 / (resamples + 1) as f64,
        exact: false,
        permutations: resamples as u64,
    })
}

/// The one-sided paired permutation (sign-flip) test: `within[t]` is test t's similarity between
/// repeats on one target (its noise floor), `across[t]` the similarity between the two targets'
/// answers to it. The statistic is the mean of across − within; the p-value is the share of the
/// 2ⁿ sign patterns with a statistic at most the observed one (all of them when 2ⁿ ≤
/// `resamples`, otherwise (count + 1)/(R + 1) over R seeded random patterns), as scipy
/// `permutation_test((across, within), mean(x − y), permutation_type="samples",
/// alternative="less")`.
pub fn paired_drift_test(within: &[f64], across: &[f64], resamples: usize, seed: u64) -> Result<DriftTest> {
    if within.len() != across.len() {
        return Err(StatsError::LengthMismatch {
            first: within.len(),
            second: across.len(),
        });
    }
    check_finite(within)?;
    check_finite(across)?;
    if within.is_empty() {
        return Err(StatsError::TooFewValues { got: 0, needed: 1 });
    }
    if resamples == 0 {
        return Err(StatsError::InvalidArgument("0 resamples".to_owned()));
    }
    let count = within.len();
    let differences: Vec<f64> = across.iter().zip(within).map(|(a, w)| a - w).collect();
    let observed = differences.iter().sum::<f64>() / count as f64;
    let threshold = observed + (observed * f64::EPSILON * 100.0).abs();
    let within_mean = within.iter().sum::<f64>() / count as f64;
    let across_mean = across.iter().sum::<f64>() / count as f64;
    // The mean of the signed differences for a pattern of sign bits (bit set = flipped).
    let signed_mean = |pattern: u64| {
        differences
            .iter()
            .enumerate()
            .map(|(index, &value)| if pattern >> index & 1 == 1 { -value } else { value })
            .sum::<f64>()
            / count as f64
    };
    if count < 63 && (1u64 << count) <= resamples as u64 {
        let patterns = 1u64 << count;
        let at_most = (0..patterns)
            .filter(|&pattern| signed_mean(pattern) <= threshold)
            .count() as u64;
        return Ok(DriftTest {
            within_mean,
            across_mean,
            p_value: at_most as f64 / patterns as f64,
            exact: true,
            permutations: patterns,
        });
    }
    // Each byte of random bits flips the signs of 8 consecutive differences; the 256 signed sums
    // of every group of 8 are tabled once, so a resample is n/8 lookups instead of n sign flips.
    let groups = count.div_ceil(8);
    let mut table = vec![0.0_f64; groups * 256];
    for (group, chunk) in differences.chunks(8).enumerate() {
        for byte in 0..256usize {
            table[group * 256 + byte] = chunk
                .iter()
                .enumerate()
                .map(|(bit, &value)| if byte >> bit & 1 == 1 { -value } else { value })
                .sum();
        }
    }
    let mut random = SeededRandom::new(seed);
    let mut at_most = 0u64;
    for _ in 0..resamples {
        let mut sum = 0.0;
        for word_start in (0..groups).step_by(8) {
            let bytes = random.bits().to_le_bytes();
            for (group, &byte) in (word_start..groups.min(word_start + 8)).zip(&bytes) {
                sum += table[group * 256 + byte as usize];
            }
        }
        at_most += u64::from(sum / count as f64 <= threshold);
    }
    Ok(DriftTest {
        within_mean,
        across_mean,
        p_value: (at_most + 1) as f64 / (resamples + 1) as f64,
        exact: false,
        permutations: resamples as u64,
    })
}

/// C(n, k), or `None` past u64.
fn combinations(n: usize, k: usize) -> Option<u64> {
    let mut result: u64 = 1;
    for step in 0..k as u64 {
        result = result.checked_mul(n as u64 - step)? / (step + 1);
    }
    Some(result)
}

/// Calls `visit` with every k-subset of 0..n in lexicographic order.
fn for_each_combination(n: usize, k: usize, mut visit: impl FnMut(&[usize])) {
    let mut chosen: Vec<usize> = (0..k).collect();
    loop {
        visit(&chosen);
        // Find the rightmost position that can still move right, move it, reset the rest.
        let Some(position) = (0..k).rev().find(|&position| chosen[position] < n - k + position) else {
            return;
        };
        chosen[position] += 1;
        for next in position + 1..k {
            chosen[next] = chosen[next - 1] + 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exact_test_matches_scipy() {
        // scipy 1.17 permutation_test((across, within), mean(x) − mean(y),
        // permutation_type="independent", alternative="less", n_resamples=10_000): every
        // arrangement is enumerated, so the p-value is exact. reference/reference.py "drift".
        let within = [0.97, 0.95, 0.99, 0.96, 0.98, 0.94];
        let across = [0.91, 0.95, 0.88, 0.93, 0.96];
        let test = drift_test(&within, &across, 10_000, 0).expect("valid");
        assert!(test.exact);
        assert_eq!(test.permutations, 462);
        assert!((test.p_value - REFERENCE_EXACT_P).abs() < 1e-12, "{test:?}");
        assert!(test.drifts(0.05));
    }

    #[test]
    fn random_test_agrees_with_scipy_and_reproduces() {
        // The same data as scipy's exact value above, but with fewer resamples than the 462
        // arrangements: a random p-value within sampling error of the exact one.
        let within = [0.97, 0.95, 0.99, 0.96, 0.98, 0.94];
        let across = [0.91, 0.95, 0.88, 0.93, 0.96];
        let test = drift_test(&within, &across, 400, 5).expect("valid");
        assert!(!test.exact);
        assert!((test.p_value - REFERENCE_EXACT_P).abs() < 0.01, "{test:?}");
        assert_eq!(test, drift_test(&within, &across, 400, 5).expect("valid"));
    }

    #[test]
    fn no_drift_when_across_looks_like_within() {
        let within: Vec<f64> = (0..200).map(|index| 0.9 + f64::from(index % 10) / 100.0).collect();
        let across: Vec<f64> = (0..200)
            .map(|index| 0.9 + f64::from((index + 5) % 10) / 100.0)
            .collect();
        let test = drift_test(&within, &across, 2_000, 1).expect("valid");
        assert!(test.p_value > 0.2, "{test:?}");
        assert!(!test.drifts(0.05));
    }

    #[test]
    fn enumerates_every_combination_once() {
        let mut seen = Vec::new();
        for_each_combination(5, 2, |chosen| seen.push(chosen.to_vec()));
        assert_eq!(seen.len(), 10);
        assert_eq!(seen[0], [0, 1]);
        assert_eq!(seen[9], [3, 4]);
        assert_eq!(combinations(11, 5), Some(462));
        assert_eq!(combinations(200, 100), None);
    }

    #[test]
    fn paired_exact_test_matches_scipy() {
        // scipy 1.17 permutation_test((across, within), mean(x − y), permutation_type="samples",
        // alternative="less", n_resamples=10_000): all 2⁸ sign patterns. reference.py "drift".
        let within = [0.97, 0.80, 0.99, 0.60, 0.98, 0.94, 0.75, 0.90];
        let across = [0.95, 0.81, 0.93, 0.55, 0.96, 0.95, 0.70, 0.86];
        let test = paired_drift_test(&within, &across, 10_000, 0).expect("valid");
        assert!(test.exact);
        assert_eq!(test.permutations, 256);
        assert!((test.p_value - REFERENCE_PAIRED_EXACT_P).abs() < 1e-12, "{test:?}");
        let sampled = paired_drift_test(&within, &across, 200, 3).expect("valid");
        assert!(!sampled.exact);
        assert!((sampled.p_value - REFERENCE_PAIRED_EXACT_P).abs() < 0.03, "{sampled:?}");
        assert_eq!(sampled, paired_drift_test(&within, &across, 200, 3).expect("valid"));
    }

    #[test]
    fn paired_test_sees_a_small_shift_that_varies_by_test() {
        // Tests differ a lot in how similar their answers are (0.5 to 0.99); across-target
        // similarity is 0.01 lower than each test's own floor, give or take 0.005.
        let within: Vec<f64> = (0..300).map(|index| 0.5 + f64::from(index % 50) / 100.0).collect();
        let across: Vec<f64> = within
            .iter()
            .enumerate()
            .map(|(index, value)| value - 0.01 + f64::from(index as u32 % 3) * 0.005 - 0.005)
            .collect();
        let paired = paired_drift_test(&within, &across, 2_000, 1).expect("valid");
        assert!(paired.drifts(0.001), "{paired:?}");
        let unpaired = drift_test(&within, &across, 2_000, 1).expect("valid");
        assert!(
            !unpaired.drifts(0.05),
            "the two-sample test drowns the shift in the spread: {unpaired:?}"
        );
        assert!(paired_drift_test(&within, &across[1..], 10, 1).is_err());
    }

    include!("reference/drift_values.rs");
}
