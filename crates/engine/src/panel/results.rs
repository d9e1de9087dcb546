//! What a panel's ratings say: per target, win rate with a Wilson interval and a Bradley-Terry
//! strength with a seeded bootstrap interval and the rank those intervals separate; the panel's
//! Krippendorff's alpha (nominal for pairwise, ordinal for rubric scores); each rater's agreement
//! with the rest (flagged at chance level); the share of decided pairs won by the answer shown
//! first; and how many more comparisons would separate the top two.
//!
//! A rubric panel ranks too: within an item, the answer with the higher mean score over the
//! criteria wins against each other answer (equal means tie), the pairs fed to the same fit.

use serde::Serialize;

use super::plan::{Criterion, Item, PanelKind};
use crate::stats::{
    self, BradleyTerryFit, Estimate, Interval, Level, PairOutcome, PositionBias, RaterAgreement, StatsError,
};

/// Bootstrap resamples of the Bradley-Terry fit.
pub const RESAMPLES: usize = 1_000;
/// The level of every interval.
pub const CONFIDENCE: f64 = 0.95;

/// One rating, in the items' terms.
#[derive(Clone, Debug, PartialEq)]
pub struct Rating {
    /// The rater's position in the panel's rater list.
    pub rater: usize,
    pub item: u32,
    /// Pairwise: the index into the item's answers that won; `None` for a tie.
    pub winner: Option<u32>,
    /// The index into the item's answers shown first.
    pub first_shown: u32,
    /// Rubric: (answer index, criterion, score 1–5).
    pub scores: Vec<(u32, String, u8)>,
}

/// What the results are computed from.
pub struct ResultsInput<'a> {
    pub kind: PanelKind,
    pub criteria: &'a [Criterion],
    /// The compared targets' names, indexed like `targets`.
    pub target_names: &'a [String],
    /// The compared targets as session target indices (the items' `target_index` values).
    pub targets: &'a [u32],
    pub items: &'a [Item],
    pub raters: &'a [String],
    pub ratings: &'a [Rating],
    pub seed: u64,
}

#[derive(Clone, Debug, Serialize)]
pub struct CriterionScore {
    pub criterion: String,
    pub mean: f64,
    pub scores: u64,
}

/// One target's figures.
#[derive(Clone, Debug, Serialize)]
pub struct TargetResult {
    pub target: String,
    /// Pairwise comparisons it took part in (rubric: derived from the scores).
    pub comparisons: u64,
    pub wins: u64,
    pub ties: u64,
    pub losses: u64,
    /// Wins plus half the ties over comparisons, with its Wilson interval.
    pub win_rate: Option<Estimate>,
    /// Bradley-Terry log-strength (mean 0 over the targets).
    pub strength: Option<f64>,
    pub strength_interval: Option<Interval>,
    /// 1 + the targets whose interval lies wholly above this one's.
    pub rank: Option<usize>,
    /// Rubric: the mean score over every criterion, and per criterion.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mean_score: Option<f64>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub criteria: Vec<CriterionScore>,
}

#[derive(Clone, Debug, Serialize)]
pub struct RaterResult {
    pub rater: String,
    pub rated: u64,
    /// Agreement with the rest of the panel (`None` when nothing could be compared).
    pub agreement: Option<RaterAgreement>,
    /// Pairwise: the share of this rater's decided ratings won by the answer shown first.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub first_shown_share: Option<f64>,
}

