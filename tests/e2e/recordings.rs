//! Every real recording, served verbatim by fakecloud and read by the engine over HTTP: the
//! result must match `expected.json`, also when fakecloud writes the body in tiny pieces.

use std::sync::Arc;

use fakecloud::{Config, FakeCloud};
use modelbench_e2e::{expected, target_for_recording};
use modelbench_engine::credentials::{Secret, StaticCredentials};
use modelbench_engine::runner::{RunOptions, RunPlan, Runner};
use modelbench_engine::{Parameters, Prompt, ResponseRecord};
use serde_json::Value;
use tokio_util::sync::CancellationToken;

pub fn credentials() -> Arc<StaticCredentials> {
    Arc::new(
        StaticCredentials::new()
            .with("OPENAI_API_KEY", Secret::new("fake-key"))
            .with("AZURE_OPENAI_API_KEY", Secret::new("fake-key"))
            .with("ANTHROPIC_API_KEY", Secret::new("fake-key")),
    )
}

/// Checks one response against a recording's expectations.
pub fn check_against_expected(name: &str, want: &Value, response: &ResponseRecord) {
    assert_eq!(response.text, want["text"].as_str().expect("text"), "{name}: text");
    if let Some(reasoning) = want
        .get("reasoning")
        .or_else(|| want.get("thinking"))
        .and_then(Value::as_str)
    {
        assert_eq!(response.reasoning, reasoning, "{name}: reasoning");
    }
    match &want["usage"] {
        Value::Null if want.get("done").is_some() => {
            assert_eq!(
                response.usage.input_tokens,
                want["prompt_eval_count"].as_u64(),
                "{name}: input tokens"
            );
            assert_eq!(
                response.usage.output_tokens,
                want["eval_count"].as_u64(),
                "{name}: output tokens"
            );
        }
        Value::Null => assert!(response.usage.raw.is_null(), "{name}: no usage expected"),
        usage => assert_eq!(&response.usage.raw, usage, "{name}: usage"),
    }
    let raw = response.raw_finish_reason.as_deref();
    for field in ["finish_reason", "stop_reason", "done_reason"] {
        if let Some(want) = want.get(field) {
            assert_eq!(raw, want.as_str(), "{name}: {field}");
        }
    }
    if let Some(Value::Object(calls)) = want.get("tool_calls") {
        assert_eq!(response.tool_calls.len(), calls.len(), "{name}: tool calls");
        for call in &response.tool_calls {
            let want = &calls[&call.index.to_string()];
            assert_eq!(call.name.as_deref(), want["name"].as_str(), "{name}");
            assert_eq!(call.id.as_deref(), want["id"].as_str(), "{name}");
            assert_eq!(call.arguments, want["args"].as_str().expect("args"), "{name}");
        }
    }
    if let Some(Value::Object(inputs)) = want.get("tool_inputs") {
        assert_eq!(response.tool_calls.len(), inputs.len(), "{name}: tool inputs");
        for call in &response.tool_calls {
            assert_eq!(
                Some(call.arguments.as_str()),
                inputs[&call.index.to_string()].as_str(),
                "{name}"
            );
        }
    }
    if let Some(args) = want
        .get("function_args")
        .and_then(Value::as_str)
        .filter(|args| !args.is_empty())
    {
        assert_eq!(
            response.tool_calls.first().map(|call| call.arguments.as_str()),
            Some(args),
            "{name}"
        );
    }
    let failed = want
        .get("errors")
        .and_then(Value::as_array)
        .is_some_and(|errors| !errors.is_empty())
        || want.get("final_status").and_then(Value::as_str) == Some("failed");
    if failed {
        let error = response
            .error
            .as_ref()
            .unwrap_or_else(|| panic!("{name}: error expected"));
        assert_eq!(error.target, response.target, "{name}: the error names its target");
        assert!(!response.complete, "{name}: incomplete");
    } else {
        assert_eq!(response.error, None, "{name}");
        assert!(response.complete, "{name}: complete");
        assert!(
            response.metrics.time_to_first_token_ms.is_some() || response.text.is_empty(),
            "{name}: ttft"
        );
    }
}

async fn replay_all(spec_suffix: &str) {
    let cloud = FakeCloud::start(Config::default()).await.expect("fakecloud");
    let expected = expected();
    let mut targets = Vec::new();
    for name in expected.as_object().expect("object").keys() {
        let model = format!("replay-model~replay={name}{spec_suffix}");
        if let Some(target) = target_for_recording(name, &cloud.base_url(), &model) {
            targets.push(target);
        }
    }
    assert_eq!(targets.len(), 15);
    let runner = Runner::new(credentials());
    let plan = RunPlan {
        targets,
        prompts: vec![Prompt::user("replay")],
        parameters: Parameters::default(),
        options: RunOptions::default(),
    };
    let handle = runner.start(plan, CancellationToken::new()).expect("start");
    let outcome = handle.outcome().await.expect("outcome");
    for response in &outcome.responses {
        check_against_expected(&response.target, &expected[&response.target], response);
    }
    // Each request really went to fakecloud's endpoint for that cloud and was accepted.
    let requests = cloud.requests();
    assert_eq!(requests.len(), 15);
    assert!(requests.iter().all(|request| request.status == 200), "{requests:?}");
}

#[tokio::test]
async fn every_recording_replays_through_fakecloud() {
    replay_all("").await;
}

#[tokio::test]
async fn every_recording_replays_one_byte_per_write() {
    replay_all(";split=1").await;
}

#[tokio::test]
async fn every_recording_replays_in_seven_byte_pieces() {
    replay_all(";split=7").await;
}
