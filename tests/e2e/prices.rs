//! Costs end to end: `modelbench run` against fakecloud prices what it can from the shipped
//! catalog, says why it cannot price the rest, and lets the user's own prices win (`prices set`,
//! `unset`, `import`), saying so in `--json`, in the summary table and in the stored run.

use fakecloud::{Config, FakeCloud};
use modelbench_e2e::FAKE_KEYS;
use serde_json::Value;

use crate::cli::{cli, json, stderr, stdout};

fn targets_toml(base: &str) -> String {
    // The scenario travels in a header, so the model names stay exactly what the catalog knows.
    let scenario = r#"headers = { "x-fakecloud-scenario" = "tokens=12" }"#;
    format!(
        r#"
[[target]]
name = "priced"
provider = "openai"
model = "gpt-5.4"
base_url = "{base}/v1"
{scenario}

[[target]]
name = "unpriced"
provider = "openai"
model = "gpt-imaginary"
base_url = "{base}/v1"
{scenario}

[[target]]
name = "claude"
provider = "anthropic"
model = "claude-opus-4-7"
base_url = "{base}"
{scenario}

[[target]]
name = "local"
provider = "ollama"
model = "llama3.3"
base_url = "{base}"
{scenario}
"#
    )
}

fn by_target<'a>(document: &'a Value, name: &str) -> &'a Value {
    document["results"]
        .as_array()
        .expect("results")
        .iter()
        .find(|result| result["target"] == name)
        .unwrap_or_else(|| panic!("no result for {name} in {document}"))
}

/// Dollars for the result's reported usage at `input`/`output` dollars per 1M tokens.
fn expected_cost(result: &Value, input: f64, output: f64) -> f64 {
    let usage = &result["usage"];
    let input_tokens = usage["input_tokens"].as_f64().expect("input tokens");
    let output_tokens = usage["output_tokens"].as_f64().expect("output tokens");
    assert!(input_tokens > 0.0 && output_tokens > 0.0, "{usage}");
    (input_tokens * input + output_tokens * output) / 1e6
}

fn assert_cost(result: &Value, want: f64) {
    let got = result["cost_usd"]
        .as_f64()
        .unwrap_or_else(|| panic!("no cost in {result}"));
    assert!((got - want).abs() < 1e-9, "cost {got} != {want} in {result}");
}

