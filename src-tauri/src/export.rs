//! The save dialog of Export: the native one (tauri-plugin-dialog, opened from Rust, so the
//! page has no dialog or file permission at all).

use std::path::PathBuf;

use modelbench_engine::RunId;
use modelbench_engine::report::Format;
use tauri::AppHandle;
use tauri_plugin_dialog::DialogExt;

use crate::error::{CommandError, CommandResult};

/// The file name the dialog proposes: `modelbench-<run id>.<format>`.
pub fn suggested_name(run_id: RunId, format: Format) -> String {
    format!("modelbench-{run_id}.{}", format.as_str())
}

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
        .set_file_name(suggested_name(run_id, format))
        .add_filter(filter_name(format), &[format.as_str()])
        .save_file(move |path| {
            let _ = answer.send(path);
        });
    let Ok(Some(path)) = chosen.await else {
        return Ok(None);
    };
    path.into_path()
        .map(Some)
        .map_err(|error| CommandError::new("storage", format!("the save dialog gave no usable path: {error}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_proposed_name_carries_the_run_and_the_format() {
        let run_id: RunId = "0193a8f0-0000-7000-8000-000000000001".parse().expect("run id");
        assert_eq!(
            suggested_name(run_id, Format::Html),
            "modelbench-0193a8f0-0000-7000-8000-000000000001.html"
        );
        assert_eq!(
            suggested_name(run_id, Format::Markdown),
            "modelbench-0193a8f0-0000-7000-8000-000000000001.md"
        );
    }
}
