//! OpenAI Chat Completions and Responses over HTTP.

use serde_json::json;

use crate::support::*;

#[tokio::test]
async fn chat_streams_role_tokens_finish_usage_and_done() {
    let cloud = start().await;
    let reply = post(&cloud, "/v1/chat/completions", OPENAI, &chat_body("gpt-4o-mini")).await;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.header("content-type"), "text/event-stream; charset=utf-8");
    assert!(reply.header("x-request-id").starts_with("req_"));
    assert_eq!(reply.header("x-ratelimit-limit-requests"), "10000");
    assert!(reply.text().ends_with("data: [DONE]\n\n"));
    assert!(!reply.text().contains("event:"), "chat uses data-only events");

    let events = sse_events(reply.text());
    let first = events[0].json();
    assert_eq!(first["object"], "chat.completion.chunk");
    assert_eq!(first["model"], "gpt-4o-mini");
    assert!(first["id"].as_str().expect("id").starts_with("chatcmpl-"));
    assert_eq!(
        first["choices"][0]["delta"],
        json!({"role": "assistant", "content": "", "refusal": null})
    );
    assert!(first["usage"].is_null() && first.as_object().expect("object").contains_key("usage"));

    assert_eq!(chat_text(&events), expected_text(""));
    assert_eq!(chat_finish_reason(&events).as_deref(), Some("stop"));
    let finish = &events[events.len() - 3].json();
    assert_eq!(finish["choices"][0]["delta"], json!({}));

    let usage_chunk = events[events.len() - 2].json();
    assert_eq!(usage_chunk["choices"], json!([]));
    let usage = &usage_chunk["usage"];
    // "You are terse." + "Say something short" = 6 words.
    assert_eq!(usage["prompt_tokens"], 6);
    assert_eq!(usage["completion_tokens"], 8);
    assert_eq!(usage["total_tokens"], 14);
    assert_eq!(usage["prompt_tokens_details"]["cached_tokens"], 0);
    assert_eq!(usage["completion_tokens_details"]["reasoning_tokens"], 0);
}

#[tokio::test]
async fn chat_without_include_usage_has_no_usage_key() {
    let cloud = start().await;
    let mut body = chat_body("gpt-4o");
    body.as_object_mut().expect("object").remove("stream_options");
    let reply = post(&cloud, "/v1/chat/completions", OPENAI, &body).await;
    assert_eq!(reply.status, 200);
    assert!(!reply.text().contains("\"usage\""));
    assert!(reply.text().ends_with("data: [DONE]\n\n"));
}

#[tokio::test]
async fn chat_honours_max_completion_tokens_and_max_tokens() {
    let cloud = start().await;
    for field in ["max_completion_tokens", "max_tokens"] {
        let mut body = chat_body("gpt-4o~tokens=10");
        body[field] = json!(3);
        let reply = post(&cloud, "/v1/chat/completions", OPENAI, &body).await;
        let events = sse_events(reply.text());
        assert_eq!(chat_text(&events), expected_text("tokens=3"), "{field}");
        assert_eq!(chat_finish_reason(&events).as_deref(), Some("length"));
        assert_eq!(events[events.len() - 2].json()["usage"]["completion_tokens"], 3);
    }
}

#[tokio::test]
async fn chat_wrong_or_missing_key_is_401_without_echoing_the_key() {
    let cloud = start().await;
    let wrong = post(
        &cloud,
        "/v1/chat/completions",
        &[("authorization", "Bearer sk-fake-wrong-key")],
        &chat_body("gpt-4o"),
    )
    .await;
    assert_eq!(wrong.status, 401);
    let error = &wrong.json()["error"];
    assert_eq!(error["code"], "invalid_api_key");
    assert_eq!(error["type"], "invalid_request_error");
    assert!(error["param"].is_null());
    let message = error["message"].as_str().expect("message");
    assert!(
        message.starts_with("Incorrect API key provided: sk-f***y."),
        "{message}"
    );
    assert!(!wrong.text().contains("sk-fake-wrong-key"));

    let missing = post(&cloud, "/v1/chat/completions", NO_HEADERS, &chat_body("gpt-4o")).await;
    assert_eq!(missing.status, 401);
    assert!(
        missing.json()["error"]["message"]
            .as_str()
            .expect("message")
            .contains("didn't provide an API key")
    );
}

