//! LLM judges of a stored session for every host: start one (or resume the same one), record how
//! it ended, and read every judge run of a session back into results.
//!
//! A judge run is an ordinary run: the judge target its one target, the judge's prompts its
//! prompts (`judge::plan_*`), so its calls are stored, costed, under the sessions' spend guard and
//! in history; plus a `judges` row saying which session it judged, how, and what each prompt
//! asked. Asking again for the same session, judge target, mode and rubric resumes that run:
//! only calls never sent or ended by an infrastructure failure go out.
//!
//! Left out: the agreement of a judge with human panels (the panels' side reads
//! [`JudgeResult::pairs`]), and anything a host shows.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use modelbench_engine::judge::{
    self, Answers, JudgeItem, JudgeMode, JudgedCheck, JudgedPair, PairTally, Planned, Rubric, RubricScore, RubricTally,
};
use modelbench_engine::runner::RunPlan;
use modelbench_engine::session::{Budget, JudgedChecks, call_cost};
use modelbench_engine::store::{JudgeRow, RunStatus};
use modelbench_engine::{Parameters, ResponseKey, ResponseRecord, RunId, Target};
use serde::Serialize;

use crate::error::{Error, Result};
use crate::session::{LoadedSession, SessionOptions, infrastructure_failure};
use crate::{LiveRun, Workbench};

/// The bound on a judge's answer when none is given: a verdict and its reason need far less, and
/// a budget needs a bound.
pub const DEFAULT_MAX_OUTPUT_TOKENS: u32 = 1_024;

pub const JUDGE_RUNNING: &str = "running";
pub const JUDGE_COMPLETED: &str = "completed";
pub const JUDGE_STOPPED: &str = "stopped";
pub const JUDGE_CANCELLED: &str = "cancelled";

/// What to judge, by whom, how.
pub struct JudgePlan {
    /// A session id or a unique prefix of one.
    pub session: String,
    pub judge: Target,
    pub mode: JudgeMode,
    /// The rubric (mode `rubric` only).
    pub rubric: Option<Rubric>,
    pub budget_usd: Option<f64>,
    pub max_output_tokens: u32,
    pub concurrency: usize,
    pub retries: Option<u32>,
}

/// A judge run under way (or found complete: `live` is `None`).
pub struct StartedJudge {
    pub judge_run_id: RunId,
    pub session_id: RunId,
    pub live: Option<LiveRun>,
    pub budget: Option<Arc<Budget>>,
    /// Calls this start sends.
    pub calls: u64,
    /// Calls the whole judge run makes.
    pub planned: u64,
    /// An earlier judge run of the same session, judge and mode is continued.
    pub resumed: bool,
    /// Pairs (pairwise) or answers (rubric, checks) left out for want of an answer.
    pub skipped: u64,
    /// The judged targets of the judge's own model family.
    pub self_preference: Vec<String>,
    /// What every call of the judge run could cost at most (its input and the output bound);
    /// `None` when the judge has no known price.
    pub worst_case_usd: Option<f64>,
}

/// A judge run read back: who judged what, and the verdicts.
#[derive(Clone, Debug, Serialize)]
pub struct JudgeResult {
    pub judge_run_id: RunId,
    pub session_id: RunId,
    pub judge: String,
    pub judge_model: String,
    pub mode: JudgeMode,
    pub status: String,
    pub stop_reason: Option<String>,
    pub budget_usd: Option<f64>,
    /// Calls the judge run makes, and how many it got an answer to.
    pub planned: u64,
    pub answered: u64,
    /// Calls whose answer could not be read as a verdict.
    pub unparsed: u64,
    pub skipped: u64,
    pub spent_usd: f64,
    /// The session's targets, in target order (the indexes below).
    pub targets: Vec<String>,
    pub self_preference: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub pairs: Vec<JudgedPair>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub pair_tallies: Vec<PairTally>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rubric: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub criteria: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub scores: Vec<RubricScore>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub rubric_tallies: Vec<RubricTally>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub checks: Vec<JudgedCheck>,
}

/// The self-preference warning for a host to print, or `None`.
pub fn self_preference_warning(judge: &str, targets: &[String]) -> Option<String> {
    (!targets.is_empty()).then(|| {
        format!(
            "warning: the judge {judge} is of the same model family as {}: judges tend to prefer their own family's answers (self-preference); prefer a judge of another family, or read these verdicts with that in mind",
            targets.join(", ")
        )
    })
}

