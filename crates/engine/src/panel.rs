//! Blind panels: human raters comparing a session's answers without knowing where they came
//! from. `blind` normalises answers so no cloud's formatting gives it away; `plan` chooses the
//! items and who sees what in which order.

mod blind;
mod plan;

pub use blind::normalise_answer;
pub use plan::{AnswerRef, Criterion, Item, PanelKind, PanelPlan, PlanInput, Shown, parse_criteria, plan};
