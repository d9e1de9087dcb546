//! `modelbench export` end to end: a run saved with the store in a temp database, exported by
//! the binary in every format, and each report checked against that run.

use std::path::Path;

use modelbench_engine::event::{FinishReason, ResponseKey, Usage};
use modelbench_engine::record::{Metrics, ResponseRecord, RunId, RunRecord};
use modelbench_engine::store::{RunStatus, Store};
use modelbench_engine::{ErrorKind, Parameters, Prompt, ProviderError, ProviderKind, Target};
use serde_json::Value;

use crate::cli::{cli, stderr, stdout};

fn targets() -> Vec<Target> {
    let mut gpt = Target::new("gpt", ProviderKind::OpenAi, "gpt-5.4");
    gpt.api_key_ref = Some("env:EXPORT_TEST_KEY_REFERENCE".to_owned());
    let mut claude = Target::new("claude", ProviderKind::Bedrock, "anthropic.claude-sonnet-4-5");
    claude.region = Some("eu-west-1".to_owned());
    let gemini = Target::new("gemini", ProviderKind::Gemini, "gemini-2.5-flash");
    vec![gpt, claude, gemini]
}

fn response(run_id: RunId, target_index: u32, target: &Target, text: &str) -> ResponseRecord {
    ResponseRecord {
        run_id,
        key: ResponseKey {
            prompt_index: 0,
            target_index,
            repeat_index: 0,
        },
        target: target.name.clone(),
        provider: target.provider.as_str().to_owned(),
        model: target.model.clone(),
        request_id: Some(format!("req-{target_index}")),
        reported_model: Some(format!("{}-v{target_index}", target.model)),
        base_model: None,
        region: None,
        system_fingerprint: None,
        service_tier: None,
        text: text.to_owned(),
        reasoning: String::new(),
        tool_calls: Vec::new(),
        finish_reason: Some(FinishReason::Stop),
        raw_finish_reason: Some("stop".to_owned()),
        billed_input_tokens: None,
        billed_output_tokens: None,
        refusal: false,
        usage: Usage {
            input_tokens: Some(10),
            output_tokens: Some(7 + u64::from(target_index)),
            total_tokens: Some(17 + u64::from(target_index)),
            ..Usage::default()
        },
        metrics: Metrics {
            time_to_first_token_ms: Some(100.0 + 50.0 * f64::from(target_index)),
            total_ms: 700.0 + 100.0 * f64::from(target_index),
            output_tokens_per_second: Some(40.5),
            content_chunks: 5,
            ..Metrics::default()
        },
        cost_usd: Some(0.000_5 * f64::from(target_index + 1)),
        cost_source: Some(format!("catalog: test prices as of 2026-11-01 ({})", target.name)),
        complete: true,
        error: None,
        attempts: 1,
        unsupported_parameters: Vec::new(),
        started_at_ms: 1_795_000_000_010,
        finished_at_ms: 1_795_000_000_900,
    }
}

