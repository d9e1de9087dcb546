//! The real app window under Xvfb, driven through tauri-driver + WebKitWebDriver: targets added
//! in the Targets view (one of them keyed through the OS keychain), one prompt to five targets on
//! fakecloud (one fails before streaming, one breaks mid-stream, one answers with HTML), every
//! pane's final status and text, the run in History and in the database, and a screenshot.
//! Then the same app with no session bus at all, so no keychain: targets keyed by environment
//! variables and the AWS chain still list and run, the keychain-keyed one is marked and fails
//! with its clear error, and the first launch still offers the simulated clouds.
//!
//! Skips (saying why) without a display or the drivers; `MODELBENCH_REQUIRE_DESKTOP=1`, as
//! scripts/test sets, makes that a failure.

use std::collections::HashMap;
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::time::Duration;

use fakecloud::{Config, Failure, FakeCloud, Keys, Scenario};
use modelbench_e2e::app_binary;
use modelbench_e2e::desktop::{Session, Tools};
use modelbench_engine::Store;
use serde_json::json;

use crate::cli::cli;

const PROMPT: &str = "Which cloud should we run the contract summariser on?";
const OLD_PROMPT: &str = "An older question, soon deleted from History";
const ALPHA: &str = "Alpha: run it where the data already lives, in the region your contracts require.";
const BETA: &str = "Beta: compare **latency** and *price* on each cloud, then pick the cheapest that meets the SLA.";
const CUT: &str = "This answer is cut off by an overloaded server halfway through its sentence.";
/// An answer that is markup: it must be shown as these characters, never become an element.
const HTML: &str = "<img src=x onerror=\"document.title='pwned'\"> <b>bold?</b>";
const OPENAI_SECRET: &str = "sk-desktop-e2e-0123456789";

fn scenario(text: &str, failure: Option<Failure>) -> Scenario {
    Scenario {
        time_to_first_token: Duration::from_millis(150),
        inter_token_delay: Duration::from_millis(15),
        text: Some(text.to_owned()),
        failure,
        ..Scenario::default()
    }
}

/// The window tests share one virtual screen: one app window on it at a time, so a screenshot
/// shows that test's window and no other window covers it.
static ONE_WINDOW_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// Where the e2e test leaves its screenshots (the README's comes from here).
fn screenshot_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/desktop-e2e")
}

fn save_screenshot(png: &[u8], name: &str) -> PathBuf {
    assert!(png.starts_with(b"\x89PNG"), "a PNG");
    let dir = screenshot_dir();
    std::fs::create_dir_all(&dir).expect("screenshot dir");
    let path = dir.join(name);
    std::fs::write(&path, png).expect("write screenshot");
    eprintln!("screenshot: {}", path.display());
    // `MODELBENCH_SCREENSHOTS=docs` refreshes the README's copies.
    if let Some(copies) = std::env::var_os("MODELBENCH_SCREENSHOTS") {
        let copy = Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join(copies).join(name);
        std::fs::write(&copy, png).unwrap_or_else(|error| panic!("{}: {error}", copy.display()));
    }
    path
}

