//! Evaluation sessions through the CLI against fakecloud: the estimate sends nothing, a budget
//! stops a session within its cap, the statistics recover what fakecloud injected (latency
//! distributions, an error rate, changed answers), a promptfoo suite imports and runs, `suite
//! check` names the line of an error, and a session killed mid-way resumes to exact counts
//! without sending a completed call twice.

use std::collections::HashMap;
use std::path::Path;
use std::time::Duration;

use fakecloud::{Config, FakeCloud, parse_spec};
use modelbench_engine::{ProviderKind, Target};
use serde_json::Value;

use crate::cli::cli;
use modelbench_e2e::{FAKE_KEYS, modelbench_binary};

/// An OpenAI-compatible target on fakecloud for `model`, reported as `gpt-5.4`.
fn target(name: &str, model: &str, base: &str) -> Target {
    let mut target = Target::new(name, ProviderKind::OpenAi, model);
    target.base_url = Some(format!("{base}/v1"));
    target.base_model = Some("gpt-5.4".into());
    target
}

fn write_targets(dir: &Path, targets: &[Target]) -> String {
    let file = dir.join("targets.toml");
    std::fs::write(&file, modelbench_engine::target::targets_to_toml(targets)).expect("write targets");
    file.display().to_string()
}

/// A native suite of `tests` questions, each checked for the echoed question.
pub(crate) fn write_suite(dir: &Path, tests: usize, max_output_tokens: Option<u32>) -> String {
    let mut text = String::from("name: parity\ndescription: questions answered by echo\n");
    if let Some(max) = max_output_tokens {
        text.push_str(&format!("defaults:\n  parameters:\n    max_output_tokens: {max}\n"));
    }
    text.push_str("prompts:\n  - \"Question {{n}}: what is it?\"\ntests:\n");
    for n in 1..=tests {
        text.push_str(&format!(
            "  - id: q{n}\n    vars: {{n: {n}}}\n    checks:\n      - type: contains\n        value: \"Question {n}\"\n"
        ));
    }
    let file = dir.join("suite.yaml");
    std::fs::write(&file, text).expect("write suite");
    file.display().to_string()
}

/// What every test starts from: fakecloud, an empty data folder, and a targets file on that
/// cloud.
struct World {
    cloud: FakeCloud,
    data: tempfile::TempDir,
    targets: String,
}

impl World {
    /// `targets` is given the cloud's base URL.
    async fn start(config: Config, targets: impl FnOnce(&str) -> Vec<Target>) -> Self {
        let cloud = FakeCloud::start(config).await.expect("fakecloud");
        let data = tempfile::tempdir().expect("tempdir");
        let targets = write_targets(data.path(), &targets(&cloud.base_url()));
        Self { cloud, data, targets }
    }

    /// fakecloud answering every model with `spec`.
    async fn with_scenario(spec: &str, targets: impl FnOnce(&str) -> Vec<Target>) -> Self {
        let config = Config {
            default_scenario: parse_spec(spec).expect("spec"),
            ..Config::default()
        };
        Self::start(config, targets).await
    }

    fn suite(&self, tests: usize, max_output_tokens: Option<u32>) -> String {
        write_suite(self.data.path(), tests, max_output_tokens)
    }

    async fn modelbench(&self, args: &[&str]) -> std::process::Output {
        cli(self.data.path(), args, FAKE_KEYS, None).await
    }

    /// `session run SUITE --targets FILE`, then `options`.
    async fn session_run(&self, suite: &str, options: &[&str]) -> std::process::Output {
        let mut args = vec!["session", "run", suite, "--targets", &self.targets];
        args.extend_from_slice(options);
        self.modelbench(&args).await
    }

    /// The JSON a command printed, which must have succeeded.
    async fn json(&self, args: &[&str]) -> Value {
        let output = self.modelbench(args).await;
        assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
        json(&output)
    }
}

fn json(output: &std::process::Output) -> Value {
    serde_json::from_slice(&output.stdout).unwrap_or_else(|error| {
        panic!(
            "{error}: {}\n{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        )
    })
}

fn metric<'a>(document: &'a Value, a: &str, b: &str, name: &str) -> &'a Value {
    document["parity"]
        .as_array()
        .expect("parity")
        .iter()
        .find(|pair| pair["a"] == a && pair["b"] == b)
        .unwrap_or_else(|| panic!("no pair {a} / {b}"))["metrics"]
        .as_array()
        .expect("metrics")
        .iter()
        .find(|metric| metric["metric"] == name)
        .unwrap_or_else(|| panic!("no metric {name}"))
}

