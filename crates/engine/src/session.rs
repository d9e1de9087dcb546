//! Evaluation sessions, the engine's part: what a session will cost before it starts
//! (`estimate`), the spend guard the runner consults before each call (`budget`), the statistics
//! and cloud-parity verdicts computed from the stored responses (`analysis`), and the report
//! (`report`).
//!
//! Left out: storing and orchestrating sessions, which the workbench does over the runner and
//! the store, and the hosts' views.

mod analysis;
mod budget;
mod estimate;
pub mod report;

pub use analysis::{
    Analyser, Analysis, BaseModelDecision, CONFIDENCE, CostFigures, Distribution, Failure, JudgedChecks, Leader,
    Parity, ParityMetric, Rate, SessionInput, TargetFigures, TargetSources, TestFigures, TestTarget, analyse,
};
pub use budget::Budget;
pub use estimate::{APPROXIMATE, CallCost, Estimate, TargetEstimate, call_cost, estimate, input_tokens};
