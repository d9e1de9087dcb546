//! A test host: nothing but a closure for a sink and a store in a temporary directory, to prove
//! that the workbench runs a run (start, stream, cancel) without a desktop or a terminal around
//! it, and that its batching keeps to one `events` message per frame.
//!
//! The frames are checked in virtual time (`start_paused`), with events fed by hand, so 16 ms is
//! exactly 16 ms; the runs go to fakecloud on 127.0.0.1 in real time, with a real SQLite file.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use fakecloud::{Config, FakeCloud, Scenario};
use modelbench_engine::credentials::{Secret, StaticCredentials};
use modelbench_engine::runner::RunEvent;
use modelbench_engine::store::RunStatus;
use modelbench_engine::{ProviderKind, ResponseKey, ResponseRecord, RunId, StampedEvent, StreamEvent, Target};
use modelbench_workbench::run::{FRAME, forward_events};
use modelbench_workbench::session::live::{
    PROGRESS_INTERVAL, ProgressTally, SessionMessage, SessionProgress, forward_progress,
};
use modelbench_workbench::session::suites::SessionRequest;
use modelbench_workbench::{RunMessage, RunRequest, Workbench, data_dir};
use tokio::sync::mpsc;
use tokio::time::Instant;

/// What the host received, each message with the (virtual or real) time it arrived.
type Received = Arc<Mutex<Vec<(Instant, RunMessage)>>>;

fn recording_sink() -> (Received, impl Fn(RunMessage) + Send + Sync + 'static) {
    let received: Received = Arc::default();
    let into = received.clone();
    (received, move |message| {
        into.lock().expect("not poisoned").push((Instant::now(), message));
    })
}

fn key(target_index: u32) -> ResponseKey {
    ResponseKey {
        prompt_index: 0,
        target_index,
        repeat_index: 0,
    }
}

fn text_event(sequence: u64) -> RunEvent {
    RunEvent::Stream(StampedEvent {
        response_key: key(0),
        target: "a".into(),
        attempt: 0,
        sequence,
        elapsed_us: sequence * 1_000,
        event: StreamEvent::TextDelta {
            text: format!("word{sequence} "),
        },
    })
}

/// A final record of response `key(0)`, only as much of it as the batching looks at.
fn finished_record() -> RunEvent {
    let record = serde_json::json!({
        "run_id": "0193a8f0-0000-7000-8000-000000000001", "key": key(0), "target": "a",
        "provider": "openai", "model": "m", "text": "", "reasoning": "", "tool_calls": [],
        "usage": {}, "metrics": {"total_ms": 1.0, "content_chunks": 0}, "complete": true,
        "attempts": 1, "unsupported_parameters": [], "started_at_ms": 0, "finished_at_ms": 0,
    });
    RunEvent::ResponseFinished(Box::new(serde_json::from_value(record).expect("a response record")))
}

/// The sequence numbers of an `events` message, or `None` for any other message.
fn sequences(message: &RunMessage) -> Option<Vec<u64>> {
    match message {
        RunMessage::Events { events, .. } => Some(events.iter().map(|event| event.sequence).collect()),
        _ => None,
    }
}

#[tokio::test(start_paused = true)]
async fn events_go_out_once_per_frame_and_a_record_flushes_its_text_first() {
    let (received, sink) = recording_sink();
    let (sender, mut events) = mpsc::unbounded_channel();
    let start = Instant::now();
    let forwarding = tokio::spawn(async move { forward_events(&mut events, &sink).await });
    let at = |milliseconds: u64| start + Duration::from_millis(milliseconds);

    // Three events inside one frame: one message, exactly one frame after the first.
    for (sequence, milliseconds) in [(0, 0), (1, 5), (2, 15)] {
        tokio::time::sleep_until(at(milliseconds)).await;
        sender.send(text_event(sequence)).expect("forwarding");
    }
    // The next frame starts with the next event, not on a fixed beat.
    tokio::time::sleep_until(at(20)).await;
    sender.send(text_event(3)).expect("forwarding");
    // A final record does not wait for the frame: the text before it goes first, at once.
    tokio::time::sleep_until(at(40)).await;
    sender.send(text_event(4)).expect("forwarding");
    tokio::time::sleep_until(at(45)).await;
    sender.send(finished_record()).expect("forwarding");
    // A lone event at the very end goes out when the run's events end, without waiting.
    tokio::time::sleep_until(at(50)).await;
    sender.send(text_event(5)).expect("forwarding");
    drop(sender);
    forwarding.await.expect("forwarding ends with the events");

    let received = received.lock().expect("not poisoned");
    let shape: Vec<(Duration, Option<Vec<u64>>)> = received
        .iter()
        .map(|(when, message)| (*when - start, sequences(message)))
        .collect();
    assert_eq!(
        shape,
        vec![
            (FRAME, Some(vec![0, 1, 2])),
            (Duration::from_millis(20) + FRAME, Some(vec![3])),
            (Duration::from_millis(45), Some(vec![4])),
            (Duration::from_millis(45), None),
            (Duration::from_millis(50), Some(vec![5])),
        ]
    );
    assert!(matches!(received[3].1, RunMessage::Response { .. }));
}

