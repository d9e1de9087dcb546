//! The run database: saved targets, price overrides, and every run with its prompts, responses
//! and stream events.
//!
//! One SQLite file in WAL mode, so the CLI and the desktop app can read it while a run writes.
//! Writes from a run go through [`StoreWriter`], a single thread that batches them, so streaming
//! never waits on disk; reads and saved-target edits use the store's own connection and answer
//! at once. The schema lives in timestamped migration files (see `migrations`).
//!
//! Each table has its file in `store/`: `runs` (listing, loading, short ids, repairing runs whose
//! process died), `responses` (responses and their stream events), `targets` (saved targets) and
//! `price_overrides`. Searching the history lives in `search`, deleting runs and giving their
//! space back in `deletion`, every write of a run in `writer`, and a session's rows copied into a
//! database of their own for evidence bundles, with a digest of every table, in `evidence`.
//!
//! Left out on purpose: secrets (targets hold key references only), and costs and metrics
//! (computed elsewhere from what is stored here).

mod deletion;
pub mod evidence;
mod judges;
mod migrations;
mod panels;
mod price_overrides;
mod replay;
mod responses;
mod run_lock;
mod runs;
mod search;
mod sessions;
pub mod synthetic;
mod targets;
#[cfg(test)]
mod tests;
mod writer;

use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use rusqlite::{Connection, TransactionBehavior};
use serde::Serialize;
use serde::de::DeserializeOwned;

pub use deletion::{DatabaseSpace, Pruned};
pub use judges::JudgeRow;
pub use panels::{PacketRow, PanelItemRow, PanelRow, RatingRow};
pub use responses::StoredEvent;
pub use runs::{RunStatus, RunSummary, StoredRun};
pub use search::{RANK_WINDOW, SearchHit, SearchHitKind};
pub use sessions::{SessionRow, SessionSummary, StoredSuite};
pub use writer::StoreWriter;
// What the table files share with each other and with `writer`, `search` and `deletion`, which
// reach it as `super::…`.
use responses::{
    RESPONSE_STATUS_COMPLETE, RESPONSE_STATUS_INCOMPLETE, RESPONSE_STATUS_RUNNING, UNFINISHED_AT_RUN_END,
    finish_unfinished_responses,
};
use runs::{read_run_summaries, repair_dead_runs};

use crate::model::error::{Error, Result};
use crate::model::record::RunId;

/// How long a connection waits for another to release the write lock (another ModelBench process
/// writing its own run) before giving up.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// How long dropping the store waits for its pending writes to commit. Bounded, so a stuck disk
/// cannot hang shutdown.
const DROP_WAIT: Duration = Duration::from_secs(10);

/// The database. Share it behind an `Arc`; reads take turns on one connection.
///
/// Dropping it blocks (ten seconds at most) until what its writers sent has been committed.
pub struct Store {
    path: PathBuf,
    /// Where running runs keep their lock files (see `run_lock`).
    lock_dir: PathBuf,
    /// For reads and for the few writes that need an answer (saved targets).
    connection: Mutex<Connection>,
    writer: StoreWriter,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("Store")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

/// The database's file name inside the data directory.
pub const DATABASE_FILE: &str = "modelbench.db";

/// The platform's data directory for ModelBench, shared by the CLI and the desktop app (the
/// `MODELBENCH_DATA_DIR` environment variable and `--data-dir` are checked by the callers).
/// `None` when the platform has no home directory to put it under.
pub fn default_data_dir() -> Option<PathBuf> {
    directories::ProjectDirs::from("dev", "ModelBench", "modelbench").map(|dirs| dirs.data_dir().to_path_buf())
}

impl Store {
    /// Opens the database at `path`, creating it and its folder if needed, applies pending
    /// migrations and starts the writer thread.
    pub fn open(path: &Path) -> Result<Store> {
        Self::open_unchecked(path).map_err(|error| damaged(path, error))
    }

