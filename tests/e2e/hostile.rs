//! The CLI against hostile servers and hostile input, as in `../shared/findings/reliability.md`:
//! redirects to another origin, keys echoed back, terminal escapes in answers and errors,
//! bodies that are not streams, dangerous export destinations and malformed input.
//!
//! The servers here are a few lines of raw HTTP on 127.0.0.1 rather than fakecloud modes: they
//! misbehave on purpose (answer anything with anything), which fakecloud's clouds never should.

use std::path::Path;
use std::process::Output;
use std::sync::{Arc, Mutex};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

use crate::cli::{cli, stderr, stdout};

const OPENAI_KEY: &str = "sk-OPENAIFAKEKEY-7f3a9c2e1b";
const AZURE_KEY: &str = "AZUREFAKEKEY-55d1e0c4a8";
const ANTHROPIC_KEY: &str = "sk-ant-ANTHFAKEKEY-90b2c7";
const GEMINI_KEY: &str = "AIzaGEMINIFAKEKEY-3e8d41";
const KEYS: [&str; 4] = [OPENAI_KEY, AZURE_KEY, ANTHROPIC_KEY, GEMINI_KEY];

fn key_env() -> Vec<(&'static str, &'static str)> {
    vec![
        ("OPENAI_API_KEY", OPENAI_KEY),
        ("AZURE_OPENAI_API_KEY", AZURE_KEY),
        ("ANTHROPIC_API_KEY", ANTHROPIC_KEY),
        ("GEMINI_API_KEY", GEMINI_KEY),
    ]
}

/// What a handler sees of one request: the request line, headers and body, as text.
type Handler = dyn Fn(&str) -> Vec<u8> + Send + Sync;

/// A raw HTTP/1.1 server that answers each request with whatever its handler returns, then
/// closes the connection, and remembers every request it got.
struct Hostile {
    base_url: String,
    requests: Arc<Mutex<Vec<String>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Hostile {
    async fn start(handler: impl Fn(&str) -> Vec<u8> + Send + Sync + 'static) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let base_url = format!("http://{}", listener.local_addr().expect("address"));
        let requests = Arc::new(Mutex::new(Vec::new()));
        let handler: Arc<Handler> = Arc::new(handler);
        let seen = Arc::clone(&requests);
        let task = tokio::spawn(async move {
            while let Ok((mut socket, _)) = listener.accept().await {
                let handler = Arc::clone(&handler);
                let seen = Arc::clone(&seen);
                tokio::spawn(async move {
                    let mut received = Vec::new();
                    let mut buffer = [0u8; 8192];
                    let head_end = loop {
                        if let Some(end) = find(&received, b"\r\n\r\n") {
                            break end + 4;
                        }
                        match socket.read(&mut buffer).await {
                            Ok(0) | Err(_) => return,
                            Ok(read) => received.extend_from_slice(&buffer[..read]),
                        }
                    };
                    let head = String::from_utf8_lossy(&received[..head_end]).to_ascii_lowercase();
                    let length: usize = head
                        .lines()
                        .find_map(|line| line.strip_prefix("content-length:"))
                        .and_then(|value| value.trim().parse().ok())
                        .unwrap_or(0);
                    while received.len() < head_end + length {
                        match socket.read(&mut buffer).await {
                            Ok(0) | Err(_) => break,
                            Ok(read) => received.extend_from_slice(&buffer[..read]),
                        }
                    }
                    let request = String::from_utf8_lossy(&received).into_owned();
                    seen.lock().expect("requests").push(request.clone());
                    let answer = handler(&request);
                    let _ = socket.write_all(&answer).await;
                    let _ = socket.shutdown().await;
                });
            }
        });
        Self {
            base_url,
            requests,
            task,
        }
    }

    fn requests(&self) -> Vec<String> {
        self.requests.lock().expect("requests").clone()
    }
}

impl Drop for Hostile {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|window| window == needle)
}

/// A whole HTTP response with a body.
fn http(status: &str, headers: &[(&str, &str)], body: &[u8]) -> Vec<u8> {
    let mut answer = format!(
        "HTTP/1.1 {status}\r\nconnection: close\r\ncontent-length: {}\r\n",
        body.len()
    );
    for (name, value) in headers {
        answer.push_str(&format!("{name}: {value}\r\n"));
    }
    answer.push_str("\r\n");
    let mut bytes = answer.into_bytes();
    bytes.extend_from_slice(body);
    bytes
}