#[tokio::test]
async fn chat_rejects_malformed_and_invalid_bodies() {
    let cloud = start().await;
    let malformed = post_raw(&cloud, "/v1/chat/completions", OPENAI, b"{not json".to_vec()).await;
    assert_eq!(malformed.status, 400);
    assert_eq!(malformed.json()["error"]["type"], "invalid_request_error");
    assert!(
        malformed.json()["error"]["message"]
            .as_str()
            .expect("message")
            .contains("could not parse the JSON body")
    );

    let cases = [
        (json!({"model": "m", "stream": true}), "messages"),
        (json!({"model": "m", "stream": true, "messages": []}), "messages"),
        (
            json!({"model": "m", "stream": true, "messages": [{"role": "robot", "content": "x"}]}),
            "messages[0].role",
        ),
        (
            json!({"model": "m", "messages": [{"role": "user", "content": "x"}]}),
            "stream",
        ),
        (
            json!({"model": "m", "stream": true, "temperature": 3, "messages": [{"role": "user", "content": "x"}]}),
            "temperature",
        ),
        (
            json!({"model": "m", "stream": true, "max_tokens": 0, "messages": [{"role": "user", "content": "x"}]}),
            "max_tokens",
        ),
    ];
    for (body, param) in cases {
        let reply = post(&cloud, "/v1/chat/completions", OPENAI, &body).await;
        assert_eq!(reply.status, 400, "{body}");
        assert_eq!(reply.json()["error"]["param"], param, "{body}");
    }
    let no_model = post(
        &cloud,
        "/v1/chat/completions",
        OPENAI,
        &json!({"stream": true, "messages": [{"role": "user", "content": "x"}]}),
    )
    .await;
    assert_eq!(no_model.status, 400);
    assert_eq!(
        no_model.json()["error"]["message"],
        "you must provide a model parameter"
    );
}

#[tokio::test]
async fn chat_midstream_error_has_no_done() {
    let cloud = start().await;
    let reply = post(
        &cloud,
        "/v1/chat/completions",
        OPENAI,
        &chat_body("gpt-4o~midstream_error=2"),
    )
    .await;
    assert_eq!(reply.status, 200);
    let events = sse_events(reply.text());
    assert_eq!(chat_text(&events[..events.len() - 1]), expected_text("tokens=2"));
    let error = events.last().expect("an event").json();
    assert_eq!(
        error,
        json!({"error": {"message": "The server had an error while processing your request. Sorry about that!", "type": "server_error", "param": null, "code": "server_error"}})
    );
    assert!(!reply.text().contains("[DONE]"));
}

#[tokio::test]
async fn chat_finish_content_filter() {
    let cloud = start().await;
    let reply = post(
        &cloud,
        "/v1/chat/completions",
        OPENAI,
        &chat_body("gpt-4o~finish_content_filter=3"),
    )
    .await;
    let events = sse_events(reply.text());
    assert_eq!(chat_text(&events), expected_text("tokens=3"));
    assert_eq!(chat_finish_reason(&events).as_deref(), Some("content_filter"));
    assert!(reply.text().ends_with("data: [DONE]\n\n"));
}

#[tokio::test]
async fn responses_streams_the_full_event_sequence() {
    let cloud = start().await;
    let reply = post(
        &cloud,
        "/v1/responses",
        OPENAI,
        &responses_body("gpt-4.1-nano~tokens=3"),
    )
    .await;
    assert_eq!(reply.status, 200);
    assert!(!reply.text().contains("[DONE]"));
    let events = sse_events(reply.text());
    let names: Vec<&str> = events
        .iter()
        .map(|event| event.name.as_deref().expect("named"))
        .collect();
    assert_eq!(
        names,
        [
            "response.created",
            "response.in_progress",
            "response.output_item.added",
            "response.content_part.added",
            "response.output_text.delta",
            "response.output_text.delta",
            "response.output_text.delta",
            "response.output_text.done",
            "response.content_part.done",
            "response.output_item.done",
            "response.completed",
        ]
    );
    for (index, event) in events.iter().enumerate() {
        let data = event.json();
        assert_eq!(data["type"], event.name.as_deref().expect("named"));
        assert_eq!(data["sequence_number"], index);
    }
    let deltas: String = events
        .iter()
        .filter(|event| event.name.as_deref() == Some("response.output_text.delta"))
        .map(|event| {
            let data = event.json();
            assert_eq!(data["output_index"], 0);
            assert_eq!(data["content_index"], 0);
            assert!(data["item_id"].as_str().expect("item id").starts_with("msg_"));
            data["delta"].as_str().expect("delta").to_owned()
        })
        .collect();
    assert_eq!(deltas, expected_text("tokens=3"));
    assert_eq!(events[7].json()["text"], expected_text("tokens=3"));

    let completed = events.last().expect("an event").json();
    let response = &completed["response"];
    assert_eq!(response["status"], "completed");
    assert_eq!(response["model"], "gpt-4.1-nano");
    assert_eq!(response["instructions"], "Be terse.");
    assert_eq!(
        response["usage"],
        json!({"input_tokens": 5, "input_tokens_details": {"cached_tokens": 0}, "output_tokens": 3, "output_tokens_details": {"reasoning_tokens": 0}, "total_tokens": 8})
    );
}

