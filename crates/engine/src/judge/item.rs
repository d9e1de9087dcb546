//! What a judge run asks: one item per prompt of its run, in prompt order. The items are stored
//! with the run (as JSON), so its answers can be read back into results whatever happened
//! between (a budget stop, a resume, a new release).
//!
//! Which answer of a (test, target) is judged: the response with the lowest repeat that
//! completed with text, the rule the panels use too. Pairs and answers without one are skipped
//! and counted.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use super::prompt::{Rubric, check_prompt, pairwise_prompt, rubric_prompt};
use crate::model::event::ResponseKey;
use crate::model::record::ResponseRecord;
use crate::model::request::Prompt;
use crate::suite::Case;

/// What a judge run does.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum JudgeMode {
    /// Every test × every pair of targets, asked in both orders.
    Pairwise,
    /// Every test × every target, scored on a rubric's criteria.
    Rubric,
    /// The suite's `llm-rubric` checks on every completed answer.
    Checks,
}

impl JudgeMode {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pairwise => "pairwise",
            Self::Rubric => "rubric",
            Self::Checks => "checks",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "pairwise" => Some(Self::Pairwise),
            "rubric" => Some(Self::Rubric),
            "checks" => Some(Self::Checks),
            _ => None,
        }
    }
}

/// One judge call: what its prompt shows.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum JudgeItem {
    /// The answers of targets `first` < `second` to one test; `swapped`: `second`'s is shown as A.
    Pair {
        case_index: u32,
        first: u32,
        second: u32,
        swapped: bool,
    },
    Rubric {
        case_index: u32,
        target_index: u32,
    },
    /// The `check_index`th check of the case, an `llm-rubric`, on one response.
    Check {
        case_index: u32,
        target_index: u32,
        repeat_index: u32,
        check_index: u32,
    },
}

/// The answer judged for each (test, target): its repeat and text.
#[derive(Clone, Debug, Default)]
pub struct Answers {
    chosen: HashMap<(u32, u32), (u32, String)>,
}

impl Answers {
    /// Takes one stored response; it replaces the one chosen when its repeat is lower.
    pub fn add(&mut self, record: &ResponseRecord) {
        if !record.complete || record.text.trim().is_empty() {
            return;
        }
        let place = (record.key.prompt_index, record.key.target_index);
        let lower = self
            .chosen
            .get(&place)
            .is_none_or(|(repeat, _)| record.key.repeat_index < *repeat);
        if lower {
            self.chosen
                .insert(place, (record.key.repeat_index, record.text.clone()));
        }
    }

    pub fn get(&self, case_index: u32, target_index: u32) -> Option<&str> {
        self.chosen
            .get(&(case_index, target_index))
            .map(|(_, text)| text.as_str())
    }
}

/// A judge run's prompts, each with its item, and how many were skipped for want of an answer.
#[derive(Clone, Debug, Default)]
pub struct Planned {
    pub items: Vec<JudgeItem>,
    pub prompts: Vec<Prompt>,
    pub skipped: u64,
}

impl Planned {
    fn push(&mut self, item: JudgeItem, prompt: Prompt) {
        self.items.push(item);
        self.prompts.push(prompt);
    }
}

fn index(value: usize) -> u32 {
    u32::try_from(value).unwrap_or(u32::MAX)
}

/// Every test × every pair of targets (first < second), each asked twice: first's answer as A,
/// then as B. A pair without both answers is skipped.
pub fn plan_pairwise(cases: &[Case], target_count: usize, answers: &Answers) -> Planned {
    let mut planned = Planned::default();
    for (case_index, case) in cases.iter().enumerate() {
        let case_index = index(case_index);
        for first in 0..index(target_count) {
            for second in first + 1..index(target_count) {
                let (Some(first_answer), Some(second_answer)) =
                    (answers.get(case_index, first), answers.get(case_index, second))
                else {
                    planned.skipped += 1;
                    continue;
                };
                for swapped in [false, true] {
                    let (a, b) = if swapped {
                        (second_answer, first_answer)
                    } else {
                        (first_answer, second_answer)
                    };
                    planned.push(
                        JudgeItem::Pair {
                            case_index,
                            first,
                            second,
                            swapped,
                        },
                        pairwise_prompt(&case.prompt, a, b),
                    );
                }
            }
        }
    }
    planned
}

