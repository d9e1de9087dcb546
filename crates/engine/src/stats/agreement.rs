//! Agreement between raters: Krippendorff's alpha for a panel, Cohen's kappa between a judge and
//! the panel, and each rater's agreement with the rest, flagged when it is no better than chance.
//!
//! Ratings are category codes, small non-negative integers: a pairwise preference (say 0 = A,
//! 1 = B, 2 = tie) or a rubric score (1..=5). `units[u][r]` is rater r's value for unit u, `None`
//! when r did not rate u; rows may be shorter than the number of raters (the rest is `None`).
//!
//! Krippendorff's alpha follows "Computing Krippendorff's Alpha-Reliability" (Krippendorff 2011):
//! the coincidence matrix of pairable values (units with at least two values; a unit with m values
//! contributes each ordered pair of values from different raters with weight 1/(m − 1)), then
//! α = 1 − (n − 1) · Σ o_ck δ²_ck / Σ n_c n_k δ²_ck. The difference functions are the nominal
//! one (0 when equal, 1 otherwise), the ordinal one (the number of pairable values between two
//! ranks, from their marginal frequencies) and the interval one ((c − k)²).
//!
//! Left out: the ratio and circular metrics, bootstrapped intervals for alpha, and weighted kappa
//! (judge-versus-panel agreement on a rubric is reported as exact agreement).

use serde::{Deserialize, Serialize};

use super::proportion::binomial_test_greater;
use super::{Result, StatsError};

/// The level of measurement of the values, which decides how much two different values disagree.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Level {
    /// Categories without order (a pairwise preference): different values disagree equally.
    Nominal,
    /// Ordered ranks (a rubric score): two values disagree more the more pairable values lie
    /// between them.
    Ordinal,
    /// Equal-interval numbers: disagreement is the squared difference.
    Interval,
}

/// Krippendorff's alpha of `units[u][r]` (rater r's value for unit u) at the given level. Units
/// with fewer than two values are not pairable and are ignored, as in Krippendorff's definition.
/// Errors when no unit has two values, and when all pairable values are the same (chance
/// disagreement is then 0 and alpha 0/0).
pub fn krippendorff_alpha(units: &[Vec<Option<u32>>], level: Level) -> Result<f64> {
    let values = distinct_values(units);
    let categories = values.len();
    if categories > MAX_CATEGORIES {
        return Err(StatsError::InvalidArgument(format!(
            "{categories} distinct values; ratings are category codes, at most {MAX_CATEGORIES}"
        )));
    }
    let mut coincidences = vec![0.0; categories * categories];
    let mut pairable_units = 0;
    for unit in units {
        let rated: Vec<usize> = unit.iter().flatten().map(|value| index_of(&values, *value)).collect();
        if rated.len() < 2 {
            continue;
        }
        pairable_units += 1;
        let weight = 1.0 / (rated.len() - 1) as f64;
        for (position, &c) in rated.iter().enumerate() {
            for (other, &k) in rated.iter().enumerate() {
                if position != other {
                    coincidences[c * categories + k] += weight;
                }
            }
        }
    }
    if pairable_units == 0 {
        return Err(StatsError::TooFewValues { got: 0, needed: 1 });
    }
    // n_c: each pairable value adds weight 1 in all to its row.
    let marginals: Vec<f64> = coincidences
        .chunks_exact(categories.max(1))
        .map(|row| row.iter().sum())
        .collect();
    let total: f64 = marginals.iter().sum();
    // below[c]: the pairable values with a rank under c's, so a run of ranks sums in one step.
    let below: Vec<f64> = marginals
        .iter()
        .scan(0.0, |sum, &count| {
            let before = *sum;
            *sum += count;
            Some(before)
        })
        .collect();
    let distance = |c: usize, k: usize| -> f64 {
        match level {
            Level::Nominal => f64::from(u8::from(c != k)),
            Level::Ordinal => {
                let (low, high) = (c.min(k), c.max(k));
                let between = below[high] + marginals[high] - below[low];
                (between - (marginals[c] + marginals[k]) / 2.0).powi(2)
            }
            Level::Interval => (f64::from(values[c]) - f64::from(values[k])).powi(2),
        }
    };
    let mut observed = 0.0;
    let mut expected = 0.0;
    for c in 0..categories {
        for k in 0..categories {
            if c == k {
                continue;
            }
            let delta = distance(c, k);
            observed += coincidences[c * categories + k] * delta;
            expected += marginals[c] * marginals[k] * delta;
        }
    }
    if expected <= 0.0 {
        return Err(StatsError::Undefined(
            "every pairable rating has the same value, so agreement by chance is certain".to_string(),
        ));
    }
    Ok(1.0 - (total - 1.0) * observed / expected)
}