#[derive(Clone, Debug, Serialize)]
pub struct Agreement {
    /// `nominal` (pairwise choices) or `ordinal` (rubric scores).
    pub level: &'static str,
    pub alpha: Option<f64>,
    /// Units (items, or item × answer × criterion) rated by two raters or more.
    pub units: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// How far the panel is from separating its top two.
#[derive(Clone, Debug, Serialize)]
pub struct Separation {
    pub first: String,
    pub second: String,
    /// P(first beats second) from the fit.
    pub win_probability: f64,
    /// Whether their intervals already separate (different ranks).
    pub separated: bool,
    /// Comparisons between those two the panel has.
    pub comparisons: u64,
    /// Comparisons between them a two-sided test at 5% with 80% power needs at the observed
    /// win probability; `None` when it is ½ (no number separates equals).
    pub comparisons_needed: Option<u64>,
}

#[derive(Clone, Debug, Serialize)]
pub struct PanelResults {
    pub kind: PanelKind,
    pub items: u64,
    pub raters: u64,
    pub ratings: u64,
    pub seed: u64,
    pub resamples: usize,
    /// Best first: by rank, then strength.
    pub targets: Vec<TargetResult>,
    pub agreement: Agreement,
    pub rater_agreement: Vec<RaterResult>,
    /// Pairwise: the share of decided ratings won by the answer shown first.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub position_bias: Option<PositionBias>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub separation: Option<Separation>,
    /// How each LLM judge of the session (of the panel's kind) agrees with the panel (filled by
    /// the caller, which knows the judges: [`judge_agreement`], [`rubric_judge_agreement`]).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub judges: Vec<JudgeAgreement>,
    /// Whether the fit needed its prior (a target won or lost every comparison, or targets were
    /// never compared): its strengths are then shrunk toward each other.
    pub regularized: bool,
    pub notes: Vec<String>,
}

/// How far an alpha can be relied on, by Krippendorff's own lines (0.8, and 0.667 for tentative
/// conclusions).
pub fn alpha_reading(alpha: f64) -> &'static str {
    if alpha >= 0.8 {
        "reliable"
    } else if alpha >= 0.667 {
        "tentative"
    } else {
        "too low to rely on"
    }
}

