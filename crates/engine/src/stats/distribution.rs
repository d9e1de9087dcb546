//! The distributions the tests need: the standard normal (CDF and quantile) and the binomial
//! (its whole probability table, for exact tails and order-statistic intervals).
//!
//! Accuracy comes from `libm`'s `erfc` and `lgamma` (ports of the C library's, correct to about
//! one unit in the last place); the normal quantile is found by bisection on that CDF, which costs
//! a few microseconds and needs no approximation constants. Left out: every other distribution.

/// The standard normal cumulative distribution function, accurate in both tails (it uses `erfc`,
/// so `normal_cdf(-10.0)` is 7.6e-24, not 0).
pub fn normal_cdf(x: f64) -> f64 {
    0.5 * libm::erfc(-x / std::f64::consts::SQRT_2)
}

/// The standard normal upper tail, `1 - normal_cdf(x)` without cancellation.
pub(crate) fn normal_upper_tail(x: f64) -> f64 {
    0.5 * libm::erfc(x / std::f64::consts::SQRT_2)
}

/// The standard normal quantile (inverse CDF) of `probability`; −∞ at 0, +∞ at 1, NaN outside.
///
/// Bisection on the CDF (the lower tail for p < 0.5, the upper one otherwise, so both tails keep
/// full relative precision) until the bracket stops shrinking: exact to the last bit or two.
pub fn normal_quantile(probability: f64) -> f64 {
    if probability.is_nan() || !(0.0..=1.0).contains(&probability) {
        return f64::NAN;
    }
    if probability == 0.0 {
        return f64::NEG_INFINITY;
    }
    if probability == 1.0 {
        return f64::INFINITY;
    }
    if probability > 0.5 {
        return -lower_tail_quantile(1.0 - probability);
    }
    lower_tail_quantile(probability)
}

/// The x ≤ 0 with `normal_cdf(x) == probability`, for probability in (0, 0.5].
fn lower_tail_quantile(probability: f64) -> f64 {
    // normal_cdf(-40) is about 1e-350, below the smallest f64, so the root lies in [-40, 0].
    let (mut low, mut high) = (-40.0_f64, 0.0_f64);
    loop {
        let middle = 0.5 * (low + high);
        if middle <= low || middle >= high {
            return middle;
        }
        if normal_cdf(middle) < probability {
            low = middle;
        } else {
            high = middle;
        }
    }
}

/// The natural logarithm of the binomial coefficient C(n, k).
pub(crate) fn ln_choose(n: u64, k: u64) -> f64 {
    let n = n as f64;
    let k = k as f64;
    libm::lgamma(n + 1.0) - libm::lgamma(k + 1.0) - libm::lgamma(n - k + 1.0)
}

/// The probabilities P(X = k) for k in 0..=n of X ~ Binomial(n, p).
///
/// Computed outward from the mode with the ratio P(k+1)/P(k) = (n−k)/(k+1) · p/(1−p), starting
/// from the mode's probability in logarithms, so neither tail underflows before it matters and a
/// table for n = 100,000 costs well under a millisecond.
pub(crate) fn binomial_probabilities(n: u64, p: f64) -> Vec<f64> {
    let size = n as usize + 1;
    if p <= 0.0 {
        let mut table = vec![0.0; size];
        table[0] = 1.0;
        return table;
    }
    if p >= 1.0 {
        let mut table = vec![0.0; size];
        table[n as usize] = 1.0;
        return table;
    }
    let mode = (((n + 1) as f64) * p).floor().min(n as f64) as u64;
    let ln_mode = ln_choose(n, mode) + mode as f64 * p.ln() + (n - mode) as f64 * (-p).ln_1p();
    let odds = p / (1.0 - p);
    let mut table = vec![0.0; size];
    table[mode as usize] = ln_mode.exp();
    for k in mode..n {
        let ratio = (n - k) as f64 / (k + 1) as f64 * odds;
        table[k as usize + 1] = table[k as usize] * ratio;
    }
    for k in (1..=mode).rev() {
        let ratio = k as f64 / (n - k + 1) as f64 / odds;
        table[k as usize - 1] = table[k as usize] * ratio;
    }
    table
}

/// P(X ≤ k) for each k, summed from the left (accurate in the lower tail).
pub(crate) fn cumulative(probabilities: &[f64]) -> Vec<f64> {
    let mut total = 0.0;
    probabilities
        .iter()
        .map(|probability| {
            total += probability;
            total
        })
        .collect()
}

/// P(X > k) for each k, summed from the right (accurate in the upper tail).
pub(crate) fn survival(probabilities: &[f64]) -> Vec<f64> {
    let mut result = vec![0.0; probabilities.len()];
    let mut total = 0.0;
    for k in (0..probabilities.len()).rev() {
        result[k] = total;
        total += probabilities[k];
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(actual: f64, expected: f64, relative: f64) -> bool {
        (actual - expected).abs() <= relative * expected.abs().max(f64::MIN_POSITIVE)
    }

    #[test]
    fn normal_cdf_matches_scipy() {
        // scipy 1.17 scipy.stats.norm.cdf, printed by reference/reference.py ("normal").
        for (x, expected) in [
            (0.0, 0.5),
            (1.0, 0.8413447460685429),
            (-1.959963984540054, 0.025),
            (-10.0, 7.61985302416047e-24),
            (3.5, 0.9997673709209645),
        ] {
            assert!(close(normal_cdf(x), expected, 1e-13), "cdf({x}) = {}", normal_cdf(x));
        }
    }

    #[test]
    fn normal_quantile_matches_scipy() {
        // scipy 1.17 scipy.stats.norm.ppf.
        for (p, expected) in [
            (0.975, 1.959963984540054),
            (0.5, 0.0),
            (0.995, 2.5758293035489004),
            (1e-10, -6.361340902404056),
            (0.8, 0.8416212335729143),
        ] {
            let actual = normal_quantile(p);
            assert!(
                (actual - expected).abs() <= 1e-13 * expected.abs().max(1.0),
                "ppf({p}) = {actual}"
            );
        }
        assert_eq!(normal_quantile(0.0), f64::NEG_INFINITY);
        assert!(normal_quantile(1.5).is_nan());
    }

    #[test]
    fn binomial_table_sums_to_one_and_matches_scipy() {
        let table = binomial_probabilities(30_000, 0.95);
        let total: f64 = table.iter().sum();
        assert!((total - 1.0).abs() < 1e-10);
        // scipy 1.17 scipy.stats.binom.pmf(28500, 30000, 0.95) and binom.cdf(28400, 30000, 0.95).
        assert!(close(table[28_500], 0.010567650526800535, 1e-9));
        assert!(close(cumulative(&table)[28_400], 0.004489070184567908, 1e-9));
        let small = binomial_probabilities(10, 0.5);
        assert!(close(small[0], 1.0 / 1024.0, 1e-14));
        assert!(close(survival(&small)[7], 56.0 / 1024.0, 1e-14));
    }
}
