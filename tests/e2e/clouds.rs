//! All seven providers in one run against fakecloud: each speaks its own wire format (SSE,
//! NDJSON, AWS event-stream with SigV4 checked by fakecloud), all stream concurrently, and each
//! gets its own outcome; a wrong AWS secret is a clear per-target 403 that stops nobody else.
//! Then the same through the CLI, where Bedrock's SigV4 credentials come from the real AWS chain
//! (`aws-config`, environment provider) and Vertex's token from the environment.

use std::sync::Arc;
use std::time::Duration;

use crate::recordings::fake_keys;
use fakecloud::{Config, FAKE_AWS_ACCESS_KEY_ID, FAKE_AWS_SECRET_ACCESS_KEY, FakeCloud, tokens_for};
use modelbench_e2e::{FAKE_KEYS, modelbench};
use modelbench_engine::credentials::Secret;
use modelbench_engine::runner::{RunOptions, Runner};
use modelbench_engine::store::Store;
use modelbench_engine::target::{Api, Publisher};
use modelbench_engine::{ErrorKind, FinishReason, Parameters, ProviderKind, Target};
use serde_json::Value;

const SPEC: &str = "tokens=24;gap_ms=2;ttft_ms=30";

/// One target per provider (two for Bedrock and Vertex, whose APIs differ), all on `base`.
fn seven_clouds(base: &str) -> Vec<Target> {
    let model = |name: &str| format!("{name}~{SPEC}");
    let at = |name: &str, provider: ProviderKind, model_name: &str| {
        let mut target = Target::new(name, provider, model(model_name));
        target.base_url = Some(match provider {
            ProviderKind::OpenAi => format!("{base}/v1"),
            _ => base.to_owned(),
        });
        target
    };
    let openai = at("openai", ProviderKind::OpenAi, "gpt-5.4");
    let mut azure = at("azure", ProviderKind::Azure, "gpt-5.4");
    azure.api = Some(Api::Responses);
    let anthropic = at("anthropic", ProviderKind::Anthropic, "claude-opus-4-7");
    let ollama = at("ollama", ProviderKind::Ollama, "llama3.3");
    let mut bedrock = at("bedrock-converse", ProviderKind::Bedrock, "us.amazon.nova-pro-v1:0");
    bedrock.region = Some("us-east-1".into());
    let mut bedrock_invoke = at(
        "bedrock-invoke",
        ProviderKind::Bedrock,
        "anthropic.claude-sonnet-4-5-20250929-v1:0",
    );
    bedrock_invoke.region = Some("us-west-2".into());
    bedrock_invoke.api = Some(Api::Invoke);
    let gemini = at("gemini", ProviderKind::Gemini, "gemini-2.5-flash");
    let mut vertex = at("vertex-gemini", ProviderKind::Vertex, "gemini-2.5-pro");
    vertex.project = Some("acme-evals".into());
    vertex.location = Some("global".into());
    let mut vertex_claude = at("vertex-claude", ProviderKind::Vertex, "claude-opus-4-7");
    vertex_claude.project = Some("acme-evals".into());
    vertex_claude.location = Some("us-east5".into());
    vertex_claude.publisher = Some(Publisher::Anthropic);
    vec![
        openai,
        azure,
        anthropic,
        ollama,
        bedrock,
        bedrock_invoke,
        gemini,
        vertex,
        vertex_claude,
    ]
}

pub(crate) async fn run(runner: &Runner, targets: Vec<Target>) -> modelbench_engine::runner::RunOutcome {
    let mut options = RunOptions::default();
    options.retry.base_delay = Duration::from_millis(20);
    crate::scenarios::run(runner, targets, Parameters::default(), options).await
}