/// The wire style a request asks for, told from its path.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Style {
    OpenAi,
    Anthropic,
    Gemini,
}

fn style(request: &str) -> Style {
    let line = request.lines().next().unwrap_or_default();
    if line.contains("/v1/messages") {
        Style::Anthropic
    } else if line.contains("streamGenerateContent") {
        Style::Gemini
    } else {
        Style::OpenAi
    }
}

/// The word after `~` in the model or deployment name (in the path or the body).
fn mode(request: &str) -> String {
    let start = request.find('~').map_or(request.len(), |index| index + 1);
    request[start..]
        .chars()
        .take_while(|character| character.is_ascii_alphanumeric() || *character == '_')
        .collect()
}

/// The key the request carried, whichever header it came in.
fn sent_key(request: &str) -> String {
    request
        .lines()
        .find_map(|line| {
            let (name, value) = line.split_once(':')?;
            let name = name.trim().to_ascii_lowercase();
            matches!(
                name.as_str(),
                "authorization" | "api-key" | "x-api-key" | "x-goog-api-key"
            )
            .then(|| {
                let value = value.trim();
                value.strip_prefix("Bearer ").unwrap_or(value).to_owned()
            })
        })
        .unwrap_or_default()
}

/// A complete streamed answer of `text` in the request's wire style.
fn stream(style: Style, text: &str) -> Vec<u8> {
    let text = serde_json::to_string(text).expect("json string");
    let body = match style {
        Style::OpenAi => format!(
            "data: {{\"model\":\"m\",\"choices\":[{{\"index\":0,\"delta\":{{\"content\":{text}}}}}]}}\n\n\
             data: {{\"model\":\"m\",\"choices\":[{{\"index\":0,\"delta\":{{}},\"finish_reason\":\"stop\"}}]}}\n\n\
             data: [DONE]\n\n"
        ),
        Style::Anthropic => format!(
            "event: message_start\ndata: {{\"type\":\"message_start\",\"message\":{{\"id\":\"msg_1\",\"type\":\"message\",\"role\":\"assistant\",\"model\":\"m\",\"content\":[],\"stop_reason\":null,\"usage\":{{\"input_tokens\":3,\"output_tokens\":1}}}}}}\n\n\
             event: content_block_start\ndata: {{\"type\":\"content_block_start\",\"index\":0,\"content_block\":{{\"type\":\"text\",\"text\":\"\"}}}}\n\n\
             event: content_block_delta\ndata: {{\"type\":\"content_block_delta\",\"index\":0,\"delta\":{{\"type\":\"text_delta\",\"text\":{text}}}}}\n\n\
             event: content_block_stop\ndata: {{\"type\":\"content_block_stop\",\"index\":0}}\n\n\
             event: message_delta\ndata: {{\"type\":\"message_delta\",\"delta\":{{\"stop_reason\":\"end_turn\"}},\"usage\":{{\"output_tokens\":2}}}}\n\n\
             event: message_stop\ndata: {{\"type\":\"message_stop\"}}\n\n"
        ),
        Style::Gemini => format!(
            "data: {{\"candidates\":[{{\"content\":{{\"parts\":[{{\"text\":{text}}}],\"role\":\"model\"}},\"finishReason\":\"STOP\",\"index\":0}}],\"modelVersion\":\"m\"}}\n\n"
        ),
    };
    body.into_bytes()
}

/// An error event inside a 200 stream, in the request's wire style, after one delta.
fn midstream_error(style: Style, code: &str, message: &str) -> Vec<u8> {
    let code = serde_json::to_string(code).expect("json");
    let message = serde_json::to_string(message).expect("json");
    let body = match style {
        Style::OpenAi => format!(
            "data: {{\"model\":\"m\",\"choices\":[{{\"index\":0,\"delta\":{{\"content\":\"so far \"}}}}]}}\n\n\
             data: {{\"error\":{{\"message\":{message},\"type\":{code},\"code\":{code}}}}}\n\n"
        ),
        Style::Anthropic => format!(
            "event: message_start\ndata: {{\"type\":\"message_start\",\"message\":{{\"id\":\"msg_1\",\"type\":\"message\",\"role\":\"assistant\",\"model\":\"m\",\"content\":[],\"stop_reason\":null,\"usage\":{{\"input_tokens\":3,\"output_tokens\":1}}}}}}\n\n\
             event: content_block_start\ndata: {{\"type\":\"content_block_start\",\"index\":0,\"content_block\":{{\"type\":\"text\",\"text\":\"\"}}}}\n\n\
             event: content_block_delta\ndata: {{\"type\":\"content_block_delta\",\"index\":0,\"delta\":{{\"type\":\"text_delta\",\"text\":\"so far \"}}}}\n\n\
             event: error\ndata: {{\"type\":\"error\",\"error\":{{\"type\":{code},\"message\":{message}}}}}\n\n"
        ),
        Style::Gemini => format!(
            "data: {{\"candidates\":[{{\"content\":{{\"parts\":[{{\"text\":\"so far \"}}],\"role\":\"model\"}},\"index\":0}}],\"modelVersion\":\"m\"}}\n\n\
             data: {{\"error\":{{\"code\":500,\"message\":{message},\"status\":{code}}}}}\n\n"
        ),
    };
    body.into_bytes()
}

