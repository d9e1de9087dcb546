//! Full-text search over the history: the CLI's ranked hits and the app's runs that match.
//!
//! Both must answer in milliseconds with a hundred thousand runs, where a common word matches
//! hundreds of thousands of documents. Neither may therefore look at every match: a document's
//! rowid starts with its run's number (see the `run_numbered_search` migration), so the index
//! walked from the highest rowid down yields the newest runs first, and each query stops as soon
//! as it has what it needs. Reading a matched document's other columns (its run id, a snippet)
//! costs a lookup per document, so that is done only for what is returned.
//!
//! Left out: ranking over the whole history when a query matches more than [`RANK_WINDOW`]
//! documents (bm25 would have to score every one of them; the newest ones are what people look
//! for in a history anyway).

use std::fmt;

use rusqlite::types::{FromSql, FromSqlError, FromSqlResult, ValueRef};
use rusqlite::{Connection, OptionalExtension, params};
use serde::Serialize;
use ts_rs::TS;

use super::{Store, parse_run_id, repair_dead_runs};
use crate::model::error::Result;
use crate::model::record::RunId;
use crate::store::RunSummary;

/// A full-text match.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, TS)]
#[ts(export)]
pub struct SearchHit {
    pub run_id: RunId,
    pub kind: SearchHitKind,
    /// The responding target; `None` for prompt and system text.
    pub target: Option<String>,
    pub prompt_index: u32,
    /// The matching passage, matches marked `[like this]`.
    pub snippet: String,
}

/// Which text of a run a hit is in: the `kind` column of `search_index`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, TS)]
#[serde(rename_all = "snake_case")]
#[ts(export)]
pub enum SearchHitKind {
    /// A prompt's user text.
    Prompt,
    /// A prompt's system text.
    System,
    /// A response's answer.
    Response,
}

impl SearchHitKind {
    pub const ALL: [Self; 3] = [Self::Prompt, Self::System, Self::Response];

    /// The text in `search_index.kind` and on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Prompt => "prompt",
            Self::System => "system",
            Self::Response => "response",
        }
    }
}

impl fmt::Display for SearchHitKind {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.pad(self.as_str())
    }
}

impl FromSql for SearchHitKind {
    fn column_result(value: ValueRef<'_>) -> FromSqlResult<Self> {
        let text = value.as_str()?;
        Self::ALL
            .into_iter()
            .find(|kind| kind.as_str() == text)
            .ok_or_else(|| FromSqlError::Other(format!("unknown search document kind '{text}'").into()))
    }
}

/// How many of the newest matching documents `search` ranks by relevance (bm25). A query that
/// matches fewer is ranked over all of them, exactly; one that matches more (a common word in a
/// large history) over its newest this many, which keeps it to a few milliseconds.
pub const RANK_WINDOW: usize = 5_000;

/// The bits of a search document's rowid below its run's number.
const RUN_NUMBER_SHIFT: u32 = 32;

/// How many documents of one run the walk of `search_runs` reads before it jumps past the rest
/// of that run's range (one run of thousands of answers must not cost thousands of steps).
const DOCUMENTS_BEFORE_JUMP: usize = 16;

impl Store {
    /// Full-text search over prompts, system prompts and response texts, best matches first
    /// (bm25; among the newest [`RANK_WINDOW`] matches when there are more). `query` is taken as
    /// plain words (all must match), never as FTS5 syntax, so any user text is safe.
    pub fn search(&self, query: &str, limit: usize) -> Result<Vec<SearchHit>> {
        self.search_ranking_newest(query, limit, RANK_WINDOW)
    }

    /// [`Store::search`] with bm25 among the newest `window` matches.
    fn search_ranking_newest(&self, query: &str, limit: usize, window: usize) -> Result<Vec<SearchHit>> {
        let Some(match_expression) = fts_match_expression(query) else {
            return Ok(Vec::new());
        };
        let connection = self.connection();
        // The oldest of the newest `window` matches, when there are more: walking rowids only
        // reads the index, never a document.
        let window_start: i64 = connection
            .prepare_cached(
                "SELECT rowid FROM search_index WHERE search_index MATCH ?1
                 ORDER BY rowid DESC LIMIT 1 OFFSET ?2",
            )?
            .query_row(
                params![match_expression, as_sql_count(window.saturating_sub(1))],
                |row| row.get(0),
            )
            .optional()?
            .unwrap_or(i64::MIN);
        let mut statement = connection.prepare_cached(
            "SELECT run_id, kind, target, prompt_index,
                 snippet(search_index, 0, '[', ']', '…', 16) AS snippet
             FROM search_index
             WHERE search_index MATCH ?1 AND rowid >= ?2
             ORDER BY rank
             LIMIT ?3",
        )?;
        let mut rows = statement.query(params![match_expression, window_start, as_sql_count(limit)])?;
        let mut hits = Vec::new();
        while let Some(row) = rows.next()? {
            hits.push(SearchHit {
                run_id: parse_run_id(&row.get::<_, String>("run_id")?)?,
                kind: row.get("kind")?,
                target: row.get("target")?,
                prompt_index: row.get("prompt_index")?,
                snippet: row.get("snippet")?,
            });
        }
        Ok(hits)
    }

