//! LLM judges: a target asked to compare or grade a session's answers. This layer builds the
//! judge's prompts (`prompt`), reads its answers leniently (`verdict`), says which calls a judge
//! run makes and what they mean (`item`), turns the answers back into results (`outcome`:
//! pairwise wins with positions swapped, rubric scores, `llm-rubric` check verdicts), and warns
//! when the judge may prefer its own family's answers (`family`).
//!
//! Left out: sending and storing the calls (a judge run is an ordinary run the workbench starts,
//! under the sessions' spend guard) and the agreement with human panels (the panels' side).

mod family;
mod item;
mod outcome;
mod prompt;
mod verdict;

pub use family::{model_family, self_preference};
pub use item::{Answers, JudgeItem, JudgeMode, Planned, plan_checks, plan_pairwise, plan_rubric};
pub use outcome::{
    JudgedCheck, JudgedPair, PairOutcome, PairTally, RubricScore, RubricTally, judged_checks, judged_pairs,
    pair_tallies, rubric_scores, rubric_tallies,
};
pub use prompt::{Rubric, check_prompt, pairwise_prompt, rubric_prompt};
pub use verdict::{CheckVerdict, PairVerdict, RubricVerdict, Winner, parse_check, parse_pairwise, parse_rubric};
