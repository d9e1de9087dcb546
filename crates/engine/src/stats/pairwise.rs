//! Pairwise comparisons of targets by a panel or a judge: win rates, the Bradley-Terry strengths
//! with seeded bootstrap intervals and ranks, the position-bias check, and the number of comparisons that
//! would separate two targets.
//!
//! Bradley-Terry says the first of two players wins with probability σ(θ₁ − θ₂), σ the logistic
//! function; a tie counts as half a win for each side (the likelihood of Davidson's model is not
//! used: with half wins the fit is the one `choix` and BradleyTerry2 give when a tie is entered
//! as one win each way). Strengths are log-strengths centred to mean 0, so only differences
//! mean anything. The maximum-likelihood fit is Newton's method on the concave log-likelihood
//! with a backtracking line search, from the aggregated win matrix (never the outcome list), so
//! a bootstrap of 1,000 resamples of 5,000 comparisons of 10 players takes milliseconds.
//!
//! The maximum-likelihood estimate exists only when the "won at least once against" graph is
//! strongly connected (Hunter 2004, Assumption 1): a player who won everything would have
//! strength +∞, and players in two groups never compared are not on one scale. Such data get a
//! symmetric prior instead: one pseudo-comparison between every two players, scored as a tie (half
//! a win each way), and the fit is the maximum of the posterior. That keeps every strength finite
//! and in order (a player who won everything is still first) and shrinks only where the data say
//! nothing; data with a finite maximum-likelihood fit are never changed, so those fits are the
//! textbook ones. The fit says which it did (`BradleyTerryFit::regularized`).
//!
//! Left out: home advantage (position as a covariate: the position-bias check reports it
//! instead), Davidson's tie parameter, and standard errors from the information matrix (the
//! bootstrap intervals serve the ranks).

use serde::{Deserialize, Serialize};

use super::bootstrap::percentile_interval;
use super::distribution::normal_quantile;
use super::proportion::{exact_mcnemar, wilson_interval, wilson_interval_fractional};
use super::random::SeededRandom;
use super::{Estimate, Interval, Result, StatsError, check_confidence};

/// One comparison between two players (targets): `score` 1.0 = first won, 0.0 = second won,
/// 0.5 = tie (any score in [0, 1] counts as that share of a win for the first).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct PairOutcome {
    pub first: usize,
    pub second: usize,
    pub score: f64,
}

/// A Bradley-Terry fit with seeded bootstrap intervals.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BradleyTerryFit {
    /// Log-strengths centred to mean 0 (`bradley_terry`).
    pub strengths: Vec<f64>,
    /// Percentile intervals of each strength over the bootstrap resamples (outcomes drawn with
    /// replacement; each resample centred to mean 0 like the fit).
    pub intervals: Vec<Interval>,
    /// 1 + the number of players whose interval lies wholly above this player's (Chatbot Arena's
    /// rule): players whose intervals overlap may share a rank.
    pub ranks: Vec<usize>,
    /// P(the strongest player beats the second strongest) from the point fit; `None` with fewer
    /// than two players.
    pub win_probability_top_two: Option<f64>,
    /// Whether the point fit needed the symmetric prior (the data have no finite
    /// maximum-likelihood fit: a player who won or lost everything, or groups never compared).
    pub regularized: bool,
}

/// Maximum-likelihood Bradley-Terry log-strengths, centred to mean 0, ties as half a win each
/// way; the symmetric prior of the module header when the maximum-likelihood fit does not exist.
/// Errors on fewer than two players, no outcomes, a player index out of range, a player compared
/// with itself or a score that is not a number in [0, 1].
pub fn bradley_terry(players: usize, outcomes: &[PairOutcome]) -> Result<Vec<f64>> {
    let wins = WinMatrix::from_outcomes(players, outcomes)?;
    Ok(wins.fit()?.0)
}