async fn add_target(window: &Session, provider: &str, fields: &[(&str, &str)]) {
    window.click("target-new").await;
    window.select("target-field-provider", provider).await;
    for (field, value) in fields {
        window.type_into(&format!("target-field-{field}"), value).await;
    }
    window.click("target-save").await;
    let name = fields.iter().find(|(field, _)| *field == "name").expect("a name").1;
    window.element(&format!("target-row-{name}")).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_app_window_compares_five_targets_and_keeps_the_run() {
    let Some(tools) = Tools::or_skip("desktop window test") else {
        return;
    };
    let _screen = ONE_WINDOW_AT_A_TIME.lock().await;
    let cloud = FakeCloud::start(Config {
        keys: Keys {
            openai: OPENAI_SECRET.to_owned(),
            ..Keys::default()
        },
        scenarios: HashMap::from([
            ("alpha-model".to_owned(), scenario(ALPHA, None)),
            ("beta-model".to_owned(), scenario(BETA, None)),
            ("html-model".to_owned(), scenario(HTML, None)),
            (
                "cut-model".to_owned(),
                scenario(CUT, Some(Failure::MidStreamError { after_tokens: 6 })),
            ),
            (
                "broken-model".to_owned(),
                scenario(
                    "never sent",
                    Some(Failure::Status {
                        status: 400,
                        times: None,
                        retry_after: None,
                    }),
                ),
            ),
        ]),
        ..Config::default()
    })
    .await
    .expect("fakecloud");
    let base = cloud.base_url();

    // Three targets come from the CLI into the shared database before the app starts.
    let data = tempfile::tempdir().expect("data dir");
    for (name, model) in [
        ("ollama html", "html-model"),
        ("ollama cut", "cut-model"),
        ("ollama broken", "broken-model"),
    ] {
        let output = cli(
            data.path(),
            &[
                "targets",
                "add",
                "--name",
                name,
                "--provider",
                "ollama",
                "--model",
                model,
                "--base-url",
                &base,
            ],
            &[],
            None,
        )
        .await;
        assert!(output.status.success(), "targets add {name}: {output:?}");
    }
    // An older run from the CLI, for History's Delete.
    let output = cli(
        data.path(),
        &["run", "--target", "ollama html", "--json", OLD_PROMPT],
        &[],
        None,
    )
    .await;
    assert!(output.status.success(), "the older run: {output:?}");
    let old_run = serde_json::from_slice::<serde_json::Value>(&output.stdout).expect("run JSON")["run_id"]
        .as_str()
        .expect("run id")
        .to_owned();

    let application = app_binary();
    let driver = modelbench_e2e::desktop::Driver::start(
        &tools,
        &[
            ("MODELBENCH_DATA_DIR", OsString::from(data.path())),
            // The OpenAI key must come from the keychain, not from the environment.
            ("OPENAI_API_KEY", OsString::new()),
        ],
    )
    .await;
    let window = driver.session(&application).await;

    // Targets view: two more targets through the form, one keyed through the OS keychain.
    window.click("nav-targets").await;
    add_target(
        &window,
        "ollama",
        &[("name", "ollama alpha"), ("model", "alpha-model"), ("base_url", &base)],
    )
    .await;
    add_target(
        &window,
        "openai",
        &[
            ("name", "openai beta"),
            ("model", "beta-model"),
            ("base_url", &format!("{base}/v1")),
            ("key", "desktop-e2e-openai"),
        ],
    )
    .await;
    window.type_into("key-name", "desktop-e2e-openai").await;
    window.type_into("key-input", OPENAI_SECRET).await;
    window.click("key-save").await;
    window
        .wait_for_contains("key-list", "desktop-e2e-openai", Duration::from_secs(10))
        .await;
    let input = window
        .execute(
            "return document.querySelector(arguments[0]).value;",
            json!([modelbench_e2e::desktop::tid("key-input")]),
        )
        .await;
    assert_eq!(input, json!(""), "the key field is cleared once the key is stored");
    // "Test" on the keyed target: one tiny prompt through the keychain's key.
    window.click("target-row-openai beta").await;
    window.click("target-test").await;
    window
        .wait_for_contains("target-test-result", "Beta", Duration::from_secs(20))
        .await;

    // Compare: all five, one prompt, Ctrl+Enter.
    window.click("nav-compare").await;
    window.click("targets-all").await;
    window.type_into("prompt-input", PROMPT).await;
    window.send_keys("prompt-input", "\u{E009}\u{E007}\u{E000}").await; // Ctrl+Enter runs
    let expected = [
        ("ollama alpha", "done"),
        ("openai beta", "done"),
        ("ollama html", "done"),
        ("ollama cut", "incomplete"),
        ("ollama broken", "error"),
    ];
    for (name, status) in expected {
        let got = window
            .wait_for_text(
                &format!("pane-status-{name}"),
                &["done", "incomplete", "error"],
                Duration::from_secs(30),
            )
            .await;
        assert_eq!(got, status, "{name}'s final status");
    }
    let text = |name: &'static str| {
        let window = &window;
        async move { window.text(&format!("pane-text-{name}")).await.unwrap_or_default() }
    };
    assert_eq!(text("ollama alpha").await.trim(), ALPHA);
    assert_eq!(
        text("openai beta").await.trim(),
        BETA,
        "raw view shows the Markdown source"
    );
    let partial = text("ollama cut").await;
    assert!(
        !partial.trim().is_empty() && CUT.starts_with(partial.trim()),
        "the partial answer is kept: {partial:?}"
    );
    let error = window.text("pane-error-ollama broken").await.unwrap_or_default();
    assert!(error.contains("400"), "the error is shown inline: {error:?}");
    for name in ["ollama alpha", "openai beta", "ollama html"] {
        let ttft = window.text(&format!("pane-ttft-{name}")).await.unwrap_or_default();
        assert!(ttft.contains("ms") || ttft.contains('s'), "{name} TTFT shown: {ttft:?}");
    }

    // The HTML answer is text in both views: no element made from it, nothing ran.
    let html_check = "const pane = document.querySelector(arguments[0]);
         return {text: pane.textContent, images: pane.querySelectorAll('img').length,
                 bold: pane.querySelectorAll('b').length, title: document.title};";
    let raw = window
        .execute(
            html_check,
            json!([modelbench_e2e::desktop::tid("pane-text-ollama html")]),
        )
        .await;
    assert_eq!(raw["text"].as_str().map(str::trim), Some(HTML), "{raw}");
    assert_eq!(
        (raw["images"].clone(), raw["bold"].clone()),
        (json!(0), json!(0)),
        "{raw}"
    );
    window.click("pane-markdown-ollama html").await;
    window.click("pane-markdown-openai beta").await;
    let rendered = window
        .execute(
            html_check,
            json!([modelbench_e2e::desktop::tid("pane-text-ollama html")]),
        )
        .await;
    assert!(
        rendered["text"]
            .as_str()
            .is_some_and(|text| text.contains("<img src=x onerror=")),
        "{rendered}"
    );
    assert_eq!(
        (rendered["images"].clone(), rendered["bold"].clone()),
        (json!(0), json!(0)),
        "{rendered}"
    );
    assert_ne!(rendered["title"], json!("pwned"));
    let strong = window
        .execute(
            "return document.querySelector(arguments[0]).querySelectorAll('strong').length;",
            json!([modelbench_e2e::desktop::tid("pane-text-openai beta")]),
        )
        .await;
    assert_eq!(strong, json!(1), "Markdown is rendered in the rendered view");
    tokio::time::sleep(Duration::from_millis(500)).await;
    let compare_png = save_screenshot(&window.screenshot().await, "compare.png");

    // History: the run is listed, found by search, and opens again from the database.
    window.click("nav-history").await;
    window
        .wait_for_contains("history-list", "contract summariser", Duration::from_secs(10))
        .await;
    // Delete asks once more in place; confirmed, the older run leaves the list (and, checked
    // below, the database).
    window
        .wait_for_contains("history-list", OLD_PROMPT, Duration::from_secs(10))
        .await;
    window.click(&format!("history-delete-{old_run}")).await;
    window.click("history-delete-cancel").await;
    window.element(&format!("history-item-{old_run}")).await;
    window.click(&format!("history-delete-{old_run}")).await;
    window.click("history-delete-confirm").await;
    window
        .wait_for_script(
            "the deleted run to leave the list",
            Duration::from_secs(10),
            "return document.querySelector(arguments[0]) === null
                 && document.querySelectorAll('[data-testid^=\"history-item-\"]').length === 1;",
            json!([modelbench_e2e::desktop::tid(&format!("history-item-{old_run}"))]),
        )
        .await;
    window.type_into("search-input", "nothing-like-this-anywhere").await;
    window.element("history-empty").await;
    window.type_into("search-input", "summariser").await;
    let item = window
        .wait_for_script(
            "the search to find the run",
            Duration::from_secs(10),
            "const item = document.querySelector('[data-testid^=\"history-item-\"]');
             return item && item.getAttribute('data-testid');",
            json!([]),
        )
        .await;
    window.click(item.as_str().expect("testid")).await;
    let reopened = window
        .wait_for_text(
            "history-pane-status-ollama cut",
            &["incomplete"],
            Duration::from_secs(10),
        )
        .await;
    assert_eq!(reopened, "incomplete");
    assert_eq!(
        window
            .text("history-pane-text-ollama alpha")
            .await
            .map(|text| text.trim().to_owned()),
        Some(ALPHA.to_owned())
    );
    save_screenshot(&window.screenshot().await, "history.png");

    // Diff: the engine's similarity matrix of the four answers with text (the broken target has
    // none), and the inline diff of a pair, the HTML answer still text.
    window.click("history-diff-button").await;
    window.element("similarity-matrix").await;
    let rows = window
        .wait_for_script(
            "the similarity matrix's four rows",
            Duration::from_secs(10),
            "const names = [...document.querySelectorAll('[data-testid=\"similarity-matrix\"] th[scope=row] .name')]
                 .map((cell) => cell.textContent);
             return names.length === 4 ? names : null;",
            json!([]),
        )
        .await;
    assert_eq!(
        rows,
        json!(["ollama alpha", "ollama cut", "ollama html", "openai beta"])
    );
    let html_row = 2;
    window
        .execute(
            &format!(
                "document.querySelector('[data-testid=\"similarity-cell-{html_row}-0\"] button').click(); return true;"
            ),
            json!([]),
        )
        .await;
    let deleted = window
        .wait_for_script(
            "the diff of the HTML answer",
            Duration::from_secs(10),
            "const spans = document.querySelector('[data-testid=\"diff-spans\"]');
             const deleted = spans && [...spans.querySelectorAll('del')].map((node) => node.textContent).join('');
             return deleted ? { deleted, elements: spans.querySelectorAll('img, b').length } : null;",
            json!([]),
        )
        .await;
    assert!(
        deleted["deleted"]
            .as_str()
            .is_some_and(|text| text.contains("<img src=x")),
        "{deleted}"
    );
    assert_eq!(deleted["elements"], json!(0), "the diff shows markup as text");
    let outliers = window
        .execute(
            "return document.querySelectorAll('[data-testid^=\"history-pane-outlier-\"]').length;",
            json!([]),
        )
        .await;
    assert!(outliers.as_u64().is_some_and(|count| count <= 1), "{outliers}");
    save_screenshot(&window.screenshot().await, "diff.png");
    window.quit().await;
    drop(driver);

    // The database the CLI reads holds the same run.
    let store = Store::open(&data.path().join(modelbench_engine::store::DATABASE_FILE)).expect("store");
    let runs = store.list_runs(10).expect("runs");
    assert_eq!(runs.len(), 1, "one run, the older one deleted: {runs:?}");
    assert!(store.search("deleted", 10).expect("search").is_empty());
    let run = store.load_run(runs[0].id).expect("load").expect("the run");
    assert_eq!(run.responses.len(), 5);
    let by_target: HashMap<&str, &modelbench_engine::ResponseRecord> = run
        .responses
        .iter()
        .map(|response| (response.target.as_str(), response))
        .collect();
    assert_eq!(by_target["ollama alpha"].text, ALPHA);
    assert_eq!(by_target["openai beta"].text, BETA);
    assert_eq!(by_target["ollama html"].text, HTML);
    assert!(by_target["ollama broken"].error.is_some());
    assert!(by_target["ollama cut"].error.is_some() && CUT.starts_with(&by_target["ollama cut"].text));
    let keyed: Vec<_> = cloud
        .requests()
        .into_iter()
        .filter(|request| request.path.starts_with("/v1/"))
        .collect();
    assert!(
        !keyed.is_empty() && keyed.iter().all(|request| request.authenticated),
        "the OpenAI target was sent the keychain's key: {keyed:?}"
    );
    // No secret reached the database.
    for entry in std::fs::read_dir(data.path()).expect("data dir") {
        let path = entry.expect("entry").path();
        let bytes = std::fs::read(&path).unwrap_or_default();
        assert!(
            !bytes
                .windows(OPENAI_SECRET.len())
                .any(|window| window == OPENAI_SECRET.as_bytes()),
            "the secret is in {}",
            path.display()
        );
    }
    let metadata = std::fs::metadata(&compare_png).expect("screenshot");
    assert!(metadata.len() > 10_000, "a real screenshot, not a blank one");
}

