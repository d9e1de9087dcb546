//! `modelbench diff` end to end: runs saved through the Store into a temp data dir, then the binary
//! asked for pairwise diffs, matrices and file comparisons, and for the errors users will meet.

use std::path::Path;

use modelbench_engine::store::{DATABASE_FILE, RunStatus};
use modelbench_engine::{
    Metrics, Parameters, Prompt, ProviderError, ProviderKind, ResponseKey, ResponseRecord, RunId, RunRecord, Store,
    Target, Usage,
};

use crate::cli::{cli, json, stderr, stdout};

/// `modelbench` with `arguments` split on whitespace (the paths here have no spaces).
async fn modelbench_diff(data_dir: &Path, arguments: &str) -> std::process::Output {
    let arguments: Vec<&str> = arguments.split_whitespace().collect();
    cli(data_dir, &arguments, &[], None).await
}

const TARGETS: [&str; 4] = ["gpt-openai", "gpt-azure", "claude", "broken"];

fn answer(run_id: RunId, prompt_index: u32, target_index: u32, text: &str) -> ResponseRecord {
    ResponseRecord {
        run_id,
        key: ResponseKey {
            prompt_index,
            target_index,
            repeat_index: 0,
        },
        target: TARGETS[target_index as usize].to_owned(),
        provider: "openai".to_owned(),
        model: "m".to_owned(),
        request_id: None,
        reported_model: None,
        base_model: None,
        region: None,
        system_fingerprint: None,
        service_tier: None,
        text: text.to_owned(),
        reasoning: String::new(),
        tool_calls: Vec::new(),
        finish_reason: None,
        raw_finish_reason: None,
        billed_input_tokens: None,
        billed_output_tokens: None,
        refusal: false,
        usage: Usage::default(),
        metrics: Metrics::default(),
        cost_usd: None,
        cost_source: None,
        complete: true,
        error: None,
        attempts: 1,
        unsupported_parameters: Vec::new(),
        started_at_ms: 1_790_000_000_000,
        finished_at_ms: 1_790_000_001_000,
    }
}