/// Saves a run of one prompt to three targets (the last failed) and returns its id.
async fn saved_run(data_dir: &Path) -> RunId {
    let store = Store::open(&data_dir.join("modelbench.db")).expect("store");
    let targets = targets();
    let run = RunRecord {
        id: RunId::new(),
        started_at_ms: 1_795_000_000_000,
        parameters: Parameters {
            temperature: Some(0.3),
            ..Parameters::default()
        },
        prompts: vec![Prompt::user("Why is the sky blue?").with_system(Some("One sentence.".to_owned()))],
        targets: targets.clone(),
        repeat: 1,
    };
    let writer = store.writer();
    writer.run_started(&run);
    writer.response_finished(&response(
        run.id,
        0,
        &targets[0],
        "Rayleigh scattering of sunlight makes the sky blue.",
    ));
    writer.response_finished(&response(
        run.id,
        1,
        &targets[1],
        "<script>alert(1)</script> Rayleigh scattering makes it blue.",
    ));
    let mut failed = response(run.id, 2, &targets[2], "");
    failed.complete = false;
    failed.finish_reason = None;
    failed.raw_finish_reason = None;
    failed.reported_model = None;
    failed.usage = Usage::default();
    failed.cost_usd = None;
    failed.cost_source = Some("no usage reported".to_owned());
    let mut error = ProviderError::new(ErrorKind::Auth, "gemini", "API key not valid");
    error.status = Some(401);
    error.target = "gemini".to_owned();
    failed.error = Some(error);
    writer.response_finished(&failed);
    writer.run_finished(run.id, 1_795_000_001_000, RunStatus::Completed);
    writer.flush().await.expect("saved");
    run.id
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exports_a_stored_run_in_every_format() {
    let data = tempfile::tempdir().expect("tempdir");
    let run_id = saved_run(data.path()).await;
    let id = run_id.to_string();
    let export = |format: &'static str, extra: Vec<String>| {
        let id = id.clone();
        let data_dir = data.path().to_owned();
        async move {
            let mut args = vec![
                "export".to_owned(),
                id[..13].to_owned(),
                "--format".to_owned(),
                format.to_owned(),
            ];
            args.extend(extra);
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            cli(&data_dir, &args, &[], None).await
        }
    };

    // JSON, from a short id on stdout: the run's targets, texts, metrics and errors.
    let output = export("json", Vec::new()).await;
    assert!(output.status.success(), "{}", stderr(&output));
    let report: Value = serde_json::from_slice(&output.stdout).expect("JSON");
    assert_eq!(report["schema_version"], 1);
    assert_eq!(report["run"]["id"], id);
    assert_eq!(report["run"]["status"], "completed");
    assert_eq!(report["run"]["parameters"]["temperature"], 0.3);
    assert_eq!(report["prompts"][0]["system"], "One sentence.");
    assert_eq!(report["prompts"][0]["messages"][0]["content"], "Why is the sky blue?");
    let names: Vec<&str> = report["targets"]
        .as_array()
        .expect("targets")
        .iter()
        .map(|target| target["name"].as_str().expect("name"))
        .collect();
    assert_eq!(names, ["gpt", "claude", "gemini"]);
    assert_eq!(report["targets"][1]["region"], "eu-west-1");
    assert_eq!(
        report["targets"][1]["reported_models"][0],
        "anthropic.claude-sonnet-4-5-v1"
    );
    let responses = report["responses"].as_array().expect("responses");
    assert_eq!(responses.len(), 3);
    assert_eq!(
        responses[0]["text"],
        "Rayleigh scattering of sunlight makes the sky blue."
    );
    assert_eq!(responses[0]["metrics"]["time_to_first_token_ms"], 100.0);
    assert_eq!(responses[1]["metrics"]["total_ms"], 800.0);
    assert_eq!(responses[1]["usage"]["output_tokens"], 8);
    assert_eq!(responses[1]["cost"]["usd"], 0.001);
    assert_eq!(
        responses[1]["cost"]["source"],
        "catalog: test prices as of 2026-11-01 (claude)"
    );
    assert_eq!(responses[2]["outcome"], "failed");
    assert_eq!(responses[2]["error"]["kind"], "auth");
    assert_eq!(responses[2]["error"]["status"], 401);
    assert_eq!(responses[2]["error"]["message"], "API key not valid");
    // Two answers with text: a matrix of two and the one diff between them.
    let similarity = &report["prompts"][0]["similarity"];
    assert_eq!(similarity["responses"], serde_json::json!([0, 1]));
    let ratio = similarity["ratios"][0][1].as_f64().expect("ratio");
    assert!(ratio > 0.0 && ratio < 1.0, "{ratio}");
    assert_eq!(report["prompts"][0]["diffs"][0]["kind"], "pair");

    // CSV to a file: one record per response under the header.
    let csv_path = data.path().join("report.csv");
    let output = export(
        "csv",
        vec!["-o".to_owned(), csv_path.to_str().expect("utf8").to_owned()],
    )
    .await;
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(stdout(&output).is_empty());
    let csv = std::fs::read_to_string(&csv_path).expect("the CSV file");
    let records: Vec<&str> = csv.split("\r\n").filter(|record| !record.is_empty()).collect();
    assert_eq!(records.len(), 4);
    assert!(records[0].starts_with("run_id,prompt_index,target_index,repeat_index,target,provider,model,"));
    assert!(
        records[1].starts_with(&format!("{id},0,0,0,gpt,openai,gpt-5.4,")),
        "{}",
        records[1]
    );
    assert!(
        records[2].contains(",complete,stop,150,800,40.5,10,8,,18,0.001,"),
        "{}",
        records[2]
    );
    assert!(
        records[3].contains(",failed,") && records[3].contains(",auth,401,,API key not valid,"),
        "{}",
        records[3]
    );

    // Markdown: the answers in full, the failure named.
    let output = export("md", Vec::new()).await;
    assert!(output.status.success(), "{}", stderr(&output));
    let markdown = stdout(&output);
    assert!(markdown.contains(&format!("# ModelBench report: run {id}")));
    assert!(markdown.contains("Rayleigh scattering of sunlight makes the sky blue."));
    assert!(markdown.contains("HTTP 401 API key not valid"));
    assert!(markdown.contains("| claude | bedrock | anthropic.claude-sonnet-4-5 | converse | eu-west-1 |"));

    // HTML: escaped, self-contained, with the same run in it.
    let output = export("html", Vec::new()).await;
    assert!(output.status.success(), "{}", stderr(&output));
    let html = stdout(&output);
    assert!(html.contains("&lt;script&gt;alert(1)&lt;/script&gt; Rayleigh scattering makes it blue."));
    assert!(!html.to_ascii_lowercase().contains("<script"));
    assert!(!html.contains("http://") && !html.contains("https://"));
    assert!(html.contains("API key not valid"));

    for text in [&markdown, &html, &csv] {
        assert!(!text.contains("EXPORT_TEST_KEY_REFERENCE"));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn export_errors_name_their_cause() {
    let data = tempfile::tempdir().expect("tempdir");
    let run_id = saved_run(data.path()).await.to_string();

    let output = cli(data.path(), &["export", "ffffffff", "--format", "md"], &[], None).await;
    assert_eq!(output.status.code(), Some(2));
    assert!(
        stderr(&output).contains("no run matches 'ffffffff'"),
        "{}",
        stderr(&output)
    );

    let unwritable = data.path().join("missing-folder").join("report.html");
    let output = cli(
        data.path(),
        &[
            "export",
            &run_id,
            "--format",
            "html",
            "-o",
            unwritable.to_str().expect("utf8"),
        ],
        &[],
        None,
    )
    .await;
    assert_eq!(output.status.code(), Some(2));
    assert!(
        stderr(&output).contains("cannot write the report to"),
        "{}",
        stderr(&output)
    );
    assert!(!stderr(&output).contains("panicked"));

    let output = cli(data.path(), &["export", &run_id, "--format", "docx"], &[], None).await;
    assert!(!output.status.success());
    assert!(
        stderr(&output).contains("possible values: md, csv, json, html, pdf"),
        "{}",
        stderr(&output)
    );
}