#[tokio::test]
async fn responses_max_output_tokens_ends_incomplete() {
    let cloud = start().await;
    let mut body = responses_body("gpt-4o");
    body["max_output_tokens"] = json!(2);
    let reply = post(&cloud, "/v1/responses", OPENAI, &body).await;
    let events = sse_events(reply.text());
    let last = events.last().expect("an event");
    assert_eq!(last.name.as_deref(), Some("response.incomplete"));
    let response = &last.json()["response"];
    assert_eq!(response["status"], "incomplete");
    assert_eq!(response["incomplete_details"]["reason"], "max_output_tokens");
    assert_eq!(response["usage"]["output_tokens"], 2);
}

#[tokio::test]
async fn responses_midstream_error_then_failed() {
    let cloud = start().await;
    let reply = post(
        &cloud,
        "/v1/responses",
        OPENAI,
        &responses_body("gpt-4o~midstream_error=1"),
    )
    .await;
    let events = sse_events(reply.text());
    let count = events.len();
    assert_eq!(events[count - 2].name.as_deref(), Some("error"));
    let error = events[count - 2].json();
    assert_eq!(error["type"], "error");
    assert_eq!(error["error"]["code"], "server_error");
    assert!(error["sequence_number"].is_u64());
    assert_eq!(events[count - 1].name.as_deref(), Some("response.failed"));
    assert_eq!(events[count - 1].json()["response"]["status"], "failed");
}

#[tokio::test]
async fn responses_content_filter_finish_is_incomplete() {
    let cloud = start().await;
    let reply = post(
        &cloud,
        "/v1/responses",
        OPENAI,
        &responses_body("gpt-4o~finish_content_filter=1"),
    )
    .await;
    let events = sse_events(reply.text());
    let last = events.last().expect("an event").json();
    assert_eq!(last["type"], "response.incomplete");
    assert_eq!(last["response"]["incomplete_details"]["reason"], "content_filter");
}

#[tokio::test]
async fn responses_rejects_bad_bodies_and_keys() {
    let cloud = start().await;
    let wrong_key = post(
        &cloud,
        "/v1/responses",
        &[("authorization", "Bearer nope-nope-nope")],
        &responses_body("m"),
    )
    .await;
    assert_eq!(wrong_key.status, 401);
    let empty_input = post(
        &cloud,
        "/v1/responses",
        OPENAI,
        &json!({"model": "m", "stream": true, "input": []}),
    )
    .await;
    assert_eq!(empty_input.status, 400);
    assert_eq!(empty_input.json()["error"]["param"], "input");
    let malformed = post_raw(&cloud, "/v1/responses", OPENAI, b"[".to_vec()).await;
    assert_eq!(malformed.status, 400);
}

#[tokio::test]
async fn quota_and_server_errors_use_openai_envelopes() {
    let cloud = start().await;
    let quota = post(&cloud, "/v1/chat/completions", OPENAI, &chat_body("gpt-4o~fail=quota")).await;
    assert_eq!(quota.status, 429);
    assert_eq!(quota.json()["error"]["code"], "insufficient_quota");
    assert_eq!(quota.json()["error"]["type"], "insufficient_quota");

    let server = post(&cloud, "/v1/chat/completions", OPENAI, &chat_body("gpt-4o~fail=500")).await;
    assert_eq!(server.status, 500);
    assert_eq!(server.json()["error"]["type"], "server_error");

    let filtered = post(
        &cloud,
        "/v1/chat/completions",
        OPENAI,
        &chat_body("gpt-4o~fail=content_filter"),
    )
    .await;
    assert_eq!(filtered.status, 400);
    assert_eq!(filtered.json()["error"]["code"], "content_filter");
    assert_eq!(
        filtered.json()["error"]["innererror"]["code"],
        "ResponsibleAIPolicyViolation"
    );
}
