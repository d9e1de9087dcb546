//! The CLI under kills, signals, storage failures and runaway servers (the reliability findings):
//! a dead run is found and shown for what it is, signals cancel like Ctrl-C, a run that cannot
//! be stored is refused before anything is sent, answers are never withheld, and size caps hold.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use fakecloud::{Config, FakeCloud};
use modelbench_e2e::{FAKE_KEYS, modelbench_binary};
use serde_json::Value;

use crate::cli::{cli, json, stderr, stdout};

/// One OpenAI target on fakecloud whose answers take `tokens × gap_ms`.
fn slow_targets(data: &Path, base: &str, spec: &str) -> String {
    let file = data.join("targets.toml");
    std::fs::write(
        &file,
        format!("[[target]]\nname = \"slow\"\nprovider = \"openai\"\nmodel = \"m~{spec}\"\nbase_url = \"{base}/v1\"\n"),
    )
    .expect("write targets");
    file.to_str().expect("utf8 path").to_owned()
}

fn prompts_file(data: &Path, count: usize) -> String {
    let file = data.join("prompts.txt");
    let text: String = (0..count).map(|index| format!("prompt number {index}\n")).collect();
    std::fs::write(&file, text).expect("write prompts");
    file.to_str().expect("utf8 path").to_owned()
}

/// `modelbench run` in the background, so the test can signal or kill it.
fn spawn_run(data_dir: &Path, args: &[&str]) -> Child {
    let mut command = Command::new(modelbench_binary());
    command
        .arg("run")
        .args(args)
        .env("MODELBENCH_DATA_DIR", data_dir)
        .env("NO_COLOR", "1")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (name, value) in FAKE_KEYS {
        command.env(name, value);
    }
    command.spawn().expect("spawn modelbench run")
}

fn send_signal(child: &Child, signal: &str) {
    let status = Command::new("kill")
        .args(["-s", signal, &child.id().to_string()])
        .status()
        .expect("kill runs");
    assert!(status.success(), "kill -s {signal}");
}

fn only_run(data: &Path) -> Value {
    let list = std::process::Command::new(modelbench_binary())
        .args(["runs", "list", "--json"])
        .env("MODELBENCH_DATA_DIR", data)
        .output()
        .expect("runs list");
    let runs: Value = serde_json::from_slice(&list.stdout).expect("runs list json");
    assert_eq!(runs.as_array().map(Vec::len), Some(1), "{runs}");
    runs[0].clone()
}

/// Starts a batch of `prompts` prompts to the slow targets (fakecloud `spec`) at concurrency 2
/// and kills it with SIGKILL 1.3 s in.
async fn kill_a_run_part_way(data: &Path, base: &str, spec: &str, prompts: usize) {
    let targets = slow_targets(data, base, spec);
    let prompts = prompts_file(data, prompts);
    let mut child = spawn_run(
        data,
        &["--targets", &targets, "--prompts", &prompts, "--concurrency", "2"],
    );
    tokio::time::sleep(Duration::from_millis(1_300)).await;
    child.kill().expect("kill -9");
    child.wait().expect("reaped");
}

#[tokio::test]
async fn a_killed_run_is_shown_interrupted_with_honest_counts_and_searchable_partials() {
    let cloud = FakeCloud::start(Config::default()).await.expect("fakecloud");
    let data = tempfile::tempdir().expect("tempdir");
    // Two responses in flight, each about 30 of 60 tokens in.
    kill_a_run_part_way(data.path(), &cloud.base_url(), "tokens=60;gap_ms=40", 20).await;

    let run = only_run(data.path());
    assert_eq!(run["status"], "interrupted", "{run}");
    assert!(run["finished_at_ms"].is_i64(), "{run}");
    assert_eq!(run["response_count"], 20, "{run}");
    assert_eq!(
        (
            &run["complete_count"],
            &run["partial_count"],
            &run["failed_count"],
            &run["never_sent_count"]
        ),
        (&Value::from(0), &Value::from(2), &Value::from(0), &Value::from(18)),
        "{run}"
    );

    let list = cli(data.path(), &["runs", "list"], &[], None).await;
    let text = stdout(&list);
    assert!(text.contains("interrupted"), "{text}");
    assert!(
        text.contains("0 complete, 2 partial, 0 failed, 18 never sent of 20"),
        "{text}"
    );

    let id = run["id"].as_str().expect("id");
    let show = cli(data.path(), &["runs", "show", id], &[], None).await;
    let text = stdout(&show);
    assert!(text.contains("18 of 20 planned responses were never sent"), "{text}");
    assert!(text.contains("incomplete"), "{text}");
    assert!(text.contains("interrupted"), "{text}");
    assert!(text.contains("process running this run stopped"), "{text}");

    // The partial answers are in the search index.
    let search = json(&cli(data.path(), &["search", "Lorem", "--json"], &[], None).await);
    let responses = search
        .as_array()
        .expect("hits")
        .iter()
        .filter(|hit| hit["kind"] == "response")
        .count();
    assert_eq!(responses, 2, "{search}");

    // The report keeps the plan.
    let export = json(&cli(data.path(), &["export", id, "--format", "json"], &[], None).await);
    assert_eq!(export["run"]["planned_count"], 20, "{export}");
    assert_eq!(export["run"]["status"], "interrupted", "{export}");
}

