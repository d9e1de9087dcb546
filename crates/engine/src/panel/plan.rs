//! Which answers a panel shows, to whom, in which order.
//!
//! Every rater of a panel rates the same items (so every item has several ratings and agreement
//! can be measured), each in their own seeded order. A pairwise item is one test's answers from
//! two targets; a rubric item is one test's answers from every chosen target. Positions are
//! balanced: each item has a seeded base order and rater r sees it rotated r places, so with two
//! raters or more each pair appears in both orders, and in a rubric item each answer takes each
//! position in turn.

use serde::{Deserialize, Serialize};
use ts_rs::TS;

use crate::stats::SeededRandom;

/// What raters do with an item.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "lowercase")]
#[ts(export)]
pub enum PanelKind {
    /// Two answers: A, B or a tie, optionally with a reason.
    Pairwise,
    /// Each answer scored 1–5 on every criterion.
    Rubric,
}

impl PanelKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pairwise => "pairwise",
            Self::Rubric => "rubric",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "pairwise" => Some(Self::Pairwise),
            "rubric" => Some(Self::Rubric),
            _ => None,
        }
    }
}

/// A named rubric criterion and what it means for the raters.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Criterion {
    pub name: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub description: String,
}

/// The criteria of a rubric: `--rubric` text that is either a comma-separated list of names
/// (`accuracy,clarity`) or a rubric file's text, one criterion per line as `name: description`
/// (blank lines and `#` comments skipped; a leading `- ` is allowed). Names are unique.
pub fn parse_criteria(text: &str) -> Result<Vec<Criterion>, String> {
    let mut criteria: Vec<Criterion> = Vec::new();
    let single_line = !text.trim().contains('\n');
    let entries: Vec<&str> = if single_line && !text.contains(':') {
        text.split(',').collect()
    } else {
        text.lines().collect()
    };
    for entry in entries {
        let entry = entry.trim();
        let entry = entry.strip_prefix("- ").unwrap_or(entry).trim();
        if entry.is_empty() || entry.starts_with('#') {
            continue;
        }
        let (name, description) = match entry.split_once(':') {
            Some((name, description)) => (name.trim(), description.trim()),
            None => (entry, ""),
        };
        if name.is_empty() {
            return Err(format!("rubric line '{entry}' has no criterion name before ':'"));
        }
        if name.chars().count() > 60 {
            return Err(format!("criterion name '{name}' is longer than 60 characters"));
        }
        if criteria.iter().any(|criterion| criterion.name == name) {
            return Err(format!("criterion '{name}' is given twice"));
        }
        criteria.push(Criterion {
            name: name.to_owned(),
            description: description.to_owned(),
        });
    }
    if criteria.is_empty() {
        return Err("the rubric names no criterion".to_owned());
    }
    Ok(criteria)
}

/// One answer a panel shows: a target's answer to a test, and which repeat it was.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AnswerRef {
    pub target_index: u32,
    pub repeat_index: u32,
}

/// One item: a test and the answers it compares, in target order.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Item {
    pub index: u32,
    pub case_index: u32,
    pub answers: Vec<AnswerRef>,
}

/// Item `item` shown to one rater at `position` (0-based) of their packet; `order[k]` is the
/// index into the item's `answers` shown with label k (A, B, … or 1, 2, …).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Shown {
    pub item: u32,
    pub order: Vec<u32>,
}

/// A panel's items and, per rater (in the order given), what each sees.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PanelPlan {
    pub items: Vec<Item>,
    pub packets: Vec<Vec<Shown>>,
}

/// What to build a panel from.
pub struct PlanInput<'a> {
    pub kind: PanelKind,
    /// The session's cases to draw items from (indices into the suite's cases).
    pub cases: &'a [u32],
    /// The session's targets to compare (target indices), at least two.
    pub targets: &'a [u32],
    /// The answer of (case, target) that a panel shows, if there is one.
    pub answer: &'a dyn Fn(u32, u32) -> Option<AnswerRef>,
    pub raters: usize,
    /// Items per rater (`None`: every item).
    pub items_per_rater: Option<usize>,
    pub seed: u64,
}

