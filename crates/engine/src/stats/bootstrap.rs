//! Seeded bootstrap percentile intervals for quantiles: of one sample, and of the difference
//! between two paired samples (absolute, and relative to the first).
//!
//! A resample draws n pair indices with replacement (the same indices for both sides, which is
//! what keeps the pairing), computes each requested quantile of each side, and the interval is
//! the (α/2, 1 − α/2) percentile of those replicates (numpy's linear percentile, as scipy's
//! `bootstrap(method="percentile")`).
//!
//! The cost is what matters here: a session has 30,000 pairs per target pair and wants 1,000 or
//! more resamples; drawing 30,000 indices per resample alone took seconds per session. So every
//! value is replaced once by its rank, and for each quantile only a *window* of ranks around the
//! sample quantile (±3.5 binomial standard deviations of the order statistic's rank) is looked
//! at: a resample's k-th smallest value is the count of draws below the window plus a counting
//! sort of the draws inside it. Pairs with no rank in any window are grouped into cells (below or
//! above each window, on each side); a resample needs only each cell's number of draws, a chain
//! of binomial draws, while the few pairs inside windows (about 5%) are drawn one by one. This is
//! the multinomial resample, only generated in a different order, so the replicates have exactly
//! the plain bootstrap's distribution (the tests compare the two). A resample whose order
//! statistic leaves its window (p ≈ 5·10⁻⁴) is laid out in full and computed directly.
//!
//! Left out: BCa and studentized intervals (the percentile interval is transformation-respecting
//! and adequate for quantiles at these sample sizes), and statistics other than quantiles.

use serde::{Deserialize, Serialize};

use super::quantile::{interpolate, quantile};
use super::random::SeededRandom;
use super::{Estimate, Interval, Result, StatsError, check_confidence, check_finite};

/// How a bootstrap runs. The seed is part of the result: a report stores it so it reproduces.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct BootstrapSettings {
    /// The number of resamples (B). 1,000 to 2,000 gives percentile bounds stable to a few
    /// percent of the interval's width.
    pub resamples: usize,
    /// The two-sided confidence level of the intervals, e.g. 0.95.
    pub confidence: f64,
    /// The seed of the resampling stream.
    pub seed: u64,
}

impl Default for BootstrapSettings {
    fn default() -> Self {
        Self {
            resamples: 1_000,
            confidence: 0.95,
            seed: 0,
        }
    }
}

/// One quantile of one sample with its bootstrap interval.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct QuantileEstimate {
    /// The quantile asked for, e.g. 0.95.
    pub quantile: f64,
    pub value: f64,
    pub interval: Interval,
}

/// How the second sample's quantile differs from the first's, over paired samples.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct QuantileDifference {
    /// The quantile asked for, e.g. 0.5.
    pub quantile: f64,
    /// The first sample's quantile.
    pub first: f64,
    /// The second sample's quantile.
    pub second: f64,
    /// second − first, in the samples' unit.
    pub difference: Estimate,
    /// (second − first) / first; `None` when a first quantile (observed or resampled) is not
    /// positive, where a ratio means nothing.
    pub relative_difference: Option<Estimate>,
}

/// Bootstrap percentile intervals for several quantiles of one sample, from one set of resamples.
pub fn bootstrap_quantile_intervals(
    values: &[f64],
    quantiles: &[f64],
    settings: &BootstrapSettings,
) -> Result<Vec<QuantileEstimate>> {
    check(values, quantiles, settings)?;
    let sample = Ranked::new(values);
    let replicates = resample_quantiles(&[&sample], quantiles, settings);
    quantiles
        .iter()
        .zip(&replicates[0])
        .map(|(&q, replicate)| {
            Ok(QuantileEstimate {
                quantile: q,
                value: quantile(&sample.sorted, q).unwrap_or(f64::NAN),
                interval: percentile_interval(replicate.clone(), settings.confidence),
            })
        })
        .collect()
}

