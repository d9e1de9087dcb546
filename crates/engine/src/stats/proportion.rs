//! Proportions: the Wilson interval for one rate, score-based intervals for the difference of
//! two rates (independent or paired), the exact McNemar test, and the sample size an equivalence
//! or difference claim about two rates needs.
//!
//! Differences are always **second − first**: how the second target differs from the first.
//! Left out: continuity-corrected variants and exact (Clopper–Pearson) intervals; Wilson-based
//! intervals are the ones with close-to-nominal coverage at the sizes sessions have.

use super::distribution::{binomial_probabilities, cumulative, normal_quantile, survival};
use super::{Estimate, Interval, Result, StatsError, check_confidence, check_finite, critical_value};

/// The Wilson score interval for a proportion `successes / total` (statsmodels
/// `proportion_confint(count, nobs, alpha, method="wilson")`), clamped to [0, 1] against
/// rounding. Errors when `total` is 0 or smaller than `successes`.
pub fn wilson_interval(successes: u64, total: u64, confidence: f64) -> Result<Interval> {
    check_counts(successes, total)?;
    let z = critical_value(confidence)?;
    Ok(wilson_with(successes as f64, total as f64, z))
}

/// The Wilson score interval for a rate whose count need not be whole: a win rate that counts a
/// tie as half a win (statsmodels `proportion_confint` accepts such counts and gives the same
/// numbers). Errors when a count is not finite, `total` is not positive or `successes` is
/// outside `[0, total]`.
pub fn wilson_interval_fractional(successes: f64, total: f64, confidence: f64) -> Result<Interval> {
    check_finite(&[successes, total])?;
    if total <= 0.0 {
        return Err(StatsError::TooFewValues { got: 0, needed: 1 });
    }
    if !(0.0..=total).contains(&successes) {
        return Err(StatsError::InvalidArgument(format!(
            "{successes} successes out of {total}"
        )));
    }
    let z = critical_value(confidence)?;
    Ok(wilson_with(successes, total, z))
}

fn wilson_with(successes: f64, n: f64, z: f64) -> Interval {
    let rate = successes / n;
    let z_squared = z * z;
    let denominator = 1.0 + z_squared / n;
    let center = (rate + z_squared / (2.0 * n)) / denominator;
    let half = z * (rate * (1.0 - rate) / n + z_squared / (4.0 * n * n)).sqrt() / denominator;
    // The interval always holds the rate (at 0/n and n/n it ends exactly there); rounding in
    // `center ± half` could leave it a hair outside.
    Interval {
        lower: (center - half).max(0.0).min(rate),
        upper: (center + half).min(1.0).max(rate),
    }
}

fn check_counts(successes: u64, total: u64) -> Result<()> {
    if total == 0 {
        return Err(StatsError::TooFewValues { got: 0, needed: 1 });
    }
    if successes > total {
        return Err(StatsError::InvalidArgument(format!(
            "{successes} successes out of {total}"
        )));
    }
    Ok(())
}

/// The difference of two independent proportions, second − first, with Newcombe's hybrid score
/// interval (Newcombe 1998, method 10; statsmodels `confint_proportions_2indep(count1, nobs1,
/// count2, nobs2, method="newcomb", compare="diff")` with 1 = second, 2 = first).
///
/// Use it when the two rates come from different units (a test that ran on one target only).
pub fn proportion_difference(
    first_successes: u64,
    first_total: u64,
    second_successes: u64,
    second_total: u64,
    confidence: f64,
) -> Result<Estimate> {
    check_counts(first_successes, first_total)?;
    check_counts(second_successes, second_total)?;
    let z = critical_value(confidence)?;
    let first = first_successes as f64 / first_total as f64;
    let second = second_successes as f64 / second_total as f64;
    let first_interval = wilson_with(first_successes as f64, first_total as f64, z);
    let second_interval = wilson_with(second_successes as f64, second_total as f64, z);
    let difference = second - first;
    let below = ((second - second_interval.lower).powi(2) + (first_interval.upper - first).powi(2)).sqrt();
    let above = ((second_interval.upper - second).powi(2) + (first - first_interval.lower).powi(2)).sqrt();
    Ok(Estimate {
        value: difference,
        interval: Interval {
            lower: difference - below,
            upper: difference + above,
        },
    })
}