/// The Bradley-Terry fit with `resamples` seeded bootstrap resamples of the outcomes, percentile
/// intervals at `confidence` and the ranks those intervals separate.
pub fn bradley_terry_fit(
    players: usize,
    outcomes: &[PairOutcome],
    resamples: usize,
    confidence: f64,
    seed: u64,
) -> Result<BradleyTerryFit> {
    check_confidence(confidence)?;
    if resamples == 0 {
        return Err(StatsError::InvalidArgument(
            "a bootstrap needs at least one resample".to_string(),
        ));
    }
    let wins = WinMatrix::from_outcomes(players, outcomes)?;
    let (strengths, regularized) = wins.fit()?;
    let cells = Cells::from_outcomes(outcomes);
    let mut random = SeededRandom::new(seed);
    let mut replicates = vec![Vec::with_capacity(resamples); players];
    for _ in 0..resamples {
        let resample = cells.resample(players, &mut random);
        let (fit, _) = resample.fit()?;
        for (player, strength) in fit.into_iter().enumerate() {
            replicates[player].push(strength);
        }
    }
    let intervals: Vec<Interval> = replicates
        .into_iter()
        .map(|values| percentile_interval(values, confidence))
        .collect();
    let ranks = intervals
        .iter()
        .map(|own| 1 + intervals.iter().filter(|other| other.lower > own.upper).count())
        .collect();
    let mut ordered = strengths.clone();
    ordered.sort_unstable_by(|a, b| b.total_cmp(a));
    let win_probability_top_two = (ordered.len() >= 2).then(|| logistic(ordered[0] - ordered[1]));
    Ok(BradleyTerryFit {
        strengths,
        intervals,
        ranks,
        win_probability_top_two,
        regularized,
    })
}

/// One player's share of the points in its comparisons.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct WinRate {
    /// Wins plus half the ties (plus the share of any other score).
    pub score: f64,
    /// Comparisons the player took part in.
    pub comparisons: u64,
    /// `score / comparisons` with its Wilson interval; `None` without comparisons.
    pub estimate: Option<Estimate>,
}

/// Each player's win rate over its comparisons, ties as half a win, with a Wilson interval at
/// `confidence` (`wilson_interval_fractional`). Errors on the outcomes `bradley_terry` refuses.
pub fn win_rates(players: usize, outcomes: &[PairOutcome], confidence: f64) -> Result<Vec<WinRate>> {
    check_confidence(confidence)?;
    let wins = WinMatrix::from_outcomes(players, outcomes)?;
    let mut comparisons = vec![0u64; players];
    for outcome in outcomes {
        comparisons[outcome.first] += 1;
        comparisons[outcome.second] += 1;
    }
    (0..players)
        .map(|player| {
            let score: f64 = (0..players).map(|other| wins.won(player, other)).sum();
            let total = comparisons[player];
            let estimate = if total == 0 {
                None
            } else {
                Some(Estimate {
                    value: score / total as f64,
                    interval: wilson_interval_fractional(score, total as f64, confidence)?,
                })
            };
            Ok(WinRate {
                score,
                comparisons: total,
                estimate,
            })
        })
        .collect()
}

/// The position-bias check of pairwise ratings.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct PositionBias {
    /// Decided (non-tie) ratings won by the answer shown first (A).
    pub first_wins: u64,
    /// Decided ratings in all.
    pub decided: u64,
    /// `first_wins / decided`; 0.5 when position does not matter.
    pub share: f64,
    /// The 95% Wilson interval of the share.
    pub interval: Interval,
    /// Two-sided exact binomial test of share = ½.
    pub p_value: f64,
}

/// The share of decided pairwise ratings won by the answer shown first, its 95% Wilson interval
/// and a two-sided exact binomial test against ½ (scipy `binomtest(first, decided, 0.5)`). Errors
/// when no rating was decided.
pub fn position_bias(first_wins: u64, second_wins: u64) -> Result<PositionBias> {
    let decided = first_wins
        .checked_add(second_wins)
        .ok_or_else(|| StatsError::InvalidArgument(format!("{first_wins} + {second_wins} ratings overflow")))?;
    let interval = wilson_interval(first_wins, decided, 0.95)?;
    Ok(PositionBias {
        first_wins,
        decided,
        share: first_wins as f64 / decided as f64,
        interval,
        // Under no bias each decided rating is a fair coin: the exact McNemar test is this test.
        p_value: exact_mcnemar(first_wins, second_wins),
    })
}

/// The number of comparisons between two players needed for a two-sided test at level `alpha`
/// to tell a win probability `p` from ½ with the given `power`, by the normal approximation to
/// the binomial test: n = ((z₁₋α/₂ · ½ + z_power · √(p(1 − p))) / (p − ½))², rounded up (Fleiss,
/// Levin & Paik, *Statistical Methods for Rates and Proportions*, 3rd ed., §2.5.1). `None` when
/// p = ½ (no number of comparisons separates equals) or an argument is out of range (p outside
/// [0, 1], `alpha` or `power` outside (0, 1), or not a number).
pub fn comparisons_to_separate(p: f64, alpha: f64, power: f64) -> Option<u64> {
    let in_unit = |value: f64| value > 0.0 && value < 1.0;
    if !(0.0..=1.0).contains(&p) || !in_unit(alpha) || !in_unit(power) || p == 0.5 {
        return None;
    }
    let null_part = normal_quantile(1.0 - alpha / 2.0) * 0.5;
    let alternative_part = normal_quantile(power) * (p * (1.0 - p)).sqrt();
    let size = ((null_part + alternative_part) / (p - 0.5)).powi(2);
    // A float within rounding of a whole number would otherwise round up one too many.
    Some((size - 1e-9).ceil().max(1.0) as u64)
}

