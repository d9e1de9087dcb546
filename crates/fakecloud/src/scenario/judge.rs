//! A scripted LLM judge (`answer=judge`): reads the tagged material of a judge's prompt (the last
//! user message) and answers deterministically, so tests know which verdicts a judge run must
//! come to. Written from the prompt format ModelBench documents (README, "LLM judges"), not from
//! its code: fakecloud shares none.
//!
//! - `<answer_a>` and `<answer_b>`: the longer answer (in characters) wins, equal lengths tie;
//!   so swapping positions swaps the letter, as a consistent judge's would. The JSON comes in a
//!   fenced block after a sentence, as chat models often write it.
//! - `<rubric>`, `<criteria>` and `<answer>`: every criterion scores the answer's word count,
//!   clamped to 1..5.
//! - `<rubric>` and `<output>`: passes when the output contains the rubric's last word (letters
//!   and digits, case ignored).
//! - anything else: `tie`.

/// The text between `<tag>` and `</tag>`, trimmed of the newlines around it.
fn tagged<'a>(prompt: &'a str, tag: &str) -> Option<&'a str> {
    let open = format!("<{tag}>");
    let close = format!("</{tag}>");
    let start = prompt.find(&open)? + open.len();
    let end = start + prompt[start..].find(&close)?;
    Some(prompt[start..end].trim_matches('\n'))
}

fn quoted(text: &str) -> String {
    text.replace('\\', "\\\\").replace('"', "\\\"")
}

/// The scripted judge's answer to `prompt`.
pub(crate) fn verdict(prompt: &str) -> String {
    if let (Some(a), Some(b)) = (tagged(prompt, "answer_a"), tagged(prompt, "answer_b")) {
        let (a, b) = (a.chars().count(), b.chars().count());
        let (winner, reason) = match a.cmp(&b) {
            std::cmp::Ordering::Greater => ("A", format!("Answer A is longer ({a} > {b} characters).")),
            std::cmp::Ordering::Less => ("B", format!("Answer B is longer ({b} > {a} characters).")),
            std::cmp::Ordering::Equal => ("tie", format!("Both answers have {a} characters.")),
        };
        return format!("My verdict:\n```json\n{{\"winner\": \"{winner}\", \"reason\": \"{reason}\"}}\n```");
    }
    if let (Some(criteria), Some(answer)) = (tagged(prompt, "criteria"), tagged(prompt, "answer")) {
        let score = answer.split_whitespace().count().clamp(1, 5);
        let scores: Vec<String> = criteria
            .lines()
            .filter(|line| !line.trim().is_empty())
            .map(|criterion| format!("\"{}\": {score}", quoted(criterion.trim())))
            .collect();
        return format!(
            "{{\"scores\": {{{}}}, \"reason\": \"{score} by word count.\"}}",
            scores.join(", ")
        );
    }
    if let (Some(rubric), Some(output)) = (tagged(prompt, "rubric"), tagged(prompt, "output")) {
        let word: String = rubric
            .split(|c: char| !c.is_alphanumeric())
            .rfind(|word| !word.is_empty())
            .unwrap_or_default()
            .to_lowercase();
        let pass = !word.is_empty() && output.to_lowercase().contains(&word);
        let score = if pass { 1 } else { 0 };
        let says = if pass { "contains" } else { "lacks" };
        return format!(
            "{{\"pass\": {pass}, \"score\": {score}, \"reason\": \"The output {says} '{}'.\"}}",
            quoted(&word)
        );
    }
    "tie".to_owned()
}

#[cfg(test)]
mod tests {
    use super::verdict;

    #[test]
    fn the_longer_answer_wins_in_either_position() {
        let forward = verdict(
            "<question>\nq\n</question>\n\n<answer_a>\nlong answer\n</answer_a>\n\n<answer_b>\nshort\n</answer_b>",
        );
        assert!(forward.contains("\"winner\": \"A\""), "{forward}");
        let swapped = verdict("<answer_a>\nshort\n</answer_a>\n<answer_b>\nlong answer\n</answer_b>");
        assert!(swapped.contains("\"winner\": \"B\""), "{swapped}");
        assert!(verdict("<answer_a>\nsame\n</answer_a><answer_b>\nsame\n</answer_b>").contains("\"tie\""));
    }

    #[test]
    fn rubric_scores_and_checks_follow_their_rules() {
        let scored = verdict(
            "<rubric>\n- accuracy: x\n</rubric>\n<criteria>\naccuracy\ntone\n</criteria>\n<answer>\none two three\n</answer>",
        );
        assert_eq!(
            scored,
            "{\"scores\": {\"accuracy\": 3, \"tone\": 3}, \"reason\": \"3 by word count.\"}"
        );
        let passed = verdict("<rubric>\ngives an Explanation.\n</rubric>\n\n<output>\nthe explanation is…\n</output>");
        assert!(passed.starts_with("{\"pass\": true, \"score\": 1"), "{passed}");
        let failed = verdict("<rubric>\ngives an explanation\n</rubric>\n<output>\nno\n</output>");
        assert!(failed.starts_with("{\"pass\": false"), "{failed}");
        assert_eq!(verdict("hello"), "tie");
    }
}