/// Paired binary outcomes: for every pair (test, repeat) that ran on both targets, whether each
/// side succeeded (passed, or erred, depending on the rate).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PairedTable {
    /// Pairs where both succeeded.
    pub both: u64,
    /// Pairs where only the first succeeded.
    pub first_only: u64,
    /// Pairs where only the second succeeded.
    pub second_only: u64,
    /// Pairs where neither succeeded.
    pub neither: u64,
}

impl PairedTable {
    /// Counts the table from per-pair outcomes `(first succeeded, second succeeded)`.
    pub fn from_pairs(pairs: impl IntoIterator<Item = (bool, bool)>) -> Self {
        let mut table = Self::default();
        for pair in pairs {
            match pair {
                (true, true) => table.both += 1,
                (true, false) => table.first_only += 1,
                (false, true) => table.second_only += 1,
                (false, false) => table.neither += 1,
            }
        }
        table
    }

    /// The number of pairs.
    pub fn total(&self) -> u64 {
        self.both + self.first_only + self.second_only + self.neither
    }

    /// The first target's success rate.
    pub fn first_rate(&self) -> f64 {
        (self.both + self.first_only) as f64 / self.total() as f64
    }

    /// The second target's success rate.
    pub fn second_rate(&self) -> f64 {
        (self.both + self.second_only) as f64 / self.total() as f64
    }
}

/// The difference of two paired proportions, second − first, with Newcombe's square-and-add
/// interval for paired data (Newcombe 1998, Statistics in Medicine 17:2635, method 10: Wilson
/// intervals for both margins combined with the continuity-corrected φ correlation; as in
/// Fagerland, Lydersen & Laake, *Statistical Analysis of Contingency Tables*, ch. 8, and their R
/// package `contingencytables::Newcombe_square_and_add_CI_paired_2x2`).
///
/// Use it for error and pass rates of two targets over the pairs (test, repeat) where both ran:
/// the pairing removes the test-to-test variation an independent interval would carry.
pub fn paired_proportion_difference(table: PairedTable, confidence: f64) -> Result<Estimate> {
    let total = table.total();
    if total == 0 {
        return Err(StatsError::TooFewValues { got: 0, needed: 1 });
    }
    let z = critical_value(confidence)?;
    let first_successes = table.both + table.first_only;
    let second_successes = table.both + table.second_only;
    let first = table.first_rate();
    let second = table.second_rate();
    let first_interval = wilson_with(first_successes as f64, total as f64, z);
    let second_interval = wilson_with(second_successes as f64, total as f64, z);
    let correlation = corrected_phi(table);
    let difference = second - first;
    // The same square-and-add as the independent case, minus the covariance term 2φ·d₁·d₂.
    let combine = |from_second: f64, from_first: f64| {
        (from_second.powi(2) + from_first.powi(2) - 2.0 * correlation * from_second * from_first)
            .max(0.0)
            .sqrt()
    };
    let below = combine(second - second_interval.lower, first_interval.upper - first);
    let above = combine(second_interval.upper - second, first - first_interval.lower);
    Ok(Estimate {
        value: difference,
        interval: Interval {
            lower: difference - below,
            upper: difference + above,
        },
    })
}

/// Newcombe's φ: the correlation of the two margins, with (ad − bc) shrunk by n/2 towards zero
/// when positive (a continuity correction), zero when a margin is empty.
fn corrected_phi(table: PairedTable) -> f64 {
    let total = table.total() as f64;
    let (a, b, c, d) = (
        table.both as f64,
        table.first_only as f64,
        table.second_only as f64,
        table.neither as f64,
    );
    let margins = (a + b) * (c + d) * (a + c) * (b + d);
    if margins == 0.0 {
        return 0.0;
    }
    let cross = a * d - b * c;
    let corrected = if cross > total / 2.0 {
        cross - total / 2.0
    } else if cross >= 0.0 {
        0.0
    } else {
        cross
    };
    corrected / margins.sqrt()
}

