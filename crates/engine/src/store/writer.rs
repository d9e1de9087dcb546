//! The store's single writer: one thread that owns a connection and commits what runs produce.
//!
//! Streaming code calls [`StoreWriter`] from async tasks, tens of thousands of events a second.
//! Each call only pushes onto an unbounded channel, so a slow disk never slows a stream. The thread
//! drains whatever is queued and applies it in one transaction, which is what makes that rate cheap
//! for SQLite. A caller that did not wait cannot be handed an error, so failed writes are logged and
//! kept for the next [`StoreWriter::flush`]; one failed write never costs the writes around it.
//!
//! Reads and the rare synchronous writes (saved targets) go through the [`Store`](super::Store)'s
//! own connection, not through here.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError, mpsc};
use std::time::{Duration, Instant};

use rusqlite::{Connection, OptionalExtension, TransactionBehavior, named_params, params};
use tokio::sync::oneshot;

use super::run_lock::RunLock;
use super::{RESPONSE_STATUS_COMPLETE, RESPONSE_STATUS_INCOMPLETE, RESPONSE_STATUS_RUNNING, RunStatus, to_json};
use crate::model::error::{Error, ProviderError, Result};
use crate::model::event::{ResponseKey, StampedEvent, StreamEvent};
use crate::model::record::{ResponseRecord, RunId, RunRecord};

/// Bounds one transaction, so the memory a batch holds and the WAL it grows stay small even when
/// events pile up behind a slow disk.
const MAX_BATCH: usize = 10_000;

/// How long the writer gathers commands into one transaction. Streaming never waits on it; it
/// bounds how far the database trails the stream (a crash loses at most this much).
const GATHER_WINDOW: Duration = Duration::from_millis(25);

/// The window while streams are many: each commit writes every page it touched, and with a
/// thousand streams open that is a page per stream whatever the batch holds, so longer batches
/// make each stored event cheaper (1,000 streams at 5 ms gaps: 20,000 events per batch).
const LOADED_GATHER_WINDOW: Duration = Duration::from_millis(100);

/// A batch this big means streams are many: the next one gathers for [`LOADED_GATHER_WINDOW`].
const LOADED_BATCH: usize = 2_000;

/// How long the writer keeps retrying a batch whose transaction cannot begin because another
/// connection holds the write lock (each try already waits out the busy timeout). Writes are
/// never dropped for a lock held by someone else; only this long a wait gives up.
const LOCKED_RETRY_FOR: Duration = Duration::from_secs(120);

/// The first pause between tries on a locked database; it doubles up to [`LOCKED_RETRY_MAX_PAUSE`].
const LOCKED_RETRY_FIRST_PAUSE: Duration = Duration::from_millis(50);
const LOCKED_RETRY_MAX_PAUSE: Duration = Duration::from_secs(2);

/// How many writes may wait for the writer thread before streams are held back (see
/// [`StoreWriter::wait_for_room`]). Tens of megabytes at most, and seconds of a full machine's
/// streaming: a disk or a CPU that cannot keep up must slow the streams down, not grow the
/// queue with the length of the run.
const MAX_QUEUED: usize = 2 * MAX_BATCH;

/// What streaming code asks the writer thread to do.
enum WriteCommand {
    /// With the run's lock, which the writer holds until the run's end is committed.
    RunStarted(Box<RunRecord>, Option<RunLock>),
    ResponseStarted {
        run: RunId,
        key: ResponseKey,
        target: String,
        provider: String,
        model: String,
        started_at_ms: i64,
    },
    Event {
        run: RunId,
        key: ResponseKey,
        sequence: u64,
        attempt: u32,
        elapsed_us: u64,
        event: StreamEvent,
    },
    ResponseFinished(Box<ResponseRecord>),
    /// A stored run sent again: back to `running`, the responses to re-send removed.
    RunResumed {
        run: RunId,
        keys: Vec<ResponseKey>,
        lock: Option<RunLock>,
    },
    /// The worst scheduling lag the client had during (this part of) the run.
    RunClientLag {
        run: RunId,
        worst_ms: f64,
    },
    RunFinished {
        run: RunId,
        finished_at_ms: i64,
        status: RunStatus,
    },
    /// Answered once everything before it is committed, with the write errors since the last flush.
    Flush(oneshot::Sender<Result<()>>),
    /// Answered once everything before it is committed; for code that cannot await (drop).
    Barrier(mpsc::SyncSender<()>),
}

impl WriteCommand {
    /// Someone is blocked until this command's batch commits.
    fn is_awaited(&self) -> bool {
        matches!(self, Self::Flush(_) | Self::Barrier(_))
    }

    /// Names the write in error messages, since nobody is waiting on it to say which one failed.
    fn describe(&self) -> String {
        match self {
            Self::RunStarted(run, _) => format!("run {} start", run.id),
            Self::ResponseStarted { run, key, .. } => {
                format!("run {run} {} start", describe_key(*key))
            }
            Self::Event { run, key, sequence, .. } => {
                format!("run {run} {} event {sequence}", describe_key(*key))
            }
            Self::ResponseFinished(response) => {
                format!("run {} {} finish", response.run_id, describe_key(response.key))
            }
            Self::RunFinished { run, .. } => format!("run {run} finish"),
            Self::RunClientLag { run, .. } => format!("run {run} client lag"),
            Self::RunResumed { run, .. } => format!("run {run} resume"),
            Self::Flush(_) => "flush".to_owned(),
            Self::Barrier(_) => "barrier".to_owned(),
        }
    }

