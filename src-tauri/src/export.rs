//! The save dialogs of Export and of an edited suite, and the open dialog of a suite import: the native ones (tauri-plugin-dialog, opened from Rust, so the
//! page has no dialog or file permission at all). The report itself and the name proposed are
//! the workbench's (`modelbench_workbench::export`).

use std::path::PathBuf;

use modelbench_engine::RunId;
use modelbench_engine::report::Format;
use tauri::AppHandle;
use tauri_plugin_dialog::DialogExt;

use crate::error::{CommandError, CommandErrorKind, CommandResult};

fn filter_name(format: Format) -> &'static str {
    match format {
        Format::Markdown => "Markdown",
        Format::Csv => "CSV",
        Format::Json => "JSON",
        Format::Html => "HTML (self-contained)",
    }
}

/// Asks where to save `contents`, the report of `run_id`, and writes it there: the path
/// written, or `None` when the user cancelled.
pub async fn save(
    app: &AppHandle,
    title: &str,
    run_id: RunId,
    format: Format,
    contents: String,
) -> CommandResult<Option<String>> {
    let Some(path) = ask_where(app, title, run_id, format).await? else {
        return Ok(None);
    };
    write(path, contents).await.map(Some)
}

/// Writes `contents` at the path a dialog gave; the path, as shown.
async fn write(path: PathBuf, contents: String) -> CommandResult<String> {
    let shown = path.display().to_string();
    modelbench_workbench::blocking(move || std::fs::write(&path, contents))
        .await?
        .map_err(|error| CommandError::new(CommandErrorKind::Storage, format!("cannot write {shown}: {error}")))?;
    Ok(shown)
}

/// Asks where to save the report of `run_id` (a comparison or a session: their ids are runs');
/// `None` when the user cancels.
async fn ask_where(app: &AppHandle, title: &str, run_id: RunId, format: Format) -> CommandResult<Option<PathBuf>> {
    let (answer, chosen) = tokio::sync::oneshot::channel();
    app.dialog()
        .file()
        .set_title(title)
        .set_file_name(modelbench_workbench::export::suggested_name(run_id, format))
        .add_filter(filter_name(format), &[format.as_str()])
        .save_file(move |path| {
            let _ = answer.send(path);
        });
    usable(chosen.await.ok().flatten(), "save")
}

/// Asks which suite file to import (the native open dialog); `None` when the user cancels.
pub async fn ask_suite(app: &AppHandle) -> CommandResult<Option<PathBuf>> {
    let (answer, chosen) = tokio::sync::oneshot::channel();
    app.dialog()
        .file()
        .set_title("Import a suite")
        .add_filter(
            "Suites (YAML, JSON, JSONL, CSV, promptfoo)",
            &["yaml", "yml", "json", "jsonl", "csv"],
        )
        .pick_file(move |path| {
            let _ = answer.send(path);
        });
    usable(chosen.await.ok().flatten(), "open")
}

fn usable(path: Option<tauri_plugin_dialog::FilePath>, dialog: &str) -> CommandResult<Option<PathBuf>> {
    let Some(path) = path else {
        return Ok(None);
    };
    path.into_path().map(Some).map_err(|error| {
        CommandError::new(
            CommandErrorKind::Storage,
            format!("the {dialog} dialog gave no usable path: {error}"),
        )
    })
}

/// Asks where to save an edited suite (the native save dialog, a name from the suite's own) and
/// writes its YAML there: the path written, or `None` when the user cancelled.
pub async fn save_suite(app: &AppHandle, name: &str, text: String) -> CommandResult<Option<String>> {
    let (answer, chosen) = tokio::sync::oneshot::channel();
    app.dialog()
        .file()
        .set_title("Save the suite as YAML")
        .set_file_name(modelbench_workbench::session::editor::suggested_file_name(name))
        .add_filter("YAML suite", &["yaml", "yml"])
        .save_file(move |path| {
            let _ = answer.send(path);
        });
    let Some(path) = usable(chosen.await.ok().flatten(), "save")? else {
        return Ok(None);
    };
    write(path, text).await.map(Some)
}