/// Bootstrap percentile intervals for the difference (and relative difference) of quantiles of
/// two paired samples: `first[i]` and `second[i]` are the same pair (test, repeat) on two
/// targets. Resamples draw pairs, so both sides of a pair always travel together.
pub fn paired_quantile_differences(
    first: &[f64],
    second: &[f64],
    quantiles: &[f64],
    settings: &BootstrapSettings,
) -> Result<Vec<QuantileDifference>> {
    if first.len() != second.len() {
        return Err(StatsError::LengthMismatch {
            first: first.len(),
            second: second.len(),
        });
    }
    check(first, quantiles, settings)?;
    check_finite(second)?;
    let first_sample = Ranked::new(first);
    let second_sample = Ranked::new(second);
    let replicates = resample_quantiles(&[&first_sample, &second_sample], quantiles, settings);
    let mut result = Vec::with_capacity(quantiles.len());
    for (index, &q) in quantiles.iter().enumerate() {
        let first_value = quantile(&first_sample.sorted, q).unwrap_or(f64::NAN);
        let second_value = quantile(&second_sample.sorted, q).unwrap_or(f64::NAN);
        let (first_replicates, second_replicates) = (&replicates[0][index], &replicates[1][index]);
        let differences = first_replicates
            .iter()
            .zip(second_replicates)
            .map(|(a, b)| b - a)
            .collect();
        let relative_difference = (first_value > 0.0 && first_replicates.iter().all(|&value| value > 0.0)).then(|| {
            let ratios = first_replicates
                .iter()
                .zip(second_replicates)
                .map(|(a, b)| (b - a) / a)
                .collect();
            Estimate {
                value: (second_value - first_value) / first_value,
                interval: percentile_interval(ratios, settings.confidence),
            }
        });
        result.push(QuantileDifference {
            quantile: q,
            first: first_value,
            second: second_value,
            difference: Estimate {
                value: second_value - first_value,
                interval: percentile_interval(differences, settings.confidence),
            },
            relative_difference,
        });
    }
    Ok(result)
}

fn check(values: &[f64], quantiles: &[f64], settings: &BootstrapSettings) -> Result<()> {
    check_confidence(settings.confidence)?;
    check_finite(values)?;
    if values.len() < 2 {
        return Err(StatsError::TooFewValues {
            got: values.len(),
            needed: 2,
        });
    }
    if values.len() >= u32::MAX as usize {
        return Err(StatsError::InvalidArgument(format!(
            "{} values are more than a bootstrap takes",
            values.len()
        )));
    }
    if settings.resamples < 2 {
        return Err(StatsError::InvalidArgument(format!("{} resamples", settings.resamples)));
    }
    if let Some(bad) = quantiles.iter().find(|q| !(0.0..=1.0).contains(*q)) {
        return Err(StatsError::InvalidArgument(format!("quantile {bad} is not in [0, 1]")));
    }
    Ok(())
}

/// The (α/2, 1 − α/2) percentiles of the replicates, numpy's linear method.
pub(super) fn percentile_interval(mut replicates: Vec<f64>, confidence: f64) -> Interval {
    replicates.sort_unstable_by(f64::total_cmp);
    let tail = (1.0 - confidence) / 2.0;
    Interval {
        lower: quantile(&replicates, tail).unwrap_or(f64::NAN),
        upper: quantile(&replicates, 1.0 - tail).unwrap_or(f64::NAN),
    }
}

/// A sample as ranks: `rank[i]` is where `values[i]` sits in `sorted` (ties broken by index, so
/// ranks are a permutation and sorted[rank] is monotone in rank).
struct Ranked {
    sorted: Vec<f64>,
    rank: Vec<u32>,
}

impl Ranked {
    fn new(values: &[f64]) -> Self {
        let mut order: Vec<u32> = (0..values.len() as u32).collect();
        order.sort_unstable_by(|&a, &b| values[a as usize].total_cmp(&values[b as usize]).then(a.cmp(&b)));
        let mut rank = vec![0u32; values.len()];
        for (position, &index) in order.iter().enumerate() {
            rank[index as usize] = position as u32;
        }
        let sorted = order.iter().map(|&index| values[index as usize]).collect();
        Self { sorted, rank }
    }
}

