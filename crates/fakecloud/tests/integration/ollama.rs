//! Ollama `/api/chat` NDJSON over HTTP.

use fakecloud::{Config, Keys};
use serde_json::json;

use crate::support::*;

#[tokio::test]
async fn streams_lines_then_a_done_line() {
    let cloud = start().await;
    let reply = post(&cloud, "/api/chat", NO_HEADERS, &ollama_body("llama3~tokens=4")).await;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.header("content-type"), "application/x-ndjson");
    let lines = ndjson_lines(reply.text());
    assert_eq!(lines.len(), 5);
    let mut text = String::new();
    for line in &lines[..4] {
        assert_eq!(line["model"], "llama3");
        assert_eq!(line["done"], false);
        assert_eq!(line["message"]["role"], "assistant");
        assert!(line["created_at"].as_str().expect("created_at").ends_with('Z'));
        text.push_str(line["message"]["content"].as_str().expect("content"));
    }
    assert_eq!(text, expected_text("tokens=4"));
    let done = &lines[4];
    assert_eq!(done["done"], true);
    assert_eq!(done["done_reason"], "stop");
    assert_eq!(done["message"]["content"], "");
    assert_eq!(done["prompt_eval_count"], 3);
    assert_eq!(done["eval_count"], 4);
    for field in [
        "total_duration",
        "load_duration",
        "prompt_eval_duration",
        "eval_duration",
    ] {
        assert!(done[field].is_u64(), "{field}");
    }
}

#[tokio::test]
async fn num_predict_ends_with_length() {
    let cloud = start().await;
    let mut body = ollama_body("llama3");
    body["options"] = json!({"num_predict": 2, "temperature": 0});
    let reply = post(&cloud, "/api/chat", NO_HEADERS, &body).await;
    let lines = ndjson_lines(reply.text());
    assert_eq!(lines.len(), 3);
    assert_eq!(lines[2]["done_reason"], "length");
    assert_eq!(lines[2]["eval_count"], 2);
}

#[tokio::test]
async fn malformed_and_invalid_bodies_are_400() {
    let cloud = start().await;
    let malformed = post_raw(&cloud, "/api/chat", NO_HEADERS, b"nope".to_vec()).await;
    assert_eq!(malformed.status, 400);
    assert!(malformed.json()["error"].is_string());
    let no_model = post(
        &cloud,
        "/api/chat",
        NO_HEADERS,
        &json!({"messages": [{"role": "user", "content": "x"}]}),
    )
    .await;
    assert_eq!(no_model.status, 400);
    assert_eq!(no_model.json(), json!({"error": "model is required"}));
    let no_messages = post(
        &cloud,
        "/api/chat",
        NO_HEADERS,
        &json!({"model": "llama3", "messages": []}),
    )
    .await;
    assert_eq!(no_messages.status, 400);
}

#[tokio::test]
async fn a_configured_key_is_required() {
    let cloud = start_with(Config {
        keys: Keys {
            ollama: Some("ollama-secret".to_owned()),
            ..Keys::default()
        },
        ..Config::default()
    })
    .await;
    let without = post(&cloud, "/api/chat", NO_HEADERS, &ollama_body("llama3")).await;
    assert_eq!(without.status, 401);
    assert_eq!(without.json(), json!({"error": "unauthorized"}));
    let with = post(
        &cloud,
        "/api/chat",
        &[("authorization", "Bearer ollama-secret")],
        &ollama_body("llama3"),
    )
    .await;
    assert_eq!(with.status, 200);
}

#[tokio::test]
async fn midstream_error_is_a_bare_error_line() {
    let cloud = start().await;
    let reply = post(
        &cloud,
        "/api/chat",
        NO_HEADERS,
        &ollama_body("llama3~midstream_error=1"),
    )
    .await;
    assert_eq!(reply.status, 200);
    let lines = ndjson_lines(reply.text());
    assert_eq!(lines.len(), 2);
    let error = lines[1].as_object().expect("object");
    assert_eq!(error.len(), 1, "only an error key: {error:?}");
    assert!(error["error"].is_string());
}

#[tokio::test]
async fn status_failures_use_bare_error_objects() {
    let cloud = start().await;
    let busy = post(&cloud, "/api/chat", NO_HEADERS, &ollama_body("llama3~fail=503")).await;
    assert_eq!(busy.status, 503);
    assert!(busy.json()["error"].is_string());
    let quota = post(&cloud, "/api/chat", NO_HEADERS, &ollama_body("llama3~fail=quota")).await;
    assert_eq!(quota.status, 429);
}