fn sse(body: &[u8]) -> Vec<u8> {
    http("200 OK", &[("content-type", "text/event-stream")], body)
}

/// `[[target]]` tables for the four key styles (OpenAI bearer, Azure api-key, Anthropic
/// x-api-key, Gemini x-goog-api-key), each named `PREFIX-MODE` and answering `MODE`.
fn four_clouds(base: &str, modes: &[&str]) -> String {
    let mut toml = String::new();
    for mode in modes {
        toml.push_str(&table(&format!("oa-{mode}"), "openai", mode, base));
        toml.push_str(&format!(
            "\n[[target]]\nname = \"az-{mode}\"\nprovider = \"azure\"\nmodel = \"m\"\nbase_url = \"{base}\"\n\
             deployment = \"d~{mode}\"\napi_version = \"2024-10-21\"\n"
        ));
        toml.push_str(&table(&format!("an-{mode}"), "anthropic", mode, base));
        toml.push_str(&table(&format!("ge-{mode}"), "gemini", mode, base));
    }
    toml
}

/// One `[[target]]` table answering `MODE` (OpenAI's base URL carries its `/v1`).
fn table(name: &str, provider: &str, mode: &str, base: &str) -> String {
    let base_url = if provider == "openai" {
        format!("{base}/v1")
    } else {
        base.to_owned()
    };
    format!(
        "\n[[target]]\nname = \"{name}\"\nprovider = \"{provider}\"\nmodel = \"m~{mode}\"\nbase_url = \"{base_url}\"\n"
    )
}

fn write_targets(dir: &Path, toml: &str) -> String {
    let file = dir.join("targets.toml");
    std::fs::write(&file, toml).expect("write targets");
    file.to_str().expect("utf8 path").to_owned()
}

fn both(output: &Output) -> String {
    format!("{}\n{}", stdout(output), stderr(output))
}

fn assert_exit(output: &Output, code: i32) {
    assert_eq!(
        output.status.code(),
        Some(code),
        "stdout: {}\nstderr: {}",
        stdout(output),
        stderr(output)
    );
}

/// §3: a 307 or 302 to another origin is never followed, so no key (and no prompt) goes there;
/// the error names the status and where the redirect pointed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redirects_are_refused_and_no_key_reaches_the_other_origin() {
    let elsewhere = Hostile::start(|request| {
        let echoed = sent_key(request);
        sse(&stream(style(request), &format!("your key: {echoed}")))
    })
    .await;
    let target_origin = elsewhere.base_url.clone();
    let origin = Hostile::start(move |request| {
        let status = if mode(request) == "redirect302" {
            "302 Found"
        } else {
            "307 Temporary Redirect"
        };
        let location = format!("{target_origin}/stolen?from=modelbench");
        http(status, &[("location", location.as_str())], b"")
    })
    .await;
    let data = tempfile::tempdir().expect("tempdir");
    let file = write_targets(
        data.path(),
        &four_clouds(&origin.base_url, &["redirect307", "redirect302"]),
    );
    let env = key_env();
    let output = cli(
        data.path(),
        &["run", "--targets", &file, "--retries", "0", "redirect test"],
        &env,
        None,
    )
    .await;
    assert!(
        elsewhere.requests().is_empty(),
        "the other origin got requests: {:#?}",
        elsewhere.requests()
    );
    assert_eq!(origin.requests().len(), 8, "one request per target, no retries");
    let text = both(&output);
    assert_exit(&output, 0);
    for status in ["307", "302"] {
        let line = text
            .lines()
            .find(|line| line.contains(&format!("HTTP {status}")) && line.contains("redirect"))
            .unwrap_or_else(|| panic!("no redirect error for {status} in\n{text}"));
        assert!(line.contains(&elsewhere.base_url), "{line}");
        assert!(line.contains("target '"), "the error names its target: {line}");
        assert!(!line.contains("stolen"), "only the origin is named: {line}");
    }
    assert!(!text.contains("your key"), "{text}");
    for key in KEYS {
        assert!(!text.contains(key), "{text}");
    }
}

