//! A key's whole life through the real OS keychain: `keys set` from stdin, a run against
//! fakecloud that accepts only that key, `keys list`, `keys delete`, the run failing with the
//! missing-key error, and the secret nowhere in the data dir or in any output.
//!
//! It needs a reachable keychain (on Linux a Secret Service: `scripts/test` starts gnome-keyring
//! inside `dbus-run-session`). Without one it prints why and passes, unless
//! `MODELBENCH_REQUIRE_KEYCHAIN=1`, as in CI, where it must run.

use std::path::Path;
use std::process::Output;

use fakecloud::{Config, FakeCloud, Keys};
use modelbench_e2e::{contains, files_under, modelbench};
use modelbench_engine::keychain::Keychain;
use serde_json::Value;

/// Whether a keychain can be used here; `None` means the test should skip.
fn keychain_or_skip() -> Option<Keychain> {
    let keychain = Keychain::os();
    match keychain.check_available() {
        Ok(()) => Some(keychain),
        Err(error) => {
            assert!(
                std::env::var("MODELBENCH_REQUIRE_KEYCHAIN").as_deref() != Ok("1"),
                "MODELBENCH_REQUIRE_KEYCHAIN=1 but the OS keychain is unavailable: {error}"
            );
            eprintln!("skipped keychain round trip: the OS keychain is unavailable ({error})");
            None
        }
    }
}

/// Deletes the test's key even when an assertion fails half-way, so no run leaves a key behind
/// in a developer's real keychain.
struct RemoveKeyOnDrop<'a> {
    keychain: &'a Keychain,
    name: String,
}

impl Drop for RemoveKeyOnDrop<'_> {
    fn drop(&mut self) {
        let _ = self.keychain.delete(&self.name);
    }
}

/// Every process output of the test, to scan for the secret at the end.
#[derive(Default)]
struct Transcript {
    outputs: Vec<(String, Output)>,
}