/// A finished run of two prompts: the two GPT targets nearly agree, Claude says something else,
/// `broken` failed without a word; on prompt 2 the answers are JSON (one fenced, one prose).
async fn saved_run(data_dir: &Path) -> RunId {
    let store = Store::open(&data_dir.join(DATABASE_FILE)).expect("store");
    let writer = store.writer();
    let run = RunRecord {
        id: RunId::new(),
        started_at_ms: 1_790_000_000_000,
        parameters: Parameters::default(),
        prompts: vec![Prompt::user("Where is the lighthouse?"), Prompt::user("As JSON")],
        targets: TARGETS
            .iter()
            .map(|name| Target::new(*name, ProviderKind::OpenAi, "m"))
            .collect(),
        repeat: 1,
    };
    writer.run_started(&run);
    let mut failed = answer(run.id, 0, 3, "");
    failed.complete = false;
    failed.error = Some(ProviderError::new(
        modelbench_engine::ErrorKind::Server,
        "openai",
        "boom",
    ));
    for response in [
        answer(
            run.id,
            0,
            0,
            "The lighthouse stands on the northern cliff, near the old harbour.",
        ),
        answer(
            run.id,
            0,
            1,
            "The lighthouse stands on the northern cliff, by the old harbour.",
        ),
        answer(run.id, 0, 2, "I do not know which lighthouse you mean."),
        failed,
        answer(run.id, 1, 0, "```json\n{\"city\": \"Brest\", \"height_m\": 52}\n```"),
        answer(run.id, 1, 1, "{\"city\": \"Brest\", \"height_m\": 50}"),
        answer(run.id, 1, 2, "Sorry, no JSON today."),
    ] {
        writer.response_finished(&response);
    }
    writer.run_finished(run.id, 1_790_000_002_000, RunStatus::Completed);
    writer.flush().await.expect("saved");
    run.id
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn diff_of_two_targets_plain_and_json() {
    let data = tempfile::tempdir().expect("tempdir");
    let run_id = saved_run(data.path()).await.to_string();
    let prefix = &run_id[..13];

    let output = modelbench_diff(data.path(), &format!("diff {prefix} --a gpt-openai --b gpt-azure")).await;
    assert!(output.status.success(), "{}", stderr(&output));
    let text = stdout(&output);
    assert!(
        text.starts_with("--- a: gpt-openai\n+++ b: gpt-azure\nwords diff, similarity 0.9"),
        "{text}"
    );
    // Not a terminal (and NO_COLOR set by the helper): plain markers, no escape codes.
    assert!(text.contains("cliff, [-near-]{+by+} the old harbour."), "{text}");
    assert!(!text.contains('\x1b'), "{text:?}");

    let document = json(
        &modelbench_diff(
            data.path(),
            &format!("diff {run_id} --a gpt-openai --b gpt-azure --json"),
        )
        .await,
    );
    assert_eq!(document["run_id"], run_id.as_str());
    assert_eq!(
        (document["a"].as_str(), document["b"].as_str()),
        (Some("gpt-openai"), Some("gpt-azure"))
    );
    assert_eq!(document["mode"], "words");
    assert_eq!(document["content"]["kind"], "spans");
    assert_eq!(document["stats"]["deleted"], 1);
    assert_eq!(document["stats"]["inserted"], 1);

    let document = json(
        &modelbench_diff(
            data.path(),
            &format!("diff {run_id} --prompt 2 --a gpt-openai --b gpt-azure --mode json --json"),
        )
        .await,
    );
    assert_eq!(document["prompt"], 2);
    assert_eq!(
        document["content"]["changes"],
        serde_json::json!([{"path": "$.height_m", "kind": "changed", "a": 52, "b": 50}])
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn matrix_of_a_run_marks_outlier_and_majority() {
    let data = tempfile::tempdir().expect("tempdir");
    let run_id = saved_run(data.path()).await.to_string();

    let output = modelbench_diff(data.path(), &format!("diff {run_id}")).await;
    assert!(output.status.success(), "{}", stderr(&output));
    let text = stdout(&output);
    let rows: Vec<&str> = text.lines().collect();
    assert_eq!(rows[0], "similarity (words), 1 = identical:");
    assert!(
        rows[1].starts_with("   target") && rows[1].ends_with("#3   mean"),
        "{text}"
    );
    assert!(
        rows[2].starts_with("#1 gpt-openai  1.00  0.9") && rows[2].ends_with("majority"),
        "{text}"
    );
    assert!(
        rows[4].starts_with("#3 claude") && rows[4].ends_with("outlier"),
        "{text}"
    );
    assert_eq!(rows.len(), 5, "the failed target is left out: {text}");
    assert!(stderr(&output).contains("leaving out 'broken'"), "{}", stderr(&output));

    let document = json(&modelbench_diff(data.path(), &format!("diff {run_id} --json --mode normalized")).await);
    assert_eq!(
        document["labels"],
        serde_json::json!(["gpt-openai", "gpt-azure", "claude"])
    );
    assert_eq!(document["mode"], "normalized");
    assert_eq!(document["outlier"], 2);
    assert_eq!(document["majority"], 0);
    assert_eq!(document["ratios"][1][0], document["ratios"][0][1]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn files_compare_as_a_pair_or_a_matrix() {
    let data = tempfile::tempdir().expect("tempdir");
    let path = |name: &str, text: &str| {
        let file = data.path().join(name);
        std::fs::write(&file, text).expect("write");
        file.to_str().expect("utf8").to_owned()
    };
    let one = path("one.md", "# Plan\n\n- **Buy** milk\n- Walk the dog\n");
    let two = path("two.md", "Plan\n1. Buy milk\n2. Walk the cat\n");
    let three = path("three.md", "Nothing alike at all.\n");

    let output = modelbench_diff(data.path(), &format!("diff --mode normalized --files {one} {two}")).await;
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(
        stdout(&output).ends_with("Plan\n\nBuy milk\nWalk the [-dog-]{+cat+}\n"),
        "{}",
        stdout(&output)
    );

    let output = modelbench_diff(data.path(), &format!("diff --mode lines --files {one} {two}")).await;
    assert!(
        stdout(&output).contains("~ [-# -]Plan\n- \n~ ") && stdout(&output).ends_with("Walk the [-dog-]{+cat+}\n"),
        "{}",
        stdout(&output)
    );

    let document = json(&modelbench_diff(data.path(), &format!("diff --json --files {one} {two} {three}")).await);
    assert_eq!(document["labels"][2], three.as_str());
    assert_eq!(document["outlier"], 2);
    assert!(document.get("run_id").is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn errors_name_their_cause_and_exit_non_zero() {
    let data = tempfile::tempdir().expect("tempdir");
    let run_id = saved_run(data.path()).await.to_string();
    let missing_file = data.path().join("missing.txt");
    let missing_file = missing_file.to_str().expect("utf8");
    let cases = [
        ("diff 0000aaaa".to_owned(), "no run matches '0000aaaa'"),
        (
            format!("diff {run_id} --a gpt-openai --b nope"),
            "has no target 'nope' (its targets: gpt-openai, gpt-azure, claude, broken)",
        ),
        (
            format!("diff {run_id} --prompt 2 --a gpt-openai --b broken"),
            "target 'broken' has no answer to prompt #2",
        ),
        (
            format!("diff {run_id} --prompt 3"),
            "has 2 prompt(s): --prompt takes 1 to 2",
        ),
        (
            format!("diff {run_id} --prompt 2 --a gpt-openai --b claude --mode json"),
            "claude (side b) is not JSON: expected value",
        ),
        (format!("diff {run_id} --prompt 2 --mode json"), "claude is not JSON"),
        (
            format!("diff --files {missing_file} {missing_file}"),
            "cannot read file",
        ),
    ];
    for (args, message) in cases {
        let output = modelbench_diff(data.path(), &args).await;
        assert_eq!(output.status.code(), Some(2), "{args:?}: {}", stdout(&output));
        assert!(stderr(&output).contains(message), "{args:?}: {}", stderr(&output));
        assert!(!stderr(&output).contains("panicked"), "{}", stderr(&output));
    }
    let output = modelbench_diff(data.path(), &format!("diff {run_id} --mode chars")).await;
    assert!(!output.status.success());
    assert!(
        stderr(&output).contains("unknown diff mode 'chars'"),
        "{}",
        stderr(&output)
    );
}
