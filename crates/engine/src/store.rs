//! The run database: saved targets, price overrides, and every run with its prompts, responses
//! and stream events.
//!
//! One SQLite file in WAL mode, so the CLI and the desktop app can read it while a run writes.
//! Writes from a run go through [`StoreWriter`], a single thread that batches them, so streaming
//! never waits on disk; reads and saved-target edits use the store's own connection and answer
//! at once. The schema lives in timestamped migration files (see `migrations`).
//!
//! Searching the history lives in `search`, deleting runs and giving their space back in
//! `deletion`.
//!
//! Left out on purpose: secrets (targets hold key references only), and costs and metrics
//! (computed elsewhere from what is stored here).

mod deletion;
mod migrations;
mod replay;
mod run_lock;
mod search;
pub mod synthetic;
mod writer;

use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use rusqlite::{Connection, OptionalExtension, Row, TransactionBehavior, params};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use ts_rs::TS;

pub use deletion::{DatabaseSpace, Pruned};
pub use search::RANK_WINDOW;
pub use writer::StoreWriter;

use crate::model::error::{Error, Result};
use crate::model::event::{FinishReason, ResponseKey, StreamEvent, Usage};
use crate::model::record::{Metrics, ResponseRecord, RunId, RunRecord, now_unix_ms};
use crate::model::request::Prompt;
use crate::model::target::{ProviderKind, Target};
use crate::pricing::{PriceOverride, Rates};

/// `runs.status` while the run is going (and forever, if its process died).
pub const RUN_STATUS_RUNNING: &str = "running";
pub const RUN_STATUS_COMPLETED: &str = "completed";
pub const RUN_STATUS_CANCELLED: &str = "cancelled";
/// A run whose process stopped (killed, crashed) before recording its end, found so by a later
/// open of the database: its unfinished responses were ended as incomplete, their partial
/// output kept.
pub const RUN_STATUS_INTERRUPTED: &str = "interrupted";

/// Why a response left `running` by a process that died is incomplete.
const INTERRUPTED_BY_EXIT: &str = "the process running this run stopped (killed, crashed or lost power) \
     before this response finished; what had arrived is kept";
/// Why a response still `running` when its own run ended is incomplete.
const UNFINISHED_AT_RUN_END: &str = "the end of this response could not be stored; what had arrived is kept";

/// `responses.status`: the store's own vocabulary, derived from what the runner reports.
const RESPONSE_STATUS_RUNNING: &str = "running";
const RESPONSE_STATUS_COMPLETE: &str = "complete";
const RESPONSE_STATUS_INCOMPLETE: &str = "incomplete";

/// How long a connection waits for another to release the write lock (another ModelBench process
/// writing its own run) before giving up.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// How long dropping the store waits for its pending writes to commit. Bounded, so a stuck disk
/// cannot hang shutdown.
const DROP_WAIT: Duration = Duration::from_secs(10);

/// Short run ids are prefixes; fewer characters than this would match too much to be useful.
const MIN_RUN_ID_PREFIX: usize = 4;

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

/// One line of the run list.
#[derive(Clone, Debug, PartialEq, Serialize, TS)]
#[ts(export)]
pub struct RunSummary {
    pub id: RunId,
    pub started_at_ms: i64,
    pub finished_at_ms: Option<i64>,
    pub status: String,
    /// The first prompt's last user turn.
    pub first_prompt: String,
    pub prompt_count: u32,
    pub target_names: Vec<String>,
    pub repeat: u32,
    /// Responses the run asked for: prompts × targets × repeat.
    pub response_count: u32,
    /// Responses that ended with an error and no output. Cancelled ones, ones never sent and
    /// partial ones are counted apart.
    pub failed_count: u32,
    pub complete_count: u32,
    /// Ended without completing, some output kept.
    pub partial_count: u32,
    /// Cancelled after they were sent, before any output.
    pub cancelled_count: u32,
    /// Planned but never sent: cancelled before their turn, or not reached when the run's
    /// process stopped.
    pub never_sent_count: u32,
    /// Still streaming (only while the run is going).
    pub running_count: u32,
}

/// A run as stored, with its responses.
#[derive(Clone, Debug, PartialEq, Serialize, TS)]
#[ts(export)]
pub struct StoredRun {
    pub record: RunRecord,
    pub finished_at_ms: Option<i64>,
    pub status: String,
    /// Responses the run asked for (prompts × targets × repeat); `responses` may hold fewer when
    /// the run was interrupted or cancelled before sending them all.
    pub planned_count: u32,
    /// Ordered by prompt, target, repeat. A response that never finished (its process died, or
    /// the run is still going) comes back rebuilt from its events, with `complete` false.
    pub responses: Vec<ResponseRecord>,
}

/// One stored stream event of a response.
#[derive(Clone, Debug, PartialEq, Serialize, TS)]
#[ts(export)]
pub struct StoredEvent {
    pub sequence: u64,
    pub attempt: u32,
    pub elapsed_us: u64,
    pub event: StreamEvent,
}

/// A full-text match.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, TS)]
#[ts(export)]
pub struct SearchHit {
    pub run_id: RunId,
    /// `"prompt"`, `"system"` or `"response"`.
    pub kind: String,
    /// The responding target; `None` for prompt and system text.
    pub target: Option<String>,
    pub prompt_index: u32,
    /// The matching passage, matches marked `[like this]`.
    pub snippet: String,
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
                "INSERT INTO response_events (response_id, sequence, attempt, elapsed_us, kind, payload_json)
                 VALUES (last_insert_rowid(), 0, 0, 0, 'probe', '{}')",
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
        let count: i64 = self
            .connection()
            .query_row("SELECT count(*) FROM response_events", [], |row| row.get(0))?;
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

    /// Saves `target` under its name, replacing a saved target of that name (which keeps its
    /// creation time).
    pub fn save_target(&self, target: &Target) -> Result<()> {
        let config_json = to_json(target, "target")?;
        let mut connection = self.connection();
        // IMMEDIATE takes the write lock up front, where the busy timeout applies, instead of
        // failing at once if the writer thread commits between this statement's read and write.
        let transaction = connection.transaction_with_behavior(TransactionBehavior::Immediate)?;
        transaction.execute(
            "INSERT INTO targets (name, provider, model, config_json, created_at_ms, updated_at_ms)
             VALUES (?1, ?2, ?3, ?4, ?5, ?5)
             ON CONFLICT (name) DO UPDATE SET
                 provider = excluded.provider,
                 model = excluded.model,
                 config_json = excluded.config_json,
                 updated_at_ms = excluded.updated_at_ms",
            params![
                target.name,
                target.provider.as_str(),
                target.model,
                config_json,
                now_unix_ms()
            ],
        )?;
        transaction.commit()?;
        Ok(())
    }

    /// Checks and saves `target`; when it was renamed from `original`, the old name goes away
    /// afterwards.
    pub fn rename_or_save_target(&self, target: &Target, original: Option<&str>) -> Result<()> {
        target.validate()?;
        self.save_target(target)?;
        if let Some(original) = original.filter(|original| *original != target.name) {
            self.remove_target(original)?;
        }
        Ok(())
    }

    /// Saved targets, ordered by name.
    pub fn list_targets(&self) -> Result<Vec<Target>> {
        let connection = self.connection();
        let mut statement = connection.prepare("SELECT config_json FROM targets ORDER BY name")?;
        let mut rows = statement.query([])?;
        let mut targets = Vec::new();
        while let Some(row) = rows.next()? {
            targets.push(from_json(&row.get::<_, String>(0)?, "target")?);
        }
        Ok(targets)
    }

