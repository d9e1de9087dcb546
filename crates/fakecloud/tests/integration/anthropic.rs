//! Anthropic Messages over HTTP.

use serde_json::json;

use crate::support::*;

fn text_of(events: &[Event]) -> String {
    events
        .iter()
        .filter(|event| event.name.as_deref() == Some("content_block_delta"))
        .map(|event| {
            let data = event.json();
            assert_eq!(data["delta"]["type"], "text_delta");
            data["delta"]["text"].as_str().expect("text").to_owned()
        })
        .collect()
}

#[tokio::test]
async fn streams_the_full_event_sequence() {
    let cloud = start().await;
    let reply = post(
        &cloud,
        "/v1/messages",
        ANTHROPIC,
        &anthropic_body("claude-sonnet-4-5~tokens=3", 100),
    )
    .await;
    assert_eq!(reply.status, 200);
    assert!(reply.header("request-id").starts_with("req_"));
    assert!(!reply.header("anthropic-ratelimit-requests-reset").is_empty());
    let events = sse_events(reply.text());
    assert_eq!(event_names(&events), anthropic_event_names(3));
    for event in &events {
        assert_eq!(event.json()["type"], event.name.as_deref().expect("named"));
    }
    // Real payloads pad before the closing brace; a real JSON parser copes.
    assert!(events[0].data.ends_with(" }"));

    let start_event = events[0].json();
    let message = &start_event["message"];
    assert!(message["id"].as_str().expect("id").starts_with("msg_"));
    assert_eq!(message["model"], "claude-sonnet-4-5");
    assert_eq!(message["role"], "assistant");
    assert_eq!(message["content"], json!([]));
    assert!(message["stop_reason"].is_null());
    assert_eq!(message["usage"]["input_tokens"], 5);
    assert_eq!(message["usage"]["output_tokens"], 1);
    assert_eq!(events[1].json()["content_block"], json!({"type": "text", "text": ""}));

    assert_eq!(text_of(&events), expected_text("tokens=3"));
    let delta = events[7].json();
    assert_eq!(
        delta["delta"],
        json!({"stop_reason": "end_turn", "stop_sequence": null})
    );
    assert_eq!(delta["usage"]["output_tokens"], 3);
}

#[tokio::test]
async fn max_tokens_stops_with_max_tokens() {
    let cloud = start().await;
    let reply = post(&cloud, "/v1/messages", ANTHROPIC, &anthropic_body("claude", 2)).await;
    let events = sse_events(reply.text());
    assert_eq!(text_of(&events), expected_text("tokens=2"));
    let delta = events
        .iter()
        .find(|event| event.name.as_deref() == Some("message_delta"))
        .expect("message_delta")
        .json();
    assert_eq!(delta["delta"]["stop_reason"], "max_tokens");
    assert_eq!(delta["usage"]["output_tokens"], 2);
}

#[tokio::test]
async fn refusal_stop_reason_for_output_filter() {
    let cloud = start().await;
    let reply = post(
        &cloud,
        "/v1/messages",
        ANTHROPIC,
        &anthropic_body("claude~finish_content_filter=1", 50),
    )
    .await;
    assert!(reply.text().contains(r#""stop_reason":"refusal""#));
}

#[tokio::test]
async fn wrong_key_is_401_authentication_error() {
    let cloud = start().await;
    let reply = post(
        &cloud,
        "/v1/messages",
        &[("x-api-key", "wrong"), ("anthropic-version", "2023-06-01")],
        &anthropic_body("claude", 10),
    )
    .await;
    assert_eq!(reply.status, 401);
    let body = reply.json();
    assert_eq!(body["type"], "error");
    assert_eq!(
        body["error"],
        json!({"type": "authentication_error", "message": "invalid x-api-key"})
    );
    assert!(body["request_id"].as_str().expect("request id").starts_with("req_"));
}

#[tokio::test]
async fn bad_requests_are_invalid_request_errors() {
    let cloud = start().await;
    let mut no_max_tokens = anthropic_body("claude", 10);
    no_max_tokens.as_object_mut().expect("object").remove("max_tokens");
    let mut system_role = anthropic_body("claude", 10);
    system_role["messages"] = json!([{"role": "system", "content": "x"}, {"role": "user", "content": "y"}]);
    let mut empty = anthropic_body("claude", 10);
    empty["messages"] = json!([]);
    for body in [no_max_tokens, system_role, empty] {
        let reply = post(&cloud, "/v1/messages", ANTHROPIC, &body).await;
        assert_eq!(reply.status, 400, "{body}");
        assert_eq!(reply.json()["error"]["type"], "invalid_request_error");
    }
    let missing = post(&cloud, "/v1/messages", ANTHROPIC, &{
        let mut body = anthropic_body("claude", 10);
        body.as_object_mut().expect("object").remove("max_tokens");
        body
    })
    .await;
    assert_eq!(missing.json()["error"]["message"], "max_tokens: Field required");

    let malformed = post_raw(&cloud, "/v1/messages", ANTHROPIC, b"{,}".to_vec()).await;
    assert_eq!(malformed.status, 400);
    assert_eq!(malformed.json()["error"]["type"], "invalid_request_error");

    let no_version = post(
        &cloud,
        "/v1/messages",
        &[("x-api-key", KEY)],
        &anthropic_body("claude", 10),
    )
    .await;
    assert_eq!(no_version.status, 400);
    assert_eq!(
        no_version.json()["error"]["message"],
        "anthropic-version: header is required"
    );
}

#[tokio::test]
async fn midstream_error_is_overloaded_without_message_stop() {
    let cloud = start().await;
    let reply = post(
        &cloud,
        "/v1/messages",
        ANTHROPIC,
        &anthropic_body("claude~midstream_error=2", 100),
    )
    .await;
    assert_eq!(reply.status, 200);
    let events = sse_events(reply.text());
    let last = events.last().expect("an event");
    assert_eq!(last.name.as_deref(), Some("error"));
    let error = last.json();
    assert_eq!(error["type"], "error");
    assert_eq!(
        error["error"],
        json!({"details": null, "type": "overloaded_error", "message": "Overloaded"})
    );
    assert_eq!(error["request_id"], reply.header("request-id"));
    assert!(!reply.text().contains("message_stop"));
    assert_eq!(text_of(&events), expected_text("tokens=2"));
}

#[tokio::test]
async fn overloaded_quota_and_rate_limit_statuses() {
    let cloud = start().await;
    let overloaded = post(
        &cloud,
        "/v1/messages",
        ANTHROPIC,
        &anthropic_body("claude~fail=529", 10),
    )
    .await;
    assert_eq!(overloaded.status, 529);
    assert_eq!(overloaded.json()["error"]["type"], "overloaded_error");

    let quota = post(
        &cloud,
        "/v1/messages",
        ANTHROPIC,
        &anthropic_body("claude~fail=quota", 10),
    )
    .await;
    assert_eq!(quota.status, 400);
    assert!(
        quota.json()["error"]["message"]
            .as_str()
            .expect("message")
            .contains("credit balance is too low")
    );

    let limited = post(
        &cloud,
        "/v1/messages",
        ANTHROPIC,
        &anthropic_body("claude~fail=429;retry_after_ms=1500", 10),
    )
    .await;
    assert_eq!(limited.status, 429);
    assert_eq!(limited.json()["error"]["type"], "rate_limit_error");
    assert_eq!(limited.header("retry-after"), "2");
    assert_eq!(limited.header("anthropic-ratelimit-requests-remaining"), "0");
}