    fn open_unchecked(path: &Path) -> Result<Store> {
        if let Some(parent) = path.parent()
            && !parent.as_os_str().is_empty()
        {
            std::fs::create_dir_all(parent)?;
        }
        let mut writer_connection = open_connection(path)?;
        migrations::apply(&mut writer_connection)?;
        let lock_dir = path
            .parent()
            .filter(|parent| !parent.as_os_str().is_empty())
            .unwrap_or(Path::new("."))
            .join(run_lock::RUN_LOCKS_DIR);
        // A reader must never be refused because the database cannot be written just now.
        match repair_dead_runs(&mut writer_connection, &lock_dir) {
            Ok(0) => {}
            Ok(repaired) => tracing::info!(repaired, "marked runs whose process had stopped as interrupted"),
            Err(error) => tracing::warn!(%error, "cannot mark dead runs as interrupted now"),
        }
        let connection = open_connection(path)?;
        tune_for_streaming(&writer_connection)?;
        let writer = StoreWriter::spawn(writer_connection, lock_dir.clone())?;
        Ok(Store {
            path: path.to_owned(),
            lock_dir,
            connection: Mutex::new(connection),
            writer,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// A handle for the runner's writes; cheap to clone.
    pub fn writer(&self) -> StoreWriter {
        self.writer.clone()
    }

    /// Checks, before a run spends money, that its results can be kept: the file is not
    /// malformed (`PRAGMA quick_check`), and a run's rows can be written in this schema (a run,
    /// a response and an event inserted in a transaction that is rolled back). The error names
    /// the file and what to do.
    pub fn check_ready_for_run(&self) -> Result<()> {
        let path = self.path.display();
        let mut connection = self.connection();
        let verdict: String = connection
            .query_row("PRAGMA quick_check(1)", [], |row| row.get(0))
            .map_err(|error| {
                Error::Storage(format!(
                    "{path} cannot be checked ({error}); it may be damaged: restore a backup, or rescue what \
                     it holds with `sqlite3 {path} .recover | sqlite3 recovered.db`"
                ))
            })?;
        if verdict != "ok" {
            return Err(Error::Storage(format!(
                "{path} is damaged ({verdict}); nothing was sent. Restore a backup, or rescue what it holds \
                 with `sqlite3 {path} .recover | sqlite3 recovered.db` and use the result as modelbench.db"
            )));
        }
        let mut probe = || -> rusqlite::Result<()> {
            let transaction = connection.transaction_with_behavior(TransactionBehavior::Immediate)?;
            transaction.execute(
                "INSERT INTO runs (id, started_at_ms, status, parameters_json, targets_json, repeat, prompt_count,
                     response_count) VALUES ('write-probe', 0, 'probe', '{}', '[]', 1, 0, 0)",
                [],
            )?;
            transaction.execute(
                "INSERT INTO responses (run_id, prompt_index, target_index, repeat_index, target, provider, model,
                     status, started_at_ms) VALUES ('write-probe', 0, 0, 0, '', '', '', 'running', 0)",
                [],
            )?;
            transaction.execute(
                "INSERT INTO response_event_chunks (response_id, first_sequence, events_json)
                 VALUES (last_insert_rowid(), 0, '[[0,0,0,\"probe\",{}]]')",
                [],
            )?;
            // Dropped without a commit: rolled back.
            Ok(())
        };
        probe().map_err(|error| {
            Error::Storage(format!(
                "{path} cannot store a run ({error}); nothing was sent. Check that the file and its folder \
                 are writable, that the disk has room, and that no other program holds the database locked"
            ))
        })
    }

    /// Moves everything in the write-ahead log into the database file and empties the log, so
    /// `modelbench.db` alone holds the data (a copy or backup of just that file is complete).
    /// Waits for this store's pending writes first. Best effort: another process reading or
    /// writing the database just now makes it a partial checkpoint, which is fine.
    pub fn checkpoint(&self) {
        if !self.writer.wait_until_committed(DROP_WAIT) {
            return;
        }
        let connection = self.connection();
        // Not the full busy timeout: a busy database only means someone else will checkpoint.
        let _ = connection.busy_timeout(Duration::from_millis(250));
        let result = connection.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |row| {
            Ok((row.get::<_, i64>(0)?, row.get::<_, i64>(1)?, row.get::<_, i64>(2)?))
        });
        let _ = connection.busy_timeout(BUSY_TIMEOUT);
        match result {
            Ok((0, _, _)) => {}
            Ok(_) => tracing::debug!("the WAL checkpoint was partial: another connection is using the database"),
            Err(error) => tracing::debug!(%error, "cannot checkpoint the WAL"),
        }
    }

    /// How many stream events are stored, over all runs (the benchmark checks nothing was dropped).
    pub fn count_events(&self) -> Result<u64> {
        let count: i64 = self.connection().query_row(
            "SELECT coalesce(sum(json_array_length(events_json)), 0) FROM response_event_chunks",
            [],
            |row| row.get(0),
        )?;
        Ok(u64::try_from(count).unwrap_or(0))
    }

    /// The DDL of every table, index and trigger, sorted by name and separated by blank lines.
    /// FTS5's own shadow tables are left out: SQLite, not this schema, decides their shape.
    pub fn schema_sql(&self) -> Result<String> {
        let connection = self.connection();
        let mut statement = connection.prepare(
            "SELECT object.sql FROM sqlite_master AS object
             WHERE object.sql IS NOT NULL
               AND object.name NOT LIKE 'sqlite\\_%' ESCAPE '\\'
               AND NOT EXISTS (
                   SELECT 1 FROM sqlite_master AS virtual
                   WHERE virtual.sql LIKE 'CREATE VIRTUAL TABLE%'
                     AND object.name LIKE replace(virtual.name, '_', '\\_') || '\\_%' ESCAPE '\\'
               )
             ORDER BY object.name",
        )?;
        let statements = statement
            .query_map([], |row| row.get::<_, String>(0))?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        Ok(statements
            .iter()
            .map(|sql| format!("{sql};\n"))
            .collect::<Vec<_>>()
            .join("\n"))
    }

