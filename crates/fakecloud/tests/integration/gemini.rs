//! The Gemini API (AI Studio) over HTTP: CRLF-framed SSE, cumulative usage,
//! google.rpc.Status errors.

use serde_json::{Value, json};

use crate::support::*;

fn path(model: &str) -> String {
    format!("/v1beta/models/{model}:streamGenerateContent?alt=sse")
}

fn text_of(events: &[Value]) -> String {
    events
        .iter()
        .filter_map(|event| event["candidates"][0]["content"]["parts"][0]["text"].as_str())
        .collect()
}

fn finish_reasons(events: &[Value]) -> Vec<Option<&str>> {
    events
        .iter()
        .map(|event| event["candidates"][0]["finishReason"].as_str())
        .collect()
}

#[tokio::test]
async fn streams_cumulative_usage_and_finishes_on_the_last_chunk() {
    let cloud = start().await;
    let reply = post(
        &cloud,
        &path("gemini-2.5-flash~tokens=3"),
        GEMINI,
        &gemini_body("Say something short"),
    )
    .await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    assert!(reply.header("content-type").starts_with("text/event-stream"));
    assert!(reply.header("server-timing").starts_with("gfet4t7; dur="));
    assert!(!reply.text().contains("[DONE]"));
    // Google's spacing: a space after each colon, none after commas.
    assert!(reply.text().starts_with(
        r#"data: {"candidates": [{"content": {"parts": [{"text": "Lorem"}],"role": "model"},"index": 0}],"#
    ));

    let events = google_events(reply.text());
    assert_eq!(events.len(), 3);
    assert_eq!(text_of(&events), expected_text("tokens=3"));
    assert_eq!(finish_reasons(&events), [None, None, Some("STOP")]);
    for (index, event) in events.iter().enumerate() {
        let usage = &event["usageMetadata"];
        // "Be terse." + "Say something short".
        assert_eq!(usage["promptTokenCount"], 5);
        assert_eq!(usage["candidatesTokenCount"], index + 1);
        assert_eq!(usage["totalTokenCount"], 5 + index + 1);
        assert_eq!(event["modelVersion"], "gemini-2.5-flash");
        assert_eq!(event["responseId"], events[0]["responseId"]);
        assert_eq!(event["candidates"][0]["content"]["role"], "model");
        assert!(event.get("createTime").is_none(), "createTime is Vertex's");
    }
    let record = &cloud.requests()[0];
    assert_eq!(record.provider, "gemini");
    assert_eq!(record.model, "gemini-2.5-flash~tokens=3");
    assert_eq!(record.request_id, events[0]["responseId"]);
    assert_eq!(record.credential.as_deref(), Some("x-goog-api-key"));
}

#[tokio::test]
async fn max_output_tokens_finishes_with_max_tokens() {
    let cloud = start().await;
    let mut body = gemini_body("hi");
    body["generationConfig"] = json!({"maxOutputTokens": 2});
    let reply = post(&cloud, &path("gemini-2.5-pro"), GEMINI, &body).await;
    let events = google_events(reply.text());
    assert_eq!(text_of(&events), expected_text("tokens=2"));
    assert_eq!(finish_reasons(&events), [None, Some("MAX_TOKENS")]);
}

#[tokio::test]
async fn keys_come_in_a_header_or_the_query_and_bad_ones_are_refused_as_google_does() {
    let cloud = start().await;
    let query = post(
        &cloud,
        "/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse&key=fake-key",
        NO_HEADERS,
        &gemini_body("hi"),
    )
    .await;
    assert_eq!(query.status, 200);
    assert_eq!(cloud.requests()[0].credential.as_deref(), Some("?key="));

    let wrong = post(
        &cloud,
        &path("gemini-2.5-flash"),
        &[("x-goog-api-key", "nope")],
        &gemini_body("hi"),
    )
    .await;
    assert_eq!(wrong.status, 400);
    assert!(
        wrong.text().starts_with("{\n  \"error\": {\n    \"code\": 400,"),
        "{}",
        wrong.text()
    );
    let error = &wrong.json()["error"];
    assert_eq!(error["status"], "INVALID_ARGUMENT");
    assert_eq!(error["message"], "API key not valid. Please pass a valid API key.");
    assert_eq!(error["details"][0]["@type"], "type.googleapis.com/google.rpc.ErrorInfo");
    assert_eq!(error["details"][0]["reason"], "API_KEY_INVALID");
    assert_eq!(
        error["details"][0]["metadata"]["service"],
        "generativelanguage.googleapis.com"
    );

    let missing = post(&cloud, &path("gemini-2.5-flash"), NO_HEADERS, &gemini_body("hi")).await;
    assert_eq!(missing.status, 403);
    assert_eq!(missing.json()["error"]["status"], "PERMISSION_DENIED");
    let records = cloud.requests();
    assert!(!records[1].authenticated && !records[2].authenticated);
}

