//! The same model on every cloud: GPT-5.4 and Claude Opus 4.7 on OpenAI, Azure (v1 and
//! classic), Bedrock Runtime, Bedrock Mantle (Responses, Chat and Messages; SigV4 and a Bedrock
//! API key), Vertex and Anthropic, against fakecloud through the CLI. Every answer is priced by
//! its own cloud's price and carries one base model; Mantle replays the OpenAI and Anthropic
//! recordings as the originals decode; a wrong AWS secret is a clear 403 for that target only.

use std::sync::Arc;

use crate::recordings::{fake_keys, replay_once_each};
use fakecloud::{Config, FAKE_AWS_ACCESS_KEY_ID, FakeCloud};
use modelbench_e2e::{FAKE_KEYS, check_against_expected, expected, modelbench};
use modelbench_engine::credentials::Secret;
use modelbench_engine::runner::{RunOptions, Runner};
use modelbench_engine::target::{Api, DeploymentType, Publisher};
use modelbench_engine::{ErrorKind, Parameters, ProviderKind, Target};
use serde_json::Value;

/// The Bedrock API key fakecloud accepts, under a variable of the test's own.
const MANTLE_KEY_VARIABLE: &str = "MODELBENCH_TEST_MANTLE_KEY";

fn mantle(name: &str, api: Api, model: &str, base: &str) -> Target {
    let mut target = Target::new(name, ProviderKind::Bedrock, model);
    target.api = Some(api);
    target.region = Some("us-east-1".into());
    target.base_url = Some(base.to_owned());
    target
}

/// GPT-5.4 and Claude Opus 4.7 wherever they are sold, each as that cloud names them.
fn same_models_everywhere(base: &str) -> Vec<(Target, &'static str)> {
    let at = |name: &str, provider: ProviderKind, model: &str| {
        let mut target = Target::new(name, provider, model);
        target.base_url = Some(match provider {
            ProviderKind::OpenAi => format!("{base}/v1"),
            _ => base.to_owned(),
        });
        target
    };
    let openai = at("openai", ProviderKind::OpenAi, "gpt-5.4");
    let mut azure_v1 = at("azure-v1 sweden", ProviderKind::Azure, "gpt54-sweden");
    azure_v1.base_model = Some("gpt-5.4".into());
    azure_v1.deployment_type = Some(DeploymentType::DataZoneEu);
    let mut azure_classic = at("azure-classic eastus", ProviderKind::Azure, "");
    azure_classic.deployment = Some("gpt54-eastus".into());
    azure_classic.api_version = Some("2024-10-21".into());
    azure_classic.base_model = Some("gpt-5.4".into());
    let mut converse = at(
        "bedrock-converse claude",
        ProviderKind::Bedrock,
        "us.anthropic.claude-opus-4-7-v1:0",
    );
    converse.region = Some("us-east-1".into());
    let mut mantle_responses = mantle("mantle-responses sigv4", Api::MantleResponses, "openai.gpt-5.4", base);
    mantle_responses.region = Some("us-west-2".into());
    let mut mantle_chat = mantle("mantle-chat bearer", Api::MantleChat, "openai.gpt-5.4", base);
    mantle_chat.api_key_ref = Some(format!("env:{MANTLE_KEY_VARIABLE}"));
    mantle_chat.project = Some("proj_evals".into());
    let mantle_messages = mantle(
        "mantle-messages sigv4",
        Api::MantleMessages,
        "anthropic.claude-opus-4-7",
        base,
    );
    let mut vertex = at("vertex claude", ProviderKind::Vertex, "claude-opus-4-7");
    vertex.project = Some("acme-evals".into());
    vertex.location = Some("us-east5".into());
    vertex.publisher = Some(Publisher::Anthropic);
    let anthropic = at("anthropic", ProviderKind::Anthropic, "claude-opus-4-7");
    vec![
        (openai, "gpt-5.4"),
        (azure_v1, "gpt-5.4"),
        (azure_classic, "gpt-5.4"),
        (converse, "claude-opus-4-7"),
        (mantle_responses, "gpt-5.4"),
        (mantle_chat, "gpt-5.4"),
        (mantle_messages, "claude-opus-4-7"),
        (vertex, "claude-opus-4-7"),
        (anthropic, "claude-opus-4-7"),
    ]
}

