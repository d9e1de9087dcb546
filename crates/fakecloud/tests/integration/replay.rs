//! Replaying recorded bodies byte for byte.

use std::path::PathBuf;
use std::time::Duration;

use fakecloud::{Config, Scenario};
use serde_json::Value;

use crate::support::*;

fn fixtures_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/fixtures/streams")
}

fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(fixtures_dir().join(name)).unwrap_or_else(|error| panic!("{name}: {error}"))
}

/// Route, auth headers and a valid body for each fixture's cloud.
fn route_for(name: &str, model: &str) -> (&'static str, &'static [(&'static str, &'static str)], Value) {
    if name.starts_with("openai_responses") {
        ("/v1/responses", OPENAI, responses_body(model))
    } else if name.starts_with("openai_chat") {
        ("/v1/chat/completions", OPENAI, chat_body(model))
    } else if name.starts_with("azure_chat") {
        ("/openai/v1/chat/completions", AZURE, chat_body(model))
    } else if name.starts_with("anthropic") {
        ("/v1/messages", ANTHROPIC, anthropic_body(model, 1000))
    } else if name.starts_with("ollama") {
        ("/api/chat", NO_HEADERS, ollama_body(model))
    } else {
        panic!("no route for {name}")
    }
}

const FIXTURES: &[&str] = &[
    "openai_chat_usage.sse",
    "azure_chat_content_filter_2026_emoji.sse",
    "openai_responses_text_seq.sse",
    "anthropic_messages_short.sse",
    "ollama_api_chat.ndjson",
];

#[tokio::test]
async fn replays_are_byte_identical_whole_and_split() {
    let cloud = start().await;
    for name in FIXTURES {
        let expected = fixture(name);
        for spec in [
            format!("replay={name}"),
            format!("replay={name};split=1"),
            format!("replay={name};split=7"),
        ] {
            let (path, headers, body) = route_for(name, &format!("model~{spec}"));
            let reply = post(&cloud, path, headers, &body).await;
            assert_eq!(reply.status, 200, "{spec}: {}", String::from_utf8_lossy(&reply.body));
            assert!(reply.body == expected, "{spec}: replay differs from the fixture");
            let content_type = reply.header("content-type");
            if name.ends_with(".ndjson") {
                assert_eq!(content_type, "application/x-ndjson");
            } else {
                assert!(content_type.starts_with("text/event-stream"), "{content_type}");
            }
        }
    }
}

/// Every Bedrock and Gemini recording, with the route it was recorded on.
const CLOUD_RECORDINGS: &[&str] = &[
    "bedrock_converse_stream_nova.bin",
    "bedrock_converse_stream_llama.bin",
    "bedrock_converse_stream_guardrail.bin",
    "bedrock_converse_stream_tool_use.bin",
    "bedrock_invoke_stream_claude3.bin",
    "bedrock_exception_modelStreamError.bin",
    "bedrock_converse_stream_nova.b64",
    "bedrock_converse_stream_llama.b64",
    "bedrock_converse_stream_guardrail.b64",
    "bedrock_converse_stream_tool_use.b64",
    "bedrock_invoke_stream_claude3.b64",
    "bedrock_exception_modelStreamError.b64",
    "gemini_aistudio_crlf.sse",
    "gemini_aistudio_cumulative_usage.sse",
    "gemini_aistudio_function_call.sse",
    "gemini_vertex_thinking.sse",
];

/// Sends a replay request for `name` on its cloud's route; the model id
/// carries the spec.
async fn replay_on_its_route(cloud: &fakecloud::FakeCloud, name: &str, spec: &str) -> Reply {
    let encoded = spec.replace('=', "%3D").replace(';', "%3B");
    if name.starts_with("bedrock_invoke") {
        let path = format!("/model/anthropic.claude-3-sonnet-20240229-v1%3A0~{encoded}/invoke-with-response-stream");
        post_bedrock(cloud, &path, &bedrock_anthropic_body(100)).await
    } else if name.starts_with("bedrock") {
        let path = format!("/model/us.amazon.nova-micro-v1%3A0~{encoded}/converse-stream");
        post_bedrock(cloud, &path, &converse_body()).await
    } else if name.starts_with("gemini_vertex") {
        let path = format!(
            "/v1/projects/p/locations/global/publishers/google/models/gemini-3-flash-preview~{encoded}:streamGenerateContent?alt=sse"
        );
        post(cloud, &path, VERTEX, &gemini_body("hi")).await
    } else {
        let path = format!("/v1beta/models/gemini-2.5-flash~{encoded}:streamGenerateContent?alt=sse");
        post(cloud, &path, GEMINI, &gemini_body("hi")).await
    }
}

