//! Every real recording, served verbatim by fakecloud and read by the engine over HTTP: the
//! result must match `expected.json`, also when fakecloud writes the body in tiny pieces.

use std::sync::Arc;

use fakecloud::{Config, FakeCloud};
use modelbench_e2e::{check_against_expected, expected, target_for_recording};
use modelbench_engine::credentials::{Secret, StaticCredentials};
use modelbench_engine::runner::{RunOptions, RunPlan, Runner};
use modelbench_engine::{Parameters, Prompt};
use tokio_util::sync::CancellationToken;

pub fn credentials() -> Arc<StaticCredentials> {
    Arc::new(
        StaticCredentials::new()
            .with("OPENAI_API_KEY", Secret::new("fake-key"))
            .with("AZURE_OPENAI_API_KEY", Secret::new("fake-key"))
            .with("ANTHROPIC_API_KEY", Secret::new("fake-key")),
    )
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
        check_against_expected(&response.target, &expected[&response.target], &response.into());
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