/// The exact two-sided McNemar test on the discordant pairs: `first_only` pairs where only the
/// first target succeeded and `second_only` where only the second did. Under no difference each
/// discordant pair is a fair coin, so p = 2·P(Binomial(b + c, ½) ≤ min(b, c)), capped at 1
/// (statsmodels `mcnemar(table, exact=True)`). 1 when there are no discordant pairs.
pub fn exact_mcnemar(first_only: u64, second_only: u64) -> f64 {
    let discordant = first_only + second_only;
    if discordant == 0 {
        return 1.0;
    }
    let smaller = first_only.min(second_only) as usize;
    let lower_tail = cumulative(&binomial_probabilities(discordant, 0.5))[smaller];
    (2.0 * lower_tail).min(1.0)
}

/// The one-sided exact binomial test of "the success probability is above `probability`":
/// P(X ≥ `successes`) for X ~ Binomial(`trials`, `probability`) (scipy `binomtest(k, n, p,
/// alternative="greater")`), summed from the right so small p-values stay accurate. 1 when there
/// are no trials.
pub(crate) fn binomial_test_greater(successes: u64, trials: u64, probability: f64) -> f64 {
    if trials == 0 || successes == 0 {
        return 1.0;
    }
    if successes > trials {
        return 0.0;
    }
    let probabilities = binomial_probabilities(trials, probability.clamp(0.0, 1.0));
    let at_least = survival(&probabilities)[successes as usize - 1];
    at_least.min(1.0)
}

