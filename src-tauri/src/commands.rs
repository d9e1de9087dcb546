//! The IPC commands, one workbench (or engine) call each. Names and arguments follow
//! `ui/README.md`.
//!
//! Every command that reads or writes the database does it on the blocking pool (the workbench's
//! `with_store` and history calls): a plain `#[tauri::command] fn` runs on the main thread, which
//! draws the window, so a slow query there froze it.

use modelbench_engine::credentials::Secret;
use modelbench_engine::diff::{self, Diff, DiffMode, SimilarityMatrix};
use modelbench_engine::panel::PanelKind;
use modelbench_engine::report::Format;
use modelbench_engine::session::{Analysis, Estimate};
use modelbench_engine::store::SessionSummary;
use modelbench_engine::suite::{SuiteDocument, SuiteFormat};
use modelbench_engine::target::FieldError;
use modelbench_engine::{ResponseRecord, RunId, RunSummary, Target};
use modelbench_workbench::history::DEFAULT_RUN_LIMIT;
use modelbench_workbench::panel::PanelStatus;
use modelbench_workbench::panel::rate::{GivenRating, Leaderboard, RatingItem};
use modelbench_workbench::session::answers::TestAnswers;
use modelbench_workbench::session::editor::{self, DryCheck, DryCheckRequest, SuiteDraft};
use modelbench_workbench::session::live::SessionMessage;
use modelbench_workbench::session::suites::{SessionRequest, SuiteInfo};
use modelbench_workbench::{RunMessage, RunRequest, blocking};
use tauri::ipc::Channel;
use tauri::{AppHandle, State};

use crate::AppState;
use crate::error::{CommandError, CommandErrorKind, CommandResult};

#[tauri::command]
pub async fn list_targets(state: State<'_, AppState>) -> CommandResult<Vec<Target>> {
    Ok(state.workbench.with_store(|store| Ok(store.list_targets()?)).await?)
}

/// What is wrong with `target`, field by field (the engine's rules, the same ones `save_target`
/// and every run apply); empty when it is good.
#[tauri::command]
pub fn validate_target(target: Target) -> Vec<FieldError> {
    target.field_errors()
}

/// Creates or replaces `target` by name; `original` is its old name when the UI renamed it.
#[tauri::command]
pub async fn save_target(state: State<'_, AppState>, target: Target, original: Option<String>) -> CommandResult<()> {
    Ok(state
        .workbench
        .with_store(move |store| Ok(store.rename_or_save_target(&target, original.as_deref())?))
        .await?)
}

