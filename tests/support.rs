//! Shared helpers for the end-to-end tests: the recordings, fakecloud, targets and the CLI binary.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

use modelbench_engine::accumulate::Accumulator;
use modelbench_engine::target::Api;
use modelbench_engine::{ProviderError, ProviderKind, ResponseRecord, Target, ToolCall, Usage};
use serde_json::Value;

#[path = "support/desktop.rs"]
pub mod desktop;

pub fn fixtures_dir() -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/fixtures/streams");
    assert!(dir.is_dir(), "fixtures not found at {}", dir.display());
    dir
}

pub fn expected() -> Value {
    let text = std::fs::read_to_string(fixtures_dir().join("expected.json")).expect("expected.json");
    serde_json::from_str(&text).expect("valid json")
}

/// A recording's body. Binary event streams are listed in `expected.json` by their `.b64` copy
/// (whose size it records); the raw bytes are the `.bin` beside it.
pub fn recording_body(name: &str) -> Vec<u8> {
    let file = match name.strip_suffix(".b64") {
        Some(stem) => format!("{stem}.bin"),
        None => name.to_owned(),
    };
    std::fs::read(fixtures_dir().join(&file)).unwrap_or_else(|error| panic!("{file}: {error}"))
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
        } else if name.starts_with("gemini_aistudio") {
            (ProviderKind::Gemini, None)
        } else if name.starts_with("gemini_vertex") {
            (ProviderKind::Vertex, None)
        } else if name.starts_with("bedrock_invoke") {
            (ProviderKind::Bedrock, Some(Api::Invoke))
        } else if name.starts_with("bedrock_") {
            // ConverseStream, and the exception frame (which can end any Bedrock stream).
            (ProviderKind::Bedrock, Some(Api::Converse))
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
    if provider == ProviderKind::Vertex {
        // As recorded: Gemini (the default publisher) on the global endpoint.
        target.project = Some("modelbench-recordings".to_owned());
        target.location = Some("global".to_owned());
    }
    if provider == ProviderKind::Bedrock {
        target.region = Some("us-east-1".to_owned());
        if api == Some(Api::Invoke) {
            // As recorded: Claude 3 Sonnet's native body. A fakecloud spec after `~` is kept.
            let spec = model.find('~').map_or("", |index| &model[index..]);
            target.model = format!("anthropic.claude-3-sonnet-20240229-v1:0{spec}");
        }
    }
    Some(target)
}

/// The `modelbench` binary, built once for the whole test process if cargo has not built it.
pub fn modelbench_binary() -> PathBuf {
    workspace_binary("modelbench")
}

/// The desktop app's binary (it embeds `ui/dist`, so build the UI first: scripts/test does).
pub fn app_binary() -> PathBuf {
    workspace_binary("modelbench-app")
}

/// A binary of the workspace, after one `cargo build` per test process.
fn workspace_binary(name: &str) -> PathBuf {
    static BUILT: OnceLock<PathBuf> = OnceLock::new();
    let dir = BUILT.get_or_init(|| {
        let test_exe = std::env::current_exe().expect("test exe");
        // target/<profile>/deps/e2e-… → target/<profile>
        let dir = test_exe.parent().and_then(Path::parent).expect("target dir").to_owned();
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
        // The same selection as `cargo test --workspace` (every member, with tests), so the
        // dependencies resolve to the same features and nothing is compiled a second time; in
        // the test profile (the UI benchmark names its release app with MODELBENCH_APP instead).
        let status = Command::new(cargo)
            .args(["build", "--quiet", "--workspace", "--bins", "--tests"])
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .status()
            .expect("cargo build runs");
        assert!(status.success(), "building the workspace binaries failed");
        dir
    });
    let binary = dir.join(format!("{name}{}", std::env::consts::EXE_SUFFIX));
    assert!(binary.exists(), "no binary at {}", binary.display());
    binary
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

/// Every file under `dir`, for the secret scans: a secret must be in none of them.
pub fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(dir) = pending.pop() {
        for entry in std::fs::read_dir(&dir).expect("read dir") {
            let path = entry.expect("dir entry").path();
            if path.is_dir() {
                pending.push(path);
            } else {
                files.push(path);
            }
        }
    }
    files
}

pub fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|window| window == needle)
}