/// Bytes that must never reach a terminal from the network: ESC, BEL, CSI (C1) and a bare CR.
fn assert_no_terminal_controls(what: &str, bytes: &[u8]) {
    let text = String::from_utf8_lossy(bytes);
    for (index, character) in text.char_indices() {
        let forbidden =
            (character.is_control() && !matches!(character, '\n' | '\t')) || ('\u{80}'..='\u{9f}').contains(&character);
        assert!(
            !forbidden,
            "{what}: control character {character:?} at byte {index} in\n{}",
            text.escape_debug()
        );
    }
}

const ESCAPES: &str = "title\x1b]0;pwned\x07 clear\x1b[2J\x1b[H link\x1b]8;;http://evil.example/\x1b\\click\x1b]8;;\x1b\\ \
                       clip\x1b]52;c;Y2FsYw==\x07 red\x1b[31mRED csi\u{9b}2J\r\x1b[Kfake line\nsecond line\tend";

/// §6a: OSC 0/8/52, CSI 2J, `\r\x1b[K` and C1 controls from answers and cloud errors are shown
/// neutralised by `run`, `runs show`, `search`, `diff --a --b` and on stderr; the database keeps
/// the answer verbatim.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn terminal_escapes_from_the_network_never_reach_the_terminal() {
    let server = Hostile::start(|request| match mode(request).as_str() {
        "escerr" => http(
            "400 Bad Request",
            &[("content-type", "application/json")],
            serde_json::json!({"error": {"message": "bad \x1b]0;err-pwned\x07\x1b[2J request", "code": "x\x1b[31m"}})
                .to_string()
                .as_bytes(),
        ),
        "plain" => sse(&stream(style(request), "a plain pwned answer")),
        _ => sse(&stream(style(request), ESCAPES)),
    })
    .await;
    let data = tempfile::tempdir().expect("tempdir");
    let base = &server.base_url;
    let file = write_targets(
        data.path(),
        &[
            table("inject", "openai", "inject", base),
            table("plain", "openai", "plain", base),
            table("err", "openai", "escerr", base),
        ]
        .concat(),
    );
    let env = key_env();
    let run = cli(
        data.path(),
        &[
            "run",
            "--targets",
            &file,
            "--retries",
            "0",
            "--system",
            "sys \x1b[31mred",
            "prompt \x1b]0;p\x07",
        ],
        &env,
        None,
    )
    .await;
    assert_exit(&run, 0);
    assert!(stdout(&run).contains("pwned"), "{}", stdout(&run));
    assert_no_terminal_controls("run stdout", &run.stdout);
    assert_no_terminal_controls("run stderr", &run.stderr);

    let run_id = {
        let list = cli(data.path(), &["runs", "list", "--json"], &[], None).await;
        let runs: serde_json::Value = serde_json::from_slice(&list.stdout).expect("runs json");
        runs[0]["id"].as_str().expect("run id").to_owned()
    };
    let document = cli(data.path(), &["runs", "show", "--json", &run_id], &[], None).await;
    let document: serde_json::Value = serde_json::from_slice(&document.stdout).expect("show json");
    let stored = document["results"]
        .as_array()
        .expect("results")
        .iter()
        .find(|result| result["target"] == "inject")
        .expect("inject result")["text"]
        .as_str()
        .expect("text")
        .to_owned();
    assert_eq!(stored, ESCAPES, "the database keeps the answer verbatim");

    for args in [
        vec!["runs", "show", run_id.as_str()],
        vec!["search", "pwned"],
        vec!["diff", run_id.as_str(), "--a", "inject", "--b", "plain"],
        vec!["diff", run_id.as_str()],
        vec!["runs", "list"],
    ] {
        let output = cli(data.path(), &args, &[], None).await;
        assert_exit(&output, 0);
        assert!(!output.stdout.is_empty(), "{args:?} printed nothing");
        assert_no_terminal_controls(&format!("{args:?} stdout"), &output.stdout);
        assert_no_terminal_controls(&format!("{args:?} stderr"), &output.stderr);
    }
    let show = cli(data.path(), &["runs", "show", run_id.as_str()], &[], None).await;
    assert!(stdout(&show).contains("␛]0;pwned␇"), "{}", stdout(&show));
}