fn logistic(x: f64) -> f64 {
    1.0 / (1.0 + (-x).exp())
}

/// ln σ(x), without overflow for large |x|.
fn ln_logistic(x: f64) -> f64 {
    if x >= 0.0 {
        -(-x).exp().ln_1p()
    } else {
        x - x.exp().ln_1p()
    }
}

/// `wins[i * players + j]`: the score player i earned against player j, summed over their
/// comparisons (a tie adds ½ to both sides).
struct WinMatrix {
    players: usize,
    wins: Vec<f64>,
}

impl WinMatrix {
    fn new(players: usize) -> Self {
        Self {
            players,
            wins: vec![0.0; players * players],
        }
    }

    fn from_outcomes(players: usize, outcomes: &[PairOutcome]) -> Result<Self> {
        if players < 2 {
            return Err(StatsError::TooFewValues {
                got: players,
                needed: 2,
            });
        }
        if players > MAX_PLAYERS {
            return Err(StatsError::InvalidArgument(format!(
                "{players} players; a fit takes at most {MAX_PLAYERS}"
            )));
        }
        if outcomes.is_empty() {
            return Err(StatsError::TooFewValues { got: 0, needed: 1 });
        }
        let mut matrix = Self::new(players);
        for (index, outcome) in outcomes.iter().enumerate() {
            check_outcome(players, index, outcome)?;
            matrix.add(outcome.first, outcome.second, outcome.score, 1.0);
        }
        Ok(matrix)
    }

    fn add(&mut self, first: usize, second: usize, score: f64, times: f64) {
        self.wins[first * self.players + second] += times * score;
        self.wins[second * self.players + first] += times * (1.0 - score);
    }

    fn won(&self, winner: usize, loser: usize) -> f64 {
        self.wins[winner * self.players + loser]
    }

    /// Whether every player can be reached from every other along "won against" edges.
    fn strongly_connected(&self) -> bool {
        let reaches_all = |forward: bool| {
            let mut seen = vec![false; self.players];
            let mut stack = vec![0];
            seen[0] = true;
            while let Some(player) = stack.pop() {
                for (other, reached) in seen.iter_mut().enumerate() {
                    let edge = if forward {
                        self.won(player, other)
                    } else {
                        self.won(other, player)
                    };
                    if !*reached && edge > 0.0 {
                        *reached = true;
                        stack.push(other);
                    }
                }
            }
            seen.into_iter().all(|reached| reached)
        };
        reaches_all(true) && reaches_all(false)
    }

    /// The centred fit and whether it needed the prior.
    fn fit(mut self) -> Result<(Vec<f64>, bool)> {
        let regularized = !self.strongly_connected();
        if regularized {
            for first in 0..self.players {
                for second in first + 1..self.players {
                    self.add(first, second, 0.5, 1.0);
                }
            }
        }
        let mut strengths = self.newton()?;
        let mean = strengths.iter().sum::<f64>() / strengths.len() as f64;
        for strength in &mut strengths {
            *strength -= mean;
        }
        Ok((strengths, regularized))
    }

    fn log_likelihood(&self, theta: &[f64]) -> f64 {
        let mut total = 0.0;
        for i in 0..self.players {
            for j in 0..self.players {
                let won = self.won(i, j);
                if i != j && won > 0.0 {
                    total += won * ln_logistic(theta[i] - theta[j]);
                }
            }
        }
        total
    }

