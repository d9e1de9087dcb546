//! The report from a fixed run: snapshots of Markdown, CSV and JSON (the run id, the time the
//! report was made and the version redacted), and the HTML's safety checks.

use serde_json::{Value, json};

use super::*;
use crate::model::error::ProviderError;
use crate::model::event::{ResponseKey, Usage};
use crate::model::record::{Metrics, ResponseRecord, RunId, RunRecord};
use crate::model::request::{Message, Prompt, Role};
use crate::model::target::{Api, ProviderKind, Target};
use crate::store::{RunStatus, StoredRun};

const STARTED_AT_MS: i64 = 1_795_000_000_000;

fn targets() -> Vec<Target> {
    let mut gpt = Target::new("gpt", ProviderKind::OpenAi, "gpt-5.4");
    gpt.api_key_ref = Some("env:SECRET_REFERENCE_NAME".to_owned());
    gpt.base_url = Some("https://gateway.internal.example/v1".to_owned());
    let mut claude = Target::new("claude-bedrock", ProviderKind::Bedrock, "anthropic.claude-sonnet-4-5");
    claude.region = Some("eu-west-1".to_owned());
    claude.profile = Some("work-profile".to_owned());
    claude.api = Some(Api::Converse);
    let mut azure = Target::new("azure-gpt", ProviderKind::Azure, "gpt-5.4");
    azure.resource = Some("contoso".to_owned());
    azure.deployment = Some("gpt54-prod".to_owned());
    azure.key = Some("azure-keychain-entry".to_owned());
    azure.headers.insert("x-secret-route".to_owned(), "hidden".to_owned());
    let gemini = Target::new("gemini", ProviderKind::Gemini, "gemini-2.5-flash");
    vec![gpt, claude, azure, gemini]
}

/// A complete answer of `target` (its timings, tokens and cost vary with the target index).
pub(crate) fn response(run_id: RunId, key: ResponseKey, target: &Target, text: &str) -> ResponseRecord {
    let offset = i64::from(key.target_index) * 10 + i64::from(key.repeat_index);
    ResponseRecord {
        run_id,
        key,
        target: target.name.clone(),
        provider: target.provider.as_str().to_owned(),
        model: target.model.clone(),
        request_id: Some(format!(
            "req_{}_{}_{}",
            key.prompt_index, key.target_index, key.repeat_index
        )),
        reported_model: Some(format!("{}-2026-01-01", target.model)),
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
            input_tokens: Some(20),
            output_tokens: Some(12 + u64::from(key.target_index)),
            reasoning_tokens: None,
            cached_input_tokens: None,
            cache_creation_input_tokens: None,
            total_tokens: Some(32 + u64::from(key.target_index)),
            raw: json!({"ignored": true}),
        },
        metrics: Metrics {
            time_to_first_token_ms: Some(120.5 + 100.0 * f64::from(key.target_index)),
            total_ms: 840.25 + 300.0 * f64::from(key.target_index),
            output_tokens_per_second: Some(55.123_456),
            content_chunks: 6,
            gap_p50_ms: Some(20.0),
            gap_p95_ms: Some(45.0),
            gap_max_ms: Some(50.0),
            server_latency_ms: None,
            server_first_byte_ms: None,
            ..Metrics::default()
        },
        cost_usd: Some(0.000_21 * f64::from(key.target_index + 1)),
        cost_source: Some(format!(
            "catalog: litellm 1.110.2 as of 2026-11-01 ({}/{})",
            target.provider, target.model
        )),
        complete: true,
        error: None,
        attempts: 1,
        unsupported_parameters: Vec::new(),
        started_at_ms: STARTED_AT_MS + 5 + offset,
        finished_at_ms: STARTED_AT_MS + 900 + offset,
    }
}

