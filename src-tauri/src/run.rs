//! A run streamed to the UI: starts it on the engine's runner and forwards its events onto the
//! run's channel, batched so at most one `events` message goes out per frame (~16 ms), then one
//! `response` per final record and `finished` (or `failed`) at the end.

use std::time::Duration;

use modelbench_engine::runner::{RunEvent, RunHandle, RunOptions, RunPlan};
use modelbench_engine::{Parameters, Prompt, ResponseRecord, RunId, StampedEvent, Target};
use serde::{Deserialize, Serialize};
use tauri::ipc::Channel;
use tauri::{AppHandle, Manager};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use ts_rs::TS;

use crate::AppState;
use crate::error::{CommandError, CommandResult};

/// One animation frame: the UI renders at most once per frame anyway.
const FRAME: Duration = Duration::from_millis(16);

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

/// What the run channel carries.
#[derive(Clone, Debug, Serialize, TS)]
#[serde(tag = "kind", rename_all = "snake_case")]
#[ts(export)]
pub enum RunMessage {
    Started { run_id: RunId, targets: Vec<Target> },
    Events { events: Vec<StampedEvent> },
    Response { response: Box<ResponseRecord> },
    Finished { run_id: RunId },
    Failed { message: String },
}

pub fn start(
    app: AppHandle,
    state: &AppState,
    request: RunRequest,
    channel: Channel<RunMessage>,
) -> CommandResult<RunId> {
    let targets = request
        .targets
        .iter()
        .map(|name| saved_target(state, name))
        .collect::<CommandResult<Vec<Target>>>()?;
    let plan = RunPlan {
        targets: targets.clone(),
        prompts: vec![Prompt::user(request.prompt).with_system(request.system)],
        parameters: request.parameters,
        options: RunOptions::default(),
    };
    let cancel = CancellationToken::new();
    let handle = state.runner.start(plan, cancel.clone())?;
    let run_id = handle.run_id;
    lock(state).insert(run_id, cancel);
    send(&channel, RunMessage::Started { run_id, targets });
    tauri::async_runtime::spawn(async move {
        forward(handle, &channel).await;
        lock(&app.state::<AppState>()).remove(&run_id);
    });
    Ok(run_id)
}

/// One connection test of the saved target `name`, not stored.
pub async fn test(state: &AppState, name: &str) -> CommandResult<ResponseRecord> {
    let target = saved_target(state, name)?;
    let handle = state
        .tester
        .start(RunPlan::connection_test(target), CancellationToken::new())?;
    let outcome = handle.outcome().await?;
    outcome
        .responses
        .into_iter()
        .next()
        .ok_or_else(|| CommandError::new("protocol", format!("the test of '{name}' produced no response")))
}

fn saved_target(state: &AppState, name: &str) -> CommandResult<Target> {
    state
        .store
        .get_target(name)?
        .ok_or_else(|| CommandError::new("not_found", format!("no target named '{name}'")))
}

pub fn stop(state: &AppState, run_id: RunId) -> CommandResult<()> {
    // A run that already ended has nothing left to stop: not an error for a Stop button.
    if let Some(cancel) = lock(state).get(&run_id) {
        cancel.cancel();
    }
    Ok(())
}

fn lock(state: &AppState) -> std::sync::MutexGuard<'_, std::collections::HashMap<RunId, CancellationToken>> {
    state.running.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

async fn forward(mut handle: RunHandle, channel: &Channel<RunMessage>) {
    let run_id = handle.run_id;
    let mut batch = Vec::new();
    // When the oldest unsent event must go out.
    let mut deadline: Option<Instant> = None;
    loop {
        let next = match deadline {
            Some(at) => match tokio::time::timeout_at(at, handle.events.recv()).await {
                Ok(next) => next,
                Err(_elapsed) => {
                    flush(channel, &mut batch);
                    deadline = None;
                    continue;
                }
            },
            None => handle.events.recv().await,
        };
        match next {
            Some(RunEvent::Stream(event)) => {
                batch.push(event);
                deadline.get_or_insert_with(|| Instant::now() + FRAME);
            }
            Some(RunEvent::ResponseFinished(response)) => {
                flush(channel, &mut batch);
                deadline = None;
                send(channel, RunMessage::Response { response });
            }
            None => break,
        }
    }
    flush(channel, &mut batch);
    match handle.outcome().await {
        Ok(_) => send(channel, RunMessage::Finished { run_id }),
        Err(error) => send(
            channel,
            RunMessage::Failed {
                message: error.to_string(),
            },
        ),
    }
}

fn flush(channel: &Channel<RunMessage>, batch: &mut Vec<StampedEvent>) {
    if !batch.is_empty() {
        send(
            channel,
            RunMessage::Events {
                events: std::mem::take(batch),
            },
        );
    }
}

/// A closed channel (the window reloaded) is not an error for the run: it goes on and is stored.
fn send(channel: &Channel<RunMessage>, message: RunMessage) {
    if let Err(error) = channel.send(message) {
        eprintln!("modelbench-app: cannot send to the run channel: {error}");
    }
}

#[cfg(test)]
mod bindings;