fn figures<'a>(document: &'a Value, name: &str) -> &'a Value {
    document["targets"]
        .as_array()
        .expect("targets")
        .iter()
        .find(|target| target["target"] == name)
        .unwrap_or_else(|| panic!("no target {name}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_estimate_sends_nothing_and_a_budget_stops_within_its_cap() {
    // Answers of 300 tokens against a bound of 400: most of each call's worst case is spent.
    let world = World::with_scenario("tokens=300", |base| {
        let mut priced = Target::new("openai", ProviderKind::OpenAi, "gpt-5.4");
        priced.base_url = Some(format!("{base}/v1"));
        vec![priced]
    })
    .await;
    let suite = world.suite(40, Some(400));

    let estimate = world
        .session_run(&suite, &["--repeat", "2", "--estimate", "--json"])
        .await;
    assert!(
        estimate.status.success(),
        "{}",
        String::from_utf8_lossy(&estimate.stderr)
    );
    let document = json(&estimate);
    assert_eq!(document["estimate"]["calls"], 80);
    let target = &document["estimate"]["targets"][0];
    assert_eq!(target["tokenizer"], "o200k_base");
    assert!(target["input_tokens"].as_u64().expect("tokens") > 80 * 8);
    let (low, high) = (
        target["cost_low_usd"].as_f64().expect("low"),
        target["cost_high_usd"].as_f64().expect("high"),
    );
    assert!(0.0 < low && low < high, "{low} .. {high}");
    assert!(world.cloud.requests().is_empty(), "--estimate sent requests");

    // Under half the worst case: the session must stop part-way, before a call in flight could
    // take it over the cap (each counts at its worst case, 400 output tokens, until it ends).
    let cap = high * 0.4;
    let cap_text = format!("{cap:.8}");
    let run = world
        .session_run(
            &suite,
            &["--repeat", "2", "--budget", &cap_text, "--concurrency", "4", "--json"],
        )
        .await;
    assert_eq!(run.status.code(), Some(4), "{}", String::from_utf8_lossy(&run.stderr));
    let document = json(&run);
    assert_eq!(document["status"], "stopped");
    let sent = world.cloud.requests().len();
    assert!(sent > 0 && sent < 80, "{sent} of 80 calls sent");
    let spent = figures(&document, "openai")["cost_usd"]["total"]
        .as_f64()
        .expect("cost");
    assert!(spent <= cap, "spent {spent} over the cap {cap}");
    assert_eq!(figures(&document, "openai")["attempted"].as_u64(), Some(sent as u64));

    // A budget without a bound on the answers is refused before anything is sent.
    let unbounded = world.suite(2, None);
    let refused = world.session_run(&unbounded, &["--budget", "1"]).await;
    assert!(!refused.status.success());
    assert!(String::from_utf8_lossy(&refused.stderr).contains("max_output_tokens"));
    assert_eq!(world.cloud.requests().len(), sent);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_statistics_recover_what_the_clouds_were_made_to_do() {
    let spec = |text: &str| parse_spec(text).expect("spec");
    let base_spec = "ttft_ms=lognormal:300:0.08;answer=echo;variants=sure.|certainly.|of course.";
    let scenarios = HashMap::from([
        ("model-a".to_owned(), spec(&format!("{base_spec};seed=1"))),
        ("model-b".to_owned(), spec(&format!("{base_spec};seed=2"))),
        (
            "model-slow".to_owned(),
            spec("ttft_ms=lognormal:450:0.08;answer=echo;variants=sure.|certainly.|of course.;seed=3"),
        ),
        (
            "model-flaky".to_owned(),
            spec(&format!("{base_spec};error_rate=0.2;error=500;seed=4")),
        ),
        (
            "model-drift".to_owned(),
            spec(
                "ttft_ms=lognormal:300:0.08;variants=A different reply altogether in other words.|Something else entirely.;seed=5",
            ),
        ),
    ]);
    let config = Config {
        scenarios,
        ..Config::default()
    };
    let names = ["a", "b", "slow", "flaky", "drift"];
    let world = World::start(config, |base| {
        names
            .iter()
            .map(|name| target(name, &format!("model-{name}"), base))
            .collect()
    })
    .await;
    let suite = world.suite(80, None);
    let run = world
        .session_run(
            &suite,
            &["--repeat", "3", "--concurrency", "48", "--retries", "0", "--json"],
        )
        .await;
    assert!(run.status.success(), "{}", String::from_utf8_lossy(&run.stderr));
    let document = json(&run);
    assert_eq!(document["status"], "completed");
    let a = figures(&document, "a");
    assert_eq!(a["planned"], 240);
    assert_eq!(a["completed"], 240);
    // The injected median lies in the interval (plus the few ms the client and server add).
    let [low, high] = [
        a["ttft_ms"]["p50_ci"][0].as_f64().expect("low"),
        a["ttft_ms"]["p50_ci"][1].as_f64().expect("high"),
    ];
    assert!(low - 15.0 <= 300.0 && 300.0 <= high + 15.0, "p50 CI [{low}, {high}]");
    // The injected error rate lies in the Wilson interval.
    let flaky = figures(&document, "flaky");
    let (low, high) = (
        flaky["error_rate"]["low"].as_f64().expect("low"),
        flaky["error_rate"]["high"].as_f64().expect("high"),
    );
    assert!(low <= 0.2 && 0.2 <= high, "error rate CI [{low}, {high}]");
    assert_eq!(
        flaky["errors"]["server"].as_u64(),
        flaky["error_rate"]["count"].as_u64()
    );
    // Two identical clouds are equivalent; +50% latency is worse; changed answers drift.
    for name in ["ttft_p50", "ttft_p95", "pass_rate", "output_drift"] {
        assert_eq!(metric(&document, "a", "b", name)["verdict"], "equivalent", "a/b {name}");
    }
    // No error on either side in 240 pairs cannot yet show the rates within ±1 point: the
    // verdict says so, with the pairs it would take.
    let errors = metric(&document, "a", "b", "error_rate");
    assert_eq!(errors["verdict"], "too_few_samples", "{errors}");
    assert!(
        errors["needed_samples"].as_u64().is_some_and(|needed| needed > 240),
        "{errors}"
    );
    assert_eq!(metric(&document, "a", "slow", "ttft_p95")["verdict"], "worse");
    assert_eq!(metric(&document, "a", "slow", "ttft_p50")["verdict"], "worse");
    assert_eq!(metric(&document, "a", "flaky", "error_rate")["verdict"], "worse");
    let drift = metric(&document, "a", "drift", "output_drift");
    assert_eq!(drift["verdict"], "worse", "{drift}");
    assert_eq!(metric(&document, "a", "drift", "pass_rate")["verdict"], "worse");
    assert!(
        metric(&document, "a", "b", "ttft_p50")["p_value_adjusted"]
            .as_f64()
            .is_some()
    );

    // `session show` reproduces the same numbers (seeded), and the reports render.
    let id = document["session_id"].as_str().expect("id").to_owned();
    let shown = world.json(&["session", "show", &id, "--json"]).await;
    assert_eq!(shown["parity"], document["parity"]);
    assert_eq!(shown["targets"], document["targets"]);
    let html = world.modelbench(&["session", "export", &id, "--format", "html"]).await;
    let html = String::from_utf8_lossy(&html.stdout);
    assert!(
        html.contains("<h2>Decision</h2>") && html.contains("<svg"),
        "{html:.300}"
    );
    let listed = world.json(&["session", "list", "--json"]).await;
    assert_eq!(listed[0]["id"], id.as_str());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_promptfoo_suite_imports_and_runs_and_suite_check_names_the_line() {
    let world = World::with_scenario("answer=echo", |base| vec![target("echo", "gpt-5.4", base)]).await;
    let data = world.data.path();
    std::fs::write(
        data.join("promptfooconfig.yaml"),
        "description: translations\nproviders:\n  - openai:gpt-4o\nprompts:\n  - 'Translate to {{language}}: {{input}}'\ndefaultTest:\n  assert:\n    - type: icontains\n      value: translate\ntests:\n  - vars:\n      language: French\n      input: Hello\n    assert:\n      - type: contains\n        value: French\n      - type: llm-rubric\n        value: is a good translation\n  - vars:\n      language: German\n      input: Goodbye\n    assert:\n      - type: not-contains\n        value: French\n      - type: regex\n        value: 'Good\\w+'\n",
    )
    .expect("write");
    let suite = data.join("promptfooconfig.yaml").display().to_string();
    let checked = world.modelbench(&["suite", "check", &suite]).await;
    assert!(checked.status.success(), "{}", String::from_utf8_lossy(&checked.stderr));
    let text = String::from_utf8_lossy(&checked.stdout);
    assert!(text.contains("2 case(s)") && text.contains("providers"), "{text}");

    let run = world.session_run(&suite, &["--json"]).await;
    assert!(run.status.success(), "{}", String::from_utf8_lossy(&run.stderr));
    let document = json(&run);
    let echo = figures(&document, "echo");
    assert_eq!(echo["pass_rate"]["count"], 2);
    assert_eq!(echo["pass_rate"]["total"], 2);

    std::fs::write(
        data.join("broken.yaml"),
        "name: broken\ntests:\n  - id: one\n    prompt: hi\n    checks:\n      - type: contains\n        value: x\n      - type: regex\n        value: '(unclosed'\n",
    )
    .expect("write");
    let broken = world
        .modelbench(&["suite", "check", &data.join("broken.yaml").display().to_string()])
        .await;
    assert_eq!(broken.status.code(), Some(1));
    let errors = String::from_utf8_lossy(&broken.stderr);
    assert!(
        errors.contains("broken.yaml:8") || errors.contains("broken.yaml:9"),
        "{errors}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_killed_mid_way_resumes_to_exact_counts_without_sending_a_completed_call_twice() {
    let world = World::with_scenario("ttft_ms=150;answer=echo", |base| {
        vec![target("one", "gpt-5.4", base), target("two", "gpt-5.4", base)]
    })
    .await;
    let suite = world.suite(30, None);
    let mut child = std::process::Command::new(modelbench_binary())
        .args([
            "session",
            "run",
            &suite,
            "--targets",
            &world.targets,
            "--concurrency",
            "3",
            "--json",
        ])
        .env("MODELBENCH_DATA_DIR", world.data.path())
        .envs(FAKE_KEYS.iter().copied())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("spawn");
    // Some calls done, most not.
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while world.cloud.requests().len() < 12 && std::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    child.kill().expect("kill -9");
    child.wait().expect("reaped");
    let sent_before = world.cloud.requests().len();
    assert!(sent_before < 60, "the session finished before the kill");

    let listed = world.json(&["session", "list", "--json"]).await;
    let id = listed[0]["id"].as_str().expect("a session").to_owned();
    let before = world.json(&["session", "show", &id, "--json"]).await;
    assert_eq!(before["status"], "interrupted");
    let completed_before: u64 = before["targets"]
        .as_array()
        .expect("targets")
        .iter()
        .map(|target| target["completed"].as_u64().expect("count"))
        .sum();
    assert!(completed_before > 0);

    let after = world.json(&["session", "resume", &id, "--json"]).await;
    assert_eq!(after["status"], "completed");
    for target in after["targets"].as_array().expect("targets") {
        assert_eq!(target["completed"], 30, "{target}");
        assert_eq!(target["planned"], 30);
    }
    // Every call is sent once, plus the ones in flight at the kill: never a completed one again.
    let sent = world.cloud.requests().len() as u64;
    assert_eq!(
        sent,
        60 + (sent_before as u64 - completed_before),
        "sent {sent}, {sent_before} before the kill"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cloud_redeployed_mid_session_is_flagged_with_what_each_cloud_reported() {
    // Both clouds report the same model and tier; the second is redeployed after 10 calls.
    let scenarios = HashMap::from([
        ("model-steady".to_owned(), parse_spec("answer=echo").expect("spec")),
        (
            "model-redeployed".to_owned(),
            parse_spec("answer=echo;redeploy_after=10").expect("spec"),
        ),
    ]);
    let config = Config {
        scenarios,
        ..Config::default()
    };
    let world = World::start(config, |base| {
        vec![
            target("steady", "model-steady", base),
            target("redeployed", "model-redeployed", base),
        ]
    })
    .await;
    let suite = world.suite(10, None);
    // One call at a time, so the order the calls started is the order fakecloud counted them.
    let run = world
        .session_run(&suite, &["--repeat", "2", "--concurrency", "1", "--json"])
        .await;
    assert!(run.status.success(), "{}", String::from_utf8_lossy(&run.stderr));
    let document = json(&run);

    let steady = figures(&document, "steady");
    assert_eq!(steady["system_fingerprints"], serde_json::json!(["fp_fakecloud"]));
    assert_eq!(steady["service_tiers"], serde_json::json!(["default"]));
    assert_eq!(steady["reported_models"], serde_json::json!(["model-steady"]));
    assert_eq!(steady["fingerprint_changed"], false);
    let redeployed = figures(&document, "redeployed");
    assert_eq!(
        redeployed["system_fingerprints"],
        serde_json::json!(["fp_fakecloud", "fp_fakecloud_2"])
    );
    assert_eq!(redeployed["fingerprint_changed"], true);
    assert_eq!(redeployed["service_tier_changed"], false);
    assert_eq!(redeployed["model_changed"], false);
    let pair = &document["parity"][0];
    assert_eq!(pair["service_tiers_differ"], false);
    // The clouds name their models differently: for the pair, different versions.
    assert_eq!(pair["versions_differ"], true);

    // Stored, so `show` and the report say it too.
    let id = document["session_id"].as_str().expect("id").to_owned();
    let shown = world.modelbench(&["session", "show", &id]).await;
    let text = String::from_utf8_lossy(&shown.stdout);
    assert!(
        text.contains("the reported system fingerprint changed during the session: fp_fakecloud → fp_fakecloud_2"),
        "{text}"
    );
    let markdown = world.modelbench(&["session", "export", &id, "--format", "md"]).await;
    let markdown = String::from_utf8_lossy(&markdown.stdout);
    assert!(
        markdown.contains(
            "system fingerprint fp_fakecloud → fp_fakecloud_2 (changed during the session); service tier default"
        ),
        "{markdown}"
    );
}