/// One prompt to four targets: two agree, one was cut short by a timeout, one failed at once
/// (and answered with markup, to see it escaped).
fn sample_run() -> StoredRun {
    let id = RunId::new();
    let targets = targets();
    let key = |target_index| ResponseKey {
        prompt_index: 0,
        target_index,
        repeat_index: 0,
    };
    let gpt = response(
        id,
        key(0),
        &targets[0],
        "The aurora is light from charged particles hitting the upper atmosphere.\nSee https://example.com/aurora for more.",
    );
    let mut claude = response(
        id,
        key(1),
        &targets[1],
        "The aurora is light from solar particles striking the upper atmosphere.\n| pipes | and <b>tags</b> |",
    );
    // Bedrock metered fewer output tokens than the model counted; both are reported.
    claude.billed_input_tokens = claude.usage.input_tokens;
    claude.billed_output_tokens = claude.usage.output_tokens.map(|tokens| tokens - 2);
    let mut azure = response(id, key(2), &targets[2], "The aurora is light from charged");
    azure.region = Some("swedencentral".to_owned());
    azure.complete = false;
    azure.finish_reason = None;
    azure.raw_finish_reason = None;
    azure.cost_usd = None;
    azure.cost_source = Some("no usage reported".to_owned());
    azure.usage = Usage::default();
    let mut timeout = ProviderError::new(
        crate::model::error::ErrorKind::Timeout,
        "azure",
        "no chunk for 60000 ms",
    );
    timeout.target = "azure-gpt".to_owned();
    azure.error = Some(timeout);
    let mut gemini = response(id, key(3), &targets[3], "");
    gemini.complete = false;
    gemini.finish_reason = None;
    gemini.raw_finish_reason = None;
    gemini.reported_model = None;
    gemini.request_id = None;
    gemini.cost_usd = None;
    gemini.cost_source = Some("no usage reported".to_owned());
    gemini.usage = Usage::default();
    gemini.metrics = Metrics {
        total_ms: 95.0,
        ..Metrics::default()
    };
    gemini.attempts = 3;
    let mut limited = ProviderError::from_cloud(
        "gemini",
        Some(429),
        Some("RESOURCE_EXHAUSTED".to_owned()),
        "Quota <exceeded> for `generate_content`",
    );
    limited.target = "gemini".to_owned();
    gemini.error = Some(limited);
    StoredRun {
        planned_count: 0,
        record: RunRecord {
            id,
            started_at_ms: STARTED_AT_MS,
            parameters: Parameters {
                temperature: Some(0.2),
                top_p: None,
                max_output_tokens: Some(256),
                stop_sequences: vec!["END".to_owned()],
                seed: Some(7),
            },
            prompts: vec![
                Prompt::user("Explain the aurora in one sentence.").with_system(Some("Be brief.".to_owned())),
            ],
            targets,
            repeat: 1,
        },
        finished_at_ms: Some(STARTED_AT_MS + 2_000),
        status: RunStatus::Completed,
        responses: vec![gpt, claude, azure, gemini],
    }
}

/// Two prompts (one a conversation), two targets, two repeats.
fn batch_run() -> StoredRun {
    let id = RunId::new();
    let targets: Vec<Target> = targets().into_iter().take(2).collect();
    let prompts = vec![
        Prompt::user("Name a prime number."),
        Prompt {
            system: None,
            messages: vec![
                Message {
                    role: Role::User,
                    content: "What is Rust?".to_owned(),
                },
                Message {
                    role: Role::Assistant,
                    content: "A programming language.".to_owned(),
                },
                Message {
                    role: Role::User,
                    content: "Why is it fast?".to_owned(),
                },
            ],
        },
    ];
    let mut responses = Vec::new();
    for prompt_index in 0..2 {
        for (target_index, target) in targets.iter().enumerate() {
            for repeat_index in 0..2 {
                let key = ResponseKey {
                    prompt_index,
                    target_index: u32::try_from(target_index).unwrap_or_default(),
                    repeat_index,
                };
                let text = format!("answer {prompt_index} from {} try {repeat_index}", target.name);
                responses.push(response(id, key, target, &text));
            }
        }
    }
    StoredRun {
        planned_count: 0,
        record: RunRecord {
            id,
            started_at_ms: STARTED_AT_MS,
            parameters: Parameters::default(),
            prompts,
            targets,
            repeat: 2,
        },
        finished_at_ms: None,
        status: RunStatus::Running,
        responses,
    }
}

fn report_of(run: &StoredRun) -> Report {
    Report::from_run(run, env!("CARGO_PKG_VERSION"), crate::model::record::now_unix_ms())
}

/// Snapshot filters for what changes between runs: the run id, the report's own time and the
/// ModelBench version.
fn filters(report: &Report) -> Vec<(String, String)> {
    let literal = |text: &str| text.replace('.', "\\.");
    vec![
        (literal(&report.run.id), "[run-id]".to_owned()),
        (
            report.generator.generated_at_ms.to_string(),
            "[generated-at-ms]".to_owned(),
        ),
        (literal(&report.generator.generated_at), "[generated-at]".to_owned()),
        (
            format!("\"{}\"", literal(&report.generator.version)),
            "\"[version]\"".to_owned(),
        ),
        (
            format!("ModelBench {}", literal(&report.generator.version)),
            "ModelBench [version]".to_owned(),
        ),
    ]
}

macro_rules! assert_redacted_snapshot {
    ($report:expr, $name:expr, $text:expr) => {
        let filters = filters(&$report);
        let filters: Vec<(&str, &str)> = filters
            .iter()
            .map(|(pattern, replacement)| (pattern.as_str(), replacement.as_str()))
            .collect();
        insta::with_settings!({ filters => filters }, {
            insta::assert_snapshot!($name, $text);
        });
    };
}

