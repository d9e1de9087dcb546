//! The runner: sends every prompt to every target (times every repeat) concurrently and
//! measures each response honestly.
//!
//! Each response is one task. It waits for a global and a per-provider permit, then its clock
//! starts: queueing never counts against a cloud. Events are stamped (target, sequence,
//! monotonic time), folded by the [`Accumulator`], sent to the live consumer and to the store's
//! writer, which never makes streaming wait on disk. Retries happen only for infrastructure
//! failures and only while no content has arrived; one target failing never stops another.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{Semaphore, mpsc};
use tokio::task::JoinSet;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::model::accumulate::Accumulator;
use crate::model::error::{Error, ErrorKind, ProviderError, Result};
use crate::model::event::{FinishReason, ResponseKey, StampedEvent, StreamEvent};
use crate::model::record::{ResponseRecord, RunId, RunRecord, now_unix_ms};
use crate::model::request::{Parameters, Prompt};
use crate::model::target::{ProviderKind, Target, Timeouts};
use crate::pricing::{Cost, PriceBook};
use crate::providers::{self, PreparedRequest};
use crate::run::adaptive;
use crate::run::lag::{DEFAULT_LAG_THRESHOLD, LagMonitor};
use crate::secrets::auth;
use crate::secrets::credentials::{Credential, CredentialSource};
use crate::store::{RunStatus, StoreWriter};

/// Retries for infrastructure failures (connect errors, 429 rate limits, 5xx, overloaded).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RetryPolicy {
    pub max_retries: u32,
    pub base_delay: Duration,
    /// A longer `retry-after` than this is not waited for: the failure is reported instead.
    pub max_delay: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_retries: 2,
            base_delay: Duration::from_millis(500),
            max_delay: Duration::from_secs(30),
        }
    }
}

#[derive(Clone, Debug)]
pub struct RunOptions {
    /// How many requests are in flight at once, across all targets; with `auto_concurrency`, the
    /// most there may be.
    pub concurrency: usize,
    /// Let the level follow the client's own lag (`--concurrency auto`, see
    /// [`crate::run::adaptive`]): it starts low, widens while timings stay honest and narrows
    /// when the client runs late.
    pub auto_concurrency: bool,
    /// Optional tighter limits per provider (a cloud's rate limit, a local Ollama's one GPU).
    pub per_provider_concurrency: HashMap<ProviderKind, usize>,
    pub repeat: u32,
    /// Defaults; each target's `timeouts` table overrides them.
    pub timeouts: Timeouts,
    pub retry: RetryPolicy,
    /// Keep every finished response in [`RunOutcome::responses`]. Off, the run's memory depends
    /// on its concurrency only, not on how many responses it has: the consumer reads them back
    /// from the store (which is where a run of 100,000 responses belongs) or folds them as they
    /// are announced.
    pub keep_responses: bool,
    /// The most text and reasoning one response may stream, in bytes. Beyond it the response
    /// ends as incomplete with an error saying so, what came before kept: one runaway stream
    /// must not take the machine's memory or the disk.
    pub max_output_bytes: usize,
    /// Asked before each call goes out (after it has its concurrency slot); a call it refuses is
    /// recorded as never sent. A session's spend guard is one.
    pub admission: Option<Arc<dyn Admission>>,
    /// How late the client itself may have been around a response's timings before they are
    /// marked `client_saturated` (see [`crate::run::lag`]).
    pub lag_threshold: Duration,
}

/// A gate before each call: whether it may go out now, and what it turned out to cost.
pub trait Admission: Send + Sync + std::fmt::Debug {
    /// Whether the call for `key` on `target` may be sent. Called once per call, in the run's
    /// scheduling order, with the call's concurrency slot held.
    fn admit(&self, target: &Target, key: ResponseKey) -> bool;
    /// The admitted call ended with `record`.
    fn settle(&self, record: &ResponseRecord);
    /// Why the calls it refused were not sent, for their records.
    fn refusal(&self) -> &'static str {
        "not sent: it could take the session over its budget"
    }
}

/// The default [`RunOptions::max_output_bytes`]: far beyond any real answer (a million tokens
/// is about 4 MiB of text).
pub const DEFAULT_MAX_OUTPUT_BYTES: usize = 16 << 20;

/// The most bytes a stream may send without completing one event (an SSE or NDJSON line
/// without its end, a binary frame): decoders buffer an unfinished event whole.
pub const MAX_EVENT_BYTES: usize = 16 << 20;

/// How much of an HTTP error body is read: the message is in its first bytes, and a cloud (or a
/// proxy) answering 500 with hundreds of megabytes must not be buffered to keep 500 characters.
const MAX_ERROR_BODY_BYTES: usize = 64 << 10;

impl Default for RunOptions {
    fn default() -> Self {
        Self {
            concurrency: 16,
            auto_concurrency: false,
            per_provider_concurrency: HashMap::new(),
            repeat: 1,
            timeouts: Timeouts::default(),
            retry: RetryPolicy::default(),
            keep_responses: true,
            max_output_bytes: DEFAULT_MAX_OUTPUT_BYTES,
            admission: None,
            lag_threshold: DEFAULT_LAG_THRESHOLD,
        }
    }
}

/// What to run.
#[derive(Clone, Debug)]
pub struct RunPlan {
    pub targets: Vec<Target>,
    pub prompts: Vec<Prompt>,
    pub parameters: Parameters,
    pub options: RunOptions,
}

