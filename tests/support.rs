//! Shared helpers for the end-to-end tests: the recordings, fakecloud, targets and the CLI binary.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

use modelbench_engine::accumulate::Accumulator;
use modelbench_engine::target::Api;
use modelbench_engine::{ProviderError, ProviderKind, ResponseRecord, Target, ToolCall, Usage};
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

/// What a response came to, whichever path produced it (a decoder fold or a stored record), so
/// one check against `expected.json` serves every path.
#[derive(Debug)]
pub struct Observed {
    /// The target the response belongs to, when the path knows it (errors must name it).
    pub target: Option<String>,
    pub text: String,
    pub reasoning: String,
    pub usage: Option<Usage>,
    pub raw_finish_reason: Option<String>,
    pub tool_calls: Vec<ToolCall>,
    pub error: Option<ProviderError>,
    pub complete: bool,
}

impl From<&ResponseRecord> for Observed {
    fn from(response: &ResponseRecord) -> Self {
        Self {
            target: Some(response.target.clone()),
            text: response.text.clone(),
            reasoning: response.reasoning.clone(),
            usage: Some(response.usage.clone()).filter(|usage| *usage != Usage::default()),
            raw_finish_reason: response.raw_finish_reason.clone(),
            tool_calls: response.tool_calls.clone(),
            error: response.error.clone(),
            complete: response.complete,
        }
    }
}

impl From<&Accumulator> for Observed {
    fn from(accumulator: &Accumulator) -> Self {
        Self {
            target: None,
            text: accumulator.text.clone(),
            reasoning: accumulator.reasoning.clone(),
            usage: accumulator.usage.clone(),
            raw_finish_reason: accumulator.raw_finish_reason.clone(),
            tool_calls: accumulator.tool_calls(),
            error: accumulator.error.clone(),
            complete: accumulator.is_complete(),
        }
    }
}

/// Checks a response against a recording's entry in `expected.json`: text, reasoning, usage,
/// tool calls and finish reason in each recording's own vocabulary, and errors.
pub fn check_against_expected(name: &str, want: &Value, got: &Observed) {
    assert_eq!(got.text, want["text"].as_str().expect("text"), "{name}: text");
    let reasoning = want
        .get("reasoning")
        .or_else(|| want.get("thinking"))
        .and_then(Value::as_str)
        .unwrap_or("");
    assert_eq!(got.reasoning, reasoning, "{name}: reasoning");
    let usage = got.usage.as_ref();
    if want.get("done").is_some() {
        // Ollama's counts live on its final line rather than in a usage object.
        assert_eq!(
            usage.and_then(|usage| usage.input_tokens),
            want["prompt_eval_count"].as_u64(),
            "{name}"
        );
        assert_eq!(
            usage.and_then(|usage| usage.output_tokens),
            want["eval_count"].as_u64(),
            "{name}"
        );
    } else {
        let raw = usage.map(|usage| &usage.raw).filter(|raw| !raw.is_null());
        match &want["usage"] {
            Value::Null => assert_eq!(raw, None, "{name}: no usage expected"),
            expected => assert_eq!(raw, Some(expected), "{name}: usage"),
        }
    }
    let raw_reason = got.raw_finish_reason.as_deref();
    for field in ["finish_reason", "stop_reason", "done_reason"] {
        if let Some(expected) = want.get(field) {
            assert_eq!(raw_reason, expected.as_str(), "{name}: {field}");
        }
    }
    if want.get("final_status").and_then(Value::as_str) == Some("completed") {
        assert_eq!(raw_reason, Some("completed"), "{name}: final status");
    }
    if let Some(Value::Object(calls)) = want.get("tool_calls") {
        assert_eq!(got.tool_calls.len(), calls.len(), "{name}: tool calls");
        for call in &got.tool_calls {
            let expected = &calls[&call.index.to_string()];
            assert_eq!(call.id.as_deref(), expected["id"].as_str(), "{name}: tool id");
            assert_eq!(call.name.as_deref(), expected["name"].as_str(), "{name}: tool name");
            assert_eq!(
                call.arguments,
                expected["args"].as_str().expect("args"),
                "{name}: tool args"
            );
        }
    }
    if let Some(Value::Object(inputs)) = want.get("tool_inputs") {
        let got_inputs: Vec<(String, &str)> = got
            .tool_calls
            .iter()
            .map(|call| (call.index.to_string(), call.arguments.as_str()))
            .collect();
        let want_inputs: Vec<(String, &str)> = inputs
            .iter()
            .map(|(index, args)| (index.clone(), args.as_str().expect("args")))
            .collect();
        assert_eq!(got_inputs, want_inputs, "{name}: tool inputs");
    }
    if let Some(args) = want
        .get("function_args")
        .and_then(Value::as_str)
        .filter(|args| !args.is_empty())
    {
        assert_eq!(got.tool_calls.len(), 1, "{name}: one function call");
        assert_eq!(got.tool_calls[0].arguments, args, "{name}: function args");
    }
    let failed = want
        .get("errors")
        .and_then(Value::as_array)
        .is_some_and(|errors| !errors.is_empty())
        || want.get("final_status").and_then(Value::as_str) == Some("failed");
    if failed {
        let error = got
            .error
            .as_ref()
            .unwrap_or_else(|| panic!("{name}: an error is expected"));
        assert!(!error.message.is_empty(), "{name}: error message");
        if let Some(target) = &got.target {
            assert_eq!(&error.target, target, "{name}: the error names its target");
        }
        assert!(!got.complete, "{name}: a failed stream is incomplete");
    } else {
        assert_eq!(got.error, None, "{name}: unexpected error");
        assert!(got.complete, "{name}: complete");
    }
}