    fn is_write(&self) -> bool {
        !matches!(self, Self::Flush(_) | Self::Barrier(_))
    }
}

fn describe_key(key: ResponseKey) -> String {
    format!(
        "response (prompt {}, target {}, repeat {})",
        key.prompt_index, key.target_index, key.repeat_index
    )
}

/// A cheap, cloneable handle onto the writer thread. Every method but [`flush`](Self::flush)
/// returns at once.
#[derive(Clone, Debug)]
pub struct StoreWriter {
    sender: mpsc::Sender<WriteCommand>,
    /// The writer thread, woken early when someone waits on a flush.
    thread: std::thread::Thread,
    /// Finished responses whose final record could not be written, so the run can still hand
    /// their answers on (see [`StoreWriter::take_unsaved_responses`]).
    unsaved: Arc<Mutex<Vec<ResponseRecord>>>,
    /// Where the runs' lock files go (see `run_lock`).
    lock_dir: PathBuf,
    /// Writes sent and not yet applied.
    queued: Arc<AtomicUsize>,
}

impl StoreWriter {
    /// Starts the writer thread on `connection`. It ends once every handle is dropped, after
    /// committing everything they sent.
    pub(super) fn spawn(connection: Connection, lock_dir: PathBuf) -> Result<Self> {
        let (sender, receiver) = mpsc::channel();
        let unsaved = Arc::new(Mutex::new(Vec::new()));
        let thread_unsaved = Arc::clone(&unsaved);
        let queued = Arc::new(AtomicUsize::new(0));
        let thread_queued = Arc::clone(&queued);
        let handle = std::thread::Builder::new()
            .name("modelbench-store-writer".to_owned())
            .spawn(move || WriterThread::new(connection, thread_unsaved, thread_queued).run(&receiver))?;
        Ok(Self {
            sender,
            thread: handle.thread().clone(),
            unsaved,
            lock_dir,
            queued,
        })
    }