/// The 500 characters of a non-JSON error body that are kept end inside the key.
fn key_at_the_cut(key: &str) -> String {
    format!("{}{key} and more", "P".repeat(490))
}

/// §5: a key the cloud echoes in the error `code`/`type`, mid-stream error types, response
/// headers (request id, region), across the 500-character cut of an error body or in the answer
/// is redacted everywhere: the database files, stdout, stderr, `runs show`, `search` and every
/// export.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keys_echoed_by_the_cloud_are_redacted_everywhere() {
    let server = Hostile::start(|request| {
        let key = sent_key(request);
        let style = style(request);
        match mode(request).as_str() {
            "code" => http(
                "401 Unauthorized",
                &[("content-type", "application/json")],
                serde_json::json!({"error": {"message": "bad key", "type": format!("Bearer {key}"), "code": key, "status": key}})
                    .to_string()
                    .as_bytes(),
            ),
            "type" => http(
                "401 Unauthorized",
                &[("content-type", "application/json")],
                serde_json::json!({"type": "error", "error": {"type": key, "message": "bad key"}})
                    .to_string()
                    .as_bytes(),
            ),
            "cut" => http(
                "401 Unauthorized",
                &[("content-type", "text/plain")],
                key_at_the_cut(&key).as_bytes(),
            ),
            "headers" => http(
                "200 OK",
                &[
                    ("content-type", "text/event-stream"),
                    ("request-id", key.as_str()),
                    ("x-request-id", key.as_str()),
                    ("apim-request-id", key.as_str()),
                    ("x-goog-request-id", key.as_str()),
                    ("x-ms-region", key.as_str()),
                ],
                &stream(style, "headers answer"),
            ),
            "midstream" => sse(&midstream_error(style, &key, &format!("upstream said Bearer {key}"))),
            // A gateway that echoes the request headers into the answer.
            "echo" => sse(&stream(style, &format!("your headers: key={key} end"))),
            other => http("404 Not Found", &[], format!("no mode {other}").as_bytes()),
        }
    })
    .await;
    let data = tempfile::tempdir().expect("tempdir");
    let file = write_targets(
        data.path(),
        &four_clouds(
            &server.base_url,
            &["code", "type", "cut", "headers", "midstream", "echo"],
        ),
    );
    let env = key_env();
    let mut outputs = Vec::new();
    for extra in [&[][..], &["--json"][..], &["--events"][..]] {
        let mut args = vec!["run", "--targets", file.as_str(), "--retries", "0"];
        args.extend_from_slice(extra);
        args.push("secret test");
        let output = cli(data.path(), &args, &env, None).await;
        assert_exit(&output, 0);
        outputs.push((format!("run {extra:?}"), output));
    }
    assert!(
        stdout(&outputs[0].1).contains("headers answer"),
        "{}",
        stdout(&outputs[0].1)
    );
    let list = cli(data.path(), &["runs", "list", "--json"], &[], None).await;
    let runs: serde_json::Value = serde_json::from_slice(&list.stdout).expect("runs json");
    let run_id = runs[0]["id"].as_str().expect("run id").to_owned();
    let exports = data.path().join("exports");
    std::fs::create_dir(&exports).expect("exports dir");
    for format in ["md", "csv", "json", "html"] {
        let path = exports.join(format!("report.{format}"));
        let path = path.to_str().expect("utf8");
        let output = cli(
            data.path(),
            &["export", &run_id, "--format", format, "-o", path],
            &[],
            None,
        )
        .await;
        assert_exit(&output, 0);
        outputs.push((format!("export {format}"), output));
        let output = cli(data.path(), &["export", &run_id, "--format", format], &[], None).await;
        outputs.push((format!("export {format} to stdout"), output));
    }
    for args in [
        vec!["runs", "show", run_id.as_str()],
        vec!["runs", "show", "--json", run_id.as_str()],
        vec!["search", "bad"],
        vec!["search", "so far"],
        vec!["search", "headers"],
    ] {
        let output = cli(data.path(), &args, &[], None).await;
        outputs.push((format!("{args:?}"), output));
    }
    // The recorded error still says what happened, without the key.
    let shown = stdout(&outputs[1].1);
    assert!(shown.contains("[redacted]"), "{shown}");

    let mut files = Vec::new();
    for entry in walk(data.path()) {
        let bytes = std::fs::read(&entry).expect("read");
        files.push((entry.display().to_string(), bytes));
    }
    assert!(
        files
            .iter()
            .any(|(name, _)| name.ends_with("modelbench.db-wal") || name.ends_with("modelbench.db")),
        "the database files are checked"
    );
    for key in KEYS {
        // The whole key, and the first 8 characters of what follows its public prefix.
        let prefix = &key[..key.len().min(10)];
        for needle in [key, prefix] {
            for (what, output) in &outputs {
                for (stream, bytes) in [("stdout", &output.stdout), ("stderr", &output.stderr)] {
                    assert!(
                        find(bytes, needle.as_bytes()).is_none(),
                        "{what} {stream} holds '{needle}':\n{}",
                        String::from_utf8_lossy(bytes)
                    );
                }
            }
            for (name, bytes) in &files {
                assert!(find(bytes, needle.as_bytes()).is_none(), "{name} holds '{needle}'");
            }
        }
    }
}