/// The most distinct values `krippendorff_alpha` takes: ratings are category codes (a rubric has
/// five), and the coincidence matrix grows with the square of their number.
const MAX_CATEGORIES: usize = 1_000;

/// Cohen's kappa between two raters over the same items, nominal categories (scikit-learn
/// `cohen_kappa_score`): (p_o − p_e) / (1 − p_e) with p_e from each rater's own distribution.
/// Errors on no pairs, and when both raters used one and the same category throughout (p_e = 1).
pub fn cohen_kappa(pairs: &[(u32, u32)]) -> Result<f64> {
    if pairs.is_empty() {
        return Err(StatsError::TooFewValues { got: 0, needed: 1 });
    }
    let mut values: Vec<u32> = pairs.iter().flat_map(|&(a, b)| [a, b]).collect();
    values.sort_unstable();
    values.dedup();
    let mut first = vec![0u64; values.len()];
    let mut second = vec![0u64; values.len()];
    let mut agreed = 0u64;
    for &(a, b) in pairs {
        first[index_of(&values, a)] += 1;
        second[index_of(&values, b)] += 1;
        agreed += u64::from(a == b);
    }
    let n = pairs.len() as f64;
    let observed = agreed as f64 / n;
    let expected: f64 = first
        .iter()
        .zip(&second)
        .map(|(&a, &b)| (a as f64 / n) * (b as f64 / n))
        .sum();
    if expected >= 1.0 {
        return Err(StatsError::Undefined(
            "both raters gave every item the same value, so agreement by chance is certain".to_string(),
        ));
    }
    Ok((observed - expected) / (1.0 - expected))
}

/// How one rater agrees with the other raters of the panel.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct RaterAgreement {
    /// The rater's column in `units`.
    pub rater: usize,
    /// Comparisons of this rater's value with another rater's value on the same unit.
    pub compared: u64,
    /// The share of those comparisons where the two values are equal (0 when none).
    pub observed: f64,
    /// The agreement expected by chance: Σ π_c², π the pooled distribution of pairable values.
    pub expected: f64,
    /// (observed − expected) / (1 − expected); 0 when chance agreement is certain or there was
    /// nothing to compare.
    pub kappa: f64,
    /// One-sided exact binomial test of observed > expected over `compared` comparisons.
    pub p_value: f64,
    /// Agrees no better than chance: p_value ≥ 0.05, or nothing to compare.
    pub chance_level: bool,
}

/// The level of the per-rater test: a rater whose agreement does not exceed chance at it is
/// flagged.
const CHANCE_LEVEL: f64 = 0.05;

/// Each rater's agreement with the rest of the panel, one entry per rater column (the longest
/// row decides how many). Agreement is exact agreement at every level of measurement (an
/// ordinal rubric too: a rater who is always one off is not agreeing), over every pair of this
/// rater's value with another rater's value on a unit both rated; chance is the pooled
/// distribution of all pairable values (as Scott's pi and Krippendorff's alpha take it). The
/// binomial test treats the comparisons as independent, which they are not quite (one value is
/// compared with several others on a unit), so it is a screen for careless or random raters,
/// not a calibrated test.
pub fn rater_agreement(units: &[Vec<Option<u32>>]) -> Vec<RaterAgreement> {
    let raters = units.iter().map(Vec::len).max().unwrap_or(0);
    let values = distinct_values(units);
    let mut pooled = vec![0u64; values.len()];
    for unit in units.iter().filter(|unit| unit.iter().flatten().count() >= 2) {
        for value in unit.iter().flatten() {
            pooled[index_of(&values, *value)] += 1;
        }
    }
    let pooled_total: u64 = pooled.iter().sum();
    let expected = if pooled_total == 0 {
        1.0
    } else {
        pooled
            .iter()
            .map(|&count| (count as f64 / pooled_total as f64).powi(2))
            .sum()
    };
    (0..raters)
        .map(|rater| {
            let (mut compared, mut agreed) = (0u64, 0u64);
            for unit in units {
                let Some(Some(own)) = unit.get(rater) else {
                    continue;
                };
                for (other, value) in unit.iter().enumerate() {
                    if let Some(value) = value
                        && other != rater
                    {
                        compared += 1;
                        agreed += u64::from(value == own);
                    }
                }
            }
            let observed = if compared == 0 {
                0.0
            } else {
                agreed as f64 / compared as f64
            };
            let undecidable = compared == 0 || expected >= 1.0;
            let kappa = if undecidable {
                0.0
            } else {
                (observed - expected) / (1.0 - expected)
            };
            let p_value = if undecidable {
                1.0
            } else {
                binomial_test_greater(agreed, compared, expected)
            };
            RaterAgreement {
                rater,
                compared,
                observed,
                expected,
                kappa,
                p_value,
                chance_level: undecidable || p_value >= CHANCE_LEVEL,
            }
        })
        .collect()
}

