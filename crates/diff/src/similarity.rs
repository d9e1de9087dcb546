//! How alike N answers are: every pair's ratio, each answer's mean likeness to the others, the
//! outlier and the majority.
//!
//! Each text is tokenized once (one interner for all, so ids are shared) and only the match
//! counts are computed per pair, no spans. The pairs are split over the machine's cores.

use serde::{Deserialize, Serialize};
use ts_rs::TS;

use super::json::{extract_json, json_ratio};
use super::matching::matched_count;
use super::tokens::Interner;
use super::{DiffError, DiffMode, ratio_of};

/// Two means closer than this are equal (they come from sums of ratios, so rounding differs).
const TIE: f64 = 1e-9;

/// The pairwise ratios of N texts, indexed as the texts were given.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct SimilarityMatrix {
    pub mode: DiffMode,
    /// `ratios[i][j]`: the ratio of texts `i` and `j` (as the pairwise `diff` gives it). Symmetric,
    /// 1 on the diagonal.
    pub ratios: Vec<Vec<f64>>,
    /// Each text's mean ratio to the others (1 for a lone text).
    pub mean: Vec<f64>,
    /// The text farthest from the others: the one whose mean is lowest, strictly (by more than
    /// 1e-9) below every other mean. `None` with fewer than 3 texts (two texts are equally far
    /// from each other) or when two or more texts share the lowest mean (all equally far
    /// included): then there is no single outlier.
    pub outlier: Option<usize>,
    /// The medoid, the text closest to all the others: the highest mean, ties going to the
    /// lowest index. `None` with fewer than 3 texts, where no majority exists.
    pub majority: Option<usize>,
}

/// Compares every pair of `texts` in `mode`. Only JSON mode fails: when a text holds no JSON,
/// naming its index.
pub fn similarity(texts: &[&str], mode: DiffMode) -> Result<SimilarityMatrix, DiffError> {
    let count = texts.len();
    let pairs: Vec<(usize, usize)> = (0..count)
        .flat_map(|row| (row + 1..count).map(move |column| (row, column)))
        .collect();
    // Each text is compared with every other one.
    let work = texts.iter().map(|text| text.len()).sum::<usize>() * count.saturating_sub(1);
    let pair_ratios = match mode {
        DiffMode::Json => {
            let values = texts
                .iter()
                .enumerate()
                .map(|(index, text)| extract_json(text).map_err(|cause| DiffError::TextNotJson { index, cause }))
                .collect::<Result<Vec<_>, _>>()?;
            in_parallel(&pairs, work, |(row, column)| json_ratio(&values[row], &values[column]))
        }
        DiffMode::Words | DiffMode::Normalized | DiffMode::Lines => {
            let normalized: Vec<String>;
            let texts: Vec<&str> = if mode == DiffMode::Normalized {
                normalized = texts.iter().map(|text| super::normalize_markdown(text)).collect();
                normalized.iter().map(String::as_str).collect()
            } else {
                texts.to_vec()
            };
            let mut interner = Interner::default();
            let sequences: Vec<Vec<u32>> = texts
                .iter()
                .map(|text| match mode {
                    DiffMode::Lines => interner.lines(text),
                    _ => interner.words(text).ids,
                })
                .collect();
            let vocabulary = interner.len();
            in_parallel(&pairs, work, |(row, column)| {
                let (a, b) = (&sequences[row], &sequences[column]);
                ratio_of(matched_count(a, b, vocabulary), a.len() + b.len())
            })
        }
    };

    let mut ratios = vec![vec![1.0; count]; count];
    for (&(row, column), &ratio) in pairs.iter().zip(&pair_ratios) {
        ratios[row][column] = ratio;
        ratios[column][row] = ratio;
    }
    let mean: Vec<f64> = ratios
        .iter()
        .enumerate()
        .map(|(index, row)| {
            let others: f64 = row
                .iter()
                .enumerate()
                .filter(|&(other, _)| other != index)
                .map(|(_, ratio)| ratio)
                .sum();
            if count > 1 { others / (count - 1) as f64 } else { 1.0 }
        })
        .collect();
    let (outlier, majority) = if count < 3 {
        (None, None)
    } else {
        (outlier_of(&mean), majority_of(&mean))
    };
    Ok(SimilarityMatrix {
        mode,
        ratios,
        mean,
        outlier,
        majority,
    })
}

fn outlier_of(mean: &[f64]) -> Option<usize> {
    let lowest = (0..mean.len()).min_by(|&left, &right| mean[left].total_cmp(&mean[right]))?;
    let unique = mean
        .iter()
        .enumerate()
        .all(|(index, &value)| index == lowest || value - mean[lowest] > TIE);
    unique.then_some(lowest)
}

fn majority_of(mean: &[f64]) -> Option<usize> {
    let highest = mean.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    mean.iter().position(|&value| highest - value <= TIE)
}

/// Below this many bytes compared in all, the pairs are compared on the calling thread: starting
/// threads costs more than a few short answers take (a session's analysis compares thousands of
/// small sets, and spent more time starting threads than diffing).
const PARALLEL_WORK_BYTES: usize = 64 * 1024;

