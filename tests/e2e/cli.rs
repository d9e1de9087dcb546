//! The `modelbench` binary end to end, with a temp data dir and fakecloud on 127.0.0.1.

use std::path::Path;
use std::process::Output;

use fakecloud::{Config, FakeCloud};
use modelbench_e2e::{FAKE_KEYS, check_against_expected, expected, modelbench};
use serde_json::Value;

pub(crate) async fn cli(data_dir: &Path, args: &[&str], env: &[(&str, &str)], stdin: Option<&str>) -> Output {
    let data_dir = data_dir.to_owned();
    let args: Vec<String> = args.iter().map(|arg| (*arg).to_owned()).collect();
    let env: Vec<(String, String)> = env
        .iter()
        .map(|(name, value)| ((*name).to_owned(), (*value).to_owned()))
        .collect();
    let stdin = stdin.map(str::to_owned);
    tokio::task::spawn_blocking(move || {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let env: Vec<(&str, &str)> = env
            .iter()
            .map(|(name, value)| (name.as_str(), value.as_str()))
            .collect();
        modelbench(&data_dir, &args, &env, stdin.as_deref())
    })
    .await
    .expect("cli task")
}

pub(crate) fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

pub(crate) fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

pub(crate) fn json(output: &Output) -> Value {
    assert!(
        output.status.success(),
        "exit {:?}\nstdout: {}\nstderr: {}",
        output.status,
        stdout(output),
        stderr(output)
    );
    serde_json::from_slice(&output.stdout).unwrap_or_else(|error| panic!("not JSON ({error}): {}", stdout(output)))
}

/// fakecloud, a temporary data dir, and the standard targets file (as a path string) in it.
/// Keep the returned `FakeCloud` bound: dropping it stops the server.
pub(crate) async fn with_targets_file() -> (FakeCloud, tempfile::TempDir, String) {
    let cloud = FakeCloud::start(Config::default()).await.expect("fakecloud");
    let data = tempfile::tempdir().expect("tempdir");
    let file = data.path().join("targets.toml");
    std::fs::write(&file, targets_toml(&cloud.base_url())).expect("write targets");
    let file = file.to_str().expect("utf8 path").to_owned();
    (cloud, data, file)
}

