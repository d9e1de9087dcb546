//! The IPC commands, one engine call each. Names and arguments follow `ui/README.md`.
//!
//! Every command that reads or writes the database does it on the blocking pool (see
//! [`with_store`]): a plain `#[tauri::command] fn` runs on the main thread, which draws the
//! window, so a slow query there froze it.

use modelbench_engine::credentials::Secret;
use modelbench_engine::diff::{self, Diff, DiffMode, SimilarityMatrix};
use modelbench_engine::record::now_unix_ms;
use modelbench_engine::report::{Format, Report};
use modelbench_engine::{ResponseRecord, RunId, RunSummary, Store, StoredRun, Target};
use tauri::ipc::Channel;
use tauri::{AppHandle, State};

use crate::AppState;
use crate::error::{CommandError, CommandResult};
use crate::run::{RunMessage, RunRequest};

/// How many runs the History view lists when the UI names no limit.
const DEFAULT_RUN_LIMIT: usize = 200;

#[tauri::command]
pub async fn list_targets(state: State<'_, AppState>) -> CommandResult<Vec<Target>> {
    with_store(&state, |store| store.list_targets()).await
}

/// Creates or replaces `target` by name; `original` is its old name when the UI renamed it.
#[tauri::command]
pub async fn save_target(state: State<'_, AppState>, target: Target, original: Option<String>) -> CommandResult<()> {
    with_store(&state, move |store| {
        store.rename_or_save_target(&target, original.as_deref())
    })
    .await
}

#[tauri::command]
pub async fn remove_target(state: State<'_, AppState>, name: String) -> CommandResult<()> {
    let removed = with_store(&state, {
        let name = name.clone();
        move |store| store.remove_target(&name)
    })
    .await?;
    match removed {
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
pub async fn list_runs(
    state: State<'_, AppState>,
    query: Option<String>,
    limit: Option<usize>,
) -> CommandResult<Vec<RunSummary>> {
    let limit = limit.unwrap_or(DEFAULT_RUN_LIMIT);
    with_store(&state, move |store| {
        match query.as_deref().map(str::trim).filter(|query| !query.is_empty()) {
            Some(query) => store.search_runs(query, limit),
            None => store.list_runs(limit),
        }
    })
    .await
}

#[tauri::command]
pub async fn load_run(state: State<'_, AppState>, run_id: RunId) -> CommandResult<StoredRun> {
    stored_run(&state, run_id).await
}

/// Deletes a stored run with everything of it; refused while it runs.
#[tauri::command]
pub async fn delete_run(state: State<'_, AppState>, run_id: RunId) -> CommandResult<()> {
    match with_store(&state, move |store| store.delete_runs(&[run_id])).await? {
        0 => Err(CommandError::new("not_found", format!("no run {run_id}"))),
        _ => Ok(()),
    }
}

async fn stored_run(state: &AppState, run_id: RunId) -> CommandResult<StoredRun> {
    with_store(state, move |store| store.load_run(run_id))
        .await?
        .ok_or_else(|| CommandError::new("not_found", format!("no run {run_id}")))
}

/// Starts the simulated clouds (once per process) and saves their targets, labelled `simulated`.
#[tauri::command]
pub async fn start_demo(state: State<'_, AppState>) -> CommandResult<Vec<Target>> {
    let demo = state.demo().await?;
    with_store(&state, move |store| demo.install(store)).await
}

/// Runs CPU-bound engine work (a diff, a similarity matrix, a report: tens of milliseconds for
/// long answers) on the blocking pool: neither on the main thread, which draws the window, nor
/// on the async workers, which carry the runs' streams.
async fn on_blocking_pool<T: Send + 'static>(work: impl FnOnce() -> T + Send + 'static) -> CommandResult<T> {
    tauri::async_runtime::spawn_blocking(work)
        .await
        .map_err(|error| CommandError::new("internal", format!("the computation stopped: {error}")))
}

/// Runs `work` with the database on the blocking pool.
async fn with_store<T: Send + 'static>(
    state: &AppState,
    work: impl FnOnce(&Store) -> modelbench_engine::Result<T> + Send + 'static,
) -> CommandResult<T> {
    let store = state.store.clone();
    Ok(on_blocking_pool(move || work(&store)).await??)
}

/// Compares two answers.
#[tauri::command]
pub async fn diff_texts(a: String, b: String, mode: DiffMode) -> CommandResult<Diff> {
    Ok(on_blocking_pool(move || diff::diff(&a, &b, mode)).await??)
}

/// How alike `texts` are: every pair's ratio, the outlier and the majority.
#[tauri::command]
pub async fn similarity(texts: Vec<String>, mode: DiffMode) -> CommandResult<SimilarityMatrix> {
    let matrix = on_blocking_pool(move || {
        let texts: Vec<&str> = texts.iter().map(String::as_str).collect();
        diff::similarity(&texts, mode)
    })
    .await??;
    Ok(matrix)
}

/// Writes the report of a stored run where the user says in the native save dialog. The dialog
/// is opened here, not by the page, so the page can never name a file to write. Resolves with
/// the path written, or `None` when the user cancelled.
#[tauri::command]
pub async fn export_run(
    app: AppHandle,
    state: State<'_, AppState>,
    run_id: RunId,
    format: String,
) -> CommandResult<Option<String>> {
    let format = Format::parse(&format).ok_or_else(|| {
        CommandError::new(
            "validation",
            format!("unknown report format '{format}' (md, csv, json, html)"),
        )
    })?;
    let run = stored_run(&state, run_id).await?;
    let contents =
        on_blocking_pool(move || Report::from_run(&run, env!("CARGO_PKG_VERSION"), now_unix_ms()).render(format))
            .await?;
    let Some(path) = crate::export::ask_where(&app, run_id, format).await? else {
        return Ok(None);
    };
    let shown = path.display().to_string();
    on_blocking_pool(move || std::fs::write(&path, contents))
        .await?
        .map_err(|error| CommandError::new("storage", format!("cannot write {shown}: {error}")))?;
    Ok(Some(shown))
}