#[tokio::test]
async fn sigterm_and_sighup_cancel_like_ctrl_c_and_cancellations_are_not_failures() {
    let cloud = FakeCloud::start(Config::default()).await.expect("fakecloud");
    for (signal, code) in [("TERM", 143), ("HUP", 129), ("INT", 130)] {
        let data = tempfile::tempdir().expect("tempdir");
        let targets = slow_targets(data.path(), &cloud.base_url(), "tokens=40;gap_ms=40");
        let prompts = prompts_file(data.path(), 20);
        let child = spawn_run(
            data.path(),
            &["--targets", &targets, "--prompts", &prompts, "--concurrency", "2"],
        );
        tokio::time::sleep(Duration::from_millis(800)).await;
        send_signal(&child, signal);
        let output = child.wait_with_output().expect("run output");
        let text = String::from_utf8_lossy(&output.stdout).into_owned();
        assert_eq!(output.status.code(), Some(code), "SIG{signal}: {output:?}");
        // One line for the responses never sent, not one each.
        assert!(!text.contains("cancelled before it started"), "SIG{signal}: {text}");
        assert!(
            text.contains("18 of 20 responses were cancelled before they were sent"),
            "SIG{signal}: {text}"
        );

        let run = only_run(data.path());
        assert_eq!(run["status"], "cancelled", "SIG{signal}: {run}");
        assert!(run["finished_at_ms"].is_i64(), "SIG{signal}: {run}");
        assert_eq!(run["failed_count"], 0, "SIG{signal}: {run}");
        assert_eq!(run["never_sent_count"], 18, "SIG{signal}: {run}");
        assert_eq!(run["running_count"], 0, "SIG{signal}: {run}");
        let list = stdout(&cli(data.path(), &["runs", "list"], &[], None).await);
        assert!(list.contains("cancelled"), "{list}");
        assert!(list.contains(" 0 failed,"), "{list}");
    }
}

/// A database whose `responses` table a run cannot write (here: renamed away, as an older or
/// foreign schema would have it).
fn break_schema(data: &Path) {
    let db = rusqlite::Connection::open(data.join("modelbench.db")).expect("open db");
    db.execute_batch("ALTER TABLE responses RENAME TO responses_elsewhere;")
        .expect("rename");
}

#[tokio::test]
async fn a_run_that_cannot_be_stored_is_refused_before_anything_is_sent() {
    let cloud = FakeCloud::start(Config::default()).await.expect("fakecloud");
    let data = tempfile::tempdir().expect("tempdir");
    let targets = slow_targets(data.path(), &cloud.base_url(), "tokens=3");
    // Creates the database.
    cli(data.path(), &["runs", "list"], &[], None).await;
    break_schema(data.path());
    let output = cli(data.path(), &["run", "--targets", &targets, "hello"], FAKE_KEYS, None).await;
    assert_eq!(output.status.code(), Some(2), "{output:?}");
    let message = stderr(&output);
    assert!(
        message.contains("modelbench.db") && message.contains("nothing was sent"),
        "{message}"
    );
    assert!(
        cloud.requests().is_empty(),
        "a request went out: {:?}",
        cloud.requests()
    );
}