impl RunPlan {
    /// A quick check that `target` answers at all (its key, address and model): one short
    /// prompt with a small output budget, no retries.
    pub fn connection_test(target: Target) -> Self {
        Self {
            targets: vec![target],
            prompts: vec![Prompt::user("Reply with the single word: ok")],
            parameters: Parameters {
                max_output_tokens: Some(16),
                ..Parameters::default()
            },
            options: RunOptions {
                retry: RetryPolicy {
                    max_retries: 0,
                    ..RetryPolicy::default()
                },
                ..RunOptions::default()
            },
        }
    }
}

/// What a consumer sees while a run goes on.
#[derive(Clone, Debug)]
pub enum RunEvent {
    Stream(StampedEvent),
    ResponseFinished(Box<ResponseRecord>),
}

#[derive(Clone, Debug)]
pub struct RunOutcome {
    pub run: RunRecord,
    /// Ordered by prompt, target, repeat. Every response when [`RunOptions::keep_responses`] is
    /// on; otherwise only those the store could not save (see `storage_error`), so their answers
    /// are not lost with it.
    pub responses: Vec<ResponseRecord>,
    pub cancelled: bool,
    /// How the responses ended, counted as they finished.
    pub tally: RunTally,
    /// The first store write error of the run, if any: the run went on and its answers are in
    /// `responses` (or the store), but the database may miss some of it.
    pub storage_error: Option<String>,
    /// The worst scheduling lag the client had while the run streamed, in ms.
    pub worst_client_lag_ms: f64,
    /// With `auto_concurrency`: the level at the end and the highest reached.
    pub auto_concurrency: Option<AutoConcurrency>,
}

/// Where `--concurrency auto` took a run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
pub struct AutoConcurrency {
    pub final_level: usize,
    pub highest_level: usize,
}

/// How a run's responses ended, counted as they finish (so no response needs to be kept).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RunTally {
    pub complete: usize,
    /// Ended without completing but with some output kept.
    pub partial: usize,
    /// Ended with an error and no output (cancellations apart).
    pub failed: usize,
    /// Cancelled once sent, before any output.
    pub cancelled: usize,
    /// Cancelled before it was sent: never reached a cloud.
    pub never_sent: usize,
}

impl RunTally {
    pub fn count(&mut self, response: &ResponseRecord) {
        let cancelled = response
            .error
            .as_ref()
            .is_some_and(|error| error.kind == ErrorKind::Cancelled);
        if response.complete {
            self.complete += 1;
        } else if response.attempts == 0 {
            self.never_sent += 1;
        } else if !response.text.is_empty() || !response.reasoning.is_empty() || !response.tool_calls.is_empty() {
            self.partial += 1;
        } else if cancelled {
            self.cancelled += 1;
        } else {
            self.failed += 1;
        }
    }

    pub fn total(&self) -> usize {
        self.complete + self.partial + self.failed + self.cancelled + self.never_sent
    }
}

pub struct RunHandle {
    pub run_id: RunId,
    /// Live events. Dropping the receiver is fine: the run goes on and is still stored.
    pub events: mpsc::UnboundedReceiver<RunEvent>,
    task: tokio::task::JoinHandle<Result<RunOutcome>>,
}

impl RunHandle {
    /// Waits for every response and for the store to have committed them.
    pub async fn outcome(self) -> Result<RunOutcome> {
        self.task
            .await
            .map_err(|error| Error::InvalidInput(format!("the run task failed: {error}")))?
    }
}

/// Sends runs. Holds the HTTP clients (one per connect timeout, so connections are pooled), the
/// credential source and the prices each response is costed at.
pub struct Runner {
    credentials: Arc<dyn CredentialSource>,
    store: Option<StoreWriter>,
    clients: Mutex<HashMap<Duration, reqwest::Client>>,
    prices: Arc<PriceBook>,
}

impl Runner {
    pub fn new(credentials: Arc<dyn CredentialSource>) -> Self {
        Self {
            credentials,
            store: None,
            clients: Mutex::new(HashMap::new()),
            prices: Arc::new(PriceBook::shipped()),
        }
    }

    /// The prices to cost responses at (default: the shipped catalog, without overrides).
    pub fn with_prices(mut self, prices: PriceBook) -> Self {
        self.prices = Arc::new(prices);
        self
    }

    pub fn with_store(mut self, writer: StoreWriter) -> Self {
        self.store = Some(writer);
        self
    }