/// Plans a panel. Errors say what is missing (no items, too few targets or raters).
pub fn plan(input: &PlanInput<'_>) -> Result<PanelPlan, String> {
    if input.targets.len() < 2 {
        return Err("a panel compares at least two targets".to_owned());
    }
    if input.raters == 0 {
        return Err("a panel needs at least one rater".to_owned());
    }
    let mut random = SeededRandom::new(input.seed);
    let mut candidates: Vec<(u32, Vec<AnswerRef>)> = Vec::new();
    for &case in input.cases {
        let answers: Vec<AnswerRef> = input
            .targets
            .iter()
            .filter_map(|&target| (input.answer)(case, target))
            .collect();
        match input.kind {
            PanelKind::Pairwise => {
                for (first, a) in answers.iter().enumerate() {
                    for b in &answers[first + 1..] {
                        candidates.push((case, vec![*a, *b]));
                    }
                }
            }
            PanelKind::Rubric => {
                if !answers.is_empty() {
                    candidates.push((case, answers));
                }
            }
        }
    }
    if candidates.is_empty() {
        return Err(
            "the session has no test with answers from the chosen targets to compare (a panel shows only complete answers)"
                .to_owned(),
        );
    }
    shuffle(&mut candidates, &mut random);
    if let Some(limit) = input.items_per_rater {
        if limit == 0 {
            return Err("--items must be at least 1".to_owned());
        }
        candidates.truncate(limit);
    }
    // Items in a stable order (by test, then by the answers' targets) so their numbering reads well.
    candidates.sort_by(|a, b| {
        (a.0, a.1.iter().map(|answer| answer.target_index).collect::<Vec<_>>())
            .cmp(&(b.0, b.1.iter().map(|answer| answer.target_index).collect::<Vec<_>>()))
    });
    let items: Vec<Item> = candidates
        .into_iter()
        .enumerate()
        .map(|(index, (case_index, answers))| Item {
            index: index as u32,
            case_index,
            answers,
        })
        .collect();
    // Per item: a seeded flip (pairwise) or base order (rubric).
    let bases: Vec<Vec<u32>> = items
        .iter()
        .map(|item| {
            let mut order: Vec<u32> = (0..item.answers.len() as u32).collect();
            shuffle(&mut order, &mut random);
            order
        })
        .collect();
    let packets = (0..input.raters)
        .map(|rater| rater_view(&items, &bases, rater, &mut random))
        .collect();
    Ok(PanelPlan { items, packets })
}

/// What rater number `rater` sees: every item with its base order rotated `rater` places, the
/// items in an order of their own.
fn rater_view(items: &[Item], bases: &[Vec<u32>], rater: usize, random: &mut SeededRandom) -> Vec<Shown> {
    let mut shown: Vec<Shown> = items
        .iter()
        .zip(bases)
        .map(|(item, base)| {
            let mut order = base.clone();
            let len = order.len().max(1);
            order.rotate_left(rater % len);
            Shown {
                item: item.index,
                order,
            }
        })
        .collect();
    shuffle(&mut shown, random);
    shown
}

/// What a rater who joins a planned panel later sees, as [`plan`] would have shown rater number
/// `rater`: the items' base orders are those the panel's first rater sees (rotated 0 places),
/// rotated `rater` places, so positions stay balanced; the items come in an order seeded by the
/// panel's seed and the rater's number.
pub fn add_rater(items: &[Item], first_rater: &[Shown], rater: usize, seed: u64) -> Result<Vec<Shown>, String> {
    let bases = items
        .iter()
        .map(|item| {
            first_rater
                .iter()
                .find(|shown| shown.item == item.index)
                .map(|shown| shown.order.clone())
                .ok_or_else(|| format!("the panel's first rater does not see item {}", item.index + 1))
        })
        .collect::<Result<Vec<_>, String>>()?;
    // Golden-ratio spacing keeps each rater's stream apart from the others' and the plan's own.
    let mut random = SeededRandom::new(seed ^ (rater as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15));
    Ok(rater_view(items, &bases, rater, &mut random))
}

