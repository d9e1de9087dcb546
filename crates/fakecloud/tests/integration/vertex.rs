//! Vertex AI over HTTP: Gemini (`:streamGenerateContent`) and Claude
//! (`:streamRawPredict`), both behind a Bearer token.

use serde_json::{Value, json};

use crate::support::*;

const PROJECT: &str = "/v1/projects/acme-evals/locations";

fn gemini_path(model: &str) -> String {
    format!("{PROJECT}/us-central1/publishers/google/models/{model}:streamGenerateContent?alt=sse")
}

fn claude_path(model: &str) -> String {
    format!("{PROJECT}/us-east5/publishers/anthropic/models/{model}:streamRawPredict")
}

fn claude_body(max_tokens: u64) -> Value {
    json!({
        "anthropic_version": "vertex-2023-10-16",
        "max_tokens": max_tokens,
        "stream": true,
        "messages": [{"role": "user", "content": "Say something short"}]
    })
}

#[tokio::test]
async fn gemini_on_vertex_adds_create_time_and_traffic_type() {
    let cloud = start().await;
    let reply = post(
        &cloud,
        &gemini_path("gemini-2.5-pro~tokens=2"),
        VERTEX,
        &gemini_body("hi"),
    )
    .await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    // Vertex writes `role` before `parts` and no candidate index.
    assert!(
        reply
            .text()
            .starts_with(r#"data: {"candidates": [{"content": {"role": "model","parts": [{"text": "Lorem"}]}}],"#),
        "{}",
        reply.text()
    );
    let events = google_events(reply.text());
    assert_eq!(events.len(), 2);
    let text: String = events
        .iter()
        .map(|event| {
            event["candidates"][0]["content"]["parts"][0]["text"]
                .as_str()
                .expect("text")
        })
        .collect();
    assert_eq!(text, expected_text("tokens=2"));
    let last = &events[1];
    assert_eq!(last["candidates"][0]["finishReason"], "STOP");
    assert_eq!(last["usageMetadata"]["trafficType"], "ON_DEMAND");
    assert_eq!(last["usageMetadata"]["candidatesTokenCount"], 2);
    assert_eq!(last["modelVersion"], "gemini-2.5-pro");
    let create_time = last["createTime"].as_str().expect("createTime");
    // 2026-03-21T18:11:55.919086Z
    assert_eq!(create_time.len(), 27, "{create_time}");
    assert!(create_time.ends_with('Z') && create_time.as_bytes()[19] == b'.');

    let record = &cloud.requests()[0];
    assert_eq!(record.provider, "vertex");
    assert_eq!(record.model, "gemini-2.5-pro~tokens=2");
    assert_eq!(record.credential.as_deref(), Some("bearer"));
    assert!(record.authenticated);
}

#[tokio::test]
async fn claude_on_vertex_streams_anthropic_sse() {
    let cloud = start().await;
    let reply = post(
        &cloud,
        &claude_path("claude-sonnet-4-5@20250929~tokens=3"),
        VERTEX,
        &claude_body(100),
    )
    .await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    assert!(reply.header("content-type").starts_with("text/event-stream"));
    let events = sse_events(reply.text());
    assert_eq!(event_names(&events), anthropic_event_names(3));
    let message = &events[0].json()["message"];
    assert_eq!(message["model"], "claude-sonnet-4-5@20250929");
    assert!(message["id"].as_str().expect("id").starts_with("msg_vrtx_"));
    let text: String = events
        .iter()
        .filter(|event| event.name.as_deref() == Some("content_block_delta"))
        .map(|event| event.json()["delta"]["text"].as_str().expect("text").to_owned())
        .collect();
    assert_eq!(text, expected_text("tokens=3"));
    assert_eq!(events[7].json()["delta"]["stop_reason"], "end_turn");
    assert_eq!(cloud.requests()[0].model, "claude-sonnet-4-5@20250929~tokens=3");
}

#[tokio::test]
async fn claude_on_vertex_wants_its_own_version_and_no_model() {
    let cloud = start().await;
    let mut bedrock_version = claude_body(10);
    bedrock_version["anthropic_version"] = json!("bedrock-2023-05-31");
    let reply = post(&cloud, &claude_path("claude-opus-4-7"), VERTEX, &bedrock_version).await;
    assert_eq!(reply.status, 400);
    assert_eq!(
        reply.json()["error"],
        json!({"type": "invalid_request_error", "message": "anthropic_version: Input should be 'vertex-2023-10-16'"})
    );
    let mut with_model = claude_body(10);
    with_model["model"] = json!("claude-opus-4-7");
    let reply = post(&cloud, &claude_path("claude-opus-4-7"), VERTEX, &with_model).await;
    assert_eq!(reply.status, 400);
    assert_eq!(reply.json()["error"]["type"], "invalid_request_error");
}

#[tokio::test]
async fn a_missing_or_wrong_token_is_401_unauthenticated() {
    let cloud = start().await;
    for path in [gemini_path("gemini-2.5-pro"), claude_path("claude-opus-4-7")] {
        let body = if path.contains("anthropic") {
            claude_body(10)
        } else {
            gemini_body("hi")
        };
        let missing = post(&cloud, &path, NO_HEADERS, &body).await;
        assert_eq!(missing.status, 401, "{path}");
        let error = &missing.json()["error"];
        assert_eq!(error["status"], "UNAUTHENTICATED");
        assert_eq!(error["details"][0]["reason"], "CREDENTIALS_MISSING");
        let wrong = post(&cloud, &path, &[("authorization", "Bearer ya29.nope")], &body).await;
        assert_eq!(wrong.status, 401, "{path}");
        assert_eq!(
            wrong.json()["error"]["details"][0]["reason"],
            "ACCESS_TOKEN_TYPE_UNSUPPORTED"
        );
        assert!(wrong.header("content-type").starts_with("application/json"));
    }
    assert!(cloud.requests().iter().all(|record| !record.authenticated));
}

#[tokio::test]
async fn claude_rate_limits_are_vertex_quota_and_overloads_are_claudes() {
    let cloud = start().await;
    let limited = post(
        &cloud,
        &claude_path("claude-opus-4-7~fail=429"),
        VERTEX,
        &claude_body(10),
    )
    .await;
    assert_eq!(limited.status, 429);
    assert_eq!(limited.json()["error"]["status"], "RESOURCE_EXHAUSTED");

    let overloaded = post(
        &cloud,
        &claude_path("claude-opus-4-7~fail=529"),
        VERTEX,
        &claude_body(10),
    )
    .await;
    assert_eq!(overloaded.status, 529);
    assert_eq!(overloaded.json()["error"]["type"], "overloaded_error");

    let midstream = post(
        &cloud,
        &claude_path("claude-opus-4-7~midstream_error=1"),
        VERTEX,
        &claude_body(10),
    )
    .await;
    let events = sse_events(midstream.text());
    let last = events.last().expect("an event");
    assert_eq!(last.name.as_deref(), Some("error"));
    assert_eq!(last.json()["error"]["type"], "overloaded_error");
}

#[tokio::test]
async fn other_publishers_methods_and_paths_are_not_found() {
    let cloud = start().await;
    for path in [
        format!("{PROJECT}/us-central1/publishers/meta/models/llama-4:streamGenerateContent?alt=sse"),
        format!("{PROJECT}/us-east5/publishers/anthropic/models/claude-opus-4-7:rawPredict"),
        "/v1/projects/acme-evals/models/gemini:streamGenerateContent?alt=sse".to_owned(),
    ] {
        let reply = post(&cloud, &path, VERTEX, &gemini_body("hi")).await;
        assert_eq!(reply.status, 404, "{path}");
        assert_eq!(reply.json()["error"]["status"], "NOT_FOUND", "{path}");
    }
    // The v1beta1 surface is served too.
    let beta = gemini_path("gemini-2.5-pro").replacen("/v1/", "/v1beta1/", 1);
    assert_eq!(post(&cloud, &beta, VERTEX, &gemini_body("hi")).await.status, 200);
}