    fn client(&self, connect_timeout: Duration) -> Result<reqwest::Client> {
        let mut clients = self
            .clients
            .lock()
            .map_err(|_| Error::InvalidInput("client cache poisoned".into()))?;
        if let Some(client) = clients.get(&connect_timeout) {
            return Ok(client.clone());
        }
        let client = reqwest::Client::builder()
            .connect_timeout(connect_timeout)
            .tcp_nodelay(true)
            .pool_max_idle_per_host(256)
            // A redirect could carry the key and prompt to another host: see `crate::providers::http`.
            .redirect(crate::providers::http::redirect_policy())
            .user_agent(concat!("modelbench/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|error| Error::InvalidInput(format!("cannot build the HTTP client: {error}")))?;
        clients.insert(connect_timeout, client.clone());
        Ok(client)
    }

    /// Validates the plan, resolves every credential (a missing key fails the whole run before
    /// anything is sent, naming the variable to set) and starts the run.
    pub fn start(&self, plan: RunPlan, cancel: CancellationToken) -> Result<RunHandle> {
        self.launch(plan, None, cancel)
    }

    /// Sends again, into the stored run `run`, only the responses in `only` (those missing or not
    /// complete); `plan` is the run's own prompts, targets, parameters and repeat. Their old rows
    /// and events are replaced; complete responses stay as they are.
    pub fn resume(
        &self,
        plan: RunPlan,
        run: &RunRecord,
        only: std::collections::HashSet<ResponseKey>,
        cancel: CancellationToken,
    ) -> Result<RunHandle> {
        self.launch(plan, Some((run.id, run.started_at_ms, only)), cancel)
    }

    fn launch(
        &self,
        plan: RunPlan,
        resumed: Option<(RunId, i64, std::collections::HashSet<ResponseKey>)>,
        cancel: CancellationToken,
    ) -> Result<RunHandle> {
        if plan.targets.is_empty() {
            return Err(Error::InvalidInput("no targets to run".into()));
        }
        if plan.prompts.is_empty() {
            return Err(Error::InvalidInput("no prompts to run".into()));
        }
        plan.parameters.validate()?;
        for prompt in &plan.prompts {
            if prompt.messages.is_empty() || prompt.last_user_text().trim().is_empty() {
                return Err(Error::InvalidInput("a prompt is empty".into()));
            }
        }
        let mut names = std::collections::HashSet::new();
        let mut prepared_targets = Vec::with_capacity(plan.targets.len());
        for target in &plan.targets {
            target.validate()?;
            if !names.insert(target.name.as_str()) {
                return Err(Error::InvalidInput(format!("target '{}' is listed twice", target.name)));
            }
            let credential = self.credentials.resolve(target)?;
            let timeouts = plan.options.timeouts.with_overrides(&target.timeouts);
            prepared_targets.push(Arc::new(TargetContext {
                client: self.client(timeouts.connect)?,
                target: target.clone(),
                credential,
                timeouts,
                prices: Arc::clone(&self.prices),
            }));
        }
        let (id, started_at_ms, only) = match resumed {
            Some((id, started_at_ms, only)) => (id, started_at_ms, Some(only)),
            None => (RunId::new(), now_unix_ms(), None),
        };
        let run = RunRecord {
            id,
            started_at_ms,
            parameters: plan.parameters.clone(),
            // Moved, not copied: a batch's prompts are the one input that grows with its size.
            prompts: plan.prompts,
            targets: plan.targets.clone(),
            repeat: plan.options.repeat.max(1),
        };
        if let Some(store) = &self.store {
            match &only {
                Some(keys) => store.run_resumed(run.id, keys.iter().copied().collect()),
                None => store.run_started(&run),
            }
        }
        let (sender, receiver) = mpsc::unbounded_channel();
        let run_id = run.id;
        let task = tokio::spawn(drive(
            run,
            prepared_targets,
            plan.options,
            only,
            self.store.clone(),
            sender,
            cancel,
        ));
        Ok(RunHandle {
            run_id,
            events: receiver,
            task,
        })
    }
}

struct TargetContext {
    client: reqwest::Client,
    target: Target,
    credential: Credential,
    timeouts: Timeouts,
    prices: Arc<PriceBook>,
}

async fn drive(
    run: RunRecord,
    targets: Vec<Arc<TargetContext>>,
    options: RunOptions,
    only: Option<std::collections::HashSet<ResponseKey>>,
    store: Option<StoreWriter>,
    sender: mpsc::UnboundedSender<RunEvent>,
    cancel: CancellationToken,
) -> Result<RunOutcome> {
    if let Some(store) = &store {
        // The run and its prompts are committed before the first request: a run that cannot be
        // stored is refused before it costs anything, and a big batch's prompts are not written
        // while its first answers stream in (their events would pile up in memory meanwhile).
        store.flush().await?;
    }
    let lag = LagMonitor::new();
    let ticker = lag.start();
    let ceiling = options.concurrency.max(1);
    let auto_level = options.auto_concurrency.then(adaptive::Level::default);
    let global = Arc::new(Semaphore::new(if auto_level.is_some() {
        adaptive::START_LEVEL.min(ceiling)
    } else {
        ceiling
    }));
    let controller = auto_level.clone().map(|level| {
        let task = tokio::spawn(adaptive::control(
            Arc::clone(&global),
            lag.clone(),
            options.lag_threshold,
            ceiling,
            level,
        ));
        AbortOnDrop(task)
    });
    let per_provider: HashMap<ProviderKind, Arc<Semaphore>> = options
        .per_provider_concurrency
        .iter()
        .map(|(provider, limit)| (*provider, Arc::new(Semaphore::new((*limit).max(1)))))
        .collect();
    // The jobs share the prompts; the record gets them back once every job is done.
    let mut run = run;
    let prompts: Vec<Arc<Prompt>> = std::mem::take(&mut run.prompts).into_iter().map(Arc::new).collect();
    let parameters = Arc::new(run.parameters.clone());
    let mut tasks = JoinSet::new();
    let mut collected = Collected {
        keep: options.keep_responses,
        responses: Vec::new(),
        tally: RunTally::default(),
    };
    // Repeat-major order: the first answer of every prompt comes before the second of any.
    for repeat_index in 0..run.repeat {
        for (prompt_index, prompt) in prompts.iter().enumerate() {
            for (target_index, context) in targets.iter().enumerate() {
                let key = ResponseKey {
                    prompt_index: u32::try_from(prompt_index).unwrap_or(u32::MAX),
                    target_index: u32::try_from(target_index).unwrap_or(u32::MAX),
                    repeat_index,
                };
                if only.as_ref().is_some_and(|only| !only.contains(&key)) {
                    continue;
                }
                let job = Job {
                    run_id: run.id,
                    key,
                    context: Arc::clone(context),
                    prompt: Arc::clone(prompt),
                    parameters: Arc::clone(&parameters),
                    retry: options.retry,
                    max_output_bytes: options.max_output_bytes,
                    store: store.clone(),
                    sender: sender.clone(),
                    cancel: cancel.clone(),
                    admission: options.admission.clone(),
                    lag: lag.clone(),
                    lag_threshold: options.lag_threshold,
                };
                // A job is spawned only once it may run, so a batch of thousands never holds
                // thousands of parked tasks. A provider with its own limit is the exception: its
                // jobs wait for that limit first, so a throttled provider never sits on global
                // slots that other providers could use.
                let global = Arc::clone(&global);
                match per_provider.get(&context.target.provider).cloned() {
                    None => {
                        let permit = tokio::select! {
                            biased;
                            () = cancel.cancelled() => None,
                            permit = global.acquire_owned() => permit.ok(),
                        };
                        match permit {
                            Some(permit) if job.admitted() => {
                                tasks.spawn(async move {
                                    let record = job.run().await;
                                    drop(permit);
                                    job.settle(&record);
                                    job.announce(record)
                                });
                            }
                            Some(_refused) => collected.add(job.announce(job.refused_before_start())),
                            None => collected.add(job.announce(job.cancelled_before_start())),
                        }
                    }
                    Some(provider) => {
                        tasks.spawn(async move {
                            let permits = tokio::select! {
                                biased;
                                () = job.cancel.cancelled() => None,
                                permits = acquire_both(&provider, &global) => Some(permits),
                            };
                            let record = match permits {
                                // Boxed: a parked task then holds a pointer, not the whole streaming state
                                // machine, while it waits for its provider's turn.
                                Some(_permits) if job.admitted() => {
                                    let record = Box::pin(job.run()).await;
                                    job.settle(&record);
                                    record
                                }
                                Some(_refused) => job.refused_before_start(),
                                None => job.cancelled_before_start(),
                            };
                            job.announce(record)
                        });
                    }
                }
                // Collect what finished meanwhile, so a long batch does not keep every task.
                while let Some(joined) = tasks.try_join_next() {
                    collected.collect(joined);
                }
            }
        }
    }
    drop(sender);
    while let Some(joined) = tasks.join_next().await {
        collected.collect(joined);
    }
    drop(ticker);
    drop(controller);
    let worst_client_lag_ms = lag.worst().as_secs_f64() * 1000.0;
    run.prompts = prompts
        .into_iter()
        .map(|prompt| Arc::try_unwrap(prompt).unwrap_or_else(|shared| (*shared).clone()))
        .collect();
    let Collected {
        mut responses, tally, ..
    } = collected;
    let cancelled = cancel.is_cancelled();
    let mut storage_error = None;
    if let Some(store) = &store {
        store.run_client_lag(run.id, worst_client_lag_ms);
        store.run_finished(
            run.id,
            now_unix_ms(),
            if cancelled {
                RunStatus::Cancelled
            } else {
                RunStatus::Completed
            },
        );
        if let Err(error) = store.flush().await {
            // The answers arrived and were paid for: the run still hands them on. Those whose
            // final record did not reach the database come back from the writer.
            tracing::error!(%error, "the store could not save all of the run");
            storage_error = Some(error.to_string());
            if !options.keep_responses {
                responses = store.take_unsaved_responses(run.id);
            }
        }
    }
    responses.sort_by_key(|response| response.key);
    Ok(RunOutcome {
        run,
        responses,
        cancelled,
        tally,
        storage_error,
        worst_client_lag_ms,
        auto_concurrency: auto_level.map(|level| AutoConcurrency {
            final_level: level.current(),
            highest_level: level.highest(),
        }),
    })
}

/// Stops a background task when the run's driver is done with it.
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// What the run keeps of its finished responses: counts always, the records only when asked.
struct Collected {
    keep: bool,
    responses: Vec<ResponseRecord>,
    tally: RunTally,
}

impl Collected {
    fn add(&mut self, record: ResponseRecord) {
        self.tally.count(&record);
        if self.keep {
            self.responses.push(record);
        }
    }

    fn collect(&mut self, joined: std::result::Result<ResponseRecord, tokio::task::JoinError>) {
        match joined {
            Ok(record) => self.add(record),
            Err(error) => tracing::error!("a response task panicked: {error}"),
        }
    }
}

async fn acquire_both<'a>(
    provider: &'a Semaphore,
    global: &'a Semaphore,
) -> (
    Option<tokio::sync::SemaphorePermit<'a>>,
    Option<tokio::sync::SemaphorePermit<'a>>,
) {
    // The scarcer provider permit first, so a throttled provider does not hold global slots.
    let provider_permit = provider.acquire().await.ok();
    (global.acquire().await.ok(), provider_permit)
}

struct Job {
    run_id: RunId,
    key: ResponseKey,
    context: Arc<TargetContext>,
    prompt: Arc<Prompt>,
    parameters: Arc<Parameters>,
    retry: RetryPolicy,
    max_output_bytes: usize,
    store: Option<StoreWriter>,
    sender: mpsc::UnboundedSender<RunEvent>,
    cancel: CancellationToken,
    admission: Option<Arc<dyn Admission>>,
    lag: LagMonitor,
    lag_threshold: Duration,
}

/// The per-response state while it streams.
struct Progress {
    started: Instant,
    started_at_ms: i64,
    sequence: u64,
    attempt: u32,
    accumulator: Accumulator,
    /// Cancelled before its request went out: recorded with 0 attempts.
    never_sent: bool,
    /// When the chunk holding the stream's terminal event arrived: the response's end, whatever
    /// decoding and storing it took afterwards.
    ended: Option<Instant>,
}

enum AttemptEnd {
    /// The stream ended (normally or not); the accumulator says which.
    Ended,
    /// The attempt failed before any content; the error is in the accumulator.
    FailedBeforeContent(ProviderError),
}

impl Job {
    /// Tells the live consumer a response is done and hands the record on.
    fn announce(&self, record: ResponseRecord) -> ResponseRecord {
        let _ = self.sender.send(RunEvent::ResponseFinished(Box::new(record.clone())));
        record
    }

