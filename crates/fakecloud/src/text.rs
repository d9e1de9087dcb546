//! The text a fake response streams, cut into tokens, and the rough word
//! count used as the prompt's token count.
//!
//! Deliberately simple and deterministic, so a test can compute the exact
//! expected output with [`tokens_for`] instead of trusting the server.

use crate::scenario::Scenario;

/// Filler words for scenarios without explicit text; token `i` is word
/// `i % len`.
const FILLER_WORDS: &[&str] = &[
    "Lorem",
    "ipsum",
    "dolor",
    "sit",
    "amet",
    "consectetur",
    "adipiscing",
    "elit",
    "sed",
    "do",
    "eiusmod",
    "tempor",
    "incididunt",
    "ut",
    "labore",
    "et",
    "dolore",
    "magna",
    "aliqua",
];

/// The tokens the scenario streams when nothing cuts it short; their
/// concatenation is the full response text.
///
/// Without `text`: `tokens` filler words, each after the first with a leading
/// space ("Lorem", " ipsum", …). With `text`: the text cut so that whitespace
/// travels with the word after it, and the concatenation equals the text
/// exactly.
pub fn tokens_for(scenario: &Scenario) -> Vec<String> {
    match &scenario.text {
        Some(text) => split_text(text),
        None => (0..scenario.tokens)
            .map(|index| {
                let word = FILLER_WORDS[index % FILLER_WORDS.len()];
                if index == 0 {
                    word.to_owned()
                } else {
                    format!(" {word}")
                }
            })
            .collect(),
    }
}

/// Cuts text into tokens of "leading whitespace + word". Whitespace after the
/// last word becomes a token of its own so nothing is lost.
fn split_text(text: &str) -> Vec<String> {
    let mut tokens = Vec::new();
    let mut current = String::new();
    let mut in_word = false;
    for character in text.chars() {
        let is_space = character.is_whitespace();
        // A space after a word starts the next token.
        if is_space && in_word {
            tokens.push(std::mem::take(&mut current));
            in_word = false;
        }
        if !is_space {
            in_word = true;
        }
        current.push(character);
    }
    if !current.is_empty() {
        tokens.push(current);
    }
    tokens
}

/// Whitespace-separated words across the given texts, at least 1: the fake
/// prompt token count, stable for a given request body.
pub(crate) fn count_words<'a>(texts: impl IntoIterator<Item = &'a str>) -> usize {
    texts
        .into_iter()
        .map(|text| text.split_whitespace().count())
        .sum::<usize>()
        .max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filler_tokens_have_leading_spaces_after_the_first() {
        let scenario = Scenario {
            tokens: 3,
            ..Scenario::default()
        };
        assert_eq!(tokens_for(&scenario), ["Lorem", " ipsum", " dolor"]);
        assert_eq!(tokens_for(&Scenario::default()).len(), 8);
    }

    #[test]
    fn filler_wraps_around_the_word_list() {
        let scenario = Scenario {
            tokens: FILLER_WORDS.len() + 1,
            ..Scenario::default()
        };
        assert_eq!(tokens_for(&scenario).last().map(String::as_str), Some(" Lorem"));
    }

    #[test]
    fn text_splits_keep_everything() {
        for text in [
            "naïve 😄 ’",
            "  leading and trailing  ",
            "line\n\nbreaks\there",
            "",
            "one",
        ] {
            let scenario = Scenario {
                text: Some(text.to_owned()),
                tokens: 99,
                ..Scenario::default()
            };
            let tokens = tokens_for(&scenario);
            assert_eq!(tokens.concat(), text);
            assert!(tokens.iter().all(|token| !token.is_empty()));
        }
        let scenario = Scenario {
            text: Some("Hello brave  new\nworld ".to_owned()),
            ..Scenario::default()
        };
        assert_eq!(tokens_for(&scenario), ["Hello", " brave", "  new", "\nworld", " "]);
    }

    #[test]
    fn word_count_has_a_floor_of_one() {
        assert_eq!(count_words(["", "  "]), 1);
        assert_eq!(count_words(["one two", "three"]), 3);
    }
}
