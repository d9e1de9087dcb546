//! LLM judges through the CLI against fakecloud: a session of three targets whose answers differ
//! in length, judged by fakecloud's scripted judge (`answer=judge`: the longer answer wins).
//! Every pair is asked in both orders (fakecloud's request log shows the answers swapped), the
//! wins are what the script implies, a position-biased judge (always "A") gets only ties, a
//! budget stops the judge within its cap and asking again finishes it without sending a call
//! twice, and the suite's `llm-rubric` checks become evaluated in `session show`.

use std::collections::{HashMap, HashSet};
use std::path::Path;

use fakecloud::{Config, FakeCloud, RequestRecord, parse_spec};
use modelbench_engine::{ProviderKind, Target};
use serde_json::Value;

use crate::cli::cli;
use modelbench_e2e::FAKE_KEYS;

const TESTS: usize = 3;
/// 3 tests × 3 pairs × 2 orders.
const PAIRWISE_CALLS: usize = TESTS * 3 * 2;

fn target(name: &str, model: &str, base: &str) -> Target {
    let mut target = Target::new(name, ProviderKind::OpenAi, model);
    target.base_url = Some(format!("{base}/v1"));
    target
}

async fn modelbench(data: &Path, args: &[&str]) -> std::process::Output {
    cli(data, args, FAKE_KEYS, None).await
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

/// The (question, answer A, answer B) a judge request showed.
fn shown(record: &RequestRecord) -> (String, String, String) {
    let user = record.body["messages"]
        .as_array()
        .expect("messages")
        .iter()
        .rfind(|message| message["role"] == "user")
        .and_then(|message| message["content"].as_str())
        .expect("a user message")
        .to_owned();
    let part = |tag: &str| {
        let open = format!("<{tag}>\n");
        let start = user.find(&open).map(|start| start + open.len()).expect(tag);
        let end = start + user[start..].find(&format!("\n</{tag}>")).expect(tag);
        user[start..end].to_owned()
    };
    (part("question"), part("answer_a"), part("answer_b"))
}

fn tally<'a>(document: &'a Value, target: &str) -> &'a Value {
    let result = &document["result"];
    let index = result["targets"]
        .as_array()
        .expect("targets")
        .iter()
        .position(|name| name == target)
        .expect("the target");
    &result["pair_tallies"][index]
}

fn counts(document: &Value, target: &str) -> (u64, u64, u64, u64) {
    let tally = tally(document, target);
    let count = |name: &str| tally[name].as_u64().expect(name);
    (count("wins"), count("ties"), count("losses"), count("unparsed"))
}