/// The environment that makes the CLI use fakecloud's default keys.
/// Bedrock gets SigV4 credentials through the real AWS chain (its environment provider), with the
/// shared config files and instance metadata pointed nowhere so nothing on the machine leaks in.
pub const FAKE_KEYS: &[(&str, &str)] = &[
    ("OPENAI_API_KEY", "fake-key"),
    ("AZURE_OPENAI_API_KEY", "fake-key"),
    ("ANTHROPIC_API_KEY", "fake-key"),
    ("GEMINI_API_KEY", "fake-key"),
    ("GOOGLE_OAUTH_ACCESS_TOKEN", "fake-key"),
    ("AWS_ACCESS_KEY_ID", fakecloud::FAKE_AWS_ACCESS_KEY_ID),
    ("AWS_SECRET_ACCESS_KEY", fakecloud::FAKE_AWS_SECRET_ACCESS_KEY),
    ("AWS_CONFIG_FILE", "/nonexistent/modelbench-test/aws-config"),
    (
        "AWS_SHARED_CREDENTIALS_FILE",
        "/nonexistent/modelbench-test/aws-credentials",
    ),
    ("AWS_EC2_METADATA_DISABLED", "true"),
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
    /// The cloud's own timing (Bedrock's `latencyMs`, or `invocationLatency`/`firstByteLatency`).
    pub server_latency_ms: Option<f64>,
    pub server_first_byte_ms: Option<f64>,
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
            server_latency_ms: response.metrics.server_latency_ms,
            server_first_byte_ms: response.metrics.server_first_byte_ms,
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
            server_latency_ms: accumulator.metrics(std::time::Duration::ZERO).server_latency_ms,
            server_first_byte_ms: accumulator.metrics(std::time::Duration::ZERO).server_first_byte_ms,
        }
    }
}

/// Checks a response against a recording's entry in `expected.json`: text, reasoning, usage,
/// tool calls and finish reason in each recording's own vocabulary, and errors.
pub fn check_against_expected(name: &str, want: &Value, got: &Observed) {
    // Bedrock invoke recordings describe the model's own stream, decoded from the chunks, apart.
    let invoke = want.get("invoke_anthropic").map(|inner| {
        let mut inner = inner.clone();
        inner["exceptions"] = want["exceptions"].clone();
        inner
    });
    let want = invoke.as_ref().unwrap_or(want);
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
        let mut expected = want["usage"].clone();
        // Bedrock's invocation metrics ride beside the model's usage: counts and timings.
        if let Some(metrics) = expected
            .as_object_mut()
            .and_then(|usage| usage.remove("bedrock_invocationMetrics"))
        {
            assert_eq!(
                usage.and_then(|usage| usage.input_tokens),
                metrics["inputTokenCount"].as_u64(),
                "{name}: invocation input tokens"
            );
            assert_eq!(
                usage.and_then(|usage| usage.output_tokens),
                metrics["outputTokenCount"].as_u64(),
                "{name}: invocation output tokens"
            );
            assert_eq!(
                got.server_latency_ms,
                metrics["invocationLatency"].as_f64(),
                "{name}: invocation latency"
            );
            assert_eq!(
                got.server_first_byte_ms,
                metrics["firstByteLatency"].as_f64(),
                "{name}: first byte latency"
            );
        }
        match expected {
            Value::Null => assert_eq!(raw, None, "{name}: no usage expected"),
            expected => assert_eq!(raw, Some(&expected), "{name}: usage"),
        }
    }
    if let Some(latency) = want.get("metrics").and_then(|metrics| metrics.get("latencyMs")) {
        assert_eq!(got.server_latency_ms, latency.as_f64(), "{name}: Bedrock latencyMs");
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
    if let Some(calls) = want.get("function_calls").and_then(Value::as_array) {
        // Gemini's calls arrive whole, arguments as a JSON object.
        let got_calls: Vec<(Option<&str>, Value)> = got
            .tool_calls
            .iter()
            .map(|call| {
                let arguments = serde_json::from_str(&call.arguments)
                    .unwrap_or_else(|error| panic!("{name}: arguments are not JSON ({error}): {}", call.arguments));
                (call.name.as_deref(), arguments)
            })
            .collect();
        let want_calls: Vec<(Option<&str>, Value)> = calls
            .iter()
            .map(|call| (call["name"].as_str(), call["args"].clone()))
            .collect();
        assert_eq!(got_calls, want_calls, "{name}: function calls");
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
        || want.get("final_status").and_then(Value::as_str) == Some("failed")
        || want
            .get("exceptions")
            .and_then(Value::as_array)
            .is_some_and(|exceptions| !exceptions.is_empty());
    if failed {
        let error = got
            .error
            .as_ref()
            .unwrap_or_else(|| panic!("{name}: an error is expected"));
        assert!(!error.message.is_empty(), "{name}: error message");
        if let Some(exception) = want.pointer("/exceptions/0/0").and_then(Value::as_str) {
            // Bedrock exceptions: the error names the exception and carries its message.
            assert_eq!(error.code.as_deref(), Some(exception), "{name}: exception code");
            let message = want
                .pointer("/exceptions/0/1/message")
                .and_then(Value::as_str)
                .unwrap_or("");
            assert!(error.message.contains(message), "{name}: {}", error.message);
        }
        if let Some(target) = &got.target {
            assert_eq!(&error.target, target, "{name}: the error names its target");
        }
        assert!(!got.complete, "{name}: a failed stream is incomplete");
    } else {
        assert_eq!(got.error, None, "{name}: unexpected error");
        assert!(got.complete, "{name}: complete");
    }
}
