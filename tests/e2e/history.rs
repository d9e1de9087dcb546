//! `runs delete`, `runs prune` and `db compact` through the real binary on a real database
//! file: what they delete goes whole (rows, events, search documents), the file shrinks, both
//! SQLite's and FTS5's integrity checks pass, and the runs kept read back exactly as before.
//! The history is a synthetic one (`store::synthetic`, as `bench --history` builds) plus a run
//! made by `modelbench run` against fakecloud.

use std::fs::File;
use std::path::Path;

use modelbench_e2e::FAKE_KEYS;
use modelbench_engine::RunId;
use modelbench_engine::store::{DATABASE_FILE, Store, StoredEvent, StoredRun, synthetic};
use rusqlite::Connection;
use serde_json::Value;

use crate::cli::{cli, json, stderr, stdout, with_targets_file};

/// Everything `runs show --json` prints of a run, and every event of its responses.
fn evidence(data: &Path, run: RunId) -> (StoredRun, Vec<Vec<StoredEvent>>) {
    let store = Store::open(&data.join(DATABASE_FILE)).expect("store");
    let stored = store.load_run(run).expect("load").expect("the run is kept");
    let events = stored
        .responses
        .iter()
        .map(|response| store.load_events(run, response.key).expect("events"))
        .collect();
    (stored, events)
}

/// `PRAGMA integrity_check`, FTS5's `integrity-check` and the foreign keys, on the file itself.
fn assert_intact(data: &Path) {
    let connection = Connection::open(data.join(DATABASE_FILE)).expect("open");
    let verdict: String = connection
        .query_row("PRAGMA integrity_check", [], |row| row.get(0))
        .expect("integrity_check");
    assert_eq!(verdict, "ok");
    connection
        .execute("INSERT INTO search_index (search_index) VALUES ('integrity-check')", [])
        .expect("the full-text index matches its documents");
    let broken: i64 = connection
        .query_row("SELECT count(*) FROM pragma_foreign_key_check", [], |row| row.get(0))
        .expect("foreign_key_check");
    assert_eq!(broken, 0);
}

fn ids(document: &Value, field: &str) -> Vec<String> {
    document[field]
        .as_array()
        .unwrap_or_else(|| panic!("no {field} in {document}"))
        .iter()
        .map(|id| id.as_str().expect("an id").to_owned())
        .collect()
}