/// Every pane's final status, once all of `names` have one.
async fn final_statuses(window: &Session, testid: &str, names: &[String]) -> HashMap<String, String> {
    let mut statuses = HashMap::new();
    for name in names {
        let status = window
            .wait_for_text(
                &format!("{testid}-status-{name}"),
                &["done", "incomplete", "error"],
                Duration::from_secs(30),
            )
            .await;
        statuses.insert(name.clone(), status);
    }
    statuses
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_first_launch_offers_the_simulated_clouds_and_they_survive_a_restart() {
    let Some(tools) = Tools::or_skip("desktop first-launch test") else {
        return;
    };
    let _screen = ONE_WINDOW_AT_A_TIME.lock().await;
    let data = tempfile::tempdir().expect("data dir");
    let application = app_binary();
    let driver =
        modelbench_e2e::desktop::Driver::start(&tools, &[("MODELBENCH_DATA_DIR", OsString::from(data.path()))]).await;

    let window = driver.session(&application).await;
    window.element("demo-offer").await;
    window.click("demo-button").await;
    window.element("target-toggle-openai/gpt-5.4").await;
    let names = chosen_targets(&window).await;
    assert_eq!(names.len(), 13, "every simulated target is chosen: {names:?}");
    let prompt = window
        .execute(
            "return document.querySelector(arguments[0]).value;",
            json!([modelbench_e2e::desktop::tid("prompt-input")]),
        )
        .await;
    assert_eq!(prompt, json!(modelbench_demo::PROMPT), "the demo fills in its prompt");
    window.click("run-button").await;
    let statuses = final_statuses(&window, "pane", &names).await;
    let overloaded = "anthropic/claude-sonnet-4-6 (overloaded)";
    for (name, status) in &statuses {
        let want = if name == overloaded { "incomplete" } else { "done" };
        assert_eq!(status, want, "{name}");
    }
    let labels = window
        .execute(
            "return [...document.querySelectorAll('[data-testid^=\"pane-\"] .badge')]
                 .filter((badge) => badge.textContent.trim() === 'simulated').length;",
            json!([]),
        )
        .await;
    assert_eq!(labels, json!(13), "every simulated pane says so");
    // Let the last frame of metrics settle before the README's screenshot is taken.
    tokio::time::sleep(Duration::from_millis(500)).await;
    save_screenshot(&window.screenshot().await, "demo.png");
    window.quit().await;

    // A second launch: the saved simulated targets point at this process's fakecloud and run.
    let window = driver.session(&application).await;
    let first = names.first().expect("a target").clone();
    window.click("targets-none").await;
    window.click(&format!("target-toggle-{first}")).await;
    window.type_into("prompt-input", "Still there after a restart?").await;
    window.click("run-button").await;
    let again = final_statuses(&window, "pane", std::slice::from_ref(&first)).await;
    assert_eq!(again[&first], "done", "{first} after a restart");
    window.quit().await;
    drop(driver);

    let store = Store::open(&data.path().join(modelbench_engine::store::DATABASE_FILE)).expect("store");
    assert_eq!(store.list_runs(10).expect("runs").len(), 2);
}

/// A session bus address that leads nowhere: no Secret Service, so no keychain, as on a minimal
/// window manager, WSL or a VM without gnome-keyring or KeePassXC.
const NO_SESSION_BUS: &str = "unix:path=/nonexistent/modelbench-e2e/session-bus";
const NO_KEYCHAIN_ANSWER: &str = "Keys from the environment still reach every cloud without a keychain.";
/// The status-bar notice, with its link to the fix.
const KEYCHAIN_NOTICE: &str = "Keychain unavailable: keys from environment variables still work. How to enable…";

/// The app's environment with no session bus: fakecloud's keys in the variables the targets
/// name, and the AWS chain's environment provider for Bedrock.
fn without_session_bus(data_dir: &Path) -> Vec<(&'static str, OsString)> {
    let mut env: Vec<(&str, OsString)> = modelbench_e2e::FAKE_KEYS
        .iter()
        .map(|(name, value)| (*name, OsString::from(value)))
        .collect();
    env.extend([
        ("MODELBENCH_DATA_DIR", OsString::from(data_dir)),
        ("DBUS_SESSION_BUS_ADDRESS", OsString::from(NO_SESSION_BUS)),
        ("MODELBENCH_E2E_OPENAI_KEY", OsString::from("fake-key")),
        ("MODELBENCH_E2E_UNSET_KEY", OsString::new()),
    ]);
    env
}

/// The names in the `data-testid`s starting with `prefix`, of the elements that also match
/// `filter` (`:checked` for the chosen targets' toggles).
async fn names_by_testid(window: &Session, prefix: &str, filter: &str) -> Vec<String> {
    let names = window
        .execute(
            "return [...document.querySelectorAll(`[data-testid^=\"${arguments[0]}\"]${arguments[1]}`)]
                 .map((element) => element.getAttribute('data-testid').slice(arguments[0].length));",
            json!([prefix, filter]),
        )
        .await;
    serde_json::from_value(names).expect("names")
}

/// The names of the targets Compare has chosen.
async fn chosen_targets(window: &Session) -> Vec<String> {
    names_by_testid(window, "target-toggle-", ":checked").await
}

/// The targets that carry the "keychain unavailable" mark.
async fn keychain_marks(window: &Session) -> Vec<String> {
    names_by_testid(window, "keychain-unavailable-", "").await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_session_bus_env_keyed_targets_list_and_run() {
    let Some(tools) = Tools::or_skip("desktop no-keychain test") else {
        return;
    };
    let _screen = ONE_WINDOW_AT_A_TIME.lock().await;
    let cloud = FakeCloud::start(Config {
        default_scenario: scenario(NO_KEYCHAIN_ANSWER, None),
        ..Config::default()
    })
    .await
    .expect("fakecloud");
    let base = cloud.base_url();

    // Saved with the CLI, itself without a session bus: importing targets needs no keychain.
    let data = tempfile::tempdir().expect("data dir");
    let targets_file = data.path().join("targets.toml");
    std::fs::write(
        &targets_file,
        format!(
            r#"[[target]]
name = "openai env"
provider = "openai"
model = "gpt-5.4"
base_url = "{base}/v1"
api_key_ref = "env:MODELBENCH_E2E_OPENAI_KEY"

[[target]]
name = "anthropic env"
provider = "anthropic"
model = "claude-opus-4-7"
base_url = "{base}"

[[target]]
name = "bedrock aws chain"
provider = "bedrock"
model = "us.amazon.nova-pro-v1:0"
region = "us-east-1"
base_url = "{base}"

[[target]]
name = "ollama local"
provider = "ollama"
model = "llama3.3"
base_url = "{base}"

[[target]]
name = "openai keychain"
provider = "openai"
model = "gpt-5.4"
base_url = "{base}/v1"
key = "openai-work"
api_key_ref = "env:MODELBENCH_E2E_UNSET_KEY"
"#
        ),
    )
    .expect("targets file");
    let output = cli(
        data.path(),
        &["targets", "import", targets_file.to_str().expect("utf-8 path")],
        &[("DBUS_SESSION_BUS_ADDRESS", NO_SESSION_BUS)],
        None,
    )
    .await;
    assert!(output.status.success(), "targets import: {output:?}");
    let runnable = ["anthropic env", "bedrock aws chain", "ollama local", "openai env"];
    let keyed = "openai keychain";

    let driver = modelbench_e2e::desktop::Driver::start(&tools, &without_session_bus(data.path())).await;
    let window = driver.session(&app_binary()).await;

    // Every saved target is listed; only the keyed one is marked, and it is not chosen.
    window.element(&format!("target-toggle-{keyed}")).await;
    let notice = window
        .wait_for_text("keychain-notice", &[KEYCHAIN_NOTICE], Duration::from_secs(10))
        .await;
    assert_eq!(notice, KEYCHAIN_NOTICE);
    assert_eq!(
        window.text("backend-error").await,
        None,
        "no raw error in the status bar"
    );
    assert_eq!(keychain_marks(&window).await, [keyed]);
    let mut chosen = chosen_targets(&window).await;
    chosen.sort();
    assert_eq!(chosen, runnable, "the targets that can run are chosen");

    // They run against fakecloud and finish.
    window
        .type_into("prompt-input", "Does this work without a keychain?")
        .await;
    window.click("run-button").await;
    let names: Vec<String> = runnable.iter().map(|name| (*name).to_owned()).collect();
    for (name, status) in final_statuses(&window, "pane", &names).await {
        assert_eq!(status, "done", "{name}");
        let text = window.text(&format!("pane-text-{name}")).await.unwrap_or_default();
        assert_eq!(text.trim(), NO_KEYCHAIN_ANSWER, "{name}");
    }
    // The fix, opened from the notice, for the README's screenshot.
    window.click("keychain-help-toggle").await;
    window
        .wait_for_contains("keychain-help", "gnome-keyring", Duration::from_secs(5))
        .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    save_screenshot(&window.screenshot().await, "no-keychain.png");
    window.click("keychain-help-toggle").await;

    // The keyed target, chosen alone, stops with the engine's clear error, before any request.
    window.click("targets-none").await;
    window.click(&format!("target-toggle-{keyed}")).await;
    window.click("run-button").await;
    window
        .wait_for_contains("run-failure", &format!("target '{keyed}'"), Duration::from_secs(10))
        .await;
    let failure = window.text("run-failure").await.unwrap_or_default();
    assert!(
        failure.contains("MODELBENCH_E2E_UNSET_KEY is not set either"),
        "the error names the keychain and the variable it tried: {failure}"
    );

    // Targets view: the same mark on the row; setting a key says why it cannot.
    window.click("nav-targets").await;
    window.element(&format!("keychain-unavailable-{keyed}")).await;
    assert_eq!(keychain_marks(&window).await, [keyed]);
    window.element("key-list-unavailable").await;
    window.type_into("key-name", "openai-work").await;
    window.type_into("key-input", "sk-never-stored").await;
    window.click("key-save").await;
    window
        .wait_for_contains("key-message", "api_key_ref", Duration::from_secs(10))
        .await;
    window.quit().await;
    drop(driver);

    let requests = cloud.requests();
    let providers: std::collections::BTreeSet<&str> =
        requests.iter().map(|request| request.provider.as_str()).collect();
    assert_eq!(
        providers,
        std::collections::BTreeSet::from(["anthropic", "bedrock", "ollama", "openai"]),
        "{requests:?}"
    );
    assert_eq!(requests.len(), 4, "nothing sent for the keyed target: {requests:?}");
    assert!(requests.iter().all(|request| request.authenticated), "{requests:?}");
    let store = Store::open(&data.path().join(modelbench_engine::store::DATABASE_FILE)).expect("store");
    let runs = store.list_runs(10).expect("runs");
    assert_eq!(runs.len(), 1, "the run that could not start is not stored: {runs:?}");
    let run = store.load_run(runs[0].id).expect("load").expect("the run");
    assert_eq!(run.responses.len(), 4);
    assert!(run.responses.iter().all(|response| response.complete), "{run:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_session_bus_the_first_launch_offers_the_simulated_clouds() {
    let Some(tools) = Tools::or_skip("desktop no-keychain first-launch test") else {
        return;
    };
    let _screen = ONE_WINDOW_AT_A_TIME.lock().await;
    let data = tempfile::tempdir().expect("data dir");
    let driver = modelbench_e2e::desktop::Driver::start(&tools, &without_session_bus(data.path())).await;
    let window = driver.session(&app_binary()).await;

    window.element("demo-offer").await;
    window
        .wait_for_text("keychain-notice", &[KEYCHAIN_NOTICE], Duration::from_secs(10))
        .await;
    window.click("demo-button").await;
    window.element("target-toggle-openai/gpt-5.4").await;
    let names = chosen_targets(&window).await;
    assert_eq!(names.len(), 13, "every simulated target is chosen: {names:?}");
    assert_eq!(keychain_marks(&window).await, Vec::<String>::new());
    window.click("run-button").await;
    let overloaded = "anthropic/claude-sonnet-4-6 (overloaded)";
    for (name, status) in final_statuses(&window, "pane", &names).await {
        let want = if name == overloaded { "incomplete" } else { "done" };
        assert_eq!(status, want, "{name}: the simulated clouds need no keychain");
    }
    window.quit().await;
    drop(driver);
}

/// The rows of the Results view's table whose test ids start with `prefix`, by the name after it.
async fn rows_named(window: &Session, prefix: &str) -> Vec<String> {
    let names = window
        .execute(
            "return [...document.querySelectorAll('[data-testid^=\"' + arguments[0] + '\"]')]
                 .map((row) => row.dataset.testid.slice(arguments[0].length));",
            json!([prefix]),
        )
        .await;
    serde_json::from_value(names).expect("names")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_first_session_runs_the_sample_suite_on_the_simulated_clouds_and_reads_a_verdict() {
    let Some(tools) = Tools::or_skip("desktop session test") else {
        return;
    };
    let _screen = ONE_WINDOW_AT_A_TIME.lock().await;
    let data = tempfile::tempdir().expect("data dir");
    let application = app_binary();
    let driver =
        modelbench_e2e::desktop::Driver::start(&tools, &[("MODELBENCH_DATA_DIR", OsString::from(data.path()))]).await;

    let window = driver.session(&application).await;
    window.click("nav-sessions").await;
    window.click("session-demo-button").await;
    window.element("session-target-openai/gpt-5.4").await;
    window
        .wait_for_contains(
            "session-suite-info",
            "shipped with the simulated clouds",
            Duration::from_secs(10),
        )
        .await;
    // The estimate comes first: 8 tests × 13 targets, before anything is sent.
    window
        .wait_for_text("session-estimate-calls", &["104"], Duration::from_secs(20))
        .await;
    window.click("session-start").await;
    let status = window
        .wait_for_text(
            "session-status",
            &["completed", "stopped", "cancelled", "interrupted"],
            Duration::from_secs(240),
        )
        .await;
    assert_eq!(status, "completed");
    let progress = rows_named(&window, "session-progress-").await;
    assert_eq!(progress.len(), 13, "a progress row per target: {progress:?}");
    for name in &progress {
        window
            .wait_for_contains(&format!("session-progress-{name}"), "8 / 8", Duration::from_secs(5))
            .await;
    }
    // The mid-stream failures of the overloaded target are counted by kind in its errors cell;
    // a target that never failed shows none.
    let errors = |name: &str| {
        window.execute(
            "return document.querySelector(arguments[0]).cells[3].textContent.trim();",
            json!([modelbench_e2e::desktop::tid(&format!("session-progress-{name}"))]),
        )
    };
    let overloaded = errors("anthropic/claude-sonnet-4-6 (overloaded)").await;
    let overloaded = overloaded.as_str().expect("text");
    let (count, kind) = overloaded.split_once(' ').unwrap_or_default();
    assert_eq!(count, "8", "every call of the overloaded target failed: {overloaded}");
    assert!(!kind.is_empty(), "named by kind: {overloaded}");
    assert_eq!(errors("openai/gpt-5.4").await, json!("—"));
    tokio::time::sleep(Duration::from_millis(500)).await;
    save_screenshot(&window.screenshot().await, "session.png");

    window.click("session-open-results").await;
    window.element("results-verdict-gpt-5.4").await;
    window.element("results-verdict-claude-opus-4-7").await;
    let targets = rows_named(&window, "results-target-").await;
    assert_eq!(targets.len(), 13, "{targets:?}");
    assert!(
        targets.contains(&"azure/gpt-5.4 swedencentral".to_owned()),
        "{targets:?}"
    );
    window.element("results-latency-chart").await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    save_screenshot(&window.screenshot().await, "results.png");
    window.quit().await;

    // What the window showed is what the store holds: one completed session of 104 responses.
    let store = Store::open(&data.path().join(modelbench_engine::store::DATABASE_FILE)).expect("store");
    let sessions = store.list_sessions().expect("sessions");
    assert_eq!(sessions.len(), 1);
    assert_eq!((sessions[0].status.as_str(), sessions[0].responses), ("completed", 104));
    drop(driver);
}

/// The one stored session's id, once the Session view lists it.
async fn listed_session(window: &Session) -> String {
    let id = window
        .wait_for_script(
            "a stored session",
            Duration::from_secs(20),
            "const row = document.querySelector('[data-testid^=\"session-row-\"]:not([data-testid^=\"session-row-status-\"])');
             return row ? row.dataset.testid.slice('session-row-'.length) : null;",
            json!([]),
        )
        .await;
    id.as_str().expect("an id").to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_cut_off_by_closing_the_app_is_resumable_after_reopening_and_completes() {
    let Some(tools) = Tools::or_skip("desktop session resume test") else {
        return;
    };
    let _screen = ONE_WINDOW_AT_A_TIME.lock().await;
    let data = tempfile::tempdir().expect("data dir");
    let application = app_binary();
    let driver =
        modelbench_e2e::desktop::Driver::start(&tools, &[("MODELBENCH_DATA_DIR", OsString::from(data.path()))]).await;

    let window = driver.session(&application).await;
    window.click("nav-sessions").await;
    window.click("session-demo-button").await;
    window.element("session-target-openai/gpt-5.4").await;
    window.click("session-targets-none").await;
    window.click("session-target-openai/gpt-5.4").await;
    window.click("session-target-gemini/gemini-2.5-flash").await;
    // One call at a time: 16 calls take long enough to close the app in the middle.
    window.type_into("session-concurrency", "1").await;
    window
        .wait_for_text("session-estimate-calls", &["16"], Duration::from_secs(20))
        .await;
    window.click("session-start").await;
    window
        .wait_for_script(
            "a call done",
            Duration::from_secs(60),
            "const row = document.querySelector(arguments[0]);
             const done = row ? Number(row.cells[2].textContent.split('/')[0]) : 0;
             return done >= 1 ? done : null;",
            json!([modelbench_e2e::desktop::tid("session-progress-gemini/gemini-2.5-flash")]),
        )
        .await;
    let id = listed_session(&window).await;
    window.quit().await;

    // Reopened: the session is listed as interrupted, and Resume sends only what is missing.
    let window = driver.session(&application).await;
    window.click("nav-sessions").await;
    assert_eq!(listed_session(&window).await, id);
    window
        .wait_for_text(
            &format!("session-row-status-{id}"),
            &["interrupted"],
            Duration::from_secs(20),
        )
        .await;
    window.click(&format!("session-resume-{id}")).await;
    let status = window
        .wait_for_text(
            "session-status",
            &["completed", "stopped", "cancelled", "interrupted"],
            Duration::from_secs(120),
        )
        .await;
    assert_eq!(status, "completed");
    for name in ["openai/gpt-5.4", "gemini/gemini-2.5-flash"] {
        window
            .wait_for_contains(&format!("session-progress-{name}"), "8 / 8", Duration::from_secs(5))
            .await;
    }
    window
        .wait_for_text(
            &format!("session-row-status-{id}"),
            &["completed"],
            Duration::from_secs(20),
        )
        .await;
    window.quit().await;
    drop(driver);

    let store = Store::open(&data.path().join(modelbench_engine::store::DATABASE_FILE)).expect("store");
    let sessions = store.list_sessions().expect("sessions");
    assert_eq!(sessions.len(), 1);
    assert_eq!(
        (sessions[0].status.as_str(), sessions[0].responses, sessions[0].planned),
        ("completed", 16, 16),
        "each call answered once"
    );
}

/// The value of the form field `id` (an input's or a textarea's), read in the page.
async fn field_value(window: &Session, id: &str) -> String {
    let value = window
        .execute(
            "const element = document.querySelector(arguments[0]); return element ? element.value : null;",
            json!([modelbench_e2e::desktop::tid(id)]),
        )
        .await;
    value.as_str().unwrap_or_else(|| panic!("no field {id}")).to_owned()
}

/// The app window on the data dir `data`, the simulated clouds added from the Session view's
/// offer (their thirteen targets and the sample suite).
async fn with_simulated_clouds(tools: &Tools, data: &Path) -> (modelbench_e2e::desktop::Driver, Session) {
    let driver = modelbench_e2e::desktop::Driver::start(tools, &[("MODELBENCH_DATA_DIR", OsString::from(data))]).await;
    let window = driver.session(&app_binary()).await;
    window.click("nav-sessions").await;
    window.click("session-demo-button").await;
    window.element("session-target-openai/gpt-5.4").await;
    (driver, window)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_suites_editor_shows_a_broken_check_at_its_field_and_dry_checks_a_test_on_a_simulated_cloud() {
    let Some(tools) = Tools::or_skip("desktop suites test") else {
        return;
    };
    let _screen = ONE_WINDOW_AT_A_TIME.lock().await;
    let data = tempfile::tempdir().expect("data dir");
    let (driver, window) = with_simulated_clouds(&tools, data.path()).await;
    window.click("nav-suites").await;
    window
        .element("suite-row-Sample: why run one model on several clouds")
        .await;
    window.click("suite-open").await;
    window.element("suite-editor").await;
    window
        .wait_for_text("suite-status", &["no problems"], Duration::from_secs(10))
        .await;

    // The second test, `outages`: its regex check, broken, is an error at that very field.
    window.click("suite-test-item-1").await;
    assert_eq!(field_value(&window, "suite-test-id").await, "outages");
    assert_eq!(field_value(&window, "suite-check-value-0").await, "(?i)outage|down");
    window.type_into("suite-check-value-0", "(?i)outage|(down").await;
    let error_id = "suite-field-error-tests[1].checks[0].value";
    window
        .wait_for_contains(error_id, "bad regex", Duration::from_secs(10))
        .await;
    window
        .wait_for_text("suite-status", &["1 problem"], Duration::from_secs(10))
        .await;
    window
        .wait_for_contains("suite-test-item-1", "1", Duration::from_secs(5))
        .await;

    // Fixed, the error goes; a second check is added, which the answer will fail.
    window.type_into("suite-check-value-0", "(?i)outage|down").await;
    window.click("suite-add-check").await;
    window.type_into("suite-check-value-1", "zebra").await;
    window
        .wait_for_script(
            "the field error to go",
            Duration::from_secs(10),
            "return document.querySelector(arguments[0]) === null;",
            json!([modelbench_e2e::desktop::tid(error_id)]),
        )
        .await;
    window
        .wait_for_text("suite-status", &["no problems"], Duration::from_secs(10))
        .await;
    // The YAML view says the same suite.
    window.click("suite-tab-raw").await;
    let yaml = field_value(&window, "suite-raw").await;
    assert!(yaml.contains("value: zebra"), "{yaml}");
    assert!(yaml.contains("(?i)outage|down"), "{yaml}");
    window.click("suite-tab-fields").await;

    // One test on one simulated cloud: its answer, and the engine's verdict per check.
    window.select("suite-dry-target", "openai/gpt-5.4").await;
    window.select("suite-dry-test", "outages").await;
    window.click("suite-dry-run").await;
    window.element("suite-dry-result").await;
    window
        .wait_for_contains("suite-dry-answer", "outage", Duration::from_secs(20))
        .await;
    window
        .wait_for_contains("suite-dry-check-0", "pass", Duration::from_secs(5))
        .await;
    window
        .wait_for_contains("suite-dry-check-1", "fail", Duration::from_secs(5))
        .await;
    assert_eq!(window.text("suite-dry-grade").await.as_deref(), Some("fail"));
    // The test's checks and the dry check's verdicts on one screen.
    window
        .execute(
            "document.querySelector(arguments[0]).scrollIntoView({block: 'end'});",
            json!([modelbench_e2e::desktop::tid("suite-dry")]),
        )
        .await;
    save_screenshot(&window.screenshot().await, "suites.png");

    window.click("suite-save").await;
    window
        .wait_for_contains("suite-saved", "Saved", Duration::from_secs(10))
        .await;
    window.quit().await;

    // The edited suite is stored beside the sample, whole; the dry check left no run behind.
    let store = Store::open(&data.path().join(modelbench_engine::store::DATABASE_FILE)).expect("store");
    let suites = store.list_suites().expect("suites");
    assert_eq!(suites.len(), 2, "the sample and the edited suite");
    assert!(suites.iter().any(|suite| suite.text.contains("value: zebra")));
    assert!(
        store.list_runs(10).expect("runs").is_empty(),
        "a dry check is not stored"
    );
    drop(driver);
}

/// Scrolls `id` to the top of its view, for a screenshot of it.
async fn scroll_to(window: &Session, id: &str) {
    window
        .execute(
            "document.querySelector(arguments[0]).scrollIntoView({block: 'start'}); return true;",
            json!([modelbench_e2e::desktop::tid(id)]),
        )
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_paused_session_resumes_after_reopening_and_results_open_a_failing_test_and_a_diff() {
    let Some(tools) = Tools::or_skip("desktop pause and per-test results test") else {
        return;
    };
    let _screen = ONE_WINDOW_AT_A_TIME.lock().await;
    let data = tempfile::tempdir().expect("data dir");
    let application = app_binary();
    let driver =
        modelbench_e2e::desktop::Driver::start(&tools, &[("MODELBENCH_DATA_DIR", OsString::from(data.path()))]).await;

    let window = driver.session(&application).await;
    window.click("nav-sessions").await;
    window.click("session-demo-button").await;
    window.element("session-target-openai/gpt-5.4").await;
    window.click("session-targets-none").await;
    // Two that answer (for a diff) and one whose every call fails (for failing answers).
    for name in [
        "openai/gpt-5.4",
        "gemini/gemini-2.5-flash",
        "anthropic/claude-sonnet-4-6 (overloaded)",
    ] {
        window.click(&format!("session-target-{name}")).await;
    }
    // One call at a time, so the pause lands in the middle.
    window.type_into("session-concurrency", "1").await;
    window
        .wait_for_text("session-estimate-calls", &["24"], Duration::from_secs(20))
        .await;
    window.click("session-start").await;
    window
        .wait_for_script(
            "a call done",
            Duration::from_secs(60),
            "const row = document.querySelector(arguments[0]);
             const done = row ? Number(row.cells[2].textContent.split('/')[0]) : 0;
             return done >= 1 ? done : null;",
            json!([modelbench_e2e::desktop::tid("session-progress-openai/gpt-5.4")]),
        )
        .await;
    window.click("session-pause").await;
    let status = window
        .wait_for_text(
            "session-status",
            &["paused", "completed", "stopped", "cancelled", "interrupted"],
            Duration::from_secs(60),
        )
        .await;
    assert_eq!(status, "paused");
    let id = listed_session(&window).await;
    window
        .wait_for_text(
            &format!("session-row-status-{id}"),
            &["paused"],
            Duration::from_secs(20),
        )
        .await;
    window.element("session-resume").await;
    window.quit().await;

    // Reopened: still paused and resumable; Resume sends the rest and the session completes.
    let window = driver.session(&application).await;
    window.click("nav-sessions").await;
    assert_eq!(listed_session(&window).await, id);
    window
        .wait_for_text(
            &format!("session-row-status-{id}"),
            &["paused"],
            Duration::from_secs(20),
        )
        .await;
    window.click(&format!("session-resume-{id}")).await;
    let status = window
        .wait_for_text(
            "session-status",
            &["completed", "paused", "stopped", "cancelled", "interrupted"],
            Duration::from_secs(180),
        )
        .await;
    assert_eq!(status, "completed");
    for name in ["openai/gpt-5.4", "gemini/gemini-2.5-flash"] {
        window
            .wait_for_contains(&format!("session-progress-{name}"), "8 / 8", Duration::from_secs(5))
            .await;
    }

    // Results: a test's row opens its failing answers (the overloaded target's errors), and the
    // diff between two of its answers.
    window.click("session-open-results").await;
    window.element("results-tests").await;
    let tests = rows_named(&window, "results-test-").await;
    assert_eq!(tests.len(), 8, "a row per test of the sample suite: {tests:?}");
    let first = &tests[0];
    window
        .execute(
            "document.querySelector(arguments[0]).querySelector('button').click(); return true;",
            json!([modelbench_e2e::desktop::tid(&format!("results-test-{first}"))]),
        )
        .await;
    window
        .element("results-failing-anthropic/claude-sonnet-4-6 (overloaded) #1")
        .await;
    window.click("results-diff-open").await;
    window.element("results-diff").await;
    window
        .wait_for_script(
            "the diff of two answers",
            Duration::from_secs(20),
            "const diff = document.querySelector(arguments[0]);
             const ratio = diff && diff.querySelector('[data-testid=\"diff-ratio\"]');
             return ratio ? ratio.textContent : null;",
            json!([modelbench_e2e::desktop::tid("results-diff")]),
        )
        .await;
    scroll_to(&window, &format!("results-test-{first}")).await;
    save_screenshot(&window.screenshot().await, "results-tests.png");

    // The latency box plots in both themes.
    scroll_to(&window, "results-latency-chart").await;
    for theme in ["light", "dark"] {
        window
            .execute(
                "document.documentElement.dataset.theme = arguments[0]; return true;",
                json!([theme]),
            )
            .await;
        save_screenshot(&window.screenshot().await, &format!("results-latency-{theme}.png"));
    }
    window.quit().await;
    drop(driver);

    let store = Store::open(&data.path().join(modelbench_engine::store::DATABASE_FILE)).expect("store");
    let sessions = store.list_sessions().expect("sessions");
    assert_eq!(
        (sessions[0].status.as_str(), sessions[0].responses, sessions[0].planned),
        ("completed", 24, 24),
        "each call answered once, the pause's held-back calls sent by the resume"
    );
}
