//! The `judges` table: which session a judge run judged, with which target, how, and what each of
//! its prompts asked (`items_json`, the judge layer's items). The calls themselves are the run's
//! responses (`judges.id` is the run's id).
//!
//! Left out: what the items mean and how answers become verdicts (`judge`), and running judges
//! (the workbench).

use rusqlite::{OptionalExtension, params};
use serde::Serialize;

use super::{Store, parse_run_id};
use crate::model::error::Result;
use crate::model::record::{RunId, now_unix_ms};

/// A `judges` row.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct JudgeRow {
    pub id: RunId,
    pub session_id: RunId,
    pub judge_target: String,
    /// `pairwise`, `rubric` or `checks`.
    pub mode: String,
    pub rubric: Option<String>,
    #[serde(skip)]
    pub items_json: String,
    pub skipped: u64,
    pub status: String,
    pub stop_reason: Option<String>,
    pub budget_usd: Option<f64>,
    pub created_at_ms: i64,
    pub finished_at_ms: Option<i64>,
}

const JUDGE_COLUMNS: &str = "id, session_id, judge_target, mode, rubric, items_json, skipped, status, stop_reason, \
     budget_usd, created_at_ms, finished_at_ms";

/// A row as read, with its ids still to parse (after the query, so a damaged id is an error
/// naming the table rather than a default).
fn judge_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<(JudgeRow, String, String)> {
    Ok((
        JudgeRow {
            // Both replaced by `parse_judge_row`.
            id: RunId(uuid::Uuid::nil()),
            session_id: RunId(uuid::Uuid::nil()),
            judge_target: row.get(2)?,
            mode: row.get(3)?,
            rubric: row.get(4)?,
            items_json: row.get(5)?,
            skipped: row.get::<_, i64>(6)?.max(0) as u64,
            status: row.get(7)?,
            stop_reason: row.get(8)?,
            budget_usd: row.get(9)?,
            created_at_ms: row.get(10)?,
            finished_at_ms: row.get(11)?,
        },
        row.get(0)?,
        row.get(1)?,
    ))
}

fn parse_judge_row((mut row, id, session_id): (JudgeRow, String, String)) -> Result<JudgeRow> {
    row.id = parse_run_id(&id)?;
    row.session_id = parse_run_id(&session_id)?;
    Ok(row)
}

impl Store {
    pub fn insert_judge(&self, judge: &JudgeRow) -> Result<()> {
        self.connection().execute(
            &format!("INSERT INTO judges ({JUDGE_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)"),
            params![
                judge.id.to_string(),
                judge.session_id.to_string(),
                judge.judge_target,
                judge.mode,
                judge.rubric,
                judge.items_json,
                i64::try_from(judge.skipped).unwrap_or(i64::MAX),
                judge.status,
                judge.stop_reason,
                judge.budget_usd,
                judge.created_at_ms,
                judge.finished_at_ms,
            ],
        )?;
        Ok(())
    }

    /// Records how a judge run ended.
    pub fn finish_judge(&self, id: RunId, status: &str, stop_reason: Option<&str>) -> Result<()> {
        self.connection().execute(
            "UPDATE judges SET status = ?2, stop_reason = ?3, finished_at_ms = ?4 WHERE id = ?1",
            params![id.to_string(), status, stop_reason, now_unix_ms()],
        )?;
        Ok(())
    }

    /// A resumed judge run runs again, under `budget_usd`.
    pub fn restart_judge(&self, id: RunId, budget_usd: Option<f64>) -> Result<()> {
        self.connection().execute(
            "UPDATE judges SET status = 'running', stop_reason = NULL, finished_at_ms = NULL, budget_usd = ?2
             WHERE id = ?1",
            params![id.to_string(), budget_usd],
        )?;
        Ok(())
    }

    /// The judge runs of a session, oldest first.
    pub fn judges_of_session(&self, session_id: RunId) -> Result<Vec<JudgeRow>> {
        let connection = self.connection();
        let mut statement = connection.prepare(&format!(
            "SELECT {JUDGE_COLUMNS} FROM judges WHERE session_id = ?1 ORDER BY created_at_ms, id"
        ))?;
        let rows = statement
            .query_map([session_id.to_string()], judge_row)?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        rows.into_iter().map(parse_judge_row).collect()
    }

    /// The judge run `id` (a full id or a unique prefix of one).
    pub fn find_judge(&self, text: &str) -> Result<Option<JudgeRow>> {
        let Some(id) = self.resolve_run_id(text)? else {
            return Ok(None);
        };
        let found = self
            .connection()
            .query_row(
                &format!("SELECT {JUDGE_COLUMNS} FROM judges WHERE id = ?1"),
                [id.to_string()],
                judge_row,
            )
            .optional()?;
        found.map(parse_judge_row).transpose()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    use crate::store::tests::{TestResult, open_store, sample_run};

    #[test]
    fn a_judge_row_reads_back_and_goes_with_its_session() -> TestResult {
        let (_directory, store) = open_store()?;
        let session = sample_run();
        let mut judge_run = sample_run();
        judge_run.id = RunId::new();
        store.writer().run_started(&session);
        store.writer().run_started(&judge_run);
        store
            .writer()
            .run_finished(session.id, 1_790_000_001_000, crate::store::RunStatus::Completed);
        assert!(store.writer.wait_until_committed(Duration::from_secs(5)));
        let row = JudgeRow {
            id: judge_run.id,
            session_id: session.id,
            judge_target: "grader".to_owned(),
            mode: "pairwise".to_owned(),
            rubric: None,
            items_json: "[]".to_owned(),
            skipped: 2,
            status: "running".to_owned(),
            stop_reason: None,
            budget_usd: Some(0.5),
            created_at_ms: 1_790_000_000_000,
            finished_at_ms: None,
        };
        store.insert_judge(&row)?;
        assert_eq!(store.find_judge(&judge_run.id.to_string())?, Some(row.clone()));
        store.finish_judge(judge_run.id, "stopped", Some("budget"))?;
        let stopped = store.judges_of_session(session.id)?;
        assert_eq!(stopped.len(), 1);
        assert_eq!(stopped[0].stop_reason.as_deref(), Some("budget"));
        store.restart_judge(judge_run.id, Some(1.0))?;
        assert_eq!(store.judges_of_session(session.id)?[0].status, "running");

        store.delete_runs(&[session.id])?;
        assert!(store.judges_of_session(session.id)?.is_empty());
        assert!(store.find_judge(&judge_run.id.to_string())?.is_none());
        Ok(())
    }
}