fn items_json(items: &[JudgeItem]) -> Result<String> {
    serde_json::to_string(items).map_err(|error| Error::Judge(format!("cannot store the judge's items: {error}")))
}

fn stored_items(row: &JudgeRow) -> Result<Vec<JudgeItem>> {
    serde_json::from_str(&row.items_json)
        .map_err(|error| Error::Judge(format!("judge run {}: its stored items are damaged ({error})", row.id)))
}

/// The judge's completed answer to each prompt of its run, in prompt order.
fn answer_texts(responses: &[ResponseRecord], prompts: usize) -> Vec<Option<String>> {
    let mut texts = vec![None; prompts];
    for response in responses {
        if response.complete
            && let Some(slot) = texts.get_mut(response.key.prompt_index as usize)
        {
            *slot = Some(response.text.clone());
        }
    }
    texts
}

impl Workbench {
    /// The prompts `plan` asks of the judge over `session`'s answers.
    fn plan_judge(&self, plan: &JudgePlan, session: &LoadedSession) -> Result<Planned> {
        let cases = session.suite.suite.cases();
        let target_count = session.run.record.targets.len();
        let mut answers = Answers::default();
        for response in &session.run.responses {
            answers.add(response);
        }
        let planned = match plan.mode {
            JudgeMode::Pairwise => {
                if target_count < 2 {
                    return Err(Error::Judge(format!(
                        "session {} has {target_count} target(s): pairwise judging takes two or more",
                        session.row.id
                    )));
                }
                judge::plan_pairwise(cases, target_count, &answers)
            }
            JudgeMode::Rubric => {
                let rubric = plan
                    .rubric
                    .as_ref()
                    .ok_or_else(|| Error::Judge("rubric judging needs a rubric (--rubric FILE)".to_owned()))?;
                judge::plan_rubric(cases, target_count, &answers, rubric)
            }
            JudgeMode::Checks => {
                let judged = cases
                    .iter()
                    .flat_map(|case| &case.checks)
                    .any(|check| check.type_name.trim_start_matches("not-") == "llm-rubric");
                if !judged {
                    return Err(Error::Judge(format!(
                        "session {}'s suite has no `llm-rubric` checks to judge",
                        session.row.id
                    )));
                }
                judge::plan_checks(cases, &session.run.responses)
            }
        };
        if planned.items.is_empty() {
            return Err(Error::Judge(format!(
                "nothing to judge in session {}: no test has the completed answers this needs ({} skipped)",
                session.row.id, planned.skipped
            )));
        }
        Ok(planned)
    }

    /// Starts `plan`, or resumes the judge run of the same session, judge target, mode and rubric
    /// when one asked the same. Must be called inside a tokio runtime.
    pub fn start_judge(&self, plan: JudgePlan) -> Result<StartedJudge> {
        let session = self.load_session(&plan.session)?;
        if session.run.status == RunStatus::Running {
            return Err(Error::Judge(format!(
                "session {} is still running: judge it once it has ended",
                session.row.id
            )));
        }
        let planned = self.plan_judge(&plan, &session)?;
        let items = items_json(&planned.items)?;
        let self_preference = judge::self_preference(&plan.judge, &session.run.record.targets);
        let rubric_text = plan.rubric.as_ref().map(|rubric| rubric.text.clone());
        let earlier = self
            .store()
            .judges_of_session(session.row.id)?
            .into_iter()
            .rev()
            .find(|row| {
                row.judge_target == plan.judge.name
                    && row.mode == plan.mode.as_str()
                    && row.rubric == rubric_text
                    && row.items_json == items
                    && row.status != JUDGE_CANCELLED
            });
        let parameters = Parameters {
            max_output_tokens: Some(plan.max_output_tokens.max(1)),
            ..Parameters::default()
        };
        let options = SessionOptions {
            concurrency: plan.concurrency.max(1),
            retries: plan.retries,
            ..SessionOptions::default()
        };
        let planned_calls = planned.items.len() as u64;
        let worst_case_usd = planned
            .prompts
            .iter()
            .map(|prompt| {
                let bound = Some(u64::from(plan.max_output_tokens.max(1)));
                call_cost(&plan.judge, prompt, bound, self.prices()).high_usd
            })
            .sum::<Option<f64>>();
        if let Some(row) = earlier {
            let mut started = self.resume_judge(row, plan, planned, parameters, &options, self_preference)?;
            started.worst_case_usd = worst_case_usd;
            return Ok(started);
        }
        let targets = vec![plan.judge.clone()];
        let budget = plan
            .budget_usd
            .map(|cap| self.spend_guard(&targets, &planned.prompts, plan.max_output_tokens.max(1), cap, 0.0))
            .transpose()?;
        let run_plan = RunPlan {
            targets,
            prompts: planned.prompts,
            parameters,
            options: self.run_options(&options, budget.as_ref())?,
        };
        let live = self.start_plan(run_plan)?;
        let row = JudgeRow {
            id: live.run_id,
            session_id: session.row.id,
            judge_target: plan.judge.name.clone(),
            mode: plan.mode.as_str().to_owned(),
            rubric: rubric_text,
            items_json: items,
            skipped: planned.skipped,
            status: JUDGE_RUNNING.to_owned(),
            stop_reason: None,
            budget_usd: plan.budget_usd,
            created_at_ms: modelbench_engine::record::now_unix_ms(),
            finished_at_ms: None,
        };
        self.store().insert_judge(&row)?;
        Ok(StartedJudge {
            judge_run_id: live.run_id,
            session_id: session.row.id,
            live: Some(live),
            budget,
            calls: planned_calls,
            planned: planned_calls,
            resumed: false,
            skipped: planned.skipped,
            self_preference,
            worst_case_usd,
        })
    }