impl Transcript {
    fn cli(&mut self, data_dir: &Path, env: &[(&str, &str)], args: &[&str], stdin: Option<&str>) -> &Output {
        let output = modelbench(data_dir, args, env, stdin);
        self.outputs.push((args.join(" "), output));
        &self.outputs.last().expect("just pushed").1
    }
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn describe(output: &Output) -> String {
    format!(
        "exit {:?}\nstdout: {}\nstderr: {}",
        output.status,
        text(&output.stdout),
        text(&output.stderr)
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn key_round_trip_through_the_os_keychain() {
    let Some(keychain) = keychain_or_skip() else {
        return;
    };
    let unique = format!(
        "{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .expect("clock")
            .as_nanos()
    );
    let name = format!("e2e-{unique}");
    let secret = format!("sk-e2e-keychain-{unique}-never-stored-in-plaintext");
    let _cleanup = RemoveKeyOnDrop {
        keychain: &keychain,
        name: name.clone(),
    };

    let cloud = FakeCloud::start(Config {
        keys: Keys {
            openai: secret.clone(),
            ..Keys::default()
        },
        ..Config::default()
    })
    .await
    .expect("fakecloud");
    let base_url = format!("{}/v1", cloud.base_url());
    let home = tempfile::tempdir().expect("home");
    let data = tempfile::tempdir().expect("data dir");
    let data_dir = data.path();
    let home_dir = home.path().to_str().expect("utf8").to_owned();
    let xdg = |leaf: &str| home.path().join(leaf).to_str().expect("utf8").to_owned();
    let (data_home, config_home, cache_home, state_home) = (xdg("data"), xdg("config"), xdg("cache"), xdg("state"));
    // XDG_RUNTIME_DIR stays: without DBUS_SESSION_BUS_ADDRESS the session bus is found there.
    let env: &[(&str, &str)] = &[
        ("HOME", &home_dir),
        ("XDG_DATA_HOME", &data_home),
        ("XDG_CONFIG_HOME", &config_home),
        ("XDG_CACHE_HOME", &cache_home),
        ("XDG_STATE_HOME", &state_home),
        ("MODELBENCH_LOG", "trace"),
    ];
    let mut transcript = Transcript::default();

    let output = transcript.cli(data_dir, env, &["keys", "set", &name], Some(&format!("{secret}\n")));
    assert!(output.status.success(), "keys set: {}", describe(output));
    assert_eq!(
        keychain.get(&name).expect("stored").expose(),
        secret,
        "stored without the newline"
    );

    let output = transcript.cli(
        data_dir,
        env,
        &[
            "targets",
            "add",
            "--name",
            "keyed",
            "--provider",
            "openai",
            "--model",
            "gpt-5.4~tokens=6",
            "--base-url",
            &base_url,
            "--key",
            &name,
        ],
        None,
    );
    assert!(output.status.success(), "targets add: {}", describe(output));

    let output = transcript.cli(data_dir, env, &["run", "--json", "say hello"], None);
    assert!(output.status.success(), "run: {}", describe(output));
    let document: Value = serde_json::from_slice(&output.stdout).expect("run JSON");
    let result = &document["results"][0];
    assert_eq!(result["target"], "keyed");
    assert_eq!(result["complete"], true, "{result}");
    assert_eq!(result["error"], Value::Null, "{result}");
    assert_eq!(cloud.requests().len(), 1, "fakecloud accepted the keychain key");

    let output = transcript.cli(data_dir, env, &["keys", "list", "--json"], None);
    assert!(output.status.success(), "keys list: {}", describe(output));
    let listed: Value = serde_json::from_slice(&output.stdout).expect("list JSON");
    let entry = listed["keys"]
        .as_array()
        .expect("keys")
        .iter()
        .find(|entry| entry["name"] == name.as_str())
        .unwrap_or_else(|| panic!("{name} missing from {listed}"));
    assert_eq!(entry["targets"], serde_json::json!(["keyed"]));
    let output = transcript.cli(data_dir, env, &["keys", "list"], None);
    assert!(output.status.success(), "keys list: {}", describe(output));
    let listing = text(&output.stdout);
    assert!(
        listing
            .lines()
            .any(|line| line.starts_with(&name) && line.ends_with("keyed")),
        "{listing}"
    );

    let output = transcript.cli(data_dir, env, &["keys", "delete", &name], None);
    assert!(output.status.success(), "keys delete: {}", describe(output));
    assert!(!keychain.contains(&name).expect("keychain reachable"), "deleted");

    let output = transcript.cli(data_dir, env, &["run", "--json", "say hello again"], None);
    assert!(
        !output.status.success(),
        "a run without its key fails: {}",
        describe(output)
    );
    let error = text(&output.stderr);
    assert!(
        error.contains(&format!(
            "target 'keyed': no key '{name}' in the keychain (modelbench keys set {name}); \
             the environment variable OPENAI_API_KEY is not set either"
        )),
        "{error}"
    );
    assert_eq!(cloud.requests().len(), 1, "nothing was sent without a key");

    let output = transcript.cli(data_dir, env, &["keys", "list", "--json"], None);
    let listed: Value = serde_json::from_slice(&output.stdout).expect("list JSON");
    assert_eq!(
        listed["missing"]
            .as_array()
            .expect("missing")
            .iter()
            .find(|entry| entry["name"] == name.as_str())
            .map(|entry| entry["targets"].clone()),
        Some(serde_json::json!(["keyed"])),
        "the target naming a deleted key is flagged: {listed}"
    );

    // The secret went to the keychain and to fakecloud, and nowhere else.
    let files = files_under(data_dir);
    assert!(
        files
            .iter()
            .any(|path| path.file_name().is_some_and(|file| file == "modelbench.db")),
        "the database is in the data dir: {files:?}"
    );
    for path in files.iter().chain(files_under(home.path()).iter()) {
        let bytes = std::fs::read(path).expect("read data file");
        assert!(
            !contains(&bytes, secret.as_bytes()),
            "the secret is in {}",
            path.display()
        );
    }
    for (command, output) in &transcript.outputs {
        for (stream, bytes) in [("stdout", &output.stdout), ("stderr", &output.stderr)] {
            assert!(
                !contains(bytes, secret.as_bytes()),
                "the secret is in the {stream} of `modelbench {command}`"
            );
        }
    }
}