#[tokio::test]
async fn a_damaged_database_is_refused_with_its_name_and_the_way_out() {
    let cloud = FakeCloud::start(Config::default()).await.expect("fakecloud");
    let data = tempfile::tempdir().expect("tempdir");
    let targets = slow_targets(data.path(), &cloud.base_url(), "tokens=3");
    let prompts = prompts_file(data.path(), 60);
    let first = cli(
        data.path(),
        &["run", "--targets", &targets, "--prompts", &prompts],
        FAKE_KEYS,
        None,
    )
    .await;
    assert!(first.status.success(), "{first:?}");
    let requests_before = cloud.requests().len();
    // Garbage over the middle of the file, past the schema on the first page.
    let path = data.path().join("modelbench.db");
    let mut bytes = std::fs::read(&path).expect("read db");
    let middle = bytes.len() / 2;
    for byte in &mut bytes[middle - 2048..middle + 2048] {
        *byte = 0xA5;
    }
    std::fs::write(&path, &bytes).expect("damage db");
    let output = cli(data.path(), &["run", "--targets", &targets, "hello"], FAKE_KEYS, None).await;
    assert_eq!(output.status.code(), Some(2), "{output:?}");
    let message = stderr(&output);
    assert!(message.contains(path.to_str().expect("utf8")), "{message}");
    assert!(message.contains(".recover"), "{message}");
    assert_eq!(cloud.requests().len(), requests_before, "a request went out");
}

#[tokio::test]
async fn answers_are_printed_even_when_the_database_refuses_them() {
    let cloud = FakeCloud::start(Config::default()).await.expect("fakecloud");
    let data = tempfile::tempdir().expect("tempdir");
    let targets = slow_targets(data.path(), &cloud.base_url(), "tokens=5");
    let prompts = prompts_file(data.path(), 3);
    cli(data.path(), &["runs", "list"], &[], None).await;
    // Finishing a response updates its row: refused, as a full disk would refuse it.
    let db = rusqlite::Connection::open(data.path().join("modelbench.db")).expect("open db");
    db.execute_batch(
        "CREATE TRIGGER refuse_ends BEFORE UPDATE ON responses BEGIN SELECT RAISE(ABORT, 'simulated disk full'); END;",
    )
    .expect("trigger");
    let output = cli(
        data.path(),
        &["run", "--targets", &targets, "--prompts", &prompts, "--json"],
        FAKE_KEYS,
        None,
    )
    .await;
    assert_eq!(output.status.code(), Some(3), "{output:?}");
    assert!(stderr(&output).contains("could not store"), "{}", stderr(&output));
    let document: Value = serde_json::from_slice(&output.stdout).expect("the --json document is printed");
    let results = document["results"].as_array().expect("results");
    assert_eq!(results.len(), 3, "{document}");
    for result in results {
        assert_eq!(result["complete"], true, "{result}");
        assert_eq!(result["text"], "Lorem ipsum dolor sit amet", "{result}");
    }
    // The run was not recorded `completed` with rows left `running`; once the disk is back it
    // is repaired as interrupted, partial rows ended.
    db.execute_batch("DROP TRIGGER refuse_ends;").expect("drop trigger");
    drop(db);
    let run = only_run(data.path());
    assert_ne!(run["status"], "completed", "{run}");
    assert_eq!(run["running_count"], 0, "{run}");
}

#[tokio::test]
async fn after_a_run_the_database_file_alone_holds_the_data() {
    let cloud = FakeCloud::start(Config::default()).await.expect("fakecloud");
    let data = tempfile::tempdir().expect("tempdir");
    let targets = slow_targets(data.path(), &cloud.base_url(), "tokens=3");
    for _ in 0..2 {
        let output = cli(data.path(), &["run", "--targets", &targets, "hello"], FAKE_KEYS, None).await;
        assert!(output.status.success(), "{output:?}");
    }
    let copy = data.path().join("copy.db");
    std::fs::copy(data.path().join("modelbench.db"), &copy).expect("copy the file alone");
    let db = rusqlite::Connection::open(&copy).expect("open copy");
    let runs: i64 = db
        .query_row("SELECT count(*) FROM runs", [], |row| row.get(0))
        .expect("the copy has the runs table");
    assert_eq!(runs, 2);
}

