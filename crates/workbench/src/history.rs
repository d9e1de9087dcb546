//! Stored runs: the list (or a search of it), one run, deleting one, and finding one by a prefix
//! of its id. Plain calls on the store; the [`Workbench`](crate::Workbench) runs them on the
//! blocking pool for a host whose async threads must not wait on disk.

use modelbench_engine::{RunId, RunSummary, Store, StoredRun};

use crate::error::{Error, Result};

/// How many runs a list holds when the host names no limit.
pub const DEFAULT_RUN_LIMIT: usize = 200;

/// The newest `limit` runs, or those matching `query` when it has more than blanks.
pub fn list(store: &Store, query: Option<&str>, limit: usize) -> Result<Vec<RunSummary>> {
    Ok(match query.map(str::trim).filter(|query| !query.is_empty()) {
        Some(query) => store.search_runs(query, limit)?,
        None => store.list_runs(limit)?,
    })
}

pub fn load(store: &Store, run_id: RunId) -> Result<StoredRun> {
    store.load_run(run_id)?.ok_or(Error::RunNotFound(run_id))
}

/// Deletes a run with everything stored for it; the store refuses a running one.
pub fn delete(store: &Store, run_id: RunId) -> Result<()> {
    match store.delete_runs(&[run_id])? {
        0 => Err(Error::RunNotFound(run_id)),
        _ => Ok(()),
    }
}

/// The run whose id is `text` or starts with it (when only one does).
pub fn find(store: &Store, text: &str) -> Result<StoredRun> {
    let run_id = store
        .resolve_run_id(text)?
        .ok_or_else(|| Error::NoRunMatches(text.to_owned()))?;
    load(store, run_id)
}