#[test]
fn markdown_matches_snapshot() {
    let report = report_of(&sample_run());
    assert_redacted_snapshot!(report, "report_markdown", report.render(Format::Markdown));
}

#[test]
fn csv_matches_snapshot() {
    let report = report_of(&sample_run());
    assert_redacted_snapshot!(report, "report_csv", report.render(Format::Csv));
}

#[test]
fn json_matches_snapshot() {
    let report = report_of(&sample_run());
    assert_redacted_snapshot!(report, "report_json", report.render(Format::Json));
}

#[test]
fn batch_markdown_matches_snapshot() {
    let report = report_of(&batch_run());
    assert_redacted_snapshot!(report, "report_batch_markdown", report.render(Format::Markdown));
}

#[test]
fn outcomes_summaries_and_targets_follow_the_run() {
    let run = sample_run();
    let report = report_of(&run);
    let outcomes: Vec<Outcome> = report.responses.iter().map(|response| response.outcome).collect();
    assert_eq!(
        outcomes,
        [Outcome::Complete, Outcome::Complete, Outcome::Partial, Outcome::Failed]
    );
    assert_eq!((report.run.failed_count, report.run.partial_count), (1, 1));
    assert_eq!(report.responses[2].text, "The aurora is light from charged");
    assert_eq!(
        report.responses[3].error.as_ref().map(|error| error.kind.as_str()),
        Some("rate_limited")
    );

    let places: Vec<(Option<&str>, Option<&str>)> = report
        .targets
        .iter()
        .map(|target| (target.region.as_deref(), target.deployment.as_deref()))
        .collect();
    assert_eq!(
        places,
        [
            (None, None),
            (Some("eu-west-1"), None),
            (None, Some("gpt54-prod")),
            (None, None)
        ]
    );
    assert_eq!(report.targets[2].reported_regions, ["swedencentral"]);
    assert_eq!(report.targets[0].reported_models, ["gpt-5.4-2026-01-01"]);
    // A failed response's cost is unknown, so its target's cost is not a sum of anything.
    assert_eq!(report.targets[3].summary.cost_usd, None);
    assert!(!report.targets[3].summary.cost_complete);
    assert_eq!(report.targets[3].summary.median_total_ms, None);
    assert_eq!(report.targets[1].summary.median_time_to_first_token_ms, Some(220.5));
}

#[test]
fn nothing_about_credentials_or_endpoints_reaches_any_format() {
    let report = report_of(&sample_run());
    for format in Format::ALL {
        let text = report.render(format);
        for secret in [
            "SECRET_REFERENCE_NAME",
            "gateway.internal",
            "work-profile",
            "azure-keychain-entry",
            "x-secret-route",
            "hidden",
            "ignored",
        ] {
            assert!(!text.contains(secret), "{format} export contains {secret}");
        }
    }
}

#[test]
fn a_batch_run_keeps_every_prompt_and_repeat_apart() {
    let report = report_of(&batch_run());
    assert!(report.is_batch());
    assert_eq!(report.prompts.len(), 2);
    for prompt in &report.prompts {
        assert_eq!(prompt.responses.len(), 4);
        for &position in &prompt.responses {
            assert_eq!(report.responses[position].prompt_index as usize, prompt.index);
        }
    }
    assert_eq!(report.response_label(0), "gpt #1.1");
    assert_eq!(report.response_label(7), "claude-bedrock #2.2");
    assert_eq!(report.targets[0].summary.responses, 4);
    assert_eq!(report.prompts[1].messages.len(), 3);
    let csv = report.render(Format::Csv);
    assert_eq!(csv.lines().count(), 1 + 8);
}

#[test]
fn json_has_the_documented_top_level_fields_and_schema_version() {
    let report = report_of(&sample_run());
    let document: Value = serde_json::from_str(&report.render(Format::Json)).expect("the export is JSON");
    let keys: Vec<&str> = document
        .as_object()
        .expect("an object")
        .keys()
        .map(String::as_str)
        .collect();
    // serde_json's map sorts its keys.
    assert_eq!(
        keys,
        [
            "generator",
            "method",
            "prompts",
            "responses",
            "run",
            "schema_version",
            "targets"
        ]
    );
    assert_eq!(document["schema_version"], SCHEMA_VERSION);
    assert_eq!(document["responses"][3]["outcome"], "failed");
    assert_eq!(document["responses"][2]["outcome"], "partial");
}

