//! Diffs of stored runs: which answers of a run to compare (one prompt, one repeat; a named pair
//! or every answer that has words), read from the store by run id. The engine's `diff` does the
//! comparing; rendering it (coloured text, a table, the UI's panes) is the host's.

use modelbench_engine::{ProviderError, ResponseRecord, StoredRun};

use crate::error::{Error, Result};

/// What a host may want to tell the user about the answers chosen, as it is decided.
#[derive(Debug)]
pub enum Note<'a> {
    /// Left out of a matrix: it failed without a word, so it would only be everyone's outlier.
    LeftOut { target: &'a str },
    /// Compared as far as it got.
    Incomplete { target: &'a str, error: &'a ProviderError },
}

/// The answers to compare, labelled by target.
#[derive(Debug)]
pub struct Answers {
    pub labels: Vec<String>,
    pub texts: Vec<String>,
}

/// The answers of `run` to prompt `prompt` in repeat `repeat` (both numbered from 1): the pair
/// `a`, `b` when given, else every answer with words (at least two). `note` hears what was left
/// out and what is incomplete.
pub fn answers(
    run: &StoredRun,
    prompt: u32,
    repeat: u32,
    pair: Option<(&str, &str)>,
    note: &mut dyn FnMut(Note<'_>),
) -> Result<Answers> {
    let run_id = run.record.id;
    let prompts = run.record.prompts.len();
    if prompt == 0 || prompt as usize > prompts {
        return Err(Error::NoSuchPrompt { run_id, prompts });
    }
    let repeats = run.record.repeat.max(1);
    if repeat == 0 || repeat > repeats {
        return Err(Error::NoSuchRepeat {
            run_id,
            repeat: repeats,
        });
    }
    let answers: Vec<&ResponseRecord> = run
        .responses
        .iter()
        .filter(|response| response.key.prompt_index + 1 == prompt && response.key.repeat_index + 1 == repeat)
        .collect();
    let place = if prompts > 1 {
        format!(" to prompt #{prompt}")
    } else {
        String::new()
    };
    let chosen: Vec<&ResponseRecord> = match pair {
        Some((a, b)) => {
            let find = |name: &str| -> Result<&ResponseRecord> {
                if !run.record.targets.iter().any(|target| target.name == name) {
                    return Err(Error::NoSuchTarget {
                        run_id,
                        name: name.to_owned(),
                        known: run.record.targets.iter().map(|target| target.name.clone()).collect(),
                    });
                }
                answers
                    .iter()
                    .find(|response| response.target == name)
                    .copied()
                    .ok_or_else(|| Error::NoAnswer {
                        run_id,
                        name: name.to_owned(),
                        place: place.clone(),
                    })
            };
            vec![find(a)?, find(b)?]
        }
        None => {
            let (kept, failed): (Vec<_>, Vec<_>) = answers
                .into_iter()
                .partition(|response| response.error.is_none() || !response.text.is_empty());
            for response in failed {
                note(Note::LeftOut {
                    target: &response.target,
                });
            }
            if kept.len() < 2 {
                return Err(Error::TooFewAnswers {
                    run_id,
                    count: kept.len(),
                    place,
                });
            }
            kept
        }
    };
    for response in &chosen {
        if let Some(error) = &response.error {
            note(Note::Incomplete {
                target: &response.target,
                error,
            });
        }
    }
    Ok(Answers {
        labels: chosen.iter().map(|response| response.target.clone()).collect(),
        texts: chosen.iter().map(|response| response.text.clone()).collect(),
    })
}
