//! Runs as a host sees them: started from a request, cancelled by id, their events streamed.
//!
//! Two ways to stream, one per kind of host:
//! - [`Workbench::start_run`](crate::Workbench::start_run) forwards a run's events to a
//!   [`RunSink`] as [`RunMessage`]s, batched so at most one `events` message goes out per frame
//!   (~16 ms: a window renders at most once per frame anyway), then one `response` per final
//!   record and `finished` (or `failed`) at the end. The desktop shell's sink is a
//!   `tauri::ipc::Channel`; a test host's is a closure.
//! - [`Workbench::start_plan`](crate::Workbench::start_plan) hands back the engine's own event
//!   receiver in a [`LiveRun`], for a host that prints each event as it comes (the CLI).
//!
//! Either way the run is in the workbench's [`Running`] registry while it streams, so a Stop can
//! cancel it. What a run does is the engine's runner; this module only starts, registers,
//! batches and forwards.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use modelbench_engine::accumulate::{LiveMetrics, Speed};
use modelbench_engine::runner::{RunEvent, RunHandle, RunOptions, RunOutcome, RunPlan};
use modelbench_engine::{Parameters, ResponseKey, ResponseRecord, RunId, RunRecord, StampedEvent, StoredRun, Target};
use serde::{Deserialize, Serialize};
use tokio::sync::mpsc::UnboundedReceiver;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use ts_rs::TS;

use crate::error::{Error, Result};

/// One animation frame: the longest an event waits before it is sent.
pub const FRAME: Duration = Duration::from_millis(16);

/// What `start_run` asks for: one prompt to the named saved targets.
#[derive(Debug, Deserialize, TS)]
#[ts(export)]
pub struct RunRequest {
    pub targets: Vec<String>,
    #[serde(default)]
    #[ts(optional)]
    pub system: Option<String>,
    pub prompt: String,
    #[serde(default)]
    pub parameters: Parameters,
}

// A run's sink receives these; its doc line below is the generated TS one, kept as the UI knows it.
/// What the run channel carries.
#[derive(Clone, Debug, Serialize, TS)]
#[serde(tag = "kind", rename_all = "snake_case")]
#[ts(export)]
pub enum RunMessage {
    Started {
        run_id: RunId,
        targets: Vec<Target>,
    },
    /// Stream events, with the live metrics of every response they touched (computed by the
    /// engine's [`Speed`], so the UI shows the numbers the stored record will hold).
    Events {
        events: Vec<StampedEvent>,
        live: Vec<LiveResponse>,
    },
    Response {
        response: Box<ResponseRecord>,
    },
    Finished {
        run_id: RunId,
    },
    Failed {
        message: String,
    },
}

/// One response's speed so far, sent with the batch that changed it.
#[derive(Clone, Debug, Serialize, TS)]
#[ts(export)]
pub struct LiveResponse {
    pub target: String,
    pub response_key: ResponseKey,
    pub metrics: LiveMetrics,
}

/// Where a run's messages go: the narrow edge between the workbench and a host that shows runs
/// live. A sink that can no longer deliver (a closed window) drops the message: the run goes on
/// and is stored all the same.
pub trait RunSink: Send + Sync + 'static {
    fn send(&self, message: RunMessage);
}

impl<F: Fn(RunMessage) + Send + Sync + 'static> RunSink for F {
    fn send(&self, message: RunMessage) {
        self(message);
    }
}

/// The runs in flight, by id, with the token that cancels each.
#[derive(Clone, Default)]
pub struct Running(Arc<Mutex<HashMap<RunId, CancellationToken>>>);

impl Running {
    /// Cancels `run_id`; `false` when it is not running (it ended already, or never was).
    pub fn stop(&self, run_id: RunId) -> bool {
        match self.lock().get(&run_id) {
            Some(cancel) => {
                cancel.cancel();
                true
            }
            None => false,
        }
    }

    pub fn contains(&self, run_id: RunId) -> bool {
        self.lock().contains_key(&run_id)
    }

