//! The ModelBench application layer: what the desktop shell and the CLI both do with the engine,
//! written once and against no host.
//!
//! A host opens a data dir ([`data_dir`]), makes a [`Workbench`] over its store with the
//! credentials it trusts, and adapts each of its commands onto one call here: start and stop a
//! run ([`run`], streamed to a [`RunSink`]), test a target, list, search, load and delete stored
//! runs ([`history`]), export one ([`export`]) and choose which of its answers to diff ([`diff`]);
//! run evaluation sessions ([`session`]: estimate, spend cap, resume, analysis, report; for a
//! window, suites to pick and progress at most every 250 ms), blind panels over them ([`panel`]:
//! packets, ratings import, results) and LLM judges ([`judge`]).
//! The shell's sink is a Tauri channel, the CLI reads the engine's events itself; a test host is
//! a closure (`tests/test_host.rs`), which proves the bodies run without a desktop or a terminal.
//!
//! Left out on purpose: anything a host shows or asks (windows, dialogs, flags, colours, progress
//! bars, signals), the simulated clouds' lifecycle (each host starts them its own way), and
//! whatever the engine already does (running, storing, pricing, reporting, diffing).

pub mod data_dir;
pub mod diff;
pub mod error;
pub mod evidence;
pub mod export;
pub mod history;
pub mod judge;
pub mod panel;
pub mod pdf;
pub mod run;
pub mod session;

use std::collections::HashSet;
use std::sync::Arc;

use modelbench_engine::credentials::CredentialSource;
use modelbench_engine::report::Format;
use modelbench_engine::runner::{RunPlan, Runner};
use modelbench_engine::{Prompt, ResponseKey, ResponseRecord, RunId, RunRecord, RunSummary, Store, StoredRun, Target};
use tokio_util::sync::CancellationToken;

pub use error::{Error, Result};
pub use run::{LiveResponse, LiveRun, RunMessage, RunRequest, RunSink, Running};

/// One data dir's store with the runners that write to it, and the runs in flight.
pub struct Workbench {
    /// Shared with work on the blocking pool.
    store: Arc<Store>,
    runner: Runner,
    /// Runs target tests, which are not history: the same credentials and prices, no store.
    tester: Runner,
    running: Running,
    /// The gates of the sessions this process runs, to pause them.
    pauses: session::pause::Pauses,
    /// The prices the runners cost at, for estimates and spend caps.
    prices: Arc<modelbench_engine::pricing::PriceBook>,
}

impl Workbench {
    /// Runs are stored in `store`, sent with `credentials` and costed at the data dir's prices
    /// (read now: [`data_dir::price_book`]).
    pub fn new(store: Arc<Store>, credentials: Arc<dyn CredentialSource>) -> Result<Self> {
        let prices = data_dir::price_book(&store)?;
        let runner = Runner::new(credentials.clone())
            .with_store(store.writer())
            .with_prices(prices.clone());
        let tester = Runner::new(credentials).with_prices(prices.clone());
        Ok(Self {
            store,
            runner,
            tester,
            running: Running::default(),
            pauses: session::pause::Pauses::default(),
            prices: Arc::new(prices),
        })
    }

    /// The prices runs are costed at.
    pub fn prices(&self) -> &modelbench_engine::pricing::PriceBook {
        &self.prices
    }

    pub fn store(&self) -> &Arc<Store> {
        &self.store
    }

    pub fn running(&self) -> &Running {
        &self.running
    }

    pub(crate) fn pauses(&self) -> &session::pause::Pauses {
        &self.pauses
    }

    /// The saved target `name`.
    pub fn saved_target(&self, name: &str) -> Result<Target> {
        self.store
            .get_target(name)?
            .ok_or_else(|| Error::TargetNotFound(name.to_owned()))
    }

    /// Starts `request` and streams it to `sink`: `started` now, then the batched events, each
    /// final record and the end (see [`run`]). Must be called inside a tokio runtime, where the
    /// run's tasks go.
    pub fn start_run(&self, request: RunRequest, sink: impl RunSink) -> Result<RunId> {
        let targets = request
            .targets
            .iter()
            .map(|name| self.saved_target(name))
            .collect::<Result<Vec<Target>>>()?;
        let plan = RunPlan {
            targets: targets.clone(),
            prompts: vec![Prompt::user(request.prompt).with_system(request.system)],
            parameters: request.parameters,
            options: modelbench_engine::runner::RunOptions::default(),
        };
        let live = self.start_plan(plan)?;
        let run_id = live.run_id;
        sink.send(RunMessage::Started { run_id, targets });
        tokio::spawn(async move { live.forward_to(&sink).await });
        Ok(run_id)
    }

    /// Starts `plan` for a host that reads its events itself.
    pub fn start_plan(&self, plan: RunPlan) -> Result<LiveRun> {
        let cancel = CancellationToken::new();
        let handle = self.runner.start(plan, cancel.clone())?;
        let registration = self.running.register(handle.run_id, cancel.clone());
        Ok(LiveRun::new(handle, cancel, registration))
    }

    /// Sends `plan` again into the stored run `record`, only for the responses in `only` (see
    /// [`run::resumption`]).
    pub fn resume_plan(&self, plan: RunPlan, record: &RunRecord, only: HashSet<ResponseKey>) -> Result<LiveRun> {
        let cancel = CancellationToken::new();
        let handle = self.runner.resume(plan, record, only, cancel.clone())?;
        let registration = self.running.register(handle.run_id, cancel.clone());
        Ok(LiveRun::new(handle, cancel, registration))
    }

    /// Cancels `run_id` if it is running. A run that already ended has nothing left to stop,
    /// which is not an error for a Stop button.
    pub fn stop_run(&self, run_id: RunId) {
        self.running.stop(run_id);
    }

    /// One connection test of the saved target `name`, not stored.
    pub async fn test_target(&self, name: &str) -> Result<ResponseRecord> {
        let target = self.saved_target(name)?;
        let handle = self
            .tester
            .start(RunPlan::connection_test(target), CancellationToken::new())?;
        run::test_record(handle.outcome().await?, name)
    }

    /// Runs `work` with the store on the blocking pool: neither on a window's thread nor on the
    /// async workers that carry the runs' streams.
    pub async fn with_store<T: Send + 'static>(
        &self,
        work: impl FnOnce(&Store) -> Result<T> + Send + 'static,
    ) -> Result<T> {
        let store = self.store.clone();
        blocking(move || work(&store)).await?
    }

    /// [`history::list`] on the blocking pool.
    pub async fn list_runs(&self, query: Option<String>, limit: usize) -> Result<Vec<RunSummary>> {
        self.with_store(move |store| history::list(store, query.as_deref(), limit))
            .await
    }

    pub async fn load_run(&self, run_id: RunId) -> Result<StoredRun> {
        self.with_store(move |store| history::load(store, run_id)).await
    }

    pub async fn delete_run(&self, run_id: RunId) -> Result<()> {
        self.with_store(move |store| history::delete(store, run_id)).await
    }

    /// The report of a stored run, rendered on the blocking pool.
    pub async fn export_run(&self, run_id: RunId, format: Format) -> Result<String> {
        let run = self.load_run(run_id).await?;
        blocking(move || export::render(&run, format)).await
    }
}

/// Runs CPU-bound or disk-bound `work` (a diff of long answers, a report: tens of milliseconds)
/// on the blocking pool.
pub async fn blocking<T: Send + 'static>(work: impl FnOnce() -> T + Send + 'static) -> Result<T> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|error| Error::Stopped(error.to_string()))
}