    fn provider(&self) -> &'static str {
        self.context.target.provider.as_str()
    }

    /// Starts a response's clock and records that it started.
    fn begin(&self) -> Progress {
        let target = &self.context.target;
        let progress = Progress {
            started: Instant::now(),
            started_at_ms: now_unix_ms(),
            sequence: 0,
            attempt: 0,
            accumulator: Accumulator::new(),
            never_sent: false,
            ended: None,
        };
        if let Some(store) = &self.store {
            store.response_started(
                self.run_id,
                self.key,
                &target.name,
                self.provider(),
                &target.model,
                progress.started_at_ms,
            );
        }
        progress
    }

    async fn run(&self) -> ResponseRecord {
        let _open = self.lag.stream_open();
        let target = &self.context.target;
        // Building the request is local work: the clock starts once it is ready to be sent.
        let prepared = providers::prepare(target, &self.prompt, &self.parameters);
        let mut progress = self.begin();
        let mut unsupported = Vec::new();
        match prepared {
            Ok(prepared) => {
                unsupported = prepared
                    .unsupported
                    .iter()
                    .map(|parameter| parameter.as_str().to_owned())
                    .collect();
                self.attempt_until_done(&prepared, &mut progress).await;
            }
            Err(error) => {
                // The error names the target already; the event's own display adds it again.
                let message = match error {
                    Error::Target { message, .. } => message,
                    other => other.to_string(),
                };
                self.emit(
                    &mut progress,
                    StreamEvent::Error(self.error(ErrorKind::Validation, message)),
                );
            }
        }
        self.finish(progress, unsupported)
    }