/// How many binomial standard deviations of rank a window reaches either side of its order
/// statistic. At 3.5 a resample leaves a window with probability 5·10⁻⁴ (it is then computed in
/// full, ~0.3 ms); wider windows only add draws that must be looked at one by one.
const REACH: f64 = 3.5;

/// Where one quantile's order statistics k and k + 1 are expected, in ranks.
struct Window {
    /// The lower order statistic's 0-based position, ⌊(n − 1)q⌋.
    order: usize,
    fraction: f64,
    /// Ranks in `low..low + width` are looked at one by one; ranks below `low` are only counted.
    low: u32,
    width: u32,
}

impl Window {
    fn new(count: usize, q: f64, reach: f64) -> Self {
        let position = (count - 1) as f64 * q;
        let order = position.floor() as usize;
        // The number of draws below rank r is Binomial(n, r/n): its sd at the quantile bounds how
        // far a resample's order statistic wanders.
        let spread = (count as f64 * q * (1.0 - q)).sqrt();
        let extent = (reach * spread).ceil() as usize + 2;
        let low = order.saturating_sub(extent);
        let high = (order + 1 + extent + 1).min(count);
        Self {
            order,
            fraction: position - order as f64,
            low: low as u32,
            width: (high - low) as u32,
        }
    }

    fn contains(&self, rank: u32) -> bool {
        rank.wrapping_sub(self.low) < self.width
    }
}

/// The pairs grouped for resampling. A resample is a multinomial draw of n pairs; only pairs
/// with a rank inside some window (the *special* ones) need to be drawn one by one. Every other
/// pair is, on each side and for each window, wholly below or wholly above it, so pairs alike in
/// that respect form a *cell*, and a resample needs only how many draws fell in each cell:
/// conditional binomial draws, a few dozen of them instead of n index draws.
struct Layout {
    count: usize,
    windows: Vec<Window>,
    special: Vec<u32>,
    cells: Vec<Cell>,
}

struct Cell {
    members: Vec<u32>,
    /// For each sample and window (`sample * windows + window`): are the cell's ranks below it?
    below: Vec<bool>,
}

impl Layout {
    fn new(samples: &[&Ranked], quantiles: &[f64], reach: f64) -> Self {
        let count = samples[0].rank.len();
        let windows: Vec<Window> = quantiles.iter().map(|&q| Window::new(count, q, reach)).collect();
        let mut special = Vec::new();
        let mut cells: Vec<Cell> = Vec::new();
        let mut key = Vec::with_capacity(samples.len() * windows.len());
        for index in 0..count as u32 {
            let ranks = samples.iter().map(|sample| sample.rank[index as usize]);
            if ranks
                .clone()
                .any(|rank| windows.iter().any(|window| window.contains(rank)))
            {
                special.push(index);
                continue;
            }
            key.clear();
            key.extend(ranks.flat_map(|rank| windows.iter().map(move |window| rank < window.low)));
            match cells.iter_mut().find(|cell| cell.below == key) {
                Some(cell) => cell.members.push(index),
                None => cells.push(Cell {
                    members: vec![index],
                    below: key.clone(),
                }),
            }
        }
        Self {
            count,
            windows,
            special,
            cells,
        }
    }
}

/// For each sample and quantile, the B resampled quantiles: `result[sample][quantile][b]`.
/// All samples share each resample's draws (they are paired).
fn resample_quantiles(samples: &[&Ranked], quantiles: &[f64], settings: &BootstrapSettings) -> Vec<Vec<Vec<f64>>> {
    resample_quantiles_with_reach(samples, quantiles, settings, REACH)
}

