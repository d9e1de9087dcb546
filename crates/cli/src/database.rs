//! The database a command works on: opened from the data dir, and a stored run found by its id or
//! a prefix of it. The data dir's layout is the workbench's, the database the engine's.

use std::path::Path;
use std::sync::Arc;

use anyhow::{Context, Result};
use modelbench_engine::StoredRun;
use modelbench_engine::store::Store;

/// The database of the data dir (`--data-dir`, `MODELBENCH_DATA_DIR` or the platform's).
pub fn open(data_dir: Option<&Path>) -> Result<Store> {
    let dir = modelbench_workbench::data_dir::resolve(data_dir)
        .context("cannot find the platform data directory; pass --data-dir")?;
    Ok(modelbench_workbench::data_dir::open_store(&dir)?)
}

/// The database of a command that sends requests: a run that could not be stored is refused
/// before anything is sent (and paid for).
pub fn open_for_run(data_dir: Option<&Path>) -> Result<Arc<Store>> {
    let store = Arc::new(open(data_dir)?);
    store.check_ready_for_run()?;
    Ok(store)
}

/// The run `text` names (an id or a unique prefix of one).
pub fn find_run(store: &Store, text: &str) -> Result<StoredRun> {
    modelbench_workbench::history::find(store, text).map_err(|error| match error {
        modelbench_workbench::Error::NoRunMatches(text) => {
            anyhow::anyhow!("no run matches '{text}' (see `modelbench runs list`)")
        }
        other => other.into(),
    })
}