/// Fisher–Yates with the stats layer's seeded, version-stable indices.
fn shuffle<T>(values: &mut [T], random: &mut SeededRandom) {
    for last in (1..values.len()).rev() {
        let other = random.index(last as u32 + 1) as usize;
        values.swap(last, other);
    }
}

#[cfg(test)]
mod tests {
    use std::collections::{BTreeMap, BTreeSet};

    use super::*;

    fn input<'a>(
        kind: PanelKind,
        cases: &'a [u32],
        targets: &'a [u32],
        answer: &'a dyn Fn(u32, u32) -> Option<AnswerRef>,
        raters: usize,
        items: Option<usize>,
    ) -> PlanInput<'a> {
        PlanInput {
            kind,
            cases,
            targets,
            answer,
            raters,
            items_per_rater: items,
            seed: 7,
        }
    }

    fn every_answer(_case: u32, target: u32) -> Option<AnswerRef> {
        Some(AnswerRef {
            target_index: target,
            repeat_index: 0,
        })
    }

    #[test]
    fn a_pairwise_panel_pairs_every_two_targets_on_every_test_and_shows_each_pair_both_ways() {
        let cases = [0, 1, 2, 3];
        let targets = [0, 1, 2];
        let plan = plan(&input(PanelKind::Pairwise, &cases, &targets, &every_answer, 2, None)).expect("a value");
        assert_eq!(plan.items.len(), 4 * 3);
        let pairs: BTreeSet<(u32, u32, u32)> = plan
            .items
            .iter()
            .map(|item| {
                (
                    item.case_index,
                    item.answers[0].target_index,
                    item.answers[1].target_index,
                )
            })
            .collect();
        assert_eq!(pairs.len(), 12);
        assert!(pairs.iter().all(|(_, a, b)| a < b));
        for item in &plan.items {
            let orders: BTreeSet<Vec<u32>> = plan
                .packets
                .iter()
                .map(|packet| {
                    packet
                        .iter()
                        .find(|shown| shown.item == item.index)
                        .expect("a value")
                        .order
                        .clone()
                })
                .collect();
            assert_eq!(orders, BTreeSet::from([vec![0, 1], vec![1, 0]]), "item {item:?}");
        }
        // The raters see the items in different orders, and the first position is not always
        // the lower target.
        assert_ne!(
            plan.packets[0].iter().map(|shown| shown.item).collect::<Vec<_>>(),
            plan.packets[1].iter().map(|shown| shown.item).collect::<Vec<_>>()
        );
        let first_shown_low = plan.packets[0].iter().filter(|shown| shown.order == [0, 1]).count();
        assert!(first_shown_low > 0 && first_shown_low < 12, "{first_shown_low}");
    }

    #[test]
    fn rubric_answers_rotate_so_each_takes_every_position() {
        let cases = [0, 1];
        let targets = [0, 1, 2];
        let plan = plan(&input(PanelKind::Rubric, &cases, &targets, &every_answer, 3, None)).expect("a value");
        assert_eq!(plan.items.len(), 2);
        for item in &plan.items {
            let mut positions: BTreeMap<u32, BTreeSet<usize>> = BTreeMap::new();
            for packet in &plan.packets {
                let shown = packet.iter().find(|shown| shown.item == item.index).expect("a value");
                for (position, answer) in shown.order.iter().enumerate() {
                    positions.entry(*answer).or_default().insert(position);
                }
            }
            assert!(positions.values().all(|seen| seen.len() == 3), "{positions:?}");
        }
    }

    #[test]
    fn missing_answers_are_left_out_and_items_are_capped_the_same_for_every_rater() {
        let cases = [0, 1, 2];
        let targets = [0, 1];
        let answer = |case: u32, target: u32| (case != 1 || target != 1).then(|| every_answer(case, target)).flatten();
        let all = plan(&input(PanelKind::Pairwise, &cases, &targets, &answer, 2, None)).expect("a value");
        assert_eq!(
            all.items.iter().map(|item| item.case_index).collect::<Vec<_>>(),
            vec![0, 2]
        );
        let capped = plan(&input(PanelKind::Pairwise, &cases, &targets, &answer, 3, Some(1))).expect("a value");
        assert_eq!(capped.items.len(), 1);
        assert!(capped.packets.iter().all(|packet| packet.len() == 1));
    }

    #[test]
    fn the_same_seed_plans_the_same_panel_and_another_seed_another() {
        let cases: Vec<u32> = (0..10).collect();
        let targets = [0, 1, 2];
        let one = plan(&input(PanelKind::Pairwise, &cases, &targets, &every_answer, 3, Some(8))).expect("a value");
        let again = plan(&input(PanelKind::Pairwise, &cases, &targets, &every_answer, 3, Some(8))).expect("a value");
        assert_eq!(one, again);
        let mut other_input = input(PanelKind::Pairwise, &cases, &targets, &every_answer, 3, Some(8));
        other_input.seed = 8;
        assert_ne!(one, plan(&other_input).expect("a value"));
    }

    #[test]
    fn a_panel_without_two_targets_raters_or_answers_is_refused() {
        let none = |_: u32, _: u32| None;
        assert!(plan(&input(PanelKind::Pairwise, &[0], &[0], &every_answer, 2, None)).is_err());
        assert!(plan(&input(PanelKind::Pairwise, &[0], &[0, 1], &every_answer, 0, None)).is_err());
        let error = plan(&input(PanelKind::Pairwise, &[0], &[0, 1], &none, 2, None)).expect_err("an error");
        assert!(error.contains("no test with answers"), "{error}");
        assert!(plan(&input(PanelKind::Pairwise, &[0], &[0, 1], &every_answer, 2, Some(0))).is_err());
    }

    #[test]
    fn a_rater_added_later_rotates_the_first_raters_orders_in_an_order_of_their_own() {
        let cases: Vec<u32> = (0..6).collect();
        let targets = [0, 1, 2];
        for kind in [PanelKind::Pairwise, PanelKind::Rubric] {
            let planned = plan(&input(kind, &cases, &targets, &every_answer, 3, None)).expect("a value");
            for rater in 1..3 {
                let added = add_rater(&planned.items, &planned.packets[0], rater, 7).expect("a value");
                let by_item = |shown: &[Shown]| -> BTreeMap<u32, Vec<u32>> {
                    shown.iter().map(|view| (view.item, view.order.clone())).collect()
                };
                // The same answers in the same places as the planned rater of that number.
                assert_eq!(
                    by_item(&added),
                    by_item(&planned.packets[rater]),
                    "{kind:?} rater {rater}"
                );
            }
            let again = add_rater(&planned.items, &planned.packets[0], 3, 7).expect("a value");
            assert_eq!(
                again,
                add_rater(&planned.items, &planned.packets[0], 3, 7).expect("a value")
            );
            assert_ne!(
                again.iter().map(|view| view.item).collect::<Vec<_>>(),
                add_rater(&planned.items, &planned.packets[0], 4, 7)
                    .expect("a value")
                    .iter()
                    .map(|view| view.item)
                    .collect::<Vec<_>>(),
                "each rater has an item order of their own"
            );
        }
        assert!(
            add_rater(
                &[Item {
                    index: 0,
                    case_index: 0,
                    answers: Vec::new()
                }],
                &[],
                1,
                7
            )
            .is_err()
        );
    }

    #[test]
    fn criteria_come_from_a_list_or_a_rubric_file() {
        let listed = parse_criteria("accuracy, clarity").expect("a value");
        assert_eq!(
            listed
                .iter()
                .map(|criterion| criterion.name.as_str())
                .collect::<Vec<_>>(),
            ["accuracy", "clarity"]
        );
        let file = "# our rubric\n- accuracy: facts are right\n\nclarity: easy to follow\n";
        let parsed = parse_criteria(file).expect("a value");
        assert_eq!(parsed[0].description, "facts are right");
        assert_eq!(parsed[1].name, "clarity");
        assert!(parse_criteria("a,a").expect_err("an error").contains("twice"));
        assert!(parse_criteria("  \n# only a comment\n").is_err());
        assert!(parse_criteria(": no name").is_err());
    }
}
