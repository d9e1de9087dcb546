//! Blind panels: human raters comparing a session's answers without knowing where they came
//! from. `blind` normalises answers so no cloud's formatting gives it away.

mod blind;

pub use blind::normalise_answer;
