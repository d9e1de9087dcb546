//! Evaluation sessions for every host: estimate, start (with the spend guard), resume, cancel,
//! list, and the analysis `session show` and the exports read.
//!
//! A session is one run whose prompts are the suite's cases in order (`prompt_index` is the
//! case), sent `repeat` times to every target in the runner's interleaved order (for each
//! repeat, each case, every target in turn), plus a `sessions` row: the suite exactly as it ran
//! (text, referenced files, hash) and the options. Everything a session received is the run's, so
//! `kill -9` loses nothing the run would keep, and `resume` sends only what is missing or ended
//! by an infrastructure failure.
//!
//! A window starts and follows a session through [`live`] (progress messages, at most four a
//! second) and picks its suite through [`suites`].

pub mod answers;
pub mod editor;
pub mod live;
pub mod pause;
pub mod suites;

use std::collections::HashSet;
use std::sync::Arc;

use modelbench_engine::record::utc_date_time;
use modelbench_engine::runner::{Admission, RunOptions, RunPlan};
use modelbench_engine::session::report::{Method, MethodTarget};
use modelbench_engine::session::{Analyser, Analysis, Budget, Estimate, SessionInput, call_cost, estimate};
use modelbench_engine::store::{RunStatus, SessionRow, SessionSummary, StoredSuite};
use modelbench_engine::suite::{LoadedSuite, Suite, SuiteFormat};
use modelbench_engine::{ErrorKind, ResponseKey, ResponseRecord, RunId, StoredRun, Target};
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::{LiveRun, Workbench};
use pause::PauseGate;

/// The seed of a session's resampling when none is given: reports reproduce by default.
pub const DEFAULT_SEED: u64 = 20_261_207;

/// How a session runs, as stored with it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SessionOptions {
    pub repeat: u32,
    /// The global limit; with `auto_concurrency`, the most there may be.
    pub concurrency: usize,
    /// Let the level follow the client's own timing lag (`--concurrency auto`).
    #[serde(default)]
    pub auto_concurrency: bool,
    /// The client-lag threshold in ms (`None`: the engine's 5 ms).
    #[serde(default)]
    pub lag_threshold_ms: Option<f64>,
    #[serde(default)]
    pub per_provider_concurrency: Vec<(String, usize)>,
    pub seed: u64,
    #[serde(default)]
    pub retries: Option<u32>,
}

impl Default for SessionOptions {
    fn default() -> Self {
        Self {
            repeat: 1,
            concurrency: 8,
            auto_concurrency: false,
            lag_threshold_ms: None,
            per_provider_concurrency: Vec::new(),
            seed: DEFAULT_SEED,
            retries: None,
        }
    }
}

/// What to run: a loaded suite, the targets, the options and an optional cap.
pub struct SessionPlan {
    pub suite: LoadedSuite,
    pub format: SuiteFormat,
    /// Where the suite was read from, for the record.
    pub path: Option<String>,
    pub targets: Vec<Target>,
    pub options: SessionOptions,
    pub budget_usd: Option<f64>,
}

/// A session under way: its id (the run's), the run to forward or wait for, and its guard.
pub struct StartedSession {
    pub session_id: RunId,
    pub live: LiveRun,
    pub budget: Option<Arc<Budget>>,
    /// Asked before each call with the budget; [`Workbench::pause_session`] closes it.
    pub pause: Arc<PauseGate>,
    /// Calls this start sends (all of them, or what a resume sends again).
    pub calls: u64,
    /// The targets' names, in target order.
    pub targets: Vec<String>,
}

/// Statuses of a session.
pub const SESSION_RUNNING: &str = "running";
pub const SESSION_COMPLETED: &str = "completed";
pub const SESSION_STOPPED: &str = "stopped";
pub const SESSION_CANCELLED: &str = "cancelled";
/// Paused by the user: the calls in flight finished, the rest were not sent; it resumes.
pub const SESSION_PAUSED: &str = "paused";
pub const SESSION_INTERRUPTED: &str = "interrupted";
/// Asked to cancel by another process; the running one stops when it sees it.
pub const SESSION_CANCELLING: &str = "cancelling";