    /// Attempts until the response ends or a failure may not (or need not) be retried.
    async fn attempt_until_done(&self, prepared: &PreparedRequest, progress: &mut Progress) {
        loop {
            match self.attempt(prepared, progress).await {
                AttemptEnd::Ended => break,
                AttemptEnd::FailedBeforeContent(error) => {
                    let Some(delay) = self.retry_delay(&error, progress.attempt, progress.started) else {
                        break;
                    };
                    tracing::debug!(target = %self.context.target.name, "retrying in {delay:?} after: {error}");
                    let cancelled = tokio::select! {
                        () = self.cancel.cancelled() => true,
                        () = tokio::time::sleep(delay) => false,
                    };
                    if cancelled {
                        self.emit(
                            progress,
                            StreamEvent::Error(self.error(ErrorKind::Cancelled, "cancelled")),
                        );
                        break;
                    }
                    progress.attempt += 1;
                    // The failed attempt delivered no content; its events stay in the audit log.
                    progress.accumulator = Accumulator::new();
                }
            }
        }
    }

    fn admitted(&self) -> bool {
        self.admission
            .as_ref()
            .is_none_or(|admission| admission.admit(&self.context.target, self.key))
    }

    fn settle(&self, record: &ResponseRecord) {
        if let Some(admission) = &self.admission {
            admission.settle(record);
        }
    }

    /// A call its admission refused (a spend cap it could break, a pause): recorded as never
    /// sent, with the admission's reason.
    fn refused_before_start(&self) -> ResponseRecord {
        let mut progress = self.begin();
        progress.never_sent = true;
        let reason = self
            .admission
            .as_ref()
            .map_or("not sent", |admission| admission.refusal());
        self.emit(
            &mut progress,
            StreamEvent::Error(self.error(ErrorKind::Cancelled, reason)),
        );
        self.finish(progress, Vec::new())
    }

    fn cancelled_before_start(&self) -> ResponseRecord {
        let mut progress = self.begin();
        progress.never_sent = true;
        self.emit(
            &mut progress,
            StreamEvent::Error(self.error(ErrorKind::Cancelled, "cancelled before it started")),
        );
        self.finish(progress, Vec::new())
    }

    fn retry_delay(&self, error: &ProviderError, attempt: u32, started: Instant) -> Option<Duration> {
        if !error.retryable() || attempt >= self.retry.max_retries || self.cancel.is_cancelled() {
            return None;
        }
        let backoff = self.retry.base_delay.saturating_mul(2u32.saturating_pow(attempt));
        // Up to 25% jitter so targets that failed together do not retry together.
        let jitter_seed = u64::from(started.elapsed().subsec_nanos()) ^ (u64::from(self.key.target_index) << 7);
        let jitter = backoff.mul_f64((jitter_seed % 1000) as f64 / 4000.0);
        let delay = match error.retry_after() {
            Some(hint) if hint > self.retry.max_delay => return None,
            Some(hint) => hint,
            None => (backoff + jitter).min(self.retry.max_delay),
        };
        let total_left = self.context.timeouts.total.checked_sub(started.elapsed())?;
        (delay < total_left).then_some(delay)
    }