fn resample_quantiles_with_reach(
    samples: &[&Ranked],
    quantiles: &[f64],
    settings: &BootstrapSettings,
    reach: f64,
) -> Vec<Vec<Vec<f64>>> {
    let layout = Layout::new(samples, quantiles, reach);
    let window_count = layout.windows.len();
    let slots = samples.len() * window_count;
    let mut result = vec![vec![Vec::with_capacity(settings.resamples); window_count]; samples.len()];
    let mut random = SeededRandom::new(settings.seed);
    let mut below = vec![0usize; slots];
    // Per sample and window, how many draws hit each rank of the window: a counting sort, so
    // finding the k-th is a scan of the window instead of a selection among the draws.
    let mut hits: Vec<Vec<u32>> = (0..slots)
        .map(|slot| vec![0u32; layout.windows[slot % window_count].width as usize])
        .collect();
    let mut picks: Vec<u32> = Vec::with_capacity(layout.special.len() * 2);
    let mut cell_counts = vec![0u64; layout.cells.len()];
    let total = layout.count as u64;
    for _ in 0..settings.resamples {
        below.fill(0);
        hits.iter_mut().for_each(|counts| counts.fill(0));
        // How many of the n draws are special; the rest spread over the cells.
        let special_draws = random.binomial(total, layout.special.len() as f64 / layout.count as f64);
        let mut remaining_draws = total - special_draws;
        let mut remaining_size = (layout.count - layout.special.len()) as u64;
        for (cell, cell_count) in layout.cells.iter().zip(cell_counts.iter_mut()) {
            let size = cell.members.len() as u64;
            *cell_count = if size == remaining_size {
                remaining_draws
            } else {
                random.binomial(remaining_draws, size as f64 / remaining_size as f64)
            };
            remaining_draws -= *cell_count;
            remaining_size -= size;
            for (slot, &is_below) in cell.below.iter().enumerate() {
                if is_below {
                    below[slot] += *cell_count as usize;
                }
            }
        }
        picks.clear();
        for _ in 0..special_draws {
            picks.push(layout.special[random.index(layout.special.len() as u32) as usize]);
        }
        for (sample_number, sample) in samples.iter().enumerate() {
            let base = sample_number * window_count;
            for &index in &picks {
                let rank = sample.rank[index as usize];
                for (offset, window) in layout.windows.iter().enumerate() {
                    let inside = rank.wrapping_sub(window.low);
                    if inside < window.width {
                        hits[base + offset][inside as usize] += 1;
                    } else if rank < window.low {
                        below[base + offset] += 1;
                    }
                }
            }
        }
        for (sample_number, (sample, replicates)) in samples.iter().zip(result.iter_mut()).enumerate() {
            for (offset, (window, replicates)) in layout.windows.iter().zip(replicates.iter_mut()).enumerate() {
                let slot = sample_number * window_count + offset;
                let (lower, upper) =
                    order_statistics_in_window(window, below[slot], &hits[slot]).unwrap_or_else(|| {
                        let mut ranks = materialize(&layout, sample, &picks, &cell_counts, &mut random);
                        order_statistics(&mut ranks, window.order)
                    });
                replicates.push(interpolate(
                    sample.sorted[lower as usize],
                    sample.sorted[upper as usize],
                    window.fraction,
                ));
            }
        }
    }
    result
}

/// The whole resample's ranks on one side, for the rare resample whose order statistic left its
/// window: the special picks as drawn, and each cell's draws picked uniformly among its members
/// (which, given the cell's count, is how a multinomial resample places them).
fn materialize(
    layout: &Layout,
    sample: &Ranked,
    picks: &[u32],
    cell_counts: &[u64],
    random: &mut SeededRandom,
) -> Vec<u32> {
    let mut ranks: Vec<u32> = picks.iter().map(|&index| sample.rank[index as usize]).collect();
    for (cell, &cell_count) in layout.cells.iter().zip(cell_counts) {
        for _ in 0..cell_count {
            let index = cell.members[random.index(cell.members.len() as u32) as usize];
            ranks.push(sample.rank[index as usize]);
        }
    }
    ranks
}