fn walk(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).expect("read dir") {
        let path = entry.expect("entry").path();
        if path.is_dir() {
            files.extend(walk(&path));
        } else {
            files.push(path);
        }
    }
    files
}

/// §3: a 200 that is a proxy's HTML page, or a gzip body nobody asked for, is reported as what it
/// is (content type, encoding, the start of the body) rather than as a stream that ended early.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bodies_that_are_not_streams_are_named() {
    let server = Hostile::start(|request| match mode(request).as_str() {
        "html" => http(
            "200 OK",
            &[("content-type", "text/html; charset=utf-8")],
            b"<html><head><title>Sign in</title></head><body>Please log in to the \x1b[2Jproxy</body></html>",
        ),
        _ => http(
            "200 OK",
            &[("content-type", "text/event-stream"), ("content-encoding", "gzip")],
            &[0x1f, 0x8b, 0x08, 0x00, 0xde, 0xad, 0xbe, 0xef, 0x00, 0xff, 0x13, 0x37],
        ),
    })
    .await;
    let data = tempfile::tempdir().expect("tempdir");
    let base = &server.base_url;
    let file = write_targets(
        data.path(),
        &[
            table("html", "openai", "html", base),
            table("gzip", "anthropic", "gzip", base),
        ]
        .concat(),
    );
    let output = cli(
        data.path(),
        &["run", "--targets", &file, "--retries", "0", "--json", "hi"],
        &key_env(),
        None,
    )
    .await;
    assert_exit(&output, 0);
    let document: serde_json::Value = serde_json::from_slice(&output.stdout).expect("json");
    let error = |target: &str| {
        document["results"]
            .as_array()
            .expect("results")
            .iter()
            .find(|result| result["target"] == target)
            .expect("result")["error"]["message"]
            .as_str()
            .expect("error message")
            .to_owned()
    };
    let html = error("html");
    assert!(html.contains("text/html"), "{html}");
    assert!(html.contains("Please log in"), "{html}");
    assert!(!html.contains("[DONE]") && !html.contains('\x1b'), "{html}");
    let gzip = error("gzip");
    assert!(gzip.contains("gzip"), "{gzip}");
    assert!(!gzip.contains("ended before"), "{gzip}");
}

/// A data dir with one stored run (an answer starting with a formula), its id, and the server.
async fn one_run() -> (Hostile, tempfile::TempDir, String) {
    let server =
        Hostile::start(|request| sse(&stream(style(request), "=HYPERLINK(\"http://evil.example/\",\"x\")"))).await;
    let data = tempfile::tempdir().expect("tempdir");
    let file = write_targets(data.path(), &table("oa", "openai", "normal", &server.base_url));
    let output = cli(
        data.path(),
        &["run", "--targets", &file, "--json", "hi"],
        &key_env(),
        None,
    )
    .await;
    assert_exit(&output, 0);
    let document: serde_json::Value = serde_json::from_slice(&output.stdout).expect("json");
    let run_id = document["run_id"].as_str().expect("run id").to_owned();
    (server, data, run_id)
}