#[tokio::test]
async fn seven_providers_stream_concurrently_with_sigv4_checked() {
    let cloud = FakeCloud::start(Config::default()).await.expect("fakecloud");
    let base = cloud.base_url();
    let mut targets = seven_clouds(&base);
    // The same Bedrock target signed with a wrong secret: fakecloud recomputes the signature.
    let mut forged = targets[4].clone();
    forged.name = "bedrock-wrong-secret".into();
    targets.push(forged);

    let data = tempfile::tempdir().expect("tempdir");
    let store = Store::open(&data.path().join("modelbench.db")).expect("store");
    let good = Arc::new(fake_keys().with_aws(FAKE_AWS_ACCESS_KEY_ID, Secret::new(FAKE_AWS_SECRET_ACCESS_KEY)));
    let bad = Arc::new(fake_keys().with_aws(FAKE_AWS_ACCESS_KEY_ID, Secret::new("not-the-secret-at-all")));
    let expected = tokens_for(&fakecloud::parse_spec(SPEC).expect("spec")).concat();

    let (last, rest) = targets.split_last().expect("targets");
    let good_runner = Runner::new(good).with_store(store.writer());
    let bad_runner = Runner::new(bad).with_store(store.writer());
    // Both runs at once: nine good targets and the forged one stream side by side.
    let (outcome, forged_outcome) =
        tokio::join!(run(&good_runner, rest.to_vec()), run(&bad_runner, vec![last.clone()]));

    assert_eq!(outcome.responses.len(), 9);
    for response in &outcome.responses {
        assert!(
            response.complete,
            "{} ({}): {:?}",
            response.target, response.provider, response.error
        );
        assert_eq!(response.text, expected, "{}", response.target);
        assert_eq!(response.finish_reason, Some(FinishReason::Stop), "{}", response.target);
        assert!(
            response.metrics.time_to_first_token_ms.is_some_and(|ttft| ttft >= 25.0),
            "{}: TTFT measured from the first content ({:?})",
            response.target,
            response.metrics.time_to_first_token_ms
        );
        assert!(
            response.usage.output_tokens.is_some(),
            "{}: usage reported",
            response.target
        );
    }
    let providers: std::collections::BTreeSet<&str> = outcome
        .responses
        .iter()
        .map(|response| response.provider.as_str())
        .collect();
    assert_eq!(
        providers.into_iter().collect::<Vec<_>>(),
        ["anthropic", "azure", "bedrock", "gemini", "ollama", "openai", "vertex"]
    );
    // Bedrock's own latency is recorded beside ours.
    let converse = outcome
        .responses
        .iter()
        .find(|response| response.target == "bedrock-converse")
        .expect("bedrock");
    assert!(converse.metrics.server_latency_ms.is_some(), "{:?}", converse.metrics);

    let forged = &forged_outcome.responses[0];
    let error = forged.error.as_ref().expect("a wrong secret is refused");
    assert_eq!((error.kind, error.status), (ErrorKind::Auth, Some(403)), "{error}");
    let message = error.to_string();
    assert!(message.contains("bedrock-wrong-secret"), "{message}");
    assert!(message.contains("signature"), "names the cause: {message}");
    assert!(!message.contains("not-the-secret-at-all"), "{message}");
    assert_eq!(forged.attempts, 1, "auth failures are not retried");

    // fakecloud saw every Bedrock request signed, and rejected only the forged one.
    let bedrock_requests: Vec<_> = cloud
        .requests()
        .into_iter()
        .filter(|request| request.path.starts_with("/model/"))
        .collect();
    assert_eq!(bedrock_requests.len(), 3, "{bedrock_requests:?}");
    assert_eq!(
        bedrock_requests.iter().filter(|request| request.status == 403).count(),
        1
    );

    let stored = store.load_run(outcome.run.id).expect("load").expect("stored");
    assert_eq!(stored.responses, outcome.responses);
}

#[tokio::test]
async fn seven_providers_through_the_cli_with_the_aws_chain() {
    let cloud = FakeCloud::start(Config::default()).await.expect("fakecloud");
    let data = tempfile::tempdir().expect("tempdir");
    let targets = modelbench_engine::target::targets_to_toml(&seven_clouds(&cloud.base_url()));
    let targets_file = data.path().join("targets.toml");
    std::fs::write(&targets_file, targets).expect("write targets");
    // FAKE_KEYS gives Bedrock SigV4 credentials through the AWS chain's environment provider.
    let env: Vec<(&str, &str)> = FAKE_KEYS.to_vec();
    let output = tokio::task::spawn_blocking({
        let data_dir = data.path().to_owned();
        let targets_file = targets_file.clone();
        let env: Vec<(String, String)> = env.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
        move || {
            let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
            modelbench(
                &data_dir,
                &[
                    "run",
                    "--targets",
                    targets_file.to_str().expect("utf-8 path"),
                    "--json",
                    "Where is the best place to run a model?",
                ],
                &env,
                None,
            )
        }
    })
    .await
    .expect("cli");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let result: Value = serde_json::from_str(&stdout).expect("json");
    let responses = result["results"].as_array().expect("results");
    assert_eq!(responses.len(), 9);
    let expected = tokens_for(&fakecloud::parse_spec(SPEC).expect("spec")).concat();
    for response in responses {
        assert_eq!(response["complete"], true, "{response}");
        assert_eq!(response["text"], expected.as_str(), "{response}");
        if response["provider"] == "bedrock" {
            assert!(response["server_latency_ms"].is_number(), "{response}");
        }
    }
    assert!(!stdout.contains(FAKE_AWS_SECRET_ACCESS_KEY));
}
