//! The workbench's errors: the engine's, and the few the application layer adds (a run or a
//! target that is not there, an unusable data dir or price catalog, an answer a diff cannot use).
//!
//! Each host turns them into its own edge: the shell into `{kind, message, retryable}`, the CLI
//! into a line on stderr. So the variants carry data and say nothing about flags or windows; a
//! host that names its own flag (the CLI's `--prompt`) matches the variant.

use std::path::PathBuf;

use modelbench_engine::RunId;

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Engine(#[from] modelbench_engine::Error),
    #[error(transparent)]
    Diff(#[from] modelbench_engine::diff::DiffError),
    /// The source is in the message too: the shell shows only the message.
    #[error("cannot open the database at {}: {source}", path.display())]
    OpenDatabase {
        path: PathBuf,
        #[source]
        source: modelbench_engine::Error,
    },
    #[error("the data dir {} is not a directory", .0.display())]
    NotADirectory(PathBuf),
    #[error(
        "the imported price catalog is unusable; import a good one or delete {} to use the built-in catalog: {source}",
        path.display()
    )]
    ImportedCatalog {
        path: PathBuf,
        #[source]
        source: modelbench_engine::Error,
    },
    #[error("no run {0}")]
    RunNotFound(RunId),
    /// No stored run id starts with this text.
    #[error("no run matches '{0}'")]
    NoRunMatches(String),
    #[error("no target named '{0}'")]
    TargetNotFound(String),
    /// A session that cannot start, resume or load, with the reason.
    #[error("{0}")]
    Session(String),
    /// A panel that cannot be created, or a ratings file that cannot be imported, with the reason.
    #[error("{0}")]
    Panel(String),
    /// A report that cannot be made (a PDF that did not typeset, a sign-off without a name).
    #[error("report: {0}")]
    Report(String),
    /// An evidence bundle that cannot be made or read, or a signing key that cannot be used.
    #[error("evidence: {0}")]
    Evidence(String),
    /// A judge run that cannot start, resume or load, with the reason.
    #[error("judge: {0}")]
    Judge(String),
    /// A target test ended without a record (it always makes one; this is a bug).
    #[error("the test of '{0}' produced no response")]
    NoTestResponse(String),
    /// Work on the blocking pool stopped (it panicked, or the runtime is shutting down).
    #[error("the computation stopped: {0}")]
    Stopped(String),
    /// Asked for a prompt a run does not have (numbered from 1).
    #[error("run {run_id} has {prompts} prompt(s): a prompt number is 1 to {prompts}")]
    NoSuchPrompt { run_id: RunId, prompts: usize },
    /// Asked for a repeat a run did not make (numbered from 1).
    #[error("run {run_id} asked each target {repeat} time(s): a repeat number is 1 to {repeat}")]
    NoSuchRepeat { run_id: RunId, repeat: u32 },
    #[error("run {run_id} has no target '{name}' (its targets: {})", known.join(", "))]
    NoSuchTarget {
        run_id: RunId,
        name: String,
        known: Vec<String>,
    },
    #[error("target '{name}' has no answer{place} in run {run_id} (the run stopped before it answered)")]
    NoAnswer { run_id: RunId, name: String, place: String },
    #[error("run {run_id} has {count} answer(s){place} to compare: it takes two")]
    TooFewAnswers { run_id: RunId, count: usize, place: String },
    /// `runs resume` of a run another process is still running.
    #[error("run {0} is still running in another process; resume it once that process has ended")]
    StillRunning(RunId),
}