/// The distinct values of all units, ascending (the ordinal metric needs them in order).
fn distinct_values(units: &[Vec<Option<u32>>]) -> Vec<u32> {
    let mut values: Vec<u32> = units.iter().flatten().flatten().copied().collect();
    values.sort_unstable();
    values.dedup();
    values
}

/// The position of a value known to be in `values`.
fn index_of(values: &[u32], value: u32) -> usize {
    values.partition_point(|&known| known < value)
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn close(actual: f64, expected: f64, tolerance: f64) -> bool {
        (actual - expected).abs() < tolerance
    }

    #[test]
    fn alpha_matches_krippendorffs_worked_examples() {
        let cases = alpha_cases();
        // Krippendorff (2011), example C: 4 observers × 12 units with missing values. The paper
        // prints nominal 0.743, ordinal 0.815, interval 0.849.
        let (example_c, nominal, ordinal, interval) = &cases[0];
        let actual = [
            krippendorff_alpha(example_c, Level::Nominal).expect("valid"),
            krippendorff_alpha(example_c, Level::Ordinal).expect("valid"),
            krippendorff_alpha(example_c, Level::Interval).expect("valid"),
        ];
        for (value, printed) in actual.iter().zip([0.743, 0.815, 0.849]) {
            assert!(close(*value, printed, 5e-4), "{actual:?}");
        }
        // And the krippendorff package (0.9.0) to rounding.
        for (value, package) in actual.iter().zip([nominal, ordinal, interval]) {
            assert!(close(*value, *package, 1e-12), "{actual:?}");
        }
        // Example A: two observers, binary data, α = 0.095.
        let (example_a, nominal, _, _) = &cases[1];
        let value = krippendorff_alpha(example_a, Level::Nominal).expect("valid");
        assert!(close(value, 0.095, 5e-4) && close(value, *nominal, 1e-12), "{value}");
    }

    #[test]
    fn alpha_matches_the_package_on_a_panel_with_missing_ratings() {
        for (units, nominal, ordinal, interval) in alpha_cases() {
            for (level, expected) in [
                (Level::Nominal, nominal),
                (Level::Ordinal, ordinal),
                (Level::Interval, interval),
            ] {
                let actual = krippendorff_alpha(&units, level).expect("valid");
                assert!(close(actual, expected, 1e-12), "{level:?}: {actual} vs {expected}");
            }
        }
    }

    #[test]
    fn alpha_ignores_units_with_one_value_and_errors_when_undefined() {
        let (example_c, nominal, _, _) = &alpha_cases()[0];
        let mut padded = example_c.clone();
        padded.push(vec![Some(9), None, None, None]);
        padded.push(vec![]);
        assert!(close(
            krippendorff_alpha(&padded, Level::Nominal).expect("valid"),
            *nominal,
            1e-12
        ));
        assert!(matches!(
            krippendorff_alpha(&[vec![Some(1), None], vec![None, Some(2)]], Level::Nominal),
            Err(StatsError::TooFewValues { .. })
        ));
        assert!(matches!(
            krippendorff_alpha(&[], Level::Ordinal),
            Err(StatsError::TooFewValues { .. })
        ));
        let hashes: Vec<Vec<Option<u32>>> = (0..2_000).map(|unit| vec![Some(unit), Some(unit + 1)]).collect();
        assert!(matches!(
            krippendorff_alpha(&hashes, Level::Nominal),
            Err(StatsError::InvalidArgument(_))
        ));
        assert!(matches!(
            krippendorff_alpha(
                &[vec![Some(3), Some(3)], vec![Some(3), Some(3), Some(3)]],
                Level::Nominal
            ),
            Err(StatsError::Undefined(_))
        ));
        // Perfect agreement with some variation between units is 1.
        let perfect = vec![vec![Some(1), Some(1)], vec![Some(4), Some(4), None, Some(4)]];
        for level in [Level::Nominal, Level::Ordinal, Level::Interval] {
            assert!(close(krippendorff_alpha(&perfect, level).expect("valid"), 1.0, 1e-12));
        }
    }

    #[test]
    fn kappa_matches_scikit_learn() {
        for (pairs, expected) in kappa_cases() {
            let actual = cohen_kappa(&pairs).expect("valid");
            assert!(close(actual, expected, 1e-12), "{actual} vs {expected}");
        }
        assert!(matches!(cohen_kappa(&[]), Err(StatsError::TooFewValues { .. })));
        assert!(matches!(cohen_kappa(&[(2, 2), (2, 2)]), Err(StatsError::Undefined(_))));
        assert_eq!(cohen_kappa(&[(1, 1), (2, 2)]), Ok(1.0));
    }

    #[test]
    fn rater_agreement_matches_the_reference_and_flags_the_random_rater() {
        // reference/panels.py: the definition written out in numpy, scipy binomtest(greater).
        let (units, _, _, _) = &alpha_cases()[2];
        let agreement = rater_agreement(units);
        assert_eq!(agreement.len(), PANEL_RATERS.len());
        for (actual, (rater, compared, agreed, expected, p_value)) in agreement.iter().zip(PANEL_RATERS) {
            assert_eq!(actual.rater, *rater);
            assert_eq!(actual.compared, *compared);
            assert!(close(actual.observed, *agreed as f64 / *compared as f64, 1e-15));
            assert!(close(actual.expected, *expected, 1e-15));
            assert!(close(
                actual.kappa,
                (actual.observed - expected) / (1.0 - expected),
                1e-15
            ));
            assert!((actual.p_value - p_value).abs() <= 1e-9 * p_value, "{actual:?}");
        }
        // Rater 6 answered at random; the others follow the unit's true score.
        let flagged: Vec<usize> = agreement
            .iter()
            .filter(|rater| rater.chance_level)
            .map(|rater| rater.rater)
            .collect();
        assert_eq!(flagged, vec![6]);
    }

    #[test]
    fn a_rater_with_nothing_to_compare_is_flagged_without_nan() {
        let units = vec![
            vec![Some(1), Some(1), None],
            vec![Some(2), Some(2)],
            vec![Some(1), None, None, None],
        ];
        let agreement = rater_agreement(&units);
        assert_eq!(agreement.len(), 4);
        for rater in &agreement[2..] {
            assert_eq!(rater.compared, 0);
            assert!(rater.chance_level);
            assert_eq!((rater.observed, rater.kappa, rater.p_value), (0.0, 0.0, 1.0));
        }
        assert_eq!(agreement[0].observed, 1.0);
        assert!(rater_agreement(&[]).is_empty());
        // Everyone gave the same value: no NaN, flagged (agreement says nothing here).
        let same = rater_agreement(&[vec![Some(3), Some(3)], vec![Some(3), Some(3)]]);
        assert!(same.iter().all(|rater| rater.chance_level && rater.kappa == 0.0));
    }

    proptest! {
        #[test]
        fn alpha_is_at_most_one_and_invariant_to_rater_order(
            raw in prop::collection::vec(prop::collection::vec(prop::option::of(1u32..6), 2..5), 1..30),
        ) {
            for level in [Level::Nominal, Level::Ordinal, Level::Interval] {
                let Ok(alpha) = krippendorff_alpha(&raw, level) else { continue };
                prop_assert!(alpha.is_finite() && alpha <= 1.0 + 1e-12);
                let reversed: Vec<Vec<Option<u32>>> = raw.iter().map(|unit| unit.iter().rev().copied().collect()).collect();
                let again = krippendorff_alpha(&reversed, level).expect("same data");
                prop_assert!((alpha - again).abs() < 1e-9);
            }
            for rater in rater_agreement(&raw) {
                prop_assert!(rater.observed.is_finite() && rater.kappa.is_finite());
                prop_assert!((0.0..=1.0).contains(&rater.p_value));
            }
        }
    }

    include!("reference/agreement_values.rs");
}
