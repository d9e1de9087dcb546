//! The `runs` table: the run list, a run loaded whole, short run ids, and runs whose process
//! died marked as interrupted.
//!
//! Left out: writing runs (`writer`), their responses and events (`responses`), searching them
//! (`search`) and deleting them (`deletion`).

use std::fmt;
use std::path::Path;

use rusqlite::types::{FromSql, FromSqlError, FromSqlResult, ToSql, ToSqlOutput, ValueRef};
use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};
use serde::{Deserialize, Serialize};
use ts_rs::TS;

use super::responses::{finish_unfinished_responses, visit_responses};
use super::{Store, from_json, parse_run_id, run_lock};
use crate::model::error::{Error, Result};
use crate::model::record::{ResponseRecord, RunId, RunRecord};
use crate::model::request::Prompt;

/// Where a run is, as `runs.status` holds it (the column keeps its text; this is its vocabulary).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, TS)]
#[serde(rename_all = "snake_case")]
#[ts(export)]
pub enum RunStatus {
    /// The run is going (and forever, if its process died and no open has noticed yet).
    Running,
    Completed,
    Cancelled,
    /// A run whose process stopped (killed, crashed) before recording its end, found so by a
    /// later open of the database: its unfinished responses were ended as incomplete, their
    /// partial output kept.
    Interrupted,
}

impl RunStatus {
    pub const ALL: [Self; 4] = [Self::Running, Self::Completed, Self::Cancelled, Self::Interrupted];

    /// The text in `runs.status` and on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Running => "running",
            Self::Completed => "completed",
            Self::Cancelled => "cancelled",
            Self::Interrupted => "interrupted",
        }
    }

    pub fn parse(value: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|status| status.as_str() == value)
    }
}

impl fmt::Display for RunStatus {
    // `pad`, not `write_str`: the run list aligns the status in a column (`{:<11}`).
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.pad(self.as_str())
    }
}

impl ToSql for RunStatus {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(ToSqlOutput::from(self.as_str()))
    }
}

impl FromSql for RunStatus {
    fn column_result(value: ValueRef<'_>) -> FromSqlResult<Self> {
        let text = value.as_str()?;
        // No CHECK constraint holds the column to these: a status this build does not know (a
        // newer build's, a hand edit) is refused by name rather than shown as something else.
        Self::parse(text).ok_or_else(|| FromSqlError::Other(format!("unknown run status '{text}'").into()))
    }
}

/// Why a response left `running` by a process that died is incomplete.
const INTERRUPTED_BY_EXIT: &str = "the process running this run stopped (killed, crashed or lost power) \
     before this response finished; what had arrived is kept";
/// Short run ids are prefixes; fewer characters than this would match too much to be useful.
const MIN_RUN_ID_PREFIX: usize = 4;

/// One line of the run list.
#[derive(Clone, Debug, PartialEq, Serialize, TS)]
#[ts(export)]
pub struct RunSummary {
    pub id: RunId,
    pub started_at_ms: i64,
    pub finished_at_ms: Option<i64>,
    pub status: RunStatus,
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
    pub status: RunStatus,
    /// Responses the run asked for (prompts × targets × repeat); `responses` may hold fewer when
    /// the run was interrupted or cancelled before sending them all.
    pub planned_count: u32,
    /// Ordered by prompt, target, repeat. A response that never finished (its process died, or
    /// the run is still going) comes back rebuilt from its events, with `complete` false.
    pub responses: Vec<ResponseRecord>,
}

impl Store {
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
        let mut responses = Vec::new();
        let run = self.load_run_visiting(id, &mut |response| {
            responses.push(response);
            Ok(())
        })?;
        Ok(run.map(|run| StoredRun { responses, ..run }))
    }

    /// A run with its responses handed to `visit` one by one, in the order of
    /// [`StoredRun::responses`], instead of kept: the returned run's `responses` is empty. For
    /// readers that fold a large run (a session's analysis) without holding every answer.
    pub fn load_run_visiting(
        &self,
        id: RunId,
        visit: &mut dyn FnMut(ResponseRecord) -> Result<()>,
    ) -> Result<Option<StoredRun>> {
        self.load_run_with(id, Some(visit))
    }

    /// A run without its responses (`responses` is empty): its targets, prompts and status.
    pub fn load_run_header(&self, id: RunId) -> Result<Option<StoredRun>> {
        self.load_run_with(id, None)
    }

    fn load_run_with(
        &self,
        id: RunId,
        visit: Option<&mut dyn FnMut(ResponseRecord) -> Result<()>>,
    ) -> Result<Option<StoredRun>> {
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
                            row.get::<_, RunStatus>(2)?,
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

        if let Some(visit) = visit {
            visit_responses(&transaction, &run_id, visit)?;
        }

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
            responses: Vec::new(),
        }))
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
}

/// The summaries of the runs `SELECT … {from_and_order}` finds, in its order; `from_and_order`
/// names the `runs` table as `runs`. Each run's counts are a query of their own, so this is for
/// a page of runs, not for all of them.
pub(super) fn read_run_summaries(
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
pub(super) fn repair_dead_runs(connection: &mut Connection, lock_dir: &Path) -> Result<usize> {
    let running = |connection: &Connection| -> Result<Vec<RunId>> {
        // The status written out, not bound: only then can SQLite use the partial index
        // `runs_running` instead of reading every run (this runs at every open and every list).
        let mut statement =
            connection.prepare_cached(&format!("SELECT id FROM runs WHERE status = '{}'", RunStatus::Running))?;
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
            params![RunStatus::Interrupted, run.to_string()],
        )?;
        repaired += 1;
    }
    transaction.commit()?;
    Ok(repaired)
}

/// Just the name of a stored target, so listing runs neither parses nor depends on the rest.
#[derive(Deserialize)]
struct TargetName {
    name: String,
}
