//! The `suites` and `sessions` tables: the suite a session ran, exactly (its text and referenced
//! files, by hash), and the session's options, status and why it stopped. A session's calls are
//! its run's responses (`sessions.id` is the run's id); deleting the run deletes the session.
//!
//! Left out: what a session computes (`session::analysis`) and how it runs (the workbench).

use rusqlite::{OptionalExtension, params};
use serde::Serialize;
use ts_rs::TS;

use super::{Store, parse_run_id};
use crate::model::error::{Error, Result};
use crate::model::record::{RunId, now_unix_ms};

/// A suite as stored: enough to load it again exactly as it ran.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct StoredSuite {
    pub hash: String,
    pub name: String,
    pub format: String,
    pub path: Option<String>,
    pub text: String,
    /// `[{path, text}]`: the referenced files in the order the hash covers them.
    pub files_json: String,
}

/// A `sessions` row.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct SessionRow {
    pub id: RunId,
    pub suite_hash: String,
    pub status: String,
    pub stop_reason: Option<String>,
    pub budget_usd: Option<f64>,
    pub options_json: String,
    pub case_ids: Vec<String>,
    pub created_at_ms: i64,
    pub finished_at_ms: Option<i64>,
}

/// One line of `session list`.
#[derive(Clone, Debug, PartialEq, Serialize, TS)]
#[ts(export)]
pub struct SessionSummary {
    pub id: RunId,
    pub created_at_ms: i64,
    pub finished_at_ms: Option<i64>,
    pub status: String,
    pub stop_reason: Option<String>,
    pub suite_name: String,
    pub suite_hash: String,
    pub budget_usd: Option<f64>,
    /// Calls the session plans: cases × targets × repeat.
    pub planned: u64,
    /// Responses stored so far.
    pub responses: u64,
}

fn suite_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<StoredSuite> {
    Ok(StoredSuite {
        hash: row.get(0)?,
        name: row.get(1)?,
        format: row.get(2)?,
        path: row.get(3)?,
        text: row.get(4)?,
        files_json: row.get(5)?,
    })
}

const SESSION_COLUMNS: &str =
    "id, suite_hash, status, stop_reason, budget_usd, options_json, case_ids_json, created_at_ms, finished_at_ms";

/// A `sessions` row as read: the row with its id and case ids still to parse, and their texts.
/// Parsing happens after the query so a damaged value is a storage error naming the session,
/// never a default (an empty list of cases would plan nothing and report a session as done).
fn session_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<(SessionRow, String, String)> {
    Ok((
        SessionRow {
            // Both replaced by `parse_session_row`.
            id: RunId(uuid::Uuid::nil()),
            case_ids: Vec::new(),
            suite_hash: row.get(1)?,
            status: row.get(2)?,
            stop_reason: row.get(3)?,
            budget_usd: row.get(4)?,
            options_json: row.get(5)?,
            created_at_ms: row.get(7)?,
            finished_at_ms: row.get(8)?,
        },
        row.get(0)?,
        row.get(6)?,
    ))
}

fn parse_session_row((mut row, id, case_ids_json): (SessionRow, String, String)) -> Result<SessionRow> {
    row.id = parse_run_id(&id)?;
    row.case_ids = serde_json::from_str(&case_ids_json).map_err(|error| {
        Error::Storage(format!(
            "session {id}: its list of test cases is damaged ({error}); restore the database from a backup or delete the session"
        ))
    })?;
    Ok(row)
}

impl Store {
    /// Stores a suite under its hash (once: the same hash is the same bytes).
    pub fn save_suite(&self, suite: &StoredSuite) -> Result<()> {
        self.connection().execute(
            "INSERT INTO suites (hash, name, format, path, text, files_json, created_at_ms)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
             ON CONFLICT (hash) DO NOTHING",
            params![
                suite.hash,
                suite.name,
                suite.format,
                suite.path,
                suite.text,
                suite.files_json,
                now_unix_ms()
            ],
        )?;
        Ok(())
    }