    /// Sends what the judge run `row` is missing.
    fn resume_judge(
        &self,
        row: JudgeRow,
        plan: JudgePlan,
        planned: Planned,
        parameters: Parameters,
        options: &SessionOptions,
        self_preference: Vec<String>,
    ) -> Result<StartedJudge> {
        let run = self
            .store()
            .load_run(row.id)?
            .ok_or_else(|| Error::Judge(format!("judge run {} has no stored run", row.id)))?;
        if run.status == RunStatus::Running {
            return Err(Error::StillRunning(row.id));
        }
        let by_key: HashMap<ResponseKey, &ResponseRecord> =
            run.responses.iter().map(|response| (response.key, response)).collect();
        let mut only = HashSet::new();
        let mut spent = 0.0;
        for prompt_index in 0..planned.prompts.len() {
            let key = ResponseKey {
                prompt_index: prompt_index as u32,
                target_index: 0,
                repeat_index: 0,
            };
            match by_key.get(&key) {
                Some(response) if !infrastructure_failure(response) => spent += response.cost_usd.unwrap_or(0.0),
                _ => {
                    only.insert(key);
                }
            }
        }
        let planned_calls = planned.items.len() as u64;
        let started = |live, budget, calls| StartedJudge {
            judge_run_id: row.id,
            session_id: row.session_id,
            live,
            budget,
            calls,
            planned: planned_calls,
            resumed: true,
            skipped: row.skipped,
            self_preference: self_preference.clone(),
            worst_case_usd: None,
        };
        if only.is_empty() {
            self.store().finish_judge(row.id, JUDGE_COMPLETED, None)?;
            return Ok(started(None, None, 0));
        }
        // The judge as saved now (a new key or base URL), under the name it was run with.
        let targets = vec![plan.judge];
        let budget_usd = plan.budget_usd.or(row.budget_usd);
        let budget = budget_usd
            .map(|cap| {
                let bound = parameters.max_output_tokens.unwrap_or(DEFAULT_MAX_OUTPUT_TOKENS);
                self.spend_guard(&targets, &planned.prompts, bound, cap, spent)
            })
            .transpose()?;
        let run_plan = RunPlan {
            targets,
            prompts: planned.prompts,
            parameters,
            options: self.run_options(options, budget.as_ref())?,
        };
        let calls = only.len() as u64;
        let live = self.resume_plan(run_plan, &run.record, only)?;
        self.store().restart_judge(row.id, budget_usd)?;
        Ok(started(Some(live), budget, calls))
    }

