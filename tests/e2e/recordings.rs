//! Every real recording, served verbatim by fakecloud and read by the engine over HTTP: the
//! result must match `expected.json`, also when fakecloud writes the body in tiny pieces.

use std::sync::Arc;

use fakecloud::{Config, FakeCloud};
use modelbench_e2e::{check_against_expected, expected, target_for_recording};
use modelbench_engine::credentials::{Secret, StaticCredentials};
use modelbench_engine::runner::{RunOptions, RunPlan, Runner};
use modelbench_engine::{Parameters, Prompt, ResponseRecord, Target};
use tokio_util::sync::CancellationToken;

/// fakecloud's default keys for every key-based cloud (no Bedrock SigV4 credentials).
pub fn fake_keys() -> StaticCredentials {
    StaticCredentials::new()
        .with("OPENAI_API_KEY", Secret::new("fake-key"))
        .with("AZURE_OPENAI_API_KEY", Secret::new("fake-key"))
        .with("ANTHROPIC_API_KEY", Secret::new("fake-key"))
        .with("GEMINI_API_KEY", Secret::new("fake-key"))
        .with("GOOGLE_OAUTH_ACCESS_TOKEN", Secret::new("fake-key"))
}

/// fakecloud's default keys, and its SigV4 credentials for Bedrock.
pub fn credentials() -> Arc<StaticCredentials> {
    Arc::new(fake_keys().with_aws(
        fakecloud::FAKE_AWS_ACCESS_KEY_ID,
        Secret::new(fakecloud::FAKE_AWS_SECRET_ACCESS_KEY),
    ))
}

/// One prompt to every target, one attempt each: a recording that fails before any content
/// (the exception frame) would otherwise be retried, and the request count must stay exact.
pub(crate) async fn replay_once_each(targets: Vec<Target>) -> Vec<ResponseRecord> {
    let mut options = RunOptions::default();
    options.retry.max_retries = 0;
    let plan = RunPlan {
        targets,
        prompts: vec![Prompt::user("replay")],
        parameters: Parameters::default(),
        options,
    };
    let handle = Runner::new(credentials())
        .start(plan, CancellationToken::new())
        .expect("start");
    handle.outcome().await.expect("outcome").responses
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
    // Every recording: 10 OpenAI-style (OpenAI, Azure, Groq, OpenRouter), 3 Anthropic, 2 Ollama,
    // 6 Bedrock (the exception frame included) and 4 Gemini/Vertex.
    assert_eq!(targets.len(), 25);
    let count = targets.len();
    for response in &replay_once_each(targets).await {
        check_against_expected(&response.target, &expected[&response.target], &response.into());
    }
    // Each request really went to fakecloud's endpoint for that cloud and was accepted.
    let requests = cloud.requests();
    assert_eq!(requests.len(), count);
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