    pub(crate) fn register(&self, run_id: RunId, cancel: CancellationToken) -> Registration {
        self.lock().insert(run_id, cancel);
        Registration {
            running: self.clone(),
            run_id,
        }
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<RunId, CancellationToken>> {
        // A panic while the map was held left it whole: every operation is one insert or remove.
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// A run's place in [`Running`], given up when dropped.
pub struct Registration {
    running: Running,
    run_id: RunId,
}

impl Drop for Registration {
    fn drop(&mut self) {
        self.running.lock().remove(&self.run_id);
    }
}

/// A run whose events the host reads itself. It stays in the registry until this is dropped.
pub struct LiveRun {
    pub run_id: RunId,
    pub handle: RunHandle,
    cancel: CancellationToken,
    _registration: Registration,
}

impl LiveRun {
    pub(crate) fn new(handle: RunHandle, cancel: CancellationToken, registration: Registration) -> Self {
        Self {
            run_id: handle.run_id,
            handle,
            cancel,
            _registration: registration,
        }
    }

    /// Forwards the run to `sink` (see [`forward`]); it leaves the registry once it has ended.
    pub async fn forward_to(self, sink: &impl RunSink) {
        forward(self.handle, sink).await;
    }

    /// A token that cancels this run (for a host's own Stop: a signal, a key).
    pub fn canceller(&self) -> CancellationToken {
        self.cancel.clone()
    }

    /// Waits for the run's end, for a host that read its events itself; it leaves the registry
    /// then.
    pub async fn outcome(self) -> modelbench_engine::Result<RunOutcome> {
        self.handle.outcome().await
    }
}

/// Forwards a run's events to `sink` until the run ends, then says how it ended.
pub async fn forward(mut handle: RunHandle, sink: &impl RunSink) {
    let run_id = handle.run_id;
    forward_events(&mut handle.events, sink).await;
    match handle.outcome().await {
        Ok(_) => sink.send(RunMessage::Finished { run_id }),
        Err(error) => sink.send(RunMessage::Failed {
            message: error.to_string(),
        }),
    }
}

/// The batching: stream events wait at most one [`FRAME`] from the oldest unsent one; a final
/// record first sends the events before it, so a pane never gets its record before its text.
pub async fn forward_events(events: &mut UnboundedReceiver<RunEvent>, sink: &impl RunSink) {
    let mut batch = Batch::default();
    // When the oldest unsent event must go out.
    let mut deadline: Option<Instant> = None;
    loop {
        let next = match deadline {
            Some(at) => match tokio::time::timeout_at(at, events.recv()).await {
                Ok(next) => next,
                Err(_elapsed) => {
                    batch.flush(sink);
                    deadline = None;
                    continue;
                }
            },
            None => events.recv().await,
        };
        match next {
            Some(RunEvent::Stream(event)) => {
                batch.push(event);
                deadline.get_or_insert_with(|| Instant::now() + FRAME);
            }
            Some(RunEvent::ResponseFinished(response)) => {
                batch.flush(sink);
                batch.speeds.remove(&(response.target.clone(), response.key));
                deadline = None;
                sink.send(RunMessage::Response { response });
            }
            None => break,
        }
    }
    batch.flush(sink);
}

/// The events waiting for the next frame, and the speed of every response still streaming.
#[derive(Default)]
struct Batch {
    events: Vec<StampedEvent>,
    speeds: HashMap<(String, ResponseKey), Speed>,
    touched: Vec<(String, ResponseKey)>,
}

impl Batch {
    fn push(&mut self, event: StampedEvent) {
        let key = (event.target.clone(), event.response_key);
        let speed = self.speeds.entry(key.clone()).or_default();
        speed.apply(&event.event, Duration::from_micros(event.elapsed_us));
        if !self.touched.contains(&key) {
            self.touched.push(key);
        }
        self.events.push(event);
    }

    fn flush(&mut self, sink: &impl RunSink) {
        if self.events.is_empty() {
            return;
        }
        let live = self
            .touched
            .drain(..)
            .filter_map(|(target, response_key)| {
                let metrics = self.speeds.get(&(target.clone(), response_key))?.live();
                Some(LiveResponse {
                    target,
                    response_key,
                    metrics,
                })
            })
            .collect();
        sink.send(RunMessage::Events {
            events: std::mem::take(&mut self.events),
            live,
        });
    }
}

/// What `runs resume` sends again into a stored run: its own plan, for the responses that are
/// missing or not complete.
pub struct Resumption {
    pub record: RunRecord,
    pub plan: RunPlan,
    pub only: HashSet<ResponseKey>,
}

/// The resumption of `run`, or `None` when every response is complete. Refused while another
/// process runs it.
pub fn resumption(run: StoredRun, concurrency: usize, retries: u32) -> Result<Option<Resumption>> {
    let id = run.record.id;
    if run.status == modelbench_engine::store::RunStatus::Running {
        return Err(Error::StillRunning(id));
    }
    let complete: HashSet<ResponseKey> = run
        .responses
        .iter()
        .filter(|response| response.complete)
        .map(|response| response.key)
        .collect();
    let record = run.record;
    let mut only = HashSet::new();
    for repeat_index in 0..record.repeat {
        for prompt_index in 0..record.prompts.len() {
            for target_index in 0..record.targets.len() {
                let key = ResponseKey {
                    prompt_index: index(prompt_index)?,
                    target_index: index(target_index)?,
                    repeat_index,
                };
                if !complete.contains(&key) {
                    only.insert(key);
                }
            }
        }
    }
    if only.is_empty() {
        return Ok(None);
    }
    let mut options = RunOptions {
        concurrency: concurrency.max(1),
        repeat: record.repeat,
        ..RunOptions::default()
    };
    options.retry.max_retries = retries;
    let plan = RunPlan {
        targets: record.targets.clone(),
        prompts: record.prompts.clone(),
        parameters: record.parameters.clone(),
        options,
    };
    Ok(Some(Resumption { record, plan, only }))
}

fn index(value: usize) -> Result<u32> {
    u32::try_from(value)
        .map_err(|_| modelbench_engine::Error::InvalidInput(format!("index {value} is out of range")).into())
}

/// The one record a connection test makes.
pub(crate) fn test_record(outcome: RunOutcome, name: &str) -> Result<ResponseRecord> {
    outcome
        .responses
        .into_iter()
        .next()
        .ok_or_else(|| Error::NoTestResponse(name.to_owned()))
}