#[tauri::command]
pub async fn remove_target(state: State<'_, AppState>, name: String) -> CommandResult<()> {
    let removed = state
        .workbench
        .with_store({
            let name = name.clone();
            move |store| Ok(store.remove_target(&name)?)
        })
        .await?;
    match removed {
        true => Ok(()),
        false => Err(CommandError::new(
            CommandErrorKind::NotFound,
            format!("no target named '{name}'"),
        )),
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
    Ok(state.workbench.test_target(&name).await?)
}

/// Async so it runs on Tauri's tokio runtime, where the workbench and the engine spawn the
/// run's tasks.
#[tauri::command]
pub async fn start_run(
    state: State<'_, AppState>,
    request: RunRequest,
    on_event: Channel<RunMessage>,
) -> CommandResult<RunId> {
    Ok(state.workbench.start_run(request, crate::run::sink(on_event))?)
}

#[tauri::command]
pub fn stop_run(state: State<'_, AppState>, run_id: RunId) -> CommandResult<()> {
    state.workbench.stop_run(run_id);
    Ok(())
}

#[tauri::command]
pub async fn list_runs(
    state: State<'_, AppState>,
    query: Option<String>,
    limit: Option<usize>,
) -> CommandResult<Vec<RunSummary>> {
    Ok(state
        .workbench
        .list_runs(query, limit.unwrap_or(DEFAULT_RUN_LIMIT))
        .await?)
}

#[tauri::command]
pub async fn load_run(state: State<'_, AppState>, run_id: RunId) -> CommandResult<modelbench_engine::StoredRun> {
    Ok(state.workbench.load_run(run_id).await?)
}

/// Deletes a stored run with everything of it; refused while it runs.
#[tauri::command]
pub async fn delete_run(state: State<'_, AppState>, run_id: RunId) -> CommandResult<()> {
    Ok(state.workbench.delete_run(run_id).await?)
}

/// Starts the simulated clouds (once per process), saves their targets, labelled `simulated`,
/// and stores the sample suite they bring, for a first session.
#[tauri::command]
pub async fn start_demo(state: State<'_, AppState>) -> CommandResult<Vec<Target>> {
    let demo = state.demo().await?;
    let targets = state
        .workbench
        .with_store(move |store| Ok(demo.install(store)?))
        .await?;
    state
        .workbench
        .add_suite_text(modelbench_demo::SAMPLE_SUITE, SuiteFormat::Yaml)?;
    Ok(targets)
}

/// Compares two answers, on the blocking pool (tens of milliseconds for long answers).
#[tauri::command]
pub async fn diff_texts(a: String, b: String, mode: DiffMode) -> CommandResult<Diff> {
    Ok(blocking(move || diff::diff(&a, &b, mode)).await??)
}

/// How alike `texts` are: every pair's ratio, the outlier and the majority.
#[tauri::command]
pub async fn similarity(texts: Vec<String>, mode: DiffMode) -> CommandResult<SimilarityMatrix> {
    let matrix = blocking(move || {
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
    format: Format,
) -> CommandResult<Option<String>> {
    let contents = state.workbench.export_run(run_id, format).await?;
    crate::export::save(&app, "Export the comparison report", run_id, format, contents).await
}

/// The stored suites, newest first: imported ones, the sample the simulated clouds bring, and
/// those sessions ran.
#[tauri::command]
pub fn list_suites(state: State<'_, AppState>) -> CommandResult<Vec<SuiteInfo>> {
    Ok(state.workbench.list_suites()?)
}

#[tauri::command]
pub fn load_suite(state: State<'_, AppState>, hash: String) -> CommandResult<SuiteInfo> {
    Ok(state.workbench.load_suite(&hash)?)
}

/// Asks for a suite file in the native open dialog (the page never names a file to read),
/// loads and stores it; `None` when the user cancelled.
#[tauri::command]
pub async fn import_suite(app: AppHandle, state: State<'_, AppState>) -> CommandResult<Option<SuiteInfo>> {
    let Some(path) = crate::export::ask_suite(&app).await? else {
        return Ok(None);
    };
    Ok(Some(state.workbench.import_suite(&path)?))
}

/// Calls, tokens and a cost range per target of `request`; nothing is sent.
#[tauri::command]
pub async fn estimate_session(state: State<'_, AppState>, request: SessionRequest) -> CommandResult<Estimate> {
    Ok(state
        .workbench
        .estimate_session(&state.workbench.plan_session(&request)?))
}

/// Starts a session; its progress arrives on `on_event` at most every 250 ms, then its end.
#[tauri::command]
pub async fn start_session(
    state: State<'_, AppState>,
    request: SessionRequest,
    on_event: Channel<SessionMessage>,
) -> CommandResult<RunId> {
    let plan = state.workbench.plan_session(&request)?;
    Ok(state
        .workbench
        .start_session_live(plan, crate::run::session_sink(on_event))?)
}

/// Cancels a session; what arrived is kept.
#[tauri::command]
pub async fn cancel_session(state: State<'_, AppState>, session_id: String) -> CommandResult<RunId> {
    Ok(state.workbench.cancel_session(&session_id)?)
}

/// The answers of one test of a session, each graded by the test's checks.
#[tauri::command]
pub async fn session_answers(
    state: State<'_, AppState>,
    session_id: String,
    case_id: String,
) -> CommandResult<TestAnswers> {
    Ok(state.workbench.session_answers(&session_id, &case_id)?)
}

/// Pauses a running session: calls in flight finish, the rest wait for Resume.
#[tauri::command]
pub async fn pause_session(state: State<'_, AppState>, session_id: String) -> CommandResult<RunId> {
    Ok(state.workbench.pause_session(&session_id)?)
}

/// Sends what a stopped or interrupted session is missing, with a new budget if given; `None`
/// when nothing was missing.
#[tauri::command]
pub async fn resume_session(
    state: State<'_, AppState>,
    session_id: String,
    budget_usd: Option<f64>,
    on_event: Channel<SessionMessage>,
) -> CommandResult<Option<RunId>> {
    Ok(state
        .workbench
        .resume_session_live(&session_id, budget_usd, crate::run::session_sink(on_event))?)
}

#[tauri::command]
pub async fn list_sessions(state: State<'_, AppState>) -> CommandResult<Vec<SessionSummary>> {
    Ok(state.workbench.list_sessions()?)
}

/// A session's statistics: per target, per test, the parity verdicts and the decision table.
#[tauri::command]
pub async fn session_analysis(state: State<'_, AppState>, session_id: String) -> CommandResult<Analysis> {
    Ok(state.workbench.analyse_session(&session_id)?.1)
}

/// Writes a session's report where the user says in the native save dialog; the path written,
/// or `None` when the user cancelled.
#[tauri::command]
pub async fn export_session(
    app: AppHandle,
    state: State<'_, AppState>,
    session_id: RunId,
    format: Format,
) -> CommandResult<Option<String>> {
    let report_format = modelbench_engine::session::report::Format::parse(format.as_str())
        .ok_or_else(|| CommandError::new(CommandErrorKind::Validation, format!("no session report in {format:?}")))?;
    let contents = state.workbench.export_session(&session_id.to_string(), report_format)?;
    crate::export::save(&app, "Export the session report", session_id, format, contents).await
}

/// The stored suite `hash` opened for editing: its YAML, its fields, its problems at their fields.
#[tauri::command]
pub async fn open_suite_draft(state: State<'_, AppState>, hash: String) -> CommandResult<SuiteDraft> {
    Ok(state.workbench.open_suite_draft(&hash)?)
}

/// Edited fields written out as YAML, with the engine's problems at their fields.
#[tauri::command]
pub async fn check_suite_document(document: SuiteDocument) -> CommandResult<SuiteDraft> {
    Ok(blocking(move || editor::draft_of_document(document)).await?)
}

/// Edited YAML read into fields, with the engine's problems at their fields and lines.
#[tauri::command]
pub async fn check_suite_text(text: String) -> CommandResult<SuiteDraft> {
    Ok(blocking(move || editor::draft_of_text(text)).await?)
}

/// Stores an edited suite (refused, naming its errors, when it has any).
#[tauri::command]
pub async fn save_suite_draft(state: State<'_, AppState>, text: String) -> CommandResult<SuiteInfo> {
    Ok(state.workbench.save_suite_draft(&text)?)
}

/// Writes an edited suite's YAML where the user says in the native save dialog; the path
/// written, or `None` when the user cancelled.
#[tauri::command]
pub async fn export_suite_draft(app: AppHandle, name: String, text: String) -> CommandResult<Option<String>> {
    crate::export::save_suite(&app, &name, text).await
}

/// Sends one test of a suite to one saved target and grades the answer; nothing is stored.
#[tauri::command]
pub async fn dry_check_suite(state: State<'_, AppState>, request: DryCheckRequest) -> CommandResult<DryCheck> {
    Ok(state.workbench.dry_check(request).await?)
}

/// The blind panels of a session, newest first, with each rater's progress.
#[tauri::command]
pub async fn list_panels(state: State<'_, AppState>, session_id: String) -> CommandResult<Vec<PanelStatus>> {
    Ok(state.workbench.list_panels(Some(&session_id))?)
}

/// Creates a blind panel over a finished session with `rater` its first rater.
#[tauri::command]
pub async fn create_rating_panel(
    state: State<'_, AppState>,
    session_id: String,
    kind: PanelKind,
    rater: String,
) -> CommandResult<PanelStatus> {
    Ok(state.workbench.create_rating_panel(&session_id, kind, &rater)?)
}

/// `rater`'s first unrated item of a panel, adding them to it when they are new.
#[tauri::command]
pub async fn join_panel(state: State<'_, AppState>, panel_id: String, rater: String) -> CommandResult<RatingItem> {
    Ok(state.workbench.join_panel(&panel_id, &rater)?)
}

/// `rater`'s item number `n` (1-based): the prompt and the answers under their labels only.
#[tauri::command]
pub async fn rating_item(
    state: State<'_, AppState>,
    panel_id: String,
    rater: String,
    n: u32,
) -> CommandResult<RatingItem> {
    Ok(state.workbench.rating_item(&panel_id, &rater, n)?)
}

/// Stores `rater`'s rating of their item `n` at once (replacing an earlier one).
#[tauri::command]
pub async fn rate_item(
    state: State<'_, AppState>,
    panel_id: String,
    rater: String,
    n: u32,
    rating: GivenRating,
) -> CommandResult<RatingItem> {
    Ok(state.workbench.rate_item(&panel_id, &rater, n, &rating)?)
}

/// The leaderboard of the session's newest panel with ratings; `None` when it has none.
#[tauri::command]
pub async fn session_leaderboard(state: State<'_, AppState>, session_id: String) -> CommandResult<Option<Leaderboard>> {
    Ok(state.workbench.session_leaderboard(&session_id)?)
}
