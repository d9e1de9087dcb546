//! Bedrock Runtime over HTTP: event-stream frames read back with
//! aws-smithy-eventstream's CRC-checking reader, SigV4 signed in the test
//! with aws-sigv4, and Bedrock's own error shapes.

use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use fakecloud::{Config, FAKE_AWS_ACCESS_KEY_ID, Keys};
use serde_json::{Value, json};

use crate::support::*;

const NOVA: &str = "/model/us.amazon.nova-micro-v1%3A0/converse-stream";
const SIGNATURE_MISMATCH: &str = "The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details.";
const CORAL: &str = ":http://internal.amazon.com/coral/com.amazon.coral.service/";
const PADDING_ALPHABET: &str = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";

/// A converse-stream path whose model id carries a scenario spec,
/// percent-encoded as an SDK would send it.
fn converse_path(model: &str, spec: &str) -> String {
    let spec = spec.replace('=', "%3D").replace(';', "%3B");
    format!("/model/{}~{spec}/converse-stream", model.replace(':', "%3A"))
}

fn invoke_path(model: &str, spec: &str) -> String {
    converse_path(model, spec).replace("/converse-stream", "/invoke-with-response-stream")
}

fn kinds(frames: &[AwsFrame]) -> Vec<&str> {
    frames.iter().map(AwsFrame::kind).collect()
}

fn converse_text(frames: &[AwsFrame]) -> String {
    frames
        .iter()
        .filter(|frame| frame.kind() == "contentBlockDelta")
        .map(|frame| frame.json()["delta"]["text"].as_str().expect("text").to_owned())
        .collect()
}

/// The model-native JSON inside each `chunk` event.
fn invoke_chunks(frames: &[AwsFrame]) -> Vec<Value> {
    frames
        .iter()
        .filter(|frame| frame.kind() == "chunk")
        .map(|frame| {
            let payload = frame.json();
            let bytes = STANDARD
                .decode(payload["bytes"].as_str().expect("bytes"))
                .expect("base64");
            serde_json::from_slice(&bytes).expect("native JSON")
        })
        .collect()
}

/// The standard converse body to NOVA, signed by `signer`.
async fn converse_signed_by(cloud: &fakecloud::FakeCloud, signer: &AwsSigner) -> Reply {
    let body = converse_body().to_string().into_bytes();
    post_bedrock_signed(cloud, NOVA, signer, &body, body.clone()).await
}

fn assert_bedrock_error(reply: &Reply, status: u16, error_type: &str, message: &str) {
    assert_eq!(reply.status, status, "{}", reply.text());
    assert!(
        reply.header("x-amzn-errortype").starts_with(&format!("{error_type}:")),
        "{}",
        reply.header("x-amzn-errortype")
    );
    assert_eq!(reply.json(), json!({ "message": message }));
    assert!(!reply.header("x-amzn-requestid").is_empty());
}

#[tokio::test]
async fn converse_stream_frames_have_valid_crcs_padding_and_usage() {
    let cloud = start().await;
    let path = converse_path("us.amazon.nova-micro-v1:0", "tokens=3");
    let reply = post_bedrock(&cloud, &path, &converse_body()).await;
    assert_eq!(reply.status, 200, "{}", String::from_utf8_lossy(&reply.body));
    assert_eq!(reply.header("content-type"), "application/vnd.amazon.eventstream");
    let request_id = reply.header("x-amzn-requestid");
    assert_eq!(request_id.len(), 36, "a UUID: {request_id}");

    let frames = aws_frames(&reply.body);
    assert_eq!(
        kinds(&frames),
        [
            "messageStart",
            "contentBlockDelta",
            "contentBlockDelta",
            "contentBlockDelta",
            "contentBlockStop",
            "messageStop",
            "metadata",
        ]
    );
    for frame in &frames {
        assert_eq!(frame.header(":message-type"), "event");
        assert_eq!(frame.header(":content-type"), "application/json");
        let padding = frame.json()["p"].as_str().expect("every payload is padded").to_owned();
        assert!(
            !padding.is_empty() && PADDING_ALPHABET.starts_with(&padding),
            "{padding}"
        );
    }
    assert_eq!(frames[0].json()["role"], "assistant");
    assert_eq!(frames[1].json()["contentBlockIndex"], 0);
    assert_eq!(converse_text(&frames), expected_text("tokens=3"));
    assert_eq!(frames[5].json()["stopReason"], "end_turn");
    let metadata = frames[6].json();
    // "Be terse." + "Say something short".
    assert_eq!(
        metadata["usage"],
        json!({"inputTokens": 5, "outputTokens": 3, "totalTokens": 8})
    );
    assert!(metadata["metrics"]["latencyMs"].is_u64());

    let record = &cloud.requests()[0];
    assert_eq!(record.provider, "bedrock");
    assert_eq!(record.model, "us.amazon.nova-micro-v1:0~tokens=3");
    assert_eq!(record.request_id, request_id);
    assert!(record.authenticated);
    assert!(record.completed);
    let credential = record.credential.as_deref().expect("a credential");
    assert!(
        credential.starts_with(&format!("sigv4 {FAKE_AWS_ACCESS_KEY_ID}/")),
        "{credential}"
    );
    assert!(credential.ends_with("/us-east-1/bedrock/aws4_request"), "{credential}");
}