/// The results of a panel's ratings.
pub fn results(input: &ResultsInput<'_>) -> PanelResults {
    let players = input.targets.len();
    let player_of = |target_index: u32| input.targets.iter().position(|&target| target == target_index);
    let mut notes = Vec::new();
    let mut outcomes: Vec<PairOutcome> = Vec::new();
    let mut first_wins = 0u64;
    let mut second_wins = 0u64;
    let mut per_rater_first = vec![(0u64, 0u64); input.raters.len()];
    let mut rated = vec![0u64; input.raters.len()];
    // Unit values per rater.
    let mut unit_index: std::collections::HashMap<(u32, u32, String), usize> = std::collections::HashMap::new();
    let mut units: Vec<Vec<Option<u32>>> = Vec::new();
    let mut score_sums: Vec<Vec<(f64, u64)>> = vec![vec![(0.0, 0); input.criteria.len()]; players];
    for rating in input.ratings {
        let Some(item) = input.items.get(rating.item as usize) else {
            continue;
        };
        if let Some(count) = rated.get_mut(rating.rater) {
            *count += 1;
        }
        let players_of_item: Vec<Option<usize>> = item
            .answers
            .iter()
            .map(|answer| player_of(answer.target_index))
            .collect();
        match input.kind {
            PanelKind::Pairwise => {
                let (Some(Some(first)), Some(Some(second))) = (players_of_item.first(), players_of_item.get(1)) else {
                    continue;
                };
                let score = match rating.winner {
                    Some(0) => 1.0,
                    Some(_) => 0.0,
                    None => 0.5,
                };
                outcomes.push(PairOutcome {
                    first: *first,
                    second: *second,
                    score,
                });
                if let Some(winner) = rating.winner {
                    let by_first = winner == rating.first_shown;
                    if by_first {
                        first_wins += 1;
                    } else {
                        second_wins += 1;
                    }
                    if let Some(counts) = per_rater_first.get_mut(rating.rater) {
                        if by_first {
                            counts.0 += 1;
                        } else {
                            counts.1 += 1;
                        }
                    }
                }
                let value = rating
                    .winner
                    .map_or(2, |winner| winner.min(1) ^ orientation(input.seed, rating.item));
                set_unit(
                    &mut units,
                    &mut unit_index,
                    (rating.item, 0, String::new()),
                    rating.rater,
                    input.raters.len(),
                    value,
                );
            }
            PanelKind::Rubric => {
                let mut means: Vec<(usize, f64)> = Vec::new();
                for (answer, _) in item.answers.iter().enumerate() {
                    let scores: Vec<&(u32, String, u8)> = rating
                        .scores
                        .iter()
                        .filter(|(index, _, _)| *index as usize == answer)
                        .collect();
                    let Some(Some(player)) = players_of_item.get(answer) else {
                        continue;
                    };
                    for (_, criterion, score) in &scores {
                        if let Some(position) = input.criteria.iter().position(|known| &known.name == criterion) {
                            let slot = &mut score_sums[*player][position];
                            slot.0 += f64::from(*score);
                            slot.1 += 1;
                        }
                        set_unit(
                            &mut units,
                            &mut unit_index,
                            (rating.item, answer as u32, criterion.clone()),
                            rating.rater,
                            input.raters.len(),
                            u32::from(*score),
                        );
                    }
                    if !scores.is_empty() {
                        let mean =
                            scores.iter().map(|(_, _, score)| f64::from(*score)).sum::<f64>() / scores.len() as f64;
                        means.push((*player, mean));
                    }
                }
                for (at, (first, first_mean)) in means.iter().enumerate() {
                    for (second, second_mean) in &means[at + 1..] {
                        let score = if first_mean > second_mean {
                            1.0
                        } else if first_mean < second_mean {
                            0.0
                        } else {
                            0.5
                        };
                        outcomes.push(PairOutcome {
                            first: *first,
                            second: *second,
                            score,
                        });
                    }
                }
            }
        }
    }

    let mut targets: Vec<TargetResult> = input
        .target_names
        .iter()
        .map(|name| TargetResult {
            target: name.clone(),
            comparisons: 0,
            wins: 0,
            ties: 0,
            losses: 0,
            win_rate: None,
            strength: None,
            strength_interval: None,
            rank: None,
            mean_score: None,
            criteria: Vec::new(),
        })
        .collect();
    for outcome in &outcomes {
        for (player, won) in [(outcome.first, outcome.score), (outcome.second, 1.0 - outcome.score)] {
            let target = &mut targets[player];
            target.comparisons += 1;
            if won == 1.0 {
                target.wins += 1;
            } else if won == 0.0 {
                target.losses += 1;
            } else {
                target.ties += 1;
            }
        }
    }
    if let Ok(rates) = stats::win_rates(players, &outcomes, CONFIDENCE) {
        for (target, rate) in targets.iter_mut().zip(rates) {
            target.win_rate = rate.estimate;
        }
    }
    let mut regularized = false;
    let mut fit: Option<BradleyTerryFit> = None;
    match stats::bradley_terry_fit(players, &outcomes, RESAMPLES, CONFIDENCE, input.seed) {
        Ok(found) => {
            regularized = found.regularized;
            for (player, target) in targets.iter_mut().enumerate() {
                target.strength = found.strengths.get(player).copied();
                target.strength_interval = found.intervals.get(player).copied();
                target.rank = found.ranks.get(player).copied();
            }
            fit = Some(found);
        }
        Err(error) => notes.push(format!("no ranking yet: {}", describe(&error))),
    }
    if regularized {
        notes.push(
            "a target won or lost every comparison (or some were never compared): the ranking adds one tied comparison between every two targets, so strengths are shrunk toward each other"
                .to_owned(),
        );
    }
    if input.kind == PanelKind::Rubric {
        for (player, target) in targets.iter_mut().enumerate() {
            let (sum, count) = score_sums[player]
                .iter()
                .fold((0.0, 0u64), |(sum, count), (s, n)| (sum + s, count + n));
            target.mean_score = (count > 0).then(|| sum / count as f64);
            target.criteria = input
                .criteria
                .iter()
                .zip(&score_sums[player])
                .filter(|(_, (_, n))| *n > 0)
                .map(|(criterion, (sum, n))| CriterionScore {
                    criterion: criterion.name.clone(),
                    mean: sum / *n as f64,
                    scores: *n,
                })
                .collect();
        }
    }

    let level = match input.kind {
        PanelKind::Pairwise => Level::Nominal,
        PanelKind::Rubric => Level::Ordinal,
    };
    let pairable = units.iter().filter(|unit| unit.iter().flatten().count() >= 2).count() as u64;
    let (alpha, note) = if input.raters.len() < 2 {
        (None, Some("one rater: agreement needs two or more".to_owned()))
    } else {
        match stats::krippendorff_alpha(&units, level) {
            Ok(alpha) => (Some(alpha), None),
            Err(error) => (None, Some(describe(&error))),
        }
    };
    let agreements = if input.raters.len() >= 2 {
        stats::rater_agreement(&units)
    } else {
        Vec::new()
    };
    let rater_agreement = input
        .raters
        .iter()
        .enumerate()
        .map(|(index, rater)| {
            let (first, second) = per_rater_first[index];
            RaterResult {
                rater: rater.clone(),
                rated: rated[index],
                agreement: agreements
                    .get(index)
                    .copied()
                    .filter(|agreement| agreement.compared > 0),
                first_shown_share: (input.kind == PanelKind::Pairwise && first + second > 0)
                    .then(|| first as f64 / (first + second) as f64),
            }
        })
        .collect();
    let position_bias = (input.kind == PanelKind::Pairwise)
        .then(|| stats::position_bias(first_wins, second_wins).ok())
        .flatten();

    let separation = fit.as_ref().and_then(|fit| {
        let mut order: Vec<usize> = (0..players).collect();
        order.sort_by(|a, b| fit.strengths[*b].total_cmp(&fit.strengths[*a]));
        let (&first, &second) = (order.first()?, order.get(1)?);
        let win_probability = fit.win_probability_top_two?;
        let comparisons = outcomes
            .iter()
            .filter(|outcome| {
                (outcome.first == first && outcome.second == second)
                    || (outcome.first == second && outcome.second == first)
            })
            .count() as u64;
        Some(Separation {
            first: input.target_names[first].clone(),
            second: input.target_names[second].clone(),
            win_probability,
            separated: fit.ranks[first] != fit.ranks[second],
            comparisons,
            comparisons_needed: stats::comparisons_to_separate(win_probability, 0.05, 0.8),
        })
    });

    let mut order: Vec<usize> = (0..targets.len()).collect();
    order.sort_by(|a, b| {
        let (a, b) = (&targets[*a], &targets[*b]);
        a.rank.unwrap_or(usize::MAX).cmp(&b.rank.unwrap_or(usize::MAX)).then(
            b.strength
                .unwrap_or(f64::NEG_INFINITY)
                .total_cmp(&a.strength.unwrap_or(f64::NEG_INFINITY)),
        )
    });
    let mut slots: Vec<Option<TargetResult>> = targets.into_iter().map(Some).collect();
    let targets = order.into_iter().filter_map(|index| slots[index].take()).collect();
    PanelResults {
        kind: input.kind,
        items: input.items.len() as u64,
        raters: input.raters.len() as u64,
        ratings: input.ratings.len() as u64,
        seed: input.seed,
        resamples: RESAMPLES,
        targets,
        agreement: Agreement {
            level: match level {
                Level::Nominal => "nominal",
                _ => "ordinal",
            },
            alpha,
            units: pairable,
            note,
        },
        rater_agreement,
        position_bias,
        separation,
        judges: Vec::new(),
        regularized,
        notes,
    }
}