    fn error(&self, kind: ErrorKind, message: impl Into<String>) -> ProviderError {
        let mut error = ProviderError::new(kind, self.provider(), message);
        error.target.clone_from(&self.context.target.name);
        error
    }

    /// Stamps an event, folds it, and hands it to the store and the live consumer.
    fn emit(&self, progress: &mut Progress, event: StreamEvent) {
        let elapsed = progress.started.elapsed();
        self.emit_at(progress, event, elapsed);
    }

    /// Like [`Self::emit`], for an event decoded from bytes that arrived at `elapsed`: every
    /// event of one network chunk carries the chunk's arrival time, not the time its decoding
    /// finished, so a chunk holding several events does not make its first token look late.
    fn emit_at(&self, progress: &mut Progress, mut event: StreamEvent, elapsed: Duration) {
        if let StreamEvent::Error(error) = &mut event {
            error.target.clone_from(&self.context.target.name);
        }
        self.context.credential.redact_event(&mut event);
        progress.accumulator.apply(&event, elapsed);
        let stamped = StampedEvent {
            response_key: self.key,
            target: self.context.target.name.clone(),
            attempt: progress.attempt,
            sequence: progress.sequence,
            elapsed_us: u64::try_from(elapsed.as_micros()).unwrap_or(u64::MAX),
            event,
        };
        progress.sequence += 1;
        if let Some(store) = &self.store {
            store.event(self.run_id, &stamped);
        }
        let _ = self.sender.send(RunEvent::Stream(stamped));
    }

    /// One HTTP exchange. Any failure becomes an `Error` event.
    async fn attempt(&self, prepared: &PreparedRequest, progress: &mut Progress) -> AttemptEnd {
        let timeouts = self.context.timeouts;
        let total_deadline = progress.started + timeouts.total;
        let first_token_deadline = Instant::now() + timeouts.first_token;
        let mut headers = prepared.headers.clone();
        let authorized = auth::authorize(
            &self.context.credential,
            &self.context.target,
            &prepared.url,
            &mut headers,
            &prepared.body_bytes,
        );
        match self.wait(first_token_deadline.min(total_deadline), authorized).await {
            Wait::Done(Ok(())) => {}
            Wait::Done(Err(error)) => return self.fail_before_content(progress, error),
            Wait::TimedOut => {
                let error = self.timeout_error(first_token_deadline, total_deadline, progress);
                return self.fail_before_content(progress, error);
            }
            Wait::Cancelled => return self.cancelled(progress),
        }
        if progress.attempt == 0 && progress.sequence == 0 {
            // Signing (and fetching a cloud token) is the client's work: the clock starts as the
            // request is handed to the connection, as close to its bytes going out as we can get.
            progress.started = Instant::now();
        }
        let request = self
            .context
            .client
            .post(&prepared.url)
            .headers(headers)
            .body(prepared.body_bytes.clone());
        let deadline = first_token_deadline.min(total_deadline);
        let response = match self.wait(deadline, request.send()).await {
            Wait::Done(Ok(response)) => response,
            Wait::Done(Err(error)) => return self.fail_before_content(progress, self.transport_error(&error)),
            Wait::TimedOut => {
                return self.fail_before_content(progress, self.timeout_error(deadline, total_deadline, progress));
            }
            Wait::Cancelled => return self.cancelled(progress),
        };
        let status = response.status();
        let provider = self.context.target.provider;
        if !status.is_success() {
            let headers = response.headers().clone();
            let body = match self.wait(deadline, error_body_prefix(response)).await {
                Wait::Done(body) => body,
                _ => bytes::Bytes::new(),
            };
            // Before the message is cut to length, so a cut through an echoed key keeps none of it.
            let body = self.context.credential.redact_bytes(&body);
            let error = providers::error_from_response(provider, status.as_u16(), &headers, &body);
            return self.fail_before_content(progress, error);
        }
        if crate::providers::http::is_unexpected_body(response.headers()) {
            let headers = response.headers().clone();
            let preview = match self
                .wait(deadline, crate::providers::http::read_preview(response))
                .await
            {
                Wait::Done(preview) => preview,
                _ => Vec::new(),
            };
            let error =
                crate::providers::http::unexpected_body_error(provider.as_str(), status.as_u16(), &headers, &preview);
            return self.fail_before_content(progress, error);
        }
        let meta = providers::response_meta(provider, response.headers());
        let mut decoder = prepared.protocol.decoder(provider, &self.context.target.model, meta);
        let mut response = response;
        let mut events = Vec::new();
        // Bytes received since the decoder last completed an event.
        let mut unfinished_event_bytes = 0_usize;
        // One cancellation waiter and one timer for the whole stream, not one of each per chunk:
        // with a thousand streams open, registering and dropping them per chunk was a good part
        // of what a chunk cost. The timer is moved only when its deadline comes early; when it
        // fires, the deadline is worked out again from the latest chunk.
        let cancelled = self.cancel.cancelled();
        tokio::pin!(cancelled);
        let timer = tokio::time::sleep_until(first_token_deadline.min(total_deadline));
        tokio::pin!(timer);
        let mut last_chunk_at = Instant::now();
        loop {
            if let Some(store) = &self.store {
                store.wait_for_room().await;
            }
            let has_content = progress.accumulator.has_content();
            let deadline_after = |last_chunk_at: Instant| {
                if has_content {
                    (last_chunk_at + timeouts.idle).min(total_deadline)
                } else {
                    first_token_deadline.min(total_deadline)
                }
            };
            let mut deadline = deadline_after(last_chunk_at);
            let waited = loop {
                if timer.deadline() > deadline {
                    timer.as_mut().reset(deadline);
                }
                tokio::select! {
                    biased;
                    () = &mut cancelled => break Wait::Cancelled,
                    chunk = response.chunk() => break Wait::Done(chunk),
                    () = &mut timer => {
                        deadline = deadline_after(last_chunk_at);
                        if Instant::now() >= deadline {
                            break Wait::TimedOut;
                        }
                        timer.as_mut().reset(deadline);
                    }
                }
            };
            let chunk = match waited {
                Wait::Done(Ok(chunk)) => chunk,
                Wait::Done(Err(error)) => {
                    let mut error = self.transport_error(&error);
                    error.reclassify(ErrorKind::Network);
                    error.message = format!("the stream broke: {}", error.message);
                    return self.end_with(progress, error);
                }
                Wait::TimedOut => {
                    let error = self.timeout_error(deadline, total_deadline, progress);
                    return self.end_with(progress, error);
                }
                Wait::Cancelled => return self.cancelled(progress),
            };
            let arrived_at = Instant::now();
            last_chunk_at = arrived_at;
            let arrived = arrived_at.saturating_duration_since(progress.started);
            let ended = chunk.is_none();
            match chunk {
                Some(bytes) => {
                    unfinished_event_bytes += bytes.len();
                    decoder.feed(&bytes, &mut events);
                }
                None => decoder.finish(&mut events),
            }
            if !events.is_empty() {
                unfinished_event_bytes = 0;
            }
            for event in events.drain(..) {
                self.emit_at(progress, event, arrived);
            }
            if progress.accumulator.error.is_none()
                && let Some(error) = self.over_a_cap(progress, unfinished_event_bytes)
            {
                return self.end_with(progress, error);
            }
            if let Some(error) = progress.accumulator.error.clone() {
                // An error inside the stream before any content may still be retried (overloaded).
                return if progress.accumulator.has_content() {
                    AttemptEnd::Ended
                } else {
                    AttemptEnd::FailedBeforeContent(error)
                };
            }
            // The terminal event came: the response is whole and its time is now. Whatever the
            // server does next (close, keep the connection open, send keep-alives or more data)
            // changes nothing; the body is dropped unread, which closes the connection.
            if ended || decoder.is_done() {
                progress.ended = Some(arrived_at);
                return AttemptEnd::Ended;
            }
        }
    }