    /// Resolves once the writer's queue is below its high-water mark; at once almost always.
    /// Streams call it before reading more from the network, so a writer that falls behind
    /// (a slow disk, a starved CPU, a locked database) holds them back instead of letting the
    /// queue, and the process's memory, grow with the length of the run.
    pub async fn wait_for_room(&self) {
        while self.queued.load(Ordering::Relaxed) > MAX_QUEUED {
            self.thread.unpark();
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    }

    /// The finished responses of `run` whose final record the database refused (disk full,
    /// read-only, locked for minutes), in no particular order. Call after a failed flush: their
    /// answers exist nowhere else.
    pub fn take_unsaved_responses(&self, run: RunId) -> Vec<ResponseRecord> {
        let mut unsaved = self.unsaved.lock().unwrap_or_else(PoisonError::into_inner);
        let (taken, kept) = std::mem::take(&mut *unsaved)
            .into_iter()
            .partition(|response| response.run_id == run);
        *unsaved = kept;
        taken
    }

    /// Records the run, its prompts and their search documents.
    /// Records the run, its prompts and their search documents, and takes the run's lock: as
    /// long as this process lives and the run's end is not committed, the run is known alive.
    pub fn run_started(&self, run: &RunRecord) {
        let lock = RunLock::acquire(&self.lock_dir, run.id)
            .inspect_err(|error| {
                tracing::warn!(%error, "cannot take the run's lock; if this process dies the run stays 'running'");
            })
            .ok();
        self.send(WriteCommand::RunStarted(Box::new(run.clone()), lock));
    }

    /// Creates the response's row, so its events have somewhere to go before it finishes.
    /// Marks a stored run as running again and removes the rows (with their events and search
    /// documents) of the responses about to be sent again; takes the run's lock.
    pub fn run_resumed(&self, run: RunId, keys: Vec<ResponseKey>) {
        let lock = RunLock::acquire(&self.lock_dir, run)
            .inspect_err(|error| {
                tracing::warn!(%error, "cannot take the run's lock; if this process dies the run stays 'running'");
            })
            .ok();
        self.send(WriteCommand::RunResumed { run, keys, lock });
    }

    pub fn response_started(
        &self,
        run: RunId,
        key: ResponseKey,
        target: &str,
        provider: &str,
        model: &str,
        started_at_ms: i64,
    ) {
        self.send(WriteCommand::ResponseStarted {
            run,
            key,
            target: target.to_owned(),
            provider: provider.to_owned(),
            model: model.to_owned(),
            started_at_ms,
        });
    }

    /// Records one stamped event. The hot path: it clones the event and nothing more; the thread
    /// serialises it.
    pub fn event(&self, run: RunId, event: &StampedEvent) {
        self.send(WriteCommand::Event {
            run,
            key: event.response_key,
            sequence: event.sequence,
            attempt: event.attempt,
            elapsed_us: event.elapsed_us,
            event: event.event.clone(),
        });
    }

    /// Fills in the response's row (creating it if `response_started` never came) and indexes
    /// its text for search.
    pub fn response_finished(&self, response: &ResponseRecord) {
        self.send(WriteCommand::ResponseFinished(Box::new(response.clone())));
    }

    /// Records the worst scheduling lag the client had while the run streamed (kept if a resumed
    /// part of the run had a worse one).
    pub fn run_client_lag(&self, run: RunId, worst_ms: f64) {
        self.send(WriteCommand::RunClientLag { run, worst_ms });
    }

    pub fn run_finished(&self, run: RunId, finished_at_ms: i64, status: RunStatus) {
        self.send(WriteCommand::RunFinished {
            run,
            finished_at_ms,
            status,
        });
    }

    /// Resolves when everything sent before it is committed. Returns the first write error since
    /// the last flush (from any handle: they share one thread), if any.
    pub async fn flush(&self) -> Result<()> {
        let (reply, answer) = oneshot::channel();
        if !self.enqueue(WriteCommand::Flush(reply)) {
            return Err(writer_stopped());
        }
        self.thread.unpark();
        answer.await.map_err(|_| writer_stopped())?
    }

    /// Blocks until everything sent before it is committed, or `timeout` passes. Returns whether
    /// the writer confirmed.
    pub(super) fn wait_until_committed(&self, timeout: Duration) -> bool {
        let (reply, answer) = mpsc::sync_channel(1);
        if !self.enqueue(WriteCommand::Barrier(reply)) {
            return false;
        }
        self.thread.unpark();
        answer.recv_timeout(timeout).is_ok()
    }

    fn send(&self, command: WriteCommand) {
        // Only a panic ends the thread while handles exist; the write cannot go anywhere then.
        if !self.enqueue(command) {
            tracing::error!("the store writer has stopped; a write was dropped");
        }
    }

    /// Sends any command, flushes and barriers included, counted in `queued`: the writer counts
    /// every command it applies back out, so a command sent around this count would wrap it
    /// below zero and make [`Self::wait_for_room`] wait forever.
    fn enqueue(&self, command: WriteCommand) -> bool {
        self.queued.fetch_add(1, Ordering::Relaxed);
        let sent = self.sender.send(command).is_ok();
        if !sent {
            self.queued.fetch_sub(1, Ordering::Relaxed);
        }
        sent
    }
}

fn writer_stopped() -> Error {
    Error::Storage("the store writer has stopped".to_owned())
}

/// The state owned by the writer thread.
struct WriterThread {
    connection: Connection,
    /// Row ids of responses that may still receive events, so an event costs one insert.
    response_ids: HashMap<(RunId, ResponseKey), i64>,
    /// The first write error since the last flush, and how many followed it.
    unreported_error: Option<String>,
    unreported_more: usize,
    unsaved: Arc<Mutex<Vec<ResponseRecord>>>,
    /// The locks of the runs this process is running, released once their end is committed.
    run_locks: HashMap<RunId, RunLock>,
    queued: Arc<AtomicUsize>,
    /// The page cache set on the connection, in KiB (see [`WriterThread::fit_cache`]).
    cache_kib: usize,
}

/// SQLite's own default page cache, in KiB: enough for a few hundred open responses.
const MIN_CACHE_KIB: usize = 2_048;

/// The most page cache the writer takes, in KiB, whatever the concurrency.
const MAX_CACHE_KIB: usize = 32_768;

/// Cache per open response, in KiB: its events' current page and a share of the pages above it
/// and of the responses' own rows.
const CACHE_KIB_PER_OPEN_RESPONSE: usize = 12;

impl WriterThread {
    fn new(connection: Connection, unsaved: Arc<Mutex<Vec<ResponseRecord>>>, queued: Arc<AtomicUsize>) -> Self {
        Self {
            queued,
            connection,
            response_ids: HashMap::new(),
            unreported_error: None,
            unreported_more: 0,
            unsaved,
            run_locks: HashMap::new(),
            cache_kib: MIN_CACHE_KIB,
        }
    }

    fn run(mut self, receiver: &mpsc::Receiver<WriteCommand>) {
        // `recv` hands over everything queued before it reports that every sender is gone, so
        // writes sent just before the last handle dropped are still committed.
        let mut window = GATHER_WINDOW;
        while let Ok(first) = receiver.recv() {
            // Gather for a moment before committing: a stream delivers events one by one, and a
            // transaction per event would cost a WAL write and a lock round trip each. The thread
            // sleeps through the window instead of waiting on the channel, so the events sent
            // meanwhile do not each wake it; someone waiting on a flush unparks it at once.
            let deadline = Instant::now() + window;
            let mut waiting = first.is_awaited();
            let mut batch = vec![first];
            loop {
                while batch.len() < MAX_BATCH
                    && let Ok(command) = receiver.try_recv()
                {
                    waiting |= command.is_awaited();
                    batch.push(command);
                }
                if waiting || batch.len() >= MAX_BATCH {
                    break;
                }
                let Some(left) = deadline.checked_duration_since(Instant::now()) else {
                    break;
                };
                std::thread::park_timeout(left);
            }
            let applied = batch.len();
            window = if applied >= LOADED_BATCH {
                LOADED_GATHER_WINDOW
            } else {
                GATHER_WINDOW
            };
            self.apply_batch(batch);
            self.queued.fetch_sub(applied, Ordering::Relaxed);
            self.fit_cache();
        }
        tracing::debug!("store writer finished: every handle was dropped");
    }

