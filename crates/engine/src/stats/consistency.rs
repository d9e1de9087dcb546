//! Per-test consistency across repeats, and the leaderboard of base models by pass rate.
//!
//! Both are small aggregations over numbers the session already has (pass flags, similarity
//! ratios from the diff module, pass counts); they live here so every report computes them the
//! same way. Left out: how a pass is decided (the suite's checks) and how similarity is measured.

use serde::{Deserialize, Serialize};

use super::proportion::wilson_interval;
use super::{Interval, Result, StatsError, check_finite};

/// How consistently one target answers one test across repeats.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Consistency {
    /// The number of repeats.
    pub repeats: usize,
    /// The share of repeats that passed.
    pub pass_share: f64,
    /// The mean similarity between pairs of repeats (1 for a single repeat: nothing differs).
    pub mean_similarity: f64,
    /// The least similar pair of repeats.
    pub minimum_similarity: f64,
}

/// Consistency of one test on one target from each repeat's pass flag and the similarities of
/// every pair of repeats (in any order; the diff module's similarity matrix, upper triangle).
pub fn consistency(passed: &[bool], pair_similarities: &[f64]) -> Result<Consistency> {
    if passed.is_empty() {
        return Err(StatsError::TooFewValues { got: 0, needed: 1 });
    }
    check_finite(pair_similarities)?;
    let passes = passed.iter().filter(|&&pass| pass).count();
    let (mean_similarity, minimum_similarity) = if pair_similarities.is_empty() {
        (1.0, 1.0)
    } else {
        (
            pair_similarities.iter().sum::<f64>() / pair_similarities.len() as f64,
            pair_similarities.iter().copied().fold(f64::INFINITY, f64::min),
        )
    };
    Ok(Consistency {
        repeats: passed.len(),
        pass_share: passes as f64 / passed.len() as f64,
        mean_similarity,
        minimum_similarity,
    })
}

/// One base model on the leaderboard.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LeaderboardEntry {
    pub name: String,
    /// 1 for the first; models whose intervals overlap the first's are not told apart by rank,
    /// so `tied_with_leader` says whether this one could be first.
    pub rank: usize,
    pub passes: u64,
    pub total: u64,
    pub pass_rate: f64,
    /// The Wilson interval of the pass rate at the requested confidence.
    pub interval: Interval,
    /// True when this model's interval overlaps the leader's: the data do not say the leader is
    /// better. (Overlap is a conservative check; the pairwise comparisons decide properly.)
    pub tied_with_leader: bool,
}

/// Base models ordered by pass rate, highest first (ties by the larger sample, then the name),
/// each with its Wilson interval. `models` are (name, passes, total); a model with no tests
/// is an error.
pub fn leaderboard(models: &[(String, u64, u64)], confidence: f64) -> Result<Vec<LeaderboardEntry>> {
    let mut entries = models
        .iter()
        .map(|(name, passes, total)| {
            Ok(LeaderboardEntry {
                name: name.clone(),
                rank: 0,
                passes: *passes,
                total: *total,
                pass_rate: *passes as f64 / *total as f64,
                interval: wilson_interval(*passes, *total, confidence)?,
                tied_with_leader: false,
            })
        })
        .collect::<Result<Vec<_>>>()?;
    entries.sort_by(|a, b| {
        b.pass_rate
            .total_cmp(&a.pass_rate)
            .then(b.total.cmp(&a.total))
            .then_with(|| a.name.cmp(&b.name))
    });
    let leader_lower = entries.first().map_or(f64::NAN, |leader| leader.interval.lower);
    for (position, entry) in entries.iter_mut().enumerate() {
        entry.rank = position + 1;
        entry.tied_with_leader = entry.interval.upper >= leader_lower;
    }
    Ok(entries)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn consistency_counts_passes_and_similarity() {
        let result = consistency(&[true, false, true], &[0.9, 0.8, 1.0]).expect("valid");
        assert_eq!(result.repeats, 3);
        assert!((result.pass_share - 2.0 / 3.0).abs() < 1e-15);
        assert!((result.mean_similarity - 0.9).abs() < 1e-15);
        assert_eq!(result.minimum_similarity, 0.8);
        let single = consistency(&[true], &[]).expect("valid");
        assert_eq!((single.pass_share, single.mean_similarity), (1.0, 1.0));
        assert!(consistency(&[], &[]).is_err());
    }

    #[test]
    fn leaderboard_orders_by_pass_rate_and_marks_overlaps() {
        let models = vec![
            ("small".to_owned(), 700, 1000),
            ("large".to_owned(), 900, 1000),
            ("medium".to_owned(), 890, 1000),
        ];
        let board = leaderboard(&models, 0.95).expect("valid");
        let names: Vec<&str> = board.iter().map(|entry| entry.name.as_str()).collect();
        assert_eq!(names, ["large", "medium", "small"]);
        assert_eq!(board.iter().map(|entry| entry.rank).collect::<Vec<_>>(), [1, 2, 3]);
        assert_eq!(
            board.iter().map(|entry| entry.tied_with_leader).collect::<Vec<_>>(),
            [true, true, false]
        );
        assert!(leaderboard(&[("none".to_owned(), 0, 0)], 0.95).is_err());
    }
}
