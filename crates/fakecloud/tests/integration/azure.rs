//! Azure OpenAI, classic deployments path and v1 paths.

use serde_json::json;

use crate::support::*;

const CLASSIC: &str = "/openai/deployments/my-gpt4o/chat/completions?api-version=2024-10-21";

fn classic_body() -> serde_json::Value {
    let mut body = chat_body("ignored-by-azure");
    body.as_object_mut().expect("object").remove("model");
    body
}

#[tokio::test]
async fn classic_chat_has_filters_annotation_and_deployment_model() {
    let cloud = start().await;
    let reply = post(&cloud, CLASSIC, AZURE, &classic_body()).await;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.header("x-ms-region"), "swedencentral");
    assert!(!reply.header("apim-request-id").is_empty());
    assert!(reply.text().ends_with("data: [DONE]\n\n"));

    let events = sse_events(reply.text());
    let first = events[0].json();
    assert_eq!(first["choices"], json!([]));
    assert_eq!(first["id"], "");
    assert_eq!(first["created"], 0);
    assert_eq!(first["model"], "");
    let prompt_filter = &first["prompt_filter_results"][0];
    assert_eq!(prompt_filter["prompt_index"], 0);
    assert_eq!(
        prompt_filter["content_filter_results"]["jailbreak"],
        json!({"detected": false, "filtered": false})
    );
    assert_eq!(
        prompt_filter["content_filter_results"]["hate"],
        json!({"filtered": false, "severity": "safe"})
    );

    let role = events[1].json();
    assert_eq!(role["model"], "my-gpt4o");
    assert_eq!(role["choices"][0]["content_filter_results"], json!({}));
    assert_eq!(role["choices"][0]["delta"]["role"], "assistant");

    let annotations: Vec<_> = events
        .iter()
        .filter(|event| event.data != "[DONE]")
        .map(|event| event.json())
        .filter(|chunk| chunk["choices"][0].get("content_filter_offsets").is_some())
        .collect();
    assert_eq!(annotations.len(), 1, "exactly one annotation-only chunk");
    assert!(annotations[0]["choices"][0].get("delta").is_none());

    let content = events[2].json();
    assert_eq!(
        content["choices"][0]["content_filter_results"]["violence"]["severity"],
        "safe"
    );
    assert_eq!(chat_text(&events), expected_text(""));
    assert_eq!(chat_finish_reason(&events).as_deref(), Some("stop"));
    let usage = events[events.len() - 2].json();
    assert_eq!(usage["choices"], json!([]));
    assert_eq!(usage["usage"]["completion_tokens"], 8);
}

#[tokio::test]
async fn classic_accepts_bearer_and_rejects_wrong_keys() {
    let cloud = start().await;
    let bearer = post(
        &cloud,
        CLASSIC,
        &[("authorization", "Bearer fake-key")],
        &classic_body(),
    )
    .await;
    assert_eq!(bearer.status, 200);

    let wrong = post(&cloud, CLASSIC, &[("api-key", "wrong")], &classic_body()).await;
    assert_eq!(wrong.status, 401);
    assert_eq!(wrong.json()["error"]["code"], "401");
    assert!(
        wrong.json()["error"]["message"]
            .as_str()
            .expect("message")
            .starts_with("Access denied due to invalid subscription key")
    );
    let missing = post(&cloud, CLASSIC, NO_HEADERS, &classic_body()).await;
    assert_eq!(missing.status, 401);
}

#[tokio::test]
async fn classic_requires_api_version() {
    let cloud = start().await;
    let reply = post(
        &cloud,
        "/openai/deployments/my-gpt4o/chat/completions",
        AZURE,
        &classic_body(),
    )
    .await;
    assert_eq!(reply.status, 400);
    assert_eq!(reply.json()["error"]["code"], "MissingApiVersionParameter");
}

#[tokio::test]
async fn classic_deployment_spec_and_malformed_body() {
    let cloud = start().await;
    let reply = post(
        &cloud,
        "/openai/deployments/dep~tokens=2/chat/completions?api-version=2024-10-21",
        AZURE,
        &classic_body(),
    )
    .await;
    assert_eq!(reply.status, 200);
    let events = sse_events(reply.text());
    assert_eq!(chat_text(&events), expected_text("tokens=2"));
    assert_eq!(events[1].json()["model"], "dep");

    let malformed = post_raw(&cloud, CLASSIC, AZURE, b"{\"messages\":".to_vec()).await;
    assert_eq!(malformed.status, 400);
    assert_eq!(malformed.json()["error"]["type"], "invalid_request_error");
}

#[tokio::test]
async fn v1_chat_requires_the_deployment_as_model() {
    let cloud = start().await;
    let missing = post(&cloud, "/openai/v1/chat/completions", AZURE, &classic_body()).await;
    assert_eq!(missing.status, 400);

    let reply = post(
        &cloud,
        "/openai/v1/chat/completions",
        AZURE,
        &chat_body("gpt-4o-deploy~tokens=4"),
    )
    .await;
    assert_eq!(reply.status, 200);
    let events = sse_events(reply.text());
    assert_eq!(events[0].json()["prompt_filter_results"][0]["prompt_index"], 0);
    assert_eq!(chat_text(&events), expected_text("tokens=4"));
}

#[tokio::test]
async fn v1_responses_streams_like_openai() {
    let cloud = start().await;
    let reply = post(
        &cloud,
        "/openai/v1/responses",
        AZURE,
        &responses_body("deploy~tokens=2"),
    )
    .await;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.header("x-ms-region"), "swedencentral");
    let events = sse_events(reply.text());
    assert_eq!(events[0].name.as_deref(), Some("response.created"));
    let last = events.last().expect("an event").json();
    assert_eq!(last["type"], "response.completed");
    assert_eq!(last["response"]["usage"]["output_tokens"], 2);
}

#[tokio::test]
async fn content_filter_failures() {
    let cloud = start().await;
    let blocked = post(
        &cloud,
        "/openai/deployments/d~fail=content_filter/chat/completions?api-version=2024-10-21",
        AZURE,
        &classic_body(),
    )
    .await;
    assert_eq!(blocked.status, 400);
    let error = &blocked.json()["error"];
    assert_eq!(error["code"], "content_filter");
    assert_eq!(error["innererror"]["code"], "ResponsibleAIPolicyViolation");
    assert_eq!(error["innererror"]["content_filter_result"]["hate"]["filtered"], true);

    let finish = post(
        &cloud,
        "/openai/deployments/d~finish_content_filter=2/chat/completions?api-version=2024-10-21",
        AZURE,
        &classic_body(),
    )
    .await;
    assert_eq!(finish.status, 200);
    let events = sse_events(finish.text());
    assert_eq!(chat_text(&events), expected_text("tokens=2"));
    assert_eq!(chat_finish_reason(&events).as_deref(), Some("content_filter"));
}

#[tokio::test]
async fn rate_limit_uses_azure_envelope_and_retry_headers() {
    let cloud = start().await;
    let reply = post(
        &cloud,
        "/openai/deployments/d~fail=429;retry_after=2/chat/completions?api-version=2024-10-21",
        AZURE,
        &classic_body(),
    )
    .await;
    assert_eq!(reply.status, 429);
    assert_eq!(reply.json()["error"]["code"], "429");
    assert_eq!(reply.header("retry-after"), "2");
    assert_eq!(reply.header("retry-after-ms"), "2000");
}
