//! `modelbench export`: a stored run as a report file (Markdown, CSV, JSON or HTML).
//!
//! The engine builds and renders the report; this only finds the run, picks the format and
//! writes the bytes, to stdout or a file.

use std::io::Write;
use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::{Args, ValueEnum};
use modelbench_engine::record::now_unix_ms;
use modelbench_engine::report::{Format, Report};
use modelbench_engine::store::Store;

#[derive(Args)]
pub struct ExportArgs {
    /// A run id or a unique prefix of one (as `runs show` takes).
    run_id: String,
    #[arg(long, value_enum)]
    format: ExportFormat,
    /// Write the report to this file instead of stdout.
    #[arg(short, long, value_name = "FILE")]
    output: Option<PathBuf>,
}

#[derive(Clone, Copy, ValueEnum)]
enum ExportFormat {
    /// Markdown
    Md,
    /// One row per response
    Csv,
    /// The full structured report (docs/report-json.md)
    Json,
    /// One self-contained page: no script, nothing loaded from outside
    Html,
}

impl ExportFormat {
    fn engine(self) -> Format {
        match self {
            Self::Md => Format::Markdown,
            Self::Csv => Format::Csv,
            Self::Json => Format::Json,
            Self::Html => Format::Html,
        }
    }
}

pub fn run(store: &Store, args: ExportArgs) -> Result<()> {
    let id = store
        .resolve_run_id(&args.run_id)?
        .with_context(|| format!("no run matches '{}' (see `modelbench runs list`)", args.run_id))?;
    let run = store.load_run(id)?.with_context(|| format!("run {id} not found"))?;
    let format = args.format.engine();
    let text = Report::from_run(&run, env!("CARGO_PKG_VERSION"), now_unix_ms()).render(format);
    match &args.output {
        Some(path) => {
            std::fs::write(path, &text).with_context(|| format!("cannot write the report to {}", path.display()))?;
            eprintln!("wrote the {format} report of run {id} to {}", path.display());
        }
        None => {
            let mut out = std::io::stdout().lock();
            out.write_all(text.as_bytes())?;
            out.flush()?;
        }
    }
    Ok(())
}