    /// Fills in how late the client was around the moments `metrics` rest on: the request going
    /// out (`started`), the first token and the end. Lag at the start moves both timings.
    fn measure_client_lag(
        &self,
        metrics: &mut crate::model::record::Metrics,
        started: Instant,
        first_token: Option<Duration>,
        ended: Instant,
    ) {
        let now = Instant::now();
        let lag = |moment: Instant| self.lag.lag_around(moment, now);
        let at_start = lag(started);
        let at_first_token = first_token.map(|elapsed| at_start.max(lag(started + elapsed)));
        let at_end = at_start.max(lag(ended));
        let milliseconds = |duration: Duration| duration.as_secs_f64() * 1000.0;
        metrics.client_lag_first_token_ms = at_first_token.map(milliseconds);
        metrics.client_lag_end_ms = Some(milliseconds(at_end));
        metrics.client_saturated =
            at_end > self.lag_threshold || at_first_token.is_some_and(|lag| lag > self.lag_threshold);
    }

    /// The error that ends a stream which went past a size cap, if it did: its output (text and
    /// reasoning) over [`RunOptions::max_output_bytes`], or one event over [`MAX_EVENT_BYTES`].
    fn over_a_cap(&self, progress: &Progress, unfinished_event_bytes: usize) -> Option<ProviderError> {
        let output = progress.accumulator.text.len() + progress.accumulator.reasoning.len();
        let message = if output > self.max_output_bytes {
            format!(
                "the output exceeded {} (the cap on one response's output); what arrived before is kept",
                describe_bytes(self.max_output_bytes)
            )
        } else if unfinished_event_bytes > MAX_EVENT_BYTES {
            format!(
                "the cloud sent over {} without completing one event (a line with no end?); stopped reading",
                describe_bytes(MAX_EVENT_BYTES)
            )
        } else {
            return None;
        };
        Some(self.error(ErrorKind::Protocol, message))
    }

    /// Ends a broken stream. Partial frames still in the decoder are incomplete and dropped;
    /// every complete event before them was already kept.
    fn end_with(&self, progress: &mut Progress, error: ProviderError) -> AttemptEnd {
        if progress.accumulator.has_content() {
            self.emit(progress, StreamEvent::Error(error));
            AttemptEnd::Ended
        } else {
            self.fail_before_content(progress, error)
        }
    }

    fn fail_before_content(&self, progress: &mut Progress, error: ProviderError) -> AttemptEnd {
        self.emit(progress, StreamEvent::Error(error));
        // Hand on the error as recorded: named and with the key redacted, so a retry's log line
        // cannot leak what the cloud echoed back.
        match progress.accumulator.error.clone() {
            Some(recorded) => AttemptEnd::FailedBeforeContent(recorded),
            None => AttemptEnd::Ended,
        }
    }

