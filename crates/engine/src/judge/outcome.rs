//! A judge run's answers read back into results. `texts[i]` is the judge's completed answer to
//! prompt `i` (`None`: not sent yet, or it failed), `items[i]` what that prompt asked.
//!
//! Pairwise: a pair is judged when both of its orders were answered. A target wins only when
//! both orders name it; both orders saying tie is a tie; orders that disagree are a tie too (the
//! judge followed the position, not the answer), and count against its position consistency.
//! An order the judge's answer cannot be read for makes the pair unparsed.

use std::collections::{BTreeMap, HashMap};

use serde::Serialize;

use super::item::{JudgeItem, is_judged};
use super::verdict::{Winner, parse_check, parse_pairwise, parse_rubric};
use crate::model::event::ResponseKey;
use crate::suite::{Case, CheckOutcome};

/// What a pair came to, by target.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PairOutcome {
    FirstWins,
    SecondWins,
    Tie,
    Unparsed,
}

/// One test's pair of targets (`first` < `second`, target indexes), judged in both orders.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct JudgedPair {
    pub case_index: u32,
    pub first: u32,
    pub second: u32,
    pub outcome: PairOutcome,
    /// Both orders gave the same verdict about the answers (false when one is unparsed).
    pub orders_agree: bool,
    /// The judge's reasons, first's answer shown as A then as B; or why an answer was unread.
    pub reasons: [Option<String>; 2],
}

/// A target's pairwise record over every judged pair it is in.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct PairTally {
    pub target_index: u32,
    pub wins: u64,
    pub ties: u64,
    pub losses: u64,
    pub unparsed: u64,
    /// Of its parsed pairs, the share whose two orders agreed; `None` with none.
    pub position_consistency: Option<f64>,
}

/// One order's verdict, by target: `Some(first)`, `Some(second)` or `None` for a tie.
type Preference = Option<u32>;

/// The pairs whose two orders were both answered, in test then pair order.
pub fn judged_pairs(items: &[JudgeItem], texts: &[Option<String>]) -> Vec<JudgedPair> {
    // (case, first, second) → [unswapped, swapped]: the parsed preference or why not.
    type Orders = [Option<Result<(Preference, Option<String>), String>>; 2];
    let mut orders: BTreeMap<(u32, u32, u32), Orders> = BTreeMap::new();
    for (item, text) in items.iter().zip(texts) {
        let JudgeItem::Pair {
            case_index,
            first,
            second,
            swapped,
        } = *item
        else {
            continue;
        };
        let Some(text) = text else { continue };
        let read = parse_pairwise(text).map(|verdict| {
            let (shown_a, shown_b) = if swapped { (second, first) } else { (first, second) };
            let preference = match verdict.winner {
                Winner::A => Some(shown_a),
                Winner::B => Some(shown_b),
                Winner::Tie => None,
            };
            (preference, verdict.reason)
        });
        orders.entry((case_index, first, second)).or_default()[usize::from(swapped)] = Some(read);
    }
    orders
        .into_iter()
        .filter_map(|((case_index, first, second), [unswapped, swapped])| {
            let (unswapped, swapped) = (unswapped?, swapped?);
            let reason = |read: &Result<(Preference, Option<String>), String>| match read {
                Ok((_, reason)) => reason.clone(),
                Err(error) => Some(error.clone()),
            };
            let reasons = [reason(&unswapped), reason(&swapped)];
            let (outcome, orders_agree) = match (unswapped, swapped) {
                (Ok((one, _)), Ok((other, _))) if one == other => (
                    match one {
                        Some(winner) if winner == first => PairOutcome::FirstWins,
                        Some(_) => PairOutcome::SecondWins,
                        None => PairOutcome::Tie,
                    },
                    true,
                ),
                (Ok(_), Ok(_)) => (PairOutcome::Tie, false),
                _ => (PairOutcome::Unparsed, false),
            };
            Some(JudgedPair {
                case_index,
                first,
                second,
                outcome,
                orders_agree,
                reasons,
            })
        })
        .collect()
}

