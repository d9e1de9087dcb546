//! The runner against scripted failures: concurrency with mixed outcomes, retries only where
//! they are safe, timeouts, cancellation, unsupported parameters and secrets kept out of storage.

use std::sync::Arc;
use std::time::Duration;

use fakecloud::{Config, FakeCloud, Scenario, tokens_for};
use modelbench_engine::credentials::{Secret, StaticCredentials};
use modelbench_engine::runner::{RunEvent, RunOptions, RunOutcome, RunPlan, Runner};
use modelbench_engine::store::{RunStatus, Store};
use modelbench_engine::target::Api;
use modelbench_engine::{ErrorKind, FinishReason, Parameters, Prompt, ProviderKind, Target};
use tokio_util::sync::CancellationToken;

use crate::recordings::credentials;

fn target(name: &str, provider: ProviderKind, model: &str, base: &str) -> Target {
    let mut target = Target::new(name, provider, model);
    target.base_url = Some(match provider {
        ProviderKind::OpenAi => format!("{base}/v1"),
        _ => base.to_owned(),
    });
    target
}

fn expected_text(spec: &str) -> String {
    let scenario = fakecloud::parse_spec(spec).expect("spec");
    tokens_for(&scenario).concat()
}

fn quick_options() -> RunOptions {
    let mut options = RunOptions::default();
    options.retry.base_delay = Duration::from_millis(20);
    options
}

pub(crate) async fn run(
    runner: &Runner,
    targets: Vec<Target>,
    parameters: Parameters,
    options: RunOptions,
) -> RunOutcome {
    let plan = RunPlan {
        targets,
        prompts: vec![Prompt::user("Tell me about the sea.")],
        parameters,
        options,
    };
    runner
        .start(plan, CancellationToken::new())
        .expect("start")
        .outcome()
        .await
        .expect("outcome")
}

#[tokio::test]
async fn twenty_targets_at_once_each_get_their_own_outcome_and_all_is_stored() {
    let cloud = FakeCloud::start(Config::default()).await.expect("fakecloud");
    let base = cloud.base_url();
    let data = tempfile::tempdir().expect("tempdir");
    let store = Store::open(&data.path().join("modelbench.db")).expect("store");
    let providers = [
        ProviderKind::OpenAi,
        ProviderKind::Azure,
        ProviderKind::Anthropic,
        ProviderKind::Ollama,
    ];
    let mut targets = Vec::new();
    for index in 0..20 {
        let provider = providers[index % providers.len()];
        let spec = match index {
            0 => "tokens=6;fail=401".to_owned(),
            1 => "tokens=12;gap_ms=2;fail=429x1;retry_after_ms=50".to_owned(),
            2 => "tokens=20;gap_ms=2;midstream_error=7".to_owned(),
            3 => "tokens=20;gap_ms=2;truncate=9".to_owned(),
            _ => format!("tokens={};gap_ms=3;ttft_ms={}", 10 + index, 20 + index * 5),
        };
        let mut target = target(
            &format!("t{index:02}"),
            provider,
            &format!("model-{index}~{spec}"),
            &base,
        );
        if index % 5 == 4 && matches!(provider, ProviderKind::OpenAi | ProviderKind::Azure) {
            target.api = Some(Api::Responses);
        }
        targets.push(target);
    }
    let runner = Runner::new(credentials()).with_store(store.writer());
    let mut options = quick_options();
    options.concurrency = 20;
    let outcome = run(&runner, targets.clone(), Parameters::default(), options).await;
    assert_eq!(outcome.responses.len(), 20);
    for (index, response) in outcome.responses.iter().enumerate() {
        let spec = targets[index].model.split_once('~').expect("spec").1;
        let full_text = expected_text(spec);
        match index {
            0 => {
                let error = response.error.as_ref().expect("401");
                assert_eq!(
                    (error.kind, error.status, response.attempts),
                    (ErrorKind::Auth, Some(401), 1),
                    "{error}"
                );
                assert!(error.to_string().contains("target 't00'"), "{error}");
                assert!(response.text.is_empty());
            }
            1 => {
                assert!(response.complete, "{:?}", response.error);
                assert_eq!(response.attempts, 2, "429 then success");
                assert_eq!(response.text, full_text);
            }
            2 | 3 => {
                let error = response.error.as_ref().expect("failure");
                assert!(!response.complete);
                assert_eq!(response.attempts, 1, "never retried after content");
                let kept = if index == 2 { 7 } else { 9 };
                let prefix: String = tokens_for(&fakecloud::parse_spec(spec).expect("spec"))[..kept].concat();
                assert_eq!(response.text, prefix, "partial text kept exactly ({error})");
                if index == 3 {
                    assert_eq!(error.kind, ErrorKind::Network, "{error}");
                }
            }
            _ => {
                assert!(response.complete, "{}: {:?}", response.target, response.error);
                assert_eq!(response.text, full_text, "{}", response.target);
                assert_eq!(response.finish_reason, Some(FinishReason::Stop));
                assert!(response.metrics.time_to_first_token_ms.is_some());
            }
        }
    }
    // Nothing lost in the database: every response, its text, and every streamed event.
    let stored = store.load_run(outcome.run.id).expect("load").expect("run stored");
    assert_eq!(stored.responses, outcome.responses);
    for response in &outcome.responses {
        let events = store.load_events(outcome.run.id, response.key).expect("events");
        let text: String = events
            .iter()
            .filter_map(|event| match &event.event {
                modelbench_engine::StreamEvent::TextDelta { text } => Some(text.as_str()),
                _ => None,
            })
            .collect();
        assert!(
            text.ends_with(&response.text),
            "{}: stored events replay the text",
            response.target
        );
        assert!(events.windows(2).all(|pair| pair[0].sequence + 1 == pair[1].sequence));
    }
}