    /// Newton's method with the last strength held at 0 (the likelihood only sees differences),
    /// to a step below 1e-10. The reduced Hessian is negative definite once the comparison graph
    /// is connected, which strong connectivity (or the prior) guarantees.
    fn newton(&self) -> Result<Vec<f64>> {
        let players = self.players;
        let free = players - 1;
        let mut theta = vec![0.0; players];
        let mut gradient = vec![0.0; free];
        let mut information = vec![0.0; free * free];
        for _ in 0..MAX_NEWTON_STEPS {
            gradient.fill(0.0);
            information.fill(0.0);
            for i in 0..players {
                for j in i + 1..players {
                    let games = self.won(i, j) + self.won(j, i);
                    if games == 0.0 {
                        continue;
                    }
                    let probability = logistic(theta[i] - theta[j]);
                    let residual = self.won(i, j) - games * probability;
                    let weight = games * probability * (1.0 - probability);
                    if i < free {
                        gradient[i] += residual;
                        information[i * free + i] += weight;
                    }
                    if j < free {
                        gradient[j] -= residual;
                        information[j * free + j] += weight;
                    }
                    if i < free && j < free {
                        information[i * free + j] -= weight;
                        information[j * free + i] -= weight;
                    }
                }
            }
            let step = solve_positive_definite(&mut information, &gradient, free)
                .ok_or_else(|| StatsError::Undefined("the comparisons do not connect every player".to_string()))?;
            let largest = step.iter().fold(0.0f64, |largest, value| largest.max(value.abs()));
            if largest < CONVERGED_STEP {
                for (value, change) in theta.iter_mut().zip(&step) {
                    *value += change;
                }
                return Ok(theta);
            }
            // Backtracking (Armijo): the full Newton step can overshoot far from the optimum.
            // Near it the gain is below the rounding of the log-likelihood, so a step whose
            // change is within that rounding is taken whole (Newton converges there anyway).
            let current = self.log_likelihood(&theta);
            let rounding = 1e-12 * (1.0 + current.abs());
            let slope: f64 = gradient.iter().zip(&step).map(|(g, s)| g * s).sum();
            let mut length = 1.0;
            let mut candidate = theta.clone();
            loop {
                for ((value, base), change) in candidate.iter_mut().zip(&theta).zip(&step) {
                    *value = base + length * change;
                }
                let proposed = self.log_likelihood(&candidate);
                if proposed >= current + 1e-4 * length * slope
                    || (proposed - current).abs() <= rounding
                    || length < 1e-12
                {
                    break;
                }
                length /= 2.0;
            }
            theta = candidate;
        }
        Ok(theta)
    }
}

/// The most players a fit takes: the win matrix has players² cells and a Newton step costs
/// players³, so a thousand targets already take seconds per fit (panels compare a handful).
const MAX_PLAYERS: usize = 1_000;

/// Newton steps before giving up on the 1e-10 criterion (about ten suffice; the cap only guards
/// against an endless loop on data at the edge of floating point).
const MAX_NEWTON_STEPS: usize = 200;
const CONVERGED_STEP: f64 = 1e-10;

/// Solves `matrix · x = right` for a symmetric positive-definite `matrix` (size × size, row-major,
/// overwritten by its Cholesky factor); `None` when it is not positive definite.
fn solve_positive_definite(matrix: &mut [f64], right: &[f64], size: usize) -> Option<Vec<f64>> {
    for column in 0..size {
        let mut diagonal = matrix[column * size + column];
        for k in 0..column {
            diagonal -= matrix[column * size + k].powi(2);
        }
        if diagonal <= 1e-300 || !diagonal.is_finite() {
            return None;
        }
        let diagonal = diagonal.sqrt();
        matrix[column * size + column] = diagonal;
        for row in column + 1..size {
            let mut value = matrix[row * size + column];
            for k in 0..column {
                value -= matrix[row * size + k] * matrix[column * size + k];
            }
            matrix[row * size + column] = value / diagonal;
        }
    }
    let mut solution = right.to_vec();
    for row in 0..size {
        for k in 0..row {
            solution[row] -= matrix[row * size + k] * solution[k];
        }
        solution[row] /= matrix[row * size + row];
    }
    for row in (0..size).rev() {
        for k in row + 1..size {
            solution[row] -= matrix[k * size + row] * solution[k];
        }
        solution[row] /= matrix[row * size + row];
    }
    Some(solution)
}

fn check_outcome(players: usize, index: usize, outcome: &PairOutcome) -> Result<()> {
    if outcome.first >= players || outcome.second >= players {
        return Err(StatsError::InvalidArgument(format!(
            "outcome {index} compares players {} and {}, but there are {players}",
            outcome.first, outcome.second
        )));
    }
    if outcome.first == outcome.second {
        return Err(StatsError::InvalidArgument(format!(
            "outcome {index} compares player {} with itself",
            outcome.first
        )));
    }
    if !(0.0..=1.0).contains(&outcome.score) {
        return Err(StatsError::InvalidArgument(format!(
            "outcome {index} has score {}, not a number in [0, 1]",
            outcome.score
        )));
    }
    Ok(())
}

