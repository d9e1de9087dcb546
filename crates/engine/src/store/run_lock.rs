//! Who owns a running run: a lock file per run, held by the process that runs it.
//!
//! A run's row says `running` from its start until the runner records its end. If the process
//! dies first (kill -9, a crash, a closed laptop lid that never reopens) nobody records the end,
//! and the row alone cannot tell a dead run from a live one. The owner therefore holds an
//! exclusive OS lock on `run-locks/RUN_ID.lock` next to the database for as long as the run goes
//! on; the OS drops the lock when the process dies, however it dies. Whoever opens the store and
//! can take the lock of a `running` run knows its owner is gone.
//!
//! Left out: runs started by builds from before these locks (they have no lock file and are
//! taken for dead, which they are unless such a build is running right now).

use std::fs::{File, OpenOptions, TryLockError};
use std::path::{Path, PathBuf};

use crate::model::record::RunId;

/// The folder next to the database that holds the lock files.
pub(super) const RUN_LOCKS_DIR: &str = "run-locks";

/// A held run lock. Dropping it deletes the file and releases the lock.
#[derive(Debug)]
pub(super) struct RunLock {
    path: PathBuf,
    // Declared after `path` only for clarity: the lock is released when the file closes, which
    // happens after `drop` below has removed the file.
    _file: File,
}

impl RunLock {
    pub(super) fn acquire(dir: &Path, run: RunId) -> std::io::Result<Self> {
        std::fs::create_dir_all(dir)?;
        let path = lock_path(dir, run);
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)?;
        match file.try_lock() {
            Ok(()) => Ok(Self { path, _file: file }),
            Err(TryLockError::WouldBlock) => Err(std::io::Error::other(format!(
                "{} is locked by another process",
                path.display()
            ))),
            Err(TryLockError::Error(error)) => Err(error),
        }
    }
}

impl Drop for RunLock {
    fn drop(&mut self) {
        // Removed before the lock is released: a process that opened the file before this and
        // takes the lock afterwards finds the run's end already committed.
        let _ = std::fs::remove_file(&self.path);
    }
}

/// Whether the process that started `run` still holds its lock. A missing lock file or one
/// nobody holds means the owner is gone; when in doubt (the lock cannot be tried) the owner is
/// taken to be alive, since marking a live run dead would be worse than waiting.
pub(super) fn owner_is_alive(dir: &Path, run: RunId) -> bool {
    let path = lock_path(dir, run);
    let file = match OpenOptions::new().write(true).open(&path) {
        Ok(file) => file,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return false,
        Err(error) => {
            tracing::debug!(%error, path = %path.display(), "cannot open a run lock; taking its owner for alive");
            return true;
        }
    };
    match file.try_lock() {
        Ok(()) => {
            // A stale lock of a dead owner: this process holds it now, and nobody needs it.
            let _ = std::fs::remove_file(&path);
            false
        }
        Err(TryLockError::WouldBlock) => true,
        Err(TryLockError::Error(error)) => {
            tracing::debug!(%error, path = %path.display(), "cannot try a run lock; taking its owner for alive");
            true
        }
    }
}

fn lock_path(dir: &Path, run: RunId) -> PathBuf {
    dir.join(format!("{run}.lock"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_held_lock_says_alive_and_a_released_one_says_gone() -> Result<(), Box<dyn std::error::Error>> {
        let directory = tempfile::TempDir::new()?;
        let run = RunId::new();
        assert!(!owner_is_alive(directory.path(), run), "no lock file: no owner");
        let lock = RunLock::acquire(directory.path(), run)?;
        assert!(owner_is_alive(directory.path(), run));
        drop(lock);
        assert!(!owner_is_alive(directory.path(), run));
        // A file left behind by a dead owner (nobody holds it) is no owner either.
        std::fs::write(lock_path(directory.path(), run), b"")?;
        assert!(!owner_is_alive(directory.path(), run));
        Ok(())
    }
}