#[tokio::test]
async fn retries_only_infrastructure_failures() {
    let cloud = FakeCloud::start(Config::default()).await.expect("fakecloud");
    let base = cloud.base_url();
    let targets = vec![
        target("server-errors", ProviderKind::OpenAi, "a~tokens=3;fail=500x2", &base),
        target("overloaded", ProviderKind::Anthropic, "b~tokens=3;fail=529x1", &base),
        target("quota", ProviderKind::OpenAi, "c~tokens=3;fail=quota", &base),
        target("filtered", ProviderKind::Azure, "d~tokens=3;fail=content_filter", &base),
        target("always-503", ProviderKind::Azure, "e~tokens=3;fail=503", &base),
    ];
    let outcome = run(
        &Runner::new(credentials()),
        targets,
        Parameters::default(),
        quick_options(),
    )
    .await;
    let by_name = |name: &str| response_of(&outcome, name);
    assert!(by_name("server-errors").complete);
    assert_eq!(by_name("server-errors").attempts, 3);
    assert!(by_name("overloaded").complete);
    assert_eq!(by_name("overloaded").attempts, 2);
    let quota = by_name("quota");
    assert_eq!(
        (quota.attempts, quota.error.as_ref().map(|error| error.kind)),
        (1, Some(ErrorKind::Quota))
    );
    assert_eq!(
        quota.error.as_ref().and_then(|error| error.code.as_deref()),
        Some("insufficient_quota")
    );
    let filtered = by_name("filtered");
    assert_eq!(
        (filtered.attempts, filtered.error.as_ref().map(|error| error.kind)),
        (1, Some(ErrorKind::ContentFilter))
    );
    let unavailable = by_name("always-503");
    assert_eq!(unavailable.attempts, 3, "gives up after the retry budget");
    assert_eq!(unavailable.error.as_ref().map(|error| error.status), Some(Some(503)));
}

#[tokio::test]
async fn timeouts_name_what_timed_out_and_keep_partial_text() {
    let cloud = FakeCloud::start(Config::default()).await.expect("fakecloud");
    let base = cloud.base_url();
    let mut slow_start = target("slow-start", ProviderKind::OpenAi, "a~ttft_ms=3000;tokens=3", &base);
    slow_start.timeouts.first_token_ms = Some(200);
    let mut stalls = target("stalls", ProviderKind::Anthropic, "b~tokens=10;stall=4:3000", &base);
    stalls.timeouts.idle_ms = Some(200);
    let mut too_long = target("too-long", ProviderKind::Ollama, "c~tokens=100;gap_ms=20", &base);
    too_long.timeouts.total_ms = Some(300);
    let started = std::time::Instant::now();
    let outcome = run(
        &Runner::new(credentials()),
        vec![slow_start, stalls, too_long],
        Parameters::default(),
        quick_options(),
    )
    .await;
    assert!(started.elapsed() < Duration::from_secs(2), "timeouts fired on time");
    let [slow, stalls, too_long] = &outcome.responses[..] else {
        panic!("three responses")
    };
    for (response, words) in [(slow, "first token"), (stalls, "idle"), (too_long, "total")] {
        let error = response.error.as_ref().expect("timeout");
        assert_eq!(error.kind, ErrorKind::Timeout, "{error}");
        assert!(error.message.contains(words), "{error}");
        assert!(!response.complete);
    }
    assert_eq!(
        stalls.text,
        expected_text("tokens=10")
            .chars()
            .take(stalls.text.chars().count())
            .collect::<String>()
    );
    assert!(
        !stalls.text.is_empty() && !too_long.text.is_empty(),
        "partial text kept"
    );
}