#[tokio::test]
async fn converse_honours_max_tokens_and_decodes_arn_model_ids() {
    let cloud = start().await;
    let mut body = converse_body();
    body["inferenceConfig"] = json!({"maxTokens": 2});
    let arn = "arn:aws:bedrock:us-east-1:123456789012:inference-profile/us.anthropic.claude-3-haiku-20240307-v1:0";
    let path = format!("/model/{}/converse-stream", arn.replace(':', "%3A").replace('/', "%2F"));
    let reply = post_bedrock(&cloud, &path, &body).await;
    assert_eq!(reply.status, 200, "{}", String::from_utf8_lossy(&reply.body));
    let frames = aws_frames(&reply.body);
    assert_eq!(converse_text(&frames), expected_text("tokens=2"));
    let stop = frames
        .iter()
        .find(|frame| frame.kind() == "messageStop")
        .expect("messageStop");
    assert_eq!(stop.json()["stopReason"], "max_tokens");
    assert_eq!(cloud.requests()[0].model, arn);
}

#[tokio::test]
async fn invoke_anthropic_chunks_carry_base64_anthropic_events() {
    let cloud = start().await;
    let path = invoke_path("anthropic.claude-3-haiku-20240307-v1:0", "tokens=2");
    let reply = post_bedrock(&cloud, &path, &bedrock_anthropic_body(100)).await;
    assert_eq!(reply.status, 200, "{}", String::from_utf8_lossy(&reply.body));
    assert_eq!(reply.header("content-type"), "application/vnd.amazon.eventstream");
    assert_eq!(reply.header("x-amzn-bedrock-content-type"), "application/json");
    let frames = aws_frames(&reply.body);
    assert!(frames.iter().all(|frame| frame.kind() == "chunk"));
    let chunks = invoke_chunks(&frames);
    let types: Vec<&str> = chunks
        .iter()
        .map(|chunk| chunk["type"].as_str().expect("type"))
        .collect();
    assert_eq!(
        types,
        [
            "message_start",
            "content_block_start",
            "content_block_delta",
            "content_block_delta",
            "content_block_stop",
            "message_delta",
            "message_stop",
        ]
    );
    let message = &chunks[0]["message"];
    assert_eq!(message["model"], "claude-3-haiku-20240307");
    assert!(message["id"].as_str().expect("id").starts_with("msg_bdrk_"));
    assert_eq!(message["usage"]["input_tokens"], 5);
    let text: String = chunks[2..4]
        .iter()
        .map(|chunk| chunk["delta"]["text"].as_str().expect("text"))
        .collect();
    assert_eq!(text, expected_text("tokens=2"));
    assert_eq!(chunks[5]["delta"]["stop_reason"], "end_turn");
    assert_eq!(chunks[5]["usage"]["output_tokens"], 2);
    let metrics = &chunks[6]["amazon-bedrock-invocationMetrics"];
    assert_eq!(metrics["inputTokenCount"], 5);
    assert_eq!(metrics["outputTokenCount"], 2);
    assert!(metrics["invocationLatency"].is_u64() && metrics["firstByteLatency"].is_u64());
}