/// fakecloud answering every request with `scenario`, and a workbench over a fresh database in a
/// temporary directory with the target `gpt` saved at it.
async fn serving(scenario: Scenario) -> (FakeCloud, tempfile::TempDir, Workbench) {
    let cloud = FakeCloud::start(Config {
        default_scenario: scenario,
        ..Config::default()
    })
    .await
    .expect("fakecloud");
    let directory = tempfile::tempdir().expect("temporary directory");
    let workbench = workbench(&directory);
    saved(&workbench, "gpt", ProviderKind::OpenAi, "gpt-4o", &cloud.base_url());
    (cloud, directory, workbench)
}

/// The messages received so far, without their times.
fn messages(received: &Received) -> Vec<RunMessage> {
    received
        .lock()
        .expect("not poisoned")
        .drain(..)
        .map(|(_, message)| message)
        .collect()
}

/// A workbench over a fresh database in a temporary directory, with fakecloud's keys.
fn workbench(directory: &tempfile::TempDir) -> Workbench {
    let store = data_dir::open_store(directory.path()).expect("a database in the temporary directory");
    let credentials = StaticCredentials::new()
        .with("OPENAI_API_KEY", Secret::new("fake-key"))
        .with("ANTHROPIC_API_KEY", Secret::new("fake-key"));
    Workbench::new(Arc::new(store), Arc::new(credentials)).expect("workbench")
}

fn saved(workbench: &Workbench, name: &str, provider: ProviderKind, model: &str, base_url: &str) {
    let mut target = Target::new(name, provider, model);
    target.base_url = Some(match provider {
        ProviderKind::OpenAi => format!("{base_url}/v1"),
        _ => base_url.to_owned(),
    });
    workbench.store().save_target(&target).expect("saved");
}

fn request(targets: &[&str]) -> RunRequest {
    RunRequest {
        targets: targets.iter().map(|name| (*name).to_owned()).collect(),
        system: None,
        prompt: "Say something.".into(),
        parameters: Default::default(),
    }
}

