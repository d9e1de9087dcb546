//! A session's live progress for a host that shows it: per target the calls done of those
//! planned, errors by kind, the median time to first token so far and the spend, with the
//! session's spend against its budget, sent at most once per [`PROGRESS_INTERVAL`].
//!
//! The engine's runner streams every token of every call; a window needs none of them to draw a
//! progress row, and a session of thousands of calls would flood it. So this folds each final
//! record into a [`ProgressTally`] and sends a snapshot when one is due. The desktop shell's sink
//! is a `tauri::ipc::Channel`; the test host's is a closure. Left out: the per-token events (the
//! Compare view's) and the statistics (the analysis, computed once the session ends).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use modelbench_engine::runner::RunEvent;
use modelbench_engine::stats::quantile;
use modelbench_engine::{ResponseRecord, RunId, Store};
use serde::Serialize;
use tokio::sync::mpsc::UnboundedReceiver;
use tokio::time::Instant;
use ts_rs::TS;

use super::{StartedSession, record_end};

/// The shortest time between two progress messages.
pub const PROGRESS_INTERVAL: Duration = Duration::from_millis(250);

/// What a session's channel carries.
#[derive(Clone, Debug, Serialize, TS)]
#[serde(tag = "kind", rename_all = "snake_case")]
#[ts(export)]
pub enum SessionMessage {
    /// Sent once, before any call is sent.
    Started {
        session_id: RunId,
        progress: SessionProgress,
    },
    Progress {
        progress: SessionProgress,
    },
    /// The session ended: `completed`, `stopped` (its budget), `paused`, `cancelled`; the last
    /// figures.
    Finished {
        session_id: RunId,
        status: String,
        progress: SessionProgress,
    },
    /// The run broke (the database went away); what arrived is kept and it can be resumed.
    Failed {
        session_id: RunId,
        message: String,
    },
}

/// The whole session so far.
#[derive(Clone, Debug, PartialEq, Serialize, TS)]
#[ts(export)]
pub struct SessionProgress {
    pub targets: Vec<TargetProgress>,
    pub done: u64,
    pub planned: u64,
    /// The known costs of every call sent so far, earlier starts of the session included.
    pub spent_usd: f64,
    pub budget_usd: Option<f64>,
}

/// One target's row.
#[derive(Clone, Debug, PartialEq, Serialize, TS)]
#[ts(export)]
pub struct TargetProgress {
    pub target: String,
    /// Calls that ended (answered, refused or failed for good).
    pub done: u64,
    pub planned: u64,
    /// Calls that ended in an error, by the engine's error kind.
    pub errors: BTreeMap<String, u64>,
    /// The median time to first token of the answered calls so far.
    pub time_to_first_token_p50_ms: Option<f64>,
    pub spent_usd: f64,
}

/// The running counts behind [`SessionProgress`]; final records go in, snapshots come out.
#[derive(Clone, Debug)]
pub struct ProgressTally {
    targets: Vec<TargetTally>,
    budget_usd: Option<f64>,
}

#[derive(Clone, Debug)]
struct TargetTally {
    name: String,
    done: u64,
    planned: u64,
    errors: BTreeMap<String, u64>,
    time_to_first_token_ms: Vec<f64>,
    spent_usd: f64,
}

impl ProgressTally {
    /// Nothing done yet of `planned` calls to each of `targets`.
    pub fn new(targets: &[String], planned_per_target: u64, budget_usd: Option<f64>) -> Self {
        Self {
            targets: targets
                .iter()
                .map(|name| TargetTally {
                    name: name.clone(),
                    done: 0,
                    planned: planned_per_target,
                    errors: BTreeMap::new(),
                    time_to_first_token_ms: Vec::new(),
                    spent_usd: 0.0,
                })
                .collect(),
            budget_usd,
        }
    }

    /// Counts one call's final record. A call never sent (refused by the budget or cancelled
    /// before its turn: no attempt) is not done.
    pub fn add(&mut self, record: &ResponseRecord) {
        if record.attempts == 0 {
            return;
        }
        let Some(target) = self.targets.get_mut(record.key.target_index as usize) else {
            return;
        };
        target.done += 1;
        target.spent_usd += record.cost_usd.unwrap_or(0.0);
        match &record.error {
            Some(error) if !record.complete => {
                *target.errors.entry(error.kind.as_str().to_owned()).or_default() += 1;
            }
            _ => {
                if let Some(milliseconds) = record.metrics.time_to_first_token_ms {
                    target.time_to_first_token_ms.push(milliseconds);
                }
            }
        }
    }