    /// The `limit` newest runs with a full-text match for `query` (words as in [`Store::search`])
    /// in a prompt, a system prompt or an answer, newest first, as [`Store::list_runs`] lists them.
    pub fn search_runs(&self, query: &str, limit: usize) -> Result<Vec<RunSummary>> {
        let Some(match_expression) = fts_match_expression(query) else {
            return Ok(Vec::new());
        };
        let mut connection = self.connection();
        // As `list_runs` does: a run that died meanwhile is shown for what it is.
        if let Err(error) = repair_dead_runs(&mut connection, &self.lock_dir) {
            tracing::debug!(%error, "cannot mark dead runs as interrupted now");
        }
        let numbers = newest_matching_runs(&connection, &match_expression, limit)?;
        if numbers.is_empty() {
            return Ok(Vec::new());
        }
        let numbers = serde_json::to_string(&numbers)
            .map_err(|error| crate::model::error::Error::Storage(format!("cannot list run numbers: {error}")))?;
        // CROSS JOIN keeps the page as the outer loop: a lookup per run, never a scan of `runs`.
        super::read_run_summaries(
            &connection,
            "FROM json_each(?1) AS page
                 CROSS JOIN run_numbers ON run_numbers.number = page.value
                 CROSS JOIN runs ON runs.id = run_numbers.run_id
             ORDER BY runs.started_at_ms DESC, runs.id DESC",
            [numbers],
        )
    }
}

/// The numbers of the `limit` newest runs with a document that matches, newest first. Walks the
/// matches from the highest rowid down, reading only rowids; after a few documents of one run
/// it restarts below that run's range instead of stepping through the rest of it.
fn newest_matching_runs(connection: &Connection, match_expression: &str, limit: usize) -> Result<Vec<i64>> {
    let mut numbers: Vec<i64> = Vec::new();
    if limit == 0 {
        return Ok(numbers);
    }
    let mut statement = connection.prepare_cached(
        "SELECT rowid FROM search_index WHERE search_index MATCH ?1 AND rowid < ?2 ORDER BY rowid DESC",
    )?;
    let mut below = i64::MAX;
    'walk: loop {
        let mut rows = statement.query(params![match_expression, below])?;
        let mut documents_of_this_run = 0;
        while let Some(row) = rows.next()? {
            let number = row.get::<_, i64>(0)? >> RUN_NUMBER_SHIFT;
            if numbers.last() == Some(&number) {
                documents_of_this_run += 1;
                if documents_of_this_run >= DOCUMENTS_BEFORE_JUMP {
                    below = number << RUN_NUMBER_SHIFT;
                    continue 'walk;
                }
                continue;
            }
            numbers.push(number);
            if numbers.len() >= limit {
                break 'walk;
            }
            documents_of_this_run = 1;
        }
        break;
    }
    Ok(numbers)
}

/// A count for an SQL `LIMIT` or `OFFSET` (SQLite's integers are signed).
fn as_sql_count(count: usize) -> i64 {
    i64::try_from(count).unwrap_or(i64::MAX)
}

/// Turns user text into an FTS5 query that matches rows containing every word. Each word becomes
/// a quoted phrase, so FTS5 operators and punctuation (`-`, `(`, `AND`, `*`, `:`) are just text.
/// Words without a letter or digit are dropped: they tokenize to nothing, and an empty phrase
/// would make the whole query match nothing. Control characters separate words too: FTS5 reads a
/// NUL as the end of the query, which would leave a quote open.
pub(super) fn fts_match_expression(query: &str) -> Option<String> {
    let phrases: Vec<String> = query
        .split(|character: char| character.is_whitespace() || character.is_control())
        .filter(|word| word.chars().any(char::is_alphanumeric))
        .map(|word| format!("\"{}\"", word.replace('"', "\"\"")))
        .collect();
    (!phrases.is_empty()).then(|| phrases.join(" "))
}

#[cfg(test)]
mod tests {
    use rusqlite::Connection;

    use super::*;
    use crate::model::record::RunId;
    use crate::model::request::Prompt;
    use crate::store::tests::{TestResult, complete_response, key, open_store, sample_run};
    use crate::store::{RunStatus, migrations};