    fn cancelled(&self, progress: &mut Progress) -> AttemptEnd {
        self.emit(
            progress,
            StreamEvent::Error(self.error(ErrorKind::Cancelled, "cancelled")),
        );
        AttemptEnd::Ended
    }

    fn transport_error(&self, error: &reqwest::Error) -> ProviderError {
        let kind = if error.is_connect() {
            ErrorKind::Connect
        } else if error.is_timeout() {
            ErrorKind::Timeout
        } else {
            ErrorKind::Network
        };
        // reqwest's Display leaves out the cause chain, which is where "connection refused" is.
        let mut message = error.to_string();
        let mut source = std::error::Error::source(error);
        while let Some(cause) = source {
            message.push_str(": ");
            message.push_str(&cause.to_string());
            source = cause.source();
        }
        self.error(kind, message)
    }

    fn timeout_error(&self, deadline: Instant, total_deadline: Instant, progress: &Progress) -> ProviderError {
        let timeouts = self.context.timeouts;
        let message = if deadline >= total_deadline {
            format!(
                "no complete answer within the total timeout of {} ms",
                timeouts.total.as_millis()
            )
        } else if progress.accumulator.has_content() {
            format!("no data for {} ms (idle timeout)", timeouts.idle.as_millis())
        } else {
            format!("no first token within {} ms", timeouts.first_token.as_millis())
        };
        self.error(ErrorKind::Timeout, message)
    }

    async fn wait<T>(&self, deadline: Instant, future: impl Future<Output = T>) -> Wait<T> {
        tokio::select! {
            biased;
            () = self.cancel.cancelled() => Wait::Cancelled,
            result = tokio::time::timeout_at(deadline, future) => match result {
                Ok(value) => Wait::Done(value),
                Err(_) => Wait::TimedOut,
            },
        }
    }

    fn finish(&self, progress: Progress, unsupported_parameters: Vec<String>) -> ResponseRecord {
        let ended = progress.ended.unwrap_or_else(Instant::now);
        let total = ended.saturating_duration_since(progress.started);
        let accumulator = progress.accumulator;
        let mut metrics = accumulator.metrics(total);
        if !progress.never_sent {
            self.measure_client_lag(&mut metrics, progress.started, accumulator.time_to_first_token(), ended);
        }
        let target = &self.context.target;
        let cost = match accumulator.implausible_usage() {
            // A count no cloud could mean is no basis for a price.
            Some(reason) => Cost {
                usd: None,
                source: reason.to_owned(),
            },
            None => self.context.prices.cost_with_characters(
                target,
                accumulator.meta.reported_model.as_deref(),
                accumulator.billable_usage().as_ref(),
                Some(self.prompt.characters() + accumulator.text.chars().count() as u64),
            ),
        };
        let record = ResponseRecord {
            run_id: self.run_id,
            key: self.key,
            target: target.name.clone(),
            provider: self.provider().to_owned(),
            model: target.model.clone(),
            request_id: accumulator.meta.request_id.clone(),
            reported_model: accumulator.meta.reported_model.clone(),
            base_model: crate::model::identity::base_model(target, accumulator.meta.reported_model.as_deref()),
            region: accumulator.meta.region.clone(),
            system_fingerprint: accumulator.meta.system_fingerprint.clone(),
            service_tier: accumulator.meta.service_tier.clone(),
            metrics,
            tool_calls: accumulator.tool_calls(),
            complete: accumulator.is_complete(),
            // A key split over several deltas is whole only here.
            text: self.context.credential.redact(accumulator.text),
            reasoning: self.context.credential.redact(accumulator.reasoning),
            finish_reason: accumulator.finish_reason,
            raw_finish_reason: accumulator.raw_finish_reason,
            usage: accumulator.usage.unwrap_or_default(),
            billed_input_tokens: accumulator.billed_input_tokens,
            billed_output_tokens: accumulator.billed_output_tokens,
            refusal: accumulator.finish_reason == Some(FinishReason::Refusal),
            cost_usd: cost.usd,
            cost_source: Some(cost.source),
            error: accumulator.error,
            attempts: if progress.never_sent { 0 } else { progress.attempt + 1 },
            unsupported_parameters,
            started_at_ms: progress.started_at_ms,
            finished_at_ms: now_unix_ms(),
        };
        if let Some(store) = &self.store {
            store.response_finished(&record);
        }
        record
    }
}

/// `16 MiB`, `512 KiB`, `100 bytes`.
fn describe_bytes(bytes: usize) -> String {
    if bytes >= 1 << 20 && bytes.is_multiple_of(1 << 20) {
        format!("{} MiB", bytes >> 20)
    } else if bytes >= 1 << 10 && bytes.is_multiple_of(1 << 10) {
        format!("{} KiB", bytes >> 10)
    } else {
        format!("{bytes} bytes")
    }
}

/// The first [`MAX_ERROR_BODY_BYTES`] of an error response's body; the rest is never read (the
/// connection is dropped with the response).
async fn error_body_prefix(mut response: reqwest::Response) -> bytes::Bytes {
    let mut body = Vec::new();
    while body.len() < MAX_ERROR_BODY_BYTES {
        match response.chunk().await {
            Ok(Some(chunk)) => {
                let room = MAX_ERROR_BODY_BYTES - body.len();
                body.extend_from_slice(&chunk[..chunk.len().min(room)]);
            }
            Ok(None) | Err(_) => break,
        }
    }
    bytes::Bytes::from(body)
}

enum Wait<T> {
    Done(T),
    TimedOut,
    Cancelled,
}
