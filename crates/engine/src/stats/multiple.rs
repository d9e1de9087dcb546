//! The Holm–Bonferroni adjustment across a session's comparisons.
//!
//! A session makes many comparisons (every metric of every target pair); at 5% each, some would
//! come out "different" by chance alone. Holm's step-down adjustment controls the family-wise
//! error rate like Bonferroni but rejects more. Left out: false-discovery-rate procedures, which
//! allow some false claims, and a report should not make any it can avoid.

/// Holm-adjusted p-values, in the order given (statsmodels `multipletests(p, method="holm")[1]`):
/// sort ascending, multiply the i-th smallest (from 0) by m − i, carry the running maximum so the
/// adjusted values keep the raw order, cap at 1. NaN stays NaN and does not count towards m.
pub fn holm_adjust(p_values: &[f64]) -> Vec<f64> {
    let mut order: Vec<usize> = (0..p_values.len()).filter(|&index| !p_values[index].is_nan()).collect();
    order.sort_by(|&a, &b| p_values[a].total_cmp(&p_values[b]));
    let count = order.len();
    let mut adjusted = vec![f64::NAN; p_values.len()];
    let mut running = 0.0_f64;
    for (position, &index) in order.iter().enumerate() {
        running = running.max((p_values[index] * (count - position) as f64).min(1.0));
        adjusted[index] = running;
    }
    adjusted
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn matches_statsmodels_holm() {
        // statsmodels 0.15 multipletests(p, method="holm")[1], reference/reference.py "holm".
        let raw = [0.01, 0.04, 0.03, 0.005, 0.2, 0.04];
        let adjusted = holm_adjust(&raw);
        for (actual, expected) in adjusted.iter().zip(REFERENCE_HOLM) {
            assert!((actual - expected).abs() < 1e-15, "{adjusted:?}");
        }
        assert!(holm_adjust(&[]).is_empty());
        let with_missing = holm_adjust(&[0.01, f64::NAN, 0.02]);
        assert!(with_missing[1].is_nan());
        assert_eq!((with_missing[0], with_missing[2]), (0.02, 0.02));
    }

    proptest! {
        #[test]
        fn adjusted_is_at_least_raw_monotone_and_capped(raw in prop::collection::vec(0.0f64..=1.0, 1..60)) {
            let adjusted = holm_adjust(&raw);
            for (index, (&p, &q)) in raw.iter().zip(&adjusted).enumerate() {
                prop_assert!(q >= p && q <= 1.0);
                for (other, &r) in raw.iter().enumerate() {
                    if r < p {
                        prop_assert!(adjusted[other] <= q, "order broken at {index}");
                    }
                }
            }
        }
    }

    include!("reference/holm_values.rs");
}
