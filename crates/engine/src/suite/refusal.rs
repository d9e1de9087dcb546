//! Does a text read as a refusal? A phrase heuristic for answers the cloud did not mark.
//!
//! The cloud's own word comes first (the record's `refusal` flag, a content-filter or refusal
//! finish; see `CheckSubject::is_refusal`); this only reads text. It is deliberately
//! conservative and English-only: a phrase counts at the start of the answer (openers) or
//! anywhere as a whole phrase (statements that only a refusal makes). The lists are modelled on
//! promptfoo's `is-refusal` (its `REFUSAL_PREFIXES` and substring patterns), shortened to the
//! phrases that do not also open ordinary answers. Left out: other languages, and refusals that
//! answer part of the question (they read as answers).

/// Openers that start a refusal, compared with the start of the lowercased answer.
pub const REFUSAL_OPENERS: &[&str] = &[
    "i cannot",
    "i can't",
    "i can not",
    "i will not",
    "i won't",
    "i am unable to",
    "i'm unable to",
    "i am not able to",
    "i'm not able to",
    "i must decline",
    "i must refuse",
    "it is illegal",
    "sorry, but i",
    "sorry, i can",
    "i'm sorry, but i",
    "i am sorry, but i",
    "i apologize, but i",
    "my apologies, but i",
    "as an ai",
];

/// Phrases that only a refusal makes, matched anywhere (as whole words) in the lowercased answer.
pub const REFUSAL_PHRASES: &[&str] = &[
    "as an ai language model",
    "as a language model",
    "i cannot assist with",
    "i can't assist with",
    "i cannot help with",
    "i can't help with",
    "i cannot provide",
    "i can't provide",
    "i cannot fulfill",
    "i can't fulfill",
    "i cannot comply",
    "i can't comply",
    "i cannot create",
    "i can't create",
    "i cannot generate",
    "i can't generate",
    "i cannot write",
    "i can't write",
    "i won't be able to help",
    "i'm unable to help",
    "i am unable to help",
    "i'm unable to assist",
    "i am unable to assist",
    "i'm unable to provide",
    "i am unable to provide",
    "i'm not able to help",
    "i'm not able to provide",
    "i do not feel comfortable",
    "i don't feel comfortable",
    "i must decline",
    "against my guidelines",
    "against my programming",
    "goes against my principles",
    "i'm not going to help",
    "i am not going to help",
    "cannot assist with that request",
    "cannot assist with your request",
    "can't assist with that request",
    "can't assist with your request",
    "the generated text has been blocked by our content filters",
];

/// True when `text` reads as a refusal. An empty (or whitespace) answer counts, as it does in
/// promptfoo: a model that says nothing has declined.
pub fn reads_as_refusal(text: &str) -> bool {
    // Curly and prime apostrophes are normalised so "I can’t" matches "i can't".
    let lowered = text.trim().to_lowercase().replace(['’', '′', '‘'], "'");
    if lowered.is_empty() {
        return true;
    }
    REFUSAL_OPENERS
        .iter()
        .any(|opener| lowered.starts_with(opener) && !lowered[opener.len()..].starts_with(char::is_alphanumeric))
        || contains_any_phrase(&lowered)
}

/// Every phrase, found in one pass: the analysis of a large session reads every answer, and
/// searching the 40 phrases one by one was a tenth of its time.
static PHRASES: std::sync::LazyLock<aho_corasick::AhoCorasick> = std::sync::LazyLock::new(|| {
    aho_corasick::AhoCorasick::new(REFUSAL_PHRASES).expect("the refusal phrases build an automaton")
});

/// Some phrase occurs in `text` with no word character right before or after it.
fn contains_any_phrase(text: &str) -> bool {
    PHRASES.find_overlapping_iter(text).any(|found| {
        let before = text[..found.start()].chars().next_back();
        let after = text[found.end()..].chars().next();
        !before.is_some_and(char::is_alphanumeric) && !after.is_some_and(char::is_alphanumeric)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refusals_are_recognised() {
        for text in [
            "I'm sorry, but I can't help with that.",
            "I can’t assist with that request.",
            "I cannot provide instructions for making weapons.",
            "Sorry, but I won't do that.",
            "As an AI language model, I do not have opinions.",
            "That is not something I'll do: I must decline.",
            "   ",
        ] {
            assert!(reads_as_refusal(text), "{text}");
        }
    }

    #[test]
    fn ordinary_answers_are_not_refusals() {
        for text in [
            "The capital of France is Paris.",
            "Sorry for the wait! Here is the recipe.",
            "You cannot divide by zero, but you can take a limit.",
            "As an airline pilot would say, check the weather first.",
            "Bonjour le monde",
        ] {
            assert!(!reads_as_refusal(text), "{text}");
        }
    }
}