/// Errors that the infrastructure caused, so a resume sends the call again. Model outcomes
/// (refusals, content filters, validation, auth) are results and stay.
pub(crate) fn infrastructure_failure(record: &ResponseRecord) -> bool {
    if record.complete {
        return false;
    }
    match &record.error {
        None => true,
        Some(error) => matches!(
            error.kind,
            ErrorKind::Connect
                | ErrorKind::Server
                | ErrorKind::RateLimited
                | ErrorKind::Overloaded
                | ErrorKind::Timeout
                | ErrorKind::Network
                | ErrorKind::Cancelled
                | ErrorKind::Interrupted
        ),
    }
}

impl SessionPlan {
    fn parameters(&self) -> modelbench_engine::Parameters {
        self.suite.suite.defaults.parameters.clone()
    }

    fn prompts(&self) -> Vec<modelbench_engine::Prompt> {
        self.suite
            .suite
            .cases()
            .iter()
            .map(|case| case.prompt.clone())
            .collect()
    }
}

impl Workbench {
    /// The estimate of `plan`: calls, tokens and a cost range per target, nothing sent.
    pub fn estimate_session(&self, plan: &SessionPlan) -> Estimate {
        estimate(
            &plan.prompts(),
            &plan.targets,
            plan.options.repeat,
            &plan.parameters(),
            self.prices(),
        )
    }

    /// The spend guard for `plan`, refusing what a cap cannot cover: unpriced targets, and
    /// calls whose output has no bound.
    fn budget_for(&self, plan: &SessionPlan, cap_usd: f64, already_spent_usd: f64) -> Result<Arc<Budget>> {
        let Some(max_output) = plan.parameters().max_output_tokens else {
            check_cap(cap_usd)?;
            return Err(Error::Session(
                "a budget needs a bound on every answer: set `defaults.parameters.max_output_tokens` in the suite"
                    .to_owned(),
            ));
        };
        self.spend_guard(&plan.targets, &plan.prompts(), max_output, cap_usd, already_spent_usd)
    }

    /// A spend guard of `cap_usd` over every prompt to every target, each call's worst case its
    /// input and `max_output` tokens; refused when a target has no known price. Sessions and
    /// judge runs share it.
    pub(crate) fn spend_guard(
        &self,
        targets: &[Target],
        prompts: &[modelbench_engine::Prompt],
        max_output: u32,
        cap_usd: f64,
        already_spent_usd: f64,
    ) -> Result<Arc<Budget>> {
        check_cap(cap_usd)?;
        let mut unpriced = Vec::new();
        let mut worst_case = Vec::with_capacity(targets.len());
        for target in targets {
            let costs: Vec<Option<f64>> = prompts
                .iter()
                .map(|prompt| call_cost(target, prompt, Some(u64::from(max_output)), self.prices()).high_usd)
                .collect();
            if costs.iter().any(Option::is_none) {
                unpriced.push(target.name.clone());
            }
            worst_case.push(costs.into_iter().map(|cost| cost.unwrap_or(f64::INFINITY)).collect());
        }
        if !unpriced.is_empty() {
            return Err(Error::Session(format!(
                "a budget cannot cover targets without a known price: {} (set a price with `modelbench prices set`, or run without --budget)",
                unpriced.join(", ")
            )));
        }
        Ok(Arc::new(Budget::new(cap_usd, already_spent_usd, worst_case)))
    }