/// `ratio` of each pair, in order, the pairs shared out over the available cores when there is
/// `work` enough (bytes compared in all) to pay for the threads.
fn in_parallel<F>(pairs: &[(usize, usize)], work: usize, ratio: F) -> Vec<f64>
where
    F: Fn((usize, usize)) -> f64 + Sync,
{
    static CORES: std::sync::OnceLock<usize> = std::sync::OnceLock::new();
    let cores = *CORES.get_or_init(|| std::thread::available_parallelism().map_or(1, usize::from));
    let threads = if work < PARALLEL_WORK_BYTES {
        1
    } else {
        cores.min(pairs.len())
    };
    if threads <= 1 {
        return pairs.iter().map(|&pair| ratio(pair)).collect();
    }
    // Interleaved, not in blocks: costly pairs (the unrelated ones) tend to share a row.
    let mut results = vec![0.0; pairs.len()];
    std::thread::scope(|scope| {
        let ratio = &ratio;
        let workers: Vec<_> = (0..threads)
            .map(|worker| {
                scope.spawn(move || {
                    (worker..pairs.len())
                        .step_by(threads)
                        .map(|index| (index, ratio(pairs[index])))
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        for worker in workers {
            // A worker only panics if `ratio` did: pass the panic on.
            let computed = worker.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic));
            for (index, value) in computed {
                results[index] = value;
            }
        }
    });
    results
}

#[cfg(test)]
mod tests {
    use super::{DiffMode, similarity};
    use crate::{DiffError, diff};

    const BASE: &str = "The quick brown fox jumps over the lazy dog near the river bank today.";

    #[test]
    fn the_matrix_is_symmetric_with_ones_on_the_diagonal_and_agrees_with_diff() {
        let texts = [
            BASE,
            "The quick brown fox leaps over the lazy dog near the river bank today.",
            "A slow green turtle walks under the busy bridge.",
            "",
        ];
        let matrix = similarity(&texts, DiffMode::Words).expect("words never fail");
        for row in 0..texts.len() {
            assert_eq!(matrix.ratios[row][row], 1.0);
            for column in 0..texts.len() {
                assert_eq!(matrix.ratios[row][column], matrix.ratios[column][row]);
                if row != column {
                    let pair = diff(texts[row], texts[column], DiffMode::Words).expect("words");
                    assert_eq!(matrix.ratios[row][column], pair.ratio, "{row} {column}");
                }
            }
        }
        assert!(
            matrix.ratios[0][1] > 0.9 && matrix.ratios[0][2] < 0.3,
            "{:?}",
            matrix.ratios
        );
        assert_eq!(matrix.ratios[0][3], 0.0);
        let expected_mean = (matrix.ratios[0][1] + matrix.ratios[0][2] + matrix.ratios[0][3]) / 3.0;
        assert!((matrix.mean[0] - expected_mean).abs() < 1e-12);
    }

    #[test]
    fn picks_the_outlier_and_the_majority() {
        let texts = [
            BASE,
            "The quick brown fox leaps over the lazy dog near the river bank today.",
            "The quick brown fox jumps over the lazy cat near the river bank today.",
            "Paris is the capital of France.",
        ];
        let matrix = similarity(&texts, DiffMode::Words).expect("words");
        assert_eq!(matrix.outlier, Some(3));
        // The original is one word away from each variant; they are two words apart.
        assert_eq!(matrix.majority, Some(0));
    }

    #[test]
    fn no_outlier_when_all_are_equally_far_or_too_few() {
        let same = similarity(&[BASE, BASE, BASE], DiffMode::Words).expect("words");
        assert_eq!(same.outlier, None);
        assert_eq!(same.majority, Some(0));
        assert_eq!(same.mean, [1.0, 1.0, 1.0]);
        // Three unrelated texts: every pair shares nothing, so all are equally far.
        let apart = similarity(&["alpha beta", "gamma delta", "epsilon zeta"], DiffMode::Words).expect("words");
        assert_eq!((apart.outlier, apart.mean.clone()), (None, vec![0.0, 0.0, 0.0]));
        // Two texts are always equally far from each other.
        let two = similarity(&[BASE, "other"], DiffMode::Words).expect("words");
        assert_eq!((two.outlier, two.majority), (None, None));
        let one = similarity(&[BASE], DiffMode::Words).expect("words");
        assert_eq!(
            (one.ratios.clone(), one.mean.clone(), one.outlier),
            (vec![vec![1.0]], vec![1.0], None)
        );
        assert!(similarity(&[], DiffMode::Words).expect("words").ratios.is_empty());
    }

    #[test]
    fn json_and_normalized_matrices() {
        let matrix = similarity(
            &[
                "{\"a\": 1, \"b\": 2}",
                "```json\n{\"b\": 2, \"a\": 1}\n```",
                "{\"a\": 5, \"b\": 2}",
            ],
            DiffMode::Json,
        )
        .expect("all parse");
        assert_eq!(matrix.ratios[0][1], 1.0);
        assert_eq!(matrix.ratios[0][2], 0.5);
        assert_eq!(matrix.outlier, Some(2));
        let error = similarity(&["{}", "[]", "nope"], DiffMode::Json).expect_err("text 2 is prose");
        assert!(matches!(error, DiffError::TextNotJson { index: 2, .. }), "{error:?}");
        let normalized =
            similarity(&["**Paris** is *big*", "- Paris is big", "Lyon"], DiffMode::Normalized).expect("normalized");
        assert_eq!(normalized.ratios[0][1], 1.0);
    }
}