fn cost_source(result: &Value) -> &str {
    result["cost_source"].as_str().expect("cost_source")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn runs_are_costed_from_the_catalog_and_overrides_win_and_say_so() {
    let cloud = FakeCloud::start(Config::default()).await.expect("fakecloud");
    let data = tempfile::tempdir().expect("tempdir");
    let file = data.path().join("targets.toml");
    std::fs::write(&file, targets_toml(&cloud.base_url())).expect("write targets");
    let file = file.to_str().expect("utf8 path");
    let run_json = |target: Option<&'static str>| {
        let mut args = vec!["run", "--targets", file, "--json"];
        if let Some(target) = target {
            args.extend(["--target", target]);
        }
        args.push("What does this cost?");
        args
    };

    // The shipped catalog prices OpenAI and Anthropic models; an unknown model is null with the
    // reason; a local Ollama is free and says why.
    let document = json(&cli(data.path(), &run_json(None), FAKE_KEYS, None).await);
    let priced = by_target(&document, "priced");
    assert_cost(priced, expected_cost(priced, 2.5, 15.0));
    assert!(cost_source(priced).starts_with("catalog: litellm "), "{priced}");
    assert!(cost_source(priced).ends_with("(openai/gpt-5.4)"), "{priced}");
    let claude = by_target(&document, "claude");
    assert_cost(claude, expected_cost(claude, 5.0, 25.0));
    assert!(cost_source(claude).ends_with("(anthropic/claude-opus-4-7)"), "{claude}");
    let unpriced = by_target(&document, "unpriced");
    assert_eq!(unpriced["cost_usd"], Value::Null, "unknown is never 0: {unpriced}");
    assert_eq!(cost_source(unpriced), "no price for openai/gpt-imaginary");
    let local = by_target(&document, "local");
    assert_eq!(local["cost_usd"], 0.0);
    assert_eq!(cost_source(local), "local model (no charge)");

    // The stored run keeps the costs as they were computed.
    let run_id = document["run_id"].as_str().expect("run id");
    let shown = json(&cli(data.path(), &["runs", "show", run_id, "--json"], &[], None).await);
    for name in ["priced", "unpriced", "claude", "local"] {
        for field in ["cost_usd", "cost_source"] {
            assert_eq!(
                by_target(&shown, name)[field],
                by_target(&document, name)[field],
                "{name} {field}"
            );
        }
    }

    // A contract price wins over the catalog, and every report says it is the user's.
    let output = cli(
        data.path(),
        &[
            "prices",
            "set",
            "openai",
            "gpt-5.4",
            "--input",
            "1",
            "--output",
            "2",
            "--note",
            "contract -60%",
        ],
        &[],
        None,
    )
    .await;
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(
        stdout(&output).contains("override: contract -60% (set 20"),
        "{}",
        stdout(&output)
    );
    let listed = json(
        &cli(
            data.path(),
            &["prices", "list", "--provider", "openai", "--json"],
            &[],
            None,
        )
        .await,
    );
    let gpt_prices: Vec<&Value> = listed["prices"]
        .as_array()
        .expect("prices")
        .iter()
        .filter(|price| price["model"] == "gpt-5.4")
        .collect();
    assert_eq!(gpt_prices.len(), 2, "yours and the catalog's: {gpt_prices:?}");
    assert_eq!(gpt_prices[0]["kind"], "override");
    assert_eq!(gpt_prices[0]["input"], 1.0);
    assert_eq!(gpt_prices[1]["kind"], "catalog");
    assert_eq!(gpt_prices[1]["input"], 2.5);
    assert!(
        listed["catalog"]["origin"]
            .as_str()
            .expect("origin")
            .starts_with("litellm ")
    );

    let document = json(&cli(data.path(), &run_json(Some("priced")), FAKE_KEYS, None).await);
    let priced = by_target(&document, "priced");
    assert_cost(priced, expected_cost(priced, 1.0, 2.0));
    assert!(
        cost_source(priced).starts_with("override: contract -60% (set 20"),
        "{priced}"
    );
    let output = cli(
        data.path(),
        &[
            "run",
            "--targets",
            file,
            "--target",
            "priced",
            "--target",
            "unpriced",
            "hi",
        ],
        FAKE_KEYS,
        None,
    )
    .await;
    assert!(output.status.success(), "{}", stderr(&output));
    let table = stdout(&output);
    assert!(table.contains("COST"), "{table}");
    assert!(
        table
            .lines()
            .any(|line| line.starts_with("priced") && line.contains("*")),
        "{table}"
    );
    assert!(
        table.contains("* your price, override: contract -60% (set 20"),
        "{table}"
    );
    assert!(
        table.contains("cost n/a for unpriced: no price for openai/gpt-imaginary"),
        "{table}"
    );

    // Unset: the catalog's price applies again; unsetting twice is an error that says so.
    let output = cli(data.path(), &["prices", "unset", "openai", "gpt-5.4"], &[], None).await;
    assert!(output.status.success(), "{}", stderr(&output));
    let output = cli(data.path(), &["prices", "unset", "openai", "gpt-5.4"], &[], None).await;
    assert_eq!(output.status.code(), Some(2));
    assert!(
        stderr(&output).contains("no price for openai/gpt-5.4"),
        "{}",
        stderr(&output)
    );
    let document = json(&cli(data.path(), &run_json(Some("priced")), FAKE_KEYS, None).await);
    let priced = by_target(&document, "priced");
    assert_cost(priced, expected_cost(priced, 2.5, 15.0));
    assert!(cost_source(priced).starts_with("catalog: "), "{priced}");

    // An imported catalog replaces the built-in one; LiteLLM's raw map is refused with the way out.
    let catalog = data.path().join("my-prices.json");
    std::fs::write(
        &catalog,
        r#"{"format": "modelbench-prices/1", "origin": "my prices", "as_of": "2026-12-01", "currency": "USD",
            "entries": [{"provider": "openai", "model": "gpt-imaginary", "input": 3, "output": 4,
                         "source": "https://example.com/prices", "as_of": "2026-12-01"}]}"#,
    )
    .expect("write catalog");
    let output = cli(
        data.path(),
        &["prices", "import", catalog.to_str().expect("utf8")],
        &[],
        None,
    )
    .await;
    assert!(output.status.success(), "{}", stderr(&output));
    let document = json(&cli(data.path(), &run_json(None), FAKE_KEYS, None).await);
    let unpriced = by_target(&document, "unpriced");
    assert_cost(unpriced, expected_cost(unpriced, 3.0, 4.0));
    assert_eq!(
        cost_source(unpriced),
        "catalog: my prices as of 2026-12-01 (openai/gpt-imaginary)"
    );
    assert_eq!(
        cost_source(by_target(&document, "priced")),
        "no price for openai/gpt-5.4",
        "the imported catalog is the whole catalog"
    );
    let litellm_map = data.path().join("model_prices_and_context_window.json");
    std::fs::write(
        &litellm_map,
        r#"{"sample_spec": {}, "gpt-5.4": {"input_cost_per_token": 1e-6}}"#,
    )
    .expect("write map");
    let output = cli(
        data.path(),
        &["prices", "import", litellm_map.to_str().expect("utf8")],
        &[],
        None,
    )
    .await;
    assert_eq!(output.status.code(), Some(2));
    assert!(stderr(&output).contains("scripts/import-prices"), "{}", stderr(&output));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prices_compare_names_the_clouds_where_no_price_is_known() {
    // The shipped catalog prices OCI's gpt-5 but not its gpt-5.5: no OCI row, and it says so
    // rather than leaving the cloud out silently.
    let data = tempfile::tempdir().expect("tempdir");
    let text = cli(data.path(), &["prices", "compare", "gpt-5.5"], &[], None).await;
    assert!(text.status.success(), "{}", stderr(&text));
    let text = stdout(&text);
    assert!(
        text.lines().any(|line| line.starts_with("no price known on oci: ")),
        "{text}"
    );
    assert!(!text.lines().any(|line| line.starts_with("oci ")), "{text}");
    let document = json(&cli(data.path(), &["prices", "compare", "gpt-5.5", "--json"], &[], None).await);
    assert_eq!(document["no_price_on"], serde_json::json!(["oci"]), "{document}");
    let priced: Vec<&str> = document["prices"]
        .as_array()
        .expect("prices")
        .iter()
        .filter_map(|row| row["provider"].as_str())
        .collect();
    assert!(!priced.contains(&"oci"), "{priced:?}");
    // Only OCI sells Cohere's Command models, and it is priced: nothing to name.
    let cohere = json(
        &cli(
            data.path(),
            &["prices", "compare", "command-a-03-2025", "--json"],
            &[],
            None,
        )
        .await,
    );
    assert_eq!(cohere["no_price_on"], serde_json::json!([]), "{cohere}");
}