    pub(crate) fn run_options(&self, options: &SessionOptions, budget: Option<&Arc<Budget>>) -> Result<RunOptions> {
        let mut run_options = RunOptions {
            concurrency: options.concurrency.max(1),
            auto_concurrency: options.auto_concurrency,
            repeat: options.repeat.max(1),
            ..RunOptions::default()
        };
        // A session of thousands of calls reads its responses back from the store.
        run_options.keep_responses = false;
        for (provider, limit) in &options.per_provider_concurrency {
            let kind = modelbench_engine::ProviderKind::parse(provider)
                .ok_or_else(|| Error::Session(format!("unknown provider '{provider}' in --provider-concurrency")))?;
            run_options.per_provider_concurrency.insert(kind, (*limit).max(1));
        }
        if let Some(retries) = options.retries {
            run_options.retry.max_retries = retries;
        }
        if let Some(threshold) = options.lag_threshold_ms.filter(|ms| ms.is_finite() && *ms > 0.0) {
            run_options.lag_threshold = std::time::Duration::from_secs_f64(threshold / 1000.0);
        }
        run_options.admission = budget.map(|budget| Arc::clone(budget) as Arc<dyn Admission>);
        Ok(run_options)
    }

    /// [`Self::run_options`] for a session: its calls asked of a gate that can pause them, in
    /// front of `budget`.
    fn session_run_options(
        &self,
        options: &SessionOptions,
        budget: Option<&Arc<Budget>>,
    ) -> Result<(RunOptions, Arc<PauseGate>)> {
        let mut run_options = self.run_options(options, None)?;
        let gate = Arc::new(PauseGate::new(budget.cloned()));
        run_options.admission = Some(Arc::clone(&gate) as Arc<dyn Admission>);
        Ok((run_options, gate))
    }

    /// Stores the suite and starts the session. Must be called inside a tokio runtime.
    pub fn start_session(&self, plan: SessionPlan) -> Result<StartedSession> {
        if plan.suite.suite.cases().is_empty() {
            return Err(Error::Session("the suite has no tests to run".to_owned()));
        }
        let budget = plan
            .budget_usd
            .map(|cap| self.budget_for(&plan, cap, 0.0))
            .transpose()?;
        let stored_suite = StoredSuite {
            hash: plan.suite.hash.clone(),
            name: plan.suite.suite.name.clone(),
            format: plan.format.as_str().to_owned(),
            path: plan.path.clone(),
            text: plan.suite.text.clone(),
            files_json: serde_json::to_string(&plan.suite.files).map_err(|error| Error::Session(error.to_string()))?,
        };
        self.store().save_suite(&stored_suite)?;
        let (options, pause) = self.session_run_options(&plan.options, budget.as_ref())?;
        let run_plan = RunPlan {
            targets: plan.targets.clone(),
            prompts: plan.prompts(),
            parameters: plan.parameters(),
            options,
        };
        let calls = (run_plan.prompts.len() * run_plan.targets.len()) as u64 * u64::from(plan.options.repeat.max(1));
        let live = self.start_plan(run_plan)?;
        let session = SessionRow {
            id: live.run_id,
            suite_hash: plan.suite.hash.clone(),
            status: SESSION_RUNNING.to_owned(),
            stop_reason: None,
            budget_usd: plan.budget_usd,
            options_json: serde_json::to_string(&plan.options).map_err(|error| Error::Session(error.to_string()))?,
            case_ids: plan
                .suite
                .suite
                .cases()
                .iter()
                .map(|case| case.case_id.clone())
                .collect(),
            created_at_ms: modelbench_engine::record::now_unix_ms(),
            finished_at_ms: None,
        };
        self.store().insert_session(&session)?;
        self.pauses().register(live.run_id, Arc::clone(&pause));
        Ok(StartedSession {
            session_id: live.run_id,
            live,
            budget,
            pause,
            calls,
            targets: plan.targets.iter().map(|target| target.name.clone()).collect(),
        })
    }