    fn connection(&self) -> MutexGuard<'_, Connection> {
        // A panic while the lock was held cannot leave the connection half-changed: an open
        // transaction rolls back when dropped. So a poisoned lock is still safe to use.
        self.connection.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Drop for Store {
    fn drop(&mut self) {
        // Runner tasks may still hold writers, so the writer thread can outlive the store; but
        // whoever drops the store (a CLI about to exit) expects what it sent to be on disk.
        if !self.writer.wait_until_committed(DROP_WAIT) {
            tracing::warn!(path = %self.path.display(), "closing the store before its pending writes were confirmed");
        }
    }
}

fn open_connection(path: &Path) -> Result<Connection> {
    let connection =
        Connection::open(path).map_err(|error| Error::Storage(format!("cannot open {}: {error}", path.display())))?;
    connection.busy_timeout(BUSY_TIMEOUT)?;
    // Only a new, empty file takes this (and only before WAL mode is set, which writes its first
    // page): deleted runs then give their pages back to the disk (`incremental_vacuum`). It is
    // set on a new file only: on an existing one the pragma rewrites the header page at every
    // open, so a command that only reads would still write (`Store::compact` switches an older
    // file over with its VACUUM).
    let page_count: i64 = connection.query_row("PRAGMA page_count", [], |row| row.get(0))?;
    if page_count == 0 {
        connection.pragma_update(None, "auto_vacuum", "INCREMENTAL")?;
    }
    connection.pragma_update(None, "foreign_keys", true)?;
    let journal_mode: String = connection.pragma_update_and_check(None, "journal_mode", "wal", |row| row.get(0))?;
    if !journal_mode.eq_ignore_ascii_case("wal") {
        // Some file systems (network shares) cannot do WAL; the store still works, with readers
        // and the writer taking turns.
        tracing::warn!(path = %path.display(), %journal_mode, "the database could not switch to WAL mode");
    }
    // In WAL mode NORMAL only risks the last commits on power loss, never corruption, and spares
    // an fsync per batch.
    connection.pragma_update(None, "synchronous", "NORMAL")?;
    connection.set_prepared_statement_cache_capacity(32);
    Ok(connection)
}

/// The writer's connection takes a thousand interleaved streams: every commit touches one page
/// per open response (events are keyed by response), so it checkpoints the WAL less often and a
/// page changed by many commits is copied back once (the WAL is cut back to
/// `journal_size_limit` after each checkpoint). Its page cache follows the number of open
/// responses (see the writer), so memory depends on concurrency, not on a run's length.
fn tune_for_streaming(connection: &Connection) -> Result<()> {
    connection.pragma_update(None, "wal_autocheckpoint", WRITER_CHECKPOINT_PAGES)?;
    connection.pragma_update(None, "journal_size_limit", 64_i64 << 20)?;
    Ok(())
}

/// Pages in the WAL before the writer checkpoints it (SQLite's default is 1,000).
const WRITER_CHECKPOINT_PAGES: i64 = 8_192;

fn to_json<T: Serialize + ?Sized>(value: &T, what: &str) -> Result<String> {
    serde_json::to_string(value).map_err(|error| Error::Storage(format!("cannot serialise {what}: {error}")))
}

fn from_json<T: DeserializeOwned>(text: &str, what: &str) -> Result<T> {
    serde_json::from_str(text).map_err(|error| Error::Storage(format!("stored {what} is unreadable: {error}")))
}

/// A file SQLite finds damaged while opening it gets the same way out as one `check_ready_for_run`
/// finds damaged: what to do, naming the file.
fn damaged(path: &Path, error: Error) -> Error {
    let corrupt = matches!(
        &error,
        Error::Database(rusqlite::Error::SqliteFailure(failure, _))
            if matches!(failure.code, rusqlite::ErrorCode::DatabaseCorrupt | rusqlite::ErrorCode::NotADatabase)
    );
    if !corrupt {
        return error;
    }
    let path = path.display();
    Error::Storage(format!(
        "{path} is damaged ({error}). Restore a backup, or rescue what it holds with \
         `sqlite3 {path} .recover | sqlite3 recovered.db` and use the result as modelbench.db"
    ))
}

fn parse_run_id(text: &str) -> Result<RunId> {
    text.parse()
        .map_err(|error| Error::Storage(format!("stored run id '{text}' is unreadable: {error}")))
}
