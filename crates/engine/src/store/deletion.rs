//! Deleting runs and giving their space back to the disk.
//!
//! A run goes whole: its prompts, responses and every stream event through the schema's
//! cascades, its search documents through the triggers (one rowid range per run). Nothing of
//! another run is touched, so the reports and evidence of the runs kept stay as they were. A
//! run whose process still holds its lock (see `run_lock`) is never deleted: it is writing.
//!
//! SQLite keeps the pages a deletion frees inside the file, for later writes. A database created
//! by this build uses incremental auto-vacuum, so each deletion then hands them back to the disk
//! (`PRAGMA incremental_vacuum`; the file shrinks at the checkpoint that follows). An older
//! database keeps them until [`Store::compact`], a full VACUUM that also switches it over.
//!
//! Left out: deleting single responses or events (a run is the unit of history: its report, its
//! diffs and its resume all need the whole of it).

use rusqlite::{Connection, TransactionBehavior, params};
use serde::Serialize;

use super::{DROP_WAIT, Store, parse_run_id, run_lock};
use crate::model::error::{Error, Result};
use crate::model::record::RunId;

/// How many runs a prune deletes per transaction: each commit lets the run writer in between,
/// and an interrupted prune keeps what it finished.
const PRUNE_BATCH: usize = 256;

/// What a prune deleted (or, dry, would delete), newest first.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Pruned {
    pub runs: Vec<RunId>,
    /// Matched but left alone: their process is running them now.
    pub running: Vec<RunId>,
}

/// The database's size on disk and the part of it that holds nothing.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct DatabaseSpace {
    /// `modelbench.db` and its write-ahead log.
    pub file_bytes: u64,
    /// Free pages inside the file: reused by later writes, on disk until they are given back.
    pub free_bytes: u64,
    /// Whether deleting runs gives their pages back to the disk by itself (incremental
    /// auto-vacuum); when not, [`Store::compact`] does, once.
    pub gives_back_space: bool,
}

impl Store {
    /// Deletes the runs `ids` with everything stored for them and returns how many there were
    /// (an id with no run counts nothing). All or nothing: when one of them is running, none is
    /// deleted and the error names it.
    pub fn delete_runs(&self, ids: &[RunId]) -> Result<usize> {
        let deleted = {
            let mut connection = self.connection();
            // Under the write lock, so no run starts or resumes between the check and the delete.
            let transaction = connection.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let (_, running) = self.split_running(ids);
            if !running.is_empty() {
                let running: Vec<String> = running.iter().map(RunId::to_string).collect();
                return Err(Error::InvalidInput(format!(
                    "{} still running: stop it or let it end first (nothing was deleted)",
                    match running.as_slice() {
                        [one] => format!("run {one} is"),
                        many => format!("runs {} are", many.join(", ")),
                    }
                )));
            }
            let deleted = delete(&transaction, ids)?;
            transaction.commit()?;
            deleted
        };
        self.give_back_free_pages();
        Ok(deleted)
    }