#[tokio::test]
async fn invoke_llama_chunks_are_llama_native() {
    let cloud = start().await;
    let path = invoke_path("meta.llama3-8b-instruct-v1:0", "tokens=3");
    let body = json!({"prompt": "Say something short", "max_gen_len": 100});
    let reply = post_bedrock(&cloud, &path, &body).await;
    assert_eq!(reply.status, 200, "{}", String::from_utf8_lossy(&reply.body));
    let chunks = invoke_chunks(&aws_frames(&reply.body));
    assert_eq!(chunks.len(), 4);
    let text: String = chunks
        .iter()
        .map(|chunk| chunk["generation"].as_str().expect("generation"))
        .collect();
    assert_eq!(text, expected_text("tokens=3"));
    assert_eq!(chunks[0]["prompt_token_count"], 3);
    assert!(chunks[1]["prompt_token_count"].is_null());
    assert!(chunks[0]["stop_reason"].is_null());
    let last = chunks.last().expect("a final chunk");
    assert_eq!(last["stop_reason"], "stop");
    assert_eq!(last["generation_token_count"], 3);
    assert_eq!(last["amazon-bedrock-invocationMetrics"]["outputTokenCount"], 3);
}

#[tokio::test]
async fn bodies_bedrock_would_refuse_are_validation_exceptions() {
    let cloud = start().await;
    let mut with_model = bedrock_anthropic_body(10);
    with_model["model"] = json!("claude");
    let reply = post_bedrock(
        &cloud,
        "/model/anthropic.claude-3-haiku-20240307-v1%3A0/invoke-with-response-stream",
        &with_model,
    )
    .await;
    assert_bedrock_error(
        &reply,
        400,
        "ValidationException",
        "Malformed input request: #: extraneous key [model] is not permitted, please reformat your input and try again.",
    );
    let titan = post_bedrock(
        &cloud,
        "/model/amazon.titan-text-express-v1/invoke-with-response-stream",
        &json!({"inputText": "hi"}),
    )
    .await;
    assert_eq!(titan.status, 400);
    let mut assistant_first = converse_body();
    assistant_first["messages"] = json!([{"role": "assistant", "content": [{"text": "x"}]}]);
    let reply = post_bedrock(&cloud, NOVA, &assistant_first).await;
    assert_bedrock_error(
        &reply,
        400,
        "ValidationException",
        "A conversation must start with a user message. Try again with a conversation that starts with a user message.",
    );
    let malformed = post_bedrock_signed(&cloud, NOVA, &AwsSigner::default(), b"{,", b"{,".to_vec()).await;
    assert_eq!(malformed.status, 400);
}

#[tokio::test]
async fn a_wrong_secret_is_invalid_signature_with_bedrocks_body() {
    let cloud = start().await;
    let signer = AwsSigner {
        secret_access_key: "not-the-secret-at-all".to_owned(),
        ..AwsSigner::default()
    };
    let reply = converse_signed_by(&cloud, &signer).await;
    assert_bedrock_error(&reply, 403, "InvalidSignatureException", SIGNATURE_MISMATCH);
    assert_eq!(
        reply.header("x-amzn-errortype"),
        format!("InvalidSignatureException{CORAL}")
    );
    let record = &cloud.requests()[0];
    assert!(!record.authenticated);
    assert_eq!(record.status, 403);
}

#[tokio::test]
async fn an_unknown_key_id_is_an_unrecognized_client() {
    let cloud = start().await;
    let signer = AwsSigner {
        access_key_id: "AKIDSOMEBODYELSE0001".to_owned(),
        ..AwsSigner::default()
    };
    let reply = converse_signed_by(&cloud, &signer).await;
    assert_bedrock_error(
        &reply,
        403,
        "UnrecognizedClientException",
        "The security token included in the request is invalid.",
    );
    assert_eq!(
        reply.header("x-amzn-errortype"),
        format!("UnrecognizedClientException{CORAL}")
    );
}