#[tokio::test]
async fn bedrock_and_gemini_recordings_replay_byte_exact_whole_and_split() {
    let cloud = start().await;
    for name in CLOUD_RECORDINGS {
        // A `.b64` recording stands for the bytes of its `.bin` twin.
        let expected = fixture(&name.replace(".b64", ".bin"));
        for spec in [
            format!("replay={name}"),
            format!("replay={name};split=1"),
            format!("replay={name};split=7"),
            format!("replay={name};split=13"),
        ] {
            let reply = replay_on_its_route(&cloud, name, &spec).await;
            assert_eq!(reply.status, 200, "{spec}: {}", String::from_utf8_lossy(&reply.body));
            assert!(reply.body == expected, "{spec}: replay differs from the recording");
            let content_type = reply.header("content-type");
            if name.starts_with("bedrock") {
                assert_eq!(content_type, "application/vnd.amazon.eventstream", "{spec}");
                // The recording decodes frame by frame with valid CRCs.
                assert!(!aws_frames(&reply.body).is_empty());
            } else {
                assert!(content_type.starts_with("text/event-stream"), "{content_type}");
            }
        }
    }
    assert!(cloud.requests().iter().all(|record| record.authenticated));
}

#[tokio::test]
async fn bedrock_replays_go_out_one_frame_at_a_time() {
    let cloud = start().await;
    // The guardrail recording has 5 frames: 4 gaps of 40 ms.
    let reply = replay_on_its_route(
        &cloud,
        "bedrock_converse_stream_guardrail.bin",
        "replay=bedrock_converse_stream_guardrail.bin;gap_ms=40",
    )
    .await;
    assert_eq!(reply.body, fixture("bedrock_converse_stream_guardrail.bin"));
    assert!(reply.elapsed >= Duration::from_millis(160), "{:?}", reply.elapsed);
    assert!(reply.elapsed < Duration::from_millis(1000), "{:?}", reply.elapsed);
}

#[tokio::test]
async fn bedrock_replays_still_check_the_signature() {
    let cloud = start().await;
    let signer = AwsSigner {
        secret_access_key: "wrong".to_owned(),
        ..AwsSigner::default()
    };
    let body = converse_body().to_string().into_bytes();
    let reply = post_bedrock_signed(
        &cloud,
        "/model/m~replay%3Dbedrock_converse_stream_nova.bin/converse-stream",
        &signer,
        &body,
        body.clone(),
    )
    .await;
    assert_eq!(reply.status, 403);
}

#[tokio::test]
async fn replay_pacing_uses_the_gap_between_events() {
    let cloud = start().await;
    // anthropic_messages_short.sse has 7 events: 6 gaps of 30 ms.
    let (path, headers, body) = route_for(
        "anthropic_messages_short.sse",
        "claude~replay=anthropic_messages_short.sse;gap_ms=30",
    );
    let reply = post(&cloud, path, headers, &body).await;
    assert_eq!(reply.body, fixture("anthropic_messages_short.sse"));
    assert!(reply.elapsed >= Duration::from_millis(180), "{:?}", reply.elapsed);
}

#[tokio::test]
async fn replay_still_checks_auth_and_body() {
    let cloud = start().await;
    let wrong_key = post(
        &cloud,
        "/v1/chat/completions",
        &[("authorization", "Bearer wrong")],
        &chat_body("m~replay=openai_chat_usage.sse"),
    )
    .await;
    assert_eq!(wrong_key.status, 401);
    let mut no_max_tokens = anthropic_body("c~replay=anthropic_messages_short.sse", 10);
    no_max_tokens.as_object_mut().expect("object").remove("max_tokens");
    let invalid = post(&cloud, "/v1/messages", ANTHROPIC, &no_max_tokens).await;
    assert_eq!(invalid.status, 400);
}