/// Waits until the host has received a message matching `done`.
async fn until(received: &Received, done: impl Fn(&RunMessage) -> bool) {
    tokio::time::timeout(Duration::from_secs(30), async {
        loop {
            if received
                .lock()
                .expect("not poisoned")
                .iter()
                .any(|(_, message)| done(message))
            {
                return;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    })
    .await
    .expect("the message within 30 s");
}

fn ended(message: &RunMessage) -> bool {
    matches!(message, RunMessage::Finished { .. } | RunMessage::Failed { .. })
}

#[tokio::test]
async fn a_run_streams_to_the_test_host_and_is_stored() {
    let streaming = Scenario {
        time_to_first_token: Duration::from_millis(5),
        tokens: 40,
        inter_token_delay: Duration::from_millis(2),
        ..Scenario::default()
    };
    let (cloud, directory, workbench) = serving(streaming).await;
    saved(
        &workbench,
        "claude",
        ProviderKind::Anthropic,
        "claude-sonnet-4-5",
        &cloud.base_url(),
    );

    let (received, sink) = recording_sink();
    let run_id = workbench.start_run(request(&["gpt", "claude"]), sink).expect("started");
    assert!(workbench.running().contains(run_id), "registered while it runs");
    until(&received, ended).await;

    let received = messages(&received);
    let RunMessage::Started {
        run_id: started,
        targets,
    } = &received[0]
    else {
        panic!("first a started message: {:?}", received[0]);
    };
    assert_eq!(*started, run_id);
    let names: Vec<&str> = targets.iter().map(|target| target.name.as_str()).collect();
    assert_eq!(names, ["gpt", "claude"]);
    assert!(matches!(received.last(), Some(RunMessage::Finished { run_id: finished }) if *finished == run_id));

    // Per response: its text streamed in batches, every event before its record, and the
    // streamed text is the recorded text.
    let mut streamed: HashMap<ResponseKey, String> = HashMap::new();
    let mut recorded: HashMap<ResponseKey, ResponseRecord> = HashMap::new();
    let mut live_metrics = HashMap::new();
    let (mut events, mut messages) = (0, 0);
    for message in &received {
        match message {
            RunMessage::Events { events: batch, live } => {
                assert!(!batch.is_empty(), "no empty batches");
                for response in live {
                    assert!(
                        batch.iter().any(|event| event.response_key == response.response_key),
                        "live metrics only for the responses the batch touched"
                    );
                    live_metrics.insert(response.response_key, response.metrics.clone());
                }
                messages += 1;
                for event in batch {
                    events += 1;
                    assert!(
                        !recorded.contains_key(&event.response_key),
                        "an event of {} after its record",
                        event.target
                    );
                    if let StreamEvent::TextDelta { text } = &event.event {
                        streamed.entry(event.response_key).or_default().push_str(text);
                    }
                }
            }
            RunMessage::Response { response } => {
                recorded.insert(response.key, (**response).clone());
            }
            _ => {}
        }
    }
    assert_eq!(recorded.len(), 2);
    for (key, response) in &recorded {
        assert!(response.complete, "{}: {:?}", response.target, response.error);
        assert_eq!(streamed.get(key), Some(&response.text), "{}", response.target);
        // The last live figures are the stored ones: one formula, in the engine. (Events carry
        // their time in whole microseconds, the record in nanoseconds: within a microsecond.)
        let live = &live_metrics[key];
        let first_token = |metrics: Option<f64>| metrics.expect("a first token");
        assert!(
            (first_token(live.time_to_first_token_ms) - first_token(response.metrics.time_to_first_token_ms)).abs()
                < 0.001
        );
        let (live_speed, stored_speed) = (
            live.output_tokens_per_second.expect("a live speed"),
            response.metrics.output_tokens_per_second.expect("a stored speed"),
        );
        assert!(
            (live_speed - stored_speed).abs() / stored_speed < 1e-3,
            "{live_speed} vs {stored_speed}"
        );
    }
    assert!(
        messages < events,
        "{events} events in {messages} messages: batched, not one message each"
    );

    let stored = workbench.load_run(run_id).await.expect("stored");
    assert_eq!(stored.status, RunStatus::Completed);
    assert_eq!(stored.responses.len(), 2);
    assert!(directory.path().join(modelbench_engine::store::DATABASE_FILE).is_file());
    let listed = workbench.list_runs(None, 10).await.expect("listed");
    assert_eq!(listed.iter().map(|run| run.id).collect::<Vec<_>>(), [run_id]);
    // Out of the registry once it has ended: a Stop now has nothing to cancel.
    until_unregistered(&workbench, run_id).await;
    workbench.stop_run(run_id);
}

async fn until_unregistered(workbench: &Workbench, run_id: RunId) {
    tokio::time::timeout(Duration::from_secs(5), async {
        while workbench.running().contains(run_id) {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    })
    .await
    .expect("unregistered once ended");
}

#[tokio::test]
async fn stop_cancels_a_streaming_run_and_keeps_what_arrived() {
    // Long enough that only Stop ends it: 2,000 tokens, 10 ms apart.
    let slow = Scenario {
        time_to_first_token: Duration::from_millis(5),
        tokens: 2_000,
        inter_token_delay: Duration::from_millis(10),
        ..Scenario::default()
    };
    let (_cloud, _directory, workbench) = serving(slow).await;

    let (received, sink) = recording_sink();
    let run_id = workbench.start_run(request(&["gpt"]), sink).expect("started");
    until(&received, |message| {
        sequences(message).is_some_and(|batch| batch.len() > 1)
    })
    .await;
    workbench.stop_run(run_id);
    until(&received, ended).await;

    let received = messages(&received);
    assert!(
        matches!(received.last(), Some(RunMessage::Finished { .. })),
        "{:?}",
        received.last()
    );
    let record = received
        .iter()
        .find_map(|message| match message {
            RunMessage::Response { response } => Some(response),
            _ => None,
        })
        .expect("the cancelled response's record");
    assert!(!record.complete, "cancelled part-way");
    assert!(!record.text.is_empty(), "what arrived is kept");
    until_unregistered(&workbench, run_id).await;

    let stored = workbench.load_run(run_id).await.expect("stored");
    assert_eq!(stored.status, RunStatus::Cancelled);
    assert_eq!(stored.responses[0].text, record.text);
}

#[tokio::test]
async fn an_unknown_target_starts_nothing() {
    let directory = tempfile::tempdir().expect("temporary directory");
    let workbench = workbench(&directory);
    let (received, sink) = recording_sink();
    let error = workbench
        .start_run(request(&["nobody"]), sink)
        .expect_err("no such target");
    assert_eq!(error.to_string(), "no target named 'nobody'");
    assert!(received.lock().expect("not poisoned").is_empty());
    assert!(workbench.list_runs(None, 10).await.expect("listed").is_empty());
}

/// A final record of call `prompt_index` to target `target_index`, with its time to first token
/// or its error.
fn session_record(prompt_index: u32, target_index: u32, outcome: Result<f64, &str>) -> RunEvent {
    let (complete, error, ttft) = match outcome {
        Ok(ttft) => (true, serde_json::Value::Null, serde_json::json!(ttft)),
        Err(kind) => (
            false,
            serde_json::json!({"kind": kind, "provider": "openai", "status": 400, "code": null, "message": "refused", "retryable": false, "target": "b"}),
            serde_json::Value::Null,
        ),
    };
    let record = serde_json::json!({
        "run_id": "0193a8f0-0000-7000-8000-000000000001",
        "key": {"prompt_index": prompt_index, "target_index": target_index, "repeat_index": 0},
        "target": if target_index == 0 { "a" } else { "b" },
        "provider": "openai", "model": "m", "text": "", "reasoning": "", "tool_calls": [],
        "usage": {}, "metrics": {"total_ms": 1.0, "content_chunks": 0, "time_to_first_token_ms": ttft},
        "complete": complete, "error": error, "cost_usd": 0.5,
        "attempts": 1, "unsupported_parameters": [], "started_at_ms": 0, "finished_at_ms": 0,
    });
    RunEvent::ResponseFinished(Box::new(serde_json::from_value(record).expect("a response record")))
}

type SessionReceived = Arc<Mutex<Vec<(Instant, SessionMessage)>>>;

fn session_sink() -> (SessionReceived, impl Fn(SessionMessage) + Send + Sync + 'static) {
    let received: SessionReceived = Arc::default();
    let into = received.clone();
    (received, move |message| {
        into.lock().expect("not poisoned").push((Instant::now(), message));
    })
}

#[tokio::test(start_paused = true)]
async fn session_progress_goes_out_at_most_every_250_ms_and_counts_every_call() {
    let (received, sink) = session_sink();
    let (sender, mut events) = mpsc::unbounded_channel();
    let start = Instant::now();
    let names = ["a".to_owned(), "b".to_owned()];
    let forwarding = tokio::spawn(async move {
        let mut tally = ProgressTally::new(&names, 10, Some(20.0));
        forward_progress(&mut events, &mut tally, &sink).await;
        tally
    });
    // Ten calls 30 ms apart: a's answer in 100, 300, 200, 400, 500 ms; b refuses once.
    let ttfts = [100.0, 300.0, 200.0, 400.0, 500.0];
    for index in 0..10u32 {
        tokio::time::sleep_until(start + Duration::from_millis(30 * u64::from(index))).await;
        let event = match index {
            9 => session_record(index, 1, Err("validation")),
            _ if index % 2 == 0 => session_record(index, 0, Ok(ttfts[index as usize / 2])),
            _ => session_record(index, 1, Ok(50.0)),
        };
        sender.send(event).expect("forwarding");
    }
    drop(sender);
    let tally = forwarding.await.expect("forwarding ends with its events");

    let received = received.lock().expect("not poisoned");
    let times: Vec<Duration> = received.iter().map(|(at, _)| *at - start).collect();
    // The first change at once; the changes of the next 250 ms together, when they have passed;
    // the last call (270 ms) is not sent before 500 ms, and the stream ended first: the end's
    // own message carries it.
    assert_eq!(
        times,
        [
            Duration::ZERO,
            Duration::from_millis(PROGRESS_INTERVAL.as_millis() as u64)
        ]
    );
    let SessionMessage::Progress { progress } = &received[1].1 else {
        panic!("progress messages only: {received:?}");
    };
    assert_eq!(progress.done, 9, "the calls of the first 250 ms");
    let progress = tally.snapshot();
    assert_eq!(progress.done, 10);
    assert_eq!(progress.planned, 20);
    assert_eq!(progress.spent_usd, 5.0);
    assert_eq!(progress.budget_usd, Some(20.0));
    let (a, b) = (&progress.targets[0], &progress.targets[1]);
    assert_eq!((a.target.as_str(), a.done, a.planned), ("a", 5, 10));
    assert_eq!(a.time_to_first_token_p50_ms, Some(300.0), "the median of 100…500 ms");
    assert!(a.errors.is_empty());
    assert_eq!(b.done, 5);
    assert_eq!(b.errors.get("validation"), Some(&1));
    assert_eq!(
        b.time_to_first_token_p50_ms,
        Some(50.0),
        "errors have no time to first token"
    );
}

const SUITE: &str = "name: capitals\ndefaults:\n  parameters:\n    max_output_tokens: 50\nprompts:\n  - \"What is the capital of {{country}}?\"\ntests:\n  - id: fr\n    vars: {country: France}\n    checks:\n      - type: icontains\n        value: paris\n  - id: de\n    vars: {country: Germany}\n    checks:\n      - type: icontains\n        value: berlin\n  - id: it\n    vars: {country: Italy}\n";

/// Waits for the session's end message and returns every message received.
async fn session_until_end(received: &SessionReceived) -> Vec<SessionMessage> {
    tokio::time::timeout(Duration::from_secs(30), async {
        loop {
            let messages: Vec<SessionMessage> = received
                .lock()
                .expect("not poisoned")
                .iter()
                .map(|(_, message)| message.clone())
                .collect();
            if messages
                .iter()
                .any(|message| matches!(message, SessionMessage::Finished { .. } | SessionMessage::Failed { .. }))
            {
                return messages;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    })
    .await
    .expect("the session ends within 30 s")
}

/// Starts a session of [`SUITE`] twice over on `gpt`, one call at a time, under `budget_usd`.
fn capitals_twice_on_gpt(
    workbench: &Workbench,
    directory: &tempfile::TempDir,
    budget_usd: Option<f64>,
) -> (RunId, SessionReceived) {
    let path = directory.path().join("capitals.yaml");
    std::fs::write(&path, SUITE).expect("write");
    let suite = workbench.import_suite(&path).expect("imported");
    let request = SessionRequest {
        suite_hash: suite.hash,
        targets: vec!["gpt".to_owned()],
        repeat: 2,
        concurrency: 1,
        budget_usd,
    };
    let (received, sink) = session_sink();
    let session_id = workbench
        .start_session_live(workbench.plan_session(&request).expect("a plan"), sink)
        .expect("started");
    (session_id, received)
}

fn finished(messages: &[SessionMessage]) -> (String, SessionProgress) {
    match messages.last() {
        Some(SessionMessage::Finished { status, progress, .. }) => (status.clone(), progress.clone()),
        other => panic!("the session ended with {other:?}"),
    }
}

#[tokio::test]
async fn a_session_runs_from_an_imported_suite_for_the_test_host_and_reads_back() {
    let (cloud, directory, workbench) = serving(Scenario {
        time_to_first_token: Duration::from_millis(5),
        text: Some("Paris is the capital.".to_owned()),
        ..Scenario::default()
    })
    .await;
    saved(&workbench, "gpt-b", ProviderKind::OpenAi, "gpt-4o", &cloud.base_url());
    let broken = directory.path().join("broken.yaml");
    std::fs::write(
        &broken,
        "name: broken\ntests:\n  - id: a\n    checks:\n      - type: no-such-check\n",
    )
    .expect("write");
    let error = workbench
        .import_suite(&broken)
        .expect_err("a suite with errors")
        .to_string();
    assert!(error.contains("broken.yaml"), "names the file: {error}");
    assert!(error.contains("no-such-check"), "names the cause: {error}");

    let path = directory.path().join("capitals.yaml");
    std::fs::write(&path, SUITE).expect("write");
    let suite = workbench.import_suite(&path).expect("imported");
    assert_eq!(
        (suite.name.as_str(), suite.tests, suite.cases, suite.checks),
        ("capitals", 3, 3, 2)
    );
    assert_eq!(suite.max_output_tokens, Some(50));
    assert_eq!(workbench.list_suites().expect("suites"), std::slice::from_ref(&suite));
    assert_eq!(workbench.load_suite(&suite.hash).expect("by hash"), suite);

    let request = |targets: &[&str], repeat: u32| SessionRequest {
        suite_hash: suite.hash.clone(),
        targets: targets.iter().map(|name| (*name).to_owned()).collect(),
        repeat,
        concurrency: 2,
        budget_usd: None,
    };
    let refused = |request: SessionRequest| match workbench.plan_session(&request) {
        Ok(_) => panic!("{request:?} must be refused"),
        Err(error) => error.to_string(),
    };
    assert!(refused(request(&["gpt"], 0)).contains("repeat"));
    assert!(refused(request(&[], 1)).contains("at least one target"));
    assert!(refused(request(&["nowhere"], 1)).contains("'nowhere'"));
    assert!(
        refused(SessionRequest {
            suite_hash: "feed".into(),
            ..request(&["gpt"], 1)
        })
        .contains("no stored suite 'feed'")
    );

    let (received, sink) = session_sink();
    let plan = workbench.plan_session(&request(&["gpt", "gpt-b"], 2)).expect("a plan");
    let session_id = workbench.start_session_live(plan, sink).expect("started");
    let messages = session_until_end(&received).await;
    let Some(SessionMessage::Started { progress, .. }) = messages.first() else {
        panic!("started first: {messages:?}");
    };
    assert_eq!((progress.done, progress.planned), (0, 12));
    let (status, progress) = finished(&messages);
    assert_eq!(status, "completed");
    assert_eq!((progress.done, progress.planned), (12, 12));
    for target in &progress.targets {
        assert_eq!((target.done, target.planned), (6, 6), "{}", target.target);
        assert!(target.errors.is_empty(), "{target:?}");
        assert!(
            target.time_to_first_token_p50_ms.is_some_and(|ms| ms >= 5.0),
            "{target:?}"
        );
    }
    assert_eq!(cloud.requests().len(), 12, "every call sent once");

    let sessions = workbench.list_sessions().expect("sessions");
    assert_eq!(sessions.len(), 1);
    assert_eq!((sessions[0].id, sessions[0].status.as_str()), (session_id, "completed"));
    let (_, analysis) = workbench.analyse_session(&session_id.to_string()).expect("analysis");
    let pass_rates: Vec<Option<f64>> = analysis.targets.iter().map(|target| target.pass_rate.value).collect();
    assert_eq!(
        pass_rates,
        [Some(0.5), Some(0.5)],
        "Paris passes, Berlin fails, Italy has no check"
    );
    let report = workbench
        .export_session(
            &session_id.to_string(),
            modelbench_engine::session::report::Format::Markdown,
        )
        .expect("report");
    assert!(report.contains("capitals"), "{report}");
}

#[tokio::test]
async fn a_session_stopped_by_its_budget_resumes_from_what_it_had() {
    let (cloud, directory, workbench) = serving(Scenario {
        time_to_first_token: Duration::from_millis(5),
        // Answers near the 50-token bound: each call spends about its worst case.
        tokens: 40,
        ..Scenario::default()
    })
    .await;
    // Room for about two calls at their worst case (gpt-4o, 50 output tokens).
    let (session_id, received) = capitals_twice_on_gpt(&workbench, &directory, Some(0.0012));
    let (status, stopped) = finished(&session_until_end(&received).await);
    assert_eq!(status, "stopped");
    assert!(stopped.done > 0 && stopped.done < 6, "{stopped:?}");
    assert_eq!(cloud.requests().len() as u64, stopped.done);
    assert_eq!(workbench.list_sessions().expect("sessions")[0].status, "stopped");

    // The target has moved since (as the simulated clouds do at each launch of the app): the
    // resume goes where it is served now.
    let moved = FakeCloud::start(Config {
        default_scenario: Scenario {
            tokens: 40,
            ..Scenario::default()
        },
        ..Config::default()
    })
    .await
    .expect("fakecloud");
    saved(&workbench, "gpt", ProviderKind::OpenAi, "gpt-4o", &moved.base_url());
    let (received, sink) = session_sink();
    let resumed = workbench
        .resume_session_live(&session_id.to_string(), Some(1.0), sink)
        .expect("resumed");
    assert_eq!(resumed, Some(session_id));
    let messages = session_until_end(&received).await;
    let Some(SessionMessage::Started { progress, .. }) = messages.first() else {
        panic!("started first: {messages:?}");
    };
    assert_eq!(
        progress.done, stopped.done,
        "the resume counts what the first start finished"
    );
    assert_eq!(progress.budget_usd, Some(1.0));
    let (status, progress) = finished(&messages);
    assert_eq!(status, "completed");
    assert_eq!((progress.done, progress.planned), (6, 6));
    assert_eq!(cloud.requests().len() + moved.requests().len(), 6, "nothing sent twice");
    assert_eq!(
        moved.requests().len() as u64,
        6 - stopped.done,
        "the rest went where it is now"
    );
}

const EDITED_SUITE: &str = "name: edited
defaults:
  parameters: {max_output_tokens: 40}
prompts: ['{{question}}']
tests:
  - id: capital
    vars: {question: What is the capital of France?}
    checks:
      - {type: icontains, value: paris}
      - {type: regex, value: '^Berlin'}
  - id: other
    vars: {question: Anything?}
";

#[tokio::test]
async fn a_suite_is_edited_checked_at_its_fields_saved_and_dry_checked_against_a_target() {
    use modelbench_workbench::session::editor::{DryCheckRequest, draft_of_document, draft_of_text};
    let (cloud, _directory, workbench) = serving(Scenario {
        text: Some("Paris is the capital.".to_owned()),
        ..Scenario::default()
    })
    .await;
    let stored = workbench
        .add_suite_text(EDITED_SUITE, modelbench_engine::suite::SuiteFormat::Yaml)
        .expect("stored");
    let opened = workbench.open_suite_draft(&stored.hash).expect("opens");
    assert_eq!(opened.text, EDITED_SUITE, "a YAML suite opens as its own text");
    assert!(opened.errors.is_empty(), "{:?}", opened.errors);
    assert!(opened.check_types.iter().any(|name| name == "regex"));
    let mut document = opened.document.expect("fields");

    document.tests[0].checks[1].value = Some(serde_json::json!("(unclosed"));
    let broken = draft_of_document(document.clone());
    assert_eq!(broken.errors.len(), 1, "{:?}", broken.errors);
    assert_eq!(broken.errors[0].path.as_deref(), Some("tests[0].checks[1].value"));
    assert!(broken.errors[0].message.starts_with("bad regex"), "{:?}", broken.errors);
    let line = broken.errors[0].line.expect("a line in the YAML written");
    assert!(
        broken
            .text
            .lines()
            .nth(line - 1)
            .is_some_and(|text| text.contains("(unclosed")),
        "line {line} of\n{}",
        broken.text
    );
    let refused = workbench
        .save_suite_draft(&broken.text)
        .expect_err("errors refuse a save");
    assert!(refused.to_string().contains("bad regex"), "{refused}");
    // The raw text says the same, and reads back into the same fields.
    let raw = draft_of_text(broken.text.clone());
    assert_eq!(raw.errors, broken.errors);
    assert_eq!(raw.document.as_ref(), Some(&document));
    let bad_yaml = draft_of_text("name: x\ntests: [\n".to_owned());
    assert!(bad_yaml.document.is_none());
    assert_eq!(bad_yaml.errors.len(), 1, "{:?}", bad_yaml.errors);
    assert!(bad_yaml.errors[0].line.is_some(), "{:?}", bad_yaml.errors);

    document.tests[0].checks[1].value = Some(serde_json::json!("^Berlin"));
    let fixed = draft_of_document(document);
    assert!(fixed.errors.is_empty(), "{:?}", fixed.errors);
    let edited = workbench.save_suite_draft(&fixed.text).expect("saved");
    assert_eq!(edited.tests, 2);
    assert!(workbench.list_suites().expect("suites").contains(&edited));

    let request = |target: &str, test_id: &str| DryCheckRequest {
        text: fixed.text.clone(),
        test_id: test_id.to_owned(),
        target: target.to_owned(),
    };
    let checked = workbench.dry_check(request("gpt", "capital")).await.expect("dry check");
    assert_eq!((checked.target.as_str(), checked.test_id.as_str()), ("gpt", "capital"));
    let case = &checked.cases[0];
    assert_eq!(case.text, "Paris is the capital.");
    assert!(case.total_ms > 0.0);
    let verdicts: Vec<(&str, Option<bool>)> = case
        .checks
        .iter()
        .map(|check| (check.type_name.as_str(), check.passed))
        .collect();
    assert_eq!(verdicts, [("icontains", Some(true)), ("regex", Some(false))]);
    assert!(case.checks[1].reason.contains("does not match"), "{:?}", case.checks[1]);
    assert_eq!(case.passed, Some(false));
    let sent = cloud.requests();
    assert_eq!(sent.len(), 1, "one call");
    let body = sent[0].body.to_string();
    assert!(
        body.contains("What is the capital of France?") && body.contains(":40"),
        "the test's rendered prompt with the suite's parameters: {body}"
    );
    assert!(
        workbench.list_runs(None, 10).await.expect("runs").is_empty(),
        "a dry check is not history"
    );

    let unknown = workbench
        .dry_check(request("gpt", "nope"))
        .await
        .expect_err("no such test");
    assert!(unknown.to_string().contains("no test 'nope'"), "{unknown}");
    let refusing = FakeCloud::start(Config {
        default_scenario: Scenario {
            failure: Some(fakecloud::Failure::Status {
                status: 401,
                times: None,
                retry_after: None,
            }),
            ..Scenario::default()
        },
        ..Config::default()
    })
    .await
    .expect("fakecloud");
    saved(
        &workbench,
        "locked",
        ProviderKind::OpenAi,
        "gpt-4o",
        &refusing.base_url(),
    );
    let failed = workbench
        .dry_check(request("locked", "capital"))
        .await
        .expect_err("a 401");
    let message = failed.to_string();
    assert!(
        message.contains("target 'locked'") && message.contains("401"),
        "{message}"
    );
    assert!(!message.contains("fake-key"), "no secret in the error: {message}");
}

#[tokio::test]
async fn a_paused_session_finishes_its_calls_in_flight_and_resumes_with_the_rest() {
    let (cloud, directory, workbench) = serving(Scenario {
        time_to_first_token: Duration::from_millis(80),
        text: Some("Paris is the capital.".to_owned()),
        ..Scenario::default()
    })
    .await;
    let (session_id, received) = capitals_twice_on_gpt(&workbench, &directory, None);
    // Paused once the first answer is in, with the second call in flight.
    tokio::time::timeout(Duration::from_secs(10), async {
        while cloud.requests().len() < 2 {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    })
    .await
    .expect("a second call goes out");
    assert_eq!(
        workbench.pause_session(&session_id.to_string()).expect("paused"),
        session_id
    );
    let (status, paused) = finished(&session_until_end(&received).await);
    assert_eq!(status, "paused");
    assert!(paused.done >= 2 && paused.done < 6, "{paused:?}");
    assert_eq!(
        cloud.requests().len() as u64,
        paused.done,
        "the call in flight finished and counts; none went out after the pause"
    );
    assert!(paused.targets[0].errors.is_empty(), "a pause is no error: {paused:?}");
    assert_eq!(workbench.list_sessions().expect("sessions")[0].status, "paused");
    let error = workbench
        .pause_session(&session_id.to_string())
        .expect_err("not running any more")
        .to_string();
    assert!(
        error.contains(&session_id.to_string()) && error.contains("paused"),
        "{error}"
    );

    let (received, sink) = session_sink();
    let resumed = workbench
        .resume_session_live(&session_id.to_string(), None, sink)
        .expect("resumed");
    assert_eq!(resumed, Some(session_id));
    let messages = session_until_end(&received).await;
    let Some(SessionMessage::Started { progress, .. }) = messages.first() else {
        panic!("started first: {messages:?}");
    };
    assert_eq!(progress.done, paused.done, "the answers kept at the pause count");
    let (status, progress) = finished(&messages);
    assert_eq!(status, "completed");
    assert_eq!((progress.done, progress.planned), (6, 6));
    assert_eq!(cloud.requests().len(), 6, "only the remaining calls were sent");
}

#[tokio::test]
async fn a_tests_answers_read_back_graded_with_the_check_that_failed_and_why() {
    let (_cloud, directory, workbench) = serving(Scenario {
        text: Some("Paris is the capital.".to_owned()),
        ..Scenario::default()
    })
    .await;
    let (session_id, received) = capitals_twice_on_gpt(&workbench, &directory, None);
    assert_eq!(finished(&session_until_end(&received).await).0, "completed");
    let id = session_id.to_string();

    let berlin = workbench.session_answers(&id, "de").expect("the answers to 'de'");
    assert_eq!((berlin.case_id.as_str(), berlin.test_id.as_str()), ("de", "de"));
    let places: Vec<(&str, u32)> = berlin
        .answers
        .iter()
        .map(|answer| (answer.target.as_str(), answer.repeat))
        .collect();
    assert_eq!(places, [("gpt", 1), ("gpt", 2)]);
    for answer in &berlin.answers {
        assert_eq!(answer.text, "Paris is the capital.");
        assert_eq!(answer.passed, Some(false), "{answer:?}");
        assert_eq!(answer.checks.len(), 1);
        assert_eq!(answer.checks[0].check, "icontains");
        assert_eq!(answer.checks[0].passed, Some(false));
        assert!(answer.checks[0].reason.contains("berlin"), "{:?}", answer.checks[0]);
        assert!(answer.error.is_none());
    }
    let paris = workbench.session_answers(&id, "fr").expect("the answers to 'fr'");
    assert!(
        paris.answers.iter().all(|answer| answer.passed == Some(true)),
        "{paris:?}"
    );
    let unchecked = workbench.session_answers(&id, "it").expect("the answers to 'it'");
    assert!(
        unchecked
            .answers
            .iter()
            .all(|answer| answer.passed.is_none() && answer.checks.is_empty())
    );

    let error = workbench
        .session_answers(&id, "es")
        .expect_err("no such test")
        .to_string();
    assert!(error.contains(&id) && error.contains("'es'"), "{error}");
}