/// One tally per target index.
fn per_target<T>(target_count: usize, tally: impl Fn(u32) -> T) -> Vec<T> {
    (0..target_count)
        .map(|index| tally(u32::try_from(index).unwrap_or(u32::MAX)))
        .collect()
}

/// Each of `target_count` targets' wins, ties, losses and position consistency.
pub fn pair_tallies(pairs: &[JudgedPair], target_count: usize) -> Vec<PairTally> {
    let mut tallies = per_target(target_count, |target_index| PairTally {
        target_index,
        ..PairTally::default()
    });
    let mut agreed = vec![0_u64; target_count];
    for pair in pairs {
        for (me, won, lost) in [
            (pair.first, PairOutcome::FirstWins, PairOutcome::SecondWins),
            (pair.second, PairOutcome::SecondWins, PairOutcome::FirstWins),
        ] {
            let Some(tally) = tallies.get_mut(me as usize) else {
                continue;
            };
            match pair.outcome {
                PairOutcome::Unparsed => tally.unparsed += 1,
                PairOutcome::Tie => tally.ties += 1,
                outcome if outcome == won => tally.wins += 1,
                outcome if outcome == lost => tally.losses += 1,
                _ => {}
            }
            if pair.orders_agree {
                agreed[me as usize] += 1;
            }
        }
    }
    for (tally, agreed) in tallies.iter_mut().zip(agreed) {
        let parsed = tally.wins + tally.ties + tally.losses;
        tally.position_consistency = (parsed > 0).then(|| agreed as f64 / parsed as f64);
    }
    tallies
}

/// One answer's rubric scores, or why the judge's answer could not be read.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct RubricScore {
    pub case_index: u32,
    pub target_index: u32,
    pub scores: BTreeMap<String, u8>,
    pub reason: Option<String>,
    /// Set when the judge's answer could not be read (`scores` is then empty).
    pub unparsed: Option<String>,
}

/// A target's mean score per criterion over its scored answers.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct RubricTally {
    pub target_index: u32,
    pub scored: u64,
    pub unparsed: u64,
    pub mean: BTreeMap<String, f64>,
}

pub fn rubric_scores(items: &[JudgeItem], texts: &[Option<String>], criteria: &[String]) -> Vec<RubricScore> {
    items
        .iter()
        .zip(texts)
        .filter_map(|(item, text)| {
            let JudgeItem::Rubric {
                case_index,
                target_index,
            } = *item
            else {
                return None;
            };
            let text = text.as_ref()?;
            Some(match parse_rubric(text, criteria) {
                Ok(verdict) => RubricScore {
                    case_index,
                    target_index,
                    scores: verdict.scores,
                    reason: verdict.reason,
                    unparsed: None,
                },
                Err(error) => RubricScore {
                    case_index,
                    target_index,
                    scores: BTreeMap::new(),
                    reason: None,
                    unparsed: Some(error),
                },
            })
        })
        .collect()
}

pub fn rubric_tallies(scores: &[RubricScore], target_count: usize) -> Vec<RubricTally> {
    let mut tallies = per_target(target_count, |target_index| RubricTally {
        target_index,
        ..RubricTally::default()
    });
    let mut sums: Vec<BTreeMap<String, f64>> = vec![BTreeMap::new(); target_count];
    for score in scores {
        let Some(tally) = tallies.get_mut(score.target_index as usize) else {
            continue;
        };
        if score.unparsed.is_some() {
            tally.unparsed += 1;
            continue;
        }
        tally.scored += 1;
        for (criterion, value) in &score.scores {
            *sums[score.target_index as usize].entry(criterion.clone()).or_default() += f64::from(*value);
        }
    }
    for (tally, sums) in tallies.iter_mut().zip(sums) {
        let scored = tally.scored as f64;
        tally.mean = sums.into_iter().map(|(name, sum)| (name, sum / scored)).collect();
    }
    tallies
}

/// An `llm-rubric` check's verdict on one response.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct JudgedCheck {
    pub key: ResponseKey,
    pub check_index: usize,
    pub outcome: CheckOutcome,
}