#[tokio::test]
async fn only_sse_streaming_of_known_methods_and_fields_is_served() {
    let cloud = start().await;
    let no_alt = post(
        &cloud,
        "/v1beta/models/gemini-2.5-flash:streamGenerateContent",
        GEMINI,
        &gemini_body("hi"),
    )
    .await;
    assert_eq!(no_alt.status, 400);
    assert_eq!(no_alt.json()["error"]["status"], "INVALID_ARGUMENT");
    assert!(
        no_alt.json()["error"]["message"]
            .as_str()
            .expect("message")
            .contains("alt=sse")
    );

    let other_method = post(
        &cloud,
        "/v1beta/models/gemini-2.5-flash:generateContent",
        GEMINI,
        &gemini_body("hi"),
    )
    .await;
    assert_eq!(other_method.status, 404);
    assert_eq!(other_method.json()["error"]["status"], "NOT_FOUND");

    let mut unknown_field = gemini_body("hi");
    unknown_field["messages"] = json!([]);
    let reply = post(&cloud, &path("gemini-2.5-flash"), GEMINI, &unknown_field).await;
    assert_eq!(reply.status, 400);
    assert_eq!(
        reply.json()["error"]["message"],
        "Invalid JSON payload received. Unknown name \"messages\": Cannot find field."
    );
    let empty = post(&cloud, &path("gemini-2.5-flash"), GEMINI, &json!({"contents": []})).await;
    assert_eq!(empty.status, 400);
}

#[tokio::test]
async fn rate_limits_are_resource_exhausted_with_retry_info() {
    let cloud = start().await;
    let reply = post(
        &cloud,
        &path("gemini-2.5-flash~fail=429;retry_after_ms=2000"),
        GEMINI,
        &gemini_body("hi"),
    )
    .await;
    assert_eq!(reply.status, 429);
    assert!(
        reply.headers.get("retry-after").is_none(),
        "Google's hint is in the body"
    );
    let error = &reply.json()["error"];
    assert_eq!(error["code"], 429);
    assert_eq!(error["status"], "RESOURCE_EXHAUSTED");
    let details = error["details"].as_array().expect("details");
    let retry = details
        .iter()
        .find(|detail| detail["@type"] == "type.googleapis.com/google.rpc.RetryInfo")
        .expect("RetryInfo");
    assert_eq!(retry["retryDelay"], "2s");

    let quota = post(&cloud, &path("gemini-2.5-flash~fail=quota"), GEMINI, &gemini_body("hi")).await;
    assert_eq!(quota.status, 429);
    let violation = &quota.json()["error"]["details"][0]["violations"][0];
    assert!(violation["quotaId"].as_str().expect("quotaId").contains("PerDay"));

    let overloaded = post(&cloud, &path("gemini-2.5-flash~fail=503"), GEMINI, &gemini_body("hi")).await;
    assert_eq!(overloaded.status, 503);
    assert_eq!(overloaded.json()["error"]["status"], "UNAVAILABLE");
}

#[tokio::test]
async fn safety_cuts_and_blocked_prompts_arrive_in_the_stream() {
    let cloud = start().await;
    let cut = post(
        &cloud,
        &path("gemini-2.5-flash~finish_content_filter=2"),
        GEMINI,
        &gemini_body("hi"),
    )
    .await;
    assert_eq!(cut.status, 200);
    let events = google_events(cut.text());
    assert_eq!(text_of(&events), expected_text("tokens=2"));
    assert_eq!(finish_reasons(&events), [None, None, Some("SAFETY")]);
    let ratings = events[2]["candidates"][0]["safetyRatings"].as_array().expect("ratings");
    assert!(ratings.iter().any(|rating| rating["blocked"] == true));

    let blocked = post(
        &cloud,
        &path("gemini-2.5-flash~fail=content_filter"),
        GEMINI,
        &gemini_body("hi"),
    )
    .await;
    assert_eq!(blocked.status, 200);
    let events = google_events(blocked.text());
    assert_eq!(events.len(), 1);
    assert_eq!(events[0]["promptFeedback"]["blockReason"], "SAFETY");
    assert!(events[0].get("candidates").is_none());
    assert_eq!(events[0]["usageMetadata"]["promptTokenCount"], 3);
}

#[tokio::test]
async fn midstream_errors_and_truncation() {
    let cloud = start().await;
    let reply = post(
        &cloud,
        &path("gemini-2.5-flash~midstream_error=1"),
        GEMINI,
        &gemini_body("hi"),
    )
    .await;
    assert_eq!(reply.status, 200);
    let events = google_events(reply.text());
    assert_eq!(events.len(), 2);
    assert_eq!(text_of(&events), expected_text("tokens=1"));
    assert_eq!(
        events[1],
        json!({"error": {"code": 500, "message": "An internal error has occurred. Please retry or report in https://developers.generativeai.google/guide/troubleshooting", "status": "INTERNAL"}})
    );
    assert_eq!(finish_reasons(&events), [None, None]);

    let truncated = post(&cloud, &path("gemini-2.5-flash~truncate=2"), GEMINI, &gemini_body("hi")).await;
    let events = google_events(truncated.text());
    assert_eq!(text_of(&events), expected_text("tokens=2"));
    assert_eq!(finish_reasons(&events), [None, None]);
}