/// The number of pairs (or of samples per target) needed to decide about two rates `first` and
/// `second` against an absolute `margin` with a two-sided `confidence` and the given `power`
/// (Chow, Shao & Wang, *Sample Size Calculations in Clinical Research*, §4.2):
///
/// - when |second − first| < margin (deciding *equivalent*): n = (z₁₋α + z₁₋β)² · v / (margin −
///   |δ|)², with z₁₋β/₂ instead of z₁₋β when δ = 0;
/// - otherwise (deciding *better* or *worse* by more than the margin): n = (z₁₋α + z₁₋β)² · v /
///   (|δ| − margin)²;
///
/// where v = p₁(1 − p₁) + p₂(1 − p₂) and α = (1 − confidence)/2, the one-sided level the
/// two-sided interval leaves on each side. `None` when |δ| equals the margin (no size decides).
pub fn needed_pairs_for_proportions(
    first: f64,
    second: f64,
    margin: f64,
    confidence: f64,
    power: f64,
) -> Result<Option<u64>> {
    check_confidence(confidence)?;
    check_confidence(power)?;
    let difference = (second - first).abs();
    let room = (margin - difference).abs();
    if room < 1e-12 {
        return Ok(None);
    }
    let alpha = (1.0 - confidence) / 2.0;
    let beta = 1.0 - power;
    let z_beta = if difference < margin && difference < 1e-12 {
        normal_quantile(1.0 - beta / 2.0)
    } else {
        normal_quantile(1.0 - beta)
    };
    let z_alpha = normal_quantile(1.0 - alpha);
    // A rate of exactly 0 or 1 would make the variance 0 and the answer 1; a quarter of a count
    // in 100 keeps the formula honest about rare events.
    let variance = |rate: f64| rate.clamp(0.0025, 0.9975) * (1.0 - rate.clamp(0.0025, 0.9975));
    let size = (z_alpha + z_beta).powi(2) * (variance(first) + variance(second)) / room.powi(2);
    Ok(Some(size.ceil() as u64))
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn assert_interval(actual: Interval, lower: f64, upper: f64, tolerance: f64) {
        assert!(
            (actual.lower - lower).abs() < tolerance && (actual.upper - upper).abs() < tolerance,
            "{actual:?} is not [{lower}, {upper}]"
        );
    }

    #[test]
    fn wilson_matches_statsmodels() {
        // statsmodels 0.15 proportion_confint(count, nobs, alpha=0.05, method="wilson"),
        // reference/reference.py "wilson".
        for (successes, total, lower, upper) in REFERENCE_WILSON {
            assert_interval(
                wilson_interval(*successes, *total, 0.95).expect("valid"),
                *lower,
                *upper,
                1e-12,
            );
        }
        assert!(wilson_interval(1, 0, 0.95).is_err());
        assert!(wilson_interval(3, 2, 0.95).is_err());
        assert!(wilson_interval(1, 2, 1.0).is_err());
    }

    #[test]
    fn independent_difference_matches_statsmodels_newcomb() {
        // statsmodels 0.15 confint_proportions_2indep(second, n2, first, n1, method="newcomb").
        for (first, first_total, second, second_total, lower, upper) in REFERENCE_NEWCOMBE {
            let estimate = proportion_difference(*first, *first_total, *second, *second_total, 0.95).expect("valid");
            let expected = *second as f64 / *second_total as f64 - *first as f64 / *first_total as f64;
            assert!((estimate.value - expected).abs() < 1e-15);
            assert_interval(estimate.interval, *lower, *upper, 1e-12);
        }
    }

    #[test]
    fn paired_difference_matches_the_published_example() {
        // Fagerland, Lydersen & Laake (2017) ch. 8, Cavo et al. (2012): table [[59, 6], [16, 80]];
        // their package prints "estimate = -0.0621 (95% CI -0.1186 to -0.0046)" for first −
        // second; here the difference is second − first, so the signs turn round.
        let table = PairedTable {
            both: 59,
            first_only: 6,
            second_only: 16,
            neither: 80,
        };
        let estimate = paired_proportion_difference(table, 0.95).expect("valid");
        assert!((estimate.value - 0.0621).abs() < 5e-5);
        assert_interval(estimate.interval, 0.0046, 0.1186, 5e-5);
    }

    #[test]
    fn paired_difference_matches_the_reference_port() {
        // reference/reference.py "paired newcombe": the same formula in numpy with statsmodels'
        // Wilson margins, on tables with φ above n/2, within it, negative and degenerate.
        for (both, first_only, second_only, neither, lower, upper) in REFERENCE_PAIRED {
            let table = PairedTable {
                both: *both,
                first_only: *first_only,
                second_only: *second_only,
                neither: *neither,
            };
            assert_interval(
                paired_proportion_difference(table, 0.95).expect("valid").interval,
                *lower,
                *upper,
                1e-12,
            );
        }
    }

    #[test]
    fn exact_mcnemar_matches_statsmodels() {
        // statsmodels 0.15 mcnemar([[a, b], [c, d]], exact=True).pvalue.
        for (first_only, second_only, expected) in REFERENCE_MCNEMAR {
            let actual = exact_mcnemar(*first_only, *second_only);
            assert!(
                (actual - expected).abs() <= 1e-9 * expected,
                "{first_only}/{second_only}: {actual}"
            );
        }
        assert_eq!(exact_mcnemar(0, 0), 1.0);
    }

    #[test]
    fn sample_size_follows_chow_shao_wang() {
        // Equivalence, δ = 0, margin 3 points, p = 0.8, 95% two-sided (z = 1.96), power 80%
        // (z₀.₉ = 1.2816): ⌈(1.96 + 1.2816)² · 0.32 / 0.03²⌉ = 3736 (reference.py "sample size").
        let size = needed_pairs_for_proportions(0.8, 0.8, 0.03, 0.95, 0.8).expect("valid");
        assert_eq!(size, Some(3736));
        // Beyond the margin: δ = 0.08, margin 0.03: ⌈(1.96 + 0.8416)² · (0.16 + 0.2016) / 0.05²⌉.
        let size = needed_pairs_for_proportions(0.8, 0.72, 0.03, 0.95, 0.8).expect("valid");
        assert_eq!(size, Some(1136));
        assert_eq!(
            needed_pairs_for_proportions(0.8, 0.83, 0.03, 0.95, 0.8).expect("valid"),
            None
        );
    }

    #[test]
    fn fractional_wilson_matches_statsmodels() {
        // statsmodels 0.15 proportion_confint(count, nobs, alpha=0.05, method="wilson") with
        // counts that count ties as halves, reference/panels.py.
        for (successes, total, lower, upper) in WILSON_FRACTIONAL {
            let interval = wilson_interval_fractional(*successes, *total, 0.95).expect("valid");
            assert_interval(interval, *lower, *upper, 1e-12);
        }
        // Whole counts give exactly the whole-count interval.
        assert_eq!(
            wilson_interval_fractional(37.0, 1000.0, 0.95),
            wilson_interval(37, 1000, 0.95)
        );
        for (successes, total) in [
            (1.0, 0.0),
            (-0.5, 3.0),
            (3.5, 3.0),
            (f64::NAN, 3.0),
            (1.0, f64::INFINITY),
        ] {
            assert!(
                wilson_interval_fractional(successes, total, 0.95).is_err(),
                "{successes}/{total}"
            );
        }
        assert!(wilson_interval_fractional(1.0, 2.0, 0.0).is_err());
    }

    #[test]
    fn one_sided_binomial_test_matches_scipy() {
        // scipy 1.17 binomtest(k, n, p, alternative="greater").pvalue, reference/panels.py.
        for (successes, trials, probability, greater, _) in BINOMIAL_TESTS {
            let actual = binomial_test_greater(*successes, *trials, *probability);
            assert!(
                (actual - greater).abs() <= 1e-9 * greater,
                "{successes}/{trials} at {probability}: {actual}"
            );
        }
        assert_eq!(binomial_test_greater(0, 0, 0.3), 1.0);
        assert_eq!(binomial_test_greater(3, 2, 0.3), 0.0);
    }

    #[test]
    fn wilson_ends_exactly_at_an_all_or_nothing_rate() {
        // Found by the property below in CI: 10/10 came out a rounding error under 1.
        for total in [1, 7, 10, 70, 4_999] {
            assert_eq!(wilson_interval(total, total, 0.95).expect("valid").upper, 1.0);
            assert_eq!(wilson_interval(0, total, 0.95).expect("valid").lower, 0.0);
        }
    }

    proptest! {
        #[test]
        fn wilson_contains_the_rate_and_stays_in_the_unit_interval(total in 1u64..5_000, share in 0.0f64..=1.0) {
            let successes = (share * total as f64).round() as u64;
            let interval = wilson_interval(successes, total, 0.95).expect("valid");
            prop_assert!(0.0 <= interval.lower && interval.upper <= 1.0);
            prop_assert!(interval.contains(successes as f64 / total as f64));
        }

        #[test]
        fn differences_contain_their_estimate(
            both in 0u64..300, first_only in 0u64..300, second_only in 0u64..300, neither in 0u64..300,
        ) {
            let table = PairedTable { both, first_only, second_only, neither };
            prop_assume!(table.total() > 0);
            let paired = paired_proportion_difference(table, 0.95).expect("valid");
            prop_assert!(paired.interval.contains(paired.value));
            prop_assert!(-1.0 - 1e-12 <= paired.interval.lower && paired.interval.upper <= 1.0 + 1e-12);
            let total = table.total();
            let independent = proportion_difference(both + first_only, total, both + second_only, total, 0.95)
                .expect("valid");
            prop_assert!(independent.interval.contains(independent.value));
        }

        #[test]
        fn mcnemar_is_a_probability_and_symmetric(first_only in 0u64..2_000, second_only in 0u64..2_000) {
            let p = exact_mcnemar(first_only, second_only);
            prop_assert!((0.0..=1.0).contains(&p));
            prop_assert_eq!(p, exact_mcnemar(second_only, first_only));
        }
    }

    include!("reference/proportion_values.rs");
    include!("reference/panel_proportion_values.rs");
}