    /// Grows the page cache with the number of open responses: a commit touches a page per open
    /// response, and pages that fall out of the cache are read back from disk by the next one.
    /// It never shrinks while the writer lives, so its size is set by the highest concurrency,
    /// never by how many responses a run has.
    fn fit_cache(&mut self) {
        let wanted = (self.response_ids.len() * CACHE_KIB_PER_OPEN_RESPONSE).clamp(MIN_CACHE_KIB, MAX_CACHE_KIB);
        if wanted <= self.cache_kib {
            return;
        }
        let kib = i64::try_from(wanted).unwrap_or(i64::MAX);
        match self.connection.pragma_update(None, "cache_size", -kib) {
            Ok(()) => self.cache_kib = wanted,
            Err(error) => tracing::debug!(%error, "cannot grow the writer's page cache"),
        }
    }

    fn apply_batch(&mut self, batch: Vec<WriteCommand>) {
        let mut result = self.apply_in_one_transaction(&batch);
        // Another connection holding the write lock past the busy timeout (a backup, a
        // `sqlite3` shell, another process) must not cost this run its events: wait and retry.
        let first_failure = Instant::now();
        let mut pause = LOCKED_RETRY_FIRST_PAUSE;
        while let Err(BatchFailure::NotStarted(error)) = &result
            && is_locked(error)
            && first_failure.elapsed() < LOCKED_RETRY_FOR
        {
            if pause == LOCKED_RETRY_FIRST_PAUSE {
                tracing::warn!(%error, "the database is locked by another connection; retrying the store batch");
            }
            // This is the writer's own thread, not an async worker: it may wait. A flush that
            // unparks it early only makes it try again sooner.
            std::thread::park_timeout(pause);
            pause = (pause * 2).min(LOCKED_RETRY_MAX_PAUSE);
            result = self.apply_in_one_transaction(&batch);
        }
        let outcomes = match result {
            Ok(outcomes) => outcomes,
            Err(BatchFailure::NotStarted(error)) => {
                // Nothing was applied and retrying write by write would only wait on the same
                // lock again for each of them.
                let message = error.to_string();
                batch
                    .iter()
                    .map(|command| command.is_write().then(|| format!("{}: {message}", command.describe())))
                    .collect()
            }
            Err(BatchFailure::RolledBack(error)) => {
                tracing::warn!(%error, "a store batch was rolled back; applying its writes one by one");
                // Ids cached during the rolled-back transaction may name rows that no longer exist.
                self.response_ids.clear();
                self.apply_one_by_one(&batch)
            }
        };
        self.settle(batch, outcomes);
    }

    /// The fast path. Returns, per command, the error that command met (SQLite undoes just the
    /// failed statement, so the rest of the batch still commits).
    fn apply_in_one_transaction(&mut self, batch: &[WriteCommand]) -> Result<Vec<Option<String>>, BatchFailure> {
        let transaction = self
            .connection
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(BatchFailure::NotStarted)?;
        let mut outcomes: Vec<Option<String>> = vec![None; batch.len()];
        // Events wait here until a command that could depend on them (a run's end, a resume, a
        // flush) or the batch's end, then go in sorted by response: a thousand interleaved streams
        // then write each response's rows together instead of hopping between pages per row.
        let mut pending: Vec<PendingEvent<'_>> = Vec::new();
        let mut events_failed = false;
        for (index, command) in batch.iter().enumerate() {
            let result = match command {
                WriteCommand::Event {
                    run,
                    key,
                    sequence,
                    attempt,
                    elapsed_us,
                    event,
                } => response_id(&transaction, &mut self.response_ids, *run, *key).map(|response_id| {
                    pending.push(PendingEvent {
                        command: index,
                        response_id,
                        sequence: *sequence,
                        attempt: *attempt,
                        elapsed_us: *elapsed_us,
                        event,
                    });
                }),
                WriteCommand::ResponseStarted { .. } | WriteCommand::ResponseFinished(_) => {
                    apply(&transaction, &mut self.response_ids, command)
                }
                _ => {
                    events_failed |= insert_pending_events(&transaction, &mut pending, batch, &mut outcomes);
                    apply(&transaction, &mut self.response_ids, command)
                }
            };
            // Some errors (disk full, I/O) make SQLite roll back the whole transaction; anything
            // applied after that would run outside it, one autocommit at a time.
            if (result.is_err() || events_failed) && transaction.is_autocommit() {
                return Err(BatchFailure::RolledBack(Error::Storage(
                    "SQLite rolled the transaction back".to_owned(),
                )));
            }
            if let Err(error) = result {
                outcomes[index] = Some(format!("{}: {error}", command.describe()));
            }
        }
        events_failed |= insert_pending_events(&transaction, &mut pending, batch, &mut outcomes);
        if events_failed && transaction.is_autocommit() {
            return Err(BatchFailure::RolledBack(Error::Storage(
                "SQLite rolled the transaction back".to_owned(),
            )));
        }
        transaction
            .commit()
            .map_err(|error| BatchFailure::RolledBack(error.into()))?;
        Ok(outcomes)
    }

