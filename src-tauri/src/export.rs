//! The save dialog of Export: the native one (tauri-plugin-dialog, opened from Rust, so the
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

/// Asks where to save; `None` when the user cancels.
pub async fn ask_where(app: &AppHandle, run_id: RunId, format: Format) -> CommandResult<Option<PathBuf>> {
    let (answer, chosen) = tokio::sync::oneshot::channel();
    app.dialog()
        .file()
        .set_title("Export the comparison report")
        .set_file_name(modelbench_workbench::export::suggested_name(run_id, format))
        .add_filter(filter_name(format), &[format.as_str()])
        .save_file(move |path| {
            let _ = answer.send(path);
        });
    let Ok(Some(path)) = chosen.await else {
        return Ok(None);
    };
    path.into_path().map(Some).map_err(|error| {
        CommandError::new(
            CommandErrorKind::Storage,
            format!("the save dialog gave no usable path: {error}"),
        )
    })
}
