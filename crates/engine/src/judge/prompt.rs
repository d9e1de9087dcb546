//! The judge's prompts. Instructions go in the system prompt; the material (the test's prompt,
//! the answers, the rubric) goes in the user message, each part between its own tags
//! (`<question>`, `<answer_a>`, `<answer_b>`, `<answer>`, `<rubric>`, `<output>`), so a judge (and
//! fakecloud's scripted one) can tell them apart. Every answer is normalised as the blind panels
//! show it (`panel::normalise_answer`): no cloud's formatting habit may sway the judge.
//!
//! The shapes asked for: pairwise `{"winner": "A"|"B"|"tie", "reason"}`; rubric `{"scores":
//! {criterion: 1-5}, "reason"}`; an `llm-rubric` check `{"pass", "score", "reason"}`, the shape
//! promptfoo's graders answer in.

use crate::model::request::{Prompt, Role};
use crate::panel::normalise_answer;

const PAIRWISE_INSTRUCTIONS: &str = "You are an impartial judge comparing two answers to the same question. \
Decide which answer better serves the person who asked: correctness first, then completeness, clarity and \
concision. The order in which the answers appear must not influence you, nor their length by itself. \
Reply with one JSON object and nothing else: {\"winner\": \"A\" | \"B\" | \"tie\", \"reason\": \"<one or two sentences>\"}";

const CHECK_INSTRUCTIONS: &str = "You are grading an output against a rubric. Decide whether the output meets \
the rubric and how well, from 0 (not at all) to 1 (fully). Reply with one JSON object and nothing else: \
{\"pass\": true | false, \"score\": <number from 0 to 1>, \"reason\": \"<one or two sentences>\"}";

/// A rubric for `--rubric FILE`: its text as written, and the criteria scored. A criterion is a
/// list item that starts with a name and a colon (`- accuracy: the facts are right`); a rubric
/// without such items is scored as one criterion, `overall`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rubric {
    pub text: String,
    pub criteria: Vec<String>,
}

impl Rubric {
    /// `None` when the text is empty: a judge cannot score against nothing.
    pub fn parse(text: &str) -> Option<Self> {
        if text.trim().is_empty() {
            return None;
        }
        let mut criteria: Vec<String> = Vec::new();
        for line in text.lines() {
            let trimmed = line.trim_start();
            let item = trimmed
                .strip_prefix("- ")
                .or_else(|| trimmed.strip_prefix("* "))
                .or_else(|| {
                    let digits = trimmed.chars().take_while(char::is_ascii_digit).count();
                    (digits > 0).then(|| trimmed[digits..].strip_prefix(". ")).flatten()
                });
            let Some((name, _)) = item.and_then(|item| item.split_once(':')) else {
                continue;
            };
            let name = name.trim().trim_matches('*').trim();
            if !name.is_empty() && name.chars().count() <= 60 && !criteria.iter().any(|known| known == name) {
                criteria.push(name.to_owned());
            }
        }
        if criteria.is_empty() {
            criteria.push("overall".to_owned());
        }
        Some(Self {
            text: text.trim().to_owned(),
            criteria,
        })
    }
}

/// The test's prompt as the judge reads it: the user message alone when there is one, else each
/// message after its role; the system prompt first when there is one.
fn question(prompt: &Prompt) -> String {
    let mut parts = Vec::new();
    if let Some(system) = &prompt.system {
        parts.push(format!("(system) {system}"));
    }
    if let [only] = prompt.messages.as_slice()
        && only.role == Role::User
    {
        parts.push(only.content.clone());
    } else {
        for message in &prompt.messages {
            let role = match message.role {
                Role::User => "user",
                Role::Assistant => "assistant",
            };
            parts.push(format!("({role}) {}", message.content));
        }
    }
    parts.join("\n\n")
}

fn tagged(tag: &str, text: &str) -> String {
    format!("<{tag}>\n{text}\n</{tag}>")
}

/// Asks which of two answers to `test` is better; `answer_a` is shown first.
pub fn pairwise_prompt(test: &Prompt, answer_a: &str, answer_b: &str) -> Prompt {
    let material = [
        tagged("question", &question(test)),
        tagged("answer_a", &normalise_answer(answer_a)),
        tagged("answer_b", &normalise_answer(answer_b)),
    ]
    .join("\n\n");
    Prompt::user(material).with_system(Some(PAIRWISE_INSTRUCTIONS.to_owned()))
}