/// The ranks of the resample's order statistics k and k + 1 (the k + 1-th only when the quantile
/// interpolates), if they lie inside the window; `hits[r]` counts the draws of rank `low + r`.
fn order_statistics_in_window(window: &Window, below: usize, hits: &[u32]) -> Option<(u32, u32)> {
    let position = window.order.checked_sub(below)?;
    let mut seen = 0usize;
    let mut lower = None;
    for (offset, &count) in hits.iter().enumerate() {
        seen += count as usize;
        let rank = window.low + offset as u32;
        match lower {
            None if seen > position => {
                // Without interpolation only the k-th is needed (for q = 1 there is no k + 1-th).
                if window.fraction == 0.0 || seen > position + 1 {
                    return Some((rank, rank));
                }
                lower = Some(rank);
            }
            Some(lower) if count > 0 => return Some((lower, rank)),
            _ => {}
        }
    }
    // The resample's order statistic lies above the window: the caller computes it in full.
    None
}

/// The `position`-th and the next smallest of `ranks` (the next capped at the last).
fn order_statistics(ranks: &mut [u32], position: usize) -> (u32, u32) {
    let (_, &mut lower, above) = ranks.select_nth_unstable(position);
    let upper = above.iter().copied().min().unwrap_or(lower);
    (lower, upper)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The plain paired bootstrap: draw n pair indices, gather both sides, sort, take the
    /// quantiles. `result[sample][quantile][b]`.
    fn plain_replicates(samples: &[&[f64]], quantiles: &[f64], resamples: usize, seed: u64) -> Vec<Vec<Vec<f64>>> {
        let count = samples[0].len();
        let mut random = SeededRandom::new(seed);
        let mut indices = vec![0u32; count];
        let mut result = vec![vec![Vec::new(); quantiles.len()]; samples.len()];
        for _ in 0..resamples {
            random.fill_indices(&mut indices, count as u32);
            for (values, replicates) in samples.iter().zip(result.iter_mut()) {
                let mut resample: Vec<f64> = indices.iter().map(|&index| values[index as usize]).collect();
                resample.sort_unstable_by(f64::total_cmp);
                for (&q, replicates) in quantiles.iter().zip(replicates.iter_mut()) {
                    replicates.push(quantile(&resample, q).expect("non-empty"));
                }
            }
        }
        result
    }

    /// The two-sample Kolmogorov–Smirnov distance: the largest gap between the empirical CDFs.
    fn distance(mut first: Vec<f64>, mut second: Vec<f64>) -> f64 {
        first.sort_unstable_by(f64::total_cmp);
        second.sort_unstable_by(f64::total_cmp);
        let (mut i, mut j, mut largest) = (0, 0, 0.0_f64);
        while i < first.len() && j < second.len() {
            let value = first[i].min(second[j]);
            while i < first.len() && first[i] <= value {
                i += 1;
            }
            while j < second.len() && second[j] <= value {
                j += 1;
            }
            largest = largest.max((i as f64 / first.len() as f64 - j as f64 / second.len() as f64).abs());
        }
        largest
    }

    fn skewed(count: usize, seed: u64) -> Vec<f64> {
        let mut random = SeededRandom::new(seed);
        (0..count)
            .map(|_| 100.0 + (f64::from(random.index(1 << 20)) / 1024.0).powf(1.5))
            .collect()
    }

    /// Checks the cell resampler against the plain bootstrap on paired samples: the replicates
    /// of each side and of the difference must have the same distribution. With 10,000
    /// replicates each, the KS distance of two draws from one distribution exceeds 0.0276 with
    /// probability 0.001.
    fn assert_same_distribution(first: &[f64], second: &[f64], reach: f64) {
        const RESAMPLES: usize = 10_000;
        let settings = BootstrapSettings {
            resamples: RESAMPLES,
            confidence: 0.95,
            seed: 21,
        };
        let (first_ranked, second_ranked) = (Ranked::new(first), Ranked::new(second));
        let quantiles = [0.5, 0.9, 1.0];
        let cells = resample_quantiles_with_reach(&[&first_ranked, &second_ranked], &quantiles, &settings, reach);
        let plain = plain_replicates(&[first, second], &quantiles, RESAMPLES, 22);
        let difference = |replicates: &[Vec<Vec<f64>>], index: usize| -> Vec<f64> {
            replicates[0][index]
                .iter()
                .zip(&replicates[1][index])
                .map(|(a, b)| b - a)
                .collect()
        };
        for (index, &q) in quantiles.iter().enumerate() {
            for side in 0..2 {
                let gap = distance(cells[side][index].clone(), plain[side][index].clone());
                assert!(gap < 0.0276, "q {q} side {side} reach {reach}: KS distance {gap}");
            }
            let gap = distance(difference(&cells, index), difference(&plain, index));
            assert!(gap < 0.0276, "q {q} difference reach {reach}: KS distance {gap}");
        }
    }

    #[test]
    fn cell_resampling_has_the_plain_bootstrap_distribution() {
        // Correlated sides: the second is the first scaled, with noise that reorders some pairs.
        let first = skewed(200, 1);
        let noise = skewed(200, 2);
        let second: Vec<f64> = first.iter().zip(&noise).map(|(a, b)| 1.1 * a + 0.3 * b).collect();
        assert_same_distribution(&first, &second, REACH);
        // A reach of half a standard deviation sends most resamples down the full path.
        assert_same_distribution(&first, &second, 0.5);
    }

    #[test]
    fn ties_and_tiny_samples_are_resampled_like_the_plain_bootstrap() {
        let tied: Vec<f64> = (0..300).map(|index| f64::from(index % 7)).collect();
        let shifted: Vec<f64> = (0..300).map(|index| f64::from((index + 3) % 5)).collect();
        assert_same_distribution(&tied, &shifted, REACH);
        assert_same_distribution(&[3.0, 1.0], &[2.0, 2.5], REACH);
        assert_same_distribution(&skewed(7, 3), &skewed(7, 4), REACH);
    }

    #[test]
    fn the_same_seed_gives_the_same_intervals_and_another_seed_others() {
        let first = skewed(500, 1);
        let second: Vec<f64> = first.iter().map(|value| value * 1.1).collect();
        let settings = BootstrapSettings {
            resamples: 300,
            confidence: 0.95,
            seed: 11,
        };
        let once = paired_quantile_differences(&first, &second, &[0.5, 0.95], &settings).expect("valid");
        let again = paired_quantile_differences(&first, &second, &[0.5, 0.95], &settings).expect("valid");
        assert_eq!(once, again);
        let other = paired_quantile_differences(&first, &second, &[0.5], &BootstrapSettings { seed: 12, ..settings })
            .expect("valid");
        assert_ne!(once[0].difference.interval, other[0].difference.interval);
        // second = 1.1 · first exactly, so every resample's relative difference is 0.1.
        let relative = once[0].relative_difference.expect("positive");
        assert!((relative.value - 0.1).abs() < 1e-12);
        assert!((relative.interval.lower - 0.1).abs() < 1e-12 && (relative.interval.upper - 0.1).abs() < 1e-12);
    }

    #[test]
    fn percentile_interval_uses_numpy_linear_percentiles() {
        // np.percentile(np.arange(1, 1001), [2.5, 97.5]) = [25.975, 975.025]; (1 − 0.95)/2 is
        // 0.025000000000000022 in floating point (in scipy's bootstrap too), hence the tolerance.
        let replicates: Vec<f64> = (1..=1000).rev().map(f64::from).collect();
        let interval = percentile_interval(replicates, 0.95);
        assert!(
            (interval.lower - 25.975).abs() < 1e-9 && (interval.upper - 975.025).abs() < 1e-9,
            "{interval:?}"
        );
    }

    #[test]
    fn bad_input_is_refused() {
        let settings = BootstrapSettings::default();
        assert!(bootstrap_quantile_intervals(&[1.0], &[0.5], &settings).is_err());
        assert!(bootstrap_quantile_intervals(&[1.0, f64::NAN], &[0.5], &settings).is_err());
        assert!(bootstrap_quantile_intervals(&[1.0, 2.0], &[1.5], &settings).is_err());
        assert_eq!(
            paired_quantile_differences(&[1.0, 2.0], &[1.0], &[0.5], &settings),
            Err(StatsError::LengthMismatch { first: 2, second: 1 })
        );
    }
}