/// Every test × every target scored on `rubric`. An answer missing is skipped.
pub fn plan_rubric(cases: &[Case], target_count: usize, answers: &Answers, rubric: &Rubric) -> Planned {
    let mut planned = Planned::default();
    for (case_index, case) in cases.iter().enumerate() {
        let case_index = index(case_index);
        for target_index in 0..index(target_count) {
            match answers.get(case_index, target_index) {
                Some(answer) => planned.push(
                    JudgeItem::Rubric {
                        case_index,
                        target_index,
                    },
                    rubric_prompt(rubric, &case.prompt, answer),
                ),
                None => planned.skipped += 1,
            }
        }
    }
    planned
}

/// Whether a check is graded by a judge here: `llm-rubric` (and `not-llm-rubric`) at a test's
/// top level. Inside an `assert-set` it stays unevaluated.
pub(super) fn is_judged(check: &crate::suite::Check) -> bool {
    check.type_name.strip_prefix("not-").unwrap_or(&check.type_name) == "llm-rubric"
}

/// The rubric text of an `llm-rubric` check: its value as written.
fn rubric_text(check: &crate::suite::Check) -> String {
    match &check.value {
        Some(serde_json::Value::String(text)) => text.clone(),
        Some(other) => other.to_string(),
        None => String::new(),
    }
}