/// §6b: `export -o` refuses an existing file unless `--force`, never writes through a symlink,
/// and never writes onto the database or its `-wal`/`-shm`, however the path is spelled.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn export_never_overwrites_silently_follows_symlinks_or_hits_the_database() {
    let (_server, data, run_id) = one_run().await;
    let dir = data.path();
    let export = |path: &Path, force: bool| {
        let path = path.to_str().expect("utf8").to_owned();
        let run_id = run_id.clone();
        async move {
            let mut args = vec!["export", run_id.as_str(), "--format", "md", "-o", path.as_str()];
            if force {
                args.push("--force");
            }
            cli(dir, &args, &[], None).await
        }
    };

    let existing = dir.join("existing.txt");
    std::fs::write(&existing, "precious data").expect("write");
    let output = export(&existing, false).await;
    assert_exit(&output, 2);
    assert!(
        stderr(&output).contains("already exists") && stderr(&output).contains("--force"),
        "{}",
        stderr(&output)
    );
    assert_eq!(std::fs::read_to_string(&existing).expect("read"), "precious data");
    let output = export(&existing, true).await;
    assert_exit(&output, 0);
    assert!(std::fs::read_to_string(&existing).expect("read").contains("HYPERLINK"));

    let victim = dir.join("victim.txt");
    std::fs::write(&victim, "victim data").expect("write");
    let link = dir.join("link.md");
    std::os::unix::fs::symlink(&victim, &link).expect("symlink");
    let output = export(&link, false).await;
    assert_exit(&output, 2);
    assert_eq!(std::fs::read_to_string(&victim).expect("read"), "victim data");
    let output = export(&link, true).await;
    assert_eq!(
        std::fs::read_to_string(&victim).expect("read"),
        "victim data",
        "{}",
        stderr(&output)
    );
    // With --force the link itself is replaced by the report, never its target.
    if output.status.success() {
        assert!(!std::fs::symlink_metadata(&link).expect("link").file_type().is_symlink());
    }

    let fresh = dir.join("fresh.md");
    let output = export(&fresh, false).await;
    assert_exit(&output, 0);
    assert!(std::fs::read_to_string(&fresh).expect("read").contains("HYPERLINK"));

    let database = dir.join("modelbench.db");
    let before = std::fs::read(&database).expect("db");
    let database_link = dir.join("db-link.md");
    std::os::unix::fs::symlink(&database, &database_link).expect("symlink");
    let hard_link = dir.join("db-hard-link.md");
    std::fs::hard_link(&database, &hard_link).expect("hard link");
    let spelled = dir.join("exports").join("..").join("modelbench.db");
    std::fs::create_dir(dir.join("exports")).expect("dir");
    for path in [
        database.clone(),
        dir.join("modelbench.db-wal"),
        dir.join("modelbench.db-shm"),
        spelled,
        database_link,
        hard_link,
    ] {
        for force in [false, true] {
            let output = export(&path, force).await;
            assert_exit(&output, 2);
            assert!(
                stderr(&output).contains("database"),
                "{}: {}",
                path.display(),
                stderr(&output)
            );
        }
    }
    assert_eq!(std::fs::read(&database).expect("db"), before);
    let list = cli(dir, &["runs", "list", "--json"], &[], None).await;
    assert_exit(&list, 0);
}

/// §6a: CSV cells that a spreadsheet would run as a formula are written as text.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn csv_export_defuses_formulas() {
    let (_server, data, run_id) = one_run().await;
    let output = cli(data.path(), &["export", &run_id, "--format", "csv"], &[], None).await;
    assert_exit(&output, 0);
    let csv = stdout(&output);
    assert!(csv.contains("\"'=HYPERLINK("), "{csv}");
    assert!(
        !csv.contains(",\"=HYPERLINK(") && !csv.contains(",=HYPERLINK("),
        "{csv}"
    );
}

/// §4: input that would silently do the wrong thing is refused before anything is sent.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_numbers_and_headers_are_refused_before_anything_is_sent() {
    let server = Hostile::start(|request| sse(&stream(style(request), "answer"))).await;
    let data = tempfile::tempdir().expect("tempdir");
    let base = &server.base_url;
    let file = write_targets(data.path(), &table("oa", "openai", "normal", base));
    let env = key_env();
    for (flags, expected) in [
        (vec!["--repeat", "0"], "--repeat"),
        (vec!["--concurrency", "0"], "--concurrency"),
        (vec!["--provider-concurrency", "openai=0"], "--provider-concurrency"),
        (vec!["--total-timeout-ms", "0"], "--total-timeout-ms"),
        (vec!["--first-token-timeout-ms", "0"], "--first-token-timeout-ms"),
        (vec!["--temperature", "NaN"], "--temperature"),
        (vec!["--temperature", "inf"], "--temperature"),
        (vec!["--top-p", "inf"], "--top-p"),
    ] {
        let mut args = vec!["run", "--targets", file.as_str()];
        args.extend_from_slice(&flags);
        args.push("hi");
        let output = cli(data.path(), &args, &env, None).await;
        assert_exit(&output, 2);
        assert!(stderr(&output).contains(expected), "{flags:?}: {}", stderr(&output));
    }
    for (name, extra) in [
        ("bad header name", "headers = { \"bad header\\n\" = \"x\" }"),
        ("bad header value", "headers = { \"x-ok\" = \"a\\r\\nx-injected: 1\" }"),
        ("zero total timeout", "timeouts = { total_ms = 0 }"),
    ] {
        let file = data.path().join("bad.toml");
        std::fs::write(&file, format!("{}{extra}\n", table("bad", "openai", "normal", base))).expect("write");
        let output = cli(
            data.path(),
            &["run", "--targets", file.to_str().expect("utf8"), "hi"],
            &env,
            None,
        )
        .await;
        assert_exit(&output, 2);
        assert!(stderr(&output).contains("target 'bad'"), "{name}: {}", stderr(&output));
    }
    assert!(server.requests().is_empty(), "{:#?}", server.requests());
}