#[tokio::test]
async fn cancelling_keeps_what_arrived() {
    let cloud = FakeCloud::start(Config::default()).await.expect("fakecloud");
    let data = tempfile::tempdir().expect("tempdir");
    let store = Store::open(&data.path().join("modelbench.db")).expect("store");
    let runner = Runner::new(credentials()).with_store(store.writer());
    let plan = RunPlan {
        targets: vec![target(
            "slow",
            ProviderKind::OpenAi,
            "a~tokens=200;gap_ms=20",
            &cloud.base_url(),
        )],
        prompts: vec![Prompt::user("go")],
        parameters: Parameters::default(),
        options: quick_options(),
    };
    let cancel = CancellationToken::new();
    let mut handle = runner.start(plan, cancel.clone()).expect("start");
    let mut deltas = 0;
    while let Some(event) = handle.events.recv().await {
        if let RunEvent::Stream(stamped) = event
            && matches!(stamped.event, modelbench_engine::StreamEvent::TextDelta { .. })
        {
            deltas += 1;
            if deltas == 5 {
                cancel.cancel();
            }
        }
    }
    let outcome = handle.outcome().await.expect("outcome");
    assert!(outcome.cancelled);
    let response = &outcome.responses[0];
    assert_eq!(
        response.error.as_ref().map(|error| error.kind),
        Some(ErrorKind::Cancelled)
    );
    assert!(
        response
            .text
            .starts_with(&expected_text("tokens=200")[..response.text.len()])
    );
    assert!(response.text.len() >= 5, "{:?}", response.text);
    let stored = store.load_run(outcome.run.id).expect("load").expect("stored");
    assert_eq!(stored.status, RunStatus::Cancelled);
    assert_eq!(stored.responses[0].text, response.text);
}

#[tokio::test]
async fn unsupported_parameters_are_reported_and_not_sent() {
    let cloud = FakeCloud::start(Config::default()).await.expect("fakecloud");
    let base = cloud.base_url();
    let mut responses = target("responses", ProviderKind::OpenAi, "r~tokens=3", &base);
    responses.api = Some(Api::Responses);
    let targets = vec![
        target("chat", ProviderKind::OpenAi, "c~tokens=3", &base),
        responses,
        target("claude", ProviderKind::Anthropic, "a~tokens=3", &base),
        target("local", ProviderKind::Ollama, "o~tokens=3", &base),
    ];
    let parameters = Parameters {
        temperature: Some(0.5),
        top_p: Some(0.9),
        max_output_tokens: Some(64),
        stop_sequences: vec!["END".into()],
        seed: Some(7),
    };
    let outcome = run(&Runner::new(credentials()), targets, parameters, quick_options()).await;
    let unsupported: Vec<Vec<String>> = outcome
        .responses
        .iter()
        .map(|response| response.unsupported_parameters.clone())
        .collect();
    assert_eq!(
        unsupported,
        [
            vec![],
            vec!["stop_sequences".to_owned(), "seed".to_owned()],
            vec!["seed".to_owned()],
            vec![]
        ]
    );
    let bodies: Vec<serde_json::Value> = {
        let mut requests = cloud.requests();
        requests.sort_by_key(|request| request.model.clone());
        requests.into_iter().map(|request| request.body).collect()
    };
    // Sorted by model: a (claude), c (chat), o (ollama), r (responses).
    assert_eq!(bodies[0]["temperature"], 0.5);
    assert_eq!(bodies[0]["stop_sequences"][0], "END");
    assert!(bodies[0].get("seed").is_none());
    assert_eq!(
        (bodies[1]["seed"].as_i64(), bodies[1]["max_completion_tokens"].as_u64()),
        (Some(7), Some(64))
    );
    assert_eq!(bodies[2]["options"]["num_predict"], 64);
    assert_eq!(bodies[2]["options"]["seed"], 7);
    assert!(bodies[3].get("seed").is_none() && bodies[3].get("stop").is_none());
    assert_eq!(bodies[3]["max_output_tokens"], 64);
}