    pub fn snapshot(&self) -> SessionProgress {
        let targets: Vec<TargetProgress> = self
            .targets
            .iter()
            .map(|target| {
                let mut times = target.time_to_first_token_ms.clone();
                times.sort_by(f64::total_cmp);
                TargetProgress {
                    target: target.name.clone(),
                    done: target.done,
                    planned: target.planned,
                    errors: target.errors.clone(),
                    time_to_first_token_p50_ms: quantile(&times, 0.5),
                    spent_usd: target.spent_usd,
                }
            })
            .collect();
        SessionProgress {
            done: targets.iter().map(|target| target.done).sum(),
            planned: targets.iter().map(|target| target.planned).sum(),
            spent_usd: targets.iter().map(|target| target.spent_usd).sum(),
            budget_usd: self.budget_usd,
            targets,
        }
    }
}

/// Where a session's messages go. A sink that can no longer deliver (a closed window) drops
/// them: the session goes on and is stored all the same.
pub trait SessionSink: Send + Sync + 'static {
    fn send(&self, message: SessionMessage);
}

impl<F: Fn(SessionMessage) + Send + Sync + 'static> SessionSink for F {
    fn send(&self, message: SessionMessage) {
        self(message);
    }
}

/// Folds a session's events into `tally` until the run ends, sending `progress` at most once
/// per [`PROGRESS_INTERVAL`]: the first change at once, later ones when the interval since the
/// last message has passed. Changes since the last message are not sent when the run ends: the
/// end's own message ([`follow`]'s `finished`) carries the final figures.
pub async fn forward_progress(
    events: &mut UnboundedReceiver<RunEvent>,
    tally: &mut ProgressTally,
    sink: &impl SessionSink,
) {
    let mut last_sent: Option<Instant> = None;
    let mut pending = false;
    loop {
        let due = last_sent.map(|at| at + PROGRESS_INTERVAL);
        let next = match (pending, due) {
            (true, Some(due)) => match tokio::time::timeout_at(due, events.recv()).await {
                Ok(next) => next,
                Err(_elapsed) => {
                    sink.send(SessionMessage::Progress {
                        progress: tally.snapshot(),
                    });
                    last_sent = Some(Instant::now());
                    pending = false;
                    continue;
                }
            },
            _ => events.recv().await,
        };
        match next {
            Some(RunEvent::ResponseFinished(record)) => {
                tally.add(&record);
                if due.is_none_or(|due| Instant::now() >= due) {
                    sink.send(SessionMessage::Progress {
                        progress: tally.snapshot(),
                    });
                    last_sent = Some(Instant::now());
                    pending = false;
                } else {
                    pending = true;
                }
            }
            Some(RunEvent::Stream(_)) => {}
            None => break,
        }
    }
}

/// Drives a started session to its end for `sink`: progress, then how it ended, recorded in
/// the store as the CLI records it. A cancel asked by another process is honoured too.
pub async fn follow(store: Arc<Store>, started: StartedSession, mut tally: ProgressTally, sink: impl SessionSink) {
    let StartedSession {
        session_id,
        mut live,
        budget,
        pause,
        ..
    } = started;
    sink.send(SessionMessage::Started {
        session_id,
        progress: tally.snapshot(),
    });
    let canceller = live.canceller();
    let watch_store = store.clone();
    let watcher = tokio::spawn(async move {
        let mut poll = tokio::time::interval(Duration::from_millis(500));
        loop {
            poll.tick().await;
            let asked = watch_store
                .find_session(&session_id.to_string())
                .is_ok_and(|row| row.is_some_and(|row| row.status == super::SESSION_CANCELLING));
            if asked {
                canceller.cancel();
                break;
            }
        }
    });
    forward_progress(&mut live.handle.events, &mut tally, &sink).await;
    watcher.abort();
    let ended = match live.outcome().await {
        Ok(outcome) => record_end(
            &store,
            session_id,
            outcome.cancelled,
            pause.held_back(),
            budget.as_deref(),
        ),
        Err(error) => Err(error.into()),
    };
    sink.send(match ended {
        Ok(status) => SessionMessage::Finished {
            session_id,
            status: status.to_owned(),
            progress: tally.snapshot(),
        },
        Err(error) => SessionMessage::Failed {
            session_id,
            message: error.to_string(),
        },
    });
}