/// §4: a byte-order mark does not turn a JSONL prompts file (or a targets file) into something
/// else; an empty prompt is named by its line; error text is not repeated.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn byte_order_marks_and_error_text() {
    let server = Hostile::start(|request| {
        let body = request.split("\r\n\r\n").nth(1).unwrap_or_default().to_owned();
        sse(&stream(style(request), &format!("echo {body}")))
    })
    .await;
    let data = tempfile::tempdir().expect("tempdir");
    let file = data.path().join("targets.toml");
    std::fs::write(
        &file,
        format!(
            "\u{feff}{}",
            table("oa", "openai", "normal", &server.base_url).trim_start()
        ),
    )
    .expect("write");
    let file = file.to_str().expect("utf8");
    let prompts = data.path().join("p.jsonl");
    std::fs::write(&prompts, "\u{feff}{\"prompt\":\"with bom\"}\n{\"prompt\":\"second\"}\n").expect("write");
    let output = cli(
        data.path(),
        &[
            "run",
            "--targets",
            file,
            "--prompts",
            prompts.to_str().expect("utf8"),
            "--json",
        ],
        &key_env(),
        None,
    )
    .await;
    assert_exit(&output, 0);
    let requests = server.requests();
    assert_eq!(requests.len(), 2);
    assert!(
        requests
            .iter()
            .any(|request| request.contains("\"content\":\"with bom\"")),
        "{requests:#?}"
    );

    let empty = data.path().join("empty.jsonl");
    std::fs::write(&empty, "{\"prompt\":\"fine\"}\n{\"prompt\":\"   \"}\n").expect("write");
    let output = cli(
        data.path(),
        &["run", "--targets", file, "--prompts", empty.to_str().expect("utf8")],
        &key_env(),
        None,
    )
    .await;
    assert_exit(&output, 2);
    assert!(stderr(&output).contains("line 2"), "{}", stderr(&output));

    let not_a_dir = data.path().join("afile");
    std::fs::write(&not_a_dir, "x").expect("write");
    let output = cli(&not_a_dir, &["runs", "list"], &[], None).await;
    assert_exit(&output, 2);
    assert!(stderr(&output).contains("is not a directory"), "{}", stderr(&output));

    let output = cli(data.path(), &["runs", "list", "--limit", "0"], &[], None).await;
    assert!(!stdout(&output).contains("no runs yet"), "{}", stdout(&output));
    assert!(
        !output.status.success() || stdout(&output).is_empty(),
        "{}",
        stdout(&output)
    );
}

/// §4: messages do not say the same thing twice (`database is locked: database is locked`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn error_text_is_not_repeated() {
    let data = tempfile::tempdir().expect("tempdir");
    let output = cli(data.path(), &["runs", "list"], &[], None).await;
    assert_exit(&output, 0);
    // Another process holds the write lock for longer than the busy timeout.
    let connection = rusqlite::Connection::open(data.path().join("modelbench.db")).expect("open");
    connection.execute_batch("BEGIN IMMEDIATE").expect("lock");
    let output = cli(
        data.path(),
        &["prices", "set", "openai", "x", "--input", "1", "--output", "2"],
        &[],
        None,
    )
    .await;
    connection.execute_batch("ROLLBACK").expect("unlock");
    assert_exit(&output, 2);
    let message = stderr(&output);
    assert!(message.contains("locked"), "{message}");
    let parts: Vec<&str> = message.trim().split(": ").collect();
    for pair in parts.windows(2) {
        assert_ne!(pair[0], pair[1], "repeated text in {message}");
    }
}