    pub fn load_suite(&self, hash: &str) -> Result<Option<StoredSuite>> {
        Ok(self
            .connection()
            .query_row(
                "SELECT hash, name, format, path, text, files_json FROM suites WHERE hash = ?1",
                [hash],
                suite_row,
            )
            .optional()?)
    }

    /// Every stored suite, newest first: those imported and those sessions ran.
    pub fn list_suites(&self) -> Result<Vec<StoredSuite>> {
        let connection = self.connection();
        let mut statement = connection.prepare(
            "SELECT hash, name, format, path, text, files_json FROM suites ORDER BY created_at_ms DESC, name",
        )?;
        let suites = statement
            .query_map([], suite_row)?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        Ok(suites)
    }

    pub fn insert_session(&self, session: &SessionRow) -> Result<()> {
        self.connection().execute(
            &format!("INSERT INTO sessions ({SESSION_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)"),
            params![
                session.id.to_string(),
                session.suite_hash,
                session.status,
                session.stop_reason,
                session.budget_usd,
                session.options_json,
                serde_json::to_string(&session.case_ids)
                    .map_err(|error| Error::Storage(format!("session {}: case ids: {error}", session.id)))?,
                session.created_at_ms,
                session.finished_at_ms,
            ],
        )?;
        Ok(())
    }

    /// Records a session's end (or a request to cancel it).
    pub fn finish_session(&self, id: RunId, status: &str, stop_reason: Option<&str>) -> Result<()> {
        self.connection().execute(
            "UPDATE sessions SET status = ?2, stop_reason = ?3, finished_at_ms = ?4 WHERE id = ?1",
            params![id.to_string(), status, stop_reason, now_unix_ms()],
        )?;
        Ok(())
    }

    /// A resumed session runs again, under `budget_usd` when one is given.
    pub fn restart_session(&self, id: RunId, budget_usd: Option<f64>) -> Result<()> {
        self.connection().execute(
            "UPDATE sessions SET status = 'running', stop_reason = NULL, finished_at_ms = NULL,
                 budget_usd = ?2 WHERE id = ?1",
            params![id.to_string(), budget_usd],
        )?;
        Ok(())
    }

    /// A session by full id or unique prefix (as runs are found).
    pub fn find_session(&self, text: &str) -> Result<Option<SessionRow>> {
        let Some(id) = self.resolve_run_id(text)? else {
            return Ok(None);
        };
        let found = self
            .connection()
            .query_row(
                &format!("SELECT {SESSION_COLUMNS} FROM sessions WHERE id = ?1"),
                [id.to_string()],
                session_row,
            )
            .optional()?;
        found.map(parse_session_row).transpose()
    }

