//! The request log, in the library and over HTTP, and fakecloud's own
//! endpoints.

use std::time::Duration;

use futures_util::StreamExt;
use serde_json::{Value, json};

use crate::support::*;

#[tokio::test]
async fn records_every_request_with_its_outcome() {
    let cloud = start().await;
    let body = chat_body("gpt-4o~tokens=2");
    post(&cloud, "/v1/chat/completions", OPENAI, &body).await;
    post(
        &cloud,
        "/v1/messages",
        &[("x-api-key", "bad"), ("anthropic-version", "2023-06-01")],
        &anthropic_body("claude", 5),
    )
    .await;
    post_raw(&cloud, "/api/chat", NO_HEADERS, b"{{".to_vec()).await;
    post(
        &cloud,
        "/openai/deployments/dep/chat/completions?api-version=2024-10-21",
        AZURE,
        &json!({"stream": true, "messages": [{"role": "user", "content": "x"}]}),
    )
    .await;

    let records = cloud.requests();
    assert_eq!(records.len(), 4);
    let openai = &records[0];
    assert_eq!(openai.provider, "openai");
    assert_eq!(openai.path, "/v1/chat/completions");
    assert_eq!(openai.model, "gpt-4o~tokens=2");
    assert_eq!(openai.status, 200);
    assert!(openai.completed);
    assert!(openai.server_time_to_first_token_us.is_some());
    assert_eq!(openai.body, body);

    assert_eq!(records[1].provider, "anthropic");
    assert_eq!(records[1].status, 401);
    assert_eq!(records[1].server_time_to_first_token_us, None);

    assert_eq!(records[2].provider, "ollama");
    assert_eq!(records[2].status, 400);
    assert_eq!(records[2].body, Value::Null);

    assert_eq!(records[3].provider, "azure");
    assert_eq!(records[3].model, "dep");
    assert_eq!(records[3].path, "/openai/deployments/dep/chat/completions");

    let ids: std::collections::HashSet<_> = records.iter().map(|record| record.request_id.clone()).collect();
    assert_eq!(ids.len(), 4, "request ids are unique");
}

#[tokio::test]
async fn request_ids_match_response_headers() {
    let cloud = start().await;
    let reply = post(&cloud, "/v1/chat/completions", OPENAI, &chat_body("m")).await;
    assert_eq!(cloud.requests()[0].request_id, reply.header("x-request-id"));
    let azure = post(&cloud, "/openai/v1/chat/completions", AZURE, &chat_body("m")).await;
    assert_eq!(cloud.requests()[1].request_id, azure.header("apim-request-id"));
}

#[tokio::test]
async fn http_endpoints_list_requests_and_report_health() {
    let cloud = start().await;
    post(&cloud, "/api/chat", NO_HEADERS, &ollama_body("llama3")).await;
    let listed = listed_requests(&cloud).await;
    let listed = listed.as_array().expect("array");
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0]["provider"], "ollama");
    assert_eq!(listed[0]["status"], 200);
    assert_eq!(listed[0]["body"]["model"], "llama3");

    let health = client()
        .get(format!("{}/_fakecloud/health", cloud.base_url()))
        .send()
        .await
        .expect("answered");
    assert_eq!(health.status(), 200);
    assert_eq!(health.text().await.expect("text"), "ok");
    assert!(cloud.base_url().starts_with("http://127.0.0.1:"));
    assert!(!cloud.base_url().ends_with('/'));
    assert_eq!(
        cloud.addr().port(),
        cloud
            .base_url()
            .rsplit(':')
            .next()
            .expect("port")
            .parse::<u16>()
            .expect("number")
    );
}

#[tokio::test]
async fn a_client_that_walks_away_leaves_the_record_incomplete() {
    let cloud = start().await;
    let response = chat_stream(&cloud, "gpt-4o~tokens=10;gap_ms=20").await;
    let mut stream = response.bytes_stream();
    stream.next().await.expect("a first piece").expect("bytes");
    drop(stream);
    // Long after the whole stream (200 ms) would have been sent: the server
    // noticed the client had gone and stopped.
    tokio::time::sleep(Duration::from_millis(600)).await;
    let record = &cloud.requests()[0];
    assert!(!record.completed);
    assert_eq!(record.status, 200);
}

#[tokio::test]
async fn bedrock_gemini_and_vertex_are_logged_with_their_auth_outcome() {
    let cloud = start().await;
    post_bedrock(
        &cloud,
        "/model/us.amazon.nova-micro-v1%3A0/converse-stream",
        &converse_body(),
    )
    .await;
    let wrong = AwsSigner {
        secret_access_key: "wrong".to_owned(),
        region: "eu-west-1",
        ..AwsSigner::default()
    };
    let body = converse_body().to_string().into_bytes();
    post_bedrock_signed(
        &cloud,
        "/model/us.amazon.nova-micro-v1%3A0/converse-stream",
        &wrong,
        &body,
        body.clone(),
    )
    .await;
    post(
        &cloud,
        "/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse",
        &[("x-goog-api-key", "nope")],
        &gemini_body("hi"),
    )
    .await;
    post(
        &cloud,
        "/v1/projects/p/locations/global/publishers/google/models/gemini-2.5-pro:streamGenerateContent?alt=sse",
        VERTEX,
        &gemini_body("hi"),
    )
    .await;

    let listed = listed_requests(&cloud).await;
    let summary: Vec<Value> = listed
        .as_array()
        .expect("array")
        .iter()
        .map(|record| {
            json!([
                record["provider"],
                record["model"],
                record["status"],
                record["authenticated"],
                record["credential"]
            ])
        })
        .collect();
    let date = listed[0]["credential"]
        .as_str()
        .and_then(|credential| credential.split('/').nth(1))
        .expect("a credential scope")
        .to_owned();
    assert_eq!(
        summary,
        [
            json!([
                "bedrock",
                "us.amazon.nova-micro-v1:0",
                200,
                true,
                format!("sigv4 AKIDFAKECLOUDTEST001/{date}/us-east-1/bedrock/aws4_request")
            ]),
            json!([
                "bedrock",
                "us.amazon.nova-micro-v1:0",
                403,
                false,
                format!("sigv4 AKIDFAKECLOUDTEST001/{date}/eu-west-1/bedrock/aws4_request")
            ]),
            json!(["gemini", "gemini-2.5-flash", 400, false, "x-goog-api-key"]),
            json!(["vertex", "gemini-2.5-pro", 200, true, "bearer"]),
        ]
    );
    assert_eq!(listed[0]["path"], "/model/us.amazon.nova-micro-v1%3A0/converse-stream");
    assert_eq!(listed[0]["body"], converse_body());
    // Routes that take a plain key say where it came from too.
    post(&cloud, "/v1/chat/completions", OPENAI, &chat_body("m")).await;
    let openai = cloud.requests().pop().expect("a record");
    assert!(openai.authenticated);
    assert_eq!(openai.credential.as_deref(), Some("bearer"));
}