/// The `llm-rubric` checks the judge answered, as the checks' outcomes: passed when the judge
/// says `pass` (and, with the check's `threshold`, its `score` reaches it; with only a score,
/// when it reaches the threshold or 0.5), inverted for `not-llm-rubric`. An answer that cannot
/// be read leaves the check unevaluated, saying why.
pub fn judged_checks(
    items: &[JudgeItem],
    texts: &[Option<String>],
    cases: &[Case],
    judge: &str,
) -> HashMap<(ResponseKey, usize), CheckOutcome> {
    let mut outcomes = HashMap::new();
    for (item, text) in items.iter().zip(texts) {
        let JudgeItem::Check {
            case_index,
            target_index,
            repeat_index,
            check_index,
        } = *item
        else {
            continue;
        };
        let (Some(text), Some(check)) = (
            text,
            cases
                .get(case_index as usize)
                .and_then(|case| case.checks.get(check_index as usize))
                .filter(|check| is_judged(check)),
        ) else {
            continue;
        };
        let outcome = match parse_check(text) {
            Ok(verdict) => {
                let threshold = check.threshold;
                let meets = |score: f64| score + 1e-9 >= threshold.unwrap_or(0.5);
                let fact = match (verdict.pass, verdict.score) {
                    (Some(pass), Some(score)) if threshold.is_some() => pass && meets(score),
                    (Some(pass), _) => pass,
                    (None, Some(score)) => meets(score),
                    (None, None) => false,
                };
                let score = verdict
                    .score
                    .map(|score| format!(" (score {score})"))
                    .unwrap_or_default();
                let said = verdict.reason.unwrap_or_else(|| "no reason given".to_owned());
                CheckOutcome {
                    passed: Some(fact != check.negated),
                    reason: format!("judge {judge}{score}: {said}"),
                }
            }
            Err(error) => CheckOutcome {
                passed: None,
                reason: format!("judge {judge}'s answer could not be read: {error}"),
            },
        };
        let key = ResponseKey {
            prompt_index: case_index,
            target_index,
            repeat_index,
        };
        outcomes.insert((key, check_index as usize), outcome);
    }
    outcomes
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pair(case_index: u32, first: u32, second: u32, swapped: bool) -> JudgeItem {
        JudgeItem::Pair {
            case_index,
            first,
            second,
            swapped,
        }
    }

    fn texts(answers: &[Option<&str>]) -> Vec<Option<String>> {
        answers.iter().map(|text| text.map(str::to_owned)).collect()
    }

    #[test]
    fn a_win_counts_only_when_both_orders_name_the_same_answer() {
        let items = [
            // Test 0: target 1 preferred in both orders.
            pair(0, 0, 1, false),
            pair(0, 0, 1, true),
            // Test 1: the judge always says A: a position, not a preference.
            pair(1, 0, 1, false),
            pair(1, 0, 1, true),
            // Test 2: tie both ways.
            pair(2, 0, 1, false),
            pair(2, 0, 1, true),
            // Test 3: one order unreadable.
            pair(3, 0, 1, false),
            pair(3, 0, 1, true),
            // Test 4: only one order answered yet (a budget stop).
            pair(4, 0, 1, false),
            pair(4, 0, 1, true),
        ];
        let answers = texts(&[
            Some(r#"{"winner": "B", "reason": "b is right"}"#),
            Some("A"),
            Some("A"),
            Some("A"),
            Some("tie"),
            Some("{\"winner\": \"tie\"}"),
            Some("B"),
            Some("no idea"),
            Some("A"),
            None,
        ]);
        let pairs = judged_pairs(&items, &answers);
        let outcomes: Vec<(u32, PairOutcome, bool)> = pairs
            .iter()
            .map(|pair| (pair.case_index, pair.outcome, pair.orders_agree))
            .collect();
        assert_eq!(
            outcomes,
            [
                (0, PairOutcome::SecondWins, true),
                (1, PairOutcome::Tie, false),
                (2, PairOutcome::Tie, true),
                (3, PairOutcome::Unparsed, false),
            ]
        );
        assert_eq!(pairs[0].reasons[0].as_deref(), Some("b is right"));
        assert!(
            pairs[3].reasons[1]
                .as_deref()
                .is_some_and(|reason| reason.contains("no idea"))
        );

        let tallies = pair_tallies(&pairs, 2);
        assert_eq!(
            (tallies[0].wins, tallies[0].ties, tallies[0].losses, tallies[0].unparsed),
            (0, 2, 1, 1)
        );
        assert_eq!(
            (tallies[1].wins, tallies[1].ties, tallies[1].losses, tallies[1].unparsed),
            (1, 2, 0, 1)
        );
        // Two of the three parsed pairs agreed across orders.
        assert_eq!(tallies[1].position_consistency, Some(2.0 / 3.0));
    }

    #[test]
    fn a_first_target_preferred_in_both_orders_wins() {
        let items = [pair(0, 1, 2, false), pair(0, 1, 2, true)];
        let pairs = judged_pairs(&items, &texts(&[Some("A"), Some("B")]));
        assert_eq!(pairs[0].outcome, PairOutcome::FirstWins);
        let tallies = pair_tallies(&pairs, 3);
        assert_eq!(tallies[1].wins, 1);
        assert_eq!(tallies[2].losses, 1);
        assert_eq!(tallies[0].position_consistency, None);
    }

    #[test]
    fn rubric_scores_average_per_target_and_unreadable_answers_are_counted() {
        let criteria = vec!["accuracy".to_owned()];
        let items = [
            JudgeItem::Rubric {
                case_index: 0,
                target_index: 0,
            },
            JudgeItem::Rubric {
                case_index: 1,
                target_index: 0,
            },
            JudgeItem::Rubric {
                case_index: 0,
                target_index: 1,
            },
        ];
        let scores = rubric_scores(
            &items,
            &texts(&[
                Some(r#"{"scores": {"accuracy": 4}}"#),
                Some(r#"{"scores": {"accuracy": 2}, "reason": "wrong year"}"#),
                Some("great"),
            ]),
            &criteria,
        );
        assert_eq!(scores[1].reason.as_deref(), Some("wrong year"));
        let tallies = rubric_tallies(&scores, 2);
        assert_eq!(tallies[0].mean["accuracy"], 3.0);
        assert_eq!((tallies[1].scored, tallies[1].unparsed), (0, 1));
        assert!(tallies[1].mean.is_empty());
    }

    #[test]
    fn llm_rubric_checks_take_the_judges_pass_threshold_and_negation() {
        let suite = crate::suite::Suite::parse(
            "tests:\n  - prompt: one\n    checks:\n      - {type: llm-rubric, value: polite}\n      - {type: llm-rubric, value: kind, threshold: 0.9}\n      - {type: not-llm-rubric, value: rude}\n      - {type: llm-rubric, value: calm}\n",
            crate::suite::SuiteFormat::Yaml,
            None,
        )
        .expect("suite");
        let check = |check_index: u32| JudgeItem::Check {
            case_index: 0,
            target_index: 0,
            repeat_index: 0,
            check_index,
        };
        let items = [check(0), check(1), check(2), check(3)];
        let outcomes = judged_checks(
            &items,
            &texts(&[
                Some(r#"{"pass": true, "score": 0.8, "reason": "polite enough"}"#),
                Some(r#"{"pass": true, "score": 0.8}"#),
                Some(r#"{"pass": false, "score": 0.1}"#),
                Some("hmm"),
            ]),
            suite.suite.cases(),
            "grader",
        );
        let key = ResponseKey {
            prompt_index: 0,
            target_index: 0,
            repeat_index: 0,
        };
        let outcome = |index: usize| outcomes[&(key, index)].clone();
        assert_eq!(outcome(0).passed, Some(true));
        assert_eq!(outcome(0).reason, "judge grader (score 0.8): polite enough");
        assert_eq!(outcome(1).passed, Some(false), "0.8 is under the threshold 0.9");
        assert_eq!(outcome(2).passed, Some(true), "not-llm-rubric inverts");
        assert_eq!(outcome(3).passed, None);
        assert!(outcome(3).reason.contains("could not be read"));
    }
}