    /// Stores a finished run started at `started_at_ms`: one prompt per `(user text, system)`,
    /// and `answers[i]` as the first target's answer to prompt `i`.
    async fn store_run(
        store: &Store,
        started_at_ms: i64,
        prompts: &[(&str, Option<&str>)],
        answers: &[&str],
    ) -> Result<RunId> {
        let mut run = sample_run();
        run.started_at_ms = started_at_ms;
        run.repeat = 1;
        run.prompts = prompts
            .iter()
            .map(|(user, system)| Prompt::user(*user).with_system(system.map(str::to_owned)))
            .collect();
        let writer = store.writer();
        writer.run_started(&run);
        for (prompt_index, answer) in (0..).zip(answers) {
            let mut response = complete_response(run.id, key(prompt_index, 0, 0));
            response.text = (*answer).to_owned();
            writer.response_finished(&response);
        }
        writer.run_finished(run.id, started_at_ms + 1_000, RunStatus::Completed);
        writer.flush().await?;
        Ok(run.id)
    }

    fn hit_runs(hits: &[SearchHit]) -> Vec<RunId> {
        hits.iter().map(|hit| hit.run_id).collect()
    }

    fn summary_ids(runs: &[RunSummary]) -> Vec<RunId> {
        runs.iter().map(|run| run.id).collect()
    }

    fn fts_integrity(connection: &Connection) -> rusqlite::Result<usize> {
        connection.execute("INSERT INTO search_index (search_index) VALUES ('integrity-check')", [])
    }

    #[tokio::test]
    async fn ranked_search_is_bm25_over_the_newest_matches() -> TestResult {
        let (_directory, store) = open_store()?;
        let dense = store_run(&store, 1_000, &[("first", None)], &["aurora aurora aurora aurora"]).await?;
        let long = store_run(
            &store,
            2_000,
            &[("second", None)],
            &["once an aurora was seen far in the north where the winter nights are long and cold"],
        )
        .await?;
        let longer = store_run(
            &store,
            3_000,
            &[("third", None)],
            &["many other words come first in this answer and only then one aurora at its very end of it"],
        )
        .await?;
        let short = store_run(&store, 4_000, &[("fourth", None)], &["aurora aurora in the sky"]).await?;

        // Fewer matches than the window: ranked over all of them, the densest first.
        let hits = store.search("aurora", 10)?;
        assert_eq!(hits.len(), 4);
        assert_eq!(hit_runs(&hits[..2]), vec![dense, short]);
        assert_eq!(hits[0].snippet, "[aurora] [aurora] [aurora] [aurora]");
        assert_eq!(hit_runs(&store.search("aurora", 1)?), vec![dense]);
        // More matches than the window: only the newest ones are ranked.
        let hits = store.search_ranking_newest("aurora", 10, 2)?;
        assert_eq!(hit_runs(&hits), vec![short, longer]);
        let hits = store.search_ranking_newest("aurora", 10, 3)?;
        assert_eq!(hit_runs(&hits[..1]), vec![short]);
        assert!(!hit_runs(&hits).contains(&dense), "{hits:?}");
        assert!(hit_runs(&hits).contains(&long));
        // Every word must match; nothing matches nothing.
        assert_eq!(hit_runs(&store.search("aurora winter", 10)?), vec![long]);
        assert!(store.search("zzzzqqq", 10)?.is_empty());
        assert!(store.search("aurora zzzzqqq", 10)?.is_empty());
        Ok(())
    }

    #[tokio::test]
    async fn history_search_pages_the_newest_matching_runs() -> TestResult {
        let (_directory, store) = open_store()?;
        let oldest = store_run(&store, 1_000, &[("plain", None)], &["a comet with a long tail"]).await?;
        let in_prompt = store_run(&store, 2_000, &[("where did the comet go", None)], &["away"]).await?;
        let _none = store_run(&store, 3_000, &[("nothing here", None)], &["or here"]).await?;
        let in_system = store_run(&store, 4_000, &[("tell me", Some("you are a comet expert"))], &["sure"]).await?;
        let _newest_without = store_run(&store, 5_000, &[("still nothing", None)], &["no"]).await?;

        let found = store.search_runs("comet", 10)?;
        assert_eq!(summary_ids(&found), vec![in_system, in_prompt, oldest]);
        // The same summaries as the plain list shows.
        let listed: Vec<RunSummary> = store
            .list_runs(10)?
            .into_iter()
            .filter(|run| found.iter().any(|hit| hit.id == run.id))
            .collect();
        assert_eq!(found, listed);
        assert_eq!(summary_ids(&store.search_runs("comet", 2)?), vec![in_system, in_prompt]);
        assert_eq!(summary_ids(&store.search_runs("comet tail", 10)?), vec![oldest]);
        assert!(store.search_runs("comet", 0)?.is_empty());
        assert!(store.search_runs("zzzzqqq", 10)?.is_empty());
        assert!(store.search_runs(" ( - ", 10)?.is_empty());

        // A run with many matching documents counts once, and the walk goes on past it.
        let prompts: Vec<(String, Option<&str>)> =
            (0..40).map(|index| (format!("comet number {index}"), None)).collect();
        let prompts: Vec<(&str, Option<&str>)> =
            prompts.iter().map(|(user, system)| (user.as_str(), *system)).collect();
        let answers = vec!["the comet again"; 40];
        let batch = store_run(&store, 6_000, &prompts, &answers).await?;
        assert_eq!(summary_ids(&store.search_runs("comet", 2)?), vec![batch, in_system]);
        assert_eq!(
            summary_ids(&store.search_runs("comet", 10)?),
            vec![batch, in_system, in_prompt, oldest]
        );
        fts_integrity(&store.connection())?;
        Ok(())
    }

