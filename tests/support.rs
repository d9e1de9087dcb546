//! Shared helpers for the end-to-end tests: the recordings, fakecloud, targets and the CLI binary.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

use modelbench_engine::target::Api;
use modelbench_engine::{ProviderKind, Target};
use serde_json::Value;

pub fn fixtures_dir() -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/fixtures/streams");
    assert!(dir.is_dir(), "fixtures not found at {}", dir.display());
    dir
}

pub fn expected() -> Value {
    let text = std::fs::read_to_string(fixtures_dir().join("expected.json")).expect("expected.json");
    serde_json::from_str(&text).expect("valid json")
}

/// How a recording is served and read: which cloud's endpoint and which API.
pub fn target_for_recording(name: &str, base_url: &str, model: &str) -> Option<Target> {
    let (provider, api) =
        if name.starts_with("openai_chat") || name.starts_with("groq") || name.starts_with("openrouter") {
            (ProviderKind::OpenAi, None)
        } else if name.starts_with("azure_chat") {
            (ProviderKind::Azure, None)
        } else if name.starts_with("openai_responses") {
            (ProviderKind::OpenAi, Some(Api::Responses))
        } else if name.starts_with("anthropic_messages") {
            (ProviderKind::Anthropic, None)
        } else if name.starts_with("ollama_api") {
            (ProviderKind::Ollama, None)
        } else {
            return None;
        };
    let mut target = Target::new(name, provider, model);
    target.api = api;
    target.base_url = Some(match provider {
        ProviderKind::OpenAi => format!("{base_url}/v1"),
        _ => base_url.to_owned(),
    });
    if name.starts_with("azure_chat_content_filter_2024") {
        // One Azure recording goes through the classic deployments path, the other through v1.
        target.deployment = Some(model.to_owned());
        target.api_version = Some("2024-10-21".to_owned());
    }
    Some(target)
}

/// The `modelbench` binary, built once for the whole test process if cargo has not built it.
pub fn modelbench_binary() -> PathBuf {
    static BINARY: OnceLock<PathBuf> = OnceLock::new();
    BINARY
        .get_or_init(|| {
            let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
            let status = Command::new(cargo)
                .args(["build", "--quiet", "-p", "modelbench-cli", "--bin", "modelbench"])
                .current_dir(env!("CARGO_MANIFEST_DIR"))
                .status()
                .expect("cargo build runs");
            assert!(status.success(), "building modelbench failed");
            let test_exe = std::env::current_exe().expect("test exe");
            // target/<profile>/deps/e2e-… → target/<profile>/modelbench
            let binary = test_exe
                .parent()
                .and_then(Path::parent)
                .expect("target dir")
                .join(format!("modelbench{}", std::env::consts::EXE_SUFFIX));
            assert!(binary.exists(), "no binary at {}", binary.display());
            binary
        })
        .clone()
}

/// Runs `modelbench` with a private data dir and only the given environment keys.
pub fn modelbench(data_dir: &Path, args: &[&str], env: &[(&str, &str)], stdin: Option<&str>) -> Output {
    let mut command = Command::new(modelbench_binary());
    command
        .args(args)
        .env_remove("OPENAI_API_KEY")
        .env_remove("AZURE_OPENAI_API_KEY")
        .env_remove("ANTHROPIC_API_KEY")
        .env("MODELBENCH_DATA_DIR", data_dir)
        .env("NO_COLOR", "1");
    for (name, value) in env {
        command.env(name, value);
    }
    match stdin {
        Some(text) => {
            use std::io::Write;
            command
                .stdin(std::process::Stdio::piped())
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped());
            let mut child = command.spawn().expect("spawn modelbench");
            child
                .stdin
                .take()
                .expect("stdin")
                .write_all(text.as_bytes())
                .expect("write stdin");
            child.wait_with_output().expect("modelbench output")
        }
        None => command.output().expect("run modelbench"),
    }
}

/// The environment that makes the CLI use fakecloud's default keys.
pub const FAKE_KEYS: &[(&str, &str)] = &[
    ("OPENAI_API_KEY", "fake-key"),
    ("AZURE_OPENAI_API_KEY", "fake-key"),
    ("ANTHROPIC_API_KEY", "fake-key"),
];