    /// Deletes the runs that started before `before_ms` (every run when `None`), except the
    /// `keep` newest runs of all, and skips the ones running now. With `dry_run` it only says
    /// which runs that would be.
    pub fn prune_runs(&self, before_ms: Option<i64>, keep: usize, dry_run: bool) -> Result<Pruned> {
        let matched: Vec<RunId> = {
            let connection = self.connection();
            let mut statement = connection.prepare(
                "SELECT id FROM (
                     SELECT id, started_at_ms FROM runs
                     ORDER BY started_at_ms DESC, id DESC LIMIT -1 OFFSET ?1)
                 WHERE started_at_ms < ?2",
            )?;
            let ids = statement
                .query_map(
                    params![i64::try_from(keep).unwrap_or(i64::MAX), before_ms.unwrap_or(i64::MAX)],
                    |row| row.get::<_, String>(0),
                )?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            ids.iter().map(|id| parse_run_id(id)).collect::<Result<_>>()?
        };
        if dry_run {
            let (runs, running) = self.split_running(&matched);
            return Ok(Pruned { runs, running });
        }
        let mut pruned = Pruned::default();
        for batch in matched.chunks(PRUNE_BATCH) {
            let mut connection = self.connection();
            let transaction = connection.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let (free, running) = self.split_running(batch);
            delete(&transaction, &free)?;
            transaction.commit()?;
            pruned.runs.extend(free);
            pruned.running.extend(running);
        }
        if !pruned.runs.is_empty() {
            self.give_back_free_pages();
        }
        Ok(pruned)
    }

    /// How big the database is on disk, and how much of that is free pages.
    pub fn space(&self) -> Result<DatabaseSpace> {
        let connection = self.connection();
        let pragma = |name: &str| -> Result<u64> {
            let value: i64 = connection.query_row(&format!("PRAGMA {name}"), [], |row| row.get(0))?;
            Ok(u64::try_from(value).unwrap_or(0))
        };
        let free_bytes = pragma("freelist_count")? * pragma("page_size")?;
        let gives_back_space = pragma("auto_vacuum")? == 2;
        let mut file_bytes = 0;
        for suffix in ["", "-wal"] {
            let mut path = self.path.clone().into_os_string();
            path.push(suffix);
            file_bytes += std::fs::metadata(path).map_or(0, |metadata| metadata.len());
        }
        Ok(DatabaseSpace {
            file_bytes,
            free_bytes,
            gives_back_space,
        })
    }

    /// Rewrites the database without its free pages (VACUUM) and switches it to incremental
    /// auto-vacuum, so later deletions give their space back by themselves. Takes about as long
    /// as copying the file, and needs as much free disk again for the while.
    pub fn compact(&self) -> Result<()> {
        if !self.writer.wait_until_committed(DROP_WAIT) {
            return Err(Error::Storage(
                "cannot compact now: this process's run writes are still pending".to_owned(),
            ));
        }
        self.connection()
            .execute_batch("PRAGMA auto_vacuum = INCREMENTAL; VACUUM;")?;
        self.checkpoint();
        Ok(())
    }

    /// Splits `ids` into the runs nobody is running and the ones whose process holds their lock.
    fn split_running(&self, ids: &[RunId]) -> (Vec<RunId>, Vec<RunId>) {
        ids.iter()
            .partition(|id| !run_lock::owner_is_alive(&self.lock_dir, **id))
    }

    /// Best effort, after a deletion: hands the free pages back to the disk when the database
    /// allows it, and checkpoints so the file itself shrinks.
    fn give_back_free_pages(&self) {
        let released = {
            let connection = self.connection();
            let incremental = connection
                .query_row("PRAGMA auto_vacuum", [], |row| row.get::<_, i64>(0))
                .is_ok_and(|mode| mode == 2);
            !incremental || release_free_pages(&connection).is_ok()
        };
        if !released {
            tracing::debug!("cannot give the deleted runs' pages back to the disk now");
        }
        self.checkpoint();
    }
}

/// `PRAGMA incremental_vacuum`, which yields an empty row per page it gives back: stepped to
/// its end, or it stops after the first page.
fn release_free_pages(connection: &Connection) -> Result<()> {
    let mut statement = connection.prepare("PRAGMA incremental_vacuum")?;
    let mut rows = statement.query([])?;
    while rows.next()?.is_some() {}
    Ok(())
}