#[tokio::test]
async fn a_secret_never_reaches_the_database() {
    let secret = "sk-live-VERY-SECRET-0123456789";
    let cloud = FakeCloud::start(Config::default()).await.expect("fakecloud");
    let data = tempfile::tempdir().expect("tempdir");
    let path = data.path().join("modelbench.db");
    let store = Store::open(&path).expect("store");
    let credentials = Arc::new(StaticCredentials::new().with("OPENAI_API_KEY", Secret::new(secret)));
    let runner = Runner::new(credentials).with_store(store.writer());
    let outcome = run(
        &runner,
        vec![target(
            "wrong-key",
            ProviderKind::OpenAi,
            "m~tokens=3",
            &cloud.base_url(),
        )],
        Parameters::default(),
        quick_options(),
    )
    .await;
    let error = outcome.responses[0].error.as_ref().expect("401 with the wrong key");
    assert_eq!(error.kind, ErrorKind::Auth);
    assert!(!error.to_string().contains(secret));
    drop(store);
    assert_nowhere_on_disk(data.path(), secret);
}

#[tokio::test]
async fn registered_scenarios_and_concurrency_limits_apply() {
    let mut config = Config::default();
    config.scenarios.insert(
        "registered".to_owned(),
        Scenario {
            text: Some("naïve café 😄 — ’quoted’".to_owned()),
            ..Scenario::default()
        },
    );
    let cloud = FakeCloud::start(config).await.expect("fakecloud");
    let mut targets: Vec<Target> = (0..4)
        .map(|index| {
            target(
                &format!("local-{index}"),
                ProviderKind::Ollama,
                "slowish~tokens=5;gap_ms=20",
                &cloud.base_url(),
            )
        })
        .collect();
    targets.push(target(
        "unicode",
        ProviderKind::Anthropic,
        "registered",
        &cloud.base_url(),
    ));
    let mut options = quick_options();
    options.per_provider_concurrency.insert(ProviderKind::Ollama, 1);
    let outcome = run(&Runner::new(credentials()), targets, Parameters::default(), options).await;
    // The four Ollama calls ran one at a time: none started before the previous one finished.
    let mut local: Vec<_> = outcome
        .responses
        .iter()
        .filter(|response| response.provider == "ollama")
        .collect();
    local.sort_by_key(|response| response.started_at_ms);
    assert_eq!(local.len(), 4);
    for pair in local.windows(2) {
        assert!(
            pair[1].started_at_ms >= pair[0].finished_at_ms,
            "overlap: {:?}",
            (pair[0].target.as_str(), pair[1].target.as_str())
        );
    }
    assert_eq!(outcome.responses[4].text, "naïve café 😄 — ’quoted’");
    assert!(outcome.responses.iter().all(|response| response.complete));
}

#[tokio::test]
async fn the_global_limit_holds_and_queued_jobs_are_cancelled_cleanly() {
    let cloud = FakeCloud::start(Config::default()).await.expect("fakecloud");
    let targets: Vec<Target> = (0..6)
        .map(|index| {
            target(
                &format!("t{index}"),
                ProviderKind::OpenAi,
                "m~tokens=5;gap_ms=15",
                &cloud.base_url(),
            )
        })
        .collect();
    let mut options = quick_options();
    options.concurrency = 2;
    let outcome = run(
        &Runner::new(credentials()),
        targets.clone(),
        Parameters::default(),
        options.clone(),
    )
    .await;
    assert!(outcome.responses.iter().all(|response| response.complete));
    // At any moment at most two responses were in flight.
    for response in &outcome.responses {
        let at = response.started_at_ms;
        let in_flight = outcome
            .responses
            .iter()
            .filter(|other| other.started_at_ms <= at && at < other.finished_at_ms)
            .count();
        assert!(in_flight <= 2, "{in_flight} in flight at {at}");
    }

    // Cancel while four of the six are still queued: each queued one is recorded as cancelled.
    let runner = Runner::new(credentials());
    let plan = RunPlan {
        targets,
        prompts: vec![Prompt::user("go")],
        parameters: Parameters::default(),
        options,
    };
    let cancel = CancellationToken::new();
    let mut handle = runner.start(plan, cancel.clone()).expect("start");
    while let Some(event) = handle.events.recv().await {
        if let RunEvent::Stream(stamped) = event
            && matches!(stamped.event, modelbench_engine::StreamEvent::TextDelta { .. })
        {
            cancel.cancel();
        }
    }
    let outcome = handle.outcome().await.expect("outcome");
    assert_eq!(outcome.responses.len(), 6, "every response is accounted for");
    let never_started = outcome
        .responses
        .iter()
        .filter(|response| {
            response
                .error
                .as_ref()
                .is_some_and(|error| error.message.contains("before it started"))
        })
        .count();
    assert_eq!(never_started, 4);
    assert!(outcome.responses.iter().all(|response| !response.complete));
}

