//! Reading a judge's answer. Judges do not always answer in the shape asked: the JSON comes in a
//! ```json fence, after a sentence of prose, or not at all (a bare `A`). Each reader takes the
//! first JSON object with the keys it needs, wherever it is, and the pairwise reader also a line
//! that is only a verdict. Anything else is *unparsed*, with a reason quoting the answer's start:
//! reported and counted, never guessed at, never a panic.

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::{Map, Value};

use crate::suite::embedded_json;

/// Which answer a pairwise judge preferred, by its position.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Winner {
    A,
    B,
    Tie,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct PairVerdict {
    pub winner: Winner,
    pub reason: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct RubricVerdict {
    /// Each criterion's score, 1 to 5.
    pub scores: BTreeMap<String, u8>,
    pub reason: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct CheckVerdict {
    pub pass: Option<bool>,
    /// 0 to 1.
    pub score: Option<f64>,
    pub reason: Option<String>,
}

/// The start of an answer, for a reason that says what could not be read.
fn quote(text: &str) -> String {
    const SHOWN: usize = 80;
    let flat: String = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if flat.is_empty() {
        return "the judge's answer is empty".to_owned();
    }
    let short: String = flat.chars().take(SHOWN).collect();
    let ellipsis = if flat.chars().count() > SHOWN { "…" } else { "" };
    format!("the judge's answer is \"{short}{ellipsis}\"")
}

/// The first JSON object in `text` that has `key`.
fn object_with(text: &str, key: &str) -> Option<Map<String, Value>> {
    embedded_json(text).into_iter().find_map(|value| match value {
        Value::Object(object) if object.contains_key(key) => Some(object),
        _ => None,
    })
}

fn reason_of(object: &Map<String, Value>) -> Option<String> {
    object
        .get("reason")
        .or_else(|| object.get("reasoning"))
        .and_then(Value::as_str)
        .map(|reason| reason.trim().to_owned())
        .filter(|reason| !reason.is_empty())
}

/// `A`, `B` or a tie as a judge may write it: `a`, `Answer B`, `"tie"`, `**A**`, `draw`.
fn winner_from(word: &str) -> Option<Winner> {
    let word = word
        .trim()
        .trim_matches(|c: char| c == '*' || c == '"' || c == '\'' || c == '`' || c == '.' || c == '[' || c == ']')
        .trim();
    let lower = word.to_ascii_lowercase();
    let lower = lower
        .strip_prefix("answer ")
        .or_else(|| lower.strip_prefix("winner:"))
        .or_else(|| lower.strip_prefix("verdict:"))
        .map_or(lower.as_str(), str::trim);
    match lower {
        "a" => Some(Winner::A),
        "b" => Some(Winner::B),
        "tie" | "draw" | "equal" | "neither" | "both" => Some(Winner::Tie),
        _ => None,
    }
}

/// A pairwise verdict: `{"winner": …}` anywhere in the answer, else the one verdict its lines
/// give (every line that is only a verdict must agree).
pub fn parse_pairwise(text: &str) -> Result<PairVerdict, String> {
    if let Some(object) = object_with(text, "winner") {
        let winner = object
            .get("winner")
            .and_then(Value::as_str)
            .and_then(winner_from)
            .ok_or_else(|| format!("`winner` is {}, not \"A\", \"B\" or \"tie\"", object["winner"]))?;
        return Ok(PairVerdict {
            winner,
            reason: reason_of(&object),
        });
    }
    let mut found: Option<Winner> = None;
    for line in text.lines().filter(|line| !line.trim().is_empty()) {
        if let Some(winner) = winner_from(line) {
            if found.is_some_and(|earlier| earlier != winner) {
                return Err(format!("the answer names two verdicts; {}", quote(text)));
            }
            found = Some(winner);
        }
    }
    found
        .map(|winner| PairVerdict { winner, reason: None })
        .ok_or_else(|| format!("no verdict found: {}", quote(text)))
}

/// Scores for every one of `criteria` (whole numbers 1 to 5; `4.0` and `"4"` are read too).
pub fn parse_rubric(text: &str, criteria: &[String]) -> Result<RubricVerdict, String> {
    let object = object_with(text, "scores").ok_or_else(|| format!("no `scores` object found: {}", quote(text)))?;
    let Some(Value::Object(given)) = object.get("scores") else {
        return Err("`scores` is not an object of criterion: score".to_owned());
    };
    let mut scores = BTreeMap::new();
    for criterion in criteria {
        let value = given
            .get(criterion)
            .or_else(|| {
                given
                    .iter()
                    .find(|(name, _)| name.eq_ignore_ascii_case(criterion))
                    .map(|(_, value)| value)
            })
            .ok_or_else(|| format!("no score for `{criterion}`"))?;
        let number = value
            .as_f64()
            .or_else(|| value.as_str().and_then(|text| text.trim().parse().ok()))
            .filter(|number| number.fract() == 0.0 && (1.0..=5.0).contains(number))
            .ok_or_else(|| format!("`{criterion}` is scored {value}, not a whole number from 1 to 5"))?;
        scores.insert(criterion.clone(), number as u8);
    }
    Ok(RubricVerdict {
        scores,
        reason: reason_of(&object),
    })
}

/// promptfoo's grading shape: `pass` and/or `score` (0 to 1); at least one of them.
pub fn parse_check(text: &str) -> Result<CheckVerdict, String> {
    let object = object_with(text, "pass")
        .or_else(|| object_with(text, "score"))
        .ok_or_else(|| format!("no `pass` or `score` found: {}", quote(text)))?;
    let pass = match object.get("pass") {
        None | Some(Value::Null) => None,
        Some(Value::Bool(pass)) => Some(*pass),
        Some(Value::String(text)) if text.eq_ignore_ascii_case("true") => Some(true),
        Some(Value::String(text)) if text.eq_ignore_ascii_case("false") => Some(false),
        Some(other) => return Err(format!("`pass` is {other}, not true or false")),
    };
    let score = match object.get("score") {
        None | Some(Value::Null) => None,
        Some(value) => Some(
            value
                .as_f64()
                .filter(|score| (0.0..=1.0).contains(score))
                .ok_or_else(|| format!("`score` is {value}, not a number from 0 to 1"))?,
        ),
    };
    if pass.is_none() && score.is_none() {
        return Err(format!("neither `pass` nor `score` is given: {}", quote(text)));
    }
    Ok(CheckVerdict {
        pass,
        score,
        reason: reason_of(&object),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn winner(text: &str) -> Result<Winner, String> {
        parse_pairwise(text).map(|verdict| verdict.winner)
    }

    #[test]
    fn a_pairwise_verdict_is_read_from_bare_json_a_fence_or_prose_around_it() {
        let verdict = parse_pairwise(r#"{"winner": "B", "reason": "  more precise "}"#).expect("verdict");
        assert_eq!(verdict.winner, Winner::B);
        assert_eq!(verdict.reason.as_deref(), Some("more precise"));
        assert_eq!(
            winner("Here is my verdict:\n```json\n{\"winner\": \"a\", \"reason\": \"x\"}\n```\nThanks."),
            Ok(Winner::A)
        );
        assert_eq!(
            winner("After weighing [both] answers: {\"reason\": \"same\", \"winner\": \"TIE\"}"),
            Ok(Winner::Tie)
        );
        assert_eq!(winner(r#"{"winner": "Answer B"}"#), Ok(Winner::B));
    }

    #[test]
    fn a_bare_letter_or_tie_line_is_a_verdict() {
        assert_eq!(winner("A"), Ok(Winner::A));
        assert_eq!(winner("  b.\n"), Ok(Winner::B));
        assert_eq!(winner("**Tie**"), Ok(Winner::Tie));
        assert_eq!(winner("Both are fine.\n\nB"), Ok(Winner::B));
        assert_eq!(winner("Verdict: A"), Ok(Winner::A));
    }

    #[test]
    fn garbage_and_contradictions_are_unparsed_with_a_reason_never_a_guess() {
        let error = winner("I cannot decide between these answers.").expect_err("no verdict");
        assert!(error.contains("no verdict found"), "{error}");
        assert!(error.contains("I cannot decide"), "{error}");
        let error = winner("A\nB").expect_err("two verdicts");
        assert!(error.contains("two verdicts"), "{error}");
        let error = winner(r#"{"winner": "C"}"#).expect_err("bad winner");
        assert!(error.contains("\"C\""), "{error}");
        assert!(winner("").expect_err("empty").contains("empty"));
        assert!(winner("{\"winner\": ").is_err());
        // Long garbage is quoted short.
        let long = "x".repeat(5_000);
        assert!(winner(&long).expect_err("garbage").len() < 200);
    }

    #[test]
    fn rubric_scores_are_read_for_every_criterion_and_checked() {
        let criteria = vec!["accuracy".to_owned(), "tone".to_owned()];
        let verdict = parse_rubric(
            "```json\n{\"scores\": {\"Accuracy\": 4, \"tone\": \"5\"}, \"reason\": \"good\"}\n```",
            &criteria,
        )
        .expect("verdict");
        assert_eq!(verdict.scores["accuracy"], 4);
        assert_eq!(verdict.scores["tone"], 5);
        assert_eq!(verdict.reason.as_deref(), Some("good"));
        let missing = parse_rubric(r#"{"scores": {"accuracy": 4}}"#, &criteria).expect_err("missing");
        assert!(missing.contains("`tone`"), "{missing}");
        let range = parse_rubric(r#"{"scores": {"accuracy": 6, "tone": 1}}"#, &criteria).expect_err("range");
        assert!(range.contains("1 to 5"), "{range}");
        let fraction = parse_rubric(r#"{"scores": {"accuracy": 3.5, "tone": 1}}"#, &criteria).expect_err("fraction");
        assert!(fraction.contains("whole number"), "{fraction}");
        assert!(parse_rubric("4/5", &criteria).is_err());
    }

    #[test]
    fn check_verdicts_take_pass_or_score_and_refuse_nonsense() {
        let verdict = parse_check("Sure. {\"pass\": true, \"score\": 0.8, \"reason\": \"polite\"}").expect("verdict");
        assert_eq!(verdict.pass, Some(true));
        assert_eq!(verdict.score, Some(0.8));
        assert_eq!(parse_check(r#"{"score": 0.2}"#).expect("score").pass, None);
        assert_eq!(parse_check(r#"{"pass": "false"}"#).expect("pass").pass, Some(false));
        assert!(parse_check(r#"{"pass": 3}"#).is_err());
        assert!(parse_check(r#"{"score": 7}"#).is_err());
        assert!(parse_check(r#"{"pass": null}"#).is_err());
        assert!(parse_check("yes").is_err());
    }
}