    pub fn get_target(&self, name: &str) -> Result<Option<Target>> {
        let connection = self.connection();
        let config_json: Option<String> = connection
            .query_row("SELECT config_json FROM targets WHERE name = ?1", [name], |row| {
                row.get(0)
            })
            .optional()?;
        config_json.map(|text| from_json(&text, "target")).transpose()
    }

    /// Removes the saved target `name`; returns whether there was one.
    pub fn remove_target(&self, name: &str) -> Result<bool> {
        let mut connection = self.connection();
        let transaction = connection.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let removed = transaction.execute("DELETE FROM targets WHERE name = ?1", [name])?;
        transaction.commit()?;
        Ok(removed > 0)
    }

    /// The user's price overrides, ordered by provider, model and region.
    pub fn list_price_overrides(&self) -> Result<Vec<PriceOverride>> {
        let connection = self.connection();
        let mut statement = connection.prepare(
            "SELECT provider, model, region, currency, input_per_mtok, output_per_mtok,
                 cached_input_per_mtok, cache_write_per_mtok, reasoning_per_mtok, note, updated_at_ms
             FROM price_overrides ORDER BY provider, model, region",
        )?;
        let mut rows = statement.query([])?;
        let mut overrides = Vec::new();
        while let Some(row) = rows.next()? {
            let provider: String = row.get("provider")?;
            let region: String = row.get("region")?;
            overrides.push(PriceOverride {
                provider: ProviderKind::parse(&provider).ok_or_else(|| {
                    Error::Storage(format!("stored price override has unknown provider '{provider}'"))
                })?,
                model: row.get("model")?,
                region: Some(region).filter(|region| !region.is_empty()),
                currency: row.get("currency")?,
                rates: Rates {
                    input: row.get("input_per_mtok")?,
                    output: row.get("output_per_mtok")?,
                    cached_input: row.get("cached_input_per_mtok")?,
                    cache_write: row.get("cache_write_per_mtok")?,
                    reasoning: row.get("reasoning_per_mtok")?,
                },
                note: row.get("note")?,
                updated_at_ms: row.get("updated_at_ms")?,
            });
        }
        Ok(overrides)
    }