#[tokio::test]
async fn connect_errors_are_retried_then_reported_with_their_cause() {
    // A port nothing listens on: bind one, learn its number, close it.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port();
    let unreachable = target(
        "nowhere",
        ProviderKind::OpenAi,
        "m",
        &format!("http://127.0.0.1:{port}"),
    );
    let outcome = run(
        &Runner::new(credentials()),
        vec![unreachable],
        Parameters::default(),
        quick_options(),
    )
    .await;
    let response = &outcome.responses[0];
    let error = response.error.as_ref().expect("connect error");
    assert_eq!(error.kind, ErrorKind::Connect, "{error}");
    assert!(error.retryable());
    assert_eq!(
        response.attempts, 3,
        "connect errors are infrastructure failures: retried"
    );
    assert!(error.to_string().contains("target 'nowhere'"), "{error}");
    assert!(
        error.message.to_lowercase().contains("refused"),
        "the cause is named: {error}"
    );
}

#[tokio::test]
async fn a_key_echoed_back_by_a_server_is_redacted_everywhere() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    // A careless gateway: answers 401 and quotes the Authorization header it was sent.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let base = format!("http://{}", listener.local_addr().expect("addr"));
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut request = vec![0u8; 16 * 1024];
                let read = socket.read(&mut request).await.unwrap_or(0);
                let request = String::from_utf8_lossy(&request[..read]).into_owned();
                let authorization = request
                    .lines()
                    .find_map(|line| line.strip_prefix("authorization: "))
                    .unwrap_or("none")
                    .to_owned();
                let body =
                    format!(r#"{{"error":{{"message":"bad credentials: {authorization}","code":"invalid_api_key"}}}}"#);
                let response = format!(
                    "HTTP/1.1 401 Unauthorized\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{body}",
                    body.len()
                );
                let _ = socket.write_all(response.as_bytes()).await;
            });
        }
    });
    let secret = "sk-echoed-SECRET-987654321";
    let data = tempfile::tempdir().expect("tempdir");
    let store = Store::open(&data.path().join("modelbench.db")).expect("store");
    let credentials = Arc::new(StaticCredentials::new().with("OPENAI_API_KEY", Secret::new(secret)));
    let runner = Runner::new(credentials).with_store(store.writer());
    let plan = RunPlan {
        targets: vec![target("gateway", ProviderKind::OpenAi, "m", &base)],
        prompts: vec![Prompt::user("hi")],
        parameters: Parameters::default(),
        options: quick_options(),
    };
    let mut handle = runner.start(plan, CancellationToken::new()).expect("start");
    let mut streamed = String::new();
    while let Some(event) = handle.events.recv().await {
        if let RunEvent::Stream(stamped) = event {
            streamed.push_str(&serde_json::to_string(&stamped).expect("json"));
        }
    }
    let outcome = handle.outcome().await.expect("outcome");
    let error = outcome.responses[0].error.as_ref().expect("401");
    assert_eq!(error.kind, ErrorKind::Auth);
    assert!(
        error.message.contains("[redacted]"),
        "the echo is still visible as redacted: {error}"
    );
    assert!(!error.to_string().contains(secret), "{error}");
    assert!(!streamed.contains(secret), "live events leak the key");
    drop(store);
    assert_nowhere_on_disk(data.path(), secret);
}

/// The response of the target named `name`.
pub(crate) fn response_of<'a>(
    outcome: &'a modelbench_engine::runner::RunOutcome,
    name: &str,
) -> &'a modelbench_engine::ResponseRecord {
    outcome
        .responses
        .iter()
        .find(|response| response.target == name)
        .unwrap_or_else(|| panic!("no response from {name}"))
}

/// Fails if `secret` is in any file under `dir`, subfolders (the run locks) included.
pub(crate) fn assert_nowhere_on_disk(dir: &std::path::Path, secret: &str) {
    for entry in std::fs::read_dir(dir).expect("dir") {
        let path = entry.expect("entry").path();
        if path.is_dir() {
            assert_nowhere_on_disk(&path, secret);
            continue;
        }
        let bytes = std::fs::read(&path).expect("read");
        assert!(
            !bytes.windows(secret.len()).any(|window| window == secret.as_bytes()),
            "the secret is in {}",
            path.display()
        );
    }
}
