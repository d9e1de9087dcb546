//! The IPC commands, one engine call each. Names and arguments follow `ui/README.md`.

use modelbench_engine::credentials::Secret;
use modelbench_engine::{ResponseRecord, RunId, RunSummary, StoredRun, Target};
use tauri::ipc::Channel;
use tauri::{AppHandle, State};

use crate::AppState;
use crate::error::{CommandError, CommandResult};
use crate::run::{RunMessage, RunRequest};

/// How many runs the History view lists when the UI names no limit.
const DEFAULT_RUN_LIMIT: usize = 200;

#[tauri::command]
pub fn list_targets(state: State<'_, AppState>) -> CommandResult<Vec<Target>> {
    Ok(state.store.list_targets()?)
}

/// Creates or replaces `target` by name; `original` is its old name when the UI renamed it.
#[tauri::command]
pub fn save_target(state: State<'_, AppState>, target: Target, original: Option<String>) -> CommandResult<()> {
    Ok(state.store.rename_or_save_target(&target, original.as_deref())?)
}

#[tauri::command]
pub fn remove_target(state: State<'_, AppState>, name: String) -> CommandResult<()> {
    match state.store.remove_target(&name)? {
        true => Ok(()),
        false => Err(CommandError::new("not_found", format!("no target named '{name}'"))),
    }
}

#[tauri::command]
pub fn list_keys(state: State<'_, AppState>) -> CommandResult<Vec<String>> {
    Ok(state.keychain.names()?)
}

#[tauri::command]
pub fn set_key(state: State<'_, AppState>, name: String, secret: String) -> CommandResult<()> {
    Ok(state.keychain.set(&name, &Secret::new(secret))?)
}

/// Sends `name` one short prompt and returns its record: the answer or the exact error.
#[tauri::command]
pub async fn test_target(state: State<'_, AppState>, name: String) -> CommandResult<ResponseRecord> {
    crate::run::test(&state, &name).await
}

/// Async so it runs on Tauri's tokio runtime, where the engine spawns the run's tasks.
#[tauri::command]
pub async fn start_run(
    app: AppHandle,
    state: State<'_, AppState>,
    request: RunRequest,
    on_event: Channel<RunMessage>,
) -> CommandResult<RunId> {
    crate::run::start(app, &state, request, on_event)
}

#[tauri::command]
pub fn stop_run(state: State<'_, AppState>, run_id: RunId) -> CommandResult<()> {
    crate::run::stop(&state, run_id)
}

#[tauri::command]
pub fn list_runs(
    state: State<'_, AppState>,
    query: Option<String>,
    limit: Option<usize>,
) -> CommandResult<Vec<RunSummary>> {
    let limit = limit.unwrap_or(DEFAULT_RUN_LIMIT);
    match query.as_deref().map(str::trim).filter(|query| !query.is_empty()) {
        Some(query) => Ok(state.store.search_runs(query, limit)?),
        None => Ok(state.store.list_runs(limit)?),
    }
}

#[tauri::command]
pub fn load_run(state: State<'_, AppState>, run_id: RunId) -> CommandResult<StoredRun> {
    state
        .store
        .load_run(run_id)?
        .ok_or_else(|| CommandError::new("not_found", format!("no run {run_id}")))
}

/// Starts the simulated clouds (once per process) and saves their targets, labelled `simulated`.
#[tauri::command]
pub async fn start_demo(state: State<'_, AppState>) -> CommandResult<Vec<Target>> {
    Ok(state.demo().await?.install(&state.store)?)
}