    /// Records how a session ended, from its run's end and its guard.
    pub fn finish_session(&self, session_id: RunId, cancelled: bool, budget: Option<&Budget>) -> Result<&'static str> {
        record_end(self.store(), session_id, cancelled, false, budget)
    }

    /// Pauses session `id`, which this process runs: no further call goes out, those in flight
    /// finish, and it ends as `paused`, to resume later with only what was not sent.
    pub fn pause_session(&self, id: &str) -> Result<RunId> {
        let row = self
            .store()
            .find_session(id)?
            .ok_or_else(|| Error::Session(format!("no session '{id}'")))?;
        if !self.running().contains(row.id) || !self.pauses().pause(row.id) {
            return Err(Error::Session(format!(
                "session {} is not running here, so it cannot be paused (status: {})",
                row.id, row.status
            )));
        }
        Ok(row.id)
    }

    /// Follows `started` for `sink` until it ends, then forgets its pause gate.
    fn follow_live(&self, started: StartedSession, tally: live::ProgressTally, sink: impl live::SessionSink) {
        let pauses = self.pauses().clone();
        let store = self.store().clone();
        tokio::spawn(async move {
            let session_id = started.session_id;
            live::follow(store, started, tally, sink).await;
            pauses.remove(session_id);
        });
    }

    /// Starts `plan` and follows it for `sink` (see [`live`]): `started`, progress, then how it
    /// ended, recorded. Must be called inside a tokio runtime.
    pub fn start_session_live(&self, plan: SessionPlan, sink: impl live::SessionSink) -> Result<RunId> {
        let budget_usd = plan.budget_usd;
        let started = self.start_session(plan)?;
        let tally = live::ProgressTally::new(
            &started.targets,
            started.calls / started.targets.len().max(1) as u64,
            budget_usd,
        );
        let session_id = started.session_id;
        self.follow_live(started, tally, sink);
        Ok(session_id)
    }

    /// Resumes session `id` and follows it for `sink`; its progress counts what earlier starts
    /// finished, and each target goes to where its saved namesake is served now. `None` when
    /// nothing was missing (it is then recorded as completed).
    pub fn resume_session_live(
        &self,
        id: &str,
        budget_usd: Option<f64>,
        sink: impl live::SessionSink,
    ) -> Result<Option<RunId>> {
        // Counted before the resume starts writing, so no response is counted twice.
        let header = self.load_session_header(id)?;
        let record = &header.run.record;
        let names: Vec<String> = record.targets.iter().map(|target| target.name.clone()).collect();
        let planned = record.prompts.len() as u64 * u64::from(record.repeat.max(1));
        let mut tally = live::ProgressTally::new(&names, planned, budget_usd.or(header.row.budget_usd));
        self.store().load_run_visiting(header.row.id, &mut |response| {
            if !infrastructure_failure(&response) {
                tally.add(&response);
            }
            Ok(())
        })?;
        let Some(started) = self.resume_session_at(id, budget_usd, true)? else {
            return Ok(None);
        };
        let session_id = started.session_id;
        self.follow_live(started, tally, sink);
        Ok(Some(session_id))
    }

    /// The session report of `id` in `format` (`html`, `md`, `json`, `csv`).
    pub fn export_session(&self, id: &str, format: modelbench_engine::session::report::Format) -> Result<String> {
        let (session, analysis) = self.analyse_session(id)?;
        let method = method(&session, &analysis);
        Ok(modelbench_engine::session::report::render(&analysis, &method, format))
    }

    /// A stored session with its suite loaded again from what was stored.
    pub fn load_session(&self, id: &str) -> Result<LoadedSession> {
        let mut responses = Vec::new();
        let mut session = self.load_session_with(
            id,
            Some(&mut |response| {
                responses.push(response);
                Ok(())
            }),
        )?;
        session.run.responses = responses;
        Ok(session)
    }

    /// A stored session's suite, options and run header, without its responses.
    pub(crate) fn load_session_header(&self, id: &str) -> Result<LoadedSession> {
        self.load_session_with(id, None)
    }

    /// A stored session whose responses go to `visit` one by one (`None`: are not read) instead
    /// of into `run.responses` (left empty).
    fn load_session_with(
        &self,
        id: &str,
        visit: Option<&mut dyn FnMut(ResponseRecord) -> modelbench_engine::Result<()>>,
    ) -> Result<LoadedSession> {
        let row = self
            .store()
            .find_session(id)?
            .ok_or_else(|| Error::Session(format!("no session '{id}'")))?;
        let suite_row = self
            .store()
            .load_suite(&row.suite_hash)?
            .ok_or_else(|| Error::Session(format!("session {} names a suite that is not stored", row.id)))?;
        let files = serde_json::from_str(&suite_row.files_json).map_err(|error| Error::Session(error.to_string()))?;
        let format = SuiteFormat::parse(&suite_row.format).unwrap_or(SuiteFormat::Yaml);
        let suite = Suite::restore(&suite_row.text, format, files, &suite_row.name)
            .map_err(|errors| Error::Session(format!("the stored suite no longer loads: {errors}")))?;
        let run = match visit {
            Some(visit) => self.store().load_run_visiting(row.id, visit)?,
            None => self.store().load_run_header(row.id)?,
        }
        .ok_or_else(|| Error::Session(format!("session {} has no stored run", row.id)))?;
        let options: SessionOptions =
            serde_json::from_str(&row.options_json).map_err(|error| Error::Session(error.to_string()))?;
        let status = effective_status(&row, &run);
        Ok(LoadedSession {
            row,
            suite_row,
            suite,
            format,
            run,
            options,
            status,
        })
    }

    /// Sends what a session is missing: calls never sent or ended by an infrastructure failure.
    /// `None` when nothing is missing.
    pub fn resume_session(&self, id: &str, budget_usd: Option<f64>) -> Result<Option<StartedSession>> {
        self.resume_session_at(id, budget_usd, false)
    }

    /// [`Self::resume_session`]; with `current_endpoints`, each target is sent to where its saved
    /// namesake of the same provider and model is served now (the simulated clouds move to a new
    /// port at each launch of the app; a gateway may have moved), its credentials and
    /// parameters as stored.
    fn resume_session_at(
        &self,
        id: &str,
        budget_usd: Option<f64>,
        current_endpoints: bool,
    ) -> Result<Option<StartedSession>> {
        let session = self.load_session(id)?;
        if session.run.status == RunStatus::Running {
            return Err(Error::StillRunning(session.row.id));
        }
        if session.status == SESSION_CANCELLED {
            return Err(Error::Session(format!(
                "session {} was cancelled; it cannot be resumed",
                session.row.id
            )));
        }
        let record = &session.run.record;
        let by_key: std::collections::HashMap<ResponseKey, &ResponseRecord> = session
            .run
            .responses
            .iter()
            .map(|response| (response.key, response))
            .collect();
        let mut only = HashSet::new();
        let mut spent = 0.0;
        for repeat_index in 0..record.repeat {
            for prompt_index in 0..record.prompts.len() {
                for target_index in 0..record.targets.len() {
                    let key = ResponseKey {
                        prompt_index: prompt_index as u32,
                        target_index: target_index as u32,
                        repeat_index,
                    };
                    match by_key.get(&key) {
                        Some(response) if !infrastructure_failure(response) => {
                            spent += response.cost_usd.unwrap_or(0.0);
                        }
                        _ => {
                            only.insert(key);
                        }
                    }
                }
            }
        }
        if only.is_empty() {
            self.store().finish_session(session.row.id, SESSION_COMPLETED, None)?;
            return Ok(None);
        }
        let targets = if current_endpoints {
            self.current_endpoints(&record.targets)?
        } else {
            record.targets.clone()
        };
        let plan = SessionPlan {
            suite: session.suite,
            format: session.format,
            path: session.suite_row.path.clone(),
            targets: targets.clone(),
            options: session.options.clone(),
            budget_usd: budget_usd.or(session.row.budget_usd),
        };
        let budget = plan
            .budget_usd
            .map(|cap| self.budget_for(&plan, cap, spent))
            .transpose()?;
        let (options, pause) = self.session_run_options(&plan.options, budget.as_ref())?;
        let run_plan = RunPlan {
            targets,
            prompts: record.prompts.clone(),
            parameters: record.parameters.clone(),
            options,
        };
        let calls = only.len() as u64;
        let live = self.resume_plan(run_plan, record, only)?;
        self.store().restart_session(session.row.id, plan.budget_usd)?;
        self.pauses().register(session.row.id, Arc::clone(&pause));
        Ok(Some(StartedSession {
            session_id: session.row.id,
            live,
            budget,
            pause,
            calls,
            targets: record.targets.iter().map(|target| target.name.clone()).collect(),
        }))
    }

    /// `targets` with the base URL of the saved target of the same name, provider and model.
    fn current_endpoints(&self, targets: &[Target]) -> Result<Vec<Target>> {
        targets
            .iter()
            .map(|target| {
                let mut target = target.clone();
                if let Some(saved) = self.store().get_target(&target.name)?
                    && saved.provider == target.provider
                    && saved.model == target.model
                {
                    target.base_url = saved.base_url;
                }
                Ok(target)
            })
            .collect()
    }

    /// Cancels a session: at once when this process runs it, else by marking it so the process
    /// running it stops (it checks), or so a stopped one is never resumed.
    pub fn cancel_session(&self, id: &str) -> Result<RunId> {
        let session = self.load_session(id)?;
        let id = session.row.id;
        if self.running().stop(id) {
            return Ok(id);
        }
        let status = if session.run.status == RunStatus::Running {
            SESSION_CANCELLING
        } else {
            SESSION_CANCELLED
        };
        self.store().finish_session(id, status, Some("cancelled"))?;
        Ok(id)
    }

    /// Whether another process asked this session to cancel.
    pub fn cancel_requested(&self, session_id: RunId) -> Result<bool> {
        Ok(self
            .store()
            .find_session(&session_id.to_string())?
            .is_some_and(|row| row.status == SESSION_CANCELLING))
    }

    /// Sessions, newest first; one whose process died while it ran says `interrupted`, as
    /// `session show` does, so a window offers to resume it.
    pub fn list_sessions(&self) -> Result<Vec<SessionSummary>> {
        let mut sessions = self.store().list_sessions()?;
        for session in &mut sessions {
            let running = session.status == SESSION_RUNNING || session.status == SESSION_CANCELLING;
            if !running || self.running().contains(session.id) {
                continue;
            }
            if let (Some(row), Some(run)) = (
                self.store().find_session(&session.id.to_string())?,
                self.store().load_run_header(session.id)?,
            ) {
                session.status = effective_status(&row, &run);
            }
        }
        Ok(sessions)
    }

    /// The statistics of a session (`session show`). The responses are read one by one into the
    /// analysis, which keeps of each only what its figures need: the returned session's
    /// `run.responses` is empty.
    pub fn analyse_session(&self, id: &str) -> Result<(LoadedSession, Analysis)> {
        // The suite and targets come first (the session's header), then the responses.
        let header = self.load_session_header(id)?;
        let judged = self.judged_checks(&header)?;
        let input = SessionInput {
            session_id: header.row.id.to_string(),
            status: header.status.clone(),
            cases: header.suite.suite.cases(),
            targets: &header.run.record.targets,
            repeat: header.run.record.repeat,
            margins: &header.suite.suite.margins,
            seed: header.options.seed,
            judged: judged.as_ref(),
        };
        let mut analyser = Analyser::new(&input);
        self.store().load_run_visiting(header.row.id, &mut |response| {
            analyser.add(&response);
            Ok(())
        })?;
        let analysis = analyser.finish();
        Ok((header, analysis))
    }
}