/// Asks for `answer` to `test` scored 1–5 on each of the rubric's criteria.
pub fn rubric_prompt(rubric: &Rubric, test: &Prompt, answer: &str) -> Prompt {
    let keys: Vec<String> = rubric
        .criteria
        .iter()
        .map(|name| format!("\"{}\": <1-5>", name.replace('"', "'")))
        .collect();
    let instructions = format!(
        "You are an impartial judge scoring one answer against a rubric. Score each criterion from 1 (poor) \
to 5 (excellent), judging only what the rubric asks. Reply with one JSON object and nothing else: \
{{\"scores\": {{{}}}, \"reason\": \"<one or two sentences>\"}}",
        keys.join(", ")
    );
    let material = [
        tagged("rubric", &rubric.text),
        tagged("criteria", &rubric.criteria.join("\n")),
        tagged("question", &question(test)),
        tagged("answer", &normalise_answer(answer)),
    ]
    .join("\n\n");
    Prompt::user(material).with_system(Some(instructions))
}

/// Asks whether `output` meets an `llm-rubric` check's `rubric`.
pub fn check_prompt(rubric: &str, output: &str) -> Prompt {
    let material = [tagged("rubric", rubric), tagged("output", &normalise_answer(output))].join("\n\n");
    Prompt::user(material).with_system(Some(CHECK_INSTRUCTIONS.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user_text(prompt: &Prompt) -> &str {
        &prompt.messages[0].content
    }

    #[test]
    fn a_pairwise_prompt_holds_the_question_and_both_answers_normalised_in_their_places() {
        let test = Prompt::user("What is 2 + 2?");
        let prompt = pairwise_prompt(&test, "Four.\r\n\r\n\r\n* yes  ", "4");
        let text = user_text(&prompt);
        assert_eq!(
            text,
            "<question>\nWhat is 2 + 2?\n</question>\n\n<answer_a>\nFour.\n\n- yes\n</answer_a>\n\n<answer_b>\n4\n</answer_b>"
        );
        let system = prompt.system.as_deref().unwrap_or_default();
        assert!(system.contains("\"winner\""), "{system}");
        assert!(system.contains("order"), "{system}");
    }

    #[test]
    fn swapping_the_answers_swaps_only_their_places() {
        let test = Prompt::user("q");
        let forward = pairwise_prompt(&test, "first", "second");
        let swapped = pairwise_prompt(&test, "second", "first");
        assert_eq!(forward.system, swapped.system);
        assert!(user_text(&forward).contains("<answer_a>\nfirst\n</answer_a>"));
        assert!(user_text(&swapped).contains("<answer_a>\nsecond\n</answer_a>"));
    }

    #[test]
    fn a_system_prompt_and_several_messages_are_shown_with_their_roles() {
        let mut test = Prompt::user("Hi").with_system(Some("Be terse.".to_owned()));
        test.messages.push(crate::model::request::Message {
            role: Role::Assistant,
            content: "Hello".to_owned(),
        });
        assert_eq!(question(&test), "(system) Be terse.\n\n(user) Hi\n\n(assistant) Hello");
    }

    #[test]
    fn rubric_criteria_are_the_named_list_items_or_overall() {
        let rubric = Rubric::parse(
            "Score the answer.\n- accuracy: facts are right\n* **tone**: polite\n1. brevity: short\n- accuracy: again\n- no colon here\n",
        )
        .expect("rubric");
        assert_eq!(rubric.criteria, ["accuracy", "tone", "brevity"]);
        assert_eq!(Rubric::parse("Is it helpful?").expect("rubric").criteria, ["overall"]);
        assert_eq!(Rubric::parse("  \n"), None);

        let prompt = rubric_prompt(&rubric, &Prompt::user("q"), "a");
        let system = prompt.system.as_deref().unwrap_or_default();
        assert!(
            system.contains("\"accuracy\": <1-5>, \"tone\": <1-5>, \"brevity\": <1-5>"),
            "{system}"
        );
        assert!(user_text(&prompt).contains("<criteria>\naccuracy\ntone\nbrevity\n</criteria>"));
        assert!(user_text(&prompt).ends_with("<answer>\na\n</answer>"));
    }

    #[test]
    fn a_check_prompt_holds_the_rubric_and_the_output() {
        let prompt = check_prompt("is polite", "Thanks!  ");
        assert_eq!(
            user_text(&prompt),
            "<rubric>\nis polite\n</rubric>\n\n<output>\nThanks!\n</output>"
        );
        assert!(prompt.system.as_deref().unwrap_or_default().contains("\"pass\""));
    }
}
