//! Coverage checks: simulate samples from known distributions with a fixed seed and count how
//! often each 95% interval contains the true value. Of 200 replicates about 190 should; the
//! accepted band (180 to 198, i.e. 90% to 99%) is about ±3 binomial standard deviations, and the
//! seed makes each check deterministic. Sizes are small so the whole file runs in a second or two
//! in a debug build.

use super::random::SeededRandom;
use super::*;

const REPLICATES: usize = 200;

/// A uniform draw in (0, 1) with 30 bits, plenty for these checks.
fn uniform(random: &mut SeededRandom) -> f64 {
    (f64::from(random.index(1 << 30)) + 0.5) / f64::from(1u32 << 30)
}

fn exponential(random: &mut SeededRandom, mean: f64) -> f64 {
    -mean * uniform(random).ln()
}

fn assert_covers(name: &str, covered: usize) {
    assert!(
        (180..=198).contains(&covered),
        "{name}: {covered} of {REPLICATES} intervals covered the truth"
    );
}

#[test]
fn wilson_interval_covers_the_rate() {
    let mut random = SeededRandom::new(101);
    let covered = (0..REPLICATES)
        .filter(|_| {
            let successes = (0..300).filter(|_| uniform(&mut random) < 0.1).count() as u64;
            wilson_interval(successes, 300, 0.95).expect("valid").contains(0.1)
        })
        .count();
    assert_covers("wilson", covered);
}

#[test]
fn paired_proportion_interval_covers_the_difference() {
    // Correlated pairs: the first succeeds with 0.8; the second copies it 85% of the time, else
    // succeeds with 0.5. Second rate = 0.85·0.8 + 0.15·0.5 = 0.755, difference −0.045.
    let mut random = SeededRandom::new(102);
    let covered = (0..REPLICATES)
        .filter(|_| {
            let table = PairedTable::from_pairs((0..400).map(|_| {
                let first = uniform(&mut random) < 0.8;
                let second = if uniform(&mut random) < 0.85 {
                    first
                } else {
                    uniform(&mut random) < 0.5
                };
                (first, second)
            }));
            paired_proportion_difference(table, 0.95)
                .expect("valid")
                .interval
                .contains(-0.045)
        })
        .count();
    assert_covers("paired newcombe", covered);
}

#[test]
fn quantile_intervals_cover_the_median() {
    // Exponential with mean 1: the median is ln 2.
    let truth = std::f64::consts::LN_2;
    let mut random = SeededRandom::new(103);
    let (mut by_order, mut by_bootstrap) = (0, 0);
    for replicate in 0..REPLICATES {
        let mut sample: Vec<f64> = (0..200).map(|_| exponential(&mut random, 1.0)).collect();
        let settings = BootstrapSettings {
            resamples: 400,
            confidence: 0.95,
            seed: replicate as u64,
        };
        let bootstrap = bootstrap_quantile_intervals(&sample, &[0.5], &settings).expect("valid");
        by_bootstrap += usize::from(bootstrap[0].interval.contains(truth));
        sample.sort_unstable_by(f64::total_cmp);
        let interval = order_statistic_interval(&sample, 0.5, 0.95)
            .expect("valid")
            .expect("n = 200");
        by_order += usize::from(interval.contains(truth));
    }
    assert_covers("bootstrap median", by_bootstrap);
    assert_covers("order-statistic median", by_order);
}

#[test]
fn paired_bootstrap_covers_the_difference_of_p90() {
    // First Exp(mean 1), second Exp(mean 1.2), independent within a pair: the p90 are ln 10 and
    // 1.2 ln 10, the difference 0.2 ln 10 and the relative difference exactly 0.2.
    let truth = 0.2 * std::f64::consts::LN_10;
    let mut random = SeededRandom::new(104);
    let (mut absolute, mut relative) = (0, 0);
    for replicate in 0..REPLICATES {
        let first: Vec<f64> = (0..300).map(|_| exponential(&mut random, 1.0)).collect();
        let second: Vec<f64> = (0..300).map(|_| exponential(&mut random, 1.2)).collect();
        let settings = BootstrapSettings {
            resamples: 400,
            confidence: 0.95,
            seed: replicate as u64,
        };
        let difference = &paired_quantile_differences(&first, &second, &[0.9], &settings).expect("valid")[0];
        absolute += usize::from(difference.difference.interval.contains(truth));
        relative += usize::from(difference.relative_difference.expect("positive").interval.contains(0.2));
    }
    assert_covers("paired p90 difference", absolute);
    assert_covers("paired p90 relative difference", relative);
}