#[tokio::test]
async fn a_tampered_body_path_or_stale_date_is_rejected() {
    let cloud = start().await;
    let signed = converse_body().to_string().into_bytes();
    let mut tampered = converse_body();
    tampered["messages"][0]["content"][0]["text"] = json!("Say something long");
    let reply = post_bedrock_signed(
        &cloud,
        NOVA,
        &AwsSigner::default(),
        &signed,
        tampered.to_string().into_bytes(),
    )
    .await;
    assert_bedrock_error(&reply, 403, "InvalidSignatureException", SIGNATURE_MISMATCH);

    // Signed for one model, sent to another.
    let url = format!("{}{NOVA}", cloud.base_url());
    let headers = AwsSigner::default().headers(&url, &signed);
    let headers: Vec<(&str, &str)> = headers.iter().map(|(n, v)| (n.as_str(), v.as_str())).collect();
    let other = post_raw(
        &cloud,
        "/model/us.amazon.nova-lite-v1%3A0/converse-stream",
        &headers,
        signed.clone(),
    )
    .await;
    assert_eq!(other.status, 403);
    assert_eq!(other.json()["message"], SIGNATURE_MISMATCH);

    let stale = AwsSigner {
        time: std::time::SystemTime::now() - Duration::from_secs(20 * 60),
        ..AwsSigner::default()
    };
    let reply = post_bedrock_signed(&cloud, NOVA, &stale, &signed, signed.clone()).await;
    assert_eq!(reply.status, 403);
    assert!(
        reply
            .header("x-amzn-errortype")
            .starts_with("InvalidSignatureException:"),
        "{}",
        reply.header("x-amzn-errortype")
    );
    let message = reply.json()["message"].as_str().expect("message").to_owned();
    assert!(message.starts_with("Signature expired: "), "{message}");
    assert!(message.ends_with(" - 15 min.)"), "{message}");
}

#[tokio::test]
async fn an_unsigned_request_is_missing_its_token() {
    let cloud = start().await;
    let reply = post(&cloud, NOVA, NO_HEADERS, &converse_body()).await;
    assert_bedrock_error(
        &reply,
        403,
        "MissingAuthenticationTokenException",
        "Missing Authentication Token",
    );
}

#[tokio::test]
async fn session_tokens_are_signed_and_required_when_configured() {
    let cloud = start_with(Config {
        keys: Keys {
            aws_session_token: Some("session/token+1".to_owned()),
            ..Keys::default()
        },
        ..Config::default()
    })
    .await;
    let with_token = AwsSigner {
        session_token: Some("session/token+1".to_owned()),
        ..AwsSigner::default()
    };
    let reply = converse_signed_by(&cloud, &with_token).await;
    assert_eq!(reply.status, 200, "{}", String::from_utf8_lossy(&reply.body));
    let without = converse_signed_by(&cloud, &AwsSigner::default()).await;
    assert_bedrock_error(
        &without,
        403,
        "UnrecognizedClientException",
        "The security token included in the request is invalid.",
    );
}

#[tokio::test]
async fn bedrock_api_keys_are_bearer_tokens() {
    let cloud = start().await;
    let reply = post(&cloud, NOVA, &[("authorization", "Bearer fake-key")], &converse_body()).await;
    assert_eq!(reply.status, 200);
    assert_eq!(converse_text(&aws_frames(&reply.body)), expected_text(""));
    let wrong = post(&cloud, NOVA, &[("authorization", "Bearer nope")], &converse_body()).await;
    assert_eq!(wrong.status, 403);
    assert!(wrong.header("x-amzn-errortype").starts_with("AccessDeniedException:"));
    assert_eq!(
        wrong.json(),
        json!({"Message": "Authentication failed: Please make sure your API Key is valid."})
    );
    let records = cloud.requests();
    assert_eq!(records[0].credential.as_deref(), Some("bedrock-api-key"));
    assert!(records[0].authenticated);
    assert!(!records[1].authenticated);
}