/// The distinct outcomes with their counts, in a fixed order, so a bootstrap resample is a
/// multinomial draw of counts over a few cells (a chain of binomial draws) instead of one index
/// per outcome.
struct Cells {
    cells: Vec<(usize, usize, f64, u64)>,
    total: u64,
}

impl Cells {
    fn from_outcomes(outcomes: &[PairOutcome]) -> Self {
        let mut keys: Vec<(usize, usize, u64)> = outcomes
            .iter()
            .map(|outcome| (outcome.first, outcome.second, outcome.score.to_bits()))
            .collect();
        keys.sort_unstable();
        let mut cells: Vec<(usize, usize, f64, u64)> = Vec::new();
        for (first, second, bits) in keys {
            match cells.last_mut() {
                Some(last) if last.0 == first && last.1 == second && last.2.to_bits() == bits => last.3 += 1,
                _ => cells.push((first, second, f64::from_bits(bits), 1)),
            }
        }
        Self {
            cells,
            total: outcomes.len() as u64,
        }
    }

    fn resample(&self, players: usize, random: &mut SeededRandom) -> WinMatrix {
        let mut matrix = WinMatrix::new(players);
        let mut draws_left = self.total;
        let mut weight_left = self.total;
        for &(first, second, score, count) in &self.cells {
            if draws_left == 0 {
                break;
            }
            let drawn = if count == weight_left {
                draws_left
            } else {
                random.binomial(draws_left, count as f64 / weight_left as f64)
            };
            if drawn > 0 {
                matrix.add(first, second, score, drawn as f64);
            }
            draws_left -= drawn;
            weight_left -= count;
        }
        matrix
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn baseball() -> Vec<PairOutcome> {
        BASEBALL
            .iter()
            .flat_map(|&(home, away, home_wins, away_wins)| {
                let won = (0..home_wins).map(move |_| PairOutcome {
                    first: home,
                    second: away,
                    score: 1.0,
                });
                let lost = (0..away_wins).map(move |_| PairOutcome {
                    first: home,
                    second: away,
                    score: 0.0,
                });
                won.chain(lost)
            })
            .collect()
    }

    fn tied() -> Vec<PairOutcome> {
        TIED.iter()
            .map(|&(first, second, score)| PairOutcome { first, second, score })
            .collect()
    }

    fn assert_close(actual: &[f64], expected: &[f64], tolerance: f64) {
        assert_eq!(actual.len(), expected.len());
        for (index, (a, e)) in actual.iter().zip(expected).enumerate() {
            assert!((a - e).abs() < tolerance, "player {index}: {a} is not {e}\n{actual:?}");
        }
    }

    /// Outcomes from strengths: `per_pair` comparisons of every pair, the first winning the share
    /// σ(θ₁ − θ₂) of them (rounded), the rest lost; deterministic, so tests know the truth.
    fn expected_outcomes(strengths: &[f64], per_pair: usize) -> Vec<PairOutcome> {
        let mut outcomes = Vec::new();
        for first in 0..strengths.len() {
            for second in first + 1..strengths.len() {
                let won = (logistic(strengths[first] - strengths[second]) * per_pair as f64).round() as usize;
                for game in 0..per_pair {
                    let score = if game < won { 1.0 } else { 0.0 };
                    // Alternate who is shown first so positions do not line up with strength.
                    outcomes.push(if game % 2 == 0 {
                        PairOutcome { first, second, score }
                    } else {
                        PairOutcome {
                            first: second,
                            second: first,
                            score: 1.0 - score,
                        }
                    });
                }
            }
        }
        outcomes
    }

    #[test]
    fn baseball_matches_agresti_and_choix() {
        let fit = bradley_terry(7, &baseball()).expect("valid");
        // choix 0.4.1 ilsr_pairwise(alpha=0), centred (reference/panels.py).
        assert_close(&fit, &BASEBALL_CHOIX, 1e-8);
        // Agresti, Categorical Data Analysis (2nd ed.), Table 10.11, Baltimore as 0: Milwaukee
        // 1.58, Detroit 1.44, Toronto 1.29, New York 1.25, Boston 1.11, Cleveland 0.68; to four
        // places as BradleyTerry2's BTm prints them (tests/baseball.Rout.save).
        let relative: Vec<f64> = fit.iter().map(|strength| strength - fit[6]).collect();
        assert_close(&relative, &[1.58, 1.44, 1.29, 1.25, 1.11, 0.68, 0.0], 0.005);
        assert_close(&relative, &[1.5814, 1.4364, 1.2945, 1.2476, 1.1077, 0.6839, 0.0], 5e-5);
        assert!(fit.iter().sum::<f64>().abs() < 1e-12);
    }

    #[test]
    fn ties_count_as_half_a_win_each_way() {
        // choix with every comparison entered twice, a tie as one win each way.
        let outcomes = tied();
        assert!(outcomes.iter().any(|outcome| outcome.score == 0.5));
        assert_close(&bradley_terry(6, &outcomes).expect("valid"), &TIED_CHOIX, 1e-8);
    }

    #[test]
    fn who_is_named_first_does_not_matter() {
        let swapped: Vec<PairOutcome> = baseball()
            .into_iter()
            .map(|outcome| PairOutcome {
                first: outcome.second,
                second: outcome.first,
                score: 1.0 - outcome.score,
            })
            .collect();
        assert_close(&bradley_terry(7, &swapped).expect("valid"), &BASEBALL_CHOIX, 1e-8);
    }

    #[test]
    fn separated_data_get_finite_ordered_strengths() {
        // Player 0 beat everyone, player 2 lost everything, player 3 was never compared.
        let mut outcomes = vec![
            PairOutcome {
                first: 0,
                second: 1,
                score: 1.0,
            };
            5
        ];
        outcomes.extend(vec![
            PairOutcome {
                first: 1,
                second: 2,
                score: 1.0,
            };
            5
        ]);
        outcomes.push(PairOutcome {
            first: 2,
            second: 0,
            score: 0.0,
        });
        let strengths = bradley_terry(4, &outcomes).expect("finite fit");
        assert!(strengths.iter().all(|strength| strength.is_finite()), "{strengths:?}");
        assert!(
            strengths[0] > strengths[1] && strengths[1] > strengths[2],
            "{strengths:?}"
        );
        // The player without comparisons sits between, pulled only by the prior.
        assert!(
            strengths[3] < strengths[0] && strengths[3] > strengths[2],
            "{strengths:?}"
        );
        let fit = bradley_terry_fit(4, &outcomes, 200, 0.95, 1).expect("finite fit");
        assert!(fit.regularized);
        assert!(
            fit.intervals
                .iter()
                .all(|interval| interval.lower.is_finite() && interval.upper.is_finite())
        );
        // Two players, one won every comparison: finite, and the prior's pull is a pseudo tie.
        let sweep = vec![
            PairOutcome {
                first: 1,
                second: 0,
                score: 1.0,
            };
            10
        ];
        let strengths = bradley_terry(2, &sweep).expect("finite fit");
        // With one pseudo tie, player 1 won 10.5 of 11: θ₁ − θ₀ = ln(10.5 / 0.5).
        assert!(
            (strengths[1] - strengths[0] - (21.0f64).ln()).abs() < 1e-9,
            "{strengths:?}"
        );
    }

    #[test]
    fn connected_data_are_not_regularized() {
        let fit = bradley_terry_fit(7, &baseball(), 50, 0.95, 3).expect("valid");
        assert!(!fit.regularized);
        assert_close(&fit.strengths, &BASEBALL_CHOIX, 1e-8);
    }

    #[test]
    fn bad_input_is_an_error_not_a_panic() {
        let good = PairOutcome {
            first: 0,
            second: 1,
            score: 1.0,
        };
        assert!(matches!(
            bradley_terry(1, &[good]),
            Err(StatsError::TooFewValues { got: 1, needed: 2 })
        ));
        assert!(matches!(bradley_terry(3, &[]), Err(StatsError::TooFewValues { .. })));
        assert!(matches!(
            bradley_terry(usize::MAX, &[good]),
            Err(StatsError::InvalidArgument(_))
        ));
        for bad in [
            PairOutcome {
                first: 0,
                second: 5,
                score: 1.0,
            },
            PairOutcome {
                first: 1,
                second: 1,
                score: 1.0,
            },
            PairOutcome {
                first: 0,
                second: 1,
                score: f64::NAN,
            },
            PairOutcome {
                first: 0,
                second: 1,
                score: 1.5,
            },
            PairOutcome {
                first: 0,
                second: 1,
                score: -0.5,
            },
        ] {
            let error = bradley_terry(3, &[good, bad]).expect_err("invalid");
            assert!(error.to_string().contains("outcome 1"), "{error}");
        }
        assert!(bradley_terry_fit(3, &[good], 0, 0.95, 1).is_err());
        assert!(bradley_terry_fit(3, &[good], 10, 1.5, 1).is_err());
    }

    #[test]
    fn the_bootstrap_reproduces_and_depends_on_its_seed() {
        let outcomes = tied();
        let first = bradley_terry_fit(6, &outcomes, 300, 0.95, 11).expect("valid");
        let again = bradley_terry_fit(6, &outcomes, 300, 0.95, 11).expect("valid");
        let other = bradley_terry_fit(6, &outcomes, 300, 0.95, 12).expect("valid");
        assert_eq!(first, again);
        assert_ne!(first.intervals, other.intervals);
        assert_eq!(first.strengths, other.strengths);
        for (interval, strength) in first.intervals.iter().zip(&first.strengths) {
            assert!(interval.contains(*strength), "{interval:?} {strength}");
        }
    }

    #[test]
    fn bootstrap_intervals_have_the_sampling_spread() {
        // Two players, 400 comparisons at p = 0.6: the log-odds has standard error
        // 1/√(n p (1 − p)) = 0.102, and each centred strength half of it, so a 95% interval of
        // a strength is about ±1.96 · 0.051 = ±0.100.
        let outcomes: Vec<PairOutcome> = (0..400)
            .map(|game| PairOutcome {
                first: 0,
                second: 1,
                score: if game < 240 { 1.0 } else { 0.0 },
            })
            .collect();
        let fit = bradley_terry_fit(2, &outcomes, 2_000, 0.95, 5).expect("valid");
        let half_width = fit.intervals[0].half_width();
        assert!((half_width - 0.100).abs() < 0.012, "{half_width}");
        assert!((fit.strengths[0] - 0.5 * (1.5f64).ln()).abs() < 1e-9);
        assert!((fit.win_probability_top_two.expect("two players") - 0.6).abs() < 1e-9);
    }

    #[test]
    fn ranks_separate_only_where_intervals_do() {
        // Two clearly separated groups of two identical players each.
        let outcomes = expected_outcomes(&[1.5, 1.5, -1.5, -1.5], 300);
        let fit = bradley_terry_fit(4, &outcomes, 300, 0.95, 9).expect("valid");
        assert_eq!(fit.ranks, vec![1, 1, 3, 3], "{fit:?}");
        // Clearly separated players: every rank distinct.
        let outcomes = expected_outcomes(&[2.0, 0.5, -1.0], 400);
        let fit = bradley_terry_fit(3, &outcomes, 300, 0.95, 9).expect("valid");
        assert_eq!(fit.ranks, vec![1, 2, 3], "{fit:?}");
        let expected = logistic(fit.strengths[0] - fit.strengths[1]);
        assert_eq!(fit.win_probability_top_two, Some(expected));
    }

    #[test]
    // The bootstrap works on the win matrix, never the outcome list: unoptimised this takes about
    // 0.15 s on the shared 2-core machine (release: 0.09 s there, under load); a fit that walked the 5,000
    // outcomes in its iterations would take many seconds.
    fn ten_players_five_thousand_comparisons_and_a_thousand_resamples_rank_the_strongest_first() {
        let strengths: Vec<f64> = (0..10).map(|player| 0.15 * player as f64).collect();
        let mut random = SeededRandom::new(77);
        let outcomes: Vec<PairOutcome> = (0..5_000)
            .map(|_| {
                let first = random.index(10) as usize;
                let second = (first + 1 + random.index(9) as usize) % 10;
                let draw = random.unit();
                let probability = logistic(strengths[first] - strengths[second]);
                let score = if draw < 0.1 {
                    0.5
                } else if draw < 0.1 + 0.9 * probability {
                    1.0
                } else {
                    0.0
                };
                PairOutcome { first, second, score }
            })
            .collect();
        let fit = bradley_terry_fit(10, &outcomes, 1_000, 0.95, 1).expect("valid");
        assert!(fit.strengths[9] > fit.strengths[0]);
        assert_eq!(fit.ranks[9], 1, "{:?}", fit.ranks);
        assert!(fit.ranks[0] > 1, "{:?}", fit.ranks);
    }

    #[test]
    fn win_rates_count_ties_as_halves() {
        let outcomes = [
            PairOutcome {
                first: 0,
                second: 1,
                score: 1.0,
            },
            PairOutcome {
                first: 1,
                second: 0,
                score: 0.5,
            },
            PairOutcome {
                first: 2,
                second: 0,
                score: 0.0,
            },
            PairOutcome {
                first: 1,
                second: 2,
                score: 0.5,
            },
        ];
        let rates = win_rates(4, &outcomes, 0.95).expect("valid");
        let scores: Vec<(f64, u64)> = rates.iter().map(|rate| (rate.score, rate.comparisons)).collect();
        assert_eq!(scores, vec![(2.5, 3), (1.0, 3), (0.5, 2), (0.0, 0)]);
        let first = rates[0].estimate.expect("compared");
        assert_eq!(first.value, 2.5 / 3.0);
        assert_eq!(
            first.interval,
            wilson_interval_fractional(2.5, 3.0, 0.95).expect("valid")
        );
        assert_eq!(rates[3].estimate, None);
        assert!(win_rates(4, &outcomes, 0.0).is_err());
    }

    #[test]
    fn position_bias_matches_scipy_and_statsmodels() {
        // scipy 1.17 binomtest(first, first + second, 0.5) and statsmodels Wilson (panels.py).
        for (first, second, lower, upper, p_value) in [
            (60, 40, 0.5020025867910618, 0.6905987135675411, 0.05688793364098089),
            (130, 70, 0.5816346433604008, 0.7127117587264192, 2.6528755595268727e-05),
            (7, 3, 0.39677814746114537, 0.8922087325936989, 0.34375),
            (0, 5, 0.0, 0.43448246478317487, 0.0625),
            (500, 500, 0.4690696003681042, 0.5309303996318958, 1.0),
        ] {
            let bias = position_bias(first, second).expect("valid");
            assert_eq!(bias.decided, first + second);
            assert_eq!(bias.share, first as f64 / (first + second) as f64);
            assert!((bias.interval.lower - lower).abs() < 1e-12 && (bias.interval.upper - upper).abs() < 1e-12);
            assert!((bias.p_value - p_value).abs() <= 1e-9 * p_value, "{bias:?}");
        }
        assert!(position_bias(0, 0).is_err());
        assert!(position_bias(u64::MAX, 1).is_err());
    }

    #[test]
    fn comparisons_to_separate_follow_the_normal_approximation() {
        // ⌈((z₀.₉₇₅ · 0.5 + z_power · √(p(1 − p))) / (p − 0.5))²⌉ (reference/panels.py prints
        // them with the normal-approximation power at n, just over the target, and at n − 1, just
        // under): p = 0.6 → 194, 0.55 → 783, 0.3 at power 0.9 → 62, 0.99 at α = 0.01 → 8.
        assert_eq!(comparisons_to_separate(0.6, 0.05, 0.8), Some(194));
        assert_eq!(comparisons_to_separate(0.4, 0.05, 0.8), Some(194));
        assert_eq!(comparisons_to_separate(0.55, 0.05, 0.8), Some(783));
        assert_eq!(comparisons_to_separate(0.3, 0.05, 0.9), Some(62));
        assert_eq!(comparisons_to_separate(0.99, 0.01, 0.8), Some(8));
        assert_eq!(comparisons_to_separate(1.0, 0.05, 0.8), Some(4));
        assert_eq!(comparisons_to_separate(0.5, 0.05, 0.8), None);
        for (p, alpha, power) in [
            (f64::NAN, 0.05, 0.8),
            (1.2, 0.05, 0.8),
            (0.6, 0.0, 0.8),
            (0.6, 0.05, 1.0),
        ] {
            assert_eq!(comparisons_to_separate(p, alpha, power), None);
        }
    }

    proptest! {
        #[test]
        fn the_fit_is_finite_centred_and_reproducible_for_any_valid_outcomes(
            raw in prop::collection::vec((0usize..5, 0usize..5, 0u8..3), 1..60),
        ) {
            let outcomes: Vec<PairOutcome> = raw
                .into_iter()
                .filter(|(first, second, _)| first != second)
                .map(|(first, second, score)| PairOutcome { first, second, score: f64::from(score) / 2.0 })
                .collect();
            prop_assume!(!outcomes.is_empty());
            let fit = bradley_terry_fit(5, &outcomes, 20, 0.95, 4).expect("valid");
            prop_assert!(fit.strengths.iter().all(|strength| strength.is_finite()));
            prop_assert!(fit.strengths.iter().sum::<f64>().abs() < 1e-9);
            prop_assert!(fit.intervals.iter().all(|interval| interval.lower <= interval.upper && interval.upper.is_finite()));
            prop_assert!(fit.ranks.iter().all(|&rank| (1..=5).contains(&rank)));
            prop_assert_eq!(fit.strengths.clone(), bradley_terry(5, &outcomes).expect("valid"));
        }
    }

    include!("reference/pairwise_values.rs");
}
