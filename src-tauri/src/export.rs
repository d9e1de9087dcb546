//! The save dialog of Export and the open dialog of a suite import: the native ones (tauri-plugin-dialog, opened from Rust, so the
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
    let shown = path.display().to_string();
    modelbench_workbench::blocking(move || std::fs::write(&path, contents))
        .await?
        .map_err(|error| CommandError::new(CommandErrorKind::Storage, format!("cannot write {shown}: {error}")))?;
    Ok(Some(shown))
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