/// How a judge agrees with a pairwise panel on the items both rated.
#[derive(Clone, Debug, Serialize)]
pub struct JudgeAgreement {
    pub judge: String,
    /// Items (rubric: answer × criterion) with the panel's verdict and a readable one of the judge.
    pub items: u64,
    /// The share of those where the judge's verdict is the panel's.
    pub agreement: Option<f64>,
    /// Cohen's kappa between the judge and the panel: pairwise, the panel's majority (first
    /// target wins, second wins, tie; a split panel counts as a tie); rubric, the panel's median
    /// score per answer and criterion.
    pub kappa: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// A judge's verdict on a test's pair: `(case index, first target, second target, verdict)` with
/// `first < second` (session target indices) and the verdict 0 = first wins, 1 = second wins,
/// 2 = tie.
pub type JudgedVerdict = (u32, u32, u32, u32);

/// Cohen's kappa between `judge`'s verdicts and the panel's majority on the items both rated.
pub fn judge_agreement(judge: &str, items: &[Item], ratings: &[Rating], verdicts: &[JudgedVerdict]) -> JudgeAgreement {
    let mut counts: std::collections::HashMap<u32, [u32; 3]> = std::collections::HashMap::new();
    for rating in ratings {
        let value = rating.winner.map_or(2, |winner| winner.min(1)) as usize;
        counts.entry(rating.item).or_insert([0; 3])[value] += 1;
    }
    let by_pair: std::collections::HashMap<(u32, u32, u32), u32> = verdicts
        .iter()
        .map(|&(case, first, second, verdict)| ((case, first, second), verdict))
        .collect();
    let mut pairs: Vec<(u32, u32)> = Vec::new();
    for item in items {
        let (Some(first), Some(second)) = (item.answers.first(), item.answers.get(1)) else {
            continue;
        };
        let (Some(tally), Some(&verdict)) = (
            counts.get(&item.index),
            by_pair.get(&(item.case_index, first.target_index, second.target_index)),
        ) else {
            continue;
        };
        let most = *tally.iter().max().unwrap_or(&0);
        let leaders: Vec<usize> = (0..3).filter(|&value| tally[value] == most).collect();
        let panel = if leaders.len() == 1 { leaders[0] as u32 } else { 2 };
        pairs.push((panel, verdict));
    }
    agreement_of(judge, &pairs)
}

/// A judge's rubric score: `(case index, session target index, criterion, score 1–5)`.
pub type JudgedScore = (u32, u32, String, u8);

/// Cohen's kappa between a rubric judge's scores and the panel's median score (the lower median
/// for an even number of raters) per answer and criterion both scored; unweighted, so a score one
/// off counts as a disagreement.
pub fn rubric_judge_agreement(
    judge: &str,
    items: &[Item],
    ratings: &[Rating],
    scores: &[JudgedScore],
) -> JudgeAgreement {
    let mut panel: std::collections::HashMap<(u32, u32, &str), Vec<u8>> = std::collections::HashMap::new();
    for rating in ratings {
        let Some(item) = items.get(rating.item as usize) else {
            continue;
        };
        for (answer, criterion, score) in &rating.scores {
            if let Some(target) = item.answers.get(*answer as usize) {
                panel
                    .entry((item.case_index, target.target_index, criterion.as_str()))
                    .or_default()
                    .push(*score);
            }
        }
    }
    let pairs: Vec<(u32, u32)> = scores
        .iter()
        .filter_map(|(case, target, criterion, score)| {
            let mut given = panel.get(&(*case, *target, criterion.as_str()))?.clone();
            given.sort_unstable();
            Some((u32::from(given[(given.len() - 1) / 2]), u32::from(*score)))
        })
        .collect();
    agreement_of(judge, &pairs)
}

fn agreement_of(judge: &str, pairs: &[(u32, u32)]) -> JudgeAgreement {
    let agreement = (!pairs.is_empty())
        .then(|| pairs.iter().filter(|(panel, judge)| panel == judge).count() as f64 / pairs.len() as f64);
    let (kappa, note) = match stats::cohen_kappa(pairs) {
        Ok(kappa) => (Some(kappa), None),
        Err(error) => (None, Some(describe(&error))),
    };
    JudgeAgreement {
        judge: judge.to_owned(),
        items: pairs.len() as u64,
        agreement,
        kappa,
        note,
    }
}

/// Which way round an item's pair is coded for alpha (0 or 1), fixed per panel and item. Coding
/// every item with its lower target first would make a panel where one target always wins look
/// like one value throughout, whose agreement is undefined; a seeded orientation gives the
/// categories the balance a blind rater's left and right have.
fn orientation(seed: u64, item: u32) -> u32 {
    // SplitMix64's finaliser of the seed and the item.
    let mut z = seed ^ (u64::from(item).wrapping_add(1)).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    ((z ^ (z >> 31)) & 1) as u32
}

fn set_unit(
    units: &mut Vec<Vec<Option<u32>>>,
    index: &mut std::collections::HashMap<(u32, u32, String), usize>,
    key: (u32, u32, String),
    rater: usize,
    raters: usize,
    value: u32,
) {
    let at = *index.entry(key).or_insert_with(|| {
        units.push(vec![None; raters]);
        units.len() - 1
    });
    if let Some(slot) = units[at].get_mut(rater) {
        *slot = Some(value);
    }
}

fn describe(error: &StatsError) -> String {
    match error {
        StatsError::TooFewValues { .. } => "too few ratings yet".to_owned(),
        StatsError::Undefined(_) => "every rating has the same value, so agreement is undefined".to_owned(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::panel::plan::AnswerRef;

    fn item(index: u32, case_index: u32, targets: &[u32]) -> Item {
        Item {
            index,
            case_index,
            answers: targets
                .iter()
                .map(|&target_index| AnswerRef {
                    target_index,
                    repeat_index: 0,
                })
                .collect(),
        }
    }

    /// Six tests × the three pairs of three targets.
    fn pair_items() -> Vec<Item> {
        let mut items = Vec::new();
        for case in 0..6 {
            for pair in [[0, 1], [0, 2], [1, 2]] {
                items.push(item(items.len() as u32, case, &pair));
            }
        }
        items
    }

    fn names() -> Vec<String> {
        ["best", "middle", "worst"].map(str::to_owned).to_vec()
    }

    fn raters() -> Vec<String> {
        ["alice", "bob", "carol"].map(str::to_owned).to_vec()
    }

    /// The results of a pairwise panel of `names()` rated by `raters()`.
    fn pairwise(items: &[Item], ratings: &[Rating], seed: u64) -> PanelResults {
        let (names, raters) = (names(), raters());
        results(&ResultsInput {
            kind: PanelKind::Pairwise,
            criteria: &[],
            target_names: &names,
            targets: &[0, 1, 2],
            items,
            raters: &raters,
            ratings,
            seed,
        })
    }

    /// A rater who prefers the lower target index, shown in alternating orders.
    fn by_rule(rater: usize, items: &[Item]) -> Vec<Rating> {
        items
            .iter()
            .map(|item| Rating {
                rater,
                item: item.index,
                winner: Some(0),
                first_shown: (item.index + rater as u32) % 2,
                scores: Vec::new(),
            })
            .collect()
    }

    #[test]
    fn raters_who_agree_give_alpha_one_and_the_ranking_their_choices_imply() {
        let items = pair_items();
        let ratings: Vec<Rating> = (0..3).flat_map(|rater| by_rule(rater, &items)).collect();
        let results = pairwise(&items, &ratings, 3);
        assert_eq!(results.ratings, 54);
        let order: Vec<&str> = results.targets.iter().map(|target| target.target.as_str()).collect();
        assert_eq!(order, ["best", "middle", "worst"]);
        let best = &results.targets[0];
        // best meets middle and worst on 6 tests each, rated by 3 raters: 36 wins.
        assert_eq!((best.wins, best.ties, best.losses, best.comparisons), (36, 0, 0, 36));
        assert_eq!(best.win_rate.expect("a value").value, 1.0);
        let middle = &results.targets[1];
        assert_eq!((middle.wins, middle.losses), (18, 18));
        assert_eq!(middle.win_rate.expect("a value").value, 0.5);
        assert!(results.regularized, "best won everything: the fit needs its prior");
        assert_eq!(results.agreement.alpha, Some(1.0));
        assert_eq!(results.agreement.units, 18);
        assert!(results.rater_agreement.iter().all(|rater| {
            let agreement = rater.agreement.expect("a value");
            agreement.observed == 1.0 && !agreement.chance_level
        }));
        // Half the decided pairs had their winner shown first.
        let bias = results.position_bias.expect("a value");
        assert_eq!(bias.decided, 54);
        assert!((bias.share - 0.5).abs() < 0.05, "{bias:?}");
        let separation = results.separation.expect("a value");
        assert_eq!(
            (separation.first.as_str(), separation.second.as_str()),
            ("best", "middle")
        );
        assert_eq!(separation.comparisons, 18);
        assert!(separation.win_probability > 0.5);
    }

    #[test]
    fn a_rater_who_always_picks_a_is_flagged_and_the_panel_shows_position_bias() {
        let items = pair_items();
        let mut ratings: Vec<Rating> = (0..2).flat_map(|rater| by_rule(rater, &items)).collect();
        ratings.extend(items.iter().map(|item| {
            let first_shown = (item.index + 2) % 2;
            Rating {
                rater: 2,
                item: item.index,
                winner: Some(first_shown),
                first_shown,
                scores: Vec::new(),
            }
        }));
        let results = pairwise(&items, &ratings, 3);
        let alpha = results.agreement.alpha.expect("a value");
        assert!(alpha < 0.9, "{alpha}");
        let carol = &results.rater_agreement[2];
        assert_eq!(carol.first_shown_share, Some(1.0));
        assert!(carol.agreement.expect("a value").chance_level, "{carol:?}");
        assert!(!results.rater_agreement[0].agreement.expect("a value").chance_level);
        assert!(results.position_bias.expect("a value").share > 0.6);
    }

    #[test]
    fn a_rubric_panel_ranks_by_mean_score_and_measures_ordinal_agreement() {
        let items: Vec<Item> = (0..5).map(|case| item(case, case, &[0, 1, 2])).collect();
        let criteria = vec![
            Criterion {
                name: "accuracy".to_owned(),
                description: String::new(),
            },
            Criterion {
                name: "clarity".to_owned(),
                description: String::new(),
            },
        ];
        let mut ratings = Vec::new();
        for rater in 0..2 {
            for item in &items {
                let mut scores = Vec::new();
                for (answer, score) in [(0u32, 5u8), (1, 2), (2, 4)] {
                    for criterion in ["accuracy", "clarity"] {
                        // bob is one point harsher on clarity.
                        let given = if rater == 1 && criterion == "clarity" {
                            score - 1
                        } else {
                            score
                        };
                        scores.push((answer, criterion.to_owned(), given));
                    }
                }
                ratings.push(Rating {
                    rater,
                    item: item.index,
                    winner: None,
                    first_shown: 0,
                    scores,
                });
            }
        }
        let names = names();
        let raters = vec!["alice".to_owned(), "bob".to_owned()];
        let results = results(&ResultsInput {
            kind: PanelKind::Rubric,
            criteria: &criteria,
            target_names: &names,
            targets: &[0, 1, 2],
            items: &items,
            raters: &raters,
            ratings: &ratings,
            seed: 1,
        });
        let order: Vec<&str> = results.targets.iter().map(|target| target.target.as_str()).collect();
        assert_eq!(order, ["best", "worst", "middle"], "by mean score: 5, 4, 2");
        assert_eq!(results.targets[0].mean_score, Some((5.0 * 3.0 + 4.0) / 4.0));
        assert_eq!(results.targets[0].criteria[0].mean, 5.0);
        assert_eq!(results.agreement.level, "ordinal");
        let alpha = results.agreement.alpha.expect("a value");
        assert!(alpha > 0.5 && alpha < 1.0, "{alpha}");
        assert!(results.position_bias.is_none());
    }

    #[test]
    fn a_judge_is_compared_with_the_panels_majority_on_the_items_both_rated() {
        let items = pair_items();
        let mut ratings: Vec<Rating> = (0..2).flat_map(|rater| by_rule(rater, &items)).collect();
        // carol dissents on item 0: the panel's majority there is still the first target.
        ratings.extend(by_rule(2, &items).into_iter().map(|mut rating| {
            if rating.item == 0 {
                rating.winner = Some(1);
            }
            rating
        }));
        // The judge agrees on cases 0–3, calls case 4 a tie, and never judged case 5.
        let verdicts: Vec<JudgedVerdict> = items
            .iter()
            .filter(|item| item.case_index < 5)
            .map(|item| {
                let verdict = if item.case_index == 4 { 2 } else { 0 };
                (
                    item.case_index,
                    item.answers[0].target_index,
                    item.answers[1].target_index,
                    verdict,
                )
            })
            .collect();
        let agreement = judge_agreement("judge", &items, &ratings, &verdicts);
        assert_eq!(agreement.items, 15);
        assert_eq!(agreement.agreement, Some(12.0 / 15.0));
        // Every panel verdict is "first wins": no variation on the panel's side, so kappa is 0
        // (sklearn's cohen_kappa_score([0]*15, [0]*12 + [2]*3) == 0.0).
        assert_eq!(agreement.kappa, Some(0.0));
        let nothing = judge_agreement("judge", &items, &ratings, &[]);
        assert_eq!((nothing.items, nothing.agreement, nothing.kappa), (0, None, None));
        assert!(nothing.note.is_some());
    }

    #[test]
    fn a_rubric_judge_is_compared_with_the_panels_median_score() {
        let items: Vec<Item> = (0..2).map(|case| item(case, case, &[0, 2])).collect();
        let rate = |rater: usize, item: u32, first: u8, second: u8| Rating {
            rater,
            item,
            winner: None,
            first_shown: 0,
            scores: vec![(0, "accuracy".to_owned(), first), (1, "accuracy".to_owned(), second)],
        };
        // Medians: case 0 → target 0: 4, target 2: 2; case 1 → target 0: 5, target 2: 1.
        let ratings = vec![
            rate(0, 0, 4, 2),
            rate(1, 0, 4, 3),
            rate(2, 0, 5, 1),
            rate(0, 1, 5, 1),
            rate(1, 1, 5, 1),
        ];
        let scores: Vec<JudgedScore> = vec![
            (0, 0, "accuracy".to_owned(), 4),
            (0, 2, "accuracy".to_owned(), 2),
            (1, 0, "accuracy".to_owned(), 5),
            (1, 2, "accuracy".to_owned(), 2),
            (1, 2, "clarity".to_owned(), 3),
        ];
        let agreement = rubric_judge_agreement("judge", &items, &ratings, &scores);
        // Panel (4, 2, 5, 1) against judge (4, 2, 5, 2); the clarity score has no panel score.
        assert_eq!(agreement.items, 4);
        assert_eq!(agreement.agreement, Some(0.75));
        // sklearn cohen_kappa_score([4, 2, 5, 1], [4, 2, 5, 2]) = 0.6666666666666667
        assert!((agreement.kappa.expect("kappa") - 2.0 / 3.0).abs() < 1e-12);
    }

    #[test]
    fn no_ratings_yet_give_notes_not_numbers() {
        let items = pair_items();
        let results = pairwise(&items, &[], 1);
        assert!(
            results
                .targets
                .iter()
                .all(|target| target.rank.is_none() && target.win_rate.is_none())
        );
        assert!(results.agreement.alpha.is_none());
        assert!(!results.notes.is_empty());
    }
}