fn listed(output: &std::process::Output) -> Vec<String> {
    json(output)
        .as_array()
        .expect("runs")
        .iter()
        .map(|run| run["id"].as_str().expect("id").to_owned())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deleting_and_pruning_runs_shrinks_the_database_and_keeps_the_rest_as_it_was() {
    let (_cloud, data, targets) = with_targets_file().await;
    let history = {
        let store = Store::open(&data.path().join(DATABASE_FILE)).expect("store");
        synthetic::fill(&store, 300, 5).expect("history")
    };
    let output = cli(
        data.path(),
        &[
            "run",
            "--targets",
            &targets,
            "--json",
            "Where is the lighthouse keeper?",
        ],
        FAKE_KEYS,
        None,
    )
    .await;
    let made = json(&output)["run_id"].as_str().expect("run id").to_owned();
    let rare_run = history.rare_run.to_string();
    let all = listed(&cli(data.path(), &["runs", "list", "--limit", "1000", "--json"], &[], None).await);
    assert_eq!((all.len(), all[0].as_str()), (301, made.as_str()));
    // The newest synthetic run, one in the middle and the oldest.
    let kept: Vec<RunId> = [&all[1], &all[100], &all[300]]
        .iter()
        .map(|id| id.parse().expect("run id"))
        .collect();
    let kept_before: Vec<_> = kept.iter().map(|run| evidence(data.path(), *run)).collect();

    // Two runs by id and by prefix: the CLI's and the one whose prompt has the rare word.
    let output = cli(
        data.path(),
        &["runs", "delete", &made, &rare_run[..18], "--json"],
        &[],
        None,
    )
    .await;
    let deleted = json(&output);
    assert_eq!(ids(&deleted, "deleted"), vec![made.clone(), rare_run.clone()]);
    assert!(
        deleted["file_bytes_after"].as_u64() < deleted["file_bytes_before"].as_u64(),
        "{deleted}"
    );
    let output = cli(data.path(), &["runs", "show", &made], &[], None).await;
    assert_eq!(output.status.code(), Some(2));
    assert!(stderr(&output).contains("no run matches"), "{}", stderr(&output));
    let output = cli(data.path(), &["search", &history.rare_word], &[], None).await;
    assert!(stdout(&output).starts_with("nothing matches"), "{}", stdout(&output));
    let output = cli(data.path(), &["search", "lighthouse", "--json"], &[], None).await;
    assert_eq!(json(&output), serde_json::json!([]));
    let kept_now: Vec<_> = kept.iter().map(|run| evidence(data.path(), *run)).collect();
    assert!(kept_now == kept_before, "the other runs read back as before");

    // A dry prune names what a prune would delete and deletes nothing.
    let output = cli(
        data.path(),
        &["runs", "prune", "--keep", "40", "--dry-run", "--json"],
        &[],
        None,
    )
    .await;
    let dry = json(&output);
    assert_eq!(dry["dry_run"], true);
    assert_eq!(ids(&dry, "would_delete").len(), 299 - 40);
    assert!(ids(&dry, "deleted").is_empty());
    let remaining = listed(&cli(data.path(), &["runs", "list", "--limit", "1000", "--json"], &[], None).await);
    assert_eq!(remaining.len(), 299);

    // Started before the 41st newest run (days apart), and never the newest 3.
    let cutoff = evidence(data.path(), remaining[40].parse().expect("run id"))
        .0
        .record
        .started_at_ms;
    let date = modelbench_engine::record::utc_date_time(cutoff);
    let output = cli(
        data.path(),
        &["runs", "prune", "--before", &date, "--keep", "3"],
        &[],
        None,
    )
    .await;
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(stdout(&output).contains("deleted 258 runs"), "{}", stdout(&output));
    let remaining = listed(&cli(data.path(), &["runs", "list", "--limit", "1000", "--json"], &[], None).await);
    assert_eq!(remaining.len(), 41);

    let output = cli(data.path(), &["runs", "prune", "--keep", "2", "--json"], &[], None).await;
    let pruned = json(&output);
    assert_eq!(ids(&pruned, "deleted").len(), 39);
    let (before, after) = (
        deleted["file_bytes_before"].as_u64().expect("size"),
        pruned["file_bytes_after"].as_u64().expect("size"),
    );
    assert!(after * 4 < before, "{before} bytes -> {after} bytes");
    assert_eq!(pruned["free_bytes"], 0, "incremental auto-vacuum gave every page back");
    let on_disk = std::fs::metadata(data.path().join(DATABASE_FILE)).expect("file").len();
    assert!(on_disk <= after, "{on_disk} bytes on disk");

    // The two runs left read back exactly as before.
    let remaining = listed(&cli(data.path(), &["runs", "list", "--json"], &[], None).await);
    assert_eq!(remaining, vec![kept[0].to_string(), all[2].clone()]);
    assert!(evidence(data.path(), kept[0]) == kept_before[0]);
    assert_intact(data.path());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_running_run_is_refused_by_delete_and_left_alone_by_prune() {
    let data = tempfile::tempdir().expect("data dir");
    {
        let store = Store::open(&data.path().join(DATABASE_FILE)).expect("store");
        synthetic::fill(&store, 5, 6).expect("history");
    }
    let all = listed(&cli(data.path(), &["runs", "list", "--json"], &[], None).await);
    let (running, other) = (all[1].clone(), all[3].clone());
    // Its process is alive: it holds the run's lock, as a run writing right now does.
    std::fs::create_dir_all(data.path().join("run-locks")).expect("locks dir");
    let lock = File::create(data.path().join("run-locks").join(format!("{running}.lock"))).expect("lock file");
    lock.try_lock().expect("lock");

    let output = cli(data.path(), &["runs", "delete", &other, &running], &[], None).await;
    assert_eq!(output.status.code(), Some(2));
    let error = stderr(&output);
    assert!(error.contains(&format!("run {running} is still running")), "{error}");
    assert!(error.contains("nothing was deleted"), "{error}");
    assert_eq!(
        listed(&cli(data.path(), &["runs", "list", "--json"], &[], None).await).len(),
        5
    );

    let output = cli(data.path(), &["runs", "prune", "--keep", "0", "--json"], &[], None).await;
    let pruned = json(&output);
    assert_eq!(ids(&pruned, "running"), vec![running.clone()]);
    assert_eq!(ids(&pruned, "deleted").len(), 4);
    let output = cli(data.path(), &["runs", "prune", "--keep", "0"], &[], None).await;
    assert!(stdout(&output).contains(&format!("left run {running} alone: it is running")));

    // Its process ended: now it can go.
    drop(lock);
    let output = cli(data.path(), &["runs", "delete", &running], &[], None).await;
    assert!(output.status.success(), "{}", stderr(&output));
    assert_eq!(
        listed(&cli(data.path(), &["runs", "list", "--json"], &[], None).await),
        Vec::<String>::new()
    );
    assert_intact(data.path());
}

/// A database made before incremental auto-vacuum: a prune frees pages inside the file, `db
/// compact` gives them back once and switches it over, and later deletions shrink it by themselves.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_older_database_is_compacted_once_then_shrinks_by_itself() {
    let data = tempfile::tempdir().expect("data dir");
    let path = data.path().join(DATABASE_FILE);
    Connection::open(&path)
        .expect("open")
        .execute_batch("PRAGMA journal_mode = WAL; CREATE TABLE made_by_an_older_build (x);")
        .expect("an older file");
    {
        let store = Store::open(&path).expect("store");
        synthetic::fill(&store, 200, 7).expect("history");
    }
    let output = cli(data.path(), &["runs", "prune", "--keep", "100"], &[], None).await;
    assert!(
        stdout(&output).contains("`modelbench db compact` gives it back to the disk"),
        "{}",
        stdout(&output)
    );
    let output = cli(data.path(), &["runs", "prune", "--keep", "20", "--json"], &[], None).await;
    let pruned = json(&output);
    let full = pruned["file_bytes_before"].as_u64().expect("size");
    assert!(
        pruned["file_bytes_after"].as_u64().expect("size") * 10 > full * 9,
        "{pruned}"
    );
    assert!(pruned["free_bytes"].as_u64().expect("free") * 2 > full, "{pruned}");

    let output = cli(data.path(), &["db", "compact", "--json"], &[], None).await;
    let compacted = json(&output);
    assert_eq!(compacted["gives_back_space"], true);
    let small = compacted["file_bytes_after"].as_u64().expect("size");
    assert!(small * 2 < full, "{full} -> {compacted}");

    let survivors = listed(&cli(data.path(), &["runs", "list", "--limit", "100", "--json"], &[], None).await);
    assert_eq!(survivors.len(), 20);
    let mut arguments = vec!["runs", "delete", "--json"];
    arguments.extend(survivors[2..].iter().map(String::as_str));
    let deleted = json(&cli(data.path(), &arguments, &[], None).await);
    assert!(deleted["file_bytes_after"].as_u64().expect("size") < small, "{deleted}");
    assert_eq!(deleted["free_bytes"], 0);
    assert_intact(data.path());
}
