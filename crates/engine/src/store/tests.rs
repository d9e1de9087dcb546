use std::collections::BTreeMap;

use serde_json::json;
use tempfile::TempDir;

use super::*;
use crate::model::error::ProviderError;
use crate::model::event::{FinishReason, ResponseKey, ResponseMeta, StampedEvent, StreamEvent, Usage};
use crate::model::record::{Metrics, ResponseRecord, RunRecord, ToolCall};
use crate::model::request::{Message, Parameters, Prompt, Role};
use crate::model::target::{ProviderKind, Target};
use crate::pricing::{PriceOverride, Rates};

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
            system_fingerprint: Some("fp_5a1d0c".to_owned()),
            service_tier: Some("default".to_owned()),
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
        system_fingerprint: Some("fp_5a1d0c".to_owned()),
        service_tier: Some("default".to_owned()),
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
            client_lag_first_token_ms: Some(0.4),
            client_lag_end_ms: Some(7.5),
            client_saturated: true,
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
        system_fingerprint: None,
        service_tier: None,
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
async fn run_statuses_keep_their_text_in_the_column_and_on_the_wire() -> TestResult {
    let (_directory, store) = open_store()?;
    let writer = store.writer();
    let run = sample_run();
    writer.run_started(&run);
    writer.run_finished(run.id, 1_790_000_001_000, RunStatus::Cancelled);
    writer.flush().await?;
    let column: String =
        store
            .connection()
            .query_row("SELECT status FROM runs WHERE id = ?1", [run.id.to_string()], |row| {
                row.get(0)
            })?;
    assert_eq!(column, "cancelled");
    for status in RunStatus::ALL {
        assert_eq!(serde_json::to_value(status)?, json!(status.as_str()));
        assert_eq!(RunStatus::parse(status.as_str()), Some(status));
    }

    // A status this build does not know is refused by name, never shown as another one.
    store.connection().execute(
        "UPDATE runs SET status = 'archived' WHERE id = ?1",
        [run.id.to_string()],
    )?;
    let error = store.load_run(run.id).expect_err("an unknown status").to_string();
    assert!(error.contains("unknown run status 'archived'"), "{error}");
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
    writer.run_finished(run.id, 1_790_000_001_000, RunStatus::Completed);
    writer.flush().await?;

    let stored = store.load_run(run.id)?.ok_or("the run is missing")?;
    assert_eq!(stored.record, run);
    assert_eq!(stored.status, RunStatus::Completed);
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
            status: RunStatus::Completed,
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
    assert_eq!(stored.status, RunStatus::Interrupted);
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
    assert_eq!(hits[0].kind, SearchHitKind::Response);
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
    assert_eq!(stored.status, RunStatus::Running);
    assert_eq!(other.list_runs(1)?[0].running_count, 1);
    // Once its end is committed the lock goes, and nothing is repaired.
    writer.run_finished(run.id, 1_790_000_009_000, RunStatus::Cancelled);
    writer.flush().await?;
    drop(other);
    let reopened = Store::open(&path)?;
    let stored = reopened.load_run(run.id)?.ok_or("the run is missing")?;
    assert_eq!(stored.status, RunStatus::Cancelled);
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
            kind: SearchHitKind::Prompt,
            target: None,
            prompt_index: 0,
            snippet: "Explain the [aurora] borealis".to_owned(),
        }]
    );

    let hits = store.search("pirate", 10)?;
    assert_eq!(hits.len(), 1);
    assert_eq!(hits[0].kind, SearchHitKind::System);

    let hits = store.search("fast", 10)?;
    assert_eq!((hits.len(), hits[0].prompt_index), (1, 1));

    // Diacritics are folded: "boreales" finds "boréales".
    let hits = store.search("boreales GREEN", 10)?;
    assert_eq!(hits.len(), 1);
    assert_eq!(hits[0].kind, SearchHitKind::Response);
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
    let model: String = store
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
    writer.run_finished(RunId::new(), 1, RunStatus::Completed);
    // The same run twice breaks its primary key.
    writer.run_started(&run);
    writer.response_started(run.id, key(0, 0, 0), "gpt", "openai", "gpt-5.4", 1);
    writer.event(
        run.id,
        &stamped(key(0, 0, 0), 0, 0, StreamEvent::TextDelta { text: "ok".to_owned() }),
    );
    writer.run_finished(run.id, 2, RunStatus::Completed);

    let error = writer
        .flush()
        .await
        .expect_err("the failed writes are reported")
        .to_string();
    assert!(error.contains("no such response"), "{error}");
    assert!(error.contains("and 2 more failed writes"), "{error}");
    writer.flush().await?;

    let stored = store.load_run(run.id)?.ok_or("the run is missing")?;
    assert_eq!(stored.status, RunStatus::Completed);
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