async fn cli(data_dir: &std::path::Path, args: &[&str]) -> std::process::Output {
    let data_dir = data_dir.to_owned();
    let args: Vec<String> = args.iter().map(|arg| (*arg).to_owned()).collect();
    tokio::task::spawn_blocking(move || {
        let mut env: Vec<(&str, &str)> = FAKE_KEYS.to_vec();
        env.push((MANTLE_KEY_VARIABLE, "fake-key"));
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        modelbench(&data_dir, &args, &env, None)
    })
    .await
    .expect("join")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gpt_and_claude_on_every_cloud_are_priced_by_each_cloud_and_share_one_base_model() {
    let cloud = FakeCloud::start(Config::default()).await.expect("fakecloud");
    let data = tempfile::tempdir().expect("tempdir");
    let targets = same_models_everywhere(&cloud.base_url());
    let file = data.path().join("targets.toml");
    let listed: Vec<Target> = targets.iter().map(|(target, _)| target.clone()).collect();
    std::fs::write(&file, modelbench_engine::target::targets_to_toml(&listed)).expect("write");
    // Mantle's Claude has no catalog price: the buyer's own price from AWS's page covers it.
    let set = cli(
        data.path(),
        &[
            "prices",
            "set",
            "bedrock",
            "mantle/anthropic.claude-opus-4-7",
            "--input",
            "5.5",
            "--output",
            "27.5",
            "--note",
            "AWS price page",
        ],
    )
    .await;
    assert!(set.status.success(), "{}", String::from_utf8_lossy(&set.stderr));

    let output = cli(
        data.path(),
        &[
            "run",
            "--targets",
            file.to_str().expect("utf-8"),
            "--json",
            "Say hello.",
        ],
    )
    .await;
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    let document: Value = serde_json::from_slice(&output.stdout).expect("json");
    let results = document["results"].as_array().expect("results");
    assert_eq!(results.len(), targets.len());
    for (result, (target, base_model)) in results.iter().zip(&targets) {
        assert_eq!(result["target"], target.name.as_str());
        assert_eq!(result["complete"], true, "{}: {}", target.name, result["error"]);
        assert_eq!(result["base_model"], *base_model, "{}", target.name);
        assert!(
            result["cost_usd"].as_f64().is_some_and(|usd| usd > 0.0),
            "{} is priced: {}",
            target.name,
            result["cost_source"]
        );
    }
    let source = |name: &str| {
        results
            .iter()
            .find(|result| result["target"] == name)
            .and_then(|result| result["cost_source"].as_str())
            .unwrap_or_default()
            .to_owned()
    };
    assert!(
        source("azure-v1 sweden").contains("(azure/data-zone-eu/gpt-5.4)"),
        "{}",
        source("azure-v1 sweden")
    );
    assert!(
        source("azure-classic eastus").contains("(azure/gpt-5.4)"),
        "{}",
        source("azure-classic eastus")
    );
    assert!(
        source("bedrock-converse claude").contains("(bedrock/us.anthropic.claude-opus-4-7)"),
        "{}",
        source("bedrock-converse claude")
    );
    assert!(
        source("mantle-responses sigv4").contains("(bedrock/mantle/openai.gpt-5.4)"),
        "{}",
        source("mantle-responses sigv4")
    );
    assert!(source("mantle-messages sigv4").starts_with("override: AWS price page"));

    // fakecloud saw the three Mantle routes, signed or with the Bedrock key as asked.
    let requests = cloud.requests();
    let mantle: Vec<_> = requests
        .iter()
        .filter(|request| request.provider == "bedrock")
        .collect();
    let paths: Vec<&str> = mantle.iter().map(|request| request.path.as_str()).collect();
    for path in [
        "/openai/v1/responses",
        "/openai/v1/chat/completions",
        "/anthropic/v1/messages",
    ] {
        assert!(paths.contains(&path), "{path} in {paths:?}");
    }
    assert!(
        mantle
            .iter()
            .all(|request| request.authenticated && request.status == 200),
        "{mantle:?}"
    );

    // The database and `runs show --json` keep the base model.
    let run_id = document["run_id"].as_str().expect("run id");
    let shown: Value = serde_json::from_slice(&cli(data.path(), &["runs", "show", run_id, "--json"]).await.stdout)
        .expect("runs show json");
    let shown_models: Vec<&str> = shown["results"]
        .as_array()
        .expect("results")
        .iter()
        .map(|result| result["base_model"].as_str().unwrap_or("?"))
        .collect();
    let expected_models: Vec<&str> = targets.iter().map(|(_, base_model)| *base_model).collect();
    assert_eq!(shown_models, expected_models);
    let connection = rusqlite::Connection::open(data.path().join("modelbench.db")).expect("db");
    let distinct: Vec<String> = connection
        .prepare("SELECT DISTINCT base_model FROM responses ORDER BY base_model")
        .expect("query")
        .query_map([], |row| row.get(0))
        .expect("rows")
        .collect::<Result<_, _>>()
        .expect("base models");
    assert_eq!(distinct, ["claude-opus-4-7", "gpt-5.4"]);

    // `targets list` names each saved target's base model.
    let import = cli(data.path(), &["targets", "import", file.to_str().expect("utf-8")]).await;
    assert!(import.status.success());
    let listed = String::from_utf8_lossy(&cli(data.path(), &["targets", "list"]).await.stdout).into_owned();
    assert_eq!(listed.matches("# base model: gpt-5.4\n").count(), 5, "{listed}");
    assert_eq!(listed.matches("# base model: claude-opus-4-7\n").count(), 4, "{listed}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_aws_secret_on_mantle_is_a_clear_403_for_that_target_only() {
    let cloud = FakeCloud::start(Config::default()).await.expect("fakecloud");
    let base = cloud.base_url();
    let forged = Arc::new(fake_keys().with_aws(FAKE_AWS_ACCESS_KEY_ID, Secret::new("not-the-secret-at-all")));
    let targets = vec![
        mantle("mantle-forged", Api::MantleResponses, "openai.gpt-5.4", &base),
        {
            let mut openai = Target::new("openai", ProviderKind::OpenAi, "gpt-5.4");
            openai.base_url = Some(format!("{base}/v1"));
            openai
        },
    ];
    let outcome = crate::scenarios::run(
        &Runner::new(forged),
        targets,
        Parameters::default(),
        RunOptions::default(),
    )
    .await;
    let [forged, openai] = &outcome.responses[..] else {
        panic!("two responses: {:?}", outcome.responses);
    };
    let error = forged.error.as_ref().expect("refused");
    assert_eq!((error.kind, error.status), (ErrorKind::Auth, Some(403)), "{error}");
    let message = error.to_string();
    assert!(
        message.contains("mantle-forged") && message.contains("signature"),
        "{message}"
    );
    assert!(!message.contains("not-the-secret-at-all"), "{message}");
    assert_eq!(forged.attempts, 1, "auth failures are not retried");
    assert!(openai.complete && openai.error.is_none(), "{:?}", openai.error);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mantle_streams_decode_like_the_openai_and_anthropic_recordings_they_replay() {
    let cloud = FakeCloud::start(Config::default()).await.expect("fakecloud");
    let base = cloud.base_url();
    let expected = expected();
    let recordings = [
        ("openai_responses_text.sse", Api::MantleResponses, "openai.gpt-5.4"),
        (
            "openai_responses_function_call.sse",
            Api::MantleResponses,
            "openai.gpt-5.4",
        ),
        (
            "openai_responses_midstream_error.sse",
            Api::MantleResponses,
            "openai.gpt-5.4",
        ),
        ("openai_chat_usage.sse", Api::MantleChat, "openai.gpt-5.4"),
        (
            "openai_chat_tool_call_usage.sse",
            Api::MantleChat,
            "openai.gpt-oss-120b",
        ),
        (
            "anthropic_messages_short.sse",
            Api::MantleMessages,
            "anthropic.claude-opus-4-7",
        ),
        (
            "anthropic_messages_thinking.sse",
            Api::MantleMessages,
            "anthropic.claude-opus-4-7",
        ),
        (
            "anthropic_messages_tool_use.sse",
            Api::MantleMessages,
            "anthropic.claude-opus-4-7",
        ),
    ];
    for spec_suffix in ["", ";split=3"] {
        let targets: Vec<Target> = recordings
            .iter()
            .map(|(name, api, model)| mantle(name, *api, &format!("{model}~replay={name}{spec_suffix}"), &base))
            .collect();
        let responses = replay_once_each(targets).await;
        assert_eq!(responses.len(), recordings.len());
        for response in &responses {
            assert_eq!(response.provider, "bedrock", "{}", response.target);
            check_against_expected(&response.target, &expected[&response.target], &response.into());
        }
    }
    let paths: std::collections::BTreeSet<String> = cloud.requests().into_iter().map(|request| request.path).collect();
    assert_eq!(
        paths.into_iter().collect::<Vec<_>>(),
        [
            "/anthropic/v1/messages",
            "/openai/v1/chat/completions",
            "/openai/v1/responses",
            "/v1/chat/completions"
        ]
    );
}