    /// The slow path after a rolled-back batch: each write in its own transaction, so the writes
    /// that can succeed do.
    fn apply_one_by_one(&mut self, batch: &[WriteCommand]) -> Vec<Option<String>> {
        let mut outcomes = Vec::with_capacity(batch.len());
        for command in batch {
            if !command.is_write() {
                outcomes.push(None);
                continue;
            }
            let result = self
                .connection
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .map_err(Error::from)
                .and_then(|transaction| {
                    apply(&transaction, &mut self.response_ids, command)?;
                    transaction.commit().map_err(Error::from)
                });
            if let Err(error) = result {
                self.response_ids.clear();
                outcomes.push(Some(format!("{}: {error}", command.describe())));
            } else {
                outcomes.push(None);
            }
        }
        outcomes
    }

    /// Logs and remembers errors, then answers flushes and barriers, in the order they were sent.
    fn settle(&mut self, batch: Vec<WriteCommand>, outcomes: Vec<Option<String>>) {
        let mut failures = 0_usize;
        for (command, outcome) in batch.into_iter().zip(outcomes) {
            let failed = outcome.is_some();
            if let Some(message) = outcome {
                // One bad stream can fail thousands of events; the first says what happened.
                if failures == 0 {
                    tracing::error!(error = %message, "store write failed");
                }
                failures += 1;
                if self.unreported_error.is_none() {
                    self.unreported_error = Some(message);
                } else {
                    self.unreported_more += 1;
                }
            }
            match command {
                WriteCommand::Flush(reply) => {
                    let result = match self.unreported_error.take() {
                        None => Ok(()),
                        Some(message) if self.unreported_more == 0 => Err(Error::Storage(message)),
                        Some(message) => Err(Error::Storage(format!(
                            "{message} (and {} more failed writes)",
                            self.unreported_more
                        ))),
                    };
                    self.unreported_more = 0;
                    // The flushing task may have given up waiting; the error is logged either way.
                    let _ = reply.send(result);
                }
                WriteCommand::Barrier(reply) => {
                    // The dropping store may have stopped waiting; nothing else needs telling.
                    let _ = reply.send(());
                }
                WriteCommand::RunStarted(run, Some(lock)) if !failed => {
                    self.run_locks.insert(run.id, lock);
                }
                WriteCommand::RunResumed {
                    run, lock: Some(lock), ..
                } if !failed => {
                    self.run_locks.insert(run, lock);
                }
                // Kept while the end is not on disk: the run must not look finished, nor (once
                // this process is gone) alive.
                WriteCommand::RunFinished { run, .. } if !failed => {
                    self.run_locks.remove(&run);
                }
                WriteCommand::ResponseFinished(response) if failed => {
                    self.unsaved
                        .lock()
                        .unwrap_or_else(PoisonError::into_inner)
                        .push(*response);
                }
                _ => {}
            }
        }
        if failures > 1 {
            tracing::error!(failures, "store writes failed in one batch (the first is logged above)");
        }
    }
}

/// Whether `error` means another connection holds the lock (worth waiting for), as opposed to
/// a database that cannot be written at all.
fn is_locked(error: &rusqlite::Error) -> bool {
    matches!(
        error.sqlite_error_code(),
        Some(rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked)
    )
}

enum BatchFailure {
    /// The transaction could not begin (the database is locked or unreachable).
    NotStarted(rusqlite::Error),
    /// The transaction began but was rolled back as a whole.
    RolledBack(Error),
}

fn apply(
    connection: &Connection,
    response_ids: &mut HashMap<(RunId, ResponseKey), i64>,
    command: &WriteCommand,
) -> Result<()> {
    match command {
        WriteCommand::RunStarted(run, _) => atomically(connection, || insert_run(connection, run)),
        WriteCommand::ResponseStarted {
            run,
            key,
            target,
            provider,
            model,
            started_at_ms,
        } => {
            connection
                .prepare_cached(
                    "INSERT INTO responses (run_id, prompt_index, target_index, repeat_index, target, provider, \
                     model, status, started_at_ms) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
                )?
                .execute(params![
                    run.to_string(),
                    key.prompt_index,
                    key.target_index,
                    key.repeat_index,
                    target,
                    provider,
                    model,
                    RESPONSE_STATUS_RUNNING,
                    started_at_ms,
                ])?;
            response_ids.insert((*run, *key), connection.last_insert_rowid());
            Ok(())
        }
        WriteCommand::Event {
            run,
            key,
            sequence,
            attempt,
            elapsed_us,
            event,
        } => {
            let response_id = response_id(connection, response_ids, *run, *key)?;
            insert_event(connection, response_id, *sequence, *attempt, *elapsed_us, event)
        }
        WriteCommand::ResponseFinished(response) => {
            upsert_response(connection, response)?;
            // Events after the end are not expected; a late one finds the row by query.
            response_ids.remove(&(response.run_id, response.key));
            Ok(())
        }
        WriteCommand::RunResumed { run, keys, .. } => atomically(connection, || {
            let run_id = run.to_string();
            connection
                .prepare_cached("UPDATE runs SET status = ?1, finished_at_ms = NULL WHERE id = ?2")?
                .execute(params![RunStatus::Running, run_id])?;
            let mut delete = connection.prepare_cached(
                "DELETE FROM responses \
                 WHERE run_id = ?1 AND prompt_index = ?2 AND target_index = ?3 AND repeat_index = ?4",
            )?;
            for key in keys {
                delete.execute(params![run_id, key.prompt_index, key.target_index, key.repeat_index])?;
                response_ids.remove(&(*run, *key));
            }
            Ok(())
        }),
        WriteCommand::RunFinished {
            run,
            finished_at_ms,
            status,
        } => {
            response_ids.retain(|(response_run, _), _| response_run != run);
            let changed = atomically(connection, || {
                // A response whose end could not be stored would say `running` forever under a
                // finished run: it ends as incomplete, with what its events hold.
                super::finish_unfinished_responses(connection, *run, super::UNFINISHED_AT_RUN_END)?;
                Ok(connection
                    .prepare_cached("UPDATE runs SET finished_at_ms = ?1, status = ?2 WHERE id = ?3")?
                    .execute(params![finished_at_ms, status, run.to_string()])?)
            })?;
            if changed == 0 {
                return Err(Error::Storage("no such run (run_started was not sent)".to_owned()));
            }
            Ok(())
        }
        WriteCommand::RunClientLag { run, worst_ms } => {
            connection
                .prepare_cached(
                    "UPDATE runs SET max_client_lag_ms = max(coalesce(max_client_lag_ms, 0), ?1) WHERE id = ?2",
                )?
                .execute(params![worst_ms, run.to_string()])?;
            Ok(())
        }
        WriteCommand::Flush(_) | WriteCommand::Barrier(_) => Ok(()),
    }
}

/// Applies a write of several statements whole or not at all. The batch's transaction only undoes
/// a failed statement, which would leave, say, a run without some of its prompts.
fn atomically<T>(connection: &Connection, write: impl FnOnce() -> Result<T>) -> Result<T> {
    connection.execute_batch("SAVEPOINT write")?;
    let result = write();
    // After an error that already ended the transaction there is no savepoint left to undo; the
    // batch notices and retries its writes one by one.
    if !connection.is_autocommit() {
        let end = if result.is_ok() {
            "RELEASE write"
        } else {
            "ROLLBACK TO write; RELEASE write"
        };
        connection.execute_batch(end)?;
    }
    result
}

/// An event of the batch waiting to be inserted with the others (see
/// `WriterThread::apply_in_one_transaction`).
struct PendingEvent<'a> {
    /// Its command's place in the batch, for its outcome.
    command: usize,
    response_id: i64,
    sequence: u64,
    attempt: u32,
    elapsed_us: u64,
    event: &'a StreamEvent,
}