    /// Records how a judge run ended, from its run's end and its guard.
    pub fn finish_judge(&self, judge_run_id: RunId, cancelled: bool, budget: Option<&Budget>) -> Result<&'static str> {
        let (status, reason) = if budget.is_some_and(Budget::stopped) {
            (JUDGE_STOPPED, Some("budget"))
        } else if cancelled {
            (JUDGE_CANCELLED, Some("cancelled"))
        } else {
            (JUDGE_COMPLETED, None)
        };
        self.store().finish_judge(judge_run_id, status, reason)?;
        Ok(status)
    }

    /// Every judge run of a session (an id or a unique prefix), oldest first, read back.
    pub fn judge_results(&self, session: &str) -> Result<Vec<JudgeResult>> {
        let session = self.load_session_header(session)?;
        self.store()
            .judges_of_session(session.row.id)?
            .into_iter()
            .map(|row| self.judge_result(&session, row))
            .collect()
    }

    fn judge_result(&self, session: &LoadedSession, row: JudgeRow) -> Result<JudgeResult> {
        let items = stored_items(&row)?;
        let mode = JudgeMode::parse(&row.mode)
            .ok_or_else(|| Error::Judge(format!("judge run {} has an unknown mode '{}'", row.id, row.mode)))?;
        let run = self
            .store()
            .load_run(row.id)?
            .ok_or_else(|| Error::Judge(format!("judge run {} has no stored run", row.id)))?;
        let texts = answer_texts(&run.responses, items.len());
        let judge_target = run.record.targets.first();
        let targets = &session.run.record.targets;
        let self_preference = judge_target
            .map(|judge_target| judge::self_preference(judge_target, targets))
            .unwrap_or_default();
        let cases = session.suite.suite.cases();
        let mut result = JudgeResult {
            judge_run_id: row.id,
            session_id: row.session_id,
            judge: row.judge_target.clone(),
            judge_model: judge_target.map(|target| target.model.clone()).unwrap_or_default(),
            mode,
            status: if run.status == RunStatus::Running {
                JUDGE_RUNNING.to_owned()
            } else {
                row.status.clone()
            },
            stop_reason: row.stop_reason.clone(),
            budget_usd: row.budget_usd,
            planned: items.len() as u64,
            answered: texts.iter().flatten().count() as u64,
            unparsed: 0,
            skipped: row.skipped,
            spent_usd: run.responses.iter().filter_map(|response| response.cost_usd).sum(),
            targets: targets.iter().map(|target| target.name.clone()).collect(),
            self_preference,
            pairs: Vec::new(),
            pair_tallies: Vec::new(),
            rubric: row.rubric.clone(),
            criteria: Vec::new(),
            scores: Vec::new(),
            rubric_tallies: Vec::new(),
            checks: Vec::new(),
        };
        match mode {
            JudgeMode::Pairwise => {
                result.pairs = judge::judged_pairs(&items, &texts);
                result.pair_tallies = judge::pair_tallies(&result.pairs, targets.len());
                result.unparsed = result
                    .pairs
                    .iter()
                    .filter(|pair| pair.outcome == judge::PairOutcome::Unparsed)
                    .count() as u64;
            }
            JudgeMode::Rubric => {
                let rubric =
                    row.rubric.as_deref().and_then(Rubric::parse).ok_or_else(|| {
                        Error::Judge(format!("judge run {} is a rubric run without its rubric", row.id))
                    })?;
                result.scores = judge::rubric_scores(&items, &texts, &rubric.criteria);
                result.rubric_tallies = judge::rubric_tallies(&result.scores, targets.len());
                result.unparsed = result.scores.iter().filter(|score| score.unparsed.is_some()).count() as u64;
                result.criteria = rubric.criteria;
            }
            JudgeMode::Checks => {
                let mut checks: Vec<JudgedCheck> = judge::judged_checks(&items, &texts, cases, &row.judge_target)
                    .into_iter()
                    .map(|((key, check_index), outcome)| JudgedCheck {
                        key,
                        check_index,
                        outcome,
                    })
                    .collect();
                checks.sort_by_key(|check| {
                    (
                        check.key.repeat_index,
                        check.key.prompt_index,
                        check.key.target_index,
                        check.check_index,
                    )
                });
                result.unparsed = checks.iter().filter(|check| check.outcome.passed.is_none()).count() as u64;
                result.checks = checks;
            }
        }
        Ok(result)
    }

    /// The verdicts of the session's latest judge run of its `llm-rubric` checks, if any.
    pub(crate) fn judged_checks(&self, session: &LoadedSession) -> Result<Option<JudgedChecks>> {
        let Some(row) = self
            .store()
            .judges_of_session(session.row.id)?
            .into_iter()
            .rev()
            .find(|row| row.mode == JudgeMode::Checks.as_str())
        else {
            return Ok(None);
        };
        let items = stored_items(&row)?;
        let run = self
            .store()
            .load_run(row.id)?
            .ok_or_else(|| Error::Judge(format!("judge run {} has no stored run", row.id)))?;
        let texts = answer_texts(&run.responses, items.len());
        Ok(Some(JudgedChecks {
            outcomes: judge::judged_checks(&items, &texts, session.suite.suite.cases(), &row.judge_target),
            judge: row.judge_target,
            judge_run_id: row.id.to_string(),
        }))
    }
}
