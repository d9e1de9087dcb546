//! The `fakecloud` binary: announces its address, serves, stops on SIGTERM.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use crate::support::*;

/// Kills the child if the test fails before stopping it properly.
struct ChildGuard(Option<Child>);

impl Drop for ChildGuard {
    fn drop(&mut self) {
        if let Some(child) = &mut self.0 {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

#[tokio::test]
async fn binary_prints_its_address_and_serves_scenarios() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_fakecloud"))
        .args([
            "--port",
            "0",
            "--key",
            "k-123",
            "--scenario",
            "short=tokens=2",
            "--default",
            "tokens=3",
        ])
        .stdout(Stdio::piped())
        .spawn()
        .expect("binary starts");
    let stdout = child.stdout.take().expect("stdout");
    let mut guard = ChildGuard(Some(child));
    let line = tokio::time::timeout(
        Duration::from_secs(10),
        tokio::task::spawn_blocking(move || {
            let mut line = String::new();
            BufReader::new(stdout).read_line(&mut line).expect("reads stdout");
            line
        }),
    )
    .await
    .expect("announces in time")
    .expect("reader task");
    let base_url = line
        .trim_end()
        .strip_prefix("fakecloud listening on ")
        .unwrap_or_else(|| panic!("unexpected line: {line}"))
        .to_owned();
    assert!(base_url.starts_with("http://127.0.0.1:"));

    let send = |model: &'static str, key: &'static str| {
        let url = format!("{base_url}/v1/chat/completions");
        async move {
            let response = client()
                .post(url)
                .header("authorization", format!("Bearer {key}"))
                .json(&chat_body(model))
                .send()
                .await
                .expect("answered");
            let status = response.status().as_u16();
            (status, response.text().await.expect("body"))
        }
    };
    let (status, body) = send("short", "k-123").await;
    assert_eq!(status, 200);
    assert_eq!(chat_text(&sse_events(&body)), expected_text("tokens=2"));
    let (_, body) = send("other", "k-123").await;
    assert_eq!(chat_text(&sse_events(&body)), expected_text("tokens=3"));
    let (status, _) = send("short", "fake-key").await;
    assert_eq!(status, 401);

    #[cfg(unix)]
    {
        let mut child = guard.0.take().expect("child");
        let status = Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status()
            .expect("kill runs");
        assert!(status.success());
        let exit = tokio::time::timeout(
            Duration::from_secs(10),
            tokio::task::spawn_blocking(move || child.wait()),
        )
        .await
        .expect("exits on SIGTERM")
        .expect("waiter task")
        .expect("exit status");
        assert!(exit.success(), "{exit:?}");
    }
}

#[test]
fn help_lists_every_route_and_the_aws_credentials() {
    let output = Command::new(env!("CARGO_BIN_EXE_fakecloud"))
        .arg("--help")
        .output()
        .expect("binary runs");
    assert!(output.status.success());
    let help = String::from_utf8(output.stdout).expect("UTF-8");
    for expected in [
        "/v1/chat/completions",
        "/v1/messages",
        "/api/chat",
        "/model/{modelId}/converse-stream",
        "/model/{modelId}/invoke-with-response-stream",
        "/v1beta/models/{model}:streamGenerateContent?alt=sse",
        "publishers/google/models/{model}:streamGenerateContent?alt=sse",
        "publishers/anthropic/models/{model}:streamRawPredict",
        fakecloud::FAKE_AWS_ACCESS_KEY_ID,
        fakecloud::FAKE_AWS_SECRET_ACCESS_KEY,
        "--aws-secret-access-key",
    ] {
        assert!(help.contains(expected), "--help lacks {expected}:\n{help}");
    }
}