#[test]
fn csv_has_one_record_per_response_under_the_documented_header() {
    let run = sample_run();
    let report = report_of(&run);
    let text = report.render(Format::Csv);
    let header = text.split("\r\n").next().expect("a header");
    assert_eq!(header, csv::COLUMNS.join(","));
    // Quoted fields hold line breaks, so count records by their CRLF ends outside quotes.
    let records = text.split("\r\n").filter(|line| !line.is_empty()).count();
    assert_eq!(records, 1 + run.responses.len());
    assert!(text.contains(
        "\"The aurora is light from solar particles striking the upper atmosphere.\n| pipes | and <b>tags</b> |\""
    ));
}

fn html_of(run: &mut StoredRun, text: &str) -> String {
    run.responses[0].text = text.to_owned();
    run.record.prompts[0].messages[0].content = format!("user says {text}");
    run.responses[3].error.as_mut().expect("an error").message = format!("cloud says {text}");
    report_of(run).render(Format::Html)
}

#[test]
fn html_escapes_a_script_answer_and_refers_to_nothing_outside() {
    let mut run = sample_run();
    let html = html_of(
        &mut run,
        "<script>alert(1)</script> <img src=\"https://evil.example/x.png\"> [link](http://evil.example) \
         <a href='//evil.example'>x</a> <style>body{background:url(https://evil.example/bg)}</style>",
    );
    assert!(html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"), "{html}");
    let lowercase = html.to_ascii_lowercase();
    for forbidden in [
        "<script",
        "<img",
        "<a ",
        "<link",
        "<iframe",
        "<object",
        "<embed",
        "http://",
        "https://",
        "@import",
        // Attributes: an escaped answer has its quotes as entities, so these only match markup.
        "src=\"",
        "src='",
        "href=\"",
        "href='",
        "xmlns",
        "javascript:",
        " on",
    ] {
        // ` on` would catch event handler attributes (`onload=`); prose has none in tags.
        if forbidden == " on" {
            assert!(
                !lowercase.contains(" onload=") && !lowercase.contains(" onerror="),
                "event handler attribute"
            );
            continue;
        }
        assert!(!lowercase.contains(forbidden), "the page contains {forbidden}");
    }
    // The only <style> is ours (the answer's shows as text), and neither it nor any style
    // attribute loads anything.
    assert_eq!(lowercase.matches("<style>").count(), 1);
    let stylesheet = lowercase
        .split("<style>")
        .nth(1)
        .and_then(|rest| rest.split("</style>").next())
        .expect("a stylesheet");
    assert!(!stylesheet.contains("url("));
    for attribute in lowercase.split("style=\"").skip(1) {
        let value = attribute.split('"').next().unwrap_or_default();
        assert!(!value.contains("url("), "{value}");
    }
    assert!(html.contains("&lt;style&gt;"));
    // The answer's address still reads as written once the entities are decoded.
    assert!(html.contains("https&#58;//evil.example/x.png"));
}

#[test]
fn html_has_the_charts_the_sections_and_print_styles() {
    let report = report_of(&sample_run());
    let html = report.render(Format::Html);
    assert!(html.starts_with("<!DOCTYPE html>"));
    assert_eq!(html.matches("<svg class=\"chart\"").count(), 2);
    // Latency: two bars for each target that has a first token, one for the failed target's
    // total (it failed before any output, so the median leaves it out).
    assert_eq!(html.matches("class=\"bar-ttft\"").count(), 3);
    assert_eq!(html.matches("class=\"bar-total\"").count(), 3);
    assert_eq!(html.matches("class=\"bar-cost\"").count(), 2);
    assert!(html.contains("no cost known"));
    assert!(html.contains("@media print"));
    for heading in [
        "Targets",
        "Latency and cost",
        "Prompt 1",
        "Metrics",
        "Similarity",
        "Answers",
        "Method",
    ] {
        assert!(
            html.contains(&format!(">{heading}</h2>")) || html.contains(&format!(">{heading}</h3>")),
            "{heading}"
        );
    }
    assert!(html.contains("<span class=\"badge partial\">partial</span>"));
    assert!(html.contains("<span class=\"badge failed\">failed</span>"));
    assert!(html.contains("Quota &lt;exceeded&gt; for `generate_content`"));
}

#[test]
fn formats_parse_from_their_names() {
    for format in Format::ALL {
        assert_eq!(Format::parse(format.as_str()), Some(format));
    }
    assert_eq!(Format::parse("markdown"), Some(Format::Markdown));
    assert_eq!(Format::parse("HTML"), Some(Format::Html));
    assert_eq!(Format::parse("pdf"), None);
}

#[test]
fn formats_cross_the_wire_by_the_names_the_command_line_uses() -> serde_json::Result<()> {
    for format in Format::ALL {
        assert_eq!(serde_json::to_value(format)?, json!(format.as_str()));
        assert_eq!(serde_json::from_value::<Format>(json!(format.as_str()))?, format);
    }
    assert!(serde_json::from_value::<Format>(json!("pdf")).is_err());
    Ok(())
}