/// A session as stored, with its suite and run.
pub struct LoadedSession {
    pub row: SessionRow,
    pub suite_row: StoredSuite,
    pub suite: LoadedSuite,
    pub format: SuiteFormat,
    pub run: StoredRun,
    pub options: SessionOptions,
    /// The stored status, or `interrupted` when its run died with it running.
    pub status: String,
}

/// Records how a session ended in `store`, from its run's end, its pause (`paused`: the pause
/// kept calls from going out) and its guard.
pub(crate) fn record_end(
    store: &modelbench_engine::Store,
    session_id: RunId,
    cancelled: bool,
    paused: bool,
    budget: Option<&Budget>,
) -> Result<&'static str> {
    let (status, reason) = if budget.is_some_and(Budget::stopped) {
        (SESSION_STOPPED, Some("budget"))
    } else if cancelled {
        (SESSION_CANCELLED, Some("cancelled"))
    } else if paused {
        (SESSION_PAUSED, Some("paused"))
    } else {
        (SESSION_COMPLETED, None)
    };
    store.finish_session(session_id, status, reason)?;
    Ok(status)
}

fn check_cap(cap_usd: f64) -> Result<()> {
    if cap_usd.is_finite() && cap_usd > 0.0 {
        Ok(())
    } else {
        Err(Error::Session(format!(
            "--budget must be a positive number of dollars, not {cap_usd}"
        )))
    }
}