/// Deletes the runs `ids` in the caller's transaction; returns how many there were.
fn delete(connection: &Connection, ids: &[RunId]) -> Result<usize> {
    let mut statement = connection.prepare_cached("DELETE FROM runs WHERE id = ?1")?;
    // A session is its run: it goes with it (its suite stays, shared by hash).
    let mut sessions = connection.prepare_cached("DELETE FROM sessions WHERE id = ?1")?;
    // A judge run's row goes with its run, and with the session it judged (its run stays, an
    // ordinary run in history).
    let mut judges = connection.prepare_cached("DELETE FROM judges WHERE id = ?1 OR session_id = ?1")?;
    let mut deleted = 0;
    for id in ids {
        deleted += statement.execute([id.to_string()])?;
        sessions.execute([id.to_string()])?;
        judges.execute([id.to_string()])?;
    }
    Ok(deleted)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::tests::{TestResult, complete_response, count_rows, key, open_store, sample_events, sample_run};
    use crate::store::{RunStatus, StoredEvent, StoredRun, synthetic};

    /// Stores a finished run with one answer and its events, started at `started_at_ms`.
    async fn finished_run(store: &Store, started_at_ms: i64) -> Result<RunId> {
        let writer = store.writer();
        let mut run = sample_run();
        run.started_at_ms = started_at_ms;
        writer.run_started(&run);
        let response_key = key(0, 0, 0);
        writer.response_started(run.id, response_key, "gpt", "openai", "gpt-5.4", started_at_ms);
        for event in sample_events(response_key) {
            writer.event(run.id, &event);
        }
        writer.response_finished(&complete_response(run.id, response_key));
        writer.run_finished(run.id, started_at_ms + 1_000, RunStatus::Completed);
        writer.flush().await?;
        Ok(run.id)
    }

    /// Everything stored for `run`: the run with its responses and each response's events.
    fn evidence(store: &Store, run: RunId) -> Result<(StoredRun, Vec<Vec<StoredEvent>>)> {
        let stored = store
            .load_run(run)?
            .ok_or_else(|| Error::Storage(format!("run {run} is missing")))?;
        let events = stored
            .responses
            .iter()
            .map(|response| store.load_events(run, response.key))
            .collect::<Result<_>>()?;
        Ok((stored, events))
    }

    fn rows_of(store: &Store, run: RunId) -> Result<Vec<i64>> {
        let connection = store.connection();
        let id = run.to_string();
        [
            "SELECT count(*) FROM runs WHERE id = ?1",
            "SELECT count(*) FROM run_numbers WHERE run_id = ?1",
            "SELECT count(*) FROM run_prompts WHERE run_id = ?1",
            "SELECT count(*) FROM responses WHERE run_id = ?1",
            "SELECT count(*) FROM response_events JOIN responses ON responses.id = response_id WHERE run_id = ?1",
            "SELECT count(*) FROM search_index WHERE run_id = ?1",
        ]
        .iter()
        .map(|sql| Ok(connection.query_row(sql, [&id], |row| row.get(0))?))
        .collect()
    }

    fn assert_intact(store: &Store) -> TestResult {
        let connection = store.connection();
        let verdict: String = connection.query_row("PRAGMA integrity_check", [], |row| row.get(0))?;
        assert_eq!(verdict, "ok");
        connection.execute("INSERT INTO search_index (search_index) VALUES ('integrity-check')", [])?;
        let broken_keys: i64 =
            connection.query_row("SELECT count(*) FROM pragma_foreign_key_check", [], |row| row.get(0))?;
        assert_eq!(broken_keys, 0);
        Ok(())
    }

    #[tokio::test]
    async fn deleting_runs_takes_all_of_them_and_nothing_of_the_others() -> TestResult {
        let (_directory, store) = open_store()?;
        let older = finished_run(&store, 1_790_000_000_000).await?;
        let deleted = finished_run(&store, 1_790_000_100_000).await?;
        let newer = finished_run(&store, 1_790_000_200_000).await?;
        let kept_before = [evidence(&store, older)?, evidence(&store, newer)?];
        assert_eq!(rows_of(&store, deleted)?, vec![1, 1, 2, 1, 8, 4]);

        assert_eq!(store.delete_runs(&[deleted, RunId::new()])?, 1);
        assert_eq!(rows_of(&store, deleted)?, vec![0; 6]);
        assert_eq!([evidence(&store, older)?, evidence(&store, newer)?], kept_before);
        assert_eq!(rows_of(&store, older)?, vec![1, 1, 2, 1, 8, 4]);
        let found: Vec<RunId> = store.search_runs("aurora", 10)?.iter().map(|run| run.id).collect();
        assert_eq!(found, vec![newer, older]);
        assert_eq!(store.search("glow", 10)?.len(), 2);
        assert_intact(&store)?;
        // Deleting again finds nothing, and is no error.
        assert_eq!(store.delete_runs(&[deleted])?, 0);
        Ok(())
    }

    #[tokio::test]
    async fn a_running_run_is_never_deleted() -> TestResult {
        let (_directory, store) = open_store()?;
        let finished = finished_run(&store, 1_790_000_000_000).await?;
        let writer = store.writer();
        let running = sample_run();
        writer.run_started(&running);
        writer.flush().await?;

        let error = store
            .delete_runs(&[finished, running.id])
            .expect_err("a running run is refused");
        assert!(
            error
                .to_string()
                .contains(&format!("run {} is still running", running.id)),
            "{error}"
        );
        assert!(error.to_string().contains("nothing was deleted"), "{error}");
        assert_eq!(store.list_runs(10)?.len(), 2);

        let pruned = store.prune_runs(None, 0, false)?;
        assert_eq!(
            pruned,
            Pruned {
                runs: vec![finished],
                running: vec![running.id]
            }
        );
        assert_eq!(rows_of(&store, running.id)?[..4], [1, 1, 2, 0]);

        // Once it has ended, it can go.
        writer.run_finished(running.id, 1_790_000_009_000, RunStatus::Completed);
        writer.flush().await?;
        assert_eq!(store.delete_runs(&[running.id])?, 1);
        assert!(store.list_runs(10)?.is_empty());
        assert_intact(&store)?;
        Ok(())
    }

    #[tokio::test]
    async fn prune_goes_by_start_time_and_keeps_the_newest() -> TestResult {
        let (_directory, store) = open_store()?;
        let mut runs = Vec::new();
        for minute in 1..=5 {
            runs.push(finished_run(&store, minute * 60_000).await?);
        }
        let newest_first = |indexes: &[usize]| indexes.iter().map(|index| runs[*index]).collect::<Vec<_>>();

        let dry = store.prune_runs(Some(3 * 60_000), 0, true)?;
        assert_eq!(dry.runs, newest_first(&[1, 0]));
        assert_eq!(store.list_runs(10)?.len(), 5, "a dry run deletes nothing");
        // Older than the fourth run, but the newest four are kept: only the first goes.
        assert_eq!(store.prune_runs(Some(4 * 60_000), 4, true)?.runs, newest_first(&[0]));
        assert_eq!(store.prune_runs(None, 3, false)?.runs, newest_first(&[1, 0]));
        let left: Vec<RunId> = store.list_runs(10)?.iter().map(|run| run.id).collect();
        assert_eq!(left, newest_first(&[4, 3, 2]));
        assert_eq!(store.prune_runs(Some(0), 0, false)?, Pruned::default());
        assert_eq!(store.prune_runs(None, 10, false)?, Pruned::default());
        assert_eq!(count_rows(&store, "run_numbers")?, 3);
        assert_intact(&store)?;
        Ok(())
    }

    #[test]
    fn deleted_runs_give_their_space_back_to_the_disk() -> TestResult {
        let (_directory, store) = open_store()?;
        synthetic::fill(&store, 300, 1)?;
        let before = store.space()?;
        assert!(before.gives_back_space);
        let pruned = store.prune_runs(None, 30, false)?;
        assert_eq!(pruned.runs.len(), 270);
        let after = store.space()?;
        assert!(
            after.file_bytes * 4 < before.file_bytes,
            "{before:?} -> {after:?}: the file shrinks with the runs"
        );
        assert_eq!(after.free_bytes, 0);
        assert_eq!(store.list_runs(100)?.len(), 30);
        assert_intact(&store)?;
        Ok(())
    }

    /// A database from before incremental auto-vacuum keeps its free pages until compacted.
    #[test]
    fn compacting_an_older_database_gives_the_space_back_and_switches_it_over() -> TestResult {
        let directory = tempfile::TempDir::new()?;
        let path = directory.path().join("modelbench.db");
        {
            let connection = rusqlite::Connection::open(&path)?;
            connection.execute_batch("PRAGMA journal_mode = WAL; CREATE TABLE made_by_an_older_build (x);")?;
        }
        let store = Store::open(&path)?;
        synthetic::fill(&store, 200, 2)?;
        let full = store.space()?;
        assert!(!full.gives_back_space);
        store.prune_runs(None, 20, false)?;
        let pruned = store.space()?;
        assert!(pruned.free_bytes * 2 > full.file_bytes, "{full:?} -> {pruned:?}");
        assert!(pruned.file_bytes >= full.file_bytes - pruned.file_bytes / 10);
        store.compact()?;
        let compacted = store.space()?;
        assert!(compacted.gives_back_space);
        assert_eq!(compacted.free_bytes, 0);
        assert!(compacted.file_bytes * 3 < full.file_bytes, "{full:?} -> {compacted:?}");
        assert_eq!(store.list_runs(100)?.len(), 20);
        assert_intact(&store)?;
        Ok(())
    }
}