#[tokio::test]
async fn replay_names_are_confined_to_the_fixtures_directory() {
    let cloud = start().await;
    for model in [
        "m~replay=../Cargo.toml",
        "m~replay=sub/file.sse",
        "m~replay=missing.sse",
    ] {
        let reply = post(&cloud, "/v1/chat/completions", OPENAI, &chat_body(model)).await;
        assert_eq!(reply.status, 400, "{model}");
    }
    // A registered scenario bypasses parse_spec, so the server checks too.
    let registered = start_with(Config {
        scenarios: [(
            "sneaky".to_owned(),
            Scenario {
                replay: Some("../streams/openai_chat_usage.sse".to_owned()),
                ..Scenario::default()
            },
        )]
        .into(),
        ..Config::default()
    })
    .await;
    let reply = post(&registered, "/v1/chat/completions", OPENAI, &chat_body("sneaky")).await;
    assert_eq!(reply.status, 400);
}

#[tokio::test]
async fn configured_fixtures_dir_is_used() {
    let directory = std::env::temp_dir().join(format!("fakecloud-fixtures-{}", std::process::id()));
    std::fs::create_dir_all(&directory).expect("temp dir");
    std::fs::write(directory.join("tiny.ndjson"), b"{\"a\":1}\n{\"b\":2}\n").expect("write fixture");
    let cloud = start_with(Config {
        fixtures_dir: Some(directory.clone()),
        ..Config::default()
    })
    .await;
    let reply = post(&cloud, "/api/chat", NO_HEADERS, &ollama_body("m~replay=tiny.ndjson")).await;
    assert_eq!(reply.body, b"{\"a\":1}\n{\"b\":2}\n");
    let _ = std::fs::remove_dir_all(directory);
}

#[tokio::test]
async fn replay_edits_rewrite_the_body_as_gateways_do() {
    let cloud = start().await;
    let name = "openai_chat_usage.sse";
    let original = fixture(name);
    let lf: Vec<u8> = String::from_utf8(original.clone())
        .expect("utf8")
        .replace("\r\n", "\n")
        .into_bytes();
    let crlf: Vec<u8> = String::from_utf8(lf.clone())
        .expect("utf8")
        .replace('\n', "\r\n")
        .into_bytes();
    let cases: [(&str, Vec<u8>); 4] = [
        ("endings=crlf", crlf.clone()),
        ("twice", [original.clone(), original.clone()].concat()),
        ("bom;split=1", [b"\xEF\xBB\xBF".as_slice(), &original].concat()),
        (
            "endings=crlf;bom;cut=40",
            [b"\xEF\xBB\xBF".as_slice(), &crlf[..37]].concat(),
        ),
    ];
    for (edits, expected) in cases {
        let (path, headers, body) = route_for(name, &format!("m~replay={name};{edits}"));
        let reply = post(&cloud, path, headers, &body).await;
        assert_eq!(reply.status, 200, "{edits}");
        assert!(
            reply.body == expected,
            "{edits}: {}",
            String::from_utf8_lossy(&reply.body)
        );
    }
}

#[tokio::test]
async fn a_held_replay_ends_its_body_late_with_keep_alives_between() {
    let cloud = start().await;
    let name = "anthropic_messages_short.sse";
    let (path, headers, body) = route_for(name, &format!("c~replay={name};hold_ms=400;ping_ms=150"));
    let reply = post(&cloud, path, headers, &body).await;
    assert!(reply.elapsed >= Duration::from_millis(400), "{:?}", reply.elapsed);
    // The recording whole, then two keep-alives (at 150 and 300 ms) before the hold ends.
    assert_eq!(reply.body, [fixture(name), b": ping\n\n: ping\n\n".to_vec()].concat());
    let record = cloud.requests().pop().expect("a request");
    let sent = record.server_body_sent_us.expect("the body was sent");
    assert!(sent < 300_000, "the body went out before the hold: {sent} µs");
    assert!(record.completed);

    // A silent hold on an event stream: the frames, then nothing until the end.
    let reply = replay_on_its_route(
        &cloud,
        "bedrock_converse_stream_nova.bin",
        "replay=bedrock_converse_stream_nova.bin;hold_ms=200;ping_ms=50",
    )
    .await;
    assert!(reply.elapsed >= Duration::from_millis(200), "{:?}", reply.elapsed);
    assert_eq!(reply.body, fixture("bedrock_converse_stream_nova.bin"));
}