fn pass_rate(document: &Value, target: &str) -> Value {
    document["targets"]
        .as_array()
        .expect("targets")
        .iter()
        .find(|figures| figures["target"] == target)
        .expect("the target")["pass_rate"]["value"]
        .clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_judge_asks_every_pair_in_both_orders_stays_within_its_budget_and_grades_llm_rubric_checks() {
    let spec = |text: &str| parse_spec(text).expect("spec");
    let config = Config {
        scenarios: HashMap::from([
            ("model-short".to_owned(), spec("answer=echo")),
            ("model-mid".to_owned(), spec("answer=echo;text=with more")),
            (
                "model-long".to_owned(),
                spec("answer=echo;text=with a much longer explanation appended"),
            ),
            // The judge is a priced model, so a budget can cover it.
            ("gpt-5.4".to_owned(), spec("answer=judge")),
            ("judge-biased".to_owned(), spec("text=A")),
        ]),
        ..Config::default()
    };
    let cloud = FakeCloud::start(config).await.expect("fakecloud");
    let base = cloud.base_url();
    let data = tempfile::tempdir().expect("tempdir");
    let mut long = target("long", "model-long", &base);
    // Of the judge's family: the self-preference warning names it.
    long.base_model = Some("gpt-5.4".to_owned());
    let targets = vec![
        target("short", "model-short", &base),
        target("mid", "model-mid", &base),
        long,
        target("judge", "gpt-5.4", &base),
        target("biased", "judge-biased", &base),
    ];
    let targets_file = data.path().join("targets.toml");
    std::fs::write(&targets_file, modelbench_engine::target::targets_to_toml(&targets)).expect("targets");
    let targets_file = targets_file.display().to_string();
    let mut suite = String::from("name: judged\nprompts:\n  - \"Question {{n}}: what is it?\"\ntests:\n");
    for n in 1..=TESTS {
        suite.push_str(&format!(
            "  - id: q{n}\n    vars: {{n: {n}}}\n    checks:\n      - type: llm-rubric\n        value: gives an explanation\n"
        ));
    }
    let suite_file = data.path().join("suite.yaml");
    std::fs::write(&suite_file, suite).expect("suite");
    let suite_file = suite_file.display().to_string();

    let session = modelbench(
        data.path(),
        &[
            "session",
            "run",
            &suite_file,
            "--targets",
            &targets_file,
            "--target",
            "short",
            "--target",
            "mid",
            "--target",
            "long",
            "--json",
        ],
    )
    .await;
    assert!(session.status.success(), "{}", String::from_utf8_lossy(&session.stderr));
    let session_id = json(&session)["session_id"].as_str().expect("session id").to_owned();
    // Without a judge the llm-rubric checks are kept unevaluated: no pass rate.
    let before = json(&modelbench(data.path(), &["session", "show", &session_id, "--json"]).await);
    assert_eq!(pass_rate(&before, "long"), Value::Null);

    let judge = |extra: Vec<String>, judge: &'static str| {
        let (data, session_id, targets_file) = (data.path().to_owned(), session_id.clone(), targets_file.clone());
        async move {
            let mut args = vec![
                "judge",
                &session_id,
                "--judge",
                judge,
                "--targets",
                &targets_file,
                "--json",
            ];
            args.extend(extra.iter().map(String::as_str));
            modelbench(&data, &args).await
        }
    };
    let flags = |flags: &[&str]| -> Vec<String> { flags.iter().map(|flag| (*flag).to_owned()).collect() };
    let judge_requests = || -> Vec<RequestRecord> {
        cloud
            .requests()
            .into_iter()
            .filter(|record| record.model == "gpt-5.4")
            .collect()
    };

    // A budget that covers nothing: nothing is sent, and the worst case is reported.
    let refused = judge(
        flags(&["--pairwise", "--budget", "0.0000001", "--concurrency", "1"]),
        "judge",
    )
    .await;
    assert_eq!(
        refused.status.code(),
        Some(4),
        "{}",
        String::from_utf8_lossy(&refused.stderr)
    );
    let refused = json(&refused);
    assert_eq!(refused["status"], "stopped");
    assert!(judge_requests().is_empty());
    let worst_case = refused["worst_case_usd"].as_f64().expect("the judge is priced");
    assert!(
        refused["warnings"][0].as_str().expect("warning").contains("long"),
        "{refused}"
    );

    // A little over one call's worst case (1,024 output tokens, where an answer takes some 40):
    // a few calls go, then the judge stops, never over the cap (resumed:
    // the same session, judge and mode continue the same judge run).
    let cap = worst_case / PAIRWISE_CALLS as f64 * 1.2;
    let stopped = judge(
        flags(&["--pairwise", "--concurrency", "1", "--budget", &format!("{cap:.10}")]),
        "judge",
    )
    .await;
    let stderr = String::from_utf8_lossy(&stopped.stderr).into_owned();
    assert_eq!(stopped.status.code(), Some(4), "{stderr}");
    assert!(stderr.contains("self-preference"), "{stderr}");
    let stopped = json(&stopped);
    assert_eq!(stopped["status"], "stopped");
    assert_eq!(stopped["resumed"], true);
    let sent = judge_requests().len();
    assert!(
        sent > 0 && sent < PAIRWISE_CALLS,
        "{sent} of {PAIRWISE_CALLS} judge calls sent"
    );
    let spent = stopped["result"]["spent_usd"].as_f64().expect("spent");
    assert!(0.0 < spent && spent <= cap, "spent {spent} over the cap {cap}");

    // Asked again with room: it finishes, sending only what is missing.
    let finished = judge(flags(&["--pairwise", "--budget", "100"]), "judge").await;
    assert!(
        finished.status.success(),
        "{}",
        String::from_utf8_lossy(&finished.stderr)
    );
    let finished = json(&finished);
    assert_eq!(finished["status"], "completed");
    assert_eq!(finished["judge_run_id"], stopped["judge_run_id"]);
    assert_eq!(finished["calls_sent"].as_u64(), Some((PAIRWISE_CALLS - sent) as u64));

    // The request log: every pair in both orders, each order once.
    let asked: Vec<(String, String, String)> = judge_requests().iter().map(shown).collect();
    assert_eq!(asked.len(), PAIRWISE_CALLS);
    let unique: HashSet<&(String, String, String)> = asked.iter().collect();
    assert_eq!(unique.len(), PAIRWISE_CALLS, "a judge call was sent twice");
    for (question, a, b) in &asked {
        assert_ne!(a, b);
        assert!(
            unique.contains(&(question.clone(), b.clone(), a.clone())),
            "{question}: never asked with the answers swapped"
        );
    }

    // The longer answer wins in both orders: long beats both, mid beats short.
    assert_eq!(counts(&finished, "long"), (6, 0, 0, 0));
    assert_eq!(counts(&finished, "mid"), (3, 0, 3, 0));
    assert_eq!(counts(&finished, "short"), (0, 0, 6, 0));
    assert_eq!(tally(&finished, "mid")["position_consistency"], 1.0);

    // A judge that always says "A" follows the position: every pair a tie, no consistency.
    let biased = judge(flags(&["--pairwise"]), "biased").await;
    assert!(biased.status.success(), "{}", String::from_utf8_lossy(&biased.stderr));
    let biased = json(&biased);
    for name in ["short", "mid", "long"] {
        assert_eq!(counts(&biased, name), (0, 6, 0, 0), "{name}");
        assert_eq!(tally(&biased, name)["position_consistency"], 0.0, "{name}");
    }
    assert!(biased["warnings"].as_array().expect("warnings").is_empty());

    // The llm-rubric checks: the judge passes the answers that give an explanation.
    let checks = judge(flags(&["--checks"]), "judge").await;
    assert!(checks.status.success(), "{}", String::from_utf8_lossy(&checks.stderr));
    assert_eq!(
        json(&checks)["result"]["checks"].as_array().map(Vec::len),
        Some(TESTS * 3)
    );
    let after = json(&modelbench(data.path(), &["session", "show", &session_id, "--json"]).await);
    assert_eq!(pass_rate(&after, "long"), 1.0);
    assert_eq!(pass_rate(&after, "mid"), 0.0);
    assert_eq!(pass_rate(&after, "short"), 0.0);
    let notes = after["notes"].to_string();
    assert!(notes.contains("graded by the judge judge"), "{notes}");

    // `judge show` lists the three judge runs.
    let shown = json(&modelbench(data.path(), &["judge", "show", &session_id, "--json"]).await);
    let modes: Vec<&str> = shown
        .as_array()
        .expect("runs")
        .iter()
        .map(|run| run["mode"].as_str().expect("mode"))
        .collect();
    assert_eq!(modes, ["pairwise", "pairwise", "checks"]);
}