/// Inserts the pending events sorted by response and sequence, one row per response: its events
/// of this batch as one JSON array (`response_event_chunks`; the `response_events` view shows
/// them a row each). A row that fails is reported as the error of each of its events' commands;
/// the other responses' rows are stored. Returns whether any failed.
fn insert_pending_events(
    connection: &Connection,
    pending: &mut Vec<PendingEvent<'_>>,
    batch: &[WriteCommand],
    outcomes: &mut [Option<String>],
) -> bool {
    let mut failed = false;
    pending.sort_by_key(|event| (event.response_id, event.sequence));
    let mut json = Vec::new();
    for events in pending.chunk_by(|one, next| one.response_id == next.response_id) {
        let rows = events
            .iter()
            .map(|event| (event.sequence, event.attempt, event.elapsed_us, event.event));
        if let Err(error) = insert_chunk(connection, events[0].response_id, rows, &mut json) {
            for event in events {
                outcomes[event.command] = Some(format!("{}: {error}", batch[event.command].describe()));
            }
            failed = true;
        }
    }
    pending.clear();
    failed
}

/// Stores `events` (sequence, attempt, elapsed µs, event; in sequence order, at least one) of the
/// response whose row id is `response_id` as one row; `json` is scratch space.
fn insert_chunk<'a>(
    connection: &Connection,
    response_id: i64,
    events: impl Iterator<Item = (u64, u32, u64, &'a StreamEvent)>,
    json: &mut Vec<u8>,
) -> Result<()> {
    use std::io::Write as _;
    json.clear();
    json.push(b'[');
    let mut first_sequence = None;
    for (sequence, attempt, elapsed_us, event) in events {
        if first_sequence.is_some() {
            json.push(b',');
        }
        first_sequence.get_or_insert(sequence);
        let io = |error: std::io::Error| Error::Storage(format!("cannot encode an event: {error}"));
        write!(json, "[{sequence},{attempt},{elapsed_us},").map_err(io)?;
        serde_json::to_writer(&mut *json, event.kind()).map_err(|error| Error::Storage(error.to_string()))?;
        json.push(b',');
        serde_json::to_writer(&mut *json, event).map_err(|error| Error::Storage(error.to_string()))?;
        json.push(b']');
    }
    json.push(b']');
    let Some(first_sequence) = first_sequence else {
        return Ok(());
    };
    let text = std::str::from_utf8(json).map_err(|error| Error::Storage(error.to_string()))?;
    connection
        .prepare_cached(
            "INSERT INTO response_event_chunks (response_id, first_sequence, events_json) VALUES (?1, ?2, ?3)",
        )?
        .execute(params![response_id, first_sequence, text])?;
    Ok(())
}

/// The row id of the response `key` of `run`: remembered since its start, or looked up.
fn response_id(
    connection: &Connection,
    response_ids: &mut HashMap<(RunId, ResponseKey), i64>,
    run: RunId,
    key: ResponseKey,
) -> Result<i64> {
    if let Some(response_id) = response_ids.get(&(run, key)) {
        return Ok(*response_id);
    }
    let response_id = find_response_id(connection, run, key)?
        .ok_or_else(|| Error::Storage("no such response (response_started was not sent)".to_owned()))?;
    response_ids.insert((run, key), response_id);
    Ok(response_id)
}