    /// Stores `price`, replacing the override for the same provider, model and region.
    pub fn set_price_override(&self, price: &PriceOverride) -> Result<()> {
        price.validate()?;
        let mut connection = self.connection();
        let transaction = connection.transaction_with_behavior(TransactionBehavior::Immediate)?;
        transaction.execute(
            "INSERT OR REPLACE INTO price_overrides (provider, model, region, currency, input_per_mtok,
                 output_per_mtok, cached_input_per_mtok, cache_write_per_mtok, reasoning_per_mtok, note,
                 updated_at_ms)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
            params![
                price.provider.as_str(),
                price.model,
                price.region.as_deref().unwrap_or_default(),
                price.currency,
                price.rates.input,
                price.rates.output,
                price.rates.cached_input,
                price.rates.cache_write,
                price.rates.reasoning,
                price.note,
                price.updated_at_ms,
            ],
        )?;
        transaction.commit()?;
        Ok(())
    }

    /// Removes the override for `provider`/`model` in `region` (`None`: the every-region one);
    /// returns whether there was one.
    pub fn unset_price_override(&self, provider: ProviderKind, model: &str, region: Option<&str>) -> Result<bool> {
        let mut connection = self.connection();
        let transaction = connection.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let removed = transaction.execute(
            "DELETE FROM price_overrides WHERE provider = ?1 AND model = ?2 AND region = ?3",
            params![provider.as_str(), model, region.unwrap_or_default()],
        )?;
        transaction.commit()?;
        Ok(removed > 0)
    }

    /// The `limit` most recent runs, newest first.
    pub fn list_runs(&self, limit: usize) -> Result<Vec<RunSummary>> {
        let mut connection = self.connection();
        // A store open for hours (the app) still shows a run that died meanwhile for what it is.
        if let Err(error) = repair_dead_runs(&mut connection, &self.lock_dir) {
            tracing::debug!(%error, "cannot mark dead runs as interrupted now");
        }
        read_run_summaries(
            &connection,
            "FROM runs ORDER BY runs.started_at_ms DESC, runs.id DESC LIMIT ?1",
            params![i64::try_from(limit).unwrap_or(i64::MAX)],
        )
    }

    /// The run `id` with its prompts and responses, or `None` if there is no such run.
    pub fn load_run(&self, id: RunId) -> Result<Option<StoredRun>> {
        let mut connection = self.connection();
        // One read transaction, so a run the writer is still filling in is seen at one moment.
        let transaction = connection.transaction()?;
        let run_id = id.to_string();
        let run = transaction
            .query_row(
                "SELECT started_at_ms, finished_at_ms, status, parameters_json, targets_json, repeat, response_count
                 FROM runs WHERE id = ?1",
                [&run_id],
                |row| {
                    Ok((
                        (
                            row.get::<_, i64>(0)?,
                            row.get::<_, Option<i64>>(1)?,
                            row.get::<_, String>(2)?,
                        ),
                        row.get::<_, String>(3)?,
                        row.get::<_, String>(4)?,
                        row.get::<_, u32>(5)?,
                        row.get::<_, u32>(6)?,
                    ))
                },
            )
            .optional()?;
        let Some(((started_at_ms, finished_at_ms, status), parameters_json, targets_json, repeat, planned_count)) = run
        else {
            return Ok(None);
        };

        let mut prompts = Vec::new();
        {
            let mut statement = transaction
                .prepare("SELECT system, messages_json FROM run_prompts WHERE run_id = ?1 ORDER BY prompt_index")?;
            let mut rows = statement.query([&run_id])?;
            while let Some(row) = rows.next()? {
                prompts.push(Prompt {
                    system: row.get(0)?,
                    messages: from_json(&row.get::<_, String>(1)?, "prompt messages")?,
                });
            }
        }

        let mut responses = Vec::new();
        visit_responses(&transaction, &run_id, &mut |response| {
            responses.push(response);
            Ok(())
        })?;

        Ok(Some(StoredRun {
            record: RunRecord {
                id,
                started_at_ms,
                parameters: from_json(&parameters_json, "run parameters")?,
                prompts,
                targets: from_json(&targets_json, "run targets")?,
                repeat,
            },
            finished_at_ms,
            status,
            planned_count,
            responses,
        }))
    }

    /// Hands each response of run `id` to `visit`, ordered by prompt, target and repeat, one at
    /// a time: what a run of any size is read back through, so no caller needs to hold them all.
    /// A response that never finished comes rebuilt from its events, as in [`Store::load_run`].
    pub fn for_each_response(&self, id: RunId, mut visit: impl FnMut(ResponseRecord) -> Result<()>) -> Result<()> {
        let mut connection = self.connection();
        let transaction = connection.transaction()?;
        visit_responses(&transaction, &id.to_string(), &mut visit)
    }

    /// Finds a run from a full id or a unique prefix of one (at least four characters), so users
    /// can type short ids. Ids are UUIDv7, whose leading characters are a timestamp: runs started
    /// within a minute of each other share their first eight.
    pub fn resolve_run_id(&self, text: &str) -> Result<Option<RunId>> {
        let text = text.trim().to_ascii_lowercase();
        let connection = self.connection();
        if let Ok(id) = text.parse::<RunId>() {
            let exists = connection
                .query_row("SELECT 1 FROM runs WHERE id = ?1", [id.to_string()], |_| Ok(()))
                .optional()?
                .is_some();
            return Ok(exists.then_some(id));
        }
        if text.chars().count() < MIN_RUN_ID_PREFIX {
            return Err(Error::InvalidInput(format!(
                "run id '{text}' is too short: give at least {MIN_RUN_ID_PREFIX} characters"
            )));
        }
        if !text
            .chars()
            .all(|character| character.is_ascii_hexdigit() || character == '-')
        {
            return Ok(None);
        }
        // The text is only hex digits and dashes, so it holds no GLOB wildcard.
        let mut statement = connection.prepare("SELECT id FROM runs WHERE id GLOB ?1 ORDER BY id LIMIT 2")?;
        let matches = statement
            .query_map([format!("{text}*")], |row| row.get::<_, String>(0))?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        match matches.as_slice() {
            [] => Ok(None),
            [only] => parse_run_id(only).map(Some),
            _ => Err(Error::InvalidInput(format!(
                "run id '{text}' matches more than one run: give more characters"
            ))),
        }
    }

    /// The stored events of one response, in sequence order (empty if there is no such response).
    pub fn load_events(&self, id: RunId, key: ResponseKey) -> Result<Vec<StoredEvent>> {
        let connection = self.connection();
        let response_id: Option<i64> = connection
            .query_row(
                "SELECT id FROM responses
                 WHERE run_id = ?1 AND prompt_index = ?2 AND target_index = ?3 AND repeat_index = ?4",
                params![id.to_string(), key.prompt_index, key.target_index, key.repeat_index],
                |row| row.get(0),
            )
            .optional()?;
        match response_id {
            Some(response_id) => events_of_response(&connection, response_id),
            None => Ok(Vec::new()),
        }
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

/// The columns [`response_from_row`] reads.
const RESPONSE_COLUMNS: &str = "id, run_id, prompt_index, target_index, repeat_index, target, provider, model, \
     status, request_id, reported_model, base_model, region, text, reasoning, tool_calls_json, finish_reason, \
     raw_finish_reason, input_tokens, output_tokens, reasoning_tokens, cached_input_tokens, \
     cache_creation_input_tokens, total_tokens, usage_raw_json, billed_input_tokens, billed_output_tokens, \
     time_to_first_token_ms, total_ms, \
     output_tokens_per_second, content_chunks, gap_p50_ms, gap_p95_ms, gap_max_ms, \
     server_latency_ms, server_first_byte_ms, cost_usd, cost_source, complete, error_json, attempts, unsupported_parameters_json, started_at_ms, finished_at_ms";

fn response_from_row(row: &Row<'_>) -> Result<ResponseRecord> {
    let usage_raw_json: Option<String> = row.get("usage_raw_json")?;
    let error_json: Option<String> = row.get("error_json")?;
    let finish_reason: Option<String> = row.get("finish_reason")?;
    let refusal = finish_reason.as_deref() == Some(FinishReason::Refusal.as_str());
    Ok(ResponseRecord {
        run_id: parse_run_id(&row.get::<_, String>("run_id")?)?,
        key: ResponseKey {
            prompt_index: row.get("prompt_index")?,
            target_index: row.get("target_index")?,
            repeat_index: row.get("repeat_index")?,
        },
        target: row.get("target")?,
        provider: row.get("provider")?,
        model: row.get("model")?,
        request_id: row.get("request_id")?,
        reported_model: row.get("reported_model")?,
        base_model: row.get("base_model")?,
        region: row.get("region")?,
        text: row.get("text")?,
        reasoning: row.get("reasoning")?,
        tool_calls: from_json(&row.get::<_, String>("tool_calls_json")?, "tool calls")?,
        // A newer ModelBench may know reasons this build does not; the raw reason is kept beside.
        finish_reason: finish_reason.map(|reason| FinishReason::parse(&reason).unwrap_or(FinishReason::Other)),
        raw_finish_reason: row.get("raw_finish_reason")?,
        billed_input_tokens: row.get("billed_input_tokens")?,
        billed_output_tokens: row.get("billed_output_tokens")?,
        refusal,
        usage: Usage {
            input_tokens: row.get("input_tokens")?,
            output_tokens: row.get("output_tokens")?,
            reasoning_tokens: row.get("reasoning_tokens")?,
            cached_input_tokens: row.get("cached_input_tokens")?,
            cache_creation_input_tokens: row.get("cache_creation_input_tokens")?,
            total_tokens: row.get("total_tokens")?,
            raw: usage_raw_json
                .map(|text| from_json(&text, "usage"))
                .transpose()?
                .unwrap_or_default(),
        },
        metrics: Metrics {
            time_to_first_token_ms: row.get("time_to_first_token_ms")?,
            total_ms: row.get::<_, Option<f64>>("total_ms")?.unwrap_or_default(),
            output_tokens_per_second: row.get("output_tokens_per_second")?,
            content_chunks: row.get("content_chunks")?,
            gap_p50_ms: row.get("gap_p50_ms")?,
            gap_p95_ms: row.get("gap_p95_ms")?,
            gap_max_ms: row.get("gap_max_ms")?,
            server_latency_ms: row.get("server_latency_ms")?,
            server_first_byte_ms: row.get("server_first_byte_ms")?,
        },
        cost_usd: row.get("cost_usd")?,
        cost_source: row.get("cost_source")?,
        complete: row.get("complete")?,
        error: error_json.map(|text| from_json(&text, "error")).transpose()?,
        attempts: row.get("attempts")?,
        unsupported_parameters: from_json(
            &row.get::<_, String>("unsupported_parameters_json")?,
            "unsupported parameters",
        )?,
        started_at_ms: row.get("started_at_ms")?,
        // A response that never finished has no end yet; replay fills in its last event's time.
        finished_at_ms: row.get::<_, Option<i64>>("finished_at_ms")?.unwrap_or_default(),
    })
}

/// The summaries of the runs `SELECT … {from_and_order}` finds, in its order; `from_and_order`
/// names the `runs` table as `runs`. Each run's counts are a query of their own, so this is for
/// a page of runs, not for all of them.
fn read_run_summaries(
    connection: &Connection,
    from_and_order: &str,
    parameters: impl rusqlite::Params,
) -> Result<Vec<RunSummary>> {
    let mut statement = connection.prepare_cached(&format!(
        "SELECT runs.id, runs.started_at_ms, runs.finished_at_ms, runs.status, runs.targets_json,
             runs.repeat, runs.prompt_count, runs.response_count,
             coalesce((SELECT user_text FROM run_prompts
                       WHERE run_prompts.run_id = runs.id ORDER BY prompt_index LIMIT 1), '')
                 AS first_prompt
         {from_and_order}"
    ))?;
    let mut rows = statement.query(parameters)?;
    let mut summaries = Vec::new();
    while let Some(row) = rows.next()? {
        let targets: Vec<TargetName> = from_json(&row.get::<_, String>("targets_json")?, "run targets")?;
        let counts = response_counts(connection, &row.get::<_, String>("id")?)?;
        summaries.push(RunSummary {
            id: parse_run_id(&row.get::<_, String>("id")?)?,
            started_at_ms: row.get("started_at_ms")?,
            finished_at_ms: row.get("finished_at_ms")?,
            status: row.get("status")?,
            first_prompt: row.get("first_prompt")?,
            prompt_count: row.get("prompt_count")?,
            target_names: targets.into_iter().map(|target| target.name).collect(),
            repeat: row.get("repeat")?,
            response_count: row.get("response_count")?,
            failed_count: counts.failed,
            complete_count: counts.complete,
            partial_count: counts.partial,
            cancelled_count: counts.cancelled,
            never_sent_count: row
                .get::<_, u32>("response_count")?
                .saturating_sub(counts.rows)
                .saturating_add(counts.never_sent_rows),
            running_count: counts.running,
        });
    }
    Ok(summaries)
}

/// How the stored responses of one run ended, counted in SQL.
struct ResponseCounts {
    rows: u32,
    complete: u32,
    running: u32,
    partial: u32,
    cancelled: u32,
    failed: u32,
    /// Rows of responses cancelled before they were sent (0 attempts; older builds said so in
    /// the message only).
    never_sent_rows: u32,
}

fn response_counts(connection: &Connection, run_id: &str) -> Result<ResponseCounts> {
    Ok(connection
        .prepare_cached(
            "SELECT count(*),
             coalesce(sum(status = 'complete'), 0),
             coalesce(sum(status = 'running'), 0),
             coalesce(sum(status = 'incomplete' AND NOT never_sent AND has_output), 0),
             coalesce(sum(status = 'incomplete' AND NOT never_sent AND NOT has_output
                          AND coalesce(error_kind, '') = 'cancelled'), 0),
             coalesce(sum(status = 'incomplete' AND NOT never_sent AND NOT has_output
                          AND coalesce(error_kind, '') <> 'cancelled'), 0),
             coalesce(sum(status = 'incomplete' AND never_sent), 0)
         FROM (SELECT status, error_kind,
                   (attempts = 0 OR coalesce(error_message, '') = 'cancelled before it started') AS never_sent,
                   (text <> '' OR reasoning <> '' OR tool_calls_json <> '[]') AS has_output
               FROM responses WHERE run_id = ?1)",
        )?
        .query_row([run_id], |row| {
            Ok(ResponseCounts {
                rows: row.get(0)?,
                complete: row.get(1)?,
                running: row.get(2)?,
                partial: row.get(3)?,
                cancelled: row.get(4)?,
                failed: row.get(5)?,
                never_sent_rows: row.get(6)?,
            })
        })?)
}

/// Marks the `running` runs whose owning process is gone (see `run_lock`) as interrupted: their
/// unfinished responses end as incomplete with their partial output (searchable from then on),
/// and the run gets an end time. Returns how many runs it repaired.
fn repair_dead_runs(connection: &mut Connection, lock_dir: &Path) -> Result<usize> {
    let running = |connection: &Connection| -> Result<Vec<RunId>> {
        // The status written out, not bound: only then can SQLite use the partial index
        // `runs_running` instead of reading every run (this runs at every open and every list).
        let mut statement =
            connection.prepare_cached(&format!("SELECT id FROM runs WHERE status = '{RUN_STATUS_RUNNING}'"))?;
        let ids = statement
            .query_map([], |row| row.get::<_, String>(0))?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        ids.iter().map(|id| parse_run_id(id)).collect()
    };
    // Most opens find every running run alive (or none): they need no write lock.
    if running(connection)?
        .into_iter()
        .all(|run| run_lock::owner_is_alive(lock_dir, run))
    {
        return Ok(0);
    }
    let transaction = connection.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let mut repaired = 0;
    // Asked again under the write lock: an owner commits its run's end before releasing its
    // lock, so a run still `running` here whose lock is free has no owner.
    for run in running(&transaction)? {
        if run_lock::owner_is_alive(lock_dir, run) {
            continue;
        }
        finish_unfinished_responses(&transaction, run, INTERRUPTED_BY_EXIT)?;
        transaction.execute(
            "UPDATE runs SET status = ?1,
                 finished_at_ms = max(started_at_ms,
                     coalesce((SELECT max(finished_at_ms) FROM responses WHERE run_id = ?2), 0))
             WHERE id = ?2",
            params![RUN_STATUS_INTERRUPTED, run.to_string()],
        )?;
        repaired += 1;
    }
    transaction.commit()?;
    Ok(repaired)
}

/// Ends every response of `run` still marked `running` as incomplete, rebuilt from its events
/// (so its partial text is stored and indexed for search), with `reason` as its error when the
/// events hold none. Returns how many there were.
fn finish_unfinished_responses(connection: &Connection, run: RunId, reason: &str) -> Result<usize> {
    let mut unfinished = Vec::new();
    {
        let mut statement = connection.prepare_cached(&format!(
            "SELECT {RESPONSE_COLUMNS} FROM responses WHERE run_id = ?1 AND status = ?2"
        ))?;
        let mut rows = statement.query(params![run.to_string(), RESPONSE_STATUS_RUNNING])?;
        while let Some(row) = rows.next()? {
            let mut response = response_from_row(row)?;
            let events = events_of_response(connection, row.get("id")?)?;
            replay::fold_events(&mut response, &events);
            unfinished.push(response);
        }
    }
    for response in &mut unfinished {
        // An error the stream already reported (a timeout, a broken connection) says more.
        if response.error.is_none() {
            let mut error = crate::model::error::ProviderError::new(
                crate::model::error::ErrorKind::Interrupted,
                &response.provider,
                reason,
            );
            error.target.clone_from(&response.target);
            response.error = Some(error);
        }
        response.complete = false;
        if response.finished_at_ms == 0 {
            response.finished_at_ms = response.started_at_ms;
        }
        writer::upsert_response(connection, response)?;
    }
    Ok(unfinished.len())
}

/// Reads the responses of one run in order and hands each on; see [`Store::for_each_response`].
fn visit_responses(
    connection: &Connection,
    run_id: &str,
    visit: &mut dyn FnMut(ResponseRecord) -> Result<()>,
) -> Result<()> {
    let mut statement = connection.prepare(&format!(
        "SELECT {RESPONSE_COLUMNS} FROM responses WHERE run_id = ?1
         ORDER BY prompt_index, target_index, repeat_index"
    ))?;
    let mut rows = statement.query([run_id])?;
    while let Some(row) = rows.next()? {
        let mut response = response_from_row(row)?;
        if row.get::<_, String>("status")? == RESPONSE_STATUS_RUNNING {
            let events = events_of_response(connection, row.get("id")?)?;
            replay::fold_events(&mut response, &events);
        }
        visit(response)?;
    }
    Ok(())
}

fn events_of_response(connection: &Connection, response_id: i64) -> Result<Vec<StoredEvent>> {
    let mut statement = connection.prepare_cached(
        "SELECT sequence, attempt, elapsed_us, payload_json FROM response_events
         WHERE response_id = ?1 ORDER BY sequence",
    )?;
    let mut rows = statement.query([response_id])?;
    let mut events = Vec::new();
    while let Some(row) = rows.next()? {
        events.push(StoredEvent {
            sequence: row.get(0)?,
            attempt: row.get(1)?,
            elapsed_us: row.get(2)?,
            event: from_json(&row.get::<_, String>(3)?, "event")?,
        });
    }
    Ok(events)
}

/// Just the name of a stored target, so listing runs neither parses nor depends on the rest.
#[derive(Deserialize)]
struct TargetName {
    name: String,
}

fn to_json<T: Serialize + ?Sized>(value: &T, what: &str) -> Result<String> {
    serde_json::to_string(value).map_err(|error| Error::Storage(format!("cannot serialise {what}: {error}")))
}

fn from_json<T: DeserializeOwned>(text: &str, what: &str) -> Result<T> {
    serde_json::from_str(text).map_err(|error| Error::Storage(format!("stored {what} is unreadable: {error}")))
}

fn parse_run_id(text: &str) -> Result<RunId> {
    text.parse()
        .map_err(|error| Error::Storage(format!("stored run id '{text}' is unreadable: {error}")))
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use serde_json::json;
    use tempfile::TempDir;

    use super::*;
    use crate::model::error::ProviderError;
    use crate::model::event::{ResponseMeta, StampedEvent};
    use crate::model::record::ToolCall;
    use crate::model::request::{Message, Parameters, Role};
    use crate::model::target::ProviderKind;

    pub(super) type TestResult = std::result::Result<(), Box<dyn std::error::Error>>;

    pub(super) fn open_store() -> Result<(TempDir, Store)> {
        let directory = TempDir::new()?;
        // A nested folder, so `open` has to create it.
        let store = Store::open(&directory.path().join("data").join("modelbench.db"))?;
        Ok((directory, store))
    }

    fn sample_targets() -> Vec<Target> {
        let mut openai = Target::new("gpt", ProviderKind::OpenAi, "gpt-5.4");
        openai.base_url = Some("http://127.0.0.1:8787/v1".to_owned());
        let mut anthropic = Target::new("claude", ProviderKind::Anthropic, "claude-sonnet-4-5");
        anthropic.api_key_ref = Some("env:MY_ANTHROPIC_KEY".to_owned());
        anthropic.headers = BTreeMap::from([("x-route".to_owned(), "eu".to_owned())]);
        vec![openai, anthropic]
    }

    pub(super) fn sample_run() -> RunRecord {
        RunRecord {
            id: RunId::new(),
            started_at_ms: 1_790_000_000_000,
            parameters: Parameters {
                temperature: Some(0.2),
                top_p: None,
                max_output_tokens: Some(256),
                stop_sequences: vec!["END".to_owned()],
                seed: Some(7),
            },
            prompts: vec![
                Prompt::user("Explain the aurora borealis").with_system(Some("Answer like a pirate".to_owned())),
                Prompt {
                    system: None,
                    messages: vec![
                        Message {
                            role: Role::User,
                            content: "What is Rust?".to_owned(),
                        },
                        Message {
                            role: Role::Assistant,
                            content: "A programming language.".to_owned(),
                        },
                        Message {
                            role: Role::User,
                            content: "Why is it fast?".to_owned(),
                        },
                    ],
                },
            ],
            targets: sample_targets(),
            repeat: 2,
        }
    }

    pub(super) fn key(prompt_index: u32, target_index: u32, repeat_index: u32) -> ResponseKey {
        ResponseKey {
            prompt_index,
            target_index,
            repeat_index,
        }
    }

    pub(super) fn stamped(key: ResponseKey, sequence: u64, attempt: u32, event: StreamEvent) -> StampedEvent {
        StampedEvent {
            response_key: key,
            target: "gpt".to_owned(),
            attempt,
            sequence,
            elapsed_us: 1_000 + sequence * 2_500,
            event,
        }
    }

    /// A complete stream with every kind of event but an error.
    pub(super) fn sample_events(key: ResponseKey) -> Vec<StampedEvent> {
        let events = vec![
            StreamEvent::Started(ResponseMeta {
                request_id: Some("req_123".to_owned()),
                reported_model: Some("gpt-5.4-2026-01-01".to_owned()),
                region: Some("swedencentral".to_owned()),
            }),
            StreamEvent::ReasoningDelta {
                text: "Solar wind...".to_owned(),
            },
            StreamEvent::TextDelta {
                text: "Charged particles ".to_owned(),
            },
            StreamEvent::TextDelta {
                text: "make the sky glow.".to_owned(),
            },
            StreamEvent::ToolCallDelta {
                index: 0,
                id: Some("call_1".to_owned()),
                name: Some("lookup".to_owned()),
                arguments: "{\"q\":".to_owned(),
            },
            StreamEvent::ToolCallDelta {
                index: 0,
                id: None,
                name: None,
                arguments: "\"aurora\"}".to_owned(),
            },
            StreamEvent::Usage(Usage {
                input_tokens: Some(12),
                output_tokens: Some(9),
                reasoning_tokens: Some(3),
                cached_input_tokens: Some(0),
                cache_creation_input_tokens: None,
                total_tokens: Some(21),
                raw: json!({"prompt_tokens": 12, "completion_tokens": 9}),
            }),
            StreamEvent::Finished {
                reason: FinishReason::Stop,
                raw_reason: Some("stop".to_owned()),
            },
        ];
        events
            .into_iter()
            .zip(0..)
            .map(|(event, sequence)| stamped(key, sequence, 0, event))
            .collect()
    }

    /// The record the runner would build from [`sample_events`].
    pub(super) fn complete_response(run_id: RunId, key: ResponseKey) -> ResponseRecord {
        ResponseRecord {
            run_id,
            key,
            target: "gpt".to_owned(),
            provider: "openai".to_owned(),
            model: "gpt-5.4".to_owned(),
            request_id: Some("req_123".to_owned()),
            reported_model: Some("gpt-5.4-2026-01-01".to_owned()),
            base_model: Some("gpt-5.4".to_owned()),
            region: Some("swedencentral".to_owned()),
            text: "Charged particles make the sky glow.".to_owned(),
            reasoning: "Solar wind...".to_owned(),
            tool_calls: vec![ToolCall {
                index: 0,
                id: Some("call_1".to_owned()),
                name: Some("lookup".to_owned()),
                arguments: "{\"q\":\"aurora\"}".to_owned(),
            }],
            finish_reason: Some(FinishReason::Stop),
            raw_finish_reason: Some("stop".to_owned()),
            billed_input_tokens: None,
            billed_output_tokens: None,
            refusal: false,
            usage: Usage {
                input_tokens: Some(12),
                output_tokens: Some(9),
                reasoning_tokens: Some(3),
                cached_input_tokens: Some(0),
                cache_creation_input_tokens: None,
                total_tokens: Some(21),
                raw: json!({"prompt_tokens": 12, "completion_tokens": 9}),
            },
            metrics: Metrics {
                time_to_first_token_ms: Some(3.5),
                total_ms: 18.5,
                output_tokens_per_second: Some(612.25),
                content_chunks: 4,
                gap_p50_ms: Some(2.5),
                gap_p95_ms: Some(2.5),
                gap_max_ms: Some(2.5),
                server_latency_ms: Some(40.0),
                server_first_byte_ms: None,
            },
            cost_usd: Some(0.000_123),
            cost_source: Some("catalog".into()),
            complete: true,
            error: None,
            attempts: 1,
            unsupported_parameters: vec!["seed".to_owned()],
            started_at_ms: 1_790_000_000_010,
            finished_at_ms: 1_790_000_000_029,
        }
    }

    /// A response that failed before any content, after a retry.
    fn failed_response(run_id: RunId, key: ResponseKey) -> ResponseRecord {
        let mut error = ProviderError::from_cloud(
            "anthropic",
            Some(529),
            Some("overloaded_error".to_owned()),
            "Overloaded",
        );
        error.target = "claude".to_owned();
        error.retry_after_ms = Some(1_500);
        ResponseRecord {
            run_id,
            key,
            target: "claude".to_owned(),
            provider: "anthropic".to_owned(),
            model: "claude-sonnet-4-5".to_owned(),
            request_id: None,
            reported_model: None,
            base_model: None,
            region: None,
            text: String::new(),
            reasoning: String::new(),
            tool_calls: Vec::new(),
            finish_reason: None,
            raw_finish_reason: None,
            billed_input_tokens: None,
            billed_output_tokens: None,
            refusal: false,
            usage: Usage::default(),
            metrics: Metrics {
                total_ms: 812.0,
                ..Metrics::default()
            },
            cost_usd: None,
            cost_source: Some("no usage reported".into()),
            complete: false,
            error: Some(error),
            attempts: 2,
            unsupported_parameters: Vec::new(),
            started_at_ms: 1_790_000_000_011,
            finished_at_ms: 1_790_000_000_823,
        }
    }

    pub(super) fn count_rows(store: &Store, table: &str) -> Result<i64> {
        Ok(store
            .connection()
            .query_row(&format!("SELECT count(*) FROM {table}"), [], |row| row.get(0))?)
    }

    #[test]
    fn schema_matches_snapshot() -> TestResult {
        let (_directory, store) = open_store()?;
        insta::assert_snapshot!("schema", store.schema_sql()?);
        Ok(())
    }

    #[test]
    fn migrations_apply_once_in_wal_mode() -> TestResult {
        let directory = TempDir::new()?;
        let path = directory.path().join("modelbench.db");
        let applied_at = {
            let store = Store::open(&path)?;
            let connection = store.connection();
            let journal_mode: String = connection.query_row("PRAGMA journal_mode", [], |row| row.get(0))?;
            assert_eq!(journal_mode, "wal");
            let foreign_keys: bool = connection.query_row("PRAGMA foreign_keys", [], |row| row.get(0))?;
            assert!(foreign_keys);
            let rows: Vec<(String, i64)> = connection
                .prepare("SELECT version, applied_at_ms FROM schema_migrations")?
                .query_map([], |row| Ok((row.get(0)?, row.get(1)?)))?
                .collect::<rusqlite::Result<_>>()?;
            let versions: Vec<&str> = rows.iter().map(|(version, _)| version.as_str()).collect();
            assert_eq!(
                versions,
                super::migrations::MIGRATIONS
                    .iter()
                    .map(|migration| migration.version)
                    .collect::<Vec<_>>()
            );
            assert_eq!(rows[0].0, "20261124100000_initial");
            assert_eq!(rows[1].0, "20261125090000_server_timing_cost_prices");
            assert_eq!(rows[2].0, "20261207080000_billed_tokens");
            rows[0].1
        };

        let store = Store::open(&path)?;
        let applied_at_again: i64 = store.connection().query_row(
            "SELECT applied_at_ms FROM schema_migrations WHERE version = '20261124100000_initial'",
            [],
            |row| row.get(0),
        )?;
        assert_eq!(applied_at_again, applied_at);
        assert_eq!(
            count_rows(&store, "schema_migrations")? as usize,
            super::migrations::MIGRATIONS.len()
        );
        assert!(migrations::apply(&mut Connection::open(&path)?)?.is_empty());
        Ok(())
    }

    /// Flushes and barriers pass through the writer's queue count like writes do: once they
    /// were counted out but never in, the count wrapped below zero and every stream after a
    /// flush waited for room forever (a CLI run of a long recording hung).
    #[tokio::test]
    async fn flushes_never_leave_the_writer_without_room() -> TestResult {
        let (_directory, store) = open_store()?;
        let writer = store.writer();
        let run = sample_run();
        writer.run_started(&run);
        for _ in 0..3 {
            writer.flush().await?;
        }
        assert!(store.writer.wait_until_committed(Duration::from_secs(5)));
        tokio::time::timeout(Duration::from_secs(5), writer.wait_for_room())
            .await
            .map_err(|_| "wait_for_room never resolved after flushes")?;
        Ok(())
    }

    #[tokio::test]
    async fn a_run_round_trips() -> TestResult {
        let (_directory, store) = open_store()?;
        let writer = store.writer();
        let run = sample_run();
        let complete_key = key(0, 0, 0);
        let failed_key = key(0, 1, 0);

        writer.run_started(&run);
        writer.response_started(run.id, complete_key, "gpt", "openai", "gpt-5.4", 1_790_000_000_010);
        let events = sample_events(complete_key);
        for event in &events {
            writer.event(run.id, event);
        }
        writer.response_finished(&complete_response(run.id, complete_key));
        // This one never sent `response_started`: finishing inserts it.
        writer.response_finished(&failed_response(run.id, failed_key));
        writer.run_finished(run.id, 1_790_000_001_000, RUN_STATUS_COMPLETED);
        writer.flush().await?;

        let stored = store.load_run(run.id)?.ok_or("the run is missing")?;
        assert_eq!(stored.record, run);
        assert_eq!(stored.status, RUN_STATUS_COMPLETED);
        assert_eq!(stored.finished_at_ms, Some(1_790_000_001_000));
        assert_eq!(
            stored.responses,
            vec![
                complete_response(run.id, complete_key),
                failed_response(run.id, failed_key)
            ]
        );

        let stored_events = store.load_events(run.id, complete_key)?;
        let expected: Vec<StoredEvent> = events
            .into_iter()
            .map(|event| StoredEvent {
                sequence: event.sequence,
                attempt: event.attempt,
                elapsed_us: event.elapsed_us,
                event: event.event,
            })
            .collect();
        assert_eq!(stored_events, expected);
        assert!(store.load_events(run.id, key(1, 0, 0))?.is_empty());
        assert!(store.load_run(RunId::new())?.is_none());

        let summaries = store.list_runs(10)?;
        assert_eq!(
            summaries,
            vec![RunSummary {
                id: run.id,
                started_at_ms: run.started_at_ms,
                finished_at_ms: Some(1_790_000_001_000),
                status: RUN_STATUS_COMPLETED.to_owned(),
                first_prompt: "Explain the aurora borealis".to_owned(),
                prompt_count: 2,
                target_names: vec!["gpt".to_owned(), "claude".to_owned()],
                repeat: 2,
                response_count: 8,
                failed_count: 1,
                complete_count: 1,
                partial_count: 0,
                cancelled_count: 0,
                // Six of the eight planned responses have no row at all.
                never_sent_count: 6,
                running_count: 0,
            }]
        );
        Ok(())
    }

    #[tokio::test]
    async fn runs_are_listed_newest_first() -> TestResult {
        let (_directory, store) = open_store()?;
        let writer = store.writer();
        let mut older = sample_run();
        older.started_at_ms -= 60_000;
        let newer = sample_run();
        writer.run_started(&newer);
        writer.run_started(&older);
        writer.flush().await?;

        let ids: Vec<RunId> = store.list_runs(10)?.into_iter().map(|summary| summary.id).collect();
        assert_eq!(ids, vec![newer.id, older.id]);
        assert_eq!(store.list_runs(1)?.len(), 1);
        Ok(())
    }

    #[tokio::test]
    async fn a_crashed_response_keeps_its_partial_output() -> TestResult {
        let directory = TempDir::new()?;
        let path = directory.path().join("modelbench.db");
        let run = sample_run();
        let crashed_key = key(1, 0, 1);
        let events: Vec<StampedEvent> = sample_events(crashed_key).into_iter().take(4).collect();
        {
            let store = Store::open(&path)?;
            let writer = store.writer();
            writer.run_started(&run);
            writer.response_started(run.id, crashed_key, "gpt", "openai", "gpt-5.4", 1_790_000_000_010);
            for event in &events {
                writer.event(run.id, event);
            }
            // No flush, no finish: the process "dies" here, and dropping the store must still
            // commit what was sent.
        }

        // The writer thread lets go of the run's lock as it exits, just after its last commit.
        tokio::time::sleep(Duration::from_millis(200)).await;
        // The process that ran it is gone (its run lock went with it): opening the database
        // finds the run dead and ends it as interrupted, its partial response kept and indexed.
        let store = Store::open(&path)?;
        let stored = store.load_run(run.id)?.ok_or("the run is missing")?;
        assert_eq!(stored.status, RUN_STATUS_INTERRUPTED);
        assert_eq!(stored.finished_at_ms, Some(1_790_000_000_018));
        assert_eq!(stored.planned_count, 8);
        let [response] = stored.responses.as_slice() else {
            panic!("expected one response, got {:?}", stored.responses);
        };
        assert!(!response.complete);
        let error = response.error.as_ref().ok_or("an interrupted response says why")?;
        assert_eq!(error.kind, crate::model::error::ErrorKind::Interrupted);
        assert!(error.message.contains("process running this run stopped"), "{error}");
        let hits = store.search("particles glow", 10)?;
        assert_eq!(hits.len(), 1, "{hits:?}");
        assert_eq!(hits[0].kind, "response");
        let summary = &store.list_runs(1)?[0];
        assert_eq!(
            (
                summary.complete_count,
                summary.partial_count,
                summary.failed_count,
                summary.never_sent_count,
                summary.running_count
            ),
            (0, 1, 0, 7, 0)
        );
        assert_eq!(response.key, crashed_key);
        assert_eq!(response.request_id.as_deref(), Some("req_123"));
        assert_eq!(response.reasoning, "Solar wind...");
        assert_eq!(response.text, "Charged particles make the sky glow.");
        let milliseconds = |value: Option<f64>| value.map(|value| (value * 1_000.0).round() / 1_000.0);
        assert_eq!(response.metrics.content_chunks, 3);
        assert_eq!(milliseconds(response.metrics.time_to_first_token_ms), Some(3.5));
        assert_eq!(milliseconds(Some(response.metrics.total_ms)), Some(8.5));
        assert_eq!(milliseconds(response.metrics.gap_max_ms), Some(2.5));
        // Two chunks after the first, over 5 ms.
        assert_eq!(milliseconds(response.metrics.output_tokens_per_second), Some(400.0));
        assert_eq!(response.attempts, 1);
        assert_eq!(response.finished_at_ms, 1_790_000_000_018);
        assert_eq!(store.load_events(run.id, crashed_key)?.len(), events.len());
        Ok(())
    }

    #[tokio::test]
    async fn a_live_run_is_not_taken_for_dead() -> TestResult {
        let directory = TempDir::new()?;
        let path = directory.path().join("modelbench.db");
        let run = sample_run();
        let store = Store::open(&path)?;
        let writer = store.writer();
        writer.run_started(&run);
        writer.response_started(run.id, key(0, 0, 0), "gpt", "openai", "gpt-5.4", 1_790_000_000_010);
        writer.flush().await?;
        // Another process (here: another store) opening the database sees the owner's lock.
        let other = Store::open(&path)?;
        let stored = other.load_run(run.id)?.ok_or("the run is missing")?;
        assert_eq!(stored.status, RUN_STATUS_RUNNING);
        assert_eq!(other.list_runs(1)?[0].running_count, 1);
        // Once its end is committed the lock goes, and nothing is repaired.
        writer.run_finished(run.id, 1_790_000_009_000, RUN_STATUS_CANCELLED);
        writer.flush().await?;
        drop(other);
        let reopened = Store::open(&path)?;
        let stored = reopened.load_run(run.id)?.ok_or("the run is missing")?;
        assert_eq!(stored.status, RUN_STATUS_CANCELLED);
        // The response left unfinished under a finished run was ended, not left `running`.
        assert!(!stored.responses[0].complete);
        assert_eq!(reopened.list_runs(1)?[0].running_count, 0);
        Ok(())
    }

    #[tokio::test]
    async fn a_write_lock_held_past_the_busy_timeout_delays_writes_but_loses_none() -> TestResult {
        let directory = TempDir::new()?;
        let path = directory.path().join("modelbench.db");
        let store = Store::open(&path)?;
        let writer = store.writer();
        let run = sample_run();
        let response_key = key(0, 0, 0);
        writer.run_started(&run);
        writer.response_started(run.id, response_key, "gpt", "openai", "gpt-5.4", 1);
        writer.flush().await?;
        // Another program holds the write lock for longer than the busy timeout.
        let (locked, is_locked) = std::sync::mpsc::channel();
        let holder_path = path.clone();
        let holder = std::thread::spawn(move || -> rusqlite::Result<()> {
            let mut connection = Connection::open(holder_path)?;
            let transaction = connection.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let _ = locked.send(());
            let until = std::time::Instant::now() + BUSY_TIMEOUT + Duration::from_secs(2);
            while let Some(left) = until.checked_duration_since(std::time::Instant::now()) {
                std::thread::park_timeout(left);
            }
            transaction.commit()
        });
        is_locked.recv()?;
        for sequence in 0..50 {
            let event = StreamEvent::TextDelta {
                text: format!("token {sequence} "),
            };
            writer.event(run.id, &stamped(response_key, sequence, 0, event));
        }
        writer.flush().await?;
        holder.join().map_err(|_| "the lock holder panicked")??;
        assert_eq!(store.load_events(run.id, response_key)?.len(), 50);
        Ok(())
    }

    #[tokio::test]
    async fn search_finds_prompts_and_responses() -> TestResult {
        let (_directory, store) = open_store()?;
        let writer = store.writer();
        let run = sample_run();
        let response_key = key(0, 0, 0);
        writer.run_started(&run);
        writer.response_started(run.id, response_key, "gpt", "openai", "gpt-5.4", 1_790_000_000_010);
        let mut response = complete_response(run.id, response_key);
        response.text = "Les aurores boréales: the sky glows green".to_owned();
        writer.response_finished(&response);
        writer.flush().await?;

        let hits = store.search("aurora", 10)?;
        assert_eq!(
            hits,
            vec![SearchHit {
                run_id: run.id,
                kind: "prompt".to_owned(),
                target: None,
                prompt_index: 0,
                snippet: "Explain the [aurora] borealis".to_owned(),
            }]
        );

        let hits = store.search("pirate", 10)?;
        assert_eq!(hits.len(), 1);
        assert_eq!(hits[0].kind, "system");

        let hits = store.search("fast", 10)?;
        assert_eq!((hits.len(), hits[0].prompt_index), (1, 1));

        // Diacritics are folded: "boreales" finds "boréales".
        let hits = store.search("boreales GREEN", 10)?;
        assert_eq!(hits.len(), 1);
        assert_eq!(hits[0].kind, "response");
        assert_eq!(hits[0].target.as_deref(), Some("gpt"));
        assert_eq!(hits[0].run_id, run.id);
        assert_eq!(hits[0].snippet, "Les aurores [boréales]: the sky glows [green]");

        // A response finished again replaces its document instead of adding one.
        response.text = "Something else entirely".to_owned();
        writer.response_finished(&response);
        writer.flush().await?;
        assert!(store.search("green", 10)?.is_empty());
        assert_eq!(store.search("entirely", 10)?.len(), 1);

        // Punctuation inside a word is literal text, not FTS5 syntax.
        assert_eq!(store.search("aurora-borealis", 10)?.len(), 1);
        for hostile in [
            "foo-bar (",
            "\"",
            "\"\"\"",
            "'",
            "*",
            "aurora*",
            "NEAR(aurora borealis)",
            "AND",
            "OR NOT",
            "^aurora",
            "body:aurora",
            "{body kind}: aurora",
            "aurora\"",
            "-",
            "",
            "   ",
            "(((",
            "a\0b",
        ] {
            store.search(hostile, 10)?;
        }
        assert_eq!(store.search("aurora\"", 10)?.len(), 1);
        Ok(())
    }

    #[test]
    fn targets_are_saved_replaced_and_removed() -> TestResult {
        let (_directory, store) = open_store()?;
        let [gpt, claude] = <[Target; 2]>::try_from(sample_targets()).map_err(|_| "two targets")?;
        store.save_target(&gpt)?;
        store.save_target(&claude)?;
        assert_eq!(store.list_targets()?, vec![claude.clone(), gpt.clone()]);
        assert_eq!(store.get_target("gpt")?, Some(gpt.clone()));
        assert_eq!(store.get_target("missing")?, None);

        let created_at = |store: &Store| -> Result<(i64, i64)> {
            Ok(store
                .connection()
                .query_row("SELECT id, created_at_ms FROM targets WHERE name = 'gpt'", [], |row| {
                    Ok((row.get(0)?, row.get(1)?))
                })?)
        };
        let before = created_at(&store)?;
        store.connection().execute(
            "UPDATE targets SET created_at_ms = created_at_ms - 1000 WHERE name = 'gpt'",
            [],
        )?;
        let mut changed = gpt.clone();
        changed.model = "gpt-5.4-mini".to_owned();
        changed.label = Some("cheap".to_owned());
        store.save_target(&changed)?;
        assert_eq!(store.get_target("gpt")?, Some(changed.clone()));
        assert_eq!(store.list_targets()?.len(), 2);
        assert_eq!(created_at(&store)?, (before.0, before.1 - 1000));
        let model: String =
            store
                .connection()
                .query_row("SELECT model FROM targets WHERE name = 'gpt'", [], |row| row.get(0))?;
        assert_eq!(model, "gpt-5.4-mini");

        assert!(store.remove_target("gpt")?);
        assert!(!store.remove_target("gpt")?);
        assert_eq!(store.get_target("gpt")?, None);
        assert_eq!(store.list_targets()?, vec![claude]);
        Ok(())
    }

    #[test]
    fn price_overrides_are_set_replaced_listed_and_unset() -> TestResult {
        let (_directory, store) = open_store()?;
        let price = |region: Option<&str>, input: f64| PriceOverride {
            provider: ProviderKind::Bedrock,
            model: "anthropic.claude-opus-4-7".to_owned(),
            region: region.map(str::to_owned),
            currency: "USD".to_owned(),
            rates: Rates {
                input,
                output: 20.0,
                cached_input: Some(0.4),
                cache_write: None,
                reasoning: None,
            },
            note: Some("contract".to_owned()),
            updated_at_ms: 1_795_000_000_000,
        };
        store.set_price_override(&price(None, 4.0))?;
        store.set_price_override(&price(Some("eu-west-1"), 4.4))?;
        // Same provider, model and region: replaced, not added.
        store.set_price_override(&price(None, 3.5))?;
        assert_eq!(
            store.list_price_overrides()?,
            vec![price(None, 3.5), price(Some("eu-west-1"), 4.4)]
        );
        let invalid = PriceOverride {
            currency: "dollars".to_owned(),
            ..price(None, 1.0)
        };
        assert!(store.set_price_override(&invalid).is_err());
        assert!(store.set_price_override(&price(None, -1.0)).is_err());

        assert!(store.unset_price_override(ProviderKind::Bedrock, "anthropic.claude-opus-4-7", None)?);
        assert!(!store.unset_price_override(ProviderKind::Bedrock, "anthropic.claude-opus-4-7", None)?);
        assert_eq!(store.list_price_overrides()?, vec![price(Some("eu-west-1"), 4.4)]);
        Ok(())
    }

    #[tokio::test]
    async fn the_writer_keeps_up_with_a_flood_of_events() -> TestResult {
        let (_directory, store) = open_store()?;
        let writer = store.writer();
        let run = sample_run();
        writer.run_started(&run);
        let keys = [key(0, 0, 0), key(0, 1, 0), key(1, 0, 0), key(1, 1, 1)];
        for response_key in keys {
            writer.response_started(run.id, response_key, "gpt", "openai", "gpt-5.4", 1_790_000_000_010);
        }
        for sequence in 0..5_000 {
            for response_key in keys {
                let event = StreamEvent::TextDelta {
                    text: format!("token {sequence} "),
                };
                writer.event(run.id, &stamped(response_key, sequence, 0, event));
            }
        }
        writer.flush().await?;
        assert_eq!(count_rows(&store, "response_events")?, 20_000);
        assert_eq!(store.load_events(run.id, keys[3])?.len(), 5_000);
        Ok(())
    }

    #[tokio::test]
    async fn write_errors_reach_the_next_flush_and_spare_other_writes() -> TestResult {
        let (_directory, store) = open_store()?;
        let writer = store.writer();
        let run = sample_run();
        let orphan_key = key(1, 1, 1);
        writer.run_started(&run);
        // Neither of these has anything to attach to.
        writer.event(
            run.id,
            &stamped(orphan_key, 0, 0, StreamEvent::TextDelta { text: "x".to_owned() }),
        );
        writer.run_finished(RunId::new(), 1, RUN_STATUS_COMPLETED);
        // The same run twice breaks its primary key.
        writer.run_started(&run);
        writer.response_started(run.id, key(0, 0, 0), "gpt", "openai", "gpt-5.4", 1);
        writer.event(
            run.id,
            &stamped(key(0, 0, 0), 0, 0, StreamEvent::TextDelta { text: "ok".to_owned() }),
        );
        writer.run_finished(run.id, 2, RUN_STATUS_COMPLETED);

        let error = writer
            .flush()
            .await
            .expect_err("the failed writes are reported")
            .to_string();
        assert!(error.contains("no such response"), "{error}");
        assert!(error.contains("and 2 more failed writes"), "{error}");
        writer.flush().await?;

        let stored = store.load_run(run.id)?.ok_or("the run is missing")?;
        assert_eq!(stored.status, RUN_STATUS_COMPLETED);
        assert_eq!(stored.responses.len(), 1);
        assert_eq!(store.load_events(run.id, key(0, 0, 0))?.len(), 1);
        Ok(())
    }

    #[tokio::test]
    async fn run_ids_resolve_from_a_prefix() -> TestResult {
        let (_directory, store) = open_store()?;
        let writer = store.writer();
        let ids = [
            "01900000-0000-7000-8000-000000000001",
            "01900000-0000-7000-8000-000000000002",
            "01910000-0000-7000-8000-000000000003",
        ]
        .map(|text| text.parse::<RunId>());
        for id in &ids {
            let mut run = sample_run();
            run.id = id.clone()?;
            writer.run_started(&run);
        }
        writer.flush().await?;
        let [first, _, third] = ids.map(|id| id.ok());

        assert_eq!(store.resolve_run_id("0191")?, third);
        assert_eq!(store.resolve_run_id(" 01910000-0000 ")?, third);
        assert_eq!(store.resolve_run_id("01900000-0000-7000-8000-000000000001")?, first);
        assert_eq!(
            store.resolve_run_id("01900000-0000-7000-8000-000000000001".to_uppercase().as_str())?,
            first
        );
        assert_eq!(store.resolve_run_id("01900000000070008000000000000001")?, first);
        assert_eq!(store.resolve_run_id("01900000-0000-7000-8000-000000000009")?, None);
        assert_eq!(store.resolve_run_id("ffff")?, None);
        assert_eq!(store.resolve_run_id("zzzz*")?, None);
        let ambiguous = store.resolve_run_id("0190").expect_err("two runs share the prefix");
        assert!(ambiguous.to_string().contains("more than one run"), "{ambiguous}");
        assert!(store.resolve_run_id("019").is_err());
        Ok(())
    }

    #[tokio::test]
    async fn deleting_a_run_takes_its_rows_and_search_documents() -> TestResult {
        let (_directory, store) = open_store()?;
        let writer = store.writer();
        let kept = sample_run();
        let deleted = sample_run();
        for run in [&kept, &deleted] {
            writer.run_started(run);
            let response_key = key(0, 0, 0);
            writer.response_started(run.id, response_key, "gpt", "openai", "gpt-5.4", 1);
            for event in sample_events(response_key) {
                writer.event(run.id, &event);
            }
            writer.response_finished(&complete_response(run.id, response_key));
        }
        writer.flush().await?;
        assert_eq!(store.search("aurora", 10)?.len(), 2);
        assert_eq!(store.search("glow", 10)?.len(), 2);

        store
            .connection()
            .execute("DELETE FROM runs WHERE id = ?1", [deleted.id.to_string()])?;
        for query in ["aurora", "pirate", "fast", "glow"] {
            let runs: Vec<RunId> = store.search(query, 10)?.into_iter().map(|hit| hit.run_id).collect();
            assert_eq!(runs, vec![kept.id], "{query}");
        }
        assert_eq!(count_rows(&store, "responses")?, 1);
        assert_eq!(count_rows(&store, "response_events")?, 8);
        assert_eq!(count_rows(&store, "run_prompts")?, 2);
        assert!(store.load_run(kept.id)?.is_some());
        Ok(())
    }

    #[test]
    fn the_store_can_be_shared_between_threads() {
        fn assert_send_sync<T: Send + Sync>() {}
        assert_send_sync::<Store>();
        assert_send_sync::<StoreWriter>();
    }
}