fn effective_status(row: &SessionRow, run: &StoredRun) -> String {
    let running = row.status == SESSION_RUNNING || row.status == SESSION_CANCELLING;
    if running && run.status != RunStatus::Running {
        if run.status == RunStatus::Cancelled {
            return SESSION_CANCELLED.to_owned();
        }
        return SESSION_INTERRUPTED.to_owned();
    }
    row.status.clone()
}

/// How `session` was run, for the report's method section (`analysis` is its analysis, which
/// read its responses).
pub fn method(session: &LoadedSession, analysis: &Analysis) -> Method {
    let record = &session.run.record;
    let mut checks: Vec<(String, usize)> = Vec::new();
    for case in session.suite.suite.cases() {
        for check in &case.checks {
            match checks.iter_mut().find(|(name, _)| *name == check.type_name) {
                Some((_, count)) => *count += 1,
                None => checks.push((check.type_name.clone(), 1)),
            }
        }
    }
    let targets = record
        .targets
        .iter()
        .enumerate()
        .map(|(index, target)| {
            let sources = analysis.sources.get(index).cloned().unwrap_or_default();
            MethodTarget {
                name: target.name.clone(),
                provider: target.provider.as_str().to_owned(),
                model: target.model.clone(),
                region: target.region.clone().or_else(|| target.location.clone()),
                base_model: modelbench_engine::identity::base_model(target, None),
                reported_models: sources.reported_models,
                price_source: sources.price_source,
            }
        })
        .collect();
    Method {
        suite_name: session.suite.suite.name.clone(),
        suite_hash: session.suite.hash.clone(),
        suite_path: session.suite_row.path.clone(),
        tests: session.suite.suite.tests.len(),
        cases: session.suite.suite.cases().len(),
        targets,
        parameters: record.parameters.clone(),
        repeat: record.repeat,
        concurrency: session.options.concurrency,
        scheduling: format!(
            "interleaved: for each repeat, each test, every target in turn; {} call(s) in flight at most",
            session.options.concurrency
        ),
        started_at: format!("{} UTC", utc_date_time(record.started_at_ms)),
        finished_at: session
            .run
            .finished_at_ms
            .map(|at| format!("{} UTC", utc_date_time(at))),
        budget_usd: session.row.budget_usd,
        stop_reason: session.row.stop_reason.clone(),
        checks,
        notes: session.suite.notes.iter().map(ToString::to_string).collect(),
    }
}