/// Every `llm-rubric` check of every completed answer in `responses` (all repeats: a check is
/// graded on each answer, as the session's other checks are), in the responses' order.
pub fn plan_checks<'a>(cases: &[Case], responses: impl IntoIterator<Item = &'a ResponseRecord>) -> Planned {
    let mut planned = Planned::default();
    let mut keys: Vec<&ResponseRecord> = responses.into_iter().collect();
    keys.sort_by_key(|record| {
        let ResponseKey {
            prompt_index,
            target_index,
            repeat_index,
        } = record.key;
        (repeat_index, prompt_index, target_index)
    });
    for record in keys {
        let Some(case) = cases.get(record.key.prompt_index as usize) else {
            continue;
        };
        for (check_index, check) in case.checks.iter().enumerate() {
            if !is_judged(check) {
                continue;
            }
            if !record.complete {
                planned.skipped += 1;
                continue;
            }
            planned.push(
                JudgeItem::Check {
                    case_index: record.key.prompt_index,
                    target_index: record.key.target_index,
                    repeat_index: record.key.repeat_index,
                    check_index: index(check_index),
                },
                check_prompt(&rubric_text(check), &record.text),
            );
        }
    }
    planned
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::suite::Suite;

    pub(crate) fn response(case: u32, target: u32, repeat: u32, text: &str, complete: bool) -> ResponseRecord {
        let key = ResponseKey {
            prompt_index: case,
            target_index: target,
            repeat_index: repeat,
        };
        serde_json::from_value(serde_json::json!({
            "run_id": crate::model::record::RunId::new(), "key": key, "target": "t", "provider": "openai",
            "model": "m", "request_id": null, "reported_model": null, "region": null, "text": text,
            "reasoning": "", "tool_calls": [], "finish_reason": null, "raw_finish_reason": null,
            "usage": crate::model::event::Usage::default(), "metrics": crate::model::record::Metrics::default(),
            "complete": complete, "error": null, "attempts": 1, "unsupported_parameters": [],
            "started_at_ms": 0, "finished_at_ms": 0,
        }))
        .expect("a response record")
    }

    fn cases(yaml: &str) -> Vec<Case> {
        Suite::parse(yaml, crate::suite::SuiteFormat::Yaml, None)
            .expect("suite")
            .suite
            .cases()
            .to_vec()
    }

    #[test]
    fn the_lowest_completed_repeat_with_text_is_the_answer_judged() {
        let mut answers = Answers::default();
        answers.add(&response(0, 0, 2, "third", true));
        answers.add(&response(0, 0, 0, "", true));
        answers.add(&response(0, 0, 1, "second", true));
        answers.add(&response(0, 1, 0, "failed", false));
        assert_eq!(answers.get(0, 0), Some("second"));
        assert_eq!(answers.get(0, 1), None);
    }

    #[test]
    fn every_pair_of_every_test_is_asked_in_both_orders_and_pairs_without_answers_are_skipped() {
        let cases = cases("tests:\n  - prompt: one\n  - prompt: two\n");
        let mut answers = Answers::default();
        for target in 0..3 {
            answers.add(&response(0, target, 0, &format!("answer {target}"), true));
        }
        answers.add(&response(1, 0, 0, "only one", true));
        answers.add(&response(1, 2, 0, "and two", true));
        let planned = plan_pairwise(&cases, 3, &answers);
        // Test one: 3 pairs × 2 orders; test two: only (0, 2) has both answers.
        assert_eq!(planned.items.len(), 8);
        assert_eq!(planned.skipped, 2);
        assert_eq!(
            planned.items[..2],
            [
                JudgeItem::Pair {
                    case_index: 0,
                    first: 0,
                    second: 1,
                    swapped: false
                },
                JudgeItem::Pair {
                    case_index: 0,
                    first: 0,
                    second: 1,
                    swapped: true
                },
            ]
        );
        let text = |index: usize| planned.prompts[index].messages[0].content.clone();
        assert!(text(0).contains("<answer_a>\nanswer 0\n</answer_a>\n\n<answer_b>\nanswer 1\n"));
        assert!(text(1).contains("<answer_a>\nanswer 1\n</answer_a>\n\n<answer_b>\nanswer 0\n"));
        assert!(text(6).contains("<question>\ntwo\n</question>"));
        assert!(text(7).contains("<answer_a>\nand two\n"));
    }

    #[test]
    fn rubric_items_are_one_per_answer() {
        let cases = cases("tests:\n  - prompt: one\n");
        let mut answers = Answers::default();
        answers.add(&response(0, 1, 0, "b", true));
        let rubric = Rubric::parse("- accuracy: right").expect("rubric");
        let planned = plan_rubric(&cases, 2, &answers, &rubric);
        assert_eq!(
            planned.items,
            [JudgeItem::Rubric {
                case_index: 0,
                target_index: 1
            }]
        );
        assert_eq!(planned.skipped, 1);
    }

    #[test]
    fn only_top_level_llm_rubric_checks_of_completed_answers_are_judged() {
        let cases = cases(
            "tests:\n  - prompt: one\n    checks:\n      - {type: contains, value: x}\n      - {type: llm-rubric, value: is polite}\n      - {type: not-llm-rubric, value: {tone: rude}}\n      - type: assert-set\n        assert:\n          - {type: llm-rubric, value: nested}\n",
        );
        let responses = [
            response(0, 1, 0, "hello", true),
            response(0, 0, 0, "hi", true),
            response(0, 0, 1, "", false),
        ];
        let planned = plan_checks(&cases, &responses);
        assert_eq!(planned.items.len(), 4);
        assert_eq!(planned.skipped, 2);
        assert_eq!(
            planned.items[0],
            JudgeItem::Check {
                case_index: 0,
                target_index: 0,
                repeat_index: 0,
                check_index: 1
            }
        );
        let text = |index: usize| planned.prompts[index].messages[0].content.clone();
        assert!(text(0).starts_with("<rubric>\nis polite\n</rubric>"));
        assert!(text(0).contains("<output>\nhi\n</output>"));
        assert!(text(1).starts_with("<rubric>\n{\"tone\":\"rude\"}\n</rubric>"));
    }

    #[test]
    fn items_read_back_as_stored() {
        let item = JudgeItem::Pair {
            case_index: 3,
            first: 0,
            second: 2,
            swapped: true,
        };
        let json = serde_json::to_string(&item).expect("json");
        assert_eq!(
            json,
            r#"{"kind":"pair","case_index":3,"first":0,"second":2,"swapped":true}"#
        );
        assert_eq!(serde_json::from_str::<JudgeItem>(&json).expect("item"), item);
    }
}