fn find_response_id(connection: &Connection, run: RunId, key: ResponseKey) -> Result<Option<i64>> {
    Ok(connection
        .prepare_cached(
            "SELECT id FROM responses \
             WHERE run_id = ?1 AND prompt_index = ?2 AND target_index = ?3 AND repeat_index = ?4",
        )?
        .query_row(
            params![run.to_string(), key.prompt_index, key.target_index, key.repeat_index],
            |row| row.get(0),
        )
        .optional()?)
}

/// Stores one stream event of the response whose row id is `response_id`.
pub(super) fn insert_event(
    connection: &Connection,
    response_id: i64,
    sequence: u64,
    attempt: u32,
    elapsed_us: u64,
    event: &StreamEvent,
) -> Result<()> {
    insert_chunk(
        connection,
        response_id,
        std::iter::once((sequence, attempt, elapsed_us, event)),
        &mut Vec::new(),
    )
}

pub(super) fn insert_run(connection: &Connection, run: &RunRecord) -> Result<()> {
    let run_id = run.id.to_string();
    let prompt_count = u32::try_from(run.prompts.len()).unwrap_or(u32::MAX);
    let target_count = u32::try_from(run.targets.len()).unwrap_or(u32::MAX);
    let response_count = u64::from(prompt_count) * u64::from(target_count) * u64::from(run.repeat);
    connection
        .prepare_cached(
            "INSERT INTO runs (id, started_at_ms, finished_at_ms, status, parameters_json, targets_json, repeat, \
             prompt_count, response_count) VALUES (?1, ?2, NULL, ?3, ?4, ?5, ?6, ?7, ?8)",
        )?
        .execute(params![
            run_id,
            run.started_at_ms,
            RunStatus::Running,
            to_json(&run.parameters, "parameters")?,
            to_json(&run.targets, "targets")?,
            run.repeat,
            prompt_count,
            response_count,
        ])?;
    let mut insert_prompt = connection.prepare_cached(
        "INSERT INTO run_prompts (run_id, prompt_index, system, user_text, messages_json) \
         VALUES (?1, ?2, ?3, ?4, ?5)",
    )?;
    for (prompt_index, prompt) in run.prompts.iter().enumerate() {
        insert_prompt.execute(params![
            run_id,
            prompt_index,
            prompt.system,
            prompt.last_user_text(),
            to_json(&prompt.messages, "prompt messages")?,
        ])?;
    }
    Ok(())
}