    /// A database made before run numbers keeps every search document, renumbered.
    #[tokio::test]
    async fn an_older_database_keeps_its_documents_through_the_migration() -> TestResult {
        let directory = tempfile::TempDir::new()?;
        let path = directory.path().join("modelbench.db");
        {
            let connection = Connection::open(&path)?;
            for migration in &migrations::MIGRATIONS[..3] {
                connection.execute_batch(migration.sql)?;
                connection.execute(
                    "INSERT INTO schema_migrations (version, applied_at_ms) VALUES (?1, 0)",
                    [migration.version],
                )?;
            }
            connection.execute_batch(
                r#"INSERT INTO runs VALUES ('01900000-0000-7000-8000-000000000002', 2000, 2500, 'completed', '{}',
                       '[{"name":"gpt"},{"name":"claude"}]', 1, 2, 4);
                   INSERT INTO runs VALUES ('01900000-0000-7000-8000-000000000001', 1000, 1500, 'completed', '{}',
                       '[{"name":"gpt"}]', 2, 1, 2);
                   INSERT INTO run_prompts VALUES
                       ('01900000-0000-7000-8000-000000000002', 0, 'speak like a pirate', 'newer nebula question', '[]'),
                       ('01900000-0000-7000-8000-000000000002', 1, NULL, 'second nebula question', '[]'),
                       ('01900000-0000-7000-8000-000000000001', 0, NULL, 'older nebula question', '[]');
                   INSERT INTO responses (run_id, prompt_index, target_index, repeat_index, target, provider, model,
                       status, started_at_ms, text) VALUES
                       ('01900000-0000-7000-8000-000000000001', 0, 0, 1, 'gpt', 'openai', 'm', 'complete', 1, 'old nebula answer'),
                       ('01900000-0000-7000-8000-000000000002', 1, 1, 0, 'claude', 'anthropic', 'm', 'complete', 1, 'new nebula answer'),
                       ('01900000-0000-7000-8000-000000000002', 0, 0, 0, 'gpt', 'openai', 'm', 'complete', 1, '');"#,
            )?;
        }
        let store = crate::store::Store::open(&path)?;
        let documents: i64 = store
            .connection()
            .query_row("SELECT count(*) FROM search_index", [], |row| row.get(0))?;
        assert_eq!(documents, 6, "3 prompts, 1 system prompt, 2 answers with text");
        let mut hits: Vec<(String, String, Option<String>, u32)> = store
            .search("nebula", 10)?
            .into_iter()
            .map(|hit| {
                (
                    hit.run_id.to_string()[35..].to_owned(),
                    hit.kind.to_string(),
                    hit.target,
                    hit.prompt_index,
                )
            })
            .collect();
        hits.sort();
        assert_eq!(
            hits,
            vec![
                ("1".to_owned(), "prompt".to_owned(), None, 0),
                ("1".to_owned(), "response".to_owned(), Some("gpt".to_owned()), 0),
                ("2".to_owned(), "prompt".to_owned(), None, 0),
                ("2".to_owned(), "prompt".to_owned(), None, 1),
                ("2".to_owned(), "response".to_owned(), Some("claude".to_owned()), 1),
            ]
        );
        assert_eq!(store.search("pirate", 10)?[0].kind, SearchHitKind::System);
        let runs: Vec<String> = store
            .search_runs("nebula", 10)?
            .iter()
            .map(|run| run.id.to_string())
            .collect();
        assert_eq!(
            runs,
            vec![
                "01900000-0000-7000-8000-000000000002",
                "01900000-0000-7000-8000-000000000001"
            ]
        );
        fts_integrity(&store.connection())?;
        Ok(())
    }

    #[test]
    fn user_text_becomes_quoted_phrases() {
        assert_eq!(fts_match_expression("foo-bar ("), Some("\"foo-bar\"".to_owned()));
        assert_eq!(
            fts_match_expression("say \"hi\" OR"),
            Some("\"say\" \"\"\"hi\"\"\" \"OR\"".to_owned())
        );
        assert_eq!(fts_match_expression("  ( - * "), None);
    }
}
