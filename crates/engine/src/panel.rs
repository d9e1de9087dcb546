//! Blind panels: human raters comparing a session's answers without knowing where they came
//! from. `blind` normalises answers so no cloud's formatting gives it away; `plan` chooses the
//! items and who sees what in which order; `packet` writes a rater's
//! self-contained HTML packet and reads and checks the signed ratings file it saves; `results` turns
//! ratings into win rates, a Bradley-Terry ranking with intervals and agreement statistics.

mod blind;
mod packet;
mod plan;
mod results;

pub use blind::normalise_answer;
pub use packet::{
    PacketAnswer, PacketContent, PacketItem, PacketPrompt, PacketTurn, RATINGS_FORMAT, RatingsFile, RatingsPayload,
    RawRating, label, new_id, new_token, read_ratings, render_packet, sign, verify,
};
pub use plan::{AnswerRef, Criterion, Item, PanelKind, PanelPlan, PlanInput, Shown, add_rater, parse_criteria, plan};
pub use results::{
    Agreement, CONFIDENCE, CriterionScore, JudgeAgreement, JudgedScore, JudgedVerdict, PanelResults, RESAMPLES,
    RaterResult, Rating, ResultsInput, Separation, TargetResult, alpha_reading, judge_agreement, results,
    rubric_judge_agreement,
};