fn targets_toml(base: &str) -> String {
    format!(
        r#"
[[target]]
name = "gpt-openai"
provider = "openai"
model = "gpt-5.4~tokens=12;gap_ms=2"
base_url = "{base}/v1"

[[target]]
name = "gpt-azure"
provider = "azure"
model = "gpt-5.4"
base_url = "{base}"
deployment = "gpt54~tokens=12;gap_ms=2"
api_version = "2024-10-21"

[[target]]
name = "claude"
provider = "anthropic"
model = "claude-opus-4-7~tokens=9"
base_url = "{base}"

[[target]]
name = "broken"
provider = "openai"
model = "gpt-5.4~tokens=20;midstream_error=4"
api = "responses"
base_url = "{base}/v1"
"#
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_json_then_runs_list_show_and_search() {
    let (_cloud, data, file) = with_targets_file().await;
    let file = file.as_str();

    let output = cli(
        data.path(),
        &[
            "run",
            "--targets",
            file,
            "--json",
            "--system",
            "be brief",
            "Where is the lighthouse?",
        ],
        FAKE_KEYS,
        None,
    )
    .await;
    let document = json(&output);
    let run_id = document["run_id"].as_str().expect("run id").to_owned();
    let results = document["results"].as_array().expect("results");
    assert_eq!(results.len(), 4);
    for result in results {
        for field in [
            "target",
            "provider",
            "model",
            "reported_model",
            "text",
            "finish_reason",
            "raw_finish_reason",
            "usage",
            "time_to_first_token_ms",
            "total_ms",
            "output_tokens_per_second",
            "complete",
            "error",
        ] {
            assert!(result.get(field).is_some(), "missing {field} in {result}");
        }
    }
    let by_target = |name: &str| results.iter().find(|result| result["target"] == name).expect("target");
    assert_eq!(by_target("gpt-openai")["complete"], true);
    assert_eq!(by_target("gpt-openai")["finish_reason"], "stop");
    assert_eq!(by_target("gpt-openai")["usage"]["output_tokens"], 12);
    assert_eq!(by_target("gpt-azure")["text"], by_target("gpt-openai")["text"]);
    assert_eq!(by_target("claude")["raw_finish_reason"], "end_turn");
    let broken = by_target("broken");
    assert_eq!(broken["complete"], false);
    assert!(!broken["text"].as_str().expect("text").is_empty(), "partial text kept");
    assert_eq!(broken["error"]["retryable"], true);
    assert!(
        broken["error"]["message"]
            .as_str()
            .expect("message")
            .contains("target 'broken'")
    );
    let lighthouse_text = by_target("claude")["text"].as_str().expect("text").to_owned();

    // runs list / show reflect the same run.
    let output = cli(data.path(), &["runs", "list", "--json"], &[], None).await;
    let runs = json(&output);
    assert_eq!(runs[0]["id"], run_id.as_str());
    let output = cli(data.path(), &["runs", "show", &run_id[..8], "--json"], &[], None).await;
    let shown = json(&output);
    assert_eq!(
        shown["results"], document["results"],
        "stored results equal what the run printed"
    );
    assert_eq!(shown["prompts"][0]["system"], "be brief");
    let output = cli(data.path(), &["runs", "show", &run_id], &[], None).await;
    assert!(output.status.success());
    assert!(stdout(&output).contains("Where is the lighthouse?"));
    assert!(stdout(&output).contains(&lighthouse_text));

    // Full-text search over prompts and responses.
    let output = cli(data.path(), &["search", "lighthouse", "--json"], &[], None).await;
    let hits = json(&output);
    assert!(
        hits.as_array()
            .expect("hits")
            .iter()
            .any(|hit| hit["kind"] == "prompt" && hit["run_id"] == run_id.as_str())
    );
    let word = lighthouse_text
        .split_whitespace()
        .next()
        .expect("a word")
        .trim_matches(|c: char| !c.is_alphanumeric())
        .to_owned();
    let output = cli(data.path(), &["search", &word, "--json"], &[], None).await;
    assert!(
        json(&output)
            .as_array()
            .expect("hits")
            .iter()
            .any(|hit| hit["kind"] == "response")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn live_view_summary_and_events() {
    let (_cloud, data, file) = with_targets_file().await;
    let file = file.as_str();

    let output = cli(
        data.path(),
        &[
            "run",
            "--targets",
            file,
            "--target",
            "claude",
            "--target",
            "broken",
            "-",
        ],
        FAKE_KEYS,
        Some("from stdin\n"),
    )
    .await;
    assert!(output.status.success(), "{}", stderr(&output));
    let text = stdout(&output);
    assert!(text.contains("claude") && text.contains("│"), "{text}");
    for column in ["TARGET", "TTFT", "TOTAL", "TOK/S", "STOP", "STATUS"] {
        assert!(text.contains(column), "{column} missing:\n{text}");
    }
    assert!(text.contains("partial kept"), "{text}");
    assert!(!text.contains("gpt-openai"), "--target filters");

    let output = cli(
        data.path(),
        &["run", "--targets", file, "--target", "gpt-openai", "--events", "hi"],
        FAKE_KEYS,
        None,
    )
    .await;
    assert!(output.status.success(), "{}", stderr(&output));
    let events: Vec<Value> = stdout(&output)
        .lines()
        .map(|line| serde_json::from_str(line).expect("JSON line"))
        .collect();
    assert_eq!(
        events.first().map(|event| event["event"]["type"].clone()),
        Some(Value::from("started"))
    );
    assert_eq!(
        events.last().map(|event| event["event"]["type"].clone()),
        Some(Value::from("usage"))
    );
    assert!(
        events
            .iter()
            .all(|event| event["target"] == "gpt-openai" && event["elapsed_us"].is_u64())
    );
    let sequences: Vec<u64> = events
        .iter()
        .map(|event| event["sequence"].as_u64().expect("seq"))
        .collect();
    assert_eq!(sequences, (0..events.len() as u64).collect::<Vec<_>>());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn batch_mode_stores_every_prompt_target_and_repeat_under_one_run() {
    let (cloud, data, file) = with_targets_file().await;
    let file = file.as_str();
    let prompts = data.path().join("prompts.jsonl");
    std::fs::write(
        &prompts,
        "{\"prompt\": \"one\"}\n{\"prompt\": \"two\", \"system\": \"terse\"}\n{\"prompt\": \"three\"}\n",
    )
    .expect("write");
    let output = cli(
        data.path(),
        &[
            "run",
            "--targets",
            file,
            "--target",
            "gpt-openai",
            "--target",
            "claude",
            "--prompts",
            prompts.to_str().expect("utf8"),
            "--repeat",
            "2",
            "--concurrency",
            "3",
            "--json",
        ],
        FAKE_KEYS,
        None,
    )
    .await;
    let document = json(&output);
    let results = document["results"].as_array().expect("results");
    assert_eq!(results.len(), 3 * 2 * 2);
    let mut keys: Vec<(u64, u64, String)> = results
        .iter()
        .map(|result| {
            (
                result["prompt_index"].as_u64().expect("p"),
                result["repeat_index"].as_u64().expect("r"),
                result["target"].as_str().expect("t").to_owned(),
            )
        })
        .collect();
    keys.sort();
    keys.dedup();
    assert_eq!(keys.len(), 12, "every prompt × target × repeat once");
    assert_eq!(cloud.requests().len(), 12);
    let output = cli(data.path(), &["runs", "list", "--json"], &[], None).await;
    let runs = json(&output);
    assert_eq!(runs.as_array().expect("runs").len(), 1, "one run");
    assert_eq!(runs[0]["response_count"], 12);
    assert_eq!(runs[0]["prompt_count"], 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_recording_through_the_cli() {
    let cloud = FakeCloud::start(Config::default()).await.expect("fakecloud");
    let data = tempfile::tempdir().expect("tempdir");
    let expected = expected();
    let mut toml = String::new();
    for name in expected.as_object().expect("object").keys() {
        let model = format!("m~replay={name};split=5");
        let Some(target) = modelbench_e2e::target_for_recording(name, &cloud.base_url(), &model) else {
            continue;
        };
        toml.push_str(&modelbench_engine::target::targets_to_toml(&[target]));
        toml.push('\n');
    }
    let file = data.path().join("recordings.toml");
    std::fs::write(&file, toml).expect("write");
    let output = cli(
        data.path(),
        &["run", "--targets", file.to_str().expect("utf8"), "--json", "replay"],
        FAKE_KEYS,
        None,
    )
    .await;
    let document = json(&output);
    let run_id: modelbench_engine::RunId = document["run_id"].as_str().expect("id").parse().expect("uuid");
    let store = modelbench_engine::store::Store::open(&data.path().join("modelbench.db")).expect("store");
    let run = store.load_run(run_id).expect("load").expect("run");
    assert_eq!(run.responses.len(), 25);
    for response in &run.responses {
        check_against_expected(&response.target, &expected[&response.target], &response.into());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn targets_commands_and_runs_from_saved_targets() {
    let (cloud, data, file) = with_targets_file().await;
    let file = file.as_str();
    let output = cli(data.path(), &["targets", "import", file], &[], None).await;
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(stdout(&output).contains("imported 4"));
    // Importing again replaces same-named targets instead of duplicating them.
    let output = cli(data.path(), &["targets", "import", file], &[], None).await;
    assert!(output.status.success());
    let base_url = format!("{}/v1", cloud.base_url());
    let output = cli(
        data.path(),
        &[
            "targets",
            "add",
            "--name",
            "extra",
            "--provider",
            "openai",
            "--model",
            "m~tokens=2",
            "--base-url",
            &base_url,
        ],
        &[],
        None,
    )
    .await;
    assert!(output.status.success(), "{}", stderr(&output));
    let listed = json(&cli(data.path(), &["targets", "list", "--json"], &[], None).await);
    let names: Vec<&str> = listed
        .as_array()
        .expect("list")
        .iter()
        .map(|target| target["name"].as_str().expect("name"))
        .collect();
    assert_eq!(names, ["broken", "claude", "extra", "gpt-azure", "gpt-openai"]);
    let output = cli(data.path(), &["targets", "remove", "broken"], &[], None).await;
    assert!(output.status.success());
    let output = cli(data.path(), &["targets", "remove", "broken"], &[], None).await;
    assert!(!output.status.success() && stderr(&output).contains("broken"));

    // Without --targets, a run uses the saved targets.
    let document = json(&cli(data.path(), &["run", "--json", "saved"], FAKE_KEYS, None).await);
    assert_eq!(document["results"].as_array().expect("results").len(), 4);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_fails_clearly_without_a_panic() {
    let (cloud, data, file) = with_targets_file().await;
    let file = file.as_str();
    let bad_toml = data.path().join("bad.toml");
    std::fs::write(
        &bad_toml,
        "[[target]]\nname = \"x\"\nprovider = \"openai\"\nmodel = 5\n",
    )
    .expect("write");

    type Case<'a> = (Vec<&'a str>, &'a [(&'a str, &'a str)], &'a str);
    let cases: Vec<Case> = vec![
        (
            vec!["run", "--targets", file, "--target", "nope", "hi"],
            FAKE_KEYS,
            "unknown target 'nope'",
        ),
        (
            vec!["run", "--targets", "/nonexistent/targets.toml", "hi"],
            FAKE_KEYS,
            "cannot read",
        ),
        (
            vec!["run", "--targets", bad_toml.to_str().expect("utf8"), "hi"],
            FAKE_KEYS,
            "line 4",
        ),
        (vec!["run", "--targets", file, "hi"], &[], "OPENAI_API_KEY"),
        (
            vec!["run", "--targets", file, "--prompts", "/nonexistent/prompts.txt"],
            FAKE_KEYS,
            "cannot read prompts file",
        ),
        (vec!["runs", "show", "0000"], &[], "no run matches"),
    ];
    for (args, env, message) in cases {
        let output = cli(data.path(), &args, env, None).await;
        let error = stderr(&output);
        assert_eq!(output.status.code(), Some(2), "{args:?}: {error}");
        assert!(error.contains(message), "{args:?}: expected {message:?} in {error}");
        assert!(!error.contains("panicked"), "{error}");
    }
    assert!(cloud.requests().is_empty(), "nothing was sent for bad input");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demo_runs_without_keys_and_is_stored() {
    let data = tempfile::tempdir().expect("tempdir");
    let output = cli(data.path(), &["demo", "--json"], &[], None).await;
    let document = json(&output);
    let results = document["results"].as_array().expect("results");
    assert_eq!(results.len(), 13);
    let providers: std::collections::BTreeSet<&str> = results
        .iter()
        .filter_map(|result| result["provider"].as_str())
        .collect();
    assert_eq!(
        providers.into_iter().collect::<Vec<_>>(),
        ["anthropic", "azure", "bedrock", "gemini", "ollama", "openai", "vertex"],
        "every cloud is in the demo"
    );
    assert_eq!(
        results.iter().filter(|result| result["complete"] == true).count(),
        12,
        "all but the overloaded stream complete: {results:?}"
    );
    assert!(
        results.iter().any(|result| result["attempts"] == 2),
        "a rate limit retried"
    );
    assert!(
        results
            .iter()
            .any(|result| result["complete"] == false && !result["text"].as_str().expect("text").is_empty())
    );
    let runs = json(&cli(data.path(), &["runs", "list", "--json"], &[], None).await);
    assert_eq!(runs[0]["id"], document["run_id"]);
}