#[tokio::test]
async fn runaway_streams_and_error_bodies_stop_at_their_caps() {
    let cloud = FakeCloud::start(Config::default()).await.expect("fakecloud");
    let data = tempfile::tempdir().expect("tempdir");
    let base = cloud.base_url();
    let file = data.path().join("targets.toml");
    std::fs::write(
        &file,
        format!(
            "[[target]]\nname = \"noline\"\nprovider = \"openai\"\nmodel = \"m~flood_no_newline_mib=40\"\nbase_url = \"{base}/v1\"\n\n\
             [[target]]\nname = \"huge-error\"\nprovider = \"anthropic\"\nmodel = \"m~flood_error_body_mib=200\"\nbase_url = \"{base}\"\n\n\
             [[target]]\nname = \"long\"\nprovider = \"openai\"\nmodel = \"m~tokens=250000\"\nbase_url = \"{base}/v1\"\n\n\
             [[target]]\nname = \"fine\"\nprovider = \"openai\"\nmodel = \"m~tokens=5\"\nbase_url = \"{base}/v1\"\n"
        ),
    )
    .expect("write targets");
    let output = cli(
        data.path(),
        &[
            "run",
            "--targets",
            file.to_str().expect("utf8"),
            "--retries",
            "0",
            "--max-output-mib",
            "1",
            "--json",
            "hello",
        ],
        FAKE_KEYS,
        None,
    )
    .await;
    let document = json(&output);
    let result = |target: &str| -> Value {
        document["results"]
            .as_array()
            .and_then(|results| results.iter().find(|result| result["target"] == target))
            .cloned()
            .unwrap_or_else(|| panic!("no result for {target}: {document}"))
    };
    let noline = result("noline");
    assert_eq!(noline["complete"], false, "{noline}");
    let message = noline["error"]["message"].as_str().unwrap_or_default();
    assert!(message.contains("over 16 MiB without completing one event"), "{noline}");

    let huge_error = result("huge-error");
    assert_eq!(huge_error["error"]["status"], 500, "{huge_error}");

    let long = result("long");
    assert_eq!(long["complete"], false, "{long}");
    let message = long["error"]["message"].as_str().unwrap_or_default();
    assert!(message.contains("output exceeded 1 MiB"), "{long}");
    let kept = long["text"].as_str().unwrap_or_default().len();
    assert!((1 << 20..(1 << 20) + 4096).contains(&kept), "kept {kept} bytes");

    assert_eq!(result("fine")["complete"], true, "{document}");
}

#[tokio::test]
async fn a_killed_run_is_resumed_sending_only_what_is_missing() {
    let cloud = FakeCloud::start(Config::default()).await.expect("fakecloud");
    let data = tempfile::tempdir().expect("tempdir");
    // A couple of answers complete (0.5 s each), two are in flight.
    kill_a_run_part_way(data.path(), &cloud.base_url(), "tokens=10;gap_ms=50", 12).await;
    let before = only_run(data.path());
    assert_eq!(before["status"], "interrupted", "{before}");
    let complete_before = before["complete_count"].as_u64().expect("count");
    assert!(complete_before >= 1, "{before}");
    let requests_before = cloud.requests().len();

    let id = before["id"].as_str().expect("id").to_owned();
    let output = cli(data.path(), &["runs", "resume", &id, "--json"], FAKE_KEYS, None).await;
    let document = json(&output);
    assert_eq!(document["run_id"], id.as_str(), "{document}");
    let results = document["results"].as_array().expect("results");
    assert_eq!(results.len(), 12, "{document}");
    assert!(results.iter().all(|result| result["complete"] == true), "{document}");
    // Only what was missing or unfinished went out again.
    assert_eq!(
        cloud.requests().len() - requests_before,
        12 - usize::try_from(complete_before).expect("small"),
    );
    let after = only_run(data.path());
    assert_eq!(after["status"], "completed", "{after}");
    assert_eq!(after["complete_count"], 12, "{after}");
    assert_eq!(after["never_sent_count"], 0, "{after}");

    // Nothing left to send: said so, nothing sent.
    let again = cli(data.path(), &["runs", "resume", &id], FAKE_KEYS, None).await;
    assert!(stdout(&again).contains("nothing to send"), "{}", stdout(&again));
}