#[tokio::test]
async fn scenario_failures_map_to_bedrock_exceptions() {
    let cloud = start().await;
    let cases = [
        (
            "fail=429;retry_after_ms=1500",
            429,
            "ThrottlingException",
            "Too many requests, please wait before trying again.",
        ),
        (
            "fail=503",
            503,
            "ServiceUnavailableException",
            "Bedrock is unable to process your request.",
        ),
        (
            "fail=500",
            500,
            "InternalServerException",
            "The system encountered an unexpected error during processing. Try your request again.",
        ),
        (
            "fail=400",
            400,
            "ValidationException",
            "fakecloud scenario: simulated bad request",
        ),
        (
            "fail=quota",
            400,
            "ServiceQuotaExceededException",
            "Your request exceeds the service quota for your account. You can view your quotas at https://docs.aws.amazon.com/bedrock/latest/userguide/quotas.html.",
        ),
        (
            "fail=401",
            403,
            "UnrecognizedClientException",
            "The security token included in the request is invalid.",
        ),
    ];
    for (spec, status, error_type, message) in cases {
        let path = converse_path("us.amazon.nova-micro-v1:0", spec);
        let reply = post_bedrock(&cloud, &path, &converse_body()).await;
        assert_bedrock_error(&reply, status, error_type, message);
        // Bedrock sends no retry hint.
        assert!(reply.headers.get("retry-after").is_none(), "{spec}");
    }
}

#[tokio::test]
async fn midstream_errors_are_exception_frames() {
    let cloud = start().await;
    let path = converse_path("us.amazon.nova-micro-v1:0", "midstream_error=2");
    let reply = post_bedrock(&cloud, &path, &converse_body()).await;
    assert_eq!(reply.status, 200);
    let frames = aws_frames(&reply.body);
    assert_eq!(
        kinds(&frames),
        [
            "messageStart",
            "contentBlockDelta",
            "contentBlockDelta",
            "modelStreamErrorException"
        ]
    );
    let exception = frames.last().expect("an exception");
    assert_eq!(exception.header(":message-type"), "exception");
    assert_eq!(exception.header(":content-type"), "application/json");
    assert_eq!(
        exception.json(),
        json!({"message": "Model Stream Error", "originalStatusCode": 500, "originalMessage": "The model stream failed."})
    );
    assert_eq!(converse_text(&frames), expected_text("tokens=2"));

    let path = invoke_path("anthropic.claude-3-haiku-20240307-v1:0", "midstream_error=1");
    let reply = post_bedrock(&cloud, &path, &bedrock_anthropic_body(50)).await;
    let frames = aws_frames(&reply.body);
    assert_eq!(frames.last().expect("a frame").kind(), "modelStreamErrorException");
    assert!(
        !invoke_chunks(&frames)
            .iter()
            .any(|chunk| chunk["type"] == "message_stop")
    );
}

#[tokio::test]
async fn truncation_ends_on_a_frame_boundary_without_message_stop() {
    let cloud = start().await;
    let path = converse_path("us.amazon.nova-micro-v1:0", "truncate=2;split=5");
    let reply = post_bedrock(&cloud, &path, &converse_body()).await;
    assert_eq!(reply.status, 200);
    let frames = aws_frames(&reply.body);
    assert_eq!(
        kinds(&frames),
        ["messageStart", "contentBlockDelta", "contentBlockDelta"]
    );
    assert!(cloud.requests()[0].completed);
}

#[tokio::test]
async fn content_filters_are_guardrail_interventions() {
    let cloud = start().await;
    let path = converse_path("us.amazon.nova-micro-v1:0", "fail=content_filter");
    let reply = post_bedrock(&cloud, &path, &converse_body()).await;
    assert_eq!(reply.status, 200);
    let frames = aws_frames(&reply.body);
    assert_eq!(converse_text(&frames), "Sorry, the model cannot answer this question.");
    let stop = frames
        .iter()
        .find(|frame| frame.kind() == "messageStop")
        .expect("messageStop");
    assert_eq!(stop.json()["stopReason"], "guardrail_intervened");

    let path = converse_path("us.amazon.nova-micro-v1:0", "finish_content_filter=1");
    let frames = aws_frames(&post_bedrock(&cloud, &path, &converse_body()).await.body);
    assert_eq!(converse_text(&frames), expected_text("tokens=1"));
    let stop = frames
        .iter()
        .find(|frame| frame.kind() == "messageStop")
        .expect("messageStop");
    assert_eq!(stop.json()["stopReason"], "content_filtered");

    // InvokeModel has no guardrail here: the prompt is refused up front.
    let path = invoke_path("anthropic.claude-3-haiku-20240307-v1:0", "fail=content_filter");
    let reply = post_bedrock(&cloud, &path, &bedrock_anthropic_body(50)).await;
    assert_eq!(reply.status, 400);
    assert!(reply.header("x-amzn-errortype").starts_with("ValidationException:"));
}