pub(super) fn upsert_response(connection: &Connection, response: &ResponseRecord) -> Result<()> {
    let status = if response.complete {
        RESPONSE_STATUS_COMPLETE
    } else {
        RESPONSE_STATUS_INCOMPLETE
    };
    let usage_raw_json = if response.usage.raw.is_null() {
        None
    } else {
        Some(to_json(&response.usage.raw, "usage")?)
    };
    let error = response.error.as_ref();
    let error_json = error.map(|error| to_json(error, "error")).transpose()?;
    connection
        .prepare_cached(
            "INSERT INTO responses (
                run_id, prompt_index, target_index, repeat_index, target, provider, model, status,
                request_id, reported_model, base_model, region, system_fingerprint, service_tier, text, reasoning, tool_calls_json, finish_reason,
                raw_finish_reason, input_tokens, output_tokens, reasoning_tokens, cached_input_tokens,
                cache_creation_input_tokens, total_tokens, usage_raw_json, billed_input_tokens, billed_output_tokens, time_to_first_token_ms,
                total_ms, output_tokens_per_second, content_chunks, gap_p50_ms, gap_p95_ms, gap_max_ms,
                server_latency_ms, server_first_byte_ms, client_lag_first_token_ms, client_lag_end_ms, client_saturated,
                cost_usd, cost_source, complete, error_kind, error_message, error_status, error_code, error_retryable,
                error_json, attempts, unsupported_parameters_json, started_at_ms, finished_at_ms
            ) VALUES (
                :run_id, :prompt_index, :target_index, :repeat_index, :target, :provider, :model, :status,
                :request_id, :reported_model, :base_model, :region, :system_fingerprint, :service_tier, :text, :reasoning, :tool_calls_json, :finish_reason,
                :raw_finish_reason, :input_tokens, :output_tokens, :reasoning_tokens, :cached_input_tokens,
                :cache_creation_input_tokens, :total_tokens, :usage_raw_json, :billed_input_tokens, :billed_output_tokens, :time_to_first_token_ms,
                :total_ms, :output_tokens_per_second, :content_chunks, :gap_p50_ms, :gap_p95_ms, :gap_max_ms,
                :server_latency_ms, :server_first_byte_ms, :client_lag_first_token_ms, :client_lag_end_ms, :client_saturated,
                :cost_usd, :cost_source, :complete, :error_kind, :error_message, :error_status, :error_code, :error_retryable,
                :error_json, :attempts, :unsupported_parameters_json, :started_at_ms, :finished_at_ms
            )
            ON CONFLICT (run_id, prompt_index, target_index, repeat_index) DO UPDATE SET
                target = excluded.target,
                provider = excluded.provider,
                model = excluded.model,
                status = excluded.status,
                request_id = excluded.request_id,
                reported_model = excluded.reported_model,
                base_model = excluded.base_model,
                region = excluded.region,
                system_fingerprint = excluded.system_fingerprint,
                service_tier = excluded.service_tier,
                text = excluded.text,
                reasoning = excluded.reasoning,
                tool_calls_json = excluded.tool_calls_json,
                finish_reason = excluded.finish_reason,
                raw_finish_reason = excluded.raw_finish_reason,
                input_tokens = excluded.input_tokens,
                output_tokens = excluded.output_tokens,
                reasoning_tokens = excluded.reasoning_tokens,
                cached_input_tokens = excluded.cached_input_tokens,
                cache_creation_input_tokens = excluded.cache_creation_input_tokens,
                total_tokens = excluded.total_tokens,
                usage_raw_json = excluded.usage_raw_json,
                billed_input_tokens = excluded.billed_input_tokens,
                billed_output_tokens = excluded.billed_output_tokens,
                time_to_first_token_ms = excluded.time_to_first_token_ms,
                total_ms = excluded.total_ms,
                output_tokens_per_second = excluded.output_tokens_per_second,
                content_chunks = excluded.content_chunks,
                gap_p50_ms = excluded.gap_p50_ms,
                gap_p95_ms = excluded.gap_p95_ms,
                gap_max_ms = excluded.gap_max_ms,
                server_latency_ms = excluded.server_latency_ms,
                server_first_byte_ms = excluded.server_first_byte_ms,
                client_lag_first_token_ms = excluded.client_lag_first_token_ms,
                client_lag_end_ms = excluded.client_lag_end_ms,
                client_saturated = excluded.client_saturated,
                cost_usd = excluded.cost_usd,
                cost_source = excluded.cost_source,
                complete = excluded.complete,
                error_kind = excluded.error_kind,
                error_message = excluded.error_message,
                error_status = excluded.error_status,
                error_code = excluded.error_code,
                error_retryable = excluded.error_retryable,
                error_json = excluded.error_json,
                attempts = excluded.attempts,
                unsupported_parameters_json = excluded.unsupported_parameters_json,
                started_at_ms = excluded.started_at_ms,
                finished_at_ms = excluded.finished_at_ms",
        )?
        .execute(named_params! {
            ":run_id": response.run_id.to_string(),
            ":prompt_index": response.key.prompt_index,
            ":target_index": response.key.target_index,
            ":repeat_index": response.key.repeat_index,
            ":target": response.target,
            ":provider": response.provider,
            ":model": response.model,
            ":status": status,
            ":request_id": response.request_id,
            ":reported_model": response.reported_model,
            ":base_model": response.base_model,
            ":region": response.region,
            ":system_fingerprint": response.system_fingerprint,
            ":service_tier": response.service_tier,
            ":text": response.text,
            ":reasoning": response.reasoning,
            ":tool_calls_json": to_json(&response.tool_calls, "tool calls")?,
            ":finish_reason": response.finish_reason.map(|reason| reason.as_str()),
            ":raw_finish_reason": response.raw_finish_reason,
            ":input_tokens": response.usage.input_tokens,
            ":output_tokens": response.usage.output_tokens,
            ":reasoning_tokens": response.usage.reasoning_tokens,
            ":cached_input_tokens": response.usage.cached_input_tokens,
            ":cache_creation_input_tokens": response.usage.cache_creation_input_tokens,
            ":total_tokens": response.usage.total_tokens,
            ":usage_raw_json": usage_raw_json,
            ":billed_input_tokens": response.billed_input_tokens,
            ":billed_output_tokens": response.billed_output_tokens,
            ":time_to_first_token_ms": response.metrics.time_to_first_token_ms,
            ":total_ms": response.metrics.total_ms,
            ":output_tokens_per_second": response.metrics.output_tokens_per_second,
            ":content_chunks": response.metrics.content_chunks,
            ":gap_p50_ms": response.metrics.gap_p50_ms,
            ":gap_p95_ms": response.metrics.gap_p95_ms,
            ":gap_max_ms": response.metrics.gap_max_ms,
            ":server_latency_ms": response.metrics.server_latency_ms,
            ":server_first_byte_ms": response.metrics.server_first_byte_ms,
            ":client_lag_first_token_ms": response.metrics.client_lag_first_token_ms,
            ":client_lag_end_ms": response.metrics.client_lag_end_ms,
            ":client_saturated": response.metrics.client_saturated,
            ":cost_usd": response.cost_usd,
            ":cost_source": response.cost_source,
            ":complete": response.complete,
            ":error_kind": error.map(|error| error.kind.as_str()),
            ":error_message": error.map(|error| error.message.as_str()),
            ":error_status": error.and_then(|error| error.status),
            ":error_code": error.and_then(|error| error.code.as_deref()),
            ":error_retryable": error.map(ProviderError::retryable),
            ":error_json": error_json,
            ":attempts": response.attempts,
            ":unsupported_parameters_json": to_json(&response.unsupported_parameters, "unsupported parameters")?,
            ":started_at_ms": response.started_at_ms,
            ":finished_at_ms": response.finished_at_ms,
        })?;
    Ok(())
}