    /// Sessions, newest first.
    pub fn list_sessions(&self) -> Result<Vec<SessionSummary>> {
        let connection = self.connection();
        let mut statement = connection.prepare(
            "SELECT sessions.id, sessions.created_at_ms, sessions.finished_at_ms, sessions.status,
                    sessions.stop_reason, suites.name, sessions.suite_hash, sessions.budget_usd,
                    runs.response_count,
                    (SELECT COUNT(*) FROM responses WHERE responses.run_id = sessions.id)
             FROM sessions
             JOIN suites ON suites.hash = sessions.suite_hash
             LEFT JOIN runs ON runs.id = sessions.id
             ORDER BY sessions.created_at_ms DESC, sessions.id DESC",
        )?;
        let rows = statement.query_map([], |row| {
            Ok((
                row.get::<_, String>(0)?,
                SessionSummary {
                    id: RunId(uuid::Uuid::nil()),
                    created_at_ms: row.get(1)?,
                    finished_at_ms: row.get(2)?,
                    status: row.get(3)?,
                    stop_reason: row.get(4)?,
                    suite_name: row.get(5)?,
                    suite_hash: row.get(6)?,
                    budget_usd: row.get(7)?,
                    planned: row.get::<_, Option<i64>>(8)?.unwrap_or(0).max(0) as u64,
                    responses: row.get::<_, i64>(9)?.max(0) as u64,
                },
            ))
        })?;
        let mut sessions = Vec::new();
        for row in rows {
            let (id, mut summary) = row?;
            summary.id = parse_run_id(&id)?;
            sessions.push(summary);
        }
        Ok(sessions)
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use std::time::Duration;

    use crate::store::tests::{TestResult, open_store, sample_run};

    pub(crate) fn session(id: RunId) -> SessionRow {
        SessionRow {
            id,
            suite_hash: "abc123".to_owned(),
            status: "running".to_owned(),
            stop_reason: None,
            budget_usd: Some(2.5),
            options_json: "{}".to_owned(),
            case_ids: vec!["capital".to_owned(), "capital#2".to_owned()],
            created_at_ms: 1_790_000_000_000,
            finished_at_ms: None,
        }
    }

    /// A store holding one session (and its run and suite).
    pub(crate) fn store_with_session() -> Result<(tempfile::TempDir, Store, RunId), Box<dyn std::error::Error>> {
        let (directory, store) = open_store()?;
        store.save_suite(&StoredSuite {
            hash: "abc123".to_owned(),
            name: "capitals".to_owned(),
            format: "yaml".to_owned(),
            path: None,
            text: "name: capitals".to_owned(),
            files_json: "[]".to_owned(),
        })?;
        let run = sample_run();
        let id = run.id;
        store.writer().run_started(&run);
        assert!(store.writer.wait_until_committed(Duration::from_secs(5)));
        store.insert_session(&session(id))?;
        Ok((directory, store, id))
    }

    #[test]
    fn a_session_reads_back_as_stored_and_a_damaged_case_list_is_an_error_naming_it() -> TestResult {
        let (_directory, store) = open_store()?;
        store.save_suite(&StoredSuite {
            hash: "abc123".to_owned(),
            name: "capitals".to_owned(),
            format: "yaml".to_owned(),
            path: None,
            text: "name: capitals".to_owned(),
            files_json: "[]".to_owned(),
        })?;
        // A session's id is its run's: the run row comes first.
        let run = sample_run();
        let id = run.id;
        store.writer().run_started(&run);
        assert!(store.writer.wait_until_committed(Duration::from_secs(5)));
        store.insert_session(&session(id))?;
        assert_eq!(store.find_session(&id.to_string())?, Some(session(id)));

        store.connection().execute(
            "UPDATE sessions SET case_ids_json = '[\"capital\", 7' WHERE id = ?1",
            [id.to_string()],
        )?;
        let error = store
            .find_session(&id.to_string())
            .expect_err("a damaged case list must not read as an empty one");
        let message = error.to_string();
        assert!(message.contains(&id.to_string()), "{message}");
        assert!(message.contains("damaged"), "{message}");
        Ok(())
    }

    #[test]
    #[expect(
        clippy::disallowed_methods,
        reason = "two saves a clock tick apart, so the newer one has a later created_at_ms"
    )]
    fn stored_suites_list_newest_first_and_once_per_hash() -> TestResult {
        let (_directory, store) = open_store()?;
        let suite = |hash: &str, name: &str| StoredSuite {
            hash: hash.to_owned(),
            name: name.to_owned(),
            format: "yaml".to_owned(),
            path: None,
            text: format!("name: {name}"),
            files_json: "[]".to_owned(),
        };
        store.save_suite(&suite("aaa", "first"))?;
        std::thread::sleep(Duration::from_millis(2));
        store.save_suite(&suite("bbb", "second"))?;
        store.save_suite(&suite("aaa", "first"))?;
        let names: Vec<String> = store.list_suites()?.into_iter().map(|suite| suite.name).collect();
        assert_eq!(names, ["second", "first"]);
        Ok(())
    }
}
